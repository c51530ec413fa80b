//! Shared helpers: running the binary, fixtures, snapshot filters.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bulwark_test_support::MiniArchive;

pub fn bulwark_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bulwark"))
}

/// A temporary workspace with a served mini archive and a private cache.
pub struct Ctx {
    pub dir: tempfile::TempDir,
    pub archive: MiniArchive,
}

impl Ctx {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("bulwark-it-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("archive")).unwrap();
        let archive = MiniArchive::new(&dir.path().join("archive"));
        Ctx { dir, archive }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Writes `NAME.yaml` with the archive's distribution block prepended.
    pub fn spec(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path().join(format!("{name}.yaml"));
        std::fs::write(&p, format!("{}{body}", self.archive.distribution_yaml())).unwrap();
        p
    }
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bulwark_bin());
        c.env("BULWARK_CACHE_DIR", self.path().join("cache"))
            .env("NO_COLOR", "1")
            .env_remove("SOURCE_DATE_EPOCH")
            // No vulnerability database unless a test makes one.
            .env("XDG_CACHE_HOME", self.path().join("xdg-cache"))
            .env_remove("BULWARK_DB")
            .current_dir(self.path());
        c
    }
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }
}

/// Runs and asserts success, returning stdout.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs and asserts failure with exit code 1, returning stderr.
pub fn fails(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit code 1\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// Replaces temporary paths and loopback ports so snapshots are stable.
pub fn scrub(ctx: &Ctx, s: &str) -> String {
    let mut s = s.replace(&ctx.path().display().to_string(), "[TMP]");
    s = s.replace(&ctx.archive.server.url, "http://[ARCHIVE]");
    s
}

/// Whether an external tool is present; under CI a missing tool panics.
pub fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{name} is required under CI=true; run scripts/install-test-deps.sh");
    }
    if !found {
        eprintln!("warning: {name} not installed; skipping this check outside CI");
    }
    found
}

/// Parses the JSON report printed by `build --format json`.
pub fn report(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{stdout}"))
}

/// Walks a layout: top-level descriptor digest from index.json.
pub fn layout_digest(dir: &Path) -> String {
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    idx["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

/// The digest that `index.json` of layout `dir` gives tag `tag`.
pub fn tag_digest(dir: &Path, tag: &str) -> String {
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .and_then(|m| m["digest"].as_str())
        .unwrap_or_else(|| panic!("no tag {tag} in {}", dir.display()))
        .to_owned()
}

pub fn blob(dir: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// The files of the single (or first) image's layers: path → (mode, uid, content).
pub fn layer_files(dir: &Path) -> std::collections::BTreeMap<String, (u32, u64, Vec<u8>, String)> {
    use std::io::Read;
    let mut digest = layout_digest(dir);
    let mut v: serde_json::Value = serde_json::from_slice(&blob(dir, &digest)).unwrap();
    if v["manifests"].is_array() {
        digest = v["manifests"][0]["digest"].as_str().unwrap().to_owned();
        v = serde_json::from_slice(&blob(dir, &digest)).unwrap();
    }
    let mut out = std::collections::BTreeMap::new();
    for l in v["layers"].as_array().unwrap() {
        let data = blob(dir, l["digest"].as_str().unwrap());
        let mut tar_bytes = Vec::new();
        flate2::read::MultiGzDecoder::new(data.as_slice())
            .read_to_end(&mut tar_bytes)
            .unwrap();
        let mut a = tar::Archive::new(tar_bytes.as_slice());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let h = e.header().clone();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            let mut content = Vec::new();
            e.read_to_end(&mut content).unwrap();
            out.insert(
                path.trim_end_matches('/').to_owned(),
                (h.mode().unwrap(), h.uid().unwrap(), content, link),
            );
        }
    }
    out
}

/// `name=version` of each JSON object (packages, SBOM components), sorted.
pub fn name_versions<'a>(items: impl IntoIterator<Item = &'a serde_json::Value>) -> Vec<String> {
    let mut v: Vec<String> = items
        .into_iter()
        .map(|p| {
            format!(
                "{}={}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

/// Reads an SPDX 3 JSON-LD file with the SPDX project's own model
/// (spdx-python-model): unknown properties and bad enumeration values fail
/// the read, dangling references fail the link, missing required properties
/// fail the write.
pub fn assert_valid_spdx3(file: &Path) {
    let script = "import sys, io\nfrom spdx_python_model.bindings import v3_0_1 as spdx3\ns = spdx3.SHACLObjectSet()\nwith open(sys.argv[1], 'rb') as f:\n    spdx3.JSONLDDeserializer().read(f, s)\nmissing = s.link()\nif missing:\n    sys.exit(f'dangling references: {missing}')\nspdx3.JSONLDSerializer().write(s, io.BytesIO())\n";
    ok(std::process::Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .unwrap());
}

/// Validates a CycloneDX JSON file against the strict schema of `version`
/// (`1.6`, `1.7`) with cyclonedx-python-lib.
pub fn assert_valid_cyclonedx(file: &Path, version: &str) {
    let script = format!(
        "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\nerr = JsonStrictValidator(SchemaVersion.V{}).validate_str(open(sys.argv[1]).read())\nprint(err or '')\nsys.exit(1 if err else 0)\n",
        version.replace('.', "_")
    );
    ok(std::process::Command::new("python3")
        .args(["-c", &script])
        .arg(file)
        .output()
        .unwrap());
}

/// Validates a SARIF log two ways: against the OASIS SARIF 2.1.0 schema that
/// Microsoft's SARIF Multitool package ships (python jsonschema, every
/// error reported), and with the Multitool's own `validate` rules, which
/// must report no error and no warning except the missing `informationUri`
/// (bulwark has no public homepage to name). Call only after `tool("sarif-multitool")`.
pub fn assert_valid_sarif(file: &Path) {
    let root = ok(Command::new("npm").args(["root", "-g"]).output().unwrap());
    let find = ok(Command::new("find")
        .arg(format!("{}/@microsoft", root.trim()))
        .args(["-name", "sarif-2.1.0.json"])
        .output()
        .unwrap());
    let schema = find
        .lines()
        .next()
        .unwrap_or_else(|| panic!("sarif-2.1.0.json not found under {}", root.trim()));
    let script = "import json, sys, jsonschema\ns = json.load(open(sys.argv[1]))\nV = jsonschema.validators.validator_for(s)\nerrs = list(V(s, format_checker=V.FORMAT_CHECKER).iter_errors(json.load(open(sys.argv[2]))))\nfor e in errs: print(list(e.absolute_path), e.message)\nsys.exit(1 if errs else 0)\n";
    ok(Command::new("python3")
        .args(["-c", script, schema])
        .arg(file)
        .output()
        .unwrap());
    let log = file.with_extension("validation.sarif");
    let _ = std::fs::remove_file(&log);
    ok(Command::new("sarif-multitool")
        .args(["validate", "-j", schema, "-o"])
        .arg(&log)
        .arg(file)
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
    let problems: Vec<String> = v["runs"][0]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            !(r["ruleId"] == "SARIF2005"
                && r["message"]["id"] == "Warning_ProvideToolnformationUri")
        })
        .map(|r| {
            format!(
                "{} {} {}",
                r["ruleId"], r["message"]["id"], r["message"]["arguments"]
            )
        })
        .collect();
    assert!(problems.is_empty(), "{}: {problems:#?}", file.display());
    let ran = v["runs"][0]["invocations"][0]["executionSuccessful"].as_bool();
    assert_eq!(ran, Some(true), "sarif-multitool did not run: {v:#}");
}

/// The finding ids of an `eval --format json` report, in report order.
pub fn finding_ids(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect()
}

/// Asserts that none of the signature checks (PR-004 to PR-007) fired.
pub fn assert_signed_and_attested(what: &str, report: &serde_json::Value) {
    let ids = finding_ids(report);
    for id in ["PR-004", "PR-005", "PR-006", "PR-007"] {
        assert!(!ids.iter().any(|i| i == id), "{what}: {id} in {report:#}");
    }
}

/// The password of keys the tests generate.
pub const PW: &str = "correct horse";

/// Runs with `BULWARK_PASSWORD` set to [`PW`].
pub fn run_pw(ctx: &Ctx, args: &[&str]) -> Output {
    ctx.cmd()
        .env("BULWARK_PASSWORD", PW)
        .args(args)
        .output()
        .unwrap()
}

/// The spec `m.yaml`: base-files and hello for amd64 and arm64.
pub fn multi_arch_spec(ctx: &Ctx) {
    ctx.spec(
        "m",
        "archs: [amd64, arm64]\npackages: [base-files, hello]\nexclude: [{package: awk, reason: scripts never run}]\n",
    );
}

/// Asserts that `dir` holds no `.bulwark*` temporary files or directories.
pub fn assert_no_leftovers(dir: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".bulwark"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

/// Each of `files` in `dir` validates against the Kubernetes 1.31 schemas
/// with kubernetes-validate, strictly (unknown fields fail).
pub fn assert_kubernetes_valid(dir: &Path, files: &[&str]) {
    for f in files {
        let out = Command::new("kubernetes-validate")
            .args(["--strict", "-k", "1.31.0"])
            .arg(dir.join(f))
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.contains("passed"),
            "{f}: {said}"
        );
    }
}

/// A helper process, killed and reaped when dropped.
pub struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` with its stdout piped and returns it with the first line it
/// prints (a helper server announcing its port), trimmed.
pub fn spawn_announcing(cmd: &mut Command) -> (Reaped, String) {
    use std::io::BufRead as _;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Reaped(child), line.trim().to_owned())
}
