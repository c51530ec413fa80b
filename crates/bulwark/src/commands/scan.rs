//! `bulwark scan`.

use std::process::ExitCode;

use anyhow::Context;
use bulwark_scan::{Exposure, Options, Priority, Report};
use bulwark_vulndb::Db;

use crate::cli::{ExposureArg, PriorityArg, ScanArgs, ScanFormat};
use crate::term::{paint, safe};

const DEFAULT_MAX_AGE_DAYS: u64 = 7;

pub fn run(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let dir = super::db::dir(&args.db);
    let db = Db::open(&dir)?;
    // The database's age: a warning past the default, an error past an
    // explicit --max-db-age.
    let oldest = db
        .feeds()
        .into_iter()
        .filter_map(super::db::age_days)
        .fold(0.0_f64, f64::max);
    let limit = args.max_db_age.unwrap_or(DEFAULT_MAX_AGE_DAYS) as f64;
    if oldest > limit {
        let msg = format!(
            "{}: the vulnerability database is {oldest:.1} days old (more than {limit} days); run 'bulwark db update'",
            dir.display()
        );
        if args.max_db_age.is_some() {
            anyhow::bail!(msg);
        }
        tracing::warn!("{msg}");
    }
    let subject = bulwark_scan::load(
        &args.target,
        &bulwark_scan::LoadOptions {
            platform: args.platform.clone(),
            registry: super::trust::store_options(args.insecure),
        },
    )
    .with_context(|| format!("reading {}", args.target))?;
    let mut report = bulwark_scan::scan(
        &subject,
        &db,
        &Options {
            exposure: args.exposure.map(|e| match e {
                ExposureArg::Internet => Exposure::Internet,
                ExposureArg::Internal => Exposure::Internal,
                ExposureArg::Isolated => Exposure::Isolated,
            }),
            release: args.release.clone(),
        },
    );
    let docs = args
        .vex
        .iter()
        .map(|p| bulwark_scan::vex::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let suppressed = bulwark_scan::vex::apply(&mut report, &docs);
    if !docs.is_empty() {
        tracing::info!("{suppressed} finding(s) suppressed by VEX");
    }
    for w in &report.warnings {
        tracing::warn!("{}: {w}", safe(&args.target));
    }
    match args.format {
        ScanFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ScanFormat::Table => print_table(&report),
        ScanFormat::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&bulwark_scan::sarif(&report))?
        ),
        ScanFormat::Cyclonedx => println!(
            "{}",
            serde_json::to_string_pretty(&bulwark_scan::cyclonedx(&report, &now()))?
        ),
        ScanFormat::Openvex => println!(
            "{}",
            serde_json::to_string_pretty(&bulwark_scan::openvex(&report, &now()))?
        ),
    }
    let gate = args.fail_on.map(|p| match p {
        PriorityArg::ActNow => Priority::ActNow,
        PriorityArg::Plan => Priority::Plan,
        PriorityArg::Monitor => Priority::Monitor,
    });
    if gate.is_some_and(|g| report.findings.iter().any(|f| f.priority >= g)) {
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// The time documents are stamped with: `SOURCE_DATE_EPOCH` when set (for
/// reproducible reports), else now.
fn now() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or_else(super::db::now_secs);
    bulwark_debian::time::format_rfc3339(secs)
}

fn print_table(r: &Report) {
    println!(
        "{}  (Debian {}, {} packages{})",
        safe(&r.target),
        r.release.as_deref().unwrap_or("unknown"),
        r.packages,
        r.entrypoint
            .as_deref()
            .map(|e| format!(", entrypoint {}", safe(e)))
            .unwrap_or_default()
    );
    for f in &r.findings {
        let label = match f.priority {
            Priority::ActNow => paint("ACT NOW", "31"),
            Priority::Plan => paint("PLAN", "33"),
            Priority::Monitor => "MONITOR".to_owned(),
            Priority::SuppressedByVex => "VEX".to_owned(),
        };
        let fix = f
            .fixed
            .as_deref()
            .map(|v| format!(" -> {}", safe(v)))
            .unwrap_or_default();
        println!(
            "{label:>8} {:<16} {} {}{fix}  score {:.1}",
            safe(&f.id),
            safe(&f.source),
            safe(&f.installed),
            f.score
        );
        println!("         {}", safe(&f.reasons.join("; ")));
    }
    let s = &r.summary;
    println!(
        "{} findings: {} act now, {} plan, {} monitor, {} suppressed by VEX; {} in KEV, {} with a fix",
        s.total, s.act_now, s.plan, s.monitor, s.suppressed, s.kev, s.fixable
    );
}
