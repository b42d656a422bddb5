//! What mod_accesslog needs from a request, gathered while it is handled
//! ([`Trail`]) and turned into a line when its response body is finished
//! or dropped ([`Pending`], carried to `body::Outgoing` as a response
//! extension). Nothing is gathered when the configuration logs nothing.

use std::time::SystemTime;

use bstr::BString;
use http::{HeaderMap, Response, StatusCode, Version};

use crate::modules::accesslog::{AccessLog, ConnStatus, Record};
use crate::routing::SocketId;

use super::body::Body;

/// The request side of an access-log line, and the settings that decide
/// where it goes (the top level's until the request is routed).
#[derive(Debug, Clone)]
pub struct Trail {
    /// `accesslog.*` in effect.
    pub log: AccessLog,
    start: SystemTime,
    method: BString,
    target: BString,
    protocol: &'static [u8],
    headers: HeaderMap,
    head_bytes: u64,
    /// `%h`: the client (after mod_extforward).
    pub remote: BString,
    /// `%V`: the normalised authority.
    pub host: BString,
    /// `%U`: the normalised, encoded path.
    pub uri_path: BString,
    /// `%q`.
    pub query: BString,
    /// `%f`: the file or directory the request mapped to.
    pub physical: Option<BString>,
    /// `%I`: body bytes read (a body that was read).
    pub body_in: u64,
    keepalive_count: u32,
    local_addr: String,
    local_port: Option<u16>,
    remote_port: u16,
    /// The client asked to close the connection after this request.
    client_close: bool,
    /// `%v`: `server.name`.
    pub server_name: BString,
    /// The connection's TLS client certificate: `%{…}e` reads its
    /// variables, `%u` its user (`ssl.verifyclient.username`).
    pub client_cert: Option<std::sync::Arc<crate::server::tls::ClientCert>>,
    /// `%u`: the user mod_auth let in.
    pub user: Option<BString>,
    /// The `Server` header wick adds itself (`server.tag`): not one the
    /// response brought (`%{Server}o`).
    pub own_server: Option<http::HeaderValue>,
}

impl Trail {
    /// Starts the trail of request `n` of its connection; `raw_target` is
    /// its target as it came when hyper was handed an encoded copy.
    pub fn new<B>(
        req: &http::Request<B>,
        log: &AccessLog,
        remote: &[u8],
        remote_port: u16,
        socket: &SocketId,
        n: u32,
        raw_target: Option<Vec<u8>>,
    ) -> Trail {
        let target = match (&raw_target, req.uri().path_and_query()) {
            (Some(raw), _) => raw.as_slice(),
            (None, Some(pq)) => pq.as_str().as_bytes(),
            (None, None) if req.method() == http::Method::CONNECT => req
                .uri()
                .authority()
                .map_or(&b""[..], |a| a.as_str().as_bytes()),
            (None, None) => b"",
        };
        let protocol: &'static [u8] = match req.version() {
            Version::HTTP_10 => b"HTTP/1.0",
            Version::HTTP_2 => b"HTTP/2.0",
            Version::HTTP_09 => b"HTTP/0.9",
            _ => b"HTTP/1.1",
        };
        // The head as it came: request line, header lines, blank line.
        // (an absolute-form target counts as sent, scheme and authority too)
        let sent_target = match req.uri().scheme() {
            Some(_) => req.uri().to_string().len(),
            None => target.len(),
        };
        let mut head_bytes = (req.method().as_str().len() + sent_target + 14) as u64;
        for (name, value) in req.headers() {
            head_bytes += (name.as_str().len() + value.len() + 4) as u64;
        }
        let (local_addr, local_port) = match socket.ip {
            Some(std::net::IpAddr::V6(ip)) => (format!("[{ip}]"), Some(socket.port)),
            Some(ip) => (ip.to_string(), Some(socket.port)),
            None => (socket.token.to_string(), None),
        };
        let asked = |token: &[u8]| {
            req.headers()
                .get_all(http::header::CONNECTION)
                .iter()
                .any(|v| {
                    v.as_bytes()
                        .split(|&b| b == b',')
                        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
                })
        };
        let client_close = match req.version() {
            Version::HTTP_10 => !asked(b"keep-alive"),
            Version::HTTP_11 => asked(b"close"),
            _ => false,
        };
        Trail {
            remote_port,
            client_close,
            server_name: BString::default(),
            client_cert: None,
            user: None,
            own_server: None,
            log: log.clone(),
            start: SystemTime::now(),
            method: BString::from(req.method().as_str()),
            target: BString::from(target),
            protocol,
            headers: req.headers().clone(),
            head_bytes,
            remote: BString::from(remote),
            host: BString::default(),
            uri_path: BString::default(),
            query: BString::default(),
            physical: None,
            body_in: 0,
            keepalive_count: n.saturating_sub(1),
            local_addr,
            local_port,
        }
    }

    /// A request whose head was refused before it was parsed, logged as
    /// lighttpd logs it: the request line as far as it was understood
    /// (the gate's [`REFUSED_LINE`](crate::server::gate::REFUSED_LINE)
    /// header), else an empty method, target and protocol; no request
    /// headers.
    pub fn refused(&mut self, request_line: Option<&[u8]>) {
        let (method, target, protocol) =
            crate::server::gate::refused_line(request_line.unwrap_or_default());
        self.method = BString::from(method);
        self.target = BString::from(target);
        self.protocol = protocol;
        self.headers.clear();
    }

    /// The request headers as modules changed them (mod_setenv).
    pub fn set_headers(&mut self, headers: &HeaderMap) {
        self.headers.clone_from(headers);
    }

    /// Attaches the line to be written when the response's body ends.
    pub fn attach(self, response: &mut Response<Body>) {
        if !self.log.is_enabled() {
            return;
        }
        let line = self.line(response);
        response.extensions_mut().insert(line);
    }

    /// The line of `response` (taking the served file's path from it).
    fn line(self, response: &mut Response<Body>) -> Pending {
        let status = response.status();
        let close = self.client_close
            || response
                .headers()
                .get(http::header::CONNECTION)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let mut head_out = head_size(status, response);
        if close && !response.headers().contains_key(http::header::CONNECTION) {
            // the server says it closes: "Connection: close\r\n"
            head_out += 19;
        }
        let mut headers = response.headers().clone();
        // lighttpd adds its own Server header only when writing the head;
        // a backend's is logged
        if self.own_server.is_some()
            && headers.get(http::header::SERVER) == self.own_server.as_ref()
        {
            headers.remove(http::header::SERVER);
        }
        let served = response
            .extensions_mut()
            .remove::<crate::modules::staticfile::ServedFile>();
        // lighttpd has no physical path for an error answer
        let physical = if status.as_u16() >= 400 {
            None
        } else if let Some(f) = served {
            Some(BString::from(f.0.into_os_string().into_encoded_bytes()))
        } else {
            self.physical.clone()
        };
        Pending(Box::new(Line {
            trail: Trail { physical, ..self },
            status: status.as_u16(),
            response_headers: headers,
            head_out,
            close,
        }))
    }
}

/// The size of the response head as it is written: status line, header
/// lines (with the `Date` line hyper adds), blank line.
fn head_size(status: StatusCode, response: &Response<Body>) -> u64 {
    let headers = response.headers();
    let reason = status.canonical_reason().map_or(0, str::len);
    let mut n = (9 + 4 + reason + 2) as u64;
    for (name, value) in headers {
        n += (name.as_str().len() + value.len() + 4) as u64;
    }
    // hyper's "Date: <29 bytes>\r\n" when there is none
    if !headers.contains_key(http::header::DATE) {
        n += 37;
    }
    // hyper's "content-length: N\r\n" for a body of known size that came
    // without a length (a static file's)
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if !bodiless
        && !headers.contains_key(http::header::CONTENT_LENGTH)
        && !headers.contains_key(http::header::TRANSFER_ENCODING)
    {
        if let Some(len) = http_body::Body::size_hint(response.body())
            .exact()
            .filter(|&l| l > 0)
        {
            n += "content-length: \r\n".len() as u64 + u64::from(len.ilog10() + 1);
        }
    }
    // the blank line
    n + 2
}

/// A line waiting for its response body to end.
#[derive(Debug, Clone)]
pub struct Pending(Box<Line>);

#[derive(Debug, Clone)]
struct Line {
    trail: Trail,
    status: u16,
    response_headers: HeaderMap,
    head_out: u64,
    close: bool,
}

impl Pending {
    /// Writes the line: `body_out` body bytes went out, `complete` when the
    /// whole body did.
    pub fn write(&self, body_out: u64, complete: bool) {
        let l = &self.0;
        let t = &l.trail;
        let remote = String::from_utf8_lossy(&t.remote);
        // %{REMOTE_USER}e and %{AUTH_TYPE}e after mod_auth let a user in
        let cert_env = t.client_cert.as_ref().map_or(&[][..], |c| &c.env);
        let env: std::borrow::Cow<'_, [(BString, BString)]> = match &t.user {
            None => std::borrow::Cow::Borrowed(cert_env),
            Some(user) => {
                let mut v = vec![
                    (BString::from("REMOTE_USER"), user.clone()),
                    (BString::from("AUTH_TYPE"), BString::from("Basic")),
                ];
                v.extend_from_slice(cert_env);
                std::borrow::Cow::Owned(v)
            }
        };
        let rec = Record {
            remote_addr: &remote,
            remote_port: t.remote_port,
            local_addr: &t.local_addr,
            local_port: t.local_port,
            remote_user: t.user.as_deref().map(|u| u.as_slice()).or_else(|| {
                t.client_cert
                    .as_ref()
                    .and_then(|c| c.user.as_deref())
                    .map(|u| u.as_slice())
            }),
            start: t.start,
            end: SystemTime::now(),
            method: &t.method,
            target: &t.target,
            protocol: t.protocol,
            uri_path: &t.uri_path,
            query: &t.query,
            status: l.status,
            bytes_in: t.head_bytes + t.body_in,
            bytes_out: l.head_out + body_out,
            body_out,
            request_headers: &t.headers,
            response_headers: &l.response_headers,
            host: &t.host,
            server_name: &t.server_name,
            physical_path: t.physical.as_deref().map(|p| p.as_slice()),
            env: &env,
            keepalive_count: t.keepalive_count,
            conn_status: if !complete {
                ConnStatus::Aborted
            } else if l.close {
                ConnStatus::Close
            } else {
                ConnStatus::KeepAlive
            },
        };
        t.log.log(&rec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail() -> Trail {
        let req = http::Request::get("/x").body(()).expect("request");
        let socket = SocketId {
            token: BString::from("127.0.0.1:80"),
            port: 80,
            ip: Some("127.0.0.1".parse().expect("ip")),
        };
        let log = crate::modules::accesslog::AccessLog::default();
        Trail::new(&req, &log, b"127.0.0.1", 1, &socket, 1, None)
    }

    fn with_headers(h: &HeaderMap, body: Body) -> Response<Body> {
        let mut r = Response::new(body);
        *r.headers_mut() = h.clone();
        r
    }

    #[test]
    fn head_size_counts_the_date_hyper_adds_once() {
        let mut h = HeaderMap::new();
        h.insert("content-length", http::HeaderValue::from_static("0"));
        // "HTTP/1.1 200 OK\r\n" + "content-length: 0\r\n" + Date + "\r\n"
        assert_eq!(
            head_size(StatusCode::OK, &with_headers(&h, Body::empty())),
            17 + 19 + 37 + 2
        );
        h.insert(
            http::header::DATE,
            http::HeaderValue::from_static("Sat, 21 Nov 2026 16:14:31 GMT"),
        );
        assert_eq!(
            head_size(StatusCode::OK, &with_headers(&h, Body::empty())),
            17 + 19 + 37 + 2
        );
    }

    /// A body of known size without a length header: hyper writes
    /// "content-length: N\r\n" (a static file's 200); not for a 304.
    #[test]
    fn head_size_counts_the_length_hyper_adds() {
        let h = HeaderMap::new();
        let body = || Body::full(vec![b'x'; 100]);
        assert_eq!(
            head_size(StatusCode::OK, &with_headers(&h, body())),
            17 + ("content-length: 100\r\n".len() as u64) + 37 + 2
        );
        assert_eq!(
            head_size(StatusCode::NOT_MODIFIED, &with_headers(&h, Body::empty())),
            27 + 37 + 2
        );
    }

    #[test]
    fn own_server_header_is_not_a_response_header() {
        let wick = http::HeaderValue::from_static("wick/0.1.0");
        let mut t = trail();
        t.own_server = Some(wick.clone());
        let mut mine = Response::new(Body::empty());
        mine.headers_mut()
            .insert(http::header::SERVER, wick.clone());
        let mut theirs = Response::new(Body::empty());
        theirs.headers_mut().insert(
            http::header::SERVER,
            http::HeaderValue::from_static("backend/1"),
        );
        let logged = |r: &mut Response<Body>, t: &Trail| {
            let Pending(line) = t.clone().line(r);
            line.response_headers.get(http::header::SERVER).cloned()
        };
        assert_eq!(logged(&mut mine, &t), None);
        assert_eq!(
            logged(&mut theirs, &t),
            Some(http::HeaderValue::from_static("backend/1"))
        );
    }
}
