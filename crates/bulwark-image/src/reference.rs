//! The one grammar for naming images, read or written (skopeo's transports).

use std::path::{Path, PathBuf};

use bulwark_registry::RegistryRef;

use crate::Error;

/// Where an image is, or is to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRef {
    /// `oci:DIR[:TAG]` or `oci:DIR@sha256:<hex>` (one manifest by digest).
    Oci {
        /// The layout directory.
        dir: PathBuf,
        /// A tag or a `sha256:` digest; `None`: the layout's only image.
        reference: Option<String>,
    },
    /// `oci-archive:FILE[:TAG]`: an OCI layout as a tar.
    OciArchive {
        /// The archive.
        file: PathBuf,
        /// `None`: the archive's only image.
        tag: Option<String>,
    },
    /// `docker-archive:FILE[:NAME[:TAG]]`: what `docker save` writes.
    DockerArchive {
        /// The archive.
        file: PathBuf,
        /// `NAME:TAG` (a bare name gets `:latest`); `None`: the only image.
        name: Option<String>,
    },
    /// `dir:PATH`, or a directory without `oci-layout`: an unpacked root
    /// filesystem (read only).
    RootFs(PathBuf),
    /// `[docker://]HOST[:PORT]/REPO[:TAG][@DIGEST]`.
    Registry(RegistryRef),
}

/// Whether `t` is a valid OCI tag.
#[must_use]
pub fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl std::str::FromStr for ImageRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::Reference(s.to_owned());
        // `PATH:TAG` where the tag has no '/', else the whole is the path.
        let tagged = |rest: &str| -> Result<(PathBuf, Option<String>), Error> {
            let (path, tag) = match rest.rsplit_once(':') {
                Some((p, t)) if !t.contains('/') && !p.is_empty() => (p, Some(t)),
                _ => (rest, None),
            };
            if path.is_empty() {
                return Err(bad());
            }
            if let Some(t) = tag
                && !valid_tag(t)
            {
                return Err(Error::BadTag {
                    reference: s.to_owned(),
                    tag: t.to_owned(),
                });
            }
            Ok((PathBuf::from(path), tag.map(str::to_owned)))
        };
        if let Some(rest) = s.strip_prefix("oci:") {
            if let Some((p, d)) = rest.rsplit_once('@')
                && bulwark_oci::sha256_hex(d).is_some()
                && !p.is_empty()
            {
                return Ok(Self::Oci {
                    dir: PathBuf::from(p),
                    reference: Some(d.to_owned()),
                });
            }
            let (dir, reference) = tagged(rest)?;
            return Ok(Self::Oci { dir, reference });
        }
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            let (file, tag) = tagged(rest)?;
            return Ok(Self::OciArchive { file, tag });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            let (file, name) = match rest.split_once(':') {
                Some((f, n)) if !n.is_empty() => (f, Some(n)),
                _ => (rest.trim_end_matches(':'), None),
            };
            if file.is_empty() {
                return Err(bad());
            }
            let name = name.map(|n| match n.rsplit_once(':') {
                Some((_, t)) if !t.contains('/') => n.to_owned(),
                _ => format!("{n}:latest"),
            });
            return Ok(Self::DockerArchive {
                file: PathBuf::from(file),
                name,
            });
        }
        if let Some(rest) = s.strip_prefix("dir:") {
            if rest.is_empty() {
                return Err(bad());
            }
            return Ok(Self::RootFs(PathBuf::from(rest)));
        }
        let registry = || s.parse().map(Self::Registry).map_err(|_| bad());
        if s.starts_with("docker://") {
            return registry();
        }
        let p = Path::new(s);
        if p.is_dir() {
            if p.join("oci-layout").is_file() {
                return Ok(Self::Oci {
                    dir: p.to_owned(),
                    reference: None,
                });
            }
            return Ok(Self::RootFs(p.to_owned()));
        }
        if bulwark_registry::looks_like_registry(s) {
            return registry();
        }
        Err(bad())
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let suffix = |sep: &str, t: &Option<String>| {
            t.as_ref().map(|t| format!("{sep}{t}")).unwrap_or_default()
        };
        match self {
            Self::Oci { dir, reference } => {
                let sep = if reference
                    .as_deref()
                    .is_some_and(|r| bulwark_oci::sha256_hex(r).is_some())
                {
                    "@"
                } else {
                    ":"
                };
                write!(f, "oci:{}{}", dir.display(), suffix(sep, reference))
            }
            Self::OciArchive { file, tag } => {
                write!(f, "oci-archive:{}{}", file.display(), suffix(":", tag))
            }
            Self::DockerArchive { file, name } => {
                write!(f, "docker-archive:{}{}", file.display(), suffix(":", name))
            }
            Self::RootFs(dir) => write!(f, "dir:{}", dir.display()),
            Self::Registry(r) => write!(f, "{r}"),
        }
    }
}

impl ImageRef {
    /// The name messages use for where the image lives (without its tag).
    #[must_use]
    pub fn origin(&self) -> String {
        match self {
            Self::Oci { dir, .. } => format!("oci:{}", dir.display()),
            Self::OciArchive { file, .. } => format!("oci-archive:{}", file.display()),
            Self::DockerArchive { file, .. } => format!("docker-archive:{}", file.display()),
            Self::RootFs(dir) => dir.display().to_string(),
            Self::Registry(r) => r.repo_name(),
        }
    }

    /// The local file or directory, for everything but registries.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Oci { dir, .. } | Self::RootFs(dir) => Some(dir),
            Self::OciArchive { file, .. } | Self::DockerArchive { file, .. } => Some(file),
            Self::Registry(_) => None,
        }
    }

    /// The tag the reference names, if any (not a digest).
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        match self {
            Self::Oci { reference, .. } => reference
                .as_deref()
                .filter(|r| bulwark_oci::sha256_hex(r).is_none()),
            Self::OciArchive { tag, .. } => tag.as_deref(),
            Self::DockerArchive { name, .. } => name.as_deref().and_then(|n| {
                n.rsplit_once(':')
                    .map(|(_, t)| t)
                    .filter(|t| !t.contains('/'))
            }),
            Self::RootFs(_) => None,
            Self::Registry(r) => r.tag(),
        }
    }

    /// True for registry references.
    #[must_use]
    pub fn is_registry(&self) -> bool {
        matches!(self, Self::Registry(_))
    }

    /// False where signatures, attestations and other referrers cannot be
    /// kept (docker archives, root filesystems).
    #[must_use]
    pub fn holds_referrers(&self) -> bool {
        !matches!(self, Self::DockerArchive { .. } | Self::RootFs(_))
    }

    /// The local destination the image writer takes (`oci:`,
    /// `oci-archive:`, `docker-archive:`).
    ///
    /// # Errors
    /// A registry, a root filesystem or a digest cannot be written to
    /// directly.
    pub fn destination(&self) -> Result<bulwark_oci::Destination, Error> {
        let unsupported = |detail: &str| Error::Unsupported {
            reference: self.to_string(),
            detail: detail.to_owned(),
        };
        match self {
            Self::Oci { dir, reference } => {
                if reference
                    .as_deref()
                    .is_some_and(|r| bulwark_oci::sha256_hex(r).is_some())
                {
                    return Err(unsupported(
                        "a digest names an image that exists; write to oci:DIR[:TAG]",
                    ));
                }
                Ok(bulwark_oci::Destination::Oci {
                    dir: dir.clone(),
                    tag: reference.clone(),
                })
            }
            Self::OciArchive { file, tag } => Ok(bulwark_oci::Destination::OciArchive {
                file: file.clone(),
                tag: tag.clone(),
            }),
            Self::DockerArchive { file, name } => Ok(bulwark_oci::Destination::DockerArchive {
                file: file.clone(),
                reference: name.clone(),
            }),
            Self::RootFs(_) => Err(unsupported(
                "a root filesystem is read only; write oci:, oci-archive:, docker-archive: or a registry",
            )),
            Self::Registry(_) => Err(unsupported(
                "a registry is written through a staging layout, not directly",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageRef {
        s.parse().unwrap()
    }

    #[test]
    fn every_transport_parses_and_prints_back() {
        let d = format!("sha256:{}", "a".repeat(64));
        for s in [
            "oci:out/x".to_owned(),
            "oci:out/x:v1".to_owned(),
            format!("oci:out/x@{d}"),
            "oci-archive:x.tar:v1".to_owned(),
            "docker-archive:x.tar:team/app:1".to_owned(),
            "dir:/tmp/rootfs".to_owned(),
            "127.0.0.1:5000/team/app:1".to_owned(),
        ] {
            assert_eq!(parse(&s).to_string(), s);
        }
        assert_eq!(
            parse(&format!("oci:out/x@{d}")),
            ImageRef::Oci {
                dir: "out/x".into(),
                reference: Some(d)
            }
        );
        // Not a digest: the part after '@' stays in the path.
        assert_eq!(
            parse("oci:out/x@y"),
            ImageRef::Oci {
                dir: "out/x@y".into(),
                reference: None
            }
        );
        assert_eq!(
            parse("docker-archive:img.tar:bulwark/base"),
            ImageRef::DockerArchive {
                file: "img.tar".into(),
                name: Some("bulwark/base:latest".into())
            }
        );
        assert_eq!(parse("docker-archive:img.tar:b/c:2").tag(), Some("2"));
    }

    #[test]
    fn malformed_references_are_refused() {
        for s in [
            "oci:",
            "oci-archive:",
            "docker-archive:",
            "dir:",
            "nothing here",
        ] {
            assert!(s.parse::<ImageRef>().is_err(), "{s}");
        }
        let err = "oci:x:bad tag".parse::<ImageRef>().unwrap_err();
        assert!(matches!(err, Error::BadTag { .. }), "{err}");
        assert!(parse("127.0.0.1:5000/x:1").destination().is_err());
        assert!(parse("dir:/x").destination().is_err());
    }
}
