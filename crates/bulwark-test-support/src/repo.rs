//! A synthetic Debian archive on disk.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::deb::{DebBuilder, compress};
use crate::key::TestKey;

/// The layout of one suite of an apt repository.
#[derive(Clone, Debug)]
pub struct Repo {
    pub suite: String,
    pub codename: String,
    pub component: String,
    /// Release `Date` (RFC 2822).
    pub date: String,
    pub valid_until: Option<String>,
    pub acquire_by_hash: bool,
    packages: Vec<DebBuilder>,
    /// Extra files to drop into the tree (path → bytes), e.g. etc/os-release fixtures.
    archs: Vec<String>,
}

impl Repo {
    pub fn new(codename: &str) -> Self {
        Repo {
            suite: codename.into(),
            codename: codename.into(),
            component: "main".into(),
            date: "Mon, 01 Jan 2024 00:00:00 UTC".into(),
            valid_until: None,
            acquire_by_hash: true,
            packages: Vec::new(),
            archs: vec!["amd64".into(), "arm64".into()],
        }
    }
    pub fn add(&mut self, deb: DebBuilder) -> &mut Self {
        self.packages.push(deb);
        self
    }
    pub fn archs(&mut self, archs: &[&str]) -> &mut Self {
        self.archs = archs.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Pool path of a package, as in the Packages `Filename` field.
    pub fn pool_path(&self, deb: &DebBuilder) -> String {
        let first = deb.name.chars().next().unwrap_or('x');
        let version = deb.version.replace(':', "%3a");
        format!(
            "pool/{}/{first}/{}/{}_{}_{}.deb",
            self.component, deb.name, deb.name, version, deb.arch
        )
    }

    /// Writes `dists/` and `pool/` under `root`; returns the paths written.
    pub fn write(&self, root: &Path, key: &TestKey) {
        let dists = root.join("dists").join(&self.suite);
        let mut listing: BTreeMap<String, (u64, String)> = BTreeMap::new();
        for arch in &self.archs {
            let mut packages = String::new();
            for deb in self
                .packages
                .iter()
                .filter(|d| &d.arch == arch || d.arch == "all")
            {
                let bytes = deb.build();
                let rel = self.pool_path(deb);
                let dest = root.join(&rel);
                std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                std::fs::write(&dest, &bytes).unwrap();
                let mut control = deb.control_text();
                control.push_str(&format!(
                    "Filename: {rel}\nSize: {}\nSHA256: {}\n\n",
                    bytes.len(),
                    hex::encode(Sha256::digest(&bytes))
                ));
                packages.push_str(&control);
            }
            let dir = format!("{}/binary-{arch}", self.component);
            std::fs::create_dir_all(dists.join(&dir)).unwrap();
            for (name, data) in [
                ("Packages".to_string(), packages.as_bytes().to_vec()),
                (
                    "Packages.xz".to_string(),
                    compress("xz", packages.as_bytes()),
                ),
                (
                    "Packages.gz".to_string(),
                    compress("gz", packages.as_bytes()),
                ),
            ] {
                let hash = hex::encode(Sha256::digest(&data));
                std::fs::write(dists.join(&dir).join(&name), &data).unwrap();
                if self.acquire_by_hash {
                    let bh = dists.join(&dir).join("by-hash/SHA256");
                    std::fs::create_dir_all(&bh).unwrap();
                    std::fs::write(bh.join(&hash), &data).unwrap();
                }
                listing.insert(format!("{dir}/{name}"), (data.len() as u64, hash));
            }
        }
        let mut release = format!(
            "Origin: Synthetic\nLabel: Synthetic\nSuite: {}\nCodename: {}\nDate: {}\n",
            self.suite, self.codename, self.date
        );
        if let Some(v) = &self.valid_until {
            release.push_str(&format!("Valid-Until: {v}\n"));
        }
        if self.acquire_by_hash {
            release.push_str("Acquire-By-Hash: yes\n");
        }
        release.push_str(&format!(
            "Architectures: {}\nComponents: {}\nDescription: synthetic test archive\nSHA256:\n",
            self.archs.join(" "),
            self.component
        ));
        for (path, (size, hash)) in &listing {
            release.push_str(&format!(" {hash} {size:>8} {path}\n"));
        }
        std::fs::write(dists.join("Release"), &release).unwrap();
        std::fs::write(dists.join("InRelease"), key.clearsign(&release)).unwrap();
    }
}
