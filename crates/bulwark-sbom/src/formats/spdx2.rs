//! SPDX 2.3 JSON.

use serde_json::{Value, json};

use super::{DocumentInfo, seed, split_maintainer, uuid_from};
use crate::inventory::{Inventory, Package, purl};

fn spdx_id(prefix: &str, parts: &[&str]) -> String {
    format!("SPDXRef-{prefix}-{}", crate::idstring(&parts.join("-")))
}

fn spdx_supplier(p: &Package) -> String {
    match &p.maintainer {
        Some(m) => {
            let (name, email) = split_maintainer(m);
            match email {
                Some(e) => format!("Organization: {name} ({e})"),
                None => format!("Organization: {name}"),
            }
        }
        None => "NOASSERTION".into(),
    }
}

fn license_refs(expr: &str) -> Vec<String> {
    expr.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| t.starts_with("LicenseRef-"))
        .map(str::to_owned)
        .collect()
}

/// SPDX 2.3 JSON.
pub fn spdx(inv: &Inventory, info: &DocumentInfo) -> Value {
    let uuid = uuid_from(&seed(inv, info));
    let safe_name = crate::idstring(&info.name);
    let supplier = info.supplier.as_ref().map(|s| match info.contact_email() {
        Some(e) => format!("Organization: {s} ({e})"),
        None => format!("Organization: {s}"),
    });
    let image_license = info.license.clone().unwrap_or_else(|| "NOASSERTION".into());
    let mut refs: Vec<String> = license_refs(&image_license);
    let mut image = json!({
        "SPDXID": "SPDXRef-image",
        "name": info.name,
        "versionInfo": info.digest.clone().unwrap_or_else(|| "NOASSERTION".into()),
        "supplier": supplier.clone().unwrap_or_else(|| "NOASSERTION".into()),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": image_license,
        "licenseDeclared": image_license,
        "copyrightText": info.copyright.clone().unwrap_or_else(|| "NOASSERTION".into()),
        "primaryPackagePurpose": "CONTAINER",
    });
    if let Some(p) = info.image_purl() {
        image["externalRefs"] = json!([{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": p,
        }]);
    }
    if let Some(d) = &info.digest
        && let Some(hex) = d.strip_prefix("sha256:")
    {
        let mut sums = vec![json!({"algorithm": "SHA256", "checksumValue": hex})];
        if let Some(h) = &info.manifest_sha512 {
            sums.push(json!({"algorithm": "SHA512", "checksumValue": h}));
        }
        image["checksums"] = json!(sums);
    }
    let mut packages = vec![image];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-image",
    })];
    if let Some(os) = &inv.os {
        packages.push(json!({
            "SPDXID": "SPDXRef-OperatingSystem",
            "name": os.id,
            "versionInfo": os.version_id.clone().unwrap_or_else(|| "NOASSERTION".into()),
            "supplier": os.name.as_ref().map(|n| format!("Organization: {n}")).unwrap_or_else(|| "NOASSERTION".into()),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "OPERATING-SYSTEM",
        }));
        relationships.push(json!({"spdxElementId": "SPDXRef-image", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-OperatingSystem"}));
    }
    let ids: Vec<String> = inv
        .packages
        .iter()
        .map(|p| spdx_id("Package-deb", &[&p.name, &p.arch]))
        .collect();
    // Dependencies name packages, not architectures: the last of a name
    // stands for it, as in the CycloneDX and SPDX 3 renderings.
    let by_name: std::collections::BTreeMap<&str, &String> = inv
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .zip(&ids)
        .collect();
    for (p, id) in inv.packages.iter().zip(&ids) {
        let license = p.license.clone().unwrap_or_else(|| "NOASSERTION".into());
        refs.extend(license_refs(&license));
        let mut pkg = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "supplier": spdx_supplier(p),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": license,
            "licenseDeclared": license,
            "copyrightText": if p.copyright.is_empty() { "NOASSERTION".to_owned() } else { p.copyright.join("\n") },
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl(p, inv.os.as_ref()),
            }],
            "primaryPackagePurpose": "LIBRARY",
        });
        if let Some(h) = &p.homepage {
            pkg["homepage"] = json!(h);
        }
        if let Some(d) = &p.deb {
            let mut sums = vec![json!({"algorithm": "SHA256", "checksumValue": d.sha256})];
            if let Some(h) = &d.sha512 {
                sums.push(json!({"algorithm": "SHA512", "checksumValue": h}));
            }
            pkg["checksums"] = json!(sums);
            pkg["packageFileName"] = json!(d.filename.rsplit('/').next().unwrap_or(&d.filename));
        }
        if let Some(s) = &p.source {
            pkg["sourceInfo"] = json!(format!(
                "built from source package {s} {}",
                p.source_version.as_deref().unwrap_or(&p.version)
            ));
        }
        packages.push(pkg);
        relationships.push(json!({"spdxElementId": "SPDXRef-image", "relationshipType": "CONTAINS", "relatedSpdxElement": id}));
    }
    for (p, from) in inv.packages.iter().zip(&ids) {
        for d in &p.depends {
            if let Some(to) = by_name.get(d.as_str()) {
                relationships.push(json!({
                    "spdxElementId": from,
                    "relationshipType": "DEPENDS_ON",
                    "relatedSpdxElement": to,
                }));
            }
        }
    }
    let mut files = Vec::new();
    for f in &inv.files {
        let id = spdx_id("File", &[&f.path]);
        files.push(json!({
            "SPDXID": id,
            "fileName": format!(".{}", f.path),
            "checksums": [
                {"algorithm": "SHA1", "checksumValue": f.sha1},
                {"algorithm": "SHA256", "checksumValue": f.sha256},
                {"algorithm": "SHA512", "checksumValue": f.sha512},
            ],
            "licenseConcluded": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "comment": "one of the image author's own files, placed in the image by the spec's files: list",
        }));
        // The image package is not file-analysed (its packages are), and
        // SPDX 2.3 forbids such a package to CONTAIN files: the document
        // describes them next to the image.
        relationships.push(json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id}));
    }
    refs.sort();
    refs.dedup();
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": info.name,
        "documentNamespace": format!("https://spdx.org/spdxdocs/bulwark-{safe_name}-{uuid}"),
        "creationInfo": {
            "created": info.created,
            "creators": [
                format!("Tool: bulwark-{}", env!("CARGO_PKG_VERSION")),
                supplier.unwrap_or_else(|| "Organization: bulwark".into()),
            ],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !files.is_empty() {
        doc["files"] = json!(files);
    }
    if !refs.is_empty() {
        doc["hasExtractedLicensingInfos"] = json!(refs
            .iter()
            .map(|r| json!({
                "licenseId": r,
                "name": r.trim_start_matches("LicenseRef-"),
                "extractedText": match crate::copyright_file_package(r) {
                    Some(pkg) => format!(
                        "The licence terms that package {pkg}'s Debian copyright file (/usr/share/doc/{pkg}/copyright) states in prose, without naming an SPDX licence."
                    ),
                    None => format!(
                        "A licence without an SPDX identifier, named '{}' where it was found: a package's Debian copyright file (a License field or a /usr/share/common-licenses reference) or the image's own licence.",
                        r.trim_start_matches("LicenseRef-")
                    ),
                },
            }))
            .collect::<Vec<_>>());
    }
    doc
}
