//! gzip members read one after another, without their CRC-32.
//!
//! Indexes are checked by the sha256 that the signed Release gives for the
//! compressed file, which is stronger than a CRC-32 and covers every byte,
//! so the CRC (zlib-rs computes it with a table-driven loop, about 10% of
//! inflating `Packages`) adds nothing. Header and member framing are still
//! checked, and each member's length (ISIZE) is compared.

use std::io::{self, BufRead, Read};

use flate2::bufread::DeflateDecoder;

/// A reader of the concatenated members of a gzip file.
pub(crate) struct GzipMembers<R: BufRead> {
    state: State<R>,
}

enum State<R: BufRead> {
    /// Between members (or before the first): the next byte starts a header.
    Between(R, bool),
    Member(DeflateDecoder<R>, u32),
    Done,
}

impl<R: BufRead> GzipMembers<R> {
    pub(crate) fn new(inner: R) -> Self {
        GzipMembers {
            state: State::Between(inner, true),
        }
    }
}

fn bad(reason: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("gzip: {reason}"))
}

fn read_u8(r: &mut impl BufRead) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)
        .map_err(|_| bad("truncated member header"))?;
    Ok(b[0])
}

/// Skips a zero-terminated header field (FNAME, FCOMMENT).
fn skip_cstr(r: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Err(bad("truncated member header"));
        }
        if let Some(i) = buf.iter().position(|&b| b == 0) {
            r.consume(i + 1);
            return Ok(());
        }
        let n = buf.len();
        r.consume(n);
    }
}

/// Reads one member header (RFC 1952 section 2.3).
fn read_header(r: &mut impl BufRead) -> io::Result<()> {
    let mut fixed = [0u8; 10];
    r.read_exact(&mut fixed)
        .map_err(|_| bad("truncated member header"))?;
    if fixed[..3] != [0x1f, 0x8b, 8] {
        return Err(bad("not a gzip member (bad magic or method)"));
    }
    let flags = fixed[3];
    if flags & 0xe0 != 0 {
        return Err(bad("reserved header flags are set"));
    }
    if flags & 0x04 != 0 {
        let len = u16::from(read_u8(r)?) | (u16::from(read_u8(r)?) << 8);
        io::copy(&mut r.by_ref().take(u64::from(len)), &mut io::sink())?;
    }
    if flags & 0x08 != 0 {
        skip_cstr(r)?;
    }
    if flags & 0x10 != 0 {
        skip_cstr(r)?;
    }
    if flags & 0x02 != 0 {
        read_u8(r)?;
        read_u8(r)?;
    }
    Ok(())
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Ok(0),
                State::Between(mut r, first) => {
                    if !first && r.fill_buf()?.is_empty() {
                        return Ok(0);
                    }
                    read_header(&mut r)?;
                    self.state = State::Member(DeflateDecoder::new(r), 0);
                }
                State::Member(mut d, len) => {
                    if buf.is_empty() {
                        self.state = State::Member(d, len);
                        return Ok(0);
                    }
                    let n = d.read(buf)?;
                    if n > 0 {
                        // ISIZE is the length modulo 2^32.
                        self.state = State::Member(d, len.wrapping_add(n as u32));
                        return Ok(n);
                    }
                    let mut r = d.into_inner();
                    let mut trailer = [0u8; 8];
                    r.read_exact(&mut trailer)
                        .map_err(|_| bad("truncated member trailer"))?;
                    let isize =
                        u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
                    if isize != len {
                        return Err(bad(&format!(
                            "member length {len} does not match its trailer ({isize})"
                        )));
                    }
                    self.state = State::Between(r, false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8], name: Option<&str>) -> Vec<u8> {
        let mut b = flate2::GzBuilder::new();
        if let Some(n) = name {
            b = b.filename(n).comment("c").extra(vec![1, 2, 3]);
        }
        let mut e = b.write(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn read_all(data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        GzipMembers::new(io::BufReader::with_capacity(7, data)).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn reads_every_member_and_every_header_field() {
        let mut file = gz(b"first member\n", Some("Packages"));
        file.extend(gz(&b"second ".repeat(10_000), None));
        file.extend(gz(b"", None));
        let mut want = b"first member\n".to_vec();
        want.extend(b"second ".repeat(10_000));
        assert_eq!(read_all(&file).unwrap(), want);
    }

    #[test]
    fn framing_errors_are_reported() {
        let good = gz(b"hello world", None);
        for (data, reason) in [
            (&good[..good.len() - 3], "trailer"),
            (&good[..good.len() - 12], "deflate"),
            (&good[..5], "header"),
            (&b"PK\x03\x04 not gzip"[..], "not a gzip member"),
            (&[][..], "header"),
        ] {
            let e = read_all(data).unwrap_err().to_string();
            assert!(e.contains(reason), "{e}");
        }
        let mut wrong_len = good.clone();
        let n = wrong_len.len();
        wrong_len[n - 4] ^= 1;
        assert!(
            read_all(&wrong_len)
                .unwrap_err()
                .to_string()
                .contains("length")
        );
        let mut trailing = good;
        trailing.extend_from_slice(b"junk after the member");
        assert!(read_all(&trailing).is_err());
    }
}
