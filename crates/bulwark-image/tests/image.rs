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
    // Each layer is walked twice: plainly, and as harden walks it (every
    // file kept, entries placed, blocks indexed): both fail or both see
    // the same paths.
    let case = |name: &str, layer: Vec<u8>| {
        let dir = tmp.path().join(name);
        let r = raw_layout(&dir, &gzip(&layer), 0);
        let img = open(&r, None).unwrap();
        let plain = img.walk(&|_: &str| true);
        let indexed = img.walk_full_indexed(&|_: &str| true);
        match (&plain, &indexed) {
            (Ok(a), Ok(b)) => assert!(a.files.keys().eq(b.files.keys()), "{name}"),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "{name}: {:?} but indexed {:?}",
                plain.is_ok(),
                indexed.is_ok()
            ),
        }
        plain
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

/// A tar of plain POSIX ustar headers (as `tar --format=ustar` writes):
/// `(path, Some(bytes))` a file, `(path, None)` a directory, and
/// `(path, target)` symlinks.
fn ustar(files: &[(&str, Option<Vec<u8>>, u32)], links: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, mode) in files {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_mode(*mode);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_cksum();
                b.append(&h, &d[..]).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    for (path, target) in links {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_link_name(target).unwrap();
        h.set_mode(0o777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    }
    b.into_inner().unwrap()
}

/// Compressible bytes that do not repeat (words from a seed).
fn prose(seed: u64, len: usize) -> Vec<u8> {
    let words: [&[u8]; 8] = [
        b"layer ",
        b"block ",
        b"deflate ",
        b"kept ",
        b"image ",
        b"bits ",
        b"tar ",
        b"copy\n",
    ];
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(words[(x % 8) as usize]);
        v.extend_from_slice(format!("{} ", x % 1000).as_bytes());
    }
    v.truncate(len);
    v
}

#[test]
fn a_squashed_layer_copies_the_unchanged_source_bits() {
    use bulwark_layer::{NodeKind, SourceEntry, SourceLayer, encode_layer_spliced};
    use sha2::Digest;
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        ("etc", None, 0o755),
        ("etc/x", Some(b"x\n".to_vec()), 0o644),
        ("usr", None, 0o755),
        ("usr/lib", None, 0o755),
        ("usr/lib/a", Some(prose(1, 300_000)), 0o644),
        ("usr/lib/gone", Some(prose(2, 200_000)), 0o644),
        ("usr/lib/b", Some(prose(3, 700_000)), 0o755),
        ("usr/lib/c", Some(prose(4, 250_000)), 0o644),
        ("usr/lib/d", Some(prose(5, 300_000)), 0o644),
    ];
    let mut tar = ustar(&files, &[("usr/lib/link", "a")]);
    // Bytes in usr/lib/a's padding, which tar readers skip: its header
    // cannot be copied (the copy would claim zeros there).
    let head = (0..tar.len())
        .step_by(512)
        .find(|&o| tar[o..].starts_with(b"usr/lib/a\0"))
        .unwrap();
    tar[head + 512 + 300_000 + 5] = 0xaa;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut e, &tar).unwrap();
    let source = e.finish().unwrap();
    let r = raw_layout(dir.path(), &source, 0);
    let img = open(&r, None).unwrap();
    let mut fs = img.walk_full_indexed(&|_| true).unwrap();
    assert_eq!(fs.copies.len(), 1);
    let copy = fs.copies[0].clone().expect("a gzip layer is indexed");
    // The tree as harden makes it, and where each node came from.
    let mut tree = Tree::default();
    let mut from = BTreeMap::new();
    for (path, f) in std::mem::take(&mut fs.files) {
        let node = match f.kind {
            FileKind::Dir => Node::dir(f.mode),
            FileKind::File => Node::file(fs.contents.remove(&path).unwrap(), f.mode),
            FileKind::Symlink => Node::symlink(f.link.as_deref().unwrap()),
            _ => continue,
        };
        from.insert(path.clone(), (f.source.clone().unwrap(), node.clone()));
        tree.insert(&path, node);
    }
    assert!(from["usr/lib/a"].0.header.is_none());
    assert!(from["usr/lib/b"].0.header.is_some());
    // Removed, rewritten in place (same size), re-moded, added.
    tree.remove_subtree("usr/lib/gone");
    tree.insert("usr/lib/c", Node::file(prose(9, 250_000), 0o644));
    tree.insert("usr/lib/d", Node::file(prose(5, 300_000), 0o600));
    tree.insert("etc/new", Node::file(b"new\n".to_vec(), 0o644));
    let layers = [Some(SourceLayer {
        file: &copy.file,
        index: &copy.index,
    })];
    let entries: Vec<SourceEntry<'_>> = from
        .iter()
        .map(|(path, (s, node))| SourceEntry {
            path,
            layer: s.layer,
            start: s.start,
            data: s.data,
            end: s.end,
            header: s.header.as_deref(),
            node,
        })
        .collect();
    let (layer, copied) = encode_layer_spliced(&tree, 0, &layers, &entries).unwrap();
    // Most of b (a's padding, d's mode and c's bytes changed, gone is gone).
    assert!(copied > 300_000, "{copied}");
    let blob = layer.blob.to_vec().unwrap();
    assert_eq!(layer.digest, bulwark_oci::sha256_digest(&blob));
    let mut plain = Vec::new();
    flate2::read::MultiGzDecoder::new(&blob[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(
        layer.diff_id,
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&plain)))
    );
    assert_eq!(layer.tar_size, plain.len() as u64);
    // What the new tar holds is the tree, nothing more.
    let mut got = Tree::default();
    let mut a = tar::Archive::new(&plain[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_owned();
        let mode = e.header().mode().unwrap();
        let node = match e.header().entry_type() {
            tar::EntryType::Directory => Node::dir(mode),
            tar::EntryType::Symlink => {
                Node::symlink(&e.link_name().unwrap().unwrap().to_string_lossy())
            }
            _ => {
                let mut d = Vec::new();
                e.read_to_end(&mut d).unwrap();
                Node::file(d, mode)
            }
        };
        got.insert(&path, node);
    }
    assert_eq!(got, tree);
    // The unchanged files' compressed bits are the source's: a stretch of
    // the source blob from inside usr/lib/b is in the new blob as it was.
    let b = &from["usr/lib/b"].0;
    let inside = copy.index.members[0]
        .edges
        .iter()
        .find(|e| e.out > b.data + 200_000)
        .unwrap();
    let needle = &source[inside.byte as usize + 8..inside.byte as usize + 4104];
    assert!(
        blob.windows(needle.len()).any(|w| w == needle),
        "no copied bits"
    );
    assert!(matches!(
        tree.get("usr/lib/b").unwrap().kind,
        NodeKind::File(_)
    ));
    // The same source gives the same layer.
    let (again, _) = encode_layer_spliced(&tree, 0, &layers, &entries).unwrap();
    assert_eq!(again.digest, layer.digest);
}
