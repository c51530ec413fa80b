//! What changes between two locks of one spec.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use bulwark_spec::{Lock, LockedPackage};
use serde::Serialize;

/// A package that changes, appears or goes, on one architecture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageChange {
    /// Debian architecture.
    pub arch: String,
    /// Binary package.
    pub package: String,
    /// Its source package (the new one's, else the old one's).
    pub source: String,
    /// Version in the old lock (None: new package).
    pub from: Option<String>,
    /// Version now (None: removed).
    pub to: Option<String>,
    /// Source version in the old lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_source_version: Option<String>,
    /// Suite the old version came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_suite: Option<String>,
    /// Suite the new version comes from (`bookworm-security`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_suite: Option<String>,
}

impl PackageChange {
    /// The new version is older than the locked one.
    #[must_use]
    pub fn is_downgrade(&self) -> bool {
        match (&self.from, &self.to) {
            (Some(a), Some(b)) => {
                bulwark_debian::compare_versions(b, a).is_ok_and(|o| o == Ordering::Less)
            }
            _ => false,
        }
    }

    /// `arch package from → to`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} -> {}",
            self.arch,
            self.package,
            self.from.as_deref().unwrap_or("(new)"),
            self.to.as_deref().unwrap_or("(removed)")
        )
    }
}

fn source_of(p: &LockedPackage) -> String {
    p.source.clone().unwrap_or_else(|| p.name.clone())
}

/// Packages added, removed or at another version (or from another file:
/// the same version rebuilt with other bytes counts) in `new`, by
/// architecture then name.
#[must_use]
pub fn compare(old: &Lock, new: &Lock) -> Vec<PackageChange> {
    let archs: BTreeSet<&String> = old.archs.keys().chain(new.archs.keys()).collect();
    let mut out = Vec::new();
    for arch in archs {
        let by_name = |l: &Lock| -> BTreeMap<String, LockedPackage> {
            l.archs
                .get(arch)
                .map(|a| {
                    a.packages
                        .iter()
                        .map(|p| (p.name.clone(), p.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (a, b) = (by_name(old), by_name(new));
        let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for name in names {
            let (x, y) = (a.get(name), b.get(name));
            if let (Some(x), Some(y)) = (x, y)
                && x.version == y.version
                && x.sha256 == y.sha256
            {
                continue;
            }
            out.push(PackageChange {
                arch: arch.clone(),
                package: name.clone(),
                source: y.or(x).map(source_of).unwrap_or_default(),
                from: x.map(|p| p.version.clone()),
                to: y.map(|p| p.version.clone()),
                from_source_version: x.map(|p| {
                    p.source_version
                        .clone()
                        .unwrap_or_else(|| p.version.clone())
                }),
                from_suite: x.map(|p| p.suite.clone()),
                to_suite: y.map(|p| p.suite.clone()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_spec::LockedArch;

    fn pkg(name: &str, version: &str, suite: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
            source: Some(format!("{name}-src")),
            source_version: None,
            suite: suite.into(),
            uri: "http://127.0.0.1/debian".into(),
            filename: format!("pool/{name}_{version}.deb"),
            size: 1,
            sha256: format!("{name}{version}"),
            pulled_by: None,
        }
    }

    fn lock(pkgs: Vec<LockedPackage>) -> Lock {
        Lock {
            lockfile_version: bulwark_spec::LOCK_VERSION,
            spec_digest: "d".into(),
            generated_by: "t".into(),
            suites: vec![],
            archs: BTreeMap::from([("amd64".into(), LockedArch { packages: pkgs })]),
        }
    }

    #[test]
    fn changed_added_removed_and_downgrades() {
        let old = lock(vec![
            pkg("a", "1.0-1", "s"),
            pkg("b", "2.0-1+deb12u1", "s-security"),
            pkg("c", "1", "s"),
        ]);
        let new = lock(vec![
            pkg("a", "1.0-2", "s-security"),
            pkg("b", "2.0-1", "s"),
            pkg("d", "1", "s"),
        ]);
        let c = compare(&old, &new);
        let got: Vec<String> = c.iter().map(PackageChange::describe).collect();
        assert_eq!(
            got,
            [
                "amd64 a 1.0-1 -> 1.0-2",
                "amd64 b 2.0-1+deb12u1 -> 2.0-1",
                "amd64 c 1 -> (removed)",
                "amd64 d (new) -> 1"
            ]
        );
        assert!(!c[0].is_downgrade());
        assert!(c[1].is_downgrade());
        assert_eq!(c[0].to_suite.as_deref(), Some("s-security"));
        assert!(compare(&old, &old).is_empty());
    }
}
