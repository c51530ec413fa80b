//! Where images live: naming them, reading them, writing and copying them.
//!
//! This crate is the one way bulwark reaches an image. [`ImageRef`] is the
//! one grammar for every transport, read or written: `oci:DIR[:TAG|@DIGEST]`,
//! `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME[:TAG]]`, `dir:ROOTFS`
//! and registry references. Behind it:
//!
//! - [`open`] resolves a reference to one platform ([`default_platform`]
//!   when none is asked for) and [`Opened::walk`] streams its layers,
//!   without extracting anything, applying whiteouts, and checking each
//!   blob's size and sha256 as it goes;
//! - a [`Store`] (a layout, an archive read in place, or a registry
//!   repository) reads every blob verified, lists and records referrers
//!   (OCI 1.1 API or the `sha256-<hex>` tag schema), and writes atomically;
//!   [`Target`] opens one for writing (archives are unpacked to a private
//!   layout and packed again on [`Store::commit`]);
//! - [`check_image`] verifies every object an image reaches, and [`copy`]
//!   moves an image with its platforms and referrers between any two stores.
//!
//! Adding a transport means a variant in `reference.rs`, a way to open it
//! in `store.rs` (and `open.rs` if it reads differently), and nothing else.
//!
//! ```no_run
//! use bulwark_image::{ImageRef, Options, Target};
//!
//! let r: ImageRef = "oci:out:latest".parse()?;
//! let img = bulwark_image::open(&r, None)?;
//! let fs = img.walk(&|p: &str| p == "etc/os-release")?;
//! println!("{} files", fs.files.len());
//!
//! let dst = Target::open(&"oci:mirror:base".parse()?, &Options::default())?;
//! let summary = bulwark_image::copy(&Target::read(&r, &Options::default())?, &dst)?;
//! dst.store.commit()?;
//! println!("{} blobs copied", summary.blobs_copied);
//! # Ok::<(), bulwark_image::Error>(())
//! ```

pub mod caps;
mod check;
mod copy;
mod docker;
mod error;
mod open;
mod platform;
mod reference;
mod store;
mod walk;

pub use check::{CheckSummary, Depth, check_image};
pub use copy::{CopySummary, copy};
pub use error::Error;
pub use open::{LayerBlob, Opened, open, open_all, open_with};
pub use platform::{default_platform, index_platforms, platform_name, select};
pub use reference::{ImageRef, valid_tag};
pub use store::{
    Archive, ArchiveKind, MAX_JSON, Object, Options, Store, Target, digest_tag, is_signature_tag,
};
pub use walk::{FileInfo, FileKind, FileSystem, LayerCopy, SourceEntry, TarLayer};
