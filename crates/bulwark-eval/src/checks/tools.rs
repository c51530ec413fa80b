//! Shells and tools: shells, package managers, network tools, compilers
//! and debuggers in the executable directories.

use bulwark_image::FileKind;

use super::Ctx;
use crate::finding::{Check, Pillar::ShellAndTools, Severity};

const CONTROLS: &[&str] = &[
    "CIS-4.3",
    "SRG: no shells, compilers or package managers (Iron Bank)",
];
const FIX: &str = "Remove it from the image; debug with an ephemeral debug container instead.";

pub(crate) const ST_001: Check = Check {
    id: "ST-001",
    name: "Shell",
    title: "Shell or busybox applet",
    pillar: ShellAndTools,
    severity: Severity::High,
    controls: CONTROLS,
    fix: FIX,
};
pub(crate) const ST_002: Check = Check {
    id: "ST-002",
    name: "NetworkTool",
    title: "Network tool (curl, wget, nc, socat, ssh, telnet)",
    pillar: ShellAndTools,
    severity: Severity::Medium,
    controls: CONTROLS,
    fix: FIX,
};
pub(crate) const ST_003: Check = Check {
    id: "ST-003",
    name: "PackageManager",
    title: "Package manager",
    pillar: ShellAndTools,
    severity: Severity::High,
    controls: CONTROLS,
    fix: FIX,
};
pub(crate) const ST_004: Check = Check {
    id: "ST-004",
    name: "CompilerOrDebugger",
    title: "Compiler or debugger",
    pillar: ShellAndTools,
    severity: Severity::Medium,
    controls: CONTROLS,
    fix: FIX,
};

pub(crate) const CHECKS: &[Check] = &[ST_001, ST_002, ST_003, ST_004];

/// Directories whose programs count as tools (eval's ST checks, `bulwark harden`).
pub const BIN_DIRS: &[&str] = &[
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "usr/local/bin",
    "usr/local/sbin",
];

/// What a program of this name in a `bin` directory is, when it is a
/// shell, package manager, network tool, compiler or debugger.
#[must_use]
pub fn tool_category(name: &str) -> Option<&'static str> {
    category(name).map(|(_, what)| what)
}

/// The check a program name falls under, and what to call it.
fn category(name: &str) -> Option<(&'static Check, &'static str)> {
    Some(match name {
        "sh" | "bash" | "dash" | "ash" | "zsh" | "ksh" | "mksh" | "csh" | "tcsh" | "fish"
        | "busybox" => (&ST_001, "shell"),
        "apt" | "apt-get" | "dpkg" | "apk" | "rpm" | "yum" | "dnf" | "pip" | "pip3" | "npm"
        | "gem" => (&ST_003, "package manager"),
        "curl" | "wget" | "nc" | "ncat" | "netcat" | "socat" | "ssh" | "telnet" => {
            (&ST_002, "network tool")
        }
        "gcc" | "cc" | "g++" | "clang" | "go" | "rustc" | "cargo" | "make" | "cmake" | "javac"
        | "mvn" | "yarn" | "gdb" | "lldb" | "strace" | "ltrace" | "perf" => {
            (&ST_004, "compiler or debugger")
        }
        _ => return None,
    })
}

pub(crate) fn run(cx: &mut Ctx) {
    let fs = cx.fs;
    let merged_bin = |d: &str| fs.files.get(d).is_some_and(|f| f.kind == FileKind::Symlink);
    for (path, f) in &fs.files {
        if f.kind == FileKind::Dir {
            continue;
        }
        let Some((dir, base)) = path.rsplit_once('/') else {
            continue;
        };
        if !BIN_DIRS.contains(&dir) || (matches!(dir, "bin" | "sbin") && merged_bin(dir)) {
            continue;
        }
        let busybox_applet =
            f.link.as_deref().is_some_and(|l| l.ends_with("busybox")) && base != "busybox";
        let cat = category(base).or(busybox_applet.then_some((&ST_001, "busybox applet")));
        if let Some((check, what)) = cat {
            cx.add(
                check,
                format!("{what} /{path} is present"),
                Some(path.clone()),
            );
        }
    }
}
