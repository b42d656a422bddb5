//! Request-target normalisation, measured against lighttpd 1.4.69.
//!
//! How the evidence was taken: lighttpd ran on 127.0.0.1 with
//! `server.http-parseopts` set as in each row's first column (empty: not
//! set) and `magnet.attract-physical-path-to` running a Lua script that
//! answered `uri.path`, `uri.path-raw`, `uri.query` and `request.uri` for
//! `GET <target> HTTP/1.1`. [`MEASURED`] holds one row per request:
//! `Good(path, path_raw, query)` for a 200 (`None`: no `?`), `Bad` for a
//! 400; `path_raw` is `request.uri` without `?query` (mod_magnet's own
//! `uri.path-raw` agrees except for the required-mode `?` quirk). The same
//! targets sent through mod_proxy to an echoing backend arrived upstream
//! with exactly that request line, and `$HTTP["url"] == "…"` conditions
//! matched the decoded `path` (e.g. `/cond//a b/\xc3\xa9` and
//! `/cond/a%20b/../a%20b/%C3%A9` matched `"/cond/a b/é"`, `/cond/a%2fb`
//! matched `"/cond/a/b"`), `$HTTP["querystring"]` matched the normalised
//! query (`?x=%41%20b+c&d=%2f` matched `"x=A%20b+c&d=%2F"`; no `?` and a
//! bare `?` both matched `""`).
//!
//! Not measurable here: `url-path-backslash-trans` (lighttpd applies it
//! only on Windows/Cygwin builds; enabling it changed nothing), and the
//! absolute-form `GET http://h/a` (lighttpd takes `/a` as the target and
//! `h` as the Host; splitting it is the caller's job).

use super::*;
use crate::config::source::Span;
use crate::config::value::{Array, Entry, Value};

/// What lighttpd answered.
enum Expect {
    /// 200 with `uri.path`, `uri.path-raw`, `uri.query`.
    Good(&'static [u8], &'static [u8], Option<&'static [u8]>),
    /// 400.
    Bad,
}
use Expect::{Bad, Good};

/// `server.http-parseopts` written as `key=value,key=value`.
pub(crate) fn opts(list: &str) -> ParseOpts {
    if list.is_empty() {
        return ParseOpts::default();
    }
    let mut a = Array::new();
    for kv in list.split(',') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        a.push(Entry {
            key: Some(k.into()),
            value: Value::Str(v.into()),
            span: Span::default(),
            key_span: Span::default(),
        });
    }
    ParseOpts::from_entries(Some(&Value::Array(a)), |_| None)
}

fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

/// Each request and lighttpd 1.4.69's answer.
#[rustfmt::skip]
const MEASURED: &[(&str, &[u8], Expect)] = &[
    ("", b"/", Good(b"/", b"/", None)),
    ("", b"/a/b", Good(b"/a/b", b"/a/b", None)),
    ("", b"/a?", Good(b"/a", b"/a", Some(b""))),
    ("", b"/a?b", Good(b"/a", b"/a", Some(b"b"))),
    ("", b"/??", Good(b"/", b"/", Some(b"?"))),
    ("", b"/a?b?c", Good(b"/a", b"/a", Some(b"b?c"))),
    ("", b"/a#frag", Good(b"/a", b"/a", None)),
    ("", b"/a?b#frag", Good(b"/a", b"/a", Some(b"b"))),
    ("", b"/a#b?c", Good(b"/a", b"/a", None)),
    ("", b"/%7e%7E%c3%a9", Good(b"/~~\xc3\xa9", b"/~~%C3%A9", None)),
    ("", b"/%41%2d%5f%2e%30", Good(b"/A-_.0", b"/A-_.0", None)),
    ("", b"/q?b=%41%20+c", Good(b"/q", b"/q", Some(b"b=A%20+c"))),
    ("", b"/q?a=%7e&b=%2f%2F", Good(b"/q", b"/q", Some(b"a=~&b=%2F%2F"))),
    ("", b"/d%2Fe?q=%2F", Good(b"/d/e", b"/d/e", Some(b"q=%2F"))),
    ("", b"/d%2fe", Good(b"/d/e", b"/d/e", None)),
    ("", b"/x/../y", Good(b"/y", b"/y", None)),
    ("", b"/a%20b/../c/./d", Good(b"/c/d", b"/c/d", None)),
    ("", b"/a//b", Good(b"/a/b", b"/a/b", None)),
    ("", b"//a", Good(b"/a", b"/a", None)),
    ("", b"///", Good(b"/", b"/", None)),
    ("", b"/a///b/", Good(b"/a/b/", b"/a/b/", None)),
    ("", b"/a/./b", Good(b"/a/b", b"/a/b", None)),
    ("", b"/a/.", Good(b"/a/", b"/a/", None)),
    ("", b"/a/..", Good(b"/", b"/", None)),
    ("", b"/..", Good(b"/", b"/", None)),
    ("", b"/../a", Good(b"/a", b"/a", None)),
    ("", b"/a/../../b", Good(b"/b", b"/b", None)),
    ("", b"/%2e%2e/a", Good(b"/a", b"/a", None)),
    ("", b"/a/%2E/b", Good(b"/a/b", b"/a/b", None)),
    ("", b"/a/.%2e/b", Good(b"/b", b"/b", None)),
    ("", b"/a/..%2f/b", Good(b"/b", b"/b", None)),
    ("", b"/a%2f..%2fb", Good(b"/b", b"/b", None)),
    ("", b"/a/...", Good(b"/a/...", b"/a/...", None)),
    ("", b"/a/..b", Good(b"/a/..b", b"/a/..b", None)),
    ("", b"/.a", Good(b"/.a", b"/.a", None)),
    ("", b"/a/b./c", Good(b"/a/b./c", b"/a/b./c", None)),
    ("", b"/a/.?x", Good(b"/a/", b"/a/", Some(b"x"))),
    ("", b"/a/..?x", Good(b"/", b"/", Some(b"x"))),
    ("", b"/a//?x", Good(b"/a/", b"/a/", Some(b"x"))),
    ("", b"/a/b/%2e%2e%2f..%2fc", Good(b"/c", b"/c", None)),
    ("", b"/a?%2e%2e/x", Good(b"/a", b"/a", Some(b"../x"))),
    ("", b"/a?./../x", Good(b"/a", b"/a", Some(b"./../x"))),
    ("", b"/a\\b", Good(b"/a\\b", b"/a%5Cb", None)),
    ("", b"/a\\..\\b", Good(b"/a\\..\\b", b"/a%5C..%5Cb", None)),
    ("", b"/a b", Good(b"/a b", b"/a%20b", None)),
    ("", b"/a b.php?x y", Good(b"/a b.php", b"/a%20b.php", Some(b"x%20y"))),
    ("", b"/a\"b<c>d", Good(b"/a\"b<c>d", b"/a%22b%3Cc%3Ed", None)),
    ("", b"/[a]^`{|}", Good(b"/[a]^`{|}", b"/%5Ba%5D%5E%60%7B%7C%7D", None)),
    ("", b"/a!$&'()*+,;=:@b", Good(b"/a!$&'()*+,;=:@b", b"/a!$&'()*+,;=:@b", None)),
    ("", b"/%zz", Good(b"/%zz", b"/%25zz", None)),
    ("", b"/a%", Good(b"/a%", b"/a%25", None)),
    ("", b"/a%2", Good(b"/a%2", b"/a%252", None)),
    ("", b"/%4", Good(b"/%4", b"/%254", None)),
    ("", b"/q?x=%zz", Good(b"/q", b"/q", Some(b"x=%25zz"))),
    ("", b"/q?x=%4", Good(b"/q", b"/q", Some(b"x=%254"))),
    ("", b"/q?x=%", Good(b"/q", b"/q", Some(b"x=%25"))),
    ("", b"/%%41", Good(b"/%A", b"/%25A", None)),
    ("", b"/%25", Good(b"/%", b"/%25", None)),
    ("", b"/%2541", Good(b"/%41", b"/%2541", None)),
    ("", b"/%3Fa", Good(b"/?a", b"/%3Fa", None)),
    ("", b"/a%3fb?c%3fd", Good(b"/a?b", b"/a%3Fb", Some(b"c%3Fd"))),
    ("", b"/a%23b", Good(b"/a#b", b"/a%23b", None)),
    ("", b"/%3A%40%21%24%26%27%28%29%2A%2B%2C%3B%3D", Good(b"/:@!$&'()*+,;=", b"/%3A%40%21%24%26%27%28%29%2A%2B%2C%3B%3D", None)),
    ("", b"/%22%3C%3E%5B%5C%5D%5E%60%7B%7C%7D", Good(b"/\"<>[\\]^`{|}", b"/%22%3C%3E%5B%5C%5D%5E%60%7B%7C%7D", None)),
    ("", b"/%00", Bad), // 400
    ("", b"/a%00b", Bad), // 400
    ("", b"/q?%00", Bad), // 400
    ("", b"/a\x01", Bad), // 400
    ("", b"/q?\x01", Bad), // 400
    ("", b"/a\x7f", Bad), // 400
    ("", b"/a%7f", Bad), // 400
    ("", b"/a%1F", Bad), // 400
    ("", b"/a\x09b", Bad), // 400
    ("", b"/%0a", Bad), // 400
    ("", b"/%c3%28", Good(b"/\xc3(", b"/%C3%28", None)),
    ("", b"/\xc3(", Good(b"/\xc3(", b"/%C3(", None)),
    ("", b"/\xc3\xa9", Good(b"/\xc3\xa9", b"/%C3%A9", None)),
    ("", b"/%c3", Good(b"/\xc3", b"/%C3", None)),
    ("", b"/%80", Good(b"/\x80", b"/%80", None)),
    ("", b"/%e2%82", Good(b"/\xe2\x82", b"/%E2%82", None)),
    ("", b"/%ed%a0%80", Good(b"/\xed\xa0\x80", b"/%ED%A0%80", None)),
    ("", b"/%f4%90%80%80", Good(b"/\xf4\x90\x80\x80", b"/%F4%90%80%80", None)),
    ("", b"/%f0%80%80%80", Good(b"/\xf0\x80\x80\x80", b"/%F0%80%80%80", None)),
    ("", b"/%c0%af", Bad), // 400
    ("", b"/%C1%bf", Bad), // 400
    ("", b"/%f5%80%80%80", Bad), // 400
    ("", b"/%ff", Bad), // 400
    ("", b"/\xff", Bad), // 400
    ("", b"/\xc0", Bad), // 400
    ("", b"/q?%ff", Bad), // 400
    ("", b"/q?\xfe", Bad), // 400
    ("", b"/q?%c3%28", Good(b"/q", b"/q", Some(b"%C3%28"))),
    ("", b"*", Bad), // 400
    ("", b"?q", Bad), // 400
    ("", b"a/b", Bad), // 400
    ("", b"", Bad), // 400
    ("", b"%2Fa", Bad), // 400
    ("url-normalize=disable", b"/%7e/a%c3", Good(b"/~/a\xc3", b"/%7e/a%c3", None)),
    ("url-normalize=disable", b"/a\"b", Good(b"/a\"b", b"/a\"b", None)),
    ("url-normalize=disable", b"/a\x01", Good(b"/a\x01", b"/a\x01", None)),
    ("url-normalize=disable", b"/a%01", Good(b"/a_", b"/a%01", None)),
    ("url-normalize=disable", b"/a%00b", Good(b"/a_b", b"/a%00b", None)),
    ("url-normalize=disable", b"/a%7fb", Good(b"/a_b", b"/a%7fb", None)),
    ("url-normalize=disable", b"/a\x00b", Good(b"/a\x00b", b"/a\x00b", None)),
    ("url-normalize=disable", b"/a\xffb", Good(b"/a\xffb", b"/a\xffb", None)),
    ("url-normalize=disable", b"/%ff", Good(b"/\xff", b"/%ff", None)),
    ("url-normalize=disable", b"/a\x09b", Good(b"/a\x09b", b"/a\x09b", None)),
    ("url-normalize=disable", b"/d%2Fe", Good(b"/d/e", b"/d%2Fe", None)),
    ("url-normalize=disable", b"/a/../b", Good(b"/b", b"/a/../b", None)),
    ("url-normalize=disable", b"/a/%2e%2e/b", Good(b"/b", b"/a/%2e%2e/b", None)),
    ("url-normalize=disable", b"/a%2F..%2Fb", Good(b"/b", b"/a%2F..%2Fb", None)),
    ("url-normalize=disable", b"/a//b", Good(b"/a/b", b"/a//b", None)),
    ("url-normalize=disable", b"/a b", Good(b"/a b", b"/a b", None)),
    ("url-normalize=disable", b"/a%zzb", Good(b"/a%zzb", b"/a%zzb", None)),
    ("url-normalize=disable", b"/a#b", Good(b"/a", b"/a", None)),
    ("url-normalize=disable", b"/a?b#c", Good(b"/a", b"/a", Some(b"b"))),
    ("url-normalize=disable", b"/a?b%00", Good(b"/a", b"/a", Some(b"b%00"))),
    ("url-normalize=disable", b"/a%2fb?c%2fd", Good(b"/a/b", b"/a%2fb", Some(b"c%2fd"))),
    ("url-normalize=disable", b"/a/.?q", Good(b"/a/", b"/a/.", Some(b"q"))),
    ("url-normalize=disable", b"/a/b/../../..", Good(b"/", b"/a/b/../../..", None)),
    ("url-normalize=disable", b"/%2F%2F", Good(b"/", b"/%2F%2F", None)),
    ("url-normalize=disable", b"/a/.%00", Good(b"/a/._", b"/a/.%00", None)),
    ("url-normalize=disable", b"/a%41\x00b", Good(b"/aA", b"/a%41\x00b", None)),
    ("url-normalize=disable", b"/a\x00%41b", Good(b"/a\x00Ab", b"/a\x00%41b", None)),
    ("url-normalize=disable", b"/\x00", Good(b"/\x00", b"/\x00", None)),
    ("url-normalize=disable", b"/a%\x00b/c", Good(b"/a%", b"/a%\x00b/c", None)),
    ("url-normalize-required=enable", b"/%c3%28", Good(b"/\xc3(", b"/%C3(", None)),
    ("url-normalize-required=enable", b"/%41%2c%21?%2c%21%41", Good(b"/A,!", b"/A,!", Some(b",!A"))),
    ("url-normalize-required=enable", b"/a%2Fb%3Fc?d%2Fe%3Ff%26%3D%3B%2B%20", Good(b"/a/b?c", b"/a/b%3Fc", Some(b"d/e?f%26%3D%3B%2B%20"))),
    ("url-normalize-required=enable", b"/%28%29", Good(b"/()", b"/()", None)),
    ("url-normalize-required=enable", b"/q?%28%3F%2F", Good(b"/q", b"/q", Some(b"(?/"))),
    ("url-normalize-required=enable", b"/%7e%22", Good(b"/~\"", b"/~%22", None)),
    ("url-normalize-required=enable", b"/a\\b", Good(b"/a\\b", b"/a%5Cb", None)),
    ("url-normalize-required=enable", b"/%ff", Bad), // 400
    ("url-normalize-required=enable", b"/a?b?c", Good(b"/a?b", b"/a?b", Some(b"c"))),
    ("url-normalize-required=enable", b"/a?%2b?c", Good(b"/a?+", b"/a?%2B", Some(b"c"))),
    ("url-normalize-required=enable", b"/a?x/../y?z", Good(b"/y", b"/y", Some(b"z"))),
    ("url-normalize-required=enable", b"/a?b%3f?c", Good(b"/a?b?", b"/a?b?", Some(b"c"))),
    ("url-normalize-required=enable", b"/a?b%3f", Good(b"/a", b"/a", Some(b"b?"))),
    ("url-normalize-required=enable", b"/a?b?c?", Good(b"/a?b?c", b"/a?b?c", Some(b""))),
    ("url-normalize-required=enable", b"/a?b%20?c", Good(b"/a?b ", b"/a?b%20", Some(b"c"))),
    ("url-normalize-required=enable,url-path-2f-decode=disable", b"/a%2Fb%3Fc?d%2Fe%3Ff%26%3D%3B%2B%20", Good(b"/a/b?c", b"/a%2Fb%3Fc", Some(b"d/e?f%26%3D%3B%2B%20"))),
    ("url-normalize-required=enable,url-path-2f-decode=disable", b"/%41%2c%21?%2c%21%41", Good(b"/A,!", b"/A,!", Some(b",!A"))),
    ("url-ctrls-reject=disable", b"/a\x01", Good(b"/a_", b"/a%01", None)),
    ("url-ctrls-reject=disable", b"/a%01", Good(b"/a_", b"/a%01", None)),
    ("url-ctrls-reject=disable", b"/a%00b", Good(b"/a_b", b"/a%00b", None)),
    ("url-ctrls-reject=disable", b"/q?a%7f\x7f", Good(b"/q", b"/q", Some(b"a%7F%7F"))),
    ("url-ctrls-reject=disable", b"/a\x09b", Good(b"/a_b", b"/a%09b", None)),
    ("url-ctrls-reject=disable", b"/%0a%0D", Good(b"/__", b"/%0A%0D", None)),
    ("url-path-2f-decode=disable", b"/d%2Fe", Good(b"/d/e", b"/d%2Fe", None)),
    ("url-path-2f-decode=disable", b"/a%2F..%2Fb", Good(b"/b", b"/a%2F..%2Fb", None)),
    ("url-path-2f-decode=disable", b"/a%2f%2e%2e%2fb?x", Good(b"/b", b"/a%2F..%2Fb", Some(b"x"))),
    ("url-path-2f-decode=disable", b"/a%2f%2fb", Good(b"/a/b", b"/a%2F%2Fb", None)),
    ("url-path-2f-decode=disable,url-path-2f-reject=enable", b"/d%2Fe", Bad), // 400
    ("url-path-2f-decode=disable,url-path-2f-reject=enable", b"/a?b%2fc", Good(b"/a", b"/a", Some(b"b%2Fc"))),
    ("url-path-2f-decode=disable,url-path-2f-reject=enable", b"/a%2f", Bad), // 400
    ("url-path-2f-decode=disable,url-path-2f-reject=enable", b"/a%252f", Good(b"/a%2f", b"/a%252f", None)),
    ("url-path-2f-decode=disable,url-path-2f-reject=enable", b"/a/b", Good(b"/a/b", b"/a/b", None)),
    ("url-path-dotseg-remove=disable", b"/a/../b", Good(b"/b", b"/a/../b", None)),
    ("url-path-dotseg-remove=disable", b"/a/%2e%2e/b", Good(b"/b", b"/a/../b", None)),
    ("url-path-dotseg-remove=disable", b"/a//b", Good(b"/a/b", b"/a//b", None)),
    ("url-path-dotseg-remove=disable", b"/a/./b?x/../y", Good(b"/a/b", b"/a/./b", Some(b"x/../y"))),
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/a/../b", Bad), // 400
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/a/%2e%2e/b", Bad), // 400
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/a//b", Bad), // 400
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/a/.b", Good(b"/a/.b", b"/a/.b", None)),
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/a/b/", Good(b"/a/b/", b"/a/b/", None)),
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/", Good(b"/", b"/", None)),
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/a?x/../y", Good(b"/a", b"/a", Some(b"x/../y"))),
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/a/%2e", Bad), // 400
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/a%2f%2fb", Bad), // 400
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/a/b.", Good(b"/a/b.", b"/a/b.", None)),
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/.", Bad), // 400
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"/a/..", Bad), // 400
    ("url-path-dotseg-remove=disable,url-path-dotseg-reject=enable", b"//", Bad), // 400
    ("url-query-20-plus=enable", b"/q?a%20b+c", Good(b"/q", b"/q", Some(b"a+b+c"))),
    ("url-query-20-plus=enable", b"/q?a b%20c+d%2520", Good(b"/q", b"/q", Some(b"a+b+c+d%2520"))),
    ("url-query-20-plus=enable", b"/a%20b?c", Good(b"/a b", b"/a%20b", Some(b"c"))),
    ("url-query-20-plus=enable", b"/a b?%20", Good(b"/a b", b"/a%20b", Some(b"+"))),
    ("url-invalid-utf8-reject=disable", b"/%ff", Good(b"/\xff", b"/%FF", None)),
    ("url-invalid-utf8-reject=disable", b"/\xff", Good(b"/\xff", b"/%FF", None)),
    ("url-invalid-utf8-reject=disable", b"/%c0%af", Good(b"/\xc0\xaf", b"/%C0%AF", None)),
    ("url-invalid-utf8-reject=disable", b"/q?%f5", Good(b"/q", b"/q", Some(b"%F5"))),
    ("url-path-backslash-trans=enable", b"/a\\b", Good(b"/a\\b", b"/a%5Cb", None)),
    ("url-path-backslash-trans=enable", b"/a%5cb", Good(b"/a\\b", b"/a%5Cb", None)),
    ("url-path-backslash-trans=enable", b"/a\\..\\b", Good(b"/a\\..\\b", b"/a%5C..%5Cb", None)),
    ("url-normalize-required=enable,url-invalid-utf8-reject=disable", b"/a?b?c", Good(b"/a?b", b"/a?b", Some(b"c"))),
    ("url-normalize-required=enable,url-invalid-utf8-reject=disable", b"/a?b?%C0", Good(b"/a", b"/a", Some(b"b?%C0"))),
    ("url-normalize-required=enable,url-invalid-utf8-reject=disable", b"/a?%C0?%2B", Good(b"/a", b"/a", Some(b"%C0?%2B"))),
    ("url-normalize-required=enable,url-invalid-utf8-reject=disable", b"/\xc0?b?c", Good(b"/\xc0", b"/%C0", Some(b"b?c"))),
    ("url-normalize-required=enable,url-invalid-utf8-reject=disable", b"/a?b?c\xff", Good(b"/a", b"/a", Some(b"b?c%FF"))),

];

/// Every measured request normalises exactly as lighttpd did.
#[test]
fn matches_lighttpd_measurements() {
    let mut failures = Vec::new();
    for (list, raw, expect) in MEASURED {
        let got = normalize(raw, &opts(list));
        let ok = match (expect, &got) {
            (Good(path, path_raw, query), Ok(t)) => {
                t.path == *path && t.path_raw == *path_raw && t.query.as_deref() == *query
            }
            (Bad, Err(e)) => e.status() == 400,
            _ => false,
        };
        if !ok {
            failures.push(format!("[{list}] {}: {got:?}", show(raw)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn norm(raw: &[u8]) -> Target {
    match normalize(raw, &ParseOpts::default()) {
        Ok(t) => t,
        Err(e) => panic!("{}: {e}", show(raw)),
    }
}

fn err(raw: &[u8], list: &str) -> TargetError {
    match normalize(raw, &opts(list)) {
        Ok(t) => panic!("{} accepted: {t:?}", show(raw)),
        Err(e) => e,
    }
}

// ---- ParseOpts ----

/// Defaults measured one option at a time: toggling each key showed which
/// behaviours were on without `server.http-parseopts`.
#[test]
fn defaults_are_lighttpd_1_4_69s() {
    let d = ParseOpts::default();
    assert!(d.header_strict && d.host_strict && !d.host_normalize);
    assert!(d.url_normalize && d.url_normalize_unreserved && !d.url_normalize_required);
    assert!(d.url_ctrls_reject && d.url_invalid_utf8_reject);
    assert!(d.url_path_2f_decode && !d.url_path_2f_reject);
    assert!(d.url_path_dotseg_remove && !d.url_path_dotseg_reject);
    assert!(!d.url_path_backslash_trans && !d.url_query_20_plus);
    assert_eq!(ParseOpts::from_entries(None, |_| None), d);
    assert_eq!(
        opts("url-normalize=enable"),
        d,
        "listing a default changes nothing"
    );
    assert_eq!(d.conflict(), None);
}

/// An empty list (`server.http-parseopts = ()`) keeps the defaults.
#[test]
fn empty_list_keeps_defaults() {
    let empty = Value::Array(Array::new());
    assert_eq!(
        ParseOpts::from_entries(Some(&empty), |_| None),
        ParseOpts::default()
    );
}

/// Listed keys change only themselves: `url-ctrls-reject => disable` kept
/// dot-segment removal, `%2F` decoding and the UTF-8 check.
#[test]
fn unlisted_keys_keep_defaults() {
    let o = opts("url-ctrls-reject=disable");
    assert!(!o.url_ctrls_reject);
    assert_eq!(
        ParseOpts {
            url_ctrls_reject: true,
            ..o
        },
        ParseOpts::default()
    );
}

/// `url-normalize => disable` turns every url option off, whatever else is
/// listed and in which order (measured both orders).
#[test]
fn url_normalize_disable_clears_all_url_options() {
    for list in [
        "url-normalize=disable,url-ctrls-reject=enable",
        "url-ctrls-reject=enable,url-normalize=disable",
    ] {
        let o = opts(list);
        assert!(!o.url_normalize && !o.url_ctrls_reject && !o.url_normalize_unreserved);
        assert!(!o.url_path_2f_decode && !o.url_path_dotseg_remove && !o.url_invalid_utf8_reject);
        assert!(o.header_strict && o.host_strict);
    }
}

/// With neither unreserved nor required left on, lighttpd turns unreserved
/// and the UTF-8 check back on, and `%2F` decoding unless disabled
/// (measured: `/%7e` still became `/~`, `/%ff` still 400).
#[test]
fn dropping_both_modes_restores_unreserved() {
    let o = opts("url-normalize-unreserved=disable,url-invalid-utf8-reject=disable");
    assert!(o.url_normalize_unreserved && o.url_invalid_utf8_reject && o.url_path_2f_decode);
    let o = opts("url-path-2f-decode=disable,url-normalize-unreserved=disable");
    assert!(o.url_normalize_unreserved && !o.url_path_2f_decode);
    let o = opts("url-normalize-required=enable,url-invalid-utf8-reject=disable");
    assert!(o.url_normalize_required && !o.url_invalid_utf8_reject);
}

/// lighttpd refuses to start with both of a decode/reject pair on; listing
/// only the reject side conflicts with the default decode side.
#[test]
fn conflicting_pairs_are_reported() {
    assert_eq!(
        opts("url-path-2f-reject=enable").conflict(),
        Some(ParseOptsConflict::Slash)
    );
    assert_eq!(
        opts("url-path-dotseg-reject=enable").conflict(),
        Some(ParseOptsConflict::DotSegment)
    );
    assert_eq!(
        opts("url-path-2f-decode=disable,url-path-2f-reject=enable").conflict(),
        None
    );
    assert_eq!(
        ParseOptsConflict::Slash.to_string(),
        "conflicting options in server.http-parseopts:url-path-2f-decode, url-path-2f-reject"
    );
}

/// The legacy booleans win over the list whatever the order in the file
/// (measured: `host-strict => enable` with
/// `server.http-parseopt-host-strict = "disable"` accepted `a_b`).
#[test]
fn legacy_booleans_override_the_list() {
    let mut a = Array::new();
    a.push(Entry {
        key: Some("host-strict".into()),
        value: Value::Str("enable".into()),
        span: Span::default(),
        key_span: Span::default(),
    });
    let o = ParseOpts::from_entries(Some(&Value::Array(a)), |k| {
        (k == "server.http-parseopt-host-strict").then_some(false)
    });
    assert!(!o.host_strict);
    let o = ParseOpts::from_entries(None, |k| match k {
        "server.http-parseopt-header-strict" => Some(false),
        "server.http-parseopt-host-normalize" => Some(true),
        _ => None,
    });
    assert!(!o.header_strict && o.host_normalize && o.host_strict);
}

/// Keys are case-sensitive (lighttpd: "unrecognized key … Host-Strict");
/// unknown keys and non-boolean values are left to the config check.
#[test]
fn unknown_keys_and_values_are_ignored() {
    assert_eq!(opts("Host-Strict=disable"), ParseOpts::default());
    assert_eq!(opts("url-frobnicate=enable"), ParseOpts::default());
    assert_eq!(opts("url-ctrls-reject=maybe"), ParseOpts::default());
    assert!(!opts("url-ctrls-reject=0").url_ctrls_reject);
}

// ---- normalisation rules ----

/// `%7e` → `~`; other escapes keep their encoding with upper-case hex.
#[test]
fn unreserved_escapes_are_decoded_others_uppercased() {
    let t = norm(b"/%7e%7E%c3%a9?b=%41%20+c");
    assert_eq!(t.path_raw, b"/~~%C3%A9");
    assert_eq!(t.path, "/~~é".as_bytes());
    assert_eq!(t.query.as_deref(), Some(&b"b=A%20+c"[..]));
}

/// Raw characters outside the URI grammar are encoded, sub-delims are not.
#[test]
fn raw_specials_and_high_bytes_are_encoded() {
    assert_eq!(
        norm(b"/a b\"<>[\\]^`{|}").path_raw,
        b"/a%20b%22%3C%3E%5B%5C%5D%5E%60%7B%7C%7D"
    );
    assert_eq!(norm(b"/a!$&'()*+,;=:@b").path_raw, b"/a!$&'()*+,;=:@b");
    assert_eq!(norm(b"/\xc3\xa9").path_raw, b"/%C3%A9");
}

/// `%2F` becomes `/` in the path but stays in the query.
#[test]
fn encoded_slash_decoded_in_path_only() {
    let t = norm(b"/d%2Fe?q=%2f");
    assert_eq!(
        (t.path_raw.as_slice(), t.query.as_deref()),
        (&b"/d/e"[..], Some(&b"q=%2F"[..]))
    );
}

/// `..` never climbs above the root; encoded dots count as dots.
#[test]
fn dot_segments_are_removed_including_encoded_ones() {
    assert_eq!(norm(b"/a%20b/../c/./d").path_raw, b"/c/d");
    assert_eq!(norm(b"/../a").path_raw, b"/a");
    assert_eq!(norm(b"/a/%2e%2e/b").path_raw, b"/b");
    assert_eq!(norm(b"/a/..").path_raw, b"/");
    assert_eq!(norm(b"/a/.").path_raw, b"/a/");
    assert_eq!(norm(b"/a/...").path_raw, b"/a/...");
}

/// `//` runs collapse (measured: `//a` → `/a`, `/a///b/` → `/a/b/`).
#[test]
fn slash_runs_collapse() {
    assert_eq!(norm(b"//a").path_raw, b"/a");
    assert_eq!(norm(b"/a///b/").path_raw, b"/a/b/");
}

/// A backslash is an ordinary byte on Linux: encoded, no segment split.
#[test]
fn backslash_is_not_a_separator() {
    let t = normalize(b"/a\\..\\b", &opts("url-path-backslash-trans=enable"));
    assert_eq!(t.map(|t| t.path_raw), Ok(b"/a%5C..%5Cb".to_vec()));
}

/// `+` and `%20` in the query are kept unless url-query-20-plus.
#[test]
fn query_plus_and_space() {
    assert_eq!(
        norm(b"/q?a+b%20c d").query.as_deref(),
        Some(&b"a+b%20c%20d"[..])
    );
    let t = normalize(b"/q?a b%20c+d%2520", &opts("url-query-20-plus=enable"));
    assert_eq!(t.map(|t| t.query), Ok(Some(b"a+b+c+d%2520".to_vec())));
}

/// The fragment is dropped; only a `?` before it starts a query.
#[test]
fn fragment_is_dropped() {
    assert_eq!(norm(b"/a#b?c").query, None);
    assert_eq!(norm(b"/a?b#c").query.as_deref(), Some(&b"b"[..]));
}

/// `/a?` has an empty query, `/a` none; later `?` belong to the query.
#[test]
fn query_split() {
    assert_eq!(norm(b"/a?").query.as_deref(), Some(&b""[..]));
    assert_eq!(norm(b"/a").query, None);
    assert_eq!(norm(b"/a?b?c").query.as_deref(), Some(&b"b?c"[..]));
}

/// Control characters, raw or encoded, and `%00` are refused.
#[test]
fn control_characters_are_refused() {
    assert_eq!(err(b"/%00", ""), TargetError::ControlChar { byte: 0 });
    assert_eq!(err(b"/a\x01", ""), TargetError::ControlChar { byte: 1 });
    assert_eq!(err(b"/q?\x7f", ""), TargetError::ControlChar { byte: 0x7f });
    assert_eq!(err(b"/a\tb", ""), TargetError::ControlChar { byte: 9 });
    let t = normalize(b"/a\x01%00", &opts("url-ctrls-reject=disable"));
    assert_eq!(
        t.map(|t| (t.path, t.path_raw)),
        Ok((b"/a__".to_vec(), b"/a%01%00".to_vec()))
    );
}

/// Invalid escapes are not errors: the `%` is re-encoded.
#[test]
fn invalid_escapes_are_reencoded() {
    assert_eq!(norm(b"/%zz").path_raw, b"/%25zz");
    assert_eq!(norm(b"/%4").path_raw, b"/%254");
    assert_eq!(norm(b"/a%").path, b"/a%");
    assert_eq!(norm(b"/q?x=%4").query.as_deref(), Some(&b"x=%254"[..]));
}

/// Only bytes that never occur in UTF-8 are refused; `%C3%28` passes.
#[test]
fn only_never_utf8_bytes_are_refused() {
    assert_eq!(norm(b"/%c3%28").path_raw, b"/%C3%28");
    assert_eq!(err(b"/%ff", ""), TargetError::InvalidUtf8 { byte: 0xff });
    assert_eq!(err(b"/%C0%AF", ""), TargetError::InvalidUtf8 { byte: 0xc0 });
    assert_eq!(err(b"/q?\xf5", ""), TargetError::InvalidUtf8 { byte: 0xf5 });
    let t = normalize(b"/\xff", &opts("url-invalid-utf8-reject=disable"));
    assert_eq!(t.map(|t| t.path_raw), Ok(b"/%FF".to_vec()));
}

/// Only origin-form reaches here; `*` is the caller's (OPTIONS) business.
#[test]
fn non_origin_forms_are_refused() {
    assert_eq!(err(b"*", ""), TargetError::Asterisk);
    assert_eq!(err(b"?q", ""), TargetError::NotOriginForm);
    assert_eq!(err(b"", ""), TargetError::NotOriginForm);
    assert_eq!(err(b"%2Fa", ""), TargetError::NotOriginForm);
    assert_eq!(TargetError::Asterisk.status(), 400);
}

/// url-path-2f-reject refuses `%2F` in the path only.
#[test]
fn encoded_slash_reject() {
    let list = "url-path-2f-decode=disable,url-path-2f-reject=enable";
    assert_eq!(err(b"/a%2fb", list), TargetError::EncodedSlash);
    assert!(normalize(b"/a?b%2f", &opts(list)).is_ok());
}

/// url-path-dotseg-reject refuses dot segments and `//` runs.
#[test]
fn dot_segment_reject() {
    let list = "url-path-dotseg-remove=disable,url-path-dotseg-reject=enable";
    for raw in [&b"/a/../b"[..], b"/a//b", b"/.", b"/a%2f%2fb"] {
        assert_eq!(err(raw, list), TargetError::DotSegment);
    }
    assert!(normalize(b"/a/.b/c.?x/../y", &opts(list)).is_ok());
}

/// Without url-normalize the target is forwarded as received (minus the
/// fragment); the decoded path is still simplified.
#[test]
fn url_normalize_disabled_forwards_raw() {
    let t = normalize(b"/a/%2e%2e/b\x01#f", &opts("url-normalize=disable"));
    assert_eq!(
        t.map(|t| (t.path, t.path_raw)),
        Ok((b"/b\x01".to_vec(), b"/a/%2e%2e/b\x01".to_vec()))
    );
}

/// url-normalize-required decodes everything not needing encoding, except
/// `/ ?` in the path and `& = ; +` in the query.
#[test]
fn required_mode_decodes_more() {
    let o = opts("url-normalize-required=enable,url-path-2f-decode=disable");
    let t = normalize(b"/a%2Fb%3Fc%28?d%2Fe%3Ff%26%3D%3B%2B%20", &o);
    assert_eq!(
        t.map(|t| t.uri()),
        Ok(b"/a%2Fb%3Fc(?d/e?f%26%3D%3B%2B%20".to_vec())
    );
}

/// lighttpd 1.4.69 quirk: in required mode the query starts at the last
/// raw `?`, unless a never-UTF-8 byte is present.
#[test]
fn required_mode_query_starts_at_last_question_mark() {
    let t = normalize(b"/a?x/../y?z", &opts("url-normalize-required=enable"));
    assert_eq!(
        t.map(|t| (t.path, t.query)),
        Ok((b"/y".to_vec(), Some(b"z".to_vec())))
    );
    let o = opts("url-normalize-required=enable,url-invalid-utf8-reject=disable");
    let t = normalize(b"/a?b?%C0", &o);
    assert_eq!(t.map(|t| t.query), Ok(Some(b"b?%C0".to_vec())));
}

/// Decoded control characters become `_` in the path; a raw NUL after a
/// `%` ends it (lighttpd decodes a C string from the first `%`).
#[test]
fn decoded_path_quirks() {
    let o = opts("url-normalize=disable");
    let t = |raw: &[u8]| normalize(raw, &o).map(|t| t.path);
    assert_eq!(t(b"/a%41\x00b"), Ok(b"/aA".to_vec()));
    assert_eq!(t(b"/a\x00%41b"), Ok(b"/a\x00Ab".to_vec()));
    assert_eq!(t(b"/a%7fb"), Ok(b"/a_b".to_vec()));
}

/// `uri()` is the request line mod_proxy sends upstream.
#[test]
fn uri_joins_path_and_query() {
    assert_eq!(norm(b"/a/%7e/../b?x").uri(), b"/a/b?x");
    assert_eq!(norm(b"/a?").uri(), b"/a?");
    assert_eq!(norm(b"/a").uri(), b"/a");
}

// ---- robustness ----

/// A small xorshift generator: no extra dependency, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random bytes biased towards the interesting ones.
fn random_target(rng: &mut Rng) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"/", b"//", b".", b"..", b"?", b"#", b"%", b"%2e", b"%2F", b"%2f", b"%3F", b"%20", b"%00",
        b"%zz", b"%4", b"%C0", b"%ff", b"%c3%a9", b"\\", b"+", b" ", b"a", b"~", b"\x00", b"\xff",
    ];
    let mut t = Vec::new();
    if rng.below(8) != 0 {
        t.push(b'/');
    }
    for _ in 0..rng.below(16) {
        if rng.below(3) == 0 {
            t.push(rng.next() as u8);
        } else {
            t.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        }
    }
    t
}

/// Option sets covering every switch.
fn option_sets() -> Vec<ParseOpts> {
    [
        "",
        "url-normalize=disable",
        "url-normalize-required=enable",
        "url-normalize-required=enable,url-invalid-utf8-reject=disable,url-ctrls-reject=disable",
        "url-path-2f-decode=disable,url-path-2f-reject=enable,url-query-20-plus=enable",
        "url-path-dotseg-remove=disable,url-path-dotseg-reject=enable",
        "url-path-dotseg-remove=disable,url-path-2f-decode=disable,url-ctrls-reject=disable",
    ]
    .iter()
    .map(|l| opts(l))
    .collect()
}

/// No input panics, and normalising a normalised target changes nothing —
/// except where lighttpd itself is not idempotent: in required mode a `%3F`
/// decoded in the query becomes a raw `?` that moves the split (and so the
/// dot-segment removal) next time.
#[test]
fn random_targets_never_panic_and_normalising_is_idempotent() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for o in option_sets() {
        for _ in 0..20_000 {
            let raw = random_target(&mut rng);
            if let Ok(t) = normalize(&raw, &o) {
                let moved_split =
                    o.url_normalize_required && t.query.as_ref().is_some_and(|q| q.contains(&b'?'));
                let again = normalize(&t.uri(), &o);
                if !moved_split {
                    assert_eq!(again.as_ref(), Ok(&t), "{}", show(&raw));
                }
                assert!(t.path.starts_with(b"/"), "{}", show(&raw));
            }
        }
    }
}

/// The fast path answers exactly what the full normaliser answers, for
/// targets made of the characters it accepts (and a few it must refuse).
#[test]
fn fast_path_agrees_with_the_normaliser() {
    let alphabet = b"ab/.-_~!$&'()*+,;=:@?%2F";
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let opts = ParseOpts::default();
    for _ in 0..20_000 {
        let len = (next() % 12) as usize;
        let mut t = vec![b'/'];
        for _ in 0..len {
            t.push(alphabet[(next() % alphabet.len() as u64) as usize]);
        }
        if let Some(fast) = fast_path(&t) {
            let (path_raw, query) = normalize_url(&t, &opts).expect("plain targets normalise");
            let path = simplify(&decode_path(&path_raw));
            assert_eq!(fast.path_raw, path_raw, "{:?}", String::from_utf8_lossy(&t));
            assert_eq!(fast.path, path, "{:?}", String::from_utf8_lossy(&t));
            assert_eq!(fast.query, query, "{:?}", String::from_utf8_lossy(&t));
        }
    }
    assert!(fast_path(b"/a/b.txt?x=1").is_some());
    assert!(fast_path(b"/a//b").is_none());
    assert!(fast_path(b"/a/./b").is_none());
    assert!(fast_path(b"/a/..").is_none());
    assert!(fast_path(b"/a%20b").is_none());
    assert!(
        fast_path(b"/a?b?c").is_none(),
        "a second ? takes the full normaliser"
    );
}
