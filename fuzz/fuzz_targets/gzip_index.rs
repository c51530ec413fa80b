#![no_main]
//! The indexing gzip reader on arbitrary bytes: errors, never panics, and
//! every block end it notes lies inside what it read.
use std::io::Read;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = bulwark_deflate::gzip::IndexingGzip::new(data);
    let mut out = Vec::new();
    let ok = (&mut r).take(1 << 22).read_to_end(&mut out).is_ok();
    let (_, index) = r.into_parts();
    for m in &index.members {
        assert!(m.data_start <= data.len() as u64);
        for e in &m.edges {
            assert!(e.byte <= data.len() as u64 && e.out <= out.len() as u64 || !ok);
        }
    }
});
