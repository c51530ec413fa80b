//! OpenPGP verification of clear-signed `InRelease` files.

use std::path::Path;

use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Timestamp};

/// A set of trusted certificates.
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
    /// Where the keys came from, for messages.
    pub origin: String,
}

/// A keyring file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "cannot read keyring {path}: {source}; check the Signed-By path in your apt sources or the spec's keyring"
    )]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("keyring {origin} is not an OpenPGP keyring: {reason}")]
    Parse { origin: String, reason: String },
    #[error("keyring {origin} contains no usable public key")]
    Empty { origin: String },
}

impl Keyring {
    /// Loads a binary (`.gpg`) or armored (`.asc`) keyring file.
    pub fn load(path: &Path) -> Result<Self, KeyringError> {
        let bytes = std::fs::read(path).map_err(|source| KeyringError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Parses keyring bytes, binary or armored (several armored blocks allowed).
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self, KeyringError> {
        let parse_err = |reason: String| KeyringError::Parse {
            origin: origin.to_owned(),
            reason,
        };
        let armored = bytes.windows(10).take(4096).any(|w| w == b"-----BEGIN");
        let iter: Box<dyn Iterator<Item = pgp::errors::Result<SignedPublicKey>>> = if armored {
            let (it, _) =
                SignedPublicKey::from_armor_many(bytes).map_err(|e| parse_err(e.to_string()))?;
            Box::new(it)
        } else {
            Box::new(SignedPublicKey::from_bytes_many(bytes).map_err(|e| parse_err(e.to_string()))?)
        };
        let mut keys = Vec::new();
        for k in iter {
            match k {
                Ok(k) => keys.push(k),
                Err(e) => tracing::warn!("{origin}: skipping unparsable certificate: {e}"),
            }
        }
        if keys.is_empty() {
            return Err(KeyringError::Empty {
                origin: origin.to_owned(),
            });
        }
        Ok(Keyring {
            keys,
            origin: origin.to_owned(),
        })
    }

    /// Joins several keyrings.
    pub fn merge(mut self, other: Keyring) -> Keyring {
        self.keys.extend(other.keys);
        self.origin = format!("{} + {}", self.origin, other.origin);
        self
    }

    /// Fingerprints of the primary keys (hex, upper case).
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| hex::encode_upper(k.primary_key.fingerprint().as_bytes()))
            .collect()
    }
}

/// A verified Release: the signed text and who signed it.
#[derive(Clone, Debug)]
pub struct VerifiedRelease {
    pub text: String,
    pub signer_fingerprint: String,
}

/// Why an InRelease failed verification. Every variant is fatal: bulwark fails closed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{origin}: not a clear-signed OpenPGP message: {reason}")]
    Malformed { origin: String, reason: String },
    #[error(
        "{origin}: no valid signature by a key in {keyring}{details}; if the archive rotated its key, update the keyring (Signed-By) or the spec's 'keyring'"
    )]
    NoValidSignature {
        origin: String,
        keyring: String,
        details: String,
    },
}

/// Checks that `data` (an InRelease file) carries at least one good
/// signature from an unexpired, unrevoked, signing-capable key in `keyring`,
/// made with a hash stronger than SHA-1. `now` is seconds since the epoch.
pub fn verify_inrelease(
    data: &[u8],
    keyring: &Keyring,
    now: i64,
    origin: &str,
) -> Result<VerifiedRelease, VerifyError> {
    let malformed = |reason: String| VerifyError::Malformed {
        origin: origin.to_owned(),
        reason,
    };
    let text = std::str::from_utf8(data).map_err(|_| malformed("not UTF-8".into()))?;
    let (msg, _) =
        CleartextSignedMessage::from_string(text).map_err(|e| malformed(e.to_string()))?;
    let signed = msg.signed_text();
    let mut problems = Vec::new();
    for sig in msg.signatures() {
        match check_signature(sig, signed.as_bytes(), keyring, now) {
            Ok(fpr) => {
                return Ok(VerifiedRelease {
                    text: msg.text().to_owned(),
                    signer_fingerprint: fpr,
                });
            }
            Err(p) => problems.push(p),
        }
    }
    let details = if problems.is_empty() {
        String::new()
    } else {
        format!(" ({})", problems.join("; "))
    };
    Err(VerifyError::NoValidSignature {
        origin: origin.to_owned(),
        keyring: keyring.origin.clone(),
        details,
    })
}

fn issuer_matches(sig: &Signature, key: &impl KeyDetails) -> bool {
    let fpr = key.fingerprint();
    let kid = key.legacy_key_id();
    sig.issuer_fingerprint().iter().any(|f| **f == fpr)
        || sig.issuer_key_id().iter().any(|k| **k == kid)
}

fn expired(created: Timestamp, validity: Option<pgp::types::Duration>, now: i64) -> bool {
    match validity.map(|d| d.as_secs()) {
        Some(d) if d != 0 => i64::from(created.as_secs()) + i64::from(d) <= now,
        _ => false,
    }
}

/// Newest self-signature that carries key flags for the primary key.
fn primary_self_sig(key: &SignedPublicKey) -> Option<&Signature> {
    let pk = &key.primary_key;
    key.details
        .users
        .iter()
        .flat_map(|u| {
            u.signatures.iter().filter(move |s| {
                s.verify_certification(pk, pgp::types::Tag::UserId, &u.id)
                    .is_ok()
            })
        })
        .chain(
            key.details
                .direct_signatures
                .iter()
                .filter(|s| s.verify_key(pk).is_ok()),
        )
        .max_by_key(|s| s.created().map(|t| t.as_secs()).unwrap_or(0))
}

fn check_signature(
    sig: &Signature,
    signed: &[u8],
    keyring: &Keyring,
    now: i64,
) -> Result<String, String> {
    match sig.hash_alg() {
        Some(HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Ripemd160) | None => {
            return Err("signature uses a weak hash algorithm (MD5/SHA-1)".into());
        }
        _ => {}
    }
    if !matches!(sig.typ(), Some(SignatureType::Binary | SignatureType::Text)) {
        return Err(format!("unexpected signature type {:?}", sig.typ()));
    }
    if let Some(exp) = sig.signature_expiration_time()
        && let Some(c) = sig.created()
        && expired(c, Some(exp), now)
    {
        return Err("the signature itself has expired".into());
    }
    let mut last = String::from("no key in the keyring matches the signature's issuer");
    for key in &keyring.keys {
        // Only the issuer's certificate matters: skip the others before any
        // public-key operation (a distribution keyring holds many keys).
        if !issuer_matches(sig, &key.primary_key)
            && !key
                .public_subkeys
                .iter()
                .any(|s| issuer_matches(sig, &s.key))
        {
            continue;
        }
        let fpr = hex::encode_upper(key.primary_key.fingerprint().as_bytes());
        if !key.details.revocation_signatures.is_empty()
            && key
                .details
                .revocation_signatures
                .iter()
                .any(|r| r.verify_key(&key.primary_key).is_ok())
        {
            last = format!("key {fpr} is revoked");
            continue;
        }
        let self_sig = primary_self_sig(key);
        let primary_validity = self_sig.and_then(|s| s.key_expiration_time());
        let primary_expired = expired(key.primary_key.created_at(), primary_validity, now);
        if issuer_matches(sig, &key.primary_key) {
            if primary_expired {
                last = format!("key {fpr} has expired");
                continue;
            }
            // Primary keys may sign when their self-signature says so or has no flags at all.
            if let Some(s) = self_sig {
                let flags = s.key_flags();
                if !flags.sign()
                    && (flags.certify() || flags.encrypt_comms() || flags.authentication())
                {
                    last = format!("key {fpr} is not allowed to sign data");
                    continue;
                }
            }
            match sig.verify(&key.primary_key, signed) {
                Ok(()) => return Ok(fpr),
                Err(e) => {
                    last = format!("bad signature by {fpr}: {e}");
                    continue;
                }
            }
        }
        for sub in &key.public_subkeys {
            if !issuer_matches(sig, &sub.key) {
                continue;
            }
            let sub_fpr = hex::encode_upper(sub.key.fingerprint().as_bytes());
            if primary_expired {
                last = format!("primary key {fpr} of subkey {sub_fpr} has expired");
                continue;
            }
            if sub.signatures.iter().any(|s| {
                s.typ() == Some(SignatureType::SubkeyRevocation)
                    && s.verify_subkey_binding(&key.primary_key, &sub.key).is_ok()
            }) {
                last = format!("subkey {sub_fpr} is revoked");
                continue;
            }
            let binding = sub
                .signatures
                .iter()
                .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding))
                .filter(|s| s.verify_subkey_binding(&key.primary_key, &sub.key).is_ok())
                .max_by_key(|s| s.created().map(|t| t.as_secs()).unwrap_or(0));
            let Some(binding) = binding else {
                last = format!("subkey {sub_fpr} has no valid binding signature from {fpr}");
                continue;
            };
            if !binding.key_flags().sign() {
                last = format!("subkey {sub_fpr} is not a signing subkey");
                continue;
            }
            match binding.embedded_signature() {
                Some(back)
                    if back
                        .verify_primary_key_binding(&sub.key, &key.primary_key)
                        .is_ok() => {}
                _ => {
                    last = format!(
                        "signing subkey {sub_fpr} lacks a valid primary-key binding (back-signature)"
                    );
                    continue;
                }
            }
            if expired(sub.key.created_at(), binding.key_expiration_time(), now) {
                last = format!("subkey {sub_fpr} has expired");
                continue;
            }
            match sig.verify(&sub.key, signed) {
                Ok(()) => return Ok(fpr),
                Err(e) => last = format!("bad signature by subkey {sub_fpr}: {e}"),
            }
        }
    }
    Err(last)
}
