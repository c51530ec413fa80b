//! `examples/*.yaml` built from the host's real Debian archive, relocked on
//! every run (the archive moves on), and checked with real tools: skopeo,
//! umoci, podman (runc, read-only root, no capabilities, no network) and
//! trivy. Needs the network to the host's Debian mirror (CI has it).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// podman with the settings these hosts need (vfs, cgroupfs, runc).
pub fn podman() -> Command {
    let mut c = Command::new("podman");
    c.args([
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--runtime",
        "runc",
    ]);
    c
}

/// `podman run` with the hardened flags the images must work under.
fn podman_run(image: &str, extra: &[&str]) -> std::process::Output {
    podman_run_args(image, extra, &[])
}

/// [`podman_run`] with arguments for the image's entrypoint.
pub(crate) fn podman_run_args(image: &str, extra: &[&str], args: &[&str]) -> std::process::Output {
    let mut c = podman();
    c.args([
        "run",
        "--rm",
        "--ulimit",
        "nofile=20000:20000",
        "--ulimit",
        "nproc=4096:4096",
        "--read-only",
        "--cap-drop=ALL",
        "--network",
        "none",
    ]);
    c.args(extra).arg(image).args(args);
    c.output().unwrap()
}

/// Starts `image` in the background with the hardened flags (read-only, no
/// capabilities, no network); returns the container id.
pub(crate) fn podman_start(image: &str) -> String {
    ok(podman()
        .args([
            "run",
            "-d",
            "--rm",
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=4096:4096",
            "--read-only",
            "--cap-drop=ALL",
            "--security-opt",
            "no-new-privileges",
            "--network",
            "none",
            image,
        ])
        .output()
        .unwrap())
    .trim()
    .to_owned()
}

/// The host's apt sources file, which mmdebstrap reads for its mirror.
pub(crate) fn host_sources() -> &'static str {
    [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ]
    .into_iter()
    .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
    .expect("host apt sources")
}

/// A lower-case temporary directory (podman rejects image paths with capitals).
pub(crate) struct LowerDir(pub(crate) PathBuf);
impl LowerDir {
    pub(crate) fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "bulwark-ex-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        LowerDir(p)
    }
}
impl Drop for LowerDir {
    fn drop(&mut self) {
        podman_forget(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the images podman pulled from OCI layouts under `dir` (it names
/// them `localhost/DIR/LAYOUT`). podman's vfs store keeps a whole copy of
/// each layer stack, so a test that runs several images would otherwise
/// leave gigabytes behind and can fill a CI machine's disk.
pub(crate) fn podman_forget(dir: &Path) {
    let Ok(out) = podman()
        .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
    else {
        return;
    };
    let prefix = format!("localhost{}/", dir.display());
    let mine: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    if !mine.is_empty() {
        let _ = podman().arg("rmi").arg("-f").args(&mine).output();
    }
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub(crate) fn bulwark(dir: &Path) -> Command {
    let mut c = Command::new(bulwark_bin());
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("SOURCE_DATE_EPOCH");
    if std::env::var_os("BULWARK_CACHE_DIR").is_none() {
        c.env(
            "BULWARK_CACHE_DIR",
            std::env::temp_dir().join("bulwark-test-cache"),
        );
    }
    c
}

/// Copies an example (and the python app folder) into `dir`, optionally
/// appending YAML, relocks it and builds it; returns the JSON report.
fn build_example(dir: &Path, name: &str, append: &str, output: &str) -> serde_json::Value {
    let src = repo_root().join("examples");
    let mut spec = std::fs::read_to_string(src.join(format!("{name}.yaml"))).unwrap();
    spec.push_str(append);
    std::fs::write(dir.join(format!("{name}.yaml")), spec).unwrap();
    if name == "python" {
        std::fs::create_dir_all(dir.join("python-app")).unwrap();
        std::fs::copy(
            src.join("python-app/main.py"),
            dir.join("python-app/main.py"),
        )
        .unwrap();
    }
    ok(bulwark(dir)
        .args(["lock", "--update", &format!("{name}.yaml")])
        .output()
        .unwrap());
    report(&ok(bulwark(dir)
        .args([
            "build",
            &format!("{name}.yaml"),
            "--frozen",
            "--output",
            output,
            "--format",
            "json",
        ])
        .output()
        .unwrap()))
}

fn mib(v: &serde_json::Value) -> f64 {
    v.as_u64().unwrap() as f64 / 1048576.0
}

/// trivy's CycloneDX SBOM of `input` (a layout dir or a docker-archive).
fn trivy_bom(input: &Path, platform: Option<&str>) -> serde_json::Value {
    let mut c = Command::new("trivy");
    c.args(["image", "--input"]).arg(input);
    if let Some(p) = platform {
        c.args(["--platform", p]);
    }
    c.args([
        "--format",
        "cyclonedx",
        "--skip-db-update",
        "--offline-scan",
        "--scanners",
        "license",
        // Debian packages only: a jar in /usr/share/java is not a dpkg
        // record (and would send trivy for its Java database).
        "--pkg-types",
        "os",
        "--quiet",
    ]);
    report_json(&ok(c.output().unwrap()))
}

/// name=version of every library trivy finds in `input`.
pub(crate) fn trivy_packages(input: &Path, platform: Option<&str>) -> Vec<String> {
    let bom = trivy_bom(input, platform);
    name_versions(
        bom["components"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|c| c["type"] == "library"),
    )
}

/// Every package of the lock, with its exact version, is what trivy finds.
fn assert_trivy_sees_the_lock(layout: &Path, report: &serde_json::Value, platform: usize) {
    if !tool("trivy") {
        return;
    }
    let arch = report["platforms"][platform]["arch"].as_str().unwrap();
    let plat = format!("linux/{arch}");
    let bom = trivy_bom(layout, Some(&plat));
    let seen = name_versions(
        bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["type"] == "library"),
    );
    let mut locked: Vec<String> = report["platforms"][platform]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    locked.sort();
    assert_eq!(seen, locked, "trivy's package list must equal the lock");
    let os = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "operating-system")
        .unwrap();
    assert_eq!(os["name"], "debian");
}

/// name=version of every package `bulwark sbom` finds.
pub(crate) fn bulwark_packages(dir: &Path, image: &str) -> Vec<String> {
    let inv = report_json(&ok(bulwark(dir)
        .args(["sbom", image, "--format", "json"])
        .output()
        .unwrap()));
    name_versions(inv["packages"].as_array().unwrap())
}

pub(crate) fn report_json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

pub(crate) fn assert_no_shell(image: &str) {
    let out = podman_run(image, &["--entrypoint", "/bin/sh"]);
    assert!(!out.status.success(), "a shell ran in {image}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/bin/sh") && (err.contains("no such file") || err.contains("not found")),
        "{err}"
    );
}

fn skopeo_arch(image: &str, arch: &str) {
    if !tool("skopeo") {
        return;
    }
    let v = report_json(&ok(Command::new("skopeo")
        .args(["inspect", "--override-arch", arch, image])
        .output()
        .unwrap()));
    assert_eq!(v["Architecture"], arch);
}

pub(crate) fn umoci_unpack(layout_tag: &str, bundle: &Path) -> PathBuf {
    assert!(tool("umoci") || std::env::var("CI").is_err());
    ok(Command::new("umoci")
        .args(["unpack", "--image", layout_tag])
        .arg(bundle)
        .output()
        .unwrap());
    bundle.join("rootfs")
}

/// Builds example `name` signed (SBOMs and provenance as signed attestations)
/// and evaluates it with its key: grade A, no high or critical finding, and
/// none of the signature checks fires.
fn assert_signed_example_grades_a(dir: &Path, name: &str) {
    let run = |args: &[&str]| {
        ok(bulwark(dir)
            .env("BULWARK_PASSWORD", "example")
            .args(args)
            .output()
            .unwrap())
    };
    if !dir.join("release.key").exists() {
        run(&["key", "generate", "release"]);
    }
    let out = format!("oci:{}/signed:{name}", dir.display());
    let spec = format!("{name}.yaml");
    run(&[
        "build",
        &spec,
        "--frozen",
        "--output",
        &out,
        "--sign-key",
        "release.key",
    ]);
    let ev = report_json(&run(&[
        "eval",
        &out,
        "--key",
        "release.pub",
        "--all-platforms",
        "--format",
        "json",
        "--fail-on",
        "high",
    ]));
    let reports = ev.as_array().cloned().unwrap_or_else(|| vec![ev.clone()]);
    for r in &reports {
        assert_eq!(r["grade"], "A", "{name}: {r:#}");
        assert_signed_and_attested(name, r);
    }
}

#[test]
fn example_static_is_multi_arch_small_and_scannable() {
    let d = LowerDir::new("static");
    let out = format!("oci:{}/layout:static", d.0.display());
    let r = build_example(&d.0, "static", "", &out);
    assert_eq!(r["media_type"], "application/vnd.oci.image.index.v1+json");
    assert_later_sbom_conformant(&d.0, &out);
    for (i, arch) in ["amd64", "arm64"].iter().enumerate() {
        let p = &r["platforms"][i];
        assert_eq!(p["arch"], *arch);
        assert!(
            mib(&p["compressed_size"]) <= 0.7,
            "static {arch}: {:.3} MiB > 0.7 MiB",
            mib(&p["compressed_size"])
        );
        skopeo_arch(&out, arch);
    }
    if tool("umoci") && tool("skopeo") {
        // umoci unpacks single-platform images: take amd64 out of the index with skopeo.
        ok(Command::new("skopeo")
            .args(["copy", "--override-arch", "amd64", &out])
            .arg(format!("oci:{}/single:static", d.0.display()))
            .output()
            .unwrap());
        let root = umoci_unpack(
            &format!("{}/single:static", d.0.display()),
            &d.0.join("bundle"),
        );
        assert!(
            root.join("etc/ssl/certs/ca-certificates.crt")
                .metadata()
                .unwrap()
                .len()
                > 100_000
        );
        assert!(root.join("usr/share/zoneinfo/UTC").exists());
        assert!(
            std::fs::read_to_string(root.join("etc/os-release"))
                .unwrap()
                .contains("VERSION_CODENAME=bookworm")
        );
        assert!(!root.join("usr/bin/sh").exists() && !root.join("bin/sh").exists());
    }
    assert_trivy_sees_the_lock(&d.0.join("layout"), &r, 0);
    assert_trivy_sees_the_lock(&d.0.join("layout"), &r, 1);
    if tool("podman") {
        assert_no_shell(&out);
    }
    // Both platforms, signed and evaluated with the key: grade A.
    assert_signed_example_grades_a(&d.0, "static");
}

/// Compiles a hello program, adds it to `example` as the entrypoint, builds
/// and runs it hardened; returns its output (None when the compiler is absent).
fn run_compiled_program(dir: &Path, example: &str, cxx: bool) -> Option<String> {
    let (compiler, src, code) = if cxx {
        (
            "g++",
            "hello.cc",
            "#include <iostream>\n#include <unistd.h>\nint main(){std::cout<<\"hello c++ uid=\"<<getuid()<<std::endl;return 0;}\n",
        )
    } else {
        (
            "gcc",
            "hello.c",
            "#include <stdio.h>\n#include <unistd.h>\nint main(){printf(\"hello c uid=%d\\n\",(int)getuid());return 0;}\n",
        )
    };
    if !tool(compiler) {
        return None;
    }
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join(src), code).unwrap();
    ok(Command::new(compiler)
        .arg("-O2")
        .arg("-o")
        .arg(dir.join("bin/hello"))
        .arg(dir.join(src))
        .output()
        .unwrap());
    let app = "files:\n  - {src: bin, dest: /app}\nconfig:\n  entrypoint: [/app/hello]\n";
    let out = format!("oci:{}/app:{example}-app", dir.display());
    build_example(dir, example, app, &out);
    Some(ok(podman_run(&out, &[])).trim().to_owned())
}

#[test]
fn example_base_runs_a_glibc_program_as_nonroot_read_only() {
    let d = LowerDir::new("base");
    let out = format!("oci:{}/layout:base", d.0.display());
    let r = build_example(&d.0, "base", "", &out);
    let size = mib(&r["platforms"][0]["compressed_size"]);
    assert!(size <= 7.8, "base: {size:.2} MiB > 7.8 MiB");
    assert_later_sbom_conformant(&d.0, &out);
    assert_signed_example_grades_a(&d.0, "base");
    assert_trivy_sees_the_lock(&d.0.join("layout"), &r, 0);
    if tool("trivy") {
        assert_eq!(
            bulwark_packages(&d.0, &out),
            trivy_packages(&d.0.join("layout"), None),
            "bulwark sbom vs trivy"
        );
    }
    if !tool("podman") {
        return;
    }
    assert_no_shell(&out);
    if let Some(output) = run_compiled_program(&d.0, "base", false) {
        assert_eq!(output, "hello c uid=65532");
    }
}

#[test]
fn example_cc_runs_a_cxx_program() {
    let d = LowerDir::new("cc");
    let out = format!("oci:{}/layout:cc", d.0.display());
    let r = build_example(&d.0, "cc", "", &out);
    assert_later_sbom_conformant(&d.0, &out);
    assert_trivy_sees_the_lock(&d.0.join("layout"), &r, 0);
    assert_signed_example_grades_a(&d.0, "cc");
    let names: Vec<&str> = r["platforms"][0]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for want in ["libstdc++6=", "libgomp1=", "libgcc-s1="] {
        assert!(
            names.iter().any(|n| n.starts_with(want)),
            "{want} missing: {names:?}"
        );
    }
    if !tool("podman") {
        return;
    }
    assert_no_shell(&out);
    if let Some(output) = run_compiled_program(&d.0, "cc", true) {
        assert_eq!(output, "hello c++ uid=65532");
    }
}

#[test]
fn example_python_application_runs_hardened() {
    let d = LowerDir::new("python");
    let out = format!("oci:{}/layout:python", d.0.display());
    let r = build_example(&d.0, "python", "", &out);
    assert_later_sbom_conformant(&d.0, &out);
    assert_eq!(
        r["platforms"][0]["layers"].as_array().unwrap().len(),
        2,
        "app layer above the packages"
    );
    assert_trivy_sees_the_lock(&d.0.join("layout"), &r, 0);
    // bulwark's own image grades A with no high or critical finding.
    let ev = report_json(&ok(bulwark(&d.0)
        .args(["eval", &out, "--format", "json", "--fail-on", "high"])
        .output()
        .unwrap()));
    assert_eq!(ev["grade"], "A", "{ev:#}");
    assert_signed_example_grades_a(&d.0, "python");
    if !tool("podman") {
        return;
    }
    let run = podman_run(&out, &[]);
    let stdout = ok(run);
    assert!(
        stdout.starts_with("hello from bulwark: python 3.11"),
        "{stdout}"
    );
    assert!(stdout.contains("uid=65532 gid=65532"), "{stdout}");
    assert_no_shell(&out);
    // Also loadable from a docker-archive.
    let tar = d.0.join("python.docker.tar");
    ok(bulwark(&d.0)
        .args(["build", "python.yaml", "--frozen", "--output"])
        .arg(format!(
            "docker-archive:{}:localhost/bulwark-python:ci",
            tar.display()
        ))
        .output()
        .unwrap());
    ok(podman().args(["load", "-i"]).arg(&tar).output().unwrap());
    let run = podman_run("localhost/bulwark-python:ci", &[]);
    assert!(ok(run).contains("uid=65532"));
    let _ = podman()
        .args(["rmi", "-f", "localhost/bulwark-python:ci"])
        .output();
}

#[test]
fn static_set_builds_for_trixie() {
    let d = LowerDir::new("trixie");
    let spec = std::fs::read_to_string(repo_root().join("examples/static.yaml"))
        .unwrap()
        .replace("suite: bookworm", "suite: trixie")
        .replace("archs: [amd64, arm64]", "archs: [amd64]");
    std::fs::write(d.0.join("static-trixie.yaml"), spec).unwrap();
    let out = format!("oci:{}/layout:trixie", d.0.display());
    let r = report(&ok(bulwark(&d.0)
        .args([
            "build",
            "static-trixie.yaml",
            "--output",
            &out,
            "--format",
            "json",
        ])
        .output()
        .unwrap()));
    let pkgs = r["platforms"][0]["packages"].as_array().unwrap();
    assert!(
        pkgs.iter()
            .any(|p| p.as_str().unwrap().starts_with("base-files=13")),
        "{pkgs:?}"
    );
    if tool("umoci") {
        let root = umoci_unpack(
            &format!("{}/layout:trixie", d.0.display()),
            &d.0.join("bundle"),
        );
        assert!(
            std::fs::read_to_string(root.join("etc/os-release"))
                .unwrap()
                .contains("VERSION_CODENAME=trixie")
        );
        assert_eq!(
            std::fs::read_link(root.join("bin"))
                .unwrap()
                .display()
                .to_string(),
            "usr/bin"
        );
    }
    assert_trivy_sees_the_lock(&d.0.join("layout"), &r, 0);
}

/// An ordinary Debian image (mmdebstrap rootfs imported by podman): `bulwark
/// sbom` finds exactly what trivy finds, from the dpkg `status` database.
#[test]
fn sbom_of_an_ordinary_debian_image_matches_trivy() {
    if !(tool("mmdebstrap") && tool("podman") && tool("trivy")) {
        return;
    }
    let d = LowerDir::new("mmdebstrap");
    let tar = d.0.join("rootfs.tar");
    let sources = host_sources();
    ok(Command::new("mmdebstrap")
        .args(["-q", "--variant=apt", "--format=tar", "bookworm"])
        .arg(&tar)
        .arg(sources)
        .output()
        .unwrap());
    let tag = format!("localhost/bulwark-mmdebstrap:{}", std::process::id());
    ok(podman()
        .args(["import"])
        .arg(&tar)
        .arg(&tag)
        .output()
        .unwrap());
    let saved = d.0.join("saved.tar");
    ok(podman()
        .args(["save", "--format", "docker-archive", "-o"])
        .arg(&saved)
        .arg(&tag)
        .output()
        .unwrap());
    let _ = podman().args(["rmi", "-f", &tag]).output();
    let ours = bulwark_packages(&d.0, &format!("docker-archive:{}", saved.display()));
    assert!(ours.len() > 50, "{ours:?}");
    assert!(
        ours.iter().any(|p| p.starts_with("apt=")) && ours.iter().any(|p| p.starts_with("bash="))
    );
    assert_eq!(ours, trivy_packages(&saved, None));

    // Its SBOM, with what the scanning team knows about the image: NTIA
    // (SPDX 2.3 and 3) and CISA FSCT 3 conformant, valid SPDX and CycloneDX.
    // (BSI TR-03183-2 wants each .deb's SHA-512: a foreign image has none.)
    if tool("ntia-checker") && tool("pyspdxtools") {
        let about = [
            "--supplier",
            "Example Platform Team",
            "--contact",
            "Platform <platform@example.org>",
            "--license",
            "Apache-2.0",
            "--copyright",
            "2026 Example Platform Team",
        ];
        let image = format!("docker-archive:{}", saved.display());
        for (format, file) in [
            ("spdx-json", "foreign.spdx.json"),
            ("spdx3-json", "foreign.spdx3.json"),
            ("cyclonedx-json", "foreign.cdx.json"),
        ] {
            let out = ok(bulwark(&d.0)
                .args(["sbom", &image, "--format", format])
                .args(about)
                .output()
                .unwrap());
            std::fs::write(d.0.join(file), out).unwrap();
        }
        assert_conformant(&d.0.join("foreign.spdx.json"), "ntia", false);
        assert_conformant(&d.0.join("foreign.spdx3.json"), "ntia", true);
        assert_conformant(&d.0.join("foreign.spdx3.json"), "fsct3-min", true);
        ok(Command::new("pyspdxtools")
            .arg("-i")
            .arg(d.0.join("foreign.spdx.json"))
            .output()
            .unwrap());
        assert_valid_cyclonedx(&d.0.join("foreign.cdx.json"), "1.7");
        assert_valid_spdx3(&d.0.join("foreign.spdx3.json"));
    }

    // The same ordinary image evaluated: shell, package manager and root are reported.
    let image = format!("docker-archive:{}", saved.display());
    let out = bulwark(&d.0)
        .args(["eval", &image, "--format", "json", "--fail-on", "high"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "--fail-on high must fail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report_json(&String::from_utf8(out.stdout).unwrap());
    let has = |id: &str, path: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == id && f["path"].as_str() == Some(path))
    };
    assert!(
        has("ST-001", "usr/bin/bash") && has("ST-001", "usr/bin/sh"),
        "{r:#}"
    );
    assert!(
        has("ST-003", "usr/bin/apt") && has("ST-003", "usr/bin/dpkg"),
        "{r:#}"
    );
    assert!(has("ID-001", "config.User"), "{r:#}");
    assert!(r["grade"].as_str().unwrap() >= "C", "{}", r["grade"]);
    // Nothing that is not there: no secrets, no device nodes outside /dev,
    // no package-manager build steps (`podman import` records one ADD, which
    // PR-002 rightly reports).
    for id in [
        "SE-001", "SE-002", "SE-003", "ID-003", "ID-008", "PR-008", "PR-009", "PR-011",
    ] {
        assert!(
            !r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == id),
            "{id}: {r:#}"
        );
    }

    // The same rootfs as an OCI layout made by umoci (init, new, unpack,
    // fill the bundle, repack): the same packages as trivy, the same findings.
    if !tool("umoci") {
        return;
    }
    let layout = d.0.join("umoci");
    let tagged = format!("{}:deb", layout.display());
    ok(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout)
        .output()
        .unwrap());
    ok(Command::new("umoci")
        .args(["new", "--image", &tagged])
        .output()
        .unwrap());
    let bundle = d.0.join("bundle");
    ok(Command::new("umoci")
        .args(["unpack", "--image", &tagged])
        .arg(&bundle)
        .output()
        .unwrap());
    ok(Command::new("tar")
        .args(["-xf"])
        .arg(&tar)
        .arg("-C")
        .arg(bundle.join("rootfs"))
        .output()
        .unwrap());
    ok(Command::new("umoci")
        .args(["repack", "--image", &tagged])
        .arg(&bundle)
        .output()
        .unwrap());
    let oci = format!("oci:{tagged}");
    assert_eq!(bulwark_packages(&d.0, &oci), trivy_packages(&layout, None));
    let out = bulwark(&d.0)
        .args(["eval", &oci, "--format", "json"])
        .output()
        .unwrap();
    let u = report_json(&ok(out));
    let ids = |r: &serde_json::Value| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                !matches!(
                    f["id"].as_str(),
                    Some("AS-001" | "AS-004" | "PR-002" | "PR-010")
                )
            })
            .map(|f| format!("{} {}", f["id"], f["path"]))
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(ids(&u), ids(&r), "umoci layout vs podman archive");
}

/// `bulwark sbom` of a built example, with no flags, meets NTIA and FSCT 3
/// like the build-time SBOM: the build wrote the spec's facts as labels.
fn assert_later_sbom_conformant(dir: &Path, image: &str) {
    let r: bulwark_image::ImageRef = image.parse().unwrap();
    let cfg = bulwark_image::open(&r, Some("linux/amd64")).unwrap().config;
    let labels = &cfg["config"]["Labels"];
    for k in ["vendor", "authors", "licenses", "created", "title"] {
        assert!(
            labels[format!("org.opencontainers.image.{k}")].is_string(),
            "{image}: no {k} label in {labels}"
        );
    }
    if !(tool("ntia-checker") && tool("pyspdxtools")) {
        return;
    }
    let out = ok(bulwark(dir)
        .args([
            "sbom",
            image,
            "--platform",
            "linux/amd64",
            "--format",
            "spdx3-json",
        ])
        .output()
        .unwrap());
    let f = dir.join("later.spdx3.json");
    std::fs::write(&f, out).unwrap();
    assert_conformant(&f, "ntia", true);
    assert_conformant(&f, "fsct3-min", true);
}

/// Runs `ntia-checker -c STANDARD` on `file` and asserts conformance.
pub(crate) fn assert_conformant(file: &Path, standard: &str, spdx3: bool) {
    let mut c = Command::new("ntia-checker");
    c.args(["-c", standard, "--file"]).arg(file);
    if spdx3 {
        c.args(["--sbom-spec", "spdx3"]);
    }
    let out = ok(c.arg("-v").output().unwrap());
    assert!(
        out.contains("Conformant: True"),
        "{standard} on {}:\n{out}",
        file.display()
    );
}

#[test]
fn example_python_sboms_meet_ntia_fsct_and_bsi_and_name_the_app_files() {
    if !(tool("ntia-checker") && tool("pyspdxtools") && tool("python3")) {
        return;
    }
    let d = LowerDir::new("pysbom");
    let out = format!("oci:{}/layout:python", d.0.display());
    build_example(&d.0, "python", "", &out);
    let sb = d.0.join("sb");
    ok(bulwark(&d.0)
        .args([
            "build",
            "python.yaml",
            "--frozen",
            "--output",
            &out,
            "--sbom-dir",
        ])
        .arg(&sb)
        .output()
        .unwrap());
    let spdx2 = sb.join("python-amd64.spdx.json");
    let spdx3 = sb.join("python-amd64.spdx3.json");
    let cdx = sb.join("python-amd64.cdx.json");
    ok(Command::new("pyspdxtools")
        .arg("-i")
        .arg(&spdx2)
        .output()
        .unwrap());
    assert_conformant(&spdx2, "ntia", false);
    assert_valid_spdx3(&spdx3);
    for standard in ["ntia", "fsct3-min", "bsi"] {
        assert_conformant(&spdx3, standard, true);
    }
    assert_valid_cyclonedx(&cdx, "1.7");

    // The user's own file, with the digest of what the spec pointed at.
    use sha2::Digest;
    let main = std::fs::read(repo_root().join("examples/python-app/main.py")).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&main));
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let doc = read(&spdx2);
    let f = &doc["files"].as_array().unwrap()[0];
    assert_eq!(f["fileName"], "./app/main.py");
    assert_eq!(f["checksums"][1]["checksumValue"], sha);
    let bom = read(&cdx);
    let c = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "file")
        .unwrap();
    assert_eq!(
        (c["name"].as_str(), c["hashes"][1]["content"].as_str()),
        (Some("/app/main.py"), Some(sha.as_str()))
    );
    let graph = read(&spdx3);
    assert!(
        graph["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "/app/main.py"
                && e["verifiedUsing"][1]["hashValue"] == sha.as_str()),
        "SPDX 3 names /app/main.py"
    );
    // python3-minimal depends on the interpreter package, in every format.
    let py = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["ref"]
                .as_str()
                .unwrap()
                .starts_with("pkg:deb/debian/python3-minimal@")
        })
        .unwrap();
    assert!(
        py["dependsOn"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with("pkg:deb/debian/python3.11-minimal@")),
        "{py}"
    );
}

/// `scan --archive --changelogs` against the host's real archive: an image
/// made from bookworm main alone, with the tracker's real records, sees what
/// bookworm-security carries now and what its changelogs name.
#[test]
fn scan_finds_the_fixes_in_the_real_security_archive() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.yaml"),
        "distribution: {suite: bookworm, updates: false, security: false}\npackages: [libssl3]\n",
    )
    .unwrap();
    let run = |args: &[&str]| ok(bulwark(dir.path()).args(args).output().unwrap());
    run(&["build", "main.yaml", "--output", "oci:main:1"]);
    let sample = repo_root().join("tests/data/vuln/debian-tracker-cve-list-sample.txt");
    run(&[
        "db",
        "update",
        "--db",
        "db",
        "--from",
        sample.to_str().unwrap(),
    ]);
    let scan = [
        "scan",
        "oci:main:1",
        "--db",
        "db",
        "--archive",
        "--changelogs",
    ];
    let r = report_json(&run(&[&scan[..], &["--format", "json"]].concat()));
    assert_eq!(r["release"], "bookworm");
    let suites = r["archive"]["suites"].to_string();
    assert!(
        suites.contains("bookworm-security") && suites.contains("bookworm-updates"),
        "{suites}"
    );
    let updates = r["archive"]["updates"].as_array().unwrap();
    let ssl = updates
        .iter()
        .find(|u| u["package"] == "libssl3")
        .unwrap_or_else(|| panic!("bookworm main's libssl3 has a security update: {updates:#?}"));
    assert_eq!(ssl["source"], "openssl");
    let cves = ssl["changelog_cves"].as_array().unwrap();
    assert!(
        !cves.is_empty(),
        "the candidate's changelog names CVEs: {ssl}"
    );
    let findings = r["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for f in findings {
        let reasons = f["reasons"].to_string();
        let witnessed = f["in_archive"].is_object();
        // A CVE the candidate's changelog names is witnessed by it.
        if cves.contains(&f["id"]) {
            assert!(witnessed, "{f}");
        }
        // A fix the tracker announces is either in the archive now or said
        // not to be, and then is never "act now".
        if f["status"] == "fixed" {
            assert!(witnessed != reasons.contains("carries it yet"), "{f}");
            if !witnessed {
                assert_ne!(f["priority"], "act-now", "{f}");
            }
        }
        // The tracker lags the archive (its bookworm line says no-dsa): the
        // changelog is the witness, and the finding is at least "plan".
        if witnessed && f["status"] != "fixed" {
            assert!(
                reasons.contains("the tracker does not list this fix yet"),
                "{f}"
            );
            assert_ne!(f["priority"], "monitor", "{f}");
        }
    }
    // The same reading, signed and attached, gives the evidence its
    // time-to-fix figures: each missing fix dated by the archive.
    let pw = |args: &[&str]| {
        ok(bulwark(dir.path())
            .env("BULWARK_PASSWORD", PW)
            .args(args)
            .output()
            .unwrap())
    };
    pw(&["key", "generate", "k"]);
    pw(&[&scan[..], &["--attest", "--key", "k.key"]].concat());
    let ev = report_json(&run(&[
        "evidence",
        "oci:main:1",
        "--key",
        "k.pub",
        "--format",
        "json",
    ]));
    let v = &ev["platforms"][0]["vulnerabilities"];
    let ttf = &v["time_to_fix"];
    let dated = ttf["dated"].as_array().unwrap();
    assert!(!dated.is_empty(), "the archive dates a missing fix: {v:#}");
    // Each date is the oldest any candidate's changelog gives.
    let mut compared = 0;
    for f in dated {
        let cve = f["cve"].as_str().unwrap();
        let oldest = updates
            .iter()
            .filter_map(|u| u["first_fixed"][cve].as_str())
            .min()
            .unwrap_or_else(|| panic!("{cve} is dated, but no candidate's changelog names it"));
        assert_eq!(f["since"], oldest, "{cve}");
        assert!(f["days"].as_i64().unwrap() >= 0);
        compared += 1;
    }
    assert!(compared > 0);
    let late = dated.iter().any(|f| f["days"].as_i64().unwrap() > 30);
    let patched = ev["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rule"] == "patched-within-30-days")
        .unwrap();
    if late {
        assert_eq!(patched["status"], "not-satisfied", "{patched:#}");
        assert!(
            patched["reason"].as_str().unwrap().contains("days ago"),
            "{patched:#}"
        );
    }
    assert_eq!(v["db_age_days"], 0, "{v:#}");
}

/// `scan --runtime-evidence` with the `/proc/PID/maps` of a real podman
/// container's process, read from the host.
#[test]
fn scan_reads_runtime_evidence_from_a_running_container() {
    if !tool("podman") {
        return;
    }
    let dir = LowerDir::new("runtime");
    std::fs::write(
        dir.0.join("s.yaml"),
        "distribution: {suite: bookworm}\npackages: [coreutils]\nconfig:\n  entrypoint: [/usr/bin/sleep, \"120\"]\n",
    )
    .unwrap();
    let image = format!("oci:{}/img:1", dir.0.display());
    ok(bulwark(&dir.0)
        .args(["build", "s.yaml", "--output", &image])
        .output()
        .unwrap());
    let cid = podman_start(&image);
    let pid = ok(podman()
        .args(["inspect", "-f", "{{.State.Pid}}", &cid])
        .output()
        .unwrap());
    let maps = std::fs::read(format!("/proc/{}/maps", pid.trim()));
    let _ = podman().args(["kill", &cid]).output();
    let maps = maps.unwrap();
    assert!(String::from_utf8_lossy(&maps).contains("libc.so.6"));
    std::fs::write(dir.0.join("maps"), maps).unwrap();
    let sample = repo_root().join("tests/data/vuln/debian-tracker-cve-list-sample.txt");
    let run = |args: &[&str]| ok(bulwark(&dir.0).args(args).output().unwrap());
    run(&[
        "db",
        "update",
        "--db",
        "db",
        "--from",
        sample.to_str().unwrap(),
    ]);
    let r = report_json(&run(&[
        "scan",
        &image,
        "--db",
        "db",
        "--runtime-evidence",
        "maps",
        "--format",
        "json",
    ]));
    let glibc: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["source"] == "glibc")
        .collect();
    assert!(!glibc.is_empty(), "{r}");
    for f in glibc {
        assert_eq!(f["reachability"]["state"], "mapped", "{f}");
        assert!(
            f["reasons"]
                .to_string()
                .contains("libc6 mapped by the running process")
        );
    }
}

/// The CVE ids `dpkg-parsechangelog` (the independent oracle) finds in the
/// changelog of `deb` after `since`.
fn oracle_changelog_cves(dir: &Path, deb: &Path, package: &str, since: &str) -> Vec<String> {
    let x = dir.join("x");
    let _ = std::fs::remove_dir_all(&x);
    ok(Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(&x)
        .output()
        .unwrap());
    let doc = x.join("usr/share/doc").join(package);
    let gz = ["changelog.Debian.gz", "changelog.gz"]
        .iter()
        .map(|n| doc.join(n))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no changelog in {}", deb.display()));
    let text = ok(Command::new("zcat").arg(&gz).output().unwrap());
    let plain = dir.join("changelog");
    std::fs::write(&plain, text).unwrap();
    let changes = ok(Command::new("dpkg-parsechangelog")
        .arg("-l")
        .arg(&plain)
        .args(["--since", since, "--show-field", "Changes"])
        .output()
        .unwrap());
    let mut ids: Vec<String> = changes
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| {
            let p: Vec<&str> = w.split('-').collect();
            p.len() == 3
                && p[0] == "CVE"
                && p[1].len() == 4
                && p[2].len() >= 4
                && p[1..].iter().all(|d| d.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Issue 14 against the real archive: the base example locked without
/// `-security` and `-updates`, built, signed and pushed; `update --check`
/// with them names the packages that differ and exactly the CVE ids their
/// real changelogs list (dpkg-parsechangelog is the oracle); `update`
/// rebuilds, signs and pushes; cosign and bulwark verify the new digest; a
/// second update is a no-op.
#[test]
fn update_picks_up_the_real_security_fixes_and_publishes_signed() {
    if ![
        "docker-registry",
        "cosign",
        "dpkg-parsechangelog",
        "dpkg-deb",
        "curl",
    ]
    .iter()
    .all(|t| tool(t))
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let original = std::fs::read_to_string(repo_root().join("examples/base.yaml")).unwrap();
    let frozen_in_time = original.replace(
        "  suite: bookworm\n",
        "  suite: bookworm\n  updates: false\n  security: false\n",
    );
    assert_ne!(frozen_in_time, original);
    std::fs::write(dir.join("base.yaml"), &frozen_in_time).unwrap();
    let reg = crate::trust::Registry::start();
    let image = format!("{}/real/base:latest", reg.host);
    let run = |args: &[&str]| {
        bulwark(dir)
            .env("BULWARK_PASSWORD", "example")
            .args(args)
            .output()
            .unwrap()
    };
    ok(run(&["key", "generate", "release"]));
    ok(run(&["lock", "--update", "base.yaml"]));
    ok(run(&[
        "build",
        "base.yaml",
        "--frozen",
        "--output",
        &image,
        "--insecure",
        "--sign-key",
        "release.key",
    ]));
    let old_lock: bulwark_spec::Lock =
        serde_json::from_str(&std::fs::read_to_string(dir.join("base.lock.json")).unwrap())
            .unwrap();
    // Now with the suites that carry the fixes.
    std::fs::write(dir.join("base.yaml"), &original).unwrap();
    let out = run(&[
        "update",
        "base.yaml",
        "--check",
        "--output",
        &image,
        "--insecure",
        "--format",
        "json",
    ]);
    let v = report_json(&String::from_utf8_lossy(&out.stdout));
    let s = &v["specs"][0];
    assert_eq!(out.status.code(), Some(4), "{v:#}");
    assert_eq!(s["status"], "updates-available");
    assert_eq!(v["suites_loaded"], 3);
    let changes = s["packages"].as_array().unwrap();
    assert!(
        !changes.is_empty(),
        "bookworm-security and -updates change nothing in base? {v:#}"
    );
    // Every change is a package whose locked version differs from what the
    // suites now carry, and comes from -security or -updates.
    for c in changes {
        let name = c["package"].as_str().unwrap();
        let old = old_lock.archs["amd64"]
            .packages
            .iter()
            .find(|p| p.name == name);
        assert_eq!(old.map(|p| p.version.as_str()), c["from"].as_str(), "{c}");
        let suite = c["to_suite"].as_str().unwrap();
        assert!(
            suite.ends_with("-security") || suite.ends_with("-updates"),
            "{c}"
        );
    }
    // The CVE ids of each changed source, as dpkg-parsechangelog reads the
    // new package's changelog after the locked version.
    let fixed = s["cves_fixed"].as_array().unwrap();
    let mut by_source: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for f in fixed {
        assert!(f["witness"].to_string().contains("changelog"), "{f}");
        by_source
            .entry(f["source"].as_str().unwrap().to_owned())
            .or_default()
            .push(f["id"].as_str().unwrap().to_owned());
    }
    // The packages `update` would lock, to fetch the oracle's .debs.
    ok(run(&["lock", "--update", "base.yaml", "--format", "json"]));
    let new_lock: bulwark_spec::Lock =
        serde_json::from_str(&std::fs::read_to_string(dir.join("base.lock.json")).unwrap())
            .unwrap();
    // Put the old lock back: `update` compares with the built image's lock.
    std::fs::write(dir.join("base.lock.json"), old_lock.to_json()).unwrap();
    let mut checked = 0;
    let mut seen_sources = std::collections::BTreeSet::new();
    for c in changes {
        let source = c["source"].as_str().unwrap();
        if !seen_sources.insert(source.to_owned()) {
            continue;
        }
        let name = c["package"].as_str().unwrap();
        let p = new_lock.archs["amd64"]
            .packages
            .iter()
            .find(|p| p.name == name)
            .unwrap();
        let since = c["from_source_version"].as_str().unwrap();
        let deb = dir.join(format!("{name}.deb"));
        ok(Command::new("curl")
            .args(["-fsSL", "-o"])
            .arg(&deb)
            .arg(format!("{}/{}", p.uri.trim_end_matches('/'), p.filename))
            .output()
            .unwrap());
        let mut want = oracle_changelog_cves(dir, &deb, name, since);
        want.sort();
        let mut got = by_source.get(source).cloned().unwrap_or_default();
        got.sort();
        assert_eq!(got, want, "{source} since {since}");
        checked += want.len();
    }
    eprintln!(
        "update --check: {} packages changed, {checked} CVE ids checked against dpkg-parsechangelog",
        changes.len()
    );

    // eval --archive on the published image agrees: as many days behind as
    // the oldest fix the update would bring.
    let max_lag = fixed.iter().filter_map(|f| f["lag_days"].as_i64()).max();
    let ev = report_json(&String::from_utf8_lossy(
        &run(&[
            "eval",
            &image,
            "--insecure",
            "--archive",
            "--format",
            "json",
        ])
        .stdout,
    ));
    assert_eq!(
        ev["cadence"]["days_behind"].as_i64(),
        Some(max_lag.unwrap_or(0)),
        "{:#}",
        ev["cadence"]
    );

    // The update itself: rebuilt, signed, pushed, then verified.
    let out = run(&[
        "update",
        "base.yaml",
        "--output",
        &image,
        "--insecure",
        "--sign-key",
        "release.key",
        "--format",
        "json",
    ]);
    let v = report_json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(5), "{v:#}");
    let new = v["specs"][0]["new_digest"].as_str().unwrap().to_owned();
    assert_ne!(
        Some(new.as_str()),
        v["specs"][0]["previous_digest"].as_str()
    );
    let verified = ok(run(&[
        "verify",
        &image,
        "--key",
        "release.pub",
        "--insecure",
    ]));
    assert!(verified.contains(&new), "{verified}");
    ok(Command::new("cosign")
        .current_dir(dir)
        .env("HOME", dir)
        .args([
            "verify",
            "--key",
            "release.pub",
            "--insecure-ignore-tlog=true",
            "--allow-insecure-registry",
            &format!("{image}@{new}"),
        ])
        .output()
        .unwrap());
    // Again: nothing to do, the same image.
    let out = run(&[
        "update",
        "base.yaml",
        "--output",
        &image,
        "--insecure",
        "--format",
        "json",
    ]);
    let v = report_json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(v["specs"][0]["status"], "up-to-date");
    assert_eq!(v["specs"][0]["previous_digest"], new.as_str());
}

/// Issue 14: bulwark's own image (deploy/image/bulwark.yaml), built by
/// bulwark with its SBOMs, provenance and signature, runs as non-root on a
/// read-only root without capabilities, has no shell, and grades A.
#[test]
fn bulwarks_own_image_is_built_by_bulwark_and_runs_hardened() {
    let d = LowerDir::new("self");
    let spec_dir = d.0.join("deploy/image");
    std::fs::create_dir_all(&spec_dir).unwrap();
    std::fs::copy(
        repo_root().join("deploy/image/bulwark.yaml"),
        spec_dir.join("bulwark.yaml"),
    )
    .unwrap();
    // The spec takes the release binary; the test's own binary stands in.
    std::fs::create_dir_all(d.0.join("target/release")).unwrap();
    std::fs::copy(bulwark_bin(), d.0.join("target/release/bulwark")).unwrap();
    let run = |args: &[&str]| {
        ok(bulwark(&d.0)
            .env("BULWARK_PASSWORD", "example")
            .args(args)
            .output()
            .unwrap())
    };
    run(&["key", "generate", "release"]);
    let out = format!("oci:{}/layout:bulwark", d.0.display());
    let r = report_json(&run(&[
        "build",
        "deploy/image/bulwark.yaml",
        "--output",
        &out,
        "--sign-key",
        "release.key",
        "--format",
        "json",
    ]));
    let packages = r["platforms"][0]["packages"].to_string();
    assert!(
        packages.contains("libc6=") && packages.contains("libgcc-s1="),
        "{packages}"
    );
    run(&[
        "verify",
        &out,
        "--key",
        "release.pub",
        "--attestation",
        "spdx",
        "--attestation",
        "slsa-provenance",
    ]);
    let ev = report_json(&run(&[
        "eval",
        &out,
        "--key",
        "release.pub",
        "--format",
        "json",
        "--fail-on",
        "high",
    ]));
    assert_eq!(ev["grade"], "A", "{ev:#}");
    assert_eq!(ev["summary"]["user"], "65532:65532", "{:#}", ev["summary"]);
    if !tool("podman") {
        return;
    }
    assert_no_shell(&out);
    let v = ok(podman_run_args(
        &out,
        &["--tmpfs", "/tmp", "--tmpfs", "/cache"],
        &["--version"],
    ));
    assert!(v.starts_with("bulwark "), "{v}");
}
