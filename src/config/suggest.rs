//! "did you mean …?" suggestions by edit distance (as cargo does, with
//! `strsim`, the crate clap uses for the same purpose).

/// The candidate closest to `target`, if it is close enough to be a likely
/// typo: an edit distance of at most a third of the target's length (at
/// least 1), compared ignoring ASCII case.
pub fn closest<'a>(target: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let target_lc = target.to_ascii_lowercase();
    let limit = (target.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| !c.eq_ignore_ascii_case(target))
        .map(|c| (strsim::levenshtein(&target_lc, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A typo finds its key; an unrelated word finds nothing.
    #[test]
    fn suggests_close_keys_only() {
        let keys = ["proxy.server", "proxy.balance", "server.port"];
        assert_eq!(closest("proxy.servers", keys), Some("proxy.server"));
        assert_eq!(closest("proxy.balanse", keys), Some("proxy.balance"));
        assert_eq!(closest("completely.different", keys), None);
    }
}
