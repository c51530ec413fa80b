//! Kubernetes admission: AdmissionReview v1
//! requests and responses (hand-written types), the images a Pod or any
//! workload template would run (with where each sits, for patches), which
//! requests need no work (deletes, scale-only and image-unchanged updates),
//! admission policy files (with namespace label selectors, the labels read
//! from the API server or a file), and the JSON patch that pins `repo:tag` to
//! `repo:tag@sha256:…`; typed conditions on verified attestations; the
//! registry checker (index and platform manifests, both cosign formats);
//! the decision engine with its single-flight cache and budget; and the
//! signed, chained audit log. The HTTPS server is `bulwark-webhook`.

pub mod audit;
mod cache;
mod check;
pub mod conditions;
mod decide;
mod images;
mod load;
mod manifest;
pub mod namespaces;
mod policy;
mod review;
pub mod selector;

pub use cache::Source;
pub use check::{Checker, RegistryChecker, Verdict};
pub use decide::{Decision, Endpoint, Engine, ImageDecision, Result_ as ImageResult, Settings};
pub use images::{ImageAt, images_of, needs_review};
pub use load::{LoadedPolicy, Policies, fingerprint};
pub use manifest::requests_from_manifest;
pub use namespaces::{KubeNamespaces, NamespaceSource, StaticNamespaces};
pub use policy::{
    AdmissionPolicy, Exception, Mode, NoMatch, PolicyError, PolicyFile, normalize, pin_patch,
};
pub use review::{
    AdmissionRequest, AdmissionResponse, AdmissionReview, GroupVersionKind, Status, UserInfo,
};

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is not an AdmissionReview v1.
    #[error("not an admission.k8s.io/v1 AdmissionReview: {0}")]
    Review(String),
    /// The object is not the kind the request says, or is malformed.
    #[error("{kind} {name}: {detail}")]
    Object {
        /// The object's kind.
        kind: String,
        /// Its name (or `(unnamed)`).
        name: String,
        /// What is wrong.
        detail: String,
    },
}
