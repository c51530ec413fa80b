//! Packages and OS of a merged image filesystem.

use bulwark_image::FileSystem;

use crate::dep5::{Dep5, parse_copyright};

/// The operating system, from `os-release`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Os {
    pub id: String,
    /// `NAME` (e.g. "Debian GNU/Linux"): the OS component's supplier.
    pub name: Option<String>,
    pub version_id: Option<String>,
    pub version_codename: Option<String>,
    pub pretty_name: Option<String>,
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub source: Option<String>,
    pub source_version: Option<String>,
    pub maintainer: Option<String>,
    pub homepage: Option<String>,
    /// Declared licence (SPDX expression) from the DEP-5 copyright file.
    pub license: Option<String>,
    pub copyright: Vec<String>,
    /// Where the record came from (`var/lib/dpkg/status` or a `status.d` file).
    pub found_in: String,
    /// The .deb the package was installed from (pool path and sha256), when
    /// known: builds know it from the lock, scans of foreign images do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deb: Option<DebFile>,
    /// Installed packages this one depends on (`Depends` and `Pre-Depends`,
    /// each resolved to the first alternative that is installed, directly or
    /// through `Provides`), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends: Vec<String>,
}

/// A verified .deb file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DebFile {
    /// Archive-relative path (`pool/main/…`).
    pub filename: String,
    /// Hex sha256 of the file, as verified against the signed index.
    pub sha256: String,
    /// Hex sha512 of the same verified bytes (BSI TR-03183-2 asks for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha512: Option<String>,
}

/// One of the user's own files (a `files:` entry of the spec), as placed
/// in the image.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AppFile {
    /// Absolute path in the image.
    pub path: String,
    pub size: u64,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

impl AppFile {
    /// Hashes `data`, the content of `path`.
    pub fn new(path: &str, data: &[u8]) -> AppFile {
        use sha2::Digest;
        AppFile {
            path: format!("/{}", path.trim_start_matches('/')),
            size: data.len() as u64,
            sha1: hex::encode(sha1::Sha1::digest(data)),
            sha256: hex::encode(sha2::Sha256::digest(data)),
            sha512: hex::encode(sha2::Sha512::digest(data)),
        }
    }
}

/// What an image holds.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Inventory {
    pub os: Option<Os>,
    /// Sorted by name, then architecture.
    pub packages: Vec<Package>,
    /// The user's own files, sorted by path (known to builds only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<AppFile>,
}

/// The paths an inventory needs (pass to [`bulwark_image::Opened::walk`]).
pub fn wanted(path: &str) -> bool {
    path == "etc/os-release"
        || path == "usr/lib/os-release"
        || path == "var/lib/dpkg/status"
        || (path.starts_with("var/lib/dpkg/status.d/") && !path.ends_with(".md5sums"))
        || (path.starts_with("usr/share/doc/")
            && path.ends_with("/copyright")
            && path.matches('/').count() == 4)
}

fn parse_os(text: &str) -> Option<Os> {
    let mut os = Os::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_owned();
        match k.trim() {
            "ID" => os.id = v,
            "NAME" => os.name = Some(v),
            "VERSION_ID" => os.version_id = Some(v),
            "VERSION_CODENAME" => os.version_codename = Some(v),
            "PRETTY_NAME" => os.pretty_name = Some(v),
            _ => {}
        }
    }
    (!os.id.is_empty()).then_some(os)
}

impl Inventory {
    /// Reads the inventory from a walked filesystem (see [`wanted`]).
    pub fn from_fs(fs: &FileSystem) -> Inventory {
        let os = ["etc/os-release", "usr/lib/os-release"]
            .iter()
            .find_map(|p| {
                fs.contents
                    .get(*p)
                    .and_then(|d| parse_os(&String::from_utf8_lossy(d)))
            });
        let mut packages: Vec<Parsed> = Vec::new();
        if let Some(status) = fs.contents.get("var/lib/dpkg/status") {
            packages.extend(parse_status(
                &String::from_utf8_lossy(status),
                "var/lib/dpkg/status",
                true,
            ));
        }
        for (path, data) in fs.contents.range("var/lib/dpkg/status.d/".to_owned()..) {
            if !path.starts_with("var/lib/dpkg/status.d/") {
                break;
            }
            if path.ends_with(".md5sums") {
                continue;
            }
            packages.extend(parse_status(&String::from_utf8_lossy(data), path, false));
        }
        packages.sort_by(|a, b| {
            a.package
                .name
                .cmp(&b.package.name)
                .then_with(|| a.package.arch.cmp(&b.package.arch))
        });
        packages.dedup_by(|a, b| {
            a.package.name == b.package.name
                && a.package.arch == b.package.arch
                && a.package.version == b.package.version
        });
        let depends = resolve_depends(&packages);
        let packages = packages
            .into_iter()
            .zip(depends)
            .map(|(p, depends)| {
                let mut p = p.package;
                let d = copyright_of(fs, &p.name);
                p.license = d.license;
                p.copyright = d.copyright;
                p.depends = depends;
                p
            })
            .collect();
        Inventory {
            os,
            packages,
            files: Vec::new(),
        }
    }
}

/// `usr/share/doc/<pkg>/copyright`, following symlinked doc directories
/// (Debian chains them: `binutils-x86-64-linux-gnu` → `libbinutils` →
/// `binutils-common`). A copyright file that names no licence we can map
/// to SPDX concludes `LicenseRef-<pkg>-copyright-file`: the terms it states
/// in prose.
fn copyright_of(fs: &FileSystem, name: &str) -> Dep5 {
    let direct = format!("usr/share/doc/{name}/copyright");
    let text = fs
        .contents
        .get(&direct)
        .or_else(|| fs.resolve(&direct).and_then(|r| fs.contents.get(&r)));
    let Some(text) = text else {
        return Dep5::default();
    };
    let mut d = parse_copyright(&String::from_utf8_lossy(text));
    if d.license.is_none() {
        d.license = Some(copyright_file_ref(name));
    }
    d
}

/// The licence reference for terms stated only in a package's copyright file.
#[must_use]
pub fn copyright_file_ref(package: &str) -> String {
    let id: String = package
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '.'
            }
        })
        .collect();
    format!("LicenseRef-{id}-copyright-file")
}

/// The package a [`copyright_file_ref`] names, if `license_ref` is one.
#[must_use]
pub fn copyright_file_package(license_ref: &str) -> Option<&str> {
    license_ref
        .strip_prefix("LicenseRef-")?
        .strip_suffix("-copyright-file")
}

/// A package record with the relation fields its dependencies come from.
struct Parsed {
    package: Package,
    /// `Pre-Depends` and `Depends`, unparsed.
    relations: String,
    /// Names this package provides (versions dropped).
    provides: Vec<String>,
}

/// Each package's installed dependencies, by name: for every `Depends` and
/// `Pre-Depends` item, the first alternative that is an installed package or
/// is provided by one. Items nothing installed satisfies (cut on purpose by
/// an exclusion, or a broken image) are left out.
fn resolve_depends(packages: &[Parsed]) -> Vec<Vec<String>> {
    use std::collections::BTreeMap;
    let mut by_name: BTreeMap<&str, &str> = BTreeMap::new();
    for p in packages {
        by_name.insert(&p.package.name, &p.package.name);
    }
    for p in packages {
        for v in &p.provides {
            by_name.entry(v).or_insert(&p.package.name);
        }
    }
    packages
        .iter()
        .map(|p| {
            let Ok(deps) = bulwark_debian::relation::parse_relations(&p.relations) else {
                return Vec::new();
            };
            let mut out: Vec<String> = deps
                .iter()
                .filter_map(|d| {
                    d.alternatives
                        .iter()
                        .find_map(|r| by_name.get(r.name.as_str()).map(|n| (*n).to_owned()))
                })
                .filter(|n| n != &p.package.name)
                .collect();
            out.sort();
            out.dedup();
            out
        })
        .collect()
}

fn parse_status(text: &str, origin: &str, require_installed: bool) -> Vec<Parsed> {
    let Ok(paras) = bulwark_debian::parse_paragraphs(text) else {
        return vec![];
    };
    paras
        .iter()
        .filter(|p| {
            !require_installed
                || p.get("Status")
                    .is_some_and(|s| s.split_whitespace().last() == Some("installed"))
        })
        .filter_map(|p| {
            let (source, source_version) = match p.get("Source") {
                None => (None, None),
                Some(s) => {
                    let (n, v) = bulwark_debian::packages::parse_source_field(s);
                    (Some(n), v)
                }
            };
            let relations = [p.get("Pre-Depends"), p.get("Depends")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            let provides = p
                .get("Provides")
                .and_then(|v| bulwark_debian::relation::parse_relations(v).ok())
                .map(|ds| {
                    ds.into_iter()
                        .flat_map(|d| d.alternatives.into_iter().map(|r| r.name))
                        .collect()
                })
                .unwrap_or_default();
            let package = Package {
                name: p.get("Package")?.trim().to_owned(),
                version: p.get("Version")?.trim().to_owned(),
                arch: p.get("Architecture").unwrap_or("").trim().to_owned(),
                source,
                source_version,
                maintainer: p.get("Maintainer").map(|m| m.trim().to_owned()),
                homepage: p.get("Homepage").map(|h| h.trim().to_owned()),
                license: None,
                copyright: vec![],
                found_in: origin.to_owned(),
                deb: None,
                depends: Vec::new(),
            };
            Some(Parsed {
                package,
                relations,
                provides,
            })
        })
        .collect()
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `pkg:deb/debian/<name>@<version>?arch=<arch>&distro=debian-<VERSION_ID>[&upstream=…]`
/// (syft's form: the epoch stays in the version).
pub fn purl(p: &Package, os: Option<&Os>) -> String {
    let ns = os
        .map(|o| o.id.as_str())
        .filter(|i| !i.is_empty())
        .unwrap_or("debian");
    let mut s = format!("pkg:deb/{}/{}@{}", pct(ns), pct(&p.name), pct(&p.version));
    let mut q = Vec::new();
    if !p.arch.is_empty() {
        q.push(format!("arch={}", pct(&p.arch)));
    }
    if let Some(o) = os
        && let Some(v) = &o.version_id
    {
        q.push(format!("distro={}-{}", pct(&o.id), pct(v)));
    }
    if let Some(src) = &p.source
        && src != &p.name
    {
        match &p.source_version {
            Some(v) if v != &p.version => q.push(format!("upstream={}%40{}", pct(src), pct(v))),
            _ => q.push(format!("upstream={}", pct(src))),
        }
    }
    if !q.is_empty() {
        s.push('?');
        s.push_str(&q.join("&"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_like_syft() {
        let p = Package {
            name: "zlib1g".into(),
            version: "1:1.2.13.dfsg-1".into(),
            arch: "amd64".into(),
            source: Some("zlib".into()),
            source_version: None,
            maintainer: None,
            homepage: None,
            license: None,
            copyright: vec![],
            found_in: String::new(),
            deb: None,
            depends: vec![],
        };
        let os = Os {
            id: "debian".into(),
            version_id: Some("12".into()),
            ..Default::default()
        };
        assert_eq!(
            purl(&p, Some(&os)),
            "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib"
        );
    }

    #[test]
    fn status_file_keeps_only_installed() {
        let t = "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 2\nArchitecture: amd64\n";
        let v = parse_status(t, "status", true);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].package.name, "a");
    }

    #[test]
    fn dependencies_resolve_to_installed_packages_and_providers() {
        let t = "Package: app\nVersion: 1\nArchitecture: amd64\nPre-Depends: libc6 (>= 2.36)\nDepends: missing | mail-transport-agent, libc6, zlib1g:any, gone\n\n\
                 Package: libc6\nVersion: 2\nArchitecture: amd64\n\n\
                 Package: zlib1g\nVersion: 3\nArchitecture: amd64\nDepends: libc6\n\n\
                 Package: postfix\nVersion: 4\nArchitecture: amd64\nProvides: mail-transport-agent, default-mta (= 4)\n";
        let v = parse_status(t, "status.d", false);
        let d = resolve_depends(&v);
        assert_eq!(d[0], ["libc6", "postfix", "zlib1g"]);
        assert!(d[1].is_empty());
        assert_eq!(d[2], ["libc6"]);
    }

    #[test]
    fn app_files_carry_three_digests() {
        let f = AppFile::new("app/main.py", b"print(1)\n");
        assert_eq!(f.path, "/app/main.py");
        assert_eq!(f.size, 9);
        assert_eq!(f.sha1.len(), 40);
        assert_eq!(f.sha256.len(), 64);
        assert_eq!(f.sha512.len(), 128);
    }
}
