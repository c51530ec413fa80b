//! Keys, signatures, attestations, registries: bulwark against itself and
//! against cosign 3.1, crane, oras and skopeo on a loopback docker-registry.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output};

use bulwark_test_support::{Fault, HttpServer};

use crate::common::*;

pub(crate) fn image_spec(ctx: &Ctx) {
    ctx.spec(
        "i",
        "archs: [amd64]\npackages: [base-files, hello]\nexclude: [{package: awk, reason: scripts never run}]\nconfig: {entrypoint: [/usr/bin/hello]}\n",
    );
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A docker-registry 2.8 on a free loopback port, stopped on drop.
pub(crate) struct Registry {
    child: Child,
    pub(crate) host: String,
    /// A token server beside the registry, when it uses the token flow.
    token_server: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub(crate) fn start() -> Registry {
        Registry::start_with("")
    }

    /// With HTTP Basic authentication for `user:password`.
    fn start_with_auth(user: &str, password: &str) -> Registry {
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .unwrap();
        let line = ok(out);
        Registry::start_with(line.trim())
    }

    /// With the Docker token flow (Bearer tokens from a token server that
    /// only `user:password` may use).
    fn start_with_token(user: &str, password: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let tport = free_port();
        let cert = dir.path().join("token.pem");
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it/fixtures/token_server.py");
        let mut server = Command::new("python3")
            .arg(script)
            .arg(tport.to_string())
            .arg(&cert)
            .args([user, password])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap();
        // Wait for "ready" (the certificate is written by then).
        let mut line = String::new();
        use std::io::BufRead as _;
        std::io::BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "token server did not start");
        let auth = format!(
            "auth: {{token: {{realm: 'http://127.0.0.1:{tport}/token', service: bulwark-test, issuer: bulwark-test-issuer, rootcertbundle: {}}}}}\n",
            cert.display()
        );
        let mut r = Registry::start_config(dir, &auth);
        r.token_server = Some(server);
        r
    }

    fn start_with(htpasswd: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let auth = if htpasswd.is_empty() {
            String::new()
        } else {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, format!("{htpasswd}\n")).unwrap();
            format!(
                "auth: {{htpasswd: {{realm: test, path: {}}}}}\n",
                file.display()
            )
        };
        Registry::start_config(dir, &auth)
    }

    fn start_config(dir: tempfile::TempDir, auth: &str) -> Registry {
        let port = free_port();
        let cfg = dir.path().join("config.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n{auth}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", cfg.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let host = format!("127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(&host).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Registry {
            child,
            host,
            token_server: None,
            _dir: dir,
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(t) = &mut self.token_server {
            let _ = t.kill();
            let _ = t.wait();
        }
    }
}

pub(crate) fn cosign(dir: &Path, args: &[&str]) -> Output {
    cosign_parts(dir, &[args])
}

/// cosign with its arguments given in parts (command, flags, the image).
fn cosign_parts(dir: &Path, parts: &[&[&str]]) -> Output {
    Command::new("cosign")
        .current_dir(dir)
        .env("COSIGN_PASSWORD", PW)
        .env("HOME", dir)
        .args(parts.iter().flat_map(|p| p.iter()))
        .output()
        .unwrap()
}

/// cosign's flags for reading the signature format bulwark wrote.
fn legacy_flags(fmt: &str) -> &'static [&'static str] {
    if fmt == "legacy" {
        &["--new-bundle-format=false"]
    } else {
        &[]
    }
}

const VERIFY_FLAGS: &[&str] = &["--insecure-ignore-tlog=true", "--allow-insecure-registry"];
pub(crate) const SIGN_FLAGS: &[&str] = &[
    "--use-signing-config=false",
    "--tlog-upload=false",
    "--allow-insecure-registry",
    "-y",
];

#[test]
fn sign_attest_verify_on_a_layout_and_fail_closed() {
    let ctx = Ctx::new();
    image_spec(&ctx);
    ok(run_pw(&ctx, &["key", "generate", "k"]));
    ok(run_pw(&ctx, &["key", "generate", "other"]));
    let key = std::fs::read_to_string(ctx.path().join("k.key")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    // The private key is not readable by others.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(ctx.path().join("k.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "k.key mode {mode:o}");

    // Unsigned image: verify fails with exit 3 and says why.
    // (another timestamp, so another digest than the signed build below)
    ok(ctx.run(&[
        "build",
        "i.yaml",
        "--output",
        "oci:plain:v1",
        "--source-date-epoch",
        "1",
    ]));
    let out = ctx.run(&["verify", "oci:plain:v1", "--key", "k.pub"]);
    assert_eq!(code(&out), Some(3), "{}", text(&out));
    assert!(text(&out).contains("has no signature"), "{}", text(&out));

    // Signed build with SBOMs and provenance in both formats.
    let out = ok(run_pw(
        &ctx,
        &[
            "build",
            "i.yaml",
            "--output",
            "oci:signed:v1",
            "--sign-key",
            "k.key",
            "--signature-format",
            "both",
            "--sbom-dir",
            "sboms",
        ],
    ));
    assert!(
        out.contains("signed:v1") || out.contains("oci:signed"),
        "{out}"
    );
    for f in ["i.provenance.json", "i-amd64.spdx.json", "i-amd64.cdx.json"] {
        assert!(ctx.path().join("sboms").join(f).is_file(), "{f}");
    }
    let spdx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.path().join("sboms/i-amd64.spdx.json")).unwrap())
            .unwrap();
    let hello = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hello")
        .unwrap();
    assert_eq!(hello["checksums"][0]["algorithm"], "SHA256");
    let prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.path().join("sboms/i.provenance.json")).unwrap())
            .unwrap();
    let deps = prov["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert!(
        deps.iter()
            .any(|d| d["name"].as_str().is_some_and(|n| n.starts_with("hello_")))
    );
    assert!(
        deps.iter()
            .any(|d| d["uri"].as_str().is_some_and(|u| u.ends_with("/InRelease")))
    );

    let all = [
        "--attestation",
        "spdx",
        "--attestation",
        "cyclonedx",
        "--attestation",
        "slsa-provenance",
    ];
    let mut args = vec![
        "verify",
        "oci:signed:v1",
        "--key",
        "k.pub",
        "--format",
        "json",
    ];
    args.extend(all);
    let v = report(&ok(ctx.run(&args)));
    assert_eq!(v["ok"], true);
    // A signature and four attestations (provenance, SPDX 2.3, SPDX 3,
    // CycloneDX) in each format.
    assert_eq!(v["found"].as_array().unwrap().len(), 10, "{v}");

    // Several keys: one matching is enough.
    ok(ctx.run(&[
        "verify",
        "oci:signed:v1",
        "--key",
        "other.pub",
        "--key",
        "k.pub",
    ]));
    // Wrong key.
    let out = ctx.run(&["verify", "oci:signed:v1", "--key", "other.pub"]);
    assert_eq!(code(&out), Some(3));
    assert!(
        text(&out).contains("no signature verifies"),
        "{}",
        text(&out)
    );
    // Missing required attestation.
    let out = ctx.run(&[
        "verify",
        "oci:signed:v1",
        "--key",
        "k.pub",
        "--attestation",
        "vuln",
    ]);
    assert_eq!(code(&out), Some(3));
    assert!(
        text(&out).contains("missing attestation https://cosign.sigstore.dev/attestation/vuln/v1"),
        "{}",
        text(&out)
    );
    // No password at all: says which variables to set.
    let out = ctx
        .cmd()
        .env_remove("BULWARK_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .args(["sign", "oci:plain:v1", "--key", "k.key"])
        .output()
        .unwrap();
    assert!(fails(out).contains("set BULWARK_PASSWORD (or COSIGN_PASSWORD)"));
    // A docker-archive cannot carry signatures: refused before building.
    let err = fails(run_pw(
        &ctx,
        &[
            "build",
            "i.yaml",
            "--output",
            "docker-archive:d.tar",
            "--sign-key",
            "k.key",
        ],
    ));
    assert!(err.contains("cannot carry signatures"), "{err}");
    assert!(!ctx.path().join("d.tar").exists());
    // Wrong password and corrupt key files.
    let out = ctx
        .cmd()
        .env("BULWARK_PASSWORD", "nope")
        .args(["sign", "oci:plain:v1", "--key", "k.key"])
        .output()
        .unwrap();
    assert!(fails(out).contains("k.key: wrong password"));
    std::fs::write(
        ctx.path().join("bad.key"),
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n",
    )
    .unwrap();
    let err = fails(run_pw(&ctx, &["sign", "oci:plain:v1", "--key", "bad.key"]));
    assert!(err.contains("bad.key") && err.contains("END"), "{err}");
    std::fs::write(ctx.path().join("bad.pub"), "not a key").unwrap();
    let err = fails(ctx.run(&["verify", "oci:signed:v1", "--key", "bad.pub"]));
    assert!(err.contains("bad.pub: not a PEM file"), "{err}");

    // Tampered signature payload, re-hashed so only the signature can catch it:
    // a legacy-signed image whose simple-signing payload gains a field.
    ok(run_pw(
        &ctx,
        &[
            "sign",
            "oci:plain:v1",
            "--key",
            "k.key",
            "--signature-format",
            "legacy",
        ],
    ));
    ok(ctx.run(&["verify", "oci:plain:v1", "--key", "k.pub"]));
    let plain = ctx.path().join("plain");
    let mut idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(plain.join("index.json")).unwrap()).unwrap();
    let sig = idx["manifests"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .ends_with(".sig")
        })
        .unwrap();
    let mhex = sig["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(plain.join("blobs/sha256").join(&mhex)).unwrap())
            .unwrap();
    let lhex = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let payload = std::fs::read_to_string(plain.join("blobs/sha256").join(&lhex)).unwrap();
    let evil = payload.replace("\"optional\":null", "\"optional\":{\"evil\":\"yes\"}");
    assert_ne!(payload, evil);
    let evil_digest = bulwark_oci::sha256_digest(evil.as_bytes());
    std::fs::write(
        plain
            .join("blobs/sha256")
            .join(evil_digest.trim_start_matches("sha256:")),
        &evil,
    )
    .unwrap();
    manifest["layers"][0]["digest"] = evil_digest.into();
    manifest["layers"][0]["size"] = evil.len().into();
    let mbytes = serde_json::to_vec(&manifest).unwrap();
    let md = bulwark_oci::sha256_digest(&mbytes);
    std::fs::write(
        plain
            .join("blobs/sha256")
            .join(md.trim_start_matches("sha256:")),
        &mbytes,
    )
    .unwrap();
    sig["digest"] = md.into();
    sig["size"] = mbytes.len().into();
    std::fs::write(plain.join("index.json"), serde_json::to_vec(&idx).unwrap()).unwrap();
    let out = ctx.run(&["verify", "oci:plain:v1", "--key", "k.pub"]);
    assert_eq!(code(&out), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("signature does not verify"),
        "{}",
        text(&out)
    );

    // Tampered image: the manifest no longer matches the digest index.json names.
    let timg = ctx.path().join("timg");
    copy_dir(&ctx.path().join("signed"), &timg);
    let top = tag_digest(&timg, "v1");
    let mpath = timg
        .join("blobs/sha256")
        .join(top.trim_start_matches("sha256:"));
    let m = std::fs::read_to_string(&mpath).unwrap().replacen(
        "\"schemaVersion\":2",
        "\"schemaVersion\": 2",
        1,
    );
    std::fs::write(&mpath, m).unwrap();
    let err = fails(ctx.run(&["verify", "oci:timg:v1", "--key", "k.pub"]));
    assert!(err.contains("tampered"), "{err}");

    // A signature moved onto another image does not verify it.
    let signed = ctx.path().join("signed");
    let plain_index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.path().join("plain/index.json")).unwrap())
            .unwrap();
    let plain_digest = plain_index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let plain_size = plain_index["manifests"][0]["size"].as_u64().unwrap();
    let hex = plain_digest.trim_start_matches("sha256:");
    // The whole plain image (manifest, config, layers): verify checks them all.
    for e in std::fs::read_dir(ctx.path().join("plain/blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let to = signed.join("blobs/sha256").join(e.file_name());
        if !to.exists() {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
    let mut idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(signed.join("index.json")).unwrap()).unwrap();
    let sig_tags: Vec<serde_json::Value> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .starts_with("sha256-")
        })
        .cloned()
        .collect();
    let signed_hex = top.trim_start_matches("sha256:").to_string();
    let list = idx["manifests"].as_array_mut().unwrap();
    for mut t in sig_tags {
        let name = t["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap()
            .replace(&signed_hex, hex);
        t["annotations"]["org.opencontainers.image.ref.name"] = name.into();
        list.push(t);
    }
    list.push(serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": plain_digest, "size": plain_size, "annotations": {"org.opencontainers.image.ref.name": "moved"}}));
    std::fs::write(signed.join("index.json"), serde_json::to_vec(&idx).unwrap()).unwrap();
    let out = ctx.run(&["verify", "oci:signed:moved", "--key", "k.pub"]);
    assert_eq!(code(&out), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("signed for another image"),
        "{}",
        text(&out)
    );

    // Copy to an archive carries everything; verification still passes there.
    ok(ctx.run(&["copy", "oci:signed:v1", "oci-archive:signed.tar:v1"]));
    let mut args = vec!["verify", "oci-archive:signed.tar:v1", "--key", "k.pub"];
    args.extend(all);
    ok(ctx.run(&args));
}

#[test]
fn a_signed_multi_platform_build_signs_the_index_and_each_platform() {
    let ctx = Ctx::new();
    multi_arch_spec(&ctx);
    ok(run_pw(&ctx, &["key", "generate", "k"]));
    ok(run_pw(&ctx, &["key", "generate", "other"]));
    let r = report(&ok(run_pw(
        &ctx,
        &[
            "build",
            "m.yaml",
            "--output",
            "oci:multi:v1",
            "--sign-key",
            "k.key",
            "--format",
            "json",
        ],
    )));
    assert_eq!(r["sboms"], "attached as signed attestations");
    let mut subjects = vec!["oci:multi:v1".to_owned()];
    for p in r["platforms"].as_array().unwrap() {
        subjects.push(format!(
            "oci:multi@{}",
            p["manifest_digest"].as_str().unwrap()
        ));
    }
    assert_eq!(subjects.len(), 3);
    for s in &subjects {
        let out = ctx.run(&[
            "verify",
            s,
            "--key",
            "k.pub",
            "--attestation",
            "spdx",
            "--attestation",
            "cyclonedx",
            "--attestation",
            "slsa-provenance",
            "--format",
            "json",
        ]);
        assert_eq!(code(&out), Some(0), "{s}: {}", text(&out));
    }

    // `eval --key --all-platforms`: both platforms, signed, SBOM and
    // provenance attested: no provenance finding and grade A.
    let out = ok(ctx.run(&[
        "eval",
        "oci:multi:v1",
        "--key",
        "k.pub",
        "--all-platforms",
        "--format",
        "json",
        "--fail-on",
        "high",
    ]));
    let reports: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let plats: Vec<&str> = reports
        .iter()
        .map(|r| r["platform"].as_str().unwrap())
        .collect();
    assert_eq!(plats, ["linux/amd64", "linux/arm64/v8"], "{out}");
    for r in &reports {
        assert_eq!(r["grade"], "A", "{r:#}");
        assert_signed_and_attested("oci:multi:v1", r);
        let found = r["trust"]["found"].as_array().unwrap();
        assert!(found.iter().all(|f| f["verified"] == true), "{r:#}");
        assert!(found.len() >= 4, "{found:?}");
    }

    // The wrong key: every signature fails (PR-005) and none verifies (PR-004).
    let out = ctx.run(&[
        "eval",
        "oci:multi:v1",
        "--key",
        "other.pub",
        "--format",
        "json",
        "--fail-on",
        "high",
    ]);
    assert_eq!(code(&out), Some(3), "{}", text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let count = |id: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"] == id && f["severity"] == "high")
            .count()
    };
    assert_eq!(count("PR-004"), 1, "{r:#}");
    assert!(count("PR-005") >= 4, "{r:#}");
    assert_eq!(r["grade"], "C");

    // A policy requiring a signature and attestations: passes with the key
    // it names (relative to the policy file), fails closed with none.
    std::fs::create_dir_all(ctx.path().join("pol")).unwrap();
    std::fs::copy(ctx.path().join("k.pub"), ctx.path().join("pol/k.pub")).unwrap();
    std::fs::write(
        ctx.path().join("pol/policy.yaml"),
        "minimum-grade: A\nrequire-signature: true\nrequire-attestations: [spdx, cyclonedx, slsa-provenance]\nkeys: [k.pub]\n",
    )
    .unwrap();
    ok(ctx.run(&["eval", "oci:multi:v1", "--policy", "pol/policy.yaml"]));
    std::fs::write(
        ctx.path().join("pol/nokey.yaml"),
        "require-attestations: [slsa-provenance]\n",
    )
    .unwrap();
    let out = ctx.run(&["eval", "oci:multi:v1", "--policy", "pol/nokey.yaml"]);
    assert_eq!(code(&out), Some(3), "{}", text(&out));
    assert!(text(&out).contains("no key was given"), "{}", text(&out));
    std::fs::write(
        ctx.path().join("pol/vex.yaml"),
        "require-attestations: [openvex]\nkeys: [k.pub]\n",
    )
    .unwrap();
    let out = ctx.run(&["eval", "oci:multi:v1", "--policy", "pol/vex.yaml"]);
    assert_eq!(code(&out), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("required attestation openvex"),
        "{}",
        text(&out)
    );

    // SARIF for both platforms: one run each, valid under the schema and
    // the SARIF Multitool's rules.
    if tool("sarif-multitool") && tool("python3") {
        let out = ok(ctx.run(&[
            "eval",
            "oci:multi:v1",
            "--key",
            "other.pub",
            "--all-platforms",
            "--format",
            "sarif",
        ]));
        let log: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["runs"].as_array().unwrap().len(), 2);
        let results = log["runs"][0]["results"].as_array().unwrap();
        assert!(
            results
                .iter()
                .any(|r| r["ruleId"] == "PR-004" && r["level"] == "error"),
            "{out}"
        );
        let file = ctx.path().join("multi.sarif");
        std::fs::write(&file, &out).unwrap();
        assert_valid_sarif(&file);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn cosign_crane_oras_skopeo_interoperate_on_a_registry() {
    if !["docker-registry", "cosign", "crane", "oras", "skopeo"]
        .iter()
        .all(|t| tool(t))
    {
        return;
    }
    let ctx = Ctx::new();
    image_spec(&ctx);
    let reg = Registry::start();
    let h = &reg.host;
    ok(run_pw(&ctx, &["key", "generate", "bulwark"]));

    // bulwark pushes signed images in each format; cosign verifies them.
    for fmt in ["bundle", "legacy"] {
        let r = format!("{h}/test/{fmt}:1");
        ok(run_pw(
            &ctx,
            &[
                "build",
                "i.yaml",
                "--output",
                &r,
                "--insecure",
                "--sign-key",
                "bulwark.key",
                "--signature-format",
                fmt,
            ],
        ));
        let legacy = legacy_flags(fmt);
        let image: &[&str] = &[&r];
        ok(cosign_parts(
            ctx.path(),
            &[
                &["verify", "--key", "bulwark.pub"],
                VERIFY_FLAGS,
                legacy,
                image,
            ],
        ));
        for t in ["spdxjson", "cyclonedx", "slsaprovenance1"] {
            let head = ["verify-attestation", "--key", "bulwark.pub", "--type", t];
            ok(cosign_parts(
                ctx.path(),
                &[&head, VERIFY_FLAGS, legacy, image],
            ));
        }
        // A wrong key fails in cosign too.
        ok(cosign(
            ctx.path(),
            &["generate-key-pair", "--output-key-prefix", "stranger"],
        ));
        assert!(
            !cosign_parts(
                ctx.path(),
                &[
                    &["verify", "--key", "stranger.pub"],
                    VERIFY_FLAGS,
                    legacy,
                    image
                ],
            )
            .status
            .success()
        );
        std::fs::remove_file(ctx.path().join("stranger.key")).unwrap();
        std::fs::remove_file(ctx.path().join("stranger.pub")).unwrap();

        // eval and sbom read straight from the registry (layers streamed),
        // and find the signatures and attestations in this format.
        let out = ok(ctx.run(&[
            "eval",
            &r,
            "--insecure",
            "--key",
            "bulwark.pub",
            "--format",
            "json",
        ]));
        let ev: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(ev["summary"]["packages"].as_u64().unwrap() > 0, "{ev:#}");
        assert_signed_and_attested(fmt, &ev);
        let sbom = ok(ctx.run(&["sbom", &r, "--insecure", "--format", "json"]));
        assert!(sbom.contains("\"hello\""), "{sbom}");
    }

    // cosign signs and attests (cosign key pair) in both formats; bulwark verifies.
    let r = format!("{h}/test/cosigned:1");
    ok(ctx.run(&["build", "i.yaml", "--output", &r, "--insecure"]));
    ok(cosign(ctx.path(), &["generate-key-pair"]));
    std::fs::write(
        ctx.path().join("pred.json"),
        r#"{"spdxVersion":"SPDX-2.3"}"#,
    )
    .unwrap();
    for legacy in [false, true] {
        let extra: &[&str] = if legacy {
            &["--new-bundle-format=false"]
        } else {
            &[]
        };
        let image: &[&str] = &[&r];
        ok(cosign_parts(
            ctx.path(),
            &[&["sign", "--key", "cosign.key"], SIGN_FLAGS, extra, image],
        ));
        let t = if legacy { "cyclonedx" } else { "spdxjson" };
        let head = [
            "attest",
            "--key",
            "cosign.key",
            "--type",
            t,
            "--predicate",
            "pred.json",
        ];
        ok(cosign_parts(ctx.path(), &[&head, SIGN_FLAGS, extra, image]));
    }
    let v = report(&ok(ctx.run(&[
        "verify",
        &r,
        "--key",
        "cosign.pub",
        "--attestation",
        "spdx",
        "--attestation",
        "cyclonedx",
        "--insecure",
        "--format",
        "json",
    ])));
    let formats: Vec<&str> = v["found"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verified"] == true)
        .map(|f| f["format"].as_str().unwrap())
        .collect();
    assert!(
        formats.contains(&"bundle") && formats.contains(&"legacy"),
        "{v}"
    );
    let out = ctx.run(&["verify", &r, "--key", "bulwark.pub", "--insecure"]);
    assert_eq!(code(&out), Some(3));

    // bulwark signs with the cosign-made key; cosign verifies.
    let r2 = format!("{h}/test/cosignkey:1");
    ok(ctx.run(&["copy", &format!("{h}/test/cosigned:1"), &r2, "--insecure"]));
    ok(ctx
        .cmd()
        .env("COSIGN_PASSWORD", PW)
        .args(["sign", &r2, "--key", "cosign.key", "--insecure"])
        .output()
        .unwrap());
    ok(cosign_parts(
        ctx.path(),
        &[&["verify", "--key", "cosign.pub"], VERIFY_FLAGS, &[&r2]],
    ));

    // oras and crane see the referrers; skopeo copies the image.
    let out = ok(Command::new("oras")
        .args([
            "discover",
            "--plain-http",
            "--format",
            "json",
            &format!("{h}/test/bundle:1"),
        ])
        .output()
        .unwrap());
    assert!(out.matches("sha256:").count() >= 4, "{out}");
    let tags = ok(Command::new("crane")
        .args(["ls", "--insecure", &format!("{h}/test/legacy")])
        .output()
        .unwrap());
    assert!(
        tags.lines().any(|t| t.ends_with(".sig")) && tags.lines().any(|t| t.ends_with(".att")),
        "{tags}"
    );
    ok(Command::new("skopeo")
        .current_dir(ctx.path())
        .args([
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{h}/test/bundle:1"),
            "oci:skopeo:1",
        ])
        .output()
        .unwrap());

    // An unsigned build pushes its SBOMs and provenance as unsigned
    // artifacts: oras lists and pulls them; bulwark verify does not count them.
    let r3 = format!("{h}/test/unsigned:1");
    ok(ctx.run(&["build", "i.yaml", "--output", &r3, "--insecure"]));
    let found = report(&ok(Command::new("oras")
        .args(["discover", "--plain-http", "--format", "json", &r3])
        .output()
        .unwrap()));
    let mut kinds: Vec<String> = found["referrers"]
        .as_array()
        .unwrap_or_else(|| panic!("{found:#}"))
        .iter()
        .map(|r| r["artifactType"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "application/spdx+json",
            "application/spdx+json",
            "application/vnd.cyclonedx+json",
            "application/vnd.in-toto+json"
        ]
    );
    // SPDX 2.3 and SPDX 3 share the media type; their files' titles (and
    // the predicate-type annotation) tell them apart.
    let mut pulled_files = Vec::new();
    for (i, r) in found["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["artifactType"] == "application/spdx+json")
        .enumerate()
    {
        let pulled = ctx.path().join(format!("pulled-sbom-{i}"));
        ok(Command::new("oras")
            .args(["pull", "--plain-http", "-o"])
            .arg(&pulled)
            .arg(format!(
                "{h}/test/unsigned@{}",
                r["digest"].as_str().unwrap()
            ))
            .output()
            .unwrap());
        for (file, check) in [
            ("sbom.spdx.json", "spdxVersion"),
            ("sbom.spdx3.json", "@context"),
        ] {
            if let Ok(bytes) = std::fs::read(pulled.join(file)) {
                let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                let want = if file == "sbom.spdx.json" {
                    "SPDX-2.3"
                } else {
                    "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
                };
                assert_eq!(doc[check], want, "{file}");
                pulled_files.push(file);
            }
        }
    }
    pulled_files.sort_unstable();
    assert_eq!(pulled_files, ["sbom.spdx.json", "sbom.spdx3.json"]);
    let out = ctx.run(&["verify", &r3, "--key", "bulwark.pub", "--insecure"]);
    assert_eq!(code(&out), Some(3), "{}", text(&out));

    // bulwark copy registry → layout keeps signatures verifiable offline.
    ok(ctx.run(&[
        "copy",
        &format!("{h}/test/bundle:1"),
        "oci:pulled:1",
        "--insecure",
    ]));
    ok(ctx.run(&[
        "verify",
        "oci:pulled:1",
        "--key",
        "bulwark.pub",
        "--attestation",
        "spdx",
    ]));
}

#[test]
fn registry_failures_are_clear_errors() {
    let ctx = Ctx::new();
    image_spec(&ctx);
    ok(ctx.run(&["build", "i.yaml", "--output", "oci:img:v1"]));
    let empty = tempfile::tempdir().unwrap();
    for (status, expect) in [
        (401, "access denied"),
        (404, "not found"),
        (500, "after 4 attempt(s)"),
    ] {
        let server = HttpServer::serve(empty.path());
        server.fault("", Fault::Status(status));
        let host = server.url.trim_start_matches("http://").to_string();
        let err = fails(
            ctx.cmd()
                .env("BULWARK_REGISTRY_TIMEOUT", "2")
                .args(["copy", "oci:img:v1", &format!("{host}/x/y:1"), "--insecure"])
                .output()
                .unwrap(),
        );
        assert!(err.contains(expect), "{status}: {err}");
        assert!(err.contains(&host), "{status}: {err}");
    }
    // A registry that accepts connections and never answers times out.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = silent.local_addr().unwrap().to_string();
    let t = std::time::Instant::now();
    let err = fails(
        ctx.cmd()
            .env("BULWARK_REGISTRY_TIMEOUT", "1")
            .args(["copy", "oci:img:v1", &format!("{host}/x/y:1"), "--insecure"])
            .output()
            .unwrap(),
    );
    assert!(err.contains(&host) && err.contains("attempt"), "{err}");
    assert!(t.elapsed().as_secs() < 60);
    drop(silent);
}

#[test]
fn registry_credentials_come_from_the_docker_config() {
    if !["docker-registry", "htpasswd", "python3"]
        .iter()
        .all(|t| tool(t))
    {
        return;
    }
    let ctx = Ctx::new();
    image_spec(&ctx);
    ok(ctx.run(&["build", "i.yaml", "--output", "oci:img:v1"]));
    ok(run_pw(&ctx, &["key", "generate", "k"]));
    // HTTP Basic, then the Docker token flow (Bearer tokens from a token
    // server whose signatures docker-registry checks).
    credentials_flow(&ctx, &Registry::start_with_auth("alice", "s3cret"));
    credentials_flow(&ctx, &Registry::start_with_token("alice", "s3cret"));
}

fn credentials_flow(ctx: &Ctx, reg: &Registry) {
    let r = format!("{}/private/app:1", reg.host);
    let docker = ctx.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let with_config = |args: &[&str]| {
        ctx.cmd()
            .env("DOCKER_CONFIG", &docker)
            .env("BULWARK_PASSWORD", PW)
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .args(args)
            .output()
            .unwrap()
    };
    // No credentials: denied, with the hint to log in.
    let err = fails(with_config(&["copy", "oci:img:v1", &r, "--insecure"]));
    assert!(
        err.contains("access denied") && err.contains("login"),
        "{err}"
    );
    // Wrong credentials: denied too.
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6bm9wZQ=="}}}}}}"#,
            reg.host
        ),
    )
    .unwrap();
    let err = fails(with_config(&["copy", "oci:img:v1", &r, "--insecure"]));
    assert!(err.contains("access denied"), "{err}");
    // alice:s3cret, as `docker login` stores it: push, sign (the referrers
    // probe uses the same credentials), verify.
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6czNjcmV0"}}}}}}"#,
            reg.host
        ),
    )
    .unwrap();
    ok(with_config(&["copy", "oci:img:v1", &r, "--insecure"]));
    ok(with_config(&[
        "sign",
        &r,
        "--key",
        "k.key",
        "--insecure",
        "--signature-format",
        "both",
    ]));
    ok(with_config(&["verify", &r, "--key", "k.pub", "--insecure"]));
    // eval and sbom pull (manifests, streamed layers, the referrers probe)
    // with the same credentials.
    let ev = ok(with_config(&[
        "eval",
        &r,
        "--key",
        "k.pub",
        "--insecure",
        "--format",
        "json",
    ]));
    assert!(!ev.contains("\"PR-004\""), "{ev}");
    ok(with_config(&["sbom", &r, "--insecure", "--format", "json"]));
    // A credential helper (`credHelpers`), as docker-credential-* programs
    // answer `get`: the same flows work with nothing in `auths`.
    let bin = ctx.path().join("helperbin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-bulwarktest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread host\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}' \"$host\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"bulwarktest"}}}}"#, reg.host),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    ok(ctx
        .cmd()
        .env("DOCKER_CONFIG", &docker)
        .env("PATH", path)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .args(["verify", &r, "--key", "k.pub", "--insecure"])
        .output()
        .unwrap());
}

/// A layout holding one image whose only layer is `layer` (any bytes).
fn layout_with_layer(dir: &Path, layer: &[u8]) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let d = format!("sha256:{}", sha256_hex(data));
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), data).unwrap();
        (d, data.len())
    };
    let (ld, ls) = put(layer);
    let (cd, cs) = put(br#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#);
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}],
    });
    let (md, ms) = put(&serde_json::to_vec(&m).unwrap());
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
            "annotations": {"org.opencontainers.image.ref.name": "t"}}]}))
        .unwrap(),
    )
    .unwrap();
    ld
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
fn large_layers_stream_to_and_from_a_registry() {
    if !tool("docker-registry") {
        return;
    }
    let ctx = Ctx::new();
    let reg = Registry::start();
    // 24 MiB that do not compress: chunked upload, streamed download.
    let mut layer = vec![0u8; 24 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in layer.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let digest = layout_with_layer(&ctx.path().join("big"), &layer);
    let r = format!("{}/big/layer:1", reg.host);
    ok(ctx.run(&["copy", "oci:big:t", &r, "--insecure"]));
    ok(ctx.run(&["copy", &r, "oci:back:t", "--insecure"]));
    let back = std::fs::read(
        ctx.path()
            .join("back/blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap();
    assert!(back == layer, "the layer came back different");
    // Walking it from the registry: the layer is not a tar, and the error
    // names it (streamed through the pipe, never a panic).
    let out = ctx.run(&["sbom", &r, "--insecure"]);
    let err = fails(out);
    assert!(err.contains(&digest), "{err}");
}

#[test]
fn copy_reads_and_writes_docker_archives() {
    let ctx = Ctx::new();
    multi_arch_spec(&ctx);
    ok(ctx.run(&["build", "m.yaml", "--output", "oci:multi:v1"]));
    ok(run_pw(&ctx, &["key", "generate", "k"]));
    ok(run_pw(&ctx, &["sign", "oci:multi:v1", "--key", "k.key"]));
    // An index to a docker archive: the host's platform, named; the
    // signature cannot go along (a warning says so).
    let out = ctx.run(&["copy", "oci:multi:v1", "docker-archive:d.tar:bulwark/m:1"]);
    let log = text(&out);
    assert_eq!(code(&out), Some(0), "{log}");
    assert!(log.contains("cannot carry signatures"), "{log}");
    // Back into a layout: the same files, and sbom/eval read both.
    ok(ctx.run(&["copy", "docker-archive:d.tar:bulwark/m:1", "oci:back:v1"]));
    let a = ok(ctx.run(&["sbom", "oci:multi:v1", "--format", "json"]));
    let b = ok(ctx.run(&["sbom", "docker-archive:d.tar", "--format", "json"]));
    let c = ok(ctx.run(&["sbom", "oci:back:v1", "--format", "json"]));
    let pkgs = |s: &str| {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("{}={}", p["name"], p["version"]))
            .collect::<Vec<_>>()
    };
    assert_eq!(pkgs(&a), pkgs(&b));
    assert_eq!(pkgs(&a), pkgs(&c));
    assert!(pkgs(&a).iter().any(|p| p.starts_with("\"hello\"")));
    // A second round trip gives the same archive bytes (deterministic).
    ok(ctx.run(&["copy", "oci:back:v1", "docker-archive:e.tar:bulwark/m:1"]));
    assert!(
        std::fs::read(ctx.path().join("d.tar")).unwrap()
            == std::fs::read(ctx.path().join("e.tar")).unwrap()
    );
    // Signing a docker archive fails closed instead of dropping the signature.
    let out = run_pw(&ctx, &["sign", "docker-archive:d.tar", "--key", "k.key"]);
    assert_ne!(code(&out), Some(0));
    assert!(
        text(&out).contains("cannot carry signatures"),
        "{}",
        text(&out)
    );
    // The wrong name is a clear error listing what the archive holds.
    let err = fails(ctx.run(&["copy", "docker-archive:d.tar:other/x:2", "oci:x:v1"]));
    assert!(err.contains("bulwark/m:1"), "{err}");
    // Not a docker archive at all.
    {
        let mut b = tar::Builder::new(std::fs::File::create(ctx.path().join("junk.tar")).unwrap());
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, "hello.txt", &b"hi"[..]).unwrap();
        b.finish().unwrap();
    }
    let err = fails(ctx.run(&["copy", "docker-archive:junk.tar", "oci:x:v1"]));
    assert!(err.contains("no manifest.json"), "{err}");
    // A layer changed inside the archive: its diff_id no longer matches.
    {
        let mut src = tar::Archive::new(std::fs::File::open(ctx.path().join("d.tar")).unwrap());
        let mut b = tar::Builder::new(std::fs::File::create(ctx.path().join("t.tar")).unwrap());
        for e in src.entries().unwrap() {
            let mut e = e.unwrap();
            let mut h = e.header().clone();
            let name = e.path().unwrap().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            if name.to_string_lossy().ends_with("layer.tar") {
                let n = data.len() / 2;
                data[n] ^= 0xff;
            }
            b.append_data(&mut h, name, data.as_slice()).unwrap();
        }
        b.finish().unwrap();
    }
    let err = fails(ctx.run(&["copy", "docker-archive:t.tar", "oci:t:v1"]));
    assert!(err.contains("diff_id") && err.contains("tampered"), "{err}");
    assert!(!ctx.path().join("t/index.json").exists());
    // An index without the host's platform cannot become a docker archive.
    {
        let layout = ctx.path().join("multi");
        let idx: serde_json::Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
        let top_blob = blob(&layout, &tag_digest(&layout, "v1"));
        let mut inner: serde_json::Value = serde_json::from_slice(&top_blob).unwrap();
        inner["manifests"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["platform"]["architecture"] == "arm64");
        let bytes = serde_json::to_vec(&inner).unwrap();
        let hex = sha256_hex(&bytes);
        std::fs::write(layout.join("blobs/sha256").join(&hex), &bytes).unwrap();
        let mut idx2 = idx.clone();
        idx2["manifests"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": format!("sha256:{hex}"), "size": bytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": "armonly"}}));
        std::fs::write(
            layout.join("index.json"),
            serde_json::to_vec(&idx2).unwrap(),
        )
        .unwrap();
    }
    let err = fails(ctx.run(&["copy", "oci:multi:armonly", "docker-archive:arm.tar"]));
    assert!(
        err.contains("holds one platform") && err.contains("linux/arm64"),
        "{err}"
    );
    assert!(!ctx.path().join("arm.tar").exists(), "no partial archive");
    // skopeo reads what bulwark wrote, and bulwark reads what skopeo writes.
    if tool("skopeo") {
        let inspect = ok(Command::new("skopeo")
            .current_dir(ctx.path())
            .args(["inspect", "docker-archive:d.tar"])
            .output()
            .unwrap());
        assert!(inspect.contains("\"Layers\""), "{inspect}");
        ok(Command::new("skopeo")
            .current_dir(ctx.path())
            .args([
                "copy",
                "--override-arch",
                "arm64",
                "oci:multi:v1",
                "docker-archive:s.tar:skopeo/m:arm",
            ])
            .output()
            .unwrap());
        let out = ok(ctx.run(&["copy", "docker-archive:s.tar", "oci:fromskopeo:v1"]));
        assert!(out.contains("sha256:"), "{out}");
        let d = ok(ctx.run(&["sbom", "oci:fromskopeo:v1", "--format", "json"]));
        assert_eq!(pkgs(&d).len(), pkgs(&a).len());
    }
}

#[test]
fn scan_attestations_verify_with_cosign_and_bulwark() {
    if !["docker-registry", "cosign"].iter().all(|t| tool(t)) {
        return;
    }
    let ctx = Ctx::new();
    image_spec(&ctx);
    let reg = Registry::start();
    let r = format!("{}/test/scanned:1", reg.host);
    ok(ctx.run(&["build", "i.yaml", "--output", &r, "--insecure"]));
    ok(run_pw(&ctx, &["key", "generate", "bulwark"]));
    std::fs::write(ctx.path().join("list"), crate::scan::TRACKER).unwrap();
    ok(ctx.run(&["db", "update", "--db", "db", "--from", "list"]));
    for fmt in ["bundle", "legacy"] {
        ok(run_pw(
            &ctx,
            &[
                "scan",
                &r,
                "--db",
                "db",
                "--insecure",
                "--attest",
                "--key",
                "bulwark.key",
                "--signature-format",
                fmt,
            ],
        ));
        let legacy = legacy_flags(fmt);
        for t in ["vuln", "openvex"] {
            let out = cosign_parts(
                ctx.path(),
                &[
                    &["verify-attestation", "--key", "bulwark.pub", "--type", t],
                    VERIFY_FLAGS,
                    legacy,
                    &[&r],
                ],
            );
            let stdout = ok(out);
            assert!(stdout.contains("payload"), "{t}: {stdout}");
        }
    }
    // bulwark's own verify requires both (and, failing closed, a signature).
    let unsigned = ctx.run(&[
        "verify",
        &r,
        "--key",
        "bulwark.pub",
        "--insecure",
        "--attestation",
        "vuln",
    ]);
    assert_eq!(code(&unsigned), Some(3));
    ok(run_pw(
        &ctx,
        &["sign", &r, "--key", "bulwark.key", "--insecure"],
    ));
    ok(ctx.run(&[
        "verify",
        &r,
        "--key",
        "bulwark.pub",
        "--insecure",
        "--attestation",
        "vuln",
        "--attestation",
        "openvex",
    ]));
    // Without --key: a usage error; a lock cannot be attested.
    let out = ctx.run(&["scan", &r, "--db", "db", "--insecure", "--attest"]);
    assert_eq!(out.status.code(), Some(2));
    let err = fails(run_pw(
        &ctx,
        &[
            "scan",
            "i.lock.json",
            "--db",
            "db",
            "--attest",
            "--key",
            "bulwark.key",
        ],
    ));
    assert!(err.contains("--attest attaches to an image"), "{err}");
}
