//! The lockfile: exactly which bytes an image is built from.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Current lockfile format version.
pub const LOCK_VERSION: u32 = 1;

/// `SPEC.lock.json`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Lock {
    pub lockfile_version: u32,
    /// [`crate::Spec::resolution_digest`] of the spec this lock was made for.
    pub spec_digest: String,
    pub generated_by: String,
    pub suites: Vec<LockedSuite>,
    /// Per Debian architecture.
    pub archs: BTreeMap<String, LockedArch>,
}

/// A suite whose signed index the lock was made from.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedSuite {
    pub suite: String,
    pub uri: String,
    pub codename: Option<String>,
    pub version: Option<String>,
    /// Release `Date`, RFC 3339.
    pub date: Option<String>,
    pub inrelease: LockedIndex,
    pub signer: String,
    pub indexes: Vec<LockedIndex>,
}

/// A fetched index file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedIndex {
    pub url: String,
    pub sha256: String,
    pub size: u64,
}

/// The package set for one architecture.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedArch {
    pub packages: Vec<LockedPackage>,
}

/// One .deb, pinned.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    pub suite: String,
    /// Archive URI the file is fetched from.
    pub uri: String,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// `parent: dependency` that pulled this package in; absent when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulled_by: Option<String>,
}

impl LockedPackage {
    pub fn url(&self) -> String {
        format!("{}/{}", self.uri.trim_end_matches('/'), self.filename)
    }
}

/// A lockfile that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Read(#[from] bulwark_limits::LimitError),
    #[error(
        "{path}: not a valid bulwark lockfile: {reason}; delete it and run 'bulwark lock' again"
    )]
    Parse { path: String, reason: String },
    #[error(
        "{path}: lockfile version {found} is not supported (this bulwark writes version {expected}); run 'bulwark lock --update'"
    )]
    Version {
        path: String,
        found: u32,
        expected: u32,
    },
}

impl Lock {
    pub fn load(path: &Path) -> Result<Self, LockError> {
        let p = path.display().to_string();
        let text = bulwark_limits::read_file_string(path, bulwark_limits::SPEC_FILE, "lock")?;
        let lock: Lock = serde_json::from_str(&text).map_err(|e| LockError::Parse {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        if lock.lockfile_version != LOCK_VERSION {
            return Err(LockError::Version {
                path: p,
                found: lock.lockfile_version,
                expected: LOCK_VERSION,
            });
        }
        for a in lock.archs.values() {
            for pkg in &a.packages {
                if pkg.sha256.len() != 64 || !pkg.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(LockError::Parse {
                        path: p.clone(),
                        reason: format!("package {} has an invalid sha256", pkg.name),
                    });
                }
                if pkg.filename.starts_with('/') || pkg.filename.split('/').any(|c| c == "..") {
                    return Err(LockError::Parse {
                        path: p.clone(),
                        reason: format!("package {} has an unsafe filename", pkg.name),
                    });
                }
            }
        }
        Ok(lock)
    }

    /// Pretty JSON with a trailing newline (stable bytes for review and diffs).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}
