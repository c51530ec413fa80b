//! Temporary files and directories, removed on every exit path.
//!
//! `tempfile` removes what it creates when its handle drops: on success, on
//! error and on panic. A signal ends the process without running drops, so
//! each temporary path is also [`register`]ed here, and the binary's signal
//! handler calls [`remove_all`] before it exits: Ctrl-C in the middle of a
//! build or a copy leaves no `.bulwark-*` directory behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

static PATHS: Mutex<BTreeMap<u64, PathBuf>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A registered temporary path; dropping it unregisters the path (the
/// owner of the path removes it, as `tempfile` does).
#[derive(Debug)]
pub struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut m) = PATHS.lock() {
            m.remove(&self.0);
        }
    }
}

/// Registers `path` for removal by [`remove_all`] while the returned guard lives.
#[must_use]
pub fn register(path: &Path) -> Registered {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut m) = PATHS.lock() {
        m.insert(id, path.to_owned());
    }
    Registered(id)
}

/// Removes every registered path (files and whole directories); for the
/// signal handler, just before the process exits. Returns how many were
/// removed.
pub fn remove_all() -> usize {
    let paths: Vec<PathBuf> = match PATHS.lock() {
        Ok(mut m) => std::mem::take(&mut *m).into_values().collect(),
        Err(_) => return 0,
    };
    let mut n = 0;
    for p in paths {
        let removed = match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {
                // A thread may still be writing into it: try again once.
                std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_dir_all(&p))
            }
            Ok(_) => std::fs::remove_file(&p),
            Err(_) => continue,
        };
        n += usize::from(removed.is_ok());
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_paths_are_removed_and_dropped_guards_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir_all(a.join("deep")).unwrap();
        std::fs::write(a.join("deep/f"), b"x").unwrap();
        let b = dir.path().join("b");
        std::fs::write(&b, b"x").unwrap();
        let kept = dir.path().join("kept");
        std::fs::write(&kept, b"x").unwrap();
        let _ga = register(&a);
        let _gb = register(&b);
        drop(register(&kept));
        assert!(remove_all() >= 2);
        assert!(!a.exists() && !b.exists() && kept.exists());
    }
}
