//! The checks, one file per pillar. Each check is declared once, as a
//! [`Check`] constant beside the code that emits its findings; [`catalog`]
//! gathers every declaration (SARIF rules and docs/eval.md come from it).

use bulwark_image::{FileKind, FileSystem, Opened};
use bulwark_sbom::Inventory;

use crate::finding::{Check, Finding};
use crate::score::{Report, Summary, score};
use crate::trust::Trust;

mod cadence;
mod exposure;
mod identity;
pub(crate) mod provenance;
mod secrets;
mod surface;
mod tools;
mod vulnerabilities;

pub use cadence::Cadence;
pub use tools::{BIN_DIRS, tool_category};
pub use vulnerabilities::Vulnerabilities;

/// Evaluation options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The reference as the user wrote it (for `:latest` checks).
    pub reference: String,
    /// Seconds since the epoch "now" (for image age); default: the clock.
    pub now: Option<i64>,
    /// Signatures and attestations found (see [`Trust::gather`]); `None`
    /// skips the signature checks PR-004 to PR-007.
    pub trust: Option<Trust>,
    /// What `bulwark scan` found; `None` leaves the exploitability pillar out.
    pub vulnerabilities: Option<Vulnerabilities>,
    /// What the archive carries that the image lacks (`eval --archive`);
    /// `None` leaves the patch-cadence pillar out.
    pub cadence: Option<Cadence>,
}

/// Every check bulwark runs, in id order.
#[must_use]
pub fn catalog() -> Vec<&'static Check> {
    let mut all: Vec<&'static Check> = [
        surface::CHECKS,
        tools::CHECKS,
        identity::CHECKS,
        secrets::CHECKS,
        exposure::CHECKS,
        provenance::CHECKS,
        vulnerabilities::CHECKS,
        cadence::CHECKS,
    ]
    .into_iter()
    .flatten()
    .collect();
    all.sort_by_key(|c| c.id);
    all
}

/// The check with id `id`.
#[must_use]
pub fn check(id: &str) -> Option<&'static Check> {
    catalog().into_iter().find(|c| c.id == id)
}

/// Paths whose contents the checks read for `img` (pass to
/// [`Opened::walk`]): [`wanted`] plus the entrypoint and the dpkg file lists
/// that AS-005 needs.
pub fn capture(img: &Opened) -> impl Fn(&str) -> bool + use<> {
    let needed = crate::needed::wanted(img);
    move |p: &str| wanted(p) || needed(p)
}

/// Paths whose contents the image-independent checks read.
pub fn wanted(path: &str) -> bool {
    bulwark_sbom::wanted(path)
        || matches!(path, "etc/passwd" | "etc/group" | "etc/shadow")
        || secrets::secret_name(path).is_some()
}

/// What every check reads, and where findings go.
pub(crate) struct Ctx<'a> {
    pub img: &'a Opened,
    pub fs: &'a FileSystem,
    pub inv: &'a Inventory,
    /// The image config's `config` object.
    pub cfg: &'a serde_json::Value,
    pub opts: &'a Options,
    /// Seconds since the epoch.
    pub now: i64,
    /// Compressed and uncompressed bytes of all layers.
    pub sizes: (u64, u64),
    /// The config's build history.
    pub history: &'a [serde_json::Value],
    /// Each history step split into its commands (see [`commands`]).
    pub steps: Vec<Vec<Vec<&'a str>>>,
    out: Vec<Finding>,
}

impl Ctx<'_> {
    /// A finding of `check` at its declared severity.
    pub fn add(&mut self, check: &Check, message: String, path: Option<String>) {
        self.out.push(Finding::of(check, message, path));
    }

    /// A finding of `check` at another severity than its declared one.
    pub fn add_at(
        &mut self,
        check: &Check,
        severity: crate::Severity,
        message: String,
        path: Option<String>,
    ) {
        self.out.push(Finding::at(check, severity, message, path));
    }

    /// A captured file as text.
    pub fn text(&self, p: &str) -> Option<String> {
        self.fs
            .contents
            .get(p)
            .map(|d| String::from_utf8_lossy(d).into_owned())
    }
}

/// Runs every check.
pub fn evaluate(img: &Opened, fs: &FileSystem, opts: &Options) -> Report {
    evaluate_with(img, fs, &Inventory::from_fs(fs), opts)
}

/// Runs every check with the image's inventory already read (a caller that
/// also scans the image reads it once for both).
pub fn evaluate_with(img: &Opened, fs: &FileSystem, inv: &Inventory, opts: &Options) -> Report {
    let now = opts.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    let sizes = fs
        .layer_sizes
        .iter()
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
    let history = img.config["history"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default();
    let mut cx = Ctx {
        img,
        fs,
        inv,
        cfg: &img.config["config"],
        opts,
        now,
        sizes,
        history,
        steps: history
            .iter()
            .map(|h| commands(h["created_by"].as_str().unwrap_or("")))
            .collect(),
        out: Vec::new(),
    };
    surface::run(&mut cx);
    tools::run(&mut cx);
    let user = identity::run(&mut cx);
    secrets::run(&mut cx);
    exposure::run(&mut cx);
    provenance::run(&mut cx);
    vulnerabilities::run(&mut cx);
    cadence::run(&mut cx);

    let mut findings = cx.out;
    if let Some(t) = &opts.trust {
        findings.extend(t.findings());
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(b.id))
            .then_with(|| a.path.cmp(&b.path))
    });
    let (pillars, overall, grade) = score(
        &findings,
        opts.vulnerabilities.is_some(),
        opts.cadence.is_some(),
    );
    let files = fs
        .files
        .values()
        .filter(|f| f.kind != FileKind::Dir)
        .count();
    Report {
        image: opts.reference.clone(),
        digest: img.manifest_digest.clone(),
        grade,
        score: overall,
        pillars,
        findings,
        policy: None,
        platform: img.platform(),
        trust: opts.trust.clone(),
        vulnerabilities: opts.vulnerabilities.clone(),
        cadence: opts.cadence.clone(),
        summary: Summary {
            layers: img.layers.len(),
            compressed_size: sizes.0,
            uncompressed_size: sizes.1,
            files,
            packages: inv.packages.len(),
            os: inv
                .os
                .as_ref()
                .map(|o| format!("{} {}", o.id, o.version_id.clone().unwrap_or_default())),
            user: Some(user),
            created: img.config["created"].as_str().map(str::to_owned),
            layer_sizes: fs.layer_sizes.clone(),
        },
    }
}

/// The commands of a build step (`RUN /bin/sh -c a && b | c; d`), each as
/// its argv with leading `VAR=value` assignments dropped and the program as
/// a base name (`/usr/bin/curl` → `curl`).
fn commands(step: &str) -> Vec<Vec<&str>> {
    let body = step.split_once(" -c ").map_or(step, |(_, b)| b);
    body.split(['&', ';', '|', '\n', '(', ')', '`'])
        .map(|c| {
            let mut argv: Vec<&str> = c
                .split_whitespace()
                .map(|w| w.trim_matches(['"', '\'']))
                .skip_while(|w| w.contains('=') && !w.starts_with('-'))
                .collect();
            if let Some(p) = argv.first_mut() {
                *p = p.rsplit('/').next().unwrap_or(p);
            }
            argv
        })
        .filter(|a| !a.is_empty())
        .collect()
}

/// True when a command of `cmds` runs one of `tools` (after any `sudo`)
/// with a first non-option argument among `verbs` (any argument when
/// `verbs` is empty).
pub(crate) fn runs(cmds: &[Vec<&str>], tools: &[&str], verbs: &[&str]) -> bool {
    cmds.iter().any(|argv| {
        let mut w = argv.iter().skip_while(|a| **a == "sudo");
        let tool = w.next().copied().unwrap_or("");
        tools.contains(&tool)
            && (verbs.is_empty()
                || w.find(|a| !a.starts_with('-'))
                    .is_some_and(|a| verbs.contains(a)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every check is documented in docs/eval.md with its pillar and
    /// severity, and ids are unique.
    #[test]
    fn every_check_is_in_docs_eval_md() {
        let docs = include_str!("../../../../docs/eval.md");
        let all = catalog();
        assert!(all.len() > 30);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id), "duplicate ids");
        for c in all {
            let row = format!("| {} | {} | {}", c.id, c.pillar.name(), c.severity.name());
            assert!(
                docs.contains(&row),
                "docs/eval.md lacks a row starting {row:?}"
            );
            assert!(!c.fix.is_empty() && !c.title.is_empty() && !c.name.is_empty());
        }
    }
}
