//! `bulwark db` and `bulwark scan`: real KEV and EPSS data, tracker records
//! in the tracker's own syntax, and images built from the synthetic archive.

use std::path::{Path, PathBuf};

use crate::common::*;

pub(crate) fn vuln_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/vuln")
        .join(name)
}

/// The real KEV catalogue of 2025-08-25 re-dated to today, in `dir`: for
/// tests about what a current database allows (bulwark judges the data by
/// the catalogue's own date, and last year's catalogue is stale).
pub(crate) fn current_kev(dir: &Path) -> PathBuf {
    use std::io::{Read as _, Write as _};
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(vuln_data("cisa-kev-2025-08-25.json.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now = bulwark_debian::time::format_rfc3339(i64::try_from(secs).unwrap());
    v["catalogVersion"] = now[..10].replace('-', ".").into();
    v["dateReleased"] = now.clone().into();
    let out = dir.join("kev-current.json.gz");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&out).unwrap(),
        flate2::Compression::fast(),
    );
    e.write_all(v.to_string().as_bytes()).unwrap();
    e.finish().unwrap();
    out
}

/// Tracker records for the mini archive's sources, one per status.
pub(crate) const TRACKER: &str = "\
CVE-2025-48384 (in KEV; fixed in bookworm-security)
\t- hello 2.10-4
\t[bookworm] - hello 2.10-3+deb12u2
CVE-2099-0002 (glibc: minor issue)
\t- glibc <unfixed>
\t[bookworm] - glibc <no-dsa> (Minor issue)
CVE-2099-0003 (openssl: fixed before the installed version)
\t- openssl 3.0.9-1
CVE-2099-0004 (openssl: not affected)
\t- openssl <not-affected> (vulnerable code not present)
CVE-2099-0005 (openssl: no fix yet)
\t- openssl <unfixed> (high)
CVE-2099-0006 (glibc: postponed)
\t- glibc <unfixed>
\t[bookworm] - glibc <postponed> (Minor issue)
CVE-2099-0007 (mawk: end of life)
\t- mawk <unfixed>
\t[bookworm] - mawk <end-of-life> (not supported)
CVE-2099-0008 (glibc: not triaged)
\t- glibc <undetermined>
CVE-2099-0009 (base-files: ignored)
\t- base-files <unfixed>
\t[bookworm] - base-files <ignored> (Minor issue, too intrusive to backport)
CVE-2099-0010 (hello: unimportant)
\t- hello <unfixed> (unimportant)
";

fn update(ctx: &Ctx, from: &[&Path]) -> std::process::Output {
    let mut args = vec!["db", "update", "--db", "db", "--format", "json"];
    let from: Vec<String> = from.iter().map(|p| p.display().to_string()).collect();
    for f in &from {
        args.extend(["--from", f.as_str()]);
    }
    ctx.run(&args)
}

fn status(ctx: &Ctx) -> serde_json::Value {
    report(&ok(
        ctx.run(&["db", "status", "--db", "db", "--format", "json"])
    ))
}

#[test]
fn db_update_imports_the_real_feeds_and_status_reports_them() {
    let ctx = Ctx::new();
    let kev = vuln_data("cisa-kev-2025-08-25.json.gz");
    let epss = vuln_data("epss-2026-08-16.csv.gz");
    let list = vuln_data("debian-tracker-cve-list-sample.txt");
    ok(update(&ctx, &[&kev, &epss, &list]));
    let s = status(&ctx);
    let feeds = s["feeds"].as_array().unwrap();
    let by_kind = |k: &str| feeds.iter().find(|f| f["kind"] == k).unwrap().clone();
    assert_eq!(by_kind("kev")["records"], 1404);
    assert_eq!(by_kind("kev")["feed_date"], "2025.08.25");
    // The catalogue is as old as its own date, not as its import.
    let age = by_kind("kev")["age_days"].as_f64().unwrap();
    assert!(age > 450.0, "{age}");
    assert_eq!(by_kind("epss")["records"], 360_142);
    let sha = |p: &Path| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
    };
    assert_eq!(by_kind("kev")["sources"][0]["sha256"], sha(&kev));
    assert_eq!(
        by_kind("epss")["sources"][0]["size"],
        std::fs::metadata(&epss).unwrap().len()
    );
    // The sample's records: every release line and the DSA.
    assert!(by_kind("tracker")["records"].as_u64().unwrap() > 40);
    assert!(by_kind("tracker")["age_days"].as_f64().unwrap() < 1.0);
}

#[test]
fn a_bad_feed_leaves_the_database_as_it_was() {
    let ctx = Ctx::new();
    let kev = vuln_data("cisa-kev-2025-08-25.json.gz");
    ok(update(&ctx, &[&kev]));
    let before = status(&ctx);
    // Truncated JSON, a count that disagrees, a broken gzip, an unknown kind.
    let text = {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&kev).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let cut = ctx.path().join("kev-cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let err = fails(update(&ctx, &[&cut]));
    assert!(
        err.contains("kev-cut.json") && err.contains("line"),
        "{err}"
    );
    assert!(err.contains("the database was left as it was"), "{err}");
    let edited = ctx.path().join("kev-edited.json");
    std::fs::write(&edited, text.replace("\"count\": 1404", "\"count\": 1405")).unwrap();
    let err = fails(update(&ctx, &[&edited]));
    assert!(err.contains("truncated or edited"), "{err}");
    let gz = ctx.path().join("bad.csv.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]).unwrap();
    let err = fails(update(&ctx, &[&gz]));
    assert!(err.contains("bad.csv.gz") && err.contains("gzip"), "{err}");
    let junk = ctx.path().join("junk.txt");
    std::fs::write(&junk, "hello\n").unwrap();
    let err = fails(update(&ctx, &[&junk]));
    assert!(err.contains("not a feed bulwark knows"), "{err}");
    assert_eq!(status(&ctx), before);
}

fn scan(ctx: &Ctx, target: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["scan", target, "--db", "db", "--format", "json"];
    args.extend(extra);
    report(&ok(ctx.run(&args)))
}

/// `oci:out:v1` (base-files, hello and openssl; entrypoint hello) and the
/// tracker records of TRACKER in `list`.
fn app_image() -> (Ctx, PathBuf) {
    let ctx = Ctx::new();
    ctx.spec(
        "app",
        "packages: [base-files, hello, openssl]\nconfig:\n  entrypoint: [/usr/bin/hello]\n",
    );
    ok(ctx.run(&["build", "app.yaml", "--output", "oci:out:v1"]));
    let list = ctx.path().join("list");
    std::fs::write(&list, TRACKER).unwrap();
    (ctx, list)
}

#[test]
fn scan_gives_every_status_a_priority_and_its_reasons() {
    let (ctx, list) = app_image();
    let kev = vuln_data("cisa-kev-2025-08-25.json.gz");
    let epss = vuln_data("epss-2026-08-16.csv.gz");
    ok(update(&ctx, &[&list, &kev, &epss]));

    let r = scan(&ctx, "oci:out:v1", &[]);
    assert_eq!(r["release"], "bookworm");
    assert_eq!(r["entrypoint"], "/usr/bin/hello");
    let findings = r["findings"].as_array().unwrap();
    let get = |id: &str| {
        findings
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing: {findings:#?}"))
            .clone()
    };
    let ids: Vec<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    // Fixed before the installed version, and not affected: not findings.
    assert!(
        !ids.contains(&"CVE-2099-0003") && !ids.contains(&"CVE-2099-0004"),
        "{ids:?}"
    );
    let kev_hit = get("CVE-2025-48384");
    assert_eq!(
        (&kev_hit["status"], &kev_hit["fixed"], &kev_hit["priority"]),
        (&"fixed".into(), &"2.10-3+deb12u2".into(), &"act-now".into())
    );
    assert_eq!(kev_hit["kev"]["date_added"], "2025-08-25");
    let reasons = kev_hit["reasons"].to_string();
    assert!(
        reasons.contains("in CISA KEV since 2025-08-25")
            && reasons.contains("EPSS 0.028")
            && reasons.contains("hello is in the closure of the entrypoint /usr/bin/hello")
            && reasons.contains("fixed in 2.10-3+deb12u2 (installed 2.10-3+deb12u1)"),
        "{reasons}"
    );
    assert_eq!(ids[0], "CVE-2025-48384", "the most urgent first");
    for (id, status, priority) in [
        ("CVE-2099-0002", "no-dsa", "monitor"),
        ("CVE-2099-0005", "unfixed", "monitor"),
        ("CVE-2099-0006", "postponed", "monitor"),
        ("CVE-2099-0008", "undetermined", "monitor"),
        ("CVE-2099-0009", "ignored", "monitor"),
        ("CVE-2099-0010", "unfixed", "monitor"),
    ] {
        let f = get(id);
        assert_eq!(
            (f["status"].as_str(), f["priority"].as_str()),
            (Some(status), Some(priority)),
            "{id}"
        );
    }
    // openssl is installed, but hello does not load it.
    let o = get("CVE-2099-0005");
    assert_eq!(o["reachability"]["state"], "not-loaded");
    assert!(
        o["reasons"]
            .to_string()
            .contains("not loaded by the entrypoint /usr/bin/hello")
    );
    // glibc is loaded (hello depends on libc6).
    assert_eq!(get("CVE-2099-0002")["reachability"]["packages"][0], "libc6");
    assert!(
        get("CVE-2099-0010")["reasons"]
            .to_string()
            .contains("unimportant")
    );
    if ids.contains(&"CVE-2099-0007") {
        assert_eq!(get("CVE-2099-0007")["status"], "end-of-life");
    }
    assert_eq!(r["summary"]["act_now"], 1);
    assert_eq!(r["summary"]["kev"], 1);

    // The lock and the build's SBOM give the same findings (reachability unknown).
    let lock = scan(&ctx, "app.lock.json", &[]);
    let sbom_file = std::fs::read_dir(ctx.path().join("out.sbom"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".spdx.json"))
        .unwrap();
    let sbom = scan(&ctx, sbom_file.to_str().unwrap(), &[]);
    let cdx_file = sbom_file
        .to_string_lossy()
        .replace(".spdx.json", ".cdx.json");
    let cdx = scan(&ctx, &cdx_file, &[]);
    let ids_of = |r: &serde_json::Value| {
        let mut v: Vec<String> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["id"], f["source"]))
            .collect();
        v.sort();
        v
    };
    let mut want = ids_of(&r);
    want.sort();
    assert_eq!(ids_of(&lock), want);
    assert_eq!(ids_of(&sbom), want);
    assert_eq!(ids_of(&cdx), want);
    assert_eq!(lock["findings"][0]["reachability"]["state"], "unknown");
    assert_eq!(sbom["release"], "bookworm");

    // --fail-on: exit 3 on an act-now finding; isolated lowers scores, not statuses.
    let out = ctx.run(&["scan", "oci:out:v1", "--db", "db", "--fail-on", "act-now"]);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(3), "{table}");
    assert!(table.contains(" ACT NOW CVE-2025-48384 "), "{table}");
    assert!(table.contains("1 act now"), "{table}");
    let iso = scan(&ctx, "oci:out:v1", &["--exposure", "isolated"]);
    assert!(iso["findings"][0]["score"].as_f64() < r["findings"][0]["score"].as_f64());
}

#[test]
fn scan_never_claims_a_clean_result_it_could_not_check() {
    let ctx = Ctx::new();
    let list = ctx.path().join("list");
    std::fs::write(&list, TRACKER).unwrap();
    ok(update(&ctx, &[&list]));
    // A root filesystem without a package database.
    let root = ctx.path().join("rootfs");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/hostname"), "x\n").unwrap();
    let out = ctx.run(&[
        "scan",
        root.to_str().unwrap(),
        "--db",
        "db",
        "--format",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let r = report(&ok(out));
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("not a clean result"), "{warnings}");
    assert!(stderr.contains("not a clean result"), "{stderr}");
    // No os-release: the release comes from the +debNNuM versions.
    ctx.spec("h", "packages: [hello]\n");
    ok(ctx.run(&["build", "h.yaml", "--output", "oci:h"]));
    assert_eq!(scan(&ctx, "oci:h", &[])["release"], "bookworm");
    // A release the data does not cover (the tracker's JSON names releases).
    let json = ctx.path().join("tracker.json");
    std::fs::write(
        &json,
        r#"{"hello":{"CVE-2099-0001":{"releases":{"bookworm":{"status":"open","urgency":"low"}}}}}"#,
    )
    .unwrap();
    ok(ctx.run(&[
        "db",
        "update",
        "--db",
        "db2",
        "--from",
        json.to_str().unwrap(),
    ]));
    let mut args = vec!["scan", "oci:h", "--db", "db2", "--format", "json"];
    let r = report(&ok(ctx.run(&args)));
    assert_eq!(r["findings"][0]["id"], "CVE-2099-0001");
    args.extend(["--release", "trixie"]);
    let r = report(&ok(ctx.run(&args)));
    assert!(
        r["warnings"]
            .to_string()
            .contains("no records for Debian trixie"),
        "{r}"
    );
    assert!(r["findings"].as_array().unwrap().is_empty());
    let r = scan(&ctx, "oci:h", &[]);
    // No KEV or EPSS: said so.
    assert!(r["warnings"].to_string().contains("no KEV catalogue"));
    // An explicit --max-db-age the database is older than: an error.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let err = fails(ctx.run(&["scan", "oci:h", "--db", "db", "--max-db-age", "0"]));
    assert!(
        err.contains("days old") && err.contains("bulwark db update"),
        "{err}"
    );
    // Data older than the limit by its own date, though imported just now:
    // last year's KEV catalogue. A warning by default, an error with the
    // flag, naming the feed.
    let kev = vuln_data("cisa-kev-2025-08-25.json.gz");
    ok(ctx.run(&[
        "db",
        "update",
        "--db",
        "old",
        "--from",
        "list",
        "--from",
        kev.to_str().unwrap(),
    ]));
    let out = ctx.run(&["scan", "oci:h", "--db", "old", "--format", "json"]);
    let warned = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() && warned.contains("the kev feed, of 2025.08.25"),
        "{warned}"
    );
    let err = fails(ctx.run(&["scan", "oci:h", "--db", "old", "--max-db-age", "30"]));
    assert!(err.contains("the kev feed, of 2025.08.25"), "{err}");
    let fresh = current_kev(ctx.path());
    ok(ctx.run(&[
        "db",
        "update",
        "--db",
        "new",
        "--from",
        "list",
        "--from",
        fresh.to_str().unwrap(),
    ]));
    ok(ctx.run(&["scan", "oci:h", "--db", "new", "--max-db-age", "1"]));
    // No database at all.
    let err = fails(ctx.run(&["scan", "oci:h", "--db", "nodb"]));
    assert!(err.contains("no vulnerability database here"), "{err}");
}

#[test]
fn scan_writes_and_reads_vex_and_validates_as_sarif_and_cyclonedx() {
    let (ctx, list) = app_image();
    let kev = vuln_data("cisa-kev-2025-08-25.json.gz");
    ok(update(&ctx, &[&list, &kev]));

    // OpenVEX out: openssl is not loaded by hello → not_affected.
    let vex = report(&ok(ctx
        .cmd()
        .args(["scan", "oci:out:v1", "--db", "db", "--format", "openvex"])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap()));
    assert_eq!(vex["@context"], "https://openvex.dev/ns/v0.2.0");
    assert_eq!(vex["timestamp"], "2023-11-14T22:13:20Z");
    let st = |id: &str| {
        vex["statements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["vulnerability"]["name"] == id)
            .unwrap()
            .clone()
    };
    let o = st("CVE-2099-0005");
    assert_eq!(o["status"], "not_affected");
    assert_eq!(o["justification"], "vulnerable_code_not_in_execute_path");
    assert!(
        o["products"][0]["@id"]
            .as_str()
            .unwrap()
            .starts_with("pkg:oci/image@sha256%3A")
    );
    assert!(
        o["products"][0]["subcomponents"][0]["@id"]
            .as_str()
            .unwrap()
            .starts_with("pkg:deb/debian/openssl@")
    );
    assert_eq!(st("CVE-2025-48384")["status"], "affected");
    assert!(
        st("CVE-2025-48384")["action_statement"]
            .as_str()
            .unwrap()
            .contains("2.10-3+deb12u2")
    );
    assert_eq!(st("CVE-2099-0008")["status"], "under_investigation");

    // VEX in: our own OpenVEX, and a CycloneDX VEX for glibc.
    let vex_file = ctx.path().join("app.vex.json");
    std::fs::write(&vex_file, vex.to_string()).unwrap();
    let cdx_vex = ctx.path().join("glibc.cdx.json");
    std::fs::write(
        &cdx_vex,
        serde_json::json!({
            "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
            "components": [{"type": "library", "bom-ref": "libc", "name": "libc6",
                            "purl": "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64"}],
            "vulnerabilities": [{"id": "CVE-2099-0002",
                "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
                "affects": [{"ref": "libc"}]}]
        })
        .to_string(),
    )
    .unwrap();
    let r = report(&ok(ctx.run(&[
        "scan",
        "oci:out:v1",
        "--db",
        "db",
        "--format",
        "json",
        "--vex",
        vex_file.to_str().unwrap(),
        "--vex",
        cdx_vex.to_str().unwrap(),
    ])));
    let f = |id: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(f("CVE-2099-0005")["priority"], "suppressed-by-vex");
    assert_eq!(
        f("CVE-2099-0005")["suppressed_by"]["file"],
        vex_file.display().to_string()
    );
    assert_eq!(
        f("CVE-2099-0002")["suppressed_by"]["justification"],
        "code_not_reachable"
    );
    assert_eq!(
        f("CVE-2025-48384")["priority"],
        "act-now",
        "affected statements suppress nothing"
    );
    let not_affected = vex["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "not_affected")
        .count();
    assert!(
        not_affected >= 2,
        "openssl, base-files and mawk are not loaded by hello"
    );
    assert_eq!(r["summary"]["suppressed"], not_affected + 1);
    // A VEX for another image's digest suppresses nothing here.
    let other = vex.to_string().replace(
        r["digest"].as_str().unwrap().trim_start_matches("sha256:"),
        &"0".repeat(64),
    );
    std::fs::write(&vex_file, other).unwrap();
    let r2 = report(&ok(ctx.run(&[
        "scan",
        "oci:out:v1",
        "--db",
        "db",
        "--format",
        "json",
        "--vex",
        vex_file.to_str().unwrap(),
    ])));
    assert_eq!(r2["summary"]["suppressed"], 0);
    let err = fails(ctx.run(&[
        "scan",
        "oci:out:v1",
        "--db",
        "db",
        "--vex",
        list.to_str().unwrap(),
    ]));
    assert!(err.contains("not JSON"), "{err}");

    // SARIF and CycloneDX, checked by the real validators.
    let sarif = ctx.path().join("scan.sarif");
    std::fs::write(
        &sarif,
        ok(ctx.run(&["scan", "oci:out:v1", "--db", "db", "--format", "sarif"])),
    )
    .unwrap();
    if tool("sarif-multitool") {
        assert_valid_sarif(&sarif);
    }
    let cdx = ctx.path().join("scan.cdx.json");
    std::fs::write(
        &cdx,
        ok(ctx.run(&["scan", "oci:out:v1", "--db", "db", "--format", "cyclonedx"])),
    )
    .unwrap();
    assert_valid_cyclonedx(&cdx, "1.6");
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&cdx).unwrap()).unwrap();
    assert!(c["vulnerabilities"].as_array().unwrap().len() >= 8);
}

#[test]
fn kubernetes_manifests_and_runtime_evidence_change_exposure_and_reachability() {
    let (ctx, list) = app_image();
    let kev = vuln_data("cisa-kev-2025-08-25.json.gz");
    let epss = vuln_data("epss-2026-08-16.csv.gz");
    ok(update(&ctx, &[&list, &kev, &epss]));
    let k8s = ctx.path().join("k8s.yaml");
    std::fs::write(
        &k8s,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n      containers: [{name: app, image: app}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer}\n",
    )
    .unwrap();
    let k = k8s.to_str().unwrap();
    let r = scan(&ctx, "oci:out:v1", &["--k8s", k]);
    let top = &r["findings"][0];
    assert!(
        top["reasons"]
            .to_string()
            .contains("exposure: internet (Service web of type LoadBalancer in"),
        "{top}"
    );
    // Only a Deployment: isolated, so lower scores.
    std::fs::write(
        &k8s,
        "kind: Deployment\nmetadata: {name: app}\nspec: {template: {spec: {containers: []}}}\n",
    )
    .unwrap();
    let iso = scan(&ctx, "oci:out:v1", &["--k8s", k]);
    assert!(iso["findings"][0]["score"].as_f64() < top["score"].as_f64());
    assert!(
        iso["findings"][0]["reasons"]
            .to_string()
            .contains("exposure: isolated")
    );
    // --exposure wins over the manifests.
    let explicit = scan(&ctx, "oci:out:v1", &["--k8s", k, "--exposure", "internet"]);
    assert_eq!(explicit["findings"][0]["score"], top["score"]);

    // The running process mapped openssl: no longer "not loaded", and the
    // OpenVEX no longer says not_affected for it.
    let maps = ctx.path().join("maps");
    std::fs::write(
        &maps,
        "55d0-55e0 r-xp 00000000 00:2a 11 /usr/bin/hello\n7f00-7f10 r-xp 00000000 00:2a 12 /usr/bin/openssl\n",
    )
    .unwrap();
    let m = maps.to_str().unwrap();
    let r = scan(&ctx, "oci:out:v1", &["--runtime-evidence", m]);
    let o = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "CVE-2099-0005")
        .unwrap()
        .clone();
    assert_eq!(o["reachability"]["state"], "mapped", "{o}");
    assert!(
        o["reasons"]
            .to_string()
            .contains("openssl mapped by the running process")
    );
    let vex = report(&ok(ctx.run(&[
        "scan",
        "oci:out:v1",
        "--db",
        "db",
        "--runtime-evidence",
        m,
        "--format",
        "openvex",
    ])));
    let st = vex["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["vulnerability"]["name"] == "CVE-2099-0005")
        .unwrap()
        .clone();
    assert_eq!(st["status"], "affected");
    // Runtime evidence is about an image, not a lock.
    let err = fails(ctx.run(&[
        "scan",
        "app.lock.json",
        "--db",
        "db",
        "--runtime-evidence",
        m,
    ]));
    assert!(err.contains("scan the image"), "{err}");
}

#[test]
fn eval_counts_vulnerabilities_and_policies_gate_on_them() {
    let (ctx, list) = app_image();
    let kev = vuln_data("cisa-kev-2025-08-25.json.gz");
    ok(update(&ctx, &[&list, &kev]));
    // Without a database: six pillars, as before.
    let plain = report(&ok(ctx.run(&["eval", "oci:out:v1", "--format", "json"])));
    assert_eq!(plain["pillars"].as_array().unwrap().len(), 6);
    assert!(plain.get("vulnerabilities").is_none());
    let r = report(&ok(ctx.run(&[
        "eval",
        "oci:out:v1",
        "--db",
        "db",
        "--format",
        "json",
    ])));
    let pillars = r["pillars"].as_array().unwrap();
    assert_eq!(pillars.len(), 7);
    assert!(pillars.iter().any(|p| p["pillar"] == "exploitability"));
    let ids = finding_ids(&r);
    assert!(
        ids.contains(&"VU-001".to_owned()) && ids.contains(&"VU-002".to_owned()),
        "{ids:?}"
    );
    assert_eq!(r["vulnerabilities"]["kev"][0], "CVE-2025-48384 (hello)");
    assert!(r["score"].as_u64() < plain["score"].as_u64());
    // Policies: vulnerability rules, failing closed without a database.
    std::fs::write(
        ctx.path().join("p.yaml"),
        "no-kev: true\nmax-priority: plan\n",
    )
    .unwrap();
    let out = ctx.run(&[
        "eval",
        "oci:out:v1",
        "--db",
        "db",
        "--policy",
        "p.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let v = report(&String::from_utf8_lossy(&out.stdout))["policy"]["violations"].to_string();
    assert!(
        v.contains("in CISA KEV: CVE-2025-48384") && v.contains("above max-priority"),
        "{v}"
    );
    let out = ctx.run(&[
        "eval",
        "oci:out:v1",
        "--policy",
        "p.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let v = report(&String::from_utf8_lossy(&out.stdout))["policy"]["violations"].to_string();
    assert!(v.contains("no vulnerability database was used"), "{v}");
    std::fs::write(ctx.path().join("p.yaml"), "max-priority: act-now\n").unwrap();
    ok(ctx.run(&["eval", "oci:out:v1", "--db", "db", "--policy", "p.yaml"]));
    // An explicit --db that is not there is an error.
    let err = fails(ctx.run(&["eval", "oci:out:v1", "--db", "nodb"]));
    assert!(err.contains("no vulnerability database here"), "{err}");
}

#[test]
fn diff_names_packages_files_config_and_the_cves_fixed_and_introduced() {
    let ctx = Ctx::new();
    // v1 from bookworm alone (hello 2.10-3); v2 with bookworm-security
    // (hello 2.10-3+deb12u1), openssl, and an entrypoint.
    let dist = ctx.archive.distribution_yaml();
    let main_only: String = dist
        .lines()
        .filter(|l| !l.contains("security-mirror"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + "  security: false\n";
    std::fs::write(
        ctx.path().join("v1.yaml"),
        format!("{main_only}packages: [hello]\n"),
    )
    .unwrap();
    ctx.spec(
        "v2",
        "packages: [hello, openssl]\nconfig:\n  entrypoint: [/usr/bin/hello]\n",
    );
    ok(ctx.run(&["build", "v1.yaml", "--output", "oci:v1"]));
    ok(ctx.run(&["build", "v2.yaml", "--output", "oci:v2"]));
    let list = ctx.path().join("list");
    std::fs::write(
        &list,
        format!("{TRACKER}CVE-2099-0011 (fixed by the security upload)\n\t- hello 2.10-4\n\t[bookworm] - hello 2.10-3+deb12u1\n"),
    )
    .unwrap();
    ok(update(&ctx, &[&list]));
    let d =
        report(&ok(ctx.run(&[
            "diff", "oci:v1", "oci:v2", "--db", "db", "--format", "json",
        ])));
    let changed = &d["packages"]["changed"];
    assert_eq!(changed[0]["name"], "hello");
    assert_eq!(
        (changed[0]["from"].as_str(), changed[0]["to"].as_str()),
        (Some("2.10-3"), Some("2.10-3+deb12u1"))
    );
    assert_eq!(changed[0]["upgrade"], true);
    assert_eq!(d["packages"]["added"][0]["name"], "openssl");
    let notable = d["files"]["notable"].to_string();
    assert!(
        notable.contains("/usr/bin/openssl") && notable.contains("new executable"),
        "{notable}"
    );
    // hello's binary changed content ("hello fixed").
    assert!(d["files"]["changed"].as_u64().unwrap() >= 1);
    assert!(
        d["config"].to_string().contains("Entrypoint"),
        "{}",
        d["config"]
    );
    let v = &d["vulnerabilities"];
    assert!(
        v["fixed"].to_string().contains("CVE-2099-0011 (hello)"),
        "{v}"
    );
    assert!(
        v["introduced"]
            .to_string()
            .contains("CVE-2099-0005 (openssl)"),
        "{v}"
    );
    let md = ok(ctx.run(&[
        "diff", "oci:v1", "oci:v2", "--db", "db", "--format", "markdown",
    ]));
    assert!(
        md.contains("| hello | 2.10-3 | 2.10-3+deb12u1 |")
            && md.contains("- fixed: CVE-2099-0011 (hello)"),
        "{md}"
    );
    // Without a database: no vulnerability section.
    let d = report(&ok(
        ctx.run(&["diff", "oci:v1", "oci:v2", "--format", "json"])
    ));
    assert!(d.get("vulnerabilities").is_none());
}

/// OSV's `all.zip`, written by Python's zipfile: stored and deflated
/// members, other files skipped, and zip64 past 65,535 members.
#[test]
fn osv_all_zip_imports_and_matches() {
    let (ctx, _) = app_image();
    let script = r#"
import json, sys, zipfile
path, n = sys.argv[1], int(sys.argv[2])
with zipfile.ZipFile(path, "w") as z:
    rec = {"id": "DEBIAN-CVE-2099-0100", "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}], "ecosystem_specific": {"urgency": "high"}}]}
    z.writestr("DEBIAN-CVE-2099-0100.json", json.dumps(rec), compress_type=zipfile.ZIP_DEFLATED)
    dsa = {"id": "DSA-9999-1", "aliases": ["CVE-2099-0101", "CVE-2099-0102"], "affected": [{"package": {"ecosystem": "Debian:12", "name": "hello"},
           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.10-3+deb12u9"}]}]}]}
    z.writestr("DSA-9999-1.json", json.dumps(dsa), compress_type=zipfile.ZIP_STORED)
    z.writestr("README.txt", "not a record")
    for i in range(n):
        z.writestr(f"DEBIAN-CVE-2098-{i}.json", json.dumps({"id": f"DEBIAN-CVE-2098-{i}", "affected": []}))
"#;
    let zip = ctx.path().join("all.zip");
    let make = |n: &str| {
        ok(std::process::Command::new("python3")
            .args(["-c", script, zip.to_str().unwrap(), n])
            .output()
            .unwrap())
    };
    make("0");
    ok(update(&ctx, &[&zip]));
    let s = status(&ctx);
    assert_eq!(s["feeds"][0]["kind"], "osv");
    let r = scan(&ctx, "oci:out:v1", &[]);
    let ids: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    for id in ["CVE-2099-0100", "CVE-2099-0101", "CVE-2099-0102"] {
        assert!(ids.contains(&id), "{id}: {ids:?}");
    }
    // zip64: more members than a plain zip can count.
    make("65600");
    let head = std::fs::read(&zip).unwrap();
    assert!(
        head.windows(4).any(|w| w == b"PK\x06\x06"),
        "python wrote no zip64 record"
    );
    ok(update(&ctx, &[&zip]));
    assert!(
        scan(&ctx, "oci:out:v1", &[])["findings"]
            .to_string()
            .contains("CVE-2099-0100")
    );
    // A cut archive is refused, and the database stays.
    let cut = ctx.path().join("cut.zip");
    std::fs::write(&cut, &head[..head.len() - 30]).unwrap();
    let err = fails(update(&ctx, &[&cut]));
    assert!(
        err.contains("cut.zip") && err.contains("damaged zip"),
        "{err}"
    );
}

#[test]
fn db_update_fetches_feeds_by_url_and_names_a_failing_one() {
    let ctx = Ctx::new();
    let served = ctx.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::copy(
        vuln_data("cisa-kev-2025-08-25.json.gz"),
        served.join("kev.json.gz"),
    )
    .unwrap();
    let server = bulwark_test_support::HttpServer::serve(&served);
    let url = format!("{}/kev.json.gz", server.url);
    ok(ctx.run(&["db", "update", "--db", "db", "--from", &url]));
    let s = status(&ctx);
    assert_eq!(s["feeds"][0]["records"], 1404);
    assert_eq!(s["feeds"][0]["sources"][0]["source"], url);
    let missing = format!("{}/nothing.json", server.url);
    let err = fails(ctx.run(&["db", "update", "--db", "db", "--from", &missing]));
    assert!(
        err.contains("nothing.json") && err.contains("--from FILE"),
        "{err}"
    );
    assert_eq!(status(&ctx), s, "the database stays as it was");
}

#[test]
fn scan_archive_failures_say_what_failed() {
    let (ctx, list) = app_image();
    ok(update(&ctx, &[&list]));
    // An archive that does not answer.
    let err = fails(ctx.run(&[
        "scan",
        "oci:out:v1",
        "--db",
        "db",
        "--archive",
        "--mirror",
        "http://127.0.0.1:1/debian",
        "--keyring",
        ctx.archive.keyring.to_str().unwrap(),
    ]));
    assert!(
        err.contains("the Debian archive") && err.contains("127.0.0.1:1"),
        "{err}"
    );
    // The synthetic archive, whose key signs it, has nothing newer than the build.
    let r = report(&ok(ctx.run(&[
        "scan",
        "oci:out:v1",
        "--db",
        "db",
        "--format",
        "json",
        "--archive",
        "--mirror",
        &ctx.archive.server.url,
        "--security-mirror",
        &ctx.archive.server.url,
        "--keyring",
        ctx.archive.keyring.to_str().unwrap(),
    ])));
    assert_eq!(r["archive"]["suites"][0], "bookworm", "{}", r["archive"]);
    // It has no bookworm-updates: said, and the others are still read.
    assert_eq!(
        r["archive"]["missing"][0], "bookworm-updates",
        "{}",
        r["archive"]
    );
    // No release known: said, with what to do.
    let root = ctx.path().join("rootfs");
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        "Package: x\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n",
    )
    .unwrap();
    let err = fails(ctx.run(&["scan", root.to_str().unwrap(), "--db", "db", "--archive"]));
    assert!(err.contains("--release CODENAME"), "{err}");
}
