//! deb822 paragraphs: `Packages` indexes, `Release` files, .deb `control`
//! files and `.sources` files all share this syntax.

/// One deb822 paragraph; field names are matched case-insensitively.
#[derive(Clone, Debug)]
pub struct Paragraph(deb822_fast::Paragraph);

/// A deb822 document that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("malformed deb822 data: {0}")]
pub struct ControlError(String);

impl Paragraph {
    /// The field's value; continuation lines are joined with `\n`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// The field's value, or an error naming the field.
    pub fn require(&self, name: &str) -> Result<&str, MissingField> {
        self.get(name).ok_or_else(|| MissingField(name.to_owned()))
    }

    /// All fields in document order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter()
    }

    /// Builds a paragraph from name/value pairs (used by tests and writers).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Paragraph(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// A required field was absent.
#[derive(Debug, thiserror::Error)]
#[error("required field '{0}' is missing")]
pub struct MissingField(pub String);

/// Parses every paragraph of a deb822 document.
pub fn parse_paragraphs(text: &str) -> Result<Vec<Paragraph>, ControlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // deb822 is LF-only; tolerate CRLF files written on other systems. (A
    // lone CR stays: it once sent this function into endless recursion.)
    let cleaned;
    let text = if text.contains("\r\n") {
        cleaned = text.replace("\r\n", "\n");
        cleaned.as_str()
    } else {
        text
    };
    let doc: deb822_fast::Deb822 = text.parse().map_err(|e| ControlError(format!("{e:?}")))?;
    Ok(doc.into_iter().map(Paragraph).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_fields_and_case() {
        let p = parse_paragraphs("Package: a\nDescription: x\n y\n .\n z\n\npackage: b\n").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].get("description"), Some("x\ny\n.\nz"));
        assert_eq!(p[1].get("Package"), Some("b"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_paragraphs(" leading\n").is_err());
        let _ = parse_paragraphs("no colon here\n");
        let _ = parse_paragraphs(":\n:\n\n\n");
    }

    #[test]
    fn regression_a_lone_carriage_return_does_not_recurse_forever() {
        // Found by the release_file fuzz target: a stack overflow.
        let _ = parse_paragraphs("Origin: x\rSuite: y\n");
        let _ = parse_paragraphs("\r");
        let p = parse_paragraphs("Package: a\r\nVersion: 1\r\n").unwrap();
        assert_eq!(p[0].get("Version"), Some("1"));
    }
}
