//! Property test: bulwark's version order equals `dpkg --compare-versions`.
#![allow(clippy::unwrap_used)]

use std::cmp::Ordering;
use std::process::Command;

use bulwark_debian::Version;
use proptest::prelude::*;

fn dpkg_available() -> bool {
    let ok = Command::new("dpkg")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var_os("CI").is_some() {
        panic!("dpkg is required under CI=true (run scripts/install-test-deps.sh)");
    }
    ok
}

fn dpkg_cmp(a: &str, b: &str) -> Ordering {
    let rel = |op: &str| {
        Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run dpkg")
            .success()
    };
    if rel("lt") {
        Ordering::Less
    } else if rel("eq") {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

fn version_strategy() -> impl Strategy<Value = String> {
    let epoch =
        prop::option::of(0u32..4).prop_map(|e| e.map(|e| format!("{e}:")).unwrap_or_default());
    // Upstream starts with a digit as policy requires; the rest mixes every
    // character class the ordering treats differently, including long digit runs.
    let upstream = ("[0-9]{1,3}", "[0-9a-zA-Z.+~]{0,8}").prop_map(|(a, b)| a + &b);
    let revision = prop::option::of("[0-9a-z.+~]{1,6}")
        .prop_map(|r| r.map(|r| format!("-{r}")).unwrap_or_default());
    (epoch, upstream, revision).prop_map(|(e, u, r)| format!("{e}{u}{r}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn order_matches_dpkg(a in version_strategy(), b in version_strategy()) {
        if !dpkg_available() { return Ok(()); }
        let (va, vb): (Version, Version) = (a.parse().unwrap(), b.parse().unwrap());
        prop_assert_eq!(va.cmp(&vb), dpkg_cmp(&a, &b), "{} vs {}", a, b);
    }

    #[test]
    fn near_equal_versions_match_dpkg(base in version_strategy(), suffix in "(~|\\+|\\.|a|0|~~|1)") {
        if !dpkg_available() { return Ok(()); }
        let other = format!("{base}{suffix}");
        if let (Ok(va), Ok(vb)) = (base.parse::<Version>(), other.parse::<Version>()) {
            prop_assert_eq!(va.cmp(&vb), dpkg_cmp(&base, &other), "{} vs {}", base, other);
        }
    }
}

#[test]
fn digit_runs_longer_than_u64_match_dpkg() {
    if !dpkg_available() {
        return;
    }
    let a = "1.184467440737095516160";
    let b = "1.18446744073709551615";
    assert_eq!(
        a.parse::<Version>().unwrap().cmp(&b.parse().unwrap()),
        dpkg_cmp(a, b)
    );
}
