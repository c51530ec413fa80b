//! Attack surface: size, layers, age, packages the entrypoint does not need,
//! caches left behind.

use bulwark_image::FileKind;

use super::Ctx;
use crate::finding::{Check, Pillar::AttackSurface, Severity};

const SRG_REMOVE: &str = "SRG: remove unnecessary components";
const SRG_REBUILD: &str = "SRG: continuous scanning and rebuild";

pub(crate) const AS_001: Check = Check {
    id: "AS-001",
    name: "ImageInventory",
    title: "Size, layer, file and package counts of the image",
    pillar: AttackSurface,
    severity: Severity::Info,
    controls: &["CIS-4.3", SRG_REMOVE],
    fix: "Build from only the packages the workload needs (bulwark build does this by construction).",
};
pub(crate) const AS_002: Check = Check {
    id: "AS-002",
    name: "TooManyLayers",
    title: "More than 20 layers",
    pillar: AttackSurface,
    severity: Severity::Low,
    controls: &["CIS-4.3"],
    fix: "Squash or rebuild with fewer layers.",
};
pub(crate) const AS_003: Check = Check {
    id: "AS-003",
    name: "LargeImage",
    title: "More than 500 MiB uncompressed",
    pillar: AttackSurface,
    severity: Severity::Medium,
    controls: &["CIS-4.3"],
    fix: "Remove build tools, caches and documentation from the final image.",
};
pub(crate) const AS_004: Check = Check {
    id: "AS-004",
    name: "StaleImage",
    title: "Image created more than 30 days ago",
    pillar: AttackSurface,
    severity: Severity::Medium,
    controls: &["CIS-4.4", SRG_REBUILD],
    fix: "Rebuild regularly (bulwark lock --update && bulwark build).",
};
pub(crate) const AS_005: Check = Check {
    id: "AS-005",
    name: "PackagesNotNeededByEntrypoint",
    title: "Packages that the entrypoint does not need",
    pillar: AttackSurface,
    severity: Severity::Info,
    controls: &["CIS-4.3", SRG_REMOVE],
    fix: "Drop them from the spec (or exclude them with a reason) unless the workload loads them at run time.",
};
pub(crate) const AS_006: Check = Check {
    id: "AS-006",
    name: "PackageManagerCache",
    title: "Package manager caches left in the image",
    pillar: AttackSurface,
    severity: Severity::Low,
    controls: &["DKL-DI-0005", "CIS-4.3"],
    fix: "Remove caches in the same step that fills them (rm -rf /var/lib/apt/lists/*), or build with bulwark (no caches at all).",
};
pub(crate) const AS_007: Check = Check {
    id: "AS-007",
    name: "UnverifiableCreationDate",
    title: "Creation date missing, unreadable or in the future",
    pillar: AttackSurface,
    severity: Severity::Medium,
    controls: &["CIS-4.4", SRG_REBUILD],
    fix: "Set the config's created field to the real build time (bulwark sets it from SOURCE_DATE_EPOCH).",
};

pub(crate) const CHECKS: &[Check] = &[AS_001, AS_002, AS_003, AS_004, AS_005, AS_006, AS_007];

pub(crate) fn run(cx: &mut Ctx) {
    let (img, fs) = (cx.img, cx.fs);
    let (compressed, uncompressed) = cx.sizes;
    let files = fs
        .files
        .values()
        .filter(|f| f.kind != FileKind::Dir)
        .count();
    cx.add(
        &AS_001,
        format!(
            "{} layers, {:.1} MiB compressed, {:.1} MiB uncompressed, {files} files, {} packages",
            img.layers.len(),
            compressed as f64 / 1048576.0,
            uncompressed as f64 / 1048576.0,
            cx.inv.packages.len()
        ),
        None,
    );
    if img.layers.len() > 20 {
        cx.add(
            &AS_002,
            format!("{} layers (more than 20)", img.layers.len()),
            None,
        );
    }
    if uncompressed > 500 << 20 {
        cx.add(
            &AS_003,
            format!(
                "{:.0} MiB uncompressed (more than 500 MiB)",
                uncompressed as f64 / 1048576.0
            ),
            None,
        );
    }
    age(cx);
    if let Some(u) = crate::needed::analyse(img, fs, cx.inv)
        && !u.packages.is_empty()
    {
        cx.add(
            &AS_005,
            format!(
                "{} of {} packages are not needed by the entrypoint /{} (file ownership and Depends): {}",
                u.packages.len(),
                cx.inv.packages.len(),
                u.program,
                u.packages.join(", ")
            ),
            Some(u.program),
        );
    }
    caches(cx);
}

/// AS-004 and AS-007: how old the image is, if its date can be believed.
fn age(cx: &mut Ctx) {
    let now = cx.now;
    let created = cx.img.config["created"].as_str().map(str::to_owned);
    let secs = created
        .as_deref()
        .and_then(bulwark_debian::time::parse_rfc3339);
    // A date that cannot be read, or one in the future, must not read as
    // "fresh": it is a finding of its own, weighted like an old image.
    let bad_date = match (&created, secs) {
        (None, _) => Some("the config has no creation date".to_owned()),
        (Some(t), None) => Some(format!("creation date {t:?} is not an RFC 3339 time")),
        (Some(t), Some(s)) if s > now + 86400 => {
            Some(format!("creation date {t} is in the future"))
        }
        _ => None,
    };
    if let Some(why) = bad_date {
        cx.add(
            &AS_007,
            format!("{why}; the image's age cannot be verified"),
            Some("created".into()),
        );
    }
    if let (Some(t), Some(s)) = (&created, secs)
        && now - s > 30 * 86400
    {
        cx.add(
            &AS_004,
            format!(
                "image is {} days old (created {t}); base images older than 30 days miss security fixes",
                (now - s) / 86400
            ),
            Some("created".into()),
        );
    }
}

/// AS-006: package manager caches left behind.
fn caches(cx: &mut Ctx) {
    let fs = cx.fs;
    let cache: Vec<&String> = fs
        .files
        .iter()
        .filter(|(p, f)| {
            f.kind == FileKind::File
                && f.size > 0
                && ((p.starts_with("var/lib/apt/lists/")
                    && !p.ends_with("/lock")
                    && !p.contains("/partial/"))
                    || (p.starts_with("var/cache/apt/")
                        && (p.ends_with(".bin") || p.ends_with(".deb")))
                    || p.starts_with("var/cache/apk/")
                    || p.starts_with("var/cache/yum/")
                    || p.starts_with("var/cache/dnf/")
                    || p.starts_with("root/.cache/pip/"))
        })
        .map(|(p, _)| p)
        .collect();
    if let Some(first) = cache.first() {
        let bytes: u64 = cache
            .iter()
            .filter_map(|p| fs.files.get(*p))
            .map(|f| f.size)
            .sum();
        cx.add(
            &AS_006,
            format!(
                "{} package manager cache files ({:.1} MiB) left in the image, e.g. /{first}",
                cache.len(),
                bytes as f64 / 1048576.0
            ),
            Some((*first).clone()),
        );
    }
}
