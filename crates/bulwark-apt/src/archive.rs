//! Loading one suite of an archive: InRelease → Packages indexes → records.

use std::io::Read;

use bulwark_debian::packages::{PackageRecord, PackagesError, PackagesIndex, PackagesScanner};
use bulwark_debian::release::{IndexFile, Release, ReleaseError};
use bulwark_debian::time::format_rfc3339;
use sha2::{Digest, Sha256};

use crate::fetch::{FetchError, Fetcher};
use crate::keyring::{Keyring, VerifyError, verify_inrelease};

/// Where a suite lives: `URI/dists/SUITE/` with these components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuiteSpec {
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
}

impl SuiteSpec {
    fn dists_url(&self) -> String {
        format!("{}/dists/{}", self.uri.trim_end_matches('/'), self.suite)
    }
    /// URL of a pool file (`Filename`).
    pub fn file_url(&self, filename: &str) -> String {
        format!("{}/{}", self.uri.trim_end_matches('/'), filename)
    }
}

/// A fetched, verified file and its digest (recorded in locks and provenance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDigest {
    pub url: String,
    pub sha256: String,
    pub size: u64,
}

/// Everything learnt from one suite.
#[derive(Debug)]
pub struct SuiteIndex {
    pub spec: SuiteSpec,
    pub release: Release,
    pub inrelease: IndexDigest,
    pub signer_fingerprint: String,
    pub indexes: Vec<IndexDigest>,
    /// One lazily parsed index per component × architecture.
    pub packages: Vec<PackagesIndex>,
}

impl SuiteIndex {
    /// Every record of every index, parsed (slow; for tools and tests).
    pub fn records(&self) -> Vec<&PackageRecord> {
        self.packages.iter().flat_map(|i| i.all()).collect()
    }
}

/// Why a suite could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error("{origin}: {source}")]
    Release {
        origin: String,
        source: ReleaseError,
    },
    #[error(
        "{origin}: the Release file expired at {valid_until} (Valid-Until); the mirror is stale or replaying an old archive. Use an up-to-date mirror, or set 'check-valid-until: false' for a snapshot mirror you trust"
    )]
    Expired { origin: String, valid_until: String },
    #[error(
        "{origin}: signed Release is for suite {found:?}, not {expected:?} (possible replay of another suite)"
    )]
    WrongSuite {
        origin: String,
        expected: String,
        found: String,
    },
    #[error(
        "{origin}: the signed Release lists no Packages index for {component}/binary-{arch}; check the suite, component and architecture"
    )]
    MissingIndex {
        origin: String,
        component: String,
        arch: String,
    },
    #[error("{url}: cannot read the index: {source}")]
    Decompress {
        url: String,
        #[source]
        source: IndexError,
    },
    #[error(transparent)]
    Packages(#[from] PackagesError),
}

/// Options for [`load_suite`].
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// Seconds since the epoch, for expiry checks.
    pub now: i64,
    pub check_valid_until: bool,
}

/// Fetches and verifies `InRelease`, then the `Packages` index of every
/// component × architecture (plus `all` records they contain), and parses
/// the records. `now` defaults to the current time.
pub fn load_suite(
    fetcher: &Fetcher,
    spec: &SuiteSpec,
    archs: &[String],
    keyring: &Keyring,
    now: Option<i64>,
) -> Result<SuiteIndex, ArchiveError> {
    load_suite_with(
        fetcher,
        spec,
        archs,
        keyring,
        LoadOptions {
            now: now.unwrap_or_else(crate::now_unix),
            check_valid_until: true,
        },
    )
}

/// [`load_suite`] with explicit options.
pub fn load_suite_with(
    fetcher: &Fetcher,
    spec: &SuiteSpec,
    archs: &[String],
    keyring: &Keyring,
    opts: LoadOptions,
) -> Result<SuiteIndex, ArchiveError> {
    let base = spec.dists_url();
    let inrelease_url = format!("{base}/InRelease");
    let data = fetcher.get(&inrelease_url, 64 << 20)?;
    let inrelease = IndexDigest {
        url: inrelease_url.clone(),
        sha256: hex::encode(Sha256::digest(&data)),
        size: data.len() as u64,
    };
    let verified = verify_inrelease(&data, keyring, opts.now, &inrelease_url)?;
    let release = Release::parse(&verified.text).map_err(|source| ArchiveError::Release {
        origin: inrelease_url.clone(),
        source,
    })?;
    if release.suite.as_deref() != Some(spec.suite.as_str())
        && release.codename.as_deref() != Some(spec.suite.as_str())
    {
        return Err(ArchiveError::WrongSuite {
            origin: inrelease_url,
            expected: spec.suite.clone(),
            found: release
                .codename
                .clone()
                .or(release.suite.clone())
                .unwrap_or_default(),
        });
    }
    if opts.check_valid_until
        && let Some(v) = release.valid_until
        && v < opts.now
    {
        return Err(ArchiveError::Expired {
            origin: inrelease_url,
            valid_until: format_rfc3339(v),
        });
    }
    let mut indexes = Vec::new();
    let mut packages = Vec::new();
    for component in &spec.components {
        for arch in archs {
            let dir = format!("{component}/binary-{arch}");
            // gzip first: bookworm main is 12 MB as .gz and 8.8 MB as .xz, but
            // inflating it takes ~0.1 s where xz takes ~0.6 s of CPU.
            let candidates = ["Packages.gz", "Packages.xz", "Packages"];
            let Some(file) = candidates
                .iter()
                .find_map(|c| release.file(&format!("{dir}/{c}")))
            else {
                return Err(ArchiveError::MissingIndex {
                    origin: inrelease_url.clone(),
                    component: component.clone(),
                    arch: arch.clone(),
                });
            };
            let plain_url = format!("{base}/{}", file.path);
            let mut urls = Vec::new();
            if release.acquire_by_hash {
                urls.push(format!("{base}/{dir}/by-hash/SHA256/{}", file.sha256));
            }
            urls.push(plain_url.clone());
            // The uncompressed size, when the Release lists it, sizes the text buffer.
            let text_size = release
                .file(&format!("{dir}/Packages"))
                .map_or(0, |f| f.size);
            let scanner = fetch_and_scan(fetcher, &urls, file, text_size)?;
            packages.push(
                scanner
                    .finish(&plain_url, &spec.suite, &spec.uri)
                    .map_err(|e| ArchiveError::Decompress {
                        url: plain_url.clone(),
                        source: IndexError::NotText { offset: e.offset },
                    })?,
            );
            indexes.push(IndexDigest {
                url: plain_url,
                sha256: file.sha256.clone(),
                size: file.size,
            });
        }
    }
    Ok(SuiteIndex {
        spec: spec.clone(),
        release,
        inrelease,
        signer_fingerprint: verified.signer_fingerprint,
        indexes,
        packages,
    })
}

/// Largest index accepted once decompressed.
const INDEX_LIMIT: u64 = bulwark_limits::PACKAGES_INDEX;
/// Pieces of decompressed text handed to the scanner.
const TEXT_PIECE: usize = 1 << 20;

/// Downloads a `Packages` index (the first of `urls` the mirror has) and
/// scans it while it downloads: one thread receives, one decompresses, one
/// scans. The result is used only if the download matches the size and
/// sha256 the signed Release gives; until then it is thrown away on any
/// error. A failed stream is retried the plain way (download with retries,
/// then decompress and scan from memory).
fn fetch_and_scan(
    fetcher: &Fetcher,
    urls: &[String],
    file: &IndexFile,
    text_size: u64,
) -> Result<PackagesScanner, ArchiveError> {
    let capacity = usize::try_from(text_size.min(INDEX_LIMIT)).unwrap_or(0);
    let mut last = None;
    for url in urls {
        let (fetched, scanned) = inflate_and_scan(&file.path, capacity, |sink| {
            fetcher.stream_verified(url, file.size, &file.sha256, sink)
        });
        match (fetched, scanned) {
            (Ok(_), Ok(scanner)) => return Ok(scanner),
            (Err(e), _) if e.is_not_found() => last = Some(e),
            // The download is intact, so the index itself is unreadable.
            (Ok(_), Err(source)) => {
                return Err(ArchiveError::Decompress {
                    url: url.clone(),
                    source,
                });
            }
            (Err(e), _) => {
                tracing::debug!("{url}: streaming failed ({e}); downloading it again");
                let data = fetcher.get_verified(url, file.size, &file.sha256)?;
                return scan_index(&file.path, &data, capacity).map_err(|source| {
                    ArchiveError::Decompress {
                        url: url.clone(),
                        source,
                    }
                });
            }
        }
    }
    Err(last
        .map(ArchiveError::Fetch)
        .unwrap_or_else(|| ArchiveError::Decompress {
            url: file.path.clone(),
            source: IndexError::NoUrl,
        }))
}

/// Why a `Packages` index could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The compressed stream is corrupt or truncated.
    #[error("corrupt or truncated compressed data: {0}")]
    Corrupt(#[source] std::io::Error),
    /// More text than any index has.
    #[error(
        "the index inflates to more than {}",
        bulwark_limits::human(INDEX_LIMIT)
    )]
    TooLarge,
    /// Not text.
    #[error("not UTF-8 text at byte {offset}")]
    NotText {
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// A worker thread of the pipeline failed.
    #[error("the index {0} stopped unexpectedly")]
    Stopped(&'static str),
    /// There was no URL to fetch it from.
    #[error("no URL to fetch it from")]
    NoUrl,
}

/// Decompresses (by the extension of `path`: `.gz`, `.xz` or none) and
/// scans an index held in memory; `capacity` hints at its text size.
///
/// # Errors
/// Corrupt compressed data, or an index past [`bulwark_limits::PACKAGES_INDEX`].
pub fn scan_index(path: &str, data: &[u8], capacity: usize) -> Result<PackagesScanner, IndexError> {
    inflate_and_scan(path, capacity, |sink| data.chunks(TEXT_PIECE).all(sink)).1
}

/// Runs `feed`, which hands the compressed index to its sink piece by
/// piece, while two threads decompress (by the file name's extension) and
/// scan. Returns what `feed` returned and the scanner, or why the index
/// could not be read.
fn inflate_and_scan<T>(
    path: &str,
    capacity: usize,
    feed: impl FnOnce(&mut dyn FnMut(&[u8]) -> bool) -> T,
) -> (T, Result<PackagesScanner, IndexError>) {
    use std::sync::mpsc::sync_channel;
    std::thread::scope(|s| {
        let (compressed_tx, compressed_rx) = bulwark_limits::pipe(64);
        let (text_tx, text_rx) = sync_channel::<Vec<u8>>(16);
        let scanner = s.spawn(move || {
            let mut scanner = PackagesScanner::with_capacity(capacity);
            for piece in text_rx {
                scanner.push(&piece);
            }
            scanner
        });
        let inflater = s.spawn(move || -> Result<(), IndexError> {
            let input = compressed_rx;
            let mut r: Box<dyn Read> = if path.ends_with(".xz") {
                Box::new(liblzma::read::XzDecoder::new(input))
            } else if path.ends_with(".gz") {
                Box::new(crate::gzip::GzipMembers::new(
                    std::io::BufReader::with_capacity(256 << 10, input),
                ))
            } else {
                Box::new(input)
            };
            let mut total: u64 = 0;
            loop {
                let mut piece = vec![0; TEXT_PIECE];
                let mut n = 0;
                while n < piece.len() {
                    match r.read(&mut piece[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(IndexError::Corrupt(e)),
                    }
                }
                if n == 0 {
                    return Ok(());
                }
                total += n as u64;
                if total > INDEX_LIMIT {
                    return Err(IndexError::TooLarge);
                }
                piece.truncate(n);
                if text_tx.send(piece).is_err() {
                    return Err(IndexError::Stopped("scanner"));
                }
            }
        });
        let fed = feed(&mut |piece: &[u8]| compressed_tx.send(piece.to_vec()));
        drop(compressed_tx);
        let inflated = inflater
            .join()
            .unwrap_or(Err(IndexError::Stopped("decompressor")));
        let scanned = scanner.join().map_err(|_| IndexError::Stopped("scanner"));
        (fed, inflated.and(scanned))
    })
}
