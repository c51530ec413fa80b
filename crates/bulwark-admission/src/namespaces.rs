//! Where a namespace's labels come from, for policies that select
//! namespaces by label: the Kubernetes API server (what the webhook uses in
//! a cluster), or a file (`kubectl get namespaces -o json`, or a plain map)
//! for `bulwark admit` in CI. An AdmissionReview carries the object's
//! namespace name, not its labels, so the webhook reads them, as Kyverno
//! does; the engine caches them briefly and fails closed when they cannot
//! be read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::selector::Labels;

/// The label the API server sets on every namespace, to its name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A source of namespace labels.
pub trait NamespaceSource: Send + Sync {
    /// The labels of `namespace`.
    ///
    /// # Errors
    /// What could not be read, and what to do about it.
    fn labels(&self, namespace: &str) -> Result<Labels, String>;
}

/// Whether `name` is a namespace name (an RFC 1123 label), so that it can
/// be put in an API path as it is.
#[must_use]
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The labels of one Namespace object (`metadata.labels`), with the name
/// label the API server would add.
fn labels_of(obj: &Value, origin: &str) -> Result<(String, Labels), String> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{origin}: a Namespace without metadata.name"))?;
    let mut labels = Labels::new();
    if let Some(map) = obj.pointer("/metadata/labels") {
        let map = map
            .as_object()
            .ok_or_else(|| format!("{origin}: namespace {name}: metadata.labels is not a map"))?;
        for (k, v) in map {
            let v = v
                .as_str()
                .ok_or_else(|| format!("{origin}: namespace {name}: label {k} is not a string"))?;
            labels.insert(k.clone(), v.to_owned());
        }
    }
    labels
        .entry(NAME_LABEL.to_owned())
        .or_insert_with(|| name.to_owned());
    Ok((name.to_owned(), labels))
}

/// Namespace labels read from a file once.
#[derive(Clone, Debug, Default)]
pub struct StaticNamespaces {
    origin: String,
    namespaces: BTreeMap<String, Labels>,
}

impl StaticNamespaces {
    /// Reads `path`: JSON or YAML, either what `kubectl get namespaces -o
    /// json` prints (a `List` or `NamespaceList` of Namespace objects, or
    /// one Namespace), or a map of namespace name to labels. Every
    /// namespace also carries [`NAME_LABEL`], as in a cluster.
    ///
    /// # Errors
    /// The file cannot be read or is not one of those shapes.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let origin = path.display().to_string();
        let bytes = bulwark_limits::read_file(path, bulwark_limits::JSON_DOCUMENT, "namespaces")
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{origin}: not UTF-8 text"))?;
        Self::from_text(&text, &origin)
    }

    /// [`Self::from_file`] for text already read.
    ///
    /// # Errors
    /// As [`Self::from_file`].
    pub fn from_text(text: &str, origin: &str) -> Result<Self, String> {
        let doc: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => serde_saphyr::from_str(text)
                .map_err(|e| format!("{origin}: neither JSON nor YAML: {e}"))?,
        };
        let mut namespaces = BTreeMap::new();
        let kind = doc.get("kind").and_then(Value::as_str);
        match kind {
            Some("List" | "NamespaceList") => {
                for item in doc
                    .get("items")
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("{origin}: a {kind:?} without items"))?
                {
                    if item.get("kind").and_then(Value::as_str) != Some("Namespace") {
                        continue;
                    }
                    let (name, labels) = labels_of(item, origin)?;
                    namespaces.insert(name, labels);
                }
            }
            Some("Namespace") => {
                let (name, labels) = labels_of(&doc, origin)?;
                namespaces.insert(name, labels);
            }
            Some(other) => {
                return Err(format!(
                    "{origin}: a {other}, not namespaces (give `kubectl get namespaces -o json` or a map of namespace to labels)"
                ));
            }
            None => {
                let map = doc.as_object().ok_or_else(|| {
                    format!("{origin}: not a map of namespace to labels, nor a namespace list")
                })?;
                for (name, labels) in map {
                    let mut obj = serde_json::json!({"metadata": {"name": name}});
                    obj["metadata"]["labels"] = labels.clone();
                    let (name, labels) = labels_of(&obj, origin)?;
                    namespaces.insert(name, labels);
                }
            }
        }
        Ok(Self {
            origin: origin.to_owned(),
            namespaces,
        })
    }
}

impl NamespaceSource for StaticNamespaces {
    fn labels(&self, namespace: &str) -> Result<Labels, String> {
        self.namespaces.get(namespace).cloned().ok_or_else(|| {
            format!(
                "namespace {namespace:?} is not in {} (add it: kubectl get namespaces -o json)",
                self.origin
            )
        })
    }
}

/// In a Pod, where the service account's credentials are mounted.
const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Namespace responses larger than this are refused (a Namespace is a few
/// hundred bytes; labels and annotations are bounded at 256 KiB).
const MAX_NAMESPACE: u64 = 1 << 20;

/// The Kubernetes API server, read with the webhook's service account.
pub struct KubeNamespaces {
    api: String,
    token: PathBuf,
    client: reqwest::blocking::Client,
}

impl std::fmt::Debug for KubeNamespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeNamespaces")
            .field("api", &self.api)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl KubeNamespaces {
    /// The API server at `api` (`https://host:port`), trusted only through
    /// the CA certificates in `ca` (PEM), with the bearer token in `token`
    /// (read at every request: projected tokens are rotated); each read
    /// bounded by `timeout`.
    ///
    /// # Errors
    /// The CA file cannot be read or holds no certificate, or `api` is not
    /// an https URL.
    pub fn new(api: &str, ca: &Path, token: &Path, timeout: Duration) -> Result<Self, String> {
        let api = api.trim_end_matches('/').to_owned();
        if !api.starts_with("https://") {
            return Err(format!(
                "the API server address {api:?} is not an https:// URL (namespace labels are read over TLS only)"
            ));
        }
        let pem = bulwark_limits::read_file(ca, 1 << 20, "API server CA")
            .map_err(|e| format!("{e} (the API server's CA, to read namespace labels)"))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| format!("{}: no PEM certificate in it", ca.display()))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")))
            .tls_certs_only(certs)
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot set up the API client: {e}"))?;
        Ok(Self {
            api,
            token: token.to_owned(),
            client,
        })
    }

    /// The API server as a Pod sees it: `KUBERNETES_SERVICE_HOST` and
    /// `KUBERNETES_SERVICE_PORT`, with the mounted service account's CA and
    /// token. `None` outside a cluster.
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn in_cluster(timeout: Duration) -> Option<Result<Self, String>> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").ok()?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let sa = Path::new(SERVICE_ACCOUNT);
        Some(Self::new(
            &format!("https://{host}:{port}"),
            &sa.join("ca.crt"),
            &sa.join("token"),
            timeout,
        ))
    }
}

impl NamespaceSource for KubeNamespaces {
    fn labels(&self, namespace: &str) -> Result<Labels, String> {
        if !valid_name(namespace) {
            return Err(format!("{namespace:?} is not a namespace name"));
        }
        let url = format!("{}/api/v1/namespaces/{namespace}", self.api);
        let token = bulwark_limits::read_file(&self.token, 64 << 10, "service account token")
            .map_err(|e| format!("{e} (mount the service account token: deploy/admission)"))?;
        let token = String::from_utf8_lossy(&token).trim().to_owned();
        let resp = self
            .client
            .get(&url)
            .bearer_auth(token)
            .header("Accept", "application/json")
            .send()
            .map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(format!("{url}: namespace {namespace} does not exist"));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(format!(
                "{url}: the API server answered {status}: the webhook's service account needs get on namespaces (deploy/admission/rbac.yaml)"
            ));
        }
        if !status.is_success() {
            return Err(format!("{url}: the API server answered {status}"));
        }
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(resp, MAX_NAMESPACE + 1), &mut body)
            .map_err(|e| format!("{url}: {e}"))?;
        if body.len() as u64 > MAX_NAMESPACE {
            return Err(format!(
                "{url}: the answer is larger than {MAX_NAMESPACE} bytes; not a Namespace"
            ));
        }
        let obj: Value =
            serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))?;
        if obj.get("kind").and_then(Value::as_str) != Some("Namespace") {
            return Err(format!("{url}: the answer is not a Namespace"));
        }
        let (name, labels) = labels_of(&obj, &url)?;
        if name != namespace {
            return Err(format!(
                "{url}: the answer describes namespace {name:?}, not {namespace:?}"
            ));
        }
        Ok(labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_kubectl_output_and_from_a_map() {
        let list = r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"env":"prod","kubernetes.io/metadata.name":"shop"}}},
            {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"}}]}"#;
        let s = StaticNamespaces::from_text(list, "ns.json").unwrap();
        assert_eq!(s.labels("shop").unwrap()["env"], "prod");
        assert_eq!(s.labels("dev").unwrap()[NAME_LABEL], "dev");
        let e = s.labels("other").unwrap_err();
        assert!(e.contains("\"other\" is not in ns.json"), "{e}");
        let map = "shop: {env: prod}\nci: {}\n";
        let s = StaticNamespaces::from_text(map, "ns.yaml").unwrap();
        assert_eq!(s.labels("shop").unwrap()["env"], "prod");
        assert_eq!(s.labels("ci").unwrap().len(), 1);
        for (bad, want) in [
            (r#"{"kind":"Pod"}"#, "not namespaces"),
            ("shop: {env: [1]}", "is not a string"),
            ("- a\n- b\n", "not a map"),
            (r#"{"kind":"List"}"#, "without items"),
        ] {
            let e = StaticNamespaces::from_text(bad, "f").unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn names_that_cannot_reach_another_api_path() {
        assert!(valid_name("team-a") && valid_name("a1"));
        for bad in [
            "",
            "../secrets",
            "a/b",
            "A",
            "-a",
            "a-",
            "a?b",
            &"a".repeat(64),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_api_client_needs_https_and_a_ca() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, "not a certificate").unwrap();
        let t = Duration::from_secs(1);
        let e = KubeNamespaces::new("http://127.0.0.1:1", &ca, &ca, t).unwrap_err();
        assert!(e.contains("not an https:// URL"), "{e}");
        let e = KubeNamespaces::new("https://127.0.0.1:1", &ca, &ca, t).unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
    }
}
