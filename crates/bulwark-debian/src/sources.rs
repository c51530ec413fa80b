//! The host's apt sources: one-line `sources.list` entries and deb822
//! `.sources` files. bulwark never hard-codes a mirror: this is where the
//! default archive location and keyring come from.

use std::path::{Path, PathBuf};

use crate::control::parse_paragraphs;

/// One `deb` source: a URI with its suites and components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceEntry {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// `Signed-By`: a keyring path or an inline armored key block.
    pub signed_by: Option<String>,
    /// Where the entry was read from, for messages.
    pub origin: String,
}

/// A sources file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct SourcesError {
    pub path: PathBuf,
    pub reason: String,
}

/// Reads `ROOT/etc/apt/sources.list` and `ROOT/etc/apt/sources.list.d/*.{list,sources}`
/// in apt's order (main file first, then the directory sorted by name).
pub fn read_host_sources(root: &Path) -> Result<Vec<SourceEntry>, SourcesError> {
    let mut out = Vec::new();
    let main = root.join("etc/apt/sources.list");
    if main.is_file() {
        out.extend(parse_one_line_file(&main)?);
    }
    let dir = root.join("etc/apt/sources.list.d");
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            match f.extension().and_then(|e| e.to_str()) {
                Some("list") => out.extend(parse_one_line_file(&f)?),
                Some("sources") => out.extend(parse_deb822_file(&f)?),
                _ => {}
            }
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String, SourcesError> {
    std::fs::read_to_string(path).map_err(|e| SourcesError {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn parse_one_line_file(path: &Path) -> Result<Vec<SourceEntry>, SourcesError> {
    Ok(parse_one_line(&read(path)?, &path.display().to_string()))
}

/// Parses the one-line format: `deb [opt=val ...] URI SUITE [COMPONENT ...]`.
pub fn parse_one_line(text: &str, origin: &str) -> Vec<SourceEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line
            .strip_prefix("deb ")
            .or_else(|| line.strip_prefix("deb\t"))
        else {
            continue;
        };
        let mut rest = rest.trim();
        let mut signed_by = None;
        if let Some(opts) = rest.strip_prefix('[') {
            let Some(end) = opts.find(']') else { continue };
            for opt in opts[..end].split_ascii_whitespace() {
                if let Some(v) = opt.strip_prefix("signed-by=") {
                    signed_by = Some(v.to_owned());
                }
            }
            rest = opts[end + 1..].trim();
        }
        let mut words = rest.split_ascii_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(SourceEntry {
            uri: uri.to_owned(),
            suites: vec![suite.to_owned()],
            components: words.map(str::to_owned).collect(),
            signed_by,
            origin: origin.to_owned(),
        });
    }
    out
}

fn parse_deb822_file(path: &Path) -> Result<Vec<SourceEntry>, SourcesError> {
    parse_deb822(&read(path)?, &path.display().to_string()).map_err(|reason| SourcesError {
        path: path.to_owned(),
        reason,
    })
}

/// Parses deb822 `.sources` stanzas (`Types`, `URIs`, `Suites`, `Components`,
/// `Signed-By`, `Enabled`).
pub fn parse_deb822(text: &str, origin: &str) -> Result<Vec<SourceEntry>, String> {
    let mut out = Vec::new();
    for p in parse_paragraphs(text).map_err(|e| e.to_string())? {
        let types = p.get("Types").unwrap_or("");
        if !types.split_ascii_whitespace().any(|t| t == "deb") {
            continue;
        }
        if p.get("Enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        let words = |f: &str| -> Vec<String> {
            p.get(f)
                .map(|v| v.split_ascii_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        for uri in words("URIs") {
            out.push(SourceEntry {
                uri,
                suites: words("Suites"),
                components: words("Components"),
                signed_by: p.get("Signed-By").map(|s| s.trim().to_owned()),
                origin: origin.to_owned(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line() {
        let e = parse_one_line(
            "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m/debian bookworm main contrib\ndeb-src http://m/debian bookworm main\n",
            "t",
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].signed_by.as_deref(), Some("/k.gpg"));
        assert_eq!(e[0].components, ["main", "contrib"]);
    }

    #[test]
    fn deb822() {
        let e = parse_deb822(
            "Types: deb deb-src\nURIs: http://a/debian http://b/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/k.gpg\n\nTypes: deb\nEnabled: no\nURIs: http://c/\nSuites: x\n",
            "t",
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].uri, "http://b/debian");
        assert_eq!(e[0].suites, ["bookworm", "bookworm-updates"]);
    }
}
