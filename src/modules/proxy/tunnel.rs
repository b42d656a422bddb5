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
use http::header::{CONNECTION, HeaderValue};
use http::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ProxyRequest;
use super::response::Head;
use crate::backend::balance::BalanceInput;
use crate::backend::pool::{Conn, HostGuard, Stream, Want};
use crate::request::ConnInfo;
use crate::request::body::Body;

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

/// Starts the tunnel behind a 101 or a CONNECT 200: once hyper has
/// written the answer and hands the client connection over, `run` gets it
/// and the backend stream (the host's and proc's load held until it
/// ends). The task becomes the client connection's tunnel. False when the
/// request cannot be taken over (no upgrade handle).
pub fn take_over<F, Fut>(
    parts: &mut http::request::Parts,
    client: &ConnInfo,
    conn: Conn,
    host: HostGuard,
    run: F,
) -> bool
where
    F: FnOnce(TokioIo<hyper::upgrade::Upgraded>, Stream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
        return false;
    };
    let task = tokio::spawn(async move {
        let _host = host;
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
    client.set_tunnel(task);
    true
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
    if !take_over(req.parts, req.conn, conn, host, relayed) {
        return super::page(StatusCode::BAD_GATEWAY, req);
    }
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *r.headers_mut() = head.headers;
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("upgrade"));
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
    if !take_over(req.parts, req.conn, conn, host, relayed) {
        return super::page(StatusCode::BAD_GATEWAY, req);
    }
    // lighttpd marks the tunnel as the connection's last exchange.
    let mut r = Response::new(Body::empty());
    r.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    r
}
