//! SPDX 3.0.1 JSON-LD: the one SPDX version that carries the SBOM type, so
//! the one that CISA's FSCT 3 minimum and BSI TR-03183-2 can be met with.
//!
//! Shape: one `SpdxDocument` whose root is a `software_Sbom` whose root is the
//! image package. The image `contains` every Debian package and every file of
//! the user's own; packages `dependsOn` the installed packages their
//! `Depends`/`Pre-Depends` name; each package's `.deb` (and the image's
//! manifest) is its `hasDistributionArtifact` file with sha256 and sha512;
//! licences are `simplelicensing_LicenseExpression` elements reached through
//! `hasDeclaredLicense` and `hasConcludedLicense`. Suppliers are agents with
//! an email or URL identifier. The operating system is named by every purl's
//! `distro` qualifier and by the document's comment (an OS element would need
//! a licence and a distribution file of its own, which an image does not have).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Contact, DocumentInfo, seed, split_maintainer, uuid_from};
use crate::inventory::{Inventory, purl};

const CONTEXT: &str = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld";
const CREATION_INFO: &str = "_:creationinfo";

/// Collects the `@graph` and hands out stable identifiers.
struct Graph {
    ns: String,
    elements: Vec<Value>,
    agents: BTreeMap<String, String>,
    licenses: BTreeMap<String, String>,
    relationships: usize,
}

fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..6])
}

impl Graph {
    fn id(&self, local: &str) -> String {
        format!("{}#{}", self.ns, crate::idstring(local))
    }

    fn push(&mut self, kind: &str, local: &str, mut body: Value) -> String {
        let id = self.id(local);
        body["type"] = json!(kind);
        body["spdxId"] = json!(id);
        body["creationInfo"] = json!(CREATION_INFO);
        self.elements.push(body);
        id
    }

    /// An `Organization` with an email or URL identifier, made once per name.
    fn agent(&mut self, name: &str, contact: Option<&str>) -> String {
        let key = format!("{name}|{}", contact.unwrap_or_default());
        if let Some(id) = self.agents.get(&key) {
            return id.clone();
        }
        let mut body = json!({"name": name});
        let identifier = match contact.and_then(Contact::parse) {
            Some(Contact::Email(e)) => Some(("email", e)),
            Some(Contact::Url(u)) => Some(("urlScheme", u)),
            None => None,
        };
        if let Some((kind, value)) = identifier {
            body["externalIdentifier"] = json!([{
                "type": "ExternalIdentifier",
                "externalIdentifierType": kind,
                "identifier": value,
            }]);
        }
        let id = self.push(
            "Organization",
            &format!("Organization-{}", short_hash(&key)),
            body,
        );
        self.agents.insert(key, id.clone());
        id
    }

    /// A licence expression element, made once per expression.
    fn license(&mut self, expr: &str) -> String {
        if let Some(id) = self.licenses.get(expr) {
            return id.clone();
        }
        let id = self.push(
            "simplelicensing_LicenseExpression",
            &format!("License-{}", short_hash(expr)),
            json!({"simplelicensing_licenseExpression": expr}),
        );
        self.licenses.insert(expr.to_owned(), id.clone());
        id
    }

    fn relate(&mut self, from: &str, kind: &str, to: Vec<String>) {
        if to.is_empty() {
            return;
        }
        self.relationships += 1;
        let local = format!("Relationship-{}", self.relationships);
        self.push(
            "Relationship",
            &local,
            json!({"from": from, "relationshipType": kind, "to": to}),
        );
    }

    /// Declared and concluded licence of `element`.
    fn licensed(&mut self, element: &str, expr: Option<&str>) {
        if let Some(e) = expr {
            let l = self.license(e);
            self.relate(element, "hasDeclaredLicense", vec![l.clone()]);
            self.relate(element, "hasConcludedLicense", vec![l]);
        }
    }
}

fn hashes(pairs: &[(&str, Option<&String>)]) -> Value {
    json!(
        pairs
            .iter()
            .filter_map(|(alg, v)| v.map(|v| json!({
                "type": "Hash",
                "algorithm": alg,
                "hashValue": v,
            })))
            .collect::<Vec<_>>()
    )
}

/// SPDX 3.0.1 JSON-LD.
pub fn spdx3(inv: &Inventory, info: &DocumentInfo) -> Value {
    let uuid = uuid_from(&seed(inv, info));
    let mut g = Graph {
        ns: format!(
            "https://spdx.org/spdxdocs/bulwark-{}-{uuid}",
            crate::idstring(&info.name)
        ),
        elements: Vec::new(),
        agents: BTreeMap::new(),
        licenses: BTreeMap::new(),
        relationships: 0,
    };
    let tool = g.push(
        "Tool",
        "Tool-bulwark",
        json!({"name": format!("bulwark-{}", env!("CARGO_PKG_VERSION"))}),
    );
    // Whoever supplies the image ran the build (or the scan) and so is the
    // SBOM's author; without one, bulwark itself is.
    let supplier = info
        .supplier
        .as_deref()
        .map(|s| g.agent(s, info.contact.as_deref()));
    let author = match &supplier {
        Some(s) => s.clone(),
        None => g.push("SoftwareAgent", "Agent-bulwark", json!({"name": "bulwark"})),
    };

    // The image.
    let mut image = json!({
        "name": info.name,
        "software_packageVersion": info.digest.clone().unwrap_or_else(|| "NOASSERTION".into()),
        "software_primaryPurpose": "container",
        "software_copyrightText": info.copyright.clone().unwrap_or_else(|| "NOASSERTION".into()),
    });
    if let Some(s) = &supplier {
        image["suppliedBy"] = json!(s);
        image["originatedBy"] = json!([s]);
    }
    if let Some(p) = info.image_purl() {
        image["software_packageUrl"] = json!(p);
        image["externalIdentifier"] = json!([{
            "type": "ExternalIdentifier",
            "externalIdentifierType": "packageUrl",
            "identifier": p,
        }]);
    }
    let image_id = g.push("software_Package", "Package-image", image);
    g.licensed(&image_id, info.license.as_deref());
    if let Some(d) = &info.digest {
        let sha256 = d.strip_prefix("sha256:").map(str::to_owned);
        let file = g.push(
            "software_File",
            "File-image-manifest",
            json!({
                "name": d,
                "software_primaryPurpose": "manifest",
                "software_additionalPurpose": ["container"],
                "verifiedUsing": hashes(&[("sha256", sha256.as_ref()), ("sha512", info.manifest_sha512.as_ref())]),
            }),
        );
        g.relate(&image_id, "hasDistributionArtifact", vec![file]);
    }

    // Packages, their .debs and licences.
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    let mut contained = Vec::new();
    for p in &inv.packages {
        let purl = purl(p, inv.os.as_ref());
        let mut body = json!({
            "name": p.name,
            "software_packageVersion": p.version,
            "software_packageUrl": purl,
            "software_primaryPurpose": "library",
            "software_copyrightText": if p.copyright.is_empty() { "NOASSERTION".to_owned() } else { p.copyright.join("\n") },
            "externalIdentifier": [{
                "type": "ExternalIdentifier",
                "externalIdentifierType": "packageUrl",
                "identifier": purl,
            }],
        });
        if let Some(m) = &p.maintainer {
            let (name, email) = split_maintainer(m);
            let a = g.agent(&name, email.as_deref());
            body["suppliedBy"] = json!(a);
            body["originatedBy"] = json!([a]);
        }
        if let Some(h) = &p.homepage {
            body["software_homePage"] = json!(h);
        }
        if let Some(s) = &p.source {
            body["software_sourceInfo"] = json!(format!(
                "built from source package {s} {}",
                p.source_version.as_deref().unwrap_or(&p.version)
            ));
        }
        let id = g.push(
            "software_Package",
            &format!("Package-deb-{}-{}", p.name, p.arch),
            body,
        );
        g.licensed(&id, p.license.as_deref());
        if let Some(d) = &p.deb {
            let base = d.filename.rsplit('/').next().unwrap_or(&d.filename);
            let file = g.push(
                "software_File",
                &format!("File-deb-{}-{}", p.name, p.arch),
                json!({
                    "name": base,
                    "software_primaryPurpose": "install",
                    "software_additionalPurpose": ["archive", "container"],
                    "verifiedUsing": hashes(&[("sha256", Some(&d.sha256)), ("sha512", d.sha512.as_ref())]),
                    "externalRef": [{
                        "type": "ExternalRef",
                        "externalRefType": "binaryArtifact",
                        "locator": [d.filename],
                    }],
                }),
            );
            g.relate(&id, "hasDistributionArtifact", vec![file]);
        } else {
            // Scans of foreign images never see the .deb; its name follows
            // from the dpkg record (Debian's NAME_VERSION_ARCH.deb, epoch
            // dropped). Named, not hashed: nothing here saw the file.
            let file = g.push(
                "software_File",
                &format!("File-deb-{}-{}", p.name, p.arch),
                json!({
                    "name": crate::deb_file_name(p),
                    "comment": "the Debian archive file name of this package version, inferred from the installed dpkg record; the file itself was not available to hash",
                    "software_primaryPurpose": "install",
                    "software_additionalPurpose": ["archive", "container"],
                }),
            );
            g.relate(&id, "hasDistributionArtifact", vec![file]);
        }
        ids.insert(&p.name, id.clone());
        contained.push(id);
    }
    for p in &inv.packages {
        let on: Vec<String> = p
            .depends
            .iter()
            .filter_map(|d| ids.get(d.as_str()).cloned())
            .collect();
        if let Some(from) = ids.get(p.name.as_str()).cloned() {
            g.relate(&from, "dependsOn", on);
        }
    }

    // The user's own files.
    for f in &inv.files {
        let id = g.push(
            "software_File",
            &format!("File-{}", f.path),
            json!({
                "name": f.path,
                "comment": "one of the image author's own files, placed in the image by the spec's files: list",
                "verifiedUsing": hashes(&[("sha1", Some(&f.sha1)), ("sha256", Some(&f.sha256)), ("sha512", Some(&f.sha512))]),
            }),
        );
        contained.push(id);
    }
    g.relate(&image_id, "contains", contained);

    let sbom_type = if info.lifecycle == "build" {
        "build"
    } else {
        "analyzed"
    };
    let every: Vec<String> = g
        .elements
        .iter()
        .filter_map(|e| e["spdxId"].as_str().map(str::to_owned))
        .collect();
    let sbom = g.id("Sbom");
    let document = g.id("Document");
    let mut doc_body = json!({
        "type": "SpdxDocument",
        "spdxId": document,
        "creationInfo": CREATION_INFO,
        "name": info.name,
        "profileConformance": ["core", "software", "simpleLicensing"],
        "rootElement": [sbom],
        "element": every.iter().cloned().chain([sbom.clone()]).collect::<Vec<_>>(),
    });
    if let Some(os) = &inv.os {
        doc_body["comment"] = json!(format!(
            "operating system: {}",
            os.pretty_name.clone().unwrap_or_else(|| format!(
                "{} {}",
                os.id,
                os.version_id.clone().unwrap_or_default()
            ))
        ));
    }
    let sbom_body = json!({
        "type": "software_Sbom",
        "spdxId": sbom,
        "creationInfo": CREATION_INFO,
        "name": format!("SBOM of {}", info.name),
        "software_sbomType": [sbom_type],
        "rootElement": [image_id],
        "element": every,
    });
    let creation = json!({
        "type": "CreationInfo",
        "@id": CREATION_INFO,
        "specVersion": "3.0.1",
        "created": info.created,
        "createdBy": [author],
        "createdUsing": [tool],
    });
    let mut graph = vec![creation, doc_body, sbom_body];
    graph.extend(g.elements);
    json!({"@context": CONTEXT, "@graph": graph})
}
