//! `bulwark sbom` on images from the synthetic archive, checked by the
//! formats' own validators.

use std::process::Command;

use crate::common::*;

fn image(ctx: &Ctx) {
    ctx.spec(
        "s",
        "archs: [amd64]\npackages: [base-files, hello, ca-certificates]\nexclude:\n  - {package: openssl, reason: native bundle}\n  - {package: debconf, reason: no scripts}\n  - {package: debconf-2.0, reason: no scripts}\n  - {package: awk, reason: no scripts}\n",
    );
    ok(ctx.run(&["build", "s.yaml", "--output", "oci:layout:v1"]));
    ok(ctx.run(&["build", "s.yaml", "--output", "oci-archive:img.tar"]));
    ok(ctx.run(&[
        "build",
        "s.yaml",
        "--output",
        "docker-archive:docker.tar:x/s:1",
    ]));
}

#[test]
fn lists_exactly_the_locked_packages_on_every_transport() {
    let ctx = Ctx::new();
    image(&ctx);
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.path().join("s.lock.json")).unwrap()).unwrap();
    let locked = name_versions(lock["archs"]["amd64"]["packages"].as_array().unwrap());
    for r in [
        "oci:layout:v1",
        "oci-archive:img.tar",
        "docker-archive:docker.tar",
    ] {
        let inv = report(&ok(ctx.run(&["sbom", r, "--format", "json"])));
        let got = name_versions(inv["packages"].as_array().unwrap());
        assert_eq!(got, locked, "{r}");
        assert_eq!(inv["os"]["id"], "debian", "{r}");
    }
    let table = ok(ctx.run(&["sbom", "oci:layout:v1"]));
    assert!(
        table.contains("libc6") && table.contains("LGPL-2.1-only"),
        "{table}"
    );
}

#[test]
fn spdx_and_cyclonedx_pass_their_validators_and_are_deterministic() {
    let ctx = Ctx::new();
    image(&ctx);
    let spdx = ok(ctx.run(&["sbom", "oci:layout:v1", "--format", "spdx-json"]));
    assert_eq!(
        spdx,
        ok(ctx.run(&["sbom", "oci:layout:v1", "--format", "spdx-json"])),
        "same image, same bytes"
    );
    std::fs::write(ctx.path().join("s.spdx.json"), &spdx).unwrap();
    let doc = report(&spdx);
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    let libc = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libc6")
        .unwrap();
    assert_eq!(libc["licenseDeclared"], "LGPL-2.1-only");
    assert_eq!(
        libc["externalRefs"][0]["referenceLocator"],
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
    );
    assert_eq!(libc["supplier"], "Organization: Test (test@example.org)");
    // hello's Depends: libc6 becomes a relationship.
    assert!(
        doc["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["spdxElementId"] == "SPDXRef-Package-deb-hello-amd64"
                && r["relationshipType"] == "DEPENDS_ON"
                && r["relatedSpdxElement"] == "SPDXRef-Package-deb-libc6-amd64"),
        "{:#}",
        doc["relationships"]
    );
    if tool("pyspdxtools") {
        ok(Command::new("pyspdxtools")
            .arg("-i")
            .arg(ctx.path().join("s.spdx.json"))
            .output()
            .unwrap());
    }
    let spdx3 = ok(ctx.run(&["sbom", "oci:layout:v1", "--format", "spdx3-json"]));
    assert_eq!(
        spdx3,
        ok(ctx.run(&["sbom", "oci:layout:v1", "--format", "spdx3-json"])),
        "same image, same bytes"
    );
    let graph = report(&spdx3);
    let sbom = graph["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "software_Sbom")
        .unwrap();
    assert_eq!(
        sbom["software_sbomType"][0], "analyzed",
        "a scan, not a build"
    );
    if tool("python3") {
        let path = ctx.path().join("s.spdx3.json");
        std::fs::write(&path, &spdx3).unwrap();
        assert_valid_spdx3(&path);
    }
    for version in ["1.7", "1.6"] {
        let cdx = ok(ctx.run(&[
            "sbom",
            "oci:layout:v1",
            "--format",
            "cyclonedx-json",
            "--cyclonedx-version",
            version,
        ]));
        let path = ctx.path().join(format!("s.{version}.cdx.json"));
        std::fs::write(&path, &cdx).unwrap();
        assert_eq!(report(&cdx)["specVersion"], version);
        if tool("python3") {
            assert_valid_cyclonedx(&path, version);
        }
    }
}

#[test]
fn a_corrupt_image_is_an_error_not_a_panic() {
    let ctx = Ctx::new();
    image(&ctx);
    let dir = ctx.path().join("layout");
    let m: serde_json::Value = serde_json::from_slice(&blob(&dir, &layout_digest(&dir))).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap().to_owned();
    let p = dir
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    let mut data = std::fs::read(&p).unwrap();
    data.truncate(data.len() / 2);
    std::fs::write(&p, data).unwrap();
    let err = fails(ctx.run(&["sbom", "oci:layout:v1"]));
    assert!(err.contains(&layer), "{err}");
    let err = fails(ctx.run(&["sbom", "oci:layout:missing-tag"]));
    assert!(err.contains("no image tagged"), "{err}");
}

#[test]
fn unsigned_local_builds_write_their_sboms_and_provenance_beside_the_image() {
    let ctx = Ctx::new();
    image(&ctx);
    // Beside the output, so the layout and archives keep exactly one image
    // for skopeo, podman and umoci to pick.
    for dir in ["layout.sbom", "img.tar.sbom", "docker.tar.sbom"] {
        for f in [
            "s-amd64.spdx.json",
            "s-amd64.spdx3.json",
            "s-amd64.cdx.json",
            "s.provenance.json",
        ] {
            assert!(ctx.path().join(dir).join(f).is_file(), "{dir}/{f}");
        }
    }
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.path().join("layout/index.json")).unwrap())
            .unwrap();
    assert_eq!(idx["manifests"].as_array().unwrap().len(), 1, "{idx:#}");
    // The provenance names the image it describes.
    let prov: serde_json::Value = serde_json::from_slice(
        &std::fs::read(ctx.path().join("layout.sbom/s.provenance.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        prov["buildDefinition"]["buildType"],
        "urn:bulwark:buildtype:debian-image:v1"
    );
}

#[test]
fn a_build_without_a_supplier_says_its_sboms_fall_short() {
    let ctx = Ctx::new();
    let body = "archs: [amd64]\npackages: [hello]\n";
    ctx.spec("s", body);
    let notes = |r: &serde_json::Value| r["notes"].to_string();
    let r =
        report(&ok(ctx.run(&[
            "build", "s.yaml", "--output", "oci:a", "--format", "json",
        ])));
    assert!(notes(&r).contains("name no supplier"), "{r:#}");
    ctx.spec(
        "s",
        &format!("{body}sbom:\n  supplier: ACME\n  contact: sec@acme.example\n"),
    );
    let r =
        report(&ok(ctx.run(&[
            "build", "s.yaml", "--output", "oci:b", "--format", "json",
        ])));
    assert!(!notes(&r).contains("supplier"), "{r:#}");
    let spdx: serde_json::Value = serde_json::from_slice(
        &std::fs::read(ctx.path().join("b.sbom/s-amd64.spdx.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        spdx["packages"][0]["supplier"],
        "Organization: ACME (sec@acme.example)"
    );
}
