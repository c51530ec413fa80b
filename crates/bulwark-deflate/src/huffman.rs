//! Canonical Huffman codes (RFC 1951 §3.2.2), decoded through a table for
//! the short codes and by counting for the long ones.

use std::sync::OnceLock;

use crate::Error;
use crate::bits::Bits;

/// Codes up to this many bits are decoded in one look-up.
const FAST: u32 = 10;
const MAX: usize = 15;

/// Which code: they differ in what zlib accepts as incomplete.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    CodeLengths,
    Lengths,
    Distances,
}

pub(crate) struct Huffman {
    /// Indexed by the next [`FAST`] bits: `symbol << 4 | length`, 0 when the
    /// code is longer.
    fast: Vec<u16>,
    /// Codes of each length.
    count: [u16; MAX + 1],
    /// Symbols in code order.
    symbols: Vec<u16>,
}

impl Huffman {
    /// The code with these lengths (0: the symbol is not used). Refuses an
    /// over-subscribed set, and an incomplete one except where zlib takes
    /// it: a single one-bit literal/length or distance code, or no codes.
    pub(crate) fn new(lengths: &[u8], table: Table) -> Result<Huffman, &'static str> {
        let mut count = [0u16; MAX + 1];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = (left << 1) - i32::from(c);
            if left < 0 {
                return Err("an over-subscribed Huffman code");
            }
        }
        let used: u16 = count.iter().sum();
        let one_short_code = used == 1 && count[1] == 1;
        if left > 0 && used > 0 && (table == Table::CodeLengths || !one_short_code) {
            return Err("an incomplete Huffman code");
        }
        let mut offset = [0u16; MAX + 2];
        for l in 1..=MAX {
            offset[l + 1] = offset[l] + count[l];
        }
        let mut symbols = vec![0u16; usize::from(used)];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                let o = &mut offset[usize::from(l)];
                symbols[usize::from(*o)] = sym as u16;
                *o += 1;
            }
        }
        // The table: each code, bit-reversed (deflate sends a code's most
        // significant bit first), and every way of filling the bits after it.
        let mut fast = vec![0u16; 1 << FAST];
        let mut code: u32 = 0;
        let mut next = 0usize;
        for l in 1..=MAX as u32 {
            for _ in 0..count[l as usize] {
                if l <= FAST {
                    let rev = code.reverse_bits() >> (32 - l);
                    let entry = (symbols[next] << 4) | l as u16;
                    let mut i = rev;
                    while i < 1 << FAST {
                        fast[i as usize] = entry;
                        i += 1 << l;
                    }
                }
                code += 1;
                next += 1;
            }
            code <<= 1;
        }
        Ok(Huffman {
            fast,
            count,
            symbols,
        })
    }

    /// The next symbol.
    #[inline]
    pub(crate) fn decode(&self, b: &mut Bits<'_>) -> Result<u16, Error> {
        let bits = b.peek(MAX as u32);
        let e = self.fast[(bits & ((1 << FAST) - 1)) as usize];
        if e != 0 {
            b.skip(u64::from(e & 15))?;
            return Ok(e >> 4);
        }
        // Longer than FAST bits: count through the lengths (as zlib's puff).
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for l in 1..=MAX {
            code |= ((bits >> (l - 1)) & 1) as i32;
            let c = i32::from(self.count[l]);
            if code - c < first {
                b.skip(l as u64)?;
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += c;
            first = (first + c) << 1;
            code <<= 1;
        }
        Err(b.error("bits that are no code"))
    }
}

/// The fixed literal/length and distance codes.
pub(crate) fn fixed() -> (&'static Huffman, &'static Huffman) {
    static FIXED: OnceLock<(Huffman, Huffman)> = OnceLock::new();
    let (l, d) = FIXED.get_or_init(|| {
        let mut lit = [8u8; 288];
        lit[144..256].fill(9);
        lit[256..280].fill(7);
        // Lengths 286 and 287, and distances 30 and 31, take part in the
        // codes but never occur.
        let lit = Huffman::new(&lit, Table::Lengths);
        let dist = Huffman::new(&[5u8; 32], Table::Distances);
        match (lit, dist) {
            (Ok(l), Ok(d)) => (l, d),
            _ => unreachable!("the fixed codes are complete"),
        }
    });
    (l, d)
}
