//! Signatures and attestations attached to images, as cosign 3 attaches them.
//!
//! Two formats, both readable and writable:
//! - **bundle** (cosign 3's default): a Sigstore bundle v0.3 holding a DSSE
//!   envelope of an in-toto statement, stored as an OCI 1.1 referrer of the
//!   image (a manifest with `subject`), found through the referrers API or
//!   the `sha256-<hex>` fallback index;
//! - **legacy**: `sha256-<hex>.sig` (simple-signing payloads, signature in a
//!   layer annotation) and `sha256-<hex>.att` (DSSE envelopes) tags, which
//!   policy-controller and sigstore-rs read.
//!
//! [`verify`] fails closed: it reports what verified and what did not, and
//! is an error unless at least one signature and every required
//! attestation verify under the given keys for exactly this image digest.
//!
//! ```
//! use bulwark_image::{Options, Target};
//!
//! // A one-blob image in a new layout.
//! let dir = tempfile::tempdir().unwrap();
//! let r = format!("oci:{}:v1", dir.path().join("img").display()).parse()?;
//! let t = Target::open(&r, &Options::default())?;
//! let config = t.store.put_blob(b"{}")?;
//! let manifest = format!(
//!     r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{config}","size":2}},"layers":[]}}"#,
//!     bulwark_oci::MEDIA_TYPE_MANIFEST,
//!     bulwark_oci::MEDIA_TYPE_CONFIG,
//! );
//! let subject = t.store.put_manifest(manifest.as_bytes(), bulwark_oci::MEDIA_TYPE_MANIFEST, Some("v1"))?;
//!
//! let key = bulwark_sign::PrivateKey::generate();
//! bulwark_attest::sign(&t.store, &subject, &key, bulwark_attest::Format::Both, "2026-01-01T00:00:00Z")?;
//! let report = bulwark_attest::verify(&t.store, &subject, &[key.public_key()], &[])?;
//! assert!(report.ok);
//! // Another key verifies nothing.
//! let other = bulwark_sign::PrivateKey::generate().public_key();
//! assert!(!bulwark_attest::verify(&t.store, &subject, &[other], &[])?.ok);
//! # Ok::<(), bulwark_attest::Error>(())
//! ```

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bulwark_image::{Object, Store, digest_tag};
use bulwark_oci::Descriptor;
use bulwark_sign::{
    BUNDLE_MEDIA_TYPE, Bundle, COSIGN_SIGN_PREDICATE, Envelope, INTOTO_PAYLOAD_TYPE, PrivateKey,
    PublicKey, SimpleSigning, Statement,
};
use serde::Serialize;
use serde_json::{Value, json};

/// Media type of the empty config `{}`.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Layer media type of cosign's legacy signatures.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Layer media type of cosign's legacy attestations.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
const SIG_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// Where signatures go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Sigstore bundle as an OCI 1.1 referrer (cosign 3's default).
    Bundle,
    /// `.sig`/`.att` tags (cosign 2 and policy-controller).
    Legacy,
    /// Both.
    Both,
}

/// A signature format name that is not `bundle`, `legacy` or `both`.
#[derive(Debug, thiserror::Error)]
#[error("unknown signature format {0:?}; use bundle, legacy or both")]
pub struct UnknownFormat(pub String);

impl std::str::FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        match s {
            "bundle" => Ok(Self::Bundle),
            "legacy" => Ok(Self::Legacy),
            "both" => Ok(Self::Both),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

impl Format {
    fn bundle(self) -> bool {
        matches!(self, Self::Bundle | Self::Both)
    }
    fn legacy(self) -> bool {
        matches!(self, Self::Legacy | Self::Both)
    }
}

/// Predicate type of an SPDX 3 document (in-toto's SPDX predicate, whose
/// URI carries the SPDX version; SPDX 2 keeps cosign's
/// `https://spdx.dev/Document`).
pub const SPDX3_PREDICATE: &str = "https://spdx.dev/Document/v3.0";

/// Predicate type of bulwark's eval report (`bulwark eval --attest`).
pub const EVAL_PREDICATE: &str = "urn:bulwark:predicate:eval:v1";

/// Predicate type of bulwark's compliance evidence summary (`bulwark
/// evidence --attest`).
pub const EVIDENCE_PREDICATE: &str = "urn:bulwark:predicate:evidence:v1";

/// Maps cosign's `--type` names to predicate type URIs (a URI passes
/// through), plus bulwark's own `eval` and `evidence`.
#[must_use]
pub fn predicate_type(name: &str) -> Option<&str> {
    Some(match name {
        "spdx" | "spdxjson" => "https://spdx.dev/Document",
        // The in-toto SPDX predicate with the SPDX version in its URI.
        "spdx3" => SPDX3_PREDICATE,
        "cyclonedx" => "https://cyclonedx.org/bom",
        "slsa-provenance" | "slsaprovenance" | "slsaprovenance1" | "slsaprovenance1.0" => {
            "https://slsa.dev/provenance/v1"
        }
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "openvex" => "https://openvex.dev/ns",
        "custom" => "https://cosign.sigstore.dev/attestation/v1",
        "eval" => EVAL_PREDICATE,
        "evidence" => EVIDENCE_PREDICATE,
        uri if uri.contains("://") || uri.starts_with("urn:") => uri,
        _ => return None,
    })
}

/// Why signing or verification failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Store failure.
    #[error(transparent)]
    Store(#[from] bulwark_image::Error),
    /// Verification failed (the report says what was found).
    #[error("{0}")]
    Verification(String),
}

/// Fails closed where signatures would be silently dropped.
fn holds_referrers(store: &Store) -> Result<(), Error> {
    if store.holds_referrers() {
        Ok(())
    } else {
        Err(Error::Verification(format!(
            "{}: a docker archive cannot carry signatures, attestations or SBOMs; use oci:, oci-archive: or a registry",
            store.origin()
        )))
    }
}

fn subject_json(subject: &Object) -> Value {
    json!({"mediaType": subject.media_type, "size": subject.size, "digest": subject.digest})
}

fn empty_config(store: &Store) -> Result<Object, Error> {
    let digest = store.put_blob(b"{}")?;
    Ok(Object {
        media_type: EMPTY_MEDIA_TYPE.into(),
        digest,
        size: 2,
    })
}

/// Stores `statement`, signed into a bundle, as a referrer of `subject`.
fn attach_bundle(
    store: &Store,
    subject: &Object,
    key: &PrivateKey,
    statement: &Statement,
    created: &str,
) -> Result<String, Error> {
    let bundle = Bundle::sign(key, statement);
    let bytes = serde_json::to_vec(&bundle).unwrap_or_default();
    let layer = store.put_blob(&bytes)?;
    let config = empty_config(store)?;
    // Field order as cosign 3 writes it.
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": bulwark_oci::MEDIA_TYPE_MANIFEST,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "size": 2, "digest": config.digest, "artifactType": BUNDLE_MEDIA_TYPE},
        "layers": [{"mediaType": BUNDLE_MEDIA_TYPE, "size": bytes.len(), "digest": layer}],
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": statement.predicate_type,
            "org.opencontainers.image.created": created,
        },
        "subject": subject_json(subject),
        "artifactType": BUNDLE_MEDIA_TYPE,
    });
    // cosign 3 records the config media type in the fallback index; the
    // predicate type goes there too (the referrers list carries a
    // referrer's annotations), so a verifier can skip what it does not need.
    put_referrer(
        store,
        subject,
        &manifest,
        EMPTY_MEDIA_TYPE,
        BTreeMap::from([(
            BUNDLE_PREDICATE_ANNOTATION.to_owned(),
            statement.predicate_type.clone(),
        )]),
    )
}

/// Stores `manifest` (whose `subject` is `subject`) and indexes it among
/// the subject's referrers with `artifact_type`.
fn put_referrer(
    store: &Store,
    subject: &Object,
    manifest: &Value,
    artifact_type: &str,
    annotations: BTreeMap<String, String>,
) -> Result<String, Error> {
    let mbytes = serde_json::to_vec(manifest).unwrap_or_default();
    let m = store.put_manifest(&mbytes, bulwark_oci::MEDIA_TYPE_MANIFEST, None)?;
    store.add_referrer(
        &subject.digest,
        Descriptor {
            media_type: m.media_type,
            digest: m.digest.clone(),
            size: m.size,
            platform: None,
            annotations,
            artifact_type: Some(artifact_type.into()),
        },
    )?;
    Ok(m.digest)
}

/// Attaches `document` to `subject` as an unsigned OCI 1.1 artifact, the way
/// `oras attach --artifact-type TYPE` does: empty config, one layer of
/// `artifact_type` named `file_name` (the `org.opencontainers.image.title`
/// annotation `oras pull` saves it under), the same `artifactType`, and
/// `subject`. `annotations` go on the manifest (with
/// `org.opencontainers.image.created`). Anyone can
/// read such a document; nobody should trust it without a signature, and
/// [`verify`] never counts one.
///
/// # Errors
/// The store cannot be written.
pub fn attach_unsigned(
    store: &Store,
    subject: &Object,
    artifact_type: &str,
    file_name: &str,
    document: &[u8],
    mut annotations: BTreeMap<String, String>,
    created: &str,
) -> Result<String, Error> {
    holds_referrers(store)?;
    let layer = store.put_blob(document)?;
    let config = empty_config(store)?;
    annotations.insert("org.opencontainers.image.created".into(), created.into());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": bulwark_oci::MEDIA_TYPE_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "size": 2, "digest": config.digest},
        "layers": [{
            "mediaType": artifact_type,
            "size": document.len(),
            "digest": layer,
            "annotations": {"org.opencontainers.image.title": file_name},
        }],
        "subject": subject_json(subject),
        "annotations": annotations,
    });
    put_referrer(store, subject, &manifest, artifact_type, BTreeMap::new())
}

/// Adds one layer to the legacy `.sig`/`.att` manifest of `subject`.
fn attach_legacy(
    store: &Store,
    subject: &Object,
    suffix: &str,
    layer_media_type: &str,
    payload: &[u8],
    annotations: BTreeMap<String, String>,
) -> Result<String, Error> {
    let tag = digest_tag(&subject.digest, suffix);
    let mut layers: Vec<Value> = match store.find_tag(&tag)? {
        Some((_, bytes)) => serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("layers").cloned())
            .and_then(|l| l.as_array().cloned())
            .unwrap_or_default(),
        None => vec![],
    };
    let digest = store.put_blob(payload)?;
    let layer = json!({"mediaType": layer_media_type, "size": payload.len(), "digest": digest, "annotations": annotations});
    if !layers.contains(&layer) {
        layers.push(layer);
    }
    let diff_ids: Vec<Value> = layers.iter().map(|l| l["digest"].clone()).collect();
    let config = json!({
        "architecture": "", "created": "0001-01-01T00:00:00Z",
        "history": diff_ids.iter().map(|_| json!({"created": "0001-01-01T00:00:00Z"})).collect::<Vec<_>>(),
        "os": "", "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {},
    });
    let cbytes = serde_json::to_vec(&config).unwrap_or_default();
    let cdigest = store.put_blob(&cbytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": bulwark_oci::MEDIA_TYPE_MANIFEST,
        "config": {"mediaType": bulwark_oci::MEDIA_TYPE_CONFIG, "size": cbytes.len(), "digest": cdigest},
        "layers": layers,
    });
    let mbytes = serde_json::to_vec(&manifest).unwrap_or_default();
    Ok(store
        .put_manifest(&mbytes, bulwark_oci::MEDIA_TYPE_MANIFEST, Some(&tag))?
        .digest)
}

/// Signs the image `subject` in `store` (cosign's `sign --key`).
/// `identity` is the repository recorded in legacy payloads.
///
/// # Errors
/// Store failures.
pub fn sign(
    store: &Store,
    subject: &Object,
    key: &PrivateKey,
    format: Format,
    created: &str,
) -> Result<Vec<String>, Error> {
    holds_referrers(store)?;
    let mut out = Vec::new();
    if format.bundle() {
        let mut st = Statement::new("", &subject.digest, COSIGN_SIGN_PREDICATE, json!({}));
        for s in &mut st.subject {
            s.annotations = Some(BTreeMap::new());
        }
        out.push(attach_bundle(store, subject, key, &st, created)?);
    }
    if format.legacy() {
        let payload = SimpleSigning::new(&store.identity(), &subject.digest).to_bytes();
        let sig = B64.encode(key.sign(&payload));
        out.push(attach_legacy(
            store,
            subject,
            ".sig",
            SIMPLE_SIGNING_MEDIA_TYPE,
            &payload,
            BTreeMap::from([(SIG_ANNOTATION.to_string(), sig)]),
        )?);
    }
    Ok(out)
}

/// Attaches `predicate` of `predicate_type` as a signed attestation of `subject`.
///
/// # Errors
/// Store failures.
pub fn attest(
    store: &Store,
    subject: &Object,
    key: &PrivateKey,
    predicate_type: &str,
    predicate: Value,
    format: Format,
    created: &str,
) -> Result<Vec<String>, Error> {
    holds_referrers(store)?;
    let st = Statement::new(
        &store.identity(),
        &subject.digest,
        predicate_type,
        predicate,
    );
    let mut out = Vec::new();
    if format.bundle() {
        out.push(attach_bundle(store, subject, key, &st, created)?);
    }
    if format.legacy() {
        let env = Envelope::sign(key, INTOTO_PAYLOAD_TYPE, &st.to_bytes());
        let bytes = serde_json::to_vec(&env).unwrap_or_default();
        out.push(attach_legacy(
            store,
            subject,
            ".att",
            DSSE_MEDIA_TYPE,
            &bytes,
            BTreeMap::from([
                (SIG_ANNOTATION.to_string(), String::new()),
                ("predicateType".to_string(), predicate_type.to_string()),
            ]),
        )?);
    }
    Ok(out)
}

/// One signature or attestation found on an image.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Found {
    /// `signature` or `attestation`.
    pub kind: &'static str,
    /// `bundle` or `legacy`.
    pub format: &'static str,
    /// Predicate type (the cosign sign predicate or simple-signing for signatures).
    pub predicate_type: String,
    /// Where it was found (manifest digest).
    pub manifest: String,
    /// True if it verified under a given key and names this image.
    pub verified: bool,
    /// Which given key verified it: its fingerprint (base64 of the SHA-256
    /// of its DER public key, the key id cosign's bundles carry).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub problem: String,
}

/// What [`verify`] found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The image digest verified.
    pub subject: String,
    /// Everything found.
    pub found: Vec<Found>,
    /// Required attestation types that had no verified attestation.
    pub missing: Vec<String>,
    /// True when a signature and every required attestation verified.
    pub ok: bool,
    /// Verified statements by predicate type (for callers that read predicates).
    #[serde(skip)]
    pub statements: Vec<Statement>,
}

fn check_statement(st: &Statement, subject: &str) -> Result<(), String> {
    if st.is_about(subject) {
        Ok(())
    } else {
        let names: Vec<String> = st
            .subject
            .iter()
            .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
            .collect();
        Err(format!(
            "signed for another image ({}), not {subject}",
            names.join(", ")
        ))
    }
}

/// Which bundle referrers a verification reads.
#[derive(Clone, Copy)]
enum Wanted<'a> {
    /// Every one (a full report).
    All,
    /// Signatures and these predicate types only.
    Only(&'a [String]),
}

impl Wanted<'_> {
    fn wants(&self, predicate_type: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(types) => {
                predicate_type == COSIGN_SIGN_PREDICATE || types.iter().any(|t| t == predicate_type)
            }
        }
    }
}

/// Referrers [`verify_needed`] reads at most.
pub const MAX_REFERRERS: usize = 256;

const BUNDLE_PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";

/// Reads and checks one bundle referrer; `None` when it is not a bundle or
/// not wanted.
fn check_bundle(
    store: &Store,
    r: &Descriptor,
    subject: &Object,
    keys: &[PublicKey],
    wanted: Wanted<'_>,
) -> Option<(Found, Option<Statement>)> {
    // The referrers list may already say what it is.
    if let Some(t) = r.annotations.get(BUNDLE_PREDICATE_ANNOTATION)
        && !wanted.wants(t)
    {
        return None;
    }
    let bytes = store.read_small(&Object::from(r)).ok()?;
    let m = serde_json::from_slice::<Value>(&bytes).ok()?;
    let layer = m["layers"].as_array().and_then(|l| l.first())?;
    if layer["mediaType"].as_str() != Some(BUNDLE_MEDIA_TYPE) {
        return None;
    }
    let ptype = m["annotations"][BUNDLE_PREDICATE_ANNOTATION]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // An unannotated bundle may be anything: read it.
    if !ptype.is_empty() && !wanted.wants(&ptype) {
        return None;
    }
    let mut f = Found {
        kind: if ptype == COSIGN_SIGN_PREDICATE {
            "signature"
        } else {
            "attestation"
        },
        format: "bundle",
        predicate_type: ptype,
        manifest: r.digest.clone(),
        verified: false,
        key: String::new(),
        problem: String::new(),
    };
    let obj = Object {
        media_type: BUNDLE_MEDIA_TYPE.into(),
        digest: layer["digest"].as_str().unwrap_or_default().to_string(),
        size: layer["size"].as_u64().unwrap_or_default(),
    };
    let result = store
        .read_small(&obj)
        .map_err(|e| e.to_string())
        .and_then(|b| {
            serde_json::from_slice::<Bundle>(&b).map_err(|e| format!("not a Sigstore bundle: {e}"))
        })
        .and_then(|b| {
            let (st, key) = by_key(keys, |k| b.verify(k)).map_err(|e| e.to_string())?;
            f.key = key;
            Ok(st)
        })
        .and_then(|st| check_statement(&st, &subject.digest).map(|()| st));
    match result {
        Ok(st) => {
            f.kind = if st.predicate_type == COSIGN_SIGN_PREDICATE {
                "signature"
            } else {
                "attestation"
            };
            f.predicate_type.clone_from(&st.predicate_type);
            f.verified = true;
            Some((f, Some(st)))
        }
        Err(e) => {
            f.problem = e;
            Some((f, None))
        }
    }
}

/// `verify` tried with each of `keys` alone, once each, so that the key
/// that verifies is known without verifying again: its result and the
/// key's fingerprint. When none verifies, the error of `verify` over all
/// of them (which names how many were given).
fn by_key<T, E>(
    keys: &[PublicKey],
    verify: impl Fn(&[PublicKey]) -> Result<T, E>,
) -> Result<(T, String), E> {
    for k in keys {
        if let Ok(v) = verify(std::slice::from_ref(k)) {
            return Ok((v, k.hint()));
        }
    }
    verify(keys).map(|v| (v, String::new()))
}

/// Reads and checks cosign's legacy `.sig` and `.att` tags of `subject`.
fn check_legacy(
    store: &Store,
    subject: &Object,
    keys: &[PublicKey],
) -> Result<Vec<(Found, Option<Statement>)>, Error> {
    let mut out = Vec::new();
    for (suffix, kind) in [(".sig", "signature"), (".att", "attestation")] {
        let Some((o, bytes)) = store.find_tag(&digest_tag(&subject.digest, suffix))? else {
            continue;
        };
        let m: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        for layer in m["layers"].as_array().into_iter().flatten() {
            let lobj = Object {
                media_type: layer["mediaType"].as_str().unwrap_or_default().to_string(),
                digest: layer["digest"].as_str().unwrap_or_default().to_string(),
                size: layer["size"].as_u64().unwrap_or_default(),
            };
            let mut f = Found {
                kind,
                format: "legacy",
                predicate_type: layer["annotations"]["predicateType"]
                    .as_str()
                    .unwrap_or(if kind == "signature" {
                        "cosign container image signature"
                    } else {
                        ""
                    })
                    .to_string(),
                manifest: o.digest.clone(),
                verified: false,
                key: String::new(),
                problem: String::new(),
            };
            let payload = match store.read_small(&lobj) {
                Ok(p) => p,
                Err(e) => {
                    f.problem = e.to_string();
                    out.push((f, None));
                    continue;
                }
            };
            let result = if kind == "signature" {
                let sig = layer["annotations"][SIG_ANNOTATION]
                    .as_str()
                    .unwrap_or_default();
                let signer = B64
                    .decode(sig)
                    .map(|sig| keys.iter().find(|k| k.verify(&payload, &sig)));
                match signer {
                    Ok(Some(k)) => {
                        f.key = k.hint();
                        SimpleSigning::parse(&payload)
                            .map_err(|e| e.to_string())
                            .and_then(|ss| {
                                if ss.critical.image.docker_manifest_digest == subject.digest {
                                    Ok(None)
                                } else {
                                    Err(format!(
                                        "signed for another image ({}), not {}",
                                        ss.critical.image.docker_manifest_digest, subject.digest
                                    ))
                                }
                            })
                    }
                    Ok(None) => Err(format!(
                        "signature does not verify with the {} given key(s)",
                        keys.len()
                    )),
                    Err(_) => Err("signature annotation is not base64".to_string()),
                }
            } else {
                serde_json::from_slice::<Envelope>(&payload)
                    .map_err(|e| format!("not a DSSE envelope: {e}"))
                    .and_then(|env| {
                        let (st, key) = by_key(keys, |k| bulwark_sign::verify_statement(&env, k))
                            .map_err(|e| e.to_string())?;
                        f.key = key;
                        Ok(st)
                    })
                    .and_then(|st| check_statement(&st, &subject.digest).map(|()| Some(st)))
            };
            match result {
                Ok(st) => {
                    f.verified = true;
                    if let Some(st) = &st {
                        f.predicate_type.clone_from(&st.predicate_type);
                    }
                    out.push((f, st));
                }
                Err(e) => {
                    f.problem = e;
                    out.push((f, None));
                }
            }
        }
    }
    Ok(out)
}

fn report(subject: &Object, items: Vec<(Found, Option<Statement>)>, required: &[String]) -> Report {
    let mut found = Vec::new();
    let mut statements = Vec::new();
    for (f, st) in items {
        found.push(f);
        statements.extend(st);
    }
    let signed = found.iter().any(|f| f.verified && f.kind == "signature");
    let missing: Vec<String> = required
        .iter()
        .filter(|t| {
            !found
                .iter()
                .any(|f| f.verified && f.kind == "attestation" && &f.predicate_type == *t)
        })
        .cloned()
        .collect();
    Report {
        subject: subject.digest.clone(),
        ok: signed && missing.is_empty(),
        found,
        missing,
        statements,
    }
}

/// Finds every signature and attestation of `subject` in `store` and checks
/// them against `keys`. `required` lists predicate types that must have a
/// verified attestation.
///
/// # Errors
/// Store failures; a failed verification is a `Report` with `ok == false`.
pub fn verify(
    store: &Store,
    subject: &Object,
    keys: &[PublicKey],
    required: &[String],
) -> Result<Report, Error> {
    let mut items: Vec<_> = store
        .referrers(&subject.digest)?
        .iter()
        .filter_map(|r| check_bundle(store, r, subject, keys, Wanted::All))
        .collect();
    items.extend(check_legacy(store, subject, keys)?);
    Ok(report(subject, items, required))
}

/// Like [`verify`], reading only what the answer needs, as an admission
/// check does: bundle referrers that are signatures or one of `wanted`
/// (which includes `required`; others are skipped once their manifest, or
/// the referrers list, names their predicate type), read in parallel;
/// cosign's legacy tags only when the bundles leave a signature or a
/// required attestation missing, or when `every_statement` (conditions
/// that read statements must see all of them). The report lists what was
/// read, not everything attached.
///
/// # Errors
/// Store failures; a failed verification is a `Report` with `ok == false`.
pub fn verify_needed(
    store: &Store,
    subject: &Object,
    keys: &[PublicKey],
    required: &[String],
    wanted: &[String],
    every_statement: bool,
) -> Result<Report, Error> {
    let referrers = store.referrers(&subject.digest)?;
    // Anyone who can push can attach referrers; a flood is refused rather
    // than read (fail closed, and the registry is spared).
    if referrers.len() > MAX_REFERRERS {
        return Err(Error::Verification(format!(
            "{}: {} referrers, more than the {MAX_REFERRERS} an admission check reads",
            subject.digest,
            referrers.len()
        )));
    }
    let mut all: Vec<String> = required.to_vec();
    all.extend(wanted.iter().cloned());
    let wanted = Wanted::Only(&all);
    let mut items: Vec<(Found, Option<Statement>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = referrers
            .chunks(referrers.len().div_ceil(8).max(1))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|r| check_bundle(store, r, subject, keys, wanted))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            // A lost thread could hide a contradicting statement: fail.
            all.extend(h.join().map_err(|_| {
                Error::Verification(format!("{}: a verification thread failed", subject.digest))
            })?);
        }
        Ok::<_, Error>(all)
    })?;
    let so_far = report(subject, items.clone(), required);
    // Conditions that read statements need every one, legacy tags included
    // (a contradicting or newer statement may be there).
    if every_statement || !so_far.ok {
        items.extend(check_legacy(store, subject, keys)?);
    }
    Ok(report(subject, items, required))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifying_key_is_found_in_one_pass() {
        let (a, b) = (
            bulwark_sign::PrivateKey::generate(),
            bulwark_sign::PrivateKey::generate(),
        );
        let keys = [a.public_key(), b.public_key()];
        let sig = b.sign(b"m");
        let tries = std::cell::Cell::new(0);
        let check = |ks: &[PublicKey]| {
            tries.set(tries.get() + 1);
            if ks.iter().any(|k| k.verify(b"m", &sig)) {
                Ok(())
            } else {
                Err(format!("none of {} key(s)", ks.len()))
            }
        };
        assert_eq!(by_key(&keys, check).unwrap().1, keys[1].hint());
        assert_eq!(tries.get(), 2, "a, then b: nothing verified twice");
        let other = bulwark_sign::PrivateKey::generate().sign(b"m");
        let fails = |ks: &[PublicKey]| {
            if ks.iter().any(|k| k.verify(b"m", &other)) {
                Ok(())
            } else {
                Err(format!("none of {} key(s)", ks.len()))
            }
        };
        assert_eq!(by_key(&keys, fails).unwrap_err(), "none of 2 key(s)");
    }
    use bulwark_image::{Options, Target};

    fn image(dir: &std::path::Path, arch: &str) -> (Target, Object) {
        let r = format!("oci:{}:v1", dir.display()).parse().unwrap();
        let t = Target::open(&r, &Options::default()).unwrap();
        let c = t
            .store
            .put_blob(format!("{{\"architecture\":\"{arch}\"}}").as_bytes())
            .unwrap();
        let m = json!({"schemaVersion":2,"mediaType":bulwark_oci::MEDIA_TYPE_MANIFEST,
            "config":{"mediaType":bulwark_oci::MEDIA_TYPE_CONFIG,"digest":c,"size":20 + arch.len()},"layers":[]});
        let o = t
            .store
            .put_manifest(
                &serde_json::to_vec(&m).unwrap(),
                bulwark_oci::MEDIA_TYPE_MANIFEST,
                Some("v1"),
            )
            .unwrap();
        (t, o)
    }

    #[test]
    fn sign_attest_verify_both_formats_and_fail_closed() {
        let tmp = tempfile::tempdir().unwrap();
        let (t, subject) = image(&tmp.path().join("img"), "amd64");
        let key = PrivateKey::generate();
        let other = PrivateKey::generate();
        let spdx = "https://spdx.dev/Document".to_string();

        // Nothing attached: not ok.
        let r = verify(&t.store, &subject, &[key.public_key()], &[]).unwrap();
        assert!(!r.ok && r.found.is_empty());

        sign(
            &t.store,
            &subject,
            &key,
            Format::Both,
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        let with_spdx = || {
            verify(
                &t.store,
                &subject,
                &[key.public_key()],
                std::slice::from_ref(&spdx),
            )
            .unwrap()
        };
        let r = with_spdx();
        assert!(!r.ok);
        assert_eq!(r.missing, vec![spdx.clone()]);
        assert_eq!(r.found.iter().filter(|f| f.verified).count(), 2);

        attest(
            &t.store,
            &subject,
            &key,
            &spdx,
            json!({"spdxVersion":"SPDX-2.3"}),
            Format::Both,
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        let r = with_spdx();
        assert!(r.ok, "{r:?}");
        assert_eq!(r.found.len(), 4);

        // Wrong key: everything found, nothing verified.
        let r = verify(&t.store, &subject, &[other.public_key()], &[]).unwrap();
        assert!(!r.ok);
        assert!(
            r.found
                .iter()
                .all(|f| !f.verified && f.problem.contains("verif")),
            "{r:?}"
        );

        // Signatures for this image do not count for another one, even when
        // someone re-tags them under the other image's digest.
        let (_, other_subject) = image(&tmp.path().join("img"), "arm64");
        for suffix in [".sig", ".att", ""] {
            let (o, b) = t
                .store
                .find_tag(&digest_tag(&subject.digest, suffix))
                .unwrap()
                .unwrap();
            t.store
                .put_manifest(
                    &b,
                    &o.media_type,
                    Some(&digest_tag(&other_subject.digest, suffix)),
                )
                .unwrap();
        }
        let r = verify(&t.store, &other_subject, &[key.public_key()], &[]).unwrap();
        assert!(!r.ok);
        assert_eq!(r.found.len(), 4);
        assert!(
            r.found.iter().all(|f| f.problem.contains("another image")),
            "{r:?}"
        );
    }
}
