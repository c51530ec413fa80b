//! Command-line definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  the command failed (the message says why and what to do)
  2  usage error (unknown flag, missing argument)
  3  eval: a finding reached the --fail-on severity or broke the policy;
     verify: a signature or required attestation did not verify;
     admit: a request or manifest was denied; admission verify-log: a line
     did not verify
  4  update --check: updates are available
  5  update: images were updated

Environment:
  BULWARK_CACHE_DIR   download cache (default: $XDG_CACHE_HOME/bulwark)
  SOURCE_DATE_EPOCH   image timestamp (default: newest package file time)
  NO_COLOR            disable colour
  BULWARK_LOG         log filter (e.g. debug)
  BULWARK_PASSWORD    password of cosign-format private keys (COSIGN_PASSWORD also read)
  DOCKER_CONFIG, REGISTRY_AUTH_FILE   registry credentials (docker/podman login files)";

/// Minimal, hardened, reproducible container images from verified Debian packages.
#[derive(Debug, Parser)]
#[command(name = "bulwark", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Download cache directory.
    #[arg(long, global = true, value_name = "DIR", display_order = 100)]
    pub cache_dir: Option<PathBuf>,
    /// More logging (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, display_order = 101)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, display_order = 102)]
    pub quiet: bool,
    /// Colour on stderr.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, display_order = 103)]
    pub color: Color,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SbomFormat {
    /// A table of packages.
    Table,
    /// bulwark's inventory as JSON.
    Json,
    /// SPDX 2.3 JSON.
    SpdxJson,
    /// SPDX 3.0.1 JSON-LD (carries the SBOM type FSCT and BSI ask for).
    #[value(name = "spdx3-json")]
    Spdx3Json,
    /// CycloneDX JSON (1.7, or 1.6 with --cyclonedx-version).
    CyclonedxJson,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum EvalFormat {
    /// A table (colour on terminals unless NO_COLOR).
    Table,
    /// The stable JSON schema of docs/eval.md.
    Json,
    /// One self-contained HTML page (grade, pillar and layer charts, findings).
    Html,
    /// SARIF 2.1.0 for code-scanning UIs (one run per platform).
    Sarif,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq, PartialOrd, Ord)]
pub enum SeverityArg {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve a spec against the verified archive and write SPEC.lock.json beside it.
    #[command(
        after_help = "Examples:\n  bulwark lock examples/base.yaml\n  bulwark lock --update examples/base.yaml --format json"
    )]
    Lock {
        /// The image spec (YAML).
        spec: PathBuf,
        /// Re-resolve every package to the newest version (default: keep locked versions that still fit).
        #[arg(long)]
        update: bool,
        /// Output format (json: the stable report documented in docs/cli.md).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Build an image from a spec and its lock.
    #[command(
        after_help = "Examples:\n  bulwark build examples/base.yaml --output oci:out/base:latest\n  bulwark build examples/static.yaml --output oci-archive:static.tar --frozen --format json\n  bulwark build examples/cc.yaml --output docker-archive:cc.tar:bulwark/cc:1\n  bulwark build examples/base.yaml --output 127.0.0.1:5000/base:1 --insecure --sign-key bulwark.key --signature-format both\n\nDestinations: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME[:TAG]], HOST[:PORT]/REPO[:TAG].\nThe Kubernetes securityContext is written to DEST-PATH.security-context.yaml.\nEvery build makes SPDX 2.3/3.0.1 and CycloneDX SBOMs and SLSA provenance: signed\nattestations with --sign-key; without a key, unsigned referrers on a registry and\nfiles in DEST-PATH.sbom/ otherwise (--sbom-dir DIR writes the files there)."
    )]
    Build {
        /// The image spec (YAML).
        spec: PathBuf,
        /// Where to write the image.
        #[arg(short, long, value_name = "DEST")]
        output: String,
        /// Fail if the lock is missing or stale instead of (re)creating it.
        #[arg(long)]
        frozen: bool,
        /// Layer compression (overrides the spec).
        #[arg(long, value_enum)]
        compression: Option<CompressionArg>,
        /// Image timestamp (overrides SOURCE_DATE_EPOCH).
        #[arg(long, value_name = "SECONDS")]
        source_date_epoch: Option<u64>,
        /// Sign the image and attach its SBOMs (SPDX, CycloneDX) and SLSA provenance as signed attestations.
        #[arg(long, value_name = "KEY")]
        sign_key: Option<PathBuf>,
        /// bundle (cosign 3 default), legacy (.sig/.att tags) or both.
        #[arg(long, default_value = "bundle", value_parser = ["bundle", "legacy", "both"])]
        signature_format: String,
        /// Write the SBOMs and the provenance as files into DIR (instead of DEST-PATH.sbom/).
        #[arg(long, value_name = "DIR")]
        sbom_dir: Option<PathBuf>,
        /// Plain-HTTP registry for a registry --output.
        #[arg(long)]
        insecure: bool,
        /// Output format (json: the stable report documented in docs/cli.md).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List the software in any image (dpkg status and status.d, os-release, licences).
    #[command(
        after_help = "Examples:\n  bulwark sbom oci:out/base:latest\n  bulwark sbom oci-archive:image.tar --format spdx-json > image.spdx.json\n  bulwark sbom docker-archive:saved.tar --format cyclonedx-json --cyclonedx-version 1.6\n  bulwark sbom ./rootfs --format json\n  bulwark sbom 127.0.0.1:5000/app:1 --insecure --format spdx-json\n  bulwark sbom oci-archive:vendor.tar --format spdx3-json --supplier 'ACME Corp' --contact 'Security <security@acme.example>' --license Apache-2.0 --copyright '2026 ACME Corp'\n\nImages: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, HOST[:PORT]/REPO[:TAG],\nor a root filesystem directory.\nLayers are streamed, never extracted; whiteouts are applied and every blob digest is checked."
    )]
    Sbom {
        /// The image to inspect.
        image: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SbomFormat::Table)]
        format: SbomFormat,
        /// Platform of a multi-arch image (default: the host's), e.g. linux/arm64.
        #[arg(long)]
        platform: Option<String>,
        /// CycloneDX version for --format cyclonedx-json.
        #[arg(long, default_value = "1.7", value_parser = ["1.6", "1.7"])]
        cyclonedx_version: String,
        /// Plain HTTP for a loopback registry.
        #[arg(long)]
        insecure: bool,
        #[command(flatten)]
        about: SbomAbout,
    },
    /// Evaluate any image: how minimal, hardened and trustworthy it is, scored and explained.
    #[command(
        after_help = "Examples:\n  bulwark eval oci:out/base:latest\n  bulwark eval docker-archive:saved.tar --format json\n  bulwark eval oci:out/base:latest --format html > report.html\n  bulwark eval oci-archive:app.tar --fail-on high   # exit 3 on any high or critical finding\n  bulwark eval oci:out/base:latest --key bulwark.pub --policy policy.yaml\n  bulwark eval 127.0.0.1:5000/app:1 --insecure --all-platforms --format sarif > eval.sarif\n  bulwark eval oci:out/base:latest --archive --policy policy.yaml   # patch cadence: days behind bookworm-security; max-fix-lag: 7d\n\nPillars, checks, severities and the grade formula: docs/eval.md.\nExit codes: 0 passed, 3 the gate (--fail-on or --policy) failed, 1 the image\nor policy could not be read."
    )]
    Eval(EvalArgs),
    /// Manage signing keys (cosign's formats).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign an image (cosign-compatible; bundle referrer and/or legacy .sig tag).
    #[command(
        after_help = "Examples:\n  BULWARK_PASSWORD=... bulwark sign oci:out/base:latest --key bulwark.key\n  bulwark sign 127.0.0.1:5000/app:1 --key cosign.key --signature-format both --insecure\n\nThe signature is stored with the image: as an OCI 1.1 referrer (bundle) and/or\nat tag sha256-<hex>.sig (legacy). `cosign verify --key` accepts both."
    )]
    Sign {
        /// The image: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]` or `REGISTRY/REPO[:TAG]`.
        image: String,
        /// Private key (cosign format).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        #[command(flatten)]
        common: SignCommon,
    },
    /// Attach a signed attestation (in-toto statement) to an image.
    #[command(
        after_help = "Examples:\n  bulwark attest oci:out/base:latest --key bulwark.key --type spdx --predicate base.spdx.json\n  bulwark attest 127.0.0.1:5000/app:1 --key bulwark.key --type slsa-provenance --predicate prov.json --insecure\n\nTypes: spdx, spdx3, cyclonedx, slsa-provenance, vuln, openvex, custom, or a predicate type URI."
    )]
    Attest {
        /// The image.
        image: String,
        /// Private key (cosign format).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Predicate type.
        #[arg(long = "type", value_name = "TYPE")]
        type_: String,
        /// The predicate (JSON file).
        #[arg(long, value_name = "FILE")]
        predicate: PathBuf,
        #[command(flatten)]
        common: SignCommon,
    },
    /// Verify an image's signatures and attestations (both cosign formats).
    #[command(
        after_help = "Examples:\n  bulwark verify oci:out/base:latest --key bulwark.pub\n  bulwark verify 127.0.0.1:5000/app:1 --key a.pub --key b.pub --attestation spdx --attestation slsa-provenance --insecure --format json\n\nBefore any signature is looked at, every index, platform manifest, config and\nlayer the image reaches is checked against its digest and size (--skip-layers\nleaves the layers out). Exit 0 when that holds and a signature and every\n--attestation verify under one of the keys for exactly this image digest;\nexit 3 when a signature or attestation does not; exit 1 when bytes do not match\ntheir digests or cannot be read."
    )]
    Verify {
        /// The image.
        image: String,
        /// Public key(s) (PEM); any one of them may have signed.
        #[arg(long, value_name = "PUB", required = true)]
        key: Vec<PathBuf>,
        /// Required attestation type(s) (same names as `attest --type`).
        #[arg(long, value_name = "TYPE")]
        attestation: Vec<String>,
        /// Check every index, manifest and config against its digest, but do
        /// not read the layers (by default every layer of every platform is
        /// read and hashed too).
        #[arg(long)]
        skip_layers: bool,
        /// Plain-HTTP registry (loopback labs and tests).
        #[arg(long)]
        insecure: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Import and inspect the vulnerability database (Debian tracker, OSV, CISA KEV, FIRST EPSS).
    #[command(subcommand)]
    Db(DbCommand),
    /// Known vulnerabilities of an image, a lock or an SBOM, and which of them matter.
    #[command(
        after_help = "Examples:\n  bulwark scan oci:out/base:latest\n  bulwark scan docker-archive:app.tar --exposure internet --fail-on act-now\n  bulwark scan examples/base.lock.json --format json\n  bulwark scan image.spdx.json --release bookworm\n  bulwark scan oci:out/app:1 --format openvex > app.vex.json\n  bulwark scan oci:out/app:1 --vex app.vex.json --format sarif > scan.sarif\n  bulwark scan oci:out/app:1 --archive --changelogs   # what bookworm-security carries now, and its changelogs' CVEs\n  bulwark scan 127.0.0.1:5000/app:1 --insecure --attest --key release.key   # cosign verify-attestation --type vuln / openvex\n\nThe database comes from `bulwark db update`; scanning uses the network only\nwith --archive (the host's Debian archive, verified).\nEach finding gets a score and a priority (act now, plan, monitor) from KEV,\nEPSS, Debian's urgency, the fix state, exposure and whether the entrypoint\nloads the package; the reasons are printed with it (docs/scan.md).\nExit codes: 0 done, 3 a finding at or above --fail-on, 1 the target or the\ndatabase could not be read (or it is older than an explicit --max-db-age)."
    )]
    Scan(ScanArgs),
    /// Harden an image bulwark did not build: strip shells, package managers and tools, run non-root.
    #[command(
        after_help = "Examples:\n  bulwark harden docker-archive:app.tar oci:out/app-hardened:1\n  bulwark harden oci:in/app:1 oci:out/app:1 --entrypoint python3 --entrypoint /app/app.py --keep /app\n  bulwark harden oci:in/app:1 oci:out/app-min:1 --minify --keep /app --runtime-evidence maps.txt\n  bulwark harden 127.0.0.1:5000/app:1 127.0.0.1:5000/app:1-hardened --insecure --sign-key release.key\n  bulwark harden oci:in/app:1 oci:out/app:1-delta --delta\n\nRemoved: high-risk packages (shells, package managers, network tools, compilers,\ndebuggers, privilege tools; docs/hardening.md) with their files and dpkg records,\npackages left broken by that and automatic dependencies nothing needs, tools no\npackage owns, caches, logs, temporary files, .git and build leftovers; setuid,\nsetgid and world-writable bits. Kept: what the entrypoint loads (ELF interpreter\nand DT_NEEDED libraries, a script's interpreter) and its packages' dependencies,\n--keep paths, --allow tools. The image runs as --user, else its own non-root\nUSER, else 65532 (added to /etc/passwd). --minify keeps only the entrypoint's\npackages, --keep paths, --runtime-evidence files and the system files workloads\nread. Secrets in the source fail the command unless --allow-secrets.\nThe result is one layer (with --delta: the source's layers, as they are, and\none layer of changes whose whiteouts hide what went), reproducible from the\nsource digest, with SBOMs and SLSA provenance naming the source; the\nsecurityContext goes to DEST-PATH.security-context.yaml. The report lists every\npackage and path removed and why (all of them with --format json), and the eval\ngrade before and after."
    )]
    Harden(HardenArgs),
    /// Compliance evidence for an image, mapped to CIS, DISA SRG, NIST SP 800-53 and SLSA controls.
    #[command(
        after_help = "Examples:\n  bulwark evidence oci:out/app:1 --key release.pub\n  bulwark evidence 127.0.0.1:5000/app:1 --key release.pub --key decisions.pub --admission-log audit.jsonl --insecure\n  bulwark evidence oci:out/app:1 --key release.pub --format bundle --out evidence.tar\n  bulwark evidence oci:out/app:1 --key release.pub --format oscal --out assessment-results.json\n  bulwark evidence oci:out/app:1 --key release.pub --format html --out evidence.html\n  bulwark evidence oci:out/app:1 --key release.pub --policy evidence-policy.yaml --format bundle --out ev/\n  bulwark evidence 127.0.0.1:5000/app:1 --key release.pub --attest --sign-key release.key --insecure\n\nFor the image digest (every platform): the signatures and attestations that\nverify with --key, the SBOMs and their NTIA minimum elements, the SLSA\nprovenance, the eval report, the newest signed vulnerability report and VEX,\nand the admission decisions --admission-log holds for the digest (its signed\nlines verified with --key too). Each control of CIS Docker Benchmark 4.1-4.12,\nthe DISA Container Platform SRG, NIST SP 800-53 (CM-7, CM-8, SI-2, RA-5, SR-4,\nSA-10, SI-7) and SLSA Build L1-L3 is satisfied only when that evidence shows\nit; otherwise not-satisfied with the reason, not-applicable, or manual when no\nimage can show it (docs/evidence.md). --format oscal writes NIST OSCAL assessment\nresults; --format html a printable report; --format bundle writes a directory,\nor a .tar, with evidence.json, every file it cites, the OSCAL results, the report\nand MANIFEST.json (sha256 of each). --attest\nsigns the summary and attaches it (predicate urn:bulwark:predicate:evidence:v1),\nfor the admission gate's `evidence: {max-age: 30d}` condition.\nExit 0 when gathered, whatever the statuses; 1 when the image cannot be read."
    )]
    Evidence(EvidenceArgs),
    /// What changed between two images: packages, files, config, and the CVEs fixed and introduced.
    #[command(
        after_help = "Examples:\n  bulwark diff oci:out/base:1 oci:out/base:2\n  bulwark diff 127.0.0.1:5000/app:1 127.0.0.1:5000/app:2 --insecure --format markdown > change.md\n  bulwark diff docker-archive:old.tar oci:new --format json\n\nPackages are compared by version (dpkg order), files by content digest, mode,\nowner and link target; new setuid/setgid files and new executables are named.\nWith a vulnerability database (--db, or the one `bulwark db update` wrote) both\nimages are scanned and the CVEs fixed and introduced are listed."
    )]
    Diff {
        /// The first (older) image.
        from: String,
        /// The second (newer) image.
        to: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
        format: DiffFormat,
        /// Platform of multi-arch images (default: the host's).
        #[arg(long)]
        platform: Option<String>,
        #[command(flatten)]
        db: DbArg,
        /// Plain-HTTP registries.
        #[arg(long)]
        insecure: bool,
    },
    /// Re-resolve specs against the archive today; name the packages and CVEs that change; rebuild, sign and publish.
    #[command(
        after_help = "Examples:\n  bulwark update examples/base.yaml --check\n  bulwark update specs/*.yaml --check --format markdown > pr-body.md\n  bulwark update examples/base.yaml --output 127.0.0.1:5000/base:latest --insecure --sign-key release.key\n  bulwark update specs/ --output '127.0.0.1:5000/{name}:latest' --sign-key release.key --format json\n  bulwark update /specs --index 3 --output '127.0.0.1:5000/{name}:latest'   # one spec per Indexed Job pod\n\nEach spec is resolved again against its suites (with -security and -updates),\nfetched and verified once per run for all specs, and compared with its lock.\nCVEs fixed come from the vulnerability database (advisories that applied to the\nold lock and not to the new one) and from the new packages' changelogs (with the\ndate each fix reached the archive). Without --check a spec that changed is\nrebuilt from the new lock, signed, published (image and attestations first,\nthen the tag), and its lock is written last; a failure leaves all of that as it\nwas. One failing spec does not stop the others.\nExit codes: 0 everything up to date, 4 updates available (--check), 5 updated,\n1 a spec failed (the others are still done and reported)."
    )]
    Update {
        /// Spec files (each with the lock beside it), or directories of them (every *.yaml).
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        /// Only the Nth spec (from 0) of the sorted list: one Kubernetes Indexed Job
        /// pod per spec with `--index $(JOB_COMPLETION_INDEX)`.
        #[arg(long, value_name = "N")]
        index: Option<usize>,
        /// Report only: write, build and publish nothing.
        #[arg(long)]
        check: bool,
        /// Where the images go; `{name}` stands for each spec's image name (required with several specs).
        #[arg(long, short, value_name = "DEST")]
        output: Option<String>,
        /// Sign each image and attach its SBOMs and provenance as signed attestations.
        #[arg(long, value_name = "KEY")]
        sign_key: Option<PathBuf>,
        /// bundle (cosign 3 default), legacy (.sig/.att tags) or both.
        #[arg(long, default_value = "bundle", value_parser = ["bundle", "legacy", "both"])]
        signature_format: String,
        #[command(flatten)]
        db: DbArg,
        /// Do not read the new packages' changelogs (CVEs from the database only).
        #[arg(long)]
        no_changelogs: bool,
        /// Specs worked on at once.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        /// Plain-HTTP registries.
        #[arg(long)]
        insecure: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
        format: DiffFormat,
    },
    /// Copy an image with its signatures, attestations and referrers between transports.
    #[command(
        after_help = "Examples:\n  bulwark copy oci:out/base:latest 127.0.0.1:5000/base:1 --insecure\n  bulwark copy 127.0.0.1:5000/base:1 oci-archive:base.tar:1 --insecure\n\nMulti-arch indexes are copied whole; blobs the destination has are skipped;\nevery blob is verified against its digest on the way."
    )]
    Copy {
        /// Source image.
        src: String,
        /// Destination.
        dst: String,
        /// Plain-HTTP registries.
        #[arg(long)]
        insecure: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The Kubernetes admission webhook: serve it, issue its certificate, check its audit log.
    #[command(subcommand)]
    Admission(AdmissionCommand),
    /// Check Kubernetes objects against admission policies before they are applied
    /// (the webhook's code path, offline).
    #[command(
        after_help = "Examples:\n  bulwark admit --config policy.yaml --manifest deploy/app.yaml --insecure\n  kubectl create deployment web --image=127.0.0.1:5000/web:1 --dry-run=client -o yaml | bulwark admit --config policy.yaml --manifest -\n  bulwark admit --config policy.yaml --review review.json --format json\n\nEvery document of every manifest is read; Pods and every workload template\n(Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,\nReplicationController) are checked as a CREATE in their namespace (default:\n--namespace). Same policies, same messages as the webhook.\nExit codes: 0 allowed (warnings printed), 3 denied, 1 the input or policy cannot be read."
    )]
    Admit(AdmitArgs),
}

/// `bulwark admission …`.
#[derive(Debug, Subcommand)]
pub enum AdmissionCommand {
    /// Serve /validate and /mutate over HTTPS, with /healthz, /readyz and /metrics.
    #[command(
        after_help = "Examples:\n  bulwark admission serve --config policy.yaml --tls-cert tls.crt --tls-key tls.key\n  bulwark admission serve --config /etc/bulwark/policy.yaml --tls-cert /tls/tls.crt --tls-key /tls/tls.key --listen 0.0.0.0:8443 --sign-decisions /keys/decisions.key --audit-log /var/log/bulwark/audit.jsonl\n\nThe policy file, its keys and the certificate are reloaded when they change (a\nfailed reload keeps what was loaded). Verdicts are cached per (image digest,\npolicy digest); concurrent requests for one digest share one verification;\nregistry work for a request must finish within --budget, or the image is\ndenied with the reason. Each decision is one JSON line on stdout (or\n--audit-log), chained and signed with --sign-decisions. SIGTERM drains and stops."
    )]
    Serve(Box<ServeArgs>),
    /// Issue a CA and a serving certificate for the webhook's Service.
    #[command(
        after_help = "Examples:\n  bulwark admission certs --service bulwark-admission --namespace bulwark-system --out certs/\n  bulwark admission certs --service bulwark-admission --namespace bulwark-system --out certs/ --name 127.0.0.1\n\nWrites ca.crt, tls.crt and tls.key (0600) and prints the caBundle (base64 of\nca.crt) for the webhook configurations (docs/admission.md)."
    )]
    Certs {
        /// The Service's name.
        #[arg(long)]
        service: String,
        /// The Service's namespace.
        #[arg(long)]
        namespace: String,
        /// Directory for ca.crt, tls.crt, tls.key.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// More names (DNS names or IP addresses) for the certificate (repeatable).
        #[arg(long, value_name = "NAME")]
        name: Vec<String>,
        /// Days the certificates are valid.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check a signed audit log: every line's signature and the chain between lines.
    #[command(
        after_help = "Examples:\n  bulwark admission verify-log audit.jsonl --key decisions.pub\n\nExit 0 when every line verifies, 3 when a line was changed, removed, reordered\nor signed by another key (the lines are named)."
    )]
    VerifyLog {
        /// The audit log (JSON lines written with --sign-decisions).
        file: PathBuf,
        /// Public key(s) the lines may be signed with (repeatable).
        #[arg(long, value_name = "PUB", required = true)]
        key: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// Cache and budget settings shared by `admission serve` and `admit`.
#[derive(Debug, clap::Args)]
pub struct DecisionArgs {
    /// The admission policy file (YAML; docs/admission.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// All registry work for one request must finish within this (keep it
    /// shorter than the webhook's timeoutSeconds).
    #[arg(long, default_value = "6s", value_parser = parse_duration)]
    pub budget: std::time::Duration,
    /// How long a passing verdict is kept.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub cache_ttl: std::time::Duration,
    /// How long a failing verdict (or a registry failure) is kept.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub failure_ttl: std::time::Duration,
    /// How long a tag's digest is kept (mutate pins it, so what runs is what was verified).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub tag_ttl: std::time::Duration,
    /// Verdicts kept at most.
    #[arg(long, default_value_t = 10_000)]
    pub cache_size: usize,
    /// Verifications running at most (one thread each); past it, images are
    /// denied as busy.
    #[arg(long, default_value_t = 256)]
    pub workers: usize,
    /// Plain-HTTP registries (loopback labs and tests).
    #[arg(long)]
    pub insecure: bool,
    /// Namespace labels for policies with a namespace-selector, from a file
    /// (`kubectl get namespaces -o json`, or YAML `NAME: {LABEL: VALUE}`)
    /// instead of the API server.
    #[arg(long, value_name = "FILE", conflicts_with = "kube_api")]
    pub namespaces: Option<PathBuf>,
    /// The Kubernetes API server to read namespace labels from (`admission
    /// serve` in a Pod defaults to KUBERNETES_SERVICE_HOST and _PORT; `admit`
    /// reads a cluster only when told).
    #[arg(long, value_name = "URL")]
    pub kube_api: Option<String>,
    /// The API server's CA certificate (PEM), the only one trusted for it.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    )]
    pub kube_ca: PathBuf,
    /// The bearer token for the API server (read at each request: projected
    /// tokens rotate).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    )]
    pub kube_token: PathBuf,
    /// How long a namespace's labels are kept (a label change applies to new
    /// requests after at most this long).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub namespace_ttl: std::time::Duration,
}

/// `bulwark admission serve` arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub decision: DecisionArgs,
    /// Serving certificate (PEM, chain first).
    #[arg(long, value_name = "CRT")]
    pub tls_cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long, value_name = "KEY")]
    pub tls_key: PathBuf,
    /// Address and port to listen on.
    #[arg(long, default_value = "0.0.0.0:8443", value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Append the audit log (one JSON line per decision) to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Sign and chain each audit line with this private key (cosign format).
    #[arg(long, value_name = "KEY")]
    pub sign_decisions: Option<PathBuf>,
    /// How often the policy, keys and certificate are looked at for changes.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub reload_every: std::time::Duration,
    /// How long requests in flight may take after SIGTERM.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub grace: std::time::Duration,
}

/// `bulwark admit` arguments.
#[derive(Debug, clap::Args)]
pub struct AdmitArgs {
    #[command(flatten)]
    pub decision: DecisionArgs,
    /// A stored AdmissionReview (JSON) to answer.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "manifest",
        required_unless_present = "manifest"
    )]
    pub review: Option<PathBuf>,
    /// Kubernetes YAML or JSON (all documents; `-` reads stdin; repeatable).
    #[arg(long, value_name = "FILE")]
    pub manifest: Vec<PathBuf>,
    /// Namespace of objects that name none.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Also run the mutating endpoint and show the digest-pinning patch.
    #[arg(long)]
    pub mutate: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `500ms`, `6s`, `5m`, `1h`.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (500ms, 6s, 5m, 1h)"))?;
    let ms = match unit {
        "ms" => n,
        "s" | "" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        _ => return Err(format!("{s:?} is not a duration (500ms, 6s, 5m, 1h)")),
    };
    Ok(std::time::Duration::from_millis(ms))
}

/// `bulwark db …`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Import the feeds (from their public URLs, or from files with --from) into the database.
    #[command(
        after_help = "Examples:\n  bulwark db update\n  bulwark db update --from tracker.json --from known_exploited_vulnerabilities.json --from epss_scores.csv.gz\n  bulwark db update --from data/CVE/list --from data/DSA/list --from osv-debian/\n\nA feed's kind is found from its content: the Debian security tracker (JSON\nexport, or data/CVE/list and data/DSA/list text), a directory of OSV records,\nthe CISA KEV catalogue (JSON), FIRST EPSS scores (CSV, optionally gzip).\nFeeds not given keep their data. The update is atomic: a failure leaves the\nprevious database as it was."
    )]
    Update {
        /// A feed file, a directory of OSV records, or an https:// URL (repeatable).
        #[arg(long, value_name = "PATH_OR_URL")]
        from: Vec<String>,
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show the feeds in the database: sources, digests, dates, counts, age.
    #[command(
        after_help = "Examples:\n  bulwark db status\n  bulwark db status --db /srv/bulwark-db --format json"
    )]
    Status {
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// Where the vulnerability database is.
#[derive(Debug, clap::Args)]
pub struct DbArg {
    /// Database directory (default: $XDG_CACHE_HOME/bulwark/db).
    #[arg(long = "db", value_name = "DIR", env = "BULWARK_DB")]
    pub dir: Option<PathBuf>,
}

/// Where `--archive` reads the release's suites.
#[derive(Debug, clap::Args)]
pub struct ArchiveArgs {
    /// Also read the release's suites in the Debian archive (main, -updates,
    /// -security; verified): which fixes are there now, and which are not yet.
    #[arg(long)]
    pub archive: bool,
    /// Archive URI for --archive (default: the host's apt sources).
    #[arg(long, value_name = "URI")]
    pub mirror: Option<String>,
    /// Security archive URI for --archive (default: the host's apt sources).
    #[arg(long, value_name = "URI")]
    pub security_mirror: Option<String>,
    /// Keyring for --archive (default: the host's).
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
}

/// `bulwark scan` arguments.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// An image (`oci:DIR[:TAG]`, `oci-archive:FILE`, `docker-archive:FILE`, `HOST/REPO:TAG`,
    /// a root filesystem), a bulwark lock file, or an SPDX/CycloneDX SBOM with `pkg:deb` purls.
    pub target: String,
    #[command(flatten)]
    pub db: DbArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// Platform of a multi-arch image (default: the host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Debian release to match against (default: the target's own).
    #[arg(long, value_name = "CODENAME")]
    pub release: Option<String>,
    /// Where the workload can be reached from (lowers the score of isolated workloads).
    #[arg(long, value_enum)]
    pub exposure: Option<ExposureArg>,
    /// Kubernetes manifests of the workload (repeatable): a LoadBalancer Service
    /// or an Ingress means internet exposure, NodePort/hostNetwork/hostPort the
    /// nodes' network, a ClusterIP Service the cluster, none of them isolated.
    #[arg(long = "k8s", value_name = "FILE")]
    pub k8s: Vec<PathBuf>,
    /// The files the running workload mapped or opened: /proc/PID/maps of its
    /// process, or one path per line.
    #[arg(long, value_name = "FILE")]
    pub runtime_evidence: Option<PathBuf>,
    /// Refuse a database older than this many days (default: warn past 7).
    #[arg(long, value_name = "DAYS")]
    pub max_db_age: Option<u64>,
    /// Exit with code 3 when a finding has at least this priority.
    #[arg(long, value_enum)]
    pub fail_on: Option<PriorityArg>,
    /// OpenVEX or CycloneDX VEX documents whose not_affected, fixed, resolved
    /// and false_positive statements suppress findings (repeatable).
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// With --archive: fetch each candidate .deb (verified) and list the CVEs its
    /// changelog.Debian.gz names since the installed version.
    #[arg(long)]
    pub changelogs: bool,
    /// Attach the report (cosign's vuln predicate) and the OpenVEX to the image
    /// as signed attestations (needs --key).
    #[arg(long, requires = "key")]
    pub attest: bool,
    /// Private key (cosign format) for --attest.
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// bundle (cosign 3 default), legacy (.att tag) or both, for --attest.
    #[arg(long, default_value = "bundle", value_parser = ["bundle", "legacy", "both"])]
    pub signature_format: String,
    /// Plain HTTP for a loopback registry.
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ScanFormat {
    /// Findings, most urgent first, with their reasons.
    Table,
    /// The report (documented in docs/scan.md).
    Json,
    /// SARIF 2.1.0, one result per finding.
    Sarif,
    /// CycloneDX 1.6 with a vulnerabilities section.
    Cyclonedx,
    /// OpenVEX 0.2: not_affected where the entrypoint does not load the package.
    Openvex,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DiffFormat {
    /// A summary and the changed packages (also accepted as `text`).
    #[value(alias = "text")]
    Table,
    /// The whole comparison (docs/cli.md).
    Json,
    /// A body for a pull request or a change ticket.
    Markdown,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ExposureArg {
    Internet,
    Internal,
    Isolated,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum PriorityArg {
    ActNow,
    Plan,
    Monitor,
}

/// `bulwark key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write PREFIX.key (encrypted, cosign format) and PREFIX.pub (PEM).
    #[command(
        after_help = "Examples:\n  BULWARK_PASSWORD=s3cret bulwark key generate release\n\nThe password comes from BULWARK_PASSWORD (or COSIGN_PASSWORD); an empty value means no password.\nKeys from `cosign generate-key-pair` work everywhere bulwark takes a key."
    )]
    Generate {
        /// Path prefix of the two files.
        prefix: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
}

/// Options shared by `sign` and `attest`.
#[derive(Debug, clap::Args)]
pub struct SignCommon {
    /// bundle (cosign 3 default), legacy (.sig/.att tags, for policy-controller) or both.
    #[arg(long, default_value = "bundle", value_parser = ["bundle", "legacy", "both"])]
    pub signature_format: String,
    /// Plain-HTTP registry (loopback labs and tests).
    #[arg(long)]
    pub insecure: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `bulwark eval` arguments.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The image: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE`,
    /// `HOST[:PORT]/REPO[:TAG]` or a root filesystem directory.
    pub image: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EvalFormat::Table)]
    pub format: EvalFormat,
    /// Platform of a multi-arch image (default: the host's).
    #[arg(long, conflicts_with = "all_platforms")]
    pub platform: Option<String>,
    /// Evaluate every platform of a multi-arch image (one report each).
    #[arg(long)]
    pub all_platforms: bool,
    /// Public key(s) whose signatures and attestations the image should carry (repeatable).
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    /// Exit with code 3 when a finding is at least this severe.
    #[arg(long, value_enum)]
    pub fail_on: Option<SeverityArg>,
    /// Policy file (YAML): minimum grade, severities, forbidden ids, exceptions,
    /// required signatures and attestations; exit 3 on violation.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Plain HTTP for a loopback registry.
    #[arg(long)]
    pub insecure: bool,
    /// Vulnerability database for the exploitability pillar and the policy's
    /// vulnerability rules (default: the one `bulwark db update` writes, when
    /// there is one).
    #[command(flatten)]
    pub db: DbArg,
    /// With --archive: the patch-cadence pillar (how many days behind the
    /// archive's security fixes, from the candidates' changelogs).
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// Attach each report to its image (the platform manifest and the index)
    /// as a signed attestation (`--type eval`), for admission policies'
    /// `eval: {min-grade}` (needs --sign-key).
    #[arg(long, requires = "sign_key")]
    pub attest: bool,
    /// Private key (cosign format) for --attest.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// bundle (cosign 3 default), legacy (.att tag) or both, for --attest.
    #[arg(long, default_value = "bundle", value_parser = ["bundle", "legacy", "both"])]
    pub signature_format: String,
}

/// What an SBOM says about the image itself (defaults: the image's OCI labels).
#[derive(Debug, Default, clap::Args)]
pub struct SbomAbout {
    /// Who supplies the image, e.g. "ACME Corp" (default: label org.opencontainers.image.vendor).
    #[arg(long, value_name = "NAME")]
    pub supplier: Option<String>,
    /// How to reach the supplier: `Name <email>` or a URL (default: label org.opencontainers.image.authors).
    #[arg(long, value_name = "CONTACT")]
    pub contact: Option<String>,
    /// The image's licence as an SPDX expression (default: label org.opencontainers.image.licenses).
    #[arg(long, value_name = "SPDX-EXPR")]
    pub license: Option<String>,
    /// The image's copyright notice, e.g. "2026 ACME Corp".
    #[arg(long, value_name = "TEXT")]
    pub copyright: Option<String>,
}

/// How `bulwark evidence` writes.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum EvidenceFormat {
    /// A summary of the controls.
    Text,
    /// `evidence.json`.
    Json,
    /// NIST OSCAL assessment results (JSON): a finding per control, an observation per platform.
    Oscal,
    /// A self-contained HTML report that prints on A4 (also report.html in the bundle).
    Html,
    /// A directory (or a `.tar` file) with evidence.json, the files it cites and MANIFEST.json.
    Bundle,
}

/// `bulwark evidence` arguments.
#[derive(Debug, clap::Args)]
pub struct EvidenceArgs {
    /// The image (any image bulwark reads).
    pub image: String,
    /// Public key(s): approved signers of the image and its attestations, and of the audit log's lines (repeatable).
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    /// An admission audit log (bulwark admission serve --audit-log): its decisions for this digest.
    #[arg(long, value_name = "FILE")]
    pub admission_log: Option<PathBuf>,
    /// The organisation's evidence policy (YAML): frameworks, time limits, and controls tailored to not-applicable or manual with a reason and an expiry (docs/evidence.md).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = EvidenceFormat::Text)]
    pub format: EvidenceFormat,
    /// Where to write: a file for json, html and oscal, a directory or a .tar for bundle (json, html and oscal without it: stdout).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Sign the summary (each control's status, the time) and attach it to the image as an attestation.
    #[arg(long, requires = "sign_key")]
    pub attest: bool,
    /// Private key (cosign format) for --attest.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// bundle (cosign 3 default), legacy (.sig/.att tags) or both.
    #[arg(long, default_value = "bundle", value_parser = ["bundle", "legacy", "both"])]
    pub signature_format: String,
    /// Plain-HTTP registries (loopback labs and tests).
    #[arg(long)]
    pub insecure: bool,
}

/// `bulwark harden` arguments.
#[derive(Debug, clap::Args)]
pub struct HardenArgs {
    /// The image to harden (any image bulwark reads).
    pub source: String,
    /// Where to write the hardened image (any destination bulwark writes).
    pub output: String,
    /// The program to run, and its arguments, one per flag (replaces the
    /// image's Entrypoint and Cmd).
    #[arg(long, value_name = "ARG")]
    pub entrypoint: Vec<String>,
    /// A path or glob to keep whatever it is (a directory keeps what is below it).
    #[arg(long, value_name = "PATH_OR_GLOB")]
    pub keep: Vec<String>,
    /// Keep only the entrypoint's closure, --keep and --runtime-evidence (and the system files workloads read).
    #[arg(long)]
    pub minify: bool,
    /// Run as `UID[:GID]` (default: the image's own non-root USER, else 65532).
    #[arg(long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// A high-risk package or program to keep (e.g. curl).
    #[arg(long, value_name = "TOOL")]
    pub allow: Vec<String>,
    /// Files a running workload used (`/proc/PID/maps`, or one path per line): kept, with their packages.
    #[arg(long, value_name = "FILE")]
    pub runtime_evidence: Option<PathBuf>,
    /// Ship secrets found in the source instead of failing.
    #[arg(long)]
    pub allow_secrets: bool,
    /// Keep the source's layers and add one layer of changes, with whiteouts for what goes (default: one squashed layer).
    #[arg(long)]
    pub delta: bool,
    /// Sign the result and attach its SBOMs and provenance as signed attestations.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// bundle (cosign 3 default), legacy (.sig/.att tags) or both.
    #[arg(long, default_value = "bundle", value_parser = ["bundle", "legacy", "both"])]
    pub signature_format: String,
    /// Write the SBOMs and the provenance as files into DIR (instead of DEST-PATH.sbom/).
    #[arg(long, value_name = "DIR")]
    pub sbom_dir: Option<PathBuf>,
    /// Layer compression.
    #[arg(long, value_enum, default_value_t = CompressionArg::Gzip)]
    pub compression: CompressionArg,
    /// Image timestamp (default: the source's creation time).
    #[arg(long, value_name = "SECONDS")]
    pub source_date_epoch: Option<u64>,
    /// Plain-HTTP registries (loopback labs and tests).
    #[arg(long)]
    pub insecure: bool,
    /// Output format (json: every path removed, and why).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}
