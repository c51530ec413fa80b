#![no_main]
//! Any bytes as every vulnerability feed (tracker JSON and list syntax, an
//! OSV record or all.zip, the KEV catalogue, EPSS CSV) and as a database file: parsed
//! or refused, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use bulwark_vulndb::feeds::{epss, kev, osv, tracker};
    let text = String::from_utf8_lossy(data);
    let _ = tracker::parse_json("fuzz", data);
    let _ = tracker::parse_list("fuzz", &text);
    let _ = osv::parse("fuzz", data);
    let _ = kev::parse("fuzz", data);
    let _ = epss::parse("fuzz", &text);
    let _ = bulwark_vulndb::feeds::detect(data);
    let _ = bulwark_vulndb::feeds::zip::members("fuzz", data, ".json", |_, member| {
        let _ = osv::parse("fuzz", member);
        Ok(())
    });
    // The same bytes as a database file.
    let dir = tempfile::tempdir().unwrap();
    let generation = dir.path().join("gen-x");
    std::fs::create_dir(&generation).unwrap();
    for name in ["tracker.bvd", "kev.bvd", "epss.bvd"] {
        std::fs::write(generation.join(name), data).unwrap();
    }
    std::os::unix::fs::symlink("gen-x", dir.path().join("current")).unwrap();
    if let Ok(db) = bulwark_vulndb::Db::open(dir.path()) {
        let _ = db.advisories("bookworm", "openssl");
        let _ = db.kev("CVE-2024-1");
        let _ = db.epss("CVE-2024-1");
        let _ = db.covers("bookworm");
    }
});
