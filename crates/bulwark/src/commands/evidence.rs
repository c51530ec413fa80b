//! `bulwark evidence`.

use std::process::ExitCode;

use anyhow::Context;
use bulwark_evidence::Status;

use crate::cli::{EvidenceArgs, EvidenceFormat};
use crate::term::safe;

/// Signs the summary and attaches it to the image's top-level digest.
fn attest(
    a: &EvidenceArgs,
    key: Option<&bulwark_sign::PrivateKey>,
    ev: &bulwark_evidence::Evidence,
) -> anyhow::Result<()> {
    let key = key.context("--attest signs the summary: give the private key with --sign-key")?;
    let format: bulwark_attest::Format = a.signature_format.parse()?;
    let t = super::trust::open_target(&a.image, a.insecure)?;
    if !t.store.holds_referrers() {
        anyhow::bail!(
            "{}: this transport cannot carry attestations; copy the image to oci:, oci-archive: or a registry first",
            a.image
        );
    }
    let subject = t.resolve()?;
    if subject.digest != ev.digest {
        anyhow::bail!(
            "{}: now names {}, but the evidence is for {}: the reference moved while it was gathered; run again",
            a.image,
            subject.digest,
            ev.digest
        );
    }
    bulwark_attest::attest(
        &t.store,
        &subject,
        key,
        bulwark_attest::EVIDENCE_PREDICATE,
        bulwark_evidence::attestation(ev),
        format,
        &super::trust::created(),
    )?;
    t.store.commit()?;
    eprintln!("attached the signed evidence summary to {}", subject.digest);
    Ok(())
}

pub fn run(a: &EvidenceArgs) -> anyhow::Result<ExitCode> {
    // The key first: a wrong password must fail before the work.
    let sign_key = a
        .sign_key
        .as_deref()
        .map(super::trust::load_private_key)
        .transpose()?;
    let keys = super::trust::load_public_keys(&a.key)?;
    let log = match &a.admission_log {
        Some(p) => Some((
            p.display().to_string(),
            bulwark_limits::read_file_string(p, 4 << 30, "audit log")?,
        )),
        None => None,
    };
    let policy = match &a.policy {
        Some(p) => Some((
            p.display().to_string(),
            bulwark_limits::read_file_string(p, 1 << 20, "evidence policy")?,
        )),
        None => None,
    };
    let image = a.image.parse()?;
    let registry = super::trust::store_options(a.insecure);
    let ev = bulwark_evidence::gather(&bulwark_evidence::Request {
        image: &image,
        keys: &keys,
        admission_log: log.as_ref().map(|(o, t)| (o.as_str(), t.as_str())),
        registry: &registry,
        now: super::db::now_secs(),
        policy: policy.as_ref().map(|(o, t)| (o.as_str(), t.as_str())),
    })?;
    if a.attest {
        attest(a, sign_key.as_ref(), &ev)?;
    }
    match a.format {
        EvidenceFormat::Bundle => {
            let out = a
                .out
                .as_deref()
                .context("--format bundle needs --out DIR (a new directory) or --out FILE.tar")?;
            bulwark_evidence::write_bundle(&ev, out)?;
            eprintln!("wrote the evidence bundle {}", out.display());
        }
        EvidenceFormat::Json | EvidenceFormat::Oscal | EvidenceFormat::Html => {
            let json = match a.format {
                EvidenceFormat::Json => bulwark_evidence::to_json(&ev),
                EvidenceFormat::Html => bulwark_evidence::html(&ev).into_bytes(),
                _ => {
                    let mut v = serde_json::to_vec_pretty(
                        &bulwark_evidence::oscal::assessment_results(&ev),
                    )?;
                    v.push(b'\n');
                    v
                }
            };
            match &a.out {
                Some(p) => bulwark_oci::write_file_atomic(p, &json)?,
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&json)?;
                }
            }
        }
        EvidenceFormat::Text => {
            println!("{} {}", safe(&ev.image), ev.digest);
            for p in &ev.platforms {
                println!(
                    "  {}: grade {} ({}), signed: {}",
                    p.platform,
                    p.grade,
                    p.score,
                    if p.signed() { "yes" } else { "no" }
                );
                if let Some(v) = &p.vulnerabilities {
                    let t = &v.time_to_fix;
                    println!(
                        "    scanned {} ({} days ago, database {} days old then): {} open, {} in KEV, {} fixable{}",
                        v.scanned,
                        v.age_days,
                        v.db_age_days
                            .map_or_else(|| "?".to_owned(), |d| d.to_string()),
                        v.open,
                        v.kev.len(),
                        v.fixable.len(),
                        t.oldest_days
                            .map(|d| format!(", the oldest missing fix {d} days in the archive"))
                            .unwrap_or_default()
                    );
                }
            }
            if let Some(p) = &ev.policy {
                println!(
                    "  policy {} (sha256 {}): {} tailored{}",
                    safe(&p.origin),
                    p.sha256,
                    p.tailored.len(),
                    if p.expired.is_empty() {
                        String::new()
                    } else {
                        format!(", expired: {}", p.expired.join(", "))
                    }
                );
            }
            let mut framework = "";
            for c in &ev.controls {
                if c.framework != framework {
                    framework = &c.framework;
                    println!("{}", safe(framework));
                }
                let mark = match c.status {
                    Status::Satisfied => "ok  ",
                    Status::NotSatisfied => "FAIL",
                    Status::NotApplicable => "n/a ",
                    Status::Manual => "manu",
                };
                println!("  {mark} {:<26} {}", c.id, safe(&c.title));
                if c.status != Status::Satisfied {
                    println!("       {}", safe(&c.reason));
                }
            }
            let counts: Vec<String> = ev.summary.iter().map(|(k, v)| format!("{v} {k}")).collect();
            println!("{}", counts.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
