//! Where access-log lines go: a file, a `|command`, or syslog (lighttpd:
//! `mod_accesslog.c` with `fdlog.c`, `fdlog_maint.c`).
//!
//! Writing never blocks a request: [`Sink::write`] appends to a bounded
//! in-memory buffer under a short lock; one `std::thread` per sink does the
//! blocking writes, woken when the buffer turns non-empty, so a line reaches
//! the file within a scheduler wake-up. When the buffer is full (a stuck
//! pipe, a slow disk) lines are dropped and counted, and the writer reports
//! the count with `tracing::warn!`.
//!
//! | event | file | `\|command` | syslog |
//! |---|---|---|---|
//! | open (config load) | `O_APPEND\|O_CREAT`, 0644; failure refuses the config | `/bin/sh -c command`, stdin a pipe, stdout/stderr `/dev/null` | nothing |
//! | [`Sink::reopen`] (SIGHUP) | opened again; on failure the old file is kept | untouched | untouched |
//! | command exits | – | later lines are lost; not restarted (as lighttpd) | – |
//! | [`Sink::close`] / last handle dropped (stop, reload) | pending lines written, closed | pending lines written, stdin closed (the command sees EOF; no signal) | pending lines sent |

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bstr::{BString, ByteSlice};

use super::AccessLogError;

/// Pending bytes per sink beyond which lines are dropped.
pub const MAX_PENDING: usize = 8 * 1024 * 1024;
/// How long [`Sink::close`] waits for pending lines and a pipe command.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Where a sink writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `accesslog.filename = "/path"`: a file, appended to.
    File(PathBuf),
    /// `accesslog.filename = "|command"`: the standard input of
    /// `/bin/sh -c command` (the text after `|`, unchanged).
    Pipe(BString),
    /// `accesslog.use-syslog`: syslog(3), priority per line.
    Syslog,
}

impl Target {
    /// The target named by an `accesslog.filename` value; `None` for `""`
    /// (no access log).
    pub fn from_filename(name: &[u8]) -> Option<Target> {
        match name.strip_prefix(b"|") {
            _ if name.is_empty() => None,
            Some(command) => Some(Target::Pipe(command.into())),
            None => Some(Target::File(PathBuf::from(OsStr::from_bytes(name)))),
        }
    }
}

/// A shared handle on one log destination. Clones write to the same
/// destination; the destination is closed when the last clone is dropped
/// or on [`Sink::close`].
#[derive(Clone)]
pub struct Sink {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    pending: Mutex<Pending>,
    /// The writer waits here for lines.
    wake: Condvar,
    /// [`Sink::flush`] and [`Sink::close`] wait here for the writer.
    idle: Condvar,
    output: Mutex<Output>,
    /// Lines dropped since the sink was opened.
    dropped_total: AtomicU64,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// Syslog only: (end of the line in `buf`, priority).
    marks: Vec<(usize, libc::c_int)>,
    dropped: u64,
    /// The writer holds a batch (it is not waiting on `wake`).
    busy: bool,
    closing: bool,
    /// The writer has finished.
    done: bool,
    /// A file opened again by [`Sink::reopen`], for the writer to use from
    /// its next batch on.
    new_file: Option<File>,
}

enum Output {
    File(File),
    Pipe {
        child: Child,
        stdin: Option<ChildStdin>,
    },
    Syslog,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)
}

impl Sink {
    /// Opens `target` and starts its writer thread. Call at config load,
    /// before privileges are dropped.
    pub fn open(target: &Target) -> Result<Sink, AccessLogError> {
        let output = match target {
            Target::File(path) => {
                let file = open_append(path).map_err(|source| AccessLogError::Open {
                    path: path.clone(),
                    source,
                })?;
                Output::File(file)
            }
            Target::Pipe(command) => {
                let spawn_err = |source| AccessLogError::Spawn {
                    command: command.clone(),
                    source,
                };
                let mut child = Command::new("/bin/sh")
                    .arg("-c")
                    .arg(OsStr::from_bytes(command))
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(spawn_err)?;
                let stdin = child.stdin.take();
                Output::Pipe { child, stdin }
            }
            Target::Syslog => Output::Syslog,
        };
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            idle: Condvar::new(),
            output: Mutex::new(output),
            dropped_total: AtomicU64::new(0),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            let target = target.clone();
            std::thread::Builder::new()
                .name("wick-accesslog".into())
                .spawn(move || writer(&shared, &target))
                .map_err(|source| AccessLogError::Thread { source })?
        };
        Ok(Sink {
            inner: Arc::new(Inner {
                target: target.clone(),
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Where this sink writes.
    pub fn target(&self) -> &Target {
        &self.inner.target
    }

    /// Queues one line (ending in `\n`; for syslog the `\n` is not sent).
    /// `priority` is the syslog priority (`accesslog.syslog-level`), unused
    /// by files and pipes. Never blocks on I/O; drops the line when the
    /// pending buffer is full or the sink is closed.
    pub fn write(&self, priority: i32, line: &[u8]) {
        let shared = &self.inner.shared;
        let mut p = lock(&shared.pending);
        if p.closing || p.buf.len() + line.len() > MAX_PENDING {
            p.dropped += 1;
            shared.dropped_total.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let wake = p.buf.is_empty() && !p.busy;
        p.buf.extend_from_slice(line);
        if self.inner.target == Target::Syslog {
            let end = p.buf.len();
            p.marks.push((end, priority));
        }
        drop(p);
        if wake {
            shared.wake.notify_one();
        }
    }

    /// Waits until the lines queued so far are written, at most `timeout`;
    /// `false` on timeout. Blocks: not for request handling.
    pub fn flush(&self, timeout: Duration) -> bool {
        let shared = &self.inner.shared;
        let deadline = Instant::now() + timeout;
        let mut p = lock(&shared.pending);
        while (!p.buf.is_empty() || p.busy) && !p.done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            p = shared
                .idle
                .wait_timeout(p, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Opens a file target again (SIGHUP, after log rotation); pipes and
    /// syslog are left as they are. On failure the old file stays in use.
    /// The open happens here; the writer switches files before its next
    /// write, so this never waits for a write in progress.
    pub fn reopen(&self) -> Result<(), AccessLogError> {
        let Target::File(path) = &self.inner.target else {
            return Ok(());
        };
        let file = open_append(path).map_err(|source| AccessLogError::Reopen {
            path: path.clone(),
            source,
        })?;
        lock(&self.inner.shared.pending).new_file = Some(file);
        Ok(())
    }

    /// Writes the pending lines and closes the destination (a pipe command
    /// gets EOF on its standard input and is waited for), waiting at most a
    /// few seconds: for shutdown, not for async tasks. Later writes are
    /// dropped. Dropping the last clone closes too, without waiting.
    pub fn close(&self) {
        self.inner.close(true);
    }

    /// How many lines were dropped (buffer full, or written after close)
    /// since the sink was opened.
    pub fn dropped_total(&self) -> u64 {
        self.inner.shared.dropped_total.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// Tells the writer to finish; with `wait`, waits for it (bounded).
    fn close(&self, wait: bool) {
        let Some(thread) = lock(&self.thread).take() else {
            return;
        };
        let shared = &self.shared;
        let mut p = lock(&shared.pending);
        p.closing = true;
        shared.wake.notify_one();
        if !wait {
            // The writer finishes on its own; the handle is detached.
            return;
        }
        let deadline = Instant::now() + CLOSE_WAIT;
        while !p.done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(target = ?self.target, "access log writer did not finish; leaving it");
                return;
            }
            p = shared
                .idle
                .wait_timeout(p, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(p);
        let _ = thread.join();
    }
}

impl Drop for Inner {
    /// Dropped on whatever thread let go last (possibly an async task):
    /// never waits.
    fn drop(&mut self) {
        self.close(false);
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sink").field(&self.inner.target).finish()
    }
}

impl PartialEq for Sink {
    /// Same destination handle.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// The writer thread: takes what is pending, writes it, repeats; on close,
/// writes the rest and closes the output.
fn writer(shared: &Shared, target: &Target) {
    let mut batch = Vec::new();
    let mut marks = Vec::new();
    let mut failed = false;
    loop {
        let (dropped, new_file) = {
            let mut p = lock(&shared.pending);
            p.busy = false;
            while p.buf.is_empty() && !p.closing {
                shared.idle.notify_all();
                p = shared.wake.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            if p.buf.is_empty() {
                break;
            }
            p.busy = true;
            std::mem::swap(&mut p.buf, &mut batch);
            std::mem::swap(&mut p.marks, &mut marks);
            (std::mem::take(&mut p.dropped), p.new_file.take())
        };
        if dropped > 0 {
            tracing::warn!(
                ?target,
                dropped,
                "access log lines dropped: the log is not keeping up"
            );
        }
        let mut output = lock(&shared.output);
        if let Some(file) = new_file {
            *output = Output::File(file);
        }
        let result = write_batch(&mut output, &batch, &marks);
        drop(output);
        if let Err(error) = result {
            // One report per failure spell, not per batch.
            if !failed {
                tracing::warn!(?target, %error, "cannot write the access log");
            }
            failed = true;
        } else {
            failed = false;
        }
        batch.clear();
        marks.clear();
        if batch.capacity() > 1024 * 1024 {
            batch.shrink_to(64 * 1024);
        }
    }
    // Closing: everything is written.
    let output = std::mem::replace(&mut *lock(&shared.output), Output::Syslog);
    if let Output::Pipe { mut child, stdin } = output {
        drop(stdin);
        let _ = child.wait();
    }
    let mut p = lock(&shared.pending);
    p.busy = false;
    p.done = true;
    shared.idle.notify_all();
}

fn write_batch(
    output: &mut Output,
    batch: &[u8],
    marks: &[(usize, libc::c_int)],
) -> io::Result<()> {
    match output {
        Output::File(file) => file.write_all(batch),
        Output::Pipe { stdin, .. } => match stdin {
            Some(pipe) => {
                let result = pipe.write_all(batch);
                if result.is_err() {
                    // The command is gone; lighttpd does not restart it.
                    *stdin = None;
                }
                result
            }
            None => Ok(()),
        },
        Output::Syslog => {
            let mut start = 0;
            for &(end, priority) in marks {
                let line = batch.get(start..end).unwrap_or_default();
                start = end;
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                let line = line.replace(b"\0", b"");
                if let Ok(c) = CString::new(line) {
                    // SAFETY: "%s" with one NUL-terminated argument.
                    unsafe { libc::syslog(priority, c"%s".as_ptr(), c.as_ptr()) };
                }
            }
            Ok(())
        }
    }
}

/// The sinks of one configuration, one per distinct `accesslog.filename`
/// (as lighttpd shares one descriptor per name) plus syslog.
#[derive(Debug, Default)]
pub struct SinkRegistry {
    sinks: HashMap<Target, Sink>,
}

impl SinkRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        SinkRegistry::default()
    }

    /// The sink for `target`, opened on first use and shared afterwards.
    pub fn open(&mut self, target: &Target) -> Result<Sink, AccessLogError> {
        if let Some(sink) = self.sinks.get(target) {
            return Ok(sink.clone());
        }
        let sink = Sink::open(target)?;
        self.sinks.insert(target.clone(), sink.clone());
        Ok(sink)
    }

    /// Every sink opened so far.
    pub fn sinks(&self) -> impl Iterator<Item = &Sink> {
        self.sinks.values()
    }

    /// Reopens every file (SIGHUP). Returns the failures; the files that
    /// failed keep their old descriptor (lighttpd logs
    /// `error cycling log <path>: <reason>` and carries on).
    pub fn reopen(&self) -> Vec<AccessLogError> {
        self.sinks
            .values()
            .filter_map(|s| s.reopen().err())
            .collect()
    }

    /// Flushes and closes every sink (shutdown).
    pub fn close(&self) {
        for sink in self.sinks.values() {
            sink.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stuck writer: lines beyond the cap are dropped and counted; the
    /// caller never waits.
    #[test]
    fn full_buffer_drops_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("slow.log");
        let sink = Sink::open(&Target::File(path.clone())).expect("open");
        let mut line = vec![b'x'; 64 * 1024];
        line.push(b'\n');
        let cap = MAX_PENDING / line.len();
        // The writer may hold one full batch and the buffer fill again:
        // beyond twice the cap, lines must be dropped.
        let sent = 2 * cap + 10;
        let started = Instant::now();
        {
            // Hold the output: the writer blocks as on a stuck disk.
            let _stuck = sink.inner.shared.output.lock().expect("lock");
            for _ in 0..sent {
                sink.write(0, &line);
            }
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(sink.flush(Duration::from_secs(10)));
        sink.close();
        let written = std::fs::read(&path).expect("read").len() / line.len();
        let dropped = usize::try_from(sink.dropped_total()).expect("small");
        assert!(dropped >= 10, "dropped {dropped}");
        assert_eq!(written + dropped, sent);
    }
}
