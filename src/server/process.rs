//! The process around the server: running as a daemon, the pid file, and
//! dropping root privileges after binding (lighttpd: `server.c`
//! `daemonize`, `server_main_setup` privilege handling).
//!
//! Everything here runs before the async runtime starts, while the process
//! has a single thread (fork is only safe then).

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Why a process step failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A user or group name does not exist.
    #[error("unknown {kind} `{name}`")]
    UnknownId {
        /// "user" or "group".
        kind: &'static str,
        /// The name.
        name: String,
    },
}

fn sys(what: impl Into<String>) -> impl FnOnce(io::Error) -> ProcessError {
    let what = what.into();
    move |source| ProcessError::Sys { what, source }
}

/// The write end the daemon uses to tell its parent it is up.
#[derive(Debug)]
pub struct Readiness(Option<File>);

impl Readiness {
    /// Nothing to tell (foreground).
    pub fn none() -> Self {
        Readiness(None)
    }

    /// Tells the waiting parent that start-up succeeded (it exits 0).
    pub fn ready(mut self) {
        if let Some(mut f) = self.0.take() {
            let _ = f.write_all(b"0");
        }
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        // Dropped without `ready()`: start-up failed; the parent exits 255.
        if let Some(mut f) = self.0.take() {
            let _ = f.write_all(b"1");
        }
    }
}

/// Detaches from the terminal as lighttpd does without `-D`: the original
/// process waits until the daemon reports start-up, then exits with 0 (or
/// 255 if it failed); the daemon runs in a new session, in `/`, with its
/// standard streams on `/dev/null`.
pub fn daemonize() -> Result<Readiness, ProcessError> {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(sys("pipe")(io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned here only.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the process is single-threaded here (no runtime yet).
    match unsafe { libc::fork() } {
        -1 => return Err(sys("fork")(io::Error::last_os_error())),
        0 => {}
        _ => {
            drop(write_end);
            let mut status = [0u8; 1];
            let code = match File::from(read_end).read(&mut status) {
                Ok(1) if status[0] == b'0' => 0,
                _ => 255,
            };
            // SAFETY: leave immediately; the daemon owns everything now.
            unsafe { libc::_exit(code) };
        }
    }
    drop(read_end);
    // SAFETY: setsid/fork/chdir/dup2 on our own process, still single-threaded.
    unsafe {
        if libc::setsid() == -1 {
            return Err(sys("setsid")(io::Error::last_os_error()));
        }
        match libc::fork() {
            -1 => return Err(sys("fork")(io::Error::last_os_error())),
            0 => {}
            _ => libc::_exit(0),
        }
        if libc::chdir(c"/".as_ptr()) != 0 {
            return Err(sys("chdir /")(io::Error::last_os_error()));
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
    }
    Ok(Readiness(Some(File::from(write_end))))
}

/// Writes our pid to `server.pid-file`.
pub fn write_pid_file(path: &Path) -> Result<(), ProcessError> {
    std::fs::write(path, format!("{}\n", std::process::id()))
        .map_err(sys(format!("cannot write the pid file {}", path.display())))
}

/// Removes the pid file at exit (when we still may).
pub fn remove_pid_file(path: &PathBuf) {
    let _ = std::fs::remove_file(path);
}

/// Switches to `server.username` / `server.groupname` when running as root
/// (supplementary groups replaced by the user's). Not root: nothing to do.
pub fn drop_privileges(user: Option<&str>, group: Option<&str>) -> Result<(), ProcessError> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 || (user.is_none() && group.is_none()) {
        return Ok(());
    }
    let (uid, user_gid, name) = match user {
        Some(u) => {
            let (uid, gid) = lookup_user(u)?;
            (
                Some(uid),
                Some(gid),
                Some(CString::new(u).map_err(|_| ProcessError::UnknownId {
                    kind: "user",
                    name: u.into(),
                })?),
            )
        }
        None => (None, None, None),
    };
    let gid = match group {
        Some(g) => Some(lookup_group(g)?),
        None => user_gid,
    };
    // SAFETY: plain credential system calls with values looked up above.
    unsafe {
        if let Some(gid) = gid {
            if libc::setgid(gid) != 0 {
                return Err(sys("setgid")(io::Error::last_os_error()));
            }
            let ok = match &name {
                Some(n) => libc::initgroups(n.as_ptr(), gid) == 0,
                None => libc::setgroups(0, std::ptr::null()) == 0,
            };
            if !ok {
                return Err(sys("setgroups")(io::Error::last_os_error()));
            }
        }
        if let Some(uid) = uid {
            if libc::setuid(uid) != 0 {
                return Err(sys("setuid")(io::Error::last_os_error()));
            }
        }
    }
    Ok(())
}

fn lookup_user(name: &str) -> Result<(libc::uid_t, libc::gid_t), ProcessError> {
    let unknown = || ProcessError::UnknownId {
        kind: "user",
        name: name.into(),
    };
    let c = CString::new(name).map_err(|_| unknown())?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: getpwnam_r fills `pwd` using `buf`, both owned here; `out`
    // points at `pwd` on success.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(c.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut out);
        if rc != 0 || out.is_null() {
            return Err(unknown());
        }
        Ok((pwd.pw_uid, pwd.pw_gid))
    }
}

fn lookup_group(name: &str) -> Result<libc::gid_t, ProcessError> {
    let unknown = || ProcessError::UnknownId {
        kind: "group",
        name: name.into(),
    };
    let c = CString::new(name).map_err(|_| unknown())?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: as in lookup_user.
    unsafe {
        let mut grp: libc::group = std::mem::zeroed();
        let mut out: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrnam_r(c.as_ptr(), &mut grp, buf.as_mut_ptr(), buf.len(), &mut out);
        if rc != 0 || out.is_null() {
            return Err(unknown());
        }
        Ok(grp.gr_gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names resolve through the system databases.
    #[test]
    fn looks_up_root() {
        assert_eq!(lookup_user("root").expect("root exists").0, 0);
        assert_eq!(lookup_group("root").expect("root exists"), 0);
        assert!(lookup_user("no-such-user-wick").is_err());
    }
}
