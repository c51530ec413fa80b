//! The build pipeline: spec → lock → verified .debs → filesystem → image.
//!
//! - [`sources`] decides where each suite comes from (the spec, else the
//!   host's apt configuration) and which keyring vouches for it;
//! - [`lock()`] resolves the spec against the verified indexes of every
//!   suite and writes the lock;
//! - [`build()`] fetches exactly the locked .debs (verifying size and
//!   sha256), assembles the filesystem in memory without running any
//!   maintainer script, applies the hardening rules, encodes reproducible
//!   layers and writes the image atomically;
//! - [`pipeline::run`] is all of it in one call, with the SBOMs, the
//!   provenance, signing and publishing: what `bulwark build` runs.
//!
//! ```no_run
//! use bulwark_build::pipeline::{Request, run};
//! let req = Request::new("examples/base.yaml".into(), "oci:out:base".parse().unwrap());
//! let report = run(&req).unwrap();
//! println!("{}", report.digest);
//! ```

mod assemble;
mod build;
mod error;
mod hardening;
mod lock;
pub mod pipeline;
pub mod provenance;
pub mod sources;
pub mod trust;

pub use assemble::{AssembleReport, Assembled, PackageSet, assemble};
pub use build::{
    BuildOptions, BuildReport, LayerReport, PlatformReport, build, layer_contents,
    security_context_yaml,
};
pub use error::BuildError;
pub use hardening::{
    HIGH_RISK_PACKAGES, HIGH_RISK_PATHS, HardeningReport, high_risk_package, high_risk_path,
    strip_special_bits,
};
pub use lock::{IndexSet, LockOptions, LockOutcome, lock, resolve_lock_with};

/// What a long step reports while it runs. The library never draws or
/// prints: the caller renders these events (the CLI as progress bars on
/// stderr), or ignores them ([`Silent`]).
pub trait Progress: Send + Sync {
    /// A step with `total` units of work (bytes) starts.
    fn start(&self, _step: &str, _total: u64) {}
    /// `n` more units of the current step are done.
    fn advance(&self, _n: u64) {}
    /// The current step is done.
    fn finish(&self) {}
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {}
