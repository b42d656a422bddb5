//! `bin-path` backends started by the server binary itself: served
//! through mod_proxy, kept across SIGUSR1, stopped with the server.

mod support;

use support::Wick;

const CONF: &str = r#"
server.modules = ( "mod_proxy" )
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
proxy.server = ( "/app" => ( (
    "socket" => "{dir}/app.sock",
    "bin-path" => "{backend}",
    "max-procs" => 1,
) ) )
"#;

fn backend() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/backends/hello-fd0.py");
    p.to_str().expect("utf-8 path").to_string()
}

/// The pid the example backend reports in its answer.
fn served_by(w: &Wick) -> String {
    let r = w.get("/app/x");
    assert_eq!(r.status, 200, "{}", w.stderr());
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let pid = body
        .split("pid ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .unwrap_or_default()
        .to_string();
    assert!(!pid.is_empty(), "unexpected answer {body:?}");
    pid
}

fn alive(pid: &str) -> bool {
    std::path::Path::new("/proc").join(pid).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn child_serves_survives_reload_and_stops_with_the_server() {
    let conf = CONF.replace("{backend}", &backend());
    let mut w = Wick::start(&conf);
    let pid = served_by(&w);
    let sock = w.root().parent().expect("dir").join("app.sock-0");
    assert!(sock.exists(), "the proc's socket file");

    // SIGUSR1: an unchanged host keeps its child.
    w.signal(libc::SIGUSR1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !w.stderr().contains("configuration reloaded") {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload: {}",
            w.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(served_by(&w), pid);

    // Shutdown stops the child and removes its socket.
    w.signal(libc::SIGTERM);
    let st = w.wait().expect("wick exits");
    assert!(st.success(), "{st:?}: {}", w.stderr());
    assert!(!alive(&pid), "child {pid} outlived the server");
    assert!(!sock.exists(), "socket file left behind");
}

#[test]
fn program_that_cannot_start_refuses_the_start() {
    let conf = CONF.replace("{backend}", "/nonexistent/backend");
    let mut w = Wick::start(&conf);
    let st = w.wait().expect("wick exits");
    assert_eq!(st.code(), Some(255), "{}", w.stderr());
    assert!(
        w.stderr().contains("/nonexistent/backend"),
        "{}",
        w.stderr()
    );
}
