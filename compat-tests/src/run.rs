//! Running a process with a deadline, a working directory and an
//! environment, capturing everything it writes.
//!
//! The child gets its own process group, so that on the deadline the whole
//! group is killed — including `include_shell` children that would otherwise
//! keep the output pipes open. No fixed sleeps: the harness polls
//! `try_wait` with a short, growing pause bounded by the deadline.

use std::borrow::Cow;
use std::env;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Upper bound of the pause between two `try_wait` polls.
const MAX_POLL: Duration = Duration::from_millis(20);
/// Time allowed for the output pipes to close once the process has gone.
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// How often [`run_oracle`] runs lighttpd when it dies from a signal.
const ORACLE_ATTEMPTS: u32 = 3;

/// Per-run deadline: `WICK_COMPAT_TIMEOUT` seconds, default 30.
pub fn default_timeout() -> Duration {
    let secs = env::var("WICK_COMPAT_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// A fixed, minimal environment for config runs, the same for lighttpd and
/// wick: inherited `PATH` (for `include_shell`), `LC_ALL=C` (glob order) and
/// `SHELL=/bin/sh` (the shell `include_shell` uses). Use with
/// [`Cmd::env_clear`].
pub fn base_env() -> Vec<(String, String)> {
    let path = env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin".into());
    vec![
        ("PATH".into(), path),
        ("LC_ALL".into(), "C".into()),
        ("SHELL".into(), "/bin/sh".into()),
    ]
}

/// A command to run: program, arguments, cwd, environment and deadline.
/// Cheap to clone, so one description can be run with two programs
/// ([`Cmd::with_program`]).
#[derive(Clone, Debug)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    clear_env: bool,
    env: Vec<(OsString, Option<OsString>)>,
    timeout: Duration,
}

impl Cmd {
    pub fn new(program: impl Into<OsString>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            clear_env: false,
            env: Vec::new(),
            timeout: default_timeout(),
        }
    }

    /// The same command with another program (same args, cwd, env, deadline).
    pub fn with_program(&self, program: impl Into<OsString>) -> Self {
        Cmd {
            program: program.into(),
            ..self.clone()
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Start from an empty environment (then add [`base_env`] and friends).
    pub fn env_clear(mut self) -> Self {
        self.clear_env = true;
        self.env.clear();
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        for (k, v) in vars {
            self.env.push((k.into(), Some(v.into())));
        }
        self
    }

    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env.push((key.into(), None));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A shell-like rendering for messages:
    /// `(cd DIR && env -i K=V prog 'arg')`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(cwd) = &self.cwd {
            s.push_str(&format!("(cd {} && ", quote(cwd.as_os_str())));
        }
        let mut env_words = Vec::new();
        if self.clear_env {
            env_words.push("env -i".to_string());
        }
        for (k, v) in &self.env {
            match v {
                // an inherited value is shown by name: PATH="$PATH"
                Some(v) if env::var_os(k).as_ref() == Some(v) => {
                    let k = k.to_string_lossy();
                    env_words.push(format!("{k}=\"${k}\""));
                }
                Some(v) => {
                    env_words.push(format!("{}={}", k.to_string_lossy(), quote(v.as_os_str())))
                }
                None if !self.clear_env => env_words.push(format!("-u {}", k.to_string_lossy())),
                None => {}
            }
        }
        if !env_words.is_empty() {
            if !self.clear_env {
                s.push_str("env ");
            }
            s.push_str(&env_words.join(" "));
            s.push(' ');
        }
        s.push_str(&quote(&self.program));
        for a in &self.args {
            s.push(' ');
            s.push_str(&quote(a));
        }
        if self.cwd.is_some() {
            s.push(')');
        }
        s
    }

    /// Runs the command to completion or to its deadline (then the process
    /// group is killed and [`Output::timed_out`] is set). stdin is
    /// `/dev/null`.
    pub fn run(&self) -> Result<Output, RunError> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        if self.clear_env {
            command.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => command.env(k, v),
                None => command.env_remove(k),
            };
        }

        let start = Instant::now();
        let deadline = start + self.timeout;
        let mut child = command.spawn().map_err(|e| self.error("spawn", e))?;
        let group = ProcessGroup::of(&child);

        let (tx, rx) = mpsc::channel();
        let out_pipe = child
            .stdout
            .take()
            .expect("stdout was configured as a pipe");
        let err_pipe = child
            .stderr
            .take()
            .expect("stderr was configured as a pipe");
        spawn_reader(Stream::Stdout, out_pipe, tx.clone());
        spawn_reader(Stream::Stderr, err_pipe, tx);

        let (status, timed_out) = match wait_until(&mut child, deadline) {
            Ok(Some(status)) => (status, false),
            Ok(None) => {
                group.kill();
                let _ = child.kill();
                let status = child.wait().map_err(|e| self.error("wait for", e))?;
                (status, true)
            }
            Err(e) => {
                group.kill();
                let _ = child.kill();
                let _ = child.wait();
                return Err(self.error("wait for", e));
            }
        };
        let elapsed = start.elapsed();

        // The process is gone; its pipes close unless descendants still hold
        // them. Give those until the deadline (at least PIPE_GRACE), then kill
        // the group, then give up on the pipes.
        let mut stdout = None;
        let mut stderr = None;
        let mut killed_stragglers = false;
        let mut abandoned_pipes = false;
        let mut collect_until = deadline.max(Instant::now() + PIPE_GRACE);
        while stdout.is_none() || stderr.is_none() {
            let left = collect_until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((Stream::Stdout, buf)) => stdout = Some(buf),
                Ok((Stream::Stderr, buf)) => stderr = Some(buf),
                Err(RecvTimeoutError::Timeout) if !killed_stragglers => {
                    group.kill();
                    killed_stragglers = true;
                    collect_until = Instant::now() + PIPE_GRACE;
                }
                Err(_) => {
                    abandoned_pipes = true;
                    break;
                }
            }
        }

        Ok(Output {
            command: self.describe(),
            status,
            stdout: stdout.unwrap_or_default(),
            stderr: stderr.unwrap_or_default(),
            timed_out,
            killed_stragglers,
            abandoned_pipes,
            elapsed,
            timeout: self.timeout,
        })
    }

    fn error(&self, stage: &'static str, source: io::Error) -> RunError {
        RunError {
            command: self.describe(),
            stage,
            source,
        }
    }
}

/// Runs the oracle (lighttpd), repeating runs killed by a signal: lighttpd
/// 1.4.69 has a rare heap overflow when `-p` prints very short strings
/// (spec §12.4) that aborts it with SIGABRT. Timeouts are not repeated.
pub fn run_oracle(cmd: &Cmd) -> Result<Output, RunError> {
    let mut attempt = 1;
    loop {
        let out = cmd.run()?;
        if out.timed_out || out.signal().is_none() || attempt >= ORACLE_ATTEMPTS {
            return Ok(out);
        }
        attempt += 1;
    }
}

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct Output {
    /// [`Cmd::describe`] of what was run.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The deadline passed; the process group was killed.
    pub timed_out: bool,
    /// The process exited but descendants kept its output pipes open until
    /// the deadline; they were killed.
    pub killed_stragglers: bool,
    /// Even after that the pipes stayed open (a descendant left the process
    /// group); output may be missing.
    pub abandoned_pipes: bool,
    pub elapsed: Duration,
    pub timeout: Duration,
}

impl Output {
    /// The exit code, `None` when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// Exit status 0 within the deadline.
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.success()
    }

    /// A deliberate refusal: a non-zero exit status within the deadline
    /// (not a crash, not a timeout).
    pub fn is_rejection(&self) -> bool {
        !self.timed_out && matches!(self.code(), Some(c) if c != 0)
    }

    /// `exit 255`, `killed by signal 6 (SIGABRT)`, `timed out after 30s`.
    pub fn status_text(&self) -> String {
        let mut s = if self.timed_out {
            format!(
                "timed out after {:.1}s (killed)",
                self.timeout.as_secs_f64()
            )
        } else if let Some(code) = self.code() {
            format!("exit {code}")
        } else if let Some(sig) = self.signal() {
            format!("killed by signal {sig}{}", signal_name(sig))
        } else {
            format!("{}", self.status)
        };
        if self.killed_stragglers {
            s.push_str("; descendants held its output open and were killed");
        }
        if self.abandoned_pipes {
            s.push_str("; output pipes never closed, output may be incomplete");
        }
        s
    }

    pub fn stdout_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    pub fn stderr_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }

    /// The first `n` lines of stderr, indented, or `(empty)`.
    pub fn stderr_head(&self, n: usize) -> String {
        excerpt(&self.stderr_text(), n, false)
    }

    /// The last `n` lines of stderr, indented, or `(empty)`.
    pub fn stderr_tail(&self, n: usize) -> String {
        excerpt(&self.stderr_text(), n, true)
    }

    /// Command, status and a stderr excerpt, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "  command: {}\n  status:  {}\n  stderr:\n{}",
            self.command,
            self.status_text(),
            self.stderr_head(15)
        )
    }
}

/// A process could not be started or waited for.
#[derive(Debug)]
pub struct RunError {
    pub command: String,
    stage: &'static str,
    source: io::Error,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} `{}`: {}",
            self.stage, self.command, self.source
        )
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

fn spawn_reader(
    stream: Stream,
    mut pipe: impl Read + Send + 'static,
    tx: mpsc::Sender<(Stream, Vec<u8>)>,
) {
    thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error ends the stream; what was read so far is kept.
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send((stream, buf));
    });
}

/// Polls `try_wait` until the child exits (`Some`) or `deadline` passes
/// (`None`). The pause between polls grows from 0.5 ms to [`MAX_POLL`] and
/// never overshoots the deadline.
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_micros(500);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// The process group the harness created for one child
/// (`process_group(0)`: its id is the child's pid).
struct ProcessGroup(libc::pid_t);

impl ProcessGroup {
    fn of(child: &Child) -> Self {
        let pid = libc::pid_t::try_from(child.id()).expect("a pid fits in pid_t");
        ProcessGroup(pid)
    }

    /// SIGKILL to every member of the group. Only groups created by
    /// [`Cmd::run`] are ever signalled.
    fn kill(&self) {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
        // addresses the process group we created for our own child.
        unsafe {
            libc::kill(-self.0, libc::SIGKILL);
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGBUS => " (SIGBUS)",
        libc::SIGTERM => " (SIGTERM)",
        libc::SIGPIPE => " (SIGPIPE)",
        _ => "",
    }
}

fn excerpt(text: &str, n: usize, tail: bool) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return "    (empty)".to_string();
    }
    let (shown, omitted) = if lines.len() <= n {
        (&lines[..], 0)
    } else if tail {
        (&lines[lines.len() - n..], lines.len() - n)
    } else {
        (&lines[..n], lines.len() - n)
    };
    let mut s = String::new();
    if tail && omitted > 0 {
        s.push_str(&format!("    … {omitted} earlier lines\n"));
    }
    for line in shown {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    if !tail && omitted > 0 {
        s.push_str(&format!("    … {omitted} more lines\n"));
    }
    s.truncate(s.trim_end_matches('\n').len());
    s
}

/// Single-quotes a word for display when it contains shell-special bytes.
fn quote(word: &std::ffi::OsStr) -> String {
    let s = word.to_string_lossy();
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Cmd {
        Cmd::new("/bin/sh").args(["-c", script])
    }

    #[test]
    fn captures_stdout_stderr_and_exit_code() {
        let out = sh("printf out; printf err >&2; exit 3")
            .run()
            .expect("sh runs");
        assert_eq!(out.stdout, b"out");
        assert_eq!(out.stderr, b"err");
        assert_eq!(out.code(), Some(3));
        assert!(out.is_rejection());
        assert!(!out.success());
        assert_eq!(out.status_text(), "exit 3");
    }

    /// Output larger than a pipe buffer must not deadlock the wait loop.
    #[test]
    fn large_output_does_not_block() {
        let out = sh("head -c 1000000 /dev/zero; head -c 300000 /dev/zero >&2")
            .run()
            .expect("sh runs");
        assert!(out.success(), "{}", out.report());
        assert_eq!(out.stdout.len(), 1_000_000);
        assert_eq!(out.stderr.len(), 300_000);
    }

    #[test]
    fn deadline_kills_the_process() {
        let out = sh("exec sleep 30")
            .timeout(Duration::from_millis(200))
            .run()
            .expect("sh runs");
        assert!(out.timed_out);
        assert!(!out.success() && !out.is_rejection());
        assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
        assert!(out.status_text().starts_with("timed out"));
    }

    /// A background grandchild holding stdout must not hang the harness: it
    /// is killed with the process group.
    #[test]
    fn lingering_descendants_are_killed() {
        let out = sh("sleep 30 & echo started")
            .timeout(Duration::from_millis(300))
            .run()
            .expect("sh runs");
        assert!(out.success(), "{}", out.report());
        assert!(out.killed_stragglers);
        assert_eq!(out.stdout, b"started\n");
        assert!(out.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn cwd_and_env_are_applied() {
        let dir = env::temp_dir();
        let out = sh("pwd; echo \"$A-${B-unset}-${HOME-nohome}\"")
            .cwd(&dir)
            .env_clear()
            .env("A", "x")
            .env("B", "y")
            .env_remove("B")
            .run()
            .expect("sh runs");
        let canon = dir.canonicalize().expect("temp dir exists");
        assert_eq!(
            out.stdout_text(),
            format!("{}\nx-unset-nohome\n", canon.display())
        );
    }

    #[test]
    fn spawn_failure_names_the_command() {
        let err = Cmd::new("/nonexistent/wick-xyz")
            .arg("-p")
            .run()
            .expect_err("no such program");
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/wick-xyz -p"), "{msg}");
    }

    #[test]
    fn describe_quotes_special_words() {
        let cmd = Cmd::new("/usr/sbin/lighttpd")
            .args(["-p", "-f", "a b.conf"])
            .cwd("/tmp")
            .env("SRCDIR", "/x y");
        assert_eq!(
            cmd.describe(),
            "(cd /tmp && env SRCDIR='/x y' /usr/sbin/lighttpd -p -f 'a b.conf')"
        );
    }
}
