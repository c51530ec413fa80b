//! VEX: what bulwark says about each finding (OpenVEX), and what others
//! said (OpenVEX or CycloneDX VEX documents given with `--vex`).

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::{Error, Finding, Priority, Reach, Report};

/// A statement that suppressed a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// The VEX file.
    pub file: String,
    /// Which statement (0-based) in it.
    pub statement: usize,
    /// Its status (`not_affected`, `fixed`, `false_positive`, `resolved`).
    pub status: String,
    /// Its justification, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// One statement, normalised from either format.
#[derive(Clone, Debug)]
struct Statement {
    index: usize,
    ids: BTreeSet<String>,
    /// Package purls or names the statement is limited to (empty: any).
    packages: BTreeSet<String>,
    /// Image digests the statement is limited to (empty: any).
    digests: BTreeSet<String>,
    status: String,
    justification: Option<String>,
}

/// Statements from a VEX document that say "not affected" (or fixed,
/// resolved, false positive).
#[derive(Clone, Debug)]
pub struct VexDocument {
    file: String,
    statements: Vec<Statement>,
}

fn purl_name(p: &str) -> Option<String> {
    let rest = p.strip_prefix("pkg:deb/")?;
    let (_, nv) = rest.split_once('/')?;
    Some(nv.split(['@', '?']).next()?.to_owned())
}

fn digest_in(s: &str) -> Option<String> {
    let i = s.find("sha256")?;
    let hex: String = s[i + 6..]
        .trim_start_matches(':')
        .trim_start_matches("%3A")
        .trim_start_matches("%3a")
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (hex.len() == 64).then(|| format!("sha256:{hex}"))
}

/// Reads an OpenVEX or CycloneDX VEX document.
///
/// # Errors
/// Unreadable, too large, or neither format.
pub fn read(path: &Path) -> Result<VexDocument, Error> {
    let file = path.display().to_string();
    let bad = |detail: String| Error::Target {
        target: file.clone(),
        detail,
    };
    let data = bulwark_limits::read_file(path, bulwark_limits::PREDICATE_FILE, "VEX document")
        .map_err(|e| bad(e.to_string()))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&data).map_err(|e| bad(format!("not JSON: {e}")))?;
    // A VEX attestation's statement: take its predicate.
    let doc = match doc.get("predicate") {
        Some(p) if doc.get("predicateType").is_some() => p.clone(),
        _ => doc,
    };
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    };
    let mut statements = Vec::new();
    if doc
        .get("@context")
        .and_then(|c| c.as_str())
        .is_some_and(|c| c.contains("openvex"))
    {
        for (index, s) in doc["statements"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let v = &s["vulnerability"];
            let mut ids: BTreeSet<String> = BTreeSet::new();
            ids.extend(v.as_str().map(str::to_owned));
            ids.extend(v["name"].as_str().map(str::to_owned));
            ids.extend(v["@id"].as_str().map(str::to_owned));
            ids.extend(strings(&v["aliases"]));
            let mut packages = BTreeSet::new();
            let mut digests = BTreeSet::new();
            for p in s["products"].as_array().into_iter().flatten() {
                let id = p.as_str().or_else(|| p["@id"].as_str()).unwrap_or_default();
                if let Some(n) = purl_name(id) {
                    packages.insert(n);
                }
                if let Some(d) = digest_in(id) {
                    digests.insert(d);
                }
                for sub in p["subcomponents"].as_array().into_iter().flatten() {
                    let sid = sub
                        .as_str()
                        .or_else(|| sub["@id"].as_str())
                        .unwrap_or_default();
                    packages.extend(purl_name(sid));
                }
            }
            statements.push(Statement {
                index,
                ids,
                packages,
                digests,
                status: s["status"].as_str().unwrap_or_default().to_owned(),
                justification: s["justification"].as_str().map(str::to_owned),
            });
        }
    } else if doc.get("bomFormat").is_some() {
        // bom-ref → purl, to resolve `affects`.
        let mut refs = std::collections::BTreeMap::new();
        let mut stack = vec![&doc];
        while let Some(v) = stack.pop() {
            for c in v["components"].as_array().into_iter().flatten() {
                if let (Some(r), Some(p)) = (c["bom-ref"].as_str(), c["purl"].as_str()) {
                    refs.insert(r.to_owned(), p.to_owned());
                }
                stack.push(c);
            }
        }
        for (index, v) in doc["vulnerabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut ids: BTreeSet<String> =
                v["id"].as_str().map(str::to_owned).into_iter().collect();
            for r in v["references"].as_array().into_iter().flatten() {
                ids.extend(r["id"].as_str().map(str::to_owned));
            }
            let mut packages = BTreeSet::new();
            for a in v["affects"].as_array().into_iter().flatten() {
                let r = a["ref"].as_str().unwrap_or_default();
                let purl = refs.get(r).map_or(r, String::as_str);
                packages.extend(purl_name(purl));
            }
            statements.push(Statement {
                index,
                ids,
                packages,
                digests: BTreeSet::new(),
                status: v["analysis"]["state"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                justification: v["analysis"]["justification"].as_str().map(str::to_owned),
            });
        }
    } else {
        return Err(bad("neither an OpenVEX nor a CycloneDX VEX document".into()));
    }
    Ok(VexDocument { file, statements })
}

/// Whether a status means "do not report".
fn suppresses(status: &str) -> bool {
    matches!(
        status,
        "not_affected" | "fixed" | "false_positive" | "resolved"
    )
}

/// Marks the findings the documents' statements cover as suppressed (the
/// first matching statement wins), and returns how many.
pub fn apply(report: &mut Report, docs: &[VexDocument]) -> usize {
    let mut n = 0;
    for f in &mut report.findings {
        let hit = docs.iter().find_map(|d| {
            d.statements
                .iter()
                .find(|s| {
                    suppresses(&s.status)
                        && s.ids.contains(&f.id)
                        && (s.packages.is_empty()
                            || f.packages.iter().any(|p| s.packages.contains(p))
                            || s.packages.contains(&f.source))
                        && (s.digests.is_empty()
                            || report
                                .digest
                                .as_ref()
                                .is_some_and(|d| s.digests.contains(d)))
                })
                .map(|s| Suppression {
                    file: d.file.clone(),
                    statement: s.index,
                    status: s.status.clone(),
                    justification: s.justification.clone(),
                })
        });
        if let Some(s) = hit {
            f.reasons.push(format!(
                "suppressed by {} statement {} ({}{})",
                s.file,
                s.statement,
                s.status,
                s.justification
                    .as_deref()
                    .map(|j| format!(": {j}"))
                    .unwrap_or_default()
            ));
            f.priority = Priority::SuppressedByVex;
            f.suppressed_by = Some(s);
            n += 1;
        }
    }
    report.sort_findings();
    report.summarise();
    n
}

/// The OpenVEX product an image's statements are about.
fn product(report: &Report) -> String {
    match &report.digest {
        Some(d) => format!("pkg:oci/image@{}", d.replacen(':', "%3A", 1)),
        None => report.target.clone(),
    }
}

/// This report as an OpenVEX document: `not_affected` with
/// `vulnerable_code_not_in_execute_path` where the entrypoint analysis was
/// complete and the package is outside its closure; `affected` (with the
/// fixed version to update to) for the rest; `under_investigation` where
/// Debian has not triaged it. Findings suppressed by another VEX are left
/// to that document.
#[must_use]
pub fn openvex(report: &Report, timestamp: &str) -> serde_json::Value {
    let product = product(report);
    let statements: Vec<serde_json::Value> = report
        .findings
        .iter()
        .filter(|f| f.priority != Priority::SuppressedByVex)
        .map(|f| statement(f, &product, timestamp))
        .collect();
    let body = serde_json::to_vec(&statements).unwrap_or_default();
    let id = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&body))
    };
    serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!("urn:bulwark:vex:{id}"),
        "author": "bulwark",
        "role": "scanner",
        "timestamp": timestamp,
        "version": 1,
        "tooling": concat!("bulwark ", env!("CARGO_PKG_VERSION")),
        "statements": statements,
    })
}

fn statement(f: &Finding, product: &str, timestamp: &str) -> serde_json::Value {
    let subcomponents: Vec<serde_json::Value> = f
        .purls
        .iter()
        .map(|p| serde_json::json!({"@id": p}))
        .collect();
    let mut s = serde_json::json!({
        "vulnerability": {"name": f.id},
        "timestamp": timestamp,
        "products": [{"@id": product, "subcomponents": subcomponents}],
    });
    match (&f.reachability, f.status) {
        (Reach::NotLoaded { program }, _) => {
            s["status"] = "not_affected".into();
            s["justification"] = "vulnerable_code_not_in_execute_path".into();
            s["impact_statement"] = format!(
                "{} {} not in the package closure of the entrypoint /{program}",
                f.packages.join(", "),
                if f.packages.len() == 1 { "is" } else { "are" }
            )
            .into();
        }
        (_, bulwark_vulndb::Status::Undetermined) => {
            s["status"] = "under_investigation".into();
        }
        _ => {
            s["status"] = "affected".into();
            s["action_statement"] = match &f.fixed {
                Some(v) => format!("Update {} to {v} or later (rebuild the image).", f.source),
                None => "No fix is available yet; watch the Debian security tracker.".to_owned(),
            }
            .into();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_and_digests() {
        assert_eq!(
            purl_name("pkg:deb/debian/libssl3@3.0?arch=amd64").as_deref(),
            Some("libssl3")
        );
        let h = "a".repeat(64);
        assert_eq!(
            digest_in(&format!("pkg:oci/x@sha256%3A{h}")),
            Some(format!("sha256:{h}"))
        );
        assert_eq!(digest_in("pkg:oci/x@sha256:abc"), None);
    }
}
