//! Identity: who the image runs as, its accounts, and the permission bits
//! that let a process become someone else or rewrite the system.

use std::collections::BTreeMap;

use bulwark_image::FileKind;

use super::Ctx;
use crate::finding::{Check, Pillar::Identity, Severity};

const LEAST: &str = "SRG: least privilege";

pub(crate) const ID_001: Check = Check {
    id: "ID-001",
    name: "RunsAsRoot",
    title: "Image runs as root",
    pillar: Identity,
    severity: Severity::High,
    controls: &["CIS-4.1", "CIS-DI-0001", LEAST],
    fix: "Run as a non-root user (bulwark: accounts.run-as, default nonroot 65532).",
};
pub(crate) const ID_002: Check = Check {
    id: "ID-002",
    name: "UnresolvableUser",
    title: "USER neither numeric nor in /etc/passwd",
    pillar: Identity,
    severity: Severity::Medium,
    controls: &["CIS-4.1"],
    fix: "Use a numeric uid so that runAsNonRoot can be verified.",
};
pub(crate) const ID_003: Check = Check {
    id: "ID-003",
    name: "EmptyPassword",
    title: "Account with an empty password",
    pillar: Identity,
    severity: Severity::Critical,
    controls: &["DKL-LI-0001"],
    fix: "Lock the account (password field '*' or '!').",
};
pub(crate) const ID_004: Check = Check {
    id: "ID-004",
    name: "DuplicateId",
    title: "Duplicate uid or gid",
    pillar: Identity,
    severity: Severity::Medium,
    controls: &["DKL-LI-0002"],
    fix: "Give every account its own uid and every group its own gid.",
};
pub(crate) const ID_005: Check = Check {
    id: "ID-005",
    name: "SetuidFile",
    title: "Setuid or setgid file",
    pillar: Identity,
    severity: Severity::High,
    controls: &["CIS-4.8", "CIS-DI-0008"],
    fix: "Remove the setuid/setgid bit (bulwark strips them by default).",
};
pub(crate) const ID_006: Check = Check {
    id: "ID-006",
    name: "WorldWritable",
    title: "World-writable file or non-sticky world-writable directory",
    pillar: Identity,
    severity: Severity::Medium,
    controls: &[LEAST],
    fix: "Remove o+w (or, for a shared directory, set the sticky bit).",
};
pub(crate) const ID_007: Check = Check {
    id: "ID-007",
    name: "UserOwnsSystemPath",
    title: "System path owned by the run-as user",
    pillar: Identity,
    severity: Severity::Medium,
    controls: &[LEAST],
    fix: "Keep system paths root-owned and not group-writable; give the user only its home and declared writable paths.",
};
pub(crate) const ID_008: Check = Check {
    id: "ID-008",
    name: "DeviceNode",
    title: "Device node outside /dev",
    pillar: Identity,
    severity: Severity::Medium,
    controls: &[LEAST],
    fix: "Remove device nodes from the image.",
};
pub(crate) const ID_009: Check = Check {
    id: "ID-009",
    name: "Sudo",
    title: "sudo or doas in the image or its build steps",
    pillar: Identity,
    severity: Severity::Medium,
    controls: &["DKL-DI-0001", LEAST],
    fix: "Keep sudo and doas out of the image; switch USER for the build steps that need root.",
};
pub(crate) const ID_010: Check = Check {
    id: "ID-010",
    name: "SecondSuperuser",
    title: "An account other than root with uid 0",
    pillar: Identity,
    severity: Severity::High,
    controls: &["CIS-4.1", LEAST],
    fix: "Remove the account or give it its own non-zero uid; only root may have uid 0.",
};
pub(crate) const ID_011: Check = Check {
    id: "ID-011",
    name: "LoginShell",
    title: "An account with a login shell",
    pillar: Identity,
    severity: Severity::High,
    controls: &[LEAST, "SRG: no shells (Iron Bank)"],
    fix: "Set the shell of every account to /usr/sbin/nologin (bulwark writes /sbin/nologin for all).",
};

pub(crate) const ID_012: Check = Check {
    id: "ID-012",
    name: "FileCapabilities",
    title: "File with capabilities (security.capability)",
    pillar: Identity,
    severity: Severity::High,
    controls: &["CIS-4.8", LEAST],
    fix: "Remove the file's capabilities (setcap -r; bulwark harden strips them, bulwark builds carry none) and grant what the workload needs in the securityContext instead.",
};

pub(crate) const CHECKS: &[Check] = &[
    ID_001, ID_002, ID_003, ID_004, ID_005, ID_006, ID_007, ID_008, ID_009, ID_010, ID_011, ID_012,
];

/// One `/etc/passwd` line.
struct Account {
    name: String,
    password: String,
    uid: u64,
    gid: u64,
    shell: String,
}

fn passwd(text: &str) -> Vec<Account> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4).then(|| Account {
                name: f[0].to_owned(),
                password: f[1].to_owned(),
                uid: f[2].parse().unwrap_or(u64::MAX),
                gid: f[3].parse().unwrap_or(u64::MAX),
                shell: f.get(6).map(|s| s.trim().to_owned()).unwrap_or_default(),
            })
        })
        .collect()
}

/// Login shells that refuse a login (an empty field means /bin/sh to login(1)).
fn is_no_login_shell(shell: &str) -> bool {
    matches!(
        shell.rsplit('/').next().unwrap_or(shell),
        "nologin" | "false" | "sync" | "halt" | "shutdown"
    ) && !shell.is_empty()
}

/// Runs the identity checks; returns the config's USER (for the summary).
pub(crate) fn run(cx: &mut Ctx) -> String {
    let users = cx
        .text("etc/passwd")
        .map(|t| passwd(&t))
        .unwrap_or_default();
    let user = cx.cfg["User"].as_str().unwrap_or("").trim().to_owned();
    let user_part = user.split(':').next().unwrap_or("").to_owned();
    let run_uid: Option<u64> = if user_part.is_empty() {
        Some(0)
    } else {
        user_part
            .parse()
            .ok()
            .or_else(|| users.iter().find(|u| u.name == user_part).map(|u| u.uid))
    };
    // The run-as group: `USER uid:gid` (numeric or a name in /etc/group),
    // else the user's primary group from /etc/passwd.
    let run_gid: Option<u64> = match user.split_once(':') {
        Some((_, g)) => g.parse().ok().or_else(|| {
            cx.text("etc/group").and_then(|t| {
                t.lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() >= 3 && f[0] == g)
                    .and_then(|f| f[2].parse().ok())
            })
        }),
        None => run_uid.and_then(|u| users.iter().find(|x| x.uid == u).map(|x| x.gid)),
    };
    match run_uid {
        Some(0) => cx.add(
            &ID_001,
            if user.is_empty() {
                "no USER set: the image runs as root".into()
            } else {
                format!("USER {user:?} is root")
            },
            Some("config.User".into()),
        ),
        None => cx.add(
            &ID_002,
            format!("USER {user:?} is not in /etc/passwd and not numeric"),
            Some("config.User".into()),
        ),
        _ => {}
    }
    accounts(cx, &users);
    files(cx, run_uid, run_gid);
    sudo(cx);
    user
}

/// ID-003, ID-004, ID-010, ID-011: the accounts themselves.
fn accounts(cx: &mut Ctx, users: &[Account]) {
    let shadow = cx.text("etc/shadow");
    for u in users {
        let shadow_pw = shadow.as_deref().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(&format!("{}:", u.name)))
                .and_then(|l| l.split(':').nth(1))
                .map(str::to_owned)
        });
        let effective = if u.password == "x" {
            shadow_pw.unwrap_or_else(|| "*".into())
        } else {
            u.password.clone()
        };
        if effective.is_empty() {
            cx.add(
                &ID_003,
                format!("account {} has an empty password", u.name),
                Some("etc/shadow".into()),
            );
        }
        if u.uid == 0 && u.name != "root" {
            cx.add(
                &ID_010,
                format!(
                    "account {:?} has uid 0: a second superuser besides root",
                    u.name
                ),
                Some("etc/passwd".into()),
            );
        }
        if !is_no_login_shell(&u.shell) {
            cx.add(
                &ID_011,
                if u.shell.is_empty() {
                    format!(
                        "account {:?} has an empty login shell field (login(1) runs /bin/sh)",
                        u.name
                    )
                } else {
                    format!("account {:?} has the login shell {}", u.name, u.shell)
                },
                Some("etc/passwd".into()),
            );
        }
    }
    let mut uids: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for u in users {
        uids.entry(u.uid).or_default().push(&u.name);
    }
    for (uid, names) in uids.iter().filter(|(_, v)| v.len() > 1) {
        cx.add(
            &ID_004,
            format!("uid {uid} is shared by {}", names.join(", ")),
            Some("etc/passwd".into()),
        );
    }
    if let Some(g) = cx.text("etc/group") {
        let mut gids: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for l in g.lines() {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 3 {
                gids.entry(f[2].to_owned())
                    .or_default()
                    .push(f[0].to_owned());
            }
        }
        for (gid, names) in gids.iter().filter(|(_, v)| v.len() > 1) {
            cx.add(
                &ID_004,
                format!("gid {gid} is shared by {}", names.join(", ")),
                Some("etc/group".into()),
            );
        }
    }
}

/// ID-005 to ID-008 and ID-012: permission bits, file capabilities,
/// ownership and device nodes.
fn files(cx: &mut Ctx, run_uid: Option<u64>, run_gid: Option<u64>) {
    let fs = cx.fs;
    for (path, f) in &fs.files {
        if f.kind == FileKind::Symlink {
            continue;
        }
        if f.mode & 0o6000 != 0 && f.kind == FileKind::File {
            let what = if f.mode & 0o4000 != 0 {
                "setuid"
            } else {
                "setgid"
            };
            cx.add(&ID_005, format!("/{path} is {what}"), Some(path.clone()));
        }
        if let Some(caps) = &f.caps
            && matches!(f.kind, FileKind::File | FileKind::Hardlink)
        {
            // Like a setuid bit, capabilities on a file are granted to
            // whoever runs it (within the container's bounding set). An
            // attribute that grants nothing is only noted.
            let message = format!("/{path} carries file capabilities: {caps}");
            if caps.grants {
                cx.add(&ID_012, message, Some(path.clone()));
            } else {
                cx.add_at(&ID_012, Severity::Low, message, Some(path.clone()));
            }
        }
        if f.mode & 0o002 != 0 {
            if f.kind != FileKind::Dir {
                cx.add(
                    &ID_006,
                    format!("/{path} is world-writable"),
                    Some(path.clone()),
                );
            } else if f.mode & 0o1000 == 0 {
                cx.add(
                    &ID_006,
                    format!("/{path} is a world-writable directory without the sticky bit"),
                    Some(path.clone()),
                );
            }
        }
        let system = !(path.starts_with("home/")
            || path.starts_with("tmp")
            || path.starts_with("var/tmp")
            || path.starts_with("run/"))
            && (path.starts_with("usr/")
                || path.starts_with("etc/")
                || path.starts_with("bin/")
                || path.starts_with("sbin/")
                || path.starts_with("lib"));
        if let Some(uid) = run_uid
            && uid != 0
            && system
        {
            let how = if f.uid == uid {
                Some(format!("belongs to the run-as user {uid}"))
            } else if run_gid == Some(f.gid) && f.mode & 0o020 != 0 {
                Some(format!("is writable by the run-as group {}", f.gid))
            } else {
                None
            };
            if let Some(how) = how {
                cx.add(
                    &ID_007,
                    format!("/{path} {how}, which can therefore rewrite system files"),
                    Some(path.clone()),
                );
            }
        }
        if f.kind == FileKind::Device && !path.starts_with("dev/") {
            cx.add(
                &ID_008,
                format!("device node /{path} outside /dev"),
                Some(path.clone()),
            );
        }
    }
}

/// ID-009: sudo or doas in a build step or in the image.
fn sudo(cx: &mut Ctx) {
    let steps: Vec<usize> = cx
        .steps
        .iter()
        .enumerate()
        .filter(|(_, cmds)| cmds.iter().any(|argv| argv.first() == Some(&"sudo")))
        .map(|(i, _)| i)
        .collect();
    for i in steps {
        cx.add(
            &ID_009,
            "a build step uses sudo".into(),
            Some(format!("history.{i}")),
        );
    }
    for p in ["usr/bin/sudo", "usr/bin/doas", "bin/sudo"] {
        if cx.fs.files.get(p).is_some_and(|f| f.kind == FileKind::File) {
            cx.add(
                &ID_009,
                format!("/{p} lets a process become root"),
                Some(p.into()),
            );
        }
    }
}
