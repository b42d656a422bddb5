//! The server core's handling of request lines, header sets, HTTP/1.0
//! keep-alive and the connection limits, compared with lighttpd on the
//! same configuration: request by request (`Pair::check`), whole sessions
//! on one connection (`Pair::check_session`), and when each server closes
//! an idle or stalled connection.
//!
//! Each case here is one where wick once answered differently; the
//! comment says what lighttpd does.

use std::io::Read;
use std::time::{Duration, Instant};

use compat_tests::http::{Client, Pair, Req, Side, put};

const CONF: &str = r#"server.document-root = "{root}"
mimetype.assign = ( ".txt" => "text/plain", ".html" => "text/html" )
"#;

fn start(test: &str, extra: &str) -> Option<Pair> {
    Pair::start(test, &format!("{CONF}{extra}"), |dir| {
        let htdocs = dir.join("htdocs");
        put(&htdocs.join("a.txt"), "hello\n");
        put(&htdocs.join("b.html"), "<p>b</p>\n");
        // (types mimetype.assign does not know: no ETag, which a
        // session compares and which differs by inode)
        put(&htdocs.join("a.bin"), "hello\n");
        put(&htdocs.join("b.bin"), "<p>b</p>\n");
    })
}

/// Request-line versions, HEAD refusals, headers lighttpd takes once,
/// codings.
#[test]
fn request_lines_and_header_sets() {
    let Some(mut pair) = start("request_lines_and_header_sets", "") else {
        return;
    };
    let raw = |label: &str, bytes: &str| Req::raw("GET", bytes).label(label);
    for req in [
        // a version that is not a misspelt 1.0 or 1.1: 505
        raw("HTTP/01.1", "GET /a.txt HTTP/01.1\r\nHost: a\r\n\r\n"),
        raw("HTTP/x", "GET /a.txt HTTP/x\r\nHost: a\r\n\r\n"),
        raw("HTTP/1.", "GET /a.txt HTTP/1.\r\nHost: a\r\n\r\n"),
        raw("HTTP/10", "GET /a.txt HTTP/10\r\nHost: a\r\n\r\n"),
        raw("HTTP/", "GET /a.txt HTTP/\r\nHost: a\r\n\r\n"),
        // a misspelt one: 400
        raw("HTTP/1.01", "GET /a.txt HTTP/1.01\r\nHost: a\r\n\r\n"),
        raw("HTTP/1.1a", "GET /a.txt HTTP/1.1a\r\nHost: a\r\n\r\n"),
        // a HEAD request refused for its line or a header: the page's
        // head only (its length said); a version fault: the whole page
        Req::raw("HEAD", "HEAD * HTTP/1.1\r\nHost: a\r\n\r\n").label("HEAD *"),
        Req::raw("HEAD", "HEAD a.txt HTTP/1.1\r\nHost: a\r\n\r\n").label("HEAD no slash"),
        Req::raw("HEAD", "HEAD /a.txt HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n")
            .label("HEAD control byte"),
        Req::raw("HEAD", "HEAD /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            .label("HEAD two hosts"),
        Req::raw(
            "HEAD",
            "HEAD /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        )
        .label("HEAD gzip coding"),
        raw("HEAD HTTP/1.2", "HEAD /a.txt HTTP/1.2\r\nHost: a\r\n\r\n"),
        // headers taken once: another value is 400, the same one (any
        // case, trailing blanks) or an empty one is let be
        Req::get("/a.txt")
            .header("If-Modified-Since", "a")
            .header("X", "1")
            .header("If-Modified-Since", "b"),
        Req::get("/a.txt")
            .header("If-Modified-Since", "a")
            .header("If-Modified-Since", "A"),
        Req::get("/a.txt")
            .header("Content-Type", "a")
            .header("Content-Type", "b"),
        Req::get("/a.txt")
            .header("Content-Type", "a")
            .header("Content-Type", ""),
        Req::get("/a.txt")
            .header("HTTP2-Settings", "a")
            .header("HTTP2-Settings", "b"),
        Req::head("/a.txt")
            .header("If-Modified-Since", "a")
            .header("If-Modified-Since", "b"),
        // the first fault decides: the duplicate before the coding
        Req::get("/a.txt")
            .header("If-Modified-Since", "a")
            .header("If-Modified-Since", "b")
            .header("Transfer-Encoding", "gzip"),
        // `chunked` on several lines is chunked; an empty coding is as if
        // absent; another one is 501
        Req::raw(
            "POST",
            "POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
        )
        .label("chunked twice"),
        Req::raw(
            "POST",
            "POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\r\nConnection: close\r\n\r\n0\r\n\r\n",
        )
        .label("chunked, then empty"),
        Req::raw(
            "POST",
            "POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nConnection: close\r\n\r\n",
        )
        .label("empty coding only"),
        Req::raw(
            "POST",
            "POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n0\r\n\r\n",
        )
        .label("chunked, then gzip"),
        // an empty coding folded onto the next line is not an empty one
        Req::raw(
            "POST",
            "POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        )
        .label("empty coding, folded"),
        // a body announced with chunks on GET or HEAD: 400 (as with a
        // length)
        Req::get("/a.txt").chunked(b"abc"),
        Req::get("/a.txt").chunked(b""),
        Req::head("/a.txt").chunked(b""),
    ] {
        pair.check(req);
    }
    pair.finish();
}

/// HTTP/1.0 keep-alive as lighttpd says it (`Connection: keep-alive`, or
/// `close` when the answer ends it, never both), and one empty line
/// between requests let be.
#[test]
fn keep_alive_sessions() {
    let Some(mut pair) = start(
        "keep_alive_sessions",
        "server.max-keep-alive-requests = 3\n",
    ) else {
        return;
    };
    let v10 = |t: &str| Req::get(t).http10().connection("keep-alive");
    let raw10 = |bytes: &str| Req::raw("GET", bytes);
    for (label, reqs) in [
        (
            "keep-alive among other tokens",
            vec![
                v10("/a.bin").connection("keep-alive, foo"),
                v10("/b.bin").connection("Upgrade, Keep-Alive"),
                Req::get("/a.bin").http10().connection("foo"),
            ],
        ),
        (
            "the limit of requests",
            vec![v10("/a.bin"), v10("/b.bin"), v10("/a.bin"), v10("/b.bin")],
        ),
        (
            "a refusal ends it",
            vec![v10("/a.bin"), v10("/a.bin").host("a_b")],
        ),
        (
            "OPTIONS *",
            vec![
                raw10("OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
                raw10("OPTIONS * HTTP/1.0\r\n\r\n"),
            ],
        ),
        (
            "an empty line between requests",
            vec![
                Req::raw("GET", "GET /a.bin HTTP/1.1\r\nHost: a\r\n\r\n"),
                Req::raw("GET", "\r\nGET /b.bin HTTP/1.1\r\nHost: a\r\n\r\n"),
                Req::raw("GET", "\nGET /a.bin HTTP/1.1\r\nHost: a\r\n\r\n"),
            ],
        ),
        (
            "two empty lines between requests",
            vec![
                Req::raw("GET", "GET /a.bin HTTP/1.1\r\nHost: a\r\n\r\n"),
                Req::raw("GET", "\r\n\r\nGET /b.bin HTTP/1.1\r\nHost: a\r\n\r\n"),
            ],
        ),
    ] {
        pair.check_session(label, &reqs, false);
        pair.check_session(&format!("{label}, pipelined"), &reqs, true);
    }
    pair.finish();
}

/// `server.protocol-http11 = "disable"`, at the top and in a condition:
/// HTTP/1.1 requests are answered as HTTP/1.0 (no ranges, no chunks) and
/// their connection closes; an HTTP/1.0 client still keeps its own.
#[test]
fn protocol_http11_disabled() {
    let Some(mut pair) = start(
        "protocol_http11_disabled",
        r#"$HTTP["host"] == "old.example" { server.protocol-http11 = "disable" }
"#,
    ) else {
        return;
    };
    let old = |r: Req| r.host("old.example");
    for req in [
        old(Req::get("/a.txt")),
        old(Req::get("/a.txt").header("Range", "bytes=0-1")),
        old(Req::get("/")),
        old(Req::get("/missing")),
        old(Req::new("POST", "/a.txt").chunked(b"x")),
        Req::get("/a.txt").header("Range", "bytes=0-1"),
    ] {
        pair.check(req);
    }
    let ka = |r: Req| r.host("old.example").connection("keep-alive");
    pair.check_session(
        "HTTP/1.1 keep-alive asked",
        &[ka(Req::get("/a.bin")), ka(Req::get("/b.bin"))],
        true,
    );
    pair.check_session(
        "HTTP/1.0 keep-alive asked",
        &[
            ka(Req::get("/a.bin").http10()),
            ka(Req::get("/b.bin").http10()),
        ],
        false,
    );
    pair.finish();

    let Some(mut pair) = start(
        "protocol_http11_disabled_everywhere",
        "server.protocol-http11 = \"disable\"\n",
    ) else {
        return;
    };
    for req in [
        Req::get("/a.txt"),
        Req::get("/a.txt").header("Range", "bytes=0-1"),
        Req::raw("GET", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").label("OPTIONS *"),
        // (the missing Host of an HTTP/1.1 request still counts)
        Req::raw("GET", "GET /a.txt HTTP/1.1\r\n\r\n").label("no Host"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

/// Sends a keep-alive GET for `host` to `side` and reads its answer.
fn answered(pair: &Pair, side: Side, host: &str, target: &str) -> Client {
    let mut c = pair.server(side).connect().expect("connect");
    c.send(format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .expect("send");
    c.response(false).expect("response");
    c
}

/// The idle limits a condition sets hold for its requests:
/// `server.max-keep-alive-idle` after the answer (0: no keep-alive at
/// all), `server.max-write-idle` for a client that stops reading.
#[test]
fn idle_limits_in_conditions() {
    let Some(mut pair) = Pair::start(
        "idle_limits_in_conditions",
        &format!(
            r#"{CONF}server.max-keep-alive-idle = 30
$HTTP["host"] == "short.example" {{
    server.max-keep-alive-idle = 1
    server.max-write-idle = 2
}}
$HTTP["host"] == "zero.example" {{ server.max-keep-alive-idle = 0 }}
"#
        ),
        |dir| {
            let htdocs = dir.join("htdocs");
            put(&htdocs.join("a.txt"), "hello\n");
            put(&htdocs.join("a.bin"), "hello\n");
            // more than the socket buffers of both ends hold
            put(&htdocs.join("big.bin"), vec![b'x'; 24 << 20]);
        },
    ) else {
        return;
    };
    pair.check(Req::get("/a.txt").host("zero.example").keep_alive());
    pair.check_session(
        "keep-alive idle 0",
        &[
            Req::get("/a.bin").host("zero.example").keep_alive(),
            Req::get("/a.bin").host("zero.example"),
        ],
        true,
    );
    for side in [Side::Lighttpd, Side::Wick] {
        // closed within lighttpd's whole-second clock of 1 s
        let mut short = answered(&pair, side, "short.example", "/a.txt");
        assert!(
            short.closed_within(Duration::from_secs(4)),
            "{side:?}: keep-alive idle of 1 s in a condition"
        );
        let mut long = answered(&pair, side, "other.example", "/a.txt");
        assert!(
            !long.closed_within(Duration::from_secs(3)),
            "{side:?}: keep-alive idle of 30 s at the top"
        );
    }
    // A client that stops reading a large file is dropped after the
    // condition's write idle time: it gets only part of the file.
    for side in [Side::Lighttpd, Side::Wick] {
        let port = pair.server(side).port;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        std::io::Write::write_all(
            &mut s,
            b"GET /big.bin HTTP/1.1\r\nHost: short.example\r\nConnection: close\r\n\r\n",
        )
        .expect("send");
        // (not reading: the answer fills the socket buffers and stalls)
        let stalled = Instant::now();
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        // The client stalls (the behaviour under test, not a wait for
        // the servers): well past the 2 s limit, which lighttpd checks
        // once a second.
        std::thread::sleep(Duration::from_secs(5));
        let eof = loop {
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => got += n,
                Err(_) => break false,
            }
            if stalled.elapsed() > Duration::from_secs(20) {
                break false;
            }
        };
        assert!(eof, "{side:?}: the stalled connection ends");
        assert!(
            got < 24 << 20,
            "{side:?}: dropped before the whole file ({got} bytes)"
        );
    }
    pair.finish();
}

/// Which status gets which error handler, as lighttpd decides:
/// `server.error-handler` (it wins when both are set) takes a 200 page
/// under the error's status, never for 412 and 416;
/// `server.error-handler-404` serves its page in the request's place
/// (its method and validators: 304, 206, 412, OPTIONS). The error files'
/// type comes from mimetype.assign (none without an entry).
#[test]
fn error_handlers_by_status() {
    let Some(mut pair) = Pair::start(
        "error_handlers_by_status",
        r#"server.document-root = "{root}"
mimetype.assign = ( ".txt" => "text/plain", ".html" => "text/html", ".inc" => "text/plain" )
static-file.exclude-extensions = ( ".inc" )
server.errorfile-prefix = "{dir}/errors/status-"
$HTTP["host"] == "all.example" { server.error-handler = "/handler.html" }
$HTTP["host"] == "h404.example" { server.error-handler-404 = "/e404.html" }
$HTTP["host"] == "both.example" {
    server.error-handler = "/handler.html"
    server.error-handler-404 = "/e404.html"
}
$HTTP["host"] == "typed.example" {
    mimetype.assign = ( ".txt" => "text/plain", ".html" => "text/html; charset=utf-8" )
    server.errorfile-prefix = "{dir}/typed/status-"
}
$HTTP["host"] == "untyped.example" {
    mimetype.assign = ( ".txt" => "text/plain" )
    server.errorfile-prefix = "{dir}/untyped/status-"
}
"#,
        |dir| {
            let htdocs = dir.join("htdocs");
            put(&htdocs.join("a.txt"), "a\n");
            put(&htdocs.join("x.inc"), "x\n");
            put(&htdocs.join("handler.html"), "handler\n");
            put(&htdocs.join("e404.html"), "e404\n");
            std::fs::create_dir_all(htdocs.join("d")).expect("dir");
            for s in [403, 404, 412, 416, 501] {
                put(
                    &dir.join(format!("errors/status-{s}.html")),
                    format!("page {s}\n"),
                );
            }
            // (their own files: lighttpd keeps a file's type once found)
            put(&dir.join("typed/status-404.html"), "typed 404\n");
            put(&dir.join("untyped/status-404.html"), "untyped 404\n");
        },
    ) else {
        return;
    };
    for host in ["all.example", "h404.example", "both.example"] {
        let h = |r: Req| r.host(host);
        for req in [
            h(Req::get("/missing")),
            h(Req::get("/x.inc")),
            h(Req::get("/d/")),
            h(Req::head("/missing")),
            h(Req::get("/a.txt").header("Range", "bytes=5000-")),
            h(Req::new("POST", "/a.txt")
                .body("")
                .header("If-None-Match", "*")),
            h(Req::new("POST", "/missing")
                .body("")
                .header("If-None-Match", "*")),
            h(Req::new("POST", "/missing").body("")),
            h(Req::new("DELETE", "/a.txt")),
            h(Req::get("/missing").header("If-None-Match", "*")),
            h(Req::get("/missing").header("Range", "bytes=0-1")),
            h(Req::new("OPTIONS", "/missing")),
        ] {
            pair.check(req);
        }
    }
    for host in ["typed.example", "untyped.example"] {
        pair.check(Req::get("/missing").host(host));
    }
    pair.finish();
}
