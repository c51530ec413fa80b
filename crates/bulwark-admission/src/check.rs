//! Checking one image digest against one policy, on its registry: the
//! manifest or index is read by digest (bytes checked against it), the
//! signatures and attestations of the index and of every platform manifest
//! the policy requires are verified under the policy's keys (both cosign
//! formats), the conditions are read from the statements that verified, and
//! the user every platform's config runs as is checked when asked.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use bulwark_image::{Object, Store};
use bulwark_registry::{Registry, RegistryRef};

use crate::LoadedPolicy;
use crate::conditions::Evidence;

/// The answer for one (digest, policy).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// What verified (`sha256:… linux/amd64: signature, 2 attestations`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verified: Vec<String>,
    /// The registry could not be read (kept briefly, not as a finding).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub transient: bool,
}

impl Verdict {
    /// A failure to reach or read the registry.
    #[must_use]
    pub fn unreachable(reason: String) -> Self {
        Self {
            ok: false,
            reasons: vec![reason],
            verified: Vec::new(),
            transient: true,
        }
    }
}

/// What the decision engine asks of registries (a trait, so that decisions
/// can be tested without one).
pub trait Checker: Send + Sync + 'static {
    /// The digest `image` (a tag) names now.
    ///
    /// # Errors
    /// Not a registry reference, not found, or the registry cannot be read.
    fn resolve(&self, image: &str) -> Result<String, String>;
    /// Checks `digest` of `image` against `policy`.
    fn check(&self, image: &str, digest: &str, policy: &LoadedPolicy, now: i64) -> Verdict;
    /// Registry reads made and failed so far.
    fn counters(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// The registry checker: one client (connections reused) for every image.
#[derive(Debug)]
pub struct RegistryChecker {
    client: Arc<Registry>,
}

impl RegistryChecker {
    /// A checker with its own registry client.
    ///
    /// # Errors
    /// The client cannot be created.
    pub fn new(opts: bulwark_registry::Options) -> Result<Self, bulwark_registry::Error> {
        Ok(Self {
            client: Arc::new(Registry::new(opts)?),
        })
    }

    fn repo(image: &str) -> Result<RegistryRef, String> {
        let full = crate::normalize(image);
        full.parse::<RegistryRef>()
            .map_err(|e| format!("{image}: not a registry reference ({e})"))
    }
}

fn platform_of(d: &Value) -> String {
    let p = &d["platform"];
    let mut s = format!(
        "{}/{}",
        p["os"].as_str().unwrap_or("unknown"),
        p["architecture"].as_str().unwrap_or("unknown")
    );
    if let Some(v) = p["variant"].as_str().filter(|v| !v.is_empty()) {
        s = format!("{s}/{v}");
    }
    s
}

/// Whether a policy's platform names an index entry: exactly, or without
/// the variant (`linux/arm64` names `linux/arm64/v8`).
fn platform_matches(want: &str, have: &str) -> bool {
    want == have || (want.matches('/').count() == 1 && have.starts_with(&format!("{want}/")))
}

fn object_of(d: &Value) -> Option<Object> {
    Some(Object {
        media_type: d["mediaType"].as_str().unwrap_or_default().to_owned(),
        digest: d["digest"].as_str()?.to_owned(),
        size: d["size"].as_u64()?,
    })
}

/// By media type; a document without one is an index when it lists
/// manifests and has no config.
fn is_index(media_type: &str, doc: &Value) -> bool {
    media_type.contains("index")
        || media_type.contains("manifest.list")
        || (!media_type.contains("manifest")
            && doc["manifests"].is_array()
            && doc["config"].is_null())
}

/// Index entries checked at most (each is verified like the index).
const MAX_PLATFORMS: usize = 64;

impl Checker for RegistryChecker {
    fn resolve(&self, image: &str) -> Result<String, String> {
        let r = Self::repo(image)?;
        if let Some(d) = r.digest() {
            return Ok(d.to_owned());
        }
        self.client
            .get_manifest(&r)
            .map(|m| m.digest)
            .map_err(|e| format!("cannot resolve {image}: {e}"))
    }

    fn check(&self, image: &str, digest: &str, policy: &LoadedPolicy, now: i64) -> Verdict {
        match self.check_inner(image, digest, policy, now) {
            Ok(v) => v,
            Err(e) => Verdict::unreachable(format!("{image}@{digest}: {e}")),
        }
    }

    fn counters(&self) -> (u64, u64) {
        self.client.counters()
    }
}

impl RegistryChecker {
    fn check_inner(
        &self,
        image: &str,
        digest: &str,
        lp: &LoadedPolicy,
        now: i64,
    ) -> Result<Verdict, String> {
        let repo = Self::repo(image)?;
        let store = Store::Registry {
            client: self.client.clone(),
            repo: repo.clone(),
        };
        let (top, bytes) = store.fetch(Some(digest)).map_err(|e| e.to_string())?;
        let doc: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("the manifest is not JSON: {e}"))?;
        let mut reasons = Vec::new();
        // Subjects to verify: the index (or the single manifest), then the
        // platforms the policy requires; configs of every platform.
        let mut subjects = vec![(top.clone(), "index".to_owned())];
        let mut configs = Vec::new();
        if is_index(&top.media_type, &doc) {
            let entries = doc["manifests"].as_array().cloned().unwrap_or_default();
            if entries.len() > MAX_PLATFORMS {
                return Ok(Verdict {
                    ok: false,
                    reasons: vec![format!(
                        "the index lists {} manifests, more than the {MAX_PLATFORMS} checked",
                        entries.len()
                    )],
                    verified: Vec::new(),
                    transient: false,
                });
            }
            let mut platforms: Vec<(String, Object)> = Vec::new();
            for d in &entries {
                // Attestation manifests (BuildKit's unknown/unknown) are not
                // run; anything else, with a platform or without, may be.
                if d["platform"]["os"].as_str() == Some("unknown") {
                    continue;
                }
                let Some(o) = object_of(d) else {
                    reasons.push("an index entry has no valid digest and size".to_owned());
                    continue;
                };
                if o.media_type.contains("index") || o.media_type.contains("manifest.list") {
                    reasons.push(format!(
                        "the index nests another index ({}); nested indexes are not admitted",
                        o.digest
                    ));
                    continue;
                }
                platforms.push((platform_of(d), o));
            }
            if platforms.is_empty() {
                reasons.push("the index lists no platform manifest".to_owned());
            }
            let wanted: Vec<&(String, Object)> = match &lp.policy.platforms {
                None => platforms.iter().collect(),
                Some(list) => {
                    for want in list {
                        if !platforms.iter().any(|(p, _)| platform_matches(want, p)) {
                            reasons.push(format!(
                                "platform {want} is not in the index (it has {})",
                                platforms
                                    .iter()
                                    .map(|(p, _)| p.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                        }
                    }
                    platforms
                        .iter()
                        // An entry without a platform matches every node.
                        .filter(|(p, _)| {
                            p == "unknown/unknown" || list.iter().any(|w| platform_matches(w, p))
                        })
                        .collect()
                }
            };
            subjects.extend(wanted.into_iter().map(|(p, o)| (o.clone(), p.clone())));
            if lp.policy.conditions.non_root {
                for (p, o) in &platforms {
                    let m = store
                        .read_small(o)
                        .map_err(|e| format!("{p} manifest: {e}"))?;
                    configs.push(config_of(&store, &m).map_err(|e| format!("{p}: {e}"))?);
                }
            }
        } else {
            subjects[0].1 = "manifest".to_owned();
            if lp.policy.conditions.non_root {
                configs.push(config_of(&store, &bytes)?);
            }
        }
        // The index and each platform are verified in parallel, each reading
        // only the referrers the policy needs.
        let reports: Vec<Result<bulwark_attest::Report, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = subjects
                .iter()
                .map(|(subject, _)| {
                    let store = &store;
                    scope.spawn(move || {
                        bulwark_attest::verify_needed(
                            store,
                            subject,
                            &lp.keys,
                            &lp.required,
                            &lp.reads,
                            lp.policy.conditions.reads_statements(),
                        )
                        .map_err(|e| e.to_string())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("the verification failed".into()))
                })
                .collect()
        });
        let mut statements: Vec<Vec<bulwark_sign::Statement>> = Vec::new();
        let mut verified = Vec::new();
        for ((subject, label), r) in subjects.iter().zip(reports) {
            let r = r?;
            let sigs = r
                .found
                .iter()
                .filter(|f| f.verified && f.kind == "signature")
                .count();
            let atts = r
                .found
                .iter()
                .filter(|f| f.verified && f.kind == "attestation")
                .count();
            if sigs == 0 {
                let why = if r.found.iter().any(|f| f.kind == "signature") {
                    let problems: Vec<&str> = r
                        .found
                        .iter()
                        .filter(|f| f.kind == "signature")
                        .map(|f| f.problem.as_str())
                        .collect();
                    format!(
                        "no signature verifies with the policy's {} key(s) ({})",
                        lp.keys.len(),
                        problems.join("; ")
                    )
                } else {
                    "not signed".to_owned()
                };
                reasons.push(format!("{label} {}: {why}", subject.digest));
            }
            for m in &r.missing {
                reasons.push(format!(
                    "{label} {}: no verified {m} attestation",
                    subject.digest
                ));
            }
            verified.push(format!(
                "{label} {}: {sigs} signature(s), {atts} attestation(s)",
                subject.digest
            ));
            statements.push(r.statements);
        }
        reasons.extend(condition_failures(
            &lp.policy.conditions,
            &statements,
            &configs,
            now,
        ));
        Ok(Verdict {
            ok: reasons.is_empty(),
            reasons,
            verified,
            transient: false,
        })
    }
}

/// Conditions hold for what each platform runs: its own statements with the
/// index's (`per_subject[0]`); a clean report for one platform says nothing
/// of another. With the index alone, the index's.
fn condition_failures(
    conditions: &crate::conditions::Conditions,
    per_subject: &[Vec<bulwark_sign::Statement>],
    configs: &[Value],
    now: i64,
) -> Vec<String> {
    let groups: Vec<Vec<bulwark_sign::Statement>> = match per_subject {
        [index, platforms @ ..] if !platforms.is_empty() => platforms
            .iter()
            .map(|p| index.iter().chain(p).cloned().collect())
            .collect(),
        _ => per_subject.to_vec(),
    };
    let mut failed = Vec::new();
    for g in &groups {
        for f in conditions.failures(&Evidence {
            statements: g,
            configs,
            now,
        }) {
            if !failed.contains(&f) {
                failed.push(f);
            }
        }
    }
    failed
}

/// The config of the manifest `bytes`, read by digest.
fn config_of(store: &Store, manifest: &[u8]) -> Result<Value, String> {
    let m: Value =
        serde_json::from_slice(manifest).map_err(|e| format!("the manifest is not JSON: {e}"))?;
    let o = object_of(&m["config"]).ok_or("the manifest names no config")?;
    let bytes = store.read_small(&o).map_err(|e| format!("config: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the config is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_platform_answers_for_itself() {
        let c: crate::conditions::Conditions =
            serde_saphyr::from_str("vulnerabilities: {max-priority: plan}").unwrap();
        let vuln = |findings: Value, when: &str| {
            bulwark_sign::Statement::new(
                "r",
                "sha256:00",
                "https://cosign.sigstore.dev/attestation/vuln/v1",
                json!({"scanner": {"result": {"findings": findings}}, "metadata": {"scanFinishedOn": when}}),
            )
        };
        let kev = vuln(
            json!([{"id": "CVE-1", "priority": "act-now", "kev": {}}]),
            "2026-12-01T00:00:00Z",
        );
        let clean = vuln(json!([]), "2026-12-02T00:00:00Z");
        let now = bulwark_debian::time::parse_rfc3339("2026-12-02T12:00:00Z").unwrap();
        // amd64 has the KEV, arm64 a newer clean report: amd64 still fails.
        let f = condition_failures(
            &c,
            &[vec![], vec![kev.clone()], vec![clean.clone()]],
            &[],
            now,
        );
        assert!(f.iter().any(|r| r.contains("CVE-1")), "{f:?}");
        // A report from the future cannot outrank the real one.
        let future = vuln(json!([]), "2030-01-01T00:00:00Z");
        let f = condition_failures(&c, &[vec![kev, future]], &[], now);
        assert!(f.iter().any(|r| r.contains("CVE-1")), "{f:?}");
        assert!(condition_failures(&c, &[vec![clean]], &[], now).is_empty());
        assert!(platform_matches("linux/arm64", "linux/arm64/v8"));
        assert!(!platform_matches("linux/arm", "linux/arm64"));
    }
}
