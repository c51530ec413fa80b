//! Images from the synthetic archive, checked by real tools.

use std::process::Command;

use crate::common::*;

fn image(ctx: &Ctx) {
    ctx.spec(
        "i",
        "archs: [amd64]\npackages: [base-files, hello]\nexclude: [{package: awk, reason: scripts never run}]\nconfig: {entrypoint: [/usr/bin/hello]}\n",
    );
    ok(ctx.run(&["build", "i.yaml", "--output", "oci:layout:v1"]));
}

#[test]
fn skopeo_inspects_and_copies_every_output() {
    if !tool("skopeo") {
        return;
    }
    let ctx = Ctx::new();
    image(&ctx);
    ok(ctx.run(&["build", "i.yaml", "--output", "oci-archive:img.tar"]));
    ok(ctx.run(&[
        "build",
        "i.yaml",
        "--output",
        "docker-archive:docker.tar:bulwark/i:v1",
    ]));
    for r in [
        "oci:layout:v1",
        "oci-archive:img.tar",
        "docker-archive:docker.tar",
    ] {
        let out = Command::new("skopeo")
            .current_dir(ctx.path())
            .args(["inspect", r])
            .output()
            .unwrap();
        let v = report(&ok(out));
        assert_eq!(v["Architecture"], "amd64", "{r}");
    }
    let out = Command::new("skopeo")
        .current_dir(ctx.path())
        .args(["copy", "oci:layout:v1", "oci:copied:v1"])
        .output()
        .unwrap();
    ok(out);
    let cfg = Command::new("skopeo")
        .current_dir(ctx.path())
        .args(["inspect", "--config", "oci:copied:v1"])
        .output()
        .unwrap();
    let cfg = report(&ok(cfg));
    assert_eq!(cfg["config"]["User"], "65532:65532");
}

#[test]
fn umoci_unpacks_the_layout() {
    if !tool("umoci") {
        return;
    }
    let ctx = Ctx::new();
    image(&ctx);
    let out = Command::new("umoci")
        .current_dir(ctx.path())
        .args(["unpack", "--image", "layout:v1", "bundle"])
        .output()
        .unwrap();
    ok(out);
    let root = ctx.path().join("bundle/rootfs");
    assert_eq!(
        std::fs::read(root.join("usr/bin/hello")).unwrap(),
        b"\x7fELF hello fixed"
    );
    assert_eq!(
        std::fs::read_link(root.join("bin"))
            .unwrap()
            .display()
            .to_string(),
        "usr/bin"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(root.join("home/nonroot")).unwrap().uid(),
        65532
    );
    assert_eq!(
        std::fs::metadata(root.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.path().join("bundle/config.json")).unwrap())
            .unwrap();
    assert_eq!(config["process"]["user"]["uid"], 65532);
}

#[test]
fn podman_loads_the_docker_archive() {
    if !tool("podman") {
        return;
    }
    let ctx = Ctx::new();
    image(&ctx);
    ok(ctx.run(&[
        "build",
        "i.yaml",
        "--output",
        "docker-archive:docker.tar:localhost/bulwark-it:v1",
    ]));
    let out = crate::examples::podman()
        .args(["load", "-i"])
        .arg(ctx.path().join("docker.tar"))
        .output()
        .unwrap();
    let text = ok(out);
    assert!(text.contains("localhost/bulwark-it:v1"), "{text}");
    let _ = crate::examples::podman()
        .args(["rmi", "-f", "localhost/bulwark-it:v1"])
        .output();
}
