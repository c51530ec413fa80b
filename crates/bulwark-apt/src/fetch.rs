//! HTTP(S) and `file:` downloads with retries, size limits and digest checks.

use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::cache::Cache;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error(
        "{url}: the transfer broke off after {received} bytes{} ({reason}); the mirror or the network dropped the connection: try again",
        expected.map(|e| format!(" of the {e} expected")).unwrap_or_default()
    )]
    Interrupted {
        url: String,
        received: u64,
        expected: Option<u64>,
        reason: String,
    },
    #[error(
        "{url}: expected {expected_size} bytes with sha256 {expected}, got {found_size} bytes with sha256 {found}; the mirror may be out of sync or tampered with"
    )]
    Digest {
        url: String,
        expected: String,
        expected_size: u64,
        found: String,
        found_size: u64,
    },
    #[error(
        "{url}: more than the {limit} bytes expected (size pinned by a signed index, or a safety limit); the mirror may be out of sync or tampered with"
    )]
    TooLarge { url: String, limit: u64 },
    #[error("cache {path}: {source}")]
    Cache {
        path: String,
        source: std::io::Error,
    },
}

impl FetchError {
    /// Whether the server said the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            FetchError::Status {
                status: 404 | 410,
                ..
            }
        )
    }
}

/// Downloads files; cheap to clone and share between threads.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::blocking::Client,
    cache: Option<Cache>,
    retries: u32,
}

fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Fetcher {
    /// A fetcher with an optional blob cache.
    pub fn new(cache: Option<Cache>) -> Result<Self, FetchError> {
        install_crypto_provider();
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| FetchError::Transport {
                url: "(client)".into(),
                reason: e.to_string(),
            })?;
        Ok(Fetcher {
            client,
            cache,
            retries: 3,
        })
    }

    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// Fetches a mutable resource (e.g. `InRelease`), never from the cache.
    pub fn get(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        self.with_retries(url, || self.get_once(url, limit, None))
    }

    /// Fetches an immutable blob and checks its size and sha256; served from
    /// and stored into the cache.
    pub fn get_verified(&self, url: &str, size: u64, sha256: &str) -> Result<Vec<u8>, FetchError> {
        if let Some(data) = self.cached(size, sha256) {
            return Ok(data);
        }
        let data = self.with_retries(url, || {
            let data = self.get_once(url, size, Some(size))?;
            check_digest(url, size, sha256, &data, hex::encode(Sha256::digest(&data)))?;
            Ok(data)
        })?;
        self.store(sha256, &data)?;
        Ok(data)
    }

    /// Like [`Fetcher::get_verified`], but hands the bytes to `sink` as they
    /// arrive (from the cache, in pieces), so that the caller can decompress
    /// and parse while the download runs. The sink sees data that is not
    /// verified yet: whatever the caller makes of it must be thrown away
    /// unless this returns `Ok`. A `false` from the sink stops the download.
    /// There is one attempt, since the sink cannot take bytes back; callers
    /// fall back to [`Fetcher::get_verified`], which retries.
    pub fn stream_verified(
        &self,
        url: &str,
        size: u64,
        sha256: &str,
        sink: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<Vec<u8>, FetchError> {
        let stopped = || FetchError::Transport {
            url: url.to_owned(),
            reason: "the download was stopped because its contents could not be read".into(),
        };
        if let Some(data) = self.cached(size, sha256) {
            for piece in data.chunks(STREAM_PIECE) {
                if !sink(piece) {
                    return Err(stopped());
                }
            }
            return Ok(data);
        }
        let mut hasher = Sha256::new();
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 30));
        let mut reader = self.open(url, size)?;
        let mut buf = vec![0; STREAM_PIECE];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(FetchError::Interrupted {
                        url: url.to_owned(),
                        received: data.len() as u64,
                        expected: Some(size),
                        reason: error_chain(&e),
                    });
                }
            };
            if (data.len() + n) as u64 > size {
                return Err(FetchError::TooLarge {
                    url: url.to_owned(),
                    limit: size,
                });
            }
            hasher.update(&buf[..n]);
            data.extend_from_slice(&buf[..n]);
            if !sink(&buf[..n]) {
                return Err(stopped());
            }
        }
        check_digest(url, size, sha256, &data, hex::encode(hasher.finalize()))?;
        self.store(sha256, &data)?;
        Ok(data)
    }

    /// The cached blob with this digest, if it has the expected size too.
    fn cached(&self, size: u64, sha256: &str) -> Option<Vec<u8>> {
        self.cache
            .as_ref()
            .and_then(|c| c.get(sha256))
            .filter(|data| data.len() as u64 == size)
    }

    fn store(&self, sha256: &str, data: &[u8]) -> Result<(), FetchError> {
        match &self.cache {
            Some(c) => c.put(sha256, data).map_err(|source| FetchError::Cache {
                path: c.root().display().to_string(),
                source,
            }),
            None => Ok(()),
        }
    }

    fn with_retries<T>(
        &self,
        url: &str,
        mut f: impl FnMut() -> Result<T, FetchError>,
    ) -> Result<T, FetchError> {
        let mut attempt = 0;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let transient = match &e {
                        FetchError::Status { status, .. } => {
                            *status >= 500 || *status == 429 || *status == 408
                        }
                        FetchError::Transport { .. } | FetchError::Interrupted { .. } => {
                            !url.starts_with("file:")
                        }
                        // A truncated body surfaces as a size/digest mismatch.
                        FetchError::Digest {
                            expected_size,
                            found_size,
                            ..
                        } => found_size < expected_size,
                        _ => false,
                    };
                    attempt += 1;
                    if !transient || attempt > self.retries {
                        return Err(e);
                    }
                    tracing::debug!("retrying {url} after: {e}");
                    std::thread::sleep(Duration::from_millis(200 * (1 << attempt)));
                }
            }
        }
    }

    /// One download of at most `limit` bytes; `expected` is the exact size
    /// when a signed index gives it (for messages).
    fn get_once(
        &self,
        url: &str,
        limit: u64,
        expected: Option<u64>,
    ) -> Result<Vec<u8>, FetchError> {
        let mut data = Vec::new();
        self.open(url, limit)?
            .take(limit + 1)
            .read_to_end(&mut data)
            .map_err(|e| FetchError::Interrupted {
                url: url.to_owned(),
                received: data.len() as u64,
                expected,
                reason: error_chain(&e),
            })?;
        if data.len() as u64 > limit {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        Ok(data)
    }

    /// Opens a `file://` path or sends a GET, refusing a body announced as
    /// longer than `limit` (callers still count what they read).
    fn open(&self, url: &str, limit: u64) -> Result<Box<dyn Read + Send>, FetchError> {
        if let Some(path) = url.strip_prefix("file://") {
            let file = std::fs::File::open(path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    FetchError::Status {
                        url: url.to_owned(),
                        status: 404,
                    }
                } else {
                    FetchError::Transport {
                        url: url.to_owned(),
                        reason: e.to_string(),
                    }
                }
            })?;
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len > limit {
                return Err(FetchError::TooLarge {
                    url: url.to_owned(),
                    limit,
                });
            }
            return Ok(Box::new(file));
        }
        let resp = self
            .client
            .get(url)
            .send()
            .map_err(|e| FetchError::Transport {
                url: url.to_owned(),
                reason: error_chain(&e),
            })?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status,
            });
        }
        if let Some(len) = resp.content_length()
            && len > limit
        {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        Ok(Box::new(resp))
    }
}

/// Checks a download (whose sha256 is `found`) against the size and sha256 a
/// signed index gives.
fn check_digest(
    url: &str,
    size: u64,
    sha256: &str,
    data: &[u8],
    found: String,
) -> Result<(), FetchError> {
    if data.len() as u64 == size && found == sha256 {
        return Ok(());
    }
    Err(FetchError::Digest {
        url: url.to_owned(),
        expected: sha256.to_owned(),
        expected_size: size,
        found,
        found_size: data.len() as u64,
    })
}

/// Pieces handed to a streaming sink.
const STREAM_PIECE: usize = 256 << 10;

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
