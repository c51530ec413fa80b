#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = bulwark_debian::sources::parse_one_line(s, "fuzz");
        let _ = bulwark_debian::sources::parse_deb822(s, "fuzz");
    }
});
