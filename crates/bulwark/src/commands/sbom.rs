//! `bulwark sbom`.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use bulwark_image::ImageRef;
use bulwark_sbom::{DocumentInfo, Inventory};
use sha2::Digest;

use crate::cli::SbomFormat;

pub fn run(
    image: &str,
    format: SbomFormat,
    platform: Option<&str>,
    cdx_version: &str,
    insecure: bool,
    about: &crate::cli::SbomAbout,
) -> anyhow::Result<ExitCode> {
    let r: ImageRef = image.parse()?;
    let opened = bulwark_image::open_with(&r, platform, &super::trust::store_options(insecure))?;
    let fs = opened
        .walk(&bulwark_sbom::wanted)
        .with_context(|| format!("reading {image}"))?;
    let inv = Inventory::from_fs(&fs);
    if inv.packages.is_empty() {
        tracing::warn!("{image}: no dpkg database found (var/lib/dpkg/status or status.d)");
    }
    // The image's own creation time keeps the document reproducible. SPDX
    // wants whole seconds in UTC (`…T20:35:55Z`); images often carry
    // nanoseconds or an offset.
    let created = opened
        .config
        .get("created")
        .and_then(|c| c.as_str())
        .and_then(bulwark_debian::time::parse_rfc3339)
        .map(bulwark_debian::time::format_rfc3339)
        .or_else(|| {
            std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(bulwark_debian::time::format_rfc3339)
        })
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            bulwark_debian::time::format_rfc3339(now)
        });
    let label = |k: &str| {
        opened.config["config"]["Labels"][k]
            .as_str()
            .map(str::to_owned)
    };
    let info = DocumentInfo {
        name: image.to_owned(),
        digest: opened.manifest_digest.clone(),
        created,
        lifecycle: "post-build",
        cdx_version: if cdx_version == "1.6" { "1.6" } else { "1.7" },
        supplier: about
            .supplier
            .clone()
            .or_else(|| label("org.opencontainers.image.vendor")),
        contact: about
            .contact
            .clone()
            .or_else(|| label("org.opencontainers.image.authors")),
        license: about
            .license
            .clone()
            .or_else(|| label("org.opencontainers.image.licenses")),
        copyright: about
            .copyright
            .clone()
            .or_else(|| label(bulwark_oci::ANNOTATION_COPYRIGHT)),
        manifest_sha512: opened
            .manifest
            .as_deref()
            .map(|m| hex::encode(sha2::Sha512::digest(m))),
    };
    // Documents go to stdout as they are serialised: no second copy of a
    // (possibly very large) document as one string.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let doc = match format {
        SbomFormat::Table => {
            write!(out, "{}", crate::term::safe(&bulwark_sbom::table(&inv)))?;
            None
        }
        SbomFormat::Json => Some(serde_json::to_value(&inv)?),
        SbomFormat::SpdxJson => Some(bulwark_sbom::spdx(&inv, &info)),
        SbomFormat::Spdx3Json => Some(bulwark_sbom::spdx3(&inv, &info)),
        SbomFormat::CyclonedxJson => Some(bulwark_sbom::cyclonedx(&inv, &info)),
    };
    drop(inv);
    if let Some(doc) = doc {
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
