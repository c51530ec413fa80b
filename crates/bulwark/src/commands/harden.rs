//! `bulwark harden`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use bulwark_layer::LayerCompression;

use crate::cli::{CompressionArg, Format, HardenArgs};
use crate::term::safe;

fn user(s: &str) -> anyhow::Result<(u32, u32)> {
    let (u, g) = s.split_once(':').unwrap_or((s, s));
    let parse = |v: &str| {
        v.parse::<u32>().with_context(|| {
            format!(
                "--user {s:?}: {v:?} is not a numeric id (give UID or UID:GID, e.g. 10001:10001)"
            )
        })
    };
    let (u, g) = (parse(u)?, parse(g)?);
    if u == 0 {
        anyhow::bail!(
            "--user {s:?}: a hardened image does not run as root (uid 0); give a non-zero UID"
        );
    }
    Ok((u, g))
}

pub fn run(a: &HardenArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    // The key first: a wrong password must fail before the work.
    let key = a
        .sign_key
        .as_deref()
        .map(super::trust::load_private_key)
        .transpose()?;
    let sig_format: bulwark_attest::Format = a.signature_format.parse()?;
    let runtime_evidence = match &a.runtime_evidence {
        Some(f) => bulwark_scan::exposure::runtime_paths(f)?,
        None => Default::default(),
    };
    let req = bulwark_harden::Request {
        source: a.source.parse()?,
        output: a.output.parse()?,
        options: bulwark_harden::Options {
            entrypoint: (!a.entrypoint.is_empty()).then(|| a.entrypoint.clone()),
            keep: a.keep.clone(),
            minify: a.minify,
            user: a.user.as_deref().map(user).transpose()?,
            allow: a.allow.clone(),
            runtime_evidence,
            allow_secrets: a.allow_secrets,
            delta: a.delta,
        },
        sign: key.map(|k| (k, sig_format)),
        sbom_dir: a.sbom_dir.clone(),
        registry: super::trust::store_options(a.insecure),
        compression: match a.compression {
            CompressionArg::Gzip => LayerCompression::Gzip,
            CompressionArg::Zstd => LayerCompression::Zstd,
        },
        source_date_epoch: a.source_date_epoch,
    };
    let report = bulwark_harden::run(&req)?;
    if !quiet {
        for p in &report.platforms {
            for n in &p.notes {
                eprintln!("note: {}: {}", p.platform, safe(n));
            }
            for s in &p.secrets {
                eprintln!(
                    "warning: {}: shipped with --allow-secrets: {}",
                    p.platform,
                    safe(s)
                );
            }
        }
    }
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print_text(&report),
    }
    Ok(ExitCode::SUCCESS)
}

fn mib(b: u64) -> f64 {
    b as f64 / 1048576.0
}

fn print_text(r: &bulwark_harden::Report) {
    println!("{} {}", safe(&r.destination), r.digest);
    println!("  from {} {}", safe(&r.source), r.source_digest);
    for p in &r.platforms {
        let after = p.grade_after.as_ref();
        println!(
            "  {}: grade {} ({}) -> {} ({}); {} -> {} packages; {:.1} -> {:.1} MiB uncompressed ({:.1}x smaller); runs as {}{}",
            p.platform,
            p.grade_before.grade,
            p.grade_before.score,
            after.map_or("?", |g| g.grade.as_str()),
            after.map_or(0, |g| g.score),
            p.packages_before,
            p.packages_after,
            mib(p.size_before),
            mib(p.size_after),
            p.size_before as f64 / p.size_after.max(1) as f64,
            p.user,
            p.user_created
                .as_deref()
                .map(|n| format!(" (account {n} added)"))
                .unwrap_or_default(),
        );
        if let Some(e) = &p.entrypoint {
            println!("    entrypoint: {}", safe(e));
        }
        if p.reused > 0 {
            println!(
                "    layer: {:.1} of {:.1} MiB kept the source's compressed bits",
                mib(p.reused),
                mib(p.size_after)
            );
        }
        if !p.removed_packages.is_empty() {
            println!("    packages removed ({}):", p.removed_packages.len());
            for x in &p.removed_packages {
                println!(
                    "      - {} {}: {}",
                    safe(&x.name),
                    safe(&x.version),
                    safe(&x.reason)
                );
            }
        }
        for x in &p.kept_high_risk {
            println!(
                "    kept: {} {}: {}",
                safe(&x.name),
                safe(&x.version),
                safe(&x.reason)
            );
        }
        // Paths by reason: each reason with its count and first path (those
        // of removed packages folded into one line); JSON lists every one.
        let mut by_reason: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for x in &p.removed_paths {
            let reason =
                if x.reason.starts_with("file of ") || x.reason.starts_with("dpkg record of ") {
                    "files and dpkg records of the packages above"
                } else {
                    x.reason.as_str()
                };
            let e = by_reason.entry(reason).or_insert((0, x.path.as_str()));
            e.0 += 1;
        }
        println!(
            "    paths removed: {} (--format json lists each, with its reason)",
            p.removed_paths.len()
        );
        for (reason, (n, first)) in by_reason {
            if n == 1 {
                println!("      - {}: {}", safe(first), safe(reason));
            } else {
                println!("      - {n} × {}, e.g. {}", safe(reason), safe(first));
            }
        }
        if !p.setuid_stripped.is_empty() {
            println!(
                "    setuid/setgid stripped: {}",
                safe(&p.setuid_stripped.join(", "))
            );
        }
        if !p.capabilities_removed.is_empty() {
            println!(
                "    file capabilities removed: {}",
                safe(&p.capabilities_removed.join("; "))
            );
        }
        if !p.world_writable_fixed.is_empty() {
            println!(
                "    world-writable bits removed: {}",
                safe(&p.world_writable_fixed.join(", "))
            );
        }
        if !p.shells_reset.is_empty() {
            println!(
                "    login shells set to /usr/sbin/nologin: {}",
                safe(&p.shells_reset.join(", "))
            );
        }
    }
    println!("  securityContext: {}", safe(&r.security_context));
    println!("  SBOMs and provenance: {}", safe(&r.sboms));
}
