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
        .map_or_else(|| format!("cap_{bit}"), |n| format!("cap_{n}"))
}

/// The capabilities in `raw` as `getcap` writes them
/// (`cap_net_admin,cap_net_raw=ep`); an attribute that is not a
/// `vfs_cap_data` is described as such, never dropped: the file still
/// carries something the kernel may act on.
#[must_use]
pub fn describe(raw: &[u8]) -> String {
    let magic = word(raw, 0);
    let (pairs, len) = match (magic >> 24, raw.len()) {
        (1, 12) => (1, 12),
        (2, 20) => (2, 20),
        (3, 24) => (2, 24),
        _ => {
            return format!(
                "a security.capability attribute bulwark cannot read ({} bytes)",
                raw.len()
            );
        }
    };
    let effective = magic & 1 == 1;
    let (mut permitted, mut inheritable) = (0u64, 0u64);
    for pair in 0..pairs {
        permitted |= word(raw, 1 + 2 * pair) << (32 * pair);
        inheritable |= word(raw, 2 + 2 * pair) << (32 * pair);
    }
    // Group the capabilities by their flags, as getcap does.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for bit in 0..64u32 {
        let (p, i) = (permitted >> bit & 1 == 1, inheritable >> bit & 1 == 1);
        if !p && !i {
            continue;
        }
        let flags = format!(
            "{}{}{}",
            if effective { "e" } else { "" },
            if i { "i" } else { "" },
            if p { "p" } else { "" }
        );
        match groups.iter_mut().find(|(f, _)| *f == flags) {
            Some((_, names)) => names.push(name(bit)),
            None => groups.push((flags, vec![name(bit)])),
        }
    }
    let mut text = if groups.is_empty() {
        "no capabilities (an empty security.capability attribute)".to_owned()
    } else {
        groups
            .iter()
            .map(|(flags, names)| format!("{}={flags}", names.join(",")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if len == 24 && word(raw, 5) != 0 {
        text.push_str(&format!(" [rootid={}]", word(raw, 5)));
    }
    text
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

    #[test]
    fn reads_what_setcap_writes() {
        // setcap cap_net_raw+ep (iputils ping in Debian).
        assert_eq!(describe(&v2(true, 1 << 13, 0)), "cap_net_raw=ep");
        assert_eq!(
            describe(&v2(true, 1 << 12 | 1 << 13, 0)),
            "cap_net_admin,cap_net_raw=ep"
        );
        // High word: cap_bpf is 39; inheritable-only is not effective-only.
        assert_eq!(
            describe(&v2(false, 1 << 39, 1 << 21)),
            "cap_sys_admin=i cap_bpf=p"
        );
        let mut v3 = v2(true, 1 << 10, 0);
        v3[3] = 3;
        v3.extend(1000u32.to_le_bytes());
        assert_eq!(describe(&v3), "cap_net_bind_service=ep [rootid=1000]");
        let v1 = [0x01, 0, 0, 0x01, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(describe(&v1), "cap_setuid=ep");
    }

    #[test]
    fn anything_else_is_named_not_dropped() {
        assert!(describe(b"").contains("cannot read (0 bytes)"));
        assert!(describe(&v2(true, 1 << 13, 0)[..19]).contains("cannot read (19 bytes)"));
        assert!(describe(&v2(true, 0, 0)).starts_with("no capabilities"));
        assert_eq!(describe(&v2(true, 1 << 50, 0)), "cap_50=ep");
    }
}
