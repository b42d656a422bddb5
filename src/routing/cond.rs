//! Compiled conditions and their evaluation per request (lighttpd:
//! `config_check_cond_nocache` in `configfile-glue.c`).
//!
//! Each condition is compiled once: regexes built, addresses and networks
//! parsed, host values normalised. At request time a condition reads one
//! field of the request and answers true or false; negated operators are
//! the negation of their positive twin.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bstr::{BString, ByteSlice};
use http::HeaderMap;

use crate::config::ast::CondOp;
use crate::config::cond::{Field, RemoteAddr, parse_remote_addr};
use crate::config::pattern::{Pattern, Patterns};
use crate::config::tree::BlockCond;

/// How a compiled condition tests its field.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// `==` / `!=` on bytes.
    Equal(BString),
    /// `==` / `!=` on `$HTTP["host"]`: also equal when one side is the
    /// other plus `:port`.
    HostEqual(BString),
    /// `==` / `!=` on `$HTTP["remoteip"]`: a network.
    Network(RemoteAddr),
    /// `==` / `!=` on `$SERVER["socket"]`: the listener's token or address.
    Socket(BString),
    /// `=^` (and the `!^` of a plain else).
    Prefix(BString),
    /// `=$` (and the `!$` of a plain else).
    Suffix(BString),
    /// `=~` / `!~` (shared between conditions with the same pattern).
    Regex(std::sync::Arc<Pattern>),
}

/// A condition ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledCond {
    /// What it reads.
    pub field: Field,
    /// How it tests it.
    pub matcher: Matcher,
    /// True for `!=`, `!~`, `!^`, `!$`.
    pub negated: bool,
}

/// Why a condition could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CondError {
    /// The regex did not compile (checked at load already).
    #[error("{0}")]
    Regex(String),
    /// The remote address did not parse (checked at load already).
    #[error("invalid address `{0}`")]
    Address(BString),
}

impl CompiledCond {
    /// Compiles a condition of the evaluated configuration; `patterns`
    /// holds the regexes compiled so far, so each distinct pattern is
    /// compiled once.
    pub fn compile(c: &BlockCond, patterns: &mut Patterns) -> Result<CompiledCond, CondError> {
        let negated = matches!(
            c.op,
            CondOp::Ne | CondOp::NoMatch | CondOp::NotPrefix | CondOp::NotSuffix
        );
        let v = c.value.clone();
        let matcher = match c.op {
            CondOp::Eq | CondOp::Ne => match &c.field {
                Field::Host => Matcher::HostEqual(v),
                Field::RemoteIp => Matcher::Network(
                    parse_remote_addr(&c.value).map_err(|_| CondError::Address(c.value.clone()))?,
                ),
                Field::ServerSocket => Matcher::Socket(v),
                _ => Matcher::Equal(v),
            },
            CondOp::Prefix | CondOp::NotPrefix => Matcher::Prefix(v),
            CondOp::Suffix | CondOp::NotSuffix => Matcher::Suffix(v),
            CondOp::Match | CondOp::NoMatch => Matcher::Regex(
                patterns
                    .condition(&c.value)
                    .map_err(|e| CondError::Regex(e.to_string()))?,
            ),
        };
        Ok(CompiledCond {
            field: c.field.clone(),
            matcher,
            negated,
        })
    }

    /// True when the condition holds for `input`.
    pub fn matches(&self, input: &CondInput<'_>) -> bool {
        let positive = match &self.matcher {
            Matcher::Network(net) => network_contains(net, input.remote),
            Matcher::Socket(v) => input.socket.matches(v),
            Matcher::HostEqual(v) => host_equal(input.host, v),
            m => {
                let value = input.field(&self.field);
                match m {
                    Matcher::Equal(v) => value == v.as_slice(),
                    Matcher::Prefix(v) => value.starts_with(v),
                    Matcher::Suffix(v) => value.ends_with(v),
                    Matcher::Regex(p) => p.is_match(value),
                    _ => false,
                }
            }
        };
        positive != self.negated
    }

    /// The groups `%0`–`%9` this condition gives a `url.rewrite*` or
    /// `url.redirect` set in its block: a regex's groups; for `==`, `=^`
    /// and `=$`, `%0` is the value matched. Negated and address
    /// conditions have none.
    pub fn captures(&self, input: &CondInput<'_>) -> Vec<Option<BString>> {
        if self.negated {
            return Vec::new();
        }
        match &self.matcher {
            Matcher::Regex(p) => p.captures(input.field(&self.field)).unwrap_or_default(),
            Matcher::Equal(v) | Matcher::HostEqual(v) | Matcher::Prefix(v) | Matcher::Suffix(v) => {
                vec![Some(v.clone())]
            }
            Matcher::Network(_) | Matcher::Socket(_) => Vec::new(),
        }
    }

    /// True when the field is fixed for a whole connection (socket, client
    /// address, scheme), so the result can be computed once per connection.
    pub fn is_per_connection(&self) -> bool {
        matches!(
            self.field,
            Field::ServerSocket | Field::RemoteIp | Field::Scheme
        )
    }
}

/// `==` on hosts: equal, or equal up to a `:port` (at most 5 digits) on the
/// longer side (lighttpd: `config_check_cond_nocache`, COMP_HTTP_HOST).
fn host_equal(request: &[u8], value: &[u8]) -> bool {
    if request == value {
        return true;
    }
    let (long, short) = if request.len() > value.len() {
        (request, value)
    } else {
        (value, request)
    };
    if !long.starts_with(short) {
        return false;
    }
    let rest = &long[short.len()..];
    rest.len() >= 2
        && rest.len() <= 6
        && rest[0] == b':'
        && rest[1..].iter().all(u8::is_ascii_digit)
}

pub(crate) fn network_contains(net: &RemoteAddr, client: &Client) -> bool {
    match (net, client) {
        (RemoteAddr::Path(p), Client::Unix(path)) => p.as_slice() == path.as_slice(),
        (RemoteAddr::V4(n, bits), Client::Ip(ip)) => match ip {
            IpAddr::V4(a) => v4_in(*a, *n, *bits),
            IpAddr::V6(a) => a.to_ipv4_mapped().is_some_and(|a| v4_in(a, *n, *bits)),
        },
        (RemoteAddr::V6(n, bits), Client::Ip(ip)) => {
            let a = match ip {
                IpAddr::V6(a) => *a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            v6_in(a, *n, *bits)
        }
        _ => false,
    }
}

fn v4_in(a: Ipv4Addr, n: Ipv4Addr, bits: u8) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits.min(32)))
    };
    u32::from(a) & mask == u32::from(n) & mask
}

fn v6_in(a: Ipv6Addr, n: Ipv6Addr, bits: u8) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits.min(128)))
    };
    u128::from(a) & mask == u128::from(n) & mask
}

/// The client of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// A TCP peer.
    Ip(IpAddr),
    /// A peer on a unix socket: the socket's path.
    Unix(BString),
}

impl Client {
    /// The address as `$HTTP["remoteip"]` text (IPv4-mapped shown as IPv4).
    pub fn text(&self) -> BString {
        match self {
            Client::Ip(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => BString::from(v4.to_string()),
                None => BString::from(a.to_string()),
            },
            Client::Ip(a) => BString::from(a.to_string()),
            Client::Unix(p) => p.clone(),
        }
    }
}

/// The listening socket a connection arrived on, for `$SERVER["socket"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketId {
    /// The configured text (`":8080"`, `"127.0.0.1:80"`, a path).
    pub token: BString,
    /// Its port (0 for unix sockets).
    pub port: u16,
    /// Its address, when it is an IP socket bound to one.
    pub ip: Option<IpAddr>,
}

impl SocketId {
    /// True when `$SERVER["socket"] == value` holds for this listener:
    /// the same text, or the same address (`:80` ≡ `0.0.0.0:80`).
    pub fn matches(&self, value: &[u8]) -> bool {
        if self.token.as_slice() == value {
            return true;
        }
        match crate::server::listener::parse_socket_spec(value) {
            Some(spec) => spec.port == self.port && spec.host_matches(self.ip),
            None => false,
        }
    }
}

/// The request fields conditions read.
#[derive(Debug)]
pub struct CondInput<'a> {
    /// Decoded, normalised path.
    pub url: &'a [u8],
    /// Lower-cased authority.
    pub host: &'a [u8],
    /// Raw query string without `?`.
    pub query: &'a [u8],
    /// Request method.
    pub method: &'a [u8],
    /// `http` or `https`.
    pub scheme: &'a [u8],
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The client.
    pub remote: &'a Client,
    /// The client as text.
    pub remote_text: &'a [u8],
    /// The listener.
    pub socket: &'a SocketId,
}

impl CondInput<'_> {
    /// The value of a field (absent headers read as empty).
    pub fn field(&self, f: &Field) -> &[u8] {
        let header = |name: &str| {
            self.headers
                .get(name)
                .map(|v| v.as_bytes())
                .unwrap_or_default()
        };
        match f {
            Field::Url => self.url,
            Field::Host => self.host,
            Field::QueryString => self.query,
            Field::RemoteIp => self.remote_text,
            Field::Scheme => self.scheme,
            Field::RequestMethod => self.method,
            Field::Referer => header("referer"),
            Field::UserAgent => header("user-agent"),
            Field::Cookie => header("cookie"),
            Field::Language => header("accept-language"),
            Field::RequestHeader(name) => match http::HeaderName::from_bytes(name) {
                Ok(n) => self
                    .headers
                    .get(&n)
                    .map(|v| v.as_bytes())
                    .unwrap_or_default(),
                Err(_) => b"",
            },
            Field::ServerSocket => self.socket.token.as_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `==` on hosts ignores a `:port` on either side (lighttpd).
    #[test]
    fn host_equality_tolerates_a_port() {
        assert!(host_equal(b"a.example", b"a.example"));
        assert!(host_equal(b"a.example:8080", b"a.example"));
        assert!(host_equal(b"a.example", b"a.example:80"));
        assert!(!host_equal(b"a.example.org", b"a.example"));
        assert!(!host_equal(b"a.example:123456", b"a.example"));
        assert!(!host_equal(b"a.example:", b"a.example"));
    }

    /// Networks match IPv4, IPv6 and IPv4-mapped clients.
    #[test]
    fn networks() {
        let net = parse_remote_addr(b"10.0.0.0/8").unwrap();
        assert!(network_contains(
            &net,
            &Client::Ip("10.1.2.3".parse().unwrap())
        ));
        assert!(network_contains(
            &net,
            &Client::Ip("::ffff:10.1.2.3".parse().unwrap())
        ));
        assert!(!network_contains(
            &net,
            &Client::Ip("11.0.0.1".parse().unwrap())
        ));
        let all = parse_remote_addr(b"0.0.0.0/0").unwrap();
        assert!(network_contains(
            &all,
            &Client::Ip("192.0.2.1".parse().unwrap())
        ));
        let v6 = parse_remote_addr(b"2001:db8::/32").unwrap();
        assert!(network_contains(
            &v6,
            &Client::Ip("2001:db8::1".parse().unwrap())
        ));
        assert!(!network_contains(
            &v6,
            &Client::Ip("2001:db9::1".parse().unwrap())
        ));
        let path = parse_remote_addr(b"/run/x.sock").unwrap();
        assert!(network_contains(&path, &Client::Unix("/run/x.sock".into())));
    }
}
