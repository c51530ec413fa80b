//! The in-memory filesystem.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::content::DiskFile;

/// What a path is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Dir,
    File(Arc<Vec<u8>>),
    /// A regular file streamed from disk when the layer is encoded (a
    /// large user file; see [`DiskFile`]).
    Disk(Arc<DiskFile>),
    Symlink(String),
    /// Path (normalised) of the regular file this is a hard link to.
    Hardlink(String),
}

/// A path's content, permission bits and numeric owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Node {
    pub fn dir(mode: u32) -> Self {
        Node {
            kind: NodeKind::Dir,
            mode,
            uid: 0,
            gid: 0,
        }
    }
    pub fn file(data: Vec<u8>, mode: u32) -> Self {
        Node {
            kind: NodeKind::File(Arc::new(data)),
            mode,
            uid: 0,
            gid: 0,
        }
    }
    /// A regular file whose bytes stay on disk until the layer is encoded.
    pub fn disk(file: DiskFile, mode: u32) -> Self {
        Node {
            kind: NodeKind::Disk(Arc::new(file)),
            mode,
            uid: 0,
            gid: 0,
        }
    }
    pub fn symlink(target: &str) -> Self {
        Node {
            kind: NodeKind::Symlink(target.to_owned()),
            mode: 0o777,
            uid: 0,
            gid: 0,
        }
    }
    pub fn owned(mut self, uid: u32, gid: u32) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, NodeKind::Dir)
    }
}

/// A filesystem tree keyed by normalised relative path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    nodes: BTreeMap<String, Node>,
}

impl Tree {
    /// Inserts a node, creating missing parent directories (0755 root).
    /// Returns the node it replaced, if any.
    pub fn insert(&mut self, path: &str, node: Node) -> Option<Node> {
        let path = path.trim_matches('/');
        let mut idx = 0;
        while let Some(i) = path[idx..].find('/') {
            let parent = &path[..idx + i];
            self.nodes
                .entry(parent.to_owned())
                .or_insert_with(|| Node::dir(0o755));
            idx += i + 1;
        }
        if path.is_empty() {
            return None;
        }
        // Replacing a directory with a directory keeps its children; anything
        // else replaces the whole subtree.
        if let Some(old) = self.nodes.get(path)
            && old.is_dir()
            && !node.is_dir()
        {
            self.remove_subtree(path);
        }
        self.nodes.insert(path.to_owned(), node)
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path.trim_matches('/'))
    }
    pub fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.nodes.get_mut(path.trim_matches('/'))
    }
    pub fn contains(&self, path: &str) -> bool {
        self.nodes.contains_key(path.trim_matches('/'))
    }

    /// Removes a path and everything below it.
    pub fn remove_subtree(&mut self, path: &str) {
        let path = path.trim_matches('/');
        let prefix = format!("{path}/");
        let doomed: Vec<String> = self
            .nodes
            .range(path.to_owned()..)
            .take_while(|(k, _)| *k == path || k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Whether anything lies below `path`.
    pub fn has_children(&self, path: &str) -> bool {
        let prefix = format!("{}/", path.trim_matches('/'));
        self.nodes
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
    }

    /// Removes one path (not its children).
    pub fn remove(&mut self, path: &str) -> Option<Node> {
        self.nodes.remove(path.trim_matches('/'))
    }

    /// All entries in lexical order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.nodes.iter()
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Node)> {
        self.nodes.iter_mut()
    }
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
    /// Keeps only the entries for which `f` is true.
    pub fn retain(&mut self, mut f: impl FnMut(&str, &Node) -> bool) {
        self.nodes.retain(|k, v| f(k, v));
    }

    /// Follows symlinks (absolute ones from the root) to the final path,
    /// at most 40 hops like the kernel.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut cur = path.trim_matches('/').to_owned();
        for _ in 0..40 {
            // Resolve each component's symlinks from the left.
            let parts: Vec<&str> = cur.split('/').filter(|c| !c.is_empty()).collect();
            let mut resolved: Vec<String> = Vec::new();
            let mut changed = false;
            for (i, comp) in parts.iter().enumerate() {
                let candidate = if resolved.is_empty() {
                    comp.to_string()
                } else {
                    format!("{}/{comp}", resolved.join("/"))
                };
                match self.nodes.get(&candidate).map(|n| &n.kind) {
                    Some(NodeKind::Symlink(t)) => {
                        let base = if t.starts_with('/') {
                            String::new()
                        } else {
                            resolved.join("/")
                        };
                        let mut next = normalize_join(&base, t)?;
                        let rest = parts[i + 1..].join("/");
                        if !rest.is_empty() {
                            next = if next.is_empty() {
                                rest
                            } else {
                                format!("{next}/{rest}")
                            };
                        }
                        cur = next;
                        changed = true;
                        break;
                    }
                    _ => resolved.push(comp.to_string()),
                }
            }
            if !changed {
                return Some(cur);
            }
        }
        None
    }
}

fn normalize_join(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|c| !c.is_empty()).collect();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_replacement() {
        let mut t = Tree::default();
        t.insert("a/b/c", Node::file(vec![1], 0o644));
        assert!(t.get("a/b").unwrap().is_dir());
        t.insert("a/b", Node::symlink("x"));
        assert!(!t.contains("a/b/c"));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn resolves_links() {
        let mut t = Tree::default();
        t.insert("bin", Node::symlink("usr/bin"));
        t.insert("usr/bin/python3", Node::symlink("python3.11"));
        t.insert("usr/bin/python3.11", Node::file(vec![], 0o755));
        t.insert("etc/alt", Node::symlink("/bin/python3"));
        assert_eq!(
            t.resolve("bin/python3").as_deref(),
            Some("usr/bin/python3.11")
        );
        assert_eq!(t.resolve("etc/alt").as_deref(), Some("usr/bin/python3.11"));
        t.insert("loop", Node::symlink("loop"));
        assert_eq!(t.resolve("loop"), None);
    }
}
