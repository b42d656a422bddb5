//! `Upgrade: h2c` (RFC 7540 §3.2): an HTTP/1.1 request that asks to go on
//! in HTTP/2 is answered `101 Switching Protocols`, and the connection
//! continues as HTTP/2 with that request as stream 1, as lighttpd 1.4.69
//! does on cleartext listeners.
//!
//! hyper's HTTP/2 server only takes requests from HEADERS frames, so the
//! upgrading request is handed to it as one: [`Inject`] puts a HEADERS
//! frame for stream 1 (the request's head, HPACK literals that leave the
//! decoder's table alone) right after the client's connection preface and
//! first SETTINGS frame, where the client's own stream 3 can only follow.
//!
//! | request | lighttpd 1.4.69 | wick |
//! |---|---|---|
//! | HTTP/1.1, `Upgrade` lists `h2c`, `Connection` lists `Upgrade` and `HTTP2-Settings`, an `HTTP2-Settings` value of base64 (either alphabet, ≥ 2 characters), no body | 101, then HTTP/2 | the same |
//! | any of that missing, a body (length > 0 or chunked), over TLS | answered over HTTP/1.1 | the same |
//! | a POST without `Content-Length` | 411 over HTTP/1.1 | the same |
//! | a later request of a kept-alive connection | may upgrade | the same |
//!
//! The settings in `HTTP2-Settings` are not applied: the client's preface
//! carries a SETTINGS frame too, which hyper acknowledges (acknowledging
//! two would be a protocol error for the client).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING, UPGRADE};
use http::{Method, Request, Response, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::request::has_token;

/// The client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// A frame's header.
const FRAME_HEAD: usize = 9;
/// The largest frame a peer must take before it says otherwise.
const MAX_FRAME: usize = 16_384;
/// Frame types and flags used here.
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// An `HTTP2-Settings` value lighttpd takes: base64 of either alphabet,
/// padding optional, at least one whole byte.
fn settings_ok(v: &[u8]) -> bool {
    let end = v.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let s = &v[..end];
    !s.is_empty()
        && s.len() % 4 != 1
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}

/// Whether `req` asks for, and may have, the switch. Called only for the
/// requests hyper gave an upgrade handle (an `Upgrade` header or CONNECT).
#[inline(never)]
pub fn wanted<B>(req: &Request<B>) -> bool {
    let h = req.headers();
    if req.version() != Version::HTTP_11 || !has_token(h, UPGRADE, b"h2c") {
        return false;
    }
    let no_body = !h.contains_key(TRANSFER_ENCODING)
        && h.get_all(CONTENT_LENGTH)
            .iter()
            .all(|v| v.as_bytes().iter().all(|&b| b == b'0'));
    // a POST without a length is refused (411) before any switch
    let post_unframed = req.method() == Method::POST && !h.contains_key(CONTENT_LENGTH);
    let settings = h.get_all("http2-settings");
    req.method() != Method::CONNECT
        && no_body
        && !post_unframed
        && (h.contains_key(HOST) || req.uri().authority().is_some())
        && has_token(h, CONNECTION, b"upgrade")
        && has_token(h, CONNECTION, b"http2-settings")
        && settings.iter().next().is_some()
        && settings.iter().all(|v| settings_ok(v.as_bytes()))
}

/// The `101 Switching Protocols` lighttpd sends (`body`: an empty one).
pub fn switching<B>(body: B) -> Response<B> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let hm = r.headers_mut();
    hm.insert(CONNECTION, http::HeaderValue::from_static("Upgrade"));
    hm.insert(UPGRADE, http::HeaderValue::from_static("h2c"));
    r
}

/// HPACK integer with an `n`-bit prefix (RFC 7541 §5.1).
fn integer(out: &mut Vec<u8>, n: u32, first: u8, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// A literal header field without indexing, new name (RFC 7541 §6.2.2):
/// the decoder's dynamic table stays as the client's encoder expects.
fn literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0);
    integer(out, 7, 0, name.len());
    out.extend_from_slice(name);
    integer(out, 7, 0, value.len());
    out.extend_from_slice(value);
}

/// Header fields HTTP/2 does not carry (RFC 7540 §8.1.2.2), or carries as
/// pseudo-headers.
fn connection_specific(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "upgrade"
            | "http2-settings"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "host"
    )
}

/// The HEADERS (and CONTINUATION) frames of stream 1 for `req`, its body
/// ended.
pub fn stream1<B>(req: &Request<B>) -> Vec<u8> {
    let mut block = Vec::with_capacity(512);
    literal(&mut block, b":method", req.method().as_str().as_bytes());
    literal(&mut block, b":scheme", b"http");
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    literal(&mut block, b":path", path.as_bytes());
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().as_bytes())
        .or_else(|| req.headers().get(HOST).map(|v| v.as_bytes()));
    if let Some(a) = authority {
        literal(&mut block, b":authority", a);
    }
    for (name, value) in req.headers() {
        let n = name.as_str();
        if connection_specific(n) || (n == "te" && value.as_bytes() != b"trailers") {
            continue;
        }
        literal(&mut block, n.as_bytes(), value.as_bytes());
    }
    // (never empty: the pseudo-headers are always there)
    let mut out = Vec::with_capacity(block.len() + 2 * FRAME_HEAD);
    let last = (block.len() - 1) / MAX_FRAME;
    for (i, chunk) in block.chunks(MAX_FRAME).enumerate() {
        let (kind, mut flags) = if i == 0 {
            (HEADERS, END_STREAM)
        } else {
            (CONTINUATION, 0)
        };
        if i == last {
            flags |= END_HEADERS;
        }
        out.extend_from_slice(&(chunk.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&[kind, flags, 0, 0, 0, 1]);
        out.extend_from_slice(chunk);
    }
    out
}

/// Where the client's first frame ends, once its preface and that frame
/// have arrived: `Some(Some(end))`; `Some(None)` when the bytes are not a
/// preface and a SETTINGS frame (nothing is added; hyper refuses them);
/// `None` while more must come.
fn first_frame_end(buf: &[u8]) -> Option<Option<usize>> {
    let n = buf.len().min(PREFACE.len());
    if buf[..n] != PREFACE[..n] {
        return Some(None);
    }
    let head = buf.get(PREFACE.len()..PREFACE.len() + FRAME_HEAD)?;
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    if head[3] != SETTINGS || len > MAX_FRAME {
        return Some(None);
    }
    let end = PREFACE.len() + FRAME_HEAD + len;
    (buf.len() >= end).then_some(Some(end))
}

/// The upgraded connection as hyper's HTTP/2 server reads it: the
/// client's bytes with stream 1's frames after its first SETTINGS frame.
/// Writes go through unchanged.
#[derive(Debug)]
pub struct Inject<IO> {
    io: IO,
    /// Stream 1's frames, until they are placed.
    frames: Option<Vec<u8>>,
    /// Bytes read but not yet handed out.
    held: BytesMut,
}

impl<IO> Inject<IO> {
    pub fn new(io: IO, frames: Vec<u8>) -> Self {
        Inject {
            io,
            frames: Some(frames),
            held: BytesMut::new(),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Inject<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            // held bytes go out once stream 1 has its place among them
            let Some(frames) = this.frames.as_ref() else {
                if this.held.is_empty() {
                    return Pin::new(&mut this.io).poll_read(cx, buf);
                }
                super::gate::hand_out(&mut this.held, buf);
                if this.held.is_empty() {
                    // nothing kept once it is all handed out
                    this.held = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            };
            match first_frame_end(&this.held) {
                Some(end) => {
                    if let Some(end) = end {
                        let rest = this.held.split_off(end);
                        this.held.extend_from_slice(frames);
                        this.held.extend_from_slice(&rest);
                    }
                    this.frames = None;
                }
                None => {
                    let mut chunk = [0u8; 4096];
                    let mut rb = ReadBuf::new(&mut chunk);
                    ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?;
                    if rb.filled().is_empty() {
                        // the client went away before its preface
                        this.frames = None;
                    } else {
                        this.held.extend_from_slice(rb.filled());
                    }
                }
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Inject<IO> {
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

    fn req(lines: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().uri("/a?b").version(Version::HTTP_11);
        for (n, v) in lines {
            b = b.header(*n, *v);
        }
        b.body(()).expect("request")
    }

    const UPGRADING: &[(&str, &str)] = &[
        ("host", "example.org"),
        ("connection", "Upgrade, HTTP2-Settings"),
        ("upgrade", "h2c"),
        ("http2-settings", "AAMAAABkAAQAAP__"),
    ];

    #[test]
    fn which_requests_switch() {
        assert!(wanted(&req(UPGRADING)));
        let without = |name: &str| {
            let v: Vec<_> = UPGRADING
                .iter()
                .copied()
                .filter(|(n, _)| *n != name)
                .collect();
            wanted(&req(&v))
        };
        for name in ["host", "connection", "upgrade", "http2-settings"] {
            assert!(!without(name), "without {name}");
        }
        let with = |extra: (&'static str, &'static str)| {
            let mut v = UPGRADING.to_vec();
            v.retain(|(n, _)| *n != extra.0);
            v.push(extra);
            wanted(&req(&v))
        };
        assert!(with(("upgrade", "websocket, H2C")));
        assert!(!with(("connection", "Upgrade")));
        assert!(with(("content-length", "0")));
        let mut post = req(UPGRADING);
        *post.method_mut() = Method::POST;
        assert!(!wanted(&post), "a POST without a length gets 411");
        post.headers_mut()
            .insert(CONTENT_LENGTH, http::HeaderValue::from_static("0"));
        assert!(wanted(&post));
        assert!(!with(("content-length", "3")));
        assert!(!with(("transfer-encoding", "chunked")));
        for ok in [
            "AA",
            "AAMAAABkAAQAAP//",
            "AAMAAABkAAQAAP__=",
            "AAMAAABkAAQAAP_",
        ] {
            assert!(with(("http2-settings", ok)), "{ok}");
        }
        for bad in ["", "A", "!!!", "AA AA"] {
            assert!(!with(("http2-settings", bad)), "{bad:?}");
        }
        let mut r = req(UPGRADING);
        *r.version_mut() = Version::HTTP_10;
        assert!(!wanted(&r));
    }

    #[test]
    fn integers_with_a_prefix() {
        // RFC 7541 C.1.1-C.1.2
        let mut out = Vec::new();
        integer(&mut out, 5, 0, 10);
        assert_eq!(out, [10]);
        out.clear();
        integer(&mut out, 5, 0, 1337);
        assert_eq!(out, [31, 154, 10]);
        out.clear();
        integer(&mut out, 7, 0, 127);
        assert_eq!(out, [127, 0]);
    }

    #[test]
    fn stream_one_frames() {
        let f = stream1(&req(UPGRADING));
        let len = usize::from(f[0]) << 16 | usize::from(f[1]) << 8 | usize::from(f[2]);
        assert_eq!(len + FRAME_HEAD, f.len());
        assert_eq!(&f[3..9], &[HEADERS, END_STREAM | END_HEADERS, 0, 0, 0, 1]);
        let block = &f[FRAME_HEAD..];
        let has = |n: &[u8], v: &[u8]| {
            let mut want = Vec::new();
            literal(&mut want, n, v);
            block.windows(want.len()).any(|w| w == want.as_slice())
        };
        assert!(has(b":method", b"GET"));
        assert!(has(b":path", b"/a?b"));
        assert!(has(b":authority", b"example.org"));
        assert!(!has(b"upgrade", b"h2c") && !has(b"host", b"example.org"));
        // a block over one frame continues in CONTINUATION frames
        let big = "x".repeat(20_000);
        let mut r = req(UPGRADING);
        r.headers_mut()
            .insert("x-big", http::HeaderValue::from_str(&big).expect("value"));
        let f = stream1(&r);
        assert_eq!(&f[3..5], &[HEADERS, END_STREAM]);
        let second = FRAME_HEAD + MAX_FRAME;
        assert_eq!(&f[second + 3..second + 5], &[CONTINUATION, END_HEADERS]);
    }

    #[tokio::test]
    async fn frames_follow_the_first_settings() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let mut io = Inject::new(server, b"<stream 1>".to_vec());
        let settings = [0, 0, 6, SETTINGS, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        let window = [0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        // the preface in pieces, then the rest in one write
        client.write_all(&PREFACE[..10]).await.expect("write");
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 7];
            loop {
                let n = io.read(&mut buf).await.expect("read");
                if n == 0 {
                    return got;
                }
                got.extend_from_slice(&buf[..n]);
            }
        });
        client.write_all(&PREFACE[10..]).await.expect("write");
        let mut rest = settings.to_vec();
        rest.extend_from_slice(&window);
        client.write_all(&rest).await.expect("write");
        drop(client);
        let got = reader.await.expect("join");
        let mut want = PREFACE.to_vec();
        want.extend_from_slice(&settings);
        want.extend_from_slice(b"<stream 1>");
        want.extend_from_slice(&window);
        assert_eq!(got, want);
    }

    /// However the client's bytes are cut, stream 1 lands in one place.
    #[tokio::test]
    async fn placement_does_not_depend_on_cuts() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(&[0, 0, 6, SETTINGS, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]);
        input.extend_from_slice(&[0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        let at = PREFACE.len() + FRAME_HEAD + 6;
        let mut want = input[..at].to_vec();
        want.extend_from_slice(b"<1>");
        want.extend_from_slice(&input[at..]);
        for cut in 0..=input.len() {
            let (mut client, server) = tokio::io::duplex(1 << 16);
            let mut io = Inject::new(server, b"<1>".to_vec());
            client.write_all(&input[..cut]).await.expect("write");
            let reader = tokio::spawn(async move {
                let mut got = Vec::new();
                io.read_to_end(&mut got).await.expect("read");
                got
            });
            tokio::task::yield_now().await;
            client.write_all(&input[cut..]).await.expect("write");
            drop(client);
            assert_eq!(reader.await.expect("join"), want, "cut at {cut}");
        }
    }

    #[tokio::test]
    async fn not_a_preface_passes_unchanged() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let mut io = Inject::new(server, b"<stream 1>".to_vec());
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("write");
        drop(client);
        let mut got = Vec::new();
        io.read_to_end(&mut got).await.expect("read");
        assert_eq!(got, b"GET / HTTP/1.1\r\n\r\n");
    }
}
