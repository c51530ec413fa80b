//! The new filesystem: the walked image as a tree, with the plan's packages,
//! tools, caches and leftovers taken out, the dpkg database kept true, a
//! non-root account, and no setuid or world-writable bits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bulwark_image::{FileKind, FileSystem, LayerCopy, SourceEntry};
use bulwark_layer::{Node, NodeKind, Tree};

use crate::Options;
use crate::plan::{Plan, kept, tool};

/// The default account of a hardened image (as in distroless and bulwark's
/// own builds).
pub(crate) const NONROOT: u32 = 65532;

/// What the rewrite did.
#[derive(Debug, Default)]
pub(crate) struct Rewritten {
    pub tree: Tree,
    /// Path (root-relative; a directory stands for what was below it) → why.
    pub removed: BTreeMap<String, String>,
    pub setuid_stripped: Vec<String>,
    /// Kept files that had file capabilities (path, as `getcap` shows
    /// them): the new image carries none.
    pub caps_removed: Vec<(String, String)>,
    pub world_writable_fixed: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    /// The account was added to `/etc/passwd`.
    pub user_created: Option<String>,
    /// Accounts whose login shell was removed: now `/usr/sbin/nologin`.
    pub shells_reset: Vec<String>,
    pub notes: Vec<String>,
    /// The source's merged filesystem as first read, for a delta layer
    /// (`Options::delta`).
    pub original: Option<Original>,
    /// Where each path's entry lay in the source's layers, with the node
    /// as read, and the source's gzip layers (when the walk noted them):
    /// what the squashed layer copies unchanged.
    pub sources: BTreeMap<String, (SourceEntry, Node)>,
    pub copies: Vec<Option<Arc<LayerCopy>>>,
}

/// The source as first read, for a delta layer.
#[derive(Debug)]
pub(crate) struct Original {
    pub tree: Tree,
    /// Paths it had that no tree can hold (device nodes, FIFOs, hard links
    /// to nothing).
    pub dropped: Vec<String>,
    /// Hard links, held as copies of their target's final bytes: in the
    /// lower layers a link may still share an older file's bytes, so the
    /// delta writes each of them.
    pub links: Vec<String>,
    /// Files with capabilities: written again (without them) whenever
    /// they stay, as the lower layers still give them.
    pub capped: Vec<String>,
}

/// Paths a minified image keeps although no package owns them: what the
/// C library, name resolution, TLS and the package scanners read.
fn system_file(path: &str) -> bool {
    matches!(
        path,
        "etc/passwd"
            | "etc/group"
            | "etc/shadow"
            | "etc/gshadow"
            | "etc/nsswitch.conf"
            | "etc/hosts"
            | "etc/host.conf"
            | "etc/resolv.conf"
            | "etc/hostname"
            | "etc/ld.so.cache"
            | "etc/ld.so.conf"
            | "etc/ca-certificates.conf"
            | "etc/localtime"
            | "etc/timezone"
            | "etc/os-release"
            | "usr/lib/os-release"
            | "etc/debian_version"
            | "etc/mime.types"
            | "var/lib/dpkg/status"
    ) || path.starts_with("etc/ld.so.conf.d/")
        || path.starts_with("etc/ssl/")
}

/// Documentation a minified image drops (copyright files stay: they are
/// the licences the SBOM reports).
fn documentation(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix("usr/share/doc/") {
        return !(rest.ends_with("/copyright") && rest.matches('/').count() == 1);
    }
    [
        "usr/share/man/",
        "usr/share/info/",
        "usr/share/locale/",
        "usr/share/lintian/",
        "usr/share/bug/",
        "usr/share/menu/",
    ]
    .iter()
    .any(|d| path.starts_with(d))
}

/// Leftovers no running workload needs: caches, logs, temporary files,
/// version-control metadata, build files, shell histories. Returns the path
/// to remove (a whole `.git` directory for a file inside one) and why.
fn leftover(path: &str, is_dir: bool) -> Option<(String, &'static str)> {
    for vcs in [".git", ".svn", ".hg"] {
        let comps: Vec<&str> = path.split('/').collect();
        if let Some(i) = comps.iter().position(|c| *c == vcs) {
            return Some((comps[..=i].join("/"), "version-control metadata"));
        }
    }
    let base = path.rsplit('/').next().unwrap_or(path);
    let file = |why: &'static str| (!is_dir).then(|| (path.to_owned(), why));
    if path.starts_with("var/cache/apt/") {
        return file("apt's package cache");
    }
    if path.starts_with("var/lib/apt/lists/") {
        return file("apt's index lists");
    }
    if path.starts_with("var/cache/debconf/") && base.ends_with("-old")
        || path.starts_with("var/lib/dpkg/") && base.ends_with("-old")
    {
        return file("a package database backup");
    }
    if path.starts_with("var/cache/ldconfig/") || path.starts_with("var/cache/man/") {
        return file("a regenerable cache");
    }
    if path.starts_with("var/log/") {
        return file("a log file");
    }
    if let Some(rest) = path
        .strip_prefix("tmp/")
        .or_else(|| path.strip_prefix("var/tmp/"))
    {
        let top = path.len() - rest.len() + rest.split('/').next().unwrap_or(rest).len();
        return Some((path[..top].to_owned(), "a temporary file"));
    }
    let home = path.starts_with("root/") || path.starts_with("home/");
    if home {
        let comps: Vec<&str> = path.split('/').collect();
        let at = if comps[0] == "root" { 1 } else { 2 };
        if comps.get(at) == Some(&".cache") {
            return Some((comps[..=at].join("/"), "a cache"));
        }
        if matches!(
            base,
            ".bash_history" | ".python_history" | ".wget-hsts" | ".lesshst" | ".viminfo"
        ) {
            return file("a shell history");
        }
    }
    if matches!(
        base,
        "Dockerfile" | "Containerfile" | ".dockerignore" | "docker-compose.yml" | ".DS_Store"
    ) || base.ends_with(".swp")
    {
        return file("a build leftover");
    }
    None
}

/// Moves the walked filesystem into a tree. Device nodes and FIFOs are not
/// carried over (a container gets its own `/dev`). Hard links become files
/// sharing their target's bytes, as in a build: the encoder writes entries
/// in lexical order, so a link could otherwise come before its target, and
/// a link to a removed file cannot dangle. File capabilities are not
/// carried either (no layer bulwark writes has them): the paths that had
/// them are returned, with the paths dropped and the links copied.
fn to_tree(mut fs: FileSystem, notes: &mut Vec<String>) -> ToTree {
    let mut tree = Tree::default();
    let mut sources = BTreeMap::new();
    let mut dropped = Vec::new();
    let mut links = Vec::new();
    let mut capped = BTreeMap::new();
    let id = |v: u64| u32::try_from(v).unwrap_or(65534);
    for (path, f) in std::mem::take(&mut fs.files) {
        if let Some(caps) = f.caps {
            capped.insert(path.clone(), caps.text);
        }
        let node = match f.kind {
            FileKind::Dir => Node::dir(f.mode),
            FileKind::File => Node::file(fs.contents.remove(&path).unwrap_or_default(), f.mode),
            FileKind::Symlink => Node::symlink(f.link.as_deref().unwrap_or_default()),
            FileKind::Hardlink => {
                links.push((path, f.link));
                continue;
            }
            FileKind::Device | FileKind::Fifo => {
                dropped.push(path);
                continue;
            }
        };
        let node = node.owned(id(f.uid), id(f.gid));
        if let Some(src) = f.source {
            sources.insert(path.clone(), (src, node.clone()));
        }
        tree.insert(&path, node);
    }
    let mut copied = Vec::new();
    for (path, link) in links {
        let target = link
            .as_deref()
            .and_then(|l| link_path(l.trim_start_matches('/')));
        match target.and_then(|t| tree.get(&t).cloned()) {
            Some(
                node @ Node {
                    kind: NodeKind::File(_),
                    ..
                },
            ) => {
                tree.insert(&path, node);
                copied.push(path);
            }
            _ => dropped.push(path),
        }
    }
    if !dropped.is_empty() {
        notes.push(format!(
            "{} device nodes, FIFOs or hard links to no regular file were not carried over, e.g. /{}",
            dropped.len(),
            dropped[0]
        ));
    }
    ToTree {
        tree,
        dropped,
        links: copied,
        capped,
        sources,
        copies: std::mem::take(&mut fs.copies),
    }
}

struct ToTree {
    tree: Tree,
    dropped: Vec<String>,
    links: Vec<String>,
    capped: BTreeMap<String, String>,
    sources: BTreeMap<String, (SourceEntry, Node)>,
    copies: Vec<Option<Arc<LayerCopy>>>,
}

/// A tar link name as a root-relative path, `None` when it leaves the root.
fn link_path(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// The files dpkg's `info/` directory keeps per package.
const INFO_SUFFIXES: &[&str] = &[
    "list",
    "md5sums",
    "conffiles",
    "config",
    "templates",
    "preinst",
    "postinst",
    "prerm",
    "postrm",
    "triggers",
    "shlibs",
    "symbols",
];

/// The package a dpkg metadata path belongs to: `var/lib/dpkg/info/NAME[:ARCH].SUFFIX`
/// or distroless-style `var/lib/dpkg/status.d/NAME[.md5sums]`.
fn dpkg_owner(path: &str) -> Option<&str> {
    if let Some(file) = path.strip_prefix("var/lib/dpkg/info/") {
        let (stem, suffix) = file.rsplit_once('.')?;
        if !INFO_SUFFIXES.contains(&suffix) {
            return None;
        }
        return Some(stem.split_once(':').map_or(stem, |(n, _)| n));
    }
    let file = path.strip_prefix("var/lib/dpkg/status.d/")?;
    let stem = file.strip_suffix(".md5sums").unwrap_or(file);
    Some(stem.split_once(':').map_or(stem, |(n, _)| n))
}

/// Drops the stanzas of removed packages from a deb822 database (dpkg's
/// `status`, apt's `extended_states`), keeping the other bytes as they are.
/// Stanzas end at a blank line (CRLF and spaces allowed, as the parser
/// reads them); field names are case-insensitive.
fn without_stanzas(text: &[u8], removed: &BTreeMap<String, String>) -> Vec<u8> {
    let blank = |l: &[u8]| l.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    let name_of = |stanza: &[&[u8]]| -> Option<String> {
        stanza.iter().find_map(|l| {
            let head = l.get(..8)?;
            if !head.eq_ignore_ascii_case(b"package:") {
                return None;
            }
            Some(String::from_utf8_lossy(&l[8..]).trim().to_owned())
        })
    };
    let mut out = Vec::with_capacity(text.len());
    let mut stanza: Vec<&[u8]> = Vec::new();
    let flush = |stanza: &mut Vec<&[u8]>, out: &mut Vec<u8>| {
        if !name_of(stanza).is_some_and(|n| removed.contains_key(&n)) {
            for l in stanza.iter() {
                out.extend_from_slice(l);
            }
        }
        stanza.clear();
    };
    for line in text.split_inclusive(|b| *b == b'\n') {
        stanza.push(line);
        if blank(line) {
            flush(&mut stanza, &mut out);
        }
    }
    flush(&mut stanza, &mut out);
    out
}

struct Remover<'a> {
    tree: &'a mut Tree,
    removed: &'a mut BTreeMap<String, String>,
    parents: BTreeSet<String>,
}

impl Remover<'_> {
    fn remove(&mut self, path: &str, why: impl Into<String>) {
        if !self.tree.contains(path) {
            return;
        }
        self.tree.remove_subtree(path);
        self.removed.insert(path.to_owned(), why.into());
        if let Some((dir, _)) = path.rsplit_once('/') {
            self.parents.insert(dir.to_owned());
        }
    }
}

/// Rewrites `fs` (walked with every file's contents) as `plan` says.
pub(crate) fn rewrite(
    fs: FileSystem,
    lists: &BTreeMap<String, Vec<String>>,
    plan: &Plan,
    opts: &Options,
    config: &serde_json::Value,
    config_user: &str,
) -> Rewritten {
    let mut out = Rewritten::default();
    // Paths as dpkg lists them, placed in the image (`plan::placed_lists`).
    let mut owned_kept: BTreeSet<String> = BTreeSet::new();
    let mut owned_protected: BTreeSet<String> = BTreeSet::new();
    let mut doomed: Vec<(String, &str)> = Vec::new();
    for (pkg, paths) in lists {
        let gone = plan.removed.contains_key(pkg);
        let protected = plan.protected.contains(pkg);
        for p in paths.iter().cloned() {
            if gone {
                doomed.push((p, pkg.as_str()));
            } else {
                if protected {
                    owned_protected.insert(p.clone());
                }
                owned_kept.insert(p);
            }
        }
    }
    let evidence: BTreeSet<String> = opts
        .runtime_evidence
        .iter()
        .map(|e| fs.resolve(e).unwrap_or_else(|| e.clone()))
        .collect();
    let ToTree {
        mut tree,
        dropped,
        links,
        capped,
        sources,
        copies,
    } = to_tree(fs, &mut out.notes);
    out.sources = sources;
    out.copies = copies;
    if opts.delta {
        // Cheap: file contents are shared, not copied.
        out.original = Some(Original {
            tree: tree.clone(),
            dropped,
            links,
            capped: capped.keys().cloned().collect(),
        });
    }
    // Symlinks that lead somewhere now (one that stops leading anywhere
    // because of what is removed goes too), and those that lead to what the
    // entrypoint loads or the workload used (`/bin/sh` for a `sh -c`
    // command: they stay with their target).
    let mut resolving: BTreeSet<String> = BTreeSet::new();
    let mut to_roots: BTreeSet<String> = BTreeSet::new();
    for (p, n) in tree.iter() {
        if !matches!(n.kind, NodeKind::Symlink(_)) {
            continue;
        }
        if let Some(r) = tree.resolve(p).filter(|r| tree.contains(r)) {
            if plan.roots.contains(&r) || evidence.contains(&r) {
                to_roots.insert(p.clone());
            }
            resolving.insert(p.clone());
        }
    }
    let protected = |p: &str| {
        plan.roots.contains(p)
            || to_roots.contains(p)
            || evidence.contains(p)
            || owned_protected.contains(p)
            || kept(&opts.keep, p)
            || p.rsplit_once('/')
                .is_some_and(|(_, b)| opts.allow.iter().any(|a| a == b))
    };
    // Something under `dir` must stay: a --keep path inside it.
    let keeps_below = |dir: &str| {
        opts.keep
            .iter()
            .any(|k| k.trim_matches('/').starts_with(&format!("{dir}/")))
    };
    let mut removed = BTreeMap::new();
    let mut r = Remover {
        tree: &mut tree,
        removed: &mut removed,
        parents: BTreeSet::new(),
    };
    // 1. The removed packages' files (a path a kept package also lists
    // stays, and so does a directory, or a symlink to one: `bin`).
    for (p, pkg) in &doomed {
        if owned_kept.contains(p) || protected(p) {
            continue;
        }
        let keep_dir = match r.tree.get(p) {
            None => true,
            Some(n) if n.is_dir() => true,
            Some(Node {
                kind: NodeKind::Symlink(_),
                ..
            }) => r
                .tree
                .resolve(p)
                .and_then(|t| r.tree.get(&t))
                .is_some_and(Node::is_dir),
            Some(_) => false,
        };
        if !keep_dir {
            r.remove(p, format!("file of {pkg}"));
        }
    }
    let dpkg_meta: Vec<(String, String)> = r
        .tree
        .iter()
        .filter_map(|(p, _)| {
            let owner = dpkg_owner(p)?;
            plan.removed
                .contains_key(owner)
                .then(|| (p.clone(), owner.to_owned()))
        })
        .collect();
    for (p, name) in dpkg_meta {
        r.remove(&p, format!("dpkg record of {name}"));
    }
    // 2. Tools no package removal took (unowned, or from a kept package).
    let tools: Vec<(String, &str)> = r
        .tree
        .iter()
        .filter(|(_, n)| !n.is_dir())
        .filter_map(|(p, _)| tool(p).map(|c| (p.clone(), c)))
        .filter(|(p, _)| !protected(p))
        .collect();
    for (p, cat) in tools {
        let why = if owned_kept.contains(&p) {
            format!("{cat}, although a kept package ships it")
        } else {
            format!("{cat}, owned by no package")
        };
        r.remove(&p, why);
    }
    // 3. Caches, logs, temporary files and build leftovers (a packaged
    // file stays whatever its name, and so does what --keep names).
    let leftovers: Vec<(String, &str)> = r
        .tree
        .iter()
        .filter_map(|(p, n)| leftover(p, n.is_dir()))
        .filter(|(p, _)| !protected(p) && !keeps_below(p) && !owned_kept.contains(p))
        .collect();
    for (p, why) in leftovers {
        r.remove(&p, why);
    }
    // 4. --minify: only what the kept packages own, what the user and the
    // workload named, and what the system reads.
    if opts.minify {
        let workdir = config["WorkingDir"]
            .as_str()
            .unwrap_or("")
            .trim_matches('/')
            .to_owned();
        let argv: BTreeSet<String> = ["Entrypoint", "Cmd"]
            .iter()
            .flat_map(|k| config[*k].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .filter(|a| a.contains('/') || !workdir.is_empty())
            .map(|a| {
                if a.starts_with('/') {
                    a.trim_start_matches('/').to_owned()
                } else {
                    format!("{workdir}/{a}")
                }
            })
            .flat_map(|a| {
                let real = r.tree.resolve(&a);
                std::iter::once(a).chain(real)
            })
            .collect();
        // The dpkg records of kept packages (info/ and status.d/).
        let kept_dpkg = |p: &str| dpkg_owner(p).is_some_and(|n| !plan.removed.contains_key(n));
        let extra: Vec<(String, &str)> = r
            .tree
            .iter()
            .filter(|(_, n)| matches!(n.kind, NodeKind::File(_)))
            .filter_map(|(p, _)| {
                let named = protected(p)
                    || argv.contains(p)
                    || (!workdir.is_empty()
                        && (p == &workdir || p.starts_with(&format!("{workdir}/"))))
                    || system_file(p)
                    || kept_dpkg(p);
                if named {
                    None
                } else if documentation(p) {
                    Some((p.clone(), "documentation (--minify)"))
                } else if !owned_kept.contains(p) {
                    Some((
                        p.clone(),
                        "owned by no kept package and not named (--minify)",
                    ))
                } else {
                    None
                }
            })
            .collect();
        for (p, why) in extra {
            r.remove(&p, why);
        }
    }
    // Symlinks left dangling and directories left empty by the removals,
    // until neither changes anything (an emptied directory can leave a
    // symlink to it dangling).
    loop {
        let dangling: Vec<String> = resolving
            .iter()
            .filter(|p| r.tree.contains(p))
            .filter(|p| r.tree.resolve(p).is_none_or(|t| !r.tree.contains(&t)))
            .cloned()
            .collect();
        for p in &dangling {
            r.remove(p, "a symlink to a removed path");
        }
        let empty: Vec<String> = r
            .parents
            .iter()
            .filter(|d| {
                r.tree.get(d).is_some_and(Node::is_dir)
                    && !r.tree.has_children(d)
                    && !owned_kept.contains(*d)
                    && !kept(&opts.keep, d)
                    && !matches!(
                        d.as_str(),
                        "tmp" | "var/tmp" | "root" | "home" | "run" | "dev" | "proc" | "sys"
                    )
            })
            .cloned()
            .collect();
        r.parents.clear();
        for d in &empty {
            r.remove(d, "left empty");
        }
        if dangling.is_empty() && empty.is_empty() {
            break;
        }
    }
    // The dpkg database and apt's states, true to what is left.
    for db in ["var/lib/dpkg/status", "var/lib/apt/extended_states"] {
        if let Some(Node {
            kind: NodeKind::File(data),
            mode,
            uid,
            gid,
        }) = tree.get(db).cloned()
        {
            let new = without_stanzas(&data, &plan.removed);
            if new != *data {
                tree.insert(db, Node::file(new, mode).owned(uid, gid));
            }
        }
    }
    out.removed = removed;
    accounts(&mut tree, opts.user, config_user, &mut out);
    let bits = bulwark_build::strip_special_bits(&mut tree);
    out.setuid_stripped = bits.setuid_stripped;
    out.world_writable_fixed = bits.world_writable_fixed;
    out.caps_removed = capped
        .into_iter()
        .filter(|(p, _)| tree.contains(p))
        .collect();
    out.tree = tree;
    out
}

fn text_of(tree: &Tree, path: &str) -> Option<(String, u32, u32, u32)> {
    match tree.get(path) {
        Some(Node {
            kind: NodeKind::File(d),
            mode,
            uid,
            gid,
        }) => Some((String::from_utf8_lossy(d).into_owned(), *mode, *uid, *gid)),
        _ => None,
    }
}

fn put_text(tree: &mut Tree, path: &str, text: String, (mode, uid, gid): (u32, u32, u32)) {
    tree.insert(path, Node::file(text.into_bytes(), mode).owned(uid, gid));
}

/// Picks the run-as account (`--user`, else the image's own non-root
/// `USER`, else 65532), adds it to `/etc/passwd` and `/etc/group` when it
/// is not there, and gives accounts whose shell is gone `/usr/sbin/nologin`.
fn accounts(tree: &mut Tree, user: Option<(u32, u32)>, config_user: &str, out: &mut Rewritten) {
    let (passwd, pmode, puid, pgid) =
        text_of(tree, "etc/passwd").unwrap_or_else(|| (String::new(), 0o644, 0, 0));
    let (group, gmode, guid, ggid) =
        text_of(tree, "etc/group").unwrap_or_else(|| (String::new(), 0o644, 0, 0));
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 7)
        .collect();
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    let uid_of = |name: &str| -> Option<(u32, u32)> {
        if let Ok(n) = name.parse::<u32>() {
            let gid = entries
                .iter()
                .find(|f| f[2] == name)
                .and_then(|f| f[3].parse().ok())
                .unwrap_or(n);
            return Some((n, gid));
        }
        entries
            .iter()
            .find(|f| f[0] == name)
            .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
    };
    let gid_of = |name: &str| -> Option<u32> {
        name.parse::<u32>().ok().or_else(|| {
            groups
                .iter()
                .find(|f| f[0] == name)
                .and_then(|f| f[2].parse().ok())
        })
    };
    let (u, g) = match config_user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (config_user, None),
    };
    let configured = uid_of(u).map(|(uid, gid)| (uid, g.and_then(gid_of).unwrap_or(gid)));
    let (uid, gid) = match (user, configured) {
        (Some(x), _) => x,
        (None, Some((uid, gid))) if uid != 0 && !u.is_empty() => (uid, gid),
        (None, _) => {
            if !u.is_empty() && configured.is_none() {
                out.notes.push(format!(
                    "the image's USER {config_user:?} is not in /etc/passwd; running as {NONROOT}:{NONROOT} instead"
                ));
            }
            (NONROOT, NONROOT)
        }
    };
    out.uid = uid;
    out.gid = gid;
    let mut passwd_out = String::new();
    let shell_gone = |sh: &str| {
        let p = sh.trim_start_matches('/');
        tool(p) == Some("shell") && tree.resolve(p).is_none_or(|r| !tree.contains(&r))
    };
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 7 && shell_gone(f[6]) {
            out.shells_reset.push(f[0].to_owned());
            let mut g = f.clone();
            g[6] = "/usr/sbin/nologin";
            passwd_out.push_str(&g.join(":"));
        } else {
            passwd_out.push_str(line);
        }
        passwd_out.push('\n');
    }
    if !entries.iter().any(|f| f[2] == uid.to_string()) {
        let name = ["nonroot", "bulwark-user"]
            .into_iter()
            .find(|n| !entries.iter().any(|f| f[0] == *n))
            .unwrap_or("bulwark-run");
        passwd_out.push_str(&format!(
            "{name}:x:{uid}:{gid}:{name}:/nonexistent:/usr/sbin/nologin\n"
        ));
        out.user_created = Some(name.to_owned());
        if !groups.iter().any(|f| f[2] == gid.to_string()) {
            let mut group_out = group.clone();
            if !group_out.is_empty() && !group_out.ends_with('\n') {
                group_out.push('\n');
            }
            group_out.push_str(&format!("{name}:x:{gid}:\n"));
            put_text(tree, "etc/group", group_out, (gmode, guid, ggid));
        }
        if let Some((shadow, smode, suid, sgid)) = text_of(tree, "etc/shadow") {
            let mut s = shadow;
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&format!("{name}:!:::::::\n"));
            put_text(tree, "etc/shadow", s, (smode, suid, sgid));
        }
    }
    if passwd_out != passwd {
        put_text(tree, "etc/passwd", passwd_out, (pmode, puid, pgid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers() {
        assert_eq!(
            leftover("app/.git/objects/ab", false),
            Some(("app/.git".into(), "version-control metadata"))
        );
        assert_eq!(
            leftover("var/lib/apt/lists/x_Packages", false).map(|l| l.1),
            Some("apt's index lists")
        );
        assert_eq!(leftover("var/lib/apt/lists", true), None);
        assert_eq!(
            leftover("tmp/build/x.o", false),
            Some(("tmp/build".into(), "a temporary file"))
        );
        assert_eq!(
            leftover("home/app/.cache/pip/x", false),
            Some(("home/app/.cache".into(), "a cache"))
        );
        assert_eq!(leftover("usr/bin/python3", false), None);
    }

    #[test]
    fn dpkg_records_belong_to_their_package_only() {
        assert_eq!(dpkg_owner("var/lib/dpkg/info/bash.list"), Some("bash"));
        assert_eq!(
            dpkg_owner("var/lib/dpkg/info/libc6:amd64.md5sums"),
            Some("libc6")
        );
        assert_eq!(
            dpkg_owner("var/lib/dpkg/info/python3.11.list"),
            Some("python3.11")
        );
        assert_eq!(dpkg_owner("var/lib/dpkg/info/format"), None);
        assert_eq!(
            dpkg_owner("var/lib/dpkg/status.d/python3.11"),
            Some("python3.11")
        );
        assert_eq!(
            dpkg_owner("var/lib/dpkg/status.d/python3.11-minimal.md5sums"),
            Some("python3.11-minimal")
        );
        assert_eq!(dpkg_owner("var/lib/dpkg/status"), None);
    }

    #[test]
    fn stanzas_of_removed_packages_go_and_the_rest_stay_byte_for_byte() {
        let status = b"Package: bash\nStatus: install ok installed\n\nPackage: libc6\nStatus: install ok installed\nDescription: x\n .\n y\n\npackage: curl\nStatus: install ok installed\n";
        let removed: BTreeMap<String, String> = [
            ("bash".into(), String::new()),
            ("curl".into(), String::new()),
        ]
        .into();
        assert_eq!(
            without_stanzas(status, &removed),
            b"Package: libc6\nStatus: install ok installed\nDescription: x\n .\n y\n\n"
        );
        // CRLF, a non-UTF-8 byte in a kept stanza, no final newline.
        let crlf = b"Package: bash\r\nVersion: 1\r\n\r\nPackage: libc6\r\nMaintainer: \xe9\r\n";
        assert_eq!(
            without_stanzas(crlf, &removed),
            b"Package: libc6\r\nMaintainer: \xe9\r\n"
        );
    }

    #[test]
    fn an_account_is_added_for_a_root_image_and_shells_reset() {
        let mut tree = Tree::default();
        tree.insert(
            "etc/passwd",
            Node::file(b"root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n".to_vec(), 0o644),
        );
        tree.insert("etc/group", Node::file(b"root:x:0:\n".to_vec(), 0o644));
        let mut out = Rewritten::default();
        accounts(&mut tree, None, "", &mut out);
        assert_eq!((out.uid, out.gid), (NONROOT, NONROOT));
        assert_eq!(out.user_created.as_deref(), Some("nonroot"));
        assert_eq!(out.shells_reset, ["root"]);
        let (passwd, ..) = text_of(&tree, "etc/passwd").unwrap();
        assert!(
            passwd.starts_with("root:x:0:0:root:/root:/usr/sbin/nologin\n"),
            "{passwd}"
        );
        assert!(passwd.ends_with("nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin\n"));
        let (group, ..) = text_of(&tree, "etc/group").unwrap();
        assert!(group.ends_with("nonroot:x:65532:\n"));

        // The image's own non-root user is kept, numerically.
        let mut out = Rewritten::default();
        accounts(&mut tree, None, "www-data", &mut out);
        assert_eq!((out.uid, out.gid, out.user_created), (33, 33, None));
        // --user wins.
        let mut out = Rewritten::default();
        accounts(&mut tree, Some((1000, 1000)), "www-data", &mut out);
        assert_eq!(
            (out.uid, out.user_created.as_deref()),
            (1000, Some("bulwark-user"))
        );
    }
}
