//! Kubernetes label selectors (`matchLabels` and `matchExpressions` with
//! `In`, `NotIn`, `Exists`, `DoesNotExist`), as the API server evaluates
//! them: every requirement must hold; `NotIn` and `DoesNotExist` hold for
//! an absent key; an empty selector selects everything. Policies use them
//! to pick namespaces by label, like Kyverno's `namespaceSelector`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A namespace's (or any object's) labels.
pub type Labels = BTreeMap<String, String>;

/// A label selector. Both spellings are accepted: the policy file's
/// kebab-case (`match-labels`) and Kubernetes' own (`matchLabels`), so a
/// selector can be pasted from a webhook configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LabelSelector {
    /// Each key must have exactly this value.
    #[serde(default, alias = "matchLabels")]
    pub match_labels: BTreeMap<String, String>,
    /// Each requirement must hold.
    #[serde(default, alias = "matchExpressions")]
    pub match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    #[serde(default)]
    pub values: Vec<String>,
}

/// How a requirement compares its key's value.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum Operator {
    /// The key is present with one of the values.
    In,
    /// The key is absent, or its value is none of the values.
    NotIn,
    /// The key is present.
    Exists,
    /// The key is absent.
    DoesNotExist,
}

/// Whether `key` is a valid label key: an optional DNS-subdomain prefix
/// and `/`, then a name of at most 63 characters (alphanumerics, `-`, `_`,
/// `.`, beginning and ending alphanumeric).
fn valid_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = valid_value(name) && !name.is_empty();
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part.len() <= 63
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    });
    name_ok && prefix_ok
}

/// Whether `v` is a valid label value (possibly empty).
fn valid_value(v: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    v.len() <= 63
        && v.bytes()
            .all(|b| alnum(b) || b == b'-' || b == b'_' || b == b'.')
        && v.bytes().next().is_none_or(alnum)
        && v.bytes().last().is_none_or(alnum)
}

impl LabelSelector {
    /// The rules the API server applies to a selector: valid keys and
    /// values; `In` and `NotIn` need values, `Exists` and `DoesNotExist`
    /// take none.
    ///
    /// # Errors
    /// What is wrong, naming the key.
    pub fn check(&self) -> Result<(), String> {
        for (k, v) in &self.match_labels {
            if !valid_key(k) {
                return Err(format!("match-labels: {k:?} is not a label key"));
            }
            if !valid_value(v) {
                return Err(format!("match-labels: {k}: {v:?} is not a label value"));
            }
        }
        for r in &self.match_expressions {
            if !valid_key(&r.key) {
                return Err(format!("match-expressions: {:?} is not a label key", r.key));
            }
            match r.operator {
                Operator::In | Operator::NotIn if r.values.is_empty() => {
                    return Err(format!(
                        "match-expressions: {} {:?} needs at least one value",
                        r.key, r.operator
                    ));
                }
                Operator::Exists | Operator::DoesNotExist if !r.values.is_empty() => {
                    return Err(format!(
                        "match-expressions: {} {:?} takes no values",
                        r.key, r.operator
                    ));
                }
                _ => {}
            }
            if let Some(v) = r.values.iter().find(|v| !valid_value(v)) {
                return Err(format!(
                    "match-expressions: {}: {v:?} is not a label value",
                    r.key
                ));
            }
        }
        Ok(())
    }

    /// Whether it has no requirement (it selects every namespace).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    #[must_use]
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator {
                    Operator::In => value.is_some_and(|v| r.values.contains(v)),
                    Operator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn sel(yaml: &str) -> LabelSelector {
        let s: LabelSelector = serde_saphyr::from_str(yaml).unwrap();
        s.check().unwrap();
        s
    }

    #[test]
    fn the_api_servers_semantics() {
        let prod = labels(&[("env", "prod"), ("team", "shop")]);
        let dev = labels(&[("env", "dev")]);
        let none = Labels::new();
        // An empty selector selects everything.
        assert!(sel("{}").matches(&none));
        let s = sel("match-labels: {env: prod}");
        assert!(s.matches(&prod) && !s.matches(&dev) && !s.matches(&none));
        let s = sel("matchExpressions: [{key: env, operator: In, values: [prod, staging]}]");
        assert!(s.matches(&prod) && !s.matches(&dev) && !s.matches(&none));
        // NotIn and DoesNotExist hold where the key is absent.
        let s = sel("match-expressions: [{key: env, operator: NotIn, values: [dev]}]");
        assert!(s.matches(&prod) && !s.matches(&dev) && s.matches(&none));
        let s = sel("match-expressions: [{key: team, operator: Exists}]");
        assert!(s.matches(&prod) && !s.matches(&dev));
        let s = sel("match-expressions: [{key: team, operator: DoesNotExist}]");
        assert!(!s.matches(&prod) && s.matches(&dev) && s.matches(&none));
        // Every requirement must hold.
        let s = sel(
            "match-labels: {team: shop}\nmatch-expressions: [{key: env, operator: In, values: [dev]}]",
        );
        assert!(!s.matches(&prod) && !s.matches(&dev));
        // The label every namespace carries.
        let s = sel("match-labels: {kubernetes.io/metadata.name: shop}");
        assert!(s.matches(&labels(&[("kubernetes.io/metadata.name", "shop")])));
    }

    #[test]
    fn refused_like_the_api_server_refuses_them() {
        for (yaml, want) in [
            (
                "match-expressions: [{key: env, operator: In}]",
                "needs at least one value",
            ),
            (
                "match-expressions: [{key: env, operator: Exists, values: [x]}]",
                "takes no values",
            ),
            ("match-labels: {'bad key': x}", "not a label key"),
            ("match-labels: {env: 'a b'}", "not a label value"),
            ("match-labels: {'-x/y': z}", "not a label key"),
        ] {
            let s: LabelSelector = serde_saphyr::from_str(yaml).unwrap();
            let e = s.check().unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
        }
        for yaml in [
            "match-expressions: [{key: env, operator: Matches, values: [x]}]",
            "match-labelz: {a: b}",
        ] {
            assert!(
                serde_saphyr::from_str::<LabelSelector>(yaml).is_err(),
                "{yaml}"
            );
        }
    }
}
