//! Property test: whether a fixed advisory applies is decided exactly as
//! `dpkg --compare-versions installed lt fixed` decides it.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use bulwark_vulndb::{Db, Installed, feeds::Source, matches, update};
use proptest::prelude::*;

fn dpkg_lt(a: &str, b: &str) -> bool {
    Command::new("dpkg")
        .args(["--compare-versions", a, "lt", b])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("dpkg is required (run scripts/install-test-deps.sh)")
        .success()
}

/// Versions as Debian writes them: epochs, `~` pre-releases, `+debNNuM`
/// stable updates, `~debNNuM` backports, `+b` binNMUs.
fn version() -> impl Strategy<Value = String> {
    let epoch =
        prop::option::of(0u32..3).prop_map(|e| e.map(|e| format!("{e}:")).unwrap_or_default());
    let upstream = (
        "[0-9]{1,2}",
        r"(\.[0-9]{1,2}){0,2}",
        "(~rc[0-9]|\\+dfsg|[a-z])?",
    )
        .prop_map(|(a, b, c)| format!("{a}{b}{c}"));
    let revision = (
        "[0-9]{1,2}",
        "(\\+deb1[1-3]u[0-9]|~deb1[1-3]u[0-9]|\\+b[0-9]|\\.[0-9])?",
    )
        .prop_map(|(r, s)| format!("-{r}{s}"));
    (epoch, upstream, prop::option::of(revision))
        .prop_map(|(e, u, r)| format!("{e}{u}{}", r.unwrap_or_default()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn fixed_advisories_apply_exactly_when_dpkg_says_older(installed in version(), fixed in version()) {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list");
        std::fs::write(&list, format!("CVE-2024-0001 (x)\n\t- pkg {fixed}\n")).unwrap();
        update(dir.path(), &[Source::Path(list)], "2026-12-01T00:00:00Z").unwrap();
        let db = Db::open(dir.path()).unwrap();
        let p = Installed {
            name: "pkg".into(),
            version: installed.clone(),
            source: "pkg".into(),
            source_version: installed.clone(),
        };
        let found = !matches(&db, "bookworm", &[p]).is_empty();
        prop_assert_eq!(found, dpkg_lt(&installed, &fixed), "{} vs {}", installed, fixed);
    }
}

#[test]
fn the_real_sample_records_import_with_every_status() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/vuln/debian-tracker-cve-list-sample.txt");
    update(dir.path(), &[Source::Path(sample)], "2026-12-01T00:00:00Z").unwrap();
    let db = Db::open(dir.path()).unwrap();
    let status = |rel: &str, src: &str, id: &str| {
        db.advisories(rel, src)
            .into_iter()
            .find(|a| a.id == id)
            .map(|a| (a.status, a.fixed))
    };
    use bulwark_vulndb::Status::*;
    // Own lines, inherited unstable lines, and the DSA's trixie fix.
    assert_eq!(
        status("bookworm", "openssl", "CVE-2026-42767"),
        Some((NoDsa, None))
    );
    assert_eq!(
        status("trixie", "openssl", "CVE-2026-42767"),
        Some((Unfixed, None))
    );
    assert_eq!(
        status("bookworm", "linux", "CVE-2024-1086"),
        Some((Fixed, Some("6.1.76-1".into())))
    );
    assert_eq!(
        status("trixie", "linux", "CVE-2024-1086"),
        Some((Fixed, Some("6.6.15-1".into())))
    );
    assert_eq!(
        status("bookworm", "sudo", "CVE-2025-32463"),
        Some((NotAffected, None))
    );
    assert_eq!(
        status("bullseye", "python3.9", "CVE-2026-3276"),
        Some((Postponed, None))
    );
    assert_eq!(
        status("bullseye", "python2.7", "CVE-2026-3276"),
        Some((EndOfLife, None))
    );
    assert_eq!(
        status("bookworm", "varnish", "CVE-2023-44487"),
        Some((Ignored, None))
    );
    assert_eq!(
        status("bookworm", "minizip", "CVE-2023-45853"),
        None,
        "removed"
    );
    assert_eq!(
        status("trixie", "openssl", "CVE-2026-35189"),
        Some((Fixed, Some("3.5.7-1~deb13u3".into()))),
        "DSA-6531-1 fixed it in trixie"
    );
    assert_eq!(
        status("bookworm", "openssl", "CVE-2026-35189"),
        Some((Fixed, Some("3.6.5-1".into()))),
        "bookworm inherits the unstable line"
    );
    let apt = db.advisories("bookworm", "apt");
    assert_eq!(apt[0].severity, bulwark_vulndb::Severity::Unimportant);
}
