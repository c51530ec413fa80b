//! Vulnerability data for Debian images.
//!
//! [`update`] imports the feeds — the Debian security tracker (its JSON
//! export, or the `data/CVE/list` and `data/DSA/list` text it is made from),
//! OSV records of the Debian ecosystem, the CISA KEV catalogue and FIRST
//! EPSS scores — from local files or their public URLs into a compact
//! database ([`Db`]): one binary file per feed, sorted tables searched in
//! place, replaced atomically. [`matches()`] says which advisories apply to
//! installed packages, by source package, release and dpkg version order.
//!
//! ```
//! use bulwark_vulndb::{Db, Installed, feeds::Source, matches, update};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let list = dir.path().join("list");
//! std::fs::write(&list, "CVE-2024-0001 (x)\n\t- zlib 1:1.3.dfsg-2\n").unwrap();
//! update(dir.path(), &[Source::Path(list)], "2026-12-01T00:00:00Z").unwrap();
//! let db = Db::open(dir.path()).unwrap();
//! let zlib = Installed {
//!     name: "zlib1g".into(),
//!     version: "1:1.2.13.dfsg-1".into(),
//!     source: "zlib".into(),
//!     source_version: "1:1.2.13.dfsg-1".into(),
//! };
//! let found = matches(&db, "bookworm", &[zlib]);
//! assert_eq!(found[0].advisory.fixed.as_deref(), Some("1:1.3.dfsg-2"));
//! ```

pub mod db;
mod error;
pub mod feeds;
mod matching;
mod model;
pub mod release;

pub use db::{Db, Meta, SourceInfo, default_dir};
pub use error::Error;
pub use matching::{Installed, Match, matches};
pub use model::{Advisory, Epss, Kev, Severity, Status};

use feeds::{Kind, Raw, Source};

/// Largest feed file read (inflated): the tracker's JSON export is about
/// 100 MiB.
pub const MAX_FEED: u64 = bulwark_limits::VULN_FEED;
/// Most advisory records one feed may hold.
pub const MAX_ADVISORIES: usize = bulwark_limits::VULN_RECORDS;
/// Most OSV files read from one directory.
pub const MAX_OSV_FILES: usize = 1_000_000;

/// Imports `sources` (each a file, a directory of OSV records, or a URL; a
/// feed's kind is found from its content) into the database at `dir`; with
/// no sources, fetches the tracker, OSV's Debian `all.zip`, KEV and EPSS
/// from their public URLs.
/// Feeds not given keep their previous data. `now` is the import time
/// recorded (RFC 3339).
///
/// # Errors
/// A source that cannot be read, is of no known kind, or is malformed:
/// nothing is changed then.
pub fn update(dir: &std::path::Path, sources: &[Source], now: &str) -> Result<Vec<Meta>, Error> {
    update_with(dir, sources, now, None)
}

/// [`update`], reporting each download's progress to `on_bytes`.
///
/// # Errors
/// As [`update`].
pub fn update_with(
    dir: &std::path::Path,
    sources: &[Source],
    now: &str,
    on_bytes: Option<bulwark_apt::OnBytes>,
) -> Result<Vec<Meta>, Error> {
    let defaults: Vec<Source> = Kind::ALL
        .iter()
        .filter_map(|k| k.default_url())
        .map(|u| Source::Url(u.to_owned()))
        .collect();
    let sources = if sources.is_empty() {
        &defaults
    } else {
        sources
    };
    // Read and classify every source first.
    let mut raws: Vec<(Kind, Raw)> = Vec::new();
    for s in sources {
        if let Source::Path(p) = s
            && p.is_dir()
        {
            for f in feeds::osv_files(p)? {
                raws.push((Kind::Osv, feeds::read(&Source::Path(f))?));
            }
            continue;
        }
        let raw = feeds::read_with(s, on_bytes.as_ref())?;
        let kind = feeds::detect(&raw.data).ok_or_else(|| Error::Feed {
            feed: s.to_string(),
            position: "start".into(),
            detail: "not a feed bulwark knows (tracker JSON or list, OSV, CISA KEV JSON, EPSS CSV)"
                .into(),
        })?;
        raws.push((kind, raw));
    }
    let mut files = Vec::new();
    let mut metas = Vec::new();
    for kind in Kind::ALL {
        let of_kind: Vec<&Raw> = raws
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, r)| r)
            .collect();
        if of_kind.is_empty() {
            continue;
        }
        let mut meta = Meta {
            kind,
            sources: of_kind
                .iter()
                .map(|r| SourceInfo {
                    source: r.source.to_string(),
                    sha256: r.sha256.clone(),
                    size: r.size,
                })
                .collect(),
            feed_date: None,
            imported: now.to_owned(),
            records: 0,
        };
        // OSV directories can hold a million files: list the directory, not each.
        if kind == Kind::Osv && meta.sources.len() > 16 {
            let n = meta.sources.len();
            meta.sources.truncate(16);
            meta.sources.push(SourceInfo {
                source: format!("… {} more records", n - 16),
                sha256: String::new(),
                size: 0,
            });
        }
        let bytes = match kind {
            Kind::Tracker | Kind::Osv => {
                let mut all = Vec::new();
                for r in &of_kind {
                    let name = r.source.to_string();
                    let mut a = match kind {
                        Kind::Osv if feeds::zip::is_zip(&r.data) => {
                            let mut recs = Vec::new();
                            feeds::zip::members(&name, &r.data, ".json", |member, bytes| {
                                recs.extend(feeds::osv::parse(&format!("{name}:{member}"), bytes)?);
                                if recs.len() > MAX_ADVISORIES {
                                    return Err(Error::Feed {
                                        feed: name.clone(),
                                        position: member.to_owned(),
                                        detail: format!("more than {MAX_ADVISORIES} records"),
                                    });
                                }
                                Ok(())
                            })?;
                            recs
                        }
                        Kind::Osv => feeds::osv::parse(&name, &r.data)?,
                        _ if r.data.trim_ascii_start().starts_with(b"{") => {
                            feeds::tracker::parse_json(&name, &r.data)?
                        }
                        _ => feeds::tracker::parse_list(&name, &String::from_utf8_lossy(&r.data))?,
                    };
                    all.append(&mut a);
                    if all.len() > MAX_ADVISORIES {
                        return Err(Error::Feed {
                            feed: name,
                            position: "records".into(),
                            detail: format!("more than {MAX_ADVISORIES} in all"),
                        });
                    }
                }
                meta.records = all.len();
                db::encode_advisories(&meta, all)
            }
            Kind::Kev => {
                let mut all = Vec::new();
                for r in &of_kind {
                    let (version, mut k) = feeds::kev::parse(&r.source.to_string(), &r.data)?;
                    meta.feed_date = Some(version);
                    all.append(&mut k);
                }
                meta.records = all.len();
                db::encode_kev(&meta, all)
            }
            Kind::Epss => {
                let mut all = Vec::new();
                for r in &of_kind {
                    let parsed = feeds::epss::parse(
                        &r.source.to_string(),
                        &String::from_utf8_lossy(&r.data),
                    )?;
                    meta.feed_date = parsed.date.or(meta.feed_date);
                    all.extend(
                        parsed
                            .scores
                            .into_iter()
                            .filter_map(|(c, e)| db::cve_key(&c).map(|k| (k, e))),
                    );
                }
                meta.records = all.len();
                db::encode_epss(&meta, all)
            }
        };
        files.push((kind, bytes));
        metas.push(meta);
    }
    db::commit(dir, files)?;
    Ok(metas)
}
