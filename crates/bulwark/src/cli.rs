//! Command-line definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  the command failed (the message says why and what to do)
  2  usage error (unknown flag, missing argument)

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
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// More logging (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Colour on stderr.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
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
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}
