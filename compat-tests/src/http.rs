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
//! No port is ever chosen by number, so there is no race.
//!
//! Readiness is a probe request answered within [`START_DEADLINE`]; every
//! exchange has [`STEP_DEADLINE`]; both children are killed on drop and
//! their stderr is shown when a comparison fails.

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
}

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
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("local_addr: {e}"))?
            .port();
        let text = preamble(port) + &conf.replace("{port}", &port.to_string());
        let conf_path = dir.join(format!("{name}.conf"));
        fs::write(&conf_path, text).map_err(|e| format!("write {}: {e}", conf_path.display()))?;
        let stderr_path = dir.join(format!("{name}.stderr"));
        let stderr = fs::File::create(&stderr_path)
            .map_err(|e| format!("create {}: {e}", stderr_path.display()))?;

        let fd = listener.as_raw_fd();
        let mut cmd = Command::new(program);
        cmd.arg("-D")
            .arg("-f")
            .arg(&conf_path)
            .current_dir(dir)
            .env_clear()
            .envs(base_env())
            .env("LISTEN_FDS", "1")
            .env("LISTEN_PID", format!("parent:{}", std::process::id()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // SAFETY: between fork and exec only async-signal-safe calls: prctl,
        // dup2 of the listening socket to fd 3 (which clears close-on-exec),
        // or fcntl clearing close-on-exec when it already is fd 3.
        unsafe {
            cmd.pre_exec(move || {
                // Die with the thread that started us if the harness is
                // killed before it can clean up (Drop kills it otherwise).
                #[cfg(target_os = "linux")]
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if fd == 3 {
                    let flags = libc::fcntl(3, libc::F_GETFD);
                    if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, 3) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", program.display()))?;
        drop(listener);
        let mut server = Server {
            name,
            port,
            child: Some(child),
            stderr_path,
            conf_path,
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
        if s.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
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

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
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
    let head_text = std::str::from_utf8(&bytes[..end])
        .map_err(|_| format!("response head is not UTF-8: {:?}", &bytes[..end]))?;
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
    let rest = &bytes[end + 4..];
    let mut r = Response {
        status_line,
        status,
        headers,
        body: Vec::new(),
        trailing: Vec::new(),
    };
    let no_body = head || r.status == 204 || r.status == 304 || (100..200).contains(&r.status);
    if no_body {
        r.trailing = rest.to_vec();
    } else if r
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        let (body, used) = dechunk(rest)?;
        r.body = body;
        r.trailing = rest[used..].to_vec();
    } else if let Some(len) = r.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("bad Content-Length {len:?}"))?;
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a chunked body; returns it and the number of bytes used.
fn dechunk(mut rest: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let total = rest.len();
    let mut body = Vec::new();
    loop {
        let eol = find(rest, b"\r\n").ok_or("chunk size line not terminated")?;
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            // trailers until an empty line
            let end = find(rest, b"\r\n").ok_or("chunked trailer not terminated")?;
            let mut used = end + 2;
            if end != 0 {
                used = find(rest, b"\r\n\r\n").ok_or("chunked trailer not terminated")? + 4;
            }
            return Ok((body, total - rest.len() + used));
        }
        if rest.len() < size + 2 {
            return Err("chunk shorter than its size".to_string());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

// ---------------------------------------------------------------------------
// Comparison

/// `WICK_COMPAT_SHOW=1`: print every exchange's summary, differing or not.
pub fn show_exchanges() -> bool {
    std::env::var("WICK_COMPAT_SHOW").is_ok_and(|v| v == "1")
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

/// lighttpd and wick serving the same configuration and document tree.
pub struct Pair {
    test: String,
    /// Both servers (lighttpd first); dropped before the scratch directory.
    servers: [Server; 2],
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
        let lighttpd = lighttpd_or_skip(test)?;
        let scratch = Scratch::new(test).expect("create a scratch directory");
        let dir = scratch.path().to_path_buf();
        let root = dir.join("htdocs");
        fs::create_dir(&root).expect("create htdocs");
        setup(&dir);
        let dir_text = dir.to_str().expect("scratch path is UTF-8");
        assert!(
            !dir_text.contains(['"', '\\', '$']),
            "scratch path unusable in a config string: {dir_text}"
        );
        let conf = template
            .replace("{root}", &format!("{dir_text}/htdocs"))
            .replace("{dir}", dir_text);
        let start = |name, program: &Path| {
            Server::start(name, program, &conf, &dir).unwrap_or_else(|e| {
                panic!("{test}: cannot start {name} on\n{conf}\n{e}");
            })
        };
        let oracle = start("lighttpd", &lighttpd);
        let wick = start("wick", &wick_bin());
        Some(Pair {
            test: test.to_string(),
            servers: [oracle, wick],
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
