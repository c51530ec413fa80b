//! Deterministic tar + compression.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::tree::{NodeKind, Tree};

/// Compression of an encoded layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerCompression {
    /// gzip at level 6 or 7 (chosen from samples), compressed in parallel
    /// 1 MiB pieces; no name, mtime 0, OS "unknown" (pinned zlib-rs backend).
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

/// An encoded layer.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The blob as stored (compressed).
    pub blob: Vec<u8>,
    /// `sha256:` of the blob.
    pub digest: String,
    /// `sha256:` of the uncompressed tar (the config's `diff_ids`).
    pub diff_id: String,
    /// Size of the uncompressed tar.
    pub tar_size: u64,
    pub compression: LayerCompression,
    /// Number of tar entries.
    pub entries: usize,
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
    let tar = tar_bytes(tree, epoch)?;
    let diff_hex = hex::encode(Sha256::digest(&tar));
    let diff_id = format!("sha256:{diff_hex}");
    let io = |source| EncodeError {
        path: "(compressor)".into(),
        source,
    };
    let cache_path = cache_dir.map(|d| d.join(format!("{diff_hex}.{}", compression.extension())));
    let cached = cache_path
        .as_deref()
        .and_then(|p| std::fs::read(p).ok())
        .filter(|blob| {
            decompress(blob, compression).is_ok_and(|t| hex::encode(Sha256::digest(&t)) == diff_hex)
        });
    let blob = match cached {
        Some(b) => b,
        None => {
            let blob = compress(&tar, compression).map_err(io)?;
            if let Some(p) = &cache_path {
                store(p, &blob);
            }
            blob
        }
    };
    Ok(Layer {
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&blob))),
        diff_id,
        tar_size: tar.len() as u64,
        compression,
        entries: tree.len(),
        blob,
    })
}

fn compress(tar: &[u8], compression: LayerCompression) -> std::io::Result<Vec<u8>> {
    Ok(match compression {
        LayerCompression::None => tar.to_vec(),
        LayerCompression::Gzip => gzip_parallel(tar, choose_gzip_level(tar))?,
        LayerCompression::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(Vec::with_capacity(tar.len() / 3), 3)?;
            enc.include_checksum(true)?;
            enc.set_pledged_src_size(Some(tar.len() as u64))?;
            enc.include_contentsize(true)?;
            enc.write_all(tar)?;
            enc.finish()?
        }
    })
}

/// Decompresses a layer blob.
pub fn decompress(blob: &[u8], compression: LayerCompression) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
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
fn store(path: &Path, blob: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&tmp, blob).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Size of the independently compressed pieces of a gzip layer.
const GZIP_CHUNK: usize = 1 << 20;
/// Deflate's window: each piece is primed with this much of the data before it.
const DEFLATE_WINDOW: usize = 32 << 10;

/// Neither zlib level wins everywhere (measured with zlib-rs, see
/// docs/benchmarks.md: binaries shrink ~1.4% more at 7, many small text
/// files ~1.1% more at 6). Compress evenly spaced samples at both levels
/// and use the winner; a pure function of the data, so deterministic.
fn choose_gzip_level(data: &[u8]) -> u32 {
    const SAMPLES: usize = 8;
    const SAMPLE: usize = 256 << 10;
    if data.len() <= SAMPLES * SAMPLE {
        let (a, b) = rayon::join(|| deflate_len(data, 6), || deflate_len(data, 7));
        return if b < a { 7 } else { 6 };
    }
    let step = data.len() / SAMPLES;
    let samples: Vec<&[u8]> = (0..SAMPLES)
        .map(|i| &data[i * step..i * step + SAMPLE])
        .collect();
    let (a, b) = rayon::join(
        || samples.iter().map(|s| deflate_len(s, 6)).sum::<usize>(),
        || samples.iter().map(|s| deflate_len(s, 7)).sum::<usize>(),
    );
    if b < a { 7 } else { 6 }
}

fn deflate_len(data: &[u8], level: u32) -> usize {
    deflate_piece(data, &[], level, true)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}

/// Raw deflate of one piece, primed with `dictionary`; non-final pieces end
/// with a sync flush so that the pieces concatenate into one valid stream.
fn deflate_piece(
    piece: &[u8],
    dictionary: &[u8],
    level: u32,
    last: bool,
) -> std::io::Result<Vec<u8>> {
    use flate2::{Compress, FlushCompress, Status};
    let mut c = Compress::new(flate2::Compression::new(level), false);
    if !dictionary.is_empty() {
        c.set_dictionary(dictionary)
            .map_err(std::io::Error::other)?;
    }
    let mut out = Vec::with_capacity(piece.len() / 2 + 1024);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let consumed = c.total_in() as usize;
        if out.capacity() - out.len() < 64 << 10 {
            out.reserve(piece.len() / 4 + (64 << 10));
        }
        let status = c
            .compress_vec(&piece[consumed..], &mut out, flush)
            .map_err(std::io::Error::other)?;
        let done_input = c.total_in() as usize == piece.len();
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError if done_input && !last && out.capacity() > out.len() => {
                break;
            }
            _ => {}
        }
    }
    Ok(out)
}

/// gzip in parallel, like pigz: 1 MiB pieces, each primed with the 32 KiB
/// before it, concatenated into a single gzip member (mtime 0, OS 255).
fn gzip_parallel(data: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    use rayon::prelude::*;
    let n = data.len().div_ceil(GZIP_CHUNK).max(1);
    let pieces: Vec<Vec<u8>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let start = i * GZIP_CHUNK;
            let end = ((i + 1) * GZIP_CHUNK).min(data.len());
            let dict = &data[start.saturating_sub(DEFLATE_WINDOW)..start];
            deflate_piece(&data[start..end], dict, level, i + 1 == n)
        })
        .collect::<Result<_, _>>()?;
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let xfl = match level {
        9 => 2,
        1 => 4,
        _ => 0,
    };
    let mut out = Vec::with_capacity(pieces.iter().map(Vec::len).sum::<usize>() + 18);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    for p in &pieces {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

fn tar_bytes(tree: &Tree, epoch: u64) -> Result<Vec<u8>, EncodeError> {
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    for (path, node) in tree.iter() {
        let err = |source| EncodeError {
            path: path.clone(),
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
                    .map_err(err)?;
            }
            NodeKind::File(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data.as_slice()).map_err(err)?;
            }
            NodeKind::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, target).map_err(err)?;
            }
            NodeKind::Hardlink(target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                b.append_link(&mut h, path, target).map_err(err)?;
            }
        }
    }
    b.into_inner().map_err(|source| EncodeError {
        path: "(end of archive)".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Node;

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
            "sha256:ce40046298c30059a4c3a766fbd44ce93892cd29aeaa09bd5612edb89ca2e9f3"
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
        for i in 0..(3 * GZIP_CHUNK + 12345) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            data.push(if i % 3 == 0 {
                (x >> 24) as u8
            } else {
                b'a' + (i % 7) as u8
            });
        }
        for level in [6, 7] {
            let gz = gzip_parallel(&data, level).unwrap();
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(gz.as_slice())
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data);
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(gz.as_slice())
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data);
        }
        let empty = gzip_parallel(&[], 6).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(empty.as_slice())
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn headers_are_normalised() {
        let l = encode_layer(&sample(), 42, LayerCompression::None).unwrap();
        let mut a = tar::Archive::new(l.blob.as_slice());
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
        // A cached blob that does not decompress to the expected tar is ignored.
        let entry = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let other = encode_layer(&Tree::default(), 7, LayerCompression::Gzip).unwrap();
        std::fs::write(&entry, &other.blob).unwrap();
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
}
