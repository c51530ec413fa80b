//! What a build proves about itself: an SBOM per platform (from the image
//! just written, with each `.deb`'s verified sha256 from the lock) and the
//! SLSA provenance, written as files or attached to the image as signed
//! attestations.

use std::path::Path;

use bulwark_image::ImageRef;
use bulwark_sbom::{DebFile, DocumentInfo, Inventory};
use bulwark_spec::{Lock, Spec};
use bulwark_store::{Object, Target};
use serde_json::Value;

use crate::BuildReport;

/// Why the trust documents could not be made or attached.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The spec could not be read again.
    #[error(transparent)]
    Spec(#[from] bulwark_spec::SpecError),
    /// The lock could not be read again.
    #[error(transparent)]
    Lock(#[from] bulwark_spec::LockError),
    /// The built image could not be read.
    #[error(transparent)]
    Image(#[from] bulwark_image::ImageError),
    /// The image's store failed.
    #[error(transparent)]
    Store(#[from] bulwark_store::Error),
    /// Signing or attaching failed.
    #[error(transparent)]
    Attest(#[from] bulwark_attest::Error),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// SBOMs per platform and the provenance of one build.
#[derive(Debug)]
pub struct Documents {
    /// The image name (spec `name`, else the spec file's stem).
    pub name: String,
    /// SLSA v1 predicate.
    pub provenance: Value,
    /// Per platform: Debian arch, manifest digest, SPDX 2.3, CycloneDX 1.7.
    pub sboms: Vec<PlatformSboms>,
}

/// The SBOMs of one platform.
#[derive(Debug)]
pub struct PlatformSboms {
    /// Debian architecture.
    pub arch: String,
    /// The platform manifest they describe.
    pub manifest_digest: String,
    /// SPDX 2.3 JSON.
    pub spdx: Value,
    /// CycloneDX 1.7 JSON.
    pub cyclonedx: Value,
}

/// Makes the documents for the build `report` of `spec_path`, whose image is at `local`.
///
/// # Errors
/// The spec, lock or image cannot be read back.
pub fn documents(
    spec_path: &Path,
    local: &str,
    report: &BuildReport,
) -> Result<Documents, TrustError> {
    let spec = Spec::load(spec_path)?;
    let lock = Lock::load(Path::new(&report.lock))?;
    let sde = i64::try_from(report.source_date_epoch).unwrap_or(0);
    let provenance = crate::provenance::provenance(spec_path, &spec, &lock, sde);
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
        sboms.push(PlatformSboms {
            arch: p.arch.clone(),
            manifest_digest: p.manifest_digest.clone(),
            spdx: bulwark_sbom::spdx(&inv, &info),
            cyclonedx: bulwark_sbom::cyclonedx(&inv, &info),
        });
    }
    Ok(Documents {
        name,
        provenance,
        sboms,
    })
}

impl Documents {
    /// Writes `NAME.provenance.json`, `NAME-ARCH.spdx.json` and
    /// `NAME-ARCH.cdx.json` into `dir`, each atomically.
    ///
    /// # Errors
    /// I/O.
    pub fn write_to(&self, dir: &Path) -> Result<(), TrustError> {
        std::fs::create_dir_all(dir).map_err(|source| TrustError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let write = |file: String, v: &Value| -> Result<(), TrustError> {
            let mut bytes = serde_json::to_vec_pretty(v).unwrap_or_default();
            bytes.push(b'\n');
            let path = dir.join(file);
            bulwark_oci::write_file_atomic(&path, &bytes).map_err(|e| TrustError::Io {
                path: path.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })
        };
        write(format!("{}.provenance.json", self.name), &self.provenance)?;
        for p in &self.sboms {
            write(format!("{}-{}.spdx.json", self.name, p.arch), &p.spdx)?;
            write(format!("{}-{}.cdx.json", self.name, p.arch), &p.cyclonedx)?;
        }
        Ok(())
    }

    /// Signs the image at `local` (and each platform of an index) and
    /// attaches the SBOMs and the provenance as signed attestations.
    ///
    /// # Errors
    /// The image cannot be opened or written.
    pub fn attach(
        &self,
        local: &str,
        key: &bulwark_sign::PrivateKey,
        format: bulwark_attest::Format,
        created: &str,
    ) -> Result<(), TrustError> {
        let target = Target::open(local, &bulwark_store::Options::default())?;
        let top = target.resolve()?;
        let store = &target.store;
        let spdx = bulwark_attest::predicate_type("spdx").unwrap_or_default();
        let cdx = bulwark_attest::predicate_type("cyclonedx").unwrap_or_default();
        let slsa = crate::provenance::SLSA_PROVENANCE_V1;
        let attest = |subject: &Object, ptype: &str, predicate: &Value| {
            bulwark_attest::attest(
                store,
                subject,
                key,
                ptype,
                predicate.clone(),
                format,
                created,
            )
        };
        bulwark_attest::sign(store, &top, key, format, created)?;
        attest(&top, slsa, &self.provenance)?;
        for p in &self.sboms {
            if p.manifest_digest != top.digest {
                let m: Object = store.resolve(Some(&p.manifest_digest))?;
                bulwark_attest::sign(store, &m, key, format, created)?;
                attest(&m, slsa, &self.provenance)?;
                attest(&m, spdx, &p.spdx)?;
                attest(&m, cdx, &p.cyclonedx)?;
            }
            // The top-level image (manifest or index) carries every platform's SBOMs.
            attest(&top, spdx, &p.spdx)?;
            attest(&top, cdx, &p.cyclonedx)?;
        }
        store.commit()?;
        Ok(())
    }
}
