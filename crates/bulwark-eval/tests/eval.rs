//! Every defect is reported with the right id and path, and nothing that is not there.
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

use std::collections::{BTreeMap, BTreeSet};

use bulwark_eval::{Options, Pillar, Policy, Severity, evaluate, wanted};
use bulwark_layer::{LayerCompression, Node, NodeKind, Tree, encode_layer};
use bulwark_oci::{Destination, Image, ImageSpec, Platform, RuntimeConfig, write_images};

fn write(dir: &std::path::Path, tree: &Tree, config: RuntimeConfig, history: &str) -> String {
    write_created(dir, tree, config, history, "2000-01-01T00:00:00Z")
}

fn write_created(
    dir: &std::path::Path,
    tree: &Tree,
    config: RuntimeConfig,
    history: &str,
    created: &str,
) -> String {
    let layer = encode_layer(tree, 0, LayerCompression::Gzip).unwrap();
    let img = Image::build(ImageSpec {
        platform: Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
        },
        created: created.into(),
        config,
        layers: vec![(layer, history.into())],
        annotations: BTreeMap::new(),
    });
    write_images(
        &Destination::Oci {
            dir: dir.to_owned(),
            tag: Some("latest".into()),
        },
        &[img],
        BTreeMap::new(),
    )
    .unwrap();
    format!("oci:{}:latest", dir.display())
}

/// Evaluates `r` as if it were `age_days` after the images' creation (2000-01-01).
fn run_at(r: &str, age_days: i64) -> bulwark_eval::Report {
    let img = bulwark_image::open(&r.parse().unwrap(), None).unwrap();
    let fs = img.walk(&wanted).unwrap();
    evaluate(
        &img,
        &fs,
        &Options {
            reference: r.to_owned(),
            now: Some(946_684_800 + age_days * 86400),
            trust: None,
            vulnerabilities: None,
            cadence: None,
        },
    )
}

fn run(r: &str) -> bulwark_eval::Report {
    run_at(r, 100)
}

#[test]
fn every_defect_is_found_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tree::default();
    t.insert("bin/sh", Node::file(b"sh".to_vec(), 0o755));
    t.insert("usr/bin/curl", Node::file(b"curl".to_vec(), 0o755));
    t.insert("usr/bin/apt", Node::file(b"apt".to_vec(), 0o755));
    t.insert("usr/bin/gcc", Node::file(b"gcc".to_vec(), 0o755));
    t.insert("usr/bin/busybox", Node::file(b"bb".to_vec(), 0o755));
    t.insert("usr/bin/vi", Node::symlink("busybox"));
    t.insert("usr/bin/passwd", Node::file(b"x".to_vec(), 0o4755));
    t.insert("etc/motd", Node::file(b"x".to_vec(), 0o666));
    t.insert("srv/drop", Node::dir(0o777));
    t.insert("tmp", Node::dir(0o1777));
    t.insert("etc/passwd", Node::file(b"root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n".to_vec(), 0o644));
    t.insert(
        "etc/shadow",
        Node::file(
            b"root:*:19000::::::\ntoor::19000::::::\napp:!:19000::::::\n".to_vec(),
            0o640,
        ),
    );
    t.insert(
        "etc/group",
        Node::file(b"root:x:0:\napp:x:1000:\n".to_vec(), 0o644),
    );
    t.insert(
        "root/.ssh/id_rsa",
        Node::file(
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n".to_vec(),
            0o600,
        ),
    );
    t.insert(
        "root/.aws/credentials",
        Node::file(b"[default]\n".to_vec(), 0o600),
    );
    t.insert("app/.env", Node::file(b"DB_PASSWORD=x\n".to_vec(), 0o644));
    t.insert("app/.git", Node::dir(0o755));
    t.insert("app/Dockerfile", Node::file(b"FROM x\n".to_vec(), 0o644));
    t.insert(
        "usr/share/doc/ok.key",
        Node::file(b"not a key".to_vec(), 0o644),
    );
    t.insert("usr/bin/sudo", Node::file(b"sudo".to_vec(), 0o755));
    t.insert(
        "var/lib/apt/lists/deb_dists_bookworm_InRelease",
        Node::file(b"index".to_vec(), 0o644),
    );
    t.insert("var/lib/apt/lists/lock", Node::file(b"l".to_vec(), 0o640));
    let mut cfg = RuntimeConfig::default();
    cfg.env = vec!["PATH=/usr/bin".into(), "API_TOKEN=abc123".into()];
    cfg.exposed_ports
        .insert("80/tcp".into(), serde_json::json!({}));
    cfg.exposed_ports
        .insert("8080/tcp".into(), serde_json::json!({}));
    cfg.volumes.insert("/proc".into(), serde_json::json!({}));
    let r = write(dir.path(), &t, cfg, "/bin/sh -c #(nop) ADD file:abc in / ");
    let report = run(&r);
    let got: BTreeSet<(String, Option<String>)> = report
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .map(|f| (f.id.to_owned(), f.path.clone()))
        .collect();
    let want: BTreeSet<(String, Option<String>)> = [
        ("ST-001", Some("bin/sh")),
        ("ST-001", Some("usr/bin/busybox")),
        ("ST-001", Some("usr/bin/vi")),
        ("ST-002", Some("usr/bin/curl")),
        ("ST-003", Some("usr/bin/apt")),
        ("ST-004", Some("usr/bin/gcc")),
        ("ID-001", Some("config.User")),
        ("ID-003", Some("etc/shadow")),
        ("ID-004", Some("etc/passwd")),
        ("ID-010", Some("etc/passwd")),
        ("ID-011", Some("etc/passwd")),
        ("ID-005", Some("usr/bin/passwd")),
        ("ID-006", Some("etc/motd")),
        ("ID-006", Some("srv/drop")),
        ("ID-009", Some("usr/bin/sudo")),
        (
            "AS-006",
            Some("var/lib/apt/lists/deb_dists_bookworm_InRelease"),
        ),
        ("SE-001", Some("root/.ssh/id_rsa")),
        ("SE-002", Some("root/.aws/credentials")),
        ("SE-003", Some("app/.env")),
        ("SE-004", Some("config.Env.API_TOKEN")),
        ("SE-005", Some("app/.git")),
        ("SE-005", Some("app/Dockerfile")),
        ("EX-002", Some("config.ExposedPorts")),
        ("EX-003", Some("config.Volumes")),
        ("EX-004", None),
        ("AS-004", Some("created")),
        ("PR-001", Some("config.Healthcheck")),
        ("PR-002", Some("history")),
        ("PR-003", None),
        ("PR-010", Some("config.Labels")),
    ]
    .into_iter()
    .map(|(i, p)| (i.to_owned(), p.map(str::to_owned)))
    .collect();
    assert_eq!(
        got,
        want,
        "\nmissing: {:?}\nunexpected: {:?}",
        want.difference(&got).collect::<Vec<_>>(),
        got.difference(&want).collect::<Vec<_>>()
    );
    assert_eq!(report.grade, "F");
    assert!(
        report
            .findings
            .iter()
            .all(|f| !f.remediation.is_empty() && !f.message.is_empty())
    );
    assert!(
        report
            .findings
            .iter()
            .filter(|f| f.id == "ID-001")
            .all(|f| f.controls.contains(&"CIS-4.1"))
    );
}

fn hardened_tree(passwd: &str) -> Tree {
    let mut t = Tree::default();
    t.insert("app/server", Node::file(b"\x7fELF".to_vec(), 0o755));
    t.insert("etc/passwd", Node::file(passwd.as_bytes().to_vec(), 0o644));
    t.insert("tmp", Node::dir(0o1777));
    t.insert(
        "var/lib/dpkg/status.d/app",
        Node::file(
            b"Package: app\nVersion: 1\nArchitecture: amd64\n".to_vec(),
            0o644,
        ),
    );
    t
}

fn hardened_config() -> RuntimeConfig {
    let mut cfg = RuntimeConfig::default();
    cfg.user = Some("65532:65532".into());
    cfg.healthcheck = Some(serde_json::json!({"Test": ["CMD", "/app/server", "--health"]}));
    cfg
}

const GOOD_PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";

#[test]
fn regression_injected_superuser_with_a_shell_caps_the_grade() {
    // What `name: "ok\nroot2:x:0:0::/:/bin/sh"` once added to a built image.
    let dir = tempfile::tempdir().unwrap();
    let passwd =
        format!("{GOOD_PASSWD}ok:x:1000:1000::/home/ok:/sbin/nologin\nroot2:x:0:0::/:/bin/sh\n");
    let r = write(
        dir.path(),
        &hardened_tree(&passwd),
        hardened_config(),
        "bulwark",
    );
    let report = run_at(&r.replace(":latest", ""), 1);
    let high: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::High)
        .map(|f| (f.id, f.message.as_str()))
        .collect();
    assert!(
        high.contains(&(
            "ID-010",
            "account \"root2\" has uid 0: a second superuser besides root"
        )),
        "{high:?}"
    );
    assert!(
        high.contains(&("ID-011", "account \"root2\" has the login shell /bin/sh")),
        "{high:?}"
    );
    assert_eq!(report.grade, "C", "{:#?}", report.findings);
}

#[test]
fn regression_a_forged_creation_date_does_not_raise_the_score() {
    let old = {
        let dir = tempfile::tempdir().unwrap();
        let r = write(
            dir.path(),
            &hardened_tree(GOOD_PASSWD),
            hardened_config(),
            "x",
        );
        run_at(&r.replace(":latest", ""), 100)
    };
    assert!(old.findings.iter().any(|f| f.id == "AS-004"));
    for (created, why) in [
        ("2999-01-01T00:00:00Z", "is in the future"),
        ("yesterday", "is not an RFC 3339 time"),
        ("", "is not an RFC 3339 time"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let r = write_created(
            dir.path(),
            &hardened_tree(GOOD_PASSWD),
            hardened_config(),
            "x",
            created,
        );
        let report = run_at(&r.replace(":latest", ""), 100);
        let f = report
            .findings
            .iter()
            .find(|f| f.id == "AS-007")
            .unwrap_or_else(|| panic!("{created:?}: no AS-007 in {:#?}", report.findings));
        assert!(f.message.contains(why), "{}", f.message);
        assert!(
            report.score <= old.score,
            "{created:?} scores {} against {} for an old image",
            report.score,
            old.score
        );
    }
}

#[test]
fn a_hardened_image_grades_a() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = hardened_tree(GOOD_PASSWD);
    t.insert(
        "home/nonroot",
        Node {
            kind: NodeKind::Dir,
            mode: 0o700,
            uid: 65532,
            gid: 65532,
        },
    );
    let mut cfg = hardened_config();
    cfg.exposed_ports
        .insert("8443/tcp".into(), serde_json::json!({}));
    let r = write(dir.path(), &t, cfg, "bulwark");
    let report = run_at(&r.replace(":latest", ""), 1);
    let bad: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Low)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(report.grade, "A", "{:#?}", report.findings);
}

#[test]
fn healthcheck_none_is_no_healthcheck() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = hardened_config();
    cfg.healthcheck = Some(serde_json::json!({"Test": ["NONE"]}));
    let r = write(dir.path(), &hardened_tree(GOOD_PASSWD), cfg, "bulwark");
    let report = run_at(&r.replace(":latest", ""), 1);
    let pr: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.id == "PR-001")
        .collect();
    assert_eq!(pr.len(), 1, "{:#?}", report.findings);
    assert!(pr[0].message.contains("HEALTHCHECK NONE"));
}

#[test]
fn user_spellings_of_root_are_all_root() {
    for user in ["", "0", "0:0", "root", "root:root"] {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tree::default();
        t.insert(
            "etc/passwd",
            Node::file(b"root:x:0:0:root:/root:/sbin/nologin\n".to_vec(), 0o644),
        );
        let mut cfg = RuntimeConfig::default();
        if !user.is_empty() {
            cfg.user = Some(user.into());
        }
        let report = run(&write(dir.path(), &t, cfg, "x"));
        assert!(
            report.findings.iter().any(|f| f.id == "ID-001"),
            "USER {user:?} not flagged"
        );
    }
}

#[test]
fn policies_gate_and_accept_exceptions_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tree::default();
    t.insert("etc/passwd", Node::file(b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n".to_vec(), 0o644));
    t.insert("usr/bin/curl", Node::file(b"curl".to_vec(), 0o755));
    t.insert(
        "var/lib/dpkg/status.d/curl",
        Node::file(
            b"Package: curl\nVersion: 7.88\nArchitecture: amd64\n".to_vec(),
            0o644,
        ),
    );
    let mut cfg = RuntimeConfig::default();
    cfg.user = Some("65532".into());
    let r = write(dir.path(), &t, cfg, "x");
    let base = run_at(&r.replace(":latest", ""), 1);

    let mut report = base.clone();
    let p = Policy::from_yaml("minimum-grade: A\nforbid: [ST-002]\n", "p.yaml").unwrap();
    let v = p.apply(&mut report);
    assert!(!v.passed);
    assert!(
        v.violations
            .iter()
            .any(|x| x.starts_with("forbidden ST-002")),
        "{v:?}"
    );

    let mut report = base.clone();
    let p = Policy::from_yaml(
        "minimum-grade: B\nfail-on-severity: medium\nexceptions:\n  - {id: ST-002, path: usr/bin/curl, reason: health probe needs it}\n  - {id: PR-001, reason: probes live in Kubernetes}\n",
        "p.yaml",
    )
    .unwrap();
    let v = p.apply(&mut report);
    assert!(v.passed, "{v:?}");
    assert_eq!(v.excepted, 2);
    assert_eq!(report.grade, "A");
    assert_eq!(
        report
            .findings
            .iter()
            .find(|f| f.id == "ST-002")
            .unwrap()
            .excepted
            .as_deref(),
        Some("health probe needs it")
    );

    let e = Policy::from_yaml("minimum-grade: Z\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("minimum-grade"), "{e}");
    let e = Policy::from_yaml("exceptions: [{id: X, reason: \"\"}]\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs a reason"), "{e}");
    let e = Policy::from_yaml("minimum-grade: A\nforbidd: []\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2"), "{e}");
    let e = Policy::from_yaml("require-attestations: [spdx, sbom-please]\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("p.yaml: require-attestations: unknown type \"sbom-please\"")
            && e.contains("slsa-provenance"),
        "{e}"
    );
}

/// Evaluates with the capture `bulwark eval` uses (entrypoint and file lists).
fn run_captured(r: &str) -> bulwark_eval::Report {
    let img = bulwark_image::open(&r.parse().unwrap(), None).unwrap();
    let fs = img.walk(&bulwark_eval::capture(&img)).unwrap();
    evaluate(
        &img,
        &fs,
        &Options {
            reference: r.to_owned(),
            now: Some(946_684_800 + 86400),
            trust: None,
            vulnerabilities: None,
            cadence: None,
        },
    )
}

fn package(t: &mut Tree, name: &str, depends: &str, files: &[&str]) {
    t.insert(
        &format!("var/lib/dpkg/status.d/{name}"),
        Node::file(
            format!("Package: {name}\nVersion: 1\nArchitecture: amd64\nDepends: {depends}\n")
                .into_bytes(),
            0o644,
        ),
    );
    let sums: String = files
        .iter()
        .map(|f| format!("00000000000000000000000000000000  {f}\n"))
        .collect();
    t.insert(
        &format!("var/lib/dpkg/status.d/{name}.md5sums"),
        Node::file(sums.into_bytes(), 0o644),
    );
    for f in files {
        t.insert(f, Node::file(b"code".to_vec(), 0o755));
    }
}

#[test]
fn packages_the_entrypoint_does_not_need_are_named() {
    // The host's /bin/ls: a real dynamically linked ELF program.
    let ls = std::fs::read("/bin/ls").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tree::default();
    t.insert("app/server", Node::file(ls.clone(), 0o755));
    t.insert(
        "usr/bin/run",
        Node::file(b"#!/usr/bin/env python3\nprint(1)\n".to_vec(), 0o755),
    );
    t.insert("lib", Node::symlink("usr/lib"));
    package(
        &mut t,
        "libc6",
        "",
        &[
            "usr/lib/x86_64-linux-gnu/libc.so.6",
            "usr/lib64/ld-linux-x86-64.so.2",
        ],
    );
    package(
        &mut t,
        "libselinux1",
        "libc6",
        &["usr/lib/x86_64-linux-gnu/libselinux.so.1"],
    );
    package(&mut t, "python3", "libc6", &["usr/bin/python3"]);
    package(&mut t, "curl", "libc6", &["usr/bin/curl"]);
    t.insert("lib64", Node::symlink("usr/lib64"));
    let mut cfg = RuntimeConfig::default();
    cfg.entrypoint = vec!["/app/server".into()];
    let report = run_captured(&write(dir.path(), &t, cfg, "x"));
    let f = report
        .findings
        .iter()
        .find(|f| f.id == "AS-005")
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!(f.path.as_deref(), Some("app/server"));
    // ls needs libc (and libselinux on Debian); curl and python3 are not needed.
    assert!(f.message.contains(": curl, python3"), "{}", f.message);
    assert!(!f.message.contains("libc6"), "{}", f.message);

    // A script found on PATH: its interpreter's package (through env) is needed.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RuntimeConfig::default();
    cfg.cmd = vec!["run".into()];
    let report = run_captured(&write(dir.path(), &t, cfg, "x"));
    let f = report.findings.iter().find(|f| f.id == "AS-005").unwrap();
    assert_eq!(f.path.as_deref(), Some("usr/bin/run"));
    assert!(f.message.ends_with(": curl, libselinux1"), "{}", f.message);

    // dpkg's own database (`status` and `info/*.list`, as Debian images have).
    let dir = tempfile::tempdir().unwrap();
    let mut d = Tree::default();
    d.insert("app/server", Node::file(ls.clone(), 0o755));
    d.insert(
        "var/lib/dpkg/status",
        Node::file(
            b"Package: libc6\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n\
              Package: curl\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\nDepends: libc6\n"
                .to_vec(),
            0o644,
        ),
    );
    d.insert(
        "var/lib/dpkg/info/libc6:amd64.list",
        Node::file(
            b"/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu/libc.so.6\n".to_vec(),
            0o644,
        ),
    );
    d.insert(
        "var/lib/dpkg/info/curl.list",
        Node::file(b"/usr/bin/curl\n".to_vec(), 0o644),
    );
    d.insert(
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        Node::file(b"c".to_vec(), 0o755),
    );
    d.insert("usr/bin/curl", Node::file(b"c".to_vec(), 0o755));
    let mut cfg = RuntimeConfig::default();
    cfg.entrypoint = vec!["/app/server".into()];
    let report = run_captured(&write(dir.path(), &d, cfg, "x"));
    let f = report.findings.iter().find(|f| f.id == "AS-005").unwrap();
    assert!(f.message.ends_with(": curl"), "{}", f.message);

    // No entrypoint, or one that is not there: nothing is claimed.
    for ep in [vec![], vec!["/nope".to_owned()]] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = RuntimeConfig::default();
        cfg.entrypoint = ep;
        let report = run_captured(&write(dir.path(), &t, cfg, "x"));
        assert!(!report.findings.iter().any(|f| f.id == "AS-005"));
    }
}

#[test]
fn dockle_build_step_checks_read_the_history() {
    let ids = |history: &str| -> BTreeSet<(String, Option<String>)> {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tree::default();
        t.insert("etc/hostname", Node::file(b"x".to_vec(), 0o644));
        let r = write(dir.path(), &t, RuntimeConfig::default(), history);
        run(&r)
            .findings
            .iter()
            .filter(|f| matches!(f.id, "PR-008" | "PR-009" | "PR-011" | "ID-009"))
            .map(|f| (f.id.to_owned(), f.path.clone()))
            .collect()
    };
    let step = Some("history.0".to_owned());
    assert_eq!(
        ids("RUN /bin/sh -c apt-get update; apt-get -y dist-upgrade && sudo make install"),
        [
            ("ID-009".to_owned(), step.clone()),
            ("PR-008".to_owned(), step.clone()),
            ("PR-009".to_owned(), step.clone()),
        ]
        .into_iter()
        .collect()
    );
    assert!(
        ids("RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*")
            .is_empty()
    );
    assert!(ids("RUN /bin/sh -c echo sudoers update").is_empty());
    assert_eq!(
        ids("RUN /bin/sh -c curl -fsSLo x.tgz https://example.org/x.tgz && tar xf x.tgz"),
        [("PR-011".to_owned(), step.clone())].into_iter().collect()
    );
    assert!(
        ids("RUN /bin/sh -c /usr/bin/wget -q https://example.org/x.tgz && echo 'abc  x.tgz' | sha256sum -c")
            .is_empty()
    );
}

#[test]
fn system_paths_the_run_as_user_or_group_can_write_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tree::default();
    t.insert(
        "etc/passwd",
        Node::file(
            b"root:x:0:0::/root:/sbin/nologin\napp:x:1000:2000::/home/app:/sbin/nologin\n".to_vec(),
            0o644,
        ),
    );
    t.insert(
        "etc/group",
        Node::file(b"root:x:0:\napp:x:2000:\n".to_vec(), 0o644),
    );
    let owned = |uid, gid, mode| Node {
        kind: NodeKind::File(std::sync::Arc::new(b"x".to_vec())),
        mode,
        uid,
        gid,
    };
    t.insert("usr/bin/tool", owned(1000, 0, 0o755));
    t.insert("usr/lib/libx.so", owned(0, 2000, 0o664));
    t.insert("usr/lib/liby.so", owned(0, 2000, 0o644));
    t.insert("etc/ok.conf", owned(0, 0, 0o644));
    t.insert("home/app/notes", owned(1000, 2000, 0o644));
    for user in ["app", "1000", "1000:2000", "app:app"] {
        let mut cfg = RuntimeConfig::default();
        cfg.user = Some(user.into());
        let report = run(&write(
            dir.path().join(user.replace(':', "-")).as_path(),
            &t,
            cfg,
            "x",
        ));
        let got: BTreeSet<String> = report
            .findings
            .iter()
            .filter(|f| f.id == "ID-007")
            .filter_map(|f| f.path.clone())
            .collect();
        let want: BTreeSet<String> = ["usr/bin/tool", "usr/lib/libx.so"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(got, want, "USER {user}");
    }
}

#[test]
fn patch_cadence_reports_days_behind_and_gates_max_fix_lag() {
    let dir = tempfile::tempdir().unwrap();
    let r = write(
        dir.path(),
        &hardened_tree(GOOD_PASSWD),
        hardened_config(),
        "bulwark",
    );
    let r = r.replace(":latest", "");
    let at = |cadence: Option<bulwark_eval::Cadence>| {
        let img = bulwark_image::open(&r.parse().unwrap(), None).unwrap();
        let fs = img.walk(&wanted).unwrap();
        evaluate(
            &img,
            &fs,
            &Options {
                reference: r.clone(),
                now: Some(946_684_800 + 86400),
                trust: None,
                vulnerabilities: None,
                cadence,
            },
        )
    };
    let behind = |days: i64| bulwark_eval::Cadence {
        days_behind: days,
        missing: vec![format!(
            "CVE-2099-0001 (libssl3 3.0.22-1~deb12u2 in bookworm-security, since 2026-09-23)"
        )],
        ages: vec![("CVE-2099-0001".into(), Some(days))],
        undated: 0,
        updates: 1,
        suites: vec!["bookworm".into(), "bookworm-security".into()],
    };
    let policy = Policy::from_yaml("max-fix-lag: 7d\n", "p.yaml").unwrap();
    for (days, id, sev, passes) in [
        (0, "PC-001", Severity::Info, true),
        (7, "PC-001", Severity::Info, true),
        (8, "PC-002", Severity::Medium, false),
        (70, "PC-003", Severity::High, false),
    ] {
        let mut rep = at(Some(behind(days)));
        let f = rep
            .findings
            .iter()
            .find(|f| f.id.starts_with("PC-"))
            .unwrap();
        assert_eq!((f.id, f.severity), (id, sev), "{days}");
        assert!(
            f.message
                .starts_with(&format!("{days} days behind the newest security fixes")),
            "{}",
            f.message
        );
        assert!(rep.pillars.iter().any(|p| p.pillar == Pillar::PatchCadence));
        let verdict = policy.apply(&mut rep);
        assert_eq!(verdict.passed, passes, "{days}: {:?}", verdict.violations);
    }
    // no-fixable-older-than names the CVEs past the limit.
    let older = Policy::from_yaml("no-fixable-older-than: 30d\n", "p.yaml").unwrap();
    let mut rep = at(Some(behind(31)));
    let v = older.apply(&mut rep);
    assert!(
        !v.passed && v.violations[0].contains("CVE-2099-0001 (31 days)"),
        "{:?}",
        v.violations
    );
    let mut rep = at(Some(behind(30)));
    assert!(older.apply(&mut rep).passed);
    // Without the archive there is no pillar, and the policy fails closed.
    let mut rep = at(None);
    assert!(!rep.pillars.iter().any(|p| p.pillar == Pillar::PatchCadence));
    let verdict = policy.apply(&mut rep);
    assert!(
        verdict.violations[0].contains("archive was not read"),
        "{:?}",
        verdict.violations
    );
    assert!(!older.apply(&mut rep).passed);
}
