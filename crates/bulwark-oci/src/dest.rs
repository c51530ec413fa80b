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
    // Layers may be in temporary files (large user files): every writer
    // below streams them rather than holding a copy.
    let mut blobs: BTreeMap<String, Source<'_>> = BTreeMap::new();
    for img in images {
        for l in &img.layers {
            blobs
                .entry(l.digest.clone())
                .or_insert(Source::Content(&l.blob));
        }
        blobs.insert(img.config.digest.clone(), Source::Bytes(&img.config.data));
        blobs.insert(
            img.manifest.digest.clone(),
            Source::Bytes(&img.manifest.data),
        );
    }
    if let Some(b) = &index_blob {
        blobs.insert(b.digest.clone(), Source::Bytes(&b.data));
    }
    match dest {
        Destination::Oci { dir, tag } => write_layout_dir(dir, &blobs, top, tag.as_deref())?,
        Destination::OciArchive { file, tag } => {
            let index = layout_index(vec![with_ref(top, tag.as_deref())]);
            let mut entries: Vec<(String, Source<'_>)> = vec![
                ("oci-layout".into(), Source::Bytes(OCI_LAYOUT.as_bytes())),
                ("index.json".into(), Source::Bytes(&index)),
            ];
            for (d, data) in &blobs {
                entries.push((blob_path(d), *data));
            }
            write_atomic_with(file, &mut |w| deterministic_tar(&entries, true, w))?;
        }
        Destination::DockerArchive { file, reference } => {
            if images.len() != 1 {
                return Err(DestinationError::MultiArchDockerArchive(images.len()));
            }
            write_atomic_with(file, &mut |w| {
                docker_archive(&images[0], reference.as_deref(), w)
            })?;
        }
    }
    Ok(summary)
}

/// The bytes of one file the writers put in a layout or an archive.
#[derive(Clone, Copy)]
enum Source<'a> {
    Bytes(&'a [u8]),
    Content(&'a bulwark_layer::Content),
    /// A layer's tar, decompressed from its blob on the way.
    Tar(&'a bulwark_layer::Layer),
}

impl Source<'_> {
    fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::Content(c) => c.len(),
            Source::Tar(l) => l.tar_size,
        }
    }

    /// A reader of exactly [`Source::len`] bytes (`name` for errors).
    fn exact_reader(&self, name: &str) -> std::io::Result<Exact<'_>> {
        let inner: Box<dyn std::io::Read + '_> = match self {
            Source::Bytes(b) => Box::new(*b),
            Source::Content(c) => c.reader()?,
            Source::Tar(l) => bulwark_layer::decoder(l.blob.reader()?, l.compression)?,
        };
        Ok(Exact {
            inner,
            left: self.len(),
            name: match self {
                Source::Tar(l) => format!("{name} (layer {})", l.digest),
                _ => name.to_owned(),
            },
        })
    }

    /// Writes exactly [`Source::len`] bytes into `w`.
    fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        std::io::copy(&mut self.exact_reader("blob")?, w).map(drop)
    }
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
    blobs: &BTreeMap<String, Source<'_>>,
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
                write_atomic_with(&p, &mut |w| data.write_to(w))?;
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
    write_dir_atomic(dir, &mut |t| {
        std::fs::write(t.join("oci-layout"), OCI_LAYOUT)?;
        std::fs::write(
            t.join("index.json"),
            layout_index(vec![with_ref(top.clone(), tag)]),
        )?;
        let bdir = t.join("blobs/sha256");
        std::fs::create_dir_all(&bdir)?;
        for (d, data) in blobs {
            let p = t.join(blob_path(d));
            // A blob already in a temporary file of ours (a large layer, or
            // one carried over from another image) is linked, not copied,
            // when the two are on one filesystem: it is never written again.
            if let Source::Content(bulwark_layer::Content::File(spill)) = data
                && std::fs::hard_link(spill.path(), &p).is_ok()
            {
                continue;
            }
            let mut f = std::io::BufWriter::new(std::fs::File::create(&p)?);
            data.write_to(&mut f)
                .and_then(|()| f.flush())
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        }
        Ok(())
    })
}

/// Makes the directory `dir` with what `fill` writes into a temporary
/// sibling, then renames it into place: a failure leaves nothing behind.
/// Files get 0644 and directories 0755 whatever the umask. `dir` must not
/// exist, or be an empty directory (the caller checks what else it allows).
///
/// # Errors
/// `fill` fails, or the directory cannot be made or renamed.
pub fn write_dir_atomic(
    dir: &Path,
    fill: &mut dyn FnMut(&Path) -> std::io::Result<()>,
) -> Result<(), DestinationError> {
    let parent = parent_dir(dir);
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".bulwark-tmp-")
        .tempdir_in(&parent)
        .map_err(io_err(&parent))?;
    let _scratch = bulwark_limits::scratch::register(tmp.path());
    let t = tmp.path();
    fill(t).map_err(io_err(dir))?;
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
///
/// # Errors
/// The directory or the file cannot be written.
pub fn write_file_atomic(path: &Path, data: &[u8]) -> Result<(), DestinationError> {
    write_atomic_with(path, &mut |w| w.write_all(data))
}

/// Like [`write_file_atomic`], with the bytes written by `fill`.
fn write_atomic_with(
    path: &Path,
    fill: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), DestinationError> {
    let parent = parent_dir(path);
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".bulwark-tmp-")
        .tempfile_in(&parent)
        .map_err(io_err(&parent))?;
    let _scratch = bulwark_limits::scratch::register(tmp.path());
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        fill(&mut w)
            .and_then(|()| w.flush())
            .map_err(io_err(path))?;
    }
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
/// fixed metadata, written into `out`.
fn deterministic_tar(
    entries: &[(String, Source<'_>)],
    with_dirs: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut files: BTreeMap<&str, Source<'_>> = BTreeMap::new();
    for (p, d) in entries {
        files.insert(p.as_str(), *d);
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
    let mut all: Vec<(String, Option<Source<'_>>)> = dirs.into_iter().map(|d| (d, None)).collect();
    all.extend(files.iter().map(|(p, d)| (p.to_string(), Some(*d))));
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut b = tar::Builder::new(out);
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
                b.append_data(&mut h, format!("{p}/"), std::io::empty())?;
            }
            Some(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len());
                b.append_data(&mut h, &p, data.exact_reader(&p)?)?;
            }
        }
    }
    b.into_inner()?;
    Ok(())
}

/// Reads exactly `left` bytes of `inner`, failing if it has fewer or more:
/// a tar entry's header announces its size before its bytes are read.
struct Exact<'a> {
    inner: Box<dyn std::io::Read + 'a>,
    left: u64,
    name: String,
}

impl std::io::Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? != 0 {
                return Err(std::io::Error::other(format!(
                    "{}: more bytes than its size",
                    self.name
                )));
            }
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::other(format!(
                "{}: {} bytes short of its size",
                self.name, self.left
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// `docker save` format: manifest.json, the config, uncompressed layer tars.
fn docker_archive(
    img: &Image,
    reference: Option<&str>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let hex = |d: &str| d.trim_start_matches("sha256:").to_owned();
    let mut entries = Vec::new();
    let config_name = format!("{}.json", hex(&img.config.digest));
    entries.push((config_name.clone(), Source::Bytes(&img.config.data)));
    let mut layer_names = Vec::new();
    for l in &img.layers {
        let name = format!("{}/layer.tar", hex(&l.diff_id));
        entries.push((name.clone(), Source::Tar(l)));
        layer_names.push(name);
    }
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name,
        "RepoTags": reference.map(|r| vec![r.to_owned()]),
        "Layers": layer_names,
    }]))?;
    entries.push(("manifest.json".into(), Source::Bytes(&manifest)));
    deterministic_tar(&entries, true, out)
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
