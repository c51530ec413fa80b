//! Resolving a reference to one platform's manifest, config and layer blobs.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use bulwark_oci::{Descriptor, Index, Manifest};

use crate::error::json;
use crate::platform::{index_platforms, select};
use crate::{Error, ImageRef, Object, Store, default_platform};

/// One layer blob to read.
#[derive(Clone, Debug)]
pub struct LayerBlob {
    /// The blob's digest (a docker archive's: the diff_id).
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its size, where a descriptor gives one.
    pub size: Option<u64>,
    /// Path inside a docker archive.
    member: Option<String>,
}

/// A resolved image (one platform).
#[derive(Debug)]
pub struct Opened {
    /// Where the image lives, for messages.
    pub origin: String,
    /// The platform manifest's digest (none for docker archives and root
    /// filesystems).
    pub manifest_digest: Option<String>,
    /// The manifest's bytes as read (checked against `manifest_digest`).
    pub manifest: Option<Vec<u8>>,
    /// The image config (`null` for a root filesystem).
    pub config: serde_json::Value,
    /// `sha256:` of the config's bytes as read (a docker archive's image
    /// id); none for a root filesystem.
    pub config_digest: Option<String>,
    /// The layers, bottom first.
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
    /// Where the blobs are (none for a root filesystem).
    store: Option<Arc<Store>>,
}

/// Opens one platform of the image (`platform` like `linux/arm64`; default:
/// [`default_platform`] when the reference is an index).
///
/// # Errors
/// As [`open_with`].
pub fn open(r: &ImageRef, platform: Option<&str>) -> Result<Opened, Error> {
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
) -> Result<Opened, Error> {
    match r {
        ImageRef::Registry(rr) => {
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
            resolve_platform(
                rr.to_string(),
                Arc::new(store),
                top,
                platform,
                0,
                Some(m.bytes),
            )
        }
        ImageRef::RootFs(dir) => Ok(Opened {
            origin: r.origin(),
            manifest_digest: None,
            manifest: None,
            config: serde_json::Value::Null,
            config_digest: None,
            layers: vec![],
            rootfs: Some(dir.clone()),
            top: None,
            top_index: None,
            index_entries: 0,
            repo_tags: Vec::new(),
            store: None,
        }),
        ImageRef::Oci { dir, reference } => {
            let store = Store::Layout {
                dir: dir.clone(),
                archive: None,
                origin: r.origin(),
            };
            open_layout(store, reference.as_deref(), platform)
        }
        ImageRef::OciArchive { file, tag } => {
            open_layout(Store::tar(file, r.origin())?, tag.as_deref(), platform)
        }
        ImageRef::DockerArchive { file, name } => {
            open_docker_archive(Store::tar(file, r.origin())?, name.as_deref())
        }
    }
}

/// Opens every platform of a multi-arch image, in index order (a single
/// image: just it).
///
/// # Errors
/// As [`open_with`].
pub fn open_all(r: &ImageRef, registry: &bulwark_registry::Options) -> Result<Vec<Opened>, Error> {
    let first = match open_with(r, None, registry) {
        // The host's platform is not in the index: start from any that is.
        Err(Error::NoPlatform { available, .. }) => {
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
    store: Store,
    reference: Option<&str>,
    platform: Option<&str>,
) -> Result<Opened, Error> {
    let index = store.index()?;
    let (obj, bytes) = store.fetch_in(&index, reference)?;
    let top = Descriptor {
        media_type: obj.media_type,
        digest: obj.digest,
        size: obj.size,
        platform: None,
        annotations: BTreeMap::new(),
        artifact_type: None,
    };
    resolve_platform(
        store.origin(),
        Arc::new(store),
        top,
        platform,
        index.manifests.len(),
        Some(bytes),
    )
}

fn open_docker_archive(store: Store, name: Option<&str>) -> Result<Opened, Error> {
    let origin = store.origin();
    let invalid = |detail: String| Error::Invalid {
        origin: origin.clone(),
        detail,
    };
    let entry = crate::docker::entry(&store, name)?;
    let cfg = store.read_member(&entry.config)?;
    let config: serde_json::Value = json(&cfg, &format!("{origin} {}", entry.config), "config")?;
    let diff_ids = bulwark_oci::diff_ids(&config);
    // docker save stores uncompressed layers whose digest is the diff_id:
    // without one a layer could not be verified.
    if entry.layers.len() != diff_ids.len() {
        return Err(invalid(format!(
            "manifest.json lists {} layers but the config has {} diff_ids; every layer needs one to be verified",
            entry.layers.len(),
            diff_ids.len()
        )));
    }
    let layers = entry
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(l, digest)| LayerBlob {
            digest,
            media_type: "application/vnd.docker.image.rootfs.diff.tar".into(),
            size: None,
            member: Some(l.clone()),
        })
        .collect();
    Ok(Opened {
        manifest_digest: None,
        manifest: None,
        config_digest: Some(bulwark_oci::sha256_digest(&cfg)),
        config,
        layers,
        rootfs: None,
        top: None,
        top_index: None,
        index_entries: 0,
        repo_tags: entry.repo_tags.clone().unwrap_or_default(),
        store: Some(Arc::new(store)),
        origin,
    })
}

/// Follows (nested) indexes from `top` to one platform's manifest and reads it.
fn resolve_platform(
    origin: String,
    store: Arc<Store>,
    top: Descriptor,
    platform: Option<&str>,
    index_entries: usize,
    mut top_bytes: Option<Vec<u8>>,
) -> Result<Opened, Error> {
    // `top`'s bytes when the caller already has them (a registry answers a
    // tag with the document itself): not fetched a second time.
    let mut top_index = None;
    let mut read = |d: &Descriptor| match top_bytes.take() {
        Some(b) if d.digest == top.digest => Ok(b),
        _ => store.read_small(&Object::from(d)),
    };
    let mut desc = top.clone();
    for _ in 0..bulwark_limits::MAX_DEPTH {
        if !desc.media_type.contains("index") && !desc.media_type.contains("manifest.list") {
            break;
        }
        let data = read(&desc)?;
        let idx: Index = json(&data, &format!("{origin} {}", desc.digest), "index")?;
        if desc.digest == top.digest {
            top_index = Some(data);
        }
        desc = select(&idx, platform)
            .cloned()
            .ok_or_else(|| Error::NoPlatform {
                origin: origin.clone(),
                platform: platform.map_or_else(default_platform, str::to_owned),
                available: index_platforms(&idx).join(", "),
            })?;
    }
    if !desc.media_type.contains("manifest") || desc.media_type.contains("list") {
        return Err(Error::Invalid {
            origin,
            detail: format!(
                "{} has media type {:?}, not an image manifest or index",
                desc.digest, desc.media_type
            ),
        });
    }
    let data = read(&desc)?;
    let manifest: Manifest = json(&data, &format!("{origin} {}", desc.digest), "manifest")?;
    let cfg = store.read_small(&Object::from(&manifest.config))?;
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
        config_digest: Some(manifest.config.digest.clone()),
        config,
        layers,
        rootfs: None,
        top: Some(top),
        top_index,
        index_entries,
        repo_tags: Vec::new(),
        store: Some(store),
    })
}

impl Opened {
    pub(crate) fn layer_reader(&self, l: &LayerBlob) -> Result<Box<dyn Read + Send>, Error> {
        let store = self.store()?;
        match &l.member {
            Some(m) => store.open_member(m),
            None => store.open_blob(&l.digest, l.size),
        }
    }

    /// Where the image's blobs, and its signatures and other referrers,
    /// are: the same store the image was read from, so looking for
    /// signatures opens nothing a second time.
    ///
    /// # Errors
    /// A root filesystem has none.
    pub fn store(&self) -> Result<&Store, Error> {
        self.store.as_deref().ok_or_else(|| Error::Invalid {
            origin: self.origin.clone(),
            detail: "a root filesystem has no blobs or referrers".into(),
        })
    }

    /// The platforms of a multi-arch image (`os/arch[/variant]`), or the one
    /// platform of a single image (from its config).
    ///
    /// # Errors
    /// The top-level index cannot be read.
    pub fn platforms(&self) -> Result<Vec<String>, Error> {
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

    /// The objects signatures of this image may be attached to: the
    /// reference's top (an index or the manifest) and the platform
    /// manifest.
    #[must_use]
    pub fn subjects(&self) -> Vec<Object> {
        let mut out: Vec<Object> = self.top.iter().map(Object::from).collect();
        if let (Some(d), Some(m)) = (&self.manifest_digest, &self.manifest)
            && !out.iter().any(|o| &o.digest == d)
        {
            out.push(Object {
                media_type: serde_json::from_slice::<serde_json::Value>(m)
                    .ok()
                    .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| bulwark_oci::MEDIA_TYPE_MANIFEST.to_owned()),
                digest: d.clone(),
                size: m.len() as u64,
            });
        }
        out
    }

    /// Opens another platform of the same image (for `--all-platforms`).
    ///
    /// # Errors
    /// As [`open`].
    pub fn reopen(&self, platform: &str) -> Result<Opened, Error> {
        let top = self.top.clone().ok_or_else(|| Error::Invalid {
            origin: self.origin.clone(),
            detail: "has one platform only".into(),
        })?;
        resolve_platform(
            self.origin.clone(),
            self.store.clone().ok_or_else(|| Error::Invalid {
                origin: self.origin.clone(),
                detail: "has no blobs".into(),
            })?,
            top,
            Some(platform),
            self.index_entries,
            self.top_index.clone(),
        )
    }
}
