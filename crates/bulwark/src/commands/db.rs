//! `bulwark db update` and `bulwark db status`.

use std::process::ExitCode;

use bulwark_vulndb::feeds::Source;
use bulwark_vulndb::{Db, Meta};

use crate::cli::{DbArg, Format};

/// The database directory `--db` (or `BULWARK_DB`) names, else the default.
pub fn dir(arg: &DbArg) -> std::path::PathBuf {
    arg.dir.clone().unwrap_or_else(bulwark_vulndb::default_dir)
}

/// The database `--db` (or `BULWARK_DB`) names, which must open; else the
/// default one when it exists (`eval` and `diff` use it when there is one).
pub fn optional(arg: &DbArg) -> anyhow::Result<Option<Db>> {
    Ok(match &arg.dir {
        Some(dir) => Some(Db::open(dir)?),
        None => Db::open(&bulwark_vulndb::default_dir()).ok(),
    })
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// How old a feed's data is, in days: from its own date (KEV's catalogue
/// version, EPSS's score date), else from when it was imported.
pub fn age_days(meta: &Meta) -> Option<f64> {
    let t = meta.data_date()?;
    Some((now_secs() - t).max(0) as f64 / 86_400.0)
}

pub fn update(
    from: &[String],
    arg: &DbArg,
    format: Format,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let dir = dir(arg);
    let sources: Vec<Source> = from
        .iter()
        .map(|s| s.parse().unwrap_or(Source::Url(s.clone())))
        .collect();
    let now = bulwark_debian::time::format_rfc3339(now_secs());
    let start = std::time::Instant::now();
    let metas =
        bulwark_vulndb::update_with(&dir, &sources, &now, crate::term::download_bars(quiet))?;
    tracing::info!(
        "{}: {} feed(s) imported in {:.1} s",
        dir.display(),
        metas.len(),
        start.elapsed().as_secs_f64()
    );
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "db": dir.display().to_string(),
                "imported": metas,
            }))?
        ),
        Format::Text => {
            for m in &metas {
                println!(
                    "{:<8} {:>9} records  {}",
                    m.kind.name(),
                    m.records,
                    sources_of(m)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn sources_of(m: &Meta) -> String {
    let first = m.sources.first().map_or("", |s| s.source.as_str());
    if m.sources.len() > 1 {
        format!("{first} (+{} more)", m.sources.len() - 1)
    } else {
        first.to_owned()
    }
}

pub fn status(arg: &DbArg, format: Format) -> anyhow::Result<ExitCode> {
    let dir = dir(arg);
    let db = Db::open(&dir)?;
    let feeds: Vec<serde_json::Value> = db
        .feeds()
        .into_iter()
        .map(|m| {
            serde_json::json!({
                "kind": m.kind,
                "records": m.records,
                "feed_date": m.feed_date,
                "imported": m.imported,
                "age_days": age_days(m).map(|d| (d * 10.0).round() / 10.0),
                "sources": m.sources,
            })
        })
        .collect();
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "db": dir.display().to_string(),
                "feeds": feeds,
            }))?
        ),
        Format::Text => {
            println!("{}", dir.display());
            for m in db.feeds() {
                println!(
                    "  {:<8} {:>9} records  imported {}{}, data {:.1} days old  {}",
                    m.kind.name(),
                    m.records,
                    m.imported,
                    m.feed_date
                        .as_deref()
                        .map(|d| format!(", feed of {d}"))
                        .unwrap_or_default(),
                    age_days(m).unwrap_or(f64::NAN),
                    sources_of(m)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
