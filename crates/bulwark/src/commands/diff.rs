//! `bulwark diff`.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{DbArg, DiffFormat};
use crate::term::safe;

pub fn run(
    from: &str,
    to: &str,
    format: DiffFormat,
    platform: Option<&str>,
    db: &DbArg,
    insecure: bool,
) -> anyhow::Result<ExitCode> {
    let opts = super::trust::store_options(insecure);
    let a = bulwark_diff::Side::read(from, platform, &opts)
        .with_context(|| format!("reading {from}"))?;
    let b =
        bulwark_diff::Side::read(to, platform, &opts).with_context(|| format!("reading {to}"))?;
    let db = super::db::optional(db)?;
    let scans = match &db {
        Some(db) => {
            let o = bulwark_scan::Options::default();
            Some((
                bulwark_scan::scan(&a.subject()?, db, &o),
                bulwark_scan::scan(&b.subject()?, db, &o),
            ))
        }
        None => None,
    };
    let d = bulwark_diff::diff(&a, &b, scans.as_ref().map(|(x, y)| (x, y)));
    match format {
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&d)?),
        DiffFormat::Markdown => print!("{}", bulwark_diff::markdown(&d)),
        DiffFormat::Table => {
            let p = &d.packages;
            println!("{} -> {}", safe(from), safe(to));
            println!(
                "packages: {} changed, {} added, {} removed",
                p.changed.len(),
                p.added.len(),
                p.removed.len()
            );
            for c in &p.changed {
                println!("  ~ {} {} -> {}", safe(&c.name), safe(&c.from), safe(&c.to));
            }
            for x in &p.added {
                println!("  + {} {}", safe(&x.name), safe(&x.version));
            }
            for x in &p.removed {
                println!("  - {} {}", safe(&x.name), safe(&x.version));
            }
            let f = &d.files;
            println!(
                "files: {} changed, {} added, {} removed",
                f.changed, f.added, f.removed
            );
            for n in &f.notable {
                println!("  ! {}: {}", safe(&n.path), safe(&n.what));
            }
            for c in &d.config {
                println!(
                    "config {}: {} -> {}",
                    c.field,
                    safe(&c.from.to_string()),
                    safe(&c.to.to_string())
                );
            }
            if let Some(v) = &d.vulnerabilities {
                println!(
                    "vulnerabilities: {} fixed, {} introduced, {} remaining",
                    v.fixed.len(),
                    v.introduced.len(),
                    v.remaining
                );
                for x in &v.fixed {
                    println!("  fixed {}", safe(x));
                }
                for x in &v.introduced {
                    println!("  introduced {}", safe(x));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
