//! The images a Pod, or a workload's Pod template, would run, each with the
//! JSON pointer of its `image` field (for digest-pinning patches).

use serde_json::Value;

use crate::{AdmissionRequest, Error};

/// One container image in an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageAt {
    /// The reference as written.
    pub image: String,
    /// JSON pointer of the `image` field (`/spec/containers/0/image`).
    pub pointer: String,
    /// The container's name.
    pub container: String,
}

/// Where the Pod spec sits in each kind bulwark admits.
fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "/spec",
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "PodTemplate" => "/template/spec",
        _ => return None,
    })
}

/// Every image of `object` (a `kind`): containers, initContainers and
/// ephemeralContainers of its Pod spec. A kind that carries no Pod spec
/// has none.
///
/// # Errors
/// A container list that is not a list, or a container without a string
/// image: refused, never skipped (an image that cannot be read cannot be
/// checked).
pub fn images_of(kind: &str, object: &Value) -> Result<Vec<ImageAt>, Error> {
    let Some(ptr) = pod_spec_pointer(kind) else {
        return Ok(Vec::new());
    };
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)")
        .to_owned();
    let bad = |detail: String| Error::Object {
        kind: kind.to_owned(),
        name: name.clone(),
        detail,
    };
    let Some(spec) = object.pointer(ptr) else {
        return Err(bad(format!("no Pod spec at {ptr}")));
    };
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(items) = spec.get(list) else {
            continue;
        };
        if items.is_null() {
            continue;
        }
        let items = items
            .as_array()
            .ok_or_else(|| bad(format!("{ptr}/{list} is not a list")))?;
        for (i, c) in items.iter().enumerate() {
            let image = c
                .get("image")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| bad(format!("{ptr}/{list}/{i} has no image")))?;
            out.push(ImageAt {
                image: image.to_owned(),
                pointer: format!("{ptr}/{list}/{i}/image"),
                container: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
    }
    Ok(out)
}

/// Subresources that cannot change an image: writing them needs no check.
/// Any other (`ephemeralcontainers`, which `kubectl debug` uses, or one
/// unknown) is reviewed like the object itself.
const IMAGELESS_SUBRESOURCES: &[&str] = &["scale", "status", "binding", "eviction"];

/// Whether `req` needs its images checked: deletes, connects, image-less
/// subresources (`scale`, `status`) and updates whose images did not
/// change pass without work.
///
/// # Errors
/// The object cannot be read (see [`images_of`]).
pub fn needs_review(req: &AdmissionRequest) -> Result<bool, Error> {
    if req.operation == "DELETE" || req.operation == "CONNECT" {
        return Ok(false);
    }
    if req
        .sub_resource
        .as_deref()
        .is_some_and(|s| IMAGELESS_SUBRESOURCES.contains(&s))
    {
        return Ok(false);
    }
    let now = images_of(&req.kind.kind, &req.object)?;
    if now.is_empty() {
        return Ok(false);
    }
    if req.operation == "UPDATE" && !req.old_object.is_null() {
        let before = images_of(&req.kind.kind, &req.old_object).unwrap_or_default();
        if sorted_names(&before) == sorted_names(&now) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn sorted_names(v: &[ImageAt]) -> Vec<&str> {
    let mut n: Vec<&str> = v.iter().map(|i| i.image.as_str()).collect();
    n.sort_unstable();
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn containers() -> Value {
        json!({
            "initContainers": [{"name": "init", "image": "r/init:1"}],
            "containers": [{"name": "app", "image": "r/app:1"}, {"name": "side", "image": "r/side@sha256:ab"}],
            "ephemeralContainers": [{"name": "debug", "image": "r/debug:1"}]
        })
    }

    #[test]
    fn every_workload_kind_and_every_container_list() {
        let spec = containers();
        let cases = [
            ("Pod", json!({"spec": spec})),
            ("Deployment", json!({"spec": {"template": {"spec": spec}}})),
            ("StatefulSet", json!({"spec": {"template": {"spec": spec}}})),
            ("DaemonSet", json!({"spec": {"template": {"spec": spec}}})),
            ("ReplicaSet", json!({"spec": {"template": {"spec": spec}}})),
            ("Job", json!({"spec": {"template": {"spec": spec}}})),
            (
                "ReplicationController",
                json!({"spec": {"template": {"spec": spec}}}),
            ),
            (
                "CronJob",
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}),
            ),
        ];
        for (kind, obj) in cases {
            let got = images_of(kind, &obj).unwrap();
            let names: Vec<&str> = got.iter().map(|i| i.image.as_str()).collect();
            assert_eq!(
                names,
                ["r/init:1", "r/app:1", "r/side@sha256:ab", "r/debug:1"],
                "{kind}"
            );
            for i in &got {
                assert_eq!(
                    obj.pointer(&i.pointer).and_then(Value::as_str),
                    Some(i.image.as_str()),
                    "{kind}"
                );
            }
        }
        assert!(
            images_of("ConfigMap", &json!({"data": {}}))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_objects_are_refused_not_skipped() {
        let e = images_of(
            "Pod",
            &json!({"metadata": {"name": "p"}, "spec": {"containers": {"a": 1}}}),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("Pod p: /spec/containers is not a list"),
            "{e}"
        );
        let e = images_of("Pod", &json!({"spec": {"containers": [{"name": "x"}]}})).unwrap_err();
        assert!(
            e.to_string().contains("/spec/containers/0 has no image"),
            "{e}"
        );
        assert!(images_of("Deployment", &json!({"spec": {}})).is_err());
    }

    fn request(op: &str, obj: Value, old: Value, sub: Option<&str>) -> AdmissionRequest {
        serde_json::from_value(json!({
            "uid": "u", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "operation": op, "object": obj, "oldObject": old, "subResource": sub,
        }))
        .unwrap()
    }

    #[test]
    fn deletes_scales_and_unchanged_images_need_no_work() {
        let d = |img: &str, replicas: u32| json!({"spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "a", "image": img}]}}}});
        assert!(needs_review(&request("CREATE", d("r/a:1", 1), Value::Null, None)).unwrap());
        assert!(!needs_review(&request("DELETE", Value::Null, d("r/a:1", 1), None)).unwrap());
        assert!(
            !needs_review(&request(
                "UPDATE",
                d("r/a:1", 5),
                d("r/a:1", 1),
                Some("scale")
            ))
            .unwrap()
        );
        assert!(!needs_review(&request("UPDATE", d("r/a:1", 5), d("r/a:1", 1), None)).unwrap());
        assert!(needs_review(&request("UPDATE", d("r/a:2", 1), d("r/a:1", 1), None)).unwrap());
    }

    #[test]
    fn kubectl_debug_containers_are_reviewed() {
        let pod = |extra: Value| json!({"spec": {"containers": [{"name": "a", "image": "r/a:1"}], "ephemeralContainers": extra}});
        let req: AdmissionRequest = serde_json::from_value(json!({
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "UPDATE", "subResource": "ephemeralcontainers",
            "object": pod(json!([{"name": "debug", "image": "evil/shell:1"}])),
            "oldObject": pod(Value::Null),
        }))
        .unwrap();
        assert!(needs_review(&req).unwrap());
    }
}
