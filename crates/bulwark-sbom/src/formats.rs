//! Renderings: a table, CycloneDX JSON and SPDX 2.3 JSON (hand-written,
//! deterministic key order, derived identifiers instead of random ones).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::inventory::{Inventory, Package, purl};

/// Facts about the SBOM document itself.
#[derive(Clone, Debug)]
pub struct DocumentInfo {
    /// Image name (e.g. the reference).
    pub name: String,
    /// Manifest digest, when known.
    pub digest: Option<String>,
    /// RFC 3339 creation time (the image's, for reproducibility).
    pub created: String,
    /// `build` for SBOMs made during the build, `post-build` for scans.
    pub lifecycle: &'static str,
    /// CycloneDX spec version (`1.7` default, `1.6` on request).
    pub cdx_version: &'static str,
    /// Who supplies the image (e.g. the `org.opencontainers.image.vendor` label).
    pub supplier: Option<String>,
}

fn uuid_from(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50; // version 5 style (name-based)
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

fn seed(inv: &Inventory, info: &DocumentInfo) -> String {
    let mut s = format!("{}|{}|", info.name, info.digest.as_deref().unwrap_or(""));
    for p in &inv.packages {
        s.push_str(&format!("{}={}:{};", p.name, p.version, p.arch));
    }
    s
}

/// `Name <email>` → (name, email).
fn split_maintainer(m: &str) -> (String, Option<String>) {
    match m.split_once('<') {
        Some((n, e)) => (
            n.trim().to_owned(),
            Some(e.trim_end_matches('>').trim().to_owned()),
        ),
        None => (m.trim().to_owned(), None),
    }
}

/// A fixed-width table: name, version, arch, source, licence.
pub fn table(inv: &Inventory) -> String {
    let mut rows = vec![[
        "NAME".to_owned(),
        "VERSION".into(),
        "ARCH".into(),
        "SOURCE".into(),
        "LICENSE".into(),
    ]];
    for p in &inv.packages {
        rows.push([
            p.name.clone(),
            p.version.clone(),
            p.arch.clone(),
            p.source.clone().unwrap_or_default(),
            p.license.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if let Some(os) = &inv.os {
        out.push_str(&format!(
            "\nOS: {} {}\n",
            os.id,
            os.version_id.as_deref().unwrap_or("")
        ));
    }
    out
}

/// CycloneDX JSON (1.7 or 1.6).
pub fn cyclonedx(inv: &Inventory, info: &DocumentInfo) -> Value {
    let mut components = Vec::new();
    let mut refs = Vec::new();
    if let Some(os) = &inv.os {
        components.push(json!({
            "type": "operating-system",
            "bom-ref": "os",
            "name": os.id,
            "version": os.version_id.clone().unwrap_or_default(),
            "description": os.pretty_name.clone().unwrap_or_default(),
            "supplier": {"name": os.name.clone().unwrap_or_else(|| os.id.clone())},
        }));
        refs.push("os".to_owned());
    }
    for p in &inv.packages {
        let purl = purl(p, inv.os.as_ref());
        let mut c = json!({
            "type": "library",
            "bom-ref": purl,
            "name": p.name,
            "version": p.version,
            "purl": purl,
        });
        if let Some(m) = &p.maintainer {
            let (name, email) = split_maintainer(m);
            let mut s = json!({"name": name});
            if let Some(e) = email {
                s["contact"] = json!([{"email": e}]);
            }
            c["supplier"] = s;
        }
        if let Some(l) = &p.license {
            c["licenses"] = json!([{"expression": l}]);
        }
        if !p.copyright.is_empty() {
            c["copyright"] = json!(p.copyright.join("\n"));
        }
        let mut props = vec![json!({"name": "bulwark:package:arch", "value": p.arch})];
        if let Some(s) = &p.source {
            props.push(json!({"name": "bulwark:package:source", "value": s}));
        }
        if let Some(v) = &p.source_version {
            props.push(json!({"name": "bulwark:package:source-version", "value": v}));
        }
        props.push(json!({"name": "bulwark:package:found-in", "value": p.found_in}));
        if let Some(d) = &p.deb {
            c["hashes"] = json!([{"alg": "SHA-256", "content": d.sha256}]);
            props.push(json!({"name": "bulwark:package:filename", "value": d.filename}));
        }
        c["properties"] = json!(props);
        refs.push(purl);
        components.push(c);
    }
    let mut root = json!({"type": "container", "bom-ref": "image", "name": info.name});
    if let Some(s) = &info.supplier {
        root["supplier"] = json!({"name": s});
    }
    if let Some(d) = &info.digest {
        root["version"] = json!(d);
    }
    json!({
        "$schema": format!("http://cyclonedx.org/schema/bom-{}.schema.json", info.cdx_version),
        "bomFormat": "CycloneDX",
        "specVersion": info.cdx_version,
        "serialNumber": format!("urn:uuid:{}", uuid_from(&seed(inv, info))),
        "version": 1,
        "metadata": {
            "timestamp": info.created,
            "lifecycles": [{"phase": info.lifecycle}],
            "tools": {"components": [{"type": "application", "name": "bulwark", "version": env!("CARGO_PKG_VERSION")}]},
            "component": root,
        },
        "components": components,
        "dependencies": [{"ref": "image", "dependsOn": refs}],
    })
}

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
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-image",
        "name": info.name,
        "versionInfo": info.digest.clone().unwrap_or_else(|| "NOASSERTION".into()),
        "supplier": info.supplier.as_ref().map(|s| format!("Organization: {s}")).unwrap_or_else(|| "NOASSERTION".into()),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-image",
    })];
    let mut refs: Vec<String> = Vec::new();
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
    for p in &inv.packages {
        let id = spdx_id("Package-deb", &[&p.name, &p.arch]);
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
            pkg["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": d.sha256}]);
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
            "creators": [format!("Tool: bulwark-{}", env!("CARGO_PKG_VERSION")), "Organization: bulwark"],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !refs.is_empty() {
        doc["hasExtractedLicensingInfos"] = json!(refs
            .iter()
            .map(|r| json!({
                "licenseId": r,
                "name": r.trim_start_matches("LicenseRef-"),
                "extractedText": format!("See the Debian copyright file: the licence is named '{}' there.", r.trim_start_matches("LicenseRef-")),
            }))
            .collect::<Vec<_>>());
    }
    doc
}
