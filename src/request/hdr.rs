//! Header lookups that suit the few lines most requests carry. Finding a
//! name in a `HeaderMap` hashes it first, and most names a request is
//! asked about (Range, If-None-Match, Transfer-Encoding…) are absent. The
//! names of a map of a handful of lines are read through faster than a
//! hash is made, so small maps are asked that first; a name that is there
//! (or any name in a larger map) is looked up as usual. Either way the
//! answer is `HeaderMap`'s own.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Maps with at most this many names are scanned for a name first.
const SCAN: usize = 8;

/// Whether `name` may be in `headers` (false only when it is certainly not).
fn may_have(headers: &HeaderMap, name: &HeaderName) -> bool {
    headers.keys_len() > SCAN || contains(headers, name)
}

/// The first value of `name`, as [`HeaderMap::get`].
pub fn get<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    if !may_have(headers, name) {
        return None;
    }
    headers.get(name)
}

/// The first two values of `name`, as [`HeaderMap::get_all`] yields them.
pub fn first_two<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> (Option<&'a HeaderValue>, Option<&'a HeaderValue>) {
    first_two_where(headers, name, |_| true)
}

/// The first two values of `name` that `keep` accepts, in
/// [`HeaderMap::get_all`]'s order.
pub fn first_two_where<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    keep: impl Fn(&HeaderValue) -> bool,
) -> (Option<&'a HeaderValue>, Option<&'a HeaderValue>) {
    if !may_have(headers, name) {
        return (None, None);
    }
    let mut all = headers.get_all(name).iter().filter(|v| keep(v));
    (all.next(), all.next())
}

/// Whether `name` is present, as [`HeaderMap::contains_key`].
pub fn contains(headers: &HeaderMap, name: &HeaderName) -> bool {
    if headers.keys_len() > SCAN {
        return headers.contains_key(name);
    }
    headers.keys().any(|k| k == name)
}

/// Every value of `name` that is not empty, in order and separated by
/// `sep`, appended to `out` (how lighttpd reads a header sent on several
/// lines). False when there was none.
pub fn join<K: http::header::AsHeaderName>(
    headers: &HeaderMap,
    name: K,
    sep: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let mut any = false;
    for v in headers.get_all(name).iter().filter(|v| !v.is_empty()) {
        if std::mem::replace(&mut any, true) {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(v.as_bytes());
    }
    any
}

/// The header names most responses carry, recognised by [`usual`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usual {
    Age,
    Date,
    ETag,
    Vary,
    Server,
    Expires,
    Location,
    Connection,
    SetCookie,
    ContentType,
    LastModified,
    AcceptRanges,
    CacheControl,
    ContentLength,
    ContentEncoding,
    TransferEncoding,
}

impl Usual {
    /// Its `HeaderName`.
    pub fn name(self) -> HeaderName {
        use http::header as h;
        match self {
            Usual::Age => h::AGE,
            Usual::Date => h::DATE,
            Usual::ETag => h::ETAG,
            Usual::Vary => h::VARY,
            Usual::Server => h::SERVER,
            Usual::Expires => h::EXPIRES,
            Usual::Location => h::LOCATION,
            Usual::Connection => h::CONNECTION,
            Usual::SetCookie => h::SET_COOKIE,
            Usual::ContentType => h::CONTENT_TYPE,
            Usual::LastModified => h::LAST_MODIFIED,
            Usual::AcceptRanges => h::ACCEPT_RANGES,
            Usual::CacheControl => h::CACHE_CONTROL,
            Usual::ContentLength => h::CONTENT_LENGTH,
            Usual::ContentEncoding => h::CONTENT_ENCODING,
            Usual::TransferEncoding => h::TRANSFER_ENCODING,
        }
    }
}

/// Which usual name `raw` is, written as servers usually write it
/// (`Content-Type` or `content-type`): one comparison of fixed length.
/// `None` for other names and other spellings of these.
pub fn usual(raw: &[u8]) -> Option<Usual> {
    /// `raw` is one of these spellings (all of length `N`).
    fn is<const N: usize>(raw: &[u8], spellings: [&[u8; N]; 2]) -> bool {
        <&[u8; N]>::try_from(raw).is_ok_and(|r| spellings.contains(&r))
    }
    Some(match raw.len() {
        3 if is(raw, [b"Age", b"age"]) => Usual::Age,
        4 if is(raw, [b"Date", b"date"]) => Usual::Date,
        4 if is(raw, [b"ETag", b"etag"]) => Usual::ETag,
        4 if is(raw, [b"Vary", b"vary"]) => Usual::Vary,
        6 if is(raw, [b"Server", b"server"]) => Usual::Server,
        7 if is(raw, [b"Expires", b"expires"]) => Usual::Expires,
        8 if is(raw, [b"Location", b"location"]) => Usual::Location,
        10 if is(raw, [b"Connection", b"connection"]) => Usual::Connection,
        10 if is(raw, [b"Set-Cookie", b"set-cookie"]) => Usual::SetCookie,
        12 if is(raw, [b"Content-Type", b"content-type"]) => Usual::ContentType,
        13 if is(raw, [b"Last-Modified", b"last-modified"]) => Usual::LastModified,
        13 if is(raw, [b"Accept-Ranges", b"accept-ranges"]) => Usual::AcceptRanges,
        13 if is(raw, [b"Cache-Control", b"cache-control"]) => Usual::CacheControl,
        14 if is(raw, [b"Content-Length", b"content-length"]) => Usual::ContentLength,
        16 if is(raw, [b"Content-Encoding", b"content-encoding"]) => Usual::ContentEncoding,
        17 if is(raw, [b"Transfer-Encoding", b"transfer-encoding"]) => Usual::TransferEncoding,
        _ => return None,
    })
}

/// The Title-Case spellings [`usual`] recognises (each also in lower case).
#[cfg(test)]
pub(crate) const USUAL_NAMES: [&str; 16] = [
    "Age",
    "Date",
    "ETag",
    "Vary",
    "Server",
    "Expires",
    "Location",
    "Connection",
    "Set-Cookie",
    "Content-Type",
    "Last-Modified",
    "Accept-Ranges",
    "Cache-Control",
    "Content-Length",
    "Content-Encoding",
    "Transfer-Encoding",
];

/// The `HeaderName` of `raw`, as [`HeaderName::from_bytes`] makes it, and
/// which [`usual`] name it is: a usual name without `from_bytes`'s copy
/// through a lower-casing table and search of every standard name; any
/// other goes that way.
pub fn name(raw: &[u8]) -> Result<(HeaderName, Option<Usual>), http::header::InvalidHeaderName> {
    match usual(raw) {
        Some(u) => Ok((u.name(), Some(u))),
        None => HeaderName::from_bytes(raw).map(|n| (n, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{ACCEPT, CONTENT_LENGTH, HOST, RANGE};

    /// Values joined, empty ones left out, nothing written for none.
    #[test]
    fn join_leaves_out_empty_values() {
        let mut h = HeaderMap::new();
        for v in ["", "a=1", "", "b=2"] {
            h.append("cookie", HeaderValue::from_static(v));
        }
        let mut out = b"x: ".to_vec();
        assert!(join(&h, "cookie", b"; ", &mut out));
        assert_eq!(out, b"x: a=1; b=2");
        let mut out = Vec::new();
        h.insert("x-empty", HeaderValue::from_static(""));
        assert!(!join(&h, "x-empty", b", ", &mut out));
        assert!(!join(&h, "x-none", b", ", &mut out));
        assert!(out.is_empty());
    }

    /// Names come out as `from_bytes` makes them: the usual ones in any
    /// case, near misses, other standard and custom names, invalid bytes.
    #[test]
    fn names_as_from_bytes() {
        let mut raw: Vec<Vec<u8>> = Vec::new();
        for n in USUAL_NAMES.iter().chain(&["Pragma", "Etag"]) {
            raw.push(n.as_bytes().to_vec());
            raw.push(n.to_ascii_lowercase().into_bytes());
            raw.push(n.to_ascii_uppercase().into_bytes());
            // the same length and first letter, another name
            let mut near = n.as_bytes().to_vec();
            let last = near.len() - 1;
            near[last] = if near[last] == b'x' { b'y' } else { b'x' };
            raw.push(near);
            // a byte no name may have, in the middle
            let mut bad = n.as_bytes().to_vec();
            let mid = bad.len() / 2;
            bad[mid] = b' ';
            raw.push(bad);
        }
        for n in [
            &b"Content-Language"[..],
            b"X-Powered-By",
            b"Accept",
            b"Cookie",
            b"",
            b"Ab",
            b"c\xff",
            b"Date\r",
            b"Dat\xc3",
            b"\xc4ate",
        ] {
            raw.push(n.to_vec());
        }
        for r in raw {
            let ours = name(&r).map(|(n, _)| n).map_err(|_| ());
            let theirs = HeaderName::from_bytes(&r).map_err(|_| ());
            assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&r));
        }
    }

    /// Every answer is `HeaderMap`'s own, for maps below and above the
    /// scanning size, with repeated names and custom ones.
    #[test]
    fn answers_as_header_map() {
        let custom = HeaderName::from_static("x-custom");
        let names = [HOST, CONTENT_LENGTH, RANGE, ACCEPT, custom.clone()];
        for lines in 0..20usize {
            let mut h = HeaderMap::new();
            for i in 0..lines {
                let name = names[i * 7 % names.len()].clone();
                h.append(name, HeaderValue::from(i));
            }
            for n in &names {
                assert_eq!(get(&h, n), h.get(n), "{lines} lines, {n}");
                let mut all = h.get_all(n).iter();
                assert_eq!(first_two(&h, n), (all.next(), all.next()), "{lines}, {n}");
                assert_eq!(contains(&h, n), h.contains_key(n));
                let odd = |v: &HeaderValue| v.as_bytes().last().is_some_and(|b| b % 2 == 1);
                let mut kept = h.get_all(n).iter().filter(|v| odd(v));
                assert_eq!(
                    first_two_where(&h, n, odd),
                    (kept.next(), kept.next()),
                    "{lines}, {n}"
                );
            }
        }
    }
}
