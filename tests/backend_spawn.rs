//! Real `bin-path` children: [`OsSpawner`] and [`ProcManager`] start
//! `shared/compat/tools/binpath_logger.py`, which records how it was
//! started (spec backend-manager.md §7–§8). Loopback and temp dirs only;
//! ports come from binding `127.0.0.1:0`.
//!
//! The tools are found through `WICK_SHARED_DIR` (default `../shared`
//! beside the crate); without them or without python3 the tests say
//! SKIPPED on stderr and pass — except under the test command
//! (`WICK_REQUIRE_LIGHTTPD=1`), where that is a failure.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wick::backend::spawn::{
    ManagerOptions, OsSpawner, ProcManager, ProcManagerHandle, SpawnError, coarse_clock,
};
use wick::backend::{Host, ProcState};

const DEADLINE: Duration = Duration::from_secs(10);

/// What every test needs: the logger, a PATH that finds a real python3,
/// and a scratch directory for the logger's records.
struct Setup {
    tools: PathBuf,
    logger: PathBuf,
    /// `PATH` for the children: the real interpreter's directory first (a
    /// pyenv shim would add its own variables to the environment).
    path: String,
    dir: tempfile::TempDir,
}

/// A missing tool skips the test, except under the test command
/// (`WICK_REQUIRE_LIGHTTPD=1`, as compat-tests), where it fails it.
fn skip(why: String) -> Option<Setup> {
    if std::env::var("WICK_REQUIRE_LIGHTTPD").is_ok_and(|v| v == "1") {
        panic!("{why} (WICK_REQUIRE_LIGHTTPD=1 turns this skip into a failure)");
    }
    eprintln!("SKIPPED: {why}");
    None
}

fn setup() -> Option<Setup> {
    let shared = std::env::var_os("WICK_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let tools = shared.join("compat/tools");
    let logger = tools.join("binpath_logger.py");
    if !logger.exists() {
        return skip(format!(
            "{} not found (set WICK_SHARED_DIR)",
            logger.display()
        ));
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output();
    let exe = match out {
        Ok(o) if o.status.success() => PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()),
        _ => return skip("python3 not found".into()),
    };
    let py_dir = exe.parent().expect("python has a directory").to_path_buf();
    let path = format!(
        "{}:{}",
        py_dir.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    Some(Setup {
        tools: tools.canonicalize().expect("tools dir"),
        logger: logger.canonicalize().expect("logger"),
        path,
        dir: tempfile::tempdir().expect("tempdir"),
    })
}

/// The host of a `proxy.server` value, through the real config parser.
fn host(server: &str) -> Arc<Host> {
    let text = format!("proxy.server = {server}\n");
    let env = wick::config::Environment {
        cwd: None,
        pid: 1,
        vars: Default::default(),
        allow_includes: false,
    };
    let cfg = wick::config::load(b"t.conf", text.into_bytes(), &env).expect("config loads");
    let entry = cfg
        .top()
        .entries
        .get(b"proxy.server")
        .cloned()
        .expect("proxy.server");
    let parsed = wick::backend::config::parse("proxy", &entry, &|_| Err("no dns".into()))
        .expect("proxy.server parses");
    let cfg = parsed
        .extensions
        .first()
        .and_then(|e| e.hosts.first())
        .expect("one host")
        .clone();
    Arc::new(Host::new(cfg))
}

/// A port `p` such that `p` … `p + n - 1` are free on 127.0.0.1.
fn free_ports(n: u16) -> u16 {
    for _ in 0..200 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let p = l.local_addr().expect("addr").port();
        let Some(last) = p.checked_add(n - 1) else {
            continue;
        };
        let rest: Vec<_> = (p + 1..=last)
            .filter_map(|q| std::net::TcpListener::bind(("127.0.0.1", q)).ok())
            .collect();
        if rest.len() == usize::from(n - 1) {
            return p;
        }
    }
    panic!("no {n} consecutive free ports");
}

async fn start(hosts: &[Arc<Host>]) -> Result<ProcManagerHandle, SpawnError> {
    let m = ProcManager::start(
        hosts,
        Arc::new(OsSpawner::new()),
        coarse_clock(),
        ManagerOptions::default(),
    )
    .await?;
    Ok(m.run(None))
}

async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pids(h: &Host) -> Vec<u32> {
    h.procs()
        .iter()
        .map(|p| p.pid.load(std::sync::atomic::Ordering::Acquire))
        .collect()
}

/// Waits until child `pid` has only its main thread left: the logger
/// serves each connection on a thread of its own, and a process signal
/// that lands on such a thread leaves Python's handler waiting for the
/// main thread (blocked in accept) to run it, which it may never do.
async fn main_thread_only(pid: u32) {
    until("the child's connection threads to end", || {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.count();
        (tasks == 1).then_some(())
    })
    .await;
}

/// The logger's record of child `pid`, once fully written.
fn record(dir: &Path, pid: u32) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join(format!("binpath-{pid}.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

fn events(dir: &Path, pid: u32) -> String {
    std::fs::read_to_string(dir.join(format!("binpath-{pid}.events"))).unwrap_or_default()
}

/// Echoes one byte through the child: it has installed its signal
/// handlers and is accepting.
async fn echo_tcp(addr: SocketAddr) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let mut b = [0u8; 1];
    s.write_all(b"x").await.is_ok() && s.read_exact(&mut b).await.is_ok() && b == *b"x"
}

async fn wait_echo_tcp(addr: SocketAddr) {
    let end = Instant::now() + DEADLINE;
    while !echo_tcp(addr).await {
        assert!(Instant::now() < end, "timed out waiting for {addr} to echo");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True once `pid` is gone and reaped (a zombie would still answer).
fn is_gone(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(pid as i32, 0) };
    rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// SIGKILLs a child if the test fails before the manager stopped it.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 != 0 && !is_gone(self.0) {
            // SAFETY: kill(2) on a child this test started.
            unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
        }
    }
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// §7.2: fds 0–2 only; the logger's own `listdir` descriptor of
/// /proc/self/fd may show up once (already closed when it is read).
fn assert_no_leaked_fds(rec: &Value) {
    let fds = str_map(&rec["fds"]);
    assert!(
        fds.get("0").is_some_and(|v| v.starts_with("socket:")),
        "{fds:?}"
    );
    assert!(fds.contains_key("1") && fds.contains_key("2"), "{fds:?}");
    let extra: Vec<_> = fds
        .iter()
        .filter(|(k, _)| !["0", "1", "2"].contains(&k.as_str()))
        .collect();
    assert!(extra.len() <= 1, "leaked descriptors: {extra:?}");
    for (_, v) in extra {
        assert!(
            v.starts_with("err:") || v.contains("/proc/"),
            "leaked descriptor: {v}"
        );
    }
}

/// Compares the child's environment with the expected one. Python adds
/// `LC_CTYPE` when it coerces a C locale (PEP 538); nothing else may differ.
fn assert_env(rec: &Value, expected: &BTreeMap<String, String>) {
    let mut got = str_map(&rec["env"]);
    if !expected.contains_key("LC_CTYPE") {
        got.remove("LC_CTYPE");
    }
    assert_eq!(&got, expected);
}

/// §7.1–§7.3 over TCP without `bin-copy-environment`: argv split on
/// blanks, cwd = the program's directory, fd 0 the listening socket
/// (its blocking mode: see the shell child below), nothing else inherited, our whole environment plus
/// `bin-environment` and `PHP_FCGI_CHILDREN=1`, same session.
#[tokio::test]
async fn tcp_child_gets_argv_cwd_listening_fd0_and_full_environment() {
    let Some(s) = setup() else { return };
    let port = free_ports(1);
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{} echo extra-arg", "host" => "127.0.0.1", "port" => {port},
                     "min-procs" => 1, "max-procs" => 1,
                     "bin-environment" => ( "BL_LOGDIR" => "{}", "PATH" => "{}", "FOO" => "bar" ) )))"#,
        s.logger.display(),
        s.dir.path().display(),
        s.path
    ));
    let m = start(std::slice::from_ref(&h)).await.expect("starts");
    let pid = pids(&h)[0];
    assert_ne!(pid, 0);
    let rec = until("the record", || record(s.dir.path(), pid)).await;

    let argv: Vec<&str> = rec["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let logger = s.logger.to_string_lossy();
    assert_eq!(argv, [logger.as_ref(), "echo", "extra-arg"]);
    assert_eq!(
        rec["cwd"].as_str(),
        Some(s.tools.to_string_lossy().as_ref())
    );
    let fd0 = &rec["fd0"];
    assert_eq!(fd0["socket"], true);
    assert_eq!(fd0["family"], "AF_INET");
    assert_eq!(fd0["type"], "SOCK_STREAM");
    assert_eq!(fd0["listening"], true);
    assert_eq!(
        fd0["sockname"].as_str(),
        Some(format!("('127.0.0.1', {port})").as_str())
    );
    assert_no_leaked_fds(&rec);
    assert_eq!(rec["ppid"].as_u64(), Some(u64::from(std::process::id())));
    // SAFETY: getsid(0) asks about ourselves.
    let sid = unsafe { libc::getsid(0) };
    assert_eq!(rec["sid"].as_i64(), Some(i64::from(sid)), "no setsid");

    let mut expected: BTreeMap<String, String> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    expected.insert("BL_LOGDIR".into(), s.dir.path().display().to_string());
    expected.insert("PATH".into(), s.path.clone());
    expected.insert("FOO".into(), "bar".into());
    expected
        .entry("PHP_FCGI_CHILDREN".into())
        .or_insert_with(|| "1".into());
    assert_env(&rec, &expected);
    m.shutdown(Duration::from_secs(5)).await;
    assert!(is_gone(pid));
}

/// §7.3 with `bin-copy-environment`: only listed names that are set, then
/// `bin-environment`, then `PHP_FCGI_CHILDREN=1`.
#[tokio::test]
async fn copy_environment_limits_the_child_environment() {
    let Some(s) = setup() else { return };
    let port = free_ports(1);
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{}", "host" => "127.0.0.1", "port" => {port},
                     "min-procs" => 1, "max-procs" => 1,
                     "bin-copy-environment" => ( "PATH", "HOME", "CARGO_PKG_NAME", "WICK_NOT_SET_ANYWHERE" ),
                     "bin-environment" => ( "BL_LOGDIR" => "{}", "PATH" => "{}", "FOO" => "bar" ) )))"#,
        s.logger.display(),
        s.dir.path().display(),
        s.path
    ));
    let m = start(std::slice::from_ref(&h)).await.expect("starts");
    let pid = pids(&h)[0];
    let rec = until("the record", || record(s.dir.path(), pid)).await;
    let mut expected = BTreeMap::new();
    for name in ["HOME", "CARGO_PKG_NAME"] {
        if let Ok(v) = std::env::var(name) {
            expected.insert(name.to_string(), v);
        }
    }
    expected.insert("BL_LOGDIR".into(), s.dir.path().display().to_string());
    expected.insert("PATH".into(), s.path.clone());
    expected.insert("FOO".into(), "bar".into());
    expected.insert("PHP_FCGI_CHILDREN".into(), "1".into());
    assert_env(&rec, &expected);
    m.shutdown(Duration::from_secs(5)).await;
}

/// §6.3 / §15.17: procs of a socket host listen on `S-0`, `S-1` (AF_UNIX
/// on fd 0); the files exist while they run and are gone after shutdown.
#[tokio::test]
async fn unix_socket_children_have_their_files_until_shutdown() {
    let Some(s) = setup() else { return };
    let sock = s.dir.path().join("S");
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{}", "socket" => "{}", "min-procs" => 2, "max-procs" => 2,
                     "bin-environment" => ( "BL_LOGDIR" => "{}", "PATH" => "{}" ) )))"#,
        s.logger.display(),
        sock.display(),
        s.dir.path().display(),
        s.path
    ));
    let m = start(std::slice::from_ref(&h)).await.expect("starts");
    let (s0, s1) = (s.dir.path().join("S-0"), s.dir.path().join("S-1"));
    assert!(s0.exists() && s1.exists());
    let all = pids(&h);
    for (pid, file) in all.iter().zip([&s1, &s0]) {
        let rec = until("the record", || record(s.dir.path(), *pid)).await;
        assert_eq!(rec["fd0"]["family"], "AF_UNIX");
        assert_eq!(rec["fd0"]["listening"], true);
        let name = rec["fd0"]["sockname"].as_str().unwrap_or_default();
        assert!(name.contains(&file.display().to_string()), "{name}");
        assert_no_leaked_fds(&rec);
    }
    m.shutdown(Duration::from_secs(5)).await;
    assert!(!s0.exists() && !s1.exists(), "socket files removed");
    for pid in all {
        assert!(is_gone(pid));
    }
}

/// §8.2 / §15.23: a SIGKILLed child is replaced at once by a new pid on
/// the same address.
#[tokio::test]
async fn sigkilled_child_is_respawned_on_the_same_address() {
    let Some(s) = setup() else { return };
    let port = free_ports(1);
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{}", "host" => "127.0.0.1", "port" => {port},
                     "min-procs" => 1, "max-procs" => 1,
                     "bin-environment" => ( "BL_LOGDIR" => "{}", "PATH" => "{}" ) )))"#,
        s.logger.display(),
        s.dir.path().display(),
        s.path
    ));
    let m = start(std::slice::from_ref(&h)).await.expect("starts");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_echo_tcp(addr).await;
    let first = pids(&h)[0];
    let t = Instant::now();
    // SAFETY: kill(2) on the child we just started.
    unsafe { libc::kill(first as i32, libc::SIGKILL) };
    let second = until("a new child", || {
        let p = pids(&h)[0];
        (p != 0 && p != first).then_some(p)
    })
    .await;
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    assert!(is_gone(first), "the old child is reaped");
    let proc = h.procs()[0].clone();
    assert_eq!(proc.state(), ProcState::Running);
    assert_eq!(
        proc.generation.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    let rec = until("the new record", || record(s.dir.path(), second)).await;
    assert_eq!(
        rec["fd0"]["sockname"].as_str(),
        Some(format!("('127.0.0.1', {port})").as_str())
    );
    wait_echo_tcp(addr).await;
    m.shutdown(Duration::from_secs(5)).await;
}

/// §8.5 / §15.27: `kill-signal` 10 reaches the children as SIGUSR1.
#[tokio::test]
async fn kill_signal_10_is_delivered_as_sigusr1_at_shutdown() {
    let Some(s) = setup() else { return };
    let port = free_ports(2);
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{}", "host" => "127.0.0.1", "port" => {port},
                     "min-procs" => 2, "max-procs" => 2, "kill-signal" => 10,
                     "bin-environment" => ( "BL_LOGDIR" => "{}", "PATH" => "{}" ) )))"#,
        s.logger.display(),
        s.dir.path().display(),
        s.path
    ));
    let m = start(std::slice::from_ref(&h)).await.expect("starts");
    for p in [port, port + 1] {
        wait_echo_tcp(([127, 0, 0, 1], p).into()).await;
    }
    let all = pids(&h);
    for &pid in &all {
        main_thread_only(pid).await;
    }
    m.shutdown(Duration::from_secs(5)).await;
    for pid in all {
        let ev = events(s.dir.path(), pid);
        assert!(ev.contains("signal SIGUSR1"), "{ev}");
        assert!(is_gone(pid));
    }
}

/// wick's difference to lighttpd (§8.5): a child ignoring SIGTERM is
/// SIGKILLed once the timeout passes, and reaped: no orphan, no zombie.
#[tokio::test]
async fn child_ignoring_sigterm_is_sigkilled_and_reaped_at_shutdown() {
    let Some(s) = setup() else { return };
    let port = free_ports(1);
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{}", "host" => "127.0.0.1", "port" => {port},
                     "min-procs" => 1, "max-procs" => 1,
                     "bin-environment" => ( "BL_LOGDIR" => "{}", "PATH" => "{}", "BL_IGNORE_TERM" => "1" ) )))"#,
        s.logger.display(),
        s.dir.path().display(),
        s.path
    ));
    let m = start(std::slice::from_ref(&h)).await.expect("starts");
    wait_echo_tcp(([127, 0, 0, 1], port).into()).await;
    let pid = pids(&h)[0];
    let mut guard = KillOnDrop(pid);
    main_thread_only(pid).await;
    let t = Instant::now();
    m.shutdown(Duration::from_secs(1)).await;
    guard.0 = 0;
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(m.is_stopped());
    assert!(is_gone(pid), "the child is killed and reaped");
    let ev = events(s.dir.path(), pid);
    assert!(ev.contains("signal SIGTERM"), "{ev}");
    assert!(!ev.contains("exit on signal"), "{ev}");
}

/// §7.1 step 1 for real: a port that already accepts connections gets no
/// child, and the proc stays unmanaged.
#[tokio::test]
async fn address_already_served_gets_no_child() {
    let Some(s) = setup() else { return };
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{}", "host" => "127.0.0.1", "port" => {port},
                     "min-procs" => 1, "max-procs" => 1,
                     "bin-environment" => ( "BL_LOGDIR" => "{}", "PATH" => "{}" ) )))"#,
        s.logger.display(),
        s.dir.path().display(),
        s.path
    ));
    let m = start(std::slice::from_ref(&h)).await.expect("starts");
    assert_eq!(pids(&h), [0]);
    assert_eq!(h.procs()[0].state(), ProcState::Running);
    m.shutdown(Duration::from_secs(5)).await;
    let records = std::fs::read_dir(s.dir.path()).expect("dir").count();
    assert_eq!(records, 0, "nothing was started");
}

/// A port bound (not listening) by someone else cannot be ours: start-up
/// fails with the program, the address and the OS reason; a missing
/// program fails the same way.
#[tokio::test]
async fn unusable_address_or_program_is_a_startup_error() {
    let Some(s) = setup() else { return };
    let blocker =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    blocker.bind(&any.into()).expect("bind");
    let port = blocker
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet")
        .port();
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{}", "host" => "127.0.0.1", "port" => {port}, "min-procs" => 1 )))"#,
        s.logger.display()
    ));
    let err = start(&[h]).await.expect_err("refused").to_string();
    assert!(err.contains(&s.logger.display().to_string()), "{err}");
    assert!(err.contains(&format!("tcp:127.0.0.1:{port}")), "{err}");
    assert!(err.contains("in use"), "{err}");

    let missing = s.dir.path().join("no-such-program");
    let port = free_ports(1);
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{}", "host" => "127.0.0.1", "port" => {port}, "min-procs" => 1 )))"#,
        missing.display()
    ));
    let err = start(&[h]).await.expect_err("refused").to_string();
    assert!(err.contains("no-such-program"), "{err}");
    assert!(err.contains("No such file"), "{err}");
}

/// §7.1 step 4: SIGPIPE, SIGUSR1, SIGTTIN, SIGTTOU and SIGTSTP are at
/// their defaults in the child even when we ignore them, and fd 0 is in
/// blocking mode (Python's `getblocking()` cannot tell, so a shell child
/// reads its own fdinfo).
#[tokio::test]
async fn child_sees_default_signals_and_a_blocking_fd0() {
    let Some(s) = setup() else { return };
    let resets = [
        libc::SIGPIPE,
        libc::SIGUSR1,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGTSTP,
    ];
    for sig in resets {
        // SAFETY: ignoring these signals in the test process is harmless.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let script = s.dir.path().join("sig.sh");
    let out = s.dir.path().join("status");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat /proc/self/status /proc/self/fdinfo/0 > {}.tmp\nmv {0}.tmp {0}\nexec sleep 30\n",
            out.display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let port = free_ports(1);
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{}", "host" => "127.0.0.1", "port" => {port}, "min-procs" => 1, "max-procs" => 1 )))"#,
        script.display()
    ));
    let m = start(std::slice::from_ref(&h)).await.expect("starts");
    let status = until("the status", || std::fs::read_to_string(&out).ok()).await;
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).expect("hex mask"))
        .expect("SigIgn");
    for sig in resets {
        assert_eq!(ignored & (1 << (sig - 1)), 0, "signal {sig} still ignored");
    }
    let flags = status
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|v| u64::from_str_radix(v.trim(), 8).expect("octal flags"))
        .expect("fdinfo flags");
    assert_eq!(flags & libc::O_NONBLOCK as u64, 0, "fd 0 is non-blocking");
    m.shutdown(Duration::from_secs(5)).await;
}

/// A manager dropped without shutdown (its runtime went away) still sends
/// every child its `kill-signal`.
#[test]
fn dropped_manager_signals_its_children() {
    let Some(s) = setup() else { return };
    let port = free_ports(1);
    let h = host(&format!(
        r#"( "" => (( "bin-path" => "{}", "host" => "127.0.0.1", "port" => {port},
                     "min-procs" => 1, "max-procs" => 1,
                     "bin-environment" => ( "BL_LOGDIR" => "{}", "PATH" => "{}" ) )))"#,
        s.logger.display(),
        s.dir.path().display(),
        s.path
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let pid = rt.block_on(async {
        let m = start(std::slice::from_ref(&h)).await.expect("starts");
        wait_echo_tcp(([127, 0, 0, 1], port).into()).await;
        let pid = pids(&h)[0];
        main_thread_only(pid).await;
        std::mem::forget(m);
        pid
    });
    let _guard = KillOnDrop(pid);
    drop(rt);
    let end = Instant::now() + DEADLINE;
    while !events(s.dir.path(), pid).contains("signal SIGTERM") {
        assert!(Instant::now() < end, "the child was not signalled");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Its runtime is gone, so nobody else may reap it: do it here (or
    // find that tokio's orphan queue already did).
    loop {
        let mut status = 0;
        // SAFETY: waitpid(2) on our own child.
        let rc = unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) };
        if rc != 0 {
            break;
        }
        assert!(Instant::now() < end, "the child did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}
