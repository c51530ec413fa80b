//! `bulwark lock`.

use std::path::Path;
use std::process::ExitCode;

use bulwark_build::LockOptions;

use crate::cli::Format;

pub fn run(spec: &Path, update: bool, format: Format, quiet: bool) -> anyhow::Result<ExitCode> {
    let out = bulwark_build::lock(&LockOptions {
        spec_path: spec.to_path_buf(),
        update,
        now: None,
        fetcher: super::fetcher()?,
    })?;
    if !quiet {
        for n in &out.notes {
            eprintln!("note: {}", crate::term::safe(n));
        }
    }
    match format {
        Format::Json => {
            let v = serde_json::json!({
                "lock": out.path.display().to_string(),
                "written": out.written,
                "archs": out.lock.archs.iter().map(|(a, l)| (a.clone(), l.packages.iter().map(|p| format!("{}={}", p.name, p.version)).collect::<Vec<_>>())).collect::<std::collections::BTreeMap<_, _>>(),
                "notes": out.notes,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Text => {
            let verb = if out.written {
                "wrote"
            } else {
                "kept (still fits the spec)"
            };
            println!("{} {verb}", out.path.display());
            for (arch, l) in &out.lock.archs {
                println!("  {arch}: {} packages", l.packages.len());
                for p in &l.packages {
                    println!(
                        "    {}",
                        crate::term::safe(&format!("{} {} ({})", p.name, p.version, p.suite))
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
