//! `bulwark build`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use bulwark_build::BuildOptions;
use bulwark_oci::Destination;
use bulwark_spec::Compression;
use bulwark_store::Target;

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
    let to_registry = bulwark_registry::looks_like_registry(output);
    let staging = if to_registry {
        Some(
            tempfile::Builder::new()
                .prefix(".bulwark-push-")
                .tempdir()
                .context("cannot create a staging directory")?,
        )
    } else {
        None
    };
    let local = match &staging {
        Some(d) => {
            let r: bulwark_registry::RegistryRef = output.parse()?;
            format!(
                "oci:{}:{}",
                d.path().join("layout").display(),
                r.tag().unwrap_or("latest")
            )
        }
        None => output.to_string(),
    };
    let dest: Destination = local.parse().context("--output")?;
    if key.is_some() && matches!(dest, Destination::DockerArchive { .. }) {
        bail!(
            "--sign-key: a docker-archive cannot carry signatures or attestations; write oci:, oci-archive: or a registry instead"
        );
    }
    let beside = std::path::PathBuf::from(format!("{}.sbom", dest.path().display()));
    // Where the SBOMs and provenance will go must be writable before the
    // image is written: a build either leaves the image and its documents,
    // or nothing.
    let docs_dir = match (&key, o.sbom_dir) {
        (_, Some(d)) => Some(d.to_path_buf()),
        (None, None) if !to_registry => Some(beside.clone()),
        _ => None,
    };
    if let Some(d) = &docs_dir {
        ensure_writable_dir(d)?;
    }
    let mut opts = BuildOptions::new(spec.to_path_buf(), dest);
    opts.frozen = o.frozen;
    opts.source_date_epoch = o.source_date_epoch;
    opts.compression = o.compression.map(|c| match c {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::Zstd => Compression::Zstd,
    });
    opts.fetcher = Some(super::fetcher()?);
    opts.progress = std::sync::Arc::new(crate::term::Bars::new(o.quiet));
    let mut report = bulwark_build::build(&opts)?;
    // Every build proves what it is: SBOMs and provenance are signed
    // attestations with a key; without one they are unsigned artifacts on a
    // registry (invisible to pulls) and files beside a local output (so
    // that a layout or archive keeps exactly one image for skopeo, podman
    // and umoci to pick).
    let docs = bulwark_build::trust::documents(spec, &local, &report)?;
    if let Some(dir) = o.sbom_dir {
        docs.write_to(dir)?;
        report.sboms = format!("written to {}", dir.display());
    }
    match &key {
        Some(key) => {
            docs.attach(&local, key, sig_format, &report.created)?;
            report.sboms = "attached as signed attestations".into();
        }
        None if to_registry => {
            docs.attach_unsigned(&local, &report.created)?;
            report.sboms = "attached as unsigned OCI artifacts".into();
        }
        None if o.sbom_dir.is_none() => {
            docs.write_to(&beside).with_context(|| {
                format!(
                    "the image is written, but its SBOMs and provenance are not: make {} a writable directory or pass --sbom-dir DIR",
                    beside.display()
                )
            })?;
            report.sboms = format!("written to {}", beside.display());
        }
        None => {}
    }
    if to_registry {
        let src = Target::open(&local, &super::trust::store_options(o.insecure))?;
        let dst = Target::open(output, &super::trust::store_options(o.insecure))?;
        bulwark_store::copy(&src, &dst)?;
        report.destination = output.to_string();
        report.security_context = "(not written for registry outputs)".into();
    }
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

/// Checks that `dir` exists (or can be made) and takes files, leaving it as
/// it was when it had to be created.
fn ensure_writable_dir(dir: &Path) -> anyhow::Result<()> {
    let created = !dir.exists();
    let probe = std::fs::create_dir_all(dir).and_then(|()| {
        tempfile::Builder::new()
            .prefix(".bulwark-probe-")
            .tempfile_in(dir)
            .map(drop)
    });
    if created {
        let _ = std::fs::remove_dir(dir);
    }
    probe.with_context(|| {
        format!(
            "cannot write the SBOMs and provenance to {}; nothing was built: make it a writable directory or pass --sbom-dir DIR",
            dir.display()
        )
    })
}
