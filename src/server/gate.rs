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
//! | two `Content-Length` lines (even equal) | 400 | accepted when equal | 400 |
//! | `Content-Length` and `Transfer-Encoding` | 400 | chunked wins | 400 |
//! | a `Transfer-Encoding` other than one `chunked` | 501 | 400 (501 if it ends in chunked) | 501 |
//! | version other than `HTTP/1.0` / `HTTP/1.1` | 505 (`D` or `D.D`), else 400 | 400 | the same as lighttpd |
//! | header line without a colon, name not a token | 400 | 400 | 400 |
//! | head longer than `server.max-request-field-size` | 431 | 431 | 431 |
//!
//! Refusals come with lighttpd's error page (or `server.errorfile-prefix`),
//! where hyper alone answers with an empty body.
//!
//! The gate follows the framing of each request (Content-Length, chunked)
//! to find the next head; after an `Upgrade`, a CONNECT or an HTTP/2
//! preface it steps aside. A head it refuses is replaced by a request for
//! the refusal ([`REFUSED_METHOD`]), which the request handler answers
//! with the status's page before the connection closes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The method of the request the gate hands to hyper in place of a head
/// it refuses; the target is `/<status>`, and a [`REFUSED_LINE`] header
/// carries the client's request line when the refusal came after it. The
/// request handler answers it with that status's error page
/// (`server.errorfile-prefix` or the standard one) and closes the
/// connection, as lighttpd does. A client's own request with this method
/// is refused as an unknown method (501), so only the gate's reach the
/// handler.
pub const REFUSED_METHOD: &str = "WICK-GATE-REFUSED";

/// The header of a refusal that carries the request line (for the access
/// log: lighttpd logs it when the request line was fine and a header was
/// not, and logs an empty one otherwise).
pub const REFUSED_LINE: &str = "wick-request-line";

/// The head that stands for a refusal with `status`, with the client's
/// request line when it is known (and is a valid header value).
fn refused(status: u16, line: Option<&[u8]>) -> Vec<u8> {
    let mut head =
        format!("{REFUSED_METHOD} /{status} HTTP/1.1\r\nConnection: close\r\n").into_bytes();
    if let Some(line) = line.filter(|l| {
        l.iter()
            .all(|&b| b == b'\t' || (b' '..0x7f).contains(&b) || b >= 0x80)
    }) {
        head.extend_from_slice(REFUSED_LINE.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(line);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Whether `b` may appear in a header name (RFC 9110 `tchar`).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The status for a request line's version (`HTTP/` and what follows):
/// `None` for 1.0 and 1.1, 505 for another `D` or `D.D`, 400 otherwise.
fn version_refusal(version: &[u8]) -> Option<u16> {
    match version {
        b"1.0" | b"1.1" => None,
        [d] | [d, b'.', _]
            if d.is_ascii_digit() && version.iter().all(|&c| c.is_ascii_digit() || c == b'.') =>
        {
            Some(505)
        }
        _ => Some(400),
    }
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
        }
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

/// Looks at a complete head (`bytes` ends with the empty line); returns
/// the unfolded head when it had obs-fold lines (`None`: pass it as it
/// is) and the framing, or the status to refuse it with.
fn check_head(bytes: &[u8]) -> Result<(Option<Vec<u8>>, HeadInfo), u16> {
    let mut info = HeadInfo {
        length: None,
        chunked: false,
        tunnel: false,
        lines: 0,
    };
    // Built only when a line has to be unfolded.
    let mut out: Option<Vec<u8>> = None;
    let mut lengths = 0u32;
    let mut other_coding = false;
    let mut start = 0;
    let mut first = true;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        let raw = &bytes[start..end];
        let line = raw.strip_suffix(b"\r\n").ok_or(400u16)?;
        let line_start = start;
        start = end;
        if first {
            first = false;
            if line.starts_with(b"CONNECT ") {
                info.tunnel = true;
            }
            continue;
        }
        if line.is_empty() {
            if let Some(o) = out.as_mut() {
                o.extend_from_slice(raw);
            }
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
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
        // Only three names matter here; their lengths rule out the rest.
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                // A second Content-Length, even an equal one: 400 (lighttpd).
                if lengths > 0 {
                    return Err(400);
                }
                lengths += 1;
                let value = line[colon + 1..].trim_ascii();
                info.length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                // Only one `chunked` is implemented (lighttpd: 501 else).
                other_coding |= info.chunked
                    || !line[colon + 1..]
                        .trim_ascii()
                        .eq_ignore_ascii_case(b"chunked");
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
    if other_coding {
        return Err(501);
    }
    Ok((out, info))
}

/// The longest chunk-size or trailer line the gate follows; past it,
/// hyper judges the body.
const MAX_CHUNK_LINE: usize = 8192;

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
                    if !self.head_step() {
                        return;
                    }
                }
            }
        }
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
        let buf = &self.input[..];
        // Only the first max_head bytes (and one more) are looked at: a
        // head that does not end within them gets 431 whatever follows,
        // however much of it has arrived.
        let scan = &buf[..buf.len().min(self.max_head + 1)];
        // The request line first: empty lines before it, a bare LF, an
        // HTTP/0.9 request, an HTTP/2 preface.
        let Some(first_end) = memchr::memchr(b'\n', scan) else {
            if buf.len() > self.max_head {
                return self.refuse(431);
            }
            if buf.starts_with(b"\r") && buf.len() >= 2 {
                return self.refuse(400);
            }
            return false;
        };
        let line = &buf[..first_end];
        let Some(line) = line.strip_suffix(b"\r") else {
            return self.refuse(400);
        };
        // An empty line, or a CR that does not end one (refused as soon
        // as the second byte shows it, above, whatever follows).
        if line.is_empty() || line[0] == b'\r' {
            return self.refuse(400);
        }
        if line.starts_with(b"PRI * HTTP/2.0") {
            self.state = State::Pass;
            return true;
        }
        // No version (HTTP/0.9, or garbage): lighttpd waits for the whole
        // head, then answers 400; an unsupported one gets 505.
        let refusal = match memchr::memmem::rfind(line, b" HTTP/") {
            None => Some(400),
            Some(at) => version_refusal(&line[at + 6..]),
        }
        .or_else(|| {
            let method = REFUSED_METHOD.as_bytes();
            (line.starts_with(method) && line.get(method.len()) == Some(&b' ')).then_some(501)
        });
        // The rest of the head.
        let from = self.scanned.max(first_end + 1);
        let mut end = None;
        let mut pos = from;
        while let Some(i) = memchr::memchr(b'\n', &scan[pos..]) {
            let nl = pos + i;
            if nl == 0 || buf[nl - 1] != b'\r' {
                let line = &buf[..first_end - 1];
                let line = line.to_vec();
                return self.refuse_after_line(400, &line);
            }
            if nl >= 3 && buf[nl - 3] == b'\r' && buf[nl - 2] == b'\n' {
                end = Some(nl + 1);
                break;
            }
            pos = nl + 1;
        }
        let Some(end) = end else {
            if buf.len() > self.max_head {
                return self.refuse(431);
            }
            self.scanned = pos;
            return false;
        };
        self.scanned = 0;
        if end > self.max_head {
            return self.refuse(431);
        }
        if let Some(status) = refusal {
            return self.refuse(status);
        }
        let head = self.input.split_to(end);
        let (unfolded, info) = match check_head(&head) {
            Ok(x) => x,
            Err(status) => {
                let line = &head[..first_end - 1];
                return self.refuse_after_line(status, line);
            }
        };
        match unfolded {
            Some(h) => self.out.extend_from_slice(&h),
            None => self.out.unsplit(head),
        }
        self.head_lines = self.head_lines.max(info.lines);
        self.state = if info.tunnel {
            State::Pass
        } else if info.chunked {
            State::Chunked(Chunk::Size)
        } else {
            match info.length {
                Some(0) | None => State::Head,
                Some(n) => State::Body(n),
            }
        };
        true
    }

    /// Hands hyper the stand-in for a refusal with `status` instead of
    /// what is left, and closes.
    fn refuse(&mut self, status: u16) -> bool {
        self.input.clear();
        self.out.extend_from_slice(&refused(status, None));
        self.state = State::Refused;
        true
    }

    /// [`Gate::refuse`] for a head whose request line `line` was fine.
    fn refuse_after_line(&mut self, status: u16, line: &[u8]) -> bool {
        self.input.clear();
        self.out.extend_from_slice(&refused(status, Some(line)));
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

impl<IO: AsyncRead + Unpin> AsyncRead for Gate<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.out.is_empty() {
                let n = this.out.len().min(buf.remaining());
                buf.put_slice(&this.out[..n]);
                this.out.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.state == State::Closed {
                return Poll::Ready(Ok(()));
            }
            if this.state == State::Refused {
                // The connection closes once the refusal is answered.
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

impl<IO: AsyncWrite + Unpin> AsyncWrite for Gate<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// What the gate hands out for `input`: up to EOF, or up to where it
    /// stops after a refusal (the input itself never waits).
    async fn through(input: &[u8]) -> Vec<u8> {
        let mut g = Gate::new(input, 8192);
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        std::future::poll_fn(|cx| {
            loop {
                let mut rb = ReadBuf::new(&mut buf);
                match Pin::new(&mut g).poll_read(cx, &mut rb) {
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
            refused(400, Some(b"GET / HTTP/1.1"))
        );
        // Body bytes are not heads: a bare LF inside a body is fine.
        let body = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na\nbGET / HTTP/1.1\r\n\r\n";
        assert_eq!(through(body).await, body);
        // Framing a proxy and its backend could read differently.
        let dup = b"POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\na";
        assert_eq!(through(dup).await, refused(400, Some(b"POST / HTTP/1.1")));
        let both =
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(through(both).await, refused(400, Some(b"POST / HTTP/1.1")));
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
        let ws = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello\nraw\n";
        assert_eq!(through(ws).await, ws);
    }

    /// Versions, header names, the head size limit, and a client that
    /// sends the gate's own method.
    #[tokio::test]
    async fn refusal_statuses() {
        let get: Option<&[u8]> = Some(b"GET / HTTP/1.1");
        let post: Option<&[u8]> = Some(b"POST / HTTP/1.1");
        // (the request line comes along when the refusal is about a header)
        for (head, status, line) in [
            (&b"GET / HTTP/1.2\r\n\r\n"[..], 505, None),
            (b"GET / HTTP/2.0\r\n\r\n", 505, None),
            (b"GET / HTTP/3\r\n\r\n", 505, None),
            (b"GET / HTTP/0.9\r\n\r\n", 505, None),
            (b"GET / HTTP/1.10\r\n\r\n", 400, None),
            (b"GET / HTTP/x\r\n\r\n", 400, None),
            (b"GET / HTTP/1.1\r\nHo st: a\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nX\x01: a\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\n: a\r\n\r\n", 400, get),
            (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400, get),
            (b"WICK-GATE-REFUSED /200 HTTP/1.1\r\n\r\n", 501, None),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, post),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, post),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, post),
            // a request line a header cannot carry: left out
            (b"GET /\x01 HTTP/1.1\r\nno colon\r\n\r\n", 400, None),
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
        // Names with every token character pass.
        let ok = b"GET / HTTP/1.1\r\nX-a.b_c!#$%&'*+^`|~9: v\r\n\r\n";
        assert_eq!(through(ok).await, ok);
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
