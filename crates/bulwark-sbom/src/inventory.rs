//! Packages and OS of a merged image filesystem.

use bulwark_image::{FileKind, FileSystem};

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
}

/// A verified .deb file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DebFile {
    /// Archive-relative path (`pool/main/…`).
    pub filename: String,
    /// Hex sha256 of the file, as verified against the signed index.
    pub sha256: String,
}

/// What an image holds.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Inventory {
    pub os: Option<Os>,
    /// Sorted by name, then architecture.
    pub packages: Vec<Package>,
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
        let mut packages = Vec::new();
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
        for p in &mut packages {
            let d = copyright_of(fs, &p.name);
            p.license = d.license;
            p.copyright = d.copyright;
        }
        packages.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.arch.cmp(&b.arch)));
        packages.dedup_by(|a, b| a.name == b.name && a.arch == b.arch && a.version == b.version);
        Inventory { os, packages }
    }
}

/// `usr/share/doc/<pkg>/copyright`, following a symlinked doc directory.
fn copyright_of(fs: &FileSystem, name: &str) -> Dep5 {
    let direct = format!("usr/share/doc/{name}/copyright");
    if let Some(d) = fs.contents.get(&direct) {
        return parse_copyright(&String::from_utf8_lossy(d));
    }
    let dir = format!("usr/share/doc/{name}");
    if let Some(info) = fs.files.get(&dir)
        && info.kind == FileKind::Symlink
        && let Some(target) = &info.link
    {
        let t = target.trim_end_matches('/');
        let resolved = if t.starts_with('/') {
            t.trim_start_matches('/').to_owned()
        } else {
            format!("usr/share/doc/{t}")
        };
        if let Some(d) = fs.contents.get(&format!("{resolved}/copyright")) {
            return parse_copyright(&String::from_utf8_lossy(d));
        }
    }
    Dep5::default()
}

fn parse_status(text: &str, origin: &str, require_installed: bool) -> Vec<Package> {
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
            Some(Package {
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
        assert_eq!(v[0].name, "a");
    }
}
