//! Path rules for archive entries.

/// Normalises a tar entry name to a relative path without `.` components
/// (`./usr/bin/x` → `usr/bin/x`; `./` → ``). Returns `None` for names that
/// are absolute, contain `..`, NUL, or are empty after normalisation of a
/// non-root entry.
pub fn normalize_entry_path(name: &str) -> Option<String> {
    if name.starts_with('/') || name.contains('\0') {
        return None;
    }
    let mut parts = Vec::new();
    for comp in name.split('/') {
        match comp {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Resolves a symlink target against the directory holding the link and
/// returns the image-root-relative path it points to, or `None` when a
/// relative target climbs above the root. Absolute targets are resolved from
/// the image root (that is what they mean inside a container).
pub fn resolve_link_target(link_path: &str, target: &str) -> Option<String> {
    if target.is_empty() || target.contains('\0') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    if !target.starts_with('/') {
        parts.extend(link_path.split('/').filter(|c| !c.is_empty()));
        parts.pop(); // the link's own name
    }
    for comp in target.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if target.starts_with('/') {
                    // `/..` is `/` in the kernel; harmless, but keep the walk bounded.
                    parts.pop();
                } else {
                    parts.pop()?;
                }
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(
            normalize_entry_path("./usr/bin/x").as_deref(),
            Some("usr/bin/x")
        );
        assert_eq!(normalize_entry_path("./").as_deref(), Some(""));
        assert_eq!(
            normalize_entry_path("usr//lib/./x/").as_deref(),
            Some("usr/lib/x")
        );
        assert_eq!(normalize_entry_path("/etc/passwd"), None);
        assert_eq!(normalize_entry_path("./usr/../../etc"), None);
        assert_eq!(normalize_entry_path("a/..").as_deref(), None);
    }

    #[test]
    fn link_targets() {
        assert_eq!(
            resolve_link_target("usr/bin/python3", "python3.11").as_deref(),
            Some("usr/bin/python3.11")
        );
        assert_eq!(
            resolve_link_target("etc/localtime", "/usr/share/zoneinfo/UTC").as_deref(),
            Some("usr/share/zoneinfo/UTC")
        );
        assert_eq!(
            resolve_link_target("usr/lib/a", "../../etc/x").as_deref(),
            Some("etc/x")
        );
        assert_eq!(resolve_link_target("usr/lib/a", "../../../etc/x"), None);
        assert_eq!(resolve_link_target("x", ""), None);
    }
}
