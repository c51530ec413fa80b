//! `bulwark harden`: an ordinary Debian image (mmdebstrap, standard variant
//! plus python3, curl, git, openssh-client and build-essential, with a small
//! web app) hardened and minified, then run by podman read-only without
//! capabilities, read by trivy and graded by eval; and the refusals.

use std::path::Path;
use std::process::Command;

use crate::common::{fails, ok, tool};
use crate::examples::{
    LowerDir, assert_no_shell, bulwark, bulwark_packages, host_sources, podman, podman_forget,
    podman_start, report_json, trivy_packages,
};

const APP: &str = r#"import http.server, os

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from uid %d\n" % os.getuid()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", 8080), Hello).serve_forever()
"#;

/// Asks the app inside the running container, on its own loopback, with
/// the image's python (there is no shell and no curl left to ask with).
const ASK: &str = "import time, urllib.request\nfor i in range(150):\n    try:\n        print(urllib.request.urlopen('http://127.0.0.1:8080/').read().decode(), end='')\n        break\n    except OSError:\n        time.sleep(0.2)\n";

/// Runs `image` read-only, without capabilities and without a network, and
/// returns what the app answers on loopback.
fn app_answers(image: &str) -> String {
    let cid = podman_start(image);
    let out = podman()
        .args(["exec", &cid, "python3", "-c", ASK])
        .output()
        .unwrap();
    let _ = podman().args(["kill", &cid]).output();
    ok(out)
}

/// The source image as a docker archive (and as an OCI layout in
/// `src-oci`): mmdebstrap's rootfs imported by podman with the app as its
/// command (root, as such images usually run).
fn source_image(d: &Path) -> std::path::PathBuf {
    let sources = host_sources();
    std::fs::write(d.join("app.py"), APP).unwrap();
    let tar = d.join("rootfs.tar");
    ok(Command::new("mmdebstrap")
        .args([
            "-q",
            "--variant=standard",
            "--include=python3,curl,git,openssh-client,build-essential",
            "--format=tar",
        ])
        .arg(format!(
            "--customize-hook=mkdir -p \"$1/app/.git\" && cp {} \"$1/app/app.py\" && echo '[core]' > \"$1/app/.git/config\"",
            d.join("app.py").display()
        ))
        .arg("bookworm")
        .arg(&tar)
        .arg(sources)
        .output()
        .unwrap());
    let tag = format!("localhost/bulwark-harden-src:{}", std::process::id());
    ok(podman()
        .args([
            "import",
            "--change",
            r#"CMD ["python3", "/app/app.py"]"#,
            "--change",
            "WORKDIR /app",
            "--change",
            "EXPOSE 8080",
        ])
        .arg(&tar)
        .arg(&tag)
        .output()
        .unwrap());
    let saved = d.join("src.tar");
    ok(podman()
        .args(["save", "--format", "docker-archive", "-o"])
        .arg(&saved)
        .arg(&tag)
        .output()
        .unwrap());
    // The same image as an OCI layout: one gzip layer, as podman writes it.
    ok(podman()
        .args(["save", "--format", "oci-dir", "-o"])
        .arg(d.join("src-oci"))
        .arg(&tag)
        .output()
        .unwrap());
    let _ = podman().args(["rmi", "-f", &tag]).output();
    let _ = std::fs::remove_file(&tar);
    saved
}

fn harden(d: &Path, args: &[&str]) -> serde_json::Value {
    let mut c = bulwark(d);
    c.arg("harden").args(args).args(["--format", "json"]);
    report_json(&ok(c.output().unwrap()))
}

/// `bulwark eval IMAGE`'s findings of check `id`: (path, message).
fn findings(d: &Path, image: &str, id: &str) -> Vec<(String, String)> {
    let out = bulwark(d)
        .args(["eval", image, "--format", "json"])
        .output()
        .unwrap();
    report_json(&ok(out))["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .map(|f| {
            (
                f["path"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn removed(r: &serde_json::Value) -> Vec<String> {
    r["platforms"][0]["removed_packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_ordinary_debian_image_is_hardened_and_minified_and_still_works() {
    if !(tool("mmdebstrap") && tool("podman") && tool("trivy")) {
        return;
    }
    let d = LowerDir::new("harden");
    let src = source_image(&d.0);
    let src_ref = format!("docker-archive:{}", src.display());
    let before_pkgs = bulwark_packages(&d.0, &src_ref);
    assert!(before_pkgs.len() > 250, "{}", before_pkgs.len());

    let out = format!("oci:{}/hard:1", d.0.display());
    let r = harden(&d.0, &[&src_ref, &out]);
    let p = &r["platforms"][0];
    // The grades, before and after.
    assert_eq!(p["grade_before"]["grade"], "F", "{}", p["grade_before"]);
    let after = p["grade_after"]["grade"].as_str().unwrap();
    assert!(matches!(after, "A" | "B"), "{}", p["grade_after"]);
    // Shells, package managers, network tools, compilers went with their
    // packages; python and its needs stayed.
    let gone = removed(&r);
    for pkg in [
        "bash",
        "dash",
        "apt",
        "dpkg",
        "curl",
        "openssh-client",
        "gcc-12",
        "make",
        "perl-base",
        "build-essential",
        "git",
        "login",
        "util-linux",
    ] {
        assert!(
            gone.contains(&pkg.to_owned()),
            "{pkg} not removed: {gone:?}"
        );
    }
    assert_eq!(p["entrypoint"], "/usr/bin/python3.11");
    assert_eq!(p["user"], "65532:65532");
    assert_eq!(p["user_created"], "nonroot");
    let paths: Vec<&str> = p["removed_paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/app/.git"), "{paths:?}");
    assert!(
        !p["setuid_stripped"].as_array().unwrap().is_empty() || gone.contains(&"passwd".into())
    );
    // What trivy sees is exactly the new dpkg database, which bulwark's SBOM reads.
    let layout = d.0.join("hard");
    let ours = bulwark_packages(&d.0, &out);
    assert_eq!(ours.len(), p["packages_after"].as_u64().unwrap() as usize);
    assert_eq!(trivy_packages(&layout, None), ours);
    for g in &gone {
        assert!(!ours.iter().any(|x| x.starts_with(&format!("{g}="))), "{g}");
    }
    // It runs read-only, without capabilities, as non-root; no shell.
    assert_eq!(app_answers(&out), "hello from uid 65532\n");
    assert_no_shell(&out);
    podman_forget(&d.0);
    // Reproducible from the same input, wherever its file lies.
    std::fs::create_dir(d.0.join("elsewhere")).unwrap();
    std::fs::hard_link(&src, d.0.join("elsewhere/copy.tar")).unwrap();
    let moved = format!("docker-archive:{}/elsewhere/copy.tar", d.0.display());
    let again = format!("oci:{}/again:1", d.0.display());
    assert_eq!(harden(&d.0, &[&moved, &again])["digest"], r["digest"]);
    let _ = std::fs::remove_dir_all(d.0.join("again"));
    // From the OCI layout (a gzip layer), the squashed layer copies the
    // source's compressed bits where nothing changed: the same files,
    // packages and behaviour, read back by podman (Go's gzip) and trivy.
    let oci_src = format!("oci:{}", d.0.join("src-oci").display());
    let spliced = format!("oci:{}/spliced:1", d.0.display());
    let sr = harden(&d.0, &[&oci_src, &spliced]);
    let sp = &sr["platforms"][0];
    assert!(
        sp["reused"].as_u64().unwrap() > sp["size_after"].as_u64().unwrap() / 2,
        "{sp}"
    );
    assert_eq!(p["reused"], 0, "a docker archive's layer is not compressed");
    assert_eq!(sp["removed_packages"], p["removed_packages"]);
    let diff = bulwark(&d.0)
        .args(["diff", &out, &spliced, "--format", "json"])
        .output()
        .unwrap();
    let files = report_json(&ok(diff))["files"].clone();
    assert_eq!(
        (&files["added"], &files["removed"], &files["changed"]),
        (&0.into(), &0.into(), &0.into()),
        "{files}"
    );
    assert_eq!(trivy_packages(&d.0.join("spliced"), None), ours);
    assert_eq!(app_answers(&spliced), "hello from uid 65532\n");
    assert_no_shell(&spliced);
    podman_forget(&d.0);
    let twice = format!("oci:{}/spliced2:1", d.0.display());
    assert_eq!(harden(&d.0, &[&oci_src, &twice])["digest"], sr["digest"]);
    let _ = std::fs::remove_dir_all(d.0.join("spliced2"));
    // Its SBOMs and provenance name the source.
    let prov: serde_json::Value =
        report_json(&std::fs::read_to_string(d.0.join("hard.sbom/hard.provenance.json")).unwrap());
    assert_eq!(
        prov["buildDefinition"]["resolvedDependencies"][0]["uri"],
        src_ref.as_str()
    );

    // --delta: the source's layer as it is plus a small one of changes,
    // which merge to the same image: same packages for trivy, app answers,
    // no shell.
    let delta = format!("oci:{}/delta:1", d.0.display());
    let dr = harden(&d.0, &[&src_ref, &delta, "--delta"]);
    let dp = &dr["platforms"][0];
    assert_eq!(dp["packages_after"], p["packages_after"]);
    let added = dp["size_after"].as_u64().unwrap() - dp["size_before"].as_u64().unwrap();
    assert!(added < 16 << 20, "delta layer of {added} bytes");
    assert_eq!(trivy_packages(&d.0.join("delta"), None), ours);
    assert_eq!(app_answers(&delta), "hello from uid 65532\n");
    assert_no_shell(&delta);
    podman_forget(&d.0);
    // File capabilities (setcap'd by maintainer scripts) are gone from both
    // forms: each file that had them went with its package or is listed.
    // iputils-ping's maintainer script runs `setcap cap_net_raw+ep`; the
    // attribute reaches the layer podman saved as a PAX record.
    let capped = findings(&d.0, &src_ref, "ID-012");
    assert!(
        capped
            .iter()
            .any(|(p, m)| p == "usr/bin/ping" && m.ends_with("cap_net_raw=ep")),
        "{capped:?}"
    );
    let listed = |r: &serde_json::Value| r["platforms"][0]["capabilities_removed"].clone();
    assert_eq!(listed(&r), listed(&dr));
    for c in listed(&r).as_array().unwrap() {
        let path = c.as_str().unwrap().split(": ").next().unwrap();
        assert!(
            capped.iter().any(|(p, _)| format!("/{p}") == path),
            "{c} listed, not found by eval: {capped:?}"
        );
    }
    for image in [&out, &delta] {
        let left = findings(&d.0, image, "ID-012");
        assert!(left.is_empty(), "{image}: {left:?}");
    }

    // --minify: only the entrypoint's closure and /app; at least 5x smaller.
    let min = format!("oci:{}/min:1", d.0.display());
    let m = harden(&d.0, &[&src_ref, &min, "--minify", "--keep", "/app"]);
    let mp = &m["platforms"][0];
    let ratio = mp["size_before"].as_f64().unwrap() / mp["size_after"].as_f64().unwrap();
    assert!(ratio >= 5.0, "minified only {ratio:.1}x: {mp}");
    assert_eq!(app_answers(&min), "hello from uid 65532\n");
    podman_forget(&d.0);
    assert_eq!(
        trivy_packages(&d.0.join("min"), None),
        bulwark_packages(&d.0, &min)
    );
}

/// A one-layer OCI layout tagged `t` with `config` and these files.
fn layout(dir: &Path, config: serde_json::Value, files: &[(&str, &[u8])]) {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    let t = b.into_inner().unwrap();
    crate::regression::one_layer_layout_with(dir, &crate::regression::gzip(&t), &t, config);
}

const STATUS: &[u8] = b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n";

#[test]
fn what_cannot_be_analysed_or_holds_secrets_is_refused_and_nothing_written() {
    let d = LowerDir::new("harden-refuse");
    // A program no package owns, and no --keep: refused, with what to do.
    layout(
        &d.0.join("opaque"),
        serde_json::json!({"Entrypoint": ["/app/run"]}),
        &[
            ("var/lib/dpkg/status", STATUS),
            ("app/run", b"\x00\x01not a program"),
            ("usr/bin/bash", b"\x7fELF"),
        ],
    );
    let err = fails(
        bulwark(&d.0)
            .args(["harden", "oci:opaque:t", "oci:out1:1"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("cannot tell what the entrypoint needs") && err.contains("--keep PATH"),
        "{err}"
    );
    assert!(!d.0.join("out1").exists());
    // Naming what to keep is enough: bash and its record go, /app stays.
    let r = harden(&d.0, &["oci:opaque:t", "oci:out2:1", "--keep", "/app"]);
    assert_eq!(removed(&r), ["bash"]);
    // The private copy of a gzip layer cannot be made: an error saying
    // where, not a layer written another way.
    let err = fails(
        bulwark(&d.0)
            .env("TMPDIR", d.0.join("no-such-dir"))
            .args(["harden", "oci:opaque:t", "oci:out2b:1", "--keep", "/app"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("cannot make a private copy") && err.contains("TMPDIR"),
        "{err}"
    );
    assert!(!d.0.join("out2b").exists());
    assert_eq!(bulwark_packages(&d.0, "oci:out2:1"), ["libc6=2.36-9"]);

    // A private key and a token in ENV: refused unless --allow-secrets.
    layout(
        &d.0.join("secret"),
        serde_json::json!({"Entrypoint": ["/app/run"], "Env": ["API_TOKEN=abc123"]}),
        &[
            ("var/lib/dpkg/status", STATUS),
            (
                "app/id_ed25519",
                b"-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
            ),
        ],
    );
    let err = fails(
        bulwark(&d.0)
            .args(["harden", "oci:secret:t", "oci:out3:1", "--keep", "/app"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("holds secrets")
            && err.contains("/app/id_ed25519")
            && err.contains("API_TOKEN")
            && err.contains("--allow-secrets"),
        "{err}"
    );
    assert!(!d.0.join("out3").exists());
    let r = harden(
        &d.0,
        &[
            "oci:secret:t",
            "oci:out3:1",
            "--keep",
            "/app",
            "--allow-secrets",
        ],
    );
    assert_eq!(r["platforms"][0]["secrets"].as_array().unwrap().len(), 2);

    // No dpkg database: nothing to keep true.
    layout(
        &d.0.join("bare"),
        serde_json::json!({"Entrypoint": ["/app/run"]}),
        &[("app/run", b"x")],
    );
    let err = fails(
        bulwark(&d.0)
            .args(["harden", "oci:bare:t", "oci:out4:1", "--keep", "/app"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("no dpkg database"), "{err}");

    // A config whose runtime part is not an object: nothing to carry over
    // or to set the entrypoint in.
    layout(
        &d.0.join("oddconfig"),
        serde_json::json!("python3 /app/run"),
        &[("var/lib/dpkg/status", STATUS), ("app/run", b"x")],
    );
    for extra in [&[][..], &["--entrypoint", "/app/run"][..]] {
        let err = fails(
            bulwark(&d.0)
                .args(["harden", "oci:oddconfig:t", "oci:out6:1", "--keep", "/app"])
                .args(extra)
                .output()
                .unwrap(),
        );
        assert!(
            err.contains("the image config's `config` object cannot be read"),
            "{extra:?}: {err}"
        );
        assert!(!d.0.join("out6").exists());
    }

    // A layer that climbs out of the root.
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_old_mut().name[..11].copy_from_slice(b"../../evil\0");
    h.set_cksum();
    let mut t = h.as_bytes().to_vec();
    t.extend([b'x']);
    t.extend([0u8; 511]);
    t.extend([0u8; 1024]);
    crate::regression::one_layer_layout_with(
        &d.0.join("climb"),
        &crate::regression::gzip(&t),
        &t,
        serde_json::json!({}),
    );
    let err = fails(
        bulwark(&d.0)
            .args(["harden", "oci:climb:t", "oci:out5:1", "--keep", "/"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("escapes the root"), "{err}");
    assert!(!d.0.join("out5").exists());
}

#[test]
fn every_platform_is_hardened_signed_and_attested() {
    use crate::common::{Ctx, multi_arch_spec, report, run_pw};
    let ctx = Ctx::new();
    multi_arch_spec(&ctx);
    ok(ctx.run(&["build", "m.yaml", "--output", "oci:multi:v1"]));
    ok(run_pw(&ctx, &["key", "generate", "k"]));
    let r = report(&ok(run_pw(
        &ctx,
        &[
            "harden",
            "oci:multi:v1",
            "oci:hm:1",
            "--keep",
            "/usr/bin/hello",
            "--sign-key",
            "k.key",
            "--format",
            "json",
        ],
    )));
    let platforms: Vec<&str> = r["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"], "{r:#}");
    assert_eq!(r["sboms"], "attached as signed attestations");
    // Signed, with the SBOMs and the provenance, on the index and each platform.
    ok(ctx.run(&[
        "verify",
        "oci:hm:1",
        "--key",
        "k.pub",
        "--attestation",
        "spdx",
        "--attestation",
        "cyclonedx",
        "--attestation",
        "slsa-provenance",
    ]));
    for p in &platforms {
        assert!(
            ok(ctx.run(&["sbom", "oci:hm:1", "--platform", p])).contains("hello"),
            "{p}"
        );
    }
    // The grade after counts the signatures it was given.
    let after = &r["platforms"][0]["grade_after"];
    for id in ["PR-004", "PR-006", "PR-007"] {
        assert!(after["findings"].get(id).is_none(), "{id}: {after}");
    }
}

/// One tar entry of a hand-made layer: (path, type, mode, data or link).
type Entry<'a> = (&'a str, tar::EntryType, u32, &'a [u8]);

fn tar_of(entries: &[Entry<'_>]) -> Vec<u8> {
    tar_with_caps(entries, &[])
}

/// [`tar_of`], with a `security.capability` attribute (raw) on some paths,
/// written as GNU tar and Go's archive/tar write it.
fn tar_with_caps(entries: &[Entry<'_>], caps: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, mode, data) in entries {
        if let Some((_, raw)) = caps.iter().find(|(p, _)| p == name) {
            b.append_pax_extensions([("SCHILY.xattr.security.capability", *raw)])
                .unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(*mode);
        match *kind {
            tar::EntryType::Regular => {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, name, *data).unwrap();
            }
            tar::EntryType::Link | tar::EntryType::Symlink => {
                h.set_size(0);
                b.append_link(&mut h, name, std::str::from_utf8(data).unwrap())
                    .unwrap();
            }
            _ => {
                h.set_size(0);
                b.append_data(&mut h, name, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Every path below `root` with its kind, permission bits and contents (or
/// link target), as read from the host after a real unpacker applied the
/// layers.
fn tree_of(root: &Path) -> Vec<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let what = if m.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                todo.push(p.clone());
                format!("dir {:o}", m.permissions().mode() & 0o7777)
            } else {
                format!(
                    "file {:o} {}",
                    m.permissions().mode() & 0o7777,
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap())
                )
            };
            out.push((rel, what));
        }
    }
    out.sort();
    out
}

#[test]
fn a_delta_keeps_the_source_layers_and_merges_to_the_squashed_result() {
    use tar::EntryType::{Block, Directory as D, Link, Regular as F, Symlink};
    let d = LowerDir::new("harden-delta");
    let status = b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n";
    // cap_net_raw=ep (v2 vfs_cap_data), as Debian's ping carries it.
    let net_raw: &[u8] = &[
        1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let lower = tar_with_caps(
        &[
            ("app/", D, 0o777, b""),
            ("app/run", F, 0o755, b"#!/app/run\n"),
            ("app/run2", Link, 0o755, b"app/run"),
            ("app/ping", F, 0o755, b"ping"),
            ("app/tool", F, 0o4755, b"tool"),
            ("app/old", F, 0o644, b"old"),
            ("dev/", D, 0o755, b""),
            ("dev/sda", Block, 0o660, b""),
            ("usr/bin/bash", F, 0o755, b"\x7fELF"),
            ("usr/bin/sh", Symlink, 0o777, b"bash"),
            ("var/cache/apt/pkgcache.bin", F, 0o644, b"cache"),
            ("var/lib/dpkg/status", F, 0o644, status),
            ("var/lib/dpkg/info/bash.list", F, 0o644, b"/usr/bin/bash\n"),
        ],
        // The link entry's attribute is its target's too: one inode.
        &[("app/ping", net_raw), ("app/run2", net_raw)],
    );
    let upper = tar_of(&[
        ("app/.wh.old", F, 0o644, b""),
        ("etc/motd", F, 0o644, b"hello\n"),
    ]);
    let id = |t: &[u8]| {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(t)))
    };
    let (gl, gu) = (
        crate::regression::gzip(&lower),
        crate::regression::gzip(&upper),
    );
    let (il, iu) = (id(&lower), id(&upper));
    crate::regression::layers_layout(
        &d.0.join("src"),
        &[(&gl, &il), (&gu, &iu)],
        serde_json::json!({"Entrypoint": ["/app/run"]}),
    );
    let args = ["--keep", "/app", "--source-date-epoch", "1700000000"];
    let sq = harden(&d.0, &[&["oci:src:t", "oci:sq:1"], &args[..]].concat());
    let dl = harden(
        &d.0,
        &[&["oci:src:t", "oci:dl:1", "--delta"], &args[..]].concat(),
    );
    assert_eq!(removed(&dl), ["bash"]);
    // The file capabilities: found before, gone after, in both forms, and
    // the delta's lower layer still has them, so its top layer must hide
    // them (what an engine merges is read back by eval).
    for r in [&sq, &dl] {
        let p = &r["platforms"][0];
        assert_eq!(
            p["capabilities_removed"],
            serde_json::json!([
                "/app/ping: cap_net_raw=ep",
                "/app/run: cap_net_raw=ep",
                "/app/run2: cap_net_raw=ep"
            ])
        );
        assert!(p["grade_before"]["findings"].get("ID-012").is_some(), "{p}");
        assert!(p["grade_after"]["findings"].get("ID-012").is_none(), "{p}");
    }
    let src = findings(&d.0, "oci:src:t", "ID-012");
    let src_paths: Vec<&str> = src.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(src_paths, ["app/ping", "app/run", "app/run2"], "{src:?}");
    assert!(src[0].1.ends_with("cap_net_raw=ep"), "{src:?}");
    // diff names what gained them.
    let diff = report_json(&ok(bulwark(&d.0)
        .args(["diff", "oci:sq:1", "oci:src:t", "--format", "json"])
        .output()
        .unwrap()));
    let notable = diff["files"]["notable"].to_string();
    assert!(
        notable.contains("/app/ping")
            && notable.contains("gained file capabilities (cap_net_raw=ep)"),
        "{notable}"
    );
    for out in ["oci:sq:1", "oci:dl:1"] {
        let after = findings(&d.0, out, "ID-012");
        assert!(after.is_empty(), "{out}: {after:?}");
    }
    // The source's two layers, byte for byte, and one more.
    let manifest = |name: &str| -> serde_json::Value {
        let idx: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.0.join(name).join("index.json")).unwrap())
                .unwrap();
        let digest = idx["manifests"][0]["digest"].as_str().unwrap();
        let blob = d.0.join(name).join("blobs/sha256").join(&digest[7..]);
        serde_json::from_slice(&std::fs::read(blob).unwrap()).unwrap()
    };
    let src_layers = manifest("src")["layers"].clone();
    let layers = manifest("dl")["layers"].as_array().unwrap().clone();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[..2], src_layers.as_array().unwrap()[..]);
    // Unpacked by umoci, the delta's three layers give what the squashed
    // image's one layer gives.
    if tool("umoci") {
        let a = tree_of(&crate::examples::umoci_unpack(
            &format!("{}:1", d.0.join("sq").display()),
            &d.0.join("sq-bundle"),
        ));
        let b = tree_of(&crate::examples::umoci_unpack(
            &format!("{}:1", d.0.join("dl").display()),
            &d.0.join("dl-bundle"),
        ));
        assert_eq!(a, b);
        let paths: Vec<&str> = b.iter().map(|(p, _)| p.as_str()).collect();
        for gone in [
            "usr/bin/bash",
            "usr/bin/sh",
            "dev/sda",
            "app/old",
            "var/cache/apt",
        ] {
            assert!(!paths.contains(&gone), "{gone} still there: {paths:?}");
        }
        assert!(!paths.iter().any(|p| p.contains(".wh.")), "{paths:?}");
        assert!(
            b.contains(&("app/tool".into(), "file 755 tool".into())),
            "{b:?}"
        );
        assert!(b.contains(&("app".into(), "dir 775".into())), "{b:?}");
        assert!(paths.contains(&"etc/motd"));
    }
    assert_eq!(
        bulwark_packages(&d.0, "oci:dl:1"),
        bulwark_packages(&d.0, "oci:sq:1")
    );
    assert_eq!(
        dl["platforms"][0]["grade_after"]["grade"],
        sq["platforms"][0]["grade_after"]["grade"]
    );
    // Reproducible.
    let again = harden(
        &d.0,
        &[&["oci:src:t", "oci:dl2:1", "--delta"], &args[..]].concat(),
    );
    assert_eq!(again["digest"], dl["digest"]);

    // A config whose diff_ids do not name the layers' tars: the layers
    // cannot be carried over as they are.
    crate::regression::layers_layout(
        &d.0.join("lying"),
        &[(&gl, &iu)],
        serde_json::json!({"Entrypoint": ["/app/run"]}),
    );
    let err = fails(
        bulwark(&d.0)
            .args([
                "harden",
                "oci:lying:t",
                "oci:out:1",
                "--delta",
                "--keep",
                "/app",
            ])
            .output()
            .unwrap(),
    );
    assert!(err.contains("diff_id") && err.contains(&iu), "{err}");
    assert!(!d.0.join("out").exists());
}
