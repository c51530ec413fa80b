//! The OCI 1.1 referrers API branch. Debian's docker-registry 2.8 (the
//! interoperability registry) has no referrers API, so this protocol-level
//! test serves the documented endpoint from loopback: when a registry
//! answers `GET /v2/<name>/referrers/<digest>` with an index, bulwark uses
//! it and never writes the `sha256-<hex>` fallback tag.
#![allow(clippy::unwrap_used)]

use bulwark_store::{Options, Target};
use bulwark_test_support::{Fault, HttpServer};

#[test]
fn a_registry_with_the_referrers_api_is_asked_directly() {
    let root = tempfile::tempdir().unwrap();
    let subject = format!("sha256:{}", "ab".repeat(32));
    let referrer = format!("sha256:{}", "cd".repeat(32));
    let dir = root.path().join("v2/team/app/referrers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(&subject),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": referrer, "size": 700,
                "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "annotations": {"dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"}
            }]
        }))
        .unwrap(),
    )
    .unwrap();
    let server = HttpServer::serve(root.path());
    // The API version check: `GET /v2/` answers 200.
    server.fault("/v2/", Fault::Status(200));
    server.content_type("/referrers/", "application/vnd.oci.image.index.v1+json");
    let host = server.url.trim_start_matches("http://").to_owned();
    let t = Target::open(
        &format!("{host}/team/app:1"),
        &Options {
            insecure: true,
            ..Options::default()
        },
    )
    .unwrap();
    let found = t.store.referrers(&subject).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].digest, referrer);
    assert_eq!(
        found[0].artifact_type.as_deref(),
        Some("application/vnd.dev.sigstore.bundle.v0.3+json")
    );
    // The fallback tag was never asked for.
    assert_eq!(
        server.hits(&format!(
            "/v2/team/app/manifests/{}",
            bulwark_store::digest_tag(&subject, "")
        )),
        0
    );

    // Recording a new referrer leaves the index to the registry: no fallback tag is written.
    t.store.add_referrer(&subject, found[0].clone()).unwrap();
    assert_eq!(
        server.hits(&bulwark_store::digest_tag(&subject, "")),
        0,
        "the sha256-<hex> tag was touched"
    );

    // Without the endpoint (404) the fallback tag schema is used instead.
    let other = format!("sha256:{}", "ef".repeat(32));
    assert!(t.store.referrers(&other).unwrap().is_empty());
    assert!(
        server.hits(&format!(
            "/v2/team/app/manifests/{}",
            bulwark_store::digest_tag(&other, "")
        )) > 0
    );
}
