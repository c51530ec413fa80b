//! Which advisories apply to installed packages.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::Db;
use crate::model::{Advisory, Status};

/// An installed binary package and the source it was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// Binary package name.
    pub name: String,
    /// Binary version.
    pub version: String,
    /// Source package name (the binary's name when dpkg gives no `Source`).
    pub source: String,
    /// Source version (the binary's version when dpkg gives none).
    pub source_version: String,
}

impl Installed {
    /// A package as matching sees it: its source (else its own name) and
    /// source version (else its own version).
    #[must_use]
    pub fn new(
        name: &str,
        version: &str,
        source: Option<&str>,
        source_version: Option<&str>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            source: source.unwrap_or(name).to_owned(),
            source_version: source_version.unwrap_or(version).to_owned(),
        }
    }
}

/// An advisory that applies to a source package as installed.
#[derive(Clone, Debug)]
pub struct Match {
    /// What the feed says.
    pub advisory: Advisory,
    /// The installed source version.
    pub installed: String,
    /// The binary packages built from that source that are installed.
    pub packages: Vec<String>,
}

/// The advisories of `release` that apply to `installed`: an advisory with
/// a fixed version applies when the installed source version is older (dpkg
/// order); an open one (unfixed, no-dsa, postponed, ignored, end-of-life,
/// undetermined) always applies; "not affected" never does.
#[must_use]
pub fn matches(db: &Db, release: &str, installed: &[Installed]) -> Vec<Match> {
    // One source package, one version: binaries grouped.
    let mut sources: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for p in installed {
        sources
            .entry((p.source.as_str(), p.source_version.as_str()))
            .or_default()
            .push(p.name.clone());
    }
    let mut out = Vec::new();
    for ((source, version), packages) in sources {
        for a in db.advisories(release, source) {
            let applies = match a.status {
                Status::NotAffected => false,
                Status::Fixed => a.fixed.as_deref().is_some_and(|f| older(version, f)),
                _ => true,
            };
            if applies {
                out.push(Match {
                    advisory: a,
                    installed: version.to_owned(),
                    packages: packages.clone(),
                });
            }
        }
    }
    out
}

/// `installed` < `fixed` in dpkg order; an unparsable version is treated as
/// affected (never silently fixed).
#[must_use]
pub fn older(installed: &str, fixed: &str) -> bool {
    bulwark_debian::compare_versions(installed, fixed).map_or(true, |o| o == Ordering::Less)
}
