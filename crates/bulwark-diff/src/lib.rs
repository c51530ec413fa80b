//! What changed between two images: packages added, removed and changed
//! (by dpkg version order), files added, removed and changed (by content
//! digest, mode and owner) with the notable ones named (new setuid/setgid
//! files, new executables), the runtime config (user, entrypoint, command,
//! environment, ports, working directory), and — with a vulnerability
//! database — the CVEs the change fixes and introduces. Works on any two
//! images bulwark reads.
//!
//! ```no_run
//! let a = bulwark_diff::Side::read("oci:out:1", None, &Default::default())?;
//! let b = bulwark_diff::Side::read("oci:out:2", None, &Default::default())?;
//! let d = bulwark_diff::diff(&a, &b, None);
//! println!("{} packages changed", d.packages.changed.len());
//! # Ok::<(), bulwark_image::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use bulwark_image::{FileKind, FileSystem, Opened};
use serde::Serialize;

/// One image, read for comparing.
#[derive(Debug)]
pub struct Side {
    /// As given.
    pub name: String,
    img: Opened,
    fs: FileSystem,
    inv: bulwark_sbom::Inventory,
}

impl Side {
    /// Opens `reference` (one platform) and walks it, hashing every file.
    ///
    /// # Errors
    /// The image cannot be read.
    pub fn read(
        reference: &str,
        platform: Option<&str>,
        registry: &bulwark_image::Options,
    ) -> Result<Self, bulwark_image::Error> {
        let r: bulwark_image::ImageRef = reference.parse()?;
        let img = bulwark_image::open_with(&r, platform, registry)?;
        let wants = bulwark_eval::capture(&img);
        let fs = img.walk_hashing(&|p: &str| wants(p) || p == "etc/debian_version")?;
        let inv = bulwark_sbom::Inventory::from_fs(&fs);
        Ok(Self {
            name: reference.to_owned(),
            img,
            fs,
            inv,
        })
    }

    /// The scan subject of this side (for the vulnerability comparison).
    ///
    /// # Errors
    /// As [`bulwark_scan::of_image`].
    pub fn subject(&self) -> Result<bulwark_scan::Subject, bulwark_scan::Error> {
        bulwark_scan::of_image(&self.name, &self.img, &self.fs, None)
    }
}

/// A package and its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Binary package.
    pub name: String,
    /// Version.
    pub version: String,
}

/// A package whose version changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// Binary package.
    pub name: String,
    /// Version in the first image.
    pub from: String,
    /// Version in the second.
    pub to: String,
    /// Whether the second is newer (dpkg order).
    pub upgrade: bool,
}

/// Package changes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Packages {
    /// Only in the second image.
    pub added: Vec<Package>,
    /// Only in the first.
    pub removed: Vec<Package>,
    /// In both, another version.
    pub changed: Vec<Changed>,
}

/// A file change worth naming.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notable {
    /// Path in the image.
    pub path: String,
    /// What happened (`new setuid file`, `new executable`, …).
    pub what: String,
}

/// File changes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Files {
    /// Paths only in the second image.
    pub added: usize,
    /// Paths only in the first.
    pub removed: usize,
    /// Paths in both whose content, kind, mode, owner or link target changed.
    pub changed: usize,
    /// The ones to look at (at most 100; `notable_total` counts them all).
    pub notable: Vec<Notable>,
    /// How many notable changes in all.
    pub notable_total: usize,
}

/// A runtime config field that changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfigChange {
    /// `User`, `Entrypoint`, `Cmd`, `Env`, `ExposedPorts`, `WorkingDir`, `Labels`.
    pub field: String,
    /// Its value in the first image.
    pub from: serde_json::Value,
    /// In the second.
    pub to: serde_json::Value,
}

/// Vulnerabilities the change fixes and introduces (`CVE (source)`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Vulnerabilities {
    /// In the first image, not in the second.
    pub fixed: Vec<String>,
    /// In the second, not in the first.
    pub introduced: Vec<String>,
    /// In both.
    pub remaining: usize,
}

/// The comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    /// The first image and its manifest digest.
    pub from: (String, Option<String>),
    /// The second.
    pub to: (String, Option<String>),
    /// Packages.
    pub packages: Packages,
    /// Files.
    pub files: Files,
    /// Runtime config.
    pub config: Vec<ConfigChange>,
    /// With a database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<Vulnerabilities>,
}

fn newer(a: &str, b: &str) -> bool {
    bulwark_debian::compare_versions(a, b).is_ok_and(|o| o == std::cmp::Ordering::Greater)
}

fn packages(a: &Side, b: &Side) -> Packages {
    let map = |s: &Side| -> BTreeMap<String, String> {
        s.inv
            .packages
            .iter()
            .map(|p| (format!("{}:{}", p.name, p.arch), p.version.clone()))
            .collect()
    };
    let (ma, mb) = (map(a), map(b));
    let name = |k: &str| k.rsplit_once(':').map_or(k, |(n, _)| n).to_owned();
    let mut out = Packages::default();
    for (k, v) in &mb {
        match ma.get(k) {
            None => out.added.push(Package {
                name: name(k),
                version: v.clone(),
            }),
            Some(old) if old != v => out.changed.push(Changed {
                name: name(k),
                from: old.clone(),
                to: v.clone(),
                upgrade: newer(v, old),
            }),
            Some(_) => {}
        }
    }
    for (k, v) in &ma {
        if !mb.contains_key(k) {
            out.removed.push(Package {
                name: name(k),
                version: v.clone(),
            });
        }
    }
    out
}

const NOTABLE_LIMIT: usize = 100;

fn files(a: &Side, b: &Side) -> Files {
    let mut out = Files::default();
    let mut notable = Vec::new();
    let special = |m: u32| m & 0o6000;
    let exec = |k: &FileKind, m: u32| *k == FileKind::File && m & 0o111 != 0;
    for (path, fb) in &b.fs.files {
        match a.fs.files.get(path) {
            None => {
                out.added += 1;
                if fb.kind == FileKind::File && special(fb.mode) != 0 {
                    notable.push((path, format!("new setuid/setgid file (mode {:o})", fb.mode)));
                } else if let Some(c) = &fb.caps {
                    notable.push((path, format!("new file with capabilities ({c})")));
                } else if exec(&fb.kind, fb.mode) {
                    notable.push((path, "new executable".to_owned()));
                }
            }
            Some(fa) => {
                let content = a.fs.digests.get(path) != b.fs.digests.get(path)
                    || (fa.kind == FileKind::File && fa.size != fb.size);
                if content
                    || fa.kind != fb.kind
                    || fa.mode != fb.mode
                    || (fa.uid, fa.gid) != (fb.uid, fb.gid)
                    || fa.link != fb.link
                    || fa.caps != fb.caps
                {
                    out.changed += 1;
                    if special(fb.mode) & !special(fa.mode) != 0 {
                        notable.push((
                            path,
                            format!("gained setuid/setgid (mode {:o} -> {:o})", fa.mode, fb.mode),
                        ));
                    } else if let Some(c) = fb.caps.as_ref().filter(|c| fa.caps.as_ref() != Some(c))
                    {
                        notable.push((path, format!("gained file capabilities ({c})")));
                    } else if exec(&fb.kind, fb.mode) && !exec(&fa.kind, fa.mode) {
                        notable.push((path, "became executable".to_owned()));
                    } else if (fa.uid, fa.gid) != (fb.uid, fb.gid) {
                        notable.push((
                            path,
                            format!("owner {}:{} -> {}:{}", fa.uid, fa.gid, fb.uid, fb.gid),
                        ));
                    }
                }
            }
        }
    }
    out.removed =
        a.fs.files
            .keys()
            .filter(|p| !b.fs.files.contains_key(*p))
            .count();
    out.notable_total = notable.len();
    out.notable = notable
        .into_iter()
        .take(NOTABLE_LIMIT)
        .map(|(p, what)| Notable {
            path: format!("/{p}"),
            what,
        })
        .collect();
    out
}

fn config(a: &Side, b: &Side) -> Vec<ConfigChange> {
    [
        "User",
        "Entrypoint",
        "Cmd",
        "Env",
        "ExposedPorts",
        "WorkingDir",
        "Labels",
        "StopSignal",
    ]
    .iter()
    .filter_map(|k| {
        let (va, vb) = (&a.img.config["config"][k], &b.img.config["config"][k]);
        (va != vb).then(|| ConfigChange {
            field: (*k).to_owned(),
            from: va.clone(),
            to: vb.clone(),
        })
    })
    .collect()
}

/// Compares two images; with `scans` (of `a` and `b`, from the same
/// database), the vulnerabilities fixed and introduced.
#[must_use]
pub fn diff(
    a: &Side,
    b: &Side,
    scans: Option<(&bulwark_scan::Report, &bulwark_scan::Report)>,
) -> Diff {
    let vulnerabilities = scans.map(|(ra, rb)| {
        let ids = |r: &bulwark_scan::Report| -> BTreeSet<String> {
            r.findings
                .iter()
                .map(|f| format!("{} ({})", f.id, f.source))
                .collect()
        };
        let (ia, ib) = (ids(ra), ids(rb));
        Vulnerabilities {
            fixed: ia.difference(&ib).cloned().collect(),
            introduced: ib.difference(&ia).cloned().collect(),
            remaining: ia.intersection(&ib).count(),
        }
    });
    Diff {
        from: (a.name.clone(), a.img.manifest_digest.clone()),
        to: (b.name.clone(), b.img.manifest_digest.clone()),
        packages: packages(a, b),
        files: files(a, b),
        config: config(a, b),
        vulnerabilities,
    }
}

/// The comparison as Markdown (for a pull request or a change ticket).
#[must_use]
pub fn markdown(d: &Diff) -> String {
    let mut s = format!("## Image changes: `{}` → `{}`\n\n", d.from.0, d.to.0);
    if let (Some(a), Some(b)) = (&d.from.1, &d.to.1) {
        s.push_str(&format!("Digests: `{a}` → `{b}`\n\n"));
    }
    let p = &d.packages;
    s.push_str(&format!(
        "### Packages: {} changed, {} added, {} removed\n\n",
        p.changed.len(),
        p.added.len(),
        p.removed.len()
    ));
    if !p.changed.is_empty() || !p.added.is_empty() || !p.removed.is_empty() {
        s.push_str("| package | from | to |\n|---|---|---|\n");
        for c in &p.changed {
            s.push_str(&format!("| {} | {} | {} |\n", c.name, c.from, c.to));
        }
        for a in &p.added {
            s.push_str(&format!("| {} | (none) | {} |\n", a.name, a.version));
        }
        for r in &p.removed {
            s.push_str(&format!("| {} | {} | (removed) |\n", r.name, r.version));
        }
        s.push('\n');
    }
    if let Some(v) = &d.vulnerabilities {
        s.push_str(&format!(
            "### Vulnerabilities: {} fixed, {} introduced, {} remaining\n\n",
            v.fixed.len(),
            v.introduced.len(),
            v.remaining
        ));
        for f in &v.fixed {
            s.push_str(&format!("- fixed: {f}\n"));
        }
        for i in &v.introduced {
            s.push_str(&format!("- introduced: {i}\n"));
        }
        s.push('\n');
    }
    let f = &d.files;
    s.push_str(&format!(
        "### Files: {} changed, {} added, {} removed\n\n",
        f.changed, f.added, f.removed
    ));
    for n in &f.notable {
        s.push_str(&format!("- `{}`: {}\n", n.path, n.what));
    }
    if f.notable_total > f.notable.len() {
        s.push_str(&format!(
            "- … and {} more\n",
            f.notable_total - f.notable.len()
        ));
    }
    if !d.config.is_empty() {
        s.push_str("\n### Config\n\n");
        for c in &d.config {
            s.push_str(&format!("- {}: `{}` → `{}`\n", c.field, c.from, c.to));
        }
    }
    s
}
