//! DSSE envelopes, in-toto statements, Sigstore bundles and cosign's
//! simple-signing payload: the four documents cosign signs and verifies.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::keys::{PrivateKey, PublicKey};

/// The payload type of every in-toto statement in a DSSE envelope.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The predicate type cosign 3 uses for a plain image signature in bundle form.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Media type of a Sigstore bundle v0.3.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The simple-signing payload type cosign's legacy signatures carry.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";

/// Dead Simple Signing Envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Base64 (standard, padded) of the payload bytes.
    pub payload: String,
    /// Media type of the payload.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// One or more signatures over the PAE of type and payload.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Optional key id (cosign leaves it empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
    /// Base64 of the DER signature.
    pub sig: String,
}

/// DSSE pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
#[must_use]
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` of `payload_type` with `key`.
    #[must_use]
    pub fn sign(key: &PrivateKey, payload_type: &str, payload: &[u8]) -> Self {
        let sig = key.sign(&pae(payload_type, payload));
        Self {
            payload: B64.encode(payload),
            payload_type: payload_type.to_string(),
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig: B64.encode(sig),
            }],
        }
    }

    /// Returns the payload if at least one signature verifies under one of `keys`.
    ///
    /// # Errors
    /// [`Error::BadSignature`] when no signature verifies; [`Error::Malformed`]
    /// when the envelope is not base64.
    pub fn verify(&self, keys: &[PublicKey]) -> Result<Vec<u8>, Error> {
        let payload = B64
            .decode(&self.payload)
            .map_err(|e| Error::Malformed(format!("DSSE payload is not base64: {e}")))?;
        let message = pae(&self.payload_type, &payload);
        for s in &self.signatures {
            let Ok(sig) = B64.decode(&s.sig) else {
                continue;
            };
            if keys.iter().any(|k| k.verify(&message, &sig)) {
                return Ok(payload);
            }
        }
        Err(Error::BadSignature(format!(
            "none of the {} DSSE signature(s) verifies with the {} given key(s)",
            self.signatures.len(),
            keys.len()
        )))
    }
}

/// An in-toto statement (v1; v0.1 is read too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// `https://in-toto.io/Statement/v1`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// What kind of predicate follows.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate itself.
    #[serde(default)]
    pub predicate: Value,
}

/// A statement subject: a name and its digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Optional name (cosign 3 omits it for image signatures).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Algorithm → hex digest.
    pub digest: BTreeMap<String, String>,
    /// cosign writes an empty object here for signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Statement {
    /// A v1 statement about the manifest with `digest` (`sha256:<hex>`).
    #[must_use]
    pub fn new(name: &str, digest: &str, predicate_type: &str, predicate: Value) -> Self {
        let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
        Self {
            type_: STATEMENT_V1.to_string(),
            subject: vec![Subject {
                name: name.to_string(),
                digest: BTreeMap::from([(alg.to_string(), hex.to_string())]),
                annotations: None,
            }],
            predicate_type: predicate_type.to_string(),
            predicate,
        }
    }

    /// True if some subject names `digest` (`sha256:<hex>`).
    #[must_use]
    pub fn is_about(&self, digest: &str) -> bool {
        let Some((alg, hex)) = digest.split_once(':') else {
            return false;
        };
        self.subject.iter().any(|s| {
            s.digest
                .get(alg)
                .is_some_and(|h| h.eq_ignore_ascii_case(hex))
        })
    }

    /// The statement as compact JSON bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A Sigstore bundle v0.3 holding a DSSE envelope and a public-key hint
/// (what `cosign sign --key` and `cosign attest --key` write in cosign 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// [`BUNDLE_MEDIA_TYPE`].
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The key hint (and nothing else for key-based signing).
    #[serde(rename = "verificationMaterial")]
    pub verification_material: VerificationMaterial,
    /// The signed statement.
    #[serde(rename = "dsseEnvelope")]
    pub dsse_envelope: Envelope,
}

/// Bundle verification material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationMaterial {
    /// `{"hint": …}` for key-based bundles.
    #[serde(rename = "publicKey", default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<KeyHint>,
    /// Anything else (certificates, tlog entries) kept verbatim.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A public key hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHint {
    /// base64(sha256(SPKI DER)).
    pub hint: String,
}

impl Bundle {
    /// Signs `statement` into a bundle.
    #[must_use]
    pub fn sign(key: &PrivateKey, statement: &Statement) -> Self {
        Self {
            media_type: BUNDLE_MEDIA_TYPE.to_string(),
            verification_material: VerificationMaterial {
                public_key: Some(KeyHint {
                    hint: key.public_key().hint(),
                }),
                other: BTreeMap::new(),
            },
            dsse_envelope: Envelope::sign(key, INTOTO_PAYLOAD_TYPE, &statement.to_bytes()),
        }
    }

    /// Verifies the envelope under one of `keys` and returns the statement.
    ///
    /// # Errors
    /// A bad signature, a payload that is not an in-toto statement.
    pub fn verify(&self, keys: &[PublicKey]) -> Result<Statement, Error> {
        verify_statement(&self.dsse_envelope, keys)
    }
}

/// Verifies an envelope holding an in-toto statement and parses the statement.
///
/// # Errors
/// A bad signature, a wrong payload type, a payload that is not a statement.
pub fn verify_statement(env: &Envelope, keys: &[PublicKey]) -> Result<Statement, Error> {
    if env.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(Error::Malformed(format!(
            "DSSE payload type is '{}', expected '{INTOTO_PAYLOAD_TYPE}'",
            env.payload_type
        )));
    }
    let payload = env.verify(keys)?;
    serde_json::from_slice(&payload)
        .map_err(|e| Error::Malformed(format!("signed payload is not an in-toto statement: {e}")))
}

/// cosign's legacy simple-signing payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimpleSigning {
    /// The critical section: identity, image digest and type.
    pub critical: Critical,
    /// Free-form annotations (`null` when none).
    pub optional: Option<BTreeMap<String, Value>>,
}

/// Critical section of a simple-signing payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Critical {
    /// `{"docker-reference": …}`.
    pub identity: Identity,
    /// `{"docker-manifest-digest": …}`.
    pub image: ImageDigest,
    /// [`SIMPLE_SIGNING_TYPE`].
    #[serde(rename = "type")]
    pub type_: String,
}

/// The reference the signer signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Repository the image was signed under.
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// The digest of the signed manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDigest {
    /// `sha256:<hex>`.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl SimpleSigning {
    /// The payload cosign signs for `reference` at `digest`.
    #[must_use]
    pub fn new(reference: &str, digest: &str) -> Self {
        Self {
            critical: Critical {
                identity: Identity {
                    docker_reference: reference.to_string(),
                },
                image: ImageDigest {
                    docker_manifest_digest: digest.to_string(),
                },
                type_: SIMPLE_SIGNING_TYPE.to_string(),
            },
            optional: None,
        }
    }

    /// Parses a payload.
    ///
    /// # Errors
    /// Not JSON, or not a cosign simple-signing payload.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let s: Self = serde_json::from_slice(bytes)
            .map_err(|e| Error::Malformed(format!("not a cosign simple-signing payload: {e}")))?;
        if s.critical.type_ != SIMPLE_SIGNING_TYPE {
            return Err(Error::Malformed(format!(
                "simple-signing type is '{}', expected '{SIMPLE_SIGNING_TYPE}'",
                s.critical.type_
            )));
        }
        Ok(s)
    }

    /// Compact JSON bytes, as cosign writes them.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/cosign-3.1-vectors"
    );

    fn vector(path: &str) -> Option<String> {
        std::fs::read_to_string(format!("{VECTORS}/{path}")).ok()
    }

    fn cosign_pub() -> PublicKey {
        PublicKey::from_pem(
            "cosign.pub",
            "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3Jzr8YwxanyEACvcvtjXEUc4Pxo5
PGVYBFAZgGCPsPN383Z0BrbnBeTx94ncHuBKOcLZZptEfyBSzVJy1Z4HSQ==
-----END PUBLIC KEY-----
",
        )
        .unwrap()
    }

    // The cosign 3.1 reference bundle (image signature), embedded so the test
    // does not depend on files outside the repository.
    const SIGN_BUNDLE: &str = r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"+gc91pqBwk8mhq5Ci+AnixGDcNquvTw7cCoi4btJ9Rc="}},"dsseEnvelope":{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLCJzdWJqZWN0IjpbeyJkaWdlc3QiOnsic2hhMjU2IjoiZDI2ZTlkZjQ4NGZiNWU4OTliZmVkYWMzOGZiMjliNjU4NmYwNzMyODIzYzViYTdmZDk0NTI1MzM2YWY0YmIyOCJ9LCJhbm5vdGF0aW9ucyI6e319XSwicHJlZGljYXRlVHlwZSI6Imh0dHBzOi8vc2lnc3RvcmUuZGV2L2Nvc2lnbi9zaWduL3YxIiwicHJlZGljYXRlIjp7fX0=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEUCIDyWApa/GxTF8wMebZGciTTZugn9YvIwbEnyht1v7gs6AiEA8/HIeWbIJzE8MM6h+6U7WvnUgbvLOcF4+CTv4SDR/kg="}]}}"#;

    #[test]
    fn verifies_cosign_reference_bundle() {
        let bundle: Bundle = serde_json::from_str(SIGN_BUNDLE).unwrap();
        let st = bundle.verify(&[cosign_pub()]).unwrap();
        assert_eq!(st.predicate_type, COSIGN_SIGN_PREDICATE);
        assert!(
            st.is_about("sha256:d26e9df484fb5e899bfedac38fb29b6586f0732823c5ba7fd94525336af4bb28")
        );
        // Re-serialising keeps cosign's bytes.
        assert_eq!(serde_json::to_string(&bundle).unwrap(), SIGN_BUNDLE);
        // Tampering with the payload breaks it.
        let mut bad = bundle.clone();
        bad.dsse_envelope.payload = bad.dsse_envelope.payload.replacen('e', "f", 1);
        assert!(bad.verify(&[cosign_pub()]).is_err());
        // Another key does not verify it.
        let other = PrivateKey::generate().public_key();
        assert!(matches!(
            bundle.verify(&[other]),
            Err(Error::BadSignature(_))
        ));
    }

    #[test]
    fn verifies_cosign_reference_vectors_on_disk() {
        // The attestation bundle and legacy files, when the shared reference is present.
        if let Some(b) = vector(
            "bundle-format/bundle-4d4a1d2ba0c33afc8ae86587182037499bd2a02a69a77033363d963c88d135f6.json",
        ) {
            let bundle: Bundle = serde_json::from_str(&b).unwrap();
            let st = bundle.verify(&[cosign_pub()]).unwrap();
            assert_eq!(st.predicate_type, "https://spdx.dev/Document");
        }
        if let (Some(layer), Some(manifest)) = (
            vector(
                "legacy-format/sig-layer-2a7b9bf6d408e30304b71db766ab4b56159d2386d9a77e4bb66e296d5c3e9fef.json",
            ),
            vector("legacy-format/sig-manifest.json"),
        ) {
            let m: Value = serde_json::from_str(&manifest).unwrap();
            let sig = m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap();
            let sig = B64.decode(sig).unwrap();
            assert!(cosign_pub().verify(layer.as_bytes(), &sig));
            let ss = SimpleSigning::parse(layer.as_bytes()).unwrap();
            assert_eq!(ss.to_bytes(), layer.as_bytes());
        }
    }

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn sign_then_verify_statement() {
        let key = PrivateKey::generate();
        let st = Statement::new(
            "",
            "sha256:abcd",
            COSIGN_SIGN_PREDICATE,
            serde_json::json!({}),
        );
        let b = Bundle::sign(&key, &st);
        assert_eq!(b.verify(&[key.public_key()]).unwrap(), st);
    }
}
