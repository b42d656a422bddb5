//! One client connection: HTTP/1.1 or HTTP/2 with hyper, idle timeouts,
//! and shutdown (lighttpd: `connections.c`, `server.c` timeouts).
//!
//! | state | limit | measured since |
//! |---|---|---|
//! | no request yet | `server.max-read-idle` | connect / last byte read |
//! | between requests | `server.max-keep-alive-idle` | last byte written or read |
//! | request in progress | `server.max-read-idle` / `server.max-write-idle` (the larger) | last byte moved |
//!
//! An idle connection past its limit is closed gracefully (nothing is in
//! flight); a stalled one in the middle of a request is dropped. On SIGINT
//! connections finish what they are doing; on SIGTERM they are dropped.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use super::sendfile::{FileSends, SendFile, stand_in_at};
use super::timers::Gated;
use super::{clock, h2c};
use crate::request::{self, ConnInfo, Site};

/// How a server is shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Serving.
    Running,
    /// Finish requests in progress, take no new ones (SIGINT, SIGUSR1 for
    /// the old configuration's connections is not needed: they keep theirs).
    Graceful,
    /// Drop everything (SIGTERM, or the graceful timeout expired).
    Immediate,
}

/// Limits a connection applies.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// `server.max-read-idle`.
    pub read_idle: Duration,
    /// `server.max-write-idle`.
    pub write_idle: Duration,
    /// `server.max-keep-alive-idle`.
    pub keep_alive_idle: Duration,
    /// The shortest of those three that any condition sets (a request
    /// may set it): how often an idle connection looks at its limits.
    pub shortest_idle: Duration,
    /// `server.max-request-field-size`: the largest request head.
    pub max_header_bytes: usize,
    /// HTTP/2 allowed (`server.h2proto`).
    pub http2: bool,
    /// Files sent with `sendfile(2)` where the socket allows it
    /// (`server.network-backend`).
    pub sendfile: bool,
    /// `Upgrade: h2c` taken on cleartext connections (`server.h2c`, and
    /// HTTP/2 allowed).
    pub h2c: bool,
}

/// What the service of one connection holds.
struct Svc {
    site: Arc<Site>,
    conn: Arc<ConnInfo>,
    activity: Arc<Activity>,
}

/// A request in flight on its connection, from its start until its
/// response body is done: idle time then counts against the read and
/// write limits, not the keep-alive one.
pub(crate) struct InFlight(Arc<Svc>);

impl InFlight {
    fn start(svc: Arc<Svc>) -> Self {
        svc.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(svc)
    }
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InFlight")
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0.activity;
        a.in_flight.fetch_sub(1, Ordering::Relaxed);
        a.touch();
    }
}

/// When the connection last moved bytes, and whether a request is in flight.
#[derive(Debug)]
struct Activity {
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// The last write to the client found its socket full (the client
    /// does not read): `server.max-write-idle` is what counts then.
    write_blocked: AtomicBool,
}

impl Activity {
    fn touch(&self) {
        self.last_ms.store(clock::now_ms(), Ordering::Relaxed);
    }

    /// Notes what a write to the client did.
    #[inline]
    fn wrote(&self, r: &Poll<io::Result<usize>>) {
        match r {
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.touch();
                if self.write_blocked.load(Ordering::Relaxed) {
                    self.write_blocked.store(false, Ordering::Relaxed);
                }
            }
            Poll::Pending => self.write_blocked.store(true, Ordering::Relaxed),
            _ => {}
        }
    }

    fn last(&self) -> Instant {
        clock::instant(self.last_ms.load(Ordering::Relaxed))
    }
}

/// An I/O stream that records activity, and sends file bodies' stand-ins
/// as the file parts they stand for (see [`super::sendfile`]).
struct Tracked<IO> {
    io: IO,
    activity: Arc<Activity>,
    /// The file parts queued for `sendfile(2)`, on a socket that can.
    files: Option<Arc<FileSends>>,
}

impl<IO: SendFile> Tracked<IO> {
    /// Writes `bufs` (no stand-in among them); with `more`, a file part
    /// follows at once. (Inlined into the write: out of line it cost
    /// ~30 instructions a static request, callgrind.)
    #[inline]
    fn poll_write_parts(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
        more: bool,
    ) -> Poll<io::Result<usize>> {
        let mut one = |buf: &[u8]| {
            if more {
                self.io.poll_write_more(cx, buf)
            } else {
                Pin::new(&mut self.io).poll_write(cx, buf)
            }
        };
        match joinable(bufs) {
            Join::One(i) => one(&bufs[i]),
            Join::Few(len) => {
                // (not zeroed first: only the `len` bytes written are read)
                let mut joined = std::mem::MaybeUninit::<[u8; SMALL_WRITE]>::uninit();
                let dst = joined.as_mut_ptr().cast::<u8>();
                let mut at = 0;
                for b in bufs {
                    // SAFETY: the parts are `len` bytes in all, and `len`
                    // is at most SMALL_WRITE (`joinable`): each copy stays
                    // within `joined`, which no part overlaps.
                    unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), dst.add(at), b.len()) };
                    at += b.len();
                }
                // SAFETY: `joined[..len]` was written just above.
                one(unsafe { std::slice::from_raw_parts(dst, len) })
            }
            Join::No => Pin::new(&mut self.io).poll_write_vectored(cx, bufs),
        }
    }

    /// Sends the file part stand-in `buf` stands for. A stand-in on a
    /// connection without file sending fails it (never its zero bytes).
    fn poll_stand_in(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &self.files {
            Some(files) => files.poll_send(&mut self.io, cx, buf),
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a file body on a connection that does not send files",
            ))),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<IO: SendFile> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = if stand_in_at(data).is_some() {
            self.poll_stand_in(cx, data)
        } else {
            Pin::new(&mut self.io).poll_write(cx, data)
        };
        self.activity.wrote(&r);
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // A file part goes out on its own; what comes before it first,
        // held back by TCP for the file's first segment (as lighttpd's
        // cork around a head and its sendfile).
        let r = match bufs.iter().position(|b| stand_in_at(b).is_some()) {
            Some(i) if bufs[..i].iter().all(|b| b.is_empty()) => self.poll_stand_in(cx, &bufs[i]),
            Some(i) => self.poll_write_parts(cx, &bufs[..i], true),
            None => self.poll_write_parts(cx, bufs, false),
        };
        self.activity.wrote(&r);
        r
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

/// Vectored writes up to this many bytes in all are joined and sent as
/// one (see [`joinable`]).
const SMALL_WRITE: usize = 4096;

/// How a vectored write goes out.
#[derive(Debug, PartialEq)]
enum Join {
    /// All bytes are in part `.0`: a plain send of it.
    One(usize),
    /// Several parts, `.0` bytes in all, at most [`SMALL_WRITE`]: copied
    /// into one buffer and sent (a head and a short body; for the kernel
    /// one plain send costs less than a `writev`).
    Few(usize),
    /// Larger: `writev`, without copying.
    No,
}

fn joinable(bufs: &[io::IoSlice<'_>]) -> Join {
    let mut parts = bufs.iter().enumerate().filter(|(_, b)| !b.is_empty());
    let Some((first, b)) = parts.next() else {
        return Join::No;
    };
    let mut len = b.len();
    let mut several = false;
    for (_, b) in parts {
        several = true;
        len += b.len();
    }
    match (several, len <= SMALL_WRITE) {
        (false, _) => Join::One(first),
        (true, true) => Join::Few(len),
        (true, false) => Join::No,
    }
}

/// Header lines hyper takes without a `max_headers` setting.
const HYPER_HEADER_LINES: usize = 100;

/// Serves one connection until it ends, times out or the server stops.
/// A connection that became a tunnel (WebSocket, CONNECT, upgrade) returns
/// the tunnel's task: the caller waits for it with [`wait_tunnel`], so
/// that the (large) state of the HTTP connection is freed meanwhile.
pub async fn serve<IO>(
    io: IO,
    site: Arc<Site>,
    mut conn: Arc<ConnInfo>,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<Shutdown>,
) -> Option<tokio::task::JoinHandle<()>>
where
    IO: AsyncRead + AsyncWrite + SendFile + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity {
        last_ms: AtomicU64::new(clock::now_ms()),
        in_flight: AtomicUsize::new(0),
        write_blocked: AtomicBool::new(false),
    });
    // (`conn` is this connection's own until its requests start)
    let files = match Arc::get_mut(&mut conn) {
        Some(c) if limits.sendfile && io.sends_files() => {
            c.file_sends.insert(Arc::default()).clone().into()
        }
        _ => None,
    };
    let mut io = super::gate::Gate::new(
        Tracked {
            io,
            activity: activity.clone(),
            files,
        },
        limits.max_header_bytes,
    );
    if site.logging {
        io.keep_raw_targets(conn.raw_targets.clone());
    }
    if !limits.http2 {
        // (the auto builder's http1_only does not apply to connections
        // with upgrades: the gate keeps the preface from hyper instead)
        io.without_http2();
    }
    // The first head decides the size of hyper's header table: lighttpd
    // limits a head's bytes, not its lines, but a table sized for the
    // most lines the byte limit allows costs every request (~30 % of a
    // proxied one) where hardly any head has more than hyper's 100.
    loop {
        tokio::select! {
            res = io.first_head() => {
                if res.is_err() {
                    return None;
                }
                break;
            }
            _ = tokio::time::sleep_until(activity.last() + limits.read_idle) => {
                if Instant::now() >= activity.last() + limits.read_idle {
                    return None;
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() != Shutdown::Running {
                    return None;
                }
            }
        }
    }
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        // A client that half-closes (TCP FIN) after its request still gets
        // the response, as from lighttpd (which cannot tell a half-close
        // from a close either); hyper would otherwise read for EOF while
        // the request is served and drop the request when it comes.
        .half_close(true)
        // hyper queues body chunks as they are (its vectored strategy),
        // which file bodies' stand-ins need
        .writev(true)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .header_read_timeout(None);
    if io.head_lines() > HYPER_HEADER_LINES {
        builder.http1().max_headers(limits.max_header_bytes / 5 + 1);
    }
    // `server.max-request-field-size` bounds HTTP/2 header blocks too (h2
    // answers 431 past it, as lighttpd does). h2 counts 32 bytes more per
    // field than the field's text (RFC 7541 §4.1); the margin lets a block
    // of up to 16 fields through where its HTTP/1.1 head would pass.
    // WebSocket over HTTP/2 (RFC 8441: SETTINGS_ENABLE_CONNECT_PROTOCOL,
    // as lighttpd advertises it)
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol()
        .max_header_list_size(
            u32::try_from(limits.max_header_bytes.saturating_add(16 * 32)).unwrap_or(u32::MAX),
        );
    // `Upgrade: h2c` on a cleartext connection: the service answers 101
    // and keeps the switch with the connection; it goes on in HTTP/2.
    // (Requests of that HTTP/2 phase are not HTTP/1.1: none switches.)
    let h2c = limits.h2c && conn.peer.scheme == b"http";
    let served = conn.clone();
    // (one reference count per request for the three)
    let svc = Arc::new(Svc {
        site,
        conn,
        activity: activity.clone(),
    });
    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let svc = svc.clone();
        async move {
            // hyper gives a request an upgrade handle when it asks for one
            // (an `Upgrade` header in HTTP/1.1, CONNECT): one cheap check
            // for the requests that do not
            // (an HTTP/2 CONNECT's is its stream's, not the connection's)
            let stream_upgrade = req.version() == http::Version::HTTP_2;
            if let Some(upgrade) = req.extensions().get::<hyper::upgrade::OnUpgrade>() {
                if !stream_upgrade {
                    let upgrade = upgrade.clone();
                    if h2c && h2c::wanted(&req) {
                        return Ok::<_, Infallible>(switch_to_h2c(&svc.conn, req, upgrade));
                    }
                    svc.conn.keep_upgrade(upgrade, None);
                }
            }
            let connect = stream_upgrade && req.method() == http::Method::CONNECT;
            // In flight until its response body is done (the guard holds
            // the service's reference), or a stream's tunnel ends.
            let guard = InFlight::start(svc);
            let Svc { site, conn, .. } = &*guard.0;
            let mut r = request::handle(req, site, conn).await;
            if connect {
                if let Some(hold) = r.extensions_mut().remove::<crate::request::StreamHold>() {
                    hold.hold(guard);
                    return Ok(crate::request::body::Outgoing::from_response(r));
                }
            }
            let mut out = crate::request::body::Outgoing::from_response(r);
            out.body_mut().hold(guard);
            Ok::<_, Infallible>(out)
        }
    });
    let c = builder.serve_connection_with_upgrades(TokioIo::new(io), service.clone());
    tokio::pin!(c);
    let mut watch = Watch {
        activity: &activity,
        limits: &limits,
        served: &served,
        shutdown: &mut shutdown,
    };
    let graceful_shutdown = |c: Pin<&mut _>| auto::UpgradeableConnection::graceful_shutdown(c);
    if !drive(c.as_mut(), graceful_shutdown, &mut watch).await {
        return None;
    }
    // An upgraded request goes on as a tunnel, waited for by the caller
    // (see [`wait_tunnel`]).
    if let Some(tunnel) = served.take_tunnel() {
        return Some(tunnel);
    }
    let kept = served.take_upgrade()?;
    let Some(frames) = kept.h2c_frames else {
        close_unswitched(kept.upgrade, limits.write_idle).await;
        return None;
    };
    // The HTTP/2 phase in its own allocation, so that the connection's
    // future keeps the size it has for HTTP/1.1.
    let h2 = async {
        let upgraded = match kept.upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("h2c: the switch failed: {e}");
                return None;
            }
        };
        // strictly HTTP/2 from here, with the same HTTP/2 settings: without
        // upgrades the builder keeps to one version (with them it would
        // take HTTP/1 bytes past the gate, which stepped aside at the 101)
        let h2_only = builder.clone().http2_only();
        let io = h2c::Inject::new(TokioIo::new(upgraded), frames);
        let c = h2_only.serve_connection(TokioIo::new(io), service);
        tokio::pin!(c);
        let graceful_shutdown = |c: Pin<&mut _>| auto::Connection::graceful_shutdown(c);
        drive(c.as_mut(), graceful_shutdown, &mut watch).await;
        served.take_tunnel()
    };
    Box::pin(h2).await
}

/// Closes a connection that hyper handed to `upgrade`, the upgrade of its
/// last request that asked for one (`Upgrade:`, CONNECT) and was answered
/// without a switch: hyper ends such a connection by fulfilling the
/// upgrade instead of closing it, so it is closed here as hyper closes the
/// others (over TLS with close_notify, as lighttpd does), within
/// `write_idle`.
#[cold]
#[inline(never)]
async fn close_unswitched(upgrade: hyper::upgrade::OnUpgrade, write_idle: Duration) {
    let close = async {
        match upgrade.await {
            Ok(upgraded) => {
                let mut io = TokioIo::new(upgraded);
                if let Err(e) = tokio::io::AsyncWriteExt::shutdown(&mut io).await {
                    tracing::debug!("closing the connection: {e}");
                }
            }
            // the connection ended otherwise (reset, or a later request
            // replaced the upgrade and was answered in the usual way)
            Err(e) => tracing::debug!("connection ended: {e}"),
        }
    };
    let _ = tokio::time::timeout(write_idle, close).await;
}

/// Answers an `Upgrade: h2c` request with 101, keeping its upgrade and
/// its stream-1 frames with the connection. Out of line and cold, as
/// `h2c::wanted` is: either inlined into the service cost every HTTP/1.1
/// request a copy of its future (callgrind: ~800 more instructions a
/// request). Requests without an upgrade handle skip both (one extension
/// check).
#[cold]
#[inline(never)]
fn switch_to_h2c(
    conn: &ConnInfo,
    req: hyper::Request<hyper::body::Incoming>,
    upgrade: hyper::upgrade::OnUpgrade,
) -> hyper::Response<crate::request::body::Outgoing> {
    conn.keep_upgrade(upgrade, Some(h2c::stream1(&req)));
    crate::request::body::Outgoing::from_response(h2c::switching(
        crate::request::body::Body::empty(),
    ))
}

/// What a connection's limits and shutdown are judged by, through its
/// HTTP/1.1 phase and an HTTP/2 one after `Upgrade: h2c`.
struct Watch<'a> {
    activity: &'a Activity,
    limits: &'a ConnLimits,
    served: &'a ConnInfo,
    shutdown: &'a mut watch::Receiver<Shutdown>,
}

/// Drives connection `c` until it ends (`true`) or is dropped (`false`:
/// stalled in a request, idle before its first, or the server stopping at
/// once): idle limits, and graceful shutdown (`graceful_shutdown`) when
/// idle between requests or the server stops gracefully. `w`: what the
/// connection is judged by, in both its HTTP/1.1 and HTTP/2 phases.
async fn drive<F, E, G>(mut c: Pin<&mut F>, mut graceful_shutdown: G, w: &mut Watch<'_>) -> bool
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
    G: FnMut(Pin<&mut F>),
{
    let (activity, limits, served) = (w.activity, w.limits, w.served);
    let shutdown = &mut *w.shutdown;
    let mut graceful = false;
    match *shutdown.borrow() {
        Shutdown::Running => {}
        Shutdown::Graceful => {
            begin_close(c.as_mut(), &mut graceful_shutdown, activity, &mut graceful)
        }
        Shutdown::Immediate => return false,
    }
    loop {
        // Wake when the limit in force runs out, and meanwhile every
        // `shortest` (the state may change, moving the deadline earlier:
        // a request that ends puts the connection under its keep-alive
        // limit, a request may set shorter limits), then check.
        let idle = idle_limits(served, limits);
        let shortest = idle
            .0
            .min(idle.1)
            .min(idle.2)
            .min(limits.shortest_idle)
            .max(Duration::from_millis(100));
        let first = served.requests.load(Ordering::Relaxed) == 0;
        let real = idle_deadline(activity, idle, graceful, first);
        let deadline = if graceful {
            real
        } else {
            (Instant::now() + shortest).min(real)
        };
        // The timer and the shutdown signal are polled when they fire,
        // not at every wakeup of the connection (gated), and the
        // connection first.
        let woke = {
            let sleep = tokio::time::sleep_until(deadline);
            tokio::pin!(sleep);
            let mut sleep = Gated::new(sleep);
            let changed = shutdown.changed();
            tokio::pin!(changed);
            let mut changed = Gated::new(changed);
            tokio::select! {
                biased;
                res = c.as_mut() => Woke::Done(res),
                _ = &mut sleep => Woke::Timer,
                changed = &mut changed => Woke::Shutdown(changed.is_ok()),
            }
        };
        match woke {
            Woke::Done(res) => {
                if let Err(e) = res {
                    tracing::debug!("connection ended: {e}");
                }
                return true;
            }
            Woke::Timer => {
                let first = served.requests.load(Ordering::Relaxed) == 0;
                let idle = idle_limits(served, limits);
                if Instant::now() >= idle_deadline(activity, idle, graceful, first) {
                    // Between requests: close cleanly. Before the first
                    // request, or stalled in one: drop.
                    if activity.in_flight.load(Ordering::Relaxed) == 0
                        && !activity.write_blocked.load(Ordering::Relaxed)
                        && !graceful
                        && !first
                    {
                        begin_close(c.as_mut(), &mut graceful_shutdown, activity, &mut graceful);
                    } else {
                        return false;
                    }
                }
            }
            Woke::Shutdown(open) => {
                let state = if open {
                    *shutdown.borrow()
                } else {
                    Shutdown::Immediate
                };
                match state {
                    Shutdown::Running => {}
                    Shutdown::Graceful => {
                        if !graceful {
                            begin_close(
                                c.as_mut(),
                                &mut graceful_shutdown,
                                activity,
                                &mut graceful,
                            );
                        }
                    }
                    Shutdown::Immediate => return false,
                }
            }
        }
    }
}

/// What woke [`drive`].
enum Woke<E> {
    Done(Result<(), E>),
    Timer,
    Shutdown(bool),
}

/// Starts a connection's graceful close. The closing window (see
/// [`idle_deadline`]) counts from now: from the last activity, it could
/// be over already (at the keep-alive limit, or a stop after a long idle
/// time), and the connection was dropped before hyper wrote its GOAWAY
/// or close_notify.
fn begin_close<F, G: FnMut(Pin<&mut F>)>(
    c: Pin<&mut F>,
    graceful_shutdown: &mut G,
    activity: &Activity,
    graceful: &mut bool,
) {
    *graceful = true;
    activity.touch();
    graceful_shutdown(c);
}

/// Waits for a connection's tunnel to end; the server stopping at once
/// ends it.
pub async fn wait_tunnel(
    mut tunnel: tokio::task::JoinHandle<()>,
    mut shutdown: watch::Receiver<Shutdown>,
) {
    loop {
        tokio::select! {
            _ = &mut tunnel => return,
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() == Shutdown::Immediate {
                    tunnel.abort();
                    return;
                }
            }
        }
    }
}

/// The read, write and keep-alive idle limits in force: the latest
/// routed request's (conditions may set them), the listener's before.
fn idle_limits(served: &ConnInfo, l: &ConnLimits) -> (Duration, Duration, Duration) {
    served
        .idle
        .get((l.read_idle, l.write_idle, l.keep_alive_idle))
}

/// When the connection's current idle limit runs out.
/// `idle`: the read, write and keep-alive limits ([`idle_limits`]).
fn idle_deadline(
    a: &Activity,
    idle: (Duration, Duration, Duration),
    graceful: bool,
    first_request: bool,
) -> Instant {
    let (read, write, keep_alive) = idle;
    let limit = if graceful {
        // Closing: give the peer a moment to take the last bytes.
        Duration::from_secs(5)
    } else if a.write_blocked.load(Ordering::Relaxed) {
        // The client does not take what is written to it.
        write
    } else if a.in_flight.load(Ordering::Relaxed) > 0 {
        // Reading the request, or its answer is on its way.
        read.max(write)
    } else if first_request {
        read
    } else {
        keep_alive
    };
    a.last() + limit
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Records how bytes were written to it.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<(&'static str, Vec<u8>)>,
        /// The most one `sendfile` sends (a socket with little room).
        file_room: Option<usize>,
    }

    impl SendFile for Recorder {
        fn sends_files(&self) -> bool {
            true
        }

        fn poll_send_file(
            &mut self,
            _: &mut Context<'_>,
            file: &std::fs::File,
            offset: u64,
            len: usize,
        ) -> Poll<io::Result<usize>> {
            let mut buf = vec![0; len.min(self.file_room.unwrap_or(usize::MAX))];
            std::os::unix::fs::FileExt::read_exact_at(file, &mut buf, offset)?;
            let n = buf.len();
            self.calls.push(("sendfile", buf));
            Poll::Ready(Ok(n))
        }

        fn poll_write_more(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.calls.push(("send_more", buf.to_vec()));
            Poll::Ready(Ok(buf.len()))
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.calls.push(("send", data.to_vec()));
            Poll::Ready(Ok(data.len()))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            let n = all.len();
            self.calls.push(("writev", all));
            Poll::Ready(Ok(n))
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

    fn tracked(io: Recorder, files: Option<Arc<FileSends>>) -> Tracked<Recorder> {
        Tracked {
            io,
            activity: Arc::new(Activity {
                last_ms: AtomicU64::new(u64::MAX),
                in_flight: AtomicUsize::new(0),
                write_blocked: AtomicBool::new(false),
            }),
            files,
        }
    }

    async fn written(parts: &[&[u8]]) -> Vec<(&'static str, Vec<u8>)> {
        let mut t = tracked(Recorder::default(), None);
        let slices: Vec<io::IoSlice<'_>> = parts.iter().map(|p| io::IoSlice::new(p)).collect();
        let n = t.write_vectored(&slices).await.expect("write");
        assert_eq!(n, parts.iter().map(|p| p.len()).sum::<usize>());
        if n > 0 {
            assert_ne!(
                t.activity.last_ms.load(Ordering::Relaxed),
                u64::MAX,
                "activity noted"
            );
        }
        t.io.calls
    }

    #[tokio::test]
    async fn small_vectored_writes_go_out_as_one_send() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        // a head and a short body: joined, in order
        assert_eq!(
            written(&[head, b"", b"hello"]).await,
            vec![("send", [&head[..], b"hello"].concat())]
        );
        // empty parts are skipped; a single part is sent as it is, whatever its size
        let big = vec![7u8; SMALL_WRITE * 4];
        assert_eq!(
            written(&[b"", &big, b""]).await,
            vec![("send", big.clone())]
        );
        // exactly SMALL_WRITE in all is still joined; one byte more is not
        let a = vec![1u8; SMALL_WRITE - 10];
        assert_eq!(
            written(&[&a, b"0123456789"]).await,
            vec![("send", [&a[..], b"0123456789"].concat())]
        );
        assert_eq!(
            written(&[&a, b"0123456789X"]).await,
            vec![("writev", [&a[..], b"0123456789X"].concat())]
        );
        // a head and a large body: no copy
        assert_eq!(
            written(&[head, &big]).await,
            vec![("writev", [&head[..], &big].concat())]
        );
    }

    #[test]
    fn joinable_counts_non_empty_parts() {
        let s = |p: &'static [u8]| io::IoSlice::new(p);
        assert_eq!(joinable(&[]), Join::No);
        assert_eq!(joinable(&[s(b""), s(b"")]), Join::No);
        assert_eq!(joinable(&[s(b""), s(b"ab")]), Join::One(1));
        assert_eq!(joinable(&[s(b"ab"), s(b""), s(b"c")]), Join::Few(3));
    }

    /// A file of `len` bytes that differ from their neighbours.
    fn numbered_file(len: usize) -> (std::fs::File, Vec<u8>) {
        use std::io::Write;
        let content: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut f = tempfile::tempfile().expect("temp file");
        f.write_all(&content).expect("write");
        (f, content)
    }

    /// The data of a file body's frames (stand-ins among them).
    async fn chunks(mut body: crate::server::sendfile::FileBody) -> Vec<bytes::Bytes> {
        use http_body_util::BodyExt;
        let mut out = Vec::new();
        while let Some(f) = body.frame().await {
            out.push(f.expect("frame").into_data().expect("data"));
        }
        out
    }

    /// Writes `parts` as hyper's writer does: vectored, moving past what
    /// each write reports, until all is written or a write fails.
    async fn write_all(t: &mut Tracked<Recorder>, parts: &[&[u8]]) -> io::Result<()> {
        let mut done = 0;
        let total: usize = parts.iter().map(|p| p.len()).sum();
        while done < total {
            let mut skip = done;
            let mut slices = Vec::new();
            for p in parts {
                if skip >= p.len() {
                    skip -= p.len();
                    continue;
                }
                slices.push(io::IoSlice::new(&p[skip..]));
                skip = 0;
            }
            done += t.write_vectored(&slices).await?;
        }
        Ok(())
    }

    /// A response head and a file part: the head is sent held for more
    /// (MSG_MORE), then the file's bytes with sendfile, each call going on
    /// where the last one stopped; the queue ends empty.
    #[tokio::test]
    async fn a_file_part_goes_out_with_sendfile_after_its_head() {
        let (file, content) = numbered_file(100_000);
        let sends = Arc::new(FileSends::default());
        let body =
            crate::server::sendfile::FileBody::new(file, sends.clone(), &[(10, 99_999)], None);
        let body = chunks(body).await;
        assert_eq!(body.len(), 1);
        let io = Recorder {
            file_room: Some(30_000),
            ..Recorder::default()
        };
        let mut t = tracked(io, Some(sends.clone()));
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 99990\r\n\r\n";
        write_all(&mut t, &[head, &body[0]]).await.expect("written");
        assert_eq!(
            t.io.calls,
            vec![
                ("send_more", head.to_vec()),
                ("sendfile", content[10..30_010].to_vec()),
                ("sendfile", content[30_010..60_010].to_vec()),
                ("sendfile", content[60_010..90_010].to_vec()),
                ("sendfile", content[90_010..].to_vec()),
            ]
        );
        assert_eq!(sends.queued(), 0);
        assert_ne!(t.activity.last_ms.load(Ordering::Relaxed), u64::MAX);
    }

    /// Multipart ranges: headers and line ends are written, the ranges
    /// sent from the file, all in body order.
    #[tokio::test]
    async fn multipart_ranges_interleave_writes_and_sendfile() {
        let (file, content) = numbered_file(5000);
        let sends = Arc::new(FileSends::default());
        let parts = vec![
            bytes::Bytes::from_static(b"--b\r\n\r\n"),
            bytes::Bytes::from_static(b"--b\r\nX\r\n\r\n"),
        ];
        let trailer = bytes::Bytes::from_static(b"--b--\r\n");
        let body = crate::server::sendfile::FileBody::new(
            file,
            sends.clone(),
            &[(0, 9), (4000, 4999)],
            Some((parts, trailer)),
        );
        let body = chunks(body).await;
        let mut t = tracked(Recorder::default(), Some(sends.clone()));
        let refs: Vec<&[u8]> = body.iter().map(|b| &b[..]).collect();
        write_all(&mut t, &refs).await.expect("written");
        assert_eq!(
            t.io.calls,
            vec![
                ("send_more", b"--b\r\n\r\n".to_vec()),
                ("sendfile", content[..10].to_vec()),
                ("send_more", b"\r\n--b\r\nX\r\n\r\n".to_vec()),
                ("sendfile", content[4000..].to_vec()),
                ("send", b"\r\n--b--\r\n".to_vec()),
            ]
        );
        assert_eq!(sends.queued(), 0);
    }

    /// A stand-in that is not the rest of the next queued part, or one on
    /// a connection that does not send files, fails the write: nothing of
    /// it goes out (never its zero bytes, never another part's bytes).
    #[tokio::test]
    async fn a_stand_in_out_of_order_fails_the_write() {
        let (file, _) = numbered_file(1000);
        let sends = Arc::new(FileSends::default());
        let body = crate::server::sendfile::FileBody::new(file, sends.clone(), &[(0, 99)], None);
        let body = chunks(body).await;
        let mut t = tracked(Recorder::default(), Some(sends.clone()));
        // (empty parts before a stand-in are nothing to write first)
        let e = t
            .write_vectored(&[io::IoSlice::new(b""), io::IoSlice::new(&body[0][5..])])
            .await
            .expect_err("out of order");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // a part of it, as if the start had been written already
        let e = t.write(&body[0][5..]).await.expect_err("out of order");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // not all of it
        let e = t.write(&body[0][..50]).await.expect_err("short");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(t.io.calls.is_empty());
        assert_eq!(t.write(&body[0]).await.expect("in order"), 100);
        // nothing queued any more
        let e = t.write(&body[0]).await.expect_err("nothing queued");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let mut plain = tracked(Recorder::default(), None);
        let e = plain.write(&body[0]).await.expect_err("no file sending");
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        assert!(plain.io.calls.is_empty());
    }
}
