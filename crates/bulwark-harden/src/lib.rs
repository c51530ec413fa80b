//! `bulwark harden`: harden an image bulwark did not build.
//!
//! Every platform of the source is walked once, with its files' contents.
//! The decision comes from the image's own evidence: the dpkg database and
//! file lists, the entrypoint's closure (eval's ELF and interpreter
//! analysis), and apt's record of what was installed automatically. Then:
//!
//! - high-risk packages (shells, package managers, network tools,
//!   compilers, debuggers, privilege tools: the build's list, and any
//!   package shipping a program eval flags) go with their files and their
//!   dpkg records, and so do packages that depended on them and automatic
//!   dependencies nothing needs any more; the entrypoint's own needs stay;
//! - tools no package owns, caches, logs, temporary files, `.git` and build
//!   leftovers go; setuid/setgid and world-writable bits are stripped;
//! - the image runs as a non-root user (added to `/etc/passwd` when the
//!   image has none);
//! - with `--minify`, only the entrypoint's package closure, the paths
//!   named with `--keep` or seen in `--runtime-evidence`, and the files the
//!   system reads are kept.
//!
//! The result is one squashed layer, reproducible from the source digest
//! (the source's creation time is kept), with SBOMs and SLSA provenance
//! naming the source as the input. Secrets in the source fail the command.

mod delta;
mod plan;
mod rewrite;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;

use bulwark_build::pipeline::{PipelineError, Staged};
use bulwark_build::trust::{Built, Documents, PlatformSboms};
use bulwark_image::{ImageRef, Opened};
use bulwark_layer::{LayerCompression, SourceEntry, SourceLayer};
use bulwark_oci::{Image, ImageSpec, Platform, RuntimeConfig};
use bulwark_sbom::{DocumentInfo, Inventory};
use serde::Serialize;
use serde_json::{Value, json};

/// The build type of a hardening run's provenance.
pub const BUILD_TYPE: &str = "urn:bulwark:buildtype:harden:v1";

/// What to keep and how to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The program and arguments to run instead of the image's
    /// `Entrypoint` and `Cmd` (which it replaces).
    pub entrypoint: Option<Vec<String>>,
    /// Paths or globs kept whatever they are (a directory keeps what is
    /// below it).
    pub keep: Vec<String>,
    /// Keep only the entrypoint's closure, `keep` and `runtime_evidence`.
    pub minify: bool,
    /// Run as `uid:gid` (default: the image's own non-root user, else 65532).
    pub user: Option<(u32, u32)>,
    /// Packages or program names kept although high-risk.
    pub allow: Vec<String>,
    /// Root-relative paths a running workload opened or mapped (from
    /// `/proc/PID/maps` and the like): kept, with their packages.
    pub runtime_evidence: BTreeSet<String>,
    /// Ship secrets found in the source instead of failing.
    pub allow_secrets: bool,
    /// Keep the source's layers as they are and add one layer with the
    /// changes (whiteouts for what goes), instead of one squashed layer.
    pub delta: bool,
}

/// One `bulwark harden` run.
pub struct Request {
    pub source: ImageRef,
    pub output: ImageRef,
    pub options: Options,
    /// Sign the result and attach its SBOMs and provenance.
    pub sign: Option<(bulwark_sign::PrivateKey, bulwark_attest::Format)>,
    /// Also write the SBOMs and provenance here.
    pub sbom_dir: Option<PathBuf>,
    pub registry: bulwark_image::Options,
    pub compression: LayerCompression,
    /// Overrides the source's creation time (and `SOURCE_DATE_EPOCH`).
    pub source_date_epoch: Option<u64>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("source", &self.source)
            .field("output", &self.output)
            .field("options", &self.options)
            .field("signed", &self.sign.is_some())
            .finish_non_exhaustive()
    }
}

/// Why hardening failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Image(#[from] bulwark_image::Error),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Trust(#[from] bulwark_build::trust::TrustError),
    #[error(transparent)]
    Encode(#[from] bulwark_layer::EncodeError),
    #[error(transparent)]
    Destination(#[from] bulwark_oci::DestinationError),
    /// What the image runs cannot be told, and the user named nothing.
    #[error(
        "{origin} ({platform}): cannot tell what the entrypoint needs: {why}; nothing was written. Name what to keep with --keep PATH (repeatable), give the program with --entrypoint, or pass --runtime-evidence FILE"
    )]
    Entrypoint {
        origin: String,
        platform: String,
        why: String,
    },
    /// Secrets in the source.
    #[error(
        "{origin} ({platform}) holds secrets; nothing was written:\n{list}\nRemove them from the source image (mount secrets at run time), or pass --allow-secrets to ship them knowingly"
    )]
    Secrets {
        origin: String,
        platform: String,
        list: String,
    },
    /// The source's runtime config cannot be carried over.
    #[error("{origin}: the image config's `config` object cannot be read: {detail}")]
    Config { origin: String, detail: String },
    /// The source has no package database to keep true.
    #[error(
        "{origin} ({platform}): no dpkg database (/var/lib/dpkg/status or status.d); bulwark harden works on Debian-based images, whose packages it can account for"
    )]
    NoPackages { origin: String, platform: String },
}

/// A removed package.
#[derive(Clone, Debug, Serialize)]
pub struct RemovedPackage {
    pub name: String,
    pub version: String,
    pub reason: String,
}

/// A removed path (a directory stands for everything below it).
#[derive(Clone, Debug, Serialize)]
pub struct RemovedPath {
    pub path: String,
    pub reason: String,
}

/// The eval grade of one side.
#[derive(Clone, Debug, Serialize)]
pub struct Grade {
    pub grade: String,
    pub score: u32,
    /// Findings by check id.
    pub findings: BTreeMap<String, usize>,
}

/// What hardening did to one platform.
#[derive(Clone, Debug, Serialize)]
pub struct PlatformReport {
    pub platform: String,
    /// The source's platform manifest, when it has one.
    pub source_manifest: Option<String>,
    pub manifest_digest: String,
    /// The program analysed, when the entrypoint could be.
    pub entrypoint: Option<String>,
    /// `uid:gid` the image runs as.
    pub user: String,
    /// The account added to `/etc/passwd`, if one was.
    pub user_created: Option<String>,
    pub packages_before: usize,
    pub packages_after: usize,
    pub removed_packages: Vec<RemovedPackage>,
    /// High-risk packages kept, with why.
    pub kept_high_risk: Vec<RemovedPackage>,
    pub removed_paths: Vec<RemovedPath>,
    pub setuid_stripped: Vec<String>,
    /// Kept files whose file capabilities were taken away, with what they
    /// granted (`/usr/bin/ping: cap_net_raw=ep`).
    pub capabilities_removed: Vec<String>,
    pub world_writable_fixed: Vec<String>,
    /// Accounts whose login shell was removed (now `/usr/sbin/nologin`).
    pub shells_reset: Vec<String>,
    /// Secrets shipped (with `--allow-secrets`), as eval finds them in the
    /// result.
    pub secrets: Vec<String>,
    /// Uncompressed bytes of the source's layers and of the result.
    pub size_before: u64,
    pub size_after: u64,
    pub compressed_before: u64,
    pub compressed_after: u64,
    /// Bytes of the new layer's tar whose compressed form is the source
    /// layer's, copied as it was instead of compressed again (the squashed
    /// layer keeps the source's order and unchanged headers for this).
    pub reused: u64,
    pub grade_before: Grade,
    pub grade_after: Option<Grade>,
    pub notes: Vec<String>,
}

/// What `bulwark harden` did.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub source: String,
    /// The source's top-level digest (index or manifest; for a docker
    /// archive, its config's).
    pub source_digest: String,
    pub destination: String,
    pub digest: String,
    pub created: String,
    /// Where the matching Kubernetes securityContext was written.
    pub security_context: String,
    pub sboms: String,
    pub platforms: Vec<PlatformReport>,
}

fn grade(r: &bulwark_eval::Report) -> Grade {
    let mut findings = BTreeMap::new();
    for f in &r.findings {
        *findings.entry(f.id.to_owned()).or_insert(0) += 1;
    }
    Grade {
        grade: r.grade.clone(),
        score: r.score,
        findings,
    }
}

/// Eval's secret findings (SE-001 to SE-004) in `report`, leaving out
/// `public` files: those a Debian package shipped, unchanged.
fn secrets_in(report: &bulwark_eval::Report, public: &BTreeSet<String>) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| matches!(f.id, "SE-001" | "SE-002" | "SE-003" | "SE-004"))
        .filter(|f| f.path.as_ref().is_none_or(|p| !public.contains(p)))
        .map(|f| f.message.clone())
        .collect()
}

/// The merged filesystem of an image whose layers merge to `tree`, as a
/// walk of it would give (the contents of the files `capture` selects);
/// `sizes` are the layers' (compressed, uncompressed) sizes.
fn view_of(
    tree: &bulwark_layer::Tree,
    capture: &dyn Fn(&str) -> bool,
    sizes: Vec<(u64, u64)>,
) -> bulwark_image::FileSystem {
    use bulwark_image::{FileInfo, FileKind};
    use bulwark_layer::NodeKind;
    let mut fs = bulwark_image::FileSystem::default();
    for (path, n) in tree.iter() {
        let (kind, size, link) = match &n.kind {
            NodeKind::Dir => (FileKind::Dir, 0, None),
            NodeKind::File(d) => {
                if capture(path) {
                    fs.contents.insert(path.clone(), d.to_vec());
                }
                (FileKind::File, d.len() as u64, None)
            }
            NodeKind::Disk(f) => (FileKind::File, f.size, None),
            NodeKind::Symlink(t) => (FileKind::Symlink, 0, Some(t.clone())),
            NodeKind::Hardlink(t) => (FileKind::Hardlink, 0, Some(t.clone())),
        };
        fs.files.insert(
            path.clone(),
            FileInfo {
                kind,
                mode: n.mode,
                uid: u64::from(n.uid),
                gid: u64::from(n.gid),
                size,
                link,
                layer: 0,
                caps: None,
                source: None,
            },
        );
    }
    fs.layer_sizes = sizes;
    fs
}

/// The source's layers, copied as they are for a delta (`diff_ids` and
/// `sizes`, each layer's, from the walk that checked them), each read again
/// and checked against its digest, with the history line the source gave
/// it.
fn carried_layers(
    img: &Opened,
    diff_ids: &[String],
    sizes: &[(u64, u64)],
) -> Result<Vec<(bulwark_layer::Layer, String)>, Error> {
    let history: Vec<String> = img.config["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|e| e["empty_layer"].as_bool() != Some(true))
                .map(|e| e["created_by"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, l) in img.layers.iter().enumerate() {
        let io_err = |e: std::io::Error| {
            Error::Image(bulwark_image::Error::Layer {
                origin: img.origin.clone(),
                digest: l.digest.clone(),
                reason: e.to_string(),
            })
        };
        // Checked against its digest as it is copied.
        let blob = bulwark_layer::Content::spill_from(&mut img.open_layer(l)?).map_err(io_err)?;
        // What the bytes are, not what a docker archive's media type says.
        let mut head = Vec::with_capacity(4);
        blob.reader()
            .and_then(|r| r.take(4).read_to_end(&mut head))
            .map_err(io_err)?;
        let compression = if head.starts_with(&[0x1f, 0x8b]) {
            LayerCompression::Gzip
        } else if head[..] == [0x28, 0xb5, 0x2f, 0xfd] {
            LayerCompression::Zstd
        } else {
            LayerCompression::None
        };
        let (Some(diff_id), Some(&(_, tar_size))) = (diff_ids.get(i), sizes.get(i)) else {
            return Err(io_err(std::io::Error::other(
                "the walk did not account for this layer",
            )));
        };
        let by = history
            .get(i)
            .filter(|h| !h.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("(source layer {})", i + 1));
        out.push((
            bulwark_layer::Layer {
                blob,
                digest: l.digest.clone(),
                diff_id: diff_id.clone(),
                tar_size,
                compression,
                entries: 0,
                tar: bulwark_layer::Content::default(),
            },
            by,
        ));
    }
    Ok(out)
}

/// The source's identity: what the provenance names as the input (the
/// index or manifest digest; a docker archive's image id, which is its
/// config's digest; for a root filesystem, nothing better than the digest
/// of its config as read).
fn source_digest(img: &Opened) -> String {
    img.top
        .as_ref()
        .map(|d| d.digest.clone())
        .or_else(|| img.manifest_digest.clone())
        .or_else(|| img.config_digest.clone())
        .unwrap_or_else(|| {
            bulwark_oci::sha256_digest(&serde_json::to_vec(&img.config).unwrap_or_default())
        })
}

fn epoch_of(req: &Request, img: &Opened) -> u64 {
    if let Some(e) = req.source_date_epoch {
        return e;
    }
    if let Some(e) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return e;
    }
    img.config["created"]
        .as_str()
        .and_then(bulwark_debian::time::parse_rfc3339)
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(0)
}

/// One hardened platform, before it is written.
struct Hardened {
    image: Image,
    report: PlatformReport,
    contents: bulwark_image::FileSystem,
    /// The result's packages, read once for its SBOMs and its grade.
    inventory: Inventory,
    /// Files with secret-looking names that packages shipped as they are.
    public: BTreeSet<String>,
    arch: String,
}

/// Hardens one platform.
fn harden_one(
    req: &Request,
    mut img: Opened,
    epoch: u64,
    created: &str,
    source_ref: &str,
) -> Result<Hardened, Error> {
    let opts = &req.options;
    let platform = img.platform().unwrap_or_else(|| "linux/unknown".into());
    tracing::info!("hardening {} ({platform})", img.origin);
    // A delta keeps the source's layers, whose tars the walk checks
    // against the config's diff_ids, as the new config repeats them.
    // A squashed gzip layer copies the source's compressed bits where it
    // can: the walk notes where they are.
    let fs = if opts.delta {
        img.walk_full_verified(&|_| true)?
    } else if req.compression == LayerCompression::Gzip {
        img.walk_full_indexed(&|_| true)?
    } else {
        img.walk_full(&|_| true)?
    };
    let source_layers = (fs.diff_ids.clone(), fs.layer_sizes.clone());
    let inv = Inventory::from_fs(&fs);
    if inv.packages.is_empty() {
        return Err(Error::NoPackages {
            origin: img.origin.clone(),
            platform,
        });
    }
    // The grade before, and dpkg's file lists and md5 sums, side by side.
    // A file whose name looks secret is public when dpkg's md5 says a
    // package shipped it as it is (a test key in a library's package);
    // anything else at that path, or not in dpkg's records, is reported.
    let (before, (lists, md5s)) = std::thread::scope(|scope| {
        let dpkg = scope.spawn(|| (plan::placed_lists(&fs), plan::dpkg_md5s(&fs)));
        let before = bulwark_eval::evaluate_with(
            &img,
            &fs,
            &inv,
            &bulwark_eval::Options {
                reference: source_ref.to_owned(),
                ..bulwark_eval::Options::default()
            },
        );
        let dpkg = dpkg.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (before, dpkg)
    });
    let public: BTreeSet<String> = before
        .findings
        .iter()
        .filter_map(|f| f.path.clone())
        .filter(|p| plan::as_shipped(&fs, &md5s, p))
        .collect();
    let secrets = secrets_in(&before, &public);
    if !secrets.is_empty() && !opts.allow_secrets {
        return Err(Error::Secrets {
            origin: img.origin.clone(),
            platform,
            list: secrets
                .iter()
                .map(|s| format!("  - {s}"))
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    let mut notes = Vec::new();
    // Before anything changes: what the source is.
    let digest = source_digest(&img);
    if let Some(ep) = &opts.entrypoint {
        let origin = img.origin.clone();
        let not_object = || Error::Config {
            origin: origin.clone(),
            detail: "it is not a JSON object".into(),
        };
        let top = img.config.as_object_mut().ok_or_else(not_object)?;
        let cfg = top.entry("config").or_insert_with(|| json!({}));
        if cfg.is_null() {
            *cfg = json!({});
        }
        let cfg = cfg.as_object_mut().ok_or_else(not_object)?;
        cfg.insert("Entrypoint".into(), json!(ep));
        cfg.insert("Cmd".into(), Value::Null);
    }
    let closure = bulwark_eval::closure(&img, &fs, &inv);
    if closure.is_none() && opts.keep.is_empty() && opts.runtime_evidence.is_empty() {
        let cfg = &img.config["config"];
        let argv = cfg["Entrypoint"]
            .as_array()
            .filter(|a| !a.is_empty())
            .or_else(|| cfg["Cmd"].as_array());
        let why = match argv.and_then(|a| a.first()).and_then(Value::as_str) {
            None => "the image names no entrypoint or command".to_owned(),
            Some(p) => format!(
                "{p:?} is not a program bulwark can follow to the packages it needs (not found, not ELF or a script, or owned by no package)"
            ),
        };
        return Err(Error::Entrypoint {
            origin: img.origin.clone(),
            platform,
            why,
        });
    }
    if let Some(c) = &closure
        && let Some(shell) = c.roots.iter().find(|r| plan::tool(r) == Some("shell"))
    {
        notes.push(format!(
            "the entrypoint runs a shell (/{shell}): it stays; give --entrypoint to run the program directly and drop it"
        ));
    }
    let plan = plan::plan(&fs, &inv, &lists, closure.as_ref(), opts);
    let config_user = img.config["config"]["User"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let packages_before = inv.packages.len();
    let versions: BTreeMap<&str, &str> = inv
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    let listed = |m: &BTreeMap<String, String>| -> Vec<RemovedPackage> {
        m.iter()
            .map(|(n, r)| RemovedPackage {
                name: n.clone(),
                version: versions.get(n.as_str()).copied().unwrap_or("").to_owned(),
                reason: r.clone(),
            })
            .collect()
    };
    let removed_packages = listed(&plan.removed);
    let kept_high_risk = listed(&plan.kept_risky);
    let (compressed_before, size_before) = fs
        .layer_sizes
        .iter()
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
    let cfg = img.config["config"].clone();
    let mut rw = rewrite::rewrite(fs, &lists, &plan, opts, &cfg, &config_user);
    notes.append(&mut rw.notes);

    // The config: the source's, running as the chosen account.
    // Docker writes absent fields as null (`"Cmd": null`); they are absent.
    let mut present = cfg.clone();
    if let Some(o) = present.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    let mut config: RuntimeConfig = serde_json::from_value(present).map_err(|e| Error::Config {
        origin: img.origin.clone(),
        detail: e.to_string(),
    })?;
    config.user = Some(format!("{}:{}", rw.uid, rw.gid));
    if let Some(ep) = &opts.entrypoint {
        config.entrypoint.clone_from(ep);
        config.cmd.clear();
    }
    // A health check whose program is gone would mark a working container
    // unhealthy: it goes, with a note.
    if let Some(hc) = &config.healthcheck {
        let exists = |prog: &str| {
            let cands: Vec<String> = if prog.starts_with('/') {
                vec![prog.trim_start_matches('/').to_owned()]
            } else {
                ["usr/local/bin", "usr/bin", "bin", "usr/sbin", "sbin"]
                    .iter()
                    .map(|d| format!("{d}/{prog}"))
                    .collect()
            };
            cands.iter().any(|c| {
                rw.tree
                    .resolve(c)
                    .is_some_and(|r| rw.tree.get(&r).is_some_and(|n| !n.is_dir()))
            })
        };
        let test: Vec<&str> = hc["Test"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let gone = match test.as_slice() {
            ["CMD-SHELL", ..] => (!exists("/bin/sh")).then_some("/bin/sh"),
            ["CMD", prog, ..] => (!exists(prog)).then_some(*prog),
            _ => None,
        };
        if let Some(prog) = gone {
            notes.push(format!(
                "the HEALTHCHECK runs {prog}, which is gone: it was dropped (probe from Kubernetes, or keep the program with --keep)"
            ));
            config.healthcheck = None;
        }
    }
    // What the image says about its base: the digest always; a name only
    // when it is one (a registry reference, or the name a docker archive
    // gives its image), never a local path: the same source gives the same
    // image wherever its file lies.
    let base_name = if req.source.is_registry() {
        Some(source_ref.to_owned())
    } else {
        img.repo_tags.first().cloned()
    };
    let mut facts = BTreeMap::from([
        (
            "org.opencontainers.image.base.digest".to_owned(),
            digest.clone(),
        ),
        (
            "org.opencontainers.image.created".to_owned(),
            created.to_owned(),
        ),
    ]);
    if let Some(n) = &base_name {
        facts.insert("org.opencontainers.image.base.name".into(), n.clone());
    }
    // The source's own base name would pair with the new base digest.
    config.labels.remove("org.opencontainers.image.base.name");
    config.labels.extend(facts.clone());
    let by = format!(
        "bulwark harden {}@{digest}",
        base_name.as_deref().unwrap_or("(local image)")
    );
    let mut layers = Vec::new();
    let upper = match rw.original.take() {
        Some(original) => {
            layers = carried_layers(&img, &source_layers.0, &source_layers.1)?;
            notes.push(
                "the source's layers are kept as they are: what was removed is hidden by whiteouts in the new top layer, not taken out of the image (anyone who pulls it can read the lower layers); leave out --delta to ship only what is kept".into(),
            );
            let rewrite = [original.links, original.capped].concat();
            delta::delta(&original.tree, &original.dropped, &rewrite, &rw.tree)
        }
        None => rw.tree.clone(),
    };
    // The blob is what is written; the tar is never held.
    let (layer, reused) = if opts.delta || rw.copies.iter().all(Option::is_none) {
        (
            bulwark_layer::encode_layer_blob(&upper, epoch, req.compression)?,
            0,
        )
    } else {
        let layers: Vec<Option<SourceLayer<'_>>> = rw
            .copies
            .iter()
            .map(|c| {
                c.as_deref().map(|c| SourceLayer {
                    file: &c.file,
                    index: &c.index,
                })
            })
            .collect();
        let entries: Vec<SourceEntry<'_>> = rw
            .sources
            .iter()
            .map(|(path, (s, node))| SourceEntry {
                path,
                layer: s.layer,
                start: s.start,
                data: s.data,
                end: s.end,
                header: s.header.as_deref(),
                node,
            })
            .collect();
        bulwark_layer::encode_layer_spliced(&upper, epoch, &layers, &entries)?
    };
    drop(upper);
    layers.push((layer, by));
    // What the SBOMs and the grade after read: the hardened tree, which is
    // what the layers merge to, described without parsing a tar again.
    let contents = view_of(
        &rw.tree,
        &bulwark_eval::capture(&img),
        layers
            .iter()
            .map(|(l, _)| (l.blob.len(), l.tar_size))
            .collect(),
    );
    let (os_arch, variant) = {
        let mut it = platform.split('/').skip(1);
        (
            it.next().unwrap_or("amd64").to_owned(),
            it.next().map(str::to_owned),
        )
    };
    let arch = bulwark_debian::debian_arch(&os_arch, variant.as_deref());
    let compressed_after = layers.iter().map(|(l, _)| l.blob.len()).sum();
    let size_after = layers.iter().map(|(l, _)| l.tar_size).sum();
    let annotations = facts;
    let image = Image::build(ImageSpec {
        platform: Platform {
            architecture: os_arch,
            os: "linux".into(),
            variant,
        },
        created: created.to_owned(),
        config,
        layers,
        annotations,
    });
    let inventory = Inventory::from_fs(&contents);
    let packages_after = inventory.packages.len();
    let report = PlatformReport {
        platform,
        source_manifest: img.manifest_digest.clone(),
        manifest_digest: image.manifest.digest.clone(),
        entrypoint: closure.map(|c| format!("/{}", c.program)),
        user: format!("{}:{}", rw.uid, rw.gid),
        user_created: rw.user_created.take(),
        packages_before,
        packages_after,
        removed_packages,
        kept_high_risk,
        removed_paths: std::mem::take(&mut rw.removed)
            .into_iter()
            .map(|(path, reason)| RemovedPath {
                path: format!("/{path}"),
                reason,
            })
            .collect(),
        setuid_stripped: rw.setuid_stripped.iter().map(|p| format!("/{p}")).collect(),
        capabilities_removed: rw
            .caps_removed
            .iter()
            .map(|(p, caps)| format!("/{p}: {caps}"))
            .collect(),
        world_writable_fixed: rw
            .world_writable_fixed
            .iter()
            .map(|p| format!("/{p}"))
            .collect(),
        shells_reset: std::mem::take(&mut rw.shells_reset),
        secrets,
        size_before,
        size_after,
        compressed_before,
        compressed_after,
        reused,
        grade_before: grade(&before),
        grade_after: None,
        notes,
    };
    Ok(Hardened {
        image,
        report,
        contents,
        inventory,
        public,
        arch,
    })
}

/// The SLSA v1 predicate of a hardening run: the source image (top-level
/// and platform manifests) is the resolved dependency; the options are the
/// external parameters.
fn provenance(
    req: &Request,
    source_digest: &str,
    platforms: &[PlatformReport],
    epoch: u64,
) -> Value {
    let o = &req.options;
    let mut deps = vec![json!({
        "uri": req.source.to_string(),
        "digest": {"sha256": source_digest.trim_start_matches("sha256:")},
    })];
    for p in platforms {
        if let Some(m) = &p.source_manifest
            && m != source_digest
        {
            deps.push(json!({
                "uri": req.source.to_string(),
                "digest": {"sha256": m.trim_start_matches("sha256:")},
                "annotations": {"platform": p.platform},
            }));
        }
    }
    let time = bulwark_debian::time::format_rfc3339(i64::try_from(epoch).unwrap_or(0));
    let params = json!({
        "source": req.source.to_string(),
        "entrypoint": o.entrypoint,
        "keep": o.keep,
        "minify": o.minify,
        "user": o.user.map(|(u, g)| format!("{u}:{g}")),
        "allow": o.allow,
        "runtimeEvidence": o.runtime_evidence.len(),
        "allowSecrets": o.allow_secrets,
        "delta": o.delta,
    });
    // The invocation is the source digest and the options, not where the
    // source file lay.
    let mut stable = params.clone();
    stable["source"] = json!(source_digest);
    let invocation =
        bulwark_oci::sha256_digest(format!("{source_digest}|{stable}|{epoch}").as_bytes());
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": params,
            "internalParameters": {"sourceDateEpoch": epoch},
            "resolvedDependencies": deps,
        },
        "runDetails": bulwark_build::provenance::run_details(
            &format!("urn:bulwark:harden:{}", invocation.trim_start_matches("sha256:")),
            &time,
        ),
    })
}

/// Hardens every platform of `req.source` and writes the result to
/// `req.output`, documented (SBOMs, provenance) and, with a key, signed.
/// Either everything is written, or (up to a registry push, which is last)
/// nothing is.
///
/// # Errors
/// The source cannot be read, holds secrets or an entrypoint that cannot be
/// analysed, or the output cannot be written.
pub fn run(req: &Request) -> Result<Report, Error> {
    let staged = Staged::new(&req.output, req.sign.is_some(), req.sbom_dir.as_deref())?;
    let sources = bulwark_image::open_all(&req.source, &req.registry)?;
    let source_ref = req.source.to_string();
    let first = sources.first();
    let source_digest = first.map(source_digest).unwrap_or_default();
    let epoch = first.map_or(0, |img| epoch_of(req, img));
    let created = bulwark_debian::time::format_rfc3339(i64::try_from(epoch).unwrap_or(0));
    let mut hardened = Vec::new();
    for img in sources {
        hardened.push(harden_one(req, img, epoch, &created, &source_ref)?);
    }
    let images: Vec<Image> = hardened.iter().map(|h| h.image.clone()).collect();
    let mut index_annotations = BTreeMap::new();
    index_annotations.insert(bulwark_oci::ANNOTATION_CREATED.to_owned(), created.clone());
    let summary = bulwark_oci::write_images(&staged.dest, &images, index_annotations)?;
    drop(images);
    let (uid, gid) = hardened
        .first()
        .and_then(|h| h.report.user.split_once(':'))
        .and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)))
        .unwrap_or((rewrite::NONROOT, rewrite::NONROOT));
    let security_context = if req.output.is_registry() {
        "(not written for registry outputs)".to_owned()
    } else {
        let path = PathBuf::from(format!(
            "{}.security-context.yaml",
            staged.dest.path().display()
        ));
        let sc = bulwark_build::security_context_yaml(&summary.digest, uid, gid, &[]);
        bulwark_oci::write_file_atomic(&path, sc.as_bytes())?;
        path.display().to_string()
    };
    let name = format!("{} (hardened)", req.output);
    let docs = Documents {
        name: document_name(&req.output),
        provenance: provenance(
            req,
            &source_digest,
            &hardened
                .iter()
                .map(|h| h.report.clone())
                .collect::<Vec<_>>(),
            epoch,
        ),
        sboms: hardened
            .iter()
            .map(|h| {
                let inv = &h.inventory;
                let info = DocumentInfo {
                    name: format!("{name} ({})", h.report.platform),
                    digest: Some(h.image.manifest.digest.clone()),
                    created: created.clone(),
                    lifecycle: "build",
                    cdx_version: "1.7",
                    supplier: None,
                    contact: None,
                    license: None,
                    copyright: None,
                    manifest_sha512: None,
                };
                PlatformSboms {
                    arch: h.arch.clone(),
                    manifest_digest: h.image.manifest.digest.clone(),
                    spdx: bulwark_sbom::spdx(inv, &info),
                    spdx3: bulwark_sbom::spdx3(inv, &info),
                    cyclonedx: bulwark_sbom::cyclonedx(inv, &info),
                }
            })
            .collect(),
    };
    let published = staged.publish(
        &docs,
        Built {
            digest: &summary.digest,
            created: &created,
        },
        req.sign.as_ref(),
        req.sbom_dir.as_deref(),
        &req.registry,
    )?;
    // The grade after: the image as written, with its signatures when signed.
    let keys: Vec<bulwark_sign::PublicKey> = req.sign.iter().map(|(k, _)| k.public_key()).collect();
    let mut platforms = Vec::new();
    for mut h in hardened {
        let after =
            bulwark_image::open_with(&staged.local, Some(&h.report.platform), &req.registry)?;
        let trust = if keys.is_empty() {
            None
        } else {
            Some(
                bulwark_eval::Trust::gather(after.store()?, &after.subjects(), &keys)
                    .map_err(|e| Error::Trust(bulwark_build::trust::TrustError::Attest(e)))?,
            )
        };
        let report = bulwark_eval::evaluate_with(
            &after,
            &h.contents,
            &h.inventory,
            &bulwark_eval::Options {
                reference: req.output.to_string(),
                trust,
                ..bulwark_eval::Options::default()
            },
        );
        h.report.grade_after = Some(grade(&report));
        // What was shipped, not what the source had (leftovers may have
        // gone); with --delta the source's layers ship as they are, so
        // everything the source had is still in the image.
        if !req.options.delta {
            h.report.secrets = secrets_in(&report, &h.public);
        }
        platforms.push(h.report);
    }
    Ok(Report {
        source: source_ref,
        source_digest,
        destination: published
            .destination
            .unwrap_or_else(|| req.output.to_string()),
        digest: summary.digest,
        created,
        security_context,
        sboms: published.sboms,
        platforms,
    })
}

/// A file-name-safe name for the documents (`NAME.provenance.json`): the
/// output's file or repository name.
fn document_name(output: &ImageRef) -> String {
    let base = match output.path() {
        Some(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        None => {
            let s = output.to_string();
            let repo = s.split('@').next().unwrap_or_default();
            let last = repo.rsplit('/').next().unwrap_or_default();
            last.split(':').next().unwrap_or_default().to_owned()
        }
    };
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.');
    if clean.is_empty() {
        "image".into()
    } else {
        clean.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_names() {
        let r: ImageRef = "oci:/tmp/out/app:1".parse().unwrap();
        assert_eq!(document_name(&r), "app");
        let r: ImageRef = "127.0.0.1:5000/team/app:1".parse().unwrap();
        assert_eq!(document_name(&r), "app");
    }
}
