//! Where each suite comes from and which keyring vouches for it.
//!
//! The spec may name a mirror, a security mirror and a keyring; whatever it
//! leaves out comes from the host's apt configuration (`sources.list`,
//! `sources.list.d/*.{list,sources}`, `Signed-By`, `trusted.gpg.d`).
//! bulwark itself never names a mirror.

use std::path::{Path, PathBuf};

use bulwark_apt::{Keyring, SuiteSpec};
use bulwark_debian::sources::{SourceEntry, read_host_sources};
use bulwark_spec::Distribution;

use crate::BuildError;

/// The part a suite plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Main,
    Updates,
    Security,
}

/// One suite to load.
#[derive(Clone, Debug)]
pub struct SuiteSource {
    pub spec: SuiteSpec,
    pub role: Role,
    pub keyring: Keyring,
}

const CODENAMES: &[&str] = &[
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "duke",
    "sid",
    "stable",
    "testing",
    "unstable",
    "oldstable",
];

/// Root of the apt configuration to read (`/`, or `BULWARK_APT_ROOT` for tests).
pub fn apt_root() -> PathBuf {
    std::env::var_os("BULWARK_APT_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Works out every suite of `dist`. Relative keyring paths are resolved
/// against `spec_dir`.
pub fn suites_for(
    dist: &Distribution,
    spec_dir: &Path,
    root: &Path,
) -> Result<Vec<SuiteSource>, BuildError> {
    let host = read_host_sources(root).map_err(|e| BuildError::Sources(e.to_string()))?;
    let codename = dist.suite.as_str();
    let main_entry = host
        .iter()
        .find(|e| e.suites.iter().any(|s| s == codename))
        .or_else(|| {
            host.iter()
                .find(|e| e.suites.iter().any(|s| CODENAMES.contains(&s.as_str())))
        });
    let security_entry = host
        .iter()
        .find(|e| e.suites.iter().any(|s| s.ends_with("-security")));

    let main_uri = match (&dist.mirror, main_entry) {
        (Some(m), _) => m.clone(),
        (None, Some(e)) => e.uri.clone(),
        (None, None) => {
            return Err(BuildError::Sources(format!(
                "no Debian archive for '{codename}' in the host's apt sources ({}etc/apt/sources.list*); set distribution.mirror in the spec",
                root.display()
            )));
        }
    };
    let keyring_for = |entry: Option<&SourceEntry>| -> Result<Keyring, BuildError> {
        if let Some(k) = &dist.keyring {
            let p = if Path::new(k).is_absolute() {
                PathBuf::from(k)
            } else {
                spec_dir.join(k)
            };
            return Ok(Keyring::load(&p)?);
        }
        if let Some(sb) = entry.and_then(|e| e.signed_by.as_deref()) {
            if sb.contains("-----BEGIN") {
                return Ok(Keyring::from_bytes(
                    sb.as_bytes(),
                    &format!(
                        "inline Signed-By of {}",
                        entry.map(|e| e.origin.as_str()).unwrap_or("?")
                    ),
                )?);
            }
            let p = PathBuf::from(sb);
            let p = if p.is_absolute() && root != Path::new("/") {
                root.join(p.strip_prefix("/").unwrap_or(&p))
            } else {
                p
            };
            return Ok(Keyring::load(&p)?);
        }
        trusted_gpg_d(root)
    };
    let main_keyring = keyring_for(if dist.mirror.is_some() {
        None
    } else {
        main_entry
    })?;
    let components = dist.components.clone();
    let mut out = vec![SuiteSource {
        spec: SuiteSpec {
            uri: main_uri.clone(),
            suite: codename.to_owned(),
            components: components.clone(),
        },
        role: Role::Main,
        keyring: main_keyring.clone(),
    }];
    if dist.updates {
        out.push(SuiteSource {
            spec: SuiteSpec {
                uri: main_uri,
                suite: format!("{codename}-updates"),
                components: components.clone(),
            },
            role: Role::Updates,
            keyring: main_keyring.clone(),
        });
    }
    if dist.security {
        let (uri, keyring) = match (&dist.security_mirror, security_entry) {
            (Some(m), _) => (m.clone(), main_keyring),
            (None, Some(e)) if dist.mirror.is_none() || dist.keyring.is_none() => {
                (e.uri.clone(), keyring_for(Some(e))?)
            }
            (None, Some(e)) => (e.uri.clone(), main_keyring),
            (None, None) => {
                return Err(BuildError::Sources(
                    "no '-security' suite in the host's apt sources; set distribution.security-mirror, or 'security: false' to build without security updates (not recommended)".into(),
                ));
            }
        };
        out.push(SuiteSource {
            spec: SuiteSpec {
                uri,
                suite: format!("{codename}-security"),
                components,
            },
            role: Role::Security,
            keyring,
        });
    }
    Ok(out)
}

/// apt's fallback trust store: `trusted.gpg` and `trusted.gpg.d/*.{gpg,asc}`.
fn trusted_gpg_d(root: &Path) -> Result<Keyring, BuildError> {
    let mut files = Vec::new();
    let single = root.join("etc/apt/trusted.gpg");
    if single.is_file() {
        files.push(single);
    }
    if let Ok(rd) = std::fs::read_dir(root.join("etc/apt/trusted.gpg.d")) {
        let mut v: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "gpg" || x == "asc"))
            .collect();
        v.sort();
        files.extend(v);
    }
    let mut ring: Option<Keyring> = None;
    for f in files {
        match Keyring::load(&f) {
            Ok(k) => {
                ring = Some(match ring.take() {
                    Some(r) => r.merge(k),
                    None => k,
                })
            }
            Err(e) => tracing::warn!("skipping {}: {e}", f.display()),
        }
    }
    ring.ok_or_else(|| {
        BuildError::Sources(
            "no keyring: the apt source has no Signed-By and etc/apt/trusted.gpg.d is empty; set distribution.keyring in the spec".into(),
        )
    })
}
