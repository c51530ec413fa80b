//! The decision: every image a request would run, against every policy
//! that covers it, answered within a budget. Verdicts are cached per
//! (repository and image digest, policy digest): signatures live beside
//! the image, so one digest in two repositories is verified in each. Tag
//! resolutions are cached briefly per reference.
//! Anything not verified in time is denied with what and why (fail
//! closed), never allowed by accident.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cache::{Cache, Source};
use crate::check::{Checker, Verdict};
use crate::load::Policies;
use crate::namespaces::NamespaceSource;
use crate::selector::Labels;
use crate::{AdmissionRequest, AdmissionResponse, Mode, NoMatch, images_of, needs_review};

/// How long answers are kept and how long a request may wait.
#[derive(Clone, Debug)]
pub struct Settings {
    /// A passing verdict.
    pub ttl: Duration,
    /// A failing one (or a registry failure).
    pub failure_ttl: Duration,
    /// A tag's digest.
    pub tag_ttl: Duration,
    /// All registry work for one request (shorter than the webhook timeout).
    pub budget: Duration,
    /// Answers kept at most.
    pub capacity: usize,
    /// Verifications (threads) running at most; past it, images are denied
    /// as busy.
    pub workers: usize,
    /// A namespace's labels (for policies that select namespaces by label);
    /// a label change applies to new requests after at most this long.
    pub namespace_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            failure_ttl: Duration::from_secs(10),
            tag_ttl: Duration::from_secs(10),
            budget: Duration::from_secs(6),
            capacity: 10_000,
            workers: 256,
            namespace_ttl: Duration::from_secs(30),
        }
    }
}

/// Which endpoint asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `/validate`: verify and decide.
    Validate,
    /// `/mutate`: pin tags to digests.
    Mutate,
}

/// What happened to one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Result_ {
    /// Every covering policy passed.
    Allowed,
    /// An enforcing policy failed.
    Denied,
    /// A warning policy failed (allowed, the user is told).
    Warned,
    /// An audit policy failed (allowed, recorded only).
    Audited,
    /// An exception holds.
    Excepted,
    /// No policy covers it.
    Unmatched,
    /// Pinned to its digest (mutate).
    Pinned,
}

/// One image's decision under one policy (or none).
#[derive(Clone, Debug, Serialize)]
pub struct ImageDecision {
    pub image: String,
    pub container: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    pub result: Result_,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The exception that held: its reason and last day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<Source>,
    /// The registry could not be read (or not within the budget).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub transient: bool,
}

/// The decision on a request.
#[derive(Clone, Debug)]
pub struct Decision {
    pub response: AdmissionResponse,
    pub images: Vec<ImageDecision>,
    /// Why no image was checked (deletes, scale, unchanged images).
    pub skipped: Option<String>,
}

/// The engine: a checker, its caches and settings. Policies are given per
/// call, so a reload takes effect on the next request.
pub struct Engine {
    checker: Arc<dyn Checker>,
    verdicts: Arc<Cache<(String, String), Verdict>>,
    tags: Arc<Cache<String, Result<String, String>>>,
    namespaces: Option<Arc<dyn NamespaceSource>>,
    labels: Arc<Cache<String, Result<Labels, String>>>,
    settings: Settings,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The repository of `image` as the runtime resolves it (no tag or digest).
fn repository(image: &str) -> String {
    let full = crate::normalize(image);
    let name = full.split_once('@').map_or(full.as_str(), |(n, _)| n);
    crate::policy::split_tag(name).0.to_owned()
}

/// Images one request may name (a Pod has a handful; each is verified on
/// its own thread).
const MAX_IMAGES: usize = 64;

/// Whether a decision may wait for registries, and until when.
#[derive(Clone, Copy, Debug)]
struct Wait {
    deadline: Instant,
    block: bool,
}

/// What a failure means under `mode`.
fn failed(mode: Mode) -> Result_ {
    match mode {
        Mode::Enforce => Result_::Denied,
        Mode::Warn => Result_::Warned,
        Mode::Audit => Result_::Audited,
    }
}

fn days(now: i64) -> String {
    bulwark_debian::time::format_rfc3339(now)[..10].to_owned()
}

impl Engine {
    #[must_use]
    pub fn new(checker: Arc<dyn Checker>, settings: Settings) -> Self {
        Self {
            checker,
            verdicts: Cache::new(settings.capacity, settings.workers),
            tags: Cache::new(settings.capacity, settings.workers),
            namespaces: None,
            labels: Cache::new(settings.capacity, settings.workers),
            settings,
        }
    }

    /// The same engine, reading namespace labels from `source` for policies
    /// that select namespaces by label. Without one, such a policy denies
    /// (its namespaces cannot be known).
    #[must_use]
    pub fn with_namespaces(mut self, source: Arc<dyn NamespaceSource>) -> Self {
        self.namespaces = Some(source);
        self
    }

    /// The labels of `namespace` (cached for `namespace_ttl`, a failure
    /// briefly). `None` when not cached and `w` may not wait.
    fn namespace_labels(&self, namespace: &str, w: Wait) -> Option<Result<Labels, String>> {
        let Some(source) = self.namespaces.clone() else {
            return Some(Err(
                "no namespace source: run the webhook in the cluster (it reads the API server), or give --namespaces FILE (kubectl get namespaces -o json)".into(),
            ));
        };
        if !w.block {
            return self.labels.peek(&namespace.to_owned());
        }
        let (ttl, fail_ttl) = (self.settings.namespace_ttl, self.settings.failure_ttl);
        let ns = namespace.to_owned();
        let (r, _) = self.labels.get(namespace.to_owned(), w.deadline, move || {
            let r = source.labels(&ns);
            let keep = if r.is_ok() { ttl } else { fail_ttl.min(ttl) };
            (r, keep)
        });
        Some(r.unwrap_or_else(|| {
            Err(format!(
                "not read within the {:?} budget (API server slow or unreachable, or {} reads already running)",
                self.settings.budget, self.settings.workers
            ))
        }))
    }

    /// The policies (indices) that cover `image` in `namespace`: by their
    /// globs, then by their namespace selector, the labels read once per
    /// request into `labels`. `Some(Err)` names the selecting policy whose
    /// namespace labels could not be read: the image is denied, whatever
    /// the policy's mode, as its coverage cannot be known. `None` when the
    /// labels are not cached and `w` may not wait.
    fn covering(
        &self,
        policies: &Policies,
        image: &str,
        namespace: &str,
        labels: &mut Option<Result<Labels, String>>,
        w: Wait,
    ) -> Option<Result<Vec<usize>, String>> {
        let mut out = Vec::new();
        for (i, lp) in policies.policies.iter().enumerate() {
            let p = &lp.policy;
            if !p.covers(image, namespace) {
                continue;
            }
            // `{}` selects every namespace: nothing to read.
            if p.namespace_selector.as_ref().is_some_and(|s| !s.is_empty()) {
                if labels.is_none() {
                    *labels = Some(self.namespace_labels(namespace, w)?);
                }
                match labels.as_ref() {
                    Some(Ok(l)) if !p.selects(l) => continue,
                    Some(Err(e)) => {
                        return Some(Err(format!(
                            "policy {} selects namespaces by label, and the labels of namespace {namespace:?} could not be read: {e}; denied, as whether the policy applies cannot be known",
                            p.name
                        )));
                    }
                    _ => {}
                }
            }
            out.push(i);
        }
        Some(Ok(out))
    }

    /// Registry reads made and failed so far.
    #[must_use]
    pub fn registry_counters(&self) -> (u64, u64) {
        self.checker.counters()
    }

    /// Answers held in the verdict cache.
    #[must_use]
    pub fn cached(&self) -> usize {
        self.verdicts.len()
    }

    /// The digest `image` names: its own, or its tag's (cached briefly).
    /// `None` when it is not cached and `w` may not wait.
    fn digest_of(&self, image: &str, w: Wait) -> Option<(Result<String, String>, Source)> {
        if let Some((_, d)) = image.split_once('@') {
            // Only sha256 is checked against the bytes read; the runtime
            // would accept others, so they are refused, not trusted.
            let ok = d
                .strip_prefix("sha256:")
                .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            return Some((
                if ok {
                    Ok(d.to_ascii_lowercase())
                } else {
                    Err(format!(
                        "{image}: {d:?} is not a sha256 digest; only sha256:<64 hex> can be verified"
                    ))
                },
                Source::Hit,
            ));
        }
        let key = crate::normalize(image);
        if !w.block {
            return self.tags.peek(&key).map(|r| (r, Source::Hit));
        }
        let deadline = w.deadline;
        let (checker, img, tag_ttl, fail_ttl) = (
            self.checker.clone(),
            image.to_owned(),
            self.settings.tag_ttl,
            self.settings.failure_ttl,
        );
        let (r, source) = self.tags.get(key, deadline, move || {
            let r = checker.resolve(&img);
            let keep = if r.is_ok() {
                tag_ttl
            } else {
                fail_ttl.min(tag_ttl)
            };
            (r, keep)
        });
        Some((
            r.unwrap_or_else(|| {
                Err(format!(
                    "{image}: the registry did not say which digest it names within the {:?} budget",
                    self.settings.budget
                ))
            }),
            source,
        ))
    }

    fn verdict(
        &self,
        policies: &Arc<Policies>,
        index: usize,
        image: &str,
        digest: &str,
        w: Wait,
        now: i64,
    ) -> Option<(Verdict, Source)> {
        let lp = &policies.policies[index];
        // Signatures live beside the image: the same digest in another
        // repository is verified there, not taken from a cache entry.
        let key = (format!("{}@{digest}", repository(image)), lp.digest.clone());
        if !w.block {
            return self.verdicts.peek(&key).map(|v| (v, Source::Hit));
        }
        let deadline = w.deadline;
        let (checker, ps, img, dg) = (
            self.checker.clone(),
            policies.clone(),
            image.to_owned(),
            digest.to_owned(),
        );
        let (ttl, fail_ttl) = (self.settings.ttl, self.settings.failure_ttl);
        let (v, source) = self.verdicts.get(key, deadline, move || {
            let v = checker.check(&img, &dg, &ps.policies[index], now);
            let keep = if v.ok { ttl } else { fail_ttl };
            (v, keep)
        });
        let v = v.unwrap_or_else(|| {
            Verdict::unreachable(if source == Source::Busy {
                format!(
                    "{image}@{digest}: not verified: {} verifications are running already; denied, retry shortly",
                    self.settings.workers
                )
            } else {
                format!(
                    "{image}@{digest}: not verified within the {:?} budget (registry slow or unreachable); denied, not allowed by accident",
                    self.settings.budget
                )
            })
        });
        Some((v, source))
    }

    /// Decides `req` at `endpoint` with `policies`; `now` in seconds since
    /// the epoch (exception expiry, scan age). Waits for registries, within
    /// the budget.
    pub fn decide(
        &self,
        policies: &Arc<Policies>,
        req: &AdmissionRequest,
        endpoint: Endpoint,
        now: i64,
    ) -> Decision {
        let w = Wait {
            deadline: Instant::now() + self.settings.budget,
            block: true,
        };
        self.decide_with(policies, req, endpoint, now, w)
            .unwrap_or_else(|| Decision {
                response: AdmissionResponse::deny(&req.uid, "bulwark: not decided".into()),
                images: Vec::new(),
                skipped: None,
            })
    }

    /// The decision when every answer it needs is cached, without waiting
    /// or starting work (the server answers these on its event loop);
    /// `None` otherwise.
    pub fn decide_cached(
        &self,
        policies: &Arc<Policies>,
        req: &AdmissionRequest,
        endpoint: Endpoint,
        now: i64,
    ) -> Option<Decision> {
        let w = Wait {
            deadline: Instant::now(),
            block: false,
        };
        self.decide_with(policies, req, endpoint, now, w)
    }

    fn decide_with(
        &self,
        policies: &Arc<Policies>,
        req: &AdmissionRequest,
        endpoint: Endpoint,
        now: i64,
        w: Wait,
    ) -> Option<Decision> {
        let skip = |why: &str| Decision {
            response: AdmissionResponse::allow(&req.uid, Vec::new()),
            images: Vec::new(),
            skipped: Some(why.to_owned()),
        };
        match needs_review(req) {
            Ok(false) => {
                return Some(skip(
                    "no image to check (delete, subresource or unchanged images)",
                ));
            }
            Ok(true) => {}
            Err(e) => {
                return Some(Decision {
                    response: AdmissionResponse::deny(&req.uid, e.to_string()),
                    images: Vec::new(),
                    skipped: None,
                });
            }
        }
        let images = match images_of(&req.kind.kind, &req.object) {
            Ok(i) if i.len() > MAX_IMAGES => {
                return Some(Decision {
                    response: AdmissionResponse::deny(
                        &req.uid,
                        format!(
                            "bulwark: the object names {} images, more than the {MAX_IMAGES} checked",
                            i.len()
                        ),
                    ),
                    images: Vec::new(),
                    skipped: None,
                });
            }
            Ok(i) => i,
            Err(e) => {
                return Some(Decision {
                    response: AdmissionResponse::deny(&req.uid, e.to_string()),
                    images: Vec::new(),
                    skipped: None,
                });
            }
        };
        match endpoint {
            Endpoint::Validate => self.validate(policies, req, &images, w, now),
            Endpoint::Mutate => self.mutate(policies, req, &images, w, now),
        }
    }

    fn validate(
        &self,
        policies: &Arc<Policies>,
        req: &AdmissionRequest,
        images: &[crate::ImageAt],
        w: Wait,
        now: i64,
    ) -> Option<Decision> {
        let today = days(now);
        let ns = req.namespace.as_str();
        let mut out = Vec::new();
        let mut labels = None;
        for at in images {
            let base = ImageDecision {
                image: at.image.clone(),
                container: at.container.clone(),
                digest: None,
                policy: None,
                mode: None,
                result: Result_::Allowed,
                reasons: Vec::new(),
                exception: None,
                cache: None,
                transient: false,
            };
            let covering = match self.covering(policies, &at.image, ns, &mut labels, w)? {
                Ok(c) => c,
                Err(reason) => {
                    // Like a registry failure: the API server, not the image.
                    out.push(ImageDecision {
                        result: Result_::Denied,
                        reasons: vec![reason],
                        transient: true,
                        ..base
                    });
                    continue;
                }
            };
            if covering.is_empty() {
                let (result, reasons) = match policies.file.no_match {
                    NoMatch::Allow => (Result_::Unmatched, Vec::new()),
                    NoMatch::Warn => (
                        Result_::Warned,
                        vec!["no policy covers this image (no-match: warn)".to_owned()],
                    ),
                    NoMatch::Deny => (
                        Result_::Denied,
                        vec!["no policy covers this image (no-match: deny)".to_owned()],
                    ),
                };
                out.push(ImageDecision {
                    result,
                    reasons,
                    ..base
                });
                continue;
            }
            let mut digest: Option<Result<String, String>> = None;
            for i in covering {
                let p = &policies.policies[i].policy;
                let mut d = ImageDecision {
                    policy: Some(p.name.clone()),
                    mode: Some(p.mode),
                    ..base.clone()
                };
                if let Some(e) = p.exception_for(&at.image, ns, &today) {
                    d.result = Result_::Excepted;
                    d.exception = Some((e.reason.clone(), e.expires.clone()));
                    out.push(d);
                    continue;
                }
                if p.require_digest && !at.image.contains('@') {
                    d.result = failed(p.mode);
                    d.reasons = vec![format!(
                        "the tag is not pinned to a digest (require-digest): use {}@sha256:… or let the mutating webhook pin it",
                        at.image
                    )];
                    out.push(d);
                    continue;
                }
                let dg = match &digest {
                    Some(d) => d.clone(),
                    None => {
                        let d = self.digest_of(&at.image, w)?.0;
                        digest = Some(d.clone());
                        d
                    }
                };
                let (verdict, source) = match &dg {
                    Ok(dg) => {
                        d.digest = Some(dg.clone());
                        self.verdict(policies, i, &at.image, dg, w, now)?
                    }
                    Err(e) => (Verdict::unreachable(e.clone()), Source::Miss),
                };
                d.cache = Some(source);
                d.transient = verdict.transient;
                if !verdict.ok {
                    d.reasons = verdict.reasons;
                    d.result = failed(p.mode);
                }
                out.push(d);
            }
        }
        let describe = |d: &ImageDecision| {
            format!(
                "image {} (container {}){}: {}",
                d.image,
                d.container,
                d.policy
                    .as_deref()
                    .map(|p| format!(" fails policy {p}"))
                    .unwrap_or_default(),
                d.reasons.join("; ")
            )
        };
        let denied: Vec<String> = out
            .iter()
            .filter(|d| d.result == Result_::Denied)
            .map(describe)
            .collect();
        let warnings: Vec<String> = out
            .iter()
            .filter(|d| d.result == Result_::Warned)
            .map(describe)
            .collect();
        let response = if denied.is_empty() {
            AdmissionResponse::allow(&req.uid, warnings)
        } else {
            let mut r =
                AdmissionResponse::deny(&req.uid, format!("bulwark: {}", denied.join(" | ")));
            r.warnings = warnings;
            r
        };
        Some(Decision {
            response,
            images: out,
            skipped: None,
        })
    }

    fn mutate(
        &self,
        policies: &Arc<Policies>,
        req: &AdmissionRequest,
        images: &[crate::ImageAt],
        w: Wait,
        now: i64,
    ) -> Option<Decision> {
        let today = days(now);
        let ns = req.namespace.as_str();
        let mut resolved = BTreeMap::new();
        let mut out = Vec::new();
        let mut failures = Vec::new();
        let mut labels = None;
        for at in images.iter().filter(|i| !i.image.contains('@')) {
            let covering: Vec<&crate::LoadedPolicy> =
                match self.covering(policies, &at.image, ns, &mut labels, w)? {
                    Ok(c) => c.into_iter().map(|i| &policies.policies[i]).collect(),
                    Err(reason) => {
                        failures.push((
                            true,
                            format!("image {} (container {}): {reason}", at.image, at.container),
                        ));
                        out.push(ImageDecision {
                            image: at.image.clone(),
                            container: at.container.clone(),
                            digest: None,
                            policy: None,
                            mode: None,
                            result: Result_::Denied,
                            reasons: vec![reason],
                            exception: None,
                            cache: None,
                            transient: true,
                        });
                        continue;
                    }
                };
            if !covering.iter().any(|p| p.policy.pin_digest) {
                continue;
            }
            let (r, source) = self.digest_of(&at.image, w)?;
            let mut d = ImageDecision {
                image: at.image.clone(),
                container: at.container.clone(),
                digest: None,
                policy: None,
                mode: None,
                result: Result_::Pinned,
                reasons: Vec::new(),
                exception: None,
                cache: Some(source),
                transient: false,
            };
            match r {
                Ok(digest) => {
                    d.digest = Some(digest.clone());
                    resolved.insert(at.image.clone(), digest);
                }
                Err(e) => {
                    d.transient = true;
                    // Fail closed where an enforcing policy without an
                    // exception covers the image: it cannot be pinned, so
                    // what would run cannot be known.
                    let enforced = covering.iter().any(|p| {
                        p.policy.pin_digest
                            && p.policy.mode == Mode::Enforce
                            && p.policy.exception_for(&at.image, ns, &today).is_none()
                    });
                    d.result = if enforced {
                        Result_::Denied
                    } else {
                        Result_::Warned
                    };
                    d.reasons = vec![format!("cannot pin to a digest: {e}")];
                    failures.push((
                        enforced,
                        format!(
                            "image {} (container {}): cannot pin to a digest: {e}",
                            at.image, at.container
                        ),
                    ));
                }
            }
            out.push(d);
        }
        let patch = crate::pin_patch(images, &resolved);
        let denied: Vec<&str> = failures
            .iter()
            .filter(|(e, _)| *e)
            .map(|(_, m)| m.as_str())
            .collect();
        let warnings: Vec<String> = failures
            .iter()
            .filter(|(e, _)| !*e)
            .map(|(_, m)| m.clone())
            .collect();
        let response = if denied.is_empty() {
            AdmissionResponse::allow(&req.uid, warnings).with_patch(&patch)
        } else {
            AdmissionResponse::deny(&req.uid, format!("bulwark: {}", denied.join(" | ")))
        };
        Some(Decision {
            response,
            images: out,
            skipped: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Policies;
    use crate::{LoadedPolicy, PolicyFile};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Images under `r/good` pass, `r/bad` fail, `r/slow` take 300 ms,
    /// `r/down` cannot be reached.
    #[derive(Default)]
    struct Fake {
        checks: AtomicUsize,
        resolves: AtomicUsize,
    }

    impl Checker for Fake {
        fn resolve(&self, image: &str) -> Result<String, String> {
            self.resolves.fetch_add(1, Ordering::SeqCst);
            if image.contains("down") {
                return Err(format!("cannot resolve {image}: connection refused"));
            }
            Ok(format!("sha256:{:064x}", image.len()))
        }
        fn check(&self, image: &str, _digest: &str, _p: &LoadedPolicy, _now: i64) -> Verdict {
            self.checks.fetch_add(1, Ordering::SeqCst);
            if image.contains("slow") {
                std::thread::sleep(Duration::from_millis(300));
            }
            Verdict {
                ok: image.contains("good"),
                reasons: if image.contains("good") {
                    vec![]
                } else {
                    vec!["not signed".into()]
                },
                ..Verdict::default()
            }
        }
    }

    fn policies(yaml: &str) -> Arc<Policies> {
        let file = PolicyFile::from_yaml(yaml, "p.yaml").unwrap();
        Arc::new(Policies::with_keys(file, Path::new("."), "p.yaml", vec![]).unwrap())
    }
    use std::path::Path;

    fn pod(images: &[&str]) -> AdmissionRequest {
        let containers: Vec<_> = images
            .iter()
            .enumerate()
            .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
            .collect();
        serde_json::from_value(json!({
            "uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE", "namespace": "team-a",
            "object": {"metadata": {"name": "p"}, "spec": {"containers": containers}},
        }))
        .unwrap()
    }

    const POLICY: &str = "policies:\n  - {name: signed, images: ['r/**'], mode: audit}\n  - {name: warned, images: ['r/warn/**'], mode: warn}\n  - name: enforced\n    images: ['r/enf/**']\n    mode: audit\n    exceptions: [{images: ['r/enf/legacy:*'], reason: migrating, expires: 2026-12-31}]\n";

    fn engine(budget_ms: u64) -> (Engine, Arc<Fake>) {
        let fake = Arc::new(Fake::default());
        let e = Engine::new(
            fake.clone(),
            Settings {
                budget: Duration::from_millis(budget_ms),
                ..Settings::default()
            },
        );
        (e, fake)
    }

    const NOW: i64 = 1_796_169_600; // 2026-12-02

    #[test]
    fn modes_exceptions_no_match_and_cache() {
        // `mode: enforce` needs keys to parse; swap the modes in after.
        let mut ps = policies(POLICY);
        Arc::get_mut(&mut ps).unwrap().policies[0].policy.mode = Mode::Enforce;
        Arc::get_mut(&mut ps).unwrap().policies[2].policy.mode = Mode::Enforce;
        let (e, fake) = engine(2000);
        let d = e.decide(&ps, &pod(&["r/good:1"]), Endpoint::Validate, NOW);
        assert!(d.response.allowed, "{d:?}");
        assert_eq!(d.images[0].cache, Some(Source::Miss));
        let d = e.decide(&ps, &pod(&["r/good:1"]), Endpoint::Validate, NOW);
        assert_eq!(d.images[0].cache, Some(Source::Hit));
        assert_eq!(fake.checks.load(Ordering::SeqCst), 1);
        assert_eq!(fake.resolves.load(Ordering::SeqCst), 1);

        let d = e.decide(
            &ps,
            &pod(&["r/bad:1", "q/other:1"]),
            Endpoint::Validate,
            NOW,
        );
        assert!(!d.response.allowed);
        let msg = &d.response.status.as_ref().unwrap().message;
        assert!(
            msg.contains("image r/bad:1 (container c0) fails policy signed: not signed"),
            "{msg}"
        );
        assert!(
            msg.contains(
                "image q/other:1 (container c1): no policy covers this image (no-match: deny)"
            ),
            "{msg}"
        );

        // warn: allowed, told; enforce + exception: allowed, recorded.
        let d = e.decide(&ps, &pod(&["r/warn/x:1"]), Endpoint::Validate, NOW);
        assert!(
            !d.response.allowed,
            "signed (enforce) still covers r/warn/x"
        );
        let d = e.decide(&ps, &pod(&["r/enf/legacy:2"]), Endpoint::Validate, NOW);
        let excepted = d
            .images
            .iter()
            .find(|i| i.policy.as_deref() == Some("enforced"))
            .unwrap();
        assert_eq!(excepted.result, Result_::Excepted);
        assert_eq!(excepted.exception.as_ref().unwrap().0, "migrating");
        // Past its last day the exception no longer holds.
        let d = e.decide(
            &ps,
            &pod(&["r/enf/legacy:2"]),
            Endpoint::Validate,
            NOW + 40 * 86_400,
        );
        let expired = d
            .images
            .iter()
            .find(|i| i.policy.as_deref() == Some("enforced"))
            .unwrap();
        assert_eq!(expired.result, Result_::Denied);
    }

    /// `team-a` is labelled env=prod; `slow` answers after 300 ms; any
    /// other namespace cannot be read.
    #[derive(Default)]
    struct FakeNamespaces {
        reads: AtomicUsize,
    }

    impl NamespaceSource for FakeNamespaces {
        fn labels(&self, namespace: &str) -> Result<Labels, String> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            match namespace {
                "team-a" => Ok(Labels::from([("env".to_owned(), "prod".to_owned())])),
                "team-b" => Ok(Labels::new()),
                "slow" => {
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(Labels::new())
                }
                _ => Err("connection refused".into()),
            }
        }
    }

    #[test]
    fn namespace_selectors_read_labels_once_and_fail_closed() {
        let mut ps = policies(
            "policies:\n  - name: prod\n    images: ['r/**']\n    mode: audit\n    namespace-selector: {match-labels: {env: prod}}\nno-match: allow\n",
        );
        Arc::get_mut(&mut ps).unwrap().policies[0].policy.mode = Mode::Enforce;
        let in_ns = |ns: &str, images: &[&str]| {
            let mut r = pod(images);
            r.namespace = ns.to_owned();
            r
        };
        // Without a source the policy cannot be applied: denied.
        let (bare, _) = engine(2000);
        let d = bare.decide(&ps, &in_ns("team-a", &["r/bad:1"]), Endpoint::Validate, NOW);
        assert!(!d.response.allowed);
        assert!(
            d.response
                .status
                .as_ref()
                .unwrap()
                .message
                .contains("no namespace source"),
            "{d:?}"
        );
        // `{}` selects every namespace: no labels needed, no source either.
        let mut every = policies(
            "policies:\n  - {name: all, images: ['r/**'], mode: audit, namespace-selector: {}}\n",
        );
        Arc::get_mut(&mut every).unwrap().policies[0].policy.mode = Mode::Enforce;
        let d = bare.decide(
            &every,
            &in_ns("anywhere", &["r/good:1"]),
            Endpoint::Validate,
            NOW,
        );
        assert!(d.response.allowed, "{d:?}");
        let fake_ns = Arc::new(FakeNamespaces::default());
        let (e, _) = engine(100);
        let e = e.with_namespaces(fake_ns.clone());
        // Selected: the policy applies, the labels read once for two images.
        let d = e.decide(
            &ps,
            &in_ns("team-a", &["r/bad:1", "r/good:1"]),
            Endpoint::Validate,
            NOW,
        );
        assert!(!d.response.allowed);
        assert_eq!(d.images[0].policy.as_deref(), Some("prod"));
        assert_eq!(d.images[1].result, Result_::Allowed);
        assert_eq!(fake_ns.reads.load(Ordering::SeqCst), 1);
        // Cached now: answered without waiting, and without a read.
        let d = e
            .decide_cached(
                &ps,
                &in_ns("team-a", &["r/good:1"]),
                Endpoint::Validate,
                NOW,
            )
            .expect("cached");
        assert!(d.response.allowed);
        assert_eq!(fake_ns.reads.load(Ordering::SeqCst), 1);
        // Not selected: no policy covers the image (no-match: allow).
        let d = e.decide(&ps, &in_ns("team-b", &["r/bad:1"]), Endpoint::Validate, NOW);
        assert!(d.response.allowed);
        assert_eq!(d.images[0].result, Result_::Unmatched);
        // Unreadable or slow labels deny, on both endpoints, within the budget.
        for ns in ["gone", "slow"] {
            let t = Instant::now();
            let d = e.decide(&ps, &in_ns(ns, &["r/good:1"]), Endpoint::Validate, NOW);
            assert!(t.elapsed() < Duration::from_millis(250), "{ns}");
            let msg = &d.response.status.as_ref().unwrap().message;
            assert!(
                !d.response.allowed
                    && msg.contains("policy prod selects namespaces by label")
                    && msg.contains(&format!("namespace \"{ns}\"")),
                "{ns}: {msg}"
            );
            let m = e.decide(&ps, &in_ns(ns, &["r/good:1"]), Endpoint::Mutate, NOW);
            assert!(!m.response.allowed, "{ns}: {m:?}");
        }
    }

    #[test]
    fn one_digest_in_two_repositories_is_verified_in_each() {
        let mut ps = policies("policies:\n  - {name: s, images: ['r/**'], mode: audit}\n");
        Arc::get_mut(&mut ps).unwrap().policies[0].policy.mode = Mode::Enforce;
        let (e, fake) = engine(2000);
        // Same length, same fake digest: a reproducible build pushed twice.
        let a = e.decide(&ps, &pod(&["r/good:1"]), Endpoint::Validate, NOW);
        let b = e.decide(&ps, &pod(&["r/badd:1"]), Endpoint::Validate, NOW);
        assert_eq!(a.images[0].digest, b.images[0].digest);
        assert!(a.response.allowed && !b.response.allowed);
        assert_eq!(fake.checks.load(Ordering::SeqCst), 2);
        assert_eq!(repository("r/a:1@sha256:00"), "docker.io/r/a");
        assert_eq!(repository("127.0.0.1:5000/x/y"), "127.0.0.1:5000/x/y");
    }

    #[test]
    fn warn_and_audit_allow() {
        let ps = policies(
            "policies:\n  - {name: w, images: ['r/warn/**'], mode: warn}\n  - {name: a, images: ['r/audit/**'], mode: audit}\n",
        );
        let (e, _) = engine(2000);
        let d = e.decide(
            &ps,
            &pod(&["r/warn/bad:1", "r/audit/bad:1"]),
            Endpoint::Validate,
            NOW,
        );
        assert!(d.response.allowed);
        assert_eq!(d.response.warnings.len(), 1, "{:?}", d.response.warnings);
        assert!(d.response.warnings[0].contains("fails policy w: not signed"));
        assert_eq!(d.images[1].result, Result_::Audited);
    }

    #[test]
    fn slow_and_down_registries_are_denied_within_the_budget() {
        let mut ps = policies("policies:\n  - {name: s, images: ['r/**'], mode: audit}\n");
        Arc::get_mut(&mut ps).unwrap().policies[0].policy.mode = Mode::Enforce;
        let (e, fake) = engine(100);
        let t = Instant::now();
        let d = e.decide(&ps, &pod(&["r/slow/good:1"]), Endpoint::Validate, NOW);
        assert!(
            t.elapsed() < Duration::from_millis(250),
            "{:?}",
            t.elapsed()
        );
        assert!(!d.response.allowed);
        assert!(
            d.response
                .status
                .unwrap()
                .message
                .contains("not verified within the 100ms budget")
        );
        // The check finished in the background: the next request is a hit.
        std::thread::sleep(Duration::from_millis(350));
        let d = e.decide(&ps, &pod(&["r/slow/good:1"]), Endpoint::Validate, NOW);
        assert!(d.response.allowed);
        assert_eq!(fake.checks.load(Ordering::SeqCst), 1);
        let d = e.decide(&ps, &pod(&["r/down:1"]), Endpoint::Validate, NOW);
        assert!(
            d.response
                .status
                .unwrap()
                .message
                .contains("connection refused")
        );
    }

    #[test]
    fn mutate_pins_tags_and_fails_closed_when_it_cannot() {
        let mut ps = policies("policies:\n  - {name: s, images: ['r/**'], mode: audit}\n");
        let (e, _) = engine(2000);
        let d = e.decide(
            &ps,
            &pod(&["r/a:1", "r/b@sha256:bb", "x/c:1"]),
            Endpoint::Mutate,
            NOW,
        );
        assert!(d.response.allowed);
        let patch = d.response.patch.unwrap();
        let ops: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, patch).unwrap(),
        )
        .unwrap();
        assert_eq!(ops.as_array().unwrap().len(), 1, "{ops}");
        assert_eq!(ops[0]["path"], "/spec/containers/0/image");
        assert!(
            ops[0]["value"]
                .as_str()
                .unwrap()
                .starts_with("r/a:1@sha256:")
        );
        // Audit mode: a tag that cannot be resolved is a warning…
        let d = e.decide(&ps, &pod(&["r/down:1"]), Endpoint::Mutate, NOW);
        assert!(d.response.allowed && d.response.warnings.len() == 1);
        // …enforce: a denial.
        Arc::get_mut(&mut ps).unwrap().policies[0].policy.mode = Mode::Enforce;
        let d = e.decide(&ps, &pod(&["r/down:1"]), Endpoint::Mutate, NOW);
        assert!(!d.response.allowed);
    }

    #[test]
    fn requests_without_work_pass_and_malformed_ones_are_denied() {
        let ps = policies(POLICY);
        let (e, fake) = engine(2000);
        let mut req = pod(&["r/bad:1"]);
        req.operation = "DELETE".into();
        let d = e.decide(&ps, &req, Endpoint::Validate, NOW);
        assert!(d.response.allowed && d.skipped.is_some());
        assert_eq!(fake.resolves.load(Ordering::SeqCst), 0);
        let mut req = pod(&[]);
        req.object = json!({"spec": {"containers": [{"name": "x"}]}});
        let d = e.decide(&ps, &req, Endpoint::Validate, NOW);
        assert!(!d.response.allowed);
        assert!(d.response.status.unwrap().message.contains("has no image"));
    }
}
