//! TLS with rustls: lighttpd's `ssl.*` directives for a listener, the
//! certificate chosen per SNI name as lighttpd chooses it (`ssl.pemfile`
//! in `$HTTP["host"]` blocks), ALPN, client certificates (lighttpd:
//! `mod_openssl.c`).
//!
//! ```text
//! listener token ── ssl.* of the top level, then of $SERVER["socket"] == token
//!                   └─ $HTTP["host"] blocks (top level or in that socket block) with ssl.pemfile:
//!                      at the handshake, the SNI name is matched against them in block order,
//!                      the last that matches gives the certificate; none: the socket's own
//! ```
//!
//! Certificates and keys are read when the configuration is prepared
//! (before privileges are dropped, and again on SIGUSR1).

use std::collections::HashMap;
use std::sync::Arc;

use bstr::BString;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use tokio_rustls::rustls::sign::CertifiedKey;

use crate::config::Config;
use crate::config::Diagnostic;
use crate::config::ast::CondOp;
use crate::config::check::check_type;
use crate::config::cond::Field;
use crate::config::keys::KeyType;
use crate::config::source::Span;
use crate::config::tree::BlockKind;
use crate::config::value::{Array, Entry, Value, show};
use crate::routing::settings::{to_bool, to_number};
use crate::routing::{Client, CompiledCond, CondInput, RoutingTable, SocketId};

use super::listener::ListenerConfig;

/// The TLS configurations of a configuration's listeners, by listener
/// token (`$SERVER["socket"]` text).
#[derive(Default, Clone)]
pub struct TlsListeners {
    by_token: HashMap<BString, Arc<ListenerTls>>,
}

impl std::fmt::Debug for TlsListeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.by_token.keys()).finish()
    }
}

/// A TLS listener's configurations: one per application protocol a client
/// may prefer, so that ALPN follows the client's order (as OpenSSL's
/// selection in lighttpd does; rustls itself follows the server's).
pub struct ListenerTls {
    /// The listener's own configurations.
    base: ConfigSet,
    /// Those of `$HTTP["host"]` blocks with their own `ssl.verifyclient.*`,
    /// with the blocks' host conditions, in block order.
    by_host: Vec<(Vec<CompiledCond>, ConfigSet)>,
    /// The listener, for conditions that read it.
    socket: SocketId,
}

/// One client-certificate policy's configurations, by preferred protocol.
struct ConfigSet {
    /// (protocol, configuration listing it first), in the listener's
    /// order: the first is also for clients that offer none of them (or
    /// no ALPN at all).
    by_first: Vec<(&'static [u8], Arc<rustls::ServerConfig>)>,
    /// `ssl.verifyclient.*` when activated.
    client: Option<ClientPolicy>,
}

/// What is done with a client certificate once the handshake is over.
struct ClientPolicy {
    verifier: Arc<ClientVerifier>,
    /// `ssl.verifyclient.username`: the variable that names the user.
    username: Option<BString>,
    /// `ssl.verifyclient.exportcert`: the certificate as `SSL_CLIENT_CERT`.
    exportcert: bool,
}

/// What a client's certificate tells the requests of its connection
/// (lighttpd's `SSL_CLIENT_*` variables, and the user).
#[derive(Debug, Clone, Default)]
pub struct ClientCert {
    /// `SSL_CLIENT_VERIFY` (`NONE`, `SUCCESS`, `FAILED:…`), and for a
    /// verified certificate `SSL_CLIENT_S_DN`, `SSL_CLIENT_S_DN_<attr>`,
    /// `SSL_CLIENT_CERT` (with `exportcert`).
    pub env: Vec<(BString, BString)>,
    /// The user `ssl.verifyclient.username` names (`%u`).
    pub user: Option<BString>,
}

impl ClientPolicy {
    /// The variables of a finished handshake.
    fn describe(&self, chain: Option<&[CertificateDer<'_>]>) -> ClientCert {
        let mut out = ClientCert::default();
        let Some((end, intermediates)) = chain.and_then(|c| c.split_first()) else {
            out.env.push(("SSL_CLIENT_VERIFY".into(), "NONE".into()));
            return out;
        };
        // With enforce, a chain that is there passed the check during the
        // handshake (or the handshake failed): no second check.
        let verdict = if self.verifier.enforce {
            Ok(())
        } else {
            self.verifier.check(end, intermediates)
        };
        if let Err(e) = verdict {
            out.env
                .push(("SSL_CLIENT_VERIFY".into(), format!("FAILED:{e}").into()));
            return out;
        }
        out.env.push(("SSL_CLIENT_VERIFY".into(), "SUCCESS".into()));
        if let Ok((_, cert)) = x509_parser::parse_x509_certificate(end.as_ref()) {
            let subject = cert.subject();
            out.env
                .push(("SSL_CLIENT_S_DN".into(), oneline(subject).into()));
            let attrs = [
                ("CN", subject.iter_common_name().collect::<Vec<_>>()),
                ("O", subject.iter_organization().collect()),
                ("OU", subject.iter_organizational_unit().collect()),
                ("C", subject.iter_country().collect()),
                ("ST", subject.iter_state_or_province().collect()),
                ("L", subject.iter_locality().collect()),
                ("emailAddress", subject.iter_email().collect()),
            ];
            for (name, values) in attrs {
                if let Some(v) = values.first().and_then(|a| a.as_str().ok()) {
                    out.env
                        .push((format!("SSL_CLIENT_S_DN_{name}").into(), v.into()));
                }
            }
        }
        if self.exportcert {
            let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, end);
            let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
            for line in b64.as_bytes().chunks(64) {
                pem.push_str(&String::from_utf8_lossy(line));
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
            out.env.push(("SSL_CLIENT_CERT".into(), pem.into()));
        }
        if let Some(var) = &self.username {
            out.user = out
                .env
                .iter()
                .find(|(k, _)| k == var)
                .map(|(_, v)| v.clone());
        }
        out
    }
}

/// A distinguished name as lighttpd writes `SSL_CLIENT_S_DN` (OpenSSL's
/// `X509_NAME_print_ex` with `XN_FLAG_ONELINE`): `C = DE, O = Example, CN =
/// name`, short attribute names; a value with `,+<>;` in quotes, `"` and
/// `\` escaped, bytes other than printable ASCII as `\XX`.
fn oneline(name: &x509_parser::x509::X509Name<'_>) -> String {
    use std::fmt::Write;
    let registry = x509_parser::objects::oid_registry();
    let mut out = String::new();
    for attr in name.iter().flat_map(|rdn| rdn.iter()) {
        let oid = attr.attr_type();
        let id = oid.to_id_string();
        let key = match id.as_str() {
            "2.5.4.3" => "CN",
            "2.5.4.6" => "C",
            "2.5.4.7" => "L",
            "2.5.4.8" => "ST",
            "2.5.4.10" => "O",
            "2.5.4.11" => "OU",
            "1.2.840.113549.1.9.1" => "emailAddress",
            id => x509_parser::objects::oid2abbrev(oid, registry).unwrap_or(id),
        };
        if !out.is_empty() {
            out.push_str(", ");
        }
        let _ = write!(out, "{key} = ");
        let value: &[u8] = match attr.as_str() {
            Ok(v) => v.as_bytes(),
            Err(_) => attr.as_slice(),
        };
        let quote = value.iter().any(|b| b",+<>;".contains(b));
        if quote {
            out.push('"');
        }
        for &b in value {
            match b {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                0x20..0x7f => out.push(char::from(b)),
                _ => {
                    let _ = write!(out, "\\{b:02X}");
                }
            }
        }
        if quote {
            out.push('"');
        }
    }
    out
}

impl ListenerTls {
    /// The configuration for a client hello: the client-certificate policy
    /// of the last host block its SNI name matches (else the listener's),
    /// listing first the first protocol the client offers that the
    /// listener speaks.
    fn choose(&self, hello: &ClientHello<'_>) -> (&ConfigSet, Arc<rustls::ServerConfig>) {
        let set = hello
            .server_name()
            .and_then(|name| last_match(&self.by_host, name, &self.socket))
            .unwrap_or(&self.base);
        let first = hello.alpn().and_then(|mut offered| {
            offered.find_map(|p| set.by_first.iter().find(|(q, _)| *q == p))
        });
        let (_, cfg) = first.unwrap_or(&set.by_first[0]);
        (set, cfg.clone())
    }
}

/// The item of the last entry whose host conditions all hold for the SNI
/// name `name` (what host conditions read at the handshake).
fn last_match<'a, T>(
    list: &'a [(Vec<CompiledCond>, T)],
    name: &str,
    socket: &SocketId,
) -> Option<&'a T> {
    // rustls hands the SNI name over in lower case already
    let headers = http::HeaderMap::new();
    let client = Client::Unix(BString::default());
    let input = CondInput {
        url: b"",
        host: name.as_bytes(),
        query: b"",
        method: b"",
        scheme: b"https",
        headers: &headers,
        remote: &client,
        remote_text: b"",
        socket,
    };
    list.iter()
        .rev()
        .find(|(conds, _)| conds.iter().all(|c| c.matches(&input)))
        .map(|(_, item)| item)
}

impl TlsListeners {
    /// The TLS settings of a listener, if it speaks TLS.
    pub fn acceptor(&self, token: &[u8]) -> Option<&Arc<ListenerTls>> {
        self.by_token.get(token)
    }
}

/// Host conditions (a block's and its enclosing host blocks') and the
/// certificate they choose.
type HostCert = (Vec<CompiledCond>, Arc<CertifiedKey>);

/// Certificates chosen by SNI name.
struct SniResolver {
    /// The listener's own certificate.
    default: Option<Arc<CertifiedKey>>,
    /// `$HTTP["host"]` conditions (with their enclosing host conditions)
    /// and their certificates, in block order.
    by_host: Vec<HostCert>,
    /// The listener, for conditions that read it.
    socket: SocketId,
}

impl std::fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SniResolver")
            .field("hosts", &self.by_host.len())
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|name| last_match(&self.by_host, name, &self.socket))
            .or(self.default.as_ref())
            .cloned()
    }
}

/// The `ssl.*` values that apply to a listener: the top level's, then its
/// `$SERVER["socket"]` block's.
struct SocketKeys<'a> {
    entries: Vec<&'a Array>,
}

impl<'a> SocketKeys<'a> {
    fn get(&self, key: &str) -> Option<&'a Entry> {
        self.entries
            .iter()
            .rev()
            .find_map(|a| a.get(key.as_bytes()))
    }

    /// `key`'s entry, of the type mod_openssl requires (lighttpd refuses
    /// to start otherwise: `ssl.verifyclient.activate = "yes"` is not
    /// "off").
    fn typed(&self, key: &str, ty: KeyType) -> Result<Option<&'a Entry>, Diagnostic> {
        match self.get(key) {
            Some(e) => check_type(key, ty, e).map_or(Ok(Some(e)), Err),
            None => Ok(None),
        }
    }

    /// A boolean `key`, `default` when unset.
    fn flag(&self, key: &str, default: bool) -> Result<bool, Diagnostic> {
        Ok(self
            .typed(key, KeyType::Bool)?
            .map_or(default, |e| to_bool(&e.value)))
    }
}

/// The file a `ssl.*` key names, and its contents.
fn read_named(e: &Entry, key: &str) -> Result<(std::path::PathBuf, Vec<u8>), Diagnostic> {
    if let Some(d) = check_type(key, KeyType::Str, e) {
        return Err(d);
    }
    let name = e.value.as_str().map(|s| s.as_slice()).unwrap_or_default();
    if name.is_empty() {
        return Err(err(format!("{key}: expected a file name"), Some(e.span)));
    }
    let path = crate::modules::staticfile::os_path(name);
    let bytes = std::fs::read(&path).map_err(|x| {
        err(
            format!("cannot read {key} {}: {x}", path.display()),
            Some(e.span),
        )
    })?;
    Ok((path, bytes))
}

fn err(msg: impl Into<String>, span: Option<Span>) -> Diagnostic {
    Diagnostic::error(msg.into()).at_opt(span)
}

/// Reads `pemfile` (certificate chain, and the key unless `privkey` is
/// given) into a certified key.
fn load_key(pemfile: &Entry, privkey: Option<&Entry>) -> Result<Arc<CertifiedKey>, Diagnostic> {
    let (cert_path, cert_pem) = read_named(pemfile, "ssl.pemfile")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            err(
                format!("{}: not a PEM certificate file: {e}", cert_path.display()),
                Some(pemfile.span),
            )
        })?;
    if certs.is_empty() {
        return Err(err(
            format!("{}: no certificate in the file", cert_path.display()),
            Some(pemfile.span),
        ));
    }
    let (key_entry, key_pem, key_path) = match privkey {
        Some(p) => {
            let (kp, pem) = read_named(p, "ssl.privkey")?;
            (p, pem, kp)
        }
        None => (pemfile, cert_pem.clone(), cert_path.clone()),
    };
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        err(
            format!("{}: no private key found: {e}", key_path.display()),
            Some(key_entry.span),
        )
        .help("put the key in the ssl.pemfile after the certificate, or name it with ssl.privkey")
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider.key_provider.load_private_key(key).map_err(|e| {
        err(
            format!("{}: unusable private key: {e}", key_path.display()),
            Some(key_entry.span),
        )
    })?;
    let ck = CertifiedKey::new(certs, signing);
    ck.keys_match().map_err(|e| {
        err(
            format!(
                "{} and {}: the key does not belong to the certificate ({e})",
                cert_path.display(),
                key_path.display()
            ),
            Some(pemfile.span),
        )
    })?;
    Ok(Arc::new(ck))
}

/// What `ssl.openssl.ssl-conf-cmd` sets.
#[derive(Debug, PartialEq)]
struct ConfCmd {
    /// The protocol versions allowed (`MinProtocol`, `MaxProtocol`).
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
    /// `Options ServerPreference` (on by default, as lighttpd's).
    server_order: bool,
    /// `Options SessionTicket` (on by default): session tickets sealed
    /// with `ssl.stek-file`'s key.
    tickets: bool,
}

/// Reads `ssl.openssl.ssl-conf-cmd`.
fn conf_cmd(keys: &SocketKeys<'_>, warnings: &mut Vec<Diagnostic>) -> Result<ConfCmd, Diagnostic> {
    let mut min = 12u8;
    let mut max = 13u8;
    // the server's order of cipher suites, as lighttpd's default
    let mut server_order = true;
    let mut tickets = true;
    if let Some(e) = keys.get("ssl.openssl.ssl-conf-cmd") {
        let Value::Array(a) = &e.value else {
            return Err(err(
                "ssl.openssl.ssl-conf-cmd must be a list of \"command\" => \"value\" pairs",
                Some(e.span),
            ));
        };
        for item in a.entries() {
            let (Some(k), Some(v)) = (item.key.as_ref(), item.value.as_str()) else {
                return Err(err(
                    "ssl.openssl.ssl-conf-cmd: each entry must be \"command\" => \"value\"",
                    Some(item.span),
                ));
            };
            let mut version = |v: &[u8], what: &str| -> Result<u8, Diagnostic> {
                match v.to_ascii_lowercase().as_slice() {
                    b"tlsv1.3" => Ok(13),
                    b"tlsv1.2" => Ok(12),
                    b"none" => Ok(if what == "MinProtocol" { 12 } else { 13 }),
                    b"tlsv1.1" | b"tlsv1" | b"sslv3" if what == "MinProtocol" => {
                        warnings.push(
                            Diagnostic::warning(format!(
                                "ssl.openssl.ssl-conf-cmd MinProtocol {}: TLS 1.2 is the oldest version wick offers",
                                show(v)
                            ))
                            .at(item.span),
                        );
                        Ok(12)
                    }
                    _ => Err(err(
                        format!(
                            "ssl.openssl.ssl-conf-cmd {what} \"{}\" is not supported: wick (rustls) speaks TLSv1.2 and TLSv1.3",
                            show(v)
                        ),
                        Some(item.span),
                    )),
                }
            };
            match k.to_ascii_lowercase().as_slice() {
                b"minprotocol" => min = version(v, "MinProtocol")?,
                b"maxprotocol" => max = version(v, "MaxProtocol")?,
                b"options" => {
                    for opt in v.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                        match opt.to_ascii_lowercase().as_slice() {
                            b"serverpreference" | b"+serverpreference" => server_order = true,
                            b"-serverpreference" => server_order = false,
                            b"sessionticket" | b"+sessionticket" => tickets = true,
                            b"-sessionticket" => tickets = false,
                            b"" | b"nocompression" | b"-compression" | b"norenegotiation"
                            | b"-renegotiation" | b"-prioritizechacha" | b"prioritizechacha" => {}
                            _ => {
                                return Err(err(
                                    format!(
                                        "ssl.openssl.ssl-conf-cmd Options \"{}\" is not supported (wick knows ServerPreference, SessionTicket, Compression, Renegotiation)",
                                        show(opt)
                                    ),
                                    Some(item.span),
                                ));
                            }
                        }
                    }
                }
                _ => {
                    return Err(err(
                        format!(
                            "ssl.openssl.ssl-conf-cmd \"{}\" => \"{}\" is not supported: wick (rustls) sets MinProtocol, MaxProtocol and Options only; its cipher suites are fixed and secure",
                            show(k),
                            show(v)
                        ),
                        Some(item.span),
                    ));
                }
            }
        }
    }
    if min > max {
        return Err(err(
            "ssl.openssl.ssl-conf-cmd: MinProtocol is above MaxProtocol",
            keys.get("ssl.openssl.ssl-conf-cmd").map(|e| e.span),
        ));
    }
    let mut out = Vec::new();
    if max >= 13 {
        out.push(&rustls::version::TLS13);
    }
    if min <= 12 {
        out.push(&rustls::version::TLS12);
    }
    Ok(ConfCmd {
        versions: out,
        server_order,
        tickets,
    })
}

/// The `$HTTP["host"]` blocks that apply to the listener `token` and set
/// one of `keys` (at the top level or inside the socket's block): their
/// host conditions (the block's and its enclosing host blocks') and their
/// block numbers, in block order.
fn host_blocks(
    config: &Config,
    routing: &RoutingTable,
    token: &[u8],
    socket: &SocketId,
    keys: &[&str],
) -> Vec<(Vec<CompiledCond>, Vec<usize>)> {
    let mut out = Vec::new();
    'blocks: for (i, b) in config.blocks.iter().enumerate() {
        if !keys.iter().any(|k| b.entries.get(k.as_bytes()).is_some()) {
            continue;
        }
        // (blocks outside a handshake chain are refused by check_scopes)
        let Some(chain) = handshake_chain(config, i) else {
            continue;
        };
        let (mut conds, mut hosts) = (Vec::new(), Vec::new());
        for &n in &chain {
            let Some(c) = &config.blocks[n].cond else {
                continue 'blocks;
            };
            if c.field == Field::Host {
                match routing.blocks.get(n).and_then(|rb| rb.cond.clone()) {
                    Some(cc) => {
                        conds.push(cc);
                        hosts.push(n);
                    }
                    None => continue 'blocks,
                }
            } else if c.value.as_slice() != token && !socket.matches(&c.value) {
                // another listener's $SERVER["socket"] block
                continue 'blocks;
            }
        }
        if !conds.is_empty() {
            hosts.reverse();
            out.push((conds, hosts));
        }
    }
    out
}

/// Block `i` and its enclosing blocks up to the top level, innermost
/// first, when each of them is decided at the handshake: a
/// `$HTTP["host"]` (the SNI name) or `$SERVER["socket"] ==` condition, not
/// an `else` branch. `None` for any other block.
fn handshake_chain(config: &Config, i: usize) -> Option<Vec<usize>> {
    let mut chain = Vec::new();
    let mut at = Some(i);
    while let Some(n) = at {
        let blk = &config.blocks[n];
        if blk.kind == BlockKind::Top {
            break;
        }
        let c = blk.cond.as_ref()?;
        let decided =
            c.field == Field::Host || (c.field == Field::ServerSocket && c.op == CondOp::Eq);
        if !decided || blk.else_prev.is_some() {
            return None;
        }
        chain.push(n);
        at = blk.parent;
    }
    Some(chain)
}

/// The certificates of the `$HTTP["host"]` blocks with an `ssl.pemfile`.
fn sni_blocks(
    config: &Config,
    routing: &RoutingTable,
    token: &[u8],
    socket: &SocketId,
) -> Result<Vec<HostCert>, Diagnostic> {
    host_blocks(config, routing, token, socket, &["ssl.pemfile"])
        .into_iter()
        .filter_map(|(conds, chain)| {
            // host_blocks keeps blocks that set the key themselves
            let b = &config.blocks[*chain.last()?];
            let pem = b.entries.get(b"ssl.pemfile")?;
            Some(load_key(pem, b.entries.get(b"ssl.privkey")).map(|k| (conds, k)))
        })
        .collect()
}

/// `ssl.*` settings in blocks TLS cannot honour: only the top level,
/// `$SERVER["socket"] ==` and `$HTTP["host"]` blocks (nested in those) are
/// decided before a connection's first request. Anything else (a client
/// address, a scheme, an `else`) would be dropped without effect, so it is
/// refused: an `ssl.verifyclient.*` there may restrict access. Listener
/// settings in a `$HTTP["host"]` block are ignored with a warning, as
/// lighttpd ignores them.
fn check_scopes(config: &Config, warnings: &mut Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, b) in config.blocks.iter().enumerate().skip(1) {
        let mut ssl = b
            .entries
            .entries()
            .iter()
            .filter(|e| e.key.as_ref().is_some_and(|k| k.starts_with(b"ssl.")))
            .peekable();
        let Some(first) = ssl.peek() else {
            continue;
        };
        let Some(chain) = handshake_chain(config, i) else {
            out.push(
                err(
                    format!(
                        "`{}` is set in a block TLS cannot decide at the handshake",
                        show(first.key.as_ref().map_or(&b""[..], |k| k.as_slice()))
                    ),
                    Some(first.key_span),
                )
                .help("set ssl.* at the top level, in $SERVER[\"socket\"] == blocks, or in $HTTP[\"host\"] blocks (no else branches)"),
            );
            continue;
        };
        let in_host = chain.iter().any(|&n| {
            config.blocks[n]
                .cond
                .as_ref()
                .is_some_and(|c| c.field == Field::Host)
        });
        if !in_host {
            continue;
        }
        for e in ssl {
            let key = e.key.as_ref().map_or(&b""[..], |k| k.as_slice());
            // ssl.engine gets the core scope warning already
            if LISTENER_ONLY.iter().any(|k| k.as_bytes() == key) {
                warnings.push(
                    Diagnostic::warning(format!("`{}` here is ignored", show(key)))
                        .at(e.key_span)
                        .label("a listener setting: it takes effect at the top level or directly inside $SERVER[\"socket\"] == \"…\"")
                        .lighttpd(format!(
                            "{} is valid only in global scope or $SERVER[\"socket\"] condition",
                            show(key)
                        )),
                );
            }
        }
    }
    out
}

/// `ssl.*` settings of a listener that a `$HTTP["host"]` block cannot
/// change (the SNI name chooses certificates and client-certificate
/// policies only).
const LISTENER_ONLY: &[&str] = &["ssl.openssl.ssl-conf-cmd", "ssl.stek-file"];

/// Builds the TLS configuration of every listener with `ssl.engine`
/// enabled. `h2`: offer HTTP/2 in ALPN (`server.h2proto`).
pub fn configure(
    config: &Config,
    routing: &RoutingTable,
    listeners: &[ListenerConfig],
    h2: bool,
    warnings: &mut Vec<Diagnostic>,
) -> Result<TlsListeners, Vec<Diagnostic>> {
    let mut out = TlsListeners::default();
    let mut errors = check_scopes(config, warnings);
    for l in listeners {
        let mut entries = vec![&config.top().entries];
        for b in &config.blocks {
            if let Some(c) = &b.cond {
                if b.kind == BlockKind::Cond
                    && c.field == Field::ServerSocket
                    && c.op == CondOp::Eq
                    && c.value == l.token
                    && b.parent == Some(0)
                {
                    entries.push(&b.entries);
                }
            }
        }
        let keys = SocketKeys { entries };
        if !keys.get("ssl.engine").is_some_and(|e| to_bool(&e.value)) {
            continue;
        }
        match listener_config(config, routing, l, &keys, h2, warnings) {
            Ok(tls) => {
                out.by_token.insert(l.token.clone(), Arc::new(tls));
            }
            Err(d) => errors.push(d),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn listener_config(
    config: &Config,
    routing: &RoutingTable,
    l: &ListenerConfig,
    keys: &SocketKeys<'_>,
    h2: bool,
    warnings: &mut Vec<Diagnostic>,
) -> Result<ListenerTls, Diagnostic> {
    let socket = SocketId {
        token: l.token.clone(),
        port: l.spec.port,
        ip: match &l.spec.host {
            super::listener::SpecHost::Ip(ip) => Some(*ip),
            _ => None,
        },
    };
    let default = match keys.get("ssl.pemfile") {
        Some(p) => Some(load_key(p, keys.get("ssl.privkey"))?),
        None => None,
    };
    let by_host = sni_blocks(config, routing, &l.token, &socket)?;
    if default.is_none() && by_host.is_empty() {
        return Err(err(
            format!(
                "ssl.engine is enabled for {} but no ssl.pemfile is set",
                show(&l.token)
            ),
            keys.get("ssl.engine").map(|e| e.span),
        )
        .help("set ssl.pemfile (certificate and key, or with ssl.privkey) where ssl.engine is enabled"));
    }
    let cmd = conf_cmd(keys, warnings)?;
    let resolver: Arc<dyn ResolvesServerCert> = Arc::new(SniResolver {
        default,
        by_host,
        socket: socket.clone(),
    });
    let ticketer = if cmd.tickets {
        stek(keys, warnings)?
    } else {
        None
    };
    let build = |keys: &SocketKeys<'_>| {
        config_set(
            keys,
            &cmd.versions,
            cmd.server_order,
            resolver.clone(),
            ticketer.clone(),
            h2,
        )
    };
    let base = build(keys)?;
    let mut by_host_sets = Vec::new();
    for (conds, chain) in host_blocks(
        config,
        routing,
        &l.token,
        &socket,
        &[
            "ssl.verifyclient.activate",
            "ssl.verifyclient.enforce",
            "ssl.verifyclient.depth",
            "ssl.verifyclient.ca-file",
            "ssl.verifyclient.username",
            "ssl.verifyclient.exportcert",
            "ssl.ca-file",
        ],
    ) {
        let mut entries = keys.entries.clone();
        entries.extend(chain.iter().map(|&n| &config.blocks[n].entries));
        by_host_sets.push((conds, build(&SocketKeys { entries })?));
    }
    Ok(ListenerTls {
        base,
        by_host: by_host_sets,
        socket,
    })
}

/// `ssl.stek-file`'s session-ticket key. Without one no tickets are
/// issued (sessions resume from the server's own session cache). A file
/// that is missing or not a key file gives a warning: lighttpd also
/// starts without it.
fn stek(
    keys: &SocketKeys<'_>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<Arc<dyn rustls::server::ProducesTickets>>, Diagnostic> {
    let Some(e) = keys.typed("ssl.stek-file", KeyType::Str)? else {
        return Ok(None);
    };
    let path =
        crate::modules::staticfile::os_path(e.value.as_str().map_or(&[][..], |s| s.as_slice()));
    match super::stek::StekTicketer::from_file(&path) {
        Ok(t) => Ok(Some(Arc::new(t))),
        Err(m) => {
            warnings.push(
                Diagnostic::warning(format!("ssl.stek-file: {m}"))
                    .at(e.span)
                    .label("no session tickets are sealed with it (sessions resume from this server's own cache) until the file is valid and the configuration is reloaded"),
            );
            Ok(None)
        }
    }
}

/// The configurations of one client-certificate policy (`keys`), one per
/// preferred application protocol.
fn config_set(
    keys: &SocketKeys<'_>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    server_order: bool,
    resolver: Arc<dyn ResolvesServerCert>,
    ticketer: Option<Arc<dyn rustls::server::ProducesTickets>>,
    h2: bool,
) -> Result<ConfigSet, Diagnostic> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| err(format!("TLS versions: {e}"), None))?;
    let verify = keys.flag("ssl.verifyclient.activate", false)?;
    let mut client = None;
    let builder = if verify {
        let (ca_key, ca) = ["ssl.verifyclient.ca-file", "ssl.ca-file"]
            .into_iter()
            .find_map(|k| keys.get(k).map(|e| (k, e)))
            .ok_or_else(|| {
                err(
                    "ssl.verifyclient.activate needs ssl.ca-file (the CAs client certificates are checked against)",
                    keys.get("ssl.verifyclient.activate").map(|e| e.span),
                )
            })?;
        let (path, pem) = read_named(ca, ca_key)?;
        let mut roots = rustls::RootCertStore::empty();
        let mut root_ders = Vec::new();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                err(
                    format!("{}: not a PEM certificate file: {e}", path.display()),
                    Some(ca.span),
                )
            })?;
            root_ders.push(cert.to_vec());
            roots.add(cert).map_err(|e| {
                err(
                    format!("{}: unusable CA certificate: {e}", path.display()),
                    Some(ca.span),
                )
            })?;
        }
        let enforce = keys.flag("ssl.verifyclient.enforce", true)?;
        let depth = keys
            .typed("ssl.verifyclient.depth", KeyType::Short)?
            .map(|e| to_number(&e.value) as usize);
        let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()
            .map_err(|e| err(format!("client verification: {e}"), Some(ca.span)))?;
        let verifier = Arc::new(ClientVerifier {
            inner,
            enforce,
            depth,
            roots: root_ders,
        });
        client = Some(ClientPolicy {
            verifier: verifier.clone(),
            username: keys
                .typed("ssl.verifyclient.username", KeyType::Str)?
                .and_then(|e| e.value.as_str().cloned())
                .filter(|v| !v.is_empty()),
            exportcert: keys.flag("ssl.verifyclient.exportcert", false)?,
        });
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut cfg = builder.with_cert_resolver(resolver);
    if let Some(t) = ticketer {
        cfg.ticketer = t;
    }
    cfg.ignore_client_order = server_order;
    let protocols: Vec<&'static [u8]> = if h2 {
        vec![b"h2", b"http/1.1", b"http/1.0"]
    } else {
        vec![b"http/1.1", b"http/1.0"]
    };
    let by_first: Vec<(&'static [u8], Arc<rustls::ServerConfig>)> = protocols
        .iter()
        .map(|first| {
            let mut c = cfg.clone();
            c.alpn_protocols = std::iter::once(*first)
                .chain(protocols.iter().copied().filter(|p| p != first))
                .map(<[u8]>::to_vec)
                .collect();
            (*first, Arc::new(c))
        })
        .collect();
    Ok(ConfigSet { by_first, client })
}

/// Client certificates as lighttpd's `ssl.verifyclient.*` check them:
/// checked against the CAs of `ssl.ca-file`, at most `depth` certificates
/// above the client's; without `enforce`, a client without a certificate,
/// or with one that does not verify, is let in all the same.
#[derive(Debug)]
struct ClientVerifier {
    inner: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    enforce: bool,
    depth: Option<usize>,
    /// The CA certificates (a client may send one along; it is the top of
    /// the chain, not an intermediate).
    roots: Vec<Vec<u8>>,
}

impl ClientVerifier {
    /// The verdict on a chain: depth, then the CAs.
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), rustls::Error> {
        if let Some(d) = self.depth {
            let above = intermediates
                .iter()
                .filter(|c| !self.roots.iter().any(|r| r.as_slice() == c.as_ref()))
                .count()
                + 1;
            if above > d {
                return Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer,
                ));
            }
        }
        self.inner
            .verify_client_cert(
                end_entity,
                intermediates,
                rustls::pki_types::UnixTime::now(),
            )
            .map(|_| ())
    }
}

impl rustls::server::danger::ClientCertVerifier for ClientVerifier {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.enforce
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        match self.check(end_entity, intermediates) {
            Ok(()) => Ok(rustls::server::danger::ClientCertVerified::assertion()),
            Err(_) if !self.enforce => Ok(rustls::server::danger::ClientCertVerified::assertion()),
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The TLS handshake of a new connection, within `limit`; `None` (logged
/// at debug level) when it fails or times out. The configuration is
/// chosen from the client's hello (its SNI name and ALPN order). With
/// client certificates asked for, what the client's certificate says.
pub async fn handshake<IO>(
    tls: &ListenerTls,
    io: IO,
    limit: std::time::Duration,
) -> Option<(tokio_rustls::server::TlsStream<IO>, Option<ClientCert>)>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let shake = async {
        let start =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io).await?;
        let (set, config) = tls.choose(&start.client_hello());
        let stream = start.into_stream(config).await?;
        let client = set
            .client
            .as_ref()
            .map(|p| p.describe(stream.get_ref().1.peer_certificates()));
        Ok::<_, std::io::Error>((stream, client))
    };
    match tokio::time::timeout(limit, shake).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!("TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// True when the first byte a client sent starts a TLS handshake record;
/// anything else (plain HTTP on a TLS port) is closed without an answer,
/// as lighttpd does.
pub async fn starts_tls(stream: &tokio::net::TcpStream, limit: std::time::Duration) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(limit, stream.peek(&mut first)).await,
        Ok(Ok(1)) if first[0] == 0x16
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_top<T>(text: &str, f: impl FnOnce(&SocketKeys<'_>) -> T) -> T {
        let env = crate::config::Environment::sandboxed();
        let cfg =
            crate::config::load(b"t.conf", text.as_bytes().to_vec(), &env).expect("config loads");
        f(&SocketKeys {
            entries: vec![&cfg.top().entries],
        })
    }

    fn cmd(list: &str) -> Result<ConfCmd, Diagnostic> {
        with_top(&format!("ssl.openssl.ssl-conf-cmd = ( {list} )"), |k| {
            conf_cmd(k, &mut Vec::new())
        })
    }

    #[test]
    fn ssl_conf_cmd_versions_and_options() {
        let both = vec![&rustls::version::TLS13, &rustls::version::TLS12];
        let dflt = cmd("").expect("empty");
        assert_eq!(dflt.versions, both);
        assert!(dflt.server_order && dflt.tickets);
        let only13 = cmd(r#""MinProtocol" => "TLSv1.3""#).expect("min 1.3");
        assert_eq!(only13.versions, vec![&rustls::version::TLS13]);
        let only12 = cmd(r#""MaxProtocol" => "TLSv1.2""#).expect("max 1.2");
        assert_eq!(only12.versions, vec![&rustls::version::TLS12]);
        // "None" lifts the bound; older minimums warn and mean TLS 1.2
        assert_eq!(
            cmd(r#""MinProtocol" => "None""#).expect("none").versions,
            both
        );
        let mut warnings = Vec::new();
        let old = with_top(
            r#"ssl.openssl.ssl-conf-cmd = ( "MinProtocol" => "TLSv1.1" )"#,
            |k| conf_cmd(k, &mut warnings),
        )
        .expect("1.1");
        assert_eq!(old.versions, both);
        assert_eq!(warnings.len(), 1);
        assert!(cmd(r#""MinProtocol" => "TLSv1.3", "MaxProtocol" => "TLSv1.2""#).is_err());
        assert!(cmd(r#""MaxProtocol" => "SSLv3""#).is_err());
        let opts = cmd(r#""Options" => "-ServerPreference, -SessionTicket""#).expect("options");
        assert!(!opts.server_order && !opts.tickets);
        assert!(cmd(r#""Options" => "Bugs""#).is_err());
        assert!(cmd(r#""CipherString" => "HIGH""#).is_err());
    }

    #[test]
    fn typed_keys_refuse_what_lighttpd_refuses() {
        with_top(r#"ssl.verifyclient.activate = "yes""#, |k| {
            assert!(k.flag("ssl.verifyclient.activate", false).is_err());
        });
        with_top(r#"ssl.verifyclient.activate = "enable""#, |k| {
            assert_eq!(k.flag("ssl.verifyclient.activate", false).ok(), Some(true));
            assert_eq!(k.flag("ssl.verifyclient.enforce", true).ok(), Some(true));
        });
        with_top(r#"ssl.verifyclient.depth = "2""#, |k| {
            let e = k
                .typed("ssl.verifyclient.depth", KeyType::Short)
                .expect("short");
            assert_eq!(e.map(|e| to_number(&e.value)), Some(2));
        });
        with_top(r#"ssl.pemfile = """#, |k| {
            let e = k.get("ssl.pemfile").expect("set");
            let msg = read_named(e, "ssl.pemfile")
                .expect_err("empty")
                .message
                .clone();
            assert!(msg.contains("expected a file name"), "{msg}");
        });
    }

    #[test]
    fn subject_names_print_as_lighttpd_prints_them() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        let dn = &mut params.distinguished_name;
        dn.push(rcgen::DnType::CountryName, "DE");
        dn.push(rcgen::DnType::OrganizationName, "Smith, Jones");
        dn.push(rcgen::DnType::CommonName, "x\"y");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).expect("parse");
        // as lighttpd 1.4.69 (OpenSSL's XN_FLAG_ONELINE) logs it, in the
        // certificate's order (rcgen writes the CN first)
        assert_eq!(
            oneline(parsed.subject()),
            r#"CN = x\"y, C = DE, O = "Smith, Jones""#
        );
    }
}
