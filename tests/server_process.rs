//! The process and the sockets: daemon mode, pid file, error log and its
//! reopening, several listeners, unix sockets, idle limits, size limits.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use support::{DEADLINE, Wick, parse_responses, read_all};

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Without -D: the command returns once the daemon serves; the pid file
/// names the daemon, which stops on SIGTERM and removes the file.
#[test]
fn daemon_mode_and_pid_file() {
    let conf = r#"
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.pid-file = "{dir}/wick.pid"
server.errorlog = "{dir}/error.log"
"#;
    let mut w = Wick::start_with(conf, &[], |d| {
        std::fs::write(d.join("htdocs/a.txt"), "daemon").expect("write");
    });
    let status = w.wait().expect("the starting process returns");
    assert!(status.success(), "{}", w.stderr());
    let pid_file = w.dir.path().join("wick.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file written before the parent returns")
        .trim()
        .parse()
        .expect("a pid");
    assert_eq!(w.get("/a.txt").body, b"daemon");
    // SAFETY: kill(2) on the daemon we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    until("the daemon to exit", || {
        // SAFETY: signal 0 only checks for existence.
        let alive = unsafe { libc::kill(pid, 0) };
        alive != 0
    });
    assert!(!pid_file.exists(), "pid file removed at exit");
    let log = std::fs::read_to_string(w.dir.path().join("error.log")).expect("error log");
    assert!(log.contains(") server started (wick/"), "{log}");
}

/// The error log is a file in lighttpd's format; SIGHUP reopens it.
#[test]
fn error_log_reopens_on_sighup() {
    let conf = r#"
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
"#;
    let w = Wick::start(conf);
    let log = w.dir.path().join("error.log");
    until("the start line", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("server started"))
    });
    let line = std::fs::read_to_string(&log).expect("log");
    let first = line.lines().next().expect("a line");
    assert_eq!(&first[4..5], "-", "{first}");
    assert_eq!(&first[19..22], ": (", "{first}");
    std::fs::rename(&log, w.dir.path().join("error.log.1")).expect("rotate");
    w.signal(libc::SIGHUP);
    // A reload logs a line, which must land in the new file.
    until("a new log file", || {
        w.signal(libc::SIGUSR1);
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("configuration reloaded"))
    });
}

/// Every `$SERVER["socket"]` block listens; conditions tell them apart.
#[test]
fn several_listeners() {
    let conf = r#"
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port1}
$SERVER["socket"] == "127.0.0.1:{port2}" {
    server.document-root = "{dir}/second"
}
"#;
    let w = Wick::start_sockets(conf, &["-D"], 2, |d| {
        std::fs::write(d.join("htdocs/f.txt"), "first").expect("write");
        std::fs::create_dir(d.join("second")).expect("mkdir");
        std::fs::write(d.join("second/f.txt"), "second").expect("write");
    });
    let req = "GET /f.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let one = parse_responses(&w.raw_to(w.ports[0], req), false);
    let two = parse_responses(&w.raw_to(w.ports[1], req), false);
    assert_eq!(one[0].body, b"first");
    assert_eq!(two[0].body, b"second");
}

/// `server.bind` as a path listens on a unix socket (bound by wick).
#[test]
fn unix_socket_listener() {
    let conf = r#"
server.document-root = "{root}"
server.bind = "{dir}/wick.sock"
$HTTP["remoteip"] == "{dir}/wick.sock" { server.tag = "via-unix" }
"#;
    // The handed-over TCP socket matches nothing: it is served with the
    // top-level settings; the unix socket is bound by wick.
    let w = Wick::start_with(conf, &["-D"], |d| {
        std::fs::write(d.join("htdocs/u.txt"), "unix").expect("write");
    });
    let path = w.dir.path().join("wick.sock");
    until("the unix socket", || UnixStream::connect(&path).is_ok());
    let mut s = UnixStream::connect(&path).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(b"GET /u.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    let r = &parse_responses(&bytes, false)[0];
    assert_eq!(r.body, b"unix");
    assert_eq!(r.header("server"), Some("via-unix"));
    // a file past the file cache goes out with sendfile on the unix socket
    // too: a range after a whole answer on one connection, every byte in place
    let big: Vec<u8> = (0..3_000_000usize).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(w.root().join("big.bin"), &big).expect("write");
    let mut s = UnixStream::connect(&path).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(
        b"GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n\
          GET /big.bin HTTP/1.1\r\nHost: h\r\nRange: bytes=1000-\r\nConnection: close\r\n\r\n",
    )
    .expect("send");
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    let rs = parse_responses(&bytes, false);
    assert_eq!(rs.len(), 2);
    assert!(rs[0].body == big, "the whole file, in order");
    assert_eq!(rs[1].status, 206);
    assert!(rs[1].body == big[1000..]);
}

/// An idle keep-alive connection is closed after server.max-keep-alive-idle.
#[test]
fn keep_alive_idle_closes_connection() {
    let conf = r#"
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.max-keep-alive-idle = 1
"#;
    let w = Wick::start_with(conf, &["-D"], |d| {
        std::fs::write(d.join("htdocs/a.txt"), "x").expect("write");
    });
    let mut s = w.connect();
    let started = Instant::now();
    s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n")
        .expect("send");
    let bytes = read_all(&mut s);
    let waited = started.elapsed();
    assert_eq!(parse_responses(&bytes, false).len(), 1);
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
}

/// A client that stalls in its first request head is dropped after
/// server.max-read-idle (slowloris).
#[test]
fn read_idle_drops_stalled_client() {
    let conf = r#"
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.max-read-idle = 1
"#;
    let w = Wick::start(conf);
    let mut s = w.connect();
    let started = Instant::now();
    s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: h\r\n")
        .expect("send");
    let bytes = read_all(&mut s);
    let waited = started.elapsed();
    assert!(
        bytes.is_empty(),
        "no response to a stalled request: {bytes:?}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(4), "closed after {waited:?}");
}

/// server.max-request-size: a larger Content-Length gets 413 and a close.
/// A chunked body is judged as it is read, and a static file does not
/// read it: answered at once, and the connection closes (lighttpd 1.4.69).
#[test]
fn request_size_limit() {
    let conf = r#"
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.max-request-size = 1
"#;
    let w = Wick::start_with(conf, &["-D"], |d| {
        std::fs::write(d.join("htdocs/a.txt"), "x").expect("write");
    });
    let bytes = w.raw("POST /a.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n");
    let r = &parse_responses(&bytes, false)[0];
    assert_eq!((r.status, r.header("connection")), (413, Some("close")));
    let ok = format!(
        "POST /a.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n{}",
        "b".repeat(1024)
    );
    assert_eq!(parse_responses(&w.raw(&ok), false)[0].status, 200);
    let chunked = format!(
        "POST /a.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n{}\r\n0\r\n\r\n",
        "c".repeat(2048)
    );
    let r = &parse_responses(&w.raw(&chunked), false)[0];
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
}

/// Invalid Host headers are refused with 400, normalised ones served.
#[test]
fn host_header_checks() {
    let conf = r#"
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
$HTTP["host"] == "example.org" { server.tag = "matched" }
"#;
    let w = Wick::start_with(conf, &["-D"], |d| {
        std::fs::write(d.join("htdocs/a.txt"), "x").expect("write");
    });
    let req = |host: &str| {
        let bytes = w.raw(&format!(
            "GET /a.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ));
        parse_responses(&bytes, false)
            .into_iter()
            .next()
            .expect("a response")
    };
    for bad in ["a_b", "-a", "a:99999", "a b"] {
        assert_eq!(req(bad).status, 400, "{bad}");
    }
    assert_eq!(req("Example.ORG.").header("server"), Some("matched"));
    assert_eq!(req("example.org:80").header("server"), Some("matched"));
}

/// `-1` serves the connection on standard input, then exits.
#[test]
fn single_connection_on_stdin() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("htdocs")).expect("mkdir");
    std::fs::write(dir.path().join("htdocs/a.txt"), "one").expect("write");
    let conf = dir.path().join("c.conf");
    std::fs::write(
        &conf,
        format!(
            "server.document-root = \"{}/htdocs\"\n",
            dir.path().display()
        ),
    )
    .expect("write");
    let (mut ours, theirs) = UnixStream::pair().expect("socketpair");
    let fd = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wick"));
    cmd.args(["-1", "-f"])
        .arg(&conf)
        .stdout(std::process::Stdio::null());
    // SAFETY: only dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn");
    drop(theirs);
    ours.set_read_timeout(Some(DEADLINE)).expect("timeout");
    ours.write_all(b"GET /a.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut bytes = Vec::new();
    let _ = ours.read_to_end(&mut bytes);
    assert_eq!(parse_responses(&bytes, false)[0].body, b"one");
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            assert!(st.success());
            break;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("wick -1 did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// server.max-connections: a connection beyond the limit waits until one
/// closes (wick stops accepting rather than failing).
#[test]
fn max_connections_queues_extra_clients() {
    let conf = r#"
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.max-connections = 1
"#;
    let w = Wick::start_with(conf, &["-D"], |d| {
        std::fs::write(d.join("htdocs/a.txt"), "x").expect("write");
    });
    let mut first = w.connect();
    first
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n")
        .expect("send");
    let mut buf = [0u8; 512];
    let n = first.read(&mut buf).expect("first response");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // The first connection stays open (keep-alive): the second is queued.
    let mut second = w.connect();
    second
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    second
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut probe = [0u8; 64];
    assert!(
        second.read(&mut probe).is_err(),
        "the second connection must wait while the first holds the only slot"
    );
    drop(first);
    second.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let bytes = read_all(&mut second);
    assert_eq!(parse_responses(&bytes, false)[0].status, 200);
}

/// Started as root with server.username, the server runs as that user.
#[test]
fn drops_privileges_after_binding() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let conf = r#"
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.username = "nobody"
server.groupname = "nogroup"
"#;
    let w = Wick::start_with(conf, &["-D"], |d| {
        std::fs::write(d.join("htdocs/a.txt"), "x").expect("write");
        // nobody must be able to reach the document root.
        for p in [d.to_path_buf(), d.join("htdocs"), d.join("htdocs/a.txt")] {
            use std::os::unix::fs::PermissionsExt;
            let mode = if p.is_dir() { 0o755 } else { 0o644 };
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
    });
    assert_eq!(w.get("/a.txt").status, 200);
    let status = std::fs::read_to_string(format!("/proc/{}/status", w.pid())).expect("status");
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    assert!(
        !uid_line.split_whitespace().skip(1).any(|u| u == "0"),
        "{uid_line}"
    );
}
