//! `bulwark evidence`: compliance as a side effect.
//!
//! For an image digest (every platform), gathers what bulwark can check
//! itself: the signatures and attestations that verify under the given
//! keys, the SBOMs and their NTIA conformance, the SLSA provenance, the
//! eval report, the vulnerability report and VEX, and the admission
//! decisions an audit log holds for the digest. Then decides each control
//! of [`controls`] from that evidence, by a documented rule
//! (docs/evidence.md): satisfied only when the evidence shows it, with the
//! evidence named; not satisfied with the reason; not applicable; or manual
//! when no image can show it.
//!
//! The evidence is written as one JSON document, or as a bundle (a
//! directory or a tar) of that document and the files it cites, with a
//! manifest of every file's digest.

mod bundle;
mod controls;
mod html;
pub mod oscal;
pub mod policy;
mod rules;
pub mod sbom;
pub mod spdx3;

use std::collections::BTreeMap;

use bulwark_attest::Found;
use bulwark_image::ImageRef;
use bulwark_sign::PublicKey;
use serde::Serialize;
use serde_json::Value;

pub use bundle::{BundleError, write_bundle};
pub use controls::{Control, controls};
pub use html::html;

/// A control's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The evidence in the bundle shows it.
    Satisfied,
    /// The evidence shows it does not hold, or what would show it is
    /// missing (the reason says which).
    NotSatisfied,
    /// The control does not apply to this image (the reason says why).
    NotApplicable,
    /// No image can show it: someone must check; the evidence that helps
    /// is listed.
    Manual,
}

impl Status {
    /// Its name in reports (`not-satisfied`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Status::Satisfied => "satisfied",
            Status::NotSatisfied => "not-satisfied",
            Status::NotApplicable => "not-applicable",
            Status::Manual => "manual",
        }
    }
}

/// One control, decided.
#[derive(Clone, Debug, Serialize)]
pub struct ControlResult {
    pub framework: String,
    pub id: String,
    pub title: String,
    /// Where the requirement is written.
    pub source: String,
    /// The rule that decided it (docs/evidence.md).
    pub rule: String,
    pub status: Status,
    /// Why, in a sentence.
    pub reason: String,
    /// What supports the status: facts and the bundle files they are in.
    pub evidence: Vec<String>,
}

/// What `bulwark evidence` reads.
#[derive(Debug)]
pub struct Request<'a> {
    pub image: &'a ImageRef,
    /// Keys signatures and attestations (and signed audit lines) must
    /// verify with.
    pub keys: &'a [PublicKey],
    /// An admission audit log (`bulwark admission serve --audit-log`):
    /// its name, for messages, and its text.
    pub admission_log: Option<(&'a str, &'a str)>,
    pub registry: &'a bulwark_image::Options,
    /// Now (seconds since the epoch): ages are counted from it.
    pub now: i64,
    /// An evidence policy ([`policy::EvidencePolicy`]): its name, for
    /// messages, and its text.
    pub policy: Option<(&'a str, &'a str)>,
}

/// The evidence policy applied, as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyRef {
    /// As given, and its sha256 (the bundle carries it as `policy.yaml`).
    pub origin: String,
    pub sha256: String,
    /// Frameworks reported on (empty: all).
    pub frameworks: Vec<String>,
    /// Controls whose status a tailoring set, and tailorings past their
    /// date (which no longer hold).
    pub tailored: Vec<String>,
    pub expired: Vec<String>,
}

/// The SBOM of a platform, as attested.
#[derive(Clone, Debug, Serialize)]
pub struct Sbom {
    /// The attestation's predicate type.
    pub predicate_type: String,
    pub components: usize,
    /// NTIA minimum elements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntia: Option<sbom::Conformance>,
    /// CISA FSCT 3rd edition, minimum expected (SPDX 2.3 and 3; not
    /// checked for CycloneDX).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fsct3: Option<sbom::Conformance>,
    /// BSI TR-03183-2 required fields (SPDX 3 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bsi: Option<sbom::Conformance>,
    /// The bundle file holding the statement.
    pub file: String,
}

/// The SLSA provenance of a platform, as attested.
#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    pub predicate_type: String,
    pub builder: String,
    pub build_type: String,
    /// Inputs named in `resolvedDependencies`, how many carry a digest,
    /// and how many are Debian packages.
    pub dependencies: usize,
    pub with_digest: usize,
    pub debs: usize,
    pub file: String,
    /// The `.deb` file names it lists (`NAME_VERSION_ARCH.deb`).
    #[serde(skip)]
    pub deb_names: Vec<String>,
}

/// The newest verified vulnerability report (`bulwark scan --attest`).
#[derive(Clone, Debug, Serialize)]
pub struct Vulnerabilities {
    /// When the scan finished (RFC 3339), and how long ago.
    pub scanned: String,
    pub age_seconds: i64,
    pub age_days: i64,
    /// Packages the scan matched, and the release it matched them in: a
    /// scan that saw no packages shows nothing.
    pub packages: u64,
    pub release: String,
    /// What the scan could not do.
    pub warnings: Vec<String>,
    /// Findings not suppressed by VEX.
    pub open: usize,
    /// Findings a VEX statement suppressed.
    pub suppressed: usize,
    /// Open findings in CISA's KEV catalogue.
    pub kev: Vec<String>,
    /// Open findings with a fixed version available.
    pub fixable: Vec<String>,
    /// How old the scan's vulnerability data was: the date of its oldest
    /// feed (the feed's own date, KEV's catalogue version or EPSS's score
    /// date, else when it was imported), and its age in days when the scan
    /// ran; none when the report does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_age_days: Option<i64>,
    /// How long the image has gone without the fixes it lacks.
    pub time_to_fix: TimeToFix,
    pub file: String,
}

/// Time-to-fix figures: for each open finding with a fix, when the fix
/// reached the Debian archive (the date of the oldest upload whose
/// changelog names the CVE, read by `bulwark scan --archive --changelogs`)
/// and the days since; and the CISA KEV due dates that have passed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TimeToFix {
    /// Fixes with a known arrival date, oldest first.
    pub dated: Vec<FixAge>,
    /// Fixable findings whose fix date the report does not give.
    pub undated: Vec<String>,
    /// Days without the oldest fix, and the median.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_days: Option<i64>,
    /// Open KEV findings past CISA's due date (`CVE (due YYYY-MM-DD)`).
    pub kev_overdue: Vec<String>,
}

/// One fix the image lacks, and since when the archive has it.
#[derive(Clone, Debug, Serialize)]
pub struct FixAge {
    pub cve: String,
    /// RFC 3339.
    pub since: String,
    pub days: i64,
}

/// The time-to-fix figures of a scan result for its open `fixable`
/// findings and open `kev` ones, counted to `now`.
fn time_to_fix(result: Option<&Value>, open: &[&Value], now: i64) -> TimeToFix {
    // CVE → the oldest date any candidate's changelog gives.
    let mut since: BTreeMap<&str, i64> = BTreeMap::new();
    let updates = result
        .and_then(|r| r.pointer("/archive/updates"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for u in updates {
        let Some(dates) = u["first_fixed"].as_object() else {
            continue;
        };
        for (cve, d) in dates {
            if let Some(t) = d.as_str().and_then(bulwark_debian::time::parse_rfc3339) {
                let e = since.entry(cve.as_str()).or_insert(t);
                *e = (*e).min(t);
            }
        }
    }
    let mut ttf = TimeToFix::default();
    let mut seen = std::collections::BTreeSet::new();
    for f in open {
        let id = f["id"].as_str().unwrap_or("?");
        if f["fixed"].as_str().is_some_and(|v| !v.is_empty()) && seen.insert(id) {
            match since.get(id) {
                Some(&t) => ttf.dated.push(FixAge {
                    cve: id.to_owned(),
                    since: bulwark_debian::time::format_rfc3339(t),
                    days: ((now - t) / 86_400).max(0),
                }),
                None => ttf.undated.push(id.to_owned()),
            }
        }
        if let Some(due) = f.pointer("/kev/due_date").and_then(Value::as_str)
            && bulwark_debian::time::parse_rfc3339(&format!("{due}T00:00:00Z"))
                .is_some_and(|d| d + 86_400 <= now)
        {
            ttf.kev_overdue.push(format!("{id} (due {due})"));
        }
    }
    ttf.dated
        .sort_by(|a, b| b.days.cmp(&a.days).then(a.cve.cmp(&b.cve)));
    ttf.oldest_days = ttf.dated.first().map(|f| f.days);
    ttf.median_days = (!ttf.dated.is_empty()).then(|| {
        let mut d: Vec<i64> = ttf.dated.iter().map(|f| f.days).collect();
        d.sort_unstable();
        let n = d.len();
        if n % 2 == 1 {
            d[n / 2]
        } else {
            (d[n / 2 - 1] + d[n / 2]) / 2
        }
    });
    ttf.kev_overdue.sort();
    ttf.kev_overdue.dedup();
    ttf
}

/// Everything found about one platform.
#[derive(Clone, Debug, Serialize)]
pub struct Platform {
    pub platform: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The config's `User` (empty: root).
    pub user: String,
    pub ports: Vec<String>,
    /// History lines that are Dockerfile build steps (`RUN`, `ADD`,
    /// `COPY`): none for images built without a Dockerfile.
    pub build_steps: usize,
    pub grade: String,
    pub score: u32,
    /// Eval's findings by check id (messages).
    pub findings: BTreeMap<String, Vec<String>>,
    /// Every signature and attestation found, verified or not.
    pub found: Vec<Found>,
    /// Why signatures could not be looked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsearchable: Option<String>,
    pub sboms: Vec<Sbom>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<Vulnerabilities>,
    /// OpenVEX statements attested.
    pub vex_statements: usize,
    /// The eval report in the bundle.
    pub eval_file: String,
    /// Packages in the image's dpkg database.
    pub installed: usize,
    /// Their names and versions.
    #[serde(skip)]
    pub packages: Vec<(String, String)>,
}

impl Platform {
    /// True when a signature verified.
    #[must_use]
    pub fn signed(&self) -> bool {
        self.found
            .iter()
            .any(|f| f.kind == "signature" && f.verified)
    }
}

/// Admission decisions for the digest.
#[derive(Clone, Debug, Serialize)]
pub struct Admission {
    pub log: String,
    /// Lines in the log, lines whose signature and chain verified, and
    /// what did not.
    pub lines: usize,
    pub verified: usize,
    pub problems: Vec<String>,
    /// Decisions that name the image's digests, on lines whose signature
    /// and chain verified; and lines naming them that did not verify (not
    /// counted as decisions).
    pub decisions: usize,
    pub unverified: usize,
    pub allowed: usize,
    pub denied: usize,
    /// Of those, decisions by an enforcing policy that allowed the image.
    pub enforced_allowed: usize,
    pub file: String,
}

/// The evidence for one image.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub image: String,
    /// The digest the evidence is for (the index or the manifest).
    pub digest: String,
    /// When it was gathered.
    pub generated: String,
    /// How many keys were given.
    pub keys: usize,
    pub platforms: Vec<Platform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission: Option<Admission>,
    pub controls: Vec<ControlResult>,
    /// Controls by status.
    pub summary: BTreeMap<&'static str, usize>,
    /// The limits the rules applied (the policy's, or the defaults).
    pub parameters: policy::Parameters,
    /// The evidence policy, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyRef>,
    /// The files the bundle carries besides `evidence.json` (path → bytes).
    #[serde(skip)]
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Why evidence could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Image(#[from] bulwark_image::Error),
    /// The evidence policy cannot be used.
    #[error("{0}")]
    Policy(String),
    #[error("looking for signatures of {image}: {source}")]
    Trust {
        image: String,
        source: bulwark_attest::Error,
    },
}

const SPDX: &str = "https://spdx.dev/Document";
const CYCLONEDX: &str = "https://cyclonedx.org/bom";
const SLSA: &str = "https://slsa.dev/provenance/";
const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
const OPENVEX: &str = "https://openvex.dev/ns";

fn pretty(v: &impl Serialize) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap_or_default();
    out.push(b'\n');
    out
}

/// A file-name-safe platform name (`linux-arm64-v8`).
fn slug(platform: &str) -> String {
    platform
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// History lines that are Dockerfile steps.
fn build_steps(config: &Value) -> usize {
    config["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|e| e["created_by"].as_str())
                .filter(|c| {
                    let c = c.trim_start();
                    c.starts_with("/bin/sh -c")
                        || c.starts_with("RUN ")
                        || c.starts_with("ADD ")
                        || c.starts_with("COPY ")
                        || c.contains("#(nop) ADD")
                        || c.contains("#(nop) COPY")
                })
                .count()
        })
        .unwrap_or(0)
}

/// Gathers the evidence for `req.image` and decides every control.
///
/// # Errors
/// The image cannot be read (a digest mismatch among them), or its store
/// cannot be searched for signatures.
pub fn gather(req: &Request) -> Result<Evidence, Error> {
    let imgs = bulwark_image::open_all(req.image, req.registry)?;
    let image = req.image.to_string();
    let digest = imgs
        .first()
        .and_then(|i| {
            i.top
                .as_ref()
                .map(|t| t.digest.clone())
                .or_else(|| i.manifest_digest.clone())
                .or_else(|| i.config_digest.clone())
        })
        .unwrap_or_default();
    let mut files = BTreeMap::new();
    let mut platforms = Vec::new();
    let mut digests = vec![digest.clone()];
    for img in &imgs {
        let name = img.platform().unwrap_or_else(|| "linux/unknown".into());
        let dir = format!("platforms/{}", slug(&name));
        tracing::info!("gathering evidence for {image} ({name})");
        let fs = img.walk(&bulwark_eval::capture(img))?;
        let inv = bulwark_sbom::Inventory::from_fs(&fs);
        let trust =
            bulwark_eval::Trust::of_image(img, req.keys).map_err(|source| Error::Trust {
                image: image.clone(),
                source,
            })?;
        let report = bulwark_eval::evaluate_with(
            img,
            &fs,
            &inv,
            &bulwark_eval::Options {
                reference: image.clone(),
                trust: Some(trust.clone()),
                ..bulwark_eval::Options::default()
            },
        );
        let eval_file = format!("{dir}/eval.json");
        files.insert(eval_file.clone(), pretty(&report));
        let mut findings: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in &report.findings {
            findings
                .entry(f.id.to_owned())
                .or_default()
                .push(f.message.clone());
        }
        let mut p = Platform {
            platform: name.clone(),
            manifest: img.manifest_digest.clone(),
            user: img.config["config"]["User"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            ports: img.config["config"]["ExposedPorts"]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default(),
            build_steps: build_steps(&img.config),
            grade: report.grade.clone(),
            score: report.score,
            findings,
            found: trust.found.clone(),
            unsearchable: trust.unsearchable.clone(),
            sboms: Vec::new(),
            provenance: None,
            vulnerabilities: None,
            vex_statements: 0,
            eval_file,
            installed: inv.packages.len(),
            packages: inv
                .packages
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect(),
        };
        if let Some(m) = &img.manifest_digest {
            digests.push(m.clone());
        }
        read_statements(&mut p, &trust.statements, &dir, &mut files, req.now);
        platforms.push(p);
    }
    let admission = req
        .admission_log
        .map(|(origin, text)| admission(origin, text, &digests, req.keys, &mut files));
    let tailor = req
        .policy
        .map(|(origin, text)| {
            policy::EvidencePolicy::from_yaml(text, origin)
                .map(|p| (origin, text, p))
                .map_err(Error::Policy)
        })
        .transpose()?;
    let mut ev = Evidence {
        image,
        digest,
        generated: bulwark_debian::time::format_rfc3339(req.now),
        keys: req.keys.len(),
        platforms,
        admission,
        controls: Vec::new(),
        summary: BTreeMap::new(),
        parameters: tailor
            .as_ref()
            .map(|(_, _, p)| p.parameters)
            .unwrap_or_default(),
        policy: None,
        files,
    };
    let today = &ev.generated[..10.min(ev.generated.len())].to_owned();
    let mut record = tailor.as_ref().map(|(origin, text, p)| PolicyRef {
        origin: (*origin).to_owned(),
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())),
        frameworks: p.frameworks.clone(),
        tailored: Vec::new(),
        expired: Vec::new(),
    });
    let mut decided = Vec::new();
    for c in controls() {
        let policy = tailor.as_ref().map(|(_, _, p)| p);
        if policy.is_some_and(|p| !p.includes(&c.framework)) {
            continue;
        }
        let mut d = rules::decide(&c.rule, &ev);
        if let (Some(t), Some(r)) = (policy.and_then(|p| p.tailoring_of(&c.id)), &mut record) {
            if t.expires.as_str() >= today.as_str() {
                d.evidence.insert(
                    0,
                    format!("the evidence alone says {}: {}", d.status.name(), d.reason),
                );
                d.status = t.status.status();
                d.reason = format!("tailored by {} until {}: {}", r.origin, t.expires, t.reason);
                r.tailored.push(c.id.clone());
            } else {
                d.evidence.push(format!(
                    "the tailoring in {} ({}) expired on {}",
                    r.origin,
                    t.status.status().name(),
                    t.expires
                ));
                r.expired.push(c.id.clone());
            }
        }
        decided.push(ControlResult {
            framework: c.framework.clone(),
            id: c.id.clone(),
            title: c.title.clone(),
            source: c.source.clone(),
            rule: c.rule.clone(),
            status: d.status,
            reason: d.reason,
            evidence: d.evidence,
        });
    }
    ev.controls = decided;
    if let Some((_, text, _)) = &tailor {
        ev.files
            .insert("policy.yaml".to_owned(), text.as_bytes().to_vec());
    }
    ev.policy = record;
    for c in &ev.controls {
        *ev.summary.entry(c.status.name()).or_default() += 1;
    }
    Ok(ev)
}

/// Reads the verified statements of one platform: SBOMs, provenance, the
/// newest vulnerability report, VEX. Each goes into the bundle.
fn read_statements(
    p: &mut Platform,
    statements: &[bulwark_sign::Statement],
    dir: &str,
    files: &mut BTreeMap<String, Vec<u8>>,
    now: i64,
) {
    let mut newest_scan: Option<(i64, &bulwark_sign::Statement, String)> = None;
    for (i, st) in statements.iter().enumerate() {
        let t = st.predicate_type.as_str();
        let kind = if t.starts_with(SPDX) {
            "spdx"
        } else if t.starts_with(CYCLONEDX) {
            "cyclonedx"
        } else if t.starts_with(SLSA) {
            "provenance"
        } else if t == VULN {
            "vuln"
        } else if t.starts_with(OPENVEX) {
            "openvex"
        } else {
            "attestation"
        };
        let file = format!("{dir}/{kind}-{}.json", i + 1);
        files.insert(file.clone(), pretty(st));
        let pred = &st.predicate;
        match kind {
            "spdx" | "cyclonedx" => {
                let (components, ntia, fsct3, bsi) = if kind == "cyclonedx" {
                    (
                        pred["components"].as_array().map_or(0, Vec::len),
                        Some(sbom::cyclonedx(pred)),
                        None,
                        None,
                    )
                } else if pred["spdxVersion"].is_string() {
                    (
                        pred["packages"].as_array().map_or(0, Vec::len),
                        Some(sbom::spdx(pred)),
                        Some(sbom::spdx_fsct3(pred)),
                        None,
                    )
                } else {
                    // SPDX 3 (JSON-LD).
                    let n = pred["@graph"].as_array().map_or(0, |g| {
                        g.iter()
                            .filter(|e| e["type"].as_str() == Some("software_Package"))
                            .count()
                    });
                    (
                        n,
                        Some(spdx3::ntia(pred)),
                        Some(spdx3::fsct3(pred)),
                        Some(spdx3::bsi(pred)),
                    )
                };
                p.sboms.push(Sbom {
                    predicate_type: t.to_owned(),
                    components,
                    ntia,
                    fsct3,
                    bsi,
                    file,
                });
            }
            "provenance" => {
                let deps = pred["buildDefinition"]["resolvedDependencies"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                p.provenance = Some(Provenance {
                    predicate_type: t.to_owned(),
                    builder: pred["runDetails"]["builder"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    build_type: pred["buildDefinition"]["buildType"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    dependencies: deps.len(),
                    with_digest: deps
                        .iter()
                        .filter(|d| d["digest"].as_object().is_some_and(|o| !o.is_empty()))
                        .count(),
                    debs: deps
                        .iter()
                        .filter(|d| {
                            d["uri"].as_str().is_some_and(|u| u.ends_with(".deb"))
                                || d["name"].as_str().is_some_and(|u| u.ends_with(".deb"))
                        })
                        .count(),
                    file,
                    deb_names: deps
                        .iter()
                        .filter_map(|d| d["name"].as_str())
                        .filter(|n| n.ends_with(".deb"))
                        .map(str::to_owned)
                        .collect(),
                });
            }
            "vuln" => {
                let when = pred
                    .pointer("/metadata/scanFinishedOn")
                    .and_then(Value::as_str)
                    .and_then(bulwark_debian::time::parse_rfc3339)
                    .filter(|t| *t <= now + 300);
                // A report is about one platform's manifest (the one it
                // scanned), whichever subject it is attached to.
                let about = pred
                    .pointer("/scanner/result/digest")
                    .and_then(Value::as_str);
                let ours = about.is_some() && about == p.manifest.as_deref();
                if ours
                    && let Some(w) = when
                    && newest_scan.as_ref().is_none_or(|(n, _, _)| w > *n)
                {
                    newest_scan = Some((w, st, file));
                }
            }
            "openvex" => {
                p.vex_statements += pred["statements"].as_array().map_or(0, Vec::len);
            }
            _ => {}
        }
    }
    if let Some((when, st, file)) = newest_scan {
        let findings = st
            .predicate
            .pointer("/scanner/result/findings")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let (suppressed, open): (Vec<&Value>, Vec<&Value>) = findings
            .iter()
            .partition(|f| f.get("suppressed_by").is_some_and(|s| !s.is_null()));
        let id = |f: &&Value| f["id"].as_str().unwrap_or("?").to_owned();
        let result = st.predicate.pointer("/scanner/result");
        // The oldest feed's data (its own date, else its import): what
        // the scan knew was at most that fresh.
        let db_date = result
            .and_then(|r| r["database"].as_array())
            .and_then(|feeds| {
                feeds
                    .iter()
                    .filter_map(|m| {
                        serde_json::from_value::<bulwark_vulndb::Meta>(m.clone())
                            .ok()
                            .and_then(|m| m.data_date())
                    })
                    .min()
            });
        p.vulnerabilities = Some(Vulnerabilities {
            scanned: bulwark_debian::time::format_rfc3339(when),
            age_seconds: (now - when).max(0),
            age_days: (now - when).max(0) / 86_400,
            packages: result.and_then(|r| r["packages"].as_u64()).unwrap_or(0),
            release: result
                .and_then(|r| r["release"].as_str())
                .unwrap_or_default()
                .to_owned(),
            warnings: result
                .and_then(|r| r["warnings"].as_array())
                .map(|w| {
                    w.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            open: open.len(),
            suppressed: suppressed.len(),
            kev: open
                .iter()
                .filter(|f| f.get("kev").is_some_and(|k| !k.is_null()))
                .map(id)
                .collect(),
            fixable: open
                .iter()
                .filter(|f| f["fixed"].as_str().is_some_and(|v| !v.is_empty()))
                .map(id)
                .collect(),
            db_date: db_date.map(bulwark_debian::time::format_rfc3339),
            db_age_days: db_date.map(|d| (when - d).max(0) / 86_400),
            time_to_fix: time_to_fix(result, &open, now),
            file,
        });
    }
}

/// The decisions of an audit log that name `digests`, and whether the
/// log's signed chain verifies under `keys`.
fn admission(
    origin: &str,
    text: &str,
    digests: &[String],
    keys: &[PublicKey],
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Admission {
    let check = bulwark_admission::audit::verify_log(text, keys);
    let verified: std::collections::BTreeSet<usize> =
        check.verified_lines.iter().copied().collect();
    let mut kept = String::new();
    let (mut decisions, mut allowed, mut denied, mut enforced_allowed) = (0, 0, 0, 0);
    let mut unverified = 0;
    for (n, line) in text.lines().enumerate() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let record = if v["record"].is_object() {
            &v["record"]
        } else {
            &v
        };
        let images = record["images"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let ours: Vec<&Value> = images
            .iter()
            .filter(|i| {
                i["digest"]
                    .as_str()
                    .is_some_and(|d| digests.iter().any(|x| x == d))
            })
            .collect();
        if ours.is_empty() {
            continue;
        }
        // A line anyone could have written is not a decision.
        if !verified.contains(&(n + 1)) {
            unverified += 1;
            continue;
        }
        decisions += 1;
        if record["allowed"].as_bool() == Some(true) {
            allowed += 1;
            if ours.iter().any(|i| {
                i["mode"].as_str() == Some("enforce") && i["result"].as_str() == Some("allowed")
            }) {
                enforced_allowed += 1;
            }
        } else {
            denied += 1;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    let file = "admission/decisions.jsonl".to_owned();
    files.insert(file.clone(), kept.into_bytes());
    Admission {
        log: origin.to_owned(),
        lines: check.lines,
        verified: check.verified,
        problems: check.problems,
        decisions,
        unverified,
        allowed,
        denied,
        enforced_allowed,
        file,
    }
}

/// The summary `bulwark evidence --attest` signs and attaches: when, for
/// which digest, and each control's status (the admission gate's
/// `evidence` condition reads it).
#[must_use]
pub fn attestation(ev: &Evidence) -> Value {
    serde_json::json!({
        "image": ev.image,
        "digest": ev.digest,
        "generated": ev.generated,
        "keys": ev.keys,
        "platforms": ev.platforms.iter().map(|p| serde_json::json!({
            "platform": p.platform,
            "manifest": p.manifest,
            "grade": p.grade,
        })).collect::<Vec<_>>(),
        "controls": ev.controls.iter().map(|c| serde_json::json!({
            "framework": c.framework,
            "id": c.id,
            "status": c.status,
            "reason": c.reason,
        })).collect::<Vec<_>>(),
        "summary": ev.summary,
        // What the statuses were decided under: a gate can require the
        // default limits or a known policy.
        "parameters": ev.parameters,
        "policy": ev.policy.as_ref().map(|p| serde_json::json!({
            "origin": p.origin,
            "sha256": p.sha256,
            "tailored": p.tailored,
        })),
    })
}

/// The evidence as a JSON document (`evidence.json`).
#[must_use]
pub fn to_json(ev: &Evidence) -> Vec<u8> {
    pretty(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_to_fix_dates_fixes_from_the_archive_and_kev_due_dates() {
        let now = bulwark_debian::time::parse_rfc3339("2026-12-03T00:00:00Z").unwrap();
        let result = json!({"archive": {"updates": [
            {"package": "libssl3", "first_fixed": {"CVE-1": "2026-10-01T00:00:00Z", "CVE-2": "2026-11-28T12:00:00Z"}},
            {"package": "openssl", "first_fixed": {"CVE-1": "2026-09-30T00:00:00Z"}},
        ]}});
        let findings = [
            json!({"id": "CVE-1", "fixed": "3.0.1"}),
            json!({"id": "CVE-1", "fixed": "3.0.1"}),
            json!({"id": "CVE-2", "fixed": "3.0.2"}),
            json!({"id": "CVE-3", "fixed": "1.2"}),
            json!({"id": "CVE-4", "fixed": null, "kev": {"due_date": "2026-12-01"}}),
            json!({"id": "CVE-5", "kev": {"due_date": "2026-12-03"}}),
        ];
        let open: Vec<&Value> = findings.iter().collect();
        let t = time_to_fix(Some(&result), &open, now);
        let dated: Vec<(&str, i64)> = t.dated.iter().map(|f| (f.cve.as_str(), f.days)).collect();
        // The oldest date any package's changelog gives; each CVE once.
        assert_eq!(dated, [("CVE-1", 64), ("CVE-2", 4)]);
        assert_eq!(t.dated[0].since, "2026-09-30T00:00:00Z");
        assert_eq!(t.undated, ["CVE-3"]);
        assert_eq!((t.oldest_days, t.median_days), (Some(64), Some(34)));
        // Due on the 1st: overdue on the 3rd; due today: not yet.
        assert_eq!(t.kev_overdue, ["CVE-4 (due 2026-12-01)"]);
        let none = time_to_fix(None, &[], now);
        assert!(none.dated.is_empty() && none.oldest_days.is_none());
    }
}
