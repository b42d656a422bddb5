//! The `proxy.*` directives: their values as requests use them, and the
//! start-up checks lighttpd's `mod_proxy_set_defaults` makes (spec
//! proxy.md §1, backend-manager.md §4).

use std::net::IpAddr;
use std::sync::Arc;

use bstr::BString;

use crate::backend::balance::Balance;
use crate::backend::{Extension, Extensions, Registry};
use crate::config::Diagnostic;
use crate::config::keys;
use crate::config::value::{Entry, Value, show};

/// `proxy.forwarded` parameters, as bits.
pub mod fwd {
    /// `for`
    pub const FOR: u8 = 1;
    /// `by`
    pub const BY: u8 = 2;
    /// `proto`
    pub const PROTO: u8 = 4;
    /// `host`
    pub const HOST: u8 = 8;
    /// `remote_user`
    pub const REMOTE_USER: u8 = 16;
}

/// `proxy.header`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyHeader {
    /// `map-host-request`: authority → authority (`-`: the client's Host).
    pub map_host_request: Vec<(BString, BString)>,
    /// `map-host-response`.
    pub map_host_response: Vec<(BString, BString)>,
    /// `map-urlpath`: path prefix → path prefix.
    pub map_urlpath: Vec<(BString, BString)>,
    /// `https-remap`.
    pub https_remap: bool,
    /// `upgrade`: pass `Upgrade` (WebSocket) through.
    pub upgrade: bool,
    /// `connect`: allow the CONNECT method.
    pub connect: bool,
    /// `force-http10`; `None`: the `server.feature-flags` default.
    pub force_http10: Option<bool>,
}

/// The `proxy.*` settings in effect for a request.
#[derive(Debug, Clone, Default)]
pub struct ProxySettings {
    /// `proxy.server`.
    pub server: Option<Arc<Extensions>>,
    /// `proxy.balance`.
    pub balance: Balance,
    /// `proxy.debug`.
    pub debug: u32,
    /// `proxy.map-extensions`.
    pub map_extensions: Arc<[(BString, BString)]>,
    /// `proxy.header`.
    pub header: Arc<ProxyHeader>,
    /// `proxy.forwarded` (bits of [`fwd`]).
    pub forwarded: u8,
    /// `proxy.replace-http-host`.
    pub replace_http_host: bool,
    /// `server.feature-flags` `"proxy.force-http10"`.
    pub force_http10_default: bool,
    /// `server.feature-flags` `"proxy.upstream-keep-alive"` (wick; default on).
    pub upstream_keep_alive: bool,
}

impl ProxySettings {
    /// The defaults (keep-alive to backends on).
    pub fn new() -> Self {
        ProxySettings {
            upstream_keep_alive: true,
            ..ProxySettings::default()
        }
    }

    /// Whether upstream requests speak HTTP/1.0.
    pub fn force_http10(&self) -> bool {
        self.header
            .force_http10
            .unwrap_or(self.force_http10_default)
    }
}

/// One change of a block to [`ProxySettings`].
#[derive(Debug, Clone)]
pub enum ProxySet {
    /// `proxy.server`
    Server(Arc<Extensions>),
    /// `proxy.balance`
    Balance(Balance),
    /// `proxy.debug`
    Debug(u32),
    /// `proxy.map-extensions`
    MapExtensions(Arc<[(BString, BString)]>),
    /// `proxy.header`
    Header(Arc<ProxyHeader>),
    /// `proxy.forwarded`
    Forwarded(u8),
    /// `proxy.replace-http-host`
    ReplaceHttpHost(bool),
    /// `server.feature-flags`: force-http10 default, upstream keep-alive.
    Features(bool, bool),
}

impl ProxySettings {
    /// Applies one change.
    pub fn apply(&mut self, set: &ProxySet) {
        match set {
            ProxySet::Server(e) => self.server = Some(e.clone()),
            ProxySet::Balance(b) => self.balance = *b,
            ProxySet::Debug(d) => self.debug = *d,
            ProxySet::MapExtensions(m) => self.map_extensions = m.clone(),
            ProxySet::Header(h) => self.header = h.clone(),
            ProxySet::Forwarded(f) => self.forwarded = *f,
            ProxySet::ReplaceHttpHost(r) => self.replace_http_host = *r,
            ProxySet::Features(f10, ka) => {
                self.force_http10_default = *f10;
                self.upstream_keep_alive = *ka;
            }
        }
    }
}

/// What compiling gateway directives needs: where hosts live, how names
/// resolve, and where warnings go.
pub struct GwContext<'a> {
    /// The hosts of this configuration.
    pub registry: &'a Registry,
    /// Resolves a host name (start-up only).
    pub resolve: &'a dyn Fn(&str) -> Result<IpAddr, String>,
    /// Warnings to report.
    pub warnings: Vec<Diagnostic>,
    /// mod_proxy is loaded (`proxy.*` keys are read).
    pub proxy: bool,
    /// mod_wstunnel is loaded (`wstunnel.*` keys are read).
    pub wstunnel: bool,
}

impl std::fmt::Debug for GwContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GwContext").finish_non_exhaustive()
    }
}

/// Resolves a host name with the system resolver, first address.
pub fn system_resolve(name: &str) -> Result<IpAddr, String> {
    use std::net::ToSocketAddrs;
    (name, 0)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| "no address".to_string())
}

/// Parses a `<module>.server` list and registers its hosts (shared by
/// mod_proxy and mod_wstunnel).
pub fn gateway_extensions(
    module: &str,
    entry: &Entry,
    ctx: &mut GwContext<'_>,
) -> Result<Arc<Extensions>, Vec<Diagnostic>> {
    let parsed = crate::backend::config::parse(module, entry, ctx.resolve)?;
    ctx.warnings.extend(parsed.warnings);
    let list = parsed
        .extensions
        .iter()
        .map(|e| {
            Arc::new(Extension::new(
                e.key.clone(),
                e.hosts.iter().map(|h| ctx.registry.host(h)).collect(),
            ))
        })
        .collect();
    Ok(Arc::new(Extensions { list }))
}

/// A `<module>.balance` value; a bad one warns and is least-connection.
pub fn balance(module: &str, entry: &Entry, ctx: &mut GwContext<'_>) -> Balance {
    let name = entry.value.as_str().cloned().unwrap_or_default();
    Balance::from_name(&name).unwrap_or_else(|| {
        ctx.warnings.push(
            Diagnostic::warning(format!(
                "{module}.balance `{}` is not one of fair, least-connection, round-robin, hash, sticky; least-connection is used",
                show(&name)
            ))
            .at(entry.span)
            .lighttpd(format!(
                "xxxxx.balance has to be one of: least-connection, round-robin, hash, sticky, but not: {}",
                show(&name)
            )),
        );
        Balance::LeastConnection
    })
}

/// A `<module>.debug` value.
pub fn debug_level(module: &str, entry: &Entry) -> Result<u32, Vec<Diagnostic>> {
    let err = || vec![Diagnostic::error(format!("{module}.debug expects a number")).at(entry.span)];
    match &entry.value {
        Value::Int(i) => Ok((*i).max(0) as u32),
        Value::Str(s) => match keys::parse_number(s) {
            Some(n) => Ok(n.max(0) as u32),
            None => Err(vec![
                Diagnostic::error(format!("{module}.debug expects a number"))
                    .at(entry.span)
                    .label(format!("found \"{}\"", show(s)))
                    .lighttpd(format!(
                        "got a string but expected an integer: {module}.debug {}",
                        show(s)
                    )),
            ]),
        },
        Value::Array(_) => Err(err()),
    }
}

/// `.from => .to` pairs (`<module>.map-extensions`).
pub fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Int(i) => Some(*i != 0),
        Value::Str(s) => keys::parse_bool(s),
        Value::Array(_) => None,
    }
}

/// A `<module>.map-extensions` value: `".from" => ".to"` entries.
pub fn map_extensions(
    module: &str,
    entry: &Entry,
) -> Result<Arc<[(BString, BString)]>, Vec<Diagnostic>> {
    pairs(&entry.value).map(Into::into).ok_or_else(|| {
        vec![
            Diagnostic::error(format!(
                "{module}.map-extensions expects \".from\" => \".to\" entries"
            ))
            .at(entry.span),
        ]
    })
}

/// `key => "string"` entries of an array.
fn pairs(v: &Value) -> Option<Vec<(BString, BString)>> {
    let Value::Array(a) = v else { return None };
    a.entries()
        .iter()
        .map(|e| match (&e.key, &e.value) {
            (Some(k), Value::Str(s)) => Some((k.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

/// Compiles one `proxy.*` entry (`key` lower-case). `Ok(None)` for keys
/// that are not mod_proxy's.
pub fn compile_entry(
    key: &[u8],
    entry: &Entry,
    ctx: &mut GwContext<'_>,
) -> Result<Option<ProxySet>, Vec<Diagnostic>> {
    let v = &entry.value;
    let one = |d: Diagnostic| vec![d.at(entry.span)];
    let set = match key {
        b"proxy.server" => ProxySet::Server(gateway_extensions("proxy", entry, ctx)?),
        b"proxy.balance" => ProxySet::Balance(balance("proxy", entry, ctx)),
        b"proxy.debug" => ProxySet::Debug(debug_level("proxy", entry)?),
        b"proxy.replace-http-host" => match flag(v) {
            Some(b) => ProxySet::ReplaceHttpHost(b),
            None => {
                return Err(one(
                    Diagnostic::error("proxy.replace-http-host expects \"enable\" or \"disable\"")
                        .lighttpd("ERROR: unexpected type for key: proxy.replace-http-host (string) \"(enable|disable)\""),
                ));
            }
        },
        b"proxy.map-extensions" => ProxySet::MapExtensions(map_extensions("proxy", entry)?),
        b"proxy.forwarded" => {
            let Value::Array(a) = v else {
                return Err(one(Diagnostic::error(
                    "proxy.forwarded expects \"param\" => \"enable\" entries",
                )));
            };
            let mut bits = 0u8;
            for e in a.entries() {
                let name = e.key.clone().unwrap_or_default();
                let bit = match name.as_slice() {
                    b"for" => fwd::FOR,
                    b"by" => fwd::BY,
                    b"proto" => fwd::PROTO,
                    b"host" => fwd::HOST,
                    b"remote_user" => fwd::REMOTE_USER,
                    _ => {
                        return Err(vec![
                            Diagnostic::error(format!(
                                "proxy.forwarded: unknown parameter `{}`",
                                show(&name)
                            ))
                            .at(e.span)
                            .help("the parameters are by, for, host, proto, remote_user")
                            .lighttpd(format!(
                                "proxy.forwarded keys must be one of: by, for, host, proto, remote_user, but not: {}",
                                show(&name)
                            )),
                        ]);
                    }
                };
                match flag(&e.value) {
                    Some(true) => bits |= bit,
                    Some(false) => bits &= !bit,
                    None => {
                        return Err(vec![
                            Diagnostic::error(format!(
                                "proxy.forwarded: `{}` expects \"enable\" or \"disable\"",
                                show(&name)
                            ))
                            .at(e.span)
                            .lighttpd(format!(
                                "proxy.forwarded values must be one of: 0, 1, enable, disable; error for key: {}",
                                show(&name)
                            )),
                        ]);
                    }
                }
            }
            ProxySet::Forwarded(bits)
        }
        b"proxy.header" => {
            let Value::Array(a) = v else {
                return Err(one(Diagnostic::error(
                    "proxy.header expects ( \"param\" => … ) entries",
                )));
            };
            let mut h = ProxyHeader::default();
            for e in a.entries() {
                let name = e.key.clone().unwrap_or_default();
                let boolean = |target: &mut bool| -> Result<(), Vec<Diagnostic>> {
                    match flag(&e.value) {
                        Some(b) => {
                            *target = b;
                            Ok(())
                        }
                        None => Err(vec![
                            Diagnostic::error(format!(
                                "proxy.header: `{}` expects \"enable\" or \"disable\"",
                                show(&name)
                            ))
                            .at(e.span)
                            .lighttpd(format!(
                                "unexpected value for proxy.header; expected \"{}\" => \"enable\" or \"disable\"",
                                show(&name)
                            )),
                        ]),
                    }
                };
                let map = |target: &mut Vec<(BString, BString)>| -> Result<(), Vec<Diagnostic>> {
                    match pairs(&e.value) {
                        Some(p) => {
                            *target = p;
                            Ok(())
                        }
                        None => Err(vec![shape(&name, e)]),
                    }
                };
                match name.as_slice() {
                    b"map-host-request" => map(&mut h.map_host_request)?,
                    b"map-host-response" => map(&mut h.map_host_response)?,
                    b"map-urlpath" => map(&mut h.map_urlpath)?,
                    b"https-remap" => boolean(&mut h.https_remap)?,
                    b"upgrade" => boolean(&mut h.upgrade)?,
                    b"connect" => boolean(&mut h.connect)?,
                    b"force-http10" => {
                        let mut b = false;
                        boolean(&mut b)?;
                        h.force_http10 = Some(b);
                    }
                    _ => return Err(vec![shape(&name, e)]),
                }
            }
            ProxySet::Header(Arc::new(h))
        }
        _ => return Ok(None),
    };
    Ok(Some(set))
}

fn shape(name: &[u8], e: &Entry) -> Diagnostic {
    Diagnostic::error(format!("proxy.header: unexpected value for `{}`", show(name)))
        .at(e.span)
        .help("the parameters are map-host-request, map-host-response, map-urlpath (( \"from\" => \"to\" ) lists), https-remap, upgrade, connect, force-http10 (\"enable\"/\"disable\")")
        .lighttpd(format!(
            "unexpected value for proxy.header; expected ( \"param\" => ( \"key\" => \"value\" ) ) near key {}",
            show(name)
        ))
}

/// The `server.feature-flags` entries mod_proxy reads: force-http10 and
/// wick's upstream keep-alive switch.
pub fn features(v: &Value) -> ProxySet {
    let get = |name: &[u8]| {
        v.as_array()
            .and_then(|a| a.get(name))
            .and_then(|e| flag(&e.value))
    };
    ProxySet::Features(
        get(b"proxy.force-http10").unwrap_or(false),
        get(b"proxy.upstream-keep-alive").unwrap_or(true),
    )
}
