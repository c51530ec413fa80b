//! Which known vulnerabilities an image (or a lock, or an SBOM) carries,
//! and which of them matter.
//!
//! [`load`] reduces a target to its installed packages, its Debian release
//! and — for an image — the entrypoint's package closure and its ports.
//! [`scan`] matches them against the vulnerability database and gives each
//! finding a score and a priority with its reasons in words ([`risk`] has
//! the formula).
//!
//! ```no_run
//! let db = bulwark_vulndb::Db::open(&bulwark_vulndb::default_dir())?;
//! let subject = bulwark_scan::load("oci:out/base:latest", &Default::default())?;
//! let report = bulwark_scan::scan(&subject, &db, &bulwark_scan::Options::default());
//! for f in &report.findings {
//!     println!("{} {} {}", f.priority.label(), f.id, f.reasons.join("; "));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod archive;
pub mod exposure;
mod formats;
pub mod risk;
mod target;
pub mod vex;

use serde::Serialize;

use bulwark_vulndb::{Db, Epss, Kev, Meta, Severity, Status};
pub use formats::{cyclonedx, sarif};
pub use risk::{Exposure, Priority, Reach};
pub use target::{Kind, LoadOptions, Subject, load, of_image, of_image_with};
pub use vex::{Suppression, VexDocument, openvex};

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The target is not something bulwark can scan.
    #[error("{target}: {detail}")]
    Target {
        /// As given.
        target: String,
        /// What is wrong.
        detail: String,
    },
    /// The image could not be read.
    #[error(transparent)]
    Image(#[from] bulwark_image::Error),
    /// The archive could not be read or verified.
    #[error("the Debian archive: {detail}")]
    Archive {
        /// What failed.
        detail: String,
    },
}

/// How to scan.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Where the workload is reachable from, when known.
    pub exposure: Option<Exposure>,
    /// The evidence for it (a Kubernetes object), for the reasons.
    pub exposure_evidence: Option<String>,
    /// The release to match against, overriding the target's.
    pub release: Option<String>,
}

/// One vulnerability in one source package.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// `CVE-…`.
    pub id: String,
    /// Source package.
    pub source: String,
    /// Installed source version.
    pub installed: String,
    /// Installed binary packages built from it.
    pub packages: Vec<String>,
    /// Their package URLs.
    pub purls: Vec<String>,
    /// The feed's state for this release.
    pub status: Status,
    /// First fixed version, when fixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// Debian's urgency (or the OSV severity).
    pub severity: Severity,
    /// The tracker's note (no-dsa reason…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// CISA KEV entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kev: Option<Kev>,
    /// FIRST EPSS score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss: Option<Epss>,
    /// Whether the package's code is loaded by the entrypoint.
    pub reachability: Reach,
    /// 0–100 (see [`risk`]).
    pub score: f64,
    /// What to do.
    pub priority: Priority,
    /// Why, in words.
    pub reasons: Vec<String>,
    /// The VEX statement that suppressed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<Suppression>,
    /// The fix as the archive carries it now (with `--archive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_archive: Option<archive::InArchive>,
}

/// Counts by priority.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Findings in all.
    pub total: usize,
    /// By priority.
    pub act_now: usize,
    /// By priority.
    pub plan: usize,
    /// By priority.
    pub monitor: usize,
    /// Suppressed by VEX.
    pub suppressed: usize,
    /// In CISA KEV.
    pub kev: usize,
    /// With a fix in the archive.
    pub fixable: usize,
}

/// The scan of one target.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// As given.
    pub target: String,
    /// Image, lock or SBOM.
    pub kind: Kind,
    /// Manifest digest (images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Debian codename matched against.
    pub release: Option<String>,
    /// As the target names it.
    pub os: Option<String>,
    /// Installed binary packages.
    pub packages: usize,
    /// The entrypoint analysed for reachability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    /// The feeds used.
    pub database: Vec<Meta>,
    /// Findings, most urgent first.
    pub findings: Vec<Finding>,
    /// Counts.
    pub summary: Summary,
    /// What limits this report (no package database, release not covered…).
    pub warnings: Vec<String>,
    /// What the archive carries now (with `--archive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<archive::ArchiveState>,
}

/// Matches `subject` against `db` and assesses each finding.
#[must_use]
pub fn scan(subject: &Subject, db: &Db, opts: &Options) -> Report {
    let mut warnings = Vec::new();
    if !subject.inventoried {
        warnings.push(
            "no package database (dpkg status or status.d) was found: nothing could be inventoried, so no vulnerabilities were looked for; this is not a clean result"
                .to_owned(),
        );
    }
    let release = opts.release.clone().or_else(|| subject.release.clone());
    let findings = match release.as_deref() {
        None => {
            if subject.inventoried {
                warnings.push(
                    "the Debian release is unknown (no os-release, debian_version or distro qualifier): pass --release CODENAME"
                        .to_owned(),
                );
            }
            Vec::new()
        }
        Some(rel) if !db.covers(rel) => {
            warnings.push(format!(
                "the vulnerability database has no records for Debian {rel}: nothing was matched"
            ));
            Vec::new()
        }
        Some(rel) => assess_all(subject, db, rel, opts),
    };
    if !db.has(bulwark_vulndb::feeds::Kind::Kev) {
        warnings.push("no KEV catalogue in the database: exploited-in-the-wild is unknown".into());
    }
    if !db.has(bulwark_vulndb::feeds::Kind::Epss) {
        warnings.push("no EPSS scores in the database: exploit likelihood is unknown".into());
    }
    let mut report = Report {
        target: subject.name.clone(),
        kind: subject.kind,
        digest: subject.digest.clone(),
        release,
        os: subject.os.clone(),
        packages: subject.packages.len(),
        entrypoint: subject.closure.as_ref().map(|c| format!("/{}", c.program)),
        database: db.feeds().into_iter().cloned().collect(),
        findings,
        summary: Summary::default(),
        warnings,
        archive: None,
    };
    report.sort_findings();
    report.summarise();
    report
}

impl Report {
    /// The counts eval's exploitability pillar and policies use.
    #[must_use]
    pub fn for_eval(&self) -> bulwark_eval::Vulnerabilities {
        let label = |f: &Finding| format!("{} ({})", f.id, f.source);
        let active = || {
            self.findings
                .iter()
                .filter(|f| f.priority != Priority::SuppressedByVex)
        };
        bulwark_eval::Vulnerabilities {
            kev: active().filter(|f| f.kev.is_some()).map(label).collect(),
            act_now: active()
                .filter(|f| f.priority == Priority::ActNow)
                .map(label)
                .collect(),
            plan: active()
                .filter(|f| f.priority == Priority::Plan)
                .map(label)
                .collect(),
            monitor: active().filter(|f| f.priority == Priority::Monitor).count(),
            max_epss: active()
                .filter_map(|f| f.epss.map(|e| e.score))
                .max_by(f32::total_cmp),
            database: self
                .database
                .iter()
                .map(|m| format!("{} of {}", m.kind.name(), m.imported))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Most urgent first: priority, then score, then id.
    pub fn sort_findings(&mut self) {
        self.findings.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(b.score.total_cmp(&a.score))
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.source.cmp(&b.source))
        });
    }

    /// Recounts [`Summary`] from the findings.
    pub fn summarise(&mut self) {
        let mut s = Summary {
            total: self.findings.len(),
            ..Summary::default()
        };
        for f in &self.findings {
            match f.priority {
                Priority::ActNow => s.act_now += 1,
                Priority::Plan => s.plan += 1,
                Priority::Monitor => s.monitor += 1,
                Priority::SuppressedByVex => s.suppressed += 1,
            }
            s.kev += usize::from(f.kev.is_some());
            s.fixable += usize::from(f.status.has_fix());
        }
        self.summary = s;
    }
}

fn assess_all(subject: &Subject, db: &Db, release: &str, opts: &Options) -> Vec<Finding> {
    bulwark_vulndb::matches(db, release, &subject.packages)
        .into_iter()
        .map(|m| {
            let a = m.advisory;
            let kev = db.kev(&a.id);
            let epss = db.epss(&a.id);
            let mapped: Vec<String> = subject
                .runtime
                .iter()
                .flat_map(|r| m.packages.iter().filter(|p| r.contains(*p)))
                .cloned()
                .collect();
            let reach = match &subject.closure {
                _ if !mapped.is_empty() => Reach::Mapped { packages: mapped },
                Some(c) => {
                    let loaded: Vec<String> = m
                        .packages
                        .iter()
                        .filter(|p| c.needed.contains(*p))
                        .cloned()
                        .collect();
                    if loaded.is_empty() {
                        Reach::NotLoaded {
                            program: c.program.clone(),
                        }
                    } else {
                        Reach::Loaded {
                            program: c.program.clone(),
                            packages: loaded,
                        }
                    }
                }
                None => Reach::Unknown,
            };
            let (score, priority, mut reasons) = risk::assess(&risk::Inputs {
                status: a.status,
                fixed: a.fixed.as_deref(),
                installed: &m.installed,
                severity: a.severity,
                kev: kev.as_ref(),
                epss,
                exposure: opts.exposure,
                reach: &reach,
                note: a.note.as_deref(),
            });
            if let Some(e) = &opts.exposure_evidence
                && let Some(r) = reasons.iter_mut().find(|r| r.starts_with("exposure: "))
            {
                r.push_str(&format!(" ({e})"));
            }
            let purls = m
                .packages
                .iter()
                .filter_map(|p| subject.purls.get(p).cloned())
                .collect();
            Finding {
                id: a.id,
                source: a.source,
                installed: m.installed,
                packages: m.packages,
                purls,
                status: a.status,
                fixed: a.fixed,
                severity: a.severity,
                note: a.note,
                kev,
                epss,
                reachability: reach,
                score,
                priority,
                reasons,
                suppressed_by: None,
                in_archive: None,
            }
        })
        .collect()
}
