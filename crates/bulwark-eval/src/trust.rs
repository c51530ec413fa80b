//! The provenance checks that need signatures: is the image signed, and do
//! its SBOM and SLSA provenance attestations verify under the given keys?

use bulwark_attest::Found;
use bulwark_image::{Object, Opened, Store};
use bulwark_sign::{PublicKey, Statement};
use serde::Serialize;

use crate::finding::{Finding, Severity};

/// What was found about an image's signatures (the `trust` object of the
/// JSON report).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trust {
    /// How many public keys signatures were checked against (0: none given,
    /// so nothing can verify).
    pub keys: usize,
    /// The digests searched: the reference's own (an index, say) and the
    /// evaluated platform's manifest.
    pub subjects: Vec<String>,
    /// Every signature and attestation found, verified or not.
    pub found: Vec<Found>,
    /// Why signatures could not be looked for (a docker archive or a root
    /// filesystem has nowhere to keep them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsearchable: Option<String>,
    /// The verified attestations' statements (for callers that read what
    /// they say, such as `bulwark evidence`).
    #[serde(skip)]
    pub statements: Vec<Statement>,
}

fn is_sbom(ptype: &str) -> bool {
    ptype.starts_with("https://spdx.dev/Document") || ptype.starts_with("https://cyclonedx.org/bom")
}

fn is_provenance(ptype: &str) -> bool {
    ptype.starts_with("https://slsa.dev/provenance/")
}

impl Trust {
    /// Looks for signatures and attestations of each of `subjects` in
    /// `store`, checking them against `keys`.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn gather(
        store: &Store,
        subjects: &[Object],
        keys: &[PublicKey],
    ) -> Result<Trust, bulwark_attest::Error> {
        let mut t = Trust {
            keys: keys.len(),
            ..Trust::default()
        };
        for s in subjects {
            if t.subjects.contains(&s.digest) {
                continue;
            }
            t.subjects.push(s.digest.clone());
            let r = bulwark_attest::verify(store, s, keys, &[])?;
            for f in r.found {
                if !t.found.contains(&f) {
                    t.found.push(f);
                }
            }
            for st in r.statements {
                if !t.statements.contains(&st) {
                    t.statements.push(st);
                }
            }
        }
        Ok(t)
    }

    /// Signatures and attestations of `img`, looked for where it was read
    /// from (the same store: nothing is opened twice). A layout keeps them
    /// in its index, a registry as referrers and tags; docker archives and
    /// root filesystems cannot hold any.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn of_image(img: &Opened, keys: &[PublicKey]) -> Result<Trust, bulwark_attest::Error> {
        let store = match img.store() {
            Ok(s) if s.holds_referrers() => s,
            Ok(_) => {
                return Ok(Trust::unsearchable(
                    keys.len(),
                    "a docker archive cannot carry signatures",
                ));
            }
            Err(_) => {
                return Ok(Trust::unsearchable(
                    keys.len(),
                    "a root filesystem cannot carry signatures",
                ));
            }
        };
        // One entry in index.json: the image alone, nothing can refer to it.
        if matches!(store, Store::Layout { .. } | Store::Tar { .. }) && img.index_entries <= 1 {
            return Ok(Trust {
                keys: keys.len(),
                subjects: img.manifest_digest.iter().cloned().collect(),
                ..Trust::default()
            });
        }
        Trust::gather(store, &img.subjects(), keys)
    }

    /// For images kept where signatures cannot be (docker archives, root
    /// filesystems).
    #[must_use]
    pub fn unsearchable(keys: usize, why: &str) -> Trust {
        Trust {
            keys,
            unsearchable: Some(why.to_owned()),
            ..Trust::default()
        }
    }

    /// True when a signature verified.
    #[must_use]
    pub fn signed(&self) -> bool {
        self.found
            .iter()
            .any(|f| f.kind == "signature" && f.verified)
    }

    /// True when an attestation of a predicate type matching `want` verified.
    #[must_use]
    pub fn attested(&self, want: &str) -> bool {
        self.found
            .iter()
            .any(|f| f.kind == "attestation" && f.verified && f.predicate_type == want)
    }

    pub(crate) fn findings(&self) -> Vec<Finding> {
        use crate::checks::provenance::{PR_004, PR_005, PR_006, PR_007};
        let mut out = Vec::new();
        let where_ = self
            .unsearchable
            .as_deref()
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        let sigs = self.found.iter().filter(|f| f.kind == "signature").count();
        let has = |p: fn(&str) -> bool, verified: bool| {
            self.found.iter().any(|f| {
                f.kind == "attestation" && p(&f.predicate_type) && (f.verified || !verified)
            })
        };
        if self.keys > 0 {
            for f in self.found.iter().filter(|f| !f.verified) {
                out.push(Finding::of(
                    &PR_005,
                    format!(
                        "{} {} ({}) does not verify: {}",
                        f.format, f.kind, f.predicate_type, f.problem
                    ),
                    Some(f.manifest.clone()),
                ));
            }
            if !self.signed() {
                out.push(Finding::of(
                    &PR_004,
                    format!(
                        "no signature verifies under the {} given key(s); {sigs} found{where_}",
                        self.keys
                    ),
                    None,
                ));
            }
            if !has(is_sbom, true) {
                out.push(Finding::of(
                    &PR_006,
                    "no SBOM attestation (SPDX or CycloneDX) verifies under the given keys".into(),
                    None,
                ));
            }
            if !has(is_provenance, true) {
                out.push(Finding::of(
                    &PR_007,
                    "no SLSA provenance attestation verifies under the given keys".into(),
                    None,
                ));
            }
        } else {
            if sigs == 0 {
                out.push(Finding::at(
                    &PR_004,
                    Severity::Medium,
                    format!("the image is not signed{where_}"),
                    None,
                ));
            } else {
                out.push(Finding::at(
                    &PR_004,
                    Severity::Info,
                    format!(
                        "{sigs} signature(s) found but not verified: pass the signer's public key with --key"
                    ),
                    None,
                ));
            }
            if !has(is_sbom, false) {
                out.push(Finding::at(
                    &PR_006,
                    Severity::Low,
                    format!("no SBOM attestation (SPDX or CycloneDX){where_}"),
                    None,
                ));
            }
            if !has(is_provenance, false) {
                out.push(Finding::at(
                    &PR_007,
                    Severity::Low,
                    format!("no SLSA provenance attestation{where_}"),
                    None,
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(kind: &'static str, ptype: &str, verified: bool) -> Found {
        Found {
            kind,
            format: "bundle",
            predicate_type: ptype.into(),
            manifest: "sha256:00".into(),
            verified,
            key: String::new(),
            problem: if verified {
                String::new()
            } else {
                "bad".into()
            },
        }
    }

    fn ids(t: &Trust) -> Vec<(&'static str, Severity)> {
        t.findings().iter().map(|f| (f.id, f.severity)).collect()
    }

    #[test]
    fn keys_make_missing_proof_serious() {
        let none = Trust::default();
        assert_eq!(
            ids(&none),
            [
                ("PR-004", Severity::Medium),
                ("PR-006", Severity::Low),
                ("PR-007", Severity::Low)
            ]
        );
        let all = Trust {
            keys: 1,
            found: vec![
                found("signature", "https://sigstore.dev/cosign/sign/v1", true),
                found("attestation", "https://spdx.dev/Document", true),
                found("attestation", "https://slsa.dev/provenance/v1", true),
            ],
            ..Trust::default()
        };
        assert!(ids(&all).is_empty());
        let forged = Trust {
            keys: 1,
            found: vec![
                found("signature", "https://sigstore.dev/cosign/sign/v1", false),
                found("attestation", "https://spdx.dev/Document", true),
            ],
            ..Trust::default()
        };
        assert_eq!(
            ids(&forged),
            [
                ("PR-005", Severity::High),
                ("PR-004", Severity::High),
                ("PR-007", Severity::Medium)
            ]
        );
        let unverified = Trust {
            found: vec![found("signature", "x", false)],
            ..Trust::default()
        };
        assert_eq!(ids(&unverified)[0], ("PR-004", Severity::Info));
    }
}
