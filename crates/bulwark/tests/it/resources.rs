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

    /// Runs bulwark bounded and asserts a clean failure naming `want`.
    fn refuses(&self, args: &[&str], want: &str) {
        let (code, err) = self.bounded(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected {want:?} in: {err}");
    }

    /// Runs bulwark bounded and asserts it finished its work (exit 0, or 3
    /// for a gate that failed).
    fn completes(&self, args: &[&str]) {
        let (code, err) = self.bounded(args);
        assert!(code == 0 || code == 3, "{args:?} exit {code}: {err}");
    }

    /// Runs bulwark in the workspace, with `TMPDIR` inside it and the outer
    /// directory as `HOME`, under the memory limit and the timeout; asserts
    /// no crash, hang, out-of-memory, temporary leftovers or writes outside,
    /// and returns the exit code and stderr.
    fn bounded(&self, args: &[&str]) -> (i32, String) {
        self.bounded_for(args, TIMEOUT)
    }

    /// [`Arena::bounded`] with a wall-time limit of its own.
    fn bounded_for(&self, args: &[&str], timeout: Duration) -> (i32, String) {
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
            if start.elapsed() > timeout {
                let _ = child.kill();
                panic!("{args:?} hung (still running after {timeout:?})");
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
        (status.code().unwrap_or(-1), err)
    }
}

/// A minimal little-endian ELF64 program whose dynamic section names
/// `needed` libraries (`libN.so`).
fn elf_needing(needed: usize) -> Vec<u8> {
    let strtab: Vec<u8> = std::iter::once(0u8)
        .chain((0..needed).flat_map(|i| format!("lib{i}.so\0").into_bytes()))
        .collect();
    let (ph_off, ph_count) = (64u64, 2u64);
    let dyn_off = ph_off + 56 * ph_count;
    let dyn_len = 16 * (needed as u64 + 2);
    let str_off = dyn_off + dyn_len;
    let total = str_off + strtab.len() as u64;
    let mut e = Vec::new();
    e.extend(b"\x7fELF\x02\x01\x01\0");
    e.extend([0u8; 8]);
    e.extend(2u16.to_le_bytes()); // ET_EXEC
    e.extend(62u16.to_le_bytes()); // x86-64
    e.extend(1u32.to_le_bytes());
    e.extend(0u64.to_le_bytes()); // entry
    e.extend(ph_off.to_le_bytes());
    e.extend(0u64.to_le_bytes()); // shoff
    e.extend(0u32.to_le_bytes());
    e.extend(64u16.to_le_bytes());
    e.extend(56u16.to_le_bytes());
    e.extend((ph_count as u16).to_le_bytes());
    e.extend([0u8; 6]);
    let ph = |e: &mut Vec<u8>, t: u32, off: u64, len: u64| {
        e.extend(t.to_le_bytes());
        e.extend(4u32.to_le_bytes());
        e.extend(off.to_le_bytes());
        e.extend(off.to_le_bytes()); // vaddr = offset
        e.extend(off.to_le_bytes());
        e.extend(len.to_le_bytes());
        e.extend(len.to_le_bytes());
        e.extend(8u64.to_le_bytes());
    };
    ph(&mut e, 1, 0, total); // PT_LOAD of the whole file
    ph(&mut e, 2, dyn_off, dyn_len); // PT_DYNAMIC
    e.extend(5u64.to_le_bytes()); // DT_STRTAB
    e.extend(str_off.to_le_bytes());
    let mut at = 1u64;
    for i in 0..needed {
        e.extend(1u64.to_le_bytes()); // DT_NEEDED
        e.extend(at.to_le_bytes());
        at += format!("lib{i}.so").len() as u64 + 1;
    }
    e.extend([0u8; 16]); // DT_NULL
    e.extend(strtab);
    e
}

#[test]
fn the_entrypoint_analysis_is_not_libraries_times_file_lists() {
    if !tool("prlimit") {
        return;
    }
    // 4,000 libraries the entrypoint needs, against a million file-list
    // lines: a scan of every list per library (the old way) takes minutes.
    let a = Arena::new();
    let libs = 4000;
    let elf = elf_needing(libs);
    let lib_names: Vec<String> = (0..libs).map(|i| format!("usr/lib/lib{i}.so")).collect();
    let mut entries: Vec<(String, Vec<u8>)> = vec![("app/server".into(), elf)];
    entries.extend(lib_names.iter().map(|n| (n.clone(), b"x".to_vec())));
    for p in 0..100 {
        entries.push((
            format!("var/lib/dpkg/status.d/p{p}"),
            format!("Package: p{p}\nVersion: 1\nArchitecture: amd64\n").into_bytes(),
        ));
        let mut sums = String::new();
        for l in 0..10_000 {
            sums.push_str(&format!(
                "00000000000000000000000000000000  usr/share/p{p}/file{l}\n"
            ));
        }
        if p == 0 {
            for n in &lib_names {
                sums.push_str(&format!("00000000000000000000000000000000  {n}\n"));
            }
        }
        entries.push((
            format!("var/lib/dpkg/status.d/p{p}.md5sums"),
            sums.into_bytes(),
        ));
    }
    let refs: Vec<(&str, u64, &[u8])> = entries
        .iter()
        .map(|(n, d)| {
            (
                n.as_str(),
                if n == "app/server" { 0o755 } else { 0o644 },
                d.as_slice(),
            )
        })
        .collect();
    let t = layer_tar(&refs);
    // The config's entrypoint is the program.
    let dir = a.work().join("wide");
    one_layer_layout(&dir, &gzip(&t), &diff_id(&t));
    set_entrypoint(&dir, "/app/server");
    a.completes(&["eval", "oci:wide:t"]);
}

/// Rewrites the single image of layout `dir` with `Entrypoint: [path]`.
fn set_entrypoint(dir: &Path, path: &str) {
    use sha2::Digest as _;
    let put = |data: &[u8]| {
        let hex = hex::encode(sha2::Sha256::digest(data));
        std::fs::write(dir.join("blobs/sha256").join(&hex), data).unwrap();
        (format!("sha256:{hex}"), data.len())
    };
    let read = |d: &str| -> serde_json::Value { serde_json::from_slice(&blob(dir, d)).unwrap() };
    let top = tag_digest(dir, "t");
    let mut m = read(&top);
    let mut c = read(m["config"]["digest"].as_str().unwrap());
    c["config"]["Entrypoint"] = serde_json::json!([path]);
    let (cd, cs) = put(c.to_string().as_bytes());
    m["config"]["digest"] = cd.into();
    m["config"]["size"] = cs.into();
    let (md, ms) = put(m.to_string().as_bytes());
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
         "annotations": {"org.opencontainers.image.ref.name": "t"}}]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
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
    a.refuses(
        &["harden", "oci:longname:t", "oci:h1:1", "--keep", "/"],
        "over the 4 KiB allowed",
    );
    assert!(!a.work().join("h1").exists());

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
    // harden holds what it rewrites: under this address-space limit the
    // memory runs out before the bomb guard's 1 GiB floor, and says so.
    a.refuses(
        &["harden", "oci:bomb:t", "oci:h2:1", "--keep", "/"],
        "out of memory holding \"zeros\"",
    );
    assert!(!a.work().join("h2").exists());

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
    a.refuses(
        &["harden", "oci:claims:t", "oci:h3:1", "--keep", "/"],
        "truncated",
    );
    assert!(!a.work().join("h3").exists());

    // A layer blob a terabyte long (sparse) whose descriptor says 1 KiB or
    // so: read one byte past the declared size, never to the end.
    let t = layer_tar(&[("a", 0o644, b"x")]);
    let dir = a.work().join("long");
    let layer = gzip(&t);
    one_layer_layout(&dir, &layer, &diff_id(&t));
    {
        use sha2::Digest as _;
        let hex = hex::encode(sha2::Sha256::digest(&layer));
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("blobs/sha256").join(hex))
            .unwrap()
            .set_len(1 << 40)
            .unwrap();
    }
    a.refuses(&["eval", "oci:long:t"], "");
    a.completes(&["key", "generate", "k"]);
    a.refuses(&["verify", "oci:long:t", "--key", "k.pub"], "");

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

#[test]
fn a_user_file_larger_than_the_memory_limit_is_streamed_into_the_layer() {
    if !tool("prlimit") {
        return;
    }
    // 2.25 GiB (sparse, so the test writes nothing itself) against a 2 GiB
    // address space: it can only be built by streaming. It once took 4.3 GB
    // of memory per GiB. Hashing and compressing it takes a while: the
    // limit here is memory, not time.
    let a = Arena::new();
    let size: u64 = 9 << 28;
    std::fs::File::create(a.work().join("model.bin"))
        .unwrap()
        .set_len(size)
        .unwrap();
    std::fs::write(
        a.work().join("big.yaml"),
        format!(
            "{}archs: [amd64]\npackages: [base-files]\nfiles: [{{src: model.bin, dest: /opt/model.bin}}]\n",
            a.ctx.archive.distribution_yaml()
        ),
    )
    .unwrap();
    let slow = Duration::from_secs(300);
    let (code, err) = a.bounded_for(
        &[
            "build", "big.yaml", "--output", "oci:o:v1", "--format", "json",
        ],
        slow,
    );
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.work().join("stdout.txt")).unwrap())
            .unwrap();
    let app = &report["platforms"][0]["layers"][1];
    assert!(app["uncompressed_size"].as_u64().unwrap() > size, "{app}");
    // The SBOM and the provenance name the file with its digest (sha256
    // of 2.25 GiB of zeros), taken from the bytes that went into the layer.
    let docs: String = std::fs::read_dir(a.work().join("o.sbom"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    let zeros = "0e5acb6dfe745bb3aac4fe5526a9766684008bc934d83335760da59ed5ddd4ff";
    assert!(docs.contains("/opt/model.bin"), "the SBOM names the file");
    assert!(
        docs.matches(zeros).count() >= 2,
        "SBOM and provenance carry its sha256"
    );
    assert!(
        docs.contains("file:model.bin"),
        "the provenance names the input"
    );
    // The blob is in the layout, as large as the report says. (Reading
    // it back is refused, rightly: 2.25 GiB of zeros compress a
    // thousandfold, past the decompression-bomb bound.)
    let digest = app["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let blob = a.work().join("o/blobs/sha256").join(digest);
    assert_eq!(
        std::fs::metadata(blob).unwrap().len(),
        app["size"].as_u64().unwrap()
    );
}
