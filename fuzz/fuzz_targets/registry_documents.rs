#![no_main]
//! Any bytes as what a registry or a layout serves: the top manifest or
//! index of an image (checked all the way down by `check_image`), a
//! Sigstore bundle, a DSSE envelope. Never accepted as verified, never a
//! panic, a hang or an unbounded walk.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sha2::Digest;

fn key() -> &'static bulwark_sign::PublicKey {
    static K: OnceLock<bulwark_sign::PublicKey> = OnceLock::new();
    K.get_or_init(|| bulwark_sign::PrivateKey::generate().public_key())
}

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let hex = hex::encode(sha2::Sha256::digest(data));
    std::fs::write(blobs.join(&hex), data).unwrap();
    // A small config the fuzzer can point at, by its digest.
    std::fs::write(blobs.join(hex::encode(sha2::Sha256::digest(b"{}"))), b"{}").unwrap();
    let store = bulwark_image::Store::Layout {
        dir: dir.path().to_owned(),
        archive: None,
        origin: "fuzz".into(),
    };
    let root = bulwark_image::Object {
        media_type: "application/vnd.oci.image.index.v1+json".into(),
        digest: format!("sha256:{hex}"),
        size: data.len() as u64,
    };
    let _ = bulwark_image::check_image(&store, &root, data.to_vec(), bulwark_image::Depth::Full);
    if let Ok(b) = serde_json::from_slice::<bulwark_sign::Bundle>(data) {
        assert!(b.verify(std::slice::from_ref(key())).is_err());
    }
    if let Ok(e) = serde_json::from_slice::<bulwark_sign::Envelope>(data) {
        assert!(bulwark_sign::verify_statement(&e, std::slice::from_ref(key())).is_err());
    }
});
