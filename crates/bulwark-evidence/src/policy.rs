//! The organisation's tailoring of the baselines (`bulwark evidence
//! --policy FILE`): which frameworks it answers to, its own time limits
//! (the patch window, the oldest scan and vulnerability database it
//! accepts; only stricter than the defaults, which are the controls' own),
//! and controls it has decided do not apply or are checked by
//! hand, each with a reason and an expiry date, like an OSCAL profile's
//! tailoring. Tailoring can only lower a claim, to not-applicable or
//! manual, never raise one to satisfied: the evidence alone does that.
//! The file goes into the bundle, and its digest into the evidence.

use serde::{Deserialize, Serialize};

use crate::Status;

/// The policy file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EvidencePolicy {
    /// Frameworks reported on (`cis`, `srg`, `nist`, `slsa`); empty: all.
    #[serde(default)]
    pub frameworks: Vec<String>,
    #[serde(default)]
    pub parameters: Parameters,
    #[serde(default)]
    pub tailoring: Vec<Tailoring>,
}

/// Time limits the rules use.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Parameters {
    /// A fix the image lacks may have been in the archive this many days
    /// (the SRG's 30).
    #[serde(default = "thirty")]
    pub patch_days: i64,
    /// The newest verified scan may be this many days old.
    #[serde(default = "thirty")]
    pub scan_max_age_days: i64,
    /// The scan's vulnerability database may have been this many days old
    /// when it ran (`bulwark scan`'s own `--max-db-age`).
    #[serde(default = "seven")]
    pub db_max_age_days: i64,
}

fn thirty() -> i64 {
    30
}

fn seven() -> i64 {
    7
}

impl Default for Parameters {
    fn default() -> Self {
        Self {
            patch_days: thirty(),
            scan_max_age_days: thirty(),
            db_max_age_days: seven(),
        }
    }
}

/// One control tailored out.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tailoring {
    /// The control's id (`4.6`, `CM-7`, `SRG-APP-000141-CTR-000315`).
    pub control: String,
    /// `not-applicable` or `manual`.
    pub status: TailoredStatus,
    /// Why (required).
    pub reason: String,
    /// Last day it holds, `YYYY-MM-DD` (required).
    pub expires: String,
}

/// What a tailoring may set.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TailoredStatus {
    NotApplicable,
    Manual,
}

impl TailoredStatus {
    #[must_use]
    pub fn status(self) -> Status {
        match self {
            TailoredStatus::NotApplicable => Status::NotApplicable,
            TailoredStatus::Manual => Status::Manual,
        }
    }
}

/// The short name a framework is selected by.
#[must_use]
pub fn framework_key(framework: &str) -> &'static str {
    let f = framework.to_ascii_lowercase();
    if f.starts_with("cis") {
        "cis"
    } else if f.contains("srg") {
        "srg"
    } else if f.starts_with("nist") {
        "nist"
    } else if f.starts_with("slsa") {
        "slsa"
    } else {
        "other"
    }
}

/// `YYYY-MM-DD`, exactly: expiry dates are compared as strings.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && bulwark_debian::time::parse_rfc3339(&format!("{s}T00:00:00Z")).is_some()
}

impl EvidencePolicy {
    /// Parses and checks a policy: known frameworks and controls, positive
    /// limits, a reason and a date on every tailoring, one tailoring per
    /// control.
    ///
    /// # Errors
    /// What is wrong, prefixed with `origin`.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, String> {
        let err = |m: String| format!("{origin}: {m}");
        let p: EvidencePolicy = serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?;
        for f in &p.frameworks {
            if !["cis", "srg", "nist", "slsa"].contains(&f.as_str()) {
                return Err(err(format!(
                    "frameworks: unknown {f:?} (cis, srg, nist, slsa)"
                )));
            }
        }
        // A policy may tighten the limits, never loosen them: the SRG's
        // 30 days are the most any control here accepts.
        let q = p.parameters;
        let most = Parameters::default();
        for (name, v, max) in [
            ("patch-days", q.patch_days, most.patch_days),
            (
                "scan-max-age-days",
                q.scan_max_age_days,
                most.scan_max_age_days,
            ),
            ("db-max-age-days", q.db_max_age_days, most.db_max_age_days),
        ] {
            if !(0..=max).contains(&v) {
                return Err(err(format!(
                    "parameters: {name} {v} is outside 0 to {max} days (a policy may tighten the limits the controls state, not loosen them)"
                )));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in &p.tailoring {
            if !crate::controls().iter().any(|c| c.id == t.control) {
                return Err(err(format!(
                    "tailoring: {:?} is no control bulwark reports on (bulwark evidence IMAGE lists them)",
                    t.control
                )));
            }
            if !seen.insert(t.control.as_str()) {
                return Err(err(format!("tailoring: {} is tailored twice", t.control)));
            }
            if t.reason.trim().is_empty() {
                return Err(err(format!("tailoring: {} needs a reason", t.control)));
            }
            if !is_date(&t.expires) {
                return Err(err(format!(
                    "tailoring: {}: expires {:?} is not a date (YYYY-MM-DD)",
                    t.control, t.expires
                )));
            }
        }
        Ok(p)
    }

    /// Whether controls of `framework` are reported.
    #[must_use]
    pub fn includes(&self, framework: &str) -> bool {
        self.frameworks.is_empty()
            || self
                .frameworks
                .iter()
                .any(|f| f == framework_key(framework))
    }

    /// The tailoring of control `id`, if any.
    #[must_use]
    pub fn tailoring_of(&self, id: &str) -> Option<&Tailoring> {
        self.tailoring.iter().find(|t| t.control == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_strictness() {
        let p = EvidencePolicy::from_yaml("{}", "p").unwrap();
        assert_eq!(p.parameters, Parameters::default());
        assert!(p.includes("CIS Docker Benchmark v1.7.0"));
        let p = EvidencePolicy::from_yaml(
            "frameworks: [srg, nist]\nparameters: {patch-days: 15}\ntailoring:\n  - {control: '4.6', status: not-applicable, reason: probed by Kubernetes, expires: 2027-06-30}\n",
            "p",
        )
        .unwrap();
        assert_eq!(p.parameters.patch_days, 15);
        assert_eq!(p.parameters.scan_max_age_days, 30);
        assert!(!p.includes("CIS Docker Benchmark v1.7.0"));
        assert!(p.includes("NIST SP 800-53 Rev. 5"));
        assert!(p.includes("DISA Container Platform SRG V2R4"));
        assert_eq!(
            p.tailoring_of("4.6").unwrap().status.status(),
            Status::NotApplicable
        );
        for (yaml, want) in [
            ("frameworks: [iso]", "unknown \"iso\""),
            ("parameters: {patch-days: -1}", "outside 0 to 30 days"),
            ("parameters: {patch-days: 3650}", "not loosen them"),
            ("parameters: {db-max-age-days: 8}", "outside 0 to 7 days"),
            (
                "tailoring: [{control: '4.6', status: manual, reason: r, expires: 2026-9-030}]",
                "not a date",
            ),
            ("parameters: {patch-dayz: 1}", "unknown field"),
            (
                "tailoring: [{control: '9.9', status: manual, reason: r, expires: 2027-01-01}]",
                "no control",
            ),
            (
                "tailoring: [{control: '4.6', status: satisfied, reason: r, expires: 2027-01-01}]",
                "unknown variant",
            ),
            (
                "tailoring: [{control: '4.6', status: manual, reason: ' ', expires: 2027-01-01}]",
                "needs a reason",
            ),
            (
                "tailoring: [{control: '4.6', status: manual, reason: r, expires: soon}]",
                "not a date",
            ),
            (
                "tailoring: [{control: '4.6', status: manual, reason: r, expires: 2027-01-01}, {control: '4.6', status: manual, reason: r, expires: 2027-01-01}]",
                "tailored twice",
            ),
        ] {
            let e = EvidencePolicy::from_yaml(yaml, "p.yaml").unwrap_err();
            assert!(e.starts_with("p.yaml: ") && e.contains(want), "{yaml}: {e}");
        }
    }
}
