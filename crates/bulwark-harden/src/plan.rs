//! Which packages go, and why: decided from the image's own evidence (the
//! dpkg database and file lists, the entrypoint's closure, apt's record of
//! what was installed automatically), before any file is touched.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_eval::Closure;
use bulwark_image::FileSystem;
use bulwark_sbom::Inventory;

use crate::Options;

pub(crate) use bulwark_eval::BIN_DIRS;

/// Data-only packages a minified image keeps: what workloads read without
/// naming it (os-release, which scanners need too; the CA bundle; service
/// names; time zones).
const SYSTEM_DATA: &[&str] = &["base-files", "ca-certificates", "netbase", "tzdata"];

/// What a program path is, when it is a shell, package manager, network
/// tool, compiler, debugger or privilege tool (eval's ST checks and the
/// build's high-risk names, so what harden leaves eval does not flag).
pub(crate) fn tool(path: &str) -> Option<&'static str> {
    let (dir, base) = path.rsplit_once('/')?;
    if !BIN_DIRS.contains(&dir) {
        return None;
    }
    bulwark_eval::tool_category(base).or_else(|| bulwark_build::high_risk_path(path))
}

/// The dpkg file lists of `fs` (package → paths), each path placed in the
/// image once: dpkg lists `/bin/bash`, a merged-/usr image stores
/// `usr/bin/bash`. Everything after works on these placed paths.
pub(crate) fn placed_lists(fs: &FileSystem) -> BTreeMap<String, Vec<String>> {
    let mut lists = bulwark_eval::package_files(fs);
    for paths in lists.values_mut() {
        for p in paths.iter_mut() {
            *p = in_image(fs, p);
        }
    }
    lists
}

/// What dpkg recorded of each packaged file's contents, placed in the image
/// like [`placed_lists`]: the md5 of `info/*.md5sums` and `status.d/*.md5sums`
/// ("md5  path" lines) and of the status file's `Conffiles` (" /path md5").
pub(crate) fn dpkg_md5s(fs: &FileSystem) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |path: &str, md5: &str| {
        let path = path.trim_start_matches('/');
        if md5.len() == 32 && !path.is_empty() {
            out.insert(in_image(fs, path), md5.to_ascii_lowercase());
        }
    };
    for (path, data) in &fs.contents {
        let dpkg =
            path.starts_with("var/lib/dpkg/info/") || path.starts_with("var/lib/dpkg/status.d/");
        if dpkg && path.ends_with(".md5sums") {
            for line in String::from_utf8_lossy(data).lines() {
                if let Some((md5, p)) = line.split_once(char::is_whitespace) {
                    put(p.trim(), md5);
                }
            }
        }
    }
    if let Some(status) = fs.contents.get("var/lib/dpkg/status") {
        let mut conffiles = false;
        for line in String::from_utf8_lossy(status).lines() {
            if let Some(rest) = line.strip_prefix(' ') {
                if conffiles {
                    let mut it = rest.split_whitespace();
                    if let (Some(p), Some(md5)) = (it.next(), it.next()) {
                        put(p, md5);
                    }
                }
            } else {
                conffiles = line
                    .split_once(':')
                    .is_some_and(|(k, _)| k.eq_ignore_ascii_case("conffiles"));
            }
        }
    }
    out
}

/// Whether `path` holds what its package shipped (dpkg's md5 of it
/// matches): public, whatever its name says.
pub(crate) fn as_shipped(fs: &FileSystem, md5s: &BTreeMap<String, String>, path: &str) -> bool {
    use md5::Digest as _;
    match (md5s.get(path), fs.contents.get(path)) {
        (Some(want), Some(data)) => hex::encode(md5::Md5::digest(data)) == *want,
        _ => false,
    }
}

/// `path` with the symlinks of its parent directories followed.
fn in_image(fs: &FileSystem, path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, base)) => match fs.resolve(dir) {
            Some(d) if d.is_empty() => base.to_owned(),
            Some(d) => format!("{d}/{base}"),
            None => path.to_owned(),
        },
        None => path.to_owned(),
    }
}

/// Whether `path` is one the user asked to keep: a `--keep` glob, or a
/// directory given to `--keep` (everything below it).
pub(crate) fn kept(keep: &[String], path: &str) -> bool {
    keep.iter().any(|k| {
        let k = k.trim_matches('/');
        k.is_empty()
            || bulwark_spec::glob_match(k, path)
            || path
                .strip_prefix(k)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The decision.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Package → why it goes.
    pub removed: BTreeMap<String, String>,
    /// Packages kept although high-risk, with why.
    pub kept_risky: BTreeMap<String, String>,
    /// Packages a minified image keeps.
    pub needed: BTreeSet<String>,
    /// Paths the entrypoint loads (never removed).
    pub roots: BTreeSet<String>,
    /// Packages kept whatever they are (the entrypoint's, named by
    /// `--keep`, `--allow` or runtime evidence): their files stay too.
    pub protected: BTreeSet<String>,
}

/// Packages others depend on only for their maintainer scripts (which
/// never run in a container): removing one leaves nothing broken.
const MAINTAINER_ONLY: &[&str] = &[
    "dpkg",
    "install-info",
    "debconf",
    "debconf-2.0",
    "cdebconf",
    "adduser",
    "passwd",
    "login",
    "init-system-helpers",
    "usrmerge",
    "usr-is-merged",
    "lsb-base",
    "sysvinit-utils",
    "ucf",
    "sensible-utils",
    "perl-base",
];

/// Each installed package's `Pre-Depends` and `Depends` as groups of
/// alternatives (any one satisfies the group), and who provides which
/// virtual name; from the dpkg database as walked.
#[derive(Debug, Default)]
struct Relations {
    groups: BTreeMap<String, Vec<Vec<String>>>,
    /// `Recommends`, which apt keeps installed too (not required).
    recommends: BTreeMap<String, Vec<Vec<String>>>,
    providers: BTreeMap<String, Vec<String>>,
}

fn alternatives(raw: &str) -> Vec<Vec<String>> {
    bulwark_debian::relation::parse_relations(raw)
        .map(|deps| {
            deps.iter()
                .map(|d| d.alternatives.iter().map(|a| a.name.clone()).collect())
                .collect()
        })
        .unwrap_or_default()
}

impl Relations {
    fn read(fs: &FileSystem) -> Relations {
        let mut r = Relations::default();
        let texts = fs
            .contents
            .iter()
            .filter(|(p, _)| {
                p.as_str() == "var/lib/dpkg/status"
                    || (p.starts_with("var/lib/dpkg/status.d/") && !p.ends_with(".md5sums"))
            })
            .map(|(_, d)| String::from_utf8_lossy(d).into_owned());
        for text in texts {
            let Ok(paras) = bulwark_debian::parse_paragraphs(&text) else {
                continue;
            };
            for p in paras {
                let Some(name) = p.get("Package") else {
                    continue;
                };
                if p.get("Status").is_some_and(|s| !s.ends_with(" installed")) {
                    continue;
                }
                let raw = [p.get("Pre-Depends"), p.get("Depends")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                r.groups.insert(name.to_owned(), alternatives(&raw));
                r.recommends.insert(
                    name.to_owned(),
                    alternatives(p.get("Recommends").unwrap_or("")),
                );
                if let Some(prov) = p.get("Provides")
                    && let Ok(list) = bulwark_debian::relation::parse_relations(prov)
                {
                    for v in list.iter().flat_map(|d| d.alternatives.iter()) {
                        r.providers
                            .entry(v.name.clone())
                            .or_default()
                            .push(name.to_owned());
                    }
                }
            }
        }
        r
    }

    /// The installed packages `pkg`'s dependencies and recommendations
    /// name, directly or through what they provide: what keeps them
    /// installed as long as `pkg` is.
    fn targets(&self, pkg: &str) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        let groups = self.groups.get(pkg).into_iter().flatten();
        let recs = self.recommends.get(pkg).into_iter().flatten();
        for name in groups.chain(recs).flatten() {
            if self.groups.contains_key(name) {
                out.insert(name.as_str());
            }
            for p in self.providers.get(name).into_iter().flatten() {
                out.insert(p.as_str());
            }
        }
        out
    }

    /// The first dependency group of `pkg` that nothing left satisfies,
    /// leaving out groups only maintainer scripts need.
    fn broken(&self, pkg: &str, gone: &BTreeMap<String, String>) -> Option<String> {
        let present = |n: &str| {
            (self.groups.contains_key(n) && !gone.contains_key(n))
                || self
                    .providers
                    .get(n)
                    .is_some_and(|ps| ps.iter().any(|p| !gone.contains_key(p)))
        };
        self.groups.get(pkg)?.iter().find_map(|alts| {
            let installed: Vec<&String> = alts
                .iter()
                .filter(|a| self.groups.contains_key(*a) || self.providers.contains_key(*a))
                .collect();
            let maintainer = alts.iter().all(|a| MAINTAINER_ONLY.contains(&a.as_str()));
            (!maintainer && !installed.is_empty() && !alts.iter().any(|a| present(a)))
                .then(|| installed[0].clone())
        })
    }
}

/// apt's `extended_states`: packages installed only as dependencies.
fn auto_installed(fs: &FileSystem) -> BTreeSet<String> {
    let Some(data) = fs.contents.get("var/lib/apt/extended_states") else {
        return BTreeSet::new();
    };
    let Ok(paras) = bulwark_debian::parse_paragraphs(&String::from_utf8_lossy(data)) else {
        return BTreeSet::new();
    };
    paras
        .iter()
        .filter(|p| p.get("Auto-Installed").is_some_and(|v| v.trim() == "1"))
        .filter_map(|p| p.get("Package").map(|n| n.trim().to_owned()))
        .collect()
}

/// The packages owning the programs the entrypoint starts (roots in `bin`
/// directories, not the libraries they load).
fn program_owners(
    fs: &FileSystem,
    lists: &BTreeMap<String, Vec<String>>,
    roots: &BTreeSet<String>,
) -> BTreeSet<String> {
    let programs: BTreeSet<&String> = roots
        .iter()
        .filter(|r| {
            r.rsplit_once('/')
                .is_some_and(|(d, _)| BIN_DIRS.contains(&d))
        })
        .collect();
    lists
        .iter()
        .filter(|(_, paths)| {
            paths.iter().any(|p| {
                programs.contains(p) || fs.resolve(p).is_some_and(|r| programs.contains(&r))
            })
        })
        .map(|(pkg, _)| pkg.clone())
        .collect()
}

/// Decides which installed packages go.
pub(crate) fn plan(
    fs: &FileSystem,
    inv: &Inventory,
    lists: &BTreeMap<String, Vec<String>>,
    closure: Option<&Closure>,
    opts: &Options,
) -> Plan {
    let mut p = Plan::default();
    let roots: BTreeSet<String> = closure
        .map(|c| c.roots.iter().cloned().collect())
        .unwrap_or_default();
    let evidence: BTreeSet<String> = opts
        .runtime_evidence
        .iter()
        .map(|e| fs.resolve(e).unwrap_or_else(|| e.clone()))
        .collect();
    let allow: BTreeSet<&str> = opts.allow.iter().map(String::as_str).collect();
    // Why a package may not go, whatever it is.
    let mut protected: BTreeMap<&str, String> = BTreeMap::new();
    for (pkg, paths) in lists {
        for path in paths {
            let real = fs.resolve(path).unwrap_or_else(|| path.clone());
            let why = if roots.contains(&real) || roots.contains(path) {
                format!("the entrypoint loads /{real}")
            } else if evidence.contains(&real) || evidence.contains(path) {
                format!("the running workload used /{real} (--runtime-evidence)")
            } else if kept(&opts.keep, path) {
                format!("/{path} is kept (--keep)")
            } else if path
                .rsplit_once('/')
                .is_some_and(|(_, b)| allow.contains(b) && tool(path).is_some())
            {
                format!("/{path} is allowed (--allow)")
            } else {
                continue;
            };
            protected.entry(pkg.as_str()).or_insert(why);
            break;
        }
    }
    for name in &allow {
        if lists.contains_key(*name) || inv.packages.iter().any(|x| x.name == *name) {
            protected
                .entry(*name)
                .or_insert_with(|| "allowed (--allow)".into());
        }
    }
    let by_name: BTreeMap<&str, &bulwark_sbom::Package> =
        inv.packages.iter().map(|x| (x.name.as_str(), x)).collect();
    // What the entrypoint needs: its closure, and the packages built from
    // the same source as the program's own that complete it (python3.11
    // for python3.11-minimal, whose standard library the ELF analysis
    // cannot see), with their dependencies.
    let mut closure_needed: BTreeSet<&str> = closure
        .map(|c| c.needed.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let source_of = |p: &bulwark_sbom::Package| p.source.clone().unwrap_or_else(|| p.name.clone());
    let mut siblings: Vec<&str> = Vec::new();
    for owner in program_owners(fs, lists, &roots) {
        let Some(o) = by_name.get(owner.as_str()) else {
            continue;
        };
        let src = source_of(o);
        siblings.extend(
            inv.packages
                .iter()
                .filter(|p| source_of(p) == src && p.depends.iter().any(|d| d == &o.name))
                .map(|p| p.name.as_str()),
        );
    }
    let mut todo = siblings;
    while let Some(n) = todo.pop() {
        if closure_needed.insert(n)
            && let Some(pkg) = by_name.get(n)
        {
            todo.extend(pkg.depends.iter().map(String::as_str));
        }
    }
    // A minified image keeps the entrypoint's closure, what is protected,
    // the system data, and everything they depend on.
    let mut needed: BTreeSet<&str> = BTreeSet::new();
    let mut todo: Vec<&str> = closure_needed
        .iter()
        .copied()
        .chain(protected.keys().copied())
        .chain(
            SYSTEM_DATA
                .iter()
                .copied()
                .filter(|n| by_name.contains_key(n)),
        )
        .collect();
    while let Some(n) = todo.pop() {
        if needed.insert(n)
            && let Some(pkg) = by_name.get(n)
        {
            todo.extend(pkg.depends.iter().map(String::as_str));
        }
    }
    for pkg in &inv.packages {
        let name = pkg.name.as_str();
        let risky = bulwark_build::high_risk_package(name)
            .map(|c| format!("high-risk package ({c})"))
            .or_else(|| {
                lists.get(name).and_then(|l| {
                    l.iter()
                        .find_map(|path| tool(path).map(|c| format!("ships /{path} ({c})")))
                })
            });
        if let Some(why) = protected.get(name) {
            if let Some(r) = risky {
                p.kept_risky
                    .insert(name.to_owned(), format!("{r}, kept: {why}"));
            }
            continue;
        }
        if let Some(r) = risky {
            p.removed.insert(name.to_owned(), r);
        } else if opts.minify && !needed.contains(name) {
            p.removed.insert(
                name.to_owned(),
                "the entrypoint does not need it (--minify)".into(),
            );
        }
    }
    // Packages left broken (a dependency removed) go too, and so do those
    // apt installed only as dependencies once nothing kept depends on or
    // recommends them (`apt autoremove`): one worklist, each removal
    // looking only at the packages that name the one removed.
    let auto = auto_installed(fs);
    let relations = Relations::read(fs);
    let eligible = |name: &str| {
        !protected.contains_key(name) && !closure_needed.contains(name) && !needed.contains(name)
    };
    let mut named_by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut mentions: BTreeMap<&str, usize> = BTreeMap::new();
    for pkg in &inv.packages {
        for t in relations.targets(&pkg.name) {
            named_by.entry(t).or_default().push(pkg.name.as_str());
            // Every package counts here; each removed one is taken off
            // once, when the worklist reaches it.
            *mentions.entry(t).or_default() += 1;
        }
    }
    let unneeded = "installed automatically as a dependency; nothing left needs it";
    let mut queue: Vec<String> = p.removed.keys().cloned().collect();
    for pkg in &inv.packages {
        let name = pkg.name.as_str();
        if auto.contains(name)
            && eligible(name)
            && !p.removed.contains_key(name)
            && mentions.get(name).copied().unwrap_or(0) == 0
        {
            p.removed.insert(name.to_owned(), unneeded.into());
            queue.push(name.to_owned());
        }
    }
    while let Some(gone) = queue.pop() {
        for t in relations.targets(&gone) {
            let left = mentions.entry(t).or_default();
            *left = left.saturating_sub(1);
            if *left == 0 && auto.contains(t) && eligible(t) && !p.removed.contains_key(t) {
                p.removed.insert(t.to_owned(), unneeded.into());
                queue.push(t.to_owned());
            }
        }
        for d in named_by.get(gone.as_str()).into_iter().flatten() {
            if p.removed.contains_key(*d) || !eligible(d) {
                continue;
            }
            if let Some(dep) = relations.broken(d, &p.removed) {
                p.removed.insert(
                    (*d).to_owned(),
                    format!("depends on {dep}, which was removed"),
                );
                queue.push((*d).to_owned());
            }
        }
    }
    p.protected = protected.keys().map(|k| (*k).to_owned()).collect();
    p.needed = needed.into_iter().map(str::to_owned).collect();
    p.roots = roots;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_takes_globs_and_directories() {
        let keep = vec!["/app".to_owned(), "usr/lib/**/*.so".to_owned()];
        assert!(kept(&keep, "app"));
        assert!(kept(&keep, "app/main.py"));
        assert!(!kept(&keep, "application"));
        assert!(kept(&keep, "usr/lib/x86_64-linux-gnu/libfoo.so"));
        assert!(!kept(&keep, "usr/lib/x86_64-linux-gnu/libfoo.so.1"));
        assert!(kept(&["/".to_owned()], "usr/bin/bash"));
    }

    #[test]
    fn tools_are_what_eval_and_the_build_call_high_risk() {
        assert_eq!(tool("usr/bin/make"), Some("compiler or debugger"));
        assert_eq!(tool("usr/bin/sh"), Some("shell"));
        assert_eq!(tool("usr/bin/su"), Some("privilege escalation"));
        assert_eq!(tool("usr/share/doc/bash"), None);
        assert_eq!(tool("usr/bin/python3"), None);
    }

    #[test]
    fn shipped_files_are_those_whose_md5_dpkg_recorded() {
        use bulwark_image::{FileInfo, FileKind};
        let mut fs = FileSystem::default();
        let mut put = |p: &str, data: &[u8]| {
            fs.files.insert(
                p.into(),
                FileInfo {
                    kind: FileKind::File,
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    size: data.len() as u64,
                    link: None,
                    layer: 0,
                    caps: None,
                    source: None,
                },
            );
            fs.contents.insert(p.into(), data.to_vec());
        };
        // md5("test key\n") and md5("conf\n").
        put(
            "var/lib/dpkg/info/python3-paramiko.md5sums",
            b"fde034f64351f44186f323a28bc21982  usr/lib/python3/dist-packages/paramiko/test_rsa.key\n",
        );
        put(
            "var/lib/dpkg/status",
            b"Package: app\nConffiles:\n /etc/app/.env b9a771b420047cfaa3543e66c78f44f6\n /etc/app/x 5e4f3f0e1c6d0d5c2c0b4a1e2d3f4a5b obsolete\nVersion: 1\n",
        );
        put(
            "usr/lib/python3/dist-packages/paramiko/test_rsa.key",
            b"changed\n",
        );
        put("etc/app/.env", b"conf\n");
        let md5s = dpkg_md5s(&fs);
        assert_eq!(md5s.len(), 3, "{md5s:?}");
        assert!(md5s.contains_key("etc/app/x"));
        // Changed since dpkg installed it: not the package's.
        assert!(!as_shipped(
            &fs,
            &md5s,
            "usr/lib/python3/dist-packages/paramiko/test_rsa.key"
        ));
        // No record at all: not the package's.
        assert!(!as_shipped(&fs, &md5s, "app/.env"));
        assert!(as_shipped(&fs, &md5s, "etc/app/.env"));
        fs.contents.insert(
            "usr/lib/python3/dist-packages/paramiko/test_rsa.key".into(),
            b"test key\n".to_vec(),
        );
        assert!(as_shipped(
            &fs,
            &md5s,
            "usr/lib/python3/dist-packages/paramiko/test_rsa.key"
        ));
    }
}
