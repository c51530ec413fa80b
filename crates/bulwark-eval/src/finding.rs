//! What a check is and what it finds: the data every other part of the
//! evaluation (checks, scores, policies, SARIF, HTML) shares.

use serde::Serialize;

/// The evaluation pillars (DOMAIN.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pillar {
    AttackSurface,
    ShellAndTools,
    Identity,
    Secrets,
    Exposure,
    Provenance,
    /// Known vulnerabilities (only when a vulnerability database is given).
    Exploitability,
    /// How far behind the archive's security fixes (only with `--archive`).
    PatchCadence,
}

impl Pillar {
    pub const ALL: [Pillar; 6] = [
        Pillar::AttackSurface,
        Pillar::ShellAndTools,
        Pillar::Identity,
        Pillar::Secrets,
        Pillar::Exposure,
        Pillar::Provenance,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Pillar::AttackSurface => "attack-surface",
            Pillar::ShellAndTools => "shell-and-tools",
            Pillar::Identity => "identity",
            Pillar::Secrets => "secrets",
            Pillar::Exposure => "exposure",
            Pillar::Provenance => "provenance",
            Pillar::Exploitability => "exploitability",
            Pillar::PatchCadence => "patch-cadence",
        }
    }
}

/// Severity, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// `high`, `medium`, …
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One check, declared once: everything about it but the code that runs it
/// (which sits beside the declaration, in its pillar's file).
#[derive(Clone, Copy, Debug)]
pub struct Check {
    /// `AS-001`, `ST-001`, …
    pub id: &'static str,
    /// PascalCase name (SARIF `rule.name`).
    pub name: &'static str,
    /// One line saying what the check looks for.
    pub title: &'static str,
    pub pillar: Pillar,
    /// The severity of its findings (a few checks raise or lower it with
    /// the evidence they have; docs/eval.md says when).
    pub severity: Severity,
    /// Controls it maps to (CIS Docker Benchmark, Dockle, DISA SRG, …).
    pub controls: &'static [&'static str],
    /// How to fix what it finds.
    pub fix: &'static str,
}

/// One finding.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub pillar: Pillar,
    pub severity: Severity,
    pub message: String,
    /// The path (without leading `/`) or config key the finding is about.
    pub path: Option<String>,
    /// Controls this maps to (CIS Docker Benchmark, Dockle, DISA SRG).
    pub controls: Vec<&'static str>,
    pub remediation: &'static str,
    /// Set when a policy exception accepts this finding (with its reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excepted: Option<String>,
}

impl Finding {
    /// A finding of `check` at its declared severity.
    #[must_use]
    pub fn of(check: &Check, message: String, path: Option<String>) -> Finding {
        Finding::at(check, check.severity, message, path)
    }

    /// A finding of `check` at `severity`.
    #[must_use]
    pub fn at(check: &Check, severity: Severity, message: String, path: Option<String>) -> Finding {
        Finding {
            id: check.id,
            pillar: check.pillar,
            severity,
            message,
            path,
            controls: check.controls.to_vec(),
            remediation: check.fix,
            excepted: None,
        }
    }
}
