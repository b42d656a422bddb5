//! mod_wstunnel end to end: the real wick binary between a WebSocket
//! client (tokio-tungstenite) and a raw byte backend.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use support::Wick;

const DEADLINE: Duration = Duration::from_secs(10);

/// A raw TCP backend: echoes what it reads, and reports every chunk it
/// read and its EOF on `seen`.
struct Echo {
    port: u16,
    seen: mpsc::Receiver<Option<Vec<u8>>>,
}

impl Echo {
    fn start(greet: Option<&'static [u8]>, close_after_first: bool) -> Echo {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(DEADLINE));
                    if let Some(g) = greet {
                        let _ = s.write_all(g);
                    }
                    let mut buf = [0u8; 65536];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => {
                                let _ = tx.send(None);
                                return;
                            }
                            Ok(n) => {
                                let _ = tx.send(Some(buf[..n].to_vec()));
                                if s.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                                if close_after_first {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Echo { port, seen }
    }

    /// The next thing the backend saw (`None`: EOF).
    fn next(&self) -> Option<Vec<u8>> {
        self.seen.recv_timeout(DEADLINE).expect("backend event")
    }
}

fn conf(backend_port: u16, extra: &str) -> String {
    format!(
        "server.document-root = \"{{root}}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {{port}}\n\
         server.modules += ( \"mod_wstunnel\" )\n\
         wstunnel.server = ( \"/ws\" => ( ( \"host\" => \"127.0.0.1\", \"port\" => {backend_port} ) ) )\n{extra}\n"
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn open(
    w: &Wick,
    path: &str,
    headers: &[(&str, &str)],
) -> (Ws, http::Response<Option<Vec<u8>>>) {
    let mut req = format!("ws://127.0.0.1:{}{path}", w.port)
        .into_client_request()
        .expect("request");
    for (k, v) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            http::HeaderValue::from_str(v).expect("value"),
        );
    }
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", w.port))
        .await
        .expect("connect");
    tokio::time::timeout(DEADLINE, tokio_tungstenite::client_async(req, tcp))
        .await
        .expect("handshake in time")
        .unwrap_or_else(|e| panic!("handshake: {e}\n{}", w.stderr()))
}

async fn next(ws: &mut Ws) -> Option<Message> {
    tokio::time::timeout(DEADLINE, ws.next())
        .await
        .expect("a message in time")
        .map(|m| m.expect("message"))
}

/// A raw connection that has sent an upgrade request for `/ws` (the
/// answer is left to the caller).
fn raw_upgrade(w: &Wick) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", w.port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .expect("send");
    s
}

/// The status line of a raw request (read up to its end only: a 101
/// keeps the connection open).
fn raw_status(w: &Wick, req: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", w.port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(req.as_bytes()).expect("send");
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n") {
        match s.read(&mut b) {
            Ok(1) => got.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).trim_end().to_string()
}

#[test]
fn text_echo_reaches_the_backend_as_raw_bytes() {
    let b = Echo::start(None, false);
    let w = Wick::start(&conf(b.port, ""));
    runtime().block_on(async {
        let (mut ws, resp) = open(&w, "/ws", &[]).await;
        assert_eq!(resp.status(), 101);
        assert!(resp.headers().get("sec-websocket-protocol").is_none());
        ws.send(Message::text("hello")).await.expect("send");
        assert_eq!(b.next().as_deref(), Some(&b"hello"[..]));
        match next(&mut ws).await {
            Some(Message::Text(t)) => assert_eq!(t.as_str(), "hello"),
            other => panic!("{other:?}"),
        }
        // Client close: the backend sees EOF, the client gets 1000.
        ws.send(Message::Close(None)).await.expect("close");
        assert_eq!(b.next(), None);
        match next(&mut ws).await {
            Some(Message::Close(Some(f))) => assert_eq!(f.code, CloseCode::Normal),
            Some(Message::Close(None)) | None => {}
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn binary_frame_type_and_offered_protocols() {
    let b = Echo::start(None, false);
    let w = Wick::start(&conf(b.port, "wstunnel.frame-type = \"binary\""));
    runtime().block_on(async {
        // Not offered: no protocol header (lighttpd 1.4.73+), binary frames.
        let (mut ws, resp) = open(&w, "/ws", &[]).await;
        assert!(resp.headers().get("sec-websocket-protocol").is_none());
        ws.send(Message::binary(vec![0u8, 0xff, b'A']))
            .await
            .expect("send");
        match next(&mut ws).await {
            Some(Message::Binary(d)) => assert_eq!(&d[..], &[0u8, 0xff, b'A']),
            other => panic!("{other:?}"),
        }
        // Offered, wherever in the list: answered.
        for offer in ["chat, binary", "base64, binary"] {
            let (_ws, resp) = open(&w, "/ws", &[("Sec-WebSocket-Protocol", offer)]).await;
            assert_eq!(
                resp.headers()
                    .get("sec-websocket-protocol")
                    .map(|v| v.as_bytes()),
                Some(&b"binary"[..]),
                "{offer}"
            );
        }
    });
    // base64 alone does not turn a binary site to text: a 101 without a
    // protocol (a client library refuses that, so a raw client), then
    // binary frames.
    let mut s = TcpStream::connect(("127.0.0.1", w.port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Protocol: base64\r\n\r\n",
    )
    .expect("send");
    let mut head = Vec::new();
    let mut b1 = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b1).expect("head");
        head.push(b1[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101 "), "{head}");
    assert!(!head.contains("sec-websocket-protocol"), "{head}");
    // a masked (zero mask) binary frame 01 02, echoed in a binary frame
    s.write_all(&[0x82, 0x82, 0, 0, 0, 0, 1, 2]).expect("frame");
    let mut echo = [0u8; 4];
    s.read_exact(&mut echo).expect("echo");
    assert_eq!(echo, [0x82, 2, 1, 2]);
}

#[test]
fn base64_protocol_is_really_coded() {
    let b = Echo::start(None, false);
    let w = Wick::start(&conf(b.port, ""));
    runtime().block_on(async {
        let (mut ws, resp) = open(&w, "/ws", &[("Sec-WebSocket-Protocol", "base64")]).await;
        assert_eq!(
            resp.headers()
                .get("sec-websocket-protocol")
                .map(|v| v.as_bytes()),
            Some(&b"base64"[..])
        );
        ws.send(Message::text("AP9B")).await.expect("send");
        assert_eq!(b.next().as_deref(), Some(&[0u8, 0xff, b'A'][..]));
        match next(&mut ws).await {
            Some(Message::Text(t)) => assert_eq!(t.as_str(), "AP9B"),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn backend_greeting_and_eof_give_a_close_frame() {
    let b = Echo::start(Some(b"hello from backend\n"), true);
    let w = Wick::start(&conf(b.port, ""));
    runtime().block_on(async {
        let (mut ws, _) = open(&w, "/ws", &[]).await;
        match next(&mut ws).await {
            Some(Message::Text(t)) => assert_eq!(t.as_str(), "hello from backend\n"),
            other => panic!("{other:?}"),
        }
        ws.send(Message::text("x")).await.expect("send");
        let mut got = Vec::new();
        loop {
            match next(&mut ws).await {
                Some(Message::Text(t)) => got.push(t.to_string()),
                Some(Message::Close(Some(f))) => {
                    assert_eq!(f.code, CloseCode::Normal);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got, vec!["x".to_string()]);
    });
}

#[test]
fn refusals_before_the_upgrade() {
    let b = Echo::start(None, false);
    let down = TcpListener::bind("127.0.0.1:0").expect("bind");
    let down_port = down.local_addr().expect("addr").port();
    drop(down);
    let extra = format!(
        "wstunnel.origins = ( \"example.com\", \"https://good.org\" )\n\
         $HTTP[\"url\"] =^ \"/down\" {{ wstunnel.server = ( \"\" => ( ( \"host\" => \"127.0.0.1\", \"port\" => {down_port} ) ) ) }}"
    );
    let w = Wick::start(&conf(b.port, &extra));
    let req = |path: &str, extra: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}Connection: close\r\n\r\n"
        )
    };
    let v13 = "Sec-WebSocket-Version: 13\r\n";
    for (r, want) in [
        (
            req("/ws", &format!("{v13}Origin: http://sub.example.com\r\n")),
            "HTTP/1.1 101",
        ),
        (
            req("/ws", &format!("{v13}Origin: https://good.org\r\n")),
            "HTTP/1.1 101",
        ),
        (
            req(
                "/ws",
                &format!("{v13}Sec-WebSocket-Origin: http://a.example.com\r\n"),
            ),
            "HTTP/1.1 101",
        ),
        (
            req("/ws", &format!("{v13}Origin: http://example.com\r\n")),
            "HTTP/1.1 403",
        ),
        (
            req("/ws", &format!("{v13}Origin: http://good.org\r\n")),
            "HTTP/1.1 403",
        ),
        (req("/ws", v13), "HTTP/1.1 400"),
        (
            req(
                "/ws",
                "Sec-WebSocket-Version: abc\r\nOrigin: https://good.org\r\n",
            ),
            "HTTP/1.1 400",
        ),
        // hybi-00: refused
        (req("/ws", "Origin: https://good.org\r\n"), "HTTP/1.1 400"),
        (
            req(
                "/ws",
                "Sec-WebSocket-Version: 7\r\nOrigin: https://good.org\r\n",
            ),
            "HTTP/1.1 503",
        ),
        // backend down: 503, never a 101
        (
            req("/down", &format!("{v13}Origin: https://good.org\r\n")),
            "HTTP/1.1 503",
        ),
    ] {
        let got = raw_status(&w, &r);
        assert!(got.starts_with(want), "{r:?}: {got}\n{}", w.stderr());
    }
    // Not an upgrade: not mod_wstunnel's (static 404).
    assert!(
        raw_status(
            &w,
            "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        .starts_with("HTTP/1.1 404")
    );
}

/// `Sec-WebSocket-Version: 0` is hybi-00 said aloud: refused like a
/// request without the header (as lighttpd 1.4.83), before any backend
/// connection (1.4.69 connects and then fails in its hybi-00 path).
#[test]
fn explicit_version_0_is_refused_as_hybi00_before_connecting() {
    let b = Echo::start(None, false);
    let w = Wick::start(&conf(b.port, ""));
    for version in ["0", "00", " 0 "] {
        let mut s = TcpStream::connect(("127.0.0.1", w.port)).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        s.write_all(
            format!(
                "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\r\n"
            )
            .as_bytes(),
        )
        .expect("send");
        // the whole response: the connection closes after it
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        assert!(
            head.starts_with("http/1.1 400 "),
            "version {version:?}: {head}\n{}",
            w.stderr()
        );
        for line in [
            "\r\nsec-websocket-version: 13\r\n",
            "\r\nconnection: close\r\n",
        ] {
            assert!(
                format!("{head}\r\n").contains(line),
                "version {version:?}: {line:?} missing in {head}"
            );
        }
        assert!(
            b.seen.recv_timeout(Duration::from_millis(300)).is_err(),
            "version {version:?}: the backend was contacted"
        );
    }
}

#[test]
fn unmasked_client_frame_is_a_protocol_error() {
    let b = Echo::start(None, false);
    let w = Wick::start(&conf(b.port, ""));
    let mut s = raw_upgrade(&w);
    // An unmasked text frame "hi".
    s.write_all(&[0x81, 0x02, b'h', b'i']).expect("send frame");
    let bytes = support::read_all(&mut s);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    let head_end = text.find("\r\n\r\n").expect("head") + 4;
    let frames = &bytes[head_end..];
    // A close frame with code 1002.
    assert_eq!(frames.first(), Some(&0x88), "{frames:?}");
    assert_eq!(&frames[2..4], &1002u16.to_be_bytes(), "{frames:?}");
    // The backend never got the payload.
    assert_eq!(b.next(), None);
}

#[test]
fn unix_socket_backend_per_path_allow_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("clock.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).expect("bind unix");
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let conf = format!(
        "server.document-root = \"{{root}}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {{port}}\n\
         server.modules += ( \"mod_wstunnel\" )\nwstunnel.frame-type = \"binary\"\n\
         $HTTP[\"url\"] =~ \"^/ws/clock(/|$)\" {{ wstunnel.server = ( \"\" => ( ( \"socket\" => \"{}\" ) ) ) }}\n",
        sock.display()
    );
    let w = Wick::start(&conf);
    runtime().block_on(async {
        let (mut ws, _) = open(&w, "/ws/clock", &[]).await;
        ws.send(Message::binary(b"tick".to_vec()))
            .await
            .expect("send");
        match next(&mut ws).await {
            Some(Message::Binary(d)) => assert_eq!(&d[..], b"tick"),
            other => panic!("{other:?}"),
        }
    });
    let upgrade = |path: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
    };
    assert!(raw_status(&w, &upgrade("/ws/clockwork")).starts_with("HTTP/1.1 404"));
    assert!(raw_status(&w, &upgrade("/ws/shell")).starts_with("HTTP/1.1 404"));
}

/// A client that half-closes its TCP side still gets what the backend
/// sends back, and the backend sees the end of the stream.
#[test]
fn client_half_close_delivers_pending_echo() {
    // This backend answers only once it has seen the end of the stream.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let (tx, seen) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        let _ = s.set_read_timeout(Some(DEADLINE));
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
        let _ = tx.send(all.clone());
        let _ = s.write_all(&all);
    });
    let w = Wick::start(&conf(port, ""));
    let mut s = raw_upgrade(&w);
    // A masked text frame "y" (mask 0x01020304).
    s.write_all(&[0x81, 0x81, 1, 2, 3, 4, b'y' ^ 1])
        .expect("frame");
    s.shutdown(std::net::Shutdown::Write).expect("half-close");
    assert_eq!(seen.recv_timeout(DEADLINE).expect("backend EOF"), b"y");
    let bytes = support::read_all(&mut s);
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head")
        + 4;
    // The echo as a text frame, whatever follows it.
    assert_eq!(
        bytes.get(head_end..head_end + 3),
        Some(&[0x81, 0x01, b'y'][..]),
        "{bytes:?}"
    );
}

#[test]
fn bulk_both_ways_with_pings_in_between() {
    // Large messages take the bulk read path from the client and go back
    // as frames written straight from the backend's read buffer; a ping
    // between them must get its pong in order, and every byte must come
    // back in order, however the frames were cut.
    let echo = Echo::start(None, false);
    let w = Wick::start(&conf(echo.port, "wstunnel.frame-type = \"binary\""));
    runtime().block_on(async {
        let (ws, _) = open(&w, "/ws", &[]).await;
        // send and receive at once: the echo must not have to wait in
        // socket buffers for the sender to finish
        let (mut tx, mut rx) = ws.split();
        let messages: Vec<Vec<u8>> = [300_000usize, 70, 65_536, 1, 200_000]
            .into_iter()
            .enumerate()
            .map(|(i, len)| (0..len).map(|j| (i * 31 + j * 7) as u8).collect())
            .collect();
        let sent: Vec<u8> = messages.concat();
        let send = async {
            for (i, msg) in messages.into_iter().enumerate() {
                tx.send(Message::binary(msg)).await.expect("send");
                tx.send(Message::Ping(format!("p{i}").into_bytes().into()))
                    .await
                    .expect("ping");
            }
        };
        let receive = async {
            let mut got = Vec::new();
            let mut pongs = Vec::new();
            while got.len() < sent.len() || pongs.len() < 5 {
                let m = tokio::time::timeout(DEADLINE, rx.next())
                    .await
                    .expect("a message in time")
                    .map(|m| m.expect("message"));
                match m {
                    Some(Message::Binary(b)) => got.extend_from_slice(&b),
                    Some(Message::Pong(p)) => pongs.push(String::from_utf8_lossy(&p).into_owned()),
                    other => panic!("unexpected {other:?} after {} bytes", got.len()),
                }
            }
            (got, pongs)
        };
        let ((), (got, pongs)) = tokio::join!(send, receive);
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "the echo differs from what was sent");
        assert_eq!(pongs, ["p0", "p1", "p2", "p3", "p4"]);
    });
}

#[test]
fn a_client_that_stops_reading_is_let_go() {
    // The backend streams without end; the client completes the
    // handshake, then neither reads nor sends. Once the writes to it have
    // made no progress for max-read-idle, wick ends the tunnel and the
    // backend's connection closes (before: the tunnel waited forever).
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let (tx, ended) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        let chunk = [b'v'; 65536];
        while s.write_all(&chunk).is_ok() {}
        let _ = tx.send(());
    });
    let w = Wick::start(&conf(
        port,
        "server.max-read-idle = 2\nwstunnel.frame-type = \"binary\"",
    ));
    let s = raw_upgrade(&w);
    // never read: wick's writes to this socket stall
    ended
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("the tunnel is still open\n{}", w.stderr()));
    drop(s);
}

#[test]
fn a_client_that_goes_quiet_after_the_idle_limit_passed_once_is_closed() {
    // max-read-idle 2: the client sends for longer than that (the idle
    // timer fires once and is set again from the last message), then
    // stops; the echo backend stays quiet too. The timer's second firing
    // alone must end the tunnel (before: it woke nobody, and the tunnel
    // stayed open as long as nothing else happened).
    let b = Echo::start(None, false);
    let w = Wick::start(&conf(
        b.port,
        "server.max-read-idle = 2\nwstunnel.frame-type = \"binary\"",
    ));
    runtime().block_on(async {
        let (mut ws, _) = open(&w, "/ws", &[]).await;
        let start = tokio::time::Instant::now();
        while start.elapsed() < Duration::from_millis(3000) {
            ws.send(Message::binary(&b"tick"[..])).await.expect("send");
            match next(&mut ws).await {
                Some(Message::Binary(d)) => assert_eq!(&d[..], b"tick"),
                other => panic!("{other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let quiet = tokio::time::Instant::now();
        match next(&mut ws).await {
            Some(Message::Close(Some(f))) => assert_eq!(f.code, CloseCode::Away),
            other => panic!("{other:?}\n{}", w.stderr()),
        }
        let after = quiet.elapsed();
        assert!(
            after >= Duration::from_millis(1500) && after < Duration::from_secs(4),
            "closed {after:?} after the last message"
        );
    });
}
