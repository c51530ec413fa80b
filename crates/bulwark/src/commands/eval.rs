//! `bulwark eval`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bulwark_eval::{Options, Policy, Report, Severity, Trust};
use bulwark_image::{ImageRef, Opened};
use bulwark_sign::PublicKey;

use crate::cli::{EvalArgs, EvalFormat, SeverityArg};
use crate::term::{paint, safe};

fn load_policy(p: &Path) -> anyhow::Result<Policy> {
    let text = bulwark_limits::read_file_string(p, bulwark_limits::SPEC_FILE, "policy")?;
    let mut policy = Policy::from_yaml(&text, &p.display().to_string())?;
    // Keys named by the policy are relative to it.
    let base = p.parent().unwrap_or(Path::new("."));
    for k in &mut policy.keys {
        if k.is_relative() {
            *k = base.join(&*k);
        }
    }
    Ok(policy)
}

fn gather_trust(args: &EvalArgs, img: &Opened, keys: &[PublicKey]) -> anyhow::Result<Trust> {
    Trust::of_image(img, keys).with_context(|| format!("looking for signatures of {}", args.image))
}

fn evaluate(
    args: &EvalArgs,
    img: &Opened,
    keys: &[PublicKey],
    policy: Option<&Policy>,
    db: Option<&bulwark_vulndb::Db>,
) -> anyhow::Result<Report> {
    let fs = img
        .walk(&bulwark_eval::capture(img))
        .with_context(|| format!("reading {}", args.image))?;
    let trust = gather_trust(args, img, keys)?;
    // The inventory is read once, for the checks and for the scan.
    let inv = bulwark_sbom::Inventory::from_fs(&fs);
    let wants_subject = db.is_some() || args.archive.archive;
    let subject = if wants_subject {
        Some(bulwark_scan::of_image_with(
            &args.image,
            img,
            &fs,
            &inv,
            None,
        )?)
    } else {
        None
    };
    let cadence = match &subject {
        Some(subject) if args.archive.archive => {
            let release = subject.release.clone().with_context(|| {
                format!(
                    "{}: --archive needs a Debian image (no os-release or debian_version names the release)",
                    args.image
                )
            })?;
            let state = super::scan::archive_state(subject, &release, &args.archive, true)?;
            Some(bulwark_scan::archive::cadence(
                &state,
                super::db::now_secs(),
            ))
        }
        _ => None,
    };
    let vulnerabilities = match (db, &subject) {
        (Some(db), Some(subject)) => {
            let scan = bulwark_scan::scan(subject, db, &bulwark_scan::Options::default());
            for w in scan
                .warnings
                .iter()
                .filter(|w| !w.starts_with("no KEV") && !w.starts_with("no EPSS"))
            {
                tracing::warn!("{}: {w}", crate::term::safe(&args.image));
            }
            subject.inventoried.then(|| scan.for_eval())
        }
        _ => None,
    };
    let mut report = bulwark_eval::evaluate_with(
        img,
        &fs,
        &inv,
        &Options {
            reference: args.image.clone(),
            now: None,
            trust: Some(trust),
            vulnerabilities,
            cadence,
        },
    );
    if let Some(p) = policy {
        let verdict = p.apply(&mut report);
        report.policy = Some(verdict);
    }
    Ok(report)
}

/// Attaches each report, signed, to its platform manifest and to the
/// reference's top (the index), as admission policies read it.
fn attest(args: &EvalArgs, images: &[Opened], reports: &[Report]) -> anyhow::Result<()> {
    let key_path = args
        .sign_key
        .as_deref()
        .context("--attest signs the reports: give the private key with --sign-key")?;
    let key = super::trust::load_private_key(key_path)?;
    let format: bulwark_attest::Format = args.signature_format.parse()?;
    let t = super::trust::open_target(&args.image, args.insecure)?;
    if !t.store.holds_referrers() {
        anyhow::bail!(
            "{}: this transport cannot carry attestations; copy the image to oci:, oci-archive: or a registry first",
            args.image
        );
    }
    let created = super::trust::created();
    let mut written = 0;
    for (img, report) in images.iter().zip(reports) {
        let predicate = serde_json::to_value(report)?;
        for subject in img.subjects() {
            written += bulwark_attest::attest(
                &t.store,
                &subject,
                &key,
                bulwark_attest::EVAL_PREDICATE,
                predicate.clone(),
                format,
                &created,
            )?
            .len();
        }
    }
    t.store.commit()?;
    tracing::info!(
        "{}: attached {} eval report(s) ({written} manifests)",
        args.image,
        reports.len()
    );
    Ok(())
}

fn print_table(report: &Report) {
    let g = match report.grade.as_str() {
        "A" | "B" => paint(&report.grade, "32"),
        "C" | "D" => paint(&report.grade, "33"),
        _ => paint(&report.grade, "31"),
    };
    let plat = report
        .platform
        .as_deref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    println!(
        "{}{plat}  grade {g}  score {}/100",
        report.image, report.score
    );
    let s = &report.summary;
    println!(
        "  {} layers, {:.1} MiB compressed, {} files, {} packages, os {}, user {:?}",
        s.layers,
        s.compressed_size as f64 / 1048576.0,
        s.files,
        s.packages,
        safe(s.os.as_deref().unwrap_or("unknown")),
        safe(s.user.as_deref().unwrap_or(""))
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
            safe(&f.message),
            f.controls.join(", ")
        );
        println!("         fix: {}", f.remediation);
    }
    if let Some(v) = &report.policy {
        if v.passed {
            println!("policy: passed ({} findings excepted)", v.excepted);
        } else {
            println!("policy: FAILED");
            for x in &v.violations {
                println!("  - {}", safe(x));
            }
        }
    }
}

/// True when the report fails the gate (`--policy`, `--fail-on`).
fn gated(report: &Report, fail_on: Option<SeverityArg>) -> bool {
    if report.policy.as_ref().is_some_and(|v| !v.passed) {
        return true;
    }
    let gate = fail_on.map(|s| match s {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    });
    gate.is_some_and(|g| {
        report
            .findings
            .iter()
            .any(|f| f.severity >= g && f.excepted.is_none())
    })
}

pub fn run(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let policy = args.policy.as_deref().map(load_policy).transpose()?;
    let mut key_paths = args.key.clone();
    if let Some(p) = &policy {
        key_paths.extend(p.keys.iter().cloned());
    }
    let keys = super::trust::load_public_keys(&key_paths)?;
    let r: ImageRef = args.image.parse()?;
    let opts = super::trust::store_options(args.insecure);
    let images = if args.all_platforms {
        bulwark_image::open_all(&r, &opts)?
    } else {
        vec![bulwark_image::open_with(
            &r,
            args.platform.as_deref(),
            &opts,
        )?]
    };
    // The vulnerability database: the one --db (or BULWARK_DB) names must
    // open; the default one is used when it exists.
    let db = super::db::optional(&args.db)?;
    let mut reports = Vec::new();
    for img in &images {
        reports.push(evaluate(args, img, &keys, policy.as_ref(), db.as_ref())?);
    }
    if args.attest {
        attest(args, &images, &reports)?;
    }
    match args.format {
        EvalFormat::Json if reports.len() == 1 => {
            println!("{}", serde_json::to_string_pretty(&reports[0])?);
        }
        EvalFormat::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
        EvalFormat::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&bulwark_eval::sarif(&reports))?
        ),
        EvalFormat::Html => print!("{}", bulwark_eval::html(&reports)),
        EvalFormat::Table => {
            for (i, rep) in reports.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                print_table(rep);
            }
        }
    }
    if reports.iter().any(|rep| gated(rep, args.fail_on)) {
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}
