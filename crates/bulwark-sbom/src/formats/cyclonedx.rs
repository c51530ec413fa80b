//! CycloneDX JSON (1.7 by default, 1.6 on request).

use serde_json::{Value, json};

use super::{Contact, DocumentInfo, seed, split_maintainer, uuid_from};
use crate::inventory::{Inventory, purl};

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
            let mut hashes = vec![json!({"alg": "SHA-256", "content": d.sha256})];
            if let Some(h) = &d.sha512 {
                hashes.push(json!({"alg": "SHA-512", "content": h}));
            }
            c["hashes"] = json!(hashes);
            props.push(json!({"name": "bulwark:package:filename", "value": d.filename}));
        }
        c["properties"] = json!(props);
        refs.push(purl);
        components.push(c);
    }
    for f in &inv.files {
        let r = format!("file:{}", f.path);
        components.push(json!({
            "type": "file",
            "bom-ref": r,
            "name": f.path,
            "hashes": [
                {"alg": "SHA-1", "content": f.sha1},
                {"alg": "SHA-256", "content": f.sha256},
                {"alg": "SHA-512", "content": f.sha512},
            ],
            "properties": [{"name": "bulwark:file:size", "value": f.size.to_string()}],
        }));
        refs.push(r);
    }
    let mut root = json!({"type": "container", "bom-ref": "image", "name": info.name});
    if let Some(s) = &info.supplier {
        root["supplier"] = json!({"name": s});
        match info.contact.as_deref().and_then(Contact::parse) {
            Some(Contact::Email(e)) => root["supplier"]["contact"] = json!([{"email": e}]),
            Some(Contact::Url(u)) => root["supplier"]["url"] = json!([u]),
            None => {}
        }
    }
    if let Some(d) = &info.digest {
        root["version"] = json!(d);
    }
    if let Some(p) = info.image_purl() {
        root["purl"] = json!(p);
    }
    if let Some(l) = &info.license {
        root["licenses"] = json!([{"expression": l}]);
    }
    if let Some(c) = &info.copyright {
        root["copyright"] = json!(c);
    }
    let by_name: std::collections::BTreeMap<&str, String> = inv
        .packages
        .iter()
        .map(|p| (p.name.as_str(), purl(p, inv.os.as_ref())))
        .collect();
    let mut dependencies = vec![json!({"ref": "image", "dependsOn": refs})];
    for p in &inv.packages {
        let on: Vec<&String> = p
            .depends
            .iter()
            .filter_map(|d| by_name.get(d.as_str()))
            .collect();
        dependencies.push(json!({"ref": purl(p, inv.os.as_ref()), "dependsOn": on}));
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
        "dependencies": dependencies,
    })
}
