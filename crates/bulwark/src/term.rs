//! Text that came from images, registries or packages, made safe for a
//! terminal: a file name or a dpkg field may hold escape sequences that
//! would rewrite the screen, hide lines or change the terminal's title.

use std::borrow::Cow;
use std::sync::Mutex;

/// `s` with every control character but newline and tab shown escaped
/// (`\u{1b}`), so data can never drive the terminal.
pub fn safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .flat_map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    c.escape_unicode().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect(),
    )
}

/// Renders a library's [`bulwark_build::Progress`] events as a progress bar
/// on stderr (hidden when stderr is not a terminal, and with `--quiet`).
#[derive(Debug, Default)]
pub struct Bars {
    quiet: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            bar: Mutex::new(None),
        }
    }
}

impl bulwark_build::Progress for Bars {
    fn start(&self, step: &str, total: u64) {
        if self.quiet {
            return;
        }
        let pb = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {binary_bytes}/{binary_total_bytes} {eta}",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(step.to_owned());
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(pb);
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(b) = self.bar.lock()
            && let Some(pb) = b.as_ref()
        {
            pb.inc(n);
        }
    }

    fn finish(&self) {
        if let Ok(mut b) = self.bar.lock()
            && let Some(pb) = b.take()
        {
            pb.finish_and_clear();
        }
    }
}

/// `s` in ANSI colour `code`, when stdout is a terminal and NO_COLOR is unset.
pub fn paint(s: &str, code: &str) -> String {
    use std::io::IsTerminal as _;
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal();
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_owned()
    }
}

/// A progress bar per download on stderr (nothing when `quiet` or when
/// stderr is not a terminal), for [`bulwark_apt::Fetcher::with_progress`].
pub fn download_bars(quiet: bool) -> Option<bulwark_apt::OnBytes> {
    if quiet {
        return None;
    }
    let multi = indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
    let bars: Mutex<std::collections::HashMap<String, indicatif::ProgressBar>> =
        Mutex::new(std::collections::HashMap::new());
    Some(std::sync::Arc::new(
        move |url: &str, seen: u64, total: Option<u64>| {
            let Ok(mut bars) = bars.lock() else {
                return;
            };
            let pb = bars.entry(url.to_owned()).or_insert_with(|| {
            let pb = multi.add(indicatif::ProgressBar::new(total.unwrap_or(0)));
            let template = if total.is_some() {
                "{msg:.30} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}"
            } else {
                "{msg:.30} {spinner} {binary_bytes} {binary_bytes_per_sec}"
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                pb.set_style(style.progress_chars("=> "));
            }
            let name = url.rsplit('/').next().unwrap_or(url);
            pb.set_message(safe(name).into_owned());
            pb
        });
            pb.set_position(seen);
            if total.is_some_and(|t| seen >= t) {
                pb.finish_and_clear();
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_not_run() {
        assert_eq!(safe("plain\tline\n"), "plain\tline\n");
        assert_eq!(safe("a\x1b]0;pwned\x07b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(safe("\r\x1b[2K"), "\\u{d}\\u{1b}[2K");
        assert_eq!(safe("\u{9b}31m"), "\\u{9b}31m");
    }
}
