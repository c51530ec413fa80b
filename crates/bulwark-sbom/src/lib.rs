//! What is in an image, as a software bill of materials.
//!
//! [`Inventory::from_fs`] reads the dpkg database of a merged image
//! filesystem: `var/lib/dpkg/status` (installed packages only) and
//! distroless' `var/lib/dpkg/status.d/*`. It also reads `os-release` and each
//! package's DEP-5 `copyright` file, from which it takes the declared licence
//! and copyright notices. [`cyclonedx`] and [`spdx`] render the inventory
//! deterministically: the same image gives the same bytes.
//!
//! ```no_run
//! let img = bulwark_image::open(&"oci:out:latest".parse().unwrap(), None).unwrap();
//! let fs = img.walk(&bulwark_sbom::wanted).unwrap();
//! let inv = bulwark_sbom::Inventory::from_fs(&fs);
//! println!("{} packages on {:?}", inv.packages.len(), inv.os.as_ref().map(|o| &o.pretty_name));
//! ```

mod dep5;
mod formats;
mod inventory;

pub use dep5::{Dep5, parse_copyright};
pub use formats::{DocumentInfo, cyclonedx, spdx, spdx3, table};
pub use inventory::{
    AppFile, DebFile, Inventory, Os, Package, copyright_file_package, copyright_file_ref, purl,
    wanted,
};

/// Debian's archive file name of a package version: `NAME_VERSION_ARCH.deb`
/// with any epoch dropped (what `dpkg-name` and the pool use).
#[must_use]
pub fn deb_file_name(p: &Package) -> String {
    let version = p
        .version
        .split_once(':')
        .map_or(p.version.as_str(), |(_, v)| v);
    format!("{}_{}_{}.deb", p.name, version, p.arch)
}

/// Replaces every character outside SPDX's idstring set (`[A-Za-z0-9.-]`) with `-`.
pub(crate) fn idstring(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}
