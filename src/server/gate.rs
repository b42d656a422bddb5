//! lighttpd's request-head rules that hyper's parser does not apply
//! (spec streaming-and-core.md §4), enforced on the bytes before hyper
//! reads them.
//!
//! | input | lighttpd 1.4.69 | hyper alone | through the gate |
//! |---|---|---|---|
//! | empty lines before the request line | 400 | skipped | 400 |
//! | bare LF line ends | 400 | accepted | 400 |
//! | obs-fold (a header line starting with a blank) | unfolded, accepted | 400 | unfolded, accepted |
//! | HTTP/0.9 request line (no version) | closed, no answer | 400 | closed, no answer |
//! | two `Content-Length` lines (even equal) | 400 | accepted when equal | 400 |
//! | `Content-Length` and `Transfer-Encoding` | 400 | chunked wins | 400 |
//!
//! The gate follows the framing of each request (Content-Length, chunked)
//! to find the next head; after an `Upgrade`, a CONNECT or an HTTP/2
//! preface it steps aside. A head it refuses is replaced by one hyper
//! refuses with 400 (and then closes), so the answer comes from hyper's
//! usual error path. Heads longer than the limit pass unchanged: hyper
//! answers 431.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What hyper gets instead of a head the gate refuses: an invalid method
/// token, which it answers with 400 and a close.
const REFUSED: &[u8] = b"\x00 / HTTP/1.1\r\n\r\n";

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
    /// The longest head checked (longer ones pass for hyper's 431).
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
/// is) and the framing, or `None` to refuse.
fn check_head(bytes: &[u8]) -> Option<(Option<Vec<u8>>, HeadInfo)> {
    let mut info = HeadInfo {
        length: None,
        chunked: false,
        tunnel: false,
        lines: 0,
    };
    // Built only when a line has to be unfolded.
    let mut out: Option<Vec<u8>> = None;
    let mut lengths = 0u32;
    let mut start = 0;
    let mut first = true;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        let raw = &bytes[start..end];
        let line = raw.strip_suffix(b"\r\n")?;
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
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = &line[..colon];
        // Only three names matter here; their lengths rule out the rest.
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                // A second Content-Length, even an equal one: 400 (lighttpd).
                if lengths > 0 {
                    return None;
                }
                lengths += 1;
                let value = line[colon + 1..].trim_ascii();
                info.length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => info.chunked = true,
            7 if name.eq_ignore_ascii_case(b"upgrade") => info.tunnel = true,
            _ => {}
        }
    }
    // Both framings at once is the classic smuggling shape: 400.
    if lengths > 0 && info.chunked {
        return None;
    }
    Some((out, info))
}

impl<IO: AsyncRead + Unpin> Gate<IO> {
    /// Looks at buffered input: moves checked bytes to `out`.
    fn process(&mut self) {
        while !self.input.is_empty() {
            match self.state {
                State::Pass | State::Closed => {
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
                    self.line += b.len();
                    if self.line > 8192 {
                        (b.len(), State::Pass)
                    } else {
                        (b.len(), State::Chunked(c))
                    }
                }
                Some(i) => {
                    let line_len = self.line + i;
                    self.line = 0;
                    let next = if c == Chunk::Trailer {
                        // An empty trailer line ends the body.
                        if line_len <= 1 {
                            State::Head
                        } else {
                            State::Chunked(Chunk::Trailer)
                        }
                    } else {
                        // The size is at the start of this line; when the
                        // line was split across reads, hyper judges it.
                        let text = &b[..i];
                        let hex: Vec<u8> = text
                            .iter()
                            .copied()
                            .take_while(u8::is_ascii_hexdigit)
                            .collect();
                        match std::str::from_utf8(&hex)
                            .ok()
                            .and_then(|h| u64::from_str_radix(h, 16).ok())
                        {
                            Some(0) => State::Chunked(Chunk::Trailer),
                            Some(n) if line_len == i => State::Chunked(Chunk::Data(n)),
                            _ => State::Pass,
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
        // The request line first: empty lines before it, a bare LF, an
        // HTTP/0.9 request, an HTTP/2 preface.
        let Some(first_end) = memchr::memchr(b'\n', buf) else {
            if buf.len() > self.max_head {
                self.state = State::Pass;
                return true;
            }
            if buf.starts_with(b"\r") && buf.len() >= 2 {
                return self.refuse();
            }
            return false;
        };
        let line = &buf[..first_end];
        let Some(line) = line.strip_suffix(b"\r") else {
            return self.refuse();
        };
        if line.is_empty() {
            return self.refuse();
        }
        if line.starts_with(b"PRI * HTTP/2.0") {
            self.state = State::Pass;
            return true;
        }
        if memchr::memmem::rfind(line, b" HTTP/").is_none() {
            // HTTP/0.9: lighttpd closes without an answer.
            self.state = State::Closed;
            self.input.clear();
            return true;
        }
        // The rest of the head.
        let from = self.scanned.max(first_end + 1);
        let mut end = None;
        let mut pos = from;
        while let Some(i) = memchr::memchr(b'\n', &buf[pos..]) {
            let nl = pos + i;
            if nl == 0 || buf[nl - 1] != b'\r' {
                return self.refuse();
            }
            if nl >= 3 && buf[nl - 3] == b'\r' && buf[nl - 2] == b'\n' {
                end = Some(nl + 1);
                break;
            }
            pos = nl + 1;
        }
        let Some(end) = end else {
            if buf.len() > self.max_head {
                self.state = State::Pass;
                return true;
            }
            self.scanned = pos;
            return false;
        };
        self.scanned = 0;
        let head = self.input.split_to(end);
        let Some((unfolded, info)) = check_head(&head) else {
            return self.refuse();
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

    fn refuse(&mut self) -> bool {
        self.input.clear();
        self.out.extend_from_slice(REFUSED);
        self.state = State::Closed;
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
                if !this.out.is_empty() || this.state == State::Closed {
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

    /// Everything hyper would read for `input`.
    async fn through(input: &[u8]) -> Vec<u8> {
        let mut g = Gate::new(input, 8192);
        let mut out = Vec::new();
        g.read_to_end(&mut out).await.expect("read");
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
        assert_eq!(through(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n").await, REFUSED);
        assert_eq!(through(b"GET / HTTP/1.1\nHost: a\n\n").await, REFUSED);
        assert_eq!(through(b"GET / HTTP/1.1\r\nHost: a\n\r\n").await, REFUSED);
        // Body bytes are not heads: a bare LF inside a body is fine.
        let body = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na\nbGET / HTTP/1.1\r\n\r\n";
        assert_eq!(through(body).await, body);
        // Framing a proxy and its backend could read differently.
        let dup = b"POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\na";
        assert_eq!(through(dup).await, REFUSED);
        let both =
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(through(both).await, REFUSED);
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
        assert_eq!(through(b"GET /index.html\r\n").await, b"");
        let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04";
        assert_eq!(through(h2).await, h2);
        let ws = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello\nraw\n";
        assert_eq!(through(ws).await, ws);
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
        let mut g = Gate::new(r, 8192);
        let mut out = Vec::new();
        g.read_to_end(&mut out).await.expect("read");
        drop(g);
        task.await.expect("writer");
        let mut want = b"GET / HTTP/1.1\r\nX: a b\r\nContent-Length: 2\r\n\r\nok".to_vec();
        want.extend_from_slice(REFUSED);
        assert_eq!(out, want);
    }
}
