//! The database: one binary file per feed in a generation directory that
//! `current` points at, so an update is one atomic rename.
//!
//! A file is `BWVDB001`, a section count, a table of `(tag, length)`, and
//! the sections: `META` (JSON: where the feed came from, its digest, size
//! and date), `STRS` (every string, once), and fixed-width rows sorted by
//! their key — `GRPS` (release, source → a run of `ROWS`) and `ROWS`
//! (advisories) for the tracker and OSV, `KEVS` for KEV, `EPSS` for EPSS.
//! A lookup is a binary search in the bytes: nothing is parsed at load
//! beyond the table and `META`, so opening takes milliseconds.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::io_err;
use crate::feeds::Kind;
use crate::model::{Advisory, Epss, Kev, Severity, Status};

const MAGIC: &[u8; 8] = b"BWVDB001";
const GROUP: usize = 24;
const ROW: usize = 28;
const KEV: usize = 40;
const EPSS: usize = 16;

/// The numeric key of a CVE id (`CVE-2024-1234` → year and number), for
/// sorted tables; `None` for other ids.
#[must_use]
pub fn cve_key(id: &str) -> Option<u64> {
    let rest = id.strip_prefix("CVE-")?;
    let (y, n) = rest.split_once('-')?;
    if y.len() != 4 || n.is_empty() || n.len() > 9 {
        return None;
    }
    let y: u64 = y.parse().ok()?;
    let n: u64 = n.parse().ok()?;
    Some((y << 32) | n)
}

/// Where one feed came from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceInfo {
    /// The file or URL.
    pub source: String,
    /// sha256 of the bytes read (hex).
    pub sha256: String,
    /// Bytes read.
    pub size: u64,
}

/// What a feed file records about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Meta {
    /// Which feed.
    pub kind: Kind,
    /// The files or URLs it was imported from.
    pub sources: Vec<SourceInfo>,
    /// The feed's own date (KEV catalogue version, EPSS score date), when it
    /// gives one.
    pub feed_date: Option<String>,
    /// When it was imported (RFC 3339, UTC).
    pub imported: String,
    /// Records stored.
    pub records: usize,
}

impl Meta {
    /// When the data is from, in seconds since the epoch: the feed's own
    /// date when it gives one (a KEV catalogue of last year is last year's
    /// news, whenever it was imported), else when it was imported.
    #[must_use]
    pub fn data_date(&self) -> Option<i64> {
        let imported = bulwark_debian::time::parse_rfc3339(&self.imported);
        let own = self.feed_date.as_deref().and_then(parse_feed_date);
        match (own, imported) {
            (Some(o), Some(i)) => Some(o.min(i)),
            (o, i) => o.or(i),
        }
    }
}

/// A feed's own date: `2025.08.25` (KEV's catalogue version), `2026-08-16`
/// (EPSS), or an RFC 3339 time; midnight UTC for a bare date.
fn parse_feed_date(s: &str) -> Option<i64> {
    use bulwark_debian::time::parse_rfc3339;
    let (day, rest) = s.split_at_checked(10)?;
    if !(rest.is_empty() || rest.starts_with(['T', ' '])) {
        return None;
    }
    parse_rfc3339(s).or_else(|| parse_rfc3339(&format!("{}T00:00:00Z", day.replace('.', "-"))))
}

/// Builds one feed file.
struct Writer {
    strings: Vec<u8>,
    index: BTreeMap<String, (u32, u32)>,
}

impl Writer {
    fn new() -> Self {
        Self {
            strings: Vec::new(),
            index: BTreeMap::new(),
        }
    }

    fn string(&mut self, s: &str) -> [u8; 8] {
        let (off, len) = match self.index.get(s) {
            Some(r) => *r,
            None => {
                let r = (
                    u32::try_from(self.strings.len()).unwrap_or(u32::MAX),
                    u32::try_from(s.len()).unwrap_or(0),
                );
                self.strings.extend_from_slice(s.as_bytes());
                self.index.insert(s.to_owned(), r);
                r
            }
        };
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&off.to_le_bytes());
        b[4..].copy_from_slice(&len.to_le_bytes());
        b
    }

    fn finish(self, meta: &Meta, sections: Vec<([u8; 4], Vec<u8>)>) -> Vec<u8> {
        let meta = serde_json::to_vec(meta).unwrap_or_default();
        let mut all = vec![(*b"META", meta), (*b"STRS", self.strings)];
        all.extend(sections);
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&u32::try_from(all.len()).unwrap_or(0).to_le_bytes());
        for (tag, data) in &all {
            out.extend_from_slice(tag);
            out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        }
        for (_, data) in all {
            out.extend_from_slice(&data);
        }
        out
    }
}

/// Encodes advisories (tracker or OSV) as a feed file.
pub(crate) fn encode_advisories(meta: &Meta, mut advisories: Vec<Advisory>) -> Vec<u8> {
    advisories.sort();
    advisories.dedup_by(|a, b| (&a.release, &a.source, &a.id) == (&b.release, &b.source, &b.id));
    let mut w = Writer::new();
    let mut groups = Vec::new();
    let mut rows = Vec::with_capacity(advisories.len() * ROW);
    let mut i = 0;
    while i < advisories.len() {
        let (rel, src) = (&advisories[i].release, &advisories[i].source);
        let start = i;
        while i < advisories.len() && &advisories[i].release == rel && &advisories[i].source == src
        {
            i += 1;
        }
        groups.extend_from_slice(&w.string(rel));
        groups.extend_from_slice(&w.string(src));
        groups.extend_from_slice(&u32::try_from(start).unwrap_or(0).to_le_bytes());
        groups.extend_from_slice(&u32::try_from(i - start).unwrap_or(0).to_le_bytes());
        for a in &advisories[start..i] {
            rows.extend_from_slice(&w.string(&a.id));
            rows.extend_from_slice(&w.string(a.fixed.as_deref().unwrap_or("")));
            rows.extend_from_slice(&w.string(a.note.as_deref().unwrap_or("")));
            rows.extend_from_slice(&[a.status.code(), a.severity.code(), 0, 0]);
        }
    }
    w.finish(meta, vec![(*b"GRPS", groups), (*b"ROWS", rows)])
}

/// Encodes KEV entries as a feed file.
pub(crate) fn encode_kev(meta: &Meta, mut kev: Vec<Kev>) -> Vec<u8> {
    kev.sort_by_key(|k| cve_key(&k.cve));
    kev.dedup_by_key(|k| cve_key(&k.cve));
    let mut w = Writer::new();
    let mut rows = Vec::with_capacity(kev.len() * KEV);
    for k in &kev {
        rows.extend_from_slice(&cve_key(&k.cve).unwrap_or(0).to_le_bytes());
        rows.extend_from_slice(&w.string(&k.date_added));
        rows.extend_from_slice(&w.string(&k.due_date));
        rows.extend_from_slice(&w.string(&k.product));
        rows.extend_from_slice(&[u8::from(k.ransomware), 0, 0, 0, 0, 0, 0, 0]);
    }
    w.finish(meta, vec![(*b"KEVS", rows)])
}

/// Encodes EPSS scores as a feed file.
pub(crate) fn encode_epss(meta: &Meta, mut scores: Vec<(u64, Epss)>) -> Vec<u8> {
    scores.sort_by_key(|(k, _)| *k);
    scores.dedup_by_key(|(k, _)| *k);
    let mut rows = Vec::with_capacity(scores.len() * EPSS);
    for (k, e) in &scores {
        rows.extend_from_slice(&k.to_le_bytes());
        rows.extend_from_slice(&e.score.to_le_bytes());
        rows.extend_from_slice(&e.percentile.to_le_bytes());
    }
    Writer::new().finish(meta, vec![(*b"EPSS", rows)])
}

/// One feed file, loaded.
#[derive(Debug)]
struct File {
    bytes: Vec<u8>,
    meta: Meta,
    sections: BTreeMap<[u8; 4], Range<usize>>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_bits(u32_at(b, at))
}

impl File {
    fn load(path: &Path) -> Result<Self, Error> {
        let bad = |detail: String| Error::Database {
            path: path.display().to_string(),
            detail: format!("{detail}; run 'bulwark db update' to rebuild it"),
        };
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        if bytes.get(..8) != Some(MAGIC.as_slice()) {
            return Err(bad(
                "not a bulwark vulnerability database file of this version".into(),
            ));
        }
        let n = u32_at(&bytes, 8) as usize;
        if n > 16 {
            return Err(bad(format!("{n} sections")));
        }
        let mut sections = BTreeMap::new();
        let mut at = 12 + n * 12;
        for i in 0..n {
            let h = 12 + i * 12;
            let tag: [u8; 4] = bytes
                .get(h..h + 4)
                .and_then(|t| t.try_into().ok())
                .ok_or_else(|| bad("truncated section table".into()))?;
            let len = usize::try_from(u64_at(&bytes, h + 4)).unwrap_or(usize::MAX);
            let end = at
                .checked_add(len)
                .filter(|e| *e <= bytes.len())
                .ok_or_else(|| bad("truncated".into()))?;
            sections.insert(tag, at..end);
            at = end;
        }
        for (tag, width) in [
            (b"GRPS", GROUP),
            (b"ROWS", ROW),
            (b"KEVS", KEV),
            (b"EPSS", EPSS),
        ] {
            if sections.get(tag).is_some_and(|r| r.len() % width != 0) {
                return Err(bad(format!(
                    "section {} is damaged",
                    String::from_utf8_lossy(tag)
                )));
            }
        }
        let meta_range = sections
            .get(b"META")
            .cloned()
            .ok_or_else(|| bad("no META section".into()))?;
        let meta: Meta =
            serde_json::from_slice(&bytes[meta_range]).map_err(|e| bad(format!("META: {e}")))?;
        Ok(Self {
            bytes,
            meta,
            sections,
        })
    }

    fn section(&self, tag: &[u8; 4]) -> &[u8] {
        self.sections
            .get(tag)
            .and_then(|r| self.bytes.get(r.clone()))
            .unwrap_or(&[])
    }

    fn string(&self, r: &[u8], at: usize) -> &str {
        let off = u32_at(r, at) as usize;
        let len = u32_at(r, at + 4) as usize;
        self.section(b"STRS")
            .get(off..off.saturating_add(len))
            .and_then(|s| std::str::from_utf8(s).ok())
            .unwrap_or("")
    }

    /// The advisories of (`release`, `source`).
    fn advisories(&self, release: &str, source: &str) -> Vec<Advisory> {
        let groups = self.section(b"GRPS");
        let rows = self.section(b"ROWS");
        let n = groups.len() / GROUP;
        let key = |i: usize| {
            (
                self.string(groups, i * GROUP),
                self.string(groups, i * GROUP + 8),
            )
        };
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if key(mid) < (release, source) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo >= n || key(lo) != (release, source) {
            return Vec::new();
        }
        let first = u32_at(groups, lo * GROUP + 16) as usize;
        let count = u32_at(groups, lo * GROUP + 20) as usize;
        (first..first.saturating_add(count))
            .filter(|i| (i + 1) * ROW <= rows.len())
            .filter_map(|i| {
                let r = &rows[i * ROW..(i + 1) * ROW];
                let opt = |at| {
                    Some(self.string(r, at))
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                };
                Some(Advisory {
                    release: release.to_owned(),
                    source: source.to_owned(),
                    id: self.string(r, 0).to_owned(),
                    fixed: opt(8),
                    note: opt(16),
                    status: Status::from_code(r[24])?,
                    severity: Severity::from_code(r[25]),
                })
            })
            .collect()
    }

    /// Whether any record names `release`.
    fn has_release(&self, release: &str) -> bool {
        let groups = self.section(b"GRPS");
        let n = groups.len() / GROUP;
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.string(groups, mid * GROUP) < release {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo < n && self.string(groups, lo * GROUP) == release
    }

    fn find(&self, tag: &[u8; 4], width: usize, key: u64) -> Option<&[u8]> {
        let rows = self.section(tag);
        let n = rows.len() / width;
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match u64_at(rows, mid * width).cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return rows.get(mid * width..(mid + 1) * width),
            }
        }
        None
    }
}

/// The local vulnerability database.
#[derive(Debug)]
pub struct Db {
    dir: PathBuf,
    files: BTreeMap<Kind, File>,
}

/// The default database directory: `$BULWARK_DB`, else
/// `$XDG_CACHE_HOME/bulwark/db`, else `~/.cache/bulwark/db`.
#[must_use]
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BULWARK_DB").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("bulwark/db")
}

fn file_name(kind: Kind) -> String {
    format!("{}.bvd", kind.name())
}

impl Db {
    /// Opens the database in `dir` (the generation `current` points at).
    ///
    /// # Errors
    /// No database there, or a damaged one.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let current = dir.join("current");
        let gen_dir = std::fs::read_link(&current).map_err(|_| Error::Database {
            path: dir.display().to_string(),
            detail: "no vulnerability database here; run 'bulwark db update' (or --from FILE for air-gapped use)".into(),
        })?;
        let gen_dir = dir.join(gen_dir);
        let mut files = BTreeMap::new();
        for kind in Kind::ALL {
            let p = gen_dir.join(file_name(kind));
            if p.is_file() {
                files.insert(kind, File::load(&p)?);
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            files,
        })
    }

    /// Where it is.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What each feed records about itself.
    #[must_use]
    pub fn feeds(&self) -> Vec<&Meta> {
        self.files.values().map(|f| &f.meta).collect()
    }

    /// Whether a feed is present.
    #[must_use]
    pub fn has(&self, kind: Kind) -> bool {
        self.files.contains_key(&kind)
    }

    /// The oldest import time of the feeds present (RFC 3339).
    #[must_use]
    pub fn oldest_import(&self) -> Option<&str> {
        self.files.values().map(|f| f.meta.imported.as_str()).min()
    }

    /// What the advisory feeds say about source package `source` in
    /// `release`: the release's own records, else the unstable line it
    /// inherits (tracker list syntax); the tracker wins over OSV for the same id.
    #[must_use]
    pub fn advisories(&self, release: &str, source: &str) -> Vec<Advisory> {
        let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
        for kind in [Kind::Osv, Kind::Tracker] {
            let Some(f) = self.files.get(&kind) else {
                continue;
            };
            let own = f.advisories(release, source);
            let inherited = f.advisories("*", source);
            for a in inherited.into_iter().chain(own) {
                by_id.insert(a.id.clone(), a);
            }
        }
        by_id.into_values().collect()
    }

    /// Whether the advisory feeds cover `release` (records of its own, or
    /// a tracker list whose unstable line every release inherits).
    #[must_use]
    pub fn covers(&self, release: &str) -> bool {
        [Kind::Tracker, Kind::Osv].iter().any(|k| {
            self.files
                .get(k)
                .is_some_and(|f| f.has_release(release) || f.has_release("*"))
        })
    }

    /// The KEV entry of `cve`.
    #[must_use]
    pub fn kev(&self, cve: &str) -> Option<Kev> {
        let f = self.files.get(&Kind::Kev)?;
        let r = f.find(b"KEVS", KEV, cve_key(cve)?)?;
        Some(Kev {
            cve: cve.to_owned(),
            date_added: f.string(r, 8).to_owned(),
            due_date: f.string(r, 16).to_owned(),
            product: f.string(r, 24).to_owned(),
            ransomware: r.get(32) == Some(&1),
        })
    }

    /// The EPSS score of `cve`.
    #[must_use]
    pub fn epss(&self, cve: &str) -> Option<Epss> {
        let f = self.files.get(&Kind::Epss)?;
        let r = f.find(b"EPSS", EPSS, cve_key(cve)?)?;
        Some(Epss {
            score: f32_at(r, 8),
            percentile: f32_at(r, 12),
        })
    }
}

/// Writes new feed files into a new generation of `dir`, keeps the other
/// feeds of the current generation, and points `current` at it with one
/// rename. On any error the current generation is untouched.
pub(crate) fn commit(dir: &Path, new: Vec<(Kind, Vec<u8>)>) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let staging = tempfile::Builder::new()
        .prefix("gen-")
        .tempdir_in(dir)
        .map_err(io_err(dir))?;
    let _scratch = bulwark_limits::scratch::register(staging.path());
    let old = std::fs::read_link(dir.join("current"))
        .ok()
        .map(|g| dir.join(g));
    for kind in Kind::ALL {
        let dest = staging.path().join(file_name(kind));
        if let Some((_, bytes)) = new.iter().find(|(k, _)| *k == kind) {
            std::fs::write(&dest, bytes).map_err(io_err(&dest))?;
        } else if let Some(old) = &old {
            let src = old.join(file_name(kind));
            if src.is_file() {
                std::fs::copy(&src, &dest).map_err(io_err(&src))?;
            }
        }
    }
    let gen_dir = staging.keep();
    let name = gen_dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let link = dir.join(format!(".current-{}", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&name, &link).map_err(io_err(&link))?;
    std::fs::rename(&link, dir.join("current")).map_err(io_err(dir))?;
    // Older generations: nobody points at them any more.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name();
            if n != name && n.to_string_lossy().starts_with("gen-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod data_date_tests {
    use super::*;

    fn meta(feed_date: Option<&str>, imported: &str) -> Meta {
        Meta {
            kind: Kind::Kev,
            sources: Vec::new(),
            feed_date: feed_date.map(str::to_owned),
            imported: imported.into(),
            records: 0,
        }
    }

    #[test]
    fn a_feed_is_as_old_as_its_own_date() {
        let day = |y, m, d| bulwark_debian::time::days_from_civil(y, m, d) * 86_400;
        let imported = "2026-12-03T10:00:00Z";
        let now = bulwark_debian::time::parse_rfc3339(imported);
        assert_eq!(
            meta(Some("2025.08.25"), imported).data_date(),
            Some(day(2025, 8, 25))
        );
        assert_eq!(
            meta(Some("2026-08-16"), imported).data_date(),
            Some(day(2026, 8, 16))
        );
        assert_eq!(
            meta(Some("2026-08-16T00:00:00Z"), imported).data_date(),
            Some(day(2026, 8, 16))
        );
        // No date of its own, or one that is not a date: the import time.
        assert_eq!(meta(None, imported).data_date(), now);
        for bad in ["2025.8.25", "yesterday", "2025-13-01", "2025-08-25junk", ""] {
            assert_eq!(meta(Some(bad), imported).data_date(), now, "{bad}");
        }
        // A date after the import (a clock gone wrong) does not make it younger.
        assert_eq!(meta(Some("2030-01-01"), imported).data_date(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(kind: Kind) -> Meta {
        Meta {
            kind,
            sources: vec![],
            feed_date: None,
            imported: "2026-12-01T00:00:00Z".into(),
            records: 0,
        }
    }

    #[test]
    fn keys_and_roundtrip() {
        assert_eq!(cve_key("CVE-2024-1"), Some((2024 << 32) | 1));
        assert!(cve_key("CVE-24-1").is_none() && cve_key("DSA-1").is_none());
        let dir = tempfile::tempdir().unwrap();
        let adv = |rel: &str, src: &str, id: &str, fixed: Option<&str>| Advisory {
            release: rel.into(),
            source: src.into(),
            id: id.into(),
            status: if fixed.is_some() {
                Status::Fixed
            } else {
                Status::Unfixed
            },
            fixed: fixed.map(str::to_owned),
            severity: Severity::High,
            note: None,
        };
        let t = encode_advisories(
            &meta(Kind::Tracker),
            vec![
                adv("bookworm", "openssl", "CVE-2024-2", Some("3.0.1-1")),
                adv("*", "openssl", "CVE-2024-3", None),
                adv("bookworm", "zlib", "CVE-2024-1", None),
                adv("*", "openssl", "CVE-2024-2", None),
            ],
        );
        let k = encode_kev(
            &meta(Kind::Kev),
            vec![Kev {
                cve: "CVE-2024-2".into(),
                date_added: "2024-05-01".into(),
                due_date: "2024-05-22".into(),
                ransomware: true,
                product: "OpenSSL".into(),
            }],
        );
        let e = encode_epss(
            &meta(Kind::Epss),
            vec![(
                cve_key("CVE-2024-2").unwrap(),
                Epss {
                    score: 0.5,
                    percentile: 0.9,
                },
            )],
        );
        commit(
            dir.path(),
            vec![(Kind::Tracker, t), (Kind::Kev, k), (Kind::Epss, e)],
        )
        .unwrap();
        let db = Db::open(dir.path()).unwrap();
        let a = db.advisories("bookworm", "openssl");
        assert_eq!(a.len(), 2);
        assert_eq!(
            a[0].fixed.as_deref(),
            Some("3.0.1-1"),
            "the release's own line wins"
        );
        assert_eq!(a[1].id, "CVE-2024-3");
        assert!(db.advisories("trixie", "zlib").is_empty());
        assert!(db.kev("CVE-2024-2").unwrap().ransomware);
        assert!(db.kev("CVE-2024-3").is_none());
        assert_eq!(db.epss("CVE-2024-2").unwrap().percentile, 0.9);
        // A second update of one feed keeps the others.
        commit(
            dir.path(),
            vec![(Kind::Epss, encode_epss(&meta(Kind::Epss), vec![]))],
        )
        .unwrap();
        let db = Db::open(dir.path()).unwrap();
        assert!(db.kev("CVE-2024-2").is_some() && db.epss("CVE-2024-2").is_none());
        let gens = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("gen-")
            })
            .count();
        assert_eq!(gens, 1);
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let t = encode_advisories(&meta(Kind::Tracker), vec![]);
        for cut in [0, 7, 12, 20, t.len() - 1] {
            let p = dir.path().join("x.bvd");
            std::fs::write(&p, &t[..cut]).unwrap();
            assert!(File::load(&p).is_err(), "{cut}");
        }
    }
}
