//! What is scanned: an image, a lock file or an SBOM, reduced to its
//! installed packages, its Debian release and, for images, what the
//! entrypoint needs and which ports it exposes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bulwark_vulndb::Installed;
use serde::Serialize;

use crate::Error;

/// What kind of thing was scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An image (any transport).
    Image,
    /// A bulwark lock file.
    Lock,
    /// An SPDX or CycloneDX SBOM.
    Sbom,
}

/// Everything the matching and the risk need from a target.
#[derive(Clone, Debug)]
pub struct Subject {
    /// The target as given.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// The image's manifest digest, when it has one.
    pub digest: Option<String>,
    /// Debian codename (`bookworm`).
    pub release: Option<String>,
    /// The OS as the target names it (`debian 12`).
    pub os: Option<String>,
    /// Installed binary packages with their sources.
    pub packages: Vec<Installed>,
    /// Whether a package database was found at all (an image without one
    /// cannot be said to have no vulnerabilities).
    pub inventoried: bool,
    /// The entrypoint's program and package closure, when it could be
    /// analysed (images only).
    pub closure: Option<bulwark_eval::Closure>,
    /// Ports the image exposes (`8080/tcp`).
    pub ports: Vec<String>,
    /// Package URL of each installed binary package, by name.
    pub purls: BTreeMap<String, String>,
    /// Debian architecture of the packages, when known.
    pub arch: Option<String>,
    /// Packages a running process mapped or opened (`--runtime-evidence`).
    pub runtime: Option<BTreeSet<String>>,
}

/// How to read an image target.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Platform of a multi-arch image (default: the host's).
    pub platform: Option<String>,
    /// Registry client settings.
    pub registry: bulwark_image::Options,
    /// The files a running process mapped or opened (an image's only).
    pub runtime_evidence: Option<std::path::PathBuf>,
}

/// Reads `target`: a lock file or an SBOM when it is a file holding one,
/// else an image reference.
///
/// # Errors
/// The target cannot be read, or is none of those.
pub fn load(target: &str, opts: &LoadOptions) -> Result<Subject, Error> {
    let p = Path::new(target);
    if p.is_file() {
        if opts.runtime_evidence.is_some() {
            return Err(Error::Target {
                target: target.to_owned(),
                detail: "runtime evidence names files in an image: scan the image, not a lock or an SBOM".into(),
            });
        }
        let data = bulwark_limits::read_file(p, bulwark_limits::PREDICATE_FILE, "scan target")
            .map_err(|e| Error::Target {
                target: target.to_owned(),
                detail: e.to_string(),
            })?;
        let doc: serde_json::Value = serde_json::from_slice(&data).map_err(|e| Error::Target {
            target: target.to_owned(),
            detail: format!(
                "not a lock file or an SBOM (JSON: {e}); images are named oci:DIR, oci-archive:FILE, docker-archive:FILE or HOST/REPO:TAG"
            ),
        })?;
        if doc.get("lockfile-version").is_some() {
            return from_lock(target, &data);
        }
        return from_sbom(target, &doc);
    }
    from_image(target, opts)
}

fn from_lock(target: &str, data: &[u8]) -> Result<Subject, Error> {
    let lock: bulwark_spec::Lock = serde_json::from_slice(data).map_err(|e| Error::Target {
        target: target.to_owned(),
        detail: format!("not a bulwark lock file: {e}"),
    })?;
    let host = bulwark_debian::host_arch();
    let (arch_name, arch) = lock
        .archs
        .get_key_value(host)
        .or_else(|| lock.archs.iter().next())
        .ok_or_else(|| Error::Target {
            target: target.to_owned(),
            detail: "the lock lists no architecture".into(),
        })?;
    let release = lock.suites.iter().find_map(|s| {
        s.codename
            .as_deref()
            .and_then(bulwark_vulndb::release::codename)
            .or_else(|| {
                s.version
                    .as_deref()
                    .and_then(bulwark_vulndb::release::codename)
            })
    });
    let os = release
        .and_then(bulwark_vulndb::release::version)
        .map(|v| bulwark_sbom::Os {
            id: "debian".into(),
            version_id: Some(v.to_owned()),
            ..bulwark_sbom::Os::default()
        });
    let pkgs: Vec<bulwark_sbom::Package> = arch
        .packages
        .iter()
        .map(|p| bulwark_sbom::Package {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.arch.clone(),
            source: p.source.clone(),
            source_version: p.source_version.clone(),
            maintainer: None,
            homepage: None,
            license: None,
            copyright: Vec::new(),
            found_in: String::new(),
            deb: None,
            depends: Vec::new(),
        })
        .collect();
    let purls = pkgs
        .iter()
        .map(|p| (p.name.clone(), bulwark_sbom::purl(p, os.as_ref())))
        .collect();
    let packages: Vec<Installed> = pkgs.iter().map(installed).collect();
    Ok(Subject {
        name: target.to_owned(),
        kind: Kind::Lock,
        digest: None,
        release: release.map(str::to_owned),
        os: release
            .and_then(bulwark_vulndb::release::version)
            .map(|v| format!("debian {v}")),
        inventoried: true,
        packages,
        closure: None,
        ports: Vec::new(),
        purls,
        arch: Some(arch_name.clone()),
        runtime: None,
    })
}

/// A package as matching sees it: its source (dpkg's `Source`, else its
/// own name) and source version (else its own version).
fn installed(p: &bulwark_sbom::Package) -> Installed {
    Installed::new(
        &p.name,
        &p.version,
        p.source.as_deref(),
        p.source_version.as_deref(),
    )
}

/// A `pkg:deb/…` purl: name, version, upstream source (name, version), distro.
fn parse_purl(purl: &str) -> Option<(Installed, Option<String>)> {
    let rest = purl.strip_prefix("pkg:deb/")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (_, nv) = path.split_once('/')?;
    let (name, version) = nv.split_once('@')?;
    let (name, version) = (decode(name), decode(version));
    let mut source = (name.clone(), version.clone());
    let mut distro = None;
    for kv in query.split('&') {
        match kv.split_once('=') {
            Some(("upstream", v)) => {
                let v = decode(v);
                source = match v.split_once('@') {
                    Some((n, ver)) => (n.to_owned(), ver.to_owned()),
                    None => (v, version.clone()),
                };
            }
            Some(("distro", v)) => distro = Some(decode(v)),
            _ => {}
        }
    }
    Some((
        Installed {
            name,
            version,
            source: source.0,
            source_version: source.1,
        },
        distro,
    ))
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn from_sbom(target: &str, doc: &serde_json::Value) -> Result<Subject, Error> {
    let mut purls: Vec<String> = Vec::new();
    let strs = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    if doc.get("spdxVersion").is_some() {
        for p in doc["packages"].as_array().into_iter().flatten() {
            for r in p["externalRefs"].as_array().into_iter().flatten() {
                if r["referenceType"] == "purl" {
                    purls.extend(strs(&r["referenceLocator"]));
                }
            }
        }
    } else if doc.get("bomFormat").is_some() {
        let mut stack: Vec<&serde_json::Value> = vec![doc];
        while let Some(v) = stack.pop() {
            for c in v["components"].as_array().into_iter().flatten() {
                purls.extend(strs(&c["purl"]));
                stack.push(c);
            }
        }
    } else if doc.get("@graph").is_some() {
        for e in doc["@graph"].as_array().into_iter().flatten() {
            purls.extend(strs(&e["software_packageUrl"]));
        }
    } else {
        return Err(Error::Target {
            target: target.to_owned(),
            detail: "JSON that is neither a bulwark lock, SPDX 2.3, SPDX 3 nor CycloneDX".into(),
        });
    }
    let mut distro = None;
    let mut packages = Vec::new();
    let mut by_name = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for p in &purls {
        if let Some((inst, d)) = parse_purl(p)
            && seen.insert((inst.name.clone(), inst.version.clone()))
        {
            distro = distro.or(d);
            by_name.insert(inst.name.clone(), p.clone());
            packages.push(inst);
        }
    }
    let release = distro
        .as_deref()
        .and_then(|d| d.rsplit_once('-').map_or(Some(d), |(_, v)| Some(v)))
        .and_then(bulwark_vulndb::release::codename);
    Ok(Subject {
        name: target.to_owned(),
        kind: Kind::Sbom,
        digest: None,
        release: release.map(str::to_owned),
        os: distro,
        inventoried: !packages.is_empty(),
        packages,
        closure: None,
        ports: Vec::new(),
        purls: by_name,
        arch: None,
        runtime: None,
    })
}

fn from_image(target: &str, opts: &LoadOptions) -> Result<Subject, Error> {
    let r: bulwark_image::ImageRef = target.parse()?;
    let img = bulwark_image::open_with(&r, opts.platform.as_deref(), &opts.registry)?;
    let eval_wants = bulwark_eval::capture(&img);
    let fs =
        img.walk(&|p: &str| bulwark_sbom::wanted(p) || eval_wants(p) || p == "etc/debian_version")?;
    of_image(target, &img, &fs, opts.runtime_evidence.as_deref())
}

/// The subject of an image already opened and walked (capturing at least
/// [`bulwark_eval::capture`]'s files), for callers that read it for more
/// than a scan (`bulwark eval`).
///
/// # Errors
/// The runtime evidence cannot be read.
pub fn of_image(
    target: &str,
    img: &bulwark_image::Opened,
    fs: &bulwark_image::FileSystem,
    runtime_evidence: Option<&Path>,
) -> Result<Subject, Error> {
    of_image_with(
        target,
        img,
        fs,
        &bulwark_sbom::Inventory::from_fs(fs),
        runtime_evidence,
    )
}

/// [`of_image`] with the image's inventory already read (eval reads it once
/// for its checks and the scan).
///
/// # Errors
/// As [`of_image`].
pub fn of_image_with(
    target: &str,
    img: &bulwark_image::Opened,
    fs: &bulwark_image::FileSystem,
    inv: &bulwark_sbom::Inventory,
    runtime_evidence: Option<&Path>,
) -> Result<Subject, Error> {
    let os = inv.os.as_ref();
    let release = os
        .and_then(|o| {
            o.version_codename
                .as_deref()
                .and_then(bulwark_vulndb::release::codename)
                .or_else(|| {
                    o.version_id
                        .as_deref()
                        .and_then(bulwark_vulndb::release::codename)
                })
        })
        .or_else(|| {
            fs.contents
                .get("etc/debian_version")
                .map(|d| String::from_utf8_lossy(d).trim().to_owned())
                .and_then(|d| bulwark_vulndb::release::codename(&d))
        });
    let release = release.or_else(|| release_from_versions(&inv.packages));
    let packages = inv.packages.iter().map(installed).collect();
    let closure = bulwark_eval::closure(img, fs, inv);
    let runtime = match runtime_evidence {
        Some(f) => Some(bulwark_eval::owners_of(
            fs,
            &crate::exposure::runtime_paths(f)?,
        )),
        None => None,
    };
    let ports = img.config["config"]["ExposedPorts"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    Ok(Subject {
        name: target.to_owned(),
        kind: Kind::Image,
        digest: img.manifest_digest.clone(),
        release: release.map(str::to_owned),
        os: os.map(|o| {
            format!("{} {}", o.id, o.version_id.clone().unwrap_or_default())
                .trim()
                .to_owned()
        }),
        inventoried: !inv.packages.is_empty(),
        packages,
        closure,
        ports,
        purls: inv
            .packages
            .iter()
            .map(|p| (p.name.clone(), bulwark_sbom::purl(p, inv.os.as_ref())))
            .collect(),
        arch: inv
            .packages
            .iter()
            .map(|p| p.arch.as_str())
            .find(|a| *a != "all" && !a.is_empty())
            .map(str::to_owned),
        runtime,
    })
}

/// The release Debian's stable-update version suffixes name (`+deb12u4`,
/// `~deb12u2`), when most packages that carry one agree: images without
/// os-release (distroless-style ones) still say where their packages came from.
fn release_from_versions(packages: &[bulwark_sbom::Package]) -> Option<&'static str> {
    let mut votes: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut total = 0;
    for p in packages {
        let v = p.source_version.as_deref().unwrap_or(&p.version);
        if let Some(i) = v.rfind("deb") {
            let digits: String = v[i + 3..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !digits.is_empty() && v[i + 3 + digits.len()..].starts_with('u') {
                total += 1;
                if let Some(c) = bulwark_vulndb::release::codename(&digits) {
                    *votes.entry(c).or_default() += 1;
                }
            }
        }
    }
    let (best, n) = votes.into_iter().max_by_key(|(_, n)| *n)?;
    (n * 2 > total).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls() {
        let (p, d) = parse_purl(
            "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib",
        )
        .unwrap();
        assert_eq!(
            (
                p.name.as_str(),
                p.version.as_str(),
                p.source.as_str(),
                p.source_version.as_str()
            ),
            ("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1")
        );
        assert_eq!(d.as_deref(), Some("debian-12"));
        let (p, _) = parse_purl(
            "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?upstream=openssl%403.0.15-1~deb12u1",
        )
        .unwrap();
        assert_eq!(p.source, "openssl");
        assert!(parse_purl("pkg:npm/x@1").is_none());
        assert!(parse_purl("pkg:deb/debian/x").is_none());
        assert_eq!(decode("%zz%41"), "%zzA");
    }
}
