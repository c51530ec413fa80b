//! The examples built from the host's real Debian archive (network; CI).

use std::process::Command;

/// podman with the settings these hosts need (vfs, cgroupfs, runc).
pub fn podman() -> Command {
    let mut c = Command::new("podman");
    c.args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--runtime", "runc"]);
    c
}
