//! AS-005: which packages does the entrypoint need?
//!
//! The entrypoint program is found on the image's PATH and followed through
//! symlinks; a script's interpreter and an ELF program's interpreter and
//! `DT_NEEDED` libraries join it. The packages owning those files (from the
//! dpkg file lists) and everything they depend on are needed. Installed
//! packages with code (programs or shared libraries) outside that closure are
//! reported. When the entrypoint cannot be analysed, nothing is claimed.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_image::{FileKind, FileSystem, Opened};
use bulwark_sbom::Inventory;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The program the image runs: `Entrypoint[0]`, else `Cmd[0]`.
fn argv0(config: &serde_json::Value) -> Option<String> {
    let c = &config["config"];
    let first = |k: &str| {
        c[k].as_array()
            .and_then(|a| a.first())
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    first("Entrypoint").or_else(|| first("Cmd"))
}

fn env_path(config: &serde_json::Value) -> String {
    config["config"]["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str()?.strip_prefix("PATH=").map(str::to_owned))
        .next()
        .unwrap_or_else(|| DEFAULT_PATH.to_owned())
}

/// Where `name` may be, as root-relative paths (PATH search for bare names).
fn candidates(name: &str, path: &str, workdir: &str) -> Vec<String> {
    let mut out: Vec<String> = if name.starts_with('/') {
        vec![name.trim_start_matches('/').to_owned()]
    } else if name.contains('/') {
        let mut parts: Vec<&str> = Vec::new();
        for c in workdir.split('/').chain(name.split('/')) {
            match c {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        vec![parts.join("/")]
    } else {
        path.split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| format!("{}/{name}", d.trim_matches('/')))
            .collect()
    };
    // Merged /usr: the file may be stored under usr/.
    let merged: Vec<String> = out
        .iter()
        .filter(|p| ["bin/", "sbin/", "lib/"].iter().any(|d| p.starts_with(d)))
        .map(|p| format!("usr/{p}"))
        .collect();
    out.extend(merged);
    out.iter_mut()
        .for_each(|p| *p = p.trim_start_matches('/').to_owned());
    out
}

/// Paths whose contents AS-005 reads: the entrypoint candidates and the
/// dpkg file lists.
pub(crate) fn wanted(img: &Opened) -> impl Fn(&str) -> bool + use<> {
    let wd = img.config["config"]["WorkingDir"]
        .as_str()
        .unwrap_or("/")
        .to_owned();
    let cands: BTreeSet<String> = argv0(&img.config)
        .map(|a| candidates(&a, &env_path(&img.config), &wd))
        .unwrap_or_default()
        .into_iter()
        .collect();
    // No entrypoint, nothing to analyse: the file lists are not kept.
    // dpkg's own `.list` files name every path; distroless-style images
    // have only `status.d/*.md5sums`.
    let lists = !cands.is_empty();
    move |p: &str| {
        cands.contains(p)
            || lists
                && ((p.starts_with("var/lib/dpkg/status.d/") && p.ends_with(".md5sums"))
                    || (p.starts_with("var/lib/dpkg/info/") && p.ends_with(".list")))
    }
}

/// `(interpreter, needed sonames)` of a 32- or 64-bit little- or big-endian
/// ELF file, or `None` when it is not one or is malformed.
pub(crate) fn elf_deps(d: &[u8]) -> Option<(Option<String>, Vec<String>)> {
    if d.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = match d.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let le = match d.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let num = |off: usize, len: usize| -> Option<u64> {
        let b = d.get(off..off.checked_add(len)?)?;
        let mut v = 0u64;
        for i in 0..len {
            let byte = if le { b[len - 1 - i] } else { b[i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let word = if wide { 8 } else { 4 };
    let (phoff, phentsize, phnum) = if wide {
        (num(32, 8)?, num(54, 2)?, num(56, 2)?)
    } else {
        (num(28, 4)?, num(42, 2)?, num(44, 2)?)
    };
    let mut interp = None;
    let mut dynamic = None;
    let mut loads = Vec::new();
    for i in 0..phnum.min(256) {
        let base = usize::try_from(phoff.checked_add(i * phentsize)?).ok()?;
        let ptype = num(base, 4)?;
        let (offset, vaddr, filesz) = if wide {
            (num(base + 8, 8)?, num(base + 16, 8)?, num(base + 32, 8)?)
        } else {
            (num(base + 4, 4)?, num(base + 8, 4)?, num(base + 16, 4)?)
        };
        match ptype {
            1 => loads.push((vaddr, offset, filesz)),
            2 => dynamic = Some((offset, filesz)),
            3 => {
                let s = usize::try_from(offset).ok()?;
                let e = s.checked_add(usize::try_from(filesz).ok()?)?;
                let raw = d.get(s..e)?;
                let raw = raw.split(|b| *b == 0).next()?;
                interp = Some(String::from_utf8_lossy(raw).into_owned());
            }
            _ => {}
        }
    }
    let Some((dyn_off, dyn_size)) = dynamic else {
        return Some((interp, Vec::new()));
    };
    let mut needed_offsets = Vec::new();
    let mut strtab = None;
    let entry = 2 * word;
    for i in 0..(dyn_size / entry as u64).min(4096) {
        let base = usize::try_from(dyn_off.checked_add(i * entry as u64)?).ok()?;
        let tag = num(base, word)?;
        let val = num(base + word, word)?;
        match tag {
            0 => break,
            1 => needed_offsets.push(val),
            5 => strtab = Some(val),
            _ => {}
        }
    }
    let strtab = strtab?;
    // DT_STRTAB is an address: map it to a file offset through PT_LOAD.
    let str_off = loads.iter().find_map(|&(vaddr, offset, filesz)| {
        (strtab >= vaddr && strtab < vaddr.checked_add(filesz)?).then(|| strtab - vaddr + offset)
    })?;
    let mut needed = Vec::new();
    for o in needed_offsets {
        let s = usize::try_from(str_off.checked_add(o)?).ok()?;
        let raw = d.get(s..)?.split(|b| *b == 0).next()?;
        needed.push(String::from_utf8_lossy(raw).into_owned());
    }
    Some((interp, needed))
}

/// Package file lists: package → listed paths (root-relative), from dpkg's
/// `info/*.list` or distroless-style `status.d/*.md5sums`. `fs` must have
/// been walked capturing them ([`crate::capture`] does).
#[must_use]
pub fn package_files(fs: &FileSystem) -> BTreeMap<String, Vec<String>> {
    file_lists(fs)
}

fn file_lists(fs: &FileSystem) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (p, data) in &fs.contents {
        // `status.d/PKG.md5sums` ("md5  path") or dpkg's `info/PKG[:ARCH].list`
        // ("/path"); the status.d control records beside them are not lists.
        let (pkg, md5) = if let Some(n) = p
            .strip_prefix("var/lib/dpkg/status.d/")
            .and_then(|n| n.strip_suffix(".md5sums"))
        {
            (n, true)
        } else if let Some(n) = p
            .strip_prefix("var/lib/dpkg/info/")
            .and_then(|n| n.strip_suffix(".list"))
        {
            (n, false)
        } else {
            continue;
        };
        let name = pkg.split(':').next().unwrap_or(pkg).to_owned();
        let text = String::from_utf8_lossy(data);
        let paths = out.entry(name).or_default();
        for line in text.lines() {
            let path = if md5 {
                line.split_once("  ").map_or("", |(_, p)| p)
            } else {
                line
            };
            let path = path.trim().trim_start_matches('/');
            if !path.is_empty() {
                paths.push(path.to_owned());
            }
        }
    }
    out
}

fn has_code(paths: &[String]) -> bool {
    paths.iter().any(|p| {
        let dir = p.rsplit_once('/').map_or("", |(d, _)| d);
        matches!(
            dir,
            "bin" | "sbin" | "usr/bin" | "usr/sbin" | "usr/local/bin" | "usr/local/sbin"
        ) || p.contains(".so")
    })
}

/// The result of the analysis: the program and the packages it does not need.
pub(crate) struct Unneeded {
    pub program: String,
    pub packages: Vec<String>,
}

/// What the entrypoint needs: the program it runs and every installed
/// package in its closure (the packages owning the program, its
/// interpreter and its `DT_NEEDED` libraries, and all they depend on).
/// The closure follows `Depends`, so it holds more than the process loads:
/// a package outside it is certainly not loaded at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closure {
    /// The program (root-relative path).
    pub program: String,
    /// What starting it loads, as found: the program, a script's
    /// interpreter, an ELF program's interpreter and `DT_NEEDED` libraries
    /// (root-relative, symlinks resolved).
    pub roots: Vec<String>,
    /// Binary package names.
    pub needed: BTreeSet<String>,
}

pub(crate) fn analyse(img: &Opened, fs: &FileSystem, inv: &Inventory) -> Option<Unneeded> {
    let lists = file_lists(fs);
    let c = closure_in(img, fs, inv, &lists)?;
    let packages: Vec<String> = inv
        .packages
        .iter()
        .filter(|p| !c.needed.contains(&p.name))
        .filter(|p| lists.get(&p.name).is_some_and(|l| has_code(l)))
        .map(|p| p.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Some(Unneeded {
        program: c.program,
        packages,
    })
}

/// The installed packages owning any of `paths` (root-relative; a path and
/// each dpkg-listed path are compared after resolving symlinks, so
/// `/usr/lib/…` in `/proc/PID/maps` finds a package that lists `/lib/…`).
#[must_use]
pub fn owners_of(fs: &FileSystem, paths: &BTreeSet<String>) -> BTreeSet<String> {
    let resolved: BTreeSet<String> = paths
        .iter()
        .map(|p| fs.resolve(p).unwrap_or_else(|| p.clone()))
        .chain(paths.iter().cloned())
        .collect();
    file_lists(fs)
        .into_iter()
        .filter(|(_, list)| {
            list.iter().any(|p| {
                resolved.contains(p) || fs.resolve(p).is_some_and(|r| resolved.contains(&r))
            })
        })
        .map(|(pkg, _)| pkg)
        .collect()
}

/// The entrypoint's [`Closure`], or `None` when it cannot be analysed (no
/// entrypoint, no package database, a program no package owns): then
/// nothing may be claimed about what it loads. `fs` must have been walked
/// capturing [`crate::capture`]'s files.
#[must_use]
pub fn closure(img: &Opened, fs: &FileSystem, inv: &Inventory) -> Option<Closure> {
    closure_in(img, fs, inv, &file_lists(fs))
}

fn closure_in(
    img: &Opened,
    fs: &FileSystem,
    inv: &Inventory,
    lists: &BTreeMap<String, Vec<String>>,
) -> Option<Closure> {
    if inv.packages.is_empty() {
        return None;
    }
    let path = env_path(&img.config);
    let wd = img.config["config"]["WorkingDir"].as_str().unwrap_or("/");
    let name = argv0(&img.config)?;
    let resolve_file = |cands: Vec<String>| {
        cands.iter().find_map(|c| {
            let r = fs.resolve(c)?;
            (fs.files.get(&r)?.kind == FileKind::File).then_some((c.clone(), r))
        })
    };
    let (named, program) = resolve_file(candidates(&name, &path, wd))?;
    // path → owning packages, built once: one lookup per root, however
    // many roots a (hostile) ELF file names and however long the lists are.
    let mut owners: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    for (pkg, paths) in lists {
        for p in paths {
            owners.entry(p.as_str()).or_default().push(pkg.as_str());
        }
    }
    let owner_of = |p: &str| -> Vec<&str> { owners.get(p).cloned().unwrap_or_default() };
    let mut roots: Vec<String> = vec![program.clone()];
    let mut analysed = !owner_of(&program).is_empty();
    let content = fs
        .contents
        .get(&named)
        .or_else(|| fs.contents.get(&program));
    if let Some(data) = content {
        if let Some(line) = data.strip_prefix(b"#!") {
            let line = String::from_utf8_lossy(line.split(|b| *b == b'\n').next()?).into_owned();
            let mut words = line.split_whitespace();
            let mut interp = words.next()?.to_owned();
            if interp.ends_with("/env") {
                interp = words.find(|w| !w.starts_with('-'))?.to_owned();
            }
            let (_, r) = resolve_file(candidates(&interp, &path, wd))?;
            roots.push(r);
            analysed = true;
        } else if let Some((interp, needed)) = elf_deps(data) {
            analysed = true;
            if let Some(i) = interp
                && let Some(r) = fs.resolve(&i)
            {
                roots.push(r);
            }
            let lib_dirs: Vec<&str> = fs
                .files
                .iter()
                .filter(|(p, f)| {
                    f.kind == FileKind::Dir
                        && (matches!(
                            p.as_str(),
                            "lib" | "lib64" | "usr/lib" | "usr/lib64" | "usr/local/lib"
                        ) || ((p.starts_with("usr/lib/") || p.starts_with("lib/"))
                            && p.matches('/').count() <= 2
                            && p.contains("-linux-")))
                })
                .map(|(p, _)| p.as_str())
                .collect();
            for so in needed {
                if let Some(r) = lib_dirs
                    .iter()
                    .find_map(|d| fs.resolve(&format!("{d}/{so}")))
                {
                    roots.push(r);
                }
            }
        }
    }
    if !analysed {
        return None;
    }
    // Owners of the roots, then their dependency closure.
    let by_name: BTreeMap<&str, &bulwark_sbom::Package> =
        inv.packages.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut needed: BTreeSet<&str> = BTreeSet::new();
    let mut todo: Vec<&str> = roots.iter().flat_map(|r| owner_of(r)).collect();
    while let Some(n) = todo.pop() {
        if needed.insert(n)
            && let Some(p) = by_name.get(n)
        {
            todo.extend(p.depends.iter().map(String::as_str));
        }
    }
    Some(Closure {
        program,
        roots,
        needed: needed.into_iter().map(str::to_owned).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_path_and_merged_usr() {
        assert_eq!(
            candidates("python3", "/usr/bin:/bin", "/"),
            ["usr/bin/python3", "bin/python3", "usr/bin/python3"]
        );
        assert_eq!(candidates("/app/run", DEFAULT_PATH, "/"), ["app/run"]);
        assert_eq!(candidates("./run", DEFAULT_PATH, "/app"), ["app/run"]);
        assert_eq!(
            candidates("../bin/x", DEFAULT_PATH, "/app"),
            ["bin/x", "usr/bin/x"]
        );
    }

    #[test]
    fn elf_parser_reads_a_real_program_and_never_panics() {
        let ls = std::fs::read("/bin/ls").unwrap();
        let (interp, needed) = elf_deps(&ls).unwrap();
        assert!(interp.unwrap().contains("ld-linux"));
        assert!(
            needed.iter().any(|n| n.starts_with("libc.so")),
            "{needed:?}"
        );
        // Every truncation and a few corruptions: an answer or None, no panic.
        for n in (0..ls.len().min(8192)).step_by(7) {
            let _ = elf_deps(&ls[..n]);
        }
        let mut bad = ls.clone();
        for i in (16..64).step_by(3) {
            bad[i] = 0xff;
            let _ = elf_deps(&bad);
        }
        assert!(elf_deps(b"#!/bin/sh\n").is_none());
    }
}
