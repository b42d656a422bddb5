//! Raw byte tunnels through the proxy: WebSocket (any `Upgrade`) after a
//! backend's 101 with `proxy.header = ( "upgrade" => "enable" )`, and
//! CONNECT with `"connect" => "enable"` (spec proxy.md §9–§10).
//!
//! The client connection is handed over by hyper once the 101 / 200 is
//! written; bytes are then copied both ways unchanged. Client silence for
//! `server.max-read-idle` ends the tunnel (even while the backend sends);
//! a side that cannot take bytes for `server.max-write-idle` ends it too.
//! A half-close is passed on to the other side.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use http::header::{CONNECTION, HeaderValue, UPGRADE};
use http::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ProxyRequest;
use super::response::Head;
use crate::backend::balance::BalanceInput;
use crate::backend::pool::{Conn, HostGuard, Stream, Want};
use crate::request::body::Body;
use crate::request::{ConnInfo, StreamHold};

/// Copies one direction until EOF (then half-closes the writer), an error,
/// or `idle` without bytes to read (`Err(TimedOut)`).
async fn copy_half<R, W>(
    mut r: R,
    mut w: W,
    first: Option<BytesMut>,
    read_idle: Option<Duration>,
    write_idle: Duration,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if let Some(b) = first.filter(|b| !b.is_empty()) {
        crate::server::timers::timeout_unless_ready(write_idle, w.write_all(&b))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    }
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match read_idle {
            Some(t) => crate::server::timers::timeout_unless_ready(t, r.read(&mut buf))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??,
            None => r.read(&mut buf).await?,
        };
        if n == 0 {
            let _ = w.shutdown().await;
            return Ok(());
        }
        crate::server::timers::timeout_unless_ready(write_idle, w.write_all(&buf[..n]))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    }
}

/// Relays between the client and the backend until both directions end,
/// or either fails or idles out.
pub async fn relay<C, U>(
    client: C,
    upstream: U,
    pending: BytesMut,
    read_idle: Duration,
    write_idle: Duration,
) where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (cr, cw) = tokio::io::split(client);
    let (ur, uw) = tokio::io::split(upstream);
    let read_idle = (!read_idle.is_zero()).then_some(read_idle);
    let write_idle = if write_idle.is_zero() {
        Duration::from_secs(360)
    } else {
        write_idle
    };
    let up = copy_half(cr, uw, None, read_idle, write_idle);
    let down = copy_half(ur, cw, Some(pending), None, write_idle);
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        tokio::select! {
            r = &mut up, if !up_done => {
                if r.is_err() { return; }
                up_done = true;
            }
            r = &mut down, if !down_done => {
                if r.is_err() { return; }
                down_done = true;
            }
        }
    }
}

/// `server.max-read-idle` and `server.max-write-idle` of a request.
fn idle_limits(req: &ProxyRequest<'_>) -> (Duration, Duration) {
    (
        Duration::from_secs(u64::from(req.settings.max_read_idle)),
        Duration::from_secs(u64::from(req.settings.max_write_idle)),
    )
}

/// How a request was taken over by its tunnel.
#[derive(Debug)]
pub enum Taken {
    /// The whole client connection (HTTP/1.1: after the 101 or the 200).
    Connection,
    /// One HTTP/2 stream (CONNECT, WebSocket over HTTP/2): the response
    /// carries what keeps the request in flight while the tunnel lasts.
    Stream(StreamHold),
}

impl Taken {
    /// Marks the tunnel's response (see [`Taken::Stream`]).
    pub fn mark<B>(self, r: &mut Response<B>) {
        if let Taken::Stream(hold) = self {
            r.extensions_mut().insert(hold);
        }
    }
}

/// Starts the tunnel behind a 101 or a CONNECT 200: once hyper has
/// written the answer and hands the client connection (HTTP/1.1) or the
/// request's stream (HTTP/2) over, `run` gets it and the backend stream
/// (the host's and proc's load held until it ends). On HTTP/1.1 the task
/// becomes the client connection's tunnel. None when the request cannot be
/// taken over (no upgrade handle).
pub fn take_over<F, Fut>(
    parts: &mut http::request::Parts,
    client: &ConnInfo,
    conn: Conn,
    host: HostGuard,
    run: F,
) -> Option<Taken>
where
    F: FnOnce(TokioIo<hyper::upgrade::Upgraded>, Stream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>()?;
    let stream = (parts.version == http::Version::HTTP_2).then(StreamHold::default);
    let hold = stream.clone();
    let task = tokio::spawn(async move {
        let _host = host;
        // (the request's in-flight mark, from the service, until the end)
        let _hold = hold;
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("client upgrade failed: {e}");
                return;
            }
        };
        conn.touch();
        let (stream, _load) = conn.detach();
        run(TokioIo::new(upgraded), stream).await;
    });
    match stream {
        // (the stream's tunnel ends with the stream, or with the
        // connection, which hyper keeps open meanwhile)
        Some(hold) => Some(Taken::Stream(hold)),
        None => {
            client.set_tunnel(task);
            Some(Taken::Connection)
        }
    }
}

/// The client's 101 for a backend's 101, and the tunnel behind it.
pub fn upgrade(
    req: &mut ProxyRequest<'_>,
    conn: Conn,
    host: HostGuard,
    head: Head,
    pending: BytesMut,
) -> Response<Body> {
    let (read_idle, write_idle) = idle_limits(req);
    let relayed = move |client, stream| relay(client, stream, pending, read_idle, write_idle);
    let Some(taken) = take_over(req.parts, req.conn, conn, host, relayed) else {
        return super::page(StatusCode::BAD_GATEWAY, req);
    };
    let mut r = Response::new(Body::empty());
    *r.headers_mut() = head.headers;
    if crate::request::websocket_connect(req.parts) {
        // WebSocket over HTTP/2: the switch is the stream's 200, without
        // the HTTP/1.1 handshake's headers (as lighttpd answers)
        let h = r.headers_mut();
        h.remove(UPGRADE);
        h.remove(CONNECTION);
        h.remove("sec-websocket-accept");
    } else {
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("upgrade"));
    }
    taken.mark(&mut r);
    r
}

/// CONNECT: a connection to the backend (the target is not used), then
/// 200 and raw bytes both ways.
pub async fn connect(req: &mut ProxyRequest<'_>) -> Response<Body> {
    let client = req.peer.remote_text.clone();
    let authority = req
        .parts
        .uri
        .authority()
        .map(|a| a.as_str().as_bytes().to_vec())
        .unwrap_or_default();
    let want = Want {
        balance: req.settings.proxy.balance,
        input: BalanceInput {
            path: &authority,
            authority: &authority,
            client: &client,
        },
        reuse: false,
        debug: req.settings.proxy.debug,
    };
    // (what follows a CONNECT head is the tunnel's, not a body to read)
    let (conn, host) =
        match super::acquire(req, &want, None::<&mut http_body_util::Empty<bytes::Bytes>>).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let (read_idle, write_idle) = idle_limits(req);
    let relayed =
        move |client, stream| relay(client, stream, BytesMut::new(), read_idle, write_idle);
    let Some(taken) = take_over(req.parts, req.conn, conn, host, relayed) else {
        return super::page(StatusCode::BAD_GATEWAY, req);
    };
    let mut r = Response::new(Body::empty());
    if let Taken::Connection = taken {
        // lighttpd marks the tunnel as the connection's last exchange.
        r.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    taken.mark(&mut r);
    r
}
