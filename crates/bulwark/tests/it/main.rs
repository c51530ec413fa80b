//! End-to-end tests of the `bulwark` binary.
//!
//! - `build`, `errors`: against a synthetic signed archive on loopback;
//! - `interop`: the images checked by real tools (skopeo, umoci, podman);
//! - `examples`: `examples/*.yaml` built from the host's real Debian archive
//!   and checked with skopeo, umoci, podman and trivy.
//!
//! Under `CI=true` a missing tool is a failure, never a skip.
#![allow(clippy::unwrap_used)]

mod common;

mod admission;

mod build;
mod errors;
mod evidence;
mod examples;
mod harden;
mod interop;
mod regression;
mod report;
mod resources;
mod sbom;
mod scan;
mod snapshots;
mod trust;
mod update;
