//! The admission webhook against real parts: objects made by kubectl,
//! wrapped in AdmissionReviews and sent over HTTPS (curl, checking the
//! certificate `bulwark admission certs` issued) to the real server, for
//! images in a loopback docker-registry signed by bulwark and by cosign.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;
use crate::trust::{Registry, SIGN_FLAGS, cosign, image_spec};

/// A running `bulwark admission serve`, stopped on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(ctx: &Ctx, extra: &[&str]) -> Server {
        let mut child = ctx
            .cmd()
            .env("BULWARK_PASSWORD", PW)
            .args([
                "admission",
                "serve",
                "--config",
                "policy.yaml",
                "--tls-cert",
                "certs/tls.crt",
                "--tls-key",
                "certs/tls.key",
                "--listen",
                "127.0.0.1:0",
                "--insecure",
                "--audit-log",
                "audit.jsonl",
                "--sign-decisions",
                "decisions.key",
                "--reload-every",
                "300ms",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let url = loop {
            line.clear();
            assert!(
                err.read_line(&mut line).unwrap() > 0,
                "the server exited before listening"
            );
            if let Some(u) = line.trim().strip_prefix("bulwark admission: listening on ") {
                break u.to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while err.read_line(&mut sink).is_ok_and(|n| n > 0) {
                eprint!("server: {sink}");
                sink.clear();
            }
        });
        Server { child, url }
    }

    /// POSTs `body` to `path` with curl, trusting only the issued CA.
    fn post(&self, ctx: &Ctx, path: &str, body: &[u8]) -> (u16, Value, Duration) {
        let file = ctx.path().join(format!("body-{}.json", rand_suffix()));
        std::fs::write(&file, body).unwrap();
        let t = Instant::now();
        let mut curl = Command::new("curl");
        // A server that answers before reading a whole body resets the
        // HTTP/2 stream, which curl reports as a transport error; over
        // HTTP/1.1 with `Expect: 100-continue` the answer arrives cleanly.
        if body.len() > 1 << 20 {
            curl.arg("--http1.1");
        }
        let out = curl
            .args([
                "-sS",
                "--cacert",
                "certs/ca.crt",
                "-H",
                "Content-Type: application/json",
                "-w",
                "\n%{http_code}",
                "--data-binary",
            ])
            .arg(format!("@{}", file.display()))
            .arg(format!("{}{path}", self.url))
            .current_dir(ctx.path())
            .output()
            .unwrap();
        let took = t.elapsed();
        let text = ok(out);
        let (body, code) = text.trim_end().rsplit_once('\n').unwrap();
        (
            code.parse().unwrap(),
            serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
            took,
        )
    }

    fn get(&self, ctx: &Ctx, path: &str) -> String {
        ok(Command::new("curl")
            .args(["-sS", "--cacert", "certs/ca.crt"])
            .arg(format!("{}{path}", self.url))
            .current_dir(ctx.path())
            .output()
            .unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bulwark admission certs` into `certs/`, for 127.0.0.1 too.
fn issue_certs(ctx: &Ctx, extra: &[&str]) {
    let mut args = vec![
        "admission",
        "certs",
        "--service",
        "bulwark-admission",
        "--namespace",
        "bulwark-system",
        "--out",
        "certs",
        "--name",
        "127.0.0.1",
    ];
    args.extend_from_slice(extra);
    ok(ctx.run(&args));
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

/// A Deployment (or CronJob, Job) for `image`, made by kubectl.
fn kubectl_object(ctx: &Ctx, kind: &str, image: &str) -> Value {
    let mut c = Command::new("kubectl");
    c.env("HOME", ctx.path())
        .env("KUBECONFIG", ctx.path().join("no-kubeconfig"));
    match kind {
        "Deployment" => c.args(["create", "deployment", "web", "--image", image]),
        "CronJob" => c.args([
            "create",
            "cronjob",
            "nightly",
            "--schedule",
            "0 3 * * *",
            "--image",
            image,
        ]),
        _ => c.args(["create", "job", "once", "--image", image]),
    };
    report(&ok(c
        .args(["--dry-run=client", "-o", "json"])
        .output()
        .unwrap()))
}

fn review(object: &Value, uid: &str, dry_run: bool) -> Vec<u8> {
    let kind = object["kind"].as_str().unwrap();
    let (group, version) = object["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .unwrap();
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
            "name": object["metadata"]["name"],
            "namespace": "shop",
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": object,
            "dryRun": dry_run,
        }
    }))
    .unwrap()
}

fn message(v: &Value) -> String {
    v["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn policy(h: &str) -> String {
    format!(
        r#"policies:
  - name: signed
    images: ["{h}/test/**"]
    keys: [release.pub]
    attestations: [spdx, slsa-provenance]
    conditions:
      provenance: {{builder-id: "urn:bulwark:builder:*"}}
      sbom: {{forbid-packages: [bash, busybox]}}
      non-root: true
    mode: enforce
    exceptions:
      - {{images: ["{h}/test/legacy:*"], reason: "migrating to signed builds", expires: "2099-12-31"}}
      - {{images: ["{h}/test/old:*"], reason: "was migrating", expires: "2020-01-31"}}
  - name: strict
    images: ["{h}/strict/**"]
    keys: [release.pub]
    conditions:
      sbom: {{forbid-packages: [hello]}}
      eval: {{min-grade: F}}
      evidence: {{max-age: 30d, satisfied: ["4.8", "SRG-APP-000131-CTR-000285"]}}
    require-digest: true
    mode: enforce
  - name: cosigned
    images: ["{h}/cosign/**"]
    keys: [cosign.pub]
    attestations: [spdx]
    mode: enforce
  - name: warned
    images: ["{h}/warn/**"]
    keys: [release.pub]
    mode: warn
  - name: hung
    images: ["127.0.0.1:{{HUNG}}/**"]
    keys: [release.pub]
    mode: enforce
  - name: down
    images: ["127.0.0.1:{{DOWN}}/**"]
    keys: [release.pub]
    mode: enforce
"#
    )
}

/// Every case the issue names, one server, real clients.
#[test]
fn the_webhook_admits_denies_warns_and_excepts_with_reasons() {
    if !["docker-registry", "cosign", "kubectl", "curl"]
        .iter()
        .all(|t| tool(t))
    {
        return;
    }
    let ctx = Ctx::new();
    image_spec(&ctx);
    let reg = Registry::start();
    let h = reg.host.clone();
    ok(run_pw(&ctx, &["key", "generate", "release"]));
    ok(run_pw(&ctx, &["key", "generate", "other"]));
    ok(run_pw(&ctx, &["key", "generate", "decisions"]));
    // Signed with SBOMs and provenance (both formats); unsigned; signed by
    // another key; signed without attestations.
    let push = |r: &str, extra: &[&str]| {
        let mut args = vec![
            "build",
            "i.yaml",
            "--output",
            r,
            "--insecure",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        report(&ok(run_pw(&ctx, &args)))["digest"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let good = push(
        &format!("{h}/test/app:1"),
        &["--sign-key", "release.key", "--signature-format", "both"],
    );
    for r in [
        "test/unsigned:1",
        "test/legacy:1",
        "test/old:1",
        "warn/app:1",
        "cosign/app:1",
        "strict/app:1",
    ] {
        push(&format!("{h}/{r}"), &[]);
    }
    push(
        &format!("{h}/test/otherkey:1"),
        &["--sign-key", "other.key"],
    );
    push(&format!("{h}/test/bare:1"), &[]);
    ok(run_pw(
        &ctx,
        &[
            "sign",
            &format!("{h}/test/bare:1"),
            "--key",
            "release.key",
            "--insecure",
        ],
    ));
    // strict/app: signed, with a signed eval report.
    let strict = format!("{h}/strict/app:1");
    ok(run_pw(
        &ctx,
        &["sign", &strict, "--key", "release.key", "--insecure"],
    ));
    ok(run_pw(
        &ctx,
        &[
            "eval",
            &strict,
            "--insecure",
            "--attest",
            "--sign-key",
            "release.key",
            "--format",
            "json",
        ],
    ));
    // ... and its signed compliance evidence summary.
    ok(run_pw(
        &ctx,
        &[
            "evidence",
            &strict,
            "--key",
            "release.pub",
            "--insecure",
            "--attest",
            "--sign-key",
            "release.key",
            "--format",
            "json",
        ],
    ));
    // cosign 3 signs and attests in both formats.
    ok(cosign(ctx.path(), &["generate-key-pair"]));
    std::fs::write(
        ctx.path().join("pred.json"),
        r#"{"spdxVersion":"SPDX-2.3","packages":[]}"#,
    )
    .unwrap();
    let cosigned = format!("{h}/cosign/app:1");
    for legacy in [false, true] {
        let mut a: Vec<&str> = vec!["sign", "--key", "cosign.key"];
        a.extend_from_slice(SIGN_FLAGS);
        if legacy {
            a.push("--new-bundle-format=false");
        }
        a.push(&cosigned);
        ok(cosign(ctx.path(), &a));
    }
    let mut a: Vec<&str> = vec![
        "attest",
        "--key",
        "cosign.key",
        "--type",
        "spdxjson",
        "--predicate",
        "pred.json",
    ];
    a.extend_from_slice(SIGN_FLAGS);
    a.push(&cosigned);
    ok(cosign(ctx.path(), &a));

    // A port that accepts connections and never answers: a hung registry.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_port = hung.local_addr().unwrap().port();
    // A port nothing listens on: a registry that is down.
    let down_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        ctx.path().join("policy.yaml"),
        policy(&h)
            .replace("{HUNG}", &hung_port.to_string())
            .replace("{DOWN}", &down_port.to_string()),
    )
    .unwrap();
    issue_certs(&ctx, &[]);
    let srv = Server::start(&ctx, &["--budget", "2s"]);
    assert_eq!(srv.get(&ctx, "/healthz").trim(), "ok");
    assert_eq!(srv.get(&ctx, "/readyz").trim(), "ready");

    let decide = |path: &str, image: &str, kind: &str, dry: bool| {
        let obj = kubectl_object(&ctx, kind, image);
        let (code, v, took) = srv.post(
            &ctx,
            path,
            &review(&obj, &format!("uid-{}", rand_suffix()), dry),
        );
        assert_eq!(code, 200, "{v}");
        assert!(
            v["response"]["uid"].as_str().unwrap().starts_with("uid-"),
            "{v}"
        );
        (v, took)
    };
    let allowed = |v: &Value| v["response"]["allowed"] == true;

    // Allowed: signature, SBOM and provenance attestations, conditions.
    let (v, _) = decide("/validate", &format!("{h}/test/app:1"), "Deployment", false);
    assert!(allowed(&v), "{v}");
    // The mutating endpoint pins the tag to the digest it verified.
    let (v, _) = decide("/mutate", &format!("{h}/test/app:1"), "CronJob", false);
    assert!(allowed(&v), "{v}");
    let patch: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            v["response"]["patch"].as_str().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        patch[0]["path"], "/spec/jobTemplate/spec/template/spec/containers/0/image",
        "{patch}"
    );
    assert_eq!(patch[0]["value"], format!("{h}/test/app:1@{good}"));
    let (v, _) = decide("/validate", &format!("{h}/test/app:1@{good}"), "Job", false);
    assert!(allowed(&v), "{v}");

    // Denied, each with its reason.
    for (image, want) in [
        ("test/unsigned:1", "not signed"),
        (
            "test/otherkey:1",
            "no signature verifies with the policy's 1 key(s)",
        ),
        (
            "test/bare:1",
            "no verified https://spdx.dev/Document attestation",
        ),
        ("test/old:1", "not signed"),
        (
            "strict/app:1",
            "the tag is not pinned to a digest (require-digest)",
        ),
        (
            "elsewhere/app:1",
            "no policy covers this image (no-match: deny)",
        ),
    ] {
        let (v, _) = decide("/validate", &format!("{h}/{image}"), "Deployment", false);
        assert!(!allowed(&v), "{image}: {v}");
        assert_eq!(v["response"]["status"]["code"], 403);
        let m = message(&v);
        assert!(
            m.contains(&format!("image {h}/{image} (container")) && m.contains(want),
            "{image}: {m}"
        );
    }
    // A failing condition, on an image pinned by digest: the SBOM names hello.
    let strict_digest = report(&ok(ctx.run(&[
        "verify",
        &strict,
        "--key",
        "release.pub",
        "--insecure",
        "--skip-layers",
        "--format",
        "json",
    ])))["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    let (v, _) = decide(
        "/validate",
        &format!("{strict}@{strict_digest}"),
        "Deployment",
        false,
    );
    assert!(!allowed(&v));
    let m = message(&v);
    assert!(
        m.contains("no verified SBOM") || m.contains("forbidden package(s): hello"),
        "{m}"
    );
    assert!(
        !m.contains("eval report"),
        "the eval attestation verified: {m}"
    );
    assert!(
        !m.contains("evidence"),
        "the evidence summary verified, is fresh, and has 4.8 and the signature check satisfied: {m}"
    );

    // Warned: allowed, with the reason shown to the user.
    let (v, _) = decide("/validate", &format!("{h}/warn/app:1"), "Deployment", false);
    assert!(allowed(&v), "{v}");
    assert!(
        v["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("fails policy warned: manifest sha256:"),
        "{v}"
    );
    // Excepted until its last day; expired exceptions no longer hold (above).
    let (v, _) = decide(
        "/validate",
        &format!("{h}/test/legacy:1"),
        "Deployment",
        false,
    );
    assert!(allowed(&v), "{v}");
    // cosign 3 signatures and attestations, bundle and legacy.
    let (v, _) = decide("/validate", &cosigned, "Deployment", false);
    assert!(allowed(&v), "{v}");
    // dryRun: the same decision, recorded as a dry run.
    let (v, _) = decide(
        "/validate",
        &format!("{h}/test/unsigned:1"),
        "Deployment",
        true,
    );
    assert!(!allowed(&v));

    // A hung registry: denied within the budget, with the reason.
    let (v, took) = decide(
        "/validate",
        &format!("127.0.0.1:{hung_port}/app:1"),
        "Deployment",
        false,
    );
    assert!(!allowed(&v));
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(message(&v).contains("budget"), "{}", message(&v));
    drop(hung);

    // A registry that is down: denied at once, with the reason.
    let (v, took) = decide(
        "/validate",
        &format!("127.0.0.1:{down_port}/app:1"),
        "Deployment",
        false,
    );
    assert!(!allowed(&v));
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(message(&v).contains("cannot resolve"), "{}", message(&v));

    // Malformed, non-JSON, wrong version and oversized reviews: clean errors.
    for (body, code) in [
        (b"not json".to_vec(), 400),
        (
            br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}"#
                .to_vec(),
            400,
        ),
        (vec![b' '; 17 << 20], 413),
    ] {
        let (c, _, _) = srv.post(&ctx, "/validate", &body);
        assert_eq!(c, code);
    }
    assert_eq!(srv.get(&ctx, "/healthz").trim(), "ok");

    // Metrics: decisions by policy and reason, cache hits, registry reads.
    let m = srv.get(&ctx, "/metrics");
    for want in [
        "bulwark_admission_decisions_total{endpoint=\"validate\",policy=\"signed\",result=\"denied\",reason=\"signature\"}",
        "bulwark_admission_decisions_total{endpoint=\"validate\",policy=\"signed\",result=\"excepted\",reason=\"exception\"}",
        "bulwark_admission_decisions_total{endpoint=\"validate\",policy=\"warned\",result=\"warned\",reason=\"signature\"}",
        "bulwark_admission_requests_total{endpoint=\"validate\",code=\"400\"} 2",
        "bulwark_admission_request_duration_seconds_count{endpoint=\"validate\"}",
        "bulwark_admission_ready 1",
    ] {
        assert!(m.contains(want), "{want} not in\n{m}");
    }
    let hits: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("bulwark_admission_cache_total{result=\"hit\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(hits >= 1, "{m}");

    // A policy edit is picked up without a restart: warn becomes enforce.
    let text = std::fs::read_to_string(ctx.path().join("policy.yaml")).unwrap();
    std::fs::write(
        ctx.path().join("policy.yaml"),
        text.replace("mode: warn", "mode: enforce"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (v, _) = decide("/validate", &format!("{h}/warn/app:1"), "Deployment", false);
        if !allowed(&v) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the policy edit was not picked up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A broken edit keeps the last good policy.
    std::fs::write(ctx.path().join("policy.yaml"), "policies: [").unwrap();
    std::thread::sleep(Duration::from_millis(900));
    let (v, _) = decide("/validate", &format!("{h}/test/app:1"), "Deployment", false);
    assert!(allowed(&v), "{v}");
    assert!(
        srv.get(&ctx, "/metrics")
            .contains("bulwark_admission_reloads_total{file=\"policy\",result=\"error\"}")
    );

    // A new serving certificate is picked up without a restart.
    issue_certs(&ctx, &["--force"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !Command::new("curl")
        .args(["-sS", "--cacert", "certs/ca.crt"])
        .arg(format!("{}/healthz", srv.url))
        .current_dir(ctx.path())
        .output()
        .unwrap()
        .status
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        srv.get(&ctx, "/metrics")
            .contains("bulwark_admission_reloads_total{file=\"certificate\",result=\"ok\"}")
    );

    // The audit log: one signed, chained line per decision, with the
    // exception, the dry run and the digests; tampering is found.
    let audit = std::fs::read_to_string(ctx.path().join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 15, "{}", lines.len());
    assert!(
        lines
            .iter()
            .all(|l| l["user"] == "alice" && l["namespace"] == "shop")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["dryRun"] == true && l["allowed"] == false)
    );
    let excepted = lines
        .iter()
        .flat_map(|l| l["images"].as_array().unwrap().iter())
        .find(|i| i["result"] == "excepted")
        .unwrap();
    assert_eq!(excepted["exception"][0], "migrating to signed builds");
    assert!(
        lines
            .iter()
            .flat_map(|l| l["images"].as_array().unwrap().iter())
            .any(|i| i["digest"] == good.as_str())
    );
    ok(ctx.run(&[
        "admission",
        "verify-log",
        "audit.jsonl",
        "--key",
        "decisions.pub",
    ]));
    std::fs::write(
        ctx.path().join("tampered.jsonl"),
        audit.replacen("\"allowed\":false", "\"allowed\":true", 1),
    )
    .unwrap();
    let out = ctx.run(&[
        "admission",
        "verify-log",
        "tampered.jsonl",
        "--key",
        "decisions.pub",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("the signature does not verify"));

    // SIGTERM: drains and exits cleanly.
    let mut srv = srv;
    Command::new("kill")
        .args(["-TERM", &srv.child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = srv.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
}

/// `bulwark admit` checks manifests (every document) and stored reviews
/// offline with the same policies and messages; exit 3 on a deny.
#[test]
fn admit_checks_manifests_and_reviews_before_they_are_applied() {
    if !["docker-registry", "kubectl"].iter().all(|t| tool(t)) {
        return;
    }
    let ctx = Ctx::new();
    image_spec(&ctx);
    let reg = Registry::start();
    let h = reg.host.clone();
    ok(run_pw(&ctx, &["key", "generate", "release"]));
    ok(run_pw(
        &ctx,
        &[
            "build",
            "i.yaml",
            "--output",
            &format!("{h}/test/app:1"),
            "--insecure",
            "--sign-key",
            "release.key",
        ],
    ));
    ok(run_pw(
        &ctx,
        &[
            "build",
            "i.yaml",
            "--output",
            &format!("{h}/test/unsigned:1"),
            "--insecure",
        ],
    ));
    std::fs::write(
        ctx.path().join("policy.yaml"),
        format!("policies:\n  - {{name: signed, images: ['{h}/test/**'], keys: [release.pub], attestations: [slsa-provenance], mode: enforce}}\n"),
    )
    .unwrap();
    let good = kubectl_object(&ctx, "Deployment", &format!("{h}/test/app:1"));
    let bad = kubectl_object(&ctx, "CronJob", &format!("{h}/test/unsigned:1"));
    std::fs::write(
        ctx.path().join("good.json"),
        serde_json::to_vec(&good).unwrap(),
    )
    .unwrap();
    std::fs::write(
        ctx.path().join("both.yaml"),
        format!(
            "{}\n---\n{}\n",
            serde_json::to_string(&good).unwrap(),
            serde_json::to_string(&bad).unwrap()
        ),
    )
    .unwrap();
    let out = ok(ctx.run(&[
        "admit",
        "--config",
        "policy.yaml",
        "--manifest",
        "good.json",
        "--insecure",
        "--mutate",
    ]));
    assert!(
        out.contains("ALLOWED Deployment/web (namespace default)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("pin: {h}/test/app:1 -> {h}/test/app:1@sha256:")),
        "{out}"
    );
    // require-digest: alone, a tag is denied; with --mutate the validating
    // check sees the pinned object, as the API server passes it on.
    std::fs::write(
        ctx.path().join("pinned.yaml"),
        format!("policies:\n  - {{name: pinned, images: ['{h}/test/**'], keys: [release.pub], mode: enforce, require-digest: true}}\n"),
    )
    .unwrap();
    let admit = |extra: &[&str]| {
        let mut args = vec![
            "admit",
            "--config",
            "pinned.yaml",
            "--manifest",
            "good.json",
            "--insecure",
        ];
        args.extend(extra);
        ctx.run(&args)
    };
    let out = admit(&[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not pinned to a digest"));
    let out = ok(admit(&["--mutate"]));
    assert!(out.contains("ALLOWED Deployment/web"), "{out}");
    let out = ctx.run(&[
        "admit",
        "--config",
        "policy.yaml",
        "--manifest",
        "both.yaml",
        "--insecure",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v = report(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["allowed"], false);
    assert!(
        v[1]["message"].as_str().unwrap().contains(&format!(
            "image {h}/test/unsigned:1 (container nightly) fails policy signed: manifest sha256:"
        )),
        "{v}"
    );
    // A stored AdmissionReview gives the same answer.
    std::fs::write(ctx.path().join("review.json"), review(&bad, "u1", false)).unwrap();
    let out = ctx.run(&[
        "admit",
        "--config",
        "policy.yaml",
        "--review",
        "review.json",
        "--insecure",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not signed"));
    // Multi-arch: bulwark signs the index and every platform manifest; an
    // index signed alone passes only a policy that asks for the index alone.
    multi_arch_spec(&ctx);
    let all = format!("{h}/multi/all:1");
    let top = format!("{h}/multi/top:1");
    ok(run_pw(
        &ctx,
        &[
            "build",
            "m.yaml",
            "--output",
            &all,
            "--insecure",
            "--sign-key",
            "release.key",
        ],
    ));
    ok(run_pw(
        &ctx,
        &["build", "m.yaml", "--output", &top, "--insecure"],
    ));
    ok(run_pw(
        &ctx,
        &["sign", &top, "--key", "release.key", "--insecure"],
    ));
    for (name, image) in [("all", &all), ("top", &top)] {
        std::fs::write(
            ctx.path().join(format!("{name}.json")),
            serde_json::to_vec(&kubectl_object(&ctx, "Deployment", image)).unwrap(),
        )
        .unwrap();
    }
    let admit = |platforms: &str, manifest: &str| {
        std::fs::write(
            ctx.path().join("multi.yaml"),
            format!("policies:\n  - {{name: multi, images: ['{h}/multi/**'], keys: [release.pub], attestations: [slsa-provenance], {platforms}mode: enforce}}\n"),
        )
        .unwrap();
        let out = ctx.run(&[
            "admit",
            "--config",
            "multi.yaml",
            "--manifest",
            manifest,
            "--insecure",
        ]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(admit("", "all.json").0, Some(0));
    let (code, text) = admit("", "top.json");
    assert_eq!(code, Some(3));
    assert!(
        text.contains("linux/amd64 sha256:")
            && text.contains("linux/arm64/v8 sha256:")
            && text.contains("not signed"),
        "{text}"
    );
    // The index alone: signed, but its provenance was never attached.
    let (code, text) = admit("platforms: [], ", "top.json");
    assert_eq!(code, Some(3));
    assert!(
        text.contains("index sha256:")
            && text.contains("no verified https://slsa.dev/provenance/v1 attestation")
            && !text.contains("linux/"),
        "{text}"
    );
    assert_eq!(admit("platforms: [linux/arm64], ", "all.json").0, Some(0));
    let (code, text) = admit("platforms: [linux/s390x], ", "all.json");
    assert_eq!(code, Some(3));
    assert!(
        text.contains(
            "platform linux/s390x is not in the index (it has linux/amd64, linux/arm64/v8)"
        ),
        "{text}"
    );

    // The vulnerability report `bulwark scan --attest` signs: a KEV finding
    // and one above the allowed priority deny, with their ids.
    std::fs::write(ctx.path().join("list"), crate::scan::TRACKER).unwrap();
    let kev = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/vuln/cisa-kev-2025-08-25.json.gz");
    ok(ctx.run(&[
        "db",
        "update",
        "--db",
        "db",
        "--from",
        "list",
        "--from",
        kev.to_str().unwrap(),
    ]));
    let app = format!("{h}/test/app:1");
    ok(run_pw(
        &ctx,
        &[
            "scan",
            &app,
            "--db",
            "db",
            "--insecure",
            "--attest",
            "--key",
            "release.key",
            "--format",
            "json",
        ],
    ));
    std::fs::write(
        ctx.path().join("vuln.yaml"),
        format!("policies:\n  - {{name: vulns, images: ['{h}/test/**'], keys: [release.pub], conditions: {{vulnerabilities: {{max-priority: plan, max-age: 1d}}}}, mode: enforce}}\n"),
    )
    .unwrap();
    let out = ctx.run(&[
        "admit",
        "--config",
        "vuln.yaml",
        "--manifest",
        "good.json",
        "--insecure",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("known exploited (CISA KEV): CVE-2025-48384")
            && text.contains("finding(s) above plan: CVE-2025-48384 (act-now)"),
        "{text}"
    );
    std::fs::write(
        ctx.path().join("vuln.yaml"),
        format!("policies:\n  - {{name: vulns, images: ['{h}/test/**'], keys: [release.pub], conditions: {{vulnerabilities: {{no-kev: false, max-priority: act-now}}}}, mode: enforce}}\n"),
    )
    .unwrap();
    ok(ctx.run(&[
        "admit",
        "--config",
        "vuln.yaml",
        "--manifest",
        "good.json",
        "--insecure",
    ]));

    // A policy that cannot be read is an error (1), never an allow.
    std::fs::write(
        ctx.path().join("bad.yaml"),
        "policies:\n  - {name: x, images: ['**']}\n",
    )
    .unwrap();
    let out = ctx.run(&["admit", "--config", "bad.yaml", "--manifest", "good.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mode enforce needs keys"));
    let _ = Path::new(".");
}

/// deploy/admission/ validates against the Kubernetes schemas (strict),
/// and the webhook runs locked down with failurePolicy Fail.
#[test]
fn deploy_admission_manifests_validate_and_fail_closed() {
    if !["kubernetes-validate"].iter().all(|t| tool(t)) {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/admission");
    assert_kubernetes_valid(
        &dir,
        &[
            "serviceaccount.yaml",
            "rbac.yaml",
            "configmap.yaml",
            "deployment.yaml",
            "pdb.yaml",
            "service.yaml",
            "networkpolicy.yaml",
            "validatingwebhook.yaml",
            "mutatingwebhook.yaml",
        ],
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    for f in ["validatingwebhook.yaml", "mutatingwebhook.yaml"] {
        let t = read(f);
        for want in [
            "failurePolicy: Fail",
            "sideEffects: None",
            "timeoutSeconds: 10",
            "values: [kube-system, bulwark-system]",
            "pods/ephemeralcontainers",
            "cronjobs",
        ] {
            assert!(t.contains(want), "{f}: {want}");
        }
    }
    let d = read("deployment.yaml");
    for want in [
        "replicas: 2",
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "drop: [ALL]",
        "type: RuntimeDefault",
        "automountServiceAccountToken: false",
        "path: /readyz",
        "- 6s",
        "expirationSeconds: 3600",
        "name: kube-root-ca.crt",
    ] {
        assert!(d.contains(want), "deployment.yaml: {want}");
    }
    // The webhook may get namespaces, and nothing else.
    let rbac = read("rbac.yaml");
    assert!(
        rbac.contains(
            "resources: [namespaces]
    verbs: [get]
"
        ) && rbac.matches("verbs:").count() == 1,
        "{rbac}"
    );
    // The policy in the ConfigMap is one bulwark accepts.
    let cm = read("configmap.yaml");
    let policy: String = cm
        .split_once("policy.yaml: |\n")
        .unwrap()
        .1
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("keys")).unwrap();
    std::fs::write(
        tmp.path().join("policy.yaml"),
        policy.replace("/etc/bulwark-keys", "keys"),
    )
    .unwrap();
    let ctx = Ctx::new();
    ok(run_pw(&ctx, &["key", "generate", "k"]));
    std::fs::copy(
        ctx.path().join("k.pub"),
        tmp.path().join("keys/release.pub"),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("m.json"),
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#,
    )
    .unwrap();
    ok(ctx.run(&[
        "admit",
        "--config",
        tmp.path().join("policy.yaml").to_str().unwrap(),
        "--manifest",
        tmp.path().join("m.json").to_str().unwrap(),
    ]));
}

/// A stand-in for the Kubernetes API server (Debian ships no
/// kube-apiserver): HTTPS with the certificate in `apicerts/`, GET
/// `/api/v1/namespaces/NAME` answered from `namespaces.json` when the
/// bearer token equals the one in `accepted-token` (read at each request),
/// 401 otherwise, 404 for unknown names. Killed on drop.
struct FakeApi {
    _child: Reaped,
    url: String,
}

const FAKE_API: &str = r#"
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        token = open("accepted-token").read().strip()
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.answer(401, {"kind": "Status", "code": 401, "reason": "Unauthorized"})
        namespaces = json.load(open("namespaces.json"))
        parts = self.path.split("/")
        if len(parts) == 5 and parts[1:4] == ["api", "v1", "namespaces"] and parts[4] in namespaces:
            name = parts[4]
            return self.answer(200, {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": namespaces[name]}})
        self.answer(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain("apicerts/tls.crt", "apicerts/tls.key")
server.socket = tls.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl FakeApi {
    fn start(ctx: &Ctx) -> FakeApi {
        ok(ctx.run(&[
            "admission",
            "certs",
            "--service",
            "kubernetes",
            "--namespace",
            "default",
            "--out",
            "apicerts",
            "--name",
            "127.0.0.1",
        ]));
        std::fs::write(ctx.path().join("fake-api.py"), FAKE_API).unwrap();
        let (child, line) = spawn_announcing(
            Command::new("python3")
                .arg("fake-api.py")
                .current_dir(ctx.path()),
        );
        let port: u16 = line.parse().expect("the fake API server's port");
        FakeApi {
            _child: child,
            url: format!("https://127.0.0.1:{port}"),
        }
    }
}

/// Policies that select namespaces by label: the labels read over HTTPS
/// from the API server with a rotating token (the served webhook and
/// `admit`), or from `kubectl get namespaces -o json` output; whatever
/// cannot be read denies.
#[test]
fn namespace_selectors_read_labels_from_the_api_server_and_fail_closed() {
    if !["docker-registry", "kubectl", "curl", "python3"]
        .iter()
        .all(|t| tool(t))
    {
        return;
    }
    let ctx = Ctx::new();
    image_spec(&ctx);
    let reg = Registry::start();
    let h = reg.host.clone();
    ok(run_pw(&ctx, &["key", "generate", "release"]));
    ok(run_pw(&ctx, &["key", "generate", "decisions"]));
    let build = |r: &str, extra: &[&str]| {
        let mut args = vec!["build", "i.yaml", "--output", r, "--insecure"];
        args.extend_from_slice(extra);
        ok(run_pw(&ctx, &args));
    };
    build(&format!("{h}/app/signed:1"), &["--sign-key", "release.key"]);
    build(&format!("{h}/app/unsigned:1"), &[]);
    std::fs::write(
        ctx.path().join("policy.yaml"),
        format!(
            "policies:\n  - name: prod-signed\n    images: ['{h}/app/**']\n    keys: [release.pub]\n    mode: enforce\n    namespace-selector:\n      matchLabels: {{env: prod}}\n      matchExpressions: [{{key: bulwark.dev/exempt, operator: DoesNotExist}}]\nno-match: allow\n"
        ),
    )
    .unwrap();
    std::fs::write(
        ctx.path().join("namespaces.json"),
        r#"{"shop": {"env": "prod"}, "dev": {"env": "dev"}, "lab": {"env": "prod", "bulwark.dev/exempt": "yes"}}"#,
    )
    .unwrap();
    std::fs::write(ctx.path().join("accepted-token"), "token-1\n").unwrap();
    std::fs::write(ctx.path().join("token"), "token-1\n").unwrap();
    let api = FakeApi::start(&ctx);
    let unsigned = kubectl_object(&ctx, "Deployment", &format!("{h}/app/unsigned:1"));
    let signed = kubectl_object(&ctx, "Job", &format!("{h}/app/signed:1"));
    std::fs::write(
        ctx.path().join("unsigned.json"),
        serde_json::to_vec(&unsigned).unwrap(),
    )
    .unwrap();
    std::fs::write(
        ctx.path().join("signed.json"),
        serde_json::to_vec(&signed).unwrap(),
    )
    .unwrap();
    let admit = |manifest: &str, ns: &str, source: &[&str]| {
        let mut args = vec![
            "admit",
            "--config",
            "policy.yaml",
            "--manifest",
            manifest,
            "--namespace",
            ns,
            "--insecure",
        ];
        args.extend_from_slice(source);
        let out = ctx.run(&args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let from_api = [
        "--kube-api",
        api.url.as_str(),
        "--kube-ca",
        "apicerts/ca.crt",
        "--kube-token",
        "token",
    ];
    // Selected (env=prod, not exempt): the policy applies.
    let (code, out) = admit("unsigned.json", "shop", &from_api);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("fails policy prod-signed"), "{out}");
    let (code, out) = admit("signed.json", "shop", &from_api);
    assert_eq!(code, Some(0), "{out}");
    // Not selected (another env; the exemption label): no policy covers it.
    for ns in ["dev", "lab"] {
        let (code, out) = admit("unsigned.json", ns, &from_api);
        assert_eq!(code, Some(0), "{ns}: {out}");
    }
    // A rotated token is read again; a refused or missing namespace, an
    // untrusted certificate and an unreachable server all deny.
    std::fs::write(ctx.path().join("accepted-token"), "token-2\n").unwrap();
    let (code, out) = admit("unsigned.json", "dev", &from_api);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("401") && out.contains("needs get on namespaces"),
        "{out}"
    );
    std::fs::write(ctx.path().join("token"), "token-2\n").unwrap();
    let (code, out) = admit("unsigned.json", "dev", &from_api);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = admit("unsigned.json", "ghost", &from_api);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("policy prod-signed selects namespaces by label")
            && out.contains("namespace ghost does not exist"),
        "{out}"
    );
    let mut wrong_ca = from_api;
    wrong_ca[3] = "certs-other/ca.crt";
    ok(ctx.run(&[
        "admission",
        "certs",
        "--service",
        "other",
        "--namespace",
        "default",
        "--out",
        "certs-other",
    ]));
    let (code, out) = admit("unsigned.json", "dev", &wrong_ca);
    assert_eq!(
        code,
        Some(3),
        "an untrusted API server is not believed: {out}"
    );
    assert!(
        out.contains("labels of namespace \"dev\" could not be read")
            && out.contains(&format!("{}/api/v1/namespaces/dev", api.url)),
        "{out}"
    );

    // The served webhook, with the same source.
    issue_certs(&ctx, &[]);
    let server = Server::start(&ctx, &from_api);
    let (status, v, _) = server.post(&ctx, "/validate", &review(&unsigned, "ns-1", false));
    assert_eq!(status, 200);
    assert_eq!(v["response"]["allowed"], false, "{v}");
    assert!(message(&v).contains("fails policy prod-signed"), "{v}");
    let (_, v, _) = server.post(&ctx, "/validate", &review(&signed, "ns-2", false));
    assert_eq!(v["response"]["allowed"], true, "{v}");
    // review() sends to `shop`; these go elsewhere.
    let in_ns = |ns: &str, uid: &str| {
        String::from_utf8(review(&unsigned, uid, false))
            .unwrap()
            .replace(r#""namespace":"shop""#, &format!(r#""namespace":"{ns}""#))
            .into_bytes()
    };
    // The token rotated under the running server: it reads the new one.
    std::fs::write(ctx.path().join("accepted-token"), "token-3\n").unwrap();
    std::fs::write(ctx.path().join("token"), "token-3\n").unwrap();
    let (_, v, _) = server.post(&ctx, "/validate", &in_ns("lab", "ns-rot"));
    assert_eq!(
        v["response"]["allowed"], true,
        "lab is exempt by label, read with the rotated token: {v}"
    );
    // The API server gone: cached labels still answer for their TTL (shop
    // is decided by its policy, not denied for unreadable labels), and any
    // other namespace is denied.
    drop(api);
    let (_, v, _) = server.post(&ctx, "/validate", &review(&unsigned, "ns-cached", false));
    assert!(
        message(&v).contains("fails policy prod-signed")
            && !message(&v).contains("could not be read"),
        "{v}"
    );
    let elsewhere = in_ns("dev", "ns-3");
    let (_, v, took) = server.post(&ctx, "/validate", &elsewhere);
    assert_eq!(v["response"]["allowed"], false, "{v}");
    assert!(
        message(&v).contains("labels of namespace \"dev\" could not be read"),
        "{v}"
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
    drop(server);

    // Offline, from what kubectl prints for labelled namespaces.
    let mut items = Vec::new();
    for (name, labels) in [("shop", vec!["env=prod"]), ("dev", vec!["env=dev"])] {
        let mut c = Command::new("kubectl");
        c.env("HOME", ctx.path())
            .env("KUBECONFIG", ctx.path().join("no-kubeconfig"));
        let ns = report(&ok(c
            .args([
                "create",
                "namespace",
                name,
                "--dry-run=client",
                "-o",
                "json",
            ])
            .output()
            .unwrap()));
        std::fs::write(ctx.path().join("ns.json"), serde_json::to_vec(&ns).unwrap()).unwrap();
        let mut c = Command::new("kubectl");
        c.env("HOME", ctx.path())
            .env("KUBECONFIG", ctx.path().join("no-kubeconfig"))
            .current_dir(ctx.path())
            .args(["label", "--local", "-f", "ns.json", "-o", "json"])
            .args(&labels);
        items.push(report(&ok(c.output().unwrap())));
    }
    std::fs::write(
        ctx.path().join("cluster-namespaces.json"),
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "List", "items": items})).unwrap(),
    )
    .unwrap();
    let offline = ["--namespaces", "cluster-namespaces.json"];
    let (code, out) = admit("unsigned.json", "shop", &offline);
    assert_eq!(code, Some(3), "{out}");
    let (code, out) = admit("unsigned.json", "dev", &offline);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = admit("unsigned.json", "ghost", &offline);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("\"ghost\" is not in cluster-namespaces.json"),
        "{out}"
    );
    // No source at all: a selecting policy cannot be applied, so it denies.
    let (code, out) = admit("unsigned.json", "dev", &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("no namespace source"), "{out}");
}

/// An audit log that cannot be written (a full disk) does not stop the
/// webhook answering, and every lost record is counted for alerting; and
/// `admission certs` never replaces certificates unless told to.
#[test]
fn lost_audit_records_are_counted_and_certificates_are_kept() {
    if !["kubectl", "curl"].iter().all(|t| tool(t)) {
        return;
    }
    let ctx = Ctx::new();
    ok(run_pw(&ctx, &["key", "generate", "decisions"]));
    issue_certs(&ctx, &[]);
    let before = std::fs::read(ctx.path().join("certs/tls.key")).unwrap();
    let e = String::from_utf8(
        ctx.run(&[
            "admission",
            "certs",
            "--service",
            "bulwark-admission",
            "--namespace",
            "bulwark-system",
            "--out",
            "certs",
        ])
        .stderr,
    )
    .unwrap();
    assert!(
        e.contains("exists; use --force to replace the certificates"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(ctx.path().join("certs/tls.key")).unwrap(),
        before
    );
    issue_certs(&ctx, &["--force"]);
    assert_ne!(
        std::fs::read(ctx.path().join("certs/tls.key")).unwrap(),
        before
    );
    std::fs::write(
        ctx.path().join("policy.yaml"),
        "policies:\n  - {name: watched, images: ['r.test/**'], mode: audit}\nno-match: allow\n",
    )
    .unwrap();
    // Every write to /dev/full fails with ENOSPC.
    std::os::unix::fs::symlink("/dev/full", ctx.path().join("audit.jsonl")).unwrap();
    let server = Server::start(&ctx, &[]);
    let object = kubectl_object(&ctx, "Deployment", "other.test/app:1");
    for uid in ["a-1", "a-2"] {
        let (status, v, _) = server.post(&ctx, "/validate", &review(&object, uid, false));
        assert_eq!(status, 200);
        assert_eq!(v["response"]["allowed"], true, "{v}");
    }
    let metrics = server.get(&ctx, "/metrics");
    assert!(
        metrics.contains("bulwark_admission_audit_errors_total 2"),
        "{metrics}"
    );
}
