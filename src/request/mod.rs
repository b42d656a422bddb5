//! One request, from parsed head to response (lighttpd: `request.c`,
//! `response.c`, the plugin phases of `plugin.h`).
//!
//! ```text
//! 1 check      method known (501), HTTP/1.0 + Upgrade (400), Host present,
//!              consistent and valid (400), request-target normalised per
//!              server.http-parseopts (400), body framing (400/411/413)
//! 2 route      conditions → effective settings (routing::RoutingTable)
//! 3 handle     OPTIONS * → 200; otherwise mod_staticfile / mod_indexfile
//! 4 errors     server.error-handler(-404) → server.errorfile-prefix → error page
//! 5 headers    Server, Connection: close when keep-alive ends
//! ```
//!
//! hyper parses the request line and headers; what it refuses never gets
//! here (see compat-tests/KNOWN-DIFFERENCES.md for its status codes).

pub mod body;
pub mod hdr;
pub mod host;
pub mod logging;
pub mod method;
pub mod respond;
pub mod spool;
pub mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bstr::BString;
use bytes::Bytes;
use http::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue, TRANSFER_ENCODING, UPGRADE,
};
use http::{Method, Request, Response, StatusCode, Version};

use crate::modules::staticfile::{self, FileRequest, Served};
use crate::routing::{Client, CondInput, ConnConds, RoutingTable, Settings, SocketId};
use body::Body;
use target::ParseOpts;

/// What requests need from the loaded configuration.
#[derive(Debug)]
pub struct Site {
    /// The compiled conditions and settings.
    pub routing: RoutingTable,
    /// `server.http-parseopts`.
    pub parse: ParseOpts,
    /// The stat cache of static files.
    pub files: crate::modules::filecache::FileCache,
    /// The gateway hosts of this configuration.
    pub registry: Arc<crate::backend::Registry>,
    /// The access logs of this configuration (mod_accesslog).
    pub logs: crate::modules::accesslog::SinkRegistry,
    /// True when some request may be logged.
    pub logging: bool,
    /// Where modules sit in `server.modules`, where that decides who runs.
    pub order: ModuleOrder,
    /// The TLS settings of the listeners that speak TLS.
    pub tls: crate::server::tls::TlsListeners,
}

/// The parts of the order of `server.modules` that change answers.
#[derive(Debug, Clone)]
pub struct ModuleOrder {
    /// mod_setenv is listed before mod_access (or mod_access is absent).
    pub setenv_before_access: bool,
    /// mod_setenv is listed before mod_redirect (or mod_redirect is absent).
    pub setenv_before_redirect: bool,
    /// What happens to a directory, in module order.
    pub dir_steps: Vec<staticfile::DirStep>,
    /// Where mod_auth checks credentials: 0 before mod_access, 1 between
    /// mod_access and mod_redirect, 2 after mod_redirect.
    pub auth_slot: u8,
}

impl ModuleOrder {
    /// From the list of modules lighttpd would load, in its order.
    pub fn from_modules(modules: &[String]) -> ModuleOrder {
        let at = |m: &str| modules.iter().position(|x| x == m);
        let before = |a: &str, b: &str| match (at(a), at(b)) {
            (Some(a), Some(b)) => a < b,
            _ => true,
        };
        let after = |a: &str, b: &str| matches!((at(a), at(b)), (Some(a), Some(b)) if a > b);
        let dir_steps = modules
            .iter()
            .filter_map(|m| match m.as_str() {
                "mod_indexfile" => Some(staticfile::DirStep::Index),
                "mod_dirlisting" => Some(staticfile::DirStep::List),
                "mod_staticfile" => Some(staticfile::DirStep::Refuse),
                _ => None,
            })
            .collect();
        ModuleOrder {
            setenv_before_access: before("mod_setenv", "mod_access"),
            setenv_before_redirect: before("mod_setenv", "mod_redirect"),
            dir_steps,
            auth_slot: if after("mod_auth", "mod_redirect") {
                2
            } else if after("mod_auth", "mod_access") {
                1
            } else {
                0
            },
        }
    }
}

/// What requests need from their connection.
#[derive(Debug)]
pub struct ConnInfo {
    /// The client, as the connection has it.
    pub peer: Peer,
    /// The client's port (0 on a unix socket).
    pub remote_port: u16,
    /// What the client's TLS certificate says, when one was asked for.
    pub client_cert: Option<Arc<crate::server::tls::ClientCert>>,
    /// The listener.
    pub socket: SocketId,
    /// The listener's address as Forwarded `by=` writes it.
    pub by: BString,
    /// Conditions decided for the whole connection.
    pub conds: ConnConds,
    /// Requests started on this connection.
    pub requests: AtomicU32,
    /// The tunnel an upgraded request runs (the connection lasts as long).
    pub tunnel: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The upgrade of the last request that asked for one (`Upgrade`,
    /// CONNECT): hyper hands the connection to it when the connection
    /// ends, switched or not, so that a connection whose request was
    /// answered without a switch is closed here (TLS close_notify), and
    /// one switched to HTTP/2 (`Upgrade: h2c`) goes on.
    pub upgrade: std::sync::Mutex<Option<KeptUpgrade>>,
    /// Targets that came with bytes hyper refuses, as they came (kept by
    /// the gate when the access log is on).
    pub raw_targets: Arc<crate::server::gate::RawTargets>,
    /// Where file bodies queue the parts the connection sends with
    /// `sendfile(2)`, when its socket can (plain TCP or unix socket).
    pub file_sends: Option<Arc<crate::server::sendfile::FileSends>>,
    /// The idle limits of the connection's latest routed request.
    pub idle: IdleLimits,
}

/// The header of the gate's stand-in for a refused head.
const REFUSED_LINE: http::header::HeaderName =
    http::header::HeaderName::from_static(crate::server::gate::REFUSED_LINE);

/// The idle limits (`server.max-read-idle`, `server.max-write-idle`,
/// `server.max-keep-alive-idle`) in force on a connection: conditions may
/// set them, so each routed request sets them for the rest of its
/// exchange and the idle time after it, as lighttpd's per-request
/// settings do. Until a request is routed, the listener's hold.
#[derive(Debug)]
pub struct IdleLimits {
    /// Seconds; `u32::MAX` until a request sets them.
    read: AtomicU32,
    write: AtomicU32,
    keep_alive: AtomicU32,
}

impl Default for IdleLimits {
    fn default() -> Self {
        IdleLimits {
            read: AtomicU32::new(u32::MAX),
            write: AtomicU32::new(u32::MAX),
            keep_alive: AtomicU32::new(u32::MAX),
        }
    }
}

impl IdleLimits {
    /// Takes a routed request's limits.
    pub fn set(&self, s: &Settings) {
        // (one task writes them: plain stores)
        self.read.store(s.max_read_idle, Ordering::Relaxed);
        self.write.store(s.max_write_idle, Ordering::Relaxed);
        self.keep_alive
            .store(s.max_keep_alive_idle, Ordering::Relaxed);
    }

    /// Read, write and keep-alive idle limits: the latest request's, or
    /// `listener`'s (read, write, keep-alive) before one set them.
    pub fn get(&self, listener: (Duration, Duration, Duration)) -> (Duration, Duration, Duration) {
        let pick = |v: &AtomicU32, d: Duration| match v.load(Ordering::Relaxed) {
            u32::MAX => d,
            s => Duration::from_secs(u64::from(s)),
        };
        (
            pick(&self.read, listener.0),
            pick(&self.write, listener.1),
            pick(&self.keep_alive, listener.2),
        )
    }
}

/// Who a request comes from: the connection's peer, or what a trusted
/// proxy reported (mod_extforward).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client.
    pub client: Client,
    /// The client as `$HTTP["remoteip"]` text.
    pub remote_text: BString,
    /// `http` or `https`.
    pub scheme: &'static [u8],
}

impl ConnInfo {
    /// Where a response to a request of `version` sends its files from:
    /// HTTP/1.x only (HTTP/2 frames a body, copying it).
    pub fn file_sends_for(
        &self,
        version: http::Version,
    ) -> Option<&Arc<crate::server::sendfile::FileSends>> {
        self.file_sends
            .as_ref()
            .filter(|_| version <= http::Version::HTTP_11)
    }

    /// Hands the connection over to a tunnel task.
    pub fn set_tunnel(&self, task: tokio::task::JoinHandle<()>) {
        *self.tunnel.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// The tunnel task, if the connection was handed over.
    pub fn take_tunnel(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.tunnel.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Keeps `upgrade`, the upgrade of a request that asked for one, in
    /// place of any earlier request's; `h2c_frames` when the request is
    /// answered with the switch to HTTP/2. Out of line and cold: hardly
    /// any request asks.
    #[cold]
    #[inline(never)]
    pub fn keep_upgrade(&self, upgrade: hyper::upgrade::OnUpgrade, h2c_frames: Option<Vec<u8>>) {
        *self.upgrade.lock().unwrap_or_else(|p| p.into_inner()) = Some(KeptUpgrade {
            upgrade,
            h2c_frames,
        });
    }

    /// The upgrade kept by [`ConnInfo::keep_upgrade`].
    pub fn take_upgrade(&self) -> Option<KeptUpgrade> {
        self.upgrade
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

/// What keeps an HTTP/2 stream's request in flight while the stream is a
/// tunnel (CONNECT, WebSocket over HTTP/2): the response of such a request
/// carries it, the connection's service puts the request's in-flight mark
/// in it, and the tunnel task holds it until the tunnel ends (the
/// response body, which holds the mark for other requests, ends with the
/// 200).
#[derive(Debug, Clone, Default)]
pub struct StreamHold(Arc<std::sync::Mutex<Option<crate::server::conn::InFlight>>>);

impl StreamHold {
    /// Keeps `mark` until the last holder is dropped.
    pub(crate) fn hold(&self, mark: crate::server::conn::InFlight) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(mark);
    }
}

/// The `:protocol` of an HTTP/2 extended CONNECT (RFC 8441), if the
/// request is one.
pub fn extended_connect(parts: &http::request::Parts) -> Option<&str> {
    if parts.method != Method::CONNECT || parts.version != Version::HTTP_2 {
        return None;
    }
    parts
        .extensions
        .get::<hyper::ext::Protocol>()
        .map(hyper::ext::Protocol::as_str)
}

/// Whether the request is a WebSocket over HTTP/2 (RFC 8441: CONNECT with
/// `:protocol` `websocket`, as lighttpd spells it: in lower case).
pub fn websocket_connect(parts: &http::request::Parts) -> bool {
    extended_connect(parts) == Some("websocket")
}

/// The upgrade of a connection's last request that asked for one.
#[derive(Debug)]
pub struct KeptUpgrade {
    /// Where hyper hands the connection over when it ends.
    pub upgrade: hyper::upgrade::OnUpgrade,
    /// The request's HEADERS frames as HTTP/2 stream 1, when it was
    /// answered with the switch (`Upgrade: h2c`).
    pub h2c_frames: Option<Vec<u8>>,
}

/// A status page for a request whose connection stays open (gateway
/// errors): `server.errorfile-prefix` or the standard page.
pub fn error_page(status: StatusCode, head_only: bool, settings: &Settings) -> Response<Body> {
    error_file(status, head_only, settings)
        .unwrap_or_else(|| respond::error_response(status, head_only))
}

/// A refused request's page; the connection closes after it.
pub fn refuse_page(status: StatusCode, head_only: bool, settings: &Settings) -> Response<Body> {
    refuse(status, head_only, settings)
}

/// A refused request: its error page (`server.errorfile-prefix` or the
/// standard one), and the connection closes after it.
fn refuse(status: StatusCode, head_only: bool, settings: &Settings) -> Response<Body> {
    let mut r = error_file(status, head_only, settings)
        .unwrap_or_else(|| respond::error_response(status, head_only));
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

/// `server.errorfile-prefix`: the page `<prefix><status>.html`, if it exists.
fn error_file(status: StatusCode, head_only: bool, s: &Settings) -> Option<Response<Body>> {
    let prefix = s.errorfile_prefix.as_ref()?;
    let mut p = prefix.to_vec();
    p.extend_from_slice(format!("{}.html", status.as_u16()).as_bytes());
    let path =
        std::path::PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&p));
    let page = std::fs::read(&path).ok()?;
    let len = page.len();
    let mut r = Response::new(if head_only {
        Body::empty()
    } else {
        Body::full(page)
    });
    *r.status_mut() = status;
    // its type as mimetype.assign has it (none when no entry matches)
    let m = s.mimetypes.lookup(&p);
    if let Some(v) = m.value.filter(|_| m.known) {
        r.headers_mut().insert(CONTENT_TYPE, v.clone());
    }
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    Some(r)
}

/// Handles one request (and leaves its access-log line, if any, in the
/// response's extensions).
pub async fn handle<B>(req: Request<B>, site: &Site, conn: &Arc<ConnInfo>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    // An HTTP/1.0 request keeps its connection only when it asked for
    // that (see `http10`).
    let http10_keep = (req.version() == Version::HTTP_10).then(|| http10_keep_alive(&req));
    // `server.protocol-http11 = "disable"` (where it holds): an HTTP/1.1
    // request is taken and answered as HTTP/1.0, and its connection closes
    let mut as_http10 = false;
    // (one call of `serve` for both: each call site would hold its own
    // copy of serve's future in this one)
    let mut trail = site.logging.then(|| begin_trail(&req, site, conn));
    let mut r = serve(req, site, conn, &mut trail, &mut as_http10).await;
    if let Some(t) = trail {
        t.attach(&mut r);
    }
    if let Some(keep) = http10_keep {
        http10(&mut r, keep);
    } else if as_http10 {
        // (hyper, which read HTTP/1.1, would keep the connection)
        *r.version_mut() = Version::HTTP_10;
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// Whether an HTTP/1.0 request asked to keep its connection.
#[cold]
#[inline(never)]
fn http10_keep_alive<B>(req: &Request<B>) -> bool {
    has_token(req.headers(), CONNECTION, b"keep-alive")
        && !has_token(req.headers(), CONNECTION, b"close")
}

/// The answer to an HTTP/1.0 request: HTTP/1.0, its connection kept only
/// when it asked for that (`keep`) and the answer does not close it, and
/// then said (`Connection: keep-alive`), as lighttpd does.
#[cold]
#[inline(never)]
fn http10(r: &mut Response<Body>, keep: bool) {
    if r.status() == StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    *r.version_mut() = Version::HTTP_10;
    if !r.headers().contains_key(CONNECTION) {
        let v = if keep { "keep-alive" } else { "close" };
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static(v));
    }
}

/// The access-log line of a request, begun before it is served.
fn begin_trail<B>(req: &Request<B>, site: &Site, conn: &Arc<ConnInfo>) -> logging::Trail {
    let n = conn.requests.load(Ordering::Relaxed) + 1;
    let mut t = logging::Trail::new(
        req,
        &site.routing.base.accesslog,
        &conn.peer.remote_text,
        conn.remote_port,
        &conn.socket,
        n,
        conn.raw_targets.take(n),
    );
    t.client_cert.clone_from(&conn.client_cert);
    t
}

/// Serves a request. `as_http10`: set when an HTTP/1.1 request is to be
/// answered as HTTP/1.0 (`server.protocol-http11` off for it).
async fn serve<B>(
    req: Request<B>,
    site: &Site,
    conn: &Arc<ConnInfo>,
    trail: &mut Option<logging::Trail>,
    as_http10: &mut bool,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let n = conn.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let head_only = req.method() == Method::HEAD;
    let (mut parts, body) = req.into_parts();
    let base = &site.routing.base;
    let http11 = parts.version == Version::HTTP_11;

    // 1. checks lighttpd makes before it looks at the configuration
    if parts.method.as_str() == crate::server::gate::REFUSED_METHOD
        || (head_only && hdr::contains(&parts.headers, &REFUSED_LINE))
    {
        // A head the gate refused (a HEAD one stays HEAD, with the line
        // that marks a refusal: a client that sends that header itself
        // only has its own request refused): its status's page, then
        // close.
        if let Some(t) = trail.as_mut() {
            let line = parts.headers.get(&REFUSED_LINE);
            t.refused(line.map(|v| v.as_bytes()));
        }
        let status = parts
            .uri
            .path()
            .strip_prefix('/')
            .and_then(|s| s.parse::<u16>().ok())
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        return finish(refuse(status, head_only, base), base);
    }
    if !method::is_known(parts.method.as_str().as_bytes()) {
        return finish(refuse(StatusCode::NOT_IMPLEMENTED, head_only, base), base);
    }
    if parts.version == Version::HTTP_10 && hdr::contains(&parts.headers, &UPGRADE) {
        return finish(refuse(StatusCode::BAD_REQUEST, head_only, base), base);
    }
    // A Transfer-Encoding other than `chunked` (on one line or several):
    // 501 (lighttpd). Two lengths, or a length with chunked, never get
    // here (server::gate).
    let chunked = hdr::contains(&parts.headers, &TRANSFER_ENCODING);
    if chunked
        && !parts
            .headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .all(|te| te.as_bytes().trim_ascii().eq_ignore_ascii_case(b"chunked"))
    {
        return finish(refuse(StatusCode::NOT_IMPLEMENTED, head_only, base), base);
    }
    let default_port = if conn.peer.scheme == b"https" {
        443
    } else {
        80
    };
    let host = match request_host(&parts, &site.parse, default_port) {
        Ok(h) => h,
        Err(status) => return finish(refuse(status, head_only, base), base),
    };
    if let Some(t) = trail.as_mut() {
        t.host = BString::from(host.as_slice());
    }
    if parts.method == Method::CONNECT {
        // An HTTP/2 extended CONNECT (RFC 8441) for a WebSocket goes the
        // way of any request, as CONNECT (mod_wstunnel, mod_proxy with
        // upgrades take it; other handlers refuse it); another protocol
        // is 405, as from lighttpd.
        match extended_connect(&parts) {
            None => {
                // (boxed: a CONNECT tunnel's future is large and rare,
                // and would make every request's future as large)
                let tunnel = Box::pin(connect(parts, body, site, conn, &host, n));
                return finish(tunnel.await, base);
            }
            Some("websocket") => {}
            Some(_) => {
                let r = error_page(StatusCode::METHOD_NOT_ALLOWED, false, base);
                return finish(r, base);
            }
        }
    }
    // (an HTTP/1.1 request without Host was refused above all the same)
    if http11 && !base.protocol_http11 {
        parts.version = Version::HTTP_10;
        *as_http10 = true;
    }
    let raw_target = parts
        .uri
        .path_and_query()
        .map_or(&b"/"[..], |pq| pq.as_str().as_bytes());
    // (before mod_setenv may change the headers)
    let content_length = content_length(&parts.headers);
    let announced = content_length.unwrap_or(0) > 0 || chunked;
    if parts.method == Method::OPTIONS && raw_target == b"*" {
        let mut r = staticfile::options();
        // mod_setenv runs for it with the top-level settings
        base.setenv.response(r.headers_mut());
        let mut headers_set = false;
        request_setenv(base, &mut headers_set, &mut parts.headers, trail);
        if let Some(t) = trail.as_mut() {
            t.uri_path = BString::from("*");
            t.server_name = BString::from(&base.server_name[..]);
        }
        keep_alive(&mut r, base, n);
        finish_in(&mut r, base);
        // (its body is not read either)
        return if announced {
            unread_body_closes(r, parts.version)
        } else {
            r
        };
    }
    let target = match target::normalize(raw_target, &site.parse) {
        Ok(t) => t,
        Err(e) => {
            return finish(
                refuse(
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                    head_only,
                    base,
                ),
                base,
            );
        }
    };
    // A body announced (a length, or chunks) with GET or HEAD: 400.
    if announced && matches!(parts.method, Method::GET | Method::HEAD) {
        return finish(refuse(StatusCode::BAD_REQUEST, head_only, base), base);
    }
    if parts.method == Method::POST
        && content_length.is_none()
        && !chunked
        && parts.version != Version::HTTP_2
    {
        return finish(refuse(StatusCode::LENGTH_REQUIRED, head_only, base), base);
    }

    // 2.–4. route, then the URL modules; a rewrite starts over
    let mut target = target;
    let mut peer: std::borrow::Cow<'_, Peer> = std::borrow::Cow::Borrowed(&conn.peer);
    let mut own_conds: Option<ConnConds> = None;
    let mut forwarded_checked = false;
    let mut rewriting = true;
    let mut rewrites = 0u32;
    let mut headers_set = false;
    let mut body = Some(body);
    macro_rules! cond_input {
        () => {
            CondInput {
                url: &target.path,
                host: &host,
                query: target.query.as_deref().unwrap_or_default(),
                method: parts.method.as_str().as_bytes(),
                scheme: peer.scheme,
                headers: &parts.headers,
                remote: &peer.client,
                remote_text: &peer.remote_text,
                socket: &conn.socket,
            }
        };
    }
    macro_rules! rewrite_ctx {
        ($input:expr) => {
            RewriteCtx {
                routing: &site.routing,
                input: &$input,
                target: &target,
                host: &host,
                scheme: peer.scheme,
                socket: &conn.socket,
                parse: &site.parse,
            }
        };
    }
    // One url.rewrite* stage: a rewritten target is routed again; a
    // rewrite that fails answers with its status.
    macro_rules! rewrite_stage {
        ($served:lifetime, $settings:expr, $list:expr, $input:expr, $when:expr) => {
            if let Some((result, once)) =
                rewrite_ctx!($input).apply($list, &mut rewrites, $when)
            {
                rewriting = !once;
                match result {
                    Ok(t) => {
                        target = t;
                        continue;
                    }
                    Err(status) => {
                        let r = error_page(status, head_only, $settings);
                        break $served done(r, $settings, n);
                    }
                }
            }
        };
    }
    // mod_auth: the request's rule, if its path has one, checked where
    // server.modules puts mod_auth
    macro_rules! auth_stage {
        ($served:lifetime, $slot:expr, $settings:expr) => {
            if site.order.auth_slot == $slot {
                if let Some(rule) = $settings
                    .auth
                    .rule_for(&target.path, $settings.force_lowercase_filenames)
                {
                    // (boxed: rare, and it would make every request's
                    // future larger)
                    let answer = Box::pin(auth_answer(
                        rule, $settings, &parts, &target, site, conn, trail, head_only,
                    ));
                    if let Some(r) = answer.await {
                        break $served done_by(r, $settings, n, headers_set);
                    }
                }
            }
        };
    }
    let response = 'served: {
        loop {
            let input = cond_input!();
            let conds = own_conds.as_ref().unwrap_or(&conn.conds);
            let route = site.routing.route(conds, &input);
            let settings = &route.settings;
            conn.idle.set(settings);
            if http11 {
                *as_http10 = !settings.protocol_http11;
                parts.version = if *as_http10 {
                    Version::HTTP_10
                } else {
                    Version::HTTP_11
                };
            }
            if let Some(t) = trail.as_mut() {
                t.log.clone_from(&settings.accesslog);
                t.remote.clone_from(&peer.remote_text);
                t.host = BString::from(host.as_slice());
                t.uri_path = BString::from(target.path_raw.as_slice());
                t.query = BString::from(target.query.as_deref().unwrap_or_default());
                t.server_name = BString::from(&settings.server_name[..]);
                t.own_server.clone_from(&settings.server_header);
            }
            if settings.log_condition_handling {
                for i in 1..site.routing.blocks.len() {
                    let holds = route.holds.contains(i);
                    tracing::info!(
                        "cond[{i}] {} {}",
                        site.routing.blocks[i].text,
                        if holds { "true" } else { "false" }
                    );
                }
            }

            // mod_extforward: a trusted proxy's client, then decide again
            if !forwarded_checked {
                forwarded_checked = true;
                if let Some(f) = settings
                    .extforward
                    .forwarded(&conn.peer.client, &parts.headers)
                {
                    let client = Client::Ip(f.client);
                    let p = Peer {
                        remote_text: client.text(),
                        client,
                        scheme: f.scheme.unwrap_or(conn.peer.scheme),
                    };
                    let fresh = CondInput {
                        remote: &p.client,
                        remote_text: &p.remote_text,
                        scheme: p.scheme,
                        ..input
                    };
                    own_conds = Some(site.routing.connection(&fresh));
                    peer = std::borrow::Cow::Owned(p);
                    continue;
                }
            }

            // mod_rewrite (before anything else)
            if rewriting {
                if let Some(list) = &settings.rewrite.rules {
                    rewrite_stage!('served, settings, list, input, || true);
                }
            }
            let limit = u64::from(settings.max_request_size_kib) * 1024;
            if limit > 0 && content_length.is_some_and(|l| l > limit) {
                break 'served finish(
                    refuse(StatusCode::PAYLOAD_TOO_LARGE, head_only, settings),
                    settings,
                );
            }

            // mod_setenv (request headers), mod_access, mod_redirect
            // mod_setenv runs where server.modules puts it: after mod_access
            // or mod_redirect, their answers go without its headers
            if site.order.setenv_before_access {
                request_setenv(settings, &mut headers_set, &mut parts.headers, trail);
            }
            auth_stage!('served, 0, settings);
            if !settings.access.is_off()
                && !settings
                    .access
                    .allows(&target.path, settings.force_lowercase_filenames)
            {
                if settings.log_request_handling {
                    tracing::info!(
                        "url denied as we match: {}",
                        String::from_utf8_lossy(&target.path)
                    );
                }
                let r = error_page(StatusCode::FORBIDDEN, head_only, settings);
                break 'served done_by(r, settings, n, headers_set);
            }
            auth_stage!('served, 1, settings);
            if site.order.setenv_before_redirect {
                request_setenv(settings, &mut headers_set, &mut parts.headers, trail);
            }
            let input = cond_input!();
            if let Some(list) = &settings.redirect.rules {
                let subject = target.uri();
                if let Some((rule, groups)) = list.first_match(&subject) {
                    let cond = cond_groups(&site.routing, list.block, &input, &rule.template);
                    let url = url_parts(&target, &host, peer.scheme, &conn.socket);
                    let location = rule.template.expand(&groups, &cond, &url);
                    let mut r = redirect(settings.redirect.code, &location, head_only);
                    if r.status() == StatusCode::OK && settings.range_requests {
                        r.headers_mut().insert(
                            http::header::ACCEPT_RANGES,
                            HeaderValue::from_static("bytes"),
                        );
                    }
                    break 'served done_by(r, settings, n, headers_set);
                }
            }

            auth_stage!('served, 2, settings);
            request_setenv(settings, &mut headers_set, &mut parts.headers, trail);
            let input = cond_input!();
            if let (Some(t), Some(root)) = (trail.as_mut(), settings.document_root.as_deref()) {
                t.physical = Some(BString::from(staticfile::join(root, &target.path)));
            }

            // 5. handle: mod_wstunnel takes WebSocket upgrades on its
            // extensions, mod_proxy its extensions, before static files
            if let Some(ext) = settings
                .wstunnel
                .server
                .as_ref()
                .filter(|_| crate::modules::wstunnel::wants(&parts))
                .and_then(|x| x.find(&target.path, &settings.wstunnel.map_extensions))
            {
                log_handling(settings, &parts.method, &target.path, " (mod_wstunnel)");
                let wreq = crate::modules::wstunnel::WsRequest {
                    parts: &mut parts,
                    conn,
                    peer: &peer,
                    settings,
                    ext,
                    registry: &site.registry,
                    path: &target.path,
                };
                let response = crate::modules::wstunnel::handle(wreq).await;
                break 'served done(response, settings, n);
            }
            if let Some(ext) = settings
                .proxy
                .server
                .as_ref()
                .and_then(|x| x.find(&target.path, &settings.proxy.map_extensions))
            {
                log_handling(settings, &parts.method, &target.path, " (mod_proxy)");
                let Some(body) = body.take() else {
                    break 'served done(
                        refuse(StatusCode::INTERNAL_SERVER_ERROR, head_only, settings),
                        settings,
                        n,
                    );
                };
                if let Some(t) = trail.as_mut() {
                    // a proxied request's body is read (a static file's is not
                    // counted, as in lighttpd)
                    t.body_in = content_length.unwrap_or(0);
                }
                let preq = crate::modules::proxy::ProxyRequest {
                    parts: &mut parts,
                    target: &target,
                    host: &host,
                    conn,
                    peer: &peer,
                    settings,
                    ext,
                    registry: &site.registry,
                    files: &site.files,
                    dir_steps: &site.order.dir_steps,
                };
                let response = crate::modules::proxy::handle(preq, body).await;
                break 'served done(response, settings, n);
            }

            // 6. the physical path: mod_alias, then url.rewrite-if-not-file
            let lower = settings.force_lowercase_filenames;
            let alias = match crate::modules::alias::map(&settings.alias, &target.path, lower) {
                crate::modules::alias::Mapped::Forbidden => {
                    let r = error_page(StatusCode::FORBIDDEN, head_only, settings);
                    break 'served done(r, settings, n);
                }
                crate::modules::alias::Mapped::Alias { root, rest } => Some((root, rest)),
                crate::modules::alias::Mapped::None => None,
            };
            if rewriting {
                if let Some(list) = &settings.rewrite.if_not_file {
                    let not_file = || !is_regular_file(settings, alias, &target.path, &site.files);
                    rewrite_stage!('served, settings, list, input, not_file);
                }
            }

            if let (Some(t), Some((root, rest))) = (trail.as_mut(), alias) {
                // as mod_alias builds it: the target and the rest, as written
                t.physical = Some(BString::from([root, rest].concat()));
            }
            let file_req = FileRequest {
                method: &parts.method,
                version: parts.version,
                path: &target.path,
                query: target.query.as_deref(),
                headers: &parts.headers,
                settings,
                cache: &site.files,
                sends: conn.file_sends_for(parts.version),
                alias,
                dir_steps: &site.order.dir_steps,
            };
            log_handling(settings, &parts.method, &target.path, "");
            let response = match staticfile::serve(&file_req) {
                Served::Response(r) => r,
                Served::Error(status) => error(status, &file_req),
            };
            break 'served done(response, settings, n);
        }
    };
    // A body nobody read (a static file, an error page, a redirect):
    // lighttpd answers without waiting for it (no 100 Continue) and
    // closes the connection after the answer (the gate lingers for what
    // the client still sends).
    if body.is_some() && announced {
        unread_body_closes(response, parts.version)
    } else {
        response
    }
}

/// `debug.log-request-handling`: which handler takes the request
/// (`module`: ` (mod_x)`, or empty for static files).
fn log_handling(settings: &Settings, method: &Method, path: &[u8], module: &str) {
    if settings.log_request_handling {
        tracing::info!(
            "-- handling {method} {}{module}",
            String::from_utf8_lossy(path)
        );
    }
}

/// Whether header `name` holds `token` in its comma-separated list (in
/// any case, on any of its lines).
pub(crate) fn has_token(h: &http::HeaderMap, name: http::header::HeaderName, token: &[u8]) -> bool {
    h.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
    })
}

/// The request's Content-Length (all digits: the gate refused any other
/// for HTTP/1).
pub(crate) fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    hdr::get(headers, &CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Whether the request announced a body: a length above 0, or chunks.
pub(crate) fn body_announced(headers: &http::HeaderMap) -> bool {
    hdr::contains(headers, &TRANSFER_ENCODING) || content_length(headers).unwrap_or(0) > 0
}

/// The answer to a request whose body was announced and not read: the
/// connection closes after it (HTTP/1; an HTTP/2 stream just ends).
fn unread_body_closes(mut response: Response<Body>, version: Version) -> Response<Body> {
    if matches!(version, Version::HTTP_10 | Version::HTTP_11) {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The last steps of a routed request's response: mod_setenv's response
/// headers, the client connection's `Connection` header, the headers
/// every response gets.
fn done(response: Response<Body>, settings: &Settings, n: u32) -> Response<Body> {
    done_by(response, settings, n, true)
}

/// [`done`]; `setenv` false when mod_setenv did not run for the request
/// (a module before it answered).
fn done_by(
    mut response: Response<Body>,
    settings: &Settings,
    n: u32,
    setenv: bool,
) -> Response<Body> {
    // lighttpd 1.4.69 sends a 416 without mod_setenv's headers
    if setenv
        && !settings.setenv.keeps_response()
        && response.status() != StatusCode::RANGE_NOT_SATISFIABLE
    {
        settings.setenv.response(response.headers_mut());
    }
    client_connection(&mut response, settings, n);
    finish_in(&mut response, settings);
    response
}

/// mod_setenv's request headers, once per request (`done` marks it).
#[inline]
fn request_setenv(
    settings: &Settings,
    done: &mut bool,
    headers: &mut http::HeaderMap,
    trail: &mut Option<logging::Trail>,
) {
    if *done {
        return;
    }
    *done = true;
    if settings.setenv.changes_nothing() {
        return;
    }
    settings.setenv.request(headers);
    if let Some(t) = trail.as_mut() {
        t.set_headers(headers);
    }
}

/// The groups `%0`–`%9` of block `block`'s condition for this request,
/// when `template` uses them.
fn cond_groups(
    routing: &RoutingTable,
    block: usize,
    input: &CondInput<'_>,
    template: &crate::modules::subst::Template,
) -> crate::modules::subst::Groups {
    if !template.uses_cond() {
        return Vec::new();
    }
    routing
        .blocks
        .get(block)
        .and_then(|b| b.cond.as_ref())
        .map(|c| c.captures(input))
        .unwrap_or_default()
}

/// What `${url.*}` reads.
fn url_parts<'a>(
    target: &'a target::Target,
    host: &'a [u8],
    scheme: &'a [u8],
    socket: &SocketId,
) -> crate::modules::subst::UrlParts<'a> {
    crate::modules::subst::UrlParts {
        scheme,
        authority: host,
        port: socket.port,
        path: &target.path_raw,
        query: target.query.as_deref(),
    }
}

/// What a rewrite reads from the request.
struct RewriteCtx<'a> {
    routing: &'a RoutingTable,
    input: &'a CondInput<'a>,
    target: &'a target::Target,
    host: &'a [u8],
    scheme: &'a [u8],
    socket: &'a SocketId,
    parse: &'a ParseOpts,
}

impl RewriteCtx<'_> {
    /// The first rule of `list` that matches the target, if `applies()`:
    /// the rewritten target (or the failure's status), and whether the
    /// rule ends rewriting.
    fn apply(
        &self,
        list: &crate::modules::rewrite::RewriteList,
        count: &mut u32,
        applies: impl FnOnce() -> bool,
    ) -> Option<(Result<target::Target, StatusCode>, bool)> {
        let subject = self.target.uri();
        let (rule, groups, once) = list.first_match(&subject)?;
        if !applies() {
            return None;
        }
        let cond = cond_groups(self.routing, list.list.block, self.input, &rule.template);
        let url = url_parts(self.target, self.host, self.scheme, self.socket);
        let new = rule.template.expand(&groups, &cond, &url);
        Some((rewritten(&new, &subject, count, self.parse), once))
    }
}

/// A rewritten target, checked and normalised: 404 for an empty result,
/// 500 for a result that is not a path or the rewrite past
/// [`MAX_REWRITES`], 400 for one that does not normalise.
fn rewritten(
    new: &[u8],
    old: &[u8],
    count: &mut u32,
    opts: &ParseOpts,
) -> Result<target::Target, StatusCode> {
    use crate::modules::rewrite::MAX_REWRITES;
    *count += 1;
    if new.is_empty() {
        // lighttpd 1.4.69 takes an empty result as a path no file has
        return Err(StatusCode::NOT_FOUND);
    }
    if *count > MAX_REWRITES {
        tracing::error!(
            "more than {MAX_REWRITES} rewrites of one request (a rewrite-rule loop?): {}",
            String::from_utf8_lossy(old)
        );
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    if !new.starts_with(b"/") {
        tracing::error!(
            "mod_rewrite: the result `{}` does not begin with '/' (rewriting {})",
            String::from_utf8_lossy(new),
            String::from_utf8_lossy(old)
        );
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    target::normalize(new, opts)
        .map_err(|e| StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST))
}

/// True when the request's physical path is a regular file
/// (`url.rewrite-if-not-file`).
fn is_regular_file(
    settings: &Settings,
    alias: Option<(&[u8], &[u8])>,
    path: &[u8],
    files: &crate::modules::filecache::FileCache,
) -> bool {
    let (root, rel) = match alias {
        Some(a) => a,
        None => match settings.document_root.as_deref() {
            Some(r) => (r, path),
            None => return false,
        },
    };
    let mut full = root.to_vec();
    if settings.force_lowercase_filenames {
        full.extend_from_slice(&rel.to_ascii_lowercase());
    } else {
        full.extend_from_slice(rel);
    }
    files.stat(&full).is_ok_and(|e| e.meta.is_file())
}

/// mod_redirect's answer.
fn redirect(code: u16, location: &[u8], head_only: bool) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    if let Ok(v) = HeaderValue::from_bytes(location) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    if !head_only {
        r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
    }
    r
}

/// The client connection's `Connection` header: close after
/// `server.max-keep-alive-requests` (see [`keep_alive`]); 101 keeps
/// `upgrade`. (HTTP/1.0's rules: [`http10`].)
fn client_connection(response: &mut Response<Body>, settings: &Settings, n: u32) {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    keep_alive(response, settings, n);
}

/// CONNECT: an authority-form target must be numeric (lighttpd's core
/// check, 400 otherwise; the gate applies it to HTTP/1 request lines);
/// origin- and absolute-form targets are taken too. Then mod_proxy with
/// `proxy.header "connect"` (the target is not where it connects), else
/// 405.
async fn connect<B>(
    mut parts: http::request::Parts,
    body: B,
    site: &Site,
    conn: &Arc<ConnInfo>,
    host: &[u8],
    n: u32,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let base = &site.routing.base;
    let url = match authority_form(&parts.uri) {
        Some(authority) => {
            if !authority
                .first()
                .is_some_and(|b| b.is_ascii_digit() || *b == b':')
            {
                return refuse(StatusCode::BAD_REQUEST, false, base);
            }
            authority.to_vec()
        }
        None => parts.uri.path().as_bytes().to_vec(),
    };
    let target = target::Target {
        path: url.clone(),
        path_raw: url,
        query: None,
    };
    let input = CondInput {
        url: &target.path,
        host,
        query: b"",
        method: parts.method.as_str().as_bytes(),
        scheme: conn.peer.scheme,
        headers: &parts.headers,
        remote: &conn.peer.client,
        remote_text: &conn.peer.remote_text,
        socket: &conn.socket,
    };
    let route = site.routing.route(&conn.conds, &input);
    let settings = &route.settings;
    let ext = settings
        .proxy
        .server
        .as_ref()
        .and_then(|x| x.find(b"", &[]).or_else(|| x.list.first()));
    let Some(ext) = ext else {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, false, settings);
    };
    let preq = crate::modules::proxy::ProxyRequest {
        parts: &mut parts,
        target: &target,
        host,
        conn,
        peer: &conn.peer,
        settings,
        ext,
        registry: &site.registry,
        files: &site.files,
        dir_steps: &site.order.dir_steps,
    };
    let mut r = crate::modules::proxy::handle(preq, body).await;
    client_connection(&mut r, settings, n);
    r
}

/// The target of a CONNECT in authority form (`host:port`: no scheme, no
/// path).
fn authority_form(uri: &http::Uri) -> Option<&[u8]> {
    match (uri.scheme(), uri.authority()) {
        (None, Some(a)) => Some(a.as_str().as_bytes()),
        _ => None,
    }
}

/// The request's authority: the absolute-form target's, else the Host
/// header, checked and normalised (lighttpd: `http_request_validate_host`).
fn request_host(
    parts: &http::request::Parts,
    opts: &ParseOpts,
    default_port: u16,
) -> Result<Vec<u8>, StatusCode> {
    // (an empty Host line is as if absent; names compare in any case)
    let (header, second) = hdr::first_two_where(&parts.headers, &HOST, |v| !v.is_empty());
    if let (Some(first), Some(second)) = (header, second) {
        if !first.as_bytes().eq_ignore_ascii_case(second.as_bytes()) {
            return Err(StatusCode::BAD_REQUEST);
        }
    }
    // (CONNECT's authority-form target is where to tunnel to, not the
    // request's host: lighttpd takes the Host header, and requires it in
    // HTTP/1.1, as for an origin-form target.)
    let from_uri = if parts.version != Version::HTTP_2 && authority_form(&parts.uri).is_some() {
        None
    } else {
        parts.uri.authority().map(|a| a.as_str().as_bytes())
    };
    let raw = match (from_uri, header) {
        (Some(a), Some(h))
            if parts.version != Version::HTTP_2 && !a.eq_ignore_ascii_case(h.as_bytes()) =>
        {
            return Err(StatusCode::BAD_REQUEST);
        }
        (Some(a), _) => a,
        (None, Some(h)) => h.as_bytes(),
        (None, None) if parts.version == Version::HTTP_11 => return Err(StatusCode::BAD_REQUEST),
        (None, None) => return Ok(Vec::new()),
    };
    if raw.is_empty() && parts.version == Version::HTTP_10 {
        return Ok(Vec::new());
    }
    host::normalize_host_with_port(raw, opts, default_port).map_err(|_| StatusCode::BAD_REQUEST)
}

/// mod_auth's answer to a request under `rule`: `None` lets it in (its
/// user goes to the access log); else the 401 (with the rule's challenge
/// for Basic; wrong credentials late and closing the connection), 400 or
/// 500, with `server.error-handler`'s page unless that page is under a
/// rule itself (lighttpd checks it as a request).
#[allow(clippy::too_many_arguments)]
async fn auth_answer(
    rule: &crate::modules::auth::Rule,
    settings: &Settings,
    parts: &http::request::Parts,
    target: &target::Target,
    site: &Site,
    conn: &ConnInfo,
    trail: &mut Option<logging::Trail>,
    head_only: bool,
) -> Option<Response<Body>> {
    use crate::modules::auth::{self, Verdict};
    let authorization = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let extern_user = conn.client_cert.as_ref().and_then(|c| c.user.as_deref());
    let verdict = auth::check(
        &settings.auth,
        rule,
        authorization,
        extern_user.map(|u| u.as_slice()),
    )
    .await;
    let status = match verdict {
        Verdict::User(user) => {
            if let Some(t) = trail.as_mut() {
                t.user = Some(user);
            }
            return None;
        }
        Verdict::Unauthorized | Verdict::Refused | Verdict::Wrong => StatusCode::UNAUTHORIZED,
        Verdict::BadRequest => StatusCode::BAD_REQUEST,
        Verdict::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if verdict == Verdict::Wrong && !settings.auth.no_delay {
        tokio::time::sleep(auth::WRONG_DELAY).await;
    }
    let lower = settings.force_lowercase_filenames;
    let handler_ruled = settings.error_handler.as_deref().is_some_and(|h| {
        let path = h.split(|&b| b == b'?').next().unwrap_or_default();
        settings.auth.rule_for(path, lower).is_some()
    });
    let mut r = if handler_ruled {
        error_page(status, head_only, settings)
    } else {
        let req = FileRequest {
            method: &parts.method,
            version: parts.version,
            path: &target.path,
            query: target.query.as_deref(),
            headers: &parts.headers,
            settings,
            cache: &site.files,
            sends: None,
            alias: None,
            dir_steps: &site.order.dir_steps,
        };
        error(status, &req)
    };
    if verdict == Verdict::Wrong {
        // (lighttpd ends the connection after wrong credentials)
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    if status == StatusCode::UNAUTHORIZED && rule.method == auth::Method::Basic {
        r.headers_mut()
            .insert(http::header::WWW_AUTHENTICATE, rule.challenge.clone());
    }
    Some(r)
}

/// `server.error-intercept`: the answer in place of a backend's error
/// response (`status` 400 and up), made as for an error of wick's own; a
/// 401 keeps the backend's `WWW-Authenticate` challenges, and nothing else
/// of the backend's answer is kept (as lighttpd).
pub fn intercepted(
    status: StatusCode,
    req: &FileRequest<'_>,
    backend: &http::HeaderMap,
) -> Response<Body> {
    let mut r = error(status, req);
    if status == StatusCode::UNAUTHORIZED {
        for v in backend.get_all(http::header::WWW_AUTHENTICATE) {
            r.headers_mut()
                .append(http::header::WWW_AUTHENTICATE, v.clone());
        }
    }
    r
}

/// An error response: `server.error-handler` / `server.error-handler-404`
/// (served as a static file, keeping the status), `server.errorfile-prefix`
/// (`<prefix><status>.html`), or the standard page.
fn error(status: StatusCode, req: &FileRequest<'_>) -> Response<Body> {
    let s = req.settings;
    let head_only = *req.method == Method::HEAD;
    let page = |status: StatusCode| error_page(status, head_only, s);
    // 412 and 416 get their page, never a handler (lighttpd).
    if matches!(
        status,
        StatusCode::PRECONDITION_FAILED | StatusCode::RANGE_NOT_SATISFIABLE
    ) {
        return page(status);
    }
    // a handler's path and query (one that is not a path is not taken)
    fn target(h: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
        if !h.starts_with(b"/") {
            return None;
        }
        Some(match h.iter().position(|&b| b == b'?') {
            Some(i) => (&h[..i], Some(&h[i + 1..])),
            None => (h, None),
        })
    }
    if let Some((path, query)) = s.error_handler.as_deref().and_then(target) {
        // server.error-handler (it wins over the 404 one): the page as a
        // GET (HEAD stays HEAD) with the request's validators but no
        // ranges; only a 200 is taken, and it keeps the error status.
        let get = Method::GET;
        let mut headers = req.headers.clone();
        headers.remove(http::header::RANGE);
        headers.remove(http::header::IF_RANGE);
        let method = if head_only { req.method } else { &get };
        if let Served::Response(mut r) =
            staticfile::serve(&handler_request(req, path, query, method, &headers))
        {
            if r.status() == StatusCode::OK {
                *r.status_mut() = status;
                r.headers_mut().remove(http::header::ACCEPT_RANGES);
                return r;
            }
        }
        return page(status);
    }
    if matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) {
        if let Some((path, query)) = s.error_handler_404.as_deref().and_then(target) {
            // server.error-handler-404: served in the request's place, as
            // an internal rewrite (its method and headers: 304, 206, 412,
            // OPTIONS…); lighttpd 1.4.69 answers the page itself with 200.
            return match staticfile::serve(&handler_request(
                req,
                path,
                query,
                req.method,
                req.headers,
            )) {
                Served::Response(r) => r,
                Served::Error(e)
                    if matches!(
                        e,
                        StatusCode::PRECONDITION_FAILED | StatusCode::NOT_IMPLEMENTED
                    ) =>
                {
                    page(e)
                }
                Served::Error(_) => page(status),
            };
        }
    }
    page(status)
}

/// The request for an error handler's page `path` in `req`'s place.
fn handler_request<'a>(
    req: &FileRequest<'a>,
    path: &'a [u8],
    query: Option<&'a [u8]>,
    method: &'a Method,
    headers: &'a http::HeaderMap,
) -> FileRequest<'a> {
    FileRequest {
        method,
        version: req.version,
        path,
        query,
        headers,
        settings: req.settings,
        cache: req.cache,
        sends: req.sends,
        alias: None,
        dir_steps: req.dir_steps,
    }
}

/// Ends keep-alive after `server.max-keep-alive-requests` requests, or
/// at once with `server.max-keep-alive-idle = 0`.
fn keep_alive(r: &mut Response<Body>, s: &Settings, n: u32) {
    if s.max_keep_alive_requests == 0
        || n >= s.max_keep_alive_requests.saturating_add(1)
        || s.max_keep_alive_idle == 0
    {
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
}

/// Headers every response gets.
fn finish(mut r: Response<Body>, s: &Settings) -> Response<Body> {
    finish_in(&mut r, s);
    r
}

/// [`finish`] in place.
fn finish_in(r: &mut Response<Body>, s: &Settings) {
    respond::add_server_header(r, s);
    if let Some(reason) = respond::own_reason(r.status()) {
        r.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(reason));
    }
}
