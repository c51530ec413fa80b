//! Dependency closure for one architecture.
//!
//! [`resolve`] walks `Pre-Depends` and `Depends` from the requested packages
//! and chooses, deterministically, one package for every dependency:
//! an alternative that is already chosen wins; otherwise the first
//! alternative (in the order the maintainer wrote them) that a real package
//! satisfies, taking its highest version across all suites; otherwise a
//! provider of the virtual name (the only one, or the first by name, with a
//! note). Exclusions cut a dependency on purpose. No `Essential` or
//! `Priority: required` package is added implicitly: minimal means minimal.
//!
//! Every chosen package remembers who pulled it in, so failures and policy
//! violations can be explained as a chain.
//!
//! ```
//! use bulwark_resolve::{Request, resolve};
//! let universe = bulwark_debian::parse_packages(
//!     "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b\nFilename: pool/a.deb\nSize: 1\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n\n\
//!      Package: b\nVersion: 2\nArchitecture: all\nFilename: pool/b.deb\nSize: 1\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n",
//!     "Packages").unwrap();
//! let r = resolve(&universe, "amd64", &Request { packages: vec!["a".into()], ..Default::default() }).unwrap();
//! assert_eq!(r.packages.iter().map(|p| p.record.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};

use bulwark_debian::Version;
use bulwark_debian::packages::PackageRecord;
use bulwark_debian::relation::{Dependency, Relation, VersionOp, parse_relations};

/// What to resolve.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Package names, optionally `name=version` or `name (>= version)`.
    pub packages: Vec<String>,
    /// Packages never to install, with the reason (cuts dependencies on them).
    pub exclude: BTreeMap<String, String>,
    /// Exact versions to keep (e.g. from an existing lock), when still available.
    pub prefer: BTreeMap<String, String>,
}

/// One chosen package and why.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub record: PackageRecord,
    /// `None` for requested packages; otherwise (parent, dependency text).
    pub pulled_by: Option<(String, String)>,
}

/// The closure, in a deterministic order (breadth-first from the request).
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    pub packages: Vec<Resolved>,
    /// Dependencies dropped because every alternative was excluded.
    pub cut: Vec<(String, String, String)>,
    /// Human-readable notes on arbitrary choices among providers.
    pub notes: Vec<String>,
}

impl Resolution {
    /// `requested → … → name`, the chain that pulled `name` in.
    pub fn chain(&self, name: &str) -> Vec<String> {
        let by_name: HashMap<&str, &Resolved> = self
            .packages
            .iter()
            .map(|r| (r.record.name.as_str(), r))
            .collect();
        let mut chain = vec![name.to_owned()];
        let mut cur = name;
        while let Some(Resolved {
            pulled_by: Some((parent, _)),
            ..
        }) = by_name.get(cur)
        {
            if chain.contains(parent) {
                break;
            }
            chain.push(parent.clone());
            cur = parent;
        }
        chain.reverse();
        chain
    }
}

/// Why a closure could not be formed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "package '{name}' is not available for {arch} in the configured suites; check the spelling, the suites and components"
    )]
    NotFound { name: String, arch: String },
    #[error("cannot parse requested package '{0}': {1}")]
    BadRequest(String, String),
    #[error("'{name}' is requested but also excluded ({reason})")]
    RequestedExcluded { name: String, reason: String },
    #[error("unsatisfiable: {chain} needs '{dependency}', but {why}")]
    Unsatisfiable {
        chain: String,
        dependency: String,
        why: String,
    },
}

/// Where candidates come from: a slice of records, or lazily parsed indexes.
pub trait PackageSource {
    /// Records named `name` (any architecture).
    fn named(&self, name: &str) -> Vec<&PackageRecord>;
    /// Records whose `Provides` lists `name` (any architecture).
    fn providing(&self, name: &str) -> Vec<&PackageRecord>;
}

impl PackageSource for [PackageRecord] {
    fn named(&self, name: &str) -> Vec<&PackageRecord> {
        self.iter().filter(|r| r.name == name).collect()
    }
    fn providing(&self, name: &str) -> Vec<&PackageRecord> {
        self.iter()
            .filter(|r| r.provides.iter().any(|p| p.name == name))
            .collect()
    }
}

impl PackageSource for Vec<PackageRecord> {
    fn named(&self, name: &str) -> Vec<&PackageRecord> {
        self.as_slice().named(name)
    }
    fn providing(&self, name: &str) -> Vec<&PackageRecord> {
        self.as_slice().providing(name)
    }
}

impl PackageSource for [bulwark_debian::PackagesIndex] {
    fn named(&self, name: &str) -> Vec<&PackageRecord> {
        self.iter().flat_map(|i| i.named(name)).collect()
    }
    fn providing(&self, name: &str) -> Vec<&PackageRecord> {
        self.iter().flat_map(|i| i.providing(name)).collect()
    }
}

impl PackageSource for [&bulwark_debian::PackagesIndex] {
    fn named(&self, name: &str) -> Vec<&PackageRecord> {
        self.iter().flat_map(|i| i.named(name)).collect()
    }
    fn providing(&self, name: &str) -> Vec<&PackageRecord> {
        self.iter().flat_map(|i| i.providing(name)).collect()
    }
}

struct Universe<'a, S: PackageSource + ?Sized> {
    source: &'a S,
    arch: String,
    by_name: std::cell::RefCell<HashMap<String, Vec<&'a PackageRecord>>>,
}

impl<'a, S: PackageSource + ?Sized> Universe<'a, S> {
    fn new(source: &'a S, arch: &str) -> Self {
        Universe {
            source,
            arch: arch.to_owned(),
            by_name: Default::default(),
        }
    }

    fn fits(&self, r: &PackageRecord) -> bool {
        r.arch == self.arch || r.arch == "all"
    }

    /// Candidates for a name, highest version first; ties (the same version
    /// in two suites) by suite name for determinism.
    fn candidates(&self, name: &str) -> Vec<&'a PackageRecord> {
        if let Some(v) = self.by_name.borrow().get(name) {
            return v.clone();
        }
        let mut v: Vec<&PackageRecord> = self
            .source
            .named(name)
            .into_iter()
            .filter(|r| self.fits(r))
            .collect();
        v.sort_by(|a, b| {
            b.version
                .cmp(&a.version)
                .then_with(|| a.suite.cmp(&b.suite))
        });
        self.by_name.borrow_mut().insert(name.to_owned(), v.clone());
        v
    }

    /// Providers of a virtual name with the version they provide, by name.
    fn providers(&self, name: &str) -> Vec<(&'a PackageRecord, Option<&'a Version>)> {
        let mut v: Vec<(&PackageRecord, Option<&Version>)> = self
            .source
            .providing(name)
            .into_iter()
            .filter(|r| self.fits(r))
            .flat_map(|r| {
                r.provides.iter().filter(|p| p.name == name).map(move |p| {
                    let v = match &p.constraint {
                        Some((VersionOp::Eq, v)) => Some(v),
                        _ => None,
                    };
                    (r, v)
                })
            })
            .collect();
        v.sort_by(|a, b| {
            a.0.name
                .cmp(&b.0.name)
                .then_with(|| b.0.version.cmp(&a.0.version))
        });
        v
    }

    fn best(&self, rel: &Relation, prefer: Option<&str>) -> Option<&'a PackageRecord> {
        let cands = self.candidates(&rel.name);
        if let Some(p) = prefer
            && let Some(r) = cands
                .iter()
                .find(|r| r.version.as_str() == p && rel.version_matches(&r.version))
        {
            return Some(r);
        }
        cands
            .iter()
            .find(|r| rel.version_matches(&r.version))
            .copied()
    }
}

/// Resolves `request` against `records` for `arch`.
pub fn resolve<S: PackageSource + ?Sized>(
    records: &S,
    arch: &str,
    request: &Request,
) -> Result<Resolution, ResolveError> {
    let u = Universe::new(records, arch);
    let mut chosen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Resolution::default();
    let mut queue: VecDeque<usize> = VecDeque::new();

    for req in &request.packages {
        let rel = parse_request(req)?;
        if let Some(reason) = request.exclude.get(&rel.name) {
            return Err(ResolveError::RequestedExcluded {
                name: rel.name.clone(),
                reason: reason.clone(),
            });
        }
        if chosen.contains_key(&rel.name) {
            continue;
        }
        let rec = u
            .best(&rel, request.prefer.get(&rel.name).map(String::as_str))
            .ok_or_else(|| ResolveError::NotFound {
                name: rel.to_string(),
                arch: arch.to_owned(),
            })?;
        chosen.insert(rec.name.clone(), out.packages.len());
        queue.push_back(out.packages.len());
        out.packages.push(Resolved {
            record: rec.clone(),
            pulled_by: None,
        });
    }

    while let Some(idx) = queue.pop_front() {
        let parent = out.packages[idx].record.clone();
        for dep in parent.pre_depends.iter().chain(parent.depends.iter()) {
            match satisfy(&u, dep, &chosen, &out, request)? {
                Choice::Already => {}
                Choice::Cut(reason) => {
                    out.cut.push((parent.name.clone(), dep.to_string(), reason));
                }
                Choice::New(rec, note) => {
                    if let Some(n) = note {
                        out.notes.push(format!("{}: {n}", parent.name));
                    }
                    chosen.insert(rec.name.clone(), out.packages.len());
                    queue.push_back(out.packages.len());
                    out.packages.push(Resolved {
                        record: rec.clone(),
                        pulled_by: Some((parent.name.clone(), dep.to_string())),
                    });
                }
                Choice::Fail(why) => {
                    let mut chain = out.chain(&parent.name);
                    if chain.is_empty() {
                        chain.push(parent.name.clone());
                    }
                    return Err(ResolveError::Unsatisfiable {
                        chain: chain.join(" → "),
                        dependency: dep.to_string(),
                        why,
                    });
                }
            }
        }
    }
    Ok(out)
}

enum Choice<'a> {
    Already,
    New(&'a PackageRecord, Option<String>),
    Cut(String),
    Fail(String),
}

fn satisfy<'a, S: PackageSource + ?Sized>(
    u: &Universe<'a, S>,
    dep: &Dependency,
    chosen: &BTreeMap<String, usize>,
    out: &Resolution,
    request: &Request,
) -> Result<Choice<'a>, ResolveError> {
    // 1. Already satisfied by a chosen package (real or provided).
    for alt in &dep.alternatives {
        if let Some(&i) = chosen.get(&alt.name)
            && alt.version_matches(&out.packages[i].record.version)
        {
            return Ok(Choice::Already);
        }
        for (pi, p) in out.packages.iter().enumerate() {
            let _ = pi;
            if p.record.provides.iter().any(|pr| provides_match(pr, alt)) {
                return Ok(Choice::Already);
            }
        }
    }
    let mut excluded = Vec::new();
    let mut why = Vec::new();
    // 2. First alternative a real package satisfies.
    for alt in &dep.alternatives {
        if let Some(reason) = request.exclude.get(&alt.name) {
            excluded.push(format!("{} (excluded: {reason})", alt.name));
            continue;
        }
        if let Some(&i) = chosen.get(&alt.name) {
            why.push(format!(
                "{} {} is already chosen and does not satisfy it",
                alt.name, out.packages[i].record.version
            ));
            continue;
        }
        if let Some(r) = u.best(alt, request.prefer.get(&alt.name).map(String::as_str)) {
            return Ok(Choice::New(r, None));
        }
        let cands = u.candidates(&alt.name);
        match (!cands.is_empty()).then_some(&cands) {
            Some(c) => why.push(format!(
                "available versions of {} are {}",
                alt.name,
                c.iter()
                    .map(|r| format!("{} ({})", r.version, r.suite))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None if u.providers(&alt.name).is_empty() => {
                why.push(format!("{} does not exist", alt.name))
            }
            None => {}
        }
    }
    // 3. A provider of a virtual name.
    for alt in &dep.alternatives {
        if request.exclude.contains_key(&alt.name) {
            continue;
        }
        let provs = u.providers(&alt.name);
        if provs.is_empty() {
            continue;
        }
        let ok: Vec<&PackageRecord> = provs
            .iter()
            .filter(|(r, v)| {
                !request.exclude.contains_key(&r.name)
                    && match (&alt.constraint, v) {
                        (None, _) => true,
                        (Some(_), Some(v)) => alt.version_matches(v),
                        (Some(_), None) => false,
                    }
            })
            .map(|(r, _)| *r)
            .collect();
        if let Some(first) = ok.first() {
            let mut names: Vec<&str> = ok.iter().map(|r| r.name.as_str()).collect();
            names.dedup();
            let note = (names.len() > 1).then(|| {
                format!(
                    "'{}' is virtual; chose {} among {} (list one explicitly to choose another)",
                    alt.name,
                    first.name,
                    names.join(", ")
                )
            });
            return Ok(Choice::New(first, note));
        }
        why.push(format!(
            "no provider of virtual package {} matches",
            alt.name
        ));
    }
    if !excluded.is_empty() && why.is_empty() {
        return Ok(Choice::Cut(excluded.join(", ")));
    }
    if !excluded.is_empty() {
        why.extend(excluded);
    }
    Ok(Choice::Fail(why.join("; ")))
}

fn provides_match(provided: &Relation, wanted: &Relation) -> bool {
    if provided.name != wanted.name {
        return false;
    }
    match (&wanted.constraint, &provided.constraint) {
        (None, _) => true,
        (Some(_), Some((VersionOp::Eq, v))) => wanted.version_matches(v),
        _ => false,
    }
}

fn parse_request(s: &str) -> Result<Relation, ResolveError> {
    let bad = |e: String| ResolveError::BadRequest(s.to_owned(), e);
    let text = match s.split_once('=') {
        Some((n, v)) if !n.contains('(') => format!("{} (= {})", n.trim(), v.trim()),
        _ => s.to_owned(),
    };
    let mut deps = parse_relations(&text).map_err(|e| bad(e.to_string()))?;
    if deps.len() != 1 || deps[0].alternatives.len() != 1 {
        return Err(bad("expected one package".into()));
    }
    Ok(deps.remove(0).alternatives.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn universe(text: &str) -> Vec<PackageRecord> {
        let mut s = String::new();
        for stanza in text.split("\n\n") {
            s.push_str(stanza.trim());
            s.push_str("\nFilename: pool/x.deb\nSize: 1\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n\n");
        }
        let mut v = bulwark_debian::parse_packages(&s, "t").unwrap();
        for r in &mut v {
            r.suite = "bookworm".into();
        }
        v
    }
    fn names(r: &Resolution) -> Vec<String> {
        r.packages
            .iter()
            .map(|p| format!("{}={}", p.record.name, p.record.version))
            .collect()
    }
    fn req(p: &[&str]) -> Request {
        Request {
            packages: p.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    const U: &str = "Package: app\nVersion: 1\nArchitecture: amd64\nDepends: libc6 (>= 2), mta | exim4, python3:any\n\n\
Package: libc6\nVersion: 1\nArchitecture: amd64\n\n\
Package: libc6\nVersion: 3\nArchitecture: amd64\n\n\
Package: libc6\nVersion: 3\nArchitecture: arm64\n\n\
Package: postfix\nVersion: 1\nArchitecture: amd64\nProvides: mta\n\n\
Package: exim4\nVersion: 1\nArchitecture: all\nProvides: mta\n\n\
Package: python3\nVersion: 3.11\nArchitecture: amd64\nPre-Depends: libc6";

    #[test]
    fn closure_is_deterministic_and_takes_highest_versions() {
        let u = universe(U);
        let r = resolve(&u, "amd64", &req(&["app"])).unwrap();
        assert_eq!(names(&r), ["app=1", "libc6=3", "exim4=1", "python3=3.11"]);
        assert_eq!(r.chain("python3"), ["app", "python3"]);
    }

    #[test]
    fn virtual_with_several_providers_is_noted() {
        let u = universe(
            "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: mta\n\nPackage: postfix\nVersion: 1\nArchitecture: amd64\nProvides: mta\n\nPackage: exim4\nVersion: 1\nArchitecture: all\nProvides: mta",
        );
        let r = resolve(&u, "amd64", &req(&["a"])).unwrap();
        assert_eq!(names(&r), ["a=1", "exim4=1"]);
        assert!(r.notes[0].contains("exim4, postfix"), "{:?}", r.notes);
    }

    #[test]
    fn exclusion_cuts_a_dependency() {
        let u = universe(U);
        let mut rq = req(&["app"]);
        rq.exclude.insert("python3".into(), "not needed".into());
        let r = resolve(&u, "amd64", &rq).unwrap();
        assert_eq!(names(&r), ["app=1", "libc6=3", "exim4=1"]);
        assert_eq!(r.cut[0].1, "python3:any");
    }

    #[test]
    fn unsatisfiable_names_the_chain() {
        let u = universe(
            "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b\n\nPackage: b\nVersion: 1\nArchitecture: amd64\nDepends: c (>= 5)\n\nPackage: c\nVersion: 4\nArchitecture: amd64",
        );
        let e = resolve(&u, "amd64", &req(&["a"])).unwrap_err().to_string();
        assert!(e.contains("a → b needs 'c (>= 5)'"), "{e}");
        assert!(
            e.contains("available versions of c are 4 (bookworm)"),
            "{e}"
        );
    }

    #[test]
    fn pins_and_missing_packages() {
        let u = universe(U);
        let r = resolve(&u, "amd64", &req(&["libc6=1"])).unwrap();
        assert_eq!(names(&r), ["libc6=1"]);
        let e = resolve(&u, "amd64", &req(&["nope"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'nope' is not available for amd64"), "{e}");
        assert_eq!(
            names(&resolve(&u, "arm64", &req(&["libc6"])).unwrap()),
            ["libc6=3"]
        );
    }

    #[test]
    fn essential_packages_are_not_implicit() {
        let u = universe(
            "Package: a\nVersion: 1\nArchitecture: amd64\n\nPackage: bash\nVersion: 5\nArchitecture: amd64\nEssential: yes\nPriority: required",
        );
        assert_eq!(names(&resolve(&u, "amd64", &req(&["a"])).unwrap()), ["a=1"]);
    }
}
