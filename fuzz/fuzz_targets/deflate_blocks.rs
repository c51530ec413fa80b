#![no_main]
//! The deflate block scanner on arbitrary bits, from any bit of the first byte.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut at = u64::from(first % 8);
    for b in bulwark_deflate::blocks(rest, at) {
        let Ok(b) = b else { break };
        assert_eq!(b.start, at);
        assert!(b.end > b.start && b.end <= rest.len() as u64 * 8);
        assert!(b.reach <= 32768);
        at = b.end;
    }
});
