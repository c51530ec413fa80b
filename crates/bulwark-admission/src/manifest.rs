//! Kubernetes manifests as admission requests, for checking them before
//! they are applied (`bulwark admit --manifest`): every YAML or JSON
//! document, `List` items unwrapped, each a CREATE in its namespace.

use serde_json::{Value, json};

use crate::{AdmissionRequest, Error};

/// The requests the API server would send for the objects in `text`.
///
/// # Errors
/// YAML or JSON that cannot be read, or a document that is not an object
/// with `kind` and `apiVersion`.
pub fn requests_from_manifest(
    text: &str,
    origin: &str,
    namespace: &str,
) -> Result<Vec<AdmissionRequest>, Error> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| Error::Review(format!("{origin}: {e}")))?;
    let mut objects = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        if doc["kind"].as_str().is_some_and(|k| k.ends_with("List")) && doc["items"].is_array() {
            objects.extend(
                doc["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|o| (i, o)),
            );
        } else {
            objects.push((i, doc));
        }
    }
    let mut out = Vec::new();
    for (n, (doc, obj)) in objects.into_iter().enumerate() {
        let (Some(kind), Some(api)) = (obj["kind"].as_str(), obj["apiVersion"].as_str()) else {
            return Err(Error::Review(format!(
                "{origin}: document {} is not a Kubernetes object (no kind or apiVersion)",
                doc + 1
            )));
        };
        let (group, version) = api.split_once('/').unwrap_or(("", api));
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(namespace);
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let req = json!({
            "uid": format!("{origin}#{}", n + 1),
            "kind": {"group": group, "version": version, "kind": kind},
            "name": name,
            "namespace": ns,
            "operation": "CREATE",
            "userInfo": {"username": "bulwark-admit"},
            "object": obj,
        });
        out.push(
            serde_json::from_value(req)
                .map_err(|e| Error::Review(format!("{origin}: document {}: {e}", doc + 1)))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_lists_and_namespaces() {
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {template: {spec: {containers: [{name: a, image: r/a:1}]}}}\n---\napiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: b, image: r/b:1}]}}\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n---\n";
        let reqs = requests_from_manifest(yaml, "m.yaml", "default").unwrap();
        assert_eq!(reqs.len(), 3);
        assert_eq!(
            (reqs[0].kind.group.as_str(), reqs[0].namespace.as_str()),
            ("apps", "shop")
        );
        assert_eq!(
            (reqs[1].kind.kind.as_str(), reqs[1].namespace.as_str()),
            ("Pod", "default")
        );
        assert_eq!(reqs[1].uid, "m.yaml#2");
        let e = requests_from_manifest("a: 1\n", "x.yaml", "default").unwrap_err();
        assert!(e.to_string().contains("not a Kubernetes object"), "{e}");
        assert!(requests_from_manifest("{{{", "x.yaml", "default").is_err());
    }
}
