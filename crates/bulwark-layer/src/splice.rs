//! A squashed layer that keeps what its source layers had unchanged, bit
//! for bit (`bulwark harden`).
//!
//! The entries go in the source's order. An entry the tree still has as
//! the source had it, and whose header is one plain POSIX ustar block
//! ([`verbatim`]), is written with the source's header bytes; any other
//! entry is written as [`encode_layer`](crate::encode_layer) writes it, in
//! the same place, and paths the source did not have come last, in
//! lexical order. Between the edits the tar is the source's tar, so the
//! source's deflate blocks that lie wholly inside such a stretch decode to
//! the same bytes after the same bytes before them: a block refers back at
//! most 32 KiB, and the block scanner says exactly how far the first one
//! of a run does. Each such run becomes one gzip member: the bytes the run
//! refers to before it compressed afresh, empty blocks to reach the bit
//! offset the run had in its source (so stored blocks stay valid), the
//! run's bits as they are, and an empty last block. Everything else is
//! compressed in pieces as any other layer. The result depends only on the
//! tree and the source blobs: the same source gives the same layer.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bulwark_deflate::gzip::{Edge, GzipIndex};
use bulwark_deflate::splice::{BitWriter, find_block};
use sha2::{Digest, Sha256};

use crate::content::{Content, SpillWriter};
use crate::encode::{
    EncodeError, GZIP_PIECE, Layer, LayerCompression, append_header, compressor, encode_layer_blob,
    gzip_members, libdeflate, scratch,
};
use crate::tree::{Node, NodeKind, Tree};

/// What a copied run needs before it: the deflate window.
const WINDOW: u64 = 32 << 10;

/// Runs shorter than this are compressed instead (a member of their own
/// costs its header, trailer and window).
const MIN_RUN: u64 = 32 << 10;

/// A source layer whose bits may be copied: its compressed blob (the
/// private copy the walk made of the bytes it verified) and its block ends.
#[derive(Debug, Clone, Copy)]
pub struct SourceLayer<'a> {
    pub file: &'a File,
    pub index: &'a GzipIndex,
}

/// Where a path's entry lay in a source layer's tar.
#[derive(Debug, Clone, Copy)]
pub struct SourceEntry<'a> {
    pub path: &'a str,
    pub layer: usize,
    /// Offsets in the layer's tar: the entry's first header block, its
    /// data, and the end of its data padded to 512 bytes.
    pub start: u64,
    pub data: u64,
    pub end: u64,
    /// Its header, when that block was the whole entry header.
    pub header: Option<&'a [u8; 512]>,
    /// The node as the source had it: the entry is the source's only
    /// while the tree's node is still this.
    pub node: &'a Node,
}

/// Encodes `tree` as one gzip layer in the source's order, copying the
/// source's compressed bits where the tar is the source's; also returns
/// how many bytes of the tar were copied that way.
///
/// `entries` says where each path came from; `layers` the source layers
/// (`None`: not gzip, nothing copied from it). A tree with files on disk
/// is encoded as [`encode_layer_blob`] does.
///
/// # Errors
/// As [`encode_layer_blob`]; a source blob copy that cannot be read is an
/// error too (the layer must depend on the source alone).
pub fn encode_layer_spliced(
    tree: &Tree,
    epoch: u64,
    layers: &[Option<SourceLayer<'_>>],
    entries: &[SourceEntry<'_>],
) -> Result<(Layer, u64), EncodeError> {
    if tree
        .iter()
        .any(|(_, n)| matches!(n.kind, NodeKind::Disk(_)))
    {
        return Ok((encode_layer_blob(tree, epoch, LayerCompression::Gzip)?, 0));
    }
    let parts = Parts::of(tree, epoch, entries)?;
    let runs: Vec<Run> = {
        use rayon::prelude::*;
        let spans = parts.spans();
        let planned = spans
            .par_iter()
            .filter_map(|s| {
                let layer = layers.get(s.layer).copied().flatten()?;
                plan_run(s, layer).transpose()
            })
            .collect::<io::Result<Vec<Run>>>();
        planned.map_err(scratch)?
    };
    let segments = segments(&runs, parts.len);
    // The tar's digest is taken in a thread of its own, from the parts
    // where they are, and the members are written (and the blob hashed)
    // in another, in order, while the segments compress in parallel, a
    // few dozen at a time.
    let (digest, made, written) = std::thread::scope(|scope| {
        let hashing = scope.spawn(|| {
            let mut h = Sha256::new();
            parts.each(0..parts.len, |b| h.update(b));
            h.finalize()
        });
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(Vec<u8>, u64)>>(2);
        let writing = scope.spawn(move || {
            let mut out = SpillWriter::new()?;
            let mut copied = 0;
            for chunk in rx {
                for (m, n) in chunk {
                    out.write_all(&m)?;
                    copied += n;
                }
            }
            Ok::<_, io::Error>((out, copied))
        });
        let mut made = Ok(());
        for chunk in segments.chunks(24) {
            use rayon::prelude::*;
            let members = chunk
                .par_iter()
                .map(|seg| {
                    let plain = match seg {
                        Segment::Fresh(r) => parts.fill(r.clone()),
                        Segment::Copied(run) => parts.fill(run.out - run.window..run.out),
                    };
                    member(seg, &plain, &parts, layers)
                })
                .collect::<io::Result<Vec<(Vec<u8>, u64)>>>();
            match members {
                // A closed channel: the writer failed, and says why.
                Ok(m) => {
                    if tx.send(m).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    made = Err(e);
                    break;
                }
            }
        }
        drop(tx);
        let written = writing
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writer panicked")));
        (hashing.join(), made, written)
    });
    let digest = digest.map_err(|_| compressor(io::Error::other("the hashing thread panicked")))?;
    made.map_err(compressor)?;
    let (out, copied) = written.map_err(scratch)?;
    let (blob, blob_hex) = out.finish().map_err(scratch)?;
    tracing::debug!(
        "squashed layer: {} bytes, {copied} of them as the source's compressed bits in {} runs",
        parts.len,
        runs.len()
    );
    let layer = Layer {
        digest: format!("sha256:{blob_hex}"),
        diff_id: format!("sha256:{}", hex::encode(digest)),
        tar_size: parts.len,
        compression: LayerCompression::Gzip,
        entries: tree.len(),
        blob,
        tar: Content::default(),
    };
    Ok((layer, copied))
}

/// Bytes of the new tar, in order.
enum Bytes {
    Owned(Vec<u8>),
    Shared(Arc<Vec<u8>>),
    Zeros(u64),
}

struct Part {
    /// Offset in the new tar.
    out: u64,
    bytes: Bytes,
    /// The source layer and offset these bytes are a copy of.
    src: Option<(usize, u64)>,
}

impl Part {
    fn len(&self) -> u64 {
        match &self.bytes {
            Bytes::Owned(v) => v.len() as u64,
            Bytes::Shared(v) => v.len() as u64,
            Bytes::Zeros(n) => *n,
        }
    }
}

/// The new tar as a list of parts (nothing layer-sized is copied).
struct Parts {
    parts: Vec<Part>,
    len: u64,
}

/// Bytes of the new tar that are bytes of a source layer's tar.
struct Span {
    out: u64,
    src: u64,
    len: u64,
    layer: usize,
}

impl Parts {
    fn of(tree: &Tree, epoch: u64, entries: &[SourceEntry<'_>]) -> Result<Parts, EncodeError> {
        let mut p = Parts {
            parts: Vec::new(),
            len: 0,
        };
        let mut b = tar::Builder::new(Vec::new());
        b.mode(tar::HeaderMode::Deterministic);
        let mut done: HashSet<&str> = HashSet::new();
        let mut ordered: Vec<&SourceEntry<'_>> = entries.iter().collect();
        ordered.sort_by_key(|e| (e.layer, e.start));
        // Written as every bulwark entry is; a file's bytes stay where they
        // are (the tree's), only the header is made.
        let canonical = |p: &mut Parts, b: &mut tar::Builder<Vec<u8>>, path: &str, node: &Node| {
            append_header(b, path, node, epoch)?;
            p.push(Bytes::Owned(std::mem::take(b.get_mut())), None);
            if let NodeKind::File(data) = &node.kind {
                let n = data.len() as u64;
                p.push(Bytes::Shared(data.clone()), None);
                p.push(Bytes::Zeros(n.next_multiple_of(512) - n), None);
            }
            Ok::<_, EncodeError>(())
        };
        for e in ordered {
            let Some(node) = tree.get(e.path) else {
                continue;
            };
            if !done.insert(e.path) {
                continue;
            }
            match e
                .header
                .filter(|h| e.node == node && verbatim(h, e.path, node))
            {
                Some(h) => {
                    p.push(Bytes::Owned(h.to_vec()), Some((e.layer, e.start)));
                    if let NodeKind::File(data) = &node.kind {
                        let n = data.len() as u64;
                        p.push(Bytes::Shared(data.clone()), Some((e.layer, e.data)));
                        p.push(
                            Bytes::Zeros(e.end.saturating_sub(e.data + n)),
                            Some((e.layer, e.data + n)),
                        );
                    }
                }
                None => canonical(&mut p, &mut b, e.path, node)?,
            }
        }
        for (path, node) in tree.iter() {
            if !done.contains(path.as_str()) {
                canonical(&mut p, &mut b, path, node)?;
            }
        }
        p.push(Bytes::Zeros(1024), None);
        Ok(p)
    }

    fn push(&mut self, bytes: Bytes, src: Option<(usize, u64)>) {
        let part = Part {
            out: self.len,
            bytes,
            src,
        };
        let n = part.len();
        if n > 0 {
            self.len += n;
            self.parts.push(part);
        }
    }

    /// Maximal stretches that are a source layer's bytes in order.
    fn spans(&self) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        for p in &self.parts {
            let Some((layer, src)) = p.src else {
                continue;
            };
            if let Some(s) = spans.last_mut()
                && s.layer == layer
                && s.src + s.len == src
                && s.out + s.len == p.out
            {
                s.len += p.len();
                continue;
            }
            spans.push(Span {
                out: p.out,
                src,
                len: p.len(),
                layer,
            });
        }
        spans
    }

    /// The new tar's bytes in `range`.
    fn fill(&self, range: Range<u64>) -> Vec<u8> {
        let mut v = Vec::with_capacity((range.end - range.start) as usize);
        self.each(range, |b| v.extend_from_slice(b));
        v
    }

    /// The new tar's bytes in `range`, in order, as slices where they are.
    fn each(&self, range: Range<u64>, mut f: impl FnMut(&[u8])) {
        const ZEROS: [u8; 4096] = [0; 4096];
        let first = self
            .parts
            .partition_point(|p| p.out + p.len() <= range.start);
        for p in &self.parts[first..] {
            if p.out >= range.end {
                break;
            }
            let a = (range.start.max(p.out) - p.out) as usize;
            let b = (range.end.min(p.out + p.len()) - p.out) as usize;
            match &p.bytes {
                Bytes::Owned(x) => f(&x[a..b]),
                Bytes::Shared(x) => f(&x[a..b]),
                Bytes::Zeros(_) => {
                    let mut n = b - a;
                    while n > 0 {
                        let k = n.min(ZEROS.len());
                        f(&ZEROS[..k]);
                        n -= k;
                    }
                }
            }
        }
    }
}

/// Source blocks copied as they are: the new tar's bytes `out..out+len`
/// are the bits `from..to` of the source blob.
#[derive(Clone, Copy)]
struct Run {
    out: u64,
    len: u64,
    /// Bytes before `out` the run refers to (at most 32 KiB).
    window: u64,
    layer: usize,
    from: u64,
    to: u64,
}

/// The run of whole source blocks inside `span`, with the bytes they
/// refer to before them (at most [`WINDOW`]) inside it too; `None` when
/// there is none worth a member, or its first or last bit cannot be told
/// for sure.
fn plan_run(span: &Span, layer: SourceLayer<'_>) -> io::Result<Option<Run>> {
    let (s, e) = (span.src, span.src + span.len);
    let members = &layer.index.members;
    let Some(member) = members[..members.partition_point(|m| m.out_start <= s)]
        .last()
        .filter(|m| m.edges.last().is_some_and(|x| x.out >= e))
    else {
        return Ok(None);
    };
    let edges = &member.edges;
    // Block k runs from edges[k - 1] to edges[k], when edges[k] has no gap
    // before it; the member's last block (final) is never copied or probed.
    let Some(last) = edges.len().checked_sub(1) else {
        return Ok(None);
    };
    let one_block = |k: usize| k >= 1 && k < last && !edges[k].gap;
    // The first block inside the span whose references stay inside it: it
    // reaches back `reach` bytes, and each block after it at most 32 KiB
    // before its own start, so the window before the run is the larger of
    // the two.
    let k0 = edges.partition_point(|x| x.out < s) + 1;
    let k1 = edges.partition_point(|x| x.out <= e);
    let rest = |k: usize| (WINDOW + edges[k - 1].out).saturating_sub(edges[k].out);
    let mut first = None;
    for k in (k0..k1.min(last))
        .filter(|&k| one_block(k) && edges[k - 1].out >= s + rest(k))
        .take(8)
    {
        let rest = rest(k);
        if let Some((from, _, reach)) = probe(layer.file, edges, k)? {
            let window = u64::from(reach).max(rest);
            if edges[k - 1].out >= s + window {
                first = Some((k, from, window));
                break;
            }
        }
    }
    let Some((k, from, window)) = first else {
        return Ok(None);
    };
    // The last block inside the span: its end is the run's end.
    let mut after = None;
    for j in (k..k1.min(last)).rev().filter(|&j| one_block(j)).take(4) {
        if let Some((_, to, _)) = probe(layer.file, edges, j)? {
            after = Some((j, to));
            break;
        }
    }
    let Some((j, to)) = after else {
        return Ok(None);
    };
    let len = edges[j].out - edges[k - 1].out;
    Ok((len >= MIN_RUN).then_some(Run {
        out: span.out + (edges[k - 1].out - s),
        len,
        window,
        layer: span.layer,
        from,
        to,
    }))
}

/// The first and last bit of block `k` (from `edges[k - 1]` to
/// `edges[k]`, consecutive block ends) in the blob and how far back it
/// reaches, when exactly one bit starts a block that fits those ends.
///
/// # Errors
/// The blob copy cannot be read.
fn probe(file: &File, edges: &[Edge], k: usize) -> io::Result<Option<(u64, u64, u32)>> {
    let (a, b) = (edges[k - 1], edges[k]);
    let (Some(lo), Some(len)) = (
        a.byte.checked_sub(1),
        b.byte.checked_sub(a.byte.saturating_sub(1)),
    ) else {
        return Ok(None);
    };
    let mut buf = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
    file.read_exact_at(&mut buf, lo)?;
    Ok(find_block(&buf, a.byte - lo, b.out - a.out, b.byte - lo)
        .map(|block| (lo * 8 + block.start, lo * 8 + block.end, block.reach)))
}

/// A gzip member's worth of the new tar.
enum Segment {
    Fresh(Range<u64>),
    Copied(Run),
}

impl Segment {
    fn range(&self) -> Range<u64> {
        match self {
            Segment::Fresh(r) => r.clone(),
            Segment::Copied(run) => run.out - run.window..run.out + run.len,
        }
    }
}

/// The runs, each after its window, and pieces of [`GZIP_PIECE`] bytes
/// between them.
fn segments(runs: &[Run], total: u64) -> Vec<Segment> {
    let mut runs = runs.to_vec();
    runs.sort_by_key(|r| r.out);
    let mut v = Vec::new();
    let mut at = 0;
    let fresh = |v: &mut Vec<Segment>, from: u64, to: u64| {
        let mut a = from;
        while a < to {
            let b = to.min(a + GZIP_PIECE as u64);
            v.push(Segment::Fresh(a..b));
            a = b;
        }
    };
    for run in runs {
        fresh(&mut v, at, run.out - run.window);
        at = run.out + run.len;
        v.push(Segment::Copied(run));
    }
    fresh(&mut v, at, total);
    if v.is_empty() {
        v.push(Segment::Fresh(0..0));
    }
    v
}

/// One segment as a gzip member, and the bytes of it copied: `plain` is a
/// fresh piece's bytes, or a copied run's window.
fn member(
    seg: &Segment,
    plain: &[u8],
    parts: &Parts,
    layers: &[Option<SourceLayer<'_>>],
) -> io::Result<(Vec<u8>, u64)> {
    let Segment::Copied(run) = seg else {
        return Ok((gzip_members(&[plain])?.concat(), 0));
    };
    let layer = layers
        .get(run.layer)
        .copied()
        .flatten()
        .ok_or_else(|| io::Error::other("a run from a layer that was not indexed"))?;
    let m = copied_member(run, plain, parts, layer.file)?;
    if cfg!(debug_assertions) {
        check_copied(&m, &parts.fill(seg.range()))?;
    }
    Ok((m, run.len))
}

/// The gzip header bulwark writes: no time, no name, OS 255 (unknown).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A member of the window compressed afresh and the run's bits copied.
fn copied_member(run: &Run, window: &[u8], parts: &Parts, file: &File) -> io::Result<Vec<u8>> {
    let mut c = libdeflate()?;
    let mut stream = vec![0; c.deflate_compress_bound(window.len())];
    let n = c
        .deflate_compress(window, &mut stream)
        .map_err(|e| io::Error::other(format!("libdeflate: {e}")))?;
    stream.truncate(n);
    let lo = run.from / 8;
    let mut bits = vec![0u8; usize::try_from(run.to.div_ceil(8) - lo).map_err(io::Error::other)?];
    file.read_exact_at(&mut bits, lo)?;
    let mut w = BitWriter::new();
    for b in GZIP_HEADER {
        w.put(u32::from(b), 8);
    }
    if !window.is_empty() {
        w.append_stream(&stream).map_err(io::Error::other)?;
    }
    w.pad_to(run.from % 8);
    w.copy_bits(&bits, run.from - lo * 8, run.to - lo * 8);
    w.empty_fixed(true);
    let mut out = w.finish();
    let mut crc = libdeflater::Crc::new();
    crc.update(window);
    parts.each(run.out..run.out + run.len, |b| crc.update(b));
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&((run.window + run.len) as u32).to_le_bytes());
    Ok(out)
}

/// Decodes a copied member again: tests and debug builds do it for every
/// one, and a mismatch fails the layer (it would be a bug, not bad input).
fn check_copied(member: &[u8], plain: &[u8]) -> io::Result<()> {
    let mut back = Vec::new();
    io::Read::read_to_end(&mut flate2::read::GzDecoder::new(member), &mut back)?;
    if back != plain {
        return Err(io::Error::other(
            "a copied run does not decode to the bytes it stands for",
        ));
    }
    Ok(())
}

/// Whether `h` may stand for `node` at `path` as it is: a single POSIX
/// ustar header block (no GNU or PAX extensions, so every reader reads it
/// alike) with a valid checksum and canonical fields, naming exactly this
/// path, kind, mode, numeric owner (and no owner names), size and link
/// target. Anything else is written
/// anew.
pub(crate) fn verbatim(h: &[u8; 512], path: &str, node: &Node) -> bool {
    if &h[257..263] != b"ustar\0" || &h[263..265] != b"00" || h[500..].iter().any(|&b| b != 0) {
        return false;
    }
    if octal(&h[148..156]) != Some(checksum(h)) {
        return false;
    }
    // No user or group name: GNU tar and bsdtar extracting as root take a
    // name over the number, so a name could give the file another owner.
    let (Some(name), Some(prefix), Some(link), Some(b""), Some(b"")) = (
        text(&h[0..100]),
        text(&h[345..500]),
        text(&h[157..257]),
        text(&h[265..297]),
        text(&h[297..329]),
    ) else {
        return false;
    };
    let full = if prefix.is_empty() {
        name.to_vec()
    } else {
        [prefix, b"/", name].concat()
    };
    let mut p = full.strip_prefix(b"./").unwrap_or(&full);
    let (kind, size, target): (u8, u64, &[u8]) = match &node.kind {
        NodeKind::File(d) => (b'0', d.len() as u64, b""),
        NodeKind::Dir => {
            p = p.strip_suffix(b"/").unwrap_or(p);
            (b'5', 0, b"")
        }
        NodeKind::Symlink(t) => (b'2', 0, t.as_bytes()),
        _ => return false,
    };
    let mode = octal(&h[100..108]);
    let mode_ok = match node.kind {
        NodeKind::Symlink(_) => mode.is_some_and(|m| m & !0o7777 == 0),
        _ => mode == Some(u64::from(node.mode)) && node.mode & !0o7777 == 0,
    };
    p == path.as_bytes()
        && h[156] == kind
        && mode_ok
        && octal(&h[108..116]) == Some(u64::from(node.uid))
        && octal(&h[116..124]) == Some(u64::from(node.gid))
        && octal(&h[124..136]) == Some(size)
        && octal(&h[136..148]).is_some()
        && link == target
        && [&h[329..337], &h[337..345]]
            .iter()
            .all(|f| f.iter().all(|&b| b == 0) || octal(f).is_some())
}

/// A tar header's checksum: the sum of its bytes, the checksum field
/// counted as spaces.
fn checksum(h: &[u8; 512]) -> u64 {
    let spaces = 8 * u64::from(b' ');
    h.iter().map(|&b| u64::from(b)).sum::<u64>()
        - h[148..156].iter().map(|&b| u64::from(b)).sum::<u64>()
        + spaces
}

/// A NUL-terminated field's text, when only NULs follow it.
fn text(f: &[u8]) -> Option<&[u8]> {
    let n = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    f[n..].iter().all(|&b| b == 0).then_some(&f[..n])
}

/// An octal number field: optional leading spaces, digits, then only NULs
/// or spaces.
fn octal(f: &[u8]) -> Option<u64> {
    let f = &f[f.iter().position(|&b| b != b' ')?..];
    let digits = f
        .iter()
        .position(|b| !(b'0'..=b'7').contains(b))
        .unwrap_or(f.len());
    if digits == 0 || digits > 21 || f[digits..].iter().any(|&b| b != 0 && b != b' ') {
        return None;
    }
    f[..digits].iter().try_fold(0u64, |n, &d| {
        n.checked_mul(8)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ustar(path: &str, node: &Node) -> [u8; 512] {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap_or_default();
        h.set_mode(node.mode);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        match &node.kind {
            NodeKind::File(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
            }
            NodeKind::Dir => h.set_entry_type(tar::EntryType::Directory),
            NodeKind::Symlink(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_link_name(t).unwrap_or_default();
            }
            _ => {}
        }
        h.set_cksum();
        *h.as_bytes()
    }

    #[test]
    fn plain_ustar_headers_stand_for_their_node_and_nothing_else() {
        let file = Node::file(b"abc".to_vec(), 0o644);
        let h = ustar("usr/lib/a", &file);
        assert!(verbatim(&h, "usr/lib/a", &file));
        // Another path, mode, owner or size.
        assert!(!verbatim(&h, "usr/lib/b", &file));
        assert!(!verbatim(
            &h,
            "usr/lib/a",
            &Node::file(b"abc".to_vec(), 0o755)
        ));
        assert!(!verbatim(&h, "usr/lib/a", &file.clone().owned(1, 0)));
        assert!(!verbatim(
            &h,
            "usr/lib/a",
            &Node::file(b"abcd".to_vec(), 0o644)
        ));
        // A broken checksum, GNU magic, bytes after a name's NUL.
        let mut bad = h;
        bad[0] ^= 1;
        assert!(!verbatim(&bad, "usr/lib/a", &file));
        let gnu = *tar::Header::new_gnu().as_bytes();
        assert!(!verbatim(&gnu, "", &file));
        let mut hidden = h;
        hidden[60] = b'x';
        let sum = checksum(&hidden);
        hidden[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        assert!(!verbatim(&hidden, "usr/lib/a", &file));
        // Directories (with or without the slash) and symlinks.
        let dir = Node::dir(0o755);
        assert!(verbatim(&ustar("usr/lib/", &dir), "usr/lib", &dir));
        assert!(verbatim(&ustar("./usr/lib", &dir), "usr/lib", &dir));
        let link = Node::symlink("a");
        assert!(verbatim(&ustar("usr/lib/l", &link), "usr/lib/l", &link));
        assert!(!verbatim(
            &ustar("usr/lib/l", &link),
            "usr/lib/l",
            &Node::symlink("b")
        ));
    }
}
