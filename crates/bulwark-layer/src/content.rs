//! Bytes held in memory or, when large, in a temporary file.
//!
//! Package files are small and already in memory, so most layers are encoded
//! there. A layer that holds a large user file (a model, a database, a
//! bundle) is encoded through temporary files instead — its tar and its
//! blob are [`Content::File`] — so that memory stays flat whatever the size
//! of the files (docs/security.md, "Resource bounds").

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// The bytes of a layer tar or blob.
#[derive(Clone, Debug)]
pub enum Content {
    /// In memory.
    Memory(Vec<u8>),
    /// In a temporary file, removed when the last clone drops (and by the
    /// signal handler, through `bulwark_limits::scratch`).
    File(Arc<Spill>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Memory(Vec::new())
    }
}

impl Content {
    /// Size in bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        match self {
            Content::Memory(v) => v.len() as u64,
            Content::File(s) => s.size,
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, when they are in memory.
    #[must_use]
    pub fn as_slice(&self) -> Option<&[u8]> {
        match self {
            Content::Memory(v) => Some(v),
            Content::File(_) => None,
        }
    }

    /// Reads the bytes from the start.
    ///
    /// # Errors
    /// The temporary file cannot be opened.
    pub fn reader(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(match self {
            Content::Memory(v) => Box::new(v.as_slice()),
            Content::File(s) => Box::new(BufReader::with_capacity(1 << 20, File::open(&s.path)?)),
        })
    }

    /// Copies the bytes into `w`; checks that exactly [`Content::len`]
    /// bytes were there.
    ///
    /// # Errors
    /// A read or write error, or a temporary file whose size changed.
    pub fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        match self {
            Content::Memory(v) => w.write_all(v),
            Content::File(s) => {
                let n = io::copy(&mut self.reader()?, w)?;
                if n != s.size {
                    return Err(io::Error::other(format!(
                        "{}: expected {} bytes, found {n}; was the temporary file changed?",
                        s.path.display(),
                        s.size
                    )));
                }
                Ok(())
            }
        }
    }

    /// Copies everything `r` gives into a temporary file: a blob carried
    /// over from another image, read through a reader that checks it (this
    /// does not hash it again).
    ///
    /// # Errors
    /// The read fails (a checking reader's mismatch among them), or the
    /// temporary file cannot be written.
    pub fn spill_from(r: &mut dyn Read) -> io::Result<Content> {
        let mut w = SpillWriter::new()?;
        w.hasher = None;
        io::copy(r, &mut w)?;
        w.finish().map(|(c, _)| c)
    }

    /// All the bytes in memory (for tests and small layers).
    ///
    /// # Errors
    /// As [`Content::reader`].
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut v = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        self.write_to(&mut v)?;
        Ok(v)
    }
}

/// A temporary file of known size, removed on drop.
#[derive(Debug)]
pub struct Spill {
    path: PathBuf,
    size: u64,
    _registered: bulwark_limits::scratch::Registered,
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Spill {
    /// Where the bytes are.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes a new [`Spill`] in the temporary directory (`TMPDIR`), hashing
/// what passes through. Dropped unfinished (an error), it removes the file.
pub(crate) struct SpillWriter {
    out: BufWriter<File>,
    spill: Spill,
    /// `None`: not hashed (the caller checks what it copies).
    hasher: Option<Sha256>,
    size: u64,
}

impl SpillWriter {
    pub(crate) fn new() -> io::Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix(".bulwark-layer-")
            .tempfile()?;
        let registered = bulwark_limits::scratch::register(tmp.path());
        let (file, path) = tmp.keep().map_err(|e| e.error)?;
        Ok(SpillWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            spill: Spill {
                path,
                size: 0,
                _registered: registered,
            },
            hasher: Some(Sha256::new()),
            size: 0,
        })
    }

    /// The finished file and the sha256 (hex) of its bytes.
    pub(crate) fn finish(self) -> io::Result<(Content, String)> {
        let mut spill = self.spill;
        spill.size = self.size;
        self.out.into_inner().map_err(|e| e.into_error())?;
        Ok((
            Content::File(Arc::new(spill)),
            self.hasher
                .map(|h| hex::encode(h.finalize()))
                .unwrap_or_default(),
        ))
    }
}

impl Write for SpillWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A large file of the user's, streamed from disk into the layer rather
/// than read into memory. Its size and digests are taken once, when the
/// tree is assembled; the layer encoder checks them again as it reads, so a
/// file changed during the build fails it instead of making a layer that
/// does not match its SBOM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskFile {
    pub path: PathBuf,
    pub size: u64,
    /// Hex digests of the contents.
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

impl DiskFile {
    /// Reads `path` (a regular file) once and records its size and digests.
    ///
    /// # Errors
    /// Not a regular file, or unreadable.
    pub fn hash(path: &Path) -> io::Result<DiskFile> {
        let f = bulwark_limits::open_regular(path, "file").map_err(io::Error::other)?;
        let mut r = BufReader::with_capacity(1 << 20, f);
        let (mut s1, mut s256, mut s512) = (sha1::Sha1::new(), Sha256::new(), sha2::Sha512::new());
        let mut size = 0u64;
        let mut buf = Vec::with_capacity(4 << 20);
        loop {
            buf.clear();
            (&mut r).take(4 << 20).read_to_end(&mut buf)?;
            if buf.is_empty() {
                break;
            }
            // Three digests of a large file: two cores share them.
            rayon::join(
                || s256.update(&buf),
                || {
                    s1.update(&buf);
                    s512.update(&buf);
                },
            );
            size += buf.len() as u64;
        }
        Ok(DiskFile {
            path: path.to_owned(),
            size,
            sha1: hex::encode(s1.finalize()),
            sha256: hex::encode(s256.finalize()),
            sha512: hex::encode(s512.finalize()),
        })
    }

    /// A reader that yields exactly the recorded bytes, and fails at its
    /// end if the file no longer has them.
    pub(crate) fn verified_reader(&self) -> io::Result<VerifiedReader<'_>> {
        let f = bulwark_limits::open_regular(&self.path, "file").map_err(io::Error::other)?;
        Ok(VerifiedReader {
            inner: BufReader::with_capacity(1 << 20, f),
            file: self,
            left: self.size,
            hasher: Sha256::new(),
        })
    }

    fn changed(&self, what: String) -> io::Error {
        io::Error::other(format!(
            "{} changed while the image was built: expected {} bytes with sha256 {}, {what}; \
             build again once nothing writes to it",
            self.path.display(),
            self.size,
            self.sha256
        ))
    }
}

pub(crate) struct VerifiedReader<'a> {
    inner: BufReader<File>,
    file: &'a DiskFile,
    left: u64,
    hasher: Sha256,
}

impl Read for VerifiedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // The end: nothing more may follow, and the digest must hold.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? != 0 {
                return Err(self.file.changed("found more".into()));
            }
            let found = hex::encode(std::mem::take(&mut self.hasher).finalize());
            if found != self.file.sha256 {
                return Err(self.file.changed(format!("found sha256 {found}")));
            }
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(self
                .file
                .changed(format!("found {} bytes", self.file.size - self.left)));
        }
        self.hasher.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_are_removed_when_dropped() {
        let mut w = SpillWriter::new().unwrap();
        w.write_all(b"hello").unwrap();
        let (c, hex) = w.finish().unwrap();
        assert_eq!(hex, hex::encode(Sha256::digest(b"hello")));
        let Content::File(s) = &c else { panic!() };
        let path = s.path().to_owned();
        assert_eq!(c.to_vec().unwrap(), b"hello");
        let copy = c.clone();
        drop(c);
        assert!(path.exists(), "a clone keeps it");
        drop(copy);
        assert!(!path.exists());
        let w = SpillWriter::new().unwrap();
        let path = w.spill.path.clone();
        drop(w);
        assert!(!path.exists(), "an unfinished spill is removed");
    }

    #[test]
    fn verified_reader_notices_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abcdef").unwrap();
        let d = DiskFile::hash(&p).unwrap();
        assert_eq!(d.size, 6);
        let mut out = Vec::new();
        d.verified_reader().unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcdef");
        for changed in [&b"abcdeX"[..], b"abc", b"abcdefg"] {
            std::fs::write(&p, changed).unwrap();
            let e = d
                .verified_reader()
                .unwrap()
                .read_to_end(&mut Vec::new())
                .unwrap_err();
            assert!(
                e.to_string().contains("changed while the image was built"),
                "{e}"
            );
        }
    }
}
