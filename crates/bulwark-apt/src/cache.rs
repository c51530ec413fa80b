//! A content-addressed blob cache (`$XDG_CACHE_HOME/bulwark/sha256/<hex>`).
//!
//! Writes go to a temporary file in the same directory and are renamed into
//! place, so concurrent builds never see a partial blob; reads re-hash the
//! blob and discard it when it no longer matches.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The cache directory and its operations.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

/// `$BULWARK_CACHE_DIR`, else `$XDG_CACHE_HOME/bulwark`, else `~/.cache/bulwark`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BULWARK_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("bulwark");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(h) => PathBuf::from(h).join(".cache/bulwark"),
        None => std::env::temp_dir().join("bulwark-cache"),
    }
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    fn path(&self, sha256: &str) -> PathBuf {
        self.root.join("sha256").join(sha256)
    }

    /// The blob with this digest, if cached and still intact.
    pub fn get(&self, sha256: &str) -> Option<Vec<u8>> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let p = self.path(sha256);
        let data = std::fs::read(&p).ok()?;
        if hex::encode(Sha256::digest(&data)) == sha256 {
            Some(data)
        } else {
            tracing::warn!("cache entry {} is corrupt; discarding it", p.display());
            let _ = std::fs::remove_file(&p);
            None
        }
    }

    /// Stores a blob whose digest the caller has already verified. There is
    /// no fsync: a blob torn by a crash fails the re-hash on its next read
    /// and is fetched again.
    pub fn put(&self, sha256: &str, data: &[u8]) -> std::io::Result<()> {
        let dir = self.root.join("sha256");
        std::fs::create_dir_all(&dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
        let _scratch = bulwark_limits::scratch::register(tmp.path());
        tmp.write_all(data)?;
        tmp.persist(self.path(sha256)).map_err(|e| e.error)?;
        Ok(())
    }
}
