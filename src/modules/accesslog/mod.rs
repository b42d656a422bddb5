//! mod_accesslog: one line per finished request, per `accesslog.format`,
//! to `accesslog.filename` (a file or `|command`) or syslog (lighttpd:
//! `mod_accesslog.c`).
//!
//! ```text
//! load:    each config block ─compile(BlockKeys, SinkRegistry)─► BlockSettings
//!          (files opened and commands started once per distinct name)
//! request: AccessLog::default() ─apply(block)… in block order─► AccessLog
//!          AccessLog::log(&Record) ─Format::render─► Sink::write (memory, never blocks)
//!          writer thread per sink ─► file │ /bin/sh -c command │ syslog(3)
//! signals: SIGHUP ─► SinkRegistry::reopen (files only); stop ─► SinkRegistry::close;
//!          reload ─► compile the new config into a new registry, drop the old one
//!          (its commands get EOF and the new config starts its own, as lighttpd)
//! ```
//!
//! | part | file |
//! |---|---|
//! | `accesslog.format`: parse, render, escaping | `format.rs` |
//! | destinations, writer threads, reopen, registry | `sink.rs` |
//!
//! The keys 1.4.69 knows: `accesslog.filename`, `accesslog.format`,
//! `accesslog.use-syslog`, `accesslog.syslog-level` and
//! `accesslog.escaping` (`"json"` selects JSON escaping; any other value
//! the default). All may be set in conditional blocks and are merged
//! independently. With no `accesslog.filename` (or `""`) and syslog off,
//! nothing is logged. A block that enables syslog does not open its own
//! `accesslog.filename`; syslog wins over a file when both apply.
//!
//! What lighttpd 1.4.69 refuses at startup (exit 255, after
//! `(server.c.1708) Configuration of plugins failed. Going down.`):
//!
//! | case | lighttpd's message |
//! |---|---|
//! | `""` | `parsing accesslog-definition failed: ` |
//! | `%` at the end | `% must be followed by a format-specifier`, then `parsing accesslog-definition failed: <format>` |
//! | `%{abc`, `%{}i` | `%{...} must contain string and %{ must be terminated by }`, then the same |
//! | `%L`, `%>x`, `%{x}`, `%{x}>s` | `% or %{...} must be followed by a valid format-specifier`, then the same |
//! | `%{foo}t` | `constant string for time format (misspelled token? or missing '%'): <format>` |
//! | two of `%t`/`%{…%…}t`/`%{sec}t` | `you may not use strftime timestamp format %{}t twice in the same access log: <format>` |
//! | `%{foo}T` | `invalid time unit in %{UNIT}T: <format>` |
//! | `%{foo}p` | `invalid format %{canonical,local,remote}p: <format>` |
//! | `%i`, `%o` (no name) | lighttpd crashes (SIGSEGV); wick refuses |
//! | file cannot be opened | `opening log '<path>' failed: <strerror>` |
//!
//! `<format>` is the format after its backslash sequences are resolved.
//! SIGHUP: `error cycling log <path>: <strerror>` when a reopen fails, and
//! the old file stays in use.

pub mod format;
pub mod sink;

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bstr::BString;

pub use format::{DEFAULT_FORMAT, Format, FormatError, escape_into};
pub use sink::{Sink, SinkRegistry, Target};

/// `accesslog.syslog-level` when not set: `LOG_INFO` (the facility is
/// syslog's default, `LOG_USER`, unless the error log opened syslog).
pub const DEFAULT_SYSLOG_LEVEL: i32 = libc::LOG_INFO;

/// How values are escaped in a line (`accesslog.escaping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escaping {
    /// `\"`, `\\`, `\n`-style letters, `\xHH` for other control bytes and
    /// every byte from 0x7f up.
    #[default]
    Default,
    /// `\"`, `\\`, `\n`-style letters, `\u00HH` for other control bytes;
    /// bytes from 0x7f up unchanged.
    Json,
}

impl Escaping {
    /// `"json"` (exactly) is JSON; anything else the default.
    pub fn from_config(value: &[u8]) -> Escaping {
        if value == b"json" {
            Escaping::Json
        } else {
            Escaping::Default
        }
    }
}

/// How the connection went on after the response (`%X`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnStatus {
    /// `X`: the response was not completely sent (client gone, write
    /// error, connection reset).
    Aborted,
    /// `+`: the connection stays open for another request. Decided when
    /// the line is logged: a client that closes afterwards still gets `+`.
    KeepAlive,
    /// `-`: the connection is closed after this response.
    Close,
}

/// What the request pipeline knows about one finished request. Every field
/// says what lighttpd 1.4.69 prints from it, as observed with the binary.
/// Strings are escaped when rendered; an empty string prints `-` only where
/// the field says so.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// `%h`, `%a`: the client address, IPv6 without brackets (`::1`), after
    /// mod_extforward; for a unix-socket listener, the socket's path.
    pub remote_addr: &'a str,
    /// `%{remote}p`: the client port; 0 on a unix socket.
    pub remote_port: u16,
    /// `%A`: the listener's configured address, not the connection's local
    /// address: `127.0.0.1`, `0.0.0.0` for a wildcard bind, IPv6 in
    /// brackets (`[::1]`, `[::]`), the path for a unix socket.
    pub local_addr: &'a str,
    /// `%p`, `%{local}p`, `%{canonical}p`: the listener's port; `None`
    /// (prints nothing) for a unix socket.
    pub local_port: Option<u16>,
    /// `%u`: the authenticated user; `None` (or empty) prints `-`.
    pub remote_user: Option<&'a [u8]>,
    /// `%{begin:…}t`: when the first byte of this request was read (for a
    /// keep-alive connection, of this request, not the connection).
    /// `%T`/`%D` are `end - start`.
    pub start: SystemTime,
    /// `%t`, `%{…}t`, `%{end:…}t`: when the response was completely
    /// written, or the request was aborted. (lighttpd's `%t` and `%T` come
    /// from a once-a-second clock and can lag by a second; wick is exact.)
    pub end: SystemTime,
    /// `%m`, and the first part of `%r`: the method as received; lighttpd
    /// prints an empty string for a method it does not know (those
    /// requests get 501) and for a request line it could not parse.
    pub method: &'a [u8],
    /// The middle of `%r`: the request target as received (not
    /// normalised: `/a/../b`, `%7e`, spaces stay as sent), except that an
    /// absolute-form target loses its scheme and authority
    /// (`http://h/x?y` → `/x?y`). Empty for a request line lighttpd could
    /// not parse. `%r` is `method target protocol`, with single spaces,
    /// even when all three are empty (`"  "`).
    pub target: &'a [u8],
    /// `%H`, and the end of `%r`: `HTTP/1.0`, `HTTP/1.1`, `HTTP/2.0`;
    /// empty when the request line could not be parsed.
    pub protocol: &'a [u8],
    /// `%U`: the path of the normalised target, still percent-encoded the
    /// way lighttpd normalises it (`server.http-parseopts`): `/a/../b` →
    /// `/b`, `%7e` → `~`, `%2f` → `/` (default), `%3f` → `%3F`, a space or
    /// `"` or a byte ≥ 0x80 → `%20`, `%22`, `%C3`. Empty when none.
    pub uri_path: &'a [u8],
    /// `%q`: the normalised query after `?` (`x=%20%22y` for `x=%20"y`);
    /// empty (printed as nothing, not `-`) when there is none.
    pub query: &'a [u8],
    /// `%s`, `%>s`, `%<s`: the final status sent.
    pub status: u16,
    /// `%I`: bytes read from the client for this request: request line and
    /// header block with its CRLFs, plus the body as it came over the wire
    /// (chunk framing included) but only the part actually read — a static
    /// file response does not read the body, a proxied request does.
    /// 0 prints `-`.
    pub bytes_in: u64,
    /// `%O`: bytes written to the client for this response, status line and
    /// headers included; only what was really written (an aborted download
    /// counts what went out). 0 prints `-`.
    pub bytes_out: u64,
    /// `%b`, `%B`: `bytes_out` minus the response header block, i.e. the
    /// body bytes written (chunk framing included). Printed as a number,
    /// also `0` (HEAD, 301, 304); `-` only when `bytes_out` is 0.
    pub body_out: u64,
    /// `%{Name}i`: the request headers. Repeated headers print joined with
    /// `, ` (Cookie with `; `), empty values skipped, `-` when absent or
    /// empty. `%{Host}i` prints `host` when that is not empty (lighttpd
    /// replaces the Host header by the normalised authority).
    pub request_headers: &'a http::HeaderMap,
    /// `%{Name}o`: the response headers as the pipeline set them. lighttpd
    /// adds its own `Date` and `Server` only when writing the head, so they
    /// print `-` unless a backend sent them: leave them out of this map
    /// unless they came from the backend. A repeated header prints
    /// `first\r\nName: second` (escaped; lighttpd keeps the backend's name
    /// spelling, wick uses `Title-Case`).
    pub response_headers: &'a http::HeaderMap,
    /// `%V`: the normalised authority (lower case, `:80` dropped for http
    /// and `:443` for https, other ports kept, `[::1]` bracketed); from the
    /// absolute-form target when there is one; empty (prints `-`) without
    /// a Host or when the request was refused before it was parsed.
    pub host: &'a [u8],
    /// `%v`: the effective `server.name` for this request, empty when not
    /// set; then `%v` prints `host`, or `-`.
    pub server_name: &'a [u8],
    /// `%f`: the physical path (document root + decoded path, after
    /// alias), as computed for the request, also for proxied requests;
    /// `None` prints `-` (lighttpd clears it for a static-file 404 and
    /// never sets it for a request refused before routing).
    pub physical_path: Option<&'a [u8]>,
    /// `%{VAR}e`: the request environment from `setenv.set-environment`.
    /// lighttpd fills it only for requests that go to a CGI/FastCGI/SCGI
    /// backend; for static files and mod_proxy `%e` prints `-`. Exact,
    /// case-sensitive names; the first match wins; empty prints `-`.
    pub env: &'a [(BString, BString)],
    /// `%k`: how many requests this connection served before this one (0
    /// for the first).
    pub keepalive_count: u32,
    /// `%X`.
    pub conn_status: ConnStatus,
}

/// Why the access log could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AccessLogError {
    /// `accesslog.format` was refused.
    #[error("invalid accesslog.format \"{format}\": {source}")]
    Format {
        /// The format as configured.
        format: BString,
        /// What is wrong.
        #[source]
        source: FormatError,
    },
    /// The log file could not be opened (lighttpd refuses to start).
    #[error("opening log '{}' failed: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The `|command` could not be started.
    #[error("cannot start the access log command `{command}`: {source}")]
    Spawn {
        /// The text after `|`.
        command: BString,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Reopening on SIGHUP failed; the old file stays in use.
    #[error("error cycling log {}: {source}", path.display())]
    Reopen {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the access log writer thread: {source}")]
    Thread {
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The `accesslog.*` values one config block sets (`None`: not set there).
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockKeys<'a> {
    /// `accesslog.filename`.
    pub filename: Option<&'a [u8]>,
    /// `accesslog.format`, as the config parser produced it.
    pub format: Option<&'a [u8]>,
    /// `accesslog.use-syslog`.
    pub use_syslog: Option<bool>,
    /// `accesslog.syslog-level` (a syslog priority, passed to syslog(3)
    /// unchanged; lighttpd reads it as a short).
    pub syslog_level: Option<i32>,
    /// `accesslog.escaping`.
    pub escaping: Option<&'a [u8]>,
}

/// One block's compiled `accesslog.*` settings; `None` fields are not set
/// by the block and keep the value merged so far.
#[derive(Debug, Clone, Default)]
pub struct BlockSettings {
    /// `accesslog.format`.
    pub format: Option<Arc<Format>>,
    /// `accesslog.filename`: `Some(None)` for `""` (no file).
    pub file: Option<Option<Sink>>,
    /// `accesslog.use-syslog`: `Some(Some(_))` enabled, `Some(None)`
    /// disabled.
    pub syslog: Option<Option<Sink>>,
    /// `accesslog.syslog-level`.
    pub syslog_level: Option<i32>,
    /// `accesslog.escaping`.
    pub escaping: Option<Escaping>,
}

/// Compiles one block's `accesslog.*` values, opening its file or command
/// through `registry` (shared with other blocks naming the same file).
/// Call at config load, before privileges are dropped; an error means the
/// configuration is refused, as lighttpd refuses to start.
pub fn compile(
    keys: &BlockKeys<'_>,
    registry: &mut SinkRegistry,
) -> Result<BlockSettings, AccessLogError> {
    let format = match keys.format {
        Some(text) => Some(Arc::new(Format::parse(text).map_err(|source| {
            AccessLogError::Format {
                format: text.into(),
                source,
            }
        })?)),
        None => None,
    };
    let syslog = match keys.use_syslog {
        Some(true) => Some(Some(registry.open(&Target::Syslog)?)),
        Some(false) => Some(None),
        None => None,
    };
    let file = match keys.filename {
        // lighttpd does not open the file of a block that enables syslog.
        Some(_) if keys.use_syslog == Some(true) => Some(None),
        Some(name) => match Target::from_filename(name) {
            Some(target) => Some(Some(registry.open(&target)?)),
            None => Some(None),
        },
        None => None,
    };
    Ok(BlockSettings {
        format,
        file,
        syslog,
        syslog_level: keys.syslog_level,
        escaping: keys.escaping.map(Escaping::from_config),
    })
}

/// The access log settings in effect for one request (the global block's,
/// then each matching conditional block's applied in order).
#[derive(Debug, Clone)]
pub struct AccessLog {
    /// `accesslog.format` (default: [`DEFAULT_FORMAT`]).
    pub format: Arc<Format>,
    /// `accesslog.filename`'s sink.
    pub file: Option<Sink>,
    /// The syslog sink when `accesslog.use-syslog` is enabled.
    pub syslog: Option<Sink>,
    /// `accesslog.syslog-level`.
    pub syslog_level: i32,
    /// `accesslog.escaping`.
    pub escaping: Escaping,
}

impl Default for AccessLog {
    fn default() -> Self {
        AccessLog {
            format: Arc::new(Format::default()),
            file: None,
            syslog: None,
            syslog_level: DEFAULT_SYSLOG_LEVEL,
            escaping: Escaping::Default,
        }
    }
}

thread_local! {
    /// The line being rendered, reused per thread.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
}

impl AccessLog {
    /// Applies the settings a block sets.
    pub fn apply(&mut self, block: &BlockSettings) {
        if let Some(format) = &block.format {
            self.format = Arc::clone(format);
        }
        if let Some(file) = &block.file {
            self.file.clone_from(file);
        }
        if let Some(syslog) = &block.syslog {
            self.syslog.clone_from(syslog);
        }
        if let Some(level) = block.syslog_level {
            self.syslog_level = level;
        }
        if let Some(escaping) = block.escaping {
            self.escaping = escaping;
        }
    }

    /// Where this request's line goes: syslog when enabled, else the file.
    pub fn sink(&self) -> Option<&Sink> {
        self.syslog.as_ref().or(self.file.as_ref())
    }

    /// Whether a line will be written (build no [`Record`] otherwise).
    pub fn is_enabled(&self) -> bool {
        self.sink().is_some()
    }

    /// Renders and queues the line for `rec`. Never blocks on I/O.
    pub fn log(&self, rec: &Record<'_>) {
        let Some(sink) = self.sink() else {
            return;
        };
        LINE.with(|line| {
            let Ok(mut line) = line.try_borrow_mut() else {
                return;
            };
            line.clear();
            self.format.render_escaped(rec, self.escaping, &mut line);
            sink.write(self.syslog_level, &line);
            if line.capacity() > 64 * 1024 {
                line.shrink_to(512);
            }
        });
    }
}

#[cfg(test)]
mod tests;
