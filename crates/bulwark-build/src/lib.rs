//! The build pipeline: spec → lock → verified .debs → filesystem → image.
//!
//! - [`sources`] decides where each suite comes from (the spec, else the
//!   host's apt configuration) and which keyring vouches for it;
//! - [`lock()`] resolves the spec against the verified indexes of every
//!   suite and writes the lock;
//! - [`build()`] fetches exactly the locked .debs (verifying size and
//!   sha256), assembles the filesystem in memory without running any
//!   maintainer script, applies the hardening rules, encodes reproducible
//!   layers and writes the image atomically.
//!
//! ```no_run
//! use bulwark_build::{BuildOptions, build};
//! let opts = BuildOptions::new("examples/base.yaml".into(), "oci:out:base".parse().unwrap());
//! let report = build(&opts).unwrap();
//! println!("{}", report.digest);
//! ```

mod assemble;
mod build;
mod error;
mod hardening;
mod lock;
pub mod provenance;
pub mod sources;
pub mod trust;

pub use assemble::{AssembleReport, Assembled, PackageSet, assemble};
pub use build::{
    BuildOptions, BuildReport, LayerReport, PlatformReport, build, security_context_yaml,
};
pub use error::BuildError;
pub use hardening::{HIGH_RISK_PACKAGES, HIGH_RISK_PATHS};
pub use lock::{LockOptions, LockOutcome, lock};

/// The progress reporter used for downloads and long steps (hidden when
/// stderr is not a terminal).
pub fn progress_bar(len: u64, msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>12} [{bar:30}] {binary_bytes}/{binary_total_bytes} {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(msg.to_owned());
    pb
}
