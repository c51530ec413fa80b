//! Resolution against verified indexes, and the lockfile.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use bulwark_apt::{Fetcher, LoadOptions, SuiteIndex, load_suite_with};
use bulwark_debian::time::format_rfc3339;
use bulwark_resolve::{Request, resolve};
use bulwark_spec::{
    LOCK_VERSION, Lock, LockedArch, LockedIndex, LockedPackage, LockedSuite, Spec, lock_path_for,
};

use crate::sources::{apt_root, suites_for};
use crate::{BuildError, hardening};

/// Options for [`lock`].
#[derive(Clone, Debug)]
pub struct LockOptions {
    pub spec_path: PathBuf,
    /// Re-resolve everything to the newest versions.
    pub update: bool,
    /// Seconds since the epoch for signature/expiry checks (default: now).
    pub now: Option<i64>,
    pub fetcher: Fetcher,
}

/// What [`lock`] did.
#[derive(Clone, Debug)]
pub struct LockOutcome {
    pub lock: Lock,
    pub path: PathBuf,
    /// False when the existing lock still fitted and was kept as is.
    pub written: bool,
    /// Notes from resolution (arbitrary choices among providers, cut dependencies).
    pub notes: Vec<String>,
}

/// Resolves `SPEC` and writes `SPEC.lock.json` beside it, unless an
/// existing lock already fits (same spec digest) and `update` is false.
/// When the spec changed, packages keep their locked versions where still
/// available.
pub fn lock(opts: &LockOptions) -> Result<LockOutcome, BuildError> {
    let spec = Spec::load(&opts.spec_path)?;
    let path = lock_path_for(&opts.spec_path);
    let previous = if path.exists() {
        Lock::load(&path).ok()
    } else {
        None
    };
    if !opts.update
        && let Some(prev) = &previous
        && prev.spec_digest == spec.resolution_digest()
    {
        return Ok(LockOutcome {
            lock: prev.clone(),
            path,
            written: false,
            notes: vec![],
        });
    }
    let keep = if opts.update { None } else { previous.as_ref() };
    let (lock, notes) = resolve_lock(&spec, &opts.spec_path, keep, &opts.fetcher, opts.now)?;
    bulwark_oci::write_file_atomic(&path, lock.to_json().as_bytes())?;
    Ok(LockOutcome {
        lock,
        path,
        written: true,
        notes,
    })
}

/// Loads every suite, resolves every architecture and returns the lock.
pub(crate) fn resolve_lock(
    spec: &Spec,
    spec_path: &Path,
    previous: Option<&Lock>,
    fetcher: &Fetcher,
    now: Option<i64>,
) -> Result<(Lock, Vec<String>), BuildError> {
    let indexes = IndexSet::new(fetcher.clone(), now);
    resolve_lock_with(spec, spec_path, previous, &indexes)
}

/// Verified suite indexes shared by several resolutions (`bulwark update`
/// over many specs): each suite is fetched and verified once per set, by
/// whichever spec asks first, while the others wait for it.
pub struct IndexSet {
    fetcher: Fetcher,
    now: Option<i64>,
    loaded: Mutex<HashMap<SuiteKey, Arc<OnceLock<SuiteLoad>>>>,
}

impl std::fmt::Debug for IndexSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.loaded.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("IndexSet")
            .field("suites", &n)
            .finish_non_exhaustive()
    }
}

type SuiteLoad = Result<Arc<SuiteIndex>, Arc<bulwark_apt::ArchiveError>>;

/// What makes two loads the same: the suite, the architectures, the keys
/// that must have signed it and whether `Valid-Until` is checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SuiteKey {
    uri: String,
    suite: String,
    components: Vec<String>,
    archs: Vec<String>,
    keys: Vec<String>,
    check_valid_until: bool,
}

impl IndexSet {
    /// An empty set that loads through `fetcher`, checking signatures and
    /// expiry at `now` (default: the current time).
    #[must_use]
    pub fn new(fetcher: Fetcher, now: Option<i64>) -> Self {
        Self {
            fetcher,
            now,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// How many distinct suites were loaded (or tried).
    #[must_use]
    pub fn len(&self) -> usize {
        self.loaded.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether nothing was loaded yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every suite of `spec` (resolved against `spec_dir`), for its
    /// architectures: loaded now, or taken from an earlier load.
    ///
    /// # Errors
    /// A suite cannot be found, fetched or verified.
    pub fn suites_of(
        &self,
        spec: &Spec,
        spec_dir: &Path,
    ) -> Result<Vec<Arc<SuiteIndex>>, BuildError> {
        let sources = suites_for(&spec.distribution, spec_dir, &apt_root())?;
        // In the spec's order (the lock lists the indexes in it).
        let mut archs: Vec<String> = Vec::new();
        for a in &spec.archs {
            if !archs.contains(a) {
                archs.push(a.clone());
            }
        }
        let load_opts = LoadOptions {
            now: self.now.unwrap_or_else(bulwark_apt::now_unix),
            check_valid_until: spec.distribution.check_valid_until,
        };
        let results: Vec<Result<Arc<SuiteIndex>, BuildError>> = std::thread::scope(|s| {
            let handles: Vec<_> = sources
                .iter()
                .map(|src| {
                    let archs = &archs;
                    s.spawn(move || self.load(src, archs, load_opts))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(BuildError::Sources("suite loader panicked".into()))
                    })
                })
                .collect()
        });
        results.into_iter().collect()
    }

    fn load(
        &self,
        src: &crate::sources::SuiteSource,
        archs: &[String],
        opts: LoadOptions,
    ) -> Result<Arc<SuiteIndex>, BuildError> {
        let mut keys = src.keyring.fingerprints();
        keys.sort();
        let key = SuiteKey {
            uri: src.spec.uri.clone(),
            suite: src.spec.suite.clone(),
            components: src.spec.components.clone(),
            archs: archs.to_vec(),
            keys,
            check_valid_until: opts.check_valid_until,
        };
        let cell = {
            let mut map = self
                .loaded
                .lock()
                .map_err(|_| BuildError::Sources("suite loader panicked".into()))?;
            map.entry(key).or_default().clone()
        };
        // The first caller loads; the others block on the cell until it is
        // set, so a suite is fetched and verified once.
        let got = cell.get_or_init(|| {
            load_suite_with(&self.fetcher, &src.spec, archs, &src.keyring, opts)
                .map(Arc::new)
                .map_err(Arc::new)
        });
        got.clone().map_err(BuildError::SharedArchive)
    }
}

/// Resolves every architecture of `spec` against the suites of `indexes`
/// (loaded there once, shared with other specs) and returns the lock.
/// `previous` keeps its versions where they are still available; without
/// it every package is the newest the suites carry.
///
/// # Errors
/// A suite cannot be loaded, or a package cannot be resolved.
pub fn resolve_lock_with(
    spec: &Spec,
    spec_path: &Path,
    previous: Option<&Lock>,
    indexes: &IndexSet,
) -> Result<(Lock, Vec<String>), BuildError> {
    let t0 = std::time::Instant::now();
    let spec_dir = spec_path.parent().unwrap_or(Path::new("."));
    let indexes = indexes.suites_of(spec, spec_dir)?;
    let records: Vec<&bulwark_debian::PackagesIndex> =
        indexes.iter().flat_map(|i| i.packages.iter()).collect();

    tracing::info!(
        "loaded {} suites ({} index stanzas) in {:.2} s",
        indexes.len(),
        records.iter().map(|r| r.len()).sum::<usize>(),
        t0.elapsed().as_secs_f64()
    );
    let t1 = std::time::Instant::now();
    let mut archs = BTreeMap::new();
    // note → the archs it applies to (reported once, not once per arch)
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for arch in &spec.archs {
        let mut request = Request {
            packages: spec.packages.clone(),
            exclude: spec
                .exclude
                .iter()
                .map(|e| (e.package.clone(), e.reason.clone()))
                .collect(),
            prefer: BTreeMap::new(),
        };
        if let Some(prev) = previous.and_then(|p| p.archs.get(arch)) {
            request.prefer = prev
                .packages
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect();
        }
        let res =
            resolve(records.as_slice(), arch, &request).map_err(|source| BuildError::Resolve {
                spec: spec_path.display().to_string(),
                arch: arch.clone(),
                source,
            })?;
        hardening::check_closure(spec, spec_path, &res)?;
        for n in res.notes.iter().cloned().chain(
            res.cut
                .iter()
                .map(|(p, d, why)| format!("{p}: dropped dependency '{d}' ({why})")),
        ) {
            notes.entry(n).or_default().push(arch.clone());
        }
        let packages = res
            .packages
            .iter()
            .map(|r| {
                let rec = &r.record;
                LockedPackage {
                    name: rec.name.clone(),
                    version: rec.version.to_string(),
                    arch: rec.arch.clone(),
                    source: rec.source.clone(),
                    source_version: rec.source_version.clone(),
                    suite: rec.suite.clone(),
                    uri: rec.archive_uri.clone(),
                    filename: rec.filename.clone(),
                    size: rec.size,
                    sha256: rec.sha256.clone(),
                    pulled_by: r.pulled_by.as_ref().map(|(p, d)| format!("{p}: {d}")),
                }
            })
            .collect();
        archs.insert(arch.clone(), LockedArch { packages });
    }
    tracing::info!(
        "resolved {} archs in {:.3} s",
        archs.len(),
        t1.elapsed().as_secs_f64()
    );
    let suites = indexes
        .iter()
        .map(|i| LockedSuite {
            suite: i.spec.suite.clone(),
            uri: i.spec.uri.clone(),
            codename: i.release.codename.clone(),
            version: i.release.version.clone(),
            date: i.release.date.map(format_rfc3339),
            inrelease: LockedIndex {
                url: i.inrelease.url.clone(),
                sha256: i.inrelease.sha256.clone(),
                size: i.inrelease.size,
            },
            signer: i.signer_fingerprint.clone(),
            indexes: i
                .indexes
                .iter()
                .map(|x| LockedIndex {
                    url: x.url.clone(),
                    sha256: x.sha256.clone(),
                    size: x.size,
                })
                .collect(),
        })
        .collect();
    Ok((
        Lock {
            lockfile_version: LOCK_VERSION,
            spec_digest: spec.resolution_digest(),
            generated_by: concat!("bulwark ", env!("CARGO_PKG_VERSION")).into(),
            suites,
            archs,
        },
        notes
            .into_iter()
            .map(|(n, archs)| format!("{}: {n}", archs.join(", ")))
            .collect(),
    ))
}
