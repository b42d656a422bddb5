//! mod_wstunnel, differentially: lighttpd 1.4.69 and wick end the same
//! WebSocket sessions on the same configuration, each tunnelling to its
//! own byte-stream backend, and what the client and the backend observe is
//! compared: the handshake response (status line, headers in order, the
//! values of `Date`/`Server` aside), every frame the client receives
//! (opcode, FIN, RSV, mask bit, payload), whether and when the connection
//! ends, and the exact bytes — no HTTP, no framing — that reach the
//! backend and whether it saw EOF.
//!
//! Spec: `shared/spec/wstunnel.md` (§14 lists the scenarios; the numbers
//! in the comments below refer to it). Frames are written by hand
//! (`compat_tests::ws`), so that unmasked frames, reserved opcodes and bits
//! and stray continuations can be sent; backends are in-process
//! (`RawBackend`: echo, greet, close-after, sink, push) on ephemeral ports
//! or unix sockets, one per server, so that each server's backend log is
//! its own.
//!
//! Deliberate differences (KNOWN-DIFFERENCES.md, "mod_wstunnel") are
//! checked as such: lighttpd's observed behaviour *and* wick's documented
//! one are asserted, so a change on either side fails the test.
//! Response header names are compared lower-case (KNOWN-DIFFERENCES,
//! mod_proxy: wick writes response header names in lower case).
//!
//! `WICK_COMPAT_SELF=1` runs lighttpd on both sides (checks the scenarios);
//! `WICK_COMPAT_SHOW=1` prints every observation.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use compat_tests::backend::{ChildReaper, RefusingPort, install_tool, read_starts};
use compat_tests::http::{Launch, Pair, PairOpts, Response, Scratch, Server};
use compat_tests::ws::{
    BINARY, Bytes, CLOSE, CONT, ConnLog, Frame, Mode, PING, PONG, RawBackend, TEXT, WsClient,
    accept_for,
};

/// The readiness probe: a path no `wstunnel.server` key matches (404).
const PROBE: &[u8] = b"GET /probe-ready HTTP/1.0\r\n\r\n";
/// Time for one expected answer (a frame, a response, EOF).
const STEP: Duration = Duration::from_secs(5);
/// How long the backend may take to see the end of a session.
const BACKEND_END: Duration = Duration::from_secs(3);
/// The key of spec §5.
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZg==";
/// The key of RFC 6455 §1.3.
const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

// KNOWN-DIFFERENCES.md, "mod_wstunnel" (and "Server and HTTP" for idle timing)
const KD_CLOSE: &str = "close frames carry two-byte status codes (1.4.69: ASCII \"1000\", \
                        no close frame at backend EOF, an empty one on idleness)";
const KD_VALIDATE: &str = "client frames are validated (RFC 6455 §5): protocol errors close with 1002, bad UTF-8 with 1007";
const KD_FRAGMENTS: &str = "fragmented messages are delivered to the backend when complete";
const KD_PROTOCOL: &str = "Sec-WebSocket-Protocol is answered only when the client offered \
                           binary or base64 (frame-type binary alone adds none)";
const KD_BASE64: &str = "with the base64 sub-protocol the payloads really are base64";
const KD_HYBI00: &str = "hybi-00 requests get 400 with Sec-WebSocket-Version: 13";
const KD_PING: &str = "wstunnel.ping-interval N pings every N s (lighttpd N+1)";
const KD_IDLE: &str = "idle limits are timed from the last byte (lighttpd N+1 ± 1 s)";
const KD_EXPECT: &str = "an upgrade request with Expect: 100-continue gets the 101 \
                         without a 100 Continue before it";
const KD_CONN_CLOSE: &str = "a 101 to a request with Connection: upgrade, close says \
                             Connection: upgrade, close";

// ---------------------------------------------------------------------------
// Requests

/// An upgrade request: `GET {path} HTTP/1.1`, Host, Upgrade, Connection,
/// Sec-WebSocket-Key ([`KEY`]) and -Version 13, in that order.
#[derive(Debug, Clone)]
struct WsReq {
    line: String,
    headers: Vec<(String, String)>,
    tail: Vec<u8>,
}

impl WsReq {
    fn new(path: &str) -> WsReq {
        WsReq {
            line: format!("GET {path} HTTP/1.1"),
            headers: [
                ("Host", "example.org"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", KEY),
                ("Sec-WebSocket-Version", "13"),
            ]
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
            tail: Vec::new(),
        }
    }

    /// Replaces the request line.
    fn line(mut self, line: &str) -> WsReq {
        self.line = line.to_string();
        self
    }

    /// Sets header `name` (replacing its value in place, else appended).
    fn set(mut self, name: &str, value: &str) -> WsReq {
        match self.headers.iter_mut().find(|(n, _)| n == name) {
            Some(h) => h.1 = value.to_string(),
            None => self.headers.push((name.to_string(), value.to_string())),
        }
        self
    }

    /// Appends header `name` (another line, even if it is there already).
    fn add(mut self, name: &str, value: &str) -> WsReq {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn without(mut self, name: &str) -> WsReq {
        self.headers.retain(|(n, _)| n != name);
        self
    }

    /// Bytes sent right after the head (pipelined frames, hixie-76 key3).
    fn tail(mut self, bytes: &[u8]) -> WsReq {
        self.tail.extend_from_slice(bytes);
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut s = format!("{}\r\n", self.line);
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str("\r\n");
        let mut b = s.into_bytes();
        b.extend_from_slice(&self.tail);
        b
    }
}

/// A response head as compared exactly: the status line, then every
/// header in order, names lower-case, the values of `Date` and `Server`
/// left out.
fn head_exact(r: &Response) -> Vec<String> {
    std::iter::once(r.status_line.clone())
        .chain(r.headers.iter().map(|(n, v)| {
            if n == "date" || n == "server" {
                format!("{n}: (any)")
            } else {
                format!("{n}: {v}")
            }
        }))
        .collect()
}

/// [`head_exact`] with `Date` and `Server` moved to the end (their place
/// is compared once, by the handshake case 1, so that a difference there
/// does not hide everything else); the other headers keep their order.
fn head(r: &Response) -> Vec<String> {
    let mut h = head_exact(r);
    let volatile: Vec<String> = h
        .iter()
        .filter(|l| l.starts_with("date: ") || l.starts_with("server: "))
        .cloned()
        .collect();
    h.retain(|l| !volatile.contains(l));
    let mut volatile = volatile;
    volatile.sort();
    h.extend(volatile);
    h
}

/// [`head_exact`] with the headers sorted by name: for error pages, where the
/// order of the headers means nothing (the harness's `full_differences`
/// does not compare it either).
fn head_any_order(r: &Response) -> Vec<String> {
    let mut h = head_exact(r);
    h[1..].sort();
    h
}

// ---------------------------------------------------------------------------
// Servers and backends

/// One server's backends.
struct Backends {
    echo: RawBackend,
    greet: RawBackend,
    closer: RawBackend,
    hold: RawBackend,
    reset: RawBackend,
    unix: RawBackend,
}

impl Backends {
    fn new(dir: &Path, tag: &str) -> Backends {
        Backends {
            echo: RawBackend::tcp(Mode::Echo),
            greet: RawBackend::tcp(Mode::Greet(b"hello from backend\n".to_vec())),
            closer: RawBackend::tcp(Mode::CloseAfter(Duration::from_secs(1))),
            hold: RawBackend::tcp(Mode::EchoHold),
            reset: RawBackend::tcp(Mode::Reset),
            unix: RawBackend::unix(&dir.join(format!("{tag}-echo.sock")), Mode::Echo),
        }
    }

    fn vars(&self) -> Vec<(String, String)> {
        [
            ("{echo}", &self.echo),
            ("{greet}", &self.greet),
            ("{closer}", &self.closer),
            ("{hold}", &self.hold),
            ("{reset}", &self.reset),
            ("{unix}", &self.unix),
        ]
        .iter()
        .map(|(k, b)| (k.to_string(), b.addr.conf()))
        .collect()
    }
}

fn launch() -> Launch {
    Launch {
        probe: Some(PROBE.to_vec()),
        own_group: true,
        ..Launch::default()
    }
}

/// The configuration of most scenarios (spec §14 header): `/ws` echo in
/// text mode, `/bin` echo with frame-type binary, `/orig` with an origins
/// list, `/greet`, `/closer`, `/hold` (an echo that ignores EOF),
/// `/reset` (resets after the first bytes), `/unix` backends and `/down`
/// (refused).
const MAIN_CONF: &str = "server.modules = ( \"mod_wstunnel\" )\n\
server.document-root = \"{root}\"\n\
wstunnel.server = (\n\
  \"/ws\" => ( ( {echo} ) ),\n\
  \"/bin\" => ( ( {echo} ) ),\n\
  \"/orig\" => ( ( {echo} ) ),\n\
  \"/greet\" => ( ( {greet} ) ),\n\
  \"/closer\" => ( ( {closer} ) ),\n\
  \"/hold\" => ( ( {hold} ) ),\n\
  \"/reset\" => ( ( {reset} ) ),\n\
  \"/unix\" => ( ( {unix} ) ),\n\
  \"/down\" => ( ( {down} ) )\n\
)\n\
$HTTP[\"url\"] =^ \"/bin\" {\n  wstunnel.frame-type = \"binary\"\n}\n\
$HTTP[\"url\"] =^ \"/orig\" {\n  wstunnel.origins = ( \"example.com\", \"https://good.org\" )\n}\n";

struct Setup {
    pair: Pair,
    b: [Backends; 2],
    _down: RefusingPort,
}

fn start(test: &str) -> Option<Setup> {
    let scratch = Scratch::new("ws").expect("scratch dir");
    let b = [
        Backends::new(scratch.path(), "l"),
        Backends::new(scratch.path(), "w"),
    ];
    let down = RefusingPort::new();
    let conf = MAIN_CONF.replace("{down}", &down.addr.conf());
    let opts = PairOpts {
        vars: [b[0].vars(), b[1].vars()],
        launch: launch(),
        scratch: Some(scratch),
    };
    let pair = Pair::start_opts(test, &conf, |_| {}, opts)?;
    Some(Setup {
        pair,
        b,
        _down: down,
    })
}

// ---------------------------------------------------------------------------
// Observations

/// The answer to one request: head, body, and whether the server
/// connected to the backend for it.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    head: Vec<String>,
    body: String,
    backend_contacted: bool,
}

/// Sends `req` on a new connection and reads one response. A 101 head is
/// compared in order (spec §5: Upgrade, Sec-WebSocket-Accept, [-Protocol],
/// Connection, Date, Server); other heads in any order.
fn answer(server: &Server, backend: &RawBackend, req: &WsReq) -> Result<Answer, String> {
    answer_with(server, backend, req, head)
}

/// [`answer`] with the 101 head summarised by `head_of`.
fn answer_with(
    server: &Server,
    backend: &RawBackend,
    req: &WsReq,
    head_of: fn(&Response) -> Vec<String>,
) -> Result<Answer, String> {
    let mark = backend.count();
    let mut c = WsClient::connect(server)?;
    c.send(&req.bytes())?;
    let r = c.response(STEP)?;
    drop(c);
    // The backend connection of a 101 (or of a refusal after the connect)
    // is accepted before the answer was sent; give the accepting thread a
    // moment to record it.
    let contacted = backend
        .conn_when(mark, |_| true, Duration::from_millis(300))
        .is_some();
    Ok(Answer {
        head: if r.status == 101 {
            head_of(&r)
        } else {
            head_any_order(&r)
        },
        body: String::from_utf8_lossy(&r.body).into_owned(),
        backend_contacted: contacted,
    })
}

/// What the backend saw of one session.
#[derive(Debug, Clone, PartialEq)]
struct Saw {
    received: Bytes,
    eof: bool,
    closed_by_backend: bool,
}

fn saw(c: Option<ConnLog>) -> Option<Saw> {
    c.map(|c| Saw {
        received: c.received,
        eof: c.eof,
        closed_by_backend: c.closed_by_backend,
    })
}

/// One event of a session as the client saw it.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    /// A frame from the server.
    F(Frame),
    /// Frames joined: their opcodes (deduplicated, in order), whether all
    /// had FIN, the payloads concatenated (frame boundaries depend on read
    /// sizes — spec §8).
    Joined {
        ops: Vec<u8>,
        all_fin: bool,
        payload: Bytes,
    },
    /// The server closed the connection.
    Eof,
    /// Nothing (more) arrived within the step's time.
    Nothing,
    /// What the backend had received at this point.
    Backend(Bytes),
}

/// One step of a session script.
#[derive(Debug, Clone)]
enum Step {
    /// Send these bytes (skipped once the server closed or sent a close
    /// frame, as a client would).
    Send(Vec<u8>),
    /// Send this frame (same rule).
    Frame(Frame),
    /// Send these bytes from another thread (large messages: the echo is
    /// read meanwhile); joined at the end of the session.
    SendAsync(Vec<u8>),
    /// Read up to N frames (stops at EOF; `Nothing` after [`STEP`]).
    Read(usize),
    /// Read frames until their payloads total N bytes, as one `Joined`.
    Joined(usize),
    /// Read frames until EOF.
    Eof,
    /// Read whatever comes within this time.
    Quiet(Duration),
    /// Half-close the client's side.
    Shut,
    /// Wait (up to the duration) until the backend received N bytes and
    /// record what it had.
    Backend(usize, Duration),
    /// Do nothing for this long (a client that sends slowly).
    Pause(Duration),
}

/// A session: the 101 head, the client's events, the backend's view.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    head: Vec<String>,
    events: Vec<Ev>,
    backend: Option<Saw>,
}

/// Opens a tunnel with `req` (must be answered 101), runs `steps`, closes
/// the client's connection and waits for the backend to see the end.
fn run(
    server: &Server,
    backend: Option<&RawBackend>,
    req: &WsReq,
    steps: &[Step],
) -> Result<Run, String> {
    let mark = backend.map(RawBackend::count);
    let mut c = WsClient::connect(server)?;
    c.send(&req.bytes())?;
    let r = c.response(STEP)?;
    if r.status != 101 {
        return Err(format!("no 101: {:?}", head(&r)));
    }
    let mut events = Vec::new();
    let mut closing = false; // a close frame came
    let mut ended = false; // EOF recorded
    let mut writers = Vec::new();
    let record = |events: &mut Vec<Ev>, f: Frame, closing: &mut bool| {
        *closing |= f.opcode == CLOSE;
        events.push(Ev::F(f));
    };
    for step in steps {
        match step {
            Step::Send(bytes) if !closing && !c.saw_eof() => c.send(bytes)?,
            Step::Frame(f) if !closing && !c.saw_eof() => c.send_frame(f)?,
            Step::SendAsync(bytes) if !closing && !c.saw_eof() => {
                let mut w = c.writer()?;
                let bytes = bytes.clone();
                writers.push(thread::spawn(move || {
                    use std::io::Write;
                    w.write_all(&bytes).map_err(|e| e.to_string())
                }));
            }
            Step::Send(_) | Step::Frame(_) | Step::SendAsync(_) => {}
            Step::Read(n) => {
                for _ in 0..*n {
                    if ended {
                        break;
                    }
                    match c.next_frame(STEP) {
                        Ok(Some(f)) => record(&mut events, f, &mut closing),
                        Ok(None) => {
                            events.push(Ev::Eof);
                            ended = true;
                            break;
                        }
                        Err(_) => {
                            events.push(Ev::Nothing);
                            break;
                        }
                    }
                }
            }
            Step::Joined(total) => {
                let frames = c.frames_totalling(*total, STEP * 2);
                let mut ops: Vec<u8> = Vec::new();
                for f in &frames {
                    if !ops.contains(&f.opcode) {
                        ops.push(f.opcode);
                    }
                }
                events.push(Ev::Joined {
                    ops,
                    all_fin: frames.iter().all(|f| f.fin),
                    payload: Bytes(frames.iter().flat_map(|f| f.payload.clone()).collect()),
                });
            }
            Step::Eof => {
                if !ended {
                    let (frames, eof) = c.frames_until_eof(STEP);
                    for f in frames {
                        record(&mut events, f, &mut closing);
                    }
                    events.push(if eof { Ev::Eof } else { Ev::Nothing });
                    ended = eof;
                }
            }
            Step::Quiet(d) => {
                if !ended {
                    let (frames, eof) = c.frames_within(*d);
                    for (_, f) in frames {
                        record(&mut events, f, &mut closing);
                    }
                    if eof {
                        events.push(Ev::Eof);
                        ended = true;
                    }
                }
            }
            Step::Shut => c.shutdown_write(),
            Step::Pause(d) => thread::sleep(*d),
            Step::Backend(n, limit) => {
                let b = backend.ok_or("no backend to look at")?;
                let got = b
                    .received_at_least(mark.unwrap_or(0), *n, *limit)
                    .map(|c| c.received)
                    .unwrap_or_default();
                events.push(Ev::Backend(got));
            }
        }
    }
    for w in writers {
        w.join()
            .map_err(|_| "writer panicked".to_string())?
            .map_err(|e| format!("writer: {e}"))?;
    }
    drop(c);
    let backend = match (backend, mark) {
        (Some(b), Some(m)) => saw(b.ended(m, BACKEND_END)),
        _ => None,
    };
    Ok(Run {
        head: head(&r),
        events,
        backend,
    })
}

/// `Ev::F` of a server frame (unmasked, FIN).
fn server_frame(opcode: u8, payload: &[u8]) -> Ev {
    Ev::F(Frame {
        fin: true,
        rsv: 0,
        opcode,
        masked: false,
        payload: payload.to_vec(),
    })
}

/// Checks a known difference in the close frame: the two runs agree but
/// for the close frames, which are `lighttpd` on lighttpd's side (its
/// ASCII payload) and a frame with two-byte code `wick_code` on wick's.
fn close_differs(
    l: &Run,
    w: &Run,
    lighttpd: Option<&[u8]>,
    wick_code: Option<u16>,
) -> Result<(), String> {
    let strip = |r: &Run| -> (Run, Vec<Frame>) {
        let mut r = r.clone();
        let mut closes = Vec::new();
        r.events.retain(|e| match e {
            Ev::F(f) if f.opcode == CLOSE => {
                closes.push(f.clone());
                false
            }
            _ => true,
        });
        (r, closes)
    };
    let (lr, lc) = strip(l);
    let (wr, wc) = strip(w);
    match lighttpd {
        Some(p) if lc.len() != 1 || lc[0].payload != p || lc[0].masked || !lc[0].fin => {
            return Err(format!(
                "lighttpd: expected one close frame {:?}, got {lc:?}",
                Bytes(p.to_vec())
            ));
        }
        None if !lc.is_empty() => return Err(format!("lighttpd: expected no close frame: {lc:?}")),
        _ => {}
    }
    match wick_code {
        Some(code) if wc.len() != 1 || wc[0].close_code() != Some(code) || wc[0].masked => {
            return Err(format!(
                "wick: expected one close frame with code {code}, got {wc:?}"
            ));
        }
        None if !wc.is_empty() => return Err(format!("wick: expected no close frame: {wc:?}")),
        _ => {}
    }
    if lr != wr {
        return Err(format!(
            "apart from the close frames the sessions differ:\n    lighttpd {lr:?}\n    wick     {wr:?}"
        ));
    }
    Ok(())
}

/// Like [`close_differs`] for a client's close: lighttpd answers with its
/// `lighttpd` payload, wick with one close frame echoing `code` (an empty
/// close frame when the client's had no code).
fn close_echoed(l: &Run, w: &Run, lighttpd: &[u8], code: Option<u16>) -> Result<(), String> {
    if let Some(c) = code {
        return close_differs(l, w, Some(lighttpd), Some(c));
    }
    let wc: Vec<&Frame> = w
        .events
        .iter()
        .filter_map(|e| match e {
            Ev::F(f) if f.opcode == CLOSE => Some(f),
            _ => None,
        })
        .collect();
    if !matches!(wc.as_slice(), [f] if f.payload.is_empty() && !f.masked) {
        return Err(format!("wick: expected one empty close frame, got {wc:?}"));
    }
    let mut w2 = w.clone();
    w2.events
        .retain(|e| !matches!(e, Ev::F(f) if f.opcode == CLOSE));
    // lighttpd's close carries `lighttpd`; the rest must agree.
    let mut l2 = l.clone();
    let lc = l2
        .events
        .iter()
        .filter(|e| matches!(e, Ev::F(f) if f.opcode == CLOSE && f.payload == lighttpd))
        .count();
    if lc != 1 {
        return Err("lighttpd: expected one close frame \"1000\"".into());
    }
    l2.events
        .retain(|e| !matches!(e, Ev::F(f) if f.opcode == CLOSE));
    if l2 != w2 {
        return Err(format!(
            "apart from the close frames the sessions differ:\n    lighttpd {l2:?}\n    wick     {w2:?}"
        ));
    }
    Ok(())
}

/// A run of lighttpd that matches `want_l` and one of wick that matches
/// `want_w` (each compared as a whole).
fn runs_are(l: &Run, w: &Run, want_l: &Run, want_w: &Run) -> Result<(), String> {
    let mut why = Vec::new();
    if l != want_l {
        why.push(format!("lighttpd: expected {want_l:?}"));
    }
    if w != want_w {
        why.push(format!("wick: expected {want_w:?}"));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("\n    "))
    }
}

/// Seconds since the handshake, for timing observations. Two values are
/// equal when they lie within half a second of each other: timings are
/// asserted by the known-difference checks with their own bounds, and the
/// two oracle runs of a self-check (`WICK_COMPAT_SELF=1`) agree up to
/// scheduling noise.
#[derive(Debug, Clone, Copy)]
struct Secs(f64);

impl PartialEq for Secs {
    fn eq(&self, other: &Secs) -> bool {
        (self.0 - other.0).abs() < 0.5
    }
}

// ---------------------------------------------------------------------------
// 1, 2, 15–20, 29: the handshake, the checks and their statuses

#[test]
fn handshake_and_refusals() {
    let Some(Setup {
        mut pair, b: bs, ..
    }) = start("handshake_and_refusals")
    else {
        return;
    };
    let b = &bs;
    let check = |pair: &mut Pair, label: &str, req: WsReq| {
        pair.observe(label, |_, s| answer(s, &b[s.index()].echo, &req));
    };
    // 1. the handshake response, headers in order (Date and Server too)
    pair.observe(
        "1. handshake, key of spec §5, exact header order",
        |_, s| answer_with(s, &b[s.index()].echo, &WsReq::new("/ws"), head_exact),
    );
    // 2. the RFC sample key
    check(
        &mut pair,
        "2. RFC 6455 sample key",
        WsReq::new("/ws/rfc").set("Sec-WebSocket-Key", RFC_KEY),
    );
    // the accept value itself, independently of lighttpd
    pair.observe("2. RFC sample accept value", |_, s| {
        let a = answer(
            s,
            &b[s.index()].echo,
            &WsReq::new("/ws").set("Sec-WebSocket-Key", RFC_KEY),
        )?;
        let want = format!("sec-websocket-accept: {}", accept_for(RFC_KEY));
        if a.head.contains(&want) {
            Ok(want)
        } else {
            Err(format!("expected {want}: {:?}", a.head))
        }
    });
    // token matching: `Upgrade: WebSocket`, `Connection: keep-alive, Upgrade`
    check(
        &mut pair,
        "Upgrade/Connection tokens in any case and in lists",
        WsReq::new("/ws/tokens")
            .set("Upgrade", "WebSocket")
            .set("Connection", "keep-alive, Upgrade"),
    );
    // `close` next to `upgrade`: lighttpd's 101 says `Connection: upgrade`,
    // wick's (hyper's) adds the client's `close`
    for conn in ["Upgrade, close", "close, Upgrade"] {
        let req = WsReq::new("/ws/close").set("Connection", conn);
        pair.observe_known(
            &format!("Connection: {conn}"),
            KD_CONN_CLOSE,
            |_, s| answer(s, &b[s.index()].echo, &req),
            |l, w| {
                let mut want_w = l.clone();
                for h in &mut want_w.head {
                    if h == "connection: upgrade" {
                        *h = "connection: upgrade, close".to_string();
                    }
                }
                if !l.head.contains(&"connection: upgrade".to_string()) {
                    return Err(format!("lighttpd: expected connection: upgrade: {l:?}"));
                }
                if w != &want_w {
                    return Err(format!("wick: expected {want_w:?}"));
                }
                Ok(())
            },
        );
    }
    // `Expect: 100-continue`: lighttpd answers 100 first, wick only the
    // 101 (there is no body to wait for)
    pair.observe_known(
        "Expect: 100-continue",
        KD_EXPECT,
        |_, s| {
            let mut c = WsClient::connect(s)?;
            c.send(
                &WsReq::new("/ws/expect")
                    .add("Expect", "100-continue")
                    .bytes(),
            )?;
            let raw = c.read_bytes(64, STEP);
            let text = String::from_utf8_lossy(&raw).into_owned();
            Ok(text
                .split("\r\n")
                .filter(|l| l.starts_with("HTTP/"))
                .map(str::to_string)
                .collect::<Vec<_>>())
        },
        |l, w| {
            let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
            if l != &s(&["HTTP/1.1 100 Continue", "HTTP/1.1 101 Switching Protocols"]) {
                return Err("lighttpd: expected 100, then 101".into());
            }
            if w != &s(&["HTTP/1.1 101 Switching Protocols"]) {
                return Err("wick: expected the 101 alone".into());
            }
            Ok(())
        },
    );
    // extensions are ignored (no permessage-deflate), query strings allowed
    check(
        &mut pair,
        "Sec-WebSocket-Extensions ignored",
        WsReq::new("/ws/ext?x=1").set(
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits",
        ),
    );
    // 19. versions
    check(
        &mut pair,
        "19. version 8 → 101",
        WsReq::new("/ws/v8").set("Sec-WebSocket-Version", "8"),
    );
    check(
        &mut pair,
        "19. version abc → 400 (keep-alive)",
        WsReq::new("/ws/vabc").set("Sec-WebSocket-Version", "abc"),
    );
    check(
        &mut pair,
        "19. version 7 → 503 with Connection: close, after connecting the backend",
        WsReq::new("/ws/v7").set("Sec-WebSocket-Version", "7"),
    );
    check(
        &mut pair,
        "19. no Sec-WebSocket-Key → 400 with Connection: close",
        WsReq::new("/ws/nokey").without("Sec-WebSocket-Key"),
    );
    check(
        &mut pair,
        "19. Sec-WebSocket-Key not base64 is used verbatim",
        WsReq::new("/ws/oddkey").set("Sec-WebSocket-Key", "not a real key!"),
    );
    // an empty key is no key; of several key lines, the non-empty ones
    // are joined with ", " (lighttpd's reading of repeated headers)
    check(
        &mut pair,
        "19. empty Sec-WebSocket-Key → 400 with Connection: close",
        WsReq::new("/ws/emptykey").set("Sec-WebSocket-Key", ""),
    );
    check(
        &mut pair,
        "19. Sec-WebSocket-Key on two lines: the accept of both joined",
        WsReq::new("/ws/twokeys").add("Sec-WebSocket-Key", RFC_KEY),
    );
    check(
        &mut pair,
        "19. an empty Sec-WebSocket-Key line before the key",
        WsReq::new("/ws/emptyfirst")
            .set("Sec-WebSocket-Key", "")
            .add("Sec-WebSocket-Key", RFC_KEY),
    );
    check(
        &mut pair,
        "19. an empty Sec-WebSocket-Key line after the key",
        WsReq::new("/ws/emptyafter").add("Sec-WebSocket-Key", ""),
    );
    // 15. backend down
    check(
        &mut pair,
        "15. backend down → 503, no 101",
        WsReq::new("/down"),
    );
    // 16. not a WebSocket request
    check(
        &mut pair,
        "16. plain GET /ws → 404",
        WsReq::new("/ws")
            .without("Upgrade")
            .set("Connection", "close"),
    );
    check(
        &mut pair,
        "16. Upgrade without Connection: upgrade → 404",
        WsReq::new("/ws").set("Connection", "close"),
    );
    check(
        &mut pair,
        "16. Upgrade: h2c → 404",
        WsReq::new("/ws")
            .set("Upgrade", "h2c")
            .set("Connection", "Upgrade, close"),
    );
    // 17. HTTP/1.0 with Upgrade → 400 (core)
    check(
        &mut pair,
        "17. HTTP/1.0 upgrade → 400",
        WsReq::new("/ws").line("GET /ws HTTP/1.0"),
    );
    // 18. POST upgrade without a length → 411 (core)
    check(
        &mut pair,
        "18. POST upgrade without length → 411",
        WsReq::new("/ws").line("POST /ws HTTP/1.1"),
    );
    // 19/15: the connection stays usable after a 400 (bad version) and a
    // 503 (backend down): a second request on it is answered
    for (label, first) in [
        (
            "19. keep-alive after 400 for version abc",
            WsReq::new("/ws/ka").set("Sec-WebSocket-Version", "abc"),
        ),
        (
            "15. keep-alive after 503 for a down backend",
            WsReq::new("/down/ka"),
        ),
    ] {
        pair.observe(label, |_, s| {
            let mut c = WsClient::connect(s)?;
            c.send(&first.bytes())?;
            let r1 = c.response(STEP)?;
            c.send(b"GET /probe-ready HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n")?;
            let r2 = c.response(STEP).map(|r| r.status_line);
            Ok((head_any_order(&r1), r2))
        });
    }
    // 20. origins ( "example.com", "https://good.org" )
    for (origin, header) in [
        ("http://sub.example.com", "Origin"),
        ("http://example.com", "Origin"),
        ("http://badexample.com", "Origin"),
        ("https://good.org", "Origin"),
        ("http://good.org", "Origin"),
        ("HTTP://SUB.EXAMPLE.COM", "Origin"),
        ("http://sub.example.com:8080", "Origin"),
        ("example.com", "Origin"),
        ("", "Origin"),
        ("http://a.example.com", "Sec-WebSocket-Origin"),
    ] {
        check(
            &mut pair,
            &format!("20. origins: {header}: {origin:?}"),
            WsReq::new("/orig").set(header, origin),
        );
    }
    check(
        &mut pair,
        "20. origins: no Origin → 400",
        WsReq::new("/orig"),
    );
    // the origin check comes after the version check
    check(
        &mut pair,
        "20. origins: bad origin and bad version → 400",
        WsReq::new("/orig")
            .set("Origin", "http://evil.org")
            .set("Sec-WebSocket-Version", "x"),
    );
    // 29. hybi-00 (hixie-76): lighttpd 1.4.69 answers with a challenge
    // computed in little-endian order; wick refuses as 1.4.83 does
    let hixie = WsReq::new("/ws/hixie?q=1")
        .without("Sec-WebSocket-Key")
        .without("Sec-WebSocket-Version")
        .set("Sec-WebSocket-Key1", "4 @1  46546xW%0l 1 5")
        .set("Sec-WebSocket-Key2", "12998 5 Y3 1  .P00")
        .set("Origin", "http://example.com")
        .tail(b"^n:ds[4U");
    pair.observe_known(
        "29. hybi-00 handshake",
        KD_HYBI00,
        |_, s| {
            let mut c = WsClient::connect(s)?;
            c.send(&hixie.bytes())?;
            let r = c.response(STEP)?;
            let extra = if r.status == 101 {
                c.read_bytes(16, STEP)
            } else {
                r.body.clone()
            };
            Ok((head_any_order(&r), Bytes(extra)))
        },
        |l, w| {
            let mut why = Vec::new();
            let lh = &l.0;
            if lh.first().map(String::as_str) != Some("HTTP/1.1 101 Switching Protocols")
                || !lh.contains(&"sec-websocket-location: ws://example.org/ws".to_string())
                || !lh.contains(&"upgrade: websocket".to_string())
            {
                why.push("lighttpd: expected 101 with Sec-WebSocket-Location".to_string());
            }
            let wrong = b"\xe8\xad\x34\xe1\xea\xee\x8c\xf2\x24\x0c\x85\x67\x4c\x2e\x19\x80";
            if l.1.0 != wrong {
                why.push("lighttpd: expected the little-endian challenge e8ad34e1…".to_string());
            }
            let wh = &w.0;
            if wh.first().map(String::as_str) != Some("HTTP/1.1 400 Bad Request")
                || !wh.contains(&"sec-websocket-version: 13".to_string())
                || !wh.contains(&"connection: close".to_string())
            {
                why.push(
                    "wick: expected 400 with Sec-WebSocket-Version: 13, Connection: close"
                        .to_string(),
                );
            }
            if why.is_empty() {
                Ok(())
            } else {
                Err(why.join("; "))
            }
        },
    );
    pair.finish();
}

// ---------------------------------------------------------------------------
// 4–6: frame types and the sub-protocol table

#[test]
fn subprotocols_and_frame_types() {
    let Some(Setup {
        mut pair, b: bs, ..
    }) = start("subprotocols_and_frame_types")
    else {
        return;
    };
    let b = &bs;
    // the echo of a binary message 00 ff 41 under each offer
    let echo = [Step::Frame(Frame::binary(*b"\x00\xffA")), Step::Read(1)];
    let session = |path: &str, offer: Option<&str>| {
        let mut req = WsReq::new(path);
        if let Some(o) = offer {
            req = req.set("Sec-WebSocket-Protocol", o);
        }
        req
    };
    // 4/5. text mode: the table of §6
    for offer in [
        None,
        Some("binary, base64"),
        Some("BINARY"),
        Some("chat, binary"),
        Some("chat"),
        Some("binaryx"),
        Some(" binary "),
    ] {
        let req = session("/ws", offer);
        pair.observe(&format!("5. /ws offering {offer:?}"), |_, s| {
            run(s, Some(&b[s.index()].echo), &req, &echo)
        });
    }
    // 6. base64: 1.4.69 echoes the name and sends the bytes as they are;
    // wick encodes backend bytes (and decodes client text) as base64
    let req = session("/ws", Some("base64, binary"));
    pair.observe_known(
        "6. base64 offered first: backend bytes 00 ff 41 to the client",
        KD_BASE64,
        |_, s| run(s, Some(&b[s.index()].echo), &req, &echo),
        |l, w| {
            let mut want_l = l.clone();
            want_l.events = vec![server_frame(TEXT, b"\x00\xffA")];
            let mut want_w = l.clone();
            want_w.events = vec![server_frame(TEXT, b"AP9B")];
            if !l
                .head
                .contains(&"sec-websocket-protocol: base64".to_string())
            {
                return Err("lighttpd: expected Sec-WebSocket-Protocol: base64".to_string());
            }
            runs_are(l, w, &want_l, &want_w)
        },
    );
    let req = session("/ws", Some("base64"));
    pair.observe_known(
        "6. base64: a client text frame \"aGVsbG8=\" to the backend",
        KD_BASE64,
        |_, s| {
            run(
                s,
                Some(&b[s.index()].echo),
                &req,
                &[Step::Frame(Frame::text("aGVsbG8=")), Step::Read(1)],
            )
        },
        |l, w| {
            let mut want_l = l.clone();
            want_l.events = vec![server_frame(TEXT, b"aGVsbG8=")];
            if let Some(saw) = want_l.backend.as_mut() {
                saw.received = Bytes(b"aGVsbG8=".to_vec());
            }
            let mut want_w = want_l.clone();
            if let Some(saw) = want_w.backend.as_mut() {
                saw.received = Bytes(b"hello".to_vec());
            }
            runs_are(l, w, &want_l, &want_w)
        },
    );
    // 4. frame-type binary: binary frames; 1.4.69 always answers
    // `Sec-WebSocket-Protocol: binary`, wick only when offered
    for offer in [None, Some("chat"), Some("base64")] {
        let req = session("/bin", offer);
        pair.observe_known(
            &format!("4. /bin (frame-type binary) offering {offer:?}"),
            KD_PROTOCOL,
            |_, s| run(s, Some(&b[s.index()].echo), &req, &echo),
            |l, w| {
                let mut want_l = l.clone();
                want_l.events = vec![server_frame(BINARY, b"\x00\xffA")];
                if !l
                    .head
                    .contains(&"sec-websocket-protocol: binary".to_string())
                {
                    return Err("lighttpd: expected Sec-WebSocket-Protocol: binary".to_string());
                }
                let mut want_w = want_l.clone();
                want_w
                    .head
                    .retain(|h| !h.starts_with("sec-websocket-protocol"));
                runs_are(l, w, &want_l, &want_w)
            },
        );
    }
    // the client offered `binary` (anywhere in its list): both answer it
    for offer in ["binary", "base64, binary", "chat, BINARY"] {
        let req = session("/bin", Some(offer));
        pair.observe(&format!("4. /bin offering {offer:?}"), |_, s| {
            run(s, Some(&b[s.index()].echo), &req, &echo)
        });
    }
    let req = session("/bin", Some("base64")).add("Sec-WebSocket-Protocol", "binary");
    pair.observe(
        "4. /bin offering base64, then binary on a second line",
        |_, s| run(s, Some(&b[s.index()].echo), &req, &echo),
    );
    pair.finish();
}

// ---------------------------------------------------------------------------
// 3, 7–12, 25, 27: what the client sends

#[test]
fn client_frames() {
    let Some(Setup {
        mut pair, b: bs, ..
    }) = start("client_frames")
    else {
        return;
    };
    let b = &bs;
    let ws = WsReq::new("/ws");
    let session = |pair: &mut Pair, label: &str, steps: Vec<Step>| {
        pair.observe(label, |_, s| run(s, Some(&b[s.index()].echo), &ws, &steps));
    };
    // 3/4. raw payloads to the backend, echoed in text frames
    session(
        &mut pair,
        "3. text hello, binary 00ff41: raw bytes to the backend, text frames back",
        vec![
            Step::Frame(Frame::text("hello")),
            Step::Read(1),
            Step::Frame(Frame::binary(*b"\x00\xffA")),
            Step::Read(1),
        ],
    );
    session(
        &mut pair,
        "7. fragments abc + continuation def in one write",
        vec![
            Step::Send(
                [
                    Frame::text("abc").fin(false).encode(),
                    Frame::new(CONT, "def").encode(),
                ]
                .concat(),
            ),
            Step::Joined(6),
        ],
    );
    session(
        &mut pair,
        "several frames in one write",
        vec![
            Step::Send(
                [
                    Frame::text("one ").encode(),
                    Frame::binary("two ").encode(),
                    Frame::text("three").encode(),
                ]
                .concat(),
            ),
            Step::Joined(13),
            Step::Backend(13, STEP),
        ],
    );
    // 7. fragments: 1.4.69 forwards each fragment at once, wick the
    // complete message
    pair.observe_known(
        "7. first fragment alone reaches the backend",
        KD_FRAGMENTS,
        |_, s| {
            run(
                s,
                Some(&b[s.index()].echo),
                &ws,
                &[
                    Step::Frame(Frame::text("abc").fin(false)),
                    Step::Backend(3, Duration::from_secs(1)),
                    Step::Frame(Frame::new(CONT, "def")),
                    Step::Joined(6),
                    Step::Backend(6, STEP),
                ],
            )
        },
        |l, w| {
            let mut want_l = l.clone();
            want_l.events = vec![
                Ev::Backend(Bytes(b"abc".to_vec())),
                Ev::Joined {
                    ops: vec![TEXT],
                    all_fin: true,
                    payload: Bytes(b"abcdef".to_vec()),
                },
                Ev::Backend(Bytes(b"abcdef".to_vec())),
            ];
            let mut want_w = want_l.clone();
            want_w.events[0] = Ev::Backend(Bytes::default());
            runs_are(l, w, &want_l, &want_w)
        },
    );
    // 8. ping / pong
    session(
        &mut pair,
        "8. ping pingdata → pong; empty ping → empty pong; pong ignored",
        vec![
            Step::Frame(Frame::new(PING, "pingdata")),
            Step::Read(1),
            Step::Frame(Frame::new(PING, "")),
            Step::Read(1),
            Step::Frame(Frame::new(PONG, "unsolicited")),
            Step::Quiet(Duration::from_millis(300)),
            Step::Frame(Frame::text("after")),
            Step::Read(1),
        ],
    );
    session(
        &mut pair,
        "8. ping between data frames",
        vec![
            Step::Send([Frame::new(PING, "p1").encode(), Frame::text("d1").encode()].concat()),
            Step::Read(2),
            Step::Backend(2, STEP),
        ],
    );
    // a ping of 200 bytes: 1.4.69 answers it; wick refuses an oversized
    // control frame
    pair.observe_known(
        "8. ping with a 200-byte payload",
        KD_VALIDATE,
        |_, s| {
            run(
                s,
                Some(&b[s.index()].echo),
                &ws,
                &[
                    Step::Frame(Frame::new(PING, vec![b'p'; 200])),
                    Step::Read(1),
                    Step::Quiet(Duration::from_secs(1)),
                ],
            )
        },
        |l, w| {
            let mut want_l = l.clone();
            want_l.events = vec![server_frame(PONG, &[b'p'; 200])];
            let mut want_w = l.clone();
            want_w.events = w.events.clone();
            if !matches!(w.events.as_slice(), [Ev::F(f), Ev::Eof] if f.close_code() == Some(1002)) {
                return Err("wick: expected close 1002, then EOF".to_string());
            }
            runs_are(l, w, &want_l, &want_w)
        },
    );
    // 9. client close: 1.4.69 answers ASCII "1000" and closes; wick
    // echoes the client's status code (RFC 6455 §5.5.1), none for none
    for (label, close, echoed) in [
        (
            "9. client close 1000 \"bye\"",
            Frame::close(1000, "bye"),
            Some(1000),
        ),
        (
            "9. client close without payload",
            Frame::new(CLOSE, ""),
            None,
        ),
        ("9. client close 1001", Frame::close(1001, ""), Some(1001)),
    ] {
        pair.observe_known(
            label,
            KD_CLOSE,
            |_, s| {
                run(
                    s,
                    Some(&b[s.index()].echo),
                    &ws,
                    &[
                        Step::Frame(Frame::text("x")),
                        Step::Read(1),
                        Step::Frame(close.clone()),
                        Step::Eof,
                    ],
                )
            },
            move |l, w| close_echoed(l, w, b"1000", echoed),
        );
    }
    // 9. the client's close ends the session even when the backend keeps
    // its side open after EOF (lighttpd never waits for the backend)
    let hold = WsReq::new("/hold");
    pair.observe_known(
        "9. client close, backend ignores EOF",
        KD_CLOSE,
        |_, s| {
            run(
                s,
                Some(&b[s.index()].hold),
                &hold,
                &[
                    Step::Frame(Frame::text("x")),
                    Step::Read(1),
                    Step::Frame(Frame::close(1000, "")),
                    Step::Eof,
                ],
            )
        },
        |l, w| close_differs(l, w, Some(b"1000"), Some(1000)),
    );
    // 10–12 and the other frames 1.4.69 does not validate
    let invalid: [(&str, Frame, Option<&[u8]>, u16); 6] = [
        (
            "10. unmasked frame",
            Frame::text("unmasked").unmasked(),
            None,
            1002,
        ),
        ("11. reserved opcode 3", Frame::new(3, "op3"), None, 1002),
        (
            "reserved opcode 11 (control)",
            Frame::new(11, "op11"),
            None,
            1002,
        ),
        (
            "12. RSV1 set",
            Frame::text("rsv").rsv(0b100),
            Some(b"rsv".as_slice()),
            1002,
        ),
        (
            "continuation without a start",
            Frame::new(CONT, "cont"),
            Some(b"cont".as_slice()),
            1002,
        ),
        (
            "text frame with invalid UTF-8",
            Frame::text(*b"\xc3\x28"),
            Some(b"\xc3\x28".as_slice()),
            1007,
        ),
    ];
    for (label, frame, forwarded, code) in invalid {
        pair.observe_known(
            label,
            KD_VALIDATE,
            |_, s| {
                run(
                    s,
                    Some(&b[s.index()].echo),
                    &ws,
                    &[
                        Step::Frame(frame.clone()),
                        Step::Read(1),
                        Step::Quiet(Duration::from_secs(1)),
                    ],
                )
            },
            |l, w| {
                // lighttpd: an error closes with ASCII "1000"; what it
                // forwards is echoed in a text frame and the session goes on
                let mut want_l = l.clone();
                want_l.events = match forwarded {
                    None => vec![server_frame(CLOSE, b"1000"), Ev::Eof],
                    Some(p) => vec![server_frame(TEXT, p)],
                };
                if let Some(saw) = want_l.backend.as_mut() {
                    saw.received = Bytes(forwarded.unwrap_or_default().to_vec());
                }
                let mut want_w = l.clone();
                want_w.events = w.events.clone();
                if let Some(saw) = want_w.backend.as_mut() {
                    saw.received = Bytes::default();
                }
                if !matches!(w.events.as_slice(), [Ev::F(f), Ev::Eof] if f.close_code() == Some(code))
                {
                    return Err(format!("wick: expected close {code}, then EOF"));
                }
                runs_are(l, w, &want_l, &want_w)
            },
        );
    }
    session(
        &mut pair,
        "zero-length data frame: nothing to the backend",
        vec![
            Step::Frame(Frame::text("")),
            Step::Frame(Frame::binary("")),
            Step::Frame(Frame::text("z")),
            Step::Read(1),
            Step::Backend(1, STEP),
        ],
    );
    session(
        &mut pair,
        "a message of 126 bytes (16-bit length)",
        vec![
            Step::Frame(Frame::binary(vec![b'm'; 126])),
            Step::Joined(126),
        ],
    );
    // 25. a frame sent with the handshake
    let pipelined = WsReq::new("/ws/pipelined").tail(&Frame::text("early").encode());
    pair.observe("25. first frame pipelined with the handshake", |_, s| {
        run(s, Some(&b[s.index()].echo), &pipelined, &[Step::Read(1)])
    });
    // 27. half-close, and a client that just goes away
    session(
        &mut pair,
        "27. client half-close after y",
        vec![
            Step::Frame(Frame::text("y")),
            Step::Read(1),
            Step::Shut,
            Step::Eof,
        ],
    );
    session(
        &mut pair,
        "client closes TCP without a close frame",
        vec![Step::Frame(Frame::text("gone")), Step::Backend(4, STEP)],
    );
    pair.finish();
}

// ---------------------------------------------------------------------------
// 13, 14, 24, 26: what the backend does

#[test]
fn backend_behaviour() {
    let Some(Setup {
        mut pair, b: bs, ..
    }) = start("backend_behaviour")
    else {
        return;
    };
    let b = &bs;
    // 14. the backend speaks first
    let greet = WsReq::new("/greet");
    pair.observe("14. backend greets first", |_, s| {
        run(
            s,
            Some(&b[s.index()].greet),
            &greet,
            &[Step::Read(1), Step::Frame(Frame::text("x")), Step::Read(1)],
        )
    });
    // 13. the backend closes: 1.4.69 closes the TCP connection without a
    // close frame, wick sends close 1000 first
    let closer = WsReq::new("/closer");
    pair.observe_known(
        "13. backend closes after 1 s",
        KD_CLOSE,
        |_, s| {
            run(
                s,
                Some(&b[s.index()].closer),
                &closer,
                &[Step::Frame(Frame::text("q")), Step::Read(1), Step::Eof],
            )
        },
        |l, w| close_differs(l, w, None, Some(1000)),
    );
    // a backend error after the 101: 1.4.69 sends ASCII "1001" (source),
    // wick close 1011
    let reset = WsReq::new("/reset");
    pair.observe_known(
        "backend resets the connection",
        KD_CLOSE,
        |_, s| {
            run(
                s,
                Some(&b[s.index()].reset),
                &reset,
                &[Step::Frame(Frame::text("boom")), Step::Eof],
            )
        },
        |l, w| close_differs(l, w, Some(b"1001"), Some(1011)),
    );
    // 26. a unix socket backend
    let unix = WsReq::new("/unix");
    pair.observe("26. unix socket backend", |_, s| {
        run(
            s,
            Some(&b[s.index()].unix),
            &unix,
            &[Step::Frame(Frame::text("over unix")), Step::Read(1)],
        )
    });
    // 24. large messages: every byte in order both ways (frame sizes
    // depend on read sizes, so only totals and types are compared)
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let bin = WsReq::new("/bin").set("Sec-WebSocket-Protocol", "binary");
    pair.observe("24. a 200000-byte binary message", |_, s| {
        run(
            s,
            Some(&b[s.index()].echo),
            &bin,
            &[
                Step::SendAsync(Frame::binary(big.clone()).encode()),
                Step::Joined(big.len()),
                Step::Backend(big.len(), STEP),
            ],
        )
    });
    let text: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let fragmented: Vec<u8> = text
        .chunks(50_000)
        .enumerate()
        .flat_map(|(i, c)| {
            let op = if i == 0 { TEXT } else { CONT };
            Frame::new(op, c.to_vec()).fin(i == 3).encode()
        })
        .collect();
    pair.observe(
        "24. a 200000-byte text message in four fragments",
        |_, s| {
            run(
                s,
                Some(&b[s.index()].echo),
                &WsReq::new("/ws"),
                &[
                    Step::SendAsync(fragmented.clone()),
                    Step::Joined(text.len()),
                    Step::Backend(text.len(), STEP),
                ],
            )
        },
    );
    pair.finish();
}

// ---------------------------------------------------------------------------
// 28: a bin-path backend

#[test]
fn binpath_backend() {
    let scratch = Scratch::new("wsbp").expect("scratch dir");
    let dir = scratch.path().to_path_buf();
    let exe = install_tool(&dir, "binpath_logger.py");
    let side = |tag: &str| -> (PathBuf, PathBuf) {
        let log = dir.join(format!("{tag}-log"));
        fs::create_dir_all(&log).expect("log dir");
        (dir.join(format!("{tag}.sock")), log)
    };
    let sides = [side("l"), side("w")];
    let _reapers = sides.clone().map(|(_, log)| ChildReaper { logdir: log });
    let vars = |(sock, log): &(PathBuf, PathBuf)| {
        vec![
            ("{sock}".to_string(), sock.display().to_string()),
            ("{log}".to_string(), log.display().to_string()),
        ]
    };
    let conf = format!(
        "server.modules = ( \"mod_wstunnel\" )\nserver.document-root = \"{{root}}\"\n\
         wstunnel.server = ( \"/bp\" => ( ( \"bin-path\" => \"{} echo\", \"socket\" => \"{{sock}}\", \
         \"max-procs\" => 1, \"bin-environment\" => ( \"BL_LOGDIR\" => \"{{log}}\" ) ) ) )\n",
        exe.display()
    );
    let opts = PairOpts {
        vars: [vars(&sides[0]), vars(&sides[1])],
        launch: launch(),
        scratch: Some(scratch),
    };
    let Some(mut pair) = Pair::start_opts("binpath_backend", &conf, |_| {}, opts) else {
        return;
    };
    let req = WsReq::new("/bp");
    pair.observe(
        "28. bin-path backend: echo, socket S-0, one child",
        |_, s| {
            let (sock, log) = &sides[s.index()];
            let r = run(
                s,
                None,
                &req,
                &[
                    Step::Frame(Frame::text("via bin-path")),
                    Step::Read(1),
                    Step::Frame(Frame::binary(*b"\x00\x01")),
                    Step::Read(1),
                ],
            )?;
            let name = sock
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut files: Vec<String> = fs::read_dir(sock.parent().unwrap_or(Path::new("/")))
                .map_err(|e| e.to_string())?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&name))
                .map(|n| n.replacen(&name, "S", 1))
                .collect();
            files.sort();
            let children = read_starts(log).len();
            Ok((r, files, children))
        },
    );
    pair.finish();
}

// ---------------------------------------------------------------------------
// 21–23: ping-interval and server.max-read-idle

#[test]
fn ping_interval() {
    let backends = [RawBackend::tcp(Mode::Echo), RawBackend::tcp(Mode::Echo)];
    let conf = "server.modules = ( \"mod_wstunnel\" )\nserver.document-root = \"{root}\"\n\
                wstunnel.ping-interval = 2\nwstunnel.server = ( \"/ws\" => ( ( {echo} ) ) )\n";
    let opts = PairOpts {
        vars: backends
            .each_ref()
            .map(|b| vec![("{echo}".to_string(), b.addr.conf())]),
        launch: launch(),
        scratch: None,
    };
    let Some(mut pair) = Pair::start_opts("ping_interval", conf, |_| {}, opts) else {
        return;
    };
    let req = WsReq::new("/ws");
    // 21. a silent client for 7.5 s: the pings and their times
    pair.observe_known(
        "21. ping-interval 2, silent client",
        KD_PING,
        |_, s| {
            let mut c = WsClient::connect(s)?;
            c.send(&req.bytes())?;
            let r = c.response(STEP)?;
            if r.status != 101 {
                return Err(format!("no 101: {:?}", head(&r)));
            }
            c.restart_clock();
            let (frames, eof) = c.frames_within(Duration::from_millis(7500));
            // still alive: the echo works
            c.send_frame(&Frame::text("alive"))?;
            let after = c.next_frame(STEP)?;
            Ok((
                frames
                    .into_iter()
                    .map(|(t, f)| (Secs(t.as_secs_f64()), f))
                    .collect::<Vec<_>>(),
                eof,
                after,
            ))
        },
        |l, w| {
            let ping = Frame {
                fin: true,
                rsv: 0,
                opcode: PING,
                masked: false,
                payload: b"ping".to_vec(),
            };
            let check = |who: &str,
                         obs: &(Vec<(Secs, Frame)>, bool, Option<Frame>),
                         count: usize,
                         period: f64|
             -> Result<(), String> {
                let (frames, eof, after) = obs;
                if *eof || after.as_ref().map(|f| f.payload.as_slice()) != Some(b"alive") {
                    return Err(format!("{who}: the session should stay open and echo"));
                }
                if frames.len() != count || frames.iter().any(|(_, f)| *f != ping) {
                    return Err(format!("{who}: expected {count} pings \"ping\""));
                }
                let mut prev = 0.0;
                for (Secs(t), _) in frames {
                    let gap = t - prev;
                    if !(period - 0.6..=period + 0.6).contains(&gap) {
                        return Err(format!(
                            "{who}: ping at {t:.2} s, {gap:.2} s after the previous (expected ≈{period} s)"
                        ));
                    }
                    prev = *t;
                }
                Ok(())
            };
            check("lighttpd", l, 2, 3.0)?;
            check("wick", w, 3, 2.0)
        },
    );
    pair.finish();
}

#[test]
fn max_read_idle() {
    let scratch = Scratch::new("wsidle").expect("scratch dir");
    let sinks = [RawBackend::tcp(Mode::Sink), RawBackend::tcp(Mode::Sink)];
    let push = || Mode::Push {
        chunk: b"tick\n".to_vec(),
        every: Duration::from_millis(500),
    };
    let pushers = [RawBackend::tcp(push()), RawBackend::tcp(push())];
    let vars = |i: usize| {
        vec![
            ("{sink}".to_string(), sinks[i].addr.conf()),
            ("{push}".to_string(), pushers[i].addr.conf()),
        ]
    };
    let conf = "server.modules = ( \"mod_wstunnel\" )\nserver.document-root = \"{root}\"\n\
                server.max-read-idle = 3\n\
                wstunnel.server = ( \"/sink\" => ( ( {sink} ) ), \"/push\" => ( ( {push} ) ) )\n";
    let opts = PairOpts {
        vars: [vars(0), vars(1)],
        launch: launch(),
        scratch: Some(scratch),
    };
    let Some(mut pair) = Pair::start_opts("max_read_idle", conf, |_| {}, opts) else {
        return;
    };
    /// What a silent client saw: its data frames (summarised), the
    /// other frames with their times, EOF and when.
    #[derive(Debug, Clone, PartialEq)]
    struct Idle {
        /// "none", "ticks" (at least four `tick\n` from the pushing
        /// backend, in text frames) or the bytes.
        data: String,
        control: Vec<(Secs, Frame)>,
        eof_at: Option<Secs>,
        backend: Option<Saw>,
    }
    let observe = |s: &Server, backend: &RawBackend, path: &str| -> Result<Idle, String> {
        let mark = backend.count();
        let mut c = WsClient::connect(s)?;
        c.send(&WsReq::new(path).bytes())?;
        let r = c.response(STEP)?;
        if r.status != 101 {
            return Err(format!("no 101: {:?}", head(&r)));
        }
        c.restart_clock();
        let (frames, eof) = c.frames_within(Duration::from_secs(8));
        let eof_at = eof.then(|| Secs(c.elapsed().as_secs_f64()));
        let mut data = Vec::new();
        let mut ops = Vec::new();
        let mut control = Vec::new();
        for (t, f) in frames {
            if f.opcode == TEXT || f.opcode == BINARY {
                data.extend_from_slice(&f.payload);
                ops.push(f.opcode);
            } else {
                control.push((Secs(t.as_secs_f64()), f));
            }
        }
        let ticks = data.len() / 5;
        let data = if data.is_empty() {
            "none".to_string()
        } else if ticks >= 4 && data == b"tick\n".repeat(ticks) && ops.iter().all(|&o| o == TEXT) {
            "ticks".to_string()
        } else {
            format!("{:?} in frames {ops:?}", Bytes(data))
        };
        let mut idle = Idle {
            data,
            control,
            eof_at,
            backend: None,
        };
        drop(c);
        idle.backend = saw(backend.ended(mark, BACKEND_END));
        Ok(idle)
    };
    // lighttpd: an empty close frame ≈ N+1 s after the last client byte;
    // wick: close 1001 at N s
    let expect = |l: &Idle, w: &Idle, pushing: bool| -> Result<(), String> {
        let one = |who: &str, o: &Idle, payload: &[u8], lo: f64, hi: f64| -> Result<(), String> {
            let [(Secs(t), f)] = o.control.as_slice() else {
                return Err(format!("{who}: expected exactly one close frame"));
            };
            if f.opcode != CLOSE || f.payload != payload || f.masked {
                return Err(format!(
                    "{who}: expected close {:?}",
                    Bytes(payload.to_vec())
                ));
            }
            if !(lo..=hi).contains(t) {
                return Err(format!("{who}: close at {t:.2} s, expected {lo}–{hi} s"));
            }
            match o.eof_at {
                Some(Secs(e)) if e - t < 1.0 => {}
                _ => return Err(format!("{who}: expected EOF right after the close frame")),
            }
            if o.backend.as_ref().map(|b| b.eof) != Some(true)
                || !o.backend.as_ref().is_some_and(|b| b.received.0.is_empty())
            {
                return Err(format!("{who}: the backend should see EOF and no bytes"));
            }
            let want = if pushing { "ticks" } else { "none" };
            if o.data != want {
                return Err(format!("{who}: expected data {want:?}"));
            }
            Ok(())
        };
        one("lighttpd", l, b"", 3.0, 5.5)?;
        one("wick", w, &1001u16.to_be_bytes(), 2.7, 3.8)
    };
    // 22. a silent client and a silent backend
    pair.observe_known(
        "22. max-read-idle 3, silent client",
        &format!("{KD_CLOSE}; {KD_IDLE}"),
        |_, s| observe(s, &sinks[s.index()], "/sink"),
        |l, w| expect(l, w, false),
    );
    // 23. backend traffic does not keep the tunnel open
    pair.observe_known(
        "23. max-read-idle 3, backend pushing every 0.5 s",
        &format!("{KD_CLOSE}; {KD_IDLE}"),
        |_, s| observe(s, &pushers[s.index()], "/push"),
        |l, w| expect(l, w, true),
    );
    pair.finish();
}

/// `server.max-read-idle` counts bytes, not messages: a client whose
/// message arrives slowly keeps its tunnel although no message is
/// complete within the limit (lighttpd resets the idle time on every
/// read from the client).
#[test]
fn max_read_idle_counts_bytes() {
    let echoes = [RawBackend::tcp(Mode::Echo), RawBackend::tcp(Mode::Echo)];
    let conf = "server.modules = ( \"mod_wstunnel\" )\nserver.document-root = \"{root}\"\n\
                server.max-read-idle = 3\n\
                wstunnel.server = ( \"/ws\" => ( ( {echo} ) ) )\n";
    let opts = PairOpts {
        vars: echoes
            .each_ref()
            .map(|b| vec![("{echo}".to_string(), b.addr.conf())]),
        launch: launch(),
        scratch: None,
    };
    let Some(mut pair) = Pair::start_opts("max_read_idle_counts_bytes", conf, |_| {}, opts) else {
        return;
    };
    let ws = WsReq::new("/ws");
    // then a short message, echoed: the tunnel is still open
    let after = [Step::Frame(Frame::text("after")), Step::Read(1)];
    // a 20000-byte frame in 2000-byte pieces every 0.5 s (5 s in all)
    let big = Frame::binary(vec![b'B'; 20_000]).encode();
    let mut steps: Vec<Step> = big
        .chunks(2000)
        .flat_map(|p| {
            [
                Step::Send(p.to_vec()),
                Step::Pause(Duration::from_millis(500)),
            ]
        })
        .collect();
    steps.push(Step::Joined(20_000));
    steps.extend_from_slice(&after);
    pair.observe(
        "max-read-idle 3: a 20000-byte frame sent over 5 s",
        |_, s| run(s, Some(&echoes[s.index()]), &ws, &steps),
    );
    // a frame dribbled a byte every 0.6 s (6 s)
    let mut steps: Vec<Step> = Frame::text("slow")
        .encode()
        .into_iter()
        .flat_map(|b| [Step::Send(vec![b]), Step::Pause(Duration::from_millis(600))])
        .collect();
    steps.push(Step::Joined(4));
    steps.extend_from_slice(&after);
    pair.observe(
        "max-read-idle 3: a frame sent a byte every 0.6 s",
        |_, s| run(s, Some(&echoes[s.index()]), &ws, &steps),
    );
    // a message in eight fragments, one every 0.7 s (5 s)
    let mut steps = vec![
        Step::Frame(Frame::text("f0").fin(false)),
        Step::Pause(Duration::from_millis(700)),
    ];
    for i in 1..7 {
        steps.push(Step::Frame(Frame::new(CONT, format!("f{i}")).fin(false)));
        steps.push(Step::Pause(Duration::from_millis(700)));
    }
    steps.push(Step::Frame(Frame::new(CONT, "end")));
    steps.push(Step::Joined(17));
    steps.extend_from_slice(&after);
    pair.observe(
        "max-read-idle 3: a message in fragments, one every 0.7 s",
        |_, s| run(s, Some(&echoes[s.index()]), &ws, &steps),
    );
    pair.finish();
}
