//! The backend's response: its head checked and filtered as lighttpd's
//! mod_proxy does (spec proxy.md §6), and its body read with its framing
//! (Content-Length, chunked, or up to EOF).

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bstr::ByteSlice;
use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use tokio::io::ReadHalf;
use tokio::time::Sleep;

use super::remap::ResponseRemap;
use crate::backend::pool::{Conn, HostGuard, LoadGuard, Stream};
use crate::request::hdr::{self, Usual};

/// The largest response head accepted (lighttpd: 64 KiB).
pub const MAX_HEAD: usize = 65535;

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked.
    Chunked,
    /// Up to EOF.
    Close,
}

/// A backend response head, ready for the client.
#[derive(Debug)]
pub struct Head {
    /// The status.
    pub status: StatusCode,
    /// Headers for the client, in the backend's order.
    pub headers: HeaderMap,
    /// How the body is delimited.
    pub framing: Framing,
    /// The backend leaves the connection open after this response.
    pub reusable: bool,
    /// `X-Sendfile` / `X-LIGHTTPD-send-file`.
    pub x_sendfile: Option<Vec<u8>>,
    /// Had `Content-Encoding` (lighttpd then does not offer ranges).
    pub encoded: bool,
    /// Had an `Upgrade` header.
    pub upgrade: bool,
}

/// Why a head was refused (502).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Not an HTTP/1.x status line and header block.
    Invalid,
    /// Larger than [`MAX_HEAD`].
    TooLarge,
    /// Conflicting or invalid `Content-Length`.
    BadLength,
}

/// Parses a head from the start of `buf`: `Ok(None)` until it is complete;
/// then the head's bytes are taken out of `buf` and the head returned
/// (header values share those bytes). `head_request`: the client used HEAD.
pub fn parse(
    buf: &mut BytesMut,
    head_request: bool,
    remap: Option<&ResponseRemap<'_>>,
) -> Result<Option<Head>, HeadError> {
    // Offsets of (name, value) in the head, taken while httparse borrows it.
    let mut spans = Spans::default();
    let (len, code, version11) = {
        let mut storage: [MaybeUninit<httparse::Header<'_>>; 64] =
            [const { MaybeUninit::uninit() }; 64];
        let mut big;
        let mut cfg = httparse::ParserConfig::default();
        cfg.allow_spaces_after_header_name_in_responses(true);
        let mut r = httparse::Response::new(&mut []);
        let mut res = cfg.parse_response_with_uninit_headers(&mut r, buf, &mut storage);
        if matches!(res, Err(httparse::Error::TooManyHeaders)) {
            big = vec![httparse::EMPTY_HEADER; MAX_HEAD / 4];
            r = httparse::Response::new(&mut big);
            res = cfg.parse_response(&mut r, buf);
        }
        let len = match res {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                return if buf.len() > MAX_HEAD {
                    Err(HeadError::TooLarge)
                } else {
                    Ok(None)
                };
            }
            Err(_) => return Err(HeadError::Invalid),
        };
        if len > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let base = buf.as_ptr() as usize;
        for h in r.headers.iter() {
            let n0 = h.name.as_ptr() as usize - base;
            let n1 = n0 + h.name.len();
            // A blank between the name and the colon: lighttpd drops the line.
            if buf.get(n1) != Some(&b':') {
                continue;
            }
            let v = h.value.trim_ascii();
            let v0 = if v.is_empty() {
                n1
            } else {
                v.as_ptr() as usize - base
            };
            spans.push((n0 as u32, n1 as u32, v0 as u32, (v0 + v.len()) as u32));
        }
        (len, r.code.unwrap_or(0), r.version == Some(1))
    };
    let status = match StatusCode::from_u16(code) {
        Ok(s) if (100..=999).contains(&code) => s,
        _ => return Err(HeadError::Invalid),
    };
    let raw = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(spans.len());
    let spans = spans.as_slice();
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = !version11;
    let mut x_sendfile = None;
    let mut encoded = false;
    let mut upgrade = false;
    for &(n0, n1, v0, v1) in spans {
        let (n0, n1, v0, v1) = (n0 as usize, n1 as usize, v0 as usize, v1 as usize);
        let v = &raw[v0..v1];
        let Ok((hn, usual)) = hdr::name(&raw[n0..n1]) else {
            continue;
        };
        let role = role(&hn, usual);
        // A header without a value is left out (lighttpd; the client then
        // gets wick's own Server).
        if v.is_empty()
            && matches!(
                role,
                Role::Plain
                    | Role::ContentType
                    | Role::Location
                    | Role::SetCookie
                    | Role::ContentEncoding
                    | Role::Upgrade
            )
        {
            continue;
        }
        let mapped: Option<Vec<u8>> = match role {
            Role::Connection => {
                for tok in v.split(|&b| b == b',') {
                    let tok = tok.trim_ascii();
                    if tok.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if tok.eq_ignore_ascii_case(b"keep-alive") && !version11 {
                        close = false;
                    }
                }
                continue;
            }
            Role::TransferEncoding => {
                chunked = true;
                continue;
            }
            Role::ContentLength => {
                let n = parse_length(v).ok_or(HeadError::BadLength)?;
                match length {
                    Some(prev) if prev != n => return Err(HeadError::BadLength),
                    Some(_) => continue,
                    None => length = Some(n),
                }
                None
            }
            Role::ContentEncoding => {
                encoded = true;
                None
            }
            Role::Upgrade => {
                upgrade = true;
                None
            }
            Role::SendFile => {
                // (an empty one is left out and says nothing, as lighttpd)
                if !v.is_empty() {
                    x_sendfile = Some(v.to_vec());
                }
                continue;
            }
            Role::Dropped => continue,
            // (lighttpd renames it as spelt so, in lower case only)
            Role::ContentType if v.starts_with(b"application/javascript") => Some(
                [
                    &b"text/javascript"[..],
                    &v[b"application/javascript".len()..],
                ]
                .concat(),
            ),
            Role::Location => remap.map(|m| m.uri(v)),
            Role::SetCookie => remap.map(|m| m.cookie(v)),
            Role::ContentType | Role::Plain => None,
        };
        let hv = match mapped {
            Some(m) => HeaderValue::from_bytes(&m),
            // SAFETY: not a memory-safety matter: the constructor skips
            // checking the bytes, which httparse has checked with the very
            // rule HeaderValue has (HTAB, SP to `~`, 0x80 to 0xFF); builds
            // with debug assertions (tests, the fuzz target) still check.
            None => Ok(unsafe { HeaderValue::from_maybe_shared_unchecked(raw.slice(v0..v1)) }),
        };
        if let Ok(hv) = hv {
            headers.append(hn, hv);
        }
    }
    if chunked {
        headers.remove(CONTENT_LENGTH);
        length = None;
    }
    let no_body = head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = if no_body {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    Ok(Some(Head {
        status,
        headers,
        framing,
        reusable: !close && framing != Framing::Close,
        x_sendfile,
        encoded,
        upgrade,
    }))
}

/// What a backend's response header means to the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Read for the connection's fate, not passed on.
    Connection,
    /// Chunked framing, not passed on.
    TransferEncoding,
    ContentLength,
    ContentEncoding,
    Upgrade,
    /// X-Sendfile: taken, not passed on.
    SendFile,
    /// Other X-LIGHTTPD-* and HTTP2-Settings: not passed on.
    Dropped,
    /// Possibly renamed (`application/javascript`).
    ContentType,
    /// Location or Content-Location: remapped with `map-host-response`…
    Location,
    /// Its domain remapped.
    SetCookie,
    /// Passed on as it is.
    Plain,
}

/// The role of `hn`; `usual` when [`hdr::usual`] recognised it (no name
/// comparisons then).
fn role(hn: &HeaderName, usual: Option<Usual>) -> Role {
    use http::header as h;
    if let Some(u) = usual {
        return match u {
            Usual::Connection => Role::Connection,
            Usual::TransferEncoding => Role::TransferEncoding,
            Usual::ContentLength => Role::ContentLength,
            Usual::ContentEncoding => Role::ContentEncoding,
            Usual::ContentType => Role::ContentType,
            Usual::Location => Role::Location,
            Usual::SetCookie => Role::SetCookie,
            Usual::Age
            | Usual::Date
            | Usual::ETag
            | Usual::Vary
            | Usual::Server
            | Usual::Expires
            | Usual::LastModified
            | Usual::AcceptRanges
            | Usual::CacheControl => Role::Plain,
        };
    }
    if *hn == h::CONNECTION {
        Role::Connection
    } else if *hn == h::TRANSFER_ENCODING {
        Role::TransferEncoding
    } else if *hn == h::CONTENT_LENGTH {
        Role::ContentLength
    } else if *hn == h::CONTENT_ENCODING {
        Role::ContentEncoding
    } else if *hn == h::UPGRADE {
        Role::Upgrade
    } else if *hn == h::CONTENT_TYPE {
        Role::ContentType
    } else if *hn == h::LOCATION || *hn == h::CONTENT_LOCATION {
        Role::Location
    } else if *hn == h::SET_COOKIE {
        Role::SetCookie
    } else {
        let n = hn.as_str();
        // (lighttpd 1.4.69's mod_proxy takes X-Sendfile only; the
        // X-LIGHTTPD-send-file of its FastCGI days is dropped below)
        if n == "x-sendfile" {
            Role::SendFile
        } else if n.starts_with("x-lighttpd-") || n == "http2-settings" {
            Role::Dropped
        } else {
            Role::Plain
        }
    }
}

/// Header offsets: inline for the usual head, on the heap beyond.
#[derive(Default)]
struct Spans {
    inline: [(u32, u32, u32, u32); 32],
    n: usize,
    more: Vec<(u32, u32, u32, u32)>,
}

impl Spans {
    fn push(&mut self, s: (u32, u32, u32, u32)) {
        if self.n < self.inline.len() {
            self.inline[self.n] = s;
            self.n += 1;
        } else {
            if self.more.is_empty() {
                self.more.extend_from_slice(&self.inline);
            }
            self.more.push(s);
        }
    }

    fn len(&self) -> usize {
        if self.more.is_empty() {
            self.n
        } else {
            self.more.len()
        }
    }

    fn as_slice(&self) -> &[(u32, u32, u32, u32)] {
        if self.more.is_empty() {
            &self.inline[..self.n]
        } else {
            &self.more
        }
    }
}

fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.to_str().ok()?.parse().ok()
}

/// Where a chunked body decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a size line.
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// Reading trailer lines.
    Trailers,
    /// Done.
    Done,
}

/// What the decoder got out of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Body bytes.
    Data(Bytes),
    /// The buffer holds no complete piece: read more.
    More,
    /// The last chunk and the trailers have been read.
    Done,
}

/// An incremental decoder of a chunked body: fed whatever the backend
/// sent so far, it takes out what it can decode.
#[derive(Debug)]
pub struct Dechunker {
    state: Chunk,
    trailers: Vec<u8>,
}

impl Default for Dechunker {
    fn default() -> Self {
        Dechunker {
            state: Chunk::Size,
            trailers: Vec::new(),
        }
    }
}

impl Dechunker {
    /// Decodes from the front of `buf`, removing what it used: body bytes,
    /// [`Step::More`] when `buf` ends inside a size, CRLF or trailer line,
    /// or [`Step::Done`]. An error for a malformed body.
    pub fn step(&mut self, buf: &mut BytesMut) -> io::Result<Step> {
        decode_chunk(&mut self.state, buf, &mut self.trailers)
    }

    /// The trailer lines read (`Name: value\r\n` each).
    pub fn trailers(&self) -> &[u8] {
        &self.trailers
    }
}

/// Longest chunk-size line or trailer line.
const MAX_LINE: usize = 4096;

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// One line (without CRLF / LF) from the front of `buf`, or `None` when
/// incomplete.
fn take_line(buf: &mut BytesMut) -> io::Result<Option<BytesMut>> {
    // Only the first MAX_LINE bytes and a CRLF are looked at, so that a
    // long line is refused however much of it had arrived.
    match buf.iter().take(MAX_LINE + 2).position(|&b| b == b'\n') {
        Some(i) => {
            let mut line = buf.split_to(i + 1);
            line.truncate(i);
            if line.last() == Some(&b'\r') {
                line.truncate(i - 1);
            }
            Ok(Some(line))
        }
        None if buf.len() > MAX_LINE + 1 => Err(bad("chunk line too long")),
        None => Ok(None),
    }
}

fn decode_chunk(state: &mut Chunk, buf: &mut BytesMut, trailers: &mut Vec<u8>) -> io::Result<Step> {
    loop {
        match *state {
            Chunk::Size => {
                let Some(line) = take_line(buf)? else {
                    return Ok(Step::More);
                };
                let end = line
                    .iter()
                    .position(|&b| b == b';' || b == b' ' || b == b'\t')
                    .unwrap_or(line.len());
                let hex = &line[..end];
                if hex.is_empty() || hex.len() > 15 || !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(bad("invalid chunk size"));
                }
                let n =
                    u64::from_str_radix(hex.to_str().map_err(|_| bad("invalid chunk size"))?, 16)
                        .map_err(|_| bad("invalid chunk size"))?;
                *state = if n == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(n)
                };
            }
            Chunk::Data(n) => {
                if buf.is_empty() {
                    return Ok(Step::More);
                }
                let take = (n.min(buf.len() as u64)) as usize;
                let data = buf.split_to(take).freeze();
                *state = if take as u64 == n {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(n - take as u64)
                };
                return Ok(Step::Data(data));
            }
            Chunk::DataEnd => {
                let Some(line) = take_line(buf)? else {
                    return Ok(Step::More);
                };
                if !line.is_empty() {
                    return Err(bad("missing CRLF after chunk data"));
                }
                *state = Chunk::Size;
            }
            Chunk::Trailers => {
                let Some(line) = take_line(buf)? else {
                    return Ok(Step::More);
                };
                if line.is_empty() {
                    *state = Chunk::Done;
                    return Ok(Step::Done);
                }
                if trailers.len() + line.len() > MAX_HEAD {
                    return Err(bad("trailers too large"));
                }
                trailers.extend_from_slice(&line);
                trailers.extend_from_slice(b"\r\n");
            }
            Chunk::Done => return Ok(Step::Done),
        }
    }
}

/// Keeps a split connection counted (its load) while either half lives.
#[derive(Debug)]
pub struct SplitHold(pub LoadGuard);

/// The backend socket a body is read from.
#[derive(Debug)]
pub enum Io {
    /// The whole connection (it may go back to the pool).
    Whole(Conn),
    /// The read half of a connection whose write half streams the request
    /// body (never reused).
    Half(ReadHalf<Stream>, Arc<SplitHold>),
}

impl Io {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        match self {
            Io::Whole(c) => tokio_util::io::poll_read_buf(Pin::new(&mut c.stream), cx, buf),
            Io::Half(r, _) => tokio_util::io::poll_read_buf(Pin::new(r), cx, buf),
        }
    }
}

/// Reads a response body from the backend.
#[derive(Debug)]
pub struct BodyReader {
    io: Option<Io>,
    /// Bytes read but not consumed.
    pub buf: BytesMut,
    state: Kind,
    read_timeout: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
    reusable: bool,
    /// Bytes per read.
    read_size: usize,
    /// The decoder of a chunked body.
    chunks: Dechunker,
    /// Bytes produced so far.
    pub produced: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Length(u64),
    Chunked,
    Close,
    Done,
}

impl BodyReader {
    /// A reader for a body with `framing`, `buf` holding bytes already read
    /// after the head. `reusable`: the connection may be pooled after a
    /// clean end.
    pub fn new(
        io: Io,
        buf: BytesMut,
        framing: Framing,
        reusable: bool,
        read_timeout: Option<Duration>,
        read_size: usize,
    ) -> BodyReader {
        let state = match framing {
            Framing::None | Framing::Length(0) => Kind::Done,
            Framing::Length(n) => Kind::Length(n),
            Framing::Chunked => Kind::Chunked,
            Framing::Close => Kind::Close,
        };
        let mut r = BodyReader {
            io: Some(io),
            buf,
            state,
            read_timeout,
            sleep: None,
            reusable,
            read_size,
            chunks: Dechunker::default(),
            produced: 0,
        };
        if r.state == Kind::Done {
            r.finish(true);
        }
        r
    }

    /// The trailer lines of a chunked body (`Name: value\r\n` each).
    pub fn trailers(&self) -> &[u8] {
        self.chunks.trailers()
    }

    /// True when the body has been read completely.
    pub fn is_done(&self) -> bool {
        self.state == Kind::Done
    }

    /// Bytes left when the length is known.
    pub fn remaining(&self) -> Option<u64> {
        match self.state {
            Kind::Length(n) => Some(n),
            Kind::Done => Some(0),
            _ => None,
        }
    }

    fn finish(&mut self, clean: bool) {
        self.state = Kind::Done;
        self.sleep = None;
        match self.io.take() {
            Some(Io::Whole(mut c)) if clean && self.reusable && self.buf.is_empty() => {
                c.buf = std::mem::take(&mut self.buf);
                c.release();
            }
            Some(Io::Whole(c)) => c.touch(),
            _ => {}
        }
    }

    /// The next piece of the body; `None` at its end. A body that ends
    /// early (EOF before its length, a broken chunk) is an error.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            match self.state {
                Kind::Done => return Poll::Ready(None),
                Kind::Length(n) if !self.buf.is_empty() => {
                    let take = n.min(self.buf.len() as u64) as usize;
                    let data = self.buf.split_to(take).freeze();
                    let left = n - take as u64;
                    if left == 0 {
                        // Anything after the declared length is dropped
                        // (and the connection with it).
                        self.state = Kind::Done;
                        self.finish(true);
                    } else {
                        self.state = Kind::Length(left);
                    }
                    self.produced += take as u64;
                    return Poll::Ready(Some(Ok(data)));
                }
                Kind::Chunked if !self.buf.is_empty() => match self.chunks.step(&mut self.buf) {
                    Err(e) => {
                        self.finish(false);
                        return Poll::Ready(Some(Err(e)));
                    }
                    Ok(Step::Data(d)) => {
                        self.produced += d.len() as u64;
                        return Poll::Ready(Some(Ok(d)));
                    }
                    Ok(Step::Done) => {
                        self.finish(true);
                        return Poll::Ready(None);
                    }
                    Ok(Step::More) => {}
                },
                Kind::Close if !self.buf.is_empty() => {
                    let data = self.buf.split().freeze();
                    self.produced += data.len() as u64;
                    return Poll::Ready(Some(Ok(data)));
                }
                _ => {}
            }
            match ready!(self.poll_fill(cx)) {
                Err(e) => {
                    self.finish(false);
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(0) => {
                    if self.state == Kind::Close {
                        self.reusable = false;
                        self.finish(true);
                        return Poll::Ready(None);
                    }
                    self.finish(false);
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "backend closed before the end of the response body",
                    ))));
                }
                Ok(_) => {}
            }
        }
    }

    /// Reads more bytes into the buffer (0 at EOF), within the read timeout.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(Err(io::Error::other("backend connection gone")));
        };
        let want = match self.state {
            Kind::Length(n) => (n as usize).clamp(1, self.read_size),
            _ => self.read_size,
        };
        if self.buf.capacity() - self.buf.len() < want.min(4096) {
            self.buf.reserve(want);
        }
        match io.poll_read_buf(cx, &mut self.buf) {
            Poll::Pending => {
                if let Some(t) = self.read_timeout {
                    let sleep = self
                        .sleep
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(t)));
                    if sleep.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "backend read timeout",
                        )));
                    }
                }
                Poll::Pending
            }
            Poll::Ready(r) => {
                self.sleep = None;
                Poll::Ready(r)
            }
        }
    }

    /// Reads the whole body (buffered mode).
    pub async fn read_all(&mut self) -> io::Result<Vec<Bytes>> {
        let mut parts = Vec::new();
        if let Kind::Length(n) = self.state {
            // One contiguous buffer for the common case: read it all, then
            // hand it out as one piece.
            if n <= 1 << 20 {
                let n = n as usize;
                self.buf.reserve(n.saturating_sub(self.buf.len()));
                while self.buf.len() < n {
                    let got = std::future::poll_fn(|cx| self.poll_fill(cx)).await;
                    match got {
                        Ok(0) => {
                            self.finish(false);
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "backend closed before the end of the response body",
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => {
                            self.finish(false);
                            return Err(e);
                        }
                    }
                }
            }
        }
        while let Some(part) = std::future::poll_fn(|cx| self.poll_next(cx)).await {
            parts.push(part?);
        }
        Ok(parts)
    }
}

/// A response body streamed from the backend to the client.
#[derive(Debug)]
pub struct UpstreamBody {
    reader: BodyReader,
    _host: Option<HostGuard>,
    _task: Option<super::AbortOnDrop>,
}

impl UpstreamBody {
    /// Streams `reader`, holding the host's load until the end.
    pub fn new(reader: BodyReader, host: HostGuard) -> UpstreamBody {
        UpstreamBody {
            reader,
            _host: Some(host),
            _task: None,
        }
    }

    /// Also ends `task` (the request body pump) when the body ends.
    pub fn with_task(mut self, task: super::AbortOnDrop) -> Self {
        self._task = Some(task);
        self
    }

    /// Polls the next chunk.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let r = ready!(self.reader.poll_next(cx));
        if !matches!(r, Some(Ok(_))) {
            self._host = None;
            self._task = None;
        }
        Poll::Ready(r)
    }

    /// True at the end.
    pub fn is_done(&self) -> bool {
        self.reader.is_done()
    }

    /// Bytes left when known.
    pub fn remaining(&self) -> Option<u64> {
        self.reader.remaining()
    }
}

#[cfg(test)]
mod tests;
