//! Test harness: starts the real `wick` binary on a socket the test bound
//! (127.0.0.1, ephemeral port), handed over as fd 3 with `LISTEN_FDS=1`
//! and `LISTEN_PID=parent:<our pid>` — no fixed ports, no race — and talks
//! raw HTTP to it. The child is killed on drop; its stderr is shown when a
//! test fails.

#![allow(dead_code)]

pub mod backend;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any single step may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A running wick.
pub struct Wick {
    child: Option<Child>,
    /// Port it serves on (the first handed-over socket).
    pub port: u16,
    /// Ports of every handed-over socket, in fd order (3, 4, …).
    pub ports: Vec<u16>,
    /// Scratch directory (document root under `htdocs/`).
    pub dir: tempfile::TempDir,
    stderr_path: PathBuf,
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    /// The status line.
    pub status_line: String,
    /// Status code.
    pub status: u16,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Wick {
    /// Writes `conf` (with `{root}` replaced by the document root and
    /// `{port}` by the port) and starts `wick -D -f conf` on it.
    pub fn start(conf: &str) -> Wick {
        Self::start_with(conf, &["-D"], |_| {})
    }

    /// Like [`Wick::start`], with extra arguments and a hook to populate
    /// the scratch directory first.
    pub fn start_with(conf: &str, args: &[&str], setup: impl FnOnce(&Path)) -> Wick {
        Self::start_sockets(conf, args, 1, setup)
    }

    /// Like [`Wick::start_with`] with `n` handed-over sockets (fds 3..3+n);
    /// `{port1}`, `{port2}`… in the config name them.
    pub fn start_sockets(conf: &str, args: &[&str], n: usize, setup: impl FnOnce(&Path)) -> Wick {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("htdocs");
        std::fs::create_dir(&root).expect("htdocs");
        setup(dir.path());
        let listeners: Vec<TcpListener> = (0..n.max(1))
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
            .collect();
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().expect("addr").port())
            .collect();
        let port = ports[0];
        let mut text = conf
            .replace("{root}", root.to_str().expect("utf-8 path"))
            .replace("{dir}", dir.path().to_str().expect("utf-8 path"))
            .replace("{port}", &port.to_string());
        for (i, p) in ports.iter().enumerate() {
            text = text.replace(&format!("{{port{}}}", i + 1), &p.to_string());
        }
        let conf_path = dir.path().join("wick.conf");
        std::fs::write(&conf_path, text).expect("write conf");
        let stderr_path = dir.path().join("stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let fds: Vec<i32> = listeners.iter().map(|l| l.as_raw_fd()).collect();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wick"));
        cmd.args(args)
            .arg("-f")
            .arg(&conf_path)
            .current_dir(dir.path())
            .env("LISTEN_FDS", fds.len().to_string())
            .env("LISTEN_PID", format!("parent:{}", std::process::id()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // SAFETY: between fork and exec only async-signal-safe calls: move
        // the listening sockets out of the way (above 100), then dup2 each
        // to 3, 4, … (dup2 clears close-on-exec).
        unsafe {
            cmd.pre_exec(move || {
                let mut high = [0i32; 8];
                for (i, &fd) in fds.iter().enumerate().take(8) {
                    let h = libc::fcntl(fd, libc::F_DUPFD, 100);
                    if h < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    high[i] = h;
                }
                for (i, &h) in high.iter().enumerate().take(fds.len().min(8)) {
                    if libc::dup2(h, 3 + i as i32) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn wick");
        drop(listeners);
        Wick {
            child: Some(child),
            port,
            ports,
            dir,
            stderr_path,
        }
    }

    /// The document root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("htdocs")
    }

    /// What wick wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The child's pid.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Sends a signal.
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own, not yet reaped child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits for the child to exit (with the deadline) and returns its status.
    pub fn wait(&mut self) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let end = Instant::now() + DEADLINE;
        while Instant::now() < end {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Opens a connection with read/write deadlines.
    pub fn connect(&self) -> TcpStream {
        self.connect_to(self.port)
    }

    /// Opens a connection to one of the handed-over ports.
    pub fn connect_to(&self, port: u16) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        s.set_write_timeout(Some(DEADLINE)).expect("timeout");
        s
    }

    /// Sends raw request bytes on a new connection and reads until EOF.
    pub fn raw(&self, request: &str) -> Vec<u8> {
        self.raw_to(self.port, request)
    }

    /// [`Wick::raw`] to one of the handed-over ports.
    pub fn raw_to(&self, port: u16, request: &str) -> Vec<u8> {
        let mut s = self.connect_to(port);
        s.write_all(request.as_bytes()).expect("send");
        read_all(&mut s)
    }

    /// One request with `Connection: close`, parsed.
    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, &[])
    }

    /// One request with extra headers and `Connection: close`, parsed.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nHost: test.example\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let bytes = self.raw(&req);
        let resps = parse_responses(&bytes, method == "HEAD");
        match resps.into_iter().next() {
            Some(r) => r,
            None => panic!(
                "no response to {method} {path}: {:?}\n--- wick stderr:\n{}",
                String::from_utf8_lossy(&bytes),
                self.stderr()
            ),
        }
    }
}

impl Drop for Wick {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- wick stderr:\n{}", self.stderr());
        }
    }
}

/// Reads until EOF (or the read deadline).
pub fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

/// Parses consecutive HTTP/1.x responses (Content-Length or close-delimited).
pub fn parse_responses(mut bytes: &[u8], head_only: bool) -> Vec<Resp> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default().to_string();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let rest = &bytes[end + 4..];
        let no_body = head_only || status == 304 || status == 204 || (100..200).contains(&status);
        let len = if no_body {
            0
        } else {
            headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(rest.len())
        };
        let len = len.min(rest.len());
        out.push(Resp {
            status_line,
            status,
            headers,
            body: rest[..len].to_vec(),
        });
        bytes = &rest[len..];
    }
    out
}
