//! SARIF 2.1.0 output, for code-scanning UIs.
//!
//! One run per evaluated image (one per platform with `--all-platforms`).
//! Each check that fired becomes a rule with its title, remediation, controls
//! and a `security-severity`; each finding a result whose location is the
//! path in the image's root filesystem (`uriBaseId` `ROOTFS`) or, for config
//! keys such as `config.User`, a logical location. Policy exceptions become
//! external suppressions that carry their reason.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::finding::{Finding, Severity};
use crate::score::Report;

/// The schema URI the document names (the OASIS standard's, errata 01).
pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
        Severity::Info => "none",
    }
}

/// GitHub's 0.0–10.0 scale (≥ 9 critical, ≥ 7 high, ≥ 4 medium, > 0 low).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn rule_json(f: &Finding) -> Value {
    let (name, title) = crate::checks::check(f.id).map_or((f.id, f.id), |c| (c.name, c.title));
    let mut tags = vec!["security".to_owned(), f.pillar.name().to_owned()];
    tags.extend(f.controls.iter().map(|c| (*c).to_owned()));
    json!({
        "id": f.id,
        "name": name,
        "shortDescription": {"text": format!("{title}.")},
        "fullDescription": {"text": format!("{title} (pillar {}; see docs/eval.md).", f.pillar.name())},
        "help": {
            "text": f.remediation,
            "markdown": format!("**Fix:** {}\n\nControls: {}", f.remediation,
                if f.controls.is_empty() { "none".to_owned() } else { f.controls.join(", ") }),
        },
        "defaultConfiguration": {"level": level(f.severity)},
        "properties": {
            "tags": tags,
            "precision": "high",
            "problem.severity": match f.severity {
                Severity::Critical | Severity::High => "error",
                Severity::Medium => "warning",
                _ => "recommendation",
            },
            "security-severity": security_severity(f.severity),
        },
    })
}

fn result_json(f: &Finding, rule_index: usize, image: &str) -> Value {
    let mut r = json!({
        "ruleId": f.id,
        "ruleIndex": rule_index,
        "message": {"text": sentence(&f.message)},
        "partialFingerprints": {"bulwarkFinding/v1": fingerprint(f)},
        "properties": {
            "pillar": f.pillar.name(),
            "severity": f.severity,
            "controls": f.controls,
        },
    });
    if f.severity == Severity::Info {
        r["kind"] = json!("informational");
        r["level"] = json!("none");
    } else {
        r["kind"] = json!("fail");
        r["level"] = json!(level(f.severity));
    }
    let logical = |name: &str| json!([{"logicalLocations": [{"fullyQualifiedName": name, "kind": "member"}]}]);
    r["locations"] = match f.path.as_deref() {
        Some(p)
            if p.starts_with("config.")
                || p.starts_with("sha256:")
                || matches!(p, "created" | "history") =>
        {
            logical(p)
        }
        Some(p) => json!([{"physicalLocation": {"artifactLocation": {
            "uri": uri_escape(p), "uriBaseId": "ROOTFS"}}}]),
        None => logical(image),
    };
    if let Some(reason) = &f.excepted {
        r["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": reason,
        }]);
    }
    r
}

/// SARIF messages are sentences.
fn sentence(s: &str) -> String {
    if s.ends_with('.') {
        s.to_owned()
    } else {
        format!("{s}.")
    }
}

/// Stable across runs for the same problem: the id and where it is.
fn fingerprint(f: &Finding) -> String {
    let key = format!("{}\0{}", f.id, f.path.as_deref().unwrap_or(""));
    let h = Sha256::digest(key.as_bytes());
    h.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes what a relative URI reference cannot hold as is.
fn uri_escape(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn run_json(rep: &Report) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut ids: Vec<&str> = Vec::new();
    let mut results = Vec::new();
    for f in &rep.findings {
        let idx = match ids.iter().position(|i| *i == f.id) {
            Some(i) => i,
            None => {
                ids.push(f.id);
                rules.push(rule_json(f));
                ids.len() - 1
            }
        };
        results.push(result_json(f, idx, &rep.image));
    }
    let mut run = json!({
        "tool": {"driver": {
            "name": "bulwark",
            "fullName": "bulwark eval",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        }},
        "automationDetails": {"id": format!("bulwark-eval/{}/", rep.platform.as_deref().unwrap_or("image"))},
        "originalUriBaseIds": {"ROOTFS": {
            "uri": "file:///",
            "description": {"text": "The root filesystem of the evaluated image."},
        }},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {
            "image": rep.image,
            "digest": rep.digest,
            "platform": rep.platform,
            "grade": rep.grade,
            "score": rep.score,
            "pillars": rep.pillars,
        },
    });
    if let Some(p) = &rep.policy {
        run["properties"]["policy"] = serde_json::to_value(p).unwrap_or(Value::Null);
    }
    run
}

/// The SARIF 2.1.0 log for one or more evaluated images.
#[must_use]
pub fn sarif(reports: &[Report]) -> Value {
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": reports.iter().map(run_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_escaped_and_fingerprints_stable() {
        assert_eq!(uri_escape("usr/bin/a b%"), "usr/bin/a%20b%25");
        assert_eq!(uri_escape("x/\u{e9}"), "x/%C3%A9");
        let f = Finding {
            id: "ST-001",
            pillar: crate::Pillar::ShellAndTools,
            severity: Severity::High,
            message: "shell /bin/sh is present".into(),
            path: Some("bin/sh".into()),
            controls: vec!["CIS-4.3"],
            remediation: "Remove it.",
            excepted: None,
        };
        assert_eq!(fingerprint(&f), fingerprint(&f.clone()));
        let r = result_json(&f, 0, "oci:x");
        assert_eq!(r["level"], "error");
        assert_eq!(r["kind"], "fail");
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "bin/sh"
        );
        assert_eq!(r["message"]["text"], "shell /bin/sh is present.");
    }
}
