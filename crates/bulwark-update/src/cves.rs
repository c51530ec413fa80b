//! Which CVEs an update fixes, by two witnesses: the vulnerability database
//! (advisories that apply to the old lock and not to the new one) and the
//! archive itself (the CVE ids the new packages' changelogs name in the
//! entries newer than the locked version, with the date of the upload that
//! first named each).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use bulwark_spec::Lock;
use bulwark_vulndb::{Db, Installed};
use serde::Serialize;

use crate::{Options, PackageChange};

/// A CVE the update removes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FixedCve {
    /// `CVE-…`.
    pub id: String,
    /// The source package it is fixed in.
    pub source: String,
    /// Who says so: `database`, `changelog`, or both.
    pub witness: Vec<&'static str>,
    /// When the fix reached the archive: the date of the first upload newer
    /// than the locked version whose changelog names it (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_available: Option<String>,
    /// Days from then to this run (when the image picks it up, or would).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_days: Option<i64>,
    /// In CISA's Known Exploited Vulnerabilities catalogue.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub kev: bool,
}

/// A CVE the new packages still carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenCve {
    /// `CVE-…`.
    pub id: String,
    /// The source package.
    pub source: String,
    /// The tracker's state (`no fix yet`, `no DSA`, …).
    pub status: String,
}

/// Changelogs read during one run, by the `.deb`'s sha256: specs that share
/// a package read (and inflate) its `.deb` once.
#[derive(Debug, Default)]
pub(crate) struct Changelogs {
    read: Mutex<HashMap<String, Arc<OnceLock<ChangelogRead>>>>,
}

/// A changelog's text (None: the package ships none), or why it could not
/// be fetched.
type ChangelogRead = Result<Option<String>, String>;

impl Changelogs {
    /// The changelog text of the package `p` (None: it ships none), fetched
    /// and verified against the lock once per run.
    fn of(
        &self,
        p: &bulwark_spec::LockedPackage,
        fetcher: &bulwark_apt::Fetcher,
    ) -> Result<Option<String>, String> {
        let cell = match self.read.lock() {
            Ok(mut m) => m.entry(p.sha256.clone()).or_default().clone(),
            Err(_) => return Err("changelog reader panicked".into()),
        };
        cell.get_or_init(|| {
            let url = format!("{}/{}", p.uri.trim_end_matches('/'), p.filename);
            let bytes = fetcher
                .get_verified(&url, p.size, &p.sha256)
                .map_err(|e| e.to_string())?;
            Ok(bulwark_scan::archive::changelog_of(&bytes, &p.name, &url))
        })
        .clone()
    }
}

/// The installed packages of one architecture of a lock.
fn installed(lock: &Lock, arch: &str) -> Vec<Installed> {
    lock.archs
        .get(arch)
        .map(|a| {
            a.packages
                .iter()
                .map(|p| {
                    Installed::new(
                        &p.name,
                        &p.version,
                        p.source.as_deref(),
                        p.source_version.as_deref(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// (id, source) of every advisory that applies to `lock` on any arch, with
/// the tracker's state.
fn applying(db: &Db, release: &str, lock: &Lock) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for arch in lock.archs.keys() {
        for m in bulwark_vulndb::matches(db, release, &installed(lock, arch)) {
            out.insert(
                (m.advisory.id.clone(), m.advisory.source.clone()),
                m.advisory.status.describe().to_owned(),
            );
        }
    }
    out
}

/// CVEs fixed (both witnesses, merged) and still open, and notes on what
/// could not be checked.
pub(crate) fn analyse(
    old: &Lock,
    new: &Lock,
    changes: &[PackageChange],
    release: &str,
    opts: &Options,
    changelogs: &Changelogs,
    now: i64,
) -> (Vec<FixedCve>, Vec<OpenCve>, Vec<String>) {
    let mut notes = Vec::new();
    // (id, source) → fix
    let mut fixed: BTreeMap<(String, String), FixedCve> = BTreeMap::new();
    let mut open = Vec::new();
    let entry = |id: &str, source: &str| FixedCve {
        id: id.to_owned(),
        source: source.to_owned(),
        witness: Vec::new(),
        fix_available: None,
        lag_days: None,
        kev: false,
    };
    if let Some(db) = &opts.db {
        if !db.covers(release) {
            notes.push(format!(
                "the vulnerability database has no advisories for '{release}': CVEs come from the changelogs only"
            ));
        }
        let before = applying(db, release, old);
        let after = applying(db, release, new);
        for (id, source) in before.keys().filter(|k| !after.contains_key(*k)) {
            fixed
                .entry((id.clone(), source.clone()))
                .or_insert_with(|| entry(id, source))
                .witness
                .push("database");
        }
        open = after
            .into_iter()
            .map(|((id, source), status)| OpenCve { id, source, status })
            .collect();
    } else {
        notes.push(
            "no vulnerability database (run `bulwark db update`): CVEs fixed come from the changelogs only, and open CVEs are not listed".into(),
        );
    }
    if opts.changelogs {
        for (source, dates) in changelog_fixes(new, changes, release, opts, changelogs, &mut notes)
        {
            for (id, date) in dates {
                let f = fixed
                    .entry((id.clone(), source.clone()))
                    .or_insert_with(|| entry(&id, &source));
                f.witness.push("changelog");
                if let Some(t) = date {
                    f.fix_available = Some(bulwark_debian::time::format_rfc3339(t));
                    f.lag_days = Some((now - t).max(0) / 86_400);
                }
            }
        }
    }
    let mut fixed: Vec<FixedCve> = fixed.into_values().collect();
    if let Some(db) = &opts.db {
        for f in &mut fixed {
            f.kev = db.kev(&f.id).is_some();
        }
    }
    (fixed, open, notes)
}

/// For each source whose version changed: the CVE ids (and fix dates) its
/// changelog names after the locked source version, read from the smallest
/// new binary `.deb` of that source (fetched and verified against the new
/// lock).
fn changelog_fixes(
    new: &Lock,
    changes: &[PackageChange],
    release: &str,
    opts: &Options,
    changelogs: &Changelogs,
    notes: &mut Vec<String>,
) -> BTreeMap<String, BTreeMap<String, Option<i64>>> {
    let mut sources: BTreeMap<&str, (&str, BTreeSet<&str>)> = BTreeMap::new();
    for c in changes {
        if let (Some(since), Some(_)) = (&c.from_source_version, &c.to) {
            let e = sources
                .entry(c.source.as_str())
                .or_insert((since.as_str(), BTreeSet::new()));
            e.1.insert(c.package.as_str());
            // The oldest locked version of the source: every entry after it.
            if bulwark_debian::compare_versions(since, e.0)
                .is_ok_and(|o| o == std::cmp::Ordering::Less)
            {
                e.0 = since.as_str();
            }
        }
    }
    let mut out = BTreeMap::new();
    for (source, (since, names)) in sources {
        let mut candidates: Vec<&bulwark_spec::LockedPackage> = new
            .archs
            .values()
            .flat_map(|a| a.packages.iter())
            .filter(|p| names.contains(p.name.as_str()))
            .collect();
        candidates.sort_by_key(|p| p.size);
        let mut read = false;
        for p in candidates {
            match changelogs.of(p, &opts.fetcher) {
                Ok(Some(text)) => {
                    out.insert(
                        source.to_owned(),
                        bulwark_scan::archive::fix_dates(&text, since, release),
                    );
                    read = true;
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    notes.push(format!("changelog of {source}: {e}"));
                    read = true;
                    break;
                }
            }
        }
        if !read {
            notes.push(format!(
                "no changelog found in the new packages of {source}: its CVEs come from the database only"
            ));
        }
    }
    out
}
