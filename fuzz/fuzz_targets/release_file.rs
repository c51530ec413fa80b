#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = bulwark_debian::release::Release::parse(s);
        let _ = bulwark_debian::time::parse_rfc2822(s);
    }
});
