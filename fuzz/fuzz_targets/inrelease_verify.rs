#![no_main]
//! Arbitrary InRelease bytes against a real keyring: never accepted, never a panic.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn keyring() -> &'static bulwark_apt::Keyring {
    static K: OnceLock<bulwark_apt::Keyring> = OnceLock::new();
    K.get_or_init(|| {
        let key = bulwark_test_support::TestKey::generate("fuzz");
        bulwark_apt::Keyring::from_bytes(&key.keyring_bytes(), "fuzz").unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    assert!(bulwark_apt::verify_inrelease(data, keyring(), 1_800_000_000, "fuzz").is_err());
    let _ = bulwark_apt::Keyring::from_bytes(data, "fuzz");
});
