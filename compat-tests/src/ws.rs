//! WebSocket scenarios (mod_wstunnel): frames written by hand, a raw
//! client that reads frames with deadlines, and an in-process byte-stream
//! backend that records exactly what reached it.
//!
//! ```text
//! Frame::text(b"hi").encode()      masked client frame (RFC 6455 §5.2)
//! decode(&buf)                     one server frame from a buffer
//! WsClient::connect(server)        raw TCP client: send bytes, read the
//!                                  HTTP head, then frames / EOF with deadlines
//! RawBackend::tcp(Mode::Echo)      127.0.0.1:<ephemeral> (or a unix socket):
//!                                  per connection the bytes received, EOF
//! ```
//!
//! Nothing here depends on a WebSocket library: the point is to send frames
//! a library would refuse to produce (unmasked, reserved opcodes and bits,
//! stray continuations) and to see every byte the server sends back.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::backend::BackendAddr;
use crate::http::{Client, Response, Server, frame_response};

/// The mask key of every client frame (the one of RFC 6455 §5.7).
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Opcodes (RFC 6455 §5.2).
pub const CONT: u8 = 0;
pub const TEXT: u8 = 1;
pub const BINARY: u8 = 2;
pub const CLOSE: u8 = 8;
pub const PING: u8 = 9;
pub const PONG: u8 = 10;

// ---------------------------------------------------------------------------
// Frames

/// One WebSocket frame, as sent or as received.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    /// RSV1..3 as the three bits `0b100` = RSV1.
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    /// The payload (unmasked).
    pub payload: Vec<u8>,
}

impl Frame {
    /// A masked, final frame (what a client sends).
    pub fn new(opcode: u8, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            fin: true,
            rsv: 0,
            opcode,
            masked: true,
            payload: payload.into(),
        }
    }

    pub fn text(payload: impl Into<Vec<u8>>) -> Frame {
        Frame::new(TEXT, payload)
    }

    pub fn binary(payload: impl Into<Vec<u8>>) -> Frame {
        Frame::new(BINARY, payload)
    }

    /// A close frame with a two-byte `code` and `reason`.
    pub fn close(code: u16, reason: &str) -> Frame {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason.as_bytes());
        Frame::new(CLOSE, p)
    }

    /// Sets FIN.
    pub fn fin(mut self, fin: bool) -> Frame {
        self.fin = fin;
        self
    }

    /// Sets the RSV bits (`0b100` = RSV1).
    pub fn rsv(mut self, rsv: u8) -> Frame {
        self.rsv = rsv & 7;
        self
    }

    /// Sends the payload unmasked (a protocol error from a client).
    pub fn unmasked(mut self) -> Frame {
        self.masked = false;
        self
    }

    /// The wire bytes (masked with [`MASK`] when `masked`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + 14);
        out.push(u8::from(self.fin) << 7 | (self.rsv & 7) << 4 | (self.opcode & 15));
        let m = if self.masked { 0x80 } else { 0 };
        let n = self.payload.len();
        if n < 126 {
            out.push(m | n as u8);
        } else if n <= 0xffff {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        if self.masked {
            out.extend_from_slice(&MASK);
            out.extend(
                self.payload
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ MASK[i % 4]),
            );
        } else {
            out.extend_from_slice(&self.payload);
        }
        out
    }

    /// The two-byte status code of a close frame, if it has one.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// The name of an opcode.
pub fn opcode_name(op: u8) -> String {
    match op {
        CONT => "cont".to_string(),
        TEXT => "text".to_string(),
        BINARY => "binary".to_string(),
        CLOSE => "close".to_string(),
        PING => "ping".to_string(),
        PONG => "pong".to_string(),
        other => format!("op{other}"),
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&opcode_name(self.opcode))?;
        if !self.fin {
            f.write_str(" fin=0")?;
        }
        if self.rsv != 0 {
            write!(f, " rsv={:03b}", self.rsv)?;
        }
        if self.masked {
            f.write_str(" masked")?;
        }
        write!(f, " {}", show(&self.payload))
    }
}

/// Decodes one frame at the start of `buf`: `Ok(None)` when more bytes are
/// needed; returns the frame and the bytes it used.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, String> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    let masked = b1 & 0x80 != 0;
    let mut at = 2;
    let len = match b1 & 0x7f {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            at = 4;
            u64::from(u16::from_be_bytes([b[0], b[1]]))
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            at = 10;
            u64::from_be_bytes(b.try_into().expect("8 bytes"))
        }
        n => u64::from(n),
    };
    let len = usize::try_from(len).map_err(|_| format!("frame length {len} too large"))?;
    if len > 64 << 20 {
        return Err(format!("frame length {len} unreasonable"));
    }
    let mask = if masked {
        let Some(k) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    let Some(p) = buf.get(at..at + len) else {
        return Ok(None);
    };
    let payload = match mask {
        Some(k) => p.iter().enumerate().map(|(i, b)| b ^ k[i % 4]).collect(),
        None => p.to_vec(),
    };
    Ok(Some((
        Frame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 7,
            opcode: b0 & 15,
            masked,
            payload,
        },
        at + len,
    )))
}

/// Bytes for reports: escaped when short, else length and a hash.
pub fn show(b: &[u8]) -> String {
    if b.len() <= 80 {
        format!("\"{}\"", b.escape_ascii())
    } else {
        format!("<{} bytes, fnv {:016x}>", b.len(), fnv(b))
    }
}

/// FNV-1a, to name long payloads in reports.
pub fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Bytes compared in observations, shown by [`show`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show(&self.0))
    }
}

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 §4.2.2).
pub fn accept_for(key: &str) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64(&h.finalize())
}

/// Standard base64 with padding.
pub fn base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

// ---------------------------------------------------------------------------
// The client

/// A raw client connection: the HTTP handshake, then frames (the
/// connection handling is [`Client`]'s).
#[derive(Debug)]
pub struct WsClient {
    c: Client,
}

impl WsClient {
    /// Connects to `server` on 127.0.0.1.
    pub fn connect(server: &Server) -> Result<WsClient, String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
        Ok(WsClient {
            c: Client::connect(server.name, addr)?,
        })
    }

    /// Time since connect (or since [`WsClient::restart_clock`]).
    pub fn elapsed(&self) -> Duration {
        self.c.elapsed()
    }

    /// Measures [`WsClient::elapsed`] and frame times from now.
    pub fn restart_clock(&mut self) {
        self.c.start = Instant::now();
    }

    /// A second handle on the socket (a writer thread).
    pub fn writer(&self) -> Result<TcpStream, String> {
        self.c.stream.try_clone().map_err(|e| e.to_string())
    }

    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.c.send(bytes)
    }

    pub fn send_frame(&mut self, f: &Frame) -> Result<(), String> {
        self.send(&f.encode())
    }

    /// Half-closes (TCP FIN); reading stays possible.
    pub fn shutdown_write(&mut self) {
        self.c.shutdown_write();
    }

    /// `true` once the server closed the connection.
    pub fn saw_eof(&self) -> bool {
        self.c.saw_eof()
    }

    /// Reads one HTTP response head (a 101 ends at its head; other
    /// responses with their body) within `limit`; the bytes after it stay
    /// buffered (the tunnel).
    pub fn response(&mut self, limit: Duration) -> Result<Response, String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((r, used)) = frame_response(&self.c.buf, false, self.c.eof)
                .map_err(|e| format!("{}: {e}", self.c.name))?
            {
                self.c.buf.drain(..used);
                return Ok(r);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "{}: no complete response within {limit:?}; got {}",
                    self.c.name,
                    show(&self.c.buf)
                ));
            }
            self.c.read_once(left)?;
        }
    }

    /// Reads exactly `n` bytes (or what came before EOF) within `limit`.
    pub fn read_bytes(&mut self, n: usize, limit: Duration) -> Vec<u8> {
        let deadline = Instant::now() + limit;
        while self.c.buf.len() < n && !self.c.eof {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.c.read_once(left).is_err() {
                break;
            }
        }
        let k = n.min(self.c.buf.len());
        self.c.buf.drain(..k).collect()
    }

    /// The next frame from the server with the time (see
    /// [`WsClient::elapsed`]) it was complete: `Ok(None)` at EOF, `Err` when
    /// nothing complete came within `limit` or the bytes are no frame.
    pub fn next_frame_at(&mut self, limit: Duration) -> Result<Option<(Duration, Frame)>, String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((f, used)) =
                decode(&self.c.buf).map_err(|e| format!("{}: {e}", self.c.name))?
            {
                self.c.buf.drain(..used);
                return Ok(Some((self.c.start.elapsed(), f)));
            }
            if self.c.eof {
                if self.c.buf.is_empty() {
                    return Ok(None);
                }
                return Err(format!(
                    "{}: EOF inside a frame after {}",
                    self.c.name,
                    show(&self.c.buf)
                ));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "{}: no complete frame within {limit:?} (buffered {})",
                    self.c.name,
                    show(&self.c.buf)
                ));
            }
            let _ = self.c.read_once(left);
        }
    }

    /// [`WsClient::next_frame_at`] without the time.
    pub fn next_frame(&mut self, limit: Duration) -> Result<Option<Frame>, String> {
        Ok(self.next_frame_at(limit)?.map(|(_, f)| f))
    }

    /// Every frame until EOF, within `limit`: the frames and whether EOF
    /// came (an undecodable rest is reported as a pseudo frame `op15`
    /// with the raw bytes).
    pub fn frames_until_eof(&mut self, limit: Duration) -> (Vec<Frame>, bool) {
        let deadline = Instant::now() + limit;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_frame(left) {
                Ok(Some(f)) => out.push(f),
                Ok(None) => return (out, true),
                Err(_) if self.c.eof => {
                    out.push(Frame {
                        fin: false,
                        rsv: 0,
                        opcode: 15,
                        masked: false,
                        payload: std::mem::take(&mut self.c.buf),
                    });
                    return (out, true);
                }
                Err(_) => return (out, false),
            }
        }
    }

    /// Frames arriving within `d` (stops early at EOF): the frames with
    /// their times, and whether EOF came.
    pub fn frames_within(&mut self, d: Duration) -> (Vec<(Duration, Frame)>, bool) {
        let deadline = Instant::now() + d;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (out, self.c.eof && self.c.buf.is_empty());
            }
            match self.next_frame_at(left) {
                Ok(Some(f)) => out.push(f),
                Ok(None) => return (out, true),
                Err(_) => return (out, self.c.eof),
            }
        }
    }

    /// Frames until their payloads add up to `total` bytes (or EOF, or
    /// `limit`).
    pub fn frames_totalling(&mut self, total: usize, limit: Duration) -> Vec<Frame> {
        let deadline = Instant::now() + limit;
        let mut out: Vec<Frame> = Vec::new();
        while out.iter().map(|f| f.payload.len()).sum::<usize>() < total {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_frame(left) {
                Ok(Some(f)) => out.push(f),
                _ => break,
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------
// The backend

/// What a [`RawBackend`] does with a connection.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Send every chunk straight back.
    Echo,
    /// Send these bytes right after accept, then echo.
    Greet(Vec<u8>),
    /// Echo, and close the connection after this long without bytes
    /// (`echo_backend.py --mode closeafter`).
    CloseAfter(Duration),
    /// Read and record only.
    Sink,
    /// Echo, but keep the connection open after the peer's EOF (until
    /// the backend is dropped), as a backend that ignores half-closes.
    EchoHold,
    /// Read the first chunk, then reset the connection (TCP RST: linger 0).
    Reset,
    /// Send `chunk` at once and again whenever `every` passes without
    /// bytes from the peer; record what arrives.
    Push { chunk: Vec<u8>, every: Duration },
}

/// What one backend connection saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnLog {
    /// Every byte received, in order.
    pub received: Bytes,
    /// Size of each read.
    pub reads: Vec<usize>,
    /// The peer half-closed or closed (read 0 or reset).
    pub eof: bool,
    /// The backend closed it itself ([`Mode::CloseAfter`]).
    pub closed_by_backend: bool,
}

#[derive(Debug, Default)]
struct Shared {
    conns: Mutex<Vec<ConnLog>>,
    changed: Condvar,
    held: Mutex<Vec<Held>>,
    stop: AtomicBool,
}

#[derive(Debug)]
enum Held {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Held {
    fn shutdown(&self) {
        let _ = match self {
            Held::Tcp(s) => s.shutdown(Shutdown::Both),
            Held::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
}

trait Conn: Read + Write + Send + 'static {
    fn set_timeout(&self, d: Option<Duration>);
    fn shut(&self);
    /// Makes the final close send a TCP RST (linger 0).
    fn linger0(&self);
    fn held(&self) -> Option<Held>;
}

impl Conn for TcpStream {
    fn set_timeout(&self, d: Option<Duration>) {
        let _ = self.set_read_timeout(d);
    }
    fn shut(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
    fn linger0(&self) {
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt with a fully initialised linger value on an
        // open socket.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(self),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&raw const l).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    fn held(&self) -> Option<Held> {
        self.try_clone().ok().map(Held::Tcp)
    }
}

impl Conn for UnixStream {
    fn set_timeout(&self, d: Option<Duration>) {
        let _ = self.set_read_timeout(d);
    }
    fn shut(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
    fn linger0(&self) {}
    fn held(&self) -> Option<Held> {
        self.try_clone().ok().map(Held::Unix)
    }
}

/// A byte-stream backend in this process (TCP on 127.0.0.1 or a unix
/// socket) recording, per connection, the bytes received and whether the
/// peer ended it. Stopped and its connections shut down on drop.
#[derive(Debug)]
pub struct RawBackend {
    pub addr: BackendAddr,
    shared: Arc<Shared>,
}

impl RawBackend {
    /// On `127.0.0.1:<ephemeral>`.
    pub fn tcp(mode: Mode) -> RawBackend {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a backend listener");
        let addr = l.local_addr().expect("local address");
        let shared = Arc::new(Shared::default());
        let sh = shared.clone();
        thread::spawn(move || {
            for s in l.incoming() {
                if sh.stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(s) = s {
                    let _ = s.set_nodelay(true);
                    accept(&sh, s, mode.clone());
                }
            }
        });
        RawBackend {
            addr: BackendAddr::Tcp(addr),
            shared,
        }
    }

    /// On a unix socket at `path` (removed first if present).
    pub fn unix(path: &Path, mode: Mode) -> RawBackend {
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path)
            .unwrap_or_else(|e| panic!("bind backend {}: {e}", path.display()));
        let shared = Arc::new(Shared::default());
        let sh = shared.clone();
        thread::spawn(move || {
            for s in l.incoming() {
                if sh.stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(s) = s {
                    accept(&sh, s, mode.clone());
                }
            }
        });
        RawBackend {
            addr: BackendAddr::Unix(path.to_path_buf()),
            shared,
        }
    }

    /// Connections accepted so far.
    pub fn count(&self) -> usize {
        self.shared.conns.lock().expect("not poisoned").len()
    }

    /// Connection `idx` (from 0) once `pred` holds for it, within `limit`;
    /// after `limit` its state as it is (`None`: never accepted).
    pub fn conn_when(
        &self,
        idx: usize,
        pred: impl Fn(&ConnLog) -> bool,
        limit: Duration,
    ) -> Option<ConnLog> {
        let deadline = Instant::now() + limit;
        let mut conns = self.shared.conns.lock().expect("not poisoned");
        loop {
            if let Some(c) = conns.get(idx).filter(|c| pred(c)) {
                return Some(c.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return conns.get(idx).cloned();
            }
            conns = self
                .shared
                .changed
                .wait_timeout(conns, left)
                .expect("not poisoned")
                .0;
        }
    }

    /// Connection `idx` once it ended (EOF from the peer or closed by the
    /// backend), within `limit`.
    pub fn ended(&self, idx: usize, limit: Duration) -> Option<ConnLog> {
        self.conn_when(idx, |c| c.eof || c.closed_by_backend, limit)
    }

    /// Connection `idx` once it received at least `n` bytes, within `limit`.
    pub fn received_at_least(&self, idx: usize, n: usize, limit: Duration) -> Option<ConnLog> {
        self.conn_when(idx, |c| c.received.0.len() >= n || c.eof, limit)
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        match &self.addr {
            BackendAddr::Tcp(sa) => {
                let _ = TcpStream::connect_timeout(sa, Duration::from_millis(200));
            }
            BackendAddr::Unix(p) => {
                let _ = UnixStream::connect(p);
                let _ = std::fs::remove_file(p);
            }
        }
        for h in self.shared.held.lock().expect("not poisoned").drain(..) {
            h.shutdown();
        }
    }
}

fn accept<S: Conn>(sh: &Arc<Shared>, mut s: S, mode: Mode) {
    let idx = {
        let mut conns = sh.conns.lock().expect("not poisoned");
        conns.push(ConnLog::default());
        conns.len() - 1
    };
    sh.changed.notify_all();
    // A clone to shut the connection down on drop (not for Reset: its
    // last descriptor must go for the RST).
    if let Some(h) = s.held().filter(|_| !matches!(mode, Mode::Reset)) {
        sh.held.lock().expect("not poisoned").push(h);
    }
    let sh = sh.clone();
    thread::spawn(move || {
        serve(&mut s, idx, &mode, &sh);
        // The connection ends here (a clone is held for the drop).
        match mode {
            Mode::EchoHold => {}
            Mode::Reset => s.linger0(),
            _ => s.shut(),
        }
    });
}

fn serve<S: Conn>(s: &mut S, idx: usize, mode: &Mode, sh: &Shared) {
    let update = |f: &mut dyn FnMut(&mut ConnLog)| {
        let mut conns = sh.conns.lock().expect("not poisoned");
        f(&mut conns[idx]);
        drop(conns);
        sh.changed.notify_all();
    };
    match mode {
        Mode::Greet(g) => {
            if s.write_all(g).is_err() {
                return;
            }
        }
        Mode::Push { chunk, every } => {
            if s.write_all(chunk).is_err() {
                return;
            }
            s.set_timeout(Some(*every));
        }
        Mode::CloseAfter(d) => s.set_timeout(Some(*d)),
        Mode::Echo | Mode::EchoHold | Mode::Sink | Mode::Reset => {}
    }
    let mut buf = vec![0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => {
                update(&mut |c| c.eof = true);
                return;
            }
            Ok(n) => {
                update(&mut |c| {
                    c.received.0.extend_from_slice(&buf[..n]);
                    c.reads.push(n);
                });
                if matches!(mode, Mode::Reset) {
                    return;
                }
                let echo = matches!(
                    mode,
                    Mode::Echo | Mode::EchoHold | Mode::Greet(_) | Mode::CloseAfter(_)
                );
                if echo && s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                match mode {
                    Mode::CloseAfter(_) => {
                        update(&mut |c| c.closed_by_backend = true);
                        return;
                    }
                    Mode::Push { chunk, .. } if s.write_all(chunk).is_err() => return,
                    _ => {}
                }
            }
            Err(_) => {
                // a reset: the peer is gone
                update(&mut |c| c.eof = true);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        for n in [0usize, 5, 125, 126, 65535, 65536, 200_000] {
            let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let f = Frame::binary(payload.clone()).fin(false).rsv(0b100);
            let bytes = f.encode();
            let (g, used) = decode(&bytes).expect("valid").expect("complete");
            assert_eq!(used, bytes.len());
            assert_eq!(g, f);
            assert!(decode(&bytes[..bytes.len() - 1]).expect("valid").is_none() || n == 0);
        }
        // RFC 6455 §5.7: a masked "Hello"
        assert_eq!(
            Frame::text("Hello").encode(),
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
        assert_eq!(
            Frame::text("Hello").unmasked().encode(),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
    }

    #[test]
    fn accept_value_of_the_rfc_sample() {
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(base64(b"\x00\xff"), "AP8=");
        assert_eq!(base64(b"hello"), "aGVsbG8=");
    }
}
