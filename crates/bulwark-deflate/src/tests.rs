//! Checked against zlib-rs: every block edge the scanner finds is where
//! zlib stops with `Z_BLOCK`, every length is what zlib inflates, and every
//! reach is exactly the dictionary zlib needs.

use proptest::prelude::*;
use zlib_rs::{Inflate, InflateFlush, Status};

use super::*;

/// Data with runs, repeats at every distance and noise, from a seed.
fn sample(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut v: Vec<u8> = Vec::with_capacity(len);
    while v.len() < len {
        let r = next();
        let n = (r >> 8) as usize % 300 + 1;
        match r % 4 {
            0 if !v.is_empty() => {
                let back = (r >> 20) as usize % v.len().min(40_000) + 1;
                for _ in 0..n {
                    v.push(v[v.len() - back]);
                }
            }
            1 => v.extend(std::iter::repeat_n((r >> 40) as u8, n)),
            2 => v.extend((0..n).map(|i| b"the quick brown fox "[i % 20])),
            _ => v.extend((0..n).map(|_| next() as u8)),
        }
    }
    v.truncate(len);
    v
}

/// Raw deflate by libdeflate (level 0..=12) or by zlib-rs (level 0..=9,
/// with a sync flush in the middle when `flush`).
fn compress(data: &[u8], by_zlib: bool, level: u32, flush: bool) -> Vec<u8> {
    if by_zlib {
        use std::io::Write;
        let level = flate2::Compression::new(level.min(9));
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), level);
        let half = data.len() / 2;
        e.write_all(&data[..half]).expect("compress");
        if flush {
            // A sync flush: the block ends, and an empty stored block follows.
            e.flush().expect("flush");
        }
        e.write_all(&data[half..]).expect("compress");
        e.finish().expect("compress")
    } else {
        let lvl = libdeflater::CompressionLvl::new(level.min(12) as i32).expect("level");
        let mut c = libdeflater::Compressor::new(lvl);
        let mut out = vec![0; c.deflate_compress_bound(data.len())];
        let n = c.deflate_compress(data, &mut out).expect("compress");
        out.truncate(n);
        out
    }
}

/// Where zlib stops with `Z_BLOCK`: (bytes in, bytes out) after each block.
fn zlib_stops(comp: &[u8], len: usize) -> Vec<(u64, u64)> {
    let mut inf = Inflate::new(false, 15);
    let mut out = vec![0u8; len + 1];
    let mut stops = Vec::new();
    loop {
        let (i, o) = (inf.total_in() as usize, inf.total_out() as usize);
        let st = inf
            .decompress(&comp[i..], &mut out[o..], InflateFlush::Block)
            .expect("zlib inflates what it compressed");
        let stop = (inf.total_in(), inf.total_out());
        // After the last block zlib may stop once more, where it was.
        if stops.last() != Some(&stop) {
            stops.push(stop);
        }
        if st == Status::StreamEnd {
            return stops;
        }
        assert!(stops.len() < 1_000_000, "zlib makes no progress");
    }
}

/// The bits of `data` from bit `at` on, moved to start a byte.
fn from_bit(data: &[u8], at: u64) -> Vec<u8> {
    let (byte, s) = ((at / 8) as usize, (at % 8) as u32);
    (byte..data.len())
        .map(|i| {
            let lo = data[i] >> s;
            let hi = data
                .get(i + 1)
                .map_or(0, |&n| if s == 0 { 0 } else { n << (8 - s) });
            lo | hi
        })
        .collect()
}

/// Inflates the one block at the start of `bits` after `dict`, as zlib.
fn zlib_block(bits: &[u8], dict: &[u8], len: usize) -> Result<Vec<u8>, String> {
    let mut inf = Inflate::new(false, 15);
    if !dict.is_empty() {
        inf.set_dictionary(dict).map_err(|e| format!("{e:?}"))?;
    }
    let mut out = vec![0u8; len + 300];
    inf.decompress(bits, &mut out, InflateFlush::Block)
        .map_err(|e| format!("{e:?}"))?;
    out.truncate(inf.total_out() as usize);
    Ok(out)
}

fn check(data: &[u8], comp: &[u8]) -> Result<(), TestCaseError> {
    let found: Vec<Block> = blocks(comp, 0)
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let stops = zlib_stops(comp, data.len());
    prop_assert_eq!(found.len(), stops.len());
    let mut out = 0u64;
    for (i, (b, &(zin, zout))) in found.iter().zip(&stops).enumerate() {
        prop_assert_eq!(b.start, if i == 0 { 0 } else { found[i - 1].end });
        prop_assert_eq!(b.last, i + 1 == found.len());
        out += b.out_len;
        prop_assert_eq!(out, zout, "block {} ends at the byte zlib says", i);
        prop_assert_eq!(b.end.div_ceil(8), zin, "block {} of {:?}", i, b);
        // The reach is exactly what the block needs before it (a stored
        // block moved off its bit alignment is another block).
        if b.kind == Kind::Stored && b.start % 8 != 0 {
            continue;
        }
        let start = (out - b.out_len) as usize;
        let bits = from_bit(comp, b.start);
        let want = &data[start..out as usize];
        let reach = b.reach as usize;
        prop_assert!(reach <= start && reach <= 32768);
        let got = zlib_block(&bits, &data[start - reach..start], want.len());
        prop_assert_eq!(got.as_deref(), Ok(want), "block {} after its reach", i);
        if reach > 0 {
            let short = zlib_block(&bits, &data[start - reach + 1..start], want.len());
            prop_assert!(short.is_err(), "block {} needs all {} bytes", i, reach);
        }
    }
    prop_assert_eq!(out, data.len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn blocks_are_where_zlib_finds_them(
        seed in any::<u64>(),
        len in 0usize..300_000,
        by_zlib in any::<bool>(),
        level in 0u32..13,
        flush in any::<bool>(),
    ) {
        let data = sample(seed, len);
        let comp = compress(&data, by_zlib, level, flush);
        check(&data, &comp)?;
    }

    #[test]
    fn no_panic_on_any_bits(bytes in proptest::collection::vec(any::<u8>(), 0..2000), at in 0u64..16) {
        let mut next = at;
        for b in blocks(&bytes, at).take(64).map_while(Result::ok) {
            prop_assert_eq!(b.start, next);
            prop_assert!(b.end > b.start && b.end <= bytes.len() as u64 * 8);
            next = b.end;
        }
    }
}

#[test]
fn long_inputs_at_every_level() {
    let data = sample(7, 3 << 20);
    for level in [0, 1, 6, 9, 12] {
        check(&data, &compress(&data, false, level, false)).expect("libdeflate");
    }
    for level in [0, 1, 6, 9] {
        check(&data, &compress(&data, true, level, true)).expect("zlib-rs");
    }
}

#[test]
fn malformed_blocks_say_where() {
    // Block type 3.
    let e = block_at(&[0x07], 0).unwrap_err();
    assert_eq!(e.what, "block type 3 is reserved");
    // A stored block whose complement is wrong.
    let e = block_at(&[0x01, 0x01, 0x00, 0x00, 0x00, b'a'], 0).unwrap_err();
    assert!(e.what.contains("complement"), "{e}");
    // Truncated: a stored block promising more than there is.
    let e = block_at(&[0x01, 0x05, 0x00, 0xfa, 0xff, b'a'], 0).unwrap_err();
    assert!(e.what.contains("ends inside"), "{e}");
    // Past the end.
    assert!(block_at(&[0x03, 0x00], 16).is_err());
    // A fixed block with distance code 30 (bits: header 1,1,0; literal/length
    // 257 = 0000001; distance 30 = 11110).
    let mut w = 0u32;
    let mut n = 0;
    let mut put = |v: u32, bits: u32, rev: bool| {
        let v = if rev {
            v.reverse_bits() >> (32 - bits)
        } else {
            v
        };
        w |= v << n;
        n += bits;
    };
    put(1, 1, false);
    put(1, 2, false);
    put(0b0000001, 7, true);
    put(0b11110, 5, true);
    let e = block_at(&w.to_le_bytes(), 0).unwrap_err();
    assert!(e.what.contains("distance code 30"), "{e}");
}

mod splicing {
    use std::io::{Read, Write};

    use proptest::prelude::*;
    use zlib_rs::{Inflate, InflateFlush, Status};

    use super::{compress, sample, zlib_stops};
    use crate::gzip::IndexingGzip;
    use crate::splice::{BitWriter, find_block};
    use crate::{Kind, blocks};

    /// Inflates a whole raw deflate stream with zlib-rs.
    fn inflate(bits: &[u8], cap: usize) -> Result<Vec<u8>, String> {
        let mut inf = Inflate::new(false, 15);
        let mut out = vec![0u8; cap + 1];
        let st = inf
            .decompress(bits, &mut out, InflateFlush::Finish)
            .map_err(|e| format!("{e:?}"))?;
        if st != Status::StreamEnd {
            return Err(format!("{st:?} after {} bytes", inf.total_in()));
        }
        out.truncate(inf.total_out() as usize);
        Ok(out)
    }

    #[test]
    fn padding_reaches_every_bit_offset() {
        for start in 0..8u32 {
            for residue in 0..8u64 {
                let mut w = BitWriter::new();
                // `start` bits of an empty stored block's header would not
                // do; stand at `start` with empty fixed blocks and a
                // dynamic one.
                w.pad_to(u64::from(start));
                assert_eq!(w.bit_len() % 8, u64::from(start));
                w.pad_to(residue);
                assert_eq!(w.bit_len() % 8, residue, "from {start} to {residue}");
                w.empty_fixed(true);
                let bytes = w.finish();
                assert_eq!(
                    inflate(&bytes, 0).as_deref(),
                    Ok(&[][..]),
                    "from {start} to {residue}"
                );
                let all: Vec<_> = blocks(&bytes, 0)
                    .collect::<Result<_, _>>()
                    .expect("scanner reads it");
                assert!(all.iter().all(|b| b.out_len == 0));
            }
        }
    }

    #[test]
    fn an_appended_stream_continues() {
        let a = sample(3, 100_000);
        let b = sample(4, 50_000);
        let mut w = BitWriter::new();
        w.append_stream(&compress(&a, false, 6, false)).expect("a");
        w.append_stream(&compress(&b, true, 6, true)).expect("b");
        w.empty_fixed(true);
        let got = inflate(&w.finish(), a.len() + b.len()).expect("inflates");
        assert_eq!(got, [a, b].concat());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Blocks copied after the same 32 KiB decode to the same bytes,
        /// found from zlib's byte edges alone, whatever their alignment
        /// and kind.
        #[test]
        fn copied_blocks_decode_the_same(
            seed in any::<u64>(),
            len in 100_000usize..400_000,
            by_zlib in any::<bool>(),
            level in 0u32..13,
            pick in any::<u64>(),
        ) {
            let data = sample(seed, len);
            let comp = compress(&data, by_zlib, level, true);
            let stops = zlib_stops(&comp, data.len());
            // Blocks k with an edge before and after: (start byte, out).
            let mut starts = vec![(0u64, 0u64)];
            starts.extend(stops.iter().copied());
            // Blocks 0..nb; the last one (final) is never copied or probed.
            let nb = starts.len() - 1;
            let cands: Vec<usize> = (1..nb.saturating_sub(2))
                .filter(|&k| starts[k].1 >= 32768)
                .collect();
            prop_assume!(!cands.is_empty());
            let m = cands[(pick % cands.len() as u64) as usize];
            let n = m + 1 + ((pick >> 20) as usize % (nb - 2 - m));
            let first = find_block(&comp, starts[m].0, starts[m + 1].1 - starts[m].1, starts[m + 1].0);
            let after = find_block(&comp, starts[n].0, starts[n + 1].1 - starts[n].1, starts[n + 1].0);
            let (Some(first), Some(after)) = (first, after) else {
                // Ambiguous: the caller compresses instead. Never wrong:
                return Ok(());
            };
            let truth: Vec<_> = blocks(&comp, 0).collect::<Result<_, _>>().expect("valid");
            prop_assert!(truth.iter().any(|b| b.start == first.start));
            prop_assert!(truth.iter().any(|b| b.start == after.start));
            let (o_m, o_n) = (starts[m].1 as usize, starts[n].1 as usize);
            let window = &data[o_m - 32768..o_m];
            let mut w = BitWriter::new();
            w.append_stream(&compress(window, false, 6, false)).expect("window");
            w.pad_to(first.start % 8);
            w.copy_bits(&comp, first.start, after.start);
            w.empty_fixed(true);
            let got = inflate(&w.finish(), o_n - o_m + 32768).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&got[..32768], window);
            prop_assert!(got[32768..] == data[o_m..o_n], "blocks {}..{} ({:?})", m, n,
                truth.iter().filter(|b| b.kind == Kind::Stored).count());
        }

        #[test]
        fn the_index_matches_the_blocks(
            seed in any::<u64>(),
            sizes in proptest::collection::vec(0usize..200_000, 1..4),
            level in 0u32..10,
        ) {
            let mut blob = Vec::new();
            let mut plain = Vec::new();
            for (i, &n) in sizes.iter().enumerate() {
                let d = sample(seed ^ i as u64, n);
                let mut e = flate2::GzBuilder::new()
                    .filename(format!("m{i}"))
                    .comment(if i % 2 == 0 { "c" } else { "" })
                    .extra(vec![1, 2, 3])
                    .write(Vec::new(), flate2::Compression::new(level));
                e.write_all(&d).expect("gzip");
                blob.extend(e.finish().expect("gzip"));
                plain.extend(d);
            }
            let mut r = IndexingGzip::new(&blob[..]);
            let mut got = Vec::new();
            r.read_to_end(&mut got).expect("reads");
            prop_assert!(got == plain);
            let (_, index) = r.into_parts();
            prop_assert_eq!(index.members.len(), sizes.len());
            for m in &index.members {
                let bits = &blob[m.data_start as usize..];
                let mut ends = vec![];
                let mut out = m.out_start;
                for b in blocks(bits, 0) {
                    let b = b.expect("valid");
                    out += b.out_len;
                    ends.push((m.data_start + b.end.div_ceil(8), out));
                }
                prop_assert_eq!(m.edges.last().map(|e| (e.byte, e.out)), ends.last().copied());
                // Every edge is a block end; one without a gap follows the
                // edge before it (or the member's start) by one block.
                let mut before: Option<usize> = None;
                for e in &m.edges {
                    let at = ends.iter().position(|&x| x == (e.byte, e.out));
                    prop_assert!(at.is_some(), "{:?} is no block end", e);
                    if !e.gap {
                        prop_assert_eq!(at, Some(before.map_or(0, |b| b + 1)), "{:?}", e);
                    }
                    before = at;
                }
            }
        }
    }

    #[test]
    fn bad_gzip_is_refused_with_where() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(&sample(1, 5000)).expect("gzip");
        let good = e.finish().expect("gzip");
        let read = |b: &[u8]| {
            let mut v = Vec::new();
            IndexingGzip::new(b)
                .read_to_end(&mut v)
                .map_err(|e| e.to_string())
        };
        assert!(read(&good).is_ok());
        let mut crc = good.clone();
        let n = crc.len();
        crc[n - 8] ^= 1;
        assert!(
            read(&crc).unwrap_err().contains("CRC-32"),
            "{:?}",
            read(&crc)
        );
        let mut len = good.clone();
        len[n - 1] ^= 1;
        assert!(read(&len).unwrap_err().contains("length"));
        assert!(read(&good[..n - 3]).unwrap_err().contains("trailer"));
        assert!(read(&good[..n / 2]).unwrap_err().contains("ends inside"));
        assert!(
            read(&[good.clone(), b"junk after the member".to_vec()].concat())
                .unwrap_err()
                .contains("should start a gzip member")
        );
        assert!(read(&[]).unwrap_err().contains("empty"));
        let mut flags = good.clone();
        flags[3] = 0x20;
        assert!(read(&flags).unwrap_err().contains("reserved"));
        // A header CRC-16 (FHCRC): checked.
        let with_hcrc = |crc: u16| {
            let mut h = good[..10].to_vec();
            h[3] = 2;
            let mut v = h.clone();
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&good[10..]);
            (zlib_rs::crc32::crc32(0, &h) as u16, v)
        };
        let (right, _) = with_hcrc(0);
        assert!(read(&with_hcrc(right).1).is_ok());
        let err = read(&with_hcrc(right ^ 1).1).unwrap_err();
        assert!(err.contains("CRC-16"), "{err}");
        let mut data = good;
        data[20] ^= 0xff;
        assert!(read(&data).is_err());
    }
}
