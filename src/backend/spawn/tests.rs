//! The manager's life-cycle rules against a fake [`Spawner`] on paused
//! tokio time: no processes, no sockets, deterministic ticks.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bstr::BString;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::*;
use crate::backend::{Host, HostAddr, HostConfig, Proc, ProcAddr, ProcState, Registry};
use crate::config::source::Span;

const SIGTERM: i32 = libc::SIGTERM;
const SIGKILL: i32 = libc::SIGKILL;

struct FakeChild {
    addr: ProcAddr,
    exit: Option<oneshot::Sender<ChildExit>>,
}

#[derive(Default)]
struct FakeState {
    next_pid: u32,
    /// Addresses where "something else" already listens.
    external: HashSet<ProcAddr>,
    /// Addresses whose bind fails.
    refuse_listen: HashSet<ProcAddr>,
    /// New children exit before the start check.
    exit_at_once: bool,
    /// Children that ignore every signal but SIGKILL.
    stubborn: HashSet<u32>,
    children: HashMap<u32, FakeChild>,
    spawns: Vec<(u32, ProcAddr, Instant)>,
    signals: Vec<(u32, i32, Instant)>,
    removed: Vec<PathBuf>,
}

/// A spawner that only records what the manager asks for.
#[derive(Default)]
struct Fake(Mutex<FakeState>);

impl Fake {
    fn new() -> Arc<Fake> {
        Arc::new(Fake(Mutex::new(FakeState {
            next_pid: 1000,
            ..FakeState::default()
        })))
    }

    fn st(&self) -> MutexGuard<'_, FakeState> {
        self.0.lock().expect("fake state")
    }

    /// Ends child `pid` as if it exited on its own.
    fn exit(&self, pid: u32, how: ChildExit) {
        let tx = self
            .st()
            .children
            .get_mut(&pid)
            .and_then(|c| c.exit.take())
            .expect("a live child");
        let _ = tx.send(how);
    }

    fn spawned(&self) -> Vec<ProcAddr> {
        self.st().spawns.iter().map(|s| s.1.clone()).collect()
    }

    fn spawn_times(&self) -> Vec<Instant> {
        self.st().spawns.iter().map(|s| s.2).collect()
    }

    fn signals_to(&self, pid: u32) -> Vec<i32> {
        self.st()
            .signals
            .iter()
            .filter(|s| s.0 == pid)
            .map(|s| s.1)
            .collect()
    }

    fn signal_time(&self, pid: u32, sig: i32) -> Option<Instant> {
        self.st()
            .signals
            .iter()
            .find(|s| s.0 == pid && s.1 == sig)
            .map(|s| s.2)
    }

    fn alive(&self) -> usize {
        self.st()
            .children
            .values()
            .filter(|c| c.exit.is_some())
            .count()
    }

    fn addr_of(&self, pid: u32) -> ProcAddr {
        self.st().children.get(&pid).expect("a child").addr.clone()
    }
}

impl Spawner for Fake {
    fn probe<'a>(&'a self, addr: &'a ProcAddr) -> BoxFuture<'a, bool> {
        let found = self.st().external.contains(addr);
        Box::pin(async move { found })
    }

    fn listen(&self, addr: &ProcAddr, _backlog: i32) -> io::Result<ProcSocket> {
        if self.st().refuse_listen.contains(addr) {
            return Err(io::Error::from_raw_os_error(libc::EADDRINUSE));
        }
        Ok(ProcSocket::placeholder(addr.clone()))
    }

    fn start(&self, _bin: &BinConfig, socket: ProcSocket) -> io::Result<Spawned> {
        let mut st = self.st();
        st.next_pid += 1;
        let pid = st.next_pid;
        let (tx, rx) = oneshot::channel();
        let tx = if st.exit_at_once {
            let _ = tx.send(ChildExit::Code(1));
            None
        } else {
            Some(tx)
        };
        let addr = socket.addr().clone();
        st.spawns.push((pid, addr.clone(), Instant::now()));
        st.children.insert(pid, FakeChild { addr, exit: tx });
        Ok(Spawned {
            pid,
            exit: Box::pin(async move { rx.await.unwrap_or(ChildExit::Unknown) }),
        })
    }

    fn signal(&self, pid: u32, signal: i32) -> io::Result<()> {
        let mut st = self.st();
        st.signals.push((pid, signal, Instant::now()));
        let stubborn = st.stubborn.contains(&pid);
        let child = st
            .children
            .get_mut(&pid)
            .filter(|c| c.exit.is_some())
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        if signal == SIGKILL || !stubborn {
            if let Some(tx) = child.exit.take() {
                let _ = tx.send(ChildExit::Signal(signal));
            }
        }
        Ok(())
    }

    fn remove_socket(&self, path: &Path) -> io::Result<()> {
        self.st().removed.push(path.to_path_buf());
        Ok(())
    }
}

fn bin(min: u16, max: u16) -> BinConfig {
    BinConfig {
        argv: vec!["/srv/app".into(), "serve".into()],
        env: Vec::new(),
        copy_env: Vec::new(),
        min_procs: min,
        max_procs: max,
        max_load_per_proc: 1,
        idle_timeout: 60,
        kill_signal: SIGTERM,
        listen_backlog: 1024,
    }
}

fn host_cfg(addr: HostAddr, bin: Option<BinConfig>) -> HostConfig {
    HostConfig {
        label: BString::from(""),
        addr,
        bin,
        disable_time: 1,
        connect_timeout: 8,
        read_timeout: 0,
        write_timeout: 0,
        x_sendfile: false,
        x_sendfile_docroot: Vec::new(),
        tcp_fin_propagate: false,
        span: Span::default(),
    }
}

fn tcp(port: u16) -> HostAddr {
    HostAddr::Tcp {
        ip: IpAddr::from([127, 0, 0, 1]),
        port,
    }
}

fn tcp_proc(port: u16) -> ProcAddr {
    ProcAddr::Tcp(([127, 0, 0, 1], port).into())
}

fn tcp_host(port: u16, bin: BinConfig) -> Arc<Host> {
    Arc::new(Host::new(host_cfg(tcp(port), Some(bin))))
}

/// Milliseconds since the test started, on tokio's (paused) clock.
fn test_clock() -> Clock {
    let t0 = Instant::now();
    Arc::new(move || t0.elapsed().as_millis() as u64)
}

fn opts(grace_secs: u64) -> ManagerOptions {
    ManagerOptions {
        reap_grace: Duration::from_secs(grace_secs),
    }
}

async fn start(hosts: &[Arc<Host>], fake: &Arc<Fake>, clock: &Clock) -> ProcManager {
    ProcManager::start(hosts, fake.clone(), clock.clone(), opts(5))
        .await
        .expect("starts")
}

/// Waits (in virtual time) until `f` holds.
async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(300);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Lets virtual time pass while the manager works.
async fn pass(d: Duration) {
    tokio::time::sleep(d).await;
}

fn ids(h: &Host) -> Vec<u16> {
    h.procs().iter().map(|p| p.id).collect()
}

fn proc_by_id(h: &Host, id: u16) -> Arc<Proc> {
    h.procs()
        .into_iter()
        .find(|p| p.id == id)
        .expect("proc listed")
}

fn pid(p: &Proc) -> u32 {
    p.pid.load(Ordering::Acquire)
}

/// The defaults come from the config parser: `min-procs` 4, so four
/// children on `port`…`port+3`, listed newest first.
#[tokio::test(start_paused = true)]
async fn startup_spawns_min_procs_newest_first() {
    let text =
        "proxy.server = ( \"\" => (( \"bin-path\" => \"/srv/app serve\", \"port\" => 18000 )))\n";
    let env = crate::config::Environment::sandboxed();
    let cfg = crate::config::load(b"t.conf", text.as_bytes().to_vec(), &env).expect("loads");
    let entry = cfg
        .top()
        .entries
        .get(b"proxy.server")
        .cloned()
        .expect("proxy.server");
    let parsed =
        crate::backend::config::parse("proxy", &entry, &|_| Err("no dns".into())).expect("parses");
    let host = Arc::new(Host::new(parsed.extensions[0].hosts[0].clone()));
    let fake = Fake::new();
    let _m = start(std::slice::from_ref(&host), &fake, &test_clock()).await;

    assert_eq!(
        fake.spawned(),
        (18000..18004).map(tcp_proc).collect::<Vec<_>>()
    );
    assert_eq!(ids(&host), [3, 2, 1, 0]);
    let procs = host.procs();
    let mut pids: Vec<u32> = procs.iter().map(|p| pid(p)).collect();
    assert!(pids.iter().all(|p| *p != 0));
    pids.dedup();
    assert_eq!(pids.len(), 4);
    for p in &procs {
        assert_eq!(p.addr, tcp_proc(18000 + p.id));
        assert_eq!(p.state(), ProcState::Running);
        assert_eq!(p.generation.load(Ordering::Relaxed), 1);
        assert_eq!(fake.addr_of(pid(p)), p.addr);
    }
}

/// Proc N of a socket host listens on `socket-N`.
#[tokio::test(start_paused = true)]
async fn unix_socket_procs_are_socket_dash_id() {
    let host = Arc::new(Host::new(host_cfg(
        HostAddr::Unix("/run/app.sock".into()),
        Some(bin(2, 2)),
    )));
    let fake = Fake::new();
    let _m = start(std::slice::from_ref(&host), &fake, &test_clock()).await;
    let addrs: Vec<ProcAddr> = host.procs().iter().map(|p| p.addr.clone()).collect();
    assert_eq!(
        addrs,
        [
            ProcAddr::Unix("/run/app.sock-1".into()),
            ProcAddr::Unix("/run/app.sock-0".into())
        ]
    );
}

/// §7.1 step 1: an address that already accepts connections gets no
/// child; the proc is unmanaged and nothing is ever spawned for it.
#[tokio::test(start_paused = true)]
async fn external_listener_is_unmanaged_and_never_respawned() {
    let fake = Fake::new();
    fake.st().external.insert(tcp_proc(18101));
    let host = tcp_host(18100, bin(2, 2));
    let m = start(std::slice::from_ref(&host), &fake, &test_clock()).await;
    let h = m.run(None);
    assert_eq!(fake.spawned(), [tcp_proc(18100)]);
    let ext = proc_by_id(&host, 1);
    assert_eq!(pid(&ext), 0);
    assert_eq!(ext.state(), ProcState::Running);
    // It stops serving: requests disable it, the manager never respawns it.
    ext.disable(0, 1, ext.generation.load(Ordering::Acquire));
    pass(Duration::from_secs(5)).await;
    assert_eq!(fake.spawned(), [tcp_proc(18100)]);
    h.shutdown(Duration::from_secs(1)).await;
}

/// §8.2: a child that dies is replaced at once on the same id and
/// address, with a new pid and generation.
#[tokio::test(start_paused = true)]
async fn exited_child_is_respawned_at_once_on_same_address() {
    let fake = Fake::new();
    let host = tcp_host(18200, bin(1, 1));
    let h = start(std::slice::from_ref(&host), &fake, &test_clock())
        .await
        .run(None);
    let p = proc_by_id(&host, 0);
    let first = pid(&p);
    let t0 = Instant::now();
    fake.exit(first, ChildExit::Code(3));
    until("a new child", || pid(&p) != 0 && pid(&p) != first).await;
    assert!(t0.elapsed() < Duration::from_millis(500), "not at once");
    assert_eq!(fake.spawned(), [tcp_proc(18200), tcp_proc(18200)]);
    assert!(Arc::ptr_eq(&p, &proc_by_id(&host, 0)));
    assert_eq!(p.generation.load(Ordering::Relaxed), 2);
    assert_eq!(p.state(), ProcState::Running);
    h.shutdown(Duration::from_secs(1)).await;
}

/// A child that exits 0.3 s after every start is restarted about once a
/// second, for ever.
#[tokio::test(start_paused = true)]
async fn crash_loop_is_throttled_and_never_abandoned() {
    let fake = Fake::new();
    let host = tcp_host(18300, bin(1, 1));
    let t0 = Instant::now();
    let h = start(std::slice::from_ref(&host), &fake, &test_clock())
        .await
        .run(None);
    let p = proc_by_id(&host, 0);
    let mut deaths = Vec::new();
    while t0.elapsed() < Duration::from_secs(20) {
        let current = pid(&p);
        if current != 0 {
            pass(Duration::from_millis(300)).await;
            fake.exit(current, ChildExit::Code(1));
            deaths.push(Instant::now());
            until("the exit to be seen", || pid(&p) != current).await;
        } else {
            pass(Duration::from_millis(10)).await;
        }
    }
    let spawns = fake.spawn_times();
    assert!(
        (12..=26).contains(&spawns.len()),
        "{} spawns in 20 s",
        spawns.len()
    );
    for w in spawns.windows(3) {
        assert!(
            w[2] - w[0] >= Duration::from_millis(900),
            "three spawns within a second"
        );
    }
    assert!(
        *spawns.last().expect("spawns") - t0 > Duration::from_secs(17),
        "gave up"
    );
    assert!(deaths.len() + 1 >= spawns.len());
    h.shutdown(Duration::from_secs(1)).await;
}

/// A proc that died twice within a second waits for its connections to
/// close before the tick respawns it.
#[tokio::test(start_paused = true)]
async fn throttled_respawn_waits_for_load_zero() {
    let fake = Fake::new();
    let host = tcp_host(18350, bin(1, 1));
    let h = start(std::slice::from_ref(&host), &fake, &test_clock())
        .await
        .run(None);
    let p = proc_by_id(&host, 0);
    let first = pid(&p);
    fake.exit(first, ChildExit::Code(1));
    until("the respawn", || pid(&p) != 0 && pid(&p) != first).await;
    p.load.store(1, Ordering::Relaxed);
    fake.exit(pid(&p), ChildExit::Signal(libc::SIGSEGV));
    until("the death", || p.state() == ProcState::Died).await;
    pass(Duration::from_secs(3)).await;
    assert_eq!(fake.spawned().len(), 2, "respawned with a connection open");
    assert_eq!(p.state(), ProcState::Died);
    p.load.store(0, Ordering::Relaxed);
    let t = Instant::now();
    until("the tick respawn", || p.state() == ProcState::Running).await;
    assert!(t.elapsed() <= Duration::from_millis(1100));
    assert_eq!(fake.spawned().len(), 3);
    h.shutdown(Duration::from_secs(1)).await;
}

/// §8.3: when every proc has more than `max-load-per-proc` connections, one
/// proc per tick is added at the front, up to `max-procs`.
#[tokio::test(start_paused = true)]
async fn overload_spawns_one_proc_per_tick_up_to_max() {
    let fake = Fake::new();
    let host = tcp_host(18400, bin(1, 3));
    let h = start(std::slice::from_ref(&host), &fake, &test_clock())
        .await
        .run(None);
    assert_eq!(ids(&host), [0]);
    proc_by_id(&host, 0).load.store(2, Ordering::Relaxed);
    until("a second proc", || host.procs().len() == 2).await;
    assert_eq!(ids(&host), [1, 0]);
    assert_eq!(proc_by_id(&host, 1).addr, tcp_proc(18401));
    // Both overloaded: one more, a tick later at the earliest.
    let t = Instant::now();
    proc_by_id(&host, 1).load.store(2, Ordering::Relaxed);
    until("a third proc", || host.procs().len() == 3).await;
    assert!(t.elapsed() <= Duration::from_millis(1100));
    assert_eq!(ids(&host), [2, 1, 0]);
    proc_by_id(&host, 2).load.store(5, Ordering::Relaxed);
    pass(Duration::from_secs(3)).await;
    assert_eq!(fake.spawned().len(), 3, "beyond max-procs");
    h.shutdown(Duration::from_secs(1)).await;
}

/// A proc at (not above) the limit means no overload.
#[tokio::test(start_paused = true)]
async fn no_overload_spawn_while_one_proc_is_within_the_limit() {
    let fake = Fake::new();
    let host = tcp_host(18450, bin(2, 4));
    let h = start(std::slice::from_ref(&host), &fake, &test_clock())
        .await
        .run(None);
    proc_by_id(&host, 0).load.store(2, Ordering::Relaxed);
    proc_by_id(&host, 1).load.store(1, Ordering::Relaxed);
    pass(Duration::from_secs(3)).await;
    assert_eq!(fake.spawned().len(), 2);
    proc_by_id(&host, 1).load.store(2, Ordering::Relaxed);
    until("the overload spawn", || fake.spawned().len() == 3).await;
    h.shutdown(Duration::from_secs(1)).await;
}

/// §8.4: above `min-procs`, the first idle proc in newest-first order is
/// sent `kill-signal`, one per tick; a reaped proc's id and address
/// serve the next spawn.
#[tokio::test(start_paused = true)]
async fn idle_proc_above_min_is_reaped_newest_idle_first_and_id_reused() {
    let fake = Fake::new();
    let mut b = bin(1, 3);
    b.idle_timeout = 3;
    let host = tcp_host(18500, b);
    let clock = test_clock();
    let h = start(std::slice::from_ref(&host), &fake, &clock)
        .await
        .run(None);
    proc_by_id(&host, 0).load.store(2, Ordering::Relaxed);
    until("proc 1", || host.procs().len() == 2).await;
    proc_by_id(&host, 1).load.store(2, Ordering::Relaxed);
    until("proc 2", || host.procs().len() == 3).await;
    let (p0, p1, p2) = (
        proc_by_id(&host, 0),
        proc_by_id(&host, 1),
        proc_by_id(&host, 2),
    );
    let (pid0, pid1, pid2) = (pid(&p0), pid(&p1), pid(&p2));
    let idle_since = Instant::now();
    for p in [&p0, &p1, &p2] {
        p.load.store(0, Ordering::Relaxed);
        p.last_used.store(clock(), Ordering::Relaxed);
    }
    // Proc 2 (the newest) keeps being used; 1 and 0 idle.
    until("a reap", || {
        p2.last_used.store(clock(), Ordering::Relaxed);
        !fake.signals_to(pid1).is_empty() || !fake.signals_to(pid0).is_empty()
    })
    .await;
    let waited = idle_since.elapsed();
    assert!(
        waited > Duration::from_secs(3) && waited <= Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(
        fake.signals_to(pid1),
        [SIGTERM],
        "the newest idle proc goes"
    );
    assert!(fake.signals_to(pid0).is_empty(), "one per tick");
    assert!(fake.signals_to(pid2).is_empty());
    assert_eq!(ids(&host), [2, 0]);
    assert_eq!(p1.state(), ProcState::Killed);
    let first_reap = fake.signal_time(pid1, SIGTERM).expect("reaped");
    until("the second reap", || {
        p2.last_used.store(clock(), Ordering::Relaxed);
        !fake.signals_to(pid0).is_empty()
    })
    .await;
    let second_reap = fake.signal_time(pid0, SIGTERM).expect("reaped");
    assert!(second_reap - first_reap >= Duration::from_millis(900));
    assert_eq!(ids(&host), [2]);
    pass(Duration::from_secs(3)).await;
    assert_eq!(ids(&host), [2], "min-procs stays");
    // The next spawn takes the lowest free id, the reaped proc 0's.
    p2.load.store(2, Ordering::Relaxed);
    until("a spawn", || host.procs().len() == 2).await;
    assert_eq!(ids(&host), [0, 2]);
    let again = proc_by_id(&host, 0);
    assert!(Arc::ptr_eq(&again, &p0), "the reaped proc is reused");
    assert_eq!(again.addr, tcp_proc(18500));
    assert_eq!(again.state(), ProcState::Running);
    assert_ne!(pid(&again), 0);
    h.shutdown(Duration::from_secs(1)).await;
}

/// wick's difference to lighttpd (§14.4): a reaped child that ignores
/// `kill-signal` gets SIGKILL after the grace period and is reaped.
#[tokio::test(start_paused = true)]
async fn reaped_child_ignoring_kill_signal_gets_sigkill_after_grace() {
    let fake = Fake::new();
    let mut b = bin(1, 2);
    b.idle_timeout = 1;
    let host = tcp_host(18600, b);
    let clock = test_clock();
    let m = ProcManager::start(
        std::slice::from_ref(&host),
        fake.clone(),
        clock.clone(),
        opts(5),
    )
    .await
    .expect("starts");
    let h = m.run(None);
    let p0 = proc_by_id(&host, 0);
    p0.load.store(2, Ordering::Relaxed);
    until("proc 1", || host.procs().len() == 2).await;
    let p1 = proc_by_id(&host, 1);
    let pid1 = pid(&p1);
    fake.st().stubborn.insert(pid1);
    p0.load.store(0, Ordering::Relaxed);
    until("the reap", || {
        p0.last_used.store(clock(), Ordering::Relaxed);
        !fake.signals_to(pid1).is_empty()
    })
    .await;
    let t = fake.signal_time(pid1, SIGTERM).expect("kill-signal");
    until("almost the grace period", || {
        p0.last_used.store(clock(), Ordering::Relaxed);
        Instant::now() >= t + Duration::from_millis(4900)
    })
    .await;
    assert_eq!(fake.signals_to(pid1), [SIGTERM], "SIGKILL too early");
    until("SIGKILL", || fake.signals_to(pid1).contains(&SIGKILL)).await;
    let k = fake.signal_time(pid1, SIGKILL).expect("SIGKILL");
    assert!(k - t >= Duration::from_secs(5) && k - t <= Duration::from_millis(6100));
    until("the reaping", || pid(&p1) == 0).await;
    assert_eq!(fake.alive(), 1);
    h.shutdown(Duration::from_secs(1)).await;
}

/// §8.1: with `min-procs` 0 nothing starts; a request's demand spawns one
/// proc at once and wakes the waiting request.
#[tokio::test(start_paused = true)]
async fn min_procs_zero_spawns_on_demand() {
    let fake = Fake::new();
    let registry = Registry::new();
    let host = registry.host(&host_cfg(tcp(18700), Some(bin(0, 2))));
    let m = start(&registry.all(), &fake, &test_clock()).await;
    assert!(fake.spawned().is_empty());
    assert!(!host.is_usable());
    let h = m.run(registry.take_demand());
    let changed = host.changed.notified();
    tokio::pin!(changed);
    changed.as_mut().enable();
    let t = Instant::now();
    registry.demand(&host);
    tokio::time::timeout(Duration::from_secs(5), changed)
        .await
        .expect("woken");
    assert!(t.elapsed() < Duration::from_millis(500), "not at once");
    assert_eq!(ids(&host), [0]);
    assert_eq!(fake.spawned(), [tcp_proc(18700)]);
    // Usable now: more demands spawn nothing.
    registry.demand(&host);
    pass(Duration::from_millis(500)).await;
    assert_eq!(fake.spawned().len(), 1);
    h.shutdown(Duration::from_secs(1)).await;
}

/// §8.5 with wick's difference: every child we spawned (running and
/// reaped) gets `kill-signal`; stragglers get SIGKILL after the timeout;
/// our socket files go, an external one stays; a second call is harmless.
#[tokio::test(start_paused = true)]
async fn shutdown_signals_all_escalates_and_unlinks_sockets() {
    let fake = Fake::new();
    let mut b = bin(1, 2);
    b.idle_timeout = 1;
    b.kill_signal = libc::SIGUSR1;
    let a = Arc::new(Host::new(host_cfg(
        HostAddr::Unix("/run/a.sock".into()),
        Some(b),
    )));
    let ext = Arc::new(Host::new(host_cfg(
        HostAddr::Unix("/run/b.sock".into()),
        Some(bin(1, 1)),
    )));
    fake.st()
        .external
        .insert(ProcAddr::Unix("/run/b.sock-0".into()));
    let clock = test_clock();
    let m = ProcManager::start(
        &[a.clone(), ext.clone()],
        fake.clone(),
        clock.clone(),
        opts(60),
    )
    .await
    .expect("starts");
    let h = m.run(None);
    let p0 = proc_by_id(&a, 0);
    p0.load.store(2, Ordering::Relaxed);
    until("proc 1", || a.procs().len() == 2).await;
    let p1 = proc_by_id(&a, 1);
    let (pid0, pid1) = (pid(&p0), pid(&p1));
    fake.st().stubborn.insert(pid1);
    p0.load.store(0, Ordering::Relaxed);
    until("the reap", || {
        p0.last_used.store(clock(), Ordering::Relaxed);
        !fake.signals_to(pid1).is_empty()
    })
    .await;
    assert_eq!(fake.alive(), 2, "the reaped child lingers");
    let t = Instant::now();
    h.shutdown(Duration::from_secs(3)).await;
    assert!(h.is_stopped());
    assert_eq!(fake.signals_to(pid0), [libc::SIGUSR1]);
    assert_eq!(
        fake.signals_to(pid1),
        [libc::SIGUSR1, libc::SIGUSR1, SIGKILL]
    );
    let k = fake.signal_time(pid1, SIGKILL).expect("SIGKILL");
    assert!(k - t >= Duration::from_secs(3));
    assert_eq!(fake.alive(), 0, "every child reaped");
    let mut removed = fake.st().removed.clone();
    removed.sort();
    assert_eq!(
        removed,
        [
            PathBuf::from("/run/a.sock-0"),
            PathBuf::from("/run/a.sock-1")
        ]
    );
    assert_eq!(p0.state(), ProcState::Died);
    let n = fake.st().signals.len();
    tokio::time::timeout(
        Duration::from_millis(10),
        h.shutdown(Duration::from_secs(3)),
    )
    .await
    .expect("a second shutdown returns at once");
    assert_eq!(fake.st().signals.len(), n);
}

/// A reload keeps hosts that are still configured, stops dropped ones and
/// starts new ones.
#[tokio::test(start_paused = true)]
async fn update_keeps_stops_and_starts_hosts() {
    let fake = Fake::new();
    let a = tcp_host(18800, bin(2, 2));
    let b = tcp_host(18810, bin(1, 1));
    let c = tcp_host(18820, bin(1, 1));
    let h = start(&[a.clone(), b.clone()], &fake, &test_clock())
        .await
        .run(None);
    let a_pids: Vec<u32> = a.procs().iter().map(|p| pid(p)).collect();
    let b0 = proc_by_id(&b, 0);
    let b_pid = pid(&b0);
    fake.st().stubborn.insert(b_pid);
    h.update(&[a.clone(), c.clone()], None).await;
    assert_eq!(a.procs().iter().map(|p| pid(p)).collect::<Vec<_>>(), a_pids);
    assert_eq!(fake.signals_to(b_pid), [SIGTERM]);
    assert_eq!(b0.state(), ProcState::Died);
    assert_eq!(ids(&c), [0]);
    assert_ne!(pid(&proc_by_id(&c, 0)), 0);
    // b's child ignores it: SIGKILL after the grace period, no respawn.
    until("SIGKILL", || fake.signals_to(b_pid).contains(&SIGKILL)).await;
    until("the reaping", || pid(&b0) == 0).await;
    pass(Duration::from_secs(3)).await;
    assert_eq!(fake.spawned().len(), 4, "a 2 + b 1 + c 1, nothing more");
    for p in a.procs() {
        assert!(fake.signals_to(pid(&p)).is_empty());
    }
    h.shutdown(Duration::from_secs(1)).await;
}

/// A failed spawn at start-up is an error naming program, address and OS
/// reason, and what was already started is stopped.
#[tokio::test(start_paused = true)]
async fn startup_failure_is_an_error_and_stops_started_children() {
    let fake = Fake::new();
    fake.st().refuse_listen.insert(tcp_proc(18910));
    let a = tcp_host(18900, bin(2, 2));
    let b = tcp_host(18910, bin(1, 1));
    let err = ProcManager::start(&[a.clone(), b], fake.clone(), test_clock(), opts(5))
        .await
        .expect_err("refused");
    let msg = err.to_string();
    assert!(msg.contains("/srv/app"), "{msg}");
    assert!(msg.contains("tcp:127.0.0.1:18910"), "{msg}");
    assert!(msg.contains("in use"), "{msg}");
    assert!(matches!(err, SpawnError::Listen { .. }));
    assert_eq!(fake.spawned().len(), 2);
    assert_eq!(fake.alive(), 0, "a's children stopped");
}

/// A child already gone at the start check is a spawn failure.
#[tokio::test(start_paused = true)]
async fn child_gone_at_once_is_a_spawn_failure() {
    let fake = Fake::new();
    fake.st().exit_at_once = true;
    let err = ProcManager::start(
        &[tcp_host(19000, bin(1, 1))],
        fake.clone(),
        test_clock(),
        opts(5),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(
            err,
            SpawnError::Exited {
                exit: ChildExit::Code(1),
                ..
            }
        ),
        "{err}"
    );
}

/// Remote hosts in the list are not touched.
#[tokio::test(start_paused = true)]
async fn remote_hosts_are_left_alone() {
    let fake = Fake::new();
    let remote = Arc::new(Host::new(host_cfg(tcp(19100), None)));
    let local = tcp_host(19110, bin(1, 1));
    let h = start(&[remote.clone(), local.clone()], &fake, &test_clock())
        .await
        .run(None);
    pass(Duration::from_secs(3)).await;
    assert_eq!(fake.spawned(), [tcp_proc(19110)]);
    h.shutdown(Duration::from_secs(1)).await;
    let procs = remote.procs();
    assert_eq!(procs.len(), 1);
    assert_eq!(procs[0].state(), ProcState::Running);
    assert_eq!(pid(&procs[0]), 0);
}

fn env_of(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    pairs
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect()
}

/// §7.3 with `bin-copy-environment`: only listed names that are set, then
/// `bin-environment`, then `PHP_FCGI_CHILDREN=1`.
#[test]
fn child_env_with_copy_list() {
    let parent = env_of(&[("PATH", "/bin"), ("HOME", "/root"), ("SECRET", "x")]);
    let mut b = bin(1, 1);
    b.copy_env = vec!["PATH".into(), "HOME".into(), "NOPE".into()];
    b.env = env_of(&[("BL_LOGDIR", "/tmp/l"), ("FOO", "bar"), ("HOME", "/srv")]);
    assert_eq!(
        child_env(&b, parent),
        env_of(&[
            ("PATH", "/bin"),
            ("HOME", "/srv"),
            ("BL_LOGDIR", "/tmp/l"),
            ("FOO", "bar"),
            ("PHP_FCGI_CHILDREN", "1"),
        ])
    );
}

/// §7.3 without a copy list: the whole environment; a configured
/// `PHP_FCGI_CHILDREN` is kept.
#[test]
fn child_env_without_copy_list() {
    let parent = env_of(&[("PATH", "/bin"), ("SECRET", "x")]);
    let mut b = bin(1, 1);
    assert_eq!(
        child_env(&b, parent.clone()),
        env_of(&[
            ("PATH", "/bin"),
            ("SECRET", "x"),
            ("PHP_FCGI_CHILDREN", "1")
        ])
    );
    b.env = env_of(&[("PHP_FCGI_CHILDREN", "8")]);
    assert_eq!(
        child_env(&b, parent),
        env_of(&[
            ("PATH", "/bin"),
            ("SECRET", "x"),
            ("PHP_FCGI_CHILDREN", "8")
        ])
    );
}
