//! `proxy.header` host and URL-path remapping (spec proxy.md §5): the
//! request target, `Host`, `Destination` and `Content-Location` on the way
//! in; `Location`, `Content-Location` and `Set-Cookie` `Path=`/`Domain=`
//! on the way out.

use bstr::ByteSlice;

use super::config::ProxyHeader;

/// `scheme://authority/path` split, or `None` for a relative reference.
fn split_uri(v: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let i = v.find(b"://")?;
    let scheme = &v[..i];
    if scheme.is_empty()
        || !scheme
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
    {
        return None;
    }
    let rest = &v[i + 3..];
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    Some((scheme, &rest[..end], &rest[end..]))
}

/// A URI with its authority and path remapped (a relative reference: its
/// path only); `scheme` `(from, to)` swaps the scheme with `https-remap`
/// when the authority maps. Unchanged when neither part maps.
fn remap_uri(
    v: &[u8],
    scheme_swap: Option<(&[u8], &[u8])>,
    host: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
    path: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Vec<u8> {
    let Some((scheme, authority, rest)) = split_uri(v) else {
        return path(v).unwrap_or_else(|| v.to_vec());
    };
    // An empty path is written `/`, as lighttpd does (which appends the
    // slash at the very end, after a query too: wick puts it where the
    // path is).
    let slashed = !rest.starts_with(b"/");
    let rest: std::borrow::Cow<'_, [u8]> = if slashed {
        [&b"/"[..], rest].concat().into()
    } else {
        rest.into()
    };
    let new_host = host(authority);
    let new_path = path(&rest);
    if new_host.is_none() && new_path.is_none() && !slashed {
        return v.to_vec();
    }
    // (only a remapped authority changes scheme: another host's URI keeps
    // its own, its path remapped or not)
    let scheme = match scheme_swap {
        Some((from, to)) if new_host.is_some() && scheme.eq_ignore_ascii_case(from) => to,
        _ => scheme,
    };
    let mut out = scheme.to_vec();
    out.extend_from_slice(b"://");
    out.extend_from_slice(new_host.as_deref().unwrap_or(authority));
    out.extend_from_slice(new_path.as_deref().unwrap_or(&rest));
    out
}

/// A `from => to` host table lookup: `from` `-` stands for `dash_key`,
/// `to` `-` for the client's Host; an empty `to` keeps the authority.
fn map_host(
    table: &[(bstr::BString, bstr::BString)],
    authority: &[u8],
    dash_key: Option<&[u8]>,
    client_host: &[u8],
) -> Option<Vec<u8>> {
    for (from, to) in table {
        let hit = if from.as_slice() == b"-" {
            dash_key.is_some_and(|k| k.eq_ignore_ascii_case(authority))
        } else {
            from.eq_ignore_ascii_case(authority)
        };
        if !hit {
            continue;
        }
        return match to.as_slice() {
            b"" => None,
            b"-" => Some(client_host.to_vec()),
            t => Some(t.to_vec()),
        };
    }
    None
}

/// Request-side remapping for one request.
#[derive(Debug)]
pub struct RequestRemap<'a> {
    hdr: &'a ProxyHeader,
    client_host: &'a [u8],
    https: bool,
    /// The first `map-host-request` value used (response `-` key).
    pub forwarded_host: Option<Vec<u8>>,
    /// The `map-urlpath` entry used for the request target.
    pub urlpath_used: Option<usize>,
}

impl<'a> RequestRemap<'a> {
    /// Remapping for a request, or `None` when nothing is configured.
    pub fn new(hdr: &'a ProxyHeader, client_host: &'a [u8], https: bool) -> Option<Self> {
        if hdr.map_host_request.is_empty() && hdr.map_urlpath.is_empty() {
            return None;
        }
        Some(RequestRemap {
            hdr,
            client_host,
            https: https && hdr.https_remap,
            forwarded_host: None,
            urlpath_used: None,
        })
    }

    /// The target's path remapped (query kept), remembering the entry.
    pub fn target(&mut self, target: &[u8]) -> Vec<u8> {
        match self.path(target) {
            Some((p, i)) => {
                self.urlpath_used = Some(i);
                p
            }
            None => target.to_vec(),
        }
    }

    /// The Host line remapped, remembering the value used.
    pub fn host(&mut self, host: &[u8]) -> Vec<u8> {
        match map_host(
            &self.hdr.map_host_request,
            host,
            Some(self.client_host),
            self.client_host,
        ) {
            Some(h) => {
                if self.forwarded_host.is_none() {
                    self.forwarded_host = Some(h.clone());
                }
                h
            }
            None => host.to_vec(),
        }
    }

    fn path(&self, p: &[u8]) -> Option<(Vec<u8>, usize)> {
        self.hdr
            .map_urlpath
            .iter()
            .enumerate()
            .find(|(_, (from, _))| p.starts_with(from))
            .map(|(i, (from, to))| {
                let mut out = to.to_vec();
                out.extend_from_slice(&p[from.len()..]);
                (out, i)
            })
    }

    /// What the response side needs to know of this request's mapping.
    pub fn remembered(&self) -> (Vec<u8>, Option<usize>) {
        (
            self.forwarded_host.clone().unwrap_or_default(),
            self.urlpath_used,
        )
    }

    /// A `Destination` / `Content-Location` value remapped.
    pub fn uri(&self, v: &[u8]) -> Vec<u8> {
        let from_to = self.https.then_some((&b"https"[..], &b"http"[..]));
        remap_uri(
            v,
            from_to,
            |authority| {
                map_host(
                    &self.hdr.map_host_request,
                    authority,
                    Some(self.client_host),
                    self.client_host,
                )
            },
            |path| self.path(path).map(|(p, _)| p),
        )
    }
}

/// Response-side remapping for one request.
#[derive(Debug)]
pub struct ResponseRemap<'a> {
    hdr: &'a ProxyHeader,
    client_host: &'a [u8],
    https: bool,
    forwarded_host: Option<Vec<u8>>,
    urlpath_used: Option<usize>,
}

impl<'a> ResponseRemap<'a> {
    /// Remapping of the response, or `None` when nothing is configured.
    /// `remembered`: the request side's forwarded host and map-urlpath
    /// entry ([`RequestRemap::remembered`]).
    pub fn new(
        hdr: &'a ProxyHeader,
        client_host: &'a [u8],
        https: bool,
        remembered: Option<(Vec<u8>, Option<usize>)>,
    ) -> Option<Self> {
        if hdr.map_host_response.is_empty() && hdr.map_urlpath.is_empty() {
            return None;
        }
        Some(ResponseRemap {
            hdr,
            client_host,
            https: https && hdr.https_remap,
            forwarded_host: remembered
                .as_ref()
                .map(|(h, _)| h.clone())
                .filter(|h| !h.is_empty()),
            urlpath_used: remembered.and_then(|(_, u)| u),
        })
    }

    fn host(&self, authority: &[u8]) -> Option<Vec<u8>> {
        map_host(
            &self.hdr.map_host_response,
            authority,
            self.forwarded_host.as_deref(),
            self.client_host,
        )
    }

    /// Reverse `map-urlpath`: the entry used by the request first, then any.
    fn path(&self, p: &[u8]) -> Option<Vec<u8>> {
        let rev = |(from, to): &(bstr::BString, bstr::BString)| {
            p.starts_with(to).then(|| {
                let mut out = from.to_vec();
                out.extend_from_slice(&p[to.len()..]);
                out
            })
        };
        self.urlpath_used
            .and_then(|i| self.hdr.map_urlpath.get(i))
            .and_then(rev)
            .or_else(|| self.hdr.map_urlpath.iter().find_map(rev))
    }

    /// A `Location` / `Content-Location` value remapped.
    pub fn uri(&self, v: &[u8]) -> Vec<u8> {
        let from_to = self.https.then_some((&b"http"[..], &b"https"[..]));
        remap_uri(v, from_to, |a| self.host(a), |p| self.path(p))
    }

    /// A `Set-Cookie` value with `Path=` and `Domain=` remapped.
    pub fn cookie(&self, v: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(v.len());
        for (i, part) in v.split(|&b| b == b';').enumerate() {
            if i > 0 {
                out.push(b';');
            }
            let lead = part.len() - part.trim_start().len();
            let attr = &part[lead..];
            let (name, value) = match attr.find_byte(b'=') {
                Some(e) => (&attr[..e], &attr[e + 1..]),
                None => (attr, &b""[..]),
            };
            // (blanks before the next `;` are not the value's, as lighttpd
            // reads it; they stay after the mapped value)
            let trail = &value[value.trim_end().len()..];
            let value = value.trim_end();
            let mapped = if i == 0 {
                None
            } else if name.eq_ignore_ascii_case(b"path") {
                // a quoted path is matched inside its quote (lighttpd)
                match value.strip_prefix(b"\"") {
                    Some(p) => self.path(p).map(|m| [&b"\""[..], &m].concat()),
                    None => self.path(value),
                }
            } else if name.eq_ignore_ascii_case(b"domain") {
                let (dot, d) = match value.strip_prefix(b".") {
                    Some(d) => (&b"."[..], d),
                    None => (&b""[..], value),
                };
                self.host(d).map(|h| [dot, &h].concat())
            } else {
                None
            };
            match mapped {
                Some(m) => {
                    out.extend_from_slice(&part[..lead]);
                    out.extend_from_slice(name);
                    out.push(b'=');
                    out.extend_from_slice(&m);
                    out.extend_from_slice(trail);
                }
                None => out.extend_from_slice(part),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ProxyHeader {
        ProxyHeader {
            map_host_request: vec![("-".into(), "backend.internal".into())],
            map_host_response: vec![("-".into(), "-".into())],
            map_urlpath: vec![
                ("/map/".into(), "/real/".into()),
                ("/map2".into(), "/r2".into()),
            ],
            ..ProxyHeader::default()
        }
    }

    /// The spec's observed example (proxy.md §5).
    #[test]
    fn spec_example() {
        let h = cfg();
        let mut rq = RequestRemap::new(&h, b"ex.org", false).expect("configured");
        assert_eq!(rq.target(b"/map/x?y"), b"/real/x?y");
        assert_eq!(rq.host(b"ex.org"), b"backend.internal");
        assert_eq!(
            rq.uri(b"http://ex.org/map/dest"),
            b"http://backend.internal/real/dest"
        );
        assert_eq!(
            rq.uri(b"https://ex.org/map2/cl"),
            b"https://backend.internal/r2/cl"
        );
        let rs =
            ResponseRemap::new(&h, b"ex.org", false, Some(rq.remembered())).expect("configured");
        assert_eq!(
            rs.uri(b"http://backend.internal/real/loc"),
            b"http://ex.org/map/loc"
        );
        assert_eq!(rs.uri(b"/r2/x"), b"/map2/x");
        assert_eq!(
            rs.cookie(b"s=1; Path=/real/p; Domain=backend.internal"),
            b"s=1; Path=/map/p; Domain=ex.org"
        );
        assert_eq!(
            rs.cookie(b"s=1; Domain=.backend.internal"),
            b"s=1; Domain=.ex.org"
        );
        // as lighttpd 1.4.69: a quoted path, blanks before the `;`
        assert_eq!(
            rs.cookie(b"s=1; Path=\"/real/p\"; Domain=backend.internal ; x"),
            b"s=1; Path=\"/map/p\"; Domain=ex.org ; x"
        );
        // an empty path is `/`, before the query (lighttpd appends it at
        // the end)
        assert_eq!(rs.uri(b"http://backend.internal"), b"http://ex.org/");
        assert_eq!(rs.uri(b"http://elsewhere:80"), b"http://elsewhere:80/");
        assert_eq!(
            rs.uri(b"http://backend.internal?a=1"),
            b"http://ex.org/?a=1"
        );
        assert_eq!(rs.uri(b"http://elsewhere/x"), b"http://elsewhere/x");
    }

    /// https-remap swaps the scheme of rewritten URIs only.
    #[test]
    fn https_remap() {
        let mut h = cfg();
        h.https_remap = true;
        let mut rq = RequestRemap::new(&h, b"127.0.0.1:18980", true).expect("configured");
        let _ = rq.host(b"127.0.0.1:18980");
        assert_eq!(
            rq.uri(b"https://127.0.0.1:18980/dest"),
            b"http://backend.internal/dest"
        );
        let rs = ResponseRemap::new(&h, b"127.0.0.1:18980", true, Some(rq.remembered()))
            .expect("configured");
        assert_eq!(
            rs.uri(b"http://backend.internal/loc"),
            b"https://127.0.0.1:18980/loc"
        );
        assert_eq!(rs.uri(b"http://elsewhere/x"), b"http://elsewhere/x");
        // another host's URI whose path maps keeps its scheme
        let mut h = h.clone();
        h.map_urlpath = vec![("/r/".into(), "/real/".into())];
        let mut rq = RequestRemap::new(&h, b"127.0.0.1:18980", true).expect("configured");
        let _ = rq.host(b"127.0.0.1:18980");
        assert_eq!(
            rq.uri(b"https://other.example/r/c"),
            b"https://other.example/real/c"
        );
        let rs = ResponseRemap::new(&h, b"127.0.0.1:18980", true, Some(rq.remembered()))
            .expect("configured");
        assert_eq!(
            rs.uri(b"http://other.example/real/loc"),
            b"http://other.example/r/loc"
        );
    }

    /// An empty value stops matching; without a request mapping the
    /// response key `-` matches nothing (1.4.69).
    #[test]
    fn empty_value_and_unmapped_dash() {
        let h = ProxyHeader {
            map_host_request: vec![("a.example".into(), "".into()), ("-".into(), "b".into())],
            map_host_response: vec![("-".into(), "c".into())],
            ..ProxyHeader::default()
        };
        let mut rq = RequestRemap::new(&h, b"a.example", false).expect("configured");
        assert_eq!(rq.host(b"a.example"), b"a.example");
        let rs =
            ResponseRemap::new(&h, b"a.example", false, Some(rq.remembered())).expect("configured");
        assert_eq!(rs.uri(b"http://a.example/x"), b"http://a.example/x");
    }
}
