//! OCI images as bytes, and where they are written.
//!
//! [`ImageSpec`] + encoded layers become an [`Image`] (config and manifest
//! JSON, deterministic key order); several images become an image index.
//! [`Destination`] parses skopeo-style references (`oci:DIR[:TAG]`,
//! `oci-archive:FILE`, `docker-archive:FILE`) and [`write_images`] writes
//! them atomically: everything goes to a temporary sibling first and is
//! renamed into place, so a failure never leaves a half-written image.
//!
//! The JSON types are written by hand rather than taken from `oci-spec`:
//! its `Config.Labels` and annotations are `HashMap`s, whose iteration
//! order would make image digests differ from run to run.

mod dest;
mod types;

pub use dest::{Destination, DestinationError, WriteSummary, write_file_atomic, write_images};
pub use types::*;

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}
