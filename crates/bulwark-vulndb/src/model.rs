//! What the feeds say, in one shape.

use serde::Serialize;

/// A Debian release's state for one vulnerability in one source package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Fixed in `fixed` (older versions are affected).
    Fixed,
    /// Affected; no fix yet, one is expected.
    Unfixed,
    /// Affected; the security team will not issue an advisory (minor issue:
    /// fixed, if ever, in a point release).
    NoDsa,
    /// Affected; the fix is postponed to a later update.
    Postponed,
    /// Affected; the security team will not fix it in this release.
    Ignored,
    /// The package is no longer supported in this release.
    EndOfLife,
    /// Not affected (the vulnerable code is not in this release).
    NotAffected,
    /// Not yet triaged.
    Undetermined,
}

impl Status {
    /// The byte stored in the database.
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The status a stored byte stands for.
    #[must_use]
    pub fn from_code(c: u8) -> Option<Self> {
        use Status::*;
        [
            Fixed,
            Unfixed,
            NoDsa,
            Postponed,
            Ignored,
            EndOfLife,
            NotAffected,
            Undetermined,
        ]
        .get(usize::from(c))
        .copied()
    }

    /// Whether a fix exists for this release.
    #[must_use]
    pub fn has_fix(self) -> bool {
        self == Status::Fixed
    }

    /// In words, for reports.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Status::Fixed => "fixed",
            Status::Unfixed => "affected, no fix yet",
            Status::NoDsa => "affected, minor issue: no advisory (no-dsa)",
            Status::Postponed => "affected, fix postponed",
            Status::Ignored => "affected, will not be fixed in this release",
            Status::EndOfLife => "affected, package end-of-life in this release",
            Status::NotAffected => "not affected",
            Status::Undetermined => "not yet triaged",
        }
    }
}

/// How urgent the feed says it is (tracker urgency, or the CVSS band OSV gives).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Not assigned.
    Unknown,
    /// The tracker's "unimportant": not a security problem in Debian's build.
    Unimportant,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical (CVSS 9.0 and above).
    Critical,
}

impl Severity {
    /// Parses the tracker's urgency (`low`, `medium**`, `not yet assigned`, …).
    #[must_use]
    pub fn from_urgency(s: &str) -> Self {
        match s.trim().trim_end_matches('*') {
            "unimportant" => Severity::Unimportant,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => Severity::Unknown,
        }
    }

    /// The band of a CVSS base score.
    #[must_use]
    pub fn from_cvss(score: f32) -> Self {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Unknown,
        }
    }

    /// The byte stored in the database.
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The severity a stored byte stands for.
    #[must_use]
    pub fn from_code(c: u8) -> Self {
        use Severity::*;
        [Unknown, Unimportant, Low, Medium, High, Critical]
            .get(usize::from(c))
            .copied()
            .unwrap_or(Unknown)
    }
}

/// One feed record: what `release` says about `id` in source package `source`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Advisory {
    /// Debian codename, or `*`: what every release without a line of its
    /// own inherits (the tracker's unstable line).
    pub release: String,
    /// Source package.
    pub source: String,
    /// `CVE-…` (or the feed's own id when there is no CVE).
    pub id: String,
    /// The state.
    pub status: Status,
    /// The first fixed version, for [`Status::Fixed`].
    pub fixed: Option<String>,
    /// How urgent.
    pub severity: Severity,
    /// The tracker's reason (no-dsa, postponed, ignored, end-of-life) or note.
    pub note: Option<String>,
}

/// A CISA KEV entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Kev {
    /// `CVE-…`.
    pub cve: String,
    /// When CISA added it (`YYYY-MM-DD`).
    pub date_added: String,
    /// The remediation deadline for US federal agencies.
    pub due_date: String,
    /// Known use in ransomware campaigns.
    pub ransomware: bool,
    /// Vendor and product, as CISA names them.
    pub product: String,
}

/// A FIRST EPSS score.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Epss {
    /// Probability of exploitation activity in the next 30 days.
    pub score: f32,
    /// Percentile among all scored CVEs.
    pub percentile: f32,
}
