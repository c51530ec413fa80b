//! One module per command; each turns library results into output.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use bulwark_apt::{Cache, Fetcher, default_cache_dir};

use crate::cli::{AdmissionCommand, Cli, Command, DbCommand, KeyCommand};

mod admission;
mod build;
mod db;
mod diff;
mod eval;
mod evidence;
mod harden;
mod lock;
mod sbom;
mod scan;
pub mod trust;
mod update;

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
            sign_key,
            signature_format,
            sbom_dir,
            insecure,
            format,
        } => build::run(
            spec,
            output,
            &build::Options {
                frozen: *frozen,
                compression: *compression,
                source_date_epoch: *source_date_epoch,
                sign_key: sign_key.as_deref(),
                signature_format,
                sbom_dir: sbom_dir.as_deref(),
                insecure: *insecure,
                format: *format,
                quiet: cli.quiet,
            },
        ),
        Command::Eval(args) => eval::run(args),
        Command::Sbom {
            image,
            format,
            platform,
            cyclonedx_version,
            insecure,
            about,
        } => sbom::run(
            image,
            *format,
            platform.as_deref(),
            cyclonedx_version,
            *insecure,
            about,
        ),
        Command::Key(KeyCommand::Generate { prefix, force }) => trust::key_generate(prefix, *force),
        Command::Sign { image, key, common } => trust::sign(image, key, common),
        Command::Attest {
            image,
            key,
            type_,
            predicate,
            common,
        } => trust::attest(image, key, type_, predicate, common),
        Command::Verify {
            image,
            key,
            attestation,
            skip_layers,
            insecure,
            format,
        } => trust::verify(image, key, attestation, *skip_layers, *insecure, *format),
        Command::Db(DbCommand::Update { from, db, format }) => {
            db::update(from, db, *format, cli.quiet)
        }
        Command::Db(DbCommand::Status { db, format }) => db::status(db, *format),
        Command::Scan(args) => scan::run(args),
        Command::Harden(args) => harden::run(args, cli.quiet),
        Command::Evidence(args) => evidence::run(args),
        Command::Diff {
            from,
            to,
            format,
            platform,
            db,
            insecure,
        } => diff::run(from, to, *format, platform.as_deref(), db, *insecure),
        Command::Update {
            specs,
            index,
            check,
            output,
            sign_key,
            signature_format,
            db,
            no_changelogs,
            jobs,
            insecure,
            format,
        } => update::run(
            specs,
            &update::Args {
                index: *index,
                check: *check,
                output: output.as_deref(),
                sign_key: sign_key.as_deref(),
                signature_format,
                db,
                changelogs: !*no_changelogs,
                jobs: usize::from(*jobs),
                insecure: *insecure,
                format: *format,
                quiet: cli.quiet,
            },
        ),
        Command::Copy {
            src,
            dst,
            insecure,
            format,
        } => trust::copy(src, dst, *insecure, *format),
        Command::Admission(AdmissionCommand::Serve(args)) => admission::serve(args),
        Command::Admission(AdmissionCommand::Certs {
            service,
            namespace,
            out,
            name,
            days,
            force,
            format,
        }) => admission::certs(service, namespace, out, name, *days, *force, *format),
        Command::Admission(AdmissionCommand::VerifyLog { file, key, format }) => {
            admission::verify_log(file, key, *format)
        }
        Command::Admit(args) => admission::admit(args),
    }
}
