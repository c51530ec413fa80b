//! What people read: help texts and error messages, as snapshots.

use crate::common::*;

fn settings(ctx: Option<&Ctx>) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    if let Some(ctx) = ctx {
        s.add_filter(&regex_escape(&ctx.path().display().to_string()), "[TMP]");
        s.add_filter(&regex_escape(&ctx.archive.server.url), "http://[ARCHIVE]");
    }
    s.add_filter(r"bulwark \d+\.\d+\.\d+", "bulwark [VERSION]");
    s.add_filter(r"[0-9A-F]{40}", "[FINGERPRINT]");
    s
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn help_texts() {
    let ctx = Ctx::new();
    settings(None).bind(|| {
        insta::assert_snapshot!("help", ok(ctx.run(&["--help"])));
        insta::assert_snapshot!("build_help", ok(ctx.run(&["build", "--help"])));
    });
}

#[test]
fn error_messages() {
    let ctx = Ctx::new();
    ctx.spec("u", "packages: [broken]\n");
    ctx.spec(
        "risky",
        "packages: [webapp]\nexclude: [{package: awk, reason: scripts never run}]\n",
    );
    std::fs::write(
        ctx.path().join("typo.yaml"),
        "packages: [hello]\nhardening:\n  allow-rot: true\n",
    )
    .unwrap();
    settings(Some(&ctx)).bind(|| {
        insta::assert_snapshot!("unsatisfiable", fails(ctx.run(&["lock", "u.yaml"])));
        insta::assert_snapshot!("high_risk", fails(ctx.run(&["lock", "risky.yaml"])));
        insta::assert_snapshot!("unknown_field", fails(ctx.run(&["lock", "typo.yaml"])));
    });
}
