//! TLS (issue 7), differentially: lighttpd 1.4.69 with mod_openssl and
//! wick serve the same configurations; real TLS clients (`openssl
//! s_client`, curl) compare what each does: the certificate chosen per SNI
//! name, the negotiated protocol version and ALPN protocol, client
//! certificate checks (the handshake's outcome, the alert, the HTTP
//! status), and the HTTP answers over TLS, HTTP/2 and WebSockets (`wss://`)
//! included.
//!
//! Sockets: the preamble's plain socket (`{port}`) answers the readiness
//! probe; each TLS listener is a `$SERVER["socket"] == "127.0.0.1:{port2}"`
//! block (`{port3}` …) on a socket the harness hands over as well
//! (`Launch::extra_sockets`, fds 4, 5 …), so no port is chosen by number.
//! This is the shape of real configurations (`:80` plain plus `:443` with
//! `ssl.engine`), and it keeps the plain-HTTP probe honest: both servers
//! set up every listener before serving any, and a TLS client of a socket
//! handed over as listening is queued, never refused.
//!
//! Certificates are made in each test's scratch directory with the
//! `openssl` command (`compat_tests::tls::Pki`; no crate added, and the
//! command is there wherever `s_client` is): a CA, server certificates for
//! `default.example` (the sockets' own), `a.example`, `b.example`,
//! `c.example`, `secure.example`, a client certificate from the CA and one
//! from an unknown CA. The tests skip loudly (fail under
//! `WICK_REQUIRE_LIGHTTPD=1`) without `openssl`, curl, or lighttpd's
//! mod_openssl (Debian: `lighttpd-mod-openssl`). What is compared is
//! listed in `compat_tests::tls`; ETags are off (their values differ by
//! design, KNOWN-DIFFERENCES).
//!
//! What lighttpd 1.4.69 does, as these scenarios pin it (OpenSSL 3.0):
//! - SNI: `ssl.pemfile` in `$HTTP["host"]` blocks (inside the TLS socket's
//!   block or at the top level) is chosen by the SNI name, compared
//!   without case (`A.EXAMPLE` gets a.example's certificate); a trailing
//!   dot, an unknown name or no SNI get the socket's own certificate. The
//!   HTTP `Host` is not checked against SNI: the `Host` alone selects the
//!   request's configuration (SNI a.example with `Host: b.example` is
//!   served from b's document root).
//! - ALPN: the client's order wins (`http/1.1,h2` → http/1.1); `h2`,
//!   `http/1.1` and `http/1.0` are accepted; an offer with none of them
//!   gets alert 120 (no_application_protocol); with `server.h2proto`
//!   disabled h2 is not offered, so `h2` alone gets alert 120 too.
//! - Client certificates: `ssl.verifyclient.enforce` defaults to enabled.
//!   Enforced, no certificate → handshake_failure (40) in TLS 1.2,
//!   certificate_required (116) in TLS 1.3; a certificate from an unknown
//!   CA → unknown_ca (48) in both. Not enforced, all three get 200, and
//!   the access log shows `SSL_CLIENT_VERIFY` `NONE` / `SUCCESS` /
//!   `FAILED:…` and the user from `ssl.verifyclient.username` for the
//!   verified one only. `ssl.verifyclient.activate` in a `$HTTP["host"]`
//!   block asks for a certificate for that SNI name only.
//! - `ssl.cipher-list` (deprecated) and `CipherString` limit the TLS 1.2
//!   suites: a client offering none of them gets handshake_failure (40);
//!   TLS 1.3 is not affected. `ssl.verifyclient.depth = 0` refuses even a
//!   certificate the CA signed directly. wick ignores the first and
//!   refuses the others at start (KNOWN-DIFFERENCES, checked as such).
//! - `ssl.openssl.ssl-conf-cmd`: `MinProtocol` TLSv1.3 → a TLS 1.2-only
//!   client gets protocol_version (70); `MaxProtocol` TLSv1.2 → TLS 1.2 is
//!   negotiated, a TLS 1.3-only client gets protocol_version (70).
//! - Plain HTTP to the TLS socket: the connection is closed without a
//!   byte (no alert); a TLS client of the plain socket gets an answer
//!   that is not TLS (s_client: "wrong version number").
//! - `$HTTP["scheme"]` is `https` on the TLS sockets; mod_proxy sends
//!   `X-Forwarded-Proto: https` upstream (WebSocket upgrades included);
//!   `wss://` works to mod_wstunnel and through a mod_proxy upgrade.
//!
//! `WICK_COMPAT_SELF=1` runs lighttpd on both sides (checks the scenarios);
//! `WICK_COMPAT_SHOW=1` prints every observation.

use std::path::Path;
use std::time::Duration;

use compat_tests::backend::PyBackend;
use compat_tests::http::{
    Client, Launch, Pair, PairOpts, Req, Response, STEP_DEADLINE, Scratch, Server, VOLATILE,
    expect_only_wick_refuses, frame_response, log_lines, lowercase_echoed_names, normalise_port,
    normalise_port_as, parse_response, put, start_refusals,
};
use compat_tests::tls::{
    CurlAnswer, CurlReq, Handshake, Hello, Http, Pki, TlsPipe, Usage, Version, clients_or_skip,
    curl, exchange, handshake,
};
use compat_tests::ws::{Frame, Mode, RawBackend, decode};

/// The readiness probe: a path nothing but the static handler answers.
const PROBE: &[u8] = b"GET /probe-ready HTTP/1.0\r\n\r\n";

/// What every configuration starts with.
const COMMON: &str = "server.document-root = \"{root}\"\n\
    static-file.etags = \"disable\"\n\
    mimetype.assign = ( \".txt\" => \"text/plain\", \".html\" => \"text/html\" )\n";

/// Makes the certificates of every scenario in `{dir}/pki`.
fn make_certs(dir: &Path) -> Pki {
    let pki = Pki::new(&dir.join("pki"));
    let step = |r: Result<(), String>| r.unwrap_or_else(|e| panic!("making certificates: {e}"));
    step(pki.ca("ca", "wick compat CA"));
    step(pki.ca("rogue", "unknown CA"));
    for (name, host) in [
        ("default", "default.example"),
        ("a", "a.example"),
        ("b", "b.example"),
        ("c", "c.example"),
        ("secure", "secure.example"),
    ] {
        step(pki.leaf(name, host, &[host], Usage::Server, "ca"));
    }
    step(pki.leaf(
        "client",
        "client one",
        &["client.example"],
        Usage::Client,
        "ca",
    ));
    step(pki.leaf(
        "stranger",
        "client stranger",
        &["stranger.example"],
        Usage::Client,
        "rogue",
    ));
    pki
}

/// Files of the document roots: `{root}` plus `a/`, `b/`, `c/`.
fn files(dir: &Path) {
    put(&dir.join("htdocs/f.txt"), "default root\n");
    put(&dir.join("htdocs/index.html"), "<p>default index</p>\n");
    put(&dir.join("htdocs/secure/x.txt"), "secure\n");
    for site in ["a", "b", "c"] {
        put(&dir.join(format!("{site}/f.txt")), format!("site {site}\n"));
    }
}

/// One scenario: the pair and the certificates.
struct Tls {
    pair: Pair,
    pki: Pki,
}

/// Starts lighttpd and wick on `COMMON` + `conf` with mod_openssl and
/// `modules` loaded, `tls_sockets` handed-over sockets (`{port2}` …) and
/// per-server `vars`.
fn start_with(
    test: &str,
    modules: &str,
    conf: &str,
    tls_sockets: usize,
    vars: [Vec<(String, String)>; 2],
    scratch: Option<Scratch>,
) -> Option<Tls> {
    if !clients_or_skip(test) {
        return None;
    }
    let scratch = match scratch {
        Some(s) => s,
        None => Scratch::new(test).expect("scratch dir"),
    };
    let pki = make_certs(scratch.path());
    let opts = PairOpts {
        vars,
        launch: Launch {
            probe: Some(PROBE.to_vec()),
            own_group: true,
            extra_sockets: tls_sockets,
            ..Launch::default()
        },
        scratch: Some(scratch),
    };
    let conf = format!("server.modules += ( \"mod_openssl\"{modules} )\n{COMMON}{conf}");
    let pair = Pair::start_opts(test, &conf, files, opts)?;
    Some(Tls { pair, pki })
}

fn start(test: &str, modules: &str, conf: &str, tls_sockets: usize) -> Option<Tls> {
    start_with(test, modules, conf, tls_sockets, Default::default(), None)
}

// ---------------------------------------------------------------------------
// Observations

/// `text` with each of `server`'s ports after a colon (`:<port>` not
/// followed by a digit) written as `:{port}`, `:{port2}` …
fn normalise_ports(text: &str, server: &Server) -> String {
    let mut out = normalise_port(text.as_bytes(), server.port);
    for (i, &port) in server.extra_ports.iter().enumerate() {
        out = normalise_port_as(&out, port, &format!("{{port{}}}", i + 2));
    }
    String::from_utf8(out).expect("ASCII replacements keep the text UTF-8")
}

/// `headers` as compared: the [`VOLATILE`] ones by presence, the others
/// with the server's ports normalised; sorted by name (the order between
/// names means nothing to a client; a name's values keep their order).
fn normalise_headers(headers: &mut [(String, String)], server: &Server) {
    for (n, v) in headers.iter_mut() {
        *v = if VOLATILE.contains(&n.as_str()) {
            "(present)".to_string()
        } else {
            normalise_ports(v, server)
        };
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
}

/// An HTTP answer as compared: the status line, the headers sorted by
/// name (the order between names means nothing to a client; `Date` and
/// `Server` by presence only), the body, with the server's ports
/// normalised; and the TLS error the client saw, if any.
#[derive(Debug, PartialEq)]
struct Answer {
    head: Vec<String>,
    body: String,
    tls_error: Option<String>,
}

fn summary(r: &Response, server: &Server) -> (Vec<String>, String) {
    let mut headers = r.headers.clone();
    normalise_headers(&mut headers, server);
    let mut head = vec![r.status_line.clone()];
    head.extend(headers.into_iter().map(|(n, v)| format!("{n}: {v}")));
    let body = normalise_ports(&String::from_utf8_lossy(&r.body), server);
    (head, body)
}

fn answer_of(bytes: &[u8], is_head: bool, server: &Server, tls_error: Option<String>) -> Answer {
    if bytes.is_empty() {
        return Answer {
            head: Vec::new(),
            body: String::new(),
            tls_error,
        };
    }
    match parse_response(bytes, is_head) {
        Ok(r) => {
            let (head, body) = summary(&r, server);
            Answer {
                head,
                body,
                tls_error,
            }
        }
        Err(e) => Answer {
            head: vec![format!("unparsable: {e}")],
            body: String::new(),
            tls_error,
        },
    }
}

/// Compares the handshakes both servers' TLS socket `sock` do with `hello`.
fn check_handshake(t: &mut Tls, label: &str, sock: usize, hello: Hello) {
    t.pair
        .observe(label, |_, server| -> Result<Handshake, String> {
            handshake(server.extra_ports[sock], &hello)
        });
}

/// Compares both servers' answers to `req` over a new TLS connection to
/// socket `sock` offering `hello`.
fn check_https(t: &mut Tls, sock: usize, hello: Hello, req: Req) {
    let label = format!(
        "https {} ({hello_text})",
        req.describe(),
        hello_text = describe(&hello)
    );
    t.pair.observe(&label, |_, server| {
        let ex = exchange(server.extra_ports[sock], &hello, &req.bytes(&[]))?;
        Ok(answer_of(&ex.bytes, req.is_head(), server, ex.error))
    });
}

/// Compares both servers' answers to `req` on the plain socket, with the
/// TLS sockets' ports normalised too (redirect targets name them).
fn check_plain(t: &mut Tls, req: Req) {
    let label = format!("http {}", req.describe());
    t.pair.observe(&label, |_, server| {
        let raw = server.exchange(&req.bytes(&[]))?;
        Ok(answer_of(&raw, req.is_head(), server, None))
    });
}

/// Compares what curl gets from both servers' TLS socket `sock`
/// (`what` starts the label).
fn check_curl(t: &mut Tls, what: &str, sock: usize, req: CurlReq) {
    check_curl_with(t, what, sock, req, |_| {});
}

/// [`check_curl`] after `norm` rewrote both answers the same way.
fn check_curl_with(
    t: &mut Tls,
    what: &str,
    sock: usize,
    req: CurlReq,
    norm: impl Fn(&mut CurlAnswer) + Sync,
) {
    let mut hello = req.hello.clone();
    hello.sni = Some(req.host.clone());
    let label = format!(
        "{what}curl {:?} {} https://{}{} ({})",
        req.http,
        req.method.as_deref().unwrap_or("GET"),
        req.host,
        req.path,
        describe(&hello)
    );
    let dir = t.pair.dir().to_path_buf();
    t.pair
        .observe(&label, |_, server| -> Result<CurlAnswer, String> {
            let mut a = curl(&dir, server.extra_ports[sock], &req)?;
            normalise_headers(&mut a.headers, server);
            a.body = normalise_ports(&String::from_utf8_lossy(&a.body), server).into_bytes();
            norm(&mut a);
            Ok(a)
        });
}

fn describe(h: &Hello) -> String {
    let mut parts = Vec::new();
    parts.push(match &h.sni {
        Some(n) => format!("SNI {n}"),
        None => "no SNI".to_string(),
    });
    if let Some(a) = &h.alpn {
        parts.push(format!("ALPN {a}"));
    }
    if let Some(v) = h.version {
        parts.push(format!("{v:?} only"));
    }
    if let Some(c) = &h.ciphers {
        parts.push(format!("ciphers {c}"));
    }
    if let Some((crt, _)) = &h.cert {
        let name = crt.file_stem().map(|s| s.to_string_lossy().into_owned());
        parts.push(format!("client cert {}", name.unwrap_or_default()));
    }
    parts.join(", ")
}

fn sni(name: &str) -> Hello {
    Hello::new().sni(name)
}

// ---------------------------------------------------------------------------
// 1. ssl.engine, ssl.pemfile (one file, or with ssl.privkey), scheme

#[test]
fn certificate_files_and_scheme() {
    let conf = "$SERVER[\"socket\"] == \"127.0.0.1:{port2}\" {\n\
          ssl.engine = \"enable\"\n  ssl.pemfile = \"{dir}/pki/default.pem\"\n}\n\
        $SERVER[\"socket\"] == \"127.0.0.1:{port3}\" {\n\
          ssl.engine = \"enable\"\n  ssl.pemfile = \"{dir}/pki/b.crt\"\n  \
          ssl.privkey = \"{dir}/pki/b.key\"\n}\n\
        $HTTP[\"scheme\"] == \"https\" {\n  \
          setenv.add-response-header = ( \"X-Scheme\" => \"https\" )\n}\n\
        $HTTP[\"scheme\"] == \"http\" {\n  \
          setenv.add-response-header = ( \"X-Scheme\" => \"http\" )\n  \
          $HTTP[\"url\"] =^ \"/secure/\" {\n    \
            url.redirect = ( \"^/(.*)\" => \"https://a.example:{port2}/$1\" )\n  }\n}\n";
    let Some(mut t) = start(
        "certificate_files_and_scheme",
        ", \"mod_setenv\", \"mod_redirect\"",
        conf,
        2,
    ) else {
        return;
    };
    let ca = t.pki.crt("ca");
    // the certificate of each socket, with and without a CA to verify it
    check_handshake(&mut t, "pemfile, no SNI", 0, Hello::new().ca(ca.clone()));
    check_handshake(
        &mut t,
        "pemfile + privkey, no SNI",
        1,
        Hello::new().ca(ca.clone()),
    );
    check_handshake(&mut t, "pemfile, unverified", 0, sni("default.example"));
    check_handshake(
        &mut t,
        "pemfile, TLS 1.2",
        0,
        Hello::new().ca(ca.clone()).version(Version::Tls12),
    );
    check_handshake(
        &mut t,
        "pemfile + privkey, TLS 1.2",
        1,
        Hello::new().ca(ca.clone()).version(Version::Tls12),
    );
    // requests over TLS: $HTTP["scheme"] == "https"
    let host = |r: Req| r.host("default.example");
    check_https(&mut t, 0, sni("default.example"), host(Req::get("/f.txt")));
    check_https(&mut t, 1, sni("b.example"), host(Req::get("/f.txt")));
    check_https(&mut t, 0, sni("default.example"), host(Req::head("/f.txt")));
    check_https(
        &mut t,
        0,
        sni("default.example"),
        host(Req::get("/missing")),
    );
    check_https(&mut t, 0, sni("default.example"), host(Req::get("/")));
    // no redirect on https
    check_https(
        &mut t,
        0,
        sni("default.example"),
        host(Req::get("/secure/x.txt?q=1")),
    );
    // the plain socket: scheme http, and the redirect to the TLS socket
    check_plain(&mut t, Req::get("/f.txt"));
    check_plain(&mut t, Req::get("/secure/x.txt?q=1"));
    // two requests on one TLS connection (keep-alive)
    t.pair.observe(
        "https keep-alive: two requests on one connection",
        |_, server| {
            let mut pipe = TlsPipe::open(server.extra_ports[0], &sni("default.example"))?;
            let reqs = [
                Req::get("/f.txt").host("default.example").keep_alive(),
                Req::get("/index.html").host("default.example"),
            ];
            let mut out = Vec::new();
            for req in &reqs {
                pipe.send(&req.bytes(&[]))?;
                pipe.wait(
                    |b| matches!(frame_response(b, false, false), Ok(Some(_))),
                    STEP_DEADLINE,
                );
                let bytes = pipe.take();
                let (r, used) = frame_response(&bytes, false, false)?
                    .ok_or_else(|| format!("no response; s_client: {}", pipe.stderr()))?;
                out.push((summary(&r, server), bytes.len() - used));
            }
            pipe.close_write();
            let (rest, closed) = pipe.read_to_end(STEP_DEADLINE);
            Ok((out, rest, closed))
        },
    );
    // curl verifies the certificate against the name
    check_curl(
        &mut t,
        "",
        0,
        CurlReq::get("default.example", "/f.txt").hello(Hello::new().ca(ca.clone())),
    );
    check_curl(
        &mut t,
        "",
        1,
        CurlReq::get("b.example", "/f.txt").hello(Hello::new().ca(ca.clone())),
    );
    // plain HTTP to the TLS socket, TLS to the plain socket
    t.pair
        .observe("plain HTTP request to the TLS socket", |_, server| {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.extra_ports[0]));
            let mut c = Client::connect(server.name, addr)?;
            c.send(b"GET /f.txt HTTP/1.0\r\n\r\n")?;
            let (bytes, closed) = c.read_to_end(STEP_DEADLINE);
            Ok((String::from_utf8_lossy(&bytes).into_owned(), closed))
        });
    t.pair
        .observe("TLS handshake with the plain socket", |_, server| {
            let mut h = handshake(server.port, &sni("default.example"))?;
            h.subject = h.subject.map(|s| normalise_ports(&s, server));
            Ok(h)
        });
    t.pair.finish();
}

// ---------------------------------------------------------------------------
// 2. SNI

#[test]
fn sni_selects_the_certificate() {
    let conf = "$SERVER[\"socket\"] == \"127.0.0.1:{port2}\" {\n\
          ssl.engine = \"enable\"\n  ssl.pemfile = \"{dir}/pki/default.pem\"\n  \
          $HTTP[\"host\"] == \"a.example\" {\n    ssl.pemfile = \"{dir}/pki/a.pem\"\n    \
            server.document-root = \"{dir}/a\"\n  }\n  \
          $HTTP[\"host\"] =~ \"^b\\.\" {\n    ssl.pemfile = \"{dir}/pki/b.pem\"\n    \
            server.document-root = \"{dir}/b\"\n  }\n}\n\
        $HTTP[\"host\"] == \"c.example\" {\n  ssl.pemfile = \"{dir}/pki/c.pem\"\n  \
          server.document-root = \"{dir}/c\"\n}\n";
    let Some(mut t) = start("sni_selects_the_certificate", "", conf, 1) else {
        return;
    };
    let ca = t.pki.crt("ca");
    for name in [
        "a.example",
        "A.EXAMPLE",
        "b.example",
        "B.Example",
        "b.other",
        "bb.example",
        "c.example",
        "unknown.example",
        "a.example.",
    ] {
        check_handshake(&mut t, &format!("SNI {name}"), 0, sni(name).ca(ca.clone()));
    }
    check_handshake(&mut t, "no SNI", 0, Hello::new().ca(ca.clone()));
    check_handshake(
        &mut t,
        "SNI a.example, TLS 1.2",
        0,
        sni("a.example").ca(ca.clone()).version(Version::Tls12),
    );
    check_handshake(
        &mut t,
        "SNI b.example, TLS 1.2",
        0,
        sni("b.example").ca(ca.clone()).version(Version::Tls12),
    );
    check_handshake(
        &mut t,
        "SNI unknown.example, TLS 1.2",
        0,
        sni("unknown.example")
            .ca(ca.clone())
            .version(Version::Tls12),
    );
    // the Host header, not SNI, selects the request's configuration
    for (name, host) in [
        ("a.example", "a.example"),
        ("a.example", "b.example"),
        ("unknown.example", "a.example"),
        ("c.example", "c.example"),
    ] {
        check_https(&mut t, 0, sni(name), Req::get("/f.txt").host(host));
    }
    check_https(
        &mut t,
        0,
        Hello::new(),
        Req::get("/f.txt").host("b.example"),
    );
    // curl checks the chosen certificate against the name
    for name in ["a.example", "b.example", "c.example"] {
        check_curl(
            &mut t,
            "",
            0,
            CurlReq::get(name, "/f.txt").hello(Hello::new().ca(ca.clone())),
        );
    }
    check_curl(
        &mut t,
        "",
        0,
        CurlReq::get("unknown.example", "/f.txt").hello(Hello::new().ca(ca.clone())),
    );
    t.pair.finish();
}

// ---------------------------------------------------------------------------
// 3. ALPN

const ONE_TLS_SOCKET: &str = "$SERVER[\"socket\"] == \"127.0.0.1:{port2}\" {\n\
      ssl.engine = \"enable\"\n  ssl.pemfile = \"{dir}/pki/default.pem\"\n}\n";

#[test]
fn alpn_h2_and_http11() {
    let Some(mut t) = start("alpn_h2_and_http11", "", ONE_TLS_SOCKET, 1) else {
        return;
    };
    for alpn in [
        "h2,http/1.1",
        "http/1.1",
        "h2",
        "http/1.1,h2",
        "http/1.0",
        "spdy/3,http/1.1",
        "foo",
    ] {
        check_handshake(
            &mut t,
            &format!("ALPN {alpn}"),
            0,
            sni("default.example").alpn(alpn),
        );
    }
    check_handshake(&mut t, "no ALPN", 0, sni("default.example"));
    check_handshake(
        &mut t,
        "ALPN h2,http/1.1, TLS 1.2",
        0,
        sni("default.example")
            .alpn("h2,http/1.1")
            .version(Version::Tls12),
    );
    let get = |path: &str, http: Http| CurlReq::get("default.example", path).http(http);
    check_curl(&mut t, "", 0, get("/f.txt", Http::H2));
    check_curl(&mut t, "", 0, get("/f.txt", Http::H1));
    check_curl(&mut t, "", 0, get("/f.txt", Http::H2).method("HEAD"));
    check_curl(&mut t, "", 0, get("/missing", Http::H2));
    check_curl(&mut t, "", 0, get("/", Http::H2));
    // `Upgrade: h2c` is for cleartext connections: over TLS, HTTP/1.1.
    // Any request asking for an upgrade that is answered without one ends
    // with close_notify, as every other (wick once dropped such a
    // connection unclosed: hyper hands it to the upgrade).
    let upgrades = [
        (
            "https Upgrade: h2c over TLS",
            "Connection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\n\
             HTTP2-Settings: AAMAAABkAAQAAP__\r\n",
        ),
        (
            "https Upgrade: websocket to a static file",
            "Connection: Upgrade, close\r\nUpgrade: websocket\r\n",
        ),
    ];
    for (label, headers) in upgrades {
        let req = Req::raw(
            "GET",
            format!("GET /f.txt HTTP/1.1\r\nHost: default.example\r\n{headers}\r\n"),
        );
        t.pair.observe(label, |_, server| {
            let ex = exchange(
                server.extra_ports[0],
                &sni("default.example"),
                &req.bytes(&[]),
            )?;
            Ok(answer_of(&ex.bytes, false, server, ex.error))
        });
    }
    t.pair.finish();
}

#[test]
fn alpn_without_h2proto() {
    let conf =
        format!("server.feature-flags += ( \"server.h2proto\" => \"disable\" )\n{ONE_TLS_SOCKET}");
    let Some(mut t) = start("alpn_without_h2proto", "", &conf, 1) else {
        return;
    };
    for alpn in ["h2,http/1.1", "h2", "http/1.1"] {
        check_handshake(
            &mut t,
            &format!("h2proto disabled, ALPN {alpn}"),
            0,
            sni("default.example").alpn(alpn),
        );
    }
    check_curl(
        &mut t,
        "",
        0,
        CurlReq::get("default.example", "/f.txt").http(Http::H2),
    );
    t.pair.finish();
}

// ---------------------------------------------------------------------------
// 4. Client certificates

/// A verifying socket: the default certificate, `ssl.ca-file`, and
/// `extra` (the ssl.verifyclient.* lines).
fn verifying_socket(port: &str, extra: &str) -> String {
    format!(
        "$SERVER[\"socket\"] == \"127.0.0.1:{{{port}}}\" {{\n  ssl.engine = \"enable\"\n  \
         ssl.pemfile = \"{{dir}}/pki/default.pem\"\n  ssl.ca-file = \"{{dir}}/pki/ca.crt\"\n{extra}}}\n"
    )
}

/// For each `(socket, host, label)`: curl with no client certificate, the
/// CA-signed one and the unknown CA's, in TLS 1.2 and in TLS 1.3 (the
/// outcome differs in when the client learns it: during the handshake,
/// or on its first read after it).
fn check_client_certs(t: &mut Tls, cases: &[(usize, &str, &str)]) {
    let ca = t.pki.crt("ca");
    let certs = [
        ("no certificate", None),
        ("CA-signed", Some("client")),
        ("unknown CA", Some("stranger")),
    ];
    for &(sock, host, what) in cases {
        for (cert_label, cert) in certs {
            for v in [Version::Tls12, Version::Tls13] {
                let mut hello = Hello::new().ca(ca.clone()).version(v);
                if let Some(name) = cert {
                    hello = hello.cert(t.pki.crt(name), t.pki.key(name));
                }
                let req = CurlReq::get(host, "/f.txt").hello(hello);
                if cert.is_none() && v == Version::Tls12 {
                    // KNOWN-DIFFERENCES ("TLS"): a TLS 1.2 client without a
                    // required certificate gets certificate_required (116,
                    // curl exit 98) from rustls, handshake_failure (40,
                    // curl exit 35) from lighttpd; both refuse it
                    check_curl_with(t, &format!("{what}, {cert_label}: "), sock, req, |a| {
                        let refused = matches!(
                            (a.exit, a.error.as_deref()),
                            (35, Some("sslv3 alert handshake failure"))
                                | (98, Some("tlsv13 alert certificate required"))
                        );
                        if refused {
                            a.exit = -1;
                            a.error = Some("refused: no client certificate".into());
                        }
                    });
                } else {
                    check_curl(t, &format!("{what}, {cert_label}: "), sock, req);
                }
            }
        }
    }
}

/// Client certificates: enforced by default, not enforced, enforced
/// explicitly, and asked for only for one SNI name.
#[test]
fn client_certificates() {
    let conf = verifying_socket("port2", "  ssl.verifyclient.activate = \"enable\"\n")
        + &verifying_socket(
            "port3",
            "  ssl.verifyclient.activate = \"enable\"\n  ssl.verifyclient.enforce = \"disable\"\n",
        )
        + &verifying_socket(
            "port4",
            "  ssl.verifyclient.activate = \"enable\"\n  ssl.verifyclient.enforce = \"enable\"\n",
        )
        + &verifying_socket(
            "port5",
            "  $HTTP[\"host\"] == \"secure.example\" {\n    \
             ssl.pemfile = \"{dir}/pki/secure.pem\"\n    \
             ssl.verifyclient.activate = \"enable\"\n  }\n",
        );
    let Some(mut t) = start("client_certificates", "", &conf, 4) else {
        return;
    };
    check_client_certs(
        &mut t,
        &[
            (0, "default.example", "enforce by default"),
            (1, "default.example", "enforce disabled"),
            (2, "default.example", "enforce enabled"),
            (3, "secure.example", "activated for one SNI name"),
            (3, "default.example", "activated for another SNI name"),
        ],
    );
    let ca = t.pki.crt("ca");
    // through s_client: the alert a TLS 1.3 client reads after its
    // handshake, instead of a response
    for (sock, name) in [(0, None), (0, Some("stranger")), (1, Some("stranger"))] {
        let mut hello = sni("default.example").ca(ca.clone());
        if let Some(name) = name {
            hello = hello.cert(t.pki.crt(name), t.pki.key(name));
        }
        check_https(
            &mut t,
            sock,
            hello,
            Req::get("/f.txt").host("default.example"),
        );
    }
    t.pair.finish();
}

/// `ssl.verifyclient.depth`: `0` refuses even a certificate the CA signed
/// directly (OpenSSL's "certificate chain too long", sent as unknown_ca,
/// 48); `1` admits it.
#[test]
fn client_certificate_depth() {
    let conf = verifying_socket(
        "port2",
        "  ssl.verifyclient.activate = \"enable\"\n  ssl.verifyclient.depth = 0\n",
    ) + &verifying_socket(
        "port3",
        "  ssl.verifyclient.activate = \"enable\"\n  ssl.verifyclient.depth = 1\n",
    );
    let Some(mut t) = start("client_certificate_depth", "", &conf, 2) else {
        return;
    };
    let ca = t.pki.crt("ca");
    for sock in [0, 1] {
        for v in [Version::Tls12, Version::Tls13] {
            let hello = Hello::new()
                .ca(ca.clone())
                .version(v)
                .cert(t.pki.crt("client"), t.pki.key("client"));
            let req = CurlReq::get("default.example", "/f.txt").hello(hello);
            check_curl(&mut t, &format!("depth {sock}: "), sock, req);
        }
    }
    t.pair.finish();
}

/// What lighttpd logs of a client certificate: `ssl.verifyclient.username`
/// sets the user (`%u`) from the verified certificate's CN;
/// `SSL_CLIENT_VERIFY` is `NONE`, `SUCCESS`, or `FAILED:` with OpenSSL's
/// reason (only the prefix is compared), and the subject's CN is there
/// for a verified certificate only.
#[test]
fn client_certificate_in_access_log() {
    let scratch = Scratch::new("tls-log").expect("scratch dir");
    let logs: [std::path::PathBuf; 2] =
        ["lighttpd", "wick"].map(|who| scratch.path().join(format!("{who}-access.log")));
    let vars = |i: usize| {
        vec![(
            "{log}".to_string(),
            logs[i].to_str().expect("UTF-8 path").to_string(),
        )]
    };
    let conf = "accesslog.filename = \"{log}\"\n\
        accesslog.format = \"%r %s [%u] [%{SSL_CLIENT_VERIFY}e] [%{SSL_CLIENT_S_DN_CN}e]\"\n"
        .to_string()
        + &verifying_socket(
            "port2",
            "  ssl.verifyclient.activate = \"enable\"\n  ssl.verifyclient.enforce = \"disable\"\n  \
             ssl.verifyclient.username = \"SSL_CLIENT_S_DN_CN\"\n",
        );
    let Some(mut t) = start_with(
        "client_certificate_in_access_log",
        ", \"mod_accesslog\"",
        &conf,
        1,
        [vars(0), vars(1)],
        Some(scratch),
    ) else {
        return;
    };
    let ca = t.pki.crt("ca");
    // one request, so one log line, per client certificate (or none)
    let certs = [None, Some("client"), Some("stranger")];
    for (i, cert) in certs.into_iter().enumerate() {
        let mut hello = Hello::new().ca(ca.clone());
        if let Some(name) = cert {
            hello = hello.cert(t.pki.crt(name), t.pki.key(name));
        }
        let req = CurlReq::get("default.example", &format!("/f.txt?n={i}")).hello(hello);
        check_curl(&mut t, "logged: ", 0, req);
    }
    t.pair
        .observe("the access log lines of the three requests", |_, server| {
            let log = std::slice::from_ref(&logs[server.index()]);
            let lines = log_lines(log, certs.len(), "/probe-ready", Duration::from_secs(10));
            Ok(lines
                .concat()
                .iter()
                .map(|l| {
                    let l = l.strip_suffix('\n').unwrap_or(l);
                    match l.find("[FAILED:") {
                        Some(at) => {
                            let end = l[at..].find(']').map_or(l.len(), |e| at + e);
                            format!("{}[FAILED:…{}", &l[..at], &l[end..])
                        }
                        None => l.to_string(),
                    }
                })
                .collect::<Vec<String>>())
        });
    t.pair.finish();
}

// ---------------------------------------------------------------------------
// Cipher lists

/// KNOWN-DIFFERENCES ("TLS"): `ssl.cipher-list` is ignored with a
/// warning (rustls' own suites), where lighttpd limits the TLS 1.2 suites
/// to it (a client offering none of them gets handshake_failure, 40).
const CIPHER_LIST_IGNORED: &str = "ssl.cipher-list is ignored with a warning";

/// The deprecated `ssl.cipher-list` limits lighttpd's TLS 1.2 suites; TLS
/// 1.3 is not affected. wick ignores it (a known difference, checked on
/// both sides: wick negotiates TLS 1.2 with each of the three offers).
#[test]
fn cipher_list() {
    let conf = "$SERVER[\"socket\"] == \"127.0.0.1:{port2}\" {\n\
          ssl.engine = \"enable\"\n  ssl.pemfile = \"{dir}/pki/default.pem\"\n  \
          ssl.cipher-list = \"ECDHE+CHACHA20\"\n}\n";
    let Some(mut t) = start("cipher_list", "", conf, 1) else {
        return;
    };
    for ciphers in [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ] {
        let hello = sni("default.example")
            .version(Version::Tls12)
            .ciphers(ciphers);
        t.pair.observe_known(
            &format!("ssl.cipher-list ECDHE+CHACHA20: TLS 1.2 client offering {ciphers}"),
            CIPHER_LIST_IGNORED,
            |_, server| handshake(server.extra_ports[0], &hello),
            |l, w| {
                let chacha = ciphers.contains("CHACHA20");
                let l_ok = l.version.is_some() == chacha;
                let w_ok = w.version.as_deref() == Some("TLSv1.2") && w.error.is_none();
                if l_ok && w_ok {
                    Ok(())
                } else {
                    Err("lighttpd should admit the listed suite only, wick every suite".into())
                }
            },
        );
    }
    check_handshake(
        &mut t,
        "ssl.cipher-list ECDHE+CHACHA20: TLS 1.3 client",
        0,
        sni("default.example").version(Version::Tls13),
    );
    t.pair.finish();
}

/// TLS values lighttpd 1.4.69 starts with and wick refuses, naming them
/// (KNOWN-DIFFERENCES, "TLS"): `CipherString` (rustls' suites are fixed).
/// lighttpd must start, wick must exit with status 255 and name the
/// directive. What lighttpd does with it: a `CipherString` of
/// `ECDHE+AESGCM` refuses a TLS 1.2 client offering only ChaCha20
/// (handshake_failure, 40).
#[test]
fn tls_values_only_wick_refuses_at_start() {
    let test = "tls_values_only_wick_refuses_at_start";
    if !clients_or_skip(test) {
        return;
    }
    let Some(lighttpd) = compat_tests::lighttpd_or_skip(test) else {
        return;
    };
    let cases: &[(&str, &str, &str)] = &[(
        "ssl-conf-cmd CipherString",
        "CipherString",
        "ssl.openssl.ssl-conf-cmd = ( \"CipherString\" => \"ECDHE+AESGCM\" )",
    )];
    start_refusals(test, cases, |(what, key, lines), scratch, dir| {
        make_certs(scratch);
        let conf = format!(
            "server.modules += ( \"mod_openssl\" )\nserver.document-root = \"{dir}/htdocs\"\n\
             $SERVER[\"socket\"] == \"127.0.0.1:{{port2}}\" {{\n  ssl.engine = \"enable\"\n  \
             ssl.pemfile = \"{dir}/pki/default.pem\"\n  {}\n}}\n",
            lines.replace("{dir}", dir)
        );
        let launch = Launch {
            probe: Some(PROBE.to_vec()),
            extra_sockets: 1,
            ..Launch::default()
        };
        expect_only_wick_refuses(&lighttpd, what, &conf, scratch, &launch, Some(key))
    });
}

// ---------------------------------------------------------------------------
// 5. Protocol versions (ssl.openssl.ssl-conf-cmd)

#[test]
fn protocol_versions() {
    let conf = "$SERVER[\"socket\"] == \"127.0.0.1:{port2}\" {\n\
          ssl.engine = \"enable\"\n  ssl.pemfile = \"{dir}/pki/default.pem\"\n  \
          ssl.openssl.ssl-conf-cmd = ( \"MinProtocol\" => \"TLSv1.3\" )\n}\n\
        $SERVER[\"socket\"] == \"127.0.0.1:{port3}\" {\n\
          ssl.engine = \"enable\"\n  ssl.pemfile = \"{dir}/pki/default.pem\"\n  \
          ssl.openssl.ssl-conf-cmd = ( \"MaxProtocol\" => \"TLSv1.2\" )\n}\n";
    let Some(mut t) = start("protocol_versions", "", conf, 2) else {
        return;
    };
    for (sock, what) in [(0, "MinProtocol TLSv1.3"), (1, "MaxProtocol TLSv1.2")] {
        for (v, v_label) in [
            (Some(Version::Tls12), "TLS 1.2 only"),
            (Some(Version::Tls13), "TLS 1.3 only"),
            (None, "any version"),
        ] {
            let mut hello = sni("default.example").alpn("h2,http/1.1");
            if let Some(v) = v {
                hello = hello.version(v);
            }
            check_handshake(&mut t, &format!("{what}: client {v_label}"), sock, hello);
        }
    }
    check_curl(&mut t, "", 1, CurlReq::get("default.example", "/f.txt"));
    check_curl(
        &mut t,
        "",
        0,
        CurlReq::get("default.example", "/f.txt").hello(Hello::new().version(Version::Tls12)),
    );
    t.pair.finish();
}

// ---------------------------------------------------------------------------
// 6. http → https redirect with two names (examples/tls-vhosts.conf)

#[test]
fn redirect_to_https_vhosts() {
    let conf = "$SERVER[\"socket\"] == \"127.0.0.1:{port2}\" {\n\
          ssl.engine = \"enable\"\n  ssl.pemfile = \"{dir}/pki/default.pem\"\n}\n\
        $HTTP[\"host\"] == \"a.example\" {\n  ssl.pemfile = \"{dir}/pki/a.pem\"\n  \
          server.document-root = \"{dir}/a\"\n}\n\
        $HTTP[\"host\"] == \"b.example\" {\n  ssl.pemfile = \"{dir}/pki/b.pem\"\n  \
          server.document-root = \"{dir}/b\"\n}\n\
        $HTTP[\"scheme\"] == \"http\" {\n  \
          $HTTP[\"host\"] =~ \"^([^:]+)(:[0-9]+)?$\" {\n    \
            url.redirect = ( \"^/(.*)\" => \"https://%1:{port2}/$1\" )\n    \
            url.redirect-code = 308\n  }\n}\n";
    let Some(mut t) = start("redirect_to_https_vhosts", ", \"mod_redirect\"", conf, 1) else {
        return;
    };
    let ca = t.pki.crt("ca");
    check_plain(&mut t, Req::get("/").host("a.example"));
    check_plain(&mut t, Req::get("/f.txt?x=1&y=2").host("b.example:8080"));
    check_plain(&mut t, Req::head("/f.txt").host("a.example"));
    check_plain(
        &mut t,
        Req::new("POST", "/form").host("b.example").body("k=v"),
    );
    // following the redirects: the name's certificate and document root
    for name in ["a.example", "b.example"] {
        let label = format!("follow http://{name}/f.txt?x=1 to https");
        let ca = ca.clone();
        t.pair.observe(&label, |_, server| {
            let raw = server.exchange(&Req::get("/f.txt?x=1").host(name).bytes(&[]))?;
            let r = parse_response(&raw, false)?;
            let location = r.header("location").ok_or("no Location")?.to_string();
            let rest = location
                .strip_prefix(&format!("https://{name}:"))
                .ok_or_else(|| format!("Location {location}"))?;
            let (port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let port: u16 = port
                .parse()
                .map_err(|e| format!("port in {location}: {e}"))?;
            let h = handshake(port, &sni(name).ca(ca.clone()))?;
            let ex = exchange(port, &sni(name), &Req::get(path).host(name).bytes(&[]))?;
            Ok((
                normalise_ports(&location, server),
                h,
                answer_of(&ex.bytes, false, server, ex.error),
            ))
        });
    }
    check_curl(
        &mut t,
        "",
        0,
        CurlReq::get("a.example", "/f.txt").hello(Hello::new().ca(ca.clone())),
    );
    t.pair.finish();
}

// ---------------------------------------------------------------------------
// 7. wss:// to mod_wstunnel and to a mod_proxy upgrade backend

const WS_HEAD: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Sends an upgrade request for `target` over TLS; the 101 head (as
/// compared) and the pipe with the bytes after the head left in it.
fn wss_open(server: &Server, target: &str) -> Result<(Vec<String>, TlsPipe, Vec<u8>), String> {
    let mut pipe = TlsPipe::open(server.extra_ports[0], &sni("default.example"))?;
    pipe.send(format!("GET {target} HTTP/1.1\r\nHost: default.example\r\n{WS_HEAD}").as_bytes())?;
    if !pipe.wait(|b| b.windows(4).any(|w| w == b"\r\n\r\n"), STEP_DEADLINE) {
        return Err(format!("no response head; s_client: {}", pipe.stderr()));
    }
    let bytes = pipe.take();
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no head")?
        + 4;
    let r = parse_response(&bytes[..end], true)?;
    let (head, _) = summary(&r, server);
    Ok((head, pipe, bytes[end..].to_vec()))
}

#[test]
fn wss_tunnels() {
    let scratch = Scratch::new("wss").expect("scratch dir");
    let echo = [RawBackend::tcp(Mode::Echo), RawBackend::tcp(Mode::Echo)];
    let px = [
        PyBackend::http(&scratch.path().join("l"), "B"),
        PyBackend::http(&scratch.path().join("w"), "B"),
    ];
    let vars = |i: usize| {
        vec![
            ("{ws}".to_string(), echo[i].addr.conf()),
            ("{px}".to_string(), px[i].addr.conf()),
        ]
    };
    let conf = format!(
        "server.feature-flags += ( \"proxy.upstream-keep-alive\" => \"disable\" )\n\
         wstunnel.server = ( \"/ws\" => ( ( {{ws}} ) ) )\n\
         proxy.server = ( \"/px\" => ( ( {{px}} ) ) )\n\
         proxy.header = ( \"upgrade\" => \"enable\" )\n{ONE_TLS_SOCKET}"
    );
    let Some(mut t) = start_with(
        "wss_tunnels",
        ", \"mod_wstunnel\", \"mod_proxy\"",
        &conf,
        1,
        [vars(0), vars(1)],
        Some(scratch),
    ) else {
        return;
    };
    t.pair
        .observe("wss:// to mod_wstunnel: 101, echoed frames", |_, server| {
            let (head, mut pipe, mut buf) = wss_open(server, "/ws/chat")?;
            let mut frames = Vec::new();
            for msg in ["hello over TLS", "second message"] {
                pipe.send(&Frame::text(msg).encode())?;
                let complete = |b: &[u8]| {
                    let mut all = buf.clone();
                    all.extend_from_slice(b);
                    matches!(decode(&all), Ok(Some(_)))
                };
                pipe.wait(complete, STEP_DEADLINE);
                buf.extend(pipe.take());
                let (f, used) = decode(&buf)?
                    .ok_or_else(|| format!("no frame for {msg:?}; s_client: {}", pipe.stderr()))?;
                buf.drain(..used);
                frames.push((
                    f.fin,
                    f.opcode,
                    String::from_utf8_lossy(&f.payload).into_owned(),
                ));
            }
            Ok((head, frames))
        });
    t.pair.observe(
        "wss:// through mod_proxy (upgrade): 101, upstream request, echoed bytes",
        |_, server| {
            let backend = &px[server.index()];
            let (head, mut pipe, mut echoed) = wss_open(server, "/px/chat?upgrade=1")?;
            pipe.send(b"\x81\x05hello")?;
            pipe.wait(|b| echoed.len() + b.len() >= 7, STEP_DEADLINE);
            echoed.extend(pipe.take());
            let conn = backend
                .conn_of("/px/chat")
                .ok_or("no upstream connection")?;
            backend.wait_log(|l| l.contains("upgraded recv"), STEP_DEADLINE)?;
            let upstream = lowercase_echoed_names(&backend.received(&conn));
            Ok((
                head,
                normalise_ports(&String::from_utf8_lossy(&upstream), server),
                echoed,
            ))
        },
    );
    // the upstream request of a proxied https request (X-Forwarded-Proto)
    t.pair.observe(
        "https through mod_proxy: the upstream request",
        |_, server| {
            let req = Req::get("/px/echo?q=1").host("default.example");
            let ex = exchange(
                server.extra_ports[0],
                &sni("default.example"),
                &req.bytes(&[]),
            )?;
            let mut r = parse_response(&ex.bytes, false)?;
            r.body = lowercase_echoed_names(&r.body);
            Ok(summary(&r, server))
        },
    );
    // the upstream request of an HTTP/2 request, header names in any case
    // (KNOWN-DIFFERENCES: upstream header names)
    check_curl_with(
        &mut t,
        "through mod_proxy: ",
        0,
        CurlReq::get("default.example", "/px/h2?q=2").http(Http::H2),
        |a| a.body = lowercase_echoed_names(&a.body),
    );
    t.pair.finish();
}
