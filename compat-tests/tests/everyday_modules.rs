//! The everyday lighttpd modules, differentially: mod_access, mod_alias,
//! mod_redirect, mod_rewrite, mod_setenv, mod_extforward, mod_dirlisting,
//! and mod_indexfile / mod_staticfile named in `server.modules`. lighttpd
//! and wick serve the same configuration and files; every answer is
//! compared in full (`Pair::check_full`: status line, every header but the
//! values of `Date`/`Server`, the body), with only `ETag` values reduced to
//! their form (KNOWN-DIFFERENCES: "ETag values are computed differently").
//! The deliberate differences of KNOWN-DIFFERENCES.md, section "Everyday
//! modules", are checked as documented on both sides and then compared like
//! the rest (`check_full_known`, `observe_known`): the default listing's
//! stylesheet and script ([`check_listing`]), rewrite loops, `Forwarded`
//! headers lighttpd 1.4.69 misreads.
//!
//! Where a directive's effect is on the request (rewritten targets, added
//! request headers, forwarded addresses), the request is proxied to
//! `http_backend.py`, whose body is the upstream request as received, so
//! the request line, query and headers are compared byte for byte. Those
//! configurations disable wick's upstream keep-alive (lighttpd's exact
//! `Connection: close` upstream; see `tests/proxy_http.rs`).
//!
//! `setenv.add-environment` / `setenv.set-environment` are only visible
//! to CGI-like handlers (lighttpd's `%{VAR}e` in the access log stays `-`
//! for static and proxied requests): the setenv scenario checks that both
//! start with them. The access log (mod_accesslog, `%h` after
//! mod_extforward, `%e`) is compared line by line in `tests/accesslog.rs`;
//! Debian's stock configuration in `tests/debian_stock_serving.rs`.
//!
//! Each test's doc comment lists what lighttpd 1.4.69 does in the cases
//! that surprised us; the requests pin them.
//!
//! `WICK_COMPAT_SELF=1` runs lighttpd on both sides (checks the scenarios);
//! `WICK_COMPAT_SHOW=1` (`=2`: with lighttpd's responses) prints every
//! exchange.

use std::ffi::OsStr;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use compat_tests::backend::PyBackend;
use compat_tests::http::{
    Client, Launch, MTIME, MTIME_HTTP, Pair, PairOpts, Req, Response, Scratch, Server, Side,
    expect_only_wick_refuses, lowercase_echoed_names, normalise_port, put, start_refusals,
};
use compat_tests::{lighttpd_or_skip, wick_bin};

/// The readiness probe: a path no rule of any scenario touches.
const PROBE: &[u8] = b"GET /probe-ready HTTP/1.0\r\n\r\n";

/// lighttpd's exact upstream `Connection: close` from wick (1.4.69 ignores
/// the flag).
const NO_UPSTREAM_KEEP_ALIVE: &str =
    "server.feature-flags += ( \"proxy.upstream-keep-alive\" => \"disable\" )\n";

/// Types for the files the scenarios serve (no `create-mime.conf.pl`).
const MIME: &str = r#"mimetype.assign = (
    ".txt" => "text/plain",
    ".html" => "text/html",
    ".css" => "text/css",
    ".js" => "application/javascript",
)
"#;

/// Writes each `(path under base, contents)` with the fixed mtime.
fn files(base: &Path, list: &[(&str, &str)]) {
    for (path, contents) in list {
        put(&base.join(path), contents);
    }
}

/// `ETag` values are computed differently (KNOWN-DIFFERENCES: "ETag values
/// are `\"<decimal>\"` like lighttpd's, but computed differently"): a
/// present ETag of that form becomes a marker, anything else stays and
/// shows as a difference.
fn etag_form(r: &mut Response) {
    if let Some(v) = r.header("etag").map(str::to_string) {
        let decimal = v.len() > 2
            && v.starts_with('"')
            && v.ends_with('"')
            && v[1..v.len() - 1].bytes().all(|b| b.is_ascii_digit());
        if decimal {
            r.set_header("etag", "\"(decimal)\"");
        }
    }
}

/// Compares everything but the ETag value (see [`etag_form`]).
fn check(pair: &mut Pair, req: Req) {
    pair.check_full_with(req, etag_form);
}

fn opts(scratch: Scratch) -> PairOpts {
    PairOpts {
        launch: Launch {
            probe: Some(PROBE.to_vec()),
            own_group: true,
            ..Launch::default()
        },
        scratch: Some(scratch),
        ..PairOpts::default()
    }
}

/// Starts the pair on `conf` in `scratch`; `setup` fills `{dir}`.
fn start_in(test: &str, scratch: Scratch, conf: &str, setup: impl FnOnce(&Path)) -> Option<Pair> {
    let conf = format!("server.document-root = \"{{root}}\"\n{MIME}{conf}");
    Pair::start_opts(test, &conf, setup, opts(scratch))
}

fn start(test: &str, conf: &str, setup: impl FnOnce(&Path)) -> Option<Pair> {
    start_in(test, Scratch::new(test).expect("scratch dir"), conf, setup)
}

/// `( "host" => …, "port" => … )` of a backend.
fn host(b: &PyBackend) -> String {
    format!("( {} )", b.addr.conf())
}

/// Starts an echo backend and the pair on `conf(backend)`.
fn start_with_backend(
    test: &str,
    conf: impl FnOnce(&PyBackend) -> String,
    setup: impl FnOnce(&Path),
) -> Option<(Pair, PyBackend)> {
    let scratch = Scratch::new(test).expect("scratch dir");
    let backend = PyBackend::http(scratch.path(), "echo");
    let conf = format!("{NO_UPSTREAM_KEEP_ALIVE}{}", conf(&backend));
    let pair = start_in(test, scratch, &conf, setup)?;
    Some((pair, backend))
}

/// Sets the mtime of every directory under `dir` (and `dir`) to [`MTIME`],
/// deepest first, so that listings and Last-Modified are comparable.
fn fix_dir_mtimes(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("list {}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            fix_dir_mtimes(&path);
        }
    }
    let handle = fs::File::open(dir).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()));
    handle
        .set_modified(UNIX_EPOCH + Duration::from_secs(MTIME))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", dir.display()));
}

/// Status line, headers, body: what [`seen`] keeps of a response.
type Seen = (String, Vec<(String, String)>, String);

/// What a client sees of one response, for [`Pair::observe`]: status
/// line, headers (names lower case, `Date`/`Server` values dropped, ETag
/// reduced to its form) and body, the server's own port normalised.
fn seen(mut r: Response, port: u16) -> Seen {
    etag_form(&mut r);
    let headers = r
        .headers
        .iter()
        .map(|(n, v)| {
            let v = if n == "date" || n == "server" {
                "(volatile)".to_string()
            } else {
                String::from_utf8_lossy(&normalise_port(v.as_bytes(), port)).into_owned()
            };
            (n.clone(), v)
        })
        .collect::<Vec<_>>();
    // the order between different names means nothing (as in
    // `full_differences`); a stable sort keeps each name's own order
    let mut headers = headers;
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let body = String::from_utf8_lossy(&normalise_port(&r.body, port)).into_owned();
    (r.status_line, headers, body)
}

/// Sends `req` from the local address `from` (another loopback address).
fn from_address(server: &Server, from: Ipv4Addr, req: &Req) -> Result<Seen, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    let mut c = Client::connect_from(server.name, from, addr)?;
    c.send(&req.bytes(&[]))?;
    let r = c.response(req.is_head())?;
    Ok(seen(r, server.port))
}

/// The response to `req` as [`seen`] shows it, or `None` when the server
/// closed the connection without answering.
fn answer_or_close(server: &Server, req: &Req) -> Result<Option<Seen>, String> {
    let raw = server.exchange(&req.bytes(&[]))?;
    if raw.is_empty() {
        return Ok(None);
    }
    let r = compat_tests::http::parse_response(&raw, req.is_head())?;
    Ok(Some(seen(r, server.port)))
}

// ---------------------------------------------------------------------------
// The default listing layout (a known difference)

/// KNOWN-DIFFERENCES, "Everyday modules": the default directory listing
/// embeds wick's own stylesheet and sorting script; the rest of the page is
/// lighttpd's byte for byte.
const LISTING_LAYOUT: &str =
    "the default directory listing embeds wick's own stylesheet and sorting script";

const STYLE_OPEN: &str = "<style type=\"text/css\">\n";
const STYLE_CLOSE: &str = "</style>\n";
const SCRIPT_OPEN: &str = "\n<script type=\"text/javascript\">\n";
const SCRIPT_CLOSE: &str = "</script>\n";
/// What replaces the stylesheet block on both sides.
const STYLE_MARKER: &str = "<style type=\"text/css\">(stylesheet)</style>\n";
/// What replaces the script block on both sides.
const SCRIPT_MARKER: &str = "\n<script type=\"text/javascript\">(script)</script>\n";

/// A default-layout listing page with its stylesheet and script blocks
/// replaced by [`STYLE_MARKER`] / [`SCRIPT_MARKER`], and how many bytes
/// shorter that made the page. Both blocks must be there exactly once, the
/// stylesheet inside `<head>` right after the `<title>`, the script right
/// before `</body>`: lighttpd's script block is followed by one more empty
/// line (`</script>\n\n</body>`), which is taken as part of its block;
/// wick's is not (`</script>\n</body>`).
fn listing_without_layout(side: Side, body: &[u8]) -> Result<(Vec<u8>, usize), String> {
    // (bytes, not text: file names need not be UTF-8)
    let find = |from: usize, needle: &str| {
        body[from..]
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .map(|i| from + i)
    };
    let once = |needle: &str| -> Result<usize, String> {
        match find(0, needle) {
            None => Err(format!("{side:?}: no {needle:?} in the listing")),
            Some(i) if find(i + 1, needle).is_some() => {
                Err(format!("{side:?}: {needle:?} twice in the listing"))
            }
            Some(i) => Ok(i),
        }
    };
    let style = once(STYLE_OPEN)?;
    let style_end = find(style, STYLE_CLOSE)
        .ok_or_else(|| format!("{side:?}: the stylesheet is not closed"))?
        + STYLE_CLOSE.len();
    if !body[..style].ends_with(b"</title>\n") || !body[style_end..].starts_with(b"</head>\n") {
        return Err(format!(
            "{side:?}: the stylesheet is not between </title> and </head>"
        ));
    }
    let script = once(SCRIPT_OPEN)?;
    let script_end = find(script, SCRIPT_CLOSE)
        .ok_or_else(|| format!("{side:?}: the script is not closed"))?
        + SCRIPT_CLOSE.len();
    let after = match side {
        Side::Lighttpd => "\n</body>\n</html>\n",
        Side::Wick => "</body>\n</html>\n",
    };
    if script < style_end || &body[script_end..] != after.as_bytes() {
        return Err(format!(
            "{side:?}: the page does not end with the script block and {after:?}, it ends with {:?}",
            String::from_utf8_lossy(&body[script_end..])
        ));
    }
    let block_end = match side {
        Side::Lighttpd => script_end + 1,
        Side::Wick => script_end,
    };
    let mut out = body[..style].to_vec();
    out.extend_from_slice(STYLE_MARKER.as_bytes());
    out.extend_from_slice(&body[style_end..script]);
    out.extend_from_slice(SCRIPT_MARKER.as_bytes());
    out.extend_from_slice(&body[block_end..]);
    let removed = body.len() - out.len();
    Ok((out, removed))
}

/// `r` (a GET of a default-layout listing) with [`listing_without_layout`]
/// applied to its body and its `Content-Length` (checked against the body
/// first) reduced accordingly.
fn normalise_listing(side: Side, r: &mut Response) -> Result<(), String> {
    let length = r.body.len().to_string();
    if r.header("content-length") != Some(length.as_str()) {
        return Err(format!(
            "{side:?}: Content-Length {:?} for a body of {length} bytes",
            r.header("content-length")
        ));
    }
    let (body, _) = listing_without_layout(side, &r.body).map_err(|e| {
        let start = String::from_utf8_lossy(&r.body[..r.body.len().min(80)]).into_owned();
        format!(
            "{e} (not a default-layout listing: {}, {start:?}…)",
            r.status_line
        )
    })?;
    r.body = body;
    r.set_header("content-length", &r.body.len().to_string());
    etag_form(r);
    Ok(())
}

/// A request answered with a default-layout listing on both sides: compared
/// in full apart from the stylesheet and script blocks (see
/// [`listing_without_layout`]).
fn check_listing(pair: &mut Pair, req: Req) {
    pair.check_full_known(req, LISTING_LAYOUT, normalise_listing);
}

/// `HEAD` of a default-layout listing: its `Content-Length` is compared
/// after subtracting what the blocks of a `GET` of the same listing (on the
/// same server) take beyond the markers; the rest as by [`check`].
fn check_listing_head(pair: &mut Pair, target: &str) {
    let (head, get) = (Req::head(target), Req::get(target));
    pair.observe_known(
        &format!("HEAD {target} (a default-layout listing)"),
        LISTING_LAYOUT,
        |side, server| {
            let mut g = server.exchange_one(&get.bytes(&[]), false)?;
            let (_, removed) = listing_without_layout(side, &g.body)?;
            normalise_listing(side, &mut g)?;
            let mut h = server.exchange_one(&head.bytes(&[]), true)?;
            let length: usize = h
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{side:?}: HEAD without a Content-Length"))?;
            let shorter = length
                .checked_sub(removed)
                .ok_or_else(|| format!("{side:?}: HEAD Content-Length {length} is too short"))?;
            h.set_header("content-length", &shorter.to_string());
            if h.header("content-length") != g.header("content-length") {
                return Err(format!(
                    "{side:?}: HEAD and GET lengths disagree: {length} - {removed} vs {:?}",
                    g.header("content-length")
                ));
            }
            Ok(seen(h, server.port))
        },
        |l, w| {
            if l == w {
                Ok(())
            } else {
                Err("the normalised HEAD responses differ".to_string())
            }
        },
    );
}

// ---------------------------------------------------------------------------
// mod_access

/// lighttpd 1.4.69: suffixes are matched against the decoded, normalised
/// URL path (`/x.%69nc`, `/x%2einc` are denied), case-sensitively unless
/// `server.force-lowercase-filenames` is on; the query is not part of it;
/// a trailing `.` or `%20` defeats the match. The path is checked again
/// after path-info is split off (`/x.inc/more`, `/x.inc/` with `x.inc` a
/// file: 403), but not after an index file is appended (`/dir.inc/`,
/// `/secret/`: 200). A denied path is 403 before any existence check
/// (`/missing.inc`) or directory redirect (`/secret`). When
/// `url.access-allow` is set and matches, `url.access-deny` is not
/// consulted at all (`/both/bad.txt`: 200). A block's list replaces the
/// global one (`.inc` is served for `deny.example`).
#[test]
fn access_deny_and_allow() {
    let conf = r#"server.modules = ( "mod_access", "mod_indexfile", "mod_staticfile" )
index-file.names = ( "index.html" )
url.access-deny = ( "~", ".inc", "secret" )
$HTTP["url"] =^ "/private/" {
    url.access-deny = ( "" )
}
$HTTP["url"] =^ "/allow/" {
    url.access-allow = ( ".txt", ".html" )
}
$HTTP["url"] =^ "/both/" {
    url.access-allow = ( ".txt" )
    url.access-deny = ( "bad.txt" )
}
$HTTP["host"] == "deny.example" {
    url.access-deny = ( ".txt" )
}
$HTTP["url"] =^ "/lc/" {
    server.force-lowercase-filenames = "enable"
}
"#;
    let Some(mut pair) = start("access_deny_and_allow", conf, |dir| {
        files(
            &dir.join("htdocs"),
            &[
                ("index.html", "root index\n"),
                ("a.txt", "a\n"),
                ("x.inc", "inc\n"),
                ("X.INC", "upper inc\n"),
                ("x.txt~", "backup\n"),
                ("topsecret", "suffix secret\n"),
                ("secret/index.html", "secret dir index\n"),
                ("secrets.txt", "not a suffix match\n"),
                ("x.inc.", "trailing dot\n"),
                ("dir.inc/index.html", "directory named .inc\n"),
                ("private/a.txt", "private a\n"),
                ("private/index.html", "private index\n"),
                ("allow/a.txt", "allow a\n"),
                ("allow/A.TXT", "allow upper\n"),
                ("allow/b.png", "png\n"),
                ("allow/x.inc", "allow inc\n"),
                ("allow/index.html", "allow index\n"),
                ("allow/noindex/c.txt", "c\n"),
                ("both/a.txt", "both a\n"),
                ("both/bad.txt", "both bad\n"),
                ("both/verybad.txt", "both verybad\n"),
                ("both/c.html", "both c\n"),
                ("lc/a.txt", "lower a\n"),
                ("lc/x.inc", "lower inc\n"),
            ],
        );
    }) else {
        return;
    };
    for req in [
        Req::get("/a.txt"),
        Req::get("/"),
        // suffixes of the decoded path, case as written
        Req::get("/x.inc"),
        Req::head("/x.inc"),
        Req::new("POST", "/x.inc").body("a=1"),
        Req::new("OPTIONS", "/x.inc"),
        Req::get("/x.%69nc"),
        Req::get("/x%2einc"),
        Req::get("/x.inc?download=1"),
        Req::get("/X.INC"),
        Req::get("/x.inc."),
        Req::get("/x.inc%20"),
        Req::get("/x.inc/"),
        Req::get("/x.inc/more"),
        Req::get("/missing.inc"),
        Req::get("/x.txt~"),
        Req::get("/x.txt%7E"),
        Req::get("/x.txt%7e"),
        Req::get("/topsecret"),
        Req::get("/secret"),
        Req::get("/secret/"),
        Req::get("/secrets.txt"),
        Req::get("/dir.inc"),
        Req::get("/dir.inc/"),
        // an empty suffix denies everything
        Req::get("/private/a.txt"),
        Req::get("/private/"),
        Req::get("/private"),
        Req::get("/private/missing"),
        // url.access-allow: only the listed suffixes
        Req::get("/allow/a.txt"),
        Req::get("/allow/A.TXT"),
        Req::get("/allow/b.png"),
        Req::get("/allow/x.inc"),
        Req::get("/allow/"),
        Req::get("/allow"),
        Req::get("/allow/noindex/"),
        Req::get("/allow/missing.txt"),
        Req::get("/allow/missing.png"),
        // allow and deny together
        Req::get("/both/a.txt"),
        Req::get("/both/bad.txt"),
        Req::get("/both/verybad.txt"),
        Req::get("/both/c.html"),
        // in a host conditional
        Req::get("/a.txt").host("deny.example"),
        Req::get("/a.txt").host("DENY.example"),
        Req::get("/index.html").host("deny.example"),
        Req::get("/x.inc").host("deny.example"),
        // with force-lowercase-filenames: suffixes compared in lower case
        Req::get("/lc/A.TXT"),
        Req::get("/lc/X.INC"),
        Req::get("/lc/x.INC"),
    ] {
        check(&mut pair, req);
    }
    pair.finish();
}

// ---------------------------------------------------------------------------
// mod_alias

fn alias_setup(dir: &Path) {
    files(
        dir,
        &[
            ("js/a.txt", "alias js a\n"),
            ("js/index.html", "alias js index\n"),
            ("js/lib/a.txt", "js/lib under the /js/ target (shadowed)\n"),
            ("js/x.inc", "inc in the alias target\n"),
            ("js/sub/b.txt", "alias js sub b\n"),
            ("lib/a.txt", "alias lib a\n"),
            ("one.txt", "alias to a file\n"),
            ("target/t.txt", "target t\n"),
            ("targett.txt", "next to target\n"),
            ("target../x.txt", "a directory named target..\n"),
            ("secret.txt", "outside every alias\n"),
            ("other/a.txt", "other host's js\n"),
            ("htdocs/js/a.txt", "document root js a\n"),
            ("htdocs/js/only-docroot.txt", "only in the document root\n"),
            ("htdocs/a.txt", "document root a\n"),
            ("htdocs/jsx.txt", "document root jsx\n"),
        ],
    );
}

/// lighttpd 1.4.69: the first listed prefix that matches wins (a longer
/// one listed after a shorter one is refused at start, see
/// [`module_values_refused_at_start`]); the rest of the path is appended to
/// the target as is, so `"/slash/" => ".../target"` maps `/slash/t.txt`
/// to `.../targett.txt`; with a target ending in `/` and a key that does
/// not, a rest starting with `..` is refused with 403 (`/noslash../x`),
/// otherwise `..` is just part of a name (`/up../x.txt` →
/// `.../target../x.txt`, 200); an alias to a file serves it for any path
/// below (`/file/extra`); the document root is not consulted for an
/// aliased prefix; prefixes are case-sensitive.
#[test]
fn alias_url_prefixes_and_escapes() {
    let conf = r#"server.modules = ( "mod_access", "mod_alias", "mod_indexfile", "mod_staticfile" )
index-file.names = ( "index.html" )
url.access-deny = ( ".inc" )
alias.url = (
    "/js/lib/" => "{dir}/lib/",
    "/js/" => "{dir}/js/",
    "/file" => "{dir}/one.txt",
    "/noslash" => "{dir}/target/",
    "/slash/" => "{dir}/target",
    "/up" => "{dir}/target",
    "/Case/" => "{dir}/target/",
)
$HTTP["host"] == "b.example" {
    alias.url = ( "/js/" => "{dir}/other/" )
}
"#;
    let Some(mut pair) = start("alias_url_prefixes_and_escapes", conf, alias_setup) else {
        return;
    };
    for req in [
        // the first matching prefix (a longer one must come first)
        Req::get("/js/a.txt"),
        Req::get("/js/lib/a.txt"),
        Req::get("/js/sub/b.txt"),
        Req::get("/js/sub"),
        Req::get("/js/"),
        Req::get("/js"),
        Req::get("/js/only-docroot.txt"),
        Req::get("/js/a.txt?x=1"),
        Req::get("/js/%61.txt"),
        Req::get("/%6As/a.txt"),
        Req::head("/js/a.txt"),
        Req::get("/js/a.txt").header("If-Modified-Since", MTIME_HTTP),
        Req::get("/js/a.txt").header("Range", "bytes=2-4"),
        Req::get("/jsx.txt"),
        Req::get("/a.txt"),
        // mod_access still sees the URL path
        Req::get("/js/x.inc"),
        // an alias to a file
        Req::get("/file"),
        Req::get("/file/"),
        Req::get("/file/extra"),
        Req::get("/filex"),
        Req::get("/file?q"),
        // trailing slashes: url without, target with
        Req::get("/noslash"),
        Req::get("/noslash/"),
        Req::get("/noslash/t.txt"),
        Req::get("/noslasht.txt"),
        // url with, target without: the rest is appended as is
        Req::get("/slash"),
        Req::get("/slash/"),
        Req::get("/slash/t.txt"),
        Req::get("/slasht.txt"),
        // neither: `/up../` would leave the target
        Req::get("/up"),
        Req::get("/up/t.txt"),
        Req::get("/upt.txt"),
        Req::get("/up../x.txt"),
        Req::get("/up../secret.txt"),
        Req::get("/up/../secret.txt"),
        Req::get("/up%2e%2e/x.txt"),
        Req::get("/noslash../secret.txt"),
        Req::get("/noslash..%2fsecret.txt"),
        Req::get("/noslash/../../secret.txt"),
        Req::get("/noslash/%2e%2e/secret.txt"),
        Req::get("/js/..%2f..%2fsecret.txt"),
        // prefixes are case-sensitive
        Req::get("/Case/t.txt"),
        Req::get("/case/t.txt"),
        Req::get("/CASE/t.txt"),
        // in a host conditional
        Req::get("/js/a.txt").host("b.example"),
        Req::get("/js/lib/a.txt").host("b.example"),
        Req::get("/file").host("b.example"),
    ] {
        check(&mut pair, req);
    }
    pair.finish();
}

// ---------------------------------------------------------------------------
// mod_redirect

/// lighttpd 1.4.69: the default code is 301; `Location` is the expanded
/// string as is (relative stays relative); patterns match the normalised
/// target including `?query` (`%41` → `A`, `%7E` → `~`); `$0` is the whole
/// match; a missing capture (`$9`, `%9`, `$1` without groups) is empty;
/// `$$` → `$`, `%%` → `%`, a final lone `$` stays; `${url.path}` (encoded
/// path), `${url.query}`, `${qsa}` (`?query` or nothing),
/// `${url.scheme}`, `${url.authority}` (the Host as sent, with its port),
/// `${url.port}` (the server's own port, whatever the Host says),
/// `${esc:…}` (`%` → `%25`, `/` → `%2F`), `${encb64u:…}`; `${tolower:…}`
/// expands to nothing, an unknown `${name:$1}` to the capture; `%n` are
/// the captures of the innermost enclosing regex condition (`%0` its whole
/// match), even when it has none and an outer one has; `url.redirect-code
/// = 200` answers `200 OK` with `Location`.
#[test]
fn url_redirect_captures_and_codes() {
    let conf = r#"server.modules = ( "mod_redirect", "mod_staticfile" )
url.redirect = (
    "^/old/(.*)$" => "/new/$1",
    "^/q/([^?]*)\?(.*)$" => "/query/$1/$2",
    "^/keep/(.*)" => "/kept/$1",
    "^/money$" => "/cost-$$5-%%-$9-%9-$",
    "^/abs/(.*)" => "http://other.example/$1",
    "^/zero/.*" => "/whole?was=$0",
    "^/path" => "/p${url.path}?q=${url.query}",
    "^/qsa/(\w+)" => "/to/$1${qsa}",
    "^/parts" => "${url.scheme}://${url.authority}${url.path}?port=:${url.port}",
    "^/esc/([^?]*)" => "/e/${esc:$1}",
    "^/lower/([^?]*)" => "/l${tolower:$1}",
    "^/unknown/([^?]*)" => "/u${nosuch:$1}${url.nosuch}/",
    "^/enc/([^?]*)" => "/b64/${encb64u:$1}",
    "^/nocap" => "/n/$1/$2",
)
$HTTP["host"] =~ "^www\.(.*)$" {
    url.redirect = ( "^/(.*)" => "http://%1/$1" )
}
$HTTP["host"] =~ "^(a)\.(b)\.example$" {
    $HTTP["url"] =~ "^/nest/(\w+)" {
        url.redirect = ( "^/nest/(.*)" => "/n/%0/%1/%2/$1" )
    }
}
$HTTP["host"] =~ "^(c)\.example$" {
    url.redirect = ( "^/outer/(.*)" => "/o/%1/$1" )
    $HTTP["url"] =~ "^/inner" {
        url.redirect = ( "^/inner/(.*)" => "/i/%1/$1" )
    }
}
$HTTP["querystring"] =~ "id=(\d+)" {
    url.redirect = ( "^/item" => "/items/%1" )
}
$HTTP["url"] =^ "/c302/" {
    url.redirect = ( "^/c302/(.*)" => "/x/$1" )
    url.redirect-code = 302
}
$HTTP["url"] =^ "/c303/" {
    url.redirect = ( "^/c303/(.*)" => "/x/$1" )
    url.redirect-code = 303
}
$HTTP["url"] =^ "/c307/" {
    url.redirect = ( "^/c307/(.*)" => "/x/$1" )
    url.redirect-code = 307
}
$HTTP["url"] =^ "/c308/" {
    url.redirect = ( "^/c308/(.*)" => "/x/$1" )
    url.redirect-code = 308
}
$HTTP["url"] =^ "/c200/" {
    url.redirect = ( "^/c200/(.*)" => "/x/$1" )
    url.redirect-code = 200
}
$HTTP["url"] =^ "/codeonly/" {
    url.redirect-code = 302
}
"#;
    let Some(mut pair) = start("url_redirect_captures_and_codes", conf, |dir| {
        files(&dir.join("htdocs"), &[("a.txt", "a\n")]);
    }) else {
        return;
    };
    for req in [
        // $n captures, the default code
        Req::get("/old/page.html"),
        Req::get("/old/"),
        Req::get("/old/a%20b?x=1&y=%41"),
        Req::get("/old/%7Euser"),
        Req::head("/old/x"),
        Req::new("POST", "/old/x").body("a=1"),
        // the pattern sees the query string
        Req::get("/q/a?b=1"),
        Req::get("/q/a"),
        Req::get("/keep/x?y=1"),
        // $$, %%, captures that do not exist, a lone $
        Req::get("/money"),
        Req::get("/abs/x?y"),
        Req::get("/zero/whole?q=1"),
        Req::get("/nocap"),
        // ${...} expansions
        Req::get("/path/a%20b?c=d&e"),
        Req::get("/path"),
        Req::get("/qsa/one?x=1"),
        Req::get("/qsa/one"),
        Req::get("/parts/p?q"),
        Req::get("/parts").host("example.org:8080"),
        Req::get("/esc/a%20b/c?d"),
        // other `${…}` forms, as 1.4.69 expands them
        Req::get("/lower/MiXeD"),
        Req::get("/unknown/x"),
        Req::get("/enc/hello"),
        // %n from $HTTP["host"] =~
        Req::get("/x/y?z").host("www.example.net"),
        Req::get("/").host("www.example.net"),
        // %n in nested blocks: the innermost regex condition's captures
        Req::get("/nest/abc/def").host("a.b.example"),
        Req::get("/nest/abc").host("x.example"),
        Req::get("/outer/p").host("c.example"),
        Req::get("/inner/p").host("c.example"),
        // %n from $HTTP["querystring"] =~
        Req::get("/item?id=42&x"),
        Req::get("/item?id=x"),
        // url.redirect-code
        Req::get("/c302/a?b"),
        Req::get("/c303/a"),
        Req::get("/c307/a"),
        Req::new("POST", "/c307/a").body("k=v"),
        Req::get("/c308/a"),
        Req::get("/c200/a"),
        Req::get("/codeonly/old/x"),
        // no rule matches: served normally
        Req::get("/a.txt"),
        Req::get("/none"),
        Req::get("/old").http10().no_host(),
    ] {
        check(&mut pair, req);
    }
    pair.finish();
}

// ---------------------------------------------------------------------------
// mod_rewrite

fn rewrite_conf(backend: &PyBackend) -> String {
    format!(
        r#"server.modules = ( "mod_rewrite", "mod_access", "mod_alias", "mod_proxy", "mod_indexfile", "mod_staticfile" )
index-file.names = ( "index.html" )
url.access-deny = ( ".inc" )
alias.url = ( "/js/" => "{{dir}}/js/" )
proxy.server = ( "/echo/" => ( {host} ) )
url.rewrite-once = (
    "^/once/([^?]*)$" => "/echo/once?arg=$1",
    "^/onceq/([^?]*)(?:\?(.*))?$" => "/echo/onceq/$1?$2",
    "^/noq/([^?]*)" => "/echo/noq/$1",
    "^/addq/([^?]*)" => "/echo/addq/$1?added=1",
    "^/static/(.*)$" => "/files/$1",
    "^/toalias/(.*)$" => "/js/$1",
    "^/deny/(.*)$" => "/files/$1.inc",
    "^/chain1/(.*)" => "/chain2/$1",
    "^/chain2/(.*)" => "/echo/chain2/$1",
    "^/empty" => "",
    "^/relative/(.*)" => "rel/$1",
    "^/dollar/(.*)" => "/echo/d/$$1/$1/%%/%1",
)
url.rewrite-repeat = (
    "^/rep/a(.*)" => "/rep/b$1",
    "^/rep/b(.*)" => "/echo/rep-b$1",
    "^/loop(.*)" => "/loop$1",
    "^/grow/(.*)" => "/grow/x$1",
)
url.rewrite-if-not-file = (
    "^/nf/([^?]*)(?:\?(.*))?$" => "/echo/nf?path=$1&q=$2",
)
url.rewrite-repeat-if-not-file = (
    "^/rnf/(.*)$" => "/rnf2/$1",
    "^/rnf2/(.*)$" => "/echo/rnf2/$1",
)
url.rewrite-final = (
    "^/final/(.*)$" => "/rep/a-final-$1",
)
$HTTP["host"] =~ "^(\w+)\.rw\.example$" {{
    url.rewrite-once = ( "^/(.*)" => "/echo/host-%1/$1" )
}}
$HTTP["url"] =~ "^/cond/(\w+)" {{
    url.rewrite-once = ( "^/cond/(\w+)/(.*)" => "/echo/cond/%1/$2" )
}}
"#,
        host = host(backend)
    )
}

fn rewrite_setup(dir: &Path) {
    files(
        dir,
        &[
            ("js/a.txt", "alias js a\n"),
            ("htdocs/files/a.txt", "files a\n"),
            ("htdocs/files/a.txt.inc", "files a inc\n"),
            ("htdocs/files/index.html", "files index\n"),
            ("htdocs/nf/exists.txt", "nf exists\n"),
            ("htdocs/nf/dir/index.html", "nf dir index\n"),
            ("htdocs/rnf/exists.txt", "rnf exists\n"),
            ("htdocs/rnf2/b.txt", "rnf2 b\n"),
            ("htdocs/once/a.txt", "never served: rewritten\n"),
        ],
    );
}

/// lighttpd 1.4.69: the rewritten target is exactly the substitution (an
/// unmatched query is dropped: `/noq/p?kept=1` → `/echo/noq/p`; an empty
/// `?$2` keeps the `?`); a `%` from `%%` is re-encoded as `%25` upstream;
/// rewrite-once does not chain; rewrite-repeat does; rewrite-final stops
/// every further rewrite (repeat rules included); if-not-file rewrites
/// directories too; a rewrite to `""` gives 404; a rewrite loop, and a
/// result not starting with `/` (`rel/x`), abort the request with no
/// response at all (the connection is closed; wick answers 500, a known
/// difference).
#[test]
fn url_rewrite_once_repeat_final_if_not_file() {
    let Some((mut pair, _echo)) = start_with_backend(
        "url_rewrite_once_repeat_final_if_not_file",
        rewrite_conf,
        rewrite_setup,
    ) else {
        return;
    };
    for req in [
        // rewrite-once to the backend: what arrives upstream
        Req::get("/once/a.txt"),
        Req::get("/once/a%20b"),
        Req::get("/once/a.txt?dropped=1"),
        Req::get("/onceq/p?x=1&y=%41"),
        Req::get("/onceq/p"),
        Req::get("/noq/p?kept=1"),
        Req::get("/noq/p"),
        Req::get("/addq/p?orig=1"),
        Req::get("/addq/p"),
        Req::get("/dollar/v"),
        Req::get("/empty"),
        // rewrite, then static file, alias, access
        Req::get("/static/a.txt"),
        Req::get("/static/"),
        Req::get("/static/missing.txt"),
        Req::get("/static/a.txt?q=1"),
        Req::get("/toalias/a.txt"),
        Req::get("/deny/a.txt"),
        // once: a single pass, no chaining
        Req::get("/chain1/x"),
        Req::get("/chain2/x"),
        // repeat: rules apply again to the result
        Req::get("/rep/a1"),
        Req::get("/rep/b1"),
        // final
        Req::get("/final/z"),
        // if-not-file: only when the path is not an existing file
        Req::get("/nf/exists.txt"),
        Req::get("/nf/missing.txt"),
        Req::get("/nf/missing.txt?a=b"),
        Req::get("/nf/dir/"),
        Req::get("/nf/dir"),
        Req::get("/rnf/exists.txt"),
        Req::get("/rnf/b.txt"),
        Req::get("/rnf/missing"),
        // %n from conditions
        Req::get("/p/q?r").host("abc.rw.example"),
        Req::get("/cond/word/rest?x"),
        Req::get("/cond/w/"),
    ] {
        check(&mut pair, req);
    }
    // endless rewrite-repeat loops: KNOWN-DIFFERENCES, "Everyday modules":
    // more than 100 rewrites of one request are answered with 500 and
    // `Connection: close`; lighttpd 1.4.69 closes without an answer
    // (and a rewrite not starting with `/`, the same entry)
    for (target, what) in [
        ("/loop/x", "a rewrite loop"),
        ("/grow/y", "a rewrite loop"),
        ("/relative/x", "a rewrite not starting with /"),
    ] {
        let req = Req::get(target);
        pair.observe_known(
            &format!("GET {target} ({what})"),
            REWRITE_LOOP,
            |_, s| answer_or_close(s, &req),
            |l, w| {
                if l.is_some() {
                    return Err("lighttpd: expected no answer, the connection closed".into());
                }
                is_500_and_close(w.as_ref())
            },
        );
    }
    pair.finish();
}

/// KNOWN-DIFFERENCES, "Everyday modules": a rewrite loop (or a rewrite not
/// starting with `/`) gets 500 and `Connection: close` from wick, no answer
/// from lighttpd 1.4.69.
const REWRITE_LOOP: &str = "a rewrite loop or a rewrite not starting with `/` is answered \
                            with 500 and Connection: close (lighttpd 1.4.69 closes without an answer)";

/// wick's answer to a failed rewrite: `500 Internal Server Error`,
/// `Connection: close`, the standard error page (as lighttpd's pages are).
fn is_500_and_close(w: Option<&Seen>) -> Result<(), String> {
    let Some((status, headers, body)) = w else {
        return Err("wick: expected a 500 answer, the connection closed without one".into());
    };
    let header = |name: &str| {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    if status != "HTTP/1.1 500 Internal Server Error" {
        return Err(format!("wick: expected status 500, got {status:?}"));
    }
    if header("connection") != ["close"] {
        return Err(format!(
            "wick: expected Connection: close, got {:?}",
            header("connection")
        ));
    }
    if header("content-type") != ["text/html"]
        || header("content-length") != [body.len().to_string().as_str()]
        || !body.contains("<title>500 Internal Server Error</title>")
    {
        return Err("wick: expected the text/html 500 error page".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// mod_setenv

fn setenv_conf(backend: &PyBackend) -> String {
    format!(
        r#"server.modules = ( "mod_setenv", "mod_proxy", "mod_staticfile" )
proxy.server = ( "/echo/" => ( {host} ) )
setenv.add-request-header = ( "X-Add" => "added", "X-Multi" => "one", "Accept" => "text/added" )
setenv.set-request-header = ( "X-Set" => "set", "User-Agent" => "set-agent", "X-Remove" => "" )
setenv.add-response-header = ( "X-Resp-Add" => "r1", "Cache-Control" => "no-store", "X-From-Backend" => "appended" )
setenv.set-response-header = ( "X-Resp-Set" => "s1", "X-Backend" => "masked", "X-Resp-Gone" => "" )
setenv.add-environment = ( "ENV_A" => "a" )
setenv.set-environment = ( "ENV_B" => "b" )
$HTTP["url"] =^ "/echo/override/" {{
    setenv.add-request-header = ( "X-Add" => "override" )
    setenv.set-response-header = ( "X-Resp-Set" => "s2" )
}}
$HTTP["url"] =^ "/echo/append/" {{
    setenv.add-request-header += ( "X-Extra" => "more" )
}}
$HTTP["url"] =^ "/plain/" {{
    setenv.add-response-header = ( "X-Plain" => "p", "Content-Type" => "text/x-override" )
    setenv.set-response-header = ( "Content-Type" => "text/x-set" )
}}
"#,
        host = host(backend)
    )
}

/// lighttpd 1.4.69: `add-request-header` appends `, value` to a header the
/// client sent (keeping the client's spelling of the name) and adds new
/// ones after the client's; `set-request-header` replaces, and with `""`
/// removes; `add-response-header` adds a second line next to a backend's
/// header of the same name, `set-response-header` replaces it (`""`
/// removes it); response headers also go on 304s and error pages; a
/// `set` of `Content-Type` wins over an `add` of it; a block's list
/// replaces the global one, `+=` in a block extends the global one.
#[test]
fn setenv_request_and_response_headers() {
    let Some((mut pair, _echo)) =
        start_with_backend("setenv_request_and_response_headers", setenv_conf, |dir| {
            files(
                &dir.join("htdocs"),
                &[("a.txt", "a\n"), ("plain/b.txt", "plain b\n")],
            )
        })
    else {
        return;
    };
    for req in [
        // request headers reach the backend added / set / removed
        Req::get("/echo/x"),
        Req::get("/echo/x")
            .header("X-Add", "client")
            .header("X-Set", "client")
            .header("User-Agent", "curl/8")
            .header("X-Remove", "client")
            .header("Accept", "*/*"),
        Req::new("POST", "/echo/x").body("body"),
        // blocks replace the list; += appends to the global one
        Req::get("/echo/override/x"),
        Req::get("/echo/append/x"),
        // response headers next to the backend's own
        Req::get("/echo/x?hdr=X-Resp-Set:backend&hdr=X-Backend-Own:1"),
        Req::get("/echo/x?hdr=X-Resp-Add:backend&hdr=Cache-Control:max-age=5"),
        Req::get("/echo/x?hdr=X-Resp-Gone:backend"),
        Req::get("/echo/x?status=404"),
        Req::get("/echo/override/x?hdr=X-Resp-Set:backend"),
        // static files, their errors and 304s
        Req::get("/a.txt"),
        Req::head("/a.txt"),
        Req::get("/a.txt").header("If-Modified-Since", MTIME_HTTP),
        Req::get("/missing"),
        Req::new("DELETE", "/a.txt"),
        Req::get("/plain/b.txt"),
        Req::get("/plain/missing"),
    ] {
        check(&mut pair, req);
    }
    // lower-case names sent by the client: lighttpd keeps their spelling
    // and appends to them (`x-add: lower, added`)
    pair.check_full_known(
        Req::get("/echo/x")
            .header("x-add", "lower")
            .header("x-set", "lower"),
        TITLE_CASE,
        |_, r| {
            r.body = lowercase_echoed_names(&r.body);
            Ok(())
        },
    );
    // a repeated header: lighttpd joins the client's lines and the added
    // value into one (`X-Multi: a, b, one`)
    pair.check_full_known(
        Req::get("/echo/x")
            .header("X-Multi", "a")
            .header("X-Multi", "b"),
        GROUPED,
        |_, r| {
            join_repeated_echoed(r);
            Ok(())
        },
    );
    pair.finish();
}

/// KNOWN-DIFFERENCES (mod_proxy): wick's upstream header names are
/// canonical Title-Case.
const TITLE_CASE: &str =
    "upstream header names are Title-Case (hyper does not keep the client's spelling)";
/// KNOWN-DIFFERENCES (mod_proxy): repeated request headers of one name are
/// grouped at the first one's position, as separate lines.
const GROUPED: &str = "repeated request headers are grouped at the first one's position";

/// Joins consecutive header lines of one name (any case) in the request
/// head a backend echoed, `a, b` style, and fixes the Content-Length.
fn join_repeated_echoed(r: &mut Response) {
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let Some((head, rest)) = text.split_once("\r\n\r\n") else {
        return;
    };
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        // (the request line is never joined)
        let after_request_line = lines.len() > 1;
        if let (Some(last), Some((name, value))) = (lines.last_mut(), line.split_once(':'))
            && after_request_line
            && last
                .split_once(':')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            last.push_str(", ");
            last.push_str(value.trim());
            continue;
        }
        lines.push(line.to_string());
    }
    let joined = format!("{}\r\n\r\n{rest}", lines.join("\r\n"));
    if joined != text {
        r.body = joined.into_bytes();
        r.set_header("content-length", &r.body.len().to_string());
    }
}

// ---------------------------------------------------------------------------
// mod_extforward

fn extforward_conf(backend: &PyBackend) -> String {
    format!(
        r#"server.modules = ( "mod_extforward", "mod_setenv", "mod_access", "mod_proxy", "mod_staticfile" )
proxy.server = ( "/echo/" => ( {host} ) )
extforward.forwarder = ( "127.0.0.1" => "trust", "10.0.0.2" => "trust", "2001:db8::2" => "trust" )
extforward.headers = ( "X-Forwarded-For", "Forwarded" )
extforward.params = ( "host" => 1, "remote_user" => 1 )
$HTTP["remoteip"] == "192.0.2.0/24" {{
    setenv.add-response-header = ( "X-Net" => "test-net-1" )
}}
$HTTP["remoteip"] == "2001:db8::/32" {{
    setenv.add-response-header = ( "X-Net" => "documentation-v6" )
}}
$HTTP["remoteip"] == "127.0.0.1" {{
    setenv.add-response-header = ( "X-Net" => "loopback" )
}}
$HTTP["remoteip"] == "198.51.100.9" {{
    url.access-deny = ( "" )
}}
$HTTP["scheme"] == "https" {{
    setenv.set-response-header = ( "X-Scheme" => "https" )
}}
$HTTP["host"] == "fwd.example" {{
    setenv.set-response-header = ( "X-Host-Seen" => "fwd.example" )
}}
"#,
        host = host(backend)
    )
}

/// lighttpd 1.4.69: in `X-Forwarded-For` the last address not in the
/// trust list becomes the client (invalid entries such as `unknown` leave
/// it unchanged; all trusted: unchanged); `X-Forwarded-Proto` of a trusted
/// proxy sets the scheme (lower-cased upstream); mod_proxy still appends
/// the *connection's* address to the upstream `X-Forwarded-For`. The
/// `Forwarded` header is used only when it has more than one parameter in
/// total (`for=192.0.2.60` alone, or with a trailing `;`, is ignored;
/// `for=…;proto=…` works); in `for=A, for=B` with B trusted, B is taken;
/// `host=` (even with `extforward.params` `host`) does not change the
/// Host; `proto=` sets the scheme only with a `for=`.
#[test]
fn extforward_trust_headers_and_params() {
    let Some((mut pair, _echo)) = start_with_backend(
        "extforward_trust_headers_and_params",
        extforward_conf,
        |dir| files(&dir.join("htdocs"), &[("a.txt", "a\n")]),
    ) else {
        return;
    };
    let xff = |v: &str| Req::get("/echo/x").header("X-Forwarded-For", v);
    let fwd = |v: &str| Req::get("/echo/x").header("Forwarded", v);
    for req in [
        Req::get("/echo/x"),
        Req::get("/a.txt"),
        // X-Forwarded-For: the last address not in the trust list
        xff("192.0.2.7"),
        xff("203.0.113.5, 192.0.2.7"),
        xff("192.0.2.7, 10.0.0.2"),
        xff("192.0.2.7,10.0.0.2"),
        xff("198.51.100.1, 10.0.0.2, 10.0.0.2"),
        xff("2001:db8::1"),
        xff("192.0.2.7, 2001:db8::2"),
        xff("unknown"),
        xff("not-an-address, 192.0.2.8"),
        xff(""),
        xff("10.0.0.2"),
        Req::get("/echo/x")
            .header("X-Forwarded-For", "192.0.2.1")
            .header("X-Forwarded-For", "192.0.2.2"),
        Req::get("/echo/x")
            .header("X-Forwarded-For", "192.0.2.7")
            .header("X-Forwarded-Proto", "https"),
        Req::get("/echo/x")
            .header("X-Forwarded-For", "192.0.2.7")
            .header("X-Forwarded-Proto", "HTTPS"),
        Req::get("/a.txt").header("X-Forwarded-For", "198.51.100.9"),
        Req::get("/a.txt").header("X-Forwarded-For", "192.0.2.7"),
        // Forwarded (RFC 7239) with extforward.params
        fwd("for=192.0.2.60;proto=https;host=fwd.example"),
        fwd("for=192.0.2.61, for=192.0.2.62"),
        fwd("for=_hidden"),
        fwd("for=unknown;proto=https"),
        fwd("proto=https"),
        fwd("host=fwd.example"),
        fwd("For=\"192.0.2.63\";Proto=HTTP"),
        fwd("for=192.0.2.64;by=10.0.0.1;remote_user=alice"),
        // both headers: the first listed in extforward.headers wins
        Req::get("/echo/x")
            .header("Forwarded", "for=192.0.2.70")
            .header("X-Forwarded-For", "192.0.2.71"),
    ] {
        check(&mut pair, req);
    }
    // KNOWN-DIFFERENCES, "Everyday modules": wick reads every `for=` of a
    // `Forwarded` header (RFC 7239), walking from the right past trusted
    // forwarders; lighttpd 1.4.69 ignores a header with a single parameter
    // in all and, in `for=A, for=B` with B trusted, takes B. The client
    // address shows in `X-Net` (from the `$HTTP["remoteip"]` blocks);
    // everything else is compared.
    for (value, lighttpd_net, wick_net) in [
        // a single parameter: lighttpd keeps the connection's 127.0.0.1
        ("for=192.0.2.60", Some("loopback"), Some("test-net-1")),
        (
            "for=\"[2001:db8::17]:4711\"",
            Some("loopback"),
            Some("documentation-v6"),
        ),
        // lighttpd takes the trusted 10.0.0.2 (no block matches it)
        ("for=192.0.2.60, for=10.0.0.2", None, Some("test-net-1")),
    ] {
        pair.check_full_known(fwd(value), FORWARDED, move |side, r| {
            let (expected, theirs) = match side {
                Side::Lighttpd => (lighttpd_net, "lighttpd"),
                Side::Wick => (wick_net, "wick"),
            };
            let net = r.header("x-net");
            if net != expected {
                return Err(format!(
                    "{theirs}: expected X-Net {expected:?}, got {net:?}"
                ));
            }
            r.remove_header("x-net");
            if let Some(v) = lighttpd_net {
                r.headers.push(("x-net".into(), v.into()));
            }
            etag_form(r);
            Ok(())
        });
    }
    // a client outside the trust list: headers ignored, its own address
    let req = Req::get("/echo/x?from=127.0.0.2")
        .header("X-Forwarded-For", "192.0.2.7")
        .header("Forwarded", "for=192.0.2.8;proto=https");
    pair.observe(
        "untrusted client 127.0.0.2 with forwarding headers",
        |_, s| from_address(s, Ipv4Addr::new(127, 0, 0, 2), &req),
    );
    pair.finish();
}

/// KNOWN-DIFFERENCES, "Everyday modules": `extforward.headers` with
/// `Forwarded`.
const FORWARDED: &str = "Forwarded: wick reads every for= (RFC 7239) from the right past \
                         trusted forwarders; lighttpd 1.4.69 ignores a header with a single \
                         parameter and takes a trusted last for=";

/// `extforward.forwarder` not naming the client: its headers are ignored;
/// `extforward.headers` chooses which header is read (names compared in
/// any case: the requests spell `X-Real-Ip`, the configuration
/// `X-Real-IP`; that spelling is also wick's upstream one, see
/// KNOWN-DIFFERENCES on Title-Case names); `"all" => "trust"` trusts every
/// client and the default headers are used.
#[test]
fn extforward_untrusted_and_trust_all() {
    fn conf(forwarder: &'static str, headers: &'static str) -> impl FnOnce(&PyBackend) -> String {
        move |b| {
            format!(
                r#"server.modules = ( "mod_extforward", "mod_setenv", "mod_proxy" )
proxy.server = ( "/echo/" => ( {host} ) )
extforward.forwarder = ( {forwarder} )
{headers}
$HTTP["remoteip"] == "192.0.2.0/24" {{
    setenv.add-response-header = ( "X-Net" => "test-net-1" )
}}
"#,
                host = host(b)
            )
        }
    }
    let listed = conf(
        r#""192.0.2.1" => "trust", "127.0.0.2" => "trust""#,
        r#"extforward.headers = ( "X-Real-IP" )"#,
    );
    let Some((mut pair, _echo)) =
        start_with_backend("extforward_untrusted_and_trust_all", listed, |_| {})
    else {
        return;
    };
    for req in [
        Req::get("/echo/x").header("X-Forwarded-For", "192.0.2.7"),
        Req::get("/echo/x").header("X-Real-Ip", "192.0.2.7"),
        Req::get("/echo/x").header("Forwarded", "for=192.0.2.7;proto=https"),
    ] {
        check(&mut pair, req);
    }
    for (label, header, value) in [
        ("X-Real-Ip from trusted 127.0.0.2", "X-Real-Ip", "192.0.2.9"),
        (
            "X-Real-Ip list from trusted 127.0.0.2",
            "X-Real-Ip",
            "192.0.2.10, 192.0.2.11",
        ),
        (
            "X-Forwarded-For (not listed) from 127.0.0.2",
            "X-Forwarded-For",
            "192.0.2.12",
        ),
    ] {
        let req = Req::get("/echo/x").header(header, value);
        pair.observe(label, |_, s| {
            from_address(s, Ipv4Addr::new(127, 0, 0, 2), &req)
        });
    }
    pair.finish();

    let all = conf(r#""all" => "trust""#, "");
    let Some((mut pair, _echo)) =
        start_with_backend("extforward_trust_all_default_headers", all, |_| {})
    else {
        return;
    };
    for req in [
        Req::get("/echo/x").header("X-Forwarded-For", "192.0.2.7"),
        Req::get("/echo/x").header("X-Forwarded-For", "192.0.2.7, 198.51.100.2"),
        Req::get("/echo/x").header("Forwarded-For", "192.0.2.8"),
        Req::get("/echo/x").header("X-Real-Ip", "192.0.2.9"),
        Req::get("/echo/x").header("Forwarded", "for=192.0.2.10;proto=https"),
    ] {
        check(&mut pair, req);
    }
    let req = Req::get("/echo/x").header("X-Forwarded-For", "192.0.2.13");
    pair.observe("X-Forwarded-For from 127.0.0.2 (all trusted)", |_, s| {
        from_address(s, Ipv4Addr::new(127, 0, 0, 2), &req)
    });
    pair.finish();
}

// ---------------------------------------------------------------------------
// mod_dirlisting

/// File names a listing must escape or encode.
const HOSTILE: &[&[u8]] = &[
    b"<b>&\"'.txt",
    b"a b.txt",
    b"pct%41.txt",
    b"q?.txt",
    b"hash#.txt",
    b"semi;colon.txt",
    b"plus+eq=.txt",
    b"back\\slash.txt",
    b"caf\xc3\xa9.txt",
    b"latin\xe9.txt",
    b"tab\t.txt",
    b"<script>alert(1)<",
];

fn dirlisting_setup(dir: &Path) {
    let root = dir.join("htdocs");
    let sized = |n: usize| "x".repeat(n);
    files(
        &root,
        &[
            ("s.css", "css\n"),
            ("list/a.txt", "a\n"),
            ("list/B.txt", "B\n"),
            ("list/c.html", "<p>c</p>\n"),
            ("list/.hidden", "dot file\n"),
            ("list/sub/inner.txt", "inner\n"),
            ("list/Zdir/z.txt", "z\n"),
            ("list/noext", "no extension\n"),
            ("list/empty.txt", ""),
            ("list/one.txt", "1"),
            ("list/k1023.txt", &sized(1023)),
            ("list/k1024.txt", &sized(1024)),
            ("list/k1025.txt", &sized(1025)),
            ("list/k10.txt", &sized(10 * 1024 + 512)),
            ("list/m1.txt", &sized(1024 * 1024)),
            ("list/m1plus.txt", &sized(1024 * 1024 + 100 * 1024)),
            ("list/.dotdir/x.txt", "x\n"),
            ("dots/.hidden", "dot file\n"),
            ("dots/visible.txt", "v\n"),
            ("dots/.dotdir/x.txt", "x\n"),
            ("excl/keep.txt", "keep\n"),
            ("excl/old.bak", "bak\n"),
            ("excl/secret-plans.txt", "secret\n"),
            ("excl/not-secret.txt", "not secret\n"),
            ("readme/README.txt", "read <me> & \"quote\"\n"),
            ("readme/HEADER.txt", "head <er> & 'quote'\n"),
            ("readme/file.txt", "f\n"),
            ("readme-hidden/README.txt", "hidden readme <i>raw</i>\n"),
            ("readme-hidden/HEADER.txt", "hidden header <i>raw</i>\n"),
            ("readme-hidden/file.txt", "f\n"),
            ("enc/caf\u{e9}.txt", "utf-8 name\n"),
            ("css/a.txt", "a\n"),
            ("nolayout/a.txt", "a\n"),
            ("off/a.txt", "a\n"),
            ("indexed/index.html", "index wins\n"),
            ("indexed/a.txt", "a\n"),
            ("emptydir/.keep", ""),
        ],
    );
    for name in HOSTILE {
        put(
            &root.join("hostile").join(OsStr::from_bytes(name)),
            "hostile\n",
        );
    }
    fs::create_dir_all(root.join("hostile").join("<dir>&")).expect("create hostile dir");
    put(&root.join("hostile/<dir>&/in.txt"), "in\n");
    fix_dir_mtimes(&root);
}

#[test]
fn dir_listing_options_and_escaping() {
    let conf = r#"server.modules = ( "mod_indexfile", "mod_dirlisting", "mod_staticfile" )
server.tag = "compat-tests"
index-file.names = ( "index.html" )
dir-listing.activate = "enable"
$HTTP["url"] =^ "/dots/" {
    dir-listing.hide-dotfiles = "disable"
}
$HTTP["url"] =^ "/excl/" {
    dir-listing.exclude = ( "\.bak$", "^secret" )
}
$HTTP["url"] =^ "/readme/" {
    dir-listing.show-readme = "enable"
    dir-listing.show-header = "enable"
}
$HTTP["url"] =^ "/readme-hidden/" {
    dir-listing.show-readme = "enable"
    dir-listing.show-header = "enable"
    dir-listing.hide-readme-file = "enable"
    dir-listing.hide-header-file = "enable"
    dir-listing.encode-readme = "disable"
    dir-listing.encode-header = "disable"
}
$HTTP["url"] =^ "/enc/" {
    dir-listing.encoding = "iso-8859-1"
}
$HTTP["url"] =^ "/css/" {
    dir-listing.external-css = "/s.css"
    dir-listing.external-js = "/s.js"
    dir-listing.set-footer = "<b>footer</b> & more"
}
$HTTP["url"] =^ "/nolayout/" {
    dir-listing.auto-layout = "disable"
}
$HTTP["url"] =^ "/off/" {
    dir-listing.activate = "disable"
}
"#;
    let Some(mut pair) = start("dir_listing_options_and_escaping", conf, dirlisting_setup) else {
        return;
    };
    // default-layout listings (each readme/header listing once per start:
    // KNOWN-DIFFERENCES, lighttpd 1.4.69 sends the file empty when the
    // listing is asked for again within a second or two)
    for req in [
        Req::get("/list/"),
        Req::get("/list/?C=M;O=D"),
        Req::get("/list/sub/"),
        Req::get("/list/.dotdir/"),
        Req::get("/list/").header("If-Modified-Since", MTIME_HTTP),
        Req::get("/"),
        Req::get("/dots/"),
        Req::get("/excl/"),
        Req::get("/readme/"),
        Req::get("/readme-hidden/"),
        Req::get("/enc/"),
        Req::get("/emptydir/"),
        Req::get("/hostile/"),
        Req::get("/hostile/%3Cdir%3E&/"),
        Req::get("/list/").http10().no_host(),
    ] {
        check_listing(&mut pair, req);
    }
    check_listing_head(&mut pair, "/list/");
    // no default layout: identical pages; and no listing at all
    for req in [
        Req::get("/list"),
        Req::new("POST", "/list/").body("x"),
        Req::get("/css/"),
        Req::get("/nolayout/"),
        Req::get("/off/"),
        Req::get("/indexed/"),
        Req::get("/missing/"),
    ] {
        check(&mut pair, req);
    }
    pair.finish();
}

/// `server.dir-listing` (the old name of `dir-listing.activate`) in a
/// conditional, with mod_dirlisting loaded implicitly (not in
/// `server.modules`): lighttpd adds it because a block enables it, before
/// the implicit mod_staticfile.
#[test]
fn dir_listing_old_name_and_implicit_module() {
    let conf = r#"server.modules = ( "mod_access" )
server.tag = "compat-tests"
$HTTP["url"] =^ "/list/" {
    server.dir-listing = "enable"
}
"#;
    let Some(mut pair) = start(
        "dir_listing_old_name_and_implicit_module",
        conf,
        dirlisting_setup,
    ) else {
        return;
    };
    check_listing(&mut pair, Req::get("/list/"));
    check_listing(&mut pair, Req::get("/list/sub/"));
    check(&mut pair, Req::get("/dots/"));
    pair.finish();
}

// ---------------------------------------------------------------------------
// mod_indexfile / mod_staticfile named in server.modules

/// The two modules the core implements, named explicitly, with
/// `index-file.names` and `static-file.*` in conditionals.
#[test]
fn indexfile_and_staticfile_module_names() {
    let conf = r#"server.modules = ( "mod_indexfile", "mod_staticfile" )
index-file.names = ( "index.htm", "index.html" )
static-file.exclude-extensions = ( ".bak" )
$HTTP["url"] =^ "/other/" {
    index-file.names = ( "start.txt" )
    static-file.exclude-extensions = ( ".txt" )
}
$HTTP["url"] =^ "/etags/" {
    static-file.etags = "disable"
}
"#;
    let Some(mut pair) = start("indexfile_and_staticfile_module_names", conf, |dir| {
        files(
            &dir.join("htdocs"),
            &[
                ("index.html", "root index.html\n"),
                ("d/index.htm", "d index.htm\n"),
                ("d/index.html", "d index.html\n"),
                ("x.bak", "backup\n"),
                ("other/start.txt", "other start\n"),
                ("other/index.html", "other index\n"),
                ("etags/a.txt", "a\n"),
            ],
        );
    }) else {
        return;
    };
    for req in [
        Req::get("/"),
        Req::get("/d/"),
        Req::get("/d"),
        Req::get("/x.bak"),
        Req::get("/other/"),
        Req::get("/other/index.html"),
        Req::get("/etags/a.txt"),
    ] {
        check(&mut pair, req);
    }
    pair.finish();
}

/// `server.modules` order decides which module answers a directory
/// (lighttpd 1.4.69): mod_staticfile listed before mod_indexfile answers 403
/// before an index file is tried; a mod_dirlisting that lighttpd adds by
/// itself (a block enables listing, the module is not listed) comes after
/// an explicit mod_staticfile and never lists; mod_dirlisting listed before
/// mod_indexfile lists a directory even when it has an index file. One test
/// per `server.modules`, each with the same files, blocks and requests;
/// `listed` names the requests lighttpd answers with a listing (compared
/// as [`check_listing`] does), the others are compared in full.
fn module_order(test: &str, modules: &str, listed: &[&str]) {
    let setup = |dir: &Path| {
        files(
            &dir.join("htdocs"),
            &[
                ("index.html", "root index\n"),
                ("list/a.txt", "a\n"),
                ("both/index.html", "both index\n"),
                ("both/b.txt", "b\n"),
            ],
        );
        fix_dir_mtimes(&dir.join("htdocs"));
    };
    let conf = format!(
        r#"server.modules = ( {modules} )
server.tag = "compat-tests"
index-file.names = ( "index.html" )
$HTTP["url"] =^ "/list/" {{
    server.dir-listing = "enable"
}}
$HTTP["url"] =^ "/both/" {{
    dir-listing.activate = "enable"
}}
"#
    );
    let Some(mut pair) = start(test, &conf, setup) else {
        return;
    };
    for target in ["/", "/list/", "/both/", "/both/b.txt"] {
        if listed.contains(&target) {
            check_listing(&mut pair, Req::get(target));
        } else {
            check(&mut pair, Req::get(target));
        }
    }
    pair.finish();
}

/// mod_staticfile before mod_indexfile: every directory is 403, the index
/// file is never tried, nothing is listed.
#[test]
fn module_order_staticfile_first() {
    module_order(
        "module_order_staticfile_first",
        r#""mod_staticfile", "mod_indexfile""#,
        &[],
    );
}

/// mod_dirlisting appended by lighttpd after the explicit mod_staticfile:
/// `/list/` (no index file) is 403, not a listing.
#[test]
fn module_order_implicit_dirlisting() {
    module_order(
        "module_order_implicit_dirlisting",
        r#""mod_indexfile", "mod_staticfile""#,
        &[],
    );
}

/// All three modules implicit (lighttpd's own order: indexfile,
/// dirlisting, staticfile): the index file wins, `/list/` is listed.
#[test]
fn module_order_all_implicit() {
    module_order("module_order_all_implicit", r#""mod_access""#, &["/list/"]);
}

/// mod_dirlisting before mod_indexfile: `/both/` is listed although it has
/// an index file (`/` is not: listing is only enabled in the blocks).
#[test]
fn module_order_dirlisting_first() {
    module_order(
        "module_order_dirlisting_first",
        r#""mod_dirlisting", "mod_indexfile", "mod_staticfile""#,
        &["/list/", "/both/"],
    );
}

/// The usual order, explicit: index files first, then listings.
#[test]
fn module_order_indexfile_first() {
    module_order(
        "module_order_indexfile_first",
        r#""mod_indexfile", "mod_dirlisting", "mod_staticfile""#,
        &["/list/"],
    );
}

// ---------------------------------------------------------------------------
// Configurations both refuse at start

/// Values the modules reject when they start: lighttpd exits with status
/// 255 ("Configuration of plugins failed"); wick must refuse them too.
#[test]
fn module_values_refused_at_start() {
    let test = "module_values_refused_at_start";
    let Some(lighttpd) = lighttpd_or_skip(test) else {
        return;
    };
    let other = if compat_tests::http::self_check() {
        lighttpd.clone()
    } else {
        wick_bin()
    };
    let cases: &[(&str, &str)] = &[
        (
            // `/js/lib/' will never match as `/js/' matched first
            "alias prefix shadowed by an earlier shorter one",
            r#"server.modules = ( "mod_alias" )
alias.url = ( "/js/" => "{dir}/js/", "/js/lib/" => "{dir}/lib/" )"#,
        ),
        (
            "alias.url value not a string",
            r#"server.modules = ( "mod_alias" )
alias.url = ( "/a/" => 5 )"#,
        ),
        (
            "url.access-deny not a list",
            r#"server.modules = ( "mod_access" )
url.access-deny = "x""#,
        ),
        (
            "url.redirect regex does not compile",
            r#"server.modules = ( "mod_redirect" )
url.redirect = ( "^/(" => "/x" )"#,
        ),
        (
            "url.rewrite-once regex does not compile",
            r#"server.modules = ( "mod_rewrite" )
url.rewrite-once = ( "^/(" => "/x" )"#,
        ),
        (
            "setenv value not a string",
            r#"server.modules = ( "mod_setenv" )
setenv.add-response-header = ( "X" => 5 )"#,
        ),
        (
            "extforward.params key other than host / remote_user",
            r#"server.modules = ( "mod_extforward" )
extforward.forwarder = ( "127.0.0.1" => "trust" )
extforward.params = ( "proto" => 1 )"#,
        ),
        (
            "dir-listing.exclude regex does not compile",
            r#"server.modules = ( "mod_dirlisting" )
dir-listing.activate = "enable"
dir-listing.exclude = ( "(" )"#,
        ),
        (
            "accesslog.format with an unknown specifier",
            r#"server.modules = ( "mod_accesslog" )
accesslog.filename = "{dir}/access.log"
accesslog.format = "%Z""#,
        ),
        (
            "accesslog.format with an unterminated %{",
            r#"server.modules = ( "mod_accesslog" )
accesslog.filename = "{dir}/access.log"
accesslog.format = "%{foo""#,
        ),
        (
            "accesslog.filename in a missing directory",
            r#"server.modules = ( "mod_accesslog" )
accesslog.filename = "{dir}/missing/access.log""#,
        ),
    ];
    start_refusals(test, cases, |(what, body), scratch, dir| {
        let conf =
            format!("server.document-root = \"{dir}/htdocs\"\n{body}\n").replace("{dir}", dir);
        let mut failures = Vec::new();
        for (name, program) in [("lighttpd", &lighttpd), ("wick", &other)] {
            match Server::start(name, program, &conf, scratch) {
                Ok(_) => failures.push(format!("{what}: {name} started on\n{conf}")),
                Err(e) if !e.contains("exit status: 255") => {
                    failures.push(format!("{what}: {name} did not exit with status 255: {e}"))
                }
                Err(_) => {}
            }
        }
        failures
    });
}

/// Values lighttpd 1.4.69 starts with and wick refuses (KNOWN-DIFFERENCES,
/// "Everyday modules": a status wick could not send, a header it could not
/// send, a trust entry that would silently trust nobody, the PROXY protocol
/// it does not speak): lighttpd must start, wick must exit with status 255.
#[test]
fn module_values_only_wick_refuses_at_start() {
    let test = "module_values_only_wick_refuses_at_start";
    let Some(lighttpd) = lighttpd_or_skip(test) else {
        return;
    };
    let cases: &[(&str, &str)] = &[
        (
            "url.redirect-code above 999",
            r#"server.modules = ( "mod_redirect" )
url.redirect = ( "^/a" => "/b" )
url.redirect-code = 1000"#,
        ),
        (
            "url.redirect-code below 100",
            r#"server.modules = ( "mod_redirect" )
url.redirect = ( "^/a" => "/b" )
url.redirect-code = 99"#,
        ),
        (
            "setenv header name with a space",
            r#"server.modules = ( "mod_setenv" )
setenv.add-response-header = ( "X Bad" => "v" )"#,
        ),
        (
            "setenv header value with a control character",
            "server.modules = ( \"mod_setenv\" )\n\
             setenv.set-request-header = ( \"X-Ok\" => \"a\u{1}b\" )",
        ),
        (
            "extforward.forwarder entry that is not an address",
            r#"server.modules = ( "mod_extforward" )
extforward.forwarder = ( "not-an-address" => "trust" )"#,
        ),
        (
            "extforward.hap-PROXY enabled",
            r#"server.modules = ( "mod_extforward" )
extforward.forwarder = ( "127.0.0.1" => "trust" )
extforward.hap-PROXY = "enable""#,
        ),
    ];
    start_refusals(test, cases, |(what, body), scratch, dir| {
        let conf = format!("server.document-root = \"{dir}/htdocs\"\n{body}\n");
        // a PROXY-protocol listener answers only after a PROXY header
        let launch = Launch {
            probe: body.contains("hap-PROXY").then(|| {
                b"PROXY TCP4 192.0.2.1 127.0.0.1 4711 80\r\nGET / HTTP/1.0\r\n\r\n".to_vec()
            }),
            ..Launch::default()
        };
        expect_only_wick_refuses(&lighttpd, what, &conf, scratch, &launch, None)
    });
}
