//! The HTML evaluation report, rendered by a real browser (headless Chromium).

use std::process::Command;

use crate::common::*;

pub(crate) fn chromium(
    args: &[&str],
    page: &std::path::Path,
    profile: &std::path::Path,
) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

#[test]
fn html_report_renders_in_chromium_and_escapes_hostile_paths() {
    let ctx = Ctx::new();
    ctx.spec(
        "h",
        "archs: [amd64]\npackages: [base-files, hello]\nexclude: [{package: awk, reason: no scripts}]\nfiles: [{src: app, dest: /app}]\nconfig: {exposed-ports: [8080]}\n",
    );
    std::fs::create_dir_all(ctx.path().join("app/<script>alert(1)<")).unwrap();
    std::fs::write(ctx.path().join("app/<script>alert(1)</.env"), "X=1\n").unwrap();
    ok(ctx.run(&["build", "h.yaml", "--output", "oci:layout:v1"]));
    let out = ctx.run(&["eval", "oci:layout:v1", "--format", "html"]);
    let html = ok(out);
    assert!(!html.contains("<script>"), "hostile path not escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/.env"), "{html}");
    let page = ctx.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    if !tool("chromium") {
        return;
    }
    let dom =
        String::from_utf8_lossy(&chromium(&["--dump-dom"], &page, &ctx.path().join("p1")).stdout)
            .into_owned();
    assert!(dom.contains("id=\"grade\""), "{dom}");
    assert!(
        dom.contains("SE-003") && dom.contains("id=\"layers\"") && dom.contains("id=\"pillars\""),
        "{dom}"
    );
    assert!(
        !dom.contains("<script>alert"),
        "the browser saw a script element"
    );
    let png = ctx.path().join("report.png");
    chromium(
        &[
            "--window-size=1000,900",
            &format!("--screenshot={}", png.display()),
        ],
        &page,
        &ctx.path().join("p2"),
    );
    let bytes = std::fs::read(&png).expect("chromium wrote no screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "screenshot looks empty ({} bytes)",
        bytes.len()
    );
}
