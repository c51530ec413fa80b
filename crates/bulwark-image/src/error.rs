//! The one error type of image access.

use std::path::Path;

/// Why an image could not be named, read, written or copied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A reference bulwark cannot interpret.
    #[error(
        "'{0}' is not an image reference; use oci:DIR[:TAG] or oci:DIR@DIGEST, oci-archive:FILE[:TAG], docker-archive:FILE[:NAME[:TAG]], dir:ROOTFS or HOST[:PORT]/REPO[:TAG][@DIGEST]"
    )]
    Reference(String),
    /// A tag outside the OCI tag grammar.
    #[error(
        "'{reference}': invalid tag {tag:?} (allowed: letters, digits, '_', '.', '-'; at most 128 characters)"
    )]
    BadTag {
        /// The whole reference.
        reference: String,
        /// The tag part.
        tag: String,
    },
    /// The reference names something this operation cannot do (write to a
    /// root filesystem, keep signatures in a docker archive, …).
    #[error("{reference}: {detail}")]
    Unsupported {
        /// The reference.
        reference: String,
        /// What cannot be done, and what to use instead.
        detail: String,
    },
    /// Registry failure.
    #[error(transparent)]
    Registry(#[from] bulwark_registry::Error),
    /// Local I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Something looked for is not there.
    #[error("{origin}: {what} not found{hint}")]
    NotFound {
        /// The store.
        origin: String,
        /// What was looked for.
        what: String,
        /// What exists instead.
        hint: String,
    },
    /// A layout or archive has no image under the tag asked for.
    #[error("{origin}: no image tagged {tag:?} (tags: {available})")]
    NoTag {
        /// The store.
        origin: String,
        /// The tag asked for.
        tag: String,
        /// The tags there are.
        available: String,
    },
    /// An index without the platform asked for.
    #[error(
        "{origin}: no image for platform {platform} (has: {available}); choose one with --platform"
    )]
    NoPlatform {
        /// The image.
        origin: String,
        /// `os/arch[/variant]`.
        platform: String,
        /// The platforms the index lists.
        available: String,
    },
    /// Content that does not match its descriptor.
    #[error(
        "{origin}: {digest} does not match its descriptor: expected {expected}, found {found}; the image is corrupt or was tampered with"
    )]
    Digest {
        /// The store.
        origin: String,
        /// The object (and where it sits).
        digest: String,
        /// Expected size (and digest).
        expected: String,
        /// What was there.
        found: String,
    },
    /// A document that is not the JSON it should be.
    #[error("{what}: not valid JSON for an image {kind}: {reason}")]
    Json {
        /// Which document.
        what: String,
        /// Index, manifest, config…
        kind: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// A layer that cannot be read safely.
    #[error("{origin}: layer {digest}: {reason}")]
    Layer {
        /// The image.
        origin: String,
        /// The layer.
        digest: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A malformed document or archive, or a bound exceeded.
    #[error("{origin}: {detail}")]
    Invalid {
        /// The store.
        origin: String,
        /// The problem.
        detail: String,
    },
}

impl Error {
    /// True when the error means "not there" (a missing tag, manifest or
    /// blob) rather than a failure.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::NotFound { .. }
                | Self::NoTag { .. }
                | Self::Registry(bulwark_registry::Error::NotFound { .. })
        )
    }
}

pub(crate) fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(
    data: &[u8],
    what: &str,
    kind: &'static str,
) -> Result<T, Error> {
    serde_json::from_slice(data).map_err(|e| Error::Json {
        what: what.to_owned(),
        kind,
        reason: e.to_string(),
    })
}
