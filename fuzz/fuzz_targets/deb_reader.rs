#![no_main]
//! Any bytes as a .deb: an error or a package whose entries are all safe, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = bulwark_deb::Limits {
        max_entry_size: 1 << 20,
        max_total_size: 8 << 20,
        max_entries: 10_000,
    };
    if let Ok(deb) = bulwark_deb::read_deb(data, &limits) {
        for e in deb.entries {
            assert!(!e.path.starts_with('/') && !e.path.split('/').any(|c| c == ".."));
        }
    }
});
