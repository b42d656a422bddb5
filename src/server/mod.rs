//! The server: from a loaded configuration to listening sockets and served
//! connections, signals and restarts (lighttpd: `server.c`, `network.c`).
//!
//! ```text
//! prepare(config)      module list + support check, routing table, listeners, limits
//! bind / inherit       socket2, LISTEN_FDS
//! error log            opened before privileges are dropped
//! daemonize            without -D: fork, new session, parent exits when we are up
//! pid file, setuid     after binding
//! runtime              accept loops → conn::serve per connection
//! signals              SIGTERM stop now · SIGINT finish in-flight (graceful timeout)
//!                      SIGUSR1 re-read the config, new connections use it · SIGHUP reopen logs
//! ```

pub mod clock;
pub mod conn;
pub mod errorlog;
pub mod gate;
pub mod h2c;
pub mod listener;
pub mod process;
pub mod sendfile;
pub mod stek;
pub mod timers;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use bstr::{BString, ByteSlice};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Notify, Semaphore, watch};
use tracing::Level;

use crate::config::value::{Value, show};
use crate::config::{self, Config, Diagnostic, Environment};
use crate::request::target::ParseOpts;
use crate::request::{ConnInfo, Site};
use crate::routing::settings::{to_bool, to_number};
use crate::routing::{Client, CondInput, RoutingTable, SocketId, support};
use conn::{ConnLimits, Shutdown};
use errorlog::{ErrorLog, ErrorLogLayer};
use listener::{Bound, Inherited, ListenerConfig};

/// Command-line choices that shape the run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The `-f` argument, to re-read on SIGUSR1.
    pub config_path: Vec<u8>,
    /// `-D`.
    pub foreground: bool,
    /// `-i SECS`: exit after this long without a connection.
    pub idle_exit: Option<Duration>,
    /// `-1`: serve the connection on standard input, then exit.
    pub single: bool,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A socket could not be set up.
    #[error(transparent)]
    Listen(#[from] listener::ListenError),
    /// The error log could not be opened.
    #[error(transparent)]
    ErrorLog(#[from] errorlog::ErrorLogError),
    /// Daemonizing, the pid file or the privilege switch failed.
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    /// The runtime could not be built.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A `bin-path` backend could not be started.
    #[error(transparent)]
    Spawn(#[from] crate::backend::spawn::SpawnError),
}

/// Server-wide settings (top level only).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Listening sockets.
    pub listeners: Vec<ListenerConfig>,
    /// Connection limits.
    pub limits: ConnLimits,
    /// `server.max-connections`.
    pub max_connections: usize,
    /// `server.pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `server.errorlog`.
    pub errorlog: Option<String>,
    /// `server.errorlog-use-syslog` → the facility.
    pub syslog: Option<libc::c_int>,
    /// `server.username`.
    pub username: Option<String>,
    /// `server.groupname`.
    pub groupname: Option<String>,
    /// `server.feature-flags` "server.graceful-shutdown-timeout".
    pub graceful_timeout: Duration,
}

/// A configuration ready to serve.
#[derive(Debug)]
pub struct Prepared {
    /// What requests read.
    pub site: Arc<Site>,
    /// What the server reads.
    pub server: ServerSettings,
    /// Warnings found while preparing (module/directive support).
    pub warnings: Vec<Diagnostic>,
}

fn top<'a>(c: &'a Config, key: &str) -> Option<&'a Value> {
    c.top().entries.get(key.as_bytes()).map(|e| &e.value)
}

fn top_str(c: &Config, key: &str) -> Option<String> {
    top(c, key)
        .and_then(|v| v.as_str())
        .map(|s| show(s))
        .filter(|s| !s.is_empty())
}

fn feature(c: &Config, name: &str) -> Option<Value> {
    top(c, "server.feature-flags")
        .and_then(|v| v.as_array())
        .and_then(|a| a.get(name.as_bytes()))
        .map(|e| e.value.clone())
}

/// Checks that wick can serve a configuration and compiles it. `-tt` runs
/// this too, so it reports the same problems a start would.
pub fn prepare(config: &Config) -> Result<Prepared, Vec<Diagnostic>> {
    prepare_opts(config, None, true)
}

/// [`prepare`] for `-tt`: everything is checked, but no access log is
/// opened (no file created, no pipe program started).
pub fn check(config: &Config) -> Result<Prepared, Vec<Diagnostic>> {
    prepare_opts(config, None, false)
}

/// [`prepare`], taking over unchanged bin-path hosts (and their children)
/// from `previous` (SIGUSR1).
pub fn prepare_with(
    config: &Config,
    previous: Option<&crate::backend::Registry>,
) -> Result<Prepared, Vec<Diagnostic>> {
    prepare_opts(config, previous, true)
}

fn prepare_opts(
    config: &Config,
    previous: Option<&crate::backend::Registry>,
    open_logs: bool,
) -> Result<Prepared, Vec<Diagnostic>> {
    let report = config::modules::check_modules(config);
    let mut diags = report.diagnostics;
    diags.extend(support::check_support(config, &report.modules));
    let registry = Arc::new(match previous {
        Some(p) => crate::backend::Registry::reusing(p),
        None => crate::backend::Registry::new(),
    });
    let resolve = crate::modules::proxy::config::system_resolve;
    let mut gw = crate::modules::proxy::config::GwContext {
        registry: &registry,
        resolve: &resolve,
        warnings: Vec::new(),
        proxy: report.modules.iter().any(|m| m == "mod_proxy"),
        wstunnel: report.modules.iter().any(|m| m == "mod_wstunnel"),
    };
    let gw_loaded = gw.proxy || gw.wstunnel;
    let loaded = crate::routing::settings::Loaded::from_modules(&report.modules);
    let mut logs = crate::modules::accesslog::SinkRegistry::new();
    let routing = match RoutingTable::compile_full(
        config,
        &loaded,
        open_logs.then_some(&mut logs),
        gw_loaded.then_some(&mut gw),
    ) {
        Ok(r) => Some(r),
        Err(e) => {
            diags.extend(e);
            None
        }
    };
    diags.append(&mut gw.warnings);
    let listeners = match listener::listeners(config) {
        Ok(l) => l,
        Err(d) => {
            diags.push(d);
            Vec::new()
        }
    };
    let h2 = feature(config, "server.h2proto").is_none_or(|v| to_bool(&v));
    let tls = match &routing {
        Some(r) => match tls::configure(config, r, &listeners, h2, &mut diags) {
            Ok(t) => t,
            Err(d) => {
                diags.extend(d);
                tls::TlsListeners::default()
            }
        },
        None => tls::TlsListeners::default(),
    };
    // (reported with the other errors, as lighttpd reports them all)
    let sendfile = network_backend(config).unwrap_or_else(|d| {
        diags.push(d);
        true
    });
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    let Some(routing) = routing else {
        return Err(diags);
    };
    let legacy = |key: &str| top(config, key).map(to_bool);
    let parse = ParseOpts::from_entries(top(config, "server.http-parseopts"), legacy);
    if let Some(conflict) = parse.conflict() {
        let span = config
            .top()
            .entries
            .get(b"server.http-parseopts")
            .map(|e| e.span);
        return Err(vec![
            Diagnostic::error(conflict.to_string())
                .at_opt(span)
                .help("a path cannot be both decoded and refused for the same thing; disable one of the two")
                .lighttpd(conflict.to_string()),
        ]);
    }
    let base = &routing.base;
    let max_fds = top(config, "server.max-fds")
        .map(to_number)
        .filter(|n| *n > 0);
    let max_fds = raise_fd_limit(max_fds);
    let max_connections = top(config, "server.max-connections")
        .map(to_number)
        .filter(|n| *n > 0)
        .map_or(max_fds / 3, |n| (n as usize).min(max_fds / 2))
        .max(1);
    let server = ServerSettings {
        listeners,
        limits: ConnLimits {
            read_idle: Duration::from_secs(u64::from(base.max_read_idle)),
            write_idle: Duration::from_secs(u64::from(base.max_write_idle)),
            keep_alive_idle: Duration::from_secs(u64::from(base.max_keep_alive_idle)),
            shortest_idle: Duration::from_secs(u64::from(
                routing.shortest_idle().unwrap_or(u32::MAX),
            )),
            max_header_bytes: top(config, "server.max-request-field-size")
                .map_or(8192, |v| to_number(v) as usize),
            http2: h2,
            h2c: h2 && feature(config, "server.h2c").is_none_or(|v| to_bool(&v)),
            sendfile,
        },
        max_connections,
        pid_file: top_str(config, "server.pid-file").map(PathBuf::from),
        errorlog: top_str(config, "server.errorlog"),
        syslog: top(config, "server.errorlog-use-syslog")
            .is_some_and(to_bool)
            .then(|| {
                errorlog::syslog_facility(top_str(config, "server.syslog-facility").as_deref())
            }),
        username: top_str(config, "server.username"),
        groupname: top_str(config, "server.groupname"),
        graceful_timeout: Duration::from_secs(
            feature(config, "server.graceful-shutdown-timeout")
                .map_or(8, |v| u64::from(to_number(&v))),
        ),
    };
    let logging = logs.sinks().next().is_some();
    Ok(Prepared {
        site: Arc::new(Site {
            routing,
            parse,
            files: crate::modules::filecache::FileCache::new(
                top_str(config, "server.stat-cache-engine").as_deref() != Some("disable"),
            ),
            registry,
            logging,
            logs,
            tls,
            order: crate::request::ModuleOrder::from_modules(&report.modules),
        }),
        server,
        warnings: diags,
    })
}

/// `server.network-backend`: whether files go out with `sendfile(2)`
/// (the default, and every sendfile backend lighttpd takes on Linux) or
/// are read and written (`write`, `writev`). lighttpd refuses to start on
/// a name it does not know; so does wick. (A value that is no string is
/// the type check's to report.)
fn network_backend(config: &Config) -> Result<bool, Diagnostic> {
    let Some(e) = config.top().entries.get(&b"server.network-backend"[..]) else {
        return Ok(true);
    };
    let Some(name) = e.value.as_str() else {
        return Ok(true);
    };
    match name.as_slice() {
        b"" | b"sendfile" | b"linux-sendfile" | b"freebsd-sendfile" | b"solaris-sendfilev" => {
            Ok(true)
        }
        b"write" | b"writev" => Ok(false),
        _ => {
            let name = show(name);
            Err(
                Diagnostic::error(format!("unknown server.network-backend \"{name}\""))
                    .at(e.span)
                    .help("\"sendfile\" (the default) or \"writev\" (files read and written, no sendfile)")
                    .lighttpd(format!("server.network-backend has an unknown value: {name}")),
            )
        }
    }
}

/// Raises the soft descriptor limit towards `wanted` (or the hard limit)
/// and returns the limit in effect (lighttpd: `server.max-fds`).
fn raise_fd_limit(wanted: Option<u32>) -> usize {
    // SAFETY: getrlimit/setrlimit on a struct we own.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 1024;
        }
        let target = match wanted {
            Some(w) => libc::rlim_t::from(w).min(rl.rlim_max),
            None => rl.rlim_max.min(4096).max(rl.rlim_cur),
        };
        if target != rl.rlim_cur {
            let new = libc::rlimit {
                rlim_cur: target,
                rlim_max: rl.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &new) == 0 {
                rl.rlim_cur = target;
            }
        }
        rl.rlim_cur as usize
    }
}

/// A listener with its identity for `$SERVER["socket"]`.
struct Listening {
    bound: Bound,
    socket: SocketId,
}

fn socket_id(l: &ListenerConfig, bound: &Bound) -> SocketId {
    let addr = bound.local_ip();
    SocketId {
        token: l.token.clone(),
        port: addr.map_or(0, |a| a.port()),
        ip: addr.map(|a| a.ip()),
    }
}

/// Binds (or takes over) every listener.
fn bind_all(
    server: &ServerSettings,
    inherited: &mut Inherited,
) -> Result<Vec<Listening>, ServerError> {
    let mut out = Vec::new();
    for l in &server.listeners {
        let bound = match inherited.take_matching(l) {
            Some(b) => b,
            None => listener::bind(l)?,
        };
        let socket = socket_id(l, &bound);
        out.push(Listening { bound, socket });
    }
    Ok(out)
}

/// Serves a loaded configuration until a signal stops it.
pub fn run(
    opts: RunOptions,
    prepared: Prepared,
    env: Environment,
    mut inherited: Inherited,
) -> Result<(), ServerError> {
    let server = prepared.server.clone();
    let mut listening = bind_all(&server, &mut inherited)?;
    for rest in inherited.rest() {
        let socket = SocketId {
            token: BString::from(rest.describe()),
            port: rest.local_ip().map_or(0, |a| a.port()),
            ip: rest.local_ip().map(|a| a.ip()),
        };
        listening.push(Listening {
            bound: rest,
            socket,
        });
    }
    let level = if prepared.site.routing.base.log_request_handling
        || prepared.site.routing.base.log_condition_handling
    {
        Level::DEBUG
    } else {
        Level::INFO
    };
    let log = Arc::new(
        if opts.foreground && server.errorlog.is_none() && server.syslog.is_none() {
            ErrorLog::stderr(level)
        } else {
            ErrorLog::open(server.errorlog.as_deref(), server.syslog, level)?
        },
    );
    let readiness = if opts.foreground || opts.single {
        process::Readiness::none()
    } else {
        process::daemonize()?
    };
    if let Some(p) = &server.pid_file {
        process::write_pid_file(p)?;
    }
    process::drop_privileges(server.username.as_deref(), server.groupname.as_deref())?;
    // The main thread handles signals; worker threads (one per CPU we may
    // run on) each serve connections on a single-threaded runtime.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    let subscriber = tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        ErrorLogLayer(log.clone()),
    );
    let _ = tracing::subscriber::set_global_default(subscriber);
    let result = runtime.block_on(async {
        // bin-path backends start after the privilege switch and before
        // the server reports itself ready; a failure refuses the start.
        let procs = start_procs(&prepared.site).await?;
        let result = if opts.single {
            serve_stdin(prepared.site, server.limits).await
        } else {
            serve_all(
                opts,
                prepared.site,
                server.clone(),
                listening,
                log.clone(),
                env,
                readiness,
                &procs,
            )
            .await
        };
        procs.shutdown(PROC_STOP_TIMEOUT).await;
        result
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Some(p) = &server.pid_file {
        process::remove_pid_file(p);
    }
    log.close();
    result
}

/// How long stopping waits for `bin-path` children after their
/// `kill-signal` before it sends SIGKILL.
const PROC_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Spawns the `min-procs` children of every `bin-path` host and starts
/// the manager that keeps them (on the main thread's runtime).
async fn start_procs(site: &Site) -> Result<crate::backend::spawn::ProcManagerHandle, ServerError> {
    use crate::backend::spawn::{ManagerOptions, OsSpawner, ProcManager, coarse_clock};
    let manager = ProcManager::start(
        &site.registry.all(),
        Arc::new(OsSpawner::new()),
        coarse_clock(),
        ManagerOptions::default(),
    )
    .await?;
    Ok(manager.run(site.registry.take_demand()))
}

/// Counts live connections and wakes waiters when it reaches zero.
#[derive(Debug, Default)]
struct Tracker {
    live: AtomicUsize,
    idle: Notify,
}

impl Tracker {
    fn enter(self: &Arc<Self>) -> TrackerGuard {
        self.live.fetch_add(1, Ordering::SeqCst);
        TrackerGuard(self.clone())
    }
}

struct TrackerGuard(Arc<Tracker>);

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// What every new connection reads: the current configuration generation.
#[derive(Debug, Clone)]
struct Generation {
    site: Arc<Site>,
    limits: ConnLimits,
}

// Everything the main loop owns, handed over once.
#[allow(clippy::too_many_arguments)]
async fn serve_all(
    opts: RunOptions,
    site: Arc<Site>,
    server: ServerSettings,
    listening: Vec<Listening>,
    log: Arc<ErrorLog>,
    env: Environment,
    readiness: process::Readiness,
    procs: &crate::backend::spawn::ProcManagerHandle,
) -> Result<(), ServerError> {
    use tokio::signal::unix::{SignalKind, signal};
    let sig = |k: SignalKind| signal(k).map_err(ServerError::Runtime);
    let mut sigterm = sig(SignalKind::terminate())?;
    let mut sigint = sig(SignalKind::interrupt())?;
    let mut sigusr1 = sig(SignalKind::user_defined1())?;
    let mut sighup = sig(SignalKind::hangup())?;

    let (shutdown_tx, shutdown_rx) = watch::channel(Shutdown::Running);
    let (gen_tx, gen_rx) = watch::channel(Generation {
        site,
        limits: server.limits,
    });
    let tracker = Arc::new(Tracker::default());
    let permits = Arc::new(Semaphore::new(server.max_connections));
    let (stop_accept_tx, stop_accept_rx) = watch::channel(false);
    for l in &listening {
        tracing::info!("listening on {}", l.bound.describe());
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut workers = Vec::with_capacity(threads);
    for i in 0..threads {
        let mut mine = Vec::with_capacity(listening.len());
        for l in &listening {
            let bound = l.bound.try_clone().map_err(ServerError::Runtime)?;
            mine.push(Listening {
                bound,
                socket: l.socket.clone(),
            });
        }
        let shared = WorkerShared {
            gen_rx: gen_rx.clone(),
            shutdown: shutdown_rx.clone(),
            stop: stop_accept_rx.clone(),
            tracker: tracker.clone(),
            permits: permits.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("wick-worker-{i}"))
            .spawn(move || worker(mine, shared))
            .map_err(ServerError::Runtime)?;
        workers.push(handle);
    }
    drop(listening);
    tracing::info!(
        "server started ({})",
        crate::VERSION_LINE.split(' ').next().unwrap_or("wick")
    );
    readiness.ready();

    let idle_limit = opts.idle_exit;
    let mut last_busy = tokio::time::Instant::now();
    let graceful = loop {
        let idle_check = async {
            match idle_limit {
                Some(d) => tokio::time::sleep_until(last_busy + d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sigterm.recv() => break false,
            _ = sigint.recv() => break true,
            _ = sighup.recv() => {
                if let Err(e) = log.reopen() {
                    tracing::error!("{e}");
                }
                for e in gen_tx.borrow().site.logs.reopen() {
                    tracing::error!("{e}");
                }
            }
            _ = sigusr1.recv() => {
                let previous = gen_tx.borrow().site.registry.clone();
                match reload(&opts.config_path, &env, &previous) {
                    Ok(p) => {
                        // Hosts that did not change keep their children.
                        procs.update(&p.site.registry.all(), p.site.registry.take_demand()).await;
                        let _ = gen_tx.send(Generation { site: p.site, limits: p.server.limits });
                        tracing::info!("configuration reloaded");
                    }
                    Err(msg) => tracing::error!("configuration not reloaded: {msg}"),
                }
            }
            _ = idle_check => {
                if tracker.live.load(Ordering::SeqCst) == 0 {
                    tracing::info!("exiting after {}s without activity", idle_limit.map_or(0, |d| d.as_secs()));
                    break true;
                }
                last_busy = tokio::time::Instant::now();
            }
        }
    };
    let _ = stop_accept_tx.send(true);
    if graceful && tracker.live.load(Ordering::SeqCst) > 0 {
        let _ = shutdown_tx.send(Shutdown::Graceful);
        let wait = async {
            while tracker.live.load(Ordering::SeqCst) > 0 {
                let notified = tracker.idle.notified();
                if tracker.live.load(Ordering::SeqCst) == 0 {
                    break;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(server.graceful_timeout, wait).await;
    }
    let _ = shutdown_tx.send(Shutdown::Immediate);
    for w in workers {
        // The workers return as soon as they see Immediate.
        let _ = tokio::task::spawn_blocking(move || w.join()).await;
    }
    gen_tx.borrow().site.logs.close();
    tracing::info!("server stopped");
    Ok(())
}

/// `-1`: serves the one connection on standard input, then returns.
async fn serve_stdin(site: Arc<Site>, limits: ConnLimits) -> Result<(), ServerError> {
    use std::os::fd::FromRawFd;
    // SAFETY: dup(0) gives us our own descriptor for the socket on stdin.
    let fd = unsafe { libc::dup(0) };
    if fd < 0 {
        return Err(ServerError::Runtime(std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just duplicated and is owned by this socket only.
    let sock = unsafe { socket2::Socket::from_raw_fd(fd) };
    let peer = sock.peer_addr().ok();
    sock.set_nonblocking(true).map_err(ServerError::Runtime)?;
    let (_tx, shutdown) = watch::channel(Shutdown::Running);
    let headers = http::HeaderMap::new();
    let socket = SocketId {
        token: BString::from("stdin"),
        port: 0,
        ip: None,
    };
    match peer.as_ref().and_then(|p| p.as_socket()) {
        Some(addr) => {
            let client = Client::Ip(addr.ip());
            let info = conn_info(&site, client, addr.port(), socket, false, &headers);
            let stream =
                tokio::net::TcpStream::from_std(sock.into()).map_err(ServerError::Runtime)?;
            if let Some(t) = conn::serve(stream, site, info, limits, shutdown.clone()).await {
                conn::wait_tunnel(t, shutdown).await;
            }
        }
        None => {
            let client = Client::Unix(BString::from("stdin"));
            let info = conn_info(&site, client, 0, socket, false, &headers);
            let stream =
                tokio::net::UnixStream::from_std(sock.into()).map_err(ServerError::Runtime)?;
            if let Some(t) = conn::serve(stream, site, info, limits, shutdown.clone()).await {
                conn::wait_tunnel(t, shutdown).await;
            }
        }
    }
    Ok(())
}

/// A TLS connection: the handshake, then HTTP over it (the client's
/// certificate, if one was asked for, recorded for its requests).
async fn serve_tls<IO>(
    tls: &tls::ListenerTls,
    io: IO,
    site: Arc<Site>,
    mut info: Arc<ConnInfo>,
    limits: ConnLimits,
    shutdown: watch::Receiver<Shutdown>,
) -> Option<tokio::task::JoinHandle<()>>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (stream, cert) = tls::handshake(tls, io, limits.read_idle).await?;
    // `info` was made for this connection and moved here: nothing else
    // holds it before the requests start.
    match (cert, Arc::get_mut(&mut info)) {
        (Some(c), Some(i)) => i.client_cert = Some(Arc::new(c)),
        (Some(_), None) => {
            tracing::error!("client certificate not recorded: connection info shared")
        }
        (None, _) => {}
    }
    conn::serve(stream, site, info, limits, shutdown).await
}

fn conn_info(
    site: &Site,
    client: Client,
    remote_port: u16,
    socket: SocketId,
    https: bool,
    headers: &http::HeaderMap,
) -> Arc<ConnInfo> {
    let scheme: &'static [u8] = if https { b"https" } else { b"http" };
    let remote_text = client.text();
    let input = CondInput {
        url: b"",
        host: b"",
        query: b"",
        method: b"",
        scheme,
        headers,
        remote: &client,
        remote_text: &remote_text,
        socket: &socket,
    };
    let conds = site.routing.connection(&input);
    let by = match socket.ip {
        Some(std::net::IpAddr::V6(ip)) => BString::from(format!("[{ip}]:{}", socket.port)),
        Some(ip) => BString::from(format!("{ip}:{}", socket.port)),
        None => socket.token.clone(),
    };
    Arc::new(ConnInfo {
        peer: crate::request::Peer {
            client,
            remote_text,
            scheme,
        },
        remote_port,
        client_cert: None,
        by,
        socket,
        conds,
        requests: AtomicU32::new(0),
        tunnel: std::sync::Mutex::new(None),
        upgrade: std::sync::Mutex::new(None),
        raw_targets: Arc::default(),
        file_sends: None,
        idle: Default::default(),
    })
}

/// Re-reads and prepares the configuration for SIGUSR1.
fn reload(
    path: &[u8],
    env: &Environment,
    previous: &crate::backend::Registry,
) -> Result<Prepared, String> {
    let env = Environment {
        pid: std::process::id() as i32,
        ..env.clone()
    };
    let text = config::read_main(path).map_err(|d| d.message.clone())?;
    let c = config::load(path, text, &env).map_err(|e| {
        e.diagnostics
            .iter()
            .find(|d| d.is_error())
            .map_or_else(|| "refused".into(), |d| d.render(&e.sources, false))
    })?;
    prepare_with(&c, Some(previous)).map_err(|d| {
        d.iter()
            .find(|d| d.is_error())
            .map_or_else(|| "refused".into(), |d| d.render(&c.sources, false))
    })
}

/// What every worker thread shares with the main thread.
#[derive(Clone)]
struct WorkerShared {
    gen_rx: watch::Receiver<Generation>,
    shutdown: watch::Receiver<Shutdown>,
    stop: watch::Receiver<bool>,
    tracker: Arc<Tracker>,
    permits: Arc<Semaphore>,
}

/// A worker thread: its own single-threaded runtime, an accept loop per
/// listener (on its own copy of the socket), the connections it accepted.
fn worker(listening: Vec<Listening>, shared: WorkerShared) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start a worker runtime: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        for l in listening {
            tokio::spawn(accept_loop(l, shared.clone()));
        }
        let mut shutdown = shared.shutdown.clone();
        while *shutdown.borrow() != Shutdown::Immediate {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    });
    // Dropping the runtime drops whatever is still open.
}

async fn accept_loop(l: Listening, shared: WorkerShared) {
    let WorkerShared {
        gen_rx,
        shutdown,
        mut stop,
        tracker,
        permits,
    } = shared;
    enum Either {
        Tcp(TcpListener),
        Unix(UnixListener, BString),
    }
    let listener = match l.bound {
        Bound::Tcp(t) => TcpListener::from_std(t).map(Either::Tcp),
        Bound::Unix(u, p) => UnixListener::from_std(u)
            .map(|u| Either::Unix(u, BString::from(p.as_os_str().as_encoded_bytes()))),
    };
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot use listening socket: {e}");
            return;
        }
    };
    let socket = l.socket;
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.changed() => return,
        };
        let accepted = tokio::select! {
            a = accept(&listener) => a,
            _ = stop.changed() => return,
        };
        let (io, client, port) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::error!("accept failed: {e}");
                drop(permit);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let generation = gen_rx.borrow().clone();
        let tls = generation.site.tls.acceptor(&socket.token).cloned();
        let info = conn_info(
            &generation.site,
            client,
            port,
            socket.clone(),
            tls.is_some(),
            &http::HeaderMap::new(),
        );
        let guard = tracker.enter();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let watch = shutdown.clone();
            let limits = generation.limits;
            let tunnel = match (io, tls) {
                (Stream::Tcp(s), None) => {
                    conn::serve(s, generation.site, info, limits, shutdown).await
                }
                (Stream::Unix(s), None) => {
                    conn::serve(s, generation.site, info, limits, shutdown).await
                }
                // (TLS's futures are boxed: inline, they would make every
                // plain connection's task as large as a TLS one's)
                (Stream::Tcp(s), Some(tls)) if tls::starts_tls(&s, limits.read_idle).await => {
                    Box::pin(serve_tls(&tls, s, generation.site, info, limits, shutdown)).await
                }
                (Stream::Unix(s), Some(tls)) => {
                    Box::pin(serve_tls(&tls, s, generation.site, info, limits, shutdown)).await
                }
                // not a TLS handshake on a TLS listener: closed, no answer
                (Stream::Tcp(_), Some(_)) => None,
            };
            // A tunnel is waited for by a small task of its own, so that
            // this one (the HTTP connection's state) is freed.
            if let Some(t) = tunnel {
                tokio::spawn(async move {
                    conn::wait_tunnel(t, watch).await;
                    drop(guard);
                    drop(permit);
                });
            }
        });
    }

    async fn accept(l: &Either) -> std::io::Result<(Stream, Client, u16)> {
        match l {
            Either::Tcp(t) => {
                let (s, peer): (tokio::net::TcpStream, SocketAddr) = t.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((Stream::Tcp(s), Client::Ip(peer.ip()), peer.port()))
            }
            Either::Unix(u, path) => {
                let (s, _) = u.accept().await?;
                Ok((Stream::Unix(s), Client::Unix(path.clone()), 0))
            }
        }
    }
}

enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

/// Renders a socket path for messages.
pub fn describe_path(p: &[u8]) -> String {
    p.to_str_lossy().into_owned()
}
