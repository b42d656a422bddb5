//! The core directives lighttpd validates while loading (spec Appendix A;
//! lighttpd: `config_insert_values_global` / `config_check_cond_nw` in
//! `configfile.c` and `configfile-glue.c`), with their types and scopes.

/// The type a core directive must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// A string.
    Str,
    /// 0–65535, as integer or digit string.
    Short,
    /// 0–4294967295, as integer or digit string.
    Int,
    /// `enable`/`disable` … or an integer.
    Bool,
    /// A list of strings.
    StrList,
    /// A `key => string` array.
    KvStr,
    /// A `key => value` array.
    KvAny,
}

/// Where a core directive takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only at the top level (ignored with a warning in conditions).
    Server,
    /// Top level or directly inside `$SERVER["socket"] == …`.
    Socket,
    /// In any block.
    Any,
}

/// A core directive.
#[derive(Debug, Clone, Copy)]
pub struct CoreKey {
    /// The key, lowercase as lighttpd spells it.
    pub name: &'static str,
    /// Its type.
    pub ty: KeyType,
    /// Its scope.
    pub scope: Scope,
}

const fn k(name: &'static str, ty: KeyType, scope: Scope) -> CoreKey {
    CoreKey { name, ty, scope }
}

use KeyType::*;
use Scope::*;

/// Core directives checked in every block while loading.
pub static CORE_VALIDATED: &[CoreKey] = &[
    k("server.modules", StrList, Server),
    k("server.upload-dirs", StrList, Server),
    k("server.http-parseopts", KvStr, Server),
    k("server.feature-flags", KvAny, Server),
    k("server.compat-module-load", Bool, Server),
    k("server.systemd-socket-activation", Bool, Server),
    k("server.errorlog-use-syslog", Bool, Server),
    k("server.core-files", Bool, Server),
    k("server.http-parseopt-header-strict", Bool, Server),
    k("server.http-parseopt-host-strict", Bool, Server),
    k("server.http-parseopt-host-normalize", Bool, Server),
    k("server.reject-expect-100-with-417", Bool, Server),
    k("debug.log-request-header-on-error", Bool, Server),
    k("server.port", Short, Server),
    k("server.max-worker", Short, Server),
    k("server.max-fds", Short, Server),
    k("server.max-connections", Short, Server),
    k("server.max-request-field-size", Int, Server),
    k("server.chunkqueue-chunk-sz", Int, Server),
    k("server.upload-temp-file-size", Int, Server),
    k("server.bind", Str, Server),
    k("server.network-backend", Str, Server),
    k("server.chroot", Str, Server),
    k("server.username", Str, Server),
    k("server.groupname", Str, Server),
    k("server.syslog-facility", Str, Server),
    k("server.event-handler", Str, Server),
    k("server.pid-file", Str, Server),
    k("server.stat-cache-engine", Str, Server),
    k("mimetype.xattr-name", Str, Server),
    k("ssl.engine", Bool, Socket),
    k("server.document-root", Str, Any),
    k("server.name", Str, Any),
    k("server.tag", Str, Any),
    k("server.errorfile-prefix", Str, Any),
    k("server.error-handler", Str, Any),
    k("server.error-handler-404", Str, Any),
    k("server.errorlog", Str, Any),
    k("server.breakagelog", Str, Any),
    k("server.max-request-size", Int, Any),
    k("server.max-keep-alive-requests", Short, Any),
    k("server.max-keep-alive-idle", Short, Any),
    k("server.max-read-idle", Short, Any),
    k("server.max-write-idle", Short, Any),
    k("server.stream-request-body", Short, Any),
    k("server.stream-response-body", Short, Any),
    k("server.kbytes-per-second", Short, Any),
    k("connection.kbytes-per-second", Short, Any),
    k("server.error-intercept", Bool, Any),
    k("server.force-lowercase-filenames", Bool, Any),
    k("server.follow-symlink", Bool, Any),
    k("server.protocol-http11", Bool, Any),
    k("server.range-requests", Bool, Any),
    k("mimetype.use-xattr", Bool, Any),
    k("etag.use-inode", Bool, Any),
    k("etag.use-mtime", Bool, Any),
    k("etag.use-size", Bool, Any),
    k("debug.log-condition-handling", Bool, Any),
    k("debug.log-file-not-found", Bool, Any),
    k("debug.log-request-handling", Bool, Any),
    k("debug.log-request-header", Bool, Any),
    k("debug.log-response-header", Bool, Any),
    k("debug.log-timeouts", Bool, Any),
    k("debug.log-state-handling", Bool, Any),
    k("mimetype.assign", KvStr, Any),
];

/// The core directive named `key` (ignoring ASCII case, as lighttpd's
/// lookups do).
pub fn core_key(key: &[u8]) -> Option<&'static CoreKey> {
    CORE_VALIDATED
        .iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(key))
}

/// Socket options: only meaningful at top level or directly in a
/// `$SERVER["socket"] == …` block (checked when sockets are set up).
pub static SOCKET_KEYS: &[&str] = &[
    "ssl.engine",
    "server.listen-backlog",
    "server.socket-perms",
    "server.bsd-accept-filter",
    "server.defer-accept",
    "server.use-ipv6",
    "server.set-v6only",
    "server.v4mapped",
];

/// `server.http-parseopts` keys lighttpd 1.4.69 knows.
pub static HTTP_PARSEOPTS: &[&str] = &[
    "header-strict",
    "host-normalize",
    "host-strict",
    "url-ctrls-reject",
    "url-invalid-utf8-reject",
    "url-normalize",
    "url-normalize-required",
    "url-normalize-unreserved",
    "url-path-2f-decode",
    "url-path-2f-reject",
    "url-path-backslash-trans",
    "url-path-dotseg-reject",
    "url-path-dotseg-remove",
    "url-query-20-plus",
];

/// `server.stat-cache-engine` values.
pub static STAT_CACHE_ENGINES: &[&str] = &["disable", "simple", "inotify", "fam"];

/// A boolean as lighttpd reads it: `enable`/`enabled`/`true`/`1` and
/// `disable`/`disabled`/`false`/`0`, ignoring case.
pub fn parse_bool(s: &[u8]) -> Option<bool> {
    let lc = s.to_ascii_lowercase();
    match lc.as_slice() {
        b"enable" | b"enabled" | b"true" | b"1" => Some(true),
        b"disable" | b"disabled" | b"false" | b"0" => Some(false),
        _ => None,
    }
}

/// A digit string as lighttpd reads a number from a string: C `strtol`
/// base 10 over the whole string (leading blanks and a sign allowed).
pub fn parse_number(s: &[u8]) -> Option<i64> {
    let t = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .map_or(&s[s.len()..], |i| &s[i..]);
    let (neg, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0i64, |v, d| {
        v.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calibrated against lighttpd 1.4.69 (`server.port = "…"`).
    #[test]
    fn numbers_in_strings_read_like_strtol() {
        assert_eq!(parse_number(b"080"), Some(80));
        assert_eq!(parse_number(b"+80"), Some(80));
        assert_eq!(parse_number(b" 80"), Some(80));
        assert_eq!(parse_number(b"80 "), None);
        assert_eq!(parse_number(b"0x50"), None);
        assert_eq!(parse_number(b""), None);
        assert_eq!(parse_number(b"-1"), Some(-1));
    }

    /// The boolean spellings lighttpd accepts.
    #[test]
    fn booleans() {
        assert_eq!(parse_bool(b"ENABLE"), Some(true));
        assert_eq!(parse_bool(b"disabled"), Some(false));
        assert_eq!(parse_bool(b"1"), Some(true));
        assert_eq!(parse_bool(b"on"), None);
        assert_eq!(parse_bool(b"yes"), None);
    }
}
