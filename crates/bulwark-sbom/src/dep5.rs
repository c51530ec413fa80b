//! Machine-readable `debian/copyright` (DEP-5) → SPDX licence expression and notices.

/// What a copyright file declares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dep5 {
    /// SPDX licence expression (`GPL-2.0-or-later AND MIT`), if machine-readable.
    pub license: Option<String>,
    /// Copyright lines, de-duplicated, in order.
    pub copyright: Vec<String>,
}

/// Maps a Debian short licence name to an SPDX identifier.
fn spdx_id(short: &str) -> String {
    let s = short.trim();
    let (base, plus) = match s.strip_suffix('+') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let lower = base.to_ascii_lowercase();
    let gnu = |fam: &str, v: &str| format!("{fam}-{v}-{}", if plus { "or-later" } else { "only" });
    let known = match lower.as_str() {
        "gpl-1" => Some(gnu("GPL", "1.0")),
        "gpl-2" => Some(gnu("GPL", "2.0")),
        "gpl-3" => Some(gnu("GPL", "3.0")),
        "lgpl-2" => Some(gnu("LGPL", "2.0")),
        "lgpl-2.1" => Some(gnu("LGPL", "2.1")),
        "lgpl-3" => Some(gnu("LGPL", "3.0")),
        "agpl-3" => Some(gnu("AGPL", "3.0")),
        "gfdl-1.2" => Some(gnu("GFDL", "1.2")),
        "gfdl-1.3" => Some(gnu("GFDL", "1.3")),
        "expat" | "mit" => Some("MIT".into()),
        "bsd-2-clause" => Some("BSD-2-Clause".into()),
        "bsd-3-clause" => Some("BSD-3-Clause".into()),
        "bsd-4-clause" => Some("BSD-4-Clause".into()),
        "isc" => Some("ISC".into()),
        "zlib" => Some("Zlib".into()),
        "apache-2.0" => Some("Apache-2.0".into()),
        "artistic" | "artistic-1" | "artistic-1.0" => Some("Artistic-1.0".into()),
        "artistic-2.0" => Some("Artistic-2.0".into()),
        "mpl-1.1" => Some("MPL-1.1".into()),
        "mpl-2.0" => Some("MPL-2.0".into()),
        "psf-2" | "python" => Some("PSF-2.0".into()),
        "cc0-1.0" | "cc0" => Some("CC0-1.0".into()),
        "openssl" => Some("OpenSSL".into()),
        "curl" => Some("curl".into()),
        "unicode-data" => Some("Unicode-DFS-2016".into()),
        "x11" => Some("X11".into()),
        "bzip2-1.0.6" => Some("bzip2-1.0.6".into()),
        _ => None,
    };
    known.unwrap_or_else(|| format!("LicenseRef-{}", crate::idstring(s).trim_matches('-')))
}

/// `GPL-2+ or Artistic` → `(GPL-2.0-or-later OR Artistic-1.0)`.
fn expression(field: &str) -> Option<String> {
    let first = field.lines().next()?.trim();
    if first.is_empty() {
        return None;
    }
    let words: Vec<&str> = first.split_whitespace().collect();
    let mut terms: Vec<String> = Vec::new();
    let mut ops: Vec<&str> = Vec::new();
    let mut current = Vec::new();
    for w in words {
        match w.to_ascii_lowercase().as_str() {
            "or" | "and" => {
                if !current.is_empty() {
                    terms.push(spdx_id(&current.join("-")));
                    current.clear();
                }
                ops.push(if w.eq_ignore_ascii_case("or") {
                    "OR"
                } else {
                    "AND"
                });
            }
            "with" => current.push("with"),
            _ => current.push(w.trim_matches(|c| c == ',' || c == '(' || c == ')')),
        }
    }
    if !current.is_empty() {
        terms.push(spdx_id(&current.join("-")));
    }
    match terms.len() {
        0 => None,
        1 => terms.pop(),
        _ => {
            let mut s = terms[0].clone();
            for (t, op) in terms[1..].iter().zip(ops.iter()) {
                s.push_str(&format!(" {op} {t}"));
            }
            Some(format!("({s})"))
        }
    }
}

/// The licences a free-form copyright file names: first those it points at
/// in `/usr/share/common-licenses/NAME` (what Debian policy asks such files
/// to do), in order of first mention, then a few licences it quotes whole,
/// all joined with AND. A version-less name (`GPL`) says nothing about the
/// version and becomes `LicenseRef-GPL`.
fn free_form_licenses(text: &str) -> Option<String> {
    const DIR: &str = "/usr/share/common-licenses/";
    // Licence texts quoted whole, recognised by phrases no other licence
    // uses (whitespace normalised: the texts are wrapped any which way).
    const QUOTED: &[(&str, &str)] = &[
        ("python software foundation license version 2", "PSF-2.0"),
        ("apache license version 2.0", "Apache-2.0"),
        ("apache license, version 2.0", "Apache-2.0"),
        ("mozilla public license version 2.0", "MPL-2.0"),
        (
            "permission is hereby granted, free of charge, to any person obtaining a copy",
            "MIT",
        ),
    ];
    let mut ids: Vec<String> = Vec::new();
    let flat = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let mut quoted: Vec<(usize, &str)> = QUOTED
        .iter()
        .filter_map(|(phrase, id)| flat.find(phrase).map(|at| (at, *id)))
        .collect();
    quoted.sort();
    let mut rest = text;
    while let Some(i) = rest.find(DIR) {
        rest = &rest[i + DIR.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
            .collect();
        let name = name.trim_end_matches('.');
        if name.is_empty() {
            continue;
        }
        let id = spdx_id(name);
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    for (_, id) in quoted {
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }
    match ids.len() {
        0 => None,
        1 => ids.pop(),
        _ => Some(ids.join(" AND ")),
    }
}

/// Parses a copyright file. A DEP-5 file gives its `License` fields; a
/// free-form one the licences it references in `/usr/share/common-licenses`
/// (none: NOASSERTION downstream).
pub fn parse_copyright(text: &str) -> Dep5 {
    let mut out = Dep5::default();
    if !text.starts_with("Format:") && !text.starts_with("Format-Specification:") {
        out.license = free_form_licenses(text);
        // Free-form: keep the notices, from "Copyright"/"(C)"/"©" on, when
        // a year or a copyright sign follows (not "the copyright file ...").
        for l in text.lines().map(str::trim) {
            let start = ["Copyright", "COPYRIGHT", "(C)", "(c)", "©"]
                .iter()
                .filter_map(|m| l.find(m))
                .min();
            let Some(start) = start else { continue };
            let notice = &l[start..];
            let after = notice
                .trim_start_matches(|c: char| c.is_alphabetic())
                .trim_start_matches(':');
            let looks = after.contains('©')
                || after.contains("(C)")
                || after.contains("(c)")
                || after.trim_start().starts_with(|c: char| c.is_ascii_digit())
                || notice.starts_with('©')
                || notice.starts_with("(C)");
            if looks && out.copyright.len() < 50 {
                let n = notice.to_owned();
                if !out.copyright.contains(&n) {
                    out.copyright.push(n);
                }
            }
        }
        return out;
    }
    let Ok(paras) = bulwark_debian::parse_paragraphs(text) else {
        return out;
    };
    let mut licenses: Vec<String> = Vec::new();
    for p in &paras {
        if p.get("Files").is_none() {
            continue;
        }
        if let Some(l) = p.get("License").and_then(expression)
            && !licenses.contains(&l)
        {
            licenses.push(l);
        }
        if let Some(c) = p.get("Copyright") {
            for line in c
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && *l != ".")
            {
                let line = line.to_owned();
                if !out.copyright.contains(&line) && out.copyright.len() < 50 {
                    out.copyright.push(line);
                }
            }
        }
    }
    if !licenses.is_empty() {
        out.license = Some(licenses.join(" AND "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep5() {
        let t = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 1991-2024 Free Software Foundation\n 2001 Someone\nLicense: GPL-2+\n\nFiles: lib/*\nCopyright: 2010 X\nLicense: LGPL-2.1+ or Expat\n\nLicense: GPL-2+\n long text\n";
        let d = parse_copyright(t);
        assert_eq!(
            d.license.as_deref(),
            Some("GPL-2.0-or-later AND (LGPL-2.1-or-later OR MIT)")
        );
        assert_eq!(
            d.copyright,
            [
                "1991-2024 Free Software Foundation",
                "2001 Someone",
                "2010 X"
            ]
        );
        assert_eq!(
            parse_copyright("This is free software.\nCopyright (C) 2000 Z\n").license,
            None
        );
        // Free-form files: the licences they point at.
        let glibc = "Copyright (C) 1991-2023 FSF\nsee /usr/share/common-licenses/LGPL-2.1.\n\
                     and /usr/share/common-licenses/GPL-2, also /usr/share/common-licenses/LGPL-2.1\n\
                     or /usr/share/common-licenses/GPL.";
        assert_eq!(
            parse_copyright(glibc).license.as_deref(),
            Some("LGPL-2.1-only AND GPL-2.0-only AND LicenseRef-GPL")
        );
        let python = "Copyright notice.\nA. HISTORY\n\nPYTHON SOFTWARE FOUNDATION LICENSE\n  VERSION 2\n--------\n1. This LICENSE AGREEMENT";
        assert_eq!(parse_copyright(python).license.as_deref(), Some("PSF-2.0"));
        assert_eq!(spdx_id("public-domain"), "LicenseRef-public-domain");
    }

    #[test]
    fn free_form_notices_inside_lines_and_not_prose() {
        let t = "Debian support files Copyright (C) 2006 Michael Vogt <mvo@example.org>\n\
                 The copyright and license statement for the FAQ:\n\
                 This is the traditional netcat,\n    Copyright: \u{a9} 1995-1996, Avian Research\n\
                 see the copyright file\n";
        let d = parse_copyright(t);
        assert_eq!(
            d.copyright,
            [
                "Copyright (C) 2006 Michael Vogt <mvo@example.org>",
                "Copyright: \u{a9} 1995-1996, Avian Research"
            ]
        );
        assert_eq!(d.license, None);
    }
}
