//! mod_access: `url.access-deny` and `url.access-allow` (lighttpd:
//! `mod_access.c`). Both are lists of suffixes of the decoded URL path;
//! matching is case-sensitive unless `server.force-lowercase-filenames`
//! is on. With an allow list, a path must end with one of its entries (and
//! then the deny list is not consulted); otherwise no path may end with an
//! entry of the deny list (`""` denies everything). A refused request gets
//! 403. The path is checked when the request is routed and again for the
//! file found when the rest of the path is path info (`/x.inc/more`).

use std::sync::Arc;

use bstr::BString;

/// The `url.access-*` lists in effect for a request.
#[derive(Debug, Clone, Default)]
pub struct AccessSettings {
    /// `url.access-deny`.
    pub deny: Arc<[BString]>,
    /// `url.access-allow`.
    pub allow: Arc<[BString]>,
}

/// Compiles `url.access-deny` / `url.access-allow`: a list of strings.
pub fn compile(
    key: &str,
    entry: &crate::config::value::Entry,
) -> Result<Arc<[BString]>, Vec<crate::config::Diagnostic>> {
    let bad = || {
        vec![
            crate::config::Diagnostic::error(format!(
                "{key} must be a list of strings like {key} = ( \"~\", \".inc\" )"
            ))
            .at(entry.span)
            .lighttpd(format!(
                "{key} should have been a list of string values like {key} = ( \"...\", \"...\" )"
            )),
        ]
    };
    let crate::config::value::Value::Array(a) = &entry.value else {
        return Err(bad());
    };
    a.entries()
        .iter()
        .map(|e| match (&e.key, e.value.as_str()) {
            (None, Some(s)) => Ok(s.clone()),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Into::into)
}

/// One change of a block to [`AccessSettings`].
#[derive(Debug, Clone)]
pub enum AccessSet {
    /// `url.access-deny`
    Deny(Arc<[BString]>),
    /// `url.access-allow`
    Allow(Arc<[BString]>),
}

impl AccessSettings {
    /// Applies one change.
    pub fn apply(&mut self, set: &AccessSet) {
        match set {
            AccessSet::Deny(v) => self.deny = v.clone(),
            AccessSet::Allow(v) => self.allow = v.clone(),
        }
    }

    /// True when neither list is set.
    pub fn is_off(&self) -> bool {
        self.deny.is_empty() && self.allow.is_empty()
    }

    /// True when `path` may be served.
    pub fn allows(&self, path: &[u8], ignore_case: bool) -> bool {
        let ends = |suffix: &BString| {
            if ignore_case {
                path.len() >= suffix.len()
                    && path[path.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            } else {
                path.ends_with(suffix)
            }
        };
        if !self.allow.is_empty() {
            return self.allow.iter().any(ends);
        }
        !self.deny.iter().any(ends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Arc<[BString]> {
        v.iter()
            .map(|s| BString::from(*s))
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn deny_and_allow_by_suffix() {
        let mut a = AccessSettings::default();
        a.apply(&AccessSet::Deny(list(&["~", ".inc"])));
        assert!(!a.allows(b"/x/t~", false));
        assert!(!a.allows(b"/a/x.inc", false));
        assert!(a.allows(b"/a/X.INC", false), "case-sensitive by default");
        assert!(!a.allows(b"/a/X.INC", true));
        assert!(a.allows(b"/index.html", false));
        a.apply(&AccessSet::Allow(list(&[".html", ".inc"])));
        assert!(a.allows(b"/index.html", false));
        assert!(!a.allows(b"/f.txt", false));
        assert!(
            a.allows(b"/x.inc", false),
            "an allow match skips the deny list"
        );
        a.apply(&AccessSet::Allow(list(&[])));
        a.apply(&AccessSet::Deny(list(&[""])));
        assert!(!a.allows(b"/index.html", false));
    }
}
