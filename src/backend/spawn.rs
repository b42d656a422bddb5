//! Spawning and supervising `bin-path` backends (lighttpd: `gw_backend.c`
//! `gw_spawn_connection`, `gw_proc_spawn`, `gw_handle_trigger_host`,
//! `gw_handle_waitpid_cb`, `gw_plugin_config_free`; spec
//! backend-manager.md §7–§8).
//!
//! [`ProcManager`] owns the procs of every host whose `cfg.bin` is set;
//! remote hosts are left alone. Requests only read what it publishes in
//! [`Host::procs`] (newest first) and the [`Proc`] atomics.
//!
//! ```text
//! start     for each bin host: ids 0‥min-procs-1, each spawned, newest first
//! run       one task on the main runtime, woken by
//!             a child's exit   log, Died, respawn at once (or by the tick)
//!             a demand         no usable proc, below max-procs: spawn one now
//!             the 1 s tick     respawn Died · overload spawn · idle reap · SIGKILL
//! update    keep hosts still configured, stop removed ones, start new ones
//! shutdown  kill-signal to every child, wait, SIGKILL the rest, unlink sockets
//! ```
//!
//! One spawn (§7.1): connect to the proc's address; if that succeeds
//! something else serves there and the proc becomes *unmanaged* (pid 0,
//! never respawned). Otherwise bind + listen (`SO_REUSEADDR`,
//! `listen-backlog`), start the program with the socket as fd 0, close our
//! copy, and treat a child that is gone ~1 ms later as a failed spawn.
//! The operating-system side sits behind the [`Spawner`] trait: [`OsSpawner`]
//! (`spawn/os.rs`) in production, a recording fake in the tests.
//!
//! | state | event | next | action |
//! |---|---|---|---|
//! | — | start / overload / demand | Running | spawn, `pid`, `generation` + 1, front of the list |
//! | — | address already served | Running | unmanaged: pid 0, never respawned |
//! | Running, Overloaded | child exits | Died | log; respawn at once unless it died < 1 s ago |
//! | Died | tick: ≥ 1 s since the death, load 0 | Running | respawn on the same id and address |
//! | Running | tick: procs > min, load 0, idle > `idle-timeout` | Killed | `kill-signal`, off the list (one per tick) |
//! | Killed | still alive `reap_grace` later | Killed | SIGKILL (wick only) |
//! | Killed | child reaped | — | id and address free for the next spawn |
//! | any | shutdown / host removed | Died | `kill-signal`, wait, SIGKILL, unlink our sockets |
//!
//! Deliberate differences from lighttpd 1.4.69: a reaped child ignoring
//! `kill-signal` gets SIGKILL after [`ManagerOptions::reap_grace`] (§14.4);
//! shutdown waits for the children and SIGKILLs stragglers instead of
//! orphaning them (§8.5); "died within the current second" is measured as
//! "died less than a second ago"; a path in the way of a unix socket is
//! only unlinked when it is a socket; descriptors above 2 that someone
//! opened without close-on-exec are not inherited either.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{BinConfig, Host, Proc, ProcAddr, ProcState, proc_addr};

mod os;
#[cfg(test)]
mod tests;

pub use os::{OsSpawner, child_env};

/// A boxed, sendable future (the [`Spawner`] seam returns these).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Milliseconds of the server's coarse clock, the unit of
/// [`Proc::last_used`] and [`Proc::disabled_until`].
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The manager's timer (lighttpd's once-per-second `handle_trigger`).
const TICK: Duration = Duration::from_secs(1);
/// How long after the start a child must still be alive (lighttpd waits
/// a few milliseconds in `gw_spawn_connection`).
const SPAWN_CHECK: Duration = Duration::from_millis(1);
/// A proc that dies again less than this after its previous death is
/// respawned by the tick, not at once.
const RESPAWN_THROTTLE_MS: u64 = 1000;
/// How long to wait for children after SIGKILL before giving up on them.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// The server's coarse clock ([`crate::server::clock::now_ms`]).
pub fn coarse_clock() -> Clock {
    Arc::new(crate::server::clock::now_ms)
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// Its status could not be collected.
    Unknown,
}

impl ChildExit {
    /// From a wait status.
    pub fn from_status(status: std::process::ExitStatus) -> ChildExit {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(c), _) => ChildExit::Code(c),
            (None, Some(s)) => ChildExit::Signal(s),
            (None, None) => ChildExit::Unknown,
        }
    }
}

impl fmt::Display for ChildExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildExit::Code(c) => write!(f, "exit status {c}"),
            ChildExit::Signal(s) => write!(f, "signal {s}"),
            ChildExit::Unknown => f.write_str("unknown status"),
        }
    }
}

/// The listening socket made for one child (its fd 0 to be).
#[derive(Debug)]
pub struct ProcSocket {
    addr: ProcAddr,
    fd: Option<OwnedFd>,
}

impl ProcSocket {
    /// A listening socket bound to `addr`.
    pub fn new(addr: ProcAddr, fd: OwnedFd) -> ProcSocket {
        ProcSocket { addr, fd: Some(fd) }
    }

    /// A stand-in without a descriptor, for spawners that start no
    /// processes (tests).
    pub fn placeholder(addr: ProcAddr) -> ProcSocket {
        ProcSocket { addr, fd: None }
    }

    /// Where it listens.
    pub fn addr(&self) -> &ProcAddr {
        &self.addr
    }

    /// The descriptor, if there is one.
    pub fn into_fd(self) -> Option<OwnedFd> {
        self.fd
    }
}

/// A started child.
pub struct Spawned {
    /// Its pid.
    pub pid: u32,
    /// Resolves once the child has exited and been reaped. Dropping it
    /// earlier means the manager is gone: the child is sent its
    /// `kill-signal` so that it does not outlive us.
    pub exit: BoxFuture<'static, ChildExit>,
}

impl fmt::Debug for Spawned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawned").field("pid", &self.pid).finish()
    }
}

/// The operating-system actions of spawning, so that the manager's
/// min/max/idle logic can run without processes in tests.
pub trait Spawner: Send + Sync {
    /// True when something already accepts connections at `addr` (§7.1
    /// step 1). For a unix socket whose connect failed with anything but
    /// "no such file", the stale socket file is removed (step 2).
    fn probe<'a>(&'a self, addr: &'a ProcAddr) -> BoxFuture<'a, bool>;
    /// Creates a stream socket, sets `SO_REUSEADDR`, binds it to `addr`
    /// and listens with `backlog` (step 3).
    fn listen(&self, addr: &ProcAddr, backlog: i32) -> io::Result<ProcSocket>;
    /// Starts `bin` with `socket` as fd 0 and closes our copy of it (step 4).
    fn start(&self, bin: &BinConfig, socket: ProcSocket) -> io::Result<Spawned>;
    /// Sends `signal` to child `pid` (one this spawner started and that
    /// has not been reaped).
    fn signal(&self, pid: u32, signal: i32) -> io::Result<()>;
    /// Removes a unix socket file we created.
    fn remove_socket(&self, path: &Path) -> io::Result<()>;
}

/// Why a proc could not be spawned.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// Creating, binding or listening on the socket failed.
    #[error("cannot listen on {addr} for bin-path {program}: {source}")]
    Listen {
        /// `argv[0]`.
        program: String,
        /// The proc's address (`tcp:…` / `unix:…`).
        addr: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Starting the program failed.
    #[error("cannot start bin-path {program} on {addr}: {source}")]
    Start {
        /// `argv[0]`.
        program: String,
        /// The proc's address.
        addr: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The child was gone right after the start.
    #[error("bin-path {program} on {addr} exited at once ({exit})")]
    Exited {
        /// `argv[0]`.
        program: String,
        /// The proc's address.
        addr: String,
        /// How it ended.
        exit: ChildExit,
    },
}

/// Tunables of the manager that are not lighttpd options.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// How long an idle-reaped child (and the children of a host dropped
    /// by [`ProcManagerHandle::update`]) may take to exit after
    /// `kill-signal` before it gets SIGKILL.
    pub reap_grace: Duration,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            reap_grace: Duration::from_secs(5),
        }
    }
}

/// The manager's view of one proc.
#[derive(Debug)]
struct Slot {
    proc: Arc<Proc>,
    /// Our child serves it (false: something else listened there).
    managed: bool,
    /// Our child that has not been reaped yet (0: none).
    pid: u32,
    /// Clock ms of the last death (or failed respawn).
    last_death_ms: Option<u64>,
    /// Idle-reaped or failed extra spawn: not in `host.procs`.
    parked: bool,
    /// When the current child was sent `kill-signal`.
    signalled_at: Option<Instant>,
    /// The current child was sent SIGKILL.
    sigkilled: bool,
    /// The unix socket file we created.
    socket_file: Option<PathBuf>,
}

impl Slot {
    fn new(proc: Arc<Proc>) -> Slot {
        Slot {
            proc,
            managed: false,
            pid: 0,
            last_death_ms: None,
            parked: false,
            signalled_at: None,
            sigkilled: false,
            socket_file: None,
        }
    }
}

/// One bin-path host and its procs.
#[derive(Debug)]
struct Managed {
    host: Arc<Host>,
    /// Every proc: listed in `host.procs` or parked.
    slots: Vec<Slot>,
    /// Being stopped (dropped by a reload); SIGKILL at this instant.
    stopping: Option<Instant>,
}

fn insert_front(host: &Host, proc: Arc<Proc>) {
    host.procs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(0, proc);
}

fn program(bin: &BinConfig) -> String {
    bin.argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn signal_child(spawner: &dyn Spawner, pid: u32, sig: i32) {
    if let Err(e) = spawner.signal(pid, sig) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::error!("cannot send signal {sig} to child {pid}: {e}");
        }
    }
}

/// Spawns (or adopts, when something already listens there) the proc of
/// `slot` (§7.1). On success the proc is Running.
async fn spawn_proc(
    spawner: &dyn Spawner,
    exits: &mut JoinSet<(u32, ChildExit)>,
    bin: &BinConfig,
    slot: &mut Slot,
    now_ms: u64,
) -> Result<(), SpawnError> {
    let proc = slot.proc.clone();
    let addr = proc.addr.clone();
    let program = || program(bin);
    if spawner.probe(&addr).await {
        tracing::info!("socket is already used; won't spawn: {}", addr.describe());
        slot.managed = false;
        slot.socket_file = None;
        proc.pid.store(0, Ordering::Release);
        proc.disabled_until.store(0, Ordering::Relaxed);
        proc.set_state(ProcState::Running);
        return Ok(());
    }
    let socket = spawner
        .listen(&addr, bin.listen_backlog)
        .map_err(|source| SpawnError::Listen {
            program: program(),
            addr: addr.describe(),
            source,
        })?;
    if let ProcAddr::Unix(p) = &addr {
        slot.socket_file = Some(p.clone());
    }
    let mut child = spawner
        .start(bin, socket)
        .map_err(|source| SpawnError::Start {
            program: program(),
            addr: addr.describe(),
            source,
        })?;
    if let Ok(exit) = tokio::time::timeout(SPAWN_CHECK, &mut child.exit).await {
        tracing::error!(
            "If you're trying to run your app as a FastCGI backend, make sure you're using \
             the FastCGI-enabled version."
        );
        return Err(SpawnError::Exited {
            program: program(),
            addr: addr.describe(),
            exit,
        });
    }
    let Spawned { pid, exit } = child;
    exits.spawn(async move { (pid, exit.await) });
    slot.managed = true;
    slot.pid = pid;
    slot.signalled_at = None;
    slot.sigkilled = false;
    proc.generation.fetch_add(1, Ordering::AcqRel);
    proc.pid.store(pid, Ordering::Release);
    proc.last_used.store(now_ms, Ordering::Relaxed);
    proc.disabled_until.store(0, Ordering::Relaxed);
    proc.set_state(ProcState::Running);
    tracing::info!("spawned backend child: {} pid {pid}", addr.describe());
    Ok(())
}

/// Spawns one more proc for `host` on the lowest id that neither a listed
/// proc nor a still-running reaped child holds (reusing a parked proc's id
/// and address); it goes to the front of the list.
async fn spawn_extra(
    spawner: &dyn Spawner,
    exits: &mut JoinSet<(u32, ChildExit)>,
    host: &Host,
    bin: &BinConfig,
    slots: &mut Vec<Slot>,
    now_ms: u64,
) -> bool {
    let listed = host.procs();
    let busy = |id: u16| {
        listed.iter().any(|p| p.id == id) || slots.iter().any(|s| s.proc.id == id && s.pid != 0)
    };
    let Some(id) = (0..=u16::MAX).find(|id| !busy(*id)) else {
        return false;
    };
    let slot = match slots.iter().position(|s| s.proc.id == id && s.parked) {
        Some(i) => slots.get_mut(i),
        None => {
            let proc = Proc::new(id, proc_addr(&host.cfg.addr, Some(id)));
            slots.push(Slot::new(Arc::new(proc)));
            slots.last_mut()
        }
    };
    let Some(slot) = slot else { return false };
    match spawn_proc(spawner, exits, bin, slot, now_ms).await {
        Ok(()) => {
            slot.parked = false;
            insert_front(host, slot.proc.clone());
            host.changed.notify_waiters();
            true
        }
        Err(e) => {
            tracing::error!("spawning gw failed: {e}");
            slot.parked = true;
            slot.last_death_ms = Some(now_ms);
            slot.proc.set_state(ProcState::Died);
            false
        }
    }
}

/// Logs a child's end as lighttpd's `gw_proc_waitpid_log` does.
fn log_exit(exit: ChildExit, kill_signal: i32, conn: &str) {
    match exit {
        ChildExit::Code(c) => tracing::error!("child exited: {c} {conn}"),
        ChildExit::Signal(s) if s != libc::SIGTERM && s != libc::SIGINT && s != kill_signal => {
            tracing::error!("child signalled: {s}")
        }
        ChildExit::Signal(_) => {}
        ChildExit::Unknown => tracing::error!("child died somehow: {conn}"),
    }
}

/// Sends `kill-signal` to every child of a host and takes its procs out of
/// service; SIGKILL follows at `deadline`.
fn stop_host(spawner: &dyn Spawner, m: &mut Managed, deadline: Instant) {
    let sig = m
        .host
        .cfg
        .bin
        .as_ref()
        .map_or(libc::SIGTERM, |b| b.kill_signal);
    let now = Instant::now();
    m.stopping = Some(deadline);
    for s in &mut m.slots {
        if s.pid != 0 {
            signal_child(spawner, s.pid, sig);
            s.signalled_at = Some(now);
        }
        s.proc.set_state(ProcState::Died);
    }
    m.host.changed.notify_waiters();
}

/// Unlinks the socket files we created for `m`.
fn remove_sockets(spawner: &dyn Spawner, m: &mut Managed) {
    for s in &mut m.slots {
        if let Some(p) = s.socket_file.take() {
            if let Err(e) = spawner.remove_socket(&p) {
                tracing::error!("cannot unlink {}: {e}", p.display());
            }
        }
    }
}

/// Commands from [`ProcManagerHandle`] to the running manager.
#[derive(Debug)]
enum Command {
    Update {
        hosts: Vec<Arc<Host>>,
        demand: Option<mpsc::UnboundedReceiver<Arc<Host>>>,
        done: oneshot::Sender<()>,
    },
    Shutdown {
        timeout: Duration,
        done: oneshot::Sender<()>,
    },
}

/// The state behind [`ProcManager`] and the run loop.
struct Manager {
    spawner: Arc<dyn Spawner>,
    clock: Clock,
    opts: ManagerOptions,
    hosts: Vec<Managed>,
    exits: JoinSet<(u32, ChildExit)>,
    demand_tx: mpsc::UnboundedSender<Arc<Host>>,
    demand_rx: mpsc::UnboundedReceiver<Arc<Host>>,
    forwarders: JoinSet<()>,
    stopped: bool,
}

impl Manager {
    fn new(spawner: Arc<dyn Spawner>, clock: Clock, opts: ManagerOptions) -> Manager {
        let (demand_tx, demand_rx) = mpsc::unbounded_channel();
        Manager {
            spawner,
            clock,
            opts,
            hosts: Vec::new(),
            exits: JoinSet::new(),
            demand_tx,
            demand_rx,
            forwarders: JoinSet::new(),
            stopped: false,
        }
    }

    fn now_ms(&self) -> u64 {
        (self.clock)()
    }

    fn live_children(&self) -> usize {
        self.hosts
            .iter()
            .flat_map(|m| &m.slots)
            .filter(|s| s.pid != 0)
            .count()
    }

    /// Feeds a registry's demand requests into the manager's own channel.
    fn add_demand(&mut self, mut rx: mpsc::UnboundedReceiver<Arc<Host>>) {
        let tx = self.demand_tx.clone();
        self.forwarders.spawn(async move {
            while let Some(h) = rx.recv().await {
                if tx.send(h).is_err() {
                    break;
                }
            }
        });
    }

    /// Starts a bin-path host: `min-procs` procs, newest first. With
    /// `strict` the first failure is returned (start-up); otherwise it is
    /// logged and the proc left Died for the tick to retry (reload).
    async fn add_host(&mut self, host: &Arc<Host>, strict: bool) -> Result<(), SpawnError> {
        let Some(bin) = host.cfg.bin.as_ref() else {
            return Ok(());
        };
        if self.hosts.iter().any(|m| Arc::ptr_eq(&m.host, host)) {
            return Ok(());
        }
        let now = self.now_ms();
        let mut m = Managed {
            host: host.clone(),
            slots: Vec::new(),
            stopping: None,
        };
        let mut result = Ok(());
        for id in 0..bin.min_procs {
            let proc = Arc::new(Proc::new(id, proc_addr(&host.cfg.addr, Some(id))));
            let mut slot = Slot::new(proc.clone());
            let spawned = spawn_proc(&*self.spawner, &mut self.exits, bin, &mut slot, now).await;
            if let Err(e) = spawned {
                if strict {
                    m.slots.push(slot);
                    result = Err(e);
                    break;
                }
                tracing::error!("spawning gw failed: {e}");
                proc.set_state(ProcState::Died);
                slot.last_death_ms = Some(now);
            }
            insert_front(host, proc);
            m.slots.push(slot);
        }
        self.hosts.push(m);
        host.changed.notify_waiters();
        result
    }

    /// A child was reaped (§8.2).
    async fn on_exit(&mut self, pid: u32, exit: ChildExit) {
        let now = self.now_ms();
        let stopped = self.stopped;
        let Manager {
            spawner,
            hosts,
            exits,
            ..
        } = self;
        let found = hosts.iter_mut().find_map(|m| {
            let Managed {
                host,
                slots,
                stopping,
            } = m;
            let stopping = stopping.is_some();
            slots
                .iter_mut()
                .find(|s| s.pid == pid)
                .map(|s| (&*host, stopping, s))
        });
        let Some((host, stopping, slot)) = found else {
            return;
        };
        slot.pid = 0;
        let _ = slot
            .proc
            .pid
            .compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Relaxed);
        let conn = slot.proc.addr.describe();
        if slot.parked || stopping || stopped {
            tracing::info!("child {pid} of {conn} ended ({exit})");
            return;
        }
        let Some(bin) = host.cfg.bin.as_ref() else {
            return;
        };
        log_exit(exit, bin.kill_signal, &conn);
        slot.proc.set_state(ProcState::Died);
        host.changed.notify_waiters();
        let previous = slot.last_death_ms.replace(now);
        if previous.is_some_and(|t| now.saturating_sub(t) < RESPAWN_THROTTLE_MS) {
            // Died twice within a second: the tick respawns it later.
            return;
        }
        if let Err(e) = spawn_proc(&**spawner, exits, bin, slot, now).await {
            tracing::error!("spawning gw failed: {e}");
            slot.proc.set_state(ProcState::Died);
        }
        host.changed.notify_waiters();
    }

    /// A request found no usable proc of `host`.
    async fn on_demand(&mut self, host: Arc<Host>) {
        let now = self.now_ms();
        let Manager {
            spawner,
            hosts,
            exits,
            stopped,
            ..
        } = self;
        let m = hosts
            .iter_mut()
            .find(|m| Arc::ptr_eq(&m.host, &host) && m.stopping.is_none());
        if let (Some(m), false) = (m, *stopped) {
            let Managed { host: h, slots, .. } = m;
            if let Some(bin) = h.cfg.bin.as_ref() {
                let listed = h.procs();
                let usable = listed.iter().any(|p| p.is_active_at(now));
                if !usable && listed.len() < usize::from(bin.max_procs) {
                    tracing::info!("no usable backend, spawning a new child");
                    spawn_extra(&**spawner, exits, h, bin, slots, now).await;
                }
            }
        }
        host.changed.notify_waiters();
    }

    /// The once-per-second work (lighttpd: `gw_handle_trigger_host`).
    async fn on_tick(&mut self) {
        let now = self.now_ms();
        let at = Instant::now();
        let grace = self.opts.reap_grace;
        let Manager {
            spawner,
            hosts,
            exits,
            ..
        } = self;
        let spawner = &**spawner;
        for m in hosts.iter_mut() {
            let Managed {
                host,
                slots,
                stopping,
            } = m;
            let Some(bin) = host.cfg.bin.as_ref() else {
                continue;
            };
            if let Some(deadline) = *stopping {
                if at >= deadline {
                    for s in slots.iter_mut().filter(|s| s.pid != 0 && !s.sigkilled) {
                        tracing::info!("child {} did not exit, sending SIGKILL", s.pid);
                        signal_child(spawner, s.pid, libc::SIGKILL);
                        s.sigkilled = true;
                    }
                }
                continue;
            }
            respawn_dead(spawner, exits, host, bin, slots, now).await;
            if bin.min_procs != bin.max_procs {
                spawn_if_overloaded(spawner, exits, host, bin, slots, now).await;
                reap_idle(spawner, host, bin, slots, now, at);
            }
            for s in slots.iter_mut() {
                let due = s.signalled_at.is_some_and(|t| at >= t + grace);
                if s.parked && s.pid != 0 && !s.sigkilled && due {
                    tracing::info!(
                        "child {} ignored kill-signal {}, sending SIGKILL",
                        s.pid,
                        bin.kill_signal
                    );
                    signal_child(spawner, s.pid, libc::SIGKILL);
                    s.sigkilled = true;
                }
            }
        }
        self.drop_stopped_hosts();
    }

    /// Forgets stopping hosts whose children are all reaped.
    fn drop_stopped_hosts(&mut self) {
        let spawner = &*self.spawner;
        self.hosts.retain_mut(|m| {
            let done = m.stopping.is_some() && m.slots.iter().all(|s| s.pid == 0);
            if done {
                remove_sockets(spawner, m);
            }
            !done
        });
    }

    /// A reload: keep hosts still configured, stop the others, start new ones.
    async fn update(&mut self, hosts: &[Arc<Host>]) {
        let deadline = Instant::now() + self.opts.reap_grace;
        let spawner = &*self.spawner;
        for m in self.hosts.iter_mut() {
            if m.stopping.is_none() && !hosts.iter().any(|h| Arc::ptr_eq(h, &m.host)) {
                tracing::info!(
                    "backend {} no longer configured, stopping its children",
                    m.host.cfg.addr.describe()
                );
                stop_host(spawner, m, deadline);
            }
        }
        for h in hosts {
            if let Err(e) = self.add_host(h, false).await {
                tracing::error!("{e}");
            }
        }
        self.drop_stopped_hosts();
    }

    /// Waits for exits until no child is left or `deadline` passes.
    async fn wait_children(&mut self, deadline: Instant) {
        while self.live_children() > 0 {
            tokio::select! {
                r = self.exits.join_next() => match r {
                    Some(Ok((pid, exit))) => self.on_exit(pid, exit).await,
                    Some(Err(_)) => {}
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    }

    /// Stops every child (§8.5, but waiting): `kill-signal`, up to
    /// `timeout` for them to exit, SIGKILL, reap, unlink our sockets.
    async fn shutdown(&mut self, timeout: Duration) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.forwarders.abort_all();
        let deadline = Instant::now() + timeout;
        let spawner = &*self.spawner;
        for m in self.hosts.iter_mut() {
            if m.stopping.is_none() {
                stop_host(spawner, m, deadline);
            } else {
                // Stopping since a reload: nothing more to send now.
                m.stopping = Some(deadline);
            }
        }
        self.wait_children(deadline).await;
        if self.live_children() > 0 {
            let spawner = &*self.spawner;
            for s in self.hosts.iter_mut().flat_map(|m| &mut m.slots) {
                if s.pid != 0 && !s.sigkilled {
                    tracing::info!("child {} did not exit, sending SIGKILL", s.pid);
                    signal_child(spawner, s.pid, libc::SIGKILL);
                    s.sigkilled = true;
                }
            }
            self.wait_children(Instant::now() + KILL_WAIT).await;
        }
        for s in self.hosts.iter().flat_map(|m| &m.slots) {
            if s.pid != 0 {
                tracing::error!("child {} survived SIGKILL", s.pid);
            }
        }
        let spawner = &*self.spawner;
        for m in self.hosts.iter_mut() {
            remove_sockets(spawner, m);
        }
        self.hosts.clear();
    }

    /// The run loop: exits, demands, the tick and commands.
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut tick = tokio::time::interval_at(Instant::now() + TICK, TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                cmd = commands.recv() => match cmd {
                    Some(Command::Update { hosts, demand, done }) => {
                        self.update(&hosts).await;
                        if let Some(rx) = demand {
                            self.add_demand(rx);
                        }
                        let _ = done.send(());
                    }
                    Some(Command::Shutdown { timeout, done }) => {
                        self.shutdown(timeout).await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        // Every handle is gone: leave no children behind.
                        let grace = self.opts.reap_grace;
                        self.shutdown(grace).await;
                        return;
                    }
                },
                Some(r) = self.exits.join_next(), if !self.exits.is_empty() => {
                    if let Ok((pid, exit)) = r {
                        self.on_exit(pid, exit).await;
                    }
                }
                Some(host) = self.demand_rx.recv() => self.on_demand(host).await,
                _ = tick.tick() => self.on_tick().await,
            }
        }
    }
}

/// Respawns Died procs a second after their death once their connections
/// are gone (lighttpd: `gw_restart_dead_procs`).
async fn respawn_dead(
    spawner: &dyn Spawner,
    exits: &mut JoinSet<(u32, ChildExit)>,
    host: &Host,
    bin: &BinConfig,
    slots: &mut [Slot],
    now_ms: u64,
) {
    for s in slots.iter_mut() {
        let due = s
            .last_death_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= RESPAWN_THROTTLE_MS);
        if s.parked
            || s.pid != 0
            || s.proc.state() != ProcState::Died
            || s.proc.load.load(Ordering::Relaxed) != 0
            || !due
        {
            continue;
        }
        if let Err(e) = spawn_proc(spawner, exits, bin, s, now_ms).await {
            tracing::error!("spawning gw failed: {e}");
            s.last_death_ms = Some(now_ms);
            s.proc.set_state(ProcState::Died);
        }
        host.changed.notify_waiters();
    }
}

/// Adaptive spawning (§8.3): every proc has more than `max-load-per-proc`
/// connections and there are fewer than `max-procs`.
async fn spawn_if_overloaded(
    spawner: &dyn Spawner,
    exits: &mut JoinSet<(u32, ChildExit)>,
    host: &Host,
    bin: &BinConfig,
    slots: &mut Vec<Slot>,
    now_ms: u64,
) {
    let listed = host.procs();
    if listed.is_empty() || listed.len() >= usize::from(bin.max_procs) {
        return;
    }
    let limit = usize::from(bin.max_load_per_proc);
    if listed
        .iter()
        .all(|p| p.load.load(Ordering::Relaxed) > limit)
    {
        tracing::info!("overload detected, spawning a new child");
        spawn_extra(spawner, exits, host, bin, slots, now_ms).await;
    }
}

/// Idle reaping (§8.4): above `min-procs`, the first proc (newest first)
/// with no connections, a live child, and unused for more than
/// `idle-timeout` seconds gets `kill-signal` and leaves the list.
fn reap_idle(
    spawner: &dyn Spawner,
    host: &Host,
    bin: &BinConfig,
    slots: &mut [Slot],
    now_ms: u64,
    at: Instant,
) {
    // Whole seconds, as lighttpd compares them.
    let Some(idle_before) = (now_ms / 1000).checked_sub(u64::from(bin.idle_timeout)) else {
        return;
    };
    let mut procs = host.procs.lock().unwrap_or_else(|p| p.into_inner());
    if procs.len() <= usize::from(bin.min_procs) {
        return;
    }
    let victim = procs.iter().enumerate().find_map(|(i, p)| {
        let idle = p.load.load(Ordering::Relaxed) == 0
            && p.last_used.load(Ordering::Relaxed) / 1000 < idle_before;
        if !idle {
            return None;
        }
        let si = slots
            .iter()
            .position(|s| Arc::ptr_eq(&s.proc, p) && s.pid != 0)?;
        Some((i, si))
    });
    let Some((i, si)) = victim else { return };
    let Some(slot) = slots.get_mut(si) else {
        return;
    };
    procs.remove(i);
    drop(procs);
    tracing::info!(
        "idle-timeout reached, terminating child: socket: {} pid {}",
        slot.proc.addr.describe(),
        slot.pid
    );
    signal_child(spawner, slot.pid, bin.kill_signal);
    slot.proc.set_state(ProcState::Killed);
    slot.parked = true;
    slot.signalled_at = Some(at);
    slot.sigkilled = false;
    host.changed.notify_waiters();
}

impl Drop for Manager {
    /// Last resort when the manager goes away without
    /// [`ProcManagerHandle::shutdown`] (e.g. the runtime is dropped):
    /// signal every child and remove our sockets, without waiting.
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        let spawner = &*self.spawner;
        for m in self.hosts.iter_mut() {
            let sig = m
                .host
                .cfg
                .bin
                .as_ref()
                .map_or(libc::SIGTERM, |b| b.kill_signal);
            for s in &m.slots {
                if s.pid != 0 {
                    signal_child(spawner, s.pid, sig);
                }
            }
            remove_sockets(spawner, m);
        }
    }
}

/// The process manager of `bin-path` hosts, started but not yet running
/// (lighttpd spawns during config loading, before serving).
pub struct ProcManager {
    inner: Manager,
}

impl fmt::Debug for ProcManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcManager")
            .field("hosts", &self.inner.hosts.len())
            .field("children", &self.inner.live_children())
            .finish()
    }
}

impl ProcManager {
    /// Spawns `min-procs` procs for every bin-path host in `hosts` (others
    /// are ignored). Any failure stops what was started and is returned:
    /// the server must not start.
    #[doc(alias = "gw_set_defaults_backend")]
    pub async fn start(
        hosts: &[Arc<Host>],
        spawner: Arc<dyn Spawner>,
        clock: Clock,
        opts: ManagerOptions,
    ) -> Result<ProcManager, SpawnError> {
        let mut m = Manager::new(spawner, clock, opts);
        for h in hosts {
            if let Err(e) = m.add_host(h, true).await {
                let grace = m.opts.reap_grace;
                m.shutdown(grace).await;
                return Err(e);
            }
        }
        Ok(ProcManager { inner: m })
    }

    /// Runs the manager as a task on the current runtime (the server's
    /// main thread), serving `demand` (from [`super::Registry::take_demand`]).
    pub fn run(self, demand: Option<mpsc::UnboundedReceiver<Arc<Host>>>) -> ProcManagerHandle {
        let ProcManager { mut inner } = self;
        if let Some(rx) = demand {
            inner.add_demand(rx);
        }
        let (commands, rx) = mpsc::unbounded_channel();
        let (stopped_tx, stopped) = watch::channel(false);
        tokio::spawn(async move {
            inner.run(rx).await;
            let _ = stopped_tx.send(true);
        });
        ProcManagerHandle { commands, stopped }
    }

    /// Stops every child without ever having run (see
    /// [`ProcManagerHandle::shutdown`]).
    pub async fn shutdown(mut self, timeout: Duration) {
        self.inner.shutdown(timeout).await;
    }
}

/// Controls a running [`ProcManager`]. When every handle is dropped the
/// manager shuts down.
#[derive(Debug, Clone)]
pub struct ProcManagerHandle {
    commands: mpsc::UnboundedSender<Command>,
    stopped: watch::Receiver<bool>,
}

impl ProcManagerHandle {
    /// A configuration reload: hosts in `hosts` that are already managed
    /// keep their children (the registry hands back the same `Arc`),
    /// managed hosts missing from it are stopped, new ones started
    /// (failures are logged). `demand` is the new registry's receiver.
    pub async fn update(
        &self,
        hosts: &[Arc<Host>],
        demand: Option<mpsc::UnboundedReceiver<Arc<Host>>>,
    ) {
        let (done, wait) = oneshot::channel();
        let cmd = Command::Update {
            hosts: hosts.to_vec(),
            demand,
            done,
        };
        if self.commands.send(cmd).is_ok() {
            let _ = wait.await;
        }
    }

    /// Sends `kill-signal` to every child, waits up to `timeout` for them,
    /// SIGKILLs and reaps the rest, and unlinks the sockets we created.
    /// Returns once the manager has stopped; later calls return at once.
    pub async fn shutdown(&self, timeout: Duration) {
        let (done, _wait) = oneshot::channel();
        let _ = self.commands.send(Command::Shutdown { timeout, done });
        let mut stopped = self.stopped.clone();
        let _ = stopped.wait_for(|s| *s).await;
    }

    /// True once the manager has stopped.
    pub fn is_stopped(&self) -> bool {
        *self.stopped.borrow()
    }
}
