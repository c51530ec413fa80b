//! Where blobs and manifests live: [`Store`] and [`Target`].

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bulwark_oci::{
    ANNOTATION_REF_NAME, Descriptor, Index, MEDIA_TYPE_INDEX, sha256_digest, sha256_hex,
};
use bulwark_registry::{Registry, RegistryRef};

pub use bulwark_oci::{digest_tag, is_signature_tag};
pub use bulwark_registry::Options;

use crate::error::io_err;
use crate::{Error, ImageRef, docker};

/// Largest JSON document (manifest, index, config, signature layer) read into memory.
pub const MAX_JSON: u64 = bulwark_limits::JSON_DOCUMENT;

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
    /// An archive read in place (`oci-archive:` or `docker-archive:`
    /// opened for reading): members found by name, never unpacked.
    Tar {
        /// The archive file.
        file: PathBuf,
        /// Member name → (data offset, size).
        members: BTreeMap<String, (u64, u64)>,
        /// What the user called it.
        origin: String,
    },
    /// A registry repository.
    Registry {
        /// The client.
        client: Arc<Registry>,
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
    /// Removes it on a signal too.
    _scratch: bulwark_limits::scratch::Registered,
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
    /// Opens `r` to read and write: `oci:DIR[:TAG]` (a new layout is staged
    /// and appears on [`Store::commit`]), `oci-archive:` and
    /// `docker-archive:` (unpacked to a private layout, packed again
    /// atomically on commit) or a registry repository.
    ///
    /// # Errors
    /// A root filesystem; an archive that cannot be unpacked.
    pub fn open(r: &ImageRef, opts: &Options) -> Result<Self, Error> {
        match r {
            ImageRef::Oci { dir, reference } => {
                let origin = r.origin();
                if std::fs::symlink_metadata(dir).is_ok() {
                    return Ok(Self {
                        store: Store::Layout {
                            origin,
                            dir: dir.clone(),
                            archive: None,
                        },
                        reference: reference.clone(),
                    });
                }
                // A new layout is assembled beside its final place and
                // renamed there by `commit`: a failure leaves nothing behind.
                // The nearest existing ancestor holds the temporary layout
                // (so the rename stays on one filesystem, and opening a
                // missing layout to read it creates no directories).
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
                Ok(Self {
                    store: Store::Layout {
                        origin,
                        dir: tmp.path().join("layout"),
                        archive: Some(Archive {
                            file: dir.clone(),
                            kind: ArchiveKind::NewLayout,
                            _scratch: bulwark_limits::scratch::register(tmp.path()),
                            _tmp: tmp,
                        }),
                    },
                    reference: reference.clone(),
                })
            }
            ImageRef::OciArchive { file, tag } => {
                Self::unpacked(r, file, ArchiveKind::Oci, tag.clone(), |dir| {
                    unpack_layout_archive(file, dir)
                })
            }
            ImageRef::DockerArchive { file, name } => {
                let tag = name.clone().unwrap_or_else(|| "latest".to_string());
                let kind = ArchiveKind::Docker {
                    reference: name.clone(),
                };
                Self::unpacked(r, file, kind, Some(tag.clone()), |dir| {
                    docker::import(file, name.as_deref(), dir, &tag)
                })
            }
            ImageRef::Registry(repo) => Ok(Self {
                store: Store::Registry {
                    client: Arc::new(Registry::new(opts.clone())?),
                    repo: repo.clone(),
                },
                reference: repo
                    .digest()
                    .or_else(|| repo.tag())
                    .map(str::to_string),
            }),
            ImageRef::RootFs(_) => Err(Error::Unsupported {
                reference: r.to_string(),
                detail: "a root filesystem has no manifests, signatures or referrers; use oci:, oci-archive:, docker-archive: or a registry".into(),
            }),
        }
    }

    /// An archive behind a private layout, filled from `file` by `unpack`
    /// when it exists (a new archive starts empty).
    fn unpacked(
        r: &ImageRef,
        file: &Path,
        kind: ArchiveKind,
        reference: Option<String>,
        unpack: impl FnOnce(&Path) -> Result<(), Error>,
    ) -> Result<Self, Error> {
        let tmp = tempfile::Builder::new()
            .prefix(".bulwark-archive-")
            .tempdir()
            .map_err(io_err(Path::new("temporary directory")))?;
        let dir = tmp.path().join("layout");
        if file.exists() {
            unpack(&dir)?;
        }
        Ok(Self {
            store: Store::Layout {
                origin: r.origin(),
                dir,
                archive: Some(Archive {
                    file: file.to_owned(),
                    kind,
                    _scratch: bulwark_limits::scratch::register(tmp.path()),
                    _tmp: tmp,
                }),
            },
            reference,
        })
    }

    /// Opens `r` to read only: an `oci-archive:` is read in place (nothing
    /// unpacked); everything else as [`Target::open`].
    ///
    /// # Errors
    /// As [`Target::open`]; an archive whose members cannot be listed.
    pub fn read(r: &ImageRef, opts: &Options) -> Result<Self, Error> {
        match r {
            ImageRef::OciArchive { file, tag } => Ok(Self {
                store: Store::tar(file, r.origin())?,
                reference: tag.clone(),
            }),
            _ => Self::open(r, opts),
        }
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
    /// An archive read in place: its members are listed once, then read
    /// by offset.
    ///
    /// # Errors
    /// The file is not a regular file or not a tar.
    pub fn tar(file: &Path, origin: String) -> Result<Self, Error> {
        let f =
            bulwark_limits::open_regular(file, "image archive").map_err(|e| Error::Invalid {
                origin: origin.clone(),
                detail: e.to_string(),
            })?;
        let mut a = tar::Archive::new(f);
        let mut members = BTreeMap::new();
        for e in a.entries().map_err(io_err(file))? {
            let e = e.map_err(io_err(file))?;
            if e.header().entry_type().is_file() {
                let name = String::from_utf8_lossy(&e.path_bytes())
                    .trim_start_matches("./")
                    .to_owned();
                members.insert(name, (e.raw_file_position(), e.size()));
            }
        }
        Ok(Self::Tar {
            file: file.to_owned(),
            members,
            origin,
        })
    }

    /// The name to show in messages.
    #[must_use]
    pub fn origin(&self) -> String {
        match self {
            Self::Layout { origin, .. } | Self::Tar { origin, .. } => origin.clone(),
            Self::Registry { repo, .. } => repo.repo_name(),
        }
    }

    /// False for a docker archive, which has nowhere to keep signatures,
    /// attestations or other referrers.
    #[must_use]
    pub fn holds_referrers(&self) -> bool {
        match self {
            Self::Layout {
                archive:
                    Some(Archive {
                        kind: ArchiveKind::Docker { .. },
                        ..
                    }),
                ..
            } => false,
            Self::Tar { origin, .. } => !origin.starts_with("docker-archive:"),
            _ => true,
        }
    }

    /// The identity cosign records in simple-signing payloads.
    #[must_use]
    pub fn identity(&self) -> String {
        self.origin()
    }

    /// The layout's `index.json` (empty when a new layout has none yet).
    ///
    /// # Errors
    /// Unreadable, malformed or too many entries; a registry has none.
    pub fn index(&self) -> Result<Index, Error> {
        let data = match self {
            Self::Layout { dir, origin, .. } => {
                let p = dir.join("index.json");
                if std::fs::symlink_metadata(&p).is_err() {
                    return Ok(Index {
                        schema_version: 2,
                        media_type: Some(MEDIA_TYPE_INDEX.to_string()),
                        manifests: vec![],
                        annotations: BTreeMap::new(),
                    });
                }
                bulwark_limits::read_file(&p, MAX_JSON, "index.json").map_err(|e| {
                    Error::Invalid {
                        origin: origin.clone(),
                        detail: e.to_string(),
                    }
                })?
            }
            Self::Tar { .. } => self.read_member("index.json")?,
            Self::Registry { .. } => {
                return Err(Error::Invalid {
                    origin: self.origin(),
                    detail: "a registry has no index.json".into(),
                });
            }
        };
        let index: Index = serde_json::from_slice(&data).map_err(|e| Error::Invalid {
            origin: self.origin(),
            detail: format!("index.json is not an OCI index: {e}"),
        })?;
        if index.manifests.len() > bulwark_limits::MAX_CHILDREN {
            return Err(Error::Invalid {
                origin: self.origin(),
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
            Self::Layout { .. } | Self::Tar { .. } => {
                let index = self.index()?;
                self.fetch_in(&index, reference)
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

    /// [`Store::fetch`] in a layout whose `index` was read already.
    pub(crate) fn fetch_in(
        &self,
        index: &Index,
        reference: Option<&str>,
    ) -> Result<(Object, Vec<u8>), Error> {
        let origin = self.origin();
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
        let available = if tags.is_empty() {
            "none".to_string()
        } else {
            tags.join(", ")
        };
        let obj = match reference {
            Some(r) if sha256_hex(r).is_some() => {
                let size = self.blob_size(r)?.ok_or_else(|| Error::NotFound {
                    origin: origin.clone(),
                    what: format!("manifest {r}"),
                    hint: String::new(),
                })?;
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
                .find(|m| m.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(t))
                .map(Object::from)
                .ok_or_else(|| Error::NoTag {
                    origin: origin.clone(),
                    tag: t.to_owned(),
                    available,
                })?,
            None if images.len() == 1 => Object::from(images[0]),
            None if images.is_empty() => {
                return Err(Error::NotFound {
                    origin,
                    what: "an image".to_string(),
                    hint: " (the layout has no images)".into(),
                });
            }
            None => {
                return Err(Error::NotFound {
                    origin: origin.clone(),
                    what: format!(
                        "a single image ({} present; name one as {origin}:TAG)",
                        images.len()
                    ),
                    hint: format!(" (tags: {available})"),
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

    /// Finds a tag, `None` when it does not exist.
    ///
    /// # Errors
    /// Anything but "not found".
    pub fn find_tag(&self, tag: &str) -> Result<Option<(Object, Vec<u8>)>, Error> {
        match self.fetch(Some(tag)) {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.is_not_found() => Ok(None),
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
            _ => Err(Error::Invalid {
                origin: self.origin(),
                detail: "only a layout's blobs have a path".into(),
            }),
        }
    }

    /// The stored size of a local blob (`None`: not there).
    fn blob_size(&self, digest: &str) -> Result<Option<u64>, Error> {
        match self {
            Self::Tar { members, .. } => Ok(sha256_hex(digest)
                .and_then(|h| members.get(&format!("blobs/sha256/{h}")))
                .map(|&(_, size)| size)),
            _ => Ok(std::fs::metadata(self.blob_path(digest)?)
                .ok()
                .map(|m| m.len())),
        }
    }

    /// Opens blob `digest` for streaming. At most one byte past `size` is
    /// read (enough to refuse a blob that is too long); the caller checks
    /// size and digest as it reads. A registry blob is downloaded by a
    /// thread through a bounded pipe, so the reader works while it arrives.
    ///
    /// # Errors
    /// Missing, not a regular file, or a registry error.
    pub fn open_blob(
        &self,
        digest: &str,
        size: Option<u64>,
    ) -> Result<Box<dyn Read + Send>, Error> {
        let missing = || Error::NotFound {
            origin: self.origin(),
            what: format!("blob {digest}"),
            hint: "; it is missing from the image (an incomplete copy?)".into(),
        };
        let limit = |r: Box<dyn Read + Send>| -> Box<dyn Read + Send> {
            match size {
                Some(s) => Box::new(r.take(s.saturating_add(1))),
                None => r,
            }
        };
        match self {
            Self::Layout { origin, .. } => {
                let p = self.blob_path(digest)?;
                Ok(limit(Box::new(open_blob_file(&p, origin, digest)?)))
            }
            Self::Tar { .. } => {
                let hex = sha256_hex(digest).ok_or_else(missing)?;
                self.open_member(&format!("blobs/sha256/{hex}")).map(limit)
            }
            Self::Registry { client, repo } => {
                let size = size.ok_or_else(missing)?;
                Ok(Box::new(PipedBlob::start(
                    client.clone(),
                    repo.clone(),
                    digest.to_owned(),
                    size,
                )?))
            }
        }
    }

    /// Opens a member of an archive read in place, by name.
    ///
    /// # Errors
    /// Not an archive, or no such member.
    pub fn open_member(&self, name: &str) -> Result<Box<dyn Read + Send>, Error> {
        let Self::Tar { file, members, .. } = self else {
            return Err(Error::Invalid {
                origin: self.origin(),
                detail: format!("{name}: only an archive has members"),
            });
        };
        let &(off, size) = members.get(name).ok_or_else(|| Error::NotFound {
            origin: self.origin(),
            what: name.to_owned(),
            hint: String::new(),
        })?;
        let mut f = std::fs::File::open(file).map_err(io_err(file))?;
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(off)).map_err(io_err(file))?;
        Ok(Box::new(f.take(size)))
    }

    /// A small (JSON) member of an archive read in place, by name.
    ///
    /// # Errors
    /// As [`Store::open_member`]; larger than [`MAX_JSON`].
    pub fn read_member(&self, name: &str) -> Result<Vec<u8>, Error> {
        let mut data = Vec::new();
        self.open_member(name)?
            .take(MAX_JSON + 1)
            .read_to_end(&mut data)
            .map_err(|source| Error::Io {
                path: format!("{}: {name}", self.origin()),
                source,
            })?;
        if data.len() as u64 > MAX_JSON {
            return Err(Error::Invalid {
                origin: self.origin(),
                detail: format!("{name} is larger than the 16 MiB allowed for JSON"),
            });
        }
        Ok(data)
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
            Self::Registry { client, repo } => {
                client.get_small(repo, &o.media_type, &o.digest, o.size)?
            }
            _ => {
                let mut data = Vec::new();
                self.open_blob(&o.digest, Some(o.size))?
                    .read_to_end(&mut data)
                    .map_err(|source| Error::Io {
                        path: format!("{}: {}", self.origin(), o.digest),
                        source,
                    })?;
                data
            }
        };
        check_digest(&self.origin(), o, &sha256_digest(&data), data.len() as u64)?;
        Ok(data)
    }

    /// Streams a blob into `out`, verified (the caller discards `out` on error).
    ///
    /// # Errors
    /// Missing or not matching its digest.
    pub fn read_blob_to(&self, o: &Object, out: &mut dyn Write) -> Result<(), Error> {
        if let Self::Registry { client, repo } = self {
            return Ok(client.get_blob(repo, &o.digest, o.size, out)?);
        }
        let mut r = self.open_blob(&o.digest, Some(o.size))?;
        let mut hasher = HashingWriter::new(out);
        std::io::copy(&mut r, &mut hasher).map_err(|source| Error::Io {
            path: format!("{}: {}", self.origin(), o.digest),
            source,
        })?;
        let (found, n) = hasher.finish();
        check_digest(&self.origin(), o, &found, n)
    }

    /// True if the store has blob `digest`.
    ///
    /// # Errors
    /// Registry errors.
    pub fn has_blob(&self, digest: &str) -> Result<bool, Error> {
        match self {
            Self::Layout { .. } => Ok(self.blob_path(digest)?.is_file()),
            Self::Tar { .. } => Ok(self.blob_size(digest)?.is_some()),
            Self::Registry { client, repo } => Ok(client.has_blob(repo, digest)?),
        }
    }

    /// The error for writing to an archive opened to read.
    fn read_only(&self) -> Error {
        Error::Invalid {
            origin: self.origin(),
            detail: "opened to read only; nothing can be written to it".into(),
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
    pub(crate) fn write_blob(&self, data: &[u8], digest: &str) -> Result<(), Error> {
        match self {
            Self::Layout { dir, .. } => {
                ensure_layout(dir)?;
                write_atomic(&self.blob_path(digest)?, data)
            }
            Self::Registry { client, repo } => Ok(client.put_blob(repo, data, digest)?),
            Self::Tar { .. } => Err(self.read_only()),
        }
    }

    /// Stores a blob from a local file whose digest is known (and checked by the caller).
    pub(crate) fn write_blob_file(&self, path: &Path, digest: &str) -> Result<(), Error> {
        match self {
            Self::Layout { dir, .. } => {
                let p = self.blob_path(digest)?;
                ensure_layout(dir)?;
                let parent = p.parent().unwrap_or(dir);
                let mut tmp = tempfile::Builder::new()
                    .prefix(".bulwark-tmp-")
                    .tempfile_in(parent)
                    .map_err(io_err(parent))?;
                let _scratch = bulwark_limits::scratch::register(tmp.path());
                let mut f = std::fs::File::open(path).map_err(io_err(path))?;
                std::io::copy(&mut f, tmp.as_file_mut()).map_err(io_err(&p))?;
                tmp.persist(&p).map_err(|e| Error::Io {
                    path: p.display().to_string(),
                    source: e.error,
                })?;
                Ok(())
            }
            Self::Registry { client, repo } => Ok(client.put_blob_file(repo, path, digest)?),
            Self::Tar { .. } => Err(self.read_only()),
        }
    }

    /// Mounts blob `digest` from `src` when both are repositories of one registry.
    pub(crate) fn mount_blob_from(&self, src: &Store, digest: &str) -> Result<bool, Error> {
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
                    let mut index = self.index()?;
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
            Self::Tar { .. } => return Err(self.read_only()),
        }
        Ok(obj)
    }

    /// Whether the store answers the OCI 1.1 referrers API (layouts and old
    /// registries do not: they use the `sha256-<hex>` tag schema).
    fn referrers_api(&self, subject: &str) -> Result<Option<Index>, Error> {
        match self {
            Self::Layout { .. } | Self::Tar { .. } => Ok(None),
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
        let _scratch = bulwark_limits::scratch::register(tmp.path());
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
                hint: "; it is missing from the image (an incomplete copy?)".into(),
            })
        }
        Err(e) => Err(Error::Invalid {
            origin: origin.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Checks what was read (`found`, `n` bytes) against `o`.
fn check_digest(origin: &str, o: &Object, found: &str, n: u64) -> Result<(), Error> {
    if found != o.digest || n != o.size {
        return Err(Error::Digest {
            origin: origin.to_owned(),
            digest: o.digest.clone(),
            expected: format!("{} bytes", o.size),
            found: format!("{n} bytes with {found}"),
        });
    }
    Ok(())
}

/// A registry blob streamed through a bounded pipe by a thread, so a layer
/// walk inflates and parses while the download goes on. The reader checks
/// size and digest itself; a download error surfaces as a read error at the
/// end.
struct PipedBlob {
    reader: bulwark_limits::PipeReader,
    thread: Option<std::thread::JoinHandle<Result<(), bulwark_registry::Error>>>,
}

impl PipedBlob {
    fn start(
        client: Arc<Registry>,
        repo: RegistryRef,
        digest: String,
        size: u64,
    ) -> Result<Self, Error> {
        let (mut writer, reader) = bulwark_limits::pipe(16);
        let thread = std::thread::Builder::new()
            .name("blob-download".into())
            .spawn(move || client.get_blob(&repo, &digest, size, &mut writer))
            .map_err(io_err(Path::new("download thread")))?;
        Ok(Self {
            reader,
            thread: Some(thread),
        })
    }
}

impl Read for PipedBlob {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.reader.read(buf)?;
        if n == 0
            && !buf.is_empty()
            && let Some(t) = self.thread.take()
        {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(std::io::Error::other(e.to_string())),
                Err(_) => return Err(std::io::Error::other("the download thread panicked")),
            }
        }
        Ok(n)
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Depth, check_image, copy};

    fn target(s: &str) -> Target {
        Target::open(&s.parse().unwrap(), &Options::default()).unwrap()
    }

    #[test]
    fn layout_references_take_a_tag_or_a_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        let t = target(&format!("oci:out/x@{d}"));
        assert_eq!(t.reference.as_deref(), Some(d.as_str()));
        assert_eq!(t.store.origin(), "oci:out/x");
        let t = target("oci:out/x:v1");
        assert_eq!(t.reference.as_deref(), Some("v1"));
        // Not a digest: the part after '@' stays in the path.
        let t = target("oci:out/x@y");
        assert_eq!(
            (t.reference, t.store.origin()),
            (None, "oci:out/x@y".to_owned())
        );
    }

    #[test]
    fn layout_roundtrip_referrers_and_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let a = target(&format!("oci:{}/a:v1", tmp.path().display()));
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
        let a = target(&format!("oci:{}/a:v1", tmp.path().display()));
        assert_eq!(a.resolve().unwrap(), m);

        let b = target(&format!("oci-archive:{}/b.tar:v2", tmp.path().display()));
        let s = copy(&a, &b).unwrap();
        b.store.commit().unwrap();
        assert_eq!((s.blobs_copied, s.referrers), (2, 1));
        let b = target(&format!("oci-archive:{}/b.tar:v2", tmp.path().display()));
        assert_eq!(b.resolve().unwrap().digest, m.digest);
        assert_eq!(b.store.referrers(&m.digest).unwrap().len(), 1);

        // A corrupted blob is refused on copy.
        let hex = layer.strip_prefix("sha256:").unwrap();
        std::fs::write(
            tmp.path().join("a/blobs/sha256").join(hex),
            vec![8u8; 2 << 20],
        )
        .unwrap();
        let c = target(&format!("oci:{}/c:v1", tmp.path().display()));
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
        let t = target(&format!("oci-archive:{}", file.display()));
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
        let t = target(&format!("oci:{}:v1", dir.display()));
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
        let t = target(&format!("oci:{}", dir.display()));
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
        let t = target(&format!("oci:{}:v1", tmp.path().display()));
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
