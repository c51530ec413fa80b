//! Images where they live, read and written through one interface.
//!
//! A [`Store`] is an OCI image layout directory, an OCI archive (unpacked to
//! a private temporary layout and packed again atomically on
//! [`Store::commit`]) or a registry repository. Every read is checked
//! against its digest and size; every layout write goes through a temporary
//! file and a rename. Referrers (signatures, SBOMs, attestations) are found
//! and recorded with the OCI 1.1 referrers API where a registry has it, and
//! with the `sha256-<hex>` tag schema everywhere else (layouts included, so
//! a layout carries its signatures the same way a registry does).
//! [`copy`] moves an image with all of that between any two stores.
//!
//! ```no_run
//! use bulwark_store::{Options, Store, Target};
//!
//! let src = Target::open("oci:out/base:latest", &Options::default())?;
//! let dst = Target::open("oci:mirror:base", &Options::default())?;
//! let summary = bulwark_store::copy(&src, &dst)?;
//! println!("{} blobs copied", summary.blobs_copied);
//! dst.store.commit()?;
//! # Ok::<(), bulwark_store::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bulwark_oci::{
    ANNOTATION_REF_NAME, Descriptor, Index, MEDIA_TYPE_INDEX, sha256_digest, sha256_hex,
};
pub use bulwark_oci::{digest_tag, is_signature_tag};
use bulwark_registry::{Registry, RegistryRef};

mod docker;

pub use bulwark_registry::Options;

/// Largest JSON document (manifest, index, signature layer) read into memory.
pub const MAX_JSON: u64 = bulwark_limits::JSON_DOCUMENT;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A reference bulwark cannot interpret.
    #[error(
        "'{0}' is not an image location; use oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG] or HOST[:PORT]/REPO[:TAG]"
    )]
    Reference(String),
    /// Registry failure.
    #[error(transparent)]
    Registry(#[from] bulwark_registry::Error),
    /// Local I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Missing tag or manifest.
    #[error("{origin}: {what} not found{hint}")]
    NotFound {
        /// The store.
        origin: String,
        /// What was looked for.
        what: String,
        /// What exists instead.
        hint: String,
    },
    /// Content that does not match its descriptor.
    #[error(
        "{origin}: {digest}: expected {expected}, found {found}; the image is corrupt or was tampered with"
    )]
    Digest {
        /// The store.
        origin: String,
        /// The object.
        digest: String,
        /// Expected digest and size.
        expected: String,
        /// What was there.
        found: String,
    },
    /// A malformed document or archive.
    #[error("{origin}: {detail}")]
    Invalid {
        /// The store.
        origin: String,
        /// The problem.
        detail: String,
    },
}

pub(crate) fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A digest and size that can be fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

impl From<&Descriptor> for Object {
    fn from(d: &Descriptor) -> Self {
        Self {
            media_type: d.media_type.clone(),
            digest: d.digest.clone(),
            size: d.size,
        }
    }
}

/// Where blobs and manifests live.
#[derive(Debug)]
pub enum Store {
    /// An OCI image layout directory (for archives, a private temporary one).
    Layout {
        /// The layout directory.
        dir: PathBuf,
        /// For archives, the file to write back and the temp dir holding `dir`.
        archive: Option<Archive>,
        /// What the user called it.
        origin: String,
    },
    /// A registry repository.
    Registry {
        /// The client.
        client: Box<Registry>,
        /// Repository (tag/digest ignored).
        repo: RegistryRef,
    },
}

/// An archive file behind a private temporary layout.
#[derive(Debug)]
pub struct Archive {
    /// The archive file.
    pub file: PathBuf,
    /// Its format.
    pub kind: ArchiveKind,
    /// Holds the layout; removed on drop.
    _tmp: tempfile::TempDir,
}

/// The format of an [`Archive`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveKind {
    /// `oci-archive:`: the layout as a tar.
    Oci,
    /// `oci:DIR` where `DIR` did not exist yet: the layout is built in a
    /// temporary sibling and renamed to `DIR` on commit.
    NewLayout,
    /// `docker-archive:`: one image (`docker save`'s format), named `reference`.
    Docker {
        /// `NAME:TAG` for `RepoTags`.
        reference: Option<String>,
    },
}

/// A store and the tag or digest the user named in it.
#[derive(Debug)]
pub struct Target {
    /// Where.
    pub store: Store,
    /// The tag or `sha256:` digest named (None: the layout's only image).
    pub reference: Option<String>,
}

impl Target {
    /// Opens `s`: `oci:DIR[:TAG]` (created when missing), `oci-archive:FILE[:TAG]`,
    /// or a registry reference (optionally `docker://`).
    ///
    /// # Errors
    /// Unknown syntax; an archive that cannot be unpacked.
    pub fn open(s: &str, opts: &Options) -> Result<Self, Error> {
        // `DIR:TAG`, or `DIR@sha256:<hex>` for one manifest by digest (a
        // platform manifest of an index, say).
        let split = |rest: &str| -> (PathBuf, Option<String>) {
            if let Some((p, d)) = rest.rsplit_once('@')
                && sha256_hex(d).is_some()
                && !p.is_empty()
            {
                return (PathBuf::from(p), Some(d.to_owned()));
            }
            match rest.rsplit_once(':') {
                Some((p, t)) if !t.contains('/') && !p.is_empty() => {
                    (PathBuf::from(p), Some(t.to_owned()))
                }
                _ => (PathBuf::from(rest), None),
            }
        };
        if let Some(r) = s.strip_prefix("oci:") {
            let (dir, tag) = split(r);
            let origin = format!("oci:{}", dir.display());
            if std::fs::symlink_metadata(&dir).is_ok() {
                return Ok(Self {
                    store: Store::Layout {
                        origin,
                        dir,
                        archive: None,
                    },
                    reference: tag,
                });
            }
            // A new layout is assembled beside its final place and renamed
            // there by `commit`: a failure leaves nothing behind.
            // The nearest existing ancestor holds the temporary layout (so
            // the rename stays on one filesystem, and opening a missing
            // layout to read it creates no directories).
            let near = dir
                .ancestors()
                .skip(1)
                .find(|p| p.as_os_str().is_empty() || p.is_dir())
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = tempfile::Builder::new()
                .prefix(".bulwark-new-")
                .tempdir_in(near)
                .map_err(io_err(near))?;
            return Ok(Self {
                store: Store::Layout {
                    origin,
                    dir: tmp.path().join("layout"),
                    archive: Some(Archive {
                        file: dir,
                        kind: ArchiveKind::NewLayout,
                        _tmp: tmp,
                    }),
                },
                reference: tag,
            });
        }
        if let Some(r) = s.strip_prefix("oci-archive:") {
            let (file, tag) = split(r);
            let tmp = tempfile::Builder::new()
                .prefix(".bulwark-archive-")
                .tempdir()
                .map_err(io_err(Path::new("temporary directory")))?;
            let dir = tmp.path().join("layout");
            if file.exists() {
                unpack_layout_archive(&file, &dir)?;
            }
            return Ok(Self {
                store: Store::Layout {
                    origin: format!("oci-archive:{}", file.display()),
                    dir,
                    archive: Some(Archive {
                        file,
                        kind: ArchiveKind::Oci,
                        _tmp: tmp,
                    }),
                },
                reference: tag,
            });
        }
        if s.starts_with("docker-archive:") {
            let Ok(bulwark_oci::Destination::DockerArchive { file, reference }) =
                bulwark_oci::Destination::parse(s)
            else {
                return Err(Error::Reference(s.to_string()));
            };
            let tmp = tempfile::Builder::new()
                .prefix(".bulwark-archive-")
                .tempdir()
                .map_err(io_err(Path::new("temporary directory")))?;
            let dir = tmp.path().join("layout");
            let tag = reference.clone().unwrap_or_else(|| "latest".to_string());
            if file.exists() {
                docker::import(&file, reference.as_deref(), &dir, &tag)?;
            }
            return Ok(Self {
                store: Store::Layout {
                    origin: format!("docker-archive:{}", file.display()),
                    dir,
                    archive: Some(Archive {
                        file,
                        kind: ArchiveKind::Docker { reference },
                        _tmp: tmp,
                    }),
                },
                reference: Some(tag),
            });
        }
        if bulwark_registry::looks_like_registry(s) {
            let r: RegistryRef = s.parse()?;
            let reference = r
                .digest()
                .map(str::to_string)
                .or_else(|| r.tag().map(str::to_string));
            return Ok(Self {
                store: Store::Registry {
                    client: Box::new(Registry::new(opts.clone())?),
                    repo: r,
                },
                reference,
            });
        }
        Err(Error::Reference(s.to_string()))
    }

    /// The manifest or index the target names.
    ///
    /// # Errors
    /// Missing tag, ambiguous layout, registry errors.
    pub fn resolve(&self) -> Result<Object, Error> {
        self.store.resolve(self.reference.as_deref())
    }
}

/// Unpacks an OCI archive into `dir`, taking only `oci-layout`, `index.json`
/// and `blobs/sha256/<hex>` regular files (anything else is ignored), so a
/// hostile archive cannot write elsewhere.
fn unpack_layout_archive(file: &Path, dir: &Path) -> Result<(), Error> {
    let f = bulwark_limits::open_regular(file, "OCI archive").map_err(|e| Error::Invalid {
        origin: format!("oci-archive:{}", file.display()),
        detail: e.to_string(),
    })?;
    let mut a = tar::Archive::new(f);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(io_err(&blobs))?;
    for e in a.entries().map_err(io_err(file))? {
        let mut e = e.map_err(io_err(file))?;
        if !e.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&e.path_bytes())
            .trim_start_matches("./")
            .to_string();
        let dest = if name == "oci-layout" || name == "index.json" {
            dir.join(&name)
        } else if let Some(hex) = name.strip_prefix("blobs/sha256/")
            && sha256_hex(&format!("sha256:{hex}")).is_some()
        {
            blobs.join(hex)
        } else {
            continue;
        };
        let mut out = std::fs::File::create(&dest).map_err(io_err(&dest))?;
        std::io::copy(&mut e, &mut out).map_err(io_err(&dest))?;
    }
    Ok(())
}

impl Store {
    /// The name to show in messages.
    #[must_use]
    pub fn origin(&self) -> String {
        match self {
            Self::Layout { origin, .. } => origin.clone(),
            Self::Registry { repo, .. } => repo.repo_name(),
        }
    }

    /// False for a docker archive, which has nowhere to keep signatures,
    /// attestations or other referrers.
    #[must_use]
    pub fn holds_referrers(&self) -> bool {
        !matches!(
            self,
            Self::Layout {
                archive: Some(Archive {
                    kind: ArchiveKind::Docker { .. },
                    ..
                }),
                ..
            }
        )
    }

    /// The identity cosign records in simple-signing payloads.
    #[must_use]
    pub fn identity(&self) -> String {
        self.origin()
    }

    fn layout_index(dir: &Path) -> Result<Index, Error> {
        let p = dir.join("index.json");
        if std::fs::symlink_metadata(&p).is_err() {
            return Ok(Index {
                schema_version: 2,
                media_type: Some(MEDIA_TYPE_INDEX.to_string()),
                manifests: vec![],
                annotations: BTreeMap::new(),
            });
        }
        let data =
            bulwark_limits::read_file(&p, MAX_JSON, "index.json").map_err(|e| Error::Invalid {
                origin: dir.display().to_string(),
                detail: e.to_string(),
            })?;
        let index: Index = serde_json::from_slice(&data).map_err(|e| Error::Invalid {
            origin: dir.display().to_string(),
            detail: format!("index.json is not an OCI index: {e}"),
        })?;
        if index.manifests.len() > bulwark_limits::MAX_CHILDREN {
            return Err(Error::Invalid {
                origin: dir.display().to_string(),
                detail: format!(
                    "index.json lists {} manifests, more than the {} allowed",
                    index.manifests.len(),
                    bulwark_limits::MAX_CHILDREN
                ),
            });
        }
        Ok(index)
    }

    /// Resolves a tag or digest (or, for a layout, its only image) to a manifest object.
    ///
    /// # Errors
    /// Not found or ambiguous.
    pub fn resolve(&self, reference: Option<&str>) -> Result<Object, Error> {
        self.fetch(reference).map(|(o, _)| o)
    }

    /// Like [`Store::resolve`], also returning the manifest's bytes (read once,
    /// checked against the digest the layout names).
    ///
    /// # Errors
    /// Not found, ambiguous, or bytes that do not match.
    pub fn fetch(&self, reference: Option<&str>) -> Result<(Object, Vec<u8>), Error> {
        match self {
            Self::Layout { dir, origin, .. } => {
                let index = Self::layout_index(dir)?;
                let images: Vec<&Descriptor> = index
                    .manifests
                    .iter()
                    .filter(|m| {
                        !m.annotations
                            .get(ANNOTATION_REF_NAME)
                            .is_some_and(|t| is_signature_tag(t))
                    })
                    .collect();
                let tags: Vec<&str> = images
                    .iter()
                    .filter_map(|m| m.annotations.get(ANNOTATION_REF_NAME).map(String::as_str))
                    .collect();
                let hint = if tags.is_empty() {
                    " (the layout has no tagged images)".to_string()
                } else {
                    format!(" (tags: {})", tags.join(", "))
                };
                let obj = match reference {
                    Some(r) if sha256_hex(r).is_some() => {
                        let size = std::fs::metadata(self.blob_path(r)?)
                            .map_err(|_| Error::NotFound {
                                origin: origin.clone(),
                                what: format!("manifest {r}"),
                                hint: String::new(),
                            })?
                            .len();
                        // The media type is read from the manifest below.
                        Object {
                            media_type: String::new(),
                            digest: r.to_string(),
                            size,
                        }
                    }
                    Some(t) => index
                        .manifests
                        .iter()
                        .find(|m| {
                            m.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(t)
                        })
                        .map(Object::from)
                        .ok_or_else(|| Error::NotFound {
                            origin: origin.clone(),
                            what: format!("tag {t:?}"),
                            hint,
                        })?,
                    None if images.len() == 1 => Object::from(images[0]),
                    None => {
                        return Err(Error::NotFound {
                            origin: origin.clone(),
                            what: if images.is_empty() {
                                "an image".to_string()
                            } else {
                                format!(
                                    "a single image ({} present; name one as {origin}:TAG)",
                                    images.len()
                                )
                            },
                            hint,
                        });
                    }
                };
                // The manifest must be what index.json says it is.
                let bytes = self.read_small(&obj)?;
                let media_type = if obj.media_type.is_empty() {
                    media_type_of(&bytes)
                } else {
                    obj.media_type
                };
                Ok((Object { media_type, ..obj }, bytes))
            }
            Self::Registry { client, repo } => {
                let r = match reference {
                    Some(d) if sha256_hex(d).is_some() => repo.at_digest(d),
                    Some(t) => repo.at_tag(t),
                    None => repo.at_tag("latest"),
                };
                let m = client.get_manifest(&r)?;
                let obj = Object {
                    media_type: m.media_type,
                    digest: m.digest,
                    size: m.bytes.len() as u64,
                };
                Ok((obj, m.bytes))
            }
        }
    }

    /// Finds a tag, `None` when it does not exist.
    ///
    /// # Errors
    /// Anything but "not found".
    pub fn find_tag(&self, tag: &str) -> Result<Option<(Object, Vec<u8>)>, Error> {
        match self.fetch(Some(tag)) {
            Ok(found) => Ok(Some(found)),
            Err(
                Error::NotFound { .. } | Error::Registry(bulwark_registry::Error::NotFound { .. }),
            ) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, Error> {
        match self {
            Self::Layout { dir, origin, .. } => {
                let hex = sha256_hex(digest).ok_or_else(|| Error::Invalid {
                    origin: origin.clone(),
                    detail: format!("{digest:?} is not a sha256 digest"),
                })?;
                Ok(dir.join("blobs/sha256").join(hex))
            }
            Self::Registry { .. } => Err(Error::Invalid {
                origin: self.origin(),
                detail: "registry blobs have no path".into(),
            }),
        }
    }

    /// Reads a JSON-sized object, verified.
    ///
    /// # Errors
    /// Missing, too large, or not matching its digest.
    pub fn read_small(&self, o: &Object) -> Result<Vec<u8>, Error> {
        if o.size > MAX_JSON {
            return Err(Error::Invalid {
                origin: self.origin(),
                detail: format!(
                    "{} is {} bytes, over the 16 MiB allowed for metadata",
                    o.digest, o.size
                ),
            });
        }
        let data = match self {
            Self::Layout { origin, .. } => {
                let p = self.blob_path(&o.digest)?;
                let f = open_blob_file(&p, origin, &o.digest)?;
                let mut data = Vec::new();
                f.take(MAX_JSON + 1)
                    .read_to_end(&mut data)
                    .map_err(io_err(&p))?;
                data
            }
            Self::Registry { client, repo } => {
                client.get_small(repo, &o.media_type, &o.digest, o.size)?
            }
        };
        let found = sha256_digest(&data);
        if found != o.digest || data.len() as u64 != o.size {
            return Err(Error::Digest {
                origin: self.origin(),
                digest: o.digest.clone(),
                expected: format!("{} bytes", o.size),
                found: format!("{found} ({} bytes)", data.len()),
            });
        }
        Ok(data)
    }

    /// Streams a blob into `out`, verified (the caller discards `out` on error).
    ///
    /// # Errors
    /// Missing or not matching its digest.
    pub fn read_blob_to(&self, o: &Object, out: &mut dyn Write) -> Result<(), Error> {
        match self {
            Self::Layout { origin, .. } => {
                let p = self.blob_path(&o.digest)?;
                let mut f = open_blob_file(&p, origin, &o.digest)?;
                let mut hasher = HashingWriter::new(out);
                // One byte past the declared size is enough to refuse it.
                std::io::copy(&mut (&mut f).take(o.size.saturating_add(1)), &mut hasher)
                    .map_err(io_err(&p))?;
                let (found, n) = hasher.finish();
                if found != o.digest || n != o.size {
                    return Err(Error::Digest {
                        origin: origin.clone(),
                        digest: o.digest.clone(),
                        expected: format!("{} bytes", o.size),
                        found: format!("{found} ({n} bytes)"),
                    });
                }
                Ok(())
            }
            Self::Registry { client, repo } => Ok(client.get_blob(repo, &o.digest, o.size, out)?),
        }
    }

    /// True if the store has blob `digest`.
    ///
    /// # Errors
    /// Registry errors.
    pub fn has_blob(&self, digest: &str) -> Result<bool, Error> {
        match self {
            Self::Layout { .. } => Ok(self.blob_path(digest)?.is_file()),
            Self::Registry { client, repo } => Ok(client.has_blob(repo, digest)?),
        }
    }

    /// Stores `data` as a blob (not a manifest) unless present.
    ///
    /// # Errors
    /// I/O or registry errors.
    pub fn put_blob(&self, data: &[u8]) -> Result<String, Error> {
        let digest = sha256_digest(data);
        if !self.has_blob(&digest)? {
            self.write_blob(data, &digest)?;
        }
        Ok(digest)
    }

    /// Stores `data` as blob `digest` without asking whether it is there.
    fn write_blob(&self, data: &[u8], digest: &str) -> Result<(), Error> {
        match self {
            Self::Layout { dir, .. } => {
                ensure_layout(dir)?;
                write_atomic(&self.blob_path(digest)?, data)
            }
            Self::Registry { client, repo } => Ok(client.put_blob(repo, data, digest)?),
        }
    }

    /// Stores a blob from a local file whose digest is known (and checked by the caller).
    fn write_blob_file(&self, path: &Path, digest: &str) -> Result<(), Error> {
        match self {
            Self::Layout { dir, .. } => {
                let p = self.blob_path(digest)?;
                ensure_layout(dir)?;
                let parent = p.parent().unwrap_or(dir);
                let mut tmp = tempfile::Builder::new()
                    .prefix(".bulwark-tmp-")
                    .tempfile_in(parent)
                    .map_err(io_err(parent))?;
                let mut f = std::fs::File::open(path).map_err(io_err(path))?;
                std::io::copy(&mut f, tmp.as_file_mut()).map_err(io_err(&p))?;
                tmp.persist(&p).map_err(|e| Error::Io {
                    path: p.display().to_string(),
                    source: e.error,
                })?;
                Ok(())
            }
            Self::Registry { client, repo } => Ok(client.put_blob_file(repo, path, digest)?),
        }
    }

    /// Mounts blob `digest` from `src` when both are repositories of one registry.
    fn mount_blob_from(&self, src: &Store, digest: &str) -> Result<bool, Error> {
        match (self, src) {
            (Self::Registry { client, repo }, Self::Registry { repo: from, .. }) => {
                Ok(client.mount_blob(repo, from, digest)?)
            }
            _ => Ok(false),
        }
    }

    /// Stores a manifest or index and, with `tag`, points the tag at it.
    ///
    /// # Errors
    /// I/O or registry errors.
    pub fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Object, Error> {
        let digest = sha256_digest(bytes);
        let obj = Object {
            media_type: media_type.to_string(),
            digest: digest.clone(),
            size: bytes.len() as u64,
        };
        match self {
            Self::Layout { dir, .. } => {
                let p = self.blob_path(&digest)?;
                ensure_layout(dir)?;
                if !p.is_file() {
                    write_atomic(&p, bytes)?;
                }
                if let Some(tag) = tag {
                    let mut index = Self::layout_index(dir)?;
                    index.manifests.retain(|m| {
                        m.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) != Some(tag)
                    });
                    index.manifests.push(Descriptor {
                        media_type: media_type.to_string(),
                        digest,
                        size: bytes.len() as u64,
                        platform: None,
                        annotations: BTreeMap::from([(
                            ANNOTATION_REF_NAME.to_string(),
                            tag.to_string(),
                        )]),
                        artifact_type: None,
                    });
                    write_atomic(&dir.join("index.json"), &bulwark_oci::to_json(&index))?;
                }
            }
            Self::Registry { client, repo } => {
                let r = match tag {
                    Some(t) => repo.at_tag(t),
                    None => repo.at_digest(&digest),
                };
                client.put_manifest(&r, bytes, media_type)?;
            }
        }
        Ok(obj)
    }

    /// Whether the store answers the OCI 1.1 referrers API (layouts and old
    /// registries do not: they use the `sha256-<hex>` tag schema).
    fn referrers_api(&self, subject: &str) -> Result<Option<Index>, Error> {
        match self {
            Self::Layout { .. } => Ok(None),
            Self::Registry { client, repo } => match client.referrers_api(repo, subject)? {
                Some(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
                None => Ok(None),
            },
        }
    }

    /// The referrers of `subject` (descriptors of manifests whose `subject` is it).
    ///
    /// # Errors
    /// Registry errors, a malformed referrers index.
    pub fn referrers(&self, subject: &str) -> Result<Vec<Descriptor>, Error> {
        if let Some(idx) = self.referrers_api(subject)? {
            return Ok(idx.manifests);
        }
        self.fallback_referrers(subject)
    }

    /// The manifests listed in the `sha256-<hex>` referrers index of `subject`.
    fn fallback_referrers(&self, subject: &str) -> Result<Vec<Descriptor>, Error> {
        let tag = digest_tag(subject, "");
        let Some((_, bytes)) = self.find_tag(&tag)? else {
            return Ok(vec![]);
        };
        let idx: Index = serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
            origin: self.origin(),
            detail: format!("referrers index at tag {tag} is not an OCI index: {e}"),
        })?;
        Ok(idx.manifests)
    }

    /// Records `referrer` (already stored, with `subject` set) as a referrer of
    /// `subject`: nothing to do where the registry indexes subjects itself,
    /// otherwise the `sha256-<hex>` index is updated.
    ///
    /// # Errors
    /// I/O or registry errors.
    pub fn add_referrer(&self, subject: &str, referrer: Descriptor) -> Result<(), Error> {
        if self.referrers_api(subject)?.is_some() {
            // The registry indexes manifests by their `subject` itself.
            return Ok(());
        }
        let tag = digest_tag(subject, "");
        let mut manifests = self.fallback_referrers(subject)?;
        if manifests.iter().any(|m| m.digest == referrer.digest) {
            return Ok(());
        }
        manifests.push(referrer);
        let index = Index {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_INDEX.to_string()),
            manifests,
            annotations: BTreeMap::new(),
        };
        self.put_manifest(&bulwark_oci::to_json(&index), MEDIA_TYPE_INDEX, Some(&tag))?;
        Ok(())
    }

    /// Packs an `oci-archive:` store back into its file (temp + rename).
    /// A no-op for layouts and registries.
    ///
    /// # Errors
    /// I/O errors.
    pub fn commit(&self) -> Result<(), Error> {
        let Self::Layout {
            dir,
            archive: Some(Archive { file, kind, .. }),
            ..
        } = self
        else {
            return Ok(());
        };
        if *kind == ArchiveKind::NewLayout {
            if !dir.exists() {
                return Ok(()); // nothing was written
            }
            if std::fs::symlink_metadata(file).is_ok() {
                return Err(Error::Invalid {
                    origin: self.origin(),
                    detail: format!(
                        "{} appeared while the layout was being written; nothing was changed there",
                        file.display()
                    ),
                });
            }
            if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            return std::fs::rename(dir, file).map_err(io_err(file));
        }
        if let ArchiveKind::Docker { reference } = kind {
            let tag = reference.clone().unwrap_or_else(|| "latest".to_string());
            return docker::export(dir, Some(&tag), file);
        }
        let parent = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        let tmp = tempfile::Builder::new()
            .prefix(".bulwark-tmp-")
            .tempfile_in(parent)
            .map_err(io_err(parent))?;
        {
            let mut b = tar::Builder::new(tmp.as_file());
            let mut names = vec!["oci-layout".to_string(), "index.json".to_string()];
            let mut blobs: Vec<String> = std::fs::read_dir(dir.join("blobs/sha256"))
                .map_err(io_err(dir))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| sha256_hex(&format!("sha256:{n}")).is_some())
                .collect();
            blobs.sort();
            names.extend(blobs.into_iter().map(|h| format!("blobs/sha256/{h}")));
            for name in names {
                let p = dir.join(&name);
                let mut f = std::fs::File::open(&p).map_err(io_err(&p))?;
                let len = f.metadata().map_err(io_err(&p))?.len();
                let mut h = tar::Header::new_ustar();
                h.set_size(len);
                h.set_mode(0o644);
                h.set_mtime(0);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, &name, &mut f).map_err(io_err(&p))?;
            }
            b.finish().map_err(io_err(file))?;
        }
        tmp.persist(file).map_err(|e| Error::Io {
            path: file.display().to_string(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// Opens a layout blob: missing is "not found", and anything but a regular
/// file (a FIFO would block, a device never end) is refused.
fn open_blob_file(p: &Path, origin: &str, digest: &str) -> Result<std::fs::File, Error> {
    match bulwark_limits::open_regular(p, "blob") {
        Ok(f) => Ok(f),
        Err(bulwark_limits::LimitError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Err(Error::NotFound {
                origin: origin.to_owned(),
                what: format!("blob {digest}"),
                hint: String::new(),
            })
        }
        Err(e) => Err(Error::Invalid {
            origin: origin.to_owned(),
            detail: e.to_string(),
        }),
    }
}

fn media_type_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| {
            v.get("mediaType")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| bulwark_oci::MEDIA_TYPE_MANIFEST.to_string())
}

fn ensure_layout(dir: &Path) -> Result<(), Error> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(io_err(&blobs))?;
    let marker = dir.join("oci-layout");
    if !marker.is_file() {
        write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    }
    Ok(())
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    bulwark_oci::write_file_atomic(path, data).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })
}

struct HashingWriter<'a> {
    inner: &'a mut dyn Write,
    hasher: sha2::Sha256,
    n: u64,
}

impl<'a> HashingWriter<'a> {
    fn new(inner: &'a mut dyn Write) -> Self {
        use sha2::Digest as _;
        Self {
            inner,
            hasher: sha2::Sha256::new(),
            n: 0,
        }
    }
    fn finish(self) -> (String, u64) {
        use sha2::Digest as _;
        (
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.n,
        )
    }
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What [`check_image`] read and verified.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CheckSummary {
    /// Indexes and manifests read and checked.
    pub manifests: usize,
    /// Configs checked.
    pub configs: usize,
    /// Layers checked (0 when layers were skipped).
    pub layers: usize,
    /// Whether layer contents were read (`false`: descriptors only).
    pub layers_read: bool,
    /// Bytes read and hashed.
    pub bytes: u64,
}

/// How deep [`check_image`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Every index, manifest, config and layer.
    Full,
    /// Every index, manifest and config; layers are not read.
    SkipLayers,
}

/// Parses the descriptors of an index (`manifests`) or a manifest
/// (`config` + `layers`), refusing malformed ones instead of skipping them.
fn children(origin: &str, obj: &Object, doc: &serde_json::Value) -> Result<Children, Error> {
    let parse = |v: &serde_json::Value, what: &str| -> Result<Object, Error> {
        let d: Descriptor = serde_json::from_value(v.clone()).map_err(|e| Error::Invalid {
            origin: origin.to_owned(),
            detail: format!("{} has a malformed {what} descriptor: {e}", obj.digest),
        })?;
        if sha256_hex(&d.digest).is_none() {
            return Err(Error::Invalid {
                origin: origin.to_owned(),
                detail: format!(
                    "{} names {what} {:?}, which is not a sha256 digest",
                    obj.digest, d.digest
                ),
            });
        }
        Ok(Object::from(&d))
    };
    let too_many = |n: usize, what: &str| Error::Invalid {
        origin: origin.to_owned(),
        detail: format!(
            "{} lists {n} {what}, more than the {} allowed",
            obj.digest,
            bulwark_limits::MAX_CHILDREN
        ),
    };
    if let Some(list) = doc.get("manifests") {
        let list = list.as_array().ok_or_else(|| Error::Invalid {
            origin: origin.to_owned(),
            detail: format!("{}: 'manifests' is not a list", obj.digest),
        })?;
        if list.len() > bulwark_limits::MAX_CHILDREN {
            return Err(too_many(list.len(), "manifests"));
        }
        let platforms = list
            .iter()
            .map(|v| {
                let o = parse(v, "manifest")?;
                let p = v.get("platform").map(|p| {
                    format!(
                        "{}/{}",
                        p["os"].as_str().unwrap_or("?"),
                        p["architecture"].as_str().unwrap_or("?")
                    )
                });
                Ok((o, p))
            })
            .collect::<Result<_, Error>>()?;
        return Ok(Children::Index(platforms));
    }
    let config = doc
        .get("config")
        .ok_or_else(|| Error::Invalid {
            origin: origin.to_owned(),
            detail: format!(
                "{} is neither an index (no 'manifests') nor an image manifest (no 'config')",
                obj.digest
            ),
        })
        .and_then(|c| parse(c, "config"))?;
    let layers = match doc.get("layers") {
        None => Vec::new(),
        Some(l) => {
            let l = l.as_array().ok_or_else(|| Error::Invalid {
                origin: origin.to_owned(),
                detail: format!("{}: 'layers' is not a list", obj.digest),
            })?;
            if l.len() > bulwark_limits::MAX_CHILDREN {
                return Err(too_many(l.len(), "layers"));
            }
            l.iter()
                .map(|v| parse(v, "layer"))
                .collect::<Result<_, _>>()?
        }
    };
    Ok(Children::Manifest { config, layers })
}

enum Children {
    /// Platform manifests (or nested indexes), with `os/arch` where given.
    Index(Vec<(Object, Option<String>)>),
    Manifest {
        config: Object,
        layers: Vec<Object>,
    },
}

/// Names the object an error is about: `layer 2 of linux/arm64 manifest
/// sha256:…` rather than a bare digest.
fn locate(e: Error, what: &str) -> Error {
    match e {
        Error::Digest {
            origin,
            digest,
            expected,
            found,
        } => Error::Digest {
            origin,
            digest: format!("{what} {digest}"),
            expected,
            found,
        },
        Error::NotFound {
            origin,
            what: w,
            hint,
        } => Error::NotFound {
            origin,
            what: format!("{w} ({what})"),
            hint,
        },
        other => other,
    }
}

/// Checks every object the image `root` (read: `bytes`) reaches against
/// its descriptor's digest and size: each index, every platform manifest
/// (nested indexes up to [`bulwark_limits::MAX_DEPTH`]), each config and,
/// with [`Depth::Full`], each layer (streamed and hashed, never kept).
/// The walk is iterative; an object reached twice is checked once.
///
/// # Errors
/// The first object that is missing, malformed, too deep or does not match
/// its digest and size, named by where it sits in the image.
pub fn check_image(
    store: &Store,
    root: &Object,
    bytes: Vec<u8>,
    depth: Depth,
) -> Result<CheckSummary, Error> {
    let origin = store.origin();
    let mut summary = CheckSummary {
        layers_read: depth == Depth::Full,
        ..CheckSummary::default()
    };
    let mut seen = BTreeSet::new();
    // (object, its bytes when already read, nesting level, where it sits)
    let mut stack: Vec<(Object, Option<Vec<u8>>, usize, String)> =
        vec![(root.clone(), Some(bytes), 0, "image".to_owned())];
    while let Some((obj, bytes, level, place)) = stack.pop() {
        if !seen.insert(obj.digest.clone()) {
            continue;
        }
        if level > bulwark_limits::MAX_DEPTH {
            return Err(Error::Invalid {
                origin,
                detail: format!(
                    "{place} {} is nested more than {} indexes deep; refusing to follow it",
                    obj.digest,
                    bulwark_limits::MAX_DEPTH
                ),
            });
        }
        let bytes = match bytes {
            Some(b) => b,
            None => store.read_small(&obj).map_err(|e| locate(e, &place))?,
        };
        summary.manifests += 1;
        summary.bytes += bytes.len() as u64;
        let doc: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
                origin: origin.clone(),
                detail: format!("{place} {} is not JSON: {e}", obj.digest),
            })?;
        match children(&origin, &obj, &doc)? {
            Children::Index(list) => {
                for (child, platform) in list.into_iter().rev() {
                    let place = match platform {
                        Some(p) => format!("{p} manifest"),
                        None => "manifest".to_owned(),
                    };
                    stack.push((child, None, level + 1, place));
                }
            }
            Children::Manifest { config, layers } => {
                let of = format!("{place} {}", obj.digest);
                if seen.insert(config.digest.clone()) {
                    let c = store
                        .read_small(&config)
                        .map_err(|e| locate(e, &format!("config of {of}")))?;
                    summary.configs += 1;
                    summary.bytes += c.len() as u64;
                }
                if depth == Depth::Full {
                    for (i, l) in layers.iter().enumerate() {
                        if !seen.insert(l.digest.clone()) {
                            continue;
                        }
                        store
                            .read_blob_to(l, &mut std::io::sink())
                            .map_err(|e| locate(e, &format!("layer {} of {of}", i + 1)))?;
                        summary.layers += 1;
                        summary.bytes += l.size;
                    }
                }
            }
        }
    }
    Ok(summary)
}

/// What [`copy`] did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CopySummary {
    /// Digest of the copied manifest or index.
    pub digest: String,
    /// Manifests and indexes written (image, platforms, referrers).
    pub manifests: usize,
    /// Blobs transferred (or mounted from another repository of the same registry).
    pub blobs_copied: usize,
    /// Blobs the destination already had.
    pub blobs_skipped: usize,
    /// Referrers (signatures, attestations) carried.
    pub referrers: usize,
}

/// Copies the image `src` names to `dst`, with every platform of an index,
/// the referrers of every manifest (and theirs), and cosign's legacy
/// `.sig`/`.att` tags. Blobs go through a temporary file and are verified
/// on the way; blobs the destination has are skipped.
///
/// # Errors
/// Any read, verification or write failure.
pub fn copy(src: &Target, dst: &Target) -> Result<CopySummary, Error> {
    let (root, bytes) = src.store.fetch(src.reference.as_deref())?;
    let mut summary = CopySummary {
        digest: root.digest.clone(),
        ..CopySummary::default()
    };
    let tag = dst
        .reference
        .clone()
        .filter(|r| sha256_hex(r).is_none())
        .or_else(|| src.reference.clone().filter(|r| sha256_hex(r).is_none()))
        .unwrap_or_else(|| "latest".to_string());
    let mut done = BTreeSet::new();
    copy_tree(
        &src.store,
        &dst.store,
        (&root, bytes),
        Some(&tag),
        &mut summary,
        &mut done,
        0,
    )?;
    Ok(summary)
}

/// Copies one manifest or index (already read: `bytes`) with everything it
/// points at, and writes it under `tag` (or untagged) once its content is there.
/// `level` counts nested indexes and referrers: the recursion stops with an
/// error past [`bulwark_limits::MAX_DEPTH`], so a hostile chain of indexes
/// cannot exhaust the stack.
fn copy_tree(
    src: &Store,
    dst: &Store,
    (obj, bytes): (&Object, Vec<u8>),
    tag: Option<&str>,
    summary: &mut CopySummary,
    done: &mut BTreeSet<String>,
    level: usize,
) -> Result<(), Error> {
    if level > bulwark_limits::MAX_DEPTH {
        return Err(Error::Invalid {
            origin: src.origin(),
            detail: format!(
                "{} is nested more than {} indexes or referrers deep; refusing to follow it",
                obj.digest,
                bulwark_limits::MAX_DEPTH
            ),
        });
    }
    if !done.insert(obj.digest.clone()) {
        if tag.is_some() {
            dst.put_manifest(&bytes, &obj.media_type, tag)?;
        }
        return Ok(());
    }
    let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
        origin: src.origin(),
        detail: format!("{} is not JSON: {e}", obj.digest),
    })?;
    let parse = |v: &serde_json::Value| -> Option<Object> {
        serde_json::from_value::<Descriptor>(v.clone())
            .ok()
            .map(|d| Object::from(&d))
    };
    if let Some(children) = doc.get("manifests").and_then(|m| m.as_array()) {
        for c in children.iter().filter_map(parse) {
            if !done.contains(&c.digest) {
                let b = src.read_small(&c)?;
                copy_tree(src, dst, (&c, b), None, summary, done, level + 1)?;
            }
        }
    } else {
        let blobs = doc
            .get("config")
            .into_iter()
            .chain(
                doc.get("layers")
                    .and_then(|l| l.as_array())
                    .into_iter()
                    .flatten(),
            )
            .filter_map(parse);
        for b in blobs {
            copy_blob(src, dst, &b, summary)?;
        }
    }
    dst.put_manifest(&bytes, &obj.media_type, tag)?;
    summary.manifests += 1;
    // Referrers and legacy signature tags of this manifest.
    let is_referrer = doc.get("subject").is_some();
    if !is_referrer {
        for r in src.referrers(&obj.digest)? {
            let ro = Object::from(&r);
            if done.contains(&ro.digest) {
                continue;
            }
            let b = src.read_small(&ro)?;
            copy_tree(src, dst, (&ro, b), None, summary, done, level + 1)?;
            dst.add_referrer(&obj.digest, r)?;
            summary.referrers += 1;
        }
        for suffix in [".sig", ".att", ".sbom"] {
            let tag = digest_tag(&obj.digest, suffix);
            if let Some((o, b)) = src.find_tag(&tag)? {
                copy_tree(src, dst, (&o, b), Some(&tag), summary, done, level + 1)?;
                summary.referrers += 1;
            }
        }
    }
    Ok(())
}

fn copy_blob(src: &Store, dst: &Store, b: &Object, summary: &mut CopySummary) -> Result<(), Error> {
    if dst.has_blob(&b.digest)? {
        summary.blobs_skipped += 1;
        return Ok(());
    }
    if dst.mount_blob_from(src, &b.digest)? {
        // Cross-repository mount: nothing to transfer.
    } else if b.size <= 1 << 20 {
        let data = src.read_small(&Object {
            media_type: String::new(),
            ..b.clone()
        })?;
        dst.write_blob(&data, &b.digest)?;
    } else {
        let mut tmp =
            tempfile::NamedTempFile::new().map_err(io_err(Path::new("temporary file")))?;
        src.read_blob_to(b, tmp.as_file_mut())?;
        tmp.as_file_mut().flush().map_err(io_err(tmp.path()))?;
        dst.write_blob_file(tmp.path(), &b.digest)?;
    }
    summary.blobs_copied += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_references_take_a_tag_or_a_digest() {
        let o = Options::default();
        let d = format!("sha256:{}", "a".repeat(64));
        let t = Target::open(&format!("oci:out/x@{d}"), &o).unwrap();
        assert_eq!(t.reference.as_deref(), Some(d.as_str()));
        assert_eq!(t.store.origin(), "oci:out/x");
        let t = Target::open("oci:out/x:v1", &o).unwrap();
        assert_eq!(t.reference.as_deref(), Some("v1"));
        // Not a digest: the part after '@' stays in the path.
        let t = Target::open("oci:out/x@y", &o).unwrap();
        assert_eq!(
            (t.reference, t.store.origin()),
            (None, "oci:out/x@y".to_owned())
        );
    }

    #[test]
    fn layout_roundtrip_referrers_and_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let a = Target::open(
            &format!("oci:{}/a:v1", tmp.path().display()),
            &Options::default(),
        )
        .unwrap();
        let config = a.store.put_blob(b"{}").unwrap();
        let layer = a.store.put_blob(&vec![7u8; 2 << 20]).unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 2 << 20}],
        });
        let mbytes = serde_json::to_vec(&manifest).unwrap();
        let m = a
            .store
            .put_manifest(&mbytes, bulwark_oci::MEDIA_TYPE_MANIFEST, Some("v1"))
            .unwrap();
        assert_eq!(a.resolve().unwrap(), m);
        let referrer = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
            "layers": [],
            "subject": {"mediaType": m.media_type, "digest": m.digest, "size": m.size},
        });
        let rbytes = serde_json::to_vec(&referrer).unwrap();
        let r = a
            .store
            .put_manifest(&rbytes, bulwark_oci::MEDIA_TYPE_MANIFEST, None)
            .unwrap();
        let desc = Descriptor {
            media_type: r.media_type.clone(),
            digest: r.digest.clone(),
            size: r.size,
            platform: None,
            annotations: BTreeMap::new(),
            artifact_type: Some("application/example".into()),
        };
        a.store.add_referrer(&m.digest, desc.clone()).unwrap();
        a.store.add_referrer(&m.digest, desc).unwrap();
        assert_eq!(a.store.referrers(&m.digest).unwrap().len(), 1);
        // Still one image without a tag: the referrers index tag is not an image.
        assert_eq!(a.store.resolve(None).unwrap(), m);
        // A new layout appears at its path only when committed.
        assert!(!tmp.path().join("a").exists());
        a.store.commit().unwrap();
        let a = Target::open(
            &format!("oci:{}/a:v1", tmp.path().display()),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(a.resolve().unwrap(), m);

        let b = Target::open(
            &format!("oci-archive:{}/b.tar:v2", tmp.path().display()),
            &Options::default(),
        )
        .unwrap();
        let s = copy(&a, &b).unwrap();
        b.store.commit().unwrap();
        assert_eq!((s.blobs_copied, s.referrers), (2, 1));
        let b = Target::open(
            &format!("oci-archive:{}/b.tar:v2", tmp.path().display()),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(b.resolve().unwrap().digest, m.digest);
        assert_eq!(b.store.referrers(&m.digest).unwrap().len(), 1);

        // A corrupted blob is refused on copy.
        let hex = layer.strip_prefix("sha256:").unwrap();
        std::fs::write(
            tmp.path().join("a/blobs/sha256").join(hex),
            vec![8u8; 2 << 20],
        )
        .unwrap();
        let c = Target::open(
            &format!("oci:{}/c:v1", tmp.path().display()),
            &Options::default(),
        )
        .unwrap();
        let err = copy(&a, &c).unwrap_err();
        assert!(err.to_string().contains("tampered"), "{err}");
    }

    #[test]
    fn hostile_archive_members_never_leave_the_private_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("evil.tar");
        {
            let mut b = tar::Builder::new(std::fs::File::create(&file).unwrap());
            let mut add = |name: &[u8], kind: tar::EntryType, data: &[u8]| {
                let mut h = tar::Header::new_gnu();
                h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
                h.set_entry_type(kind);
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append(&h, data).unwrap();
            };
            add(b"../escaped", tar::EntryType::Regular, b"x");
            add(
                b"blobs/sha256/../../../escaped2",
                tar::EntryType::Regular,
                b"x",
            );
            add(b"/abs-escaped", tar::EntryType::Regular, b"x");
            add(b"index.json", tar::EntryType::Symlink, b"");
            add(
                b"oci-layout",
                tar::EntryType::Regular,
                br#"{"imageLayoutVersion":"1.0.0"}"#,
            );
            add(
                b"index.json",
                tar::EntryType::Regular,
                br#"{"schemaVersion":2,"manifests":[]}"#,
            );
            b.finish().unwrap();
        }
        let t = Target::open(
            &format!("oci-archive:{}", file.display()),
            &Options::default(),
        )
        .unwrap();
        for escaped in ["escaped", "escaped2", "abs-escaped"] {
            assert!(!tmp.path().join(escaped).exists(), "{escaped}");
        }
        let Store::Layout { dir, .. } = &t.store else {
            panic!("not a layout")
        };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["blobs", "index.json", "oci-layout"]);
        assert!(
            std::fs::symlink_metadata(dir.join("index.json"))
                .unwrap()
                .is_file()
        );
        let err = t.resolve().unwrap_err();
        assert!(err.to_string().contains("an image"), "{err}");
    }

    #[test]
    fn a_new_layout_appears_only_on_commit_and_never_over_another() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("new");
        let t = Target::open(&format!("oci:{}:v1", dir.display()), &Options::default()).unwrap();
        t.store.put_blob(b"{}").unwrap();
        assert!(!dir.exists());
        // Someone else made the directory meanwhile: commit refuses to touch it.
        std::fs::create_dir(&dir).unwrap();
        let err = t.store.commit().unwrap_err().to_string();
        assert!(
            err.contains("appeared while the layout was being written"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn indexes_with_too_many_entries_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("wide");
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        let d = serde_json::json!({"mediaType": MEDIA_TYPE_INDEX,
            "digest": format!("sha256:{}", "a".repeat(64)), "size": 2});
        let many = vec![d; bulwark_limits::MAX_CHILDREN + 1];
        let doc = serde_json::json!({"schemaVersion": 2, "manifests": many});
        // As the layout's index.json …
        std::fs::write(dir.join("index.json"), doc.to_string()).unwrap();
        let t = Target::open(&format!("oci:{}", dir.display()), &Options::default()).unwrap();
        let err = t.resolve().unwrap_err().to_string();
        assert!(err.contains("more than the 4096 allowed"), "{err}");
        // … and as an index the image reaches.
        let bytes = doc.to_string().into_bytes();
        let root = Object {
            media_type: MEDIA_TYPE_INDEX.into(),
            digest: sha256_digest(&bytes),
            size: bytes.len() as u64,
        };
        let err = check_image(&t.store, &root, bytes, Depth::Full)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("lists 4097 manifests, more than the 4096 allowed"),
            "{err}"
        );
    }

    #[test]
    fn an_unreadable_referrers_index_is_reported_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Target::open(
            &format!("oci:{}:v1", tmp.path().display()),
            &Options::default(),
        )
        .unwrap();
        let subject = format!("sha256:{}", "b".repeat(64));
        t.store
            .put_manifest(
                b"not json",
                MEDIA_TYPE_INDEX,
                Some(&digest_tag(&subject, "")),
            )
            .unwrap();
        let d = Descriptor {
            media_type: bulwark_oci::MEDIA_TYPE_MANIFEST.into(),
            digest: format!("sha256:{}", "c".repeat(64)),
            size: 1,
            platform: None,
            annotations: BTreeMap::new(),
            artifact_type: None,
        };
        let err = t.store.add_referrer(&subject, d).unwrap_err();
        assert!(err.to_string().contains("is not an OCI index"), "{err}");
        assert!(t.store.referrers(&subject).is_err());
    }
}
