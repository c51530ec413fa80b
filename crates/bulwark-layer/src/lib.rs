//! Image filesystems as data, and their byte-for-byte reproducible layers.
//!
//! A [`Tree`] maps normalised paths (`usr/bin/x`) to [`Node`]s. Packages,
//! generated files and the user's own files are inserted into trees; a tree
//! is then encoded by [`encode_layer`]: entries in lexical order, numeric
//! ownership only, every mtime clamped to `SOURCE_DATE_EPOCH`, no
//! atime/ctime/pax times, and pinned compressor settings. The same tree
//! gives the same bytes on any machine, umask, locale or time zone.
//!
//! ```
//! use bulwark_layer::{Tree, Node, encode_layer, LayerCompression};
//! let mut t = Tree::default();
//! t.insert("etc/hostname", Node::file(b"bulwark\n".to_vec(), 0o644));
//! let layer = encode_layer(&t, 0, LayerCompression::Gzip).unwrap();
//! assert!(layer.digest.starts_with("sha256:"));
//! ```

mod content;
mod encode;
mod splice;
mod tree;

pub use content::{Content, DiskFile, Spill};
pub use encode::{
    EncodeError, Layer, LayerCompression, decoder, decompress, encode_layer, encode_layer_blob,
    encode_layer_cached,
};
pub use splice::{SourceEntry, SourceLayer, encode_layer_spliced};
pub use tree::{Node, NodeKind, Tree};
