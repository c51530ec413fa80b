//! Credentials the way docker, podman and cosign find them.
//!
//! Order: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `$DOCKER_CONFIG/config.json`, `~/.docker/config.json`. In each file a
//! `credHelpers` entry for the host wins, then `auths` (`auth` = base64
//! `user:password`, or `username`/`password`, or `identitytoken`), then
//! `credsStore`. Helpers are the `docker-credential-NAME get` programs.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

/// What to present to a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials.
    Anonymous,
    /// A user name and a password or token.
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// The files consulted, in order.
#[must_use]
pub fn config_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE") {
        out.push(PathBuf::from(p));
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        out.push(PathBuf::from(d).join("containers/auth.json"));
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        out.push(PathBuf::from(d).join("config.json"));
    } else if let Some(h) = std::env::var_os("HOME") {
        out.push(PathBuf::from(h).join(".docker/config.json"));
    }
    out
}

/// Why credentials could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A docker/podman config file that exists but cannot be used.
    #[error("{path}: {detail}")]
    ConfigFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A `docker-credential-*` helper that failed.
    #[error("credential helper {program}: {detail}")]
    Helper {
        /// `docker-credential-NAME`.
        program: String,
        /// What happened.
        detail: String,
        /// The helper said it has nothing for this host.
        not_found: bool,
    },
}

/// Finds credentials for `host` (`name[:port]`).
///
/// # Errors
/// A config file that exists but is not valid JSON, or a credential helper
/// that fails: both are reported rather than silently sending no credentials.
pub fn lookup(host: &str) -> Result<Credentials, AuthError> {
    for path in config_files() {
        let Ok(data) = std::fs::read(&path) else {
            continue;
        };
        let cfg: ConfigFile = serde_json::from_slice(&data).map_err(|e| AuthError::ConfigFile {
            path: path.display().to_string(),
            detail: format!("not a valid credentials file: {e}"),
        })?;
        if let Some(c) = from_config(&cfg, host, &path)? {
            return Ok(c);
        }
    }
    Ok(Credentials::Anonymous)
}

fn from_config(
    cfg: &ConfigFile,
    host: &str,
    path: &std::path::Path,
) -> Result<Option<Credentials>, AuthError> {
    let bad = |detail: String| AuthError::ConfigFile {
        path: path.display().to_string(),
        detail,
    };
    if let Some(helper) = cfg.cred_helpers.get(host) {
        return helper_get(helper, host).map(Some);
    }
    let entry = cfg.auths.iter().find(|(k, _)| {
        let k = k
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        k == host || k.strip_prefix(host).is_some_and(|r| r.starts_with('/'))
    });
    if let Some((_, e)) = entry {
        if let Some(a) = e.auth.as_deref().filter(|a| !a.is_empty()) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .map_err(|err| bad(format!("auths[{host}].auth is not base64: {err}")))?;
            let s = String::from_utf8(raw)
                .map_err(|_| bad(format!("auths[{host}].auth is not UTF-8")))?;
            let (u, p) = s
                .split_once(':')
                .ok_or_else(|| bad(format!("auths[{host}].auth is not 'user:password'")))?;
            return Ok(Some(Credentials::Basic {
                username: u.to_string(),
                password: p.to_string(),
            }));
        }
        if let (Some(u), Some(p)) = (&e.username, &e.password) {
            return Ok(Some(Credentials::Basic {
                username: u.clone(),
                password: p.clone(),
            }));
        }
        if let Some(t) = &e.identitytoken {
            return Ok(Some(Credentials::Basic {
                username: "<token>".into(),
                password: t.clone(),
            }));
        }
    }
    if let Some(store) = &cfg.creds_store {
        return match helper_get(store, host) {
            Ok(c) => Ok(Some(c)),
            // A store that has nothing for this host is not an error.
            Err(AuthError::Helper {
                not_found: true, ..
            }) => Ok(None),
            Err(e) => Err(e),
        };
    }
    Ok(None)
}

fn helper_get(helper: &str, host: &str) -> Result<Credentials, AuthError> {
    let program = format!("docker-credential-{helper}");
    let failed = |detail: String, not_found: bool| AuthError::Helper {
        program: program.clone(),
        detail,
        not_found,
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("could not run: {e}"), false))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(host.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string(), false))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let not_found = said.contains("credentials not found");
        return Err(failed(format!("failed for {host}: {said}"), not_found));
    }
    let reply: HelperReply = serde_json::from_slice(&out.stdout)
        .map_err(|e| failed(format!("replied with invalid JSON: {e}"), false))?;
    Ok(Credentials::Basic {
        username: reply.username,
        password: reply.secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> ConfigFile {
        serde_json::from_str(json).unwrap_or_default()
    }

    #[test]
    fn auth_field_and_username_password_forms() {
        let p = std::path::Path::new("config.json");
        let c = cfg(r#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwYXNz"}}}"#);
        assert_eq!(
            from_config(&c, "127.0.0.1:5000", p).ok().flatten(),
            Some(Credentials::Basic {
                username: "user".into(),
                password: "pass".into()
            })
        );
        let c = cfg(r#"{"auths":{"https://127.0.0.1:5000/v2/":{"username":"u","password":"p"}}}"#);
        assert_eq!(
            from_config(&c, "127.0.0.1:5000", p).ok().flatten(),
            Some(Credentials::Basic {
                username: "u".into(),
                password: "p".into()
            })
        );
        assert_eq!(from_config(&c, "127.0.0.1:5001", p).ok().flatten(), None);
        let c = cfg(r#"{"auths":{"h":{"auth":"!!"}}}"#);
        assert!(from_config(&c, "h", p).is_err());
    }

    #[test]
    fn missing_helper_is_an_error() {
        let c = cfg(r#"{"credHelpers":{"h":"bulwark-test-no-such-helper"}}"#);
        let err = from_config(&c, "h", std::path::Path::new("c")).unwrap_err();
        assert!(
            err.to_string()
                .contains("docker-credential-bulwark-test-no-such-helper"),
            "{err}"
        );
    }
}
