//! `server.http-parseopts` and request-target normalisation (lighttpd:
//! `burl_normalize` in `burl.c`, `buffer_urldecode_path` and
//! `buffer_path_simplify` in `buffer.c`, `http_request_parse_target` in
//! `request.c`, `config_http_parseopts` in `configfile.c`).
//!
//! ```text
//! raw origin-form target ──► cut at '#' ──► percent-normalise ──► reject ctrls
//!   ──► %2F decode/reject ──► dot segments remove/reject ──► %20 → '+' in query
//!   ──► Target { path_raw (sent upstream), query, path (decoded, simplified) }
//! ```
//!
//! The normalised target (`path_raw` plus `?query`) is what lighttpd passes
//! to backends (mod_proxy's request line, `REQUEST_URI`); `path` is what
//! `$HTTP["url"]`, handler prefixes and the physical file path use, and
//! `query` is what `$HTTP["querystring"]` sees. Every rule was measured
//! against lighttpd 1.4.69; the evidence is in `target/tests.rs`.
//!
//! Quirks worth knowing:
//! * Invalid `%` escapes (`%zz`, `%4`, a trailing `%`) are not errors: the
//!   `%` is re-encoded as `%25`.
//! * "Invalid UTF-8" only means the bytes that never occur in UTF-8
//!   (`C0`, `C1`, `F5`–`FF`); malformed sequences such as `%C3%28` pass.
//! * The decoded `path` is always simplified (`//`, `.`, `..`), whatever the
//!   options say, and decoded control characters in it become `_`.
//! * With `url-normalize-required` the query starts at the *last* raw `?`
//!   (`/a?b?c` → path `/a?b`, query `c`), unless the target holds a byte
//!   that never occurs in UTF-8; `%XX` escapes follow the query rules from
//!   the first `?` on in any case.

use thiserror::Error;

use crate::config::keys::parse_bool;
use crate::config::value::Value;

#[cfg(test)]
pub(crate) mod tests;

/// The effective `server.http-parseopts` (lighttpd's `http_parseopts` bits
/// plus the header/host booleans).
///
/// The `url_*` options other than `url_normalize` take effect only while
/// `url_normalize` is set, as in lighttpd, where the whole URL normaliser is
/// skipped otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOpts {
    /// `header-strict`: reject control characters in header lines, blanks
    /// before `:`, bare LF line ends (used by the header parser).
    pub header_strict: bool,
    /// `host-strict`: validate the Host syntax; implies `host_normalize`.
    pub host_strict: bool,
    /// `host-normalize`: canonical IP literals, drop the scheme's port.
    pub host_normalize: bool,
    /// `url-normalize`: master switch of the URL normaliser.
    pub url_normalize: bool,
    /// `url-normalize-unreserved`: decode `%XX` of unreserved characters,
    /// upper-case the hex of the rest, encode what must be encoded.
    pub url_normalize_unreserved: bool,
    /// `url-normalize-required`: decode every `%XX` that need not be encoded
    /// (keeps `%2F`/`%3F` in the path and `%26 %3D %3B %2B` in the query).
    pub url_normalize_required: bool,
    /// `url-ctrls-reject`: 400 for control characters (raw or `%00`–`%1F`,
    /// `%7F`) anywhere in the target.
    pub url_ctrls_reject: bool,
    /// `url-path-2f-decode`: `%2F` in the path becomes `/`.
    pub url_path_2f_decode: bool,
    /// `url-path-2f-reject`: 400 for `%2F` in the path.
    pub url_path_2f_reject: bool,
    /// `url-path-dotseg-remove`: remove `.`/`..` segments and `//` runs.
    pub url_path_dotseg_remove: bool,
    /// `url-path-dotseg-reject`: 400 for `.`/`..` segments and `//` runs.
    pub url_path_dotseg_reject: bool,
    /// `url-path-backslash-trans`: `\` to `/`; lighttpd honours it only on
    /// Windows/Cygwin builds, so it changes nothing here.
    pub url_path_backslash_trans: bool,
    /// `url-query-20-plus`: `%20` in the query becomes `+`.
    pub url_query_20_plus: bool,
    /// `url-invalid-utf8-reject`: 400 for bytes that never occur in UTF-8
    /// (`C0`, `C1`, `F5`–`FF`, raw or encoded).
    pub url_invalid_utf8_reject: bool,
}

impl Default for ParseOpts {
    /// lighttpd 1.4.69 without `server.http-parseopts` (measured).
    fn default() -> Self {
        ParseOpts {
            header_strict: true,
            host_strict: true,
            host_normalize: false,
            url_normalize: true,
            url_normalize_unreserved: true,
            url_normalize_required: false,
            url_ctrls_reject: true,
            url_path_2f_decode: true,
            url_path_2f_reject: false,
            url_path_dotseg_remove: true,
            url_path_dotseg_reject: false,
            url_path_backslash_trans: false,
            url_query_20_plus: false,
            url_invalid_utf8_reject: true,
        }
    }
}

/// A pair of `server.http-parseopts` lighttpd refuses to start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ParseOptsConflict {
    /// `url-path-2f-decode` together with `url-path-2f-reject`.
    #[error("conflicting options in server.http-parseopts:url-path-2f-decode, url-path-2f-reject")]
    Slash,
    /// `url-path-dotseg-remove` together with `url-path-dotseg-reject`.
    #[error(
        "conflicting options in server.http-parseopts:url-path-dotseg-remove, url-path-dotseg-reject"
    )]
    DotSegment,
}

impl ParseOpts {
    /// The options from a configured `server.http-parseopts` (a
    /// `key => "enable"|"disable"` array) and the legacy booleans; `legacy`
    /// returns the configured value of e.g. `server.http-parseopt-host-strict`.
    ///
    /// As lighttpd 1.4.69 does: listed keys change the defaults, unlisted
    /// keys keep them; `url-normalize => disable` turns every `url-*` option
    /// off; otherwise, when neither `url-normalize-unreserved` nor
    /// `url-normalize-required` is left on, both `url-normalize-unreserved`
    /// and `url-invalid-utf8-reject` come back on, and so does
    /// `url-path-2f-decode` unless it was disabled or `url-path-2f-reject` is
    /// on. Keys match case-sensitively. Unknown keys and values that are not
    /// booleans are ignored here (lighttpd refuses to start; reporting that
    /// is the configuration check's job, as is [`ParseOpts::conflict`]).
    pub fn from_entries(
        parseopts: Option<&Value>,
        legacy: impl Fn(&str) -> Option<bool>,
    ) -> ParseOpts {
        let mut o = ParseOpts::default();
        if let Some(list) = parseopts.and_then(Value::as_array) {
            let mut keep_url_normalize = true;
            let mut keep_2f_decode = true;
            for entry in list.entries() {
                let (Some(key), Some(on)) = (
                    entry.key.as_ref(),
                    entry.value.as_str().and_then(|v| parse_bool(v)),
                ) else {
                    continue;
                };
                let Some(field) = o.field_mut(key) else {
                    continue;
                };
                *field = on;
                if !on && key.as_slice() == b"url-normalize" {
                    keep_url_normalize = false;
                }
                if !on && key.as_slice() == b"url-path-2f-decode" {
                    keep_2f_decode = false;
                }
            }
            o.settle_url_options(keep_url_normalize, keep_2f_decode);
        }
        // The legacy booleans override the list, whatever the order.
        if let Some(on) = legacy("server.http-parseopt-header-strict") {
            o.header_strict = on;
        }
        if let Some(on) = legacy("server.http-parseopt-host-strict") {
            o.host_strict = on;
        }
        if let Some(on) = legacy("server.http-parseopt-host-normalize") {
            o.host_normalize = on;
        }
        o
    }

    /// The option a `server.http-parseopts` key names.
    fn field_mut(&mut self, key: &[u8]) -> Option<&mut bool> {
        Some(match key {
            b"header-strict" => &mut self.header_strict,
            b"host-strict" => &mut self.host_strict,
            b"host-normalize" => &mut self.host_normalize,
            b"url-normalize" => &mut self.url_normalize,
            b"url-normalize-unreserved" => &mut self.url_normalize_unreserved,
            b"url-normalize-required" => &mut self.url_normalize_required,
            b"url-ctrls-reject" => &mut self.url_ctrls_reject,
            b"url-path-2f-decode" => &mut self.url_path_2f_decode,
            b"url-path-2f-reject" => &mut self.url_path_2f_reject,
            b"url-path-dotseg-remove" => &mut self.url_path_dotseg_remove,
            b"url-path-dotseg-reject" => &mut self.url_path_dotseg_reject,
            b"url-path-backslash-trans" => &mut self.url_path_backslash_trans,
            b"url-query-20-plus" => &mut self.url_query_20_plus,
            b"url-invalid-utf8-reject" => &mut self.url_invalid_utf8_reject,
            _ => return None,
        })
    }

    /// The `url-*` options as a list, for bulk updates.
    fn url_fields(&mut self) -> [&mut bool; 11] {
        [
            &mut self.url_normalize,
            &mut self.url_normalize_unreserved,
            &mut self.url_normalize_required,
            &mut self.url_ctrls_reject,
            &mut self.url_path_2f_decode,
            &mut self.url_path_2f_reject,
            &mut self.url_path_dotseg_remove,
            &mut self.url_path_dotseg_reject,
            &mut self.url_path_backslash_trans,
            &mut self.url_query_20_plus,
            &mut self.url_invalid_utf8_reject,
        ]
    }

    /// The fix-ups lighttpd's `config_http_parseopts` applies after reading
    /// the list.
    fn settle_url_options(&mut self, keep_url_normalize: bool, keep_2f_decode: bool) {
        if !keep_url_normalize {
            for f in self.url_fields() {
                *f = false;
            }
            return;
        }
        if !self.url_fields().iter().any(|f| **f) {
            return;
        }
        self.url_normalize = true;
        if !self.url_normalize_unreserved && !self.url_normalize_required {
            self.url_normalize_unreserved = true;
            self.url_invalid_utf8_reject = true;
            if keep_2f_decode && !self.url_path_2f_reject {
                self.url_path_2f_decode = true;
            }
        }
    }

    /// The conflict lighttpd refuses to start with, if any.
    pub fn conflict(&self) -> Option<ParseOptsConflict> {
        if self.url_path_2f_decode && self.url_path_2f_reject {
            Some(ParseOptsConflict::Slash)
        } else if self.url_path_dotseg_remove && self.url_path_dotseg_reject {
            Some(ParseOptsConflict::DotSegment)
        } else {
            None
        }
    }
}

/// A normalised origin-form request-target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Percent-decoded, simplified path: what `$HTTP["url"]` matches, what
    /// handler prefixes match and what the physical path is built from
    /// (lighttpd's `uri.path`). Decoded control characters are `_`.
    pub path: Vec<u8>,
    /// The normalised, still-encoded path: the part of lighttpd's
    /// `r->target` before the query, so that `path_raw` + `?` + `query` is
    /// the target sent upstream (see [`Target::uri`]). Equal to mod_magnet's
    /// `uri.path-raw` except with `url-normalize-required` and several `?`,
    /// where that attribute cuts at the first `?`.
    pub path_raw: Vec<u8>,
    /// The normalised query without `?` (`$HTTP["querystring"]`, lighttpd's
    /// `uri.query`); `None` when the target has no `?`.
    pub query: Option<Vec<u8>>,
}

impl Target {
    /// `path_raw` and `?query`: the target as lighttpd forwards it (the
    /// request line mod_proxy sends, CGI's `REQUEST_URI`).
    pub fn uri(&self) -> Vec<u8> {
        let q = self.query.as_deref();
        let mut u = Vec::with_capacity(self.path_raw.len() + q.map_or(0, |q| q.len() + 1));
        u.extend_from_slice(&self.path_raw);
        if let Some(q) = q {
            u.push(b'?');
            u.extend_from_slice(q);
        }
        u
    }
}

/// Why a request-target was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TargetError {
    /// `*`: only `OPTIONS *` is valid, and the caller answers it itself.
    #[error("request-target `*` is only valid for OPTIONS")]
    Asterisk,
    /// Not origin-form: empty, or not starting with `/` (e.g. `?q`, `a/b`).
    #[error("request-target does not start with `/`")]
    NotOriginForm,
    /// A control character, raw or encoded (`%00`–`%1F`, `%7F`), with
    /// `url-ctrls-reject`.
    #[error("control character {byte:#04x} in request-target")]
    ControlChar {
        /// The character.
        byte: u8,
    },
    /// A byte that never occurs in UTF-8 (`C0`, `C1`, `F5`–`FF`), raw or
    /// encoded, with `url-invalid-utf8-reject`.
    #[error("byte {byte:#04x} never occurs in UTF-8")]
    InvalidUtf8 {
        /// The byte.
        byte: u8,
    },
    /// `%2F` in the path with `url-path-2f-reject`.
    #[error("encoded `/` (%2F) in the path")]
    EncodedSlash,
    /// A `.` or `..` segment or a `//` run with `url-path-dotseg-reject`.
    #[error("dot segment or `//` in the path")]
    DotSegment,
}

impl TargetError {
    /// The status lighttpd answers with: always 400 Bad Request.
    pub fn status(&self) -> u16 {
        match self {
            TargetError::Asterisk
            | TargetError::NotOriginForm
            | TargetError::ControlChar { .. }
            | TargetError::InvalidUtf8 { .. }
            | TargetError::EncodedSlash
            | TargetError::DotSegment => 400,
        }
    }
}

/// Normalises an origin-form request-target (`/a/b?x`) as lighttpd 1.4.69
/// does with `opts` (`burl_normalize`, then decoding and simplifying the
/// path for `uri.path`).
#[doc(alias = "burl_normalize")]
pub fn normalize(raw: &[u8], opts: &ParseOpts) -> Result<Target, TargetError> {
    normalize_with(raw, opts, true)
}

/// [`normalize`] without its fast path for plain targets: every target
/// goes through the normaliser's passes. The result is the same (the fuzz
/// target `http_target` checks it); this exists for that comparison.
#[doc(hidden)]
pub fn normalize_slow(raw: &[u8], opts: &ParseOpts) -> Result<Target, TargetError> {
    normalize_with(raw, opts, false)
}

fn normalize_with(raw: &[u8], opts: &ParseOpts, fast: bool) -> Result<Target, TargetError> {
    if raw == b"*" {
        return Err(TargetError::Asterisk);
    }
    if raw.first() != Some(&b'/') {
        return Err(TargetError::NotOriginForm);
    }
    // The fragment is dropped while the request line is parsed, even with
    // url-normalize disabled.
    let raw = raw
        .iter()
        .position(|&b| b == b'#')
        .map_or(raw, |i| &raw[..i]);
    if let Some(t) = fast.then(|| fast_path(raw)).flatten() {
        return Ok(t);
    }
    let (path_raw, query) = if opts.url_normalize {
        normalize_url(raw, opts)?
    } else {
        let (p, q) = split_query(raw);
        (p.to_vec(), q.map(<[u8]>::to_vec))
    };
    let path = simplify(&decode_path(&path_raw));
    Ok(Target {
        path,
        path_raw,
        query,
    })
}

/// Targets every option leaves as they are — only unreserved characters,
/// sub-delims, `:`, `@`, `/` (and one `?` before a query of the same
/// characters), no `%`, no empty or dot segments — need no work: the
/// common case, answered without the normaliser's passes.
fn fast_path(raw: &[u8]) -> Option<Target> {
    let plain = |b: &u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
            )
    };
    let (path, query) = split_query(raw);
    if !path.iter().all(plain) || !query.is_none_or(|q| q.iter().all(plain)) {
        return None;
    }
    // No `//`, `/./`, `/../`, and no `/.` or `/..` at the end.
    let segments_clean = path[1..].split(|&b| b == b'/').enumerate().all(|(i, seg)| {
        let last = i == path[1..].iter().filter(|&&b| b == b'/').count();
        (last || !seg.is_empty()) && seg != b".." && seg != b"."
    });
    if !segments_clean {
        return None;
    }
    Some(Target {
        path: path.to_vec(),
        path_raw: path.to_vec(),
        query: query.map(<[u8]>::to_vec),
    })
}

/// `path` and the query after the first `?`.
fn split_query(t: &[u8]) -> (&[u8], Option<&[u8]>) {
    match t.iter().position(|&b| b == b'?') {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    }
}

/// The normaliser proper (`burl_normalize`), for a target cut at `#`.
fn normalize_url(raw: &[u8], opts: &ParseOpts) -> Result<(Vec<u8>, Option<Vec<u8>>), TargetError> {
    let (norm, qs) = normalize_escapes(raw, opts)?;
    if opts.url_ctrls_reject {
        if let Some(byte) = encoded_ctrl(&norm) {
            return Err(TargetError::ControlChar { byte });
        }
    }
    let (path, query) = match qs {
        Some(i) => (&norm[..i], Some(&norm[i + 1..])),
        None => (&norm[..], None),
    };
    let mut path = path.to_vec();
    if opts.url_path_2f_decode {
        path = replace_escape(&path, b"%2F", b'/');
    } else if opts.url_path_2f_reject && find_escape(&path, b"%2F") {
        return Err(TargetError::EncodedSlash);
    }
    if opts.url_path_dotseg_remove || opts.url_path_dotseg_reject {
        let simple = simplify(&path);
        if simple != path {
            if opts.url_path_dotseg_reject {
                return Err(TargetError::DotSegment);
            }
            path = simple;
        }
    }
    let query = query.map(|q| {
        if opts.url_query_20_plus {
            replace_escape(q, b"%20", b'+')
        } else {
            q.to_vec()
        }
    });
    Ok((path, query))
}

/// Bytes that must be percent-encoded in a normalised target: controls,
/// space, `"`, `#`, `%`, `<`, `>`, `[`, `\`, `]`, `^`, the backtick, `{`,
/// `|`, `}`, DEL and every byte ≥ 0x80 (burl.c's
/// `encoded_chars_http_uri_reqd`).
fn must_encode(b: u8) -> bool {
    matches!(
        b,
        0x00..=0x20
            | b'"'
            | b'#'
            | b'%'
            | b'<'
            | b'>'
            | b'['
            | b'\\'
            | b']'
            | b'^'
            | b'`'
            | b'{'
            | b'|'
            | b'}'
            | 0x7f..=0xff
    )
}

/// RFC 3986 unreserved: `A-Z a-z 0-9 - . _ ~`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes that never occur in UTF-8: overlong leads of ASCII and bytes past
/// U+10FFFF (burl.c's `li_utf8_invalid_byte`).
fn never_in_utf8(b: u8) -> bool {
    b >= 0xf5 || b == 0xc0 || b == 0xc1
}

/// The value of a hex digit.
fn hex_value(b: Option<&u8>) -> Option<u8> {
    let b = *b?;
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Upper-case hex digits, as lighttpd writes escapes.
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `%XX` with upper-case hex.
fn push_escape(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[
        b'%',
        HEX_UPPER[usize::from(b >> 4)],
        HEX_UPPER[usize::from(b & 0xf)],
    ]);
}

/// Percent-normalisation (`burl_normalize_basic_unreserved` /
/// `_required`): returns the normalised target and the index of the `?`
/// starting the query.
///
/// The query starts at the first raw `?`, except with
/// `url-normalize-required` in a target without any byte that never occurs
/// in UTF-8: then it starts at the *last* raw `?` (a lighttpd 1.4.69 quirk,
/// measured). Escapes follow the query rules from the first raw `?` on in
/// every case.
fn normalize_escapes(
    raw: &[u8],
    opts: &ParseOpts,
) -> Result<(Vec<u8>, Option<usize>), TargetError> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 4);
    let mut first_q: Option<usize> = None;
    let mut last_q: Option<usize> = None;
    let mut saw_never_utf8 = false;
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if !must_encode(b) {
            if b == b'?' {
                first_q.get_or_insert(out.len());
                last_q = Some(out.len());
            }
            out.push(b);
            i += 1;
            continue;
        }
        let escape = if b == b'%' {
            hex_value(raw.get(i + 1)).zip(hex_value(raw.get(i + 2)))
        } else {
            None
        };
        let byte = match escape {
            Some((hi, lo)) => {
                let x = (hi << 4) | lo;
                i += 3;
                if decodes(x, first_q.is_some(), opts.url_normalize_required) {
                    out.push(x);
                    continue;
                }
                x
            }
            None => {
                i += 1;
                b
            }
        };
        if never_in_utf8(byte) {
            if opts.url_invalid_utf8_reject {
                return Err(TargetError::InvalidUtf8 { byte });
            }
            saw_never_utf8 = true;
        }
        push_escape(&mut out, byte);
    }
    let qs = if opts.url_normalize_required && !saw_never_utf8 {
        last_q
    } else {
        first_q
    };
    Ok((out, qs))
}

/// Whether `%XX` of `x` is decoded: unreserved characters always; with
/// `url-normalize-required` everything that need not be encoded except
/// `/ ?` in the path and `& = ; +` in the query.
fn decodes(x: u8, in_query: bool, required: bool) -> bool {
    if !required {
        return is_unreserved(x);
    }
    !must_encode(x)
        && if in_query {
            !matches!(x, b'&' | b'=' | b';' | b'+')
        } else {
            !matches!(x, b'/' | b'?')
        }
}

/// The first encoded control character of a normalised target
/// (`burl_contains_ctrls`).
fn encoded_ctrl(norm: &[u8]) -> Option<u8> {
    escapes(norm).find(|&x| x < 0x20 || x == 0x7f)
}

/// The values of the `%XX` escapes of a normalised target (every `%` there
/// starts one).
fn escapes(norm: &[u8]) -> impl Iterator<Item = u8> + '_ {
    norm.iter().enumerate().filter_map(|(i, &b)| {
        (b == b'%')
            .then(|| hex_value(norm.get(i + 1)).zip(hex_value(norm.get(i + 2))))
            .flatten()
            .map(|(hi, lo)| (hi << 4) | lo)
    })
}

/// Whether the normalised `s` contains the escape `esc` (upper-case hex).
fn find_escape(s: &[u8], esc: &[u8; 3]) -> bool {
    s.windows(3).any(|w| w == esc)
}

/// `s` with every escape `esc` replaced by `by`, stepping over escapes so
/// that `%2520` stays intact.
fn replace_escape(s: &[u8], esc: &[u8; 3], by: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            match s.get(i..i + 3) {
                Some(w) if w == esc => out.push(by),
                Some(w) => out.extend_from_slice(w),
                None => out.extend_from_slice(&s[i..]),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Percent-decodes a path; decoded control characters become `_`, invalid
/// escapes stay as they are (`buffer_urldecode_path`). lighttpd decodes
/// from the first `%` on as a C string, so a raw NUL after a `%` ends the
/// path (a raw NUL gets here only with url-normalize disabled).
#[doc(alias = "buffer_urldecode_path")]
fn decode_path(p: &[u8]) -> Vec<u8> {
    let p = match p.iter().position(|&b| b == b'%') {
        Some(pct) => p[pct..]
            .iter()
            .position(|&b| b == 0)
            .map_or(p, |nul| &p[..pct + nul]),
        None => p,
    };
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    while let Some(&b) = p.get(i) {
        if b == b'%' {
            if let Some((hi, lo)) = hex_value(p.get(i + 1)).zip(hex_value(p.get(i + 2))) {
                let x = (hi << 4) | lo;
                out.push(if x < 0x20 || x == 0x7f { b'_' } else { x });
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Removes `.` and `..` segments (never above the root) and collapses `//`
/// runs; a final `.`/`..` segment leaves a trailing `/`
/// (`buffer_path_simplify`). The result always starts with `/`, also for
/// an input that does not. A backslash is an ordinary byte (as in lighttpd
/// outside Windows).
#[doc(alias = "buffer_path_simplify")]
pub fn simplify(path: &[u8]) -> Vec<u8> {
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut trailing_slash = false;
    for seg in path.split(|&b| b == b'/') {
        trailing_slash = matches!(seg, b"" | b"." | b"..");
        match seg {
            b"" | b"." => {}
            b".." => {
                kept.pop();
            }
            _ => kept.push(seg),
        }
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    for seg in &kept {
        out.push(b'/');
        out.extend_from_slice(seg);
    }
    if trailing_slash || kept.is_empty() {
        out.push(b'/');
    }
    out
}
