//! Reading layouts and archives: whiteouts, opaque directories, digests.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use bulwark_image::{FileKind, ImageRef, open};
use bulwark_layer::{LayerCompression, Node, Tree, encode_layer};
use bulwark_oci::{Destination, Image, ImageSpec, Platform, RuntimeConfig, write_images};

fn layered_image(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let mut lower = Tree::default();
    lower.insert("etc/secret", Node::file(b"s3cret".to_vec(), 0o600));
    lower.insert("etc/keep", Node::file(b"keep".to_vec(), 0o644));
    lower.insert("var/cache/a", Node::file(b"a".to_vec(), 0o644));
    lower.insert("var/cache/b/c", Node::file(b"c".to_vec(), 0o644));
    lower.insert("bin/sh", Node::file(b"shell".to_vec(), 0o4755));
    let mut upper = Tree::default();
    upper.insert("etc/.wh.secret", Node::file(vec![], 0o644));
    upper.insert("var/cache/.wh..wh..opq", Node::file(vec![], 0o644));
    upper.insert("var/cache/new", Node::file(b"new".to_vec(), 0o644));
    upper.insert("etc/keep", Node::file(b"changed".to_vec(), 0o644));
    let layers = vec![
        (
            encode_layer(&lower, 0, LayerCompression::Gzip).unwrap(),
            "lower".to_owned(),
        ),
        (
            encode_layer(&upper, 0, LayerCompression::Zstd).unwrap(),
            "upper".to_owned(),
        ),
    ];
    let img = Image::build(ImageSpec {
        platform: Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
        },
        created: "2024-01-01T00:00:00Z".into(),
        config: RuntimeConfig::default(),
        layers,
        annotations: BTreeMap::new(),
    });
    let layout = dir.join("layout");
    write_images(
        &Destination::Oci {
            dir: layout.clone(),
            tag: Some("t".into()),
        },
        std::slice::from_ref(&img),
        BTreeMap::new(),
    )
    .unwrap();
    write_images(
        &Destination::OciArchive {
            file: dir.join("img.tar"),
            tag: None,
        },
        std::slice::from_ref(&img),
        BTreeMap::new(),
    )
    .unwrap();
    write_images(
        &Destination::DockerArchive {
            file: dir.join("docker.tar"),
            reference: None,
        },
        std::slice::from_ref(&img),
        BTreeMap::new(),
    )
    .unwrap();
    (layout, img.layers[0].digest.clone())
}

#[test]
fn whiteouts_and_opaque_dirs_apply_across_every_transport() {
    let dir = tempfile::tempdir().unwrap();
    layered_image(dir.path());
    for r in [
        format!("oci:{}/layout:t", dir.path().display()),
        format!("oci-archive:{}/img.tar", dir.path().display()),
        format!("docker-archive:{}/docker.tar", dir.path().display()),
    ] {
        let img = open(&r.parse().unwrap(), None).unwrap();
        let fs = img.walk(&|p: &str| p == "etc/keep").unwrap();
        assert!(
            !fs.files.contains_key("etc/secret"),
            "{r}: whiteout ignored"
        );
        assert!(
            !fs.files.contains_key("var/cache/a") && !fs.files.contains_key("var/cache/b/c"),
            "{r}: opaque dir ignored"
        );
        assert!(fs.files.contains_key("var/cache/new"), "{r}");
        assert!(
            !fs.files.keys().any(|k| k.contains(".wh.")),
            "{r}: whiteout markers leaked"
        );
        assert_eq!(fs.contents["etc/keep"], b"changed", "{r}");
        assert_eq!(fs.files["bin/sh"].mode, 0o4755);
        assert_eq!(fs.files["bin/sh"].kind, FileKind::File);
        assert_eq!(fs.layer_sizes.len(), 2);
    }
}

fn walk_error(r: &ImageRef) -> String {
    open(r, None)
        .unwrap()
        .walk(&|_: &str| false)
        .unwrap_err()
        .to_string()
}

#[test]
fn tampered_or_truncated_layers_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = layered_image(dir.path());
    let blob = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let good = std::fs::read(&blob).unwrap();
    let r: ImageRef = format!("oci:{}:t", layout.display()).parse().unwrap();
    // Flip a byte: digest mismatch (or a gzip CRC error), never a panic.
    let mut bad = good.clone();
    let n = bad.len() / 2;
    bad[n] ^= 0x55;
    std::fs::write(&blob, &bad).unwrap();
    let err = walk_error(&r);
    assert!(err.contains(&digest), "{err}");
    // Truncate.
    std::fs::write(&blob, &good[..good.len() / 3]).unwrap();
    let err = walk_error(&r);
    assert!(err.contains(&digest), "{err}");
    // Missing.
    std::fs::remove_file(&blob).unwrap();
    let err = walk_error(&r);
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn references_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, _) = layered_image(dir.path());
    let err = open(
        &format!("oci:{}:nope", layout.display()).parse().unwrap(),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("no image tagged \"nope\"") && err.contains("tags: t"),
        "{err}"
    );
    assert!("not-a-thing".parse::<ImageRef>().is_err());
    // A plain directory is a root filesystem.
    let root = dir.path().join("rootfs/etc");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("os-release"), "ID=debian\n").unwrap();
    let fs = open(
        &dir.path()
            .join("rootfs")
            .display()
            .to_string()
            .parse()
            .unwrap(),
        None,
    )
    .unwrap()
    .walk(&|p: &str| p == "etc/os-release")
    .unwrap();
    assert_eq!(fs.contents["etc/os-release"], b"ID=debian\n");
}
