//! Debian package versions (deb-version(7), Debian Policy 5.6.12).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A parsed `[epoch:]upstream[-revision]` version.
///
/// Ordering follows dpkg exactly; equality is ordering-equality, so `1.0`
/// and `0:1.0-0` compare equal just as dpkg says they do.
#[derive(Clone, Debug)]
pub struct Version {
    raw: String,
    epoch: u32,
    upstream: (usize, usize),
    revision: Option<(usize, usize)>,
}

/// Why a version string was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VersionError {
    #[error("version is empty")]
    Empty,
    #[error("version '{0}' has an epoch that is not a number below 2^31")]
    BadEpoch(String),
    #[error("version '{0}' has an empty upstream part")]
    EmptyUpstream(String),
    #[error("version '{0}' has an empty revision after '-'")]
    EmptyRevision(String),
    #[error(
        "version '{version}' contains the character {ch:?}, which deb-version(7) does not allow"
    )]
    BadChar { version: String, ch: char },
}

impl Version {
    /// The string as written (epoch kept).
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
    pub fn upstream(&self) -> &str {
        &self.raw[self.upstream.0..self.upstream.1]
    }
    pub fn revision(&self) -> Option<&str> {
        self.revision.map(|(a, b)| &self.raw[a..b])
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let raw = s.trim();
        if raw.is_empty() {
            return Err(VersionError::Empty);
        }
        if let Some(ch) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '~' | ':')))
        {
            return Err(VersionError::BadChar {
                version: raw.to_owned(),
                ch,
            });
        }
        let (epoch, rest_start) = match raw.find(':') {
            Some(i) => {
                let e = &raw[..i];
                let epoch = if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    None
                } else {
                    e.parse::<u32>().ok().filter(|v| *v <= i32::MAX as u32)
                };
                (
                    epoch.ok_or_else(|| VersionError::BadEpoch(raw.to_owned()))?,
                    i + 1,
                )
            }
            None => (0, 0),
        };
        let rest = &raw[rest_start..];
        let (upstream, revision) = match rest.rfind('-') {
            Some(i) => {
                if i + 1 == rest.len() {
                    return Err(VersionError::EmptyRevision(raw.to_owned()));
                }
                (
                    (rest_start, rest_start + i),
                    Some((rest_start + i + 1, raw.len())),
                )
            }
            None => ((rest_start, raw.len()), None),
        };
        if upstream.0 == upstream.1 {
            return Err(VersionError::EmptyUpstream(raw.to_owned()));
        }
        if raw[upstream.0..upstream.1].contains(':') && rest_start == 0 {
            return Err(VersionError::BadEpoch(raw.to_owned()));
        }
        if let Some((a, b)) = revision
            && raw[a..b].contains(':')
        {
            return Err(VersionError::BadChar {
                version: raw.to_owned(),
                ch: ':',
            });
        }
        Ok(Version {
            raw: raw.to_owned(),
            epoch,
            upstream,
            revision,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream().as_bytes(), other.upstream().as_bytes()))
            .then_with(|| {
                verrevcmp(
                    self.revision().unwrap_or("").as_bytes(),
                    other.revision().unwrap_or("").as_bytes(),
                )
            })
    }
}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}

/// Compares two version strings the way `dpkg --compare-versions` does.
pub fn compare_versions(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(a.parse::<Version>()?.cmp(&b.parse::<Version>()?))
}

/// Weight of one non-digit character: `~` sorts before everything (even the
/// end of the string), letters before other characters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        // Non-digit run: compared character by character with `order`.
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // Digit run: numeric comparison without overflow (strip zeros, then
        // the longer run is larger, then the first differing digit decides).
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare_versions(a, b).unwrap()
    }

    #[test]
    fn policy_examples() {
        assert_eq!(cmp("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0-0"), Ordering::Equal);
        assert_eq!(cmp("1.0-1", "1.0-1~bpo1"), Ordering::Greater);
        assert_eq!(cmp("1:0.1", "9.9"), Ordering::Greater);
        assert_eq!(cmp("1.0a", "1.0+"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.00"), Ordering::Equal);
        assert_eq!(cmp("2.36-9+deb12u10", "2.36-9+deb12u9"), Ordering::Greater);
        assert_eq!(cmp("1.2.3-1-2", "1.2.3-1-10"), Ordering::Less);
        assert_eq!(cmp("~~", "~~a"), Ordering::Less);
        assert_eq!(cmp("1.0~", "1.0"), Ordering::Less);
    }

    #[test]
    fn huge_digit_runs_do_not_overflow() {
        assert_eq!(
            cmp("1.99999999999999999999999", "1.100000000000000000000000"),
            Ordering::Less
        );
        assert_eq!(cmp("000000000000000000000000001", "1"), Ordering::Equal);
    }

    #[test]
    fn parts() {
        let v: Version = "3:1.2-3-4".parse().unwrap();
        assert_eq!(
            (v.epoch(), v.upstream(), v.revision()),
            (3, "1.2-3", Some("4"))
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!("".parse::<Version>().is_err());
        assert!("a:1".parse::<Version>().is_err());
        assert!("1.0-".parse::<Version>().is_err());
        assert!("1 0".parse::<Version>().is_err());
        assert!("99999999999:1".parse::<Version>().is_err());
        assert!(":1".parse::<Version>().is_err());
    }
}
