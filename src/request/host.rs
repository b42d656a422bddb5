//! Host validation and normalisation (lighttpd: `http_request_host_policy`,
//! `request_check_hostname` and `http_request_host_normalize` in
//! `request.c`; the length limit and lower-casing happen while the header
//! is parsed, `http_request_parse_single_header`).
//!
//! ```text
//! Host value ──► length < 1024 ──► ASCII lower-case ──► empty? keep
//!   host-strict:  check syntax, drop one trailing '.', drop a trailing ':'
//!   otherwise:    refuse NUL, CR, LF only
//!   host-strict or host-normalize:
//!                 port: strtol base 0 (so "0100" is 64), 1–65535, dropped when
//!                 it is the scheme's default port, re-written in decimal;
//!                 [IPv6]: parsed and re-printed as glibc's inet_ntop does
//! ```
//!
//! The result is what `$HTTP["host"]` matches and what mod_proxy forwards
//! as `Host`. An empty value is returned as is: lighttpd treats it like a
//! missing Host (400 for HTTP/1.1, accepted for HTTP/1.0); the caller
//! decides. Every rule was measured against lighttpd 1.4.69; the evidence
//! is in `host/tests.rs`.

use std::net::Ipv6Addr;

use thiserror::Error;

use super::target::ParseOpts;

#[cfg(test)]
mod tests;

/// The longest Host value lighttpd accepts ("uri-authority too long").
pub const MAX_HOST_LEN: usize = 1023;

/// Why a Host value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HostError {
    /// Longer than [`MAX_HOST_LEN`] bytes.
    #[error("host is longer than 1023 bytes")]
    TooLong,
    /// No name before the port or the trailing dot (`:80`, `.`).
    #[error("empty host name")]
    EmptyName,
    /// A character other than letters, digits, `-` and `.`, a label that
    /// starts with `-`, or an empty label (`a_b`, `-a`, `a..b`, `a b`).
    #[error("invalid character or empty label in host name")]
    InvalidName,
    /// The last label is numeric but the name is not four numeric labels
    /// (`123`, `1.2.3`, `a.1`).
    #[error("numeric host name is not a dotted quad")]
    NumericName,
    /// An invalid `[IPv6]` literal.
    #[error("invalid IPv6 literal")]
    InvalidIpv6,
    /// A port that is not a number in 1–65535 (`:0`, `:65536`, `:080`).
    #[error("invalid port")]
    InvalidPort,
    /// NUL, CR or LF (checked when `host-strict` is off).
    #[error("forbidden byte {byte:#04x} in host")]
    ForbiddenByte {
        /// The byte.
        byte: u8,
    },
}

impl HostError {
    /// The status lighttpd answers with: always 400 Bad Request.
    pub fn status(&self) -> u16 {
        match self {
            HostError::TooLong
            | HostError::EmptyName
            | HostError::InvalidName
            | HostError::NumericName
            | HostError::InvalidIpv6
            | HostError::InvalidPort
            | HostError::ForbiddenByte { .. } => 400,
        }
    }
}

/// [`normalize_host_with_port`] for plain HTTP (default port 80).
pub fn normalize_host(raw: &[u8], opts: &ParseOpts) -> Result<Vec<u8>, HostError> {
    normalize_host_with_port(raw, opts, 80)
}

/// Checks and normalises a Host value (the field value without surrounding
/// blanks, or an absolute-form target's authority) as lighttpd 1.4.69 does;
/// `default_port` is the scheme's port (80 for http, 443 for https), which
/// is dropped. The port the connection arrived on plays no part.
#[doc(alias = "http_request_host_policy")]
pub fn normalize_host_with_port(
    raw: &[u8],
    opts: &ParseOpts,
    default_port: u16,
) -> Result<Vec<u8>, HostError> {
    if raw.len() > MAX_HOST_LEN {
        return Err(HostError::TooLong);
    }
    let mut host = raw.to_ascii_lowercase();
    if host.is_empty() {
        return Ok(host);
    }
    if opts.host_strict {
        check_hostname(&mut host)?;
    } else if let Some(&byte) = host.iter().find(|&&b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err(HostError::ForbiddenByte { byte });
    }
    // lighttpd 1.4.69: host-strict implies host-normalize.
    if opts.host_strict || opts.host_normalize {
        if host.first() == Some(&b'[') {
            host = canonicalize(&host, default_port)?;
        } else {
            canonicalize_name(&mut host, default_port)?;
        }
    }
    Ok(host)
}

/// [`canonicalize`] for a name or IPv4 address, in place: the usual
/// `name:port` in plain decimal stays as it is, without a copy.
fn canonicalize_name(host: &mut Vec<u8>, default_port: u16) -> Result<(), HostError> {
    let Some(colon) = host.iter().position(|&b| b == b':') else {
        return Ok(());
    };
    if colon == 0 {
        return Err(HostError::EmptyName);
    }
    let digits = &host[colon + 1..];
    if digits.is_empty() {
        host.truncate(colon);
        return Ok(());
    }
    let port = parse_port(digits).ok_or(HostError::InvalidPort)?;
    let plain = digits[0] != b'0' && digits.iter().all(u8::is_ascii_digit);
    if port == default_port {
        host.truncate(colon);
    } else if !plain {
        host.truncate(colon + 1);
        host.extend_from_slice(port.to_string().as_bytes());
    }
    Ok(())
}

/// The strict syntax check (`request_check_hostname`): RFC 1123-ish names
/// (letters, digits, `-` not first in a label, no empty label), dotted-quad
/// numbers, `[` hex digits `:` `.` `]` with at most seven colons, and a
/// port of digits. Removes one trailing `.` of the name and a trailing `:`.
#[doc(alias = "request_check_hostname")]
fn check_hostname(host: &mut Vec<u8>) -> Result<(), HostError> {
    let end = if host.first() == Some(&b'[') {
        let mut i = 1;
        let mut colons = 0;
        while let Some(&c) = host.get(i) {
            if c == b':' {
                colons += 1;
                if colons == 8 {
                    break;
                }
            } else if !c.is_ascii_hexdigit() && c != b'.' {
                break;
            }
            i += 1;
        }
        if host.get(i) != Some(&b']') || i == 1 {
            return Err(HostError::InvalidIpv6);
        }
        i + 1
    } else {
        let mut len = host.iter().position(|&b| b == b':').unwrap_or(host.len());
        if len == 0 {
            return Err(HostError::EmptyName);
        }
        if host[len - 1] == b'.' {
            if len == 1 {
                return Err(HostError::EmptyName);
            }
            host.remove(len - 1);
            len -= 1;
        }
        check_name(host, len)?;
        len
    };
    match host.get(end) {
        None => Ok(()),
        Some(b':') if end + 1 == host.len() => {
            host.truncate(end);
            Ok(())
        }
        Some(b':') if host[end + 1..].iter().all(u8::is_ascii_digit) => Ok(()),
        Some(b':') => Err(HostError::InvalidPort),
        Some(_) => Err(HostError::InvalidName),
    }
}

/// Checks the name `host[..len]` label by label.
fn check_name(host: &[u8], len: usize) -> Result<(), HostError> {
    let mut label_len = 0;
    let mut numeric = true;
    let mut all_numeric = true;
    let mut dots = 0;
    for (i, &c) in host.iter().enumerate().take(len) {
        label_len += 1;
        if c.is_ascii_digit() {
            continue;
        }
        if c.is_ascii_alphabetic() || (c == b'-' && i != 0) {
            numeric = false;
        } else if c == b'.' && label_len != 1 && host.get(i + 1) != Some(&b'-') {
            all_numeric &= numeric;
            numeric = true;
            label_len = 0;
            dots += 1;
        } else {
            return Err(HostError::InvalidName);
        }
    }
    if label_len == 0 {
        return Err(HostError::InvalidName);
    }
    // A numeric last label makes it an IPv4 address: four numeric parts.
    if numeric && (dots != 3 || !all_numeric) {
        return Err(HostError::NumericName);
    }
    Ok(())
}

/// Canonical form of an `[IPv6]` literal (`http_request_host_normalize`):
/// the address re-printed as `inet_ntop` does, an `%zone` suffix kept as
/// written, the port parsed like C `strtol(s, &e, 0)` and dropped when it
/// is `default_port`. (Names and IPv4 literals: [`canonicalize_name`];
/// lighttpd's `inet_pton`/`inet_ntop` round trip cannot change an IPv4
/// address it accepts.)
#[doc(alias = "http_request_host_normalize")]
fn canonicalize(host: &[u8], default_port: u16) -> Result<Vec<u8>, HostError> {
    let mut port = 0;
    if host.len() <= 2 {
        return Err(HostError::InvalidIpv6);
    }
    let last = host.len() - 1;
    let bracket = if host[last] == b']' {
        last
    } else {
        let b = host[1..]
            .iter()
            .position(|&c| c == b']')
            .map(|p| p + 1)
            .filter(|&b| b != 1 && host.get(b + 1) == Some(&b':'))
            .ok_or(HostError::InvalidIpv6)?;
        if b + 2 < host.len() {
            port = parse_port(&host[b + 2..]).ok_or(HostError::InvalidPort)?;
        }
        b
    };
    let percent = host[1..].iter().position(|&c| c == b'%').map(|p| p + 1);
    let addr_end = percent.filter(|&p| p < bracket).unwrap_or(bracket);
    let addr = std::str::from_utf8(&host[1..addr_end])
        .ok()
        .and_then(|s| s.parse::<Ipv6Addr>().ok())
        .ok_or(HostError::InvalidIpv6)?;
    let text = format_ipv6(&addr);
    let zone = match percent {
        Some(p) if p > bracket => return Err(HostError::InvalidIpv6),
        Some(p) => &host[p..bracket],
        None => &[][..],
    };
    // lighttpd formats into a 46 + 16 byte buffer.
    if !zone.is_empty() && text.len() + zone.len() >= 62 {
        return Err(HostError::InvalidIpv6);
    }
    let mut out = Vec::with_capacity(text.len() + zone.len() + 8);
    out.push(b'[');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(zone);
    out.push(b']');
    if port != 0 && port != default_port {
        out.push(b':');
        out.extend_from_slice(port.to_string().as_bytes());
    }
    Ok(out)
}

/// A port as C `strtol(s, &end, 0)` reads it, valid when it consumed all
/// of `s` and lies in 1–65535: leading blanks, a sign, `0x` hex and `0`
/// octal are accepted (so `080` is refused and `0100` is 64).
fn parse_port(s: &[u8]) -> Option<u16> {
    let mut i = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(s.len());
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let hex_prefix = matches!(s.get(i..i + 2), Some(b"0x" | b"0X"))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    let radix = if hex_prefix {
        i += 2;
        16
    } else if s.get(i) == Some(&b'0') {
        8
    } else {
        10
    };
    let digits = &s[i..];
    if digits.is_empty() {
        return None;
    }
    let mut value: u32 = 0;
    for &d in digits {
        let v = char::from(d).to_digit(radix)?;
        value = value.saturating_mul(radix).saturating_add(v);
    }
    if negative {
        return None;
    }
    u16::try_from(value).ok().filter(|&p| p != 0)
}

/// An IPv6 address as glibc's `inet_ntop` prints it: lower-case hex, the
/// first longest run of two or more zero groups as `::`, and the last 32
/// bits in dotted decimal for `::a.b.c.d` (six zero groups) and
/// `::ffff:a.b.c.d`.
#[doc(alias = "inet_ntop")]
pub fn format_ipv6(addr: &Ipv6Addr) -> String {
    use std::fmt::Write;
    let g = addr.segments();
    // the first longest run of zero groups, if at least two long
    let (mut best, mut cur): ((usize, usize), Option<usize>) = ((0, 0), None);
    for i in 0..=8 {
        match (g.get(i), cur) {
            (Some(0), None) => cur = Some(i),
            (Some(0), Some(_)) => {}
            (_, Some(start)) => {
                if i - start > best.1 {
                    best = (start, i - start);
                }
                cur = None;
            }
            (_, None) => {}
        }
    }
    let run = (best.1 >= 2).then_some(best);
    let mut s = String::with_capacity(39);
    let mut i = 0;
    while i < 8 {
        if let Some((start, len)) = run {
            if i == start {
                s.push(':');
                i += len;
                if i == 8 {
                    s.push(':');
                }
                continue;
            }
        }
        if i != 0 {
            s.push(':');
        }
        let embeds_ipv4 = i == 6
            && run.is_some_and(|(start, len)| {
                start == 0 && (len == 6 || (len == 5 && g[5] == 0xffff))
            });
        if embeds_ipv4 {
            let o = addr.octets();
            // Writing to a String cannot fail.
            let _ = write!(s, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            break;
        }
        let _ = write!(s, "{:x}", g[i]);
        i += 1;
    }
    s
}
