//! The CISA Known Exploited Vulnerabilities catalogue (JSON).

use serde::Deserialize;

use crate::Error;
use crate::error::feed_err;
use crate::model::Kev;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Catalogue {
    catalog_version: String,
    #[serde(default)]
    count: Option<usize>,
    vulnerabilities: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(rename = "cveID")]
    cve_id: String,
    #[serde(default)]
    vendor_project: String,
    #[serde(default)]
    product: String,
    date_added: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    known_ransomware_campaign_use: String,
}

/// Parses the catalogue; returns its version and entries.
///
/// # Errors
/// Not the catalogue, a `count` that disagrees with the entries (a
/// truncated download), or an entry without a CVE id.
pub fn parse(feed: &str, data: &[u8]) -> Result<(String, Vec<Kev>), Error> {
    let c: Catalogue = serde_json::from_slice(data).map_err(|e| {
        feed_err(
            feed,
            format!("line {} column {}", e.line(), e.column()),
            format!("not the CISA KEV catalogue: {e}"),
        )
    })?;
    if let Some(n) = c.count
        && n != c.vulnerabilities.len()
    {
        return Err(feed_err(
            feed,
            "count",
            format!(
                "says {n} entries but lists {}: truncated or edited",
                c.vulnerabilities.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(c.vulnerabilities.len());
    for (i, e) in c.vulnerabilities.into_iter().enumerate() {
        if crate::db::cve_key(&e.cve_id).is_none() {
            return Err(feed_err(
                feed,
                format!("entry {}", i + 1),
                format!("{:?} is not a CVE id", e.cve_id),
            ));
        }
        out.push(Kev {
            cve: e.cve_id,
            date_added: e.date_added,
            due_date: e.due_date,
            ransomware: e
                .known_ransomware_campaign_use
                .eq_ignore_ascii_case("known"),
            product: format!("{} {}", e.vendor_project, e.product)
                .trim()
                .to_owned(),
        });
    }
    Ok((c.catalog_version, out))
}
