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
use crate::config::keys;
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
    /// `server.tag` as a header value (`None`: no `Server` header).
    pub server_header: Option<http::HeaderValue>,
    /// `server.errorfile-prefix`.
    pub errorfile_prefix: Option<Arc<[u8]>>,
    /// `server.error-handler`.
    pub error_handler: Option<Arc<[u8]>>,
    /// `server.error-handler-404`.
    pub error_handler_404: Option<Arc<[u8]>>,
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
            server_header: Some(http::HeaderValue::from_static(DEFAULT_SERVER_TAG)),
            errorfile_prefix: None,
            error_handler: None,
            error_handler_404: None,
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
            Set::ErrorfilePrefix(v) => self.errorfile_prefix = Some(v.clone()),
            Set::ErrorHandler(v) => self.error_handler = Some(v.clone()),
            Set::ErrorHandler404(v) => self.error_handler_404 = Some(v.clone()),
            Set::UploadDirs(v) => self.upload_dirs = v.clone(),
            Set::Proxy(p) => self.proxy.apply(p),
            Set::Wstunnel(w) => self.wstunnel.apply(w),
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

/// Converts one config entry into a change, if it is a per-request setting
/// wick implements. `Ok(None)` for keys handled elsewhere. Gateway keys
/// (`proxy.*`) are compiled only when `gw` is given (their module is loaded).
pub fn compile_entry(
    key: &[u8],
    entry: &Entry,
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
        b"server.max-keep-alive-requests" => Set::Number(Number::KeepAliveRequests, to_number(v)),
        b"server.max-keep-alive-idle" => Set::Number(Number::KeepAliveIdle, to_number(v)),
        b"server.max-read-idle" => Set::Number(Number::ReadIdle, to_number(v)),
        b"server.max-write-idle" => Set::Number(Number::WriteIdle, to_number(v)),
        b"server.max-request-size" => Set::Number(Number::RequestSize, to_number(v)),
        b"server.stream-request-body" => Set::Number(Number::StreamRequestBody, to_number(v)),
        b"server.stream-response-body" => Set::Number(Number::StreamResponseBody, to_number(v)),
        b"server.tag" => Set::ServerTag(to_bytes(v)),
        b"server.upload-dirs" => Set::UploadDirs(
            to_string_list(v)
                .iter()
                .map(|d| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(d)))
                .collect::<Vec<_>>()
                .into(),
        ),
        b"server.upload-temp-file-size" => Set::Number(Number::UploadTempFileSize, to_number(v)),
        b"server.feature-flags" => Set::Proxy(proxy_config::features(v)),
        b"server.errorfile-prefix" => Set::ErrorfilePrefix(to_bytes(v)),
        b"server.error-handler" => Set::ErrorHandler(to_bytes(v)),
        b"server.error-handler-404" => Set::ErrorHandler404(to_bytes(v)),
        _ => return Ok(None),
    };
    Ok(Some(set))
}
