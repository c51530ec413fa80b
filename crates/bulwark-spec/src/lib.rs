//! What to build ([`Spec`], YAML, every field documented in `docs/spec.md`)
//! and what was resolved ([`Lock`], JSON, written beside the spec).
//!
//! Parsing is strict: unknown fields and bad values are errors that carry
//! the line and column.
//!
//! ```
//! let spec = bulwark_spec::Spec::from_yaml("packages: [base-files]\n", "inline.yaml").unwrap();
//! assert_eq!(spec.distribution.suite, "bookworm");
//! assert_eq!(spec.accounts.run_as, "nonroot");
//! ```

mod glob;
mod lock;
mod spans;
mod spec;

pub use glob::glob_match;
pub use lock::{
    LOCK_VERSION, Lock, LockError, LockedArch, LockedIndex, LockedPackage, LockedSuite,
};
pub use spec::*;
