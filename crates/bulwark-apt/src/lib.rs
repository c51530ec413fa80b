//! The apt client: everything bulwark fetches from a Debian archive is
//! verified before use.
//!
//! The chain of trust is the one apt uses. [`Keyring`] holds OpenPGP
//! certificates (from the host's `Signed-By` keyring or the spec);
//! [`verify_inrelease`] checks the clear-signed `InRelease` (subkey binding,
//! key expiry, signing capability, revocation, `Valid-Until`); the `SHA256`
//! listing of the verified Release pins each `Packages` index (fetched by
//! hash when the archive allows it); each `Packages` stanza pins its .deb
//! by size and sha256. [`Fetcher`] downloads with retries and stores blobs
//! in a content-addressed [`Cache`] that re-verifies on every read.
//!
//! ```no_run
//! use bulwark_apt::{Fetcher, Keyring, SuiteSpec, load_suite};
//! let keyring = Keyring::load("/usr/share/keyrings/debian-archive-keyring.gpg".as_ref()).unwrap();
//! let fetcher = Fetcher::new(None).unwrap();
//! let suite = SuiteSpec { uri: "http://mirror.invalid/debian".into(), suite: "bookworm".into(),
//!     components: vec!["main".into()] };
//! let index = load_suite(&fetcher, &suite, &["amd64".into()], &keyring, None).unwrap();
//! println!("{} packages", index.packages.len());
//! ```

mod archive;
mod cache;
mod fetch;
mod gzip;
mod keyring;

pub use archive::{
    ArchiveError, IndexDigest, IndexError, LoadOptions, SuiteIndex, SuiteSpec, load_suite,
    load_suite_with, scan_index,
};
pub use cache::{Cache, default_cache_dir};
pub use fetch::{FetchError, Fetcher, OnBytes};
pub use keyring::{Keyring, KeyringError, VerifiedRelease, VerifyError, verify_inrelease};

/// Seconds since the Unix epoch now.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
