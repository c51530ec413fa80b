//! The chain of trust against a synthetic signed archive on loopback.
#![allow(clippy::unwrap_used)]

use bulwark_apt::{ArchiveError, Cache, Fetcher, Keyring, LoadOptions, SuiteSpec, load_suite_with};
use bulwark_test_support::{DebBuilder, Fault, HttpServer, Repo, TestKey};

const NOW: i64 = 1_704_153_600; // 2024-01-02, one day after the fixture Release date

struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    server: HttpServer,
    key: TestKey,
}

fn fixture(edit: impl FnOnce(&mut Repo)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let key = TestKey::generate("bulwark test archive");
    let mut repo = Repo::new("bookworm");
    repo.add(DebBuilder::new("libc6", "2.36-9", "amd64").file("usr/lib/libc.so.6", b"libc", 0o644));
    repo.add(
        DebBuilder::new("hello", "1.0-1", "amd64")
            .depends("libc6 (>= 2.36)")
            .file("usr/bin/hello", b"hi", 0o755),
    );
    edit(&mut repo);
    repo.write(&root, &key);
    let server = HttpServer::serve(&root);
    Fixture {
        _dir: dir,
        root,
        server,
        key,
    }
}

fn spec(f: &Fixture) -> SuiteSpec {
    SuiteSpec {
        uri: f.server.url.clone(),
        suite: "bookworm".into(),
        components: vec!["main".into()],
    }
}

fn load(f: &Fixture, keyring: &Keyring) -> Result<bulwark_apt::SuiteIndex, ArchiveError> {
    let fetcher = Fetcher::new(None).unwrap();
    load_suite_with(
        &fetcher,
        &spec(f),
        &["amd64".into()],
        keyring,
        LoadOptions {
            now: NOW,
            check_valid_until: true,
        },
    )
}

fn keyring(k: &TestKey) -> Keyring {
    Keyring::from_bytes(&k.keyring_bytes(), "test keyring").unwrap()
}

#[test]
fn loads_a_signed_suite_by_hash() {
    let f = fixture(|_| {});
    let idx = load(&f, &keyring(&f.key)).unwrap();
    assert_eq!(idx.records().len(), 2);
    assert_eq!(idx.release.codename.as_deref(), Some("bookworm"));
    assert!(
        f.server.hits("/by-hash/SHA256/") >= 1,
        "indexes must be fetched by hash"
    );
    assert_eq!(idx.records()[1].depends[0].to_string(), "libc6 (>= 2.36)");
}

#[test]
fn armored_keyrings_and_primary_key_signatures_work() {
    let mut f = fixture(|_| {});
    f.key.sign_with_primary = true;
    let mut repo = Repo::new("bookworm");
    repo.add(DebBuilder::new("a", "1", "amd64"));
    repo.write(&f.root, &f.key);
    let k = Keyring::from_bytes(f.key.armored().as_bytes(), "armored").unwrap();
    load(&f, &k).unwrap();
}

#[test]
fn wrong_key_fails_closed() {
    let f = fixture(|_| {});
    let other = TestKey::generate("someone else");
    let err = load(&f, &keyring(&other)).unwrap_err().to_string();
    assert!(err.contains("no valid signature"), "{err}");
    assert!(err.contains("InRelease"), "{err}");
}

#[test]
fn tampered_inrelease_fails_closed() {
    let f = fixture(|_| {});
    let p = f.root.join("dists/bookworm/InRelease");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("Origin: Synthetic", "Origin: Synthetix");
    std::fs::write(&p, text).unwrap();
    let err = load(&f, &keyring(&f.key)).unwrap_err().to_string();
    assert!(
        err.contains("no valid signature") || err.contains("bad signature"),
        "{err}"
    );
}

#[test]
fn unsigned_inrelease_is_rejected() {
    let f = fixture(|_| {});
    std::fs::copy(
        f.root.join("dists/bookworm/Release"),
        f.root.join("dists/bookworm/InRelease"),
    )
    .unwrap();
    let err = load(&f, &keyring(&f.key)).unwrap_err().to_string();
    assert!(err.contains("not a clear-signed"), "{err}");
}

#[test]
fn tampered_packages_index_is_rejected() {
    let f = fixture(|_| {});
    for entry in walk(&f.root.join("dists/bookworm/main/binary-amd64")) {
        if entry.file_name().unwrap().to_string_lossy() != "Release" {
            let mut d = std::fs::read(&entry).unwrap();
            d.push(b'\n');
            std::fs::write(&entry, d).unwrap();
        }
    }
    let err = load(&f, &keyring(&f.key)).unwrap_err().to_string();
    assert!(
        err.contains("expected") && err.contains("tampered"),
        "{err}"
    );
}

#[test]
fn expired_release_is_rejected() {
    let f = fixture(|r| r.valid_until = Some("Mon, 01 Jan 2024 12:00:00 UTC".into()));
    let err = load(&f, &keyring(&f.key)).unwrap_err().to_string();
    assert!(err.contains("expired at 2024-01-01T12:00:00Z"), "{err}");
    // Snapshot users can opt out explicitly.
    let fetcher = Fetcher::new(None).unwrap();
    load_suite_with(
        &fetcher,
        &spec(&f),
        &["amd64".into()],
        &keyring(&f.key),
        LoadOptions {
            now: NOW,
            check_valid_until: false,
        },
    )
    .unwrap();
}

#[test]
fn missing_architecture_is_reported() {
    let f = fixture(|_| {});
    let fetcher = Fetcher::new(None).unwrap();
    let err = load_suite_with(
        &fetcher,
        &spec(&f),
        &["s390x".into()],
        &keyring(&f.key),
        LoadOptions {
            now: NOW,
            check_valid_until: true,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("main/binary-s390x"), "{err}");
}

#[test]
fn interrupted_download_is_retried_then_reported() {
    let f = fixture(|_| {});
    let idx = load(&f, &keyring(&f.key)).unwrap();
    let rec = idx.records()[0].clone();
    let url = spec(&f).file_url(&rec.filename);
    f.server.fault(".deb", Fault::Truncate(10));
    let fetcher = Fetcher::new(None).unwrap();
    let err = fetcher
        .get_verified(&url, rec.size, &rec.sha256)
        .unwrap_err();
    assert!(
        f.server.hits(".deb") > 1,
        "a truncated download must be retried"
    );
    assert!(err.to_string().contains(&url), "{err}");
    f.server.clear_faults();
    fetcher.get_verified(&url, rec.size, &rec.sha256).unwrap();
}

#[test]
fn index_streamed_while_downloading_recovers_from_a_dropped_connection() {
    // A big index (several stream pieces), cut once mid-transfer: what was
    // scanned of it is thrown away, it is downloaded again, and the suite
    // loads with every stanza.
    let f = fixture(|r| {
        let mut x: u64 = 1;
        for i in 0..400 {
            // Hex noise, so that the compressed index is a few hundred KiB.
            let noise: String = (0..1000)
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    char::from_digit((x >> 60) as u32, 16).unwrap_or('0')
                })
                .collect();
            r.add(
                DebBuilder::new(&format!("filler-{i}"), "1.0-1", "amd64")
                    .depends("libc6")
                    .field("Description", &format!("filler {i}\n {noise}")),
            );
        }
    });
    let whole = load(&f, &keyring(&f.key)).unwrap();
    // Fetched by hash: the request path ends with the index's sha256.
    let packages = whole.indexes[0].sha256.clone();
    assert!(whole.indexes[0].size > 150_000, "{}", whole.indexes[0].size);
    let hits = f.server.hits(&packages);
    f.server.fault(&packages, Fault::TruncateOnce(100_000));
    let again = load(&f, &keyring(&f.key)).unwrap();
    assert_eq!(
        f.server.hits(&packages),
        hits + 2,
        "one cut stream, one retry"
    );
    assert_eq!(again.packages[0].len(), whole.packages[0].len());
    assert_eq!(again.packages[0].len(), 402);
    assert!(!again.packages[0].named("filler-399").is_empty());
    // Cut every time: the error names the index and says what went wrong.
    f.server.fault(&packages, Fault::Truncate(100_000));
    let err = load(&f, &keyring(&f.key)).unwrap_err().to_string();
    assert!(
        err.contains(&packages) && err.contains("broke off after 100000 bytes of the"),
        "{err}"
    );
}

#[test]
fn cache_is_content_addressed_and_reverified() {
    let f = fixture(|_| {});
    let idx = load(&f, &keyring(&f.key)).unwrap();
    let rec = idx.records()[0].clone();
    let url = spec(&f).file_url(&rec.filename);
    let cache_dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Some(Cache::new(cache_dir.path()))).unwrap();
    fetcher.get_verified(&url, rec.size, &rec.sha256).unwrap();
    let hits = f.server.hits(".deb");
    fetcher.get_verified(&url, rec.size, &rec.sha256).unwrap();
    assert_eq!(
        f.server.hits(".deb"),
        hits,
        "second fetch must come from the cache"
    );
    // Corrupt the cached blob: it is discarded and fetched again.
    let blob = cache_dir.path().join("sha256").join(&rec.sha256);
    std::fs::write(&blob, b"corrupt").unwrap();
    let data = fetcher.get_verified(&url, rec.size, &rec.sha256).unwrap();
    assert_eq!(data.len() as u64, rec.size);
    assert_eq!(f.server.hits(".deb"), hits + 1);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
