//! A blocking OCI distribution client.
//!
//! bulwark's commands are synchronous; this crate wraps the async
//! `oci-client` in a current-thread runtime and adds what bulwark needs on
//! top: credentials found like docker and podman find them ([`auth`]),
//! digests verified on every pull, bounded retries with backoff on transient
//! failures, and errors that name the URL, what was expected and what to do.
//!
//! ```no_run
//! use bulwark_registry::{Options, Registry, RegistryRef};
//!
//! let registry = Registry::new(Options { insecure: true, ..Options::default() })?;
//! let r: RegistryRef = "127.0.0.1:5000/app:1.0".parse()?;
//! let m = registry.get_manifest(&r)?;
//! println!("{} {}", m.digest, m.media_type);
//! # Ok::<(), bulwark_registry::Error>(())
//! ```

pub mod auth;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use sha2::{Digest as _, Sha256};

pub use auth::Credentials;

/// Every manifest media type bulwark asks for.
pub const MANIFEST_MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// A pull token (`None`: anonymous or Basic) and when it was asked.
type PullToken = (Option<String>, std::time::Instant);

/// How long a pull token is reused (registries issue them for 5 minutes or more).
const TOKEN_REUSE: Duration = Duration::from_secs(60);

/// Largest manifest accepted (the distribution spec suggests 4 MiB).
pub const MAX_MANIFEST: usize = bulwark_limits::REGISTRY_DOCUMENT as usize;

/// A registry image reference: `HOST[:PORT]/REPO[:TAG][@DIGEST]`, optionally
/// with skopeo's `docker://` prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryRef {
    inner: Reference,
}

impl std::str::FromStr for RegistryRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bare = s.strip_prefix("docker://").unwrap_or(s);
        if !looks_like_registry(bare) {
            return Err(Error::Reference(s.to_string()));
        }
        let inner: Reference = bare.parse().map_err(|_| Error::Reference(s.to_string()))?;
        Ok(Self { inner })
    }
}

impl std::fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.inner.whole())
    }
}

/// True when `s` names a registry explicitly: its first component is a host
/// (`localhost`, or contains `.` or `:`) followed by a repository path.
#[must_use]
pub fn looks_like_registry(s: &str) -> bool {
    let s = s.strip_prefix("docker://").unwrap_or(s);
    match s.split_once('/') {
        Some((host, rest)) => {
            // `name:port` needs a numeric port: `oci:dir/x` or
            // `docker-archive:f.tar:a/b` are transports, not hosts.
            let (name, port_ok) = match host.split_once(':') {
                Some((n, p)) => (n, !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
                None => (host, true),
            };
            !rest.is_empty()
                && port_ok
                && !name.is_empty()
                && (name == "localhost" || name.contains('.') || host.contains(':'))
                && !host.starts_with('.')
        }
        None => false,
    }
}

impl RegistryRef {
    /// `host[:port]`.
    #[must_use]
    pub fn registry(&self) -> &str {
        self.inner.resolve_registry()
    }
    /// Repository path.
    #[must_use]
    pub fn repository(&self) -> &str {
        self.inner.repository()
    }
    /// The tag, if any.
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }
    /// The digest, if any.
    #[must_use]
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }
    /// `host/repo` without tag or digest (the identity cosign signs).
    #[must_use]
    pub fn repo_name(&self) -> String {
        format!("{}/{}", self.registry(), self.repository())
    }
    /// The same repository at `digest`.
    #[must_use]
    pub fn at_digest(&self, digest: &str) -> Self {
        Self {
            inner: Reference::with_digest(
                self.inner.registry().to_string(),
                self.repository().to_string(),
                digest.to_string(),
            ),
        }
    }
    /// The same repository at `tag`.
    #[must_use]
    pub fn at_tag(&self, tag: &str) -> Self {
        Self {
            inner: Reference::with_tag(
                self.inner.registry().to_string(),
                self.repository().to_string(),
                tag.to_string(),
            ),
        }
    }
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Plain HTTP (loopback registries in tests and labs).
    pub insecure: bool,
    /// Per-request read timeout.
    pub timeout: Duration,
    /// Attempts for transient failures (5xx, connection errors, timeouts).
    pub attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub backoff: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            insecure: false,
            timeout: Duration::from_secs(60),
            attempts: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not a registry reference.
    #[error(
        "'{0}' is not a registry reference; use HOST[:PORT]/REPO[:TAG] or docker://HOST[:PORT]/REPO[:TAG]"
    )]
    Reference(String),
    /// 401/403.
    #[error(
        "{url}: access denied ({detail}); add credentials with 'podman login' or 'docker login' (bulwark reads their config files), or check the repository name"
    )]
    Unauthorized {
        /// What was requested.
        url: String,
        /// The registry's words.
        detail: String,
    },
    /// 404.
    #[error("{what}: not found in the registry")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// Anything else the registry or the network said, after retries.
    #[error(
        "{what}: {detail} (after {attempts} attempt(s)); check that the registry is up and reachable{hint}"
    )]
    Transport {
        /// What was attempted.
        what: String,
        /// The last error.
        detail: String,
        /// How many attempts were made.
        attempts: u32,
        /// A hint, e.g. about `--insecure`.
        hint: String,
    },
    /// Bytes that do not match their digest or size.
    #[error(
        "{what}: expected {expected}, found {found}; the registry served corrupt or tampered content"
    )]
    Digest {
        /// The object.
        what: String,
        /// Expected digest/size.
        expected: String,
        /// What arrived.
        found: String,
    },
    /// A document that is too large or not what it claims to be.
    #[error("{what}: {detail}")]
    Invalid {
        /// The object.
        what: String,
        /// The problem.
        detail: String,
    },
    /// Credentials could not be read.
    #[error("credentials: {0}")]
    Credentials(#[from] auth::AuthError),
    /// Local I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// A manifest as the registry served it.
#[derive(Clone, Debug)]
pub struct RawManifest {
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// Its media type (from the document, else the Content-Type).
    pub media_type: String,
    /// `sha256:` of the bytes.
    pub digest: String,
}

/// A blocking registry client.
pub struct Registry {
    rt: tokio::runtime::Runtime,
    client: Client,
    /// Plain HTTP client for the endpoints oci-client does not cover (referrers).
    http: reqwest::Client,
    opts: Options,
    /// Credentials per registry host, looked up once.
    creds: std::sync::Mutex<std::collections::BTreeMap<String, RegistryAuth>>,
    authed: std::sync::Mutex<std::collections::BTreeSet<(String, String, bool)>>,
    /// Pull tokens per (registry, repository), with when they were asked.
    tokens: std::sync::Mutex<std::collections::HashMap<(String, String), PullToken>>,
    /// Reads made and reads that failed (for metrics).
    requests: std::sync::atomic::AtomicU64,
    failures: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The HTTP status an oci-client error carries, when there is one.
fn status_of(e: &OciDistributionError) -> Option<u16> {
    match e {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => Some(401),
        OciDistributionError::ImageManifestNotFoundError(_) => Some(404),
        OciDistributionError::ServerError { code, .. } => Some(*code),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<String> = envelope
                .errors
                .iter()
                .map(|c| format!("{:?}", c.code))
                .collect();
            let joined = codes.join(",").to_ascii_uppercase();
            if joined.contains("UNKNOWN") {
                Some(404)
            } else if joined.contains("DENIED") || joined.contains("UNAUTHORIZED") {
                Some(401)
            } else {
                None
            }
        }
        OciDistributionError::RequestError(r) => r.status().map(|s| s.as_u16()),
        _ => None,
    }
}

fn transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) => {
            r.is_timeout()
                || r.is_connect()
                || r.is_request()
                || r.is_body()
                || r.status().is_some_and(|s| s.is_server_error())
        }
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        OciDistributionError::IoError(_) => true,
        _ => false,
    }
}

impl Registry {
    /// A client with `opts`.
    ///
    /// # Errors
    /// The I/O runtime or the HTTP client cannot be created.
    pub fn new(opts: Options) -> Result<Self, Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = ClientConfig {
            protocol: if opts.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            read_timeout: Some(opts.timeout),
            connect_timeout: Some(opts.timeout.min(Duration::from_secs(10))),
            max_concurrent_upload: 4,
            max_concurrent_download: 4,
            user_agent: concat!("bulwark/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let setup = |detail: String| Error::Transport {
            what: "starting the registry client".into(),
            detail,
            attempts: 0,
            hint: String::new(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .build()
            .map_err(|e| setup(e.to_string()))?;
        Ok(Self {
            rt,
            client: Client::new(config),
            http,
            opts,
            creds: std::sync::Mutex::default(),
            authed: std::sync::Mutex::default(),
            tokens: std::sync::Mutex::default(),
            requests: std::sync::atomic::AtomicU64::new(0),
            failures: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The credentials for `host`, from the docker/podman files (looked up once).
    fn credentials(&self, host: &str) -> Result<RegistryAuth, Error> {
        if let Some(a) = self.creds.lock().ok().and_then(|c| c.get(host).cloned()) {
            return Ok(a);
        }
        let auth = match auth::lookup(host)? {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => RegistryAuth::Basic(username, password),
        };
        if let Ok(mut c) = self.creds.lock() {
            c.insert(host.to_string(), auth.clone());
        }
        Ok(auth)
    }

    fn ensure_auth(&self, r: &RegistryRef, push: bool) -> Result<(), Error> {
        let key = (r.registry().to_string(), r.repository().to_string(), push);
        if self.authed.lock().is_ok_and(|s| s.contains(&key)) {
            return Ok(());
        }
        let auth = self.credentials(r.registry())?;
        let op = if push {
            RegistryOperation::Push
        } else {
            RegistryOperation::Pull
        };
        let what = format!("{}/v2/ (authentication)", r.registry());
        self.retry(&what, || self.client.auth(&r.inner, &auth, op))?;
        if let Ok(mut s) = self.authed.lock() {
            s.insert(key);
        }
        Ok(())
    }

    /// Runs `f` with retries on transient failures.
    fn retry<T, F, Fut>(&self, what: &str, f: F) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let mut delay = self.opts.backoff;
        let attempts = self.opts.attempts.max(1);
        for attempt in 1..=attempts {
            match self.rt.block_on(f()) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let status = status_of(&e);
                    if status == Some(401) || status == Some(403) {
                        return Err(Error::Unauthorized {
                            url: what.to_string(),
                            detail: e.to_string(),
                        });
                    }
                    if status == Some(404) {
                        return Err(Error::NotFound {
                            what: what.to_string(),
                        });
                    }
                    if attempt < attempts && transient(&e) {
                        tracing::warn!("{what}: {e}; retrying in {delay:?}");
                        std::thread::sleep(delay);
                        delay *= 2;
                        continue;
                    }
                    let detail = e.to_string();
                    let hint = if !self.opts.insecure
                        && (detail.contains("InvalidContentType")
                            || detail.contains("record")
                            || detail.contains("tls")
                            || detail.contains("TLS"))
                    {
                        "; for a plain-HTTP registry add --insecure".to_string()
                    } else {
                        String::new()
                    };
                    return Err(Error::Transport {
                        what: what.to_string(),
                        detail,
                        attempts: attempt,
                        hint,
                    });
                }
            }
        }
        Err(Error::Transport {
            what: what.to_string(),
            detail: "no attempt made".into(),
            attempts: 0,
            hint: String::new(),
        })
    }

    /// Fetches the manifest `r` names (tag or digest), verifying its digest when `r` has one.
    ///
    /// # Errors
    /// Not found, denied, transport, a digest mismatch, or a manifest over 4 MiB.
    pub fn get_manifest(&self, r: &RegistryRef) -> Result<RawManifest, Error> {
        self.ensure_auth(r, false)?;
        let what = format!("manifest {r}");
        let reference = r
            .digest()
            .or_else(|| r.tag())
            .unwrap_or("latest")
            .to_string();
        let url = format!(
            "{}://{}/v2/{}/manifests/{reference}",
            self.scheme(),
            r.registry(),
            r.repository()
        );
        let (content_type, bytes) = self
            .get_bounded(
                r,
                &url,
                &MANIFEST_MEDIA_TYPES.join(", "),
                MAX_MANIFEST,
                &what,
            )?
            .ok_or_else(|| Error::NotFound { what: what.clone() })?;
        let digest = sha256(&bytes);
        if let Some(want) = r.digest()
            && want != digest
        {
            return Err(Error::Digest {
                what,
                expected: want.to_string(),
                found: digest,
            });
        }
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .or_else(|| {
                let ct = content_type.split(';').next().unwrap_or_default().trim();
                MANIFEST_MEDIA_TYPES.contains(&ct).then(|| ct.to_string())
            })
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".to_string());
        Ok(RawManifest {
            bytes: bytes.to_vec(),
            media_type,
            digest,
        })
    }

    /// Like [`Registry::get_manifest`], with `None` for a manifest that does not exist.
    ///
    /// # Errors
    /// Anything but "not found".
    pub fn find_manifest(&self, r: &RegistryRef) -> Result<Option<RawManifest>, Error> {
        match self.get_manifest(r) {
            Ok(m) => Ok(Some(m)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Streams blob `digest` of `size` bytes into `out`, verifying both.
    ///
    /// # Errors
    /// Not found, denied, transport, or content that does not match.
    pub fn get_blob(
        &self,
        r: &RegistryRef,
        digest: &str,
        size: u64,
        out: &mut dyn Write,
    ) -> Result<(), Error> {
        self.ensure_auth(r, false)?;
        let what = format!("blob {digest} in {}", r.repo_name());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut hasher = Sha256::new();
            let mut n = 0u64;
            // The whole transfer has a deadline, not only each read: a
            // registry dripping one byte a second never trips a read timeout.
            let deadline = self.transfer_deadline(size);
            let result: Result<(), OciDistributionError> = self.rt.block_on(async {
                let transfer = async {
                    let mut s = self.client.pull_blob_stream(&r.inner, digest).await?;
                    while let Some(chunk) = s.stream.next().await {
                        let chunk = chunk?;
                        n += chunk.len() as u64;
                        if n > size {
                            break;
                        }
                        hasher.update(&chunk);
                        out.write_all(&chunk)?;
                    }
                    Ok(())
                };
                match tokio::time::timeout(deadline, transfer).await {
                    Ok(r) => r,
                    Err(_) => Err(OciDistributionError::GenericError(Some(format!(
                        "the transfer did not finish within {deadline:?} ({:?} plus one second per MiB; BULWARK_REGISTRY_TIMEOUT)",
                        self.opts.timeout
                    )))),
                }
            });
            self.count(result.is_err());
            match result {
                Ok(()) => {
                    let found = format!("sha256:{}", hex::encode(hasher.finalize()));
                    if n != size || found != digest {
                        return Err(Error::Digest {
                            what,
                            expected: format!("{digest} ({size} bytes)"),
                            found: format!("{found} ({n} bytes)"),
                        });
                    }
                    return Ok(());
                }
                // Data already written cannot be retried; only retry before the first byte.
                Err(e) if n == 0 && attempt < self.opts.attempts && transient(&e) => {
                    std::thread::sleep(self.opts.backoff * attempt);
                }
                Err(e) => {
                    return match status_of(&e) {
                        Some(404) => Err(Error::NotFound { what }),
                        Some(401 | 403) => Err(Error::Unauthorized {
                            url: what,
                            detail: e.to_string(),
                        }),
                        _ if e.to_string().contains("igest") => Err(Error::Digest {
                            what,
                            expected: digest.to_string(),
                            found: e.to_string(),
                        }),
                        _ => Err(Error::Transport {
                            what,
                            detail: e.to_string(),
                            attempts: attempt,
                            hint: String::new(),
                        }),
                    };
                }
            }
        }
    }

    /// Fetches a small object by digest: manifests and indexes through the
    /// manifest endpoint (registries serve them only there), anything else
    /// as a blob. The caller checks the size against its descriptor.
    ///
    /// # Errors
    /// As [`Registry::get_manifest`] and [`Registry::get_blob`].
    pub fn get_small(
        &self,
        r: &RegistryRef,
        media_type: &str,
        digest: &str,
        size: u64,
    ) -> Result<Vec<u8>, Error> {
        if media_type.contains("manifest") || media_type.contains("index") {
            Ok(self.get_manifest(&r.at_digest(digest))?.bytes)
        } else if size <= MAX_MANIFEST as u64 {
            // Small blobs (configs, signatures, attestations) in one bounded
            // GET with the cached token: no stream setup, no challenge ping.
            self.ensure_auth(r, false)?;
            let what = format!("blob {digest} in {}", r.repo_name());
            let url = format!(
                "{}://{}/v2/{}/blobs/{digest}",
                self.scheme(),
                r.registry(),
                r.repository()
            );
            let limit = usize::try_from(size).unwrap_or(MAX_MANIFEST);
            let (_, data) = self
                .get_bounded(r, &url, "*/*", limit, &what)?
                .ok_or_else(|| Error::NotFound { what: what.clone() })?;
            let found = sha256(&data);
            if data.len() as u64 != size || found != digest {
                return Err(Error::Digest {
                    what,
                    expected: format!("{digest} ({size} bytes)"),
                    found: format!("{found} ({} bytes)", data.len()),
                });
            }
            Ok(data)
        } else {
            let mut data = Vec::new();
            self.get_blob(r, digest, size, &mut data)?;
            Ok(data)
        }
    }

    /// True if the repository already has blob `digest`.
    ///
    /// # Errors
    /// Denied or transport.
    pub fn has_blob(&self, r: &RegistryRef, digest: &str) -> Result<bool, Error> {
        self.ensure_auth(r, true)?;
        let what = format!("HEAD blob {digest} in {}", r.repo_name());
        self.retry(&what, || self.client.blob_exists(&r.inner, digest))
    }

    /// Uploads `data` as blob `digest` (callers check [`Registry::has_blob`] first
    /// when the blob may already be there).
    ///
    /// # Errors
    /// Denied or transport.
    pub fn put_blob(&self, r: &RegistryRef, data: &[u8], digest: &str) -> Result<(), Error> {
        self.ensure_auth(r, true)?;
        let what = format!("upload blob {digest} to {}", r.repo_name());
        let data = bytes::Bytes::copy_from_slice(data);
        self.retry(&what, || {
            self.client.push_blob(&r.inner, data.clone(), digest)
        })?;
        Ok(())
    }

    /// Asks the registry to mount blob `digest` from repository `src` into
    /// `r` (cross-repository mount, same registry only). True when it did.
    ///
    /// # Errors
    /// Denied or transport while checking the result.
    pub fn mount_blob(
        &self,
        r: &RegistryRef,
        src: &RegistryRef,
        digest: &str,
    ) -> Result<bool, Error> {
        if src.registry() != r.registry() {
            return Ok(false);
        }
        self.ensure_auth(r, true)?;
        self.ensure_auth(src, false)?;
        let mounted = self
            .rt
            .block_on(self.client.mount_blob(&r.inner, &src.inner, digest))
            .is_ok();
        Ok(mounted && self.has_blob(r, digest)?)
    }

    /// Uploads a file as blob `digest`.
    ///
    /// # Errors
    /// Local I/O, denied or transport.
    pub fn put_blob_file(&self, r: &RegistryRef, path: &Path, digest: &str) -> Result<(), Error> {
        let size = std::fs::metadata(path)
            .map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?
            .len();
        self.ensure_auth(r, true)?;
        let what = format!("upload blob {digest} to {}", r.repo_name());
        // Streamed in 1 MiB chunks: memory stays flat whatever the layer
        // size. Each attempt re-reads the file from the start.
        self.retry(&what, || {
            let path = path.to_owned();
            async move {
                let file = std::fs::File::open(&path)?;
                let chunks = futures_util::stream::unfold(Some(file), |state| async move {
                    use std::io::Read as _;
                    let mut f = state?;
                    let mut buf = vec![0u8; 1 << 20];
                    match f.read(&mut buf) {
                        Ok(0) => None,
                        Ok(n) => {
                            buf.truncate(n);
                            Some((Ok(bytes::Bytes::from(buf)), Some(f)))
                        }
                        Err(e) => Some((Err(OciDistributionError::IoError(e)), None)),
                    }
                });
                self.client
                    .push_blob_stream(&r.inner, chunks, digest, Some(size))
                    .await
                    .map(|_| ())
            }
        })
    }

    /// Uploads a manifest under `r`'s tag (or its digest) with `media_type`,
    /// returning its digest.
    ///
    /// # Errors
    /// Denied or transport.
    pub fn put_manifest(
        &self,
        r: &RegistryRef,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<String, Error> {
        self.ensure_auth(r, true)?;
        let what = format!("upload manifest {r}");
        let ct =
            reqwest::header::HeaderValue::from_str(media_type).map_err(|_| Error::Invalid {
                what: what.clone(),
                detail: format!("media type {media_type:?} is not a valid header"),
            })?;
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.retry(&what, || {
            self.client
                .push_manifest_raw(&r.inner, body.clone(), ct.clone())
        })?;
        Ok(sha256(bytes))
    }

    /// The referrers of `subject` through the OCI 1.1 referrers API, or
    /// `None` when the registry does not implement it (404): then the
    /// `sha256-<hex>` tag schema applies.
    ///
    /// # Errors
    /// Denied or transport.
    pub fn referrers_api(&self, r: &RegistryRef, subject: &str) -> Result<Option<Vec<u8>>, Error> {
        self.ensure_auth(r, false)?;
        let url = format!(
            "{}://{}/v2/{}/referrers/{subject}",
            self.scheme(),
            r.registry(),
            r.repository()
        );
        let what = format!("GET {url}");
        match self.get_bounded(
            r,
            &url,
            "application/vnd.oci.image.index.v1+json",
            MAX_MANIFEST,
            &what,
        ) {
            Ok(Some((ct, body))) if ct.contains("image.index") => Ok(Some(body)),
            // Anything else (an HTML page, 404, 405): no referrers API.
            Ok(_) => Ok(None),
            Err(Error::Transport { detail, .. }) if detail.starts_with("HTTP 405") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The pull token for `r`'s repository (`None`: anonymous or Basic),
    /// asked once and kept for a minute: without it every small read would
    /// first ping `/v2/` for the registry's challenge. A minute is the
    /// shortest lifetime the token protocol allows (`expires_in` defaults
    /// to, and may not be below, 60 seconds), so a kept token has not
    /// expired; one revoked early is answered with 401, which drops it and
    /// asks once more.
    fn pull_token(
        &self,
        r: &RegistryRef,
        creds: &RegistryAuth,
    ) -> Result<Option<String>, OciDistributionError> {
        let key = (r.registry().to_string(), r.repository().to_string());
        if let Ok(t) = self.tokens.lock()
            && let Some((token, at)) = t.get(&key)
            && at.elapsed() < TOKEN_REUSE
        {
            return Ok(token.clone());
        }
        let token = self.rt.block_on(async {
            self.client
                .auth(&r.inner, creds, RegistryOperation::Pull)
                .await
        })?;
        if let Ok(mut t) = self.tokens.lock() {
            t.insert(key, (token.clone(), std::time::Instant::now()));
        }
        Ok(token)
    }

    /// Reads (manifests, referrers, blobs; each attempt) made so far, and
    /// how many failed.
    #[must_use]
    pub fn counters(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.requests.load(Relaxed), self.failures.load(Relaxed))
    }

    fn count(&self, failed: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.requests.fetch_add(1, Relaxed);
        if failed {
            self.failures.fetch_add(1, Relaxed);
        }
    }

    /// How long a transfer of `size` bytes may take in all: the timeout,
    /// plus one second per MiB (a floor of 1 MiB/s for large layers).
    #[must_use]
    pub fn transfer_deadline(&self, size: u64) -> Duration {
        self.opts.timeout + Duration::from_secs(size >> 20)
    }

    fn scheme(&self) -> &'static str {
        if self.opts.insecure { "http" } else { "https" }
    }

    /// GETs a small document (manifest, index, referrers list) with the
    /// repository's credentials: at most `limit` bytes are read (a larger or
    /// endless body is refused once it passes the limit), the whole request
    /// must finish within the client's timeout, and transient failures are
    /// retried. `None` on 404.
    fn get_bounded(
        &self,
        r: &RegistryRef,
        url: &str,
        accept: &str,
        limit: usize,
        what: &str,
    ) -> Result<Option<(String, Vec<u8>)>, Error> {
        let creds = self.credentials(r.registry())?;
        let mut token = self.pull_token(r, &creds);
        let mut refreshed = false;
        let mut delay = self.opts.backoff;
        let attempts = self.opts.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.rt.block_on(async {
                let mut req = self.http.get(url).header("Accept", accept);
                match (&token, &creds) {
                    (Ok(Some(t)), _) => req = req.bearer_auth(t),
                    (_, RegistryAuth::Basic(u, p)) => req = req.basic_auth(u, Some(p)),
                    _ => {}
                }
                let mut resp = req.send().await?;
                let status = resp.status();
                let ct = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let mut body = Vec::new();
                while let Some(chunk) = resp.chunk().await? {
                    if body.len() + chunk.len() > limit {
                        return Ok(Err(body.len() + chunk.len()));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok::<_, reqwest::Error>(Ok((status, ct, body)))
            });
            self.count(match &result {
                Ok(Ok((s, _, _))) => !(s.is_success() || s.as_u16() == 404),
                _ => true,
            });
            if let Ok(Ok((s, _, _))) = &result
                && (s.as_u16() == 401 || s.as_u16() == 403)
            {
                // The token expired or was revoked: forget it, and ask for a
                // fresh one once before giving up.
                if let Ok(mut t) = self.tokens.lock() {
                    t.remove(&(r.registry().to_string(), r.repository().to_string()));
                }
                if !refreshed && matches!(token, Ok(Some(_))) {
                    refreshed = true;
                    token = self.pull_token(r, &creds);
                    continue;
                }
            }
            let transient = match &result {
                Ok(Ok((s, _, _))) => s.is_server_error() || s.as_u16() == 429,
                Ok(Err(_)) => false,
                Err(e) => e.is_timeout() || e.is_connect() || e.is_request() || e.is_body(),
            };
            if transient && attempt < attempts {
                tracing::warn!("{what}: transient failure; retrying in {delay:?}");
                std::thread::sleep(delay);
                delay *= 2;
                continue;
            }
            return match result {
                Ok(Err(n)) => Err(Error::Invalid {
                    what: what.to_string(),
                    detail: format!(
                        "the registry sent more than {n} bytes, over the {} allowed for this document",
                        if limit >= 1 << 20 {
                            format!("{} MiB", limit >> 20)
                        } else {
                            format!("{limit} bytes")
                        }
                    ),
                }),
                Ok(Ok((s, ct, body))) if s.is_success() => Ok(Some((ct, body))),
                Ok(Ok((s, _, _))) if s.as_u16() == 404 => Ok(None),
                Ok(Ok((s, _, _))) if s.as_u16() == 401 || s.as_u16() == 403 => {
                    Err(Error::Unauthorized {
                        url: url.to_string(),
                        detail: s.to_string(),
                    })
                }
                Ok(Ok((s, _, body))) => Err(Error::Transport {
                    what: what.to_string(),
                    detail: format!(
                        "HTTP {}: {}",
                        s.as_u16(),
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    ),
                    attempts: attempt,
                    hint: String::new(),
                }),
                Err(e) => {
                    let detail = if e.is_timeout() {
                        format!(
                            "no complete answer within {:?} (BULWARK_REGISTRY_TIMEOUT)",
                            self.opts.timeout
                        )
                    } else {
                        e.to_string()
                    };
                    let hint = if !self.opts.insecure
                        && (detail.contains("record")
                            || detail.contains("tls")
                            || detail.contains("TLS"))
                    {
                        "; for a plain-HTTP registry add --insecure".to_string()
                    } else {
                        String::new()
                    };
                    Err(Error::Transport {
                        what: what.to_string(),
                        detail,
                        attempts: attempt,
                        hint,
                    })
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_references() {
        let r: RegistryRef = "127.0.0.1:5000/test/app:1.0".parse().unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "test/app");
        assert_eq!(r.tag(), Some("1.0"));
        assert_eq!(r.repo_name(), "127.0.0.1:5000/test/app");
        let r: RegistryRef = "docker://localhost/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"
            .parse()
            .unwrap();
        assert_eq!(r.registry(), "localhost");
        assert!(r.digest().is_some());
        for not in [
            "app",
            "app:1",
            "./dir",
            "/abs/path",
            "oci:dir",
            "dir/sub",
            "oci:small/image",
            "docker-archive:h.docker.tar:bulwark/hello:1",
            "oci-archive:out/x.tar:1",
        ] {
            assert!(!looks_like_registry(not), "{not}");
            assert!(not.parse::<RegistryRef>().is_err(), "{not}");
        }
    }
}
