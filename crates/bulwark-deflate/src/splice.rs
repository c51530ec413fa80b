//! Writing deflate bit by bit: copying blocks of another stream, appending
//! a whole stream as non-final blocks, and empty blocks that move the bit
//! alignment, so that copied blocks land at the bit offset (mod 8) they had
//! in their source and stored blocks among them stay valid.

use crate::{Block, Error, block_at, blocks};

/// Deflate bits, least significant first, into bytes.
#[derive(Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits not yet in `bytes` (fewer than 8 between calls).
    acc: u64,
    n: u32,
}

impl BitWriter {
    pub fn new() -> Self {
        BitWriter::default()
    }

    /// Bits written so far.
    pub fn bit_len(&self) -> u64 {
        self.bytes.len() as u64 * 8 + u64::from(self.n)
    }

    /// Appends the low `bits` bits of `v` (at most 32).
    pub fn put(&mut self, v: u32, bits: u32) {
        if bits == 0 {
            return;
        }
        self.acc |= u64::from(v & (u32::MAX >> (32 - bits))) << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// Appends bits `from..to` of `src`. Whole bytes are copied as they are
    /// when the writer stands at the same bit offset (mod 8) as `from`.
    pub fn copy_bits(&mut self, src: &[u8], from: u64, to: u64) {
        let mut at = from;
        if u64::from(self.n) == at % 8 {
            // Top up the partial byte, then copy whole bytes.
            if self.n > 0 && at < to {
                let k = (8 - self.n).min((to - at) as u32);
                self.put(peek(src, at, k), k);
                at += u64::from(k);
            }
            if self.n == 0 && at.is_multiple_of(8) {
                let (a, b) = ((at / 8) as usize, (to / 8) as usize);
                if b > a {
                    self.bytes.extend_from_slice(&src[a..b]);
                    at = to - to % 8;
                }
            }
        }
        while at < to {
            let k = ((to - at) as u32).min(32);
            self.put(peek(src, at, k), k);
            at += u64::from(k);
        }
    }

    /// The bytes, the last one padded with zero bits.
    pub fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }

    /// An empty block with the fixed codes (10 bits).
    pub fn empty_fixed(&mut self, last: bool) {
        self.put(u32::from(last), 1);
        self.put(1, 2);
        self.put(0, 7);
    }

    /// An empty non-final block with codes of its own, 99 bits long: with
    /// [`BitWriter::empty_fixed`] (10 bits) it reaches every bit offset.
    /// Its literal/length code has one one-bit code (end of block) and its
    /// distance code none, which zlib and RFC 1951 accept.
    fn empty_dynamic(&mut self) {
        self.put(0, 1);
        self.put(2, 2);
        self.put(0, 5); // 257 literal/length codes
        self.put(0, 5); // 1 distance code
        self.put(14, 4); // 18 code length code lengths
        // In the order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1:
        // 18 -> 1 bit, 17 -> 2 bits, 0 and 1 -> 3 bits.
        let cl: [u32; 18] = [0, 2, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];
        for l in cl {
            self.put(l, 3);
        }
        // Canonical codes (sent most significant bit first): 18 = 0,
        // 17 = 10, 0 = 110, 1 = 111.
        let code = |w: &mut BitWriter, c: u32, len: u32| w.put(c.reverse_bits() >> (32 - len), len);
        // 256 zero lengths: 138 + 115 + 3.
        code(self, 0b0, 1);
        self.put(138 - 11, 7);
        code(self, 0b0, 1);
        self.put(115 - 11, 7);
        code(self, 0b10, 2);
        self.put(0, 3);
        // End of block: length 1; the distance code: length 0.
        code(self, 0b111, 3);
        code(self, 0b110, 3);
        // The block's only symbol: end of block (code 0, one bit).
        self.put(0, 1);
    }

    /// Empty non-final blocks until the writer stands at bit offset
    /// `residue` (mod 8).
    pub fn pad_to(&mut self, residue: u64) {
        let mut need = (residue + 8 - self.bit_len() % 8) % 8;
        if need % 2 == 1 {
            self.empty_dynamic();
            need = (need + 8 - 3) % 8;
        }
        for _ in 0..need / 2 {
            self.empty_fixed(false);
        }
    }

    /// Appends a whole deflate stream (as libdeflate writes one) as
    /// non-final blocks: its bits through the end of its last block, with
    /// that block's BFINAL bit cleared.
    ///
    /// # Errors
    /// `stream` is not a valid deflate stream.
    pub fn append_stream(&mut self, stream: &[u8]) -> Result<(), Error> {
        let mut last = None;
        for b in blocks(stream, 0) {
            last = Some(b?);
        }
        let Some(last) = last.filter(|b| b.last) else {
            return Err(Error {
                at: 0,
                what: "the stream has no last block",
            });
        };
        self.copy_bits(stream, 0, last.start);
        self.put(0, 1);
        self.copy_bits(stream, last.start + 1, last.end);
        Ok(())
    }
}

/// The `n` bits (at most 32) of `src` from bit `at` (zeros past its end).
fn peek(src: &[u8], at: u64, n: u32) -> u32 {
    let byte = (at / 8) as usize;
    let mut w = [0u8; 8];
    let rest = src.get(byte..).unwrap_or(&[]);
    let k = rest.len().min(8);
    w[..k].copy_from_slice(&rest[..k]);
    ((u64::from_le_bytes(w) >> (at % 8)) & ((1u64 << n) - 1)) as u32
}

/// The block that starts where zlib stopped at byte `byte` of `data` (it
/// starts in the 8 bits before, or at `byte` itself), decodes to
/// `out_len` bytes and ends in the byte before `next_byte` (or exactly
/// there). `None` unless exactly one bit fits. When the two stops are
/// consecutive block ends (no [`gap`](crate::gzip::Edge::gap)), the true
/// block fits, so the answer is it or `None`, never another.
pub fn find_block(data: &[u8], byte: u64, out_len: u64, next_byte: u64) -> Option<Block> {
    let mut found = None;
    for back in 0..8u64 {
        let Some(bit) = byte.checked_mul(8).and_then(|b| b.checked_sub(back)) else {
            break;
        };
        if let Ok(b) = block_at(data, bit)
            && b.out_len == out_len
            && b.end.div_ceil(8) == next_byte
            && !b.last
        {
            if found.is_some() {
                return None;
            }
            found = Some(b);
        }
    }
    found
}
