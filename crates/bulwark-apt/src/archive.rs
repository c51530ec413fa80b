//! Loading one suite of an archive: InRelease → Packages indexes → records.

use std::io::Read;

use bulwark_debian::packages::{PackageRecord, PackagesError, PackagesIndex};
use bulwark_debian::release::{Release, ReleaseError};
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
    #[error("{url}: cannot decompress: {reason}")]
    Decompress { url: String, reason: String },
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
            let by_hash_url = format!("{base}/{dir}/by-hash/SHA256/{}", file.sha256);
            let compressed = if release.acquire_by_hash {
                match fetcher.get_verified(&by_hash_url, file.size, &file.sha256) {
                    Err(e) if e.is_not_found() => {
                        fetcher.get_verified(&plain_url, file.size, &file.sha256)?
                    }
                    other => other?,
                }
            } else {
                fetcher.get_verified(&plain_url, file.size, &file.sha256)?
            };
            let text =
                decompress(&file.path, &compressed).map_err(|reason| ArchiveError::Decompress {
                    url: plain_url.clone(),
                    reason,
                })?;
            packages.push(PackagesIndex::new(text, &plain_url, &spec.suite, &spec.uri));
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

fn decompress(path: &str, data: &[u8]) -> Result<String, String> {
    const LIMIT: u64 = 2 << 30;
    let mut out = Vec::new();
    let r: Box<dyn Read> = if path.ends_with(".xz") {
        Box::new(liblzma::read::XzDecoder::new(data))
    } else if path.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(data))
    } else {
        Box::new(data)
    };
    r.take(LIMIT + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > LIMIT {
        return Err("index larger than 2 GiB".into());
    }
    String::from_utf8(out).map_err(|_| "index is not UTF-8".into())
}
