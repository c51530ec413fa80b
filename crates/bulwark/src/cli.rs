//! Command-line definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  the command failed (the message says why and what to do)
  2  usage error (unknown flag, missing argument)
  3  eval: a finding reached the --fail-on severity

Environment:
  BULWARK_CACHE_DIR   download cache (default: $XDG_CACHE_HOME/bulwark)
  SOURCE_DATE_EPOCH   image timestamp (default: newest package file time)
  NO_COLOR            disable colour
  BULWARK_LOG         log filter (e.g. debug)";

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
        after_help = "Examples:\n  bulwark build examples/base.yaml --output oci:out/base:latest\n  bulwark build examples/static.yaml --output oci-archive:static.tar --frozen --format json\n  bulwark build examples/cc.yaml --output docker-archive:cc.tar:bulwark/cc:1\n\nDestinations: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME[:TAG]].\nThe Kubernetes securityContext is written to DEST-PATH.security-context.yaml."
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
        /// Output format (json: the stable report documented in docs/cli.md).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List the software in any image (dpkg status and status.d, os-release, licences).
    #[command(
        after_help = "Examples:\n  bulwark sbom oci:out/base:latest\n  bulwark sbom oci-archive:image.tar --format spdx-json > image.spdx.json\n  bulwark sbom docker-archive:saved.tar --format cyclonedx-json --cyclonedx-version 1.6\n  bulwark sbom ./rootfs --format json\n\nImages: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, or a root filesystem directory.\nLayers are streamed, never extracted; whiteouts are applied and every blob digest is checked."
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
    },
    /// Evaluate any image: how minimal, hardened and trustworthy it is, scored and explained.
    #[command(
        after_help = "Examples:\n  bulwark eval oci:out/base:latest\n  bulwark eval docker-archive:saved.tar --format json\n  bulwark eval oci:out/base:latest --format html > report.html\n  bulwark eval oci-archive:app.tar --fail-on high   # exit 3 on any high or critical finding\n\nPillars, checks, severities and the grade formula: docs/eval.md."
    )]
    Eval {
        /// The image to evaluate (same forms as `bulwark sbom`).
        image: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = EvalFormat::Table)]
        format: EvalFormat,
        /// Platform of a multi-arch image (default: the host's).
        #[arg(long)]
        platform: Option<String>,
        /// Exit with code 3 when a finding is at least this severe.
        #[arg(long, value_enum)]
        fail_on: Option<SeverityArg>,
        /// Policy file (YAML): minimum grade, severities, forbidden ids, exceptions; exit 3 on violation.
        #[arg(long, value_name = "FILE")]
        policy: Option<std::path::PathBuf>,
    },
}
