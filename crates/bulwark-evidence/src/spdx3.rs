//! Conformance of an SPDX 3 (JSON-LD) SBOM with three baselines, read from
//! its element graph the way the SPDX project's conformance checker reads
//! it (`ntia-checker -s spdx3`, which CI runs against the same documents):
//!
//! - **NTIA minimum elements** (2021): the author and time of the SBOM data,
//!   dependency relationships, and for every component its name, version,
//!   supplier and identifier.
//! - **CISA FSCT 3rd edition, minimum expected** (2024): NTIA's, plus the
//!   SBOM type, and each component's concluded license and copyright.
//! - **BSI TR-03183-2** (v2.1, required fields): a creator of the SBOM with
//!   an email address or URL, the SBOM's URI, its timestamp, complete
//!   dependency statements, and for every component its name, version,
//!   creator (email or URL), distribution file name, concluded license
//!   expression, the SHA-512 of the deployable file and whether it is
//!   structured.
//!
//! The components are the packages reachable from the document's root
//! through its composition and dependency relationships; a package nothing
//! leads to is not part of what the SBOM describes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use crate::sbom::{Conformance, Missing};

const NO_ASSERTION_ELEMENT: &str = "https://spdx.org/rdf/3.0.1/terms/Core/NoAssertionElement";
const NO_ASSERTION_LICENSE: &str = "https://spdx.org/rdf/3.0.1/terms/Expanded/NoAssertionLicense";

/// Relationships that make one element part of, or a dependency of,
/// another: followed from the root to find the components.
const REACHING: &[&str] = &[
    "contains",
    "hasOptionalComponent",
    "packagedBy",
    "dependsOn",
    "hasDynamicLink",
    "hasStaticLink",
    "hasPrerequisite",
    "hasOptionalDependency",
    "hasProvidedDependency",
];

/// Relationships that state dependencies.
const DEPENDENCY: &[&str] = &["contains", "dependsOn", "hasDynamicLink", "hasStaticLink"];

const PACKAGE_TYPES: &[&str] = &["software_Package", "ai_AIPackage", "dataset_DatasetPackage"];

const COLLECTIONS: &[&str] = &["SpdxDocument", "software_Sbom", "Bom", "Bundle"];

/// The graph of one document.
struct Graph<'a> {
    /// Elements by `spdxId` (and blank nodes by `@id`).
    by_id: BTreeMap<&'a str, &'a Value>,
    /// Relationships: (from, type, to[], the relationship itself).
    relationships: Vec<(&'a str, &'a str, Vec<&'a str>, &'a Value)>,
    /// Indices into `relationships` by `from`: each lookup is one map
    /// probe, so a large document costs its size, not its square.
    by_from: BTreeMap<&'a str, Vec<usize>>,
    document: Option<&'a Value>,
    documents: usize,
}

fn blank(v: &Value) -> bool {
    v.as_str().is_none_or(|s| s.trim().is_empty())
}

fn no_assertion(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("NOASSERTION"))
}

fn ids(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn type_of(v: &Value) -> &str {
    v["type"].as_str().unwrap_or_default()
}

impl<'a> Graph<'a> {
    fn new(doc: &'a Value) -> Self {
        let mut g = Graph {
            by_id: BTreeMap::new(),
            relationships: Vec::new(),
            by_from: BTreeMap::new(),
            document: None,
            documents: 0,
        };
        for e in doc["@graph"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(id) = e["spdxId"].as_str().or_else(|| e["@id"].as_str()) {
                g.by_id.insert(id, e);
            }
            match type_of(e) {
                "SpdxDocument" => {
                    g.documents += 1;
                    g.document = Some(e);
                }
                "Relationship" | "LifecycleScopedRelationship" => {
                    if let (Some(from), Some(kind)) =
                        (e["from"].as_str(), e["relationshipType"].as_str())
                    {
                        g.by_from
                            .entry(from)
                            .or_default()
                            .push(g.relationships.len());
                        g.relationships.push((from, kind, ids(&e["to"]), e));
                    }
                }
                _ => {}
            }
        }
        g
    }

    /// An element given inline or by reference.
    fn resolve(&self, v: &'a Value) -> Option<&'a Value> {
        match v {
            Value::String(id) => self.by_id.get(id.as_str()).copied(),
            Value::Object(_) => Some(v),
            _ => None,
        }
    }

    /// The relationships from `id`.
    fn from(&self, id: &str) -> impl Iterator<Item = &(&'a str, &'a str, Vec<&'a str>, &'a Value)> {
        self.by_from
            .get(id)
            .into_iter()
            .flatten()
            .map(|&i| &self.relationships[i])
    }

    fn creation_info(&self) -> Option<&'a Value> {
        self.resolve(&self.document?["creationInfo"])
    }

    fn document_id(&self) -> Option<&'a str> {
        self.document?["spdxId"].as_str()
    }

    /// The packages reachable from the root.
    fn components(&self) -> Vec<&'a Value> {
        let mut start: Vec<&str> = self
            .document
            .map(|d| ids(&d["rootElement"]))
            .unwrap_or_default();
        if let Some(doc) = self.document_id() {
            for (_, _, to, _) in self.from(doc) {
                start.extend(to.iter().copied());
            }
        }
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = start.into_iter().collect();
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id) {
                continue;
            }
            if let Some(e) = self.by_id.get(id)
                && COLLECTIONS.contains(&type_of(e))
            {
                queue.extend(ids(&e["rootElement"]));
            }
            for (_, kind, to, _) in self.from(id) {
                if REACHING.contains(kind) {
                    queue.extend(
                        to.iter()
                            .copied()
                            .filter(|t| !t.ends_with("NoAssertionElement") && *t != "NONE"),
                    );
                }
            }
        }
        seen.iter()
            .filter_map(|id| self.by_id.get(id).copied())
            .filter(|e| PACKAGE_TYPES.contains(&type_of(e)))
            .collect()
    }

    /// Targets of `kind` relationships from `id`, resolved.
    fn targets(&self, id: &str, kind: &str) -> Vec<&'a Value> {
        self.from(id)
            .filter(|(_, k, _, _)| *k == kind)
            .flat_map(|(_, _, to, _)| to.iter())
            .filter_map(|t| self.by_id.get(t).copied())
            .collect()
    }

    /// Target ids of `kind` relationships from `id`, resolved or not.
    fn target_ids(&self, id: &str, kind: &str) -> Vec<&'a str> {
        self.from(id)
            .filter(|(_, k, _, _)| *k == kind)
            .flat_map(|(_, _, to, _)| to.iter().copied())
            .collect()
    }

    fn author(&self) -> bool {
        self.creation_info()
            .is_some_and(|c| !ids(&c["createdBy"]).is_empty())
    }

    fn timestamp(&self) -> bool {
        self.creation_info().is_some_and(|c| !blank(&c["created"]))
    }

    fn dependencies(&self) -> bool {
        self.relationships.iter().any(|(from, kind, to, _)| {
            DEPENDENCY.contains(kind)
                && self.by_id.contains_key(from)
                && to.iter().any(|t| self.by_id.contains_key(t))
        })
    }

    fn sbom_type(&self) -> bool {
        self.document
            .and_then(|d| ids(&d["rootElement"]).first().copied())
            .and_then(|id| self.by_id.get(id))
            .is_some_and(|s| {
                type_of(s) == "software_Sbom"
                    && s["software_sbomType"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty())
            })
    }

    /// The document structure the checker validates: one SpdxDocument
    /// with a root.
    fn well_formed(&self) -> bool {
        self.documents == 1
            && self
                .document
                .is_some_and(|d| !ids(&d["rootElement"]).is_empty())
    }

    fn supplier(&self, p: &'a Value) -> bool {
        let s = &p["suppliedBy"];
        if s.is_null()
            || no_assertion(s)
            || s.as_str()
                .is_some_and(|id| id.trim().is_empty() || id == NO_ASSERTION_ELEMENT)
        {
            return false;
        }
        match self.resolve(s) {
            Some(agent) => !blank(&agent["name"]),
            // A reference outside the document: given, not resolvable.
            None => s.is_string(),
        }
    }

    fn concluded_license(&self, id: &str, expression_only: bool) -> bool {
        self.target_ids(id, "hasConcludedLicense").iter().any(|t| {
            if *t == NO_ASSERTION_LICENSE || t.trim().is_empty() {
                return false;
            }
            match self.by_id.get(t) {
                Some(l) if type_of(l) == "simplelicensing_LicenseExpression" => {
                    let e = l["simplelicensing_licenseExpression"]
                        .as_str()
                        .unwrap_or_default()
                        .trim();
                    !e.is_empty()
                        && !e.eq_ignore_ascii_case("NOASSERTION")
                        && !e.eq_ignore_ascii_case("NOASSERTIONLICENSE")
                }
                Some(_) => !expression_only,
                None => !expression_only,
            }
        })
    }

    /// A Person or Organization with an email address or a web URL.
    fn valid_creator(&self, v: &'a Value) -> bool {
        let Some(agent) = self.resolve(v) else {
            return false;
        };
        if !matches!(type_of(agent), "Person" | "Organization") {
            return false;
        }
        agent["externalIdentifier"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .any(|x| {
                let kind = x["externalIdentifierType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let value = x["identifier"].as_str().unwrap_or_default();
                (kind.contains("email") && value.contains('@'))
                    || ((kind.contains("urlscheme") || kind.contains("other"))
                        && (value.starts_with("http://") || value.starts_with("https://")))
            })
    }
}

fn name_of(p: &Value) -> String {
    p["name"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| p["spdxId"].as_str())
        .unwrap_or("(unnamed)")
        .to_owned()
}

/// The elements every baseline shares: document facts and each
/// component's name, version, supplier and identifier.
fn ntia_into(g: &Graph<'_>, m: &mut Missing, components: &[&Value]) {
    if !g.well_formed() {
        m.document("one SpdxDocument with a rootElement");
    }
    if !g.author() {
        m.document("author of the SBOM data (creationInfo.createdBy)");
    }
    if !g.timestamp() {
        m.document("timestamp (creationInfo.created)");
    }
    if !g.dependencies() {
        m.document("dependency relationships (contains, dependsOn)");
    }
    if components.is_empty() {
        m.document("components (no package is reachable from the root)");
    }
    for p in components {
        let name = name_of(p);
        if blank(&p["name"]) {
            m.lacks("component name", &name);
        }
        if blank(&p["software_packageVersion"]) {
            m.lacks("version (software_packageVersion)", &name);
        }
        if !g.supplier(p) {
            m.lacks("supplier (suppliedBy)", &name);
        }
    }
}

/// The NTIA verdict.
#[must_use]
pub fn ntia(doc: &Value) -> Conformance {
    let g = Graph::new(doc);
    let components = g.components();
    let mut m = Missing::default();
    ntia_into(&g, &mut m, &components);
    m.finish()
}

/// The FSCT 3 minimum-expected verdict.
#[must_use]
pub fn fsct3(doc: &Value) -> Conformance {
    let g = Graph::new(doc);
    let components = g.components();
    let mut m = Missing::default();
    ntia_into(&g, &mut m, &components);
    if !g.sbom_type() {
        m.document("SBOM type (software_sbomType of the root software_Sbom)");
    }
    for p in &components {
        let name = name_of(p);
        let id = p["spdxId"].as_str().unwrap_or_default();
        if !g.concluded_license(id, false) {
            m.lacks("concluded license (hasConcludedLicense)", &name);
        }
        let c = &p["software_copyrightText"];
        if blank(c) || no_assertion(c) {
            m.lacks("copyright notice (software_copyrightText)", &name);
        }
    }
    m.finish()
}

/// The BSI TR-03183-2 verdict on its required fields.
#[must_use]
pub fn bsi(doc: &Value) -> Conformance {
    let g = Graph::new(doc);
    let components = g.components();
    let mut m = Missing::default();
    let creators = g
        .creation_info()
        .map(|c| c["createdBy"].as_array().map(Vec::as_slice).unwrap_or(&[]))
        .unwrap_or(&[]);
    if !creators.iter().any(|c| g.valid_creator(c)) {
        m.document("creator of the SBOM with an email address or URL (creationInfo.createdBy)");
    }
    let uri = g.document.is_some_and(|d| {
        ids(&d["rootElement"]).iter().any(|r| {
            g.by_id.get(r).is_some_and(|e| {
                matches!(type_of(e), "software_Sbom" | "software_Package") && !blank(&e["spdxId"])
            })
        })
    });
    if !uri {
        m.document("SBOM-URI (a software_Sbom or software_Package root with an spdxId)");
    }
    if !g.timestamp() {
        m.document("timestamp (creationInfo.created)");
    }
    let complete = g
        .relationships
        .iter()
        .filter(|(_, kind, _, _)| matches!(*kind, "contains" | "dependsOn"))
        .all(|(_, _, _, r)| {
            r["completeness"]
                .as_str()
                .is_none_or(|c| matches!(c, "complete" | "incomplete" | "noAssertion"))
        });
    if !complete {
        m.document("dependency completeness (completeness on contains and dependsOn)");
    }
    if components.is_empty() {
        m.document("components (no package is reachable from the root)");
    }
    for p in &components {
        let name = name_of(p);
        let id = p["spdxId"].as_str().unwrap_or_default();
        if blank(&p["name"]) {
            m.lacks("component name", &name);
        }
        if blank(&p["software_packageVersion"]) {
            m.lacks("version (software_packageVersion)", &name);
        }
        let originators = p["originatedBy"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if !originators.iter().any(|o| g.valid_creator(o)) {
            m.lacks(
                "component creator with an email address or URL (originatedBy)",
                &name,
            );
        }
        let files: Vec<&Value> = g
            .targets(id, "hasDistributionArtifact")
            .into_iter()
            .filter(|f| type_of(f) == "software_File")
            .collect();
        if !files.iter().any(|f| !blank(&f["name"])) {
            m.lacks("distribution file name (hasDistributionArtifact)", &name);
        }
        if !g.concluded_license(id, true) {
            m.lacks(
                "distribution license (hasConcludedLicense to a license expression)",
                &name,
            );
        }
        if !files.is_empty() {
            let sha512 = files.iter().any(|f| {
                f["verifiedUsing"].as_array().is_some_and(|hs| {
                    hs.iter().any(|h| {
                        h["algorithm"]
                            .as_str()
                            .is_some_and(|a| a.to_ascii_lowercase().contains("sha512"))
                            && !blank(&h["hashValue"])
                    })
                })
            });
            if !sha512 {
                m.lacks("SHA-512 of the deployable file", &name);
            }
            let structured = files.iter().any(|f| {
                f["software_additionalPurpose"].as_array().is_some_and(|a| {
                    a.iter().filter_map(Value::as_str).any(|p| {
                        let p = p.to_ascii_lowercase();
                        p.contains("container") || p.contains("firmware")
                    })
                })
            });
            if !structured {
                m.lacks(
                    "structured property (software_additionalPurpose container or firmware)",
                    &name,
                );
            }
        }
    }
    m.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": [
            {"type": "CreationInfo", "@id": "_:c", "specVersion": "3.0.1", "created": "2026-12-01T00:00:00Z", "createdBy": ["u:org"]},
            {"type": "Organization", "spdxId": "u:org", "name": "ACME", "creationInfo": "_:c",
             "externalIdentifier": [{"type": "ExternalIdentifier", "externalIdentifierType": "email", "identifier": "sec@acme.example"}]},
            {"type": "SpdxDocument", "spdxId": "u:doc", "creationInfo": "_:c", "rootElement": ["u:sbom"]},
            {"type": "software_Sbom", "spdxId": "u:sbom", "creationInfo": "_:c", "software_sbomType": ["build"], "rootElement": ["u:img"]},
            {"type": "software_Package", "spdxId": "u:img", "creationInfo": "_:c", "name": "app", "software_packageVersion": "1", "suppliedBy": "u:org", "originatedBy": ["u:org"], "software_copyrightText": "2026 ACME"},
            {"type": "software_Package", "spdxId": "u:libc", "creationInfo": "_:c", "name": "libc6", "software_packageVersion": "2.36", "suppliedBy": "u:org", "originatedBy": ["u:org"], "software_copyrightText": "FSF"},
            {"type": "software_Package", "spdxId": "u:floating", "creationInfo": "_:c", "name": "floating"},
            {"type": "software_File", "spdxId": "u:f", "creationInfo": "_:c", "name": "libc6_2.36_amd64.deb", "software_additionalPurpose": ["archive", "container"],
             "verifiedUsing": [{"type": "Hash", "algorithm": "sha512", "hashValue": "ab"}]},
            {"type": "simplelicensing_LicenseExpression", "spdxId": "u:l", "creationInfo": "_:c", "simplelicensing_licenseExpression": "LGPL-2.1-or-later"},
            {"type": "Relationship", "spdxId": "u:r1", "creationInfo": "_:c", "from": "u:img", "relationshipType": "contains", "to": ["u:libc"]},
            {"type": "Relationship", "spdxId": "u:r2", "creationInfo": "_:c", "from": "u:libc", "relationshipType": "hasDistributionArtifact", "to": ["u:f"]},
            {"type": "Relationship", "spdxId": "u:r3", "creationInfo": "_:c", "from": "u:libc", "relationshipType": "hasConcludedLicense", "to": ["u:l"]},
            {"type": "Relationship", "spdxId": "u:r4", "creationInfo": "_:c", "from": "u:img", "relationshipType": "hasConcludedLicense", "to": ["u:l"]},
            {"type": "software_File", "spdxId": "u:imgf", "creationInfo": "_:c", "name": "manifest", "software_additionalPurpose": ["container"],
             "verifiedUsing": [{"type": "Hash", "algorithm": "sha512", "hashValue": "cd"}]},
            {"type": "Relationship", "spdxId": "u:r5", "creationInfo": "_:c", "from": "u:img", "relationshipType": "hasDistributionArtifact", "to": ["u:imgf"]},
        ]})
    }

    fn edit(f: impl Fn(&mut Vec<Value>)) -> Value {
        let mut d = doc();
        f(d["@graph"].as_array_mut().unwrap());
        d
    }

    fn find<'a>(g: &'a mut [Value], id: &str) -> &'a mut Value {
        g.iter_mut()
            .find(|e| e["spdxId"] == id || e["@id"] == id)
            .unwrap()
    }

    #[test]
    fn a_complete_document_conforms_and_floating_packages_do_not_count() {
        let d = doc();
        for (name, c) in [("ntia", ntia(&d)), ("fsct3", fsct3(&d)), ("bsi", bsi(&d))] {
            assert!(c.conformant, "{name}: {:?}", c.missing);
        }
    }

    #[test]
    fn each_baseline_names_what_is_missing() {
        let no_type = edit(|g| {
            find(g, "u:sbom")
                .as_object_mut()
                .unwrap()
                .remove("software_sbomType");
        });
        assert!(ntia(&no_type).conformant);
        assert_eq!(
            fsct3(&no_type).missing,
            ["SBOM type (software_sbomType of the root software_Sbom)"]
        );
        let no_supplier = edit(|g| {
            find(g, "u:libc")
                .as_object_mut()
                .unwrap()
                .remove("suppliedBy");
        });
        assert_eq!(
            ntia(&no_supplier).missing,
            ["supplier (suppliedBy) of 1 component, e.g. \"libc6\""]
        );
        assert!(
            bsi(&no_supplier).conformant,
            "BSI does not require a supplier"
        );
        let no_copyright = edit(|g| {
            find(g, "u:libc")["software_copyrightText"] = json!("NOASSERTION");
        });
        assert!(ntia(&no_copyright).conformant);
        assert!(!fsct3(&no_copyright).conformant);
        let no_sha512 = edit(|g| {
            find(g, "u:f")["verifiedUsing"] =
                json!([{"type": "Hash", "algorithm": "sha256", "hashValue": "ab"}]);
        });
        assert_eq!(
            bsi(&no_sha512).missing,
            ["SHA-512 of the deployable file of 1 component, e.g. \"libc6\""]
        );
        let tool_creator = edit(|g| {
            find(g, "u:org")["type"] = json!("Tool");
        });
        let c = bsi(&tool_creator);
        assert!(
            c.missing[0].starts_with("creator of the SBOM") && c.missing.len() == 2,
            "{c:?}"
        );
        let no_doc = edit(|g| g.retain(|e| e["type"] != "SpdxDocument"));
        assert!(!ntia(&no_doc).conformant && !bsi(&no_doc).conformant);
    }
}
