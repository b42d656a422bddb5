//! The server end to end: the real binary on a handed-over socket, raw
//! HTTP from the test. Static files, conditions, limits, signals.

mod support;

use std::io::{Read, Write};
use std::path::Path;

use support::{Wick, parse_responses, read_all};

const BASIC: &str = r#"
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
index-file.names = ( "index.html" )
mimetype.assign = ( ".txt" => "text/plain", ".html" => "text/html" )
static-file.exclude-extensions = ( ".php" )
"#;

fn files(dir: &Path) {
    let root = dir.join("htdocs");
    std::fs::write(root.join("a.txt"), "hello world\n").expect("write");
    std::fs::create_dir(root.join("dir")).expect("mkdir");
    std::fs::write(root.join("dir/index.html"), "<h1>x</h1>").expect("write");
    std::fs::create_dir(root.join("empty")).expect("mkdir");
    std::fs::write(root.join("x.php"), "<?php").expect("write");
    std::fs::write(root.join("noext"), "y").expect("write");
    let big: Vec<u8> = (0..10240u32).map(|i| (i % 256) as u8).collect();
    std::fs::write(root.join("big.bin"), big).expect("write");
}

fn basic() -> Wick {
    Wick::start_with(BASIC, &["-D"], files)
}

/// A file: 200, its type, ETag, Last-Modified, length, Accept-Ranges.
#[test]
fn serves_a_file_with_validators() {
    let w = basic();
    let r = w.get("/a.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("content-length"), Some("12"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(r.header("etag").is_some_and(|e| e.starts_with('"')));
    assert!(r.header("last-modified").is_some());
    assert_eq!(r.body, b"hello world\n");
    let q = w.get("/a.txt?x=1");
    assert_eq!(q.body, b"hello world\n");
}

/// A type mimetype.assign does not know: octet-stream and no validators.
#[test]
fn unknown_type_has_no_validators() {
    let w = basic();
    let r = w.get("/noext");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(r.header("etag").is_none());
    assert!(r.header("last-modified").is_none());
}

/// Missing file: 404 with lighttpd's page.
#[test]
fn missing_file_is_404_with_standard_page() {
    let w = basic();
    let r = w.get("/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.header("content-length"), Some("341"));
    assert!(String::from_utf8_lossy(&r.body).contains("<title>404 Not Found</title>"));
}

/// Directories: redirect to the slash form (query kept), index file, 403.
#[test]
fn directories() {
    let w = basic();
    let r = w.get("/dir?x=1");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/dir/?x=1"));
    let r = w.get("/dir/");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<h1>x</h1>"[..]));
    assert_eq!(w.get("/empty/").status, 403);
}

/// static-file.exclude-extensions: 403.
#[test]
fn excluded_extension_is_forbidden() {
    assert_eq!(basic().get("/x.php").status, 403);
}

/// Path info: `/a.txt/extra` serves a.txt (lighttpd's default).
#[test]
fn path_info_serves_the_file() {
    let r = basic().get("/a.txt/extra");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello world\n"[..]));
}

/// If-None-Match and If-Modified-Since give 304 with the validators.
#[test]
fn conditional_requests() {
    let w = basic();
    let first = w.get("/a.txt");
    let etag = first.header("etag").expect("etag").to_string();
    let lm = first.header("last-modified").expect("lm").to_string();
    let r = w.request("GET", "/a.txt", &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert!(r.body.is_empty());
    assert_eq!(
        w.request("GET", "/a.txt", &[("If-Modified-Since", &lm)])
            .status,
        304
    );
    assert_eq!(
        w.request("GET", "/a.txt", &[("If-None-Match", "\"other\"")])
            .status,
        200
    );
}

/// Ranges: one, merged, multipart, suffix, unsatisfiable.
#[test]
fn ranges() {
    let w = basic();
    let r = w.request("GET", "/big.bin", &[("Range", "bytes=0-4")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 0-4/10240"));
    assert_eq!(r.body, [0, 1, 2, 3, 4]);
    let r = w.request("GET", "/big.bin", &[("Range", "bytes=0-1,5-6")]);
    assert_eq!(r.header("content-range"), Some("bytes 0-6/10240"));
    let r = w.request("GET", "/big.bin", &[("Range", "bytes=0-1,1000-1001")]);
    assert_eq!(
        r.header("content-type"),
        Some("multipart/byteranges; boundary=fkj49sn38dcn3")
    );
    assert_eq!(
        r.header("content-length").and_then(|l| l.parse().ok()),
        Some(r.body.len())
    );
    assert!(r.body.ends_with(b"--fkj49sn38dcn3--\r\n"));
    let r = w.request("GET", "/big.bin", &[("Range", "bytes=-5")]);
    assert_eq!(r.header("content-range"), Some("bytes 10235-10239/10240"));
    let r = w.request("GET", "/big.bin", &[("Range", "bytes=10240-")]);
    assert_eq!((r.status, r.header("content-length")), (416, Some("365")));
}

/// HEAD: the headers of GET, no body.
#[test]
fn head_has_headers_only() {
    let w = basic();
    let r = w.request("HEAD", "/a.txt", &[]);
    assert_eq!((r.status, r.header("content-length")), (200, Some("12")));
    assert!(r.body.is_empty());
}

/// Methods: POST without length 411, unknown 501, PUT 501, POST serves.
#[test]
fn methods() {
    let w = basic();
    assert_eq!(w.request("POST", "/a.txt", &[]).status, 411);
    assert_eq!(w.request("FOO", "/a.txt", &[]).status, 501);
    assert_eq!(
        w.request("PUT", "/a.txt", &[("Content-Length", "0")])
            .status,
        501
    );
    let r = w.request("POST", "/a.txt", &[("Content-Length", "0")]);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello world\n"[..]));
    let r = w.request("OPTIONS", "*", &[]);
    assert_eq!(
        (r.status, r.header("allow")),
        (200, Some("OPTIONS, GET, HEAD, POST"))
    );
}

/// HTTP/1.1 needs a Host header.
#[test]
fn missing_host_is_400() {
    let w = basic();
    let bytes = w.raw("GET /a.txt HTTP/1.1\r\nConnection: close\r\n\r\n");
    let r = &parse_responses(&bytes, false)[0];
    assert_eq!(r.status, 400);
}

/// Keep-alive: pipelined requests answered in order on one connection,
/// `Connection: close` after server.max-keep-alive-requests.
#[test]
fn keep_alive_limit() {
    let conf = format!("{BASIC}server.max-keep-alive-requests = 2\n");
    let w = Wick::start_with(&conf, &["-D"], files);
    let mut s = w.connect();
    let one = "GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n";
    s.write_all(format!("{one}{one}{one}").as_bytes())
        .expect("send");
    let rs = parse_responses(&read_all(&mut s), false);
    assert_eq!(rs.len(), 3, "{rs:?}");
    assert!(rs[..2].iter().all(|r| r.header("connection").is_none()));
    assert_eq!(rs[2].header("connection"), Some("close"));
}

/// Conditions select settings per request.
#[test]
fn conditions_route_requests() {
    let conf = format!(
        "{BASIC}$HTTP[\"url\"] =^ \"/other/\" {{ server.document-root = \"{{dir}}/other\" }}\n\
         $HTTP[\"host\"] == \"tagged.example\" {{ server.tag = \"tagged\" }}\n"
    );
    let w = Wick::start_with(&conf, &["-D"], |d| {
        files(d);
        std::fs::create_dir_all(d.join("other/other")).expect("mkdir");
        std::fs::write(d.join("other/other/f.txt"), "from other").expect("write");
    });
    assert_eq!(w.get("/other/f.txt").body, b"from other");
    let bytes =
        w.raw("GET /a.txt HTTP/1.1\r\nHost: tagged.example:8080\r\nConnection: close\r\n\r\n");
    assert_eq!(
        parse_responses(&bytes, false)[0].header("server"),
        Some("tagged")
    );
}

/// server.errorfile-prefix supplies the error page.
#[test]
fn errorfile_prefix() {
    let conf = format!("{BASIC}server.errorfile-prefix = \"{{dir}}/err-\"\n");
    let w = Wick::start_with(&conf, &["-D"], |d| {
        files(d);
        std::fs::write(d.join("err-404.html"), "custom 404").expect("write");
    });
    let r = w.get("/nope");
    assert_eq!((r.status, r.body.as_slice()), (404, &b"custom 404"[..]));
}

/// HTTP/2 with prior knowledge: the server answers the preface with SETTINGS.
#[test]
fn http2_prior_knowledge() {
    let w = basic();
    let mut s = w.connect();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .expect("send");
    let mut head = [0u8; 9];
    std::io::Read::read_exact(&mut s, &mut head).expect("a frame");
    assert_eq!(head[3], 0x4, "first frame is SETTINGS");
}

const H2C_REQUEST: &[u8] =
    b"GET /a.txt HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n\
    Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";

/// Reads a response head (through the blank line) byte by byte.
fn read_head(s: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).expect("a response head");
        head.push(b[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// HTTP/2 frames until stream `id` ends: (type, flags, stream) of each,
/// and the stream's DATA.
fn h2_stream(s: &mut std::net::TcpStream, id: u32) -> (Vec<(u8, u8, u32)>, Vec<u8>) {
    let (mut frames, mut data) = (Vec::new(), Vec::new());
    loop {
        let mut h = [0u8; 9];
        s.read_exact(&mut h).expect("a frame");
        let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
        let stream = u32::from_be_bytes([h[5] & 0x7f, h[6], h[7], h[8]]);
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).expect("a frame's payload");
        frames.push((h[3], h[4], stream));
        if stream == id && h[3] == 0 {
            data.extend_from_slice(&payload);
        }
        if stream == id && matches!(h[3], 0 | 1) && h[4] & 1 == 1 {
            return (frames, data);
        }
    }
}

/// A HEADERS frame for `GET path` on `stream` (HPACK: :method GET and
/// :scheme http indexed, :path and :authority `h` as literals), the
/// stream ended.
fn h2_get(stream: u8, path: &[u8]) -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x44, path.len() as u8];
    block.extend_from_slice(path);
    block.extend_from_slice(&[0x41, 1, b'h']);
    let mut frame = vec![0, 0, block.len() as u8, 0x1, 0x5, 0, 0, 0, stream];
    frame.extend_from_slice(&block);
    frame
}

/// An idle HTTP/2 connection is closed at `server.max-keep-alive-idle`
/// with GOAWAY (and, over TLS, close_notify), not dropped: the closing
/// window starts when the close does, not at the last request. (It
/// started at the last request, so the connection was dropped before
/// hyper wrote its GOAWAY whenever the timer was polled first.) Eight
/// connections, since each went wrong about half the time.
#[test]
fn idle_http2_connection_closes_with_goaway() {
    let w = Wick::start_with(
        // (at least the 5 s closing window, as the default is: with a
        // shorter idle limit the window outlasted it)
        &format!("{BASIC}server.max-keep-alive-idle = 5\n"),
        &["-D"],
        files,
    );
    let mut conns: Vec<std::net::TcpStream> = (0..8).map(|_| w.connect()).collect();
    let mut request =
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00".to_vec();
    request.extend_from_slice(&h2_get(1, b"/a.txt"));
    for s in &mut conns {
        s.set_read_timeout(Some(std::time::Duration::from_secs(15)))
            .expect("timeout");
        s.write_all(&request).expect("send");
        let (_, body) = h2_stream(s, 1);
        assert_eq!(body, b"hello world\n");
    }
    for (i, s) in conns.iter_mut().enumerate() {
        // frames until the server closes: GOAWAY must come first; PINGs
        // are answered, as a client does
        let mut goaway = false;
        loop {
            let mut h = [0u8; 9];
            match s.read_exact(&mut h) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("connection {i}: {e}"),
            }
            let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
            let mut payload = vec![0u8; len];
            s.read_exact(&mut payload).expect("a frame's payload");
            goaway |= h[3] == 0x7;
            if h[3] == 0x6 && h[4] & 1 == 0 {
                let mut ack = vec![0, 0, 8, 0x6, 0x1, 0, 0, 0, 0];
                ack.extend_from_slice(&payload);
                let _ = s.write_all(&ack);
            }
        }
        assert!(goaway, "connection {i} closed without GOAWAY");
    }
}

/// `Upgrade: h2c`: 101, then HTTP/2 with the request as stream 1 (its
/// answer needs the client's preface first); the connection takes more
/// streams. `server.h2c` disabled: answered over HTTP/1.1.
#[test]
fn h2c_upgrade() {
    let w = basic();
    let mut s = w.connect();
    s.write_all(H2C_REQUEST).expect("send");
    let head = read_head(&mut s);
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("\r\nupgrade: h2c\r\n"),
        "{head}"
    );
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .expect("preface");
    let (frames, body) = h2_stream(&mut s, 1);
    assert_eq!(frames[0].0, 0x4, "the server's SETTINGS first: {frames:?}");
    assert!(
        frames.contains(&(0x1, 0x4, 1)),
        "HEADERS on stream 1: {frames:?}"
    );
    assert_eq!(body, b"hello world\n");
    s.write_all(&h2_get(3, b"/a.txt")).expect("stream 3");
    let (_, body) = h2_stream(&mut s, 3);
    assert_eq!(body, b"hello world\n");

    let off = Wick::start_with(
        &format!("{BASIC}server.feature-flags = ( \"server.h2c\" => \"disable\" )\n"),
        &["-D"],
        files,
    );
    let mut s = off.connect();
    s.write_all(H2C_REQUEST).expect("send");
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
}

/// A module wick does not implement: refuses to start, naming it.
#[test]
fn unsupported_module_refuses_to_start() {
    let conf = format!("{BASIC}server.modules = ( \"mod_cgi\" )\n");
    let mut w = Wick::start(&conf);
    let status = w.wait().expect("exits");
    assert_eq!(status.code(), Some(255));
    assert!(
        w.stderr().contains("mod_cgi is not supported"),
        "{}",
        w.stderr()
    );
}

/// SIGTERM stops the server.
#[test]
fn sigterm_stops() {
    let mut w = basic();
    assert_eq!(w.get("/a.txt").status, 200);
    w.signal(libc::SIGTERM);
    assert!(w.wait().is_some_and(|s| s.success()));
}

/// SIGINT lets a response in flight finish, then exits; new connections
/// are refused meanwhile.
#[test]
fn sigint_is_graceful() {
    let mut w = Wick::start_with(BASIC, &["-D"], |d| {
        files(d);
        std::fs::write(d.join("htdocs/huge.txt"), vec![b'x'; 8 << 20]).expect("write");
    });
    let mut s = w.connect();
    s.write_all(b"GET /huge.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut s, &mut first).expect("the response started");
    w.signal(libc::SIGINT);
    let rest = read_all(&mut s);
    let mut all = first.to_vec();
    all.extend_from_slice(&rest);
    let r = &parse_responses(&all, false)[0];
    assert_eq!((r.status, r.body.len()), (200, 8 << 20));
    assert!(w.wait().is_some_and(|s| s.success()));
    assert!(std::net::TcpStream::connect(("127.0.0.1", w.port)).is_err());
}

/// SIGUSR1 re-reads the configuration; new requests see it.
#[test]
fn sigusr1_reloads_configuration() {
    let w = basic();
    assert_eq!(
        w.get("/a.txt").header("server"),
        Some(concat!("wick/", env!("CARGO_PKG_VERSION")))
    );
    let conf = w.dir.path().join("wick.conf");
    let mut text = std::fs::read_to_string(&conf).expect("read conf");
    text.push_str("server.tag = \"reloaded\"\n");
    std::fs::write(&conf, text).expect("write conf");
    w.signal(libc::SIGUSR1);
    let end = std::time::Instant::now() + support::DEADLINE;
    while w.get("/a.txt").header("server") != Some("reloaded") {
        assert!(
            std::time::Instant::now() < end,
            "reload not seen:\n{}",
            w.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A request head larger than server.max-request-field-size gets 431.
#[test]
fn oversized_request_head_is_431() {
    let w = basic();
    let big = "x".repeat(9000);
    let bytes = w.raw(&format!(
        "GET /a.txt HTTP/1.1\r\nHost: h\r\nX-Big: {big}\r\n\r\n"
    ));
    assert_eq!(parse_responses(&bytes, false)[0].status, 431);
    let conf = format!("{BASIC}server.max-request-field-size = 32768\n");
    let w = Wick::start_with(&conf, &["-D"], files);
    let bytes = w.raw(&format!(
        "GET /a.txt HTTP/1.1\r\nHost: h\r\nX-Big: {big}\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(parse_responses(&bytes, false)[0].status, 200);
}

/// The status line of a raw exchange ("" when the server answered nothing).
fn status_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().next().unwrap_or("").to_string()
}

/// Request heads lighttpd refuses although hyper's parser would take them
/// (server::gate), and the obs-fold it unfolds.
#[test]
fn head_rules_lighttpd_applies() {
    let w = basic();
    // (lighttpd's answer says HTTP/1.1 only when the request line did)
    let refused = [
        // empty lines before the request line
        (
            "\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n",
            "HTTP/1.0 400",
        ),
        // bare LF line ends
        ("GET /a.txt HTTP/1.1\nHost: a\n\n", "HTTP/1.0 400"),
        // two lengths, even equal ones
        (
            "POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            "HTTP/1.1 400",
        ),
        // a length and chunked
        (
            "POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "HTTP/1.1 400",
        ),
        // a control byte in a header value, of an HTTP/1.0 request
        ("GET /a.txt HTTP/1.0\r\nX: \x01\r\n\r\n", "HTTP/1.0 400"),
    ];
    for (req, want) in refused {
        let got = status_line(&w.raw(req));
        assert!(got.starts_with(want), "{req:?}: {got}");
    }
    // A coding other than chunked alone: 501.
    let got = status_line(&w.raw(
        "POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
    ));
    assert!(got.starts_with("HTTP/1.1 501"), "{got}");
    // No version (HTTP/0.9): 400 once the head is complete (lighttpd
    // 1.4.69 waits for the empty line too); the connection ending before
    // it gets no answer.
    let got = status_line(&w.raw("GET /a.txt\r\n\r\n"));
    assert!(got.starts_with("HTTP/1.0 400"), "{got}");
    assert_eq!(w.raw("GET /a.txt\r\n"), b"");
    // obs-fold is unfolded and the request served.
    let got = status_line(
        &w.raw("GET /a.txt HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n"),
    );
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
}

/// A request with `Upgrade` answered without switching protocols leaves
/// the connection HTTP/1: the next head on it is judged as any other,
/// refused with the standard page (not hyper's bare 400).
#[test]
fn head_rules_after_an_upgrade_not_taken() {
    let w = basic();
    let mut s = w.connect();
    s.write_all(
        b"GET /a.txt HTTP/1.1\r\nHost: a\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n\
          GET /a.txt HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
    )
    .expect("send");
    let rs = parse_responses(&read_all(&mut s), false);
    assert_eq!(rs.len(), 2, "{rs:?}");
    assert_eq!(rs[0].status, 200);
    assert_eq!(rs[0].body, b"hello world\n");
    assert_eq!(rs[1].status_line, "HTTP/1.1 400 Bad Request");
    assert_eq!(rs[1].header("content-type"), Some("text/html"));
    assert!(
        String::from_utf8_lossy(&rs[1].body).contains("<title>400 Bad Request</title>"),
        "{rs:?}"
    );
}

/// lighttpd limits a head's bytes, not its lines: 300 short header lines
/// are served. A later head on the same connection may have at most as
/// many lines as hyper's table was sized for by the first (KNOWN-DIFFERENCES).
#[test]
fn many_header_lines() {
    let w = basic();
    let many: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    let got = status_line(&w.raw(&format!(
        "GET /a.txt HTTP/1.1\r\nHost: a\r\n{many}Connection: close\r\n\r\n"
    )));
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    // A small first head, answered before the big one arrives.
    let mut c = w.connect();
    c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("send");
    let mut first = Vec::new();
    let mut buf = [0u8; 4096];
    while !first.ends_with(b"hello world\n") {
        let n = c.read(&mut buf).expect("read");
        assert!(n > 0, "closed early");
        first.extend_from_slice(&buf[..n]);
    }
    assert!(status_line(&first).starts_with("HTTP/1.1 200"));
    c.write_all(
        format!("GET /a.txt HTTP/1.1\r\nHost: a\r\n{many}Connection: close\r\n\r\n").as_bytes(),
    )
    .expect("send");
    let text = String::from_utf8_lossy(&read_all(&mut c)).into_owned();
    let statuses: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .collect();
    assert_eq!(statuses.len(), 1, "{text}");
    assert!(statuses[0].starts_with("HTTP/1.1 431"), "{text}");
}

/// A file past the in-memory cache's size, of bytes that differ from
/// their neighbours (a byte out of place shows).
const LARGE: usize = 6 * 1024 * 1024 + 17;

fn large_file(dir: &Path) -> Vec<u8> {
    let content: Vec<u8> = (0..LARGE).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("htdocs/large.bin"), &content).expect("write");
    content
}

/// The thread count of process `pid`.
fn threads(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A large file on a plain HTTP/1.x connection goes out with sendfile:
/// whole, in one range and in several, twice in a row on one connection
/// (the second request sent before the first answer was read, so that the
/// socket fills and sendfile waits for room), over HTTP/1.0, and without
/// a thread to read the file (the path for TLS and HTTP/2 reads it in a
/// blocking thread).
#[test]
fn large_files_go_out_with_sendfile() {
    let mut content = Vec::new();
    let w = Wick::start_with(BASIC, &["-D"], |d| {
        files(d);
        content = large_file(d);
    });
    assert_eq!(w.get("/a.txt").status, 200);
    let before = threads(w.pid());
    let r = w.get("/large.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(&*LARGE.to_string()));
    assert!(r.body == content, "the whole file, in order");
    assert_eq!(threads(w.pid()), before, "no reader thread");

    let r = w.request("GET", "/large.bin", &[("Range", "bytes=100-2500000")]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(&*format!("bytes 100-2500000/{LARGE}"))
    );
    assert!(r.body == content[100..=2_500_000]);

    let r = w.request("GET", "/large.bin", &[("Range", "bytes=0-9,3000000-")]);
    let mut want = Vec::new();
    for (a, b) in [(0, 9), (3_000_000, LARGE - 1)] {
        want.extend_from_slice(
            format!(
                "--fkj49sn38dcn3\r\nContent-Type: application/octet-stream\r\n\
                 Content-Range: bytes {a}-{b}/{LARGE}\r\n\r\n"
            )
            .as_bytes(),
        );
        want.extend_from_slice(&content[a..=b]);
        want.extend_from_slice(b"\r\n");
    }
    want.extend_from_slice(b"--fkj49sn38dcn3--\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-length"), Some(&*want.len().to_string()));
    assert!(r.body == want, "multipart ranges, in order");

    let mut s = w.connect();
    s.write_all(
        b"GET /large.bin HTTP/1.1\r\nHost: h\r\n\r\n\
          HEAD /large.bin HTTP/1.1\r\nHost: h\r\n\r\n\
          GET /large.bin HTTP/1.1\r\nHost: h\r\nRange: bytes=5-\r\n\r\n\
          GET /a.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .expect("send");
    let bytes = read_all(&mut s);
    let first = parse_responses(&bytes[..bytes.len().min(200)], true);
    assert_eq!(first.first().map(|r| r.status), Some(200));
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |e| e + 4);
    let rest = &bytes[head_end + LARGE..];
    let rs = parse_responses(rest, true);
    assert_eq!(
        rs.first().map(|r| (r.status, r.header("content-length"))),
        Some((200, Some(&*LARGE.to_string()))),
        "HEAD after the first answer"
    );
    assert!(bytes[head_end..head_end + LARGE] == content[..]);
    let after_head = rest
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |e| e + 4);
    let rs = parse_responses(&rest[after_head..], false);
    assert_eq!(rs.len(), 2, "the range and a.txt follow");
    assert_eq!(rs[0].status, 206);
    assert!(rs[0].body == content[5..]);
    assert_eq!(rs[1].body, b"hello world\n");

    let bytes = w.raw("GET /large.bin HTTP/1.0\r\n\r\n");
    let r = parse_responses(&bytes, false);
    assert_eq!(r.len(), 1);
    assert!(r[0].status_line.starts_with("HTTP/1.0 200"));
    assert!(r[0].body == content);
    assert_eq!(threads(w.pid()), before, "no reader thread");
}

/// Over HTTP/2 a large file is framed as DATA from the file's bytes
/// (never the stand-ins of the HTTP/1.x path).
#[test]
fn large_file_over_http2() {
    let mut content = Vec::new();
    let w = Wick::start_with(BASIC, &["-D"], |d| content = large_file(d));
    let mut s = w.connect();
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // SETTINGS: INITIAL_WINDOW_SIZE 2^31-1; the connection's window as large
    hello.extend_from_slice(&[0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff]);
    hello.extend_from_slice(&[0, 0, 4, 0x8, 0, 0, 0, 0, 0, 0x7f, 0xff, 0, 0]);
    hello.extend_from_slice(&h2_get(1, b"/large.bin"));
    s.write_all(&hello).expect("send");
    let (_, data) = h2_stream(&mut s, 1);
    assert_eq!(data.len(), LARGE);
    assert!(data == content, "the whole file, in order");
}

/// A file cut short while it is being sent: the client gets fewer bytes
/// than announced and the connection is closed (not left waiting for the
/// rest); the server goes on serving.
#[test]
fn a_file_truncated_while_sent_closes_the_connection() {
    const SIZE: usize = 48 * 1024 * 1024;
    let w = Wick::start_with(BASIC, &["-D"], |d| {
        files(d);
        let f = std::fs::File::create(d.join("htdocs/shrinks.bin")).expect("create");
        f.set_len(SIZE as u64).expect("size");
    });
    let mut s = w.connect();
    s.write_all(b"GET /shrinks.bin HTTP/1.1\r\nHost: h\r\n\r\n")
        .expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).expect("the head");
        assert!(n > 0, "closed before the head");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200"));
    std::fs::OpenOptions::new()
        .write(true)
        .open(w.root().join("shrinks.bin"))
        .and_then(|f| f.set_len(1024 * 1024))
        .expect("truncate");
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no close within the deadline: {e}"),
        }
    }
    assert!(got.len() < SIZE, "short of what was announced");
    assert_eq!(w.get("/a.txt").body, b"hello world\n");
}

/// `server.network-backend = "writev"` (lighttpd's switch away from
/// sendfile): the large file is read by a reader thread and written, the
/// bytes the same.
#[test]
fn network_backend_writev_reads_files() {
    let mut content = Vec::new();
    let conf = format!("{BASIC}\nserver.network-backend = \"writev\"\n");
    let w = Wick::start_with(&conf, &["-D"], |d| {
        files(d);
        content = large_file(d);
    });
    assert_eq!(w.get("/a.txt").status, 200);
    let before = threads(w.pid());
    let r = w.get("/large.bin");
    assert!(r.body == content, "the whole file, in order");
    assert!(threads(w.pid()) > before, "a reader thread: no sendfile");
}
