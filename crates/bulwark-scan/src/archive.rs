//! The Debian archive as the second witness of fixes: which newer versions
//! of the installed packages the release's suites (main, `-updates`,
//! `-security`) carry now, verified through the signed indexes, and — with
//! changelogs — which CVEs the candidates' `changelog.Debian.gz` names in
//! the entries newer than the installed version.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Error, Priority, Report, Subject};

/// How to reach the archive.
#[derive(Debug)]
pub struct ArchiveOptions {
    /// Archive URI (default: the host's apt sources).
    pub mirror: Option<String>,
    /// Security archive URI (default: the host's apt sources).
    pub security_mirror: Option<String>,
    /// Keyring (default: the host's `Signed-By`, else trusted.gpg.d).
    pub keyring: Option<PathBuf>,
    /// Fetch the candidates' `.deb`s and read their changelogs.
    pub changelogs: bool,
    /// Debian architecture of the indexes.
    pub arch: String,
    /// The verified downloader (with its cache).
    pub fetcher: bulwark_apt::Fetcher,
}

/// A newer version of an installed package in the archive now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Update {
    /// Binary package.
    pub package: String,
    /// Installed version.
    pub installed: String,
    /// The newest version the suites carry.
    pub candidate: String,
    /// Its source package and source version.
    pub source: String,
    /// Source version of the candidate.
    pub source_version: String,
    /// The suite that carries it (`bookworm-security`).
    pub suite: String,
    /// CVE ids its changelog names in the entries newer than the installed
    /// version (with `--changelogs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changelog_cves: Vec<String>,
    /// When each of those fixes first reached the archive: the date of the
    /// oldest upload newer than the installed version naming it (RFC 3339).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub first_fixed: BTreeMap<String, String>,
    #[serde(skip)]
    url: String,
    #[serde(skip)]
    size: u64,
    #[serde(skip)]
    sha256: String,
}

/// What the archive said.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ArchiveState {
    /// The suites read (verified InRelease → Packages).
    pub suites: Vec<String>,
    /// Suites the archive does not have (their InRelease is not found: a
    /// mirror without `-updates`, say); the others are still read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Installed packages with newer versions there.
    pub updates: Vec<Update>,
}

/// A finding's fix, as the archive shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InArchive {
    /// The binary package carrying it.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The suite.
    pub suite: String,
    /// `index` (the version is at least the fixed one) or `changelog` (its
    /// changelog names the CVE).
    pub witness: &'static str,
}

fn newer(a: &str, b: &str) -> bool {
    bulwark_debian::compare_versions(a, b).is_ok_and(|o| o == Ordering::Greater)
}

/// Reads the release's suites and lists the newer versions of `subject`'s
/// packages; with changelogs, fetches one verified `.deb` per source and
/// reads its changelog.
///
/// # Errors
/// The suites cannot be found in the apt configuration, fetched or verified.
pub fn check(
    subject: &Subject,
    release: &str,
    opts: &ArchiveOptions,
) -> Result<ArchiveState, Error> {
    let fail = |detail: String| Error::Archive { detail };
    let dist = bulwark_spec::Distribution {
        suite: release.to_owned(),
        mirror: opts.mirror.clone(),
        security_mirror: opts.security_mirror.clone(),
        keyring: opts.keyring.as_ref().map(|k| k.display().to_string()),
        ..bulwark_spec::Distribution::default()
    };
    let suites = bulwark_build::sources::suites_for(
        &dist,
        Path::new("."),
        &bulwark_build::sources::apt_root(),
    )
    .map_err(|e| fail(e.to_string()))?;
    let installed: BTreeMap<&str, &bulwark_vulndb::Installed> = subject
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    let mut best: BTreeMap<String, Update> = BTreeMap::new();
    let mut read = Vec::new();
    let mut missing = Vec::new();
    for s in &suites {
        let idx = match bulwark_apt::load_suite(
            &opts.fetcher,
            &s.spec,
            std::slice::from_ref(&opts.arch),
            &s.keyring,
            None,
        ) {
            Ok(idx) => idx,
            // A suite this mirror does not carry; anything else (a bad
            // signature, a damaged index) fails closed.
            Err(bulwark_apt::ArchiveError::Fetch(e)) if e.is_not_found() && !read.is_empty() => {
                missing.push(s.spec.suite.clone());
                continue;
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        read.push(s.spec.suite.clone());
        for (name, inst) in &installed {
            for r in idx.packages.iter().flat_map(|i| i.named(name)) {
                let v = r.version.as_str();
                let beats_current = best.get(*name).is_none_or(|u| newer(v, &u.candidate));
                if newer(v, &inst.version) && beats_current {
                    best.insert(
                        (*name).to_owned(),
                        Update {
                            package: (*name).to_owned(),
                            installed: inst.version.clone(),
                            candidate: v.to_owned(),
                            source: r.source.clone().unwrap_or_else(|| r.name.clone()),
                            source_version: r
                                .source_version
                                .clone()
                                .unwrap_or_else(|| v.to_owned()),
                            suite: s.spec.suite.clone(),
                            changelog_cves: Vec::new(),
                            first_fixed: BTreeMap::new(),
                            url: s.spec.file_url(&r.filename),
                            size: r.size,
                            sha256: r.sha256.clone(),
                        },
                    );
                }
            }
        }
    }
    let mut updates: Vec<Update> = best.into_values().collect();
    if opts.changelogs {
        read_changelogs(subject, release, &mut updates, opts)?;
    }
    Ok(ArchiveState {
        suites: read,
        missing,
        updates,
    })
}

/// One `.deb` per source (the smallest binary with a changelog), its CVEs
/// given to every update of that source.
fn read_changelogs(
    subject: &Subject,
    release: &str,
    updates: &mut [Update],
    opts: &ArchiveOptions,
) -> Result<(), Error> {
    let mut by_source: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, u) in updates.iter().enumerate() {
        by_source.entry(u.source.clone()).or_default().push(i);
    }
    for (source, mut idx) in by_source {
        idx.sort_by_key(|&i| updates[i].size);
        // The installed source version the changelog entries are compared with.
        let since = subject
            .packages
            .iter()
            .find(|p| p.source == source)
            .map(|p| p.source_version.clone())
            .unwrap_or_default();
        if since.is_empty() {
            // Without the installed version every entry would count as
            // newer: say so rather than claim the whole history.
            tracing::warn!(
                "no installed version of source {source} is known; its changelog is not read"
            );
            continue;
        }
        for &i in &idx {
            let u = &updates[i];
            let bytes = opts
                .fetcher
                .get_verified(&u.url, u.size, &u.sha256)
                .map_err(|e| Error::Archive {
                    detail: e.to_string(),
                })?;
            let Some(text) = changelog_of(&bytes, &u.package, &u.url) else {
                continue;
            };
            let dates = fix_dates(&text, &since, release);
            let cves: Vec<String> = dates.keys().cloned().collect();
            let first: BTreeMap<String, String> = dates
                .into_iter()
                .filter_map(|(c, d)| d.map(|t| (c, bulwark_debian::time::format_rfc3339(t))))
                .collect();
            for &j in &idx {
                updates[j].changelog_cves.clone_from(&cves);
                updates[j].first_fixed.clone_from(&first);
            }
            break;
        }
    }
    Ok(())
}

/// The text of `usr/share/doc/<package>/changelog.Debian.gz` in a `.deb`
/// (or of another Debian changelog it ships, or a native package's
/// `changelog.gz`).
#[must_use]
pub fn changelog_of(deb: &[u8], package: &str, origin: &str) -> Option<String> {
    let d = bulwark_deb::read_deb_named(deb, &bulwark_deb::Limits::default(), origin).ok()?;
    let want = format!("usr/share/doc/{package}/changelog.Debian.gz");
    // A native package (ca-certificates, base-files) has one changelog, in
    // Debian's format, as `changelog.gz`.
    let native = format!("usr/share/doc/{package}/changelog.gz");
    let mut found: Vec<(u8, &Vec<u8>)> = d
        .entries
        .iter()
        .filter_map(|e| match &e.kind {
            bulwark_deb::EntryKind::File(data) if e.path == want => Some((0, data)),
            bulwark_deb::EntryKind::File(data) if e.path.ends_with("/changelog.Debian.gz") => {
                Some((1, data))
            }
            bulwark_deb::EntryKind::File(data) if e.path == native => Some((2, data)),
            _ => None,
        })
        .collect();
    found.sort_by_key(|(rank, _)| *rank);
    let (_, gz) = found.first()?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .take(bulwark_limits::MAX_CAPTURE)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// One entry of a Debian changelog: the upload's version, its date (the
/// trailer line, seconds since the epoch) and the CVE ids it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangelogEntry {
    /// The upload's version.
    pub version: String,
    /// The distributions it was uploaded to (`bookworm-security`).
    pub distribution: String,
    /// When it was signed off, from ` -- Name <mail>  DATE`.
    pub date: Option<i64>,
    /// CVE ids named in its text.
    pub cves: BTreeSet<String>,
}

/// The entries of a Debian changelog newer than `since` (dpkg order),
/// newest first as changelogs are written; all of them when `since` is
/// empty.
#[must_use]
pub fn changelog_entries(changelog: &str, since: &str) -> Vec<ChangelogEntry> {
    let mut out: Vec<ChangelogEntry> = Vec::new();
    for line in changelog.lines() {
        if !line.starts_with([' ', '\t']) && !line.is_empty() {
            // An entry header: `name (version) dists; urgency=…`.
            let version = line
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(v, _)| v);
            let distribution = line
                .split_once(')')
                .map(|(_, r)| r.split(';').next().unwrap_or_default().trim())
                .unwrap_or_default();
            match version {
                Some(v) if !since.is_empty() && !newer(v, since) => break,
                Some(v) => out.push(ChangelogEntry {
                    version: v.to_owned(),
                    distribution: distribution.to_owned(),
                    date: None,
                    cves: BTreeSet::new(),
                }),
                None => {}
            }
            continue;
        }
        let Some(entry) = out.last_mut() else {
            continue;
        };
        if let Some(trailer) = line.strip_prefix(" -- ") {
            // `Name <mail>  Tue, 30 Sep 2025 00:00:00 +0000` (dpkg takes one
            // space before the date as well as two).
            if let Some((_, date)) = trailer.rsplit_once('>') {
                entry.date = bulwark_debian::time::parse_rfc2822(date.trim());
            }
            continue;
        }
        entry.cves.extend(cve_ids(line));
    }
    out
}

/// The CVE ids in one line of text.
fn cve_ids(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = line[i..].find("CVE-") {
        let start = i + p;
        let mut end = start + 4;
        let mut digits = 0;
        while end < b.len() && (b[end].is_ascii_digit() || (b[end] == b'-' && digits == 4)) {
            if b[end].is_ascii_digit() {
                digits += 1;
            }
            end += 1;
        }
        let id = &line[start..end];
        if bulwark_vulndb::db::cve_key(id).is_some() {
            out.push(id.to_owned());
        }
        i = end.max(start + 4);
    }
    out
}

/// The CVE ids named in a Debian changelog's entries newer than `since`
/// (dpkg order).
#[must_use]
pub fn cves_since(changelog: &str, since: &str) -> BTreeSet<String> {
    changelog_entries(changelog, since)
        .into_iter()
        .flat_map(|e| e.cves)
        .collect()
}

/// Whether an upload to `distribution` (one or more suite names) reached
/// `release`: the release itself, its `-security`, `-updates` or
/// `-proposed-updates` (which point releases take in).
fn reaches(distribution: &str, release: &str) -> bool {
    distribution.split_whitespace().any(|d| {
        d == release
            || d.strip_prefix(release)
                .is_some_and(|rest| matches!(rest, "-security" | "-updates" | "-proposed-updates"))
    })
}

/// When each CVE's fix reached `release`, as the changelog entries newer
/// than `since` show it. A CVE named in an entry for another distribution
/// (an unstable upload carried into a stable rebase) arrived with the first
/// later upload for the release; the oldest such arrival counts when the
/// CVE is named more than once. A date is kept over a missing one.
#[must_use]
pub fn fix_dates(changelog: &str, since: &str, release: &str) -> BTreeMap<String, Option<i64>> {
    let entries = changelog_entries(changelog, since);
    let mut out: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        // Entries are newest first: the upload that brought entry i to the
        // release is the oldest one at or above it that targets the release
        // (the candidate itself, entry 0, when none names the release).
        let arrival = entries[..=i]
            .iter()
            .rev()
            .find(|x| reaches(&x.distribution, release))
            .unwrap_or(&entries[0])
            .date;
        for c in &e.cves {
            let slot = out.entry(c.clone()).or_insert(arrival);
            *slot = match (*slot, arrival) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    out
}

/// How far behind the archive's security fixes an image is: the fixes its
/// packages lack that the archive carries now (named by the candidates'
/// changelogs), and how long the oldest of them has been there. Needs the
/// state read with changelogs.
#[must_use]
pub fn cadence(state: &ArchiveState, now: i64) -> bulwark_eval::Cadence {
    // CVE → (what carries the fix, when it arrived); one entry per CVE
    // although several binaries of a source carry it.
    let mut by_cve: BTreeMap<&str, (String, Option<i64>)> = BTreeMap::new();
    for u in &state.updates {
        for cve in &u.changelog_cves {
            let when = u
                .first_fixed
                .get(cve)
                .and_then(|d| bulwark_debian::time::parse_rfc3339(d));
            let e = by_cve.entry(cve).or_insert_with(|| {
                (
                    format!("{} {} in {}", u.package, u.candidate, u.suite),
                    when,
                )
            });
            // The oldest date any candidate gives.
            if let Some(t) = when
                && e.1.is_none_or(|o| t < o)
            {
                e.1 = Some(t);
            }
        }
    }
    let oldest = by_cve.values().filter_map(|(_, t)| *t).min();
    let undated = by_cve.values().filter(|(_, t)| t.is_none()).count();
    let missing = by_cve
        .iter()
        .map(|(cve, (what, when))| match when {
            Some(t) => format!(
                "{cve} ({what}, since {})",
                bulwark_debian::time::format_rfc3339(*t)
                    .get(..10)
                    .unwrap_or_default()
            ),
            None => format!("{cve} ({what})"),
        })
        .collect();
    let ages = by_cve
        .iter()
        .map(|(cve, (_, when))| ((*cve).to_owned(), when.map(|t| (now - t).max(0) / 86_400)))
        .collect();
    bulwark_eval::Cadence {
        days_behind: oldest.map_or(0, |t| (now - t).max(0) / 86_400),
        missing,
        ages,
        undated,
        updates: state.updates.len(),
        suites: state.suites.clone(),
    }
}

/// Joins what the archive shows with the findings: a fix the archive
/// carries now (by version, or named in a candidate's changelog), a fix the
/// tracker announces that no suite carries yet (then it cannot be applied
/// by a rebuild: at most `plan`), and a fix the changelog names that the
/// tracker does not list yet (at least `plan`).
pub fn apply(report: &mut Report, state: ArchiveState) {
    for f in &mut report.findings {
        if f.priority == Priority::SuppressedByVex {
            continue;
        }
        let of_source: Vec<&Update> = state
            .updates
            .iter()
            .filter(|u| u.source == f.source)
            .collect();
        let by_index = f.fixed.as_deref().and_then(|fixed| {
            of_source
                .iter()
                .find(|u| !newer(fixed, &u.source_version))
                .copied()
        });
        let by_changelog = of_source
            .iter()
            .find(|u| u.changelog_cves.iter().any(|c| c == &f.id))
            .copied();
        let in_archive = |u: &Update, witness| InArchive {
            package: u.package.clone(),
            version: u.candidate.clone(),
            suite: u.suite.clone(),
            witness,
        };
        if let Some(u) = by_index {
            f.reasons.push(format!(
                "the fix is in {} now ({} {})",
                u.suite, u.package, u.candidate
            ));
            f.in_archive = Some(in_archive(u, "index"));
        } else if let Some(u) = by_changelog {
            f.reasons.push(format!(
                "the changelog of {} {} in {} names {}{}",
                u.package,
                u.candidate,
                u.suite,
                f.id,
                if f.status.has_fix() {
                    ""
                } else {
                    " (the tracker does not list this fix yet)"
                }
            ));
            f.in_archive = Some(in_archive(u, "changelog"));
            f.priority = f.priority.max(Priority::Plan);
        } else if f.status.has_fix() {
            f.reasons.push(format!(
                "fixed in {} in Debian, but none of {} carries it yet",
                f.fixed.as_deref().unwrap_or("?"),
                state.suites.join(", ")
            ));
            f.priority = f.priority.min(Priority::Plan);
        }
    }
    report.archive = Some(state);
    report.sort_findings();
    report.summarise();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changelog_cves_newer_than_the_installed_version() {
        let log = "openssl (3.0.17-1~deb12u3) bookworm-security; urgency=medium\n\n  * Fix CVE-2025-9230 and CVE-2025-9231.\n  * CVE-2025-9232: out-of-bounds read (closes: #1)\n\n -- Maint <m@x>  Tue, 30 Sep 2025 00:00:00 +0000\n\nopenssl (3.0.17-1~deb12u2) bookworm; urgency=medium\n\n  * CVE-2025-4575\n\nopenssl (3.0.16-1~deb12u1) bookworm; urgency=medium\n\n  * CVE-2024-13176\n";
        let got = cves_since(log, "3.0.17-1~deb12u2");
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            ["CVE-2025-9230", "CVE-2025-9231", "CVE-2025-9232"]
        );
        assert_eq!(cves_since(log, "3.0.15-1").len(), 5);
        assert!(cves_since("x (1) y\n  * CVE-12 CVE-2024-\n", "0").is_empty());
        let dates = fix_dates(log, "3.0.15-1", "bookworm");
        let sep30 = bulwark_debian::time::parse_rfc2822("Tue, 30 Sep 2025 00:00:00 +0000");
        assert_eq!(dates["CVE-2025-9230"], sep30);
        assert_eq!(dates["CVE-2025-4575"], None);
        let entries = changelog_entries(log, "");
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].version, "3.0.17-1~deb12u3");
        assert_eq!(entries[0].date, sep30);
    }

    #[test]
    fn a_fix_from_unstable_arrives_with_the_release_upload_that_carries_it() {
        let log = "p (2~deb12u1) bookworm-security; urgency=high\n\n  * Rebase on 2.\n\n -- M <m@x> Wed, 01 Oct 2025 00:00:00 +0000\n\np (2) unstable; urgency=high\n\n  * Fix CVE-2025-2222.\n\n -- M <m@x>  Mon, 01 Sep 2025 00:00:00 +0000\n\np (1~deb12u1) bookworm; urgency=low\n";
        let d = fix_dates(log, "1~deb12u1", "bookworm");
        // Named in the unstable upload of 1 Sep, in bookworm on 1 Oct (one
        // space before the date is accepted).
        assert_eq!(
            d["CVE-2025-2222"],
            bulwark_debian::time::parse_rfc2822("Wed, 01 Oct 2025 00:00:00 +0000")
        );
        assert!(reaches("bookworm-security", "bookworm"));
        assert!(reaches("bookworm", "bookworm"));
        assert!(!reaches("unstable", "bookworm"));
        assert!(!reaches("bookworm-backports", "bookworm"));
    }

    #[test]
    fn an_older_upload_naming_the_cve_again_moves_its_fix_date_back() {
        let log = "p (2) s; urgency=high\n\n  * Really fix CVE-2025-1111.\n\n -- M <m@x>  Wed, 01 Oct 2025 00:00:00 +0000\n\np (1.5) s; urgency=high\n\n  * Fix CVE-2025-1111.\n\n -- M <m@x>  Mon, 01 Sep 2025 00:00:00 +0000\n\np (1) s\n";
        let d = fix_dates(log, "1", "s");
        assert_eq!(
            d["CVE-2025-1111"],
            bulwark_debian::time::parse_rfc2822("Mon, 01 Sep 2025 00:00:00 +0000")
        );
    }
}
