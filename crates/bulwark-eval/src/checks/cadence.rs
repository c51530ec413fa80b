//! The patch-cadence pillar: how far behind the Debian archive's security
//! fixes the image is. It exists only when the archive was read (`eval
//! --archive`): the installed packages compared with the release's suites
//! as they are now, and the candidates' changelogs naming the CVEs they fix
//! with the date each fix arrived.

use serde::Serialize;

use super::Ctx;
use crate::finding::{Check, Pillar::PatchCadence, Severity};

const SRG_UPDATES: &str = "SRG: security updates within the required time";

/// What the archive says about the image's packages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cadence {
    /// Days since the oldest security fix the image lacks reached the
    /// archive (0: it lacks none, or none with a date).
    pub days_behind: i64,
    /// The fixes it lacks: `CVE (package version in suite, since DATE)`.
    pub missing: Vec<String>,
    /// Each lacking fix's CVE and its age in days (None: undated).
    pub ages: Vec<(String, Option<i64>)>,
    /// How many of them carry no date (a changelog entry without a trailer).
    pub undated: usize,
    /// Installed packages with a newer version in the archive.
    pub updates: usize,
    /// The suites read.
    pub suites: Vec<String>,
}

pub(crate) const PC_001: Check = Check {
    id: "PC-001",
    name: "FixLag",
    title: "Days behind the newest security fixes in the archive (at most 7)",
    pillar: PatchCadence,
    severity: Severity::Info,
    controls: &["CIS-4.4", "NIST-SI-2", SRG_UPDATES],
    fix: "Nothing yet; `bulwark update --check` shows what a rebuild would pick up.",
};
pub(crate) const PC_002: Check = Check {
    id: "PC-002",
    name: "FixLagOverAWeek",
    title: "More than 7 days behind the security fixes in the archive",
    pillar: PatchCadence,
    severity: Severity::Medium,
    controls: &["CIS-4.4", "NIST-SI-2", SRG_UPDATES],
    fix: "Rebuild with the fixed packages: `bulwark update SPEC --output DEST` (or lock --update, then build).",
};
pub(crate) const PC_003: Check = Check {
    id: "PC-003",
    name: "FixLagOverAMonth",
    title: "More than 30 days behind the security fixes in the archive",
    pillar: PatchCadence,
    severity: Severity::High,
    controls: &["CIS-4.4", "NIST-SI-2", SRG_UPDATES],
    fix: "Rebuild now: `bulwark update SPEC --output DEST`, and run it on a schedule (deploy/update/).",
};

pub(crate) const CHECKS: &[Check] = &[PC_001, PC_002, PC_003];

pub(crate) fn run(cx: &mut Ctx) {
    let Some(c) = cx.opts.cadence.clone() else {
        return;
    };
    let check = match c.days_behind {
        d if d > 30 => &PC_003,
        d if d > 7 => &PC_002,
        _ => &PC_001,
    };
    let shown: Vec<&str> = c.missing.iter().take(5).map(String::as_str).collect();
    let what = if c.missing.is_empty() {
        format!(
            "{} days behind the newest security fixes: the archive ({}) carries none the image lacks",
            c.days_behind,
            c.suites.join(", ")
        )
    } else {
        format!(
            "{} days behind the newest security fixes: {} fix(es) in the archive are missing: {}{}",
            c.days_behind,
            c.missing.len(),
            shown.join("; "),
            if c.missing.len() > shown.len() {
                format!("; and {} more", c.missing.len() - shown.len())
            } else {
                String::new()
            }
        )
    };
    cx.add(check, what, None);
}
