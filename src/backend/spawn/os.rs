//! The real [`Spawner`] (lighttpd: `gw_spawn_connection`,
//! `fdevent_fork_execve`): probe connect, socket + bind + listen, fork and
//! exec with the socket as fd 0, signals, and reaping through
//! `tokio::process` (spec backend-manager.md §7).

use std::collections::HashMap;
use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use super::{BoxFuture, ChildExit, ProcSocket, Spawned, Spawner};
use crate::backend::{BinConfig, ProcAddr};

/// Longest wait for the probe connect to a TCP address.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The child's environment (spec §7.3): the `bin-copy-environment`
/// names that are set in `parent` (all of `parent` when the list is
/// empty), then the `bin-environment` pairs in order, then
/// `PHP_FCGI_CHILDREN=1` unless present.
pub fn child_env(
    bin: &BinConfig,
    parent: impl IntoIterator<Item = (OsString, OsString)>,
) -> Vec<(OsString, OsString)> {
    fn set(env: &mut Vec<(OsString, OsString)>, k: &OsString, v: &OsString) {
        match env.iter_mut().find(|(name, _)| name == k) {
            Some(e) => e.1 = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
    let parent: Vec<(OsString, OsString)> = parent.into_iter().collect();
    let mut env = Vec::new();
    if bin.copy_env.is_empty() {
        for (k, v) in &parent {
            set(&mut env, k, v);
        }
    } else {
        for name in &bin.copy_env {
            if let Some((k, v)) = parent.iter().find(|(k, _)| k == name) {
                set(&mut env, k, v);
            }
        }
    }
    for (k, v) in &bin.env {
        set(&mut env, k, v);
    }
    if !env.iter().any(|(k, _)| k == "PHP_FCGI_CHILDREN") {
        env.push(("PHP_FCGI_CHILDREN".into(), "1".into()));
    }
    env
}

type Children = Arc<Mutex<HashMap<u32, tokio::process::Child>>>;

fn lock(children: &Children) -> MutexGuard<'_, HashMap<u32, tokio::process::Child>> {
    children.lock().unwrap_or_else(|p| p.into_inner())
}

/// The real [`Spawner`]: sockets, `fork`/`exec`, `kill`, `waitpid` (through
/// `tokio::process`, so exits are learnt from SIGCHLD and children reaped).
///
/// Children stay in a table until reaped; [`Spawner::signal`] and reaping
/// both hold its lock, so a signal never reaches a recycled pid.
#[derive(Debug, Default, Clone)]
pub struct OsSpawner {
    children: Children,
}

impl OsSpawner {
    /// A spawner with no children yet.
    pub fn new() -> OsSpawner {
        OsSpawner::default()
    }
}

/// Removes a socket file left behind by a dead backend (lighttpd unlinks
/// any path there; we leave anything that is not a socket to fail `bind`).
fn remove_stale_socket(path: &Path, err: &io::Error) {
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if !is_socket {
        return;
    }
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!("unlink {} after connect failed: {err}", path.display()),
        Err(e) => tracing::error!("cannot unlink stale socket {}: {e}", path.display()),
    }
}

/// Runs in the forked child before `exec`: only async-signal-safe calls,
/// no allocation.
fn prepare_child() -> io::Result<()> {
    for sig in [
        libc::SIGPIPE,
        libc::SIGUSR1,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGTSTP,
    ] {
        // SAFETY: an all-zero `sigaction` is valid; with `SIG_DFL` it
        // restores the default disposition (sigaction(2) is
        // async-signal-safe).
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // Belt and braces for descriptors someone opened without CLOEXEC (ours
    // all have it): mark everything above 2 close-on-exec. Old kernels
    // without close_range(2) just keep lighttpd's behaviour.
    #[cfg(target_os = "linux")]
    // SAFETY: a plain system call on integers.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
    Ok(())
}

impl Spawner for OsSpawner {
    fn probe<'a>(&'a self, addr: &'a ProcAddr) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            match addr {
                ProcAddr::Tcp(a) => matches!(
                    tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(*a)).await,
                    Ok(Ok(_))
                ),
                ProcAddr::Unix(p) => match tokio::net::UnixStream::connect(p).await {
                    Ok(_) => true,
                    Err(e) => {
                        if e.raw_os_error() != Some(libc::ENOENT) {
                            remove_stale_socket(p, &e);
                        }
                        false
                    }
                },
            }
        })
    }

    fn listen(&self, addr: &ProcAddr, backlog: i32) -> io::Result<ProcSocket> {
        use socket2::{Domain, SockAddr, Socket, Type};
        let (domain, sa) = match addr {
            ProcAddr::Tcp(a) => (Domain::for_address(*a), SockAddr::from(*a)),
            ProcAddr::Unix(p) => (Domain::UNIX, SockAddr::unix(p)?),
        };
        // socket2 creates it close-on-exec and blocking.
        let s = Socket::new(domain, Type::STREAM, None)?;
        s.set_reuse_address(true)?;
        s.bind(&sa)?;
        s.listen(backlog)?;
        Ok(ProcSocket::new(addr.clone(), OwnedFd::from(s)))
    }

    fn start(&self, bin: &BinConfig, socket: ProcSocket) -> io::Result<Spawned> {
        let fd = socket
            .into_fd()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no listening socket"))?;
        let first = bin
            .argv
            .first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty bin-path"))?;
        // lighttpd execs argv[0] as a path (no PATH search) from the
        // directory that contains it.
        let program = std::path::absolute(first)?;
        let dir = program
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        let mut cmd = tokio::process::Command::new(&program);
        cmd.arg0(first)
            .args(bin.argv.iter().skip(1))
            .current_dir(&dir)
            .env_clear()
            .envs(child_env(bin, std::env::vars_os()))
            .stdin(Stdio::from(fd))
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .kill_on_drop(false);
        // SAFETY: `prepare_child` only calls async-signal-safe functions.
        unsafe {
            cmd.pre_exec(prepare_child);
        }
        let child = cmd.spawn();
        // Our copy of the listening socket goes with the command.
        drop(cmd);
        let child = child?;
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the child has no pid"))?;
        lock(&self.children).insert(pid, child);
        Ok(Spawned {
            pid,
            exit: Box::pin(ChildWait {
                children: self.children.clone(),
                pid,
                kill_signal: bin.kill_signal,
                done: false,
            }),
        })
    }

    fn signal(&self, pid: u32, signal: i32) -> io::Result<()> {
        // Held across kill(2): the child cannot be reaped (and its pid
        // reused) in between.
        let children = lock(&self.children);
        let Some(id) = children.get(&pid).and_then(|c| c.id()) else {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        };
        let id = i32::try_from(id).map_err(io::Error::other)?;
        // SAFETY: kill(2) on our own child, which has not been reaped.
        if unsafe { libc::kill(id, signal) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn remove_socket(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Waits for one child of an [`OsSpawner`]; reaping happens under the
/// table's lock and removes the child from it.
struct ChildWait {
    children: Children,
    pid: u32,
    kill_signal: i32,
    done: bool,
}

impl Future for ChildWait {
    type Output = ChildExit;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ChildExit> {
        let this = self.get_mut();
        let mut children = lock(&this.children);
        let Some(child) = children.get_mut(&this.pid) else {
            this.done = true;
            return Poll::Ready(ChildExit::Unknown);
        };
        // `wait` is cancel-safe: a fresh future per poll is fine.
        let polled = {
            let wait = child.wait();
            std::pin::pin!(wait).poll(cx)
        };
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                children.remove(&this.pid);
                this.done = true;
                Poll::Ready(r.map_or(ChildExit::Unknown, ChildExit::from_status))
            }
        }
    }
}

impl Drop for ChildWait {
    /// The manager went away without waiting for this child (e.g. its
    /// runtime was dropped, in whatever order it drops tasks): signal the
    /// child, then let tokio reap it in the background.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut children = lock(&self.children);
        if let Some(child) = children.remove(&self.pid) {
            if let Some(id) = child.id().and_then(|id| i32::try_from(id).ok()) {
                // SAFETY: kill(2) on our own child, not yet reaped (we hold it).
                unsafe { libc::kill(id, self.kill_signal) };
            }
        }
    }
}
