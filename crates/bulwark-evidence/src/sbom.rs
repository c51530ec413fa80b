//! Whether an SBOM has the NTIA minimum elements (the "Minimum Elements for
//! a Software Bill of Materials", July 2021): for every component its
//! supplier, name, version and a unique identifier; the relationships; the
//! author of the SBOM data and a timestamp. Read from SPDX 2.3 and
//! CycloneDX JSON, the formats the NTIA conformance checker reads; the
//! answer names every element missing, with the first components that
//! lack it.

use serde::Serialize;
use serde_json::Value;

/// The NTIA verdict on one SBOM.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Conformance {
    /// True when nothing is missing.
    pub conformant: bool,
    /// What is missing (`supplier of 3 components, e.g. "libc6"`).
    pub missing: Vec<String>,
}

fn text(v: &Value) -> Option<&str> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("NOASSERTION"))
}

/// Collects the components that lack something, per element.
#[derive(Default)]
pub(crate) struct Missing(Vec<(&'static str, Vec<String>)>);

impl Missing {
    pub(crate) fn lacks(&mut self, element: &'static str, component: &str) {
        match self.0.iter_mut().find(|(e, _)| *e == element) {
            Some((_, v)) => v.push(component.to_owned()),
            None => self.0.push((element, vec![component.to_owned()])),
        }
    }
    pub(crate) fn document(&mut self, element: &'static str) {
        self.0.push((element, Vec::new()));
    }
    pub(crate) fn finish(self) -> Conformance {
        let missing: Vec<String> = self
            .0
            .into_iter()
            .map(|(e, comps)| match comps.len() {
                0 => e.to_owned(),
                n => format!(
                    "{e} of {n} component{}, e.g. {:?}",
                    if n == 1 { "" } else { "s" },
                    comps[0]
                ),
            })
            .collect();
        Conformance {
            conformant: missing.is_empty(),
            missing,
        }
    }
}

/// The NTIA verdict on an SPDX 2.3 JSON document.
#[must_use]
pub fn spdx(doc: &Value) -> Conformance {
    let mut m = Missing::default();
    spdx_into(doc, &mut m);
    m.finish()
}

/// The NTIA elements an SPDX 2.3 document lacks, into `m`.
fn spdx_into(doc: &Value, m: &mut Missing) {
    if text(&doc["creationInfo"]["created"]).is_none() {
        m.document("timestamp (creationInfo.created)");
    }
    if !doc["creationInfo"]["creators"]
        .as_array()
        .is_some_and(|c| c.iter().any(|x| text(x).is_some()))
    {
        m.document("author of the SBOM data (creationInfo.creators)");
    }
    let packages = doc["packages"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if packages.is_empty() {
        m.document("components (packages)");
    }
    for p in packages {
        let name = text(&p["name"]).unwrap_or("(unnamed)");
        if text(&p["name"]).is_none() {
            m.lacks("component name", name);
        }
        if text(&p["versionInfo"]).is_none() {
            m.lacks("version", name);
        }
        if text(&p["supplier"]).is_none() {
            m.lacks("supplier", name);
        }
        if text(&p["SPDXID"]).is_none() {
            m.lacks("unique identifier (SPDXID)", name);
        }
    }
    let describes = doc["relationships"].as_array().is_some_and(|r| {
        r.iter()
            .any(|x| x["relationshipType"].as_str() == Some("DESCRIBES"))
    }) || doc["documentDescribes"]
        .as_array()
        .is_some_and(|d| !d.is_empty());
    if !describes {
        m.document("dependency relationships (no DESCRIBES relationship)");
    }
}

/// The FSCT 3 minimum-expected verdict on an SPDX 2.3 JSON document: the
/// NTIA elements, each package's concluded license and copyright text, and
/// the SBOM type, which SPDX 2.3 has no field for (so no SPDX 2.3 document
/// conforms; the SPDX project's checker says the same).
#[must_use]
pub fn spdx_fsct3(doc: &Value) -> Conformance {
    let mut m = Missing::default();
    spdx_into(doc, &mut m);
    for p in doc["packages"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let name = text(&p["name"]).unwrap_or("(unnamed)");
        if text(&p["licenseConcluded"]).is_none() {
            m.lacks("concluded license (licenseConcluded)", name);
        }
        if text(&p["copyrightText"]).is_none() {
            m.lacks("copyright notice (copyrightText)", name);
        }
    }
    m.document("SBOM type (SPDX 2.3 has no field for it: use the SPDX 3 SBOM)");
    m.finish()
}

/// The NTIA verdict on a CycloneDX JSON document.
#[must_use]
pub fn cyclonedx(doc: &Value) -> Conformance {
    let mut m = Missing::default();
    let meta = &doc["metadata"];
    if text(&meta["timestamp"]).is_none() {
        m.document("timestamp (metadata.timestamp)");
    }
    let authored = meta["authors"].as_array().is_some_and(|a| !a.is_empty())
        || meta["tools"].as_array().is_some_and(|a| !a.is_empty())
        || meta["tools"]["components"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        || text(&meta["manufacturer"]["name"]).is_some();
    if !authored {
        m.document("author of the SBOM data (metadata.authors or tools)");
    }
    let comps = doc["components"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if comps.is_empty() {
        m.document("components");
    }
    for c in comps {
        let name = text(&c["name"]).unwrap_or("(unnamed)");
        if text(&c["name"]).is_none() {
            m.lacks("component name", name);
        }
        if text(&c["version"]).is_none() {
            m.lacks("version", name);
        }
        if text(&c["supplier"]["name"]).is_none() && text(&c["publisher"]).is_none() {
            m.lacks("supplier", name);
        }
        if text(&c["purl"]).is_none() && text(&c["bom-ref"]).is_none() {
            m.lacks("unique identifier (purl or bom-ref)", name);
        }
    }
    if doc["dependencies"].as_array().is_none_or(Vec::is_empty) {
        m.document("dependency relationships (dependencies)");
    }
    m.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spdx_elements_and_what_is_missing() {
        let good = json!({
            "creationInfo": {"created": "2026-12-01T00:00:00Z", "creators": ["Tool: bulwark"]},
            "packages": [{"name": "libc6", "SPDXID": "SPDXRef-1", "versionInfo": "2.36-9", "supplier": "Organization: Debian"}],
            "relationships": [{"relationshipType": "DESCRIBES"}]
        });
        assert!(spdx(&good).conformant);
        let mut bad = good.clone();
        bad["packages"][0]["supplier"] = json!("NOASSERTION");
        bad["creationInfo"]["creators"] = json!([]);
        let c = spdx(&bad);
        assert!(!c.conformant);
        assert_eq!(
            c.missing,
            [
                "author of the SBOM data (creationInfo.creators)",
                "supplier of 1 component, e.g. \"libc6\""
            ]
        );
    }

    #[test]
    fn cyclonedx_elements() {
        let good = json!({
            "metadata": {"timestamp": "2026-12-01T00:00:00Z", "tools": {"components": [{"name": "bulwark"}]}},
            "components": [{"name": "libc6", "version": "2.36-9", "supplier": {"name": "Debian"}, "purl": "pkg:deb/debian/libc6@2.36-9"}],
            "dependencies": [{"ref": "x"}]
        });
        assert!(cyclonedx(&good).conformant);
        let c = cyclonedx(&json!({"components": []}));
        assert_eq!(c.missing.len(), 4, "{c:?}");
    }
}
