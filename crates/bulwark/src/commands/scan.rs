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
    // The data's age (each feed's own date, else its import): a warning
    // past the default, an error past an explicit --max-db-age.
    let oldest = db
        .feeds()
        .into_iter()
        .filter_map(|m| super::db::age_days(m).map(|d| (d, m)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let limit = args.max_db_age.unwrap_or(DEFAULT_MAX_AGE_DAYS) as f64;
    if let Some((age, feed)) = oldest.filter(|(age, _)| *age > limit) {
        let of = feed.feed_date.as_deref().map_or_else(
            || format!("imported {}", feed.imported),
            |d| format!("of {d}"),
        );
        let msg = format!(
            "{}: the vulnerability data is {age:.1} days old (the {} feed, {of}), more than {limit} days; run 'bulwark db update' with current feeds",
            dir.display(),
            feed.kind.name()
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
            runtime_evidence: args.runtime_evidence.clone(),
        },
    )
    .with_context(|| format!("reading {}", args.target))?;
    // An explicit --exposure wins; else the manifests say.
    let (exposure, exposure_evidence) = match (args.exposure, args.k8s.is_empty()) {
        (Some(e), _) => (
            Some(match e {
                ExposureArg::Internet => Exposure::Internet,
                ExposureArg::Internal => Exposure::Internal,
                ExposureArg::Isolated => Exposure::Isolated,
            }),
            None,
        ),
        (None, false) => {
            let (e, why) = bulwark_scan::exposure::from_k8s(&args.k8s)?;
            (Some(e), Some(why))
        }
        (None, true) => (None, None),
    };
    let mut report = bulwark_scan::scan(
        &subject,
        &db,
        &Options {
            exposure,
            exposure_evidence,
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
    if args.archive.archive || args.changelogs {
        let release = report
            .release
            .clone()
            .context("--archive needs the Debian release; pass --release CODENAME")?;
        let state = archive_state(&subject, &release, &args.archive, args.changelogs)?;
        bulwark_scan::archive::apply(&mut report, state);
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
            serde_json::to_string_pretty(&bulwark_scan::cyclonedx(
                &report,
                &super::trust::created()
            ))?
        ),
        ScanFormat::Openvex => println!(
            "{}",
            serde_json::to_string_pretty(&bulwark_scan::openvex(
                &report,
                &super::trust::created()
            ))?
        ),
    }
    if args.attest {
        attest(args, &report)?;
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

/// Attaches the report (cosign's vuln predicate) and the OpenVEX as signed
/// attestations to the scanned image, where the image lives.
fn attest(args: &ScanArgs, report: &Report) -> anyhow::Result<()> {
    let key_path = args
        .key
        .as_deref()
        .context("--attest signs the attestations: give the private key with --key")?;
    if report.kind != bulwark_scan::Kind::Image {
        anyhow::bail!(
            "--attest attaches to an image; {} is a {:?}",
            args.target,
            report.kind
        );
    }
    let key = super::trust::load_private_key(key_path)?;
    let format: bulwark_attest::Format = args.signature_format.parse()?;
    let t = super::trust::open_target(&args.target, args.insecure)?;
    if !t.store.holds_referrers() {
        anyhow::bail!(
            "{}: a docker archive cannot carry attestations; copy the image to oci:, oci-archive: or a registry first",
            args.target
        );
    }
    let subject = t.resolve()?;
    let created = super::trust::created();
    let vuln = serde_json::json!({
        "invocation": {
            "parameters": std::env::args().skip(1).collect::<Vec<_>>(),
            "uri": "",
            "event_id": "",
            "builder.id": "",
        },
        "scanner": {
            "uri": "pkg:generic/bulwark",
            "version": env!("CARGO_PKG_VERSION"),
            "db": {
                "uri": report.database.iter().flat_map(|m| m.sources.iter().map(|s| s.source.clone())).collect::<Vec<_>>().join(" "),
                "version": report.database.iter().map(|m| m.imported.as_str()).max().unwrap_or(""),
            },
            "result": report,
        },
        "metadata": {"scanStartedOn": created, "scanFinishedOn": created},
    });
    let vex = bulwark_scan::openvex(report, &created);
    let mut written = Vec::new();
    for (name, predicate) in [("vuln", vuln), ("openvex", vex)] {
        let ptype = bulwark_attest::predicate_type(name).unwrap_or_default();
        written.extend(bulwark_attest::attest(
            &t.store, &subject, &key, ptype, predicate, format, &created,
        )?);
    }
    t.store.commit()?;
    tracing::info!(
        "{}@{}: attached the scan and its OpenVEX ({} manifests)",
        args.target,
        subject.digest,
        written.len()
    );
    Ok(())
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
    if let Some(a) = &r.archive {
        println!(
            "archive ({}): {} package(s) with a newer version",
            a.suites.join(", "),
            a.updates.len()
        );
        for u in &a.updates {
            println!(
                "  {} {} -> {} ({}){}",
                safe(&u.package),
                safe(&u.installed),
                safe(&u.candidate),
                safe(&u.suite),
                if u.changelog_cves.is_empty() {
                    String::new()
                } else {
                    format!("  changelog: {}", u.changelog_cves.join(" "))
                }
            );
        }
    }
    let s = &r.summary;
    println!(
        "{} findings: {} act now, {} plan, {} monitor, {} suppressed by VEX; {} in KEV, {} with a fix",
        s.total, s.act_now, s.plan, s.monitor, s.suppressed, s.kev, s.fixable
    );
}

/// The release's suites as the archive carries them now, compared with
/// `subject`'s packages (with the candidates' changelogs when asked).
pub fn archive_state(
    subject: &bulwark_scan::Subject,
    release: &str,
    args: &crate::cli::ArchiveArgs,
    changelogs: bool,
) -> anyhow::Result<bulwark_scan::archive::ArchiveState> {
    let state = bulwark_scan::archive::check(
        subject,
        release,
        &bulwark_scan::archive::ArchiveOptions {
            mirror: args.mirror.clone(),
            security_mirror: args.security_mirror.clone(),
            keyring: args.keyring.clone(),
            changelogs,
            arch: subject
                .arch
                .clone()
                .unwrap_or_else(|| bulwark_debian::host_arch().to_owned()),
            fetcher: super::fetcher()?,
        },
    )?;
    for m in &state.missing {
        tracing::warn!("the archive has no suite {m}; read the others");
    }
    Ok(state)
}
