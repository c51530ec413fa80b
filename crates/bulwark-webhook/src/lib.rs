//! The admission webhook server: HTTPS (rustls, ring) with `/validate` and
//! `/mutate` for AdmissionReview v1, `/healthz`, `/readyz` (ready once the
//! policies and keys are loaded, not while shutting down) and `/metrics`
//! (Prometheus text). The policy file, its keys and the serving
//! certificate are reloaded when they change, without dropping requests;
//! a reload that fails keeps what was loaded and says why. SIGTERM or
//! SIGINT stop accepting, finish what is in flight, then exit.
//!
//! Decisions run on the blocking pool ([`bulwark_admission::Engine`] waits
//! on registries within its budget); cached ones take microseconds.

mod certs;
mod metrics;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_server::tls_rustls::RustlsConfig;

use bulwark_admission::audit::AuditLog;
use bulwark_admission::{AdmissionReview, Endpoint, Engine, Policies};

pub use certs::{Issued, issue, service_names};
pub use metrics::Metrics;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy file or a key.
    #[error(transparent)]
    Policy(#[from] bulwark_admission::PolicyError),
    /// The serving certificate or key.
    #[error("{path}: {detail}")]
    Tls { path: String, detail: String },
    /// Binding or serving.
    #[error("{0}")]
    Io(String),
}

/// What to serve.
pub struct Options {
    pub config: PathBuf,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub listen: SocketAddr,
    /// How often files are looked at for changes.
    pub reload_every: Duration,
    /// How long in-flight requests may take after a stop signal.
    pub grace: Duration,
    /// Called once with the address bound (port 0 picks one).
    pub on_listening: Box<dyn FnOnce(SocketAddr) + Send>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("config", &self.config)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

struct AppState {
    engine: Engine,
    policies: RwLock<Arc<Policies>>,
    ready: AtomicBool,
    metrics: Metrics,
    audit: AuditLog,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn audit(
    state: &AppState,
    req: &bulwark_admission::AdmissionRequest,
    endpoint: Endpoint,
    d: &bulwark_admission::Decision,
    policies: &Policies,
    now: i64,
) {
    let record = bulwark_admission::audit::record(req, endpoint, d, &policies.digest, now);
    if let Err(e) = state.audit.write(record) {
        state.metrics.audit_error();
        tracing::error!(
            "the audit log cannot be written ({e}): decision for {} not recorded; free space or fix the log's path (bulwark_admission_audit_errors_total counts these)",
            req.uid
        );
    }
}

async fn review(state: Arc<AppState>, body: Bytes, endpoint: Endpoint) -> Response {
    let start = Instant::now();
    let req = match AdmissionReview::parse(&body) {
        Ok(r) => r,
        Err(e) => {
            state.metrics.request(endpoint, 400, start.elapsed());
            tracing::warn!("{endpoint:?}: refused a malformed review: {e}");
            let msg = serde_json::json!({"error": e.to_string()});
            return json_response(
                StatusCode::BAD_REQUEST,
                serde_json::to_vec(&msg).unwrap_or_default(),
            );
        }
    };
    let policies = state
        .policies
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    // Cached answers are given here; anything that may wait on a registry
    // goes to the blocking pool.
    let now = now_secs();
    let decided = match state.engine.decide_cached(&policies, &req, endpoint, now) {
        Some(d) => {
            audit(&state, &req, endpoint, &d, &policies, now);
            Ok(d)
        }
        None => {
            let worker = state.clone();
            tokio::task::spawn_blocking(move || {
                let now = now_secs();
                let d = worker.engine.decide(&policies, &req, endpoint, now);
                audit(&worker, &req, endpoint, &d, &policies, now);
                d
            })
            .await
        }
    };
    match decided {
        Ok(d) => {
            state.metrics.decision(endpoint, &d);
            let body = serde_json::to_vec(&AdmissionReview::answer(d.response)).unwrap_or_default();
            state.metrics.request(endpoint, 200, start.elapsed());
            json_response(StatusCode::OK, body)
        }
        Err(e) => {
            state.metrics.request(endpoint, 500, start.elapsed());
            tracing::error!("{endpoint:?}: the decision failed: {e}");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"error":"the decision failed; see the server log"}"#.to_vec(),
            )
        }
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/validate",
            post(|State(s): State<Arc<AppState>>, body: Bytes| review(s, body, Endpoint::Validate)),
        )
        .route(
            "/mutate",
            post(|State(s): State<Arc<AppState>>, body: Bytes| review(s, body, Endpoint::Mutate)),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|State(s): State<Arc<AppState>>| async move {
                if s.ready.load(Ordering::SeqCst) {
                    (StatusCode::OK, "ready\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(s): State<Arc<AppState>>| async move {
                let (calls, errors) = s.engine.registry_counters();
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    s.metrics.render(
                        calls,
                        errors,
                        s.engine.cached(),
                        s.ready.load(Ordering::SeqCst),
                    ),
                )
            }),
        )
        .layer(DefaultBodyLimit::max(
            usize::try_from(bulwark_limits::JSON_DOCUMENT).unwrap_or(usize::MAX),
        ))
        .with_state(state)
}

/// Serves until SIGTERM or SIGINT.
///
/// # Errors
/// The policy, keys or certificate cannot be loaded at start, or the
/// address cannot be bound.
pub fn serve(opts: Options, engine: Engine, audit: AuditLog) -> Result<(), Error> {
    let policies = Arc::new(Policies::load(&opts.config)?);
    let tls_config = tls::server_config(&opts.tls_cert, &opts.tls_key)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bulwark-webhook")
        .build()
        .map_err(|e| Error::Io(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let state = Arc::new(AppState {
            engine,
            policies: RwLock::new(policies),
            ready: AtomicBool::new(false),
            metrics: Metrics::default(),
            audit,
        });
        let rustls = RustlsConfig::from_config(Arc::new(tls_config));
        let handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
        let server = axum_server::bind_rustls(opts.listen, rustls.clone())
            .handle(handle.clone())
            .serve(router(state.clone()).into_make_service());
        let server = tokio::spawn(server);
        let Some(addr) = handle.listening().await else {
            return match server.await {
                Ok(Err(e)) => Err(Error::Io(format!("cannot listen on {}: {e}", opts.listen))),
                _ => Err(Error::Io(format!("cannot listen on {}", opts.listen))),
            };
        };
        state.ready.store(true, Ordering::SeqCst);
        (opts.on_listening)(addr);
        tokio::spawn(tls::watch(
            state.clone(),
            rustls,
            opts.config.clone(),
            opts.tls_cert.clone(),
            opts.tls_key.clone(),
            opts.reload_every,
        ));
        stop_signal().await;
        tracing::info!(
            "stopping: no new connections; finishing requests in flight (at most {:?})",
            opts.grace
        );
        state.ready.store(false, Ordering::SeqCst);
        handle.graceful_shutdown(Some(opts.grace));
        match server.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Io(e.to_string())),
            Err(e) => Err(Error::Io(e.to_string())),
        }
    })
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the server runs until killed.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
