//! The rule lists of mod_rewrite and mod_redirect: `( "regex" => "template" )`
//! pairs, tried in order against the request target, and the template
//! language their replacements are written in (lighttpd: `keyvalue.c`).
//!
//! | in a template | becomes |
//! |---|---|
//! | `$0`–`$9` | a group of the rule's own regex (empty when it did not take part) |
//! | `%0`–`%9` | a group of the condition of the block the rule list was set in |
//! | `$$`, `%%` | a literal `$`, `%` |
//! | `${url.scheme}`, `${url.authority}`, `${url.port}`, `${url.path}`, `${url.query}` | parts of the request |
//! | `${qsa}` | the query appended: `?query`, or `&query` when the result already has a `?`; nothing without a query |
//! | `${escape:…}` / `${esc:…}`, `${urlenc:…}`, `${noesc:…}`, `${encb64u:…}`, `${decb64u:…}` | a `$n`, `%n` or `url.*` value, encoded |
//! | `${tolower:…}`, `${toupper:…}`, any other `${…}` | nothing (an unknown encoder name inserts the value as it is) |
//!
//! Everything else is copied as written (a `$` or `%` not followed by a
//! digit, `$`/`%` or `{` included). Values are inserted as they are,
//! without encoding, unless an encoder says otherwise.

use std::sync::Arc;

use base64::Engine as _;
use bstr::BString;

use crate::config::Diagnostic;
use crate::config::pattern::{Pattern, Patterns};
use crate::config::value::{Entry, Value};

/// A part of the request a template can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlPart {
    /// `${url.scheme}`
    Scheme,
    /// `${url.authority}`
    Authority,
    /// `${url.port}`: the port of the listener the request came in on.
    Port,
    /// `${url.path}`: the normalised, still-encoded path.
    Path,
    /// `${url.query}`
    Query,
}

/// How a `${enc:…}` value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `escape:` / `esc:`: everything but unreserved characters is
    /// percent-encoded, `%` included.
    Escape,
    /// `urlenc:`: like `escape`, but `/` and existing `%XX` escapes stay.
    UrlEnc,
    /// `noesc:`: as it is.
    None,
    /// `encb64u:`: base64url without padding.
    B64Encode,
    /// `decb64u:`: base64url decoded (nothing if it does not decode).
    B64Decode,
}

/// A value a template inserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `$n`
    Rule(u8),
    /// `%n`
    Cond(u8),
    /// `${url.*}`
    Url(UrlPart),
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text copied as it is.
    Lit(BString),
    /// A value, encoded.
    Value(Source, Encoding),
    /// `${qsa}`
    Qsa,
}

/// A parsed replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Its pieces in order.
    pub pieces: Vec<Piece>,
    /// It uses `%n` (the condition's groups are only found then).
    reads_cond: bool,
}

impl Template {
    /// Parses a replacement (any text is valid).
    pub fn parse(text: &[u8]) -> Template {
        let mut pieces = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let c = text[i];
            let next = text.get(i + 1).copied();
            if (c == b'$' || c == b'%') && next.is_some_and(|n| n.is_ascii_digit()) {
                let n = next.unwrap_or(b'0') - b'0';
                flush(&mut lit, &mut pieces);
                let src = if c == b'$' {
                    Source::Rule(n)
                } else {
                    Source::Cond(n)
                };
                pieces.push(Piece::Value(src, Encoding::None));
                i += 2;
            } else if (c == b'$' || c == b'%') && next == Some(c) {
                lit.push(c);
                i += 2;
            } else if c == b'$' && next == Some(b'{') {
                flush(&mut lit, &mut pieces);
                let body_start = i + 2;
                match text[body_start..].iter().position(|&b| b == b'}') {
                    Some(len) => {
                        if let Some(p) = expansion(&text[body_start..body_start + len]) {
                            pieces.push(p);
                        }
                        i = body_start + len + 1;
                    }
                    // An unterminated expansion ends the template.
                    None => break,
                }
            } else {
                lit.push(c);
                i += 1;
            }
        }
        flush(&mut lit, &mut pieces);
        let reads_cond = pieces
            .iter()
            .any(|p| matches!(p, Piece::Value(Source::Cond(_), _)));
        Template { pieces, reads_cond }
    }

    /// True when the template uses `%n`.
    pub fn uses_cond(&self) -> bool {
        self.reads_cond
    }
}

fn flush(lit: &mut Vec<u8>, pieces: &mut Vec<Piece>) {
    if !lit.is_empty() {
        pieces.push(Piece::Lit(BString::from(std::mem::take(lit))));
    }
}

/// The piece of one `${…}` body; `None` for names lighttpd does not know
/// (they expand to nothing).
fn expansion(body: &[u8]) -> Option<Piece> {
    if body == b"qsa" {
        return Some(Piece::Qsa);
    }
    let (enc, name) = match body.iter().position(|&b| b == b':') {
        Some(i) => {
            let enc = match &body[..i] {
                b"escape" | b"esc" => Encoding::Escape,
                b"urlenc" => Encoding::UrlEnc,
                b"noesc" => Encoding::None,
                b"encb64u" => Encoding::B64Encode,
                b"decb64u" => Encoding::B64Decode,
                // lighttpd 1.4.69 knows these names but expands them to
                // nothing
                b"tolower" | b"toupper" => return None,
                // an unknown encoder inserts the value as it is
                _ => Encoding::None,
            };
            (enc, &body[i + 1..])
        }
        None => (Encoding::None, body),
    };
    let src = match name {
        b"url.scheme" => Source::Url(UrlPart::Scheme),
        b"url.authority" => Source::Url(UrlPart::Authority),
        b"url.port" => Source::Url(UrlPart::Port),
        b"url.path" => Source::Url(UrlPart::Path),
        b"url.query" => Source::Url(UrlPart::Query),
        [s @ (b'$' | b'%'), d] if d.is_ascii_digit() => {
            if *s == b'$' {
                Source::Rule(d - b'0')
            } else {
                Source::Cond(d - b'0')
            }
        }
        _ => return None,
    };
    Some(Piece::Value(src, enc))
}

/// What a template reads from the request.
#[derive(Debug, Clone, Copy)]
pub struct UrlParts<'a> {
    /// `http` / `https`.
    pub scheme: &'a [u8],
    /// The request's authority.
    pub authority: &'a [u8],
    /// The listener's port.
    pub port: u16,
    /// The normalised, encoded path.
    pub path: &'a [u8],
    /// The query (`None`: no `?`).
    pub query: Option<&'a [u8]>,
}

/// Groups of a match: `groups[n]` is group `n`, if it took part.
pub type Groups = Vec<Option<BString>>;

impl Template {
    /// The replacement for one match.
    pub fn expand(&self, rule: &Groups, cond: &Groups, url: &UrlParts<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(t) => out.extend_from_slice(t),
                Piece::Qsa => {
                    if let Some(q) = url.query.filter(|q| !q.is_empty()) {
                        out.push(if out.contains(&b'?') { b'&' } else { b'?' });
                        out.extend_from_slice(q);
                    }
                }
                Piece::Value(src, enc) => {
                    let port;
                    let value: &[u8] = match src {
                        Source::Rule(n) => group(rule, *n),
                        Source::Cond(n) => group(cond, *n),
                        Source::Url(UrlPart::Scheme) => url.scheme,
                        Source::Url(UrlPart::Authority) => url.authority,
                        Source::Url(UrlPart::Port) => {
                            port = url.port.to_string();
                            port.as_bytes()
                        }
                        Source::Url(UrlPart::Path) => url.path,
                        Source::Url(UrlPart::Query) => url.query.unwrap_or_default(),
                    };
                    encode(value, *enc, &mut out);
                }
            }
        }
        out
    }
}

fn group(g: &Groups, n: u8) -> &[u8] {
    g.get(usize::from(n))
        .and_then(|v| v.as_ref())
        .map_or(&b""[..], |v| v.as_slice())
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn encode(value: &[u8], enc: Encoding, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let pct = |b: u8, out: &mut Vec<u8>| {
        out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    };
    match enc {
        Encoding::None => out.extend_from_slice(value),
        Encoding::Escape => {
            for &b in value {
                if unreserved(b) {
                    out.push(b);
                } else {
                    pct(b, out);
                }
            }
        }
        Encoding::UrlEnc => {
            let mut i = 0;
            while i < value.len() {
                let b = value[i];
                let escape = b == b'%'
                    && value.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && value.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
                if escape {
                    out.push(b'%');
                    out.push(value[i + 1].to_ascii_uppercase());
                    out.push(value[i + 2].to_ascii_uppercase());
                    i += 3;
                    continue;
                }
                if unreserved(b) || b == b'/' {
                    out.push(b);
                } else {
                    pct(b, out);
                }
                i += 1;
            }
        }
        Encoding::B64Encode => {
            out.extend_from_slice(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(value)
                    .as_bytes(),
            );
        }
        Encoding::B64Decode => {
            if let Ok(d) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value) {
                out.extend_from_slice(&d);
            }
        }
    }
}

/// One `"regex" => "template"` pair.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The pattern, matched against the request target.
    pub pattern: Arc<Pattern>,
    /// The replacement.
    pub template: Template,
}

/// A rule list and the block it was set in (whose condition `%n` reads).
#[derive(Debug, Clone)]
pub struct RuleList {
    /// The rules in order.
    pub rules: Arc<[Rule]>,
    /// The number of the block the list was set in.
    pub block: usize,
}

impl RuleList {
    /// The first rule that matches `subject`, with its groups.
    pub fn first_match(&self, subject: &[u8]) -> Option<(&Rule, Groups)> {
        self.rules
            .iter()
            .find_map(|r| r.pattern.captures(subject).map(|g| (r, g)))
    }
}

/// Compiles a `url.rewrite*` / `url.redirect` value set in block `block`,
/// each regex through `patterns`.
pub fn compile_rules(
    key: &str,
    entry: &Entry,
    block: usize,
    patterns: &mut Patterns,
) -> Result<RuleList, Vec<Diagnostic>> {
    let Value::Array(a) = &entry.value else {
        return Err(vec![
            Diagnostic::error(format!(
                "{key} must be a list of \"regex\" => \"replacement\" pairs"
            ))
            .at(entry.span),
        ]);
    };
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for e in a.entries() {
        let (Some(k), Some(v)) = (e.key.as_ref(), e.value.as_str()) else {
            errors.push(
                Diagnostic::error(format!(
                    "{key}: each entry must be \"regex\" => \"replacement\""
                ))
                .at(e.span),
            );
            continue;
        };
        match patterns.any(k) {
            Ok(pattern) => rules.push(Rule {
                pattern,
                template: Template::parse(v),
            }),
            Err(err) => errors.push(
                Diagnostic::error(format!(
                    "{key}: cannot compile the regex `{}`: {err}",
                    String::from_utf8_lossy(k)
                ))
                .at(e.span),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RuleList {
        rules: rules.into(),
        block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: &[&str]) -> Groups {
        v.iter().map(|s| Some(BString::from(*s))).collect()
    }

    const URL: UrlParts<'static> = UrlParts {
        scheme: b"http",
        authority: b"host.example:81",
        port: 18777,
        path: b"/s2/p/aA",
        query: Some(b"x=1&y"),
    };

    fn expand(t: &str, rule: &[&str], cond: &[&str]) -> String {
        String::from_utf8(Template::parse(t.as_bytes()).expand(&g(rule), &g(cond), &URL))
            .expect("utf-8")
    }

    #[test]
    fn captures_and_literals_as_lighttpd_writes_them() {
        // lighttpd 1.4.69: "/x/$1/%0/%1/%3/%9/$9/$$/%%/$/%/$a%b/$" with
        // $1 = "a%20b?q=1", %0 = "host.example:81", %1 = "h", %3 = "example:81"
        assert_eq!(
            expand(
                "/x/$1/%0/%1/%3/%9/$9/$$/%%/$/%/$a%b/$",
                &["/s1/a%20b?q=1", "a%20b?q=1"],
                &["host.example:81", "h", "o", "example:81"]
            ),
            "/x/a%20b?q=1/host.example:81/h/example:81///$/%/$/%/$a%b/$"
        );
        assert_eq!(expand("\\$1\\%1", &["", "zz"], &["", "h"]), "\\zz\\h");
    }

    #[test]
    fn url_parts_qsa_and_unknown_expansions() {
        assert_eq!(
            expand(
                "${url.scheme}|${url.authority}|${url.port}|${url.path}|${url.query}|${qsa}|${foo}|${url.path",
                &[],
                &[]
            ),
            "http|host.example:81|18777|/s2/p/aA|x=1&y|?x=1&y||"
        );
        assert_eq!(expand("/y?${qsa}", &[], &[]), "/y?&x=1&y");
        let none = UrlParts { query: None, ..URL };
        assert_eq!(
            Template::parse(b"/y?${qsa}").expand(&g(&[]), &g(&[]), &none),
            b"/y?"
        );
    }

    #[test]
    fn encoders() {
        let t = "${escape:$1}|${urlenc:$1}|${noesc:$1}|${esc:$1}|${encb64u:$1}|${tolower:$1}";
        assert_eq!(
            expand(t, &["", "AbC/d?q"], &[]),
            "AbC%2Fd%3Fq|AbC/d%3Fq|AbC/d?q|AbC%2Fd%3Fq|QWJDL2Q_cQ|"
        );
        assert_eq!(
            expand("${escape:$1}|${urlenc:$1}", &["", "a%20b%C3%A9"], &[]),
            "a%2520b%25C3%25A9|a%20b%C3%A9"
        );
        assert_eq!(expand("${decb64u:$1}", &["", "QWJDL2Q_cQ"], &[]), "AbC/d?q");
        assert_eq!(
            expand("/u${nosuch:$1}${url.nosuch}/", &["", "x"], &[]),
            "/ux/"
        );
    }

    #[test]
    fn rules_match_in_order_with_groups() {
        let env = crate::config::Environment::sandboxed();
        let text = "url.rewrite-once = ( \"^/a/(.*)\" => \"/b/$1\", \"^/(.*)\" => \"/c/$1\" )\n";
        let conf = crate::config::load(b"t.conf", text.as_bytes().to_vec(), &env).expect("loads");
        let entry = conf
            .top()
            .entries
            .get(b"url.rewrite-once")
            .expect("set")
            .clone();
        let list =
            compile_rules("url.rewrite-once", &entry, 0, &mut Patterns::new()).expect("compiles");
        let (rule, groups) = list.first_match(b"/a/x").expect("matches");
        assert_eq!(rule.template.expand(&groups, &Vec::new(), &URL), b"/b/x");
        let (rule, groups) = list.first_match(b"/z").expect("matches");
        assert_eq!(rule.template.expand(&groups, &Vec::new(), &URL), b"/c/z");
    }
}
