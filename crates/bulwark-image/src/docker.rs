//! `docker-archive:` (what `docker save` and `podman save` write) as a store:
//! imported into a private OCI layout, exported from one on commit.
//!
//! A docker archive holds `manifest.json` (`[{Config, RepoTags, Layers}]`),
//! the config and uncompressed layer tars whose sha256 are the config's
//! `diff_ids`. Import checks every layer against its diff_id; export
//! decompresses each layer through a temporary file (memory stays flat) and
//! checks it the same way. Members are copied by the names bulwark chooses,
//! so a hostile archive cannot write anywhere else.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use bulwark_oci::{ANNOTATION_REF_NAME, Descriptor, Index, MEDIA_TYPE_INDEX, Manifest, sha256_hex};
use sha2::{Digest, Sha256};

use crate::error::io_err;
use crate::store::MAX_JSON;
use crate::{Error, Object, Store};

const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";

fn invalid(file: &Path, detail: String) -> Error {
    Error::Invalid {
        origin: format!("docker-archive:{}", file.display()),
        detail,
    }
}

/// Streams `r` into a new blob of the layout at `dir`, returning its digest and size.
fn put_blob_from(dir: &Path, r: &mut dyn Read, limit: u64) -> Result<(String, u64), Error> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(io_err(&blobs))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".bulwark-tmp-")
        .tempfile_in(&blobs)
        .map_err(io_err(&blobs))?;
    let _scratch = bulwark_limits::scratch::register(tmp.path());
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf).map_err(io_err(tmp.path()))?;
        if k == 0 {
            break;
        }
        n += k as u64;
        if n > limit {
            return Err(Error::Invalid {
                origin: dir.display().to_string(),
                detail: format!("a member is larger than the {limit} bytes allowed"),
            });
        }
        hasher.update(&buf[..k]);
        tmp.write_all(&buf[..k]).map_err(io_err(tmp.path()))?;
    }
    let hex = hex::encode(hasher.finalize());
    let dest = blobs.join(&hex);
    tmp.persist(&dest).map_err(|e| Error::Io {
        path: dest.display().to_string(),
        source: e.error,
    })?;
    Ok((format!("sha256:{hex}"), n))
}

/// An entry of `manifest.json`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Entry {
    pub(crate) config: String,
    #[serde(default)]
    pub(crate) repo_tags: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) layers: Vec<String>,
}

/// Reads `manifest.json` of the docker archive `store` (read in place) and
/// picks the image named `name` (`NAME:TAG`), or the only one.
pub(crate) fn entry(store: &Store, name: Option<&str>) -> Result<Entry, Error> {
    let origin = store.origin();
    let data = store.read_member("manifest.json").map_err(|e| match e {
        Error::NotFound { .. } => Error::Invalid {
            origin: origin.clone(),
            detail: "no manifest.json: not a docker archive".into(),
        },
        other => other,
    })?;
    let mut entries: Vec<Entry> =
        crate::error::json(&data, &format!("{origin} manifest.json"), "docker manifest")?;
    let tags = entries
        .iter()
        .flat_map(|e| e.repo_tags.iter().flatten().cloned())
        .collect::<Vec<_>>()
        .join(", ");
    let at = match name {
        Some(n) => entries
            .iter()
            .position(|e| e.repo_tags.iter().flatten().any(|t| t == n))
            .ok_or_else(|| Error::NoTag {
                origin: origin.clone(),
                tag: n.to_owned(),
                available: tags,
            })?,
        None if entries.len() == 1 => 0,
        None => {
            return Err(Error::Invalid {
                origin,
                detail: format!(
                    "{} images and none named; add :NAME:TAG (it holds: {tags})",
                    entries.len()
                ),
            });
        }
    };
    Ok(entries.swap_remove(at))
}

/// Imports the image `reference` names (or the archive's only image) from
/// the docker archive `file` into a new layout at `dir`, tagged `tag`.
pub(crate) fn import(
    file: &Path,
    reference: Option<&str>,
    dir: &Path,
    tag: &str,
) -> Result<(), Error> {
    let archive = Store::tar(file, format!("docker-archive:{}", file.display()))?;
    let entry = entry(&archive, reference)?;
    // The config and the layers, streamed into blobs (each member once).
    let mut found: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for (name, limit) in
        std::iter::once((&entry.config, MAX_JSON)).chain(entry.layers.iter().map(|l| (l, u64::MAX)))
    {
        if !found.contains_key(name) {
            let mut r = archive.open_member(name).map_err(|_| {
                invalid(
                    file,
                    format!("manifest.json names {name}, which is missing"),
                )
            })?;
            found.insert(name.clone(), put_blob_from(dir, &mut r, limit)?);
        }
    }
    let get = |name: &str| {
        found.get(name).cloned().ok_or_else(|| {
            invalid(
                file,
                format!("manifest.json names {name}, which is missing"),
            )
        })
    };
    let (config_digest, config_size) = get(&entry.config)?;
    let config_bytes = std::fs::read(
        dir.join("blobs/sha256")
            .join(config_digest.trim_start_matches("sha256:")),
    )
    .map_err(io_err(dir))?;
    let config: serde_json::Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| invalid(file, format!("{}: not a JSON config: {e}", entry.config)))?;
    let diff_ids = bulwark_oci::diff_ids(&config);
    if diff_ids.len() != entry.layers.len() {
        return Err(invalid(
            file,
            format!(
                "{} layers but {} diff_ids in the config; every layer needs one to be verified",
                entry.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::new();
    for (name, want) in entry.layers.iter().zip(diff_ids) {
        let (digest, size) = get(name)?;
        if digest != *want {
            return Err(Error::Digest {
                origin: format!("docker-archive:{}", file.display()),
                digest: want.clone(),
                expected: format!("layer {name} to be the uncompressed tar with this diff_id"),
                found: digest,
            });
        }
        layers.push(Descriptor {
            media_type: LAYER_TAR.into(),
            digest,
            size,
            platform: None,
            annotations: BTreeMap::new(),
            artifact_type: None,
        });
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: bulwark_oci::MEDIA_TYPE_MANIFEST.into(),
        config: Descriptor {
            media_type: CONFIG.into(),
            digest: config_digest,
            size: config_size,
            platform: None,
            annotations: BTreeMap::new(),
            artifact_type: None,
        },
        layers,
        annotations: BTreeMap::new(),
    };
    let bytes = serde_json::to_vec(&manifest).map_err(|e| invalid(file, e.to_string()))?;
    let (digest, size) = put_blob_from(dir, &mut bytes.as_slice(), MAX_JSON)?;
    let mut top = Descriptor {
        media_type: bulwark_oci::MEDIA_TYPE_MANIFEST.into(),
        digest,
        size,
        platform: None,
        annotations: BTreeMap::new(),
        artifact_type: None,
    };
    top.annotations
        .insert(ANNOTATION_REF_NAME.into(), tag.to_owned());
    let index = Index {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_INDEX.into()),
        manifests: vec![top],
        annotations: BTreeMap::new(),
    };
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(io_err(dir))?;
    let p = dir.join("index.json");
    std::fs::write(&p, serde_json::to_vec(&index).unwrap_or_default()).map_err(io_err(&p))?;
    Ok(())
}

/// Exports the image tagged `reference` (or the layout's only image) from
/// the layout at `dir` to the docker archive `file`, atomically. An index is
/// narrowed to the host's platform: a docker archive holds one.
pub(crate) fn export(dir: &Path, reference: Option<&str>, file: &Path) -> Result<(), Error> {
    // Reads go through the layout store: size and digest checked.
    let layout = Store::Layout {
        dir: dir.to_owned(),
        archive: None,
        origin: format!("docker-archive:{}", file.display()),
    };
    let read_blob = |d: &Descriptor| layout.read_small(&Object::from(d));
    let idx = layout.index()?;
    let images: Vec<&Descriptor> = idx
        .manifests
        .iter()
        .filter(|m| {
            m.annotations
                .get(ANNOTATION_REF_NAME)
                .is_none_or(|t| !bulwark_oci::is_signature_tag(t))
        })
        .collect();
    let skipped = idx.manifests.len() - images.len();
    if skipped > 0 {
        tracing::warn!(
            "docker-archive:{}: a docker archive cannot carry signatures or attestations; {skipped} left out",
            file.display()
        );
    }
    let top = match reference {
        Some(r) => images
            .iter()
            .find(|m| m.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(r))
            .or(images.first()),
        None => images.first(),
    }
    .copied()
    .ok_or_else(|| invalid(file, "nothing to write: the copy produced no image".into()))?;
    let mut desc = top.clone();
    if desc.media_type.contains("index") || desc.media_type.contains("manifest.list") {
        let inner: Index = serde_json::from_slice(&read_blob(&desc)?)
            .map_err(|e| invalid(file, format!("{}: {e}", desc.digest)))?;
        desc = crate::select(&inner, None).cloned().ok_or_else(|| {
            invalid(
                file,
                format!(
                    "a docker archive holds one platform and this index has no {} (it has {}); copy one platform manifest (oci:DIR@sha256:…)",
                    crate::default_platform(),
                    crate::index_platforms(&inner).join(", ")
                ),
            )
        })?;
    }
    let manifest: Manifest = serde_json::from_slice(&read_blob(&desc)?)
        .map_err(|e| invalid(file, format!("{}: not an image manifest: {e}", desc.digest)))?;
    let config_bytes = read_blob(&manifest.config)?;
    let config: serde_json::Value =
        serde_json::from_slice(&config_bytes).map_err(|e| invalid(file, format!("config: {e}")))?;
    let diff_ids = bulwark_oci::diff_ids(&config);
    if diff_ids.len() != manifest.layers.len() {
        return Err(invalid(
            file,
            format!(
                "{} layers but {} diff_ids in the config",
                manifest.layers.len(),
                diff_ids.len()
            ),
        ));
    }

    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let out = tempfile::Builder::new()
        .prefix(".bulwark-tmp-")
        .tempfile_in(parent)
        .map_err(io_err(parent))?;
    let _scratch = bulwark_limits::scratch::register(out.path());
    let header = |size: u64, dir_entry: bool| {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        if dir_entry {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(size);
        }
        h
    };
    let hex = |d: &str| d.trim_start_matches("sha256:").to_owned();
    let config_name = format!("{}.json", hex(&manifest.config.digest));
    let mut layer_names = Vec::new();
    {
        let mut b = tar::Builder::new(out.as_file());
        let mut h = header(config_bytes.len() as u64, false);
        b.append_data(&mut h, &config_name, config_bytes.as_slice())
            .map_err(io_err(file))?;
        for (l, diff_id) in manifest.layers.iter().zip(&diff_ids) {
            let src_hex = sha256_hex(&l.digest)
                .ok_or_else(|| invalid(file, format!("{} is not a sha256 digest", l.digest)))?;
            let src = dir.join("blobs/sha256").join(src_hex);
            let raw = bulwark_limits::open_regular(&src, "blob")
                .map_err(|e| invalid(file, e.to_string()))?
                .take(l.size.saturating_add(1));
            let mut plain: Box<dyn Read> = if l.media_type.contains("gzip") {
                Box::new(flate2::read::MultiGzDecoder::new(raw))
            } else if l.media_type.contains("zstd") {
                Box::new(zstd::stream::read::Decoder::new(raw).map_err(io_err(&src))?)
            } else {
                Box::new(raw)
            };
            let mut tmp = tempfile::tempfile_in(parent).map_err(io_err(parent))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            let mut n = 0u64;
            loop {
                let k = plain.read(&mut buf).map_err(io_err(&src))?;
                if k == 0 {
                    break;
                }
                n += k as u64;
                bulwark_limits::check_inflation(l.size, n).map_err(|detail| Error::Invalid {
                    origin: dir.display().to_string(),
                    detail: format!("layer {}: {detail}", l.digest),
                })?;
                hasher.update(&buf[..k]);
                tmp.write_all(&buf[..k]).map_err(io_err(parent))?;
            }
            let found = format!("sha256:{}", hex::encode(hasher.finalize()));
            if &found != diff_id {
                return Err(Error::Digest {
                    origin: dir.display().to_string(),
                    digest: l.digest.clone(),
                    expected: format!("uncompressed content with diff_id {diff_id}"),
                    found,
                });
            }
            use std::io::Seek as _;
            tmp.rewind().map_err(io_err(parent))?;
            let layer_dir = hex(diff_id);
            let mut h = header(0, true);
            b.append_data(&mut h, format!("{layer_dir}/"), std::io::empty())
                .map_err(io_err(file))?;
            let name = format!("{layer_dir}/layer.tar");
            let mut h = header(n, false);
            b.append_data(&mut h, &name, &mut tmp)
                .map_err(io_err(file))?;
            layer_names.push(name);
        }
        let repo_tags = reference.filter(|r| r.contains(':') || r.contains('/'));
        let m = serde_json::json!([{
            "Config": config_name,
            "RepoTags": repo_tags.map(|r| vec![r.to_owned()]),
            "Layers": layer_names,
        }]);
        let bytes = serde_json::to_vec(&m).map_err(|e| invalid(file, e.to_string()))?;
        let mut h = header(bytes.len() as u64, false);
        b.append_data(&mut h, "manifest.json", bytes.as_slice())
            .map_err(io_err(file))?;
        b.finish().map_err(io_err(file))?;
    }
    out.persist(file).map_err(|e| Error::Io {
        path: file.display().to_string(),
        source: e.error,
    })?;
    Ok(())
}
