//! Fixtures for bulwark's tests, built in code rather than checked in.
//!
//! - [`DebBuilder`] makes real `.deb` files (and hostile ones);
//! - [`Repo`] lays out a Debian archive (`dists/…/InRelease` signed with a
//!   throw-away OpenPGP key, `Packages.xz`, `by-hash/`, `pool/`);
//! - [`HttpServer`] serves a directory on loopback, with fault injection.
//!
//! ```no_run
//! use bulwark_test_support::{DebBuilder, Repo, HttpServer, TestKey};
//! let key = TestKey::generate("Test Archive");
//! let mut repo = Repo::new("bookworm");
//! repo.add(DebBuilder::new("hello", "1.0-1", "amd64").file("usr/bin/hello", b"hi", 0o755));
//! let dir = tempfile_dir();
//! repo.write(&dir, &key);
//! let server = HttpServer::serve(&dir);
//! # fn tempfile_dir() -> std::path::PathBuf { unimplemented!() }
//! ```
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod archive;
mod deb;
mod http;
mod key;
mod repo;

pub use archive::{MiniArchive, mini_packages};
pub use deb::{DebBuilder, RawEntry, RawKind, compress};
pub use http::{Fault, HttpServer};
pub use key::TestKey;
pub use repo::Repo;

/// Fixed build time for fixtures (2024-01-01T00:00:00Z) so archives are reproducible.
pub const FIXTURE_MTIME: u64 = 1_704_067_200;
