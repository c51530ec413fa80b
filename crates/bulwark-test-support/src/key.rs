//! Throw-away OpenPGP keys for signing synthetic archives.

use pgp::composed::{
    CleartextSignedMessage, EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::types::Password;
use rand::SeedableRng;

/// An Ed25519 certification key with a signing subkey, like Debian's archive keys.
#[derive(Clone, Debug)]
pub struct TestKey {
    pub secret: SignedSecretKey,
    pub public: SignedPublicKey,
    /// Sign with the primary key instead of the subkey.
    pub sign_with_primary: bool,
}

impl TestKey {
    /// Generates a key deterministically from `uid` (so fixtures are stable).
    pub fn generate(uid: &str) -> Self {
        use sha2::Digest;
        let seed: [u8; 32] = sha2::Sha256::digest(uid.as_bytes()).into();
        let mut rng = rand::rngs::StdRng::from_seed(seed);
        let mut sub = SubkeyParamsBuilder::default();
        sub.key_type(KeyType::Ed25519Legacy)
            .can_sign(true)
            .can_encrypt(EncryptionCaps::None)
            .can_authenticate(false)
            .created_at(pgp::types::Timestamp::from_secs(
                crate::FIXTURE_MTIME as u32,
            ));
        let mut params = SecretKeyParamsBuilder::default();
        params
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .created_at(pgp::types::Timestamp::from_secs(
                crate::FIXTURE_MTIME as u32,
            ))
            .primary_user_id(format!("{uid} <archive@example.org>"))
            .subkeys(vec![sub.build().unwrap()]);
        let secret = params.build().unwrap().generate(&mut rng).unwrap();
        let public = SignedPublicKey::from(secret.clone());
        TestKey {
            secret,
            public,
            sign_with_primary: false,
        }
    }

    /// The public key as a binary keyring (`.gpg`), like `debian-archive-keyring.gpg`.
    pub fn keyring_bytes(&self) -> Vec<u8> {
        use pgp::ser::Serialize;
        self.public.to_bytes().unwrap()
    }

    /// The public key ASCII-armored (`.asc`).
    pub fn armored(&self) -> String {
        self.public.to_armored_string(Default::default()).unwrap()
    }

    /// An InRelease-style clear-signed document.
    pub fn clearsign(&self, text: &str) -> String {
        let rng = rand::thread_rng();
        let msg = if self.sign_with_primary {
            CleartextSignedMessage::sign(rng, text, &self.secret.primary_key, &Password::empty())
        } else {
            CleartextSignedMessage::sign(
                rng,
                text,
                &self.secret.secret_subkeys[0].key,
                &Password::empty(),
            )
        }
        .unwrap();
        msg.to_armored_string(Default::default()).unwrap()
    }
}
