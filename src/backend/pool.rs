//! Backend connections: choosing a host and a proc, connecting with
//! lighttpd's retries and disable-time, and the upstream keep-alive pool
//! (spec backend-manager.md §10–§11).
//!
//! ```text
//! acquire ─► select_host (balance) ─► select_proc ─► idle pooled conn? ─► connect
//!               ▲        none usable: on-demand spawn, else 503            │ refused / timeout:
//!               └──────────── up to 5 tries (1 after a timeout) ◄──────────┘ disable proc
//! release ─► response complete and reusable? ─► idle pool of this thread
//! ```
//!
//! | counter | +1 | −1 |
//! |---|---|---|
//! | host load | host chosen for a request | request done ([`HostGuard`] dropped) |
//! | proc load | connect starts / idle conn taken | conn dropped or back in the pool |
//!
//! Idle connections stay on the worker thread (and runtime) that opened
//! them, keyed by proc and child generation; one that has been idle longer
//! than [`IDLE_MAX`] or that the backend closed is dropped, never reused.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_util::either::Either;

use super::balance::{Balance, BalanceInput, select_host, select_proc};
use super::{Extension, Host, Proc, ProcAddr, Registry};
use crate::server::clock;

/// How long an idle upstream connection may wait for its next request.
/// Below the keep-alive timeouts of common backends (2 s and more), so
/// the backend rarely closes a connection just as it is reused.
pub const IDLE_MAX: Duration = Duration::from_secs(2);

/// Idle connections kept per proc and worker thread.
const MAX_IDLE_PER_PROC: usize = 256;

/// Connect tries per request (lighttpd: 5).
const MAX_TRIES: usize = 5;

/// A connection to a backend.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix stream socket.
    Unix(UnixStream),
}

impl Stream {
    /// True when the peer has not closed it and sent nothing unasked.
    fn is_clean(&self) -> bool {
        let mut b = [0u8; 1];
        let r = match self {
            Stream::Tcp(s) => s.try_read(&mut b),
            Stream::Unix(s) => s.try_read(&mut b),
        };
        matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Waits until the stream has something to read (or an error, or
    /// EOF) without reading it.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => s.poll_read_ready(cx),
            Stream::Unix(s) => s.poll_read_ready(cx),
        }
    }

    /// Half-closes the write side (`tcp-fin-propagate`).
    pub fn shutdown_write(&self) {
        let fd = match self {
            Stream::Tcp(s) => std::os::fd::AsRawFd::as_raw_fd(s),
            Stream::Unix(s) => std::os::fd::AsRawFd::as_raw_fd(s),
        };
        // SAFETY: shutdown(2) on a descriptor this stream owns.
        unsafe {
            libc::shutdown(fd, libc::SHUT_WR);
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, data),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, data),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl Stream {
    /// The read and write sides, usable at the same time (tokio's borrowed
    /// split: no lock between them).
    pub fn halves(&mut self) -> (ReadSide<'_>, WriteSide<'_>) {
        match self {
            Stream::Tcp(s) => {
                let (r, w) = s.split();
                (Either::Left(r), Either::Left(w))
            }
            Stream::Unix(s) => {
                let (r, w) = s.split();
                (Either::Right(r), Either::Right(w))
            }
        }
    }
}

/// The read side of [`Stream::halves`].
pub type ReadSide<'a> = Either<tokio::net::tcp::ReadHalf<'a>, tokio::net::unix::ReadHalf<'a>>;

/// The write side of [`Stream::halves`].
pub type WriteSide<'a> = Either<tokio::net::tcp::WriteHalf<'a>, tokio::net::unix::WriteHalf<'a>>;

/// Sends up to `len` bytes of `file` from `offset` on write side `w`
/// (`sendfile(2)`).
pub fn poll_send_file(
    w: &WriteSide<'_>,
    cx: &mut Context<'_>,
    file: &std::fs::File,
    offset: u64,
    len: usize,
) -> Poll<io::Result<usize>> {
    use crate::server::sendfile::poll_send_file;
    match w {
        Either::Left(w) => poll_send_file(w.as_ref(), cx, file, offset, len),
        Either::Right(w) => poll_send_file(w.as_ref(), cx, file, offset, len),
    }
}

/// Opens a connection to `addr`, giving up after `timeout` (None: never).
pub async fn connect(addr: &ProcAddr, timeout: Option<Duration>) -> io::Result<Stream> {
    let fut = async {
        match addr {
            ProcAddr::Tcp(a) => {
                let s = TcpStream::connect(a).await?;
                let _ = s.set_nodelay(true);
                Ok(Stream::Tcp(s))
            }
            ProcAddr::Unix(p) => Ok(Stream::Unix(UnixStream::connect(p).await?)),
        }
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, fut).await.unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "Connection timed out",
            ))
        }),
        None => fut.await,
    }
}

/// A request's claim on a host: its load while the request runs.
#[derive(Debug)]
pub struct HostGuard(pub Arc<Host>);

impl HostGuard {
    fn new(h: Arc<Host>) -> HostGuard {
        h.load.fetch_add(1, Ordering::Relaxed);
        HostGuard(h)
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        self.0.load.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a connection in its proc's load while it exists.
#[derive(Debug)]
pub struct LoadGuard(Arc<Proc>);

impl LoadGuard {
    fn new(p: Arc<Proc>) -> LoadGuard {
        p.load.fetch_add(1, Ordering::Relaxed);
        LoadGuard(p)
    }
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.0.load.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A backend connection in use by a request (counts in its proc's load).
#[derive(Debug)]
pub struct Conn {
    /// The socket.
    pub stream: Stream,
    /// The proc it goes to.
    pub proc: Arc<Proc>,
    /// The proc's child generation when it was opened.
    pub generation: u64,
    /// Taken from the idle pool (a failure before any response byte may
    /// be the backend closing it just now: the request may be retried).
    pub reused: bool,
    /// Its read buffer, kept across requests (its allocation is reused once
    /// the bytes handed out of it are gone).
    pub buf: BytesMut,
    _load: LoadGuard,
}

impl Conn {
    fn new(stream: Stream, buf: BytesMut, proc: Arc<Proc>, generation: u64, reused: bool) -> Conn {
        Conn {
            stream,
            buf,
            _load: LoadGuard::new(proc.clone()),
            proc,
            generation,
            reused,
        }
    }

    /// Records use (for idle reaping of spawned procs).
    pub fn touch(&self) {
        self.proc
            .last_used
            .store(clock::now_ms(), Ordering::Relaxed);
    }

    /// Takes the socket out, with the guard that keeps it counted in its
    /// proc's load (for splitting it into halves).
    pub fn detach(self) -> (Stream, LoadGuard) {
        let Conn { stream, _load, .. } = self;
        (stream, _load)
    }

    /// Puts a connection whose exchange completed cleanly into this
    /// thread's idle pool.
    pub fn release(self) {
        self.touch();
        let idle = Idle {
            since_ms: clock::now_ms(),
            generation: self.generation,
            uid: self.proc.uid,
            stream: Some((self.stream, self.buf)),
        };
        POOL.with(|p| p.borrow_mut().put(idle));
        ensure_sweeper();
    }
}

struct Idle {
    stream: Option<(Stream, BytesMut)>,
    generation: u64,
    uid: u64,
    since_ms: u64,
}

/// Idle connections by proc (a short list: a thread talks to few procs).
#[derive(Default)]
struct Pool {
    idle: Vec<(u64, Vec<Idle>)>,
    sweeping: bool,
}

impl Pool {
    fn list(&mut self, uid: u64) -> Option<&mut Vec<Idle>> {
        self.idle
            .iter_mut()
            .find(|(u, _)| *u == uid)
            .map(|(_, l)| l)
    }

    fn put(&mut self, idle: Idle) {
        let list = match self.idle.iter().position(|(u, _)| *u == idle.uid) {
            Some(i) => &mut self.idle[i].1,
            None => {
                self.idle.push((idle.uid, Vec::new()));
                let last = self.idle.len() - 1;
                &mut self.idle[last].1
            }
        };
        if list.len() >= MAX_IDLE_PER_PROC {
            list.remove(0);
        }
        list.push(idle);
    }

    fn take(&mut self, proc: &Proc, now: u64) -> Option<(Stream, BytesMut)> {
        let list = self.list(proc.uid)?;
        let generation = proc.generation.load(Ordering::Acquire);
        while let Some(mut c) = list.pop() {
            if c.generation != generation
                || now.saturating_sub(c.since_ms) > IDLE_MAX.as_millis() as u64
            {
                continue;
            }
            if let Some((s, b)) = c.stream.take() {
                if s.is_clean() && b.is_empty() {
                    return Some((s, b));
                }
            }
        }
        None
    }

    /// Drops expired connections; true when nothing is left.
    fn sweep(&mut self, now: u64) -> bool {
        let max = IDLE_MAX.as_millis() as u64;
        self.idle.retain_mut(|(_, list)| {
            list.retain(|c| now.saturating_sub(c.since_ms) <= max);
            !list.is_empty()
        });
        self.idle.is_empty()
    }
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// Starts this thread's sweeper task if it is not running.
fn ensure_sweeper() {
    let start = POOL.with(|p| {
        let mut p = p.borrow_mut();
        !std::mem::replace(&mut p.sweeping, true)
    });
    if !start {
        return;
    }
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        POOL.with(|p| p.borrow_mut().sweeping = false);
        return;
    };
    handle.spawn(async {
        loop {
            tokio::time::sleep(IDLE_MAX / 2).await;
            let done = POOL.with(|p| {
                let mut p = p.borrow_mut();
                let empty = p.sweep(clock::now_ms());
                if empty {
                    p.sweeping = false;
                }
                empty
            });
            if done {
                break;
            }
        }
    });
}

/// Idle connections of this thread to `proc` (tests).
pub fn idle_count(proc: &Proc) -> usize {
    POOL.with(|p| {
        p.borrow()
            .idle
            .iter()
            .find(|(u, _)| *u == proc.uid)
            .map_or(0, |(_, l)| l.len())
    })
}

/// Why no backend connection could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquireError {
    /// No usable host, or every try failed: 503. `tried`: a connect was
    /// attempted (not every host was already down).
    Unavailable { tried: bool },
}

/// Options of one acquisition.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    /// `<module>.balance`.
    pub balance: Balance,
    /// What the balancer hashes.
    pub input: BalanceInput<'a>,
    /// Take an idle pooled connection if there is one.
    pub reuse: bool,
    /// `<module>.debug`.
    pub debug: u32,
}

/// Chooses a host and a proc and connects (or reuses an idle connection),
/// with lighttpd's retries: up to 5 tries, disabling each proc that fails,
/// and only one retry after a connect timeout. A host without a usable
/// proc that may spawn one gets it on demand.
pub async fn acquire(
    ext: &Extension,
    registry: &Registry,
    want: &Want<'_>,
) -> Result<(Conn, HostGuard), AcquireError> {
    let mut tries = 0;
    let mut timeouts = 0;
    let mut demanded = false;
    let mut tried = false;
    while tries < MAX_TRIES {
        let Some(host) = select_host(ext, want.balance, &want.input, &[]) else {
            if !demanded && on_demand(ext, registry).await {
                demanded = true;
                continue;
            }
            break;
        };
        let guard = HostGuard::new(host);
        let Some(proc) = select_proc(&guard.0) else {
            tries += 1;
            continue;
        };
        let generation = proc.generation.load(Ordering::Acquire);
        if want.reuse {
            let now = clock::now_ms();
            if let Some((s, b)) = POOL.with(|p| p.borrow_mut().take(&proc, now)) {
                let c = Conn::new(s, b, proc, generation, true);
                return Ok((c, guard));
            }
        }
        let cfg = &guard.0.cfg;
        let timeout =
            (cfg.connect_timeout > 0).then(|| Duration::from_secs(u64::from(cfg.connect_timeout)));
        tried = true;
        // The proc's load counts the connect in progress.
        proc.load.fetch_add(1, Ordering::Relaxed);
        let r = connect(&proc.addr, timeout).await;
        proc.load.fetch_sub(1, Ordering::Relaxed);
        match r {
            Ok(s) => {
                let c = Conn::new(s, BytesMut::new(), proc, generation, false);
                c.touch();
                if want.debug > 0 {
                    tracing::info!("gw - connected to {}", c.proc.addr.describe());
                }
                ext.down_logged.store(false, Ordering::Relaxed);
                return Ok((c, guard));
            }
            Err(e) => {
                tracing::error!(
                    "establishing connection failed: socket: {}: {}",
                    proc.addr.describe(),
                    os_reason(&e)
                );
                proc.disable(clock::now_ms(), cfg.disable_time, generation);
                guard.0.changed.notify_waiters();
                tries += 1;
                if e.kind() == io::ErrorKind::TimedOut {
                    timeouts += 1;
                    if timeouts > 1 {
                        break;
                    }
                }
            }
        }
    }
    Err(AcquireError::Unavailable { tried })
}

/// The OS's wording of an error, without Rust's `(os error N)` suffix.
pub fn os_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Asks the process manager for a proc of a spawnable host of `ext` that
/// has none usable, and waits (bounded) until it runs. False when no host
/// can spawn.
async fn on_demand(ext: &Extension, registry: &Registry) -> bool {
    let candidate = ext.hosts.iter().find(|h| {
        h.cfg
            .bin
            .as_ref()
            .is_some_and(|b| b.max_procs > 0 && !h.is_usable())
    });
    let Some(host) = candidate else { return false };
    let changed = host.changed.notified();
    tokio::pin!(changed);
    changed.as_mut().enable();
    registry.demand(host);
    let wait = Duration::from_secs(u64::from(host.cfg.connect_timeout.max(1)));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if host.is_usable() {
            return true;
        }
        if tokio::time::timeout_at(deadline, changed.as_mut())
            .await
            .is_err()
        {
            return host.is_usable();
        }
        changed.set(host.changed.notified());
        changed.as_mut().enable();
    }
}
