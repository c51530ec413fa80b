//! ECDSA P-256 key pairs in the formats cosign reads and writes.
//!
//! Public keys are PEM `PUBLIC KEY` (SubjectPublicKeyInfo). Private keys are PEM
//! `ENCRYPTED SIGSTORE PRIVATE KEY` (or the older `ENCRYPTED COSIGN PRIVATE KEY`)
//! whose body is a JSON document: scrypt parameters and salt, a
//! nacl/secretbox nonce, and the sealed PKCS#8 DER of the private key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::Error;

const PEM_SIGSTORE: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
const PEM_COSIGN: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// scrypt cost written by `bulwark key generate` (cosign 3 writes the same).
const WRITE_LOG_N: u8 = 16;

#[derive(Serialize, Deserialize)]
struct EncryptedKey {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
#[allow(non_snake_case)]
struct ScryptParams {
    N: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// A private signing key (ECDSA P-256, SHA-256).
#[derive(Clone)]
pub struct PrivateKey {
    inner: SigningKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// A fresh random key from the operating system's generator.
    #[must_use]
    pub fn generate() -> Self {
        Self {
            inner: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            inner: *self.inner.verifying_key(),
        }
    }

    /// ASN.1 DER ECDSA signature over SHA-256 of `message` (what cosign writes).
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: DerSignature = self.inner.sign(message);
        sig.as_bytes().to_vec()
    }

    /// Writes the key in cosign's encrypted PEM format.
    ///
    /// # Errors
    /// Only when the system random generator or the KDF fails.
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<String, Error> {
        let der = self
            .inner
            .to_pkcs8_der()
            .map_err(|e| Error::Key(format!("cannot encode the private key as PKCS#8: {e}")))?;
        let mut salt = [0u8; 32];
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let key = derive(password, &salt, WRITE_LOG_N, 8, 1)?;
        let sealed = XSalsa20Poly1305::new(&key)
            .encrypt(Nonce::from_slice(&nonce), der.as_bytes())
            .map_err(|_| Error::Key("secretbox encryption failed".into()))?;
        let doc = EncryptedKey {
            kdf: Kdf {
                name: "scrypt".into(),
                params: ScryptParams {
                    N: 1 << WRITE_LOG_N,
                    r: 8,
                    p: 1,
                },
                salt: B64.encode(salt),
            },
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce: B64.encode(nonce),
            },
            ciphertext: B64.encode(sealed),
        };
        let json = serde_json::to_vec(&doc).map_err(|e| Error::Key(e.to_string()))?;
        Ok(pem_encode(PEM_SIGSTORE, &json))
    }

    /// Reads a cosign encrypted private key (`ENCRYPTED SIGSTORE PRIVATE KEY` or
    /// `ENCRYPTED COSIGN PRIVATE KEY`). `source` names the file in errors.
    ///
    /// # Errors
    /// A wrong password, a corrupt file, or a key that is not ECDSA P-256.
    pub fn from_encrypted_pem(source: &str, pem: &str, password: &[u8]) -> Result<Self, Error> {
        let corrupt = |what: String| Error::KeyFile {
            path: source.to_string(),
            problem: what,
        };
        let (label, body) = pem_decode(pem).map_err(corrupt)?;
        if label != PEM_SIGSTORE && label != PEM_COSIGN {
            return Err(corrupt(format!(
                "expected a PEM block '{PEM_SIGSTORE}' (cosign's private key format), found '{label}'; {ACCEPTED}"
            )));
        }
        let doc: EncryptedKey = serde_json::from_slice(&body)
            .map_err(|e| corrupt(format!("the key's JSON body is malformed: {e}")))?;
        if doc.kdf.name != "scrypt" || doc.cipher.name != "nacl/secretbox" {
            return Err(corrupt(format!(
                "unsupported encryption {}/{} (expected scrypt/nacl/secretbox)",
                doc.kdf.name, doc.cipher.name
            )));
        }
        let n = doc.kdf.params.N;
        if !n.is_power_of_two() || n < 2 {
            return Err(corrupt(format!("scrypt N={n} is not a power of two")));
        }
        let log_n = u8::try_from(n.trailing_zeros()).unwrap_or(u8::MAX);
        let (r, p) = (u64::from(doc.kdf.params.r), u64::from(doc.kdf.params.p));
        let memory = 128u64.saturating_mul(n).saturating_mul(r);
        let work = n.saturating_mul(r).saturating_mul(p);
        if r == 0
            || p == 0
            || memory > bulwark_limits::SCRYPT_MAX_MEMORY
            || work > bulwark_limits::SCRYPT_MAX_WORK
        {
            return Err(corrupt(format!(
                "scrypt parameters N={n} r={r} p={p} are outside the accepted range \
                 (128·N·r ≤ {} of memory, N·r·p ≤ 2^{}; cosign writes N=32768 r=8 p=1)",
                bulwark_limits::human(bulwark_limits::SCRYPT_MAX_MEMORY),
                bulwark_limits::SCRYPT_MAX_WORK.trailing_zeros()
            )));
        }
        let salt = B64
            .decode(&doc.kdf.salt)
            .map_err(|e| corrupt(format!("salt is not base64: {e}")))?;
        let nonce = B64
            .decode(&doc.cipher.nonce)
            .map_err(|e| corrupt(format!("nonce is not base64: {e}")))?;
        if nonce.len() != 24 {
            return Err(corrupt(format!(
                "secretbox nonce is {} bytes, expected 24",
                nonce.len()
            )));
        }
        let sealed = B64
            .decode(&doc.ciphertext)
            .map_err(|e| corrupt(format!("ciphertext is not base64: {e}")))?;
        let key = derive(password, &salt, log_n, doc.kdf.params.r, doc.kdf.params.p)?;
        let der = Zeroizing::new(
            XSalsa20Poly1305::new(&key)
                .decrypt(Nonce::from_slice(&nonce), sealed.as_slice())
                .map_err(|_| Error::WrongPassword {
                    path: source.to_string(),
                })?,
        );
        let inner = SigningKey::from_pkcs8_der(&der).map_err(|e| {
            corrupt(format!(
                "decrypted, but the key is not an ECDSA P-256 PKCS#8 key ({e}); bulwark signs with ECDSA P-256 like cosign's default"
            ))
        })?;
        Ok(Self { inner })
    }
}

fn derive(password: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<Key, Error> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|e| Error::Key(format!("invalid scrypt parameters: {e}")))?;
    let mut out = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, out.as_mut())
        .map_err(|e| Error::Key(format!("scrypt failed: {e}")))?;
    Ok(*Key::from_slice(out.as_ref()))
}

/// A public verification key (ECDSA P-256).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    inner: VerifyingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.hint())
    }
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo). `source` names the file in errors.
    ///
    /// # Errors
    /// Not PEM, not SPKI, or not an ECDSA P-256 key.
    pub fn from_pem(source: &str, pem: &str) -> Result<Self, Error> {
        let (label, der) = pem_decode(pem).map_err(|problem| Error::KeyFile {
            path: source.to_string(),
            problem,
        })?;
        if label != "PUBLIC KEY" {
            return Err(Error::KeyFile {
                path: source.to_string(),
                problem: format!("expected a PEM block 'PUBLIC KEY', found '{label}'; {ACCEPTED}"),
            });
        }
        let inner = VerifyingKey::from_public_key_der(&der).map_err(|e| Error::KeyFile {
            path: source.to_string(),
            problem: if der.windows(RSA_OID.len()).any(|w| w == RSA_OID) {
                format!("this is an RSA key; {ACCEPTED}")
            } else {
                format!("not an ECDSA P-256 public key ({e}); {ACCEPTED}")
            },
        })?;
        Ok(Self { inner })
    }

    /// PEM `PUBLIC KEY`, as cosign writes it.
    #[must_use]
    pub fn to_pem(&self) -> String {
        self.inner
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// SubjectPublicKeyInfo DER.
    #[must_use]
    pub fn to_der(&self) -> Vec<u8> {
        self.inner
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }

    /// The key hint Sigstore bundles carry: base64 of SHA-256 over the SPKI DER.
    #[must_use]
    pub fn hint(&self) -> String {
        B64.encode(Sha256::digest(self.to_der()))
    }

    /// Checks a signature over `message`. DER (cosign) and raw `r‖s` forms are accepted.
    #[must_use]
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let sig = if signature.len() == 64 {
            Signature::from_slice(signature).ok()
        } else {
            Signature::from_der(signature).ok()
        };
        sig.is_some_and(|s| self.inner.verify(message, &s).is_ok())
    }
}

fn pem_encode(label: &str, body: &[u8]) -> String {
    let b64 = B64.encode(body);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The key formats bulwark reads, for messages about any other.
const ACCEPTED: &str = "bulwark accepts ECDSA P-256 keys in PEM: public keys as 'PUBLIC KEY' \
(SubjectPublicKeyInfo, as cosign and 'bulwark key generate' write them), private keys as \
cosign's 'ENCRYPTED SIGSTORE PRIVATE KEY' or 'ENCRYPTED COSIGN PRIVATE KEY'";

/// DER of the rsaEncryption OID 1.2.840.113549.1.1.1.
const RSA_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

fn pem_decode(pem: &str) -> Result<(String, Vec<u8>), String> {
    if pem.starts_with('\u{30}') || pem.contains('\u{fffd}') || pem.contains('\0') {
        return Err(format!(
            "not a PEM file (binary data: a DER key?); {ACCEPTED}"
        ));
    }
    let mut lines = pem.lines().map(str::trim).skip_while(|l| l.is_empty());
    let first = lines.next().unwrap_or_default();
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(|| format!("not a PEM file (no '-----BEGIN …-----' line); {ACCEPTED}"))?
        .to_string();
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    let mut ended = false;
    for line in lines {
        if line == end {
            ended = true;
            break;
        }
        if line.contains(':') {
            continue; // RFC 1421 headers
        }
        body.push_str(line);
    }
    if !ended {
        return Err(format!("PEM block '{label}' has no END line (truncated?)"));
    }
    let der = B64
        .decode(body.as_bytes())
        .map_err(|e| format!("PEM body is not base64: {e}"))?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COSIGN_PUB: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3Jzr8YwxanyEACvcvtjXEUc4Pxo5
PGVYBFAZgGCPsPN383Z0BrbnBeTx94ncHuBKOcLZZptEfyBSzVJy1Z4HSQ==
-----END PUBLIC KEY-----
";

    #[test]
    fn roundtrip_encrypted_key_and_signature() {
        let key = PrivateKey::generate();
        let pem = key.to_encrypted_pem(b"secret").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let back = PrivateKey::from_encrypted_pem("k", &pem, b"secret").unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let sig = back.sign(b"hello");
        assert!(key.public_key().verify(b"hello", &sig));
        assert!(!key.public_key().verify(b"hellO", &sig));
        let err = PrivateKey::from_encrypted_pem("k.key", &pem, b"wrong").unwrap_err();
        assert!(err.to_string().contains("wrong password"), "{err}");
    }

    #[test]
    fn public_pem_roundtrip_and_hint_matches_cosign() {
        let key = PublicKey::from_pem("cosign.pub", COSIGN_PUB).unwrap();
        assert_eq!(key.to_pem(), COSIGN_PUB);
        // The hint in the cosign 3.1 reference bundles for this key.
        assert_eq!(key.hint(), "+gc91pqBwk8mhq5Ci+AnixGDcNquvTw7cCoi4btJ9Rc=");
    }

    #[test]
    fn corrupt_key_files_are_errors_naming_the_file() {
        for bad in [
            "",
            "garbage",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n",
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n!!!\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\ne30=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
        ] {
            let err = PrivateKey::from_encrypted_pem("my.key", bad, b"x").unwrap_err();
            assert!(err.to_string().contains("my.key"), "{err}");
            let err = PublicKey::from_pem("my.pub", bad).unwrap_err();
            assert!(err.to_string().contains("my.pub"), "{err}");
        }
    }

    #[test]
    fn absurd_scrypt_cost_is_refused_before_deriving() {
        // 2^40; and N=2^20 r=32, once accepted, which took 4.2 GB to derive.
        for (n, r, p) in [(1u64 << 40, 8, 1), (1 << 20, 32, 1), (1 << 17, 8, 16)] {
            let json = format!(
                r#"{{"kdf":{{"name":"scrypt","params":{{"N":{n},"r":{r},"p":{p}}},"salt":"AA=="}},"cipher":{{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"ciphertext":"AA=="}}"#
            );
            let pem = pem_encode(PEM_SIGSTORE, json.as_bytes());
            let start = std::time::Instant::now();
            let err = PrivateKey::from_encrypted_pem("k", &pem, b"x").unwrap_err();
            assert!(
                err.to_string().contains("outside the accepted range"),
                "{err}"
            );
            assert!(start.elapsed() < std::time::Duration::from_secs(1));
        }
    }
}
