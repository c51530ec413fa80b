//! Every resource bound bulwark puts on untrusted input, in one place, and
//! the readers that enforce them.
//!
//! An attacker may control an image, a spec from a pull request, a registry,
//! a key file or a policy. None of them may make bulwark exhaust memory or
//! block: documents are read through [`read_file`] or [`read_to_limit`],
//! which stop one byte past the limit and say which limit was hit; running
//! totals are kept by [`Budget`];
//! and only regular files are opened (a FIFO or a device would block or
//! never end). [`TABLE`] lists every constant with its value, and so does
//! `docs/security.md`.
//!
//! ```
//! use bulwark_limits::{read_file, KEY_FILE};
//! let dir = tempfile::tempdir().unwrap();
//! let p = dir.path().join("k.pub");
//! std::fs::write(&p, "-----BEGIN PUBLIC KEY-----\n").unwrap();
//! let bytes = read_file(&p, KEY_FILE, "public key").unwrap();
//! assert_eq!(bytes.len(), 27);
//!
//! std::fs::write(&p, vec![b'x'; (KEY_FILE + 1) as usize]).unwrap();
//! let err = read_file(&p, KEY_FILE, "public key").unwrap_err();
//! assert!(err.to_string().contains("over the 64 KiB allowed for a public key"));
//! ```

use std::io::Read;
use std::path::Path;

mod pipe;
pub mod scratch;
pub use pipe::{PipeReader, PipeWriter, pipe};

/// A JSON document from an image: `index.json`, a manifest, an index, a
/// config, a referrers list, a signature or attestation layer.
pub const JSON_DOCUMENT: u64 = 16 << 20;
/// A manifest, index or referrers list from a registry (the distribution
/// spec suggests 4 MiB).
pub const REGISTRY_DOCUMENT: u64 = 4 << 20;
/// A key file (public or private, PEM).
pub const KEY_FILE: u64 = 64 << 10;
/// A spec, a lock or a policy file.
pub const SPEC_FILE: u64 = 8 << 20;
/// An attestation predicate given with `attest --predicate`.
pub const PREDICATE_FILE: u64 = 64 << 20;
/// Nested indexes (index → index → … → manifest), and referrers of
/// referrers, followed from one image.
pub const MAX_DEPTH: usize = 8;
/// Entries of one index, layers of one manifest.
pub const MAX_CHILDREN: usize = 4096;
/// A tar entry's path or link name, in bytes (PATH_MAX).
pub const MAX_NAME: u64 = 4096;
/// One PAX extended header record set, in bytes.
pub const MAX_PAX: u64 = 64 << 10;
/// Entries of one image's merged filesystem.
pub const MAX_ENTRIES: usize = 2_000_000;
/// Past this much inflated data, a layer may not expand more than
/// [`MAX_RATIO`] times its compressed size: real layers expand 2–10 times,
/// decompression bombs thousands of times.
pub const BOMB_FLOOR: u64 = 1 << 30;
/// Largest expansion of a layer past [`BOMB_FLOOR`].
pub const MAX_RATIO: u64 = 100;
/// No layer may inflate beyond this, whatever its ratio.
pub const MAX_LAYER_BYTES: u64 = 256 << 30;
/// One file's contents kept in memory while an image is walked (larger
/// files are described, not read).
pub const MAX_CAPTURE: u64 = 16 << 20;
/// Bytes of file contents kept in memory while one image is walked (secret
/// candidates, dpkg records, ELF headers, scripts).
pub const MAX_CAPTURED: u64 = 256 << 20;
/// Bytes of file contents held in memory while `bulwark harden` rewrites
/// one platform of an image (every file it keeps).
pub const MAX_REWRITE: u64 = 8 << 30;
/// Packages in one image's dpkg database (SBOMs grow with it; real images
/// hold hundreds, a whole Debian release about 65,000).
pub const MAX_PACKAGES: usize = 20_000;
/// Largest file of the spec's `files:` read into memory; larger files are
/// streamed from disk into the layer (through temporary files in `TMPDIR`).
pub const USER_FILE_IN_MEMORY: u64 = 8 << 20;
/// Bytes of the spec's `files:` held in memory, all together; past it,
/// files are streamed too. All together they are bounded by
/// [`MAX_LAYER_BYTES`], the most any image reader here accepts in a layer.
pub const USER_FILES_IN_MEMORY: u64 = 256 << 20;
/// A Debian `Packages` index once decompressed (bookworm main: 50 MB).
pub const PACKAGES_INDEX: u64 = 2 << 30;
/// One file inside a `.deb`.
pub const DEB_ENTRY: u64 = 1 << 30;
/// All files of one `.deb`, decompressed.
pub const DEB_TOTAL: u64 = 4 << 30;
/// Entries of one `.deb`'s data archive.
pub const DEB_ENTRIES: usize = 500_000;
/// Memory scrypt may use to open a private key: 128·N·r bytes (cosign's
/// keys need 32 MiB; bulwark's own 64 MiB).
pub const SCRYPT_MAX_MEMORY: u64 = 256 << 20;
/// scrypt work to open a private key: N·r·p (cosign's keys: 2^18; bulwark's
/// own 2^19). Four times the largest keeps a hostile key file under seconds.
pub const SCRYPT_MAX_WORK: u64 = 1 << 21;
/// One vulnerability feed file, inflated (the Debian tracker's JSON export
/// is about 100 MiB, EPSS about 15 MiB).
pub const VULN_FEED: u64 = 1 << 30;
/// Advisory records one import may hold (the tracker: about 1.5 million
/// release × package × CVE records).
pub const VULN_RECORDS: usize = 20_000_000;

/// One bound, for documentation and checks: its name in this crate, its
/// value as people read it, and what it bounds.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// The constant's name.
    pub name: &'static str,
    /// Its value, in the unit people read (`16 MiB`, `8`, `2^21`).
    pub value: &'static str,
    /// What it bounds.
    pub what: &'static str,
}

/// Every bound above, in the order `docs/security.md` lists them (a test
/// keeps the two in step).
pub const TABLE: &[Limit] = &[
    Limit {
        name: "JSON_DOCUMENT",
        value: "16 MiB",
        what: "a JSON document from an image (index.json, manifest, index, config, signature or attestation layer)",
    },
    Limit {
        name: "REGISTRY_DOCUMENT",
        value: "4 MiB",
        what: "a manifest, index or referrers list from a registry",
    },
    Limit {
        name: "KEY_FILE",
        value: "64 KiB",
        what: "a key file",
    },
    Limit {
        name: "SPEC_FILE",
        value: "8 MiB",
        what: "a spec, lock or policy file",
    },
    Limit {
        name: "PREDICATE_FILE",
        value: "64 MiB",
        what: "an attestation predicate file",
    },
    Limit {
        name: "MAX_DEPTH",
        value: "8",
        what: "nested indexes and referrers of referrers followed from one image",
    },
    Limit {
        name: "MAX_CHILDREN",
        value: "4096",
        what: "entries of one index, layers of one manifest",
    },
    Limit {
        name: "MAX_NAME",
        value: "4 KiB",
        what: "a tar entry's path or link name (PATH_MAX)",
    },
    Limit {
        name: "MAX_PAX",
        value: "64 KiB",
        what: "one PAX extended header",
    },
    Limit {
        name: "MAX_ENTRIES",
        value: "2000000",
        what: "entries of one image's merged filesystem",
    },
    Limit {
        name: "BOMB_FLOOR",
        value: "1 GiB",
        what: "inflated bytes after which a layer may expand at most MAX_RATIO times",
    },
    Limit {
        name: "MAX_RATIO",
        value: "100",
        what: "expansion of a layer past BOMB_FLOOR",
    },
    Limit {
        name: "MAX_LAYER_BYTES",
        value: "256 GiB",
        what: "one layer, inflated",
    },
    Limit {
        name: "MAX_CAPTURE",
        value: "16 MiB",
        what: "one file's contents kept while an image is walked",
    },
    Limit {
        name: "MAX_CAPTURED",
        value: "256 MiB",
        what: "all file contents kept while one image is walked",
    },
    Limit {
        name: "MAX_REWRITE",
        value: "8 GiB",
        what: "all file contents held while `bulwark harden` rewrites one platform",
    },
    Limit {
        name: "MAX_PACKAGES",
        value: "20000",
        what: "packages in one image's dpkg database",
    },
    Limit {
        name: "USER_FILE_IN_MEMORY",
        value: "8 MiB",
        what: "one files: source read into memory (larger ones are streamed from disk)",
    },
    Limit {
        name: "USER_FILES_IN_MEMORY",
        value: "256 MiB",
        what: "files: sources held in memory, all together (the rest are streamed; all of them at most MAX_LAYER_BYTES)",
    },
    Limit {
        name: "PACKAGES_INDEX",
        value: "2 GiB",
        what: "a Packages index, decompressed",
    },
    Limit {
        name: "DEB_ENTRY",
        value: "1 GiB",
        what: "one file inside a .deb",
    },
    Limit {
        name: "DEB_TOTAL",
        value: "4 GiB",
        what: "all files of one .deb, decompressed",
    },
    Limit {
        name: "DEB_ENTRIES",
        value: "500000",
        what: "entries of one .deb",
    },
    Limit {
        name: "SCRYPT_MAX_MEMORY",
        value: "256 MiB",
        what: "memory scrypt may use to open a private key",
    },
    Limit {
        name: "SCRYPT_MAX_WORK",
        value: "2^21",
        what: "scrypt work N·r·p to open a private key",
    },
    Limit {
        name: "VULN_FEED",
        value: "1 GiB",
        what: "one vulnerability feed file (tracker, OSV record, KEV, EPSS), inflated",
    },
    Limit {
        name: "VULN_RECORDS",
        value: "20000000",
        what: "advisory records in one import",
    },
];

/// Checks a decompression in progress: `inflated` bytes out of
/// `compressed` bytes in.
///
/// # Errors
/// A message naming the limits, once the output is a decompression bomb.
pub fn check_inflation(compressed: u64, inflated: u64) -> Result<(), String> {
    if inflated > MAX_LAYER_BYTES
        || (inflated > BOMB_FLOOR && inflated / compressed.max(1) > MAX_RATIO)
    {
        return Err(format!(
            "decompression bomb: {compressed} bytes expanded to more than {inflated} bytes \
             (limits: {MAX_RATIO}x past {}, {} in all)",
            human(BOMB_FLOOR),
            human(MAX_LAYER_BYTES)
        ));
    }
    Ok(())
}

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The file could not be opened or read.
    #[error("cannot read {what} {path}: {source}")]
    Io {
        /// What the file is (for the message).
        what: String,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a regular file (a FIFO, a device, a directory).
    #[error("{what} {path} is not a regular file ({kind}); give a regular file")]
    NotRegular {
        /// What the file is.
        what: String,
        /// The file.
        path: String,
        /// What it is instead.
        kind: &'static str,
    },
    /// More bytes than allowed.
    #[error("{what} {path} is over the {} allowed for a {what}", human(*limit))]
    TooLarge {
        /// What the file is.
        what: String,
        /// The file.
        path: String,
        /// The limit in bytes.
        limit: u64,
    },
}

/// `16 MiB`, `64 KiB`, `100 bytes`.
#[must_use]
pub fn human(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        "not a file"
    }
}

/// Opens `path` only if it is a regular file (after following symlinks):
/// never blocks on a FIFO or reads a device.
///
/// # Errors
/// Missing, unreadable or not a regular file.
pub fn open_regular(path: &Path, what: &str) -> Result<std::fs::File, LimitError> {
    let io = |source| LimitError::Io {
        what: what.to_owned(),
        path: path.display().to_string(),
        source,
    };
    // stat first: opening a FIFO for reading blocks until a writer appears.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(LimitError::NotRegular {
            what: what.to_owned(),
            path: path.display().to_string(),
            kind: kind_of(meta.file_type()),
        });
    }
    let f = std::fs::File::open(path).map_err(io)?;
    // The path may have been swapped between the stat and the open.
    let meta = f.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(LimitError::NotRegular {
            what: what.to_owned(),
            path: path.display().to_string(),
            kind: kind_of(meta.file_type()),
        });
    }
    Ok(f)
}

/// Reads a whole regular file of at most `limit` bytes.
///
/// # Errors
/// Missing, unreadable, not a regular file, or larger than `limit`.
pub fn read_file(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, LimitError> {
    let f = open_regular(path, what)?;
    read_to_limit(f, limit, &path.display().to_string(), what)
}

/// Like [`read_file`], as UTF-8 text.
///
/// # Errors
/// As [`read_file`], or not UTF-8.
pub fn read_file_string(path: &Path, limit: u64, what: &str) -> Result<String, LimitError> {
    let bytes = read_file(path, limit, what)?;
    String::from_utf8(bytes).map_err(|e| LimitError::Io {
        what: what.to_owned(),
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

/// Reads `r` to its end, failing once it passes `limit` bytes (it reads at
/// most `limit + 1`).
///
/// # Errors
/// A read error, or more than `limit` bytes.
pub fn read_to_limit(
    r: impl Read,
    limit: u64,
    name: &str,
    what: &str,
) -> Result<Vec<u8>, LimitError> {
    let mut data = Vec::new();
    r.take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|source| LimitError::Io {
            what: what.to_owned(),
            path: name.to_owned(),
            source,
        })?;
    if data.len() as u64 > limit {
        return Err(LimitError::TooLarge {
            what: what.to_owned(),
            path: name.to_owned(),
            limit,
        });
    }
    Ok(data)
}

/// A running total that fails once it passes its limit: for amplification
/// bounds (bytes inflated, bytes captured) summed over many entries.
#[derive(Debug, Clone)]
pub struct Budget {
    used: u64,
    limit: u64,
    what: &'static str,
}

impl Budget {
    /// A budget of `limit` units of `what` (for the message).
    #[must_use]
    pub fn new(limit: u64, what: &'static str) -> Self {
        Self {
            used: 0,
            limit,
            what,
        }
    }

    /// Takes `n` from the budget.
    ///
    /// # Errors
    /// A message naming the limit when the total passes it.
    pub fn take(&mut self, n: u64) -> Result<(), String> {
        self.used = self.used.saturating_add(n);
        if self.used > self.limit {
            return Err(format!(
                "{} pass the limit of {}",
                self.what,
                human(self.limit)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn read_file_refuses_fifos_directories_and_oversized_files() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = read_file(&fifo, 10, "policy").unwrap_err().to_string();
        assert!(e.contains("is not a regular file (a FIFO)"), "{e}");
        let e = read_file(dir.path(), 10, "policy").unwrap_err().to_string();
        assert!(e.contains("(a directory)"), "{e}");
        let e = read_file(Path::new("/dev/zero"), 10, "key")
            .unwrap_err()
            .to_string();
        assert!(e.contains("(a device)"), "{e}");

        let f = dir.path().join("f");
        std::fs::write(&f, b"0123456789").unwrap();
        assert_eq!(read_file(&f, 10, "x").unwrap().len(), 10);
        let e = read_file(&f, 9, "spec").unwrap_err().to_string();
        assert!(e.ends_with("is over the 9 bytes allowed for a spec"), "{e}");
    }

    #[test]
    fn the_table_matches_the_constants_and_docs_security_md() {
        let bytes = |v: u64| human(v);
        let values: &[(&str, String)] = &[
            ("JSON_DOCUMENT", bytes(JSON_DOCUMENT)),
            ("REGISTRY_DOCUMENT", bytes(REGISTRY_DOCUMENT)),
            ("KEY_FILE", bytes(KEY_FILE)),
            ("SPEC_FILE", bytes(SPEC_FILE)),
            ("PREDICATE_FILE", bytes(PREDICATE_FILE)),
            ("MAX_DEPTH", MAX_DEPTH.to_string()),
            ("MAX_CHILDREN", MAX_CHILDREN.to_string()),
            ("MAX_NAME", bytes(MAX_NAME)),
            ("MAX_PAX", bytes(MAX_PAX)),
            ("MAX_ENTRIES", MAX_ENTRIES.to_string()),
            ("BOMB_FLOOR", bytes(BOMB_FLOOR)),
            ("MAX_RATIO", MAX_RATIO.to_string()),
            ("MAX_LAYER_BYTES", bytes(MAX_LAYER_BYTES)),
            ("MAX_CAPTURE", bytes(MAX_CAPTURE)),
            ("MAX_CAPTURED", bytes(MAX_CAPTURED)),
            ("MAX_REWRITE", bytes(MAX_REWRITE)),
            ("MAX_PACKAGES", MAX_PACKAGES.to_string()),
            ("USER_FILE_IN_MEMORY", bytes(USER_FILE_IN_MEMORY)),
            ("USER_FILES_IN_MEMORY", bytes(USER_FILES_IN_MEMORY)),
            ("PACKAGES_INDEX", bytes(PACKAGES_INDEX)),
            ("DEB_ENTRY", bytes(DEB_ENTRY)),
            ("DEB_TOTAL", bytes(DEB_TOTAL)),
            ("DEB_ENTRIES", DEB_ENTRIES.to_string()),
            ("SCRYPT_MAX_MEMORY", bytes(SCRYPT_MAX_MEMORY)),
            (
                "SCRYPT_MAX_WORK",
                format!("2^{}", SCRYPT_MAX_WORK.trailing_zeros()),
            ),
            ("VULN_FEED", bytes(VULN_FEED)),
            ("VULN_RECORDS", VULN_RECORDS.to_string()),
        ];
        assert_eq!(TABLE.len(), values.len());
        let doc = include_str!("../../../docs/security.md");
        for (l, (name, value)) in TABLE.iter().zip(values) {
            assert_eq!((l.name, l.value), (*name, value.as_str()));
            let row = format!("| `{}` | {} |", l.name, l.value);
            assert!(doc.contains(&row), "docs/security.md lacks the row {row:?}");
        }
    }

    #[test]
    fn budget_names_its_limit() {
        let mut b = Budget::new(10, "captured file contents");
        b.take(6).unwrap();
        b.take(4).unwrap();
        assert_eq!(
            b.take(1).unwrap_err(),
            "captured file contents pass the limit of 10 bytes"
        );
        assert_eq!(human(16 << 20), "16 MiB");
    }
}
