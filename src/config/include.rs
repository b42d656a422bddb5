//! Reading what `include` and `include_shell` name (lighttpd:
//! `config_parse_file`, `config_parse_cmd` in `configfile.c`).
//!
//! Paths are expanded with the C library's `glob(3)` and `GLOB_BRACE`, the
//! call lighttpd makes, so the set and order of included files is the same
//! (brace alternatives in written order, each sorted bytewise).

use std::ffi::{CStr, CString, OsStr};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

/// The largest configuration file lighttpd reads (32 MiB).
pub const MAX_FILE_SIZE: u64 = 32 * 1024 * 1024;

/// The directory part of the `-f` argument as given: everything up to and
/// including the last `/` (empty if there is none, and for `-f -`).
pub fn basedir_of(main: &[u8]) -> Vec<u8> {
    if main == b"-" {
        return Vec::new();
    }
    match main.iter().rposition(|&b| b == b'/') {
        Some(i) => main[..=i].to_vec(),
        None => Vec::new(),
    }
}

/// Resolves an include path: relative paths are taken from the main file's
/// directory, except those starting with `./` or `../` (and their backslash
/// forms), which stay relative to the working directory.
pub fn resolve(basedir: &[u8], path: &[u8]) -> Vec<u8> {
    let as_is = basedir.is_empty()
        || path.first().is_some_and(|&b| b == b'/' || b == b'\\')
        || path.starts_with(b"./")
        || path.starts_with(b".\\")
        || path.starts_with(b"../")
        || path.starts_with(b"..\\");
    if as_is {
        path.to_vec()
    } else {
        let mut p = basedir.to_vec();
        p.extend_from_slice(path);
        p
    }
}

/// True if the path contains glob metacharacters (then matching nothing is
/// not an error).
pub fn has_glob_chars(path: &[u8]) -> bool {
    path.iter()
        .any(|b| matches!(b, b'*' | b'?' | b'[' | b']' | b'{' | b'}'))
}

/// Why a glob failed.
#[derive(Debug, thiserror::Error)]
pub enum GlobError {
    /// The pattern contains a NUL byte.
    #[error("the path contains a NUL byte")]
    Nul,
    /// glob(3) ran out of memory or hit a read error.
    #[error("glob(3) failed with code {0}")]
    Failed(i32),
}

/// Expands `pattern` with glob(3) and `GLOB_BRACE`; an empty list when
/// nothing matches.
pub fn glob(pattern: &[u8]) -> Result<Vec<Vec<u8>>, GlobError> {
    let c_pattern = CString::new(pattern).map_err(|_| GlobError::Nul)?;
    // SAFETY: `glob_t` is a plain C struct for which all-zero is the
    // documented initial state; it is only read after glob() filled it and
    // is released with globfree() on every path.
    unsafe {
        let mut g: libc::glob_t = std::mem::zeroed();
        let rc = libc::glob(c_pattern.as_ptr(), libc::GLOB_BRACE, None, &mut g);
        let result = match rc {
            0 => {
                let mut out = Vec::with_capacity(g.gl_pathc);
                for k in 0..g.gl_pathc {
                    let p = *g.gl_pathv.add(k);
                    if !p.is_null() {
                        out.push(CStr::from_ptr(p).to_bytes().to_vec());
                    }
                }
                Ok(out)
            }
            libc::GLOB_NOMATCH => Ok(Vec::new()),
            other => Err(GlobError::Failed(other)),
        };
        libc::globfree(&mut g);
        result
    }
}

/// Reads a configuration file (at most [`MAX_FILE_SIZE`] bytes).
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_FILE_SIZE} bytes"),
        ));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_FILE_SIZE} bytes"),
        ));
    }
    Ok(buf)
}

/// The shell lighttpd runs `include_shell` commands with: `$SHELL`, unless
/// unset or `/bin/false` / `/usr/bin/false`, then `/bin/sh`.
pub fn shell(env_shell: Option<&OsStr>) -> &OsStr {
    match env_shell {
        Some(s) if !s.is_empty() && s != "/bin/false" && s != "/usr/bin/false" => s,
        _ => OsStr::new("/bin/sh"),
    }
}

/// Why an `include_shell` command failed.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The shell could not be started.
    #[error("cannot run {shell}: {source}")]
    Spawn {
        /// The shell program.
        shell: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The command exited with a non-zero status or was killed.
    #[error("{0}")]
    Status(ExitStatus),
    /// Its output was larger than a configuration file may be.
    #[error("its output is larger than {MAX_FILE_SIZE} bytes")]
    TooLarge,
}

/// Runs `command` with `shell -c`, in `dir` when not empty, and returns its
/// standard output. Standard input and error are inherited, as in lighttpd.
pub fn run_shell(shell: &OsStr, command: &[u8], dir: &[u8]) -> Result<Vec<u8>, ShellError> {
    let mut cmd = Command::new(shell);
    cmd.arg("-c")
        .arg(OsStr::from_bytes(command))
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped());
    if !dir.is_empty() {
        cmd.current_dir(OsStr::from_bytes(dir));
    }
    let mut child = cmd.spawn().map_err(|source| ShellError::Spawn {
        shell: shell.to_string_lossy().into_owned(),
        source,
    })?;
    let mut out = Vec::new();
    let read = match child.stdout.take() {
        Some(stdout) => stdout.take(MAX_FILE_SIZE + 1).read_to_end(&mut out),
        None => Ok(0),
    };
    if out.len() as u64 > MAX_FILE_SIZE {
        // Stop a command that keeps writing, rather than wait on a full pipe.
        let _ = child.kill();
        let _ = child.wait();
        return Err(ShellError::TooLarge);
    }
    let status = child.wait().map_err(|source| ShellError::Spawn {
        shell: shell.to_string_lossy().into_owned(),
        source,
    })?;
    if !status.success() {
        return Err(ShellError::Status(status));
    }
    read.map_err(|source| ShellError::Spawn {
        shell: shell.to_string_lossy().into_owned(),
        source,
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// basedir is the `-f` argument up to its last slash.
    #[test]
    fn basedir_and_resolution_follow_lighttpd() {
        assert_eq!(
            basedir_of(b"/etc/lighttpd/lighttpd.conf"),
            b"/etc/lighttpd/"
        );
        assert_eq!(basedir_of(b"lighttpd.conf"), b"");
        assert_eq!(basedir_of(b"-"), b"");
        let base = b"conf/";
        assert_eq!(resolve(base, b"x.conf"), b"conf/x.conf");
        assert_eq!(resolve(base, b"./x.conf"), b"./x.conf");
        assert_eq!(resolve(base, b"../x.conf"), b"../x.conf");
        assert_eq!(resolve(base, b"/abs.conf"), b"/abs.conf");
        assert_eq!(resolve(b"", b"x.conf"), b"x.conf");
    }

    /// Brace alternatives keep their written order; matches within one are sorted.
    #[test]
    fn glob_order_is_brace_order_then_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.conf", "a.conf", "10.conf", "9.conf"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let base = dir.path().as_os_str().as_bytes();
        let mut pat = base.to_vec();
        pat.extend_from_slice(b"/{b,a,*0}.conf");
        let got: Vec<String> = glob(&pat)
            .unwrap()
            .iter()
            .map(|p| String::from_utf8_lossy(&p[base.len() + 1..]).into_owned())
            .collect();
        assert_eq!(got, ["b.conf", "a.conf", "10.conf"]);
        let mut none = base.to_vec();
        none.extend_from_slice(b"/none-*.conf");
        assert!(glob(&none).unwrap().is_empty());
    }

    /// `$SHELL=/bin/false` falls back to /bin/sh, as lighttpd does.
    #[test]
    fn shell_falls_back_to_bin_sh() {
        assert_eq!(shell(None), "/bin/sh");
        assert_eq!(shell(Some(OsStr::new("/bin/false"))), "/bin/sh");
        assert_eq!(shell(Some(OsStr::new("/bin/bash"))), "/bin/bash");
    }

    /// Output is captured and a non-zero status is an error.
    #[test]
    fn run_shell_captures_output_and_status() {
        let out = run_shell(OsStr::new("/bin/sh"), b"printf 'a = 1\\n'", b"").unwrap();
        assert_eq!(out, b"a = 1\n");
        assert!(matches!(
            run_shell(OsStr::new("/bin/sh"), b"exit 3", b""),
            Err(ShellError::Status(_))
        ));
    }
}
