//! The Debian security tracker: its JSON export, and the `data/CVE/list`
//! and `data/DSA/list` text it is made from.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::feed_err;
use crate::model::{Advisory, Severity, Status};
use crate::{Error, MAX_ADVISORIES};

#[derive(Deserialize)]
struct Release {
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    nodsa: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    releases: BTreeMap<String, Release>,
}

/// Parses the tracker's JSON export
/// (`{source: {CVE: {releases: {codename: {status, fixed_version, urgency, nodsa, nodsa_reason}}}}}`).
///
/// # Errors
/// Not that JSON (with the line and column), or more records than allowed.
pub fn parse_json(feed: &str, data: &[u8]) -> Result<Vec<Advisory>, Error> {
    let doc: BTreeMap<String, BTreeMap<String, Record>> =
        serde_json::from_slice(data).map_err(|e| {
            feed_err(
                feed,
                format!("line {} column {}", e.line(), e.column()),
                format!("not the security tracker's JSON: {e}"),
            )
        })?;
    let mut out = Vec::new();
    for (source, cves) in doc {
        for (id, rec) in cves {
            for (release, r) in rec.releases {
                let severity = Severity::from_urgency(r.urgency.as_deref().unwrap_or(""));
                let (status, fixed) = match (r.status.as_str(), r.fixed_version.as_deref()) {
                    ("resolved", Some("0")) => (Status::NotAffected, None),
                    ("resolved", Some(v)) => (Status::Fixed, Some(v.to_owned())),
                    ("resolved", None) => (Status::NotAffected, None),
                    ("open", _) => match (r.nodsa.as_deref(), r.nodsa_reason.as_deref()) {
                        (_, Some("postponed")) => (Status::Postponed, None),
                        (_, Some("ignored")) => (Status::Ignored, None),
                        (Some(_), _) => (Status::NoDsa, None),
                        _ => (Status::Unfixed, None),
                    },
                    ("undetermined", _) => (Status::Undetermined, None),
                    (other, _) => {
                        return Err(feed_err(
                            feed,
                            format!("{source} {id} {release}"),
                            format!("unknown status {other:?}"),
                        ));
                    }
                };
                out.push(Advisory {
                    release,
                    source: source.clone(),
                    id: id.clone(),
                    status,
                    fixed,
                    severity,
                    note: r.nodsa.filter(|n| !n.is_empty()),
                });
                if out.len() > MAX_ADVISORIES {
                    return Err(feed_err(
                        feed,
                        format!("{source} {id}"),
                        format!("more than {MAX_ADVISORIES} records"),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// One `- package …` line of the list syntax.
struct Line {
    release: Option<String>,
    source: String,
    state: String,
    notes: Option<String>,
}

fn parse_line(text: &str) -> Option<Line> {
    let (release, rest) = match text.strip_prefix('[') {
        Some(r) => {
            let (rel, rest) = r.split_once(']')?;
            (Some(rel.trim().to_owned()), rest.trim_start())
        }
        None => (None, text),
    };
    let rest = rest.strip_prefix("- ")?;
    let (head, notes) = match rest.split_once(" (") {
        Some((h, n)) => (h, Some(n.trim_end_matches(')').to_owned())),
        None => (rest, None),
    };
    let mut words = head.split_whitespace();
    let source = words.next()?.to_owned();
    let state = words.next().unwrap_or("<unfixed>").to_owned();
    Some(Line {
        release,
        source,
        state,
        notes,
    })
}

/// Parses `data/CVE/list` (and `data/DSA/list`) text. A package's line
/// without a release is the unstable line, which every release without a
/// line of its own inherits (stored as release `*`); a DSA's `[release] -
/// package version` line fixes each CVE it names in that release unless the
/// CVE record has a line of its own for it.
///
/// # Errors
/// A line that is neither a record header, a package line, a note nor a
/// cross-reference, with its number.
pub fn parse_list(feed: &str, text: &str) -> Result<Vec<Advisory>, Error> {
    let mut out: BTreeMap<(String, String, String), Advisory> = BTreeMap::new();
    // (release, source, version, CVEs) of each DSA line.
    let mut dsa_fixes: Vec<(String, String, String, Vec<String>)> = Vec::new();
    let mut id: Option<String> = None;
    let mut dsa: Option<Vec<String>> = None;
    for (n, raw) in text.lines().enumerate() {
        let at = || format!("line {}", n + 1);
        if raw.starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        if !raw.starts_with([' ', '\t']) {
            // A record header: `CVE-… (…)`, `CVE-… […]`, or `[date] DSA-… pkg - …`.
            if raw.starts_with('[') {
                id = None;
                dsa = Some(Vec::new());
            } else {
                let first = raw.split_whitespace().next().unwrap_or_default();
                id = Some(first.to_owned());
                dsa = None;
            }
            continue;
        }
        let t = raw.trim();
        if let Some(refs) = t.strip_prefix('{') {
            if let Some(list) = &mut dsa {
                list.extend(
                    refs.trim_end_matches('}')
                        .split_whitespace()
                        .filter(|r| r.starts_with("CVE-"))
                        .map(str::to_owned),
                );
            }
            continue;
        }
        if t.starts_with("NOTE:")
            || t.starts_with("TODO:")
            || matches!(t, "RESERVED" | "REJECTED" | "NOT-FOR-US")
            || t.starts_with("NOT-FOR-US:")
        {
            continue;
        }
        let Some(line) = parse_line(t) else {
            return Err(feed_err(
                feed,
                at(),
                format!("not a tracker list line: {:?}", truncate(t)),
            ));
        };
        if let Some(cves) = &dsa {
            if let (Some(rel), false) = (&line.release, line.state.starts_with('<')) {
                dsa_fixes.push((rel.clone(), line.source, line.state, cves.clone()));
            }
            continue;
        }
        let Some(cve) = &id else {
            return Err(feed_err(feed, at(), "a package line before any record"));
        };
        let severity = line
            .notes
            .as_deref()
            .and_then(|n| {
                n.split(';')
                    .map(Severity::from_urgency)
                    .find(|s| *s != Severity::Unknown)
            })
            .unwrap_or(Severity::Unknown);
        let (status, fixed) = match line.state.as_str() {
            "<unfixed>" | "<itp>" => (Status::Unfixed, None),
            "<no-dsa>" => (Status::NoDsa, None),
            "<postponed>" => (Status::Postponed, None),
            "<ignored>" => (Status::Ignored, None),
            "<end-of-life>" => (Status::EndOfLife, None),
            "<not-affected>" => (Status::NotAffected, None),
            "<undetermined>" => (Status::Undetermined, None),
            // Gone from unstable: releases that still ship it have their own line.
            "<removed>" => continue,
            s if s.starts_with('<') => {
                return Err(feed_err(feed, at(), format!("unknown state {s}")));
            }
            v => (Status::Fixed, Some(v.to_owned())),
        };
        let release = line.release.unwrap_or_else(|| "*".to_owned());
        let a = Advisory {
            release: release.clone(),
            source: line.source.clone(),
            id: cve.clone(),
            status,
            fixed,
            severity,
            note: line.notes.filter(|n| !n.is_empty()),
        };
        out.insert((release, line.source, cve.clone()), a);
        if out.len() > MAX_ADVISORIES {
            return Err(feed_err(
                feed,
                at(),
                format!("more than {MAX_ADVISORIES} records"),
            ));
        }
    }
    // DSA fixes, where the CVE record has no line for that release.
    for (release, source, version, cves) in dsa_fixes {
        for cve in cves {
            let key = (release.clone(), source.clone(), cve.clone());
            if out.contains_key(&key) {
                continue;
            }
            let severity = out
                .get(&("*".to_owned(), source.clone(), cve.clone()))
                .map_or(Severity::Unknown, |a| a.severity);
            out.insert(
                key,
                Advisory {
                    release: release.clone(),
                    source: source.clone(),
                    id: cve,
                    status: Status::Fixed,
                    fixed: Some(version.clone()),
                    severity,
                    note: None,
                },
            );
        }
    }
    Ok(out.into_values().collect())
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_lines_and_inheritance() {
        let text = "CVE-2026-3276 (x)\n\t- python3.11 <removed>\n\t[bookworm] - python3.11 <no-dsa> (Minor issue)\n\t- pypy3 <unfixed>\n\t[bullseye] - pypy3 <postponed> (minor issue)\nCVE-2011-3374 (y)\n\t- apt <unfixed> (unimportant; bug #642480)\n\tNOTE: not exploitable\n";
        let a = parse_list("t", text).unwrap();
        let find = |rel: &str, src: &str| {
            a.iter()
                .find(|x| x.release == rel && x.source == src)
                .map(|x| (x.status, x.severity))
        };
        assert_eq!(
            find("bookworm", "python3.11"),
            Some((Status::NoDsa, Severity::Unknown))
        );
        assert_eq!(find("*", "python3.11"), None);
        assert_eq!(find("*", "pypy3").map(|x| x.0), Some(Status::Unfixed));
        assert_eq!(
            find("bullseye", "pypy3").map(|x| x.0),
            Some(Status::Postponed)
        );
        assert_eq!(
            find("*", "apt"),
            Some((Status::Unfixed, Severity::Unimportant))
        );
        assert!(parse_list("t", "CVE-1 (x)\n\tgarbage here\n").is_err());
    }

    #[test]
    fn json_statuses() {
        let doc = br#"{"openssl":{"CVE-1":{"releases":{
            "bookworm":{"status":"resolved","fixed_version":"3.0.11-1~deb12u2","urgency":"medium"},
            "trixie":{"status":"resolved","fixed_version":"0","urgency":"not yet assigned"},
            "bullseye":{"status":"open","nodsa":"Minor issue","nodsa_reason":"postponed","urgency":"low"},
            "sid":{"status":"undetermined"}}}}}"#;
        let a = parse_json("t", doc).unwrap();
        let st: Vec<_> = a.iter().map(|x| (x.release.as_str(), x.status)).collect();
        assert_eq!(
            st,
            [
                ("bookworm", Status::Fixed),
                ("bullseye", Status::Postponed),
                ("sid", Status::Undetermined),
                ("trixie", Status::NotAffected)
            ]
        );
        let err = parse_json("t", b"{\"x\": [").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
