//! OCI images as bytes, and where they are written.
//!
//! [`ImageSpec`] + encoded layers become an [`Image`] (config and manifest
//! JSON, deterministic key order); several images become an image index.
//! [`write_images`] writes them to a [`Destination`] (an `oci:` layout, an
//! `oci-archive:` or a `docker-archive:`, named by `bulwark-image`'s
//! reference grammar) atomically: everything goes to a temporary sibling first and is
//! renamed into place, so a failure never leaves a half-written image.
//!
//! The JSON types are written by hand rather than taken from `oci-spec`:
//! its `Config.Labels` and annotations are `HashMap`s, whose iteration
//! order would make image digests differ from run to run.
//!
//! ```
//! use bulwark_layer::{LayerCompression, Node, Tree, encode_layer};
//! use bulwark_oci::{Destination, Image, ImageSpec, Platform, RuntimeConfig, write_images};
//!
//! let mut tree = Tree::default();
//! tree.insert("etc/hostname", Node::file(b"bulwark\n".to_vec(), 0o644));
//! let layer = encode_layer(&tree, 0, LayerCompression::Gzip).unwrap();
//! let image = Image::build(ImageSpec {
//!     platform: Platform { architecture: "amd64".into(), os: "linux".into(), variant: None },
//!     created: "1970-01-01T00:00:00Z".into(),
//!     config: RuntimeConfig::default(),
//!     layers: vec![(layer, "example".into())],
//!     annotations: Default::default(),
//! });
//! let dir = tempfile::tempdir().unwrap();
//! let dest = Destination::Oci { dir: dir.path().join("out"), tag: Some("v1".into()) };
//! let written = write_images(&dest, &[image], Default::default()).unwrap();
//! assert!(written.digest.starts_with("sha256:"));
//! assert!(dir.path().join("out/index.json").is_file());
//! ```

mod dest;
mod types;

pub use dest::{
    Destination, DestinationError, WriteSummary, write_dir_atomic, write_file_atomic, write_images,
};
pub use types::*;

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The `rootfs.diff_ids` of an image config (JSON), in layer order; entries
/// that are not strings are left out.
#[must_use]
pub fn diff_ids(config: &serde_json::Value) -> Vec<String> {
    config["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The hex part of a well-formed `sha256:<64 lowercase hex>` digest, else `None`.
/// Everything that turns a digest into a file name goes through this.
#[must_use]
pub fn sha256_hex(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The tag cosign and the OCI referrers tag schema use for `digest`, plus
/// `suffix` (`""` for the referrers index, `".sig"`, `".att"`, `".sbom"`).
#[must_use]
pub fn digest_tag(digest: &str, suffix: &str) -> String {
    format!("{}{suffix}", digest.replace(':', "-"))
}

/// True for tags that hold signatures or referrer indexes rather than
/// images (`sha256-<hex>`, optionally with a `.sig`/`.att`/`.sbom` suffix).
#[must_use]
pub fn is_signature_tag(tag: &str) -> bool {
    tag.strip_prefix("sha256-").is_some_and(|rest| {
        let hex = rest.split('.').next().unwrap_or_default();
        sha256_hex(&format!("sha256:{hex}")).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_signature_tags() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(sha256_hex(&d), Some("a".repeat(64).as_str()));
        assert_eq!(sha256_hex(&d.to_uppercase()), None);
        assert_eq!(sha256_hex("sha256:../../etc"), None);
        assert!(is_signature_tag(&digest_tag(&d, "")));
        assert!(is_signature_tag(&digest_tag(&d, ".sig")));
        assert!(!is_signature_tag("latest"));
        assert!(!is_signature_tag("sha256-abc"));
    }
}
