//! OSV records of the Debian ecosystem (`Debian:12`, package = source package).

use serde::Deserialize;

use crate::Error;
use crate::error::feed_err;
use crate::model::{Advisory, Severity, Status};

#[derive(Deserialize)]
struct Record {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    affected: Vec<Affected>,
}

#[derive(Deserialize)]
struct Affected {
    package: Package,
    #[serde(default)]
    ranges: Vec<Range>,
    #[serde(default)]
    ecosystem_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct Range {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<serde_json::Value>,
}

/// Parses one OSV record into advisories for the Debian releases it
/// names (other ecosystems are skipped; a withdrawn record gives none).
///
/// # Errors
/// Not an OSV record.
pub fn parse(feed: &str, data: &[u8]) -> Result<Vec<Advisory>, Error> {
    let r: Record = serde_json::from_slice(data).map_err(|e| {
        feed_err(
            feed,
            format!("line {} column {}", e.line(), e.column()),
            format!("not an OSV record: {e}"),
        )
    })?;
    if r.withdrawn.is_some() {
        return Ok(Vec::new());
    }
    // The CVE this record is about: Debian's ids are DEBIAN-CVE-…; DSA and
    // DLA records list their CVEs as aliases (one advisory per CVE).
    let ids: Vec<String> = match r.id.strip_prefix("DEBIAN-") {
        Some(cve) if cve.starts_with("CVE-") => vec![cve.to_owned()],
        _ => {
            let cves: Vec<String> = r
                .aliases
                .iter()
                .filter(|a| a.starts_with("CVE-"))
                .cloned()
                .collect();
            if cves.is_empty() {
                vec![r.id.clone()]
            } else {
                cves
            }
        }
    };
    let mut out = Vec::new();
    for a in &r.affected {
        let Some(version) = a.package.ecosystem.strip_prefix("Debian:") else {
            continue;
        };
        let Some(release) = crate::release::codename(version) else {
            continue;
        };
        let fixed = a
            .ranges
            .iter()
            .filter(|rg| rg.kind == "ECOSYSTEM")
            .flat_map(|rg| rg.events.iter())
            .find_map(|e| e.get("fixed").and_then(|f| f.as_str()).map(str::to_owned));
        let severity = a
            .ecosystem_specific
            .as_ref()
            .and_then(|v| v.get("urgency"))
            .and_then(|u| u.as_str())
            .map_or(Severity::Unknown, Severity::from_urgency);
        for id in &ids {
            let (status, fixed) = match fixed.as_deref() {
                Some("0") => (Status::NotAffected, None),
                Some(v) => (Status::Fixed, Some(v.to_owned())),
                None => (Status::Unfixed, None),
            };
            out.push(Advisory {
                release: release.to_owned(),
                source: a.package.name.clone(),
                id: id.clone(),
                status,
                fixed,
                severity,
                note: None,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_records() {
        let doc = br#"{"id":"DEBIAN-CVE-2023-0286","affected":[
            {"package":{"ecosystem":"Debian:12","name":"openssl"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.8-1"}]}],
             "ecosystem_specific":{"urgency":"high"}},
            {"package":{"ecosystem":"Debian:13","name":"openssl"},
             "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]},
            {"package":{"ecosystem":"PyPI","name":"x"}}]}"#;
        let a = parse("t", doc).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(
            (
                a[0].release.as_str(),
                a[0].id.as_str(),
                a[0].status,
                a[0].severity
            ),
            ("bookworm", "CVE-2023-0286", Status::Fixed, Severity::High)
        );
        assert_eq!(
            (a[1].release.as_str(), a[1].status),
            ("trixie", Status::Unfixed)
        );
        assert!(parse("t", b"[]").is_err());
    }
}
