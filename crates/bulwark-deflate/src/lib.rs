//! The block structure of a deflate stream (RFC 1951), read without
//! inflating it.
//!
//! A deflate stream is a run of blocks, each starting at a bit (not a byte)
//! and each referring back at most 32 KiB into what came before. Knowing
//! exactly where a block starts and ends, how many bytes it stands for and
//! how far back it reaches is what it takes to reuse compressed bits
//! elsewhere: a block that reaches back `r` bytes decodes to the same bytes
//! after any `r` bytes equal to the ones it followed. zlib reports block
//! edges only to the byte, through a field its safe Rust ports do not
//! expose; [`block_at`] reads the block's headers and Huffman codes itself
//! and says where every bit went, without producing the output.
//!
//! Every stream is untrusted: a malformed one is an [`Error`] naming the
//! bit, never a panic, and the work is linear in the input (each symbol
//! takes at least one bit).
//!
//! ```
//! // An empty final block with the fixed codes, and an 'a' stored.
//! let b = bulwark_deflate::block_at(&[0x03, 0x00], 0).unwrap();
//! assert!(b.last);
//! assert_eq!((b.end, b.out_len), (10, 0));
//! let stored = [0x01, 0x01, 0x00, 0xfe, 0xff, b'a'];
//! let b = bulwark_deflate::block_at(&stored, 0).unwrap();
//! assert_eq!((b.kind, b.end, b.out_len), (bulwark_deflate::Kind::Stored, 48, 1));
//! ```

mod bits;
pub mod gzip;
mod huffman;
pub mod splice;

use bits::Bits;
use huffman::{Huffman, Table};

/// A malformed or truncated deflate stream.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid deflate data at bit {at}: {what}")]
pub struct Error {
    /// The bit (from the start of the slice) where reading stopped.
    pub at: u64,
    pub what: &'static str,
}

/// How a block codes its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Raw bytes after a byte-aligned length: its bits depend on the block's
    /// alignment, so it can only be moved by a multiple of eight bits.
    Stored,
    /// The fixed Huffman codes of RFC 1951 §3.2.6.
    Fixed,
    /// Codes given in the block's own header.
    Dynamic,
}

/// One block of a deflate stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// The bit where the block's header starts (bits count from the least
    /// significant bit of the slice's first byte, as deflate packs them).
    pub start: u64,
    /// The bit just after its end-of-block code (or its stored bytes).
    pub end: u64,
    /// The stream's last block (BFINAL).
    pub last: bool,
    pub kind: Kind,
    /// The bytes it decodes to.
    pub out_len: u64,
    /// How many bytes before its own first byte it copies from: 0 when it
    /// refers only to itself.
    pub reach: u32,
}

/// Length codes 257..=285: base length and extra bits.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distance codes 0..=29: base distance and extra bits.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order the code length code's lengths come in.
const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Reads the block whose header starts at bit `start` of `data`: where it
/// ends, what it decodes to and how far back it reaches.
///
/// # Errors
/// The bits there are not a whole, valid deflate block.
pub fn block_at(data: &[u8], start: u64) -> Result<Block, Error> {
    let mut b = Bits::new(data, start)?;
    let last = b.take(1)? == 1;
    let (kind, out_len, reach) = match b.take(2)? {
        0 => {
            b.align();
            let len = b.take(16)?;
            let nlen = b.take(16)?;
            if len != !nlen & 0xffff {
                return Err(b.error("a stored block's length and its complement disagree"));
            }
            b.skip(u64::from(len) * 8)?;
            (Kind::Stored, u64::from(len), 0)
        }
        1 => {
            let (lit, dist) = huffman::fixed();
            let (n, r) = symbols(&mut b, lit, dist)?;
            (Kind::Fixed, n, r)
        }
        2 => {
            let (lit, dist) = dynamic_codes(&mut b)?;
            let (n, r) = symbols(&mut b, &lit, &dist)?;
            (Kind::Dynamic, n, r)
        }
        _ => return Err(b.error("block type 3 is reserved")),
    };
    Ok(Block {
        start,
        end: b.pos(),
        last,
        kind,
        out_len,
        reach,
    })
}

/// The blocks from bit `start` on, through the last one (BFINAL) or the
/// first error, which ends the iteration.
pub fn blocks(data: &[u8], start: u64) -> Blocks<'_> {
    Blocks {
        data,
        next: Some(start),
    }
}

/// The iterator [`blocks`] returns.
#[derive(Debug)]
pub struct Blocks<'a> {
    data: &'a [u8],
    next: Option<u64>,
}

impl Iterator for Blocks<'_> {
    type Item = Result<Block, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        let at = self.next.take()?;
        let r = block_at(self.data, at);
        if let Ok(b) = &r
            && !b.last
        {
            self.next = Some(b.end);
        }
        Some(r)
    }
}

/// A dynamic block's header: its literal/length and distance codes.
fn dynamic_codes(b: &mut Bits<'_>) -> Result<(Huffman, Huffman), Error> {
    let nlit = b.take(5)? as usize + 257;
    let ndist = b.take(5)? as usize + 1;
    let ncl = b.take(4)? as usize + 4;
    if nlit > 286 || ndist > 30 {
        return Err(b.error("more than 286 length or 30 distance codes"));
    }
    let mut cl = [0u8; 19];
    for &i in &CL_ORDER[..ncl] {
        cl[i] = b.take(3)? as u8;
    }
    let cl = Huffman::new(&cl, Table::CodeLengths).map_err(|what| b.error(what))?;
    let mut lens = [0u8; 286 + 30];
    let mut i = 0;
    while i < nlit + ndist {
        let sym = cl.decode(b)?;
        let (value, times) = match sym {
            0..=15 => (sym as u8, 1),
            16 => {
                let Some(&prev) = i.checked_sub(1).map(|p| &lens[p]) else {
                    return Err(b.error("a repeat code with no length before it"));
                };
                (prev, 3 + b.take(2)? as usize)
            }
            17 => (0, 3 + b.take(3)? as usize),
            _ => (0, 11 + b.take(7)? as usize),
        };
        if i + times > nlit + ndist {
            return Err(b.error("code lengths repeated past the last code"));
        }
        lens[i..i + times].fill(value);
        i += times;
    }
    if lens[256] == 0 {
        return Err(b.error("no end-of-block code"));
    }
    let lit = Huffman::new(&lens[..nlit], Table::Lengths).map_err(|what| b.error(what))?;
    let dist =
        Huffman::new(&lens[nlit..nlit + ndist], Table::Distances).map_err(|what| b.error(what))?;
    Ok((lit, dist))
}

/// A block's symbols up to its end-of-block code: the bytes they stand
/// for and how far before the block they reach.
fn symbols(b: &mut Bits<'_>, lit: &Huffman, dist: &Huffman) -> Result<(u64, u32), Error> {
    let mut out: u64 = 0;
    let mut reach: u64 = 0;
    loop {
        let sym = lit.decode(b)?;
        if sym < 256 {
            out += 1;
            continue;
        }
        if sym == 256 {
            return Ok((out, reach as u32));
        }
        let l = usize::from(sym - 257);
        if l >= LEN_BASE.len() {
            return Err(b.error("length code 286 or 287"));
        }
        let len = u64::from(LEN_BASE[l]) + u64::from(b.take(u32::from(LEN_EXTRA[l]))?);
        let d = usize::from(dist.decode(b)?);
        if d >= DIST_BASE.len() {
            return Err(b.error("distance code 30 or 31"));
        }
        let distance = u64::from(DIST_BASE[d]) + u64::from(b.take(u32::from(DIST_EXTRA[d]))?);
        reach = reach.max(distance.saturating_sub(out));
        out += len;
    }
}

#[cfg(test)]
mod tests;
