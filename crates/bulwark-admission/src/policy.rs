//! Admission policy files: which images each policy covers (globs, like
//! policy-controller's ClusterImagePolicy), in which namespaces, with which
//! keys and attestations, in which mode, and the exceptions (each with a
//! reason and an expiry date). Strict: unknown fields, an enforcing policy
//! without keys, or an exception without a reason are errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ImageAt;
use crate::conditions::Conditions;
use crate::selector::{LabelSelector, Labels};

/// The file: a list of policies.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyFile {
    pub policies: Vec<AdmissionPolicy>,
    /// What happens to an image no policy covers (default: deny).
    #[serde(default)]
    pub no_match: NoMatch,
}

/// What happens to an image that no policy covers.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NoMatch {
    /// Deny it: only what a policy names may run (fail closed).
    #[default]
    Deny,
    /// Allow it with a warning.
    Warn,
    /// Allow it.
    Allow,
}

/// What a policy does when an image fails it.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Deny.
    #[default]
    Enforce,
    /// Allow with a warning shown to the user.
    Warn,
    /// Allow; record the failure in the audit log only.
    Audit,
}

/// One policy.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AdmissionPolicy {
    pub name: String,
    /// Image globs (`127.0.0.1:5000/**`): `*` within a path component, `**`
    /// across them.
    pub images: Vec<String>,
    /// Namespace globs; empty: every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Namespaces by label, as Kyverno's `namespaceSelector`: the policy
    /// covers a namespace its globs match and whose labels this selects.
    /// The webhook reads the labels from the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Public keys (PEM files or cosign keys, relative to the policy file).
    #[serde(default)]
    pub keys: Vec<PathBuf>,
    /// Attestation types that must verify (`spdx`, `slsa-provenance`, …).
    #[serde(default)]
    pub attestations: Vec<String>,
    /// For a multi-platform image, the platforms (`linux/amd64`) whose
    /// manifests must verify like the index; absent: every platform the
    /// index lists; `[]`: the index alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Vec<String>>,
    /// Typed conditions on what the verified attestations say.
    #[serde(default)]
    pub conditions: Conditions,
    #[serde(default)]
    pub mode: Mode,
    /// Rewrite `repo:tag` to `repo:tag@sha256:…` (mutating endpoint).
    #[serde(default = "yes")]
    pub pin_digest: bool,
    /// Deny images not pinned by digest (validating endpoint): what runs
    /// must be what was verified. With the mutating webhook in front,
    /// tags arrive pinned.
    #[serde(default)]
    pub require_digest: bool,
    #[serde(default)]
    pub exceptions: Vec<Exception>,
}

fn yes() -> bool {
    true
}

/// An accepted exception.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// Image globs it covers.
    pub images: Vec<String>,
    /// Namespace globs; empty: every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Why (required).
    pub reason: String,
    /// Last day it holds, `YYYY-MM-DD` (required).
    pub expires: String,
}

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct PolicyError {
    pub origin: String,
    pub message: String,
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u8>().unwrap_or(0))
}

/// The reference without its digest (`repo:tag@sha256:…` → `repo:tag`).
fn without_digest(image: &str) -> &str {
    image.split_once('@').map_or(image, |(n, _)| n)
}

/// `repo[:tag]` (no digest) split at its tag: the tag follows the last ':'
/// after the last '/' (a registry port is not a tag).
pub(crate) fn split_tag(name: &str) -> (&str, Option<&str>) {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], Some(&name[slash + i + 1..])),
        None => (name, None),
    }
}

/// The reference as the container runtime resolves it: the default
/// registry (`docker.io`) when the first component is no host, `library/`
/// for a one-part Docker Hub name, and `:latest` without tag or digest. So
/// `nginx`, `library/nginx` and `docker.io/library/nginx:latest` are one
/// image, and a policy cannot be stepped around by spelling it differently.
#[must_use]
pub fn normalize(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let (repo, tag) = split_tag(name);
    // Docker Hub's other host names reach the same registry.
    let repo = ["index.docker.io/", "registry-1.docker.io/"]
        .iter()
        .find_map(|h| repo.strip_prefix(h).map(|rest| format!("docker.io/{rest}")))
        .unwrap_or_else(|| repo.to_owned());
    let repo = repo.as_str();
    let first = repo.split('/').next().unwrap_or_default();
    let has_host =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = if has_host {
        repo.to_owned()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    if let Some(rest) = full.strip_prefix("docker.io/")
        && !rest.contains('/')
    {
        full = format!("docker.io/library/{rest}");
    }
    match (tag, digest) {
        (Some(t), _) => full = format!("{full}:{t}"),
        (None, None) => full.push_str(":latest"),
        (None, Some(_)) => {}
    }
    if let Some(d) = digest {
        full = format!("{full}@{d}");
    }
    full
}

/// Whether any glob matches `image` as written, as the runtime resolves it,
/// or either without its digest.
fn image_matches(globs: &[String], image: &str) -> bool {
    let full = normalize(image);
    [
        image,
        without_digest(image),
        full.as_str(),
        without_digest(&full),
    ]
    .iter()
    .any(|s| any_glob(globs, s))
}

fn any_glob(globs: &[String], s: &str) -> bool {
    globs.iter().any(|g| bulwark_spec::glob_match(g, s))
}

impl PolicyFile {
    /// Parses and checks a policy file.
    ///
    /// # Errors
    /// YAML errors (with line and column), unknown fields, and the rules
    /// above.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let err = |message: String| PolicyError {
            origin: origin.to_owned(),
            message,
        };
        let f: PolicyFile = serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?;
        if f.policies.is_empty() {
            return Err(err(
                "no policies: an empty file would admit everything".into()
            ));
        }
        let mut names = BTreeSet::new();
        for p in &f.policies {
            if p.name.trim().is_empty() || !names.insert(p.name.as_str()) {
                return Err(err(format!(
                    "policy names must be unique and not empty ({:?})",
                    p.name
                )));
            }
            if p.images.is_empty() {
                return Err(err(format!(
                    "policy {}: images: names no image glob",
                    p.name
                )));
            }
            for a in &p.attestations {
                if bulwark_attest::predicate_type(a).is_none() {
                    return Err(err(format!(
                        "policy {}: unknown attestation type {a:?} (spdx, spdx3, cyclonedx, slsa-provenance, vuln, openvex, eval, custom or a predicate type URI)",
                        p.name
                    )));
                }
            }
            if let Some(sel) = &p.namespace_selector {
                sel.check()
                    .map_err(|m| err(format!("policy {}: namespace-selector: {m}", p.name)))?;
            }
            p.conditions
                .check()
                .map_err(|m| err(format!("policy {}: conditions: {m}", p.name)))?;
            if p.mode == Mode::Enforce && p.keys.is_empty() {
                return Err(err(format!(
                    "policy {}: mode enforce needs keys: (nothing could verify; fail closed)",
                    p.name
                )));
            }
            if p.mode == Mode::Enforce && !p.pin_digest && !p.require_digest {
                // A tag checked now may name other bytes when the kubelet
                // pulls: what runs would not be what was verified.
                return Err(err(format!(
                    "policy {}: mode enforce with pin-digest and require-digest both off would admit a tag that can be moved after it was verified; leave pin-digest on (the mutating webhook pins tags), set require-digest: true, or use mode warn or audit",
                    p.name
                )));
            }
            for e in &p.exceptions {
                if e.reason.trim().is_empty() {
                    return Err(err(format!(
                        "policy {}: an exception needs a reason",
                        p.name
                    )));
                }
                if !is_date(&e.expires) {
                    return Err(err(format!(
                        "policy {}: exception expires {:?} is not a date (YYYY-MM-DD)",
                        p.name, e.expires
                    )));
                }
            }
        }
        Ok(f)
    }

    /// The policies that cover `image` in `namespace` by their globs
    /// ([`AdmissionPolicy::covers`]; namespace selectors not applied).
    #[must_use]
    pub fn applicable(&self, image: &str, namespace: &str) -> Vec<&AdmissionPolicy> {
        self.policies
            .iter()
            .filter(|p| p.covers(image, namespace))
            .collect()
    }
}

impl AdmissionPolicy {
    /// Whether this policy covers `image` in `namespace` by its globs
    /// alone: the image matched as written and as the runtime resolves it
    /// ([`normalize`]), with and without its digest. The namespace
    /// selector is not applied here (it needs the namespace's labels):
    /// the decision engine also checks [`Self::selects`].
    #[must_use]
    pub fn covers(&self, image: &str, namespace: &str) -> bool {
        image_matches(&self.images, image)
            && (self.namespaces.is_empty() || any_glob(&self.namespaces, namespace))
    }

    /// Whether the namespace selector (if any) selects `labels`.
    #[must_use]
    pub fn selects(&self, labels: &Labels) -> bool {
        self.namespace_selector
            .as_ref()
            .is_none_or(|s| s.matches(labels))
    }

    /// The exception that holds for `image` in `namespace` on `today`
    /// (`YYYY-MM-DD`): expired ones no longer do.
    #[must_use]
    pub fn exception_for(&self, image: &str, namespace: &str, today: &str) -> Option<&Exception> {
        self.exceptions.iter().find(|e| {
            e.expires.as_str() >= today
                && image_matches(&e.images, image)
                && (e.namespaces.is_empty() || any_glob(&e.namespaces, namespace))
        })
    }
}

/// The JSON patch that pins each image to the digest it resolved to
/// (`resolved`: image as written → `sha256:…`), keeping the tag:
/// `repo:tag` → `repo:tag@sha256:…`. Images already pinned, or not
/// resolved, are left alone.
#[must_use]
pub fn pin_patch(images: &[ImageAt], resolved: &BTreeMap<String, String>) -> Vec<Value> {
    images
        .iter()
        .filter(|i| !i.image.contains('@'))
        .filter_map(|i| {
            resolved.get(&i.image).map(|d| {
                json!({"op": "replace", "path": i.pointer, "value": format!("{}@{d}", i.image)})
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALLEST: &str = "policies:\n  - name: signed\n    images: [\"127.0.0.1:5000/**\"]\n    keys: [release.pub]\n    attestations: [spdx, slsa-provenance]\n    mode: enforce\n";

    #[test]
    fn the_smallest_policy_and_its_coverage() {
        let f = PolicyFile::from_yaml(SMALLEST, "p.yaml").unwrap();
        let p = &f.policies[0];
        assert!(p.pin_digest);
        assert!(p.covers("127.0.0.1:5000/team/app:1", "default"));
        assert!(p.covers("127.0.0.1:5000/app:1@sha256:ab", "default"));
        assert!(!p.covers("127.0.0.2:5000/app:1", "default"));
        assert_eq!(f.applicable("127.0.0.1:5000/a:1", "x").len(), 1);
    }

    #[test]
    fn other_spellings_of_one_image_are_covered() {
        assert_eq!(normalize("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(normalize("myorg/app:1"), "docker.io/myorg/app:1");
        assert_eq!(
            normalize("docker.io/nginx@sha256:ab"),
            "docker.io/library/nginx@sha256:ab"
        );
        assert_eq!(normalize("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(normalize("localhost/a/b:2"), "localhost/a/b:2");
        assert_eq!(
            normalize("index.docker.io/myorg/app:1"),
            "docker.io/myorg/app:1"
        );
        assert_eq!(
            normalize("registry-1.docker.io/nginx"),
            "docker.io/library/nginx:latest"
        );
        let f = PolicyFile::from_yaml(
            "policies:\n  - {name: hub, images: ['docker.io/library/**', 'docker.io/myorg/**'], keys: [k]}\n",
            "p",
        )
        .unwrap();
        for image in [
            "nginx",
            "library/nginx:1",
            "myorg/app:1",
            "docker.io/myorg/app@sha256:ab",
        ] {
            assert_eq!(f.applicable(image, "default").len(), 1, "{image}");
        }
        assert!(
            f.applicable("127.0.0.1:5000/myorg/app:1", "default")
                .is_empty()
        );
    }

    #[test]
    fn strict_and_fail_closed() {
        for (yaml, want) in [
            ("policies: []\n", "no policies"),
            ("policies:\n  - name: a\n    images: [x]\n", "needs keys"),
            (
                "policies:\n  - name: a\n    images: [x]\n    keys: [k]\n    modes: warn\n",
                "unknown field",
            ),
            (
                "policies:\n  - name: a\n    images: []\n    keys: [k]\n",
                "names no image glob",
            ),
            (
                "policies:\n  - {name: a, images: [x], keys: [k]}\n  - {name: a, images: [y], keys: [k]}\n",
                "unique",
            ),
            (
                "policies:\n  - name: a\n    images: [x]\n    keys: [k]\n    exceptions: [{images: [x], reason: '', expires: 2027-01-01}]\n",
                "needs a reason",
            ),
            (
                "policies:\n  - name: a\n    images: [x]\n    keys: [k]\n    exceptions: [{images: [x], reason: r, expires: soon}]\n",
                "not a date",
            ),
            (
                "policies:\n  - {name: a, images: [x], keys: [k], pin-digest: false}\n",
                "can be moved after it was verified",
            ),
        ] {
            let e = PolicyFile::from_yaml(yaml, "p.yaml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(want) && e.starts_with("p.yaml: "), "{yaml}: {e}");
        }
        // warn and audit need no keys: they never deny.
        PolicyFile::from_yaml("policies:\n  - {name: a, images: [x], mode: audit}\n", "p").unwrap();
        // Without pinning, requiring digests keeps what runs what was verified.
        PolicyFile::from_yaml(
            "policies:\n  - {name: a, images: [x], keys: [k], pin-digest: false, require-digest: true}\n",
            "p",
        )
        .unwrap();
    }

    #[test]
    fn exceptions_hold_until_their_last_day() {
        let yaml = "policies:\n  - name: a\n    images: ['r/**']\n    keys: [k]\n    namespaces: ['team-*']\n    exceptions:\n      - {images: ['r/legacy:*'], reason: migrating by March, expires: 2027-03-31}\n";
        let f = PolicyFile::from_yaml(yaml, "p").unwrap();
        let p = &f.policies[0];
        assert!(!p.covers("r/app:1", "kube-system"));
        assert!(p.covers("r/app:1", "team-a"));
        assert!(
            p.exception_for("r/legacy:2", "team-a", "2027-03-31")
                .is_some()
        );
        assert!(
            p.exception_for("r/legacy:2", "team-a", "2027-04-01")
                .is_none()
        );
        assert!(p.exception_for("r/app:2", "team-a", "2026-01-01").is_none());
    }

    #[test]
    fn namespace_selectors_are_checked_at_load() {
        let yaml = "policies:\n  - name: a\n    images: ['r/**']\n    keys: [k]\n    namespace-selector:\n      matchLabels: {env: prod}\n      match-expressions: [{key: tier, operator: NotIn, values: [test]}]\n";
        let p = &PolicyFile::from_yaml(yaml, "p").unwrap().policies[0];
        let l = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(p.selects(&l(&[("env", "prod")])));
        assert!(!p.selects(&l(&[("env", "prod"), ("tier", "test")])));
        assert!(!p.selects(&l(&[])));
        let bad = "policies:\n  - name: a\n    images: ['r/**']\n    keys: [k]\n    namespace-selector: {match-expressions: [{key: env, operator: In}]}\n";
        let e = PolicyFile::from_yaml(bad, "p").unwrap_err().to_string();
        assert!(
            e.contains(
                "policy a: namespace-selector: match-expressions: env In needs at least one value"
            ),
            "{e}"
        );
    }

    #[test]
    fn pinning_keeps_the_tag_and_skips_pinned_images() {
        let at = |image: &str, i: usize| ImageAt {
            image: image.into(),
            pointer: format!("/spec/containers/{i}/image"),
            container: format!("c{i}"),
        };
        let images = [at("r/a:1", 0), at("r/b@sha256:bb", 1), at("r/c:2", 2)];
        let resolved = BTreeMap::from([
            ("r/a:1".to_owned(), "sha256:aa".to_owned()),
            ("r/b@sha256:bb".to_owned(), "sha256:bb".to_owned()),
        ]);
        let ops = pin_patch(&images, &resolved);
        assert_eq!(
            ops,
            [
                json!({"op": "replace", "path": "/spec/containers/0/image", "value": "r/a:1@sha256:aa"})
            ]
        );
    }
}
