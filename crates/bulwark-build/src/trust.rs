//! What a build proves about itself: SBOMs per platform (from the image
//! just written, with each `.deb`'s verified sha256 from the lock, its
//! sha512, and the user's own files) and the SLSA provenance, written as
//! files and attached to the image: as signed attestations when there is a
//! key, as unsigned OCI artifacts (the way `oras attach` does) otherwise.

use std::collections::BTreeMap;
use std::path::Path;

use bulwark_image::{ImageRef, Object, Target};
use bulwark_sbom::{DebFile, DocumentInfo, Inventory};
use bulwark_spec::{Lock, Spec};
use serde_json::Value;

use crate::BuildReport;

/// Why the trust documents could not be made or attached.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The built image could not be read or written.
    #[error(transparent)]
    Image(#[from] bulwark_image::Error),
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

/// What was just written, for [`Documents::attach`]: the top-level digest
/// (manifest or index) and the creation time the signatures carry.
#[derive(Clone, Copy, Debug)]
pub struct Built<'a> {
    /// `sha256:…` of what the output's tag points at.
    pub digest: &'a str,
    /// RFC 3339, from `SOURCE_DATE_EPOCH`.
    pub created: &'a str,
}

impl<'a> From<&'a BuildReport> for Built<'a> {
    fn from(r: &'a BuildReport) -> Self {
        Built {
            digest: &r.digest,
            created: &r.created,
        }
    }
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
    Spdx3,
    CycloneDx,
}

impl Kind {
    /// in-toto predicate type of the signed attestation.
    fn predicate_type(self) -> String {
        let name = match self {
            Kind::Provenance => "slsa-provenance",
            Kind::Spdx => "spdx",
            Kind::Spdx3 => "spdx3",
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
            Kind::Spdx3 => "sbom.spdx3.json",
            Kind::CycloneDx => "sbom.cdx.json",
        }
    }

    /// `artifactType` of the unsigned artifact.
    fn artifact_type(self) -> &'static str {
        match self {
            Kind::Provenance => "application/vnd.in-toto+json",
            Kind::Spdx | Kind::Spdx3 => "application/spdx+json",
            Kind::CycloneDx => "application/vnd.cyclonedx+json",
        }
    }
}

/// Makes the documents for the build `report` of `spec_path` (read once by
/// the build: `spec` and `lock`), from what the build holds in memory: the
/// layers' tars it encoded and the manifests it wrote. Nothing is read back.
#[must_use]
pub fn documents(spec_path: &Path, spec: &Spec, lock: &Lock, report: &BuildReport) -> Documents {
    let sde = i64::try_from(report.source_date_epoch).unwrap_or(0);
    let provenance =
        crate::provenance::provenance(spec_path, spec, lock, sde, &report.local_inputs);
    let name = spec.name.clone().unwrap_or_else(|| {
        spec_path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "image".into())
    });
    let who = spec.sbom_info();
    let mut sboms = Vec::new();
    for p in &report.platforms {
        let (oci_arch, variant) = bulwark_debian::oci_platform(&p.arch).unwrap_or(("amd64", None));
        let platform = match variant {
            Some(v) => format!("linux/{oci_arch}/{v}"),
            None => format!("linux/{oci_arch}"),
        };
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
            manifest_sha512: p.manifest_sha512.clone(),
        };
        sboms.push(PlatformSboms {
            arch: p.arch.clone(),
            manifest_digest: p.manifest_digest.clone(),
            spdx: bulwark_sbom::spdx(&inv, &info),
            spdx3: bulwark_sbom::spdx3(&inv, &info),
            cyclonedx: bulwark_sbom::cyclonedx(&inv, &info),
        });
    }
    Documents {
        name,
        provenance,
        sboms,
    }
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

    /// Opens the image at `local` (once) and resolves its top-level object
    /// and, for an index, each platform manifest, checking that they are
    /// still the ones the build wrote: nothing is signed that was not built.
    fn subjects(
        &self,
        local: &ImageRef,
        built: &str,
    ) -> Result<(Target, Object, BTreeMap<String, Object>), TrustError> {
        let target = Target::open(local, &bulwark_image::Options::default())?;
        let top = target.resolve()?;
        let replaced = |platform: &str, expected: &str, found: String| TrustError::Replaced {
            destination: local.to_string(),
            platform: platform.to_owned(),
            expected: expected.to_owned(),
            found,
        };
        if top.digest != built {
            return Err(replaced("top-level", built, top.digest));
        }
        let mut platforms = BTreeMap::new();
        for p in &self.sboms {
            if p.manifest_digest != top.digest {
                let m = target
                    .store
                    .resolve(Some(&p.manifest_digest))
                    .map_err(|_| replaced(&p.arch, &p.manifest_digest, "missing".into()))?;
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
                out.push((m, Kind::Spdx3, &p.spdx3));
                out.push((m, Kind::CycloneDx, &p.cyclonedx));
            }
            out.push((top, Kind::Spdx, &p.spdx));
            out.push((top, Kind::Spdx3, &p.spdx3));
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
        local: &ImageRef,
        built: &Built<'_>,
        key: &bulwark_sign::PrivateKey,
        format: bulwark_attest::Format,
    ) -> Result<(), TrustError> {
        let created = built.created;
        let (target, top, platforms) = self.subjects(local, built.digest)?;
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
    pub fn attach_unsigned(&self, local: &ImageRef, built: &Built<'_>) -> Result<(), TrustError> {
        let created = built.created;
        let (target, top, platforms) = self.subjects(local, built.digest)?;
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
                Kind::Spdx | Kind::Spdx3 | Kind::CycloneDx => {
                    serde_json::to_vec(doc).unwrap_or_default()
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_replaced_after_the_build_is_not_signed() {
        let tmp = tempfile::tempdir().unwrap();
        let local: ImageRef = format!("oci:{}:v1", tmp.path().join("out").display())
            .parse()
            .unwrap();
        // What is at the output now: another image than the one built.
        let t = Target::open(&local, &bulwark_image::Options::default()).unwrap();
        let config = t.store.put_blob(b"{}").unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{config}","size":2}},"layers":[]}}"#,
            bulwark_oci::MEDIA_TYPE_MANIFEST,
            bulwark_oci::MEDIA_TYPE_CONFIG,
        );
        let there = t
            .store
            .put_manifest(
                manifest.as_bytes(),
                bulwark_oci::MEDIA_TYPE_MANIFEST,
                Some("v1"),
            )
            .unwrap();
        t.store.commit().unwrap();
        let built = format!("sha256:{}", "b".repeat(64));
        let mut docs = Documents {
            name: "x".into(),
            provenance: Value::Null,
            sboms: vec![PlatformSboms {
                arch: "amd64".into(),
                manifest_digest: built.clone(),
                spdx: Value::Null,
                spdx3: Value::Null,
                cyclonedx: Value::Null,
            }],
        };
        let err = docs.subjects(&local, &built).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "manifest is {}, not the {built} just built",
                there.digest
            )) && err.ends_with("build again"),
            "{err}"
        );
        // The top-level image is right but a platform manifest is gone.
        let err = docs
            .subjects(&local, &there.digest)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the amd64 manifest is missing"), "{err}");
        // The image built is there: its subjects resolve.
        docs.sboms[0].manifest_digest = there.digest.clone();
        let (_, top, platforms) = docs.subjects(&local, &there.digest).unwrap();
        assert_eq!(top.digest, there.digest);
        assert!(platforms.is_empty());
    }
}
