//! The whole build as one call: build the image, make its SBOMs and
//! provenance from the tars in memory, sign and attach them (or write them
//! beside the image), and publish. `bulwark build` is this call and a
//! rendering of its report; `bulwark update` and the admission tests will
//! call it the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bulwark_image::{ImageRef, Target};
use bulwark_oci::Destination;
use bulwark_spec::Compression;

use crate::build::{BuildReport, build_inputs};
use crate::{BuildError, BuildOptions, Progress, Silent};

/// What to build, and where the results go.
pub struct Request {
    /// The spec file.
    pub spec: PathBuf,
    /// Where the image goes: `oci:`, `oci-archive:`, `docker-archive:` or a
    /// registry reference.
    pub output: ImageRef,
    /// Fail when the lock is missing or stale instead of (re)creating it.
    pub frozen: bool,
    /// Overrides the spec's `output.compression`.
    pub compression: Option<Compression>,
    /// Overrides `SOURCE_DATE_EPOCH` and the lock-derived default.
    pub source_date_epoch: Option<u64>,
    /// Sign the image and attach the SBOMs and provenance as signed
    /// attestations, in this format.
    pub sign: Option<(bulwark_sign::PrivateKey, bulwark_attest::Format)>,
    /// Also write the SBOMs and provenance into this directory.
    pub sbom_dir: Option<PathBuf>,
    /// Registry client settings (plain HTTP, timeouts).
    pub registry: bulwark_image::Options,
    /// The `.deb` fetcher (default: one with the user's cache).
    pub fetcher: Option<bulwark_apt::Fetcher>,
    /// Where progress goes.
    pub progress: Arc<dyn Progress>,
    /// Build from this lock instead of the lock file (which is then left
    /// alone).
    pub lock: Option<bulwark_spec::Lock>,
    /// The update this build is: recorded in the provenance.
    pub update: Option<crate::provenance::UpdateRecord>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("spec", &self.spec)
            .field("output", &self.output)
            .field("frozen", &self.frozen)
            .field("signed", &self.sign.is_some())
            .field("sbom_dir", &self.sbom_dir)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// A request with the defaults: unsigned, SBOMs beside a local output,
    /// no progress shown.
    #[must_use]
    pub fn new(spec: PathBuf, output: ImageRef) -> Self {
        Self {
            spec,
            output,
            frozen: false,
            compression: None,
            source_date_epoch: None,
            sign: None,
            sbom_dir: None,
            registry: bulwark_image::Options::default(),
            fetcher: None,
            progress: Arc::new(Silent),
            lock: None,
            update: None,
        }
    }
}

/// Why a pipeline step failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The build itself.
    #[error(transparent)]
    Build(Box<BuildError>),
    /// The SBOMs, provenance or signatures.
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// The output reference, or publishing to the registry.
    #[error(transparent)]
    Image(#[from] bulwark_image::Error),
    /// Signatures asked for where they cannot be kept.
    #[error(
        "--sign-key: a docker-archive cannot carry signatures or attestations; write oci:, oci-archive: or a registry instead"
    )]
    CannotSign,
    /// The documents' directory cannot be written.
    #[error(
        "cannot write the SBOMs and provenance to {dir}: {source}; nothing was built: make it a writable directory or pass --sbom-dir DIR"
    )]
    DocsDir {
        /// The directory.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
    /// The private staging layout for a registry output.
    #[error("cannot create a staging directory for the registry output: {0}")]
    Staging(std::io::Error),
}

impl From<BuildError> for PipelineError {
    fn from(e: BuildError) -> Self {
        Self::Build(Box::new(e))
    }
}

/// Builds, documents, signs and publishes as `req` says. Either the image
/// and its documents are written, or (up to the registry push, which is
/// last) nothing is.
///
/// # Errors
/// Any step's failure, with what it was about.
pub fn run(req: &Request) -> Result<BuildReport, PipelineError> {
    let staged = Staged::new(&req.output, req.sign.is_some(), req.sbom_dir.as_deref())?;
    let mut opts = BuildOptions::new(req.spec.clone(), staged.dest.clone());
    opts.frozen = req.frozen;
    opts.source_date_epoch = req.source_date_epoch;
    opts.compression = req.compression;
    opts.fetcher = req.fetcher.clone();
    opts.progress = req.progress.clone();
    opts.lock = req.lock.clone();
    let built = build_inputs(&opts)?;
    let mut report = built.report;
    // Every build proves what it is: SBOMs and provenance are signed
    // attestations with a key; without one they are unsigned artifacts on a
    // registry (invisible to pulls) and files beside a local output (so
    // that a layout or archive keeps exactly one image for skopeo, podman
    // and umoci to pick).
    let mut docs = crate::trust::documents(&req.spec, &built.spec, &built.lock, &report);
    if let Some(u) = &req.update {
        crate::provenance::record_update(&mut docs.provenance, u);
    }
    let published = staged.publish(
        &docs,
        (&report).into(),
        req.sign.as_ref(),
        req.sbom_dir.as_deref(),
        &req.registry,
    )?;
    report.sboms = published.sboms;
    if let Some(d) = published.destination {
        report.destination = d;
        report.security_context = "(not written for registry outputs)".into();
    }
    Ok(report)
}

/// Where an image goes while it is made: the output itself when it is
/// local, a private layout when it is a registry (documented and signed
/// there, and pushed last by [`Staged::publish`]). `bulwark build` and
/// `bulwark harden` write through it.
#[derive(Debug)]
pub struct Staged {
    output: ImageRef,
    /// What to write the image as.
    pub local: ImageRef,
    /// The writer for [`Staged::local`].
    pub dest: Destination,
    beside: PathBuf,
    _scratch: Option<bulwark_limits::scratch::Registered>,
    _staging: Option<tempfile::TempDir>,
}

/// Where [`Staged::publish`] put things.
#[derive(Debug)]
pub struct Published {
    /// Where the SBOMs and provenance went, in words.
    pub sboms: String,
    /// The registry reference, when the image was pushed.
    pub destination: Option<String>,
}

impl Staged {
    /// Prepares `output`. With `signed`, a docker archive (which cannot
    /// carry signatures) is refused; the directory for the documents
    /// (`sbom_dir`, else `DEST.sbom/` beside an unsigned local output) must
    /// be writable before anything is written.
    ///
    /// # Errors
    /// The reference names no writable destination, or the documents'
    /// directory cannot be written.
    pub fn new(
        output: &ImageRef,
        signed: bool,
        sbom_dir: Option<&Path>,
    ) -> Result<Staged, PipelineError> {
        let to_registry = output.is_registry();
        let staging = if to_registry {
            Some(
                tempfile::Builder::new()
                    .prefix(".bulwark-push-")
                    .tempdir()
                    .map_err(PipelineError::Staging)?,
            )
        } else {
            None
        };
        let scratch = staging
            .as_ref()
            .map(|d| bulwark_limits::scratch::register(d.path()));
        let local = match &staging {
            Some(d) => ImageRef::Oci {
                dir: d.path().join("layout"),
                reference: Some(output.tag().unwrap_or("latest").to_owned()),
            },
            None => output.clone(),
        };
        let dest = local.destination()?;
        if signed && matches!(dest, Destination::DockerArchive { .. }) {
            return Err(PipelineError::CannotSign);
        }
        let beside = PathBuf::from(format!("{}.sbom", dest.path().display()));
        let docs_dir = match sbom_dir {
            Some(d) => Some(d.to_owned()),
            None if !signed && !to_registry => Some(beside.clone()),
            None => None,
        };
        if let Some(d) = &docs_dir {
            ensure_writable_dir(d)?;
        }
        Ok(Staged {
            output: output.clone(),
            local,
            dest,
            beside,
            _scratch: scratch,
            _staging: staging,
        })
    }

    /// Places the documents of the image `built` (written to
    /// [`Staged::local`]): into `sbom_dir` when given; then signed and
    /// attached with `sign`, else attached unsigned on a registry, else
    /// written beside a local output. A registry output is pushed last.
    ///
    /// # Errors
    /// Writing, signing or pushing failed.
    pub fn publish(
        &self,
        docs: &crate::trust::Documents,
        built: crate::trust::Built<'_>,
        sign: Option<&(bulwark_sign::PrivateKey, bulwark_attest::Format)>,
        sbom_dir: Option<&Path>,
        registry: &bulwark_image::Options,
    ) -> Result<Published, PipelineError> {
        let to_registry = self.output.is_registry();
        let mut sboms = String::new();
        if let Some(dir) = sbom_dir {
            docs.write_to(dir)?;
            sboms = format!("written to {}", dir.display());
        }
        match sign {
            Some((key, format)) => {
                docs.attach(&self.local, &built, key, *format)?;
                sboms = "attached as signed attestations".into();
            }
            None if to_registry => {
                docs.attach_unsigned(&self.local, &built)?;
                sboms = "attached as unsigned OCI artifacts".into();
            }
            None if sbom_dir.is_none() => {
                docs.write_to(&self.beside)?;
                sboms = format!("written to {}", self.beside.display());
            }
            None => {}
        }
        let mut destination = None;
        if to_registry {
            let src = Target::read(&self.local, registry)?;
            let dst = Target::open(&self.output, registry)?;
            bulwark_image::copy(&src, &dst)?;
            destination = Some(self.output.to_string());
        }
        Ok(Published { sboms, destination })
    }
}

/// Checks that `dir` exists (or can be made) and takes files, leaving it as
/// it was when it had to be created.
fn ensure_writable_dir(dir: &Path) -> Result<(), PipelineError> {
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
    probe.map_err(|source| PipelineError::DocsDir {
        dir: dir.display().to_string(),
        source,
    })
}
