//! mod_dirlisting: the HTML index of a directory that has no index file
//! (lighttpd: `mod_dirlisting.c`).
//!
//! ```text
//! dir-listing.* entry ─compile_entry─► DirSet ─DirListing::apply─► DirListing (per request)
//! directory, no index file, GET/HEAD ─► render / ListingCache::render ─► Listing
//!   read_dir ─► drop dotfiles, excluded, readme/header ─► stat (following links)
//!   ─► directories first, then files, each in byte order ─► HTML page
//! ```
//!
//! The page is byte for byte the one lighttpd 1.4.69 sends (measured with
//! the binary): the same rows, size and date formats and escaping; only
//! the embedded stylesheet and script ([`STYLE`], [`SCRIPT`]) are wick's
//! own. Dates are local time (`TZ`), as lighttpd's. A readme or header
//! file is included up to 1 MiB.
//!
//! Where lighttpd 1.4.69 misbehaves, wick does the sensible thing:
//! - a readme or header file is shown on every request (lighttpd sends it
//!   empty while its stat cache keeps the file open, about a second after
//!   the first request that read it);
//! - `encode-readme`/`encode-header` disabled and the name is a directory:
//!   nothing is included (lighttpd announces 4096 more bytes and breaks the
//!   connection);
//! - `dir-listing.cache` keeps listings in memory instead of files under
//!   its `path`; the headers (`Cache-Control: max-age`, `ETag`) and the
//!   time a listing is reused are lighttpd's.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::config::Diagnostic;
use crate::config::check::describe_value;
use crate::config::keys::{parse_bool, parse_number};
use crate::config::pattern::{Pattern, Patterns};
use crate::config::value::{Entry, Value};
use crate::routing::mime::MimeTable;

/// The readme file `dir-listing.show-readme = "enable"` names.
const README: &[u8] = b"README.txt";
/// The header file `dir-listing.show-header = "enable"` names.
const HEADER: &[u8] = b"HEADER.txt";
/// `max-age` of `dir-listing.cache` when not given (or not a number).
const CACHE_MAX_AGE: i32 = 15;

/// The `dir-listing.*` settings in effect for a request.
#[derive(Debug, Clone)]
pub struct DirListing {
    /// `dir-listing.activate` / `server.dir-listing`: list directories
    /// without an index file (otherwise they are 403).
    pub activate: bool,
    /// `dir-listing.hide-dotfiles` (default on): leave out names starting
    /// with `.`.
    pub hide_dotfiles: bool,
    /// `dir-listing.exclude`: leave out names any of these match.
    pub exclude: Arc<[Arc<Pattern>]>,
    /// `dir-listing.external-css`: link this stylesheet instead of
    /// embedding one.
    pub external_css: Option<Arc<[u8]>>,
    /// `dir-listing.external-js`: load this script instead of embedding one.
    pub external_js: Option<Arc<[u8]>>,
    /// `dir-listing.encoding`: `<meta charset>` and the `Content-Type`
    /// charset.
    pub encoding: Option<Arc<[u8]>>,
    /// `dir-listing.show-readme`: the file shown below the list (a name in
    /// the directory, or an absolute path). `"enable"` is `README.txt`;
    /// `"disable"` is the empty name, which lighttpd opens as the directory
    /// itself (an empty `<pre>` when encoded).
    pub show_readme: Option<Arc<[u8]>>,
    /// `dir-listing.hide-readme-file`: leave the readme out of the list.
    pub hide_readme_file: bool,
    /// `dir-listing.show-header`: the file shown above the list, as
    /// `show_readme` (`"enable"` is `HEADER.txt`).
    pub show_header: Option<Arc<[u8]>>,
    /// `dir-listing.hide-header-file`: leave the header out of the list.
    pub hide_header_file: bool,
    /// `dir-listing.encode-readme` (default on): HTML-escape the readme
    /// inside `<pre class="readme">`; off: include it as it is.
    pub encode_readme: bool,
    /// `dir-listing.encode-header` (default on), as `encode_readme`.
    pub encode_header: bool,
    /// `dir-listing.set-footer`: the footer text (HTML, not escaped);
    /// `server.tag` when not set.
    pub set_footer: Option<Arc<[u8]>>,
    /// `dir-listing.auto-layout` (default on): the page around the table
    /// (head, style, footer, script); off: only header, table and readme.
    pub auto_layout: bool,
    /// `dir-listing.cache`.
    pub cache: Option<CacheSpec>,
}

impl Default for DirListing {
    fn default() -> Self {
        DirListing {
            activate: false,
            hide_dotfiles: true,
            exclude: Arc::from(Vec::new()),
            external_css: None,
            external_js: None,
            encoding: None,
            show_readme: None,
            hide_readme_file: false,
            show_header: None,
            hide_header_file: false,
            encode_readme: true,
            encode_header: true,
            set_footer: None,
            auto_layout: true,
            cache: None,
        }
    }
}

/// `dir-listing.cache = ( "path" => …, "max-age" => … )`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSpec {
    /// `path`: where lighttpd writes its cache files. wick keeps listings
    /// in memory; the path only separates caches of different blocks.
    pub path: Arc<[u8]>,
    /// `max-age` in seconds (default 15): how long a listing is reused, and
    /// the `Cache-Control: max-age` sent. 0 turns the cache off; a negative
    /// value is sent as it is and never reuses a listing (as lighttpd).
    pub max_age: i32,
}

/// One change of a block to [`DirListing`].
#[derive(Debug, Clone)]
pub enum DirSet {
    /// `dir-listing.activate` (`alias: false`) or `server.dir-listing`
    /// (`alias: true`).
    Activate {
        /// Listing on or off.
        on: bool,
        /// Written as `server.dir-listing`.
        alias: bool,
    },
    /// `dir-listing.hide-dotfiles`
    HideDotfiles(bool),
    /// `dir-listing.exclude`
    Exclude(Arc<[Arc<Pattern>]>),
    /// `dir-listing.external-css`
    ExternalCss(Option<Arc<[u8]>>),
    /// `dir-listing.external-js`
    ExternalJs(Option<Arc<[u8]>>),
    /// `dir-listing.encoding`
    Encoding(Option<Arc<[u8]>>),
    /// `dir-listing.show-readme`
    ShowReadme(Option<Arc<[u8]>>),
    /// `dir-listing.hide-readme-file`
    HideReadmeFile(bool),
    /// `dir-listing.show-header`
    ShowHeader(Option<Arc<[u8]>>),
    /// `dir-listing.hide-header-file`
    HideHeaderFile(bool),
    /// `dir-listing.encode-readme`
    EncodeReadme(bool),
    /// `dir-listing.encode-header`
    EncodeHeader(bool),
    /// `dir-listing.set-footer`
    SetFooter(Option<Arc<[u8]>>),
    /// `dir-listing.auto-layout`
    AutoLayout(bool),
    /// `dir-listing.cache`
    Cache(CacheSpec),
}

impl DirSet {
    /// Order of the changes of one block: apply a block's changes sorted
    /// (stably) by rank. lighttpd reads a block's keys in its own table
    /// order, so `server.dir-listing` wins over `dir-listing.activate` in
    /// the same block whichever is written last; across blocks the later
    /// block wins as usual.
    pub fn rank(&self) -> u8 {
        match self {
            DirSet::Activate { alias: true, .. } => 1,
            _ => 0,
        }
    }
}

impl DirListing {
    /// Applies one change.
    pub fn apply(&mut self, set: &DirSet) {
        match set {
            DirSet::Activate { on, .. } => self.activate = *on,
            DirSet::HideDotfiles(b) => self.hide_dotfiles = *b,
            DirSet::Exclude(p) => self.exclude = p.clone(),
            DirSet::ExternalCss(s) => self.external_css = s.clone(),
            DirSet::ExternalJs(s) => self.external_js = s.clone(),
            DirSet::Encoding(s) => self.encoding = s.clone(),
            DirSet::ShowReadme(s) => self.show_readme = s.clone(),
            DirSet::HideReadmeFile(b) => self.hide_readme_file = *b,
            DirSet::ShowHeader(s) => self.show_header = s.clone(),
            DirSet::HideHeaderFile(b) => self.hide_header_file = *b,
            DirSet::EncodeReadme(b) => self.encode_readme = *b,
            DirSet::EncodeHeader(b) => self.encode_header = *b,
            DirSet::SetFooter(s) => self.set_footer = s.clone(),
            DirSet::AutoLayout(b) => self.auto_layout = *b,
            DirSet::Cache(c) => self.cache = Some(c.clone()),
        }
    }

    /// The `Content-Type` of a listing: `text/html`, with
    /// `;charset=<dir-listing.encoding>` when that is set.
    pub fn content_type(&self) -> Vec<u8> {
        let mut t = b"text/html".to_vec();
        if let Some(enc) = &self.encoding {
            t.extend_from_slice(b";charset=");
            t.extend_from_slice(enc);
        }
        t
    }
}

/// Compiles one `dir-listing.*` / `server.dir-listing` entry (`key`
/// lower-case). `Ok(None)` for keys that are not mod_dirlisting's
/// (lighttpd ignores unknown `dir-listing.*` keys silently). lighttpd
/// checks these values only when mod_dirlisting is loaded: call this only
/// then.
pub fn compile_entry(
    key: &[u8],
    entry: &Entry,
    patterns: &mut Patterns,
) -> Result<Option<DirSet>, Vec<Diagnostic>> {
    let name = String::from_utf8_lossy(key);
    let set = match key {
        b"dir-listing.activate" => DirSet::Activate {
            on: flag(&name, entry)?,
            alias: false,
        },
        b"server.dir-listing" => DirSet::Activate {
            on: flag(&name, entry)?,
            alias: true,
        },
        b"dir-listing.hide-dotfiles" => DirSet::HideDotfiles(flag(&name, entry)?),
        b"dir-listing.exclude" => DirSet::Exclude(exclude(&name, entry, patterns)?),
        b"dir-listing.external-css" => DirSet::ExternalCss(string(&name, entry)?),
        b"dir-listing.external-js" => DirSet::ExternalJs(string(&name, entry)?),
        b"dir-listing.encoding" => DirSet::Encoding(string(&name, entry)?),
        b"dir-listing.show-readme" => DirSet::ShowReadme(file_name(&name, entry, README)?),
        b"dir-listing.hide-readme-file" => DirSet::HideReadmeFile(flag(&name, entry)?),
        b"dir-listing.show-header" => DirSet::ShowHeader(file_name(&name, entry, HEADER)?),
        b"dir-listing.hide-header-file" => DirSet::HideHeaderFile(flag(&name, entry)?),
        b"dir-listing.encode-readme" => DirSet::EncodeReadme(flag(&name, entry)?),
        b"dir-listing.encode-header" => DirSet::EncodeHeader(flag(&name, entry)?),
        b"dir-listing.set-footer" => DirSet::SetFooter(string(&name, entry)?),
        b"dir-listing.auto-layout" => DirSet::AutoLayout(flag(&name, entry)?),
        b"dir-listing.cache" => DirSet::Cache(cache(&name, entry)?),
        _ => return Ok(None),
    };
    Ok(Some(set))
}

/// A boolean directive: an integer (non-zero is on) or one of lighttpd's
/// words (`enable`, `disable`, `true`, `false`, `1`, `0`, …, any case).
fn flag(name: &str, entry: &Entry) -> Result<bool, Vec<Diagnostic>> {
    match &entry.value {
        Value::Int(i) => Ok(*i != 0),
        Value::Str(s) => parse_bool(s).ok_or_else(|| flag_error(name, entry)),
        Value::Array(_) => Err(flag_error(name, entry)),
    }
}

fn flag_error(name: &str, entry: &Entry) -> Vec<Diagnostic> {
    vec![
        Diagnostic::error(format!("`{name}` expects \"enable\" or \"disable\""))
            .at(entry.span)
            .label(format!("found {}", describe_value(&entry.value)))
            .help("also accepted: \"enabled\", \"disabled\", \"true\", \"false\", \"1\", \"0\", or an integer")
            .lighttpd(format!(
                "ERROR: unexpected type for key: {name} (string) \"(enable|disable)\""
            )),
    ]
}

/// A string directive; the empty string means "not set".
fn string(name: &str, entry: &Entry) -> Result<Option<Arc<[u8]>>, Vec<Diagnostic>> {
    match &entry.value {
        Value::Str(s) if s.is_empty() => Ok(None),
        Value::Str(s) => Ok(Some(Arc::from(s.as_slice()))),
        v => Err(vec![
            Diagnostic::error(format!("`{name}` expects a string"))
                .at(entry.span)
                .label(format!("found {}", describe_value(v)))
                .lighttpd(format!(
                    "{name} should have been a string like ... = \"...\""
                )),
        ]),
    }
}

/// `show-readme` / `show-header`: `"enable"` is the default file name,
/// `"disable"` the empty name (see [`DirListing::show_readme`]); both words
/// are case-sensitive, anything else is a file name.
fn file_name(
    name: &str,
    entry: &Entry,
    default: &[u8],
) -> Result<Option<Arc<[u8]>>, Vec<Diagnostic>> {
    Ok(string(name, entry)?.map(|s| match &*s {
        b"enable" => Arc::from(default),
        b"disable" => Arc::from(&b""[..]),
        _ => s,
    }))
}

fn exclude(
    name: &str,
    entry: &Entry,
    compiled: &mut Patterns,
) -> Result<Arc<[Arc<Pattern>]>, Vec<Diagnostic>> {
    let Value::Array(a) = &entry.value else {
        return Err(vec![
            Diagnostic::error(format!("`{name}` expects a list of regular expressions"))
                .at(entry.span)
                .label(format!("found {}", describe_value(&entry.value)))
                .help(format!("write {name} = ( \"…\" )"))
                .lighttpd(format!(
                    "{name} should have been a list like {name} = ( \"...\" )"
                )),
        ]);
    };
    let mut patterns = Vec::with_capacity(a.len());
    let mut errors = Vec::new();
    for e in a.entries() {
        let re = match (&e.key, &e.value) {
            (None, Value::Str(s)) => s,
            _ => {
                errors.push(
                    Diagnostic::error(format!("`{name}` expects a list of strings"))
                        .at(e.span)
                        .label(if e.key.is_some() {
                            "a key => value entry"
                        } else {
                            "not a string"
                        })
                        .lighttpd(format!(
                            "{name} should have been a list of string values like {name} = ( \"...\", \"...\" )"
                        )),
                );
                continue;
            }
        };
        // like a rewrite rule's pattern: any number of groups (nothing
        // refers to them)
        match compiled.any(re) {
            Ok(p) => patterns.push(p),
            Err(err) => errors.push(
                Diagnostic::error(format!("cannot compile {name} regex: {re}"))
                    .at(e.span)
                    .label(err.to_string())
                    .lighttpd(format!("pcre2_compile error for regex: {re}")),
            ),
        }
    }
    if errors.is_empty() {
        Ok(patterns.into())
    } else {
        Err(errors)
    }
}

fn cache(name: &str, entry: &Entry) -> Result<CacheSpec, Vec<Diagnostic>> {
    let err = |d: Diagnostic| vec![d.at(entry.span)];
    let Value::Array(a) = &entry.value else {
        return Err(err(Diagnostic::error(format!(
            "`{name}` expects a list of \"key\" => value entries"
        ))
        .label(format!("found {}", describe_value(&entry.value)))
        .help(format!(
            "write {name} = ( \"path\" => \"/var/cache/lighttpd/dirlisting\" )"
        ))
        .lighttpd(format!(
            "{name} should have been a list like {name} = ( \"...\" )"
        ))));
    };
    if let Some(e) = a.entries().iter().find(|e| e.key.is_none()) {
        return Err(vec![
            Diagnostic::error(format!(
                "`{name}` expects a list of \"key\" => value entries"
            ))
            .at(e.span)
            .label("no key")
            .lighttpd(format!(
                "{name} should have been a list of key => values like {name} = ( \"...\" => \"...\", \"...\" => \"...\" )"
            )),
        ]);
    }
    let Some(path) = a.get(b"path") else {
        return Err(err(Diagnostic::error(format!("`{name}` has no \"path\""))
            .help(format!(
                "write {name} = ( \"path\" => \"/var/cache/lighttpd/dirlisting\" )"
            ))
            .lighttpd(format!("{name} must include \"path\""))));
    };
    let Value::Str(path_str) = &path.value else {
        return Err(vec![
            Diagnostic::error(format!("`{name}` \"path\" expects a string"))
                .at(path.span)
                .label(format!("found {}", describe_value(&path.value)))
                .lighttpd(format!("{name} \"path\" must have string value")),
        ]);
    };
    if path_str.is_empty() {
        // lighttpd 1.4.69 fails an assertion and aborts.
        return Err(vec![
            Diagnostic::error(format!("`{name}` \"path\" is empty"))
                .at(path.span)
                .help("name a directory, or remove dir-listing.cache"),
        ]);
    }
    // lighttpd checks absolute paths only; a missing one it creates later.
    if path_str.starts_with(b"/") {
        match std::fs::metadata(Path::new(OsStr::from_bytes(path_str))) {
            Ok(m) if !m.is_dir() => {
                return Err(vec![
                    Diagnostic::error(format!("`{name}` \"path\" is not a directory"))
                        .at(path.span)
                        .label(String::from_utf8_lossy(path_str).into_owned())
                        .lighttpd(format!(
                            "{name} \"path\" => \"{}\" is not a dir",
                            String::from_utf8_lossy(path_str)
                        )),
                ]);
            }
            Ok(_) => {}
            Err(_) => tracing::warn!(
                path = %String::from_utf8_lossy(path_str),
                "dir-listing.cache \"path\" does not exist"
            ),
        }
    }
    let max_age = match a.get(b"max-age").map(|e| &e.value) {
        Some(Value::Int(i)) => *i,
        Some(Value::Str(s)) => parse_number(s)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(CACHE_MAX_AGE),
        _ => CACHE_MAX_AGE,
    };
    Ok(CacheSpec {
        path: Arc::from(path_str.as_slice()),
        max_age,
    })
}

/// What a listing is made from, besides the [`DirListing`] settings.
#[derive(Debug, Clone, Copy)]
pub struct ListingRequest<'a> {
    /// The directory (the physical path, lighttpd's `physical.path`).
    pub dir: &'a Path,
    /// The request path, decoded and normalised (lighttpd's `uri.path`,
    /// what `$HTTP["url"]` sees): `<title>` and `<h2>` show it, and a
    /// `../` row is added unless it is `/`.
    pub uri_path: &'a [u8],
    /// `server.tag`: the footer when `dir-listing.set-footer` is not set
    /// (blank: no footer).
    pub server_tag: &'a [u8],
    /// `mimetype.assign`: the Type column of files.
    pub mimetypes: &'a MimeTable,
    /// `server.follow-symlink`: off, a readme or header file that is a
    /// symlink is not shown. (Entries are listed whether or not they are
    /// symlinks.)
    pub follow_symlink: bool,
}

/// A rendered listing.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The `Content-Type` (`text/html`, or `text/html;charset=…`).
    pub content_type: Vec<u8>,
    /// The page.
    pub body: Bytes,
    /// With `dir-listing.cache`: the `Cache-Control: max-age=N` value (the
    /// seconds left before the listing is made again; may be negative).
    pub max_age: Option<i64>,
    /// With `dir-listing.cache`: the `ETag` (quotes included), the same
    /// while the listing is reused.
    pub etag: Option<String>,
}

/// Which clock dates are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    /// Local time, as lighttpd (the `TZ` environment variable).
    Local,
    /// UTC (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Utc,
}

/// Renders the listing of `req.dir`. An error opening the directory is
/// returned (lighttpd answers 403 and logs `opendir <path>: <error>`);
/// entries that cannot be examined are left out.
///
/// This reads the file system (blocking): call it off the async runtime.
pub fn render(req: &ListingRequest<'_>, cfg: &DirListing) -> io::Result<Listing> {
    render_in(req, cfg, Zone::Local)
}

fn render_in(req: &ListingRequest<'_>, cfg: &DirListing, zone: Zone) -> io::Result<Listing> {
    let (mut dirs, mut files) = read_entries(req.dir, cfg)?;
    dirs.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    files.sort_unstable_by(|a, b| a.name.cmp(&b.name));

    let mut out = Vec::with_capacity(8192 + 256 * (dirs.len() + files.len()));
    if cfg.auto_layout {
        out.extend_from_slice(b"<!DOCTYPE html>\n<html>\n<head>\n");
        if let Some(enc) = &cfg.encoding {
            out.extend_from_slice(b"<meta charset=\"");
            out.extend_from_slice(enc);
            out.extend_from_slice(b"\">\n");
        }
        out.extend_from_slice(b"<title>Index of ");
        push_html(&mut out, req.uri_path);
        out.extend_from_slice(b"</title>\n");
        match &cfg.external_css {
            Some(css) => {
                out.extend_from_slice(
                    b"<meta name=\"viewport\" content=\"initial-scale=1\">\
                      <link rel=\"stylesheet\" type=\"text/css\" href=\"",
                );
                out.extend_from_slice(css);
                out.extend_from_slice(b"\">\n");
            }
            None => out.extend_from_slice(STYLE.as_bytes()),
        }
        out.extend_from_slice(b"</head>\n<body>\n");
    }
    if let Some(name) = &cfg.show_header {
        include_file(&mut out, req, name, "header", cfg.encode_header);
    }
    out.extend_from_slice(b"<h2>Index of ");
    push_html(&mut out, req.uri_path);
    out.extend_from_slice(
        b"</h2>\n<div class=\"list\">\n\
          <table summary=\"Directory Listing\" cellpadding=\"0\" cellspacing=\"0\">\n\
          <thead><tr><th class=\"n\">Name</th><th class=\"m\">Last Modified</th>\
          <th class=\"s\">Size</th><th class=\"t\">Type</th></tr></thead>\n<tbody>\n",
    );
    if req.uri_path != b"/" {
        out.extend_from_slice(
            b"<tr class=\"d\"><td class=\"n\"><a href=\"../\">..</a>/</td>\
              <td class=\"m\">&nbsp;</td><td class=\"s\">- &nbsp;</td>\
              <td class=\"t\">Directory</td></tr>\n",
        );
    }
    for d in &dirs {
        out.extend_from_slice(b"<tr class=\"d\"><td class=\"n\"><a href=\"");
        push_href(&mut out, &d.name);
        out.extend_from_slice(b"/\">");
        push_html(&mut out, &d.name);
        out.extend_from_slice(b"</a>/</td><td class=\"m\">");
        push_date(&mut out, d.mtime, zone);
        out.extend_from_slice(
            b"</td><td class=\"s\">- &nbsp;</td><td class=\"t\">Directory</td></tr>\n",
        );
    }
    for f in &files {
        out.extend_from_slice(b"<tr><td class=\"n\"><a href=\"");
        push_href(&mut out, &f.name);
        out.extend_from_slice(b"\">");
        push_html(&mut out, &f.name);
        out.extend_from_slice(b"</a></td><td class=\"m\">");
        push_date(&mut out, f.mtime, zone);
        out.extend_from_slice(b"</td><td class=\"s\">");
        push_size(&mut out, f.size);
        out.extend_from_slice(b"</td><td class=\"t\">");
        out.extend_from_slice(req.mimetypes.lookup(&f.name).content_type);
        out.extend_from_slice(b"</td></tr>\n");
    }
    out.extend_from_slice(b"</tbody>\n</table>\n</div>\n");
    if let Some(name) = &cfg.show_readme {
        include_file(&mut out, req, name, "readme", cfg.encode_readme);
    }
    if cfg.auto_layout {
        let footer = match &cfg.set_footer {
            Some(f) => Some(&f[..]),
            // lighttpd treats an all-blank server.tag as none.
            None => Some(req.server_tag).filter(|t| !t.iter().all(u8::is_ascii_whitespace)),
        };
        if let Some(footer) = footer {
            out.extend_from_slice(b"<div class=\"foot\">");
            out.extend_from_slice(footer);
            out.extend_from_slice(b"</div>\n");
        }
        match &cfg.external_js {
            Some(js) => {
                out.extend_from_slice(b"<script type=\"text/javascript\" src=\"");
                out.extend_from_slice(js);
                out.extend_from_slice(b"\"></script>\n");
            }
            None => out.extend_from_slice(SCRIPT.as_bytes()),
        }
        out.extend_from_slice(b"</body>\n</html>\n");
    }
    Ok(Listing {
        content_type: cfg.content_type(),
        body: Bytes::from(out),
        max_age: None,
        etag: None,
    })
}

/// One row of the listing.
#[derive(Debug)]
struct Row {
    name: Vec<u8>,
    mtime: i64,
    size: u64,
}

/// The directory's entries that are shown: (directories, other files).
fn read_entries(dir: &Path, cfg: &DirListing) -> io::Result<(Vec<Row>, Vec<Row>)> {
    let readme = cfg.show_readme.as_deref().filter(|_| cfg.hide_readme_file);
    let header = cfg.show_header.as_deref().filter(|_| cfg.hide_header_file);
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let os_name = entry.file_name();
        let name = os_name.as_bytes();
        if (cfg.hide_dotfiles && name.first() == Some(&b'.'))
            || Some(name) == readme
            || Some(name) == header
            || excluded(name, &cfg.exclude)
        {
            continue;
        }
        // Following symlinks; what cannot be examined (a dangling link, no
        // search permission) is left out, as lighttpd does.
        let Ok(meta) = std::fs::metadata(entry.path()) else {
            continue;
        };
        let row = Row {
            name: name.to_vec(),
            mtime: meta.mtime(),
            size: meta.size(),
        };
        if meta.is_dir() {
            dirs.push(row);
        } else {
            files.push(row);
        }
    }
    Ok((dirs, files))
}

/// Whether `dir-listing.exclude` leaves `name` out. lighttpd matches in
/// UTF-8 mode and counts a matching error as a match: with any pattern
/// set, a name that is not UTF-8 is left out.
fn excluded(name: &[u8], patterns: &[Arc<Pattern>]) -> bool {
    !patterns.is_empty()
        && (std::str::from_utf8(name).is_err() || patterns.iter().any(|p| p.is_match(name)))
}

/// Appends the readme or header file `name`: a name in the directory, or
/// an absolute path. Nothing when it cannot be opened or is empty.
fn include_file(
    out: &mut Vec<u8>,
    req: &ListingRequest<'_>,
    name: &[u8],
    class: &str,
    encode: bool,
) {
    let path = if name.starts_with(b"/") {
        PathBuf::from(OsStr::from_bytes(name))
    } else {
        let mut p = req.dir.as_os_str().as_bytes().to_vec();
        if !p.ends_with(b"/") {
            p.push(b'/');
        }
        p.extend_from_slice(name);
        PathBuf::from(OsStr::from_bytes(&p))
    };
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if !req.follow_symlink {
        flags |= libc::O_NOFOLLOW;
    }
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(&path)
    else {
        return;
    };
    let Ok(meta) = file.metadata() else { return };
    if meta.size() == 0 {
        return;
    }
    if encode {
        out.extend_from_slice(format!("<pre class=\"{class}\">").as_bytes());
        // A directory (the name "disable") reads as nothing: an empty <pre>.
        push_html(out, &read_up_to(file, meta.size().min(INCLUDE_MAX)));
        out.extend_from_slice(b"</pre>");
    } else if meta.is_file() {
        out.extend_from_slice(&read_up_to(file, meta.size().min(INCLUDE_MAX)));
    }
}

/// The most of a readme or header file a listing includes (a larger file
/// is cut there: a listing is built in memory for each request).
const INCLUDE_MAX: u64 = 1 << 20;

/// At most `len` bytes of `file`; what was read before an error.
fn read_up_to(file: File, len: u64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(1 << 20));
    let _ = file.take(len).read_to_end(&mut buf);
    buf
}

/// Appends `s` with `<>&"'` and `` ` ``, control characters and DEL as
/// `&#xHH;` (lighttpd's escaping of names, titles and encoded files).
fn push_html(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            0..=0x1f | b'"' | b'&' | b'\'' | b'<' | b'>' | b'`' | 0x7f => {
                out.extend_from_slice(b"&#x");
                push_hex(out, b);
                out.push(b';');
            }
            _ => out.push(b),
        }
    }
}

/// Appends `s` percent-encoded for an `href`: letters, digits and
/// `-._~!*()` stay, every other byte is `%HH`.
fn push_href(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        if b.is_ascii_alphanumeric() || b"-._~!*()".contains(&b) {
            out.push(b);
        } else {
            out.push(b'%');
            push_hex(out, b);
        }
    }
}

fn push_hex(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(HEX[usize::from(b >> 4)]);
    out.push(HEX[usize::from(b & 15)]);
}

/// Appends a file size as lighttpd shows it: in binary units from K up,
/// at most three digits before the point, one digit after it (tenths of
/// the remainder in hundreds, truncated, at most 9), and a file of 1 to 99
/// bytes as `0.1K`.
fn push_size(out: &mut Vec<u8>, bytes: u64) {
    const UNITS: &[u8; 6] = b"KMGTPE";
    let mut size = bytes >> 10;
    let mut rest = bytes & 1023;
    let mut unit = 0;
    while size > 999 {
        rest = size & 1023;
        size >>= 10;
        unit += 1;
    }
    let mut tenth = (rest / 100).min(9);
    if unit == 0 && size == 0 && tenth == 0 && bytes > 0 {
        tenth = 1;
    }
    out.extend_from_slice(size.to_string().as_bytes());
    out.push(b'.');
    out.push(b'0' + tenth as u8);
    out.push(UNITS[unit.min(UNITS.len() - 1)]);
}

/// Appends `mtime` as `YYYY-Mon-DD HH:MM:SS` (C locale month names).
fn push_date(out: &mut Vec<u8>, mtime: i64, zone: Zone) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Some(tm) = broken_down(mtime, zone) else {
        return;
    };
    let month = usize::try_from(tm.tm_mon)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("???");
    out.extend_from_slice(
        format!(
            "{}-{}-{:02} {:02}:{:02}:{:02}",
            i64::from(tm.tm_year) + 1900,
            month,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec
        )
        .as_bytes(),
    );
}

fn broken_down(t: i64, zone: Zone) -> Option<libc::tm> {
    let t = libc::time_t::try_from(t).ok()?;
    // SAFETY: both functions only write into the zeroed struct we own and
    // return either a pointer to it or null.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let r = match zone {
            Zone::Local => libc::localtime_r(&t, &mut tm),
            Zone::Utc => libc::gmtime_r(&t, &mut tm),
        };
        (!r.is_null()).then_some(tm)
    }
}

/// Listings kept for `dir-listing.cache` (one per server, shared by all
/// requests).
#[derive(Debug, Default)]
pub struct ListingCache {
    kept: Mutex<HashMap<CacheKey, Kept>>,
}

/// A kept listing is found by the cache `path` and the directory (lighttpd
/// keeps it in the file `<path><directory>/dirlist.html`).
type CacheKey = (Arc<[u8]>, PathBuf);

#[derive(Debug, Clone)]
struct Kept {
    /// When it was rendered, seconds since the epoch.
    made: i64,
    /// The `max-age` it was rendered with (for eviction).
    max_age: i32,
    body: Bytes,
    etag: String,
}

impl ListingCache {
    /// A new, empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// [`render`], through the cache when `dir-listing.cache` is set with a
    /// `max-age` other than 0: a listing made less than `max-age` seconds
    /// ago (whole seconds, as lighttpd compares its cache file's mtime) is
    /// sent again, stale or not, with the seconds it has left.
    pub fn render(&self, req: &ListingRequest<'_>, cfg: &DirListing) -> io::Result<Listing> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.render_at(now, req, cfg, Zone::Local)
    }

    fn render_at(
        &self,
        now: i64,
        req: &ListingRequest<'_>,
        cfg: &DirListing,
        zone: Zone,
    ) -> io::Result<Listing> {
        let Some(spec) = cfg.cache.as_ref().filter(|c| c.max_age != 0) else {
            return render_in(req, cfg, zone);
        };
        let max_age = i64::from(spec.max_age);
        let key = (spec.path.clone(), req.dir.to_path_buf());
        let hit = self.lock().get(&key).cloned();
        if let Some(k) = hit {
            let age = now.saturating_sub(k.made);
            if age < max_age {
                return Ok(Listing {
                    content_type: cfg.content_type(),
                    body: k.body,
                    max_age: Some(max_age - age),
                    etag: Some(k.etag),
                });
            }
        }
        let mut listing = render_in(req, cfg, zone)?;
        let etag = etag_of(&listing.body, now);
        listing.max_age = Some(max_age);
        listing.etag = Some(etag.clone());
        let mut kept = self.lock();
        kept.retain(|_, k| now.saturating_sub(k.made) < i64::from(k.max_age));
        kept.insert(
            key,
            Kept {
                made: now,
                max_age: spec.max_age,
                body: listing.body.clone(),
                etag,
            },
        );
        Ok(listing)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Kept>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A strong ETag for a kept listing (lighttpd derives its own from the
/// cache file; only equality matters).
fn etag_of(body: &[u8], made: i64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in body.iter().chain(made.to_le_bytes().iter()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{}\"", (h ^ (h >> 32)) as u32)
}

/// wick's stylesheet for listings when `dir-listing.external-css` is not
/// set (lighttpd embeds one of its own here; see KNOWN-DIFFERENCES).
pub const STYLE: &str = r##"<style type="text/css">
body {margin: 1em 2em; background: #fafafa; color: #222; font-family: sans-serif;}
div.list {background: #fff; border: 1px solid #ccc; padding: 0.5em 0;}
table {border-collapse: collapse; margin: 0 0.75em;}
th, td {font: 0.9em monospace; text-align: left; padding: 0.15em 1.25em 0.15em 0;}
th {cursor: pointer; border-bottom: 1px solid #ccc;}
td.s, th.s {text-align: right;}
a {color: #1a4f9c; text-decoration: none;}
a:hover, a:focus {text-decoration: underline;}
div.foot {font: 0.85em monospace; color: #777; padding-top: 0.4em;}
</style>
"##;

/// wick's script for listings when `dir-listing.external-js` is not set: a
/// click on a column heading sorts the rows by that column (again: the
/// other way round); directories stay first and `..` stays on top.
pub const SCRIPT: &str = r##"
<script type="text/javascript">
(function () {
  var table = document.querySelector("div.list table");
  if (!table || !table.tBodies.length) return;
  var body = table.tBodies[0], heads = table.tHead.rows[0].cells, last = -1, up = true;
  var scale = {K: 1, M: 2, G: 3, T: 4, P: 5, E: 6};
  function key(row, col) {
    var t = row.cells[col].textContent;
    if (col === 2) {
      var m = /^([\d.]+)([KMGTPE]?)/.exec(t);
      return m ? parseFloat(m[1]) * Math.pow(1024, scale[m[2]] || 0) : -1;
    }
    return t.toLowerCase();
  }
  function sort(col) {
    up = (col === last) ? !up : true;
    last = col;
    var rows = Array.prototype.slice.call(body.rows), top = [];
    if (rows.length && rows[0].cells[0].textContent === "../") top = rows.shift();
    rows.sort(function (a, b) {
      var da = a.className === "d", db = b.className === "d";
      if (da !== db) return da ? -1 : 1;
      var x = key(a, col), y = key(b, col), c = x < y ? -1 : x > y ? 1 : 0;
      return up ? c : -c;
    });
    if (top.nodeType) body.appendChild(top);
    rows.forEach(function (r) { body.appendChild(r); });
  }
  for (var i = 0; i < heads.length; i++) {
    heads[i].onclick = (function (col) { return function () { sort(col); }; })(i);
  }
})();
</script>
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use bstr::BString;
    use std::fs::FileTimes;
    use std::time::{Duration, UNIX_EPOCH};

    /// The entries of a configuration's top level, as loaded.
    fn entries(text: &str) -> Vec<(Vec<u8>, Entry)> {
        let env = crate::config::Environment::sandboxed();
        let cfg =
            crate::config::load(b"t.conf", text.as_bytes().to_vec(), &env).expect("config loads");
        cfg.top()
            .entries
            .entries()
            .iter()
            .filter_map(|e| Some((e.key.as_ref()?.to_ascii_lowercase(), e.clone())))
            .collect()
    }

    /// Compiles and applies a configuration's top level as the integrator
    /// does (a block's changes sorted by rank).
    fn settings(text: &str) -> DirListing {
        let mut sets: Vec<DirSet> = entries(text)
            .iter()
            .filter_map(|(k, e)| compile_entry(k, e, &mut Patterns::new()).expect("accepted"))
            .collect();
        sets.sort_by_key(DirSet::rank);
        let mut s = DirListing::default();
        for set in &sets {
            s.apply(set);
        }
        s
    }

    /// The diagnostics of the first entry of `text`.
    fn refused(text: &str) -> Vec<Diagnostic> {
        let all = entries(text);
        let (k, e) = all
            .iter()
            .find(|(k, _)| k.starts_with(b"dir-listing.") || k == b"server.dir-listing")
            .expect("a dir-listing entry");
        match compile_entry(k, e, &mut Patterns::new()) {
            Ok(s) => panic!("accepted {text}: {s:?}"),
            Err(d) => d,
        }
    }

    fn lighttpd_says(text: &str) -> String {
        refused(text)[0].lighttpd.clone().unwrap_or_default()
    }

    #[test]
    fn defaults_match_lighttpd() {
        let d = DirListing::default();
        assert!(!d.activate && d.hide_dotfiles && d.encode_readme && d.encode_header);
        assert!(d.auto_layout && d.show_readme.is_none() && d.cache.is_none());
        assert_eq!(d.content_type(), b"text/html");
    }

    /// Calibrated against lighttpd 1.4.69 with mod_dirlisting loaded.
    #[test]
    fn booleans_take_lighttpd_words_and_integers() {
        for (v, on) in [
            ("\"enable\"", true),
            ("\"ENABLED\"", true),
            ("\"true\"", true),
            ("\"1\"", true),
            ("2", true),
            ("65536", true),
            ("\"disable\"", false),
            ("\"False\"", false),
            ("\"0\"", false),
            ("0", false),
        ] {
            let s = settings(&format!("dir-listing.activate = {v}"));
            assert_eq!(s.activate, on, "{v}");
            let s = settings(&format!("dir-listing.hide-dotfiles = {v}"));
            assert_eq!(s.hide_dotfiles, on, "{v}");
        }
        for v in [
            "\"yes\"",
            "\"on\"",
            "\"\"",
            "\" 1\"",
            "\"enable \"",
            "(\"enable\")",
        ] {
            assert_eq!(
                lighttpd_says(&format!("dir-listing.auto-layout = {v}")),
                "ERROR: unexpected type for key: dir-listing.auto-layout (string) \"(enable|disable)\"",
                "{v}"
            );
        }
    }

    /// In one block `server.dir-listing` wins, whichever is written last.
    #[test]
    fn server_dir_listing_wins_in_its_block() {
        assert!(
            settings("server.dir-listing = \"enable\"\ndir-listing.activate = \"disable\"")
                .activate
        );
        assert!(
            !settings("server.dir-listing = \"disable\"\ndir-listing.activate = \"enable\"")
                .activate
        );
        assert!(
            !settings("dir-listing.activate = \"enable\"\nserver.dir-listing = \"disable\"")
                .activate
        );
    }

    #[test]
    fn strings_refuse_other_types_and_empty_is_unset() {
        for key in [
            "external-css",
            "external-js",
            "encoding",
            "set-footer",
            "show-readme",
            "show-header",
        ] {
            for v in ["1", "(\"a\")", "(\"a\" => \"b\")"] {
                assert_eq!(
                    lighttpd_says(&format!("dir-listing.{key} = {v}")),
                    format!("dir-listing.{key} should have been a string like ... = \"...\""),
                );
            }
        }
        let s = settings(
            "dir-listing.encoding = \"\"\ndir-listing.external-css = \"\"\ndir-listing.set-footer = \"\"\ndir-listing.show-readme = \"\"",
        );
        assert!(s.encoding.is_none() && s.external_css.is_none());
        assert!(s.set_footer.is_none() && s.show_readme.is_none());
        let s = settings("dir-listing.encoding = \"utf-8\"");
        assert_eq!(s.content_type(), b"text/html;charset=utf-8");
    }

    /// "enable" and "disable" are words only in lower case.
    #[test]
    fn readme_and_header_names() {
        let name = |v: &str| {
            settings(&format!("dir-listing.show-readme = \"{v}\""))
                .show_readme
                .map(|n| BString::from(&n[..]))
        };
        assert_eq!(name("enable"), Some("README.txt".into()));
        assert_eq!(name("disable"), Some("".into()));
        assert_eq!(name("Enable"), Some("Enable".into()));
        assert_eq!(name("1"), Some("1".into()));
        let s = settings("dir-listing.show-header = \"enable\"");
        assert_eq!(s.show_header.as_deref(), Some(&b"HEADER.txt"[..]));
    }

    #[test]
    fn exclude_is_a_list_of_regexes() {
        let s = settings(
            "dir-listing.exclude = (\"^x\", \"(?i)\\.LOG$\", \"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\")",
        );
        assert_eq!(s.exclude.len(), 3);
        assert!(excluded(b"x.txt", &s.exclude) && excluded(b"a.log", &s.exclude));
        assert!(!excluded(b"a.txt", &s.exclude));
        assert!(excluded(b"a\xff", &s.exclude), "not UTF-8: excluded");
        assert!(!excluded(b"a\xff", &[]));
        assert!(settings("dir-listing.exclude = ()").exclude.is_empty());
        for v in ["\"x\"", "1"] {
            assert_eq!(
                lighttpd_says(&format!("dir-listing.exclude = {v}")),
                "dir-listing.exclude should have been a list like dir-listing.exclude = ( \"...\" )"
            );
        }
        for v in ["(1)", "(\"a\" => \"b\")", "(\"a\", 2)"] {
            assert_eq!(
                lighttpd_says(&format!("dir-listing.exclude = {v}")),
                "dir-listing.exclude should have been a list of string values like dir-listing.exclude = ( \"...\", \"...\" )"
            );
        }
        for v in ["(", "[", "*"] {
            let d = refused(&format!("dir-listing.exclude = (\"{v}\")"));
            assert!(d[0].message.starts_with("cannot compile"), "{v}");
        }
    }

    #[test]
    fn cache_needs_a_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().display();
        let spec = |v: &str| settings(&format!("dir-listing.cache = {v}")).cache;
        assert_eq!(
            spec(&format!("(\"path\" => \"{p}\")")).map(|c| c.max_age),
            Some(15)
        );
        for (age, want) in [
            ("10", 10),
            ("\"7\"", 7),
            ("\" 20\"", 20),
            ("\"-3\"", -3),
            ("\"x\"", 15),
            ("\"12abc\"", 15),
            ("\"99999999999\"", 15),
            ("(\"x\")", 15),
            ("0", 0),
        ] {
            let c = spec(&format!("(\"path\" => \"{p}\", \"max-age\" => {age})"));
            assert_eq!(c.map(|c| c.max_age), Some(want), "{age}");
        }
        // Relative and missing paths pass (lighttpd creates them).
        assert!(spec("(\"path\" => \"relative\")").is_some());
        assert!(spec(&format!("(\"path\" => \"{p}/missing\")")).is_some());
        assert_eq!(
            lighttpd_says("dir-listing.cache = (\"max-age\" => 1)"),
            "dir-listing.cache must include \"path\""
        );
        assert_eq!(
            lighttpd_says("dir-listing.cache = ()"),
            "dir-listing.cache must include \"path\""
        );
        assert_eq!(
            lighttpd_says("dir-listing.cache = (\"path\" => 5)"),
            "dir-listing.cache \"path\" must have string value"
        );
        assert_eq!(
            lighttpd_says("dir-listing.cache = \"x\""),
            "dir-listing.cache should have been a list like dir-listing.cache = ( \"...\" )"
        );
        assert_eq!(
            lighttpd_says("dir-listing.cache = (\"/x\")"),
            "dir-listing.cache should have been a list of key => values like dir-listing.cache = ( \"...\" => \"...\", \"...\" => \"...\" )"
        );
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("write");
        assert_eq!(
            lighttpd_says(&format!(
                "dir-listing.cache = (\"path\" => \"{}\")",
                file.display()
            )),
            format!(
                "dir-listing.cache \"path\" => \"{}\" is not a dir",
                file.display()
            )
        );
        assert!(refused("dir-listing.cache = (\"path\" => \"\")")[0].is_error());
    }

    #[test]
    fn other_keys_are_not_ours() {
        for (k, e) in entries("dir-listing.foo = 1\nserver.tag = \"x\"") {
            assert!(
                compile_entry(&k, &e, &mut Patterns::new())
                    .expect("ok")
                    .is_none()
            );
        }
    }

    /// Measured with lighttpd 1.4.69 on sparse files of these sizes.
    #[test]
    fn sizes_as_lighttpd_shows_them() {
        for (n, want) in [
            (0u64, "0.0K"),
            (1, "0.1K"),
            (99, "0.1K"),
            (100, "0.1K"),
            (1000, "0.9K"),
            (1023, "0.9K"),
            (1024, "1.0K"),
            (1075, "1.0K"),
            (1126, "1.1K"),
            (1536, "1.5K"),
            (10239, "9.9K"),
            (102400, "100.0K"),
            (999999, "976.5K"),
            (1023999, "999.9K"),
            (1024000, "0.9M"),
            (1048575, "0.9M"),
            (1048576, "1.0M"),
            (1500000, "1.4M"),
            (20000000, "19.0M"),
            (1047527424, "999.0M"),
            (1048576000, "0.9G"),
            (1073741824, "1.0G"),
            (1099511627776, "1.0T"),
            (5_000_000_000_000, "4.5T"),
            (u64::MAX, "15.9E"),
        ] {
            let mut out = Vec::new();
            push_size(&mut out, n);
            assert_eq!(String::from_utf8_lossy(&out), want, "{n}");
        }
    }

    /// Every byte but NUL and `/` in a name, as lighttpd 1.4.69 escapes it.
    #[test]
    fn names_are_escaped_and_encoded_as_lighttpd_does() {
        let mut html = Vec::new();
        push_html(&mut html, b"<script>&\"'`\x01\x1f\x7f\x80\xff ~#%");
        assert_eq!(
            html,
            b"&#x3C;script&#x3E;&#x26;&#x22;&#x27;&#x60;&#x01;&#x1F;&#x7F;\x80\xff ~#%"
        );
        let mut href = Vec::new();
        push_href(
            &mut href,
            b"aZ09-._~!*()'\" #$%&+,:;=?@[\\]^`{|}\x7f\xc3\xa9\x01",
        );
        assert_eq!(
            String::from_utf8_lossy(&href),
            "aZ09-._~!*()%27%22%20%23%24%25%26%2B%2C%3A%3B%3D%3F%40%5B%5C%5D%5E%60%7B%7C%7D%7F%C3%A9%01"
        );
    }

    #[test]
    fn dates_in_c_locale() {
        let mut out = Vec::new();
        push_date(&mut out, 946684799, Zone::Utc);
        assert_eq!(out, b"1999-Dec-31 23:59:59");
        out.clear();
        push_date(&mut out, 1614834367, Zone::Utc);
        assert_eq!(out, b"2021-Mar-04 05:06:07");
    }

    // --- pages compared with lighttpd's -------------------------------

    fn set_mtime(path: &Path, secs: u64) {
        let t = UNIX_EPOCH + Duration::from_secs(secs);
        File::open(path)
            .and_then(|f| f.set_times(FileTimes::new().set_accessed(t).set_modified(t)))
            .expect("set mtime");
    }

    fn file(root: &Path, name: &[u8], size: u64, mtime: u64) {
        let p = root.join(OsStr::from_bytes(name));
        File::create(&p)
            .and_then(|f| f.set_len(size))
            .expect("create");
        set_mtime(&p, mtime);
    }

    fn text(root: &Path, name: &str, content: &[u8], mtime: u64) {
        let p = root.join(name);
        std::fs::write(&p, content).expect("write");
        set_mtime(&p, mtime);
    }

    /// The tree the pages under tests/data/dirlisting/ were captured from
    /// (lighttpd 1.4.69, TZ=UTC, document root = this tree).
    fn fixture() -> tempfile::TempDir {
        let t = tempfile::tempdir().expect("tempdir");
        let r = t.path();
        for d in ["d", "d/sub", "d/Zdir", "d/b dir&<x>", "d/.hdir", "e"] {
            std::fs::create_dir(r.join(d)).expect("mkdir");
        }
        let d = r.join("d");
        file(&d, b".hidden", 10, 1600000000);
        file(&d, b"a.txt", 1536, 1614834367);
        file(&d, b"B.html", 0, 946684799);
        file(&d, b"c.log", 1048575, 1625735411);
        file(&d, b"e.tar.gz", 1500000, 1234567890);
        file(&d, b"big.bin", 5000000000, 1700000000);
        file(&d, b"<script>&\"'.txt", 1, 1500000000);
        file(&d, b"sp ace%41+;.txt", 99, 1400000000);
        file(&d, "é.txt".as_bytes(), 100, 1300000000);
        file(&d, b"x\xff", 1023, 1200000000);
        file(&d, b"tab\tnl\n", 1024, 1100000000);
        file(&d, b"!*()-._~", 5, 1000000000);
        text(&d, "README.txt", b"Read <me> & \"q\"\nline2\n", 1650000000);
        text(&d, "HEADER.txt", b"Head <b>x</b>\n", 1660000000);
        for (link, to) in [
            ("link-a", "a.txt"),
            ("link-sub", "sub"),
            ("dangling", "nowhere"),
        ] {
            std::os::unix::fs::symlink(to, d.join(link)).expect("symlink");
        }
        file(r, b"top.txt", 3, 1750000000);
        for (p, m) in [
            ("d/sub", 1577934245),
            ("d/Zdir", 946684799),
            ("d/b dir&<x>", 1625735411),
            ("d/.hdir", 1600000000),
            ("e", 1760000000),
            ("d", 1770000000),
        ] {
            set_mtime(&r.join(p), m);
        }
        t
    }

    fn mimetypes() -> MimeTable {
        MimeTable::new(
            [
                (".txt", "text/plain"),
                (".html", "text/html"),
                (".gz", "application/gzip"),
                (".log", "text/plain;charset=utf-8"),
            ]
            .iter()
            .map(|(k, v)| (BString::from(*k), BString::from(*v)))
            .collect(),
        )
    }

    /// Renders `uri` (below the fixture) with `conf` and compares it with
    /// what lighttpd sent.
    fn check_page(case: &str, uri: &str, conf: &str, tag: &str, expected: &[u8]) {
        let tree = fixture();
        let mut cfg = settings(conf);
        cfg.activate = true;
        let mime = mimetypes();
        let dir = tree.path().join(uri.trim_start_matches('/'));
        let req = ListingRequest {
            dir: &dir,
            uri_path: uri.as_bytes(),
            server_tag: tag.as_bytes(),
            mimetypes: &mime,
            follow_symlink: true,
        };
        let got = render_in(&req, &cfg, Zone::Utc).expect("renders");
        // The stored pages hold markers where lighttpd embeds its own
        // stylesheet and script; wick embeds its own there.
        let got_body = replace(
            &replace(&got.body, STYLE.as_bytes(), STYLE_MARK),
            SCRIPT.as_bytes(),
            SCRIPT_MARK,
        );
        let got = Listing {
            body: Bytes::from(got_body),
            ..got
        };
        if got.body != expected {
            let (g, e) = (got.body.as_ref(), expected);
            let at = g
                .iter()
                .zip(e)
                .position(|(a, b)| a != b)
                .unwrap_or(g.len().min(e.len()));
            panic!(
                "{case}: differs at byte {at}:\n got: {:?}\nwant: {:?}",
                String::from_utf8_lossy(&g[at.saturating_sub(80)..(at + 80).min(g.len())]),
                String::from_utf8_lossy(&e[at.saturating_sub(80)..(at + 80).min(e.len())]),
            );
        }
    }

    const TAG: &str = "lighttpd/1.4.69";

    /// What the stored pages have instead of the embedded stylesheet.
    const STYLE_MARK: &[u8] = b"<!-- embedded stylesheet -->\n";
    /// What the stored pages have instead of the embedded script.
    const SCRIPT_MARK: &[u8] = b"\n<!-- embedded script -->\n";

    fn replace(hay: &[u8], what: &[u8], with: &[u8]) -> Vec<u8> {
        match hay.windows(what.len()).position(|w| w == what) {
            Some(i) => [&hay[..i], with, &hay[i + what.len()..]].concat(),
            None => hay.to_vec(),
        }
    }

    macro_rules! page {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/dirlisting/",
                $name,
                ".html"
            ))
        };
    }

    #[test]
    fn page_plain() {
        check_page("plain", "/d/", "", TAG, page!("plain"));
    }

    #[test]
    fn page_document_root_has_no_parent_row() {
        check_page("root", "/", "", TAG, page!("root"));
    }

    #[test]
    fn page_empty_directory() {
        check_page("empty", "/e/", "", TAG, page!("empty"));
    }

    #[test]
    fn page_title_is_escaped() {
        check_page("title", "/d/b dir&<x>/", "", TAG, page!("title"));
    }

    #[test]
    fn page_with_options() {
        let conf = r#"
dir-listing.hide-dotfiles = "disable"
dir-listing.exclude = ("^Z", "[.]log$")
dir-listing.encoding = "utf-8"
dir-listing.show-readme = "enable"
dir-listing.hide-readme-file = "enable"
dir-listing.show-header = "enable"
dir-listing.hide-header-file = "enable"
dir-listing.set-footer = "<i>footer</i>"
"#;
        check_page("options", "/d/", conf, TAG, page!("options"));
    }

    #[test]
    fn page_raw_includes_external_css_js_no_footer() {
        let conf = r#"
dir-listing.show-readme = "enable"
dir-listing.show-header = "HEADER.txt"
dir-listing.encode-readme = "disable"
dir-listing.encode-header = "disable"
dir-listing.external-css = "/s.css?a&b"
dir-listing.external-js = "/j.js"
"#;
        check_page("raw", "/d/", conf, "", page!("raw"));
    }

    #[test]
    fn page_without_layout() {
        let conf = r#"
dir-listing.auto-layout = "disable"
dir-listing.show-readme = "enable"
dir-listing.show-header = "enable"
"#;
        check_page("nolayout", "/d/", conf, TAG, page!("nolayout"));
    }

    /// "disable" names the directory itself: an empty `<pre>` when encoded.
    #[test]
    fn page_readme_disable_quirk() {
        let conf = "dir-listing.show-readme = \"disable\"\ndir-listing.show-header = \"disable\"";
        check_page("disable", "/d/", conf, TAG, page!("disable"));
    }

    #[test]
    fn readme_edge_cases() {
        let tree = fixture();
        let d = tree.path().join("d");
        std::fs::write(d.join("empty"), b"").expect("write");
        std::os::unix::fs::symlink("README.txt", d.join("lnk")).expect("symlink");
        let mime = mimetypes();
        let render_with = |conf: &str, follow: bool| {
            let req = ListingRequest {
                dir: &d,
                uri_path: b"/d/",
                server_tag: b"",
                mimetypes: &mime,
                follow_symlink: follow,
            };
            let body = render_in(&req, &settings(conf), Zone::Utc)
                .expect("renders")
                .body;
            let s = String::from_utf8_lossy(&body).into_owned();
            s.find("</table>\n</div>\n")
                .map(|i| {
                    s[i + 16..]
                        .split("\n<script")
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            render_with("dir-listing.show-readme = \"missing\"", true),
            ""
        );
        assert_eq!(render_with("dir-listing.show-readme = \"empty\"", true), "");
        assert_eq!(
            render_with("dir-listing.show-readme = \"lnk\"", true),
            "<pre class=\"readme\">Read &#x3C;me&#x3E; &#x26; &#x22;q&#x22;&#x0A;line2&#x0A;</pre>"
        );
        assert_eq!(
            render_with("dir-listing.show-readme = \"lnk\"", false),
            "",
            "follow-symlink off"
        );
        // Not encoded, a directory is left out (lighttpd breaks the response).
        assert_eq!(
            render_with(
                "dir-listing.show-readme = \"disable\"\ndir-listing.encode-readme = \"disable\"",
                true
            ),
            ""
        );
        let abs = d.join("a.txt");
        std::fs::write(&abs, b"A").expect("write");
        assert_eq!(
            render_with(
                &format!("dir-listing.show-readme = \"{}\"", abs.display()),
                true
            ),
            "<pre class=\"readme\">A</pre>"
        );
        assert_eq!(
            render_with("dir-listing.show-readme = \"../d/a.txt\"", true),
            "<pre class=\"readme\">A</pre>"
        );
    }

    #[test]
    fn missing_directory_is_an_error() {
        let mime = mimetypes();
        let req = ListingRequest {
            dir: Path::new("/nonexistent/wick-dirlisting"),
            uri_path: b"/x/",
            server_tag: b"",
            mimetypes: &mime,
            follow_symlink: true,
        };
        assert!(render(&req, &DirListing::default()).is_err());
    }

    #[test]
    fn cache_reuses_listings_for_max_age_seconds() {
        let tree = fixture();
        let mime = mimetypes();
        let dir = tree.path().join("e");
        let req = ListingRequest {
            dir: &dir,
            uri_path: b"/e/",
            server_tag: b"",
            mimetypes: &mime,
            follow_symlink: true,
        };
        let cache = ListingCache::new();
        let cfg = |age: i32| DirListing {
            cache: Some(CacheSpec {
                path: Arc::from(&b"/c"[..]),
                max_age: age,
            }),
            ..DirListing::default()
        };
        let first = cache
            .render_at(1000, &req, &cfg(4), Zone::Utc)
            .expect("renders");
        assert_eq!(first.max_age, Some(4));
        assert!(first.etag.is_some());
        std::fs::write(dir.join("new"), b"x").expect("write");
        let again = cache
            .render_at(1001, &req, &cfg(4), Zone::Utc)
            .expect("renders");
        assert_eq!((again.max_age, &again.etag), (Some(3), &first.etag));
        assert_eq!(again.body, first.body, "stale within max-age");
        let later = cache
            .render_at(1004, &req, &cfg(4), Zone::Utc)
            .expect("renders");
        assert_eq!(later.max_age, Some(4));
        assert_ne!(later.body, first.body);
        let off = cache
            .render_at(1005, &req, &cfg(0), Zone::Utc)
            .expect("renders");
        assert_eq!((off.max_age, off.etag), (None, None));
        let neg = cache
            .render_at(1005, &req, &cfg(-3), Zone::Utc)
            .expect("renders");
        assert_eq!(neg.max_age, Some(-3));
        let none = cache
            .render_at(1005, &req, &DirListing::default(), Zone::Utc)
            .expect("renders");
        assert_eq!(none.max_age, None);
    }
}
