//! WebSocket over HTTP/2 (RFC 8441), differentially: lighttpd 1.4.69
//! advertises the extended CONNECT in its SETTINGS and takes it in
//! mod_wstunnel and in mod_proxy with `proxy.header` upgrade; an HTTP/2
//! client (`compat_tests::h2`, prior knowledge) sends the same CONNECTs to
//! lighttpd and wick on the same configuration, and what it observes (the
//! SETTINGS flag, status, headers, the stream's bytes both ways) and what
//! each side's backend received are compared.
//!
//! What lighttpd does (and wick now does too):
//! - mod_wstunnel answers 200 (no Upgrade, Connection or
//!   Sec-WebSocket-Accept; a sub-protocol as over HTTP/1.1), and the
//!   stream's DATA carries the WebSocket frames;
//! - mod_proxy with upgrades sends the backend an HTTP/1.1 GET asking to
//!   upgrade (with a key of its own when the client sent none); the
//!   backend's 101 becomes the stream's 200, a backend's other 2xx a 405,
//!   other statuses pass; without upgrades enabled: 405;
//! - a `:protocol` other than `websocket` is 405; a CONNECT no module
//!   takes is 405 on what exists, 404 on what does not.
//!
//! `WICK_COMPAT_SELF=1` runs lighttpd on both sides (checks the scenarios);
//! `WICK_COMPAT_SHOW=1` prints every observation.

use std::time::Duration;

use compat_tests::backend::PyBackend;
use compat_tests::h2::{Got, Observed, Step, extended_connect};
use compat_tests::http::{Launch, Pair, PairOpts, Scratch, Server, Side, put};
use compat_tests::ws::{Frame, Mode, RawBackend};

// KNOWN-DIFFERENCES.md, "mod_wstunnel"
const KD_END_STREAM: &str = "a WebSocket over HTTP/2 whose client ends its stream without a \
                             close frame: wick ends the stream after the backend's EOF \
                             (lighttpd resets it)";

/// The readiness probe: a path no module takes (404).
const PROBE: &[u8] = b"GET /probe-ready HTTP/1.0\r\n\r\n";
const STEP: Duration = Duration::from_secs(5);
const VERSION: (&str, &str) = ("sec-websocket-version", "13");

const CONF: &str = "server.modules = ( \"mod_wstunnel\", \"mod_proxy\" )\n\
server.document-root = \"{root}\"\n\
server.max-keep-alive-idle = 1\n\
wstunnel.server = ( \"/ws\" => ( ( {echo} ) ), \"/bin\" => ( ( {echo} ) ) )\n\
$HTTP[\"url\"] =^ \"/bin\" {\n  wstunnel.frame-type = \"binary\"\n}\n\
$HTTP[\"url\"] =^ \"/px\" {\n  proxy.server = ( \"\" => ( ( {http} ) ) )\n  proxy.header = ( \"upgrade\" => \"enable\" )\n}\n\
$HTTP[\"url\"] =^ \"/np\" {\n  proxy.server = ( \"\" => ( ( {http} ) ) )\n}\n";

/// One server's backends.
struct Backends {
    echo: RawBackend,
    http: PyBackend,
}

struct Setup {
    pair: Pair,
    b: [Backends; 2],
}

fn start(test: &str) -> Option<Setup> {
    let scratch = Scratch::new("h2ws").expect("scratch dir");
    let b = [
        Backends {
            echo: RawBackend::tcp(Mode::Echo),
            http: PyBackend::http(scratch.path(), "L"),
        },
        Backends {
            echo: RawBackend::tcp(Mode::Echo),
            http: PyBackend::http(scratch.path(), "W"),
        },
    ];
    let vars = |b: &Backends| {
        vec![
            ("{echo}".to_string(), b.echo.addr.conf()),
            ("{http}".to_string(), b.http.addr.conf()),
        ]
    };
    let opts = PairOpts {
        vars: [vars(&b[0]), vars(&b[1])],
        launch: Launch {
            probe: Some(PROBE.to_vec()),
            own_group: true,
            ..Launch::default()
        },
        scratch: Some(scratch),
    };
    let pair = Pair::start_opts(
        test,
        CONF,
        |dir| {
            put(&dir.join("htdocs/a.txt"), "hello\n");
            put(&dir.join("htdocs/d/b.txt"), "b\n");
        },
        opts,
    )?;
    Some(Setup { pair, b })
}

/// A CONNECT's answer, the stream's reads, and what the backend received
/// on the connection the request opened (if any).
#[derive(Debug, PartialEq)]
struct Seen {
    client: Observed,
    backend: Option<String>,
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn websocket_over_http2() {
    let Some(Setup { mut pair, b }) = start("websocket_over_http2") else {
        return;
    };
    let hello = Frame::text("hello").encode();

    // mod_wstunnel: the 200, frames both ways, the client's END_STREAM
    // reaches the backend as EOF
    let steps = [
        Step::Send(hello.clone()),
        Step::Read(7, STEP),
        Step::Finish,
        Step::End(STEP),
    ];
    pair.observe_known(
        "wstunnel: echo, then the client ends",
        KD_END_STREAM,
        |_, srv: &Server| {
            let be = &b[srv.index()].echo;
            let mark = be.count();
            let client = extended_connect(srv.port, "/ws", "websocket", &[VERSION], &steps)?;
            let backend = be
                .ended(mark, STEP)
                .map(|c| format!("{} eof={}", show(&c.received.0), c.eof));
            Ok(Seen { client, backend })
        },
        |l, w| {
            // the same up to the end: the echo, and the backend's EOF
            let up_to_end = |s: &Seen| {
                (
                    s.client.status,
                    s.client.reads.first().cloned(),
                    s.backend.clone(),
                )
            };
            if up_to_end(l) != up_to_end(w) {
                return Err("the tunnels differ before the end".into());
            }
            match (l.client.reads.get(1), w.client.reads.get(1)) {
                (Some(Got::Reset(_)), Some(Got::DataThenEnd(d))) if d.is_empty() => Ok(()),
                _ => Err("lighttpd resets the stream, wick ends it".into()),
            }
        },
    );

    // frame-type binary and the binary sub-protocol offered
    let steps = [
        Step::Send(Frame::binary("abc").encode()),
        Step::Read(5, STEP),
    ];
    pair.observe("wstunnel: binary, sub-protocol", |_, srv: &Server| {
        extended_connect(
            srv.port,
            "/bin",
            "websocket",
            &[VERSION, ("sec-websocket-protocol", "chat, binary")],
            &steps,
        )
    });

    // a tunnel outlives the keep-alive limit (1 s) and the closing window
    // after it (5 s from the last bytes, the answer to the closing PING
    // among them): the stream is a request in flight
    let steps = [
        Step::Send(hello.clone()),
        Step::Read(7, STEP),
        Step::Pause(Duration::from_secs(7)),
        Step::Send(hello.clone()),
        Step::Read(7, STEP),
    ];
    pair.observe("wstunnel: a quiet tunnel stays", |_, srv: &Server| {
        extended_connect(srv.port, "/ws", "websocket", &[VERSION], &steps)
    });

    // another :protocol: 405, wherever
    for path in ["/ws", "/a.txt", "/nope"] {
        pair.observe(&format!("protocol foo on {path}"), |_, srv: &Server| {
            extended_connect(srv.port, path, "foo", &[VERSION], &[])
        });
    }

    // no module takes it: what exists refuses CONNECT, what does not is
    // not found; a directory without its slash is redirected first
    for path in ["/a.txt", "/nope", "/d/", "/d"] {
        pair.observe(&format!("static {path}"), |_, srv: &Server| {
            extended_connect(srv.port, path, "websocket", &[VERSION], &[])
        });
    }

    // mod_proxy with upgrades: the backend gets an HTTP/1.1 upgrade, its
    // 101 is the client's 200, the bytes pass as they are
    let steps = [Step::Send(b"raw bytes".to_vec()), Step::Read(9, STEP)];
    for (label, path, headers) in [
        ("proxy: upgrade", "/px?upgrade=1", vec![VERSION]),
        (
            "proxy: the client's key and sub-protocol",
            "/px?upgrade=1&key=client",
            vec![
                VERSION,
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("sec-websocket-protocol", "chat"),
            ],
        ),
        ("proxy: backend answers 200", "/px?x=1", vec![VERSION]),
        (
            "proxy: backend answers 404",
            "/px?status=404",
            vec![VERSION],
        ),
    ] {
        let steps = if path.contains("upgrade") {
            &steps[..]
        } else {
            &[][..]
        };
        pair.observe(label, |_, srv: &Server| {
            let be = &b[srv.index()].http;
            let mut client = extended_connect(srv.port, path, "websocket", &headers, steps)?;
            // (each side's backend says its own name)
            client.headers.retain(|(n, _)| n != "x-backend");
            let needle = format!("GET {path} ");
            let backend = be.conn_of(&needle).map(|c| show(&be.received(&c)));
            Ok(Seen { client, backend })
        });
    }
    // without upgrades: 405, the backend not asked
    pair.observe("proxy without upgrades", |_, srv: &Server| {
        let be = &b[srv.index()].http;
        let client = extended_connect(srv.port, "/np?upgrade=1", "websocket", &[VERSION], &[])?;
        Ok(Seen {
            client,
            backend: be.conn_of("GET /np").map(|c| show(&be.received(&c))),
        })
    });
    pair.finish();
}

/// The observations themselves are checked once against what the spec
/// says lighttpd does (so that a scenario that observes nothing cannot
/// pass on both sides alike).
#[test]
fn websocket_over_http2_answers() {
    let Some(Setup { pair, b }) = start("websocket_over_http2_answers") else {
        return;
    };
    for srv in [pair.server(Side::Lighttpd), pair.server(Side::Wick)] {
        let name = srv.name;
        let o = extended_connect(
            srv.port,
            "/ws",
            "websocket",
            &[VERSION],
            &[Step::Send(Frame::text("hi").encode()), Step::Read(4, STEP)],
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            o.connect_protocol,
            "{name}: SETTINGS_ENABLE_CONNECT_PROTOCOL"
        );
        assert_eq!(o.status, 200, "{name}");
        assert!(o.headers.is_empty(), "{name}: {:?}", o.headers);
        assert_eq!(o.reads, [Got::Data(b"\x81\x02hi".to_vec())], "{name}");
        let be = &b[srv.index()].echo;
        let c = be.received_at_least(be.count().saturating_sub(1), 2, STEP);
        assert_eq!(c.map(|c| c.received.0), Some(b"hi".to_vec()), "{name}");
    }
    pair.finish();
}
