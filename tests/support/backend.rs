//! A scripted HTTP/1.1 backend for proxy tests: it records every request
//! (raw bytes, which connection, its position on the connection) and
//! answers as the test's handler says. Threads, 127.0.0.1:0 or a unix
//! socket; stopped on drop.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the backend received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Connection number (0, 1, … in accept order).
    pub conn: usize,
    /// Position of the request on its connection (0 first).
    pub nth: usize,
    /// The head, up to and including the blank line.
    pub head: String,
    /// The body as received on the wire (chunked framing kept).
    pub body: Vec<u8>,
}

impl Seen {
    /// The request target.
    pub fn target(&self) -> &str {
        self.head.split(' ').nth(1).unwrap_or("")
    }

    /// The raw request (head and body).
    pub fn raw(&self) -> Vec<u8> {
        let mut r = self.head.as_bytes().to_vec();
        r.extend_from_slice(&self.body);
        r
    }

    /// First header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// What the backend does with a request.
pub enum Reply {
    /// Write these bytes and keep reading the connection.
    Raw(Vec<u8>),
    /// Write these bytes, then close.
    RawClose(Vec<u8>),
    /// Write these bytes slowly: each part, then wait for the gate.
    Stream(Vec<Vec<u8>>, Arc<AtomicBool>),
    /// Close without answering.
    Close,
    /// Never answer (the connection stays open until the test ends).
    Hang,
    /// Write these bytes, then echo every byte received (a tunnel).
    Echo(Vec<u8>),
    /// Write a big body of `n` bytes after the head ([`big_byte`] of each
    /// position), record when done.
    Big(Vec<u8>, usize, Arc<AtomicBool>),
}

/// The byte at position `i` of a [`Reply::Big`] body: neighbours differ,
/// so a misplaced part shows.
pub fn big_byte(i: usize) -> u8 {
    (i * 7 % 251) as u8
}

/// A 200 with `body`, Content-Length framing, keep-alive.
pub fn ok(body: &[u8]) -> Reply {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    Reply::Raw(r)
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

struct State {
    seen: Mutex<Vec<Seen>>,
    conns: AtomicUsize,
    stop: AtomicBool,
    handler: Box<Handler>,
}

/// A running backend.
pub struct Backend {
    /// Its TCP port (0 for a unix socket backend).
    pub port: u16,
    /// Its unix socket path, if it listens on one.
    pub path: Option<PathBuf>,
    state: Arc<State>,
}

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(b),
            Conn::Unix(s) => s.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(b),
            Conn::Unix(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Conn {
    fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
        })
    }
}

impl Backend {
    /// A backend on 127.0.0.1:0.
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Backend {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind backend");
        let port = l.local_addr().expect("addr").port();
        let state = Self::state(handler);
        let st = state.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = c {
                    let _ = c.set_nodelay(true);
                    Self::serve(st.clone(), Conn::Tcp(c));
                }
            }
        });
        Backend {
            port,
            path: None,
            state,
        }
    }

    /// A backend on a unix socket at `path`.
    pub fn start_unix(
        path: &Path,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Backend {
        let l = UnixListener::bind(path).expect("bind unix backend");
        let state = Self::state(handler);
        let st = state.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = c {
                    Self::serve(st.clone(), Conn::Unix(c));
                }
            }
        });
        Backend {
            port: 0,
            path: Some(path.to_path_buf()),
            state,
        }
    }

    /// A backend answering every request with its raw bytes (keep-alive).
    pub fn echo() -> Backend {
        Backend::start(|s| ok(&s.raw()))
    }

    fn state(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Arc<State> {
        Arc::new(State {
            seen: Mutex::new(Vec::new()),
            conns: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            handler: Box::new(handler),
        })
    }

    fn serve(st: Arc<State>, mut c: Conn) {
        let conn = st.conns.fetch_add(1, Ordering::SeqCst);
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut nth = 0;
            loop {
                let Some(seen) = read_request(&mut c, &mut buf, conn, nth) else {
                    return;
                };
                nth += 1;
                st.seen.lock().expect("lock").push(seen.clone());
                match (st.handler)(&seen) {
                    Reply::Raw(r) => {
                        if c.write_all(&r).is_err() {
                            return;
                        }
                    }
                    Reply::RawClose(r) => {
                        let _ = c.write_all(&r);
                        return;
                    }
                    Reply::Close => return,
                    Reply::Hang => {
                        while !st.stop.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        return;
                    }
                    Reply::Stream(parts, gate) => {
                        for (i, p) in parts.iter().enumerate() {
                            if c.write_all(p).is_err() {
                                return;
                            }
                            if i == 0 {
                                let deadline = Instant::now() + Duration::from_secs(20);
                                while !gate.load(Ordering::SeqCst) && Instant::now() < deadline {
                                    std::thread::sleep(Duration::from_millis(5));
                                }
                            }
                        }
                        return;
                    }
                    Reply::Echo(r) => {
                        if c.write_all(&r).is_err() {
                            return;
                        }
                        if !buf.is_empty() && c.write_all(&buf).is_err() {
                            return;
                        }
                        let mut w = match c.try_clone() {
                            Ok(w) => w,
                            Err(_) => return,
                        };
                        let mut b = [0u8; 4096];
                        loop {
                            match c.read(&mut b) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    if w.write_all(&b[..n]).is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                    Reply::Big(head, n, done) => {
                        if c.write_all(&head).is_err() {
                            return;
                        }
                        let mut at = 0;
                        while at < n {
                            let k = (n - at).min(64 * 1024);
                            let chunk: Vec<u8> = (at..at + k).map(big_byte).collect();
                            if c.write_all(&chunk).is_err() {
                                return;
                            }
                            at += k;
                        }
                        done.store(true, Ordering::SeqCst);
                    }
                }
            }
        });
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("lock").clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.conns.load(Ordering::SeqCst)
    }

    /// Waits until `n` requests have arrived (deadline 10 s).
    pub fn wait_for(&self, n: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.seen();
            if s.len() >= n || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        match &self.path {
            Some(p) => {
                let _ = UnixStream::connect(p);
            }
            None => {
                let _ = TcpStream::connect(("127.0.0.1", self.port));
            }
        }
    }
}

/// Reads one request (head, and a Content-Length or chunked body) from
/// `c`, using and refilling `buf`; `None` at EOF or on error.
fn read_request(c: &mut Conn, buf: &mut Vec<u8>, conn: usize, nth: usize) -> Option<Seen> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        fill(c, buf)?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end);
    let lower = head.to_ascii_lowercase();
    let len = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = lower.contains("\r\ntransfer-encoding: chunked");
    let body_len = if chunked {
        loop {
            if let Some(n) = chunked_len(buf) {
                break n;
            }
            fill(c, buf)?;
        }
    } else {
        let n = len.unwrap_or(0);
        while buf.len() < n {
            fill(c, buf)?;
        }
        n
    };
    let body: Vec<u8> = buf.drain(..body_len).collect();
    Some(Seen {
        conn,
        nth,
        head,
        body,
    })
}

fn fill(c: &mut Conn, buf: &mut Vec<u8>) -> Option<()> {
    let mut b = [0u8; 16 * 1024];
    match c.read(&mut b) {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&b[..n]);
            Some(())
        }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// The length of a complete chunked body at the start of `b`.
fn chunked_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let eol = find(&b[i..], b"\r\n")? + i;
        let size_text = std::str::from_utf8(&b[i..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        i = eol + 2;
        if size == 0 {
            // trailers until an empty line
            loop {
                let e = find(&b[i..], b"\r\n")? + i;
                let empty = e == i;
                i = e + 2;
                if empty {
                    return Some(i);
                }
            }
        }
        if b.len() < i + size + 2 {
            return None;
        }
        i += size + 2;
    }
}
