//! Exploitability: known vulnerabilities, as `bulwark scan` prioritised
//! them (only when the caller gives the scan's results).

use serde::Serialize;

use super::Ctx;
use crate::finding::{Check, Pillar::Exploitability, Severity};

/// What a scan of the image found, by priority (see docs/scan.md).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Vulnerabilities {
    /// `CVE (source)` of each finding in CISA KEV.
    pub kev: Vec<String>,
    /// `CVE (source)` of each "act now" finding.
    pub act_now: Vec<String>,
    /// `CVE (source)` of each "plan" finding.
    pub plan: Vec<String>,
    /// How many "monitor" findings.
    pub monitor: usize,
    /// The highest EPSS score among the findings not suppressed by VEX.
    pub max_epss: Option<f32>,
    /// The database's feeds and import date, for the report.
    pub database: String,
}

pub(crate) const VU_001: Check = Check {
    id: "VU-001",
    name: "KnownExploited",
    title: "A package has a vulnerability in CISA's Known Exploited Vulnerabilities catalogue",
    pillar: Exploitability,
    severity: Severity::High,
    controls: &["CIS-4.4", "NIST-SI-2", "NIST-RA-5"],
    fix: "Rebuild with the fixed package (bulwark lock --update, then build); until then, mitigate as CISA's required action says.",
};
pub(crate) const VU_002: Check = Check {
    id: "VU-002",
    name: "ActNow",
    title: "Vulnerabilities to fix now (a fix is in the archive and the risk is high)",
    pillar: Exploitability,
    severity: Severity::High,
    controls: &["CIS-4.4", "NIST-SI-2"],
    fix: "Rebuild with the fixed packages (bulwark lock --update, then build).",
};
pub(crate) const VU_003: Check = Check {
    id: "VU-003",
    name: "Plan",
    title: "Vulnerabilities with a fix to schedule",
    pillar: Exploitability,
    severity: Severity::Medium,
    controls: &["CIS-4.4", "NIST-SI-2"],
    fix: "Schedule a rebuild with the fixed packages.",
};
pub(crate) const VU_004: Check = Check {
    id: "VU-004",
    name: "Monitor",
    title: "Vulnerabilities without a fix, minor or not loaded",
    pillar: Exploitability,
    severity: Severity::Info,
    controls: &["NIST-RA-5"],
    fix: "Nothing to do now; bulwark scan lists them with their reasons.",
};

pub(crate) const CHECKS: &[Check] = &[VU_001, VU_002, VU_003, VU_004];

fn list(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(8).map(String::as_str).collect();
    if items.len() > shown.len() {
        format!(
            "{}, and {} more",
            shown.join(", "),
            items.len() - shown.len()
        )
    } else {
        shown.join(", ")
    }
}

pub(crate) fn run(cx: &mut Ctx) {
    let Some(v) = cx.opts.vulnerabilities.clone() else {
        return;
    };
    for k in &v.kev {
        cx.add(&VU_001, format!("{k} is in CISA KEV"), None);
    }
    if !v.act_now.is_empty() {
        cx.add(
            &VU_002,
            format!("{} to fix now: {}", v.act_now.len(), list(&v.act_now)),
            None,
        );
    }
    if !v.plan.is_empty() {
        cx.add(
            &VU_003,
            format!("{} to plan: {}", v.plan.len(), list(&v.plan)),
            None,
        );
    }
    if v.monitor > 0 {
        cx.add(&VU_004, format!("{} to monitor", v.monitor), None);
    }
}
