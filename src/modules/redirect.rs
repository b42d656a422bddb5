//! mod_redirect: `url.redirect = ( "regex" => "location" )` and
//! `url.redirect-code` (lighttpd: `mod_redirect.c`). The first rule whose
//! regex matches the request target (normalised path and query) answers
//! with `url.redirect-code` (default 301) and `Location:` set to the
//! expanded template (`subst`).

use super::subst::RuleList;

/// The `url.redirect*` settings in effect for a request.
#[derive(Debug, Clone)]
pub struct RedirectSettings {
    /// `url.redirect`.
    pub rules: Option<RuleList>,
    /// `url.redirect-code`.
    pub code: u16,
}

impl Default for RedirectSettings {
    fn default() -> Self {
        RedirectSettings {
            rules: None,
            code: 301,
        }
    }
}

/// One change of a block to [`RedirectSettings`].
#[derive(Debug, Clone)]
pub enum RedirectSet {
    /// `url.redirect`
    Rules(RuleList),
    /// `url.redirect-code`
    Code(u16),
}

impl RedirectSettings {
    /// Applies one change.
    pub fn apply(&mut self, set: &RedirectSet) {
        match set {
            RedirectSet::Rules(r) => self.rules = Some(r.clone()),
            RedirectSet::Code(c) => self.code = *c,
        }
    }
}
