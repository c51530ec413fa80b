//! Globs on `/`-separated names: spec `paths` and admission policy image
//! patterns share one linear-time matcher.

/// Glob match on `/`-separated names (paths, image references): `*` and `?` within a component, `**`
/// across components. Both levels use the greedy matcher with one backtrack
/// point, so a pattern with many stars costs at most pattern × path steps
/// (a naive recursive matcher is exponential in the number of stars, which a
/// spec from a pull request could use to hang the build).
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let s: Vec<&str> = path.trim_matches('/').split('/').collect();
    wildcard(
        &p,
        &s,
        |pc| *pc == "**",
        |pc, sc| {
            wildcard(
                pc.as_bytes(),
                sc.as_bytes(),
                |b| *b == b'*',
                |a, b| *a == b'?' || a == b,
            )
        },
    )
}

/// Wildcard matching of `p` against `s`, where `star` items match any run
/// of items (also none) and `eq` decides the rest.
fn wildcard<P, S>(
    p: &[P],
    s: &[S],
    star: impl Fn(&P) -> bool,
    eq: impl Fn(&P, &S) -> bool,
) -> bool {
    let (mut pi, mut si) = (0, 0);
    // The last star seen and where in `s` its match currently ends.
    let mut back: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && star(&p[pi]) {
            back = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && eq(&p[pi], &s[si]) {
            pi += 1;
            si += 1;
        } else if let Some((bp, bs)) = back {
            // Let the star take one more item and retry after it.
            back = Some((bp, bs + 1));
            pi = bp + 1;
            si = bs + 1;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(star)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn stars_within_and_across_components() {
        assert!(glob_match("usr/share/**", "usr/share/doc/x/y"));
        assert!(glob_match("127.0.0.1:5000/**", "127.0.0.1:5000/team/app:1"));
        assert!(glob_match("*/app:*", "host/app:1"));
        assert!(!glob_match("*/app:*", "host/team/app:1"));
        assert!(glob_match("a?c", "abc"));
        let many = "*a".repeat(30);
        assert!(!glob_match(&many, &"a".repeat(29)));
    }
}
