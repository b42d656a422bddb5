//! Serving one configuration from lighttpd and from wick, and comparing
//! their answers request by request.
//!
//! ```text
//! Pair::start(template, setup)
//!   ├─ scratch dir: {dir}/htdocs = {root}, filled by `setup`
//!   ├─ lighttpd -D -f {dir}/lighttpd.conf   on 127.0.0.1:<port A>
//!   └─ wick     -D -f {dir}/wick.conf       on 127.0.0.1:<port B>
//! pair.check(Req::get("/a.txt"))  → same bytes to both → compare COMPARED fields
//! pair.finish()                   → panics listing every difference
//! ```
//!
//! Ports: the harness binds `127.0.0.1:0` and hands the socket over as fd 3
//! with `LISTEN_FDS=1`, `LISTEN_PID=parent:<harness pid>` — the form
//! lighttpd's own `tests/LightyTest.pm` uses. lighttpd 1.4.69 takes it only
//! with `server.systemd-socket-activation = "enable"` (without it, it leaves
//! fd 3 alone and binds `server.port`); both programs understand the
//! `parent:` form. Each configuration file therefore starts with a preamble
//! that enables socket activation and names the inherited address in
//! `server.bind` / `server.port`, so neither program binds anything itself.
//! No port is ever chosen by number, so there is no race. More listeners
//! ([`Launch::extra_sockets`], e.g. a TLS socket) are handed over the same
//! way as fds 4, 5, … and named `{port2}`, `{port3}` … in the
//! configuration's `$SERVER["socket"]` blocks.
//!
//! Readiness is a probe request answered within [`START_DEADLINE`]; every
//! exchange has [`STEP_DEADLINE`]; both children are killed on drop and
//! their stderr is shown when a comparison fails.
//!
//! Beyond the static-file comparisons ([`Pair::check`]), proxy scenarios use:
//!
//! | need | API |
//! |---|---|
//! | environment, probe path, process-group kill (children left behind) | [`Launch`], [`Server::launch`], [`PairOpts`] |
//! | per-server config placeholders, a caller's scratch dir (backends) | [`PairOpts::vars`], [`PairOpts::scratch`] |
//! | everything compared: status line, all headers, body with ports normalised | [`Pair::check_full`], [`full_differences`] |
//! | the same, after a normalisation applied to both (e.g. ETag values) | [`Pair::check_full_with`] |
//! | a deliberate difference, normalised after checking it is as documented | [`Pair::check_full_known`] |
//! | several requests on one keep-alive connection, pipelined or not | [`Pair::check_session`] |
//! | a scenario with timing or tunnels, run on both servers at once | [`Pair::observe`], [`Pair::observe_known`] |
//! | one client connection: framed responses, 1xx, EOF, arrival times | [`Client`], [`frame_response`] |
//! | stopping with a signal, waiting for the exit | [`Server::stop`] |
//! | the oracle on both sides, to check scenarios alone | [`self_check`] (`WICK_COMPAT_SELF=1`) |

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{announce, base_env, lighttpd_or_skip, wick_bin};

/// Time a server may take to answer its first (probe) request.
pub const START_DEADLINE: Duration = Duration::from_secs(10);
/// Time one request/response exchange may take.
pub const STEP_DEADLINE: Duration = Duration::from_secs(10);
/// The modification time [`put`] gives every file: Wed, 01 Jan 2020
/// 00:00:00 GMT, so that `If-Modified-Since` dates can be written down.
pub const MTIME: u64 = 1_577_836_800;
/// [`MTIME`] as an HTTP date.
pub const MTIME_HTTP: &str = "Wed, 01 Jan 2020 00:00:00 GMT";
/// The `Host` a [`Req`] sends unless told otherwise.
pub const DEFAULT_HOST: &str = "example.org";

// ---------------------------------------------------------------------------
// Scratch directory

/// A scratch directory under the system temp dir, removed on drop. Its
/// name is lower case (a test of `server.force-lowercase-filenames` must
/// not depend on the letters of a random name).
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> io::Result<Scratch> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let path = std::env::temp_dir().join(format!(
            "wick-compat-{tag}-{}-{n}-{nanos:x}",
            std::process::id()
        ));
        fs::create_dir(&path)?;
        Ok(Scratch { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Writes `contents` to `path` (parents created) and sets its mtime to
/// [`MTIME`]. Panics with the path on failure: setup errors are test bugs.
pub fn put(path: &Path, contents: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
    }
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    let file = fs::File::options()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

/// `true` when the test runs as root (then file modes do not deny reads).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

// ---------------------------------------------------------------------------
// Log files

/// The lines of each file of `paths`, each with its `\n` (a last line
/// still being written has none), without those containing `skip` (the
/// readiness probe's path): once the files hold at least `want` complete
/// lines together, or what is there after `limit`. Polls with a growing
/// pause, never sleeping a fixed time (lighttpd writes its access log
/// about once a second). Bytes that are not UTF-8 are shown as `<0xNN>`.
pub fn log_lines(paths: &[PathBuf], want: usize, skip: &str, limit: Duration) -> Vec<Vec<String>> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(5);
    loop {
        let all: Vec<Vec<String>> = paths
            .iter()
            .map(|path| {
                let raw = fs::read(path).unwrap_or_default();
                raw.split_inclusive(|&b| b == b'\n')
                    .map(escape_bytes)
                    .filter(|l| !l.contains(skip))
                    .collect()
            })
            .collect();
        // a line counts once it is complete
        let complete: usize = all
            .iter()
            .map(|lines| lines.iter().filter(|l| l.ends_with('\n')).count())
            .sum();
        if complete >= want || Instant::now() >= deadline {
            return all;
        }
        thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// `line` as text, each byte that is not UTF-8 as `<0xNN>`.
fn escape_bytes(line: &[u8]) -> String {
    let mut s = String::new();
    for chunk in line.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(s, "<0x{b:02X}>");
        }
    }
    s
}

// ---------------------------------------------------------------------------
// One server

/// A running server (lighttpd or wick) on an inherited socket.
#[derive(Debug)]
pub struct Server {
    /// `lighttpd` or `wick`.
    pub name: &'static str,
    pub port: u16,
    child: Option<Child>,
    stderr_path: PathBuf,
    /// The configuration file it runs.
    pub conf_path: PathBuf,
    /// The ports of [`Launch::extra_sockets`] (`{port2}` first).
    pub extra_ports: Vec<u16>,
    /// The process group killed on drop ([`Launch::own_group`]).
    group: Option<i32>,
    probe_bytes: Vec<u8>,
}

/// How [`Server::launch`] starts a server, beyond what [`Server::start`]
/// does by default.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Environment variables added after [`base_env`] (and the `LISTEN_*`
    /// pair), e.g. what a `bin-path` child should inherit.
    pub env: Vec<(String, String)>,
    /// The readiness probe (default `GET / HTTP/1.0`); any answer counts.
    /// Proxy configurations point it at a path no backend handles, so that
    /// the probe neither changes balancing state nor spawns procs.
    pub probe: Option<Vec<u8>>,
    /// Start the server as the leader of its own process group and kill the
    /// whole group on drop: that also ends children it left behind
    /// (lighttpd does not wait for its `bin-path` children at shutdown).
    pub own_group: bool,
    /// Listening sockets handed over after the preamble's (fds 4, 5, …,
    /// `LISTEN_FDS` counts them all); the configuration names them
    /// `{port2}`, `{port3}` … on 127.0.0.1, as `$SERVER["socket"]` blocks,
    /// and [`Server::extra_ports`] holds their ports. Both programs match
    /// an inherited socket to the block naming its address. The readiness
    /// probe still goes to the preamble's socket: a listener that does not
    /// answer plain HTTP (TLS) is one of these, and a client of it reaches
    /// a running server (the socket listens before the server starts, so
    /// nothing is refused; both programs set up every listener before
    /// serving any). At most [`MAX_EXTRA_SOCKETS`].
    pub extra_sockets: usize,
}

/// The most [`Launch::extra_sockets`] a server can get.
pub const MAX_EXTRA_SOCKETS: usize = 7;

/// The lines every configuration starts with: take the inherited socket.
pub fn preamble(port: u16) -> String {
    format!(
        "# compat-tests preamble: serve the socket handed over as fd 3\n\
         server.systemd-socket-activation = \"enable\"\n\
         server.bind = \"127.0.0.1\"\n\
         server.port = {port}\n\n"
    )
}

impl Server {
    /// Writes `{dir}/{name}.conf` ([`preamble`] + `conf`, `{port}` replaced)
    /// and starts `program -D -f` on it with a fresh listening socket as
    /// fd 3. Returns once the server answered a probe request.
    pub fn start(
        name: &'static str,
        program: &Path,
        conf: &str,
        dir: &Path,
    ) -> Result<Server, String> {
        Server::launch(name, program, conf, dir, &Launch::default())
    }

    /// [`Server::start`] with the options of `launch`.
    pub fn launch(
        name: &'static str,
        program: &Path,
        conf: &str,
        dir: &Path,
        launch: &Launch,
    ) -> Result<Server, String> {
        assert!(
            launch.extra_sockets <= MAX_EXTRA_SOCKETS,
            "at most {MAX_EXTRA_SOCKETS} extra sockets"
        );
        let listeners = (0..=launch.extra_sockets)
            .map(|_| TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let ports = listeners
            .iter()
            .map(|l| {
                Ok(l.local_addr()
                    .map_err(|e| format!("local_addr: {e}"))?
                    .port())
            })
            .collect::<Result<Vec<u16>, String>>()?;
        let port = ports[0];
        let mut text = preamble(port) + &conf.replace("{port}", &port.to_string());
        for (i, p) in ports.iter().enumerate().skip(1) {
            text = text.replace(&format!("{{port{}}}", i + 1), &p.to_string());
        }
        let conf_path = dir.join(format!("{name}.conf"));
        fs::write(&conf_path, text).map_err(|e| format!("write {}: {e}", conf_path.display()))?;
        let stderr_path = dir.join(format!("{name}.stderr"));
        let stderr = fs::File::create(&stderr_path)
            .map_err(|e| format!("create {}: {e}", stderr_path.display()))?;

        // The listening sockets' descriptors, in order (fd 3, 4, … in the
        // child); a fixed array, as nothing may allocate after fork.
        let count = listeners.len();
        let mut fds = [-1; MAX_EXTRA_SOCKETS + 1];
        for (slot, l) in fds.iter_mut().zip(&listeners) {
            *slot = l.as_raw_fd();
        }
        let mut cmd = Command::new(program);
        cmd.arg("-D")
            .arg("-f")
            .arg(&conf_path)
            .current_dir(dir)
            .env_clear()
            .envs(base_env())
            .env("LISTEN_FDS", count.to_string())
            .env("LISTEN_PID", format!("parent:{}", std::process::id()))
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // SAFETY: between fork and exec only async-signal-safe calls on a
        // fixed array: prctl; fcntl(F_DUPFD) copying each listening socket
        // above the target range (so that no dup2 below overwrites a
        // socket still to be moved); dup2 of each copy to fd 3, 4, …
        // (which clears close-on-exec); close_range/close of the
        // descriptors above them (the copies among them).
        unsafe {
            cmd.pre_exec(move || {
                // Die with the thread that started us if the harness is
                // killed before it can clean up (Drop kills it otherwise).
                #[cfg(target_os = "linux")]
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let first_free = 3 + count as libc::c_int;
                let mut high = [-1; MAX_EXTRA_SOCKETS + 1];
                for (h, &fd) in high.iter_mut().zip(&fds[..count]) {
                    *h = libc::fcntl(fd, libc::F_DUPFD, first_free);
                    if *h < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                for (target, &h) in (3..).zip(&high[..count]) {
                    if libc::dup2(h, target) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                // Descriptors the test process inherited from outside
                // (cargo's jobserver, a shell's) would reach the server and
                // its bin-path children: close everything above the
                // handed-over sockets.
                #[cfg(target_os = "linux")]
                if libc::syscall(libc::SYS_close_range, first_free as u32, u32::MAX, 0u32) != 0 {
                    for extra in first_free..1024 {
                        libc::close(extra);
                    }
                }
                Ok(())
            });
        }
        if launch.own_group {
            cmd.process_group(0);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", program.display()))?;
        drop(listeners);
        let group = launch
            .own_group
            .then(|| i32::try_from(child.id()).expect("pids fit in i32"));
        let mut server = Server {
            name,
            port,
            child: Some(child),
            stderr_path,
            conf_path,
            extra_ports: ports[1..].to_vec(),
            group,
            probe_bytes: launch
                .probe
                .clone()
                .unwrap_or_else(|| b"GET / HTTP/1.0\r\n\r\n".to_vec()),
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// `Err` (with stderr) when the process has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        let Some(child) = self.child.as_mut() else {
            return Err(format!("{} is not running", self.name));
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.child = None;
                Err(format!(
                    "{} exited ({status}); stderr:\n{}",
                    self.name,
                    indent(&self.stderr())
                ))
            }
            Err(e) => Err(format!("wait for {}: {e}", self.name)),
        }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            self.check_alive()
                .map_err(|e| format!("during start-up: {e}"))?;
            if self.probe() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not answer a probe request within {:?}; stderr:\n{}",
                    self.name,
                    START_DEADLINE,
                    indent(&self.stderr())
                ));
            }
        }
    }

    /// One short attempt: any bytes in answer to `GET / HTTP/1.0`.
    fn probe(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            thread::sleep(Duration::from_millis(20));
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
        if s.write_all(&self.probe_bytes).is_err() {
            return false;
        }
        let mut buf = [0u8; 1];
        matches!(s.read(&mut buf), Ok(1))
    }

    /// Sends `request` on a new connection and reads until the server
    /// closes it (every [`Req`] asks for `Connection: close`), within
    /// [`STEP_DEADLINE`].
    pub fn exchange(&self, request: &[u8]) -> Result<Vec<u8>, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .map_err(|e| format!("connect to {}: {e}", self.name))?;
        s.set_write_timeout(Some(STEP_DEADLINE))
            .map_err(|e| e.to_string())?;
        s.write_all(request)
            .map_err(|e| format!("send to {}: {e}", self.name))?;
        let deadline = Instant::now() + STEP_DEADLINE;
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "{} did not close the connection within {STEP_DEADLINE:?}; got so far: {:?}",
                    self.name,
                    String::from_utf8_lossy(&out)
                ));
            }
            s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A reset after the response (the server did not read all we
                // sent) still leaves the response readable.
                Err(e) if !out.is_empty() && e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => {
                    return Err(format!(
                        "read from {}: {e}; got so far: {:?}",
                        self.name,
                        String::from_utf8_lossy(&out)
                    ));
                }
            }
        }
        let _ = s.shutdown(Shutdown::Both);
        Ok(out)
    }
}

impl Server {
    /// Which of a pair's servers this is, as in per-server arrays such as
    /// [`PairOpts::vars`]: 0 for `lighttpd`, 1 for any other name (wick,
    /// or the second lighttpd of a [`self_check`], which plays wick).
    pub fn index(&self) -> usize {
        usize::from(self.name != "lighttpd")
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the server process.
    pub fn signal(&self, signal: i32) -> Result<(), String> {
        let pid = self
            .pid()
            .ok_or_else(|| format!("{} is not running", self.name))?;
        let pid = i32::try_from(pid).map_err(|e| e.to_string())?;
        // SAFETY: kill has no memory-safety preconditions.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(format!(
                "kill({pid}, {signal}): {}",
                io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    /// Sends `signal` and waits (polling, bounded by `limit`) for the
    /// server to exit; returns how long that took. Children it leaves
    /// behind are still killed on drop when it leads its own group.
    pub fn stop(&mut self, signal: i32, limit: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        self.signal(signal)?;
        let child = self.child.as_mut().expect("signal() checked it runs");
        loop {
            match child.try_wait() {
                Ok(Some(_)) => {
                    self.child = None;
                    return Ok(start.elapsed());
                }
                Ok(None) if start.elapsed() < limit => thread::sleep(Duration::from_millis(10)),
                Ok(None) => {
                    return Err(format!(
                        "{} did not exit within {limit:?} of signal {signal}",
                        self.name
                    ));
                }
                Err(e) => return Err(format!("wait for {}: {e}", self.name)),
            }
        }
    }

    /// A new client connection to the server.
    pub fn connect(&self) -> Result<Client, String> {
        Client::connect(self.name, SocketAddr::from(([127, 0, 0, 1], self.port)))
    }

    /// Sends `request` on a new connection and reads exactly one final
    /// response (1xx interim responses are collected into it), framed by
    /// its headers: unlike [`Server::exchange`] this does not wait for the
    /// server to close a kept-alive connection.
    pub fn exchange_one(&self, request: &[u8], head: bool) -> Result<Response, String> {
        let mut c = self.connect()?;
        c.send(request)?;
        c.response(head)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(group) = self.group {
            // SAFETY: killpg has no memory-safety preconditions; the group
            // is the one this server led, so only its leftovers are hit.
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Client connections

/// One client connection (to a server, a backend, anything on loopback):
/// send bytes, read framed responses, watch for EOF, with deadlines and
/// the arrival times of what was read.
#[derive(Debug)]
pub struct Client {
    pub(crate) name: String,
    pub(crate) stream: TcpStream,
    /// Bytes read and not consumed yet.
    pub(crate) buf: Vec<u8>,
    pub(crate) eof: bool,
    pub(crate) start: Instant,
    /// (time since connect, bytes) of every read.
    arrivals: Vec<(Duration, usize)>,
}

impl Client {
    /// Connects to `addr`; `name` appears in error messages.
    pub fn connect(name: &str, addr: SocketAddr) -> Result<Client, String> {
        let stream = TcpStream::connect_timeout(&addr, STEP_DEADLINE)
            .map_err(|e| format!("connect to {name} ({addr}): {e}"))?;
        Client::from_stream(name, stream)
    }

    /// Connects to `addr` from `local` (another loopback address such as
    /// 127.0.0.2, for scenarios that depend on the client's address).
    pub fn connect_from(
        name: &str,
        local: std::net::Ipv4Addr,
        addr: SocketAddr,
    ) -> Result<Client, String> {
        let SocketAddr::V4(to) = addr else {
            return Err(format!("{name}: IPv4 only"));
        };
        let sockaddr = |ip: std::net::Ipv4Addr, port: u16| {
            // SAFETY: sockaddr_in is plain old data; all-zero is valid.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_port = port.to_be();
            sa.sin_addr.s_addr = u32::from(ip).to_be();
            sa
        };
        let (from, to) = (sockaddr(local, 0), sockaddr(*to.ip(), to.port()));
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: a fresh socket owned right after creation; bind and
        // connect get fully initialised sockaddr_in values and their size.
        let stream = unsafe {
            let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if raw < 0 {
                return Err(format!("socket: {}", io::Error::last_os_error()));
            }
            let stream = <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(raw);
            if libc::bind(raw, (&raw const from).cast(), len) != 0
                || libc::connect(raw, (&raw const to).cast(), len) != 0
            {
                return Err(format!(
                    "connect to {name} ({addr}) from {local}: {}",
                    io::Error::last_os_error()
                ));
            }
            stream
        };
        Client::from_stream(name, stream)
    }

    /// Wraps an already connected stream (e.g. bound to another local
    /// address first).
    pub fn from_stream(name: &str, stream: TcpStream) -> Result<Client, String> {
        stream
            .set_write_timeout(Some(STEP_DEADLINE))
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        Ok(Client {
            name: name.to_string(),
            stream,
            buf: Vec::new(),
            eof: false,
            start: Instant::now(),
            arrivals: Vec::new(),
        })
    }

    /// Time since the connection was made.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// (time since connect, size) of every read so far.
    pub fn arrivals(&self) -> &[(Duration, usize)] {
        &self.arrivals
    }

    /// Sends all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("send to {}: {e}", self.name))
    }

    /// Half-closes the connection (TCP FIN), keeps reading possible.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// One read with a time limit. `Ok(0)` at EOF (also after it), `Err`
    /// on timeout or error.
    pub(crate) fn read_once(&mut self, limit: Duration) -> Result<usize, String> {
        if self.eof {
            return Ok(0);
        }
        let limit = limit.max(Duration::from_millis(1));
        self.stream
            .set_read_timeout(Some(limit))
            .map_err(|e| e.to_string())?;
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.arrivals.push((self.start.elapsed(), n));
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    self.eof = true;
                    return Ok(0);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(format!("{}: nothing within {limit:?}", self.name));
                }
                Err(e) => return Err(format!("read from {}: {e}", self.name)),
            }
        }
    }

    /// Reads one final response within [`STEP_DEADLINE`] (see
    /// [`Client::response_within`]).
    pub fn response(&mut self, head: bool) -> Result<Response, String> {
        self.response_within(head, STEP_DEADLINE)
    }

    /// Reads one final response (1xx interim responses collected into it)
    /// within `limit`, framed by its headers; bytes after it stay buffered
    /// for the next call (pipelining).
    pub fn response_within(&mut self, head: bool, limit: Duration) -> Result<Response, String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((r, used)) = frame_response(&self.buf, head, self.eof)
                .map_err(|e| format!("{}: {e}", self.name))?
            {
                self.buf.drain(..used);
                return Ok(r);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "{}: no complete response within {limit:?}; got so far: {:?}",
                    self.name,
                    preview(&self.buf)
                ));
            }
            self.read_once(left)
                .map_err(|e| format!("{e}; got so far: {:?}", preview(&self.buf)))?;
        }
    }

    /// Reads until the buffered bytes contain `needle`; returns the time
    /// since connect at which they did.
    pub fn wait_for(&mut self, needle: &[u8], limit: Duration) -> Result<Duration, String> {
        let deadline = Instant::now() + limit;
        loop {
            if find(&self.buf, needle).is_some() {
                return Ok(self.arrivals.last().map_or(Duration::ZERO, |a| a.0));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.eof {
                return Err(format!(
                    "{}: {:?} not received within {limit:?} (eof {}); got: {:?}",
                    self.name,
                    String::from_utf8_lossy(needle),
                    self.eof,
                    preview(&self.buf)
                ));
            }
            let _ = self.read_once(left);
        }
    }

    /// Waits up to `limit` for EOF: `true` if the peer closed (bytes that
    /// arrived meanwhile stay buffered), `false` if it kept the connection
    /// open.
    pub fn closed_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !self.eof {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.read_once(left).is_err() {
                return false;
            }
        }
        true
    }

    /// Reads until EOF or `limit`; returns everything buffered (and clears
    /// it) and whether EOF came.
    pub fn read_to_end(&mut self, limit: Duration) -> (Vec<u8>, bool) {
        let closed = self.closed_within(limit);
        (std::mem::take(&mut self.buf), closed)
    }

    /// Takes the bytes buffered so far.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// `true` once the peer closed the connection.
    pub fn saw_eof(&self) -> bool {
        self.eof
    }
}

// ---------------------------------------------------------------------------
// Requests and responses

/// A request: method, target, version, headers (the `Host` first) and body.
/// `{etag}`-style placeholders in header values are replaced per server
/// (see [`Pair::learn`]).
#[derive(Debug, Clone)]
pub struct Req {
    label: Option<String>,
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    raw: Option<Vec<u8>>,
    also: Vec<String>,
}

impl Req {
    /// `method target HTTP/1.1`, `Host: example.org`, `Connection: close`.
    pub fn new(method: &str, target: &str) -> Req {
        Req {
            label: None,
            method: method.to_string(),
            target: target.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: vec![
                ("Host".to_string(), DEFAULT_HOST.to_string()),
                ("Connection".to_string(), "close".to_string()),
            ],
            body: Vec::new(),
            raw: None,
            also: Vec::new(),
        }
    }

    pub fn get(target: &str) -> Req {
        Req::new("GET", target)
    }

    pub fn head(target: &str) -> Req {
        Req::new("HEAD", target)
    }

    /// Exact request bytes (should ask for `Connection: close` or be
    /// HTTP/1.0). `method` tells whether the answer has a body (`HEAD`).
    pub fn raw(method: &str, bytes: impl Into<Vec<u8>>) -> Req {
        let mut r = Req::new(method, "");
        r.raw = Some(bytes.into());
        r
    }

    /// A name shown in reports instead of the request line.
    pub fn label(mut self, label: &str) -> Req {
        self.label = Some(label.to_string());
        self
    }

    /// Adds a header (after `Host` and `Connection`).
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Replaces the `Host` header's value.
    pub fn host(mut self, host: &str) -> Req {
        self.headers.retain(|(n, _)| n != "Host");
        self.headers
            .insert(0, ("Host".to_string(), host.to_string()));
        self
    }

    /// Sends no `Host` header.
    pub fn no_host(mut self) -> Req {
        self.headers.retain(|(n, _)| n != "Host");
        self
    }

    /// `HTTP/1.0` instead of `HTTP/1.1`.
    pub fn http10(mut self) -> Req {
        self.version = "HTTP/1.0".to_string();
        self
    }

    /// Replaces the `Connection` header's value (`keep-alive, X-Foo`, …).
    pub fn connection(mut self, value: &str) -> Req {
        for (n, v) in &mut self.headers {
            if n == "Connection" {
                *v = value.to_string();
                return self;
            }
        }
        self.header("Connection", value)
    }

    /// Sends no `Connection` header: HTTP/1.1 keep-alive by default (read
    /// the answer with [`Client::response`] or [`Server::exchange_one`]).
    pub fn keep_alive(mut self) -> Req {
        self.headers.retain(|(n, _)| n != "Connection");
        self
    }

    /// The request target as written in the request line.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A body with its `Content-Length`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = body.into();
        let len = self.body.len().to_string();
        self.header("Content-Length", &len)
    }

    /// A body sent with `Transfer-Encoding: chunked`, in one chunk.
    pub fn chunked(mut self, body: &[u8]) -> Req {
        self.body = format!("{:x}\r\n", body.len()).into_bytes();
        self.body.extend_from_slice(body);
        self.body.extend_from_slice(b"\r\n0\r\n\r\n");
        self.header("Transfer-Encoding", "chunked")
    }

    /// Compares this response header too (lower-case name).
    pub fn also(mut self, header: &str) -> Req {
        self.also.push(header.to_ascii_lowercase());
        self
    }

    /// `true` for HEAD: the response has no body whatever it says.
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    /// The request bytes, with `vars` substituted in header values.
    pub fn bytes(&self, vars: &[(String, String)]) -> Vec<u8> {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let mut s = format!("{} {} {}\r\n", self.method, self.target, self.version);
        for (name, value) in &self.headers {
            let mut value = value.clone();
            for (k, v) in vars {
                value = value.replace(k.as_str(), v);
            }
            let _ = write!(s, "{name}: {value}\r\n");
        }
        s.push_str("\r\n");
        let mut bytes = s.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// The label, or the request line and the headers a test added.
    pub fn describe(&self) -> String {
        if let Some(label) = &self.label {
            return label.clone();
        }
        if let Some(raw) = &self.raw {
            return format!("{:?}", String::from_utf8_lossy(raw));
        }
        let mut s = format!("{} {} {}", self.method, self.target, self.version);
        for (name, value) in &self.headers {
            if (name == "Host" && value == DEFAULT_HOST) || name == "Connection" {
                continue;
            }
            let _ = write!(s, " | {name}: {value}");
        }
        if !self.headers.iter().any(|(n, _)| n == "Host") {
            s.push_str(" | (no Host)");
        }
        if !self.body.is_empty() {
            let _ = write!(s, " | body {:?}", String::from_utf8_lossy(&self.body));
        }
        s
    }
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status_line: String,
    pub status: u16,
    /// Headers in order, names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked when the response was chunked).
    pub body: Vec<u8>,
    /// Bytes after the end of this response (none expected).
    pub trailing: Vec<u8>,
    /// The head as received: status line and header lines joined by CRLF,
    /// names spelled as sent.
    pub raw_head: String,
    /// 1xx responses (other than 101) received before this one, in order
    /// (filled by [`frame_response`]; [`parse_response`] stops at a 1xx).
    pub interim: Vec<Response>,
}

impl Response {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    /// Status line and headers, one per line, for reports.
    pub fn head_text(&self) -> String {
        let mut s = self.status_line.clone();
        for (n, v) in &self.headers {
            let _ = write!(s, "\n{n}: {v}");
        }
        s
    }
}

/// Parses one HTTP/1.x response. `head` says the request was HEAD (no
/// body). Framing: 1xx/204/304/HEAD none, chunked, Content-Length, else
/// until EOF.
pub fn parse_response(bytes: &[u8], head: bool) -> Result<Response, String> {
    let end = find(bytes, b"\r\n\r\n").ok_or_else(|| {
        format!(
            "no complete response head in {:?}",
            String::from_utf8_lossy(bytes)
        )
    })?;
    let mut r = parse_head(&bytes[..end])?;
    let rest = &bytes[end + 4..];
    let no_body = head || r.status == 204 || r.status == 304 || (100..200).contains(&r.status);
    if no_body {
        r.trailing = rest.to_vec();
    } else if r.is_chunked() {
        let (body, used) = dechunk(rest)?;
        r.body = body;
        r.trailing = rest[used..].to_vec();
    } else if let Some(len) = r.content_length()? {
        if rest.len() < len {
            return Err(format!(
                "body shorter than Content-Length {len}: {} bytes",
                rest.len()
            ));
        }
        r.body = rest[..len].to_vec();
        r.trailing = rest[len..].to_vec();
    } else {
        r.body = rest.to_vec();
    }
    Ok(r)
}

/// Parses a response head (without the blank line) into a [`Response`]
/// with no body.
fn parse_head(bytes: &[u8]) -> Result<Response, String> {
    let head_text =
        std::str::from_utf8(bytes).map_err(|_| format!("response head is not UTF-8: {bytes:?}"))?;
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Ok(Response {
        status_line,
        status,
        headers,
        body: Vec::new(),
        trailing: Vec::new(),
        raw_head: head_text.to_string(),
        interim: Vec::new(),
    })
}

impl Response {
    fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    }

    fn content_length(&self) -> Result<Option<usize>, String> {
        self.header("content-length")
            .map(|len| {
                len.parse()
                    .map_err(|_| format!("bad Content-Length {len:?}"))
            })
            .transpose()
    }

    /// Every value of header `name` (lower case), in order.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Replaces the value of every header `name` (lower case), keeping its
    /// position; used by known-difference normalisations.
    pub fn set_header(&mut self, name: &str, value: &str) {
        for (n, v) in &mut self.headers {
            if n == name {
                *v = value.to_string();
            }
        }
    }

    /// Removes every header `name` (lower case).
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| n != name);
    }
}

/// Finds the first complete final response at the start of `buf`.
/// `Ok(None)`: more bytes are needed. `eof` says no more bytes will come
/// (then a close-delimited body ends at the end of `buf`, and an incomplete
/// response is an error). 1xx responses other than 101 are collected into
/// [`Response::interim`]; a 101 has no body (what follows is the tunnel).
/// Returns the response and the number of bytes it used; `trailing` stays
/// empty.
pub fn frame_response(
    buf: &[u8],
    head: bool,
    eof: bool,
) -> Result<Option<(Response, usize)>, String> {
    let mut interim = Vec::new();
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let Some(end) = find(rest, b"\r\n\r\n") else {
            if eof {
                return Err(format!(
                    "no complete response head in {:?}",
                    String::from_utf8_lossy(rest)
                ));
            }
            return Ok(None);
        };
        let mut r = parse_head(&rest[..end])?;
        let body_at = at + end + 4;
        if (100..200).contains(&r.status) && r.status != 101 {
            interim.push(r);
            at = body_at;
            continue;
        }
        r.interim = interim;
        let rest = &buf[body_at..];
        if head || r.status == 204 || r.status == 304 || r.status == 101 {
            return Ok(Some((r, body_at)));
        }
        if r.is_chunked() {
            return match dechunk_partial(rest)? {
                Some((body, used)) => {
                    r.body = body;
                    Ok(Some((r, body_at + used)))
                }
                None if eof => Err(format!(
                    "chunked body cut short after {} bytes: {:?}",
                    rest.len(),
                    preview(rest)
                )),
                None => Ok(None),
            };
        }
        if let Some(len) = r.content_length()? {
            if rest.len() >= len {
                r.body = rest[..len].to_vec();
                return Ok(Some((r, body_at + len)));
            }
            if eof {
                return Err(format!(
                    "body shorter than Content-Length {len}: {} bytes {:?}",
                    rest.len(),
                    preview(rest)
                ));
            }
            return Ok(None);
        }
        if eof {
            r.body = rest.to_vec();
            return Ok(Some((r, buf.len())));
        }
        return Ok(None);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a chunked body; returns it and the number of bytes used.
fn dechunk(rest: &[u8]) -> Result<(Vec<u8>, usize), String> {
    dechunk_partial(rest)?.ok_or_else(|| "chunked body not terminated".to_string())
}

/// Decodes a chunked body; `Ok(None)` when it is not complete yet.
fn dechunk_partial(mut rest: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let total = rest.len();
    let mut body = Vec::new();
    loop {
        let Some(eol) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            // trailers until an empty line
            let Some(end) = find(rest, b"\r\n") else {
                return Ok(None);
            };
            let mut used = end + 2;
            if end != 0 {
                let Some(all) = find(rest, b"\r\n\r\n") else {
                    return Ok(None);
                };
                used = all + 4;
            }
            return Ok(Some((body, total - rest.len() + used)));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

// ---------------------------------------------------------------------------
// Comparison

/// `WICK_COMPAT_SHOW=1`: print every exchange's summary, differing or not
/// (`2`: also lighttpd's full response to each [`Pair::check_full`]).
pub fn show_exchanges() -> bool {
    std::env::var("WICK_COMPAT_SHOW").is_ok_and(|v| v == "1" || v == "2")
}

fn show_full() -> bool {
    std::env::var("WICK_COMPAT_SHOW").is_ok_and(|v| v == "2")
}

/// What is compared by value: status, these headers, and the body.
pub const COMPARED_VALUES: &[&str] = &[
    "content-type",
    "content-length",
    "location",
    "content-range",
    "accept-ranges",
];
/// Headers compared by presence only (their values legitimately differ).
pub const COMPARED_PRESENCE: &[&str] = &["etag", "last-modified"];

/// Replaces the server's own port in a header value (an absolute
/// `Location` built from the socket address) by `{port}`.
fn normalise(value: &str, port: u16) -> String {
    value.replace(&format!(":{port}"), ":{port}")
}

/// The differences between two responses to the same request, one line
/// each; empty when they agree on everything compared.
pub fn differences(req: &Req, l: &Response, l_port: u16, w: &Response, w_port: u16) -> Vec<String> {
    let mut out = Vec::new();
    if l.status != w.status {
        out.push(format!("status: lighttpd {} | wick {}", l.status, w.status));
    }
    // The protocol version of the answer (HTTP/1.0 to an HTTP/1.0 request
    // or to a request line that was not understood).
    let version = |r: &Response| {
        r.status_line
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_string()
    };
    if version(l) != version(w) {
        out.push(format!(
            "status line: lighttpd {:?} | wick {:?}",
            l.status_line, w.status_line
        ));
    }
    let values = COMPARED_VALUES
        .iter()
        .map(|s| s.to_string())
        .chain(req.also.iter().cloned());
    for name in values {
        let lv = l.header(&name).map(|v| normalise(v, l_port));
        let wv = w.header(&name).map(|v| normalise(v, w_port));
        if lv != wv {
            out.push(format!("{name}: lighttpd {lv:?} | wick {wv:?}"));
        }
    }
    for name in COMPARED_PRESENCE {
        if l.has(name) != w.has(name) {
            out.push(format!(
                "{name} present: lighttpd {} | wick {}",
                l.has(name),
                w.has(name)
            ));
        }
    }
    if l.body != w.body {
        out.push(format!(
            "body: lighttpd {} bytes {:?} | wick {} bytes {:?}",
            l.body.len(),
            preview(&l.body),
            w.body.len(),
            preview(&w.body)
        ));
    }
    if !w.trailing.is_empty() && l.trailing.is_empty() {
        out.push(format!(
            "wick sent bytes after the response: {:?}",
            preview(&w.trailing)
        ));
    }
    out
}

/// Response headers whose values [`full_differences`] never compares, only
/// their presence (unless the request names them with [`Req::also`]).
pub const VOLATILE: &[&str] = &["date", "server"];

/// `bytes` with every `:<port>` not followed by a digit replaced by
/// `:{port}` (a server's own port in a backend's echo of the request, e.g.
/// `Forwarded: by="127.0.0.1:<port>"`).
pub fn normalise_port(bytes: &[u8], port: u16) -> Vec<u8> {
    normalise_port_as(bytes, port, "{port}")
}

/// `bytes` with every `:<port>` not followed by a digit replaced by
/// `:name` (`{port2}` for the first of [`Server::extra_ports`] …).
pub fn normalise_port_as(bytes: &[u8], port: u16, name: &str) -> Vec<u8> {
    let needle = format!(":{port}").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(&needle)
            && !bytes
                .get(i + needle.len())
                .is_some_and(|b| b.is_ascii_digit())
        {
            out.push(b':');
            out.extend_from_slice(name.as_bytes());
            i += needle.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Everything that differs between two responses to one request: the
/// exact status line, 1xx interim responses, every header (values compared
/// per name, in order; names case-insensitively; the order *between*
/// different names is not compared — it means nothing to a client; the
/// [`VOLATILE`] ones by presence), the body with each server's own port
/// normalised, and bytes after the response.
pub fn full_differences(
    also: &[String],
    l: &Response,
    l_port: u16,
    w: &Response,
    w_port: u16,
) -> Vec<String> {
    let mut out = Vec::new();
    if l.status_line != w.status_line {
        out.push(format!(
            "status line: lighttpd {:?} | wick {:?}",
            l.status_line, w.status_line
        ));
    }
    if l.interim.len() != w.interim.len() {
        out.push(format!(
            "interim responses: lighttpd {:?} | wick {:?}",
            l.interim.iter().map(|r| &r.status_line).collect::<Vec<_>>(),
            w.interim.iter().map(|r| &r.status_line).collect::<Vec<_>>()
        ));
    } else {
        for (li, wi) in l.interim.iter().zip(&w.interim) {
            for d in full_differences(also, li, l_port, wi, w_port) {
                out.push(format!("interim {}: {d}", li.status_line));
            }
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for (n, _) in l.headers.iter().chain(&w.headers) {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    for name in names {
        if VOLATILE.contains(&name) && !also.iter().any(|a| a == name) {
            if l.has(name) != w.has(name) {
                out.push(format!(
                    "{name} present: lighttpd {} | wick {}",
                    l.has(name),
                    w.has(name)
                ));
            }
            continue;
        }
        let lv: Vec<String> = l
            .values(name)
            .iter()
            .map(|v| normalise(v, l_port))
            .collect();
        let wv: Vec<String> = w
            .values(name)
            .iter()
            .map(|v| normalise(v, w_port))
            .collect();
        if lv != wv {
            out.push(format!("{name}: lighttpd {lv:?} | wick {wv:?}"));
        }
    }
    let (lb, wb) = (
        normalise_port(&l.body, l_port),
        normalise_port(&w.body, w_port),
    );
    if lb != wb {
        out.push(format!(
            "body: lighttpd {} bytes | wick {} bytes\n{}",
            l.body.len(),
            w.body.len(),
            indent(&crate::text_diff("lighttpd", &lb, "wick", &wb))
        ));
    }
    if l.trailing != w.trailing {
        out.push(format!(
            "bytes after the response: lighttpd {:?} | wick {:?}",
            preview(&l.trailing),
            preview(&w.trailing)
        ));
    }
    out
}

/// The head of an HTTP message in `body` (up to the blank line) with every
/// header *name* lower-cased, the rest untouched: compares a backend's echo
/// of the request where wick's names are Title-Case (KNOWN-DIFFERENCES:
/// upstream header names).
pub fn lowercase_echoed_names(body: &[u8]) -> Vec<u8> {
    let Some(end) = find(body, b"\r\n\r\n") else {
        return body.to_vec();
    };
    let head = String::from_utf8_lossy(&body[..end]);
    let mut lines = head.split("\r\n");
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        out.push_str("\r\n");
        match line.split_once(':') {
            Some((n, v)) => {
                out.push_str(&n.to_ascii_lowercase());
                out.push(':');
                out.push_str(v);
            }
            None => out.push_str(line),
        }
    }
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body[end..]);
    bytes
}

fn preview(b: &[u8]) -> String {
    const MAX: usize = 400;
    let s = String::from_utf8_lossy(&b[..b.len().min(MAX)]).into_owned();
    if b.len() > MAX { s + "…" } else { s }
}

fn indent(text: &str) -> String {
    if text.trim().is_empty() {
        return "    (empty)".to_string();
    }
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// Pair

/// Which program's behaviour a server stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Lighttpd,
    Wick,
}

/// `WICK_COMPAT_SELF=1`: run lighttpd on both sides of a [`Pair`] (and of
/// other two-sided scenarios). Every comparison must then agree, which
/// checks the scenarios and their normalisations against the oracle alone
/// — useful while wick cannot run them yet, and to find flaky ones.
pub fn self_check() -> bool {
    std::env::var("WICK_COMPAT_SELF").is_ok_and(|v| v == "1")
}

/// A configuration lighttpd 1.4.69 starts with and wick refuses at start
/// (a KNOWN-DIFFERENCE): launches `lighttpd` on `conf` in `dir`, then wick
/// (under [`self_check`] lighttpd again, which must start too), each with
/// `launch` and stopped at once. Returns what went wrong, each message
/// starting with `what`: lighttpd did not start; wick started, did not
/// exit with status 255, or (with a `key`) its refusal does not name `key`.
pub fn expect_only_wick_refuses(
    lighttpd: &Path,
    what: &str,
    conf: &str,
    dir: &Path,
    launch: &Launch,
    key: Option<&str>,
) -> Vec<String> {
    let (other, other_side) = if self_check() {
        (lighttpd.to_path_buf(), Side::Lighttpd)
    } else {
        (wick_bin(), Side::Wick)
    };
    let mut failures = Vec::new();
    for (name, program, side) in [
        ("lighttpd", lighttpd, Side::Lighttpd),
        ("wick", other.as_path(), other_side),
    ] {
        match (side, Server::launch(name, program, conf, dir, launch)) {
            (Side::Lighttpd, Ok(_)) => {}
            (Side::Lighttpd, Err(e)) => {
                failures.push(format!("{what}: {name} did not start: {e}\n{conf}"))
            }
            (Side::Wick, Ok(_)) => failures.push(format!("{what}: {name} started on\n{conf}")),
            (Side::Wick, Err(e)) if !e.contains("exit status: 255") => {
                failures.push(format!("{what}: {name} did not exit with status 255: {e}"))
            }
            (Side::Wick, Err(e)) => {
                if let Some(key) = key.filter(|k| !e.contains(k)) {
                    failures.push(format!("{what}: {name}'s refusal does not name {key}: {e}"));
                }
            }
        }
    }
    failures
}

/// Runs `check` once per case of `cases`, each in a fresh scratch
/// directory (its path as text, with an empty `htdocs/` in it), and fails
/// the test `test` with every message `check` returned. For the
/// start-refusal tests: `check` launches the servers, e.g. with
/// [`expect_only_wick_refuses`].
pub fn start_refusals<C>(
    test: &str,
    cases: &[C],
    mut check: impl FnMut(&C, &Path, &str) -> Vec<String>,
) {
    let mut failures = Vec::new();
    for case in cases {
        let scratch = Scratch::new(test).expect("scratch dir");
        fs::create_dir(scratch.path().join("htdocs")).expect("create htdocs");
        let dir = scratch.path().to_str().expect("UTF-8 scratch path");
        failures.extend(check(case, scratch.path(), dir));
    }
    announce(&format!(
        "compat-tests: {test}: {} configurations, {} failures",
        cases.len(),
        failures.len()
    ));
    assert!(failures.is_empty(), "{test}:\n{}", failures.join("\n\n"));
}

/// Options of [`Pair::start_opts`].
#[derive(Debug, Default)]
pub struct PairOpts {
    /// Placeholders replaced in the configuration per server (lighttpd's,
    /// wick's), e.g. socket paths the two must not share.
    pub vars: [Vec<(String, String)>; 2],
    /// How both servers are launched.
    pub launch: Launch,
    /// Use this scratch directory (`{dir}`) instead of a new one.
    pub scratch: Option<Scratch>,
}

fn session_step(step: Option<&Result<Response, String>>) -> String {
    match step {
        None => "(nothing: the session ended before)".to_string(),
        Some(Ok(r)) => format!("{:?}", r.status_line),
        Some(Err(e)) => e.clone(),
    }
}

/// lighttpd and wick serving the same configuration and document tree.
pub struct Pair {
    test: String,
    /// Both servers (lighttpd first); dropped before the scratch directory.
    servers: [Server; 2],
    /// Whose behaviour each server stands for ([`self_check`] runs the
    /// oracle on both sides).
    sides: [Side; 2],
    vars: [Vec<(String, String)>; 2],
    compared: usize,
    known: usize,
    failures: Vec<String>,
    scratch: Scratch,
}

impl Pair {
    /// Creates a scratch directory with `htdocs/` in it, lets `setup` fill
    /// it (it gets the scratch directory), then starts lighttpd and wick on
    /// `template` with `{dir}` → the scratch directory and `{root}` →
    /// `{dir}/htdocs`. `None` after a loud skip when lighttpd is missing
    /// (a panic under `WICK_REQUIRE_LIGHTTPD=1`).
    pub fn start(test: &str, template: &str, setup: impl FnOnce(&Path)) -> Option<Pair> {
        Pair::start_opts(test, template, setup, PairOpts::default())
    }

    /// [`Pair::start`] with per-server placeholders, launch options and
    /// possibly a scratch directory the caller already uses (for backends'
    /// sockets and logs). With [`self_check`] both servers are lighttpd.
    pub fn start_opts(
        test: &str,
        template: &str,
        setup: impl FnOnce(&Path),
        opts: PairOpts,
    ) -> Option<Pair> {
        let lighttpd = lighttpd_or_skip(test)?;
        let scratch = match opts.scratch {
            Some(scratch) => scratch,
            None => Scratch::new(test).expect("create a scratch directory"),
        };
        let dir = scratch.path().to_path_buf();
        let root = dir.join("htdocs");
        if !root.is_dir() {
            fs::create_dir(&root).expect("create htdocs");
        }
        setup(&dir);
        let dir_text = dir.to_str().expect("scratch path is UTF-8");
        assert!(
            !dir_text.contains(['"', '\\', '$']),
            "scratch path unusable in a config string: {dir_text}"
        );
        let conf = template
            .replace("{root}", &format!("{dir_text}/htdocs"))
            .replace("{dir}", dir_text);
        let start = |name, program: &Path, vars: &[(String, String)]| {
            let mut conf = conf.clone();
            for (k, v) in vars {
                conf = conf.replace(k.as_str(), v);
            }
            Server::launch(name, program, &conf, &dir, &opts.launch).unwrap_or_else(|e| {
                panic!("{test}: cannot start {name} on\n{conf}\n{e}");
            })
        };
        let [l_vars, w_vars] = &opts.vars;
        let oracle = start("lighttpd", &lighttpd, l_vars);
        let (wick, sides) = if self_check() {
            announce(&format!(
                "compat-tests: {test}: WICK_COMPAT_SELF=1, lighttpd stands in for wick"
            ));
            (
                start("lighttpd-2", &lighttpd, w_vars),
                [Side::Lighttpd, Side::Lighttpd],
            )
        } else {
            (
                start("wick", &wick_bin(), w_vars),
                [Side::Lighttpd, Side::Wick],
            )
        };
        Some(Pair {
            test: test.to_string(),
            servers: [oracle, wick],
            sides,
            vars: [Vec::new(), Vec::new()],
            compared: 0,
            known: 0,
            failures: Vec::new(),
            scratch,
        })
    }

    /// The scratch directory (`{dir}`).
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// Sends `req` to both servers; their parsed responses (lighttpd first).
    pub fn responses(&self, req: &Req) -> Result<(Response, Response), String> {
        let mut out = Vec::new();
        for (server, vars) in self.servers.iter().zip(&self.vars) {
            let raw = server.exchange(&req.bytes(vars))?;
            let parsed =
                parse_response(&raw, req.is_head()).map_err(|e| format!("{}: {e}", server.name))?;
            out.push(parsed);
        }
        let w = out.pop().expect("two responses");
        let l = out.pop().expect("two responses");
        Ok((l, w))
    }

    /// Records `header` of each server's response to `req` as the
    /// placeholder `name` for later requests (an ETag differs by server).
    pub fn learn(&mut self, name: &str, req: &Req, header: &str) {
        match self.responses(req) {
            Ok((l, w)) => {
                for (vars, r) in self.vars.iter_mut().zip([&l, &w]) {
                    let value = r.header(header).unwrap_or("(missing)").to_string();
                    vars.push((name.to_string(), value));
                }
            }
            Err(e) => self
                .failures
                .push(format!("{}: learning {name}: {e}", req.describe())),
        }
    }

    /// Compares both servers' responses to `req` on every field in
    /// [`COMPARED_VALUES`] / [`COMPARED_PRESENCE`] and the body; a
    /// difference is recorded for [`Pair::finish`].
    pub fn check(&mut self, req: Req) {
        self.compared += 1;
        let result = self.responses(&req);
        let (l, w) = match result {
            Ok(pair) => pair,
            Err(e) => {
                self.failures.push(format!("{}\n  {e}", req.describe()));
                return;
            }
        };
        let diffs = differences(&req, &l, self.servers[0].port, &w, self.servers[1].port);
        if show_exchanges() {
            announce(&format!(
                "  [{}] {} -> lighttpd {} {:?} {}B | wick {} {:?} {}B{}",
                self.test,
                req.describe(),
                l.status,
                l.header("content-type").unwrap_or("-"),
                l.body.len(),
                w.status,
                w.header("content-type").unwrap_or("-"),
                w.body.len(),
                if diffs.is_empty() { "" } else { "  DIFFERS" }
            ));
        }
        if !diffs.is_empty() {
            self.failures.push(self.report(&req, &l, &w, &diffs));
        }
    }

    /// A request whose answer differs on purpose (KNOWN-DIFFERENCES.md):
    /// `expect` checks both responses (lighttpd, wick) and says what is
    /// wrong. Counted separately from strict comparisons.
    pub fn check_known(
        &mut self,
        req: Req,
        reason: &str,
        expect: impl FnOnce(&Response, &Response) -> Result<(), String>,
    ) {
        self.known += 1;
        match self.responses(&req) {
            Ok((l, w)) => {
                if let Err(why) = expect(&l, &w) {
                    let line = format!("known difference ({reason}) not as expected: {why}");
                    self.failures.push(self.report(&req, &l, &w, &[line]));
                }
            }
            Err(e) => self.failures.push(format!("{}\n  {e}", req.describe())),
        }
    }

    fn report(&self, req: &Req, l: &Response, w: &Response, diffs: &[impl AsRef<str>]) -> String {
        let mut s = format!("{}\n", req.describe());
        let _ = writeln!(
            s,
            "  request bytes (lighttpd): {:?}",
            String::from_utf8_lossy(&req.bytes(&self.vars[0]))
        );
        for d in diffs {
            let _ = writeln!(s, "  {}", d.as_ref());
        }
        let _ = writeln!(s, "  lighttpd:\n{}", indent(&l.head_text()));
        let _ = write!(s, "  wick:\n{}", indent(&w.head_text()));
        s
    }

    /// The server standing for `side` (in [`self_check`] mode the second
    /// lighttpd for [`Side::Wick`]).
    pub fn server(&self, side: Side) -> &Server {
        match side {
            Side::Lighttpd => &self.servers[0],
            Side::Wick => &self.servers[1],
        }
    }

    /// Sends `req` to both servers, each on a new connection, and reads one
    /// framed response from each (lighttpd first); see
    /// [`Server::exchange_one`].
    pub fn full_responses(&self, req: &Req) -> Result<(Response, Response), String> {
        let [l, w] = [0, 1].map(|i| {
            self.servers[i]
                .exchange_one(&req.bytes(&self.vars[i]), req.is_head())
                .map_err(|e| format!("{}: {e}", self.servers[i].name))
        });
        Ok((l?, w?))
    }

    /// Compares both servers' responses to `req` on everything
    /// [`full_differences`] looks at: exact status line, all headers but
    /// `Date`/`Server` values, body with ports normalised.
    pub fn check_full(&mut self, req: Req) {
        self.compared += 1;
        match self.full_responses(&req) {
            Ok((l, w)) => self.compare_full(&req, &l, &w, None),
            Err(e) => self.failures.push(format!("{}\n  {e}", req.describe())),
        }
    }

    /// [`Pair::check_full`] after `norm` rewrote both responses the same
    /// way, for values both programs may legitimately choose differently
    /// whatever the scenario (e.g. an `ETag` value replaced by a marker when
    /// present). Counted as a strict comparison.
    pub fn check_full_with(&mut self, req: Req, norm: impl Fn(&mut Response)) {
        self.compared += 1;
        match self.full_responses(&req) {
            Ok((mut l, mut w)) => {
                norm(&mut l);
                norm(&mut w);
                self.compare_full(&req, &l, &w, None);
            }
            Err(e) => self.failures.push(format!("{}\n  {e}", req.describe())),
        }
    }

    /// A request whose answer differs on purpose (KNOWN-DIFFERENCES.md,
    /// `reason`): `norm` gets each response with the side it came from,
    /// checks that the difference is there as documented (`Err` when not)
    /// and rewrites it into the oracle's form; then everything is compared
    /// as by [`Pair::check_full`]. Counted as a known difference.
    pub fn check_full_known(
        &mut self,
        req: Req,
        reason: &str,
        norm: impl Fn(Side, &mut Response) -> Result<(), String>,
    ) {
        self.known += 1;
        match self.full_responses(&req) {
            Ok((mut l, mut w)) => {
                let mut problems = Vec::new();
                for (side, r) in [(self.sides[0], &mut l), (self.sides[1], &mut w)] {
                    if let Err(e) = norm(side, r) {
                        problems.push(format!(
                            "known difference ({reason}) not as expected on {side:?}: {e}"
                        ));
                    }
                }
                if problems.is_empty() {
                    self.compare_full(&req, &l, &w, Some(reason));
                } else {
                    self.failures.push(self.report(&req, &l, &w, &problems));
                }
            }
            Err(e) => self.failures.push(format!("{}\n  {e}", req.describe())),
        }
    }

    fn compare_full(&mut self, req: &Req, l: &Response, w: &Response, known: Option<&str>) {
        let mut diffs =
            full_differences(&req.also, l, self.servers[0].port, w, self.servers[1].port);
        if show_exchanges() {
            announce(&format!(
                "  [{}] {} -> lighttpd {:?} {}B | wick {:?} {}B{}",
                self.test,
                req.describe(),
                l.status_line,
                l.body.len(),
                w.status_line,
                w.body.len(),
                if diffs.is_empty() { "" } else { "  DIFFERS" }
            ));
            if show_full() {
                let interim: String = l
                    .interim
                    .iter()
                    .map(|r| format!("{}\n\n", r.raw_head))
                    .collect();
                announce(&indent(&format!(
                    "{interim}{}\n\n{}",
                    l.raw_head,
                    String::from_utf8_lossy(&l.body)
                )));
            }
        }
        if !diffs.is_empty() {
            if let Some(reason) = known {
                diffs.insert(
                    0,
                    format!("after normalising the known difference ({reason}):"),
                );
            }
            self.failures.push(self.report(req, l, w, &diffs));
        }
    }

    /// Sends `reqs` one after another on one connection per server
    /// (keep-alive: the requests should not ask for `Connection: close`
    /// except perhaps the last) and compares every response fully. With
    /// `pipelined` all requests are written at once before reading. Then
    /// compares whether each server closed the connection within half a
    /// second after the last response. Counts one comparison per request.
    pub fn check_session(&mut self, label: &str, reqs: &[Req], pipelined: bool) {
        self.session(label, reqs, pipelined, false);
    }

    /// [`Pair::check_session`] with all requests written at once and the
    /// connection then half-closed (TCP FIN, as `printf … | nc -N` does):
    /// the responses must come all the same.
    pub fn check_session_half_closed(&mut self, label: &str, reqs: &[Req]) {
        self.session(label, reqs, true, true);
    }

    fn session(&mut self, label: &str, reqs: &[Req], pipelined: bool, half_close: bool) {
        self.compared += reqs.len();
        // Each side: the responses until the first that did not come
        // (`Err`: "connection closed" when the server closed it cleanly).
        let run = |i: usize| -> (Vec<Result<Response, String>>, bool) {
            let server = &self.servers[i];
            let mut out = Vec::new();
            let mut c = match server.connect() {
                Ok(c) => c,
                Err(e) => return (vec![Err(e)], true),
            };
            if pipelined {
                let all: Vec<u8> = reqs.iter().flat_map(|r| r.bytes(&self.vars[i])).collect();
                if let Err(e) = c.send(&all) {
                    return (vec![Err(e)], true);
                }
                if half_close {
                    c.shutdown_write();
                }
            }
            for req in reqs {
                if !pipelined && c.send(&req.bytes(&self.vars[i])).is_err() && c.saw_eof() {
                    out.push(Err("connection closed".to_string()));
                    return (out, true);
                }
                match c.response(req.is_head()) {
                    Ok(r) => out.push(Ok(r)),
                    Err(_) if c.saw_eof() && c.take_buffered().is_empty() => {
                        out.push(Err("connection closed".to_string()));
                        return (out, true);
                    }
                    Err(e) => {
                        out.push(Err(e));
                        return (out, c.saw_eof());
                    }
                }
            }
            let closed = c.closed_within(Duration::from_millis(500));
            (out, closed)
        };
        let (l, w) = (run(0), run(1));
        if show_exchanges() {
            let steps: Vec<String> = l.0.iter().map(|r| session_step(Some(r))).collect();
            announce(&format!(
                "  [{}] session {label}: lighttpd {steps:?}, closed after: {}",
                self.test, l.1
            ));
            if show_full() {
                for r in l.0.iter().flatten() {
                    announce(&indent(&format!(
                        "{}\n\n{}",
                        r.raw_head,
                        String::from_utf8_lossy(&r.body)
                    )));
                }
            }
        }
        for k in 0..l.0.len().max(w.0.len()) {
            let req = reqs[k.min(reqs.len() - 1)]
                .clone()
                .label(&format!("{label}, request {}", k + 1));
            match (l.0.get(k), w.0.get(k)) {
                (Some(Ok(lr)), Some(Ok(wr))) => {
                    let diffs = full_differences(
                        &req.also,
                        lr,
                        self.servers[0].port,
                        wr,
                        self.servers[1].port,
                    );
                    if !diffs.is_empty() {
                        self.failures.push(self.report(&req, lr, wr, &diffs));
                    }
                }
                (Some(Err(le)), Some(Err(we))) if le == we && le == "connection closed" => {}
                (lr, wr) => self.failures.push(format!(
                    "{}: lighttpd {} | wick {}",
                    req.describe(),
                    session_step(lr),
                    session_step(wr)
                )),
            }
        }
        if l.1 != w.1 {
            self.failures.push(format!(
                "{label}: connection closed after the last response: lighttpd {} | wick {}",
                l.1, w.1
            ));
        }
    }

    /// Runs `f` against both servers at the same time (one thread each, so
    /// timing scenarios cost their duration once) and compares what they
    /// return. `f` gets the side it plays and the server. Counted as one
    /// comparison.
    pub fn observe<T, F>(&mut self, label: &str, f: F)
    where
        T: std::fmt::Debug + PartialEq + Send,
        F: Fn(Side, &Server) -> Result<T, String> + Sync,
    {
        self.compared += 1;
        let (l, w) = self.run_both(&f);
        match (l, w) {
            (Ok(l), Ok(w)) if l == w => {
                if show_exchanges() {
                    announce(&format!("  [{}] {label}: {l:?}", self.test));
                }
            }
            (l, w) => self.failures.push(format!(
                "{label}: observations differ\n  lighttpd: {l:?}\n  wick:     {w:?}"
            )),
        }
    }

    /// Like [`Pair::observe`] for a known difference: `expect` gets both
    /// observations (lighttpd first) and says what is not as documented.
    pub fn observe_known<T, F>(
        &mut self,
        label: &str,
        reason: &str,
        f: F,
        expect: impl FnOnce(&T, &T) -> Result<(), String>,
    ) where
        T: std::fmt::Debug + PartialEq + Send,
        F: Fn(Side, &Server) -> Result<T, String> + Sync,
    {
        self.known += 1;
        let (l, w) = self.run_both(&f);
        let result = match (&l, &w) {
            (Ok(l), Ok(w)) if self.sides[1] == Side::Lighttpd => {
                if l == w {
                    Ok(())
                } else {
                    Err("the two oracle runs differ".to_string())
                }
            }
            (Ok(l), Ok(w)) => expect(l, w),
            _ => Err("an observation failed".to_string()),
        };
        if let Err(why) = result {
            self.failures.push(format!(
                "{label}: known difference ({reason}) not as expected: {why}\n  lighttpd: {l:?}\n  wick:     {w:?}"
            ));
        }
    }

    fn run_both<T, F>(&self, f: &F) -> (Result<T, String>, Result<T, String>)
    where
        T: Send,
        F: Fn(Side, &Server) -> Result<T, String> + Sync,
    {
        let [(ls, lsrv), (ws, wsrv)] = [
            (self.sides[0], &self.servers[0]),
            (self.sides[1], &self.servers[1]),
        ];
        thread::scope(|scope| {
            let l = scope.spawn(move || f(ls, lsrv));
            let w = scope.spawn(move || f(ws, wsrv));
            let join = |h: thread::ScopedJoinHandle<'_, Result<T, String>>| {
                h.join()
                    .unwrap_or_else(|_| Err("the observation panicked".to_string()))
            };
            (join(l), join(w))
        })
    }

    /// Records a failure found by the test itself (counted with the others).
    pub fn fail(&mut self, what: String) {
        self.failures.push(what);
    }

    /// How many requests were compared strictly so far.
    pub fn compared(&self) -> usize {
        self.compared
    }

    /// Announces the counts; panics with every difference (and both
    /// servers' stderr) when there were any, or when wick panicked or
    /// either server died.
    pub fn finish(mut self) {
        for server in &mut self.servers {
            if let Err(e) = server.check_alive() {
                self.failures.push(format!("after the requests: {e}"));
            }
        }
        let wick_err = self.servers[1].stderr();
        if wick_err.contains("panicked") {
            self.failures
                .push("wick's stderr reports a panic (see below)".to_string());
        }
        announce(&format!(
            "compat-tests: {}: {} requests compared, {} known differences checked, {} failures",
            self.test,
            self.compared,
            self.known,
            self.failures.len()
        ));
        if self.failures.is_empty() {
            return;
        }
        let mut msg = format!(
            "{}: {} of {} requests differ between lighttpd and wick:\n\n",
            self.test,
            self.failures.len(),
            self.compared + self.known
        );
        for f in &self.failures {
            msg.push_str(f);
            msg.push_str("\n\n");
        }
        for server in &self.servers {
            let _ = writeln!(
                msg,
                "--- {} ({}) stderr:\n{}",
                server.name,
                server.conf_path.display(),
                indent(&server.stderr())
            );
        }
        let conf = fs::read_to_string(&self.servers[1].conf_path).unwrap_or_default();
        let _ = write!(msg, "--- wick.conf:\n{}", indent(&conf));
        panic!("{msg}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_trailing_bytes() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nETag: \"1\"\r\n\r\nabcX",
            false,
        )
        .expect("parses");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"abc");
        assert_eq!(r.trailing, b"X");
        assert_eq!(r.header("etag"), Some("\"1\""));
    }

    #[test]
    fn parses_chunked_and_head() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1;x\r\nd\r\n0\r\n\r\n",
            false,
        )
        .expect("parses");
        assert_eq!(r.body, b"abcd");
        assert!(r.trailing.is_empty());
        let h = parse_response(b"HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n\r\n", true)
            .expect("parses");
        assert!(h.body.is_empty() && h.trailing.is_empty());
    }

    /// A body cut short is an error, not a silently shorter body.
    #[test]
    fn short_body_is_an_error() {
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false).is_err());
        assert!(parse_response(b"garbage", false).is_err());
    }

    #[test]
    fn request_bytes_substitute_per_server_values() {
        let req = Req::get("/a.txt").header("If-None-Match", "{etag}");
        let vars = vec![("{etag}".to_string(), "\"42\"".to_string())];
        assert_eq!(
            String::from_utf8(req.bytes(&vars)).expect("ASCII"),
            "GET /a.txt HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\nIf-None-Match: \"42\"\r\n\r\n"
        );
        assert_eq!(
            req.describe(),
            "GET /a.txt HTTP/1.1 | If-None-Match: {etag}"
        );
    }

    #[test]
    fn location_port_is_normalised() {
        assert_eq!(
            normalise("http://127.0.0.1:4711/d/", 4711),
            "http://127.0.0.1:{port}/d/"
        );
    }
}
