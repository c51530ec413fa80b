//! Text that came from images, registries or packages, made safe for a
//! terminal: a file name or a dpkg field may hold escape sequences that
//! would rewrite the screen, hide lines or change the terminal's title.

use std::borrow::Cow;

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
