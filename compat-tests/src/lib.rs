//! Harness for running the same scenario against lighttpd and wick.
//!
//! | concern | file |
//! |---|---|
//! | where the wick and lighttpd binaries are; loud skips | [`bins`] |
//! | running a process with a deadline, cwd and env | [`run`] |
//! | `-p` output normalisation, diffs, oracle comparison | [`compare`] |
//! | scratch copies of reference files | [`fixture`] |
//! | lighttpd and wick serving one config on inherited sockets; raw HTTP/1.1 exchanges compared | [`http`] |
//! | WebSocket over HTTP/2 (RFC 8441's extended CONNECT) through an HTTP/2 client | [`h2`] |
//! | certificates (openssl CLI), TLS handshakes and requests through `openssl s_client` and curl | [`tls`] |
//! | backends for proxy scenarios (python tools on harness-bound sockets, dead/stalled/silent peers), bin-path children's records | [`backend`] |
//!
//! Environment understood by the harness:
//!
//! | variable | meaning |
//! |---|---|
//! | `WICK_BIN` | wick binary to test (default: `target/release/wick`, then `target/debug/wick`, else built with `cargo build --release --bin wick`) |
//! | `LIGHTTPD_BIN` | the oracle (default: `lighttpd` on `PATH`, then `/usr/sbin/lighttpd`) |
//! | `WICK_REQUIRE_LIGHTTPD=1` | a missing oracle (or oracle input such as `/etc/lighttpd/lighttpd.conf`) fails the test instead of skipping it; CI sets it |
//! | `WICK_SHARED_DIR` | the `shared/` reference directory (default: the sibling of the workspace) |
//! | `WICK_COMPAT_TIMEOUT` | seconds allowed per process run (default 30) |
//! | `WICK_CONFIG_CASE_DIR` | another case directory for `tests/config_corpus.rs` (same layout as `shared/compat/config`) |
//! | `WICK_COMPAT_SHOW=1` | `tests/static_http.rs` prints a summary line for every exchange |
//! | `WICK_COMPAT_SELF=1` | two-sided scenarios run lighttpd on both sides (checks the scenarios against the oracle alone) |
//! | `WICK_COMPAT_PYTHON` | the Python 3 interpreter for the tools (default: `sys.executable` of `python3`) |
//! | `CHECK_TIMEOUT` | seconds per case for `check.sh` (default 5 here) |

pub mod backend;
pub mod bins;
pub mod compare;
pub mod fixture;
pub mod h2;
pub mod http;
pub mod run;
pub mod tls;
pub mod ws;

pub use bins::{
    find_lighttpd, lighttpd_or_skip, require_lighttpd, shared_dir, skip, skip_with_hint, wick_bin,
    workspace_root,
};
pub use compare::{compare_print, first_message, same_stdout, strip_cwd_pid, text_diff};
pub use fixture::{copy_dir, files_with_suffix};
pub use run::{Cmd, Output, RunError, base_env, default_timeout, run_oracle};

use std::io::Write;

/// Writes `text` straight to the process's stderr, bypassing libtest's
/// output capture, so that skips and summaries are visible even when the
/// test passes. One `write_all` keeps the block together when tests run in
/// parallel.
pub fn announce(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = err.write_all(b"\n");
    }
    let _ = err.flush();
}
