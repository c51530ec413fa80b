//! `bulwark eval`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use bulwark_eval::{Options, Severity};
use bulwark_image::ImageRef;

use crate::cli::{EvalFormat, SeverityArg};

fn paint(s: &str, code: &str) -> String {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal();
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_owned()
    }
}

pub fn run(
    image: &str,
    format: EvalFormat,
    platform: Option<&str>,
    fail_on: Option<SeverityArg>,
    policy: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let policy = match policy {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading policy {}", p.display()))?;
            Some(bulwark_eval::Policy::from_yaml(
                &text,
                &p.display().to_string(),
            )?)
        }
        None => None,
    };
    let r: ImageRef = image.parse()?;
    let opened = bulwark_image::open(&r, platform)?;
    let fs = opened
        .walk(&bulwark_eval::wanted)
        .with_context(|| format!("reading {image}"))?;
    let mut report = bulwark_eval::evaluate(
        &opened,
        &fs,
        &Options {
            reference: image.to_owned(),
            now: None,
        },
    );
    if let Some(p) = &policy {
        let verdict = p.apply(&mut report);
        report.policy = Some(verdict);
    }
    match format {
        EvalFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        EvalFormat::Html => print!("{}", bulwark_eval::html(&report)),
        EvalFormat::Table => {
            let g = match report.grade.as_str() {
                "A" | "B" => paint(&report.grade, "32"),
                "C" | "D" => paint(&report.grade, "33"),
                _ => paint(&report.grade, "31"),
            };
            println!("{image}  grade {g}  score {}/100", report.score);
            let s = &report.summary;
            println!(
                "  {} layers, {:.1} MiB compressed, {} files, {} packages, os {}, user {:?}",
                s.layers,
                s.compressed_size as f64 / 1048576.0,
                s.files,
                s.packages,
                s.os.as_deref().unwrap_or("unknown"),
                s.user.as_deref().unwrap_or("")
            );
            for p in &report.pillars {
                println!(
                    "  {:<16} {:>3}  ({} findings)",
                    p.pillar.name(),
                    p.score,
                    p.findings
                );
            }
            for f in report
                .findings
                .iter()
                .filter(|f| f.severity > Severity::Info && f.excepted.is_none())
            {
                let sev = match f.severity {
                    Severity::Critical | Severity::High => {
                        paint(&format!("{:?}", f.severity).to_uppercase(), "31")
                    }
                    Severity::Medium => paint("MEDIUM", "33"),
                    _ => format!("{:?}", f.severity).to_uppercase(),
                };
                println!(
                    "{sev:>8} {} {}  [{}]",
                    f.id,
                    f.message,
                    f.controls.join(", ")
                );
                println!("         fix: {}", f.remediation);
            }
        }
    }
    if let Some(v) = &report.policy {
        if format == EvalFormat::Table {
            if v.passed {
                println!("policy: passed ({} findings excepted)", v.excepted);
            } else {
                println!("policy: FAILED");
                for x in &v.violations {
                    println!("  - {x}");
                }
            }
        }
        if !v.passed {
            return Ok(ExitCode::from(3));
        }
    }
    let gate = fail_on.map(|s| match s {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    });
    if let Some(g) = gate
        && report
            .findings
            .iter()
            .any(|f| f.severity >= g && f.excepted.is_none())
    {
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}
