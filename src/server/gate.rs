//! lighttpd's request-head rules that hyper's parser does not apply
//! (spec streaming-and-core.md §4), enforced on the bytes before hyper
//! reads them.
//!
//! | input | lighttpd 1.4.69 | hyper alone | through the gate |
//! |---|---|---|---|
//! | empty lines before the request line | 400 | skipped | 400 |
//! | bare LF line ends | 400 | accepted | 400 |
//! | obs-fold (a header line starting with a blank) | unfolded, accepted | 400 | unfolded, accepted |
//! | request line without ` HTTP/` (HTTP/0.9, garbage) | 400 once the head is complete | 400 | 400 once the head is complete |
//! | request line starting with a CR not followed by LF | 400 (501 when the line arrived whole: its CR is part of the method) | 400 | 400 |
//! | version other than `HTTP/1.0` / `HTTP/1.1` | 505 (`D` or `D.D`), else 400 | 400 | the same as lighttpd |
//! | method not one lighttpd knows (not a token, lower case, empty) | 501 | 400 or 501 | 501 |
//! | target not `/…`, `*` (OPTIONS), `http(s)://host/…` or a numeric authority (CONNECT: `1.2.3.4:443`, not `a:443`, not `[::1]:443`) | 400 | some accepted | 400 |
//! | two `Content-Length` lines (even equal), one not all digits | 400 | accepted when equal | 400 |
//! | an empty `Content-Length` | as if absent | 400 | the line left out |
//! | two `Host` lines with different values (not in case; an empty one is none) | 400 | accepted | 400 |
//! | `Content-Length` and `Transfer-Encoding` | 400 | chunked wins | 400 |
//! | a `Transfer-Encoding` other than `chunked` / twice / in HTTP/1.0 | 501 at its line / 501 / 400 | 400 (501 if it ends in chunked) | the same as lighttpd |
//! | header line without a colon, name not a token | 400 | 400 | 400 |
//! | control byte (not a tab) in a header line | 400 | 400 | 400 |
//! | control byte or never-UTF-8 byte (C0, C1, F5–FF) in the target | 400 | 400 | 400 |
//! | space, `"`, `<`, `>`, `` ` ``, non-UTF-8 in the target | encoded, accepted | 400 | encoded, accepted |
//! | head longer than `server.max-request-field-size` | 431 | 431 | 431 |
//!
//! lighttpd judges the request line first, then the header lines in
//! order, then the target's bytes; the first fault decides. Its answer
//! says `HTTP/1.1` only when the request line did (a fault in the line
//! itself: `HTTP/1.0`).
//!
//! Refusals come with lighttpd's error page (or `server.errorfile-prefix`),
//! where hyper alone answers with an empty body.
//!
//! The gate follows the framing of each request (Content-Length, chunked)
//! to find the next head. After an HTTP/2 preface it steps aside. After a
//! head that may switch protocols (`Upgrade`, CONNECT) it holds what
//! follows until the answer's status line goes out through it: a switch
//! (101; 2xx to a CONNECT) makes it step aside for the tunnel, any other
//! answer sends it on judging heads. A head it refuses is replaced by a request for
//! the refusal ([`REFUSED_METHOD`]), which the request handler answers
//! with the status's page before the connection closes.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker, ready};

use bytes::{Buf, BytesMut};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode, percent_encode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The method of the request the gate hands to hyper in place of a head
/// it refuses; the target is `/<status>`, and a [`REFUSED_LINE`] header
/// carries the request line as far as it was understood. The
/// request handler answers it with that status's error page
/// (`server.errorfile-prefix` or the standard one) and closes the
/// connection, as lighttpd does. A client's own request with this method
/// is refused as an unknown method (501), so only the gate's reach the
/// handler.
pub const REFUSED_METHOD: &str = "WICK-GATE-REFUSED";

/// The header of a refusal that carries the request line for the access
/// log, as lighttpd logs it: `HTTP/1.x METHOD TARGET`, the method and
/// target percent-escaped ([`refused_line`] reads it back), either empty
/// when lighttpd would not have taken it (an unknown method, a target of
/// the wrong form). Without the header, the line itself was at fault and
/// the log shows an empty one.
pub const REFUSED_LINE: &str = "wick-request-line";

/// Bytes a logged method or target escapes in the stand-in's
/// [`REFUSED_LINE`] header: controls, blanks and `%` (and every
/// non-ASCII byte), so the three words split apart again exactly.
const LOG_ESCAPES: &AsciiSet = &CONTROLS.add(b' ').add(b'%');

/// The printable ASCII bytes (and the blank) of a request-target that
/// lighttpd takes and encodes but hyper refuses.
const HYPER_REFUSES: &[u8] = b" \"<>`";

/// [`HYPER_REFUSES`] for the encoder (non-ASCII bytes are encoded too, when
/// the target is not UTF-8).
const TARGET_ESCAPES: &AsciiSet = &{
    let mut set = AsciiSet::EMPTY;
    let mut i = 0;
    while i < HYPER_REFUSES.len() {
        set = set.add(HYPER_REFUSES[i]);
        i += 1;
    }
    set
};

/// The head that stands for a refusal with `status`. `line` is the
/// request line as far as it was understood: without it (the line itself
/// was at fault) the answer says `HTTP/1.0` and the log shows an empty
/// request line, as lighttpd's do. An absolute URI is logged as its path.
fn refused(status: u16, line: Option<RequestLine<'_>>) -> Vec<u8> {
    let version = if line.is_some_and(|l| l.v11) {
        "HTTP/1.1"
    } else {
        "HTTP/1.0"
    };
    // A HEAD request's refusal stays one (hyper then sends only the
    // page's head); its line comes along, and marks it as a refusal.
    let method = if line.is_some_and(|l| l.method == b"HEAD") {
        "HEAD"
    } else {
        REFUSED_METHOD
    };
    let mut head = format!("{method} /{status} {version}\r\nConnection: close\r\n").into_bytes();
    if let Some(l) = line {
        // The version first: a header value loses its leading and
        // trailing blanks, and the method and target may be empty.
        head.extend_from_slice(REFUSED_LINE.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(version.as_bytes());
        let target = split_absolute(l.target).map_or(l.target, |(_, path)| path);
        for word in [l.method, target] {
            head.push(b' ');
            for part in percent_encode(word, LOG_ESCAPES) {
                head.extend_from_slice(part.as_bytes());
            }
        }
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// The method, target and version of a [`REFUSED_LINE`] header (empty
/// words where the request line was not understood).
pub fn refused_line(value: &[u8]) -> (Vec<u8>, Vec<u8>, &'static [u8]) {
    let mut words = value.splitn(3, |&b| b == b' ');
    let version: &'static [u8] = match words.next() {
        Some(b"HTTP/1.0") => b"HTTP/1.0",
        Some(b"HTTP/1.1") => b"HTTP/1.1",
        _ => b"",
    };
    let mut word = || -> Vec<u8> { percent_decode(words.next().unwrap_or_default()).collect() };
    let (method, target) = (word(), word());
    (method, target, version)
}

/// Whether `b` may appear in a header name (RFC 9110 `tchar`).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `b` is a control byte other than a tab (refused in header
/// values and request-targets).
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Whether `line` has a control byte other than a tab. Eight bytes at a
/// time: a word with no byte below 0x20 and no DEL is passed over whole
/// (the test can only err towards looking at a word byte by byte).
fn has_ctl(line: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = line.chunks_exact(8);
    for w in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(w);
        let x = u64::from_ne_bytes(bytes);
        let del = x ^ (0x7f * ONES);
        let suspect = (x.wrapping_sub(0x20 * ONES) & !x) | (del.wrapping_sub(ONES) & !del);
        if suspect & HIGH != 0 && w.iter().any(|&b| is_ctl(b)) {
            return true;
        }
    }
    words.remainder().iter().any(|&b| is_ctl(b))
}

/// Bytes a request-target may hold as hyper takes them, lighttpd's
/// rules aside: printable ASCII but [`HYPER_REFUSES`].
static PLAIN_TARGET: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x21;
    while b < 0x7f {
        t[b] = true;
        b += 1;
    }
    let mut i = 0;
    while i < HYPER_REFUSES.len() {
        t[HYPER_REFUSES[i] as usize] = false;
        i += 1;
    }
    t
};

/// The status for a request line's version (what follows `HTTP/`), as
/// lighttpd judges it: `None` for 1.0 and 1.1, 400 for what starts as
/// one of them, 505 for anything else.
fn version_refusal(version: &[u8]) -> Option<u16> {
    match version {
        b"1.0" | b"1.1" => None,
        // a misspelt 1.0 or 1.1 (`1.01`, `1.10`, `1.1a`): 400
        [b'1', b'.', b'0' | b'1', ..] => Some(400),
        // anything else (`2.0`, `1.2`, `01.1`, `x`, nothing): 505
        _ => Some(505),
    }
}

/// A request line's words: one that passed [`check_line`], or, for a
/// refusal, as far as it was understood (an empty method or target where
/// lighttpd would not have taken it).
#[derive(Debug, Clone, Copy)]
struct RequestLine<'a> {
    method: &'a [u8],
    target: &'a [u8],
    /// `HTTP/1.1` (else `HTTP/1.0`).
    v11: bool,
}

/// The authority and path of an `http://` or `https://` target (any
/// case) with a non-empty authority followed by a path.
fn split_absolute(target: &[u8]) -> Option<(&[u8], &[u8])> {
    let scheme = |p: &[u8]| {
        (target.len() > p.len() && target[..p.len()].eq_ignore_ascii_case(p))
            .then(|| &target[p.len()..])
    };
    let rest = scheme(b"http://").or_else(|| scheme(b"https://"))?;
    match memchr::memchr(b'/', rest) {
        Some(i) if i > 0 => Some(rest.split_at(i)),
        _ => None,
    }
}

/// The checks lighttpd makes on a request line (without its CRLF) before
/// it looks at the headers, in its order: the version (505, or 400 for
/// any other fault of the line; answered `HTTP/1.0`), the method (501:
/// not one lighttpd knows), the form of the target (400: not `/…`, `*`
/// (OPTIONS), an `http` or `https` URI with a path, or a numeric
/// authority (CONNECT)).
fn check_line(line: &[u8]) -> Result<RequestLine<'_>, (u16, Option<RequestLine<'_>>)> {
    // (the usual endings first: no searching)
    let at = if line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0") {
        line.len() - 9
    } else {
        match memchr::memmem::rfind(line, b" HTTP/") {
            Some(at) => at,
            None => return Err((400, None)),
        }
    };
    if let Some(status) = version_refusal(&line[at + 6..]) {
        return Err((status, None));
    }
    // Nothing before the version: not even a method.
    if at == 0 {
        return Err((400, None));
    }
    let v11 = line.ends_with(b"1.1");
    let sp = memchr::memchr(b' ', line).unwrap_or(at);
    let method = &line[..sp];
    let unknown = RequestLine {
        method: b"",
        target: b"",
        v11,
    };
    // Not one of lighttpd's methods (this includes the gate's own): 501.
    if !crate::request::method::is_known(method) {
        return Err((501, Some(unknown)));
    }
    let target = line.get(sp + 1..at).unwrap_or_default();
    // (the authority's bytes are judged with the target's, later)
    let form_ok = match target {
        [] => false,
        [b'/', ..] => true,
        b"*" => method == b"OPTIONS",
        // CONNECT's authority form: lighttpd takes a numeric one only
        [b'0'..=b'9' | b':', ..] if method == b"CONNECT" => true,
        _ => split_absolute(target).is_some(),
    };
    if !form_ok {
        return Err((400, Some(RequestLine { method, ..unknown })));
    }
    Ok(RequestLine {
        method,
        target,
        v11,
    })
}

/// The checks lighttpd makes on a request-target after the headers: 400
/// for a control byte, or a byte that never occurs in UTF-8. `Ok(Some)`:
/// the target with the bytes hyper would refuse (and lighttpd takes)
/// percent-encoded, as lighttpd's normalisation encodes them.
fn check_target(target: &[u8]) -> Result<Option<Vec<u8>>, u16> {
    // The usual case first.
    if target.first() == Some(&b'/') && target.iter().all(|&b| PLAIN_TARGET[usize::from(b)]) {
        return Ok(None);
    }
    let mut unusual = false;
    for &b in target {
        if !PLAIN_TARGET[usize::from(b)] {
            if b < 0x20 || matches!(b, 0x7f | 0xc0 | 0xc1 | 0xf5..=0xff) {
                return Err(400);
            }
            unusual = true;
        }
    }
    // UTF-8 hyper takes as it is (and so does the access log).
    let encoded = (unusual
        && (target.iter().any(|b| HYPER_REFUSES.contains(b))
            || std::str::from_utf8(target).is_err()))
    .then(|| {
        percent_encode(target, TARGET_ESCAPES)
            .flat_map(str::bytes)
            .collect::<Vec<u8>>()
    });
    if target.first() == Some(&b'/') {
        return Ok(encoded);
    }
    // An absolute URI's host or CONNECT's authority: nothing to encode
    // there, and it has to be one (hyper parses these targets whole).
    let host = split_absolute(target).map_or(target, |(authority, _)| authority);
    let plain = host.iter().all(|&c| PLAIN_TARGET[usize::from(c)]);
    if !plain || http::Uri::try_from(encoded.as_deref().unwrap_or(target)).is_err() {
        return Err(400);
    }
    Ok(encoded)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd(u8),
    Trailer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a request head.
    Head,
    /// Passing this many body bytes.
    Body(u64),
    /// Passing a chunked body.
    Chunked(Chunk),
    /// Passing everything (upgraded, HTTP/2, or given up).
    Pass,
    /// Hand out what is left, then EOF.
    Closed,
    /// A head was refused: hand out its stand-in, then nothing more (not
    /// EOF, which would make hyper drop the request before answering).
    Refused,
}

/// A reader that applies lighttpd's head rules before hyper parses.
#[derive(Debug)]
pub struct Gate<IO> {
    io: IO,
    state: State,
    /// Bytes read, not yet looked at.
    input: BytesMut,
    /// Bytes checked, waiting for the reader.
    out: BytesMut,
    /// How far the current head has been scanned.
    scanned: usize,
    /// Bytes of a chunk-size or trailer line seen so far.
    line: usize,
    /// The chunk size read so far from the current chunk-size line.
    size: SizeLine,
    /// The longest head accepted (longer ones are refused with 431).
    max_head: usize,
    /// The most header lines seen in one head.
    head_lines: usize,
    /// After a head that may switch protocols: its answer, as far as it
    /// has been written. The next head waits for it.
    answer: Option<Answer>,
    /// The reader waiting for that answer.
    waiting: Option<Waker>,
    /// Closing: our side is shut, and the time left to linger.
    closing: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Heads handed on so far.
    heads: u32,
    /// The empty line allowed before a head that follows another was
    /// seen (and dropped) already.
    blank_dropped: bool,
    /// Where the targets it encoded are kept as they came (for the
    /// access log), when they are wanted.
    raw_targets: Option<Arc<RawTargets>>,
    /// An HTTP/2 preface makes it step aside (`server.h2proto`); without
    /// HTTP/2 the preface's line is judged as any request line (505).
    http2: bool,
}

/// The request targets a connection's heads came with where the gate
/// handed hyper an encoded copy (a raw space, bytes that are not UTF-8…),
/// by request number (the first head is 1): the access log's `%r` shows
/// the target as it came, as lighttpd's does.
#[derive(Debug, Default)]
pub struct RawTargets {
    /// Quick test: anything kept.
    any: AtomicBool,
    kept: std::sync::Mutex<VecDeque<(u32, Vec<u8>)>>,
}

impl RawTargets {
    fn push(&self, n: u32, target: &[u8]) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.push_back((n, target.to_vec()));
        self.any.store(true, Ordering::Release);
    }

    /// The target request `n` came with, when the gate encoded it; those
    /// of earlier requests are forgotten.
    pub fn take(&self, n: u32) -> Option<Vec<u8>> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        while kept.front().is_some_and(|&(m, _)| m < n) {
            kept.pop_front();
        }
        let target = match kept.front() {
            Some(&(m, _)) if m == n => kept.pop_front().map(|(_, t)| t),
            _ => None,
        };
        if kept.is_empty() {
            self.any.store(false, Ordering::Release);
        }
        target
    }
}

/// The start of the answer to a head that may switch protocols, read
/// from the bytes written to the client: its status decides whether the
/// connection goes on as HTTP/1.
#[derive(Debug, Default)]
struct Answer {
    connect: bool,
    /// The status line's first bytes (`HTTP/1.1 NNN`) so far.
    start: [u8; 12],
    len: usize,
    /// In an interim (1xx) answer: how much of the empty line ending it
    /// has been seen.
    interim: Option<usize>,
}

impl Answer {
    /// Takes written bytes: whether the connection switched protocols,
    /// once the status of the final answer is known.
    fn feed(&mut self, mut bytes: &[u8]) -> Option<bool> {
        const END: &[u8] = b"\r\n\r\n";
        while let Some((&b, rest)) = bytes.split_first() {
            if let Some(k) = self.interim {
                let k = if b == END[k] {
                    k + 1
                } else {
                    usize::from(b == b'\r')
                };
                self.interim = if k == END.len() {
                    self.len = 0;
                    None
                } else {
                    Some(k)
                };
                bytes = rest;
                continue;
            }
            let take = (self.start.len() - self.len).min(bytes.len());
            self.start[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
            if self.len < self.start.len() {
                return None;
            }
            // hyper's rule: 101 switches, and so does a 2xx to a CONNECT;
            // another 1xx (its own 100 Continue) is followed by the final
            // answer after its empty line.
            let code = &self.start[9..];
            if code == b"101" || (self.connect && code[0] == b'2') {
                return Some(true);
            }
            if code[0] != b'1' {
                return Some(false);
            }
            self.interim = Some(0);
        }
        None
    }
}

impl<IO> Gate<IO> {
    /// Wraps a client connection.
    pub fn new(io: IO, max_head: usize) -> Self {
        Gate {
            io,
            state: State::Head,
            input: BytesMut::new(),
            out: BytesMut::new(),
            scanned: 0,
            line: 0,
            size: SizeLine::default(),
            max_head: max_head.max(1024),
            head_lines: 0,
            answer: None,
            waiting: None,
            closing: None,
            heads: 0,
            blank_dropped: false,
            raw_targets: None,
            http2: true,
        }
    }

    /// Judges an HTTP/2 preface as a request line, as lighttpd does with
    /// `server.h2proto` disabled (505), instead of stepping aside for it.
    pub fn without_http2(&mut self) {
        self.http2 = false;
    }

    /// Keeps the targets it encodes, as they came, in `targets`.
    pub fn keep_raw_targets(&mut self, targets: Arc<RawTargets>) {
        self.raw_targets = Some(targets);
    }

    /// The most header lines one head had so far.
    pub fn head_lines(&self) -> usize {
        self.head_lines
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

/// What one complete head says about what follows it.
struct HeadInfo {
    length: Option<u64>,
    chunked: bool,
    tunnel: bool,
    /// Header lines (after unfolding).
    lines: usize,
}

/// Looks at a complete head (`bytes` ends with the empty line) whose
/// request line `l` passed [`check_line`]; returns the unfolded head when it
/// had obs-fold lines (`None`: pass it as it is) and the framing, or the
/// status to refuse it with. Header lines are judged in order, as
/// lighttpd does: the first fault decides between 400 and 501.
fn check_head(bytes: &[u8], l: &RequestLine<'_>) -> Result<(Option<Vec<u8>>, HeadInfo), u16> {
    let mut info = HeadInfo {
        length: None,
        chunked: false,
        tunnel: l.method == b"CONNECT",
        lines: 0,
    };
    // Built only when a line has to be unfolded.
    let mut out: Option<Vec<u8>> = None;
    // (the values of the headers taken once)
    let mut host: Option<&[u8]> = None;
    let mut content_type: Option<&[u8]> = None;
    let mut http2_settings: Option<&[u8]> = None;
    let mut modified_since: Option<&[u8]> = None;
    let mut lengths = 0u32;
    // The last line was left out (its folded rest goes too).
    let mut dropped = false;
    let mut start = 0;
    let mut first = true;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        let raw = &bytes[start..end];
        let line = raw.strip_suffix(b"\r\n").ok_or(400u16)?;
        let line_start = start;
        start = end;
        if first {
            // (the request line: judged by check_line)
            first = false;
            continue;
        }
        if line.is_empty() {
            if let Some(o) = out.as_mut() {
                o.extend_from_slice(raw);
            }
            break;
        }
        // A control byte (a lone CR, NUL, DEL…) anywhere in the line: 400.
        if has_ctl(line) {
            return Err(400);
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if dropped {
                // The rest of a line left out.
                continue;
            }
            // Nothing to continue: the request line is not a header.
            if info.lines == 0 {
                return Err(400);
            }
            // obs-fold: continue the previous line.
            let o = out.get_or_insert_with(|| {
                let mut v = Vec::with_capacity(bytes.len());
                v.extend_from_slice(&bytes[..line_start]);
                v
            });
            if o.ends_with(b"\r\n") {
                o.truncate(o.len() - 2);
            }
            o.extend_from_slice(raw);
            continue;
        }
        dropped = false;
        if let Some(o) = out.as_mut() {
            o.extend_from_slice(raw);
        }
        info.lines += 1;
        // A line without a colon, or a name that is not a token: 400.
        let colon = memchr::memchr(b':', line).ok_or(400u16)?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(400);
        }
        let value = line[colon + 1..].trim_ascii_start();
        // Only a few names matter here; their lengths rule out the rest.
        let single = match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => Some(&mut host),
            12 if name.eq_ignore_ascii_case(b"content-type") => Some(&mut content_type),
            14 if name.eq_ignore_ascii_case(b"http2-settings") => Some(&mut http2_settings),
            17 if name.eq_ignore_ascii_case(b"if-modified-since") => Some(&mut modified_since),
            _ => None,
        };
        if let Some(seen) = single {
            // Headers lighttpd takes once: a second one with another
            // value is 400 (the same again, in any case, is let be; an
            // empty one is as if absent).
            let value = value.trim_ascii_end();
            if value.is_empty() {
                continue;
            }
            if seen.is_some_and(|h| !h.eq_ignore_ascii_case(value)) {
                return Err(400);
            }
            *seen = Some(value);
            continue;
        }
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                // A second Content-Length, even an equal one, or one that
                // is not all digits: 400. An empty one counts as one but
                // says nothing (lighttpd: as if absent; hyper would refuse
                // it, so the line is left out).
                let value = value.trim_ascii_end();
                if lengths > 0 || !value.iter().all(u8::is_ascii_digit) {
                    return Err(400);
                }
                lengths += 1;
                if value.is_empty() {
                    drop_line(&mut out, bytes, start, raw.len());
                    dropped = true;
                    continue;
                }
                let n = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<i64>().ok());
                info.length = Some(n.ok_or(400u16)?.unsigned_abs());
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                // HTTP/1.0 has no codings (400); only `chunked` is
                // implemented (501 at once), on as many lines as it
                // comes. An empty one is as if absent (lighttpd; hyper
                // would refuse it after a `chunked`, so it is left out).
                if !l.v11 {
                    return Err(400);
                }
                let value = value.trim_ascii_end();
                // (a value folded onto the next line is not empty: that
                // coding is not `chunked` as written, 501 as before)
                let folded = matches!(bytes.get(start), Some(b' ' | b'\t'));
                if value.is_empty() && !folded {
                    drop_line(&mut out, bytes, start, raw.len());
                    dropped = true;
                    continue;
                }
                if !value.eq_ignore_ascii_case(b"chunked") {
                    return Err(501);
                }
                info.chunked = true;
            }
            7 if name.eq_ignore_ascii_case(b"upgrade") => info.tunnel = true,
            _ => {}
        }
    }
    // Both framings at once is the classic smuggling shape: 400.
    if lengths > 0 && info.chunked {
        return Err(400);
    }
    Ok((out, info))
}

/// Leaves out of the (rewritten) head the line of `len` bytes that ends
/// at `end` of `bytes`.
fn drop_line(out: &mut Option<Vec<u8>>, bytes: &[u8], end: usize, len: usize) {
    let o = out.get_or_insert_with(|| bytes[..end].to_vec());
    o.truncate(o.len() - len);
}

/// The longest chunk-size or trailer line the gate follows; past it,
/// hyper judges the body.
const MAX_CHUNK_LINE: usize = 8192;

/// How long a closing HTTP/1 connection goes on reading (and dropping)
/// what the client still sends after our side is shut: closing a socket
/// with unread bytes resets the connection, and a reset can destroy the
/// answer before the client read it (a body nobody wanted, still on its
/// way). lighttpd lingers as long.
const LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// The leading hex digits of a chunk-size line, read piece by piece as
/// the line arrives.
#[derive(Debug)]
struct SizeLine {
    /// Their value; `None` once it passed 64 bits.
    value: Option<u64>,
    digits: u32,
    /// A byte other than a hex digit came.
    ended: bool,
}

impl Default for SizeLine {
    fn default() -> Self {
        SizeLine {
            value: Some(0),
            digits: 0,
            ended: false,
        }
    }
}

impl SizeLine {
    /// Takes the digits from `part`, the next piece of the line.
    fn feed(&mut self, part: &[u8]) {
        for &b in part {
            if self.ended {
                return;
            }
            match (b as char).to_digit(16) {
                Some(d) => {
                    self.value = self
                        .value
                        .and_then(|v| v.checked_mul(16))
                        .and_then(|v| v.checked_add(u64::from(d)));
                    self.digits += 1;
                }
                None => self.ended = true,
            }
        }
    }

    /// The size, once the line is complete (`None`: no digits, or too
    /// large); ready for the next line.
    fn finish(&mut self) -> Option<u64> {
        let line = std::mem::take(self);
        line.value.filter(|_| line.digits > 0)
    }
}

impl<IO: AsyncRead + Unpin> Gate<IO> {
    /// Looks at buffered input: moves checked bytes to `out`.
    fn process(&mut self) {
        while !self.input.is_empty() {
            match self.state {
                State::Pass | State::Closed | State::Refused => {
                    if self.state == State::Pass {
                        let all = self.input.split();
                        self.out.unsplit(all);
                    } else {
                        self.input.clear();
                    }
                    return;
                }
                State::Body(n) => {
                    let take = (n.min(self.input.len() as u64)) as usize;
                    let part = self.input.split_to(take);
                    self.out.unsplit(part);
                    let left = n - take as u64;
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Body(left)
                    };
                }
                State::Chunked(c) => {
                    let (used, next) = self.chunk_step(c);
                    let part = self.input.split_to(used);
                    self.out.unsplit(part);
                    self.state = next;
                }
                State::Head => {
                    if self.answer.is_some() || !self.head_step() {
                        return;
                    }
                }
            }
        }
    }

    /// Whether the next head waits for the answer to the last one.
    fn holding(&self) -> bool {
        self.state == State::Head && self.answer.is_some()
    }

    /// Advances the chunked-body scanner over the start of `input`: the
    /// bytes it covered and the next state.
    fn chunk_step(&mut self, c: Chunk) -> (usize, State) {
        let b = &self.input[..];
        match c {
            Chunk::Data(n) => {
                let take = n.min(b.len() as u64) as usize;
                let left = n - take as u64;
                (
                    take,
                    State::Chunked(if left == 0 {
                        Chunk::DataEnd(2)
                    } else {
                        Chunk::Data(left)
                    }),
                )
            }
            Chunk::DataEnd(k) => {
                let take = (k as usize).min(b.len());
                let left = k - take as u8;
                (
                    take,
                    State::Chunked(if left == 0 {
                        Chunk::Size
                    } else {
                        Chunk::DataEnd(left)
                    }),
                )
            }
            Chunk::Size | Chunk::Trailer => match memchr::memchr(b'\n', b) {
                None => {
                    if c == Chunk::Size {
                        self.size.feed(b);
                    }
                    self.line += b.len();
                    if self.line > MAX_CHUNK_LINE {
                        (b.len(), State::Pass)
                    } else {
                        (b.len(), State::Chunked(c))
                    }
                }
                Some(i) => {
                    let line_len = self.line + i;
                    self.line = 0;
                    let next = if line_len > MAX_CHUNK_LINE {
                        // As when the line is still arriving, above.
                        State::Pass
                    } else if c == Chunk::Trailer {
                        // An empty trailer line ends the body.
                        if line_len <= 1 {
                            State::Head
                        } else {
                            State::Chunked(Chunk::Trailer)
                        }
                    } else {
                        // The size: the line's leading hex digits, however
                        // the line was split across reads. Without one (or
                        // past 64 bits) hyper judges the body.
                        self.size.feed(&b[..i]);
                        match self.size.finish() {
                            Some(0) => State::Chunked(Chunk::Trailer),
                            Some(n) => State::Chunked(Chunk::Data(n)),
                            None => State::Pass,
                        }
                    };
                    (i + 1, next)
                }
            },
        }
    }

    /// Scans the head at the start of `input`. False when more bytes are
    /// needed.
    fn head_step(&mut self) -> bool {
        // One empty line between requests is let be (lighttpd; a second
        // one, or one before the first request, is judged below: 400).
        if self.heads > 0 && !self.blank_dropped {
            let blank = if self.input.starts_with(b"\r\n") {
                2
            } else {
                usize::from(self.input.starts_with(b"\n"))
            };
            if blank > 0 {
                self.input.advance(blank);
                self.blank_dropped = true;
                return true;
            }
        }
        let buf = &self.input[..];
        // Only the first max_head bytes (and one more) are looked at: a
        // head that does not end within them gets 431 whatever follows,
        // however much of it has arrived.
        let scan = &buf[..buf.len().min(self.max_head + 1)];
        // The request line first: empty lines before it, a bare LF, an
        // HTTP/0.9 request, an HTTP/2 preface.
        let Some(first_end) = memchr::memchr(b'\n', scan) else {
            // A CR first that does not end a line: 400, decided by the
            // second byte, before the length is (however the bytes came).
            if buf.starts_with(b"\r") && buf.len() >= 2 {
                return self.refuse(refused(400, None));
            }
            if buf.len() > self.max_head {
                return self.refuse(refused(431, None));
            }
            return false;
        };
        let Some(line) = buf[..first_end].strip_suffix(b"\r") else {
            return self.refuse(refused(400, None));
        };
        // An empty line, or a CR that does not end one (refused as soon
        // as the second byte shows it, above, whatever follows).
        if line.is_empty() || line[0] == b'\r' {
            return self.refuse(refused(400, None));
        }
        if self.http2 && line.starts_with(b"PRI * HTTP/2.0") {
            self.state = State::Pass;
            return true;
        }
        // The rest of the head.
        let from = self.scanned.max(first_end + 1);
        let mut end = None;
        let mut pos = from;
        while let Some(i) = memchr::memchr(b'\n', &scan[pos..]) {
            let nl = pos + i;
            if nl == 0 || buf[nl - 1] != b'\r' {
                // A bare LF in a header line: 400, unless the request
                // line has its own fault (lighttpd judges that first).
                let standin = match check_line(line) {
                    Ok(l) => refused(400, Some(l)),
                    Err((status, logged)) => refused(status, logged),
                };
                return self.refuse(standin);
            }
            if nl >= 3 && buf[nl - 3] == b'\r' && buf[nl - 2] == b'\n' {
                end = Some(nl + 1);
                break;
            }
            pos = nl + 1;
        }
        let Some(end) = end else {
            if buf.len() > self.max_head {
                return self.refuse(refused(431, None));
            }
            self.scanned = pos;
            return false;
        };
        self.scanned = 0;
        if end > self.max_head {
            return self.refuse(refused(431, None));
        }
        // The whole head is in: the request line (no version, an
        // unsupported one, a bad method or target form), the header
        // lines in order, then the target's bytes.
        let l = match check_line(line) {
            Ok(l) => l,
            Err((status, logged)) => return self.refuse(refused(status, logged)),
        };
        let (unfolded, info) = match check_head(&buf[..end], &l) {
            Ok(x) => x,
            Err(status) => return self.refuse(refused(status, Some(l))),
        };
        let target = match check_target(l.target) {
            Ok(t) => t,
            Err(status) => return self.refuse(refused(status, Some(l))),
        };
        let encoded = target.is_some();
        let rewritten = match target {
            None => unfolded,
            Some(t) => {
                // The target with the bytes hyper refuses encoded; the
                // rest as it is (or unfolded).
                let rest = unfolded.as_deref().unwrap_or(&buf[..end]);
                let after = l.method.len() + 1 + l.target.len();
                let mut h = Vec::with_capacity(rest.len() + t.len());
                h.extend_from_slice(&rest[..=l.method.len()]);
                h.extend_from_slice(&t);
                h.extend_from_slice(&rest[after..]);
                Some(h)
            }
        };
        let answer = info.tunnel.then(|| Answer {
            connect: l.method == b"CONNECT",
            ..Answer::default()
        });
        self.heads += 1;
        self.blank_dropped = false;
        if let Some(keep) = self.raw_targets.as_ref().filter(|_| encoded) {
            // of an absolute URI, lighttpd logs the path (and query)
            let path = split_absolute(l.target).map_or(l.target, |(_, path)| path);
            keep.push(self.heads, path);
        }
        let head = self.input.split_to(end);
        match rewritten {
            Some(h) => self.out.extend_from_slice(&h),
            None => self.out.unsplit(head),
        }
        self.head_lines = self.head_lines.max(info.lines);
        self.answer = answer;
        self.state = if info.chunked {
            State::Chunked(Chunk::Size)
        } else {
            match info.length {
                Some(0) | None => State::Head,
                Some(n) => State::Body(n),
            }
        };
        true
    }

    /// Hands hyper `standin` (see [`refused`]) instead of what is left,
    /// and closes.
    fn refuse(&mut self, standin: Vec<u8>) -> bool {
        self.input.clear();
        self.out.extend_from_slice(&standin);
        self.state = State::Refused;
        true
    }
}

impl<IO: AsyncRead + Unpin> Gate<IO> {
    /// Reads until the first request head has been checked (or the
    /// connection turned out to be something else, or ended), without
    /// handing anything out: the server sizes hyper's header table by
    /// [`Gate::head_lines`] before hyper starts.
    pub async fn first_head(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_first_head(cx)).await
    }

    fn poll_first_head(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if !self.out.is_empty() || self.state != State::Head {
                return Poll::Ready(Ok(()));
            }
            if !self.input.is_empty() {
                let before = self.input.len();
                self.process();
                if !self.out.is_empty() || self.state != State::Head {
                    return Poll::Ready(Ok(()));
                }
                if self.input.len() != before && !self.input.is_empty() {
                    continue;
                }
            }
            if !ready!(self.poll_fill(cx))? {
                return Poll::Ready(Ok(()));
            }
        }
    }

    /// Reads more into `input`. False at EOF, where whatever is left goes
    /// to hyper as it is and the gate closes.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        if self.input.capacity() - self.input.len() < 4096 {
            self.input.reserve(8192);
        }
        let n = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.io),
            cx,
            &mut self.input
        ))?;
        if n == 0 {
            let rest = self.input.split();
            self.out.unsplit(rest);
            self.state = State::Closed;
        }
        Poll::Ready(Ok(n > 0))
    }
}

/// Moves as much of `held` as fits into `buf` (readers that hand out
/// bytes they read ahead: the gate, h2c's `Inject`, mod_wstunnel's
/// client reader).
#[inline]
pub(crate) fn hand_out(held: &mut BytesMut, buf: &mut ReadBuf<'_>) {
    let n = held.len().min(buf.remaining());
    buf.put_slice(&held[..n]);
    held.advance(n);
}

impl<IO: AsyncRead + Unpin> AsyncRead for Gate<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.out.is_empty() {
                hand_out(&mut this.out, buf);
                return Poll::Ready(Ok(()));
            }
            if this.state == State::Closed {
                return Poll::Ready(Ok(()));
            }
            if this.state == State::Refused {
                // The connection closes once the refusal is answered.
                return Poll::Pending;
            }
            if this.holding() {
                // Woken by the answer's status line (see `written`).
                this.waiting = Some(cx.waker().clone());
                return Poll::Pending;
            }
            // Body bytes and tunnels go straight to the reader.
            if this.input.is_empty() {
                if this.state == State::Pass && this.input.capacity() > 0 && this.out.is_empty() {
                    // A tunnel or HTTP/2 never needs the gate's buffers
                    // again: give their memory back (idle tunnels add up).
                    this.input = BytesMut::new();
                    this.out = BytesMut::new();
                }
                if let State::Pass | State::Body(_) = this.state {
                    let before = buf.filled().len();
                    ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
                    let got = buf.filled().len() - before;
                    if let State::Body(n) = this.state {
                        if got as u64 > n {
                            // The next head came along: keep it.
                            let keep = before + n as usize;
                            this.input.extend_from_slice(&buf.filled()[keep..]);
                            buf.set_filled(keep);
                            this.state = State::Head;
                        } else {
                            let left = n - got as u64;
                            this.state = if left == 0 {
                                State::Head
                            } else {
                                State::Body(left)
                            };
                        }
                    }
                    return Poll::Ready(Ok(()));
                }
            }
            if !this.input.is_empty() {
                let before = (this.input.len(), this.out.len());
                this.process();
                if !this.out.is_empty() || matches!(this.state, State::Closed | State::Refused) {
                    continue;
                }
                if (this.input.len(), this.out.len()) != before && !this.input.is_empty() {
                    continue;
                }
            }
            if !ready!(this.poll_fill(cx))? && this.out.is_empty() {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<IO> Gate<IO> {
    /// Looks at bytes that went out to the client while an answer is
    /// awaited: once its status is known, the held input goes on, to
    /// hyper's parser or (switched) to the tunnel.
    fn written<'a>(&mut self, parts: impl Iterator<Item = &'a [u8]>, mut n: usize) {
        let Some(answer) = self.answer.as_mut() else {
            return;
        };
        for part in parts {
            if n == 0 {
                break;
            }
            let part = &part[..part.len().min(n)];
            n -= part.len();
            if let Some(switched) = answer.feed(part) {
                self.answer = None;
                if switched {
                    self.state = State::Pass;
                }
                if let Some(w) = self.waiting.take() {
                    w.wake();
                }
                return;
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Gate<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.io).poll_write(cx, data))?;
        self.written(std::iter::once(data), n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, bufs))?;
        self.written(bufs.iter().map(|b| &**b), n);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Shuts our side, then (HTTP/1) reads and drops what the client
    /// still sends until it closes too, for `LINGER` at most.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.closing.is_none() {
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            if this.state == State::Pass {
                // A tunnel or HTTP/2: not ours to drain.
                return Poll::Ready(Ok(()));
            }
            this.closing = Some(Box::pin(tokio::time::sleep(LINGER)));
        }
        let Some(timer) = this.closing.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let mut buf = [0u8; 4096];
        loop {
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut rb = ReadBuf::new(&mut buf);
            match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => {}
                // The client closed (or the connection failed): done.
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    /// What the gate hands out for `input`: up to EOF, or up to where it
    /// stops after a refusal (the input itself never waits).
    async fn through(input: &[u8]) -> Vec<u8> {
        drain(&mut Gate::new(input, 8192)).await
    }

    /// Input that arrives `chunk` bytes at a time.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        chunk: usize,
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let end = (self.at + self.chunk).min(self.data.len());
            let n = (end - self.at).min(buf.remaining());
            buf.put_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    /// What the gate hands out before it waits (or ends).
    async fn drain<IO: AsyncRead + Unpin>(g: &mut Gate<IO>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        std::future::poll_fn(|cx| {
            loop {
                let mut rb = ReadBuf::new(&mut buf);
                match Pin::new(&mut *g).poll_read(cx, &mut rb) {
                    Poll::Pending => return Poll::Ready(()),
                    Poll::Ready(r) => {
                        r.expect("read");
                        if rb.filled().is_empty() {
                            return Poll::Ready(());
                        }
                        out.extend_from_slice(rb.filled());
                    }
                }
            }
        })
        .await;
        out
    }

    /// A connection whose client sent `input` (and waits), and that takes
    /// at most `per_write` bytes a write, however many slices they span.
    struct Wire {
        input: Vec<u8>,
        per_write: usize,
    }

    impl AsyncRead for Wire {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if self.input.is_empty() {
                return Poll::Pending;
            }
            let n = self.input.len().min(buf.remaining());
            buf.put_slice(&self.input[..n]);
            self.input.drain(..n);
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Wire {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(data.len().min(self.per_write)))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let all = bufs.iter().map(|b| b.len()).sum::<usize>();
            Poll::Ready(Ok(all.min(self.per_write)))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A client sends `input`; the server writes `answer` (in these
    /// pieces) through the gate. What the gate hands out before the
    /// answer, and after it.
    async fn answered(input: &[u8], answer: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        use tokio::io::AsyncWriteExt;
        let mut g = Gate::new(
            Wire {
                input: input.to_vec(),
                per_write: usize::MAX,
            },
            8192,
        );
        let before = drain(&mut g).await;
        for piece in answer {
            g.write_all(piece).await.expect("answer");
        }
        (before, drain(&mut g).await)
    }

    /// The words of `line` (`METHOD TARGET HTTP/x.y`; the target may
    /// hold blanks) as a refusal logs them.
    fn line(line: &'static [u8]) -> Option<RequestLine<'static>> {
        let first = memchr::memchr(b' ', line).expect("method");
        let last = memchr::memrchr(b' ', line).expect("version");
        Some(RequestLine {
            method: &line[..first],
            target: line.get(first + 1..last).unwrap_or_default(),
            v11: line.ends_with(b"HTTP/1.1"),
        })
    }

    /// What the gate hands out, read `chunk` bytes at a time, up to a
    /// refusal with 400 (after which it hands out nothing more); fails at
    /// EOF before one.
    async fn until_refused<IO: AsyncRead + Unpin>(mut g: Gate<IO>, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut b = vec![0u8; chunk];
        while !out.ends_with(&refused(400, None)) {
            let n = g.read(&mut b).await.expect("read");
            assert!(n > 0, "EOF before the refusal: {out:?}");
            out.extend_from_slice(&b[..n]);
        }
        out
    }

    #[tokio::test]
    async fn plain_requests_pass_unchanged() {
        let two = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /y HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(through(two).await, two);
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(through(chunked).await, chunked);
        // `chunked` on several lines; headers taken once, again with the
        // same value (in another case, with blanks) or an empty one
        let again = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\ntransfer-encoding: Chunked\r\n\r\n0\r\n\r\n\
            GET / HTTP/1.1\r\nHost: a\r\nHOST: A \r\nContent-Type: x\r\nContent-Type:\r\nIf-Modified-Since: d\r\nIf-Modified-Since: D\r\n\r\n";
        assert_eq!(through(again).await, again);
    }

    /// An empty Transfer-Encoding is as if absent (lighttpd); hyper would
    /// refuse it after a `chunked`, so the line is left out.
    #[tokio::test]
    async fn empty_codings_are_left_out() {
        assert_eq!(
            through(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: \r\nX: 1\r\n\r\n0\r\n\r\n").await,
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n0\r\n\r\n"
        );
        assert_eq!(
            through(b"POST / HTTP/1.1\r\nTransfer-Encoding:\r\nContent-Length: 1\r\n\r\nx").await,
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"
        );
    }

    /// One empty line between requests is dropped, however it arrives (as
    /// lighttpd lets it be); a second one, or one before the first
    /// request, is refused.
    #[tokio::test]
    async fn one_empty_line_between_requests() {
        let a = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
        let b = b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
        let both = [&a[..], b].concat();
        for blank in [&b"\r\n"[..], b"\n"] {
            let input = [&a[..], blank, b, blank, b].concat();
            assert_eq!(through(&input).await, [&both[..], b].concat());
            for chunk in 1..4 {
                let pieces = Pieces {
                    data: input.clone(),
                    at: 0,
                    chunk,
                };
                let mut g = Gate::new(pieces, 8192);
                assert_eq!(drain(&mut g).await, [&both[..], b].concat(), "{chunk}");
            }
        }
        let two = [&a[..], b"\r\n\r\n", b].concat();
        assert_eq!(through(&two).await, [&a[..], &refused(400, None)].concat());
        let before = [&b"\r\n"[..], a].concat();
        assert_eq!(through(&before).await, refused(400, None));
    }

    /// The targets it encodes are kept as they came, by head number (of an
    /// absolute URI the path); the others are not.
    #[tokio::test]
    async fn encoded_targets_are_kept_raw() {
        let input: &[u8] = b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n\
            POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nx y\
            GET http://a/d e?f<g> HTTP/1.1\r\nHost: a\r\n\r\n\
            GET /x://y/z w HTTP/1.1\r\nHost: a\r\n\r\n\
            GET http://a HTTP/1.1\r\nHost: a\r\n\r\n";
        let kept = Arc::new(RawTargets::default());
        let mut g = Gate::new(input, 8192);
        g.keep_raw_targets(kept.clone());
        let out = drain(&mut g).await;
        assert!(out.starts_with(b"GET /a%20b HTTP/1.1\r\n"));
        assert_eq!(kept.take(1).as_deref(), Some(&b"/a b"[..]));
        assert_eq!(kept.take(2), None);
        // asked for out of order: the earlier ones are gone
        assert_eq!(kept.take(3).as_deref(), Some(&b"/d e?f<g>"[..]));
        assert_eq!(kept.take(1), None);
        // an origin-form path with `://` in it is not an absolute URI
        assert_eq!(kept.take(4).as_deref(), Some(&b"/x://y/z w"[..]));
        assert!(!kept.any.load(Ordering::Acquire));
        // without keep_raw_targets nothing is kept
        let mut g = Gate::new(input, 8192);
        assert_eq!(drain(&mut g).await, out);
    }

    #[tokio::test]
    async fn lighttpd_refusals() {
        assert_eq!(
            through(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n").await,
            refused(400, None)
        );
        assert_eq!(
            through(b"GET / HTTP/1.1\nHost: a\n\n").await,
            refused(400, None)
        );
        assert_eq!(
            through(b"GET / HTTP/1.1\r\nHost: a\n\r\n").await,
            refused(400, line(b"GET / HTTP/1.1"))
        );
        // Body bytes are not heads: a bare LF inside a body is fine.
        let body = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na\nbGET / HTTP/1.1\r\n\r\n";
        assert_eq!(through(body).await, body);
        // Framing a proxy and its backend could read differently.
        let dup = b"POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\na";
        assert_eq!(through(dup).await, refused(400, line(b"POST / HTTP/1.1")));
        let both =
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(through(both).await, refused(400, line(b"POST / HTTP/1.1")));
    }

    #[tokio::test]
    async fn obs_fold_is_unfolded() {
        assert_eq!(
            through(b"GET / HTTP/1.1\r\nX-Folded: a\r\n b\r\nHost: h\r\n\r\n").await,
            b"GET / HTTP/1.1\r\nX-Folded: a b\r\nHost: h\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn http09_and_http2_and_upgrades() {
        // Without a version: refused once the head is complete; cut off
        // before that, hyper gets it as it is (and ends without an answer).
        assert_eq!(
            through(b"GET /index.html\r\n\r\n").await,
            refused(400, None)
        );
        assert_eq!(
            through(b"GET /index.html\r\n").await,
            b"GET /index.html\r\n"
        );
        assert_eq!(
            through(b"\x01PRI\r\nX: y\r\n\r\n").await,
            refused(400, None)
        );
        // A CR that does not end a line: refused, however the bytes arrive.
        assert_eq!(through(b"\r\r").await, refused(400, None));
        assert_eq!(through(b"\rX\r\n\r\n").await, refused(400, None));
        assert_eq!(
            through(b"\rGET / HTTP/1.1\r\n\r\n").await,
            refused(400, None)
        );
        let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04";
        assert_eq!(through(h2).await, h2);
        // without HTTP/2 the preface is a request line with version 2.0
        let mut g = Gate::new(&h2[..], 8192);
        g.without_http2();
        assert_eq!(drain(&mut g).await, refused(505, None));
        // What follows a head that may switch protocols waits for the
        // answer (below).
        let ws = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello\nraw\n";
        assert_eq!(through(ws).await, &ws[..38]);
    }

    /// After a head with `Upgrade` or a CONNECT, the answer's status
    /// decides what the rest is: a tunnel's bytes (101; 2xx to a CONNECT)
    /// or the next request, judged as any other (lighttpd's page for a
    /// fault, not hyper's bare 400).
    #[tokio::test]
    async fn the_answer_decides_after_an_upgrade() {
        let ws = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
        let frames = b"\x81\x05hello\nraw\n\x01";
        let bad = b"GET /b HTTP/1.1\r\nX: \x01\r\n\r\n";
        let refusal = refused(400, line(b"GET /b HTTP/1.1"));
        let switched: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        let not_found: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        let cont: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
        // (head, what follows it, the answer's writes, what the gate then hands out)
        type Case<'a> = (&'a [u8], &'a [u8], Vec<&'a [u8]>, &'a [u8]);
        let cases: [Case<'_>; 8] = [
            (ws, frames, vec![switched], frames),
            (ws, bad, vec![not_found], &refusal),
            // the status line written a byte at a time
            (ws, frames, switched.chunks(1).collect(), frames),
            // an interim answer first: the final one decides
            (ws, frames, vec![cont, switched], frames),
            (
                ws,
                bad,
                vec![cont, &not_found[..10], &not_found[10..]],
                &refusal,
            ),
            // a CONNECT switches with any 2xx
            (
                b"CONNECT 10.0.0.1:80 HTTP/1.1\r\n\r\n",
                frames,
                vec![b"HTTP/1.1 200 OK\r\n\r\n"],
                frames,
            ),
            (
                b"CONNECT 10.0.0.1:80 HTTP/1.1\r\n\r\n",
                bad,
                vec![b"HTTP/1.1 405 Method Not Allowed\r\n\r\n"],
                &refusal,
            ),
            // (its body's 100 Continue first, then the 2xx)
            (
                b"CONNECT 10.0.0.1:80 HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
                frames,
                vec![cont, b"HTTP/1.1 200 OK\r\n\r\n"],
                frames,
            ),
        ];
        for (head, rest, answer, want) in cases {
            let input = [head, rest].concat();
            let (before, after) = answered(&input, &answer).await;
            assert_eq!(before, head, "{input:?}");
            assert_eq!(after, want, "{input:?} {answer:?}");
        }
        // The status comes from the bytes the connection took, not the
        // ones offered: `HTTP/1.1 ` goes out (across two slices), `101`
        // does not, and `404 Not Found` follows.
        use tokio::io::AsyncWriteExt;
        let mut g = Gate::new(
            Wire {
                input: [&ws[..], bad].concat(),
                per_write: 9,
            },
            8192,
        );
        assert_eq!(drain(&mut g).await, ws);
        let n = g
            .write_vectored(&[io::IoSlice::new(b"HTTP/1.1"), io::IoSlice::new(b" 101 X")])
            .await
            .expect("write");
        assert_eq!(n, 9, "the wire takes 9 bytes a write");
        assert_eq!(drain(&mut g).await, b"");
        g.write_all(&not_found[9..]).await.expect("write");
        assert_eq!(drain(&mut g).await, refusal);
    }

    /// Versions, methods, target forms and bytes, header lines, the head
    /// size limit, in lighttpd's order: the request line (version, then
    /// method, then the target's form), the header lines in order, the
    /// target's bytes. The answer says `HTTP/1.1` only when the line did;
    /// the log gets the line as far as it was understood.
    #[tokio::test]
    async fn refusal_statuses() {
        let get = line(b"GET / HTTP/1.1");
        let post = line(b"POST / HTTP/1.1");
        let unknown = line(b"  HTTP/1.1");
        // (the request line comes along when the refusal is about a header)
        for (head, status, line) in [
            (&b"GET / HTTP/1.2\r\n\r\n"[..], 505, None),
            (b"GET / HTTP/2.0\r\n\r\n", 505, None),
            (b"GET / HTTP/3\r\n\r\n", 505, None),
            (b"GET / HTTP/0.9\r\n\r\n", 505, None),
            (b"GET / HTTP/1.10\r\n\r\n", 400, None),
            (b"GET / HTTP/1.01\r\n\r\n", 400, None),
            (b"GET / HTTP/1.1a\r\n\r\n", 400, None),
            (b"GET / HTTP/1.0.\r\n\r\n", 400, None),
            // (not a misspelt 1.0 or 1.1: 505, as lighttpd)
            (b"GET / HTTP/x\r\n\r\n", 505, None),
            (b"GET / HTTP/01.1\r\n\r\n", 505, None),
            (b"GET / HTTP/10\r\n\r\n", 505, None),
            (b"GET / HTTP/1.\r\n\r\n", 505, None),
            (b"GET / HTTP/\r\n\r\n", 505, None),
            (b"GET / HTTP/1.2x\r\n\r\n", 505, None),
            (b"GET / HTTP/1.1\r\nHo st: a\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nX\x01: a\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\n: a\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400, get),
            (b"WICK-GATE-REFUSED /200 HTTP/1.1\r\n\r\n", 501, line(b"  HTTP/1.1")),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, post),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, post),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 501, post),
            // an empty coding whose value is folded onto the next line is
            // not left out (the folded line would pass alone)
            (b"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\nhello", 501, post),
            // headers lighttpd takes once, again with another value
            (b"GET / HTTP/1.1\r\nIf-Modified-Since: a\r\nX: 1\r\nif-modified-since: b\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nHTTP2-Settings: a\r\nHTTP2-Settings: b\r\n\r\n", 400, get),
            // (a HEAD request's refusal stays HEAD)
            (b"HEAD / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, line(b"HEAD / HTTP/1.1")),
            (b"HEAD * HTTP/1.1\r\n\r\n", 400, Some(RequestLine { target: b"", ..line(b"HEAD * HTTP/1.1").unwrap() })),
            // the target's bytes are judged after the headers
            (b"GET /\x01 HTTP/1.1\r\nno colon\r\n\r\n", 400, line(b"GET /\x01 HTTP/1.1")),
            // control bytes (and a lone CR) in a header value or a fold
            (b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nX: a\r\n \x00b\r\n\r\n", 400, get),
            // a fold with no header line to continue
            (b"GET / HTTP/1.1\r\n cd\r\nX: a\r\n\r\n", 400, get),
            // the target's bytes: controls (a tab too), never-UTF-8 bytes
            (b"GET /a\tb HTTP/1.1\r\n\r\n", 400, line(b"GET /a\tb HTTP/1.1")),
            (b"GET /?\xc0 HTTP/1.1\r\n\r\n", 400, line(b"GET /?\xc0 HTTP/1.1")),
            (b"GET /\xff HTTP/1.0\r\n\r\n", 400, line(b"GET /\xff HTTP/1.0")),
            // methods: not a token, unknown, empty
            (b"G(T / HTTP/1.1\r\n\r\n", 501, unknown),
            (b"get / HTTP/1.1\r\n\r\n", 501, unknown),
            (b" / HTTP/1.1\r\n\r\n", 501, unknown),
            (b"GET\t/ HTTP/1.1\r\n\r\n", 501, unknown),
            // nothing before the version
            (b" HTTP/1.1\r\n\r\n", 400, None),
            // target forms
            (b"GET HTTP/1.1\r\n\r\n", 400, line(b"GET  HTTP/1.1")),
            (b"GET a HTTP/1.1\r\n\r\n", 400, line(b"GET  HTTP/1.1")),
            (b"GET * HTTP/1.1\r\n\r\n", 400, line(b"GET  HTTP/1.1")),
            (b"GET ftp://a/ HTTP/1.1\r\n\r\n", 400, line(b"GET  HTTP/1.1")),
            (b"GET http://a HTTP/1.1\r\n\r\n", 400, line(b"GET  HTTP/1.1")),
            (b"GET http:///b HTTP/1.1\r\n\r\n", 400, line(b"GET  HTTP/1.1")),
            // an absolute URI's host is judged with the target's bytes
            (b"GET http://a b/c HTTP/1.1\r\n\r\n", 400, line(b"GET /c HTTP/1.1")),
            (b"CONNECT 1 b:80 HTTP/1.1\r\n\r\n", 400, line(b"CONNECT 1 b:80 HTTP/1.1")),
            (b"CONNECT 1/x HTTP/1.1\r\n\r\n", 400, line(b"CONNECT 1/x HTTP/1.1")),
            // CONNECT's authority: numeric only (as the line's form)
            (b"CONNECT a:80 HTTP/1.1\r\n\r\n", 400, line(b"CONNECT  HTTP/1.1")),
            (b"CONNECT [::1]:80 HTTP/1.1\r\n\r\n", 400, line(b"CONNECT  HTTP/1.1")),
            (b"CONNECT * HTTP/1.1\r\n\r\n", 400, line(b"CONNECT  HTTP/1.1")),
            (b"GET http://a:b:c/ HTTP/1.1\r\n\r\n", 400, line(b"GET / HTTP/1.1")),
            // HTTP/1.0: answered so, and no Transfer-Encoding
            (b"GET / HTTP/1.0\r\nX\r\n\r\n", 400, line(b"GET / HTTP/1.0")),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, line(b"POST / HTTP/1.0")),
            // Content-Length: digits only, within 63 bits
            (b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400, line(b"POST / HTTP/1.1")),
            (b"POST / HTTP/1.1\r\nContent-Length:\r\nContent-Length: 1\r\n\r\n", 400, line(b"POST / HTTP/1.1")),
            (b"POST / HTTP/1.1\r\nContent-Length: \r\nTransfer-Encoding: chunked\r\n\r\n", 400, line(b"POST / HTTP/1.1")),
            (b"POST / HTTP/1.1\r\nContent-Length: 1 1\r\n\r\n", 400, line(b"POST / HTTP/1.1")),
            (b"POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 400, line(b"POST / HTTP/1.1")),
            (b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, get),
            // order: the version before a bare LF, the method before a
            // header, a coding (at its line) before the target's bytes, a
            // second `chunked` after the other lines
            (b"GET / HTTP/3.0\r\nHost: a\nX: b\r\n\r\n", 505, None),
            (b"G(T / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 501, unknown),
            (b"G(T / HTTP/1.1\r\nX\r\n\r\n", 501, unknown),
            (b"GET /\x01 HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, line(b"GET /\x01 HTTP/1.1")),
            (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nX\r\n\r\n", 501, get),
            (b"GET / HTTP/1.1\r\nX: \x01\r\nTransfer-Encoding: gzip\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nX\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nTransfer-Encoding: gzip\r\n\r\n", 400, get),
        ] {
            assert_eq!(through(head).await, refused(status, line), "{head:?}");
        }
        // A head over the limit, whole or still arriving.
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "v".repeat(9000));
        assert_eq!(through(long.as_bytes()).await, refused(431, None));
        assert_eq!(through(&long.as_bytes()[..8500]).await, refused(431, None));
        // A fault past the limit does not matter: 431 either way.
        let late = format!("GET / HTTP/1.1\r\nX: {}\nY: z\r\n\r\n", "v".repeat(9000));
        assert_eq!(through(late.as_bytes()).await, refused(431, None));
        assert_eq!(through(&late.as_bytes()[..8300]).await, refused(431, None));
        // A CR first: 400 whether the rest is long or not.
        let cr = format!("\r6 {}", "v".repeat(9000));
        assert_eq!(through(cr.as_bytes()).await, refused(400, None));
        assert_eq!(through(&cr.as_bytes()[..20]).await, refused(400, None));
        // The status line follows the request's version.
        assert!(
            refused(400, line(b"GET / HTTP/1.0"))
                .starts_with(b"WICK-GATE-REFUSED /400 HTTP/1.0\r\n")
        );
        assert!(refused(400, get).starts_with(b"WICK-GATE-REFUSED /400 HTTP/1.1\r\n"));
        assert!(refused(505, None).starts_with(b"WICK-GATE-REFUSED /505 HTTP/1.0\r\n"));
        // Names with every token character pass.
        let ok = b"GET / HTTP/1.1\r\nX-a.b_c!#$%&'*+^`|~9: v\r\n\r\n";
        assert_eq!(through(ok).await, ok);
    }

    /// The word-at-a-time test finds every control byte (not a tab) at
    /// any position, and nothing in printable, tab or non-ASCII bytes.
    #[test]
    fn has_ctl_every_byte_and_position() {
        for b in 0..=255u8 {
            for len in [1usize, 7, 8, 9, 16, 23] {
                for at in 0..len {
                    let mut line = vec![b'a'; len];
                    line[at] = b;
                    assert_eq!(has_ctl(&line), is_ctl(b), "{b:#x} at {at} of {len}");
                }
            }
        }
        assert!(!has_ctl(b"\t\x80\xff ~ x: y\t\x7e\x20\x21"));
    }

    /// What the log header carries comes back word for word, blanks,
    /// control bytes and `%` included.
    #[test]
    fn refused_line_round_trip() {
        for l in [
            &b"GET /a b%20\x01\xff HTTP/1.1"[..],
            b"  HTTP/1.1",
            b"GET  HTTP/1.0",
        ] {
            let logged = line(l).expect("line");
            let head = refused(400, Some(logged));
            let at = memchr::memmem::find(&head, REFUSED_LINE.as_bytes()).expect("header");
            let value = &head[at + REFUSED_LINE.len() + 2..];
            let value = &value[..memchr::memchr(b'\r', value).expect("CRLF")];
            assert!(
                value
                    .iter()
                    .all(|&b| (0x21..0x7f).contains(&b) || b == b' ')
            );
            let (m, t, v) = refused_line(value.trim_ascii());
            assert_eq!((&m[..], &t[..]), (logged.method, logged.target), "{l:?}");
            assert_eq!(v, &l[l.len() - 8..]);
        }
    }

    /// An absolute URI is logged as its path (as lighttpd logs it); a
    /// path that only looks like one is logged whole.
    #[tokio::test]
    async fn refusal_logs_absolute_uri_path() {
        for (l, want) in [
            (&b"GET http://a/b?c HTTP/1.1"[..], &b"HTTP/1.1 GET /b?c"[..]),
            (b"GET HTTPS://a:1/ HTTP/1.0", b"HTTP/1.0 GET /"),
            (b"GET /x://y/z HTTP/1.1", b"HTTP/1.1 GET /x://y/z"),
            (
                b"CONNECT 10.0.0.1:80 HTTP/1.1",
                b"HTTP/1.1 CONNECT 10.0.0.1:80",
            ),
        ] {
            // a header line without a colon: refused after the line
            let mut head = l.to_vec();
            head.extend_from_slice(b"\r\nX\r\n\r\n");
            let out = through(&head).await;
            let mut header = format!("{REFUSED_LINE}: ").into_bytes();
            header.extend_from_slice(want);
            header.extend_from_slice(b"\r\n");
            assert!(
                memchr::memmem::find(&out, &header).is_some(),
                "{:?}",
                String::from_utf8_lossy(&out)
            );
        }
    }

    /// Heads handed on changed. Bytes lighttpd takes in a target and
    /// hyper would refuse are percent-encoded, as lighttpd's normalisation
    /// encodes them (UTF-8 alone passes as it is). And what lighttpd lets
    /// be: a Content-Length with blanks around its digits, an empty one (as
    /// if absent: the line is left out, with its folded rest), the same
    /// Host twice (in any case), an empty Host besides another.
    #[tokio::test]
    async fn heads_handed_on() {
        for (head, want) in [
            (
                &b"GET /a b?x y HTTP/1.1\r\nHost: h\r\n\r\n"[..],
                &b"GET /a%20b?x%20y HTTP/1.1\r\nHost: h\r\n\r\n"[..],
            ),
            (
                b"GET /a<b>`\"?<\"`> HTTP/1.0\r\n\r\n",
                b"GET /a%3Cb%3E%60%22?%3C%22%60%3E HTTP/1.0\r\n\r\n",
            ),
            (
                b"GET /\xc3\xa9?\xc3\xa9 HTTP/1.1\r\n\r\n",
                b"GET /\xc3\xa9?\xc3\xa9 HTTP/1.1\r\n\r\n",
            ),
            (
                b"GET /a\x80\xc3\xa9 HTTP/1.1\r\n\r\n",
                b"GET /a%80%C3%A9 HTTP/1.1\r\n\r\n",
            ),
            (
                b"GET http://h/a b HTTP/1.1\r\n\r\n",
                b"GET http://h/a%20b HTTP/1.1\r\n\r\n",
            ),
            (
                b"GET /a b HTTP/1.1\r\nX: 1\r\n 2\r\n\r\n",
                b"GET /a%20b HTTP/1.1\r\nX: 1 2\r\n\r\n",
            ),
            (
                b"GET /{|}\\^ HTTP/1.1\r\n\r\n",
                b"GET /{|}\\^ HTTP/1.1\r\n\r\n",
            ),
            // tolerated lines
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\t\r\n\r\nx",
                b"POST / HTTP/1.1\r\nContent-Length: 1\t\r\n\r\nx",
            ),
            (
                b"GET / HTTP/1.1\r\nX: a\r\nContent-Length:\r\nY: b\r\n\r\n",
                b"GET / HTTP/1.1\r\nX: a\r\nY: b\r\n\r\n",
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: \r\n\r\n",
                b"GET / HTTP/1.1\r\n\r\n",
            ),
            (
                b"GET / HTTP/1.1\r\nX: a\r\nContent-Length:\r\n 1\r\nY: b\r\n c\r\n\r\n",
                b"GET / HTTP/1.1\r\nX: a\r\nY: b c\r\n\r\n",
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nHOST: a \r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: a\r\nHOST: a \r\n\r\n",
            ),
            // (a host name in any case is the same; an empty Host is none)
            (
                b"GET / HTTP/1.1\r\nHost: a.EXAMPLE\r\nHost: A.example\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: a.EXAMPLE\r\nHost: A.example\r\n\r\n",
            ),
            (
                b"GET / HTTP/1.1\r\nHost: \r\nHost: b\r\nHost:\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: \r\nHost: b\r\nHost:\r\n\r\n",
            ),
        ] {
            assert_eq!(through(head).await, want, "{head:?}");
        }
    }

    /// A gate over one end of a pipe whose client sent `sent`, and the
    /// first bytes the gate handed on.
    async fn gate_after(
        sent: &[u8],
    ) -> (
        tokio::io::DuplexStream,
        Gate<tokio::io::DuplexStream>,
        Vec<u8>,
    ) {
        use tokio::io::AsyncWriteExt;
        let (mut client, server) = tokio::io::duplex(1024);
        client.write_all(sent).await.expect("send");
        let mut g = Gate::new(server, 8192);
        let mut first = [0u8; 64];
        let n = g.read(&mut first).await.expect("first bytes");
        (client, g, first[..n].to_vec())
    }

    /// Closing an HTTP/1 connection shuts our side at once, then reads
    /// and drops what the client still sends until it closes: the client
    /// sees the end of the answer, and its last bytes are not met with a
    /// reset. (Paused time: the deadlines are virtual, and run out only
    /// when nothing else can move.)
    #[tokio::test(start_paused = true)]
    async fn closing_lingers_for_what_the_client_still_sends() {
        use tokio::io::AsyncWriteExt;
        let (mut client, mut g, first) =
            gate_after(b"POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n").await;
        assert!(first.starts_with(b"POST"));
        let sender = tokio::spawn(async move {
            let sent = client.write_all(&vec![b'x'; 70_000]).await;
            let mut rest = Vec::new();
            let eof = client.read_to_end(&mut rest).await;
            (sent.is_ok(), eof.is_ok() && rest.is_empty())
        });
        // (the body would fill the pipe 68 times over: without lingering,
        // the sender's write fails once the gate is gone)
        tokio::time::timeout(Duration::from_secs(5), g.shutdown())
            .await
            .expect("shutdown ends with the client's close")
            .expect("shutdown");
        drop(g);
        assert_eq!(sender.await.expect("sender"), (true, true));
    }

    /// A tunnel's close does not linger: the other side's bytes are the
    /// tunnel's business. (Paused time: a linger would pass the virtual
    /// deadline at once.)
    #[tokio::test(start_paused = true)]
    async fn a_tunnel_closes_without_lingering() {
        use tokio::io::AsyncWriteExt;
        let (client, mut g, _) = gate_after(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
        tokio::time::timeout(Duration::from_secs(1), g.shutdown())
            .await
            .expect("no lingering")
            .expect("shutdown");
        drop(client);
    }

    /// A chunk-size line cut across reads is read whole: the gate keeps
    /// checking the heads after the body.
    #[tokio::test]
    async fn split_chunk_size_line() {
        let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1a;x=y\r\n\
                      abcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nGET / HTTP/1.1\nbad\n\n";
        for cut in 40..input.len() {
            // The socket delivers the bytes in two reads, cut at `cut`.
            let g = Gate::new(AsyncReadExt::chain(&input[..cut], &input[cut..]), 8192);
            until_refused(g, 7).await;
        }
    }

    /// A head arriving a byte at a time is checked the same.
    #[tokio::test]
    async fn split_reads() {
        let (mut w, r) = tokio::io::duplex(1);
        let task = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for b in b"GET / HTTP/1.1\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.1\nbad\n\n" {
                // The gate stops reading after a refusal.
                if w.write_all(&[*b]).await.is_err() {
                    break;
                }
            }
        });
        let out = until_refused(Gate::new(r, 8192), 64).await;
        task.await.expect("writer");
        let mut want = b"GET / HTTP/1.1\r\nX: a b\r\nContent-Length: 2\r\n\r\nok".to_vec();
        want.extend_from_slice(&refused(400, None));
        assert_eq!(out, want);
    }
}
