//! Reading bits the way deflate packs them: least significant first.

use crate::Error;

pub(crate) struct Bits<'a> {
    data: &'a [u8],
    /// The next bit to read.
    pos: u64,
    /// Bits in `data`.
    len: u64,
}

impl<'a> Bits<'a> {
    pub(crate) fn new(data: &'a [u8], pos: u64) -> Result<Self, Error> {
        let len = data.len() as u64 * 8;
        if pos >= len {
            return Err(Error {
                at: pos,
                what: "the block starts past the end of the data",
            });
        }
        Ok(Bits { data, pos, len })
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    pub(crate) fn error(&self, what: &'static str) -> Error {
        Error { at: self.pos, what }
    }

    /// The next `n` bits (at most 32) without taking them; bits past the end
    /// of the data read as zero (taking them is the error).
    #[inline]
    pub(crate) fn peek(&self, n: u32) -> u32 {
        let byte = (self.pos >> 3) as usize;
        let word = match self.data.get(byte..byte + 8) {
            Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
            None => {
                let mut w = [0u8; 8];
                let rest = self.data.get(byte..).unwrap_or(&[]);
                w[..rest.len()].copy_from_slice(rest);
                u64::from_le_bytes(w)
            }
        };
        ((word >> (self.pos & 7)) & ((1u64 << n) - 1)) as u32
    }

    /// Takes `n` bits the caller has peeked.
    #[inline]
    pub(crate) fn skip(&mut self, n: u64) -> Result<(), Error> {
        if self.len - self.pos < n {
            self.pos = self.len;
            return Err(self.error("the data ends inside the block"));
        }
        self.pos += n;
        Ok(())
    }

    /// Takes the next `n` bits (at most 32) as a number.
    #[inline]
    pub(crate) fn take(&mut self, n: u32) -> Result<u32, Error> {
        let v = self.peek(n);
        self.skip(u64::from(n))?;
        Ok(v)
    }

    /// Skips to the next byte boundary (a stored block's length).
    pub(crate) fn align(&mut self) {
        self.pos = self.pos.next_multiple_of(8).min(self.len);
    }
}
