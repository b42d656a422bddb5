//! Regular expressions of `=~` / `!~` conditions.
//!
//! lighttpd compiles them with PCRE2. We use the `regex` crate, and fall
//! back to `fancy-regex` (built on it) for the PCRE features `regex` leaves
//! out on purpose: look-around, back-references, atomic groups and
//! possessive quantifiers. `\Q…\E` quoting is rewritten into escapes first.
//! A pattern neither accepts is refused with the reason, never ignored.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bstr::BString;

/// A compiled condition regex.
#[derive(Clone)]
pub enum Pattern {
    /// Compiled by `regex` (linear time).
    Plain(regex::bytes::Regex),
    /// Needs PCRE features: compiled by `fancy-regex`.
    Fancy(Box<fancy_regex::Regex>),
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Plain(r) => write!(f, "Plain({:?})", r.as_str()),
            Pattern::Fancy(r) => write!(f, "Fancy({:?})", r.as_str()),
        }
    }
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// The pattern is not valid UTF-8 (PCRE2 in UTF mode refuses it too).
    NotUtf8,
    /// Syntax error (from the `regex` crate, or `fancy-regex` when only it
    /// could have compiled the pattern).
    Syntax(String),
    /// More than 9 capturing groups: `%1`–`%9` cannot reach the others.
    TooManyCaptures(usize),
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::NotUtf8 => f.write_str("the pattern is not valid UTF-8"),
            PatternError::Syntax(s) => {
                // The regex crate draws its own caret over several lines;
                // keep the final "error: …" line.
                let last = s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(s);
                f.write_str(last.trim().trim_start_matches("error: "))
            }
            PatternError::TooManyCaptures(n) => write!(f, "{n} capturing groups (at most 9)"),
        }
    }
}

/// Rewrites PCRE's `\Q…\E` literal quoting into escaped text.
fn expand_quoting(p: &str) -> std::borrow::Cow<'_, str> {
    if !p.contains("\\Q") {
        return p.into();
    }
    let mut out = String::with_capacity(p.len() + 8);
    let mut rest = p;
    while let Some(i) = find_unescaped(rest, "\\Q") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let (lit, tail) = match after.find("\\E") {
            Some(j) => (&after[..j], &after[j + 2..]),
            None => (after, ""),
        };
        out.push_str(&regex::escape(lit));
        rest = tail;
    }
    out.push_str(rest);
    out.into()
}

/// Index of `needle` in `hay` where it is not itself escaped by a backslash.
fn find_unescaped(hay: &str, needle: &str) -> Option<usize> {
    let bytes = hay.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if hay[i..].starts_with(needle) {
                return Some(i);
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

/// Checks a pattern without compiling it: the syntax (with the PCRE
/// features the fallback engine supports) and the number of groups. This
/// is what loading (`-p`, `-t`) needs; compiling waits for the routing
/// table, once per distinct pattern.
pub fn validate(pattern: &[u8]) -> Result<(), PatternError> {
    let p = std::str::from_utf8(pattern).map_err(|_| PatternError::NotUtf8)?;
    let p = expand_quoting(p);
    let groups = match regex_syntax::ParserBuilder::new().build().parse(&p) {
        Ok(hir) => hir.properties().explicit_captures_len(),
        // Look-around, back-references…: only the fallback engine knows.
        Err(plain_err) => match fancy_regex::Regex::new(&p) {
            Ok(r) => r.captures_len().saturating_sub(1),
            Err(_) => return Err(PatternError::Syntax(plain_err.to_string())),
        },
    };
    condition_groups(groups)
}

/// A condition's limit: at most 9 groups (`%1`–`%9` name them).
fn condition_groups(groups: usize) -> Result<(), PatternError> {
    match groups {
        10.. => Err(PatternError::TooManyCaptures(groups)),
        _ => Ok(()),
    }
}

impl Pattern {
    /// Compiles a condition pattern.
    pub fn new(pattern: &[u8]) -> Result<Pattern, PatternError> {
        let compiled = Pattern::for_rule(pattern)?;
        compiled.condition_groups()?;
        Ok(compiled)
    }

    /// A condition's limit on its groups (all but the whole match).
    fn condition_groups(&self) -> Result<(), PatternError> {
        condition_groups(self.captures_len().saturating_sub(1))
    }

    /// Compiles the regex of a rewrite or redirect rule: unlike a condition
    /// it may have any number of groups (only `$0`–`$9` can be used).
    fn for_rule(pattern: &[u8]) -> Result<Pattern, PatternError> {
        let p = std::str::from_utf8(pattern).map_err(|_| PatternError::NotUtf8)?;
        let p = expand_quoting(p);
        match regex::bytes::Regex::new(&p) {
            Ok(r) => Ok(Pattern::Plain(r)),
            Err(plain_err) => match fancy_regex::Regex::new(&p) {
                Ok(r) if !matches!(plain_err, regex::Error::CompiledTooBig(_)) => {
                    Ok(Pattern::Fancy(Box::new(r)))
                }
                _ => Err(PatternError::Syntax(plain_err.to_string())),
            },
        }
    }

    /// The groups of the first match in `text` (group 0 is the whole
    /// match; a group that did not take part is `None`).
    pub fn captures(&self, text: &[u8]) -> Option<Vec<Option<bstr::BString>>> {
        match self {
            Pattern::Plain(r) => r.captures(text).map(|c| {
                c.iter()
                    .map(|m| m.map(|m| bstr::BString::from(m.as_bytes())))
                    .collect()
            }),
            Pattern::Fancy(r) => {
                let t = std::str::from_utf8(text).ok()?;
                r.captures(t).ok().flatten().map(|c| {
                    c.iter()
                        .map(|m| m.map(|m| bstr::BString::from(m.as_str())))
                        .collect()
                })
            }
        }
    }

    /// Number of groups including the whole match.
    pub fn captures_len(&self) -> usize {
        match self {
            Pattern::Plain(r) => r.captures_len(),
            Pattern::Fancy(r) => r.captures_len(),
        }
    }

    /// True if the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &[u8]) -> bool {
        match self {
            Pattern::Plain(r) => r.is_match(text),
            Pattern::Fancy(r) => std::str::from_utf8(text)
                .ok()
                .and_then(|t| r.is_match(t).ok())
                .unwrap_or(false),
        }
    }
}

/// The patterns compiled while one configuration is compiled, by their
/// text: a regex written many times (the same rewrite rule in every virtual
/// host, the same condition in many blocks) is compiled once and shared.
/// Compiling dominates loading a large configuration.
#[derive(Default)]
pub struct Patterns {
    compiled: HashMap<BString, Result<Arc<Pattern>, PatternError>>,
}

impl Patterns {
    /// An empty cache.
    pub fn new() -> Patterns {
        Patterns::default()
    }

    /// The pattern of a condition: at most 9 groups (`%1`–`%9`).
    pub fn condition(&mut self, pattern: &[u8]) -> Result<Arc<Pattern>, PatternError> {
        let p = self.any(pattern)?;
        p.condition_groups()?;
        Ok(p)
    }

    /// The pattern of a rewrite or redirect rule (or any other rule whose
    /// groups are numbered by `$0`–`$9` only): any number of groups.
    pub fn any(&mut self, pattern: &[u8]) -> Result<Arc<Pattern>, PatternError> {
        if let Some(r) = self.compiled.get(pattern) {
            return r.clone();
        }
        let r = Pattern::for_rule(pattern).map(Arc::new);
        self.compiled.insert(BString::from(pattern), r.clone());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What lighttpd (PCRE2) accepts, we accept.
    #[test]
    fn accepts_pcre_features() {
        for p in [
            "^/x",
            "(?<=a)b",
            "(a)\\1",
            "a++",
            "(?>a)",
            "\\Qa.b\\E",
            "(?<n>a)(b)",
        ] {
            assert!(Pattern::new(p.as_bytes()).is_ok(), "{p}");
        }
        assert!(Pattern::new(b"\\Qa.b\\E").unwrap().is_match(b"xa.bx"));
        assert!(!Pattern::new(b"^\\Qa.b\\E$").unwrap().is_match(b"axb"));
        assert!(Pattern::new(b"(?<=/)api").unwrap().is_match(b"/api"));
    }

    /// Validation agrees with compilation.
    #[test]
    fn validate_agrees_with_new() {
        for p in [
            "^/x",
            "(?<=a)b",
            "(a)\\1",
            "a++",
            "\\Qa.b\\E",
            "^/(unclosed",
            "(",
            "[a-",
            "^/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)",
            "(?<n>a)(b)(c)(d)(e)(f)(g)(h)(i)",
            "(?:a)(b)",
        ] {
            assert_eq!(
                validate(p.as_bytes()).is_ok(),
                Pattern::new(p.as_bytes()).is_ok(),
                "{p}"
            );
        }
    }

    /// Syntax errors and >9 groups are refused.
    #[test]
    fn refuses_bad_patterns() {
        assert!(matches!(
            Pattern::new(b"^/(unclosed"),
            Err(PatternError::Syntax(_))
        ));
        assert_eq!(
            Pattern::new(b"^/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)").unwrap_err(),
            PatternError::TooManyCaptures(10)
        );
        assert!(Pattern::new(b"(?<n>a)(b)(c)(d)(e)(f)(g)(h)(i)").is_ok());
        assert_eq!(Pattern::new(b"\xff").unwrap_err(), PatternError::NotUtf8);
    }

    /// A pattern written many times is compiled once; the group limit is
    /// the caller's, whichever asked first.
    #[test]
    fn patterns_compile_each_text_once() {
        let mut ps = Patterns::new();
        let a = ps.any(b"^/(.*)$").unwrap();
        let b = ps.condition(b"^/(.*)$").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &ps.any(b"^/(.+)$").unwrap()));
        let ten = b"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)";
        assert_eq!(
            ps.condition(ten).unwrap_err(),
            PatternError::TooManyCaptures(10)
        );
        assert_eq!(ps.any(ten).unwrap().captures_len(), 11);
        assert_eq!(
            ps.condition(ten).unwrap_err(),
            PatternError::TooManyCaptures(10)
        );
        assert_eq!(ps.any(b"(").unwrap_err(), ps.condition(b"(").unwrap_err());
        assert_eq!(ps.compiled.len(), 4);
    }
}
