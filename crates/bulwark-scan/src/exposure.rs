//! Where a workload can be reached from, read from its Kubernetes manifests,
//! and what a running process loaded (runtime evidence).

use std::collections::BTreeSet;
use std::path::Path;

use crate::{Error, Exposure};

/// The exposure Kubernetes objects give a workload, and the evidence for it:
/// a Service of type LoadBalancer or an Ingress is the internet; a NodePort
/// Service, `hostNetwork` or a `hostPort` the nodes' network; a ClusterIP
/// Service the cluster; none of these, nothing.
///
/// # Errors
/// A file that cannot be read or is not YAML.
pub fn from_k8s(files: &[std::path::PathBuf]) -> Result<(Exposure, String), Error> {
    let mut best: Option<(u8, Exposure, String)> = None;
    let mut consider = |rank: u8, e: Exposure, why: String| {
        if best.as_ref().is_none_or(|(r, _, _)| rank > *r) {
            best = Some((rank, e, why));
        }
    };
    for f in files {
        let name = f.display().to_string();
        let text =
            bulwark_limits::read_file_string(f, bulwark_limits::SPEC_FILE, "Kubernetes manifest")
                .map_err(|e| Error::Target {
                target: name.clone(),
                detail: e.to_string(),
            })?;
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| Error::Target {
                target: name.clone(),
                detail: format!("not Kubernetes YAML: {e}"),
            })?;
        let mut stack: Vec<serde_json::Value> = docs;
        while let Some(d) = stack.pop() {
            // `kind: List` holds items.
            if let Some(items) = d["items"].as_array() {
                stack.extend(items.iter().cloned());
            }
            let kind = d["kind"].as_str().unwrap_or_default();
            let obj = d["metadata"]["name"].as_str().unwrap_or("?");
            match kind {
                "Ingress" => consider(3, Exposure::Internet, format!("Ingress {obj} in {name}")),
                "Service" => match d["spec"]["type"].as_str().unwrap_or("ClusterIP") {
                    "LoadBalancer" => consider(
                        3,
                        Exposure::Internet,
                        format!("Service {obj} of type LoadBalancer in {name}"),
                    ),
                    "NodePort" => consider(
                        2,
                        Exposure::Internal,
                        format!("Service {obj} of type NodePort in {name}"),
                    ),
                    _ => consider(1, Exposure::Internal, format!("Service {obj} in {name}")),
                },
                _ => {}
            }
            // Pods and every workload template.
            let spec = if d["spec"]["template"]["spec"].is_object() {
                &d["spec"]["template"]["spec"]
            } else if d["spec"]["jobTemplate"]["spec"]["template"]["spec"].is_object() {
                &d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            } else {
                &d["spec"]
            };
            if spec["hostNetwork"].as_bool() == Some(true) {
                consider(
                    2,
                    Exposure::Internal,
                    format!("{kind} {obj} uses hostNetwork in {name}"),
                );
            }
            for c in spec["containers"].as_array().into_iter().flatten() {
                for p in c["ports"].as_array().into_iter().flatten() {
                    if let Some(hp) = p["hostPort"].as_u64() {
                        consider(
                            2,
                            Exposure::Internal,
                            format!("{kind} {obj} binds hostPort {hp} in {name}"),
                        );
                    }
                }
            }
        }
    }
    Ok(match best {
        Some((_, e, why)) => (e, why),
        None => (
            Exposure::Isolated,
            format!(
                "no Service, Ingress, hostNetwork or hostPort in {}",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    })
}

/// The files a running process mapped or opened: `/proc/PID/maps` lines (the
/// path is the last field) or one path per line; root-relative.
///
/// # Errors
/// The file cannot be read.
pub fn runtime_paths(file: &Path) -> Result<BTreeSet<String>, Error> {
    let text =
        bulwark_limits::read_file_string(file, bulwark_limits::SPEC_FILE, "runtime evidence")
            .map_err(|e| Error::Target {
                target: file.display().to_string(),
                detail: e.to_string(),
            })?;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let path = match fields.as_slice() {
            // address perms offset dev inode path
            [_, _, _, _, _, path, ..] if fields[0].contains('-') => *path,
            [path] => *path,
            _ => continue,
        };
        if let Some(p) = path.strip_prefix('/') {
            out.insert(p.trim_end_matches(" (deleted)").to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_and_maps() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("k.yaml");
        std::fs::write(
            &k,
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: NodePort}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: x}]\n",
        )
        .unwrap();
        let (e, why) = from_k8s(std::slice::from_ref(&k)).unwrap();
        assert_eq!(e, Exposure::Internal);
        assert!(why.contains("NodePort"), "{why}");
        std::fs::write(&k, "kind: Ingress\nmetadata: {name: in}\n").unwrap();
        assert_eq!(
            from_k8s(std::slice::from_ref(&k)).unwrap().0,
            Exposure::Internet
        );
        std::fs::write(&k, "kind: ConfigMap\nmetadata: {name: c}\n").unwrap();
        assert_eq!(
            from_k8s(std::slice::from_ref(&k)).unwrap().0,
            Exposure::Isolated
        );
        std::fs::write(&k, "kind: [").unwrap();
        assert!(from_k8s(&[k]).is_err());
        let m = dir.path().join("maps");
        std::fs::write(
            &m,
            "7f00-7f10 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libssl.so.3\n7f10-7f20 rw-p 00000000 00:00 0 \n7f20-7f30 r--p 0 08:01 9 [heap]\n/usr/bin/python3.11\n",
        )
        .unwrap();
        let p = runtime_paths(&m).unwrap();
        assert_eq!(
            p.into_iter().collect::<Vec<_>>(),
            ["usr/bin/python3.11", "usr/lib/x86_64-linux-gnu/libssl.so.3"]
        );
    }
}
