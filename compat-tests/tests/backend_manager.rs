//! The gateway backend manager (lighttpd's `gw_backend.c`) through
//! mod_proxy, differentially: which extension handles a request, how the
//! balancers pick hosts, what connect failures and timeouts do, and how
//! `bin-path` children are spawned, addressed, respawned, reaped and
//! stopped. Spec: `shared/spec/backend-manager.md`; the numbers in the
//! comments refer to its §15.
//!
//! Scenarios on one configuration run against a `Pair` (both servers, the
//! same backends). `bin-path` scenarios cannot share addresses, so each
//! program runs the scenario in its own scratch directory at the same time
//! (`Duo`), and the observations — normalised to the directory, the
//! server's pid, relative ports — are compared (`Tally`).
//!
//! `WICK_COMPAT_SELF=1` runs lighttpd on both sides (checks the scenarios).

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use compat_tests::backend::{
    BackendAddr, ChildReaper, ChildStart, Duo, FullQueue, PortRun, PyBackend, RefusingPort,
    SilentBackend, Tally, install_tool, pid_alive, read_events, read_starts, wait_pid_gone,
    wait_starts,
};
use compat_tests::http::{Client, Launch, Pair, PairOpts, Req, Scratch, Server, Side, put};
use compat_tests::{Cmd, lighttpd_or_skip, wick_bin};

/// The readiness probe: a path no proxy key matches.
const PROBE: &[u8] = b"GET /probe-ready HTTP/1.0\r\n\r\n";

/// How long a bin-path child may take to exit after its server stopped.
/// It exits within milliseconds of its signal; the bound is generous
/// because a loaded machine (a benchmark beside the tests) can delay a
/// Python process by seconds, and the wait ends as soon as it is gone.
const CHILD_EXIT_LIMIT: Duration = Duration::from_secs(10);

const NO_UPSTREAM_KEEP_ALIVE: &str =
    "server.feature-flags += ( \"proxy.upstream-keep-alive\" => \"disable\" )\n";

fn launch() -> Launch {
    Launch {
        probe: Some(PROBE.to_vec()),
        own_group: true,
        ..Launch::default()
    }
}

fn start(test: &str, scratch: Scratch, conf: &str) -> Option<Pair> {
    let conf = format!(
        "server.modules = ( \"mod_proxy\" )\nserver.document-root = \"{{root}}\"\n\
         {NO_UPSTREAM_KEEP_ALIVE}{conf}"
    );
    let opts = PairOpts {
        launch: launch(),
        scratch: Some(scratch),
        ..PairOpts::default()
    };
    Pair::start_opts(test, &conf, |_| {}, opts)
}

fn host(addr: &BackendAddr) -> String {
    format!("( {} )", addr.conf())
}

/// The `X-Backend` names answering `reqs`, one request per connection.
fn names(server: &Server, reqs: &[Req]) -> Result<Vec<String>, String> {
    reqs.iter()
        .map(|r| {
            let resp = server.exchange_one(&r.bytes(&[]), false)?;
            Ok(format!(
                "{} {}",
                resp.status,
                resp.header("x-backend").unwrap_or("-")
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// §5 Which extension handles a request; §9 balancing

/// lighttpd's `djbhash` continued from `seed`.
fn djb(seed: u32, bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(seed, |h, &b| h.wrapping_mul(33) ^ u32::from(b))
}

const DJB_INIT: u32 = 5381;

/// The index of the host `hash`/`sticky` pick: highest score, the first
/// one on ties.
fn highest(scores: &[u32]) -> usize {
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s > scores[best] {
            best = i;
        }
    }
    best
}

struct Balancing {
    pair: Pair,
    /// A, B, C on 127.0.0.1 (different ports).
    abc: [PyBackend; 3],
    /// H2, H3, H4 on 127.0.0.2/3/4, one port.
    hashed: [PyBackend; 3],
    _down: RefusingPort,
}

fn start_balancing(test: &str) -> Option<Balancing> {
    let scratch = Scratch::new("bm").expect("scratch dir");
    let dir = scratch.path().to_path_buf();
    let abc = ["A", "B", "C"].map(|n| PyBackend::http(&dir, n));
    let hashed = hashed_backends(&dir);
    let down = RefusingPort::new();
    let [a, b, c] = abc.each_ref().map(|x| host(&x.addr));
    let hs = hashed.each_ref().map(|x| host(&x.addr)).join(", ");
    let d = host(&down.addr);
    let conf = format!(
        "proxy.server = ( \"/ct\" => ( {d} ), \"/ctdef\" => ( {a} ), \"/app\" => ( {a} ),\n  \
         \".php\" => ( {b} ), \"/x/\" => ( {c} ) )\n\
         proxy.map-extensions = ( \".php5\" => \".php\" )\n\
         $HTTP[\"url\"] =^ \"/rr/\" {{\n  proxy.balance = \"round-robin\"\n  \
         proxy.server = ( \"/rr/\" => ( {a}, {b}, {c} ) )\n}}\n\
         $HTTP[\"url\"] =^ \"/fair/\" {{\n  proxy.balance = \"fair\"\n  \
         proxy.server = ( \"/fair/\" => ( {a}, {b}, {c} ) )\n}}\n\
         $HTTP[\"url\"] =^ \"/lc/\" {{\n  proxy.server = ( \"/lc/\" => ( {a}, {b}, {c} ) )\n}}\n\
         $HTTP[\"url\"] =^ \"/hash/\" {{\n  proxy.balance = \"hash\"\n  \
         proxy.server = ( \"/hash/\" => ( {hs} ) )\n}}\n\
         $HTTP[\"url\"] =^ \"/hash1/\" {{\n  proxy.balance = \"hash\"\n  \
         proxy.server = ( \"/hash1/\" => ( {a}, {b}, {c} ) )\n}}\n\
         $HTTP[\"url\"] =^ \"/sticky/\" {{\n  proxy.balance = \"sticky\"\n  \
         proxy.server = ( \"/sticky/\" => ( {a}, {b}, {c} ) )\n}}\n\
         $HTTP[\"url\"] =^ \"/fo/\" {{\n  proxy.balance = \"round-robin\"\n  \
         proxy.server = ( \"/fo/\" => ( {a}, {d}, {c} ) )\n}}\n"
    );
    let pair = start(test, scratch, &conf)?;
    Some(Balancing {
        pair,
        abc,
        hashed,
        _down: down,
    })
}

/// Three backends on 127.0.0.2, .3 and .4 sharing one port.
fn hashed_backends(dir: &Path) -> [PyBackend; 3] {
    for _ in 0..50 {
        let first = PyBackend::http_on(dir, "H2", Ipv4Addr::new(127, 0, 0, 2), 0);
        let port = first.addr.port();
        let rest = [3, 4].map(|n| {
            PyBackend::try_http_on(dir, &format!("H{n}"), Ipv4Addr::new(127, 0, 0, n), port)
        });
        if let [Ok(h3), Ok(h4)] = rest {
            return [first, h3, h4];
        }
    }
    panic!("no port free on 127.0.0.2, .3 and .4 at once after 50 tries");
}

#[test]
fn extension_matching() {
    // (the backends live as long as `b`: a `..` pattern would drop them)
    let Some(b) = start_balancing("extension_matching") else {
        return;
    };
    let mut pair = b.pair;
    // 1. keys in configuration order: "/ct" (dead) wins over "/ctdef"
    pair.check_full(Req::get("/ctdef/x"));
    // 2. a prefix key is a plain byte prefix of the path
    pair.check_full(Req::get("/application"));
    pair.check_full(Req::get("/app"));
    pair.check_full(Req::get("/x/app"));
    // 3. a suffix key: case-sensitive, the path's end (not the query's)
    pair.check_full(Req::get("/a.php?x=1"));
    pair.check_full(Req::get("/a.php/extra"));
    pair.check_full(Req::get("/a.PHP"));
    pair.check_full(Req::get("/q?a.php"));
    // 4. map-extensions: .php5 handled by the .php host
    pair.check_full(Req::get("/b.php5"));
    // the key is matched against the decoded, normalised path
    pair.check_full(Req::get("/%61pp/y"));
    pair.check_full(Req::get("/z/../app/z"));
    pair.check_full(Req::get("/c.ph%70"));
    pair.finish();
}

#[test]
fn balancing_round_robin_and_least_connection() {
    let Some(b) = start_balancing("balancing_round_robin_and_least_connection") else {
        return;
    };
    let mut pair = b.pair;
    let seven = |p: &str| -> Vec<Req> { (0..7).map(|i| Req::get(&format!("/{p}/{i}"))).collect() };
    // 5. round-robin: 1,2,3,1,2,3,1
    pair.observe("round-robin, 7 sequential requests", |_, s| {
        names(s, &seven("rr"))
    });
    // 6. least-connection ("fair" and the default), sequential: all to the first
    pair.observe("fair, 7 sequential requests", |_, s| {
        names(s, &seven("fair"))
    });
    pair.observe("default balance, 7 sequential requests", |_, s| {
        names(s, &seven("lc"))
    });
    // 7. least-connection, 6 concurrent slow requests: 2 per host
    pair.observe("least-connection, 6 concurrent 1 s requests", |_, s| {
        let mut got = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..6)
                .map(|i| scope.spawn(move || names(s, &[Req::get(&format!("/lc/c{i}?delay=1"))])))
                .collect();
            runs.into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
                .collect::<Result<Vec<_>, _>>()
        })?
        .concat();
        got.sort();
        Ok(got)
    });
    // 11. failover: round-robin over {up, down, up}: every request served
    pair.observe(
        "round-robin failover over {A, down, C}, 8 requests",
        |_, s| {
            let reqs: Vec<Req> = (0..8).map(|i| Req::get(&format!("/fo/{i}"))).collect();
            names(s, &reqs)
        },
    );
    pair.finish();
}

#[test]
fn balancing_hash_and_sticky() {
    let Some(b) = start_balancing("balancing_hash_and_sticky") else {
        return;
    };
    let (mut pair, abc, hashed) = (b.pair, &b.abc, &b.hashed);
    // 8. hash: djb(authority, seed = djb(path)) XOR djb(host address),
    // highest wins — over 127.0.0.2/3/4 on one port
    let cases: Vec<(String, String)> = (0..12)
        .map(|i| (format!("/hash/p{i}"), format!("h{}.example", i % 5)))
        .chain([
            ("/hash/".to_string(), "example.org".to_string()),
            ("/hash/a%20b".to_string(), "EXAMPLE.org".to_string()),
            ("/hash/q".to_string(), "example.org:8080".to_string()),
        ])
        .collect();
    let expected: Vec<String> = cases
        .iter()
        .map(|(path, host)| {
            let decoded = path.replace("%20", " ");
            let base = djb(
                djb(DJB_INIT, decoded.as_bytes()),
                host.to_ascii_lowercase().as_bytes(),
            );
            let scores: Vec<u32> = hashed
                .iter()
                .map(|h| match &h.addr {
                    BackendAddr::Tcp(a) => base ^ djb(DJB_INIT, a.ip().to_string().as_bytes()),
                    BackendAddr::Unix(_) => unreachable!("TCP backends"),
                })
                .collect();
            format!("200 {}", hashed[highest(&scores)].name)
        })
        .collect();
    pair.observe(
        "hash over 127.0.0.2/3/4: the backend each request goes to",
        |_, s| {
            let reqs: Vec<Req> = cases.iter().map(|(p, h)| Req::get(p).host(h)).collect();
            let got = names(s, &reqs)?;
            if got != expected {
                return Err(format!(
                    "not lighttpd's formula: got {got:?}, formula {expected:?}"
                ));
            }
            Ok(got)
        },
    );
    // 9. hash over hosts that differ only by port: all to the first
    pair.observe("hash over one IP, different ports", |_, s| {
        let reqs: Vec<Req> = (0..6)
            .map(|i| Req::get(&format!("/hash1/p{i}")).host(&format!("h{i}.example")))
            .collect();
        names(s, &reqs)
    });
    // 10. sticky: djb(client IP) XOR djb(host address) XOR port. Client
    // addresses that differ only in their last digit differ only in the
    // hash's low bits (and usually pick the same host), so the clients are
    // chosen from 127.0.0-40.1-9 for the formula to spread them: up to
    // three per backend.
    let sticky = |ip: &Ipv4Addr| {
        let base = djb(DJB_INIT, ip.to_string().as_bytes());
        let scores: Vec<u32> = abc
            .iter()
            .map(|b| base ^ djb(DJB_INIT, b"127.0.0.1") ^ u32::from(b.addr.port()))
            .collect();
        highest(&scores)
    };
    let mut per_backend = [0; 3];
    let mut clients = Vec::new();
    for ip in (0..=40u8).flat_map(|c| (1..=9u8).map(move |d| Ipv4Addr::new(127, 0, c, d))) {
        let i = sticky(&ip);
        if per_backend[i] < 3 {
            per_backend[i] += 1;
            clients.push(ip);
        }
    }
    let expected: Vec<String> = clients
        .iter()
        .map(|ip| format!("200 {}", abc[sticky(ip)].name))
        .collect();
    pair.observe("sticky: the backend for each client address", |_, s| {
        let addr = SocketAddr::from(([127, 0, 0, 1], s.port));
        let mut got = Vec::new();
        for ip in &clients {
            let mut c = Client::connect_from(s.name, *ip, addr)?;
            c.send(&Req::get("/sticky/x").bytes(&[]))?;
            let r = c.response(false)?;
            got.push(format!(
                "{} {}",
                r.status,
                r.header("x-backend").unwrap_or("-")
            ));
        }
        if got != expected {
            return Err(format!(
                "not lighttpd's formula: got {got:?}, formula {expected:?}"
            ));
        }
        Ok(got)
    });
    pair.finish();
}

// ---------------------------------------------------------------------------
// §11 connect failures, disable-time, timeouts

#[test]
fn disable_time_and_re_enable() {
    let scratch = Scratch::new("bm").expect("scratch dir");
    let dir = scratch.path().to_path_buf();
    let down = RefusingPort::new();
    let addr = down.addr.clone();
    let conf = format!("proxy.server = ( \"/re\" => ( {} ) )\n", host(&addr));
    let Some(mut pair) = start("disable_time_and_re_enable", scratch, &conf) else {
        return;
    };
    // 12. a single host down → 503 (checked in detail in proxy_http.rs)
    pair.observe("host down", |_, s| names(s, &[Req::get("/re/a")]));
    let live = Instant::now();
    let _backend = down.serve(&dir, "R");
    // 13. the proc stays disabled for disable-time (1 s; lighttpd's timer
    // re-enables it 1–2 s after the failure), then serves again
    pair.observe(
        "backend back: still 503 at once, 200 within 3.5 s",
        move |_, s| {
            let first = names(s, &[Req::get("/re/b")])?;
            loop {
                let now = names(s, &[Req::get("/re/c")])?;
                if now[0].starts_with("200") {
                    let t = live.elapsed().as_secs_f64();
                    return Ok((first, now, t <= 3.5));
                }
                if live.elapsed() > Duration::from_secs(6) {
                    return Err(format!("still {now:?} after 6 s"));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        },
    );
    pair.finish();
}

#[test]
fn connect_and_write_timeouts() {
    let scratch = Scratch::new("bm").expect("scratch dir");
    let full = FullQueue::new();
    let silent = SilentBackend::start();
    let conf = format!(
        "proxy.server = ( \"/ct\" => ( ( {}, \"connect-timeout\" => 1 ) ),\n  \
         \"/wt\" => ( ( {}, \"write-timeout\" => 1 ) ) )\n",
        full.addr.conf(),
        silent.addr.conf()
    );
    let Some(mut pair) = start("connect_and_write_timeouts", scratch, &conf) else {
        return;
    };
    // 14. connect-timeout 1 against a full accept queue → 503 after 1–3.5 s
    pair.observe("connect-timeout 1", |_, s| {
        let t = Instant::now();
        let got = names(s, &[Req::get("/ct/x")])?;
        let secs = t.elapsed().as_secs_f64();
        Ok((got, (1.0..=3.5).contains(&secs)))
    });
    // 16. write-timeout 1, a backend that never reads, 10 MB upload → 504
    pair.observe("write-timeout 1, 10 MB to a backend that never reads", |_, s| {
        let body = vec![b'u'; 10_000_000];
        let mut c = s.connect()?;
        let mut req = format!(
            "POST /wt/x HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        c.send(&req)?;
        let r = c.response_within(false, Duration::from_secs(15))?;
        Ok(r.status_line)
    });
    pair.finish();
}

// ---------------------------------------------------------------------------
// 30. Startup checks of proxy.server (compared: accepted or refused by -tt)

#[test]
fn proxy_server_config_checks() {
    let Some(lighttpd) = lighttpd_or_skip("proxy_server_config_checks") else {
        return;
    };
    let other = if compat_tests::http::self_check() {
        lighttpd.clone()
    } else {
        wick_bin()
    };
    let scratch = Scratch::new("bm").expect("scratch dir");
    let dir = scratch.path();
    let exe = install_tool(dir, "binpath_logger.py");
    put(&dir.join("not-exec.sh"), "#!/bin/sh\n");
    let long = format!("/tmp/{}", "s".repeat(110));
    let h = "\"host\" => \"127.0.0.1\", \"port\" => 8080";
    let cases: Vec<(&str, String)> = vec![
        ("only a port", "( \"port\" => 8080 )".into()),
        ("host without port", "( \"host\" => \"127.0.0.1\" )".into()),
        (
            "host, port and socket",
            format!("( {h}, \"socket\" => \"/tmp/x.sock\" )"),
        ),
        (
            "socket path over 105 bytes",
            format!("( \"socket\" => \"{long}\" )"),
        ),
        (
            "port is a string",
            "( \"host\" => \"127.0.0.1\", \"port\" => \"abc\" )".into(),
        ),
        (
            "port 70000 wraps",
            "( \"host\" => \"127.0.0.1\", \"port\" => 70000 )".into(),
        ),
        (
            "host localhost",
            "( \"host\" => \"localhost\", \"port\" => 8080 )".into(),
        ),
        (
            "unresolvable host",
            "( \"host\" => \"no-such-host.invalid\", \"port\" => 80 )".into(),
        ),
        (
            "option with underscore",
            format!("( {h}, \"max_procs\" => 2 )"),
        ),
        ("unknown option", format!("( {h}, \"foo\" => 2 )")),
        ("mode bogus", format!("( {h}, \"mode\" => \"bogus\" )")),
        (
            "mode authorizer",
            format!("( {h}, \"mode\" => \"authorizer\" )"),
        ),
        (
            "bin-path not executable",
            format!(
                "( \"bin-path\" => \"{}/not-exec.sh\", \"socket\" => \"{}/s\" )",
                dir.display(),
                dir.display()
            ),
        ),
        (
            "bin-path executable",
            format!(
                "( \"bin-path\" => \"{} http\", \"socket\" => \"{}/s\" )",
                exe.display(),
                dir.display()
            ),
        ),
        (
            "x-sendfile-docroot relative",
            format!("( {h}, \"x-sendfile-docroot\" => ( \"rel\" ) )"),
        ),
    ];
    let mut confs: Vec<(String, String)> = cases
        .into_iter()
        .map(|(label, hostdef)| {
            (
                label.to_string(),
                format!("proxy.server = ( \"/p\" => ( {hostdef} ) )\n"),
            )
        })
        .collect();
    confs.extend(
        [
            (
                "not a list of hosts",
                "proxy.server = ( \"\" => ( \"host\" => \"127.0.0.1\" ) )",
            ),
            ("balance round_robin", "proxy.balance = \"round_robin\""),
            ("balance sticky", "proxy.balance = \"sticky\""),
            ("forwarded key nope", "proxy.forwarded = ( \"nope\" => 1 )"),
            (
                "forwarded value bogus",
                "proxy.forwarded = ( \"for\" => \"bogus\" )",
            ),
            (
                "header sub-key unknown",
                "proxy.header = ( \"nope\" => \"enable\" )",
            ),
            (
                "header upgrade enabled",
                "proxy.header = ( \"upgrade\" => \"enable\" )",
            ),
            (
                "map-extensions",
                "proxy.map-extensions = ( \".php5\" => \".php\" )",
            ),
        ]
        .map(|(l, c)| (l.to_string(), format!("{c}\n"))),
    );
    let mut tally = Tally::new("proxy_server_config_checks");
    for (label, body) in confs {
        let path = dir.join(format!("{}.conf", label.replace(' ', "-")));
        fs::write(
            &path,
            format!(
                "server.modules = ( \"mod_proxy\" )\nserver.document-root = \"{}\"\n\
                 server.port = 8080\n{body}",
                dir.display()
            ),
        )
        .expect("write the config");
        let run = |program: &Path| -> Result<bool, String> {
            let out = Cmd::new(program)
                .args(["-tt", "-f"])
                .arg(&path)
                .cwd(dir)
                .env_clear()
                .envs(compat_tests::base_env())
                .run()
                .map_err(|e| e.to_string())?;
            Ok(out.success())
        };
        let (l, w) = (run(&lighttpd), run(&other));
        tally.compare(&format!("-tt accepts: {label}"), &l, &w);
    }
    tally.finish();
}

// ---------------------------------------------------------------------------
// bin-path children (§6.3, §7, §8)

/// One program's run of a bin-path scenario in its own directory.
struct BinpathRun {
    server: Server,
    dir: std::path::PathBuf,
    log: std::path::PathBuf,
    _reaper: ChildReaper,
    _scratch: Scratch,
}

/// The environment a server (and so a child without
/// `bin-copy-environment`) gets besides the harness's base environment.
fn server_env() -> Vec<(String, String)> {
    vec![
        ("SECRET".to_string(), "s3cret".to_string()),
        ("HOME".to_string(), "/home/compat".to_string()),
    ]
}

/// Starts `program` on a config whose `proxy.server` is `servers`, with
/// `{exe}` → `binpath_logger.py` installed in `{dir}/bin`, `{log}` → where
/// the children record themselves, `{dir}` → the scratch directory.
fn launch_binpath(side: Side, program: &Path, servers: &str) -> Result<BinpathRun, String> {
    let scratch = Scratch::new("bp").map_err(|e| e.to_string())?;
    let dir = scratch.path().to_path_buf();
    let exe = install_tool(&dir, "binpath_logger.py");
    let log = dir.join("log");
    fs::create_dir_all(&log).map_err(|e| e.to_string())?;
    fs::create_dir_all(dir.join("htdocs")).map_err(|e| e.to_string())?;
    let conf = format!(
        "server.modules = ( \"mod_proxy\" )\nserver.document-root = \"{{dir}}/htdocs\"\n\
         {NO_UPSTREAM_KEEP_ALIVE}proxy.server = {servers}\n"
    )
    .replace("{exe}", &exe.display().to_string())
    .replace("{log}", &log.display().to_string())
    .replace("{dir}", &dir.display().to_string());
    let name = match side {
        Side::Lighttpd => "lighttpd",
        Side::Wick => "wick",
    };
    let launch = Launch {
        env: server_env(),
        own_group: true,
        ..Launch::default()
    };
    let reaper = ChildReaper {
        logdir: log.clone(),
    };
    let server = Server::launch(name, program, &conf, &dir, &launch)?;
    Ok(BinpathRun {
        server,
        dir,
        log,
        _reaper: reaper,
        _scratch: scratch,
    })
}

impl BinpathRun {
    /// `text` with the scratch directory written `{dir}`.
    fn norm(&self, text: &str) -> String {
        text.replace(&self.dir.display().to_string(), "{dir}")
    }

    /// Files in the scratch directory whose names start with `prefix`.
    fn files(&self, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(prefix))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    fn starts(&self) -> Vec<ChildStart> {
        read_starts(&self.log)
    }

    fn wait_starts(&self, n: usize, limit: Duration) -> Result<Vec<ChildStart>, String> {
        wait_starts(&self.log, limit, |s| s.len() >= n).map_err(|e| {
            format!(
                "{e}\n{} stderr:\n{}",
                self.server.name,
                self.server.stderr()
            )
        })
    }

    /// GET `path`: status and, for a child's answer `pid=<pid> n=<k>`, the
    /// address of the proc that answered (its fd 0 `sockname`).
    fn get(&self, path: &str) -> Result<String, String> {
        let r = self
            .server
            .exchange_one(&Req::get(path).bytes(&[]), false)?;
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let proc = body
            .strip_prefix("pid=")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|pid| pid.parse::<i32>().ok())
            .map(|pid| {
                self.starts()
                    .iter()
                    .find(|s| s.pid == pid)
                    .map_or(format!("unknown pid {pid}"), |s| self.norm(&s.fd0_sockname))
            })
            .unwrap_or_else(|| r.header("x-backend").unwrap_or("-").to_string());
        Ok(format!("{} {proc}", r.status))
    }

    /// Stops the server with SIGTERM (wick may wait for its children).
    fn stop(&mut self) -> Result<(), String> {
        self.server
            .stop(libc::SIGTERM, Duration::from_secs(30))
            .map(|_| ())
    }

    /// The signals each recorded child received, by proc address.
    fn signals(&self) -> BTreeMap<String, Vec<String>> {
        self.starts()
            .iter()
            .map(|s| {
                let sig = read_events(&self.log, s.pid)
                    .into_iter()
                    .map(|(_, e)| e)
                    .filter(|e| e.starts_with("signal "))
                    .collect();
                (format!("{} pid {}", self.norm(&s.fd0_sockname), s.pid), sig)
            })
            .map(|(k, v)| (k.split(" pid ").next().unwrap_or("").to_string(), v))
            .collect()
    }
}

/// Polls until child `pid` recorded `event`, within `limit`.
fn wait_event(log: &Path, pid: i32, event: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if read_events(log, pid).iter().any(|(_, e)| e == event) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How a child was started, normalised for comparison.
#[derive(Debug, PartialEq)]
struct ChildView {
    argv: Vec<String>,
    cwd: String,
    fd0: String,
    fds: Vec<String>,
    parent_is_server: bool,
    in_servers_group: bool,
}

fn child_view(run: &BinpathRun, s: &ChildStart) -> ChildView {
    let server_pid = run.server.pid().map_or(-1, |p| p as i32);
    let fds = s
        .fds
        .iter()
        .map(|(fd, target)| {
            let t = if target.starts_with("socket:") {
                "socket".to_string()
            } else if target.starts_with("pipe:") {
                "pipe".to_string()
            } else {
                run.norm(target)
                    .replace("lighttpd.stderr", "{server}.stderr")
                    .replace("wick.stderr", "{server}.stderr")
            };
            format!("{fd} {t}")
        })
        .collect();
    ChildView {
        argv: s.argv.iter().map(|a| run.norm(a)).collect(),
        cwd: run.norm(&s.cwd),
        fd0: format!(
            "{} {} listening={} nonblocking={}",
            s.fd0_family,
            run.norm(&s.fd0_sockname),
            s.fd0_listening,
            s.fd0_nonblocking
        ),
        fds,
        parent_is_server: s.ppid == server_pid,
        in_servers_group: s.pgid == server_pid,
    }
}

/// The environment of a child, normalised.
fn env_view(run: &BinpathRun, s: &ChildStart) -> BTreeMap<String, String> {
    s.env
        .iter()
        .map(|(k, v)| (k.clone(), run.norm(v)))
        .collect()
}

/// 17, 21, 32, 27 (default signal), §8.5: unix socket procs `S-0`, `S-1`;
/// what the child sees; newest-first proc choice; shutdown.
#[test]
fn binpath_unix_sockets_children_and_shutdown() {
    let test = "binpath_unix_sockets_children_and_shutdown";
    let Some(duo) = Duo::new(test) else {
        return;
    };
    #[derive(Debug, PartialEq)]
    struct Obs {
        sockets_at_start: Vec<String>,
        children: Vec<ChildView>,
        env: Vec<BTreeMap<String, String>>,
        served_by: Vec<String>,
        signals_at_stop: BTreeMap<String, Vec<String>>,
        children_gone: bool,
        sockets_after_stop: Vec<String>,
    }
    let (l, w) = duo.run(|side, program| {
        let mut run = launch_binpath(
            side,
            program,
            "( \"/bp\" => ( ( \"bin-path\" => \"{exe} http extra-arg\", \"socket\" => \"{dir}/bp.sock\", \
             \"max-procs\" => 2, \"bin-environment\" => ( \"BL_LOGDIR\" => \"{log}\", \"FOO\" => \"bar\" ) ) ) )",
        )?;
        let starts = run.wait_starts(2, Duration::from_secs(5))?;
        let mut starts = starts;
        starts.sort_by(|a, b| a.fd0_sockname.cmp(&b.fd0_sockname));
        let sockets_at_start = run.files("bp.sock");
        let children = starts.iter().map(|s| child_view(&run, s)).collect();
        let env = starts.iter().map(|s| env_view(&run, s)).collect();
        let served_by = (0..4)
            .map(|i| run.get(&format!("/bp/{i}")))
            .collect::<Result<_, _>>()?;
        run.stop()?;
        let children_gone = starts
            .iter()
            .all(|s| wait_pid_gone(s.pid, CHILD_EXIT_LIMIT));
        Ok(Obs {
            sockets_at_start,
            children,
            env,
            served_by,
            signals_at_stop: run.signals(),
            children_gone,
            sockets_after_stop: run.files("bp.sock"),
        })
    });
    let mut tally = Tally::new(test);
    tally.compare_part("17. socket files S-0, S-1 after start", &l, &w, |o| {
        format!("{:?}", o.sockets_at_start)
    });
    tally.compare_part(
        "21. argv, cwd, fd 0, other fds, parent, process group",
        &l,
        &w,
        |o| format!("{:#?}", o.children),
    );
    tally.compare_part(
        "22. environment without bin-copy-environment",
        &l,
        &w,
        |o| format!("{:#?}", o.env),
    );
    tally.compare_part(
        "32. sequential requests served by the newest proc",
        &l,
        &w,
        |o| format!("{:?}", o.served_by),
    );
    tally.compare_part(
        "§8.5 kill-signal (SIGTERM) to every child at shutdown",
        &l,
        &w,
        |o| format!("{:?}", o.signals_at_stop),
    );
    tally.compare_part("children exit after their signal", &l, &w, |o| {
        format!("{:?}", o.children_gone)
    });
    tally.compare_part("17. socket files removed at shutdown", &l, &w, |o| {
        format!("{:?}", o.sockets_after_stop)
    });
    tally.finish();
}

/// 18, 32: TCP procs on P, P+1, P+2; sequential requests to P+2.
#[test]
fn binpath_tcp_ports() {
    let test = "binpath_tcp_ports";
    let Some(duo) = Duo::new(test) else {
        return;
    };
    let runs = std::sync::Mutex::new(vec![PortRun::reserve(3), PortRun::reserve(3)]);
    let (l, w) = duo.run(|side, program| {
        let port = runs
            .lock()
            .map_err(|e| e.to_string())?
            .pop()
            .ok_or("no port run left")?
            .release();
        let mut run = launch_binpath(
            side,
            program,
            &format!(
                "( \"/bp\" => ( ( \"bin-path\" => \"{{exe}} http\", \"host\" => \"127.0.0.1\", \
                 \"port\" => {port}, \"max-procs\" => 3, \"bin-environment\" => ( \"BL_LOGDIR\" => \"{{log}}\" ) ) ) )"
            ),
        )?;
        let relative = |text: &str| {
            let mut t = text.to_string();
            for i in 0..3u16 {
                t = t.replace(&format!(", {})", port + i), &format!(", P+{i})"));
            }
            t
        };
        let mut listeners: Vec<String> = run
            .wait_starts(3, Duration::from_secs(5))?
            .iter()
            .map(|s| {
                format!(
                    "{} {} listening={}",
                    s.fd0_family,
                    relative(&s.fd0_sockname),
                    s.fd0_listening
                )
            })
            .collect();
        listeners.sort();
        let served: Vec<String> = (0..3)
            .map(|i| run.get(&format!("/bp/{i}")).map(|s| relative(&s)))
            .collect::<Result<_, _>>()?;
        run.stop()?;
        // (whether the ports are free again is not observable reliably:
        // other tests may bind them as soon as they are)
        let gone: Vec<bool> = run
            .starts()
            .iter()
            .map(|s| wait_pid_gone(s.pid, CHILD_EXIT_LIMIT))
            .collect();
        Ok((listeners, served, gone))
    });
    let mut tally = Tally::new(test);
    type Obs = (Vec<String>, Vec<String>, Vec<bool>);
    let part = |r: &Result<Obs, String>, i: usize| {
        r.as_ref()
            .map(|o| match i {
                0 => format!("{:?}", o.0),
                1 => format!("{:?}", o.1),
                _ => format!("{:?}", o.2),
            })
            .map_err(Clone::clone)
    };
    tally.compare(
        "18. procs listen on P, P+1, P+2",
        &part(&l, 0),
        &part(&w, 0),
    );
    tally.compare(
        "32. sequential requests all served by P+2",
        &part(&l, 1),
        &part(&w, 1),
    );
    tally.compare(
        "every child exits after the kill-signal",
        &part(&l, 2),
        &part(&w, 2),
    );
    tally.finish();
}

/// 19, 20, 22: default proc count; `min-procs` 0; environment with and
/// without `bin-copy-environment`.
#[test]
fn binpath_proc_counts_and_environment() {
    let test = "binpath_proc_counts_and_environment";
    let Some(duo) = Duo::new(test) else {
        return;
    };
    let (l, w) = duo.run(|side, program| {
        let mut run = launch_binpath(
            side,
            program,
            "( \"/d\" => ( ( \"bin-path\" => \"{exe} http\", \"socket\" => \"{dir}/d.sock\", \
             \"bin-environment\" => ( \"BL_LOGDIR\" => \"{log}\" ) ) ),\n  \
             \"/z\" => ( ( \"bin-path\" => \"{exe} http zero\", \"socket\" => \"{dir}/z.sock\", \
             \"min-procs\" => 0, \"max-procs\" => 2, \"bin-environment\" => ( \"BL_LOGDIR\" => \"{log}\" ) ) ),\n  \
             \"/e\" => ( ( \"bin-path\" => \"{exe} http env\", \"socket\" => \"{dir}/e.sock\", \
             \"min-procs\" => 1, \"max-procs\" => 1, \
             \"bin-copy-environment\" => ( \"PATH\", \"HOME\", \"NOPE\" ), \
             \"bin-environment\" => ( \"BL_LOGDIR\" => \"{log}\", \"FOO\" => \"bar\", \"HOME\" => \"/override\" ) ) ) )",
        )?;
        // 4 default procs for /d, 1 for /e, none for /z
        let starts = run.wait_starts(5, Duration::from_secs(5))?;
        let count = |prefix: &str| {
            starts
                .iter()
                .filter(|s| run.norm(&s.fd0_sockname).starts_with(&format!("'{{dir}}/{prefix}")))
                .count()
        };
        let at_start = (count("d.sock"), count("z.sock"), count("e.sock"));
        let files = (run.files("d.sock"), run.files("z.sock"));
        let env_copy = starts
            .iter()
            .find(|s| s.argv.get(2).is_some_and(|a| a == "env"))
            .map(|s| env_view(&run, s));
        // 20. the first request to /z spawns a proc and is served
        let first = run.get("/z/first")?;
        let after = run.wait_starts(6, Duration::from_secs(3))?;
        let z_after = after
            .iter()
            .filter(|s| run.norm(&s.fd0_sockname).starts_with("'{dir}/z.sock"))
            .count();
        run.stop()?;
        Ok(format!(
            "procs at start (default, min 0, min 1): {at_start:?}\nsocket files: {files:?}\n\
             min-procs 0, first request: {first}; procs then: {z_after}\n\
             environment with bin-copy-environment: {env_copy:#?}"
        ))
    });
    let mut tally = Tally::new(test);
    tally.compare(
        "19/20/22. proc counts, first request with min-procs 0, copied environment",
        &l,
        &w,
    );
    tally.finish();
}

/// 23, 27: a SIGKILLed child is replaced on the same address; the
/// configured kill-signal (10, SIGUSR1) is sent at shutdown.
#[test]
fn binpath_respawn_and_kill_signal() {
    let test = "binpath_respawn_and_kill_signal";
    let Some(duo) = Duo::new(test) else {
        return;
    };
    let (l, w) = duo.run(|side, program| {
        let mut run = launch_binpath(
            side,
            program,
            "( \"/bp\" => ( ( \"bin-path\" => \"{exe} http\", \"socket\" => \"{dir}/bp.sock\", \
             \"max-procs\" => 1, \"kill-signal\" => 10, \"bin-environment\" => ( \"BL_LOGDIR\" => \"{log}\" ) ) ) )",
        )?;
        let first = run.wait_starts(1, Duration::from_secs(5))?[0].clone();
        let killed = Instant::now();
        // SAFETY: kill has no memory-safety preconditions; the pid is the
        // child this scenario's server just started.
        unsafe {
            libc::kill(first.pid, libc::SIGKILL);
        }
        let second = run.wait_starts(2, Duration::from_secs(5))?;
        let within = killed.elapsed() <= Duration::from_millis(1500);
        let new = second.iter().find(|s| s.pid != first.pid).ok_or("no new child")?;
        let same_address = new.fd0_sockname == first.fd0_sockname;
        let served = run.get("/bp/after")?;
        let served_by_new = served.ends_with(&run.norm(&new.fd0_sockname));
        run.stop()?;
        wait_pid_gone(new.pid, Duration::from_secs(3));
        let signals: Vec<String> = read_events(&run.log, new.pid)
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| e.starts_with("signal"))
            .collect();
        Ok(format!(
            "respawned within 1.5 s: {within}; same address: {same_address}; \
             request served by it: {served_by_new} ({served}); at shutdown: {signals:?}; starts: {}",
            run.starts().len()
        ))
    });
    let mut tally = Tally::new(test);
    tally.compare(
        "23/27. respawn after SIGKILL, kill-signal at shutdown",
        &l,
        &w,
    );
    tally.finish();
}

/// 24: a child that exits 0.3 s after every start is restarted for as long
/// as the server runs, at most about once a second.
#[test]
fn binpath_crash_loop() {
    let test = "binpath_crash_loop";
    let Some(duo) = Duo::new(test) else {
        return;
    };
    const WATCH: Duration = Duration::from_millis(4500);
    let (l, w) = duo.run(|side, program| {
        let mut run = launch_binpath(
            side,
            program,
            "( \"/bp\" => ( ( \"bin-path\" => \"{exe} http\", \"socket\" => \"{dir}/bp.sock\", \
             \"max-procs\" => 1, \"bin-environment\" => ( \"BL_LOGDIR\" => \"{log}\", \
             \"BL_EXIT_AFTER\" => \"0.3\" ) ) ) )",
        )?;
        let t0 = Instant::now();
        std::thread::sleep(WATCH);
        let starts = run.starts().len();
        let late = wait_starts(&run.log, Duration::from_secs(3), |s| s.len() > starts).is_ok();
        let _ = t0;
        run.stop()?;
        // lighttpd: about every 1–2 s → 3–6 starts in 4.5 s
        Ok(format!(
            "starts in {WATCH:?} within 2..=7: {}; still restarting afterwards: {late}",
            (2..=7).contains(&starts)
        ))
    });
    let mut tally = Tally::new(test);
    tally.compare(
        "24. crash loop: restarted, not faster than ~1/s, never abandoned",
        &l,
        &w,
    );
    tally.finish();
}

/// 25, 26: min 1 / max 3 / max-load 1: three concurrent slow requests make
/// a second proc appear; a request after that goes to it; once idle, the
/// proc that has been unused longest above min-procs gets the kill-signal
/// after idle-timeout (+1–2 s of timer). Both servers spawn on a
/// once-a-second tick: should it fall between the arrivals of the three
/// requests, the third goes to the new proc; such a run is repeated.
#[test]
fn binpath_adaptive_spawn_and_idle_reap() {
    let test = "binpath_adaptive_spawn_and_idle_reap";
    let Some(duo) = Duo::new(test) else {
        return;
    };
    let (l, w) = duo.run_until_same(test, 3, |side, program| {
        let mut run = launch_binpath(
            side,
            program,
            "( \"/bp\" => ( ( \"bin-path\" => \"{exe} http\", \"socket\" => \"{dir}/bp.sock\", \
             \"min-procs\" => 1, \"max-procs\" => 3, \"max-load-per-proc\" => 1, \"idle-timeout\" => 3, \
             \"bin-environment\" => ( \"BL_LOGDIR\" => \"{log}\", \"BL_HTTP_DELAY\" => \"2\" ) ) ) )",
        )?;
        run.wait_starts(1, Duration::from_secs(5))?;
        let t0 = Instant::now();
        let run_ref = &run;
        let (first_three, spawned, fourth) = std::thread::scope(|s| {
            let reqs: Vec<_> = (0..3)
                .map(|i| {
                    s.spawn(move || run_ref.get(&format!("/bp/c{i}")).map(|r| (r, t0.elapsed())))
                })
                .collect();
            let spawned = run_ref.wait_starts(2, Duration::from_millis(3500));
            let spawned_at = t0.elapsed();
            let done: Result<Vec<(String, Duration)>, String> = reqs
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
                .collect();
            // once all are idle the newest proc gets the next request; its
            // use ends ~2 s after proc 0's, so proc 0 is reaped first
            let fourth = spawned.is_ok().then(|| run_ref.get("/bp/after-spawn"));
            (done, spawned.map(|s| (s.len(), spawned_at)), fourth)
        });
        let first_three = first_three?;
        let proc0_idle_since = first_three.iter().map(|r| r.1).max().unwrap_or_default();
        let first_three: Vec<String> = first_three.into_iter().map(|r| r.0).collect();
        let (procs, spawned_at) = spawned?;
        let fourth = fourth.ok_or("no second proc")??;
        let busy_until = t0.elapsed();
        // idle reaping: wait for a SIGTERM (up to idle-timeout + 4 s)
        let deadline = Instant::now() + Duration::from_secs(7);
        let reaped = loop {
            let hit = run.starts().into_iter().find(|s| {
                read_events(&run.log, s.pid)
                    .iter()
                    .any(|(_, e)| e == "signal SIGTERM")
            });
            if let Some(s) = hit {
                break Some((run.norm(&s.fd0_sockname), t0.elapsed(), s.pid));
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (reaped_proc, reaped_at, reaped_pid) =
            reaped.ok_or("no proc was reaped within 7 s")?;
        // proc 0 was last used when the first three requests ended (proc 1
        // by the fourth): idle-timeout 3 + lighttpd's timer → 4–5 s
        let idle_for = reaped_at.saturating_sub(proc0_idle_since).as_secs_f64();
        let _ = busy_until;
        wait_pid_gone(reaped_pid, Duration::from_secs(3));
        let live = run.starts().iter().filter(|s| pid_alive(s.pid)).count();
        run.stop()?;
        Ok(format!(
            "first three: {first_three:?}\nsecond proc within 3.5 s: {} (procs {procs})\n\
             request after the spawn: {fourth}\nreaped: {reaped_proc}, 3–6.5 s after its last use: {}\n\
             live procs after reaping: {live}",
            spawned_at <= Duration::from_millis(3500),
            (3.0..=6.5).contains(&idle_for)
        ))
    });
    let mut tally = Tally::new(test);
    tally.compare("25/26. adaptive spawn, then idle reaping", &l, &w);
    tally.finish();
}

/// 28 (known difference): a child that ignores SIGTERM outlives lighttpd
/// (lighttpd does not wait); wick waits and SIGKILLs it after a timeout.
#[test]
fn binpath_child_ignoring_term_at_shutdown() {
    let test = "binpath_child_ignoring_term_at_shutdown";
    let Some(duo) = Duo::new(test) else {
        return;
    };
    let (l, w) = duo.run(|side, program| {
        let mut run = launch_binpath(
            side,
            program,
            "( \"/bp\" => ( ( \"bin-path\" => \"{exe} http\", \"socket\" => \"{dir}/bp.sock\", \
             \"max-procs\" => 1, \"bin-environment\" => ( \"BL_LOGDIR\" => \"{log}\", \
             \"BL_IGNORE_TERM\" => \"1\" ) ) ) )",
        )?;
        let child = run.wait_starts(1, Duration::from_secs(5))?[0].clone();
        // a served request shows the child installed its signal handlers
        // (binpath_logger.py records itself first)
        run.get("/bp/ready")?;
        run.stop()?;
        let got_term = wait_event(
            &run.log,
            child.pid,
            "signal SIGTERM",
            Duration::from_secs(2),
        );
        // alive a second after the server exited?
        let alive_after_1s = !wait_pid_gone(child.pid, Duration::from_secs(1));
        Ok((got_term, alive_after_1s))
    });
    let mut tally = Tally::new(test);
    tally.known(
        "28. child ignoring SIGTERM at shutdown",
        "at shutdown wick waits for bin-path children and SIGKILLs those that ignore the kill-signal",
        &l,
        &w,
        |l, w| {
            if *l != (true, true) {
                return Err("lighttpd: expected SIGTERM sent and the child left running".into());
            }
            if *w != (true, false) {
                return Err("wick: expected SIGTERM sent and the child gone when wick exits".into());
            }
            Ok(())
        },
    );
    tally.finish();
}

/// 26 (known difference): an idle-reaped child that ignores the signal:
/// lighttpd never escalates; wick SIGKILLs it after a timeout.
#[test]
fn binpath_idle_reaped_child_ignoring_term() {
    let test = "binpath_idle_reaped_child_ignoring_term";
    let Some(duo) = Duo::new(test) else {
        return;
    };
    let (l, w) = duo.run(|side, program| {
        let mut run = launch_binpath(
            side,
            program,
            "( \"/bp\" => ( ( \"bin-path\" => \"{exe} http\", \"socket\" => \"{dir}/bp.sock\", \
             \"min-procs\" => 1, \"max-procs\" => 2, \"idle-timeout\" => 1, \
             \"bin-environment\" => ( \"BL_LOGDIR\" => \"{log}\", \"BL_HTTP_DELAY\" => \"2\", \
             \"BL_IGNORE_TERM\" => \"1\" ) ) ) )",
        )?;
        run.wait_starts(1, Duration::from_secs(5))?;
        let run_ref = &run;
        std::thread::scope(|s| {
            let reqs: Vec<_> = (0..2)
                .map(|i| s.spawn(move || run_ref.get(&format!("/bp/c{i}"))))
                .collect();
            for h in reqs {
                let _ = h.join();
            }
        });
        let starts = run.wait_starts(2, Duration::from_secs(2))?;
        // wait for the SIGTERM of idle reaping
        let deadline = Instant::now() + Duration::from_secs(6);
        let reaped = loop {
            let hit = starts.iter().find(|s| {
                read_events(&run.log, s.pid)
                    .iter()
                    .any(|(_, e)| e == "signal SIGTERM")
            });
            if let Some(s) = hit {
                break s.clone();
            }
            if Instant::now() >= deadline {
                return Err("no proc got SIGTERM within 6 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // lighttpd: still alive 8 s later (no escalation)
        let gone_within_8s = wait_pid_gone(reaped.pid, Duration::from_secs(8));
        run.stop()?;
        Ok(gone_within_8s)
    });
    let mut tally = Tally::new(test);
    tally.known(
        "26. idle-reaped child ignoring SIGTERM",
        "idle-reaped children that ignore the kill-signal are SIGKILLed after a timeout",
        &l,
        &w,
        |l, w| {
            if *l {
                return Err("lighttpd: expected the child to stay alive".into());
            }
            if !*w {
                return Err("wick: expected the child to be killed within 8 s".into());
            }
            Ok(())
        },
    );
    tally.finish();
}

/// 29: something already listens on the proc's address → no child is
/// spawned and the listener is used; when it dies: 503, and no spawn later.
#[test]
fn binpath_external_listener() {
    let test = "binpath_external_listener";
    let Some(duo) = Duo::new(test) else {
        return;
    };
    let (l, w) = duo.run(|side, program| {
        // the listener must exist before the server starts: a scratch dir
        // of its own, whose socket path the config names
        let ext_dir = Scratch::new("ext").map_err(|e| e.to_string())?;
        let sock = ext_dir.path().join("x.sock");
        let mut ext = PyBackend::http_unix(
            ext_dir.path(),
            "EXT",
            Path::new(&format!("{}-0", sock.display())),
        );
        let mut run = launch_binpath(
            side,
            program,
            &format!(
                "( \"/bp\" => ( ( \"bin-path\" => \"{{exe}} http\", \"socket\" => \"{}\", \
                 \"max-procs\" => 1, \"bin-environment\" => ( \"BL_LOGDIR\" => \"{{log}}\" ) ) ) )",
                sock.display()
            ),
        )?;
        let before = run.get("/bp/a")?;
        ext.kill();
        let after_kill = run.get("/bp/b")?;
        std::thread::sleep(Duration::from_millis(2500));
        let later = run.get("/bp/c")?;
        let spawned = run.starts().len();
        run.stop()?;
        Ok(format!(
            "served by: {before}; after the listener died: {after_kill}; 2.5 s later: {later}; \
             children spawned: {spawned}"
        ))
    });
    let mut tally = Tally::new(test);
    tally.compare("29. an external listener on the proc address", &l, &w);
    tally.finish();
}
