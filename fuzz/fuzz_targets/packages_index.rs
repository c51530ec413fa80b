#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = bulwark_debian::parse_packages(s, "fuzz");
        let _ = bulwark_debian::parse_paragraphs(s);
        // The lazy index, scanned at once and in pieces, must agree.
        let whole = bulwark_debian::PackagesIndex::new(s.to_owned(), "fuzz", "s", "u");
        let mut scanner = bulwark_debian::PackagesScanner::with_capacity(0);
        let piece = usize::from(data.first().copied().unwrap_or(1)).max(1);
        for p in data.chunks(piece) {
            scanner.push(p);
        }
        let pieces = scanner.finish("fuzz", "s", "u").unwrap();
        assert_eq!(whole.len(), pieces.len());
        let _ = whole.all();
    }
    // Streamed decompression of untrusted (not yet verified) index bytes.
    for name in ["Packages.gz", "Packages.xz", "Packages"] {
        let _ = bulwark_apt::scan_index(name, data, 0);
    }
});
