use super::*;
use http::HeaderValue;

fn headers(list: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in list {
        h.append(
            HeaderName::from_bytes(n.as_bytes()).expect("name"),
            HeaderValue::from_str(v).expect("value"),
        );
    }
    h
}

fn input<'a>(method: &'a Method, h: &'a HeaderMap) -> HeadInput<'a> {
    HeadInput {
        method,
        version: Version::HTTP_11,
        headers: h,
        target: b"/plain/a",
        host: Some(b"example.org"),
        client_host: b"example.org",
        client_ip: b"127.0.0.1",
        client_unix: false,
        scheme: b"http",
        hop_scheme: None,
        by: b"127.0.0.1:18400",
        forwarded: 0,
        framing: Framing::None,
        force_http10: false,
        upgrade: false,
        websocket: false,
        keep_alive: false,
        title_case: true,
        remap: None,
    }
}

fn build_text(h: &HeadInput<'_>) -> String {
    build_head(h).0
}

/// The head as text, and what `build` says of it.
fn build_head(h: &HeadInput<'_>) -> (String, HeadInfo) {
    let mut out = Vec::new();
    let info = build(h, &mut out);
    (String::from_utf8(out).expect("utf-8"), info)
}

/// The spec's minimal curl GET (proxy.md §3.3), byte for byte.
#[test]
fn minimal_get() {
    let m = Method::GET;
    let h = headers(&[
        ("host", "127.0.0.1:18400"),
        ("user-agent", "curl/7.88.1"),
        ("accept", "*/*"),
    ]);
    let mut i = input(&m, &h);
    i.target = b"/plain/x?y=1";
    i.host = Some(b"127.0.0.1:18400");
    i.client_host = b"127.0.0.1:18400";
    assert_eq!(
        build_text(&i),
        "GET /plain/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:18400\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\
         X-Forwarded-For: 127.0.0.1\r\nX-Host: 127.0.0.1:18400\r\nX-Forwarded-Host: 127.0.0.1:18400\r\n\
         X-Forwarded-Proto: http\r\nConnection: close\r\n\r\n"
    );
    i.keep_alive = true;
    assert!(
        !build_text(&i).contains("Connection:"),
        "keep-alive sends no Connection line"
    );
}

/// The spec's header-filtering example (proxy.md §3.3): hop-by-hop
/// headers dropped, X-Forwarded-* rewritten in place, TE kept with the
/// `close, te` Connection line. (Names are Title-Case: `x-lower` becomes
/// `X-Lower`, a documented difference.)
#[test]
fn header_filtering() {
    let m = Method::GET;
    let h = headers(&[
        ("host", "example.org"),
        ("connection", "keep-alive, X-Foo"),
        ("keep-alive", "300"),
        ("proxy-connection", "keep-alive"),
        ("proxy", "evil"),
        ("te", "trailers"),
        ("upgrade", "websocket"),
        ("x-forwarded-for", "10.0.0.1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "spoof"),
        ("x-host", "spoof"),
        ("forwarded", "for=1.2.3.4"),
        ("set-cookie", "a=b"),
        ("cookie", "c=d"),
        ("x-foo", "bar"),
        ("expect", "100-continue"),
        ("x-empty", ""),
        ("x-lower", "v"),
    ]);
    let i = input(&m, &h);
    assert_eq!(
        build_text(&i),
        "GET /plain/a HTTP/1.1\r\nHost: example.org\r\nKeep-Alive: 300\r\nTE: trailers\r\n\
         X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: example.org\r\n\
         X-Host: example.org\r\nForwarded: for=1.2.3.4\r\nCookie: c=d\r\nX-Foo: bar\r\nExpect: 100-continue\r\n\
         X-Lower: v\r\nConnection: close, te\r\n\r\n"
    );
}

/// HTTP/1.0 without Host: HTTP/1.0 request line, no Host / X-Host lines.
#[test]
fn http10_without_host() {
    let m = Method::GET;
    let h = headers(&[]);
    let mut i = input(&m, &h);
    i.version = Version::HTTP_10;
    i.host = None;
    i.client_host = b"";
    i.target = b"/plain/c";
    assert_eq!(
        build_text(&i),
        "GET /plain/c HTTP/1.0\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nConnection: close\r\n\r\n"
    );
}

/// Bodies: the client's Content-Length in place; a synthesised one for
/// buffered chunked uploads; `Content-Length: 0` for body-less methods
/// other than GET/HEAD; `Transfer-Encoding: chunked` after Host when
/// streaming an unknown length; Expect dropped when there is a body.
#[test]
fn body_framing() {
    let post = Method::POST;
    let h = headers(&[
        ("host", "h"),
        ("content-length", "5"),
        ("expect", "100-continue"),
        ("x-a", "1"),
    ]);
    let mut i = input(&post, &h);
    i.framing = Framing::Length(5);
    let t = build_text(&i);
    assert!(t.contains("Content-Length: 5\r\nX-A: 1\r\n"), "{t}");
    assert!(!t.contains("Expect"), "{t}");
    let h = headers(&[
        ("host", "h"),
        ("transfer-encoding", "chunked"),
        ("x-a", "1"),
    ]);
    let mut i = input(&post, &h);
    i.framing = Framing::Length(8);
    let t = build_text(&i);
    assert!(
        t.contains("X-A: 1\r\nContent-Length: 8\r\nX-Forwarded-For"),
        "{t}"
    );
    assert!(!t.contains("Transfer-Encoding"), "{t}");
    i.framing = Framing::Chunked;
    let t = build_text(&i);
    assert!(t.starts_with("POST /plain/a HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n"), "{t}");
    assert!(!t.contains("Content-Length"), "{t}");
    let put = Method::PUT;
    let h = headers(&[("host", "h")]);
    let i = input(&put, &h);
    assert!(build_text(&i).contains("\r\nContent-Length: 0\r\n"));
    let get = Method::GET;
    let i = input(&get, &h);
    assert!(!build_text(&i).contains("Content-Length"));
}

/// Forwarded: all parameters; seeded from X-Forwarded-For; appended to an
/// existing header (proxy.md §4).
#[test]
fn forwarded() {
    let m = Method::GET;
    let h = headers(&[("host", "ex.org:81")]);
    let mut i = input(&m, &h);
    i.client_host = b"ex.org:81";
    i.forwarded = fwd::FOR | fwd::BY | fwd::PROTO | fwd::HOST;
    let t = build_text(&i);
    assert!(
        t.contains(
            "Forwarded: for=127.0.0.1;by=\"127.0.0.1:18400\";proto=http;host=\"ex.org:81\"\r\n"
        ),
        "{t}"
    );
    let h = headers(&[
        ("host", "ex.org"),
        ("x-forwarded-for", "10.1.1.1, 2001:db8::1"),
    ]);
    let mut i = input(&m, &h);
    i.client_host = b"ex.org";
    i.forwarded = fwd::FOR | fwd::BY | fwd::PROTO | fwd::HOST;
    let t = build_text(&i);
    assert!(
        t.contains("X-Forwarded-For: 10.1.1.1, 2001:db8::1, 127.0.0.1\r\n"),
        "{t}"
    );
    assert!(
        t.contains("Forwarded: for=\"10.1.1.1\", for=\"[2001:db8::1]\", for=127.0.0.1;by=\"127.0.0.1:18400\";proto=http;host=\"ex.org\"\r\n"),
        "{t}"
    );
    let h = headers(&[("host", "ex.org"), ("forwarded", "for=9.9.9.9;proto=https")]);
    let mut i = input(&m, &h);
    i.client_host = b"ex.org";
    i.forwarded = fwd::FOR | fwd::BY | fwd::PROTO | fwd::HOST;
    let t = build_text(&i);
    assert!(
        t.contains("Forwarded: for=9.9.9.9;proto=https, for=127.0.0.1;by=\"127.0.0.1:18400\";proto=http;host=\"ex.org\"\r\n"),
        "{t}"
    );
    // after mod_extforward (its scheme https, the hop's http): the hop's
    // element, its address quoted (lighttpd 1.4.69)
    let h = headers(&[("host", "ex.org"), ("x-forwarded-for", "10.0.0.9")]);
    let mut i = input(&m, &h);
    i.client_host = b"ex.org";
    i.scheme = b"https";
    i.hop_scheme = Some(b"http");
    i.forwarded = fwd::FOR | fwd::PROTO | fwd::HOST;
    let t = build_text(&i);
    assert!(
        t.contains("X-Forwarded-Proto: https\r\n")
            && t.contains(
                "Forwarded: for=\"10.0.0.9\", for=\"127.0.0.1\";proto=http;host=\"ex.org\"\r\n"
            ),
        "{t}"
    );
}

/// A client that repeats the headers wick writes gets no line of its own
/// through: X-Forwarded-Proto, X-Host and X-Forwarded-Host are written
/// once (wick's value); X-Forwarded-For and Forwarded lines are joined
/// into one that ends with wick's element (lighttpd joins repeated lines
/// before it sets or appends).
#[test]
fn repeated_forwarding_headers() {
    let m = Method::GET;
    let h = headers(&[
        ("host", "ex.org"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-proto", "ftp"),
        ("x-host", "a"),
        ("x-host", "b"),
        ("x-forwarded-host", "a"),
        ("x-forwarded-host", "b"),
        ("x-forwarded-for", "1.1.1.1"),
        ("x-forwarded-for", ""),
        ("x-forwarded-for", "2.2.2.2"),
        ("forwarded", "for=1.1.1.1"),
        ("forwarded", "for=2.2.2.2"),
    ]);
    let mut i = input(&m, &h);
    i.client_host = b"ex.org";
    i.forwarded = fwd::FOR | fwd::PROTO;
    let t = build_text(&i);
    let count = |name: &str| t.matches(&format!("\r\n{name}: ")).count();
    for name in [
        "X-Forwarded-Proto",
        "X-Host",
        "X-Forwarded-Host",
        "X-Forwarded-For",
        "Forwarded",
    ] {
        assert_eq!(count(name), 1, "{name}: {t}");
    }
    assert!(t.contains("\r\nX-Forwarded-Proto: http\r\n"), "{t}");
    assert!(t.contains("\r\nX-Host: ex.org\r\n"), "{t}");
    assert!(t.contains("\r\nX-Forwarded-Host: ex.org\r\n"), "{t}");
    assert!(
        t.contains("\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 127.0.0.1\r\n"),
        "{t}"
    );
    assert!(
        t.contains("\r\nForwarded: for=1.1.1.1, for=2.2.2.2, for=127.0.0.1;proto=http\r\n"),
        "{t}"
    );
    // without a Forwarded header: seeded from every X-Forwarded-For line
    let h = headers(&[
        ("host", "ex.org"),
        ("x-forwarded-for", "1.1.1.1"),
        ("x-forwarded-for", "2.2.2.2"),
    ]);
    let mut i = input(&m, &h);
    i.client_host = b"ex.org";
    i.forwarded = fwd::FOR;
    let t = build_text(&i);
    assert!(
        t.contains("\r\nForwarded: for=\"1.1.1.1\", for=\"2.2.2.2\", for=127.0.0.1\r\n"),
        "{t}"
    );
}

/// Upgrade: forwarded only when enabled; `close, upgrade` when the
/// client's Connection allows it; plain `close` with `Connection: close`.
#[test]
fn upgrade_and_connection_line() {
    let m = Method::GET;
    let h = headers(&[
        ("host", "h"),
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
    ]);
    let mut i = input(&m, &h);
    let t = build_text(&i);
    assert!(
        !t.contains("Upgrade: websocket") && t.ends_with("Connection: close\r\n\r\n"),
        "{t}"
    );
    i.upgrade = true;
    let (t, info) = build_head(&i);
    assert!(
        info.upgrade
            && t.contains("Upgrade: websocket\r\n")
            && t.ends_with("Connection: close, upgrade\r\n\r\n"),
        "{t}"
    );
    i.keep_alive = true;
    assert!(build_text(&i).ends_with("Connection: close, upgrade\r\n\r\n"));
    let h = headers(&[
        ("host", "h"),
        ("connection", "close"),
        ("upgrade", "websocket"),
    ]);
    let mut i = input(&m, &h);
    i.upgrade = true;
    let t = build_text(&i);
    assert!(
        t.contains("Upgrade: websocket\r\n") && t.ends_with("Connection: close\r\n\r\n"),
        "{t}"
    );
    i.force_http10 = true;
    let t = build_text(&i);
    assert!(t.contains(" HTTP/1.0\r\n") && !t.contains("Upgrade"), "{t}");
}

/// TE other than `trailers` is dropped; with keep-alive the line is `te`.
#[test]
fn te_variants() {
    let m = Method::GET;
    let h = headers(&[("host", "h"), ("te", "gzip")]);
    let i = input(&m, &h);
    let t = build_text(&i);
    assert!(
        !t.contains("Te:") && t.ends_with("Connection: close\r\n\r\n"),
        "{t}"
    );
    let h = headers(&[
        ("host", "h"),
        ("connection", "keep-alive"),
        ("te", "trailers"),
    ]);
    let mut i = input(&m, &h);
    i.keep_alive = true;
    assert!(build_text(&i).ends_with("Connection: te\r\n\r\n"));
}

/// The head of a WebSocket over HTTP/2 with the client's `h`.
fn websocket_head(h: &HeaderMap) -> (String, HeadInfo) {
    let m = Method::CONNECT;
    let mut i = input(&m, h);
    i.version = Version::HTTP_2;
    i.title_case = false;
    i.upgrade = true;
    i.websocket = true;
    build_head(&i)
}

#[test]
fn websocket_over_http2_goes_up_as_an_http11_upgrade() {
    // as lighttpd 1.4.69 sends it: GET, its own key when the client sent
    // none, then Upgrade and Connection last
    let (head, info) = websocket_head(&headers(&[("sec-websocket-version", "13")]));
    assert_eq!(
        head,
        "GET /plain/a HTTP/1.1\r\nHost: example.org\r\nsec-websocket-version: 13\r\n\
         X-Forwarded-For: 127.0.0.1\r\nX-Host: example.org\r\nX-Forwarded-Host: example.org\r\n\
         X-Forwarded-Proto: http\r\nSec-WebSocket-Key: MDAwMDAwMDAwMDAwMDAwMA==\r\n\
         Upgrade: websocket\r\nConnection: close, upgrade\r\n\r\n"
    );
    assert!(info.upgrade);
    // the client's own key is passed on, in its place, and not doubled
    let (head, _) = websocket_head(&headers(&[
        ("sec-websocket-key", "abc"),
        ("sec-websocket-protocol", "chat"),
    ]));
    assert_eq!(
        head,
        "GET /plain/a HTTP/1.1\r\nHost: example.org\r\nsec-websocket-key: abc\r\n\
         sec-websocket-protocol: chat\r\nX-Forwarded-For: 127.0.0.1\r\nX-Host: example.org\r\n\
         X-Forwarded-Host: example.org\r\nX-Forwarded-Proto: http\r\n\
         Upgrade: websocket\r\nConnection: close, upgrade\r\n\r\n"
    );
}

/// Cookie lines (HTTP/2 clients may split the header, RFC 9113 §8.2.3)
/// go up as one, joined with `; ` as lighttpd joins them; an empty line
/// adds nothing.
#[test]
fn cookies_joined() {
    let m = Method::GET;
    let h = headers(&[
        ("cookie", ""),
        ("cookie", "a=1"),
        ("x-a", "1"),
        ("cookie", "b=2"),
    ]);
    let t = build_text(&input(&m, &h));
    assert!(t.contains("\r\nCookie: a=1; b=2\r\n"), "{t}");
    assert_eq!(t.matches("Cookie").count(), 1, "{t}");
    let h = headers(&[("cookie", "")]);
    let t = build_text(&input(&m, &h));
    assert!(!t.contains("Cookie"), "{t}");
}
