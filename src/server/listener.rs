//! Listening sockets: which ones a configuration asks for, binding them with
//! socket2, and taking over sockets handed in by systemd-style socket
//! activation (lighttpd: `network.c`, `network_socket_activation_*`).
//!
//! The main socket comes from `server.bind` / `server.port`; every
//! `$SERVER["socket"] == "…"` block, at any depth, adds one (`!=` and `=~`
//! only test). Inherited sockets (`LISTEN_FDS`, with `LISTEN_PID` equal to
//! our pid or lighttpd's `parent:<pid>` form naming our parent) are matched
//! to configured ones by address; an inherited socket nothing asks for is
//! served with the top-level settings.

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use bstr::{BString, ByteSlice};
use socket2::{Domain, Socket, Type};

use crate::config::ast::CondOp;
use crate::config::cond::Field;
use crate::config::tree::BlockKind;
use crate::config::value::{Value, show};
use crate::config::{Config, Diagnostic};
use crate::routing::settings::{to_bool, to_number};

/// Host part of a socket specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecHost {
    /// No host: every address (`:80`).
    Any,
    /// An IP address.
    Ip(IpAddr),
    /// A name to resolve.
    Name(String),
}

/// A parsed socket text (`":80"`, `"127.0.0.1:8080"`, `"[::]:443"`, a path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSpec {
    /// Host, for IP sockets.
    pub host: SpecHost,
    /// Port (0: ask the kernel for one).
    pub port: u16,
    /// Path, for unix sockets.
    pub unix: Option<PathBuf>,
}

impl SocketSpec {
    /// True when a listener bound to `ip` (`None`: unix) has this spec's host.
    pub fn host_matches(&self, ip: Option<IpAddr>) -> bool {
        match (&self.host, ip) {
            (SpecHost::Any, Some(a)) => a.is_unspecified(),
            (SpecHost::Ip(h), Some(a)) => *h == a,
            _ => false,
        }
    }
}

/// Parses a socket text; the port defaults to `default_port` when absent.
pub fn parse_socket_spec_with(value: &[u8], default_port: u16) -> Option<SocketSpec> {
    if value.first() == Some(&b'/') {
        return Some(SocketSpec {
            host: SpecHost::Any,
            port: 0,
            unix: Some(PathBuf::from(OsStr::from_bytes(value))),
        });
    }
    let text = value.to_str().ok()?;
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let close = rest.find(']')?;
        let ip: Ipv6Addr = rest[..close].split('%').next()?.parse().ok()?;
        let port = match rest[close + 1..].strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if rest[close + 1..].is_empty() => default_port,
            None => return None,
        };
        (SpecHost::Ip(IpAddr::V6(ip)), port)
    } else {
        let (h, p) = match text.rfind(':') {
            Some(i) => (&text[..i], text[i + 1..].parse().ok()?),
            None => (text, default_port),
        };
        let host = if h.is_empty() {
            SpecHost::Any
        } else if let Ok(ip) = h.parse::<Ipv4Addr>() {
            SpecHost::Ip(IpAddr::V4(ip))
        } else {
            SpecHost::Name(h.to_string())
        };
        (host, p)
    };
    Some(SocketSpec {
        host,
        port,
        unix: None,
    })
}

/// Parses a socket text whose port is required (conditions).
pub fn parse_socket_spec(value: &[u8]) -> Option<SocketSpec> {
    parse_socket_spec_with(value, 80)
}

/// One listener the configuration asks for.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// The text `$SERVER["socket"]` conditions compare with.
    pub token: BString,
    /// Where to listen.
    pub spec: SocketSpec,
    /// `server.listen-backlog`.
    pub backlog: i32,
    /// `server.use-ipv6`: listen on `[::]` when no host is given.
    pub use_ipv6: bool,
    /// `server.set-v6only`.
    pub v6only: bool,
    /// `server.socket-perms` for unix sockets.
    pub socket_perms: Option<u32>,
}

fn top_value<'a>(config: &'a Config, key: &str) -> Option<&'a Value> {
    config.top().entries.get(key.as_bytes()).map(|e| &e.value)
}

/// The listeners a configuration asks for, in configuration order.
pub fn listeners(config: &Config) -> Result<Vec<ListenerConfig>, Diagnostic> {
    let port = top_value(config, "server.port").map_or(80, to_number);
    let port = u16::try_from(port)
        .map_err(|_| Diagnostic::error(format!("server.port {port} is out of range")))?;
    let top_socket_opts = |key: &str| top_value(config, key);
    let backlog = top_socket_opts("server.listen-backlog").map_or(1024, |v| to_number(v) as i32);
    let use_ipv6 = top_socket_opts("server.use-ipv6").is_some_and(to_bool);
    let v6only = top_socket_opts("server.set-v6only").is_none_or(to_bool);
    let perms = top_socket_opts("server.socket-perms").and_then(parse_perms);
    let mut out = Vec::new();
    let bind = top_value(config, "server.bind").and_then(|v| v.as_str().cloned());
    let (token, spec) = match &bind {
        Some(b) if b.first() == Some(&b'/') => (
            b.clone(),
            SocketSpec {
                host: SpecHost::Any,
                port: 0,
                unix: Some(PathBuf::from(OsStr::from_bytes(b))),
            },
        ),
        Some(b) => {
            let text = show(b);
            let bare = text.trim_start_matches('[').trim_end_matches(']');
            let host = match bare.parse::<IpAddr>() {
                Ok(ip) => SpecHost::Ip(ip),
                Err(_) => SpecHost::Name(bare.to_string()),
            };
            let token = match host {
                SpecHost::Ip(IpAddr::V6(_)) => format!("[{bare}]:{port}"),
                _ => format!("{bare}:{port}"),
            };
            (
                BString::from(token),
                SocketSpec {
                    host,
                    port,
                    unix: None,
                },
            )
        }
        None => (
            BString::from(format!(":{port}")),
            SocketSpec {
                host: SpecHost::Any,
                port,
                unix: None,
            },
        ),
    };
    out.push(ListenerConfig {
        token,
        spec,
        backlog,
        use_ipv6,
        v6only,
        socket_perms: perms,
    });
    for b in &config.blocks {
        let Some(c) = &b.cond else { continue };
        if b.kind != BlockKind::Cond || c.field != Field::ServerSocket || c.op != CondOp::Eq {
            continue;
        }
        let Some(spec) = parse_socket_spec_with(&c.value, port) else {
            return Err(
                Diagnostic::error(format!("cannot listen on `{}`", show(&c.value)))
                    .at(c.value_span)
                    .help("write :port, host:port, [IPv6]:port or a socket path"),
            );
        };
        let local = |key: &str| b.entries.get(key.as_bytes()).map(|e| &e.value);
        let l = ListenerConfig {
            token: c.value.clone(),
            spec,
            backlog: local("server.listen-backlog").map_or(backlog, |v| to_number(v) as i32),
            use_ipv6: local("server.use-ipv6").map_or(use_ipv6, to_bool),
            v6only: local("server.set-v6only").map_or(v6only, to_bool),
            socket_perms: local("server.socket-perms").and_then(parse_perms).or(perms),
        };
        if !out.iter().any(|o: &ListenerConfig| o.spec == l.spec) {
            out.push(l);
        }
    }
    Ok(out)
}

fn parse_perms(v: &Value) -> Option<u32> {
    let s = v.as_str()?;
    u32::from_str_radix(s.to_str().ok()?.trim_start_matches("0o"), 8).ok()
}

/// A bound socket, ready for tokio.
#[derive(Debug)]
pub enum Bound {
    /// TCP.
    Tcp(std::net::TcpListener),
    /// Unix stream socket (with its path, removed on shutdown).
    Unix(std::os::unix::net::UnixListener, PathBuf),
}

impl Bound {
    /// The local address as text, for logs.
    pub fn describe(&self) -> String {
        match self {
            Bound::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "?".into(), |a| a.to_string()),
            Bound::Unix(_, p) => p.display().to_string(),
        }
    }

    /// Another handle on the same listening socket (dup).
    pub fn try_clone(&self) -> std::io::Result<Bound> {
        Ok(match self {
            Bound::Tcp(l) => Bound::Tcp(l.try_clone()?),
            Bound::Unix(l, p) => Bound::Unix(l.try_clone()?, p.clone()),
        })
    }

    /// The IP address and port, for TCP sockets.
    pub fn local_ip(&self) -> Option<SocketAddr> {
        match self {
            Bound::Tcp(l) => l.local_addr().ok(),
            Bound::Unix(..) => None,
        }
    }
}

/// Why a socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The name.
        host: String,
        /// The resolver error.
        #[source]
        source: std::io::Error,
    },
    /// socket/bind/listen failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Binds one configured listener.
pub fn bind(l: &ListenerConfig) -> Result<Bound, ListenError> {
    if let Some(path) = &l.spec.unix {
        let err = |source| ListenError::Bind {
            addr: path.display().to_string(),
            source,
        };
        // A stale socket file from an earlier run is removed, but never one
        // something still accepts on.
        if std::os::unix::net::UnixStream::connect(path).is_err() {
            let _ = std::fs::remove_file(path);
        }
        let listener = std::os::unix::net::UnixListener::bind(path).map_err(err)?;
        listener.set_nonblocking(true).map_err(err)?;
        if let Some(mode) = l.socket_perms {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(err)?;
        }
        return Ok(Bound::Unix(listener, path.clone()));
    }
    let addr = match &l.spec.host {
        SpecHost::Any if l.use_ipv6 => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), l.spec.port)
        }
        SpecHost::Any => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), l.spec.port),
        SpecHost::Ip(ip) => SocketAddr::new(*ip, l.spec.port),
        SpecHost::Name(n) => (n.as_str(), l.spec.port)
            .to_socket_addrs()
            .map_err(|source| ListenError::Resolve {
                host: n.clone(),
                source,
            })?
            .next()
            .ok_or_else(|| ListenError::Resolve {
                host: n.clone(),
                source: std::io::Error::other("no address"),
            })?,
    };
    let err = |source| ListenError::Bind {
        addr: addr.to_string(),
        source,
    };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(err)?;
    socket.set_reuse_address(true).map_err(err)?;
    if addr.is_ipv6() {
        socket.set_only_v6(l.v6only).map_err(err)?;
    }
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    socket.listen(l.backlog.max(1)).map_err(err)?;
    Ok(Bound::Tcp(socket.into()))
}

/// Sockets handed over by the parent (`LISTEN_FDS`), read once at start-up.
#[derive(Debug, Default)]
pub struct Inherited {
    fds: Vec<OwnedFd>,
}

impl Inherited {
    /// Takes the sockets named by `LISTEN_FDS` when `LISTEN_PID` is our pid
    /// or `parent:<pid>` naming our parent (lighttpd's test-suite form).
    pub fn from_env(listen_pid: Option<&OsStr>, listen_fds: Option<&OsStr>) -> Inherited {
        let (Some(pid), Some(n)) = (listen_pid, listen_fds) else {
            return Inherited::default();
        };
        let pid = pid.to_string_lossy();
        let me = std::process::id();
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() } as u32;
        let ours = match pid.strip_prefix("parent:") {
            Some(p) => p.parse::<u32>().ok() == Some(parent),
            None => pid.parse::<u32>().ok() == Some(me),
        };
        let Ok(n) = n.to_string_lossy().parse::<RawFd>() else {
            return Inherited::default();
        };
        if !ours || !(0..=1024).contains(&n) {
            return Inherited::default();
        }
        let fds = (3..3 + n)
            .filter(|fd| {
                // SAFETY: fcntl(F_GETFD) only queries the descriptor.
                let flags = unsafe { libc::fcntl(*fd, libc::F_GETFD) };
                flags >= 0
            })
            .map(|fd| {
                // SAFETY: the parent handed these descriptors to us (LISTEN_FDS
                // protocol); we take ownership exactly once, here.
                unsafe {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                    OwnedFd::from_raw_fd(fd)
                }
            })
            .collect();
        Inherited { fds }
    }

    /// Takes the inherited socket bound where `l` asks, if there is one.
    pub fn take_matching(&mut self, l: &ListenerConfig) -> Option<Bound> {
        let pos = self.fds.iter().position(|fd| {
            let Ok(sock) = fd.try_clone().map(Socket::from) else {
                return false;
            };
            let Ok(local) = sock.local_addr() else {
                return false;
            };
            match (&l.spec.unix, local.as_socket(), local.as_pathname()) {
                (Some(path), _, Some(p)) => p == path,
                (None, Some(a), _) => a.port() == l.spec.port && l.spec.host_matches(Some(a.ip())),
                _ => false,
            }
        })?;
        Some(into_bound(self.fds.remove(pos)))
    }

    /// The inherited sockets nothing asked for.
    pub fn rest(self) -> Vec<Bound> {
        self.fds.into_iter().map(into_bound).collect()
    }
}

fn into_bound(fd: OwnedFd) -> Bound {
    let sock = Socket::from(fd);
    let _ = sock.set_nonblocking(true);
    match sock
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(PathBuf::from))
    {
        Some(path) => Bound::Unix(sock.into(), path),
        None => Bound::Tcp(sock.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The socket texts lighttpd configs use.
    #[test]
    fn socket_specs() {
        let s = parse_socket_spec(b":8080").unwrap();
        assert_eq!((s.host, s.port), (SpecHost::Any, 8080));
        let s = parse_socket_spec(b"127.0.0.1:81").unwrap();
        assert_eq!(s.host, SpecHost::Ip("127.0.0.1".parse().unwrap()));
        let s = parse_socket_spec(b"[::]:443").unwrap();
        assert_eq!((s.host, s.port), (SpecHost::Ip("::".parse().unwrap()), 443));
        let s = parse_socket_spec(b"/run/wick.sock").unwrap();
        assert_eq!(s.unix.unwrap(), PathBuf::from("/run/wick.sock"));
        assert_eq!(
            parse_socket_spec(b"localhost:80").unwrap().host,
            SpecHost::Name("localhost".into())
        );
        assert!(parse_socket_spec(b"x:notaport").is_none());
    }

    /// `:80` names the wildcard listener.
    #[test]
    fn any_host_matches_unspecified_only() {
        let s = parse_socket_spec(b":80").unwrap();
        assert!(s.host_matches(Some("0.0.0.0".parse().unwrap())));
        assert!(s.host_matches(Some("::".parse().unwrap())));
        assert!(!s.host_matches(Some("127.0.0.1".parse().unwrap())));
    }
}
