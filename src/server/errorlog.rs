//! The error log: `server.errorlog` (a file, or `|command` to pipe into),
//! `server.errorlog-use-syslog`, or standard error; lines in lighttpd's
//! format `YYYY-MM-DD HH:MM:SS: (source.rs.line) message` (lighttpd:
//! `fdlog.c`, `log.c`). SIGHUP reopens a file log (for logrotate).
//!
//! It is a `tracing` layer: code logs with `tracing::error!` / `warn!` /
//! `info!`, and this layer writes the lines.

use std::ffi::CString;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// Where log lines go.
#[derive(Debug)]
enum Sink {
    /// Standard error (the default, and with `-D` before a log is configured).
    Stderr,
    /// A file, appended to.
    File(PathBuf, File),
    /// A command's standard input (`server.errorlog = "|command"`).
    Pipe(Child, ChildStdin),
    /// syslog(3), with the configured facility.
    Syslog,
}

/// The error log.
#[derive(Debug)]
pub struct ErrorLog {
    sink: Mutex<Sink>,
    max_level: Level,
}

/// Why the error log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ErrorLogError {
    /// Opening the file failed.
    #[error("cannot open the error log {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Starting the pipe command failed.
    #[error("cannot start the error log command `{command}`: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The syslog facility for `server.syslog-facility` (default `daemon`).
pub fn syslog_facility(name: Option<&str>) -> libc::c_int {
    match name.unwrap_or("daemon") {
        "auth" => libc::LOG_AUTH,
        "authpriv" => libc::LOG_AUTHPRIV,
        "cron" => libc::LOG_CRON,
        "kern" => libc::LOG_KERN,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        "lpr" => libc::LOG_LPR,
        "mail" => libc::LOG_MAIL,
        "news" => libc::LOG_NEWS,
        "user" => libc::LOG_USER,
        "uucp" => libc::LOG_UUCP,
        _ => libc::LOG_DAEMON,
    }
}

impl ErrorLog {
    /// A log on standard error.
    pub fn stderr(max_level: Level) -> Self {
        ErrorLog {
            sink: Mutex::new(Sink::Stderr),
            max_level,
        }
    }

    /// A log per `server.errorlog` (path or `|command`), or syslog.
    pub fn open(
        target: Option<&str>,
        syslog: Option<libc::c_int>,
        max_level: Level,
    ) -> Result<Self, ErrorLogError> {
        let sink = if let Some(facility) = syslog {
            static IDENT: &[u8] = b"wick\0";
            // SAFETY: IDENT is a static NUL-terminated string that outlives
            // every later syslog call, as openlog requires.
            unsafe { libc::openlog(IDENT.as_ptr().cast(), libc::LOG_PID, facility) };
            Sink::Syslog
        } else {
            match target {
                None | Some("") => Sink::Stderr,
                Some(t) if t.starts_with('|') => {
                    let command = t[1..].trim_start();
                    let mut child = Command::new("/bin/sh")
                        .arg("-c")
                        .arg(command)
                        .stdin(Stdio::piped())
                        .spawn()
                        .map_err(|source| ErrorLogError::Spawn {
                            command: command.to_string(),
                            source,
                        })?;
                    let stdin = child.stdin.take().ok_or_else(|| ErrorLogError::Spawn {
                        command: command.to_string(),
                        source: std::io::Error::other("no stdin"),
                    })?;
                    Sink::Pipe(child, stdin)
                }
                Some(path) => {
                    let path = PathBuf::from(path);
                    let f = open_append(&path)?;
                    Sink::File(path, f)
                }
            }
        };
        Ok(ErrorLog {
            sink: Mutex::new(sink),
            max_level,
        })
    }

    /// Reopens a file log (SIGHUP); other sinks stay as they are.
    pub fn reopen(&self) -> Result<(), ErrorLogError> {
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        if let Sink::File(path, f) = &mut *sink {
            *f = open_append(path)?;
        }
        Ok(())
    }

    /// Writes one line (the timestamp and source are added).
    pub fn write_line(&self, source: &str, message: &str) {
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *sink {
            Sink::Syslog => {
                if let Ok(c) = CString::new(format!("({source}) {message}")) {
                    // SAFETY: "%s" with one NUL-terminated argument.
                    unsafe { libc::syslog(libc::LOG_ERR, c"%s".as_ptr(), c.as_ptr()) };
                }
            }
            other => {
                let line = format!("{}: ({source}) {message}\n", timestamp());
                let _ = match other {
                    Sink::Stderr => std::io::stderr().write_all(line.as_bytes()),
                    Sink::File(_, f) => f.write_all(line.as_bytes()),
                    Sink::Pipe(_, stdin) => stdin.write_all(line.as_bytes()),
                    Sink::Syslog => Ok(()),
                };
            }
        }
    }

    /// Closes a pipe log's command input and waits for the command.
    pub fn close(&self) {
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*sink, Sink::Pipe(..)) {
            if let Sink::Pipe(mut child, stdin) = std::mem::replace(&mut *sink, Sink::Stderr) {
                drop(stdin);
                let _ = child.wait();
            }
        }
    }
}

fn open_append(path: &PathBuf) -> Result<File, ErrorLogError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| ErrorLogError::Open {
            path: path.clone(),
            source,
        })
}

/// Local time as `YYYY-MM-DD HH:MM:SS`.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as libc::time_t);
    // SAFETY: localtime_r writes into the zeroed struct we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// The `tracing` layer that writes events to an [`ErrorLog`].
#[derive(Debug, Clone)]
pub struct ErrorLogLayer(pub Arc<ErrorLog>);

struct MessageVisitor(String);

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for ErrorLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > self.0.max_level {
            return;
        }
        let mut v = MessageVisitor(String::new());
        event.record(&mut v);
        let file = meta.file().unwrap_or(meta.target());
        let file = file.strip_prefix("src/").unwrap_or(file);
        let source = match meta.line() {
            Some(l) => format!("{file}.{l}"),
            None => file.to_string(),
        };
        self.0.write_line(&source, &v.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines carry lighttpd's timestamp and source prefix.
    #[test]
    fn file_log_lines_and_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("error.log");
        let log = ErrorLog::open(path.to_str(), None, Level::INFO).expect("open");
        log.write_line("server/mod.rs.10", "server started");
        std::fs::rename(&path, dir.path().join("error.log.1")).expect("rotate");
        log.reopen().expect("reopen");
        log.write_line("server/mod.rs.11", "after rotation");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.ends_with(": (server/mod.rs.11) after rotation\n"),
            "{text}"
        );
        let old = std::fs::read_to_string(dir.path().join("error.log.1")).expect("read");
        let line = old.lines().next().expect("a line");
        assert_eq!(
            line.len(),
            "2026-11-21 11:06:51: (server/mod.rs.10) server started".len()
        );
        assert_eq!(&line[4..5], "-");
        assert_eq!(&line[19..21], ": ");
    }

    /// `|command` pipes lines into a command.
    #[test]
    fn pipe_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("piped");
        let target = format!("|cat > {}", out.display());
        let log = ErrorLog::open(Some(&target), None, Level::INFO).expect("open");
        log.write_line("x", "through the pipe");
        log.close();
        let text = std::fs::read_to_string(&out).expect("read");
        assert!(text.contains("(x) through the pipe"), "{text}");
    }
}
