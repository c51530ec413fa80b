//! The members of a zip archive (OSV publishes each ecosystem as `all.zip`),
//! read from memory through the central directory, with zip64 and every
//! offset and size checked: stored and deflated members only.

use std::io::Read;

use crate::Error;
use crate::error::feed_err;

/// Largest member (one OSV record is a few KiB).
const MAX_MEMBER: u64 = 16 << 20;
/// Most members.
const MAX_MEMBERS: u64 = 2_000_000;

fn u16_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 2)
        .map(|s| u64::from(u16::from_le_bytes([s[0], s[1]])))
}

fn u32_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(|s| u64::from(u32::from_le_bytes(s)))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
}

/// Whether `data` starts like a zip archive.
#[must_use]
pub fn is_zip(data: &[u8]) -> bool {
    data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06")
}

/// Calls `each(name, bytes)` for every member whose name ends with
/// `suffix`, in central-directory order.
///
/// # Errors
/// A damaged archive, a member past the bounds, an unsupported method, or
/// an error from `each`.
pub fn members(
    feed: &str,
    data: &[u8],
    suffix: &str,
    each: impl FnMut(&str, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    members_within(feed, data, suffix, crate::MAX_FEED, each)
}

/// [`members`] with the bound on all members' bytes given.
fn members_within(
    feed: &str,
    data: &[u8],
    suffix: &str,
    total: u64,
    mut each: impl FnMut(&str, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let bad = |at: String, what: &str| feed_err(feed, at, format!("damaged zip: {what}"));
    // End of central directory: the last `PK\5\6` within 64 KiB + 22 bytes.
    let from = data.len().saturating_sub(65_557);
    let eocd = (from..data.len().saturating_sub(21))
        .rev()
        .find(|&i| data[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(|| bad("end".into(), "no end of central directory"))?;
    let (mut count, mut cd_size, mut cd_off) = (
        u16_at(data, eocd + 10).unwrap_or(0),
        u32_at(data, eocd + 12).unwrap_or(0),
        u32_at(data, eocd + 16).unwrap_or(0),
    );
    if count == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_off == 0xFFFF_FFFF {
        // zip64: the locator just before the record points at the zip64 record.
        let loc = eocd
            .checked_sub(20)
            .filter(|&l| data[l..].starts_with(b"PK\x06\x07"))
            .ok_or_else(|| bad(format!("byte {eocd}"), "zip64 locator missing"))?;
        let rec = usize::try_from(u64_at(data, loc + 8).unwrap_or(u64::MAX))
            .ok()
            .filter(|&r| data.get(r..).is_some_and(|s| s.starts_with(b"PK\x06\x06")))
            .ok_or_else(|| bad(format!("byte {loc}"), "zip64 record missing"))?;
        count = u64_at(data, rec + 32).unwrap_or(0);
        cd_size = u64_at(data, rec + 40).unwrap_or(0);
        cd_off = u64_at(data, rec + 48).unwrap_or(u64::MAX);
    }
    if count > MAX_MEMBERS {
        return Err(feed_err(
            feed,
            "central directory",
            format!("more than {MAX_MEMBERS} members"),
        ));
    }
    let cd_start = usize::try_from(cd_off).unwrap_or(usize::MAX);
    let cd_end = cd_start
        .checked_add(usize::try_from(cd_size).unwrap_or(usize::MAX))
        .filter(|&e| e <= data.len())
        .ok_or_else(|| bad("central directory".into(), "outside the file"))?;
    // The archive is one feed: its members inflate to MAX_FEED in all.
    let mut inflated = bulwark_limits::Budget::new(total, "inflated zip members");
    let mut at = cd_start;
    for n in 0..count {
        let pos = || format!("member {}", n + 1);
        if at + 46 > cd_end || !data[at..].starts_with(b"PK\x01\x02") {
            return Err(bad(pos(), "bad central directory entry"));
        }
        let method = u16_at(data, at + 10).unwrap_or(u64::MAX);
        let csize = u32_at(data, at + 20).unwrap_or(0);
        let usize_ = u32_at(data, at + 24).unwrap_or(0);
        let name_len = usize::try_from(u16_at(data, at + 28).unwrap_or(0)).unwrap_or(0);
        let extra_len = usize::try_from(u16_at(data, at + 30).unwrap_or(0)).unwrap_or(0);
        let comment_len = usize::try_from(u16_at(data, at + 32).unwrap_or(0)).unwrap_or(0);
        let local = u32_at(data, at + 42).unwrap_or(0);
        let name_bytes = data
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| bad(pos(), "name outside the directory"))?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if !name.ends_with(suffix) {
            continue;
        }
        if csize == 0xFFFF_FFFF || usize_ == 0xFFFF_FFFF || local == 0xFFFF_FFFF {
            return Err(feed_err(
                feed,
                &name,
                "a member too large for a vulnerability record",
            ));
        }
        if usize_ > MAX_MEMBER {
            return Err(feed_err(
                feed,
                &name,
                format!(
                    "larger than the {} MiB allowed for a record",
                    MAX_MEMBER >> 20
                ),
            ));
        }
        // Stored members are copied (csize), deflated ones checked against
        // usize_: either way no more than this is read per member, so
        // members sharing one region cannot multiply the work.
        inflated
            .take(usize_.max(csize))
            .map_err(|why| feed_err(feed, &name, why))?;
        let l = usize::try_from(local).unwrap_or(usize::MAX);
        if !data.get(l..).is_some_and(|s| s.starts_with(b"PK\x03\x04")) {
            return Err(bad(name.clone(), "bad local header"));
        }
        let lname = usize::try_from(u16_at(data, l + 26).unwrap_or(0)).unwrap_or(0);
        let lextra = usize::try_from(u16_at(data, l + 28).unwrap_or(0)).unwrap_or(0);
        let start = l + 30 + lname + lextra;
        let raw = data
            .get(start..start.saturating_add(usize::try_from(csize).unwrap_or(usize::MAX)))
            .ok_or_else(|| bad(name.clone(), "data outside the file"))?;
        let bytes = match method {
            0 => raw.to_vec(),
            8 => {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(raw)
                    .take(MAX_MEMBER + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| feed_err(feed, &name, format!("corrupt deflate data: {e}")))?;
                if out.len() as u64 != usize_ {
                    return Err(bad(name.clone(), "size differs from the directory's"));
                }
                out
            }
            m => {
                return Err(feed_err(
                    feed,
                    &name,
                    format!("compression method {m} is not supported (stored and deflate are)"),
                ));
            }
        };
        each(&name, &bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One stored member and `refs` central-directory entries all pointing
    /// at it: the work a hostile archive can ask for.
    fn overlapping(data: &[u8], refs: u16) -> Vec<u8> {
        let name = b"r.json";
        let len = u32::try_from(data.len()).unwrap();
        let mut z = Vec::new();
        z.extend_from_slice(b"PK\x03\x04");
        z.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&[0, 0]);
        z.extend_from_slice(name);
        z.extend_from_slice(data);
        let cd = z.len() as u32;
        for _ in 0..refs {
            z.extend_from_slice(b"PK\x01\x02");
            z.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            z.extend_from_slice(&len.to_le_bytes());
            z.extend_from_slice(&len.to_le_bytes());
            z.extend_from_slice(&(name.len() as u16).to_le_bytes());
            z.extend_from_slice(&[0; 12]);
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(name);
        }
        let cd_size = z.len() as u32 - cd;
        z.extend_from_slice(b"PK\x05\x06");
        z.extend_from_slice(&[0, 0, 0, 0]);
        z.extend_from_slice(&refs.to_le_bytes());
        z.extend_from_slice(&refs.to_le_bytes());
        z.extend_from_slice(&cd_size.to_le_bytes());
        z.extend_from_slice(&cd.to_le_bytes());
        z.extend_from_slice(&[0, 0]);
        z
    }

    #[test]
    fn members_sharing_one_region_count_against_the_total() {
        let z = overlapping(&[b'x'; 40], 3);
        let mut seen = 0;
        members_within("t", &z, ".json", 1000, |_, b| {
            seen += b.len();
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, 120);
        let err = members_within("t", &z, ".json", 100, |_, _| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("inflated zip members"), "{err}");
        // Cut anywhere: an error, never a panic.
        for cut in 0..z.len() {
            let _ = members("t", &z[..cut], ".json", |_, _| Ok(()));
        }
    }
}
