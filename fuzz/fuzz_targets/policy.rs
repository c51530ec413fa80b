#![no_main]
//! Any text as an eval policy: an error with a position or a policy.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = bulwark_eval::Policy::from_yaml(s, "fuzz.yaml");
    }
});
