//! SLSA v1 provenance of a build: what went in (the spec, every verified
//! .deb, the signed indexes, local files) and who built it, with times
//! taken from SOURCE_DATE_EPOCH so the statement is as reproducible as the
//! image.

use std::path::Path;

use bulwark_spec::{Lock, Spec};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// bulwark's build type (a URN: it names a recipe, not a place).
pub const BUILD_TYPE: &str = "urn:bulwark:buildtype:debian-image:v1";
/// The predicate type of SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Hashes of the spec's local inputs (files and directory trees), sorted.
fn local_inputs(spec: &Spec, base: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for f in &spec.files {
        let root = base.join(&f.src);
        let mut stack = vec![(root.clone(), f.src.clone())];
        while let Some((p, rel)) = stack.pop() {
            if p.is_dir() {
                if let Ok(rd) = std::fs::read_dir(&p) {
                    let mut names: Vec<_> =
                        rd.filter_map(Result::ok).map(|e| e.file_name()).collect();
                    names.sort();
                    for n in names.into_iter().rev() {
                        let name = n.to_string_lossy().to_string();
                        stack.push((p.join(&n), format!("{}/{name}", rel.trim_end_matches('/'))));
                    }
                }
            } else if let Ok(data) = std::fs::read(&p) {
                out.push(json!({
                    "uri": format!("file:{rel}"),
                    "digest": {"sha256": sha256_hex(&data)},
                }));
            }
        }
    }
    out
}

/// The SLSA v1 predicate for a build of `spec_path` from `lock`.
///
/// `image` is the digest built; `sde` the build's SOURCE_DATE_EPOCH.
#[must_use]
pub fn provenance(spec_path: &Path, spec: &Spec, lock: &Lock, sde: i64) -> Value {
    let spec_bytes = std::fs::read(spec_path).unwrap_or_default();
    let base = spec_path.parent().unwrap_or(Path::new("."));
    let mut deps = Vec::new();
    for s in &lock.suites {
        deps.push(json!({
            "uri": s.inrelease.url,
            "digest": {"sha256": s.inrelease.sha256},
            "annotations": {"signer": s.signer, "suite": s.suite},
        }));
        for i in &s.indexes {
            deps.push(json!({"uri": i.url, "digest": {"sha256": i.sha256}}));
        }
    }
    for (arch, a) in &lock.archs {
        for p in &a.packages {
            deps.push(json!({
                "uri": format!("{}/{}", p.uri.trim_end_matches('/'), p.filename),
                "name": format!("{}_{}_{}.deb", p.name, p.version, p.arch),
                "digest": {"sha256": p.sha256},
                "annotations": {"platform": arch, "suite": p.suite},
            }));
        }
    }
    deps.extend(local_inputs(spec, base));
    let time = bulwark_debian::time::format_rfc3339(sde);
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "spec": {
                    "path": spec_path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
                    "digest": {"sha256": sha256_hex(&spec_bytes)},
                    "content": String::from_utf8_lossy(&spec_bytes),
                },
                "archs": spec.archs,
            },
            "internalParameters": {
                "sourceDateEpoch": sde,
                "lock": {"specDigest": lock.spec_digest, "generatedBy": lock.generated_by},
            },
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {
                "id": format!("urn:bulwark:builder:{}", env!("CARGO_PKG_VERSION")),
                "version": {"bulwark": env!("CARGO_PKG_VERSION")},
            },
            "metadata": {
                "invocationId": format!("urn:bulwark:build:{}", sha256_hex(format!("{}|{}|{sde}", sha256_hex(&spec_bytes), lock.spec_digest).as_bytes())),
                "startedOn": time,
                "finishedOn": time,
            },
        },
    })
}
