//! HTTP(S) and `file:` downloads with retries, size limits and digest checks.

use std::io::Read;
use std::sync::{Arc, OnceLock};
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

/// Told how downloads go: `(url, bytes so far, bytes in all when known)`,
/// after every read. The library draws nothing; the CLI shows a bar.
pub type OnBytes = Arc<dyn Fn(&str, u64, Option<u64>) + Send + Sync>;

/// Downloads files; cheap to clone and share between threads.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::blocking::Client,
    cache: Option<Cache>,
    retries: u32,
    on_bytes: Option<OnBytes>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("cache", &self.cache)
            .field("retries", &self.retries)
            .field("progress", &self.on_bytes.is_some())
            .finish_non_exhaustive()
    }
}

/// A body reader that reports its progress.
struct Counting {
    inner: Box<dyn Read + Send>,
    url: String,
    seen: u64,
    total: Option<u64>,
    on_bytes: OnBytes,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n as u64;
        (self.on_bytes)(&self.url, self.seen, self.total);
        Ok(n)
    }
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
            on_bytes: None,
        })
    }

    /// The same fetcher, reporting each download's progress to `on_bytes`.
    #[must_use]
    pub fn with_progress(mut self, on_bytes: OnBytes) -> Self {
        self.on_bytes = Some(on_bytes);
        self
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
            return Ok(self.counted(url, Box::new(file), Some(len)));
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
        let total = resp.content_length();
        Ok(self.counted(url, Box::new(resp), total))
    }

    /// `inner`, reporting to the progress hook when there is one.
    fn counted(
        &self,
        url: &str,
        inner: Box<dyn Read + Send>,
        total: Option<u64>,
    ) -> Box<dyn Read + Send> {
        match &self.on_bytes {
            Some(f) => Box::new(Counting {
                inner,
                url: url.to_owned(),
                seen: 0,
                total,
                on_bytes: f.clone(),
            }),
            None => inner,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reports_every_byte_and_the_total() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("feed.json");
        std::fs::write(&file, vec![b'x'; 300_000]).unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let f = Fetcher::new(None).unwrap().with_progress(Arc::new(
            move |url: &str, n: u64, total: Option<u64>| {
                log.lock().unwrap().push((url.to_owned(), n, total));
            },
        ));
        let url = format!("file://{}", file.display());
        assert_eq!(f.get(&url, 1 << 20).unwrap().len(), 300_000);
        let seen = seen.lock().unwrap();
        let last = seen.last().unwrap();
        assert_eq!((last.1, last.2), (300_000, Some(300_000)));
        assert!(seen.iter().all(|(u, _, _)| u == &url));
        assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
