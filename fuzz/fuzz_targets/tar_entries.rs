#![no_main]
//! The layer/tar walker on arbitrary bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = bulwark_deb::Limits {
        max_entry_size: 1 << 20,
        max_total_size: 8 << 20,
        max_entries: 10_000,
    };
    let _ = bulwark_deb::read_tar_entries(data, &limits, "fuzz");
});
