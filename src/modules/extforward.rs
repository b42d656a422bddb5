//! mod_extforward: the client address (and scheme) a trusted proxy
//! reports in `X-Forwarded-For` / `Forwarded` (lighttpd:
//! `mod_extforward.c`).
//!
//! Only a request whose peer is a trusted forwarder is looked at. The
//! addresses of the first listed header present (all its lines, comma or
//! space separated) are walked from the right; trusted forwarders are
//! skipped and the first other address is the client — if it is a valid IP
//! address (otherwise nothing changes). With `"all" => "trust"` the
//! rightmost address is the client. `X-Forwarded-Proto: http|https` (or
//! `proto=` of the chosen `Forwarded` element) sets the scheme.
//! `extforward.params` is checked and, as in lighttpd 1.4.69, changes
//! nothing.
//! `$HTTP["remoteip"]`, `$HTTP["scheme"]`, mod_proxy's
//! `X-Forwarded-Proto` and the access log then see the forwarded values,
//! for this request only (mod_proxy's `X-Forwarded-For` still ends with
//! the connection's address, as lighttpd's does).

use std::net::IpAddr;
use std::sync::Arc;

use bstr::{BString, ByteSlice};
use http::HeaderMap;

use crate::config::Diagnostic;
use crate::config::cond::{RemoteAddr, parse_remote_addr};
use crate::config::value::{Entry, Value};
use crate::routing::Client;

/// Trusted forwarders.
#[derive(Debug, Clone, Default)]
pub struct Forwarders {
    /// `"all" => "trust"`.
    pub all: bool,
    /// Trusted addresses and networks.
    pub nets: Vec<RemoteAddr>,
}

/// The `extforward.*` settings in effect for a request.
#[derive(Debug, Clone)]
pub struct ExtforwardSettings {
    /// `extforward.forwarder` (`None`: module off).
    pub forwarders: Option<Arc<Forwarders>>,
    /// `extforward.headers` (lower case).
    pub headers: Arc<[BString]>,
}

impl Default for ExtforwardSettings {
    fn default() -> Self {
        ExtforwardSettings {
            forwarders: None,
            headers: vec![
                BString::from("x-forwarded-for"),
                BString::from("forwarded-for"),
            ]
            .into(),
        }
    }
}

/// One change of a block to [`ExtforwardSettings`].
#[derive(Debug, Clone)]
pub enum ExtforwardSet {
    /// `extforward.forwarder`
    Forwarders(Arc<Forwarders>),
    /// `extforward.headers`
    Headers(Arc<[BString]>),
}

impl ExtforwardSettings {
    /// Applies one change.
    pub fn apply(&mut self, set: &ExtforwardSet) {
        match set {
            ExtforwardSet::Forwarders(f) => self.forwarders = Some(f.clone()),
            ExtforwardSet::Headers(h) => self.headers = h.clone(),
        }
    }
}

/// What a trusted proxy reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The client address.
    pub client: IpAddr,
    /// The scheme, when reported.
    pub scheme: Option<&'static [u8]>,
}

impl Forwarders {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.all
            || self
                .nets
                .iter()
                .any(|n| crate::routing::cond::network_contains(n, &Client::Ip(ip)))
    }
}

fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    let s = s.trim_ascii();
    let s = s
        .strip_prefix(b"[")
        .and_then(|x| x.strip_suffix(b"]"))
        .unwrap_or(s);
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn scheme_of(v: &[u8]) -> Option<&'static [u8]> {
    let v = v.trim_ascii();
    if v.eq_ignore_ascii_case(b"https") {
        Some(b"https")
    } else if v.eq_ignore_ascii_case(b"http") {
        Some(b"http")
    } else {
        None
    }
}

/// The element of a list the client is: walked from the right, skipping
/// trusted forwarders (`None` when all are trusted).
fn pick<T>(items: &[T], addr: impl Fn(&T) -> Option<IpAddr>, f: &Forwarders) -> Option<usize> {
    if f.all {
        return items.len().checked_sub(1);
    }
    (0..items.len())
        .rev()
        .find(|&i| !addr(&items[i]).is_some_and(|ip| f.trusts(ip)))
}

impl ExtforwardSettings {
    /// What the request's trusted proxy reported, if anything.
    pub fn forwarded(&self, peer: &Client, headers: &HeaderMap) -> Option<Forwarded> {
        let f = self.forwarders.as_ref()?;
        let Client::Ip(peer) = peer else { return None };
        let peer = match peer {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(*peer, IpAddr::V4),
            a => *a,
        };
        if !f.trusts(peer) {
            return None;
        }
        for name in self.headers.iter() {
            let lines: Vec<&[u8]> = headers
                .get_all(name.to_str().ok()?)
                .iter()
                .map(|v| v.as_bytes())
                .collect();
            if lines.is_empty() {
                continue;
            }
            if name.as_slice() == b"forwarded" {
                return self.read_forwarded(&lines, f);
            }
            let items: Vec<&[u8]> = lines
                .iter()
                .flat_map(|l| l.split(|&b| b == b',' || b == b' '))
                .map(<[u8]>::trim_ascii)
                .filter(|s| !s.is_empty())
                .collect();
            let i = pick(&items, |s| parse_ip(s), f)?;
            let client = parse_ip(items[i])?;
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|v| scheme_of(v.as_bytes()));
            return Some(Forwarded { client, scheme });
        }
        None
    }

    /// RFC 7239 `Forwarded`: elements separated by `,`, pairs by `;`.
    fn read_forwarded(&self, lines: &[&[u8]], f: &Forwarders) -> Option<Forwarded> {
        let elements: Vec<Vec<(BString, BString)>> = lines
            .iter()
            .flat_map(|l| l.split(|&b| b == b','))
            .map(|e| {
                e.split(|&b| b == b';')
                    .filter_map(|p| {
                        let i = p.iter().position(|&b| b == b'=')?;
                        let k = p[..i].trim_ascii().to_ascii_lowercase();
                        let mut v = p[i + 1..].trim_ascii();
                        if let Some(u) = v.strip_prefix(b"\"").and_then(|x| x.strip_suffix(b"\"")) {
                            v = u;
                        }
                        Some((BString::from(k), BString::from(v)))
                    })
                    .collect()
            })
            .filter(|e: &Vec<(BString, BString)>| e.iter().any(|(k, _)| k == "for"))
            .collect();
        let get = |e: &Vec<(BString, BString)>, key: &str| {
            e.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        };
        let for_ip = |v: &BString| -> Option<IpAddr> {
            // for="[2001:db8::1]:4711" / for=192.0.2.60:8080 / for=192.0.2.60
            let s = v.as_slice();
            if let Some(rest) = s.strip_prefix(b"[") {
                let end = rest.iter().position(|&b| b == b']')?;
                return parse_ip(&rest[..end]);
            }
            parse_ip(s).or_else(|| {
                let i = s.iter().rposition(|&b| b == b':')?;
                parse_ip(&s[..i])
            })
        };
        let i = pick(&elements, |e| get(e, "for").as_ref().and_then(for_ip), f)?;
        let e = &elements[i];
        let client = get(e, "for").as_ref().and_then(for_ip)?;
        Some(Forwarded {
            client,
            scheme: get(e, "proto").and_then(|p| scheme_of(&p)),
        })
    }
}

/// Compiles an `extforward.*` value; `Ok(None)` for other keys.
pub fn compile(key: &[u8], entry: &Entry) -> Result<Option<ExtforwardSet>, Vec<Diagnostic>> {
    let name = String::from_utf8_lossy(key).into_owned();
    let err = |msg: String, span| Err(vec![Diagnostic::error(msg).at(span)]);
    match key {
        b"extforward.forwarder" => {
            let Value::Array(a) = &entry.value else {
                return err(
                    format!("{name} must be a list of \"address\" => \"trust\" pairs"),
                    entry.span,
                );
            };
            let mut f = Forwarders::default();
            for e in a.entries() {
                let (Some(k), Some(v)) = (e.key.as_ref(), e.value.as_str()) else {
                    return err(
                        format!("{name}: each entry must be \"address\" => \"trust\""),
                        e.span,
                    );
                };
                if !v.eq_ignore_ascii_case(b"trust") {
                    continue;
                }
                if k.eq_ignore_ascii_case(b"all") {
                    f.all = true;
                    continue;
                }
                match parse_remote_addr(k) {
                    Ok(n) => f.nets.push(n),
                    Err(_) => {
                        return err(
                            format!(
                                "{name}: `{}` is not an IP address or network",
                                String::from_utf8_lossy(k)
                            ),
                            e.span,
                        );
                    }
                }
            }
            Ok(Some(ExtforwardSet::Forwarders(Arc::new(f))))
        }
        b"extforward.headers" => {
            let list: Vec<BString> = match &entry.value {
                Value::Array(a) => a
                    .entries()
                    .iter()
                    .filter_map(|e| e.value.as_str())
                    .map(|s| BString::from(s.to_ascii_lowercase()))
                    .collect(),
                Value::Str(s) => vec![BString::from(s.to_ascii_lowercase())],
                Value::Int(_) => {
                    return err(format!("{name} must be a list of header names"), entry.span);
                }
            };
            Ok(Some(ExtforwardSet::Headers(list.into())))
        }
        b"extforward.params" => {
            let Value::Array(a) = &entry.value else {
                return err(
                    format!("{name} must be a list of \"param\" => 1 pairs"),
                    entry.span,
                );
            };
            for e in a.entries() {
                let Some(k) = e.key.as_ref() else { continue };
                if !matches!(k.to_ascii_lowercase().as_slice(), b"host" | b"remote_user") {
                    let k = String::from_utf8_lossy(k);
                    return Err(vec![
                        Diagnostic::error(format!(
                            "{name}: unknown parameter `{k}` (host, remote_user)"
                        ))
                        .at(e.span)
                        .lighttpd(format!(
                            "extforward.params keys must be one of: host, remote_user, but not: {k}"
                        )),
                    ]);
                }
            }
            // lighttpd 1.4.69 accepts both and changes neither the Host
            // nor the user with them.
            Ok(None)
        }
        b"extforward.hap-proxy" | b"extforward.hap-proxy-ssl-client-verify" => {
            if crate::routing::settings::to_bool(&entry.value) {
                err(
                    format!(
                        "{name} is not supported: wick does not read the HAProxy PROXY protocol"
                    ),
                    entry.span,
                )
            } else {
                Ok(None)
            }
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fw(nets: &[&str], all: bool) -> ExtforwardSettings {
        ExtforwardSettings {
            forwarders: Some(Arc::new(Forwarders {
                all,
                nets: nets
                    .iter()
                    .map(|n| parse_remote_addr(n.as_bytes()).expect("network"))
                    .collect(),
            })),
            ..Default::default()
        }
    }

    fn client(s: &ExtforwardSettings, lines: &[(&'static str, &'static str)]) -> Option<String> {
        let mut h = HeaderMap::new();
        for (k, v) in lines {
            h.append(*k, http::HeaderValue::from_static(v));
        }
        let peer = Client::Ip("127.0.0.1".parse().expect("ip"));
        s.forwarded(&peer, &h).map(|f| f.client.to_string())
    }

    #[test]
    fn walks_from_the_right_skipping_trusted() {
        let s = fw(&["127.0.0.1", "10.9.0.0/16"], false);
        let x = "x-forwarded-for";
        assert_eq!(client(&s, &[(x, "10.0.0.1")]).as_deref(), Some("10.0.0.1"));
        assert_eq!(
            client(&s, &[(x, "10.0.0.1, 10.9.1.1")]).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            client(&s, &[(x, "10.0.0.2, 10.0.0.1")]).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            client(&s, &[(x, "10.0.0.1"), (x, "10.0.0.2")]).as_deref(),
            Some("10.0.0.2")
        );
        assert_eq!(
            client(&s, &[("forwarded-for", "10.0.0.1")]).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(client(&s, &[("forwarded", "for=10.0.0.1")]), None);
        assert_eq!(client(&s, &[(x, "garbage")]), None);
        assert_eq!(
            client(&s, &[(x, "10.9.1.1")]),
            None,
            "all trusted: no change"
        );
        assert_eq!(client(&s, &[(x, "::1")]).as_deref(), Some("::1"));
    }

    #[test]
    fn all_takes_the_rightmost() {
        let s = fw(&[], true);
        let x = "x-forwarded-for";
        assert_eq!(
            client(&s, &[(x, "10.0.0.1, 10.0.0.2")]).as_deref(),
            Some("10.0.0.2")
        );
        assert_eq!(
            client(&s, &[(x, "10.0.0.1 10.0.0.2")]).as_deref(),
            Some("10.0.0.2")
        );
        assert_eq!(client(&s, &[(x, "10.0.0.1,garbage")]), None);
        assert_eq!(client(&s, &[(x, "10.0.0.2,10.0.0.1:80")]), None);
    }

    #[test]
    fn untrusted_peer_changes_nothing() {
        let s = fw(&["10.0.0.0/8"], false);
        assert_eq!(client(&s, &[("x-forwarded-for", "10.0.0.1")]), None);
    }

    #[test]
    fn forwarded_header_when_listed() {
        let mut s = fw(&["127.0.0.1"], false);
        s.headers = vec![BString::from("forwarded")].into();
        let mut h = HeaderMap::new();
        h.insert(
            "forwarded",
            http::HeaderValue::from_static(
                "for=9.9.9.9, for=\"[2001:db8::1]:4711\";proto=https;host=ex.org",
            ),
        );
        let peer = Client::Ip("127.0.0.1".parse().expect("ip"));
        let f = s.forwarded(&peer, &h).expect("forwarded");
        assert_eq!(f.client.to_string(), "2001:db8::1");
        assert_eq!(f.scheme, Some(&b"https"[..]));
    }
}
