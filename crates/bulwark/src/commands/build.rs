//! `bulwark build`.

use std::path::Path;
use std::process::ExitCode;

use bulwark_build::pipeline::Request;
use bulwark_spec::Compression;

use crate::cli::{CompressionArg, Format};

#[derive(Debug)]
pub struct Options<'a> {
    pub frozen: bool,
    pub compression: Option<CompressionArg>,
    pub source_date_epoch: Option<u64>,
    pub sign_key: Option<&'a Path>,
    pub signature_format: &'a str,
    pub sbom_dir: Option<&'a Path>,
    pub insecure: bool,
    pub format: Format,
    pub quiet: bool,
}

pub fn run(spec: &Path, output: &str, o: &Options<'_>) -> anyhow::Result<ExitCode> {
    // Load the key first: a wrong password must fail before minutes of work.
    let key = o.sign_key.map(super::trust::load_private_key).transpose()?;
    let sig_format: bulwark_attest::Format = o.signature_format.parse()?;
    let mut req = Request::new(spec.to_path_buf(), output.parse()?);
    req.frozen = o.frozen;
    req.source_date_epoch = o.source_date_epoch;
    req.compression = o.compression.map(|c| match c {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::Zstd => Compression::Zstd,
    });
    req.sign = key.map(|k| (k, sig_format));
    req.sbom_dir = o.sbom_dir.map(Path::to_path_buf);
    req.registry = super::trust::store_options(o.insecure);
    req.fetcher = Some(super::fetcher()?);
    req.progress = std::sync::Arc::new(crate::term::Bars::new(o.quiet));
    let report = bulwark_build::pipeline::run(&req)?;
    let quiet = o.quiet;
    let format = o.format;
    if !quiet {
        for n in &report.notes {
            eprintln!("note: {}", crate::term::safe(n));
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
                        crate::term::safe(&p.assembly.hardening.setuid_stripped.join(", "))
                    );
                }
                if !p.assembly.hardening.world_writable_fixed.is_empty() {
                    println!(
                        "    world-writable bits removed: {}",
                        crate::term::safe(&p.assembly.hardening.world_writable_fixed.join(", "))
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
            println!("  SBOMs and provenance: {}", report.sboms);
        }
    }
    Ok(ExitCode::SUCCESS)
}
