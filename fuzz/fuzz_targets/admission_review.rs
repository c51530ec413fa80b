#![no_main]
//! Any bytes as an AdmissionReview request, and any text as an admission
//! policy: errors, never panics; the images found point at themselves.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = bulwark_admission::AdmissionReview::parse(data) {
        let _ = bulwark_admission::needs_review(&req);
        if let Ok(images) = bulwark_admission::images_of(&req.kind.kind, &req.object) {
            for i in images {
                assert_eq!(
                    req.object.pointer(&i.pointer).and_then(|v| v.as_str()),
                    Some(i.image.as_str())
                );
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = bulwark_admission::PolicyFile::from_yaml(s, "fuzz.yaml");
    }
});
