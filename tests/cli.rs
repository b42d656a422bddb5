//! Black-box tests of the `wick` binary's command line (lighttpd's flags and
//! exit statuses, spec §15), of the shipped configurations, and of the man
//! page covering every flag.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const WICK: &str = env!("CARGO_BIN_EXE_wick");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs wick with a deadline (a config-only run must finish in seconds).
fn wick(args: &[&str], cwd: &Path, stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(WICK)
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wick");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin piped")
            .write_all(input)
            .expect("write stdin");
    }
    // Wait on another thread so the deadline needs no polling.
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => out.expect("wick output"),
        Err(_) => {
            // SAFETY: kill(2) on the pid of our own child, which has not
            // been reaped (the waiting thread has not returned).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("wick {args:?} did not finish within 30 s");
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(conf: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("c.conf"), conf).expect("write config");
    dir
}

const GOOD: &str = "server.document-root = \"/tmp\"\nserver.port = 8080\n";

/// `-t` prints `Syntax OK` and exits 0.
#[test]
fn test_flag_prints_syntax_ok() {
    let d = scratch(GOOD);
    let o = wick(&["-t", "-f", "c.conf"], d.path(), None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "Syntax OK\n");
}

/// `-p -t` prints the dump and then `Syntax OK`; `-p -tt` only the dump.
#[test]
fn print_with_test_flags() {
    let d = scratch(GOOD);
    let o = wick(&["-p", "-t", "-f", "c.conf"], d.path(), None);
    let out = text(&o.stdout);
    assert!(
        out.starts_with("config {\n") && out.ends_with("}\nSyntax OK\n"),
        "{out}"
    );
    let o = wick(&["-tt", "-p", "-f", "c.conf"], d.path(), None);
    assert!(text(&o.stdout).ends_with("}\n"));
}

/// `-tt` is silent on success; it refuses a config without document root.
#[test]
fn double_test_checks_modules() {
    let d = scratch(GOOD);
    let o = wick(&["-tt", "-f", "c.conf"], d.path(), None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
    let d = scratch("server.port = 8080\n");
    let o = wick(&["-tt", "-f", "c.conf"], d.path(), None);
    assert_eq!(o.status.code(), Some(255));
    assert!(text(&o.stderr).contains("server.document-root is not set"));
}

/// A refused configuration: exit 255, nothing on stdout, located error.
#[test]
fn refused_config_exits_255_with_location() {
    let d = scratch("server.port = 80;\n");
    let o = wick(&["-p", "-f", "c.conf"], d.path(), None);
    assert_eq!(o.status.code(), Some(255));
    assert!(o.stdout.is_empty());
    let err = text(&o.stderr);
    assert!(err.contains("--> c.conf:1:17"), "{err}");
    assert!(err.contains("1 | server.port = 80;"), "{err}");
    assert!(
        !err.contains('\x1b'),
        "no colour when stderr is not a terminal"
    );
}

/// `-f -` reads the configuration from standard input.
#[test]
fn config_from_stdin() {
    let d = tempfile::tempdir().expect("tempdir");
    let o = wick(&["-p", "-f", "-"], d.path(), Some(b"x = 1\n"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("var.x   = 1"));
}

/// Missing file, no `-f`, two `-f`: all 255 with a message.
#[test]
fn config_argument_errors() {
    let d = tempfile::tempdir().expect("tempdir");
    let o = wick(&["-p", "-f", "missing.conf"], d.path(), None);
    assert_eq!(o.status.code(), Some(255));
    assert!(text(&o.stderr).contains("missing.conf: No such file or directory"));
    let o = wick(&["-p"], d.path(), None);
    assert_eq!(o.status.code(), Some(255));
    assert!(text(&o.stderr).contains("no configuration given"));
    let d = scratch(GOOD);
    let o = wick(&["-t", "-f", "c.conf", "-f", "c.conf"], d.path(), None);
    assert_eq!(o.status.code(), Some(255));
    assert!(text(&o.stderr).contains("only one configuration file"));
}

/// Options act in command-line order, as lighttpd's getopt loop:
/// `-v` before a bad `-f` wins, after it the config error wins.
#[test]
fn options_act_in_order() {
    let d = scratch("x = ;\n");
    let o = wick(&["-v", "-f", "c.conf"], d.path(), None);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("wick/"));
    let o = wick(&["-f", "c.conf", "-v"], d.path(), None);
    assert_eq!(o.status.code(), Some(255));
}

/// `-h`, `-V` exit 0; an unknown option exits 255 with the usage.
#[test]
fn help_version_and_unknown_option() {
    let d = tempfile::tempdir().expect("tempdir");
    let o = wick(&["-h"], d.path(), None);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("-tt"));
    let o = wick(&["-V"], d.path(), None);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("lighttpd 1.4.69"));
    let o = wick(&["-x"], d.path(), None);
    assert_eq!(o.status.code(), Some(255));
    assert!(text(&o.stderr).contains("usage:"));
}

/// `-i` takes a non-negative number of seconds.
#[test]
fn idle_timeout_is_validated() {
    let d = scratch(GOOD);
    let o = wick(&["-i", "abc", "-f", "c.conf", "-t"], d.path(), None);
    assert_eq!(o.status.code(), Some(255));
    assert!(text(&o.stderr).contains("invalid idle timeout value: abc"));
    let o = wick(&["-i", "30", "-f", "c.conf", "-t"], d.path(), None);
    assert_eq!(o.status.code(), Some(0));
}

/// Every configuration shipped in conf/ and examples/ passes `-tt`.
#[test]
fn shipped_configs_pass_tt() {
    let mut checked = 0;
    for dir in ["conf", "examples"] {
        let mut stack = vec![root().join(dir)];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    // conf-enabled style trees: only their top file is a main config.
                    if !p.join("lighttpd.conf").exists() {
                        continue;
                    }
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "conf")
                    && (d.parent() == Some(&root())
                        || p.file_name().is_some_and(|n| n == "lighttpd.conf"))
                {
                    let o = wick(
                        &["-tt", "-f", p.to_str().expect("utf-8 path")],
                        &root(),
                        None,
                    );
                    assert_eq!(
                        o.status.code(),
                        Some(0),
                        "{}: {}",
                        p.display(),
                        text(&o.stderr)
                    );
                    assert!(
                        o.stderr.is_empty(),
                        "{} warns: {}",
                        p.display(),
                        text(&o.stderr)
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 2, "found only {checked} shipped configs");
}

/// man/wick.8 documents every flag the CLI accepts.
#[test]
fn man_page_documents_every_flag() {
    let man = std::fs::read_to_string(root().join("man/wick.8")).expect("man/wick.8");
    for flag in ["f", "m", "i", "1", "p", "t", "tt", "D", "v", "V", "h"] {
        assert!(
            man.contains(&format!(".B \\-{flag}")),
            "man/wick.8 does not document -{flag}"
        );
    }
}
