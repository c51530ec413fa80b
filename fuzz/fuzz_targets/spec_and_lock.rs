#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = bulwark_spec::Spec::from_yaml(s, "fuzz.yaml");
        let _ = serde_json::from_str::<bulwark_spec::Lock>(s);
    }
});
