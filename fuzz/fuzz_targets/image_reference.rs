#![no_main]
//! Any string as an image reference (admission requests, specs and command
//! lines all carry them): parsed or refused, never a panic; what parses
//! prints back to a reference that parses to the same thing.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if s.len() > 4096 {
        return;
    }
    if let Ok(r) = s.parse::<bulwark_image::ImageRef>() {
        let again: bulwark_image::ImageRef = r.to_string().parse().expect("printed reference parses");
        assert_eq!(again, r);
        let _ = r.destination();
        let _ = (r.origin(), r.tag(), r.path());
    }
});
