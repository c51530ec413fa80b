//! The `bulwark` command line. This crate alone prints; the work happens in
//! the library crates (`bulwark-build` and friends).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod term;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let color = match cli.color {
        cli::Color::Always => true,
        cli::Color::Never => false,
        cli::Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    };
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BULWARK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .without_time()
        .with_target(false)
        .try_init();
    if let Some(dir) = &cli.cache_dir {
        set_cache_dir(dir);
    }
    // SIGINT, SIGTERM, SIGHUP: no drop runs, so the temporary layouts,
    // archives and files in flight are removed here (exit 130, as a shell
    // reports Ctrl-C).
    // The webhook server handles its own signals (it drains, then exits).
    let serving = matches!(
        cli.command,
        cli::Command::Admission(cli::AdmissionCommand::Serve(_))
    );
    if !serving {
        let _ = ctrlc::set_handler(|| {
            bulwark_limits::scratch::remove_all();
            std::process::exit(130);
        });
    }
    match commands::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            let red = if color { "\x1b[31m" } else { "" };
            let reset = if color { "\x1b[0m" } else { "" };
            let top = e.to_string();
            eprintln!("{red}error{reset}: {}", term::safe(&top));
            // Library errors already embed their source in the message; only
            // print causes that add something.
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !top.contains(&c) {
                    eprintln!("  caused by: {}", term::safe(&c));
                }
            }
            ExitCode::from(1)
        }
    }
}

fn set_cache_dir(dir: &std::path::Path) {
    commands::CACHE_DIR.set(dir.to_path_buf()).ok();
}
