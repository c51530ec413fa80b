//! Reading feeds: where they come from, what kind they are, and their
//! parsers.

pub mod epss;
pub mod kev;
pub mod osv;
pub mod tracker;
pub mod zip;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::error::{feed_err, io_err};

/// The kinds of feed bulwark imports.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The Debian security tracker (JSON export, or `data/CVE/list` text).
    Tracker,
    /// OSV records of the Debian ecosystem.
    Osv,
    /// The CISA KEV catalogue.
    Kev,
    /// FIRST EPSS scores.
    Epss,
}

impl Kind {
    /// Every kind, in the order `db status` lists them.
    pub const ALL: [Kind; 4] = [Kind::Tracker, Kind::Osv, Kind::Kev, Kind::Epss];

    /// The name used in file names and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tracker => "tracker",
            Kind::Osv => "osv",
            Kind::Kev => "kev",
            Kind::Epss => "epss",
        }
    }

    /// Where the feed is published (used when `db update` is given no
    /// `--from`).
    #[must_use]
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            Kind::Tracker => Some("https://security-tracker.debian.org/tracker/data/json"),
            Kind::Kev => Some(
                "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
            ),
            Kind::Epss => Some("https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"),
            Kind::Osv => Some("https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip"),
        }
    }
}

/// Where a feed is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A local file or directory.
    Path(PathBuf),
    /// An `https://` URL.
    Url(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Path(p) => write!(f, "{}", p.display()),
            Source::Url(u) => f.write_str(u),
        }
    }
}

impl std::str::FromStr for Source {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(if s.starts_with("https://") || s.starts_with("http://") {
            Source::Url(s.to_owned())
        } else {
            Source::Path(PathBuf::from(s))
        })
    }
}

/// One feed file's bytes as read (decompressed when gzip), with the digest
/// and size of what was read.
#[derive(Debug)]
pub struct Raw {
    /// Where it came from.
    pub source: Source,
    /// The bytes, inflated.
    pub data: Vec<u8>,
    /// sha256 of the bytes as read (before inflating).
    pub sha256: String,
    /// Size as read.
    pub size: u64,
}

/// Reads `source` (a file, a URL; gzip inflated), bounded by
/// [`crate::MAX_FEED`].
///
/// # Errors
/// Unreadable, too large, a failed download, or corrupt gzip.
pub fn read(source: &Source) -> Result<Raw, Error> {
    read_with(source, None)
}

/// [`read`], reporting a download's progress to `on_bytes`.
///
/// # Errors
/// As [`read`].
pub fn read_with(source: &Source, on_bytes: Option<&bulwark_apt::OnBytes>) -> Result<Raw, Error> {
    let name = source.to_string();
    let bytes = match source {
        Source::Path(p) => bulwark_limits::read_file(p, crate::MAX_FEED, "vulnerability feed")
            .map_err(|e| feed_err(&name, "file", e.to_string()))?,
        Source::Url(u) => fetch(u, on_bytes)?,
    };
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let size = bytes.len() as u64;
    let data = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .take(crate::MAX_FEED + 1)
            .read_to_end(&mut out)
            .map_err(|e| feed_err(&name, format!("gzip, byte {}", out.len()), e.to_string()))?;
        if out.len() as u64 > crate::MAX_FEED {
            return Err(feed_err(
                &name,
                "gzip",
                format!("inflates past the {} MiB allowed", crate::MAX_FEED >> 20),
            ));
        }
        out
    } else {
        bytes
    };
    Ok(Raw {
        source: source.clone(),
        data,
        sha256,
        size,
    })
}

/// Downloads through bulwark-apt's fetcher: its TLS set-up, timeouts and
/// retries, bounded by [`crate::MAX_FEED`].
fn fetch(url: &str, on_bytes: Option<&bulwark_apt::OnBytes>) -> Result<Vec<u8>, Error> {
    let fail = |detail: String| Error::Fetch {
        url: url.to_owned(),
        detail,
    };
    bulwark_apt::Fetcher::new(None)
        .map(|f| match on_bytes {
            Some(cb) => f.with_progress(cb.clone()),
            None => f,
        })
        .and_then(|f| f.get(url, crate::MAX_FEED))
        .map_err(|e| fail(e.to_string()))
}

/// What kind of feed `data` is, from its first bytes.
#[must_use]
pub fn detect(data: &[u8]) -> Option<Kind> {
    if zip::is_zip(data) {
        return Some(Kind::Osv);
    }
    let head = String::from_utf8_lossy(&data[..data.len().min(4096)]);
    let t = head.trim_start();
    if t.starts_with('{') {
        if t.contains("\"catalogVersion\"") || t.contains("\"vulnerabilities\"") {
            return Some(Kind::Kev);
        }
        if t.contains("\"affected\"")
            || t.contains("\"schema_version\"")
            || t.starts_with("{\"id\"")
        {
            return Some(Kind::Osv);
        }
        return Some(Kind::Tracker);
    }
    if t.starts_with("cve,epss") || (t.starts_with('#') && t.contains("cve,epss,percentile")) {
        return Some(Kind::Epss);
    }
    if t.lines()
        .any(|l| l.starts_with("CVE-") || l.starts_with("TEMP-"))
    {
        return Some(Kind::Tracker);
    }
    None
}

/// The OSV records in `dir` (`*.json`, not recursive), sorted by name; a
/// directory is one feed, so its files are bounded by [`crate::MAX_FEED`] in
/// all.
///
/// # Errors
/// The directory cannot be listed, or holds too many files or bytes.
pub fn osv_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut budget = bulwark_limits::Budget::new(crate::MAX_FEED, "OSV records of one directory");
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            let len = e.metadata().map_err(io_err(&p))?.len();
            budget
                .take(len)
                .map_err(|why| feed_err(&dir.display().to_string(), "directory", why))?;
            out.push(p);
            if out.len() > crate::MAX_OSV_FILES {
                return Err(feed_err(
                    &dir.display().to_string(),
                    "directory",
                    format!("more than {} records", crate::MAX_OSV_FILES),
                ));
            }
        }
    }
    out.sort();
    Ok(out)
}
