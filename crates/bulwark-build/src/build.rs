//! `bulwark build`: lock → fetch → assemble → encode → write.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bulwark_apt::{Cache, Fetcher, default_cache_dir};
use bulwark_deb::{Limits, read_deb_named};
use bulwark_debian::time::format_rfc3339;
use bulwark_layer::{LayerCompression, encode_layer_cached};
use bulwark_oci::{Destination, Image, ImageSpec, Platform, RuntimeConfig, write_images};
use bulwark_spec::{Compression, Lock, LockedPackage, Spec, lock_path_for};
use rayon::prelude::*;
use serde::Serialize;
use sha2::Digest;

use crate::assemble::{AssembleReport, PackageSet, assemble};
use crate::lock::resolve_lock;
use crate::{BuildError, Progress, Silent, hardening};

/// Options for [`build`].
#[derive(Clone)]
pub struct BuildOptions {
    pub spec_path: PathBuf,
    pub dest: Destination,
    /// Fail when the lock is missing or stale instead of (re)creating it.
    pub frozen: bool,
    /// Overrides `SOURCE_DATE_EPOCH` and the lock-derived default.
    pub source_date_epoch: Option<u64>,
    /// Overrides the spec's `output.compression`.
    pub compression: Option<Compression>,
    /// Defaults to a fetcher with the user's cache directory.
    pub fetcher: Option<Fetcher>,
    /// Time for signature checks when (re)locking (default: now).
    pub now: Option<i64>,
    /// Where progress goes (default: nowhere).
    pub progress: std::sync::Arc<dyn Progress>,
    /// Build from this lock (made for this spec) instead of the lock file,
    /// which is then neither read nor written: `bulwark update` builds from
    /// the new lock and writes it only once the image is published.
    pub lock: Option<Lock>,
}

impl std::fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("spec_path", &self.spec_path)
            .field("dest", &self.dest)
            .field("frozen", &self.frozen)
            .field("source_date_epoch", &self.source_date_epoch)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

impl BuildOptions {
    pub fn new(spec_path: PathBuf, dest: Destination) -> Self {
        BuildOptions {
            spec_path,
            dest,
            frozen: false,
            source_date_epoch: None,
            compression: None,
            fetcher: None,
            now: None,
            progress: std::sync::Arc::new(Silent),
            lock: None,
        }
    }
}

/// A fetched and read package: its lock entry, contents and sha512.
type ReadDeb = (LockedPackage, bulwark_deb::Deb, String);

/// One layer of a built image.
#[derive(Clone, Debug, Serialize)]
pub struct LayerReport {
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub uncompressed_size: u64,
    pub entries: usize,
    pub created_by: String,
}

/// One platform of a built image.
#[derive(Clone, Debug, Serialize)]
pub struct PlatformReport {
    pub arch: String,
    pub manifest_digest: String,
    pub packages: Vec<String>,
    pub layers: Vec<LayerReport>,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub assembly: AssembleReport,
    /// The user's own files with their digests (for the SBOM).
    #[serde(skip)]
    pub app_files: Vec<bulwark_sbom::AppFile>,
    /// The image's merged filesystem, with the files SBOMs read.
    #[serde(skip)]
    pub contents: std::sync::Arc<bulwark_image::FileSystem>,
    /// The sha512 of the OCI manifest written (none for a docker archive,
    /// which keeps no OCI manifest).
    #[serde(skip)]
    pub manifest_sha512: Option<String>,
}

/// The result of a build (`--format json` prints it).
#[derive(Clone, Debug, Serialize)]
pub struct BuildReport {
    /// Digest of what the destination's index points at (manifest or index).
    pub digest: String,
    pub media_type: String,
    pub destination: String,
    pub lock: String,
    pub lock_written: bool,
    pub source_date_epoch: u64,
    pub created: String,
    pub security_context: String,
    /// Where the SBOMs and provenance went (set by the caller that placed them).
    pub sboms: String,
    pub platforms: Vec<PlatformReport>,
    pub notes: Vec<String>,
    /// sha256 → sha512 of every verified `.deb` (for the SBOM).
    #[serde(skip)]
    pub deb_sha512: BTreeMap<String, String>,
    /// The spec's local files as the build read them (path relative to the
    /// spec, sha256 hex), for the provenance.
    #[serde(skip)]
    pub local_inputs: Vec<(String, String)>,
}

fn io_err(path: &std::path::Path) -> impl Fn(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Builds the image described by `opts.spec_path`.
pub fn build(opts: &BuildOptions) -> Result<BuildReport, BuildError> {
    build_inputs(opts).map(|b| b.report)
}

/// A build's report with the spec and lock it was made from, read once.
pub(crate) struct Built {
    pub report: BuildReport,
    pub spec: Spec,
    pub lock: Lock,
}

pub(crate) fn build_inputs(opts: &BuildOptions) -> Result<Built, BuildError> {
    let spec_path = &opts.spec_path;
    let spec = Spec::load(spec_path)?;
    let fetcher = match &opts.fetcher {
        Some(f) => f.clone(),
        None => Fetcher::new(Some(Cache::new(default_cache_dir())))?,
    };
    let lock_path = lock_path_for(spec_path);
    let lock_name = lock_path.display().to_string();
    let spec_name = spec_path.display().to_string();
    let mut notes = Vec::new();
    if spec.sbom_info().supplier.is_none() {
        notes.push(
            "the SBOMs name no supplier for the image: set sbom.supplier and sbom.contact in the spec (or the org.opencontainers.image.vendor label) to meet the NTIA, FSCT and BSI minimum elements".into(),
        );
    }
    let (lock, lock_written) = if let Some(given) = &opts.lock {
        if given.spec_digest != spec.resolution_digest() {
            return Err(BuildError::LockStale {
                lock: lock_name,
                spec: spec_name,
            });
        }
        (given.clone(), false)
    } else if lock_path.exists() {
        let lock = Lock::load(&lock_path)?;
        if lock.spec_digest == spec.resolution_digest() {
            (lock, false)
        } else if opts.frozen {
            return Err(BuildError::LockStale {
                lock: lock_name,
                spec: spec_name,
            });
        } else {
            let (l, n) = resolve_lock(&spec, spec_path, Some(&lock), &fetcher, opts.now)?;
            notes.extend(n);
            bulwark_oci::write_file_atomic(&lock_path, l.to_json().as_bytes())?;
            (l, true)
        }
    } else if opts.frozen {
        return Err(BuildError::LockMissing {
            lock: lock_name,
            spec: spec_name,
        });
    } else {
        let (l, n) = resolve_lock(&spec, spec_path, None, &fetcher, opts.now)?;
        notes.extend(n);
        bulwark_oci::write_file_atomic(&lock_path, l.to_json().as_bytes())?;
        (l, true)
    };
    for arch in &spec.archs {
        if !lock.archs.contains_key(arch) {
            return Err(BuildError::LockArch {
                lock: lock_name,
                spec: spec_name,
                arch: arch.clone(),
            });
        }
        hardening::check_lock(&spec, spec_path, &lock, arch)?;
    }

    let t_fetch = std::time::Instant::now();
    // Fetch every locked .deb (verified against the lock's size and sha256)
    // and read it as soon as it is there, largest first: the biggest
    // data.tar (libc6's) is the longest single task, so it starts at once.
    let wanted: Vec<&LockedPackage> = spec
        .archs
        .iter()
        .flat_map(|a| lock.archs[a].packages.iter())
        .collect();
    let total: u64 = wanted.iter().map(|p| p.size).sum();
    let pb = &opts.progress;
    pb.start("fetching", total);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(8)
        .build()
        .map_err(|e| BuildError::Sources(e.to_string()))?;
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(wanted[i].size));
    let limits = Limits::default();
    let mut read: Vec<(usize, ReadDeb)> = pool.install(|| {
        order
            .par_iter()
            .with_max_len(1)
            .map(|&i| {
                let p = wanted[i];
                let url = p.url();
                let bytes = fetcher.get_verified(&url, p.size, &p.sha256).map_err(|e| {
                    if e.is_not_found() {
                        BuildError::Gone {
                            lock: lock_name.clone(),
                            spec: spec_name.clone(),
                            package: p.name.clone(),
                            version: p.version.clone(),
                            url: url.clone(),
                        }
                    } else {
                        BuildError::Fetch(e)
                    }
                })?;
                pb.advance(p.size);
                let deb = read_deb_named(&bytes, &limits, &url)?;
                // SBOMs carry a sha512 of each verified .deb too (BSI TR-03183-2 asks for it).
                let sha512 = hex::encode(sha2::Sha512::digest(&bytes));
                Ok((i, (p.clone(), deb, sha512)))
            })
            .collect::<Result<_, BuildError>>()
    })?;
    pb.finish();
    read.sort_by_key(|(i, _)| *i);
    let mut deb_sha512: BTreeMap<String, String> = BTreeMap::new();
    let debs: Vec<_> = read
        .into_iter()
        .map(|(_, (p, deb, sha512))| {
            deb_sha512.insert(p.sha256.clone(), sha512);
            (p, deb)
        })
        .collect();
    tracing::info!(
        "fetched and read {} packages ({} bytes) in {:.3} s",
        debs.len(),
        total,
        t_fetch.elapsed().as_secs_f64()
    );
    let t_asm = std::time::Instant::now();
    let mut by_arch: BTreeMap<String, Vec<_>> = BTreeMap::new();
    let mut it = debs.into_iter();
    for arch in &spec.archs {
        let n = lock.archs[arch].packages.len();
        by_arch.insert(arch.clone(), it.by_ref().take(n).collect());
    }

    // Assemble each platform.
    let assembled: Vec<(String, crate::assemble::Assembled)> = spec
        .archs
        .iter()
        .map(|arch| {
            let set = PackageSet {
                arch: arch.clone(),
                packages: by_arch.remove(arch).unwrap_or_default(),
            };
            assemble(&spec, spec_path, set).map(|a| (arch.clone(), a))
        })
        .collect::<Result<_, _>>()?;

    tracing::info!("assembled in {:.3} s", t_asm.elapsed().as_secs_f64());
    let t_enc = std::time::Instant::now();
    let epoch = match opts.source_date_epoch {
        Some(e) => e,
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.trim().is_empty() => v
                .trim()
                .parse::<u64>()
                .map_err(|_| BuildError::BadEpoch(v))?,
            _ => assembled
                .iter()
                .map(|(_, a)| a.report.newest_package_mtime)
                .max()
                .unwrap_or(0),
        },
    };
    let created = format_rfc3339(epoch as i64);
    let compression = match opts.compression.unwrap_or(spec.output.compression) {
        Compression::Gzip => LayerCompression::Gzip,
        Compression::Zstd => LayerCompression::Zstd,
    };

    // Encode layers (in parallel across platforms and layers) and images;
    // compressed blobs are cached by the digest of their tar.
    let layer_cache = fetcher.cache().map(|c| c.root().join("layers"));
    let encoded: Vec<(String, Vec<(bulwark_layer::Layer, String)>)> = assembled
        .par_iter()
        .map(|(arch, a)| {
            let mut trees = vec![(
                &a.system,
                "bulwark: debian packages and system files".to_owned(),
            )];
            if !a.app.is_empty() {
                trees.push((&a.app, "bulwark: application files".to_owned()));
            }
            let layers = trees
                .par_iter()
                .map(|(t, by)| {
                    encode_layer_cached(t, epoch, compression, layer_cache.as_deref())
                        .map(|l| (l, by.clone()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, BuildError>((arch.clone(), layers))
        })
        .collect::<Result<_, _>>()?;

    tracing::info!("encoded layers in {:.3} s", t_enc.elapsed().as_secs_f64());
    let mut images = Vec::new();
    let mut platforms = Vec::new();
    for ((arch, a), (_, mut layers)) in assembled.iter().zip(encoded) {
        // What the SBOMs describe: the layers' own tars, read once here
        // rather than decompressed again from the output.
        let contents = {
            let refs: Vec<&bulwark_layer::Layer> = layers.iter().map(|(l, _)| l).collect();
            layer_contents(
                &refs,
                &format!("the {arch} layers just built"),
                &bulwark_sbom::wanted,
            )?
        };
        for (l, _) in &mut layers {
            drop(std::mem::take(&mut l.tar));
        }
        let (os_arch, variant) = bulwark_debian::oci_platform(arch).unwrap_or(("unknown", None));
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert(
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
        if a.report.ca_bundle {
            env.insert(
                "SSL_CERT_FILE".into(),
                "/etc/ssl/certs/ca-certificates.crt".into(),
            );
        }
        env.extend(spec.config.env.clone());
        // The spec's facts as the standard OCI keys, in the config's labels
        // (what docker archives and `bulwark sbom` read) and the manifest's
        // annotations, so any tool derives the same SBOM from the image that
        // the build made. The spec's own labels and annotations win.
        let facts = image_facts(&spec, &created);
        let mut labels = spec.config.labels.clone();
        for (k, v) in &facts {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let config = RuntimeConfig {
            user: Some(format!("{}:{}", a.uid, a.gid)),
            exposed_ports: spec
                .config
                .exposed_ports
                .iter()
                .map(|p| (String::from(p.clone()), serde_json::json!({})))
                .collect(),
            env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            entrypoint: spec.config.entrypoint.clone(),
            cmd: spec.config.cmd.clone(),
            working_dir: spec.config.workdir.clone(),
            labels,
            stop_signal: spec.config.stop_signal.clone(),
            volumes: BTreeMap::new(),
            healthcheck: None,
        };
        let mut annotations = spec.config.annotations.clone();
        annotations.insert(bulwark_oci::ANNOTATION_CREATED.into(), created.clone());
        for (k, v) in facts {
            annotations.entry(k).or_insert(v);
        }
        let layer_reports: Vec<LayerReport> = layers
            .iter()
            .map(|(l, by)| LayerReport {
                digest: l.digest.clone(),
                diff_id: l.diff_id.clone(),
                size: l.blob.len(),
                uncompressed_size: l.tar_size,
                entries: l.entries,
                created_by: by.clone(),
            })
            .collect();
        let image = Image::build(ImageSpec {
            platform: Platform {
                architecture: os_arch.into(),
                os: "linux".into(),
                variant: variant.map(str::to_owned),
            },
            created: created.clone(),
            config,
            layers,
            annotations,
        });
        platforms.push(PlatformReport {
            arch: arch.clone(),
            manifest_digest: image.manifest.digest.clone(),
            manifest_sha512: (!matches!(opts.dest, Destination::DockerArchive { .. }))
                .then(|| hex::encode(sha2::Sha512::digest(&image.manifest.data))),
            packages: lock.archs[arch]
                .packages
                .iter()
                .map(|p| format!("{}={}", p.name, p.version))
                .collect(),
            compressed_size: layer_reports.iter().map(|l| l.size).sum(),
            uncompressed_size: layer_reports.iter().map(|l| l.uncompressed_size).sum(),
            layers: layer_reports,
            contents: std::sync::Arc::new(contents),
            assembly: a.report.clone(),
            app_files: a
                .app
                .iter()
                .filter_map(|(path, node)| match &node.kind {
                    bulwark_layer::NodeKind::File(data) => {
                        Some(bulwark_sbom::AppFile::new(path, data))
                    }
                    // Hashed once when assembled; the encoder checked them again.
                    bulwark_layer::NodeKind::Disk(f) => Some(bulwark_sbom::AppFile {
                        path: format!("/{path}"),
                        size: f.size,
                        sha1: f.sha1.clone(),
                        sha256: f.sha256.clone(),
                        sha512: f.sha512.clone(),
                    }),
                    _ => None,
                })
                .collect(),
        });
        images.push(image);
    }
    let mut index_annotations = BTreeMap::new();
    index_annotations.insert(bulwark_oci::ANNOTATION_CREATED.to_owned(), created.clone());
    let summary = write_images(&opts.dest, &images, index_annotations)?;

    let sc_path = PathBuf::from(format!(
        "{}.security-context.yaml",
        opts.dest.path().display()
    ));
    let (uid, gid) = (assembled[0].1.uid, assembled[0].1.gid);
    let sc = security_context_yaml(&summary.digest, uid, gid, &spec.hardening.writable_paths);
    bulwark_oci::write_file_atomic(&sc_path, sc.as_bytes()).map_err(|e| match e {
        bulwark_oci::DestinationError::Io { path, source } => io_err(&path)(source),
        other => BuildError::Destination(other),
    })?;

    let report = BuildReport {
        digest: summary.digest,
        media_type: summary.media_type,
        destination: opts.dest.to_string(),
        lock: lock_path.display().to_string(),
        lock_written,
        source_date_epoch: epoch,
        created,
        security_context: sc_path.display().to_string(),
        sboms: String::new(),
        platforms,
        notes,
        deb_sha512,
        // Every platform copies the same files.
        local_inputs: assembled
            .first()
            .map(|(_, a)| a.inputs.clone())
            .unwrap_or_default(),
    };
    Ok(Built { report, spec, lock })
}

/// The merged filesystem of layers just encoded, read from their tars in
/// memory (nothing is read back from the output), with the contents of the
/// files `capture` selects (SBOMs need [`bulwark_sbom::wanted`]); `origin`
/// names them in errors.
///
/// # Errors
/// A tar cannot be read.
pub fn layer_contents(
    layers: &[&bulwark_layer::Layer],
    origin: &str,
    capture: &dyn Fn(&str) -> bool,
) -> Result<bulwark_image::FileSystem, bulwark_image::Error> {
    let views = layers
        .iter()
        .map(|l| {
            Ok(bulwark_image::TarLayer {
                tar: l.tar.reader().map_err(|source| bulwark_image::Error::Io {
                    path: origin.to_owned(),
                    source,
                })?,
                diff_id: &l.diff_id,
                size: l.tar.len(),
                compressed: l.blob.len(),
            })
        })
        .collect::<Result<Vec<_>, bulwark_image::Error>>()?;
    bulwark_image::FileSystem::from_tars(views, origin, capture)
}

/// The Kubernetes `securityContext` that matches a hardened image running
/// as `uid:gid`, with `writable` paths besides `/tmp` (a spec's
/// `hardening.writable-paths`).
pub fn security_context_yaml(
    digest: &str,
    uid: u32,
    gid: u32,
    writable_paths: &[String],
) -> String {
    let mut s = format!(
        "# Kubernetes container securityContext for image {digest}, generated by bulwark.\n\
         # Paste it under spec.containers[*] (see docs/hardening.md).\n\
         securityContext:\n  runAsNonRoot: true\n  runAsUser: {uid}\n  runAsGroup: {gid}\n  readOnlyRootFilesystem: true\n  allowPrivilegeEscalation: false\n  privileged: false\n  capabilities:\n    drop:\n      - ALL\n  seccompProfile:\n    type: RuntimeDefault\n"
    );
    let mut writable: Vec<String> = vec!["/tmp".into()];
    writable.extend(writable_paths.iter().cloned());
    s.push_str("# The root filesystem is read-only: mount an emptyDir on each writable path:\n");
    for (i, w) in writable.iter().enumerate() {
        s.push_str(&format!("#   volumeMounts: [{{name: writable-{i}, mountPath: {w}}}]  volumes: [{{name: writable-{i}, emptyDir: {{}}}}]\n"));
    }
    s
}

/// The OCI keys (`org.opencontainers.image.*`) a spec gives its image:
/// title (the name), vendor, authors, licenses and created; and the
/// copyright notice, which OCI has no key for, under
/// [`bulwark_oci::ANNOTATION_COPYRIGHT`].
fn image_facts(spec: &Spec, created: &str) -> BTreeMap<String, String> {
    let info = spec.sbom_info();
    let key = |k: &str| format!("org.opencontainers.image.{k}");
    let mut m = BTreeMap::new();
    m.insert(key("created"), created.to_owned());
    for (k, v) in [
        ("title", spec.name.clone()),
        ("vendor", info.supplier),
        ("authors", info.contact),
        ("licenses", info.license),
    ] {
        if let Some(v) = v {
            m.insert(key(k), v);
        }
    }
    if let Some(c) = info.copyright {
        m.insert(bulwark_oci::ANNOTATION_COPYRIGHT.to_owned(), c);
    }
    m
}
