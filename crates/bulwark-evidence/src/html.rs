//! The human report: one self-contained HTML page (no scripts, fonts,
//! images or links loaded from anywhere; a Content-Security-Policy that
//! forbids them) that reads on screen and prints on A4: the image and
//! digest, the controls by status, what was found per platform, and each
//! control with its status, reason, evidence and source. Everything shown
//! comes from the same [`Evidence`] as `evidence.json`, escaped.

use std::fmt::Write as _;

use bulwark_eval::escape_html as esc;

use crate::{Evidence, Platform, Status};

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Satisfied => "ok",
        Status::NotSatisfied => "bad",
        Status::NotApplicable => "na",
        Status::Manual => "manual",
    }
}

const STYLE: &str = "body{font:13px/1.45 system-ui,sans-serif;margin:2em;color:#1f2328}\
h1{font-size:20px;margin:0 0 .3em}h2{font-size:16px;margin:1.6em 0 .4em;border-bottom:1px solid #d0d7de}\
h3{font-size:14px;margin:1.2em 0 .3em}.muted{color:#57606a}code{font:12px ui-monospace,monospace;word-break:break-all}\
table{border-collapse:collapse;width:100%;margin:.4em 0}td,th{border-bottom:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f6f8fa}.st{display:inline-block;min-width:7.5em;padding:1px 6px;border-radius:4px;font-weight:600;text-align:center;border:1px solid}\
.ok{color:#1a7f37;border-color:#1a7f37}.bad{color:#cf222e;border-color:#cf222e}.na{color:#57606a;border-color:#8c959f}.manual{color:#9a6700;border-color:#9a6700}\
ul{margin:0;padding-left:1.2em}.summary span{margin-right:1.2em}\
@page{size:A4;margin:14mm}\
@media print{body{margin:0;font-size:10.5px}tr,li{break-inside:avoid}h2,h3{break-after:avoid}thead{display:table-header-group}\
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

/// Renders `ev` as one HTML page.
#[must_use]
pub fn html(ev: &Evidence) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    s.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
    let _ = write!(s, "<title>bulwark evidence: {}</title>", esc(&ev.image));
    let _ = write!(s, "<style>{STYLE}</style></head><body>");
    let _ = write!(
        s,
        "<h1>Evidence for {}</h1><p class=\"muted\">digest <code id=\"digest\">{}</code><br>gathered {} · {} key(s) given · {} platform(s)</p>",
        esc(&ev.image),
        esc(&ev.digest),
        esc(&ev.generated),
        ev.keys,
        ev.platforms.len()
    );
    let q = &ev.parameters;
    let _ = write!(
        s,
        "<p class=\"muted\" id=\"limits\">limits: fixes within {} days of reaching the archive · scans at most {} days old · vulnerability databases at most {} days old{}</p>",
        q.patch_days,
        q.scan_max_age_days,
        q.db_max_age_days,
        ev.policy
            .as_ref()
            .map(|p| format!(
                "<br>evidence policy <code>{}</code> (sha256 {}){}{}",
                esc(&p.origin),
                esc(&p.sha256),
                if p.tailored.is_empty() {
                    String::new()
                } else {
                    format!(" · tailored: {}", esc(&p.tailored.join(", ")))
                },
                if p.expired.is_empty() {
                    String::new()
                } else {
                    format!(
                        " · expired tailoring (no longer applied): {}",
                        esc(&p.expired.join(", "))
                    )
                }
            ))
            .unwrap_or_default()
    );
    s.push_str("<p class=\"summary\" id=\"summary\">");
    for st in [
        Status::Satisfied,
        Status::NotSatisfied,
        Status::Manual,
        Status::NotApplicable,
    ] {
        let _ = write!(
            s,
            "<span><span class=\"st {}\">{}</span> {}</span>",
            status_class(st),
            st.name(),
            ev.summary.get(st.name()).copied().unwrap_or(0)
        );
    }
    s.push_str("</p>");
    s.push_str("<p class=\"muted\">A control is satisfied only when the evidence gathered here shows it. Every file cited is in the bundle (<code>bulwark evidence --format bundle</code>) with its sha256 in MANIFEST.json; signatures and attestations can be checked again with cosign against the digest above.</p>");

    s.push_str("<h2>What was found</h2>");
    for p in &ev.platforms {
        platform(&mut s, p);
    }
    if let Some(a) = &ev.admission {
        let _ = write!(
            s,
            "<h3>Admission decisions</h3><table><tr><th>log</th><td><code>{}</code></td></tr><tr><th>lines</th><td>{} ({} verified)</td></tr><tr><th>decisions for this digest</th><td>{} allowed · {} denied · {} allowed by an enforcing policy · {} on unverified lines (not counted)</td></tr>",
            esc(&a.log),
            a.lines,
            a.verified,
            a.allowed,
            a.denied,
            a.enforced_allowed,
            a.unverified
        );
        if !a.problems.is_empty() {
            let _ = write!(
                s,
                "<tr><th>problems</th><td>{}</td></tr>",
                list(&a.problems)
            );
        }
        s.push_str("</table>");
    }

    s.push_str("<h2>Controls</h2>");
    let mut framework = None;
    for c in &ev.controls {
        if framework != Some(c.framework.as_str()) {
            if framework.is_some() {
                s.push_str("</tbody></table>");
            }
            framework = Some(c.framework.as_str());
            let _ = write!(
                s,
                "<h3>{}</h3><table><thead><tr><th>control</th><th>status</th><th>why, and the evidence</th></tr></thead><tbody>",
                esc(&c.framework)
            );
        }
        let _ = write!(
            s,
            "<tr id=\"control-{}\"><td><b>{}</b> {}<br><span class=\"muted\">{} · rule {}</span></td><td><span class=\"st {}\">{}</span></td><td>{}{}</td></tr>",
            esc(&anchor(&c.framework, &c.id)),
            esc(&c.id),
            esc(&c.title),
            esc(&c.source),
            esc(&c.rule),
            status_class(c.status),
            c.status.name(),
            esc(&c.reason),
            if c.evidence.is_empty() {
                String::new()
            } else {
                list(&c.evidence)
            }
        );
    }
    if framework.is_some() {
        s.push_str("</tbody></table>");
    }
    s.push_str("</body></html>\n");
    s
}

/// An element id for a control: its framework and id, with anything but
/// letters, digits and `-` as `-`.
fn anchor(framework: &str, id: &str) -> String {
    format!("{framework}-{id}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn list(items: &[String]) -> String {
    let mut s = String::from("<ul>");
    for i in items {
        let _ = write!(s, "<li>{}</li>", esc(i));
    }
    s.push_str("</ul>");
    s
}

fn platform(s: &mut String, p: &Platform) {
    let _ = write!(
        s,
        "<h3>{}</h3><table><tr><th style=\"width:12em\">manifest</th><td><code>{}</code></td></tr>",
        esc(&p.platform),
        esc(p.manifest.as_deref().unwrap_or("(the image itself)"))
    );
    let row = |s: &mut String, k: &str, v: String| {
        let _ = write!(s, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row(
        s,
        "user",
        esc(if p.user.is_empty() {
            "(root: none set)"
        } else {
            &p.user
        }),
    );
    row(
        s,
        "ports",
        if p.ports.is_empty() {
            "none".into()
        } else {
            esc(&p.ports.join(", "))
        },
    );
    row(
        s,
        "eval",
        format!(
            "grade {} · score {}/100 · <code>{}</code>",
            esc(&p.grade),
            p.score,
            esc(&p.eval_file)
        ),
    );
    row(s, "packages", p.installed.to_string());
    let verified = p.found.iter().filter(|f| f.verified).count();
    let mut found = format!(
        "{verified} of {} verified{}",
        p.found.len(),
        if p.signed() {
            ""
        } else {
            " · <b>no verified signature</b>"
        }
    );
    if let Some(u) = &p.unsearchable {
        let _ = write!(found, " · not searched: {}", esc(u));
    }
    let lines: Vec<String> = p
        .found
        .iter()
        .map(|f| {
            format!(
                "{} {} ({}) {}{}",
                f.kind,
                f.predicate_type,
                f.format,
                if f.verified {
                    format!("verified with key {}", f.key)
                } else {
                    "NOT verified".to_owned()
                },
                if f.problem.is_empty() {
                    String::new()
                } else {
                    format!(": {}", f.problem)
                }
            )
        })
        .collect();
    if !lines.is_empty() {
        found.push_str(&list(&lines));
    }
    row(s, "signatures and attestations", found);
    let sboms: Vec<String> = p
        .sboms
        .iter()
        .map(|b| {
            let verdict = |name: &str, c: &Option<crate::sbom::Conformance>| match c {
                Some(c) if c.conformant => format!("{name}: conformant"),
                Some(c) => format!("{name}: missing {}", c.missing.join("; ")),
                None => format!("{name}: not checked for this format"),
            };
            format!(
                "{} · {} components · {} · {} · {} · {}",
                b.predicate_type,
                b.components,
                verdict("NTIA minimum elements", &b.ntia),
                verdict("FSCT 3 minimum expected", &b.fsct3),
                verdict("BSI TR-03183-2", &b.bsi),
                b.file
            )
        })
        .collect();
    row(
        s,
        "SBOMs",
        if sboms.is_empty() {
            "none verified".into()
        } else {
            list(&sboms)
        },
    );
    row(
        s,
        "provenance",
        match &p.provenance {
            Some(v) => esc(&format!(
                "builder {} · buildType {} · {} inputs ({} with a digest, {} Debian packages) · {}",
                v.builder, v.build_type, v.dependencies, v.with_digest, v.debs, v.file
            )),
            None => "none verified".into(),
        },
    );
    row(
        s,
        "vulnerabilities",
        match &p.vulnerabilities {
            Some(v) => {
                let mut t = esc(&format!(
                    "scanned {} ({} days ago) · {} packages in {} · {} open, {} suppressed by VEX · KEV: {} · fixable now: {} · {}",
                    v.scanned,
                    v.age_days,
                    v.packages,
                    v.release,
                    v.open,
                    v.suppressed,
                    if v.kev.is_empty() {
                        "none".to_owned()
                    } else {
                        v.kev.join(", ")
                    },
                    v.fixable.len(),
                    v.file
                ));
                let ttf = &v.time_to_fix;
                let mut facts = vec![match (&v.db_date, v.db_age_days) {
                    (Some(at), Some(d)) => {
                        format!("vulnerability data of {at}, {d} days before the scan")
                    }
                    _ => "the report does not say how old its vulnerability data was".to_owned(),
                }];
                if !v.fixable.is_empty() {
                    facts.push(format!(
                        "time to fix: {} fixes the image lacks are dated by the archive{}{}",
                        ttf.dated.len(),
                        ttf.oldest_days
                            .map(|d| format!(
                                " (oldest {d} days, median {} days)",
                                ttf.median_days.unwrap_or(d)
                            ))
                            .unwrap_or_default(),
                        if ttf.undated.is_empty() {
                            String::new()
                        } else {
                            format!("; undated: {}", ttf.undated.join(", "))
                        }
                    ));
                }
                facts.extend(ttf.dated.iter().map(|f| {
                    format!(
                        "{}: fixed in the archive since {} ({} days)",
                        f.cve, f.since, f.days
                    )
                }));
                if !ttf.kev_overdue.is_empty() {
                    facts.push(format!(
                        "past CISA's KEV due date: {}",
                        ttf.kev_overdue.join(", ")
                    ));
                }
                facts.extend(v.warnings.iter().cloned());
                t.push_str(&list(&facts));
                t
            }
            None => "no verified scan report".into(),
        },
    );
    row(s, "VEX statements", p.vex_statements.to_string());
    s.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ControlResult;
    use std::collections::BTreeMap;

    #[test]
    fn escaped_grouped_and_self_contained() {
        let c = |framework: &str, id: &str, status| ControlResult {
            framework: framework.into(),
            id: id.into(),
            title: "t".into(),
            source: "s".into(),
            rule: "r".into(),
            status,
            reason: "<script>alert(1)</script>".into(),
            evidence: vec!["a & b".into()],
        };
        let ev = Evidence {
            image: "oci:/tmp/<x>".into(),
            digest: "sha256:00".into(),
            generated: "2026-12-03T00:00:00Z".into(),
            keys: 1,
            platforms: Vec::new(),
            admission: None,
            controls: vec![
                c("CIS", "4.1", Status::Satisfied),
                c("CIS", "4.2", Status::Manual),
                c("NIST SP 800-53", "CM-7", Status::NotSatisfied),
            ],
            summary: BTreeMap::from([("satisfied", 1), ("manual", 1), ("not-satisfied", 1)]),
            parameters: crate::policy::Parameters::default(),
            policy: None,
            files: BTreeMap::new(),
        };
        let h = html(&ev);
        assert!(!h.contains("<script>") && h.contains("&lt;script&gt;"));
        assert!(h.contains("oci:/tmp/&lt;x&gt;") && h.contains("a &amp; b"));
        assert_eq!(h.matches("<h3>").count(), 2, "one table per framework");
        assert!(h.contains("id=\"control-NIST-SP-800-53-CM-7\""));
        assert!(h.contains("default-src 'none'"));
        for forbidden in ["<script", "<img", "<link", "src=\"http", "href=\"http"] {
            assert!(!h.contains(forbidden), "{forbidden}");
        }
    }
}
