//! A policy file with its keys loaded: what the webhook decides with. Keys
//! are PEM public keys (cosign's `cosign.pub` included), named relative to
//! the policy file; a directory (a mounted Secret) contributes every
//! `*.pub` and `*.pem` file in it. Each policy has a digest over its
//! settings and its keys' bytes: cached decisions are keyed by it, so a
//! changed policy or key never reuses an old decision.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use bulwark_sign::PublicKey;

use crate::{AdmissionPolicy, PolicyError, PolicyFile};

/// One policy, ready to check images with.
#[derive(Debug)]
pub struct LoadedPolicy {
    pub policy: AdmissionPolicy,
    /// Its public keys.
    pub keys: Vec<PublicKey>,
    /// Predicate types that must verify (`attestations` and what the
    /// conditions read).
    pub required: Vec<String>,
    /// Predicate types the conditions read when present (SBOMs).
    pub reads: Vec<String>,
    /// `sha256:` over the policy and its keys.
    pub digest: String,
}

/// A policy file and every file it read.
#[derive(Debug)]
pub struct Policies {
    pub file: PolicyFile,
    pub policies: Vec<LoadedPolicy>,
    /// Every file read (the policy file and the keys), for reloads.
    pub sources: Vec<PathBuf>,
    /// `sha256:` over all of it.
    pub digest: String,
    /// [`fingerprint`] of the files as they were read: a watcher that
    /// compares it with a fresh one reloads whatever changed after (or
    /// while) this was loaded.
    pub fingerprint: String,
}

fn hash_source(h: &mut Sha256, path: &Path, bytes: &[u8]) {
    h.update(path.display().to_string().as_bytes());
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// A fingerprint of `paths` as they are now: each file's path and bytes; a
/// key directory's path and the names of the keys in it (so a key added
/// to a mounted Secret is seen).
#[must_use]
pub fn fingerprint(paths: &[PathBuf]) -> String {
    let mut h = Sha256::new();
    for p in paths {
        if p.is_dir() {
            let names = key_files(p, "").unwrap_or_default();
            let listing: Vec<String> = names.iter().map(|n| n.display().to_string()).collect();
            hash_source(&mut h, p, listing.join("\n").as_bytes());
        } else {
            let bytes = std::fs::read(p).unwrap_or_default();
            hash_source(&mut h, p, &bytes);
        }
    }
    hex::encode(h.finalize())
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Key files a `keys:` entry names: the file, or a directory's `*.pub` and
/// `*.pem` files (sorted; hidden entries such as a Secret's `..data` skipped).
fn key_files(path: &Path, origin: &str) -> Result<Vec<PathBuf>, PolicyError> {
    let err = |message: String| PolicyError {
        origin: origin.to_owned(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("key {}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| err(format!("key directory {}: {e}", path.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.')
                && (name.ends_with(".pub") || name.ends_with(".pem"))
                && p.is_file()
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(err(format!(
            "key directory {} holds no *.pub or *.pem file",
            path.display()
        )));
    }
    Ok(files)
}

impl Policies {
    /// Reads `path` and the keys it names.
    ///
    /// # Errors
    /// The file or a key cannot be read or is not valid; what and where.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let origin = path.display().to_string();
        let bytes = bulwark_limits::read_file(path, bulwark_limits::SPEC_FILE, "admission policy")
            .map_err(|e| PolicyError {
                origin: origin.clone(),
                message: e.to_string(),
            })?;
        let text = String::from_utf8(bytes).map_err(|_| PolicyError {
            origin: origin.clone(),
            message: "not UTF-8 text".into(),
        })?;
        let file = PolicyFile::from_yaml(&text, &origin)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut fp = Sha256::new();
        hash_source(&mut fp, path, text.as_bytes());
        Self::load_keys(file, base, &origin, vec![path.to_owned()], fp)
    }

    /// Loads the keys of an already parsed `file`, relative to `base`.
    ///
    /// # Errors
    /// A key cannot be read or parsed.
    pub fn with_keys(
        file: PolicyFile,
        base: &Path,
        origin: &str,
        sources: Vec<PathBuf>,
    ) -> Result<Self, PolicyError> {
        Self::load_keys(file, base, origin, sources, Sha256::new())
    }

    fn load_keys(
        file: PolicyFile,
        base: &Path,
        origin: &str,
        mut sources: Vec<PathBuf>,
        mut fp: Sha256,
    ) -> Result<Self, PolicyError> {
        let mut all = Sha256::new();
        for s in &sources {
            all.update(s.display().to_string().as_bytes());
        }
        all.update(serde_json::to_vec(&file).unwrap_or_default());
        let mut policies = Vec::new();
        for p in &file.policies {
            let mut keys = Vec::new();
            let mut h = Sha256::new();
            h.update(serde_json::to_vec(p).unwrap_or_default());
            for k in &p.keys {
                let named = base.join(k);
                let files = key_files(&named, origin)?;
                if named.is_dir() {
                    let listing: Vec<String> =
                        files.iter().map(|n| n.display().to_string()).collect();
                    hash_source(&mut fp, &named, listing.join("\n").as_bytes());
                    sources.push(named.clone());
                }
                for f in files {
                    let bytes =
                        bulwark_limits::read_file(&f, bulwark_limits::KEY_FILE, "public key")
                            .map_err(|e| PolicyError {
                                origin: origin.to_owned(),
                                message: format!("policy {}: {e}", p.name),
                            })?;
                    let key = PublicKey::from_pem(
                        &f.display().to_string(),
                        &String::from_utf8_lossy(&bytes),
                    )
                    .map_err(|e| PolicyError {
                        origin: origin.to_owned(),
                        message: format!("policy {}: {e}", p.name),
                    })?;
                    h.update(key.to_der());
                    hash_source(&mut fp, &f, &bytes);
                    keys.push(key);
                    sources.push(f);
                }
            }
            let mut required: Vec<String> = p
                .attestations
                .iter()
                .filter_map(|a| bulwark_attest::predicate_type(a).map(str::to_owned))
                .chain(
                    p.conditions
                        .predicate_types()
                        .into_iter()
                        .map(str::to_owned),
                )
                .collect();
            required.sort();
            required.dedup();
            let digest = sha256(&h.finalize());
            all.update(digest.as_bytes());
            let reads = p
                .conditions
                .reads()
                .into_iter()
                .map(str::to_owned)
                .collect();
            policies.push(LoadedPolicy {
                policy: p.clone(),
                keys,
                required,
                reads,
                digest,
            });
        }
        Ok(Self {
            file,
            policies,
            sources,
            digest: sha256(&all.finalize()),
            fingerprint: hex::encode(fp.finalize()),
        })
    }

    /// The policies that cover `image` in `namespace` by their globs
    /// ([`AdmissionPolicy::covers`](crate::AdmissionPolicy::covers);
    /// namespace selectors not applied: the engine applies them).
    #[must_use]
    pub fn applicable(&self, image: &str, namespace: &str) -> Vec<&LoadedPolicy> {
        self.policies
            .iter()
            .filter(|p| p.policy.covers(image, namespace))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_files_and_secret_directories() {
        let dir = tempfile::tempdir().unwrap();
        let k1 = bulwark_sign::PrivateKey::generate().public_key();
        let k2 = bulwark_sign::PrivateKey::generate().public_key();
        std::fs::write(dir.path().join("a.pub"), k1.to_pem()).unwrap();
        let secret = dir.path().join("secret");
        std::fs::create_dir_all(secret.join("..2026_12_02")).unwrap();
        std::fs::write(secret.join("cosign.pub"), k2.to_pem()).unwrap();
        std::fs::write(secret.join("cosign.key"), "not for us").unwrap();
        let policy = dir.path().join("policy.yaml");
        std::fs::write(
            &policy,
            "policies:\n  - {name: a, images: ['r/**'], keys: [a.pub, secret], attestations: [spdx], conditions: {non-root: true}}\n",
        )
        .unwrap();
        let p = Policies::load(&policy).unwrap();
        assert_eq!(p.policies[0].keys.len(), 2);
        assert_eq!(p.policies[0].required, ["https://spdx.dev/Document"]);
        assert_eq!(p.sources.len(), 4);
        assert_eq!(fingerprint(&p.sources), p.fingerprint);
        // A key added to the Secret changes the fingerprint.
        std::fs::write(secret.join("second.pem"), k1.to_pem()).unwrap();
        assert_ne!(fingerprint(&p.sources), p.fingerprint);
        std::fs::remove_file(secret.join("second.pem")).unwrap();
        let before = p.policies[0].digest.clone();
        // Another key, another digest: no cached decision survives it.
        std::fs::write(dir.path().join("a.pub"), k2.to_pem()).unwrap();
        assert_ne!(Policies::load(&policy).unwrap().policies[0].digest, before);

        std::fs::write(dir.path().join("a.pub"), "garbage").unwrap();
        let e = Policies::load(&policy).unwrap_err().to_string();
        assert!(e.contains("a.pub"), "{e}");
        std::fs::remove_file(secret.join("cosign.pub")).unwrap();
        std::fs::write(dir.path().join("a.pub"), k1.to_pem()).unwrap();
        let e = Policies::load(&policy).unwrap_err().to_string();
        assert!(e.contains("holds no *.pub"), "{e}");
        let e = Policies::load(&dir.path().join("missing.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.yaml"), "{e}");
    }
}
