//! File capabilities: the `security.capability` extended attribute a layer
//! tar carries for a file (PAX `SCHILY.xattr.security.capability`), read
//! as `getcap` shows it.
//!
//! The attribute is `struct vfs_cap_data` (linux/capability.h): a
//! little-endian `magic_etc` word (revision in the top byte, bit 0 the
//! effective flag), then permitted and inheritable words, one pair for
//! revision 1 and two (low, high) for revisions 2 and 3; revision 3 adds
//! the user-namespace root uid.

/// Capability names by number (linux/capability.h, up to Linux 6.x).
const NAMES: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

fn word(raw: &[u8], i: usize) -> u64 {
    raw.get(i * 4..i * 4 + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
}

fn name(bit: u32) -> String {
    NAMES
        .get(bit as usize)
        .map_or_else(|| bit.to_string(), |n| format!("cap_{n}"))
}

/// A file's capabilities.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileCaps {
    /// As `getcap` writes them (`cap_net_admin,cap_net_raw=ep`), or what
    /// the attribute is when it grants nothing.
    pub text: String,
    /// The attribute is one the kernel accepts and it grants at least one
    /// capability. An empty or malformed attribute grants nothing (the
    /// kernel refuses it when it is set), but it is still shown.
    pub grants: bool,
}

impl std::fmt::Display for FileCaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Reads a raw `security.capability` attribute.
#[must_use]
pub fn describe(raw: &[u8]) -> FileCaps {
    let magic = word(raw, 0);
    // Revision 1 has one pair of words, 2 and 3 two (3 adds the root uid).
    let pairs = match (magic >> 24, raw.len()) {
        (1, 12) => 1,
        (2, 20) | (3, 24) => 2,
        _ => {
            return FileCaps {
                text: format!(
                    "a security.capability attribute that is not one (revision {}, {} bytes)",
                    magic >> 24,
                    raw.len()
                ),
                grants: false,
            };
        }
    };
    // libcap's flag values: effective 1, inheritable 2, permitted 4.
    let effective = magic & 1;
    let (mut permitted, mut inheritable) = (0u64, 0u64);
    for pair in 0..pairs {
        permitted |= word(raw, 1 + 2 * pair) << (32 * pair);
        inheritable |= word(raw, 2 + 2 * pair) << (32 * pair);
    }
    let mut by_state: [Vec<String>; 8] = Default::default();
    for bit in 0..64u32 {
        let (p, i) = (permitted >> bit & 1, inheritable >> bit & 1);
        if p | i == 1 {
            by_state[(effective | i << 1 | p << 2) as usize].push(name(bit));
        }
    }
    let letters = |state: usize| -> String {
        [(1, 'e'), (2, 'i'), (4, 'p')]
            .iter()
            .filter(|(f, _)| state & f != 0)
            .map(|(_, c)| *c)
            .collect()
    };
    // As libcap's cap_to_text: the state most capabilities share first,
    // with `=` (ties go to the lower state), then the others, highest
    // state first, with `+`.
    let Some(base) = (1..8)
        .rev()
        .filter(|&s| !by_state[s].is_empty())
        .max_by_key(|&s| (by_state[s].len(), std::cmp::Reverse(s)))
    else {
        return FileCaps {
            text: "no capabilities (an empty security.capability attribute)".to_owned(),
            grants: false,
        };
    };
    let mut text = format!("{}={}", by_state[base].join(","), letters(base));
    for s in (1..8)
        .rev()
        .filter(|&s| s != base && !by_state[s].is_empty())
    {
        text.push_str(&format!(" {}+{}", by_state[s].join(","), letters(s)));
    }
    if raw.len() == 24 && word(raw, 5) != 0 {
        text.push_str(&format!(" [rootid={}]", word(raw, 5)));
    }
    FileCaps { text, grants: true }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(effective: bool, permitted: u64, inheritable: u64) -> Vec<u8> {
        let mut v = (0x0200_0000u32 | u32::from(effective))
            .to_le_bytes()
            .to_vec();
        for w in [
            permitted as u32,
            inheritable as u32,
            (permitted >> 32) as u32,
            (inheritable >> 32) as u32,
        ] {
            v.extend(w.to_le_bytes());
        }
        v
    }

    fn text(raw: &[u8]) -> String {
        describe(raw).text
    }

    #[test]
    fn reads_what_setcap_writes() {
        // setcap cap_net_raw+ep (iputils ping in Debian).
        assert_eq!(text(&v2(true, 1 << 13, 0)), "cap_net_raw=ep");
        assert_eq!(
            text(&v2(true, 1 << 12 | 1 << 13, 0)),
            "cap_net_admin,cap_net_raw=ep"
        );
        // High word: cap_bpf is 39; inheritable-only is not effective-only.
        assert_eq!(
            text(&v2(false, 1 << 39, 1 << 21)),
            "cap_sys_admin=i cap_bpf+p"
        );
        let mut v3 = v2(true, 1 << 10, 0);
        v3[3] = 3;
        v3.extend(1000u32.to_le_bytes());
        assert_eq!(text(&v3), "cap_net_bind_service=ep [rootid=1000]");
        let v1 = [0x01, 0, 0, 0x01, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(text(&v1), "cap_setuid=ep");
    }

    #[test]
    fn anything_else_is_named_not_dropped() {
        assert!(text(b"").contains("not one (revision 0, 0 bytes)"));
        assert!(text(&v2(true, 1 << 13, 0)[..19]).contains("(revision 2, 19 bytes)"));
        assert!(text(&v2(true, 0, 0)).starts_with("no capabilities"));
        for raw in [&b""[..], &v2(true, 1 << 13, 0)[..19], &v2(true, 0, 0)] {
            assert!(!describe(raw).grants);
        }
        assert!(describe(&v2(false, 0, 1)).grants);
        // Bits past the kernel's names are numbers, as libcap writes them.
        assert_eq!(text(&v2(true, 1 << 50, 0)), "50=ep");
        // The state most share takes `=`.
        assert_eq!(
            text(&v2(true, 1 << 12 | 1 << 13 | 1 << 1, 1 << 1)),
            "cap_net_admin,cap_net_raw=ep cap_dac_override+eip"
        );
    }
}
