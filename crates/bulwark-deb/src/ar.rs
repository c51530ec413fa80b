//! The `ar` container of a `.deb` (deb(5)), read from memory without
//! trusting it: `!<arch>\n`, then members of a 60-byte header (name, mtime,
//! uid, gid, mode, decimal size, `` `\n ``) and their data, padded to an
//! even offset. dpkg writes short member names only (`debian-binary`,
//! `control.tar.*`, `data.tar.*`), so GNU and BSD long-name tables are not
//! read: such a member is an error, not an allocation sized by the input.
//! (The `ar` crate panicked on a fuzzed index into its name table and
//! allocated a table as large as a header claimed.)

/// One member: its name (trailing `/` and spaces removed) and its bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Member<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

const MAGIC: &[u8] = b"!<arch>\n";
const HEADER: usize = 60;

/// The members of `bytes`, in order.
///
/// # Errors
/// Not an ar archive, a malformed header, a name that is not plain ASCII,
/// or a member that claims more bytes than there are.
pub(crate) fn members(bytes: &[u8]) -> Result<Vec<Member<'_>>, String> {
    let mut rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| "not an ar archive (no '!<arch>' magic)".to_owned())?;
    let mut out = Vec::new();
    let mut offset = MAGIC.len();
    while !rest.is_empty() {
        if rest.len() < HEADER {
            return Err(format!(
                "truncated member header at byte {offset} ({} of {HEADER} bytes)",
                rest.len()
            ));
        }
        let (h, after) = rest.split_at(HEADER);
        if &h[58..60] != b"`\n" {
            return Err(format!(
                "bad member header at byte {offset} (no '`\\n' terminator)"
            ));
        }
        let name = std::str::from_utf8(&h[..16])
            .ok()
            .filter(|n| n.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
            .ok_or_else(|| format!("member name at byte {offset} is not plain ASCII"))?
            .trim_end_matches(' ')
            .trim_end_matches('/');
        if name.is_empty() || name.starts_with('/') || name.starts_with("#1/") {
            return Err(format!(
                "member at byte {offset} uses an extended name table, which .deb files never need"
            ));
        }
        let size: usize = std::str::from_utf8(&h[48..58])
            .ok()
            .map(str::trim_end)
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("member {name:?} has no decimal size"))?;
        if size > after.len() {
            return Err(format!(
                "member {name:?} is truncated: header says {size} bytes, found {}",
                after.len()
            ));
        }
        out.push(Member {
            name,
            data: &after[..size],
        });
        // Data is padded to an even offset with '\n'.
        let padded = (size + (size & 1)).min(after.len());
        rest = &after[padded..];
        offset += HEADER + padded;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn member(name: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            "100644",
            data.len()
        )
        .into_bytes();
        h.extend(data);
        if data.len() % 2 == 1 {
            h.push(b'\n');
        }
        h
    }

    #[test]
    fn reads_what_dpkg_deb_writes_and_refuses_the_rest() {
        let mut a = MAGIC.to_vec();
        a.extend(member("debian-binary", b"2.0\n"));
        a.extend(member("control.tar.xz/", b"abc"));
        a.extend(member("data.tar.xz", b""));
        let m = members(&a).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[1],
            Member {
                name: "control.tar.xz",
                data: b"abc"
            }
        );
        assert_eq!(m[2].data, b"");

        assert!(members(b"garbage").unwrap_err().contains("magic"));
        let mut t = MAGIC.to_vec();
        t.extend(&member("data.tar.xz", b"abcdef")[..64]);
        assert!(members(&t).unwrap_err().contains("truncated"));
        let mut g = MAGIC.to_vec();
        g.extend(member("//", b"x"));
        assert!(members(&g).unwrap_err().contains("extended name"));
        let mut g = MAGIC.to_vec();
        g.extend(member("/4000000", b"x"));
        assert!(members(&g).unwrap_err().contains("extended name"));
    }

    #[test]
    fn regression_a_fuzzed_gnu_name_index_is_an_error() {
        // The member header the deb_reader fuzz target found: a GNU name
        // index of 4000000 into an empty name table made the ar crate panic.
        let mut a = MAGIC.to_vec();
        a.extend(b"/4000000        0           0     0     100644  4         `\n2.0\n");
        assert!(members(&a).is_err());
    }
}
