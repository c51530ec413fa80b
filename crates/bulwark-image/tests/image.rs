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

/// One raw ustar header (+ data, padded), written by hand so that names a
/// well-behaved tar writer refuses (`..`, non-UTF-8) can be tested.
fn raw_entry(name: &[u8], typeflag: u8, data: &[u8], size: u64) -> Vec<u8> {
    raw_link(name, typeflag, data, size, b"")
}

fn raw_link(name: &[u8], typeflag: u8, data: &[u8], size: u64, link: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    if name.len() > 100 {
        // GNU long name: a 'L' entry holding the name, then the real header.
        let mut long = name.to_vec();
        long.push(0);
        let mut out = raw_entry(b"././@LongLink", b'L', &long, long.len() as u64);
        out.extend(raw_link(&name[..100], typeflag, data, size, link));
        return out;
    }
    h[..name.len()].copy_from_slice(name);
    h[157..157 + link.len()].copy_from_slice(link);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A layout with one layer of exactly these bytes (and a manifest padded to
/// `manifest_pad` bytes of annotation); returns its reference.
fn raw_layout(dir: &std::path::Path, layer: &[u8], manifest_pad: usize) -> ImageRef {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let d = bulwark_oci::sha256_digest(data);
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), data).unwrap();
        (d, data.len())
    };
    let (ld, ls) = put(layer);
    let (cd, cs) = put(
        br#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}],
        "annotations": {"pad": "x".repeat(manifest_pad)},
    });
    let (md, ms) = put(&serde_json::to_vec(&manifest).unwrap());
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms}
        ]}))
        .unwrap(),
    )
    .unwrap();
    format!("oci:{}", dir.display()).parse().unwrap()
}

#[test]
fn hostile_layers_give_errors_or_safe_paths_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let case = |name: &str, layer: Vec<u8>| {
        let dir = tmp.path().join(name);
        let r = raw_layout(&dir, &gzip(&layer), 0);
        open(&r, None).unwrap().walk(&|_: &str| true)
    };
    let end = vec![0u8; 1024];

    // Path traversal: an error naming the entry.
    let mut t = raw_entry(b"../../etc/evil", b'0', b"x", 1);
    t.extend(&end);
    let err = case("traversal", t).unwrap_err().to_string();
    assert!(err.contains("escapes the root"), "{err}");

    // Absolute names are read relative to the image root; nothing is written.
    let mut t = raw_entry(b"/etc/abs", b'0', b"x", 1);
    t.extend(raw_entry(b"usr/bin/\xff\xfename", b'0', b"y", 1));
    t.extend(&end);
    let fs = case("abs-and-non-utf8", t).unwrap();
    assert!(fs.files.contains_key("etc/abs"));
    assert!(
        fs.files
            .keys()
            .any(|k| k.starts_with("usr/bin/") && k.contains('\u{fffd}'))
    );
    assert!(
        fs.files
            .keys()
            .all(|k| !k.starts_with('/') && !k.contains(".."))
    );

    // Deep nesting: 2000 components in a GNU long name (4001 bytes, under PATH_MAX).
    let deep = |n: usize| -> Vec<u8> {
        "d/".repeat(n)
            .into_bytes()
            .into_iter()
            .chain(*b"f")
            .collect()
    };
    let mut t = raw_entry(&deep(2000), b'0', b"z", 1);
    t.extend(&end);
    let fs = case("deep", t).unwrap();
    assert!(fs.files.keys().any(|k| k.len() > 4000));
    // Past PATH_MAX (6001 bytes): refused before the name is read.
    let mut t = raw_entry(&deep(3000), b'0', b"z", 1);
    t.extend(&end);
    let err = case("deeper", t).unwrap_err().to_string();
    assert!(
        err.contains("GNU long name of 6002 bytes, over the 4 KiB allowed"),
        "{err}"
    );

    // An entry claiming far more data than the layer holds: truncated.
    let mut t = raw_entry(b"big", b'0', b"", 8_000_000_000);
    t.extend(&end);
    let err = case("claims", t).unwrap_err().to_string();
    assert!(
        err.contains("truncated") || err.contains("corrupt"),
        "{err}"
    );

    // Not a tar at all.
    let err = case("garbage", b"this is not a tar file".repeat(100)).unwrap_err();
    assert!(!err.to_string().is_empty());

    // Symlinks and hard links pointing outside the root are recorded as
    // links (nothing is followed or written).
    let mut t = raw_link(b"etc/passwd", b'2', b"", 0, b"../../../../etc/shadow");
    t.extend(raw_link(b"etc/hard", b'1', b"", 0, b"../../outside"));
    t.extend(&end);
    let fs = case("escaping-links", t).unwrap();
    assert_eq!(fs.files["etc/passwd"].kind, FileKind::Symlink);
    assert_eq!(
        fs.resolve("etc/passwd"),
        None,
        "an escaping link resolves to nothing"
    );
}

#[test]
fn decompression_bombs_are_stopped() {
    // 1.1 GiB of zeros in ~1 MiB of gzip: one tar header, then 1100
    // concatenated gzip members of 1 MiB of zeros each.
    let mib = 1usize << 20;
    let total = 1100 * mib as u64;
    let mut layer = gzip(&raw_entry(b"zeros", b'0', b"", total)[..512]);
    let member = gzip(&vec![0u8; mib]);
    for _ in 0..1100 {
        layer.extend(&member);
    }
    let dir = tempfile::tempdir().unwrap();
    let r = raw_layout(dir.path(), &layer, 0);
    let err = open(&r, None)
        .unwrap()
        .walk(&|_: &str| false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("decompression bomb"), "{err}");
}

#[test]
fn huge_manifests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let r = raw_layout(dir.path(), &gzip(&[0u8; 1024]), 17 << 20);
    let err = open(&r, None).unwrap_err().to_string();
    assert!(err.contains("16 MiB"), "{err}");
}

#[test]
fn docker_archive_layers_without_diff_ids_are_refused() {
    // A layer the config does not name by diff_id could not be verified.
    let dir = tempfile::tempdir().unwrap();
    let layer = raw_entry(b"etc/x", b'0', b"x", 1);
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let manifest = br#"[{"Config":"c.json","Layers":["l/layer.tar"]}]"#;
    let mut tar = raw_entry(b"c.json", b'0', config, config.len() as u64);
    tar.extend(raw_entry(b"l/layer.tar", b'0', &layer, layer.len() as u64));
    tar.extend(raw_entry(
        b"manifest.json",
        b'0',
        manifest,
        manifest.len() as u64,
    ));
    tar.extend(vec![0u8; 1024]);
    let file = dir.path().join("d.tar");
    std::fs::write(&file, tar).unwrap();
    let err = open(
        &format!("docker-archive:{}", file.display())
            .parse()
            .unwrap(),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("1 layers but the config has 0 diff_ids"),
        "{err}"
    );
}

// The OCI 1.1 referrers API branch. Debian's docker-registry 2.8 (the
// interoperability registry) has no referrers API, so this protocol-level
// test serves the documented endpoint from loopback: when a registry
// answers `GET /v2/<name>/referrers/<digest>` with an index, bulwark uses
// it and never writes the `sha256-<hex>` fallback tag.

#[test]
fn a_registry_with_the_referrers_api_is_asked_directly() {
    let root = tempfile::tempdir().unwrap();
    let subject = format!("sha256:{}", "ab".repeat(32));
    let referrer = format!("sha256:{}", "cd".repeat(32));
    let dir = root.path().join("v2/team/app/referrers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(&subject),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": referrer, "size": 700,
                "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "annotations": {"dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"}
            }]
        }))
        .unwrap(),
    )
    .unwrap();
    let server = bulwark_test_support::HttpServer::serve(root.path());
    // The API version check: `GET /v2/` answers 200.
    server.fault("/v2/", bulwark_test_support::Fault::Status(200));
    server.content_type("/referrers/", "application/vnd.oci.image.index.v1+json");
    let host = server.url.trim_start_matches("http://").to_owned();
    let t = bulwark_image::Target::open(
        &format!("{host}/team/app:1").parse().unwrap(),
        &bulwark_image::Options {
            insecure: true,
            ..bulwark_image::Options::default()
        },
    )
    .unwrap();
    let found = t.store.referrers(&subject).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].digest, referrer);
    assert_eq!(
        found[0].artifact_type.as_deref(),
        Some("application/vnd.dev.sigstore.bundle.v0.3+json")
    );
    // The fallback tag was never asked for.
    assert_eq!(
        server.hits(&format!(
            "/v2/team/app/manifests/{}",
            bulwark_image::digest_tag(&subject, "")
        )),
        0
    );

    // Recording a new referrer leaves the index to the registry: no fallback tag is written.
    t.store.add_referrer(&subject, found[0].clone()).unwrap();
    assert_eq!(
        server.hits(&bulwark_image::digest_tag(&subject, "")),
        0,
        "the sha256-<hex> tag was touched"
    );

    // Without the endpoint (404) the fallback tag schema is used instead.
    let other = format!("sha256:{}", "ef".repeat(32));
    assert!(t.store.referrers(&other).unwrap().is_empty());
    assert!(
        server.hits(&format!(
            "/v2/team/app/manifests/{}",
            bulwark_image::digest_tag(&other, "")
        )) > 0
    );
}

/// A tar of `(path, link target or contents, raw security.capability)`;
/// an entry whose second field starts with `->` is a hard link.
fn tar_with_caps(entries: &[(&str, &str, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, what, caps) in entries {
        if let Some(raw) = caps {
            b.append_pax_extensions([("SCHILY.xattr.security.capability", *raw)])
                .unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        if let Some(target) = what.strip_prefix("->") {
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            b.append_link(&mut h, name, target).unwrap();
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(what.len() as u64);
            b.append_data(&mut h, name, what.as_bytes()).unwrap();
        }
    }
    b.into_inner().unwrap()
}

#[test]
fn file_capabilities_are_read_and_hard_links_share_them() {
    // cap_net_raw=ep, as setcap writes it (vfs_cap_data revision 2).
    let net_raw: &[u8] = &[
        1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let lower = tar_with_caps(&[
        ("bin/ping", "elf", Some(net_raw)),
        ("bin/ping2", "->bin/ping", None),
        ("bin/a", "elf", None),
        ("bin/b", "->bin/a", Some(net_raw)),
        // An empty value deletes the record (POSIX pax).
        ("bin/c", "elf", Some(b"")),
        ("bin/d", "elf", Some(b"junk")),
    ]);
    // A later layer writes a new bin/ping: a new inode, without them; the
    // lower link still has the old inode's.
    let upper = tar_with_caps(&[("bin/ping", "elf2", None)]);
    let layers = [&lower, &upper]
        .iter()
        .map(|t| bulwark_image::TarLayer {
            tar: Box::new(&t[..]),
            diff_id: "sha256:test",
            size: t.len() as u64,
            compressed: t.len() as u64,
        })
        .collect();
    let fs = bulwark_image::FileSystem::from_tars(layers, "test", &|_| false).unwrap();
    let caps = |p: &str| {
        fs.files[p]
            .caps
            .as_ref()
            .map(|c| (c.text.as_str(), c.grants))
    };
    assert_eq!(caps("bin/ping"), None);
    assert_eq!(caps("bin/ping2"), Some(("cap_net_raw=ep", true)));
    assert_eq!(caps("bin/a"), Some(("cap_net_raw=ep", true)));
    assert_eq!(caps("bin/b"), Some(("cap_net_raw=ep", true)));
    assert_eq!(caps("bin/c"), None);
    let d = caps("bin/d").unwrap();
    assert!(!d.1 && d.0.contains("4 bytes"), "{d:?}");
}
