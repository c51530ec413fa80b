//! A self-contained HTML report: grade, pillar scores, a layer-size chart
//! and the findings. No scripts, fonts or images are loaded from anywhere.

use crate::finding::Severity;
use crate::score::Report;

/// `s` escaped for HTML text and attribute values.
#[must_use]
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

use escape_html as esc;

fn grade_color(g: &str) -> &'static str {
    match g {
        "A" => "#1a7f37",
        "B" => "#4c9a2a",
        "C" => "#bf8700",
        "D" => "#d1570b",
        _ => "#cf222e",
    }
}

/// Renders the reports (one per platform) as one HTML page.
pub fn html(reports: &[Report]) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let title = reports.first().map(|r| r.image.as_str()).unwrap_or("");
    s.push_str(&format!("<title>bulwark eval: {}</title>", esc(title)));
    s.push_str("<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1f2328}h1{font-size:20px}\
        .grade{display:inline-block;font-size:48px;font-weight:700;color:#fff;border-radius:8px;padding:4px 22px;margin-right:16px}\
        table{border-collapse:collapse;margin-top:1em;width:100%}td,th{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}\
        .sev-critical,.sev-high{color:#cf222e;font-weight:600}.sev-medium{color:#9a6700;font-weight:600}.sev-low{color:#57606a}\
        .muted{color:#57606a}svg text{font:12px system-ui,sans-serif}</style></head><body><h1>bulwark eval</h1>");
    for (i, r) in reports.iter().enumerate() {
        // The first report keeps the plain element ids.
        let sfx = if i == 0 {
            String::new()
        } else {
            format!("-{}", i + 1)
        };
        section(&mut s, r, &sfx);
    }
    s.push_str("</body></html>\n");
    s
}

fn section(s: &mut String, r: &Report, sfx: &str) {
    s.push_str("<section>");
    if let Some(p) = &r.platform {
        s.push_str(&format!("<h2>{}</h2>", esc(p)));
    }
    s.push_str(&format!(
        "<p><span class=\"grade\" id=\"grade{sfx}\" style=\"background:{}\">{}</span><span id=\"score{sfx}\">score {}/100</span></p>",
        grade_color(&r.grade),
        esc(&r.grade),
        r.score
    ));
    s.push_str(&format!(
        "<p class=\"muted\">{}<br>{}</p>",
        esc(&r.image),
        esc(r.digest.as_deref().unwrap_or(""))
    ));
    let m = &r.summary;
    s.push_str(&format!(
        "<p>{} layers · {:.1} MiB compressed · {:.1} MiB uncompressed · {} files · {} packages · OS {} · user {}</p>",
        m.layers,
        m.compressed_size as f64 / 1048576.0,
        m.uncompressed_size as f64 / 1048576.0,
        m.files,
        m.packages,
        esc(m.os.as_deref().unwrap_or("unknown")),
        esc(m.user.as_deref().filter(|u| !u.is_empty()).unwrap_or("(root)"))
    ));

    // Pillar scores as bars.
    s.push_str(&format!(
        "<h3>Pillars</h3><svg id=\"pillars{sfx}\" width=\"520\" height=\""
    ));
    s.push_str(&(r.pillars.len() * 26 + 4).to_string());
    s.push_str("\" role=\"img\" aria-label=\"pillar scores\">");
    for (i, p) in r.pillars.iter().enumerate() {
        let y = i * 26 + 2;
        let w = p.score as usize * 3;
        let color = if p.score >= 90 {
            "#1a7f37"
        } else if p.score >= 70 {
            "#bf8700"
        } else {
            "#cf222e"
        };
        s.push_str(&format!(
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"130\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            y + 14,
            p.pillar.name(),
            135 + w,
            y + 14,
            p.score
        ));
    }
    s.push_str("</svg>");

    // Layer sizes.
    let max = m
        .layer_sizes
        .iter()
        .map(|l| l.1.max(l.0))
        .max()
        .unwrap_or(1)
        .max(1);
    s.push_str(&format!(
        "<h3>Layers</h3><svg id=\"layers{sfx}\" width=\"620\" height=\""
    ));
    s.push_str(&(m.layer_sizes.len() * 26 + 4).to_string());
    s.push_str("\" role=\"img\" aria-label=\"layer sizes\">");
    for (i, (c, u)) in m.layer_sizes.iter().enumerate() {
        let y = i * 26 + 2;
        let wu = (*u as f64 / max as f64 * 400.0) as usize;
        let wc = (*c as f64 / max as f64 * 400.0) as usize;
        s.push_str(&format!(
            "<text x=\"0\" y=\"{}\">layer {}</text><rect x=\"70\" y=\"{y}\" width=\"{wu}\" height=\"18\" fill=\"#d0d7de\"/><rect x=\"70\" y=\"{y}\" width=\"{wc}\" height=\"18\" fill=\"#0969da\"/><text x=\"{}\" y=\"{}\">{:.1} / {:.1} MiB</text>",
            y + 14,
            i + 1,
            75 + wu.max(wc),
            y + 14,
            *c as f64 / 1048576.0,
            *u as f64 / 1048576.0
        ));
    }
    s.push_str("</svg><p class=\"muted\">blue: compressed, grey: uncompressed</p>");

    s.push_str(&format!("<h3>Findings</h3><table id=\"findings{sfx}\"><tr><th>severity</th><th>id</th><th>finding</th><th>controls</th><th>fix</th></tr>"));
    for f in r.findings.iter().filter(|f| f.severity > Severity::Info) {
        let sev = format!("{:?}", f.severity).to_lowercase();
        let note = f
            .excepted
            .as_ref()
            .map(|e| format!("<br><span class=\"muted\">excepted: {}</span>", esc(e)))
            .unwrap_or_default();
        s.push_str(&format!(
            "<tr><td class=\"sev-{sev}\">{sev}</td><td>{}</td><td>{}{}{note}</td><td>{}</td><td>{}</td></tr>",
            f.id,
            esc(&f.message),
            f.path.as_ref().map(|p| format!("<br><code>{}</code>", esc(p))).unwrap_or_default(),
            esc(&f.controls.join(", ")),
            esc(f.remediation)
        ));
    }
    s.push_str("</table></section>");
}
