//! Errors of the build pipeline. Each says what, where, and what to do.

/// Why a lock or build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Spec(#[from] bulwark_spec::SpecError),
    #[error(transparent)]
    Lock(#[from] bulwark_spec::LockError),
    #[error("{0}")]
    Sources(String),
    #[error(transparent)]
    Keyring(#[from] bulwark_apt::KeyringError),
    #[error(transparent)]
    Archive(#[from] bulwark_apt::ArchiveError),
    /// A suite load shared by several resolutions failed.
    #[error(transparent)]
    SharedArchive(std::sync::Arc<bulwark_apt::ArchiveError>),
    #[error(transparent)]
    Fetch(#[from] bulwark_apt::FetchError),
    #[error("{spec} ({arch}): {source}")]
    Resolve {
        spec: String,
        arch: String,
        source: bulwark_resolve::ResolveError,
    },
    #[error(
        "{lock}: {package} {version} is no longer in the archive (HTTP 404 on {url}); run 'bulwark lock --update {spec}' to re-lock"
    )]
    Gone {
        lock: String,
        spec: String,
        package: String,
        version: String,
        url: String,
    },
    #[error("{lock} is missing; run 'bulwark lock {spec}' (or build without --frozen)")]
    LockMissing { lock: String, spec: String },
    #[error(
        "{lock} is stale: it was made for another version of {spec}; run 'bulwark lock {spec}' (or build without --frozen)"
    )]
    LockStale { lock: String, spec: String },
    #[error("{lock} has no packages for architecture {arch}; run 'bulwark lock --update {spec}'")]
    LockArch {
        lock: String,
        spec: String,
        arch: String,
    },
    #[error(transparent)]
    Deb(#[from] bulwark_deb::DebError),
    #[error("{spec}: {message}")]
    Hardening { spec: String, message: String },
    #[error("{spec}: files: {message}")]
    LocalFiles { spec: String, message: String },
    #[error(transparent)]
    Encode(#[from] bulwark_layer::EncodeError),
    #[error(transparent)]
    Destination(#[from] bulwark_oci::DestinationError),
    #[error(transparent)]
    Image(#[from] bulwark_image::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("SOURCE_DATE_EPOCH={0:?} is not a non-negative integer")]
    BadEpoch(String),
}
