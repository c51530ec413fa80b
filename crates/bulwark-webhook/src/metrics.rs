//! Prometheus metrics in the text exposition format: requests by endpoint
//! and status, decisions by endpoint, policy, result and reason, a latency
//! histogram, cache hits and misses, registry reads and failures, reloads.
//! Label values are bounded: policies come from the file, reasons are a
//! small fixed set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use bulwark_admission::{Decision, Endpoint, ImageDecision, ImageResult, Source};

const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    decisions: BTreeMap<(&'static str, String, &'static str, &'static str), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    cache: BTreeMap<&'static str, u64>,
    reloads: BTreeMap<(&'static str, &'static str), u64>,
    audit_errors: u64,
}

fn endpoint_name(e: Endpoint) -> &'static str {
    match e {
        Endpoint::Validate => "validate",
        Endpoint::Mutate => "mutate",
    }
}

fn result_name(r: ImageResult) -> &'static str {
    match r {
        ImageResult::Allowed => "allowed",
        ImageResult::Denied => "denied",
        ImageResult::Warned => "warned",
        ImageResult::Audited => "audited",
        ImageResult::Excepted => "excepted",
        ImageResult::Unmatched => "unmatched",
        ImageResult::Pinned => "pinned",
    }
}

/// A bounded reason for a label.
fn reason(d: &ImageDecision) -> &'static str {
    let text = d.reasons.join(" ");
    if d.exception.is_some() {
        "exception"
    } else if d.reasons.is_empty() {
        "none"
    } else if text.contains("no policy covers") {
        "no-match"
    } else if d.transient {
        "registry"
    } else if text.contains("not signed") || text.contains("no signature verifies") {
        "signature"
    } else if text.contains("attestation") && text.contains("no verified") {
        "attestation"
    } else {
        "condition"
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub(crate) fn request(&self, endpoint: Endpoint, status: u16, took: Duration) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = endpoint_name(endpoint);
        *g.requests.entry((e, status)).or_default() += 1;
        let h = g.latency.entry(e).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub(crate) fn decision(&self, endpoint: Endpoint, d: &Decision) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = endpoint_name(endpoint);
        for i in &d.images {
            let policy = i.policy.clone().unwrap_or_default();
            *g.decisions
                .entry((e, policy, result_name(i.result), reason(i)))
                .or_default() += 1;
            if let Some(s) = i.cache {
                let k = match s {
                    Source::Hit => "hit",
                    Source::Miss => "miss",
                    Source::Shared => "shared",
                    Source::Busy => "busy",
                };
                *g.cache.entry(k).or_default() += 1;
            }
        }
    }

    pub(crate) fn reload(&self, what: &'static str, ok: bool) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *g.reloads
            .entry((what, if ok { "ok" } else { "error" }))
            .or_default() += 1;
    }

    /// A decision the audit log could not record.
    pub(crate) fn audit_error(&self) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.audit_errors += 1;
    }

    /// The exposition text.
    #[must_use]
    pub fn render(
        &self,
        registry_calls: u64,
        registry_errors: u64,
        cached: usize,
        ready: bool,
    ) -> String {
        let g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP bulwark_admission_requests_total AdmissionReview requests by endpoint and HTTP status."
        );
        let _ = writeln!(s, "# TYPE bulwark_admission_requests_total counter");
        for ((e, code), n) in &g.requests {
            let _ = writeln!(
                s,
                "bulwark_admission_requests_total{{endpoint=\"{e}\",code=\"{code}\"}} {n}"
            );
        }
        let _ = writeln!(
            s,
            "# HELP bulwark_admission_decisions_total Image decisions by endpoint, policy, result and reason."
        );
        let _ = writeln!(s, "# TYPE bulwark_admission_decisions_total counter");
        for ((e, p, r, why), n) in &g.decisions {
            let _ = writeln!(
                s,
                "bulwark_admission_decisions_total{{endpoint=\"{e}\",policy=\"{}\",result=\"{r}\",reason=\"{why}\"}} {n}",
                escape(p)
            );
        }
        let _ = writeln!(
            s,
            "# HELP bulwark_admission_request_duration_seconds Time to answer a review."
        );
        let _ = writeln!(
            s,
            "# TYPE bulwark_admission_request_duration_seconds histogram"
        );
        for (e, h) in &g.latency {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "bulwark_admission_request_duration_seconds_bucket{{endpoint=\"{e}\",le=\"{b}\"}} {}",
                    h.counts.get(i).copied().unwrap_or(0)
                );
            }
            let _ = writeln!(
                s,
                "bulwark_admission_request_duration_seconds_bucket{{endpoint=\"{e}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                s,
                "bulwark_admission_request_duration_seconds_sum{{endpoint=\"{e}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                s,
                "bulwark_admission_request_duration_seconds_count{{endpoint=\"{e}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            s,
            "# HELP bulwark_admission_cache_total Verdicts and tag resolutions by where they came from (hit, miss, shared with a concurrent request, busy: not started, too many running)."
        );
        let _ = writeln!(s, "# TYPE bulwark_admission_cache_total counter");
        for k in ["hit", "miss", "shared", "busy"] {
            let _ = writeln!(
                s,
                "bulwark_admission_cache_total{{result=\"{k}\"}} {}",
                g.cache.get(k).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(s, "# HELP bulwark_admission_cache_entries Verdicts held.");
        let _ = writeln!(s, "# TYPE bulwark_admission_cache_entries gauge");
        let _ = writeln!(s, "bulwark_admission_cache_entries {cached}");
        let _ = writeln!(
            s,
            "# HELP bulwark_admission_registry_requests_total Registry reads (each attempt)."
        );
        let _ = writeln!(
            s,
            "# TYPE bulwark_admission_registry_requests_total counter"
        );
        let _ = writeln!(
            s,
            "bulwark_admission_registry_requests_total {registry_calls}"
        );
        let _ = writeln!(
            s,
            "# HELP bulwark_admission_registry_errors_total Registry reads that failed."
        );
        let _ = writeln!(s, "# TYPE bulwark_admission_registry_errors_total counter");
        let _ = writeln!(
            s,
            "bulwark_admission_registry_errors_total {registry_errors}"
        );
        let _ = writeln!(
            s,
            "# HELP bulwark_admission_reloads_total Policy and certificate reloads by result."
        );
        let _ = writeln!(s, "# TYPE bulwark_admission_reloads_total counter");
        for ((what, r), n) in &g.reloads {
            let _ = writeln!(
                s,
                "bulwark_admission_reloads_total{{file=\"{what}\",result=\"{r}\"}} {n}"
            );
        }
        let _ = writeln!(
            s,
            "# HELP bulwark_admission_audit_errors_total Decisions the audit log could not record (alert on any)."
        );
        let _ = writeln!(s, "# TYPE bulwark_admission_audit_errors_total counter");
        let _ = writeln!(s, "bulwark_admission_audit_errors_total {}", g.audit_errors);
        let _ = writeln!(
            s,
            "# HELP bulwark_admission_ready 1 when policies and keys are loaded and the server accepts reviews."
        );
        let _ = writeln!(s, "# TYPE bulwark_admission_ready gauge");
        let _ = writeln!(s, "bulwark_admission_ready {}", u8::from(ready));
        s
    }
}
