//! Provenance: where the image comes from and how it was built. PR-004 to
//! PR-007 (signatures and attestations) are declared here and emitted by
//! [`crate::trust::Trust`], which holds the evidence.

use super::{Ctx, runs};
use crate::finding::{Check, Pillar::Provenance, Severity};

const INTEGRITY: &str = "SRG: verify software integrity";
const SIGN_FIX: &str = "Sign the image (bulwark build --sign-key, bulwark sign, or cosign sign) and pass its public key with --key.";

pub(crate) const PR_001: Check = Check {
    id: "PR-001",
    name: "NoHealthcheck",
    title: "No HEALTHCHECK",
    pillar: Provenance,
    severity: Severity::Low,
    controls: &["CIS-4.6", "CIS-DI-0006"],
    fix: "Define a health check in the image, or liveness probes in Kubernetes.",
};
pub(crate) const PR_002: Check = Check {
    id: "PR-002",
    name: "BuiltWithAdd",
    title: "Built with ADD",
    pillar: Provenance,
    severity: Severity::Low,
    controls: &["CIS-4.9", "CIS-DI-0009"],
    fix: "Use COPY.",
};
pub(crate) const PR_003: Check = Check {
    id: "PR-003",
    name: "UntraceableBinaries",
    title: "Binaries without a package database",
    pillar: Provenance,
    severity: Severity::Medium,
    controls: &["CIS-4.11", "SRG: verify software from approved sources"],
    fix: "Build from distribution packages (bulwark keeps status.d) or ship an SBOM.",
};
/// High with `--key`; medium when unsigned and no key was given; info when
/// signed but no key was given.
pub(crate) const PR_004: Check = Check {
    id: "PR-004",
    name: "Unsigned",
    title: "No signature that the given keys verify",
    pillar: Provenance,
    severity: Severity::High,
    controls: &[INTEGRITY, "CIS-4.5"],
    fix: SIGN_FIX,
};
pub(crate) const PR_005: Check = Check {
    id: "PR-005",
    name: "BadSignature",
    title: "A signature or attestation that does not verify",
    pillar: Provenance,
    severity: Severity::High,
    controls: &[INTEGRITY, "SLSA: verified provenance"],
    fix: "Find out who attached it; re-sign with a trusted key, or pass the key that made it.",
};
/// Medium with `--key`, else low.
pub(crate) const PR_006: Check = Check {
    id: "PR-006",
    name: "NoSbomAttestation",
    title: "No signed SBOM attestation",
    pillar: Provenance,
    severity: Severity::Medium,
    controls: &["SRG: software inventory", "EO 14028 SBOM"],
    fix: "Attach a signed SBOM (bulwark build --sign-key does; or bulwark attest --type spdx).",
};
/// Medium with `--key`, else low.
pub(crate) const PR_007: Check = Check {
    id: "PR-007",
    name: "NoProvenanceAttestation",
    title: "No signed SLSA provenance attestation",
    pillar: Provenance,
    severity: Severity::Medium,
    controls: &["SLSA: provenance"],
    fix: "Attach signed SLSA provenance (bulwark build --sign-key does; or bulwark attest --type slsa-provenance).",
};
pub(crate) const PR_008: Check = Check {
    id: "PR-008",
    name: "UpdateWithoutInstall",
    title: "Package index update without an install in the same step",
    pillar: Provenance,
    severity: Severity::Low,
    controls: &["CIS-DI-0007"],
    fix: "Run update and install in one RUN step (or build with bulwark from a lock).",
};
pub(crate) const PR_009: Check = Check {
    id: "PR-009",
    name: "UpgradeInBuild",
    title: "Every package upgraded in a build step",
    pillar: Provenance,
    severity: Severity::Low,
    controls: &["DKL-DI-0003"],
    fix: "Rebuild from a newer, pinned base (bulwark lock --update) instead of upgrading in place.",
};
pub(crate) const PR_010: Check = Check {
    id: "PR-010",
    name: "NoImageLabels",
    title: "No org.opencontainers.image labels or annotations",
    pillar: Provenance,
    severity: Severity::Low,
    controls: &["CHPs: annotations", "OCI image spec annotations"],
    fix: "Label the image (bulwark spec labels: org.opencontainers.image.source, .version, .vendor, .licenses).",
};
pub(crate) const PR_011: Check = Check {
    id: "PR-011",
    name: "UnverifiedDownload",
    title: "Download in a build step without verification",
    pillar: Provenance,
    severity: Severity::Medium,
    controls: &[
        "CIS-4.11",
        "SRG: verify software from approved sources",
        "CHPs: download verification",
    ],
    fix: "Check every download against a pinned sha256 or signature in the same step.",
};

pub(crate) const CHECKS: &[Check] = &[
    PR_001, PR_002, PR_003, PR_004, PR_005, PR_006, PR_007, PR_008, PR_009, PR_010, PR_011,
];

const PMS: &[&str] = &["apt-get", "apt", "apk", "yum", "dnf", "zypper"];
const CHECKERS: &[&str] = &[
    "sha256sum",
    "sha512sum",
    "sha1sum",
    "md5sum",
    "gpg",
    "gpgv",
    "cosign",
    "minisign",
];

pub(crate) fn run(cx: &mut Ctx) {
    let (img, fs, cfg) = (cx.img, cx.fs, cx.cfg);
    // `HEALTHCHECK NONE` (`Test: ["NONE"]`) turns the check off: none.
    let test = cfg["Healthcheck"]["Test"][0].as_str();
    if !matches!(test, Some("CMD" | "CMD-SHELL")) {
        cx.add(
            &PR_001,
            if test == Some("NONE") {
                "HEALTHCHECK NONE: the image turns its health check off".into()
            } else {
                "no HEALTHCHECK in the image config".into()
            },
            Some("config.Healthcheck".into()),
        );
    }
    let history = cx.history;
    for h in history {
        let by = h["created_by"].as_str().unwrap_or("");
        if by.contains(" ADD ") || by.starts_with("ADD ") || by.contains("#(nop) ADD") {
            cx.add(
                &PR_002,
                "the image was built with ADD (remote or archive side effects)".into(),
                Some("history".into()),
            );
        }
    }
    let has_code = fs
        .files
        .keys()
        .any(|p| p.starts_with("usr/lib/") || p.starts_with("usr/bin/"));
    if cx.inv.packages.is_empty() && has_code {
        cx.add(
            &PR_003,
            "binaries without a package database: their origin cannot be traced".into(),
            None,
        );
    }
    // Build steps Dockle and CHPs look at: `update` alone, upgrades and
    // unverified downloads.
    let mut found = Vec::new();
    for (i, cmds) in cx.steps.iter().enumerate() {
        if runs(cmds, PMS, &["update"]) && !runs(cmds, PMS, &["install", "add"]) {
            found.push((&PR_008, i, "a build step runs a package index update without installing in the same step (stale cached layer)"));
        }
        if runs(cmds, PMS, &["upgrade", "dist-upgrade", "full-upgrade"]) {
            found.push((
                &PR_009,
                i,
                "a build step upgrades every package: the image is not reproducible from its base",
            ));
        }
    }
    if let Some(i) = cx
        .steps
        .iter()
        .position(|cmds| runs(cmds, &["curl", "wget"], &[]))
        && !cx.steps.iter().any(|cmds| runs(cmds, CHECKERS, &[]))
    {
        found.push((
            &PR_011,
            i,
            "a build step downloads with curl/wget and no step verifies a checksum or signature",
        ));
    }
    for (check, i, message) in found {
        cx.add(check, message.into(), Some(format!("history.{i}")));
    }
    let labelled = cfg["Labels"]
        .as_object()
        .is_some_and(|l| l.keys().any(|k| k.starts_with("org.opencontainers.image.")))
        || img
            .manifest
            .as_deref()
            .and_then(|m| serde_json::from_slice::<serde_json::Value>(m).ok())
            .and_then(|m| m["annotations"].as_object().cloned())
            .is_some_and(|a| a.keys().any(|k| k.starts_with("org.opencontainers.image.")));
    if !labelled && img.rootfs.is_none() {
        cx.add(
            &PR_010,
            "no org.opencontainers.image.* labels or annotations (source, version, vendor, licences)".into(),
            Some("config.Labels".into()),
        );
    }
}
