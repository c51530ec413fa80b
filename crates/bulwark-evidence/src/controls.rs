//! The control catalogue: data in the repository (`controls.yaml`), one
//! line per control with the document it comes from and the rule that
//! decides it.

use std::sync::OnceLock;

use serde::Deserialize;

/// One control.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub framework: String,
    pub id: String,
    pub title: String,
    pub source: String,
    pub rule: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    controls: Vec<Control>,
}

const DATA: &str = include_str!("../controls.yaml");

/// Every control bulwark evidence reports on, in the order of
/// `controls.yaml`.
#[must_use]
pub fn controls() -> &'static [Control] {
    static CONTROLS: OnceLock<Vec<Control>> = OnceLock::new();
    CONTROLS.get_or_init(|| {
        // Checked by the tests below: the data ships with the binary.
        serde_saphyr::from_str::<File>(DATA)
            .map(|f| f.controls)
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_has_a_source_and_a_known_rule() {
        let all = controls();
        // CIS 4.1-4.12, seven SRG requirements, seven 800-53 controls, SLSA L1-L3.
        assert_eq!(all.len(), 29);
        let mut seen = std::collections::BTreeSet::new();
        for c in all {
            assert!(
                !c.source.trim().is_empty() && !c.title.trim().is_empty(),
                "{c:?}"
            );
            assert!(crate::rules::RULES.contains(&c.rule.as_str()), "{c:?}");
            assert!(seen.insert((&c.framework, &c.id)), "duplicate {c:?}");
        }
        for id in ["4.1", "4.12", "CM-7", "SI-7", "SR-4", "SA-10", "Build L3"] {
            assert!(all.iter().any(|c| c.id == id), "{id}");
        }
        // Every rule is used.
        for r in crate::rules::RULES {
            assert!(all.iter().any(|c| c.rule == *r), "{r} unused");
        }
    }
}
