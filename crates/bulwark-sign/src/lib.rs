//! Signing in the formats cosign 3 writes and reads.
//!
//! bulwark signs images and attestations so that `cosign verify --key` and
//! `cosign verify-attestation --key` accept them, and verifies what cosign
//! signed. This crate holds the pure, I/O-free parts: keys ([`keys`]), DSSE
//! envelopes, in-toto statements, Sigstore bundles v0.3 and cosign's legacy
//! simple-signing payload ([`envelope`]). Where the signatures live (OCI
//! layouts, registries) is the business of the crates above it.
//!
//! ```
//! use bulwark_sign::{Bundle, PrivateKey, Statement, COSIGN_SIGN_PREDICATE};
//!
//! let key = PrivateKey::generate();
//! let statement = Statement::new("", "sha256:0123", COSIGN_SIGN_PREDICATE, serde_json::json!({}));
//! let bundle = Bundle::sign(&key, &statement);
//! assert!(bundle.verify(&[key.public_key()]).is_ok());
//! ```

pub mod envelope;
pub mod keys;

pub use envelope::{
    BUNDLE_MEDIA_TYPE, Bundle, COSIGN_SIGN_PREDICATE, Envelope, INTOTO_PAYLOAD_TYPE, STATEMENT_V1,
    SimpleSigning, Statement, Subject, pae, verify_statement,
};
pub use keys::{PrivateKey, PublicKey};

/// Errors from key handling and signature checks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A key file that cannot be read as what it claims to be.
    #[error("{path}: {problem}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Decryption failed: the password does not open the key.
    #[error(
        "{path}: wrong password (the key did not decrypt); set BULWARK_PASSWORD or COSIGN_PASSWORD to the password the key was created with"
    )]
    WrongPassword {
        /// The key file.
        path: String,
    },
    /// Key material could not be produced.
    #[error("key error: {0}")]
    Key(String),
    /// No signature verified.
    #[error("signature does not verify: {0}")]
    BadSignature(String),
    /// A signed document that is not what it claims to be.
    #[error("malformed signed document: {0}")]
    Malformed(String),
}
