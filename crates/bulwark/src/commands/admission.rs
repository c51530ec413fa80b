//! `bulwark admission serve|certs|verify-log` and `bulwark admit`.

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use bulwark_admission::audit::{AuditLog, last_line_digest, verify_log as check_log};
use bulwark_admission::{
    AdmissionReview, Decision, Endpoint, Engine, KubeNamespaces, NamespaceSource, Policies,
    RegistryChecker, Settings, StaticNamespaces,
};

use crate::cli::{AdmitArgs, DecisionArgs, Format, ServeArgs};
use crate::term::safe;

/// The engine; `in_cluster`: the server may fall back to the API server
/// of the cluster it runs in (`admit` in CI never does: a CI job running in
/// some cluster must not read that cluster's namespaces by accident).
fn engine(d: &DecisionArgs, in_cluster: bool) -> anyhow::Result<Engine> {
    let mut opts = super::trust::store_options(d.insecure);
    // Registry work must fit the budget: one retry, quickly.
    opts.timeout = d.budget;
    opts.attempts = 2;
    opts.backoff = std::time::Duration::from_millis(100);
    let checker = RegistryChecker::new(opts)?;
    let engine = Engine::new(
        Arc::new(checker),
        Settings {
            ttl: d.cache_ttl,
            failure_ttl: d.failure_ttl,
            tag_ttl: d.tag_ttl,
            budget: d.budget,
            capacity: d.cache_size,
            workers: d.workers,
            namespace_ttl: d.namespace_ttl,
        },
    );
    Ok(match namespace_source(d, in_cluster)? {
        Some(source) => engine.with_namespaces(source),
        None => engine,
    })
}

/// Where namespace labels come from: `--namespaces FILE`, `--kube-api`, or
/// (with `in_cluster`) the API server of the cluster this runs in; `None`
/// otherwise (a policy with a namespace-selector then denies, saying so).
fn namespace_source(
    d: &DecisionArgs,
    in_cluster: bool,
) -> anyhow::Result<Option<Arc<dyn NamespaceSource>>> {
    if let Some(file) = &d.namespaces {
        let s = StaticNamespaces::from_file(file).map_err(anyhow::Error::msg)?;
        tracing::info!("namespace labels from {}", file.display());
        return Ok(Some(Arc::new(s)));
    }
    // The API server shares the budget with the registries.
    let timeout = d.budget.min(std::time::Duration::from_secs(2));
    let kube = match &d.kube_api {
        Some(api) => Some(KubeNamespaces::new(api, &d.kube_ca, &d.kube_token, timeout)),
        None if in_cluster => KubeNamespaces::in_cluster(timeout),
        None => None,
    };
    match kube {
        Some(Ok(k)) => {
            tracing::info!("namespace labels from {k:?}");
            Ok(Some(Arc::new(k)))
        }
        // Asked for by flag: an error now.
        Some(Err(e)) if d.kube_api.is_some() => Err(anyhow::Error::msg(e)),
        // In a cluster without the service account mounted, policies
        // without a selector still work; those with one deny, saying why.
        Some(Err(e)) => {
            tracing::warn!("namespace labels cannot be read: {e}");
            Ok(Some(Arc::new(Unavailable(e))))
        }
        None => Ok(None),
    }
}

/// A namespace source that could not be set up, and why.
struct Unavailable(String);

impl NamespaceSource for Unavailable {
    fn labels(&self, _: &str) -> Result<bulwark_admission::selector::Labels, String> {
        Err(self.0.clone())
    }
}

/// The digest of the last line of an existing log, read from its tail.
fn tail_digest(path: &Path) -> anyhow::Result<String> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return Ok(String::new());
    };
    let len = f.metadata()?.len();
    let start = len.saturating_sub(1 << 20);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(1 << 20).read_to_end(&mut buf)?;
    Ok(last_line_digest(&String::from_utf8_lossy(&buf)))
}

pub fn serve(a: &ServeArgs) -> anyhow::Result<ExitCode> {
    let key = a
        .sign_decisions
        .as_deref()
        .map(super::trust::load_private_key)
        .transpose()?;
    let (out, prev): (Box<dyn std::io::Write + Send>, String) = match &a.audit_log {
        Some(path) => {
            let prev = tail_digest(path)?;
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the audit log {}", path.display()))?;
            (Box::new(f), prev)
        }
        None => (Box::new(std::io::stdout()), String::new()),
    };
    let audit = AuditLog::new(out, key, prev);
    let opts = bulwark_webhook::Options {
        config: a.decision.config.clone(),
        tls_cert: a.tls_cert.clone(),
        tls_key: a.tls_key.clone(),
        listen: a.listen,
        reload_every: a.reload_every,
        grace: a.grace,
        on_listening: Box::new(|addr| {
            eprintln!("bulwark admission: listening on https://{addr}");
        }),
    };
    bulwark_webhook::serve(opts, engine(&a.decision, true)?, audit)?;
    eprintln!("bulwark admission: stopped");
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
pub fn certs(
    service: &str,
    namespace: &str,
    out: &Path,
    extra: &[String],
    days: u32,
    force: bool,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let mut names = bulwark_webhook::service_names(service, namespace);
    names.extend(extra.iter().cloned());
    let files = ["ca.crt", "tls.crt", "tls.key"].map(|f| out.join(f));
    if !force && let Some(f) = files.iter().find(|f| f.exists()) {
        bail!(
            "{} exists; use --force to replace the certificates (the webhook configurations' caBundle must then be updated too)",
            f.display()
        );
    }
    let issued = bulwark_webhook::issue(&names, days).map_err(|e| anyhow::anyhow!(e))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    bulwark_oci::write_file_atomic(&files[0], issued.ca_cert.as_bytes())?;
    bulwark_oci::write_file_atomic(&files[1], issued.cert.as_bytes())?;
    super::trust::write_private(&files[2], issued.key.as_bytes())?;
    let bundle = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        issued.ca_cert.as_bytes(),
    );
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "caCert": files[0], "cert": files[1], "key": files[2],
                "names": issued.names, "days": days, "caBundle": bundle,
            }))?
        ),
        Format::Text => {
            for f in &files {
                eprintln!("wrote {}", f.display());
            }
            eprintln!("names: {}", issued.names.join(", "));
            eprintln!("caBundle for the webhook configurations:");
            println!("{bundle}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify_log(file: &Path, keys: &[PathBuf], format: Format) -> anyhow::Result<ExitCode> {
    let keys = super::trust::load_public_keys(keys)?;
    let bytes = bulwark_limits::read_file(file, 4 << 30, "audit log")?;
    let c = check_log(&String::from_utf8_lossy(&bytes), &keys);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&c)?),
        Format::Text => {
            println!(
                "{}: {} of {} lines verified",
                file.display(),
                c.verified,
                c.lines
            );
            if !c.starts_after.is_empty() {
                println!(
                    "  starts after {} (earlier lines are not in this file)",
                    c.starts_after
                );
            }
            println!("  last line {}", c.head);
            for p in &c.problems {
                println!("  {}", safe(p));
            }
        }
    }
    if c.problems.is_empty() && c.lines > 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        if c.lines == 0 {
            eprintln!("error: {} holds no lines", file.display());
        }
        Ok(ExitCode::from(3))
    }
}

fn read_input(path: &Path, what: &str) -> anyhow::Result<String> {
    let bytes = if path.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .take(bulwark_limits::JSON_DOCUMENT + 1)
            .read_to_end(&mut b)?;
        if b.len() as u64 > bulwark_limits::JSON_DOCUMENT {
            bail!(
                "stdin: more than {} MiB",
                bulwark_limits::JSON_DOCUMENT >> 20
            );
        }
        b
    } else {
        bulwark_limits::read_file(path, bulwark_limits::JSON_DOCUMENT, what)?
    };
    String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8 text", path.display()))
}

pub fn admit(a: &AdmitArgs) -> anyhow::Result<ExitCode> {
    let policies = Arc::new(Policies::load(&a.decision.config)?);
    let engine = engine(&a.decision, false)?;
    let mut requests = Vec::new();
    if let Some(review) = &a.review {
        let text = read_input(review, "AdmissionReview")?;
        let req = AdmissionReview::parse(text.as_bytes())
            .with_context(|| format!("{}", review.display()))?;
        requests.push(req);
    }
    for m in &a.manifest {
        let text = read_input(m, "manifest")?;
        let origin = if m.as_os_str() == "-" {
            "stdin".to_owned()
        } else {
            m.display().to_string()
        };
        requests.extend(bulwark_admission::requests_from_manifest(
            &text,
            &origin,
            &a.namespace,
        )?);
    }
    let now = super::db::now_secs();
    let mut denied = false;
    let mut results = Vec::new();
    for req in &requests {
        let mutated: Option<Decision> = a
            .mutate
            .then(|| engine.decide(&policies, req, Endpoint::Mutate, now));
        // As in a cluster: the validating webhook sees the object with the
        // mutating webhook's patch applied (its tags pinned).
        let patched = match &mutated {
            Some(m) if m.response.patch.is_some() => {
                let mut r = req.clone();
                r.object = m
                    .response
                    .patched(&req.object)
                    .map_err(|e| anyhow::anyhow!("applying /mutate's patch: {e}"))?;
                Some(r)
            }
            _ => None,
        };
        let d = engine.decide(
            &policies,
            patched.as_ref().unwrap_or(req),
            Endpoint::Validate,
            now,
        );
        let allowed = d.response.allowed && mutated.as_ref().is_none_or(|m| m.response.allowed);
        denied |= !allowed;
        let message = d
            .response
            .status
            .as_ref()
            .or_else(|| mutated.as_ref().and_then(|m| m.response.status.as_ref()))
            .map(|s| s.message.clone());
        let object = format!(
            "{}/{}",
            req.kind.kind,
            if req.name.is_empty() {
                "(unnamed)"
            } else {
                &req.name
            }
        );
        match a.format {
            Format::Text => {
                let mark = if allowed { "ALLOWED" } else { "DENIED " };
                println!(
                    "{mark} {} (namespace {})",
                    safe(&object),
                    safe(&req.namespace)
                );
                if let Some(m) = &message {
                    println!("  {}", safe(m));
                }
                for w in &d.response.warnings {
                    println!("  warning: {}", safe(w));
                }
                for i in d.images.iter().filter(|i| i.exception.is_some()) {
                    if let Some((reason, expires)) = &i.exception {
                        println!(
                            "  excepted: {} under policy {} until {expires}: {}",
                            safe(&i.image),
                            i.policy.as_deref().unwrap_or_default(),
                            safe(reason)
                        );
                    }
                }
                if let Some(m) = &mutated {
                    for i in m
                        .images
                        .iter()
                        .filter_map(|i| i.digest.as_ref().map(|d| (i, d)))
                    {
                        println!(
                            "  pin: {} -> {}@{}",
                            safe(&i.0.image),
                            safe(&i.0.image),
                            i.1
                        );
                    }
                }
            }
            Format::Json => results.push(serde_json::json!({
                "object": object,
                "namespace": req.namespace,
                "allowed": allowed,
                "message": message,
                "warnings": d.response.warnings,
                "images": d.images,
                "pinned": mutated.as_ref().map(|m| &m.images),
            })),
        }
    }
    if a.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    std::io::stdout().flush()?;
    if requests.is_empty() {
        eprintln!("warning: no Kubernetes objects were found in the input");
    }
    Ok(if denied {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
