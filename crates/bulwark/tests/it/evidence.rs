//! `bulwark evidence`: a signed, scanned two-platform image gives evidence
//! that satisfies what it shows and says what it does not; an image planted
//! to fail specific controls is reported as failing each, with the reason.
//! The bundle's manifest matches its files, and bulwark's NTIA verdict on
//! the attested SPDX agrees with the NTIA conformance checker.

use std::io::Read;

use serde_json::Value;

use crate::common::{Ctx, fails, multi_arch_spec, ok, report, run_pw, tool};

/// `bulwark evidence --format oscal` for `image`, validated by
/// compliance-trestle against the OSCAL assessment-results model; the
/// finding of each control by its OSCAL target id.
fn oscal(ctx: &Ctx, image: &str) -> std::collections::BTreeMap<String, Value> {
    ok(ctx.run(&[
        "evidence", image, "--key", "k.pub", "--format", "oscal", "--out", "ar.json",
    ]));
    assert!(tool("trestle") || std::env::var("CI").is_err());
    if tool("trestle") {
        ok(std::process::Command::new("trestle")
            .args([
                "partial-object-validate",
                "-f",
                "ar.json",
                "-e",
                "assessment-results",
            ])
            .current_dir(ctx.path())
            .output()
            .unwrap());
    }
    let v: Value =
        serde_json::from_slice(&std::fs::read(ctx.path().join("ar.json")).unwrap()).unwrap();
    v["assessment-results"]["results"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["target"]["target-id"].as_str().unwrap().to_owned(),
                f.clone(),
            )
        })
        .collect()
}

fn evidence(ctx: &Ctx, args: &[&str]) -> Value {
    let mut a = vec!["evidence"];
    a.extend_from_slice(args);
    a.extend(["--format", "json"]);
    report(&ok(ctx.run(&a)))
}

/// The control `id` of `ev`: (status, reason, evidence joined).
fn control(ev: &Value, id: &str) -> (String, String, String) {
    let c = ev["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no control {id}"));
    (
        c["status"].as_str().unwrap().to_owned(),
        c["reason"].as_str().unwrap().to_owned(),
        c["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

#[test]
fn a_signed_image_shows_what_it_satisfies_and_why_the_rest_does_not_hold() {
    let ctx = Ctx::new();
    // The spec says who supplies the image, as NTIA asks of the top-level
    // component (the test below also builds it without).
    ctx.spec(
        "m",
        "archs: [amd64, arm64]\npackages: [base-files, hello]\nexclude: [{package: awk, reason: scripts never run}]\nsbom: {supplier: Example Platform Team}\n",
    );
    ok(run_pw(&ctx, &["key", "generate", "k"]));
    ok(run_pw(
        &ctx,
        &[
            "build",
            "m.yaml",
            "--output",
            "oci:good:1",
            "--sign-key",
            "k.key",
        ],
    ));
    std::fs::write(ctx.path().join("list"), crate::scan::TRACKER).unwrap();
    let kev = crate::scan::current_kev(ctx.path());
    ok(ctx.run(&[
        "db",
        "update",
        "--db",
        "db",
        "--from",
        "list",
        "--from",
        &kev.display().to_string(),
    ]));
    // A scan is about one platform's manifest: each is scanned.
    for platform in ["linux/amd64", "linux/arm64/v8"] {
        ok(run_pw(
            &ctx,
            &[
                "scan",
                "oci:good:1",
                "--platform",
                platform,
                "--db",
                "db",
                "--attest",
                "--key",
                "k.key",
            ],
        ));
    }
    let ev = evidence(&ctx, &["oci:good:1", "--key", "k.pub"]);
    let platforms: Vec<&str> = ev["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    for id in [
        "4.1",
        "4.3",
        "4.8",
        "4.10",
        "4.11",
        "4.12",
        "SRG-APP-000342-CTR-000775",
        "SRG-APP-000131-CTR-000285",
        "SRG-APP-000516-CTR-001335",
        "CM-7",
        "CM-8",
        "RA-5",
        "SR-4",
        "SA-10",
        "SI-7",
        "Build L1",
    ] {
        let (status, reason, evidence) = control(&ev, id);
        assert_eq!(status, "satisfied", "{id}: {reason}\n{evidence}");
        // Each names where it comes from, per platform.
        assert!(evidence.contains("linux/arm64/v8"), "{id}: {evidence}");
    }
    let (_, _, ev_cm8) = control(&ev, "CM-8");
    assert!(ev_cm8.contains("NTIA minimum elements present"), "{ev_cm8}");
    let (_, _, ev_411) = control(&ev, "4.11");
    assert!(
        ev_411.contains("all 3 installed packages are .deb inputs named by digest"),
        "{ev_411}"
    );
    // Not built from a Dockerfile; client settings and build platforms
    // are not the image's to show.
    assert_eq!(control(&ev, "4.9").0, "not-applicable");
    assert_eq!(control(&ev, "4.7").0, "not-applicable");
    for id in [
        "4.2",
        "4.5",
        "Build L2",
        "Build L3",
        "SRG-APP-000380-CTR-000340",
    ] {
        assert_eq!(control(&ev, id).0, "manual", "{id}");
    }
    // The scan found hello's KEV-listed CVE, fixed in the archive: patching
    // within 30 days does not hold, and the reason says which.
    for id in ["4.4", "SI-2", "SRG-APP-000456-CTR-001125"] {
        let (status, reason, _) = control(&ev, id);
        assert_eq!(status, "not-satisfied", "{id}");
        assert!(reason.contains("CVE-2025-48384"), "{id}: {reason}");
    }
    // No HEALTHCHECK in the spec.
    assert_eq!(control(&ev, "4.6").0, "not-satisfied");
    // The same as OSCAL assessment results, valid for trestle: satisfied
    // only where bulwark's status is; manual and not applicable are not
    // claimed.
    let findings = oscal(&ctx, "oci:good:1");
    assert_eq!(findings.len(), 29);
    let state = |id: &str| {
        let s = &findings[id]["target"]["status"];
        (
            s["state"].as_str().unwrap().to_owned(),
            s["reason"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(state("cis-4.1"), ("satisfied".into(), "pass".into()));
    assert_eq!(state("cm-8"), ("satisfied".into(), "pass".into()));
    assert_eq!(state("si-2"), ("not-satisfied".into(), "fail".into()));
    assert_eq!(state("cis-4.5"), ("not-satisfied".into(), "other".into()));
    assert_eq!(state("cis-4.9"), ("not-satisfied".into(), "other".into()));
    assert_eq!(
        state("slsa-build-l2"),
        ("not-satisfied".into(), "other".into())
    );

    // --attest: the summary signed and attached, verifiable like any
    // attestation (the admission gate's `evidence` condition reads it).
    ok(run_pw(
        &ctx,
        &[
            "evidence",
            "oci:good:1",
            "--key",
            "k.pub",
            "--attest",
            "--sign-key",
            "k.key",
        ],
    ));
    ok(ctx.run(&[
        "verify",
        "oci:good:1",
        "--key",
        "k.pub",
        "--attestation",
        "evidence",
    ]));

    // Each verified signature and attestation names the key that verified
    // it: the fingerprint of k.pub (base64 SHA-256 of its DER form).
    {
        use base64::Engine as _;
        use sha2::Digest as _;
        let pem = std::fs::read_to_string(ctx.path().join("k.pub")).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let want = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(der));
        let found = ev["platforms"][0]["found"].as_array().unwrap();
        assert!(found.iter().any(|f| f["verified"] == true));
        for f in found {
            if f["verified"] == true {
                assert_eq!(f["key"], want.as_str(), "{f}");
            } else {
                assert!(f.get("key").is_none(), "{f}");
            }
        }
    }

    // Without a key nothing verifies, and the evidence says so.
    let unkeyed = evidence(&ctx, &["oci:good:1"]);
    let (status, reason, _) = control(&unkeyed, "SRG-APP-000131-CTR-000285");
    assert_eq!(status, "not-satisfied");
    assert!(reason.contains("no key was given"), "{reason}");
    assert_eq!(control(&unkeyed, "CM-8").0, "not-satisfied");

    // The bundle: every file the manifest lists, with its digest.
    ok(ctx.run(&[
        "evidence",
        "oci:good:1",
        "--key",
        "k.pub",
        "--format",
        "bundle",
        "--out",
        "ev.tar",
    ]));
    let mut files = std::collections::BTreeMap::new();
    let mut ar = tar::Archive::new(std::fs::File::open(ctx.path().join("ev.tar")).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(e.path().unwrap().display().to_string(), data);
    }
    let manifest: Value = serde_json::from_slice(&files["MANIFEST.json"]).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len() + 1, files.len());
    for f in listed {
        use sha2::Digest as _;
        let data = &files[f["path"].as_str().unwrap()];
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            hex::encode(sha2::Sha256::digest(data)),
            "{f}"
        );
    }
    // Every file a control cites is in the bundle.
    let ev_json: Value = serde_json::from_slice(&files["evidence.json"]).unwrap();
    for p in ev_json["platforms"].as_array().unwrap() {
        assert!(files.contains_key(p["eval_file"].as_str().unwrap()));
        for s in p["sboms"].as_array().unwrap() {
            assert!(files.contains_key(s["file"].as_str().unwrap()));
        }
    }
    // The report: the bundle's copy is what --format html prints; a real
    // browser renders every control, and prints it.
    let html = ok(ctx.run(&[
        "evidence",
        "oci:good:1",
        "--key",
        "k.pub",
        "--format",
        "html",
    ]));
    // Equal but for when each was gathered.
    let timeless = |h: &str| {
        let at = h.find("gathered ").unwrap();
        let end = at + h[at..].find(" \u{b7}").unwrap();
        format!("{}{}", &h[..at], &h[end..])
    };
    assert!(html.starts_with("<!DOCTYPE html>"));
    let in_bundle = String::from_utf8(files["report.html"].clone()).unwrap();
    assert_eq!(
        timeless(&in_bundle),
        timeless(&html),
        "report.html in the bundle is the html report"
    );
    if tool("chromium") {
        let page = ctx.path().join("evidence.html");
        std::fs::write(&page, &html).unwrap();
        let dom = String::from_utf8_lossy(
            &crate::report::chromium(&["--dump-dom"], &page, &ctx.path().join("p1")).stdout,
        )
        .into_owned();
        for c in ev_json["controls"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap();
            assert!(dom.contains(&format!("<b>{id}</b>")), "{id} not rendered");
        }
        assert!(dom.contains("id=\"summary\"") && dom.contains("class=\"st ok\""));
        let pdf = ctx.path().join("evidence.pdf");
        crate::report::chromium(
            &[
                "--no-pdf-header-footer",
                &format!("--print-to-pdf={}", pdf.display()),
            ],
            &page,
            &ctx.path().join("p2"),
        );
        let bytes = std::fs::read(&pdf).expect("chromium printed no PDF");
        assert!(
            bytes.starts_with(b"%PDF-") && bytes.len() > 20_000,
            "the printed report looks empty ({} bytes)",
            bytes.len()
        );
    }
    // The NTIA conformance checker agrees with bulwark on the attested SPDX.
    if tool("ntia-checker") {
        let spdx = ev_json["platforms"][0]["sboms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                s["ntia"].is_object() && s["predicate_type"].as_str().unwrap().contains("spdx")
            })
            .unwrap();
        let statement: Value =
            serde_json::from_slice(&files[spdx["file"].as_str().unwrap()]).unwrap();
        std::fs::write(
            ctx.path().join("attested.spdx.json"),
            serde_json::to_vec(&statement["predicate"]).unwrap(),
        )
        .unwrap();
        crate::examples::assert_conformant(&ctx.path().join("attested.spdx.json"), "ntia", false);
        assert_eq!(spdx["ntia"]["conformant"], true);
        // Without a supplier for the image itself, both say it falls short.
        multi_arch_spec(&ctx);
        ok(run_pw(
            &ctx,
            &[
                "build",
                "m.yaml",
                "--output",
                "oci:nosupplier:1",
                "--sign-key",
                "k.key",
            ],
        ));
        let ev = evidence(&ctx, &["oci:nosupplier:1", "--key", "k.pub"]);
        let (status, reason, _) = control(&ev, "CM-8");
        assert_eq!(status, "not-satisfied");
        assert!(reason.contains("supplier of 1 component"), "{reason}");
        let spdx = ev["platforms"][0]["sboms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                s["ntia"].is_object() && s["predicate_type"].as_str().unwrap().contains("spdx")
            })
            .unwrap()
            .clone();
        ok(ctx.run(&[
            "evidence",
            "oci:nosupplier:1",
            "--key",
            "k.pub",
            "--format",
            "bundle",
            "--out",
            "ev2",
        ]));
        let statement: Value = serde_json::from_slice(
            &std::fs::read(ctx.path().join("ev2").join(spdx["file"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        std::fs::write(
            ctx.path().join("short.spdx.json"),
            serde_json::to_vec(&statement["predicate"]).unwrap(),
        )
        .unwrap();
        let out = std::process::Command::new("ntia-checker")
            .args(["-c", "ntia", "--file", "short.spdx.json", "-v"])
            .current_dir(ctx.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Conformant: False") && text.contains("supplier (1)"),
            "{text}"
        );
    }
    // SPDX 3: bulwark's NTIA, FSCT 3 and BSI verdicts are the SPDX
    // checker's, on the attested documents and on one planted to fail
    // each baseline (no SBOM type, no SHA-512 on the .deb files, a
    // package without a supplier), attested beside them.
    if tool("ntia-checker") {
        let ev_json = evidence(&ctx, &["oci:good:1", "--key", "k.pub"]);
        let spdx3 = |ev: &Value| -> Vec<Value> {
            ev["platforms"][0]["sboms"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["predicate_type"] == "https://spdx.dev/Document/v3.0")
                .cloned()
                .collect()
        };
        let attested = spdx3(&ev_json);
        assert!(!attested.is_empty(), "the build attests its SPDX 3 SBOM");
        ok(ctx.run(&[
            "evidence",
            "oci:good:1",
            "--key",
            "k.pub",
            "--format",
            "bundle",
            "--out",
            "ev3",
        ]));
        let predicate = |file: &str| -> Value {
            let st: Value =
                serde_json::from_slice(&std::fs::read(ctx.path().join("ev3").join(file)).unwrap())
                    .unwrap();
            st["predicate"].clone()
        };
        let mut planted = predicate(attested[0]["file"].as_str().unwrap());
        let graph = planted["@graph"].as_array_mut().unwrap();
        let mut dropped_supplier = false;
        for e in graph.iter_mut() {
            let o = e.as_object_mut().unwrap();
            o.remove("software_sbomType");
            if o["type"] == "software_File" {
                o.remove("verifiedUsing");
            }
            if o["type"] == "software_Package" && o.get("name").is_some_and(|n| n == "hello") {
                o.remove("suppliedBy");
                dropped_supplier = true;
            }
        }
        assert!(dropped_supplier);
        // And one completed with what the synthetic packages lack (a
        // license, a copyright, a creator with an email address), which
        // every baseline accepts.
        let mut completed = predicate(attested[0]["file"].as_str().unwrap());
        let graph = completed["@graph"].as_array_mut().unwrap();
        let org = "urn:test:org";
        let ctx_ref = graph.iter().find(|e| e["type"] == "CreationInfo").unwrap()["@id"].clone();
        let mut added = vec![
            serde_json::json!({"type": "Organization", "spdxId": org, "creationInfo": ctx_ref, "name": "Test Org",
                "externalIdentifier": [{"type": "ExternalIdentifier", "externalIdentifierType": "email", "identifier": "sbom@test.example"}]}),
            serde_json::json!({"type": "simplelicensing_LicenseExpression", "spdxId": "urn:test:mit", "creationInfo": ctx_ref,
                "simplelicensing_licenseExpression": "MIT"}),
        ];
        for (i, e) in graph.iter_mut().enumerate() {
            let o = e.as_object_mut().unwrap();
            if o["type"] == "CreationInfo" {
                o["createdBy"] = serde_json::json!([org]);
            }
            if o["type"] == "software_Package" {
                o.insert("software_copyrightText".into(), "2026 Test Org".into());
                o.insert("originatedBy".into(), serde_json::json!([org]));
                added.push(serde_json::json!({"type": "Relationship", "spdxId": format!("urn:test:lic-{i}"),
                    "creationInfo": ctx_ref, "from": o["spdxId"], "relationshipType": "hasConcludedLicense", "to": ["urn:test:mit"]}));
            }
        }
        graph.extend(added);
        for (name, doc) in [("planted", &planted), ("completed", &completed)] {
            std::fs::write(
                ctx.path().join(format!("{name}.spdx3.json")),
                serde_json::to_vec(doc).unwrap(),
            )
            .unwrap();
            ok(run_pw(
                &ctx,
                &[
                    "attest",
                    "oci:good:1",
                    "--key",
                    "k.key",
                    "--type",
                    "spdx3",
                    "--predicate",
                    &format!("{name}.spdx3.json"),
                ],
            ));
        }
        let ev_json = evidence(&ctx, &["oci:good:1", "--key", "k.pub"]);
        let all = spdx3(&ev_json);
        assert_eq!(all.len(), attested.len() + 2, "{all:#?}");
        ok(ctx.run(&[
            "evidence",
            "oci:good:1",
            "--key",
            "k.pub",
            "--format",
            "bundle",
            "--out",
            "ev4",
        ]));
        let mut verdicts = std::collections::BTreeSet::new();
        for s in &all {
            let st: Value = serde_json::from_slice(
                &std::fs::read(ctx.path().join("ev4").join(s["file"].as_str().unwrap())).unwrap(),
            )
            .unwrap();
            let doc = ctx.path().join("doc.spdx3.json");
            std::fs::write(&doc, serde_json::to_vec(&st["predicate"]).unwrap()).unwrap();
            for (standard, field) in [("ntia", "ntia"), ("fsct3-min", "fsct3"), ("bsi", "bsi")] {
                let out = std::process::Command::new("ntia-checker")
                    .args(["-s", "spdx3", "-c", standard])
                    .arg(&doc)
                    .output()
                    .unwrap();
                let checker = out.status.success();
                let ours = s[field]["conformant"].as_bool().unwrap();
                assert_eq!(
                    ours,
                    checker,
                    "{standard} on {}: bulwark {:?}, checker:\n{}",
                    s["file"],
                    s[field]["missing"],
                    String::from_utf8_lossy(&out.stdout)
                );
                verdicts.insert((standard, ours));
            }
        }
        // Both verdicts seen for each baseline.
        assert_eq!(verdicts.len(), 6, "{verdicts:?} {all:#?}");
    }
    // An existing non-empty directory is not overwritten.
    std::fs::create_dir(ctx.path().join("taken")).unwrap();
    std::fs::write(ctx.path().join("taken/x"), "x").unwrap();
    let err = fails(ctx.run(&[
        "evidence",
        "oci:good:1",
        "--format",
        "bundle",
        "--out",
        "taken",
    ]));
    assert!(err.contains("not an empty directory"), "{err}");
}

#[test]
fn planted_failures_are_each_reported_with_the_reason() {
    let ctx = Ctx::new();
    ok(run_pw(&ctx, &["key", "generate", "k"]));
    let mut b = tar::Builder::new(Vec::new());
    for (name, mode, data) in [
        (
            "var/lib/dpkg/status",
            0o644,
            &b"Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n"[..],
        ),
        ("usr/bin/bash", 0o755, b"\x7fELF"),
        ("usr/bin/passwd", 0o4755, b"\x7fELF"),
        ("app/.env", 0o644, b"DB_PASSWORD=hunter2\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    }
    let t = b.into_inner().unwrap();
    crate::regression::one_layer_layout_with(
        &ctx.path().join("bad"),
        &crate::regression::gzip(&t),
        &t,
        serde_json::json!({"Entrypoint": ["/usr/bin/bash"], "ExposedPorts": {"80/tcp": {}}}),
    );
    // An audit log with one decision for another image: none for this one.
    std::fs::write(
        ctx.path().join("audit.jsonl"),
        r#"{"time":"2026-12-01T00:00:00Z","allowed":true,"images":[{"image":"x","digest":"sha256:00","mode":"enforce","result":"allowed"}]}"#,
    )
    .unwrap();
    let ev = evidence(
        &ctx,
        &[
            "oci:bad:t",
            "--key",
            "k.pub",
            "--admission-log",
            "audit.jsonl",
        ],
    );
    for (id, why) in [
        ("4.1", "root"),
        ("SRG-APP-000342-CTR-000775", "root"),
        ("4.3", "shell"),
        ("CM-7", "shell"),
        ("4.8", "/usr/bin/passwd"),
        ("4.10", "/app/.env"),
        ("SRG-APP-000142-CTR-000330", "80"),
        ("SRG-APP-000131-CTR-000285", "no signature verifies"),
        ("SI-7", "no signature verifies"),
        ("4.12", "no signature verifies"),
        ("CM-8", "no SBOM attestation"),
        ("SR-4", "no SLSA provenance"),
        ("Build L1", "no SLSA provenance"),
        ("Build L2", "Build L1 does not hold"),
        ("RA-5", "no verified vulnerability report"),
        ("4.4", "no verified vulnerability report"),
    ] {
        let (status, reason, evidence) = control(&ev, id);
        assert_eq!(status, "not-satisfied", "{id}: {reason}");
        assert!(
            reason.contains(why) || evidence.contains(why),
            "{id}: {why:?} not in\n{reason}\n{evidence}"
        );
    }
    let findings = oscal(&ctx, "oci:bad:t");
    assert_eq!(
        findings["cis-4.8"]["target"]["status"]["state"],
        "not-satisfied"
    );
    assert!(
        findings["cis-4.8"]["description"]
            .as_str()
            .unwrap()
            .contains("/usr/bin/passwd")
    );
    // The text report: controls by framework, the reason under each failure.
    let text = ok(ctx.run(&["evidence", "oci:bad:t", "--key", "k.pub"]));
    assert!(
        text.contains("CIS Docker Benchmark v1.6.0\n")
            && text.contains("FAIL 4.8 ")
            && text.contains("linux/amd64: /usr/bin/passwd is setuid")
            && text.contains("not-satisfied"),
        "{text}"
    );
    assert_eq!(ev["admission"]["decisions"], 0);
    assert_eq!(ev["admission"]["lines"], 1);
    // A line naming this image that nobody signed is not a decision.
    let forged = format!(
        r#"{{"time":"2026-12-01T00:00:00Z","allowed":true,"images":[{{"image":"x","digest":"{}","mode":"enforce","result":"allowed"}}]}}"#,
        ev["digest"].as_str().unwrap()
    );
    std::fs::write(ctx.path().join("audit.jsonl"), forged).unwrap();
    let ev = evidence(
        &ctx,
        &[
            "oci:bad:t",
            "--key",
            "k.pub",
            "--admission-log",
            "audit.jsonl",
        ],
    );
    assert_eq!(ev["admission"]["decisions"], 0);
    assert_eq!(ev["admission"]["unverified"], 1);
    assert_eq!(ev["admission"]["verified"], 0);
    assert!(
        ev["summary"]["satisfied"].as_u64().unwrap_or(0) < 5,
        "{}",
        ev["summary"]
    );

    // An evidence policy: two frameworks, a tailoring that holds and one
    // past its date. Tailoring lowers a claim, never raises it.
    std::fs::write(
        ctx.path().join("policy.yaml"),
        "frameworks: [srg, nist]\nparameters: {patch-days: 15, scan-max-age-days: 7}\ntailoring:\n  - {control: CM-7, status: manual, reason: the shell is the product (a toolbox image), expires: 2099-12-31}\n  - {control: SI-7, status: not-applicable, reason: was signed elsewhere, expires: 2020-01-01}\n",
    )
    .unwrap();
    let ev = evidence(
        &ctx,
        &["oci:bad:t", "--key", "k.pub", "--policy", "policy.yaml"],
    );
    let frameworks: std::collections::BTreeSet<&str> = ev["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["framework"].as_str().unwrap())
        .collect();
    assert!(
        frameworks
            .iter()
            .all(|f| f.contains("SRG") || f.starts_with("NIST")),
        "{frameworks:?}"
    );
    let (status, reason, evidence_) = control(&ev, "CM-7");
    assert_eq!(status, "manual");
    assert!(
        reason.contains("tailored by policy.yaml until 2099-12-31: the shell is the product"),
        "{reason}"
    );
    assert!(
        evidence_.contains("the evidence alone says not-satisfied"),
        "{evidence_}"
    );
    let (status, _, evidence_) = control(&ev, "SI-7");
    assert_eq!(
        status, "not-satisfied",
        "an expired tailoring no longer holds"
    );
    assert!(evidence_.contains("expired on 2020-01-01"), "{evidence_}");
    assert_eq!(ev["parameters"]["patch-days"], 15);
    assert_eq!(ev["policy"]["tailored"], serde_json::json!(["CM-7"]));
    assert_eq!(ev["policy"]["expired"], serde_json::json!(["SI-7"]));
    {
        use sha2::Digest as _;
        assert_eq!(
            ev["policy"]["sha256"].as_str().unwrap(),
            hex::encode(sha2::Sha256::digest(
                std::fs::read(ctx.path().join("policy.yaml")).unwrap()
            ))
        );
    }
    ok(ctx.run(&[
        "evidence",
        "oci:bad:t",
        "--key",
        "k.pub",
        "--policy",
        "policy.yaml",
        "--format",
        "bundle",
        "--out",
        "tailored",
    ]));
    assert_eq!(
        std::fs::read(ctx.path().join("tailored/policy.yaml")).unwrap(),
        std::fs::read(ctx.path().join("policy.yaml")).unwrap()
    );
    // A tailoring cannot claim a control is satisfied.
    std::fs::write(
        ctx.path().join("overclaim.yaml"),
        "tailoring: [{control: '4.1', status: satisfied, reason: trust me, expires: 2099-01-01}]\n",
    )
    .unwrap();
    let err = fails(ctx.run(&["evidence", "oci:bad:t", "--policy", "overclaim.yaml"]));
    assert!(
        err.contains("overclaim.yaml") && err.contains("unknown variant"),
        "{err}"
    );
}
