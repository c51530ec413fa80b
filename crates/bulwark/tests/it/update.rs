//! `bulwark update` against the synthetic archive: a security upload
//! appears, is picked up with the CVEs its changelog names, published
//! signed to a loopback registry (cosign and bulwark verify it), a second
//! update is a no-op; a withdrawn upload and a spec that no longer resolves
//! fail on their own while the other specs go on.

use bulwark_test_support::{DebBuilder, Repo, compress};

use crate::common::*;

/// hello's changelog in the security upload: two entries newer than the
/// locked 2.10-3, naming three CVEs.
const CHANGELOG: &str = "\
hello (2.10-3+deb12u1) bookworm-security; urgency=high

  * Fix CVE-2099-0011: buffer overflow in the greeting.
  * Fix CVE-2099-0012.

 -- Maint <m@example.org>  Mon, 03 Nov 2025 10:00:00 +0000

hello (2.10-3+deb12u0) bookworm; urgency=medium

  * CVE-2099-0013: first part of the fix.

 -- Maint <m@example.org>  Sat, 01 Nov 2025 10:00:00 +0000

hello (2.10-3) bookworm; urgency=medium

  * CVE-2020-0001 (fixed long ago, before the locked version).

 -- Maint <m@example.org>  Sat, 01 Feb 2020 10:00:00 +0000
";

/// Rewrites `bookworm-security`: empty, or with hello's security upload
/// (and `extra`, which only that suite carries).
fn security_suite(ctx: &Ctx, with_upload: bool) {
    let mut sec = Repo::new("bookworm-security");
    sec.archs(&["amd64"]);
    if with_upload {
        sec.add(
            DebBuilder::new("hello", "2.10-3+deb12u1", "amd64")
                .depends("libc6 (>= 2.34)")
                .file("usr/bin/hello", b"\x7fELF hello fixed", 0o755)
                .file(
                    "usr/share/doc/hello/changelog.Debian.gz",
                    &compress("gz", CHANGELOG.as_bytes()),
                    0o644,
                ),
        );
    } else {
        // A placeholder so that the suite exists and is signed.
        sec.add(DebBuilder::new("placeholder", "1", "amd64"));
    }
    sec.write(&ctx.archive.root, &ctx.archive.key);
}

fn update(ctx: &Ctx, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut all = vec!["update", "--format", "json"];
    all.extend_from_slice(args);
    let out = run_pw(ctx, &all);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "update printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn spec_named<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["specs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no spec {name} in {v}"))
}

#[test]
fn a_security_upload_is_picked_up_signed_published_and_then_a_no_op() {
    if !["docker-registry", "cosign"].iter().all(|t| tool(t)) {
        return;
    }
    let ctx = Ctx::new();
    security_suite(&ctx, false);
    ctx.spec("app", "name: app\npackages: [hello]\n");
    ctx.spec("tools", "name: tools\npackages: [hello, openssl]\n");
    let reg = crate::trust::Registry::start();
    let dest = format!("{}/fleet/{{name}}:latest", reg.host);
    ok(run_pw(&ctx, &["key", "generate", "bulwark"]));
    // Day one: both built from bookworm alone and published.
    for name in ["app", "tools"] {
        ok(run_pw(
            &ctx,
            &[
                "build",
                &format!("{name}.yaml"),
                "--output",
                &dest.replace("{name}", name),
                "--insecure",
                "--sign-key",
                "bulwark.key",
            ],
        ));
    }
    let (code, v, _) = update(
        &ctx,
        &[
            "app.yaml",
            "tools.yaml",
            "--check",
            "--output",
            &dest,
            "--insecure",
        ],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["suites_loaded"], 2, "{v}");
    let app_before = spec_named(&v, "app")["previous_digest"]
        .as_str()
        .unwrap()
        .to_owned();

    // The security upload appears.
    security_suite(&ctx, true);
    let tracker = ctx.path().join("list");
    std::fs::write(
        &tracker,
        "CVE-2099-0011 (hello)\n\t- hello 2.10-4\n\t[bookworm] - hello 2.10-3+deb12u1\nCVE-2099-0020 (openssl: open)\n\t- openssl <unfixed> (high)\n",
    )
    .unwrap();
    ok(ctx.run(&["db", "update", "--db", "db", "--from", "list"]));
    let (code, v, _) = update(
        &ctx,
        &[
            "app.yaml",
            "tools.yaml",
            "--check",
            "--output",
            &dest,
            "--insecure",
            "--db",
            "db",
        ],
    );
    assert_eq!(code, 4, "{v}");
    let app = spec_named(&v, "app");
    assert_eq!(app["status"], "updates-available");
    assert_eq!(app["packages"][0]["package"], "hello");
    assert_eq!(app["packages"][0]["from"], "2.10-3");
    assert_eq!(app["packages"][0]["to"], "2.10-3+deb12u1");
    assert_eq!(app["packages"][0]["to_suite"], "bookworm-security");
    let fixed: Vec<(String, String)> = app["cves_fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["witness"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        fixed,
        [
            (
                "CVE-2099-0011".to_owned(),
                r#"["database","changelog"]"#.to_owned()
            ),
            ("CVE-2099-0012".to_owned(), r#"["changelog"]"#.to_owned()),
            ("CVE-2099-0013".to_owned(), r#"["changelog"]"#.to_owned()),
        ],
        "{app}"
    );
    // The fix date is the first upload naming the CVE.
    assert_eq!(
        app["cves_fixed"][0]["fix_available"],
        "2025-11-03T10:00:00Z"
    );
    assert_eq!(
        app["cves_fixed"][2]["fix_available"],
        "2025-11-01T10:00:00Z"
    );
    assert!(app["cves_fixed"][0]["lag_days"].as_i64().unwrap() >= 0);
    assert_eq!(app["new_digest"], serde_json::Value::Null);
    let tools = spec_named(&v, "tools");
    assert!(
        tools["cves_open"].to_string().contains("CVE-2099-0020"),
        "{tools}"
    );
    // --check changed nothing.
    let lock = std::fs::read_to_string(ctx.path().join("app.lock.json")).unwrap();
    assert!(!lock.contains("deb12u1"));

    // Markdown for the pull request.
    let out = run_pw(
        &ctx,
        &[
            "update", "app.yaml", "--check", "--db", "db", "--format", "markdown",
        ],
    );
    assert_eq!(out.status.code(), Some(4));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("| amd64 | hello | 2.10-3 | 2.10-3+deb12u1 | bookworm-security |")
            && md.contains("| CVE-2099-0013 | hello | 2025-11-01T10:00:00Z |"),
        "{md}"
    );

    // eval --archive: the published image is behind the security upload by
    // the days since its first fix (2025-11-01), and max-fix-lag fails it.
    let url = ctx.archive.server.url.clone();
    let keyring = ctx.archive.keyring.display().to_string();
    let archive_flags = [
        "--archive",
        "--mirror",
        url.as_str(),
        "--security-mirror",
        url.as_str(),
        "--keyring",
        keyring.as_str(),
    ];
    std::fs::write(
        ctx.path().join("lag.yaml"),
        "max-fix-lag: 7d\nno-fixable-older-than: 30d\n",
    )
    .unwrap();
    let eval = |image: &str| {
        let mut args = vec![
            "eval",
            image,
            "--insecure",
            "--format",
            "json",
            "--policy",
            "lag.yaml",
        ];
        args.extend(archive_flags);
        ctx.run(&args)
    };
    let app_image = dest.replace("{name}", "app");
    let out = eval(&app_image);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = report(&String::from_utf8_lossy(&out.stdout));
    let max_lag = app["cves_fixed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["lag_days"].as_i64())
        .max()
        .unwrap();
    assert_eq!(ev["cadence"]["days_behind"], max_lag, "{:#}", ev["cadence"]);
    assert!(
        ev["findings"].to_string().contains("PC-003"),
        "{:#}",
        ev["findings"]
    );
    assert!(
        ev["policy"]["violations"]
            .to_string()
            .contains("more than max-fix-lag 7 days"),
        "{:#}",
        ev["policy"]
    );
    assert!(
        ev["policy"]["violations"]
            .to_string()
            .contains("have had a fix in the archive for more than 30 days: CVE-2099-0011 ("),
        "{:#}",
        ev["policy"]
    );

    // The update: rebuilt, signed, published; the lock written last.
    let (code, v, stderr) = update(
        &ctx,
        &[
            "app.yaml",
            "tools.yaml",
            "--output",
            &dest,
            "--insecure",
            "--db",
            "db",
            "--sign-key",
            "bulwark.key",
        ],
    );
    assert_eq!(code, 5, "{v}\n{stderr}");
    let app = spec_named(&v, "app");
    assert_eq!(app["status"], "updated");
    assert_eq!(app["previous_digest"], app_before.as_str());
    let new = app["new_digest"].as_str().unwrap().to_owned();
    assert_ne!(new, app_before);
    let lock = std::fs::read_to_string(ctx.path().join("app.lock.json")).unwrap();
    assert!(lock.contains("2.10-3+deb12u1"));
    let image = dest.replace("{name}", "app");
    let out = ok(ctx.run(&[
        "verify",
        &image,
        "--key",
        "bulwark.pub",
        "--insecure",
        "--attestation",
        "slsa-provenance",
        "--format",
        "json",
    ]));
    assert!(out.contains(&new), "{out}");
    ok(crate::trust::cosign(
        ctx.path(),
        &[
            "verify",
            "--key",
            "bulwark.pub",
            "--insecure-ignore-tlog=true",
            "--allow-insecure-registry",
            &format!("{image}@{new}"),
        ],
    ));
    // The provenance names the image it replaces and the CVEs fixed.
    let prov = ok(crate::trust::cosign(
        ctx.path(),
        &[
            "verify-attestation",
            "--key",
            "bulwark.pub",
            "--type",
            "slsaprovenance1",
            "--insecure-ignore-tlog=true",
            "--allow-insecure-registry",
            &format!("{image}@{new}"),
        ],
    ));
    let payloads: Vec<String> = prov
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| e["payload"].as_str().map(str::to_owned))
        .collect();
    let decoded = payloads
        .iter()
        .map(|p| {
            let out = std::process::Command::new("base64")
                .arg("-d")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write as _;
                    c.stdin.take().unwrap().write_all(p.as_bytes())?;
                    c.wait_with_output()
                })
                .unwrap();
            String::from_utf8_lossy(&out.stdout).to_string()
        })
        .collect::<String>();
    assert!(
        decoded.contains(&format!("\"replaces\":\"{app_before}\""))
            && decoded.contains("CVE-2099-0012"),
        "{decoded}"
    );

    // The new image lacks no fix: 0 days behind, and the policy passes.
    let out = eval(&app_image);
    let ev = report(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(0), "{:#}", ev["policy"]);
    assert_eq!(ev["cadence"]["days_behind"], 0);
    assert!(ev["findings"].to_string().contains("PC-001"));

    // Again: nothing changed, nothing rebuilt, the same digest.
    let (code, v, _) = update(
        &ctx,
        &["app.yaml", "tools.yaml", "--output", &dest, "--insecure"],
    );
    assert_eq!(code, 0, "{v}");
    let app = spec_named(&v, "app");
    assert_eq!(app["status"], "up-to-date");
    assert_eq!(app["previous_digest"], new.as_str());

    // A rebuild from the new lock by `bulwark build` is the same image.
    let out = report(&ok(ctx.run(&[
        "build",
        "app.yaml",
        "--output",
        "oci:again:1",
        "--frozen",
        "--format",
        "json",
    ])));
    assert_eq!(out["digest"], new.as_str());
}

#[test]
fn a_withdrawn_upload_and_a_spec_that_no_longer_resolves_fail_alone() {
    let ctx = Ctx::new();
    security_suite(&ctx, true);
    ctx.spec("app", "name: app\npackages: [hello]\n");
    ctx.spec("ok", "name: ok\npackages: [openssl]\n");
    ok(ctx.run(&["lock", "app.yaml"]));
    ok(ctx.run(&["lock", "ok.yaml"]));
    let lock = std::fs::read_to_string(ctx.path().join("app.lock.json")).unwrap();
    assert!(lock.contains("2.10-3+deb12u1"));
    // A spec whose lock exists but that cannot be resolved any more.
    ctx.spec("broken", "name: broken\npackages: [broken]\n");
    std::fs::write(ctx.path().join("broken.lock.json"), &lock).unwrap();
    // The security upload is withdrawn.
    security_suite(&ctx, false);
    let (code, v, stderr) = update(
        &ctx,
        &[
            "app.yaml",
            "broken.yaml",
            "ok.yaml",
            "--output",
            "oci:out/{name}:1",
        ],
    );
    assert_eq!(code, 1, "{v}");
    let app = spec_named(&v, "app");
    assert_eq!(app["status"], "failed");
    let e = app["error"].as_str().unwrap();
    assert!(
        e.contains("hello 2.10-3+deb12u1 (from bookworm-security) is no longer in the archive")
            && e.contains("downgrade it to 2.10-3")
            && e.contains("bulwark lock --update"),
        "{e}"
    );
    let broken = spec_named(&v, "broken");
    assert_eq!(broken["status"], "failed");
    assert!(
        broken["error"].as_str().unwrap().contains("hello (>= 3.0)"),
        "{broken}"
    );
    // The third spec is published (its output had no image yet).
    let okspec = spec_named(&v, "ok");
    assert_eq!(okspec["status"], "updated", "{okspec}");
    assert!(ctx.path().join("out/ok/index.json").exists());
    // Nothing of the failed ones was written.
    assert_eq!(
        std::fs::read_to_string(ctx.path().join("app.lock.json")).unwrap(),
        lock
    );
    assert!(!ctx.path().join("out/app").exists());
    assert!(stderr.contains("error:"), "{stderr}");

    // Several specs need {name} in the output.
    // (also when --index picks one of them, as an Indexed Job pod does)
    for extra in [&[][..], &["--index", "0"][..]] {
        let mut args = vec![
            "update",
            "ok.yaml",
            "app.yaml",
            "--output",
            "oci:out/same:1",
        ];
        args.extend_from_slice(extra);
        let err = fails(ctx.run(&args));
        assert!(err.contains("put {name} in it"), "{err}");
    }
    // Two specs with one image name would race to one destination.
    ctx.spec("twin", "name: app\npackages: [hello]\n");
    ok(ctx.run(&["lock", "twin.yaml"]));
    let (code, v, _) = update(
        &ctx,
        &[
            "app.yaml",
            "twin.yaml",
            "--check",
            "--output",
            "oci:out/{name}:1",
        ],
    );
    assert_eq!(code, 1);
    assert!(v.to_string().contains("have the same image name"), "{v}");
    // Without --output or --check there is nothing to publish to.
    let err = fails(ctx.run(&["update", "ok.yaml"]));
    assert!(err.contains("update needs --output DEST"), "{err}");
    // No lock: a clear error.
    ctx.spec("new", "name: new\npackages: [hello]\n");
    let (code, v, _) = update(&ctx, &["new.yaml", "--check"]);
    assert_eq!(code, 1);
    assert!(v.to_string().contains("run `bulwark build"), "{v}");
}

/// deploy/update/ validates against the Kubernetes schemas with a real
/// validator (strict: unknown fields fail; a planted typo proves it), and
/// every workload runs bulwark non-root, read-only, without capabilities or
/// a service account token, with the key and registry credentials from
/// Secrets; the Indexed Job gives each pod its own spec.
#[test]
fn deploy_update_manifests_validate_and_are_locked_down() {
    if !["kubernetes-validate", "python3"].iter().all(|t| tool(t)) {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/update");
    let files = [
        "serviceaccount.yaml",
        "configmap.yaml",
        "pvc.yaml",
        "cronjob.yaml",
        "indexed-job.yaml",
    ];
    assert_kubernetes_valid(&dir, &files);
    // The validator is strict: a misspelt field fails.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(dir.join("cronjob.yaml"))
            .unwrap()
            .replace("readOnlyRootFilesystem", "readOnlyRootFilesytem"),
    )
    .unwrap();
    let out = std::process::Command::new("kubernetes-validate")
        .args(["--strict", "-k", "1.31.0"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a typo passed the validator");

    let load = |f: &str| -> serde_json::Value {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            ])
            .arg(dir.join(f))
            .output()
            .unwrap();
        report(&ok(out))
    };
    for (f, pod) in [
        ("cronjob.yaml", "/spec/jobTemplate/spec/template/spec"),
        ("indexed-job.yaml", "/spec/template/spec"),
    ] {
        let doc = load(f);
        let p = doc.pointer(pod).unwrap();
        assert_eq!(p["automountServiceAccountToken"], false, "{f}");
        assert_eq!(p["securityContext"]["runAsNonRoot"], true, "{f}");
        assert_eq!(p["securityContext"]["runAsUser"], 65532, "{f}");
        assert_eq!(
            p["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{f}"
        );
        let c = &p["containers"][0];
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{f}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{f}");
        assert_eq!(sc["capabilities"]["drop"][0], "ALL", "{f}");
        assert_eq!(c["args"][0], "update", "{f}");
        let env = c["env"].to_string();
        assert!(
            env.contains("bulwark-signing-key") && env.contains("DOCKER_CONFIG"),
            "{f}: {env}"
        );
        let vols = p["volumes"].to_string();
        assert!(
            vols.contains(".dockerconfigjson") && vols.contains("cosign.key"),
            "{f}: {vols}"
        );
    }
    let job = load("indexed-job.yaml");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let args = job
        .pointer("/spec/template/spec/containers/0/args")
        .unwrap();
    assert!(
        args.to_string()
            .contains(r#""--index","$(JOB_COMPLETION_INDEX)""#),
        "{args}"
    );
}

/// `--index` picks the Nth spec of a directory's sorted listing, as the
/// Indexed Job runs it.
#[test]
fn update_index_runs_one_spec_of_a_directory() {
    let ctx = Ctx::new();
    std::fs::create_dir_all(ctx.path().join("specs")).unwrap();
    for name in ["a", "b"] {
        let p = ctx.spec(name, &format!("name: {name}\npackages: [hello]\n"));
        std::fs::rename(&p, ctx.path().join(format!("specs/{name}.yaml"))).unwrap();
        ok(ctx.run(&["lock", &format!("specs/{name}.yaml")]));
    }
    let (code, v, _) = update(&ctx, &["specs", "--index", "1", "--check"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["specs"].as_array().unwrap().len(), 1);
    assert_eq!(v["specs"][0]["name"], "b");
    let (code, v, _) = update(&ctx, &["specs", "--check"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["specs"].as_array().unwrap().len(), 2);
    let text = ok(ctx.run(&["update", "specs", "--check", "--format", "text"]));
    assert!(
        text.contains("a (specs/a.yaml): up to date")
            && text
                .contains("2 specs: 0 updated, 0 with updates available, 2 up to date, 0 failed"),
        "{text}"
    );
    let out = ctx.run(&["update", "specs", "--index", "2", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only 2 spec(s)"));
}

/// A proxy in front of `registry` that fails every tag move with 503.
struct FaultyProxy {
    _child: Reaped,
    host: String,
}

impl FaultyProxy {
    fn start(upstream: &str) -> Self {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it/fixtures/faulty_registry_proxy.py");
        let (child, line) = spawn_announcing(
            std::process::Command::new("python3")
                .arg(script)
                .arg(upstream),
        );
        let port = line.strip_prefix("ready ").expect("proxy did not start");
        FaultyProxy {
            host: format!("127.0.0.1:{port}"),
            _child: child,
        }
    }
}

/// Wrong key, a registry that is down, a registry that fails mid-way (the
/// tag move answered 503 after the blobs and manifests went through):
/// nothing is half-updated — the tag still names the old image, the lock is
/// the old one — and the message says what failed. Then the same update
/// goes through.
#[test]
fn failed_publishes_leave_the_old_image_and_lock() {
    if !["docker-registry", "python3"].iter().all(|t| tool(t)) {
        return;
    }
    let ctx = Ctx::new();
    security_suite(&ctx, false);
    ctx.spec("app", "name: app\npackages: [hello]\n");
    let reg = crate::trust::Registry::start();
    let image = format!("{}/fleet/app:latest", reg.host);
    ok(run_pw(&ctx, &["key", "generate", "bulwark"]));
    ok(run_pw(
        &ctx,
        &[
            "build",
            "app.yaml",
            "--output",
            &image,
            "--insecure",
            "--sign-key",
            "bulwark.key",
        ],
    ));
    let lock = std::fs::read_to_string(ctx.path().join("app.lock.json")).unwrap();
    let digest_now = || {
        let v = report(&ok(ctx.run(&[
            "verify",
            &image,
            "--key",
            "bulwark.pub",
            "--insecure",
            "--format",
            "json",
        ])));
        v.to_string()
    };
    let before = digest_now();
    security_suite(&ctx, true);

    // A wrong password: refused before any work.
    let out = ctx
        .cmd()
        .env("BULWARK_PASSWORD", "wrong")
        .args([
            "update",
            "app.yaml",
            "--output",
            &image,
            "--insecure",
            "--sign-key",
            "bulwark.key",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bulwark.key"), "{err}");
    // A file that is no key at all.
    std::fs::write(ctx.path().join("not.key"), "hello").unwrap();
    let out = run_pw(
        &ctx,
        &[
            "update",
            "app.yaml",
            "--output",
            &image,
            "--insecure",
            "--sign-key",
            "not.key",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not.key"));

    // The registry fails the tag move: everything else was pushed, but the
    // tag and the lock stay.
    let proxy = FaultyProxy::start(&reg.host);
    let via_proxy = format!("{}/fleet/app:latest", proxy.host);
    let out = ctx
        .cmd()
        .env("BULWARK_PASSWORD", crate::common::PW)
        .env("BULWARK_REGISTRY_TIMEOUT", "5")
        .args([
            "update",
            "app.yaml",
            "--output",
            &via_proxy,
            "--insecure",
            "--sign-key",
            "bulwark.key",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = report(&String::from_utf8_lossy(&out.stdout));
    let e = v["specs"][0]["error"].as_str().unwrap();
    assert!(e.contains(&proxy.host) && e.contains("503"), "{e}");
    assert_eq!(v["specs"][0]["status"], "failed");
    assert_eq!(
        std::fs::read_to_string(ctx.path().join("app.lock.json")).unwrap(),
        lock
    );
    assert_eq!(
        digest_now(),
        before,
        "the tag moved although the push failed"
    );

    // A registry that is down.
    let down = format!("127.0.0.1:{}/fleet/app:latest", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    });
    let out = ctx
        .cmd()
        .env("BULWARK_PASSWORD", crate::common::PW)
        .env("BULWARK_REGISTRY_TIMEOUT", "2")
        .args([
            "update",
            "app.yaml",
            "--output",
            &down,
            "--insecure",
            "--sign-key",
            "bulwark.key",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(ctx.path().join("app.lock.json")).unwrap(),
        lock
    );

    // The same update, straight to the registry: the tag moves, the lock too.
    let (code, v, stderr) = update(
        &ctx,
        &[
            "app.yaml",
            "--output",
            &image,
            "--insecure",
            "--sign-key",
            "bulwark.key",
        ],
    );
    assert_eq!(code, 5, "{v}\n{stderr}");
    assert_ne!(digest_now(), before);
    assert!(
        std::fs::read_to_string(ctx.path().join("app.lock.json"))
            .unwrap()
            .contains("2.10-3+deb12u1")
    );
}
