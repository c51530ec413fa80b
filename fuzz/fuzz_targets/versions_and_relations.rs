#![no_main]
//! Version parsing never panics, and the order is total and consistent.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = bulwark_debian::relation::parse_relations(s);
    let mut mid = s.len() / 2;
    while !s.is_char_boundary(mid) {
        mid -= 1;
    }
    let (a, b) = s.split_at(mid);
    if let (Ok(x), Ok(y)) = (
        a.parse::<bulwark_debian::Version>(),
        b.parse::<bulwark_debian::Version>(),
    ) {
        assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
        assert_eq!(x.cmp(&x), std::cmp::Ordering::Equal);
    }
});
