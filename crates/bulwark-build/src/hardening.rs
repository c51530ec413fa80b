//! The hardening rules: which packages and paths are high-risk, and the
//! normalisation of ownership and permission bits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bulwark_layer::{NodeKind, Tree};
use bulwark_resolve::Resolution;
use bulwark_spec::{Lock, Spec};

use crate::BuildError;

/// Packages that must not enter an image unless `allow`ed, with their
/// category. A trailing `*` matches a prefix (`gcc-*`).
pub const HIGH_RISK_PACKAGES: &[(&str, &str)] = &[
    ("bash", "shell"),
    ("dash", "shell"),
    ("zsh", "shell"),
    ("ksh", "shell"),
    ("mksh", "shell"),
    ("tcsh", "shell"),
    ("csh", "shell"),
    ("fish", "shell"),
    ("yash", "shell"),
    ("posh", "shell"),
    ("busybox*", "shell and multi-call tool box"),
    ("apt", "package manager"),
    ("apt-utils", "package manager"),
    ("aptitude", "package manager"),
    ("dpkg", "package manager"),
    ("rpm", "package manager"),
    ("yum", "package manager"),
    ("dnf", "package manager"),
    ("apk-tools", "package manager"),
    ("python3-pip", "package manager"),
    ("python3-pip-whl", "package manager"),
    ("npm", "package manager"),
    ("rubygems-integration", "package manager"),
    ("curl", "network tool"),
    ("wget", "network tool"),
    ("netcat-openbsd", "network tool"),
    ("netcat-traditional", "network tool"),
    ("ncat", "network tool"),
    ("socat", "network tool"),
    ("openssh-client", "network tool"),
    ("openssh-server", "network tool"),
    ("telnet", "network tool"),
    ("inetutils-telnet", "network tool"),
    ("gcc", "compiler"),
    ("gcc-[0-9]*", "compiler"),
    ("g++", "compiler"),
    ("g++-[0-9]*", "compiler"),
    ("cpp", "compiler"),
    ("cpp-[0-9]*", "compiler"),
    ("clang", "compiler"),
    ("clang-[0-9]*", "compiler"),
    ("golang", "compiler"),
    ("golang-go", "compiler"),
    ("rustc", "compiler"),
    ("binutils", "compiler toolchain"),
    ("gdb", "debugger"),
    ("strace", "debugger"),
    ("ltrace", "debugger"),
    ("perl-base", "general-purpose interpreter"),
    ("perl", "general-purpose interpreter"),
    ("sudo", "privilege escalation"),
    ("login", "privilege escalation"),
    ("passwd", "account management"),
    ("util-linux", "system tools (su, mount)"),
];

/// File names in `usr/bin`, `usr/sbin`, `usr/local/{bin,sbin}` that are high-risk.
pub const HIGH_RISK_PATHS: &[(&str, &str)] = &[
    ("sh", "shell"),
    ("bash", "shell"),
    ("dash", "shell"),
    ("ash", "shell"),
    ("zsh", "shell"),
    ("ksh", "shell"),
    ("mksh", "shell"),
    ("csh", "shell"),
    ("tcsh", "shell"),
    ("fish", "shell"),
    ("busybox", "shell and multi-call tool box"),
    ("curl", "network tool"),
    ("wget", "network tool"),
    ("nc", "network tool"),
    ("ncat", "network tool"),
    ("netcat", "network tool"),
    ("socat", "network tool"),
    ("ssh", "network tool"),
    ("telnet", "network tool"),
    ("apt", "package manager"),
    ("apt-get", "package manager"),
    ("dpkg", "package manager"),
    ("rpm", "package manager"),
    ("yum", "package manager"),
    ("dnf", "package manager"),
    ("apk", "package manager"),
    ("pip", "package manager"),
    ("pip3", "package manager"),
    ("npm", "package manager"),
    ("gem", "package manager"),
    ("gcc", "compiler"),
    ("cc", "compiler"),
    ("go", "compiler"),
    ("rustc", "compiler"),
    ("gdb", "debugger"),
    ("strace", "debugger"),
    ("su", "privilege escalation"),
    ("sudo", "privilege escalation"),
];

fn pattern_matches(pattern: &str, name: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix("[0-9]*") {
        // A version suffix only: `gcc-12` matches, `gcc-12-base` does not.
        return name
            .strip_prefix(prefix)
            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit() || c == '.'));
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// The category of a high-risk package, if it is one.
pub fn high_risk_package(name: &str) -> Option<&'static str> {
    HIGH_RISK_PACKAGES
        .iter()
        .find(|(p, _)| pattern_matches(p, name))
        .map(|(_, c)| *c)
}

/// The category of a high-risk path (`usr/bin/bash`), if it is one.
pub fn high_risk_path(path: &str) -> Option<&'static str> {
    let (dir, file) = path.rsplit_once('/')?;
    if !matches!(
        dir,
        "usr/bin" | "usr/sbin" | "usr/local/bin" | "usr/local/sbin" | "bin" | "sbin"
    ) {
        return None;
    }
    HIGH_RISK_PATHS
        .iter()
        .find(|(n, _)| *n == file)
        .map(|(_, c)| *c)
}

fn violation(spec_path: &Path, offenders: Vec<(String, &str, Vec<String>)>) -> BuildError {
    let mut msg = String::from("high-risk packages entered the closure:");
    for (name, cat, chain) in &offenders {
        msg.push_str(&format!(
            "\n  - {name} ({cat}), pulled in by: {}",
            chain.join(" → ")
        ));
    }
    let first = &offenders[0].0;
    msg.push_str(&format!(
        "\nhint: cut it out with `exclude: [{{package: {first}, reason: \"...\"}}]` if the workload does not need it, or accept it with `allow: [{{package: {first}, reason: \"...\"}}]`"
    ));
    BuildError::Hardening {
        spec: spec_path.display().to_string(),
        message: msg,
    }
}

/// Fails when the resolved closure contains a high-risk package that the spec does not allow.
pub(crate) fn check_closure(
    spec: &Spec,
    spec_path: &Path,
    res: &Resolution,
) -> Result<(), BuildError> {
    let allowed: BTreeSet<&str> = spec.allow.iter().map(|a| a.package.as_str()).collect();
    let offenders: Vec<_> = res
        .packages
        .iter()
        .filter(|p| !allowed.contains(p.record.name.as_str()))
        .filter_map(|p| {
            high_risk_package(&p.record.name)
                .map(|c| (p.record.name.clone(), c, res.chain(&p.record.name)))
        })
        .collect();
    if offenders.is_empty() {
        Ok(())
    } else {
        Err(violation(spec_path, offenders))
    }
}

/// The same check on a lock (which may have been edited by hand).
pub(crate) fn check_lock(
    spec: &Spec,
    spec_path: &Path,
    lock: &Lock,
    arch: &str,
) -> Result<(), BuildError> {
    let allowed: BTreeSet<&str> = spec.allow.iter().map(|a| a.package.as_str()).collect();
    let Some(a) = lock.archs.get(arch) else {
        return Ok(());
    };
    let parents: BTreeMap<&str, &str> = a
        .packages
        .iter()
        .filter_map(|p| {
            p.pulled_by
                .as_deref()
                .and_then(|pb| pb.split_once(':'))
                .map(|(parent, _)| (p.name.as_str(), parent))
        })
        .collect();
    let chain = |name: &str| {
        let mut c = vec![name.to_owned()];
        let mut cur = name;
        while let Some(p) = parents.get(cur) {
            if c.iter().any(|x| x == p) {
                break;
            }
            c.push((*p).to_owned());
            cur = p;
        }
        c.reverse();
        c
    };
    let offenders: Vec<_> = a
        .packages
        .iter()
        .filter(|p| !allowed.contains(p.name.as_str()))
        .filter_map(|p| high_risk_package(&p.name).map(|c| (p.name.clone(), c, chain(&p.name))))
        .collect();
    if offenders.is_empty() {
        Ok(())
    } else {
        Err(violation(spec_path, offenders))
    }
}

/// What the hardening pass changed.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct HardeningReport {
    /// Paths whose setuid/setgid bits were removed.
    pub setuid_stripped: Vec<String>,
    /// Paths whose world-writable bit was removed.
    pub world_writable_fixed: Vec<String>,
    /// Paths whose owner was reset to root.
    pub ownership_reset: usize,
}

/// Root-owns everything, strips setuid/setgid (unless kept) and
/// world-writable bits (sticky `/tmp` and `exempt` paths excepted).
pub(crate) fn harden_tree(
    tree: &mut Tree,
    keep_setuid: bool,
    exempt: &BTreeSet<String>,
) -> HardeningReport {
    let mut r = HardeningReport::default();
    for (path, node) in tree.iter_mut() {
        if exempt.contains(path) {
            continue;
        }
        if node.uid != 0 || node.gid != 0 {
            node.uid = 0;
            node.gid = 0;
            r.ownership_reset += 1;
        }
        strip_bits(path, node, keep_setuid, &["tmp"], &mut r);
    }
    r
}

/// Strips setuid/setgid and world-writable bits everywhere (sticky `/tmp`
/// and sticky `var/tmp` excepted), leaving owners alone: the pass `bulwark
/// harden` runs over an image it did not build.
pub fn strip_special_bits(tree: &mut Tree) -> HardeningReport {
    let mut r = HardeningReport::default();
    for (path, node) in tree.iter_mut() {
        strip_bits(path, node, false, &["tmp", "var/tmp"], &mut r);
    }
    r
}

/// Strips `node`'s setuid/setgid bits (unless `keep_setuid`) and its
/// world-writable bit, except on the sticky directories in `sticky_ok`.
fn strip_bits(
    path: &str,
    node: &mut bulwark_layer::Node,
    keep_setuid: bool,
    sticky_ok: &[&str],
    r: &mut HardeningReport,
) {
    if matches!(node.kind, NodeKind::Symlink(_)) {
        return;
    }
    if !keep_setuid && node.mode & 0o6000 != 0 {
        node.mode &= !0o6000;
        r.setuid_stripped.push(path.to_owned());
    }
    let sticky_dir = node.is_dir() && node.mode & 0o1000 != 0;
    if node.mode & 0o002 != 0 && !(sticky_ok.contains(&path) && sticky_dir) {
        node.mode &= !0o002;
        r.world_writable_fixed.push(path.to_owned());
    }
}

/// Fails when a high-risk binary is present in the final tree and the
/// package that shipped it is not allowed.
pub(crate) fn check_tree(
    spec: &Spec,
    spec_path: &Path,
    tree: &Tree,
    owners: &BTreeMap<String, String>,
) -> Result<(), BuildError> {
    let allowed: BTreeSet<&str> = spec.allow.iter().map(|a| a.package.as_str()).collect();
    for (path, node) in tree.iter() {
        if node.is_dir() {
            continue;
        }
        if let Some(cat) = high_risk_path(path) {
            let owner = owners
                .get(path)
                .map(String::as_str)
                .unwrap_or("(local files)");
            if allowed.contains(owner) {
                continue;
            }
            return Err(BuildError::Hardening {
                spec: spec_path.display().to_string(),
                message: format!(
                    "/{path} ({cat}) would be in the image, shipped by {owner}; exclude or filter it (paths.exclude) or allow {owner} explicitly"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(high_risk_package("gcc-12"), Some("compiler"));
        assert_eq!(high_risk_package("gcc-12-base"), None);
        assert_eq!(high_risk_package("libgcc-s1"), None);
        assert_eq!(
            high_risk_package("busybox-static"),
            Some("shell and multi-call tool box")
        );
        assert_eq!(high_risk_package("bash-completion"), None);
        assert_eq!(high_risk_path("usr/bin/sh"), Some("shell"));
        assert_eq!(high_risk_path("usr/share/doc/sh"), None);
    }
}
