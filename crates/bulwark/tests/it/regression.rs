//! Regression tests named after what broke: hostile inputs that once made
//! bulwark lie, write where it should not, crash or block.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

/// Flips one byte of blob `digest` in layout `dir`, returning the original bytes.
fn tamper(dir: &Path, digest: &str, at: usize) -> Vec<u8> {
    let p = dir
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let orig = std::fs::read(&p).unwrap();
    let mut bad = orig.clone();
    bad[at.min(orig.len() - 1)] ^= 0x20;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&p, bad).unwrap();
    orig
}

fn restore(dir: &Path, digest: &str, data: &[u8]) {
    let p = dir
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::write(p, data).unwrap();
}

fn json_blob(dir: &Path, digest: &str) -> serde_json::Value {
    serde_json::from_slice(&blob(dir, digest)).unwrap()
}

#[test]
fn regression_verify_refuses_tampered_layers_configs_and_platform_manifests() {
    let ctx = Ctx::new();
    multi_arch_spec(&ctx);
    ok(run_pw(&ctx, &["key", "generate", "k"]));
    ok(run_pw(
        &ctx,
        &[
            "build",
            "m.yaml",
            "--output",
            "oci:multi:v1",
            "--sign-key",
            "k.key",
        ],
    ));
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "oci:multi:v1", "--key", "k.pub"];
        args.extend_from_slice(extra);
        ctx.run(&args)
    };
    let out = ok(verify(&[]));
    assert!(
        out.contains("content  3 manifests, 2 configs, 2 layers checked")
            || out.contains("layers checked against their digests"),
        "{out}"
    );

    let dir = ctx.path().join("multi");
    let index = json_blob(&dir, &tag_digest(&dir, "v1"));
    let platform = |arch: &str| {
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (amd64, arm64) = (platform("amd64"), platform("arm64"));

    // One flipped byte in a layer of one platform.
    let layer = json_blob(&dir, &amd64)["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let orig = tamper(&dir, &layer, 1000);
    let err = fails(verify(&[]));
    assert!(
        err.contains(&format!("layer 1 of linux/amd64 manifest {amd64} {layer}")),
        "{err}"
    );
    assert!(err.contains("tampered with"), "{err}");
    // Only an explicit flag skips the layers, and says so.
    let out = ok(verify(&["--skip-layers"]));
    assert!(out.contains("layers not read (--skip-layers)"), "{out}");
    restore(&dir, &layer, &orig);

    // A platform's config.
    let config = json_blob(&dir, &arm64)["config"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let orig = tamper(&dir, &config, 2);
    for extra in [&[][..], &["--skip-layers"][..]] {
        let err = fails(verify(extra));
        assert!(
            err.contains(&format!("config of linux/arm64 manifest {arm64} {config}")),
            "{err}"
        );
    }
    restore(&dir, &config, &orig);

    // A platform manifest of the signed index.
    let orig = tamper(&dir, &arm64, 5);
    let err = fails(verify(&["--skip-layers"]));
    assert!(
        err.contains(&format!("linux/arm64 manifest {arm64}")),
        "{err}"
    );
    restore(&dir, &arm64, &orig);
    ok(verify(&[]));
}

#[test]
fn regression_spec_name_cannot_write_outside_the_output() {
    let ctx = Ctx::new();
    let outside = ctx.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    for name in [
        "../outside/x".to_owned(),
        format!("{}/x", outside.display()),
        "../../../x".to_owned(),
    ] {
        ctx.spec(
            "n",
            &format!("name: {name:?}\narchs: [amd64]\npackages: [base-files]\n"),
        );
        let err = fails(ctx.run(&[
            "build",
            "n.yaml",
            "--output",
            "oci:out:v1",
            "--sbom-dir",
            "sboms",
        ]));
        assert!(
            err.contains("n.yaml:")
                && err.contains("name: ")
                && err.contains("not a valid image name"),
            "{err}"
        );
        assert!(!ctx.path().join("out").exists() && !ctx.path().join("sboms").exists());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }

    // The lock covers the name: renaming the image makes a frozen lock stale.
    ctx.spec("n", "name: one\narchs: [amd64]\npackages: [base-files]\n");
    ok(ctx.run(&["lock", "n.yaml"]));
    ctx.spec("n", "name: two\narchs: [amd64]\npackages: [base-files]\n");
    let err = fails(ctx.run(&["build", "n.yaml", "--frozen", "--output", "oci:out:v1"]));
    assert!(err.contains("is stale"), "{err}");
}

#[test]
fn regression_account_names_cannot_inject_passwd_lines() {
    let ctx = Ctx::new();
    for (accounts, field) in [
        (
            r#"{users: [{name: "ok\nroot2:x:0:0::/:/bin/sh", uid: 1000}]}"#,
            "accounts.users.name",
        ),
        (
            r#"{groups: [{name: app, gid: 1000, members: ["a,root"]}]}"#,
            "accounts.groups.members",
        ),
        (r#"{users: [{name: toor, uid: 0}]}"#, "accounts.users.uid"),
    ] {
        ctx.spec(
            "a",
            &format!("archs: [amd64]\npackages: [base-files]\naccounts: {accounts}\n"),
        );
        let err = fails(ctx.run(&["build", "a.yaml", "--output", "oci:out:v1"]));
        assert!(err.contains(field), "{err}");
        assert!(!ctx.path().join("out").exists());
    }
}

/// A layout whose tag names the top of a chain of `depth` nested indexes.
pub(crate) fn nested_index_chain(dir: &Path, depth: usize) {
    use sha2::Digest as _;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |data: &[u8]| {
        let hex = hex::encode(sha2::Sha256::digest(data));
        std::fs::write(blobs.join(&hex), data).unwrap();
        (format!("sha256:{hex}"), data.len())
    };
    let mut child = put(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#);
    for _ in 0..depth {
        let doc = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                           "digest": child.0, "size": child.1}],
        });
        child = put(doc.to_string().as_bytes());
    }
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                       "digest": child.0, "size": child.1,
                       "annotations": {"org.opencontainers.image.ref.name": "t"}}],
    });
    std::fs::write(dir.join("index.json"), top.to_string()).unwrap();
}

#[test]
fn regression_a_chain_of_nested_indexes_is_an_error_not_a_crash() {
    let ctx = Ctx::new();
    nested_index_chain(&ctx.path().join("chain"), 10_000);
    let tmp = ctx.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    for args in [
        &["copy", "oci:chain:t", "oci-archive:out.tar:t"][..],
        &["copy", "oci:chain:t", "oci:copy:t"][..],
        &["verify", "oci:chain:t", "--key", "k.pub"][..],
    ] {
        if args[0] == "verify" {
            ok(run_pw(&ctx, &["key", "generate", "k"]));
        }
        let out = ctx.cmd().env("TMPDIR", &tmp).args(args).output().unwrap();
        let err = fails(out);
        assert!(err.contains("nested more than 8"), "{args:?}: {err}");
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "{args:?} left a temporary directory behind"
        );
    }
    // Nothing of a failed copy is left: no archive, no half-made layout.
    assert!(!ctx.path().join("out.tar").exists());
    assert!(!ctx.path().join("copy").exists());
    assert_no_leftovers(ctx.path());
}

#[test]
fn regression_a_build_whose_documents_cannot_be_written_leaves_no_image() {
    let ctx = Ctx::new();
    ctx.spec("b", "archs: [amd64]\npackages: [base-files]\n");
    std::fs::write(ctx.path().join("file"), "not a directory").unwrap();
    for args in [
        &[
            "build",
            "b.yaml",
            "--output",
            "oci:out:v1",
            "--sbom-dir",
            "file/sboms",
        ][..],
        // The default place beside the output (out2.sbom) is a file.
        &["build", "b.yaml", "--output", "oci:out2:v1"][..],
    ] {
        if args.len() == 4 {
            std::fs::write(ctx.path().join("out2.sbom"), "a file").unwrap();
        }
        let err = fails(ctx.run(args));
        assert!(err.contains("nothing was built"), "{err}");
        assert!(!ctx.path().join("out").exists() && !ctx.path().join("out2").exists());
    }
}

#[test]
fn regression_fifos_and_devices_are_refused_not_waited_on() {
    let ctx = Ctx::new();
    let fifo = ctx.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    for args in [
        &["verify", "oci:x", "--key", "fifo"][..],
        &["verify", "oci:x", "--key", "/dev/zero"][..],
        &["sign", "oci:x", "--key", "fifo"][..],
        &["copy", "oci-archive:fifo", "oci:y"][..],
        &["copy", "docker-archive:fifo", "oci:y"][..],
        &["build", "fifo", "--output", "oci:y"][..],
        &["eval", "oci:x", "--policy", "fifo"][..],
    ] {
        let err = fails(run_pw(&ctx, args));
        assert!(err.contains("is not a regular file"), "{args:?}: {err}");
    }
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn regression_oversized_documents_name_their_limit() {
    let ctx = Ctx::new();
    std::fs::write(ctx.path().join("big.pub"), vec![b'A'; 100 << 10]).unwrap();
    let err = fails(ctx.run(&["verify", "oci:x", "--key", "big.pub"]));
    assert!(
        err.contains("over the 64 KiB allowed for a public key"),
        "{err}"
    );

    let dir = ctx.path().join("huge");
    std::fs::create_dir(&dir).unwrap();
    let f = std::fs::File::create(dir.join("index.json")).unwrap();
    f.set_len(17 << 20).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    ok(run_pw(&ctx, &["key", "generate", "k"]));
    for args in [
        &["verify", "oci:huge", "--key", "k.pub"][..],
        &["copy", "oci:huge", "oci:y"][..],
    ] {
        let err = fails(ctx.run(args));
        assert!(err.contains("16 MiB"), "{args:?}: {err}");
    }
}

#[test]
fn regression_der_and_rsa_keys_get_the_accepted_formats() {
    let ctx = Ctx::new();
    // The DER body of an ECDSA key: binary, not PEM.
    std::fs::write(
        ctx.path().join("k.der"),
        [0x30u8, 0x59, 0x30, 0x13, 0x06, 0x07, 0xff],
    )
    .unwrap();
    // An RSA SubjectPublicKeyInfo in PEM (algorithm rsaEncryption, tiny modulus).
    std::fs::write(
        ctx.path().join("rsa.pub"),
        "-----BEGIN PUBLIC KEY-----\nMCQwDQYJKoZIhvcNAQEBBQADEwAwEAIJAMK3AAAAAAAAAgMBAAE=\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    for (key, what) in [("k.der", "binary data"), ("rsa.pub", "RSA key")] {
        let err = fails(ctx.run(&["verify", "oci:x", "--key", key]));
        assert!(err.contains(what), "{err}");
        assert!(
            err.contains("bulwark accepts ECDSA P-256 keys in PEM"),
            "{err}"
        );
    }
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A one-layer layout tagged `t` whose layer is `layer` (gzip) and whose
/// config claims `diff_id`.
pub(crate) fn one_layer_layout(dir: &Path, layer: &[u8], diff_id: &str) {
    layout_of(dir, layer, diff_id, serde_json::json!({}));
}

/// [`one_layer_layout`] with the `tar` the layer holds and a runtime `config`
/// (`Entrypoint`, `Env`, …).
pub(crate) fn one_layer_layout_with(
    dir: &Path,
    layer: &[u8],
    tar: &[u8],
    config: serde_json::Value,
) {
    use sha2::Digest as _;
    let diff_id = format!("sha256:{}", hex::encode(sha2::Sha256::digest(tar)));
    layout_of(dir, layer, &diff_id, config);
}

fn layout_of(dir: &Path, layer: &[u8], diff_id: &str, runtime: serde_json::Value) {
    layers_layout(dir, &[(layer, diff_id)], runtime);
}

/// An OCI layout tagged `t` with these gzip layers (blob, diff_id), bottom
/// first, and `runtime` as the config's `config`.
pub(crate) fn layers_layout(dir: &Path, layers: &[(&[u8], &str)], runtime: serde_json::Value) {
    use sha2::Digest as _;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let hex = hex::encode(sha2::Sha256::digest(data));
        std::fs::write(blobs.join(&hex), data).unwrap();
        (format!("sha256:{hex}"), data.len())
    };
    let descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|(blob, _)| {
            let (ld, ls) = put(blob);
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls})
        })
        .collect();
    let diff_ids: Vec<&str> = layers.iter().map(|(_, d)| *d).collect();
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": diff_ids}});
    let (cd, cs) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs});
    let (md, ms) = put(manifest.to_string().as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
         "annotations": {"org.opencontainers.image.ref.name": "t"}}]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

#[test]
fn regression_copy_to_a_docker_archive_stops_a_gzip_bomb() {
    // 1.1 GiB of zeros in about 1 MiB: 1100 gzip members of 1 MiB of zeros.
    let member = gzip(&vec![0u8; 1 << 20]);
    let layer: Vec<u8> = std::iter::repeat_n(member.as_slice(), 1100)
        .flatten()
        .copied()
        .collect();
    let ctx = Ctx::new();
    one_layer_layout(
        &ctx.path().join("bomb"),
        &layer,
        &format!("sha256:{}", "0".repeat(64)),
    );
    let err = fails(ctx.run(&["copy", "oci:bomb:t", "docker-archive:b.tar:x/y:1"]));
    assert!(err.contains("decompression bomb"), "{err}");
    assert!(!ctx.path().join("b.tar").exists());
    assert_no_leftovers(ctx.path());
}

/// How a hostile registry answers manifest requests.
#[derive(Clone, Copy)]
pub(crate) enum Manifest {
    /// One byte every half second, forever.
    Drip,
    /// A chunked body that never ends.
    Endless,
    /// A manifest whose bytes are not the digest asked for.
    WrongDigest,
}

/// A registry on loopback that answers `/v2/` and then misbehaves on
/// manifests; it stops with the test process.
pub(crate) fn hostile_registry(how: Manifest) -> String {
    use std::io::{BufRead as _, BufReader, Write as _};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut first = String::new();
                if r.read_line(&mut first).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                }
                if !first.contains("/manifests/") {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
                    return;
                }
                let head = |len: &str| {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n{len}\r\n"
                    )
                };
                match how {
                    Manifest::Drip => {
                        let _ = s.write_all(head("Content-Length: 1000000\r\n").as_bytes());
                        for _ in 0..600 {
                            if s.write_all(b" ").is_err() {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(500));
                        }
                    }
                    Manifest::Endless => {
                        let _ = s.write_all(head("Transfer-Encoding: chunked\r\n").as_bytes());
                        let chunk = format!("{:x}\r\n{}\r\n", 1 << 16, " ".repeat(1 << 16));
                        for _ in 0..1_000_000 {
                            if s.write_all(chunk.as_bytes()).is_err() {
                                return;
                            }
                        }
                    }
                    Manifest::WrongDigest => {
                        let body = r#"{"schemaVersion":2}"#;
                        let _ = s.write_all(
                            format!(
                                "{}{body}",
                                head(&format!("Content-Length: {}\r\n", body.len()))
                            )
                            .as_bytes(),
                        );
                    }
                }
            });
        }
    });
    host
}

#[test]
fn regression_a_hostile_registry_cannot_hold_or_flood_a_command() {
    let ctx = Ctx::new();
    let run = |host: &str, reference: &str| {
        let start = Instant::now();
        let out = ctx
            .cmd()
            .env("BULWARK_REGISTRY_TIMEOUT", "2")
            .args(["sbom", &format!("{host}/x/y{reference}"), "--insecure"])
            .output()
            .unwrap();
        (fails(out), start.elapsed())
    };
    // One byte every 500 ms keeps every read alive; the request deadline
    // still ends it (4 attempts of 2 s, with backoff).
    let (err, took) = run(&hostile_registry(Manifest::Drip), ":1");
    assert!(err.contains("no complete answer within 2s"), "{err}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    // An endless body is cut at the manifest limit, not read into memory.
    let (err, took) = run(&hostile_registry(Manifest::Endless), ":1");
    assert!(err.contains("over the 4 MiB allowed"), "{err}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    // A manifest that is not the digest asked for is tampering, not "unreachable".
    let digest = format!("@sha256:{}", "1".repeat(64));
    let (err, _) = run(&hostile_registry(Manifest::WrongDigest), &digest);
    assert!(err.contains("corrupt or tampered"), "{err}");
    assert!(!err.contains("reachable"), "{err}");
}

#[test]
fn regression_escape_sequences_in_image_data_never_reach_the_terminal() {
    use sha2::Digest as _;
    // A setuid file and a dpkg record whose names carry terminal escapes.
    let evil = "\x1b]0;pwned\x07\x1b[2J";
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    add(&format!("usr/bin/x{evil}"), 0o4755, b"x");
    add(
        "var/lib/dpkg/status.d/p",
        0o644,
        format!("Package: p{evil}\nVersion: 1{evil}\nArchitecture: amd64\n").as_bytes(),
    );
    let tar = b.into_inner().unwrap();
    let diff_id = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&tar)));
    let ctx = Ctx::new();
    one_layer_layout(&ctx.path().join("img"), &gzip(&tar), &diff_id);
    for args in [
        &["eval", "oci:img:t"][..],
        &["sbom", "oci:img:t"][..],
        &["verify", "oci:img:t", "--key", "k.pub"][..],
    ] {
        if args[0] == "verify" {
            ok(run_pw(&ctx, &["key", "generate", "k"]));
        }
        let out = ctx.run(args);
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !bytes.contains(&0x1b) && !bytes.contains(&0x07),
                "{args:?} {stream} holds raw escapes: {}",
                String::from_utf8_lossy(bytes)
            );
        }
        if args[0] != "verify" {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(text.contains("\\u{1b}]0;pwned"), "{args:?}: {text}");
        }
    }
}

#[test]
fn regression_the_tag_inside_a_docker_archive_counts_as_its_reference() {
    let ctx = Ctx::new();
    ctx.spec("d", "archs: [amd64]\npackages: [base-files]\n");
    ok(ctx.run(&["build", "d.yaml", "--output", "oci:img:latest"]));
    ok(ctx.run(&[
        "copy",
        "oci:img:latest",
        "docker-archive:d.tar:bulwark/d:latest",
    ]));
    for reference in [
        "oci:img:latest",
        "docker-archive:d.tar",
        "docker-archive:d.tar:bulwark/d:latest",
    ] {
        let out = ctx.run(&["eval", reference, "--format", "json"]);
        let r = report(&String::from_utf8_lossy(&out.stdout));
        assert!(
            finding_ids(&r).contains(&"EX-004".to_string()),
            "{reference}: {:?}",
            finding_ids(&r)
        );
    }
}

#[test]
fn regression_files_sources_are_bounded_and_docker_archives_refuse_signatures() {
    let ctx = Ctx::new();
    // Large sources are streamed (resources.rs builds one larger than the
    // memory limit); one larger than any layer bulwark reads is refused
    // before a byte of it is read (sparse: nothing is written).
    let big = std::fs::File::create(ctx.path().join("big.bin")).unwrap();
    big.set_len(300 << 30).unwrap();
    ctx.spec(
        "f",
        "archs: [amd64]\npackages: [base-files]\nfiles: [{src: big.bin, dest: /data/big.bin}]\n",
    );
    let err = fails(ctx.run(&["build", "f.yaml", "--output", "oci:out:v1"]));
    assert!(
        err.contains("big.bin: files: sources pass the limit of 256 GiB"),
        "{err}"
    );
    assert!(!ctx.path().join("out").exists());

    ok(run_pw(&ctx, &["key", "generate", "k"]));
    ctx.spec("s", "archs: [amd64]\npackages: [base-files]\n");
    let err = fails(run_pw(
        &ctx,
        &[
            "build",
            "s.yaml",
            "--output",
            "docker-archive:s.tar",
            "--sign-key",
            "k.key",
        ],
    ));
    assert!(
        err.contains("a docker-archive cannot carry signatures"),
        "{err}"
    );
    assert!(!ctx.path().join("s.tar").exists());
}

#[test]
fn regression_a_signal_leaves_no_temporary_directories() {
    // A registry that accepts connections and never answers: `copy` waits
    // with its new layout staged beside the destination.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in listener.incoming().take(4) {
            conns.push(c);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    for signal in ["-TERM", "-INT"] {
        let ctx = Ctx::new();
        let src = format!("127.0.0.1:{port}/team/app:1");
        let mut child = ctx
            .cmd()
            .args(["copy", &src, "oci:new:v1", "--insecure"])
            .spawn()
            .unwrap();
        let staged = || {
            std::fs::read_dir(ctx.path())
                .unwrap()
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with(".bulwark-"))
        };
        let start = std::time::Instant::now();
        while !staged() && start.elapsed() < std::time::Duration::from_secs(20) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(staged(), "copy never staged its layout");
        let ok = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{signal}");
        assert!(
            !staged(),
            "{signal}: a .bulwark-* directory was left behind"
        );
        assert!(!ctx.path().join("new").exists());
    }
    drop(held);
}
