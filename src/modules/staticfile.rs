//! mod_staticfile and mod_indexfile: files from `server.document-root`
//! (lighttpd: `mod_staticfile.c`, `mod_indexfile.c`, `http_response_send_file`,
//! `http_response_handle_cachable`, `http_range.c` (its parsing: `range.rs`),
//! `stat_cache.c`).
//!
//! ```text
//! path ─► docroot + path ─stat─► file ──────────────► conditional (304) ─► range (206/416) ─► 200
//!                           │    directory, no "/" ─► 301 to path + "/"
//!                           │    directory ─────────► index-file.names ─► file, or 403
//!                           └─── ENOTDIR ───────────► a file earlier on the path: serve it
//!                                                    (path info), unless disable-pathinfo
//! ```
//!
//! What lighttpd 1.4.69 does and wick does too: POST is served like GET;
//! OPTIONS of anything that exists gets `Allow` (before index files,
//! exclusions and `disable-pathinfo` are looked at); other methods get
//! 501; a type not found in mimetype.assign means no ETag and no
//! Last-Modified (and no 304); ranges closer than 80 bytes are merged;
//! several ranges are sent as multipart/byteranges.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bstr::ByteSlice;
use bytes::{Bytes, BytesMut};
use http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderValue,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, LOCATION, RANGE, SERVER,
};
use http::{HeaderMap, Method, Response, StatusCode};
use tokio::sync::mpsc;

use super::filecache::{CachedMime, Entry, FileCache, FileHeaders, SMALL_FILE};
use super::range::{byte_ranges, parse_ranges};
use crate::request::body::Body;
use crate::request::hdr;
use crate::routing::Settings;
use crate::server::sendfile::{FileBody, FileSends};

/// Files up to this size are read at once; larger ones are streamed.
const READ_AT_ONCE: u64 = 256 * 1024;
/// Chunk size when streaming a file.
const CHUNK: usize = 64 * 1024;
/// The multipart/byteranges boundary (the one lighttpd sends).
pub const BOUNDARY: &str = "fkj49sn38dcn3";

/// A request as the static file handler sees it.
#[derive(Debug)]
pub struct FileRequest<'a> {
    /// Method.
    pub method: &'a Method,
    /// HTTP version (ranges are an HTTP/1.1 feature).
    pub version: http::Version,
    /// Decoded, normalised path (what `$HTTP["url"]` sees).
    pub path: &'a [u8],
    /// Query string, if any.
    pub query: Option<&'a [u8]>,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Effective settings.
    pub settings: &'a Settings,
    /// The stat cache.
    pub cache: &'a FileCache,
    /// Where a file body queues its parts for `sendfile(2)`, when the
    /// response goes out on a connection that sends files.
    pub sends: Option<&'a Arc<FileSends>>,
    /// mod_alias: the directory (or file) that replaces the document root
    /// and the rest of the path below it.
    pub alias: Option<(&'a [u8], &'a [u8])>,
    /// What the modules do with a directory, in `server.modules` order.
    pub dir_steps: &'a [DirStep],
}

/// What a module does with a request for a directory (in the order of
/// `server.modules`, as lighttpd calls them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirStep {
    /// mod_indexfile: the first of `index-file.names` that exists replaces
    /// the directory (the later modules see a file).
    Index,
    /// mod_dirlisting: the listing, when `dir-listing.activate` is on.
    List,
    /// mod_staticfile: a directory is refused (403); a file is served.
    Refuse,
}

/// What the handler decided.
#[derive(Debug)]
pub enum Served {
    /// A complete response (200, 206, 301, 304).
    Response(Response<Body>),
    /// An error status; the caller makes the error page (or error file).
    Error(StatusCode),
}

/// The file a response was served from (for the access log's `%f`).
#[derive(Debug, Clone)]
pub struct ServedFile(pub PathBuf);

/// The file a path maps to.
#[derive(Debug)]
struct Found {
    path: PathBuf,
    entry: Arc<Entry>,
}

pub(crate) fn os_path(b: &[u8]) -> PathBuf {
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

/// `root` followed by `path`, with one `/` where both have one.
pub(crate) fn join(root: &[u8], path: &[u8]) -> Vec<u8> {
    let root = match root.strip_suffix(b"/") {
        Some(r) if path.starts_with(b"/") => r,
        _ => root,
    };
    let mut p = Vec::with_capacity(root.len() + path.len());
    p.extend_from_slice(root);
    p.extend_from_slice(path);
    p
}

fn error_for(e: &io::Error) -> StatusCode {
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) => StatusCode::NOT_FOUND,
        Some(libc::EACCES | libc::EPERM | libc::ELOOP) => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Serves a request from the document root.
pub fn serve(req: &FileRequest<'_>) -> Served {
    let s = req.settings;
    let (root, rel) = match req.alias {
        Some(a) => a,
        None => match s.document_root.as_deref() {
            Some(root) => (root, req.path),
            None => return Served::Error(StatusCode::INTERNAL_SERVER_ERROR),
        },
    };
    let url_path: std::borrow::Cow<'_, [u8]> = if s.force_lowercase_filenames {
        rel.to_ascii_lowercase().into()
    } else {
        rel.into()
    };
    let full = join(root, &url_path);
    let stat = req.cache.stat(&full);
    // What exists is refused before anything else when a symlink leads to
    // it (a missing file stays 404); an index or path-info file found
    // below is checked again.
    if stat.is_ok() && !s.follow_symlink {
        if let Err(status) = no_symlink_on_path(&full) {
            return Served::Error(status);
        }
    }
    let found_is_full = matches!(&stat, Ok(e) if !e.meta.is_dir());
    let found = match stat {
        Ok(entry) if entry.meta.is_dir() => {
            if !req.path.ends_with(b"/") {
                return Served::Response(redirect_to_dir(req));
            }
            // any directory, with or without an index file (lighttpd)
            if let Some(answer) = on_existing(req.method) {
                return answer;
            }
            let mut index = None;
            for step in req.dir_steps {
                match step {
                    DirStep::Index => {
                        index = index_file(root, &full, s, req.cache);
                        if index.is_some() {
                            break;
                        }
                    }
                    DirStep::List if s.dirlisting.activate => return listing(req, &full),
                    DirStep::List => {}
                    DirStep::Refuse => break,
                }
            }
            match index {
                Some(f) => f,
                None => return Served::Error(StatusCode::FORBIDDEN),
            }
        }
        Ok(entry) => Found {
            path: PathBuf::from(std::ffi::OsString::from_vec(full)),
            entry,
        },
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            match path_info_file(root, &url_path, req.cache) {
                Some(_) if s.disable_pathinfo && *req.method != Method::OPTIONS => {
                    return Served::Error(StatusCode::FORBIDDEN);
                }
                // mod_access looks again at the path of the file found
                Some((_, end))
                    if !s.access.is_off()
                        && !s
                            .access
                            .allows(&url_path[..end], s.force_lowercase_filenames) =>
                {
                    return Served::Error(StatusCode::FORBIDDEN);
                }
                Some((f, _)) => f,
                None => return Served::Error(StatusCode::NOT_FOUND),
            }
        }
        Err(e) => return Served::Error(error_for(&e)),
    };
    if !s.follow_symlink && !found_is_full {
        if let Err(status) = no_symlink_on_path(found.path.as_os_str().as_bytes()) {
            return Served::Error(status);
        }
    }
    // (whatever static-file.exclude-extensions says)
    if let Some(answer) = on_existing(req.method) {
        return answer;
    }
    let ft = found.entry.meta.file_type();
    if !ft.is_file() || ft.is_fifo() || ft.is_socket() {
        return Served::Error(StatusCode::FORBIDDEN);
    }
    let name = found.path.as_os_str().as_bytes();
    if s.exclude_extensions.iter().any(|ext| name.ends_with(ext)) {
        return Served::Error(StatusCode::FORBIDDEN);
    }
    match *req.method {
        Method::GET | Method::HEAD | Method::POST => {
            let mut served = send_file(req, &found);
            if s.accesslog.is_enabled() {
                if let Served::Response(r) = &mut served {
                    r.extensions_mut().insert(ServedFile(found.path.clone()));
                }
            }
            served
        }
        _ => Served::Error(StatusCode::NOT_IMPLEMENTED),
    }
}

/// The answer to OPTIONS: the methods a file or directory takes.
pub fn options() -> Response<Body> {
    let mut r = Response::new(Body::empty());
    r.headers_mut().insert(
        http::header::ALLOW,
        HeaderValue::from_static("OPTIONS, GET, HEAD, POST"),
    );
    r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
    r
}

/// mod_dirlisting: the listing of the directory `dir` (GET, HEAD; POST
/// 403, other methods 501, as lighttpd; OPTIONS is answered before).
fn listing(req: &FileRequest<'_>, dir: &[u8]) -> Served {
    let s = req.settings;
    match *req.method {
        Method::GET | Method::HEAD => {}
        Method::POST => return Served::Error(StatusCode::FORBIDDEN),
        _ => return Served::Error(StatusCode::NOT_IMPLEMENTED),
    }
    let path = os_path(dir);
    let lreq = super::dirlisting::ListingRequest {
        dir: &path,
        uri_path: req.path,
        server_tag: &s.server_tag,
        mimetypes: &s.mimetypes,
        follow_symlink: s.follow_symlink,
    };
    let page = match req.cache.listings.render(&lreq, &s.dirlisting) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("opendir {}: {e}", path.display());
            return Served::Error(StatusCode::FORBIDDEN);
        }
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(&page.content_type) {
        headers.insert(CONTENT_TYPE, v);
    }
    if let Some(age) = page.max_age {
        if let Ok(v) = HeaderValue::from_str(&format!("max-age={age}")) {
            headers.insert(http::header::CACHE_CONTROL, v);
        }
    }
    if let Some(tag) = page
        .etag
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        headers.insert(ETAG, tag);
    }
    if req.version >= http::Version::HTTP_11 && s.range_requests {
        headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    let len = page.body.len();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    let mut r = Response::new(if *req.method == Method::HEAD {
        Body::empty()
    } else {
        Body::full(page.body)
    });
    *r.headers_mut() = headers;
    Served::Response(r)
}

/// Serves the file at an absolute path (`X-Sendfile` from a backend):
/// 404 when it does not exist, 403 when it is not a regular file.
pub fn send_path(path: &Path, req: &FileRequest<'_>) -> Served {
    let entry = match req.cache.stat(path.as_os_str().as_bytes()) {
        Ok(e) => e,
        Err(e) => return Served::Error(error_for(&e)),
    };
    if !entry.meta.file_type().is_file() {
        return Served::Error(StatusCode::FORBIDDEN);
    }
    send_file(
        req,
        &Found {
            path: path.to_path_buf(),
            entry,
        },
    )
}

/// `server.follow-symlink = "disable"`: 403 when any component of the
/// physical path `path` is a symlink — the document root (or alias target)
/// and the directories above it included, as lighttpd 1.4.69 checks the
/// whole path of what it found. Called only for a path that exists.
fn no_symlink_on_path(path: &[u8]) -> Result<(), StatusCode> {
    let mut path = path;
    while let Some(p) = path.strip_suffix(b"/") {
        path = p;
    }
    let ends = path
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'/' && i > 0 && path[i - 1] != b'/')
        .map(|(i, _)| i)
        .chain((!path.is_empty()).then_some(path.len()));
    for end in ends {
        match std::fs::symlink_metadata(os_path(&path[..end])) {
            Ok(m) if m.file_type().is_symlink() => return Err(StatusCode::FORBIDDEN),
            Ok(_) => {}
            Err(e) => return Err(error_for(&e)),
        }
    }
    Ok(())
}

/// The first of `index-file.names` that exists in the directory `dir`
/// (names starting with `/` are taken from the document root), whatever
/// it is: a directory or other non-file found there is refused (403) by
/// the caller rather than skipped, as lighttpd does.
fn index_file(root: &[u8], dir: &[u8], s: &Settings, cache: &FileCache) -> Option<Found> {
    s.index_files.iter().find_map(|name| {
        let p = if name.starts_with(b"/") {
            join(root, name)
        } else {
            join(dir, name)
        };
        cache.stat(&p).ok().map(|entry| Found {
            path: os_path(&p),
            entry,
        })
    })
}

/// For `/a.txt/extra`: the regular file the longest leading part names
/// (the root itself, when an alias names a file), and that part's length.
fn path_info_file(root: &[u8], url_path: &[u8], cache: &FileCache) -> Option<(Found, usize)> {
    let mut end = url_path.len();
    while let Some(i) = url_path[..end].rfind_byte(b'/') {
        let p = if i == 0 {
            root.to_vec()
        } else {
            join(root, &url_path[..i])
        };
        if let Ok(entry) = cache.stat(&p) {
            return entry.meta.is_file().then_some((
                Found {
                    path: os_path(&p),
                    entry,
                },
                i,
            ));
        }
        if i == 0 {
            return None;
        }
        end = i;
    }
    None
}

/// The redirect of a directory asked for without its `/`: the decoded path
/// encoded again as lighttpd encodes it (only letters, digits, `-._~!()*`
/// and `/` stay as they are: `/a+b` → `/a%2Bb/`, `/x%21` → `/x!/`), then
/// the query, unless it is empty (`/d?` → `/d/`).
fn redirect_to_dir(req: &FileRequest<'_>) -> Response<Body> {
    let mut loc = Vec::with_capacity(req.path.len() + 8);
    for &b in req.path {
        if b.is_ascii_alphanumeric() || b"-._~!()*/".contains(&b) {
            loc.push(b);
        } else {
            loc.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    loc.push(b'/');
    if let Some(q) = req.query.filter(|q| !q.is_empty()) {
        loc.push(b'?');
        loc.extend_from_slice(q);
    }
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = HeaderValue::from_bytes(&loc) {
        r.headers_mut().insert(LOCATION, v);
    }
    if *req.method != Method::HEAD {
        r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
    }
    r
}

/// A strong ETag from the file's identity, as `etag.use-*` select.
pub fn etag(meta: &Metadata, s: &Settings) -> Option<HeaderValue> {
    if !s.static_etags || !(s.etag_use_inode || s.etag_use_mtime || s.etag_use_size) {
        return None;
    }
    // FNV-1a over the selected fields: stable, cheap, and only ever compared
    // with itself.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |v: u64| {
        for b in v.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    if s.etag_use_inode {
        mix(meta.ino());
    }
    if s.etag_use_size {
        mix(meta.size());
    }
    if s.etag_use_mtime {
        mix(meta.mtime() as u64);
        mix(meta.mtime_nsec() as u64);
    }
    HeaderValue::from_str(&format!("\"{}\"", (h ^ (h >> 32)) as u32)).ok()
}

/// True when `If-None-Match` lists `etag` (or `*`); weak comparison.
fn none_match(header: &[u8], etag: &[u8]) -> bool {
    let strip = |t: &[u8]| -> Vec<u8> { t.strip_prefix(b"W/").unwrap_or(t).to_vec() };
    let want = strip(etag);
    header
        .split_str(",")
        .map(|t| t.trim())
        .any(|t| t == b"*" || strip(t) == want)
}

/// The file's `Content-Type` by the request's MIME table, looked up once
/// per cached file and table.
fn content_type<'a>(s: &Settings, f: &'a Found) -> std::borrow::Cow<'a, CachedMime> {
    let table = &s.mimetypes;
    if let Some(m) = f.entry.mime.get().filter(|m| m.table == table.id()) {
        return std::borrow::Cow::Borrowed(m);
    }
    let found = table.lookup(f.path.as_os_str().as_bytes());
    let m = CachedMime {
        table: table.id(),
        content_type: found.value.cloned(),
        known: found.known,
    };
    // (a file asked about by another table first keeps that answer, and
    // this table looks again each time)
    let _ = f.entry.mime.set(m.clone());
    std::borrow::Cow::Owned(m)
}

/// The answer to a method that does not depend on the file, once what
/// the request names exists and may be reached (lighttpd): OPTIONS lists
/// the usual methods; CONNECT (only a WebSocket over HTTP/2 gets here,
/// when no module took it) is not taken, 405.
fn on_existing(method: &Method) -> Option<Served> {
    match *method {
        Method::OPTIONS => Some(Served::Response(options())),
        Method::CONNECT => Some(Served::Error(StatusCode::METHOD_NOT_ALLOWED)),
        _ => None,
    }
}

fn send_file(req: &FileRequest<'_>, f: &Found) -> Served {
    let s = req.settings;
    let mime = content_type(s, f);
    let meta = &f.entry.meta;
    let size = meta.size();
    let default_etag = s.static_etags && s.etag_use_inode && s.etag_use_mtime && s.etag_use_size;
    // (the default one is borrowed from the file-cache entry; another is
    // made for this request and kept here)
    let made;
    let etag: Option<&HeaderValue> = if !mime.known {
        None
    } else if default_etag {
        f.entry.default_etag.get_or_init(|| etag(meta, s)).as_ref()
    } else {
        made = etag(meta, s);
        made.as_ref()
    };
    // (seconds since 1970, negative before: lighttpd dates files of any time)
    let modified = mime.known.then(|| meta.mtime());
    // Ranges: HTTP/1.1 or HTTP/2 GET of a non-empty file, `bytes` units only.
    let ranged =
        s.range_requests && req.version >= http::Version::HTTP_11 && *req.method != Method::POST;
    let head_only = *req.method == Method::HEAD;
    let range = (ranged && !head_only && size > 0)
        .then(|| hdr::get(req.headers, &RANGE))
        .flatten();
    // A plain 200 (or its 304) takes the file's cached headers, Server
    // and Accept-Ranges included; anything else builds its own.
    let cached = mime.known
        && default_etag
        && ranged
        && !head_only
        && size > 0
        && range.is_none()
        && s.setenv.keeps_response();
    let build = |all: bool| {
        let mut headers = HeaderMap::with_capacity(8);
        if let Some(v) = &mime.content_type {
            headers.insert(CONTENT_TYPE, v.clone());
        }
        if let Some(e) = etag {
            headers.insert(ETAG, e.clone());
        }
        if let (Some(_), Some(v)) = (modified, f.entry.last_modified()) {
            headers.insert(LAST_MODIFIED, v.clone());
        }
        if all {
            headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let Some(v) = &s.server_header {
                headers.insert(SERVER, v.clone());
            }
        }
        headers
    };
    let mut headers = if !cached {
        build(false)
    } else {
        match f.entry.headers.get() {
            Some(h) if h.table == mime.table && h.server == s.server_header => h.map.clone(),
            Some(_) => build(true),
            None => {
                let map = build(true);
                if req.cache.enabled() {
                    let _ = f.entry.headers.set(FileHeaders {
                        table: mime.table,
                        server: s.server_header.clone(),
                        map: map.clone(),
                    });
                }
                map
            }
        }
    };
    // A POST whose If-None-Match matches fails its precondition.
    if *req.method == Method::POST {
        if let (Some(inm), Some(e)) = (hdr::get(req.headers, &IF_NONE_MATCH), etag) {
            if none_match(inm.as_bytes(), e.as_bytes()) {
                return Served::Error(StatusCode::PRECONDITION_FAILED);
            }
        }
    }
    // Conditional GET: If-None-Match wins over If-Modified-Since.
    if mime.known && matches!(*req.method, Method::GET | Method::HEAD) {
        let not_modified = match (hdr::get(req.headers, &IF_NONE_MATCH), etag) {
            (Some(inm), Some(e)) => none_match(inm.as_bytes(), e.as_bytes()),
            (Some(_), None) => false,
            (None, _) => match (hdr::get(req.headers, &IF_MODIFIED_SINCE), modified) {
                (Some(ims), Some(m)) => {
                    super::http_date::parse(ims.as_bytes()).is_some_and(|since| m <= since)
                }
                _ => false,
            },
        };
        if not_modified {
            if cached {
                // (a 304 says nothing of ranges; Server moves into its place)
                headers.remove(ACCEPT_RANGES);
            }
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            *r.headers_mut() = headers;
            return Served::Response(r);
        }
    }
    if ranged && !cached {
        headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    let ranges = range
        .filter(|r| byte_ranges(r.as_bytes()).is_some())
        .filter(|_| {
            let last_modified = modified.and(f.entry.last_modified());
            crate::modules::range::if_range_holds(
                hdr::get(req.headers, &IF_RANGE),
                etag,
                last_modified,
            )
        })
        .map(|r| parse_ranges(r.as_bytes(), size));
    let src = Source {
        path: &f.path,
        entry: &f.entry,
        cache: req.cache,
        sends: req.sends,
    };
    match ranges {
        None => full_response(&src, size, headers, head_only),
        Some(None) => Served::Error(StatusCode::RANGE_NOT_SATISFIABLE),
        Some(Some(ranges)) => {
            let content_type = mime
                .content_type
                .as_ref()
                .map_or(crate::routing::mime::OCTET_STREAM, HeaderValue::as_bytes);
            range_response(&src, size, &ranges, headers, content_type, head_only)
        }
    }
}

/// Where a response's bytes come from.
struct Source<'a> {
    path: &'a Path,
    entry: &'a Entry,
    cache: &'a FileCache,
    sends: Option<&'a Arc<FileSends>>,
}

fn full_response(src: &Source<'_>, size: u64, mut headers: HeaderMap, head_only: bool) -> Served {
    let body = if head_only || size == 0 {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
        Body::empty()
    } else {
        // (hyper writes the length of a body of known size itself)
        match file_body(src, &[(0, size - 1)], None) {
            Ok(b) => b,
            Err(e) => return Served::Error(error_for(&e)),
        }
    };
    let mut r = Response::new(body);
    *r.headers_mut() = headers;
    Served::Response(r)
}

fn range_response(
    src: &Source<'_>,
    size: u64,
    ranges: &[(u64, u64)],
    mut headers: HeaderMap,
    content_type: &[u8],
    head_only: bool,
) -> Served {
    let status = StatusCode::PARTIAL_CONTENT;
    let (len, body) = if let [(a, b)] = ranges {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{size}")) {
            headers.insert(CONTENT_RANGE, v);
        }
        let len = b - a + 1;
        let body = if head_only {
            Ok(Body::empty())
        } else {
            file_body(src, ranges, None)
        };
        (len, body)
    } else {
        let parts: Vec<Bytes> = ranges
            .iter()
            .map(|(a, b)| {
                let mut h = BytesMut::new();
                h.extend_from_slice(b"--");
                h.extend_from_slice(BOUNDARY.as_bytes());
                h.extend_from_slice(b"\r\nContent-Type: ");
                h.extend_from_slice(content_type);
                h.extend_from_slice(
                    format!("\r\nContent-Range: bytes {a}-{b}/{size}\r\n\r\n").as_bytes(),
                );
                h.freeze()
            })
            .collect();
        let trailer = Bytes::from(format!("--{BOUNDARY}--\r\n"));
        let len = ranges
            .iter()
            .zip(&parts)
            .map(|((a, b), p)| p.len() as u64 + (b - a + 1) + 2)
            .sum::<u64>()
            + trailer.len() as u64;
        if let Ok(v) = HeaderValue::from_str(&format!("multipart/byteranges; boundary={BOUNDARY}"))
        {
            headers.insert(CONTENT_TYPE, v);
        }
        let body = if head_only {
            Ok(Body::empty())
        } else {
            file_body(src, ranges, Some((parts, trailer)))
        };
        (len, body)
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return Served::Error(error_for(&e)),
    };
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    Served::Response(r)
}

/// The bytes of `ranges` of the file, each preceded by its multipart
/// header when `multipart` is given. Small files come from the cache; on a
/// connection that sends files the others go out with `sendfile(2)`;
/// otherwise small responses are read at once and larger ones stream from a
/// blocking reader with back-pressure.
fn file_body(
    src: &Source<'_>,
    ranges: &[(u64, u64)],
    multipart: Option<(Vec<Bytes>, Bytes)>,
) -> io::Result<Body> {
    let total: u64 = ranges.iter().map(|(a, b)| b - a + 1).sum();
    if src.entry.meta.size() <= SMALL_FILE {
        // Small files come from the cache; ranges are slices of it.
        let content = src.cache.content(src.entry, src.path)?;
        if multipart.is_none() && ranges.len() == 1 {
            let (a, b) = ranges[0];
            return Ok(Body::full(content.slice(a as usize..=b as usize)));
        }
        let mut out = BytesMut::with_capacity(total as usize + 256);
        for (i, (a, b)) in ranges.iter().enumerate() {
            if let Some((parts, _)) = &multipart {
                out.extend_from_slice(&parts[i]);
            }
            out.extend_from_slice(&content[*a as usize..=*b as usize]);
            if multipart.is_some() {
                out.extend_from_slice(b"\r\n");
            }
        }
        if let Some((_, trailer)) = &multipart {
            out.extend_from_slice(trailer);
        }
        return Ok(Body::full(out.freeze()));
    }
    let mut file = File::open(src.path)?;
    if let Some(sends) = src.sends {
        return Ok(Body::File(Box::new(FileBody::new(
            file,
            sends.clone(),
            ranges,
            multipart,
        ))));
    }
    let total: u64 = ranges.iter().map(|(a, b)| b - a + 1).sum();
    if total <= READ_AT_ONCE {
        let mut out = BytesMut::with_capacity(total as usize + 256);
        for (i, (a, b)) in ranges.iter().enumerate() {
            if let Some((parts, _)) = &multipart {
                out.extend_from_slice(&parts[i]);
            }
            file.seek(SeekFrom::Start(*a))?;
            let n = (b - a + 1) as usize;
            let start = out.len();
            out.resize(start + n, 0);
            file.read_exact(&mut out[start..])?;
            if multipart.is_some() {
                out.extend_from_slice(b"\r\n");
            }
        }
        if let Some((_, trailer)) = &multipart {
            out.extend_from_slice(trailer);
        }
        return Ok(Body::full(out.freeze()));
    }
    let (tx, rx) = mpsc::channel(4);
    let ranges = ranges.to_vec();
    let remaining = multipart.as_ref().map_or(total, |(parts, trailer)| {
        total + parts.iter().map(|p| p.len() as u64 + 2).sum::<u64>() + trailer.len() as u64
    });
    tokio::task::spawn_blocking(move || {
        let send = |b: io::Result<Bytes>| tx.blocking_send(b).is_ok();
        for (i, (a, b)) in ranges.iter().enumerate() {
            if let Some((parts, _)) = &multipart {
                if !send(Ok(parts[i].clone())) {
                    return;
                }
            }
            if let Err(e) = file.seek(SeekFrom::Start(*a)) {
                send(Err(e));
                return;
            }
            let mut left = b - a + 1;
            while left > 0 {
                let n = left.min(CHUNK as u64) as usize;
                let mut buf = BytesMut::zeroed(n);
                if let Err(e) = file.read_exact(&mut buf) {
                    send(Err(e));
                    return;
                }
                left -= n as u64;
                if !send(Ok(buf.freeze())) {
                    return;
                }
            }
            if multipart.is_some() && !send(Ok(Bytes::from_static(b"\r\n"))) {
                return;
            }
        }
        if let Some((_, trailer)) = multipart {
            send(Ok(trailer));
        }
    });
    Ok(Body::Stream {
        rx,
        remaining: Some(remaining),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `/` between root and path where both have one, else as given.
    #[test]
    fn join_drops_one_doubled_slash() {
        for (root, path, joined) in [
            (&b"/srv/"[..], &b"/a.txt"[..], &b"/srv/a.txt"[..]),
            (b"/srv", b"/a.txt", b"/srv/a.txt"),
            (b"/srv/", b"a.txt", b"/srv/a.txt"),
            (b"/srv", b"a.txt", b"/srva.txt"),
            (b"/srv//", b"/a", b"/srv//a"),
            (b"/", b"/", b"/"),
            (b"", b"/a", b"/a"),
        ] {
            assert_eq!(join(root, path), joined, "{root:?} + {path:?}");
        }
    }

    /// A scratch tree: `real/` with `f.txt`, `d/index.html`, `d/s.txt`,
    /// `lf.txt -> f.txt`, `ld -> d`, `d3/index.html -> ../f.txt`, and
    /// `rootlink -> real` beside it.
    fn symlink_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real");
        std::fs::create_dir_all(real.join("d")).expect("mkdir");
        std::fs::create_dir_all(real.join("d3")).expect("mkdir");
        std::fs::write(real.join("f.txt"), "f\n").expect("write");
        std::fs::write(real.join("d/index.html"), "idx\n").expect("write");
        std::fs::write(real.join("d/s.txt"), "s\n").expect("write");
        let link = |to: &str, at: &Path| std::os::unix::fs::symlink(to, at).expect("symlink");
        link("f.txt", &real.join("lf.txt"));
        link("d", &real.join("ld"));
        link("../f.txt", &real.join("d3/index.html"));
        link("real", &dir.path().join("rootlink"));
        dir
    }

    /// The status `serve` answers a GET of `path` with.
    fn status_of(s: &Settings, path: &str) -> StatusCode {
        answer(s, &Method::GET, path).0
    }

    /// `serve`'s status and headers for `method` on `path`.
    fn answer(s: &Settings, method: &Method, path: &str) -> (StatusCode, HeaderMap) {
        answer_to(s, method, path, HeaderMap::new())
    }

    /// [`answer`] to a request with `headers`.
    fn answer_to(
        s: &Settings,
        method: &Method,
        path: &str,
        headers: HeaderMap,
    ) -> (StatusCode, HeaderMap) {
        let cache = FileCache::new(false);
        let req = FileRequest {
            method,
            version: http::Version::HTTP_11,
            path: path.as_bytes(),
            query: None,
            headers: &headers,
            settings: s,
            cache: &cache,
            sends: None,
            alias: None,
            dir_steps: &[DirStep::Index, DirStep::Refuse],
        };
        match serve(&req) {
            Served::Response(r) => (r.status(), r.headers().clone()),
            Served::Error(status) => (status, HeaderMap::new()),
        }
    }

    fn settings_for(root: &Path, follow_symlink: bool) -> Settings {
        Settings {
            document_root: Some(Arc::from(root.as_os_str().as_bytes())),
            index_files: Arc::from(vec![bstr::BString::from("index.html")]),
            follow_symlink,
            ..Settings::default()
        }
    }

    /// `server.follow-symlink = "disable"` refuses (403) whatever exists
    /// behind a symlink anywhere on its physical path — the document root
    /// and the directories above it included — before a directory is
    /// redirected or its index looked up; a missing file stays 404
    /// (calibrated against lighttpd 1.4.69).
    #[test]
    fn follow_symlink_disabled_checks_the_whole_path() {
        let tree = symlink_tree();
        // (the scratch directory's own path may lead through a symlink)
        let base = tree.path().canonicalize().expect("canonical scratch path");
        let real = settings_for(&base.join("real"), false);
        for (path, status) in [
            ("/f.txt", 200),
            ("/lf.txt", 403),
            ("/lf.txt/extra", 403),
            ("/d", 301),
            ("/d/", 200),
            ("/d/s.txt/extra", 200),
            ("/d3/", 403),
            ("/ld", 403),
            ("/ld/", 403),
            ("/ld/s.txt", 403),
            ("/ld/s.txt/extra", 403),
            ("/ld/missing", 404),
            ("/missing", 404),
        ] {
            assert_eq!(status_of(&real, path).as_u16(), status, "real root: {path}");
        }
        let linked = settings_for(&base.join("rootlink"), false);
        let above = base.join("above");
        std::os::unix::fs::symlink(&base, &above).expect("symlink");
        let through = settings_for(&above.join("real"), false);
        for s in [&linked, &through] {
            for (path, status) in [
                ("/f.txt", 403),
                ("/d", 403),
                ("/d/", 403),
                ("/d/s.txt/extra", 403),
                ("/missing", 404),
            ] {
                assert_eq!(status_of(s, path).as_u16(), status, "linked root: {path}");
            }
        }
        // followed when enabled
        let follow = settings_for(&base.join("rootlink"), true);
        for (path, status) in [("/lf.txt", 200), ("/ld", 301), ("/ld/", 200), ("/d3/", 200)] {
            assert_eq!(
                status_of(&follow, path).as_u16(),
                status,
                "followed: {path}"
            );
        }
    }

    /// OPTIONS of anything that exists is answered with `Allow` before
    /// index files, `static-file.exclude-extensions` and
    /// `static-file.disable-pathinfo` are looked at; a missing path is
    /// 404, a directory without its `/` redirected, a refused symlink 403
    /// (calibrated against lighttpd 1.4.69).
    #[test]
    fn options_of_what_exists() {
        let tree = symlink_tree();
        let base = tree.path().canonicalize().expect("canonical scratch path");
        let real = base.join("real");
        std::fs::create_dir(real.join("empty")).expect("mkdir");
        std::fs::write(real.join("x.inc"), "excluded\n").expect("write");
        let mut s = settings_for(&real, true);
        s.exclude_extensions = Arc::from(vec![bstr::BString::from(".inc")]);
        s.disable_pathinfo = true;
        let options = Method::OPTIONS;
        for (path, status) in [
            ("/f.txt", 200),
            ("/empty/", 200),
            ("/", 200),
            ("/x.inc", 200),
            ("/f.txt/extra", 200),
            ("/missing", 404),
            ("/missing/x", 404),
            ("/empty", 301),
        ] {
            let (got, headers) = answer(&s, &options, path);
            assert_eq!(got.as_u16(), status, "OPTIONS {path}");
            if status == 200 {
                assert_eq!(
                    headers.get(http::header::ALLOW).map(HeaderValue::as_bytes),
                    Some(&b"OPTIONS, GET, HEAD, POST"[..]),
                    "OPTIONS {path}"
                );
                assert_eq!(
                    headers.get(CONTENT_LENGTH).map(HeaderValue::as_bytes),
                    Some(&b"0"[..])
                );
            }
        }
        // (the same paths refused to GET)
        for path in ["/empty/", "/x.inc", "/f.txt/extra"] {
            assert_eq!(status_of(&s, path), StatusCode::FORBIDDEN, "GET {path}");
        }
        // a symlink refused by server.follow-symlink is refused to OPTIONS too,
        // a symlinked index file is not looked at
        s.follow_symlink = false;
        for (path, status) in [
            ("/lf.txt", 403),
            ("/lf.txt/x", 403),
            ("/ld/", 403),
            ("/d3/", 200),
        ] {
            assert_eq!(
                answer(&s, &options, path).0.as_u16(),
                status,
                "OPTIONS {path}"
            );
        }
    }

    /// A file last modified before 1970 keeps its date (lighttpd 1.4.69),
    /// in Last-Modified and for If-Modified-Since.
    #[test]
    fn files_from_before_1970() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("old.txt");
        std::fs::write(&file, "old\n").expect("write");
        let when = std::time::UNIX_EPOCH - std::time::Duration::from_secs(301_233_600);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .and_then(|f| f.set_modified(when))
            .expect("set mtime");
        // (the built-in MIME table knows .txt: validators are sent)
        let s = settings_for(dir.path(), true);
        let get = |ims: Option<&'static str>| {
            let mut h = HeaderMap::new();
            if let Some(v) = ims {
                h.insert(IF_MODIFIED_SINCE, HeaderValue::from_static(v));
            }
            answer_to(&s, &Method::GET, "/old.txt", h)
        };
        let (status, headers) = get(None);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers.get(LAST_MODIFIED).map(HeaderValue::as_bytes),
            Some(&b"Wed, 15 Jun 1960 12:00:00 GMT"[..])
        );
        for (ims, status) in [
            ("Wed, 15 Jun 1960 12:00:00 GMT", 304),
            ("Wed, 15 Jun 1960 11:59:59 GMT", 200),
            ("Thu, 01 Jan 1970 00:00:00 GMT", 304),
        ] {
            assert_eq!(get(Some(ims)).0.as_u16(), status, "{ims}");
        }
    }

    /// The first index name that exists is taken whatever it is: a
    /// directory there is refused, not skipped (lighttpd 1.4.69).
    #[test]
    fn index_name_naming_a_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("d/index.html")).expect("mkdir");
        std::fs::write(root.join("d/home.html"), "home\n").expect("write");
        std::fs::create_dir_all(root.join("e")).expect("mkdir");
        std::fs::write(root.join("e/home.html"), "home\n").expect("write");
        let mut s = settings_for(root, true);
        s.index_files = Arc::from(vec![
            bstr::BString::from("missing.html"),
            bstr::BString::from("index.html"),
            bstr::BString::from("home.html"),
        ]);
        assert_eq!(status_of(&s, "/d/"), StatusCode::FORBIDDEN);
        assert_eq!(status_of(&s, "/e/"), StatusCode::OK);
        s.index_files = Arc::from(vec![
            bstr::BString::from("/d"),
            bstr::BString::from("home.html"),
        ]);
        assert_eq!(status_of(&s, "/e/"), StatusCode::FORBIDDEN);
    }

    /// A directory redirect encodes the decoded path again as lighttpd
    /// 1.4.69 does, and drops an empty query.
    #[test]
    fn directory_redirect_location() {
        let s = Settings::default();
        let headers = HeaderMap::new();
        let cache = FileCache::new(false);
        let location = |path: &[u8], query: Option<&[u8]>| {
            let req = FileRequest {
                method: &Method::GET,
                version: http::Version::HTTP_11,
                path,
                query,
                headers: &headers,
                settings: &s,
                cache: &cache,
                sends: None,
                alias: None,
                dir_steps: &[],
            };
            let r = redirect_to_dir(&req);
            assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
            r.headers()
                .get(LOCATION)
                .map(|v| v.as_bytes().to_vec())
                .unwrap_or_default()
        };
        for (path, query, want) in [
            (&b"/a+b"[..], None, &b"/a%2Bb/"[..]),
            (b"/x!", None, b"/x!/"),
            (b"/d1", Some(&b""[..]), b"/d1/"),
            (b"/d1", Some(b"a=b"), b"/d1/?a=b"),
            (b"/d1", Some(b"a%20b"), b"/d1/?a%20b"),
            (b"/a b/c", None, b"/a%20b/c/"),
            (b"/-._~!()*", None, b"/-._~!()*/"),
            (b"/$&',;=:@", None, b"/%24%26%27%2C%3B%3D%3A%40/"),
            (
                b"/\"#%<>?[\\]^`{|}",
                None,
                b"/%22%23%25%3C%3E%3F%5B%5C%5D%5E%60%7B%7C%7D/",
            ),
            ("/é".as_bytes(), None, b"/%C3%A9/"),
        ] {
            assert_eq!(location(path, query), want, "{:?}", path.as_bstr());
        }
    }

    /// Every leading part of the path is looked at, however many slashes.
    #[test]
    fn symlink_on_path_components() {
        let tree = symlink_tree();
        let base = tree.path().canonicalize().expect("canonical scratch path");
        let p = |rest: &str| format!("{}/{rest}", base.display());
        assert!(no_symlink_on_path(p("real/d/s.txt").as_bytes()).is_ok());
        assert!(no_symlink_on_path(p("real//d///").as_bytes()).is_ok());
        assert!(no_symlink_on_path(b"/").is_ok());
        for linked in [
            "rootlink",
            "rootlink/",
            "rootlink//d/s.txt",
            "real/ld/",
            "real/lf.txt",
        ] {
            assert_eq!(
                no_symlink_on_path(p(linked).as_bytes()),
                Err(StatusCode::FORBIDDEN),
                "{linked}"
            );
        }
    }

    /// `If-None-Match` lists and `*`, weak comparison.
    #[test]
    fn if_none_match() {
        assert!(none_match(b"\"a\", \"b\"", b"\"b\""));
        assert!(none_match(b"*", b"\"b\""));
        assert!(none_match(b"W/\"b\"", b"\"b\""));
        assert!(!none_match(b"\"c\"", b"\"b\""));
    }
}
