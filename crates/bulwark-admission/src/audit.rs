//! The audit log: one JSON line per decision (time, uid, user, namespace,
//! object, images and digests, policy, result, reasons). With a key each
//! line is chained to the one before (`prev`, the SHA-256 of that line)
//! and signed (ECDSA P-256 over the line without its `signature`), so a
//! line changed, removed or reordered is found by [`verify_log`]: the log
//! is evidence, not only a log.

use std::io::Write;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use bulwark_sign::{PrivateKey, PublicKey};

use crate::AdmissionRequest;
use crate::decide::{Decision, Endpoint};

/// The record of one decision, as a JSON object (fields in a fixed order).
#[must_use]
pub fn record(
    req: &AdmissionRequest,
    endpoint: Endpoint,
    decision: &Decision,
    policy_digest: &str,
    now: i64,
) -> Value {
    let name = if req.name.is_empty() {
        req.object
            .pointer("/metadata/name")
            .or_else(|| req.object.pointer("/metadata/generateName"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    } else {
        req.name.clone()
    };
    let mut v = json!({
        "time": bulwark_debian::time::format_rfc3339(now),
        "uid": req.uid,
        "user": req.user_info.username,
        "namespace": req.namespace,
        "object": {"kind": req.kind.kind, "name": name, "operation": req.operation},
        "endpoint": endpoint,
        "dryRun": req.dry_run,
        "allowed": decision.response.allowed,
        "images": decision.images,
        "policyDigest": policy_digest,
    });
    if let Some(s) = &decision.response.status {
        v["message"] = json!(s.message);
    }
    if !decision.response.warnings.is_empty() {
        v["warnings"] = json!(decision.response.warnings);
    }
    if let Some(s) = &decision.skipped {
        v["skipped"] = json!(s);
    }
    v
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Where records go, chained and signed when a key is given.
pub struct AuditLog {
    out: Mutex<(Box<dyn Write + Send>, String)>,
    key: Option<PrivateKey>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("signed", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Lines to `out`; signed with `key`; the chain continues from `prev`
    /// (the digest of the last line already in the log, or empty).
    #[must_use]
    pub fn new(out: Box<dyn Write + Send>, key: Option<PrivateKey>, prev: String) -> Self {
        Self {
            out: Mutex::new((out, prev)),
            key,
        }
    }

    /// Writes one record as a line.
    ///
    /// # Errors
    /// The log cannot be written.
    pub fn write(&self, mut record: Value) -> std::io::Result<()> {
        let mut g = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(key) = &self.key {
            record["prev"] = json!(g.1);
            record["keyid"] = json!(key.public_key().hint());
            let body = serde_json::to_vec(&record).unwrap_or_default();
            record["signature"] = json!(B64.encode(key.sign(&body)));
        }
        let mut line = serde_json::to_vec(&record).unwrap_or_default();
        let digest = sha256(&line);
        line.push(b'\n');
        g.0.write_all(&line)?;
        g.0.flush()?;
        g.1 = digest;
        Ok(())
    }
}

/// The digest of the last line of an existing log (to continue its chain).
#[must_use]
pub fn last_line_digest(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| sha256(l.as_bytes()))
        .unwrap_or_default()
}

/// What [`verify_log`] found.
#[derive(Debug, Default, serde::Serialize)]
pub struct LogCheck {
    /// Lines read.
    pub lines: usize,
    /// Lines whose signature verified and whose chain holds.
    pub verified: usize,
    /// Their line numbers (1-based).
    #[serde(skip)]
    pub verified_lines: Vec<usize>,
    /// What did not (line number: why).
    pub problems: Vec<String>,
    /// The digest the first line names as the one before it: empty for a
    /// log that starts at its beginning; anything else means earlier lines
    /// are not in this file (a rotated log, or lines cut from the start).
    pub starts_after: String,
    /// The digest of the last line: keep it elsewhere (a ticket, a
    /// signed commit) to notice lines cut from the end later.
    pub head: String,
}

/// Checks every line of a signed audit log under `keys`: each line's
/// signature, and that each names the digest of the line before it.
#[must_use]
pub fn verify_log(text: &str, keys: &[PublicKey]) -> LogCheck {
    let mut c = LogCheck::default();
    let mut prev = String::new();
    let mut first = true;
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        c.lines += 1;
        let n = n + 1;
        let problem = (|| {
            let mut v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
            // Only the writer's exact form verifies: duplicate keys or other
            // spellings of the same object are refused, not normalised.
            if serde_json::to_vec(&v).unwrap_or_default() != line.as_bytes() {
                return Err("the line is not in the form it was written in".to_owned());
            }
            if first {
                c.starts_after = v["prev"].as_str().unwrap_or_default().to_owned();
            }
            let obj = v.as_object_mut().ok_or("not a JSON object")?;
            let sig = obj
                .shift_remove("signature")
                .and_then(|s| s.as_str().map(str::to_owned))
                .ok_or("not signed")?;
            let sig = B64.decode(sig).map_err(|_| "the signature is not base64")?;
            let body = serde_json::to_vec(&v).unwrap_or_default();
            if !keys.iter().any(|k| k.verify(&body, &sig)) {
                return Err("the signature does not verify with the given key(s): the line was changed or signed by another key".to_owned());
            }
            let named = v["prev"].as_str().unwrap_or_default();
            // The first line read may continue an older log.
            if !first && named != prev {
                return Err(format!(
                    "the chain is broken: it names {named:?} as the line before, which is {prev:?} (a line was removed, added or reordered)"
                ));
            }
            Ok(())
        })();
        first = false;
        match problem {
            Ok(()) => {
                c.verified += 1;
                c.verified_lines.push(n);
            }
            Err(e) => c.problems.push(format!("line {n}: {e}")),
        }
        prev = sha256(line.as_bytes());
    }
    c.head = prev;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn signed_chained_lines_and_tampering_found() {
        let key = PrivateKey::generate();
        let buf = Buf::default();
        let log = AuditLog::new(Box::new(buf.clone()), Some(key.clone()), String::new());
        for i in 0..3 {
            log.write(json!({"uid": format!("u{i}"), "allowed": i != 1}))
                .unwrap();
        }
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let ok = verify_log(&text, &[key.public_key()]);
        assert_eq!((ok.lines, ok.verified), (3, 3), "{:?}", ok.problems);
        assert!(ok.starts_after.is_empty() && ok.head.starts_with("sha256:"));
        let lines: Vec<&str> = text.lines().collect();
        // Cut from the start: it still verifies, and says where it starts.
        let cut = verify_log(&format!("{}\n", lines[2]), &[key.public_key()]);
        assert_eq!(cut.verified, 1);
        assert_eq!(cut.starts_after, sha256(lines[1].as_bytes()));
        // A duplicate key is another spelling of the line: refused.
        let dup = lines[2].replacen('{', "{\"uid\":\"x\",", 1);
        assert!(verify_log(&dup, &[key.public_key()]).problems[0].contains("not in the form"));

        // A changed decision, a removed line, another key.
        let changed = text.replacen("\"allowed\":false", "\"allowed\":true", 1);
        let c = verify_log(&changed, &[key.public_key()]);
        assert!(
            c.problems[0].starts_with("line 2: the signature does not verify"),
            "{:?}",
            c.problems
        );
        let lines: Vec<&str> = text.lines().collect();
        let removed = format!("{}\n{}\n", lines[0], lines[2]);
        let c = verify_log(&removed, &[key.public_key()]);
        assert!(
            c.problems[0].contains("chain is broken"),
            "{:?}",
            c.problems
        );
        let other = PrivateKey::generate().public_key();
        assert_eq!(verify_log(&text, &[other]).verified, 0);

        // A restarted writer continues the chain.
        let log = AuditLog::new(
            Box::new(buf.clone()),
            Some(key.clone()),
            last_line_digest(&text),
        );
        log.write(json!({"uid": "u3"})).unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(verify_log(&text, &[key.public_key()]).verified, 4);
    }
}
