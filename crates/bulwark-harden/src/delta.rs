//! The changes from one tree to another as one layer: what an upper layer
//! over the source's own layers must hold so that the merged filesystem is
//! the hardened one.
//!
//! - a path the hardened tree no longer has gets a whiteout
//!   (`DIR/.wh.NAME`), only at the top of what went (a removed directory
//!   hides everything below it);
//! - a path that is new or differs (kind, contents, link, mode, owner) is
//!   written whole;
//! - a path the lower layers give more than the trees show (a hard link, a
//!   file with capabilities) is written whole whenever it stays;
//! - every directory above either is written too, with its hardened
//!   metadata, as layer tars carry their parents (a stripped
//!   world-writable bit on a directory is itself a change).

use std::collections::BTreeSet;

use bulwark_layer::{Node, Tree};

/// The whiteout marker of `path` (`usr/bin/.wh.curl`).
fn whiteout(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/.wh.{name}"),
        None => format!(".wh.{path}"),
    }
}

/// Directories strictly above `path`, highest first.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// The upper layer that turns `original` (plus `dropped`, paths it had
/// that no tree holds) into `hardened`. The paths in `rewrite` are written
/// whenever they stay: hard links (held in the trees as copies of their
/// target's final bytes; in the lower layers a link may still share an
/// older file's bytes than the tree says) and files with capabilities (the
/// lower layers still grant them; the copy written here has none).
pub(crate) fn delta(
    original: &Tree,
    dropped: &[String],
    rewrite: &[String],
    hardened: &Tree,
) -> Tree {
    let mut written: BTreeSet<&str> = BTreeSet::new();
    let mut whiteouts: BTreeSet<String> = BTreeSet::new();
    let is_dir = |p: &str| hardened.get(p).is_some_and(Node::is_dir);
    let gone = original
        .iter()
        .map(|(p, _)| p.as_str())
        .chain(dropped.iter().map(String::as_str))
        .filter(|p| !hardened.contains(p));
    for p in gone {
        // The highest of it and its directories that went: hiding that
        // hides the rest.
        let Some(top) = ancestors(p)
            .chain(std::iter::once(p))
            .find(|q| !hardened.contains(q))
        else {
            continue;
        };
        // Below what is now a file or a link (which replaces the whole
        // directory when written): hidden already.
        let parent = top.rsplit_once('/').map(|(d, _)| d);
        if parent.is_none_or(is_dir) {
            whiteouts.insert(whiteout(top));
            written.extend(ancestors(top));
        }
    }
    for (p, n) in hardened.iter() {
        if original.get(p) != Some(n) {
            written.insert(p);
            written.extend(ancestors(p));
        }
    }
    for p in rewrite.iter().filter(|p| hardened.contains(p)) {
        written.insert(p);
        written.extend(ancestors(p));
    }
    let mut upper = Tree::default();
    // Lexical order puts each directory before what is below it, so no
    // parent is made up with default metadata.
    for p in written {
        if let Some(n) = hardened.get(p) {
            upper.insert(p, n.clone());
        }
    }
    for w in whiteouts {
        upper.insert(&w, Node::file(Vec::new(), 0o644));
    }
    upper
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &Tree) -> Vec<&str> {
        t.iter().map(|(p, _)| p.as_str()).collect()
    }

    #[test]
    fn whiteouts_at_the_top_of_what_went_and_changes_with_their_parents() {
        let mut original = Tree::default();
        original.insert("etc/passwd", Node::file(b"root\n".to_vec(), 0o644));
        original.insert("usr/bin/curl", Node::file(b"elf".to_vec(), 0o755));
        original.insert("usr/bin/python3", Node::file(b"elf".to_vec(), 0o755));
        original.insert("usr/share/perl/5/a.pm", Node::file(b"1".to_vec(), 0o644));
        original.insert("usr/share/perl/5/b.pm", Node::file(b"2".to_vec(), 0o644));
        original.insert("tmp", Node::dir(0o777));
        original.insert("usr/bin/su", Node::file(b"elf".to_vec(), 0o4755));
        let mut hardened = original.clone();
        hardened.remove("usr/bin/curl");
        hardened.remove_subtree("usr/share/perl");
        hardened.insert("etc/passwd", Node::file(b"root\nnonroot\n".to_vec(), 0o644));
        hardened.get_mut("usr/bin/su").unwrap().mode = 0o755;
        hardened.get_mut("tmp").unwrap().mode = 0o1777;
        let upper = delta(&original, &["dev/null".into()], &[], &hardened);
        assert_eq!(
            names(&upper),
            [
                ".wh.dev",
                "etc",
                "etc/passwd",
                "tmp",
                "usr",
                "usr/bin",
                "usr/bin/.wh.curl",
                "usr/bin/su",
                "usr/share",
                "usr/share/.wh.perl",
            ]
        );
        assert_eq!(upper.get("tmp").unwrap().mode, 0o1777);
        assert_eq!(upper.get("usr/bin/su").unwrap().mode, 0o755);
        // Nothing changed: nothing to write.
        assert!(delta(&hardened, &[], &[], &hardened).is_empty());
        // A hard link that stays is written: its lower-layer bytes may be
        // an older file's.
        let mut linked = hardened.clone();
        linked.insert("usr/bin/python3.11", Node::file(b"elf".to_vec(), 0o755));
        let upper = delta(
            &linked,
            &[],
            &["usr/bin/python3.11".into(), "gone".into()],
            &linked,
        );
        assert_eq!(names(&upper), ["usr", "usr/bin", "usr/bin/python3.11"]);
    }

    #[test]
    fn a_directory_replaced_by_a_link_hides_what_was_below() {
        let mut original = Tree::default();
        original.insert("lib/x", Node::file(b"x".to_vec(), 0o644));
        let mut hardened = Tree::default();
        hardened.insert("lib", Node::symlink("usr/lib"));
        hardened.insert("usr/lib/x", Node::file(b"x".to_vec(), 0o644));
        let upper = delta(&original, &[], &[], &hardened);
        assert_eq!(names(&upper), ["lib", "usr", "usr/lib", "usr/lib/x"]);
    }
}
