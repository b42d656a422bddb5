//! mod_wstunnel: wick ends the WebSocket protocol and the backend gets
//! the raw bytes (spec wstunnel.md). Backends come from the shared
//! gateway manager (`wstunnel.server`, any host kind).
//!
//! ```text
//! client ──frames──▶ wick ──payload bytes──▶ backend
//!        ◀──frames── wick ◀──any bytes──────
//! ```
//!
//! | step | lighttpd 1.4.69 | wick |
//! |---|---|---|
//! | version not a number | 400 | 400 |
//! | origins set, no Origin | 400 | 400 |
//! | origin not allowed | 403 | 403 |
//! | backend unusable | 503, no 101 | 503, no 101 |
//! | no (or an empty) `Sec-WebSocket-Key` | 400 + close | 400 + close |
//! | version 1–7 | 503 + close | 503 + close |
//! | hybi-00 (version absent or 0) | broken challenge | 400 + close before connecting (as 1.4.83) |
//! | protocol | `binary` always with frame-type binary | only when offered (1.4.73+) |
//! | `base64` | echoed, not applied | applied both ways |
//! | frames | not validated | RFC 6455 (tungstenite): 1002/1007/1009 |
//! | close codes | ASCII "1000" | 2-byte 1000 (1001 idle, 1011 backend error) |
//! | backend EOF | TCP close, no close frame | close frame 1000, then TCP close |
//! | over HTTP/2 (RFC 8441) | 200, frames in the stream's DATA | the same |
//! | HTTP/2 client ends its stream | stream reset | backend EOF, its last bytes, end of stream |

pub mod config;
mod io;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bstr::ByteSlice;
use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use http::header::{CONNECTION, HeaderValue, UPGRADE};
use http::{Method, Response, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::backend::balance::BalanceInput;
use crate::backend::pool::{self, AcquireError, Stream, Want};
use crate::backend::{Extension, Registry};
use crate::modules::proxy::tunnel::take_over;
use crate::request::body::Body;
use crate::request::{ConnInfo, has_token};
use crate::routing::settings::Settings;
use crate::server::clock;
use io::{ClientIo, write_frame};

/// Largest message accepted from a client (memory bound per tunnel).
const MAX_MESSAGE: usize = 16 << 20;
/// Largest frame accepted from a client.
const MAX_FRAME: usize = 16 << 20;
/// Bytes read from the backend at a time (one frame each): a small
/// buffer while the backend sends little, a larger one after a read
/// filled the small one, the largest while reads fill that too (bulk
/// streams). The buffer is given back whenever the backend has nothing
/// to read, so a quiet tunnel holds none, whatever it carried before.
const READ_SIZE: usize = 256 << 10;
const READ_SIZE_MID: usize = 64 << 10;
const READ_SIZE_IDLE: usize = 4 << 10;
/// What the protocol layer reads from the client at a time. tungstenite
/// zero-fills this much before every read (twice for each message) and
/// keeps it for the life of the tunnel; its default (128 KiB) would cost
/// more than a whole idle lighttpd tunnel. Frames larger than this still
/// arrive whole, and [`ClientIo`] in front of it reads the socket in
/// larger gulps.
const CLIENT_READ: usize = 512;

/// A request mod_wstunnel looks at.
#[derive(Debug)]
pub struct WsRequest<'a> {
    /// The request head.
    pub parts: &'a mut http::request::Parts,
    /// The client connection.
    pub conn: &'a Arc<ConnInfo>,
    /// The client as this request sees it (mod_extforward may change it).
    pub peer: &'a crate::request::Peer,
    /// Settings in effect.
    pub settings: &'a Settings,
    /// The extension that matched.
    pub ext: &'a Arc<Extension>,
    /// The configuration's hosts.
    pub registry: &'a Registry,
    /// The request path (balancing input).
    pub path: &'a [u8],
}

/// Whether mod_wstunnel takes the request (§3): an HTTP/1.1 GET asking to
/// upgrade to `websocket`, or a WebSocket over HTTP/2 (RFC 8441's CONNECT
/// with `:protocol` `websocket`, which lighttpd 1.4.69 takes too). Others
/// fall through to the next handler.
pub fn wants(parts: &http::request::Parts) -> bool {
    (parts.version == Version::HTTP_11
        && parts.method == Method::GET
        && has_token(&parts.headers, UPGRADE, b"websocket")
        && has_token(&parts.headers, CONNECTION, b"upgrade"))
        || crate::request::websocket_connect(parts)
}

/// The sub-protocol answered and whether frames to the client are binary
/// and base64-coded (§6, as lighttpd 1.4.73+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Text,
    Binary,
    Base64,
}

/// The framing of a session and the sub-protocol answered, if any.
///
/// * `wstunnel.frame-type = "binary"`: binary frames; `binary` is
///   answered when the client offered it anywhere in its list (as
///   lighttpd does: 1.4.69 answers it always, 1.4.73+ only when offered),
///   nothing otherwise (an offer of `base64` alone does not switch a
///   binary site to text frames).
/// * text (the default): the first of `binary` and `base64` the client
///   offered decides; neither: text frames, no answer.
fn choose_framing(h: &http::HeaderMap, binary: bool) -> (Framing, Option<&'static str>) {
    let mut offered = h
        .get_all("sec-websocket-protocol")
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(|t| t.trim());
    if binary {
        let answer = offered
            .any(|t| t.eq_ignore_ascii_case(b"binary"))
            .then_some("binary");
        return (Framing::Binary, answer);
    }
    match offered.find(|t| t.eq_ignore_ascii_case(b"binary") || t.eq_ignore_ascii_case(b"base64")) {
        Some(t) if t.eq_ignore_ascii_case(b"binary") => (Framing::Binary, Some("binary")),
        Some(_) => (Framing::Base64, Some("base64")),
        None => (Framing::Text, None),
    }
}

/// The `Sec-WebSocket-Key` as lighttpd reads it: the values of all its
/// lines that are not empty, joined with `, ` (empty: no key).
fn websocket_key(h: &http::HeaderMap) -> Vec<u8> {
    let mut key = Vec::new();
    crate::request::hdr::join(h, "sec-websocket-key", b", ", &mut key);
    key
}

fn page(status: StatusCode, req: &WsRequest<'_>, close: bool) -> Response<Body> {
    let mut r = crate::request::error_page(status, false, req.settings);
    if close {
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// Handles a WebSocket upgrade request (checks in lighttpd's order, §4).
pub async fn handle(req: WsRequest<'_>) -> Response<Body> {
    let h = &req.parts.headers;
    let s = &req.settings.wstunnel;
    // 1. the version (absent: 0)
    let version = match h.get("sec-websocket-version") {
        None => 0,
        Some(v) => {
            let v = v.as_bytes().trim();
            let digits: Vec<u8> = v.iter().copied().take_while(u8::is_ascii_digit).collect();
            match std::str::from_utf8(&digits)
                .ok()
                .and_then(|d| d.parse::<u32>().ok())
            {
                Some(n) => n,
                None => return page(StatusCode::BAD_REQUEST, &req, false),
            }
        }
    };
    // hybi-00 (version 0, said or implied): refused before anything else,
    // as lighttpd 1.4.83 does (1.4.69 answers it with a challenge
    // computed in the wrong byte order).
    if version == 0 {
        let mut r = page(StatusCode::BAD_REQUEST, &req, true);
        r.headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("13"));
        return r;
    }
    // 2. the origin, when origins are configured
    if !s.origins.is_empty() {
        let origin = h.get("origin").or_else(|| h.get("sec-websocket-origin"));
        let Some(origin) = origin.filter(|o| !o.is_empty()) else {
            return page(StatusCode::BAD_REQUEST, &req, false);
        };
        if !config::origin_allowed(origin.as_bytes(), &s.origins) {
            return page(StatusCode::FORBIDDEN, &req, false);
        }
    }
    // 3. the backend: connected before any 101
    let want = Want {
        balance: s.balance,
        input: BalanceInput {
            path: req.path,
            authority: h.get(http::header::HOST).map_or(&b""[..], |v| v.as_bytes()),
            client: &req.peer.remote_text,
        },
        reuse: false,
        debug: s.debug,
    };
    let (conn, host) = match pool::acquire(req.ext, req.registry, &want).await {
        Ok(x) => x,
        Err(AcquireError::Unavailable { .. }) => {
            req.ext.report_down(req.path, None);
            return page(StatusCode::SERVICE_UNAVAILABLE, &req, false);
        }
    };
    // 4. the key (RFC 6455 versions)
    if version < 8 {
        return page(StatusCode::SERVICE_UNAVAILABLE, &req, true);
    }
    // (over HTTP/2 there is no key: the stream's 200 is the switch)
    let h2 = req.parts.version == Version::HTTP_2;
    let key = websocket_key(h);
    if key.is_empty() && !h2 {
        return page(StatusCode::BAD_REQUEST, &req, true);
    }
    let (framing, protocol) = choose_framing(h, s.binary);
    if s.debug > 0 {
        tracing::info!(
            "wstunnel: {} → {} ({framing:?})",
            req.path.as_bstr(),
            conn.proc.addr.describe()
        );
    }
    let limits = Limits {
        read_idle: Duration::from_secs(u64::from(req.settings.max_read_idle)),
        write_stall: write_stall(req.settings.max_read_idle, req.settings.max_write_idle),
        ping: (s.ping_interval > 0).then(|| Duration::from_secs(u64::from(s.ping_interval))),
    };
    let session = move |client, stream| tunnel(client, stream, framing, limits);
    let Some(taken) = take_over(req.parts, req.conn, conn, host, session) else {
        return page(StatusCode::BAD_GATEWAY, &req, false);
    };

    // (the headers in lighttpd's order: Upgrade, Sec-WebSocket-Accept,
    // Sec-WebSocket-Protocol, Connection, Date)
    let mut r = Response::new(Body::empty());
    if !h2 {
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    }
    let hm = r.headers_mut();
    if !h2 {
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
        hm.insert(UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            hm.insert("sec-websocket-accept", v);
        }
    }
    if let Some(p) = protocol {
        hm.insert("sec-websocket-protocol", HeaderValue::from_static(p));
    }
    if !h2 {
        hm.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    }
    // Date before Server, as lighttpd writes the 101 (hyper would add
    // Date after everything else).
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())) {
        hm.insert(http::header::DATE, v);
    }
    taken.mark(&mut r);
    r
}

/// The timers of one tunnel.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// No bytes from the client for this long ends the tunnel.
    read_idle: Duration,
    /// A write (to the client or the backend) that makes no progress
    /// for this long ends the tunnel (the client is not read meanwhile).
    write_stall: Duration,
    /// Send a ping this often.
    ping: Option<Duration>,
}

/// How long a write to the client may make no progress: lighttpd's
/// `server.max-write-idle` (0: 360 s), but no longer than
/// `server.max-read-idle` (when set), since a client is not read while a
/// write to it waits, and a client that neither reads nor sends is what
/// max-read-idle ends.
fn write_stall(max_read_idle: u32, max_write_idle: u32) -> Duration {
    let write = if max_write_idle == 0 {
        360
    } else {
        max_write_idle
    };
    let limit = if max_read_idle == 0 {
        write
    } else {
        write.min(max_read_idle)
    };
    Duration::from_secs(u64::from(limit))
}

fn close_frame(code: CloseCode) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: "".into(),
    }))
}

/// The close code for a client's protocol failure.
fn failure_code(e: &tokio_tungstenite::tungstenite::Error) -> Option<CloseCode> {
    use tokio_tungstenite::tungstenite::Error as E;
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    match e {
        // The client closed (or half-closed) its TCP side: not a protocol
        // failure; what the backend still sends is delivered if it can be.
        E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        E::Protocol(_) => Some(CloseCode::Protocol),
        E::Utf8(_) => Some(CloseCode::Invalid),
        E::Capacity(_) => Some(CloseCode::Size),
        _ => None,
    }
}

/// Relays one WebSocket session to a backend byte stream.
async fn tunnel<C>(client: C, mut backend: Stream, framing: Framing, limits: Limits)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let cfg = WebSocketConfig::default()
        .read_buffer_size(CLIENT_READ)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_FRAME));
    let ws = WebSocketStream::from_raw_socket(ClientIo::new(client), Role::Server, Some(cfg)).await;
    // Polled only when the client's socket woke it (or it may hold a
    // message already read), not at every wakeup the backend causes.
    let mut ws = crate::server::timers::Gated::new(ws);
    // Taken only while the backend has something to read, so that an
    // idle tunnel holds no buffer.
    let mut buf = BytesMut::new();
    let mut want = READ_SIZE_IDLE;
    let mut ping = limits
        .ping
        .map(|d| tokio::time::interval_at(Instant::now() + d, d));
    let mut drain = false;
    // Our data frames bypass the protocol layer, so nothing it wrote may
    // be left half sent before one. Its pings and closes are flushed at
    // once or end the session; only a pong whose flush did not finish can
    // be left, and then `owed` says so (a flush before every frame cost a
    // fifteenth of the work of a small message).
    let mut owed = false;
    // One timer for the whole session, re-armed only when it fires (not
    // per message).
    let idle = tokio::time::sleep(limits.read_idle);
    tokio::pin!(idle);
    // (polled when it fires, not at each wakeup of the tunnel)
    let mut idle = crate::server::timers::Gated::new(idle);
    loop {
        tokio::select! {
            m = ws.next() => {
                match m {
                    Some(Ok(msg)) => {
                        let data = match msg {
                            Message::Binary(b) => b,
                            Message::Text(t) if framing == Framing::Base64 => {
                                match base64::engine::general_purpose::STANDARD.decode(t.as_bytes()) {
                                    Ok(d) => Bytes::from(d),
                                    Err(_) => {
                                        within(limits.write_stall, ws.inner_mut().send(close_frame(CloseCode::Invalid))).await;
                                        break;
                                    }
                                }
                            }
                            Message::Text(t) => Bytes::from(t),
                            Message::Close(_) => {
                                // The protocol layer answers the close
                                // (echoing the client's code); the
                                // backend sees EOF and the session ends
                                // without waiting for the backend.
                                let _ = backend.shutdown().await;
                                within(limits.write_stall, ws.inner_mut().flush()).await;
                                break;
                            }
                            // Pings are answered by the protocol layer;
                            // a reply it could not finish is finished
                            // before the next frame of ours.
                            _ => {
                                owed = !within(limits.write_stall, ws.inner_mut().flush()).await;
                                continue;
                            }
                        };
                        if !data.is_empty() && io::write_all(&mut backend, &data, limits.write_stall).await.is_err() {
                            within(limits.write_stall, ws.inner_mut().send(close_frame(CloseCode::Error))).await;
                            break;
                        }
                    }
                    Some(Err(e)) => {
                        let _ = backend.shutdown().await;
                        if let Some(code) = failure_code(&e) {
                            within(limits.write_stall, ws.inner_mut().send(close_frame(code))).await;
                            break;
                        }
                        // The client closed (or half-closed) its side.
                        drain = true;
                        break;
                    }
                    None => {
                        let _ = backend.shutdown().await;
                        drain = true;
                        break;
                    }
                }
            }
            r = std::future::poll_fn(|cx| read_backend(&mut backend, &mut buf, want, cx)) => match r {
                Ok(0) => {
                    within(limits.write_stall, ws.inner_mut().send(close_frame(CloseCode::Normal))).await;
                    break;
                }
                Ok(n) => {
                    want = next_read_size(want, n);
                    // A control frame the protocol layer still holds (a
                    // pong) goes out first: our frames bypass it.
                    if owed {
                        if !within(limits.write_stall, ws.inner_mut().flush()).await {
                            break;
                        }
                        owed = false;
                    }
                    if send_data(ws.inner_mut().get_mut(), &buf, framing, limits.write_stall).await.is_err() {
                        break;
                    }
                    buf.clear();
                }
                Err(_) => {
                    within(limits.write_stall, ws.inner_mut().send(close_frame(CloseCode::Error))).await;
                    break;
                }
            },
            _ = async { match ping.as_mut() { Some(p) => { p.tick().await; } None => std::future::pending().await } } => {
                if !within(limits.write_stall, ws.inner_mut().send(Message::Ping(Bytes::from_static(b"ping")))).await {
                    break;
                }
            }
            _ = &mut idle => {
                // Any bytes from the client count, not only whole
                // messages ([`ClientIo`] notes them as it reads).
                let last_client = ws.inner_mut().get_ref().last_read();
                let at = clock::instant(last_client) + limits.read_idle;
                if Instant::now() >= at {
                    within(limits.write_stall, ws.inner_mut().send(close_frame(CloseCode::Away))).await;
                    break;
                }
                idle.rearm().as_mut().reset(at);
            }
        }
    }
    let _ = backend.shutdown().await;
    if drain {
        // The protocol layer refuses to write once the client's side has
        // ended, but a half-closed client still reads: hand it what the
        // backend sends until the backend ends too (lighttpd does).
        let mut io = ws.into_inner().into_inner();
        buf.clear();
        buf.reserve(READ_SIZE);
        while let Ok(Ok(n)) =
            tokio::time::timeout(limits.read_idle, backend.read_buf(&mut buf)).await
        {
            if n == 0
                || send_data(&mut io, &buf, framing, limits.write_stall)
                    .await
                    .is_err()
            {
                break;
            }
            buf.clear();
        }
        let _ = io.shutdown().await;
        return;
    }
    within(limits.write_stall, SinkExt::close(ws.inner_mut())).await;
}

thread_local! {
    /// A backend read buffer no tunnel of this thread holds. A tunnel takes
    /// it when its backend has something to read and gives it back once it
    /// waits again: busy tunnels do not allocate a buffer per read, idle
    /// ones hold none, and a thread keeps one at most.
    static SPARE: std::cell::Cell<Option<BytesMut>> = const { std::cell::Cell::new(None) };
}

/// Gives `buf` (empty) to this thread's spare, leaving `buf` without
/// memory; the larger of it and a spare already there is kept.
fn give_back(buf: &mut BytesMut) {
    let b = std::mem::take(buf);
    SPARE.with(|s| {
        let keep = match s.take() {
            Some(old) if old.capacity() >= b.capacity() => old,
            _ => b,
        };
        s.set(Some(keep));
    });
}

/// Reads what the backend has into `buf`, taking `want` bytes of room
/// only once the backend is readable: an idle tunnel holds no buffer
/// (it goes to the thread's [`SPARE`] while the tunnel waits).
/// A read that does not fill the room tells the runtime the socket is
/// drained, so the next wait does not start with a futile `recv`.
fn read_backend(
    backend: &mut Stream,
    buf: &mut BytesMut,
    want: usize,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<std::io::Result<usize>> {
    if backend.poll_read_ready(cx)?.is_pending() {
        if buf.is_empty() && buf.capacity() > 0 {
            give_back(buf);
        }
        return std::task::Poll::Pending;
    }
    if buf.capacity() == 0 {
        if let Some(spare) = SPARE.with(std::cell::Cell::take) {
            *buf = spare;
        }
    }
    buf.reserve(want);
    let r = tokio_util::io::poll_read_buf(std::pin::Pin::new(backend), cx, buf);
    if r.is_pending() && buf.is_empty() {
        give_back(buf);
    }
    r
}

/// The next backend read size after a read of `n` bytes into `want`.
fn next_read_size(want: usize, n: usize) -> usize {
    if n < READ_SIZE_IDLE {
        READ_SIZE_IDLE
    } else if n >= want && want >= READ_SIZE_MID {
        READ_SIZE
    } else {
        READ_SIZE_MID
    }
}

/// Runs `fut` for at most `limit`: true when it finished and succeeded.
/// Every write of a tunnel is bounded so that a peer that stops reading
/// cannot hold the tunnel (and its timers) forever.
async fn within<T, E>(
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> bool {
    matches!(
        crate::server::timers::timeout_unless_ready(limit, fut).await,
        Ok(Ok(_))
    )
}

/// Sends `data` from the backend to the client as one frame.
async fn send_data<W>(
    io: &mut W,
    data: &[u8],
    framing: Framing,
    stall: Duration,
) -> std::io::Result<()>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    match framing {
        Framing::Binary => write_frame(io, OpCode::Data(Data::Binary), data, stall).await,
        Framing::Base64 => {
            let text = base64::engine::general_purpose::STANDARD.encode(data);
            write_frame(io, OpCode::Data(Data::Text), text.as_bytes(), stall).await
        }
        // lighttpd sends the bytes as they are, valid UTF-8 or not.
        Framing::Text => write_frame(io, OpCode::Data(Data::Text), data, stall).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(protocol: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(protocol).expect("value"),
        );
        h
    }

    /// A backend's end (`.0`, the test's) and the tunnel's end of one
    /// loopback TCP connection.
    async fn backend_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let peer = tokio::net::TcpStream::connect(l.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (s, _) = l.accept().await.expect("accept");
        (peer, s)
    }

    #[tokio::test]
    async fn a_drained_backend_leaves_no_read_buffer() {
        use tokio::io::AsyncWriteExt as _;
        let (mut peer, s) = backend_pair().await;
        let mut backend = Stream::Tcp(s);
        let mut buf = BytesMut::new();
        peer.write_all(&[5u8; 10_000]).await.expect("write");
        let mut got = 0;
        while got < 10_000 {
            got +=
                std::future::poll_fn(|cx| read_backend(&mut backend, &mut buf, READ_SIZE_MID, cx))
                    .await
                    .expect("read");
            assert!(buf.capacity() >= READ_SIZE_MID);
            buf.clear();
        }
        // nothing more to read: the wait gives the buffer back
        let waited = tokio::time::timeout(
            Duration::from_millis(50),
            std::future::poll_fn(|cx| read_backend(&mut backend, &mut buf, READ_SIZE_MID, cx)),
        )
        .await;
        assert!(waited.is_err());
        assert_eq!(buf.capacity(), 0);
        // the next read, of this tunnel or another on the thread, takes
        // the same memory again instead of allocating
        let spare = SPARE.with(|s| {
            let b = s.take();
            let at = b.as_ref().map(|b| (b.as_ptr(), b.capacity()));
            s.set(b);
            at
        });
        let (at, capacity) = spare.expect("the buffer went to the spare");
        assert!(capacity >= READ_SIZE_MID);
        peer.write_all(b"more").await.expect("write");
        let mut other = BytesMut::new();
        let n =
            std::future::poll_fn(|cx| read_backend(&mut backend, &mut other, READ_SIZE_IDLE, cx))
                .await
                .expect("read");
        assert_eq!(&other[..n], b"more");
        assert_eq!(other.as_ptr(), at);
        assert!(SPARE.with(|s| s.take()).is_none(), "taken");
    }

    /// A pong the client does not take at once (its socket full) is left
    /// half written in the protocol layer when the flush gives up; the
    /// next frame from the backend waits until the pong is complete, so
    /// the client reads two whole frames, not one cut by the other.
    #[tokio::test(start_paused = true)]
    async fn a_half_sent_pong_is_finished_before_backend_data() {
        use tokio::io::AsyncWriteExt as _;
        let (mut peer, s) = backend_pair().await;
        // the client's socket takes 8 bytes until they are read
        let (client, mut user) = tokio::io::duplex(8);
        let limits = Limits {
            read_idle: Duration::from_secs(60),
            write_stall: Duration::from_millis(200),
            ping: None,
        };
        let t = tokio::spawn(tunnel(client, Stream::Tcp(s), Framing::Binary, limits));
        // a masked ping (zero mask) with 10 bytes: its pong is 12 bytes
        let mut ping = vec![0x89, 0x80 | 10, 0, 0, 0, 0];
        ping.extend_from_slice(b"0123456789");
        user.write_all(&ping).await.expect("ping");
        // the pong's flush waits for the client, then gives up
        tokio::time::sleep(Duration::from_millis(500)).await;
        peer.write_all(b"data").await.expect("backend");
        let mut want = vec![0x8a, 10];
        want.extend_from_slice(b"0123456789");
        want.extend_from_slice(&[0x82, 4]);
        want.extend_from_slice(b"data");
        let mut got = vec![0u8; want.len()];
        tokio::time::timeout(Duration::from_secs(5), user.read_exact(&mut got))
            .await
            .expect("both frames in time")
            .expect("read");
        assert_eq!(got, want);
        drop(user);
        drop(peer);
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }

    #[test]
    fn the_spare_keeps_the_larger_buffer() {
        let mut small = BytesMut::with_capacity(100);
        let mut large = BytesMut::with_capacity(10_000);
        give_back(&mut small);
        give_back(&mut large);
        let mut small = BytesMut::with_capacity(100);
        give_back(&mut small);
        assert_eq!(small.capacity(), 0);
        let kept = SPARE.with(|s| s.take()).expect("spare");
        assert!(kept.capacity() >= 10_000);
    }

    #[test]
    fn backend_reads_grow_with_the_traffic_and_shrink_with_it() {
        let mut want = READ_SIZE_IDLE;
        let mut seen = Vec::new();
        // a keystroke, then a bulk stream that fills every read, then a
        // medium burst, then quiet again
        for n in [10, 4096, 65_536, 262_144, 262_144, 100_000, 300] {
            seen.push(want);
            want = next_read_size(want, n.min(want));
        }
        seen.push(want);
        let k = 1024;
        assert_eq!(
            seen,
            [
                4 * k,
                4 * k,
                64 * k,
                256 * k,
                256 * k,
                256 * k,
                64 * k,
                4 * k
            ]
        );
    }

    #[test]
    fn protocol_choice_follows_lighttpd_1_4_73() {
        for (offer, binary, want) in [
            ("binary, base64", false, (Framing::Binary, Some("binary"))),
            ("base64, binary", false, (Framing::Base64, Some("base64"))),
            ("BINARY", false, (Framing::Binary, Some("binary"))),
            ("chat", false, (Framing::Text, None)),
            ("binaryx", false, (Framing::Text, None)),
            (" , ,base64", false, (Framing::Base64, Some("base64"))),
            ("chat", true, (Framing::Binary, None)),
            ("binary", true, (Framing::Binary, Some("binary"))),
            // frame-type binary: `binary` anywhere in the offer is answered
            ("base64, binary", true, (Framing::Binary, Some("binary"))),
            ("chat, BINARY", true, (Framing::Binary, Some("binary"))),
            ("base64", true, (Framing::Binary, None)),
        ] {
            assert_eq!(
                choose_framing(&headers(offer), binary),
                want,
                "{offer} {binary}"
            );
        }
        assert_eq!(
            choose_framing(&http::HeaderMap::new(), true),
            (Framing::Binary, None)
        );
        // an offer over two lines is one list
        let mut h = headers("base64");
        h.append("sec-websocket-protocol", HeaderValue::from_static("binary"));
        assert_eq!(choose_framing(&h, true), (Framing::Binary, Some("binary")));
        assert_eq!(choose_framing(&h, false), (Framing::Base64, Some("base64")));
    }

    #[test]
    fn the_key_is_every_non_empty_line_joined() {
        let key = |lines: &[&str]| {
            let mut h = http::HeaderMap::new();
            for l in lines {
                h.append(
                    "sec-websocket-key",
                    HeaderValue::from_str(l).expect("value"),
                );
            }
            websocket_key(&h)
        };
        assert_eq!(key(&[]), b"");
        assert_eq!(key(&[""]), b"");
        assert_eq!(key(&["", "k1"]), b"k1");
        assert_eq!(key(&["k1", ""]), b"k1");
        assert_eq!(key(&["k1", "k2"]), b"k1, k2");
    }
}
