//! Checking every object an image reaches against its descriptor.

use std::collections::BTreeSet;

use bulwark_oci::{Descriptor, sha256_hex};

use crate::{Error, Object, Store};

/// What [`check_image`] read and verified.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CheckSummary {
    /// Indexes and manifests read and checked.
    pub manifests: usize,
    /// Configs checked.
    pub configs: usize,
    /// Layers checked (0 when layers were skipped).
    pub layers: usize,
    /// Whether layer contents were read (`false`: descriptors only).
    pub layers_read: bool,
    /// Bytes read and hashed.
    pub bytes: u64,
}

/// How deep [`check_image`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Every index, manifest, config and layer.
    Full,
    /// Every index, manifest and config; layers are not read.
    SkipLayers,
}

/// Parses the descriptors of an index (`manifests`) or a manifest
/// (`config` + `layers`), refusing malformed ones instead of skipping them.
fn children(origin: &str, obj: &Object, doc: &serde_json::Value) -> Result<Children, Error> {
    let parse = |v: &serde_json::Value, what: &str| -> Result<Object, Error> {
        let d: Descriptor = serde_json::from_value(v.clone()).map_err(|e| Error::Invalid {
            origin: origin.to_owned(),
            detail: format!("{} has a malformed {what} descriptor: {e}", obj.digest),
        })?;
        if sha256_hex(&d.digest).is_none() {
            return Err(Error::Invalid {
                origin: origin.to_owned(),
                detail: format!(
                    "{} names {what} {:?}, which is not a sha256 digest",
                    obj.digest, d.digest
                ),
            });
        }
        Ok(Object::from(&d))
    };
    let too_many = |n: usize, what: &str| Error::Invalid {
        origin: origin.to_owned(),
        detail: format!(
            "{} lists {n} {what}, more than the {} allowed",
            obj.digest,
            bulwark_limits::MAX_CHILDREN
        ),
    };
    if let Some(list) = doc.get("manifests") {
        let list = list.as_array().ok_or_else(|| Error::Invalid {
            origin: origin.to_owned(),
            detail: format!("{}: 'manifests' is not a list", obj.digest),
        })?;
        if list.len() > bulwark_limits::MAX_CHILDREN {
            return Err(too_many(list.len(), "manifests"));
        }
        let platforms = list
            .iter()
            .map(|v| {
                let o = parse(v, "manifest")?;
                let p = v.get("platform").map(|p| {
                    format!(
                        "{}/{}",
                        p["os"].as_str().unwrap_or("?"),
                        p["architecture"].as_str().unwrap_or("?")
                    )
                });
                Ok((o, p))
            })
            .collect::<Result<_, Error>>()?;
        return Ok(Children::Index(platforms));
    }
    let config = doc
        .get("config")
        .ok_or_else(|| Error::Invalid {
            origin: origin.to_owned(),
            detail: format!(
                "{} is neither an index (no 'manifests') nor an image manifest (no 'config')",
                obj.digest
            ),
        })
        .and_then(|c| parse(c, "config"))?;
    let layers = match doc.get("layers") {
        None => Vec::new(),
        Some(l) => {
            let l = l.as_array().ok_or_else(|| Error::Invalid {
                origin: origin.to_owned(),
                detail: format!("{}: 'layers' is not a list", obj.digest),
            })?;
            if l.len() > bulwark_limits::MAX_CHILDREN {
                return Err(too_many(l.len(), "layers"));
            }
            l.iter()
                .map(|v| parse(v, "layer"))
                .collect::<Result<_, _>>()?
        }
    };
    Ok(Children::Manifest { config, layers })
}

enum Children {
    /// Platform manifests (or nested indexes), with `os/arch` where given.
    Index(Vec<(Object, Option<String>)>),
    Manifest {
        config: Object,
        layers: Vec<Object>,
    },
}

/// Names the object an error is about: `layer 2 of linux/arm64 manifest
/// sha256:…` rather than a bare digest.
fn locate(e: Error, what: &str) -> Error {
    match e {
        Error::Digest {
            origin,
            digest,
            expected,
            found,
        } => Error::Digest {
            origin,
            digest: format!("{what} {digest}"),
            expected,
            found,
        },
        Error::NotFound {
            origin,
            what: w,
            hint,
        } => Error::NotFound {
            origin,
            what: format!("{w} ({what})"),
            hint,
        },
        other => other,
    }
}

/// Checks every object the image `root` (read: `bytes`) reaches against
/// its descriptor's digest and size: each index, every platform manifest
/// (nested indexes up to [`bulwark_limits::MAX_DEPTH`]), each config and,
/// with [`Depth::Full`], each layer (streamed and hashed, never kept).
/// The walk is iterative; an object reached twice is checked once.
///
/// # Errors
/// The first object that is missing, malformed, too deep or does not match
/// its digest and size, named by where it sits in the image.
pub fn check_image(
    store: &Store,
    root: &Object,
    bytes: Vec<u8>,
    depth: Depth,
) -> Result<CheckSummary, Error> {
    let origin = store.origin();
    let mut summary = CheckSummary {
        layers_read: depth == Depth::Full,
        ..CheckSummary::default()
    };
    let mut seen = BTreeSet::new();
    // (object, its bytes when already read, nesting level, where it sits)
    let mut stack: Vec<(Object, Option<Vec<u8>>, usize, String)> =
        vec![(root.clone(), Some(bytes), 0, "image".to_owned())];
    while let Some((obj, bytes, level, place)) = stack.pop() {
        if !seen.insert(obj.digest.clone()) {
            continue;
        }
        if level > bulwark_limits::MAX_DEPTH {
            return Err(Error::Invalid {
                origin,
                detail: format!(
                    "{place} {} is nested more than {} indexes deep; refusing to follow it",
                    obj.digest,
                    bulwark_limits::MAX_DEPTH
                ),
            });
        }
        let bytes = match bytes {
            Some(b) => b,
            None => store.read_small(&obj).map_err(|e| locate(e, &place))?,
        };
        summary.manifests += 1;
        summary.bytes += bytes.len() as u64;
        let doc: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
                origin: origin.clone(),
                detail: format!("{place} {} is not JSON: {e}", obj.digest),
            })?;
        match children(&origin, &obj, &doc)? {
            Children::Index(list) => {
                for (child, platform) in list.into_iter().rev() {
                    let place = match platform {
                        Some(p) => format!("{p} manifest"),
                        None => "manifest".to_owned(),
                    };
                    stack.push((child, None, level + 1, place));
                }
            }
            Children::Manifest { config, layers } => {
                let of = format!("{place} {}", obj.digest);
                if seen.insert(config.digest.clone()) {
                    let c = store
                        .read_small(&config)
                        .map_err(|e| locate(e, &format!("config of {of}")))?;
                    summary.configs += 1;
                    summary.bytes += c.len() as u64;
                }
                if depth == Depth::Full {
                    for (i, l) in layers.iter().enumerate() {
                        if !seen.insert(l.digest.clone()) {
                            continue;
                        }
                        store
                            .read_blob_to(l, &mut std::io::sink())
                            .map_err(|e| locate(e, &format!("layer {} of {of}", i + 1)))?;
                        summary.layers += 1;
                        summary.bytes += l.size;
                    }
                }
            }
        }
    }
    Ok(summary)
}
