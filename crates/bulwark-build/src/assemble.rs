//! Assembly of the image filesystem from package contents, without running
//! any maintainer script.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use bulwark_deb::{Deb, EntryKind};
use bulwark_layer::{Node, NodeKind, Tree};
use bulwark_spec::{LockedPackage, Spec};

use crate::BuildError;
use crate::hardening::{HardeningReport, check_tree, harden_tree};

/// Top-level directories that live under `/usr` in the merged-/usr layout.
const MERGED: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// The packages of one architecture, read and verified.
#[derive(Debug)]
pub struct PackageSet {
    pub arch: String,
    pub packages: Vec<(LockedPackage, Deb)>,
}

/// What assembly did, for reports.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AssembleReport {
    pub packages: usize,
    pub files: usize,
    pub dropped_paths: usize,
    /// Paths shipped by more than one package with different contents (last wins).
    pub conflicts: Vec<String>,
    pub hardening: HardeningReport,
    /// Whether `/etc/ssl/certs/ca-certificates.crt` was built.
    pub ca_bundle: bool,
    /// Newest mtime found in the packages (the default SOURCE_DATE_EPOCH).
    pub newest_package_mtime: u64,
    pub run_as: String,
}

/// The two filesystems of an image: system (packages and generated files)
/// and application (the spec's local files).
#[derive(Debug)]
pub struct Assembled {
    pub system: Tree,
    pub app: Tree,
    /// The spec's local files as read into `app`: (path relative to the
    /// spec, sha256 hex), for the provenance.
    pub inputs: Vec<(String, String)>,
    pub report: AssembleReport,
    pub uid: u32,
    pub gid: u32,
}

struct Account {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

/// name, gid, members
type GroupEntry = (String, u32, Vec<String>);

fn accounts(spec: &Spec) -> (Vec<Account>, Vec<GroupEntry>) {
    let mut users = vec![
        Account {
            name: "root".into(),
            uid: 0,
            gid: 0,
            home: "/root".into(),
        },
        Account {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
            home: "/nonexistent".into(),
        },
        Account {
            name: "nonroot".into(),
            uid: 65532,
            gid: 65532,
            home: "/home/nonroot".into(),
        },
    ];
    for u in &spec.accounts.users {
        users.retain(|x| x.name != u.name);
        users.push(Account {
            name: u.name.clone(),
            uid: u.uid,
            gid: u.gid.unwrap_or(u.uid),
            home: u
                .home
                .clone()
                .unwrap_or_else(|| format!("/home/{}", u.name)),
        });
    }
    let mut groups: Vec<GroupEntry> = vec![
        ("root".into(), 0, vec![]),
        ("tty".into(), 5, vec![]),
        ("staff".into(), 50, vec![]),
        ("nonroot".into(), 65532, vec![]),
        ("nobody".into(), 65534, vec![]),
    ];
    for g in &spec.accounts.groups {
        groups.retain(|x| x.0 != g.name);
        groups.push((g.name.clone(), g.gid, g.members.clone()));
    }
    for u in &spec.accounts.users {
        if !groups.iter().any(|g| g.1 == u.gid.unwrap_or(u.uid)) {
            groups.push((u.name.clone(), u.gid.unwrap_or(u.uid), vec![]));
        }
    }
    (users, groups)
}

fn resolve_owner(owner: &str, users: &[Account], groups: &[GroupEntry]) -> Option<(u32, u32)> {
    let (u, g) = match owner.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (owner, None),
    };
    let uid = u
        .parse::<u32>()
        .ok()
        .or_else(|| users.iter().find(|a| a.name == u).map(|a| a.uid))?;
    let gid = match g {
        Some(g) => g
            .parse::<u32>()
            .ok()
            .or_else(|| groups.iter().find(|x| x.0 == g).map(|x| x.1))?,
        None => users
            .iter()
            .find(|a| a.uid == uid)
            .map(|a| a.gid)
            .unwrap_or(uid),
    };
    Some((uid, gid))
}

fn dropped(spec: &Spec, path: &str, kind: &NodeKind) -> bool {
    let f = &spec.paths;
    if f.keep.iter().any(|k| bulwark_spec::glob_match(k, path)) {
        return false;
    }
    if f.drop_docs {
        if let Some(rest) = path.strip_prefix("usr/share/doc/") {
            let depth = rest.split('/').count();
            // Keep copyright files (licence evidence) and the per-package
            // entry itself (a directory or a symlink to a shared doc dir).
            let keep = depth == 1 || (depth == 2 && rest.ends_with("/copyright"));
            if !keep {
                return true;
            }
            if depth == 1 && !matches!(kind, NodeKind::Dir | NodeKind::Symlink(_)) {
                return true;
            }
        }
        if path.starts_with("usr/share/doc-base/") || path == "usr/share/doc-base" {
            return true;
        }
        if path.starts_with("usr/share/lintian/") || path == "usr/share/lintian" {
            return true;
        }
    }
    let under =
        |dir: &str| path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
    if f.drop_man && (under("usr/share/man") || under("usr/share/info")) {
        return true;
    }
    if f.drop_locales && under("usr/share/locale") {
        return true;
    }
    f.exclude.iter().any(|x| bulwark_spec::glob_match(x, path))
}

/// Maps `bin/x` → `usr/bin/x` (merged /usr). Returns `None` for the
/// top-level merged directories themselves.
fn merged_path(path: &str) -> Option<String> {
    let first = path.split('/').next().unwrap_or("");
    if MERGED.contains(&first) {
        if path == first {
            return None;
        }
        return Some(format!("usr/{path}"));
    }
    Some(path.to_owned())
}

/// Builds both filesystems for one architecture.
/// Takes the package set by value: file contents move into the tree
/// instead of being copied.
pub fn assemble(spec: &Spec, spec_path: &Path, set: PackageSet) -> Result<Assembled, BuildError> {
    let mut tree = Tree::default();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut report = AssembleReport {
        packages: set.packages.len(),
        ..Default::default()
    };
    let mut merged_used: BTreeSet<&str> = ["bin", "sbin", "lib"].into_iter().collect();

    for (pkg, deb) in set.packages {
        // Regular files of this package by archive path, for hard links
        // (which bulwark-deb guarantees point at an earlier regular file).
        let mut data_of: BTreeMap<String, Arc<Vec<u8>>> = BTreeMap::new();
        for e in deb.entries {
            report.newest_package_mtime = report.newest_package_mtime.max(e.mtime);
            let first = e.path.split('/').next().unwrap_or("");
            if let Some(m) = MERGED.iter().find(|m| **m == first) {
                merged_used.insert(m);
            }
            let Some(path) = merged_path(&e.path) else {
                continue;
            };
            let kind = match e.kind {
                EntryKind::File(d) => {
                    let d = Arc::new(d);
                    data_of.insert(e.path.clone(), d.clone());
                    NodeKind::File(d)
                }
                EntryKind::Hardlink(t) => match data_of.get(&t) {
                    // Hard links become copies (sharing the bytes): a sorted
                    // layer cannot guarantee the target precedes the link.
                    Some(d) => NodeKind::File(d.clone()),
                    None => continue,
                },
                EntryKind::Dir => NodeKind::Dir,
                EntryKind::Symlink(t) => NodeKind::Symlink(t),
            };
            if dropped(spec, &path, &kind) {
                report.dropped_paths += 1;
                continue;
            }
            let node = match kind {
                NodeKind::Dir => {
                    if tree.contains(&path) {
                        continue; // shared directory: the first package's metadata stands
                    }
                    Node::dir(e.mode)
                }
                kind => Node {
                    mode: if matches!(kind, NodeKind::Symlink(_)) {
                        0o777
                    } else {
                        e.mode
                    },
                    kind,
                    uid: 0,
                    gid: 0,
                },
            };
            let node = node.owned(e.uid as u32, e.gid as u32);
            if let Some(old) = tree.get(&path)
                && let (NodeKind::File(a), NodeKind::File(b)) = (&old.kind, &node.kind)
                && a != b
                && owners.get(&path).is_some_and(|o| o != &pkg.name)
            {
                report.conflicts.push(format!(
                    "/{path}: {} overwrites {}",
                    pkg.name, owners[&path]
                ));
            }
            if let Some(old) = tree.get(&path)
                && matches!(old.kind, NodeKind::Symlink(_))
                && node.is_dir()
            {
                continue; // keep a symlinked directory (dpkg does the same)
            }
            tree.insert(&path, node);
            owners.insert(path, pkg.name.clone());
        }
        // The distroless scanner contract: control and md5sums per package.
        tree.insert(
            &format!("var/lib/dpkg/status.d/{}", pkg.name),
            Node::file(deb.control, 0o644),
        );
        tree.insert(
            &format!("var/lib/dpkg/status.d/{}.md5sums", pkg.name),
            Node::file(deb.md5sums, 0o644),
        );
    }
    for m in merged_used {
        tree.insert(&format!("usr/{m}"), Node::dir(0o755));
        if tree
            .get(m)
            .is_none_or(|n| !matches!(n.kind, NodeKind::Symlink(_)))
        {
            tree.insert(m, Node::symlink(&format!("usr/{m}")));
        }
    }

    let (users, groups) = accounts(spec);
    let run_as = &spec.accounts.run_as;
    let (uid, gid) = resolve_owner(run_as, &users, &groups).ok_or_else(|| BuildError::Hardening {
        spec: spec_path.display().to_string(),
        message: format!("accounts.run-as: '{run_as}' is neither a number nor a known account (root, nobody, nonroot or accounts.users)"),
    })?;
    if uid == 0 && !spec.hardening.allow_root {
        return Err(BuildError::Hardening {
            spec: spec_path.display().to_string(),
            message: "accounts.run-as resolves to uid 0; set hardening.allow-root: true if that is really intended".into(),
        });
    }
    report.run_as = format!("{uid}:{gid}");

    // Accounts, like distroless: no shells, no passwords.
    let mut passwd = String::new();
    for u in &users {
        passwd.push_str(&format!(
            "{}:x:{}:{}:{}:{}:/sbin/nologin\n",
            u.name, u.uid, u.gid, u.name, u.home
        ));
    }
    let mut group = String::new();
    for (n, g, members) in &groups {
        group.push_str(&format!("{n}:x:{g}:{}\n", members.join(",")));
    }
    tree.insert("etc/passwd", Node::file(passwd.into_bytes(), 0o644));
    tree.insert("etc/group", Node::file(group.into_bytes(), 0o644));
    if !tree.contains("etc/nsswitch.conf") {
        tree.insert(
            "etc/nsswitch.conf",
            Node::file(
                b"passwd:         files\ngroup:          files\nshadow:         files\nhosts:          files dns\nnetworks:       files\nprotocols:      files\nservices:       files\nethers:         files\nrpc:            files\n".to_vec(),
                0o644,
            ),
        );
    }
    tree.insert("tmp", Node::dir(0o1777));
    tree.insert("root", Node::dir(0o700));
    let mut exempt: BTreeSet<String> = BTreeSet::new();
    for u in &users {
        if u.uid != 0 && u.home.starts_with("/home/") {
            let h = u.home.trim_start_matches('/').to_owned();
            tree.insert(&h, Node::dir(0o700).owned(u.uid, u.gid));
            exempt.insert(h);
        }
    }
    for w in &spec.hardening.writable_paths {
        let p = w.trim_matches('/').to_owned();
        tree.insert(&p, Node::dir(0o755).owned(uid, gid));
        exempt.insert(p);
    }

    // The CA bundle the ca-certificates postinst would build.
    let certs: Vec<Arc<Vec<u8>>> = tree
        .iter()
        .filter(|(p, _)| p.starts_with("usr/share/ca-certificates/") && p.ends_with(".crt"))
        .filter_map(|(_, n)| match &n.kind {
            NodeKind::File(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    if !certs.is_empty() {
        let mut bundle = Vec::new();
        for c in certs {
            bundle.extend_from_slice(&c);
            if !bundle.ends_with(b"\n") {
                bundle.push(b'\n');
            }
        }
        tree.insert(
            "etc/ssl/certs/ca-certificates.crt",
            Node::file(bundle, 0o644),
        );
        report.ca_bundle = true;
    }

    report.hardening = harden_tree(&mut tree, spec.hardening.keep_setuid, &exempt);
    check_tree(spec, spec_path, &tree, &owners)?;
    report.files = tree.iter().filter(|(_, n)| !n.is_dir()).count();

    let (app, inputs) = local_files(spec, spec_path, &users, &groups)?;
    check_tree(spec, spec_path, &app, &BTreeMap::new())?;
    Ok(Assembled {
        system: tree,
        app,
        inputs,
        report,
        uid,
        gid,
    })
}

/// The spec's `files`, read from disk relative to the spec, with each
/// regular file's path (as the spec names it) and sha256.
fn local_files(
    spec: &Spec,
    spec_path: &Path,
    users: &[Account],
    groups: &[GroupEntry],
) -> Result<(Tree, Vec<(String, String)>), BuildError> {
    let base = spec_path.parent().unwrap_or(Path::new("."));
    let err = |m: String| BuildError::LocalFiles {
        spec: spec_path.display().to_string(),
        message: m,
    };
    let mut tree = Tree::default();
    let mut inputs = Vec::new();
    // Small files are read into memory, up to a total; larger ones (and
    // any past the total) stay on disk and are streamed into the layer.
    let mut in_memory =
        bulwark_limits::Budget::new(bulwark_limits::USER_FILES_IN_MEMORY, "files: in memory");
    let mut total = bulwark_limits::Budget::new(bulwark_limits::MAX_LAYER_BYTES, "files: sources");
    for f in &spec.files {
        let src = base.join(&f.src);
        let (uid, gid) = match &f.owner {
            None => (0, 0),
            Some(o) => resolve_owner(o, users, groups)
                .ok_or_else(|| err(format!("owner {o:?} of {} is unknown", f.src)))?,
        };
        let meta =
            std::fs::symlink_metadata(&src).map_err(|e| err(format!("{}: {e}", src.display())))?;
        let dest = f.dest.trim_matches('/').to_owned();
        let mut stack = vec![(src.clone(), dest.clone(), meta, f.src.clone())];
        while let Some((p, d, m, rel)) = stack.pop() {
            use std::os::unix::fs::PermissionsExt;
            let mode_of = |m: &std::fs::Metadata, dir: bool| -> u32 {
                if let Some(mode) = f.mode
                    && !dir
                {
                    return mode.0;
                }
                if dir || m.permissions().mode() & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                }
            };
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).map_err(|e| err(format!("{}: {e}", p.display())))?;
                let t = t
                    .to_str()
                    .ok_or_else(|| err(format!("{}: link target is not UTF-8", p.display())))?;
                if t.starts_with('/') || bulwark_deb::resolve_link_target(&d, t).is_none() {
                    return Err(err(format!(
                        "{}: symlink target {t:?} leaves the copied tree",
                        p.display()
                    )));
                }
                tree.insert(&d, Node::symlink(t).owned(uid, gid));
            } else if m.is_dir() {
                tree.insert(&d, Node::dir(mode_of(&m, true)).owned(uid, gid));
                let mut children: Vec<_> = std::fs::read_dir(&p)
                    .map_err(|e| err(format!("{}: {e}", p.display())))?
                    .filter_map(|e| e.ok())
                    .collect();
                children.sort_by_key(|e| e.file_name());
                for c in children.into_iter().rev() {
                    let name = c.file_name();
                    let name = name.to_str().ok_or_else(|| {
                        err(format!("{}: file name is not UTF-8", c.path().display()))
                    })?;
                    let cm = std::fs::symlink_metadata(c.path())
                        .map_err(|e| err(format!("{}: {e}", c.path().display())))?;
                    stack.push((
                        c.path(),
                        format!("{d}/{name}"),
                        cm,
                        format!("{}/{name}", rel.trim_end_matches('/')),
                    ));
                }
            } else if m.is_file() {
                total.take(m.len()).map_err(|why| {
                    err(format!(
                        "{}: {why} (no image layer may be larger); keep such data out of the image (a volume)",
                        p.display()
                    ))
                })?;
                let node = if m.len() <= bulwark_limits::USER_FILE_IN_MEMORY
                    && in_memory.take(m.len()).is_ok()
                {
                    let data = bulwark_limits::read_file(&p, m.len(), "file")
                        .map_err(|e| err(e.to_string()))?;
                    inputs.push((
                        rel,
                        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data)),
                    ));
                    Node::file(data, mode_of(&m, false))
                } else {
                    let f = bulwark_layer::DiskFile::hash(&p)
                        .map_err(|e| err(format!("{}: {e}", p.display())))?;
                    inputs.push((rel, f.sha256.clone()));
                    Node::disk(f, mode_of(&m, false))
                };
                tree.insert(&d, node.owned(uid, gid));
            } else {
                return Err(err(format!(
                    "{}: only regular files, directories and symlinks can be copied",
                    p.display()
                )));
            }
        }
    }
    // Parent directories created implicitly stay root-owned 0755.
    Ok((tree, inputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(bulwark_spec::glob_match(
            "/usr/share/zoneinfo/right/**",
            "usr/share/zoneinfo/right/UTC"
        ));
        assert!(bulwark_spec::glob_match(
            "usr/lib/*/gconv/**",
            "usr/lib/x86_64-linux-gnu/gconv/a/b"
        ));
        assert!(!bulwark_spec::glob_match(
            "usr/lib/*/gconv",
            "usr/lib/a/b/gconv"
        ));
        assert!(bulwark_spec::glob_match(
            "**/*.pyc",
            "usr/lib/python3/x/y.pyc"
        ));
        assert!(bulwark_spec::glob_match(
            "usr/bin/python3.1?",
            "usr/bin/python3.11"
        ));
        assert!(
            bulwark_spec::glob_match("**", "a/b/c") && bulwark_spec::glob_match("a/**/c", "a/c")
        );
        assert!(bulwark_spec::glob_match("a/**/x/**/c", "a/b/x/y/z/c"));
        assert!(!bulwark_spec::glob_match("a/**/x/**/c", "a/b/y/z/c"));
        assert!(
            bulwark_spec::glob_match("*a*b*", "xxaxxbxx")
                && !bulwark_spec::glob_match("*a*b", "xxaxxbxx")
        );
        assert!(!bulwark_spec::glob_match("a*", "") && bulwark_spec::glob_match("*", ""));
    }

    #[test]
    fn regression_glob_with_many_stars_is_not_exponential() {
        // 30 stars against 60 'a's and no match: exponential for a recursive
        // matcher (minutes), a few thousand steps here.
        let pattern = format!("{}b", "*a".repeat(30));
        let path = "a".repeat(60);
        let start = std::time::Instant::now();
        assert!(!bulwark_spec::glob_match(&pattern, &path));
        let deep = format!("{}/b", "**/a".repeat(20));
        assert!(!bulwark_spec::glob_match(&deep, &"a/".repeat(40)));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn merged_usr() {
        assert_eq!(merged_path("bin/sh").as_deref(), Some("usr/bin/sh"));
        assert_eq!(
            merged_path("lib64/ld-linux-x86-64.so.2").as_deref(),
            Some("usr/lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(merged_path("bin"), None);
        assert_eq!(merged_path("etc/passwd").as_deref(), Some("etc/passwd"));
    }
}
