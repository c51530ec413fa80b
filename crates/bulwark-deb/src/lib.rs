//! Reading Debian binary packages (`.deb`) without trusting them.
//!
//! A .deb is an `ar` archive of `debian-binary`, `control.tar.*` and
//! `data.tar.*`. [`read_deb`] decompresses both tarballs in memory and turns
//! every data entry into a validated [`Entry`]: paths are normalised and
//! relative, `..` components, absolute names, device nodes, links that
//! escape the root and absurd sizes are errors. Nothing is ever written to
//! the host filesystem.
//!
//! ```no_run
//! let bytes = std::fs::read("hello_1.0_amd64.deb").unwrap();
//! let deb = bulwark_deb::read_deb(&bytes, &bulwark_deb::Limits::default()).unwrap();
//! for e in &deb.entries {
//!     println!("{} {:o}", e.path, e.mode);
//! }
//! ```

mod ar;
mod entries;
mod path;
mod reader;

pub use entries::{MAX_NAME, MAX_PAX, SafeEntries, SafeEntry};
pub use path::{normalize_entry_path, resolve_link_target};
pub use reader::{
    Compression, Deb, DebError, Entry, EntryKind, Limits, read_deb, read_deb_named,
    read_tar_entries,
};
