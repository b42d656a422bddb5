//! The URL modules (mod_access, mod_alias, mod_redirect, mod_rewrite,
//! mod_setenv, mod_extforward) where wick answers on its own terms; what
//! lighttpd does is compared request by request in
//! compat-tests/tests/everyday_modules.rs.

mod support;

use support::Wick;

const BASE: &str =
    "server.document-root = \"{root}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n";

fn start(conf: &str) -> Wick {
    Wick::start_with(&format!("{BASE}{conf}"), &["-D"], |dir| {
        let root = dir.join("htdocs");
        std::fs::create_dir_all(root.join("a")).expect("mkdir");
        std::fs::write(root.join("a/f.txt"), "f\n").expect("write");
        std::fs::create_dir_all(dir.join("other")).expect("mkdir");
        std::fs::write(dir.join("other/o.txt"), "o\n").expect("write");
        std::fs::write(dir.join("secret.txt"), "secret\n").expect("write");
    })
}

/// A rewrite loop and a result that is not a path are answered with 500
/// (lighttpd 1.4.69 drops the connection without an answer).
#[test]
fn rewrite_loop_and_bad_result_get_500() {
    let w = start(
        "server.modules = ( \"mod_rewrite\" )\n\
         url.rewrite-repeat = ( \"^/loop(.*)\" => \"/loop$1\" )\n\
         url.rewrite-once = ( \"^/bad/(.*)\" => \"nope/$1\", \"^/ok/(.*)\" => \"/a/$1\" )\n",
    );
    assert_eq!(w.get("/loop").status, 500, "{}", w.stderr());
    assert_eq!(w.get("/bad/x").status, 500);
    let ok = w.get("/ok/f.txt");
    assert_eq!((ok.status, ok.body.as_slice()), (200, &b"f\n"[..]));
    assert!(
        w.stderr().contains("more than 100 rewrites"),
        "{}",
        w.stderr()
    );
    assert!(
        w.stderr().contains("does not begin with '/'"),
        "{}",
        w.stderr()
    );
}

/// An alias to a directory written with `/` from a prefix written without
/// one cannot climb out with `..`; an alias can name a file.
#[test]
fn alias_cannot_escape_its_target() {
    let w = start(
        "server.modules = ( \"mod_alias\" )\n\
         alias.url = ( \"/img\" => \"{dir}/other/\", \"/file\" => \"{dir}/other/o.txt\" )\n\
         server.http-parseopts = ( \"url-path-dotseg-remove\" => \"disable\" )\n",
    );
    assert_eq!(w.get("/img../secret.txt").status, 403, "{}", w.stderr());
    assert_eq!(w.get("/img/o.txt").body, b"o\n");
    assert_eq!(w.get("/imgo.txt").body, b"o\n");
    assert_eq!(w.get("/file").body, b"o\n");
    assert_eq!(w.get("/file/path-info").body, b"o\n");
    let dir = w.get("/img");
    assert_eq!((dir.status, dir.header("location")), (301, Some("/img/")));
}

/// mod_extforward's client is what `$HTTP["remoteip"]` sees, and what
/// mod_proxy would forward; an untrusted peer's header is ignored.
#[test]
fn extforward_changes_remoteip_for_trusted_peers_only() {
    let conf = "server.modules = ( \"mod_extforward\", \"mod_redirect\" )\n\
         extforward.forwarder = ( \"{trusted}\" => \"trust\" )\n\
         $HTTP[\"remoteip\"] == \"10.0.0.1\" { url.redirect = ( \"\" => \"/ten?${url.scheme}\" ) }\n";
    let w = start(&conf.replace("{trusted}", "127.0.0.1"));
    let r = w.request(
        "GET",
        "/a/f.txt",
        &[
            ("X-Forwarded-For", "10.0.0.2, 10.0.0.1"),
            ("X-Forwarded-Proto", "https"),
        ],
    );
    assert_eq!((r.status, r.header("location")), (301, Some("/ten?https")));
    let r = w.request("GET", "/a/f.txt", &[("X-Forwarded-For", "10.0.0.2")]);
    assert_eq!(r.status, 200);
    drop(w);
    let w = start(&conf.replace("{trusted}", "10.0.0.0/8"));
    let r = w.request("GET", "/a/f.txt", &[("X-Forwarded-For", "10.0.0.1")]);
    assert_eq!(r.status, 200, "the peer 127.0.0.1 is not trusted");
}

/// `%n` reads the condition of the block the rule list was set in;
/// setenv's response headers reach every answer of a routed request.
#[test]
fn redirect_captures_and_response_headers() {
    let w = start(
        "server.modules = ( \"mod_redirect\", \"mod_setenv\" )\n\
         setenv.add-response-header = ( \"X-Top\" => \"t\" )\n\
         $HTTP[\"url\"] =~ \"^/r/(\\w+)/\" {\n\
           url.redirect = ( \"^/r/\\w+/([^?]*)\" => \"https://%1.example.net/$1${qsa}\" )\n\
           url.redirect-code = 308\n\
         }\n",
    );
    let r = w.get("/r/www/x?q=1");
    assert_eq!(
        (r.status, r.header("location")),
        (308, Some("https://www.example.net/x?q=1"))
    );
    assert_eq!(r.header("x-top"), Some("t"));
    let r = w.get("/nothing");
    assert_eq!((r.status, r.header("x-top")), (404, Some("t")));
}

/// Polls `path` until it holds `n` lines (the access log is written by a
/// background thread).
fn lines_within(path: &std::path::Path, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= n || std::time::Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// mod_accesslog: lines in lighttpd's default format, the log file
/// reopened on SIGHUP (log rotation), and `-tt` opens nothing.
#[test]
fn access_log_lines_and_reopen_on_sighup() {
    let conf = "server.modules = ( \"mod_accesslog\" )\n\
         accesslog.filename = \"{dir}/access.log\"\n";
    let w = start(conf);
    let log = w.root().parent().expect("dir").join("access.log");
    let r = w.request("GET", "/a/f.txt?x=1", &[("Referer", "http://r.example/")]);
    assert_eq!(r.status, 200);
    let lines = lines_within(&log, 1);
    assert_eq!(lines.len(), 1, "{}", w.stderr());
    let line = &lines[0];
    // the support client sends `Host: test.example`
    assert!(line.starts_with("127.0.0.1 test.example - ["), "{line}");
    assert!(
        line.ends_with("] \"GET /a/f.txt?x=1 HTTP/1.1\" 200 2 \"http://r.example/\" \"-\""),
        "{line}"
    );

    let rotated = log.with_extension("log.1");
    std::fs::rename(&log, &rotated).expect("rotate");
    w.signal(libc::SIGHUP);
    // Requests until one lands in the new file (the reopen is asynchronous
    // to the signal).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !log.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no new log file: {}",
            w.stderr()
        );
        assert_eq!(w.get("/nothing").status, 404);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(w.get("/after-reopen").status, 404);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("\"GET /after-reopen HTTP/1.1\" 404 ")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no line in the reopened log: {:?}",
            std::fs::read_to_string(&log)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(lines_within(&rotated, 1)[0].contains("/a/f.txt"));

    // -tt checks the configuration without creating the log
    let dir = tempfile::tempdir().expect("tempdir");
    let conf_path = dir.path().join("t.conf");
    let never = dir.path().join("never.log");
    std::fs::write(
        &conf_path,
        format!(
            "server.document-root = \"/tmp\"\nserver.modules = ( \"mod_accesslog\" )\n\
             accesslog.filename = \"{}\"\n",
            never.display()
        ),
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(["-tt", "-f"])
        .arg(&conf_path)
        .output()
        .expect("wick -tt");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!never.exists(), "-tt created the access log");
}

/// `%{remote}p` is the client's port, `%p` the listener's, `%k` counts the
/// requests before this one on the connection, `%X` says whether it stays
/// open.
#[test]
fn access_log_ports_and_keep_alive() {
    use std::io::{Read, Write};
    let conf = "server.modules = ( \"mod_accesslog\" )\n\
         accesslog.filename = \"{dir}/access.log\"\n\
         accesslog.format = \"%{remote}p %p %k %X %s\"\n";
    let w = start(conf);
    let log = w.root().parent().expect("dir").join("access.log");
    let mut s = w.connect();
    let client_port = s.local_addr().expect("local").port();
    s.write_all(
        b"GET /a/f.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .expect("send");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("read");
    let lines = lines_within(&log, 2);
    assert_eq!(
        lines,
        [
            format!("{client_port} {} 0 + 200", w.port),
            format!("{client_port} {} 1 - 404", w.port),
        ]
    );
}
