//! How minimal, hardened and trustworthy is an image? Findings, scores, a grade.
//!
//! [`evaluate`] runs every check over an image's merged filesystem (from
//! [`bulwark_image`]), its config and its dpkg inventory, without running
//! anything. Each [`Finding`] carries an id, a pillar, a severity, the
//! evidence (path or config key), the controls it maps to (CIS Docker
//! Benchmark §4, Dockle, DISA container SRG) and a remediation. Scores per
//! pillar and the overall grade follow the formula in `docs/eval.md`.
//!
//! ```no_run
//! let img = bulwark_image::open(&"oci:out:latest".parse().unwrap(), None).unwrap();
//! let fs = img.walk(&bulwark_eval::capture(&img)).unwrap();
//! let report = bulwark_eval::evaluate(&img, &fs, &bulwark_eval::Options::default());
//! println!("grade {}", report.grade);
//! ```

mod checks;
mod finding;
mod html;
mod needed;
mod policy;
mod sarif;
mod score;
mod trust;

pub use checks::{BIN_DIRS, tool_category};
pub use checks::{
    Cadence, Options, Vulnerabilities, capture, catalog, check, evaluate, evaluate_with, wanted,
};
pub use finding::{Check, Finding, Pillar, Severity};
pub use html::{escape_html, html};
pub use needed::{Closure, closure, owners_of, package_files};
pub use policy::{Exception, Policy, PolicyError, PolicyResult, PriorityName};
pub use sarif::{SCHEMA as SARIF_SCHEMA, sarif};
pub use score::{PillarScore, Report, grade_for};
pub use trust::Trust;
