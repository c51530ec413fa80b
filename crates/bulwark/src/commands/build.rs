//! `bulwark build`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use bulwark_build::BuildOptions;
use bulwark_oci::Destination;
use bulwark_spec::Compression;

use crate::cli::{CompressionArg, Format};

pub fn run(
    spec: &Path,
    output: &str,
    frozen: bool,
    compression: Option<CompressionArg>,
    source_date_epoch: Option<u64>,
    format: Format,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let dest: Destination = output.parse().context("--output")?;
    let mut opts = BuildOptions::new(spec.to_path_buf(), dest);
    opts.frozen = frozen;
    opts.source_date_epoch = source_date_epoch;
    opts.compression = compression.map(|c| match c {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::Zstd => Compression::Zstd,
    });
    opts.fetcher = Some(super::fetcher()?);
    let report = bulwark_build::build(&opts)?;
    if !quiet {
        for n in &report.notes {
            eprintln!("note: {n}");
        }
    }
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => {
            println!("{} {}", report.destination, report.digest);
            for p in &report.platforms {
                println!(
                    "  {}: {} packages, {} files, {:.2} MiB compressed ({:.2} MiB uncompressed), manifest {}",
                    p.arch,
                    p.packages.len(),
                    p.assembly.files,
                    p.compressed_size as f64 / 1048576.0,
                    p.uncompressed_size as f64 / 1048576.0,
                    p.manifest_digest
                );
                if !p.assembly.hardening.setuid_stripped.is_empty() {
                    println!(
                        "    setuid/setgid stripped: {}",
                        p.assembly.hardening.setuid_stripped.join(", ")
                    );
                }
                if !p.assembly.hardening.world_writable_fixed.is_empty() {
                    println!(
                        "    world-writable bits removed: {}",
                        p.assembly.hardening.world_writable_fixed.join(", ")
                    );
                }
            }
            println!(
                "  lock: {}{}",
                report.lock,
                if report.lock_written {
                    " (written)"
                } else {
                    ""
                }
            );
            println!("  securityContext: {}", report.security_context);
        }
    }
    Ok(ExitCode::SUCCESS)
}
