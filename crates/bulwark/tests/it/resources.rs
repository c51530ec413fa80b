//! bulwark under an address-space limit and a timeout, against generated
//! hostile inputs. Every case must end in a clean error (exit 1 with a
//! message); a crash, a hang, an out-of-memory or a file written outside the
//! working directory fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::regression::{Manifest, gzip, hostile_registry, nested_index_chain, one_layer_layout};

/// Address space each run may use: far below what the attacks once took
/// (4.1 GB, 24 GB), well above what the real work needs.
const MEMORY: u64 = 2 << 30;
/// Wall time each run may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A workspace inside a directory of its own, so writes outside it show.
struct Arena {
    outer: tempfile::TempDir,
    ctx: Ctx,
}

impl Arena {
    fn new() -> Self {
        let outer = tempfile::Builder::new()
            .prefix("bulwark-res-")
            .tempdir()
            .unwrap();
        let ctx = Ctx::new();
        Arena { outer, ctx }
    }

    fn work(&self) -> &Path {
        self.ctx.path()
    }

    /// Runs bulwark bounded, in the workspace, with `TMPDIR` inside it and
    /// the outer directory as `HOME`; asserts a clean failure naming `want`.
    fn refuses(&self, args: &[&str], want: &str) {
        let tmp = self.work().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let mut c = Command::new("prlimit");
        c.arg(format!("--as={MEMORY}"))
            .arg("--")
            .arg(bulwark_bin())
            .args(args)
            .current_dir(self.work())
            .env("HOME", self.outer.path())
            .env("TMPDIR", &tmp)
            .env("BULWARK_CACHE_DIR", self.work().join("cache"))
            .env("BULWARK_REGISTRY_TIMEOUT", "2")
            .env("BULWARK_PASSWORD", "pw")
            .env("NO_COLOR", "1");
        // Output to files: a pipe nobody reads while we wait could block the child.
        let err_path = self.work().join("stderr.txt");
        c.stdout(std::fs::File::create(self.work().join("stdout.txt")).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap());
        let start = Instant::now();
        let mut child = c.spawn().unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > TIMEOUT {
                let _ = child.kill();
                panic!("{args:?} hung (still running after {TIMEOUT:?})");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        use std::os::unix::process::ExitStatusExt as _;
        assert!(
            status.signal().is_none(),
            "{args:?} was killed by signal {:?} (crash or out of memory): {err}",
            status.signal()
        );
        assert!(
            !err.contains("memory allocation") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
        assert_eq!(status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected {want:?} in: {err}");
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "{args:?} left temporary files"
        );
        let outside: Vec<PathBuf> = std::fs::read_dir(self.outer.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        assert!(outside.is_empty(), "{args:?} wrote outside: {outside:?}");
    }
}

fn layer_tar(entries: &[(&str, u64, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, mode, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode as u32);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn diff_id(tar: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(tar)))
}

#[test]
fn hostile_images_end_in_clean_errors_under_a_memory_limit() {
    if !tool("prlimit") {
        return;
    }
    let a = Arena::new();

    // A GNU long name that claims 1000 MiB, in a layer of about 1 MB.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(1000 << 20);
    h.set_path("././@LongLink").unwrap();
    h.set_cksum();
    let mut t = h.as_bytes().to_vec();
    t.extend(vec![b'a'; 1 << 20]);
    one_layer_layout(&a.work().join("longname"), &gzip(&t), &diff_id(&t));
    a.refuses(&["eval", "oci:longname:t"], "over the 4 KiB allowed");
    a.refuses(&["sbom", "oci:longname:t"], "over the 4 KiB allowed");

    // A gzip bomb: 1.1 GiB of zeros in about 1 MiB.
    let member = gzip(&vec![0u8; 1 << 20]);
    let mut head = tar::Header::new_gnu();
    head.set_size(1100 << 20);
    head.set_path("zeros").unwrap();
    head.set_cksum();
    let mut bomb = gzip(head.as_bytes());
    for _ in 0..1100 {
        bomb.extend(&member);
    }
    one_layer_layout(
        &a.work().join("bomb"),
        &bomb,
        &format!("sha256:{}", "0".repeat(64)),
    );
    a.refuses(&["eval", "oci:bomb:t"], "decompression bomb");
    a.refuses(
        &["copy", "oci:bomb:t", "docker-archive:b.tar:x/y:1"],
        "decompression bomb",
    );

    // Hundreds of secret candidates: captured contents pass 256 MiB.
    let mib = vec![b'k'; 1 << 20];
    let names: Vec<String> = (0..300).map(|i| format!("app/{i}.key")).collect();
    let entries: Vec<(&str, u64, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), 0o644, &mib[..]))
        .collect();
    let t = layer_tar(&entries);
    one_layer_layout(&a.work().join("secrets"), &gzip(&t), &diff_id(&t));
    a.refuses(&["eval", "oci:secrets:t"], "pass 256 MiB in all");

    // 40,000 dpkg records.
    let recs: Vec<(String, Vec<u8>)> = (0..40_000)
        .map(|i| {
            (
                format!("var/lib/dpkg/status.d/p{i}"),
                format!("Package: p{i}\nVersion: 1\nArchitecture: amd64\n").into_bytes(),
            )
        })
        .collect();
    let entries: Vec<(&str, u64, &[u8])> = recs
        .iter()
        .map(|(n, d)| (n.as_str(), 0o644, d.as_slice()))
        .collect();
    let t = layer_tar(&entries);
    one_layer_layout(&a.work().join("pkgs"), &gzip(&t), &diff_id(&t));
    a.refuses(
        &["sbom", "oci:pkgs:t", "--format", "spdx3-json"],
        "more than bulwark's limit of 20000",
    );

    // An entry claiming 8 GB in a tiny layer.
    let mut h = tar::Header::new_gnu();
    h.set_size(8_000_000_000);
    h.set_path("big").unwrap();
    h.set_cksum();
    let mut t = h.as_bytes().to_vec();
    t.extend([0u8; 1024]);
    one_layer_layout(&a.work().join("claims"), &gzip(&t), &diff_id(&t));
    a.refuses(&["eval", "oci:claims:t"], "truncated");

    // 10,000 nested indexes; an endless index.json.
    nested_index_chain(&a.work().join("chain"), 10_000);
    for args in [
        &["eval", "oci:chain:t"][..],
        &["sbom", "oci:chain:t"][..],
        &["copy", "oci:chain:t", "oci-archive:c.tar"][..],
    ] {
        a.refuses(args, "");
    }
    let huge = a.work().join("huge");
    std::fs::create_dir(&huge).unwrap();
    std::fs::File::create(huge.join("index.json"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    a.refuses(&["eval", "oci:huge"], "16 MiB");
    a.refuses(&["copy", "oci:huge", "oci:out"], "16 MiB");
}

#[test]
fn hostile_keys_specs_and_registries_end_in_clean_errors_under_a_memory_limit() {
    if !tool("prlimit") {
        return;
    }
    let a = Arena::new();
    // A key whose scrypt cost (N=2^20, r=32) once took 4.2 GB to derive.
    let body = r#"{"kdf":{"name":"scrypt","params":{"N":1048576,"r":32,"p":1},"salt":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":"AAAA"}"#;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    std::fs::write(
        a.work().join("slow.key"),
        format!("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{b64}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"),
    )
    .unwrap();
    a.refuses(
        &["sign", "oci:x", "--key", "slow.key"],
        "outside the accepted range",
    );
    // Key files and specs that are huge, or not files at all.
    std::fs::File::create(a.work().join("big.pub"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    a.refuses(&["verify", "oci:x", "--key", "big.pub"], "64 KiB");
    a.refuses(
        &["verify", "oci:x", "--key", "/dev/zero"],
        "not a regular file",
    );
    std::fs::File::create(a.work().join("big.yaml"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    a.refuses(&["build", "big.yaml", "--output", "oci:o"], "8 MiB");
    // A spec whose name points outside.
    std::fs::write(
        a.work().join("evil.yaml"),
        format!(
            "{}name: ../../../../evil\npackages: [base-files]\n",
            a.ctx.archive.distribution_yaml()
        ),
    )
    .unwrap();
    a.refuses(
        &["build", "evil.yaml", "--output", "oci:o"],
        "not a valid image name",
    );
    // Registries that flood or drip.
    let flood = hostile_registry(Manifest::Endless);
    a.refuses(&["sbom", &format!("{flood}/x/y:1"), "--insecure"], "4 MiB");
    let drip = hostile_registry(Manifest::Drip);
    a.refuses(
        &["eval", &format!("{drip}/x/y:1"), "--insecure"],
        "no complete answer",
    );
}
