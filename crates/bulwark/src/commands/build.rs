//! `bulwark build`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use bulwark_build::{BuildOptions, BuildReport};
use bulwark_image::ImageRef;
use bulwark_oci::Destination;
use bulwark_sbom::{DebFile, DocumentInfo, Inventory};
use bulwark_spec::{Compression, Lock, Spec};
use bulwark_store::{Object, Target};
use serde_json::Value;

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
    let sig_format: bulwark_attest::Format =
        o.signature_format.parse().map_err(anyhow::Error::msg)?;
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
    let mut opts = BuildOptions::new(spec.to_path_buf(), dest);
    opts.frozen = o.frozen;
    opts.source_date_epoch = o.source_date_epoch;
    opts.compression = o.compression.map(|c| match c {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::Zstd => Compression::Zstd,
    });
    opts.fetcher = Some(super::fetcher()?);
    let mut report = bulwark_build::build(&opts)?;
    if key.is_some() || o.sbom_dir.is_some() {
        let trust = trust_documents(spec, &local, &report)?;
        if let Some(dir) = o.sbom_dir {
            write_documents(dir, &trust)?;
        }
        if let Some(key) = &key {
            attach(&local, &trust, key, sig_format, &report.created)?;
        }
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

/// SBOMs per platform and the provenance of one build.
struct TrustDocuments {
    name: String,
    provenance: Value,
    /// (arch, manifest digest, SPDX, CycloneDX)
    sboms: Vec<(String, String, Value, Value)>,
}

fn trust_documents(
    spec_path: &Path,
    local: &str,
    report: &BuildReport,
) -> anyhow::Result<TrustDocuments> {
    let spec = Spec::load(spec_path)?;
    let lock = Lock::load(Path::new(&report.lock))?;
    let sde = i64::try_from(report.source_date_epoch).unwrap_or(0);
    let provenance = bulwark_build::provenance::provenance(spec_path, &spec, &lock, sde);
    let name = spec.name.clone().unwrap_or_else(|| {
        spec_path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "image".into())
    });
    let r: ImageRef = local.parse()?;
    let mut sboms = Vec::new();
    for p in &report.platforms {
        let (oci_arch, variant) = bulwark_debian::oci_platform(&p.arch).unwrap_or(("amd64", None));
        let platform = match variant {
            Some(v) => format!("linux/{oci_arch}/{v}"),
            None => format!("linux/{oci_arch}"),
        };
        let opened = bulwark_image::open(&r, Some(&platform))?;
        let fs = opened.walk(&bulwark_sbom::wanted)?;
        let mut inv = Inventory::from_fs(&fs);
        if let Some(a) = lock.archs.get(&p.arch) {
            for pkg in &mut inv.packages {
                pkg.deb = a
                    .packages
                    .iter()
                    .find(|l| l.name == pkg.name && l.version == pkg.version && l.arch == pkg.arch)
                    .map(|l| DebFile {
                        filename: l.filename.clone(),
                        sha256: l.sha256.clone(),
                    });
            }
        }
        let info = DocumentInfo {
            name: format!("{name} ({platform})"),
            digest: Some(p.manifest_digest.clone()),
            created: report.created.clone(),
            lifecycle: "build",
            cdx_version: "1.7",
            supplier: None,
        };
        sboms.push((
            p.arch.clone(),
            p.manifest_digest.clone(),
            bulwark_sbom::spdx(&inv, &info),
            bulwark_sbom::cyclonedx(&inv, &info),
        ));
    }
    Ok(TrustDocuments {
        name,
        provenance,
        sboms,
    })
}

fn write_documents(dir: &Path, t: &TrustDocuments) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |file: String, v: &Value| -> anyhow::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(v)?;
        bytes.push(b'\n');
        bulwark_oci::write_file_atomic(&dir.join(file), &bytes)?;
        Ok(())
    };
    write(format!("{}.provenance.json", t.name), &t.provenance)?;
    for (arch, _, spdx, cdx) in &t.sboms {
        write(format!("{}-{arch}.spdx.json", t.name), spdx)?;
        write(format!("{}-{arch}.cdx.json", t.name), cdx)?;
    }
    Ok(())
}

/// Signs the image (and each platform of an index) and attaches the SBOMs
/// and the provenance as signed attestations.
fn attach(
    local: &str,
    t: &TrustDocuments,
    key: &bulwark_sign::PrivateKey,
    format: bulwark_attest::Format,
    created: &str,
) -> anyhow::Result<()> {
    let target = Target::open(local, &bulwark_store::Options::default())?;
    let top = target.resolve()?;
    let store = &target.store;
    let spdx = bulwark_attest::predicate_type("spdx").unwrap_or_default();
    let cdx = bulwark_attest::predicate_type("cyclonedx").unwrap_or_default();
    let slsa = bulwark_build::provenance::SLSA_PROVENANCE_V1;
    bulwark_attest::sign(store, &top, key, format, created)?;
    bulwark_attest::attest(
        store,
        &top,
        key,
        slsa,
        t.provenance.clone(),
        format,
        created,
    )?;
    for (_, digest, s, c) in &t.sboms {
        if *digest != top.digest {
            let m: Object = store.resolve(Some(digest))?;
            bulwark_attest::sign(store, &m, key, format, created)?;
            bulwark_attest::attest(store, &m, key, slsa, t.provenance.clone(), format, created)?;
            bulwark_attest::attest(store, &m, key, spdx, s.clone(), format, created)?;
            bulwark_attest::attest(store, &m, key, cdx, c.clone(), format, created)?;
        }
        // The top-level image (manifest or index) carries every platform's SBOMs.
        bulwark_attest::attest(store, &top, key, spdx, s.clone(), format, created)?;
        bulwark_attest::attest(store, &top, key, cdx, c.clone(), format, created)?;
    }
    store.commit()?;
    Ok(())
}
