//! `<module>.server` values: the extension → host list of
//! `proxy.server`, `wstunnel.server` (and later FastCGI/SCGI), parsed and
//! validated as lighttpd's `gw_set_defaults_backend` does
//! (spec backend-manager.md §2–§3).

use std::ffi::OsString;
use std::net::IpAddr;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use bstr::{BString, ByteSlice};

use crate::config::Diagnostic;
use crate::config::keys;
use crate::config::source::Span;
use crate::config::value::{Array, Entry, Value, show};

/// Longest unix socket path lighttpd accepts (before the `-N` suffix).
pub const MAX_SOCKET_PATH: usize = 105;

/// Where a host's backend listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostAddr {
    /// TCP; the name is resolved once at start-up.
    Tcp {
        /// The address (after resolution).
        ip: IpAddr,
        /// The port (proc N of a bin-path host uses `port + N`).
        port: u16,
    },
    /// A unix stream socket (proc N of a bin-path host uses `path-N`).
    Unix(PathBuf),
}

impl HostAddr {
    /// `tcp:<ip>:<port>` / `unix:<path>`, as lighttpd names connections.
    pub fn describe(&self) -> String {
        match self {
            HostAddr::Tcp { ip, port } => format!("tcp:{ip}:{port}"),
            HostAddr::Unix(p) => format!("unix:{}", p.display()),
        }
    }

    /// The string lighttpd hashes for `hash` / `sticky` balancing: the
    /// numeric IP, or the socket path.
    pub fn id_string(&self) -> Vec<u8> {
        match self {
            HostAddr::Tcp { ip, .. } => ip.to_string().into_bytes(),
            HostAddr::Unix(p) => p.as_os_str().as_encoded_bytes().to_vec(),
        }
    }

    /// The port (0 for unix sockets).
    pub fn port(&self) -> u16 {
        match self {
            HostAddr::Tcp { port, .. } => *port,
            HostAddr::Unix(_) => 0,
        }
    }
}

/// How to start a `bin-path` backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinConfig {
    /// `bin-path` split on blanks (no quoting, no shell).
    pub argv: Vec<OsString>,
    /// `bin-environment`, in order.
    pub env: Vec<(OsString, OsString)>,
    /// `bin-copy-environment`: when non-empty, the child starts from only these.
    pub copy_env: Vec<OsString>,
    /// `min-procs` (clamped to `max-procs`).
    pub min_procs: u16,
    /// `max-procs`.
    pub max_procs: u16,
    /// `max-load-per-proc`.
    pub max_load_per_proc: u16,
    /// `idle-timeout`, seconds.
    pub idle_timeout: u16,
    /// `kill-signal`.
    pub kill_signal: i32,
    /// `listen-backlog`.
    pub listen_backlog: i32,
}

/// One `host` entry of an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// The label (`"label" => ( … )`), empty for unlabelled hosts.
    pub label: BString,
    /// Where it listens.
    pub addr: HostAddr,
    /// The program to spawn, if wick starts the backend.
    pub bin: Option<BinConfig>,
    /// `disable-time`, seconds.
    pub disable_time: u16,
    /// `connect-timeout`, seconds (0: none).
    pub connect_timeout: u32,
    /// `read-timeout`, seconds (0: none).
    pub read_timeout: u32,
    /// `write-timeout`, seconds (0: none).
    pub write_timeout: u32,
    /// `x-sendfile` / `allow-x-send-file`.
    pub x_sendfile: bool,
    /// `x-sendfile-docroot`.
    pub x_sendfile_docroot: Vec<PathBuf>,
    /// `tcp-fin-propagate`.
    pub tcp_fin_propagate: bool,
    /// Where the host was written, for messages.
    pub span: Span,
}

/// One key of `<module>.server`: a URL prefix (`/…`), a suffix, or `""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionConfig {
    /// The key.
    pub key: BString,
    /// Its hosts in configuration order.
    pub hosts: Vec<HostConfig>,
}

/// What the parse found: the extensions, and warnings to log.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Extensions in configuration order.
    pub extensions: Vec<ExtensionConfig>,
    /// Warnings (e.g. option names with `_`).
    pub warnings: Vec<Diagnostic>,
}

fn err(module: &str, at: Span, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(format!("{module}.server: {}", msg.into())).at(at)
}

/// A short (0–65535) option: integers wrap as lighttpd's do; digit strings
/// are read as numbers.
fn short(module: &str, name: &str, e: &Entry) -> Result<u16, Diagnostic> {
    match &e.value {
        Value::Int(i) => Ok(*i as u32 as u16),
        Value::Str(s) => keys::parse_number(s)
            .filter(|n| (0..=65535).contains(n))
            .map(|n| n as u16)
            .ok_or_else(|| {
                err(
                    module,
                    e.span,
                    format!("`{name}` expects a number from 0 to 65535"),
                )
                .label(format!("found \"{}\"", show(s)))
                .lighttpd(format!(
                    "got a string but expected a short: {name} {}",
                    show(s)
                ))
            }),
        Value::Array(_) => Err(err(module, e.span, format!("`{name}` expects a number"))),
    }
}

fn int(module: &str, name: &str, e: &Entry) -> Result<u32, Diagnostic> {
    match &e.value {
        Value::Int(i) => Ok((*i).max(0) as u32),
        Value::Str(s) => keys::parse_number(s)
            .filter(|n| *n >= 0)
            .map(|n| n.min(i64::from(u32::MAX)) as u32)
            .ok_or_else(|| {
                err(
                    module,
                    e.span,
                    format!("`{name}` expects a non-negative number"),
                )
                .label(format!("found \"{}\"", show(s)))
            }),
        Value::Array(_) => Err(err(module, e.span, format!("`{name}` expects a number"))),
    }
}

fn boolean(module: &str, name: &str, e: &Entry) -> Result<bool, Diagnostic> {
    match &e.value {
        Value::Int(i) => Ok(*i != 0),
        Value::Str(s) => keys::parse_bool(s).ok_or_else(|| {
            err(
                module,
                e.span,
                format!("`{name}` expects \"enable\" or \"disable\""),
            )
            .label(format!("found \"{}\"", show(s)))
        }),
        Value::Array(_) => Err(err(
            module,
            e.span,
            format!("`{name}` expects \"enable\" or \"disable\""),
        )),
    }
}

fn string(module: &str, name: &str, e: &Entry) -> Result<BString, Diagnostic> {
    match &e.value {
        Value::Str(s) => Ok(s.clone()),
        Value::Int(i) => Ok(BString::from(i.to_string())),
        Value::Array(_) => Err(err(module, e.span, format!("`{name}` expects a string"))),
    }
}

fn string_list(module: &str, name: &str, e: &Entry) -> Result<Vec<BString>, Diagnostic> {
    match &e.value {
        Value::Array(a) => a
            .entries()
            .iter()
            .map(|x| match &x.value {
                Value::Str(s) => Ok(s.clone()),
                _ => Err(err(
                    module,
                    x.span,
                    format!("`{name}` expects a list of strings"),
                )),
            })
            .collect(),
        Value::Str(s) => Ok(vec![s.clone()]),
        Value::Int(_) => Err(err(
            module,
            e.span,
            format!("`{name}` expects a list of strings"),
        )),
    }
}

/// The shape lighttpd expects, for messages.
const SHAPE: &str = "( \"ext\" => ( \"backend-label\" => ( \"key\" => \"value\" )))";

/// Parses `<module>.server` (`module` is `proxy`, `wstunnel` …).
/// `resolve` turns a host name into an address (start-up only).
pub fn parse(
    module: &str,
    entry: &Entry,
    resolve: &dyn Fn(&str) -> Result<IpAddr, String>,
) -> Result<Parsed, Vec<Diagnostic>> {
    let mut out = Parsed::default();
    let mut errors = Vec::new();
    let Value::Array(exts) = &entry.value else {
        return Err(vec![
            err(module, entry.span, "expected a list of extensions")
                .help(format!("write {module}.server = {SHAPE}")),
        ]);
    };
    for ext in exts.entries() {
        let key = ext.key.clone().unwrap_or_default();
        let Value::Array(hosts) = &ext.value else {
            errors.push(shape_error(module, ext));
            continue;
        };
        let mut ext_cfg = ExtensionConfig {
            key,
            hosts: Vec::new(),
        };
        for h in hosts.entries() {
            let Value::Array(opts) = &h.value else {
                errors.push(shape_error(module, h));
                continue;
            };
            if !opts.entries().iter().all(|o| o.key.is_some()) {
                errors.push(shape_error(module, h));
                continue;
            }
            match host(
                module,
                h.key.clone().unwrap_or_default(),
                opts,
                h.span,
                resolve,
                &mut out.warnings,
            ) {
                Ok(hc) => ext_cfg.hosts.push(hc),
                Err(d) => errors.push(d),
            }
        }
        out.extensions.push(ext_cfg);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        errors.append(&mut out.warnings);
        Err(errors)
    }
}

fn shape_error(module: &str, e: &Entry) -> Diagnostic {
    err(module, e.span, "unexpected value")
        .label("expected a list of hosts, each a list of options")
        .help(format!("write {module}.server = {SHAPE}"))
        .lighttpd(format!(
            "unexpected value for gw.server near [{}]; expected {SHAPE}",
            show(e.key.as_deref().map_or(&b""[..], |k| k.as_slice()))
        ))
}

fn host(
    module: &str,
    label: BString,
    opts: &Array,
    span: Span,
    resolve: &dyn Fn(&str) -> Result<IpAddr, String>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<HostConfig, Diagnostic> {
    let mut host: Option<BString> = None;
    let mut port: Option<u16> = None;
    let mut socket: Option<BString> = None;
    let mut bin_path: Option<BString> = None;
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    let mut copy_env: Vec<OsString> = Vec::new();
    let (mut min_procs, mut max_procs, mut max_load) = (4u16, 4u16, 1u16);
    let (mut idle_timeout, mut disable_time) = (60u16, 1u16);
    let mut kill_signal = libc::SIGTERM;
    let mut listen_backlog = 1024i32;
    let (mut connect_timeout, mut read_timeout, mut write_timeout) = (8u32, 0u32, 0u32);
    let mut x_sendfile = false;
    let mut x_sendfile_docroot = Vec::new();
    let mut tcp_fin_propagate = false;
    for o in opts.entries() {
        let Some(name) = o.key.as_ref() else { continue };
        let name_s = show(name).to_ascii_lowercase();
        match name_s.as_str() {
            "host" => host = Some(string(module, "host", o)?),
            "port" => port = Some(short(module, "port", o)?),
            "socket" => socket = Some(string(module, "socket", o)?),
            "bin-path" => bin_path = Some(string(module, "bin-path", o)?),
            "bin-environment" => {
                let Value::Array(a) = &o.value else {
                    return Err(err(
                        module,
                        o.span,
                        "`bin-environment` expects \"NAME\" => \"value\" entries",
                    ));
                };
                for kv in a.entries() {
                    match (&kv.key, &kv.value) {
                        (Some(k), Value::Str(v)) => env.push((
                            OsString::from_vec(k.to_vec()),
                            OsString::from_vec(v.to_vec()),
                        )),
                        _ => {
                            return Err(err(
                                module,
                                kv.span,
                                "`bin-environment` expects \"NAME\" => \"value\" entries",
                            ));
                        }
                    }
                }
            }
            "bin-copy-environment" => {
                copy_env = string_list(module, "bin-copy-environment", o)?
                    .into_iter()
                    .map(|s| OsString::from_vec(s.into()))
                    .collect();
            }
            "min-procs" => min_procs = short(module, "min-procs", o)?,
            "max-procs" => max_procs = short(module, "max-procs", o)?,
            "max-load-per-proc" => max_load = short(module, "max-load-per-proc", o)?,
            "idle-timeout" => idle_timeout = short(module, "idle-timeout", o)?,
            "disable-time" => disable_time = short(module, "disable-time", o)?,
            "kill-signal" => kill_signal = i32::from(short(module, "kill-signal", o)?),
            "listen-backlog" => listen_backlog = int(module, "listen-backlog", o)? as i32,
            "connect-timeout" => connect_timeout = int(module, "connect-timeout", o)?,
            "read-timeout" => read_timeout = int(module, "read-timeout", o)?,
            "write-timeout" => write_timeout = int(module, "write-timeout", o)?,
            "x-sendfile" | "allow-x-send-file" => x_sendfile = boolean(module, &name_s, o)?,
            "x-sendfile-docroot" => {
                for d in string_list(module, "x-sendfile-docroot", o)? {
                    if !d.starts_with(b"/") {
                        return Err(err(
                            module,
                            o.span,
                            "`x-sendfile-docroot` paths must be absolute",
                        )
                        .label(format!("`{}`", show(&d))));
                    }
                    x_sendfile_docroot.push(PathBuf::from(OsString::from_vec(d.into())));
                }
            }
            "tcp-fin-propagate" => tcp_fin_propagate = boolean(module, "tcp-fin-propagate", o)?,
            "mode" => {
                let m = string(module, "mode", o)?;
                match m.as_slice() {
                    b"authorizer" => {
                        return Err(err(module, o.span, "hosts cannot be authorizers here")
                            .lighttpd(format!(
                                "{module}.server must not define any hosts with attribute \"mode\" = \"authorizer\""
                            )));
                    }
                    b"responder" => {}
                    other => warnings.push(
                        Diagnostic::warning(format!(
                            "unknown gw mode `{}` (ignored, responder used)",
                            other.as_bstr()
                        ))
                        .at(o.span),
                    ),
                }
            }
            "check-local"
            | "docroot"
            | "strip-request-uri"
            | "fix-root-scriptname"
            | "broken-scriptfilename"
            | "fix-broken-scriptfilename" => {}
            other if other.contains('_') => warnings.push(
                Diagnostic::warning(format!(
                    "`{other}` contains `_` instead of `-`; the option is ignored"
                ))
                .at(o.key_span)
                .help(format!("did you mean `{}`?", other.replace('_', "-")))
                .lighttpd(format!(
                    "incorrect directive contains underscore ('_') instead of dash ('-'): {other}"
                )),
            ),
            // lighttpd ignores unknown option names without a word; we warn.
            other => warnings.push(
                Diagnostic::warning(format!(
                    "unknown {module}.server option `{other}` (ignored)"
                ))
                .at(o.key_span),
            ),
        }
    }
    let addr = if let Some(s) = socket {
        if host.is_some() || port.is_some() {
            return Err(err(
                module,
                span,
                "either host/port or socket have to be set, not both",
            )
            .lighttpd("either host/port or socket have to be set in: …"));
        }
        unix_addr(module, &s, span)?
    } else {
        match (&host, &bin_path) {
            (Some(h), _) if h.starts_with(b"/") && port.is_none() => unix_addr(module, h, span)?,
            (Some(h), _) => {
                let name = show(h);
                let ip = match name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                {
                    Ok(ip) => ip,
                    Err(_) => resolve(&name).map_err(|e| {
                        err(module, span, format!("cannot resolve `{name}`: {e}"))
                            .lighttpd(format!("getaddrinfo failed: {e}"))
                    })?,
                };
                HostAddr::Tcp {
                    ip,
                    port: port.unwrap_or(80),
                }
            }
            (None, Some(_)) => HostAddr::Tcp {
                ip: IpAddr::from([127, 0, 0, 1]),
                port: port.unwrap_or(80),
            },
            (None, None) => {
                return Err(
                    err(module, span, "a host needs `host`, `socket` or `bin-path`")
                        .lighttpd("host or bin-path have to be set in: …"),
                );
            }
        }
    };
    let bin = match bin_path {
        None => None,
        Some(p) => {
            let argv: Vec<OsString> = p
                .split(|b| *b == b' ' || *b == b'\t')
                .filter(|a| !a.is_empty())
                .map(|a| OsString::from_vec(a.to_vec()))
                .collect();
            if argv.is_empty() {
                return Err(err(module, span, "`bin-path` is empty"));
            }
            Some(BinConfig {
                argv,
                env,
                copy_env,
                min_procs: min_procs.min(max_procs),
                max_procs,
                max_load_per_proc: max_load,
                idle_timeout,
                kill_signal,
                listen_backlog,
            })
        }
    };
    Ok(HostConfig {
        label,
        addr,
        bin,
        disable_time,
        connect_timeout,
        read_timeout,
        write_timeout,
        x_sendfile,
        x_sendfile_docroot,
        tcp_fin_propagate,
        span,
    })
}

fn unix_addr(module: &str, path: &[u8], span: Span) -> Result<HostAddr, Diagnostic> {
    if path.len() > MAX_SOCKET_PATH {
        return Err(err(
            module,
            span,
            format!("unix socket path longer than {MAX_SOCKET_PATH} bytes"),
        )
        .lighttpd("unixsocket is too long in: …"));
    }
    Ok(HostAddr::Unix(PathBuf::from(OsString::from_vec(
        path.to_vec(),
    ))))
}

#[cfg(test)]
mod tests;

/// The warning lighttpd's `-tt` gives for a `bin-path` that is not an
/// executable regular file (a real start then fails to spawn it).
pub fn check_bin_path(prog: &std::ffi::OsStr, span: Span) -> Option<Diagnostic> {
    use std::os::unix::fs::PermissionsExt;
    let ok = std::fs::metadata(prog)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    (!ok).then(|| {
        Diagnostic::warning(format!(
            "bin-path `{}` is not an executable regular file; starting will fail",
            prog.to_string_lossy()
        ))
        .at(span)
        .lighttpd(format!(
            "invalid \"bin-path\" => \"{}\" (check that file exists, is regular file, and is executable by lighttpd)",
            prog.to_string_lossy()
        ))
    })
}
