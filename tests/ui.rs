//! Diagnostics as users see them: each `tests/ui/<case>.conf` is run with
//! `wick -p -f <case>.conf` (or the flags of a `# wick-args:` first line)
//! from `tests/ui/`, and its standard error must equal `<case>.stderr`.
//! `WICK_BLESS=1 cargo test --test ui` rewrites the expected files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

fn run_case(conf: &Path) -> (Option<i32>, String) {
    let text = std::fs::read_to_string(conf).expect("read case");
    let mut args: Vec<String> = match text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# wick-args:"))
    {
        Some(a) => a.split_whitespace().map(str::to_string).collect(),
        None => vec!["-p".into()],
    };
    args.push("-f".into());
    args.push(
        conf.file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned(),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_wick"))
        .args(&args)
        .current_dir(ui_dir())
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wick");
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => {
            let out = out.expect("output");
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
        Err(_) => {
            // SAFETY: our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{} did not finish within 30 s", conf.display());
        }
    }
}

#[test]
fn diagnostics_match_expected_output() {
    let bless = std::env::var_os("WICK_BLESS").is_some();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(ui_dir())
        .expect("tests/ui")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "expected the ui cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for conf in &cases {
        let (code, stderr) = run_case(conf);
        let expected_path = conf.with_extension("stderr");
        let got = format!(
            "exit: {}\n{stderr}",
            code.map_or("signal".into(), |c| c.to_string())
        );
        if bless {
            std::fs::write(&expected_path, &got).expect("bless");
            continue;
        }
        let want = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "--- {} (expected)\n{want}\n+++ actual\n{got}",
                expected_path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(re-bless with WICK_BLESS=1)",
        failures.join("\n")
    );
}
