//! Static sites served by lighttpd and by wick from the same configuration
//! and the same files, compared request by request: status, Content-Type,
//! Content-Length, Location, Content-Range, Accept-Ranges, presence of
//! ETag and Last-Modified, and the body bytes (`compat_tests::http`).
//! `WICK_COMPAT_SHOW=1` prints a one-line summary of every exchange.
//!
//! One test per configuration; each starts its own pair of servers on
//! inherited ephemeral sockets.
//!
//! * Every test compares strictly and must pass. The edge-case tests
//!   (`mimetype_list_of_sixteen_uses_longest_suffix`, `range_requests_edge_cases`,
//!   `error_handlers_and_request_errors`, …) hold requests where wick once
//!   answered differently from lighttpd; each documents lighttpd's answer.
//! * `known_differences` pins the deliberate differences listed in
//!   KNOWN-DIFFERENCES.md, naming the entry each request relies on.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use compat_tests::Cmd;
use compat_tests::announce;
use compat_tests::http::{MTIME_HTTP, Pair, Req, put, running_as_root};

/// 1000 bytes: `0000\n0001\n…0199\n`, so any range is easy to read.
fn numbers() -> String {
    (0..200).map(|i| format!("{i:04}\n")).collect()
}

/// Writes each `(path under base, contents)`.
fn files(base: &Path, list: &[(&str, &str)]) {
    for (path, contents) in list {
        put(&base.join(path), contents);
    }
}

/// `n` filler `mimetype.assign` entries that no test file matches.
fn fillers(n: usize) -> String {
    (0..n)
        .map(|i| format!("        \".f{i:02}\" => \"application/x-f{i:02}\",\n"))
        .collect()
}

// ---------------------------------------------------------------------------
// 1. mimetype.assign: short list (first match), long list (longest suffix)

/// The file names every mimetype directory holds.
const MIME_FILES: &[&str] = &[
    "a.html",
    "b.txt",
    "c.tar.gz",
    "d.gz",
    "E.TXT",
    "F.Tar.Gz",
    "README",
    "notREADME",
    "g.unknown",
    "noext",
];

/// The directories of [`start_mime_lists`], each with its own list.
const MIME_DIRS: &[&str] = &[
    "",
    "first/",
    "catchall/",
    "fifteen/",
    "sixteen/",
    "seventeen/",
    "long-default/",
];

/// lighttpd searches a list of fewer than 16 entries top down (first
/// matching suffix, any case); from 16 entries on it looks up the longest
/// suffix: the base name, then from each `.` left to right (with and
/// without the dot), then `""`. The boundary is tested with 15, 16 and 17
/// entries whose two answers differ (`.gz` listed before `.tar.gz`;
/// `README` without a dot).
fn start_mime_lists(test: &str) -> Option<Pair> {
    let list = |n: usize, default: &str| {
        let extra = usize::from(!default.is_empty());
        format!(
            "mimetype.assign = (\n        \".gz\" => \"application/gzip\",\n        \
             \".tar.gz\" => \"application/x-tgz\",\n        \".txt\" => \"text/plain\",\n        \
             \"README\" => \"text/x-readme\",\n{}{default}    )",
            fillers(n - 4 - extra)
        )
    };
    let conf = format!(
        r#"server.document-root = "{{root}}"
mimetype.assign = (
    ".html" => "text/html",
    ".txt" => "text/plain; charset=utf-8",
    ".tar.gz" => "application/x-tgz",
    ".gz" => "application/gzip",
    "README" => "text/x-readme",
    ".css" => "text/css",
)
$HTTP["url"] =^ "/first/" {{
    mimetype.assign = (
        ".gz" => "application/gzip",
        ".tar.gz" => "application/x-tgz",
        ".txt" => "text/plain",
        "" => "application/x-default",
    )
}}
$HTTP["url"] =^ "/catchall/" {{
    mimetype.assign = ( "" => "application/x-everything", ".txt" => "text/plain" )
}}
$HTTP["url"] =^ "/fifteen/" {{
    {fifteen}
}}
$HTTP["url"] =^ "/sixteen/" {{
    {sixteen}
}}
$HTTP["url"] =^ "/seventeen/" {{
    {seventeen}
}}
$HTTP["url"] =^ "/long-default/" {{
    {long_default}
}}
$HTTP["querystring"] == "other" {{
    mimetype.assign = ( ".txt" => "text/x-other" )
}}
"#,
        fifteen = list(15, ""),
        sixteen = list(16, ""),
        seventeen = list(17, ""),
        long_default = list(20, "        \"\" => \"application/x-default\",\n"),
    );
    Pair::start(test, &conf, |dir| {
        for d in MIME_DIRS {
            for f in MIME_FILES {
                put(&dir.join("htdocs").join(d).join(f), format!("{d}{f}\n"));
            }
        }
    })
}

/// Requests of [`start_mime_lists`] where wick is wrong (see
/// `mimetype_list_of_sixteen_uses_longest_suffix`).
const MIME_SIXTEEN_BUGS: &[&str] = &["sixteen/c.tar.gz", "sixteen/F.Tar.Gz", "sixteen/notREADME"];

#[test]
fn mimetype_assign_short_and_long_lists() {
    let Some(mut pair) = start_mime_lists("mimetype_assign_short_and_long_lists") else {
        return;
    };
    for d in MIME_DIRS {
        for f in MIME_FILES {
            let path = format!("{d}{f}");
            if !MIME_SIXTEEN_BUGS.contains(&path.as_str()) {
                pair.check(Req::get(&format!("/{path}")));
            }
        }
    }
    // One file, two tables in turn (`?other` chooses the second): wick
    // answers each request by its own table; lighttpd by the type its stat
    // cache kept from the first request (KNOWN-DIFFERENCES), unless the
    // requests straddle a second (a flaky failure once, 1 run in ~10).
    const MIME_BY_REQUEST: &str =
        "KNOWN-DIFFERENCES: a file's Content-Type comes from the request's own mimetype.assign";
    for (target, first, own, own_validators) in [
        (
            "/b.txt",
            "text/plain; charset=utf-8",
            "text/plain; charset=utf-8",
            true,
        ),
        (
            "/b.txt?other",
            "text/plain; charset=utf-8",
            "text/x-other",
            true,
        ),
        (
            "/b.txt",
            "text/plain; charset=utf-8",
            "text/plain; charset=utf-8",
            true,
        ),
        (
            "/a.html?other",
            "text/html",
            "application/octet-stream",
            false,
        ),
        ("/a.html", "text/html", "text/html", true),
    ] {
        pair.check_known(Req::get(target), MIME_BY_REQUEST, |l, w| {
            // (lighttpd re-reads a file's entry when a new second has
            // begun: then it too answers by the request's own table)
            let lighttpd_cached = l.header("content-type") == Some(first) && l.has("etag");
            let lighttpd_fresh =
                l.header("content-type") == Some(own) && l.has("etag") == own_validators;
            let ok = (lighttpd_cached || lighttpd_fresh)
                && w.header("content-type") == Some(own)
                && w.has("etag") == own_validators
                && w.has("last-modified") == own_validators
                && l.body == w.body;
            ok.then_some(()).ok_or_else(|| {
                format!(
                    "expected lighttpd {first} with ETag, wick {own} (validators: {own_validators})"
                )
            })
        });
    }
    // no match: application/octet-stream without ETag / Last-Modified
    pair.check(Req::head("/g.unknown"));
    pair.check(Req::get("/g.unknown").header("If-Modified-Since", MTIME_HTTP));
    pair.finish();
}

/// lighttpd 1.4.69 (`stat_cache_mimetype_by_ext`) switches to the
/// longest-suffix lookup at `used < 16` → 16 entries already use it; wick
/// searches lists of up to 16 entries top down. With 16 entries
/// (`.gz` first, then `.tar.gz`, `README`):
/// `c.tar.gz`, `F.Tar.Gz`: lighttpd `application/x-tgz`, wick `application/gzip`;
/// `notREADME`: lighttpd `application/octet-stream` without ETag/Last-Modified,
/// wick `text/x-readme` with both.
#[test]
fn mimetype_list_of_sixteen_uses_longest_suffix() {
    let Some(mut pair) = start_mime_lists("mimetype_list_of_sixteen_uses_longest_suffix") else {
        return;
    };
    for path in MIME_SIXTEEN_BUGS {
        pair.check(Req::get(&format!("/{path}")));
    }
    pair.finish();
}

const DEBIAN_MIME_SCRIPT: &str = "/usr/share/lighttpd/create-mime.conf.pl";

/// A `mimetype.assign` entry with an empty type: the file goes as
/// `application/octet-stream` without ETag and Last-Modified (never 304),
/// as if no entry matched, and the search stops there (a later `""`
/// entry is not used); in long lists too. wick once sent an empty
/// Content-Type with validators.
#[test]
fn mimetype_empty_type() {
    let conf = format!(
        r#"server.document-root = "{{root}}"
mimetype.assign = ( ".htm" => "", ".txt" => "text/plain", "" => "text/x-default" )
$HTTP["url"] =^ "/long/" {{
    mimetype.assign = ( ".htm" => "", ".txt" => "text/plain", "" => "text/x-default",
{}    )
}}
$HTTP["url"] =^ "/catchall/" {{
    mimetype.assign = ( ".txt" => "text/plain", "" => "" )
}}
"#,
        fillers(20)
    );
    let Some(mut pair) = Pair::start("mimetype_empty_type", &conf, |dir| {
        for d in ["", "long/", "catchall/"] {
            for f in ["a.htm", "b.txt", "c.x"] {
                put(&dir.join("htdocs").join(d).join(f), numbers());
            }
        }
    }) else {
        return;
    };
    for d in ["", "long/", "catchall/"] {
        for f in ["a.htm", "b.txt", "c.x"] {
            pair.check(Req::get(&format!("/{d}{f}")));
        }
    }
    for req in [
        Req::head("/a.htm"),
        Req::get("/a.htm").header("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"),
        Req::get("/a.htm").header("If-None-Match", "*"),
        Req::get("/a.htm").header("Range", "bytes=0-9"),
        Req::get("/a.htm").header("Range", "bytes=0-9,500-509"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

/// Debian's generated list (`create-mime.conf.pl` over /etc/mime.types,
/// >1500 entries ending with a `""` default).
fn start_debian_mime(test: &str, names: &[&str]) -> Option<Pair> {
    if !Path::new(DEBIAN_MIME_SCRIPT).is_file() || !Path::new("/etc/mime.types").is_file() {
        compat_tests::skip(
            test,
            &format!(
                "{DEBIAN_MIME_SCRIPT} or /etc/mime.types is missing \
                 (Debian's lighttpd and media-types packages)"
            ),
        );
        return None;
    }
    let conf =
        format!("server.document-root = \"{{root}}\"\ninclude_shell \"{DEBIAN_MIME_SCRIPT}\"\n");
    Pair::start(test, &conf, |dir| {
        for f in names {
            put(&dir.join("htdocs").join(f), format!("{f}\n"));
        }
    })
}

#[test]
fn mimetype_assign_debian_list() {
    let names = [
        "a.html",
        "b.txt",
        "c.tar.gz",
        "d.tgz",
        "E.TXT",
        "F.TAR.GZ",
        "README",
        "sub/README",
        "notREADME",
        "g.unknownext",
        "noext",
        "h.svgz",
        "i.JPG",
        "j.mp4",
        "k.json",
        "l.js",
        "m.css",
        "n.svg",
        "o.woff2",
    ];
    let Some(mut pair) = start_debian_mime("mimetype_assign_debian_list", &names) else {
        return;
    };
    for f in names {
        pair.check(Req::get(&format!("/{f}")));
    }
    pair.finish();
}

/// In a long list lighttpd tries each extension with and without its dot:
/// for `x.README` it looks up `.README` (absent), then `README` (Debian's
/// list has it) → `text/plain;charset=utf-8`. wick skips the dot-less
/// lookup and falls back to `""` → `application/octet-stream`.
#[test]
fn mimetype_debian_dotless_extension() {
    let names = ["x.README", "y.tar.README"];
    let Some(mut pair) = start_debian_mime("mimetype_debian_dotless_extension", &names) else {
        return;
    };
    for f in names {
        pair.check(Req::get(&format!("/{f}")));
    }
    pair.finish();
}

// ---------------------------------------------------------------------------
// 2. Directories and index files

fn start_directories(test: &str) -> Option<Pair> {
    let conf = r#"server.document-root = "{root}"
mimetype.assign = ( ".html" => "text/html", ".htm" => "text/html", ".txt" => "text/plain" )
index-file.names = ( "missing.html", "index.htm", "index.html", "/fallback.html" )
$HTTP["url"] =^ "/noindex/" {
    index-file.names = ( "index.html" )
}
"#;
    Pair::start(test, conf, |dir| {
        files(
            &dir.join("htdocs"),
            &[
                ("fallback.html", "fallback from the document root\n"),
                ("d1/index.htm", "d1 index.htm\n"),
                ("d1/index.html", "d1 index.html\n"),
                ("d2/index.html", "d2 index.html\n"),
                ("d3/other.txt", "d3 has no index\n"),
                ("noindex/sub/other.txt", "no index here\n"),
                ("sp ace/index.html", "space dir\n"),
                ("deep/er/index.html", "deeper\n"),
            ],
        );
    })
}

#[test]
fn directories_and_index_files() {
    let Some(mut pair) = start_directories("directories_and_index_files") else {
        return;
    };
    for req in [
        // redirect to the slash form, query kept, encoding kept
        Req::get("/d1"),
        Req::get("/d1?x=1&y"),
        Req::get("/deep/er"),
        Req::get("/sp%20ace"),
        Req::get("/sp%20ace?a=%20b"),
        Req::get("/%64%31"),
        Req::get("/d1").http10().no_host(),
        Req::get("/d1").host("Example.ORG:8080"),
        Req::new("POST", "/d1").body(""),
        // index-file.names: first existing wins; "/fallback.html" from the root
        Req::get("/d1/"),
        Req::get("/d1/?q=1"),
        Req::head("/d1/"),
        Req::get("/d1/index.htm"),
        Req::get("/d2/"),
        Req::get("/d3/"),
        Req::get("/"),
        Req::get("/sp%20ace/"),
        // no index file: 403
        Req::get("/noindex/sub/"),
        Req::get("/noindex/sub"),
        Req::head("/noindex/sub/"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

/// The first `index-file.names` entry that exists is taken whatever it
/// is: a directory (relative or absolute name) or a FIFO there gives 403,
/// the later names are not tried, also with mod_dirlisting on. wick once
/// skipped to the next name.
#[test]
fn index_name_naming_a_directory() {
    let conf = r#"server.document-root = "{root}"
server.modules += ( "mod_dirlisting" )
mimetype.assign = ( ".html" => "text/html" )
index-file.names = ( "missing.html", "index.html", "home.html" )
$HTTP["url"] =^ "/abs/" {
    index-file.names = ( "/sub", "home.html" )
}
$HTTP["host"] == "list.example" {
    dir-listing.activate = "enable"
}
"#;
    let Some(mut pair) = Pair::start("index_name_naming_a_directory", conf, |dir| {
        let htdocs = dir.join("htdocs");
        files(
            &htdocs,
            &[
                ("d/home.html", "home of d\n"),
                ("d/index.html/inner.html", "inside\n"),
                ("plain/home.html", "home of plain\n"),
                ("abs/home.html", "home of abs\n"),
                ("sub/x.html", "x\n"),
                ("fifo/home.html", "home of fifo\n"),
            ],
        );
        let made = std::process::Command::new("mkfifo")
            .arg(htdocs.join("fifo/index.html"))
            .status()
            .expect("run mkfifo");
        assert!(made.success(), "mkfifo failed");
    }) else {
        return;
    };
    for target in ["/d/", "/plain/", "/abs/", "/fifo/"] {
        pair.check(Req::get(target));
        pair.check(Req::get(target).host("list.example"));
    }
    pair.check(Req::head("/d/"));
    pair.check(Req::new("POST", "/d/").body(""));
    pair.finish();
}

/// The redirect of a directory asked for without its `/`: lighttpd
/// encodes the decoded path again (letters, digits, `-._~!()*` stay, all
/// else is `%XX`) and drops an empty query. wick once echoed the path as
/// the client encoded it and kept a bare `?`.
#[test]
fn directory_redirect_location_encoding() {
    let conf = "server.document-root = \"{root}\"\n";
    let Some(mut pair) = Pair::start("directory_redirect_location_encoding", conf, |dir| {
        for name in [
            "a+b",
            "x!",
            "sp ace",
            "q$&'",
            "(p)*",
            "é",
            "semi;colon",
            "at@:",
            "d1",
            "t~_-.x",
            "c,=",
        ] {
            fs::create_dir_all(dir.join("htdocs").join(name)).expect("mkdir");
        }
    }) else {
        return;
    };
    for target in [
        "/a+b",
        "/a%2Bb",
        "/x%21",
        "/x!",
        "/sp%20ace",
        "/q$&'",
        "/q%24%26%27",
        "/%28p%29%2A",
        "/(p)*",
        "/%C3%A9",
        "/semi;colon",
        "/at@:",
        "/t%7E%5F%2D%2Ex",
        "/c,=",
        "/d1?",
        "/d1?a=b",
        "/d1?a%20b",
        "/d1?a+b",
        "/./d1",
        "//d1",
    ] {
        pair.check(Req::get(target));
    }
    pair.check(Req::head("/a+b?"));
    pair.finish();
}

/// `HEAD /d1` (a directory): lighttpd answers 301 with `Location` and no
/// `Content-Length`; wick adds `Content-Length: 0` (its GET answer has
/// `Content-Length: 0` like lighttpd's).
#[test]
fn head_directory_redirect() {
    let Some(mut pair) = start_directories("head_directory_redirect") else {
        return;
    };
    pair.check(Req::head("/d1"));
    pair.check(Req::head("/noindex/sub"));
    pair.finish();
}

// ---------------------------------------------------------------------------
// 3. 404, 403, path info, symlinks, lower-case file names

/// `server.username`/`server.groupname` for running as root: an account
/// both servers can drop to so that a mode-000 file is unreadable.
fn unprivileged_account() -> Option<(&'static str, &'static str)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    let group = fs::read_to_string("/etc/group").ok()?;
    let has = |text: &str, name: &str| text.lines().any(|l| l.starts_with(&format!("{name}:")));
    if !has(&passwd, "nobody") {
        return None;
    }
    ["nogroup", "nobody"]
        .into_iter()
        .find(|g| has(&group, g))
        .map(|g| ("nobody", g))
}

/// Makes the tree readable for an unprivileged server whatever the umask.
fn open_up(path: &Path) {
    let meta = fs::symlink_metadata(path).expect("stat scratch entry");
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = if meta.is_dir() { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod scratch entry");
    if meta.is_dir() {
        for entry in fs::read_dir(path).expect("list scratch dir") {
            open_up(&entry.expect("scratch dir entry").path());
        }
    }
}

/// The unreadable-file case needs either a non-root run or an account to
/// drop to; `None` means that case is skipped (announced).
fn start_paths(test: &str) -> Option<(Pair, bool)> {
    let root = running_as_root();
    let account = if root { unprivileged_account() } else { None };
    let unreadable_case = !root || account.is_some();
    let user = match account {
        Some((u, g)) => format!("server.username = \"{u}\"\nserver.groupname = \"{g}\"\n"),
        None => String::new(),
    };
    let conf = format!(
        r#"server.document-root = "{{root}}"
{user}mimetype.assign = ( ".txt" => "text/plain", ".html" => "text/html", ".inc" => "text/plain" )
static-file.exclude-extensions = ( ".inc", "~" )
$HTTP["url"] =^ "/nopi/" {{
    static-file.disable-pathinfo = "enable"
}}
$HTTP["url"] =^ "/nolink/" {{
    server.follow-symlink = "disable"
}}
$HTTP["host"] == "lower.example" {{
    server.force-lowercase-filenames = "enable"
}}
"#
    );
    let pair = Pair::start(test, &conf, |dir| {
        let htdocs = dir.join("htdocs");
        files(
            &htdocs,
            &[
                ("a.txt", "plain a\n"),
                ("secret.inc", "excluded by extension\n"),
                ("backup.txt~", "excluded by suffix\n"),
                ("nopi/b.txt", "no path info\n"),
                ("nolink/real.txt", "real file\n"),
                ("mixed/lower.txt", "lower-case name\n"),
                ("unreadable.txt", "mode 000\n"),
            ],
        );
        std::os::unix::fs::symlink("a.txt", htdocs.join("link.txt")).expect("symlink");
        std::os::unix::fs::symlink("../a.txt", htdocs.join("nolink/link.txt")).expect("symlink");
        std::os::unix::fs::symlink("../nopi", htdocs.join("nolink/dirlink")).expect("symlink");
        if account.is_some() {
            open_up(dir);
        }
        fs::set_permissions(
            htdocs.join("unreadable.txt"),
            fs::Permissions::from_mode(0o000),
        )
        .expect("chmod 000");
    })?;
    match (root, account) {
        (true, Some((u, _))) => announce(&format!(
            "compat-tests: {test}: running as root; both servers drop to \
             server.username = \"{u}\" so that the mode-000 file is unreadable"
        )),
        (true, None) => announce(&format!(
            "compat-tests: {test}: running as root without a `nobody` account: \
             the mode-000 file case is SKIPPED (root reads it anyway)"
        )),
        _ => {}
    }
    Some((pair, unreadable_case))
}

#[test]
fn missing_forbidden_pathinfo_symlinks() {
    let Some((mut pair, unreadable_case)) = start_paths("missing_forbidden_pathinfo_symlinks")
    else {
        return;
    };
    for req in [
        Req::get("/missing.txt"),
        Req::get("/missing/deeper.txt"),
        Req::head("/missing.txt"),
        Req::get("/a.txt"),
        // static-file.exclude-extensions (suffixes, not only extensions)
        Req::get("/secret.inc"),
        Req::get("/backup.txt~"),
        // path info
        Req::get("/a.txt/extra"),
        Req::get("/a.txt/extra/more.html"),
        Req::get("/nopi/b.txt"),
        // symlinks
        Req::get("/link.txt"),
        Req::get("/nolink/real.txt"),
        Req::get("/nolink/link.txt"),
        // server.force-lowercase-filenames
        Req::get("/MIXED/Lower.TXT").host("lower.example"),
        Req::get("/mixed/lower.txt").host("lower.example"),
        Req::get("/MIXED/Lower.TXT"),
    ] {
        pair.check(req);
    }
    if unreadable_case {
        pair.check(Req::get("/unreadable.txt"));
    }
    pair.finish();
}

/// `static-file.disable-pathinfo = "enable"`, `GET /nopi/b.txt/extra`:
/// lighttpd 403 (mod_staticfile declines a request with path info, the
/// file exists, nothing else handles it), wick 404.
/// `server.follow-symlink = "disable"`, `GET /nolink/dirlink/b.txt` where
/// `nolink/dirlink` is a symlink to a directory: lighttpd 403 (it checks
/// every path component); wick once checked only the last component, so
/// the restriction could be bypassed through a linked directory.
#[test]
fn pathinfo_and_symlinked_directory() {
    let Some((mut pair, _)) = start_paths("pathinfo_and_symlinked_directory") else {
        return;
    };
    pair.check(Req::get("/nopi/b.txt/extra"));
    pair.check(Req::get("/nolink/dirlink/b.txt"));
    pair.finish();
}

/// `server.follow-symlink = "disable"` refuses (403) whatever exists
/// behind a symlink anywhere on its physical path: a document root that
/// is itself a symlink (or lies below one), an alias target below one, a
/// linked directory asked for without its `/` (no redirect), a linked
/// directory whose absolute index file is real. A missing file stays 404.
/// wick once checked only below the document root and after redirecting
/// directories.
#[test]
fn follow_symlink_checks_whole_physical_path() {
    let conf = r#"server.document-root = "{root}"
server.modules += ( "mod_alias" )
mimetype.assign = ( ".txt" => "text/plain", ".html" => "text/html" )
index-file.names = ( "index.html" )
$HTTP["url"] =^ "/nolink/" {
    server.follow-symlink = "disable"
}
$HTTP["url"] =^ "/al/" {
    alias.url = ( "/al/" => "{dir}/rootlink/" )
    server.follow-symlink = "disable"
}
$HTTP["host"] == "linked.example" {
    server.document-root = "{dir}/rootlink"
    server.follow-symlink = "disable"
}
$HTTP["host"] == "above.example" {
    server.document-root = "{dir}/above/htdocs"
    server.follow-symlink = "disable"
}
$HTTP["host"] == "absindex.example" {
    index-file.names = ( "missing.html", "/a.txt" )
}
"#;
    let Some(mut pair) = Pair::start("follow_symlink_checks_whole_physical_path", conf, |dir| {
        let htdocs = dir.join("htdocs");
        files(
            &htdocs,
            &[
                ("a.txt", "plain a\n"),
                ("d/index.html", "index of d\n"),
                ("d/b.txt", "b in d\n"),
                ("nolink/real.txt", "real file\n"),
                ("nolink/sub/index.html", "index of sub\n"),
                ("nolink/sub/c.txt", "c in sub\n"),
            ],
        );
        let link = |to: &Path, at: &Path| std::os::unix::fs::symlink(to, at).expect("symlink");
        link(Path::new("htdocs"), &dir.join("rootlink"));
        link(Path::new("."), &dir.join("above"));
        link(Path::new("sub"), &htdocs.join("nolink/dl"));
        link(Path::new("real.txt"), &htdocs.join("nolink/lf.txt"));
        link(Path::new("a.txt"), &htdocs.join("la.txt"));
        link(Path::new("d"), &htdocs.join("ld"));
    }) else {
        return;
    };
    for host in ["linked.example", "above.example"] {
        for target in [
            "/a.txt",
            "/d",
            "/d/",
            "/d/index.html",
            "/d/b.txt/extra",
            "/missing",
        ] {
            pair.check(Req::get(target).host(host));
        }
        pair.check(Req::head("/d").host(host));
    }
    for req in [
        Req::get("/al/a.txt"),
        Req::get("/al/d"),
        Req::get("/al/missing"),
        Req::get("/nolink/real.txt"),
        Req::get("/nolink/lf.txt"),
        Req::get("/nolink/lf.txt/extra"),
        Req::get("/nolink/dl"),
        Req::head("/nolink/dl"),
        Req::get("/nolink/dl/"),
        Req::get("/nolink/dl/c.txt"),
        Req::get("/nolink/dl/missing"),
        Req::get("/nolink/dl/").host("absindex.example"),
        Req::get("/nolink/sub/").host("absindex.example"),
        Req::get("/nolink/sub"),
        // followed where the setting is left on
        Req::get("/la.txt"),
        Req::get("/ld/"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

// ---------------------------------------------------------------------------
// 4. Conditional requests, 5. ranges

fn start_ranges(test: &str) -> Option<Pair> {
    let conf = r#"server.document-root = "{root}"
mimetype.assign = ( ".txt" => "text/plain", ".html" => "text/html" )
$HTTP["url"] =^ "/norange/" {
    server.range-requests = "disable"
}
"#;
    let mut pair = Pair::start(test, conf, |dir| {
        let htdocs = dir.join("htdocs");
        put(&htdocs.join("n.txt"), numbers());
        put(&htdocs.join("norange/n.txt"), numbers());
        put(&htdocs.join("n.unknown"), numbers());
        // larger than wick's read-at-once limit (256 KiB): streamed
        let big: String = (0..30_000).map(|i| format!("{i:09}\n")).collect();
        put(&htdocs.join("big.unknown"), &big);
        put(&htdocs.join("big.txt"), big);
        put(&htdocs.join("empty.txt"), "");
    })?;
    pair.learn("{etag}", &Req::head("/n.txt"), "etag");
    Some(pair)
}

const OLDER: &str = "Tue, 31 Dec 2019 23:59:59 GMT";
const NEWER: &str = "Thu, 02 Jan 2020 00:00:00 GMT";

#[test]
fn conditional_requests() {
    let Some(mut pair) = start_ranges("conditional_requests") else {
        return;
    };
    let get = || Req::get("/n.txt");
    for req in [
        // If-None-Match
        get().header("If-None-Match", "{etag}"),
        get().header("If-None-Match", "\"nope\", {etag}"),
        get().header("If-None-Match", "*"),
        get().header("If-None-Match", "\"nope\""),
        get().header("If-None-Match", "W/{etag}"),
        Req::head("/n.txt").header("If-None-Match", "{etag}"),
        // If-Modified-Since: equal, older, newer, garbage, other date forms
        get().header("If-Modified-Since", MTIME_HTTP),
        get().header("If-Modified-Since", OLDER),
        get().header("If-Modified-Since", NEWER),
        get().header("If-Modified-Since", "yesterday"),
        get().header("If-Modified-Since", "Wednesday, 01-Jan-20 00:00:00 GMT"),
        get().header("If-Modified-Since", "Wed Jan  1 00:00:00 2020"),
        get().header("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"),
        get().header(
            "If-Modified-Since",
            "Wed, 01 Jan 2020 00:00:00 GMT; length=1000",
        ),
        Req::head("/n.txt").header("If-Modified-Since", MTIME_HTTP),
        // both: If-None-Match decides
        get()
            .header("If-None-Match", "\"nope\"")
            .header("If-Modified-Since", MTIME_HTTP),
        get()
            .header("If-None-Match", "{etag}")
            .header("If-Modified-Since", OLDER),
        // a type mimetype.assign does not know: no validators, never 304
        Req::get("/n.unknown").header("If-Modified-Since", MTIME_HTTP),
        Req::get("/n.unknown").header("If-None-Match", "*"),
        Req::get("/missing.txt").header("If-None-Match", "*"),
        Req::head("/n.txt"),
        Req::get("/n.txt"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

/// `If-Modified-Since` read as lighttpd reads dates (wick once took only
/// well-formed dates with the right weekday): IMF-fixdate exactly,
/// RFC 850 and asctime with anything after them; weekday names checked
/// but not against the date; numbers out of range normalised
/// (`24:00:00`, day 32); two-digit years up to 50 years ahead.
#[test]
fn if_modified_since_as_lighttpd() {
    let Some(mut pair) = start_ranges("if_modified_since_as_lighttpd") else {
        return;
    };
    for value in [
        "Thu, 01 Jan 2020 00:00:00 GMT",
        "Sat, 01 Jan 2020 00:00:00 GMT",
        "Wed, 01 Jan 2020 24:00:00 GMT",
        "Wed, 32 Dec 2019 00:00:00 GMT",
        "Tue, 31 Dec 2019 24:00:00 GMT",
        "Tue, 31 Dec 2019 23:59:60 GMT",
        "Tue, 31 Dec 2019 23:59:59 GMT",
        "Wed, 00 Jan 2020 00:00:00 GMT",
        "Sun, 30 Feb 2020 00:00:00 GMT",
        "Mon, 99 Dec 2019 00:00:00 GMT",
        "Wed, 01 Jan 2020 99:99:99 GMT",
        "wed, 01 Jan 2020 00:00:00 GMT",
        "Abc, 01 Jan 2020 00:00:00 GMT",
        "Wed, 01 jan 2020 00:00:00 GMT",
        "Wed, 1 Jan 2020 00:00:00 GMT",
        "Wed, 01 Jan 2020 00:00:00 gmt",
        "Wed, 01 Jan 2020 00:00:00 GMTx",
        "Wed, 01 Jan 2020 0:0:0 GMT",
        "Wed, 01 Jan 9999 00:00:00 GMT",
        "Wednesday, 01-Jan-20 00:00:00 GMT",
        "Monday, 01-Jan-20 00:00:00 GMT",
        "Wednesdax, 01-Jan-20 00:00:00 GMT",
        "Wedn, 01-Jan-20 00:00:00 GMT",
        "Wed, 01-Jan-20 00:00:00 GMT",
        "Wednesday, 01-Jan-20 00:00:00 GMT x",
        "Wednesday, 01-Jan-20x00:00:00 GMT",
        "Wednesday, 99-Jan-19 00:00:00 GMT",
        "Wednesday, 01-Jan-21 00:00:00 GMT",
        "Wednesday, 01-Jan-69 00:00:00 GMT",
        "Wednesday, 01-Jan-99 00:00:00 GMT",
        "Wed Jan 01 00:00:00 2020",
        "Wed Jan 1 00:00:00 2020",
        "Mon Jan 10 00:00:00 2020",
        "Wed Dec 31 24:00:00 2019",
        "Wed Jan  1 00:00:00 2020 GMT",
        "Wed Jan  1 00:00:00  2020",
        "wed Jan  1 00:00:00 2020",
    ] {
        pair.check(Req::get("/n.txt").header("If-Modified-Since", value));
    }
    pair.finish();
}

/// Files last modified before 1970: lighttpd dates them as they are
/// (Last-Modified, If-Modified-Since, If-Range); wick once sent 1 January
/// 1970 for all of them.
#[test]
fn files_from_before_1970() {
    let conf = r#"server.document-root = "{root}"
mimetype.assign = ( ".txt" => "text/plain" )
"#;
    let before = |secs: u64| std::time::UNIX_EPOCH - Duration::from_secs(secs);
    let Some(mut pair) = Pair::start("files_from_before_1970", conf, |dir| {
        for (name, when) in [
            ("1960.txt", before(301_233_600)),
            ("1901.txt", before(2_147_483_648)),
            ("1970.txt", std::time::UNIX_EPOCH),
            ("second-before.txt", before(1)),
        ] {
            let path = dir.join("htdocs").join(name);
            put(&path, numbers());
            fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(when))
                .expect("set a file's time");
        }
    }) else {
        return;
    };
    for name in ["/1960.txt", "/1901.txt", "/1970.txt"] {
        pair.check(Req::get(name).also("last-modified"));
    }
    let old = || Req::get("/1960.txt").also("last-modified");
    for ims in [
        "Wed, 15 Jun 1960 12:00:00 GMT",
        "Wed, 15 Jun 1960 11:59:59 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Wednesday, 15-Jun-60 12:00:00 GMT",
    ] {
        pair.check(old().header("If-Modified-Since", ims));
    }
    pair.check(Req::get("/1970.txt").header("If-Modified-Since", "Wed, 31 Dec 1969 23:59:59 GMT"));
    // One second before 1970, lighttpd's error value for a time: its
    // Last-Modified line is 29 NUL bytes; wick writes the date.
    pair.check_known(
        Req::get("/second-before.txt"),
        "KNOWN-DIFFERENCES: a file dated one second before 1970 has its date as Last-Modified",
        |l, w| {
            let ok = l.header("last-modified") == Some(&"\0".repeat(29))
                && w.header("last-modified") == Some("Wed, 31 Dec 1969 23:59:59 GMT")
                && l.status == w.status
                && l.body == w.body;
            ok.then_some(())
                .ok_or_else(|| "expected 29 NUL bytes from lighttpd, the date from wick".into())
        },
    );
    pair.check(
        Req::get("/second-before.txt").header("If-Modified-Since", "Wed, 31 Dec 1969 23:59:59 GMT"),
    );
    for if_range in [
        "Wed, 15 Jun 1960 12:00:00 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",
    ] {
        pair.check(
            old()
                .header("Range", "bytes=0-9")
                .header("If-Range", if_range),
        );
    }
    pair.finish();
}

/// A client that half-closes (TCP FIN) right after its requests, as
/// `printf … | nc -N` does, still gets every response (lighttpd takes the
/// FIN as a half-close). Repeated: wick once dropped such a request
/// whenever it read the EOF before it had answered (a race). (Files of a
/// type mimetype.assign does not know: no ETag, which a session compares.)
#[test]
fn half_closed_clients() {
    let Some(mut pair) = start_ranges("half_closed_clients") else {
        return;
    };
    for i in 1..=5 {
        pair.check_session_half_closed(&format!("GET, then FIN ({i})"), &[Req::get("/n.unknown")]);
    }
    pair.check_session_half_closed(
        "three pipelined, then FIN",
        &[
            Req::get("/n.unknown").keep_alive(),
            Req::get("/n.unknown")
                .keep_alive()
                .header("Range", "bytes=0-9"),
            Req::get("/big.unknown").keep_alive(),
        ],
    );
    pair.finish();
}

/// One file asked for under conditions that change its headers, one after
/// another on one server: each response has its own block's `Server`,
/// response headers, ETag and ranges (wick keeps a file's usual headers
/// with the file, and must not hand them to a request they do not fit).
#[test]
fn one_file_under_several_conditions() {
    let conf = r#"server.document-root = "{root}"
server.modules += ( "mod_setenv" )
server.tag = "compat-tests"
mimetype.assign = ( ".txt" => "text/plain" )
$HTTP["host"] == "tag.example" { server.tag = "other-tag" }
$HTTP["host"] == "notag.example" { server.tag = "" }
$HTTP["host"] == "env.example" { setenv.add-response-header = ( "X-Env" => "1" ) }
$HTTP["host"] == "inode.example" { etag.use-inode = "disable" }
$HTTP["host"] == "noetag.example" { static-file.etags = "disable" }
$HTTP["host"] == "norange.example" { server.range-requests = "disable" }
"#;
    let Some(mut pair) = Pair::start("one_file_under_several_conditions", conf, |dir| {
        put(&dir.join("htdocs/n.txt"), numbers());
    }) else {
        return;
    };
    let hosts = [
        "example.org",
        "tag.example",
        "notag.example",
        "env.example",
        "inode.example",
        "noetag.example",
        "norange.example",
    ];
    for round in 0..2 {
        for host in hosts {
            let get = || Req::get("/n.txt").host(host).also("server");
            pair.check(get());
            pair.check(get().header("If-Modified-Since", MTIME_HTTP));
            pair.check(get().header("Range", "bytes=2-5"));
            if round == 1 {
                pair.check(Req::head("/n.txt").host(host).also("server"));
            }
        }
    }
    pair.finish();
}

#[test]
fn range_requests() {
    let Some(mut pair) = start_ranges("range_requests") else {
        return;
    };
    let get = || Req::get("/n.txt");
    for req in [
        // single, suffix, open-ended, clipped
        get().header("Range", "bytes=0-9"),
        get().header("Range", "bytes=-10"),
        get().header("Range", "bytes=990-"),
        get().header("Range", "bytes=995-2000"),
        get().header("Range", "bytes=0-"),
        // merged: gap 79 merges, gap 80 does not; overlaps merge
        get().header("Range", "bytes=0-9,50-59"),
        get().header("Range", "bytes=0-9,89-99"),
        get().header("Range", "bytes=0-9,90-99"),
        get().header("Range", "bytes=0-50,20-30"),
        get().header("Range", "bytes=0-9, 20-29"),
        get().header("Range", "bytes=0-9,200-209,20-29"),
        // multipart/byteranges, exact bytes (lighttpd's boundary)
        get().header("Range", "bytes=0-9,200-209"),
        get().header("Range", "bytes=0-0,-1"),
        Req::get("/n.unknown").header("Range", "bytes=0-9,200-209"),
        // unsatisfiable / malformed
        get().header("Range", "bytes=1000-"),
        get().header("Range", "bytes=2000-3000"),
        get().header("Range", "bytes=5-2"),
        get().header("Range", "bytes=abc"),
        get().header("Range", "bytes=-0"),
        // If-Range
        get()
            .header("Range", "bytes=0-9")
            .header("If-Range", "{etag}"),
        get()
            .header("Range", "bytes=0-9")
            .header("If-Range", "\"nope\""),
        get()
            .header("Range", "bytes=0-9")
            .header("If-Range", "W/{etag}"),
        get()
            .header("Range", "bytes=0-9")
            .header("If-Range", MTIME_HTTP),
        get().header("Range", "bytes=0-9").header("If-Range", OLDER),
        // a matching If-None-Match wins over Range
        get()
            .header("Range", "bytes=0-9")
            .header("If-None-Match", "{etag}"),
        // server.range-requests = "disable"; a type without validators
        Req::get("/norange/n.txt").header("Range", "bytes=0-9"),
        Req::get("/norange/n.txt"),
        Req::get("/n.unknown").header("Range", "bytes=0-9"),
        // a streamed file: ranges across the 64 KiB chunks
        Req::get("/big.txt"),
        Req::head("/big.txt"),
        Req::get("/big.txt").header("Range", "bytes=65530-65545"),
        Req::get("/big.txt").header("Range", "bytes=-20"),
        Req::get("/big.txt").header("Range", "bytes=0-4,100000-100009,299990-"),
        Req::get("/empty.txt"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

/// Where lighttpd's `http_range_rfc7233` ignores `Range` and wick does not,
/// or wick orders parts differently:
/// * several ranges out of order: lighttpd sends the parts in request
///   order (`500-509` first; a later range close to an earlier one is
///   merged into it in place), wick sorts them (same length, other bytes);
/// * a unit other than `bytes=`: lighttpd 200 with the whole file, wick 416;
/// * HEAD with Range: lighttpd 200 with `Content-Length: 1000`, wick 206
///   (or 416 for an unsatisfiable range);
/// * an HTTP/1.0 request with Range: lighttpd 200, no `Accept-Ranges`,
///   wick 206 with `Accept-Ranges: bytes`;
/// * an empty file with Range: lighttpd 200 (empty body), wick 416.
#[test]
fn range_requests_edge_cases() {
    let Some(mut pair) = start_ranges("range_requests_edge_cases") else {
        return;
    };
    let get = || Req::get("/n.txt");
    for req in [
        get().header("Range", "bytes=500-509,0-9"),
        get().header("Range", "bytes=200-209,0-9,20-29"),
        get().header("Range", "items=0-9"),
        Req::head("/n.txt").header("Range", "bytes=0-9"),
        Req::head("/n.txt").header("Range", "bytes=5000-"),
        get().http10().header("Range", "bytes=0-9"),
        get().http10(),
        Req::get("/empty.txt").header("Range", "bytes=0-0"),
        Req::get("/empty.txt").header("Range", "bytes=-5"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

/// How lighttpd reads each part of `Range: bytes=…` (wick once answered
/// 200 to a unit not in lower case and 416 to any header with one bad
/// part): the unit in any case; a malformed or unsatisfiable part dropped
/// while the others are served (all of them bad: 416); `+` signs and
/// blanks around numbers; `-0` as the number 0; 2^63 - 1 as an end is
/// malformed; the first ten valid parts are served, merged afterwards.
#[test]
fn range_parts_as_lighttpd() {
    let Some(mut pair) = start_ranges("range_parts_as_lighttpd") else {
        return;
    };
    let spaced = |from: u64, n: u64, gap: u64| {
        (from..from + n)
            .map(|i| format!("{}-{}", i * gap, i * gap))
            .collect::<Vec<_>>()
            .join(",")
    };
    let many = [
        format!("bytes={}", spaced(0, 12, 90)),
        format!("bytes=abc,{}", spaced(0, 11, 90)),
        format!(
            "bytes={},abc,2000-,5-2,-0,950-950,960-960",
            spaced(0, 9, 90)
        ),
        format!("bytes={},5-5,10-10,810-810", spaced(0, 9, 90)),
        format!("bytes={}", spaced(0, 12, 5)),
    ];
    let headers = [
        "Bytes=0-9",
        "BYTES=0-9",
        "bytes =0-9",
        "bytes=0-9,abc",
        "bytes=abc,0-9",
        "bytes=abc,def",
        "bytes=0-9,5-2",
        "bytes=5-2,200-209,0-9",
        "bytes=1000-,0-9",
        "bytes=1000-,2000-",
        "bytes=0-9,-,20-29",
        "bytes=+5-9",
        "bytes=5- +9",
        "bytes=-+5",
        "bytes=- 5",
        "bytes=0 - 9",
        "bytes=0-9 x",
        "bytes=5-9x",
        "bytes=-0-5",
        "bytes=-0",
        "bytes=-0,0-9",
        "bytes=0-9223372036854775806",
        "bytes=0-9223372036854775807",
        "bytes=0-9223372036854775807,0-3",
        "bytes=-9223372036854775808",
        "bytes=99999999999999999999-,0-3",
        "bytes=",
    ];
    for h in headers
        .iter()
        .copied()
        .chain(many.iter().map(String::as_str))
    {
        pair.check(Req::get("/n.txt").header("Range", h));
    }
    pair.check(Req::get("/big.txt").header("Range", "BYTES=0-4,abc,299990-"));
    pair.finish();
}

/// `If-Range` is compared byte for byte with the validator lighttpd sends:
/// the file's own Last-Modified line gives 206, the same instant in
/// RFC 850 or asctime form (or in lower case) the whole file; an empty
/// `If-Range` is no condition (206), also for a type without validators.
/// wick once parsed dates (206 for any form) and took an empty value as
/// a mismatch.
#[test]
fn if_range_compared_byte_for_byte() {
    let Some(mut pair) = start_ranges("if_range_compared_byte_for_byte") else {
        return;
    };
    for value in [
        MTIME_HTTP,
        "Wednesday, 01-Jan-20 00:00:00 GMT",
        "Wed Jan  1 00:00:00 2020",
        "Wed, 01 Jan 2020 00:00:00 gmt",
        "Thu, 01 Jan 2020 00:00:00 GMT",
        "Wed, 01 Jan 2020 00:00:00",
        "",
        "garbage",
        "{etag}",
        "*",
    ] {
        pair.check(
            Req::get("/n.txt")
                .header("Range", "bytes=0-9")
                .header("If-Range", value),
        );
    }
    for value in [MTIME_HTTP, "", "\"x\""] {
        pair.check(
            Req::get("/n.unknown")
                .header("Range", "bytes=0-9")
                .header("If-Range", value),
        );
    }
    pair.finish();
}

/// POST to a static file: lighttpd serves it without `Accept-Ranges` (and
/// ignores Range); wick adds `Accept-Ranges: bytes`. POST with a matching
/// `If-None-Match`: lighttpd 412 Precondition Failed (its standard page,
/// 361 bytes), wick 200 with the file.
#[test]
fn post_to_static_file() {
    let Some(mut pair) = start_ranges("post_to_static_file") else {
        return;
    };
    for req in [
        Req::new("POST", "/n.txt").body("a=b"),
        Req::new("POST", "/n.txt")
            .header("Range", "bytes=0-9")
            .body(""),
        Req::new("POST", "/n.txt")
            .header("If-Modified-Since", MTIME_HTTP)
            .body(""),
        Req::new("POST", "/n.txt")
            .header("If-None-Match", "{etag}")
            .body(""),
    ] {
        pair.check(req);
    }
    // A body no module reads: answered without waiting for it (no
    // `100 Continue`), then the connection closes, even when the body
    // came with the head. (Missing files: sessions compare whole answers,
    // and the two servers' ETags of a file differ.)
    let head = |method: &str, extra: &str| {
        format!(
            "{method} /missing.txt HTTP/1.1\r\nHost: example.org\r\n{extra}Content-Length: 5\r\n\r\n"
        )
    };
    let next = Req::get("/missing.txt");
    for (label, first) in [
        ("body still to come", head("POST", "")),
        (
            "body still to come, Expect",
            head("POST", "Expect: 100-continue\r\n"),
        ),
        ("body with the head", head("POST", "") + "hello"),
        (
            "PUT (501), body still to come",
            head("PUT", "Expect: 100-continue\r\n"),
        ),
    ] {
        pair.check_session(
            &format!("unread body: {label}"),
            &[Req::raw("POST", first), next.clone()],
            false,
        );
    }
    pair.check_session(
        "unread body: OPTIONS *",
        &[
            Req::raw(
                "OPTIONS",
                "OPTIONS * HTTP/1.1\r\nHost: example.org\r\nContent-Length: 2\r\n\r\nab",
            ),
            next.clone(),
        ],
        false,
    );
    pair.finish();
}

// ---------------------------------------------------------------------------
// 6. Methods and the standard error pages

fn start_methods(test: &str) -> Option<Pair> {
    let conf = r#"server.document-root = "{root}"
mimetype.assign = ( ".txt" => "text/plain", ".inc" => "text/plain" )
static-file.exclude-extensions = ( ".inc" )
"#;
    Pair::start(test, conf, |dir| {
        files(
            &dir.join("htdocs"),
            &[("a.txt", "plain a\n"), ("x.inc", "excluded\n")],
        );
    })
}

#[test]
fn methods_and_standard_error_pages() {
    let Some(mut pair) = start_methods("methods_and_standard_error_pages") else {
        return;
    };
    for req in [
        // POST without length: 411; with a body to a missing file: 404
        Req::new("POST", "/a.txt"),
        Req::new("POST", "/missing.txt").body("x"),
        // GET with a body: 400
        Req::get("/a.txt").body("x"),
        // 501
        Req::new("PUT", "/a.txt").body("new"),
        Req::new("DELETE", "/a.txt"),
        Req::new("FOO", "/a.txt"),
        Req::new("get", "/a.txt"),
        Req::new("PROPFIND", "/a.txt"),
        Req::new("TRACE", "/a.txt"),
        Req::new("CONNECT", "example.org:443"),
        Req::new("CONNECT", "127.0.0.1:443"),
        Req::new("CONNECT", "/a.txt"),
        Req::new("CONNECT", "http://example.org/a.txt"),
        // OPTIONS
        Req::new("OPTIONS", "*").also("allow"),
        Req::new("OPTIONS", "/missing.txt").also("allow"),
        // the standard error page, by status
        Req::get("/missing.txt"),
        Req::get("/x.inc"),
        Req::get("/a.txt").header("Range", "bytes=5000-"),
        Req::head("/missing.txt"),
        Req::head("/x.inc"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

/// `OPTIONS /a.txt`: lighttpd 200 with `Allow: OPTIONS, GET, HEAD, POST`
/// and `Content-Length: 0` (as for `OPTIONS *`); wick 501 with the error
/// page. POST to a file (with a body, empty, chunked): lighttpd sends no
/// `Accept-Ranges`, wick does.
#[test]
fn options_and_post() {
    let Some(mut pair) = start_methods("options_and_post") else {
        return;
    };
    for req in [
        Req::new("OPTIONS", "/a.txt").also("allow"),
        Req::new("POST", "/a.txt").body("name=value"),
        Req::new("POST", "/a.txt").body(""),
        Req::new("POST", "/a.txt").chunked(b"hello"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

/// OPTIONS of what exists is answered 200 with `Allow` even where GET is
/// refused: a directory without an index file (also in absolute form), a
/// file of an excluded extension, an index file of an excluded extension,
/// path info under `static-file.disable-pathinfo`, a directory whose
/// index file is a symlink under `server.follow-symlink = "disable"`.
/// What is missing stays 404, a directory without its `/` is redirected,
/// a refused symlink stays 403, mod_access still denies. wick once
/// answered these with 403.
#[test]
fn options_where_get_is_refused() {
    let conf = r#"server.document-root = "{root}"
server.modules += ( "mod_access" )
mimetype.assign = ( ".txt" => "text/plain", ".html" => "text/html", ".inc" => "text/plain" )
index-file.names = ( "index.html", "index.inc" )
static-file.exclude-extensions = ( ".inc" )
$HTTP["url"] =^ "/nopi/" {
    static-file.disable-pathinfo = "enable"
}
$HTTP["url"] =^ "/nolink/" {
    server.follow-symlink = "disable"
}
$HTTP["url"] =^ "/denied/" {
    url.access-deny = ( ".txt" )
}
"#;
    let Some(mut pair) = Pair::start("options_where_get_is_refused", conf, |dir| {
        let htdocs = dir.join("htdocs");
        files(
            &htdocs,
            &[
                ("a.txt", "plain a\n"),
                ("x.inc", "excluded\n"),
                ("noindex/b.txt", "b\n"),
                ("incindex/index.inc", "excluded index\n"),
                ("nopi/b.txt", "no path info\n"),
                ("nolink/real.txt", "real\n"),
                ("denied/c.txt", "denied\n"),
            ],
        );
        fs::create_dir_all(htdocs.join("nolink/idx")).expect("mkdir");
        let link = |to: &str, at: &Path| std::os::unix::fs::symlink(to, at).expect("symlink");
        link("../real.txt", &htdocs.join("nolink/idx/index.html"));
        link("real.txt", &htdocs.join("nolink/lf.txt"));
    }) else {
        return;
    };
    let options = |target: &str| Req::new("OPTIONS", target).also("allow");
    for target in [
        "/",
        "/noindex/",
        "http://example.org/",
        "http://example.org/noindex/",
        "/x.inc",
        "/incindex/",
        "/nopi/b.txt/extra",
        "/nolink/idx/",
        "/a.txt/extra",
        "/noindex",
        "/missing",
        "http://example.org/missing",
        "/missing/deeper",
        "/nolink/lf.txt",
        "/nolink/lf.txt/extra",
        "/denied/c.txt",
    ] {
        pair.check(options(target));
    }
    for target in [
        "/noindex/",
        "/x.inc",
        "/incindex/",
        "/nopi/b.txt/extra",
        "/nolink/idx/",
    ] {
        pair.check(Req::get(target));
    }
    pair.finish();
}

// ---------------------------------------------------------------------------
// 7. Conditions choosing the document root

#[test]
fn conditions_choose_document_root() {
    let conf = r#"server.document-root = "{dir}/default"
mimetype.assign = ( ".txt" => "text/plain" )
$HTTP["host"] == "a.example" {
    server.document-root = "{dir}/host-a"
}
else $HTTP["host"] =~ "^b\.example(:[0-9]+)?$" {
    server.document-root = "{dir}/host-b"
}
else $HTTP["host"] == "c.example:8080" {
    server.document-root = "{dir}/host-c-port"
}
else $HTTP["host"] == "n.example" {
    $HTTP["url"] =^ "/deep/" {
        server.document-root = "{dir}/nested"
    }
}
$HTTP["url"] =~ "^/alt1/|^/alt2/" {
    server.document-root = "{dir}/url-alt"
}
$HTTP["url"] =~ "^/dot.x/" {
    server.document-root = "{dir}/url-dot"
}
$HTTP["url"] =~ "(?i)^/ci/" {
    server.document-root = "{dir}/url-ci"
}
$HTTP["url"] =^ "/pre/" {
    server.document-root = "{dir}/url-prefix"
}
$HTTP["url"] =~ "^/re/" {
    server.document-root = "{dir}/url-regex"
}
$HTTP["url"] =~ "\.txt$" {
    $HTTP["url"] =~ "^/suffix/" {
        server.document-root = "{dir}/url-suffix"
    }
}
$HTTP["url"] =^ "/neg/" {
    $HTTP["url"] !~ "^/neg/keep" {
        server.document-root = "{dir}/url-not"
    }
}
$HTTP["url"] == "/exact.txt" {
    server.document-root = "{dir}/exact"
}
$HTTP["url"] =^ "/ip1/" {
    $HTTP["remoteip"] == "127.0.0.1" {
        server.document-root = "{dir}/ip-exact"
    }
}
$HTTP["url"] =^ "/ip2/" {
    $HTTP["remoteip"] == "127.0.0.0/8" {
        server.document-root = "{dir}/ip-cidr"
    }
}
$HTTP["url"] =^ "/ip3/" {
    $HTTP["remoteip"] == "10.0.0.0/8" {
        server.document-root = "{dir}/ip-other"
    }
    else $HTTP["remoteip"] != "192.168.0.0/16" {
        server.document-root = "{dir}/ip-not"
    }
}
$HTTP["url"] =^ "/sock/" {
    $SERVER["socket"] == "127.0.0.1:{port}" {
        server.document-root = "{dir}/socket"
    }
}
$HTTP["scheme"] == "http" {
    $HTTP["url"] =^ "/scheme/" {
        server.document-root = "{dir}/scheme"
    }
}
$REQUEST_HEADER["X-Site"] == "special" {
    server.document-root = "{dir}/header"
}
$HTTP["useragent"] =~ "^Mozilla" {
    server.document-root = "{dir}/agent"
}
$HTTP["request-method"] == "POST" {
    server.document-root = "{dir}/post"
}
$HTTP["querystring"] =~ "(^|&)v=2(&|$)" {
    server.document-root = "{dir}/query"
}
"#;
    let roots = [
        "default",
        "host-a",
        "host-b",
        "host-c-port",
        "nested",
        "url-alt",
        "url-dot",
        "url-ci",
        "url-prefix",
        "url-regex",
        "url-suffix",
        "url-not",
        "exact",
        "ip-exact",
        "ip-cidr",
        "ip-other",
        "ip-not",
        "socket",
        "scheme",
        "header",
        "agent",
        "post",
        "query",
    ];
    // every root holds every file, saying which root it is in
    let paths = [
        "who.txt",
        "deep/who.txt",
        "alt1/who.txt",
        "alt2/who.txt",
        "dot.x/who.txt",
        "dotax/who.txt",
        "ci/who.txt",
        "CI/who.txt",
        "pre/who.txt",
        "re/who.txt",
        "suffix/who.txt",
        "suffix/who.md",
        "neg/who.txt",
        "neg/keep/who.txt",
        "exact.txt",
        "ip1/who.txt",
        "ip2/who.txt",
        "ip3/who.txt",
        "sock/who.txt",
        "scheme/who.txt",
    ];
    let Some(mut pair) = Pair::start("conditions_choose_document_root", conf, |dir| {
        for r in roots {
            for p in paths {
                put(&dir.join(r).join(p), format!("{r}: /{p}\n"));
            }
        }
        // only the POST root has this directory: POST /postonly → 301, else 404
        fs::create_dir(dir.join("post/postonly")).expect("create post/postonly");
    }) else {
        return;
    };
    for req in [
        Req::get("/who.txt"),
        // $HTTP["host"]: ==, =~, with and without port, else chain, nested
        Req::get("/who.txt").host("a.example"),
        Req::get("/who.txt").host("A.Example"),
        Req::get("/who.txt").host("a.example:8080"),
        Req::get("/who.txt").host("b.example"),
        Req::get("/who.txt").host("b.example:81"),
        Req::get("/who.txt").host("c.example:8080"),
        Req::get("/who.txt").host("c.example"),
        Req::get("/deep/who.txt").host("n.example"),
        Req::get("/who.txt").host("n.example"),
        // $HTTP["url"]: =^, =~ (simplifiable or not), !~, ==
        Req::get("/alt1/who.txt"),
        Req::get("/alt2/who.txt"),
        Req::get("/dot.x/who.txt"),
        Req::get("/dotax/who.txt"),
        Req::get("/ci/who.txt"),
        Req::get("/CI/who.txt"),
        Req::get("/pre/who.txt"),
        Req::get("/%70re/who.txt"),
        Req::get("/prefix/who.txt").label("GET /prefix/who.txt (not under =^ \"/pre/\")"),
        Req::get("/re/who.txt"),
        Req::get("/suffix/who.txt"),
        Req::get("/suffix/who.md"),
        Req::get("/neg/who.txt"),
        Req::get("/neg/keep/who.txt"),
        Req::get("/exact.txt"),
        Req::get("/exact.txt?x"),
        // $HTTP["remoteip"], $SERVER["socket"], $HTTP["scheme"]
        Req::get("/ip1/who.txt"),
        Req::get("/ip2/who.txt"),
        Req::get("/ip3/who.txt"),
        Req::get("/sock/who.txt"),
        Req::get("/scheme/who.txt"),
        // request headers, method, query string
        Req::get("/who.txt").header("X-Site", "special"),
        Req::get("/who.txt").header("X-Site", "Special"),
        Req::get("/who.txt").header("User-Agent", "Mozilla/5.0"),
        Req::new("POST", "/postonly").body(""),
        Req::get("/postonly"),
        Req::get("/who.txt?v=2"),
        Req::get("/who.txt?a=1&v=2"),
        Req::get("/who.txt?v=22"),
        Req::get("/pre/who.txt?v=2"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

// ---------------------------------------------------------------------------
// 8. Error files and error handlers

fn start_error_pages(test: &str) -> Option<Pair> {
    let conf = r#"server.document-root = "{root}"
mimetype.assign = ( ".txt" => "text/plain", ".html" => "text/html", ".inc" => "text/plain" )
static-file.exclude-extensions = ( ".inc" )
server.errorfile-prefix = "{dir}/errors/status-"
$HTTP["host"] == "h404.example" {
    server.error-handler-404 = "/e404.html"
}
$HTTP["host"] == "handler.example" {
    server.error-handler = "/error.html"
}
$HTTP["host"] == "gone.example" {
    server.error-handler-404 = "/does-not-exist.html"
}
"#;
    Pair::start(test, conf, |dir| {
        files(
            &dir.join("htdocs"),
            &[
                ("a.txt", "plain a\n"),
                ("x.inc", "excluded\n"),
                ("e404.html", "<p>custom 404 handler page</p>\n"),
                ("error.html", "<p>generic error handler page</p>\n"),
            ],
        );
        files(
            &dir.join("errors"),
            &[
                ("status-400.html", "<p>errorfile 400</p>\n"),
                ("status-403.html", "<p>errorfile 403</p>\n"),
                ("status-404.html", "<p>errorfile 404</p>\n"),
                ("status-411.html", "<p>errorfile 411</p>\n"),
                ("status-416.html", "<p>errorfile 416</p>\n"),
                ("status-501.html", "<p>errorfile 501</p>\n"),
            ],
        );
    })
}

#[test]
fn error_files_and_handlers() {
    let Some(mut pair) = start_error_pages("error_files_and_handlers") else {
        return;
    };
    for req in [
        // server.errorfile-prefix + status + ".html"
        Req::get("/missing.txt"),
        Req::head("/missing.txt"),
        Req::get("/x.inc"),
        Req::new("PUT", "/a.txt").body("x"),
        Req::get("/a.txt").header("Range", "bytes=5000-"),
        // error-handler-404 only where the host condition sets it
        Req::get("/a.txt").host("h404.example"),
        // a handler page that does not exist: the errorfile
        Req::get("/missing.txt").host("gone.example"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

/// `server.error-handler-404 = "/e404.html"` (a static page): lighttpd
/// 1.4.69 answers **200** with the page, for 404 and for 403 alike (HEAD
/// too, and with a query); wick keeps the original status (404 / 403)
/// with the same page.
/// `server.error-handler = "/error.html"`: same status and page in both,
/// but lighttpd sends no `Accept-Ranges` with it and wick does.
/// `server.errorfile-prefix` for errors found while checking the request
/// (invalid Host → 400, POST without length → 411): lighttpd sends the
/// `status-400.html` / `status-411.html` file (21 bytes), wick its
/// standard page (345 / 353 bytes).
#[test]
fn error_handlers_and_request_errors() {
    let Some(mut pair) = start_error_pages("error_handlers_and_request_errors") else {
        return;
    };
    for req in [
        Req::get("/missing.txt").host("h404.example"),
        Req::head("/missing.txt").host("h404.example"),
        Req::get("/missing.txt?q=1").host("h404.example"),
        Req::get("/x.inc").host("h404.example"),
        Req::get("/missing.txt").host("handler.example"),
        Req::get("/x.inc").host("handler.example"),
        Req::new("PUT", "/a.txt").host("handler.example").body("x"),
        Req::get("/a.txt").host("a_b"),
        Req::new("POST", "/a.txt"),
        // request lines lighttpd refuses once the head is complete
        Req::raw("GET", "GET /a.txt\r\n\r\n").label("no version"),
        Req::raw("GET", "\x01PRI\r\nHost: a\r\n\r\n").label("garbage line"),
        Req::raw("GET", "\rX\r\n\r\n").label("CR starting the request line"),
        Req::raw("GET", "\r\nGET /a.txt HTTP/1.0\r\n\r\n").label("empty line first"),
        Req::raw("GET", "GET /a.txt HTTP/1.2\r\nHost: a\r\n\r\n").label("HTTP/1.2"),
        Req::raw("GET", "GET /a.txt HTTP/2.0\r\nHost: a\r\n\r\n").label("HTTP/2.0 line"),
        Req::raw("GET", "GET /a.txt HTTP/1.10\r\nHost: a\r\n\r\n").label("HTTP/1.10"),
        Req::raw(
            "GET",
            "GET /a.txt HTTP/1.1\r\nHo st: a\r\nConnection: close\r\n\r\n",
        )
        .label("blank in a header name"),
        Req::raw("GET", "GET /a.txt HTTP/1.1\nHost: a\n\n").label("bare LF"),
        Req::raw(
            "GET",
            "POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        )
        .label("two Content-Length lines"),
        Req::raw(
            "GET",
            format!(
                "GET /a.txt HTTP/1.1\r\nHost: a\r\nX: {}\r\nConnection: close\r\n\r\n",
                "v".repeat(9000)
            ),
        )
        .label("head over 8 KiB"),
        // bytes and forms only lighttpd's rules refused before the gate
        // applied them (hyper alone answered 400 without a page)
        Req::raw("GET", "GET /a.txt HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n")
            .label("control byte in a header value"),
        Req::raw("GET", "GET /a.txt HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n")
            .label("lone CR in a header value"),
        Req::raw("GET", "GET /a\x7f.txt HTTP/1.1\r\nHost: a\r\n\r\n").label("DEL in the target"),
        Req::raw("GET", &b"GET /a.txt?\xc0 HTTP/1.1\r\nHost: a\r\n\r\n"[..])
            .label("0xC0 in the query"),
        Req::raw("GET", "G(T /a.txt HTTP/1.1\r\nHost: a\r\n\r\n").label("method not a token"),
        Req::raw("GET", " /a.txt HTTP/1.1\r\nHost: a\r\n\r\n").label("empty method"),
        Req::raw("GET", "GET  /a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
            .label("two blanks after the method"),
        Req::raw("GET", "GET a.txt HTTP/1.1\r\nHost: a\r\n\r\n").label("target without a slash"),
        Req::raw("GET", "GET http://a HTTP/1.1\r\nHost: a\r\n\r\n")
            .label("absolute URI without a path"),
        Req::raw("GET", "GET /a.txt HTTP/1.0\r\nX\r\n\r\n").label("HTTP/1.0 answered as HTTP/1.0"),
        Req::raw(
            "GET",
            "POST /a.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        )
        .label("Transfer-Encoding in HTTP/1.0"),
        Req::raw(
            "GET",
            "POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1 \r\n\r\nx",
        )
        .label("Content-Length with a trailing blank"),
        Req::raw(
            "GET",
            "POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
        )
        .label("empty Content-Length (as if absent)"),
        Req::raw(
            "GET",
            "GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .label("the same Host twice"),
        Req::raw("GET", "GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").label("two Hosts"),
        Req::raw(
            "GET",
            "GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        )
        .label("second Host before a coding"),
        Req::raw(
            "GET",
            "GET /a\x01.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        )
        .label("a coding before the target's bytes"),
    ] {
        pair.check(req);
    }
    // A request with Upgrade (or a CONNECT) answered without switching
    // protocols: the connection stays HTTP/1, and a later head on it is
    // judged as the first was. (Missing files: the sessions compare
    // whole answers, and the two servers' ETags of a file differ.)
    let upgrade = Req::get("/missing.txt")
        .keep_alive()
        .header("Upgrade", "foo")
        .header("Connection", "upgrade");
    let connect = Req::raw(
        "GET",
        "CONNECT a.example:80 HTTP/1.1\r\nHost: a.example\r\n\r\n",
    );
    let faulty = Req::raw("GET", "GET /a.txt HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n");
    let served = Req::get("/missing.txt");
    for pipelined in [false, true] {
        pair.check_session(
            "upgrade not taken, then a control byte",
            &[upgrade.clone(), faulty.clone()],
            pipelined,
        );
        pair.check_session(
            "upgrade not taken, then a plain request",
            &[upgrade.clone(), served.clone()],
            pipelined,
        );
    }
    pair.check_session("CONNECT refused, then a request", &[connect, served], true);
    pair.finish();
}

// ---------------------------------------------------------------------------
// 9. Request parsing that reaches the server

#[test]
fn request_target_and_host_normalisation() {
    let conf = r#"server.document-root = "{dir}/other"
mimetype.assign = ( ".txt" => "text/plain" )
$HTTP["host"] == "example.org" {
    server.document-root = "{root}"
}
"#;
    let Some(mut pair) = Pair::start("request_target_and_host_normalisation", conf, |dir| {
        files(
            &dir.join("htdocs"),
            &[
                ("a.txt", "example.org a\n"),
                ("sub/b.txt", "example.org sub/b\n"),
                ("~user.txt", "tilde\n"),
                ("sp ace.txt", "space\n"),
                ("\u{e9}.txt", "e acute\n"),
                ("100%.txt", "percent\n"),
                ("a+b.txt", "plus\n"),
            ],
        );
        files(&dir.join("other"), &[("a.txt", "other host a\n")]);
    }) else {
        return;
    };
    for req in [
        // Host normalisation: case, trailing dot, default port
        Req::get("/a.txt").host("EXAMPLE.ORG"),
        Req::get("/a.txt").host("example.org."),
        Req::get("/a.txt").host("example.org:80"),
        Req::get("/a.txt").host("example.org:"),
        Req::get("/a.txt").host("other.example"),
        Req::get("/a.txt").host("[::1]"),
        Req::get("/a.txt").host("127.0.0.1:80"),
        // no Host: fine for HTTP/1.0 (default root), 400 for HTTP/1.1
        Req::get("/sub/b.txt").http10().no_host(),
        Req::get("/a.txt").no_host(),
        // duplicate Host: same value fine, different 400
        Req::get("/a.txt").header("Host", "example.org"),
        Req::get("/a.txt").header("Host", "other.example"),
        // invalid Host → 400
        Req::get("/a.txt").host("a_b"),
        Req::get("/a.txt").host("-a.example"),
        Req::get("/a.txt").host("example.org:abc"),
        Req::get("/a.txt").host("example.org:99999"),
        Req::get("/a.txt").host("exa mple.org"),
        // the target: %2F, dot segments (encoded too), double slashes
        Req::get("/sub%2Fb.txt"),
        Req::get("/sub/%2e%2e/a.txt"),
        Req::get("/sub/../a.txt"),
        Req::get("/../a.txt"),
        Req::get("//sub//b.txt"),
        Req::get("/sub/./b.txt"),
        // encoded characters resolving to files
        Req::get("/%61.txt"),
        Req::get("/%7euser.txt"),
        Req::get("/~user.txt"),
        Req::get("/sp%20ace.txt"),
        Req::get("/%C3%A9.txt"),
        Req::get("/%c3%a9.txt"),
        Req::get("/100%25.txt"),
        Req::get("/a+b.txt"),
        Req::get("/a%zz.txt"),
        Req::get("/a.txt%3Fx"),
        // %00 and invalid UTF-8 → 400
        Req::get("/a%00.txt"),
        Req::get("/a.txt?x=%00"),
        Req::get("/%ff.txt"),
        // query and fragment
        Req::get("/a.txt?"),
        Req::get("/a.txt#frag"),
        // absolute-form targets: the authority is the host
        Req::get("http://example.org/a.txt"),
        Req::get("https://example.org/a.txt"),
        Req::get("http://EXAMPLE.org:80/a.txt"),
        Req::get("http://example.org/a.txt").host("other.example"),
        Req::get("http://other.example/a.txt").host("other.example"),
        // the Host header against the authority, in any case; an empty
        // Host header is none at all
        Req::get("http://EXAMPLE.org/a.txt").host("example.ORG"),
        Req::get("HTTP://example.org/a.txt").host("EXAMPLE.org"),
        Req::get("http://example.org/a.txt").host(""),
        Req::get("/a.txt").host(""),
        Req::get("/a.txt").http10().host(""),
        // two Host lines: the same name in any case, or one empty
        Req::get("/a.txt")
            .host("example.org")
            .header("Host", "EXAMPLE.org"),
        Req::get("/a.txt").host("").header("Host", "example.org"),
        Req::get("/a.txt").host("example.org").header("Host", ""),
        Req::get("/a.txt")
            .host("example.org")
            .header("Host", "other.example"),
    ] {
        pair.check(req);
    }
    pair.finish();
}

// ---------------------------------------------------------------------------
// Known differences (KNOWN-DIFFERENCES.md), asserted as such

#[test]
fn known_differences() {
    // no mimetype.assign at all
    let conf = "server.document-root = \"{root}\"\n";
    let Some(mut pair) = Pair::start("known_differences", conf, |dir| {
        files(
            &dir.join("htdocs"),
            &[("a.html", "<p>a</p>\n"), ("sp ace.html", "space\n")],
        );
    }) else {
        return;
    };
    pair.check_known(
        Req::get("/a.html"),
        "KNOWN-DIFFERENCES: without mimetype.assign wick uses a built-in table",
        |l, w| {
            let ok = l.header("content-type") == Some("application/octet-stream")
                && !l.has("etag")
                && w.header("content-type") == Some("text/html")
                && w.has("etag")
                && l.body == w.body;
            ok.then_some(())
                .ok_or_else(|| "expected octet-stream without ETag vs text/html with ETag".into())
        },
    );
    // Bytes lighttpd takes raw and encodes (hyper alone refused them).
    for req in [
        &b"GET /sp ace.txt HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n"[..],
        b"GET /sp%20ace.txt?a b<c>\"` HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        b"GET /\xc3\xa9.txt HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        b"GET /a<\x80>.txt HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        b"GET http://example.org/sp ace.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        pair.check(Req::raw("GET", req));
    }
    // Refused heads: lighttpd's status and page (these were differences
    // while hyper answered them alone).
    for req in [
        "GET /a.html HTTP/1.2\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "GET /a.html HTTP/1.1\nHost: example.org\nConnection: close\n\n",
        "POST /a.html HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: gzip\r\n\
         Connection: close\r\n\r\n",
        "POST /a.html HTTP/1.1\r\nHost: example.org\r\nContent-Length: 3\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nx\r\n0\r\n\r\n",
    ] {
        pair.check(Req::raw("GET", req));
    }
    // `Upgrade: h2c` (curl --http2 on http://): 101, then the answer over
    // HTTP/2; without a valid HTTP2-Settings, or with a body, HTTP/1.1.
    for (label, request) in [
        (
            "Upgrade: h2c",
            "GET /a.html HTTP/1.1\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n",
        ),
        (
            "Upgrade: h2c, HTTP2-Settings 'A'",
            "GET /a.html HTTP/1.1\r\nHTTP2-Settings: A\r\n",
        ),
        (
            "Upgrade: h2c with a body",
            "POST /a.html HTTP/1.1\r\nHTTP2-Settings: AAMAAABk\r\nContent-Length: 2\r\n",
        ),
        (
            "Upgrade: h2c, POST without a length",
            "POST /a.html HTTP/1.1\r\nHTTP2-Settings: AAMAAABk\r\n",
        ),
    ] {
        pair.observe(label, |_, s| {
            let mut c = s.connect()?;
            c.send(
                format!(
                    "{request}Host: example.org\r\n\
                     Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\nab"
                )
                .as_bytes(),
            )?;
            c.wait_for(b"\r\n\r\n", Duration::from_secs(5))?;
            let buf = c.take_buffered();
            let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let mut lines = head.lines();
            let status = lines.next().unwrap_or_default().to_string();
            let upgrade: Vec<String> = lines
                .filter(|l| l.starts_with("upgrade:") || l.starts_with("connection:"))
                .map(str::to_string)
                .collect();
            Ok((status, upgrade))
        });
    }
    pair.observe("curl --http2 on http://", |_, s| {
        curl(
            s.port,
            &[
                "-o",
                "-",
                "-w",
                "|%{http_version} %{response_code}",
                "--http2",
            ],
        )
    });
    // server.max-request-field-size (8 KiB) bounds HTTP/2 header blocks
    // too: 431 (lighttpd with its page, h2 without a body)
    for size in [7000, 9000] {
        let line = format!("X-Long: {}", "a".repeat(size));
        pair.observe(
            &format!("HTTP/2 header block with a {size}-byte field"),
            |_, s| {
                let args = ["-o", "/dev/null", "-w", "%{response_code}"];
                curl(
                    s.port,
                    &[&args[..], &["--http2-prior-knowledge", "-H", &line]].concat(),
                )
            },
        );
    }
    // HTTP/2 with a malformed :authority: lighttpd answers 400, hyper's
    // HTTP/2 layer resets the stream (curl: exit 92).
    pair.observe_known(
        "HTTP/2 :authority with a blank",
        "KNOWN-DIFFERENCES: a malformed HTTP/2 :authority resets the stream",
        |_, s| {
            let w = ["-o", "/dev/null", "-w", "%{response_code}"];
            curl(
                s.port,
                &[&w[..], &["--http2-prior-knowledge", "-H", "Host: bad host"]].concat(),
            )
        },
        |l, w| {
            let ok = *l == (Some(0), "400".to_string()) && *w == (Some(92), "000".to_string());
            ok.then_some(()).ok_or_else(|| {
                "expected lighttpd's 400 and a reset stream (curl 92) from wick".into()
            })
        },
    );
    pair.finish();
}

/// `server.h2proto` disabled: an HTTP/2 preface is a request line with
/// version 2.0 (505), and `Upgrade: h2c` is answered over HTTP/1.1.
#[test]
fn http2_disabled() {
    let conf = "server.document-root = \"{root}\"\n\
                mimetype.assign = ( \".txt\" => \"text/plain\" )\n\
                server.feature-flags = ( \"server.h2proto\" => \"disable\" )\n";
    let Some(mut pair) = Pair::start("http2_disabled", conf, |dir| {
        files(&dir.join("htdocs"), &[("a.txt", "a\n")]);
    }) else {
        return;
    };
    pair.check(
        Req::raw(
            "PRI",
            &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"[..],
        )
        .label("HTTP/2 preface"),
    );
    pair.check(
        Req::raw(
            "GET",
            "GET /a.txt HTTP/1.1\r\nHost: example.org\r\n\
             Connection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\n\
             HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
        )
        .label("Upgrade: h2c"),
    );
    pair.finish();
}

/// curl with `args` for `/a.html` on `port`: its exit code and output.
fn curl(port: u16, args: &[&str]) -> Result<(Option<i32>, String), String> {
    let out = Cmd::new("curl")
        .args(["-s", "-S", "--max-time", "5"])
        .args(args)
        .arg(format!("http://127.0.0.1:{port}/a.html"))
        .timeout(Duration::from_secs(10))
        .run()
        .map_err(|e| e.to_string())?;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}
