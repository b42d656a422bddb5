//! mod_rewrite: internal rewrites of the request target (lighttpd:
//! `mod_rewrite.c`).
//!
//! | directive | when | after a match |
//! |---|---|---|
//! | `url.rewrite-once`, `url.rewrite`, `url.rewrite-final` | before anything else | no more rewrites for this request |
//! | `url.rewrite-repeat` | before anything else | the rewritten request may be rewritten again |
//! | `url.rewrite-if-not-file` | once the file is known, if it is not a regular file | no more rewrites |
//! | `url.rewrite-repeat-if-not-file` | likewise | may be rewritten again |
//!
//! A block's lists form one list, which replaces the list of the enclosing
//! scope, as in lighttpd: `url.rewrite-once`, `url.rewrite-final`,
//! `url.rewrite`, then `url.rewrite-repeat`, whatever order they were
//! written in; likewise `url.rewrite-if-not-file` before
//! `url.rewrite-repeat-if-not-file`. Each rewrite starts
//! the request over: conditions are decided again on the new target. A
//! result that does not start with `/` is an error (500), as are more than
//! [`MAX_REWRITES`] rewrites of one request.

use std::sync::Arc;

use super::subst::{Rule, RuleList};

/// Rewrites of one request before it is refused as a loop (lighttpd's
/// limit: the 101st rewrite fails).
pub const MAX_REWRITES: u32 = 100;

/// A rule list where each rule knows whether it ends rewriting.
#[derive(Debug, Clone)]
pub struct RewriteList {
    /// The rules, the block they were set in, and per rule "once".
    pub list: RuleList,
    /// `once[i]`: rule `i` is a once rule.
    pub once: Arc<[bool]>,
}

/// The `url.rewrite*` settings in effect for a request.
#[derive(Debug, Clone, Default)]
pub struct RewriteSettings {
    /// `url.rewrite-once`, `url.rewrite-repeat` (and the old names).
    pub rules: Option<RewriteList>,
    /// `url.rewrite-if-not-file`, `url.rewrite-repeat-if-not-file`.
    pub if_not_file: Option<RewriteList>,
}

/// One change of a block to [`RewriteSettings`].
#[derive(Debug, Clone)]
pub enum RewriteSet {
    /// A list that applies before the file is known, and its rank in the
    /// block's combined list.
    Rules(RewriteList, u8),
    /// A list that applies when the file is not a regular file, and its
    /// rank.
    IfNotFile(RewriteList, u8),
}

impl RewriteSettings {
    /// Applies one change.
    pub fn apply(&mut self, set: &RewriteSet) {
        match set {
            RewriteSet::Rules(r, _) => self.rules = Some(r.clone()),
            RewriteSet::IfNotFile(r, _) => self.if_not_file = Some(r.clone()),
        }
    }
}

impl RewriteList {
    /// A list of rules that all end rewriting, or all do not.
    pub fn new(list: RuleList, once: bool) -> RewriteList {
        let n = list.rules.len();
        RewriteList {
            list,
            once: vec![once; n].into(),
        }
    }

    /// The list followed by `other`'s rules (both from the same block).
    pub fn then(&self, other: &RewriteList) -> RewriteList {
        let rules: Vec<Rule> = self
            .list
            .rules
            .iter()
            .chain(other.list.rules.iter())
            .cloned()
            .collect();
        let once: Vec<bool> = self.once.iter().chain(other.once.iter()).copied().collect();
        RewriteList {
            list: RuleList {
                rules: rules.into(),
                block: self.list.block,
            },
            once: once.into(),
        }
    }

    /// The first matching rule, its groups, and whether it ends rewriting.
    pub fn first_match(&self, subject: &[u8]) -> Option<(&Rule, super::subst::Groups, bool)> {
        self.list
            .rules
            .iter()
            .zip(self.once.iter())
            .find_map(|(r, once)| r.pattern.captures(subject).map(|g| (r, g, *once)))
    }
}

/// Combines the rewrite lists of one block into one list of each kind, in
/// lighttpd's order (other changes keep their place).
pub fn merge_block(sets: Vec<RewriteSet>) -> Vec<RewriteSet> {
    let mut rules: Vec<(u8, RewriteList)> = Vec::new();
    let mut nf: Vec<(u8, RewriteList)> = Vec::new();
    for s in sets {
        match s {
            RewriteSet::Rules(l, r) => rules.push((r, l)),
            RewriteSet::IfNotFile(l, r) => nf.push((r, l)),
        }
    }
    let fold = |mut v: Vec<(u8, RewriteList)>| {
        v.sort_by_key(|(r, _)| *r);
        let mut it = v.into_iter().map(|(_, l)| l);
        let first = it.next()?;
        Some(it.fold(first, |acc, l| acc.then(&l)))
    };
    let mut out = Vec::new();
    if let Some(l) = fold(rules) {
        out.push(RewriteSet::Rules(l, 0));
    }
    if let Some(l) = fold(nf) {
        out.push(RewriteSet::IfNotFile(l, 0));
    }
    out
}

/// The list kind and rank of a `url.rewrite*` key: (if-not-file, once, rank).
pub fn key_kind(key: &[u8]) -> Option<(bool, bool, u8)> {
    Some(match key {
        b"url.rewrite-once" => (false, true, 0),
        b"url.rewrite-final" => (false, true, 1),
        b"url.rewrite" => (false, true, 2),
        b"url.rewrite-repeat" => (false, false, 3),
        b"url.rewrite-if-not-file" => (true, true, 0),
        b"url.rewrite-repeat-if-not-file" => (true, false, 1),
        _ => return None,
    })
}
