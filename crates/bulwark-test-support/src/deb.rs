//! Synthetic Debian packages.

use std::io::Write;

use crate::FIXTURE_MTIME;

/// A tar entry written byte-for-byte, bypassing the `tar` crate's path checks,
/// so that tests can build hostile archives.
#[derive(Clone, Debug)]
pub struct RawEntry {
    pub name: Vec<u8>,
    pub kind: RawKind,
    pub mode: u32,
}

/// Kinds of [`RawEntry`].
#[derive(Clone, Debug)]
pub enum RawKind {
    Dir,
    File(Vec<u8>),
    Symlink(Vec<u8>),
    Hardlink(Vec<u8>),
    CharDevice,
    Fifo,
    /// A header that claims `size` bytes but carries none.
    ClaimsSize(u64),
}

/// Builds a `.deb` in memory.
#[derive(Clone, Debug)]
pub struct DebBuilder {
    pub name: String,
    pub version: String,
    pub arch: String,
    fields: Vec<(String, String)>,
    entries: Vec<RawEntry>,
    compression: &'static str,
    debian_binary: String,
    extra_control_files: Vec<(String, Vec<u8>)>,
}

impl DebBuilder {
    pub fn new(name: &str, version: &str, arch: &str) -> Self {
        DebBuilder {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            fields: Vec::new(),
            entries: Vec::new(),
            compression: "xz",
            debian_binary: "2.0\n".into(),
            extra_control_files: Vec::new(),
        }
    }
    /// Adds or replaces a control field (`Depends`, `Provides`, `Source`, ...).
    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.fields.retain(|(n, _)| n != name);
        self.fields.push((name.into(), value.into()));
        self
    }
    pub fn depends(self, v: &str) -> Self {
        self.field("Depends", v)
    }
    pub fn pre_depends(self, v: &str) -> Self {
        self.field("Pre-Depends", v)
    }
    pub fn provides(self, v: &str) -> Self {
        self.field("Provides", v)
    }
    /// `xz` (default), `gz`, `zst` or `none`.
    pub fn compression(mut self, c: &'static str) -> Self {
        self.compression = c;
        self
    }
    pub fn debian_binary(mut self, v: &str) -> Self {
        self.debian_binary = v.into();
        self
    }
    pub fn control_file(mut self, name: &str, data: &[u8]) -> Self {
        self.extra_control_files.push((name.into(), data.to_vec()));
        self
    }
    /// A regular file; parent directories are added automatically.
    pub fn file(self, path: &str, data: &[u8], mode: u32) -> Self {
        self.with_parents(path).raw(RawEntry {
            name: format!("./{path}").into_bytes(),
            kind: RawKind::File(data.to_vec()),
            mode,
        })
    }
    pub fn dir(self, path: &str, mode: u32) -> Self {
        self.with_parents(path).raw(RawEntry {
            name: format!("./{path}/").into_bytes(),
            kind: RawKind::Dir,
            mode,
        })
    }
    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.with_parents(path).raw(RawEntry {
            name: format!("./{path}").into_bytes(),
            kind: RawKind::Symlink(target.as_bytes().to_vec()),
            mode: 0o777,
        })
    }
    pub fn hardlink(self, path: &str, target: &str) -> Self {
        self.with_parents(path).raw(RawEntry {
            name: format!("./{path}").into_bytes(),
            kind: RawKind::Hardlink(format!("./{target}").into_bytes()),
            mode: 0o644,
        })
    }
    pub fn raw(mut self, e: RawEntry) -> Self {
        self.entries.push(e);
        self
    }
    fn with_parents(mut self, path: &str) -> Self {
        let parts: Vec<&str> = path.split('/').collect();
        for i in 1..parts.len() {
            let dir = format!("./{}/", parts[..i].join("/"));
            if !self.entries.iter().any(|e| e.name == dir.as_bytes()) {
                self.entries.push(RawEntry {
                    name: dir.into_bytes(),
                    kind: RawKind::Dir,
                    mode: 0o755,
                });
            }
        }
        self
    }

    /// The control file text.
    pub fn control_text(&self) -> String {
        let mut s = format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: Test <test@example.org>\n",
            self.name, self.version, self.arch
        );
        for (n, v) in &self.fields {
            s.push_str(&format!("{n}: {v}\n"));
        }
        if !self.fields.iter().any(|(n, _)| n == "Description") {
            s.push_str(&format!("Description: synthetic package {}\n", self.name));
        }
        s
    }

    /// The .deb bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut control_entries = vec![
            RawEntry {
                name: b"./".to_vec(),
                kind: RawKind::Dir,
                mode: 0o755,
            },
            RawEntry {
                name: b"./control".to_vec(),
                kind: RawKind::File(self.control_text().into_bytes()),
                mode: 0o644,
            },
        ];
        let mut md5 = String::new();
        for e in &self.entries {
            if let RawKind::File(d) = &e.kind {
                use md5::Digest;
                let n = String::from_utf8_lossy(&e.name);
                md5.push_str(&format!(
                    "{}  {}\n",
                    hex::encode(md5::Md5::digest(d)),
                    n.trim_start_matches("./")
                ));
            }
        }
        control_entries.push(RawEntry {
            name: b"./md5sums".to_vec(),
            kind: RawKind::File(md5.into_bytes()),
            mode: 0o644,
        });
        for (n, d) in &self.extra_control_files {
            control_entries.push(RawEntry {
                name: format!("./{n}").into_bytes(),
                kind: RawKind::File(d.clone()),
                mode: 0o644,
            });
        }
        let mut data_entries = vec![RawEntry {
            name: b"./".to_vec(),
            kind: RawKind::Dir,
            mode: 0o755,
        }];
        data_entries.extend(self.entries.iter().cloned());

        let control_tar = compress("xz", &raw_tar(&control_entries));
        let data_tar = compress(self.compression, &raw_tar(&data_entries));
        let ext = |c: &str| match c {
            "none" => String::new(),
            c => format!(".{c}"),
        };
        ar_archive(&[
            ("debian-binary", self.debian_binary.as_bytes()),
            (&format!("control.tar{}", ext("xz")), &control_tar),
            (&format!("data.tar{}", ext(self.compression)), &data_tar),
        ])
    }
}

/// A tar archive of raw entries (ustar headers filled by hand).
pub fn raw_tar(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (typ, data, size): (tar::EntryType, &[u8], u64) = match &e.kind {
            RawKind::Dir => (tar::EntryType::Directory, &[], 0),
            RawKind::File(d) => (tar::EntryType::Regular, d, d.len() as u64),
            RawKind::Symlink(_) => (tar::EntryType::Symlink, &[], 0),
            RawKind::Hardlink(_) => (tar::EntryType::Link, &[], 0),
            RawKind::CharDevice => (tar::EntryType::Char, &[], 0),
            RawKind::Fifo => (tar::EntryType::Fifo, &[], 0),
            RawKind::ClaimsSize(n) => (tar::EntryType::Regular, &[], *n),
        };
        h.set_entry_type(typ);
        h.set_size(size);
        h.set_mode(e.mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(FIXTURE_MTIME);
        {
            let old = h.as_old_mut();
            let n = e.name.len().min(99);
            old.name[..n].copy_from_slice(&e.name[..n]);
            if let RawKind::Symlink(t) | RawKind::Hardlink(t) = &e.kind {
                let n = t.len().min(99);
                old.linkname[..n].copy_from_slice(&t[..n]);
            }
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

/// Compresses with `xz`, `gz`, `zst` or `none`.
pub fn compress(kind: &str, data: &[u8]) -> Vec<u8> {
    match kind {
        "none" => data.to_vec(),
        "gz" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "zst" => zstd::encode_all(data, 3).unwrap(),
        other => panic!("unknown compression {other}"),
    }
}

/// A BSD/GNU-compatible `ar` archive as dpkg-deb writes it.
pub fn ar_archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let header = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            name,
            FIXTURE_MTIME,
            0,
            0,
            "100644",
            data.len()
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}
