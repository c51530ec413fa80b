//! Stanzas of a `Packages` index, parsed into what resolution needs.

use crate::Version;
use crate::relation::{Dependency, Relation, parse_relations};

/// One binary package offered by an archive.
#[derive(Clone, Debug)]
pub struct PackageRecord {
    pub name: String,
    pub version: Version,
    pub arch: String,
    /// Path relative to the archive root (`pool/main/...`).
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    pub source: Option<String>,
    /// Source version when it differs from the binary version (`Source: x (1.2-3)`).
    pub source_version: Option<String>,
    pub depends: Vec<Dependency>,
    pub pre_depends: Vec<Dependency>,
    pub provides: Vec<Relation>,
    pub essential: bool,
    pub priority: Option<String>,
    pub multi_arch: Option<String>,
    /// Which suite/archive the record came from (filled in by the apt client).
    pub suite: String,
    pub archive_uri: String,
}

/// Splits a `Source` field: `openssl (3.0.15-1~deb12u1)` → (`openssl`, `Some("3.0.15-1~deb12u1")`).
pub fn parse_source_field(s: &str) -> (String, Option<String>) {
    match s.split_once('(') {
        Some((n, v)) => (
            n.trim().to_owned(),
            Some(v.trim_end_matches(')').trim().to_owned()),
        ),
        None => (s.trim().to_owned(), None),
    }
}

/// A stanza that lacks or garbles a required field.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: package stanza {index} ({package}): {reason}")]
pub struct PackagesError {
    pub origin: String,
    pub index: usize,
    pub package: String,
    pub reason: String,
}

/// Parses a whole `Packages` file. `origin` names it in errors.
///
/// Paragraphs are borrowed from `text` and turned into records one at a
/// time, so a 60,000-stanza index never exists twice in memory.
pub fn parse_packages(text: &str, origin: &str) -> Result<Vec<PackageRecord>, PackagesError> {
    let mut out = Vec::new();
    for (index, p) in deb822_fast::borrowed::iter_paragraphs_borrowed(text).enumerate() {
        let p = p.map_err(|e| PackagesError {
            origin: origin.into(),
            index,
            package: "?".into(),
            reason: format!("malformed deb822: {e:?}"),
        })?;
        if p.is_empty() {
            continue;
        }
        out.push(record(&p, origin, index)?);
    }
    Ok(out)
}

fn record(
    p: &deb822_fast::borrowed::BorrowedParagraph<'_>,
    origin: &str,
    index: usize,
) -> Result<PackageRecord, PackagesError> {
    // Multi-line values (wrapped relation fields) are joined with spaces.
    let get = |f: &str| -> Option<std::borrow::Cow<'_, str>> {
        let lines = p.get(f)?;
        Some(if lines.len() == 1 {
            std::borrow::Cow::Borrowed(lines[0])
        } else {
            std::borrow::Cow::Owned(lines.join(" "))
        })
    };
    let package = get("Package")
        .map(|c| c.into_owned())
        .unwrap_or_else(|| "?".into());
    let err = |reason: String| PackagesError {
        origin: origin.into(),
        index,
        package: package.clone(),
        reason,
    };
    let req = |f: &str| get(f).ok_or_else(|| err(format!("required field '{f}' is missing")));
    let rel = |f: &str| match get(f) {
        None => Ok(Vec::new()),
        Some(v) => parse_relations(&v).map_err(|e| err(format!("{f}: {e}"))),
    };
    let sha256 = req("SHA256")?.trim().to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err(format!("SHA256 {sha256:?} is not a sha256 hex digest")));
    }
    let filename = req("Filename")?.trim().to_owned();
    if filename.starts_with('/') || filename.split('/').any(|c| c == ".." || c.is_empty()) {
        return Err(err(format!(
            "Filename {filename:?} is not a safe relative path"
        )));
    }
    let (source, source_version) = match get("Source") {
        None => (None, None),
        Some(s) => {
            let (n, v) = parse_source_field(&s);
            (Some(n), v)
        }
    };
    let provides = rel("Provides")?
        .into_iter()
        .flat_map(|d| d.alternatives)
        .collect();
    Ok(PackageRecord {
        name: req("Package")?.trim().to_owned(),
        version: req("Version")?
            .parse()
            .map_err(|e| err(format!("Version: {e}")))?,
        arch: req("Architecture")?.trim().to_owned(),
        filename,
        size: req("Size")?
            .trim()
            .parse()
            .map_err(|_| err("Size is not a number".into()))?,
        sha256,
        source,
        source_version,
        depends: rel("Depends")?,
        pre_depends: rel("Pre-Depends")?,
        provides,
        essential: get("Essential").is_some_and(|v| v.trim() == "yes"),
        priority: get("Priority").map(|v| v.trim().to_owned()),
        multi_arch: get("Multi-Arch").map(|v| v.trim().to_owned()),
        suite: String::new(),
        archive_uri: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stanza() {
        let t = "Package: libssl3\nSource: openssl (3.0.15-1~deb12u1)\nVersion: 3.0.15-1~deb12u1+b1\nArchitecture: amd64\nDepends: libc6 (>= 2.34)\nProvides: libssl\nFilename: pool/main/o/openssl/libssl3.deb\nSize: 10\nSHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
        let r = parse_packages(t, "t").unwrap();
        assert_eq!(r[0].source.as_deref(), Some("openssl"));
        assert_eq!(r[0].source_version.as_deref(), Some("3.0.15-1~deb12u1"));
        assert_eq!(r[0].provides[0].name, "libssl");
    }

    #[test]
    fn rejects_unsafe_filename() {
        let t = "Package: x\nVersion: 1\nArchitecture: all\nFilename: ../../etc/passwd\nSize: 1\nSHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
        assert!(
            parse_packages(t, "t")
                .unwrap_err()
                .to_string()
                .contains("safe relative path")
        );
    }
}

/// A `Packages` index kept as text, with stanzas parsed only when asked
/// for. Resolution touches a few hundred of Debian's ~60,000 stanzas, so
/// this saves most of the parsing time and memory of a lock.
#[derive(Debug)]
pub struct PackagesIndex {
    text: String,
    origin: String,
    suite: String,
    archive_uri: String,
    stanzas: Vec<(usize, usize)>,
    by_name: NameMap,
    providers: NameMap,
    parsed: Vec<std::sync::OnceLock<Option<PackageRecord>>>,
}

impl PackagesIndex {
    /// Scans `text` (one pass over its lines) for stanza boundaries,
    /// `Package` and `Provides`.
    pub fn new(text: String, origin: &str, suite: &str, archive_uri: &str) -> Self {
        let mut scanner = PackagesScanner {
            text: text.into_bytes(),
            ..Default::default()
        };
        scanner.scan(true);
        // Still the String's bytes, so always UTF-8.
        let text = match String::from_utf8(std::mem::take(&mut scanner.text)) {
            Ok(t) => t,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        scanner.into_index(text, origin, suite, archive_uri)
    }

    /// Number of stanzas.
    pub fn len(&self) -> usize {
        self.stanzas.len()
    }
    pub fn is_empty(&self) -> bool {
        self.stanzas.is_empty()
    }

    fn record(&self, idx: u32) -> Option<&PackageRecord> {
        self.parsed[idx as usize]
            .get_or_init(|| {
                let (s, e) = self.stanzas[idx as usize];
                match parse_packages(&self.text[s..e], &self.origin) {
                    Ok(mut v) if v.len() == 1 => {
                        let mut r = v.remove(0);
                        r.suite = self.suite.clone();
                        r.archive_uri = self.archive_uri.clone();
                        Some(r)
                    }
                    Ok(_) => None,
                    Err(e) => {
                        // The index itself is verified by hash; a stanza we
                        // cannot read is simply not a candidate.
                        tracing::warn!("{e}");
                        None
                    }
                }
            })
            .as_ref()
    }

    /// Records named `name`.
    pub fn named(&self, name: &str) -> Vec<&PackageRecord> {
        self.by_name
            .get(name)
            .map(|v| v.iter().filter_map(|&i| self.record(i)).collect())
            .unwrap_or_default()
    }

    /// Records whose `Provides` lists `name`.
    pub fn providing(&self, name: &str) -> Vec<&PackageRecord> {
        self.providers
            .get(name)
            .map(|v| v.iter().filter_map(|&i| self.record(i)).collect())
            .unwrap_or_default()
    }

    /// Parses every stanza (for tools that need them all).
    pub fn all(&self) -> Vec<&PackageRecord> {
        (0..self.stanzas.len() as u32)
            .filter_map(|i| self.record(i))
            .collect()
    }
}

/// Builds a [`PackagesIndex`] from an index that arrives in pieces (as it
/// downloads and inflates), scanning each complete line as soon as it is
/// there, so that scanning overlaps the transfer.
#[derive(Debug, Default)]
pub struct PackagesScanner {
    text: Vec<u8>,
    /// Start of the first line not scanned yet.
    pos: usize,
    /// Start of the stanza being read, its `Package` and `Provides` values.
    start: Option<usize>,
    name: Option<(usize, usize)>,
    provides: Option<(usize, usize)>,
    stanzas: Vec<(usize, usize)>,
    by_name: NameMap,
    providers: NameMap,
}

/// Stanza numbers by package name. foldhash is several times faster than
/// SipHash on short names, and its per-map random seed keeps crafted names
/// (an index is scanned before its digest is known) from colliding.
type NameMap = std::collections::HashMap<String, Vec<u32>, foldhash::fast::RandomState>;

/// An index that is not UTF-8 text.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: the Packages index is not UTF-8 text (at byte {offset})")]
pub struct NotUtf8 {
    pub origin: String,
    pub offset: usize,
}

impl PackagesScanner {
    /// A scanner expecting about `capacity` bytes of text (a hint only).
    pub fn with_capacity(capacity: usize) -> Self {
        PackagesScanner {
            text: Vec::with_capacity(capacity),
            ..Default::default()
        }
    }

    /// Appends the next piece of the index and scans the lines it completes.
    pub fn push(&mut self, piece: &[u8]) {
        self.text.extend_from_slice(piece);
        self.scan(false);
    }

    /// Scans what is left and checks that the whole index is UTF-8.
    pub fn finish(
        mut self,
        origin: &str,
        suite: &str,
        archive_uri: &str,
    ) -> Result<PackagesIndex, NotUtf8> {
        self.scan(true);
        let text = String::from_utf8(std::mem::take(&mut self.text)).map_err(|e| NotUtf8 {
            origin: origin.to_owned(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        Ok(self.into_index(text, origin, suite, archive_uri))
    }

    fn into_index(
        self,
        text: String,
        origin: &str,
        suite: &str,
        archive_uri: &str,
    ) -> PackagesIndex {
        let parsed = (0..self.stanzas.len())
            .map(|_| std::sync::OnceLock::new())
            .collect();
        PackagesIndex {
            text,
            origin: origin.to_owned(),
            suite: suite.to_owned(),
            archive_uri: archive_uri.to_owned(),
            stanzas: self.stanzas,
            by_name: self.by_name,
            providers: self.providers,
            parsed,
        }
    }

    fn scan(&mut self, at_end: bool) {
        let len = self.text.len();
        while self.pos < len {
            let end = match self.text[self.pos..].iter().position(|&b| b == b'\n') {
                Some(i) => self.pos + i,
                None if at_end => len,
                None => break,
            };
            let line = &self.text[self.pos..end];
            if line.iter().all(u8::is_ascii_whitespace) {
                self.flush(self.pos);
            } else {
                if self.start.is_none() {
                    self.start = Some(self.pos);
                }
                let value = |prefix: &[u8]| {
                    line.starts_with(prefix)
                        .then(|| trim_range(line, prefix.len(), self.pos))
                };
                if let Some(v) = value(b"Package:") {
                    self.name = Some(v);
                } else if let Some(v) = value(b"Provides:") {
                    self.provides = Some(v);
                }
            }
            self.pos = end + 1;
        }
        if at_end {
            self.flush(len);
            self.pos = len;
        }
    }

    /// Ends the stanza being read (if any) at `end`.
    fn flush(&mut self, end: usize) {
        let Some(start) = self.start.take() else {
            return;
        };
        let idx = self.stanzas.len() as u32;
        self.stanzas.push((start, end));
        let text = |r: Option<(usize, usize)>| {
            r.and_then(|(s, e)| std::str::from_utf8(&self.text[s..e]).ok())
        };
        if let Some(n) = text(self.name.take()) {
            self.by_name.entry(n.to_owned()).or_default().push(idx);
        }
        if let Some(p) = text(self.provides.take()) {
            for item in p.split(',') {
                let n = item.trim().split([' ', '(', ':']).next().unwrap_or("");
                if !n.is_empty() {
                    self.providers.entry(n.to_owned()).or_default().push(idx);
                }
            }
        }
    }
}

/// The range of `line[from..]` without surrounding ASCII whitespace, offset
/// by `base`.
fn trim_range(line: &[u8], from: usize, base: usize) -> (usize, usize) {
    let v = &line[from..];
    let lead = v.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let trail = v[lead..]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    (base + from + lead, base + line.len() - trail)
}

#[cfg(test)]
mod index_tests {
    use super::*;

    #[test]
    fn lazy_index_finds_names_and_providers() {
        let sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let t = format!(
            "Package: a\nVersion: 1\nArchitecture: amd64\nProvides: mta (= 1), x:any\nFilename: pool/a.deb\nSize: 1\nSHA256: {sha}\n\n\nPackage: b\nVersion: 2\nArchitecture: all\nDescription: é\n multi\nFilename: pool/b.deb\nSize: 1\nSHA256: {sha}\n"
        );
        let idx = PackagesIndex::new(t, "t", "bookworm", "http://m");
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.named("b")[0].version.as_str(), "2");
        assert_eq!(idx.named("b")[0].suite, "bookworm");
        assert_eq!(idx.providing("mta")[0].name, "a");
        assert_eq!(idx.providing("x")[0].name, "a");
        assert!(idx.named("zzz").is_empty());
        assert_eq!(idx.all().len(), 2);
    }

    #[test]
    fn scanning_in_pieces_finds_what_scanning_at_once_finds() {
        let sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let t = format!(
            "Package: a\nVersion: 1\nArchitecture: amd64\nProvides: mta (= 1), x:any\nFilename: pool/a.deb\nSize: 1\nSHA256: {sha}\n\n \t\nPackage:  b \r\nVersion: 2\nArchitecture: all\nDescription: é\n multi\nFilename: pool/b.deb\nSize: 1\nSHA256: {sha}"
        );
        let whole = PackagesIndex::new(t.clone(), "t", "s", "u");
        for piece in [1, 2, 3, 7, 64] {
            let mut sc = PackagesScanner::with_capacity(4);
            for p in t.as_bytes().chunks(piece) {
                sc.push(p);
            }
            let idx = sc.finish("t", "s", "u").unwrap();
            assert_eq!(idx.stanzas, whole.stanzas, "pieces of {piece}");
            assert_eq!(idx.by_name, whole.by_name);
            assert_eq!(idx.providers, whole.providers);
        }
        assert_eq!(whole.len(), 2);
        assert_eq!(whole.named("b")[0].version.as_str(), "2");
        // A multi-byte character split across pieces is still text, and a
        // stray byte is reported with its offset.
        let mut sc = PackagesScanner::with_capacity(0);
        sc.push(&t.as_bytes()[..1]);
        sc.push(b"\xff");
        let e = sc.finish("idx", "s", "u").unwrap_err();
        assert_eq!((e.origin.as_str(), e.offset), ("idx", 1));
    }
}
