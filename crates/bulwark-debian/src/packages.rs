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
        Some(s) => match s.split_once('(') {
            Some((n, v)) => (
                Some(n.trim().to_owned()),
                Some(v.trim_end_matches(')').trim().to_owned()),
            ),
            None => (Some(s.trim().to_owned()), None),
        },
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
