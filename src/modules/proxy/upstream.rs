//! The request head sent to the backend, byte for byte as lighttpd's
//! mod_proxy writes it (spec proxy.md §3–§4), except for the final
//! `Connection` line when upstream keep-alive is on.

use bstr::ByteSlice;
use http::header::HeaderName;
use http::{HeaderMap, Method, Version};

use super::config::fwd;
use super::remap::RequestRemap;
use crate::request::hdr;

/// How the request body goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// This many bytes (the client's Content-Length, or a buffered body).
    Length(u64),
    /// Streamed with unknown length: re-chunked.
    Chunked,
}

/// Everything the upstream head is made of.
#[derive(Debug)]
pub struct HeadInput<'a> {
    /// The client's method.
    pub method: &'a Method,
    /// The client's HTTP version.
    pub version: Version,
    /// The client's headers.
    pub headers: &'a HeaderMap,
    /// The request target (normalised, after `map-urlpath`).
    pub target: &'a [u8],
    /// The `Host` line value (label, remapped or client host); `None`:
    /// no Host line and an HTTP/1.0 request line.
    pub host: Option<&'a [u8]>,
    /// The client's normalised Host (`X-Host`, `X-Forwarded-Host`,
    /// Forwarded `host=`); empty when it sent none.
    pub client_host: &'a [u8],
    /// The client address as text (IPv6 without brackets; a socket path
    /// for unix-socket clients).
    pub client_ip: &'a [u8],
    /// True when the client is on a unix socket.
    pub client_unix: bool,
    /// `http` / `https` (mod_extforward's, when it found one).
    pub scheme: &'a [u8],
    /// mod_extforward found another client: the connection's scheme, for
    /// Forwarded `proto=` (which, with `for=`, describes the hop itself:
    /// lighttpd then quotes the `for=` address too).
    pub hop_scheme: Option<&'a [u8]>,
    /// The server's address for Forwarded `by=`.
    pub by: &'a [u8],
    /// `proxy.forwarded` bits.
    pub forwarded: u8,
    /// The body.
    pub framing: Framing,
    /// `force-http10`.
    pub force_http10: bool,
    /// `proxy.header` `upgrade`.
    pub upgrade: bool,
    /// A WebSocket over HTTP/2 (extended CONNECT), sent upstream as an
    /// HTTP/1.1 GET asking to upgrade (as lighttpd sends it, with a key
    /// of its own when the client sent none).
    pub websocket: bool,
    /// Leave the backend connection open after the response.
    pub keep_alive: bool,
    /// Header names in canonical Title-Case (HTTP/1 clients).
    pub title_case: bool,
    /// `map-host-request` / `map-urlpath` for Destination / Content-Location.
    pub remap: Option<&'a RequestRemap<'a>>,
}

/// What the head says about the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeadInfo {
    /// `Upgrade` was forwarded.
    pub upgrade: bool,
    /// The request line says HTTP/1.0 (no keep-alive upstream).
    pub http10: bool,
    /// The head asks the backend to close after the response.
    pub close: bool,
}

/// Writes `name` as the client spelled it, or in Title-Case.
fn put_name(out: &mut Vec<u8>, name: &HeaderName, title_case: bool) {
    let n = name.as_str().as_bytes();
    if !title_case {
        out.extend_from_slice(n);
        return;
    }
    // Names whose usual spelling is not plain Title-Case.
    let special: &[u8] = match n {
        b"te" => b"TE",
        b"etag" => b"ETag",
        b"dnt" => b"DNT",
        b"www-authenticate" => b"WWW-Authenticate",
        b"content-md5" => b"Content-MD5",
        b"sec-websocket-key" => b"Sec-WebSocket-Key",
        b"sec-websocket-version" => b"Sec-WebSocket-Version",
        b"sec-websocket-protocol" => b"Sec-WebSocket-Protocol",
        b"sec-websocket-extensions" => b"Sec-WebSocket-Extensions",
        _ => b"",
    };
    if !special.is_empty() {
        out.extend_from_slice(special);
        return;
    }
    let mut up = true;
    for &b in n {
        out.push(if up { b.to_ascii_uppercase() } else { b });
        up = b == b'-';
    }
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `for="…"` of a prior X-Forwarded-For entry, or our own `for=`.
fn forwarded_for(out: &mut Vec<u8>, ip: &[u8], quote_v4: bool) {
    if ip.contains(&b':') {
        out.extend_from_slice(b"for=\"[");
        out.extend_from_slice(ip);
        out.extend_from_slice(b"]\"");
    } else if quote_v4 {
        out.extend_from_slice(b"for=\"");
        quoted(out, ip);
        out.push(b'"');
    } else {
        out.extend_from_slice(b"for=");
        out.extend_from_slice(ip);
    }
}

/// Escapes `"`, `\` and control characters with a backslash.
fn quoted(out: &mut Vec<u8>, v: &[u8]) {
    for &b in v {
        if b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Our element of the `Forwarded` header (RFC 7239): the enabled
/// parameters in lighttpd's order.
fn forwarded_element(out: &mut Vec<u8>, h: &HeadInput<'_>) {
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b';');
        }
    };
    if h.forwarded & fwd::FOR != 0 {
        sep(out);
        forwarded_for(out, h.client_ip, h.client_unix || h.hop_scheme.is_some());
    }
    if h.forwarded & fwd::BY != 0 {
        sep(out);
        out.extend_from_slice(b"by=\"");
        quoted(out, h.by);
        out.push(b'"');
    }
    if h.forwarded & fwd::PROTO != 0 {
        sep(out);
        out.extend_from_slice(b"proto=");
        out.extend_from_slice(h.hop_scheme.unwrap_or(h.scheme));
    }
    if h.forwarded & fwd::HOST != 0 && !h.client_host.is_empty() {
        sep(out);
        out.extend_from_slice(b"host=\"");
        quoted(out, h.client_host);
        out.push(b'"');
    }
}

/// Builds the upstream request head.
pub fn build(h: &HeadInput<'_>, out: &mut Vec<u8>) -> HeadInfo {
    let http11_client = h.version != Version::HTTP_10 && h.version != Version::HTTP_09;
    let http10 = h.force_http10 || h.host.is_none();
    out.extend_from_slice(if h.websocket {
        b"GET"
    } else {
        h.method.as_str().as_bytes()
    });
    out.push(b' ');
    out.extend_from_slice(h.target);
    out.extend_from_slice(if http10 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    if let Some(host) = h.host {
        line(out, b"Host", host);
    }
    if h.framing == Framing::Chunked {
        line(out, b"Transfer-Encoding", b"chunked");
    }
    let has_body = h.framing != Framing::None;
    let keep_tokens = http11_client && !h.force_http10;
    let mut te = false;
    let mut upgrade = false;
    let mut key = false;
    let mut conn_close_only = false;
    let mut client_connection = false;
    let (mut seen_cl, mut seen_fwd, mut seen_xff) = (false, false, false);
    let (mut seen_xhost, mut seen_xfhost, mut seen_xfproto) = (false, false, false);
    let mut last: Option<&HeaderName> = None;
    // HeaderMap yields every value of a name together, at the position of
    // the name's first occurrence.
    for (name, value) in h.headers {
        let v = value.as_bytes();
        let repeat = last == Some(name);
        last = Some(name);
        let n = name.as_str().as_bytes();
        match n {
            b"host" | b"transfer-encoding" | b"set-cookie" | b"proxy-connection" | b"proxy" => {
                continue;
            }
            b"connection" => {
                client_connection = true;
                conn_close_only = !repeat && v.trim().eq_ignore_ascii_case(b"close");
                continue;
            }
            b"te" => {
                if !(keep_tokens && v.trim().eq_ignore_ascii_case(b"trailers")) {
                    continue;
                }
                te = true;
            }
            b"upgrade" => {
                if !(h.upgrade && keep_tokens) {
                    continue;
                }
                upgrade = true;
            }
            b"sec-websocket-key" => key = true,
            b"expect" if has_body => continue,
            // joined into the first line below (a client's own
            // X-Forwarded-For lines, and Forwarded lines when wick adds
            // its element), or replaced by the one line wick writes (every
            // X-Forwarded-Proto; X-Host and X-Forwarded-Host when the
            // request has a host): a second line never reaches the
            // backend as the client sent it
            b"x-forwarded-for" | b"x-forwarded-proto" | b"cookie" if repeat => continue,
            b"x-host" | b"x-forwarded-host" if repeat && !h.client_host.is_empty() => continue,
            b"forwarded" if repeat && h.forwarded != 0 => continue,
            b"content-length" => {
                seen_cl = true;
                match h.framing {
                    Framing::Chunked => continue,
                    Framing::Length(len) => {
                        if !repeat {
                            put_name(out, name, h.title_case);
                            out.extend_from_slice(b": ");
                            out.extend_from_slice(len.to_string().as_bytes());
                            out.extend_from_slice(b"\r\n");
                        }
                        continue;
                    }
                    Framing::None if repeat => continue,
                    Framing::None => {}
                }
            }
            _ => {}
        }
        // (an empty line says nothing, except as the first of lines
        // joined into one)
        if v.is_empty()
            && n != b"x-forwarded-for"
            && !(n == b"forwarded" && h.forwarded != 0)
            && !(n == b"cookie" && h.headers.get_all(name).iter().any(|v| !v.is_empty()))
        {
            continue;
        }
        put_name(out, name, h.title_case);
        out.extend_from_slice(b": ");
        match n {
            b"x-forwarded-for" if !repeat => {
                // all lines of the client's header as one, then the client
                seen_xff = true;
                if hdr::join(h.headers, name, b", ", out) {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(h.client_ip);
            }
            b"cookie" if !repeat => {
                // one line, the values joined with `; ` (an HTTP/1.1
                // request carries one Cookie header, RFC 6265 §5.4; HTTP/2
                // clients may split it, RFC 9113 §8.2.3), as lighttpd
                // joins them
                hdr::join(h.headers, name, b"; ", out);
            }
            b"x-forwarded-proto" if !repeat => {
                seen_xfproto = true;
                out.extend_from_slice(h.scheme);
            }
            b"x-host" | b"x-forwarded-host" if !repeat && !h.client_host.is_empty() => {
                if n == b"x-host" {
                    seen_xhost = true;
                } else {
                    seen_xfhost = true;
                }
                out.extend_from_slice(h.client_host);
            }
            b"forwarded" if !repeat && h.forwarded != 0 => {
                // all lines of the client's header as one, then wick's
                // element (last: the nearest hop)
                seen_fwd = true;
                if hdr::join(h.headers, name, b", ", out) {
                    out.extend_from_slice(b", ");
                }
                forwarded_element(out, h);
            }
            b"destination" | b"content-location" => match h.remap {
                Some(r) => out.extend_from_slice(&r.uri(v)),
                None => out.extend_from_slice(v),
            },
            _ => out.extend_from_slice(v),
        }
        out.extend_from_slice(b"\r\n");
    }
    if !seen_cl {
        match h.framing {
            Framing::Length(n) => line(out, b"Content-Length", n.to_string().as_bytes()),
            Framing::None
                if *h.method != Method::GET && *h.method != Method::HEAD && !h.websocket =>
            {
                line(out, b"Content-Length", b"0")
            }
            _ => {}
        }
    }
    if h.forwarded != 0 && !seen_fwd {
        out.extend_from_slice(b"Forwarded: ");
        for xff in h.headers.get_all("x-forwarded-for") {
            for ip in xff.as_bytes().split(|&b| b == b',') {
                let ip = ip.trim();
                if !ip.is_empty() {
                    forwarded_for(out, ip, true);
                    out.extend_from_slice(b", ");
                }
            }
        }
        forwarded_element(out, h);
        out.extend_from_slice(b"\r\n");
    }
    if !seen_xff {
        line(out, b"X-Forwarded-For", h.client_ip);
    }
    if !h.client_host.is_empty() {
        if !seen_xhost {
            line(out, b"X-Host", h.client_host);
        }
        if !seen_xfhost {
            line(out, b"X-Forwarded-Host", h.client_host);
        }
    }
    if !seen_xfproto {
        line(out, b"X-Forwarded-Proto", h.scheme);
    }
    if h.websocket {
        if !key {
            // (any key does: the backend's answer to it is not checked)
            line(out, b"Sec-WebSocket-Key", b"MDAwMDAwMDAwMDAwMDAwMA==");
        }
        line(out, b"Upgrade", b"websocket");
        upgrade = true;
    }
    // lighttpd: "close", plus the hop-by-hop tokens forwarded, when the
    // client's own Connection header allowed them.
    let tokens = client_connection && !conn_close_only && keep_tokens;
    let te_tok = tokens && te;
    let up_tok = (tokens && upgrade) || h.websocket;
    let close = http10 || !h.keep_alive || up_tok || upgrade;
    let mut conn: Vec<&[u8]> = Vec::with_capacity(3);
    if close {
        conn.push(b"close");
    }
    if te_tok {
        conn.push(b"te");
    }
    if up_tok {
        conn.push(b"upgrade");
    }
    if !conn.is_empty() {
        line(out, b"Connection", &conn.join(&b", "[..]));
    }
    out.extend_from_slice(b"\r\n");
    HeadInfo {
        upgrade,
        http10,
        close,
    }
}

#[cfg(test)]
mod tests;
