//! The report as SARIF 2.1.0 (code-scanning dashboards) and as CycloneDX
//! 1.6 with a `vulnerabilities` section.

use serde_json::{Value, json};

use crate::{Priority, Reach, Report};

fn level(p: Priority) -> &'static str {
    match p {
        Priority::ActNow => "error",
        Priority::Plan => "warning",
        Priority::Monitor | Priority::SuppressedByVex => "note",
    }
}

/// SARIF 2.1.0: one rule per vulnerability, one result per finding, with
/// the priority as the level and score, KEV and EPSS as properties.
#[must_use]
pub fn sarif(r: &Report) -> Value {
    let mut ids: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let rules: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "shortDescription": {"text": format!("{id}.")},
                "fullDescription": {"text": format!("{id} in a Debian package; the Debian security tracker has the details.")},
                "helpUri": format!("https://security-tracker.debian.org/tracker/{id}"),
                "help": {"text": "Rebuild the image with the fixed package version (bulwark lock --update, then build)."},
            })
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let mut res = json!({
                "ruleId": f.id,
                "level": level(f.priority),
                "message": {"text": format!(
                    "{} {} ({}): {}.",
                    f.source, f.installed, f.priority.label(), f.reasons.join("; ")
                )},
                // A package, not a line in a file: logical locations (the
                // package URLs), as eval does for config findings.
                "locations": [{
                    "logicalLocations": f.purls.iter().zip(&f.packages).map(|(u, p)| json!({"name": p, "fullyQualifiedName": u, "kind": "module"})).collect::<Vec<_>>(),
                }],
                "properties": {
                    "priority": f.priority,
                    "score": f.score,
                    "status": f.status,
                    "severity": f.severity,
                    "fixedVersion": f.fixed,
                    "kev": f.kev.is_some(),
                    "epss": f.epss.map(|e| e.score),
                },
            });
            if f.suppressed_by.is_some() {
                res["suppressions"] = json!([{"kind": "external", "justification": f.reasons.last()}]);
            }
            res
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "bulwark",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// CycloneDX 1.6: the packages as components (by purl) and the findings as
/// `vulnerabilities` with Debian's rating, the analysis (state from the
/// fix state, reachability and VEX) and bulwark's priority as properties.
#[must_use]
pub fn cyclonedx(r: &Report, timestamp: &str) -> Value {
    let mut purls: Vec<&str> = r
        .findings
        .iter()
        .flat_map(|f| f.purls.iter().map(String::as_str))
        .collect();
    purls.sort_unstable();
    purls.dedup();
    let components: Vec<Value> = purls
        .iter()
        .map(|p| {
            let name = p
                .split('/')
                .nth(2)
                .and_then(|nv| nv.split('@').next())
                .unwrap_or(p);
            json!({"type": "library", "bom-ref": p, "name": name, "purl": p})
        })
        .collect();
    let vulns: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let (state, justification) = match (&f.suppressed_by, &f.reachability, f.status) {
                (Some(s), _, _) => (
                    if s.status == "fixed" || s.status == "resolved" { "resolved" } else { "not_affected" },
                    s.justification.clone(),
                ),
                (None, Reach::NotLoaded { .. }, _) => {
                    ("not_affected", Some("code_not_reachable".to_owned()))
                }
                (None, _, bulwark_vulndb::Status::Undetermined) => ("in_triage", None),
                _ => ("exploitable", None),
            };
            let mut analysis = json!({"state": state, "detail": f.reasons.join("; ")});
            if let Some(j) = justification {
                analysis["justification"] = j.into();
            }
            if let Some(v) = &f.fixed {
                analysis["response"] = json!(["update"]);
                analysis["detail"] = format!("{}; update to {v}", f.reasons.join("; ")).into();
            }
            json!({
                "bom-ref": format!("{}:{}", f.id, f.source),
                "id": f.id,
                "source": {"name": "Debian Security Tracker", "url": format!("https://security-tracker.debian.org/tracker/{}", f.id)},
                "ratings": [{"source": {"name": "Debian"}, "severity": cdx_severity(f.severity), "method": "other"}],
                "affects": f.purls.iter().map(|p| json!({"ref": p})).collect::<Vec<_>>(),
                "analysis": analysis,
                "properties": [
                    {"name": "bulwark:priority", "value": f.priority.label()},
                    {"name": "bulwark:score", "value": format!("{:.1}", f.score)},
                    {"name": "bulwark:kev", "value": f.kev.is_some().to_string()},
                    {"name": "bulwark:epss", "value": f.epss.map(|e| format!("{:.5}", e.score)).unwrap_or_default()},
                ],
            })
        })
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{"type": "application", "name": "bulwark", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {"type": "container", "name": r.target, "bom-ref": "target"},
        },
        "components": components,
        "vulnerabilities": vulns,
    })
}

fn cdx_severity(s: bulwark_vulndb::Severity) -> &'static str {
    use bulwark_vulndb::Severity::*;
    match s {
        Critical => "critical",
        High => "high",
        Medium => "medium",
        Low => "low",
        Unimportant => "info",
        Unknown => "unknown",
    }
}
