//! The gateway backend manager shared by mod_proxy and mod_wstunnel
//! (lighttpd: `gw_backend.c`): extension → host → proc.
//!
//! ```text
//! <module>.server   Extensions (per configuration scope)
//!   └ Extension     a URL prefix "/…", a suffix ".php", or "" (catch-all)
//!      └ Host       one entry: a remote address, or a bin-path program
//!         └ Proc    one address: the remote server, or one spawned child
//! ```
//!
//! | concern | file |
//! |---|---|
//! | parsing and validating `<module>.server` | `config.rs` |
//! | choosing a host (fair, round-robin, hash, sticky) and a proc | `balance.rs` |
//! | connecting, disable-time, upstream keep-alive pool | `pool.rs` |
//! | spawning bin-path children, respawn, adaptive spawning, reaping | `spawn.rs` |
//!
//! State shared between worker threads is atomic (loads, disable times,
//! proc states) or behind short locks (the proc list). Idle upstream
//! connections stay on the worker thread that opened them (`pool.rs`).

pub mod balance;
pub mod config;
pub mod pool;
pub mod spawn;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bstr::BString;

pub use config::{BinConfig, ExtensionConfig, HostAddr, HostConfig};

/// A proc's state (lighttpd: `proc_state_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ProcState {
    /// Serving.
    Running = 0,
    /// Disabled after a connect failure until `disabled_until`.
    Overloaded = 1,
    /// The child exited; waiting to be respawned.
    Died = 2,
    /// Idle-reaped; its id and address wait for the next spawn.
    Killed = 3,
}

impl ProcState {
    fn from_u8(v: u8) -> ProcState {
        match v {
            0 => ProcState::Running,
            1 => ProcState::Overloaded,
            2 => ProcState::Died,
            _ => ProcState::Killed,
        }
    }
}

/// Where one proc listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProcAddr {
    /// TCP.
    Tcp(std::net::SocketAddr),
    /// Unix stream socket.
    Unix(PathBuf),
}

impl ProcAddr {
    /// `tcp:<ip>:<port>` / `unix:<path>`.
    pub fn describe(&self) -> String {
        match self {
            ProcAddr::Tcp(a) => format!("tcp:{}:{}", a.ip(), a.port()),
            ProcAddr::Unix(p) => format!("unix:{}", p.display()),
        }
    }
}

/// Source of [`Proc::uid`].
static NEXT_PROC_UID: AtomicU64 = AtomicU64::new(1);

/// One backend address: a remote server or one spawned child.
#[derive(Debug)]
pub struct Proc {
    /// Unique for the process lifetime (keys idle upstream connections).
    pub uid: u64,
    /// Number within its host (`port + id`, `socket-id`).
    pub id: u16,
    /// Where it listens.
    pub addr: ProcAddr,
    state: AtomicU8,
    /// Open backend connections to it.
    pub load: AtomicUsize,
    /// Coarse milliseconds (server clock) of the last successful use.
    pub last_used: AtomicU64,
    /// Coarse milliseconds until which it is disabled.
    pub disabled_until: AtomicU64,
    /// The child's pid (0: not spawned by us).
    pub pid: AtomicU32,
    /// Which generation of child this is (bumped at every spawn), so that
    /// a failure seen on an old child's connection does not disable a new one.
    pub generation: AtomicU64,
}

impl Proc {
    /// A running proc at `addr`.
    pub fn new(id: u16, addr: ProcAddr) -> Proc {
        Proc {
            uid: NEXT_PROC_UID.fetch_add(1, Ordering::Relaxed),
            id,
            addr,
            state: AtomicU8::new(ProcState::Running as u8),
            load: AtomicUsize::new(0),
            last_used: AtomicU64::new(0),
            disabled_until: AtomicU64::new(0),
            pid: AtomicU32::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// The current state.
    pub fn state(&self) -> ProcState {
        ProcState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Sets the state.
    pub fn set_state(&self, s: ProcState) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// True when requests may use it: running, or disabled and past its
    /// `disabled_until` (re-enabled here, lazily, instead of by a timer).
    pub fn is_active(&self) -> bool {
        self.is_active_at(crate::server::clock::now_ms())
    }

    /// [`Proc::is_active`] at a given clock reading.
    pub fn is_active_at(&self, now_ms: u64) -> bool {
        match self.state() {
            ProcState::Running => true,
            ProcState::Overloaded if now_ms >= self.disabled_until.load(Ordering::Relaxed) => {
                if self
                    .state
                    .compare_exchange(
                        ProcState::Overloaded as u8,
                        ProcState::Running as u8,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    tracing::info!("gw-server re-enabled: {}", self.addr.describe());
                }
                true
            }
            _ => false,
        }
    }

    /// Disables it for `seconds` after a connect failure on a connection
    /// opened to child `generation` (ignored when a newer child took over).
    /// As lighttpd, whose once-a-second timer re-enables a proc when the
    /// clock's whole second has passed `now + seconds`: the proc is back at
    /// the start of the second after that, `seconds` to `seconds + 1` later
    /// (`disable-time` 0 still keeps it out for the rest of the second).
    pub fn disable(&self, now_ms: u64, seconds: u16, generation: u64) {
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let until_s = now_ms / 1000 + u64::from(seconds) + 1;
        self.disabled_until.store(until_s * 1000, Ordering::Relaxed);
        let _ = self.state.compare_exchange(
            ProcState::Running as u8,
            ProcState::Overloaded as u8,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }
}

/// One host of an extension, with its procs (newest first).
#[derive(Debug)]
pub struct Host {
    /// Its configuration.
    pub cfg: HostConfig,
    /// Requests currently assigned to it.
    pub load: AtomicUsize,
    /// Its procs, newest first (lighttpd keeps them in that order).
    pub procs: Mutex<Vec<Arc<Proc>>>,
    /// Precomputed `djb(host id string)` for hash / sticky balancing.
    pub id_hash: u32,
    /// Signalled whenever the proc list or a proc's state changes (a
    /// request waiting for an on-demand spawn waits on it).
    pub changed: tokio::sync::Notify,
}

impl Host {
    /// A host; remote hosts get their single proc at once, bin-path hosts
    /// get theirs from the spawner.
    pub fn new(cfg: HostConfig) -> Host {
        let id_hash = balance::djb(&cfg.addr.id_string(), 5381);
        let procs = if cfg.bin.is_none() {
            vec![Arc::new(Proc::new(0, proc_addr(&cfg.addr, None)))]
        } else {
            Vec::new()
        };
        Host {
            cfg,
            load: AtomicUsize::new(0),
            procs: Mutex::new(procs),
            id_hash,
            changed: tokio::sync::Notify::new(),
        }
    }

    /// The procs, newest first.
    pub fn procs(&self) -> Vec<Arc<Proc>> {
        self.procs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// True when at least one proc is running.
    pub fn is_usable(&self) -> bool {
        self.procs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|p| p.is_active())
    }

    /// The label, for `proxy.replace-http-host` and logs.
    pub fn label(&self) -> &BString {
        &self.cfg.label
    }
}

/// The address of proc `id` of a host: the host's own for remote hosts,
/// `port + id` or `socket-id` for spawned ones.
pub fn proc_addr(addr: &HostAddr, id: Option<u16>) -> ProcAddr {
    match (addr, id) {
        (HostAddr::Tcp { ip, port }, None) => ProcAddr::Tcp((*ip, *port).into()),
        (HostAddr::Tcp { ip, port }, Some(n)) => ProcAddr::Tcp((*ip, port.wrapping_add(n)).into()),
        (HostAddr::Unix(p), None) => ProcAddr::Unix(p.clone()),
        (HostAddr::Unix(p), Some(n)) => {
            let mut s = p.as_os_str().to_os_string();
            s.push(format!("-{n}"));
            ProcAddr::Unix(PathBuf::from(s))
        }
    }
}

/// One extension at run time.
#[derive(Debug)]
pub struct Extension {
    /// The key.
    pub key: BString,
    /// Its hosts in configuration order.
    pub hosts: Vec<Arc<Host>>,
    /// Round-robin position (index of the host used last, +1; 0: none yet).
    pub rr_next: AtomicUsize,
    /// "all handlers … are down" was logged; cleared by the next success.
    pub down_logged: std::sync::atomic::AtomicBool,
}

impl Extension {
    /// Extension `key` served by `hosts` (in configuration order).
    pub fn new(key: BString, hosts: Vec<Arc<Host>>) -> Self {
        Extension {
            key,
            hosts,
            rr_next: AtomicUsize::new(0),
            down_logged: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Logs that no host of this extension is usable, once until the next
    /// success (lighttpd's "all handlers … are down").
    pub fn report_down(&self, path: &[u8], query: Option<&[u8]>) {
        if !self.down_logged.swap(true, Ordering::Relaxed) {
            match query {
                Some(q) => tracing::error!(
                    "all handlers for {}?{} on {} are down.",
                    bstr::BStr::new(path),
                    bstr::BStr::new(q),
                    self.key
                ),
                None => tracing::error!(
                    "all handlers for {} on {} are down.",
                    bstr::BStr::new(path),
                    self.key
                ),
            }
        }
    }

    /// True when this extension handles `path` (prefix keys start with
    /// `/`, other keys are byte suffixes; `""` matches everything).
    pub fn matches(&self, path: &[u8]) -> bool {
        // (`""` answers without a comparison: an empty key's pointer is
        // dangling, and glibc's AVX-512 memcmp reads it with a masked load
        // whose fault suppression costs a microcode assist, ~100 ns per
        // request in perf)
        if self.key.is_empty() {
            true
        } else if self.key.starts_with(b"/") {
            path.starts_with(&self.key)
        } else {
            path.ends_with(&self.key)
        }
    }
}

/// The extensions of one `<module>.server` value.
#[derive(Debug, Default)]
pub struct Extensions {
    /// In configuration order.
    pub list: Vec<Arc<Extension>>,
}

impl Extensions {
    /// The extension for a path (spec backend-manager.md §5): a
    /// `map-extensions` suffix first, then keys in order, first match wins.
    pub fn find(&self, path: &[u8], map: &[(BString, BString)]) -> Option<&Arc<Extension>> {
        for (from, to) in map {
            if path.ends_with(from) {
                if let Some(e) = self.list.iter().find(|e| e.key == *to) {
                    return Some(e);
                }
            }
        }
        self.list.iter().find(|e| e.matches(path))
    }
}

/// Every host of a configuration, shared between scopes where lighttpd
/// shares them (same address and bin-path), and kept across reloads when
/// their configuration is unchanged.
#[derive(Debug)]
pub struct Registry {
    hosts: Mutex<Vec<Arc<Host>>>,
    /// Hosts of an earlier configuration that may be taken over.
    previous: Vec<Arc<Host>>,
    demand_tx: tokio::sync::mpsc::UnboundedSender<Arc<Host>>,
    demand_rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Arc<Host>>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        let (demand_tx, demand_rx) = tokio::sync::mpsc::unbounded_channel();
        Registry {
            hosts: Mutex::new(Vec::new()),
            previous: Vec::new(),
            demand_tx,
            demand_rx: Mutex::new(Some(demand_rx)),
        }
    }

    /// An empty registry that reuses `old`'s bin-path hosts whose
    /// configuration is unchanged (SIGUSR1), so their children live on.
    pub fn reusing(old: &Registry) -> Self {
        Registry {
            previous: old
                .all()
                .into_iter()
                .filter(|h| h.cfg.bin.is_some())
                .collect(),
            ..Registry::new()
        }
    }

    /// The host for `cfg`: an existing bin-path host with the same address
    /// and program (lighttpd merges those; a reload keeps them), else a new one.
    pub fn host(&self, cfg: &HostConfig) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if cfg.bin.is_some() {
            if let Some(h) = hosts
                .iter()
                .find(|h| h.cfg.addr == cfg.addr && h.cfg.bin == cfg.bin)
            {
                return h.clone();
            }
            if let Some(h) = self.previous.iter().find(|h| same_program(&h.cfg, cfg)) {
                hosts.push(h.clone());
                return h.clone();
            }
        }
        let h = Arc::new(Host::new(cfg.clone()));
        hosts.push(h.clone());
        h
    }

    /// All hosts.
    pub fn all(&self) -> Vec<Arc<Host>> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Asks the process manager to start a proc of `host` now (a request
    /// found no usable host and `host` has fewer than `max-procs`).
    pub fn demand(&self, host: &Arc<Host>) {
        let _ = self.demand_tx.send(host.clone());
    }

    /// The receiving end of [`Registry::demand`], for the process manager
    /// (once).
    pub fn take_demand(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Arc<Host>>> {
        self.demand_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

/// True when two host configurations start the same children the same way.
fn same_program(a: &HostConfig, b: &HostConfig) -> bool {
    a.addr == b.addr && a.bin == b.bin
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed connect keeps the proc out until the start of the second
    /// after `now + disable-time`, as lighttpd's one-second timer does.
    #[test]
    fn disabled_until_the_next_whole_second() {
        let p = Proc::new(0, ProcAddr::Tcp("127.0.0.1:9".parse().expect("addr")));
        let g = p.generation.load(Ordering::Acquire);
        for (now, seconds, back) in [
            (10_300, 0, 11_000),
            (10_999, 0, 11_000),
            (10_000, 0, 11_000),
            (10_300, 1, 12_000),
            (10_300, 5, 16_000),
        ] {
            p.set_state(ProcState::Running);
            p.disable(now, seconds, g);
            assert!(!p.is_active_at(now), "{now} {seconds}");
            assert!(!p.is_active_at(back - 1), "{now} {seconds}");
            assert!(p.is_active_at(back), "{now} {seconds}");
            assert_eq!(p.state(), ProcState::Running);
        }
        // a connection to an older child does not disable the new one
        p.disable(10_300, 1, g + 1);
        assert!(p.is_active_at(10_300));
    }

    fn extension(key: &str) -> Arc<Extension> {
        Arc::new(Extension::new(BString::from(key), Vec::new()))
    }

    /// Keys starting with `/` are prefixes, others suffixes, `""` takes
    /// every path (even an empty one); `map-extensions` goes first; the
    /// first key in order wins.
    #[test]
    fn extension_keys_match_as_in_lighttpd() {
        let exts = Extensions {
            list: vec![
                extension("/api/"),
                extension(".php"),
                extension(""),
                extension("/never"),
            ],
        };
        let key = |path: &str, map: &[(BString, BString)]| {
            exts.find(path.as_bytes(), map).map(|e| e.key.to_string())
        };
        assert_eq!(key("/api/x.php", &[]).as_deref(), Some("/api/"));
        assert_eq!(key("/a/x.php", &[]).as_deref(), Some(".php"));
        assert_eq!(key("/a/x.php3", &[]).as_deref(), Some(""));
        assert_eq!(key("/never", &[]).as_deref(), Some(""));
        assert_eq!(key("", &[]).as_deref(), Some(""));
        let map = [(BString::from(".php3"), BString::from(".php"))];
        assert_eq!(key("/a/x.php3", &map).as_deref(), Some(".php"));
        let only = Extensions {
            list: vec![extension("/api/"), extension(".php")],
        };
        assert!(only.find(b"/x.html", &[]).is_none());
        assert!(only.find(b"", &[]).is_none());
        assert!(extension("").matches(b""));
        assert!(!extension("/api/").matches(b"/ap"));
    }
}
