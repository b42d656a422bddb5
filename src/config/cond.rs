//! Condition headers: which fields exist, how `=~` is simplified, and the
//! value checks lighttpd runs while parsing (`configparser.y`,
//! `config_check_cond_nw`, `http_request_host_policy`).

use std::net::{Ipv4Addr, Ipv6Addr};

use bstr::{BString, ByteSlice};

use super::ast::CondOp;

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `$HTTP["url"]`: the normalised, decoded path.
    Url,
    /// `$HTTP["host"]`: the request authority.
    Host,
    /// `$HTTP["querystring"]` / `["query-string"]`.
    QueryString,
    /// `$HTTP["remoteip"]` / `["remote-ip"]`.
    RemoteIp,
    /// `$HTTP["scheme"]`.
    Scheme,
    /// `$HTTP["request-method"]`.
    RequestMethod,
    /// `$HTTP["referer"]`.
    Referer,
    /// `$HTTP["useragent"]` / `["user-agent"]`.
    UserAgent,
    /// `$HTTP["cookie"]`.
    Cookie,
    /// `$HTTP["language"]` (Accept-Language).
    Language,
    /// `$REQUEST_HEADER["Name"]`: any request header.
    RequestHeader(BString),
    /// `$SERVER["socket"]`: the listening socket.
    ServerSocket,
}

impl Field {
    /// The field for `$NAME["field"]`, if lighttpd 1.4.69 accepts it.
    /// Both parts are case-sensitive.
    pub fn lookup(name: &[u8], field: &[u8]) -> Option<Field> {
        Some(match (name, field) {
            (b"HTTP", b"url") => Field::Url,
            (b"HTTP", b"host") => Field::Host,
            (b"HTTP", b"querystring" | b"query-string") => Field::QueryString,
            (b"HTTP", b"remoteip" | b"remote-ip") => Field::RemoteIp,
            (b"HTTP", b"scheme") => Field::Scheme,
            (b"HTTP", b"request-method") => Field::RequestMethod,
            (b"HTTP", b"referer") => Field::Referer,
            (b"HTTP", b"useragent" | b"user-agent") => Field::UserAgent,
            (b"HTTP", b"cookie") => Field::Cookie,
            (b"HTTP", b"language") => Field::Language,
            (b"REQUEST_HEADER", h) => Field::RequestHeader(BString::from(h)),
            (b"SERVER", b"socket") => Field::ServerSocket,
            _ => return None,
        })
    }
}

/// Every `$NAME["field"]` spelling lighttpd accepts, for suggestions.
pub const FIELD_SPELLINGS: &[&str] = &[
    "$HTTP[\"url\"]",
    "$HTTP[\"host\"]",
    "$HTTP[\"querystring\"]",
    "$HTTP[\"query-string\"]",
    "$HTTP[\"remoteip\"]",
    "$HTTP[\"remote-ip\"]",
    "$HTTP[\"scheme\"]",
    "$HTTP[\"request-method\"]",
    "$HTTP[\"referer\"]",
    "$HTTP[\"useragent\"]",
    "$HTTP[\"user-agent\"]",
    "$HTTP[\"cookie\"]",
    "$HTTP[\"language\"]",
    "$SERVER[\"socket\"]",
];

/// Rewrites a plain anchored `=~` pattern as `==`, `=^` or `=$` (spec §9.4,
/// lighttpd ≥ 1.4.65). Returns `None` when the pattern must stay a regex.
pub fn simplify_regex(pattern: &[u8]) -> Option<(CondOp, BString)> {
    const META: &[u8] = b"\\^$.|?*+()[]{}";
    let (op, value, checked): (CondOp, &[u8], &[u8]) =
        if let Some(body) = pattern.strip_suffix(b"$") {
            if let Some(rest) = body.strip_prefix(b"^") {
                (CondOp::Eq, rest, rest)
            } else if body.starts_with(b"\\.") {
                (CondOp::Suffix, &body[1..], &body[2..])
            } else {
                (CondOp::Suffix, body, body)
            }
        } else if let Some(rest) = pattern.strip_prefix(b"^") {
            (CondOp::Prefix, rest, rest)
        } else {
            return None;
        };
    if checked.iter().any(|b| META.contains(b)) {
        return None;
    }
    Some((op, BString::from(value)))
}

/// C `strtol(s, &end, 0)` that must consume all of `s`: optional leading
/// whitespace and sign, `0x` hex, leading-`0` octal, else decimal.
fn strtol_full(s: &[u8]) -> Option<i64> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let mut negative = false;
    if let Some(&c @ (b'+' | b'-')) = s.get(i) {
        negative = c == b'-';
        i += 1;
    }
    let (radix, start) = if s[i..].len() > 2
        && s[i] == b'0'
        && matches!(s[i + 1], b'x' | b'X')
        && s[i + 2].is_ascii_hexdigit()
    {
        (16, i + 2)
    } else if s.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let digits = &s[start..];
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        let d = (d as char).to_digit(radix)?;
        v = v
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
    }
    Some(if negative { -v } else { v })
}

/// A port as lighttpd reads it in a condition: 1–65535, any C base.
fn valid_port(s: &[u8]) -> bool {
    strtol_full(s).is_some_and(|p| (1..=65535).contains(&p))
}

/// lighttpd's `host[:port]` check for `$HTTP["host"]` and `$SERVER["socket"]`
/// values (spec §9.5). Returns `false` for `invalid IP addr`.
pub fn valid_host_port(v: &[u8]) -> bool {
    if v.first() == Some(&b':') {
        return false;
    }
    let port = if let Some(inner) = v.strip_prefix(b"[") {
        let Some(close) = inner.find_byte(b']') else {
            return false;
        };
        let addr = &inner[..close];
        let addr = addr.split_str("%").next().unwrap_or_default();
        if addr
            .to_str()
            .ok()
            .and_then(|a| a.parse::<Ipv6Addr>().ok())
            .is_none()
        {
            return false;
        }
        match &inner[close + 1..] {
            b"" => return true,
            rest => match rest.strip_prefix(b":") {
                Some(p) => p,
                None => return false,
            },
        }
    } else {
        match v.find_byte(b':') {
            None => return true,
            Some(i) => &v[i + 1..],
        }
    };
    port.is_empty() || valid_port(port)
}

/// A parsed `$HTTP["remoteip"]` value: an address and prefix length, or a
/// unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteAddr {
    /// IPv4 network.
    V4(Ipv4Addr, u8),
    /// IPv6 network.
    V6(Ipv6Addr, u8),
    /// A path (clients on a unix socket).
    Path(BString),
}

/// Why a remoteip value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteAddrError {
    /// Not a dotted-quad IPv4 address (lighttpd refuses it too).
    InvalidV4,
    /// Not an IPv6 address (lighttpd 1.4.69 accepts it by mistake).
    InvalidV6,
    /// A `/bits` suffix that is not 0–32 or 0–128 (lighttpd 1.4.69
    /// accepts it by mistake).
    InvalidPrefix,
}

/// Parses a `$HTTP["remoteip"]` value for `==`, `!=`, `=^`, `=$`.
pub fn parse_remote_addr(v: &[u8]) -> Result<RemoteAddr, RemoteAddrError> {
    if v.first() == Some(&b'/') {
        return Ok(RemoteAddr::Path(BString::from(v)));
    }
    let (addr, bits) = match v.rfind_byte(b'/') {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    if addr.contains(&b':') {
        let inner = addr
            .strip_prefix(b"[")
            .and_then(|a| a.strip_suffix(b"]"))
            .unwrap_or(addr);
        let ip = inner
            .to_str()
            .ok()
            .and_then(|a| a.parse::<Ipv6Addr>().ok())
            .ok_or(RemoteAddrError::InvalidV6)?;
        let bits = parse_bits(bits, 128)?;
        Ok(RemoteAddr::V6(ip, bits))
    } else {
        let ip = addr
            .to_str()
            .ok()
            .and_then(|a| a.parse::<Ipv4Addr>().ok())
            .ok_or(RemoteAddrError::InvalidV4)?;
        let bits = parse_bits(bits, 32)?;
        Ok(RemoteAddr::V4(ip, bits))
    }
}

fn parse_bits(bits: Option<&[u8]>, max: u8) -> Result<u8, RemoteAddrError> {
    match bits {
        None => Ok(max),
        Some(b) if !b.is_empty() && b.len() <= 3 && b.iter().all(u8::is_ascii_digit) => {
            let n: u32 = b.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'));
            u8::try_from(n)
                .ok()
                .filter(|&n| n <= max)
                .ok_or(RemoteAddrError::InvalidPrefix)
        }
        Some(_) => Err(RemoteAddrError::InvalidPrefix),
    }
}

/// True when a `$SERVER["socket"]` value skips the host check: it starts
/// with `:`, `/`, `\` or is an empty bracket pair `[]`.
pub fn socket_skips_host_check(v: &[u8]) -> bool {
    matches!(v.first(), None | Some(b':' | b'/' | b'\\')) || v.starts_with(b"[]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simp(p: &str) -> Option<(&'static str, String)> {
        simplify_regex(p.as_bytes()).map(|(op, v)| (op.as_str(), v.to_string()))
    }

    /// The table of spec §9.4.
    #[test]
    fn regex_simplification_table() {
        assert_eq!(simp("^/x"), Some(("=^", "/x".into())));
        assert_eq!(simp("\\.php$"), Some(("=$", ".php".into())));
        assert_eq!(simp("^/exact$"), Some(("==", "/exact".into())));
        assert_eq!(simp("/y$"), Some(("=$", "/y".into())));
        assert_eq!(simp("^$"), Some(("==", "".into())));
        assert_eq!(simp("^"), Some(("=^", "".into())));
        assert_eq!(simp("$"), Some(("=$", "".into())));
        assert_eq!(simp("\\.$"), Some(("=$", ".".into())));
        assert_eq!(simp("^/a.b"), None);
        assert_eq!(simp("\\.tar\\.gz$"), None);
        assert_eq!(simp("^/(grp)"), None);
        assert_eq!(simp("plain"), None);
        assert_eq!(simp("^\\.php$"), None);
    }

    /// Calibrated against lighttpd 1.4.69 (`invalid IP addr`).
    #[test]
    fn host_port_check_matches_lighttpd() {
        for ok in [
            "a.b",
            "a.b:80",
            "a.b:",
            "a.b:0x50",
            "a.b:+80",
            "a.b: 80",
            "a.b:0100",
            "[::1]",
            "[::1]:80",
            "[::1]:",
            "[fe80::1%eth0]:80",
            "bad host",
            "",
            "[::ffff:1.2.3.4]",
            "1.2.3.4:5",
        ] {
            assert!(valid_host_port(ok.as_bytes()), "{ok} should pass");
        }
        for bad in [
            "a.b:0",
            "a.b:65536",
            "a.b:080",
            "a.b:1:2",
            "fe80::1",
            "[::1",
            "[zz]",
            ":80",
            "a.b:-1",
            "a.b:80 ",
            "a.b:0x",
            "a.b:00",
            "[::1]:0",
            "[::1]:abc",
            "[]",
            "[1.2.3.4]",
            "[::1]x",
            "example.org:http",
        ] {
            assert!(!valid_host_port(bad.as_bytes()), "{bad} should fail");
        }
    }

    /// IPv4 must be a strict dotted quad; wick also refuses what 1.4.69 lets
    /// through by mistake (bad IPv6, bad prefix length).
    #[test]
    fn remote_addr_parsing() {
        assert_eq!(
            parse_remote_addr(b"10.0.0.0/8"),
            Ok(RemoteAddr::V4(Ipv4Addr::new(10, 0, 0, 0), 8))
        );
        assert_eq!(
            parse_remote_addr(b"[::1]"),
            Ok(RemoteAddr::V6(Ipv6Addr::LOCALHOST, 128))
        );
        assert!(matches!(
            parse_remote_addr(b"/run/x.sock"),
            Ok(RemoteAddr::Path(_))
        ));
        for bad4 in [
            "10",
            "10.1",
            ".5",
            "10.0.0.256",
            "01.2.3.4",
            "localhost",
            "",
            " 1.2.3.4",
        ] {
            assert_eq!(
                parse_remote_addr(bad4.as_bytes()),
                Err(RemoteAddrError::InvalidV4),
                "{bad4}"
            );
        }
        assert_eq!(
            parse_remote_addr(b"zz::zz"),
            Err(RemoteAddrError::InvalidV6)
        );
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0/abc",
            "1.2.3.4/",
            "10.0.0.1/32x",
            "::1/200",
        ] {
            assert_eq!(
                parse_remote_addr(bad.as_bytes()),
                Err(RemoteAddrError::InvalidPrefix),
                "{bad}"
            );
        }
        assert_eq!(
            parse_remote_addr(b"0.0.0.0/0"),
            Ok(RemoteAddr::V4(Ipv4Addr::UNSPECIFIED, 0))
        );
    }
}
