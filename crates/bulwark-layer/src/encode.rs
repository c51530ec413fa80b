//! Deterministic tar + compression.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::content::{Content, SpillWriter};
use crate::tree::{Node, NodeKind, Tree};

/// Compression of an encoded layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerCompression {
    /// gzip at level 6, compressed by libdeflate in parallel 2 MiB pieces,
    /// one gzip member each; no name, mtime 0, OS "unknown".
    Gzip,
    /// zstd level 3, single-threaded, with content size and checksum.
    Zstd,
    /// Uncompressed tar (docker-archive layers).
    None,
}

impl LayerCompression {
    fn extension(self) -> &'static str {
        match self {
            LayerCompression::Gzip => "gz",
            LayerCompression::Zstd => "zst",
            LayerCompression::None => "tar",
        }
    }

    /// The OCI media type of a layer with this compression.
    pub fn media_type(self) -> &'static str {
        match self {
            LayerCompression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            LayerCompression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            LayerCompression::None => "application/vnd.oci.image.layer.v1.tar",
        }
    }
}

/// An encoded layer. Its tar and blob are in memory, or in temporary files
/// when the tree holds files streamed from disk ([`NodeKind::Disk`]).
#[derive(Clone, Debug)]
pub struct Layer {
    /// The blob as stored (compressed).
    pub blob: Content,
    /// `sha256:` of the blob.
    pub digest: String,
    /// `sha256:` of the uncompressed tar (the config's `diff_ids`).
    pub diff_id: String,
    /// Size of the uncompressed tar.
    pub tar_size: u64,
    pub compression: LayerCompression,
    /// Number of tar entries.
    pub entries: usize,
    /// The uncompressed tar itself, for callers that read it back (a build
    /// describes its layers from it); take it to free the memory.
    pub tar: Content,
}

/// A layer that could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode layer entry {path:?}: {source}")]
pub struct EncodeError {
    pub path: String,
    pub source: std::io::Error,
}

/// Encodes `tree` as a tar layer with every mtime set to `epoch`.
pub fn encode_layer(
    tree: &Tree,
    epoch: u64,
    compression: LayerCompression,
) -> Result<Layer, EncodeError> {
    encode_layer_cached(tree, epoch, compression, None)
}

/// Like [`encode_layer`], with a cache of compressed blobs keyed by the
/// uncompressed tar's digest. Compression dominates build time, and its
/// output is deterministic, so a cached blob is exactly what compressing
/// again would give. A cached blob is only used after it decompresses to a
/// tar with the expected digest.
pub fn encode_layer_cached(
    tree: &Tree,
    epoch: u64,
    compression: LayerCompression,
    cache_dir: Option<&Path>,
) -> Result<Layer, EncodeError> {
    if tree
        .iter()
        .any(|(_, n)| matches!(n.kind, NodeKind::Disk(_)))
    {
        return encode_streamed(tree, epoch, compression, cache_dir);
    }
    let tar = write_tar(tree, epoch, Vec::with_capacity(tar_size_hint(tree)))?;
    let diff_hex = hex::encode(Sha256::digest(&tar));
    let cache_path = cache_dir.map(|d| cache_path(d, &diff_hex, compression));
    let cached = cache_path
        .as_deref()
        .and_then(|p| std::fs::read(p).ok())
        .filter(|blob| {
            decompress(blob, compression).is_ok_and(|t| hex::encode(Sha256::digest(&t)) == diff_hex)
        });
    let blob = match cached {
        Some(b) => b,
        None => {
            let blob = compress(&tar, compression).map_err(compressor)?;
            if let Some(p) = &cache_path {
                store(p, &Content::Memory(blob.clone()));
            }
            blob
        }
    };
    Ok(Layer {
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&blob))),
        diff_id: format!("sha256:{diff_hex}"),
        tar_size: tar.len() as u64,
        compression,
        entries: tree.len(),
        blob: Content::Memory(blob),
        tar: Content::Memory(tar),
    })
}

/// [`encode_layer`] for a caller that ships only the blob: a gzip layer's
/// tar is hashed and compressed while it is written, never held whole, so
/// a layer-sized tar costs neither memory nor a pass of its own (a
/// hardened image's 330 MiB layer, docs/benchmarks.md). The blob goes to
/// a temporary file as it is made (an OCI layout on the same filesystem
/// links it, writing it once); it is the same as [`encode_layer`]'s.
/// [`Layer::tar`] is left empty.
///
/// # Errors
/// As [`encode_layer`].
pub fn encode_layer_blob(
    tree: &Tree,
    epoch: u64,
    compression: LayerCompression,
) -> Result<Layer, EncodeError> {
    let on_disk = tree
        .iter()
        .any(|(_, n)| matches!(n.kind, NodeKind::Disk(_)));
    if on_disk || compression != LayerCompression::Gzip {
        let mut layer = encode_layer(tree, epoch, compression)?;
        layer.tar = Content::default();
        return Ok(layer);
    }
    let w = write_tar(
        tree,
        epoch,
        GzipPieces::new(SpillWriter::new().map_err(scratch)?),
    )?;
    let (spill, plain, tar_size) = w.finish().map_err(compressor)?;
    let (blob, blob_hex) = spill.finish().map_err(scratch)?;
    Ok(Layer {
        digest: format!("sha256:{blob_hex}"),
        diff_id: format!("sha256:{}", hex::encode(plain)),
        tar_size,
        compression,
        entries: tree.len(),
        blob,
        tar: Content::default(),
    })
}

/// An error of a temporary file a layer is written through.
pub(crate) fn scratch(source: io::Error) -> EncodeError {
    EncodeError {
        path: "(temporary file in TMPDIR)".into(),
        source,
    }
}

pub(crate) fn compressor(source: io::Error) -> EncodeError {
    EncodeError {
        path: "(compressor)".into(),
        source,
    }
}

fn cache_path(dir: &Path, diff_hex: &str, compression: LayerCompression) -> PathBuf {
    dir.join(format!(
        "{diff_hex}.{}.{}",
        compressor_fingerprint(compression),
        compression.extension()
    ))
}

/// [`encode_layer_cached`] for a tree with files on disk: the tar and the
/// blob go through temporary files, hashed on the way, so memory stays
/// flat whatever the files' size. The bytes are the same as in memory.
fn encode_streamed(
    tree: &Tree,
    epoch: u64,
    compression: LayerCompression,
    cache_dir: Option<&Path>,
) -> Result<Layer, EncodeError> {
    let tar_out = write_tar(tree, epoch, SpillWriter::new().map_err(scratch)?)?;
    let (tar, diff_hex) = tar_out.finish().map_err(scratch)?;
    let tar_size = tar.len();
    let cache_path = cache_dir.map(|d| cache_path(d, &diff_hex, compression));
    let cached = cache_path
        .as_deref()
        .and_then(|p| cached_copy(p, compression, &diff_hex));
    let (blob, blob_hex) = match cached {
        Some(c) => c,
        None => {
            let made = match compression {
                LayerCompression::None => (tar.clone(), diff_hex.clone()),
                LayerCompression::Gzip => {
                    let mut w = GzipPieces::unhashed(SpillWriter::new().map_err(scratch)?);
                    io::copy(&mut tar.reader().map_err(scratch)?, &mut w).map_err(compressor)?;
                    w.finish()
                        .map_err(compressor)?
                        .0
                        .finish()
                        .map_err(scratch)?
                }
                LayerCompression::Zstd => {
                    let w = SpillWriter::new().map_err(scratch)?;
                    zstd_stream(tar.reader().map_err(scratch)?, tar_size, w)
                        .map_err(compressor)?
                        .finish()
                        .map_err(scratch)?
                }
            };
            if let Some(p) = &cache_path {
                store(p, &made.0);
            }
            made
        }
    };
    Ok(Layer {
        digest: format!("sha256:{blob_hex}"),
        diff_id: format!("sha256:{diff_hex}"),
        tar_size,
        compression,
        entries: tree.len(),
        blob,
        tar,
    })
}

/// A cached blob copied into a temporary file, if it decompresses to the
/// tar with `diff_hex`; with the sha256 (hex) of the blob.
fn cached_copy(
    path: &Path,
    compression: LayerCompression,
    diff_hex: &str,
) -> Option<(Content, String)> {
    let f = std::fs::File::open(path).ok()?;
    let mut hasher = HashSink(Sha256::new());
    io::copy(
        &mut decoder(io::BufReader::new(f), compression).ok()?,
        &mut hasher,
    )
    .ok()?;
    if hex::encode(hasher.0.finalize()) != diff_hex {
        return None;
    }
    let mut w = SpillWriter::new().ok()?;
    io::copy(&mut std::fs::File::open(path).ok()?, &mut w).ok()?;
    w.finish().ok()
}

struct HashSink(Sha256);

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn compress(tar: &[u8], compression: LayerCompression) -> io::Result<Vec<u8>> {
    Ok(match compression {
        LayerCompression::None => tar.to_vec(),
        LayerCompression::Gzip => gzip_parallel(tar)?,
        LayerCompression::Zstd => {
            zstd_stream(tar, tar.len() as u64, Vec::with_capacity(tar.len() / 3))?
        }
    })
}

/// zstd level 3 with checksum and content size (`size`, the input's
/// length, is pledged up front: the frame header carries it).
fn zstd_stream<W: Write>(mut r: impl Read, size: u64, w: W) -> io::Result<W> {
    let mut enc = zstd::stream::write::Encoder::new(w, 3)?;
    enc.include_checksum(true)?;
    enc.set_pledged_src_size(Some(size))?;
    enc.include_contentsize(true)?;
    io::copy(&mut r, &mut enc)?;
    enc.finish()
}

/// A short digest of what this build's compressor makes of a fixed sample.
/// It is part of the cache key: a blob that another compressor (an older
/// bulwark, another libdeflate) made decompresses to the same tar but has
/// other bytes, and reusing it would make the image depend on the cache.
fn compressor_fingerprint(compression: LayerCompression) -> &'static str {
    use std::sync::OnceLock;
    static FINGERPRINTS: [OnceLock<String>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match compression {
        LayerCompression::Gzip => 0,
        LayerCompression::Zstd => 1,
        LayerCompression::None => 2,
    };
    FINGERPRINTS[slot].get_or_init(|| {
        // Text, binary-looking bytes and runs, so every coder path shows.
        let mut sample = Vec::with_capacity(3 << 16);
        let mut x: u32 = 0x9e37_79b9;
        for i in 0..(3u32 << 16) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            sample.push(match (i >> 14) % 3 {
                0 => b"Package: libc6\nVersion: 2.36\n"[(i % 28) as usize],
                1 => (x >> 24) as u8,
                _ => (i >> 9) as u8,
            });
        }
        match compress(&sample, compression) {
            Ok(blob) => hex::encode(&Sha256::digest(&blob)[..6]),
            Err(_) => "unknown".into(),
        }
    })
}

/// A reader of the tar inside a layer blob read from `r`.
///
/// # Errors
/// A zstd stream whose header cannot be read.
pub fn decoder<'a>(
    r: impl Read + Send + 'a,
    compression: LayerCompression,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match compression {
        LayerCompression::None => Box::new(r),
        LayerCompression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        LayerCompression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
    })
}

/// Decompresses a layer blob held in memory.
///
/// # Errors
/// A corrupt blob.
pub fn decompress(blob: &[u8], compression: LayerCompression) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(blob.len() * 3);
    match compression {
        LayerCompression::None => out.extend_from_slice(blob),
        LayerCompression::Gzip => {
            flate2::read::MultiGzDecoder::new(blob).read_to_end(&mut out)?;
        }
        LayerCompression::Zstd => {
            zstd::stream::read::Decoder::new(blob)?.read_to_end(&mut out)?;
        }
    }
    Ok(out)
}

/// Best-effort atomic store into the cache (a failed store only costs time).
fn store(path: &Path, blob: &Content) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| blob.write_to(&mut f));
    if written.is_err() || std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Size of the independently compressed pieces of a gzip layer. A
/// constant, never derived from the machine, so that the blob is the same
/// everywhere; 2 MiB loses 0.3% to 4 MiB pieces and keeps both cores busy
/// on a 21 MiB layer (docs/benchmarks.md).
pub(crate) const GZIP_PIECE: usize = 2 << 20;

/// libdeflate's level 6, gzip's default. On the base layer it is 4% smaller
/// than zlib-rs at 7 and more than twice as fast (docs/benchmarks.md).
pub(crate) const GZIP_LEVEL: i32 = 6;

/// gzip in parallel: the data in [`GZIP_PIECE`] pieces, each compressed by
/// libdeflate into a gzip member of its own (mtime 0, no name, OS 255), the
/// members concatenated in order. RFC 1952 defines a gzip file as a series
/// of members, and every layer reader handles it (eStargz layers are built
/// the same way). The output depends only on the data and the pinned
/// libdeflate version.
fn gzip_parallel(data: &[u8]) -> io::Result<Vec<u8>> {
    let pieces: Vec<&[u8]> = if data.is_empty() {
        vec![data]
    } else {
        data.chunks(GZIP_PIECE).collect()
    };
    Ok(gzip_members(&pieces)?.concat())
}

/// Pieces compressed in parallel at a time by [`GzipPieces`] (32 MiB).
const GZIP_BATCH: usize = 16;

/// [`gzip_parallel`] as a writer: what is written is cut into the same
/// [`GZIP_PIECE`] pieces, so the blob is byte for byte the same, and
/// compressed [`GZIP_BATCH`] pieces at a time, so memory stays bounded
/// however much is written. The plain bytes are hashed while the pieces
/// compress (the diff_id costs no time of its own), and the piece buffers
/// are reused from batch to batch (no layer-sized allocation).
pub(crate) struct GzipPieces<W: Write> {
    out: W,
    pieces: Vec<Vec<u8>>,
    /// Pieces of `pieces` in use; the last of them may be partly filled.
    used: usize,
    any: bool,
    /// `None`: the caller has the tar's digest already.
    plain: Option<Sha256>,
    plain_len: u64,
}

impl<W: Write> GzipPieces<W> {
    /// A writer that also hashes what it is given. After an error it is
    /// of no further use (the hash may cover a batch that was not written).
    pub(crate) fn new(out: W) -> Self {
        GzipPieces {
            out,
            pieces: Vec::new(),
            used: 0,
            any: false,
            plain: Some(Sha256::new()),
            plain_len: 0,
        }
    }

    /// A writer for a tar whose digest is known: nothing is hashed.
    pub(crate) fn unhashed(out: W) -> Self {
        GzipPieces {
            plain: None,
            ..GzipPieces::new(out)
        }
    }

    /// Compresses and writes the pieces in use.
    fn flush_batch(&mut self) -> io::Result<()> {
        let used = &self.pieces[..self.used];
        let plain = &mut self.plain;
        let (_, members) = rayon::join(
            || {
                if let Some(h) = plain.as_mut() {
                    used.iter().for_each(|p| h.update(p));
                }
            },
            || {
                let views: Vec<&[u8]> = used.iter().map(Vec::as_slice).collect();
                gzip_members(&views)
            },
        );
        for m in members? {
            self.out.write_all(&m).map_err(|e| {
                io::Error::new(e.kind(), format!("writing the compressed layer: {e}"))
            })?;
        }
        for p in &mut self.pieces[..self.used] {
            p.clear();
        }
        self.used = 0;
        self.any = true;
        Ok(())
    }

    /// Writes what is left; returns the writer, the sha256 of the plain
    /// bytes (zeros when [`GzipPieces::unhashed`]) and their length.
    pub(crate) fn finish(mut self) -> io::Result<(W, [u8; 32], u64)> {
        if self.used > 0 || !self.any {
            // No data at all is still one (empty) member.
            self.used = self.used.max(1);
            if self.pieces.is_empty() {
                self.pieces.push(Vec::new());
            }
            self.flush_batch()?;
        }
        let plain = self.plain.map(|h| h.finalize().into()).unwrap_or_default();
        Ok((self.out, plain, self.plain_len))
    }
}

impl<W: Write> Write for GzipPieces<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Nothing to add: no new piece (it would become an empty member).
        if buf.is_empty() {
            return Ok(0);
        }
        if self.used == 0 || self.pieces[self.used - 1].len() == GZIP_PIECE {
            if self.used == GZIP_BATCH {
                self.flush_batch()?;
            }
            if self.pieces.len() == self.used {
                self.pieces.push(Vec::with_capacity(GZIP_PIECE));
            }
            self.used += 1;
        }
        let piece = &mut self.pieces[self.used - 1];
        let n = buf.len().min(GZIP_PIECE - piece.len());
        piece.extend_from_slice(&buf[..n]);
        self.plain_len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Each piece compressed by libdeflate into a gzip member of its own, in
/// parallel.
pub(crate) fn gzip_members(pieces: &[&[u8]]) -> io::Result<Vec<Vec<u8>>> {
    use rayon::prelude::*;
    pieces
        .par_iter()
        .map(|piece| {
            let mut c = libdeflate()?;
            let mut out = vec![0; c.gzip_compress_bound(piece.len())];
            let n = c
                .gzip_compress(piece, &mut out)
                .map_err(|e| io::Error::other(format!("libdeflate: {e}")))?;
            out.truncate(n);
            Ok(out)
        })
        .collect()
}

/// libdeflate at [`GZIP_LEVEL`], as every gzip layer is compressed.
pub(crate) fn libdeflate() -> io::Result<libdeflater::Compressor> {
    let level = libdeflater::CompressionLvl::new(GZIP_LEVEL)
        .map_err(|e| io::Error::other(format!("libdeflate level {GZIP_LEVEL}: {e:?}")))?;
    Ok(libdeflater::Compressor::new(level))
}

/// The tar's size, or a little more: a header per entry, contents padded to
/// 512 bytes, a GNU long-name record for long paths, and the end marker.
/// Reserving it up front saves regrowing (and copying) a layer-sized buffer.
fn tar_size_hint(tree: &Tree) -> usize {
    let pad = |n: usize| n.div_ceil(512) * 512;
    tree.iter()
        .map(|(path, node)| {
            let data = match &node.kind {
                NodeKind::File(d) => pad(d.len()),
                _ => 0,
            };
            let long = if path.len() >= 99 {
                512 + pad(path.len() + 2)
            } else {
                0
            };
            512 + data + long
        })
        .sum::<usize>()
        + 1024
}

/// Writes the tree as a tar into `out` and returns it.
fn write_tar<W: Write>(tree: &Tree, epoch: u64, out: W) -> Result<W, EncodeError> {
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Deterministic);
    for (path, node) in tree.iter() {
        append_node(&mut b, path, node, epoch)?;
    }
    b.into_inner().map_err(|source| EncodeError {
        path: "(end of archive)".into(),
        source,
    })
}

/// Appends one path as bulwark writes every entry: a GNU header with the
/// node's mode, owner and kind, and `epoch` as its time.
pub(crate) fn append_node<W: Write>(
    b: &mut tar::Builder<W>,
    path: &str,
    node: &Node,
    epoch: u64,
) -> Result<(), EncodeError> {
    append(b, path, node, epoch, true)
}

/// [`append_node`] without a regular file's data and padding: the header
/// (and any long-name record) alone, for a caller that has the bytes.
pub(crate) fn append_header<W: Write>(
    b: &mut tar::Builder<W>,
    path: &str,
    node: &Node,
    epoch: u64,
) -> Result<(), EncodeError> {
    append(b, path, node, epoch, false)
}

fn append<W: Write>(
    b: &mut tar::Builder<W>,
    path: &str,
    node: &Node,
    epoch: u64,
    with_data: bool,
) -> Result<(), EncodeError> {
    let err = |source| EncodeError {
        path: path.to_owned(),
        source,
    };
    let mut h = tar::Header::new_gnu();
    h.set_mode(node.mode & 0o7777);
    h.set_uid(u64::from(node.uid));
    h.set_gid(u64::from(node.gid));
    h.set_mtime(epoch);
    match &node.kind {
        NodeKind::Dir => {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            b.append_data(&mut h, format!("{path}/"), std::io::empty())
                .map_err(err)
        }
        NodeKind::File(data) => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            let data: &[u8] = if with_data { data } else { &[] };
            b.append_data(&mut h, path, data).map_err(err)
        }
        NodeKind::Disk(file) => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(file.size);
            if !with_data {
                return b.append_data(&mut h, path, std::io::empty()).map_err(err);
            }
            let mut r = file.verified_reader().map_err(err)?;
            b.append_data(&mut h, path, &mut r).map_err(err)
        }
        NodeKind::Symlink(target) => {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, path, target).map_err(err)
        }
        NodeKind::Hardlink(target) => {
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            b.append_link(&mut h, path, target).map_err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Node;

    const ALL: [LayerCompression; 3] = [
        LayerCompression::Gzip,
        LayerCompression::Zstd,
        LayerCompression::None,
    ];

    fn sample() -> Tree {
        let mut t = Tree::default();
        t.insert("usr/bin/app", Node::file(b"binary".to_vec(), 0o755));
        t.insert("tmp", Node::dir(0o1777));
        t.insert("home/nonroot", Node::dir(0o700).owned(65532, 65532));
        t.insert("bin", Node::symlink("usr/bin"));
        let long = format!("usr/share/{}/file", "x".repeat(150));
        t.insert(&long, Node::file(vec![], 0o644));
        t
    }

    #[test]
    fn golden_digests() {
        // A changed byte here means images are no longer reproducible across
        // bulwark versions: review it, then update the digests on purpose.
        let g = encode_layer(&sample(), 1_704_067_200, LayerCompression::Gzip).unwrap();
        assert_eq!(
            g.diff_id,
            "sha256:2bc223a3f38593d2058c7a805d8a14ec57c1d25cfc3785ee75ef1c064b48ef49"
        );
        assert_eq!(
            g.digest,
            "sha256:6a2d3241cee634e767b1027b5aaeba4c2330ec3138edef96d0d96a482b25831e"
        );
        let z = encode_layer(&sample(), 1_704_067_200, LayerCompression::Zstd).unwrap();
        assert_eq!(z.diff_id, g.diff_id);
        assert_eq!(
            z.digest,
            "sha256:7e0da1f1b9a260d0748f9964bbfa12d97388ca800c76b727c31c99e29d741db3"
        );
    }

    #[test]
    fn parallel_gzip_is_standard_gzip() {
        use std::io::Read;
        // Several pieces, mixed compressibility.
        let mut data = Vec::new();
        let mut x: u32 = 1;
        for i in 0..(3 * GZIP_PIECE + 12345) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            data.push(if i % 3 == 0 {
                (x >> 24) as u8
            } else {
                b'a' + (i % 7) as u8
            });
        }
        let gz = gzip_parallel(&data).unwrap();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(gz.as_slice())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        // Four members, each with the fixed header: deflate, no flags,
        // mtime 0, OS 255.
        let mut members = 0;
        let mut rest = gz.as_slice();
        while !rest.is_empty() {
            assert_eq!(rest[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
            let mut d = flate2::bufread::GzDecoder::new(rest);
            let mut piece = Vec::new();
            d.read_to_end(&mut piece).unwrap();
            assert_eq!(
                piece.len(),
                (data.len() - members * GZIP_PIECE).min(GZIP_PIECE)
            );
            members += 1;
            let used = rest.len() - d.into_inner().len();
            rest = &rest[used..];
        }
        assert_eq!(members, 4);
        let empty = gzip_parallel(&[]).unwrap();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(empty.as_slice())
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty());
        assert_eq!(empty[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        assert!(empty.len() < 32, "one empty member");
    }

    #[test]
    fn headers_are_normalised() {
        let l = encode_layer(&sample(), 42, LayerCompression::None).unwrap();
        let mut a = tar::Archive::new(l.blob.as_slice().unwrap());
        let mut names = Vec::new();
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.mtime().unwrap(), 42);
            assert_eq!(h.username().unwrap(), Some(""));
            names.push(e.path().unwrap().display().to_string());
        }
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(names.iter().any(|n| n.len() > 150), "long names survive");
        assert!(tar_size_hint(&sample()) as u64 >= l.blob.len());
    }

    #[test]
    fn cache_returns_identical_layers_and_ignores_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = encode_layer(&sample(), 7, LayerCompression::Gzip).unwrap();
        let first =
            encode_layer_cached(&sample(), 7, LayerCompression::Gzip, Some(dir.path())).unwrap();
        let cached =
            encode_layer_cached(&sample(), 7, LayerCompression::Gzip, Some(dir.path())).unwrap();
        assert_eq!(
            (first.digest.as_str(), cached.digest.as_str()),
            (fresh.digest.as_str(), fresh.digest.as_str())
        );
        // Keyed by the tar and by the compressor's fingerprint.
        let name = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name();
        let fp = compressor_fingerprint(LayerCompression::Gzip);
        assert_eq!(fp.len(), 12);
        assert!(
            name.to_string_lossy().ends_with(&format!(".{fp}.gz")),
            "{name:?}"
        );
        assert_ne!(fp, compressor_fingerprint(LayerCompression::Zstd));
        // A cached blob that does not decompress to the expected tar is ignored.
        let entry = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let other = encode_layer(&Tree::default(), 7, LayerCompression::Gzip).unwrap();
        std::fs::write(&entry, other.blob.as_slice().unwrap()).unwrap();
        let again =
            encode_layer_cached(&sample(), 7, LayerCompression::Gzip, Some(dir.path())).unwrap();
        assert_eq!(again.digest, fresh.digest);
        std::fs::write(&entry, b"garbage").unwrap();
        assert_eq!(
            encode_layer_cached(&sample(), 7, LayerCompression::Gzip, Some(dir.path()))
                .unwrap()
                .digest,
            fresh.digest
        );
    }

    /// Mixed compressibility, several gzip batches' worth when `n` is large.
    fn noise(n: usize) -> Vec<u8> {
        let mut x: u32 = 7;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if i % 4 == 0 {
                    (x >> 24) as u8
                } else {
                    b'a' + (i % 5) as u8
                }
            })
            .collect()
    }

    #[test]
    fn files_streamed_from_disk_give_the_same_bytes_as_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        // Past one gzip batch (16 pieces of 2 MiB), and not a multiple of a piece.
        let data = noise(GZIP_BATCH * GZIP_PIECE + 3 * GZIP_PIECE + 777);
        let p = dir.path().join("model.bin");
        std::fs::write(&p, &data).unwrap();
        let mut mem = sample();
        mem.insert("opt/model.bin", Node::file(data.clone(), 0o644));
        let mut disk = sample();
        let f = crate::DiskFile::hash(&p).unwrap();
        assert_eq!(f.sha256, hex::encode(Sha256::digest(&data)));
        disk.insert("opt/model.bin", Node::disk(f, 0o644));
        for c in ALL {
            let a = encode_layer(&mem, 9, c).unwrap();
            let b = encode_layer(&disk, 9, c).unwrap();
            assert!(matches!(b.blob, Content::File(_)), "{c:?} streamed");
            assert_eq!(
                (&a.digest, &a.diff_id, a.tar_size),
                (&b.digest, &b.diff_id, b.tar_size),
                "{c:?}"
            );
            assert_eq!(a.blob.len(), b.blob.len());
            assert_eq!(b.tar.len(), b.tar_size);
            assert_eq!(
                a.tar.as_slice().unwrap(),
                b.tar.to_vec().unwrap().as_slice()
            );
        }
        // Through the cache: stored once, then copied from it.
        let cache = dir.path().join("cache");
        let first = encode_layer_cached(&disk, 9, LayerCompression::Gzip, Some(&cache)).unwrap();
        let again = encode_layer_cached(&disk, 9, LayerCompression::Gzip, Some(&cache)).unwrap();
        assert_eq!(first.digest, again.digest);
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
        // The file changed after it was hashed: the layer fails, naming it.
        std::fs::write(&p, b"other").unwrap();
        let e = encode_layer(&disk, 9, LayerCompression::Gzip).unwrap_err();
        assert!(
            e.to_string().contains("changed while the image was built"),
            "{e}"
        );
    }

    #[test]
    fn blob_only_encoding_gives_the_same_layer() {
        let mut t = sample();
        t.insert("big", Node::file(noise(3 * GZIP_PIECE + 5), 0o644));
        for c in ALL {
            let a = encode_layer(&t, 9, c).unwrap();
            let b = encode_layer_blob(&t, 9, c).unwrap();
            assert_eq!(
                (&a.digest, &a.diff_id, a.tar_size, a.entries),
                (&b.digest, &b.diff_id, b.tar_size, b.entries),
                "{c:?}"
            );
            let mut blob = Vec::new();
            b.blob.reader().unwrap().read_to_end(&mut blob).unwrap();
            assert_eq!(a.blob.as_slice().unwrap(), blob);
            assert_eq!(b.tar.len(), 0);
        }
    }

    #[test]
    fn piece_writer_says_where_a_write_failed() {
        #[derive(Debug)]
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = GzipPieces::new(Full);
        w.write_all(b"some tar").unwrap();
        let e = w.finish().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert_eq!(e.to_string(), "writing the compressed layer: disk full");
    }

    #[test]
    fn piece_writer_cuts_the_same_members_whatever_the_writes() {
        for n in [
            0,
            1,
            GZIP_PIECE,
            GZIP_PIECE + 1,
            GZIP_BATCH * GZIP_PIECE,
            GZIP_BATCH * GZIP_PIECE + 3,
        ] {
            let data = noise(n);
            // The definition: fixed pieces, one member each, in order.
            let want = gzip_parallel(&data).unwrap();
            // Written in uneven bits, as a tar builder writes, and in
            // whole pieces, with empty writes on the way (at the start, and
            // on piece and batch edges).
            for step in [7777, GZIP_PIECE] {
                let mut w = GzipPieces::new(Vec::new());
                assert_eq!(w.write(&[]).unwrap(), 0);
                for bit in data.chunks(step) {
                    w.write_all(bit).unwrap();
                    assert_eq!(w.write(&[]).unwrap(), 0);
                }
                let (out, plain, len) = w.finish().unwrap();
                assert_eq!(out, want, "{n} bytes in writes of {step}");
                assert_eq!(len, n as u64);
                assert_eq!(plain, <[u8; 32]>::from(Sha256::digest(&data)));
            }
        }
    }
}
