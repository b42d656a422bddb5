//! TLS scenarios with real TLS clients: certificates made at run time with
//! the `openssl` command, handshakes observed with `openssl s_client`,
//! application bytes through an `s_client` pipe, HTTP/1.1 and HTTP/2
//! requests with `curl`.
//!
//! ```text
//! Pki::new(dir).ca("ca", "wick test CA")     {dir}/ca.crt, ca.key
//! pki.leaf("a", "a.example", &[..], Usage::Server, "ca")
//!                                             {dir}/a.crt, a.key, a.pem (both)
//! handshake(port, &Hello::new().sni("a.example").alpn("h2"))
//!     → Handshake { version, alpn, subject, verify, error }
//! TlsPipe::open(port, &hello)                 s_client -quiet: send bytes,
//!                                             read what the server sends
//! curl(port, &CurlReq::get("a.example", "/"))  status, version, headers, body,
//!                                             or the TLS error
//! ```
//!
//! Only what both servers decide is parsed: the certificate they chose
//! (its subject), the negotiated protocol version and ALPN protocol, the
//! failure a client saw (OpenSSL's reason text, which names the alert the
//! server sent), and the HTTP answer. Cipher suites, session tickets and
//! key-exchange groups are left out: they are the TLS libraries' choices.
//!
//! Every client runs with a deadline in its own process group, which is
//! killed when the deadline passes or the pipe is dropped.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::bins::skip_with_hint;
use crate::find_lighttpd;
use crate::http::{STEP_DEADLINE, Scratch};
use crate::run::{Cmd, Output};

/// Time one client run (a handshake, a curl request) may take.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// Tools

/// The TLS scenarios' prerequisites: `openssl` and `curl` run, and the
/// oracle loads mod_openssl (Debian packages it apart, as
/// `lighttpd-mod-openssl`). Otherwise a loud skip (`false`), or a panic
/// under `WICK_REQUIRE_LIGHTTPD=1`, like a missing oracle. A missing
/// lighttpd itself is left to [`crate::http::Pair::start`]. Checked once
/// per process.
pub fn clients_or_skip(test: &str) -> bool {
    static MISSING: OnceLock<Option<(String, &'static str)>> = OnceLock::new();
    let Some((why, hint)) = MISSING.get_or_init(missing_prerequisite) else {
        return true;
    };
    skip_with_hint(test, why, hint);
    false
}

/// What is missing, and how to install it.
fn missing_prerequisite() -> Option<(String, &'static str)> {
    for (tool, arg) in [("openssl", "version"), ("curl", "--version")] {
        let ok = Cmd::new(tool)
            .arg(arg)
            .timeout(CLIENT_DEADLINE)
            .run()
            .is_ok_and(|o| o.success());
        if !ok {
            return Some((
                format!("`{tool} {arg}` does not run: the TLS scenarios need {tool}"),
                "apt-get install openssl curl",
            ));
        }
    }
    let lighttpd = find_lighttpd().ok()?;
    let scratch = match Scratch::new("mod-openssl") {
        Ok(s) => s,
        Err(e) => return Some((format!("scratch dir: {e}"), "see the message")),
    };
    let conf = scratch.path().join("m.conf");
    let out = std::fs::write(
        &conf,
        "server.document-root = \"/\"\nserver.modules += ( \"mod_openssl\" )\n",
    )
    .map_err(|e| e.to_string())
    .and_then(|()| {
        Cmd::new(&lighttpd)
            .args(["-tt", "-f"])
            .arg(&conf)
            .timeout(CLIENT_DEADLINE)
            .run()
            .map_err(|e| e.to_string())
    });
    match out {
        Ok(o) if o.success() => None,
        Ok(o) => Some((
            format!(
                "{} cannot load mod_openssl ({}):\n{}",
                lighttpd.display(),
                o.status_text(),
                o.stderr_tail(5)
            ),
            "apt-get install lighttpd-mod-openssl",
        )),
        Err(e) => Some((format!("checking mod_openssl: {e}"), "see the message")),
    }
}

fn run_ok(cmd: &Cmd) -> Result<Output, String> {
    let out = cmd.run().map_err(|e| e.to_string())?;
    if out.success() {
        Ok(out)
    } else {
        Err(format!(
            "`{}` failed ({}):\n{}",
            out.command,
            out.status_text(),
            out.stderr_tail(20)
        ))
    }
}

// ---------------------------------------------------------------------------
// Certificates

/// What a leaf certificate is for (its extended key usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Server,
    Client,
}

/// A directory of certificates and keys made with the `openssl` command:
/// ECDSA P-256 keys, X.509 v3 certificates valid for ten years from now
/// with the extensions strict verifiers want (basic constraints, key
/// usage, extended key usage, subject alternative names).
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// Certificates go to `dir` (created).
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    /// `openssl req` making a new key `{name}.key` and a certificate
    /// `{name}.crt` for `CN=cn` (self-signed unless the caller adds `-CA`).
    fn req(&self, name: &str, cn: &str) -> Cmd {
        Cmd::new("openssl")
            .args(["req", "-x509", "-new", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
            .args(["-days", "3650"])
            .args(["-keyout", &format!("{name}.key")])
            .args(["-out", &format!("{name}.crt")])
            .args(["-subj", &format!("/CN={cn}")])
            .cwd(&self.dir)
            .timeout(CLIENT_DEADLINE)
    }

    /// A self-signed CA `{name}.crt` / `{name}.key` with subject `CN=cn`.
    pub fn ca(&self, name: &str, cn: &str) -> Result<(), String> {
        run_ok(
            &self
                .req(name, cn)
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
        )?;
        Ok(())
    }

    /// A certificate `{name}.crt` for `CN=cn` with DNS names `dns`, signed
    /// by the CA `issuer`; its key `{name}.key`; and `{name}.pem` holding
    /// both (certificate first), as `ssl.pemfile` takes them.
    pub fn leaf(
        &self,
        name: &str,
        cn: &str,
        dns: &[&str],
        usage: Usage,
        issuer: &str,
    ) -> Result<(), String> {
        let san: Vec<String> = dns.iter().map(|d| format!("DNS:{d}")).collect();
        let eku = match usage {
            Usage::Server => "serverAuth",
            Usage::Client => "clientAuth",
        };
        run_ok(
            &self
                .req(name, cn)
                .args(["-CA", &format!("{issuer}.crt")])
                .args(["-CAkey", &format!("{issuer}.key")])
                .args(["-addext", &format!("subjectAltName={}", san.join(","))])
                .args(["-addext", &format!("extendedKeyUsage={eku}")])
                .args(["-addext", "keyUsage=critical,digitalSignature"])
                .args(["-addext", "basicConstraints=critical,CA:FALSE"]),
        )?;
        let mut pem = std::fs::read(self.crt(name)).map_err(|e| e.to_string())?;
        pem.extend(std::fs::read(self.key(name)).map_err(|e| e.to_string())?);
        std::fs::write(self.pem(name), pem).map_err(|e| e.to_string())
    }

    pub fn crt(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.crt"))
    }

    pub fn key(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key"))
    }

    pub fn pem(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pem"))
    }
}

// ---------------------------------------------------------------------------
// What a client offers

/// A TLS protocol version a client is limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Tls12,
    Tls13,
}

/// What a client offers in its handshake: server name (SNI), ALPN list,
/// one protocol version only, a client certificate, the CA it verifies
/// the server with.
#[derive(Debug, Clone, Default)]
pub struct Hello {
    pub sni: Option<String>,
    /// Comma-separated, in preference order (`h2,http/1.1`).
    pub alpn: Option<String>,
    pub version: Option<Version>,
    /// Certificate and key files.
    pub cert: Option<(PathBuf, PathBuf)>,
    pub ca_file: Option<PathBuf>,
    /// The TLS 1.2 cipher suites offered, in OpenSSL's syntax (`-cipher`,
    /// curl's `--ciphers`).
    pub ciphers: Option<String>,
}

impl Hello {
    /// No SNI, no ALPN, any version, no client certificate.
    pub fn new() -> Hello {
        Hello::default()
    }

    pub fn sni(mut self, name: &str) -> Hello {
        self.sni = Some(name.to_string());
        self
    }

    pub fn alpn(mut self, list: &str) -> Hello {
        self.alpn = Some(list.to_string());
        self
    }

    pub fn version(mut self, v: Version) -> Hello {
        self.version = Some(v);
        self
    }

    pub fn cert(mut self, crt: PathBuf, key: PathBuf) -> Hello {
        self.cert = Some((crt, key));
        self
    }

    pub fn ca(mut self, ca_file: PathBuf) -> Hello {
        self.ca_file = Some(ca_file);
        self
    }

    pub fn ciphers(mut self, list: &str) -> Hello {
        self.ciphers = Some(list.to_string());
        self
    }

    /// `openssl s_client` arguments for a connection to 127.0.0.1:`port`.
    fn s_client_args(&self, port: u16) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![
            "s_client".into(),
            "-connect".into(),
            format!("127.0.0.1:{port}").into(),
        ];
        match &self.sni {
            Some(n) => a.extend(["-servername".into(), n.into()]),
            None => a.push("-noservername".into()),
        }
        if let Some(alpn) = &self.alpn {
            a.extend(["-alpn".into(), alpn.into()]);
        }
        match self.version {
            Some(Version::Tls12) => a.push("-tls1_2".into()),
            Some(Version::Tls13) => a.push("-tls1_3".into()),
            None => {}
        }
        if let Some((crt, key)) = &self.cert {
            a.extend(["-cert".into(), crt.into(), "-key".into(), key.into()]);
        }
        if let Some(ca) = &self.ca_file {
            a.extend(["-CAfile".into(), ca.into()]);
        }
        if let Some(c) = &self.ciphers {
            a.extend(["-cipher".into(), c.into()]);
        }
        a
    }
}

// ---------------------------------------------------------------------------
// Handshakes

/// What `openssl s_client` saw of one handshake (then it closed at once).
#[derive(Clone, PartialEq, Eq)]
pub struct Handshake {
    /// `TLSv1.2`, `TLSv1.3`; `None` when the handshake failed before the
    /// server's certificate arrived.
    pub version: Option<String>,
    /// The ALPN protocol the server chose.
    pub alpn: Option<String>,
    /// The subject of the server's certificate (`CN = a.example`).
    pub subject: Option<String>,
    /// `Verify return code` of the server's certificate: `0 (ok)` when
    /// the client was given the right CA, `21 (unable to verify the first
    /// certificate)` without one.
    pub verify: Option<String>,
    /// The client's first TLS error ([`tls_error`]), e.g.
    /// `tlsv1 alert protocol version (alert 70)`.
    pub error: Option<String>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{v}")?,
            None => write!(f, "no session")?,
        }
        if let Some(a) = &self.alpn {
            write!(f, ", ALPN {a}")?;
        }
        if let Some(s) = &self.subject {
            write!(f, ", cert {s:?}")?;
        }
        if let Some(v) = &self.verify {
            write!(f, ", verify {v}")?;
        }
        if let Some(e) = &self.error {
            write!(f, ", error {e:?}")?;
        }
        Ok(())
    }
}

/// One handshake with 127.0.0.1:`port`: `openssl s_client` with no input,
/// so it closes right after the handshake. A server that rejects a client
/// certificate after a TLS 1.3 handshake completed is seen by [`curl`] or
/// [`TlsPipe`], not here.
pub fn handshake(port: u16, hello: &Hello) -> Result<Handshake, String> {
    let out = Cmd::new("openssl")
        .args(hello.s_client_args(port))
        .timeout(CLIENT_DEADLINE)
        .run()
        .map_err(|e| e.to_string())?;
    if out.timed_out {
        return Err(format!("`{}` {}", out.command, out.status_text()));
    }
    Ok(parse_s_client(&out.stdout_text(), &out.stderr_text()))
}

fn parse_s_client(stdout: &str, stderr: &str) -> Handshake {
    let mut h = Handshake {
        version: None,
        alpn: None,
        subject: None,
        verify: None,
        error: tls_error(stderr),
    };
    for line in stdout.lines() {
        let line = line.trim();
        if let Some(s) = line.strip_prefix("subject=") {
            h.subject.get_or_insert_with(|| s.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("New, ") {
            // "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"
            let v = rest.split(',').next().unwrap_or_default().trim();
            if v != "(NONE)" && h.version.is_none() {
                h.version = Some(v.to_string());
            }
        } else if let Some(a) = line.strip_prefix("ALPN protocol: ") {
            h.alpn = Some(a.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Verify return code: ") {
            h.verify.get_or_insert_with(|| v.trim().to_string());
        }
    }
    // A handshake that failed before the server's certificate arrived:
    // s_client may still print the version of a ServerHello and its
    // default verify result; the failure is what both servers decided
    // (whether they answered the ClientHello first is the TLS library's
    // choice: rustls sends ServerHello before it checks ALPN).
    if h.subject.is_none() {
        h.version = None;
        h.alpn = None;
        h.verify = None;
    }
    h
}

/// The first OpenSSL error a client printed, as its reason text, with
/// the alert number when the server sent one: `…:error:0A00042E:SSL
/// routines:ssl3_read_bytes:tlsv1 alert protocol version:../ssl/…:SSL alert
/// number 70` → `tlsv1 alert protocol version (alert 70)`. The reason of
/// an alert is OpenSSL's name for the alert the server sent, so it is the
/// server's decision, not the client library's wording.
pub fn tls_error(text: &str) -> Option<String> {
    for line in text.lines() {
        // s_client: "<thread>:error:<code>:<lib>:<func>:<reason>:<file>:<line>:<extra>"
        if let Some(at) = line.find(":error:") {
            let fields: Vec<&str> = line[at + 1..].split(':').collect();
            let reason = fields.get(4).copied().unwrap_or(line).trim();
            let alert = line
                .rsplit_once("SSL alert number ")
                .map(|(_, n)| format!(" (alert {})", n.trim()));
            return Some(format!("{reason}{}", alert.unwrap_or_default()));
        }
        // curl: "OpenSSL/3.0.19: error:0A000418:SSL routines::tlsv1 alert unknown ca, errno 0"
        if let Some(at) = line.find(": error:") {
            let rest = &line[at + 2..];
            let reason = rest.splitn(5, ':').nth(4).unwrap_or(rest);
            let reason = reason.split(", errno").next().unwrap_or(reason).trim();
            return Some(reason.to_string());
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Application bytes through s_client

#[derive(Default)]
struct Received {
    out: Vec<u8>,
    out_eof: bool,
    err: Vec<u8>,
    /// s_client closed its stderr (it has ended, or is ending).
    err_eof: bool,
}

/// One TLS connection through `openssl s_client -quiet`: what is written
/// to it goes to the server as application data, what the server sends
/// arrives on its stdout; its stderr keeps the TLS errors. Closing the
/// write side does not end the connection (s_client then waits for the
/// server to close). The process group is killed on drop.
pub struct TlsPipe {
    child: Child,
    stdin: Option<ChildStdin>,
    shared: Arc<(Mutex<Received>, Condvar)>,
    /// Bytes of stdout already handed out by [`TlsPipe::take`].
    taken: usize,
}

impl TlsPipe {
    /// Connects to 127.0.0.1:`port` offering `hello`.
    pub fn open(port: u16, hello: &Hello) -> Result<TlsPipe, String> {
        let mut cmd = Command::new("openssl");
        cmd.args(hello.s_client_args(port))
            .arg("-quiet")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| format!("spawn openssl: {e}"))?;
        let stdin = child.stdin.take();
        let shared = Arc::new((Mutex::new(Received::default()), Condvar::new()));
        let mut out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let sh = shared.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                let n = out.read(&mut buf).unwrap_or(0);
                let mut r = sh.0.lock().expect("not poisoned");
                if n == 0 {
                    r.out_eof = true;
                } else {
                    r.out.extend_from_slice(&buf[..n]);
                }
                sh.1.notify_all();
                if n == 0 {
                    break;
                }
            }
        });
        let sh = shared.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                // a read error ends the stream as EOF does
                let n = match err.read(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    r => r.unwrap_or(0),
                };
                let mut r = sh.0.lock().expect("not poisoned");
                if n == 0 {
                    r.err_eof = true;
                } else {
                    r.err.extend_from_slice(&buf[..n]);
                }
                sh.1.notify_all();
                if n == 0 {
                    break;
                }
            }
        });
        Ok(TlsPipe {
            child,
            stdin,
            shared,
            taken: 0,
        })
    }

    /// Sends `bytes` (they go out once the handshake is done).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or("the write side is closed already")?;
        stdin
            .write_all(bytes)
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("write to s_client: {e}; {}", self.stderr()))
    }

    /// Closes the write side (the connection stays open for reading).
    pub fn close_write(&mut self) {
        self.stdin = None;
    }

    /// Waits until `done` holds for the bytes received and not taken yet,
    /// or the server closed, or `limit` passed; `true` when `done` held.
    pub fn wait(&self, done: impl Fn(&[u8]) -> bool, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let (lock, cv) = &*self.shared;
        let mut r = lock.lock().expect("not poisoned");
        loop {
            if done(&r.out[self.taken..]) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if r.out_eof || left.is_zero() {
                return false;
            }
            r = cv.wait_timeout(r, left).expect("not poisoned").0;
        }
    }

    /// The bytes received and not taken yet.
    pub fn take(&mut self) -> Vec<u8> {
        let r = self.shared.0.lock().expect("not poisoned");
        let bytes = r.out[self.taken..].to_vec();
        self.taken = r.out.len();
        bytes
    }

    /// Reads until the server closes the connection (then s_client ends)
    /// within `limit`: the bytes not taken yet, and whether it closed.
    pub fn read_to_end(&mut self, limit: Duration) -> (Vec<u8>, bool) {
        let deadline = Instant::now() + limit;
        let (lock, cv) = &*self.shared;
        let mut r = lock.lock().expect("not poisoned");
        while !r.out_eof {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            r = cv.wait_timeout(r, left).expect("not poisoned").0;
        }
        let eof = r.out_eof;
        let bytes = r.out[self.taken..].to_vec();
        self.taken = r.out.len();
        (bytes, eof)
    }

    /// What s_client wrote on stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.shared.0.lock().expect("not poisoned").err).into_owned()
    }

    /// The first TLS error s_client reported ([`tls_error`]), once its
    /// stderr reached EOF (s_client ended): waits up to `limit` for that,
    /// then takes what it reported so far.
    pub fn error_at_end(&self, limit: Duration) -> Option<String> {
        let (lock, cv) = &*self.shared;
        let r = lock.lock().expect("not poisoned");
        let (r, _) = cv
            .wait_timeout_while(r, limit, |r| !r.err_eof)
            .expect("not poisoned");
        tls_error(&String::from_utf8_lossy(&r.err))
    }
}

impl Drop for TlsPipe {
    fn drop(&mut self) {
        self.stdin = None;
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: killpg has no memory-safety preconditions; the group is
        // the one created for this s_client.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The outcome of one request through [`TlsPipe`]: the bytes the server
/// sent until it closed, and the TLS error s_client reported, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub bytes: Vec<u8>,
    pub error: Option<String>,
}

/// Sends `request` over a new TLS connection and reads until the server
/// closes it (the request should say `Connection: close`), within
/// [`STEP_DEADLINE`].
pub fn exchange(port: u16, hello: &Hello, request: &[u8]) -> Result<Exchange, String> {
    let mut pipe = TlsPipe::open(port, hello)?;
    pipe.send(request)?;
    pipe.close_write();
    let (bytes, closed) = pipe.read_to_end(STEP_DEADLINE);
    if !closed {
        return Err(format!(
            "the server did not close the TLS connection within {STEP_DEADLINE:?}; got {:?}; s_client: {}",
            String::from_utf8_lossy(&bytes),
            pipe.stderr()
        ));
    }
    // the server closed, so s_client is ending: its stderr's EOF follows
    // at once, unless the machine is very busy
    let error = pipe.error_at_end(Duration::from_secs(5));
    Ok(Exchange { bytes, error })
}

// ---------------------------------------------------------------------------
// curl

/// Which HTTP version curl asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http {
    /// `--http1.1`: ALPN offers http/1.1 only.
    H1,
    /// `--http2`: ALPN offers h2 and http/1.1.
    H2,
}

/// One curl request to `https://{host}:{port}{path}` with `host`
/// resolved to 127.0.0.1 (so SNI and Host are `host`).
#[derive(Debug, Clone)]
pub struct CurlReq {
    pub host: String,
    pub path: String,
    pub method: Option<String>,
    pub http: Http,
    pub hello: Hello,
    pub headers: Vec<String>,
}

impl CurlReq {
    pub fn get(host: &str, path: &str) -> CurlReq {
        CurlReq {
            host: host.to_string(),
            path: path.to_string(),
            method: None,
            http: Http::H1,
            hello: Hello::new(),
            headers: Vec::new(),
        }
    }

    pub fn http(mut self, http: Http) -> CurlReq {
        self.http = http;
        self
    }

    /// `-X METHOD` (`HEAD` uses `--head`).
    pub fn method(mut self, m: &str) -> CurlReq {
        self.method = Some(m.to_string());
        self
    }

    /// Version limit, client certificate and CA of `hello` (its SNI and
    /// ALPN are curl's own: the host and [`CurlReq::http`]).
    pub fn hello(mut self, hello: Hello) -> CurlReq {
        self.hello = hello;
        self
    }

    pub fn header(mut self, line: &str) -> CurlReq {
        self.headers.push(line.to_string());
        self
    }
}

/// What curl got.
#[derive(Clone, PartialEq, Eq)]
pub struct CurlAnswer {
    /// curl's exit code (0, 35 handshake failed, 56 receive failed …).
    pub exit: i32,
    /// The TLS error ([`tls_error`]) or curl's message when it failed.
    pub error: Option<String>,
    /// `1.1`, `2`, or `0` when there was no response.
    pub http_version: String,
    pub status: u16,
    /// Names lower-cased, values trimmed, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl fmt::Debug for CurlAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "curl exit {}", self.exit)?;
        if let Some(e) = &self.error {
            write!(f, " ({e})")?;
        }
        if self.status != 0 {
            write!(f, ", HTTP/{} {}", self.http_version, self.status)?;
            for (n, v) in &self.headers {
                write!(f, ", {n}: {v}")?;
            }
            write!(f, ", body {:?}", String::from_utf8_lossy(&self.body))?;
        }
        Ok(())
    }
}

/// Runs curl for `req` against 127.0.0.1:`port` within [`CLIENT_DEADLINE`];
/// head and body go to scratch files in `dir`.
pub fn curl(dir: &Path, port: u16, req: &CurlReq) -> Result<CurlAnswer, String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let head_file = dir.join(format!("curl-{n}.head"));
    let body_file = dir.join(format!("curl-{n}.body"));
    let host = &req.host;
    let mut cmd = Cmd::new("curl")
        .args(["-s", "-S", "--max-time", "10", "--connect-timeout", "5"])
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
        .arg("-D")
        .arg(&head_file)
        .arg("-o")
        .arg(&body_file)
        .args(["-w", "%{http_version} %{response_code} %{exitcode}"])
        .arg(match req.http {
            Http::H1 => "--http1.1",
            Http::H2 => "--http2",
        })
        .timeout(CLIENT_DEADLINE);
    match req.method.as_deref() {
        Some("HEAD") => cmd = cmd.arg("--head"),
        Some(m) => cmd = cmd.args(["-X", m]),
        None => {}
    }
    for h in &req.headers {
        cmd = cmd.args(["-H", h.as_str()]);
    }
    match req.hello.version {
        Some(Version::Tls12) => cmd = cmd.args(["--tlsv1.2", "--tls-max", "1.2"]),
        Some(Version::Tls13) => cmd = cmd.args(["--tlsv1.3", "--tls-max", "1.3"]),
        None => {}
    }
    if let Some((crt, key)) = &req.hello.cert {
        cmd = cmd.arg("--cert").arg(crt).arg("--key").arg(key);
    }
    if let Some(c) = &req.hello.ciphers {
        cmd = cmd.args(["--ciphers", c.as_str()]);
    }
    match &req.hello.ca_file {
        Some(ca) => cmd = cmd.arg("--cacert").arg(ca),
        None => cmd = cmd.arg("-k"),
    }
    cmd = cmd.arg(format!("https://{host}:{port}{}", req.path));
    let out = cmd.run().map_err(|e| e.to_string())?;
    if out.timed_out {
        return Err(format!("`{}` {}", out.command, out.status_text()));
    }
    let head = std::fs::read(&head_file).unwrap_or_default();
    // with --head curl writes the head as the output too
    let body = match req.method.as_deref() {
        Some("HEAD") => Vec::new(),
        _ => std::fs::read(&body_file).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&head_file);
    let _ = std::fs::remove_file(&body_file);
    let meta = out.stdout_text();
    let mut it = meta.split_whitespace();
    let http_version = it.next().unwrap_or("0").to_string();
    let status = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let exit = out.code().unwrap_or(-1);
    // the TLS reason, else the first line of curl's message without its
    // `curl: (NN) ` prefix
    let error = (exit != 0).then(|| {
        let text = out.stderr_text();
        tls_error(&text).unwrap_or_else(|| {
            let first = text.lines().next().unwrap_or_default().trim();
            let first = first.strip_prefix("curl: ").unwrap_or(first);
            match first.split_once(") ") {
                Some((code, rest)) if code.starts_with('(') => rest.to_string(),
                _ => first.to_string(),
            }
        })
    });
    // the last head in the file (after any 1xx ones)
    let head = String::from_utf8_lossy(&head).into_owned();
    let last = head
        .trim_end()
        .rsplit("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    let headers = last
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(CurlAnswer {
        exit,
        error,
        http_version,
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s_client_output_is_parsed() {
        let stdout = "CONNECTED(00000003)\n---\nCertificate chain\n 0 s:CN = a.example\n---\n\
            Server certificate\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n\
            subject=CN = a.example\n\nissuer=CN = wick ca CA\n---\n\
            New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\nALPN protocol: h2\n\
            Verify return code: 0 (ok)\n---\n    Verify return code: 0 (ok)\n";
        let h = parse_s_client(stdout, "depth=1 CN = wick ca CA\nverify return:1\n");
        assert_eq!(h.version.as_deref(), Some("TLSv1.3"));
        assert_eq!(h.alpn.as_deref(), Some("h2"));
        assert_eq!(h.subject.as_deref(), Some("CN = a.example"));
        assert_eq!(h.verify.as_deref(), Some("0 (ok)"));
        assert_eq!(h.error, None);
    }

    #[test]
    fn failed_handshake_names_the_alert() {
        let stderr = "4077312D837F0000:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert \
            protocol version:../ssl/record/rec_layer_s3.c:1601:SSL alert number 70\n";
        let h = parse_s_client(
            "CONNECTED(00000003)\nNew, (NONE), Cipher is (NONE)\nNo ALPN negotiated\n\
             Verify return code: 0 (ok)\n",
            stderr,
        );
        assert_eq!(h.version, None);
        assert_eq!(h.verify, None);
        // after a ServerHello, before the certificate
        let h = parse_s_client(
            "CONNECTED(00000003)\nNew, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\n\
             Verify return code: 0 (ok)\n",
            stderr,
        );
        assert_eq!((h.version, h.verify), (None, None));
        assert_eq!(
            h.error.as_deref(),
            Some("tlsv1 alert protocol version (alert 70)")
        );
    }

    #[test]
    fn curl_errors_keep_the_reason() {
        assert_eq!(
            tls_error(
                "curl: (56) OpenSSL SSL_read: OpenSSL/3.0.19: error:0A000418:SSL routines::\
                 tlsv1 alert unknown ca, errno 0\n"
            )
            .as_deref(),
            Some("tlsv1 alert unknown ca")
        );
        assert_eq!(
            tls_error(
                "curl: (35) OpenSSL/3.0.19: error:0A000410:SSL routines::sslv3 alert handshake failure\n"
            )
            .as_deref(),
            Some("sslv3 alert handshake failure")
        );
    }
}
