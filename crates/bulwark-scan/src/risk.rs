//! Effective risk: a score and a priority, with the reasons in words.
//!
//! `base = min(threat × weight × kev, 1) × 100` is grype's formula: threat
//! is 1 for a KEV entry and the EPSS score otherwise; `kev` is 1.1 for
//! known ransomware use, 1.05 for any KEV entry. bulwark differs in two
//! ways. The severity weight comes from Debian's own triage (the tracker's
//! urgency, so "unimportant" weighs 0.05 where grype uses the CVSS of the
//! upstream project), and the context of this image multiplies it:
//! exposure (internet 1, internal 0.7, isolated 0.4; unknown 1) and
//! reachability (a package outside the entrypoint's closure 0.2; inside, or
//! not analysable, 1). Context only ever lowers the score, and only on
//! evidence: nothing unknown is discounted.
//!
//! The priority then says what to do: **act now** when a fix is in the
//! archive and the finding is in KEV or scores 10 or more; **plan** for any
//! other fix, and for a KEV entry without a fix (mitigate); **monitor** for
//! the rest (no fix yet, minor issues without an advisory, not loaded).

use serde::Serialize;

use bulwark_vulndb::{Epss, Kev, Severity, Status};

/// What to do about a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    /// Suppressed by a VEX statement.
    SuppressedByVex,
    /// Watch: no fix to apply, or not reachable, or minor.
    Monitor,
    /// Schedule the fix (or a mitigation).
    Plan,
    /// Fix now.
    ActNow,
}

impl Priority {
    /// As people write it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Priority::ActNow => "act now",
            Priority::Plan => "plan",
            Priority::Monitor => "monitor",
            Priority::SuppressedByVex => "suppressed by VEX",
        }
    }
}

/// Where the workload can be reached from (`--exposure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exposure {
    /// Reachable from the internet.
    Internet,
    /// Reachable inside the cluster or network only.
    Internal,
    /// Not reachable over the network.
    Isolated,
}

impl Exposure {
    fn factor(self) -> f64 {
        match self {
            Exposure::Internet => 1.0,
            Exposure::Internal => 0.7,
            Exposure::Isolated => 0.4,
        }
    }
}

/// Whether the vulnerable package's code is loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Reach {
    /// In the entrypoint's closure.
    Loaded {
        /// The program.
        program: String,
        /// The binary packages of this source in the closure.
        packages: Vec<String>,
    },
    /// Mapped or opened by the running process (runtime evidence).
    Mapped {
        /// The binary packages of this source the process used.
        packages: Vec<String>,
    },
    /// Outside the entrypoint's closure (the analysis was complete), and
    /// not in the runtime evidence when there is some.
    NotLoaded {
        /// The program.
        program: String,
    },
    /// Not known (no entrypoint analysis: a lock, an SBOM, or an
    /// entrypoint bulwark could not follow).
    Unknown,
}

/// The weight of a severity.
#[must_use]
pub fn weight(s: Severity) -> f64 {
    match s {
        Severity::Critical => 1.0,
        Severity::High => 0.8,
        Severity::Medium => 0.5,
        Severity::Low => 0.2,
        Severity::Unimportant => 0.05,
        Severity::Unknown => 0.4,
    }
}

/// Everything the score depends on.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// The feed's state.
    pub status: Status,
    /// The fixed version, for a fix.
    pub fixed: Option<&'a str>,
    /// The installed source version.
    pub installed: &'a str,
    /// Severity.
    pub severity: Severity,
    /// KEV entry.
    pub kev: Option<&'a Kev>,
    /// EPSS score.
    pub epss: Option<Epss>,
    /// Exposure, when known.
    pub exposure: Option<Exposure>,
    /// Reachability.
    pub reach: &'a Reach,
    /// The tracker's note.
    pub note: Option<&'a str>,
}

/// The score (0–100, one decimal), the priority, and why.
#[must_use]
pub fn assess(i: &Inputs<'_>) -> (f64, Priority, Vec<String>) {
    let mut why = Vec::new();
    let threat = match (i.kev, i.epss) {
        (Some(_), _) => 1.0,
        (None, Some(e)) => f64::from(e.score),
        (None, None) => 0.0,
    };
    let kev_mod = match i.kev {
        Some(k) if k.ransomware => 1.1,
        Some(_) => 1.05,
        None => 1.0,
    };
    if let Some(k) = i.kev {
        why.push(format!(
            "in CISA KEV since {}{}",
            k.date_added,
            if k.ransomware {
                ", used by ransomware"
            } else {
                ""
            }
        ));
    }
    if let Some(e) = i.epss {
        why.push(format!(
            "EPSS {:.3} ({:.0}th percentile)",
            e.score,
            f64::from(e.percentile) * 100.0
        ));
    }
    let base = (threat * weight(i.severity) * kev_mod).min(1.0) * 100.0;
    let mut score = base;
    if let Some(x) = i.exposure {
        score *= x.factor();
        why.push(format!(
            "exposure: {}",
            match x {
                Exposure::Internet => "internet",
                Exposure::Internal => "internal",
                Exposure::Isolated => "isolated",
            }
        ));
    }
    match i.reach {
        Reach::Loaded { program, packages } => why.push(format!(
            "{} {} in the closure of the entrypoint /{program}",
            packages.join(", "),
            if packages.len() == 1 { "is" } else { "are" }
        )),
        Reach::Mapped { packages } => why.push(format!(
            "{} mapped by the running process (runtime evidence)",
            packages.join(", ")
        )),
        Reach::NotLoaded { program } => {
            score *= 0.2;
            why.push(format!("not loaded by the entrypoint /{program}"));
        }
        Reach::Unknown => {}
    }
    let fix = i.status.has_fix();
    match (i.status, i.fixed) {
        (Status::Fixed, Some(f)) => why.push(format!("fixed in {f} (installed {})", i.installed)),
        (s, _) => why.push(match i.note {
            Some(n) => format!("{}: {n}", s.describe()),
            None => s.describe().to_owned(),
        }),
    }
    if i.severity == Severity::Unimportant {
        why.push("Debian rates it unimportant".into());
    }
    let priority =
        if fix && !matches!(i.reach, Reach::NotLoaded { .. }) && (i.kev.is_some() || score >= 10.0)
        {
            Priority::ActNow
        } else if (fix && i.severity != Severity::Unimportant) || i.kev.is_some() {
            Priority::Plan
        } else {
            Priority::Monitor
        };
    ((score * 10.0).round() / 10.0, priority, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs<'a>(
        status: Status,
        kev: Option<&'a Kev>,
        epss: Option<f32>,
        reach: &'a Reach,
    ) -> Inputs<'a> {
        Inputs {
            status,
            fixed: (status == Status::Fixed).then_some("2"),
            installed: "1",
            severity: Severity::High,
            kev,
            epss: epss.map(|s| Epss {
                score: s,
                percentile: 0.5,
            }),
            exposure: None,
            reach,
            note: None,
        }
    }

    #[test]
    fn priorities() {
        let kev = Kev {
            cve: "CVE-1".into(),
            date_added: "2024-01-01".into(),
            due_date: String::new(),
            ransomware: true,
            product: String::new(),
        };
        let unknown = Reach::Unknown;
        let (s, p, why) = assess(&inputs(Status::Fixed, Some(&kev), None, &unknown));
        assert_eq!((s, p), (88.0, Priority::ActNow));
        assert!(
            why[0].contains("ransomware") && why.last().unwrap().contains("fixed in 2"),
            "{why:?}"
        );
        // Grype's formula: EPSS 0.5 × high 0.8 = 40.
        let (s, p, _) = assess(&inputs(Status::Fixed, None, Some(0.5), &unknown));
        assert_eq!((s, p), (40.0, Priority::ActNow));
        let (_, p, _) = assess(&inputs(Status::Fixed, None, Some(0.001), &unknown));
        assert_eq!(p, Priority::Plan);
        let (_, p, _) = assess(&inputs(Status::NoDsa, None, Some(0.9), &unknown));
        assert_eq!(p, Priority::Monitor);
        let (_, p, _) = assess(&inputs(Status::Unfixed, Some(&kev), None, &unknown));
        assert_eq!(p, Priority::Plan);
        let not = Reach::NotLoaded {
            program: "app".into(),
        };
        let (s, p, why) = assess(&inputs(Status::Fixed, None, Some(0.5), &not));
        assert_eq!((s, p), (8.0, Priority::Plan));
        assert!(why.iter().any(|w| w == "not loaded by the entrypoint /app"));
    }
}
