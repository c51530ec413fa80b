//! The one rule for choosing a platform.

use bulwark_oci::{Descriptor, Index, Platform};

/// The platform used when none is asked for: the host's (`linux/<arch>`
/// with its variant, e.g. `linux/arm/v7`), as Debian names it.
#[must_use]
pub fn default_platform() -> String {
    let (arch, variant) =
        bulwark_debian::oci_platform(bulwark_debian::host_arch()).unwrap_or(("amd64", None));
    match variant {
        Some(v) => format!("linux/{arch}/{v}"),
        None => format!("linux/{arch}"),
    }
}

/// `os/arch[/variant]`.
#[must_use]
pub fn platform_name(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// The image platforms an index lists (attestation entries such as
/// `unknown/unknown` left out).
#[must_use]
pub fn index_platforms(idx: &Index) -> Vec<String> {
    idx.manifests
        .iter()
        .filter_map(|m| m.platform.as_ref())
        .filter(|p| p.os != "unknown" && p.architecture != "unknown")
        .map(platform_name)
        .collect()
}

/// The entry of `idx` for `want` (`os/arch` matches any variant;
/// `os/arch/variant` only that one); `None` asks for [`default_platform`].
#[must_use]
pub fn select<'a>(idx: &'a Index, want: Option<&str>) -> Option<&'a Descriptor> {
    let want = want.map_or_else(default_platform, str::to_owned);
    let exact = |p: &Platform| platform_name(p) == want;
    let any_variant = |p: &Platform| format!("{}/{}", p.os, p.architecture) == want;
    let with = |f: &dyn Fn(&Platform) -> bool| {
        idx.manifests
            .iter()
            .find(|m| m.platform.as_ref().is_some_and(f))
    };
    with(&exact).or_else(|| with(&any_variant))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: bulwark_oci::MEDIA_TYPE_MANIFEST.into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            size: 1,
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: variant.map(str::to_owned),
            }),
            annotations: Default::default(),
            artifact_type: None,
        }
    }

    #[test]
    fn a_variant_is_matched_exactly_or_left_open() {
        let idx = Index {
            schema_version: 2,
            media_type: None,
            manifests: vec![entry("arm", Some("v6")), entry("arm", Some("v7"))],
            annotations: Default::default(),
        };
        let v = |w| select(&idx, Some(w)).and_then(|d| d.platform.clone()?.variant);
        assert_eq!(v("linux/arm/v7").as_deref(), Some("v7"));
        assert_eq!(v("linux/arm").as_deref(), Some("v6"));
        assert!(select(&idx, Some("linux/arm/v8")).is_none());
        assert_eq!(index_platforms(&idx), ["linux/arm/v6", "linux/arm/v7"]);
    }
}
