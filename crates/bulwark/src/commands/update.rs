//! `bulwark update`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use bulwark_update::{Status, Summary};

use crate::cli::{DbArg, DiffFormat};
use crate::term::safe;

#[derive(Debug)]
pub struct Args<'a> {
    pub check: bool,
    pub output: Option<&'a str>,
    pub sign_key: Option<&'a Path>,
    pub signature_format: &'a str,
    pub db: &'a DbArg,
    pub changelogs: bool,
    pub jobs: usize,
    pub insecure: bool,
    pub format: DiffFormat,
    pub quiet: bool,
}

/// Exit code when `--check` finds updates.
const UPDATES_AVAILABLE: u8 = 4;
/// Exit code when images were updated.
const UPDATED: u8 = 5;

pub fn run(specs: &[PathBuf], a: &Args<'_>) -> anyhow::Result<ExitCode> {
    // Load the key first: a wrong password must fail before any work.
    let key = a.sign_key.map(super::trust::load_private_key).transpose()?;
    let sig_format: bulwark_attest::Format = a.signature_format.parse()?;
    if !a.check && a.output.is_none() && key.is_some() {
        anyhow::bail!(
            "--sign-key needs --output DEST: without a destination update only rewrites the locks"
        );
    }
    let opts = bulwark_update::Options {
        check: a.check,
        output: a.output.map(str::to_owned),
        sign: key.map(|k| (k, sig_format)),
        registry: super::trust::store_options(a.insecure),
        fetcher: super::fetcher()?,
        db: super::db::optional(a.db)?.map(Arc::new),
        changelogs: a.changelogs,
        jobs: a.jobs,
        now: None,
        progress: Arc::new(crate::term::Bars::new(a.quiet || specs.len() > 1)),
    };
    let summary = bulwark_update::run(specs, &opts);
    match a.format {
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        DiffFormat::Markdown => print!("{}", bulwark_update::markdown(&summary)),
        DiffFormat::Table => table(&summary),
    }
    for s in summary.specs.iter().filter(|s| s.status == Status::Failed) {
        eprintln!("error: {}", safe(s.error.as_deref().unwrap_or("failed")));
    }
    Ok(if summary.count(Status::Failed) > 0 {
        ExitCode::from(1)
    } else if summary.count(Status::Updated) > 0 {
        ExitCode::from(UPDATED)
    } else if summary.count(Status::UpdatesAvailable) > 0 {
        ExitCode::from(UPDATES_AVAILABLE)
    } else {
        ExitCode::SUCCESS
    })
}

fn table(s: &Summary) {
    for u in &s.specs {
        let status = match u.status {
            Status::UpToDate => "up to date",
            Status::UpdatesAvailable => "updates available",
            Status::Updated => "updated",
            Status::Failed => "FAILED",
        };
        println!("{} ({}): {status}", safe(&u.name), safe(&u.spec));
        if let Some(e) = &u.error {
            println!("  error: {}", safe(e));
        }
        if let Some(d) = &u.destination {
            println!(
                "  {}: {} -> {}",
                safe(d),
                u.previous_digest.as_deref().unwrap_or("(none)"),
                u.new_digest.as_deref().unwrap_or("(not rebuilt)")
            );
        }
        if u.spec_changed {
            println!("  the spec changed since its lock was made");
        }
        for c in &u.packages {
            println!(
                "  ~ {} {} {} -> {}{}",
                safe(&c.arch),
                safe(&c.package),
                safe(c.from.as_deref().unwrap_or("(new)")),
                safe(c.to.as_deref().unwrap_or("(removed)")),
                c.to_suite
                    .as_deref()
                    .map(|x| format!(" ({})", safe(x)))
                    .unwrap_or_default()
            );
        }
        for c in &u.cves_fixed {
            println!(
                "  fixed {} ({}){}{} [{}]",
                safe(&c.id),
                safe(&c.source),
                if c.kev { " KEV" } else { "" },
                match (&c.fix_available, c.lag_days) {
                    (Some(t), Some(d)) => format!(", in the archive since {t} ({d} days)"),
                    _ => String::new(),
                },
                c.witness.join(", ")
            );
        }
        if s.database {
            println!("  still open: {}", u.cves_open.len());
        }
        for n in &u.notes {
            println!("  note: {}", safe(n));
        }
    }
    println!(
        "{} specs: {} updated, {} with updates available, {} up to date, {} failed ({} suites fetched and verified once)",
        s.specs.len(),
        s.count(Status::Updated),
        s.count(Status::UpdatesAvailable),
        s.count(Status::UpToDate),
        s.count(Status::Failed),
        s.suites_loaded
    );
}
