//! `bulwark update`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use bulwark_update::{Status, Summary};

use crate::cli::{DbArg, DiffFormat};
use crate::term::safe;

#[derive(Debug)]
pub struct Args<'a> {
    pub index: Option<usize>,
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

/// The spec files: files as given, directories as their `*.yaml` and
/// `*.yml` files; sorted (by path) and without repeats; with `--index`, the
/// one at that place.
fn spec_files(given: &[PathBuf], index: Option<usize>) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in given {
        if p.is_dir() {
            let rd = std::fs::read_dir(p)
                .with_context(|| format!("{}: cannot list the specs", p.display()))?;
            for e in rd {
                let path = e
                    .with_context(|| format!("{}: cannot list", p.display()))?
                    .path();
                let yaml = path.extension().is_some_and(|x| x == "yaml" || x == "yml");
                if yaml && path.is_file() {
                    out.push(path);
                }
            }
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    // One spec named two ways (`a.yaml`, `./a.yaml`) is one spec; it keeps
    // the name it was first given.
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    if out.is_empty() {
        anyhow::bail!(
            "no spec files in {}",
            given
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match index {
        None => Ok(out),
        Some(i) => match out.get(i) {
            Some(p) => Ok(vec![p.clone()]),
            None => anyhow::bail!(
                "--index {i}: there are only {} spec(s) (0 to {}); make the Indexed Job's completions match",
                out.len(),
                out.len() - 1
            ),
        },
    }
}

pub fn run(given: &[PathBuf], a: &Args<'_>) -> anyhow::Result<ExitCode> {
    // The whole list decides whether the output needs {name}, also when
    // --index picks one spec of it (each Indexed Job pod sees the list).
    let all = spec_files(given, None)?;
    if let Some(o) = a.output
        && all.len() > 1
        && !o.contains("{name}")
    {
        anyhow::bail!(
            "--output {o}: {} specs would publish to the same place; put {{name}} in it (for example 127.0.0.1:5000/{{name}}:latest)",
            all.len()
        );
    }
    let specs = &spec_files(given, a.index)?;
    // Load the key first: a wrong password must fail before any work.
    let key = a.sign_key.map(super::trust::load_private_key).transpose()?;
    let sig_format: bulwark_attest::Format = a.signature_format.parse()?;
    if !a.check && a.output.is_none() {
        anyhow::bail!(
            "update needs --output DEST to publish to (the lock is written only with the image it describes), or --check to report only"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_expand_to_their_sorted_yaml_files_and_index_picks_one() {
        let d = tempfile::tempdir().unwrap();
        for f in ["b.yaml", "a.yml", "a.lock.json", "notes.txt"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let got = spec_files(&[d.path().to_path_buf()], None).unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["a.yml", "b.yaml"]);
        // A spec given twice, directly and through its directory, runs once.
        let twice = spec_files(&[d.path().to_path_buf(), d.path().join("./b.yaml")], None).unwrap();
        assert_eq!(twice.len(), 2, "{twice:?}");
        let one = spec_files(&[d.path().to_path_buf()], Some(1)).unwrap();
        assert!(one[0].ends_with("b.yaml"));
        let e = spec_files(&[d.path().to_path_buf()], Some(2)).unwrap_err();
        assert!(e.to_string().contains("only 2 spec(s)"), "{e}");
    }
}
