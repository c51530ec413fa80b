//! FIRST EPSS scores (CSV: `cve,epss,percentile`, after one `#` line).

use crate::Error;
use crate::error::feed_err;
use crate::model::Epss;

/// An EPSS file's contents.
#[derive(Debug)]
pub struct Scores {
    /// The score date, when the first line gives one.
    pub date: Option<String>,
    /// CVE id and score.
    pub scores: Vec<(String, Epss)>,
}

/// Parses the CSV.
///
/// # Errors
/// A missing header, a malformed line or a score outside 0–1, with its line.
pub fn parse(feed: &str, text: &str) -> Result<Scores, Error> {
    let mut date = None;
    let mut header = false;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = || format!("line {}", n + 1);
        if let Some(meta) = line.strip_prefix('#') {
            date = meta
                .split(',')
                .find_map(|kv| kv.trim().strip_prefix("score_date:"))
                .map(|d| d.chars().take(10).collect());
            continue;
        }
        if !header {
            if line.trim() != "cve,epss,percentile" {
                return Err(feed_err(
                    feed,
                    at(),
                    "expected the header cve,epss,percentile: not an EPSS CSV",
                ));
            }
            header = true;
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let mut f = line.split(',');
        let (Some(cve), Some(score), Some(pct), None) = (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(feed_err(feed, at(), "expected three fields"));
        };
        let parse = |s: &str| -> Option<f32> {
            s.trim()
                .parse::<f32>()
                .ok()
                .filter(|v| (0.0..=1.0).contains(v))
        };
        let (Some(score), Some(percentile)) = (parse(score), parse(pct)) else {
            return Err(feed_err(feed, at(), "a score or percentile outside 0–1"));
        };
        if crate::db::cve_key(cve).is_none() {
            return Err(feed_err(feed, at(), format!("{cve:?} is not a CVE id")));
        }
        out.push((cve.to_owned(), Epss { score, percentile }));
    }
    if !header {
        return Err(feed_err(feed, "end", "no header: empty or truncated"));
    }
    Ok(Scores { date, scores: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_first_lines_are_accepted() {
        let a = "#model_version:v2025.03.14,score_date:2026-08-16T00:00:00+0000\ncve,epss,percentile\nCVE-2024-1,0.5,0.9\n";
        let s = parse("t", a).unwrap();
        assert_eq!(s.date.as_deref(), Some("2026-08-16"));
        assert_eq!(s.scores.len(), 1);
        let b = "# crawled\ncve,epss,percentile\nCVE-2024-1,0.5,0.9\n";
        assert_eq!(parse("t", b).unwrap().date, None);
        assert!(parse("t", "cve,epss,percentile\nCVE-1,2,0\n").is_err());
        assert!(parse("t", "").is_err());
    }
}
