//! What a build proves about itself: SBOMs per platform (from the image
//! just written, with each `.deb`'s verified sha256 from the lock, its
//! sha512, and the user's own files) and the SLSA provenance, written as
//! files and attached to the image: as signed attestations when there is a
//! key, as unsigned OCI artifacts (the way `oras attach` does) otherwise.

use std::collections::BTreeMap;
use std::path::Path;

use bulwark_image::ImageRef;
use bulwark_sbom::{DebFile, DocumentInfo, Inventory};
use bulwark_spec::{Lock, Spec};
use bulwark_store::{Object, Target};
use serde_json::Value;
use sha2::Digest;

use crate::BuildReport;

/// Why the trust documents could not be made or attached.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The built image could not be read.
    #[error(transparent)]
    Image(#[from] bulwark_image::ImageError),
    /// The image's store failed.
    #[error(transparent)]
    Store(#[from] bulwark_store::Error),
    /// Signing or attaching failed.
    #[error(transparent)]
    Attest(#[from] bulwark_attest::Error),
    /// The output no longer holds the image the build described.
    #[error(
        "{destination}: the {platform} manifest is {found}, not the {expected} just built; another process wrote there during the build: build again"
    )]
    Replaced {
        /// Where the image was written.
        destination: String,
        /// Which platform.
        platform: String,
        /// The manifest digest the build wrote.
        expected: String,
        /// The one found there.
        found: String,
    },
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
    /// SPDX 3.0.1 JSON-LD.
    pub spdx3: Value,
    /// CycloneDX 1.7 JSON.
    pub cyclonedx: Value,
}

/// What one attachment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Provenance,
    Spdx,
    CycloneDx,
}

impl Kind {
    /// in-toto predicate type of the signed attestation.
    fn predicate_type(self) -> String {
        let name = match self {
            Kind::Provenance => "slsa-provenance",
            Kind::Spdx => "spdx",
            Kind::CycloneDx => "cyclonedx",
        };
        bulwark_attest::predicate_type(name)
            .unwrap_or_default()
            .to_owned()
    }

    /// File name of the unsigned artifact's layer (what `oras pull` writes).
    fn file_name(self) -> &'static str {
        match self {
            Kind::Provenance => "provenance.intoto.json",
            Kind::Spdx => "sbom.spdx.json",
            Kind::CycloneDx => "sbom.cdx.json",
        }
    }

    /// `artifactType` of the unsigned artifact.
    fn artifact_type(self) -> &'static str {
        match self {
            Kind::Provenance => "application/vnd.in-toto+json",
            Kind::Spdx => "application/spdx+json",
            Kind::CycloneDx => "application/vnd.cyclonedx+json",
        }
    }
}

/// Makes the documents for the build `report` of `spec_path` (read once by
/// the build: `spec` and `lock`), whose image is at `local`.
///
/// # Errors
/// The image cannot be read back, or is not the one the build wrote.
pub fn documents(
    spec_path: &Path,
    spec: &Spec,
    lock: &Lock,
    local: &str,
    report: &BuildReport,
) -> Result<Documents, TrustError> {
    let sde = i64::try_from(report.source_date_epoch).unwrap_or(0);
    let provenance = crate::provenance::provenance(spec_path, spec, lock, sde);
    let name = spec.name.clone().unwrap_or_else(|| {
        spec_path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "image".into())
    });
    let r: ImageRef = local.parse()?;
    let who = spec.sbom_info();
    let mut sboms = Vec::new();
    for p in &report.platforms {
        let (oci_arch, variant) = bulwark_debian::oci_platform(&p.arch).unwrap_or(("amd64", None));
        let platform = match variant {
            Some(v) => format!("linux/{oci_arch}/{v}"),
            None => format!("linux/{oci_arch}"),
        };
        // The manifest comes from the output; the files from the build,
        // which already read its layers' tars.
        let opened = bulwark_image::open(&r, Some(&platform))?;
        same_manifest(
            opened.manifest.as_deref(),
            &p.manifest_digest,
            local,
            &platform,
        )?;
        let mut inv = Inventory::from_fs(&p.contents);
        inv.files = p.app_files.clone();
        if let Some(a) = lock.archs.get(&p.arch) {
            for pkg in &mut inv.packages {
                pkg.deb = a
                    .packages
                    .iter()
                    .find(|l| l.name == pkg.name && l.version == pkg.version && l.arch == pkg.arch)
                    .map(|l| DebFile {
                        filename: l.filename.clone(),
                        sha256: l.sha256.clone(),
                        sha512: report.deb_sha512.get(&l.sha256).cloned(),
                    });
            }
        }
        let info = DocumentInfo {
            name: format!("{name} ({platform})"),
            digest: Some(p.manifest_digest.clone()),
            created: report.created.clone(),
            lifecycle: "build",
            cdx_version: "1.7",
            supplier: who.supplier.clone(),
            contact: who.contact.clone(),
            license: who.license.clone(),
            copyright: who.copyright.clone(),
            manifest_sha512: opened
                .manifest
                .as_deref()
                .map(|m| hex::encode(sha2::Sha512::digest(m))),
        };
        sboms.push(PlatformSboms {
            arch: p.arch.clone(),
            manifest_digest: p.manifest_digest.clone(),
            spdx: bulwark_sbom::spdx(&inv, &info),
            spdx3: bulwark_sbom::spdx3(&inv, &info),
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
    /// Writes `NAME.provenance.json`, `NAME-ARCH.spdx.json`,
    /// `NAME-ARCH.spdx3.json` and `NAME-ARCH.cdx.json` into `dir`, each
    /// atomically.
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
            // Names come from the validated spec name (or the spec file's
            // stem) and architecture; a name that could leave `dir` is a bug
            // or an attack either way.
            if file.contains('/') || file.starts_with('.') || file.contains('\0') {
                return Err(TrustError::Io {
                    path: dir.join(&file).display().to_string(),
                    source: std::io::Error::other(format!(
                        "{file:?} is not a plain file name inside {}",
                        dir.display()
                    )),
                });
            }
            let path = dir.join(file);
            bulwark_oci::write_file_atomic(&path, &bytes).map_err(|e| TrustError::Io {
                path: path.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })
        };
        write(format!("{}.provenance.json", self.name), &self.provenance)?;
        for p in &self.sboms {
            write(format!("{}-{}.spdx.json", self.name, p.arch), &p.spdx)?;
            write(format!("{}-{}.spdx3.json", self.name, p.arch), &p.spdx3)?;
            write(format!("{}-{}.cdx.json", self.name, p.arch), &p.cyclonedx)?;
        }
        Ok(())
    }

    /// Opens the image at `local` and resolves its top-level object and,
    /// for an index, each platform manifest, once.
    fn subjects(
        &self,
        local: &str,
    ) -> Result<(Target, Object, BTreeMap<String, Object>), TrustError> {
        let target = Target::open(local, &bulwark_store::Options::default())?;
        let top = target.resolve()?;
        let mut platforms = BTreeMap::new();
        for p in &self.sboms {
            if p.manifest_digest != top.digest {
                let m = target.store.resolve(Some(&p.manifest_digest))?;
                platforms.insert(p.manifest_digest.clone(), m);
            }
        }
        Ok((target, top, platforms))
    }

    /// What goes on which manifest: the top-level image (manifest or index)
    /// carries the provenance and every platform's SBOMs; each platform
    /// manifest of an index carries the provenance and its own SBOMs.
    fn attachments<'a>(
        &'a self,
        top: &'a Object,
        platforms: &'a BTreeMap<String, Object>,
    ) -> Vec<(&'a Object, Kind, &'a Value)> {
        let mut out = vec![(top, Kind::Provenance, &self.provenance)];
        for p in &self.sboms {
            if let Some(m) = platforms.get(&p.manifest_digest) {
                out.push((m, Kind::Provenance, &self.provenance));
                out.push((m, Kind::Spdx, &p.spdx));
                out.push((m, Kind::CycloneDx, &p.cyclonedx));
            }
            out.push((top, Kind::Spdx, &p.spdx));
            out.push((top, Kind::CycloneDx, &p.cyclonedx));
        }
        out
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
        let (target, top, platforms) = self.subjects(local)?;
        let store = &target.store;
        for m in std::iter::once(&top).chain(platforms.values()) {
            bulwark_attest::sign(store, m, key, format, created)?;
        }
        for (subject, kind, doc) in self.attachments(&top, &platforms) {
            bulwark_attest::attest(
                store,
                subject,
                key,
                &kind.predicate_type(),
                doc.clone(),
                format,
                created,
            )?;
        }
        store.commit()?;
        Ok(())
    }

    /// Attaches the SBOMs and the provenance to the image at `local` without
    /// a signature: SBOMs as themselves (`application/spdx+json`,
    /// `application/vnd.cyclonedx+json`), the provenance as its in-toto
    /// statement (`application/vnd.in-toto+json`), each an OCI 1.1 artifact
    /// whose subject is the image.
    ///
    /// # Errors
    /// The image cannot be opened or written.
    pub fn attach_unsigned(&self, local: &str, created: &str) -> Result<(), TrustError> {
        let (target, top, platforms) = self.subjects(local)?;
        let store = &target.store;
        for (subject, kind, doc) in self.attachments(&top, &platforms) {
            let ptype = kind.predicate_type();
            let bytes = match kind {
                Kind::Provenance => bulwark_sign::Statement::new(
                    &store.identity(),
                    &subject.digest,
                    &ptype,
                    doc.clone(),
                )
                .to_bytes(),
                Kind::Spdx | Kind::CycloneDx => serde_json::to_vec(doc).unwrap_or_default(),
            };
            let annotations = BTreeMap::from([("in-toto.io/predicate-type".to_owned(), ptype)]);
            bulwark_attest::attach_unsigned(
                store,
                subject,
                kind.artifact_type(),
                kind.file_name(),
                &bytes,
                annotations,
                created,
            )?;
        }
        store.commit()?;
        Ok(())
    }
}

/// Checks that the manifest read from the output is the one the build wrote
/// (a docker archive keeps no OCI manifest, so there is nothing to compare).
fn same_manifest(
    manifest: Option<&[u8]>,
    expected: &str,
    destination: &str,
    platform: &str,
) -> Result<(), TrustError> {
    let Some(m) = manifest else {
        return Ok(());
    };
    let found = format!("sha256:{}", hex::encode(sha2::Sha256::digest(m)));
    if found == expected {
        return Ok(());
    }
    Err(TrustError::Replaced {
        destination: destination.to_owned(),
        platform: platform.to_owned(),
        expected: expected.to_owned(),
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_replaced_after_the_build_is_refused() {
        let written = br#"{"schemaVersion":2}"#;
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(written)));
        same_manifest(Some(written), &digest, "oci:out", "linux/amd64").unwrap();
        same_manifest(None, &digest, "docker-archive:out.tar", "linux/amd64").unwrap();
        let err = same_manifest(Some(b"{}"), &digest, "oci:out", "linux/amd64")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("oci:out: the linux/amd64 manifest is sha256:44136fa3")
                && err.contains(&format!("not the {digest} just built"))
                && err.ends_with("build again"),
            "{err}"
        );
    }
}
