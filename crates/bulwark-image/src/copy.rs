//! Copying an image, with its platforms and referrers, between any two stores.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use bulwark_oci::{Descriptor, digest_tag, sha256_hex};

use crate::error::io_err;
use crate::{Error, Object, Store, Target};

/// What [`copy`] did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CopySummary {
    /// Digest of the copied manifest or index.
    pub digest: String,
    /// Manifests and indexes written (image, platforms, referrers).
    pub manifests: usize,
    /// Blobs transferred (or mounted from another repository of the same registry).
    pub blobs_copied: usize,
    /// Blobs the destination already had.
    pub blobs_skipped: usize,
    /// Referrers (signatures, attestations) carried.
    pub referrers: usize,
}

/// Copies the image `src` names to `dst`, with every platform of an index,
/// the referrers of every manifest (and theirs), and cosign's legacy
/// `.sig`/`.att` tags. Blobs go through a temporary file and are verified
/// on the way; blobs the destination has are skipped.
///
/// # Errors
/// Any read, verification or write failure.
pub fn copy(src: &Target, dst: &Target) -> Result<CopySummary, Error> {
    let (root, bytes) = src.store.fetch(src.reference.as_deref())?;
    let mut summary = CopySummary {
        digest: root.digest.clone(),
        ..CopySummary::default()
    };
    let tag = dst
        .reference
        .clone()
        .filter(|r| sha256_hex(r).is_none())
        .or_else(|| src.reference.clone().filter(|r| sha256_hex(r).is_none()))
        .unwrap_or_else(|| "latest".to_string());
    let mut done = BTreeSet::new();
    copy_tree(
        &src.store,
        &dst.store,
        (&root, bytes),
        Some(&tag),
        &mut summary,
        &mut done,
        0,
    )?;
    Ok(summary)
}

/// Copies one manifest or index (already read: `bytes`) with everything it
/// points at, and writes it under `tag` (or untagged) once its content,
/// referrers and signature tags are there.
/// `level` counts nested indexes and referrers: the recursion stops with an
/// error past [`bulwark_limits::MAX_DEPTH`], so a hostile chain of indexes
/// cannot exhaust the stack.
fn copy_tree(
    src: &Store,
    dst: &Store,
    (obj, bytes): (&Object, Vec<u8>),
    tag: Option<&str>,
    summary: &mut CopySummary,
    done: &mut BTreeSet<String>,
    level: usize,
) -> Result<(), Error> {
    if level > bulwark_limits::MAX_DEPTH {
        return Err(Error::Invalid {
            origin: src.origin(),
            detail: format!(
                "{} is nested more than {} indexes or referrers deep; refusing to follow it",
                obj.digest,
                bulwark_limits::MAX_DEPTH
            ),
        });
    }
    if !done.insert(obj.digest.clone()) {
        if tag.is_some() {
            dst.put_manifest(&bytes, &obj.media_type, tag)?;
        }
        return Ok(());
    }
    let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
        origin: src.origin(),
        detail: format!("{} is not JSON: {e}", obj.digest),
    })?;
    let parse = |v: &serde_json::Value| -> Option<Object> {
        serde_json::from_value::<Descriptor>(v.clone())
            .ok()
            .map(|d| Object::from(&d))
    };
    if let Some(children) = doc.get("manifests").and_then(|m| m.as_array()) {
        for c in children.iter().filter_map(parse) {
            if !done.contains(&c.digest) {
                let b = src.read_small(&c)?;
                copy_tree(src, dst, (&c, b), None, summary, done, level + 1)?;
            }
        }
    } else {
        let blobs = doc
            .get("config")
            .into_iter()
            .chain(
                doc.get("layers")
                    .and_then(|l| l.as_array())
                    .into_iter()
                    .flatten(),
            )
            .filter_map(parse);
        for b in blobs {
            copy_blob(src, dst, &b, summary)?;
        }
    }
    // Untagged first: the tag moves only once the signatures and
    // attestations are there too, so nobody pulls a half-published image.
    dst.put_manifest(&bytes, &obj.media_type, None)?;
    summary.manifests += 1;
    // Referrers and legacy signature tags of this manifest.
    let is_referrer = doc.get("subject").is_some();
    if !is_referrer {
        for r in src.referrers(&obj.digest)? {
            let ro = Object::from(&r);
            if done.contains(&ro.digest) {
                continue;
            }
            let b = src.read_small(&ro)?;
            copy_tree(src, dst, (&ro, b), None, summary, done, level + 1)?;
            dst.add_referrer(&obj.digest, r)?;
            summary.referrers += 1;
        }
        for suffix in [".sig", ".att", ".sbom"] {
            let tag = digest_tag(&obj.digest, suffix);
            if let Some((o, b)) = src.find_tag(&tag)? {
                copy_tree(src, dst, (&o, b), Some(&tag), summary, done, level + 1)?;
                summary.referrers += 1;
            }
        }
    }
    if tag.is_some() {
        dst.put_manifest(&bytes, &obj.media_type, tag)?;
    }
    Ok(())
}

fn copy_blob(src: &Store, dst: &Store, b: &Object, summary: &mut CopySummary) -> Result<(), Error> {
    if dst.has_blob(&b.digest)? {
        summary.blobs_skipped += 1;
        return Ok(());
    }
    if dst.mount_blob_from(src, &b.digest)? {
        // Cross-repository mount: nothing to transfer.
    } else if b.size <= 1 << 20 {
        let data = src.read_small(&Object {
            media_type: String::new(),
            ..b.clone()
        })?;
        dst.write_blob(&data, &b.digest)?;
    } else {
        let mut tmp =
            tempfile::NamedTempFile::new().map_err(io_err(Path::new("temporary file")))?;
        let _scratch = bulwark_limits::scratch::register(tmp.path());
        src.read_blob_to(b, tmp.as_file_mut())?;
        tmp.as_file_mut().flush().map_err(io_err(tmp.path()))?;
        dst.write_blob_file(tmp.path(), &b.digest)?;
    }
    summary.blobs_copied += 1;
    Ok(())
}
