//! Streaming layer walk with whiteouts, size and digest checks.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use bulwark_limits::{PipeReader, PipeWriter};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::open::{LayerBlob, Opened};

/// What a path is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    /// Character or block device.
    Device,
    Fifo,
}

/// Metadata of one path in the merged filesystem.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileInfo {
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// Symlink or hard link target.
    pub link: Option<String>,
    /// Index of the layer that last wrote the path.
    pub layer: usize,
    /// File capabilities: the `security.capability` attribute the layer
    /// gave it ([`crate::caps::describe`]). A hard link shares its
    /// target's inode, so the two show the same.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caps: Option<crate::caps::FileCaps>,
    /// Where its entry lay in the layer's tar, when the walk was asked
    /// ([`Opened::walk_full_indexed`]).
    #[serde(skip)]
    pub source: Option<SourceEntry>,
}

/// Where an entry lay in its layer's tar, for copying it as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceEntry {
    pub layer: usize,
    /// Offset of the entry's first header block (extension records
    /// included), of its data, and of the end of its data padded to 512.
    pub start: u64,
    pub data: u64,
    pub end: u64,
    /// The header block, when it is the whole entry header (no PAX or
    /// long-name records before it).
    pub header: Option<Arc<[u8; 512]>>,
}

/// A gzip layer's blob as the walk read it (a private, unnamed copy of
/// the bytes it hashed) and where its deflate blocks end.
#[derive(Debug)]
pub struct LayerCopy {
    pub file: std::fs::File,
    pub index: bulwark_deflate::gzip::GzipIndex,
}

/// An uncompressed layer tar for [`FileSystem::from_tars`].
pub struct TarLayer<'a> {
    pub tar: Box<dyn Read + 'a>,
    /// `sha256:` of the tar (for messages).
    pub diff_id: &'a str,
    /// Size of the tar, and of its compressed blob.
    pub size: u64,
    pub compressed: u64,
}

impl std::fmt::Debug for TarLayer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarLayer")
            .field("diff_id", &self.diff_id)
            .field("size", &self.size)
            .field("compressed", &self.compressed)
            .finish_non_exhaustive()
    }
}

/// The merged view of all layers.
#[derive(Clone, Debug, Default)]
pub struct FileSystem {
    pub files: BTreeMap<String, FileInfo>,
    /// Contents of the files the caller asked for (regular files up to 16 MiB).
    pub contents: BTreeMap<String, Vec<u8>>,
    /// Compressed and uncompressed size of each layer.
    pub layer_sizes: Vec<(u64, u64)>,
    /// Bytes held in `contents` (bounded by [`MAX_CAPTURED`]).
    pub captured: u64,
    /// sha256 (hex) of every regular file, when the walk was asked for them
    /// ([`Opened::walk_hashing`]).
    pub digests: BTreeMap<String, String>,
    hash: bool,
    /// Keep whole files of any size, up to [`bulwark_limits::MAX_REWRITE`]
    /// in all ([`Opened::walk_full`]).
    full: bool,
    /// sha256 of each layer's uncompressed tar, bottom first, when the walk
    /// was asked for them ([`Opened::walk_full_verified`]).
    pub diff_ids: Vec<String>,
    want_diff_ids: bool,
    /// Per layer, bottom first, when the walk was asked
    /// ([`Opened::walk_full_indexed`]): the blob and its block index
    /// (`None` for a layer that is not gzip).
    pub copies: Vec<Option<Arc<LayerCopy>>>,
    want_index: bool,
}

impl FileSystem {
    /// The merged filesystem of uncompressed layer tars the caller holds
    /// (in memory or in temporary files); `origin` names them in errors.
    /// The build uses it to describe what it has just written without
    /// reading it back.
    pub fn from_tars(
        layers: Vec<TarLayer<'_>>,
        origin: &str,
        capture: &dyn Fn(&str) -> bool,
    ) -> Result<FileSystem, Error> {
        let mut fs = FileSystem::default();
        for (idx, l) in layers.into_iter().enumerate() {
            let err = |reason: String| Error::Layer {
                origin: origin.to_owned(),
                digest: l.diff_id.to_owned(),
                reason,
            };
            let mut r = l.tar;
            apply_tar(&mut r, idx, capture, &mut fs).map_err(err)?;
            fs.layer_sizes.push((l.compressed, l.size));
        }
        fs.check_packages(origin)?;
        Ok(fs)
    }

    /// Refuses a package database with more records than
    /// [`bulwark_limits::MAX_PACKAGES`]: every document made from it (SPDX,
    /// CycloneDX) grows with it, and no real image comes close.
    fn check_packages(&self, origin: &str) -> Result<(), Error> {
        let mut n = self
            .contents
            .range("var/lib/dpkg/status.d/".to_owned()..)
            .take_while(|(p, _)| p.starts_with("var/lib/dpkg/status.d/"))
            .filter(|(p, _)| !p.ends_with(".md5sums"))
            .count();
        if let Some(status) = self.contents.get("var/lib/dpkg/status") {
            n += status
                .split(|&b| b == b'\n')
                .filter(|l| l.starts_with(b"Package:"))
                .count();
        }
        if n > bulwark_limits::MAX_PACKAGES {
            return Err(Error::Invalid {
                origin: origin.to_owned(),
                detail: format!(
                    "the dpkg database lists {n} packages, more than bulwark's limit of {} \
                     (a Debian release has about 65,000 binary packages in all)",
                    bulwark_limits::MAX_PACKAGES
                ),
            });
        }
        Ok(())
    }

    /// Follows symlinks in every component of `path` (absolute targets from
    /// the image root) and returns the final path, or `None` when it does not
    /// exist, escapes the root or loops (40 hops, like the kernel).
    #[must_use]
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut cur = path.trim_matches('/').to_owned();
        let mut hops = 0;
        'restart: loop {
            let mut done = String::new();
            let mut rest = cur.split('/').filter(|c| !c.is_empty()).peekable();
            while let Some(comp) = rest.next() {
                let candidate = if done.is_empty() {
                    comp.to_owned()
                } else {
                    format!("{done}/{comp}")
                };
                let info = self.files.get(&candidate)?;
                if info.kind == FileKind::Symlink {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    let target = info.link.as_deref()?;
                    let mut next = bulwark_deb::resolve_link_target(&candidate, target)?;
                    let tail: Vec<&str> = rest.collect();
                    if !tail.is_empty() {
                        if !next.is_empty() {
                            next.push('/');
                        }
                        next.push_str(&tail.join("/"));
                    }
                    cur = next;
                    continue 'restart;
                }
                done = candidate;
            }
            return Some(done);
        }
    }
}

use bulwark_limits::{MAX_CAPTURE, MAX_CAPTURED, MAX_ENTRIES};

/// A layer is read in a three-stage pipeline: one thread reads and hashes
/// the blob, one inflates it, and the caller's thread parses the tar. The
/// stages pass chunks through bounded pipes (2 MiB in flight each), so
/// sha256, inflation and parsing overlap and memory stays flat. Buffers go
/// back to the stage that fills them. Every chunk but the last is full,
/// whatever the source's reads return: which block ends a harden walk
/// keeps depends on these sizes, so they are constants.
const CHUNK: usize = 512 << 10;

/// Chunks of an indexed gzip layer's tar ([`Opened::walk_full_indexed`]).
const INDEXED_CHUNK: usize = 4 << 20;

/// Chunks in flight per pipe.
const DEPTH: usize = 4;

/// Copies `r` into `tx` in full chunks (fewer wake-ups, and buffers that
/// come back whole), showing each to `seen`. False when the reader failed
/// (the error was sent on) or the receiver hung up.
fn pump(r: &mut dyn Read, tx: &PipeWriter, seen: &mut dyn FnMut(&[u8])) -> bool {
    pump_chunks(r, tx, CHUNK, seen)
}

/// [`pump`] in chunks of `chunk` bytes.
fn pump_chunks(
    r: &mut dyn Read,
    tx: &PipeWriter,
    chunk: usize,
    seen: &mut dyn FnMut(&[u8]),
) -> bool {
    loop {
        let mut buf = tx.buffer(chunk);
        let mut filled = 0;
        let mut failed = None;
        while filled < buf.len() {
            match r.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(k) => filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let end = filled < buf.len();
        buf.truncate(filled);
        if filled > 0 {
            seen(&buf);
            if !tx.send(buf) {
                return false;
            }
        }
        if let Some(e) = failed {
            tx.fail(e);
            return false;
        }
        if end {
            return true;
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
}

/// Where stage 1 reports the blob's sha256 and size after its last byte,
/// and the copy it was asked to make (or why writing it failed).
type ReadDone = mpsc::Receiver<(String, u64, io::Result<Option<std::fs::File>>)>;

/// Stage 1: reads and hashes the blob, and copies it into `copy` when
/// given. The handle yields its sha256 and size once everything was read;
/// `count` follows along (for the bomb guard).
fn read_stage(
    mut raw: Box<dyn Read + Send>,
    mut copy: Option<std::fs::File>,
) -> io::Result<(PipeReader, ReadDone, Arc<AtomicU64>)> {
    let (tx, rx) = bulwark_limits::pipe(DEPTH);
    let (done_tx, done_rx) = mpsc::channel();
    let count = Arc::new(AtomicU64::new(0));
    let shared = count.clone();
    spawn("layer-read", move || {
        let mut hasher = Sha256::new();
        let mut n = 0u64;
        let mut failed = None;
        let complete = pump(&mut raw, &tx, &mut |c| {
            hasher.update(c);
            n += c.len() as u64;
            shared.store(n, Ordering::Relaxed);
            if let Some(f) = copy.as_mut()
                && let Err(e) = io::Write::write_all(f, c)
            {
                failed = Some(e);
                copy = None;
            }
        });
        if complete {
            let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
            let copy = match failed {
                Some(e) => Err(e),
                None => Ok(copy),
            };
            let _ = done_tx.send((digest, n, copy));
        }
    })?;
    Ok((rx, done_rx, count))
}

/// Stage 2: sniffs the compression (gzip, zstd or none), inflates, and then
/// drains whatever follows the compressed stream so stage 1 reads (and
/// hashes) every byte.
fn decode_stage(
    mut input: PipeReader,
    diff_id: Option<mpsc::Sender<Option<String>>>,
    index: Option<mpsc::Sender<bulwark_deflate::gzip::GzipIndex>>,
) -> io::Result<PipeReader> {
    let (out, rx) = bulwark_limits::pipe(DEPTH);
    spawn("layer-inflate", move || {
        let mut head = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match input.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => {
                    out.fail(e);
                    return;
                }
            }
        }
        let gzip = got >= 2 && head[..2] == [0x1f, 0x8b];
        let zstd = got == 4 && head == [0x28, 0xb5, 0x2f, 0xfd];
        // The tar's sha256 (its diff_id), when asked, is taken by a stage
        // of its own so that inflating does not wait for it; an
        // uncompressed layer's is the blob's own digest, which stage 1
        // computes (`None`).
        let tx = match diff_id {
            Some(ids) if gzip || zstd => {
                let (tx, mut hashed) = bulwark_limits::pipe(DEPTH);
                let spawned = spawn("layer-diff-id", move || {
                    let mut hasher = Sha256::new();
                    if pump(&mut hashed, &out, &mut |c| hasher.update(c)) {
                        let _ =
                            ids.send(Some(format!("sha256:{}", hex::encode(hasher.finalize()))));
                    }
                });
                if let Err(e) = spawned {
                    tx.fail(e);
                    return;
                }
                tx
            }
            Some(ids) => {
                let _ = ids.send(None);
                out
            }
            None => out,
        };
        let chained = io::Cursor::new(head[..got].to_vec()).chain(input);
        let mut noop = |_: &[u8]| {};
        if gzip && let Some(ix) = index {
            // Larger chunks: zlib stops less often where a block end
            // cannot be told (a full buffer), so more block ends are kept.
            let mut d = bulwark_deflate::gzip::IndexingGzip::new(chained);
            if pump_chunks(&mut d, &tx, INDEXED_CHUNK, &mut noop) {
                let (mut rest, index) = d.into_parts();
                let _ = io::copy(&mut rest, &mut io::sink());
                let _ = ix.send(index);
            }
        } else if gzip {
            let mut d = flate2::read::MultiGzDecoder::new(chained);
            if pump(&mut d, &tx, &mut noop) {
                let _ = io::copy(&mut d.into_inner(), &mut io::sink());
            }
        } else if zstd {
            match zstd::stream::read::Decoder::new(chained) {
                Ok(mut d) => {
                    if pump(&mut d, &tx, &mut noop) {
                        let _ = io::copy(&mut d.finish(), &mut io::sink());
                    }
                }
                Err(e) => tx.fail(e),
            }
        } else {
            let mut plain = chained;
            pump(&mut plain, &tx, &mut noop);
        }
    })?;
    Ok(rx)
}

/// Counts decompressed bytes and stops decompression bombs.
struct Counting<R> {
    inner: R,
    count: u64,
    compressed: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        bulwark_limits::check_inflation(self.compressed.load(Ordering::Relaxed), self.count)
            .map_err(io::Error::other)?;
        Ok(n)
    }
}

fn remove_subtree(fs: &mut FileSystem, path: &str) {
    let prefix = format!("{path}/");
    let doomed: Vec<String> = fs
        .files
        .range(path.to_owned()..)
        .take_while(|(k, _)| *k == path || k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        fs.forget(&k);
    }
}

impl FileSystem {
    /// Drops a path and its captured contents.
    fn forget(&mut self, path: &str) {
        self.files.remove(path);
        self.digests.remove(path);
        if let Some(old) = self.contents.remove(path) {
            self.captured -= old.len() as u64;
        }
    }
}

impl Opened {
    /// Walks every layer in order and returns the merged filesystem. Files
    /// for which `capture` returns true have their contents kept.
    pub fn walk(&self, capture: &dyn Fn(&str) -> bool) -> Result<FileSystem, Error> {
        self.walk_into(FileSystem::default(), capture)
    }

    /// Like [`Opened::walk`], also hashing every regular file (for
    /// comparing two images' contents); costs a sha256 pass over the data.
    pub fn walk_hashing(&self, capture: &dyn Fn(&str) -> bool) -> Result<FileSystem, Error> {
        self.walk_into(
            FileSystem {
                hash: true,
                ..FileSystem::default()
            },
            capture,
        )
    }

    /// Like [`Opened::walk`], keeping the whole contents of every regular
    /// file `capture` selects, however large, up to
    /// [`bulwark_limits::MAX_REWRITE`] in all: for rewriting an image
    /// (`bulwark harden`), which writes back every file it keeps.
    pub fn walk_full(&self, capture: &dyn Fn(&str) -> bool) -> Result<FileSystem, Error> {
        self.walk_into(
            FileSystem {
                full: true,
                ..FileSystem::default()
            },
            capture,
        )
    }

    /// Like [`Opened::walk_full`], also noting where each entry lies in
    /// its layer's tar ([`FileInfo::source`]) and, for gzip layers, where
    /// each deflate block ends, with a private copy of the blob
    /// ([`FileSystem::copies`]): what copying the unchanged parts of a
    /// layer's compressed bits takes (`bulwark harden`).
    pub fn walk_full_indexed(&self, capture: &dyn Fn(&str) -> bool) -> Result<FileSystem, Error> {
        self.walk_into(
            FileSystem {
                full: true,
                want_index: true,
                ..FileSystem::default()
            },
            capture,
        )
    }

    /// Like [`Opened::walk_full`], also hashing each layer's uncompressed
    /// tar and checking it against the config's `rootfs.diff_ids`: for
    /// carrying the layers themselves into a new image, whose config
    /// repeats those ids.
    ///
    /// # Errors
    /// As [`Opened::walk`]; a root filesystem (no layers), or a layer whose
    /// tar is not the one the config names.
    pub fn walk_full_verified(&self, capture: &dyn Fn(&str) -> bool) -> Result<FileSystem, Error> {
        if self.rootfs.is_some() {
            return Err(Error::Invalid {
                origin: self.origin.clone(),
                detail: "a root filesystem directory has no layers to carry over".into(),
            });
        }
        let fs = self.walk_into(
            FileSystem {
                full: true,
                want_diff_ids: true,
                ..FileSystem::default()
            },
            capture,
        )?;
        let declared: Vec<&str> = self.config["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        if declared.len() != fs.diff_ids.len() {
            return Err(Error::Invalid {
                origin: self.origin.clone(),
                detail: format!(
                    "the config names {} layer diff_ids, the manifest {} layers",
                    declared.len(),
                    fs.diff_ids.len()
                ),
            });
        }
        for (i, (want, found)) in declared.iter().zip(&fs.diff_ids).enumerate() {
            if want != found {
                return Err(Error::Digest {
                    origin: self.origin.clone(),
                    digest: format!("layer {} ({}), uncompressed", i + 1, self.layers[i].digest),
                    expected: format!("the config's diff_id {want}"),
                    found: found.clone(),
                });
            }
        }
        Ok(fs)
    }

    /// A reader of layer `l`'s blob as stored (compressed), checked
    /// against its digest and size: the read that reaches the end fails on
    /// a mismatch, so whoever copies it to the end has what was named.
    ///
    /// # Errors
    /// The blob cannot be opened.
    pub fn open_layer(&self, l: &LayerBlob) -> Result<Box<dyn Read + Send>, Error> {
        Ok(Box::new(Checked {
            inner: self.layer_reader(l)?,
            hasher: Sha256::new(),
            count: 0,
            digest: l.digest.clone(),
            size: l.size,
            origin: self.origin.clone(),
            done: false,
        }))
    }

    fn walk_into(
        &self,
        mut fs: FileSystem,
        capture: &dyn Fn(&str) -> bool,
    ) -> Result<FileSystem, Error> {
        if let Some(root) = &self.rootfs {
            walk_dir(root, root, capture, &mut fs).map_err(|source| Error::Io {
                path: root.display().to_string(),
                source,
            })?;
            return Ok(fs);
        }
        for (i, l) in self.layers.iter().enumerate() {
            self.walk_layer(i, l, capture, &mut fs)?;
        }
        fs.check_packages(&self.origin)?;
        Ok(fs)
    }

    fn walk_layer(
        &self,
        idx: usize,
        l: &LayerBlob,
        capture: &dyn Fn(&str) -> bool,
        fs: &mut FileSystem,
    ) -> Result<(), Error> {
        let layer_err = |reason: String| Error::Layer {
            origin: self.origin.clone(),
            digest: l.digest.clone(),
            reason,
        };
        let raw = self.layer_reader(l)?;
        // A copy that cannot be made is an error, not less reuse: the
        // layer written from it must not depend on the machine.
        let copy = if fs.want_index {
            Some(tempfile::tempfile().map_err(|e| {
                layer_err(format!(
                    "cannot make a private copy of it in TMPDIR ({e}); free space there or set TMPDIR"
                ))
            })?)
        } else {
            None
        };
        let (compressed_stream, read_done, compressed) =
            read_stage(raw, copy).map_err(|e| layer_err(e.to_string()))?;
        let (id_tx, id_rx) = mpsc::channel();
        let (ix_tx, ix_rx) = mpsc::channel();
        let decoded = decode_stage(
            compressed_stream,
            fs.want_diff_ids.then_some(id_tx),
            fs.want_index.then_some(ix_tx),
        )
        .map_err(|e| layer_err(e.to_string()))?;
        let mut counting = Counting {
            inner: decoded,
            count: 0,
            compressed,
        };
        apply_tar(&mut counting, idx, capture, fs).map_err(layer_err)?;
        // Drain: the compressed stream's own checks run, and the digest covers every byte.
        io::copy(&mut counting, &mut io::sink())
            .map_err(|e| layer_err(format!("corrupt or truncated layer: {e}")))?;
        let uncompressed = counting.count;
        drop(counting);
        // Stage 1 reports once it has read (and hashed) every byte; if it
        // stopped early, the read failed and the error came through above.
        let (found, count, copy) = read_done
            .recv()
            .map_err(|_| layer_err("the layer could not be read to its end".into()))?;
        let digest_ok = found == l.digest;
        if !digest_ok || l.size.is_some_and(|s| s != count) {
            return Err(Error::Digest {
                origin: self.origin.clone(),
                digest: format!("layer {}", l.digest),
                expected: format!("{} bytes", l.size.unwrap_or(count)),
                found: format!("{count} bytes with {found}"),
            });
        }
        fs.layer_sizes.push((count, uncompressed));
        if fs.want_index {
            let copy = copy.map_err(|e| {
                layer_err(format!(
                    "cannot write a private copy of it in TMPDIR ({e}); free space there or set TMPDIR"
                ))
            })?;
            let index = ix_rx.recv().ok();
            fs.copies.push(
                copy.zip(index)
                    .map(|(file, index)| Arc::new(LayerCopy { file, index })),
            );
        }
        if fs.want_diff_ids {
            let id = id_rx
                .recv()
                .map_err(|_| layer_err("the layer could not be inflated to its end".into()))?;
            fs.diff_ids.push(id.unwrap_or(found));
        }
        Ok(())
    }
}

/// Applies one uncompressed layer tar to `fs` (layer number `idx`):
/// whiteouts, replacements, and the contents `capture` asks for.
fn apply_tar(
    r: &mut dyn Read,
    idx: usize,
    capture: &dyn Fn(&str) -> bool,
    fs: &mut FileSystem,
) -> Result<(), String> {
    // The padding after each entry's data is checked as the tar reader
    // skips it: an entry is copied as it was only if it held zeros.
    let pads = std::rc::Rc::new(std::cell::RefCell::new(PadCheck::default()));
    let mut archive = tar::Archive::new(PadReader {
        inner: r,
        pos: 0,
        check: fs.want_index.then(|| pads.clone()),
    });
    let entries = bulwark_deb::SafeEntries::new(&mut archive).map_err(|e| e.to_string())?;
    // Where the entry before ended: an entry whose header block is right
    // there, with its data right after, is that one block.
    let mut prev_end = 0u64;
    let mut prev_path: Option<String> = None;
    for entry in entries {
        padded(fs, &pads, prev_path.take());
        let bulwark_deb::SafeEntry {
            entry: mut e,
            path: name_bytes,
            link,
            uid,
            gid,
            caps,
        } = entry.map_err(|e| format!("corrupt or truncated tar: {e}"))?;
        let source = fs.want_index.then(|| {
            let (head, data) = (e.raw_header_position(), e.raw_file_position());
            let one_block = head == prev_end && data == head + 512;
            SourceEntry {
                layer: idx,
                start: prev_end,
                data,
                end: data.saturating_add(e.size().div_ceil(512).saturating_mul(512)),
                header: one_block.then(|| Arc::new(*e.header().as_bytes())),
            }
        });
        if let Some(s) = &source {
            prev_end = s.end;
            let mut p = pads.borrow_mut();
            p.range = s.data.saturating_add(e.size())..s.end;
            p.dirty = false;
        }
        if fs.files.len() > MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} files"));
        }
        let raw_name = String::from_utf8_lossy(&name_bytes).into_owned();
        let trimmed = raw_name.trim_start_matches('/');
        let Some(path) = bulwark_deb::normalize_entry_path(trimmed) else {
            return Err(format!(
                "entry {raw_name:?} escapes the root with '..' or holds a NUL byte"
            ));
        };
        if path.is_empty() {
            continue;
        }
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (d.to_owned(), b.to_owned()),
            None => (String::new(), path.clone()),
        };
        if base == ".wh..wh..opq" {
            // Opaque directory: hide everything lower layers put below it.
            if !dir.is_empty() {
                let prefix = format!("{dir}/");
                let doomed: Vec<String> = fs
                    .files
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .filter(|(_, v)| v.layer < idx)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in doomed {
                    fs.forget(&k);
                }
            }
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let target = if dir.is_empty() {
                hidden.to_owned()
            } else {
                format!("{dir}/{hidden}")
            };
            remove_subtree(fs, &target);
            continue;
        }
        let h = e.header();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => FileKind::Dir,
            tar::EntryType::Symlink => FileKind::Symlink,
            tar::EntryType::Link => FileKind::Hardlink,
            tar::EntryType::Char | tar::EntryType::Block => FileKind::Device,
            tar::EntryType::Fifo => FileKind::Fifo,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            _ => FileKind::File,
        };
        let link = link.map(|b| String::from_utf8_lossy(&b).into_owned());
        let mut caps = caps.as_deref().map(crate::caps::describe);
        if kind == FileKind::Hardlink
            && let Some(target) = link
                .as_deref()
                .and_then(|l| bulwark_deb::normalize_entry_path(l.trim_start_matches('/')))
            && let Some(t) = fs.files.get_mut(&target)
        {
            // One inode: the link has the target's attribute, and an
            // attribute the link entry gives is the target's too.
            match &caps {
                Some(c) => t.caps = Some(c.clone()),
                None => caps.clone_from(&t.caps),
            }
        }
        let info = FileInfo {
            kind: kind.clone(),
            mode: h.mode().unwrap_or(0) & 0o7777,
            uid,
            gid,
            size: e.size(),
            link,
            layer: idx,
            caps,
            source,
        };
        if let Some(old) = fs.files.get(&path)
            && old.kind == FileKind::Dir
            && kind != FileKind::Dir
        {
            remove_subtree(fs, &path);
        }
        if let Some(old) = fs.contents.remove(&path) {
            fs.captured -= old.len() as u64;
        }
        if kind == FileKind::File && (fs.full || e.size() <= MAX_CAPTURE) && capture(&path) {
            let (bound, what) = if fs.full {
                (bulwark_limits::MAX_REWRITE, "the files to rewrite")
            } else {
                (
                    MAX_CAPTURED,
                    "the files to inspect (dpkg records, ELF headers, secret candidates)",
                )
            };
            if fs.captured.saturating_add(e.size()) > bound {
                return Err(format!(
                    "{what} pass {} in all at {path:?}; this is not an image bulwark can analyse",
                    bulwark_limits::human(bound)
                ));
            }
            // The header's size is only a claim: the buffer grows with what is read.
            let size = e.size();
            let mut data = Vec::with_capacity(size.min(MAX_CAPTURE) as usize);
            (&mut e)
                .take(if fs.full { size } else { MAX_CAPTURE })
                .read_to_end(&mut data)
                .map_err(|err| {
                    if err.kind() == io::ErrorKind::OutOfMemory {
                        format!(
                            "out of memory holding {path:?} ({} so far, {} claimed): the files to rewrite are held in memory",
                            bulwark_limits::human(data.len() as u64),
                            bulwark_limits::human(size)
                        )
                    } else {
                        err.to_string()
                    }
                })?;
            fs.captured += data.len() as u64;
            if fs.hash {
                fs.digests
                    .insert(path.clone(), hex::encode(Sha256::digest(&data)));
            }
            fs.contents.insert(path.clone(), data);
        } else if fs.hash && kind == FileKind::File {
            let mut h = Sha256::new();
            let mut buf = [0u8; 64 << 10];
            loop {
                let n = e.read(&mut buf).map_err(|err| err.to_string())?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            fs.digests.insert(path.clone(), hex::encode(h.finalize()));
        } else {
            fs.digests.remove(&path);
        }
        if info.source.as_ref().is_some_and(|s| s.header.is_some()) {
            prev_path = Some(path.clone());
        }
        fs.files.insert(path, info);
    }
    padded(fs, &pads, prev_path);
    Ok(())
}

/// The padding of the entry being read: where it is, and whether a byte
/// in it was not zero.
#[derive(Default)]
struct PadCheck {
    range: std::ops::Range<u64>,
    dirty: bool,
}

/// The tar stream, checking the current entry's padding on the way.
struct PadReader<'a> {
    inner: &'a mut dyn Read,
    pos: u64,
    check: Option<std::rc::Rc<std::cell::RefCell<PadCheck>>>,
}

impl Read for PadReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = &self.check {
            let mut c = c.borrow_mut();
            let (a, b) = (self.pos, self.pos + n as u64);
            let (lo, hi) = (a.max(c.range.start), b.min(c.range.end));
            if lo < hi
                && buf[(lo - a) as usize..(hi - a) as usize]
                    .iter()
                    .any(|&x| x != 0)
            {
                c.dirty = true;
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Once the reader is past an entry's padding: if it was not all zeros,
/// the entry is not copied as it was (its header is forgotten).
fn padded(fs: &mut FileSystem, pads: &std::cell::RefCell<PadCheck>, path: Option<String>) {
    if let Some(p) = path
        && pads.borrow().dirty
        && let Some(s) = fs.files.get_mut(&p).and_then(|f| f.source.as_mut())
    {
        s.header = None;
    }
}

fn walk_dir(
    root: &std::path::Path,
    dir: &std::path::Path,
    capture: &dyn Fn(&str) -> bool,
    fs: &mut FileSystem,
) -> io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        let m = std::fs::symlink_metadata(&p)?;
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            FileKind::Dir
        } else if ft.is_symlink() {
            FileKind::Symlink
        } else if ft.is_file() {
            FileKind::File
        } else if ft.is_fifo() || ft.is_socket() {
            FileKind::Fifo
        } else {
            FileKind::Device
        };
        let link = if ft.is_symlink() {
            std::fs::read_link(&p)
                .ok()
                .map(|l| l.to_string_lossy().into_owned())
        } else {
            None
        };
        if kind == FileKind::File && (fs.full || m.len() <= MAX_CAPTURE) && capture(&rel) {
            let bound = if fs.full {
                bulwark_limits::MAX_REWRITE
            } else {
                MAX_CAPTURED
            };
            if fs.captured.saturating_add(m.len()) > bound {
                return Err(io::Error::other(format!(
                    "the files to read pass {} in all at {rel:?}",
                    bulwark_limits::human(bound)
                )));
            }
            let data = std::fs::read(&p)?;
            fs.captured += data.len() as u64;
            fs.contents.insert(rel.clone(), data);
        }
        fs.files.insert(
            rel.clone(),
            FileInfo {
                kind: kind.clone(),
                mode: m.mode() & 0o7777,
                uid: u64::from(m.uid()),
                gid: u64::from(m.gid()),
                size: m.len(),
                link,
                layer: 0,
                // Host extended attributes are not read (no safe API in
                // std); a `dir:` rootfs shows no file capabilities.
                caps: None,
                source: None,
            },
        );
        if kind == FileKind::Dir {
            walk_dir(root, &p, capture, fs)?;
        }
    }
    Ok(())
}

/// A blob reader that checks the digest and size at the end.
struct Checked {
    inner: Box<dyn Read + Send>,
    hasher: Sha256,
    count: u64,
    digest: String,
    size: Option<u64>,
    origin: String,
    /// Checked at the end already.
    done: bool,
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.size.is_some_and(|s| self.count > s) {
            return Err(io::Error::other(format!(
                "{}: layer {} is longer than the {} bytes its descriptor gives",
                self.origin,
                self.digest,
                self.size.unwrap_or_default()
            )));
        }
        if n == 0 {
            let found = format!(
                "sha256:{}",
                hex::encode(std::mem::take(&mut self.hasher).finalize())
            );
            if found != self.digest || self.size.is_some_and(|s| s != self.count) {
                return Err(io::Error::other(format!(
                    "{}: layer {} read as {} bytes with {found}; the blob is corrupt or was changed while read",
                    self.origin, self.digest, self.count
                )));
            }
            self.done = true;
        } else {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}
