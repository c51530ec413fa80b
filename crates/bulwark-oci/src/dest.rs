//! Destinations and atomic writes.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::types::*;

/// Where the writer puts an image (parsed from a reference by
/// `bulwark-image`; this crate does not parse references).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// `oci:DIR[:TAG]`
    Oci { dir: PathBuf, tag: Option<String> },
    /// `oci-archive:FILE[:TAG]`
    OciArchive { file: PathBuf, tag: Option<String> },
    /// `docker-archive:FILE[:NAME:TAG]`
    DockerArchive {
        file: PathBuf,
        reference: Option<String>,
    },
}

/// A destination that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} exists and is not an OCI image layout (no oci-layout file); choose another directory or remove it"
    )]
    NotALayout { path: PathBuf },
    #[error("{path}: existing index.json is not valid: {reason}")]
    BadIndex { path: PathBuf, reason: String },
    #[error(
        "docker-archive holds a single platform, but the build produced {0}; write oci:/oci-archive: for multi-arch images, or build one arch"
    )]
    MultiArchDockerArchive(usize),
}

/// What was written.
#[derive(Clone, Debug)]
pub struct WriteSummary {
    /// Digest of the top-level manifest or index.
    pub digest: String,
    pub media_type: String,
    /// Platform → manifest digest.
    pub manifests: Vec<(Platform, String)>,
}

impl Destination {
    /// The path written (directory or file).
    pub fn path(&self) -> &Path {
        match self {
            Destination::Oci { dir, .. } => dir,
            Destination::OciArchive { file, .. } | Destination::DockerArchive { file, .. } => file,
        }
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> DestinationError + '_ {
    move |source| DestinationError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes images to `dest`. One image gives a manifest; several give an
/// image index. Atomic: on error nothing is left at `dest` that was not there before.
pub fn write_images(
    dest: &Destination,
    images: &[Image],
    index_annotations: BTreeMap<String, String>,
) -> Result<WriteSummary, DestinationError> {
    let (top, index_blob) = if images.len() == 1 {
        (images[0].descriptor(), None)
    } else {
        let b = build_index(images, index_annotations);
        (b.descriptor(), Some(b))
    };
    let summary = WriteSummary {
        digest: top.digest.clone(),
        media_type: top.media_type.clone(),
        manifests: images
            .iter()
            .map(|i| (i.platform.clone(), i.manifest.digest.clone()))
            .collect(),
    };
    let mut blobs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for img in images {
        for l in &img.layers {
            blobs
                .entry(l.digest.clone())
                .or_insert_with(|| l.blob.clone());
        }
        blobs.insert(img.config.digest.clone(), img.config.data.clone());
        blobs.insert(img.manifest.digest.clone(), img.manifest.data.clone());
    }
    if let Some(b) = &index_blob {
        blobs.insert(b.digest.clone(), b.data.clone());
    }
    match dest {
        Destination::Oci { dir, tag } => write_layout_dir(dir, &blobs, top, tag.as_deref())?,
        Destination::OciArchive { file, tag } => {
            let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
            entries.push(("oci-layout".into(), OCI_LAYOUT.as_bytes().to_vec()));
            entries.push((
                "index.json".into(),
                layout_index(vec![with_ref(top, tag.as_deref())]),
            ));
            for (d, data) in &blobs {
                entries.push((blob_path(d), data.clone()));
            }
            write_file_atomic(file, &deterministic_tar(&entries, true))?;
        }
        Destination::DockerArchive { file, reference } => {
            if images.len() != 1 {
                return Err(DestinationError::MultiArchDockerArchive(images.len()));
            }
            write_file_atomic(
                file,
                &docker_archive(&images[0], reference.as_deref()).map_err(io_err(file))?,
            )?;
        }
    }
    Ok(summary)
}

const OCI_LAYOUT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

fn with_ref(mut d: Descriptor, tag: Option<&str>) -> Descriptor {
    if let Some(t) = tag {
        d.annotations.insert(ANNOTATION_REF_NAME.into(), t.into());
    }
    d
}

fn layout_index(manifests: Vec<Descriptor>) -> Vec<u8> {
    to_json(&Index {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_INDEX.into()),
        manifests,
        annotations: BTreeMap::new(),
    })
}

fn write_layout_dir(
    dir: &Path,
    blobs: &BTreeMap<String, Vec<u8>>,
    top: Descriptor,
    tag: Option<&str>,
) -> Result<(), DestinationError> {
    let existing_layout = dir.join("oci-layout").is_file();
    if dir.exists() && !existing_layout {
        let empty = std::fs::read_dir(dir)
            .map_err(io_err(dir))?
            .next()
            .is_none();
        if !empty {
            return Err(DestinationError::NotALayout {
                path: dir.to_owned(),
            });
        }
    }
    if existing_layout {
        // Add to the existing layout: blobs are content-addressed (each
        // written atomically), then index.json is replaced atomically.
        for (d, data) in blobs {
            let p = dir.join(blob_path(d));
            if !p.is_file() {
                write_file_atomic(&p, data)?;
            }
        }
        let index_path = dir.join("index.json");
        let text = std::fs::read(&index_path).map_err(io_err(&index_path))?;
        let mut idx: Index =
            serde_json::from_slice(&text).map_err(|e| DestinationError::BadIndex {
                path: index_path.clone(),
                reason: e.to_string(),
            })?;
        let new = with_ref(top, tag);
        idx.manifests.retain(|m| match tag {
            Some(t) => m.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) != Some(t),
            None => m.annotations.contains_key(ANNOTATION_REF_NAME) && m.digest != new.digest,
        });
        idx.manifests.push(new);
        write_file_atomic(&index_path, &to_json(&idx))?;
        return Ok(());
    }
    let parent = parent_dir(dir);
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".bulwark-tmp-")
        .tempdir_in(&parent)
        .map_err(io_err(&parent))?;
    let _scratch = bulwark_limits::scratch::register(tmp.path());
    let t = tmp.path();
    std::fs::write(t.join("oci-layout"), OCI_LAYOUT).map_err(io_err(t))?;
    std::fs::write(t.join("index.json"), layout_index(vec![with_ref(top, tag)]))
        .map_err(io_err(t))?;
    let bdir = t.join("blobs/sha256");
    std::fs::create_dir_all(&bdir).map_err(io_err(&bdir))?;
    for (d, data) in blobs {
        let p = t.join(blob_path(d));
        std::fs::write(&p, data).map_err(io_err(&p))?;
    }
    set_tree_perms(t).map_err(io_err(t))?;
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(io_err(dir))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&kept);
        DestinationError::Io {
            path: dir.to_owned(),
            source: e,
        }
    })?;
    Ok(())
}

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(x) if !x.as_os_str().is_empty() => x.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn set_tree_perms(p: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(p)?;
    if meta.is_dir() {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))?;
        for e in std::fs::read_dir(p)? {
            set_tree_perms(&e?.path())?;
        }
    } else {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// Writes `data` to `path` through a temporary sibling and a rename.
pub fn write_file_atomic(path: &Path, data: &[u8]) -> Result<(), DestinationError> {
    let parent = parent_dir(path);
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".bulwark-tmp-")
        .tempfile_in(&parent)
        .map_err(io_err(&parent))?;
    let _scratch = bulwark_limits::scratch::register(tmp.path());
    tmp.write_all(data).map_err(io_err(path))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
        .map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| DestinationError::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// A tar of files (and their parent directories) in lexical order with
/// fixed metadata.
fn deterministic_tar(entries: &[(String, Vec<u8>)], with_dirs: bool) -> Vec<u8> {
    let mut files: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for (p, d) in entries {
        files.insert(p.as_str(), d.as_slice());
    }
    let mut dirs = std::collections::BTreeSet::new();
    if with_dirs {
        for p in files.keys() {
            let mut acc = String::new();
            let parts: Vec<&str> = p.split('/').collect();
            for c in &parts[..parts.len() - 1] {
                if !acc.is_empty() {
                    acc.push('/');
                }
                acc.push_str(c);
                dirs.insert(acc.clone());
            }
        }
    }
    let mut all: Vec<(String, Option<&[u8]>)> = dirs.into_iter().map(|d| (d, None)).collect();
    all.extend(files.iter().map(|(p, d)| (p.to_string(), Some(*d))));
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in all {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        match d {
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                let _ = b.append_data(&mut h, format!("{p}/"), std::io::empty());
            }
            Some(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                let _ = b.append_data(&mut h, &p, data);
            }
        }
    }
    b.into_inner().unwrap_or_default()
}

/// `docker save` format: manifest.json, the config, uncompressed layer tars.
fn docker_archive(img: &Image, reference: Option<&str>) -> std::io::Result<Vec<u8>> {
    let hex = |d: &str| d.trim_start_matches("sha256:").to_owned();
    let mut entries = Vec::new();
    let config_name = format!("{}.json", hex(&img.config.digest));
    entries.push((config_name.clone(), img.config.data.clone()));
    let mut layer_names = Vec::new();
    for l in &img.layers {
        let name = format!("{}/layer.tar", hex(&l.diff_id));
        entries.push((
            name.clone(),
            bulwark_layer::decompress(&l.blob, l.compression)?,
        ));
        layer_names.push(name);
    }
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": reference.map(|r| vec![r.to_owned()]),
        "Layers": layer_names,
    }]);
    entries.push(("manifest.json".into(), serde_json::to_vec(&manifest)?));
    Ok(deterministic_tar(&entries, true))
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Oci { dir, tag } => write!(
                f,
                "oci:{}{}",
                dir.display(),
                tag.as_ref().map(|t| format!(":{t}")).unwrap_or_default()
            ),
            Destination::OciArchive { file, tag } => write!(
                f,
                "oci-archive:{}{}",
                file.display(),
                tag.as_ref().map(|t| format!(":{t}")).unwrap_or_default()
            ),
            Destination::DockerArchive { file, reference } => write!(
                f,
                "docker-archive:{}{}",
                file.display(),
                reference
                    .as_ref()
                    .map(|t| format!(":{t}"))
                    .unwrap_or_default()
            ),
        }
    }
}
