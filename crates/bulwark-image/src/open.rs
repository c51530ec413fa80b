//! Resolving a reference to a manifest, a config and layer blobs.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bulwark_oci::{Descriptor, Index, Manifest};

/// Where an image is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRef {
    Oci {
        dir: PathBuf,
        tag: Option<String>,
    },
    OciArchive {
        file: PathBuf,
        tag: Option<String>,
    },
    DockerArchive {
        file: PathBuf,
    },
    /// An unpacked root filesystem.
    RootFs(PathBuf),
    /// A registry reference (`HOST[:PORT]/REPO[:TAG][@DIGEST]`, optionally `docker://`).
    Registry(bulwark_registry::RegistryRef),
}

impl std::str::FromStr for ImageRef {
    type Err = ImageError;
    fn from_str(s: &str) -> Result<Self, ImageError> {
        let split = |rest: &str| match rest.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') && !p.is_empty() => {
                (PathBuf::from(p), Some(t.to_owned()))
            }
            _ => (PathBuf::from(rest), None),
        };
        if let Some(r) = s.strip_prefix("oci:") {
            let (dir, tag) = split(r);
            return Ok(ImageRef::Oci { dir, tag });
        }
        if let Some(r) = s.strip_prefix("oci-archive:") {
            let (file, tag) = split(r);
            return Ok(ImageRef::OciArchive { file, tag });
        }
        if let Some(r) = s.strip_prefix("docker-archive:") {
            let file = r.split(':').next().unwrap_or(r);
            return Ok(ImageRef::DockerArchive {
                file: PathBuf::from(file),
            });
        }
        if let Some(r) = s.strip_prefix("dir:") {
            return Ok(ImageRef::RootFs(PathBuf::from(r)));
        }
        if s.starts_with("docker://") {
            return registry_ref(s);
        }
        let p = Path::new(s);
        if p.is_dir() {
            if p.join("oci-layout").is_file() {
                return Ok(ImageRef::Oci {
                    dir: p.to_owned(),
                    tag: None,
                });
            }
            return Ok(ImageRef::RootFs(p.to_owned()));
        }
        if bulwark_registry::looks_like_registry(s) {
            return registry_ref(s);
        }
        Err(ImageError::Reference(s.to_owned()))
    }
}

fn registry_ref(s: &str) -> Result<ImageRef, ImageError> {
    s.parse()
        .map(ImageRef::Registry)
        .map_err(|_| ImageError::Reference(s.to_owned()))
}

/// Why an image cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "'{0}' is not an image reference; use oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, HOST[:PORT]/REPO[:TAG] or a root filesystem directory"
    )]
    Reference(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{what}: not valid JSON for an image {kind}: {reason}")]
    Json {
        what: String,
        kind: &'static str,
        reason: String,
    },
    #[error("{origin}: no image tagged {tag:?} (tags: {available})")]
    NoTag {
        origin: String,
        tag: String,
        available: String,
    },
    #[error(
        "{origin}: {count} images and no tag given; name one as {origin}:TAG (tags: {available})"
    )]
    Ambiguous {
        origin: String,
        count: usize,
        available: String,
    },
    #[error(
        "{origin}: no image for platform {platform} (has: {available}); choose one with --platform"
    )]
    NoPlatform {
        origin: String,
        platform: String,
        available: String,
    },
    #[error("{origin}: blob {digest} is missing")]
    MissingBlob { origin: String, digest: String },
    #[error(
        "{origin}: blob {digest} does not match its descriptor: expected {expected_size} bytes, found {found_size} bytes with sha256 {found}; the image is corrupt or was tampered with"
    )]
    Digest {
        origin: String,
        digest: String,
        expected_size: u64,
        found: String,
        found_size: u64,
    },
    #[error("{origin}: layer {digest}: {reason}")]
    Layer {
        origin: String,
        digest: String,
        reason: String,
    },
    #[error("{origin}: {reason}")]
    Unsupported { origin: String, reason: String },
    #[error(transparent)]
    Registry(#[from] bulwark_registry::Error),
}

/// Where blobs are read from.
#[derive(Clone, Debug)]
enum Store {
    Dir(PathBuf),
    /// A tar file: member name → (data offset, size).
    Tar {
        file: PathBuf,
        members: BTreeMap<String, (u64, u64)>,
    },
    Registry {
        client: Arc<bulwark_registry::Registry>,
        repo: bulwark_registry::RegistryRef,
    },
    None,
}

/// One layer blob to read.
#[derive(Clone, Debug)]
pub struct LayerBlob {
    pub digest: String,
    pub media_type: String,
    pub size: Option<u64>,
    /// Path inside a docker-archive.
    member: Option<String>,
}

/// A resolved image (one platform).
#[derive(Debug)]
pub struct Opened {
    pub origin: String,
    pub manifest_digest: Option<String>,
    /// The manifest's bytes as read (checked against `manifest_digest`).
    pub manifest: Option<Vec<u8>>,
    pub config: serde_json::Value,
    pub layers: Vec<LayerBlob>,
    /// For root filesystem directories.
    pub rootfs: Option<PathBuf>,
    /// What the reference named before any platform was chosen (an index or
    /// the manifest itself); signatures may be on either.
    pub top: Option<Descriptor>,
    /// How many entries the layout's `index.json` has (images, tags and
    /// referrers); 0 for registries and docker archives.
    pub index_entries: usize,
    /// The names a docker archive gives its image (`RepoTags`,
    /// `NAME:TAG`); empty for other images.
    pub repo_tags: Vec<String>,
    /// The bytes of `top` when it is an index (for other platforms).
    top_index: Option<Vec<u8>>,
    store: Store,
}

const MAX_JSON: u64 = bulwark_limits::JSON_DOCUMENT;

fn io(path: &Path) -> impl Fn(std::io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Store {
    fn open_blob(
        &self,
        origin: &str,
        digest: &str,
        member: Option<&str>,
        size: Option<u64>,
    ) -> Result<Box<dyn Read + Send>, ImageError> {
        let missing = || ImageError::MissingBlob {
            origin: origin.to_owned(),
            digest: digest.to_owned(),
        };
        let hex = bulwark_oci::sha256_hex(digest);
        match self {
            Store::Dir(d) => {
                let hex = hex.ok_or_else(missing)?;
                let p = d.join("blobs/sha256").join(hex);
                let f = match bulwark_limits::open_regular(&p, "blob") {
                    Ok(f) => f,
                    Err(bulwark_limits::LimitError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        return Err(missing());
                    }
                    Err(e) => {
                        return Err(ImageError::Unsupported {
                            origin: origin.to_owned(),
                            reason: e.to_string(),
                        });
                    }
                };
                // One byte past the declared size is enough to refuse a blob.
                Ok(match size {
                    Some(s) => Box::new(f.take(s.saturating_add(1))),
                    None => Box::new(f),
                })
            }
            Store::Tar { file, members } => {
                let name = match (member, hex) {
                    (Some(m), _) => m.to_owned(),
                    (None, Some(h)) => format!("blobs/sha256/{h}"),
                    (None, None) => return Err(missing()),
                };
                let &(off, size) = members.get(&name).ok_or_else(missing)?;
                let mut f = File::open(file).map_err(io(file))?;
                f.seek(SeekFrom::Start(off)).map_err(io(file))?;
                Ok(Box::new(f.take(size)))
            }
            Store::Registry { client, repo } => {
                if hex.is_none() {
                    return Err(missing());
                }
                let size = size.ok_or_else(missing)?;
                Ok(Box::new(PipedBlob::start(
                    client.clone(),
                    repo.clone(),
                    digest.to_owned(),
                    size,
                )?))
            }
            Store::None => Err(missing()),
        }
    }

    /// A small (JSON) member of a tar store, by name.
    fn read_member(&self, origin: &str, file: &Path, name: &str) -> Result<Vec<u8>, ImageError> {
        let mut data = Vec::new();
        self.open_blob(origin, name, Some(name), None)?
            .take(MAX_JSON)
            .read_to_end(&mut data)
            .map_err(io(file))?;
        Ok(data)
    }

    fn read_json_blob(&self, origin: &str, d: &Descriptor) -> Result<Vec<u8>, ImageError> {
        if d.size > MAX_JSON {
            return Err(ImageError::Unsupported {
                origin: origin.into(),
                reason: format!(
                    "{} is {} bytes, larger than the 16 MiB allowed for JSON",
                    d.digest, d.size
                ),
            });
        }
        let data = match self {
            Store::Registry { client, repo } => {
                client.get_small(repo, &d.media_type, &d.digest, d.size)?
            }
            _ => {
                let mut data = Vec::new();
                self.open_blob(origin, &d.digest, None, Some(d.size))?
                    .take(MAX_JSON + 1)
                    .read_to_end(&mut data)
                    .map_err(|source| ImageError::Io {
                        path: format!("{origin}: {}", d.digest),
                        source,
                    })?;
                data
            }
        };
        check_digest(origin, &d.digest, Some(d.size), &data)?;
        Ok(data)
    }
}

/// A registry blob streamed through a bounded pipe by a thread, so the
/// layer walk inflates and parses while the download goes on. The walk
/// checks size and digest itself; a download error surfaces as a read error
/// at the end.
struct PipedBlob {
    reader: bulwark_limits::PipeReader,
    thread: Option<std::thread::JoinHandle<Result<(), bulwark_registry::Error>>>,
}

impl PipedBlob {
    fn start(
        client: Arc<bulwark_registry::Registry>,
        repo: bulwark_registry::RegistryRef,
        digest: String,
        size: u64,
    ) -> Result<Self, ImageError> {
        let (mut writer, reader) = bulwark_limits::pipe(16);
        let thread = std::thread::Builder::new()
            .name("blob-download".into())
            .spawn(move || client.get_blob(&repo, &digest, size, &mut writer))
            .map_err(|source| ImageError::Io {
                path: "download thread".into(),
                source,
            })?;
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

fn check_digest(
    origin: &str,
    digest: &str,
    size: Option<u64>,
    data: &[u8],
) -> Result<(), ImageError> {
    let found = bulwark_oci::sha256_digest(data);
    if found != digest || size.is_some_and(|s| s != data.len() as u64) {
        return Err(ImageError::Digest {
            origin: origin.to_owned(),
            digest: digest.to_owned(),
            expected_size: size.unwrap_or(data.len() as u64),
            found,
            found_size: data.len() as u64,
        });
    }
    Ok(())
}

fn index_tar(file: &Path) -> Result<BTreeMap<String, (u64, u64)>, ImageError> {
    let f = bulwark_limits::open_regular(file, "image archive").map_err(|e| {
        ImageError::Unsupported {
            origin: file.display().to_string(),
            reason: e.to_string(),
        }
    })?;
    let mut a = tar::Archive::new(f);
    let mut members = BTreeMap::new();
    for e in a.entries().map_err(io(file))? {
        let e = e.map_err(io(file))?;
        if e.header().entry_type().is_file() {
            let name = String::from_utf8_lossy(&e.path_bytes())
                .trim_start_matches("./")
                .to_owned();
            members.insert(name, (e.raw_file_position(), e.size()));
        }
    }
    Ok(members)
}

fn json<T: serde::de::DeserializeOwned>(
    data: &[u8],
    what: &str,
    kind: &'static str,
) -> Result<T, ImageError> {
    serde_json::from_slice(data).map_err(|e| ImageError::Json {
        what: what.to_owned(),
        kind,
        reason: e.to_string(),
    })
}

/// Opens one platform of the image (`platform` like `linux/arm64`; default:
/// the host's when the reference is an index).
pub fn open(r: &ImageRef, platform: Option<&str>) -> Result<Opened, ImageError> {
    open_with(r, platform, &bulwark_registry::Options::default())
}

/// Like [`open`], with registry client settings (`insecure` for plain-HTTP
/// loopback registries, timeouts, retries).
///
/// # Errors
/// The reference cannot be resolved, or its metadata is missing, corrupt or
/// does not match its digests.
pub fn open_with(
    r: &ImageRef,
    platform: Option<&str>,
    registry: &bulwark_registry::Options,
) -> Result<Opened, ImageError> {
    match r {
        ImageRef::Registry(rr) => {
            let origin = rr.to_string();
            let client = Arc::new(bulwark_registry::Registry::new(registry.clone())?);
            let m = client.get_manifest(rr)?;
            let top = Descriptor {
                media_type: m.media_type.clone(),
                digest: m.digest.clone(),
                size: m.bytes.len() as u64,
                platform: None,
                annotations: BTreeMap::new(),
                artifact_type: None,
            };
            let store = Store::Registry {
                client,
                repo: rr.clone(),
            };
            resolve_platform(origin, store, top, platform, 0, Some(m.bytes))
        }
        ImageRef::RootFs(dir) => Ok(Opened {
            origin: dir.display().to_string(),
            manifest_digest: None,
            manifest: None,
            config: serde_json::Value::Null,
            layers: vec![],
            rootfs: Some(dir.clone()),
            top: None,
            top_index: None,
            index_entries: 0,
            repo_tags: Vec::new(),
            store: Store::None,
        }),
        ImageRef::Oci { dir, tag } => {
            let origin = format!("oci:{}", dir.display());
            let idx_path = dir.join("index.json");
            let data =
                bulwark_limits::read_file(&idx_path, MAX_JSON, "index.json").map_err(|e| {
                    ImageError::Unsupported {
                        origin: origin.clone(),
                        reason: e.to_string(),
                    }
                })?;
            let index: Index = json(&data, &idx_path.display().to_string(), "index")?;
            open_layout(
                origin,
                Store::Dir(dir.clone()),
                index,
                tag.as_deref(),
                platform,
            )
        }
        ImageRef::OciArchive { file, tag } => {
            let origin = format!("oci-archive:{}", file.display());
            let members = index_tar(file)?;
            let store = Store::Tar {
                file: file.clone(),
                members,
            };
            let data = store.read_member(&origin, file, "index.json")?;
            let index: Index = json(&data, &format!("{origin} index.json"), "index")?;
            open_layout(origin, store, index, tag.as_deref(), platform)
        }
        ImageRef::DockerArchive { file } => {
            let origin = format!("docker-archive:{}", file.display());
            let members = index_tar(file)?;
            let store = Store::Tar {
                file: file.clone(),
                members,
            };
            let data = store.read_member(&origin, file, "manifest.json")?;
            let m: Vec<serde_json::Value> =
                json(&data, &format!("{origin} manifest.json"), "docker manifest")?;
            let first = m.first().ok_or_else(|| ImageError::Unsupported {
                origin: origin.clone(),
                reason: "manifest.json lists no image".into(),
            })?;
            let config_name = first["Config"].as_str().unwrap_or_default().to_owned();
            let repo_tags: Vec<String> = first["RepoTags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect();
            let cfg = store.read_member(&origin, file, &config_name)?;
            let config: serde_json::Value =
                json(&cfg, &format!("{origin} {config_name}"), "config")?;
            let diff_ids = bulwark_oci::diff_ids(&config);
            let names: Vec<&str> = first["Layers"]
                .as_array()
                .map(|a| a.iter().filter_map(|l| l.as_str()).collect())
                .unwrap_or_default();
            // docker save stores uncompressed layers whose digest is the
            // diff_id: without one a layer could not be verified.
            if names.len() != diff_ids.len() {
                return Err(ImageError::Unsupported {
                    origin,
                    reason: format!(
                        "manifest.json lists {} layers but the config has {} diff_ids; every layer needs one to be verified",
                        names.len(),
                        diff_ids.len()
                    ),
                });
            }
            let layers = names
                .into_iter()
                .zip(diff_ids)
                .map(|(l, digest)| LayerBlob {
                    digest,
                    media_type: "application/vnd.docker.image.rootfs.diff.tar".into(),
                    size: None,
                    member: Some(l.to_owned()),
                })
                .collect();
            Ok(Opened {
                origin,
                manifest_digest: None,
                manifest: None,
                config,
                layers,
                rootfs: None,
                top: None,
                top_index: None,
                index_entries: 0,
                repo_tags,
                store,
            })
        }
    }
}

/// Opens every platform of a multi-arch image, in index order (a single
/// image: just it).
///
/// # Errors
/// As [`open_with`].
pub fn open_all(
    r: &ImageRef,
    registry: &bulwark_registry::Options,
) -> Result<Vec<Opened>, ImageError> {
    let first = match open_with(r, None, registry) {
        // The host's platform is not in the index: start from any that is.
        Err(ImageError::NoPlatform { available, .. }) => {
            let p = available.split(", ").next().unwrap_or_default().to_owned();
            open_with(r, Some(&p), registry)?
        }
        other => other?,
    };
    if first.top_index.is_none() {
        return Ok(vec![first]);
    }
    // Every platform in index order (the index itself is not read again;
    // the first platform's manifest and config are, which is cheap).
    first.platforms()?.iter().map(|p| first.reopen(p)).collect()
}

fn open_layout(
    origin: String,
    store: Store,
    index: Index,
    tag: Option<&str>,
    platform: Option<&str>,
) -> Result<Opened, ImageError> {
    let tags: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|m| m.annotations.get(bulwark_oci::ANNOTATION_REF_NAME).cloned())
        .collect();
    let available = if tags.is_empty() {
        "none".to_owned()
    } else {
        tags.join(", ")
    };
    // Signature and referrer-index tags (`sha256-<hex>…`) are not images.
    let images: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|m| {
            !m.annotations
                .get(bulwark_oci::ANNOTATION_REF_NAME)
                .is_some_and(|t| bulwark_oci::is_signature_tag(t))
        })
        .collect();
    let top = match tag {
        Some(t) => index
            .manifests
            .iter()
            .find(|m| {
                m.annotations
                    .get(bulwark_oci::ANNOTATION_REF_NAME)
                    .map(String::as_str)
                    == Some(t)
            })
            .ok_or_else(|| ImageError::NoTag {
                origin: origin.clone(),
                tag: t.to_owned(),
                available: available.clone(),
            })?,
        None if images.len() == 1 => images[0],
        None => {
            return Err(ImageError::Ambiguous {
                origin: origin.clone(),
                count: images.len(),
                available,
            });
        }
    };
    let entries = index.manifests.len();
    let top = top.clone();
    resolve_platform(origin, store, top, platform, entries, None)
}

fn want_platform(platform: Option<&str>) -> String {
    platform.map(str::to_owned).unwrap_or_else(|| {
        let (arch, _) =
            bulwark_debian::oci_platform(bulwark_debian::host_arch()).unwrap_or(("amd64", None));
        format!("linux/{arch}")
    })
}

fn platform_name(p: &bulwark_oci::Platform) -> String {
    format!(
        "{}/{}{}",
        p.os,
        p.architecture,
        p.variant
            .as_ref()
            .map(|v| format!("/{v}"))
            .unwrap_or_default()
    )
}

/// The image platforms an index lists (attestation entries such as
/// `unknown/unknown` left out).
fn index_platforms(idx: &Index) -> Vec<String> {
    idx.manifests
        .iter()
        .filter_map(|m| m.platform.as_ref())
        .filter(|p| p.os != "unknown" && p.architecture != "unknown")
        .map(platform_name)
        .collect()
}

/// Follows (nested) indexes from `top` to one platform's manifest and reads it.
fn resolve_platform(
    origin: String,
    store: Store,
    top: Descriptor,
    platform: Option<&str>,
    index_entries: usize,
    mut top_bytes: Option<Vec<u8>>,
) -> Result<Opened, ImageError> {
    // `top`'s bytes when the caller already has them (a registry answers a
    // tag with the document itself): not fetched a second time.
    let mut top_index = None;
    let mut read = |d: &Descriptor| match top_bytes.take() {
        Some(b) if d.digest == top.digest => Ok(b),
        _ => store.read_json_blob(&origin, d),
    };
    let mut desc = top.clone();
    for _ in 0..4 {
        if !desc.media_type.contains("index") && !desc.media_type.contains("manifest.list") {
            break;
        }
        let data = read(&desc)?;
        let idx: Index = json(&data, &format!("{origin} {}", desc.digest), "index")?;
        if desc.digest == top.digest {
            top_index = Some(data);
        }
        let want = want_platform(platform);
        desc = idx
            .manifests
            .iter()
            .find(|m| {
                m.platform.as_ref().is_some_and(|p| {
                    let full = format!("{}/{}", p.os, p.architecture);
                    want == full
                        || p.variant
                            .as_ref()
                            .is_some_and(|v| want == format!("{full}/{v}"))
                })
            })
            .cloned()
            .ok_or_else(|| ImageError::NoPlatform {
                origin: origin.clone(),
                platform: want.clone(),
                available: index_platforms(&idx).join(", "),
            })?;
    }
    if !desc.media_type.contains("manifest") || desc.media_type.contains("list") {
        return Err(ImageError::Unsupported {
            origin,
            reason: format!(
                "{} has media type {:?}, not an image manifest or index",
                desc.digest, desc.media_type
            ),
        });
    }
    let data = read(&desc)?;
    let manifest: Manifest = json(&data, &format!("{origin} {}", desc.digest), "manifest")?;
    let cfg = store.read_json_blob(&origin, &manifest.config)?;
    let config: serde_json::Value = json(
        &cfg,
        &format!("{origin} {}", manifest.config.digest),
        "config",
    )?;
    let layers = manifest
        .layers
        .iter()
        .map(|l| LayerBlob {
            digest: l.digest.clone(),
            media_type: l.media_type.clone(),
            size: Some(l.size),
            member: None,
        })
        .collect();
    Ok(Opened {
        origin,
        manifest_digest: Some(desc.digest.clone()),
        manifest: Some(data),
        config,
        layers,
        rootfs: None,
        top: Some(top),
        top_index,
        index_entries,
        repo_tags: Vec::new(),
        store,
    })
}

impl Opened {
    pub(crate) fn layer_reader(&self, l: &LayerBlob) -> Result<Box<dyn Read + Send>, ImageError> {
        self.store
            .open_blob(&self.origin, &l.digest, l.member.as_deref(), l.size)
    }

    /// The platforms of a multi-arch image (`os/arch[/variant]`), or the one
    /// platform of a single image (from its config).
    ///
    /// # Errors
    /// The top-level index cannot be read.
    pub fn platforms(&self) -> Result<Vec<String>, ImageError> {
        if let (Some(top), Some(data)) = (&self.top, &self.top_index) {
            let idx: Index = json(data, &top.digest, "index")?;
            return Ok(index_platforms(&idx));
        }
        Ok(self.platform().into_iter().collect())
    }

    /// This image's platform, from its config (`os/arch[/variant]`).
    #[must_use]
    pub fn platform(&self) -> Option<String> {
        let os = self.config["os"].as_str()?;
        let arch = self.config["architecture"].as_str()?;
        Some(match self.config["variant"].as_str() {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        })
    }

    /// Opens another platform of the same image (for `--all-platforms`).
    ///
    /// # Errors
    /// As [`open`].
    pub fn reopen(&self, platform: &str) -> Result<Opened, ImageError> {
        let top = self.top.clone().ok_or_else(|| ImageError::Unsupported {
            origin: self.origin.clone(),
            reason: "has one platform only".into(),
        })?;
        resolve_platform(
            self.origin.clone(),
            self.store.clone(),
            top,
            Some(platform),
            self.index_entries,
            self.top_index.clone(),
        )
    }
}
