//! Inflating gzip (RFC 1952, any number of members) while noting where each
//! deflate block ends, to the byte: the index [`crate::splice`] needs to
//! find blocks again later without inflating from the start.

use std::io::{self, Read};

use zlib_rs::{Inflate, InflateFlush, Status};

/// Where zlib stopped after a block: `byte` is the blob offset just past
/// the last byte it read (the block ends in the byte before, or exactly
/// there), `out` the uncompressed offset (from the start of the stream).
/// `gap`: block ends between the edge before (or the member's start) and
/// this one may not be recorded, so the two need not bound one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub byte: u64,
    pub out: u64,
    pub gap: bool,
}

/// One gzip member: its deflate data starts at byte `data_start` of the
/// blob (bit 0 of that byte) and uncompressed offset `out_start`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    pub data_start: u64,
    pub out_start: u64,
    /// Block ends zlib reported, in order; the last is the end of the
    /// member's last block. Some ends are missing (zlib reports an end
    /// only when it stops there with room left, and ends less than
    /// [`MIN_EDGE`] bytes of output apart are not kept: the index stays
    /// small whatever the blob), and the edge after a missing one says so
    /// (`gap`); none is false.
    pub edges: Vec<Edge>,
}

/// The members of a gzip stream and their block ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GzipIndex {
    pub members: Vec<Member>,
}

/// Longest gzip header accepted (file name and comment included).
const MAX_HEADER: usize = 64 << 10;

/// Compressed input kept ready for zlib, at least (where there is more).
const TOP_UP: usize = 1 << 20;

/// Output between two kept edges, at least (the last edge of a member is
/// always kept).
pub const MIN_EDGE: u64 = 4 << 10;

/// Members indexed, at most; later ones are read and checked, not indexed
/// (a blob of tiny members must not make the index outgrow it).
pub const MAX_MEMBERS: usize = 1 << 16;

/// A reader of the uncompressed bytes of a gzip stream that checks every
/// member's CRC-32 and length, and records a [`GzipIndex`] on the way.
pub struct IndexingGzip<R> {
    inner: R,
    buf: Vec<u8>,
    /// Unread input is `buf[pos..end]`; `base` blob bytes came before `buf`.
    pos: usize,
    end: usize,
    base: u64,
    eof: bool,
    inflate: Inflate,
    in_member: bool,
    done: bool,
    /// Since the last kept edge (or the member's start), zlib stopped only
    /// at block ends that were kept.
    clean: bool,
    /// The member being read is in the index.
    indexing: bool,
    crc: u32,
    member_out: u64,
    out: u64,
    index: GzipIndex,
}

impl<R> std::fmt::Debug for IndexingGzip<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexingGzip")
            .field("members", &self.index.members.len())
            .field("out", &self.out)
            .finish_non_exhaustive()
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl<R: Read> IndexingGzip<R> {
    pub fn new(inner: R) -> Self {
        IndexingGzip {
            inner,
            // Where zlib stops (and so which block ends are kept) depends
            // on this size and on the sizes the caller reads: both are
            // constants, so the index depends only on the blob.
            buf: vec![0; 256 << 10],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            inflate: Inflate::new(false, 15),
            in_member: false,
            done: false,
            clean: true,
            indexing: false,
            crc: 0,
            member_out: 0,
            out: 0,
            index: GzipIndex::default(),
        }
    }

    /// The index so far (complete once the reader has returned 0).
    pub fn index(&self) -> &GzipIndex {
        &self.index
    }

    /// The reader it wraps (positioned after the last member once the
    /// reader has returned 0) and the index.
    pub fn into_parts(self) -> (R, GzipIndex) {
        (self.inner, self.index)
    }

    /// The blob offset of `buf[pos]`.
    fn at(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Makes at least `n` unread bytes available; false at the end of the
    /// input with fewer.
    fn need(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.pos < n {
            if self.eof {
                return Ok(false);
            }
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.end, 0);
                self.base += self.pos as u64;
                self.end -= self.pos;
                self.pos = 0;
            }
            if self.end == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads a member header; false at the end of the input.
    fn header(&mut self) -> io::Result<bool> {
        if !self.need(1)? {
            if self.index.members.is_empty() {
                return Err(invalid("the gzip stream is empty".into()));
            }
            return Ok(false);
        }
        let at = self.at();
        let short = || invalid(format!("the gzip header at byte {at} is cut short"));
        if !self.need(10)? {
            return Err(short());
        }
        let h = &self.buf[self.pos..self.pos + 10];
        if h[..3] != [0x1f, 0x8b, 8] {
            return Err(invalid(format!(
                "byte {at} should start a gzip member (1f 8b 08) and holds {:02x} {:02x} {:02x}",
                h[0], h[1], h[2]
            )));
        }
        let flags = h[3];
        if flags & 0xe0 != 0 {
            return Err(invalid(format!(
                "the gzip header at byte {at} sets reserved flags ({flags:#04x})"
            )));
        }
        let mut len = 10;
        if flags & 4 != 0 {
            if !self.need(len + 2)? {
                return Err(short());
            }
            let x = &self.buf[self.pos + len..];
            len += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
        }
        for flag in [8u8, 16] {
            if flags & flag != 0 {
                // A NUL-terminated name or comment.
                loop {
                    if len >= MAX_HEADER {
                        return Err(invalid(format!(
                            "the gzip header at byte {at} is longer than {MAX_HEADER} bytes"
                        )));
                    }
                    if !self.need(len + 1)? {
                        return Err(short());
                    }
                    len += 1;
                    if self.buf[self.pos + len - 1] == 0 {
                        break;
                    }
                }
            }
        }
        if flags & 2 != 0 {
            if !self.need(len + 2)? {
                return Err(short());
            }
            // The header's own CRC-16 (the low half of its CRC-32).
            let b = &self.buf[self.pos..self.pos + len + 2];
            let want = u16::from_le_bytes([b[len], b[len + 1]]);
            let found = zlib_rs::crc32::crc32(0, &b[..len]) as u16;
            if want != found {
                return Err(invalid(format!(
                    "the gzip header at byte {at} says CRC-16 {want:04x}; it has {found:04x}"
                )));
            }
            len += 2;
        }
        if !self.need(len)? {
            return Err(short());
        }
        self.pos += len;
        self.indexing = self.index.members.len() < MAX_MEMBERS;
        if self.indexing {
            self.index.members.push(Member {
                data_start: self.at(),
                out_start: self.out,
                edges: Vec::new(),
            });
        }
        self.clean = true;
        self.inflate.reset(false);
        self.crc = 0;
        self.member_out = 0;
        self.in_member = true;
        Ok(true)
    }

    /// Checks the member's CRC-32 and length after its last block.
    fn trailer(&mut self) -> io::Result<()> {
        let at = self.at();
        if !self.need(8)? {
            return Err(invalid(format!(
                "the gzip member ending at byte {at} has no trailer (CRC-32 and length)"
            )));
        }
        let t = &self.buf[self.pos..self.pos + 8];
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let len = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        if crc != self.crc || len != self.member_out as u32 {
            return Err(invalid(format!(
                "the gzip member ending at byte {at} says CRC-32 {crc:08x} and length {len} (mod 2^32); its data has {:08x} and {}",
                self.crc, self.member_out
            )));
        }
        self.pos += 8;
        self.in_member = false;
        Ok(())
    }
}

impl<R: Read> Read for IndexingGzip<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < out.len() && !self.done {
            if !self.in_member {
                if !self.header()? {
                    self.done = true;
                }
                continue;
            }
            // Input for a whole block, mostly: where zlib runs out of input
            // a block end cannot be told.
            if self.end - self.pos < TOP_UP {
                self.need(TOP_UP)?;
            }
            if self.pos == self.end && !self.need(1)? {
                return Err(invalid(format!(
                    "the gzip stream ends inside a member, at byte {}",
                    self.at()
                )));
            }
            let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self
                .inflate
                .decompress(
                    &self.buf[self.pos..self.end],
                    &mut out[filled..],
                    InflateFlush::Block,
                )
                .map_err(|e| {
                    invalid(format!(
                        "invalid deflate data in the gzip member at byte {}: {}",
                        self.at(),
                        e.as_str()
                    ))
                })?;
            let used = (self.inflate.total_in() - in0) as usize;
            let made = (self.inflate.total_out() - out0) as usize;
            self.crc = zlib_rs::crc32::crc32(self.crc, &out[filled..filled + made]);
            self.pos += used;
            filled += made;
            self.out += made as u64;
            self.member_out += made as u64;
            let at = self.at();
            let member = self.index.members.last_mut().filter(|_| self.indexing);
            // Input and room left: zlib stopped at the end of a block.
            let block_end = status == Status::StreamEnd
                || (status == Status::Ok && self.pos < self.end && filled < out.len());
            if !block_end {
                self.clean = false;
            } else if let Some(m) = member
                // zlib may stop again where it stopped.
                && m.edges.last().is_none_or(|e| e.byte != at)
            {
                let from = m.edges.last().map_or(m.out_start, |e| e.out);
                if status == Status::StreamEnd || self.out - from >= MIN_EDGE {
                    m.edges.push(Edge {
                        byte: at,
                        out: self.out,
                        gap: !self.clean,
                    });
                    self.clean = true;
                } else {
                    self.clean = false;
                }
            }
            if status == Status::StreamEnd {
                self.trailer()?;
            }
        }
        Ok(filled)
    }
}
