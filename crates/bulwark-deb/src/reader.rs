//! The .deb container and the tar walk.

use std::collections::HashSet;
use std::io::{self, Read};

use md5::{Digest, Md5};

use crate::path::{normalize_entry_path, resolve_link_target};

/// Size limits that keep a hostile package from exhausting memory.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest single file inside a package.
    pub max_entry_size: u64,
    /// Largest total of decompressed data (catches decompression bombs).
    pub max_total_size: u64,
    /// Most entries in one archive.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entry_size: bulwark_limits::DEB_ENTRY,
            max_total_size: bulwark_limits::DEB_TOTAL,
            max_entries: bulwark_limits::DEB_ENTRIES,
        }
    }
}

/// Compression of a member tarball.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
}

/// What a data entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File(Vec<u8>),
    /// Target as written in the archive.
    Symlink(String),
    /// Normalised path of the earlier entry this one is a hard link to.
    Hardlink(String),
}

/// One validated entry of a package's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative, normalised path (`usr/bin/x`); the root itself is skipped.
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`0o7777` mask).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Modification time from the archive (seconds since the epoch).
    pub mtime: u64,
}

/// A package read in memory.
#[derive(Clone, Debug)]
pub struct Deb {
    /// `control` exactly as shipped (the distroless `status.d` contract needs it verbatim).
    pub control: Vec<u8>,
    /// `md5sums` as shipped, or computed from the data when the package has none.
    pub md5sums: Vec<u8>,
    pub conffiles: Option<Vec<u8>>,
    pub data_compression: Compression,
    pub entries: Vec<Entry>,
}

/// Why a package or tarball was rejected. `origin` names the file.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    #[error("{origin}: not a Debian package: {reason}")]
    NotADeb { origin: String, reason: String },
    #[error("{origin}: unsupported package format version {found:?} (expected \"2.0\")")]
    FormatVersion { origin: String, found: String },
    #[error("{origin}: member {member} uses an unsupported compression")]
    UnsupportedCompression { origin: String, member: String },
    #[error("{origin}: I/O error while reading {member}: {source}")]
    Io {
        origin: String,
        member: String,
        source: io::Error,
    },
    #[error("{origin}: entry {name:?} is unsafe: {reason}")]
    UnsafeEntry {
        origin: String,
        name: String,
        reason: String,
    },
    #[error(
        "{origin}: {what} exceeds the limit of {limit} bytes (found {found}); the archive may be a decompression bomb"
    )]
    TooLarge {
        origin: String,
        what: String,
        limit: u64,
        found: u64,
    },
    #[error("{origin}: more than {limit} entries")]
    TooManyEntries { origin: String, limit: usize },
    #[error("{origin}: control archive has no 'control' file")]
    NoControl { origin: String },
}

/// Reads a .deb from memory. `origin` (a file name or URL) is used in errors.
pub fn read_deb_named(bytes: &[u8], limits: &Limits, origin: &str) -> Result<Deb, DebError> {
    let not_deb = |reason: String| DebError::NotADeb {
        origin: origin.to_owned(),
        reason,
    };
    let mut version = None;
    let mut control_tar: Option<(String, &[u8])> = None;
    let mut data_tar: Option<(String, &[u8])> = None;
    for member in crate::ar::members(bytes).map_err(|e| not_deb(format!("bad ar archive: {e}")))? {
        let name = member.name.to_owned();
        let size = member.data.len() as u64;
        if size > limits.max_total_size {
            return Err(DebError::TooLarge {
                origin: origin.to_owned(),
                what: format!("member {name}"),
                limit: limits.max_total_size,
                found: size,
            });
        }
        if name == "debian-binary" {
            version = Some(String::from_utf8_lossy(member.data).trim().to_owned());
        } else if name.starts_with("control.tar") {
            control_tar = Some((name, member.data));
        } else if name.starts_with("data.tar") {
            data_tar = Some((name, member.data));
        }
    }
    match version.as_deref() {
        None => return Err(not_deb("no debian-binary member".into())),
        Some("2.0") => {}
        Some(v) => {
            return Err(DebError::FormatVersion {
                origin: origin.to_owned(),
                found: v.to_owned(),
            });
        }
    }
    let (cname, cbytes) = control_tar.ok_or_else(|| not_deb("no control.tar member".into()))?;
    let (dname, dbytes) = data_tar.ok_or_else(|| not_deb("no data.tar member".into()))?;

    let control_entries = read_tar_entries(
        decompressor(&cname, cbytes, origin)?,
        limits,
        &format!("{origin} ({cname})"),
    )?;
    let mut control = None;
    let mut md5sums = None;
    let mut conffiles = None;
    for e in control_entries {
        if let EntryKind::File(data) = e.kind {
            match e.path.as_str() {
                "control" => control = Some(data),
                "md5sums" => md5sums = Some(data),
                "conffiles" => conffiles = Some(data),
                _ => {}
            }
        }
    }
    let control = control.ok_or_else(|| DebError::NoControl {
        origin: origin.to_owned(),
    })?;
    let data_compression =
        compression_of(&dname).ok_or_else(|| DebError::UnsupportedCompression {
            origin: origin.to_owned(),
            member: dname.clone(),
        })?;
    let entries = read_tar_entries(
        decompressor(&dname, dbytes, origin)?,
        limits,
        &format!("{origin} ({dname})"),
    )?;
    let md5sums = match md5sums {
        Some(m) => m,
        None => compute_md5sums(&entries),
    };
    Ok(Deb {
        control,
        md5sums,
        conffiles,
        data_compression,
        entries,
    })
}

/// Reads a .deb from memory.
pub fn read_deb(bytes: &[u8], limits: &Limits) -> Result<Deb, DebError> {
    read_deb_named(bytes, limits, "package")
}

fn compression_of(name: &str) -> Option<Compression> {
    Some(match name.rsplit_once(".tar").map(|(_, ext)| ext)? {
        "" => Compression::None,
        ".gz" => Compression::Gzip,
        ".xz" => Compression::Xz,
        ".zst" => Compression::Zstd,
        _ => return None,
    })
}

fn decompressor<'a>(
    name: &str,
    bytes: &'a [u8],
    origin: &str,
) -> Result<Box<dyn Read + 'a>, DebError> {
    let unsupported = || DebError::UnsupportedCompression {
        origin: origin.to_owned(),
        member: name.to_owned(),
    };
    Ok(match compression_of(name).ok_or_else(unsupported)? {
        Compression::None => Box::new(bytes),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(bytes)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new(bytes)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(bytes).map_err(
            |e| DebError::Io {
                origin: origin.to_owned(),
                member: name.to_owned(),
                source: e,
            },
        )?),
    })
}

/// A reader that fails once more than `limit` bytes have come through.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other(format!(
                "decompressed data exceeds the limit of {} bytes",
                self.limit
            )));
        }
        Ok(n)
    }
}

/// Walks a (decompressed) tar stream and validates every entry.
///
/// Rejects: absolute names, `..`, NUL bytes, non-UTF-8 names, device nodes
/// and FIFOs, symlinks whose relative target leaves the root, hard links to
/// anything but an earlier regular file of the same archive, entries larger
/// than the limits.
pub fn read_tar_entries<R: Read>(
    reader: R,
    limits: &Limits,
    origin: &str,
) -> Result<Vec<Entry>, DebError> {
    let bounded = Bounded {
        inner: reader,
        read: 0,
        limit: limits.max_total_size,
    };
    let mut archive = tar::Archive::new(bounded);
    archive.set_ignore_zeros(false);
    let unsafe_entry = |name: &str, reason: &str| DebError::UnsafeEntry {
        origin: origin.to_owned(),
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    let io_err = |e: io::Error| {
        if e.to_string().contains("exceeds the limit") {
            DebError::TooLarge {
                origin: origin.to_owned(),
                what: "decompressed data".into(),
                limit: limits.max_total_size,
                found: limits.max_total_size + 1,
            }
        } else {
            DebError::Io {
                origin: origin.to_owned(),
                member: "tar stream".into(),
                source: e,
            }
        }
    };
    let mut out: Vec<Entry> = Vec::new();
    let mut regular: HashSet<String> = HashSet::new();
    for entry in crate::SafeEntries::new(&mut archive).map_err(io_err)? {
        let crate::SafeEntry {
            mut entry,
            path: raw_name,
            link: raw_link,
            uid,
            gid,
            // dpkg does not install extended attributes (maintainer
            // scripts run setcap), and neither does the build.
            caps: _,
        } = entry.map_err(io_err)?;
        if out.len() >= limits.max_entries {
            return Err(DebError::TooManyEntries {
                origin: origin.to_owned(),
                limit: limits.max_entries,
            });
        }
        let name = String::from_utf8(raw_name.clone()).map_err(|_| {
            unsafe_entry(
                &String::from_utf8_lossy(&raw_name),
                "name is not valid UTF-8",
            )
        })?;
        let path = normalize_entry_path(&name)
            .ok_or_else(|| unsafe_entry(&name, "absolute path, '..' component or NUL byte"))?;
        let header = entry.header();
        let mode = header.mode().map_err(io_err)? & 0o7777;
        let mtime = header.mtime().unwrap_or(0);
        let etype = header.entry_type();
        let size = entry.size();
        if size > limits.max_entry_size {
            return Err(DebError::TooLarge {
                origin: origin.to_owned(),
                what: format!("entry {name:?}"),
                limit: limits.max_entry_size,
                found: size,
            });
        }
        let kind = match etype {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let mut data = Vec::with_capacity(size.min(64 << 20) as usize);
                entry.read_to_end(&mut data).map_err(io_err)?;
                regular.insert(path.clone());
                EntryKind::File(data)
            }
            tar::EntryType::Symlink => {
                let target = link_name(raw_link.as_deref())
                    .ok_or_else(|| unsafe_entry(&name, "symlink without a UTF-8 target"))?;
                if resolve_link_target(&path, &target).is_none() {
                    return Err(unsafe_entry(
                        &name,
                        &format!("symlink target {target:?} escapes the root"),
                    ));
                }
                EntryKind::Symlink(target)
            }
            tar::EntryType::Link => {
                let target = link_name(raw_link.as_deref())
                    .ok_or_else(|| unsafe_entry(&name, "hard link without a UTF-8 target"))?;
                let t = normalize_entry_path(&target).ok_or_else(|| {
                    unsafe_entry(
                        &name,
                        &format!("hard link target {target:?} escapes the root"),
                    )
                })?;
                if !regular.contains(&t) {
                    return Err(unsafe_entry(
                        &name,
                        &format!(
                            "hard link target {target:?} is not an earlier regular file of this archive"
                        ),
                    ));
                }
                EntryKind::Hardlink(t)
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                return Err(unsafe_entry(&name, "device node"));
            }
            tar::EntryType::Fifo => return Err(unsafe_entry(&name, "FIFO")),
            tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => continue,
            other => {
                return Err(unsafe_entry(
                    &name,
                    &format!("unsupported entry type {other:?}"),
                ));
            }
        };
        if path.is_empty() {
            if kind == EntryKind::Dir {
                continue; // the root directory itself
            }
            return Err(unsafe_entry(&name, "non-directory entry for the root"));
        }
        out.push(Entry {
            path,
            kind,
            mode,
            uid,
            gid,
            mtime,
        });
    }
    // Read to the end of the compressed stream so that its integrity check
    // (xz/zstd checksums, gzip CRC) runs even after the tar end marker.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(io_err)?;
    Ok(out)
}

fn link_name(bytes: Option<&[u8]>) -> Option<String> {
    String::from_utf8(bytes?.to_vec()).ok()
}

/// `md5sums` in dpkg's format for packages that ship none.
fn compute_md5sums(entries: &[Entry]) -> Vec<u8> {
    let mut files: Vec<(&str, &[u8])> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::File(d) => Some((e.path.as_str(), d.as_slice())),
            _ => None,
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (p, d) in files {
        out.push_str(&hex::encode(Md5::digest(d)));
        out.push_str("  ");
        out.push_str(p);
        out.push('\n');
    }
    out.into_bytes()
}
