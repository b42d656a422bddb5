//! Debian's stock `/etc/lighttpd/lighttpd.conf` *serving*: the shipped file
//! with `conf-enabled/` as installed (`90-javascript-alias.conf`), started
//! by lighttpd and by wick, answering the same requests the same way
//! (`tests/debian_stock.rs` compares how the file is read).
//!
//! Only the lines that cannot work in a test are substituted, each for the
//! least that runs (see [`stock_template`]): the port, the document root,
//! the error log and the pid file, and the wildcard address `use-ipv6.pl`
//! prints. Everything else — `server.username = "www-data"` (we run as
//! root, so both drop privileges), the upload dir, the feature flags, the
//! parse options, `create-mime.conf.pl`, the `conf-enabled` glob and its
//! `/javascript` alias into `/usr/share/javascript` — is the shipped text.
//!
//! What the stock file means (pinned by the requests below): mod_indexfile
//! tries `index.php` before `index.html`; mod_access denies paths ending in
//! `~` or `.inc`; `.php`, `.pl`, `.fcgi` are never sent as files (403);
//! mod_dirlisting is listed in `server.modules` but nothing sets
//! `dir-listing.activate`, so lighttpd drops it and a directory without an
//! index file is 403, not a listing.

use std::fs;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use compat_tests::http::{
    Client, MTIME_HTTP, Pair, PairOpts, Req, Response, Scratch, Side, put, running_as_root,
};
use compat_tests::{announce, lighttpd_or_skip, skip};

const STOCK_DIR: &str = "/etc/lighttpd";
const JAVASCRIPT: &str = "/usr/share/javascript";

/// One substitution of the stock file: the exact shipped line and what
/// replaces it.
struct Subst {
    line: &'static str,
    with: &'static str,
}

/// The lines of the stock file that cannot run in a test, and the least
/// change that makes each run.
const SUBSTITUTIONS: &[Subst] = &[
    // Port 80 needs privileges and is shared: the harness hands over an
    // ephemeral socket on 127.0.0.1, and its preamble (socket activation,
    // `server.bind = "127.0.0.1"`, `server.port = <that port>`) already
    // sets the port; a second `server.port =` would be a duplicate, so the
    // line stays as a comment. `use-ipv6.pl` below gets the preamble's port.
    Subst {
        line: "server.port                 = 80",
        with: "#server.port                 = 80 (set by the compat-tests preamble)",
    },
    Subst {
        line: "server.document-root        = \"/var/www/html\"",
        with: "server.document-root        = \"{root}\"",
    },
    // Each server its own log and pid file in the scratch dir.
    Subst {
        line: "server.errorlog             = \"/var/log/lighttpd/error.log\"",
        with: "server.errorlog             = \"{errorlog}\"",
    },
    Subst {
        line: "server.pid-file             = \"/run/lighttpd.pid\"",
        with: "server.pid-file             = \"{pidfile}\"",
    },
    // The script stays and still gets `server.port`: it prints
    // `$SERVER["socket"] == "[::]:<port>" { }`, an IPv6 listener on every
    // interface. Tests listen on loopback only, so its output goes through
    // `sed` turning the wildcard `[::]` into `[::1]`: the same extra
    // listener the stock file asks for (same port, IPv6), on the loopback
    // address. Both programs run `include_shell` through `/bin/sh -c`.
    Subst {
        line: "include_shell \"/usr/share/lighttpd/use-ipv6.pl \" + server.port",
        with: "include_shell \"/usr/share/lighttpd/use-ipv6.pl \" + server.port + \" | sed s/::]/::1]/\"",
    },
];

/// The stock file with [`SUBSTITUTIONS`] applied; `Err` names a shipped
/// line that is not there (another Debian version).
fn stock_template(stock: &str) -> Result<String, String> {
    let mut text = stock.to_string();
    for s in SUBSTITUTIONS {
        let found = text.lines().filter(|l| *l == s.line).count();
        if found != 1 {
            return Err(format!(
                "expected the line {:?} once in {STOCK_DIR}/lighttpd.conf, found it {found} times",
                s.line
            ));
        }
        text = text.replace(s.line, s.with);
    }
    Ok(text)
}

/// Files of the chosen document root: index files, files access-deny and
/// exclude-extensions refuse, directories with and without index files.
fn document_root(root: &Path) {
    for (path, contents) in [
        ("index.html", "<h1>stock index</h1>\n"),
        ("a.txt", "plain text\n"),
        ("style.css", "body { color: red }\n"),
        ("page.htm", "<p>htm</p>\n"),
        ("data.json", "{\"a\": 1}\n"),
        ("pic.svg", "<svg/>\n"),
        ("archive.tar.gz", "not really gzip\n"),
        ("noext", "no extension\n"),
        ("backup.txt~", "editor backup\n"),
        ("~", "just a tilde\n"),
        ("config.inc", "<?php $secret = 1;\n"),
        ("Config.INC", "upper-case suffix\n"),
        ("config.inc.txt", "suffix only counts at the end\n"),
        ("script.php", "<?php echo 1;\n"),
        ("Script.PHP", "<?php echo 2;\n"),
        ("run.pl", "print 1;\n"),
        ("app.fcgi", "#!/bin/sh\n"),
        ("dir-noindex/file.txt", "in a directory without index\n"),
        ("dir-php/index.php", "<?php echo 'index';\n"),
        ("dir-both/index.php", "<?php echo 'first';\n"),
        ("dir-both/index.html", "second\n"),
        ("dir-html/index.html", "dir-html index\n"),
        ("~user/index.html", "tilde directory\n"),
        ("x.inc/index.html", "a directory named x.inc\n"),
        ("sp ace/f.txt", "space in the path\n"),
        (
            "numbers.txt",
            &(0..100).map(|i| format!("{i:03}\n")).collect::<String>(),
        ),
    ] {
        put(&root.join(path), contents);
    }
}

/// A few real files under the alias target (whatever packages put there),
/// as URL paths under `/javascript/`.
fn javascript_files() -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(JAVASCRIPT) else {
        return found;
    };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs.iter().filter(|d| d.is_dir()).take(3) {
        let Ok(files) = fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = files
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files.iter().take(3) {
            if let Ok(rel) = f.strip_prefix(JAVASCRIPT)
                && let Some(rel) = rel.to_str()
                && rel.bytes().all(|b| b.is_ascii_graphic())
            {
                found.push(format!("/javascript/{rel}"));
            }
        }
    }
    found
}

/// ETag values are computed differently (KNOWN-DIFFERENCES: "ETag values
/// are `\"<decimal>\"` like lighttpd's, but computed differently"): only
/// their presence and form are compared.
fn etag_form(r: &mut Response) {
    if let Some(v) = r.header("etag").map(str::to_string) {
        let ok = v.len() > 2
            && v.starts_with('"')
            && v.ends_with('"')
            && v[1..v.len() - 1].bytes().all(|b| b.is_ascii_digit());
        r.set_header("etag", if ok { "\"(decimal)\"" } else { &v });
    }
}

fn start(test: &str) -> Option<Pair> {
    lighttpd_or_skip(test)?;
    let stock_path = Path::new(STOCK_DIR).join("lighttpd.conf");
    let Ok(stock) = fs::read_to_string(&stock_path) else {
        skip(
            test,
            &format!(
                "{} is missing (Debian's lighttpd package installs it)",
                stock_path.display()
            ),
        );
        return None;
    };
    let template = stock_template(&stock).unwrap_or_else(|e| panic!("{test}: {e}"));
    let enabled: Vec<String> = fs::read_dir(Path::new(STOCK_DIR).join("conf-enabled"))
        .map(|d| {
            let mut v: Vec<String> = d
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        })
        .unwrap_or_default();
    if enabled != ["90-javascript-alias.conf"] {
        announce(&format!(
            "compat-tests: {test}: {STOCK_DIR}/conf-enabled holds {enabled:?}, not just the \
             shipped 90-javascript-alias.conf; both servers read it as it is"
        ));
    }
    let scratch = Scratch::new(test).expect("scratch dir");
    let dir = scratch
        .path()
        .to_str()
        .expect("UTF-8 scratch path")
        .to_string();
    let vars = |name: &str| {
        vec![
            (
                "{errorlog}".to_string(),
                format!("{dir}/log/error-{name}.log"),
            ),
            ("{pidfile}".to_string(), format!("{dir}/{name}.pid")),
        ]
    };
    let opts = PairOpts {
        vars: [vars("lighttpd"), vars("wick")],
        scratch: Some(scratch),
        ..PairOpts::default()
    };
    Pair::start_opts(
        test,
        &template,
        |d| {
            document_root(&d.join("htdocs"));
            log_dir(&d.join("log"));
        },
        opts,
    )
}

/// `{dir}/log`, owned by `www-data` when we run as root: both programs
/// open the error log after dropping privileges (Debian's package gives
/// `/var/log/lighttpd` to `www-data` for the same reason).
fn log_dir(path: &Path) {
    fs::create_dir(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    if !running_as_root() {
        return;
    }
    let Some((uid, gid)) = account("www-data") else {
        return;
    };
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

/// uid and gid of `name` from `/etc/passwd`.
fn account(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

#[test]
fn debian_stock_config_serves_like_lighttpd() {
    let test = "debian_stock_config_serves_like_lighttpd";
    let Some(mut pair) = start(test) else {
        return;
    };
    pair.learn("{lm}", &Req::head("/a.txt"), "last-modified");
    pair.learn("{etag}", &Req::head("/a.txt"), "etag");
    let reqs = [
        // index.html (index.php is tried first and does not exist)
        Req::get("/"),
        Req::head("/"),
        Req::get("/?q=1"),
        Req::get("/index.html"),
        // static files and create-mime.conf.pl's types
        Req::get("/a.txt"),
        Req::get("/style.css"),
        Req::get("/page.htm"),
        Req::get("/data.json"),
        Req::get("/pic.svg"),
        Req::get("/archive.tar.gz"),
        Req::get("/noext"),
        Req::get("/config.inc.txt"),
        Req::get("/sp%20ace/f.txt"),
        Req::get("/missing.txt"),
        Req::get("/a.txt/pathinfo"),
        // conditional and range requests
        Req::get("/a.txt").header("If-Modified-Since", MTIME_HTTP),
        Req::get("/a.txt").header("If-Modified-Since", "{lm}"),
        Req::get("/a.txt").header("If-None-Match", "{etag}"),
        Req::get("/numbers.txt").header("Range", "bytes=4-11"),
        Req::get("/numbers.txt").header("Range", "bytes=0-3,396-"),
        // url.access-deny = ( "~", ".inc" ): suffixes of the decoded path
        Req::get("/backup.txt~"),
        Req::get("/backup.txt%7E"),
        Req::get("/backup.txt%7e?x=1"),
        Req::get("/~"),
        Req::get("/config.inc"),
        Req::get("/config.%69nc"),
        Req::get("/config.inc?download=1"),
        Req::head("/config.inc"),
        Req::get("/Config.INC"),
        Req::get("/missing.inc"),
        Req::get("/~user/"),
        Req::get("/~user"),
        Req::get("/x.inc/"),
        Req::get("/x.inc"),
        // static-file.exclude-extensions = ( ".php", ".pl", ".fcgi" )
        Req::get("/script.php"),
        Req::get("/Script.PHP"),
        Req::get("/script.php/info"),
        Req::get("/run.pl"),
        Req::get("/app.fcgi"),
        Req::get("/missing.php"),
        // directories: index.php first (then refused as a .php file), no
        // listing (mod_dirlisting is dropped: nothing activates it)
        Req::get("/dir-noindex/"),
        Req::get("/dir-noindex"),
        Req::get("/dir-noindex?x=%20"),
        Req::get("/dir-php/"),
        Req::get("/dir-both/"),
        Req::get("/dir-html/"),
        Req::get("/dir-html"),
        // the javascript alias (conf-enabled/90-javascript-alias.conf)
        Req::get("/javascript"),
        Req::get("/javascript/"),
        Req::get("/javascript/missing.js"),
        Req::get("/javascript/../a.txt"),
        Req::get("/javascript/%2e%2e/a.txt"),
        Req::get("/javascriptx"),
        // methods the static handler refuses or answers
        Req::new("OPTIONS", "/a.txt"),
        Req::new("POST", "/a.txt").body("x=1"),
        Req::new("DELETE", "/a.txt"),
        Req::get("/a.txt").http10().no_host(),
    ];
    for req in reqs {
        pair.check_full_with(req, etag_form);
    }
    let js = javascript_files();
    if js.is_empty() {
        announce(&format!(
            "compat-tests: {test}: {JAVASCRIPT} has no files; the alias is only checked with 404s"
        ));
    }
    let mut dirs: Vec<&str> = Vec::new();
    for path in &js {
        pair.check_full_with(Req::get(path), etag_form);
        pair.check_full_with(Req::head(path), etag_form);
        if let Some((dir, _)) = path.rsplit_once('/')
            && !dirs.contains(&dir)
        {
            dirs.push(dir);
        }
    }
    for dir in dirs {
        // a directory of the alias target: redirect, then 403 (no listing)
        pair.check_full_with(Req::get(dir), etag_form);
        pair.check_full_with(Req::get(&format!("{dir}/")), etag_form);
    }
    if let Some(first) = js.first() {
        pair.check_full_with(Req::get(first).header("Range", "bytes=0-9"), etag_form);
        pair.check_full_with(
            Req::get(first).header("If-Modified-Since", "Thu, 01 Jan 2099 00:00:00 GMT"),
            etag_form,
        );
    }
    // the IPv6 listener use-ipv6.pl adds (moved to [::1]) answers too
    pair.observe(
        "GET / on the [::1] listener from use-ipv6.pl",
        |_, server| {
            let addr = SocketAddr::from((Ipv6Addr::LOCALHOST, server.port));
            let mut c = Client::connect(server.name, addr)?;
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n")?;
            let r = c.response(false)?;
            let ctype = r.header("content-type").map(str::to_string);
            Ok((r.status_line, ctype, r.body))
        },
    );
    // and nothing listens beyond loopback
    if Path::new("/proc/net/tcp6").exists() {
        pair.observe("listening addresses of the server's port", |_, server| {
            Ok(listening_on(server.port))
        });
        for side in [Side::Lighttpd, Side::Wick] {
            let server = pair.server(side);
            let found = listening_on(server.port);
            if found != ["127.0.0.1", "::1"] {
                let name = server.name;
                pair.fail(format!(
                    "{name} listens on {found:?}, expected loopback only: 127.0.0.1 and ::1"
                ));
            }
        }
    }
    pair.finish();
}

/// The local addresses of listening TCP sockets on `port` (from
/// `/proc/net/tcp{,6}`): `127.0.0.1`, `::1`, `0.0.0.0`, `::` or the kernel's
/// hex form for anything else; sorted.
fn listening_on(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st …; st 0A is LISTEN
            let (Some(local), Some("0A")) = (fields.get(1), fields.get(3).copied()) else {
                continue;
            };
            let Some((addr, hex_port)) = local.split_once(':') else {
                continue;
            };
            if u16::from_str_radix(hex_port, 16) != Ok(port) {
                continue;
            }
            found.push(
                match addr {
                    "0100007F" => "127.0.0.1",
                    "00000000000000000000000001000000" => "::1",
                    "00000000" => "0.0.0.0",
                    "00000000000000000000000000000000" => "::",
                    other => other,
                }
                .to_string(),
            );
        }
    }
    found.sort();
    found
}
