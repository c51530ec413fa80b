//! One module per command; each turns library results into output.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use bulwark_apt::{Cache, Fetcher, default_cache_dir};

use crate::cli::{Cli, Command};

mod build;
mod eval;
mod lock;
mod sbom;

/// `--cache-dir`, when given.
pub static CACHE_DIR: OnceLock<PathBuf> = OnceLock::new();

pub fn fetcher() -> anyhow::Result<Fetcher> {
    let dir = CACHE_DIR.get().cloned().unwrap_or_else(default_cache_dir);
    Ok(Fetcher::new(Some(Cache::new(dir)))?)
}

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Lock {
            spec,
            update,
            format,
        } => lock::run(spec, *update, *format, cli.quiet),
        Command::Build {
            spec,
            output,
            frozen,
            compression,
            source_date_epoch,
            format,
        } => build::run(
            spec,
            output,
            *frozen,
            *compression,
            *source_date_epoch,
            *format,
            cli.quiet,
        ),
        Command::Eval {
            image,
            format,
            platform,
            fail_on,
            policy,
        } => eval::run(
            image,
            *format,
            platform.as_deref(),
            *fail_on,
            policy.as_deref(),
        ),
        Command::Sbom {
            image,
            format,
            platform,
            cyclonedx_version,
        } => sbom::run(image, *format, platform.as_deref(), cyclonedx_version),
    }
}
