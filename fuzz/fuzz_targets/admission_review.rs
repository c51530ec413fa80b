#![no_main]
//! Any bytes as an AdmissionReview request, an admission policy, a
//! Kubernetes manifest, a namespace list, an attested SBOM, an audit log, or the predicate a condition reads:
//! errors or answers, never panics; the images found point at themselves.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = bulwark_admission::AdmissionReview::parse(data) {
        let _ = bulwark_admission::needs_review(&req);
        if let Ok(images) = bulwark_admission::images_of(&req.kind.kind, &req.object) {
            for i in images {
                assert_eq!(
                    req.object.pointer(&i.pointer).and_then(|v| v.as_str()),
                    Some(i.image.as_str())
                );
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(f) = bulwark_admission::PolicyFile::from_yaml(s, "fuzz.yaml") {
            let labels = bulwark_admission::selector::Labels::from([("env".into(), "prod".into())]);
            for p in &f.policies {
                let _ = p.selects(&labels);
            }
        }
        if let Ok(ns) = bulwark_admission::StaticNamespaces::from_text(s, "fuzz.json") {
            use bulwark_admission::NamespaceSource as _;
            let _ = ns.labels("default");
        }
        let _ = bulwark_admission::requests_from_manifest(s, "fuzz.yaml", "default");
        let _ = bulwark_admission::audit::verify_log(s, &[]);
    }
    if let Ok(predicate) = serde_json::from_slice::<serde_json::Value>(data) {
        // An attested SBOM, read by `bulwark evidence`: verdicts, never panics.
        use bulwark_evidence::{sbom, spdx3};
        for c in [
            sbom::spdx(&predicate),
            sbom::spdx_fsct3(&predicate),
            sbom::cyclonedx(&predicate),
            spdx3::ntia(&predicate),
            spdx3::fsct3(&predicate),
            spdx3::bsi(&predicate),
        ] {
            assert_eq!(c.conformant, c.missing.is_empty());
        }
        use bulwark_admission::conditions as c;
        let conditions = c::Conditions {
            provenance: Some(c::Provenance {
                builder_id: Some("urn:*".into()),
                build_type: Some("**".into()),
            }),
            sbom: Some(c::Sbom {
                forbid_packages: vec!["bash".into()],
            }),
            vulnerabilities: Some(c::Vulnerabilities {
                no_kev: true,
                max_priority: Some("plan".into()),
                max_age: Some("30d".into()),
            }),
            eval: Some(c::Eval {
                min_grade: "B".into(),
            }),
            evidence: Some(c::EvidenceSummary {
                max_age: Some("30d".into()),
                satisfied: vec!["4.1".into()],
            }),
            non_root: true,
        };
        let statements: Vec<bulwark_sign::Statement> = conditions
            .predicate_types()
            .into_iter()
            .chain(["https://spdx.dev/Document", "https://cyclonedx.org/bom"])
            .map(|t| bulwark_sign::Statement::new("fuzz", "sha256:00", t, predicate.clone()))
            .collect();
        let configs = [predicate.clone()];
        let _ = conditions.failures(&bulwark_admission::conditions::Evidence {
            statements: &statements,
            configs: &configs,
            now: 0,
        });
    }
});
