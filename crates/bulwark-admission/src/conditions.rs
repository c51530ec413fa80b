//! Typed conditions on what an image's verified attestations say: who built
//! it and how (SLSA provenance), what it contains (SBOM), what is known
//! about it (bulwark's vulnerability report), how it grades (bulwark's
//! eval report) and what its compliance evidence says (bulwark's evidence
//! summary), plus the user its config runs as. Only statements that
//! verified under the policy's keys for this exact digest are read; a
//! condition whose attestation is missing fails (fail closed).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use bulwark_sign::Statement;

/// The conditions a policy may set; all absent by default.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Conditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<Sbom>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<Vulnerabilities>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<Eval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceSummary>,
    /// The image config names a numeric, non-zero user (what the kubelet's
    /// `runAsNonRoot` can check).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_root: bool,
}

/// SLSA provenance v1: builder id and build type (globs).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Provenance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_type: Option<String>,
}

/// An SBOM (SPDX 2.3, SPDX 3 or CycloneDX) that names none of `forbid-packages`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Sbom {
    #[serde(default)]
    pub forbid_packages: Vec<String>,
}

/// bulwark's vulnerability report (`bulwark scan --attest`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Vulnerabilities {
    /// No finding in CISA KEV (default true).
    #[serde(default = "yes")]
    pub no_kev: bool,
    /// Nothing above this priority: `monitor`, `plan` or `act-now`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_priority: Option<String>,
    /// The scan is at most this old (`30d`, `12h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
}

fn yes() -> bool {
    true
}

/// bulwark's eval report (`bulwark eval --attest`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Eval {
    /// The lowest grade accepted (`A` … `F`).
    pub min_grade: String,
}

/// bulwark's compliance evidence summary (`bulwark evidence --attest`):
/// no older than `max-age`, with the controls named in `satisfied`
/// satisfied (by id as evidence.json gives it: `4.1`, `CM-8`, `Build L1`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EvidenceSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub satisfied: Vec<String>,
}

/// Predicate type of bulwark's evidence summary.
pub const EVIDENCE_PREDICATE: &str = bulwark_attest::EVIDENCE_PREDICATE;

/// Predicate type of bulwark's eval report.
pub const EVAL_PREDICATE: &str = bulwark_attest::EVAL_PREDICATE;
const PROVENANCE: &str = "https://slsa.dev/provenance/v1";
const SPDX: &str = "https://spdx.dev/Document";
const SPDX3: &str = bulwark_attest::SPDX3_PREDICATE;
const CYCLONEDX: &str = "https://cyclonedx.org/bom";
const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

const PRIORITIES: &[&str] = &["monitor", "plan", "act-now"];
const GRADES: &[&str] = &["A", "B", "C", "D", "E", "F"];

/// `30d`, `12h`, `90m` in seconds.
pub(crate) fn parse_age(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()]
        .parse()
        .ok()
        .filter(|n| *n >= 0)?;
    n.checked_mul(match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        _ => return None,
    })
}

/// What an image gives the conditions to read.
#[derive(Debug, Default)]
pub struct Evidence<'a> {
    /// Statements that verified for this digest.
    pub statements: &'a [Statement],
    /// The image configs (one per platform).
    pub configs: &'a [Value],
    /// Now, in seconds since the epoch.
    pub now: i64,
}

impl Conditions {
    /// Whether the conditions are well formed.
    ///
    /// # Errors
    /// An unknown priority or grade, or an age that is not `N[dhm]`.
    pub fn check(&self) -> Result<(), String> {
        if let Some(v) = &self.vulnerabilities {
            if let Some(p) = &v.max_priority
                && !PRIORITIES.contains(&p.as_str())
            {
                return Err(format!(
                    "vulnerabilities.max-priority {p:?} is not one of {}",
                    PRIORITIES.join(", ")
                ));
            }
            if let Some(a) = &v.max_age
                && parse_age(a).is_none()
            {
                return Err(format!(
                    "vulnerabilities.max-age {a:?} is not an age (30d, 12h, 90m)"
                ));
            }
        }
        if let Some(e) = &self.eval
            && !GRADES.contains(&e.min_grade.as_str())
        {
            return Err(format!(
                "eval.min-grade {:?} is not a grade (A to F)",
                e.min_grade
            ));
        }
        if let Some(e) = &self.evidence {
            if let Some(a) = &e.max_age
                && parse_age(a).is_none()
            {
                return Err(format!(
                    "evidence.max-age {a:?} is not an age (30d, 12h, 90m)"
                ));
            }
            if e.max_age.is_none() && e.satisfied.is_empty() {
                return Err("evidence: names neither max-age nor satisfied controls".into());
            }
        }
        if let Some(s) = &self.sbom
            && s.forbid_packages.iter().any(|p| p.trim().is_empty())
        {
            return Err("sbom.forbid-packages names an empty package".into());
        }
        Ok(())
    }

    /// The predicate types these conditions read (each must verify).
    #[must_use]
    pub fn predicate_types(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.provenance.is_some() {
            v.push(PROVENANCE);
        }
        if self.vulnerabilities.is_some() {
            v.push(VULN);
        }
        if self.eval.is_some() {
            v.push(EVAL_PREDICATE);
        }
        if self.evidence.is_some() {
            v.push(EVIDENCE_PREDICATE);
        }
        v
    }

    /// Whether any condition reads statements (then every statement must
    /// be read, not only enough to pass).
    #[must_use]
    pub fn reads_statements(&self) -> bool {
        self.provenance.is_some()
            || self.sbom.is_some()
            || self.vulnerabilities.is_some()
            || self.eval.is_some()
            || self.evidence.is_some()
    }

    /// Predicate types these conditions read when present (SBOMs, in
    /// either format), beyond those that must verify.
    #[must_use]
    pub fn reads(&self) -> Vec<&'static str> {
        if self.sbom.is_some() {
            vec![SPDX, SPDX3, CYCLONEDX]
        } else {
            Vec::new()
        }
    }

    /// Why the evidence fails these conditions (empty: it holds).
    #[must_use]
    pub fn failures(&self, ev: &Evidence<'_>) -> Vec<String> {
        let mut out = Vec::new();
        let of = |t: &'static str| ev.statements.iter().filter(move |s| s.predicate_type == t);
        if let Some(p) = &self.provenance {
            out.extend(provenance(p, of(PROVENANCE).collect()));
        }
        if let Some(s) = &self.sbom {
            let docs: Vec<&Statement> = of(SPDX).chain(of(SPDX3)).chain(of(CYCLONEDX)).collect();
            out.extend(sbom(s, &docs));
        }
        if let Some(v) = &self.vulnerabilities {
            out.extend(vulnerabilities(v, of(VULN).collect(), ev.now));
        }
        if let Some(e) = &self.eval {
            out.extend(eval(e, of(EVAL_PREDICATE).collect()));
        }
        if let Some(e) = &self.evidence {
            out.extend(evidence(e, of(EVIDENCE_PREDICATE).collect(), ev.now));
        }
        if self.non_root {
            out.extend(ev.configs.iter().filter_map(non_root));
        }
        out
    }
}

fn glob_or_equal(pattern: &str, value: &str) -> bool {
    bulwark_spec::glob_match(pattern, value)
}

fn provenance(p: &Provenance, sts: Vec<&Statement>) -> Vec<String> {
    if sts.is_empty() {
        return vec!["no verified SLSA provenance to check builder and build type against".into()];
    }
    // Every verified provenance must hold: one signed by the right key that
    // says something else is a contradiction, not a pass.
    let mut out = Vec::new();
    for st in sts {
        let pred = &st.predicate;
        let builder = pred
            .pointer("/runDetails/builder/id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let build_type = pred
            .pointer("/buildDefinition/buildType")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(want) = &p.builder_id
            && !glob_or_equal(want, builder)
        {
            out.push(format!(
                "provenance builder id is {builder:?}, the policy requires {want:?}"
            ));
        }
        if let Some(want) = &p.build_type
            && !glob_or_equal(want, build_type)
        {
            out.push(format!(
                "provenance build type is {build_type:?}, the policy requires {want:?}"
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Package names an SBOM document lists (SPDX 2.3 `packages`, SPDX 3
/// `@graph` packages, CycloneDX `components`, nested ones included).
fn sbom_names(doc: &Value) -> Vec<&str> {
    let mut names = Vec::new();
    for p in doc["packages"].as_array().into_iter().flatten() {
        names.extend(p["name"].as_str());
    }
    for e in doc["@graph"].as_array().into_iter().flatten() {
        if e["type"].as_str() == Some("software_Package") {
            names.extend(e["name"].as_str());
        }
    }
    let mut stack: Vec<&Value> = doc["components"].as_array().into_iter().flatten().collect();
    while let Some(c) = stack.pop() {
        names.extend(c["name"].as_str());
        stack.extend(c["components"].as_array().into_iter().flatten());
    }
    names
}

fn sbom(s: &Sbom, docs: &[&Statement]) -> Vec<String> {
    if docs.is_empty() {
        return vec!["no verified SBOM (SPDX or CycloneDX attestation)".into()];
    }
    let mut found: Vec<String> = docs
        .iter()
        .flat_map(|st| sbom_names(&st.predicate))
        .filter(|n| s.forbid_packages.iter().any(|f| f == n))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    if found.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "the SBOM lists forbidden package(s): {}",
            found.join(", ")
        )]
    }
}

fn vulnerabilities(v: &Vulnerabilities, sts: Vec<&Statement>, now: i64) -> Vec<String> {
    // The newest report counts: an old one is superseded, not merged. A
    // report dated in the future (past five minutes of clock skew) or
    // undated cannot be the newest.
    let when = |st: &Statement| {
        st.predicate
            .pointer("/metadata/scanFinishedOn")
            .and_then(Value::as_str)
            .and_then(bulwark_debian::time::parse_rfc3339)
            .filter(|t| *t <= now + 300)
    };
    if sts.is_empty() {
        return vec!["no verified vulnerability report (bulwark scan --attest)".into()];
    }
    let Some(st) = sts
        .iter()
        .copied()
        .filter(|st| when(st).is_some())
        .max_by_key(|st| when(st))
    else {
        return vec![
            "no verified vulnerability report has a valid scanFinishedOn date (not in the future)"
                .into(),
        ];
    };
    let Some(result) = st
        .predicate
        .pointer("/scanner/result")
        .filter(|r| r["findings"].is_array())
    else {
        return vec![
            "the vulnerability attestation is not a bulwark scan report (scanner.result.findings)"
                .into(),
        ];
    };
    let mut out = Vec::new();
    if let Some(age) = &v.max_age {
        let limit = parse_age(age).unwrap_or(0);
        let finished = st
            .predicate
            .pointer("/metadata/scanFinishedOn")
            .and_then(Value::as_str)
            .and_then(bulwark_debian::time::parse_rfc3339);
        match finished {
            Some(t) if now - t <= limit => {}
            Some(t) => out.push(format!(
                "the vulnerability scan is {} days old, the policy allows {age}",
                (now - t) / 86_400
            )),
            None => out.push("the vulnerability scan has no valid scanFinishedOn date".into()),
        }
    }
    let live = result["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f.get("suppressed_by").is_none_or(Value::is_null));
    let rank = |p: &str| PRIORITIES.iter().position(|x| *x == p);
    let max = v.max_priority.as_deref().and_then(rank);
    let mut kev = Vec::new();
    let mut above = Vec::new();
    for f in live {
        let id = f["id"].as_str().unwrap_or("?");
        if v.no_kev && f.get("kev").is_some_and(|k| !k.is_null()) {
            kev.push(id.to_owned());
        }
        let p = f["priority"].as_str().unwrap_or("act-now");
        if let Some(max) = max
            && rank(p).is_none_or(|r| r > max)
        {
            above.push(format!("{id} ({p})"));
        }
    }
    if !kev.is_empty() {
        out.push(format!("known exploited (CISA KEV): {}", kev.join(", ")));
    }
    if !above.is_empty() {
        out.push(format!(
            "finding(s) above {}: {}",
            v.max_priority.as_deref().unwrap_or_default(),
            above.join(", ")
        ));
    }
    out
}

fn evidence(e: &EvidenceSummary, sts: Vec<&Statement>, now: i64) -> Vec<String> {
    // The newest summary counts; one dated in the future (past five
    // minutes of clock skew) or undated cannot be the newest.
    let when = |st: &Statement| {
        st.predicate["generated"]
            .as_str()
            .and_then(bulwark_debian::time::parse_rfc3339)
            .filter(|t| *t <= now + 300)
    };
    if sts.is_empty() {
        return vec!["no verified evidence summary (bulwark evidence --attest)".into()];
    }
    let Some((st, t)) = sts
        .iter()
        .filter_map(|st| when(st).map(|t| (*st, t)))
        .max_by_key(|(_, t)| *t)
    else {
        return vec![
            "no verified evidence summary has a valid generated date (not in the future)".into(),
        ];
    };
    let mut out = Vec::new();
    if let Some(age) = &e.max_age {
        let limit = parse_age(age).unwrap_or(0);
        if now - t > limit {
            out.push(format!(
                "the evidence is {} days old, the policy allows {age}",
                (now - t) / 86_400
            ));
        }
    }
    let controls = st.predicate["controls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for want in &e.satisfied {
        match controls
            .iter()
            .find(|c| c["id"].as_str() == Some(want.as_str()))
        {
            None => out.push(format!("the evidence does not decide control {want}")),
            Some(c) if c["status"].as_str() == Some("satisfied") => {}
            Some(c) => out.push(format!(
                "control {want} is {} in the evidence: {}",
                c["status"].as_str().unwrap_or("?"),
                c["reason"].as_str().unwrap_or("")
            )),
        }
    }
    out
}

fn eval(e: &Eval, sts: Vec<&Statement>) -> Vec<String> {
    if sts.is_empty() {
        return vec!["no verified eval report (bulwark eval --attest)".into()];
    }
    let want = GRADES.iter().position(|g| *g == e.min_grade).unwrap_or(0);
    let mut out = Vec::new();
    for st in sts {
        let g = st.predicate["grade"].as_str().unwrap_or("?");
        if GRADES.iter().position(|x| *x == g).is_none_or(|r| r > want) {
            out.push(format!(
                "eval grade is {g}, the policy requires {} or better",
                e.min_grade
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Why a config does not run as a numeric non-zero user.
fn non_root(config: &Value) -> Option<String> {
    let user = config
        .pointer("/config/User")
        .and_then(Value::as_str)
        .unwrap_or("");
    let uid = user.split(':').next().unwrap_or("");
    let arch = config["architecture"].as_str().unwrap_or("?");
    if uid.is_empty() {
        return Some(format!(
            "the image ({arch}) sets no user, so it runs as root"
        ));
    }
    match uid.parse::<u32>() {
        Ok(0) => Some(format!("the image ({arch}) runs as root (User {user:?})")),
        Ok(_) => None,
        Err(_) => Some(format!(
            "the image ({arch}) names its user {user:?}: the kubelet cannot check a name against runAsNonRoot; use a numeric UID"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn st(ptype: &str, predicate: Value) -> Statement {
        Statement::new("r/a", "sha256:00", ptype, predicate)
    }

    fn conds(yaml: &str) -> Conditions {
        let c: Conditions = serde_saphyr::from_str(yaml).unwrap();
        c.check().unwrap();
        c
    }

    #[test]
    fn provenance_builder_and_build_type() {
        let c = conds(
            "provenance: {builder-id: 'urn:bulwark:builder:*', build-type: 'urn:bulwark:buildtype:debian-image:v1'}",
        );
        let good = st(
            PROVENANCE,
            json!({"buildDefinition": {"buildType": "urn:bulwark:buildtype:debian-image:v1"}, "runDetails": {"builder": {"id": "urn:bulwark:builder:0.1.0"}}}),
        );
        let ev = |s: &[Statement]| {
            c.failures(&Evidence {
                statements: s,
                configs: &[],
                now: 0,
            })
        };
        assert!(ev(std::slice::from_ref(&good)).is_empty());
        let bad = st(
            PROVENANCE,
            json!({"buildDefinition": {"buildType": "https://example/docker"}, "runDetails": {"builder": {"id": "ci"}}}),
        );
        let f = ev(&[good, bad]);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(
            f[0].contains("build type is \"https://example/docker\""),
            "{f:?}"
        );
        assert!(
            ev(&[])
                .iter()
                .any(|f| f.contains("no verified SLSA provenance"))
        );
    }

    #[test]
    fn sboms_of_every_format_are_read() {
        let c = conds("sbom: {forbid-packages: [bash, busybox]}");
        for (ptype, doc) in [
            (
                SPDX,
                json!({"spdxVersion": "SPDX-2.3", "packages": [{"name": "hello"}, {"name": "bash"}]}),
            ),
            // As builds attest SPDX 3: its own predicate type.
            (
                SPDX3,
                json!({"@graph": [{"type": "software_Package", "name": "bash"}]}),
            ),
            (
                CYCLONEDX,
                json!({"bomFormat": "CycloneDX", "components": [{"name": "x", "components": [{"name": "bash"}]}]}),
            ),
        ] {
            let f = c.failures(&Evidence {
                statements: &[st(ptype, doc)],
                configs: &[],
                now: 0,
            });
            assert_eq!(f, ["the SBOM lists forbidden package(s): bash"]);
        }
        let clean = st(CYCLONEDX, json!({"components": [{"name": "hello"}]}));
        assert!(
            c.failures(&Evidence {
                statements: &[clean],
                configs: &[],
                now: 0
            })
            .is_empty()
        );
        assert!(!c.failures(&Evidence::default()).is_empty());
    }

    #[test]
    fn vulnerability_reports_kev_priority_and_age() {
        let c = conds("vulnerabilities: {max-priority: plan, max-age: 30d}");
        let report = |findings: Value, when: &str| {
            st(
                VULN,
                json!({"scanner": {"result": {"findings": findings}}, "metadata": {"scanFinishedOn": when}}),
            )
        };
        let now = bulwark_debian::time::parse_rfc3339("2026-12-02T00:00:00Z").unwrap();
        let ev = |s: Statement| {
            c.failures(&Evidence {
                statements: &[s],
                configs: &[],
                now,
            })
        };
        assert!(
            ev(report(
                json!([{"id": "CVE-1", "priority": "plan"}]),
                "2026-11-30T00:00:00Z"
            ))
            .is_empty()
        );
        let f = ev(report(
            json!([
                {"id": "CVE-2", "priority": "act-now", "kev": {"dateAdded": "2025-01-01"}},
                {"id": "CVE-3", "priority": "act-now", "kev": {}, "suppressed_by": {"statement": "x"}}
            ]),
            "2026-10-01T00:00:00Z",
        ));
        assert_eq!(f.len(), 3, "{f:?}");
        assert!(f[0].contains("62 days old"), "{f:?}");
        assert_eq!(f[1], "known exploited (CISA KEV): CVE-2");
        assert_eq!(f[2], "finding(s) above plan: CVE-2 (act-now)");
        let other = st(
            VULN,
            json!({"scanner": {"result": "trivy output"}, "metadata": {"scanFinishedOn": "2026-12-01T00:00:00Z"}}),
        );
        assert!(ev(other)[0].contains("not a bulwark scan report"));
        let undated = st(VULN, json!({"scanner": {"result": {"findings": []}}}));
        assert!(ev(undated)[0].contains("valid scanFinishedOn"));
    }

    #[test]
    fn eval_grades_and_non_root_users() {
        let c = conds("eval: {min-grade: B}\nnon-root: true");
        let cfg = |user: &str| json!({"architecture": "amd64", "config": {"User": user}});
        let configs = [cfg("65532:65532")];
        let ok = st(EVAL_PREDICATE, json!({"grade": "A"}));
        assert!(
            c.failures(&Evidence {
                statements: &[ok],
                configs: &configs,
                now: 0
            })
            .is_empty()
        );
        let configs = [cfg(""), cfg("0"), cfg("app"), cfg("1000")];
        let f = c.failures(&Evidence {
            statements: &[st(EVAL_PREDICATE, json!({"grade": "C"}))],
            configs: &configs,
            now: 0,
        });
        assert_eq!(f.len(), 4, "{f:?}");
        assert!(f[0].contains("grade is C, the policy requires B or better"));
        assert!(f[1].contains("sets no user"));
        assert!(f[2].contains("runs as root"));
        assert!(f[3].contains("numeric UID"));
    }

    #[test]
    fn evidence_summaries_by_age_and_control() {
        let c = conds("evidence: {max-age: 30d, satisfied: ['4.1', CM-8]}");
        assert_eq!(c.predicate_types(), [EVIDENCE_PREDICATE]);
        let now = 1_800_000_000;
        let summary = |generated: &str, cm8: &str| Statement {
            type_: "https://in-toto.io/Statement/v1".into(),
            subject: vec![],
            predicate_type: EVIDENCE_PREDICATE.into(),
            predicate: json!({"generated": generated, "controls": [
                {"id": "4.1", "status": "satisfied", "reason": "ok"},
                {"id": "CM-8", "status": cm8, "reason": "no SBOM attestation"},
            ]}),
        };
        let ev = |sts: &[Statement]| {
            c.failures(&Evidence {
                statements: sts,
                configs: &[],
                now,
            })
        };
        let fresh = bulwark_debian::time::format_rfc3339(now - 86_400);
        let old = bulwark_debian::time::format_rfc3339(now - 40 * 86_400);
        assert!(ev(&[summary(&fresh, "satisfied")]).is_empty());
        assert_eq!(
            ev(&[summary(&old, "satisfied")]),
            ["the evidence is 40 days old, the policy allows 30d"]
        );
        assert_eq!(
            ev(&[summary(&fresh, "not-satisfied")]),
            ["control CM-8 is not-satisfied in the evidence: no SBOM attestation"]
        );
        // The newest counts: an old failing one is superseded.
        assert!(ev(&[summary(&old, "not-satisfied"), summary(&fresh, "satisfied")]).is_empty());
        assert_eq!(
            ev(&[]),
            ["no verified evidence summary (bulwark evidence --attest)"]
        );
    }

    #[test]
    fn malformed_conditions_are_refused() {
        for (yaml, want) in [
            ("vulnerabilities: {max-priority: high}", "max-priority"),
            ("vulnerabilities: {max-age: soon}", "max-age"),
            ("eval: {min-grade: A+}", "min-grade"),
            ("sbom: {forbid-packages: ['']}", "empty package"),
            ("evidence: {max-age: a month}", "evidence.max-age"),
            ("evidence: {}", "neither max-age nor satisfied"),
        ] {
            let c: Conditions = serde_saphyr::from_str(yaml).unwrap();
            assert!(c.check().unwrap_err().contains(want), "{yaml}");
        }
        assert!(serde_saphyr::from_str::<Conditions>("signed: true").is_err());
        assert_eq!(parse_age("30d"), Some(30 * 86_400));
        assert_eq!(parse_age("d"), None);
        assert_eq!(parse_age("30é"), None);
    }
}
