#![no_main]
//! Any bytes as a public key or a cosign private key file: an error or a
//! key, never a panic, and never an unbounded scrypt derivation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = bulwark_sign::PublicKey::from_pem("fuzz.pub", &text);
    let _ = bulwark_sign::PrivateKey::from_encrypted_pem("fuzz.key", &text, b"pw");
});
