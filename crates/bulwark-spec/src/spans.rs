//! Where the validated fields of a spec are, for errors that give line and
//! column. The spec text is read a second time into this shadow of the
//! fields that `Spec::validate` checks (every other key is ignored here; the
//! strict parse has already rejected unknown ones).

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;

/// A position: 1-based line and column.
pub(crate) type Pos = Option<(u64, u64)>;

type At = Option<Spanned<IgnoredAny>>;

pub(crate) fn pos(s: &Spanned<IgnoredAny>) -> Pos {
    let l = &s.referenced;
    (l.line() > 0).then(|| (l.line(), l.column()))
}

fn at(s: &At) -> Pos {
    s.as_ref().and_then(pos)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub(crate) struct Spans {
    name: At,
    packages: Option<Spanned<Vec<Spanned<IgnoredAny>>>>,
    archs: Option<Spanned<Vec<Spanned<IgnoredAny>>>>,
    exclude: Vec<Spanned<IgnoredAny>>,
    allow: Vec<Spanned<IgnoredAny>>,
    files: Vec<FileSpans>,
    accounts: AccountSpans,
    config: ConfigSpans,
    hardening: HardeningSpans,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct FileSpans {
    src: At,
    dest: At,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct AccountSpans {
    run_as: At,
    users: Vec<NameSpans>,
    groups: Vec<NameSpans>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct NameSpans {
    name: At,
    home: At,
    members: Vec<Spanned<IgnoredAny>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct ConfigSpans {
    env: At,
    exposed_ports: Vec<Spanned<IgnoredAny>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct HardeningSpans {
    writable_paths: Vec<Spanned<IgnoredAny>>,
}

fn list_pos(l: &Option<Spanned<Vec<Spanned<IgnoredAny>>>>) -> Pos {
    l.as_ref().and_then(|s| {
        (s.referenced.line() > 0).then(|| (s.referenced.line(), s.referenced.column()))
    })
}

fn item(l: &[Spanned<IgnoredAny>], i: usize) -> Pos {
    l.get(i).and_then(pos)
}

impl Spans {
    /// Reads the positions; a text the strict parse accepted always parses
    /// here, and anything else just yields no positions.
    pub(crate) fn read(text: &str) -> Spans {
        serde_saphyr::from_str(text).unwrap_or_default()
    }
    pub(crate) fn packages(&self) -> Pos {
        list_pos(&self.packages)
    }
    pub(crate) fn package(&self, i: usize) -> Pos {
        self.packages
            .as_ref()
            .and_then(|l| item(&l.value, i))
            .or_else(|| self.packages())
    }
    pub(crate) fn archs(&self) -> Pos {
        list_pos(&self.archs)
    }
    pub(crate) fn arch(&self, i: usize) -> Pos {
        self.archs
            .as_ref()
            .and_then(|l| item(&l.value, i))
            .or_else(|| self.archs())
    }
    /// Entry `i` of `exclude` followed by `allow`.
    pub(crate) fn exclusion(&self, i: usize) -> Pos {
        if i < self.exclude.len() {
            item(&self.exclude, i)
        } else {
            item(&self.allow, i - self.exclude.len())
        }
    }
    pub(crate) fn file_dest(&self, i: usize) -> Pos {
        self.files.get(i).and_then(|f| at(&f.dest))
    }
    pub(crate) fn file_src(&self, i: usize) -> Pos {
        self.files.get(i).and_then(|f| at(&f.src))
    }
    pub(crate) fn writable_path(&self, i: usize) -> Pos {
        item(&self.hardening.writable_paths, i)
    }
    pub(crate) fn exposed_port(&self, i: usize) -> Pos {
        item(&self.config.exposed_ports, i)
    }
    pub(crate) fn run_as(&self) -> Pos {
        at(&self.accounts.run_as)
    }
    pub(crate) fn name(&self) -> Pos {
        at(&self.name)
    }
    pub(crate) fn user(&self, i: usize, field: &str) -> Pos {
        self.accounts.users.get(i).and_then(|u| match field {
            "home" => at(&u.home),
            _ => at(&u.name),
        })
    }
    pub(crate) fn group(&self, i: usize, member: Option<usize>) -> Pos {
        self.accounts.groups.get(i).and_then(|g| match member {
            Some(m) => item(&g.members, m).or_else(|| at(&g.name)),
            None => at(&g.name),
        })
    }
    pub(crate) fn env(&self) -> Pos {
        at(&self.config.env)
    }
}
