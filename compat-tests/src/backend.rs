//! Backends for proxy scenarios, and what they observed.
//!
//! ```text
//! PyBackend::http(dir, "A")     http_backend.py --fd0 --name A --log {dir}/A.log
//!   socket: 127.0.0.1:0 (or a unix socket in dir) bound by the harness,
//!           handed over as fd 0 — no port is chosen by number
//! KeepAliveBackend::start()     in-process HTTP/1.1 echo that keeps connections
//! RefusingPort / FullQueue / SilentBackend
//!                               a dead port, a connect that hangs, a peer that never reads
//! install_tool(dir, ..)         a tool copied into {dir}/bin for bin-path (real python shebang)
//! read_starts(logdir)           what binpath_logger.py children recorded
//! Duo / Tally                   run one scenario per program at once, compare, report
//! ```
//!
//! Python tools come from `shared/compat/tools` and run under the real
//! interpreter (`WICK_COMPAT_PYTHON`, else `sys.executable` of `python3`),
//! not a version-manager shim that would add environment variables and
//! processes of its own. Every child is killed on drop; `bin-path` children
//! a server leaves behind are killed by [`ChildReaper`] (and by the
//! process-group kill of [`crate::http::Launch::own_group`]).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{START_DEADLINE, Side, self_check};
use crate::{announce, lighttpd_or_skip, shared_dir, wick_bin};

// ---------------------------------------------------------------------------
// Python and the tools

/// The Python 3 interpreter that runs the tools: `WICK_COMPAT_PYTHON`, else
/// the `sys.executable` of `python3` on `PATH` (resolved once).
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("WICK_COMPAT_PYTHON").filter(|p| !p.is_empty()) {
                return PathBuf::from(p);
            }
            let out = Command::new("python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .stdin(Stdio::null())
                .output()
                .expect("python3 runs (the compat tools need Python 3)");
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(
                out.status.success() && !path.is_empty(),
                "cannot find the python3 interpreter: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(path)
        })
        .clone()
}

/// `shared/compat/tools`.
pub fn tools_dir() -> PathBuf {
    shared_dir().join("compat").join("tools")
}

/// Copies tool `name` (e.g. `binpath_logger.py`) to `{dir}/bin/{name}` with
/// its `#!` line pointing at [`python`], executable: a `bin-path` that
/// starts the tool directly (its cwd is then `{dir}/bin`).
pub fn install_tool(dir: &Path, name: &str) -> PathBuf {
    let src = tools_dir().join(name);
    let text = fs::read_to_string(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
    let body = text.split_once('\n').map_or("", |(_, rest)| rest);
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("create {}: {e}", bin.display()));
    let dst = bin.join(name);
    fs::write(&dst, format!("#!{}\n{body}", python().display()))
        .unwrap_or_else(|e| panic!("write {}: {e}", dst.display()));
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", dst.display()));
    dst
}

// ---------------------------------------------------------------------------
// Addresses

/// Where a backend listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl BackendAddr {
    /// The TCP port (0 for a unix socket).
    pub fn port(&self) -> u16 {
        match self {
            BackendAddr::Tcp(a) => a.port(),
            BackendAddr::Unix(_) => 0,
        }
    }

    /// The host options of a `proxy.server` entry:
    /// `"host" => "127.0.0.1", "port" => N` or `"socket" => "/path"`.
    pub fn conf(&self) -> String {
        match self {
            BackendAddr::Tcp(a) => format!("\"host\" => \"{}\", \"port\" => {}", a.ip(), a.port()),
            BackendAddr::Unix(p) => format!("\"socket\" => \"{}\"", p.display()),
        }
    }
}

impl fmt::Display for BackendAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendAddr::Tcp(a) => write!(f, "tcp:{a}"),
            BackendAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A listening socket the harness bound, to be handed to a backend.
fn listen_tcp(ip: Ipv4Addr, port: u16) -> io::Result<(OwnedFd, BackendAddr)> {
    let l = TcpListener::bind(SocketAddrV4::new(ip, port))?;
    let addr = l.local_addr()?;
    Ok((OwnedFd::from(l), BackendAddr::Tcp(addr)))
}

fn listen_unix(path: &Path) -> io::Result<(OwnedFd, BackendAddr)> {
    let _ = fs::remove_file(path);
    let l = UnixListener::bind(path)?;
    Ok((OwnedFd::from(l), BackendAddr::Unix(path.to_path_buf())))
}

/// A run of `count` consecutive free TCP ports on 127.0.0.1, held (bound)
/// until [`PortRun::release`]: for `bin-path` hosts, whose proc N listens
/// on `port + N`. Reserve every run a scenario needs first, then release
/// each just before the server that uses it starts; between release and
/// the server's bind another program could take a port — scenarios prefer
/// unix sockets where they can.
#[derive(Debug)]
pub struct PortRun {
    pub base: u16,
    _held: Vec<TcpListener>,
}

impl PortRun {
    /// Reserves `count` consecutive ports *below* the kernel's ephemeral
    /// range: a connect to a free port inside that range can connect to
    /// itself (TCP simultaneous open when the kernel picks that very port
    /// as the source), which a server's "is something already listening
    /// there?" probe before spawning a bin-path child takes for a running
    /// backend.
    pub fn reserve(count: u16) -> PortRun {
        let (low, _) = ephemeral_range();
        let floor: u16 = 10_000;
        let span = low.saturating_sub(floor).saturating_sub(count).max(1);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut seed = nanos ^ std::process::id().rotate_left(16);
        for _ in 0..200 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let base = floor + u16::try_from((seed >> 8) % u32::from(span)).unwrap_or(0);
            let held: Result<Vec<_>, _> = (0..count)
                .map(|i| TcpListener::bind(("127.0.0.1", base + i)))
                .collect();
            if let Ok(held) = held {
                return PortRun { base, _held: held };
            }
        }
        panic!("no run of {count} free ports on 127.0.0.1 below {low} after 200 tries");
    }

    /// Frees the ports; returns the first.
    pub fn release(self) -> u16 {
        self.base
    }
}

/// The kernel's ephemeral port range (`ip_local_port_range`), or Linux's
/// default when it cannot be read.
fn ephemeral_range() -> (u16, u16) {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            let mut it = t.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

// ---------------------------------------------------------------------------
// Python backends

/// A Python tool serving a socket the harness bound (inherited as fd 0).
/// Killed (with its process group) on drop.
#[derive(Debug)]
pub struct PyBackend {
    /// The `--name` (`X-Backend:` value) or a label.
    pub name: String,
    pub addr: BackendAddr,
    child: Option<Child>,
    log: PathBuf,
}

impl PyBackend {
    /// `http_backend.py --name NAME` on `127.0.0.1:<ephemeral>`, log in
    /// `{dir}/NAME.log`.
    pub fn http(dir: &Path, name: &str) -> PyBackend {
        PyBackend::http_on(dir, name, Ipv4Addr::LOCALHOST, 0)
    }

    /// `http_backend.py` on `ip:port` (port 0 = ephemeral).
    pub fn http_on(dir: &Path, name: &str, ip: Ipv4Addr, port: u16) -> PyBackend {
        PyBackend::try_http_on(dir, name, ip, port)
            .unwrap_or_else(|e| panic!("backend {name}: bind {ip}:{port}: {e}"))
    }

    /// [`PyBackend::http_on`], `Err` when the address cannot be bound.
    pub fn try_http_on(dir: &Path, name: &str, ip: Ipv4Addr, port: u16) -> io::Result<PyBackend> {
        let (fd, addr) = listen_tcp(ip, port)?;
        Ok(PyBackend::http_from(dir, name, fd, addr))
    }

    /// `http_backend.py` on a unix socket at `path`.
    pub fn http_unix(dir: &Path, name: &str, path: &Path) -> PyBackend {
        let (fd, addr) = listen_unix(path)
            .unwrap_or_else(|e| panic!("backend {name}: bind {}: {e}", path.display()));
        PyBackend::http_from(dir, name, fd, addr)
    }

    /// `http_backend.py` on an already listening socket.
    pub fn http_from(dir: &Path, name: &str, fd: OwnedFd, addr: BackendAddr) -> PyBackend {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new(python());
        cmd.arg(tools_dir().join("http_backend.py"))
            .args(["--fd0", "--name", name, "--log"])
            .arg(&log);
        PyBackend::spawn(name, cmd, fd, addr, log, "listening pid")
    }

    /// `binpath_logger.py` in raw echo mode on `127.0.0.1:<ephemeral>`: a
    /// byte-stream echo (CONNECT, upgrades); it records itself in `dir`.
    pub fn echo(dir: &Path, name: &str) -> PyBackend {
        let (fd, addr) = listen_tcp(Ipv4Addr::LOCALHOST, 0)
            .unwrap_or_else(|e| panic!("backend {name}: bind: {e}"));
        let logdir = dir.join(format!("{name}.d"));
        fs::create_dir_all(&logdir).expect("create the echo backend's log dir");
        let mut cmd = Command::new(python());
        cmd.arg(tools_dir().join("binpath_logger.py"))
            .env("BL_LOGDIR", &logdir);
        let marker = "";
        let mut b = PyBackend::spawn(name, cmd, fd, addr, logdir.join("none"), marker);
        b.log = logdir;
        b
    }

    fn spawn(
        name: &str,
        mut cmd: Command,
        fd: OwnedFd,
        addr: BackendAddr,
        log: PathBuf,
        ready_marker: &str,
    ) -> PyBackend {
        cmd.stdin(Stdio::from(fd))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to
        // kill the backend if the thread that started it dies.
        unsafe {
            cmd.pre_exec(|| {
                #[cfg(target_os = "linux")]
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start backend {name}: {e}"));
        let b = PyBackend {
            name: name.to_string(),
            addr,
            child: Some(child),
            log,
        };
        if !ready_marker.is_empty() {
            b.wait_log(|log| log.contains(ready_marker), START_DEADLINE)
                .unwrap_or_else(|e| panic!("backend {name} did not start: {e}"));
        }
        b
    }

    /// The backend's log so far (`http_backend.py`: one line per event).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many connections it accepted so far.
    pub fn accepted(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.ends_with(" accepted"))
            .count()
    }

    /// Polls the log until `pred` holds, within `limit`.
    pub fn wait_log(&self, pred: impl Fn(&str) -> bool, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.log();
            if pred(&log) {
                return Ok(log);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{}: log condition not met within {limit:?}; log:\n{log}",
                    self.name
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The connection number (`conn<N>`) of the first connection whose
    /// first received bytes contain `needle` (e.g. a unique request path).
    pub fn conn_of(&self, needle: &str) -> Option<String> {
        let log = self.log();
        log.lines().find_map(|l| {
            let mut it = l.splitn(4, ' ');
            let (_t, conn, what) = (it.next()?, it.next()?, it.next()?);
            let rest = it.next()?;
            (what == "recv"
                && decode_py_bytes(rest.split_once(' ')?.1)
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes()))
            .then(|| conn.to_string())
        })
    }

    /// Everything connection `conn` received, as logged (`http_backend.py`
    /// logs the first 300 bytes of each read), tunnelled bytes included.
    pub fn received(&self, conn: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for l in self.log().lines() {
            let mut it = l.splitn(3, ' ');
            let (_t, c, rest) = match (it.next(), it.next(), it.next()) {
                (Some(t), Some(c), Some(r)) => (t, c, r),
                _ => continue,
            };
            if c != conn {
                continue;
            }
            if let Some(r) = rest.strip_prefix("recv ") {
                if let Some((_, repr)) = r.split_once(' ') {
                    out.extend(decode_py_bytes(repr));
                }
            } else if let Some(repr) = rest.strip_prefix("upgraded recv ") {
                out.extend(decode_py_bytes(repr));
            }
        }
        out
    }

    /// `true` once connection `conn` logged its answer (`answered`).
    pub fn answered(&self, conn: &str) -> bool {
        let needle = format!(" {conn} answered");
        self.log().lines().any(|l| l.contains(&needle))
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the backend now (its socket closes: later connects are
    /// refused; a unix socket file stays until drop).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: killpg has no memory-safety preconditions; the
                // group is the backend's own.
                unsafe {
                    libc::killpg(pid, libc::SIGKILL);
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PyBackend {
    fn drop(&mut self) {
        self.kill();
        if let BackendAddr::Unix(path) = &self.addr {
            let _ = fs::remove_file(path);
        }
    }
}

/// Decodes Python's `repr()` of a bytes object (`b'GET / HTTP/1.1\\r\\n'`).
pub fn decode_py_bytes(repr: &str) -> Vec<u8> {
    let inner = repr
        .strip_prefix("b'")
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| repr.strip_prefix("b\"").and_then(|r| r.strip_suffix('"')))
        .unwrap_or(repr);
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b[i + 1] {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'x' if i + 3 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap_or("3f");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            other => out.push(other),
        }
        i += 2;
    }
    out
}

// ---------------------------------------------------------------------------
// Sockets that misbehave on purpose

/// A TCP port that refuses connections: bound (so no one else takes it)
/// but not listening. [`RefusingPort::serve`] turns it into a live backend
/// on the same port.
#[derive(Debug)]
pub struct RefusingPort {
    fd: OwnedFd,
    pub addr: BackendAddr,
}

impl RefusingPort {
    pub fn new() -> RefusingPort {
        // SAFETY: plain socket(2)/bind(2) calls on a fresh descriptor that
        // is owned right after creation; the sockaddr is fully initialised.
        unsafe {
            let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(raw >= 0, "socket: {}", io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(raw);
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let rc = libc::bind(raw, (&raw const sa).cast(), len);
            assert!(rc == 0, "bind: {}", io::Error::last_os_error());
            let mut got: libc::sockaddr_in = std::mem::zeroed();
            let mut got_len = len;
            let rc = libc::getsockname(raw, (&raw mut got).cast(), &mut got_len);
            assert!(rc == 0, "getsockname: {}", io::Error::last_os_error());
            let port = u16::from_be(got.sin_port);
            RefusingPort {
                fd,
                addr: BackendAddr::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
            }
        }
    }

    /// Starts listening on the port and serves it with `http_backend.py`.
    pub fn serve(self, dir: &Path, name: &str) -> PyBackend {
        // SAFETY: listen(2) on the descriptor this value owns.
        let rc = unsafe { libc::listen(self.fd.as_raw_fd(), 64) };
        assert!(rc == 0, "listen: {}", io::Error::last_os_error());
        PyBackend::http_from(dir, name, self.fd, self.addr)
    }
}

impl Default for RefusingPort {
    fn default() -> Self {
        RefusingPort::new()
    }
}

/// A listener whose accept queue is full and that never accepts: a new
/// connect to it neither succeeds nor fails (the SYN is dropped), so a
/// proxy's connect-timeout fires.
#[derive(Debug)]
pub struct FullQueue {
    _listener: OwnedFd,
    _fillers: Vec<TcpStream>,
    pub addr: BackendAddr,
}

impl FullQueue {
    pub fn new() -> FullQueue {
        let (fd, addr) = listen_tcp(Ipv4Addr::LOCALHOST, 0).expect("bind a listener");
        // SAFETY: listen(2) on the descriptor owned above: backlog 0.
        let rc = unsafe { libc::listen(fd.as_raw_fd(), 0) };
        assert!(rc == 0, "listen: {}", io::Error::last_os_error());
        let BackendAddr::Tcp(sa) = addr else {
            unreachable!("listen_tcp gives a TCP address")
        };
        let mut fillers = Vec::new();
        // Fill the queue until a connect hangs.
        for _ in 0..8 {
            match TcpStream::connect_timeout(&sa, Duration::from_millis(300)) {
                Ok(s) => fillers.push(s),
                Err(_) => break,
            }
        }
        FullQueue {
            _listener: fd,
            _fillers: fillers,
            addr,
        }
    }
}

impl Default for FullQueue {
    fn default() -> Self {
        FullQueue::new()
    }
}

/// A backend that accepts connections and never reads from them (nor
/// answers): request bytes pile up until the sender's writes block.
#[derive(Debug)]
pub struct SilentBackend {
    pub addr: BackendAddr,
    held: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl SilentBackend {
    pub fn start() -> SilentBackend {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a listener");
        let sa = l.local_addr().expect("local address");
        // accepted sockets inherit a small receive buffer (a small window)
        set_rcvbuf(l.as_raw_fd(), 4096);
        let held = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, st) = (held.clone(), stop.clone());
        thread::spawn(move || {
            for s in l.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(s) = s {
                    h.lock().expect("not poisoned").push(s);
                }
            }
        });
        SilentBackend {
            addr: BackendAddr::Tcp(sa),
            held,
            stop,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.held.lock().expect("not poisoned").len()
    }
}

impl Drop for SilentBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let BackendAddr::Tcp(sa) = &self.addr {
            let _ = TcpStream::connect_timeout(sa, Duration::from_millis(200));
        }
        self.held.lock().map(|mut h| h.clear()).ok();
    }
}

/// A backend that answers every request (read through its blank line)
/// with the same bytes, in parts with a pause between them (so that a
/// streaming proxy sees them in separate reads), then closes.
#[derive(Debug)]
pub struct CannedBackend {
    pub addr: BackendAddr,
    stop: Arc<AtomicBool>,
}

impl CannedBackend {
    pub fn start(parts: Vec<Vec<u8>>, pause: Duration) -> CannedBackend {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a listener");
        let sa = l.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        thread::spawn(move || {
            for s in l.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut s) = s else { continue };
                let parts = parts.clone();
                thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut head = Vec::new();
                    let mut b = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut b) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&b[..n]),
                        }
                    }
                    for (i, p) in parts.iter().enumerate() {
                        if i > 0 {
                            thread::sleep(pause);
                        }
                        if s.write_all(p).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        CannedBackend {
            addr: BackendAddr::Tcp(sa),
            stop,
        }
    }
}

impl Drop for CannedBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let BackendAddr::Tcp(sa) = &self.addr {
            let _ = TcpStream::connect_timeout(sa, Duration::from_millis(200));
        }
    }
}

fn set_rcvbuf(fd: std::os::fd::RawFd, bytes: i32) {
    // SAFETY: setsockopt with a valid int option value on an open socket.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const bytes).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        );
    }
}

// ---------------------------------------------------------------------------
// A keep-alive HTTP/1.1 backend

/// What [`KeepAliveBackend`] saw.
#[derive(Debug, Default, Clone)]
pub struct KeepAliveLog {
    /// Connections accepted.
    pub connections: usize,
    /// Requests answered, with the connection number (from 1) each came on.
    pub requests: Vec<(usize, Vec<u8>)>,
}

/// An in-process HTTP/1.1 origin that answers every request with its exact
/// bytes (like `http_backend.py`) but keeps the connection open unless the
/// request says `Connection: close` — to see whether a proxy reuses its
/// upstream connections.
#[derive(Debug)]
pub struct KeepAliveBackend {
    pub addr: BackendAddr,
    log: Arc<Mutex<KeepAliveLog>>,
    stop: Arc<AtomicBool>,
}

impl KeepAliveBackend {
    pub fn start(name: &str) -> KeepAliveBackend {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a listener");
        let sa = l.local_addr().expect("local address");
        let log = Arc::new(Mutex::new(KeepAliveLog::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (lg, st, name) = (log.clone(), stop.clone(), name.to_string());
        thread::spawn(move || {
            for s in l.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(s) = s else { continue };
                let n = {
                    let mut g = lg.lock().expect("not poisoned");
                    g.connections += 1;
                    g.connections
                };
                let (lg, name) = (lg.clone(), name.clone());
                thread::spawn(move || keep_alive_conn(s, n, &name, &lg));
            }
        });
        KeepAliveBackend {
            addr: BackendAddr::Tcp(sa),
            log,
            stop,
        }
    }

    pub fn log(&self) -> KeepAliveLog {
        self.log.lock().expect("not poisoned").clone()
    }
}

impl Drop for KeepAliveBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let BackendAddr::Tcp(sa) = &self.addr {
            let _ = TcpStream::connect_timeout(sa, Duration::from_millis(200));
        }
    }
}

fn keep_alive_conn(s: TcpStream, n: usize, name: &str, log: &Mutex<KeepAliveLog>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut r = BufReader::new(match s.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut w = s;
    loop {
        let mut raw = Vec::new();
        let mut len = 0usize;
        let mut close = false;
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            raw.extend_from_slice(&line);
            if line == b"\r\n" {
                break;
            }
            let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
            if let Some(v) = text.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if let Some(v) = text.strip_prefix("connection:") {
                close |= v.split(',').any(|t| t.trim() == "close");
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        raw.extend_from_slice(&body);
        log.lock()
            .expect("not poisoned")
            .requests
            .push((n, raw.clone()));
        let mut resp = format!(
            "HTTP/1.1 200 X\r\nContent-Type: text/plain\r\nX-Backend: {name}\r\nX-Conn: {n}\r\nContent-Length: {}\r\n",
            raw.len()
        );
        if close {
            resp.push_str("Connection: close\r\n");
        }
        resp.push_str("\r\n");
        if w.write_all(resp.as_bytes()).is_err() || w.write_all(&raw).is_err() {
            return;
        }
        if close {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// bin-path children (binpath_logger.py)

/// What one `binpath_logger.py` process recorded about its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildStart {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub argv: Vec<String>,
    pub cwd: String,
    pub env: BTreeMap<String, String>,
    /// `AF_UNIX` / `AF_INET`, or empty when fd 0 was no socket.
    pub fd0_family: String,
    /// Python's repr of the bound address: `'/path/s-0'`, `('127.0.0.1', 8080)`.
    pub fd0_sockname: String,
    pub fd0_listening: bool,
    pub fd0_nonblocking: bool,
    /// Open descriptors (number → readlink), without the one listing them.
    pub fds: BTreeMap<String, String>,
}

/// Every `binpath-<pid>.json` in `logdir`, ordered by pid.
pub fn read_starts(logdir: &Path) -> Vec<ChildStart> {
    let Ok(entries) = fs::read_dir(logdir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("binpath-") && name.ends_with(".json")) {
            continue;
        }
        // A file being written may be incomplete: skip it this time.
        let Ok(text) = fs::read_to_string(e.path()) else {
            continue;
        };
        if let Some(start) = json::parse(&text).ok().and_then(|v| child_start(&v)) {
            out.push(start);
        }
    }
    out.sort_by_key(|s| s.pid);
    out
}

fn child_start(v: &json::Value) -> Option<ChildStart> {
    let int = |k: &str| v.get(k).and_then(json::Value::as_i64).map(|n| n as i32);
    let fd0 = v.get("fd0")?;
    let strings = |x: Option<&json::Value>| -> BTreeMap<String, String> {
        x.and_then(json::Value::as_object)
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut fds = strings(v.get("fds"));
    fds.retain(|_, target| !target.starts_with("err:"));
    Some(ChildStart {
        pid: int("pid")?,
        ppid: int("ppid")?,
        pgid: int("pgid")?,
        sid: int("sid")?,
        argv: v
            .get("argv")?
            .as_array()?
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        cwd: v.get("cwd")?.as_str()?.to_string(),
        env: strings(v.get("env")),
        fd0_family: fd0
            .get("family")
            .and_then(json::Value::as_str)
            .unwrap_or("")
            .to_string(),
        fd0_sockname: fd0
            .get("sockname")
            .and_then(json::Value::as_str)
            .unwrap_or("")
            .to_string(),
        fd0_listening: fd0
            .get("listening")
            .and_then(json::Value::as_bool)
            .unwrap_or(false),
        fd0_nonblocking: fd0
            .get("nonblocking")
            .and_then(json::Value::as_bool)
            .unwrap_or(false),
        fds,
    })
}

/// The events `binpath_logger.py` process `pid` recorded (`accept 1`,
/// `signal SIGTERM`, `exit on signal`, `self exit`), with their times in
/// seconds since it started.
pub fn read_events(logdir: &Path, pid: i32) -> Vec<(f64, String)> {
    let path = logdir.join(format!("binpath-{pid}.events"));
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (t, what) = l.split_once(' ')?;
            Some((t.parse().ok()?, what.to_string()))
        })
        .collect()
}

/// Polls [`read_starts`] until `pred` holds, within `limit`.
pub fn wait_starts(
    logdir: &Path,
    limit: Duration,
    pred: impl Fn(&[ChildStart]) -> bool,
) -> Result<Vec<ChildStart>, String> {
    let deadline = Instant::now() + limit;
    loop {
        let starts = read_starts(logdir);
        if pred(&starts) {
            return Ok(starts);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "children condition not met within {limit:?}; recorded: {:?}",
                starts
                    .iter()
                    .map(|s| (s.pid, &s.fd0_sockname))
                    .collect::<Vec<_>>()
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// `true` while process `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // state is the first field after the parenthesised command name
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Polls until `pid` is gone, within `limit`; `true` if it went.
pub fn wait_pid_gone(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while pid_alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Kills, on drop, every `binpath_logger.py` process recorded in `logdir`
/// that is still running (lighttpd leaves children behind at shutdown;
/// they may have left its process group).
#[derive(Debug)]
pub struct ChildReaper {
    pub logdir: PathBuf,
}

impl Drop for ChildReaper {
    fn drop(&mut self) {
        for s in read_starts(&self.logdir) {
            let cmdline = fs::read(format!("/proc/{}/cmdline", s.pid)).unwrap_or_default();
            if pid_alive(s.pid) && String::from_utf8_lossy(&cmdline).contains("binpath_logger") {
                // SAFETY: kill has no memory-safety preconditions; the pid
                // is a live binpath_logger process this scenario started.
                unsafe {
                    libc::kill(s.pid, libc::SIGKILL);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Two programs, one scenario each

/// The two programs of a scenario that cannot share one configuration
/// (bin-path procs own their addresses): each side runs the scenario in its
/// own scratch directory, at the same time, and the observations are
/// compared. With [`self_check`] lighttpd plays both sides.
#[derive(Debug, Clone)]
pub struct Duo {
    pub lighttpd: PathBuf,
    pub other: PathBuf,
    pub other_side: Side,
}

impl Duo {
    /// `None` after a loud skip when lighttpd is missing.
    pub fn new(test: &str) -> Option<Duo> {
        let lighttpd = lighttpd_or_skip(test)?;
        let (other, other_side) = if self_check() {
            announce(&format!(
                "compat-tests: {test}: WICK_COMPAT_SELF=1, lighttpd stands in for wick"
            ));
            (lighttpd.clone(), Side::Lighttpd)
        } else {
            (wick_bin(), Side::Wick)
        };
        Some(Duo {
            lighttpd,
            other,
            other_side,
        })
    }

    /// Runs `f(side, program)` for both programs at once (lighttpd first in
    /// the result). A panic in `f` becomes an `Err`.
    pub fn run<T, F>(&self, f: F) -> (Result<T, String>, Result<T, String>)
    where
        T: Send,
        F: Fn(Side, &Path) -> Result<T, String> + Sync,
    {
        let f = &f;
        thread::scope(|scope| {
            let l = scope.spawn(move || f(Side::Lighttpd, &self.lighttpd));
            let w = scope.spawn(move || f(self.other_side, &self.other));
            let join = |h: thread::ScopedJoinHandle<'_, Result<T, String>>| {
                h.join().unwrap_or_else(|p| {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Err(format!("the scenario panicked: {msg}"))
                })
            };
            (join(l), join(w))
        })
    }

    /// [`Duo::run`], repeated while the two observations differ, at most
    /// `attempts` times in all; the last pair is returned. For scenarios
    /// whose outcome on either side depends on where a once-a-second timer
    /// falls (lighttpd's and wick's backend ticks), which a test cannot
    /// place: such a race rarely repeats, while a real difference shows on
    /// every attempt. Each repeat is announced on stderr.
    pub fn run_until_same<T, F>(
        &self,
        test: &str,
        attempts: usize,
        f: F,
    ) -> (Result<T, String>, Result<T, String>)
    where
        T: Send + PartialEq,
        F: Fn(Side, &Path) -> Result<T, String> + Sync,
    {
        let mut pair = self.run(&f);
        for attempt in 2..=attempts {
            if pair.0 == pair.1 {
                break;
            }
            announce(&format!(
                "compat-tests: {test}: the observations differ; attempt {attempt} of {attempts}"
            ));
            pair = self.run(&f);
        }
        pair
    }
}

/// Collects the outcome of a test's comparisons; [`Tally::finish`] panics
/// listing every failure.
#[derive(Debug)]
pub struct Tally {
    test: String,
    compared: usize,
    known: usize,
    failures: Vec<String>,
}

impl Tally {
    pub fn new(test: &str) -> Tally {
        Tally {
            test: test.to_string(),
            compared: 0,
            known: 0,
            failures: Vec::new(),
        }
    }

    /// Compares two observations (lighttpd first).
    /// [`Tally::compare`] on one part (`part`, shown as text) of a whole
    /// observation of each server.
    pub fn compare_part<O>(
        &mut self,
        label: &str,
        l: &Result<O, String>,
        w: &Result<O, String>,
        part: impl Fn(&O) -> String,
    ) {
        let l = l.as_ref().map(&part).map_err(Clone::clone);
        let w = w.as_ref().map(&part).map_err(Clone::clone);
        self.compare(label, &l, &w);
    }

    pub fn compare<T: fmt::Debug + PartialEq>(
        &mut self,
        label: &str,
        l: &Result<T, String>,
        w: &Result<T, String>,
    ) {
        self.compared += 1;
        if crate::http::show_exchanges() {
            announce(&format!("  [{}] {label}: {l:#?}", self.test));
        }
        match (l, w) {
            (Ok(l), Ok(w)) if l == w => {}
            _ => {
                let (ls, ws) = (format!("{l:#?}"), format!("{w:#?}"));
                // a side that could not run at all fails every observation
                // the same way: say it once
                let repeat =
                    |s: &str| self.failures.iter().any(|f| f.contains(s)) && s.starts_with("Err(");
                let (ls, ws) = (
                    if repeat(&ls) {
                        "(the same error as above)".to_string()
                    } else {
                        ls
                    },
                    if repeat(&ws) {
                        "(the same error as above)".to_string()
                    } else {
                        ws
                    },
                );
                self.failures.push(format!(
                    "{label}: observations differ\n  lighttpd: {ls}\n  wick:     {ws}"
                ));
            }
        }
    }

    /// A known difference: `expect(lighttpd, wick)` says what is not as
    /// documented. Under [`self_check`] the two must simply agree.
    pub fn known<T: fmt::Debug + PartialEq>(
        &mut self,
        label: &str,
        reason: &str,
        l: &Result<T, String>,
        w: &Result<T, String>,
        expect: impl FnOnce(&T, &T) -> Result<(), String>,
    ) {
        self.known += 1;
        if crate::http::show_exchanges() {
            announce(&format!("  [{}] {label}: {l:?} | {w:?}", self.test));
        }
        let result = match (l, w) {
            (Ok(a), Ok(b)) if self_check() => {
                if a == b {
                    Ok(())
                } else {
                    Err("the two oracle runs differ".to_string())
                }
            }
            (Ok(a), Ok(b)) => expect(a, b),
            _ => Err("an observation failed".to_string()),
        };
        if let Err(why) = result {
            self.failures.push(format!(
                "{label}: known difference ({reason}) not as expected: {why}\n  lighttpd: {l:#?}\n  wick:     {w:#?}"
            ));
        }
    }

    /// Records a failure found by the test itself.
    pub fn fail(&mut self, what: String) {
        self.failures.push(what);
    }

    /// Comparisons so far (strict, known).
    pub fn counts(&self) -> (usize, usize) {
        (self.compared, self.known)
    }

    /// Announces the counts; panics with every failure.
    pub fn finish(self) {
        announce(&format!(
            "compat-tests: {}: {} observations compared, {} known differences checked, {} failures",
            self.test,
            self.compared,
            self.known,
            self.failures.len()
        ));
        if self.failures.is_empty() {
            return;
        }
        let mut msg = format!("{}: {} failures:\n\n", self.test, self.failures.len());
        for f in &self.failures {
            let _ = writeln!(msg, "{f}\n");
        }
        panic!("{msg}");
    }
}

// ---------------------------------------------------------------------------
// A minimal JSON reader (for binpath_logger.py's records; no dependency)

mod json {
    /// A JSON value; objects keep their key order.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
        Arr(Vec<Value>),
        Obj(Vec<(String, Value)>),
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            self.as_object()?
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
        }
        pub fn as_object(&self) -> Option<&[(String, Value)]> {
            match self {
                Value::Obj(o) => Some(o),
                _ => None,
            }
        }
        pub fn as_array(&self) -> Option<&[Value]> {
            match self {
                Value::Arr(a) => Some(a),
                _ => None,
            }
        }
        pub fn as_str(&self) -> Option<&str> {
            match self {
                Value::Str(s) => Some(s),
                _ => None,
            }
        }
        pub fn as_i64(&self) -> Option<i64> {
            match self {
                Value::Num(n) if n.fract() == 0.0 => Some(*n as i64),
                _ => None,
            }
        }
        pub fn as_bool(&self) -> Option<bool> {
            match self {
                Value::Bool(b) => Some(*b),
                _ => None,
            }
        }
    }

    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing bytes at {}", p.i));
        }
        Ok(v)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
                self.i += 1;
            }
        }

        fn eat(&mut self, b: u8) -> Result<(), String> {
            self.ws();
            if self.s.get(self.i) == Some(&b) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!("expected {:?} at {}", b as char, self.i))
            }
        }

        fn value(&mut self) -> Result<Value, String> {
            self.ws();
            match self.s.get(self.i) {
                Some(b'{') => {
                    self.i += 1;
                    let mut o = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(Value::Obj(o));
                    }
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.eat(b':')?;
                        o.push((k, self.value()?));
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                return Ok(Value::Obj(o));
                            }
                            _ => return Err(format!("bad object at {}", self.i)),
                        }
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    let mut a = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Value::Arr(a));
                    }
                    loop {
                        a.push(self.value()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                return Ok(Value::Arr(a));
                            }
                            _ => return Err(format!("bad array at {}", self.i)),
                        }
                    }
                }
                Some(b'"') => Ok(Value::Str(self.string()?)),
                Some(b't') => self.word("true", Value::Bool(true)),
                Some(b'f') => self.word("false", Value::Bool(false)),
                Some(b'n') => self.word("null", Value::Null),
                Some(_) => {
                    let start = self.i;
                    while self
                        .s
                        .get(self.i)
                        .is_some_and(|b| b"+-.eE0123456789".contains(b))
                    {
                        self.i += 1;
                    }
                    std::str::from_utf8(&self.s[start..self.i])
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .map(Value::Num)
                        .ok_or_else(|| format!("bad number at {start}"))
                }
                None => Err("unexpected end".to_string()),
            }
        }

        fn word(&mut self, w: &str, v: Value) -> Result<Value, String> {
            if self.s[self.i..].starts_with(w.as_bytes()) {
                self.i += w.len();
                Ok(v)
            } else {
                Err(format!("bad literal at {}", self.i))
            }
        }

        fn string(&mut self) -> Result<String, String> {
            if self.s.get(self.i) != Some(&b'"') {
                return Err(format!("expected a string at {}", self.i));
            }
            self.i += 1;
            let mut out = String::new();
            loop {
                let start = self.i;
                while self.s.get(self.i).is_some_and(|&b| b != b'"' && b != b'\\') {
                    self.i += 1;
                }
                out.push_str(
                    std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?,
                );
                match self.s.get(self.i) {
                    Some(b'"') => {
                        self.i += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => {
                        let esc = *self.s.get(self.i + 1).ok_or("cut escape")?;
                        self.i += 2;
                        match esc {
                            b'n' => out.push('\n'),
                            b't' => out.push('\t'),
                            b'r' => out.push('\r'),
                            b'b' => out.push('\u{8}'),
                            b'f' => out.push('\u{c}'),
                            b'u' => {
                                let mut cp = self.hex4()?;
                                if (0xd800..0xdc00).contains(&cp)
                                    && self.s[self.i..].starts_with(b"\\u")
                                {
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                }
                                out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                            }
                            other => out.push(other as char),
                        }
                    }
                    _ => return Err("unterminated string".to_string()),
                }
            }
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let t = self.s.get(self.i..self.i + 4).ok_or("cut \\u escape")?;
            self.i += 4;
            u32::from_str_radix(std::str::from_utf8(t).map_err(|e| e.to_string())?, 16)
                .map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_bytes_repr_decodes() {
        assert_eq!(
            decode_py_bytes(r"b'GET / HTTP/1.1\r\nX: \'q\' \\ \x00\xff'"),
            b"GET / HTTP/1.1\r\nX: 'q' \\ \x00\xff"
        );
        assert_eq!(decode_py_bytes(r#"b"it's""#), b"it's");
    }

    #[test]
    fn json_reads_what_binpath_logger_writes() {
        let v = json::parse(
            r#"{"argv": ["/a b", "http"], "fd0": {"listening": true, "sockname": "('127.0.0.1', 80)"},
               "pid": 12, "env": {"K": "v\u00e9\n"}, "n": null, "x": -1.5e2}"#,
        )
        .expect("parses");
        assert_eq!(v.get("pid").and_then(json::Value::as_i64), Some(12));
        assert_eq!(
            v.get("env")
                .and_then(|e| e.get("K"))
                .and_then(json::Value::as_str),
            Some("vé\n")
        );
        assert_eq!(
            v.get("fd0")
                .and_then(|f| f.get("listening"))
                .and_then(json::Value::as_bool),
            Some(true)
        );
        assert!(json::parse("{\"a\": }").is_err());
    }

    /// A bound socket that does not listen refuses connections at once.
    #[test]
    fn refusing_port_refuses() {
        let p = RefusingPort::new();
        let BackendAddr::Tcp(sa) = p.addr else {
            unreachable!()
        };
        let err = TcpStream::connect_timeout(&sa, Duration::from_secs(2)).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }

    /// A full accept queue makes a connect hang rather than fail.
    #[test]
    fn full_queue_hangs_connects() {
        let q = FullQueue::new();
        let BackendAddr::Tcp(sa) = q.addr else {
            unreachable!()
        };
        let err = TcpStream::connect_timeout(&sa, Duration::from_millis(500)).expect_err("hangs");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    }
}
