//! mod_alias: `alias.url = ( "/url-prefix" => "/file/system/path" )`
//! (lighttpd: `mod_alias.c`). The first prefix of the decoded URL path
//! that matches (case-insensitively with `server.force-lowercase-filenames`)
//! replaces the document root: the file is the target followed by the rest
//! of the path, concatenated as written. A list where an earlier prefix
//! hides a later one is refused at load, as lighttpd does.
//!
//! An alias written without a trailing `/` to a directory written with one
//! (`"/img" => "/srv/img/"`) would let `/img../x` reach `/srv/img/../x`;
//! a rest that starts with a `.` or `..` segment gets 403 (`/img..png`
//! is a file name and is served).

use std::sync::Arc;

use bstr::BString;

use crate::config::Diagnostic;
use crate::config::value::{Entry, Value};

/// `alias.url` in effect for a request: (prefix, target) in written order.
pub type AliasList = Arc<[(BString, BString)]>;

/// Where a request's file is looked up.
#[derive(Debug, PartialEq, Eq)]
pub enum Mapped<'a> {
    /// No alias applies: the document root and the whole path.
    None,
    /// An alias applies: its target and the rest of the path.
    Alias {
        /// The file-system directory (or file) the prefix stands for.
        root: &'a [u8],
        /// The part of the path after the prefix.
        rest: &'a [u8],
    },
    /// A path that would climb out of an alias target: 403.
    Forbidden,
}

/// Finds the alias of `path`.
pub fn map<'a>(list: &'a [(BString, BString)], path: &'a [u8], ignore_case: bool) -> Mapped<'a> {
    for (prefix, target) in list {
        let hit = path.len() >= prefix.len()
            && if ignore_case {
                path[..prefix.len()].eq_ignore_ascii_case(prefix)
            } else {
                path.starts_with(prefix)
            };
        if !hit {
            continue;
        }
        let rest = &path[prefix.len()..];
        // "/img" => "/srv/img/": "/img../x" would be "/srv/img/../x"
        // (lighttpd refuses a rest that is a `.` or `..` segment)
        let dot_segment = |r: &[u8]| {
            let seg = r.split(|&b| b == b'/').next().unwrap_or_default();
            seg == b"." || seg == b".."
        };
        if !prefix.ends_with(b"/") && target.ends_with(b"/") && dot_segment(rest) {
            return Mapped::Forbidden;
        }
        return Mapped::Alias { root: target, rest };
    }
    Mapped::None
}

/// Compiles an `alias.url` value.
pub fn compile(entry: &Entry) -> Result<AliasList, Vec<Diagnostic>> {
    let Value::Array(a) = &entry.value else {
        return Err(vec![
            Diagnostic::error("alias.url must be a list of \"/url-prefix\" => \"/path\" pairs")
                .at(entry.span),
        ]);
    };
    let mut out: Vec<(BString, BString)> = Vec::new();
    let mut errors = Vec::new();
    for e in a.entries() {
        let (Some(k), Some(v)) = (e.key.as_ref(), e.value.as_str()) else {
            errors.push(
                Diagnostic::error("alias.url: each entry must be \"/url-prefix\" => \"/path\"")
                    .at(e.span),
            );
            continue;
        };
        if let Some((earlier, _)) = out.iter().find(|(p, _)| k.starts_with(p)) {
            errors.push(
                Diagnostic::error(format!(
                    "alias.url: `{}` never matches: `{}` before it matches first",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(earlier)
                ))
                .at(e.span)
                .help("list the longer prefix first")
                .note(format!(
                    "lighttpd 1.4.69: alias.url: `{}' will never match as `{}' matched first",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(earlier)
                )),
            );
            continue;
        }
        out.push((k.clone(), v.clone()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[(&str, &str)]) -> Vec<(BString, BString)> {
        v.iter()
            .map(|(a, b)| (BString::from(*a), BString::from(*b)))
            .collect()
    }

    #[test]
    fn first_prefix_and_trailing_slash_rules() {
        let l = list(&[
            ("/img", "/srv/other/"),
            ("/b/", "/srv/other"),
            ("/c", "/srv/other"),
        ]);
        assert_eq!(
            map(&l, b"/img/o.txt", false),
            Mapped::Alias {
                root: b"/srv/other/",
                rest: b"/o.txt"
            }
        );
        assert_eq!(map(&l, b"/img../secret", false), Mapped::Forbidden);
        assert_eq!(map(&l, b"/img..", false), Mapped::Forbidden);
        assert_eq!(map(&l, b"/img./x", false), Mapped::Forbidden);
        assert_eq!(
            map(&l, b"/img..png", false),
            Mapped::Alias {
                root: b"/srv/other/",
                rest: b"..png"
            }
        );
        assert_eq!(
            map(&l, b"/c../d.txt", false),
            Mapped::Alias {
                root: b"/srv/other",
                rest: b"../d.txt"
            }
        );
        assert_eq!(map(&l, b"/IMG/o.txt", false), Mapped::None);
        assert!(matches!(map(&l, b"/IMG/o.txt", true), Mapped::Alias { .. }));
        assert_eq!(map(&l, b"/x", false), Mapped::None);
    }
}
