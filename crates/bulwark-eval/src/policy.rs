//! `--policy FILE`: turn an evaluation into a CI gate.

use serde::{Deserialize, Serialize};

use crate::finding::Severity;
use crate::score::{Report, rescore};

/// A policy (YAML, strict: unknown fields are errors with line/column).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Policy {
    /// Lowest acceptable grade (`A`–`F`).
    #[serde(default)]
    pub minimum_grade: Option<String>,
    /// Any finding at or above this severity violates the policy.
    #[serde(default)]
    pub fail_on_severity: Option<SeverityName>,
    /// Finding ids that must not appear at all.
    #[serde(default)]
    pub forbid: Vec<String>,
    /// Accepted findings, each with a reason; they do not count.
    #[serde(default)]
    pub exceptions: Vec<Exception>,
    /// A signature must verify under one of the keys.
    #[serde(default)]
    pub require_signature: bool,
    /// Attestation types (`spdx`, `cyclonedx`, `slsa-provenance`, … or a
    /// predicate type URI) that must verify under one of the keys.
    #[serde(default)]
    pub require_attestations: Vec<String>,
    /// Public keys (PEM files, relative to the policy file) trusted in
    /// addition to `--key`.
    #[serde(default)]
    pub keys: Vec<std::path::PathBuf>,
    /// No vulnerability at or above this priority (`act-now`, `plan`,
    /// `monitor`); needs the vulnerability database.
    #[serde(default)]
    pub max_priority: Option<PriorityName>,
    /// No vulnerability in CISA KEV; needs the vulnerability database.
    #[serde(default)]
    pub no_kev: bool,
    /// No vulnerability with an EPSS score above this (0–1).
    #[serde(default)]
    pub max_epss: Option<f32>,
    /// At most this far behind the archive's security fixes: `7d`, `2w`, or
    /// a number of days; needs `eval --archive`.
    #[serde(default)]
    pub max_fix_lag: Option<String>,
    /// No vulnerability whose fix has been in the archive for longer than
    /// this (`30d`, …); needs `eval --archive` (the fix dates come from the
    /// candidates' changelogs).
    #[serde(default)]
    pub no_fixable_older_than: Option<String>,
}

/// Days in `7d`, `2w`, `48h` (rounded down) or `7`.
fn parse_days(s: &str) -> Option<i64> {
    let s = s.trim();
    let (n, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 'd'),
    };
    let n: i64 = n.trim().parse().ok().filter(|n| *n >= 0)?;
    match unit {
        'd' => Some(n),
        'w' => n.checked_mul(7),
        'h' => Some(n / 24),
        _ => None,
    }
}

/// A `bulwark scan` priority as written in a policy.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum PriorityName {
    Monitor,
    Plan,
    ActNow,
}

/// A severity as written in a policy.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SeverityName {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl From<SeverityName> for Severity {
    fn from(s: SeverityName) -> Severity {
        match s {
            SeverityName::Info => Severity::Info,
            SeverityName::Low => Severity::Low,
            SeverityName::Medium => Severity::Medium,
            SeverityName::High => Severity::High,
            SeverityName::Critical => Severity::Critical,
        }
    }
}

/// One accepted finding.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    pub id: String,
    /// Only this path (default: every path of that id).
    #[serde(default)]
    pub path: Option<String>,
    pub reason: String,
}

/// The verdict.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PolicyResult {
    pub passed: bool,
    pub violations: Vec<String>,
    pub excepted: usize,
}

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct PolicyError {
    pub origin: String,
    pub message: String,
}

impl Policy {
    pub fn from_yaml(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let p: Policy = serde_saphyr::from_str(text).map_err(|e| PolicyError {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        if let Some(g) = &p.minimum_grade
            && !matches!(g.as_str(), "A" | "B" | "C" | "D" | "E" | "F")
        {
            return Err(PolicyError {
                origin: origin.into(),
                message: format!("minimum-grade {g:?} is not one of A, B, C, D, E, F"),
            });
        }
        if let Some(a) = p
            .require_attestations
            .iter()
            .find(|a| bulwark_attest::predicate_type(a).is_none())
        {
            return Err(PolicyError {
                origin: origin.into(),
                message: format!(
                    "require-attestations: unknown type {a:?}; use spdx, spdx3, cyclonedx, slsa-provenance, vuln, openvex, custom or a predicate type URI"
                ),
            });
        }
        for (field, value) in [
            ("max-fix-lag", &p.max_fix_lag),
            ("no-fixable-older-than", &p.no_fixable_older_than),
        ] {
            if let Some(v) = value
                && parse_days(v).is_none()
            {
                return Err(PolicyError {
                    origin: origin.into(),
                    message: format!(
                        "{field} {v:?} is not a duration; write days as 7d, weeks as 2w, or hours as 48h"
                    ),
                });
            }
        }
        if let Some(e) = p.exceptions.iter().find(|e| e.reason.trim().is_empty()) {
            return Err(PolicyError {
                origin: origin.into(),
                message: format!("exception for {} needs a reason", e.id),
            });
        }
        Ok(p)
    }

    /// The vulnerability rules; they fail closed: without the scan's results
    /// (no database) each one is a violation.
    fn judge_vulnerabilities(&self, report: &Report, violations: &mut Vec<String>) {
        let wants = self.max_priority.is_some() || self.no_kev || self.max_epss.is_some();
        if !wants {
            return;
        }
        let Some(v) = &report.vulnerabilities else {
            violations.push(
                "the policy has vulnerability rules but no vulnerability database was used (bulwark db update, or --db DIR)"
                    .to_owned(),
            );
            return;
        };
        if self.no_kev && !v.kev.is_empty() {
            violations.push(format!("in CISA KEV: {}", v.kev.join(", ")));
        }
        if let Some(max) = self.max_priority {
            let over: Vec<&String> = match max {
                PriorityName::ActNow => vec![],
                PriorityName::Plan => v.act_now.iter().collect(),
                PriorityName::Monitor => v.act_now.iter().chain(&v.plan).collect(),
            };
            if !over.is_empty() {
                violations.push(format!(
                    "{} vulnerabilities above max-priority {max:?}: {}",
                    over.len(),
                    over.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if let (Some(max), Some(found)) = (self.max_epss, v.max_epss)
            && found > max
        {
            violations.push(format!(
                "an EPSS score of {found:.3} is above max-epss {max}"
            ));
        }
    }

    /// Marks excepted findings, rescoring without them, and judges the report.
    pub fn apply(&self, report: &mut Report) -> PolicyResult {
        let mut excepted = 0;
        for f in &mut report.findings {
            if let Some(e) = self.exceptions.iter().find(|e| {
                e.id == f.id && e.path.as_ref().is_none_or(|p| Some(p) == f.path.as_ref())
            }) {
                f.excepted = Some(e.reason.clone());
                excepted += 1;
            }
        }
        rescore(report);
        let counted: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.excepted.is_none())
            .collect();
        let mut violations = Vec::new();
        if let Some(min) = &self.minimum_grade
            && report.grade.as_str() > min.as_str()
        {
            violations.push(format!("grade {} is below the minimum {min}", report.grade));
        }
        if let Some(sev) = self.fail_on_severity {
            let sev: Severity = sev.into();
            for f in counted.iter().filter(|f| f.severity >= sev) {
                violations.push(format!("{} ({:?}) {}", f.id, f.severity, f.message));
            }
        }
        // Trust requirements fail closed: no evidence is a violation.
        let trust = report.trust.clone().unwrap_or_default();
        if (self.require_signature || !self.require_attestations.is_empty()) && trust.keys == 0 {
            violations.push(
                "the policy requires signatures but no key was given (--key, or keys: in the policy)"
                    .to_owned(),
            );
        } else {
            if self.require_signature && !trust.signed() {
                violations.push(format!(
                    "no signature verifies under the {} key(s)",
                    trust.keys
                ));
            }
            for a in &self.require_attestations {
                let want = bulwark_attest::predicate_type(a).unwrap_or(a);
                if !trust.attested(want) {
                    violations.push(format!(
                        "required attestation {a} ({want}) is missing or does not verify"
                    ));
                }
            }
        }
        for id in &self.forbid {
            for f in counted.iter().filter(|f| f.id == id) {
                violations.push(format!("forbidden {}: {}", f.id, f.message));
            }
        }
        self.judge_vulnerabilities(report, &mut violations);
        if (self.no_fixable_older_than.is_some() || self.max_fix_lag.is_some())
            && let Some(c) = &report.cadence
            && c.undated > 0
        {
            // Fail closed: a fix whose changelog gives no date cannot be aged.
            violations.push(format!(
                "{} missing fix(es) have no date in their changelog, so their age cannot be checked",
                c.undated
            ));
        }
        if let Some(max) = self.no_fixable_older_than.as_deref().and_then(parse_days) {
            match &report.cadence {
                None => violations.push(
                    "the policy has no-fixable-older-than but the archive was not read (eval --archive)"
                        .to_owned(),
                ),
                Some(c) => {
                    let old: Vec<String> = c
                        .ages
                        .iter()
                        .filter(|(_, d)| d.is_some_and(|d| d > max))
                        .map(|(cve, d)| format!("{cve} ({} days)", d.unwrap_or(0)))
                        .collect();
                    if !old.is_empty() {
                        violations.push(format!(
                            "{} vulnerabilities have had a fix in the archive for more than {max} days: {}",
                            old.len(),
                            old.join(", ")
                        ));
                    }
                }
            }
        }
        if let Some(max) = self.max_fix_lag.as_deref().and_then(parse_days) {
            match &report.cadence {
                None => violations.push(
                    "the policy has max-fix-lag but the archive was not read (eval --archive)"
                        .to_owned(),
                ),
                Some(c) if c.days_behind > max => violations.push(format!(
                    "{} days behind the newest security fixes, more than max-fix-lag {max} days ({} fix(es) missing)",
                    c.days_behind,
                    c.missing.len()
                )),
                Some(_) => {}
            }
        }
        PolicyResult {
            passed: violations.is_empty(),
            violations,
            excepted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_lag_durations() {
        assert_eq!(parse_days("7d"), Some(7));
        assert_eq!(parse_days("2w"), Some(14));
        assert_eq!(parse_days("48h"), Some(2));
        assert_eq!(parse_days(" 10 "), Some(10));
        for bad in ["", "d", "-1d", "7y", "seven days", "99999999999999999999d"] {
            assert_eq!(parse_days(bad), None, "{bad}");
        }
        let err = Policy::from_yaml("max-fix-lag: soon\n", "p.yaml").unwrap_err();
        assert!(err.to_string().contains("not a duration"), "{err}");
    }
}
