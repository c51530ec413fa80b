//! Reading images that bulwark did not necessarily build.
//!
//! [`ImageRef`] names an image with skopeo's transports (`oci:DIR[:TAG]`,
//! `oci-archive:FILE[:TAG]`, `docker-archive:FILE`, registry references) or
//! as a plain root filesystem directory. [`open`] resolves it to one platform's manifest and
//! config; [`Opened::walk`] streams the layers, without extracting anything to
//! disk, and applies whiteouts and opaque directories. It checks each layer
//! blob's size and sha256 against its descriptor as it goes, and returns the
//! merged file tree, plus the contents of the files the caller asked for.
//!
//! ```no_run
//! let img = bulwark_image::open(&"oci:out:latest".parse().unwrap(), None).unwrap();
//! let fs = img.walk(&|p: &str| p == "etc/os-release").unwrap();
//! println!("{} files", fs.files.len());
//! ```

mod open;
mod walk;

pub use open::{ImageError, ImageRef, Opened, open, open_all, open_with};
pub use walk::{FileInfo, FileKind, FileSystem};
