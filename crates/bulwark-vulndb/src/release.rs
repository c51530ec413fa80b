//! Debian releases: codenames and version numbers.

/// Debian releases the data may name, oldest first: (codename, major version).
pub const RELEASES: &[(&str, &str)] = &[
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

/// The codename of a Debian version (`12`, `12.7`) or codename.
#[must_use]
pub fn codename(version_or_codename: &str) -> Option<&'static str> {
    let v = version_or_codename.trim();
    if v == "sid" || v == "unstable" {
        return Some("sid");
    }
    let major = v.split('.').next().unwrap_or(v);
    RELEASES
        .iter()
        .find(|(c, n)| *c == v || *n == major)
        .map(|(c, _)| *c)
}

/// The major version of a codename (`bookworm` → `12`).
#[must_use]
pub fn version(codename: &str) -> Option<&'static str> {
    RELEASES
        .iter()
        .find(|(c, _)| *c == codename)
        .map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_codenames() {
        assert_eq!(codename("12"), Some("bookworm"));
        assert_eq!(codename("12.11"), Some("bookworm"));
        assert_eq!(codename("trixie"), Some("trixie"));
        assert_eq!(codename("unstable"), Some("sid"));
        assert_eq!(codename("7"), None);
        assert_eq!(version("bullseye"), Some("11"));
    }
}
