#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = bulwark_debian::parse_packages(s, "fuzz");
        let _ = bulwark_debian::parse_paragraphs(s);
    }
});
