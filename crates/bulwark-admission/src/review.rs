//! AdmissionReview v1 (admission.k8s.io/v1), as the API server sends and
//! expects it. Unknown fields are kept out; what bulwark needs is typed.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// The envelope, both ways.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview {
    /// `admission.k8s.io/v1`.
    pub api_version: String,
    /// `AdmissionReview`.
    pub kind: String,
    /// Set by the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<AdmissionRequest>,
    /// Set by the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<AdmissionResponse>,
}

/// A group, version and kind.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
}

/// Who asked.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct UserInfo {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// What the API server asks about.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Copied into the response.
    pub uid: String,
    /// The object's kind.
    pub kind: GroupVersionKind,
    /// The resource (`pods`, `deployments`).
    #[serde(default)]
    pub resource: Value,
    /// `scale`, `status`, … when a subresource is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_resource: Option<String>,
    /// The object's name (may be empty for generated names).
    #[serde(default)]
    pub name: String,
    /// Its namespace.
    #[serde(default)]
    pub namespace: String,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT`.
    pub operation: String,
    /// Who.
    #[serde(default)]
    pub user_info: UserInfo,
    /// The object as it would be.
    #[serde(default)]
    pub object: Value,
    /// The object as it was (updates).
    #[serde(default)]
    pub old_object: Value,
    /// Nothing will be persisted.
    #[serde(default)]
    pub dry_run: bool,
}

/// A Kubernetes `Status` (the reason for a denial).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Status {
    /// HTTP-like code (403 for a denial).
    pub code: u16,
    /// Human-readable reason.
    pub message: String,
}

/// The webhook's answer.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's uid.
    pub uid: String,
    pub allowed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// `JSONPatch` when `patch` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// base64 of an RFC 6902 JSON patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
}

impl AdmissionReview {
    /// Reads a request body: an `admission.k8s.io/v1` AdmissionReview with
    /// a request.
    ///
    /// # Errors
    /// Larger than [`bulwark_limits::JSON_DOCUMENT`], not JSON, another
    /// version or kind, or no request.
    pub fn parse(body: &[u8]) -> Result<AdmissionRequest, Error> {
        // The API server sends objects of at most a few MiB; anything larger
        // is refused before it is parsed (serde_json bounds the nesting).
        if body.len() as u64 > bulwark_limits::JSON_DOCUMENT {
            return Err(Error::Review(format!(
                "the review is {} bytes, more than the {} MiB allowed",
                body.len(),
                bulwark_limits::JSON_DOCUMENT >> 20
            )));
        }
        let r: AdmissionReview =
            serde_json::from_slice(body).map_err(|e| Error::Review(e.to_string()))?;
        if r.api_version != "admission.k8s.io/v1" || r.kind != "AdmissionReview" {
            return Err(Error::Review(format!(
                "apiVersion {:?}, kind {:?}; configure the webhook with admissionReviewVersions: [v1]",
                r.api_version, r.kind
            )));
        }
        r.request
            .ok_or_else(|| Error::Review("no request in the review".into()))
    }

    /// The envelope for `response`.
    #[must_use]
    pub fn answer(response: AdmissionResponse) -> Self {
        Self {
            api_version: "admission.k8s.io/v1".into(),
            kind: "AdmissionReview".into(),
            request: None,
            response: Some(response),
        }
    }
}

impl AdmissionResponse {
    /// Allowed, with warnings.
    #[must_use]
    pub fn allow(uid: &str, warnings: Vec<String>) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: true,
            warnings,
            ..Self::default()
        }
    }

    /// Denied with a 403 and `message`.
    #[must_use]
    pub fn deny(uid: &str, message: String) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: false,
            status: Some(Status { code: 403, message }),
            ..Self::default()
        }
    }

    /// Adds a JSON patch (RFC 6902 operations); an empty one adds nothing.
    #[must_use]
    pub fn with_patch(mut self, ops: &[Value]) -> Self {
        if !ops.is_empty() {
            let json = serde_json::to_vec(ops).unwrap_or_default();
            self.patch = Some(base64::engine::general_purpose::STANDARD.encode(json));
            self.patch_type = Some("JSONPatch".into());
        }
        self
    }
    /// The object as the API server passes it on after this response: the
    /// `replace` operations of its patch (the only ones `/mutate` writes)
    /// applied to `object`. The validating webhooks see that object, so an
    /// offline check of both endpoints validates it too.
    ///
    /// # Errors
    /// The patch is not base64 JSON, holds another operation, or names a
    /// path the object does not have.
    pub fn patched(&self, object: &Value) -> Result<Value, String> {
        let mut out = object.clone();
        let Some(b64) = &self.patch else {
            return Ok(out);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("the patch is not base64: {e}"))?;
        let ops: Vec<Value> =
            serde_json::from_slice(&bytes).map_err(|e| format!("the patch is not JSON: {e}"))?;
        for op in &ops {
            let (Some("replace"), Some(path)) = (op["op"].as_str(), op["path"].as_str()) else {
                return Err(format!("unsupported patch operation {op}"));
            };
            let slot = out.pointer_mut(path).ok_or_else(|| {
                format!("the patch replaces {path}, which the object does not have")
            })?;
            *slot = op["value"].clone();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_v1_review_and_refuses_others() {
        let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"ns","object":{"spec":{}},"dryRun":true,"userInfo":{"username":"alice"}}}"#;
        let r = AdmissionReview::parse(body).unwrap();
        assert_eq!((r.uid.as_str(), r.kind.kind.as_str()), ("u1", "Pod"));
        assert!(r.dry_run);
        assert_eq!(r.user_info.username, "alice");
        let v1beta1 = String::from_utf8_lossy(body)
            .replace("admission.k8s.io/v1", "admission.k8s.io/v1beta1");
        let e = AdmissionReview::parse(v1beta1.as_bytes()).unwrap_err();
        assert!(
            e.to_string().contains("admissionReviewVersions: [v1]"),
            "{e}"
        );
        assert!(AdmissionReview::parse(b"{").is_err());
        let huge = vec![b' '; usize::try_from(bulwark_limits::JSON_DOCUMENT).unwrap() + 1];
        let e = AdmissionReview::parse(&huge).unwrap_err();
        assert!(e.to_string().contains("MiB allowed"), "{e}");
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(AdmissionReview::parse(deep.as_bytes()).is_err());
        assert!(
            AdmissionReview::parse(
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn a_patch_applies_to_the_object_the_validators_see() {
        let object = serde_json::json!({"spec": {"containers": [{"image": "r/a:1"}]}});
        let r = AdmissionResponse::allow("u", vec![]).with_patch(&[serde_json::json!(
            {"op": "replace", "path": "/spec/containers/0/image", "value": "r/a:1@sha256:ab"}
        )]);
        assert_eq!(
            r.patched(&object).unwrap()["spec"]["containers"][0]["image"],
            "r/a:1@sha256:ab"
        );
        assert_eq!(
            AdmissionResponse::allow("u", vec![])
                .patched(&object)
                .unwrap(),
            object
        );
        let bad = AdmissionResponse::allow("u", vec![]).with_patch(&[serde_json::json!(
            {"op": "replace", "path": "/spec/nothing/0", "value": 1}
        )]);
        assert!(
            bad.patched(&object)
                .unwrap_err()
                .contains("/spec/nothing/0")
        );
    }

    #[test]
    fn responses_carry_the_uid_and_a_base64_patch() {
        let r = AdmissionResponse::allow("u1", vec![]).with_patch(&[serde_json::json!(
            {"op": "replace", "path": "/spec/containers/0/image", "value": "a:1@sha256:00"}
        )]);
        let v = serde_json::to_value(AdmissionReview::answer(r)).unwrap();
        assert_eq!(v["response"]["uid"], "u1");
        assert_eq!(v["response"]["patchType"], "JSONPatch");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v["response"]["patch"].as_str().unwrap())
            .unwrap();
        assert!(
            String::from_utf8(raw)
                .unwrap()
                .contains("/spec/containers/0/image")
        );
        let d = serde_json::to_value(AdmissionResponse::deny("u2", "unsigned".into())).unwrap();
        assert_eq!(d["status"]["code"], 403);
        assert!(d.get("patch").is_none());
    }
}
