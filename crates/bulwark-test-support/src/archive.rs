//! A small but realistic Debian-like archive for end-to-end tests.

use std::path::{Path, PathBuf};

use crate::{DebBuilder, HttpServer, Repo, TestKey};

/// A served archive with `bookworm` and `bookworm-security` suites.
#[derive(Debug)]
pub struct MiniArchive {
    pub root: PathBuf,
    pub keyring: PathBuf,
    pub server: HttpServer,
    pub key: TestKey,
}

/// The packages of the mini archive for one architecture.
pub fn mini_packages(arch: &str) -> Vec<DebBuilder> {
    let triplet = if arch == "arm64" {
        "aarch64-linux-gnu"
    } else {
        "x86_64-linux-gnu"
    };
    let mut libc = DebBuilder::new("libc6", "2.36-9+deb12u4", arch)
        .field("Source", "glibc")
        .field("Multi-Arch", "same")
        .file(&format!("lib/{triplet}/libc.so.6"), format!("libc for {arch}").as_bytes(), 0o755)
        .file("usr/share/doc/libc6/copyright", b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: LGPL-2.1\n", 0o644)
        .file("usr/share/doc/libc6/changelog.Debian.gz", b"gz", 0o644)
        .file("usr/share/man/man7/libc.7.gz", b"man", 0o644)
        .file("usr/share/locale/de/LC_MESSAGES/libc.mo", b"mo", 0o644);
    if arch == "amd64" {
        libc = libc.file("lib64/ld-linux-x86-64.so.2", b"ld.so", 0o755);
    }
    vec![
        DebBuilder::new("base-files", "12.4+deb12u5", arch)
            .field("Essential", "yes")
            .field("Priority", "required")
            .pre_depends("awk")
            .file("usr/lib/os-release", b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n", 0o644)
            .symlink("etc/os-release", "../usr/lib/os-release")
            .file("etc/debian_version", b"12.5\n", 0o644)
            .dir("var/local", 0o2775)
            .dir("var/tmp", 0o1777),
        DebBuilder::new("mawk", "1.3.4.20200120-3.1", arch).field("Provides", "awk").file("usr/bin/mawk", b"mawk", 0o755),
        libc,
        DebBuilder::new("hello", "2.10-3", arch)
            .depends("libc6 (>= 2.34)")
            .file("usr/bin/hello", b"\x7fELF hello", 0o4755)
            .hardlink("usr/bin/hello-again", "usr/bin/hello")
            .file("usr/share/doc/hello/copyright", b"License: GPL-3+\n", 0o644),
        DebBuilder::new("ca-certificates", "20230311", "all")
            .depends("openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0")
            .file("usr/share/ca-certificates/mozilla/A_Root.crt", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0o644)
            .file("usr/share/ca-certificates/mozilla/B_Root.crt", b"-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----", 0o644),
        DebBuilder::new("openssl", "3.0.11-1~deb12u2", arch).depends("libc6").file("usr/bin/openssl", b"openssl", 0o755),
        DebBuilder::new("debconf", "1.5.82", "all").depends("perl-base").provides("debconf-2.0"),
        DebBuilder::new("perl-base", "5.36.0-7", arch).file("usr/bin/perl", b"perl", 0o755),
        DebBuilder::new("bash", "5.2.15-2", arch).depends("libc6").file("bin/bash", b"bash", 0o755).symlink("bin/sh", "bash"),
        DebBuilder::new("webapp", "1.0", arch).depends("libc6, hello").pre_depends("bash"),
        DebBuilder::new("broken", "1.0", arch).depends("hello (>= 3.0)"),
    ]
}

impl MiniArchive {
    /// Writes and serves the archive under `root`.
    pub fn new(root: &Path) -> Self {
        let key = TestKey::generate("bulwark mini archive");
        let mut main = Repo::new("bookworm");
        for arch in ["amd64", "arm64"] {
            for p in mini_packages(arch) {
                if p.arch == "all" && arch == "arm64" {
                    continue;
                }
                main.add(p);
            }
        }
        main.write(root, &key);
        // The security suite carries a newer hello.
        let mut sec = Repo::new("bookworm-security");
        for arch in ["amd64", "arm64"] {
            sec.add(
                DebBuilder::new("hello", "2.10-3+deb12u1", arch)
                    .depends("libc6 (>= 2.34)")
                    .file("usr/bin/hello", b"\x7fELF hello fixed", 0o4755)
                    .hardlink("usr/bin/hello-again", "usr/bin/hello")
                    .file("usr/share/doc/hello/copyright", b"License: GPL-3+\n", 0o644),
            );
        }
        sec.write(root, &key);
        let keyring = root.join("archive-keyring.gpg");
        std::fs::write(&keyring, key.keyring_bytes()).unwrap();
        let server = HttpServer::serve(root);
        MiniArchive {
            root: root.to_path_buf(),
            keyring,
            server,
            key,
        }
    }

    /// The `distribution:` block of a spec for this archive.
    pub fn distribution_yaml(&self) -> String {
        format!(
            "distribution:\n  suite: bookworm\n  updates: false\n  mirror: {url}\n  security-mirror: {url}\n  keyring: {}\n",
            self.keyring.display(),
            url = self.server.url
        )
    }
}
