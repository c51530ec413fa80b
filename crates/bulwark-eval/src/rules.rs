//! The catalog of check ids: a short title and a rule name for each, used by
//! SARIF output (and kept in step with docs/eval.md by a test).

/// One check as a rule.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// `AS-001`, `ST-001`, …
    pub id: &'static str,
    /// PascalCase name (SARIF `rule.name`).
    pub name: &'static str,
    /// One line saying what the check looks for.
    pub title: &'static str,
}

const fn r(id: &'static str, name: &'static str, title: &'static str) -> Rule {
    Rule { id, name, title }
}

/// Every check bulwark runs, in id order.
pub const RULES: &[Rule] = &[
    r(
        "AS-001",
        "ImageInventory",
        "Size, layer, file and package counts of the image",
    ),
    r("AS-002", "TooManyLayers", "More than 20 layers"),
    r("AS-003", "LargeImage", "More than 500 MiB uncompressed"),
    r(
        "AS-004",
        "StaleImage",
        "Image created more than 30 days ago",
    ),
    r(
        "AS-005",
        "PackagesNotNeededByEntrypoint",
        "Packages that the entrypoint does not need",
    ),
    r(
        "AS-006",
        "PackageManagerCache",
        "Package manager caches left in the image",
    ),
    r(
        "AS-007",
        "UnverifiableCreationDate",
        "Creation date missing, unreadable or in the future",
    ),
    r("EX-001", "ExposedPort", "Exposed ports"),
    r("EX-002", "PrivilegedPort", "Exposed port below 1024"),
    r(
        "EX-003",
        "KernelInterfaceVolume",
        "VOLUME on /proc, /sys or /dev",
    ),
    r(
        "EX-004",
        "LatestTag",
        "Reference uses the mutable :latest tag",
    ),
    r("ID-001", "RunsAsRoot", "Image runs as root"),
    r(
        "ID-002",
        "UnresolvableUser",
        "USER neither numeric nor in /etc/passwd",
    ),
    r("ID-003", "EmptyPassword", "Account with an empty password"),
    r("ID-004", "DuplicateId", "Duplicate uid or gid"),
    r("ID-005", "SetuidFile", "Setuid or setgid file"),
    r(
        "ID-006",
        "WorldWritable",
        "World-writable file or non-sticky world-writable directory",
    ),
    r(
        "ID-007",
        "UserOwnsSystemPath",
        "System path owned by the run-as user",
    ),
    r("ID-008", "DeviceNode", "Device node outside /dev"),
    r(
        "ID-009",
        "Sudo",
        "sudo or doas in the image or its build steps",
    ),
    r(
        "ID-010",
        "SecondSuperuser",
        "An account other than root with uid 0",
    ),
    r("ID-011", "LoginShell", "An account with a login shell"),
    r("PR-001", "NoHealthcheck", "No HEALTHCHECK"),
    r("PR-002", "BuiltWithAdd", "Built with ADD"),
    r(
        "PR-003",
        "UntraceableBinaries",
        "Binaries without a package database",
    ),
    r(
        "PR-004",
        "Unsigned",
        "No signature that the given keys verify",
    ),
    r(
        "PR-005",
        "BadSignature",
        "A signature or attestation that does not verify",
    ),
    r("PR-006", "NoSbomAttestation", "No signed SBOM attestation"),
    r(
        "PR-007",
        "NoProvenanceAttestation",
        "No signed SLSA provenance attestation",
    ),
    r(
        "PR-008",
        "UpdateWithoutInstall",
        "Package index update without an install in the same step",
    ),
    r(
        "PR-009",
        "UpgradeInBuild",
        "Every package upgraded in a build step",
    ),
    r(
        "PR-010",
        "NoImageLabels",
        "No org.opencontainers.image labels or annotations",
    ),
    r(
        "PR-011",
        "UnverifiedDownload",
        "Download in a build step without verification",
    ),
    r("SE-001", "PrivateKey", "Private key in the image"),
    r("SE-002", "CredentialsFile", "Credentials file in the image"),
    r("SE-003", "EnvFile", ".env file in the image"),
    r(
        "SE-004",
        "SecretInConfig",
        "Secret-looking ENV, label or build step",
    ),
    r(
        "SE-005",
        "UnneededFile",
        "Unneeded file (.git, Dockerfile, editor files)",
    ),
    r("ST-001", "Shell", "Shell or busybox applet"),
    r(
        "ST-002",
        "NetworkTool",
        "Network tool (curl, wget, nc, socat, ssh, telnet)",
    ),
    r("ST-003", "PackageManager", "Package manager"),
    r("ST-004", "CompilerOrDebugger", "Compiler or debugger"),
];

/// The rule for `id`.
#[must_use]
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every id a check can emit, found in the source, has a rule, and
    /// every rule is documented.
    #[test]
    fn every_emitted_id_has_a_rule_and_docs() {
        let src = concat!(include_str!("checks.rs"), include_str!("trust.rs"));
        let docs = include_str!("../../../docs/eval.md");
        let bytes = src.as_bytes();
        let mut seen = 0;
        for i in 0..bytes.len().saturating_sub(8) {
            let w = &bytes[i..i + 8];
            if w[0] == b'"'
                && w[1].is_ascii_uppercase()
                && w[2].is_ascii_uppercase()
                && w[3] == b'-'
                && w[4..7].iter().all(u8::is_ascii_digit)
                && w[7] == b'"'
            {
                let id = std::str::from_utf8(&w[1..7]).unwrap();
                assert!(rule(id).is_some(), "{id} is emitted but has no rule");
                seen += 1;
            }
        }
        assert!(seen > 20);
        for r in RULES {
            assert!(
                docs.contains(&format!("| {} |", r.id)),
                "{} is not in docs/eval.md",
                r.id
            );
        }
        assert!(RULES.windows(2).all(|w| w[0].id < w[1].id));
    }
}
