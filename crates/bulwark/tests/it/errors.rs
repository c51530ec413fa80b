//! Bad input gets a clear error, exit code 1, and leaves nothing behind.

use crate::common::*;

const EXCLUDES: &str = "exclude:
  - {package: openssl, reason: CA bundle is built natively}
  - {package: debconf, reason: maintainer scripts never run}
  - {package: debconf-2.0, reason: maintainer scripts never run}
  - {package: awk, reason: maintainer scripts never run}
";

fn assert_no_output(ctx: &Ctx, name: &str) {
    assert!(
        !ctx.path().join(name).exists(),
        "{name} must not exist after a failed build"
    );
    let leftovers: Vec<_> = std::fs::read_dir(ctx.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".bulwark-tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

#[test]
fn malformed_yaml_names_line_and_column() {
    let ctx = Ctx::new();
    std::fs::write(
        ctx.path().join("bad.yaml"),
        "packages: [hello\narchs: amd64\n",
    )
    .unwrap();
    let err = fails(ctx.run(&["build", "bad.yaml", "--output", "oci:out"]));
    assert!(err.contains("bad.yaml") && err.contains("line"), "{err}");
    std::fs::write(
        ctx.path().join("typo.yaml"),
        "packages: [hello]\nconfig:\n  entrypiont: [x]\n",
    )
    .unwrap();
    let err = fails(ctx.run(&["lock", "typo.yaml"]));
    assert!(
        err.contains("line 3 column 3") && err.contains("unknown field `entrypiont`"),
        "{err}"
    );
    assert_no_output(&ctx, "out");
}

#[test]
fn unsatisfiable_dependencies_explain_the_chain() {
    let ctx = Ctx::new();
    ctx.spec("u", "packages: [broken]\n");
    let err = fails(ctx.run(&["lock", "u.yaml"]));
    assert!(err.contains("broken needs 'hello (>= 3.0)'"), "{err}");
    assert!(
        err.contains(
            "available versions of hello are 2.10-3+deb12u1 (bookworm-security), 2.10-3 (bookworm)"
        ),
        "{err}"
    );
    ctx.spec("missing", "packages: [no-such-package]\n");
    let err = fails(ctx.run(&["lock", "missing.yaml"]));
    assert!(
        err.contains("'no-such-package' is not available for amd64"),
        "{err}"
    );
}

#[test]
fn high_risk_packages_fail_with_the_chain_unless_allowed() {
    let ctx = Ctx::new();
    ctx.spec("web", &format!("packages: [webapp]\n{EXCLUDES}"));
    let err = fails(ctx.run(&["build", "web.yaml", "--output", "oci:out"]));
    assert!(
        err.contains("bash (shell), pulled in by: webapp → bash"),
        "{err}"
    );
    assert!(err.contains("exclude:") && err.contains("allow:"), "{err}");
    assert_no_output(&ctx, "out");
    ctx.spec("web2", &format!("packages: [webapp]\n{EXCLUDES}allow:\n  - {{package: bash, reason: legacy entrypoint script}}\n"));
    ok(ctx.run(&["build", "web2.yaml", "--output", "oci:out"]));
    // Excluding it instead cuts the dependency.
    ctx.spec(
        "web3",
        &format!("packages: [webapp]\n{EXCLUDES}  - {{package: bash, reason: not needed}}\n"),
    );
    ok(ctx.run(&["build", "web3.yaml", "--output", "oci:out3"]));
    assert!(!layer_files(&ctx.path().join("out3")).contains_key("usr/bin/bash"));
}

#[test]
fn wrong_key_fails_closed() {
    let ctx = Ctx::new();
    let other = bulwark_test_support::TestKey::generate("not the archive key");
    std::fs::write(ctx.path().join("other.gpg"), other.keyring_bytes()).unwrap();
    let spec = ctx.spec("k", "packages: [hello]\n");
    let text = std::fs::read_to_string(&spec)
        .unwrap()
        .replace(&ctx.archive.keyring.display().to_string(), "other.gpg");
    std::fs::write(&spec, text).unwrap();
    let err = fails(ctx.run(&["build", "k.yaml", "--output", "oci:out"]));
    assert!(
        err.contains("no valid signature") && err.contains("InRelease"),
        "{err}"
    );
    assert!(!ctx.path().join("k.lock.json").exists());
    assert_no_output(&ctx, "out");
}

#[test]
fn tampered_deb_is_rejected_before_use() {
    let ctx = Ctx::new();
    ctx.spec("t", "packages: [hello]\n");
    ok(ctx.run(&["lock", "t.yaml"]));
    let pool = ctx
        .archive
        .root
        .join("pool/main/h/hello/hello_2.10-3+deb12u1_amd64.deb");
    let mut data = std::fs::read(&pool).unwrap();
    let n = data.len();
    data[n - 10] ^= 0xff;
    std::fs::write(&pool, data).unwrap();
    let err = fails(ctx.run(&["build", "t.yaml", "--output", "oci:out"]));
    assert!(
        err.contains("hello_2.10-3+deb12u1_amd64.deb") && err.contains("sha256"),
        "{err}"
    );
    assert_no_output(&ctx, "out");
}

#[test]
fn tampered_packages_index_is_rejected() {
    let ctx = Ctx::new();
    for entry in walk(&ctx.archive.root.join("dists/bookworm/main/binary-amd64")) {
        let mut d = std::fs::read(&entry).unwrap();
        d.extend_from_slice(b"\n");
        std::fs::write(&entry, d).unwrap();
    }
    ctx.spec("t", "packages: [hello]\n");
    let err = fails(ctx.run(&["lock", "t.yaml"]));
    assert!(
        err.contains("binary-amd64") && err.contains("tampered"),
        "{err}"
    );
}

#[test]
fn vanished_deb_says_how_to_relock() {
    let ctx = Ctx::new();
    ctx.spec("g", "packages: [hello]\n");
    ok(ctx.run(&["lock", "g.yaml"]));
    std::fs::remove_file(
        ctx.archive
            .root
            .join("pool/main/h/hello/hello_2.10-3+deb12u1_amd64.deb"),
    )
    .unwrap();
    let err = fails(ctx.run(&["build", "g.yaml", "--output", "oci:out"]));
    let err = scrub(&ctx, &err);
    assert!(
        err.contains("g.lock.json: hello 2.10-3+deb12u1 is no longer in the archive (HTTP 404 on http://[ARCHIVE]/pool/main/h/hello/hello_2.10-3+deb12u1_amd64.deb); run 'bulwark lock --update g.yaml' to re-lock"),
        "{err}"
    );
    assert_no_output(&ctx, "out");
}

#[test]
fn frozen_refuses_missing_or_stale_locks() {
    let ctx = Ctx::new();
    ctx.spec("f", "packages: [hello]\n");
    let err = fails(ctx.run(&["build", "f.yaml", "--frozen", "--output", "oci:out"]));
    assert!(
        err.contains("f.lock.json is missing; run 'bulwark lock f.yaml'"),
        "{err}"
    );
    ok(ctx.run(&["lock", "f.yaml"]));
    ctx.spec("f", "packages: [hello, libc6]\n");
    let err = fails(ctx.run(&["build", "f.yaml", "--frozen", "--output", "oci:out"]));
    assert!(err.contains("f.lock.json is stale"), "{err}");
    assert_no_output(&ctx, "out");
}

#[test]
fn hostile_package_contents_are_rejected() {
    use bulwark_test_support::{DebBuilder, RawEntry, RawKind, Repo};
    let ctx = Ctx::new();
    let mut repo = Repo::new("bookworm");
    repo.archs(&["amd64"]);
    for p in bulwark_test_support::mini_packages("amd64") {
        repo.add(p);
    }
    repo.add(DebBuilder::new("evil", "1.0", "amd64").raw(RawEntry {
        name: b"./usr/../../etc/cron.d/pwn".to_vec(),
        kind: RawKind::File(b"* * * * * root sh".to_vec()),
        mode: 0o644,
    }));
    repo.write(&ctx.archive.root, &ctx.archive.key);
    ctx.spec("e", "packages: [evil]\n");
    let err = fails(ctx.run(&["build", "e.yaml", "--output", "oci:out"]));
    assert!(
        err.contains("evil_1.0_amd64.deb") && err.contains("unsafe"),
        "{err}"
    );
    assert_no_output(&ctx, "out");
}

#[test]
fn bad_destinations_and_usage() {
    let ctx = Ctx::new();
    ctx.spec("d", "packages: [hello]\n");
    let err = fails(ctx.run(&["build", "d.yaml", "--output", "somewhere"]));
    assert!(err.contains("oci:DIR[:TAG]"), "{err}");
    let out = ctx.run(&["build", "d.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing --output is a usage error"
    );
    // A destination that exists and is not a layout is refused, untouched.
    std::fs::create_dir_all(ctx.path().join("notalayout")).unwrap();
    std::fs::write(ctx.path().join("notalayout/file"), "keep me").unwrap();
    let err = fails(ctx.run(&["build", "d.yaml", "--output", "oci:notalayout"]));
    assert!(err.contains("not an OCI image layout"), "{err}");
    assert_eq!(
        std::fs::read_to_string(ctx.path().join("notalayout/file")).unwrap(),
        "keep me"
    );
}

#[test]
fn disk_full_leaves_nothing_behind() {
    // A 256 KiB tmpfs cannot hold the image. Needs root (CI runs as root).
    let ctx = Ctx::new();
    ctx.spec(
        "full",
        "packages: [hello]\nfiles: [{src: big, dest: /big}]\n",
    );
    // Incompressible: xorshift bytes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let big: Vec<u8> = (0..(1 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(ctx.path().join("big"), big).unwrap();
    let mnt = ctx.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI (root) must be able to mount a tmpfs"
        );
        eprintln!("warning: cannot mount tmpfs (not root); skipping outside CI");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let err = fails(ctx.run(&["build", "full.yaml", "--output", "oci:small/image"]));
    assert!(
        err.contains("small") && (err.contains("No space left") || err.contains("space")),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&mnt)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "partial output left on a full disk: {left:?}"
    );
    let err = fails(ctx.run(&[
        "build",
        "full.yaml",
        "--output",
        "oci-archive:small/image.tar",
    ]));
    assert!(err.contains("space"), "{err}");
    assert!(std::fs::read_dir(&mnt).unwrap().next().is_none());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn sboms_that_cannot_be_written_beside_the_image_say_what_to_do() {
    let ctx = Ctx::new();
    ctx.spec("s", "archs: [amd64]\npackages: [hello]\n");
    std::fs::write(ctx.path().join("out.sbom"), b"in the way").unwrap();
    let err = fails(ctx.run(&["build", "s.yaml", "--output", "oci:out"]));
    assert!(
        err.contains("out.sbom") && err.contains("--sbom-dir"),
        "{err}"
    );
    // --sbom-dir elsewhere succeeds.
    ok(ctx.run(&[
        "build",
        "s.yaml",
        "--output",
        "oci:out",
        "--sbom-dir",
        "docs",
    ]));
    assert!(ctx.path().join("docs/s-amd64.spdx3.json").is_file());
}
