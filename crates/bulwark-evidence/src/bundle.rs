//! The evidence bundle: `evidence.json`, the files it cites (eval reports,
//! the verified statements, the admission decisions), the OSCAL assessment
//! results (`oscal/assessment-results.json`), the printable report
//! (`report.html`), and `MANIFEST.json`
//! with every other file's sha256 and size, so that each claim can be
//! checked file by file without bulwark. Written as a directory or, for a
//! path ending in `.tar`, one tar (sorted entries, fixed times and
//! owners); either way atomically: a failure leaves nothing behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Evidence;

/// A bundle that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] bulwark_oci::DestinationError),
    #[error(
        "{path} exists and is not an empty directory; choose another --out (nothing was written)"
    )]
    Exists { path: PathBuf },
}

/// Every file of the bundle, `MANIFEST.json` last, in path order.
fn files(ev: &Evidence) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = ev
        .files
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    all.push(("evidence.json".into(), crate::to_json(ev)));
    let mut oscal =
        serde_json::to_vec_pretty(&crate::oscal::assessment_results(ev)).unwrap_or_default();
    oscal.push(b'\n');
    all.push(("oscal/assessment-results.json".into(), oscal));
    all.push(("report.html".into(), crate::html(ev).into_bytes()));
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let manifest = serde_json::json!({
        "image": ev.image,
        "digest": ev.digest,
        "generated": ev.generated,
        "files": all.iter().map(|(p, d)| serde_json::json!({
            "path": p,
            "sha256": hex::encode(Sha256::digest(d)),
            "size": d.len(),
        })).collect::<Vec<_>>(),
    });
    let mut m = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    m.push(b'\n');
    all.push(("MANIFEST.json".into(), m));
    all
}

/// Writes the bundle of `ev` to `out`: a tar when it ends in `.tar`, else
/// a new directory.
///
/// # Errors
/// `out` exists (a directory with something in it), or cannot be written.
pub fn write_bundle(ev: &Evidence, out: &Path) -> Result<(), BundleError> {
    let all = files(ev);
    if out.extension().is_some_and(|e| e == "tar") {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in &all {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, data.as_slice())
                .map_err(|source| BundleError::Io {
                    path: out.to_owned(),
                    source,
                })?;
        }
        let bytes = b.into_inner().map_err(|source| BundleError::Io {
            path: out.to_owned(),
            source,
        })?;
        bulwark_oci::write_file_atomic(out, &bytes)?;
        return Ok(());
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, source }
    };
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(BundleError::Exists {
            path: out.to_owned(),
        });
    }
    bulwark_oci::write_dir_atomic(out, &mut |tmp| {
        for (path, data) in &all {
            let p = tmp.join(path);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d)?;
            }
            std::fs::File::create(&p)?.write_all(data)?;
        }
        Ok(())
    })?;
    Ok(())
}
