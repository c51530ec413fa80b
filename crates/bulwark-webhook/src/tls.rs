//! The serving certificate, and reloads: the policy file, its keys and the
//! certificate are fingerprinted every few seconds (a Secret or ConfigMap
//! update swaps a symlink, so contents are read, not mtimes); what changed
//! is loaded again and swapped in between requests. A load that fails
//! keeps the previous one: a typo never opens or closes the gate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};

use bulwark_admission::Policies;

use crate::{AppState, Error};

fn read(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    bulwark_limits::read_file(path, bulwark_limits::KEY_FILE, what).map_err(|e| Error::Tls {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

/// A rustls server config (ring; TLS 1.2 and 1.3; h2 and http/1.1) from
/// PEM files.
///
/// # Errors
/// The files cannot be read, hold no certificate or key, or do not match.
pub fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, Error> {
    let tls = |path: &Path, detail: String| Error::Tls {
        path: path.display().to_string(),
        detail,
    };
    let cert_pem = read(cert, "TLS certificate")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| tls(cert, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(tls(cert, "holds no CERTIFICATE block".into()));
    }
    let key_pem = read(key, "TLS key")?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| tls(key, format!("not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| {
            tls(
                cert,
                format!(
                    "the certificate and {} do not make a pair: {e}",
                    key.display()
                ),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn fingerprint(paths: &[PathBuf]) -> String {
    let mut h = Sha256::new();
    for p in paths {
        h.update(p.display().to_string().as_bytes());
        match std::fs::read(p) {
            Ok(b) => h.update(&b),
            Err(e) => h.update(e.to_string().as_bytes()),
        }
    }
    hex::encode(h.finalize())
}

/// Reloads what changed, every `every`.
pub(crate) async fn watch(
    state: Arc<AppState>,
    rustls: RustlsConfig,
    config: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    every: Duration,
) {
    let tls_files = [cert.clone(), key.clone()];
    let policy_files = |s: &AppState| {
        s.policies
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .sources
            .clone()
    };
    let mut tls_seen = fingerprint(&tls_files);
    // What was actually read, not the files as they are now: a change made
    // while loading is seen on the next tick.
    let mut policy_seen = state
        .policies
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .fingerprint
        .clone();
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let now = bulwark_admission::fingerprint(&policy_files(&state));
        if now != policy_seen {
            policy_seen = now;
            let path = config.clone();
            match tokio::task::spawn_blocking(move || Policies::load(&path)).await {
                Ok(Ok(p)) => {
                    // Files named by the new policy may differ: watch
                    // those, as they were read.
                    policy_seen.clone_from(&p.fingerprint);
                    tracing::info!(
                        "reloaded {} ({} policies, digest {})",
                        config.display(),
                        p.policies.len(),
                        p.digest
                    );
                    *state
                        .policies
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(p);
                    state.metrics.reload("policy", true);
                }
                Ok(Err(e)) => {
                    tracing::error!("policy reload failed, keeping the previous policies: {e}");
                    state.metrics.reload("policy", false);
                }
                Err(e) => {
                    tracing::error!("policy reload failed: {e}");
                    state.metrics.reload("policy", false);
                }
            }
        }
        let now = fingerprint(&tls_files);
        if now != tls_seen {
            tls_seen = now;
            match server_config(&cert, &key) {
                Ok(c) => {
                    rustls.reload_from_config(Arc::new(c));
                    tracing::info!("reloaded the serving certificate {}", cert.display());
                    state.metrics.reload("certificate", true);
                }
                Err(e) => {
                    tracing::error!("certificate reload failed, keeping the previous one: {e}");
                    state.metrics.reload("certificate", false);
                }
            }
        }
    }
}
