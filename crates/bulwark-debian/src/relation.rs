//! Dependency fields (`Depends`, `Pre-Depends`, `Provides`, ...), Debian
//! Policy 7.1: comma-separated AND of `|`-separated OR alternatives.

use std::fmt;

use crate::Version;

/// `<< <= = >= >>` (and the obsolete `<` `>` meaning `<=` `>=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionOp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl VersionOp {
    /// Whether `candidate OP reference` holds.
    pub fn matches(self, candidate: &Version, reference: &Version) -> bool {
        use std::cmp::Ordering::*;
        let o = candidate.cmp(reference);
        match self {
            VersionOp::Lt => o == Less,
            VersionOp::Le => o != Greater,
            VersionOp::Eq => o == Equal,
            VersionOp::Ge => o != Less,
            VersionOp::Gt => o == Greater,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            VersionOp::Lt => "<<",
            VersionOp::Le => "<=",
            VersionOp::Eq => "=",
            VersionOp::Ge => ">=",
            VersionOp::Gt => ">>",
        }
    }
}

/// One alternative: `name[:archqual] [(op version)]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// `any`, `native` or an architecture name.
    pub arch_qualifier: Option<String>,
    pub constraint: Option<(VersionOp, Version)>,
}

impl Relation {
    /// Whether a package of this name/version satisfies the version part.
    pub fn version_matches(&self, version: &Version) -> bool {
        match &self.constraint {
            None => true,
            Some((op, v)) => op.matches(version, v),
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(q) = &self.arch_qualifier {
            write!(f, ":{q}")?;
        }
        if let Some((op, v)) = &self.constraint {
            write!(f, " ({} {v})", op.as_str())?;
        }
        Ok(())
    }
}

/// One comma-separated item: a list of alternatives, any of which satisfies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub alternatives: Vec<Relation>,
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.alternatives.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// A relation field that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("cannot parse relation '{text}': {reason}")]
pub struct RelationError {
    pub text: String,
    pub reason: String,
}

/// Parses a whole relation field such as
/// `libc6 (>= 2.34), libssl3 | libssl1.1, python3:any`.
///
/// Architecture restrictions (`[amd64]`) and build profiles (`<!nocheck>`),
/// which only appear in source packages, are accepted and dropped.
pub fn parse_relations(field: &str) -> Result<Vec<Dependency>, RelationError> {
    let mut out = Vec::new();
    for item in field.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let mut alternatives = Vec::new();
        for alt in item.split('|') {
            alternatives.push(parse_one(alt.trim()).map_err(|reason| RelationError {
                text: item.to_owned(),
                reason,
            })?);
        }
        out.push(Dependency { alternatives });
    }
    Ok(out)
}

fn parse_one(s: &str) -> Result<Relation, String> {
    // Drop `[arch ...]` and `<profile ...>` restrictions.
    let mut s = s.to_owned();
    for (open, close) in [('[', ']'), ('<', '>')] {
        while let Some(a) = s.find(open) {
            // `<<` / `<=` inside the version constraint are not profiles.
            if open == '<' && s[..a].contains('(') && !s[..a].contains(')') {
                break;
            }
            let Some(b) = s[a..].find(close) else {
                return Err(format!("unterminated '{open}'"));
            };
            s.replace_range(a..a + b + 1, "");
        }
    }
    let s = s.trim();
    let (head, constraint) = match s.find('(') {
        Some(i) => {
            let inner = s[i + 1..]
                .strip_suffix(')')
                .ok_or_else(|| "missing ')' after version".to_owned())?;
            (s[..i].trim(), Some(parse_constraint(inner.trim())?))
        }
        None => (s, None),
    };
    if head.is_empty() {
        return Err("empty package name".into());
    }
    let (name, arch_qualifier) = match head.split_once(':') {
        Some((n, q)) => (n, Some(q.to_owned())),
        None => (head, None),
    };
    if name.is_empty()
        || !name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        })
    {
        return Err(format!("'{name}' is not a valid package name"));
    }
    Ok(Relation {
        name: name.to_owned(),
        arch_qualifier,
        constraint,
    })
}

fn parse_constraint(s: &str) -> Result<(VersionOp, Version), String> {
    let ops: [(&str, VersionOp); 7] = [
        ("<<", VersionOp::Lt),
        ("<=", VersionOp::Le),
        (">=", VersionOp::Ge),
        (">>", VersionOp::Gt),
        ("=", VersionOp::Eq),
        ("<", VersionOp::Le),
        (">", VersionOp::Ge),
    ];
    for (tok, op) in ops {
        if let Some(rest) = s.strip_prefix(tok) {
            let v = rest.trim().parse::<Version>().map_err(|e| e.to_string())?;
            return Ok((op, v));
        }
    }
    Err(format!("'{s}' has no version operator"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_fields() {
        let d = parse_relations(
            "libc6 (>= 2.34), libssl3 (>= 3.0.0) | libssl1.1,python3:any (<< 3.12~), debconf (>= 0.5) | debconf-2.0",
        )
        .unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(d[1].alternatives.len(), 2);
        assert_eq!(d[2].alternatives[0].arch_qualifier.as_deref(), Some("any"));
        assert_eq!(d[2].to_string(), "python3:any (<< 3.12~)");
    }

    #[test]
    fn strips_source_only_restrictions() {
        let d = parse_relations("foo [amd64 arm64] <!nocheck>, bar (<< 2) [!i386]").unwrap();
        assert_eq!(d[0].alternatives[0].name, "foo");
        assert_eq!(d[1].alternatives[0].to_string(), "bar (<< 2)");
    }

    #[test]
    fn errors_name_the_item() {
        let e = parse_relations("good, Bad_Name").unwrap_err();
        assert!(e.to_string().contains("Bad_Name"), "{e}");
        assert!(parse_relations("x (>= )").is_err());
        assert!(parse_relations("x (1.0)").is_err());
    }
}
