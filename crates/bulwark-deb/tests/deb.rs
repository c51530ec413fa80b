//! Reading real-format packages built by the test-support crate, and
//! rejecting hostile ones.
#![allow(clippy::unwrap_used)]

use bulwark_deb::{DebError, EntryKind, Limits, read_deb};
use bulwark_test_support::{DebBuilder, RawEntry, RawKind};

fn hostile(name: &[u8], kind: RawKind) -> Vec<u8> {
    DebBuilder::new("evil", "1.0", "amd64")
        .raw(RawEntry {
            name: name.to_vec(),
            kind,
            mode: 0o644,
        })
        .build()
}

fn unsafe_reason(bytes: &[u8]) -> String {
    match read_deb(bytes, &Limits::default()) {
        Err(e @ DebError::UnsafeEntry { .. }) => e.to_string(),
        other => panic!("expected UnsafeEntry, got {other:?}"),
    }
}

#[test]
fn reads_every_compression() {
    for c in ["xz", "gz", "zst", "none"] {
        let bytes = DebBuilder::new("hello", "1.0-1", "amd64")
            .compression(c)
            .file("usr/bin/hello", b"#!hello\n", 0o4755)
            .symlink("usr/bin/hi", "hello")
            .hardlink("usr/bin/hello2", "usr/bin/hello")
            .build();
        let deb = read_deb(&bytes, &Limits::default()).unwrap();
        assert!(String::from_utf8_lossy(&deb.control).starts_with("Package: hello\n"));
        assert!(String::from_utf8_lossy(&deb.md5sums).contains("  usr/bin/hello\n"));
        let paths: Vec<_> = deb.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "usr",
                "usr/bin",
                "usr/bin/hello",
                "usr/bin/hi",
                "usr/bin/hello2"
            ],
            "{c}"
        );
        assert_eq!(deb.entries[2].mode, 0o4755);
        assert_eq!(
            deb.entries[4].kind,
            EntryKind::Hardlink("usr/bin/hello".into())
        );
    }
}

#[test]
fn rejects_parent_traversal() {
    let r = unsafe_reason(&hostile(
        b"./usr/../../etc/passwd",
        RawKind::File(b"x".to_vec()),
    ));
    assert!(r.contains("'..'"), "{r}");
}

#[test]
fn rejects_absolute_paths() {
    unsafe_reason(&hostile(b"/etc/passwd", RawKind::File(b"x".to_vec())));
}

#[test]
fn rejects_escaping_symlinks() {
    let r = unsafe_reason(&hostile(
        b"./usr/x",
        RawKind::Symlink(b"../../../etc/shadow".to_vec()),
    ));
    assert!(r.contains("escapes"), "{r}");
}

#[test]
fn rejects_hardlinks_to_outside_or_missing_files() {
    unsafe_reason(&hostile(
        b"./x",
        RawKind::Hardlink(b"../etc/shadow".to_vec()),
    ));
    unsafe_reason(&hostile(b"./x", RawKind::Hardlink(b"/etc/shadow".to_vec())));
    unsafe_reason(&hostile(b"./x", RawKind::Hardlink(b"./not/there".to_vec())));
}

#[test]
fn rejects_device_nodes_and_fifos() {
    assert!(unsafe_reason(&hostile(b"./dev/sda", RawKind::CharDevice)).contains("device"));
    assert!(unsafe_reason(&hostile(b"./p", RawKind::Fifo)).contains("FIFO"));
}

#[test]
fn rejects_non_utf8_names() {
    assert!(unsafe_reason(&hostile(b"./caf\xe9", RawKind::File(vec![]))).contains("UTF-8"));
}

#[test]
fn rejects_size_bombs() {
    // A header claiming 2 GiB.
    let bytes = hostile(b"./big", RawKind::ClaimsSize(2 << 30));
    assert!(matches!(
        read_deb(&bytes, &Limits::default()),
        Err(DebError::TooLarge { .. })
    ));
    // Highly compressible data above the total limit.
    let bytes = DebBuilder::new("bomb", "1", "amd64")
        .file("zeros", &vec![0u8; 4 << 20], 0o644)
        .build();
    let limits = Limits {
        max_total_size: 1 << 20,
        ..Limits::default()
    };
    let err = read_deb(&bytes, &limits).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}

#[test]
fn rejects_wrong_format_version_and_garbage() {
    let bytes = DebBuilder::new("x", "1", "amd64")
        .debian_binary("3.0\n")
        .build();
    assert!(matches!(
        read_deb(&bytes, &Limits::default()),
        Err(DebError::FormatVersion { .. })
    ));
    assert!(read_deb(b"not an ar archive", &Limits::default()).is_err());
    let good = DebBuilder::new("x", "1", "amd64")
        .file("a", b"abc", 0o644)
        .build();
    for cut in [10, 100, good.len() / 2, good.len() - 3] {
        assert!(
            read_deb(&good[..cut], &Limits::default()).is_err(),
            "truncated at {cut}"
        );
    }
}
