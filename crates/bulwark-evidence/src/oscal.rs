//! The evidence as NIST OSCAL assessment results (JSON): one result with
//! an observation per platform and per admission log (what was examined,
//! with the bundle files as relevant evidence), and a finding per control
//! whose target is the control and whose state is `satisfied` only when
//! bulwark's status is. OSCAL knows two states: `not-applicable` and
//! `manual` become `not-satisfied` with reason `other` and a remark that
//! says which, so nothing is claimed that the evidence does not show.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Evidence, Status};

/// The OSCAL version the document follows.
pub const OSCAL_VERSION: &str = "1.1.2";

/// A stable RFC 4122 UUID (version 5 layout) for `parts`: the same
/// evidence gives the same document.
fn uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// An OSCAL token for a control: lowercase, starting with a letter
/// (`cis-4.1`, `cm-7`, `srg-app-000342-ctr-000775`, `slsa-build-l1`).
fn target_id(framework: &str, id: &str) -> String {
    let prefix = if framework.starts_with("CIS") {
        "cis-"
    } else if framework.starts_with("SLSA") {
        "slsa-"
    } else {
        ""
    };
    let raw = format!("{prefix}{id}").to_ascii_lowercase();
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The assessment results document for `ev`.
#[must_use]
pub fn assessment_results(ev: &Evidence) -> Value {
    let seed = [ev.digest.as_str(), ev.generated.as_str()];
    let mut observations = Vec::new();
    for (i, p) in ev.platforms.iter().enumerate() {
        let mut files: Vec<&str> = vec![p.eval_file.as_str()];
        files.extend(p.sboms.iter().map(|s| s.file.as_str()));
        files.extend(p.provenance.iter().map(|s| s.file.as_str()));
        files.extend(p.vulnerabilities.iter().map(|s| s.file.as_str()));
        observations.push(json!({
            "uuid": uuid(&[seed[0], seed[1], "observation", &i.to_string(), &p.platform]),
            "title": format!("{} ({})", ev.image, p.platform),
            "description": format!(
                "bulwark read the {} image of {} (manifest {}) against its digests, evaluated it (grade {}, score {}), and verified its signatures and attestations with {} key(s): {} found, {} verified.",
                p.platform,
                ev.image,
                p.manifest.as_deref().unwrap_or(&ev.digest),
                p.grade,
                p.score,
                ev.keys,
                p.found.len(),
                p.found.iter().filter(|f| f.verified).count()
            ),
            "methods": ["EXAMINE", "TEST"],
            "collected": ev.generated,
            "relevant-evidence": files
                .iter()
                .map(|f| json!({"href": f, "description": format!("{f} in the evidence bundle")}))
                .collect::<Vec<_>>(),
        }));
    }
    if let Some(a) = &ev.admission {
        observations.push(json!({
            "uuid": uuid(&[seed[0], seed[1], "observation", "admission"]),
            "title": "Admission decisions",
            "description": format!(
                "The admission audit log {} holds {} lines ({} with a verified signature and chain); {} decisions name this image: {} allowed ({} by an enforcing policy), {} denied.",
                a.log, a.lines, a.verified, a.decisions, a.allowed, a.enforced_allowed, a.denied
            ),
            "methods": ["EXAMINE"],
            "collected": ev.generated,
            "relevant-evidence": [{"href": a.file, "description": "the decisions for this digest"}],
        }));
    }
    let related: Vec<Value> = observations
        .iter()
        .map(|o| json!({"observation-uuid": o["uuid"]}))
        .collect();
    let findings: Vec<Value> = ev
        .controls
        .iter()
        .map(|c| {
            let mut status = json!({
                "state": if c.status == Status::Satisfied { "satisfied" } else { "not-satisfied" },
                "reason": match c.status {
                    Status::Satisfied => "pass",
                    Status::NotSatisfied => "fail",
                    Status::NotApplicable | Status::Manual => "other",
                },
            });
            if matches!(c.status, Status::NotApplicable | Status::Manual) {
                status["remarks"] = json!(format!("{}: {}", c.status.name(), c.reason));
            }
            let mut description = c.reason.clone();
            if !c.evidence.is_empty() {
                description.push_str("\n\nEvidence:\n- ");
                description.push_str(&c.evidence.join("\n- "));
            }
            json!({
                "uuid": uuid(&[seed[0], seed[1], "finding", &c.framework, &c.id]),
                "title": format!("{} {}: {}", c.framework, c.id, c.title),
                "description": description,
                "props": [
                    {"name": "framework", "ns": "urn:bulwark:evidence", "value": c.framework},
                    {"name": "rule", "ns": "urn:bulwark:evidence", "value": c.rule},
                    {"name": "status", "ns": "urn:bulwark:evidence", "value": c.status.name()},
                ],
                "target": {
                    "type": "objective-id",
                    "target-id": target_id(&c.framework, &c.id),
                    "title": c.source,
                    "status": status,
                },
                "related-observations": related,
            })
        })
        .collect();
    json!({
        "assessment-results": {
            "uuid": uuid(&[seed[0], seed[1], "assessment-results"]),
            "metadata": {
                "title": format!("bulwark evidence for {} ({})", ev.image, ev.digest),
                "last-modified": ev.generated,
                "version": ev.digest,
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {"href": "urn:bulwark:evidence:assessment-plan:v1"},
            "results": [{
                "uuid": uuid(&[seed[0], seed[1], "result"]),
                "title": format!("Evidence for {}", ev.image),
                "description": format!(
                    "Controls of CIS Docker Benchmark v1.6.0 section 4, DISA Container Platform SRG V2R4, NIST SP 800-53 Rev. 5 and SLSA v1.0 decided from the evidence bulwark verified for {} ({} platform(s)); docs/evidence.md gives each rule. Limits: fixes within {} days, scans at most {} days old, vulnerability databases at most {} days old.{}",
                    ev.digest,
                    ev.platforms.len(),
                    ev.parameters.patch_days,
                    ev.parameters.scan_max_age_days,
                    ev.parameters.db_max_age_days,
                    ev.policy.as_ref().map(|p| format!(
                        " Tailored by the evidence policy {} (sha256 {}, policy.yaml in the bundle): {}.",
                        p.origin,
                        p.sha256,
                        if p.tailored.is_empty() { "no control tailored".to_owned() } else { format!("tailored {}", p.tailored.join(", ")) }
                    )).unwrap_or_default()
                ),
                "start": ev.generated,
                "end": ev.generated,
                "reviewed-controls": {"control-selections": [{"include-all": {}}]},
                "observations": observations,
                "findings": findings,
            }],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_rfc_4122_and_ids_are_tokens() {
        let u = uuid(&["a", "b"]);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "5");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_eq!(u, uuid(&["a", "b"]));
        assert_ne!(u, uuid(&["ab", ""]));
        assert_eq!(target_id("CIS Docker Benchmark v1.6.0", "4.1"), "cis-4.1");
        assert_eq!(target_id("NIST SP 800-53 Rev. 5", "CM-7"), "cm-7");
        assert_eq!(target_id("SLSA v1.0", "Build L1"), "slsa-build-l1");
        assert_eq!(
            target_id(
                "DISA Container Platform SRG V2R4",
                "SRG-APP-000342-CTR-000775"
            ),
            "srg-app-000342-ctr-000775"
        );
    }
}
