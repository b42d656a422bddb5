//! `accesslog.format`: parsed once at config load into a list of literal
//! bytes and fields, rendered per request (lighttpd: `mod_accesslog.c`,
//! `accesslog_parse_format`, `log_access_record`).
//!
//! ```text
//! format text ─unescape (\t \n \" …)─► tokens (literal, %{key}X) ─check─► Format
//! Format + Record ─render─► one line, values escaped (\" \\ \xHH or JSON), "\n"
//! ```
//!
//! What 1.4.69 does, as observed with the binary, and what is mirrored here:
//! - Backslash sequences in the format are resolved first: `\a \b \f \n \r
//!   \t \v` become control bytes, any other `\c` becomes `c`.
//! - `%<X` and `%>X` are accepted for every specifier and mean `%X`; a key
//!   (`%{key}X`) is accepted for every specifier and ignored where it means
//!   nothing; `%{key}<X` is refused.
//! - Only one "seconds clock" field per format: strftime (`%t`, `%{…%…}t`,
//!   with or without `begin:`/`end:`) or `%{sec}t`; `msec`, `usec`, `nsec`
//!   and the `*_frac` forms may be repeated.
//! - lighttpd crashes on `%i` / `%o` without a header name; wick refuses them.

use std::ffi::CString;
use std::fmt;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use bstr::{BString, ByteSlice};
use http::HeaderName;

use super::{ConnStatus, Escaping, Record};

/// lighttpd's default `accesslog.format` (Apache's combined log format with
/// the virtual host in place of the ident).
pub const DEFAULT_FORMAT: &str = "%h %V %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";

/// What `%t` alone prints: the common log format's time, local time zone.
const CLF_TIME: &[u8] = b"[%d/%b/%Y:%H:%M:%S %z]";

/// Why a format was refused. The `Display` text names the offending
/// specifier; lighttpd's own lines for the same cases are listed in the
/// module doc of `accesslog`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// `accesslog.format = ""`.
    #[error("the format is empty")]
    Empty,
    /// A lone `%` ends the format.
    #[error("`%` at the end of the format has no specifier (write `%%` for a literal `%`)")]
    TrailingPercent,
    /// `%{` without `}`, or `%{}`.
    #[error("`{0}`: `%{{` needs a name and a closing `}}`")]
    BadKey(BString),
    /// A letter that is no specifier, or nothing after `%{key}` / `%>`.
    #[error("`{0}` is not a format specifier")]
    UnknownSpecifier(BString),
    /// `%i` or `%o` without `{Header-Name}`.
    #[error("`{0}` needs a header name, as in `%{{User-Agent}}i`")]
    MissingHeaderName(BString),
    /// `%{…}t` with neither a strftime conversion nor a known unit.
    #[error(
        "`{0}`: a time format needs a strftime `%` conversion, or sec, msec, usec, nsec, \
         msec_frac, usec_frac or nsec_frac (optionally after begin: or end:)"
    )]
    TimeFormat(BString),
    /// `%{…}T` with an unknown unit.
    #[error("`{0}`: the unit must be s, sec, ms, msec, us, usec, ns or nsec")]
    DurationUnit(BString),
    /// `%{…}p` other than local, remote, canonical.
    #[error("`{0}`: write %p, %{{local}}p, %{{remote}}p or %{{canonical}}p")]
    PortKind(BString),
    /// A second strftime or `%{sec}t` field.
    #[error("`{second}` after `{first}`: a format may hold only one strftime or %{{sec}}t time")]
    TimeTwice {
        /// The first such field.
        first: BString,
        /// The refused one.
        second: BString,
    },
}

/// A parsed `accesslog.format`.
pub struct Format {
    items: Vec<Item>,
    /// The last strftime result: lighttpd formats the time once per second.
    time_cache: Mutex<Option<(i64, Vec<u8>)>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Literal(Vec<u8>),
    Field(Field),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    /// `%a`, `%h`.
    RemoteAddr,
    /// `%A`.
    LocalAddr,
    /// `%b`, `%B`.
    BodyBytes,
    /// `%C` (no name: always empty), `%{name}C`.
    Cookie(Option<Vec<u8>>),
    /// `%e` (no name: `-`), `%{VAR}e`.
    Env(Option<Vec<u8>>),
    /// `%f`.
    Filename,
    /// `%H`.
    Protocol,
    /// `%{Name}i`.
    RequestHeader(HeaderKey),
    /// `%I`.
    BytesIn,
    /// `%k`.
    KeepAliveCount,
    /// `%l`: `-`; `%{key}l` prints nothing.
    Ident { keyed: bool },
    /// `%m`.
    Method,
    /// `%n`: always `-`.
    Note,
    /// `%{Name}o`.
    ResponseHeader(HeaderKey),
    /// `%O`.
    BytesOut,
    /// `%p`, `%{local}p`, `%{canonical}p`.
    LocalPort,
    /// `%{remote}p`.
    RemotePort,
    /// `%q`.
    Query,
    /// `%r`.
    RequestLine,
    /// `%s`, `%>s`, `%<s`.
    Status,
    /// `%t` and its `%{…}t` forms.
    Time(TimeSpec),
    /// `%D` (µs), `%T` and `%{unit}T`.
    Duration(Unit),
    /// `%u`.
    RemoteUser,
    /// `%U`.
    UrlPath,
    /// `%v`.
    ServerName,
    /// `%V`.
    Host,
    /// `%X`.
    ConnStatus,
}

/// A header named in `%{Name}i` / `%{Name}o`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HeaderKey {
    /// `None` when the key is no valid header name: never found.
    name: Option<HeaderName>,
    /// The name in `Title-Case`, for repeated response headers.
    title: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Sec,
    Msec,
    Usec,
    Nsec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TimeSpec {
    /// `begin:` (request start) rather than the default `end:`.
    begin: bool,
    kind: TimeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TimeKind {
    /// strftime(3) in the local time zone.
    Strftime(CString),
    /// Seconds, or milli/micro/nanoseconds since the epoch.
    Epoch(Unit),
    /// The fraction of the second, zero-padded (3, 6 or 9 digits).
    Frac(Unit),
}

/// A stretch of the format before meanings are checked.
enum Piece<'t> {
    Literal(&'t [u8]),
    Spec(Token<'t>),
}

/// One `%…` token before its meaning is checked.
struct Token<'t> {
    spec: u8,
    key: Option<&'t [u8]>,
    text: &'t [u8],
}

impl Format {
    /// Parses `accesslog.format` as read from the configuration (only `\"`
    /// resolved by the config parser; the other backslash sequences are
    /// resolved here, as lighttpd does).
    pub fn parse(text: &[u8]) -> Result<Format, FormatError> {
        if text.is_empty() {
            return Err(FormatError::Empty);
        }
        let text = unescape(text);
        // Syntax first, then meanings: lighttpd reports in that order too.
        let mut pieces: Vec<Piece<'_>> = Vec::new();
        let mut i = 0;
        let mut lit_start = 0;
        while i < text.len() {
            if text[i] != b'%' {
                i += 1;
                continue;
            }
            if lit_start < i {
                pieces.push(Piece::Literal(&text[lit_start..i]));
            }
            let start = i;
            i += 1;
            let mut key = None;
            match text.get(i) {
                None => return Err(FormatError::TrailingPercent),
                Some(b'{') => {
                    let rest = &text[i + 1..];
                    match rest.find_byte(b'}') {
                        Some(n) if n > 0 => {
                            key = Some(&rest[..n]);
                            i += n + 2;
                        }
                        _ => {
                            let end = (i + 1 + rest.find_byte(b'}').unwrap_or(rest.len()) + 1)
                                .min(text.len());
                            return Err(FormatError::BadKey(text[start..end].into()));
                        }
                    }
                }
                Some(b'<' | b'>') => i += 1,
                Some(_) => {}
            }
            let Some(&spec) = text.get(i) else {
                return Err(FormatError::UnknownSpecifier(text[start..].into()));
            };
            i += 1;
            if !b"%aAbBCDefhHiIklmnoOpPqrstTuUvVX".contains(&spec) {
                return Err(FormatError::UnknownSpecifier(text[start..i].into()));
            }
            pieces.push(Piece::Spec(Token {
                spec,
                key,
                text: &text[start..i],
            }));
            lit_start = i;
        }
        if lit_start < text.len() {
            pieces.push(Piece::Literal(&text[lit_start..]));
        }

        let mut items: Vec<Item> = Vec::new();
        let mut clock: Option<&[u8]> = None;
        for piece in pieces {
            let token = match piece {
                Piece::Literal(lit) => {
                    push_literal(&mut items, lit);
                    continue;
                }
                Piece::Spec(token) => token,
            };
            let field = match token.spec {
                // `%%` is a literal `%`; `%{key}%` and `%P` print nothing.
                b'%' if token.key.is_none() => {
                    push_literal(&mut items, b"%");
                    continue;
                }
                b'%' | b'P' => continue,
                b'a' | b'h' => Field::RemoteAddr,
                b'A' => Field::LocalAddr,
                b'b' | b'B' => Field::BodyBytes,
                b'C' => Field::Cookie(token.key.map(<[u8]>::to_vec)),
                b'D' => Field::Duration(Unit::Usec),
                b'e' => Field::Env(token.key.map(<[u8]>::to_vec)),
                b'f' => Field::Filename,
                b'H' => Field::Protocol,
                b'i' | b'o' => {
                    let key = token
                        .key
                        .ok_or_else(|| FormatError::MissingHeaderName(token.text.into()))?;
                    let key = HeaderKey::new(key);
                    if token.spec == b'i' {
                        Field::RequestHeader(key)
                    } else {
                        Field::ResponseHeader(key)
                    }
                }
                b'I' => Field::BytesIn,
                b'k' => Field::KeepAliveCount,
                b'l' => Field::Ident {
                    keyed: token.key.is_some(),
                },
                b'm' => Field::Method,
                b'n' => Field::Note,
                b'O' => Field::BytesOut,
                b'p' => match token.key {
                    None | Some(b"local" | b"canonical") => Field::LocalPort,
                    Some(b"remote") => Field::RemotePort,
                    Some(_) => return Err(FormatError::PortKind(token.text.into())),
                },
                b'q' => Field::Query,
                b'r' => Field::RequestLine,
                b's' => Field::Status,
                b't' => {
                    let spec = parse_time(token.key)
                        .ok_or_else(|| FormatError::TimeFormat(token.text.into()))?;
                    if matches!(
                        spec.kind,
                        TimeKind::Strftime(_) | TimeKind::Epoch(Unit::Sec)
                    ) {
                        if let Some(first) = clock {
                            return Err(FormatError::TimeTwice {
                                first: first.into(),
                                second: token.text.into(),
                            });
                        }
                        clock = Some(token.text);
                    }
                    Field::Time(spec)
                }
                b'T' => Field::Duration(match token.key {
                    None | Some(b"s" | b"sec") => Unit::Sec,
                    Some(b"ms" | b"msec") => Unit::Msec,
                    Some(b"us" | b"usec") => Unit::Usec,
                    Some(b"ns" | b"nsec") => Unit::Nsec,
                    Some(_) => return Err(FormatError::DurationUnit(token.text.into())),
                }),
                b'u' => Field::RemoteUser,
                b'U' => Field::UrlPath,
                b'v' => Field::ServerName,
                b'V' => Field::Host,
                b'X' => Field::ConnStatus,
                _ => return Err(FormatError::UnknownSpecifier(token.text.into())),
            };
            items.push(Item::Field(field));
        }
        Ok(Format {
            items,
            time_cache: Mutex::new(None),
        })
    }

    /// Appends the line for `rec` (ending in `\n`), values escaped as with
    /// `accesslog.escaping = "default"`.
    pub fn render(&self, rec: &Record<'_>, out: &mut Vec<u8>) {
        self.render_escaped(rec, Escaping::Default, out);
    }

    /// Appends the line for `rec` with the given `accesslog.escaping`.
    pub fn render_escaped(&self, rec: &Record<'_>, esc: Escaping, out: &mut Vec<u8>) {
        for item in &self.items {
            match item {
                Item::Literal(bytes) => out.extend_from_slice(bytes),
                Item::Field(field) => self.render_field(field, rec, esc, out),
            }
        }
        out.push(b'\n');
    }

    fn render_field(&self, field: &Field, rec: &Record<'_>, esc: Escaping, out: &mut Vec<u8>) {
        let text = |out: &mut Vec<u8>, s: &[u8]| escape_into(out, s, esc);
        let or_dash = |out: &mut Vec<u8>, s: &[u8]| {
            if s.is_empty() {
                out.push(b'-');
            } else {
                escape_into(out, s, esc);
            }
        };
        let number_or_dash = |out: &mut Vec<u8>, n: u64| {
            if n == 0 {
                out.push(b'-');
            } else {
                push_number(out, n);
            }
        };
        match field {
            Field::RemoteAddr => text(out, rec.remote_addr.as_bytes()),
            Field::LocalAddr => text(out, rec.local_addr.as_bytes()),
            Field::BodyBytes => {
                // "-" only when nothing at all was written (aborted early).
                if rec.bytes_out == 0 {
                    out.push(b'-');
                } else {
                    push_number(out, rec.body_out);
                }
            }
            Field::Cookie(name) => {
                if let Some(name) = name {
                    cookie_into(rec, name, esc, out);
                }
            }
            Field::Env(name) => {
                let value = name.as_deref().and_then(|n| {
                    rec.env
                        .iter()
                        .find(|(k, _)| k.as_slice() == n)
                        .map(|(_, v)| v.as_slice())
                });
                or_dash(out, value.unwrap_or_default());
            }
            Field::Filename => or_dash(out, rec.physical_path.unwrap_or_default()),
            Field::Protocol => text(out, rec.protocol),
            Field::RequestHeader(key) => request_header(rec, key, esc, out),
            Field::BytesIn => number_or_dash(out, rec.bytes_in),
            Field::KeepAliveCount => push_number(out, u64::from(rec.keepalive_count)),
            Field::Ident { keyed } => {
                if !keyed {
                    out.push(b'-');
                }
            }
            Field::Method => text(out, rec.method),
            Field::Note => out.push(b'-'),
            Field::ResponseHeader(key) => response_header(rec, key, esc, out),
            Field::BytesOut => number_or_dash(out, rec.bytes_out),
            Field::LocalPort => {
                if let Some(port) = rec.local_port {
                    push_number(out, u64::from(port));
                }
            }
            Field::RemotePort => push_number(out, u64::from(rec.remote_port)),
            Field::Query => text(out, rec.query),
            Field::RequestLine => {
                text(out, rec.method);
                out.push(b' ');
                text(out, rec.target);
                out.push(b' ');
                text(out, rec.protocol);
            }
            Field::Status => push_number(out, u64::from(rec.status)),
            Field::Time(spec) => self.render_time(spec, rec, out),
            Field::Duration(unit) => {
                let d = rec.end.duration_since(rec.start).unwrap_or_default();
                let ns = d.as_nanos();
                let n = match unit {
                    Unit::Sec => u128::from(d.as_secs()),
                    Unit::Msec => ns.div_ceil(1_000_000),
                    Unit::Usec => ns.div_ceil(1_000),
                    Unit::Nsec => ns,
                };
                let _ = write!(out, "{n}");
            }
            Field::RemoteUser => or_dash(out, rec.remote_user.unwrap_or_default()),
            Field::UrlPath => text(out, rec.uri_path),
            Field::ServerName => {
                let name = if rec.server_name.is_empty() {
                    rec.host
                } else {
                    rec.server_name
                };
                or_dash(out, name);
            }
            Field::Host => or_dash(out, rec.host),
            Field::ConnStatus => out.push(match rec.conn_status {
                ConnStatus::Aborted => b'X',
                ConnStatus::KeepAlive => b'+',
                ConnStatus::Close => b'-',
            }),
        }
    }

    fn render_time(&self, spec: &TimeSpec, rec: &Record<'_>, out: &mut Vec<u8>) {
        let at = if spec.begin { rec.start } else { rec.end };
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let sub = u64::from(since.subsec_nanos());
        let total = u128::from(secs) * 1_000_000_000 + u128::from(sub);
        // lighttpd rounds the sub-second units up.
        let _ = match &spec.kind {
            TimeKind::Strftime(fmt) => {
                let secs = i64::try_from(secs).unwrap_or(i64::MAX);
                self.strftime_cached(fmt, secs, out);
                Ok(())
            }
            TimeKind::Epoch(Unit::Sec) => write!(out, "{secs}"),
            TimeKind::Epoch(Unit::Msec) => write!(out, "{}", total.div_ceil(1_000_000)),
            TimeKind::Epoch(Unit::Usec) => write!(out, "{}", total.div_ceil(1_000)),
            TimeKind::Epoch(Unit::Nsec) => write!(out, "{total}"),
            TimeKind::Frac(Unit::Msec) => write!(out, "{:03}", sub.div_ceil(1_000_000)),
            TimeKind::Frac(Unit::Usec) => write!(out, "{:06}", sub.div_ceil(1_000)),
            TimeKind::Frac(Unit::Nsec | Unit::Sec) => write!(out, "{sub:09}"),
        };
    }

    fn strftime_cached(&self, fmt: &CString, secs: i64, out: &mut Vec<u8>) {
        // try_lock: a contended cache is skipped, never waited for.
        if let Ok(mut cache) = self.time_cache.try_lock() {
            match &mut *cache {
                Some((at, text)) if *at == secs => out.extend_from_slice(text),
                slot => {
                    let mut text = Vec::new();
                    strftime_local(fmt, secs, &mut text);
                    out.extend_from_slice(&text);
                    *slot = Some((secs, text));
                }
            }
        } else {
            strftime_local(fmt, secs, out);
        }
    }
}

impl Default for Format {
    /// lighttpd's default format, [`DEFAULT_FORMAT`].
    fn default() -> Self {
        Format::parse(DEFAULT_FORMAT.as_bytes()).expect("the default format parses")
    }
}

impl Clone for Format {
    fn clone(&self) -> Self {
        Format {
            items: self.items.clone(),
            time_cache: Mutex::new(None),
        }
    }
}

impl PartialEq for Format {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl Eq for Format {}

impl fmt::Debug for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Format")
            .field("items", &self.items)
            .finish_non_exhaustive()
    }
}

impl HeaderKey {
    fn new(key: &[u8]) -> HeaderKey {
        let mut title = key.to_ascii_lowercase();
        let mut upper = true;
        for b in &mut title {
            if upper {
                b.make_ascii_uppercase();
            }
            upper = *b == b'-';
        }
        HeaderKey {
            name: HeaderName::from_bytes(key).ok(),
            title,
        }
    }
}

fn push_literal(items: &mut Vec<Item>, bytes: &[u8]) {
    if let Some(Item::Literal(last)) = items.last_mut() {
        last.extend_from_slice(bytes);
    } else {
        items.push(Item::Literal(bytes.to_vec()));
    }
}

/// Resolves the format's backslash sequences: `\a \b \f \n \r \t \v` are
/// control bytes, any other `\c` is `c`; a final lone `\` stays.
fn unescape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match bytes.next() {
            None => b'\\',
            Some(b'a') => 0x07,
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'v') => 0x0b,
            Some(&c) => c,
        });
    }
    out
}

/// The meaning of `%{key}t` (`None`: refused). No key: `%t`, the common log
/// format's `[day/Mon/year:hh:mm:ss zone]` at the end of the request.
fn parse_time(key: Option<&[u8]>) -> Option<TimeSpec> {
    let Some(key) = key else {
        return Some(TimeSpec {
            begin: false,
            kind: TimeKind::Strftime(CString::new(CLF_TIME).ok()?),
        });
    };
    let (begin, rest) = if let Some(rest) = key.strip_prefix(b"begin:") {
        (true, rest)
    } else if let Some(rest) = key.strip_prefix(b"end:") {
        (false, rest)
    } else {
        (false, key)
    };
    let kind = match rest {
        b"sec" => TimeKind::Epoch(Unit::Sec),
        b"msec" => TimeKind::Epoch(Unit::Msec),
        b"usec" => TimeKind::Epoch(Unit::Usec),
        b"nsec" => TimeKind::Epoch(Unit::Nsec),
        b"msec_frac" => TimeKind::Frac(Unit::Msec),
        b"usec_frac" => TimeKind::Frac(Unit::Usec),
        b"nsec_frac" => TimeKind::Frac(Unit::Nsec),
        _ if rest.contains(&b'%') => {
            // strftime stops at a NUL byte, as the C string would.
            let end = rest.find_byte(0).unwrap_or(rest.len());
            TimeKind::Strftime(CString::new(&rest[..end]).ok()?)
        }
        _ => return None,
    };
    Some(TimeSpec { begin, kind })
}

/// strftime(3) of `secs` in the local time zone (TZ as libc reads it).
fn strftime_local(fmt: &CString, secs: i64, out: &mut Vec<u8>) {
    // time_t is 64 bits on every target wick builds for.
    let t = secs as libc::time_t;
    // SAFETY: localtime_r writes into the zeroed struct we own and returns
    // NULL on failure; strftime writes at most `buf.len()` bytes into `buf`
    // from a NUL-terminated format and that struct.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return;
        }
        let mut buf = vec![0u8; 256];
        loop {
            let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm);
            if n > 0 || buf.len() >= 16 * 1024 {
                out.extend_from_slice(&buf[..n]);
                return;
            }
            buf.resize(buf.len() * 4, 0);
        }
    }
}

fn push_number(out: &mut Vec<u8>, n: u64) {
    let _ = write!(out, "{n}");
}

/// Appends `s` escaped for the log (`accesslog.escaping`).
///
/// Default: `"` and `\` get a backslash; BEL BS TAB LF VT FF CR become `\a
/// \b \t \n \v \f \r`; other bytes below 0x20 and from 0x7f up become
/// `\xHH` (upper-case hex). JSON: the same, except that other control bytes
/// become `\u00HH` and bytes from 0x7f up pass unchanged.
pub fn escape_into(out: &mut Vec<u8>, s: &[u8], esc: Escaping) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let plain = match esc {
            Escaping::Default => (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\',
            Escaping::Json => b >= 0x20 && b != b'"' && b != b'\\',
        };
        if plain {
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        start = i + 1;
        let named = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x07 => b'a',
            0x08 => b'b',
            b'\t' => b't',
            b'\n' => b'n',
            0x0b => b'v',
            0x0c => b'f',
            b'\r' => b'r',
            _ => 0,
        };
        if named != 0 {
            out.extend_from_slice(&[b'\\', named]);
        } else if esc == Escaping::Json {
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        }
    }
    out.extend_from_slice(&s[start..]);
}

/// `%{name}i`: every value of the header, empty ones skipped, joined with
/// `, ` (`; ` for Cookie), or `-`. Host is the normalised authority.
fn request_header(rec: &Record<'_>, key: &HeaderKey, esc: Escaping, out: &mut Vec<u8>) {
    let Some(name) = &key.name else {
        out.push(b'-');
        return;
    };
    if name == http::header::HOST && !rec.host.is_empty() {
        escape_into(out, rec.host, esc);
        return;
    }
    let sep: &[u8] = if name == http::header::COOKIE {
        b"; "
    } else {
        b", "
    };
    let mut first = true;
    for value in rec.request_headers.get_all(name) {
        let value = value.as_bytes();
        if value.is_empty() {
            continue;
        }
        if !first {
            out.extend_from_slice(sep);
        }
        first = false;
        escape_into(out, value, esc);
    }
    if first {
        out.push(b'-');
    }
}

/// `%{name}o`: the first value, each later one as lighttpd keeps repeated
/// response headers (`\r\nName: value`, escaped), or `-`.
fn response_header(rec: &Record<'_>, key: &HeaderKey, esc: Escaping, out: &mut Vec<u8>) {
    let mut first = true;
    if let Some(name) = &key.name {
        for value in rec.response_headers.get_all(name) {
            let value = value.as_bytes();
            if value.is_empty() {
                continue;
            }
            if !first {
                escape_into(out, b"\r\n", esc);
                escape_into(out, &key.title, esc);
                out.extend_from_slice(b": ");
            }
            first = false;
            escape_into(out, value, esc);
        }
    }
    if first {
        out.push(b'-');
    }
}

/// `%{name}C`, scanning the Cookie headers (repeated ones joined with
/// `; `) as lighttpd does: pairs separated by `;`, blanks skipped before
/// each; the first pair starting with `name=` (case-sensitive) gives its
/// value up to the next `;`, trailing blanks dropped, inner ones kept. A
/// word followed by a blank and then anything but `;` ends the scan
/// (`x y; a=1` has no `a`). Not found: nothing is printed.
fn cookie_into(rec: &Record<'_>, name: &[u8], esc: Escaping, out: &mut Vec<u8>) {
    let mut values = rec.request_headers.get_all(http::header::COOKIE).iter();
    let Some(first) = values.next() else {
        return;
    };
    let joined: Vec<u8>;
    let mut text = first.as_bytes();
    let rest: Vec<_> = values.collect();
    if !rest.is_empty() {
        let mut all = text.to_vec();
        for v in rest {
            all.extend_from_slice(b"; ");
            all.extend_from_slice(v.as_bytes());
        }
        joined = all;
        text = &joined;
    }
    if let Some(value) = find_cookie(text, name) {
        escape_into(out, value, esc);
    }
}

fn find_cookie<'t>(mut s: &'t [u8], name: &[u8]) -> Option<&'t [u8]> {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let skip_blanks = |s: &'t [u8]| &s[s.iter().take_while(|b| blank(b)).count()..];
    loop {
        s = skip_blanks(s);
        if let Some(rest) = s.strip_prefix(name).and_then(|r| r.strip_prefix(b"=")) {
            let end = rest.find_byte(b';').unwrap_or(rest.len());
            return Some(rest[..end].trim_end_with(|c| c == ' ' || c == '\t'));
        }
        let word = s.iter().take_while(|&b| *b != b';' && !blank(b)).count();
        match skip_blanks(&s[word..]).split_first() {
            Some((b';', rest)) => s = rest,
            _ => return None,
        }
    }
}
