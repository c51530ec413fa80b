//! Scores and grade (docs/eval.md).

use serde::Serialize;

use crate::finding::{Finding, Pillar, Severity};

/// One pillar's score.
#[derive(Clone, Debug, Serialize)]
pub struct PillarScore {
    pub pillar: Pillar,
    /// 0–100.
    pub score: u32,
    pub findings: usize,
}

/// The evaluation of one image (the `--format json` schema).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub image: String,
    pub digest: Option<String>,
    /// `os/arch[/variant]` from the image config.
    pub platform: Option<String>,
    pub grade: String,
    /// 0–100, the mean of the pillar scores.
    pub score: u32,
    pub pillars: Vec<PillarScore>,
    pub findings: Vec<Finding>,
    /// The `--policy` verdict, when a policy was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy::PolicyResult>,
    /// Signatures and attestations found, when they were looked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<crate::trust::Trust>,
    /// What `bulwark scan` found, when a vulnerability database was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<crate::Vulnerabilities>,
    /// How far behind the archive's security fixes, when it was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cadence: Option<crate::Cadence>,
    pub summary: Summary,
}

/// Facts shown alongside the findings.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub layers: usize,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub files: usize,
    pub packages: usize,
    pub os: Option<String>,
    pub user: Option<String>,
    pub created: Option<String>,
    /// (compressed, uncompressed) bytes of each layer, bottom-up.
    pub layer_sizes: Vec<(u64, u64)>,
}

pub(crate) fn penalty(s: Severity) -> u32 {
    match s {
        Severity::Critical => 50,
        Severity::High => 25,
        Severity::Medium => 10,
        Severity::Low => 3,
        Severity::Info => 0,
    }
}

/// A–F from the overall score, capped by the worst finding: any critical
/// finding caps the grade at D, any high finding at C.
pub fn grade_for(score: u32, worst: Option<Severity>) -> String {
    let by_score = match score {
        90..=100 => 'A',
        80..=89 => 'B',
        70..=79 => 'C',
        60..=69 => 'D',
        50..=59 => 'E',
        _ => 'F',
    };
    let cap = match worst {
        Some(Severity::Critical) => 'D',
        Some(Severity::High) => 'C',
        _ => 'A',
    };
    std::cmp::max(by_score, cap).to_string()
}

/// Recomputes scores and grade, leaving out excepted findings.
pub(crate) fn rescore(report: &mut Report) {
    let (pillars, score, grade) = score(
        &report.findings,
        report.vulnerabilities.is_some(),
        report.cadence.is_some(),
    );
    report.pillars = pillars;
    report.score = score;
    report.grade = grade;
}

/// Scores per pillar and overall; the exploitability pillar counts only
/// when vulnerabilities were looked for (`with_vulnerabilities`), the
/// patch-cadence pillar only when the archive was read (`with_cadence`).
pub(crate) fn score(
    findings: &[Finding],
    with_vulnerabilities: bool,
    with_cadence: bool,
) -> (Vec<PillarScore>, u32, String) {
    let pillars: Vec<PillarScore> = Pillar::ALL
        .iter()
        .chain(with_vulnerabilities.then_some(&Pillar::Exploitability))
        .chain(with_cadence.then_some(&Pillar::PatchCadence))
        .map(|p| {
            let mine: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.pillar == *p && f.excepted.is_none())
                .collect();
            let lost: u32 = mine.iter().map(|f| penalty(f.severity)).sum();
            PillarScore {
                pillar: *p,
                score: 100u32.saturating_sub(lost),
                findings: mine.len(),
            }
        })
        .collect();
    let overall = pillars.iter().map(|p| p.score).sum::<u32>() / pillars.len() as u32;
    let worst = findings
        .iter()
        .filter(|f| f.excepted.is_none())
        .map(|f| f.severity)
        .max();
    // Two pillars with no points left (say, root with setuid files, and
    // shells with compilers) fail the image outright, whatever the rest.
    let lost = pillars.iter().filter(|p| p.score == 0).count();
    let grade = if lost >= 2 {
        "F".to_owned()
    } else {
        grade_for(overall, worst)
    };
    (pillars, overall, grade)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades() {
        assert_eq!(grade_for(100, None), "A");
        assert_eq!(grade_for(95, Some(Severity::High)), "C");
        assert_eq!(grade_for(95, Some(Severity::Critical)), "D");
        assert_eq!(grade_for(40, Some(Severity::Low)), "F");
        assert_eq!(grade_for(85, Some(Severity::Medium)), "B");
    }

    #[test]
    fn two_pillars_without_points_fail_the_image() {
        let f = |check: &'static crate::Check, n: usize| {
            (0..n)
                .map(|i| Finding::of(check, format!("{i}"), None))
                .collect::<Vec<_>>()
        };
        let shells = crate::check("ST-001").unwrap();
        let root = crate::check("ID-001").unwrap();
        // One pillar gone: the usual cap (high → C at best; here D by score).
        let one = f(shells, 4);
        let (_, score, grade) = super::score(&one, false, false);
        assert_eq!((score, grade.as_str()), (83, "C"));
        // Two: F.
        let mut two = f(shells, 4);
        two.extend(f(root, 4));
        let (_, score, grade) = super::score(&two, false, false);
        assert_eq!((score, grade.as_str()), (66, "F"));
    }
}
