//! Exposure: ports, kernel-interface volumes, mutable references.

use bulwark_image::{ImageRef, Opened};

use super::Ctx;
use crate::finding::{Check, Pillar::Exposure, Severity};

pub(crate) const EX_001: Check = Check {
    id: "EX-001",
    name: "ExposedPort",
    title: "Exposed ports",
    pillar: Exposure,
    severity: Severity::Info,
    controls: &[],
    fix: "Expose only what the workload serves.",
};
pub(crate) const EX_002: Check = Check {
    id: "EX-002",
    name: "PrivilegedPort",
    title: "Exposed port below 1024",
    pillar: Exposure,
    severity: Severity::Medium,
    controls: &["SRG: non-privileged ports (>1024)"],
    fix: "Listen on a port above 1023.",
};
pub(crate) const EX_003: Check = Check {
    id: "EX-003",
    name: "KernelInterfaceVolume",
    title: "VOLUME on /proc, /sys or /dev",
    pillar: Exposure,
    severity: Severity::High,
    controls: &["SRG: least privilege"],
    fix: "Remove the VOLUME.",
};
pub(crate) const EX_004: Check = Check {
    id: "EX-004",
    name: "LatestTag",
    title: "Reference uses the mutable :latest tag",
    pillar: Exposure,
    severity: Severity::Low,
    controls: &["DKL-DI-0006"],
    fix: "Refer to images by version tag and digest.",
};

pub(crate) const CHECKS: &[Check] = &[EX_001, EX_002, EX_003, EX_004];

/// The tag an image is reached by: the reference's own (`oci:DIR:TAG`,
/// `HOST/REPO:TAG`, `docker-archive:FILE:NAME:TAG`), or for a docker archive
/// named without one, the tag its `RepoTags` gives it.
fn reference_tag(reference: &str, img: &Opened) -> Option<String> {
    let r: ImageRef = reference.parse().ok()?;
    match (&r, r.tag()) {
        (_, Some(t)) => Some(t.to_owned()),
        (ImageRef::DockerArchive { .. }, None) => img
            .repo_tags
            .first()
            .and_then(|t| t.rsplit_once(':'))
            .map(|(_, t)| t)
            .filter(|t| !t.contains('/'))
            .map(str::to_owned),
        _ => None,
    }
}

pub(crate) fn run(cx: &mut Ctx) {
    let cfg = cx.cfg;
    if let Some(ports) = cfg["ExposedPorts"].as_object() {
        for p in ports.keys() {
            let n: u32 = p.split('/').next().unwrap_or("").parse().unwrap_or(0);
            if n > 0 && n < 1024 {
                cx.add(
                    &EX_002,
                    format!("privileged port {p} needs root or CAP_NET_BIND_SERVICE"),
                    Some("config.ExposedPorts".into()),
                );
            } else {
                cx.add(
                    &EX_001,
                    format!("exposes {p}"),
                    Some("config.ExposedPorts".into()),
                );
            }
        }
    }
    if let Some(vols) = cfg["Volumes"].as_object() {
        for v in vols.keys() {
            if ["/proc", "/sys", "/dev"]
                .iter()
                .any(|s| v == s || v.starts_with(&format!("{s}/")))
            {
                cx.add(
                    &EX_003,
                    format!("VOLUME {v} exposes host kernel interfaces"),
                    Some("config.Volumes".into()),
                );
            }
        }
    }
    if reference_tag(&cx.opts.reference, cx.img).as_deref() == Some("latest") {
        cx.add(
            &EX_004,
            "the reference uses the mutable :latest tag".into(),
            None,
        );
    }
}
