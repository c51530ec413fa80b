//! Renderings: a table, CycloneDX JSON, SPDX 2.3 JSON and SPDX 3.0.1
//! JSON-LD (hand-written, deterministic key order, identifiers derived from
//! the content instead of random ones).

mod cyclonedx;
mod spdx2;
mod spdx3;

pub use cyclonedx::cyclonedx;
pub use spdx2::spdx;
pub use spdx3::spdx3;

use sha2::{Digest, Sha256};

use crate::inventory::Inventory;

/// Facts about the SBOM document and the image it describes.
#[derive(Clone, Debug, Default)]
pub struct DocumentInfo {
    /// Image name (e.g. the reference).
    pub name: String,
    /// Manifest digest, when known.
    pub digest: Option<String>,
    /// RFC 3339 creation time (the image's, for reproducibility).
    pub created: String,
    /// `build` for SBOMs made during the build, `post-build` for scans.
    pub lifecycle: &'static str,
    /// CycloneDX spec version (`1.7` default, `1.6` on request).
    pub cdx_version: &'static str,
    /// Who supplies the image (e.g. the `org.opencontainers.image.vendor`
    /// label). Also the SBOM's author: they ran the build or the scan.
    pub supplier: Option<String>,
    /// How to reach the supplier: an email address or an `http(s)` URL.
    pub contact: Option<String>,
    /// The image's own licence, an SPDX expression (the
    /// `org.opencontainers.image.licenses` label).
    pub license: Option<String>,
    /// The image's copyright notice.
    pub copyright: Option<String>,
    /// Hex sha512 of the manifest bytes, when known (builds know it).
    pub manifest_sha512: Option<String>,
}

impl DocumentInfo {
    /// `pkg:oci/<name>@<digest>` for the image, when its digest is known.
    pub(crate) fn image_purl(&self) -> Option<String> {
        let d = self.digest.as_ref()?;
        // `base (linux/amd64)`, `oci:out/base:v1`, `host/repo/base:1` → `base`.
        let first = self.name.split(' ').next().unwrap_or_default();
        let last = first
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(first);
        let last = last.rsplit_once(':').map_or(last, |(n, _)| n);
        let name: String = last
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect();
        let name = if name.is_empty() {
            "image".into()
        } else {
            name
        };
        Some(format!("pkg:oci/{name}@{}", d.replace(':', "%3A")))
    }

    /// The contact as an email address, if it is one.
    pub(crate) fn contact_email(&self) -> Option<&str> {
        match self.contact.as_deref().and_then(Contact::parse) {
            Some(Contact::Email(e)) => Some(e),
            _ => None,
        }
    }
}

/// A supplier's contact: an email address (`mailto:` dropped) or an
/// `http(s)` URL. Anything else is no usable contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contact<'a> {
    Email(&'a str),
    Url(&'a str),
}

impl<'a> Contact<'a> {
    pub(crate) fn parse(c: &'a str) -> Option<Contact<'a>> {
        let c = c.trim();
        if c.starts_with("http://") || c.starts_with("https://") {
            return Some(Contact::Url(c));
        }
        let c = c.trim_start_matches("mailto:");
        (c.contains('@') && !c.contains("://")).then_some(Contact::Email(c))
    }
}

fn uuid_from(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50; // version 5 style (name-based)
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

fn seed(inv: &Inventory, info: &DocumentInfo) -> String {
    let mut s = format!("{}|{}|", info.name, info.digest.as_deref().unwrap_or(""));
    for p in &inv.packages {
        s.push_str(&format!("{}={}:{};", p.name, p.version, p.arch));
    }
    s
}

/// `Name <email>` → (name, email).
fn split_maintainer(m: &str) -> (String, Option<String>) {
    match m.split_once('<') {
        Some((n, e)) => (
            n.trim().to_owned(),
            Some(e.trim_end_matches('>').trim().to_owned()),
        ),
        None => (m.trim().to_owned(), None),
    }
}

/// A fixed-width table: name, version, arch, source, licence.
pub fn table(inv: &Inventory) -> String {
    let mut rows = vec![[
        "NAME".to_owned(),
        "VERSION".into(),
        "ARCH".into(),
        "SOURCE".into(),
        "LICENSE".into(),
    ]];
    for p in &inv.packages {
        rows.push([
            p.name.clone(),
            p.version.clone(),
            p.arch.clone(),
            p.source.clone().unwrap_or_default(),
            p.license.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if let Some(os) = &inv.os {
        out.push_str(&format!(
            "\nOS: {} {}\n",
            os.id,
            os.version_id.as_deref().unwrap_or("")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_emails_or_web_addresses() {
        assert_eq!(
            Contact::parse(" mailto:a@b.example"),
            Some(Contact::Email("a@b.example"))
        );
        assert_eq!(
            Contact::parse("https://b.example/sec"),
            Some(Contact::Url("https://b.example/sec"))
        );
        assert_eq!(Contact::parse("the platform team"), None);
    }

    #[test]
    fn image_purls_take_the_bare_name() {
        let purl = |name: &str| {
            DocumentInfo {
                name: name.into(),
                digest: Some("sha256:ab".into()),
                ..Default::default()
            }
            .image_purl()
            .unwrap()
        };
        assert_eq!(purl("base (linux/amd64)"), "pkg:oci/base@sha256%3Aab");
        assert_eq!(purl("oci:out/Base:v1"), "pkg:oci/base@sha256%3Aab");
        assert_eq!(purl("host:5000/team/app:1"), "pkg:oci/app@sha256%3Aab");
    }
}
