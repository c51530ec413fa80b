//! The checks.

use std::collections::BTreeMap;

use bulwark_image::{FileKind, FileSystem, Opened};
use bulwark_sbom::Inventory;
use serde::Serialize;

use crate::score::{Report, Summary, score};
use crate::trust::Trust;

/// The evaluation pillars (DOMAIN.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pillar {
    AttackSurface,
    ShellAndTools,
    Identity,
    Secrets,
    Exposure,
    Provenance,
}

impl Pillar {
    pub const ALL: [Pillar; 6] = [
        Pillar::AttackSurface,
        Pillar::ShellAndTools,
        Pillar::Identity,
        Pillar::Secrets,
        Pillar::Exposure,
        Pillar::Provenance,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Pillar::AttackSurface => "attack-surface",
            Pillar::ShellAndTools => "shell-and-tools",
            Pillar::Identity => "identity",
            Pillar::Secrets => "secrets",
            Pillar::Exposure => "exposure",
            Pillar::Provenance => "provenance",
        }
    }
}

/// Severity, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// One finding.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub pillar: Pillar,
    pub severity: Severity,
    pub message: String,
    /// The path (without leading `/`) or config key the finding is about.
    pub path: Option<String>,
    /// Controls this maps to (CIS Docker Benchmark, Dockle, DISA SRG).
    pub controls: Vec<&'static str>,
    pub remediation: &'static str,
    /// Set when a policy exception accepts this finding (with its reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excepted: Option<String>,
}

impl Finding {
    /// A finding not (yet) excepted by a policy.
    #[must_use]
    pub fn new(
        id: &'static str,
        pillar: Pillar,
        severity: Severity,
        message: String,
        path: Option<String>,
        controls: &[&'static str],
        remediation: &'static str,
    ) -> Finding {
        Finding {
            id,
            pillar,
            severity,
            message,
            path,
            controls: controls.to_vec(),
            remediation,
            excepted: None,
        }
    }
}

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
        || secret_name(path).is_some()
}

const BIN_DIRS: &[&str] = &[
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "usr/local/bin",
    "usr/local/sbin",
];

fn tool_category(name: &str) -> Option<(&'static str, Severity, &'static str)> {
    Some(match name {
        "sh" | "bash" | "dash" | "ash" | "zsh" | "ksh" | "mksh" | "csh" | "tcsh" | "fish"
        | "busybox" => ("ST-001", Severity::High, "shell"),
        "apt" | "apt-get" | "dpkg" | "apk" | "rpm" | "yum" | "dnf" | "pip" | "pip3" | "npm"
        | "gem" => ("ST-003", Severity::High, "package manager"),
        "curl" | "wget" | "nc" | "ncat" | "netcat" | "socat" | "ssh" | "telnet" => {
            ("ST-002", Severity::Medium, "network tool")
        }
        "gcc" | "cc" | "g++" | "clang" | "go" | "rustc" | "cargo" | "make" | "cmake" | "javac"
        | "mvn" | "yarn" | "gdb" | "lldb" | "strace" | "ltrace" | "perf" => {
            ("ST-004", Severity::Medium, "compiler or debugger")
        }
        _ => return None,
    })
}

fn secret_name(path: &str) -> Option<(&'static str, &'static str)> {
    let base = path.rsplit('/').next().unwrap_or(path);
    if matches!(base, "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519")
        || base.ends_with(".key") && !path.starts_with("usr/share/")
    {
        return Some(("SE-001", "private key"));
    }
    if path.ends_with(".aws/credentials")
        || path.ends_with(".docker/config.json")
        || path.ends_with(".kube/config")
        || path.ends_with(".config/gcloud/credentials.db")
        || path.ends_with(".netrc")
        || path.ends_with(".git-credentials")
    {
        return Some(("SE-002", "credentials file"));
    }
    if base == ".env" || base.starts_with(".env.") {
        return Some(("SE-003", "environment file"));
    }
    None
}

fn unneeded(path: &str, kind: &FileKind) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    (base == ".git" && *kind == FileKind::Dir)
        || matches!(
            base,
            "Dockerfile" | "Containerfile" | ".dockerignore" | "docker-compose.yml" | ".DS_Store"
        )
        || base.ends_with(".swp")
        || base.ends_with('~') && !path.starts_with("usr/")
}

fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|w| k.contains(w))
}

struct Ctx<'a> {
    out: Vec<Finding>,
    fs: &'a FileSystem,
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        id: &'static str,
        pillar: Pillar,
        severity: Severity,
        message: String,
        path: Option<String>,
        controls: &[&'static str],
        remediation: &'static str,
    ) {
        self.out.push(Finding::new(
            id,
            pillar,
            severity,
            message,
            path,
            controls,
            remediation,
        ));
    }
    fn text(&self, p: &str) -> Option<String> {
        self.fs
            .contents
            .get(p)
            .map(|d| String::from_utf8_lossy(d).into_owned())
    }
}

/// One `/etc/passwd` line: name, password field, uid, gid, login shell.
type PasswdEntry = (String, String, u64, u64, String);

fn passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4).then(|| {
                (
                    f[0].to_owned(),
                    f[1].to_owned(),
                    f[2].parse().unwrap_or(u64::MAX),
                    f[3].parse().unwrap_or(u64::MAX),
                    f.get(6).map(|s| s.trim().to_owned()).unwrap_or_default(),
                )
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

/// The tag an image is reached by: the reference's own (`oci:DIR:TAG`,
/// `HOST/REPO:TAG`, `docker-archive:FILE:NAME:TAG`), or for a docker archive
/// named without one, the tag its `RepoTags` gives it.
fn reference_tag(reference: &str, img: &Opened) -> Option<String> {
    let tag_of = |r: &str| {
        r.rsplit_once(':')
            .map(|(_, t)| t)
            .filter(|t| !t.contains('/'))
            .map(str::to_owned)
    };
    if reference.starts_with("docker-archive:") {
        return match bulwark_oci::Destination::parse(reference) {
            Ok(bulwark_oci::Destination::DockerArchive {
                reference: Some(name),
                ..
            }) => tag_of(&name),
            _ => img.repo_tags.first().and_then(|t| tag_of(t)),
        };
    }
    tag_of(reference)
}

/// Runs every check.
pub fn evaluate(img: &Opened, fs: &FileSystem, opts: &Options) -> Report {
    let inv = Inventory::from_fs(fs);
    let cfg = &img.config["config"];
    let mut c = Ctx {
        out: Vec::new(),
        fs,
    };
    let now = opts.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });

    // ---- attack surface
    let (compressed, uncompressed): (u64, u64) = fs
        .layer_sizes
        .iter()
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
    let files = fs
        .files
        .values()
        .filter(|f| f.kind != FileKind::Dir)
        .count();
    c.add(
        "AS-001",
        Pillar::AttackSurface,
        Severity::Info,
        format!(
            "{} layers, {:.1} MiB compressed, {:.1} MiB uncompressed, {files} files, {} packages",
            img.layers.len(),
            compressed as f64 / 1048576.0,
            uncompressed as f64 / 1048576.0,
            inv.packages.len()
        ),
        None,
        &["CIS-4.3", "SRG: remove unnecessary components"],
        "Build from only the packages the workload needs (bulwark build does this by construction).",
    );
    if img.layers.len() > 20 {
        c.add(
            "AS-002",
            Pillar::AttackSurface,
            Severity::Low,
            format!("{} layers (more than 20)", img.layers.len()),
            None,
            &["CIS-4.3"],
            "Squash or rebuild with fewer layers.",
        );
    }
    if uncompressed > 500 << 20 {
        c.add(
            "AS-003",
            Pillar::AttackSurface,
            Severity::Medium,
            format!(
                "{:.0} MiB uncompressed (more than 500 MiB)",
                uncompressed as f64 / 1048576.0
            ),
            None,
            &["CIS-4.3"],
            "Remove build tools, caches and documentation from the final image.",
        );
    }
    let created = img.config["created"].as_str().map(str::to_owned);
    let created_secs = created
        .as_deref()
        .and_then(bulwark_debian::time::parse_rfc3339);
    // A date that cannot be read, or one in the future, must not read as
    // "fresh": it is a finding of its own, weighted like an old image.
    let bad_date = match (&created, created_secs) {
        (None, _) => Some("the config has no creation date".to_owned()),
        (Some(t), None) => Some(format!("creation date {t:?} is not an RFC 3339 time")),
        (Some(t), Some(secs)) if secs > now + 86400 => {
            Some(format!("creation date {t} is in the future"))
        }
        _ => None,
    };
    if let Some(why) = bad_date {
        c.add(
            "AS-007",
            Pillar::AttackSurface,
            Severity::Medium,
            format!("{why}; the image's age cannot be verified"),
            Some("created".into()),
            &["CIS-4.4", "SRG: continuous scanning and rebuild"],
            "Set the config's created field to the real build time (bulwark sets it from SOURCE_DATE_EPOCH).",
        );
    }
    if let Some(t) = &created
        && let Some(secs) = created_secs
        && now - secs > 30 * 86400
    {
        c.add("AS-004", Pillar::AttackSurface, Severity::Medium, format!("image is {} days old (created {t}); base images older than 30 days miss security fixes", (now - secs) / 86400), Some("created".into()), &["CIS-4.4", "SRG: continuous scanning and rebuild"], "Rebuild regularly (bulwark lock --update && bulwark build).");
    }

    if let Some(u) = crate::needed::analyse(img, fs, &inv)
        && !u.packages.is_empty()
    {
        c.add(
            "AS-005",
            Pillar::AttackSurface,
            Severity::Info,
            format!(
                "{} of {} packages are not needed by the entrypoint /{} (file ownership and Depends): {}",
                u.packages.len(),
                inv.packages.len(),
                u.program,
                u.packages.join(", ")
            ),
            Some(u.program),
            &["CIS-4.3", "SRG: remove unnecessary components"],
            "Drop them from the spec (or exclude them with a reason) unless the workload loads them at run time.",
        );
    }

    // ---- shells and tools
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
        let cat = tool_category(base).or(busybox_applet.then_some((
            "ST-001",
            Severity::High,
            "busybox applet",
        )));
        if let Some((id, sev, what)) = cat {
            c.add(
                id,
                Pillar::ShellAndTools,
                sev,
                format!("{what} /{path} is present"),
                Some(path.clone()),
                &[
                    "CIS-4.3",
                    "SRG: no shells, compilers or package managers (Iron Bank)",
                ],
                "Remove it from the image; debug with an ephemeral debug container instead.",
            );
        }
    }

    // ---- identity
    let users = c.text("etc/passwd").map(|t| passwd(&t)).unwrap_or_default();
    let user = cfg["User"].as_str().unwrap_or("").trim().to_owned();
    let user_part = user.split(':').next().unwrap_or("").to_owned();
    let run_uid: Option<u64> = if user_part.is_empty() {
        Some(0)
    } else {
        user_part
            .parse()
            .ok()
            .or_else(|| users.iter().find(|u| u.0 == user_part).map(|u| u.2))
    };
    // The run-as group: `USER uid:gid` (numeric or a name in /etc/group),
    // else the user's primary group from /etc/passwd.
    let run_gid: Option<u64> = match user.split_once(':') {
        Some((_, g)) => g.parse().ok().or_else(|| {
            c.text("etc/group").and_then(|t| {
                t.lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() >= 3 && f[0] == g)
                    .and_then(|f| f[2].parse().ok())
            })
        }),
        None => run_uid.and_then(|u| users.iter().find(|x| x.2 == u).map(|x| x.3)),
    };
    match run_uid {
        Some(0) => c.add(
            "ID-001",
            Pillar::Identity,
            Severity::High,
            if user.is_empty() {
                "no USER set: the image runs as root".into()
            } else {
                format!("USER {user:?} is root")
            },
            Some("config.User".into()),
            &["CIS-4.1", "CIS-DI-0001", "SRG: least privilege"],
            "Run as a non-root user (bulwark: accounts.run-as, default nonroot 65532).",
        ),
        None => c.add(
            "ID-002",
            Pillar::Identity,
            Severity::Medium,
            format!("USER {user:?} is not in /etc/passwd and not numeric"),
            Some("config.User".into()),
            &["CIS-4.1"],
            "Use a numeric uid so that runAsNonRoot can be verified.",
        ),
        _ => {}
    }
    let shadow = c.text("etc/shadow");
    for (name, pw, _, _, _) in &users {
        let shadow_pw = shadow.as_deref().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(&format!("{name}:")))
                .and_then(|l| l.split(':').nth(1))
                .map(str::to_owned)
        });
        let effective = if pw == "x" {
            shadow_pw.unwrap_or_else(|| "*".into())
        } else {
            pw.clone()
        };
        if effective.is_empty() {
            c.add(
                "ID-003",
                Pillar::Identity,
                Severity::Critical,
                format!("account {name} has an empty password"),
                Some("etc/shadow".into()),
                &["DKL-LI-0001"],
                "Lock the account (password field '*' or '!').",
            );
        }
    }
    let mut uids: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for (n, _, uid, _, _) in &users {
        uids.entry(*uid).or_default().push(n);
    }
    for (n, _, uid, _, _) in users.iter().filter(|u| u.2 == 0 && u.0 != "root") {
        c.add(
            "ID-010",
            Pillar::Identity,
            Severity::High,
            format!("account {n:?} has uid {uid}: a second superuser besides root"),
            Some("etc/passwd".into()),
            &["CIS-4.1", "SRG: least privilege"],
            "Remove the account or give it its own non-zero uid; only root may have uid 0.",
        );
    }
    for (n, _, _, _, shell) in users.iter().filter(|u| !is_no_login_shell(&u.4)) {
        c.add(
            "ID-011",
            Pillar::Identity,
            Severity::High,
            if shell.is_empty() {
                format!("account {n:?} has an empty login shell field (login(1) runs /bin/sh)")
            } else {
                format!("account {n:?} has the login shell {shell}")
            },
            Some("etc/passwd".into()),
            &["SRG: least privilege", "SRG: no shells (Iron Bank)"],
            "Set the shell of every account to /usr/sbin/nologin (bulwark writes /sbin/nologin for all).",
        );
    }
    for (uid, names) in uids.iter().filter(|(_, v)| v.len() > 1) {
        c.add(
            "ID-004",
            Pillar::Identity,
            Severity::Medium,
            format!("uid {uid} is shared by {}", names.join(", ")),
            Some("etc/passwd".into()),
            &["DKL-LI-0002"],
            "Give every account its own uid.",
        );
    }
    if let Some(g) = c.text("etc/group") {
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
            c.add(
                "ID-004",
                Pillar::Identity,
                Severity::Medium,
                format!("gid {gid} is shared by {}", names.join(", ")),
                Some("etc/group".into()),
                &["DKL-LI-0002"],
                "Give every group its own gid.",
            );
        }
    }
    for (path, f) in &fs.files {
        if f.kind == FileKind::Symlink {
            continue;
        }
        if f.mode & 0o6000 != 0 && f.kind == FileKind::File {
            c.add(
                "ID-005",
                Pillar::Identity,
                Severity::High,
                format!(
                    "/{path} is {}",
                    if f.mode & 0o4000 != 0 {
                        "setuid"
                    } else {
                        "setgid"
                    }
                ),
                Some(path.clone()),
                &["CIS-4.8", "CIS-DI-0008"],
                "Remove the setuid/setgid bit (bulwark strips them by default).",
            );
        }
        if f.mode & 0o002 != 0 {
            if f.kind == FileKind::Dir {
                if f.mode & 0o1000 == 0 {
                    c.add(
                        "ID-006",
                        Pillar::Identity,
                        Severity::Medium,
                        format!("/{path} is a world-writable directory without the sticky bit"),
                        Some(path.clone()),
                        &["SRG: least privilege"],
                        "Remove o+w or set the sticky bit.",
                    );
                }
            } else {
                c.add(
                    "ID-006",
                    Pillar::Identity,
                    Severity::Medium,
                    format!("/{path} is world-writable"),
                    Some(path.clone()),
                    &["SRG: least privilege"],
                    "Remove o+w.",
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
            && f.kind != FileKind::Symlink
        {
            let how = if f.uid == uid {
                Some(format!("belongs to the run-as user {uid}"))
            } else if run_gid == Some(f.gid) && f.mode & 0o020 != 0 {
                Some(format!("is writable by the run-as group {}", f.gid))
            } else {
                None
            };
            if let Some(how) = how {
                c.add(
                    "ID-007",
                    Pillar::Identity,
                    Severity::Medium,
                    format!("/{path} {how}, which can therefore rewrite system files"),
                    Some(path.clone()),
                    &["SRG: least privilege"],
                    "Keep system paths root-owned and not group-writable; give the user only its home and declared writable paths.",
                );
            }
        }
        if f.kind == FileKind::Device && !path.starts_with("dev/") {
            c.add(
                "ID-008",
                Pillar::Identity,
                Severity::Medium,
                format!("device node /{path} outside /dev"),
                Some(path.clone()),
                &["SRG: least privilege"],
                "Remove device nodes from the image.",
            );
        }
    }

    // ---- secrets
    for (path, f) in &fs.files {
        if let Some((id, what)) = secret_name(path) {
            let real = f.kind == FileKind::File
                && (id != "SE-001"
                    || c.fs
                        .contents
                        .get(path)
                        .is_none_or(|d| String::from_utf8_lossy(d).contains("PRIVATE KEY")));
            if real {
                c.add(
                    id,
                    Pillar::Secrets,
                    Severity::Critical,
                    format!("{what} /{path}"),
                    Some(path.clone()),
                    &["CIS-4.10", "CIS-DI-0010"],
                    "Never bake secrets into images; mount them at run time.",
                );
            }
        }
        if unneeded(path, &f.kind) {
            c.add(
                "SE-005",
                Pillar::Secrets,
                Severity::Low,
                format!("unneeded file /{path}"),
                Some(path.clone()),
                &["DKL-LI-0003"],
                "Exclude it from the build context.",
            );
        }
    }
    for e in cfg["Env"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
    {
        if let Some((k, v)) = e.as_str().and_then(|s| s.split_once('='))
            && secret_key(k)
            && !v.is_empty()
        {
            c.add(
                "SE-004",
                Pillar::Secrets,
                Severity::High,
                format!("environment variable {k} looks like a secret"),
                Some(format!("config.Env.{k}")),
                &["CIS-4.10", "CIS-DI-0010"],
                "Pass secrets at run time (mounted files or a secret store), not in ENV.",
            );
        }
    }
    if let Some(labels) = cfg["Labels"].as_object() {
        for (k, v) in labels {
            if secret_key(k) && v.as_str().is_some_and(|s| !s.is_empty()) {
                c.add(
                    "SE-004",
                    Pillar::Secrets,
                    Severity::High,
                    format!("label {k} looks like a secret"),
                    Some(format!("config.Labels.{k}")),
                    &["CIS-4.10"],
                    "Remove secrets from labels.",
                );
            }
        }
    }
    let history = img.config["history"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default();
    for h in history {
        let by = h["created_by"].as_str().unwrap_or("");
        if by.split_whitespace().any(|w| {
            w.split_once('=')
                .is_some_and(|(k, v)| secret_key(k) && !v.is_empty())
        }) {
            c.add(
                "SE-004",
                Pillar::Secrets,
                Severity::High,
                "a build step passes what looks like a secret".into(),
                Some("history".into()),
                &["CIS-4.10", "CIS-DI-0010"],
                "Use build secrets (--secret) instead of ARG/ENV.",
            );
        }
        if by.contains(" ADD ") || by.starts_with("ADD ") || by.contains("#(nop) ADD") {
            c.add(
                "PR-002",
                Pillar::Provenance,
                Severity::Low,
                "the image was built with ADD (remote or archive side effects)".into(),
                Some("history".into()),
                &["CIS-4.9", "CIS-DI-0009"],
                "Use COPY.",
            );
        }
    }

    // Build steps Dockle and CHPs look at: `update` alone, upgrades, sudo,
    // unverified downloads. Each step is split into its commands.
    let steps: Vec<Vec<Vec<&str>>> = history
        .iter()
        .map(|h| commands(h["created_by"].as_str().unwrap_or("")))
        .collect();
    const PMS: &[&str] = &["apt-get", "apt", "apk", "yum", "dnf", "zypper"];
    // True when a command runs one of `tools` with a first non-option
    // argument among `verbs` (any argument when `verbs` is empty).
    let runs = |cmds: &[Vec<&str>], tools: &[&str], verbs: &[&str]| {
        cmds.iter().any(|argv| {
            let mut w = argv.iter().skip_while(|a| **a == "sudo");
            let tool = w.next().copied().unwrap_or("");
            tools.contains(&tool)
                && (verbs.is_empty()
                    || w.find(|a| !a.starts_with('-'))
                        .is_some_and(|a| verbs.contains(a)))
        })
    };
    for (i, cmds) in steps.iter().enumerate() {
        let step = Some(format!("history.{i}"));
        if runs(cmds, PMS, &["update"]) && !runs(cmds, PMS, &["install", "add"]) {
            c.add(
                "PR-008",
                Pillar::Provenance,
                Severity::Low,
                "a build step runs a package index update without installing in the same step (stale cached layer)".into(),
                step.clone(),
                &["CIS-DI-0007"],
                "Run update and install in one RUN step (or build with bulwark from a lock).",
            );
        }
        if runs(cmds, PMS, &["upgrade", "dist-upgrade", "full-upgrade"]) {
            c.add(
                "PR-009",
                Pillar::Provenance,
                Severity::Low,
                "a build step upgrades every package: the image is not reproducible from its base".into(),
                step.clone(),
                &["DKL-DI-0003"],
                "Rebuild from a newer, pinned base (bulwark lock --update) instead of upgrading in place.",
            );
        }
        if cmds.iter().any(|argv| argv.first() == Some(&"sudo")) {
            c.add(
                "ID-009",
                Pillar::Identity,
                Severity::Medium,
                "a build step uses sudo".into(),
                step.clone(),
                &["DKL-DI-0001", "SRG: least privilege"],
                "Switch USER for the steps that need root instead of sudo, and keep sudo out of the image.",
            );
        }
    }
    const CHECKERS: &[&str] = &[
        "sha256sum",
        "sha512sum",
        "sha1sum",
        "md5sum",
        "gpg",
        "gpgv",
        "cosign",
        "minisign",
    ];
    if let Some(i) = steps
        .iter()
        .position(|cmds| runs(cmds, &["curl", "wget"], &[]))
        && !steps.iter().any(|cmds| runs(cmds, CHECKERS, &[]))
    {
        c.add(
            "PR-011",
            Pillar::Provenance,
            Severity::Medium,
            "a build step downloads with curl/wget and no step verifies a checksum or signature"
                .into(),
            Some(format!("history.{i}")),
            &[
                "CIS-4.11",
                "SRG: verify software from approved sources",
                "CHPs: download verification",
            ],
            "Check every download against a pinned sha256 or signature in the same step.",
        );
    }
    let labelled = cfg["Labels"]
        .as_object()
        .is_some_and(|l| l.keys().any(|k| k.starts_with("org.opencontainers.image.")))
        || img
            .manifest
            .as_deref()
            .and_then(|m| serde_json::from_slice::<serde_json::Value>(m).ok())
            .and_then(|m| m["annotations"].as_object().cloned())
            .is_some_and(|a| a.keys().any(|k| k.starts_with("org.opencontainers.image.")));
    if !labelled && img.rootfs.is_none() {
        c.add(
            "PR-010",
            Pillar::Provenance,
            Severity::Low,
            "no org.opencontainers.image.* labels or annotations (source, version, vendor, licences)".into(),
            Some("config.Labels".into()),
            &["CHPs: annotations", "OCI image spec annotations"],
            "Label the image (bulwark spec labels: org.opencontainers.image.source, .version, .vendor, .licenses).",
        );
    }
    for p in ["usr/bin/sudo", "usr/bin/doas", "bin/sudo"] {
        if fs.files.get(p).is_some_and(|f| f.kind == FileKind::File) {
            c.add(
                "ID-009",
                Pillar::Identity,
                Severity::Medium,
                format!("/{p} lets a process become root"),
                Some(p.into()),
                &["DKL-DI-0001", "SRG: least privilege"],
                "Remove sudo/doas from the image.",
            );
        }
    }
    // Package manager caches left behind.
    let cache: Vec<&String> = fs
        .files
        .iter()
        .filter(|(p, f)| {
            f.kind == FileKind::File
                && f.size > 0
                && ((p.starts_with("var/lib/apt/lists/")
                    && !p.ends_with("/lock")
                    && !p.contains("/partial/"))
                    || (p.starts_with("var/cache/apt/")
                        && (p.ends_with(".bin") || p.ends_with(".deb")))
                    || p.starts_with("var/cache/apk/")
                    || p.starts_with("var/cache/yum/")
                    || p.starts_with("var/cache/dnf/")
                    || p.starts_with("root/.cache/pip/"))
        })
        .map(|(p, _)| p)
        .collect();
    if let Some(first) = cache.first() {
        let bytes: u64 = cache
            .iter()
            .filter_map(|p| fs.files.get(*p))
            .map(|f| f.size)
            .sum();
        c.add(
            "AS-006",
            Pillar::AttackSurface,
            Severity::Low,
            format!(
                "{} package manager cache files ({:.1} MiB) left in the image, e.g. /{first}",
                cache.len(),
                bytes as f64 / 1048576.0
            ),
            Some((*first).clone()),
            &["DKL-DI-0005", "CIS-4.3"],
            "Remove caches in the same step that fills them (rm -rf /var/lib/apt/lists/*), or build with bulwark (no caches at all).",
        );
    }

    // ---- exposure
    if let Some(ports) = cfg["ExposedPorts"].as_object() {
        for p in ports.keys() {
            let n: u32 = p.split('/').next().unwrap_or("").parse().unwrap_or(0);
            if n > 0 && n < 1024 {
                c.add(
                    "EX-002",
                    Pillar::Exposure,
                    Severity::Medium,
                    format!("privileged port {p} needs root or CAP_NET_BIND_SERVICE"),
                    Some("config.ExposedPorts".into()),
                    &["SRG: non-privileged ports (>1024)"],
                    "Listen on a port above 1023.",
                );
            } else {
                c.add(
                    "EX-001",
                    Pillar::Exposure,
                    Severity::Info,
                    format!("exposes {p}"),
                    Some("config.ExposedPorts".into()),
                    &[],
                    "Expose only what the workload serves.",
                );
            }
        }
    }
    if let Some(vols) = cfg["Volumes"].as_object() {
        for v in vols.keys() {
            if ["/proc", "/sys", "/dev"]
                .iter()
                .any(|s| v == s || v.starts_with(&format!("{s}/")))
            {
                c.add(
                    "EX-003",
                    Pillar::Exposure,
                    Severity::High,
                    format!("VOLUME {v} exposes host kernel interfaces"),
                    Some("config.Volumes".into()),
                    &["SRG: least privilege"],
                    "Remove the VOLUME.",
                );
            }
        }
    }
    if reference_tag(&opts.reference, img).as_deref() == Some("latest") {
        c.add(
            "EX-004",
            Pillar::Exposure,
            Severity::Low,
            "the reference uses the mutable :latest tag".into(),
            None,
            &["DKL-DI-0006"],
            "Refer to images by version tag and digest.",
        );
    }

    // ---- provenance
    if cfg["Healthcheck"].is_null() {
        c.add(
            "PR-001",
            Pillar::Provenance,
            Severity::Low,
            "no HEALTHCHECK in the image config".into(),
            Some("config.Healthcheck".into()),
            &["CIS-4.6", "CIS-DI-0006"],
            "Define a health check in the image, or liveness probes in Kubernetes.",
        );
    }
    let has_code = fs
        .files
        .keys()
        .any(|p| p.starts_with("usr/lib/") || p.starts_with("usr/bin/"));
    if inv.packages.is_empty() && has_code {
        c.add(
            "PR-003",
            Pillar::Provenance,
            Severity::Medium,
            "binaries without a package database: their origin cannot be traced".into(),
            None,
            &["CIS-4.11", "SRG: verify software from approved sources"],
            "Build from distribution packages (bulwark keeps status.d) or ship an SBOM.",
        );
    }

    let mut findings = c.out;
    if let Some(t) = &opts.trust {
        findings.extend(t.findings());
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(b.id))
            .then_with(|| a.path.cmp(&b.path))
    });
    let (pillars, overall, grade) = score(&findings);
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
        summary: Summary {
            layers: img.layers.len(),
            compressed_size: compressed,
            uncompressed_size: uncompressed,
            files,
            packages: inv.packages.len(),
            os: inv
                .os
                .as_ref()
                .map(|o| format!("{} {}", o.id, o.version_id.clone().unwrap_or_default())),
            user: Some(user),
            created,
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
