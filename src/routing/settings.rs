//! Typed per-request settings (lighttpd's `request_config` plus the
//! per-module `plugin_config`s) and the patches each block applies to them.
//!
//! lighttpd copies the top-level settings into every request, then applies
//! the settings of every block whose condition holds, in block order
//! (`config_patch_config`). [`Settings`] is that copy — cheap to clone, its
//! large parts shared behind `Arc` — and a [`Patch`] is one block's list of
//! changes, converted from config values once, at load.

use std::sync::Arc;

use bstr::BString;

use crate::config::Diagnostic;
use crate::config::keys::{self, KeyType};
use crate::config::pattern::Patterns;
use crate::config::value::{Entry, Value};

use super::mime::MimeTable;
use crate::modules::proxy::config::{self as proxy_config, GwContext, ProxySet, ProxySettings};
use std::os::unix::ffi::OsStrExt;

/// Settings in effect for one request.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `server.document-root`.
    pub document_root: Option<Arc<[u8]>>,
    /// `index-file.names` / `server.indexfiles`.
    pub index_files: Arc<[BString]>,
    /// `mimetype.assign` (the built-in table when never set).
    pub mimetypes: Arc<MimeTable>,
    /// `static-file.exclude-extensions`.
    pub exclude_extensions: Arc<[BString]>,
    /// `static-file.etags`.
    pub static_etags: bool,
    /// `static-file.disable-pathinfo`.
    pub disable_pathinfo: bool,
    /// `server.follow-symlink`.
    pub follow_symlink: bool,
    /// `etag.use-inode`.
    pub etag_use_inode: bool,
    /// `etag.use-mtime`.
    pub etag_use_mtime: bool,
    /// `etag.use-size`.
    pub etag_use_size: bool,
    /// `server.range-requests`.
    pub range_requests: bool,
    /// `server.force-lowercase-filenames`.
    pub force_lowercase_filenames: bool,
    /// `server.max-keep-alive-requests` (0 disables keep-alive).
    pub max_keep_alive_requests: u32,
    /// `server.max-keep-alive-idle`, seconds.
    pub max_keep_alive_idle: u32,
    /// `server.max-read-idle`, seconds.
    pub max_read_idle: u32,
    /// `server.max-write-idle`, seconds.
    pub max_write_idle: u32,
    /// `server.max-request-size`, KiB (0: unlimited).
    pub max_request_size_kib: u32,
    /// `server.tag`: the `Server` header (empty: none).
    pub server_tag: Arc<[u8]>,
    /// `server.name` (empty: not set).
    pub server_name: Arc<[u8]>,
    /// `server.tag` as a header value (`None`: no `Server` header).
    pub server_header: Option<http::HeaderValue>,
    /// `server.errorfile-prefix`.
    pub errorfile_prefix: Option<Arc<[u8]>>,
    /// `server.error-handler`.
    pub error_handler: Option<Arc<[u8]>>,
    /// `server.error-handler-404`.
    pub error_handler_404: Option<Arc<[u8]>>,
    /// `server.error-intercept`: a backend's 4xx/5xx answer is replaced by
    /// the local error page.
    pub error_intercept: bool,
    /// `server.protocol-http11`.
    pub protocol_http11: bool,
    /// `server.stream-request-body`.
    pub stream_request_body: u8,
    /// `server.stream-response-body`.
    pub stream_response_body: u8,
    /// `debug.log-request-handling`.
    pub log_request_handling: bool,
    /// `debug.log-file-not-found`.
    pub log_file_not_found: bool,
    /// `debug.log-condition-handling`.
    pub log_condition_handling: bool,
    /// `server.upload-dirs` (temporary files for buffered bodies).
    pub upload_dirs: Arc<[std::path::PathBuf]>,
    /// `server.upload-temp-file-size`, bytes.
    pub upload_temp_file_size: u64,
    /// `proxy.*`.
    pub proxy: ProxySettings,
    /// `wstunnel.*`.
    pub wstunnel: crate::modules::wstunnel::config::WsSettings,
    /// `url.access-*`.
    pub access: crate::modules::access::AccessSettings,
    /// `alias.url`.
    pub alias: crate::modules::alias::AliasList,
    /// `url.redirect*`.
    pub redirect: crate::modules::redirect::RedirectSettings,
    /// `url.rewrite*`.
    pub rewrite: crate::modules::rewrite::RewriteSettings,
    /// `setenv.*`.
    pub setenv: crate::modules::setenv::SetenvSettings,
    /// `extforward.*`.
    pub extforward: crate::modules::extforward::ExtforwardSettings,
    /// `dir-listing.*`.
    pub dirlisting: crate::modules::dirlisting::DirListing,
    /// `accesslog.*`.
    pub accesslog: crate::modules::accesslog::AccessLog,
    /// `auth.*`.
    pub auth: crate::modules::auth::AuthSettings,
}

/// The `Server` header lighttpd sends by default is its own name; ours.
pub const DEFAULT_SERVER_TAG: &str = concat!("wick/", env!("CARGO_PKG_VERSION"));

impl Default for Settings {
    fn default() -> Self {
        Settings {
            document_root: None,
            index_files: Arc::from(Vec::new()),
            mimetypes: Arc::new(MimeTable::builtin()),
            exclude_extensions: Arc::from(Vec::new()),
            static_etags: true,
            disable_pathinfo: false,
            follow_symlink: true,
            etag_use_inode: true,
            etag_use_mtime: true,
            etag_use_size: true,
            range_requests: true,
            force_lowercase_filenames: false,
            max_keep_alive_requests: 1000,
            max_keep_alive_idle: 5,
            max_read_idle: 60,
            max_write_idle: 360,
            max_request_size_kib: 0,
            server_tag: Arc::from(DEFAULT_SERVER_TAG.as_bytes()),
            server_name: Arc::from(&b""[..]),
            server_header: Some(http::HeaderValue::from_static(DEFAULT_SERVER_TAG)),
            errorfile_prefix: None,
            error_handler: None,
            error_handler_404: None,
            error_intercept: false,
            protocol_http11: true,
            stream_request_body: 0,
            stream_response_body: 0,
            log_request_handling: false,
            log_file_not_found: false,
            log_condition_handling: false,
            upload_dirs: default_upload_dirs(),
            upload_temp_file_size: 1024 * 1024,
            proxy: ProxySettings::new(),
            wstunnel: Default::default(),
            access: Default::default(),
            alias: Arc::from(Vec::new()),
            redirect: Default::default(),
            rewrite: Default::default(),
            setenv: Default::default(),
            extforward: Default::default(),
            dirlisting: Default::default(),
            accesslog: Default::default(),
            auth: Default::default(),
        }
    }
}

/// `server.upload-dirs` when unset: `$TMPDIR`, else `/var/tmp`.
fn default_upload_dirs() -> Arc<[std::path::PathBuf]> {
    let dir = std::env::var_os("TMPDIR")
        .filter(|d| !d.is_empty())
        .map_or_else(
            || std::path::PathBuf::from("/var/tmp"),
            std::path::PathBuf::from,
        );
    Arc::from(vec![dir])
}

/// One change a block makes to [`Settings`].
#[derive(Debug, Clone)]
pub enum Set {
    /// A `fn(&mut Settings)`-like assignment with its value.
    DocumentRoot(Arc<[u8]>),
    /// `index-file.names` / `server.indexfiles`.
    IndexFiles(Arc<[BString]>),
    /// `mimetype.assign`.
    Mimetypes(Arc<MimeTable>),
    /// `static-file.exclude-extensions`.
    ExcludeExtensions(Arc<[BString]>),
    /// A boolean setting.
    Flag(Flag, bool),
    /// A numeric setting.
    Number(Number, u32),
    /// `server.tag`.
    ServerTag(Arc<[u8]>),
    /// `server.name`.
    ServerName(Arc<[u8]>),
    /// `server.errorfile-prefix`.
    ErrorfilePrefix(Arc<[u8]>),
    /// `server.error-handler`.
    ErrorHandler(Arc<[u8]>),
    /// `server.error-handler-404`.
    ErrorHandler404(Arc<[u8]>),
    /// `server.upload-dirs`.
    UploadDirs(Arc<[std::path::PathBuf]>),
    /// A `proxy.*` setting.
    Proxy(ProxySet),
    /// A `wstunnel.*` setting.
    Wstunnel(crate::modules::wstunnel::config::WsSet),
    /// `url.access-*`.
    Access(crate::modules::access::AccessSet),
    /// `alias.url`.
    Alias(crate::modules::alias::AliasList),
    /// `url.redirect*`.
    Redirect(crate::modules::redirect::RedirectSet),
    /// `url.rewrite*`.
    Rewrite(crate::modules::rewrite::RewriteSet),
    /// `setenv.*`.
    Setenv(crate::modules::setenv::SetenvSet),
    /// `extforward.*`.
    Extforward(crate::modules::extforward::ExtforwardSet),
    /// `dir-listing.*`.
    DirListing(crate::modules::dirlisting::DirSet),
    /// A block's `accesslog.*`.
    AccessLog(Arc<crate::modules::accesslog::BlockSettings>),
    /// An `auth.*` setting.
    Auth(crate::modules::auth::AuthSet),
    /// `server.feature-flags`: mod_proxy's and mod_auth's.
    Features(ProxySet, crate::modules::auth::AuthSet),
}

/// Boolean settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `static-file.etags`
    StaticEtags,
    /// `static-file.disable-pathinfo`
    DisablePathinfo,
    /// `server.follow-symlink`
    FollowSymlink,
    /// `etag.use-inode`
    EtagInode,
    /// `etag.use-mtime`
    EtagMtime,
    /// `etag.use-size`
    EtagSize,
    /// `server.range-requests`
    RangeRequests,
    /// `server.force-lowercase-filenames`
    ForceLowercase,
    /// `server.protocol-http11`
    ProtocolHttp11,
    /// `debug.log-request-handling`
    LogRequestHandling,
    /// `debug.log-file-not-found`
    LogFileNotFound,
    /// `debug.log-condition-handling`
    LogConditionHandling,
    /// `server.error-intercept`
    ErrorIntercept,
}

/// Numeric settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Number {
    /// `server.max-keep-alive-requests`
    KeepAliveRequests,
    /// `server.max-keep-alive-idle`
    KeepAliveIdle,
    /// `server.max-read-idle`
    ReadIdle,
    /// `server.max-write-idle`
    WriteIdle,
    /// `server.max-request-size`
    RequestSize,
    /// `server.stream-request-body`
    StreamRequestBody,
    /// `server.stream-response-body`
    StreamResponseBody,
    /// `server.upload-temp-file-size`
    UploadTempFileSize,
}

/// One block's changes, in the order they were written.
pub type Patch = Vec<Set>;

impl Settings {
    /// Applies one change.
    pub fn apply(&mut self, set: &Set) {
        match set {
            Set::DocumentRoot(v) => self.document_root = Some(v.clone()),
            Set::IndexFiles(v) => self.index_files = v.clone(),
            Set::Mimetypes(v) => self.mimetypes = v.clone(),
            Set::ExcludeExtensions(v) => self.exclude_extensions = v.clone(),
            Set::ServerTag(v) => {
                self.server_tag = v.clone();
                self.server_header = if v.is_empty() {
                    None
                } else {
                    http::HeaderValue::from_bytes(v).ok()
                };
            }
            Set::ServerName(v) => self.server_name = v.clone(),
            Set::ErrorfilePrefix(v) => self.errorfile_prefix = Some(v.clone()),
            Set::ErrorHandler(v) => self.error_handler = Some(v.clone()),
            Set::ErrorHandler404(v) => self.error_handler_404 = Some(v.clone()),
            Set::UploadDirs(v) => self.upload_dirs = v.clone(),
            Set::Proxy(p) => self.proxy.apply(p),
            Set::Wstunnel(w) => self.wstunnel.apply(w),
            Set::Access(a) => self.access.apply(a),
            Set::Alias(a) => self.alias = a.clone(),
            Set::Redirect(r) => self.redirect.apply(r),
            Set::Rewrite(r) => self.rewrite.apply(r),
            Set::Setenv(e) => self.setenv.apply(e),
            Set::Extforward(e) => self.extforward.apply(e),
            Set::DirListing(d) => self.dirlisting.apply(d),
            Set::AccessLog(a) => self.accesslog.apply(a),
            Set::Auth(a) => self.auth.apply(a),
            Set::Features(p, a) => {
                self.proxy.apply(p);
                self.auth.apply(a);
            }
            Set::Flag(f, on) => {
                let on = *on;
                match f {
                    Flag::StaticEtags => self.static_etags = on,
                    Flag::DisablePathinfo => self.disable_pathinfo = on,
                    Flag::FollowSymlink => self.follow_symlink = on,
                    Flag::EtagInode => self.etag_use_inode = on,
                    Flag::EtagMtime => self.etag_use_mtime = on,
                    Flag::EtagSize => self.etag_use_size = on,
                    Flag::RangeRequests => self.range_requests = on,
                    Flag::ForceLowercase => self.force_lowercase_filenames = on,
                    Flag::ProtocolHttp11 => self.protocol_http11 = on,
                    Flag::LogRequestHandling => self.log_request_handling = on,
                    Flag::LogFileNotFound => self.log_file_not_found = on,
                    Flag::LogConditionHandling => self.log_condition_handling = on,
                    Flag::ErrorIntercept => self.error_intercept = on,
                }
            }
            Set::Number(n, v) => {
                let v = *v;
                match n {
                    Number::KeepAliveRequests => self.max_keep_alive_requests = v,
                    Number::KeepAliveIdle => self.max_keep_alive_idle = v,
                    Number::ReadIdle => self.max_read_idle = v,
                    Number::WriteIdle => self.max_write_idle = v,
                    Number::RequestSize => self.max_request_size_kib = v,
                    Number::StreamRequestBody => self.stream_request_body = v.min(255) as u8,
                    Number::StreamResponseBody => self.stream_response_body = v.min(255) as u8,
                    Number::UploadTempFileSize => {
                        self.upload_temp_file_size = if v == 0 { 1024 * 1024 } else { u64::from(v) }
                    }
                }
            }
        }
    }
}

/// A boolean value as the core reads it (the type was checked at load).
pub fn to_bool(v: &Value) -> bool {
    match v {
        Value::Int(i) => *i != 0,
        Value::Str(s) => keys::parse_bool(s).unwrap_or(false),
        Value::Array(_) => false,
    }
}

/// A number as the core reads it: integers as they are (negative: 0),
/// digit strings parsed (the type was checked at load).
pub fn to_number(v: &Value) -> u32 {
    match v {
        Value::Int(i) => u32::try_from(*i).unwrap_or(0),
        Value::Str(s) => keys::parse_number(s)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        Value::Array(_) => 0,
    }
}

fn to_bytes(v: &Value) -> Arc<[u8]> {
    match v {
        Value::Str(s) => Arc::from(s.as_slice()),
        Value::Int(i) => Arc::from(i.to_string().as_bytes()),
        Value::Array(_) => Arc::from(&b""[..]),
    }
}

fn to_string_list(v: &Value) -> Arc<[BString]> {
    match v {
        Value::Array(a) => a
            .entries()
            .iter()
            .filter_map(|e| e.value.as_str().cloned())
            .collect::<Vec<_>>()
            .into(),
        Value::Str(s) => Arc::from(vec![s.clone()]),
        Value::Int(_) => Arc::from(Vec::new()),
    }
}

/// The modules of `server.modules` whose directives the routing table
/// compiles (a module's keys mean nothing when it is not loaded).
#[derive(Debug, Clone, Copy, Default)]
pub struct Loaded {
    /// mod_access
    pub access: bool,
    /// mod_alias
    pub alias: bool,
    /// mod_redirect
    pub redirect: bool,
    /// mod_rewrite
    pub rewrite: bool,
    /// mod_setenv
    pub setenv: bool,
    /// mod_extforward
    pub extforward: bool,
    /// mod_dirlisting
    pub dirlisting: bool,
    /// mod_accesslog
    pub accesslog: bool,
    /// mod_auth (with mod_authn_file)
    pub auth: bool,
}

impl Loaded {
    /// From the list of modules lighttpd would load.
    pub fn from_modules(modules: &[String]) -> Loaded {
        let has = |m: &str| modules.iter().any(|x| x == m);
        Loaded {
            access: has("mod_access"),
            alias: has("mod_alias"),
            redirect: has("mod_redirect"),
            rewrite: has("mod_rewrite"),
            setenv: has("mod_setenv"),
            extforward: has("mod_extforward"),
            dirlisting: has("mod_dirlisting"),
            accesslog: has("mod_accesslog"),
            auth: has("mod_auth"),
        }
    }

    /// Every module (unit tests of the routing table).
    pub fn all() -> Loaded {
        Loaded {
            access: true,
            alias: true,
            redirect: true,
            rewrite: true,
            setenv: true,
            extforward: true,
            dirlisting: true,
            accesslog: true,
            auth: true,
        }
    }
}

/// Combines the changes of one block where lighttpd combines them (the
/// rewrite lists of one block form one list).
pub fn finish_patch(mut patch: Patch) -> Patch {
    // mod_dirlisting reads a block's keys in its own order
    // (`server.dir-listing` after `dir-listing.activate`)
    let rank = |s: &Set| match s {
        Set::DirListing(d) => d.rank(),
        _ => 0,
    };
    if patch.iter().any(|s| rank(s) > 0) {
        patch.sort_by_key(rank);
    }
    if patch
        .iter()
        .filter(|s| matches!(s, Set::Rewrite(_)))
        .count()
        < 2
    {
        return patch;
    }
    let mut rewrites = Vec::new();
    let mut out = Vec::with_capacity(patch.len());
    for set in patch {
        match set {
            Set::Rewrite(r) => rewrites.push(r),
            other => out.push(other),
        }
    }
    out.extend(
        crate::modules::rewrite::merge_block(rewrites)
            .into_iter()
            .map(Set::Rewrite),
    );
    out
}

/// Converts one config entry of block `block` into a change, if it is a
/// per-request setting wick implements. `Ok(None)` for keys handled
/// elsewhere. Gateway keys (`proxy.*`) are compiled only when `gw` is given
/// (their module is loaded); other modules' keys when `loaded` says so.
pub fn compile_entry(
    key: &[u8],
    entry: &Entry,
    block: usize,
    loaded: &Loaded,
    patterns: &mut Patterns,
    gw: Option<&mut GwContext<'_>>,
) -> Result<Option<Set>, Vec<Diagnostic>> {
    let v = &entry.value;
    let lc = key.to_ascii_lowercase();
    if lc.starts_with(b"proxy.") {
        return match gw {
            Some(ctx) if ctx.proxy => {
                Ok(proxy_config::compile_entry(&lc, entry, ctx)?.map(Set::Proxy))
            }
            _ => Ok(None),
        };
    }
    if lc.starts_with(b"wstunnel.") {
        return match gw {
            Some(ctx) if ctx.wstunnel => Ok(crate::modules::wstunnel::config::compile_entry(
                &lc, entry, ctx,
            )?
            .map(Set::Wstunnel)),
            _ => Ok(None),
        };
    }
    if let Some(set) = compile_module_entry(&lc, entry, block, loaded, patterns)? {
        return Ok(Some(set));
    }
    let set = match lc.as_slice() {
        b"server.document-root" => Set::DocumentRoot(to_bytes(v)),
        b"index-file.names" | b"server.indexfiles" => Set::IndexFiles(to_string_list(v)),
        b"mimetype.assign" => Set::Mimetypes(Arc::new(MimeTable::from_value(v).map_err(|e| {
            vec![Diagnostic::error(format!("mimetype.assign: {e}")).at(entry.span)]
        })?)),
        b"static-file.exclude-extensions" => Set::ExcludeExtensions(to_string_list(v)),
        b"static-file.etags" => Set::Flag(Flag::StaticEtags, to_bool(v)),
        b"static-file.disable-pathinfo" => Set::Flag(Flag::DisablePathinfo, to_bool(v)),
        b"server.follow-symlink" => Set::Flag(Flag::FollowSymlink, to_bool(v)),
        b"etag.use-inode" => Set::Flag(Flag::EtagInode, to_bool(v)),
        b"etag.use-mtime" => Set::Flag(Flag::EtagMtime, to_bool(v)),
        b"etag.use-size" => Set::Flag(Flag::EtagSize, to_bool(v)),
        b"server.range-requests" => Set::Flag(Flag::RangeRequests, to_bool(v)),
        b"server.force-lowercase-filenames" => Set::Flag(Flag::ForceLowercase, to_bool(v)),
        b"server.protocol-http11" => Set::Flag(Flag::ProtocolHttp11, to_bool(v)),
        b"debug.log-request-handling" => Set::Flag(Flag::LogRequestHandling, to_bool(v)),
        b"debug.log-file-not-found" => Set::Flag(Flag::LogFileNotFound, to_bool(v)),
        b"debug.log-condition-handling" => Set::Flag(Flag::LogConditionHandling, to_bool(v)),
        b"server.error-intercept" => Set::Flag(Flag::ErrorIntercept, to_bool(v)),
        b"server.max-keep-alive-requests" => Set::Number(Number::KeepAliveRequests, to_number(v)),
        b"server.max-keep-alive-idle" => Set::Number(Number::KeepAliveIdle, to_number(v)),
        b"server.max-read-idle" => Set::Number(Number::ReadIdle, to_number(v)),
        b"server.max-write-idle" => Set::Number(Number::WriteIdle, to_number(v)),
        b"server.max-request-size" => Set::Number(Number::RequestSize, to_number(v)),
        b"server.stream-request-body" => Set::Number(Number::StreamRequestBody, to_number(v)),
        b"server.stream-response-body" => Set::Number(Number::StreamResponseBody, to_number(v)),
        b"server.tag" => Set::ServerTag(to_bytes(v)),
        b"server.name" => Set::ServerName(to_bytes(v)),
        b"server.upload-dirs" => Set::UploadDirs(
            to_string_list(v)
                .iter()
                .map(|d| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(d)))
                .collect::<Vec<_>>()
                .into(),
        ),
        b"server.upload-temp-file-size" => Set::Number(Number::UploadTempFileSize, to_number(v)),
        b"server.feature-flags" => Set::Features(
            proxy_config::features(v),
            crate::modules::auth::AuthSet::Delay(
                v.as_array()
                    .and_then(|a| a.get(b"auth.delay-invalid-creds"))
                    .and_then(|e| proxy_config::flag(&e.value))
                    .unwrap_or(true),
            ),
        ),
        b"server.errorfile-prefix" => Set::ErrorfilePrefix(to_bytes(v)),
        b"server.error-handler" => Set::ErrorHandler(to_bytes(v)),
        b"server.error-handler-404" => Set::ErrorHandler404(to_bytes(v)),
        _ => return Ok(None),
    };
    Ok(Some(set))
}

/// The keys of the URL modules (mod_access, mod_alias, mod_redirect,
/// mod_rewrite, mod_setenv, mod_extforward), when the module is loaded.
fn compile_module_entry(
    lc: &[u8],
    entry: &Entry,
    block: usize,
    loaded: &Loaded,
    patterns: &mut Patterns,
) -> Result<Option<Set>, Vec<Diagnostic>> {
    use crate::modules::{access, alias, extforward, redirect, rewrite, setenv, subst};
    let name = String::from_utf8_lossy(lc).into_owned();
    let set = match lc {
        b"url.access-deny" if loaded.access => {
            Set::Access(access::AccessSet::Deny(access::compile(&name, entry)?))
        }
        b"url.access-allow" if loaded.access => {
            Set::Access(access::AccessSet::Allow(access::compile(&name, entry)?))
        }
        b"alias.url" if loaded.alias => Set::Alias(alias::compile(entry)?),
        b"url.redirect" if loaded.redirect => Set::Redirect(redirect::RedirectSet::Rules(
            subst::compile_rules(&name, entry, block, patterns)?,
        )),
        b"url.redirect-code" if loaded.redirect => {
            let code = to_number(&entry.value);
            if !(100..1000).contains(&code) {
                return Err(vec![
                    Diagnostic::error(format!(
                        "url.redirect-code must be an HTTP status code, not {}",
                        show_value(&entry.value)
                    ))
                    .at(entry.span),
                ]);
            }
            Set::Redirect(redirect::RedirectSet::Code(code as u16))
        }
        _ if loaded.rewrite && rewrite::key_kind(lc).is_some() => {
            let Some((nf, once, rank)) = rewrite::key_kind(lc) else {
                return Ok(None);
            };
            let list = rewrite::RewriteList::new(
                subst::compile_rules(&name, entry, block, patterns)?,
                once,
            );
            Set::Rewrite(if nf {
                rewrite::RewriteSet::IfNotFile(list, rank)
            } else {
                rewrite::RewriteSet::Rules(list, rank)
            })
        }
        _ if loaded.setenv && lc.starts_with(b"setenv.") => match setenv::compile(lc, entry)? {
            Some(s) => Set::Setenv(s),
            None => return Ok(None),
        },
        _ if loaded.dirlisting
            && (lc.starts_with(b"dir-listing.") || lc == b"server.dir-listing") =>
        {
            match crate::modules::dirlisting::compile_entry(lc, entry, patterns)? {
                Some(d) => Set::DirListing(d),
                None => return Ok(None),
            }
        }
        _ if loaded.auth && lc.starts_with(b"auth.") => {
            match crate::modules::auth::compile(lc, entry)? {
                Some(s) => Set::Auth(s),
                None => return Ok(None),
            }
        }
        _ if loaded.extforward && lc.starts_with(b"extforward.") => {
            match extforward::compile(lc, entry)? {
                Some(s) => Set::Extforward(s),
                None => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(set))
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("\"{}\"", String::from_utf8_lossy(s)),
        Value::Int(i) => i.to_string(),
        Value::Array(_) => "a list".into(),
    }
}

/// A block's `accesslog.*` settings: the format checked, and — when `sinks`
/// is given (a start, not `-tt`) — its file, pipe or syslog opened.
/// `Ok(None)` when the block sets none.
pub fn compile_accesslog(
    entries: &crate::config::value::Array,
    sinks: Option<&mut crate::modules::accesslog::SinkRegistry>,
) -> Result<Option<Set>, Vec<Diagnostic>> {
    use crate::modules::accesslog::{self as al, BlockKeys};
    let get = |k: &str| entries.get(k.as_bytes());
    let (filename, format, use_syslog, level, escaping) = (
        get("accesslog.filename"),
        get("accesslog.format"),
        get("accesslog.use-syslog"),
        get("accesslog.syslog-level"),
        get("accesslog.escaping"),
    );
    if filename.is_none()
        && format.is_none()
        && use_syslog.is_none()
        && level.is_none()
        && escaping.is_none()
    {
        return Ok(None);
    }
    let text = |e: Option<&Entry>| -> Result<Option<Vec<u8>>, Vec<Diagnostic>> {
        match e {
            None => Ok(None),
            Some(e) => match &e.value {
                Value::Str(s) => Ok(Some(s.to_vec())),
                Value::Int(i) => Ok(Some(i.to_string().into_bytes())),
                Value::Array(_) => Err(vec![
                    Diagnostic::error("this accesslog setting must be a string").at(e.span),
                ]),
            },
        }
    };
    // the type check lighttpd's mod_accesslog makes
    fn typed<'a>(
        e: Option<&'a Entry>,
        key: &str,
        ty: KeyType,
    ) -> Result<Option<&'a Value>, Vec<Diagnostic>> {
        match e {
            Some(e) => match crate::config::check::check_type(key, ty, e) {
                Some(d) => Err(vec![d]),
                None => Ok(Some(&e.value)),
            },
            None => Ok(None),
        }
    }
    let filename_v = text(filename)?;
    let format_v = text(format)?;
    let escaping_v = text(escaping)?;
    let keys = BlockKeys {
        filename: filename_v.as_deref(),
        format: format_v.as_deref(),
        use_syslog: typed(use_syslog, "accesslog.use-syslog", KeyType::Bool)?.map(to_bool),
        syslog_level: typed(level, "accesslog.syslog-level", KeyType::Short)?
            .map(|v| i32::try_from(to_number(v)).unwrap_or(i32::MAX)),
        escaping: escaping_v.as_deref(),
    };
    let span = format.or(filename).or(use_syslog).map(|e| e.span);
    let located = |e: al::AccessLogError| {
        let at = match &e {
            al::AccessLogError::Format { .. } => format.map(|e| e.span),
            _ => filename.map(|e| e.span),
        }
        .or(span);
        vec![Diagnostic::error(e.to_string()).at_opt(at)]
    };
    match sinks {
        Some(registry) => Ok(Some(Set::AccessLog(Arc::new(
            al::compile(&keys, registry).map_err(located)?,
        )))),
        None => {
            if let Some(f) = keys.format {
                al::Format::parse(f).map_err(|source| {
                    located(al::AccessLogError::Format {
                        format: f.into(),
                        source,
                    })
                })?;
            }
            Ok(None)
        }
    }
}
