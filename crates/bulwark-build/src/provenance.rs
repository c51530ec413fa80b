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

/// The SLSA v1 predicate for a build of `spec_path` from `lock`.
///
/// `sde` is the build's SOURCE_DATE_EPOCH; `inputs` the spec's local files
/// as the build read them (path relative to the spec, sha256 hex) — not
/// read again here, so the provenance names exactly the bytes in the image.
#[must_use]
pub fn provenance(
    spec_path: &Path,
    spec: &Spec,
    lock: &Lock,
    sde: i64,
    inputs: &[(String, String)],
) -> Value {
    let spec_bytes = std::fs::read(spec_path).unwrap_or_default();
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
    deps.extend(inputs.iter().map(|(rel, sha256)| {
        json!({
            "uri": format!("file:{rel}"),
            "digest": {"sha256": sha256},
        })
    }));
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
        "runDetails": run_details(
            &format!("urn:bulwark:build:{}", sha256_hex(format!("{}|{}|{sde}", sha256_hex(&spec_bytes), lock.spec_digest).as_bytes())),
            &time,
        ),
    })
}

/// SLSA `runDetails`: bulwark as the builder, the invocation id, and one
/// time (from `SOURCE_DATE_EPOCH`) as start and finish, so the statement is
/// as reproducible as the image.
#[must_use]
pub fn run_details(invocation_id: &str, time: &str) -> Value {
    json!({
        "builder": {
            "id": format!("urn:bulwark:builder:{}", env!("CARGO_PKG_VERSION")),
            "version": {"bulwark": env!("CARGO_PKG_VERSION")},
        },
        "metadata": {
            "invocationId": invocation_id,
            "startedOn": time,
            "finishedOn": time,
        },
    })
}

/// What an update replaced and fixed, as `bulwark update` knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRecord {
    /// The image this build replaces (`sha256:…`), when one was published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Where it was published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Packages changed, `name old → new` per architecture.
    pub packages_changed: Vec<String>,
    /// CVE ids the update fixes.
    pub cves_fixed: Vec<String>,
}

/// Adds `update` to a provenance predicate, under
/// `buildDefinition.internalParameters.update`: the new image's signed
/// provenance names the image it replaces and the CVEs it fixes, while the
/// image itself stays byte for byte what `bulwark build` makes of the same
/// lock.
pub fn record_update(provenance: &mut Value, update: &UpdateRecord) {
    if let Some(p) = provenance
        .pointer_mut("/buildDefinition/internalParameters")
        .and_then(Value::as_object_mut)
    {
        p.insert(
            "update".into(),
            serde_json::to_value(update).unwrap_or(Value::Null),
        );
    }
}
