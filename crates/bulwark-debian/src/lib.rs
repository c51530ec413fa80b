//! Debian's own formats, parsed strictly and without I/O.
//!
//! Everything bulwark knows about the Debian archive starts here: package
//! [`Version`]s ordered exactly like `dpkg --compare-versions`, deb822
//! [`control`] paragraphs, dependency [`relation`]s, signed-index
//! [`release`] files and the host's apt [`sources`]. Nothing in this crate
//! touches the network or the filesystem beyond reading files it is handed,
//! so every parser can be fuzzed.
//!
//! ```
//! use bulwark_debian::Version;
//! let a: Version = "1:2.36-9+deb12u4".parse().unwrap();
//! let b: Version = "2.36-9+deb12u10".parse().unwrap();
//! assert!(a > b); // the epoch wins
//! ```

pub mod control;
pub mod packages;
pub mod relation;
pub mod release;
pub mod sources;
pub mod time;
mod version;

pub use control::{Paragraph, parse_paragraphs};
pub use packages::{NotUtf8, PackageRecord, PackagesIndex, PackagesScanner, parse_packages};
pub use relation::{Dependency, Relation, VersionOp};
pub use version::{Version, VersionError, compare_versions};

/// A Debian architecture name such as `amd64` or `arm64`.
pub type Arch = String;

/// Maps a Debian architecture to the OCI `platform.architecture` value and variant.
pub fn oci_platform(debian_arch: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match debian_arch {
        "amd64" => ("amd64", None),
        "arm64" => ("arm64", Some("v8")),
        "armhf" => ("arm", Some("v7")),
        "armel" => ("arm", Some("v5")),
        "i386" => ("386", None),
        "ppc64el" => ("ppc64le", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        "mips64el" => ("mips64le", None),
        _ => return None,
    })
}

/// The Debian architecture of an OCI platform (`arm64` and `v8` give
/// `arm64`; no variant matches any), the reverse of [`oci_platform`];
/// an architecture Debian does not know is returned as it is.
#[must_use]
pub fn debian_arch(oci_arch: &str, variant: Option<&str>) -> String {
    const DEBIAN: &[&str] = &[
        "amd64", "arm64", "armhf", "armel", "i386", "ppc64el", "s390x", "riscv64", "mips64el",
    ];
    DEBIAN
        .iter()
        .find(|d| {
            oci_platform(d)
                .is_some_and(|(a, v)| a == oci_arch && (variant.is_none() || v == variant))
        })
        .map_or_else(|| oci_arch.to_owned(), |d| (*d).to_owned())
}

/// The Debian architecture of the machine bulwark runs on.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_both_ways() {
        for d in [
            "amd64", "arm64", "armhf", "armel", "i386", "ppc64el", "s390x", "riscv64",
        ] {
            let (a, v) = oci_platform(d).unwrap();
            assert_eq!(debian_arch(a, v), d);
        }
        assert_eq!(debian_arch("arm64", None), "arm64");
        assert_eq!(debian_arch("arm", Some("v7")), "armhf");
        assert_eq!(debian_arch("wasm", None), "wasm");
    }
}
