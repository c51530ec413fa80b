//! Tar entries with their extended names, read under bounds.
//!
//! The `tar` crate reads GNU long names (`L`, `K`) and PAX extended headers
//! (`x`) whole into memory before it yields the entry they describe: a 1 MB
//! layer whose long-name entry claims 1000 MiB made it allocate gigabytes.
//! [`SafeEntries`] reads the archive raw and handles those headers itself,
//! refusing any larger than [`MAX_NAME`] / [`MAX_PAX`] before reading a byte
//! of them. GNU sparse entries and PAX `size` records (which change how much
//! data follows a header) are refused rather than misread.

use std::io::{self, Read};

pub use bulwark_limits::{MAX_NAME, MAX_PAX};

/// An entry and the names and ids that extension headers gave it.
#[allow(missing_debug_implementations)] // tar::Entry has no Debug
pub struct SafeEntry<'a, R: Read> {
    /// The entry itself (its data is read through it).
    pub entry: tar::Entry<'a, R>,
    /// The path: a GNU long name or PAX `path` when present, else the header's.
    pub path: Vec<u8>,
    /// The link target: GNU long link or PAX `linkpath`, else the header's.
    pub link: Option<Vec<u8>>,
    /// uid (PAX `uid` over the header's).
    pub uid: u64,
    /// gid (PAX `gid` over the header's).
    pub gid: u64,
    /// The raw `security.capability` extended attribute (PAX
    /// `SCHILY.xattr.security.capability`): file capabilities, which grant
    /// privileges at exec as a setuid bit does.
    pub caps: Option<Vec<u8>>,
}

/// Iterates a tar archive's entries, with long names and PAX records
/// applied and bounded. Errors are `InvalidData` with a message naming the
/// limit or the unsupported feature.
#[allow(missing_debug_implementations)] // tar::Entries has no Debug
pub struct SafeEntries<'a, R: 'a + Read> {
    inner: tar::Entries<'a, R>,
}

impl<'a, R: Read> SafeEntries<'a, R> {
    /// Entries of `archive`, read raw.
    ///
    /// # Errors
    /// The archive cannot be started.
    pub fn new(archive: &'a mut tar::Archive<R>) -> io::Result<Self> {
        Ok(Self {
            inner: archive.entries()?.raw(true),
        })
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Reads an extension header's data, refusing it unread when it is larger
/// than `limit`.
fn read_ext<R: Read>(e: &mut tar::Entry<'_, R>, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    let size = e.size();
    if size > limit {
        return Err(invalid(format!(
            "a {what} of {size} bytes, over the {} allowed",
            bulwark_limits::human(limit)
        )));
    }
    let mut v = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    e.take(limit).read_to_end(&mut v)?;
    // GNU long names end with a NUL.
    if v.last() == Some(&0) {
        v.pop();
    }
    Ok(v)
}

/// The PAX records this reader applies.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    uid: Option<u64>,
    gid: Option<u64>,
    caps: Option<Vec<u8>>,
}

fn parse_pax(data: &[u8]) -> io::Result<Pax> {
    let mut pax = Pax::default();
    let mut rest = data;
    while !rest.is_empty() {
        // "LEN KEY=VALUE\n", LEN counting the whole record.
        let sp = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| invalid("malformed PAX record (no length)".into()))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&l| l > sp + 1 && l <= rest.len())
            .ok_or_else(|| invalid("malformed PAX record length".into()))?;
        let record = &rest[sp + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| invalid("malformed PAX record (no '=')".into()))?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        let number = || {
            std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "PAX {} is not a number",
                        String::from_utf8_lossy(key)
                    ))
                })
        };
        match key {
            b"path" => pax.path = Some(value.to_vec()),
            b"linkpath" => pax.link = Some(value.to_vec()),
            b"uid" => pax.uid = Some(number()?),
            b"gid" => pax.gid = Some(number()?),
            // An empty value deletes the record (POSIX pax).
            b"SCHILY.xattr.security.capability" => {
                pax.caps = (!value.is_empty()).then(|| value.to_vec());
            }
            b"size" => {
                return Err(invalid(
                    "a PAX size record (entries over 8 GiB) is not supported".into(),
                ));
            }
            k if k.starts_with(b"GNU.sparse") => {
                return Err(invalid("GNU sparse files are not supported".into()));
            }
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok(pax)
}

impl<'a, R: Read> Iterator for SafeEntries<'a, R> {
    type Item = io::Result<SafeEntry<'a, R>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<Pax> = None;
        let mut pending = false;
        loop {
            let mut e = match self.inner.next() {
                Some(Ok(e)) => e,
                Some(Err(err)) => return Some(Err(err)),
                None if pending => {
                    return Some(Err(invalid(
                        "an extension header describes an entry that never comes".into(),
                    )));
                }
                None => return None,
            };
            let t = e.header().entry_type();
            let step = if t.is_gnu_longname() {
                if long_name.is_some() {
                    Err(invalid("two long names for one entry".into()))
                } else {
                    read_ext(&mut e, MAX_NAME, "GNU long name").map(|v| long_name = Some(v))
                }
            } else if t.is_gnu_longlink() {
                if long_link.is_some() {
                    Err(invalid("two long link names for one entry".into()))
                } else {
                    read_ext(&mut e, MAX_NAME, "GNU long link name").map(|v| long_link = Some(v))
                }
            } else if t.is_pax_local_extensions() {
                if pax.is_some() {
                    Err(invalid("two PAX headers for one entry".into()))
                } else {
                    read_ext(&mut e, MAX_PAX, "PAX header")
                        .and_then(|d| parse_pax(&d))
                        .map(|p| pax = Some(p))
                }
            } else if t.is_pax_global_extensions() {
                // Global records (a comment, a default mtime) change nothing we read.
                read_ext(&mut e, MAX_PAX, "PAX global header").map(drop)
            } else if t.is_gnu_sparse() {
                Err(invalid("GNU sparse files are not supported".into()))
            } else {
                let pax = pax.take().unwrap_or_default();
                let path = pax
                    .path
                    .or(long_name.take())
                    .unwrap_or_else(|| e.path_bytes().into_owned());
                let link = pax
                    .link
                    .or(long_link.take())
                    .or_else(|| e.link_name_bytes().map(|b| b.into_owned()));
                if path.len() as u64 > MAX_NAME
                    || link.as_ref().is_some_and(|l| l.len() as u64 > MAX_NAME)
                {
                    return Some(Err(invalid(format!(
                        "a name over the {MAX_NAME} bytes allowed"
                    ))));
                }
                let uid = pax.uid.unwrap_or_else(|| e.header().uid().unwrap_or(0));
                let gid = pax.gid.unwrap_or_else(|| e.header().gid().unwrap_or(0));
                return Some(Ok(SafeEntry {
                    entry: e,
                    path,
                    link,
                    uid,
                    gid,
                    caps: pax.caps,
                }));
            };
            if let Err(err) = step {
                return Some(Err(err));
            }
            pending = true;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn header(name: &[u8], t: tar::EntryType, size: u64) -> [u8; 512] {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(t);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        *h.as_bytes()
    }

    fn pad(data: &[u8]) -> Vec<u8> {
        let mut v = data.to_vec();
        v.resize(data.len().div_ceil(512) * 512, 0);
        v
    }

    fn names(tar: &[u8]) -> io::Result<Vec<(String, Option<String>, u64)>> {
        let mut a = tar::Archive::new(tar);
        SafeEntries::new(&mut a)?
            .map(|e| {
                e.map(|e| {
                    (
                        String::from_utf8_lossy(&e.path).into_owned(),
                        e.link.map(|l| String::from_utf8_lossy(&l).into_owned()),
                        e.uid,
                    )
                })
            })
            .collect()
    }

    #[test]
    fn long_names_links_and_pax_records_apply_to_the_next_entry() {
        let long = "d/".repeat(200) + "file";
        let mut t = Vec::new();
        t.extend(header(
            b"././@LongLink",
            tar::EntryType::GNULongName,
            long.len() as u64 + 1,
        ));
        t.extend(pad(format!("{long}\0").as_bytes()));
        t.extend(header(b"short", tar::EntryType::Regular, 0));
        let rec = |k: &str, v: &str| {
            // The length counts its own digits.
            let body = format!(" {k}={v}\n");
            let mut n = body.len() + 1;
            while n != body.len() + n.to_string().len() {
                n = body.len() + n.to_string().len();
            }
            format!("{n}{body}")
        };
        let pax = format!("{}{}", rec("linkpath", "target/x"), rec("uid", "4000000"));
        // A file capability, as GNU tar and Go's archive/tar write it (the
        // value is the raw attribute, binary).
        let caps =
            b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        let key = " SCHILY.xattr.security.capability=";
        let len = 2 + key.len() + caps.len() + 1;
        let mut cap_rec = format!("{len}{key}").into_bytes();
        cap_rec.extend_from_slice(caps);
        cap_rec.push(b'\n');
        assert_eq!(cap_rec.len(), len);
        t.extend(header(b"pax", tar::EntryType::XHeader, pax.len() as u64));
        t.extend(pad(pax.as_bytes()));
        t.extend(header(b"ln", tar::EntryType::Symlink, 0));
        t.extend(header(
            b"pax",
            tar::EntryType::XHeader,
            cap_rec.len() as u64,
        ));
        t.extend(pad(&cap_rec));
        t.extend(header(b"ping", tar::EntryType::Regular, 0));
        t.extend([0u8; 1024]);
        let got = names(&t).unwrap();
        assert_eq!(got[0], (long, None, 0));
        assert_eq!(got[1], ("ln".into(), Some("target/x".into()), 4_000_000));
        assert_eq!(got[2], ("ping".into(), None, 0));
        let mut a = tar::Archive::new(&t[..]);
        let caps_of: Vec<Option<Vec<u8>>> = SafeEntries::new(&mut a)
            .unwrap()
            .map(|e| e.unwrap().caps)
            .collect();
        assert_eq!(caps_of, [None, None, Some(caps.to_vec())]);
    }

    #[test]
    fn regression_a_huge_long_name_is_refused_unread() {
        // The header claims 1000 MiB; only the header is there. Reading it
        // would allocate the lot (the tar crate does).
        let mut t = Vec::new();
        t.extend(header(
            b"././@LongLink",
            tar::EntryType::GNULongName,
            1000 << 20,
        ));
        t.extend([0u8; 512]);
        let err = names(&t).unwrap_err().to_string();
        assert!(
            err.contains("GNU long name of 1048576000 bytes, over the 4 KiB allowed"),
            "{err}"
        );
        let mut t = Vec::new();
        t.extend(header(b"pax", tar::EntryType::XHeader, 100 << 20));
        let err = names(&t).unwrap_err().to_string();
        assert!(err.contains("over the 64 KiB allowed"), "{err}");
    }

    #[test]
    fn sparse_and_dangling_headers_are_errors() {
        let mut t = Vec::new();
        t.extend(header(b"s", tar::EntryType::GNUSparse, 0));
        t.extend([0u8; 1024]);
        assert!(names(&t).unwrap_err().to_string().contains("sparse"));
        let mut t = Vec::new();
        t.extend(header(b"././@LongLink", tar::EntryType::GNULongName, 2));
        t.extend(pad(b"a\0"));
        t.extend([0u8; 1024]);
        assert!(names(&t).unwrap_err().to_string().contains("never comes"));
        let pax = "13 size=9999\n";
        let mut t = Vec::new();
        t.extend(header(b"pax", tar::EntryType::XHeader, pax.len() as u64));
        t.extend(pad(pax.as_bytes()));
        assert!(names(&t).unwrap_err().to_string().contains("PAX size"));
    }
}
