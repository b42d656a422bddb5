//! mod_proxy: HTTP reverse proxying to the backends of `proxy.server`
//! (spec proxy.md; lighttpd: `mod_proxy.c`, `http-header-glue.c`).
//!
//! ```text
//! request ─► body: buffer (stream-request-body 0) │ stream (1, 2)
//!         ─► backend::pool::acquire (balance, retries, keep-alive pool)
//!         ─► upstream head (upstream.rs) + body ─► backend
//!         ◄─ head (response.rs: 1xx skipped, 502 on garbage)
//!         ◄─ body: buffer (stream-response-body 0: Content-Length, Range)
//!                  │ stream (1, 2: the backend is read as the client takes it)
//!                  │ 101 + proxy.header "upgrade": tunnel (tunnel.rs)
//! ```
//!
//! | failure | client gets |
//! |---|---|
//! | no usable backend, connects failed or timed out | 503 (connection kept) |
//! | backend closed or reset before any response byte | 500 |
//! | invalid status line or head, bad Content-Length, head > 64 KiB | 502 |
//! | read-/write-timeout before the response is sent | 504 |
//! | body cut short, buffered mode | 502 |
//! | body cut short or timeout while streaming | the client connection is closed |
//!
//! Upstream connections are kept alive and reused (per worker thread) unless
//! `server.feature-flags` has `"proxy.upstream-keep-alive" => "disable"`;
//! then every request carries `Connection: close` as in lighttpd.

pub mod config;
pub mod remap;
pub mod response;
pub mod tunnel;
pub mod upstream;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bstr::ByteSlice;
use bytes::{Bytes, BytesMut};
use http::header::{
    ACCEPT_RANGES, CONNECTION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderName,
    HeaderValue, IF_RANGE, RANGE, TRANSFER_ENCODING,
};
use http::{Method, Response, StatusCode, Version};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWriteExt};

use crate::backend::balance::BalanceInput;
use crate::backend::pool::{self, AcquireError, Conn, HostGuard, Want, WriteSide};
use crate::backend::{Extension, Registry};
use crate::request::body::Body;
use crate::request::spool::{self, Frozen, Spool, SpoolConfig};
use crate::request::target::Target;
use crate::request::{ConnInfo, hdr};
use crate::routing::{Client, Settings};
use crate::server::sendfile::{FileBody, FileSends, Piece};
use remap::{RequestRemap, ResponseRemap};
use response::{BodyReader, Framing as RespFraming, Head, HeadError, Io, SplitHold, UpstreamBody};
use upstream::{Framing, HeadInput};

/// Request bodies up to this size are written together with the head.
const COALESCE: usize = 16 * 1024;

/// What a proxied request needs from the core.
#[derive(Debug)]
pub struct ProxyRequest<'a> {
    /// The request head.
    pub parts: &'a mut http::request::Parts,
    /// The normalised target.
    pub target: &'a Target,
    /// The normalised client Host (empty: none).
    pub host: &'a [u8],
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
    /// The stat cache (X-Sendfile, error handlers).
    pub files: &'a crate::modules::filecache::FileCache,
    /// What the modules do with a directory (an error handler's page).
    pub dir_steps: &'a [crate::modules::staticfile::DirStep],
}

/// A failure that ends in a status page.
fn page(status: StatusCode, req: &ProxyRequest<'_>) -> Response<Body> {
    crate::request::error_page(status, req.parts.method == Method::HEAD, req.settings)
}

/// How the request body travels.
enum ReqBody<B> {
    /// None.
    Empty,
    /// Read completely before the backend is contacted.
    Buffered(Buffered),
    /// Streamed as it arrives.
    Stream(B, Framing),
}

/// A completely read body: in memory, or in memory and temp files.
#[derive(Debug)]
enum Buffered {
    Mem(Bytes),
    File(Arc<Frozen>),
}

impl Buffered {
    fn len(&self) -> u64 {
        match self {
            Buffered::Mem(b) => b.len() as u64,
            Buffered::File(f) => f.len(),
        }
    }

    fn from_spool(s: Spool) -> Buffered {
        match s.into_bytes() {
            Ok(b) => Buffered::Mem(b),
            Err(s) => Buffered::File(s.freeze()),
        }
    }

    /// The bytes `[a, b]` as a body (see [`spooled`]).
    fn range(&self, a: u64, b: u64, sends: Option<&Arc<FileSends>>) -> Body {
        match self {
            Buffered::Mem(m) => Body::full(m.slice(a as usize..=b as usize)),
            Buffered::File(f) => spooled(f, a, b + 1, sends),
        }
    }

    /// The whole body (see [`spooled`]).
    fn body(self, sends: Option<&Arc<FileSends>>) -> Body {
        match self {
            Buffered::Mem(m) => Body::full(m),
            Buffered::File(f) => spooled(&f, 0, f.len(), sends),
        }
    }
}

/// Bytes `[start, end)` of a body in memory and temp files: the temp-file
/// parts go out with `sendfile(2)` when the client's connection sends
/// files (`sends`), else they are read.
fn spooled(f: &Arc<Frozen>, start: u64, end: u64, sends: Option<&Arc<FileSends>>) -> Body {
    match sends {
        Some(s) => Body::File(Box::new(FileBody::of(s.clone(), f.pieces(start, end)))),
        None => Body::Spooled(f.reader(start, end)),
    }
}

/// Where a request's buffered bodies go beyond memory.
fn spool_config(s: &Settings) -> SpoolConfig {
    SpoolConfig {
        dirs: s.upload_dirs.clone(),
        mem_limit: spool::DEFAULT_MEM_LIMIT,
        file_size: s.upload_temp_file_size,
    }
}

/// Why an exchange with a backend failed.
#[derive(Debug)]
enum Failure {
    /// Closed or reset before any response byte.
    NoResponse { write_failed: bool },
    /// Invalid response head.
    Invalid(HeadError),
    /// read-timeout / write-timeout.
    Timeout,
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::NoResponse { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Failure::Invalid(_) => StatusCode::BAD_GATEWAY,
            Failure::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

fn secs(n: u32) -> Option<Duration> {
    (n > 0).then(|| Duration::from_secs(u64::from(n)))
}

async fn with_timeout<T>(
    t: Option<Duration>,
    f: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match t {
        Some(t) => tokio::time::timeout(t, f)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "timeout"))),
        None => f.await,
    }
}

/// Reads until a final response head (1xx other than 101 skipped).
async fn read_head<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    read_timeout: Option<Duration>,
    head_request: bool,
    remap: Option<&ResponseRemap<'_>>,
) -> Result<Head, Failure> {
    let mut got_any = false;
    loop {
        if !buf.is_empty() {
            match response::parse(buf, head_request, remap) {
                Ok(Some(head)) => {
                    if head.status.is_informational()
                        && head.status != StatusCode::SWITCHING_PROTOCOLS
                    {
                        continue;
                    }
                    return Ok(head);
                }
                Ok(None) => {}
                Err(e) => return Err(Failure::Invalid(e)),
            }
        }
        if buf.capacity() - buf.len() < 2048 {
            buf.reserve(8 * 1024);
        }
        let n = with_timeout(read_timeout, tokio_util::io::read_buf(rd, buf)).await;
        match n {
            Ok(0) | Err(_) if !got_any && buf.is_empty() => {
                if let Err(e) = &n {
                    if e.kind() == io::ErrorKind::TimedOut {
                        return Err(Failure::Timeout);
                    }
                }
                return Err(Failure::NoResponse {
                    write_failed: false,
                });
            }
            Ok(0) => return Err(Failure::Invalid(HeadError::Invalid)),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(Failure::Timeout),
            Err(_) => return Err(Failure::Invalid(HeadError::Invalid)),
            Ok(_) => got_any = true,
        }
    }
}

/// Writes a buffered body with a write timeout per write; its temp-file
/// parts go out with `sendfile(2)`.
async fn write_body(
    wr: &mut WriteSide<'_>,
    body: &Buffered,
    write_timeout: Option<Duration>,
) -> io::Result<()> {
    match body {
        Buffered::Mem(b) => with_timeout(write_timeout, wr.write_all(b)).await,
        Buffered::File(f) => {
            for piece in f.pieces(0, f.len()) {
                match piece {
                    Piece::Bytes(b) => with_timeout(write_timeout, wr.write_all(&b)).await?,
                    Piece::File { file, offset, len } => {
                        let mut sent = 0;
                        while sent < len {
                            let left = usize::try_from(len - sent).unwrap_or(usize::MAX);
                            let send = std::future::poll_fn(|cx| {
                                pool::poll_send_file(wr, cx, &file, offset + sent, left)
                            });
                            sent += with_timeout(write_timeout, send).await? as u64;
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

/// Sends a buffered request and reads the response head. Large bodies
/// are written while the head is awaited, so a backend that answers early
/// without reading everything does not stall the exchange.
async fn exchange_buffered(
    conn: &mut Conn,
    head: &[u8],
    body: Option<&Buffered>,
    buf: &mut BytesMut,
    t: &Timeouts,
    head_request: bool,
    remap: Option<&ResponseRemap<'_>>,
) -> Result<(Head, bool), Failure> {
    let write_failed = |e: io::Error| {
        if e.kind() == io::ErrorKind::TimedOut {
            Failure::Timeout
        } else {
            Failure::NoResponse { write_failed: true }
        }
    };
    let small = match body {
        None => Some(&b""[..]),
        Some(Buffered::Mem(m)) if m.len() <= COALESCE => Some(&m[..]),
        Some(_) => None,
    };
    if let Some(small) = small {
        let r = if small.is_empty() {
            with_timeout(t.write, conn.stream.write_all(head)).await
        } else {
            let mut one = Vec::with_capacity(head.len() + small.len());
            one.extend_from_slice(head);
            one.extend_from_slice(small);
            with_timeout(t.write, conn.stream.write_all(&one)).await
        };
        r.map_err(write_failed)?;
        let h = read_head(&mut conn.stream, buf, t.read, head_request, remap).await?;
        return Ok((h, true));
    }
    let Some(body) = body else {
        return Err(Failure::NoResponse {
            write_failed: false,
        });
    };
    with_timeout(t.write, conn.stream.write_all(head))
        .await
        .map_err(write_failed)?;
    let (mut rd, mut wr) = conn.stream.halves();
    let write = write_body(&mut wr, body, t.write);
    let read = read_head(&mut rd, buf, t.read, head_request, remap);
    tokio::pin!(write, read);
    let mut written = false;
    loop {
        tokio::select! {
            w = &mut write, if !written => {
                w.map_err(write_failed)?;
                written = true;
            }
            h = &mut read => return h.map(|h| (h, written)),
        }
    }
}

/// An upstream head, what it says, and what the response-side remapping
/// must remember of the request-side one.
type BuiltHead = (
    Vec<u8>,
    upstream::HeadInfo,
    Option<(Vec<u8>, Option<usize>)>,
);

/// Per-host timeouts.
struct Timeouts {
    read: Option<Duration>,
    write: Option<Duration>,
}

/// Proxies one request.
pub async fn handle<B>(mut req: ProxyRequest<'_>, body: B) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let s = req.settings;
    let px = &s.proxy;
    let method = req.parts.method.clone();
    let version = req.parts.version;
    let head_request = method == Method::HEAD;
    // WebSocket over HTTP/2 (RFC 8441): upstream, an HTTP/1.1 upgrade
    let websocket = crate::request::websocket_connect(req.parts);
    if websocket && !px.header.upgrade {
        return page(StatusCode::METHOD_NOT_ALLOWED, &req);
    }
    if method == Method::CONNECT && !websocket {
        if !px.header.connect {
            return page(StatusCode::METHOD_NOT_ALLOWED, &req);
        }
        return tunnel::connect(&mut req).await;
    }
    let force10 = px.force_http10();

    // 1. the request body
    let content_length = crate::request::content_length(&req.parts.headers);
    let chunked = hdr::contains(&req.parts.headers, &TRANSFER_ENCODING);
    // (what follows an extended CONNECT's head is the tunnel's)
    let unknown_len = content_length.is_none()
        && !websocket
        && (chunked || (version == Version::HTTP_2 && !body.is_end_stream()));
    let has_body = content_length.unwrap_or(0) > 0 || unknown_len;
    let limit = u64::from(s.max_request_size_kib) * 1024;
    let req_body = if !has_body {
        ReqBody::Empty
    } else if s.stream_request_body & 3 == 0 {
        match collect(body, limit, &spool_config(s)).await {
            Ok(b) => ReqBody::Buffered(b),
            Err(status) => return crate::request::refuse_page(status, head_request, s),
        }
    } else if unknown_len {
        if force10 {
            return page(StatusCode::LENGTH_REQUIRED, &req);
        }
        ReqBody::Stream(body, Framing::Chunked)
    } else {
        ReqBody::Stream(body, Framing::Length(content_length.unwrap_or(0)))
    };
    let framing = match &req_body {
        ReqBody::Empty => Framing::None,
        ReqBody::Buffered(b) => Framing::Length(b.len()),
        ReqBody::Stream(_, f) => *f,
    };

    // 2. what the upstream head is made of
    // lighttpd's mod_proxy forwards the connection's address even when
    // mod_extforward found another client; the scheme is the request's.
    let client_text = &req.conn.peer.remote_text;
    let https = req.peer.scheme == b"https";
    let mut rq_remap = RequestRemap::new(&px.header, req.host, https);
    let target_uri = req.target.uri();
    let target_up = match rq_remap.as_mut() {
        Some(r) => r.target(&target_uri),
        None => target_uri,
    };
    let (client_ip, client_unix): (&[u8], bool) = match &req.conn.peer.client {
        Client::Ip(_) => (client_text, false),
        Client::Unix(p) => (p, true),
    };
    let by = &req.conn.by;
    // (mod_extforward's client is the request's own peer)
    let extforwarded = !std::ptr::eq(req.peer, &req.conn.peer);
    let mut build_head = |label: &[u8]| -> BuiltHead {
        let host_line = if px.replace_http_host && !label.is_empty() {
            Some(label.to_vec())
        } else if req.host.is_empty() {
            None
        } else {
            Some(match rq_remap.as_mut() {
                Some(r) => r.host(req.host),
                None => req.host.to_vec(),
            })
        };
        let mut head = Vec::with_capacity(512);
        let info = upstream::build(
            &HeadInput {
                method: &method,
                version,
                headers: &req.parts.headers,
                target: &target_up,
                host: host_line.as_deref(),
                client_host: req.host,
                client_ip,
                client_unix,
                scheme: req.peer.scheme,
                hop_scheme: extforwarded.then_some(req.conn.peer.scheme),
                by,
                forwarded: px.forwarded,
                framing,
                force_http10: force10,
                upgrade: px.header.upgrade,
                websocket,
                keep_alive: px.upstream_keep_alive,
                title_case: version != Version::HTTP_2,
                remap: rq_remap.as_ref(),
            },
            &mut head,
        );
        let remembered = rq_remap.as_ref().map(RequestRemap::remembered);
        (head, info, remembered)
    };

    // 3. a backend, and the exchange (retried once on a fresh connection
    //    when a reused one turns out to be closed)
    let reuse = px.upstream_keep_alive && !force10;
    let want = Want {
        balance: px.balance,
        input: BalanceInput {
            path: &req.target.path,
            authority: req.host,
            client: client_text,
        },
        reuse,
        debug: px.debug,
    };
    let read_size = read_size(s.stream_response_body);
    let buffered_body = match req_body {
        ReqBody::Stream(mut b, f) => {
            let (conn, host) = match acquire(&req, &want, Some(&mut b)).await {
                Ok(x) => x,
                Err(r) => return r,
            };
            let (head, _, remembered) = build_head(&host.0.cfg.label);
            let rs_remap = response_remap(&px.header, req.host, https, remembered);
            let t = timeouts(&host);
            return stream_request(
                &req,
                conn,
                host,
                head,
                b,
                f,
                &t,
                head_request,
                rs_remap.as_ref(),
                read_size,
            )
            .await;
        }
        ReqBody::Buffered(b) => Some(b),
        ReqBody::Empty => None,
    };
    let mut want = want;
    let mut retried = false;
    loop {
        let (mut conn, host) = match acquire(&req, &want, None::<&mut B>).await {
            Ok(x) => x,
            Err(r) => return r,
        };
        let (head, info, remembered) = build_head(&host.0.cfg.label);
        let rs_remap = response_remap(&px.header, req.host, https, remembered);
        let t = timeouts(&host);
        let mut buf = std::mem::take(&mut conn.buf);
        let r = exchange_buffered(
            &mut conn,
            &head,
            buffered_body.as_ref(),
            &mut buf,
            &t,
            head_request,
            rs_remap.as_ref(),
        )
        .await;
        match r {
            Ok((h, written)) => {
                let reusable = h.reusable && written && !info.close;
                return respond(
                    &mut req,
                    conn,
                    host,
                    h,
                    buf,
                    reusable,
                    &t,
                    info.upgrade,
                    read_size,
                )
                .await;
            }
            Err(Failure::NoResponse { write_failed })
                if conn.reused && !retried && (write_failed || idempotent(&method)) =>
            {
                // The backend closed an idle connection as it was reused:
                // once more on a new connection.
                retried = true;
                want.reuse = false;
            }
            Err(f) => {
                if let Failure::Invalid(e) = &f {
                    tracing::error!(
                        "invalid response from backend {}: {e:?}",
                        conn.proc.addr.describe()
                    );
                }
                return page(f.status(), &req);
            }
        }
    }
}

/// A backend connection, or the 503 page. `streamed`: the request body
/// when it is streamed (a buffered one was read before).
async fn acquire<B>(
    req: &ProxyRequest<'_>,
    want: &Want<'_>,
    streamed: Option<&mut B>,
) -> Result<(Conn, HostGuard), Response<Body>>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    match pool::acquire(req.ext, req.registry, want).await {
        Ok(x) => Ok(x),
        Err(AcquireError::Unavailable { tried }) => {
            req.ext.report_down(
                &req.target.path,
                Some(req.target.query.as_deref().unwrap_or_default()),
            );
            let mut r = page(StatusCode::SERVICE_UNAVAILABLE, req);
            // lighttpd answers at once when every backend is down, before
            // it reads a request body, and ends the connection. After a
            // failed connect, a buffered body was read first and the
            // connection goes on; a streamed one, when it all came.
            let close = match streamed {
                _ if !tried => crate::request::body_announced(&req.parts.headers),
                Some(body) => !streamed_body_came(body).await,
                None => false,
            };
            if close {
                r.headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Err(r)
        }
    }
}

/// Whether a streamed request body refused with 503 after a failed connect
/// has all come, so that the connection can go on. lighttpd 1.4.69 (probed,
/// `server.stream-request-body` 1 and 2 alike) keeps the connection when the
/// whole body, Content-Length or chunked, came with the head, and otherwise
/// ends it with `Connection: close`. What has come is read here without
/// waiting for more, and dropped. A client waiting for `100 Continue` gets
/// it first, as from lighttpd.
async fn streamed_body_came<B>(body: &mut B) -> bool
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    // At most this much is read to find the end.
    const LIMIT: usize = 64 * 1024;
    // and at most this many frames (empty ones too)
    const FRAMES: usize = 4096;
    let mut read = 0;
    let mut frames = 0;
    // hyper reads the socket for the body between polls of this handler,
    // so a body that is not ready may be ready after a yield; after a yield
    // that brought nothing, what has come has been read.
    let mut yielded = false;
    loop {
        if body.is_end_stream() {
            return true;
        }
        let polled = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::pin::Pin::new(&mut *body).poll_frame(cx))
        })
        .await;
        match polled {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                read += frame.data_ref().map_or(0, Bytes::len);
                frames += 1;
                if read > LIMIT || frames > FRAMES {
                    return false;
                }
                yielded = false;
            }
            std::task::Poll::Ready(None) => return true,
            std::task::Poll::Ready(Some(Err(_))) => return false,
            std::task::Poll::Pending if yielded => return false,
            std::task::Poll::Pending => {
                tokio::task::yield_now().await;
                yielded = true;
            }
        }
    }
}

fn timeouts(host: &HostGuard) -> Timeouts {
    Timeouts {
        read: secs(host.0.cfg.read_timeout),
        write: secs(host.0.cfg.write_timeout),
    }
}

fn response_remap<'a>(
    hdr: &'a config::ProxyHeader,
    client_host: &'a [u8],
    https: bool,
    remembered: Option<(Vec<u8>, Option<usize>)>,
) -> Option<ResponseRemap<'a>> {
    ResponseRemap::new(hdr, client_host, https, remembered)
}

fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Bytes per backend read for `server.stream-response-body`.
fn read_size(mode: u8) -> usize {
    match mode & 3 {
        0 => 256 * 1024,
        1 => 64 * 1024,
        _ => 16 * 1024,
    }
}

/// Reads a whole request body (memory, then temp files), refusing it
/// past `limit` bytes (0: none).
async fn collect<B>(mut body: B, limit: u64, cfg: &SpoolConfig) -> Result<Buffered, StatusCode>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut spool = Spool::new(cfg);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| StatusCode::BAD_REQUEST)?;
        if let Ok(d) = frame.into_data() {
            if limit > 0 && spool.len() + d.len() as u64 > limit {
                return Err(StatusCode::PAYLOAD_TOO_LARGE);
            }
            if !d.is_empty() {
                spool.push(d).await.map_err(|e| {
                    tracing::error!("buffering a request body failed: {e}");
                    StatusCode::INTERNAL_SERVER_ERROR
                })?;
            }
        }
    }
    Ok(Buffered::from_spool(spool))
}

/// Reads a backend's whole body: small bodies with a known length into
/// one buffer, others through a spool (memory, then temp files).
async fn read_buffered(reader: &mut BodyReader, cfg: &SpoolConfig) -> io::Result<Buffered> {
    if reader.remaining().is_some_and(|n| n <= ONE_BUFFER) {
        let parts = reader.read_all().await?;
        return Ok(Buffered::Mem(match parts.len() {
            0 => Bytes::new(),
            1 => parts.into_iter().next().unwrap_or_default(),
            _ => {
                let mut all = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
                for p in &parts {
                    all.extend_from_slice(p);
                }
                all.freeze()
            }
        }));
    }
    let mut spool = Spool::new(cfg);
    while let Some(part) = std::future::poll_fn(|cx| reader.poll_next(cx)).await {
        spool.push(part?).await?;
    }
    Ok(Buffered::from_spool(spool))
}

/// Backend bodies of known length up to this size are read into one buffer.
const ONE_BUFFER: u64 = 256 * 1024;

/// Turns the backend's head and body into the client's response.
#[allow(clippy::too_many_arguments)]
async fn respond(
    req: &mut ProxyRequest<'_>,
    conn: Conn,
    host: HostGuard,
    head: Head,
    buf: BytesMut,
    reusable: bool,
    t: &Timeouts,
    upgrade_sent: bool,
    read_size: usize,
) -> Response<Body> {
    let s = req.settings;
    if head.status == StatusCode::SWITCHING_PROTOCOLS {
        if !(upgrade_sent && head.upgrade) {
            tracing::error!(
                "backend {} switched protocols unasked",
                conn.proc.addr.describe()
            );
            return page(StatusCode::BAD_GATEWAY, req);
        }
        return tunnel::upgrade(req, conn, host, head, buf);
    }
    if head.status.is_success() && crate::request::websocket_connect(req.parts) {
        // A WebSocket over HTTP/2 whose backend did not switch: a 2xx
        // would open the client's tunnel (lighttpd answers 405).
        return page(StatusCode::METHOD_NOT_ALLOWED, req);
    }
    if intercepts(s, &head) {
        let r = intercept(req, &head);
        drain(conn, buf, head.framing, reusable, t.read);
        return r;
    }
    if let Some(path) = head.x_sendfile.as_ref().filter(|_| host.0.cfg.x_sendfile) {
        drop(conn);
        return x_sendfile(
            req,
            path,
            &host.0.cfg.x_sendfile_docroot,
            head.status,
            head.headers,
        );
    }
    let mut reader = BodyReader::new(
        Io::Whole(conn),
        buf,
        head.framing,
        reusable,
        t.read,
        read_size,
    );
    if s.stream_response_body & 3 != 0 {
        let sends = req.conn.file_sends_for(req.parts.version);
        let body = streamed_body(reader, host, None, s, sends);
        let mut r = Response::new(body);
        *r.status_mut() = head.status;
        *r.headers_mut() = head.headers;
        return r;
    }
    let content = match read_buffered(&mut reader, &spool_config(s)).await {
        Ok(c) => c,
        Err(e) => return read_failed(req, &e),
    };
    drop(host);
    buffered_response(req, head, content, reader.trailers())
}

/// True when `server.error-intercept` replaces this backend answer (400
/// and up).
fn intercepts(s: &Settings, head: &Head) -> bool {
    s.error_intercept && head.status.as_u16() >= 400
}

/// `server.error-intercept`: the local answer to a backend's 4xx/5xx
/// (error handler, error file or standard page), before X-Sendfile.
fn intercept(req: &ProxyRequest<'_>, head: &Head) -> Response<Body> {
    let fr = crate::modules::staticfile::FileRequest {
        method: &req.parts.method,
        version: req.parts.version,
        path: &req.target.path,
        query: req.target.query.as_deref(),
        headers: &req.parts.headers,
        settings: req.settings,
        cache: req.files,
        sends: req.conn.file_sends_for(req.parts.version),
        alias: None,
        dir_steps: req.dir_steps,
    };
    crate::request::intercepted(head.status, &fr, &head.headers)
}

/// The most of an intercepted error body read to keep its connection.
const DRAIN_LIMIT: u64 = 64 * 1024;
/// The longest an intercepted error body is read for.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads the body of an intercepted error answer in the background and
/// puts the connection back in the pool at its end; a longer or slower
/// body, or a connection that cannot be reused, is closed instead.
fn drain(
    conn: Conn,
    buf: BytesMut,
    framing: RespFraming,
    reusable: bool,
    read_timeout: Option<Duration>,
) {
    if !reusable {
        return;
    }
    let mut reader = BodyReader::new(Io::Whole(conn), buf, framing, true, read_timeout, 16 * 1024);
    let mut read = Box::pin(tokio::time::timeout(DRAIN_TIME, async move {
        while let Some(Ok(_)) = std::future::poll_fn(|cx| reader.poll_next(cx)).await {
            if reader.produced > DRAIN_LIMIT {
                return;
            }
        }
    }));
    // What already came with the head is taken at once, so that the
    // client's next request finds the connection in the pool; the rest in
    // the background.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if read.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(read);
    }
}

/// The page for a backend response body that could not be read to its
/// end before anything was sent: 504 after read-timeout, else 502.
fn read_failed(req: &ProxyRequest<'_>, e: &io::Error) -> Response<Body> {
    tracing::error!("reading the response of the backend failed: {e}");
    let status = if e.kind() == io::ErrorKind::TimedOut {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::BAD_GATEWAY
    };
    page(status, req)
}

/// A streamed response body: read as the client takes it (mode 2), or
/// by a task that never waits for the client, the excess buffered in
/// memory and temp files (mode 1).
fn streamed_body(
    mut reader: BodyReader,
    host: HostGuard,
    pump: Option<AbortOnDrop>,
    s: &Settings,
    sends: Option<&Arc<FileSends>>,
) -> Body {
    if s.stream_response_body & 2 != 0 {
        let mut u = UpstreamBody::new(reader, host);
        if let Some(p) = pump {
            u = u.with_task(p);
        }
        return Body::Upstream(Box::new(u));
    }
    let cfg = spool_config(s);
    let (mut w, r) = match reader.remaining() {
        Some(n) => spool::pipe_sized(&cfg, n),
        None => spool::pipe(&cfg),
    };
    tokio::spawn(async move {
        let _hold = (host, pump);
        loop {
            match std::future::poll_fn(|cx| reader.poll_next(cx)).await {
                Some(Ok(d)) => {
                    if w.push(d).await.is_err() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    w.fail(e);
                    return;
                }
                None => {
                    w.finish();
                    return;
                }
            }
        }
    });
    Body::Pipe(r.sending_files(sends.cloned()))
}

/// The client's response from a completely read backend response
/// (stream-response-body 0): Content-Length, Accept-Ranges, trailers in
/// the header block, Range served from the buffer.
fn buffered_response(
    req: &ProxyRequest<'_>,
    head: Head,
    content: Buffered,
    trailers: &[u8],
) -> Response<Body> {
    let s = req.settings;
    let sends = req.conn.file_sends_for(req.parts.version);
    let mut headers = head.headers;
    if head.framing == RespFraming::Chunked {
        // the trailers are in the head now, and the body has a length
        // (lighttpd drops the announcement too)
        headers.remove(http::header::TRAILER);
    }
    merge_trailers(&mut headers, trailers);
    let had_length = hdr::contains(&headers, &CONTENT_LENGTH);
    let no_body = head.framing == RespFraming::None;
    let method = &req.parts.method;
    // lighttpd offers ranges on a complete 200 to HTTP/1.1 GET and HEAD.
    let ranges_ok = head.status == StatusCode::OK
        && !head.encoded
        && s.range_requests
        && req.parts.version >= Version::HTTP_11
        && (*method == Method::GET || *method == Method::HEAD)
        && (!no_body || *method == Method::HEAD);
    if ranges_ok && !hdr::contains(&headers, &ACCEPT_RANGES) {
        headers.append(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    if !had_length && !no_body {
        headers.append(CONTENT_LENGTH, HeaderValue::from(content.len()));
    }
    // Not when the backend says it takes none, on an empty body, or when
    // If-Range does not hold (as lighttpd).
    let range = (ranges_ok && *method == Method::GET)
        .then(|| hdr::get(&req.parts.headers, &RANGE))
        .flatten();
    if let Some(range) = range {
        let taken = crate::modules::range::byte_ranges(range.as_bytes()).is_some()
            && content.len() > 0
            && hdr::get(&headers, &ACCEPT_RANGES).is_none_or(|v| v.as_bytes() != b"none")
            && crate::modules::range::if_range_holds(
                hdr::get(&req.parts.headers, &IF_RANGE),
                hdr::get(&headers, &http::header::ETAG),
                hdr::get(&headers, &http::header::LAST_MODIFIED),
            );
        if taken {
            return match range_response(range.as_bytes(), content, headers, sends) {
                Some(r) => r,
                None => page(StatusCode::RANGE_NOT_SATISFIABLE, req),
            };
        }
    }
    let mut r = Response::new(if req.parts.method == Method::HEAD {
        Body::empty()
    } else {
        content.body(sends)
    });
    *r.status_mut() = head.status;
    *r.headers_mut() = headers;
    r
}

fn merge_trailers(headers: &mut http::HeaderMap, trailers: &[u8]) {
    for line in trailers.split_str("\r\n") {
        let Some(colon) = line.find_byte(b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim());
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
}

/// `Range` on a buffered 200 response (lighttpd serves it from its buffer).
/// `None`: not satisfiable (416).
fn range_response(
    range: &[u8],
    content: Buffered,
    mut headers: http::HeaderMap,
    sends: Option<&Arc<FileSends>>,
) -> Option<Response<Body>> {
    let size = content.len();
    let ranges = crate::modules::range::parse_ranges(range, size)?;
    let (body, len) = if let [(a, b)] = ranges[..] {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{size}")) {
            headers.insert(CONTENT_RANGE, v);
        }
        (content.range(a, b, sends), b - a + 1)
    } else {
        let ct = headers
            .get(CONTENT_TYPE)
            .map_or_else(Vec::new, |v| v.as_bytes().to_vec());
        let boundary = crate::modules::staticfile::BOUNDARY;
        let mut parts = std::collections::VecDeque::new();
        let mut len = 0u64;
        for (a, b) in &ranges {
            let mut h = BytesMut::new();
            h.extend_from_slice(b"--");
            h.extend_from_slice(boundary.as_bytes());
            h.extend_from_slice(b"\r\nContent-Type: ");
            h.extend_from_slice(&ct);
            h.extend_from_slice(
                format!("\r\nContent-Range: bytes {a}-{b}/{size}\r\n\r\n").as_bytes(),
            );
            len += h.len() as u64 + (b - a + 1) + 2;
            parts.push_back(Body::full(h.freeze()));
            parts.push_back(content.range(*a, *b, sends));
            parts.push_back(Body::full(Bytes::from_static(b"\r\n")));
        }
        let end = Bytes::from(format!("--{boundary}--\r\n"));
        len += end.len() as u64;
        parts.push_back(Body::full(end));
        if let Ok(v) = HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}"))
        {
            headers.insert(CONTENT_TYPE, v);
        }
        (Body::Chain(parts, len), len)
    };
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::PARTIAL_CONTENT;
    *r.headers_mut() = headers;
    Some(r)
}

/// `X-Sendfile`: the named file (its value percent-decoded) instead of
/// the backend's body (the backend's other headers are kept where the
/// file sets none). With a status other than 200 the status stays, and
/// the file is the body as it is: no validators, no ranges (an empty body
/// when it cannot be read), as lighttpd does.
fn x_sendfile(
    req: &ProxyRequest<'_>,
    path: &[u8],
    docroots: &[std::path::PathBuf],
    status: StatusCode,
    backend_headers: http::HeaderMap,
) -> Response<Body> {
    use crate::modules::staticfile::{FileRequest, Served, send_path};
    let decoded: Vec<u8> = percent_encoding::percent_decode(path).collect();
    let path = &decoded[..];
    let p =
        std::path::Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path));
    let allowed = docroots.is_empty()
        || docroots.iter().any(|d| {
            let d = d.as_os_str().as_encoded_bytes();
            path.starts_with(d) && (d.ends_with(b"/") || path.get(d.len()) == Some(&b'/'))
        });
    if !p.is_absolute() || !allowed || path.split(|&b| b == b'/').any(|c| c == b"..") {
        return page(StatusCode::FORBIDDEN, req);
    }
    let get = Method::GET;
    let plain = status == StatusCode::OK;
    // (an unusual status: the request's conditions and ranges do not apply)
    let none = http::HeaderMap::new();
    let fr = FileRequest {
        method: if req.parts.method == Method::HEAD {
            &req.parts.method
        } else {
            &get
        },
        version: req.parts.version,
        path,
        query: None,
        headers: if plain { &req.parts.headers } else { &none },
        settings: req.settings,
        cache: req.files,
        sends: req.conn.file_sends_for(req.parts.version),
        alias: None,
        dir_steps: &[],
    };
    if !plain {
        let mut r = match send_path(p, &fr) {
            Served::Response(r) if !matches!(status.as_u16(), 204 | 304) => r,
            _ => {
                let mut r = Response::new(Body::empty());
                if !matches!(status.as_u16(), 204 | 304) {
                    r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
                }
                r
            }
        };
        *r.status_mut() = status;
        let h = r.headers_mut();
        for name in [
            http::header::ETAG,
            http::header::LAST_MODIFIED,
            http::header::ACCEPT_RANGES,
        ] {
            h.remove(name);
        }
        add_backend_headers(&mut r, backend_headers);
        return r;
    }
    match send_path(p, &fr) {
        Served::Response(mut r) => {
            add_backend_headers(&mut r, backend_headers);
            r
        }
        Served::Error(status) => page(status, req),
    }
}

/// The backend's headers on an X-Sendfile answer `r`: its Content-Type
/// wins over the file's (not over a multipart range answer's), every
/// other name the answer does not set comes along with all its values;
/// the length is the answer's own.
fn add_backend_headers(r: &mut Response<Body>, backend: http::HeaderMap) {
    let own_type = r
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"multipart/"));
    // (the name of the values that follow, and whether they are taken)
    let mut current: Option<(HeaderName, bool)> = None;
    for (k, v) in backend {
        if let Some(k) = k {
            let take = if k == CONTENT_TYPE {
                if !own_type {
                    r.headers_mut().remove(CONTENT_TYPE);
                }
                !own_type
            } else {
                k != CONTENT_LENGTH && !r.headers().contains_key(&k)
            };
            current = Some((k, take));
        }
        if let Some((k, true)) = &current {
            r.headers_mut().append(k.clone(), v);
        }
    }
}

/// Streams the request body to the backend while the response is read.
#[allow(clippy::too_many_arguments)]
async fn stream_request<B>(
    req: &ProxyRequest<'_>,
    conn: Conn,
    host: HostGuard,
    head: Vec<u8>,
    mut body: B,
    framing: Framing,
    t: &Timeouts,
    head_request: bool,
    remap: Option<&ResponseRemap<'_>>,
    read_size: usize,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let fin = host.0.cfg.tcp_fin_propagate;
    let write_timeout = t.write;
    let limit = u64::from(req.settings.max_request_size_kib) * 1024;
    let (stream, load) = conn.detach();
    // The halves share the proc's load count while either lives.
    let hold = Arc::new(SplitHold(load));
    let (mut rd, mut wr) = tokio::io::split(stream);
    // The client's body failing (too large: 413; cut short or malformed:
    // 400) ends the exchange at once, and the backend connection with it.
    let (failed_tx, mut failed_rx) = tokio::sync::oneshot::channel::<StatusCode>();
    let pump_hold = hold.clone();
    let pump = tokio::spawn(async move {
        let _hold = pump_hold;
        let r: io::Result<()> = async {
            with_timeout(write_timeout, wr.write_all(&head)).await?;
            let mut seen = 0u64;
            let mut failed = Some(failed_tx);
            while let Some(frame) = body.frame().await {
                let frame = match frame {
                    Ok(f) => f,
                    Err(e) => {
                        if let Some(tx) = failed.take() {
                            let _ = tx.send(StatusCode::BAD_REQUEST);
                        }
                        return Err(io::Error::other(format!("the client's body: {e}")));
                    }
                };
                let Ok(d) = frame.into_data() else { continue };
                if d.is_empty() {
                    continue;
                }
                seen += d.len() as u64;
                if limit > 0 && seen > limit {
                    if let Some(tx) = failed.take() {
                        let _ = tx.send(StatusCode::PAYLOAD_TOO_LARGE);
                    }
                    return Err(io::Error::other("request body too large"));
                }
                if framing == Framing::Chunked {
                    let mut size = format!("{:x}", d.len());
                    if size.len() % 2 == 1 {
                        size.insert(0, '0');
                    }
                    size.push_str("\r\n");
                    with_timeout(write_timeout, wr.write_all(size.as_bytes())).await?;
                    with_timeout(write_timeout, wr.write_all(&d)).await?;
                    with_timeout(write_timeout, wr.write_all(b"\r\n")).await?;
                } else {
                    with_timeout(write_timeout, wr.write_all(&d)).await?;
                }
            }
            if framing == Framing::Chunked {
                with_timeout(write_timeout, wr.write_all(b"0\r\n\r\n")).await?;
            }
            wr.flush().await?;
            if fin {
                let _ = wr.shutdown().await;
            }
            Ok(())
        }
        .await;
        if let Err(e) = &r {
            tracing::debug!("streaming the request body to the backend stopped: {e}");
        }
        // Keep the write half open until the response is done.
        std::future::pending::<()>().await;
    });
    let pump = AbortOnDrop(pump);
    let mut buf = BytesMut::new();
    let head_result = tokio::select! {
        h = read_head(&mut rd, &mut buf, t.read, head_request, remap) => Ok(h),
        Ok(status) = &mut failed_rx => Err(status),
    };
    let head = match head_result {
        Err(status) => {
            return crate::request::refuse_page(status, head_request, req.settings);
        }
        Ok(Err(f)) => return page(f.status(), req),
        Ok(Ok(h)) => h,
    };
    if head.status == StatusCode::SWITCHING_PROTOCOLS {
        return page(StatusCode::BAD_GATEWAY, req);
    }
    if intercepts(req.settings, &head) {
        // (the request body stops, and the connection closes with it)
        drop(pump);
        return intercept(req, &head);
    }
    let buffered = req.settings.stream_response_body & 3 == 0;
    let mut reader = BodyReader::new(
        Io::Half(rd, hold),
        buf,
        head.framing,
        false,
        t.read,
        read_size,
    );
    if buffered {
        // The request body has been sent (or the backend answered early).
        let content = match read_buffered(&mut reader, &spool_config(req.settings)).await {
            Ok(c) => c,
            Err(e) => return read_failed(req, &e),
        };
        drop(pump);
        return buffered_response(req, head, content, reader.trailers());
    }
    let sends = req.conn.file_sends_for(req.parts.version);
    let mut r = Response::new(streamed_body(reader, host, Some(pump), req.settings, sends));
    *r.status_mut() = head.status;
    *r.headers_mut() = head.headers;
    r
}

/// Aborts a task when dropped.
#[derive(Debug)]
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Frame;
    use http_body_util::{Empty, Full, StreamBody};

    /// A body of these data frames, all there at once.
    fn frames(v: Vec<Bytes>) -> impl http_body::Body<Data = Bytes> + Unpin {
        let v: Vec<Result<Frame<Bytes>, io::Error>> =
            v.into_iter().map(|b| Ok(Frame::data(b))).collect();
        StreamBody::new(futures_util::stream::iter(v))
    }

    /// A body that never ends (a client still sending).
    struct Waiting;

    impl http_body::Body for Waiting {
        type Data = Bytes;
        type Error = io::Error;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<Frame<Bytes>, io::Error>>> {
            std::task::Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_streamed_body_came_when_its_end_is_there() {
        assert!(streamed_body_came(&mut Full::new(Bytes::from_static(b"abc"))).await);
        assert!(streamed_body_came(&mut Empty::<Bytes>::new()).await);
        assert!(streamed_body_came(&mut frames(vec![Bytes::from_static(b"a"); 3])).await);
        // still to come: given up after one yield
        assert!(!streamed_body_came(&mut Waiting).await);
        // more than is worth reading, in bytes or in frames
        assert!(!streamed_body_came(&mut frames(vec![Bytes::from(vec![b'x'; 65 * 1024])])).await);
        assert!(!streamed_body_came(&mut frames(vec![Bytes::new(); 5000])).await);
    }
}
