//! `Release`/`InRelease` contents (after the signature has been checked).

use crate::control::parse_paragraphs;
use crate::time::parse_rfc2822;

/// One index file listed in a Release file's `SHA256` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// The fields of a Release file bulwark relies on.
#[derive(Clone, Debug)]
pub struct Release {
    pub origin: Option<String>,
    pub suite: Option<String>,
    pub codename: Option<String>,
    pub version: Option<String>,
    /// Seconds since the epoch.
    pub date: Option<i64>,
    pub valid_until: Option<i64>,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    pub acquire_by_hash: bool,
    pub sha256: Vec<IndexFile>,
}

/// A Release file that is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("Release file is not valid deb822: {0}")]
    Syntax(String),
    #[error("Release file has no paragraph")]
    Empty,
    #[error("Release file field {field} is malformed: {line:?}")]
    Field { field: &'static str, line: String },
    #[error("Release file has no SHA256 index list (only SHA256 is trusted)")]
    NoSha256,
}

impl Release {
    /// Parses the signed text of a Release file.
    pub fn parse(text: &str) -> Result<Self, ReleaseError> {
        let paras = parse_paragraphs(text).map_err(|e| ReleaseError::Syntax(e.to_string()))?;
        let p = paras.into_iter().next().ok_or(ReleaseError::Empty)?;
        let date_field = |name: &'static str| -> Result<Option<i64>, ReleaseError> {
            match p.get(name) {
                None => Ok(None),
                Some(v) => parse_rfc2822(v)
                    .map(Some)
                    .ok_or_else(|| ReleaseError::Field {
                        field: name,
                        line: v.to_owned(),
                    }),
            }
        };
        let words = |name: &str| -> Vec<String> {
            p.get(name)
                .map(|v| v.split_ascii_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let mut sha256 = Vec::new();
        let listing = p.get("SHA256").ok_or(ReleaseError::NoSha256)?;
        for line in listing.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let bad = || ReleaseError::Field {
                field: "SHA256",
                line: line.to_owned(),
            };
            let mut it = line.split_ascii_whitespace();
            let (Some(hash), Some(size), Some(path), None) =
                (it.next(), it.next(), it.next(), it.next())
            else {
                return Err(bad());
            };
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            sha256.push(IndexFile {
                path: path.to_owned(),
                size: size.parse().map_err(|_| bad())?,
                sha256: hash.to_ascii_lowercase(),
            });
        }
        Ok(Release {
            origin: p.get("Origin").map(str::to_owned),
            suite: p.get("Suite").map(str::to_owned),
            codename: p.get("Codename").map(str::to_owned),
            version: p.get("Version").map(str::to_owned),
            date: date_field("Date")?,
            valid_until: date_field("Valid-Until")?,
            architectures: words("Architectures"),
            components: words("Components"),
            acquire_by_hash: p
                .get("Acquire-By-Hash")
                .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
            sha256,
        })
    }

    /// The listed entry for `path` (e.g. `main/binary-amd64/Packages.xz`).
    pub fn file(&self, path: &str) -> Option<&IndexFile> {
        self.sha256.iter().find(|f| f.path == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 17 May 2025 09:38:38 UTC\nValid-Until: Sat, 24 May 2025 09:38:38 UTC\nAcquire-By-Hash: yes\nArchitectures: amd64 arm64\nComponents: main contrib\nSHA256:\n 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 1234 main/binary-amd64/Packages.xz\n";

    #[test]
    fn parses() {
        let r = Release::parse(SAMPLE).unwrap();
        assert_eq!(r.codename.as_deref(), Some("bookworm"));
        assert!(r.acquire_by_hash);
        assert_eq!(r.file("main/binary-amd64/Packages.xz").unwrap().size, 1234);
        assert!(r.valid_until.unwrap() > r.date.unwrap());
    }

    #[test]
    fn rejects_bad_listing() {
        let t = SAMPLE.replace(" 1234 ", " x ");
        assert!(Release::parse(&t).is_err());
        let t = SAMPLE.replace("SHA256:", "MD5Sum:");
        assert!(matches!(Release::parse(&t), Err(ReleaseError::NoSha256)));
    }
}
