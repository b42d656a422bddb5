//! mod_accesslog, differentially: lighttpd and wick answer the same
//! requests (compared in full, as in `tests/everyday_modules.rs`) and each
//! writes its own access log (per-server paths through `PairOpts::vars`);
//! then the logs are compared line by line, byte for byte, after two
//! normalisations only: the `[..]` timestamp of `%t` becomes `[TIME]`, and
//! each server's own port number becomes `{port}`.
//!
//! lighttpd buffers access-log lines and writes them about once a second,
//! so the comparison polls each file until the expected number of lines is
//! there (bounded by [`LOG_DEADLINE`]), never sleeping a fixed time.
//!
//! The readiness probe asks for `/probe-ready`; its lines (there may be
//! more than one when a probe is retried) are left out, so every format
//! below logs the path (`%r` or `%U`).
//!
//! `server.tag` is set in every configuration: `%O` counts the response
//! head, and wick's default `Server` value is its own (KNOWN-DIFFERENCES).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use compat_tests::http::{
    Client, Launch, MTIME_HTTP, Pair, PairOpts, Req, Response, Scratch, Side, log_lines, put,
};
use compat_tests::text_diff;

/// The readiness probe (left out of the comparison).
const PROBE_PATH: &str = "/probe-ready";
/// How long the lines of one scenario may take to reach the files.
const LOG_DEADLINE: Duration = Duration::from_secs(10);

fn files(base: &Path, list: &[(&str, &str)]) {
    for (path, contents) in list {
        put(&base.join(path), contents);
    }
}

/// ETag values are computed differently (KNOWN-DIFFERENCES: "ETag values
/// are `\"<decimal>\"` like lighttpd's, but computed differently").
fn etag_form(r: &mut Response) {
    if let Some(v) = r.header("etag").map(str::to_string) {
        let decimal = v.len() > 2
            && v.starts_with('"')
            && v.ends_with('"')
            && v[1..v.len() - 1].bytes().all(|b| b.is_ascii_digit());
        if decimal {
            r.set_header("etag", "\"(decimal)\"");
        }
    }
}

/// Per-server file names: `{key}` becomes `{dir}/<server>-<file>` for
/// each entry `(key, file)`.
struct Logs {
    keys: Vec<(&'static str, &'static str)>,
    dir: PathBuf,
}

impl Logs {
    fn path(&self, server: usize, file: &str) -> PathBuf {
        let who = if server == 0 { "lighttpd" } else { "wick" };
        self.dir.join(format!("{who}-{file}"))
    }

    fn vars(&self, server: usize) -> Vec<(String, String)> {
        self.keys
            .iter()
            .map(|(key, file)| {
                let path = self.path(server, file);
                (
                    key.to_string(),
                    path.to_str().expect("UTF-8 path").to_string(),
                )
            })
            .collect()
    }
}

/// Starts the pair on `conf` with per-server log files `keys`
/// (`("{log}", "access.log")` …); `setup` fills `{dir}`.
fn start(
    test: &str,
    conf: &str,
    keys: &[(&'static str, &'static str)],
    setup: impl FnOnce(&Path),
) -> Option<(Pair, Logs)> {
    let scratch = Scratch::new(test).expect("scratch dir");
    let logs = Logs {
        keys: keys.to_vec(),
        dir: scratch.path().to_path_buf(),
    };
    let opts = PairOpts {
        vars: [logs.vars(0), logs.vars(1)],
        launch: Launch {
            probe: Some(format!("GET {PROBE_PATH} HTTP/1.0\r\n\r\n").into_bytes()),
            own_group: true,
            ..Launch::default()
        },
        scratch: Some(scratch),
    };
    // No ETags: their values differ by design (KNOWN-DIFFERENCES), which
    // `check_session` would report, and `%O` would count their lengths.
    let conf = format!(
        "server.document-root = \"{{root}}\"\nserver.tag = \"compat-tests\"\n\
         static-file.etags = \"disable\"\n\
         mimetype.assign = ( \".txt\" => \"text/plain\", \".html\" => \"text/html\" )\n{conf}"
    );
    let pair = Pair::start_opts(test, &conf, setup, opts)?;
    Some((pair, logs))
}

/// `line` with the `%t` timestamp (`[21/Nov/2026:16:18:53 +0000]`) as
/// `[TIME]` and the decimal `port` (not part of a longer number) as
/// `{port}`.
fn normalise_line(line: &str, port: u16) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find('[') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.len() >= 28 && is_clf_time(&tail.as_bytes()[1..27]) && tail.as_bytes()[27] == b']' {
            out.push_str("[TIME]");
            rest = &tail[28..];
        } else {
            out.push('[');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    let port = port.to_string();
    let bytes = out.as_bytes();
    let mut result = String::new();
    let mut i = 0;
    while i < out.len() {
        let digit_before = i > 0 && bytes[i - 1].is_ascii_digit();
        let end = i + port.len();
        if !digit_before
            && out[i..].starts_with(&port)
            && !bytes.get(end).is_some_and(u8::is_ascii_digit)
        {
            result.push_str("{port}");
            i = end;
        } else {
            let c = out[i..].chars().next().expect("in bounds");
            result.push(c);
            i += c.len_utf8();
        }
    }
    result
}

/// `dd/Mon/yyyy:hh:mm:ss +zzzz`
fn is_clf_time(b: &[u8]) -> bool {
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 26
        && digits(0..2)
        && b[2] == b'/'
        && b[3..6].iter().all(u8::is_ascii_alphabetic)
        && b[6] == b'/'
        && digits(7..11)
        && b[11] == b':'
        && digits(12..14)
        && b[14] == b':'
        && digits(15..17)
        && b[17] == b':'
        && digits(18..20)
        && b[20] == b' '
        && (b[21] == b'+' || b[21] == b'-')
        && digits(22..26)
}

/// [`log_lines`] of each file of `paths` (at least `want` complete lines
/// together, within [`LOG_DEADLINE`]) without the probe's, normalised for
/// `port`.
fn normalised_log_lines(paths: &[PathBuf], want: usize, port: u16) -> Vec<Vec<String>> {
    log_lines(paths, want, PROBE_PATH, LOG_DEADLINE)
        .into_iter()
        .map(|lines| lines.iter().map(|l| normalise_line(l, port)).collect())
        .collect()
}

/// Compares the two servers' logs `files` (one comparison each) once they
/// hold `want` lines together (one per request sent); a difference shows
/// as a diff.
fn compare_logs(pair: &mut Pair, logs: &Logs, files: &[&str], want: usize) {
    compare_logs_known(pair, logs, files, want, &[]);
}

/// A log line that differs on purpose (KNOWN-DIFFERENCES `reason`): as
/// normalised, lighttpd's line and wick's, both without the final newline.
struct KnownLine {
    reason: &'static str,
    lighttpd: &'static str,
    wick: &'static str,
}

/// [`compare_logs`] where each of `known` is checked first: lighttpd's log
/// must hold its line exactly once, wick's its own at the same place (file
/// and position); wick's is then replaced by lighttpd's before the logs
/// are compared. Each counts as a known difference.
fn compare_logs_known(
    pair: &mut Pair,
    logs: &Logs,
    files: &[&str],
    want: usize,
    known: &[KnownLine],
) {
    let ports = [
        pair.server(Side::Lighttpd).port,
        pair.server(Side::Wick).port,
    ];
    let [l, w] = [0, 1].map(|i| {
        let paths: Vec<PathBuf> = files.iter().map(|f| logs.path(i, f)).collect();
        (paths, ports[i])
    });
    let (l, w) = thread::scope(|scope| {
        let l = scope.spawn(|| normalised_log_lines(&l.0, want, l.1));
        let w = scope.spawn(|| normalised_log_lines(&w.0, want, w.1));
        (
            l.join().expect("log reader panicked"),
            w.join().expect("log reader panicked"),
        )
    });
    let mut w = w;
    for k in known {
        let places = |lines: &[Vec<String>], line: &str| -> Vec<(usize, usize)> {
            let line = format!("{line}\n");
            let mut found = Vec::new();
            for (f, file) in lines.iter().enumerate() {
                for (i, l) in file.iter().enumerate() {
                    if *l == line {
                        found.push((f, i));
                    }
                }
            }
            found
        };
        let (l_at, w_at) = (places(&l, k.lighttpd), places(&w, k.wick));
        pair.observe_known(
            &format!("access log line {:?}", k.lighttpd),
            k.reason,
            |side, server| {
                // where each side's documented form is (in self-check mode
                // both servers are lighttpd and show lighttpd's form)
                let lines = if server.index() == 0 { &l } else { &w };
                Ok(match side {
                    Side::Lighttpd => places(lines, k.lighttpd),
                    Side::Wick => places(lines, k.wick),
                })
            },
            |lp, wp| {
                if lp.len() == 1 && lp == wp {
                    Ok(())
                } else {
                    Err(format!(
                        "expected lighttpd's line once and wick's at the same place: {lp:?} | {wp:?}"
                    ))
                }
            },
        );
        if l_at.len() == 1 && l_at == w_at {
            let (f, i) = w_at[0];
            w[f][i] = format!("{}\n", k.lighttpd);
        }
    }
    for (k, file) in files.iter().enumerate() {
        let label = format!("access log {file}");
        let (lk, wk) = (&l[k], &w[k]);
        pair.observe(&label, |_, server| {
            Ok(if server.index() == 0 {
                lk.clone()
            } else {
                wk.clone()
            })
        });
        if lk != wk {
            pair.fail(format!(
                "{label}:\n{}",
                text_diff(
                    "lighttpd",
                    lk.concat().as_bytes(),
                    "wick",
                    wk.concat().as_bytes()
                )
            ));
        }
    }
    let total = |v: &Vec<Vec<String>>| v.iter().map(Vec::len).sum::<usize>();
    for (who, got) in [("lighttpd", &l), ("wick", &w)] {
        if total(got) != want {
            pair.fail(format!(
                "{who} logged {} lines in {files:?} for {want} requests:\n{}",
                total(got),
                got.concat().concat()
            ));
        }
    }
}

/// Requests every log scenario sends (each a line): statuses 200, 206,
/// 301, 304, 403, 404, 501, HEAD, a body, HTTP/1.0 without Host, absolute
/// form, a query, `Referer`/`User-Agent`, a redirect, a rewrite, an alias.
fn common_requests() -> Vec<Req> {
    vec![
        Req::get("/a.txt")
            .header("Referer", "http://ref.example/page?x=1")
            .header("User-Agent", "compat/1.0 (test)"),
        Req::get("/missing.txt"),
        Req::get("/a.txt").header("If-Modified-Since", MTIME_HTTP),
        Req::head("/a.txt"),
        Req::head("/missing.txt"),
        Req::new("POST", "/a.txt").body("x=1&y=2"),
        Req::get("/dir"),
        Req::get("/dir/"),
        Req::get("/a.txt").header("Range", "bytes=1-3"),
        Req::get("/a.txt").header("Range", "bytes=100-"),
        Req::get("/a.txt").http10().no_host(),
        Req::get("http://other.example/a.txt?abs=1").no_host(),
        Req::get("/a.txt?q=%20x&r").host("Example.ORG:8080"),
        Req::get("/secret.inc"),
        Req::new("DELETE", "/a.txt"),
        Req::new("OPTIONS", "*"),
        Req::get("/old/x?y=1"),
        Req::get("/rw/p?z=2"),
        Req::get("/al/b.txt"),
        Req::get("/%7Euser/caf%C3%A9.txt"),
    ]
}

const MODULES: &str = r#"server.modules = ( "mod_access", "mod_alias", "mod_rewrite", "mod_redirect", "mod_setenv", "mod_accesslog", "mod_indexfile", "mod_staticfile" )
index-file.names = ( "index.html" )
url.access-deny = ( ".inc" )
url.rewrite-once = ( "^/rw/([^?]*)" => "/a.txt?from=$1" )
url.redirect = ( "^/old/(.*)" => "/new/$1" )
alias.url = ( "/al/" => "{dir}/al/" )
"#;

fn common_setup(dir: &Path) {
    files(
        dir,
        &[
            ("htdocs/a.txt", "0123456789\n"),
            ("htdocs/dir/index.html", "dir index\n"),
            ("htdocs/secret.inc", "secret\n"),
            ("htdocs/~user/caf\u{e9}.txt", "utf-8 name\n"),
            ("al/b.txt", "alias b\n"),
        ],
    );
}

/// Sends `reqs` (each compared in full) and returns how many were sent.
fn send_all(pair: &mut Pair, reqs: Vec<Req>) -> usize {
    let n = reqs.len();
    for req in reqs {
        pair.check_full_with(req, etag_form);
    }
    n
}

/// The default format (`%h %V %u %t "%r" %>s %b "%{Referer}i"
/// "%{User-Agent}i"`) for every kind of answer, and three requests on one
/// keep-alive connection. lighttpd 1.4.69: `%b` is `0` (not `-`) for
/// 301/304/HEAD; `%V` is the normalised Host (lower case, port kept), the
/// authority of an absolute-form target, `-` without Host; `%r` is the
/// request line as received (before rewrites).
#[test]
fn accesslog_default_format() {
    let conf = format!("{MODULES}accesslog.filename = \"{{log}}\"\n");
    let Some((mut pair, logs)) = start(
        "accesslog_default_format",
        &conf,
        &[("{log}", "access.log")],
        common_setup,
    ) else {
        return;
    };
    let mut lines = send_all(&mut pair, common_requests());
    // Refused heads: an empty request line ("  "), or the request line
    // when a header was at fault.
    for raw in [
        "GET /a.txt HTTP/1.2\r\nHost: a\r\n\r\n",
        "GET /a.txt\r\n\r\n",
        "GET /a.txt HTTP/1.1\r\nHo st: a\r\n\r\n",
        "POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        "GET /a.txt HTTP/1.0\r\nReferer: r\nX: y\r\n\r\n",
        // the line as far as lighttpd understood it: no method for an
        // unknown one, no target for a target of the wrong form, the raw
        // target when only its bytes were at fault
        "G(T /a.txt HTTP/1.1\r\nHost: a\r\n\r\n",
        "get /a.txt HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET a.txt HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /a\x01.txt HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://a/a.txt HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n",
        // a CONNECT to a name (lighttpd takes numeric authorities only),
        // and one to a number (405 without mod_proxy: the Host header is
        // the host)
        "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
        "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
    ] {
        pair.check(Req::raw("GET", raw));
        lines += 1;
    }
    // Targets with bytes lighttpd accepts and encodes (hyper is handed an
    // encoded copy): `%r` shows them as they came, of an absolute URI the
    // path; on a keep-alive connection, pipelined, between plain ones.
    let encoded = [
        Req::raw("GET", "GET /a b.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
        Req::get("/a.txt").keep_alive(),
        Req::raw("GET", "GET /x\"<y>`?q=a b HTTP/1.1\r\nHost: a\r\n\r\n"),
        Req::raw(
            "GET",
            "GET http://a/b c.txt?d e HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
        Req::raw("GET", "GET /x://y/z w HTTP/1.1\r\nHost: a\r\n\r\n"),
        Req::head("/a.txt"),
    ];
    pair.check_session("encoded targets, pipelined", &encoded, true);
    lines += encoded.len();
    let session = [
        Req::get("/a.txt").keep_alive(),
        Req::get("/missing.txt").keep_alive(),
        Req::head("/a.txt"),
    ];
    pair.check_session("keep-alive session", &session, false);
    lines += session.len();
    compare_logs(&mut pair, &logs, &["access.log"], lines);
    pair.finish();
}

/// Every specifier whose value does not depend on the clock: addresses,
/// sizes (`%b %B %I %O`), file name, protocol, request/response headers,
/// keep-alive count, method, port, query, request line, statuses, user,
/// URL path, server name, host, connection state, cookies, environment.
/// lighttpd 1.4.69: `%U`/`%q` show the target after mod_rewrite (`%r` the
/// original); `%f` is `-` for error pages and the directory for a 301;
/// `%{X}i` sees request headers added by mod_setenv only when the request
/// got that far (not for 403 from mod_access or a redirect, modules listed
/// before mod_setenv); setenv response headers are missing from a 416;
/// `%{ENV_A}e` stays `-` (the environment is built for CGI-like handlers
/// only); `%k` counts requests on the connection from 0; `%X` is `+` while
/// the connection stays open, `-` when it closes.
#[test]
fn accesslog_format_specifiers() {
    let conf = format!(
        "{MODULES}server.name = \"compat.example\"\n\
         setenv.add-environment = ( \"ENV_A\" => \"a-value\" )\n\
         setenv.add-request-header = ( \"X-Added\" => \"by-setenv\" )\n\
         setenv.add-response-header = ( \"X-Resp\" => \"r\" )\n\
         accesslog.filename = \"{{log}}\"\n\
         accesslog.format = \"a=%a A=%A b=%b B=%B e=%{{ENV_A}}e f=%f h=%h H=%H \
         i=%{{X-Custom}}i added=%{{X-Added}}i I=%I k=%k l=%l m=%m o=%{{Content-Type}}o \
         resp=%{{X-Resp}}o O=%O p=%p q=%q r=%r s=%s >s=%>s u=%u U=%U v=%v V=%V X=%X \
         pct=%% C=%{{sess}}C n=%n\"\n"
    );
    let Some((mut pair, logs)) = start(
        "accesslog_format_specifiers",
        &conf,
        &[("{log}", "access.log")],
        common_setup,
    ) else {
        return;
    };
    let mut reqs = common_requests();
    reqs.push(
        Req::get("/a.txt?k=v")
            .header("X-Custom", "c\"q\\ x")
            .header("Cookie", "a=1; sess=xyz; b=2"),
    );
    reqs.push(Req::get("/a.txt").header("Cookie", "session=no; sess="));
    reqs.push(Req::new("PUT", "/a.txt").body("0123456789"));
    let mut lines = send_all(&mut pair, reqs);
    let session = [
        Req::get("/a.txt").keep_alive(),
        Req::get("/dir").keep_alive(),
        Req::get("/a.txt"),
    ];
    pair.check_session("keep-alive session", &session, false);
    lines += session.len();
    compare_logs(&mut pair, &logs, &["access.log"], lines);
    pair.finish();
}

/// Header values with quotes, backslashes, UTF-8 and other bytes, logged
/// with the default escaping and with `accesslog.escaping = "json"` (a
/// second log chosen by a conditional). lighttpd 1.4.69, default: `"` →
/// `\"`, `\` → `\\`, tab → `\t`, bytes ≥ 0x80 → `\xHH`; json: the same
/// for `"`, `\`, tab, bytes ≥ 0x80 written as they are. A request refused
/// with 400 before its URL is parsed (`%0a` in the path) is logged with
/// the global settings, whatever conditional matches its path.
#[test]
fn accesslog_escaping_default_and_json() {
    let conf = format!(
        "{MODULES}accesslog.filename = \"{{log}}\"\n\
         accesslog.format = \"%r|%{{User-Agent}}i|%{{Referer}}i|%{{X-Custom}}i\"\n\
         $HTTP[\"url\"] =^ \"/json/\" {{\n    accesslog.filename = \"{{json}}\"\n    \
         accesslog.escaping = \"json\"\n}}\n"
    );
    let Some((mut pair, logs)) = start(
        "accesslog_escaping_default_and_json",
        &conf,
        &[("{log}", "access.log"), ("{json}", "json.log")],
        |dir| {
            common_setup(dir);
            put(&dir.join("htdocs/json/a.txt"), "json\n");
        },
    ) else {
        return;
    };
    let hostile = |prefix: &str| -> Vec<Req> {
        vec![
            Req::get(&format!("{prefix}a.txt"))
                .header("User-Agent", "quote \" back \\ end")
                .header("Referer", "http://r.example/?a=\"b\"")
                .header("X-Custom", "tab\there"),
            Req::get(&format!("{prefix}a.txt")).header("User-Agent", "caf\u{e9} \u{2603}"),
            Req::raw(
                "GET",
                format!(
                    "GET {prefix}a.txt?%22q%22 HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\
                     User-Agent: ctl \\x01 \\\\ \r\n\r\n"
                ),
            ),
            Req::raw(
                "GET",
                [
                    format!("GET {prefix}a.txt HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\nUser-Agent: latin1 ")
                        .as_bytes(),
                    b"\xe9\xff",
                    b"\r\n\r\n",
                ]
                .concat(),
            ),
            Req::get(&format!("{prefix}missing%0a%22.txt")),
        ]
    };
    let plain = send_all(&mut pair, hostile("/"));
    let json = send_all(&mut pair, hostile("/json/"));
    compare_logs(&mut pair, &logs, &["access.log", "json.log"], plain + json);
    pair.finish();
}

/// `accesslog.filename = "|command"` (a pipe to a shell command), and
/// files and formats chosen by conditionals.
#[test]
fn accesslog_pipe_and_conditional_logs() {
    let conf = format!(
        "{MODULES}accesslog.filename = \"|exec /bin/cat >> {{pipe}}\"\n\
         $HTTP[\"url\"] =^ \"/dir/\" {{\n    accesslog.filename = \"{{dirlog}}\"\n    \
         accesslog.format = \"%s %U %b %{{Content-Type}}o\"\n}}\n\
         $HTTP[\"host\"] == \"other.example\" {{\n    \
         accesslog.format = \"other %V %r %>s\"\n}}\n"
    );
    let Some((mut pair, logs)) = start(
        "accesslog_pipe_and_conditional_logs",
        &conf,
        &[("{pipe}", "pipe.log"), ("{dirlog}", "dir.log")],
        common_setup,
    ) else {
        return;
    };
    let to_pipe = send_all(&mut pair, common_requests());
    let to_dir = send_all(
        &mut pair,
        vec![
            Req::get("/dir/"),
            Req::get("/dir/index.html"),
            Req::get("/dir/missing"),
            Req::head("/dir/"),
        ],
    );
    let other = send_all(
        &mut pair,
        vec![
            Req::get("/a.txt").host("other.example"),
            Req::get("/nope").host("other.example"),
        ],
    );
    compare_logs(
        &mut pair,
        &logs,
        &["pipe.log", "dir.log"],
        to_pipe + to_dir + other,
    );
    pair.finish();
}

/// After mod_extforward, `%h` (and `%a`) log the forwarded address of a
/// trusted proxy; an untrusted client's headers change nothing; a
/// `remote_user` from `Forwarded` does not show in `%u` (lighttpd 1.4.69
/// logs `-`). A `Forwarded` header with a single parameter is a known
/// difference (lighttpd 1.4.69 ignores it).
#[test]
fn accesslog_after_extforward() {
    let conf = r#"server.modules = ( "mod_extforward", "mod_accesslog", "mod_staticfile" )
extforward.forwarder = ( "127.0.0.1" => "trust" )
extforward.headers = ( "X-Forwarded-For", "Forwarded" )
extforward.params = ( "remote_user" => 1 )
accesslog.filename = "{log}"
accesslog.format = "%h %a %u %V \"%r\" %>s %{X-Forwarded-For}i"
"#;
    let Some((mut pair, logs)) = start(
        "accesslog_after_extforward",
        conf,
        &[("{log}", "access.log")],
        common_setup,
    ) else {
        return;
    };
    let mut lines = send_all(
        &mut pair,
        vec![
            Req::get("/a.txt"),
            Req::get("/a.txt").header("X-Forwarded-For", "192.0.2.7"),
            Req::get("/a.txt").header("X-Forwarded-For", "203.0.113.9, 192.0.2.8"),
            Req::get("/a.txt").header("X-Forwarded-For", "2001:db8::5"),
            Req::get("/a.txt").header("X-Forwarded-For", "garbage"),
            Req::get("/a.txt").header("Forwarded", "for=192.0.2.9;remote_user=alice"),
            Req::get("/a.txt?single").header("Forwarded", "for=192.0.2.10"),
            Req::get("/missing").header("X-Forwarded-For", "192.0.2.11"),
        ],
    );
    let req = Req::get("/a.txt?untrusted").header("X-Forwarded-For", "192.0.2.12");
    pair.observe("request from untrusted 127.0.0.2", |_, s| {
        let addr = SocketAddr::from(([127, 0, 0, 1], s.port));
        let mut c = Client::connect_from(s.name, Ipv4Addr::new(127, 0, 0, 2), addr)?;
        c.send(&req.bytes(&[]))?;
        Ok(c.response(false)?.status_line)
    });
    lines += 1;
    // KNOWN-DIFFERENCES, "Everyday modules": lighttpd 1.4.69 ignores a
    // `Forwarded` header with a single parameter in all; wick reads its
    // `for=` (RFC 7239)
    let forwarded = KnownLine {
        reason: "Forwarded with a single parameter: wick reads its for= (RFC 7239), \
                 lighttpd 1.4.69 ignores the header",
        lighttpd: "127.0.0.1 127.0.0.1 - example.org \"GET /a.txt?single HTTP/1.1\" 200 -",
        wick: "192.0.2.10 192.0.2.10 - example.org \"GET /a.txt?single HTTP/1.1\" 200 -",
    };
    compare_logs_known(&mut pair, &logs, &["access.log"], lines, &[forwarded]);
    pair.finish();
}

/// `accesslog.use-syslog` (with `accesslog.syslog-level`): nothing to
/// compare in a file, but both start and answer the same; no log file
/// appears.
#[test]
fn accesslog_syslog_starts_and_serves() {
    let conf = format!(
        "{MODULES}accesslog.use-syslog = \"enable\"\naccesslog.syslog-level = 6\n\
         accesslog.filename = \"{{log}}\"\n"
    );
    let Some((mut pair, logs)) = start(
        "accesslog_syslog_starts_and_serves",
        &conf,
        &[("{log}", "access.log")],
        common_setup,
    ) else {
        return;
    };
    send_all(&mut pair, common_requests().into_iter().take(6).collect());
    pair.observe("no access.log file with use-syslog", |_, server| {
        Ok(logs.path(server.index(), "access.log").exists())
    });
    pair.finish();
}
