//! The image spec.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A spec that cannot be used. Messages carry file, line and column.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    Read(#[from] bulwark_limits::LimitError),
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}{}: {field}: {message}", at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Invalid {
        origin: String,
        /// Line and column of the offending value, when known.
        at: Option<(u64, u64)>,
        field: String,
        message: String,
    },
}

/// An image spec. See `docs/spec.md`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Spec {
    /// Image name (used in annotations and reports).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub distribution: Distribution,
    /// Debian architectures; several give an OCI index.
    #[serde(default = "default_archs")]
    pub archs: Vec<String>,
    /// Packages to install (closure computed); `name` or `name=version`.
    pub packages: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<Exclusion>,
    /// High-risk packages (shells, package managers, ...) allowed on purpose.
    #[serde(default)]
    pub allow: Vec<Exclusion>,
    #[serde(default)]
    pub paths: PathFilters,
    #[serde(default)]
    pub files: Vec<LocalFile>,
    #[serde(default)]
    pub accounts: Accounts,
    #[serde(default)]
    pub config: ImageConfig,
    #[serde(default)]
    pub hardening: Hardening,
    #[serde(default)]
    pub output: OutputOptions,
    #[serde(default)]
    pub sbom: SbomInfo,
}

fn default_archs() -> Vec<String> {
    vec!["amd64".into()]
}

/// Where packages come from.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Distribution {
    /// Debian codename (`bookworm`, `trixie`, ...).
    #[serde(default = "default_suite")]
    pub suite: String,
    /// Also use `<suite>-updates`.
    #[serde(default = "yes")]
    pub updates: bool,
    /// Also use `<suite>-security` (from the security archive).
    #[serde(default = "yes")]
    pub security: bool,
    #[serde(default = "default_components")]
    pub components: Vec<String>,
    /// Archive URI; default: the host's apt sources.
    #[serde(default)]
    pub mirror: Option<String>,
    /// Security archive URI; default: the host's apt sources.
    #[serde(default)]
    pub security_mirror: Option<String>,
    /// Keyring file (binary or armored); default: the host's `Signed-By`.
    #[serde(default)]
    pub keyring: Option<String>,
    /// Reject Release files past their `Valid-Until`.
    #[serde(default = "yes")]
    pub check_valid_until: bool,
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution {
            suite: default_suite(),
            updates: true,
            security: true,
            components: default_components(),
            mirror: None,
            security_mirror: None,
            keyring: None,
            check_valid_until: true,
        }
    }
}

fn default_suite() -> String {
    "bookworm".into()
}
fn default_components() -> Vec<String> {
    vec!["main".into()]
}
fn yes() -> bool {
    true
}

/// A package named with a reason.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub package: String,
    pub reason: String,
}

/// Which package paths end up in the image.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PathFilters {
    /// Drop `/usr/share/doc` (copyright files are kept).
    #[serde(default = "yes")]
    pub drop_docs: bool,
    /// Drop man and info pages.
    #[serde(default = "yes")]
    pub drop_man: bool,
    /// Drop `/usr/share/locale` translations.
    #[serde(default = "yes")]
    pub drop_locales: bool,
    /// Extra glob patterns to drop (`*` within a component, `**` across).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Patterns kept even when a rule above drops them.
    #[serde(default)]
    pub keep: Vec<String>,
}

impl Default for PathFilters {
    fn default() -> Self {
        PathFilters {
            drop_docs: true,
            drop_man: true,
            drop_locales: true,
            exclude: vec![],
            keep: vec![],
        }
    }
}

/// A local file or directory copied into the application layer.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LocalFile {
    /// Path relative to the spec file.
    pub src: String,
    /// Absolute destination in the image.
    pub dest: String,
    /// `uid:gid` (numbers) or an account name; default `0:0`.
    #[serde(default)]
    pub owner: Option<String>,
    /// File mode (octal digits, e.g. `"0644"` or `644`); default keeps the
    /// executable bit only (0755/0644).
    #[serde(default)]
    pub mode: Option<Mode>,
}

/// Octal permission bits.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(into = "String")]
pub struct Mode(pub u32);

impl From<Mode> for String {
    fn from(m: Mode) -> String {
        format!("{:04o}", m.0)
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = number_or_string(d)?;
        let digits = s.trim().trim_start_matches("0o");
        let v = u32::from_str_radix(digits, 8)
            .ok()
            .filter(|v| *v <= 0o7777)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "mode {s:?} is not octal permission bits like \"0644\""
                ))
            })?;
        Ok(Mode(v))
    }
}

/// Users, groups and the user the image runs as.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Accounts {
    /// Account name or numeric uid; `root`/`0` needs `hardening.allow-root: true`.
    #[serde(default = "default_run_as")]
    pub run_as: String,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub groups: Vec<Group>,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            run_as: default_run_as(),
            users: vec![],
            groups: vec![],
        }
    }
}

fn default_run_as() -> String {
    "nonroot".into()
}

/// An extra user (added to the distroless defaults root, nobody, nonroot).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct User {
    pub name: String,
    pub uid: u32,
    #[serde(default)]
    pub gid: Option<u32>,
    #[serde(default)]
    pub home: Option<String>,
}

/// An extra group.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Group {
    pub name: String,
    pub gid: u32,
    #[serde(default)]
    pub members: Vec<String>,
}

/// The OCI image config.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ImageConfig {
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub workdir: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// `8080`, `8080/tcp` or `53/udp`.
    #[serde(default)]
    pub exposed_ports: Vec<Port>,
    #[serde(default)]
    pub stop_signal: Option<String>,
}

/// A YAML scalar written either as a number (`644`, `8080`) or a string
/// (`"0644"`, `"53/udp"`), as text.
fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(u64),
        S(String),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::N(n) => n.to_string(),
        Raw::S(s) => s,
    })
}

/// An exposed port.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(into = "String")]
pub struct Port {
    pub number: u16,
    pub protocol: String,
}

impl From<Port> for String {
    fn from(p: Port) -> String {
        format!("{}/{}", p.number, p.protocol)
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = number_or_string(d)?;
        let (num, proto) = s.split_once('/').unwrap_or((s.as_str(), "tcp"));
        let number: u16 = num.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            serde::de::Error::custom(format!("port {s:?} is not a number between 1 and 65535"))
        })?;
        let protocol = proto.trim().to_ascii_lowercase();
        if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
            return Err(serde::de::Error::custom(format!(
                "port {s:?}: protocol must be tcp, udp or sctp"
            )));
        }
        Ok(Port { number, protocol })
    }
}

/// Hardening switches; the defaults are the hardened choice.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Hardening {
    /// Allow running as root (uid 0).
    #[serde(default)]
    pub allow_root: bool,
    /// Allow exposing ports below 1024.
    #[serde(default)]
    pub allow_privileged_ports: bool,
    /// Paths the run-as user may write (besides its home and /tmp); created as
    /// directories owned by the run-as user.
    #[serde(default)]
    pub writable_paths: Vec<String>,
    /// Keep setuid/setgid bits (stripped and reported by default).
    #[serde(default)]
    pub keep_setuid: bool,
}

/// Who stands behind the image, for its SBOMs. Each field falls back to a
/// config label: `supplier` to `org.opencontainers.image.vendor`, `contact`
/// to `org.opencontainers.image.authors`, `license` to
/// `org.opencontainers.image.licenses`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SbomInfo {
    /// The organisation that supplies the image (and authors its SBOM).
    #[serde(default)]
    pub supplier: Option<String>,
    /// An email address or `http(s)` URL for the supplier.
    #[serde(default)]
    pub contact: Option<String>,
    /// The image's own licence, an SPDX expression.
    #[serde(default)]
    pub license: Option<String>,
    /// The image's copyright notice.
    #[serde(default)]
    pub copyright: Option<String>,
}

impl Spec {
    /// The SBOM facts with the label fallbacks applied.
    pub fn sbom_info(&self) -> SbomInfo {
        let label = |k: &str| self.config.labels.get(k).cloned();
        SbomInfo {
            supplier: self
                .sbom
                .supplier
                .clone()
                .or_else(|| label("org.opencontainers.image.vendor")),
            contact: self
                .sbom
                .contact
                .clone()
                .or_else(|| label("org.opencontainers.image.authors")),
            license: self
                .sbom
                .license
                .clone()
                .or_else(|| label("org.opencontainers.image.licenses")),
            copyright: self.sbom.copyright.clone(),
        }
    }
}

/// Output encoding options.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OutputOptions {
    #[serde(default)]
    pub compression: Compression,
}

/// Layer compression.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
}

impl Spec {
    /// Reads and validates a spec file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text = bulwark_limits::read_file_string(path, bulwark_limits::SPEC_FILE, "spec")?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// Parses and validates spec text; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, SpecError> {
        let spec: Spec = serde_saphyr::from_str(text).map_err(|e| SpecError::Parse {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        spec.validate(origin, &crate::spans::Spans::read(text))?;
        Ok(spec)
    }

    fn validate(&self, origin: &str, at: &crate::spans::Spans) -> Result<(), SpecError> {
        let invalid = |pos: crate::spans::Pos, field: &str, message: String| SpecError::Invalid {
            origin: origin.to_owned(),
            at: pos,
            field: field.to_owned(),
            message,
        };
        if let Some(n) = &self.name
            && let Err(why) = check_image_name(n)
        {
            return Err(invalid(at.name(), "name", why));
        }
        for (i, u) in self.accounts.users.iter().enumerate() {
            check_account_name(&u.name)
                .map_err(|why| invalid(at.user(i, "name"), "accounts.users.name", why))?;
            if u.uid == 0 && !self.hardening.allow_root {
                return Err(invalid(
                    at.user(i, "name"),
                    "accounts.users.uid",
                    format!(
                        "{:?} with uid 0 would be a second superuser; give it a non-zero uid or set hardening.allow-root: true",
                        u.name
                    ),
                ));
            }
            if let Some(h) = &u.home
                && (!h.starts_with('/')
                    || h.split('/').any(|c| c == "..")
                    || h.chars().any(|c| c == ':' || c.is_control()))
            {
                return Err(invalid(
                    at.user(i, "home"),
                    "accounts.users.home",
                    format!(
                        "{h:?} must be an absolute path without '..', ':' or control characters"
                    ),
                ));
            }
        }
        for (i, g) in self.accounts.groups.iter().enumerate() {
            check_account_name(&g.name)
                .map_err(|why| invalid(at.group(i, None), "accounts.groups.name", why))?;
            for (m, member) in g.members.iter().enumerate() {
                check_account_name(member)
                    .map_err(|why| invalid(at.group(i, Some(m)), "accounts.groups.members", why))?;
            }
        }
        if let Err(why) = check_run_as(&self.accounts.run_as) {
            return Err(invalid(at.run_as(), "accounts.run-as", why));
        }
        if self.packages.is_empty() {
            return Err(invalid(
                at.packages(),
                "packages",
                "list at least one package".into(),
            ));
        }
        if self.archs.is_empty() {
            return Err(invalid(
                at.archs(),
                "archs",
                "list at least one architecture".into(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, a) in self.archs.iter().enumerate() {
            if !seen.insert(a) {
                return Err(invalid(
                    at.arch(i),
                    "archs",
                    format!("'{a}' is listed twice"),
                ));
            }
            if !a
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                || a.is_empty()
            {
                return Err(invalid(
                    at.arch(i),
                    "archs",
                    format!("'{a}' is not a Debian architecture name"),
                ));
            }
        }
        for (i, p) in self.packages.iter().enumerate() {
            if p.trim().is_empty() {
                return Err(invalid(
                    at.package(i),
                    "packages",
                    "empty package name".into(),
                ));
            }
        }
        for (i, e) in self.exclude.iter().chain(self.allow.iter()).enumerate() {
            if e.reason.trim().is_empty() {
                return Err(invalid(
                    at.exclusion(i),
                    &format!("exclude/allow[{i}] ({})", e.package),
                    "give a reason".into(),
                ));
            }
        }
        for (i, f) in self.files.iter().enumerate() {
            if !f.dest.starts_with('/') || f.dest.split('/').any(|c| c == "..") {
                return Err(invalid(
                    at.file_dest(i),
                    "files.dest",
                    format!("{:?} must be an absolute path without '..'", f.dest),
                ));
            }
            if f.src.is_empty() {
                return Err(invalid(
                    at.file_src(i),
                    "files.src",
                    "empty source path".into(),
                ));
            }
        }
        for (i, w) in self.hardening.writable_paths.iter().enumerate() {
            if !w.starts_with('/') || w.split('/').any(|c| c == "..") || w == "/" {
                return Err(invalid(
                    at.writable_path(i),
                    "hardening.writable-paths",
                    format!("{w:?} must be an absolute path below /"),
                ));
            }
        }
        if !self.hardening.allow_privileged_ports
            && let Some((i, p)) = self
                .config
                .exposed_ports
                .iter()
                .enumerate()
                .find(|(_, p)| p.number < 1024)
        {
            return Err(invalid(
                at.exposed_port(i),
                "config.exposed-ports",
                format!(
                    "port {} is privileged (< 1024) and needs root or CAP_NET_BIND_SERVICE; use a port above 1023 or set hardening.allow-privileged-ports: true",
                    p.number
                ),
            ));
        }
        if !self.hardening.allow_root
            && matches!(
                self.accounts.run_as.as_str(),
                "root" | "0" | "0:0" | "root:root"
            )
        {
            return Err(invalid(
                at.run_as(),
                "accounts.run-as",
                "running as root defeats the hardening; use a non-root account or set hardening.allow-root: true".into(),
            ));
        }
        for k in self.config.env.keys() {
            if k.is_empty() || k.contains('=') {
                return Err(invalid(
                    at.env(),
                    "config.env",
                    format!("{k:?} is not a valid variable name"),
                ));
            }
        }
        Ok(())
    }

    /// Digest of everything that influences resolution, and the image's
    /// name (which the lock's documents carry); a lock made for a different
    /// digest is stale.
    pub fn resolution_digest(&self) -> String {
        let v = serde_json::json!({
            "name": self.name,
            "distribution": self.distribution,
            "archs": self.archs,
            "packages": self.packages,
            "exclude": self.exclude,
        });
        format!(
            "sha256:{}",
            hex::encode(Sha256::digest(v.to_string().as_bytes()))
        )
    }

    /// Canonical JSON of the whole spec (recorded in provenance).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Longest image name (the OCI distribution spec allows 255 for a whole
/// repository path; a file name must leave room for `-ARCH.spdx3.json`).
pub const MAX_IMAGE_NAME: usize = 128;

/// Checks an image name: one component of the OCI distribution grammar
/// (`[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`), at most [`MAX_IMAGE_NAME`] bytes.
/// The name becomes file names (`NAME.provenance.json`), so it can never
/// hold a `/`, `..` or anything a path could interpret.
///
/// # Errors
/// The reason, for the spec error.
pub fn check_image_name(n: &str) -> Result<(), String> {
    let hint = "use lowercase letters and digits, separated by '.', '_' or '-' \
                (the OCI repository name grammar), like 'base' or 'my-app'";
    if n.is_empty() || n.len() > MAX_IMAGE_NAME {
        return Err(format!(
            "{n:?} must be 1 to {MAX_IMAGE_NAME} characters; {hint}"
        ));
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = n.as_bytes();
    let mut ok = alnum(bytes[0]) && alnum(bytes[bytes.len() - 1]);
    let mut i = 0;
    while ok && i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // A separator run: '.', '_', '__' or any number of '-'.
        let run = bytes[i..].iter().take_while(|&&c| c == b).count();
        ok = match b {
            b'.' => run == 1,
            b'_' => run <= 2,
            b'-' => true,
            _ => false,
        };
        i += run;
    }
    if ok {
        Ok(())
    } else {
        Err(format!("{n:?} is not a valid image name; {hint}"))
    }
}

/// Longest account name (useradd's default limit).
pub const MAX_ACCOUNT_NAME: usize = 32;

/// Checks a user or group name against the portable rule useradd applies
/// (`[a-z_][a-z0-9_-]*`, at most 32 characters), which keeps `:`, `,`,
/// newlines and anything else that would add fields or lines to
/// `/etc/passwd` and `/etc/group` out.
///
/// # Errors
/// The reason, for the spec error.
pub fn check_account_name(n: &str) -> Result<(), String> {
    let first = n.bytes().next();
    let ok = matches!(first, Some(b'a'..=b'z' | b'_'))
        && n.len() <= MAX_ACCOUNT_NAME
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{n:?} is not a portable account name: use lowercase letters, digits, '_' and '-', \
             starting with a letter or '_', at most {MAX_ACCOUNT_NAME} characters (useradd's rule)"
        ))
    }
}

/// `run-as` is `NAME`, `UID`, `NAME:GROUP` or `UID:GID`.
fn check_run_as(r: &str) -> Result<(), String> {
    let part = |p: &str| {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then_some(())
            .map_or_else(|| check_account_name(p), Ok)
    };
    match r.split_once(':') {
        Some((u, g)) => part(u).and_then(|()| part(g)),
        None => part(r),
    }
    .map_err(|_| {
        format!("{r:?} must be NAME, UID, NAME:GROUP or UID:GID with portable account names")
    })
}

/// `examples/base.yaml` → `examples/base.lock.json`.
pub fn lock_path_for(spec: &Path) -> PathBuf {
    let stem = spec
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "spec".into());
    spec.with_file_name(format!("{stem}.lock.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_hardened() {
        let s = Spec::from_yaml("packages: [a]\n", "t").unwrap();
        assert_eq!(s.accounts.run_as, "nonroot");
        assert!(s.distribution.security && s.distribution.updates);
        assert!(s.paths.drop_docs);
        assert_eq!(s.archs, ["amd64"]);
    }

    #[test]
    fn unknown_fields_have_positions() {
        let e = Spec::from_yaml("packages: [a]\nconfig:\n  entrypont: [x]\n", "spec.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("spec.yaml"), "{e}");
        assert!(e.contains("entrypont"), "{e}");
        assert!(e.contains('3'), "line number expected: {e}");
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(
            Spec::from_yaml("packages: [a]\nconfig: {exposed-ports: [80]}\n", "t")
                .unwrap_err()
                .to_string()
                .contains("privileged")
        );
        assert!(Spec::from_yaml("packages: [a]\nconfig: {exposed-ports: [99999]}\n", "t").is_err());
        assert!(
            Spec::from_yaml(
                "packages: [a]\nfiles: [{src: a, dest: /x, mode: \"0999\"}]\n",
                "t"
            )
            .is_err()
        );
        assert!(Spec::from_yaml("packages: [a]\naccounts: {run-as: root}\n", "t").is_err());
        assert!(Spec::from_yaml("packages: []\n", "t").is_err());
        assert!(Spec::from_yaml("packages: [a\n", "t").is_err());
        let s = Spec::from_yaml("packages: [a]\nfiles: [{src: a, dest: /x, mode: 755}]\nconfig: {exposed-ports: [\"8080\", 53/udp]}\nhardening: {allow-privileged-ports: true}\n", "t").unwrap();
        assert_eq!(s.files[0].mode, Some(Mode(0o755)));
        assert_eq!(String::from(s.config.exposed_ports[1].clone()), "53/udp");
    }

    #[test]
    fn regression_image_names_cannot_be_paths() {
        for bad in [
            "../../../x",
            "/tmp/x",
            "a/b",
            "..",
            ".hidden",
            "UPPER",
            "a..b",
            "a___b",
            "-a",
            "a-",
            "a\nb",
            "",
        ] {
            let e = Spec::from_yaml(&format!("name: {bad:?}\npackages: [a]\n"), "s.yaml")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("s.yaml:1:7: name: "), "{bad:?}: {e}");
            assert!(e.contains("OCI repository name grammar"), "{e}");
        }
        let long = "a".repeat(MAX_IMAGE_NAME + 1);
        assert!(check_image_name(&long).is_err());
        for good in [
            "base",
            "my-app",
            "a.b_c__d--e",
            "x9",
            &"a".repeat(MAX_IMAGE_NAME),
        ] {
            check_image_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn regression_account_names_cannot_inject_passwd_lines() {
        let e = Spec::from_yaml(
            "packages: [a]\naccounts:\n  users: [{name: \"ok\\nroot2:x:0:0::/:/bin/sh\", uid: 1000}]\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("s.yaml:3:"), "{e}");
        assert!(
            e.contains("accounts.users.name") && e.contains("useradd"),
            "{e}"
        );
        let e = Spec::from_yaml(
            "packages: [a]\naccounts:\n  groups:\n    - {name: app, gid: 1000, members: [a, \"b,root\"]}\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("s.yaml:4:"), "{e}");
        assert!(e.contains("accounts.groups.members"), "{e}");
        for bad in ["a:b", "x y", "Root", "9lives", &"a".repeat(33)] {
            assert!(check_account_name(bad).is_err(), "{bad}");
        }
        let e = Spec::from_yaml(
            "packages: [a]\naccounts: {users: [{name: toor, uid: 0}]}\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("second superuser"), "{e}");
        let e = Spec::from_yaml(
            "packages: [a]\naccounts: {run-as: \"app:x\\n\"}\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("accounts.run-as"), "{e}");
        let e = Spec::from_yaml(
            "packages: [a]\naccounts: {users: [{name: app, uid: 9, home: \"/h:/bin/sh\"}]}\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("accounts.users.home"), "{e}");
        Spec::from_yaml(
            "packages: [a]\naccounts: {run-as: \"app:staff\", users: [{name: app, uid: 1000}], groups: [{name: web_1, gid: 7, members: [app, _x-y]}]}\n",
            "s.yaml",
        )
        .unwrap();
        Spec::from_yaml(
            "packages: [a]\naccounts: {run-as: \"1000:1000\"}\n",
            "s.yaml",
        )
        .unwrap();
    }

    #[test]
    fn regression_the_lock_digest_covers_the_name() {
        let a = Spec::from_yaml("name: a\npackages: [x]\n", "s").unwrap();
        let b = Spec::from_yaml("name: b\npackages: [x]\n", "s").unwrap();
        assert_ne!(a.resolution_digest(), b.resolution_digest());
    }
}

#[cfg(test)]
mod position_tests {
    use super::*;

    fn err(text: &str) -> String {
        Spec::from_yaml(text, "s.yaml").unwrap_err().to_string()
    }

    #[test]
    fn semantic_errors_point_at_line_and_column() {
        assert!(
            err("packages: [a]\narchs: [amd64, AMD64]\n").starts_with("s.yaml:2:16: archs:"),
            "{}",
            err("packages: [a]\narchs: [amd64, AMD64]\n")
        );
        let e = err("packages:\n  - a\n  - ''\n");
        assert!(e.starts_with("s.yaml:3:5: packages:"), "{e}");
        let e = err(
            "packages: [a]\nexclude:\n  - package: x\n    reason: ok\n  - {package: y, reason: ''}\n",
        );
        assert!(e.starts_with("s.yaml:5:5: exclude/allow[1] (y):"), "{e}");
        let e = err("packages: [a]\nfiles:\n  - src: app\n    dest: relative/path\n");
        assert!(e.starts_with("s.yaml:4:11: files.dest:"), "{e}");
        let e = err("packages: [a]\nconfig:\n  exposed-ports: [8080, 80]\n");
        assert!(e.starts_with("s.yaml:3:25: config.exposed-ports:"), "{e}");
        let e = err("packages: [a]\naccounts:\n  run-as: root\n");
        assert!(e.starts_with("s.yaml:3:11: accounts.run-as:"), "{e}");
        let e = err("packages: [a]\nhardening:\n  writable-paths: [/tmp, var/x]\n");
        assert!(
            e.starts_with("s.yaml:3:26: hardening.writable-paths:"),
            "{e}"
        );
        let e = err("packages: []\n");
        assert!(e.starts_with("s.yaml:1:11: packages:"), "{e}");
    }
}
