//! Secrets: keys, credential files, `.env` files, secret-looking ENV,
//! labels and build arguments, and files that should not ship.

use bulwark_image::FileKind;

use super::Ctx;
use crate::finding::{Check, Pillar::Secrets, Severity};

const CIS: &[&str] = &["CIS-4.10", "CIS-DI-0010"];
const NEVER: &str = "Never bake secrets into images; mount them at run time.";

pub(crate) const SE_001: Check = Check {
    id: "SE-001",
    name: "PrivateKey",
    title: "Private key in the image",
    pillar: Secrets,
    severity: Severity::Critical,
    controls: CIS,
    fix: NEVER,
};
pub(crate) const SE_002: Check = Check {
    id: "SE-002",
    name: "CredentialsFile",
    title: "Credentials file in the image",
    pillar: Secrets,
    severity: Severity::Critical,
    controls: CIS,
    fix: NEVER,
};
pub(crate) const SE_003: Check = Check {
    id: "SE-003",
    name: "EnvFile",
    title: ".env file in the image",
    pillar: Secrets,
    severity: Severity::Critical,
    controls: CIS,
    fix: NEVER,
};
pub(crate) const SE_004: Check = Check {
    id: "SE-004",
    name: "SecretInConfig",
    title: "Secret-looking ENV, label or build step",
    pillar: Secrets,
    severity: Severity::High,
    controls: CIS,
    fix: "Pass secrets at run time (mounted files or a secret store) and to builds as build secrets (--secret), never in ENV, labels or build arguments.",
};
pub(crate) const SE_005: Check = Check {
    id: "SE-005",
    name: "UnneededFile",
    title: "Unneeded file (.git, Dockerfile, editor files)",
    pillar: Secrets,
    severity: Severity::Low,
    controls: &["DKL-LI-0003"],
    fix: "Exclude it from the build context.",
};

pub(crate) const CHECKS: &[Check] = &[SE_001, SE_002, SE_003, SE_004, SE_005];

/// The secret check a path's name falls under, and what to call it.
pub(crate) fn secret_name(path: &str) -> Option<(&'static Check, &'static str)> {
    let base = path.rsplit('/').next().unwrap_or(path);
    if matches!(base, "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519")
        || base.ends_with(".key") && !path.starts_with("usr/share/")
    {
        return Some((&SE_001, "private key"));
    }
    // Packages' documentation carries example configuration (git's
    // `test.netrc`); a key is a key wherever it lies.
    if path.starts_with("usr/share/doc/") {
        return None;
    }
    if path.ends_with(".aws/credentials")
        || path.ends_with(".docker/config.json")
        || path.ends_with(".kube/config")
        || path.ends_with(".config/gcloud/credentials.db")
        || path.ends_with(".netrc")
        || path.ends_with(".git-credentials")
    {
        return Some((&SE_002, "credentials file"));
    }
    if base == ".env" || base.starts_with(".env.") {
        return Some((&SE_003, "environment file"));
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

pub(crate) fn run(cx: &mut Ctx) {
    let fs = cx.fs;
    for (path, f) in &fs.files {
        if let Some((check, what)) = secret_name(path) {
            // A `*.key` file counts when it holds a private key (or could
            // not be read to tell).
            let real = f.kind == FileKind::File
                && (check.id != SE_001.id
                    || fs
                        .contents
                        .get(path)
                        .is_none_or(|d| String::from_utf8_lossy(d).contains("PRIVATE KEY")));
            if real {
                cx.add(check, format!("{what} /{path}"), Some(path.clone()));
            }
        }
        if unneeded(path, &f.kind) {
            cx.add(
                &SE_005,
                format!("unneeded file /{path}"),
                Some(path.clone()),
            );
        }
    }
    let cfg = cx.cfg;
    for e in cfg["Env"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
    {
        if let Some((k, v)) = e.as_str().and_then(|s| s.split_once('='))
            && secret_key(k)
            && !v.is_empty()
        {
            cx.add(
                &SE_004,
                format!("environment variable {k} looks like a secret"),
                Some(format!("config.Env.{k}")),
            );
        }
    }
    if let Some(labels) = cfg["Labels"].as_object() {
        for (k, v) in labels {
            if secret_key(k) && v.as_str().is_some_and(|s| !s.is_empty()) {
                cx.add(
                    &SE_004,
                    format!("label {k} looks like a secret"),
                    Some(format!("config.Labels.{k}")),
                );
            }
        }
    }
    let history = cx.history;
    for h in history {
        let by = h["created_by"].as_str().unwrap_or("");
        if by.split_whitespace().any(|w| {
            w.split_once('=')
                .is_some_and(|(k, v)| secret_key(k) && !v.is_empty())
        }) {
            cx.add(
                &SE_004,
                "a build step passes what looks like a secret".into(),
                Some("history".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documentation_examples_pass_but_keys_do_not() {
        assert!(secret_name("usr/share/doc/git/contrib/credential/test.netrc").is_none());
        assert!(secret_name("usr/share/doc/app/examples/.env").is_none());
        assert_eq!(
            secret_name("usr/share/doc/app/id_ed25519").map(|(c, _)| c.id),
            Some("SE-001")
        );
        assert_eq!(
            secret_name("root/.netrc").map(|(c, _)| c.id),
            Some("SE-002")
        );
    }
}
