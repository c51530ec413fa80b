//! Keep images patched: `bulwark update`.
//!
//! For each spec: re-resolve it against the current verified archive (its
//! suites loaded once per run and shared by every spec, see
//! [`bulwark_build::IndexSet`]), compare the new lock with the lock the
//! image was built from, name the packages that changed and the CVEs the
//! change fixes — from the vulnerability database and from the new
//! packages' own `changelog.Debian.gz`, with the date each fix reached the
//! archive — and, unless only checking, rebuild from the new lock, sign,
//! publish (image and attestations first, then the tag) and write the lock
//! last. Nothing is written for a spec whose update fails, and one failing
//! spec does not stop the others.

mod changes;
mod cves;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bulwark_build::IndexSet;
use bulwark_build::pipeline::{Request, run as build};
use bulwark_build::provenance::UpdateRecord;
use bulwark_image::{ImageRef, Target};
use bulwark_spec::{Lock, Spec, lock_path_for};
use serde::Serialize;

pub use changes::{PackageChange, compare};
pub use cves::{FixedCve, OpenCve};

/// How to update.
pub struct Options {
    /// Only report: write, build and publish nothing.
    pub check: bool,
    /// Where the images go; `{name}` is replaced with each spec's image name
    /// (required with several specs).
    pub output: Option<String>,
    /// Sign the images and attach their documents as signed attestations.
    pub sign: Option<(bulwark_sign::PrivateKey, bulwark_attest::Format)>,
    /// Registry client settings.
    pub registry: bulwark_image::Options,
    /// The verified downloader (indexes, `.deb`s, with its cache).
    pub fetcher: bulwark_apt::Fetcher,
    /// The vulnerability database, when there is one.
    pub db: Option<Arc<bulwark_vulndb::Db>>,
    /// Read the new packages' changelogs for the CVEs they fix.
    pub changelogs: bool,
    /// Specs worked on at once.
    pub jobs: usize,
    /// Seconds since the epoch for signature checks and fix lags (default: now).
    pub now: Option<i64>,
    /// Where build progress goes.
    pub progress: Arc<dyn bulwark_build::Progress>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("check", &self.check)
            .field("output", &self.output)
            .field("signed", &self.sign.is_some())
            .field("db", &self.db.is_some())
            .field("changelogs", &self.changelogs)
            .field("jobs", &self.jobs)
            .finish_non_exhaustive()
    }
}

/// Where a spec stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The lock is what the archive resolves to today (and the output, when
    /// named, carries an image).
    UpToDate,
    /// The archive carries changes (`--check`).
    UpdatesAvailable,
    /// Rebuilt, signed and published; the lock rewritten.
    Updated,
    /// The update failed; nothing was written.
    Failed,
}

/// One spec's update.
#[derive(Clone, Debug, Serialize)]
pub struct SpecUpdate {
    /// The spec file.
    pub spec: String,
    /// The image name (`name`, else the file stem).
    pub name: String,
    /// Where it stands.
    pub status: Status,
    /// The spec changed since its lock was made.
    pub spec_changed: bool,
    /// Packages that change, per architecture.
    pub packages: Vec<PackageChange>,
    /// CVEs the change fixes.
    pub cves_fixed: Vec<FixedCve>,
    /// CVEs the new packages still carry (with the database).
    pub cves_open: Vec<OpenCve>,
    /// Where the image is published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The image there before this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_digest: Option<String>,
    /// The image built by this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_digest: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Notes (resolution choices, what was not checked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Every spec's update, and what the run shared.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// One entry per spec, in the order given.
    pub specs: Vec<SpecUpdate>,
    /// Distinct suites fetched and verified (once each, for all specs).
    pub suites_loaded: usize,
    /// Whether CVEs come from a vulnerability database.
    pub database: bool,
    /// When the run happened (RFC 3339).
    pub checked_at: String,
}

impl Summary {
    /// How many specs are in `status`.
    #[must_use]
    pub fn count(&self, status: Status) -> usize {
        self.specs.iter().filter(|s| s.status == status).count()
    }
}

/// Why one spec could not be updated.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec or its lock.
    #[error(transparent)]
    Build(Box<bulwark_build::BuildError>),
    /// The pipeline (build, documents, signing, publishing).
    #[error(transparent)]
    Pipeline(#[from] bulwark_build::pipeline::PipelineError),
    /// The image reference or the registry.
    #[error(transparent)]
    Image(#[from] bulwark_image::Error),
    /// There is nothing to compare with.
    #[error(
        "{spec}: no lock at {lock}; `bulwark update` compares the archive with the lock the image was built from: run `bulwark build {spec} …` first"
    )]
    NoLock {
        /// The spec.
        spec: String,
        /// Where the lock should be.
        lock: String,
    },
    /// A locked version is gone and resolving again would go back: the
    /// message names the package, both versions and the suite.
    #[error("{0}")]
    Withdrawn(String),
    /// An update that would publish nothing.
    #[error(
        "{spec}: updates are available but there is no --output DEST to publish to; pass --output (the lock is written only with the image it describes) or --check to report only"
    )]
    NoOutput {
        /// The spec.
        spec: String,
    },
    /// Several specs need `{name}` in the output.
    #[error(
        "--output {output}: several specs would publish to the same place; put {{name}} in it (for example 127.0.0.1:5000/{{name}}:latest)"
    )]
    SharedOutput {
        /// The output given.
        output: String,
    },
    /// The update could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl From<bulwark_build::BuildError> for Error {
    fn from(e: bulwark_build::BuildError) -> Self {
        Self::Build(Box::new(e))
    }
}

/// Updates (or checks) every spec, `opts.jobs` at a time, sharing the
/// suites' verified indexes. Never fails as a whole: each spec's outcome,
/// failures included, is in the summary.
#[must_use]
pub fn run(specs: &[PathBuf], opts: &Options) -> Summary {
    let now = opts.now.unwrap_or_else(bulwark_apt::now_unix);
    let indexes = IndexSet::new(opts.fetcher.clone(), Some(now));
    let changelogs = cves::Changelogs::default();
    let shared = Shared {
        indexes: &indexes,
        changelogs: &changelogs,
        now,
    };
    let next = AtomicUsize::new(0);
    let jobs = opts.jobs.clamp(1, specs.len().max(1));
    let clashes = clashing_outputs(specs, opts.output.as_deref());
    let mut results: Vec<Option<SpecUpdate>> = vec![None; specs.len()];
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(spec) = specs.get(i) else { break };
                        if let Some(other) = clashes.get(&i) {
                            let msg = format!(
                                "{} and {other} have the same image name, so both would publish to the same place; give them different `name:`s",
                                spec.display()
                            );
                            done.push((i, failed(&SpecUpdate::new(spec), msg)));
                            continue;
                        }
                        // A panic stays with its spec: the others' results
                        // (some already published) must still be reported.
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            one(spec, specs.len(), opts, &shared)
                        }))
                        .unwrap_or_else(|_| {
                            failed(
                                &SpecUpdate::new(spec),
                                "bulwark stopped on an internal error while updating it (please report it); nothing after the failure was written".into(),
                            )
                        });
                        done.push((i, r));
                    }
                    done
                })
            })
            .collect();
        for w in workers {
            if let Ok(done) = w.join() {
                for (i, r) in done {
                    results[i] = Some(r);
                }
            }
        }
    });
    let specs = results
        .into_iter()
        .zip(specs)
        .map(|(r, spec)| {
            r.unwrap_or_else(|| {
                failed(
                    &SpecUpdate::new(spec),
                    "the worker updating it stopped unexpectedly".into(),
                )
            })
        })
        .collect();
    Summary {
        specs,
        suites_loaded: indexes.len(),
        database: opts.db.is_some(),
        checked_at: bulwark_debian::time::format_rfc3339(now),
    }
}

/// Specs (by position) whose image name another spec also has, when the
/// output is a `{name}` template: each is refused rather than racing the
/// other to one destination. Specs that cannot be read are left to fail on
/// their own.
fn clashing_outputs(
    specs: &[PathBuf],
    output: Option<&str>,
) -> std::collections::BTreeMap<usize, String> {
    let mut out = std::collections::BTreeMap::new();
    if !output.is_some_and(|o| o.contains("{name}")) {
        return out;
    }
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (i, p) in specs.iter().enumerate() {
        let Ok(spec) = Spec::load(p) else { continue };
        let name = spec.name.clone().unwrap_or_else(|| SpecUpdate::new(p).name);
        if let Some(&j) = seen.get(&name) {
            out.insert(i, specs[j].display().to_string());
            out.insert(j, p.display().to_string());
        } else {
            seen.insert(name, i);
        }
    }
    out
}

impl SpecUpdate {
    fn new(spec: &Path) -> Self {
        Self {
            spec: spec.display().to_string(),
            name: spec
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default(),
            status: Status::Failed,
            spec_changed: false,
            packages: Vec::new(),
            cves_fixed: Vec::new(),
            cves_open: Vec::new(),
            destination: None,
            previous_digest: None,
            new_digest: None,
            error: None,
            notes: Vec::new(),
        }
    }
}

fn failed(partial: &SpecUpdate, error: String) -> SpecUpdate {
    SpecUpdate {
        status: Status::Failed,
        error: Some(error),
        ..partial.clone()
    }
}

/// What the specs of one run share.
struct Shared<'a> {
    indexes: &'a IndexSet,
    changelogs: &'a cves::Changelogs,
    now: i64,
}

/// One spec, start to end; whatever fails is its report's error.
fn one(spec: &Path, n_specs: usize, opts: &Options, shared: &Shared<'_>) -> SpecUpdate {
    let mut report = SpecUpdate::new(spec);
    match update_one(spec, n_specs, opts, shared, &mut report) {
        Ok(()) => report,
        Err(e) => {
            tracing::warn!("{}: {e}", spec.display());
            failed(&report, e.to_string())
        }
    }
}

fn update_one(
    spec_path: &Path,
    n_specs: usize,
    opts: &Options,
    shared: &Shared<'_>,
    report: &mut SpecUpdate,
) -> Result<(), Error> {
    let spec = Spec::load(spec_path).map_err(bulwark_build::BuildError::from)?;
    if let Some(n) = &spec.name {
        report.name.clone_from(n);
    }
    let lock_path = lock_path_for(spec_path);
    if !lock_path.exists() {
        return Err(Error::NoLock {
            spec: report.spec.clone(),
            lock: lock_path.display().to_string(),
        });
    }
    let old = Lock::load(&lock_path).map_err(bulwark_build::BuildError::from)?;
    let destination = match &opts.output {
        Some(o) if n_specs > 1 && !o.contains("{name}") => {
            return Err(Error::SharedOutput { output: o.clone() });
        }
        Some(o) => Some(o.replace("{name}", &report.name).parse::<ImageRef>()?),
        None => None,
    };
    report.destination = destination.as_ref().map(ToString::to_string);

    // The archive today: newest versions, nothing kept from the old lock.
    // (Resolution notes are the lock's business: `bulwark lock` shows them.)
    let (new, _) = bulwark_build::resolve_lock_with(&spec, spec_path, None, shared.indexes)?;
    report.packages = compare(&old, &new);
    report.spec_changed = old.spec_digest != new.spec_digest;
    if let Some(down) = report.packages.iter().find(|c| c.is_downgrade()) {
        let suite = down.from_suite.as_deref().unwrap_or("its suite");
        return Err(Error::Withdrawn(format!(
            "{spec}: {arch} {package} {locked} (from {suite}) is no longer in the archive, and resolving again would downgrade it to {now}: the upload was probably withdrawn from {suite}. Nothing was changed; check the archive, and if the older version is intended run `bulwark lock --update {spec}`",
            spec = report.spec,
            arch = down.arch,
            package = down.package,
            locked = down.from.as_deref().unwrap_or_default(),
            now = down.to.as_deref().unwrap_or_default(),
        )));
    }
    let release = new
        .suites
        .first()
        .and_then(|s| s.codename.clone())
        .unwrap_or_else(|| spec.distribution.suite.clone());
    let (fixed, open, cve_notes) = cves::analyse(
        &old,
        &new,
        &report.packages,
        &release,
        opts,
        shared.changelogs,
        shared.now,
    );
    report.cves_fixed = fixed;
    report.cves_open = open;
    report.notes.extend(cve_notes);

    if let Some(dest) = &destination {
        report.previous_digest = current_digest(dest, &opts.registry)?;
        if report.previous_digest.is_none() {
            report
                .notes
                .push(format!("{dest} has no image yet: it will be published"));
        }
    }
    let changed = !report.packages.is_empty() || report.spec_changed;
    let unpublished = destination.is_some() && report.previous_digest.is_none();
    if !changed && !unpublished {
        report.status = Status::UpToDate;
        return Ok(());
    }
    if opts.check {
        report.status = Status::UpdatesAvailable;
        return Ok(());
    }
    let Some(dest) = destination else {
        // The lock and the published image move together: a lock updated
        // alone would later look "up to date" beside a stale image.
        return Err(Error::NoOutput {
            spec: report.spec.clone(),
        });
    };
    let mut req = Request::new(spec_path.to_path_buf(), dest.clone());
    req.lock = Some(new.clone());
    req.sign = opts.sign.clone();
    req.registry = opts.registry.clone();
    req.fetcher = Some(opts.fetcher.clone());
    req.progress = opts.progress.clone();
    req.update = Some(UpdateRecord {
        replaces: report.previous_digest.clone(),
        reference: Some(dest.to_string()),
        packages_changed: report
            .packages
            .iter()
            .map(PackageChange::describe)
            .collect(),
        cves_fixed: report.cves_fixed.iter().map(|c| c.id.clone()).collect(),
    });
    let built = build(&req)?;
    report.new_digest = Some(built.digest.clone());
    // The lock is written last: a failed build or push leaves the old one,
    // which still describes what is published.
    if let Err(e) = write_lock(&lock_path, &new) {
        return Err(Error::Io {
            path: lock_path.display().to_string(),
            source: std::io::Error::other(format!(
                "{dest} now holds {} but the new lock could not be written ({e}); the next update will rebuild the same image and write it",
                built.digest
            )),
        });
    }
    report.status = Status::Updated;
    Ok(())
}

fn write_lock(path: &Path, lock: &Lock) -> Result<(), Error> {
    bulwark_oci::write_file_atomic(path, lock.to_json().as_bytes()).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// The digest `dest` names now, or None when nothing is there yet.
fn current_digest(
    dest: &ImageRef,
    registry: &bulwark_image::Options,
) -> Result<Option<String>, Error> {
    let missing_locally = match dest {
        ImageRef::Oci { dir, .. } => !dir.join("index.json").exists(),
        ImageRef::OciArchive { file, .. } | ImageRef::DockerArchive { file, .. } => !file.exists(),
        _ => false,
    };
    if missing_locally {
        return Ok(None);
    }
    let found = Target::read(dest, registry).and_then(|t| t.resolve());
    match found {
        Ok(o) => Ok(Some(o.digest)),
        Err(
            bulwark_image::Error::NotFound { .. }
            | bulwark_image::Error::NoTag { .. }
            | bulwark_image::Error::Registry(bulwark_registry::Error::NotFound { .. }),
        ) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Renders the summary as a pull-request or change-ticket body.
#[must_use]
pub fn markdown(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## bulwark update: {} updated, {} with updates available, {} up to date, {} failed\n",
        s.count(Status::Updated),
        s.count(Status::UpdatesAvailable),
        s.count(Status::UpToDate),
        s.count(Status::Failed)
    );
    for u in &s.specs {
        let _ = writeln!(
            out,
            "### {} (`{}`): {}\n",
            md(&u.name),
            md(&u.spec),
            status_text(u.status)
        );
        if let Some(e) = &u.error {
            let _ = writeln!(out, "**Failed:** {}\n", md(e));
        }
        if let (Some(dest), Some(prev)) = (&u.destination, &u.previous_digest) {
            let _ = writeln!(out, "- replaces `{}` at `{}`", prev, md(dest));
        }
        if let Some(new) = &u.new_digest {
            let _ = writeln!(out, "- new image `{new}`");
        }
        if u.spec_changed {
            let _ = writeln!(out, "- the spec changed since its lock was made");
        }
        if !u.packages.is_empty() {
            let _ = writeln!(
                out,
                "\n| arch | package | from | to | suite |\n|---|---|---|---|---|"
            );
            for c in &u.packages {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    md(&c.arch),
                    md(&c.package),
                    md(c.from.as_deref().unwrap_or("(new)")),
                    md(c.to.as_deref().unwrap_or("(removed)")),
                    md(c.to_suite.as_deref().unwrap_or(""))
                );
            }
        }
        if !u.cves_fixed.is_empty() {
            let _ = writeln!(
                out,
                "\n**CVEs fixed ({}):**\n\n| CVE | source | fix in the archive since | days | witness |\n|---|---|---|---|---|",
                u.cves_fixed.len()
            );
            for c in &u.cves_fixed {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    md(&c.id),
                    md(&c.source),
                    c.fix_available.as_deref().unwrap_or("unknown"),
                    c.lag_days.map(|d| d.to_string()).unwrap_or_default(),
                    c.witness.join(", ")
                );
            }
        }
        if s.database {
            let _ = writeln!(
                out,
                "\nCVEs still open after the update: {}",
                u.cves_open.len()
            );
        }
        for n in &u.notes {
            let _ = writeln!(out, "\n> {}", md(n));
        }
        out.push('\n');
    }
    out
}

fn status_text(s: Status) -> &'static str {
    match s {
        Status::UpToDate => "up to date",
        Status::UpdatesAvailable => "updates available",
        Status::Updated => "updated",
        Status::Failed => "failed",
    }
}

/// Text safe inside a markdown table cell.
fn md(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '|' => "\\|".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
