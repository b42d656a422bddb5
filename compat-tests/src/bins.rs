//! Locating the binaries under test and the reference material.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::announce;
use crate::run::Cmd;

/// How long building wick on demand may take before the harness gives up.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("compat-tests/ has a parent directory (the workspace root)")
        .to_path_buf()
}

/// The `shared/` reference directory: `WICK_SHARED_DIR`, else the sibling of
/// the workspace (`<workspace>/../shared`). Panics with a hint when missing:
/// without the reference data there is nothing to compare against.
pub fn shared_dir() -> PathBuf {
    let (dir, origin) = match non_empty_env("WICK_SHARED_DIR") {
        Some(dir) => (absolute(Path::new(&dir)), "WICK_SHARED_DIR"),
        None => (workspace_root().join("..").join("shared"), "default"),
    };
    match dir.canonicalize() {
        Ok(dir) if dir.is_dir() => dir,
        _ => panic!(
            "shared reference directory not found: {} ({origin}); \
             set WICK_SHARED_DIR to the directory holding compat/ and spec/",
            dir.display()
        ),
    }
}

/// `true` when `WICK_REQUIRE_LIGHTTPD=1`: a missing oracle is a failure.
pub fn require_lighttpd() -> bool {
    env::var("WICK_REQUIRE_LIGHTTPD").is_ok_and(|v| v == "1")
}

/// Finds lighttpd: `LIGHTTPD_BIN`, else `lighttpd` on `PATH`, else
/// `/usr/sbin/lighttpd`. The error says where it looked.
pub fn find_lighttpd() -> Result<PathBuf, String> {
    if let Some(value) = non_empty_env("LIGHTTPD_BIN") {
        return resolve_program(&value)
            .ok_or_else(|| format!("LIGHTTPD_BIN={value} is not an executable file"));
    }
    if let Some(found) = search_path(OsStr::new("lighttpd")) {
        return Ok(found);
    }
    let fallback = Path::new("/usr/sbin/lighttpd");
    if is_executable(fallback) {
        return Ok(fallback.to_path_buf());
    }
    Err(
        "lighttpd not found: LIGHTTPD_BIN is unset, no `lighttpd` on PATH, \
         no /usr/sbin/lighttpd"
            .to_string(),
    )
}

/// The oracle binary, or `None` after announcing loudly that `test` is
/// skipped. With `WICK_REQUIRE_LIGHTTPD=1` a missing oracle panics instead.
pub fn lighttpd_or_skip(test: &str) -> Option<PathBuf> {
    match find_lighttpd() {
        Ok(path) => Some(path),
        Err(reason) => {
            skip(test, &reason);
            None
        }
    }
}

/// Announces that `test` is skipped because of `reason`, bypassing output
/// capture. Panics instead when `WICK_REQUIRE_LIGHTTPD=1`, because then the
/// environment is supposed to provide everything the oracle needs.
pub fn skip(test: &str, reason: &str) {
    skip_with_hint(
        test,
        reason,
        "install lighttpd or set LIGHTTPD_BIN; WICK_REQUIRE_LIGHTTPD=1 makes this a failure",
    );
}

/// [`skip`] with another `hint` (how to provide what is missing) on the
/// announcement's second line.
pub fn skip_with_hint(test: &str, reason: &str, hint: &str) {
    if require_lighttpd() {
        panic!("{test}: {reason} (WICK_REQUIRE_LIGHTTPD=1 turns this skip into a failure)");
    }
    announce(&format!("\n*** SKIPPED {test}: {reason}\n*** ({hint})\n"));
}

/// The wick binary under test, located (or built) once per test process.
///
/// Order: `WICK_BIN`; `<target>/release/wick`; `<target>/debug/wick`; else
/// `cargo build --release --bin wick` in the workspace root. `<target>` is
/// `CARGO_TARGET_DIR` when set, else `<workspace>/target`. Which binary is
/// used is announced once; a release build wins even over a newer debug
/// build, with a warning, since a stale binary makes confusing failures.
pub fn wick_bin() -> PathBuf {
    static WICK: OnceLock<PathBuf> = OnceLock::new();
    WICK.get_or_init(|| {
        let (path, origin) = locate_or_build_wick();
        announce(&format!(
            "compat-tests: wick binary {} ({origin})",
            path.display()
        ));
        path
    })
    .clone()
}

fn locate_or_build_wick() -> (PathBuf, &'static str) {
    if let Some(value) = non_empty_env("WICK_BIN") {
        let path = resolve_program(&value)
            .unwrap_or_else(|| panic!("WICK_BIN={value} is not an executable file"));
        return (path, "WICK_BIN");
    }
    let target = target_dir();
    let release = target.join("release").join("wick");
    let debug = target.join("debug").join("wick");
    if is_executable(&release) {
        if modified(&debug) > modified(&release) {
            announce(&format!(
                "compat-tests: warning: {} is newer than the release build that is used; \
                 run `cargo build --release` or set WICK_BIN",
                debug.display()
            ));
        }
        return (release, "release build");
    }
    if is_executable(&debug) {
        return (debug, "debug build");
    }
    build_wick(&target);
    (target.join("release").join("wick"), "built just now")
}

fn target_dir() -> PathBuf {
    match non_empty_env("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

fn build_wick(target: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    announce("compat-tests: no wick binary found, running `cargo build --release --bin wick`");
    let out = Cmd::new(cargo)
        .args(["build", "--release", "--bin", "wick"])
        .cwd(workspace_root())
        .timeout(BUILD_TIMEOUT)
        .run()
        .unwrap_or_else(|e| panic!("cannot build wick: {e}"));
    if !out.success() {
        panic!(
            "building wick failed ({}); set WICK_BIN to test a prebuilt binary\n{}",
            out.status_text(),
            out.stderr_tail(60)
        );
    }
    let built = target.join("release").join("wick");
    assert!(
        is_executable(&built),
        "`cargo build --release --bin wick` succeeded but {} does not exist",
        built.display()
    );
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

fn non_empty_env(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.is_empty())
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        env::current_dir()
            .expect("the test process has a current directory")
            .join(path)
    }
}

/// A program named by the user: a bare name is looked up on `PATH`, a path
/// is taken relative to the current directory.
fn resolve_program(value: &str) -> Option<PathBuf> {
    let path = Path::new(value);
    if !value.contains('/') {
        return search_path(path.as_os_str());
    }
    let path = absolute(path);
    is_executable(&path).then_some(path)
}

fn search_path(name: &OsStr) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
