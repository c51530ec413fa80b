//! The rules that decide each control from the evidence (docs/evidence.md
//! lists them). A rule is satisfied only when the evidence shows it, on
//! every platform; otherwise it says what is missing or wrong, and where.

use crate::{Evidence, Platform, Status};

/// A rule's answer.
pub(crate) struct Decided {
    pub status: Status,
    pub reason: String,
    pub evidence: Vec<String>,
}

fn decided(status: Status, reason: impl Into<String>, evidence: Vec<String>) -> Decided {
    Decided {
        status,
        reason: reason.into(),
        evidence,
    }
}

/// The rule names [`decide`] knows (the control data is checked against
/// them).
#[cfg(test)]
pub(crate) const RULES: &[&str] = &[
    "non-root",
    "non-privileged-ports",
    "signed",
    "attestations-verified",
    "content-trust",
    "trusted-inputs",
    "no-unneeded-software",
    "patched-within-30-days",
    "scanned-recently",
    "healthcheck",
    "no-update-alone",
    "no-setuid",
    "copy-not-add",
    "no-secrets",
    "verified-packages",
    "read-only-root",
    "inventory",
    "provenance",
    "pinned-inputs",
    "integrity",
    "slsa-build-l1",
    "slsa-build-l2",
    "slsa-build-l3",
];

/// bulwark build's provenance: every `.deb` it lists was checked against
/// the archive's signed indexes before it was installed.
const BULWARK_BUILD: &str = "urn:bulwark:buildtype:debian-image:v1";

/// The eval findings of `p` with these check ids, as `platform: message`.
fn eval_findings(p: &Platform, ids: &[&str]) -> Vec<String> {
    ids.iter()
        .filter_map(|id| p.findings.get(*id))
        .flatten()
        .map(|m| format!("{}: {m}", p.platform))
        .collect()
}

/// A rule that holds when eval raised none of `ids` on any platform.
fn no_findings(ev: &Evidence, ids: &[&str], ok: &str, what: &str) -> Decided {
    if ev.platforms.is_empty() {
        return decided(
            Status::NotSatisfied,
            "the image has no platform",
            Vec::new(),
        );
    }
    let bad: Vec<String> = ev
        .platforms
        .iter()
        .flat_map(|p| eval_findings(p, ids))
        .collect();
    let files: Vec<String> = ev
        .platforms
        .iter()
        .map(|p| {
            format!(
                "{}: eval checks {} in {}",
                p.platform,
                ids.join(", "),
                p.eval_file
            )
        })
        .collect();
    if bad.is_empty() {
        decided(Status::Satisfied, ok, files)
    } else {
        // The reason names the first findings; the evidence has them all.
        let mut reason = format!("{what}: {}", bad[..bad.len().min(3)].join("; "));
        if bad.len() > 3 {
            reason.push_str(&format!("; and {} more", bad.len() - 3));
        }
        let mut evidence = bad;
        evidence.extend(files);
        decided(Status::NotSatisfied, reason, evidence)
    }
}

/// Per platform, `Ok(fact)` or `Err(problem)`; satisfied when all are Ok.
fn every(ev: &Evidence, ok: &str, f: impl Fn(&Platform) -> Result<String, String>) -> Decided {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for p in &ev.platforms {
        match f(p) {
            Ok(s) => good.push(format!("{}: {s}", p.platform)),
            Err(s) => bad.push(format!("{}: {s}", p.platform)),
        }
    }
    if ev.platforms.is_empty() {
        return decided(
            Status::NotSatisfied,
            "the image has no platform",
            Vec::new(),
        );
    }
    if bad.is_empty() {
        decided(Status::Satisfied, ok, good)
    } else {
        let reason = bad.join("; ");
        bad.extend(good);
        decided(Status::NotSatisfied, reason, bad)
    }
}

fn signature(ev: &Evidence, p: &Platform) -> Result<String, String> {
    if ev.keys == 0 {
        return Err("no key was given (--key), so no signature was verified".into());
    }
    if let Some(why) = &p.unsearchable {
        return Err(format!("signatures cannot be looked for: {why}"));
    }
    let sigs: Vec<String> = p
        .found
        .iter()
        .filter(|f| f.kind == "signature" && f.verified)
        .map(|f| {
            format!(
                "{} signature on {} verified with key {}",
                f.format, f.manifest, f.key
            )
        })
        .collect();
    if sigs.is_empty() {
        Err("no signature verifies with the given key(s)".into())
    } else {
        Ok(sigs.join(", "))
    }
}

fn provenance_of(p: &Platform) -> Result<&crate::Provenance, String> {
    p.provenance
        .as_ref()
        .ok_or_else(|| "no SLSA provenance attestation verifies with the given key(s)".to_owned())
}

/// The platform's newest verified scan, when it can show something: it
/// matched packages in a known release, at most 30 days ago. (Its warnings,
/// such as a database without KEV, are listed with the evidence.)
fn scan_of<'a>(
    p: &'a Platform,
    limits: &crate::policy::Parameters,
) -> Result<&'a crate::Vulnerabilities, String> {
    let (max_age, max_db_age) = (limits.scan_max_age_days, limits.db_max_age_days);
    let v = p.vulnerabilities.as_ref().ok_or_else(|| {
        "no verified vulnerability report for this platform's manifest (attach one with bulwark scan --attest)".to_owned()
    })?;
    if v.packages == 0 || v.release.is_empty() {
        return Err(format!(
            "the verified scan ({}) matched no packages in a known release: it shows nothing",
            v.file
        ));
    }
    if v.age_seconds > max_age * 86_400 {
        return Err(format!(
            "the newest verified scan ({}) is {} days old, more than {max_age}",
            v.scanned, v.age_days
        ));
    }
    match v.db_age_days {
        None => {
            return Err(format!(
                "the verified scan ({}) does not say how old its vulnerability data was: what it knew cannot be dated",
                v.file
            ));
        }
        Some(d) if d > max_db_age => {
            return Err(format!(
                "the verified scan ({}) ran with vulnerability data {d} days old (of {}), more than {max_db_age}: run bulwark db update with current feeds, then scan again",
                v.file,
                v.db_date.as_deref().unwrap_or("?")
            ));
        }
        Some(_) => {}
    }
    Ok(v)
}

/// Decides `rule` for `ev`.
#[allow(clippy::too_many_lines)]
pub(crate) fn decide(rule: &str, ev: &Evidence) -> Decided {
    match rule {
        "non-root" => no_findings(
            ev,
            &["ID-001", "ID-002", "ID-010"],
            "every platform's config runs as a non-root user",
            "the image runs as root, or as a user that is not defined",
        ),
        "non-privileged-ports" => no_findings(
            ev,
            &["EX-002"],
            "no port below 1024 is exposed",
            "a privileged port (below 1024) is exposed",
        ),
        "no-setuid" => no_findings(
            ev,
            &["ID-005", "ID-012"],
            "no file has the setuid or setgid bit or file capabilities",
            "files with the setuid or setgid bit or file capabilities",
        ),
        "no-secrets" => no_findings(
            ev,
            &["SE-001", "SE-002", "SE-003", "SE-004"],
            "no private key, credentials file, .env file or secret-looking ENV, label or build step",
            "secrets in the image or its config",
        ),
        "no-unneeded-software" => no_findings(
            ev,
            &["ST-001", "ST-002", "ST-003", "ST-004"],
            "no shell, network tool, package manager, compiler or debugger",
            "tools a workload does not need are in the image",
        ),
        "healthcheck" => no_findings(
            ev,
            &["PR-001"],
            "the config has a HEALTHCHECK",
            "no HEALTHCHECK in the config (if Kubernetes probes check the workload instead, record that as a deviation)",
        ),
        "no-update-alone" | "copy-not-add" => {
            if ev.platforms.iter().all(|p| p.build_steps == 0) {
                return decided(
                    Status::NotApplicable,
                    "the image was not built from a Dockerfile: its history has no build steps",
                    ev.platforms
                        .iter()
                        .map(|p| format!("{}: 0 build steps in the history", p.platform))
                        .collect(),
                );
            }
            if rule == "copy-not-add" {
                no_findings(
                    ev,
                    &["PR-002"],
                    "no build step uses ADD",
                    "a build step uses ADD",
                )
            } else {
                no_findings(
                    ev,
                    &["PR-008"],
                    "every package index update is followed by an install in the same step",
                    "a build step updates the package index without installing",
                )
            }
        }
        "signed" => every(
            ev,
            "a signature verifies with an approved key on every platform",
            |p| signature(ev, p),
        ),
        "integrity" => every(
            ev,
            "every blob read matched its digest and a signature over the digest verifies",
            |p| {
                signature(ev, p).map(|s| {
                    format!("manifest, config and every layer read matched their digests; {s}")
                })
            },
        ),
        "attestations-verified" => every(
            ev,
            "every signature and attestation found verifies with the given key(s)",
            |p| {
                signature(ev, p)?;
                let bad: Vec<String> = p
                    .found
                    .iter()
                    .filter(|f| !f.verified)
                    .map(|f| {
                        format!(
                            "{} {} ({}): {}",
                            f.format, f.kind, f.predicate_type, f.problem
                        )
                    })
                    .collect();
                if bad.is_empty() {
                    Ok(format!(
                        "{} signed artifact(s) found, all verified",
                        p.found.len()
                    ))
                } else {
                    Err(format!("found but not verified: {}", bad.join("; ")))
                }
            },
        ),
        "content-trust" => {
            let mut evidence: Vec<String> = ev
                .platforms
                .iter()
                .map(|p| match signature(ev, p) {
                    Ok(s) => format!("{}: {s}", p.platform),
                    Err(e) => format!("{}: {e}", p.platform),
                })
                .collect();
            if let Some(a) = &ev.admission {
                evidence.push(format!(
                    "{}: {} admission decisions for this digest, {} allowed by an enforcing policy",
                    a.file, a.decisions, a.enforced_allowed
                ));
            }
            decided(
                Status::Manual,
                "content trust is a setting of the Docker client or of the cluster's admission gate, not of the image: check that verification is enforced where the image runs",
                evidence,
            )
        }
        "read-only-root" => decided(
            Status::Manual,
            "a read-only root filesystem is a runtime setting (securityContext.readOnlyRootFilesystem): the image cannot show how it is run; bulwark build and harden write the matching securityContext beside the image",
            Vec::new(),
        ),
        "trusted-inputs" => {
            let pinned = decide("pinned-inputs", ev);
            if pinned.status != Status::Satisfied {
                return pinned;
            }
            decided(
                Status::Manual,
                "the signed provenance names every input by digest; whether those inputs are trusted base images is the organisation's judgement: review the list",
                pinned.evidence,
            )
        }
        "pinned-inputs" => every(
            ev,
            "the signed provenance names every input by digest",
            |p| {
                let pr = provenance_of(p)?;
                if pr.dependencies == 0 {
                    return Err(format!("the provenance ({}) names no inputs", pr.file));
                }
                if pr.with_digest < pr.dependencies {
                    return Err(format!(
                        "the provenance ({}) names {} of its {} inputs without a digest",
                        pr.file,
                        pr.dependencies - pr.with_digest,
                        pr.dependencies
                    ));
                }
                Ok(format!(
                    "{}: built by {} ({}) from {} inputs, each named by digest",
                    pr.file, pr.builder, pr.build_type, pr.dependencies
                ))
            },
        ),
        "verified-packages" => every(
            ev,
            "every Debian package the build installed is named by digest in the signed provenance",
            |p| {
                let pr = provenance_of(p)?;
                if pr.build_type != BULWARK_BUILD {
                    return Err(format!(
                        "the provenance ({}) is of build type {:?}, which does not show that each installed package was verified",
                        pr.file, pr.build_type
                    ));
                }
                if pr.with_digest < pr.dependencies {
                    return Err(format!(
                        "the provenance ({}) names inputs without a digest",
                        pr.file
                    ));
                }
                // Every package the image's dpkg database holds must be a
                // .deb the provenance lists.
                let missing: Vec<String> = p
                    .packages
                    .iter()
                    .filter(|(name, version)| {
                        let prefix = format!("{name}_{version}_");
                        !pr.deb_names.iter().any(|d| d.starts_with(&prefix))
                    })
                    .map(|(n, v)| format!("{n} {v}"))
                    .collect();
                if p.packages.is_empty() || !missing.is_empty() {
                    return Err(format!(
                        "{} of the {} installed packages are not among the provenance's .deb inputs ({}): {}",
                        missing.len(),
                        p.packages.len(),
                        pr.file,
                        missing
                            .iter()
                            .take(5)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                Ok(format!(
                    "{}: all {} installed packages are .deb inputs named by digest (bulwark build checked each against the signed archive index)",
                    pr.file,
                    p.packages.len()
                ))
            },
        ),
        "provenance" | "slsa-build-l1" => every(
            ev,
            "a signed SLSA provenance attestation names the builder and the build type",
            |p| {
                let pr = provenance_of(p)?;
                if pr.builder.is_empty() || pr.build_type.is_empty() {
                    return Err(format!(
                        "the provenance ({}) lacks its builder id or build type",
                        pr.file
                    ));
                }
                Ok(format!(
                    "{}: builder {}, build type {}",
                    pr.file, pr.builder, pr.build_type
                ))
            },
        ),
        "slsa-build-l2" | "slsa-build-l3" => {
            let l1 = decide("slsa-build-l1", ev);
            if l1.status != Status::Satisfied {
                return decided(
                    Status::NotSatisfied,
                    format!("Build L1 does not hold: {}", l1.reason),
                    l1.evidence,
                );
            }
            let reason = if rule == "slsa-build-l2" {
                "the provenance is signed and verifies (authentic, if the key is the build platform's), but whether the build ran on a hosted build platform is a property of the platform, not shown by the image: check the builder"
            } else {
                "Build L3 asks for isolated builds and provenance that user-defined build steps cannot forge: properties of the build platform that no image shows; check the builder"
            };
            decided(Status::Manual, reason, l1.evidence)
        }
        "inventory" => every(
            ev,
            "a signed SBOM lists the image's components with the NTIA minimum elements",
            |p| {
                if p.sboms.is_empty() {
                    return Err(
                        "no SBOM attestation (SPDX or CycloneDX) verifies with the given key(s)"
                            .into(),
                    );
                }
                let checked: Vec<&crate::Sbom> =
                    p.sboms.iter().filter(|s| s.ntia.is_some()).collect();
                if checked.is_empty() {
                    return Err(
                        "no attested SBOM could be checked for the NTIA minimum elements".into(),
                    );
                }
                // Every SBOM that can be checked must hold: an inventory is
                // not complete because one of its formats looks complete.
                if let Some(s) = checked
                    .iter()
                    .find(|s| s.ntia.as_ref().is_some_and(|c| !c.conformant))
                {
                    return Err(format!(
                        "the SBOM ({}) lacks NTIA minimum elements: {}",
                        s.file,
                        s.ntia
                            .as_ref()
                            .map(|c| c.missing.join("; "))
                            .unwrap_or_default()
                    ));
                }
                Ok(checked
                    .iter()
                    .map(|s| {
                        format!(
                            "{}: {} components, NTIA minimum elements present",
                            s.file, s.components
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "))
            },
        ),
        "scanned-recently" => every(
            ev,
            &format!(
                "a signed vulnerability report no older than {} days",
                ev.parameters.scan_max_age_days
            ),
            |p| {
                let v = scan_of(p, &ev.parameters)?;
                let mut s = format!(
                    "{}: {} packages of {} scanned {} ({} days ago) with vulnerability data of {} ({} days before), {} open findings, {} suppressed by VEX",
                    v.file,
                    v.packages,
                    v.release,
                    v.scanned,
                    v.age_days,
                    v.db_date.as_deref().unwrap_or("?"),
                    v.db_age_days.unwrap_or_default(),
                    v.open,
                    v.suppressed
                );
                if !v.warnings.is_empty() {
                    s.push_str(&format!("; the scan warned: {}", v.warnings.join("; ")));
                }
                Ok(s)
            },
        ),
        "patched-within-30-days" => every(
            ev,
            &format!(
                "a signed vulnerability report no older than {} days shows nothing known exploited open, and every fix the image lacks reached the Debian archive at most {} days ago",
                ev.parameters.scan_max_age_days, ev.parameters.patch_days
            ),
            |p| {
                let v = scan_of(p, &ev.parameters)?;
                let t = &v.time_to_fix;
                if !v.kev.is_empty() {
                    let overdue = if t.kev_overdue.is_empty() {
                        String::new()
                    } else {
                        format!("; past CISA's due date: {}", t.kev_overdue.join(", "))
                    };
                    return Err(format!(
                        "known exploited (CISA KEV) vulnerabilities are open: {}{overdue}",
                        v.kev.join(", ")
                    ));
                }
                let late: Vec<String> = t
                    .dated
                    .iter()
                    .filter(|f| f.days > ev.parameters.patch_days)
                    .map(|f| format!("{} (fixed in the archive {} days ago)", f.cve, f.days))
                    .collect();
                if !late.is_empty() {
                    return Err(format!(
                        "{} fixes the image lacks have been in the archive more than {} days: {}",
                        late.len(),
                        ev.parameters.patch_days,
                        late.join(", ")
                    ));
                }
                if !t.undated.is_empty() {
                    return Err(format!(
                        "{} vulnerabilities have a fixed version that the image does not have, and the report does not say since when (scan with --archive --changelogs to date them): {}",
                        t.undated.len(),
                        t.undated.join(", ")
                    ));
                }
                Ok(match t.oldest_days {
                    Some(d) => format!(
                        "{}: scanned {}; {} fixes the image lacks reached the archive within {} days (oldest {d} days ago): inside the window",
                        v.file,
                        v.scanned,
                        t.dated.len(),
                        ev.parameters.patch_days
                    ),
                    None => format!(
                        "{}: scanned {}, no open vulnerability has a fix",
                        v.file, v.scanned
                    ),
                })
            },
        ),
        other => decided(
            Status::Manual,
            format!("bulwark has no rule {other:?}"),
            Vec::new(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FixAge, TimeToFix, Vulnerabilities};
    use std::collections::BTreeMap;

    fn evidence(v: Vulnerabilities) -> Evidence {
        Evidence {
            image: "i".into(),
            digest: "sha256:00".into(),
            generated: "2026-12-03T00:00:00Z".into(),
            keys: 1,
            platforms: vec![Platform {
                platform: "linux/amd64".into(),
                manifest: Some("sha256:11".into()),
                user: "65532".into(),
                ports: Vec::new(),
                build_steps: 0,
                grade: "A".into(),
                score: 100,
                findings: BTreeMap::new(),
                found: Vec::new(),
                unsearchable: None,
                sboms: Vec::new(),
                provenance: None,
                vulnerabilities: Some(v),
                vex_statements: 0,
                eval_file: "eval.json".into(),
                installed: 10,
                packages: Vec::new(),
            }],
            admission: None,
            controls: Vec::new(),
            summary: BTreeMap::new(),
            parameters: crate::policy::Parameters::default(),
            policy: None,
            files: BTreeMap::new(),
        }
    }

    fn scan(fixable: &[&str], dated: &[(&str, i64)], db_age: Option<i64>) -> Vulnerabilities {
        Vulnerabilities {
            scanned: "2026-12-02T00:00:00Z".into(),
            age_seconds: 86_400,
            age_days: 1,
            packages: 10,
            release: "bookworm".into(),
            warnings: Vec::new(),
            open: fixable.len(),
            suppressed: 0,
            kev: Vec::new(),
            fixable: fixable.iter().map(|s| (*s).to_owned()).collect(),
            db_date: db_age.map(|_| "2026-12-01T00:00:00Z".into()),
            db_age_days: db_age,
            time_to_fix: TimeToFix {
                dated: dated
                    .iter()
                    .map(|(c, d)| FixAge {
                        cve: (*c).into(),
                        since: "2026-11-01T00:00:00Z".into(),
                        days: *d,
                    })
                    .collect(),
                undated: fixable
                    .iter()
                    .filter(|f| !dated.iter().any(|(c, _)| c == *f))
                    .map(|s| (*s).to_owned())
                    .collect(),
                oldest_days: dated.iter().map(|(_, d)| *d).max(),
                median_days: None,
                kev_overdue: Vec::new(),
            },
            file: "scan.json".into(),
        }
    }

    #[test]
    fn patching_counts_days_since_the_fix_reached_the_archive() {
        let rule = "patched-within-30-days";
        let d = decide(rule, &evidence(scan(&[], &[], Some(1))));
        assert_eq!(d.status, Status::Satisfied, "{}", d.reason);
        // A fix that arrived 4 days ago is inside the window.
        let d = decide(rule, &evidence(scan(&["CVE-2"], &[("CVE-2", 4)], Some(1))));
        assert_eq!(d.status, Status::Satisfied, "{}", d.reason);
        assert!(
            d.evidence.iter().any(|e| e.contains("oldest 4 days ago")),
            "{:?}",
            d.evidence
        );
        let d = decide(
            rule,
            &evidence(scan(
                &["CVE-1", "CVE-2"],
                &[("CVE-1", 64), ("CVE-2", 4)],
                Some(1),
            )),
        );
        assert_eq!(d.status, Status::NotSatisfied);
        assert!(
            d.reason
                .contains("CVE-1 (fixed in the archive 64 days ago)"),
            "{}",
            d.reason
        );
        // A fix whose date is unknown cannot be shown to be recent.
        let d = decide(rule, &evidence(scan(&["CVE-3"], &[], Some(1))));
        assert_eq!(d.status, Status::NotSatisfied);
        assert!(d.reason.contains("--archive --changelogs"), "{}", d.reason);
    }

    #[test]
    fn a_scan_with_a_stale_or_undated_database_shows_nothing() {
        for rule in ["patched-within-30-days", "scanned-recently"] {
            let d = decide(rule, &evidence(scan(&[], &[], Some(12))));
            assert_eq!(d.status, Status::NotSatisfied, "{rule}");
            assert!(
                d.reason.contains("data 12 days old") && d.reason.contains("bulwark db update"),
                "{rule}: {}",
                d.reason
            );
            let d = decide(rule, &evidence(scan(&[], &[], None)));
            assert_eq!(d.status, Status::NotSatisfied, "{rule}");
            assert!(d.reason.contains("cannot be dated"), "{rule}: {}", d.reason);
        }
    }
}
