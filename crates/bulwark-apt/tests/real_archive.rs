//! The host's real Debian archive, through its own apt configuration (CI runs this).
#![allow(clippy::unwrap_used)]

use bulwark_apt::{Fetcher, Keyring, SuiteSpec, load_suite};
use bulwark_debian::sources::read_host_sources;

#[test]
fn host_archive_verifies_with_host_keyring() {
    let sources = read_host_sources(std::path::Path::new("/")).unwrap();
    // The host's own release (test machines may also carry a pinned-low sid entry).
    let codename = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VERSION_CODENAME=")
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_default();
    let usable = |s: &&bulwark_debian::sources::SourceEntry| {
        s.components.iter().any(|c| c == "main") && s.signed_by.is_some()
    };
    let Some(entry) = sources
        .iter()
        .filter(usable)
        .find(|s| s.suites.contains(&codename))
        .or_else(|| sources.iter().find(usable))
    else {
        panic!("no Debian 'main' source with Signed-By in the host's apt configuration");
    };
    let keyring = Keyring::load(entry.signed_by.as_deref().unwrap().as_ref()).unwrap();
    let fetcher = Fetcher::new(None).unwrap();
    let spec = SuiteSpec {
        uri: entry.uri.clone(),
        suite: entry
            .suites
            .iter()
            .find(|x| **x == codename)
            .unwrap_or(&entry.suites[0])
            .clone(),
        components: vec!["main".into()],
    };
    let idx = load_suite(
        &fetcher,
        &spec,
        &[bulwark_debian::host_arch().to_owned()],
        &keyring,
        None,
    )
    .unwrap();
    let n: usize = idx.packages.iter().map(|i| i.len()).sum();
    assert!(n > 1000, "{n} packages");
    assert!(idx.packages.iter().any(|i| !i.named("libc6").is_empty()));
    // The same keyring must reject a signature when a single byte of the signed text changes.
    let data = fetcher.get(&idx.inrelease.url, 64 << 20).unwrap();
    let text = String::from_utf8(data)
        .unwrap()
        .replacen("Components:", "Components: evil", 1);
    assert!(
        bulwark_apt::verify_inrelease(text.as_bytes(), &keyring, bulwark_apt::now_unix(), "x")
            .is_err()
    );
}
