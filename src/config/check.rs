//! The checks lighttpd runs on the evaluated tree before `-p` prints it and
//! before modules load (spec §11.1, §11.2, §9.8; lighttpd:
//! `config_insert_values_global`, `config_check_cond_nw` in
//! `configfile-glue.c` and `config_insert` in `configfile.c`): core
//! directive types and scopes, two in-place rewrites, condition regexes.

use bstr::BString;

use super::ast::CondOp;
use super::cond::Field;
use super::diag::Diagnostic;
use super::keys::{self, KeyType, Scope};
use super::pattern::{self, PatternError};
use super::tree::{Block, BlockKind};
use super::value::{Entry, Value, show};

/// TLS modules: any of them handles `ssl.*` keys.
pub const TLS_MODULES: &[&str] = &[
    "mod_openssl",
    "mod_gnutls",
    "mod_mbedtls",
    "mod_nss",
    "mod_wolfssl",
];

/// Runs the checks; returns the errors (fatal) and warnings, and applies the
/// rewrites `-p` shows.
pub fn check(blocks: &mut [Block]) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut uses_ssl = false;
    for (id, block) in blocks.iter_mut().enumerate() {
        let socket_eq = block.cond.as_ref().is_some_and(|c| {
            c.field == Field::ServerSocket && c.op == CondOp::Eq && block.kind == BlockKind::Cond
        });
        let top = id == 0;
        if let Some(c) = &block.cond {
            if block.kind == BlockKind::Cond && matches!(c.op, CondOp::Match | CondOp::NoMatch) {
                if let Err(e) = pattern::validate(&c.value) {
                    errors.push(regex_error(&c.value, c.value_span, &e));
                }
            }
        }
        for entry in block.entries.entries() {
            let Some(key) = entry.key.as_ref() else {
                continue;
            };
            if key.len() > 4 && key[..4].eq_ignore_ascii_case(b"ssl.") {
                uses_ssl = true;
            }
            let Some(ck) = keys::core_key(key) else {
                continue;
            };
            match ck.scope {
                Scope::Server if !top => warnings.push(
                    Diagnostic::warning(format!("server option `{}` in a condition is ignored", ck.name))
                        .at(entry.key_span)
                        .label("only takes effect at the top level")
                        .help("move it out of the condition block")
                        .lighttpd(format!(
                            "DEPRECATED: do not set server options in conditionals, variable: {}",
                            ck.name
                        )),
                ),
                Scope::Socket if !top && !socket_eq => warnings.push(
                    Diagnostic::warning(format!("`{}` here is ignored", ck.name))
                        .at(entry.key_span)
                        .label("only takes effect at the top level or directly inside $SERVER[\"socket\"] == \"…\"")
                        .help("move it into the $SERVER[\"socket\"] == \"…\" block of the listener")
                        .lighttpd(format!(
                            "WARNING: {} must be in global scope or $SERVER[\"socket\"] with '==', or else is ignored",
                            ck.name
                        )),
                ),
                _ => {}
            }
            if let Some(d) = check_type(ck.name, ck.ty, entry) {
                errors.push(d);
                continue;
            }
            if top {
                errors.extend(check_value(ck.name, entry));
            }
        }
        rewrite(block);
    }
    if uses_ssl {
        let listed = blocks[0]
            .entries
            .get(b"server.modules")
            .and_then(|e| e.value.as_array())
            .is_some_and(|a| {
                a.entries().iter().any(|m| {
                    m.value
                        .as_str()
                        .is_some_and(|s| TLS_MODULES.iter().any(|t| s == t.as_bytes()))
                })
            });
        if !listed {
            warnings.push(
                Diagnostic::warning("ssl.* settings are used but no TLS module is listed in server.modules")
                    .help("add \"mod_openssl\" to server.modules; lighttpd (and wick) load it implicitly for now")
                    .lighttpd("Warning: please add \"mod_openssl\" to server.modules list in lighttpd.conf."),
            );
        }
    }
    (errors, warnings)
}

fn regex_error(value: &BString, at: super::source::Span, e: &PatternError) -> Diagnostic {
    let d = Diagnostic::error(match e {
        PatternError::TooManyCaptures(_) => format!("too many capturing groups in regex: {value}"),
        _ => format!("cannot compile regex: {value}"),
    })
    .at(at)
    .label(e.to_string());
    match e {
        PatternError::TooManyCaptures(_) => d
            .help("use (?:...) for groups that need not be captured; %1-%9 reach only nine")
            .lighttpd(format!(
                "Too many captures in regex, use (?:...) instead of (...): {value}"
            )),
        _ => d.lighttpd(format!("pcre2_compile error for regex: {value}")),
    }
}

/// A value as diagnostics name it ("the string \"x\"", "a list").
pub(crate) fn describe_value(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("the string \"{}\"", show(s)),
        Value::Int(i) => format!("the integer {i}"),
        Value::Array(_) => "a list".into(),
    }
}

/// The type check of one core directive; `None` when it passes.
pub(crate) fn check_type(name: &str, ty: KeyType, entry: &Entry) -> Option<Diagnostic> {
    let v = &entry.value;
    let err = |expect: &str, lighttpd: String| {
        Some(
            Diagnostic::error(format!("`{name}` expects {expect}"))
                .at(entry.span)
                .label(format!("found {}", describe_value(v)))
                .lighttpd(lighttpd),
        )
    };
    let list_like = || format!("{name} should have been a list like {name} = ( \"...\" )");
    match (ty, v) {
        (KeyType::Str, Value::Str(_)) => None,
        (KeyType::Str, _) => err(
            "a string",
            format!("{name} should have been a string like ... = \"...\""),
        ),
        (KeyType::Short, Value::Int(_)) | (KeyType::Int, Value::Int(_)) => None,
        (KeyType::Short, Value::Str(s)) => match keys::parse_number(s) {
            Some(n) if (0..=65535).contains(&n) => None,
            _ => err(
                "a number from 0 to 65535",
                format!("got a string but expected a short: {name} {}", show(s)),
            ),
        },
        (KeyType::Short, Value::Array(_)) => err(
            "a number from 0 to 65535",
            format!("unexpected type for key: {name} 1 expected a short integer, range 0 ... 65535"),
        ),
        (KeyType::Int, Value::Str(s)) => match keys::parse_number(s) {
            Some(n) if n >= 0 => None,
            _ => err(
                "a non-negative number",
                format!("got a string but expected an integer: {name} {}", show(s)),
            ),
        },
        (KeyType::Int, Value::Array(_)) => err(
            "a non-negative number",
            format!("unexpected type for key: {name} 1 expected an integer, range 0 ... 4294967295"),
        ),
        (KeyType::Bool, Value::Int(_)) => None,
        (KeyType::Bool, Value::Str(s)) if keys::parse_bool(s).is_some() => None,
        (KeyType::Bool, _) => err(
            "\"enable\" or \"disable\"",
            format!("ERROR: unexpected type for key: {name} (string) \"(enable|disable)\""),
        )
        .map(|d| d.help("also accepted: \"enabled\", \"disabled\", \"true\", \"false\", \"1\", \"0\", or an integer")),
        (KeyType::StrList | KeyType::KvStr | KeyType::KvAny, Value::Str(_) | Value::Int(_)) => {
            err("a list", list_like()).map(|d| d.help(format!("write {name} = ( … )")))
        }
        (KeyType::StrList, Value::Array(a)) => {
            let bad = a.entries().iter().find(|e| e.key.is_some() || !matches!(e.value, Value::Str(_)));
            bad.map(|e| {
                Diagnostic::error(format!("`{name}` expects a list of strings"))
                    .at(e.span)
                    .label(if e.key.is_some() { "a key => value entry" } else { "not a string" })
                    .lighttpd(format!(
                        "{name} should have been a list of string values like {name} = ( \"...\", \"...\" )"
                    ))
            })
        }
        (KeyType::KvStr, Value::Array(a)) => {
            let bad = a.entries().iter().find(|e| e.key.is_none() || !matches!(e.value, Value::Str(_)));
            bad.map(|e| {
                Diagnostic::error(format!("`{name}` expects a list of \"key\" => \"string\" entries"))
                    .at(e.span)
                    .label(if e.key.is_none() { "no key" } else { "value is not a string" })
                    .lighttpd(format!(
                        "{name} should have been a list of key => string values like {name} = ( \"...\" => \"...\", \"...\" => \"...\" )"
                    ))
            })
        }
        (KeyType::KvAny, Value::Array(a)) => a.entries().iter().find(|e| e.key.is_none()).map(|e| {
            Diagnostic::error(format!("`{name}` expects a list of \"key\" => value entries"))
                .at(e.span)
                .label("no key")
                .lighttpd(format!(
                    "{name} should have been a list of key => values like {name} = ( \"...\" => \"...\", \"...\" => \"...\" )"
                ))
        }),
    }
}

/// Value checks lighttpd runs on top-level core settings.
fn check_value(name: &str, entry: &Entry) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match (name, &entry.value) {
        ("server.http-parseopts", Value::Array(a)) => {
            for e in a.entries() {
                let (Some(k), Value::Str(v)) = (&e.key, &e.value) else {
                    continue;
                };
                if !keys::HTTP_PARSEOPTS
                    .iter()
                    .any(|o| o.as_bytes() == k.as_slice())
                {
                    let mut d = Diagnostic::error(format!(
                        "unknown server.http-parseopts option `{}`",
                        show(k)
                    ))
                    .at(e.key_span)
                    .lighttpd(format!(
                        "unrecognized key for server.http-parseopts: {}",
                        show(k)
                    ));
                    if let Some(s) =
                        super::suggest::closest(&show(k), keys::HTTP_PARSEOPTS.iter().copied())
                    {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                    out.push(d);
                } else if keys::parse_bool(v).is_none() {
                    out.push(
                        Diagnostic::error(format!(
                            "server.http-parseopts option `{}` must be \"enable\" or \"disable\"",
                            show(k)
                        ))
                        .at(e.span)
                        .label(format!("found \"{}\"", show(v)))
                        .lighttpd(format!(
                            "unrecognized value for server.http-parseopts: {} => {} (expect \"[enable|disable]\")",
                            show(k),
                            show(v)
                        )),
                    );
                }
            }
        }
        ("server.stat-cache-engine", Value::Str(v))
            if !keys::STAT_CACHE_ENGINES
                .iter()
                .any(|s| s.as_bytes() == v.as_slice()) =>
        {
            out.push(
                Diagnostic::error(format!("unknown server.stat-cache-engine `{}`", show(v)))
                    .at(entry.span)
                    .help("use one of \"disable\", \"simple\", \"inotify\", \"fam\"")
                    .lighttpd(format!(
                        "server.stat-cache-engine can be one of \"disable\", \"simple\", \"inotify\", \"fam\", but not: {}",
                        show(v)
                    )),
            );
        }
        _ => {}
    }
    out
}

/// The two rewrites of spec §11.2, visible in `-p`.
fn rewrite(block: &mut Block) {
    let entries = &mut block.entries;
    if let Some(e) = entries.get_mut(b"mimetype.assign") {
        if let Value::Array(a) = &mut e.value {
            if let Some(js) = a.get_mut(b".js") {
                if js
                    .value
                    .as_str()
                    .is_some_and(|s| s == "application/javascript")
                {
                    js.value = Value::Str("text/javascript".into());
                }
            }
        }
    }
    if let Some(e) = entries.get_mut(b"server.tag") {
        if let Value::Str(s) = &mut e.value {
            *s = normalize_tag(s);
        }
    }
}

/// `server.tag`: blank-only becomes empty; a line feed not followed by a
/// space or tab gets a space (so the Server header stays one folded line).
fn normalize_tag(s: &[u8]) -> BString {
    if s.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
        return BString::from("");
    }
    let mut out = Vec::with_capacity(s.len() + 2);
    for (i, &b) in s.iter().enumerate() {
        out.push(b);
        if b == b'\n' && !matches!(s.get(i + 1), Some(b' ' | b'\t')) {
            out.push(b' ');
        }
    }
    BString::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calibrated against lighttpd 1.4.69 (CRLF, trailing LF, lone CR).
    #[test]
    fn server_tag_rewrite() {
        assert_eq!(normalize_tag(b"multi\nline"), "multi\n line");
        assert_eq!(normalize_tag(b"a\r\nb"), "a\r\n b");
        assert_eq!(normalize_tag(b"a\nb\n"), "a\n b\n ");
        assert_eq!(normalize_tag(b"a\n\tb\rc"), "a\n\tb\rc");
        assert_eq!(normalize_tag(b" \t\r\n"), "");
        assert_eq!(normalize_tag(b" a"), " a");
    }

    /// The lighttpd wording is kept for comparison with its logs.
    #[test]
    fn short_type_error_names_key_and_value() {
        let e = Entry {
            key: Some("server.port".into()),
            value: Value::Str("eighty".into()),
            span: Default::default(),
            key_span: Default::default(),
        };
        let d = check_type("server.port", KeyType::Short, &e).unwrap();
        assert_eq!(
            d.lighttpd.as_deref(),
            Some("got a string but expected a short: server.port eighty")
        );
    }
}
