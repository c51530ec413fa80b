//! Building from the synthetic archive.

use crate::common::*;

const EXCLUDES: &str = "exclude:
  - {package: openssl, reason: CA bundle is built natively}
  - {package: debconf, reason: maintainer scripts never run}
  - {package: debconf-2.0, reason: maintainer scripts never run}
  - {package: awk, reason: maintainer scripts never run}
";

fn hello_spec(ctx: &Ctx, name: &str, extra: &str) -> std::path::PathBuf {
    ctx.spec(
        name,
        &format!(
            "archs: [amd64]\npackages: [base-files, hello, ca-certificates]\n{EXCLUDES}{extra}"
        ),
    )
}

#[test]
fn builds_a_hardened_image_from_verified_packages() {
    let ctx = Ctx::new();
    hello_spec(&ctx, "hello", "");
    let out = report(&ok(ctx.run(&[
        "build",
        "hello.yaml",
        "--output",
        "oci:out:v1",
        "--format",
        "json",
    ])));
    assert!(out["lock_written"].as_bool().unwrap());
    let p = &out["platforms"][0];
    assert_eq!(
        p["packages"],
        serde_json::json!([
            "base-files=12.4+deb12u5",
            "hello=2.10-3+deb12u1",
            "ca-certificates=20230311",
            "libc6=2.36-9+deb12u4"
        ])
    );
    assert_eq!(
        p["assembly"]["hardening"]["setuid_stripped"],
        serde_json::json!(["usr/bin/hello", "var/local"])
    );

    let files = layer_files(&ctx.path().join("out"));
    let get = |p: &str| {
        files
            .get(p)
            .unwrap_or_else(|| panic!("{p} missing; have {:?}", files.keys().collect::<Vec<_>>()))
    };
    // The security suite's newer hello won, setuid stripped, root-owned.
    assert_eq!(get("usr/bin/hello").2, b"\x7fELF hello fixed");
    assert_eq!(get("usr/bin/hello").0, 0o755);
    assert_eq!(get("usr/bin/hello").1, 0);
    // Merged /usr.
    assert_eq!(get("bin").3, "usr/bin");
    assert_eq!(get("lib64").3, "usr/lib64");
    assert!(files.contains_key("usr/lib/x86_64-linux-gnu/libc.so.6"));
    // Scanner contract: control verbatim and md5sums.
    assert!(
        String::from_utf8_lossy(&get("var/lib/dpkg/status.d/hello").2)
            .starts_with("Package: hello\nVersion: 2.10-3+deb12u1\n")
    );
    assert!(files.contains_key("var/lib/dpkg/status.d/libc6.md5sums"));
    assert!(!files.contains_key("var/lib/dpkg/status"));
    // Docs, man pages and locales dropped; copyright kept.
    assert!(files.contains_key("usr/share/doc/libc6/copyright"));
    assert!(!files.contains_key("usr/share/doc/libc6/changelog.Debian.gz"));
    assert!(
        !files
            .keys()
            .any(|k| k.starts_with("usr/share/man") || k.starts_with("usr/share/locale"))
    );
    // Accounts and special directories.
    assert_eq!(
        String::from_utf8_lossy(&get("etc/passwd").2),
        "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
    );
    assert!(String::from_utf8_lossy(&get("etc/group").2).contains("nonroot:x:65532:"));
    assert_eq!(get("tmp").0, 0o1777);
    assert_eq!(get("root").0, 0o700);
    assert_eq!(
        (get("home/nonroot").0, get("home/nonroot").1),
        (0o700, 65532)
    );
    assert_eq!(
        get("var/tmp").0,
        0o1775,
        "only /tmp may stay world-writable"
    );
    // Native CA bundle, OS identification as shipped.
    assert_eq!(
        String::from_utf8_lossy(&get("etc/ssl/certs/ca-certificates.crt").2),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n"
    );
    assert_eq!(get("etc/os-release").3, "../usr/lib/os-release");
    assert_eq!(get("etc/debian_version").2, b"12.5\n");
    // Hard links become copies.
    assert_eq!(get("usr/bin/hello-again").2, b"\x7fELF hello fixed");
    // No file is world-writable and nothing but home is owned by a non-root user.
    for (path, (mode, uid, _, link)) in &files {
        if link.is_empty() && path != "tmp" {
            assert_eq!(mode & 0o002, 0, "{path} is world-writable");
            assert_eq!(mode & 0o6000, 0, "{path} is setuid/setgid");
        }
        assert!(*uid == 0 || path == "home/nonroot", "{path} owned by {uid}");
    }
    // Config: non-root user, CA env.
    let sc = std::fs::read_to_string(ctx.path().join("out.security-context.yaml")).unwrap();
    assert!(
        sc.contains("runAsNonRoot: true")
            && sc.contains("runAsUser: 65532")
            && sc.contains("readOnlyRootFilesystem: true")
    );
    assert!(
        sc.contains("drop:\n      - ALL")
            && sc.contains("type: RuntimeDefault")
            && sc.contains("allowPrivilegeEscalation: false")
    );
}

/// The digest of this image must not change unless the image format does on
/// purpose. Any change here needs a changelog entry.
const GOLDEN_DIGEST: &str =
    "sha256:d4795404ecfc1461d01ca904c5aa140e0c9ce1bfa970f143db4820e400eb1723";

#[test]
fn golden_digest_and_reproducible_across_dirs_umask_tz_locale() {
    let ctx = Ctx::new();
    hello_spec(
        &ctx,
        "hello",
        "files:\n  - {src: app, dest: /app}\nconfig:\n  entrypoint: [/usr/bin/hello]\n",
    );
    std::fs::create_dir_all(ctx.path().join("app/sub")).unwrap();
    std::fs::write(ctx.path().join("app/run.txt"), "payload\n").unwrap();
    std::fs::write(ctx.path().join("app/sub/data"), "data\n").unwrap();
    let first = report(&ok(ctx.run(&[
        "build",
        "hello.yaml",
        "--output",
        "oci:a",
        "--format",
        "json",
    ])));
    assert_eq!(
        first["digest"], GOLDEN_DIGEST,
        "golden digest changed: {}",
        first["digest"]
    );

    // Same lock, another directory, hostile umask, other TZ/locale, file modes
    // and mtimes of the local files changed.
    let other = ctx.path().join("elsewhere/deeper");
    std::fs::create_dir_all(other.join("app/sub")).unwrap();
    std::fs::copy(ctx.path().join("hello.yaml"), other.join("hello.yaml")).unwrap();
    std::fs::copy(
        ctx.path().join("hello.lock.json"),
        other.join("hello.lock.json"),
    )
    .unwrap();
    std::fs::write(other.join("app/run.txt"), "payload\n").unwrap();
    std::fs::write(other.join("app/sub/data"), "data\n").unwrap();
    let out = ctx
        .cmd()
        .current_dir(&other)
        .env("TZ", "Pacific/Kiritimati")
        .env("LANG", "tr_TR.UTF-8")
        .env("LC_ALL", "tr_TR.UTF-8")
        .env("BULWARK_CACHE_DIR", other.join("fresh-cache"))
        .args([
            "build",
            "hello.yaml",
            "--frozen",
            "--output",
            "oci:b",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let second = report(&ok(out));
    assert_eq!(first["digest"], second["digest"]);
    let umask = std::process::Command::new("sh")
        .current_dir(&other)
        .env("BULWARK_CACHE_DIR", other.join("cache2"))
        .args([
            "-c",
            &format!(
                "umask 077; {} build hello.yaml --frozen --output oci:c --format json",
                bulwark_bin().display()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(report(&ok(umask))["digest"], first["digest"]);
}

#[test]
fn multi_arch_builds_an_index() {
    let ctx = Ctx::new();
    ctx.spec(
        "multi",
        &format!("archs: [amd64, arm64]\npackages: [base-files, hello]\n{EXCLUDES}"),
    );
    let r = report(&ok(ctx.run(&[
        "build",
        "multi.yaml",
        "--output",
        "oci:multi",
        "--format",
        "json",
    ])));
    assert_eq!(r["media_type"], "application/vnd.oci.image.index.v1+json");
    let dir = ctx.path().join("multi");
    let idx: serde_json::Value = serde_json::from_slice(&blob(&dir, &layout_digest(&dir))).unwrap();
    let plats: Vec<String> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(plats, ["linux/amd64", "linux/arm64"]);
    // Each platform is built from its own .debs.
    let arm = &r["platforms"][1];
    assert_eq!(arm["arch"], "arm64");
    let arm_manifest: serde_json::Value =
        serde_json::from_slice(&blob(&dir, arm["manifest_digest"].as_str().unwrap())).unwrap();
    let cfg: serde_json::Value = serde_json::from_slice(&blob(
        &dir,
        arm_manifest["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(cfg["architecture"], "arm64");
    assert_eq!(cfg["variant"], "v8");
}

#[test]
fn lock_is_kept_where_it_fits_and_updated_on_request() {
    let ctx = Ctx::new();
    hello_spec(&ctx, "s", "");
    let first = ok(ctx.run(&["lock", "s.yaml"]));
    assert!(first.contains("s.lock.json wrote"), "{first}");
    let again = ok(ctx.run(&["lock", "s.yaml"]));
    assert!(again.contains("kept"), "{again}");
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.path().join("s.lock.json")).unwrap()).unwrap();
    let pkg = &lock["archs"]["amd64"]["packages"][1];
    assert_eq!(pkg["name"], "hello");
    assert_eq!(pkg["suite"], "bookworm-security");
    assert_eq!(pkg["sha256"].as_str().unwrap().len(), 64);
    assert!(pkg["size"].as_u64().unwrap() > 0);
    assert!(
        lock["suites"][0]["inrelease"]["sha256"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );
    assert!(
        lock["suites"][0]["indexes"][0]["url"]
            .as_str()
            .unwrap()
            .contains("/Packages")
    );
    // A spec change re-resolves but keeps the locked versions that still fit.
    let mut lock_v = lock.clone();
    lock_v["archs"]["amd64"]["packages"][1]["version"] = "2.10-3".into();
    lock_v["archs"]["amd64"]["packages"][1]["suite"] = "bookworm".into();
    std::fs::write(
        ctx.path().join("s.lock.json"),
        serde_json::to_string_pretty(&lock_v).unwrap(),
    )
    .unwrap();
    let spec = std::fs::read_to_string(ctx.path().join("s.yaml"))
        .unwrap()
        .replace(
            "packages: [base-files, hello, ca-certificates]",
            "packages: [base-files, hello, ca-certificates, libc6]",
        );
    std::fs::write(ctx.path().join("s.yaml"), spec).unwrap();
    let json = report(&ok(ctx.run(&["lock", "s.yaml", "--format", "json"])));
    assert!(
        json["archs"]["amd64"]
            .as_array()
            .unwrap()
            .contains(&"hello=2.10-3".into()),
        "{json}"
    );
    let json = report(&ok(
        ctx.run(&["lock", "s.yaml", "--update", "--format", "json"])
    ));
    assert!(
        json["archs"]["amd64"]
            .as_array()
            .unwrap()
            .contains(&"hello=2.10-3+deb12u1".into()),
        "{json}"
    );
}

#[test]
fn archive_outputs_and_zstd() {
    let ctx = Ctx::new();
    hello_spec(&ctx, "h", "");
    ok(ctx.run(&["build", "h.yaml", "--output", "oci-archive:h.oci.tar:v1"]));
    ok(ctx.run(&[
        "build",
        "h.yaml",
        "--output",
        "docker-archive:h.docker.tar:bulwark/hello:1",
    ]));
    let z = report(&ok(ctx.run(&[
        "build",
        "h.yaml",
        "--output",
        "oci:z",
        "--compression",
        "zstd",
        "--format",
        "json",
    ])));
    assert!(z["platforms"][0]["layers"][0]["size"].as_u64().unwrap() > 0);
    let names = |p: &str| -> Vec<String> {
        let data = std::fs::read(ctx.path().join(p)).unwrap();
        tar::Archive::new(data.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    };
    let oci = names("h.oci.tar");
    assert!(oci.contains(&"oci-layout".to_owned()) && oci.contains(&"index.json".to_owned()));
    let docker = names("h.docker.tar");
    assert!(docker.contains(&"manifest.json".to_owned()));
    assert!(docker.iter().any(|n| n.ends_with("/layer.tar")));
    let m: serde_json::Value = serde_json::from_slice(&blob(
        &ctx.path().join("z"),
        &layout_digest(&ctx.path().join("z")),
    ))
    .unwrap();
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
}

#[test]
fn application_layer_sits_above_package_layers_and_is_reused() {
    let ctx = Ctx::new();
    hello_spec(
        &ctx,
        "app",
        "files:\n  - {src: src, dest: /opt/app, owner: \"nonroot\", mode: \"0640\"}\nconfig:\n  entrypoint: [/opt/app/run]\n  env: {GREETING: hi}\n  exposed-ports: [8080]\n  labels: {team: platform}\n",
    );
    std::fs::create_dir_all(ctx.path().join("src")).unwrap();
    std::fs::write(ctx.path().join("src/run"), "v1").unwrap();
    let a = report(&ok(ctx.run(&[
        "build", "app.yaml", "--output", "oci:one", "--format", "json",
    ])));
    std::fs::write(ctx.path().join("src/run"), "v2").unwrap();
    let b = report(&ok(ctx.run(&[
        "build", "app.yaml", "--output", "oci:two", "--format", "json",
    ])));
    let la = a["platforms"][0]["layers"].as_array().unwrap();
    let lb = b["platforms"][0]["layers"].as_array().unwrap();
    assert_eq!(la.len(), 2);
    assert_eq!(
        la[0]["digest"], lb[0]["digest"],
        "package layer must be reused"
    );
    assert_ne!(la[1]["digest"], lb[1]["digest"]);
    let files = layer_files(&ctx.path().join("two"));
    let run = &files["opt/app/run"];
    assert_eq!(
        (run.0, run.1, run.2.as_slice()),
        (0o640, 65532, b"v2".as_slice())
    );
    let dir = ctx.path().join("two");
    let m: serde_json::Value = serde_json::from_slice(&blob(&dir, &layout_digest(&dir))).unwrap();
    let cfg: serde_json::Value =
        serde_json::from_slice(&blob(&dir, m["config"]["digest"].as_str().unwrap())).unwrap();
    assert_eq!(cfg["config"]["User"], "65532:65532");
    assert_eq!(
        cfg["config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    assert!(
        cfg["config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&"GREETING=hi".into())
    );
    assert!(
        cfg["config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".into())
    );
    assert_eq!(cfg["config"]["Labels"]["team"], "platform");
    assert_eq!(cfg["history"].as_array().unwrap().len(), 2);
}

#[test]
fn oci_layout_collects_several_tags() {
    let ctx = Ctx::new();
    hello_spec(&ctx, "t", "");
    ok(ctx.run(&["build", "t.yaml", "--output", "oci:layout:one"]));
    ok(ctx.run(&[
        "build",
        "t.yaml",
        "--output",
        "oci:layout:two",
        "--compression",
        "zstd",
    ]));
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.path().join("layout/index.json")).unwrap())
            .unwrap();
    let tags: Vec<&str> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(tags, ["one", "two"]);
}

#[test]
fn concurrent_builds_share_the_cache_safely() {
    let ctx = Ctx::new();
    hello_spec(&ctx, "c", "");
    ok(ctx.run(&["lock", "c.yaml"]));
    let children: Vec<_> = (0..4)
        .map(|i| {
            ctx.cmd()
                .args([
                    "build",
                    "c.yaml",
                    "--frozen",
                    "--format",
                    "json",
                    "--output",
                    &format!("oci:par{i}"),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let digests: Vec<String> = children
        .into_iter()
        .map(|c| {
            report(&ok(c.wait_with_output().unwrap()))["digest"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
    // Nothing half-written is left in the cache.
    for e in std::fs::read_dir(ctx.path().join("cache/sha256")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert_eq!(name.len(), 64, "stray cache entry {name}");
    }
}
