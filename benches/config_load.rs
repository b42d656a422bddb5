//! How long does wick take to load a configuration — parse, evaluate and
//! check, the work behind every `-t`, `-tt`, `-p` and start-up — and to load
//! and print it (`-p`), on a large realistic file and on Debian's stock one?
//!
//! Baseline: lighttpd 1.4.69 doing the same whole-process work
//! (`lighttpd -tt -f` and `lighttpd -p -f` on the very same files), measured
//! by `benches/compare_tt.sh` with hyperfine; `benches/README.md` keeps both
//! sets of figures. The goal is wick no slower than lighttpd.
//!
//! Cases (one criterion group each):
//!
//! * `big`: a generated ~20,000-line multi-tenant configuration (hundreds
//!   of `$HTTP["host"]` virtual hosts with nested `$HTTP["url"]` blocks,
//!   `=~` / `=^` / `=$` conditions, `else` chains, `proxy.server` /
//!   `wstunnel.server` nested arrays, rewrite/alias/redirect key => value
//!   lists, a ~1,000-entry `mimetype.assign`, `+=`, `:=`, `var.`
//!   concatenation, `$SERVER["socket"]` blocks, comments). The generator
//!   below is a pure function; lighttpd 1.4.69 accepts its output with
//!   `-tt` and no message (checked by `compare_tt.sh`).
//! * `debian`: `/etc/lighttpd/lighttpd.conf` as installed, includes and
//!   all: its two `include_shell` lines run perl scripts, so this measures
//!   process spawning more than parsing. Skipped when the file is absent.
//! * `debian-expanded`: the same configuration with every `include` and
//!   `include_shell` replaced by what it read (captured once, at start-up,
//!   from wick's own source map and checked to print the same `-p` output),
//!   so only the parser, evaluator and checks are timed.
//!
//! Each case is timed as `load` (what `-t` does), `load+modules` (the
//! configuration part of `-tt`; the binary's `-tt` also prepares the server,
//! which only `compare_tt.sh` measures) and `load+print` (`-p`). The text is
//! cloned outside the timed region.
//!
//! `cargo bench --bench config_load -- --emit DIR` writes `big.conf` (and
//! `debian-expanded.conf` when Debian's file exists) into DIR and exits
//! without benchmarking; `compare_tt.sh` uses it.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use wick::config::source::{FileId, SourceMap, Span};
use wick::config::{self, Environment, modules, print};

/// Debian's stock configuration.
const DEBIAN_CONF: &str = "/etc/lighttpd/lighttpd.conf";

/// Lines the generated configuration aims at.
const BIG_TARGET_LINES: usize = 20_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--emit") {
        let Some(dir) = args.get(i + 1) else {
            eprintln!("usage: config_load --emit DIR");
            std::process::exit(2);
        };
        emit(Path::new(dir));
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench_big(&mut c);
    bench_debian(&mut c);
    c.final_summary();
}

/// Writes the generated files for `compare_tt.sh`.
fn emit(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create the output directory");
    std::fs::write(dir.join("big.conf"), generate_big_config()).expect("write big.conf");
    if let Some(text) = debian_expanded() {
        std::fs::write(dir.join("debian-expanded.conf"), text).expect("write debian-expanded.conf");
    }
}

fn bench_big(c: &mut Criterion) {
    let text = generate_big_config().into_bytes();
    let env = Environment::from_process();
    let name = b"big.conf";
    // Refuse to time a configuration that does not load cleanly.
    match config::load(name, text.clone(), &env) {
        Ok(cfg) => {
            let report = modules::check_modules(&cfg);
            let msgs: Vec<String> = cfg
                .warnings
                .iter()
                .chain(&report.diagnostics)
                .map(|d| d.render(&cfg.sources, false))
                .collect();
            assert!(
                msgs.is_empty(),
                "big.conf has diagnostics:\n{}",
                msgs.concat()
            );
        }
        Err(e) => panic!(
            "big.conf refused:\n{}",
            config::diag::render_all(&e.diagnostics, &e.sources, false)
        ),
    }
    let mut g = c.benchmark_group("big");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(10));
    timed_cases(&mut g, name, &text, &env);
    g.finish();
}

fn bench_debian(c: &mut Criterion) {
    let Ok(text) = std::fs::read(DEBIAN_CONF) else {
        eprintln!("{DEBIAN_CONF} not found: skipping the debian cases");
        return;
    };
    let env = Environment::from_process();
    if let Err(e) = config::load(DEBIAN_CONF.as_bytes(), text.clone(), &env) {
        eprintln!(
            "{DEBIAN_CONF} does not load here: skipping the debian cases\n{}",
            config::diag::render_all(&e.diagnostics, &e.sources, false)
        );
        return;
    }
    {
        // As installed: every load runs the include_shell perl scripts.
        let mut g = c.benchmark_group("debian");
        g.sample_size(20);
        g.measurement_time(Duration::from_secs(10));
        timed_cases(&mut g, DEBIAN_CONF.as_bytes(), &text, &env);
        g.finish();
    }
    let Some(expanded) = debian_expanded() else {
        return;
    };
    let mut g = c.benchmark_group("debian-expanded");
    g.throughput(Throughput::Bytes(expanded.len() as u64));
    g.measurement_time(Duration::from_secs(10));
    timed_cases(&mut g, b"debian-expanded.conf", &expanded, &env);
    g.finish();
}

/// `load`, `load+modules` and `load+print` on one text.
fn timed_cases(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &[u8],
    text: &[u8],
    env: &Environment,
) {
    g.bench_function("load", |b| {
        b.iter_batched(
            || text.to_vec(),
            |t| config::load(black_box(name), t, env).expect("loads"),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("load+modules", |b| {
        b.iter_batched(
            || text.to_vec(),
            |t| {
                let cfg = config::load(black_box(name), t, env).expect("loads");
                let report = modules::check_modules(&cfg);
                (cfg, report)
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("load+print", |b| {
        b.iter_batched(
            || text.to_vec(),
            |t| {
                let cfg = config::load(black_box(name), t, env).expect("loads");
                print::print(&cfg)
            },
            BatchSize::SmallInput,
        )
    });
}

// ---------------------------------------------------------------------------
// Debian's configuration, pre-expanded
// ---------------------------------------------------------------------------

/// Debian's configuration as one file: each `include` / `include_shell`
/// statement replaced by the text it read. `None` when the file is absent
/// or does not load.
fn debian_expanded() -> Option<Vec<u8>> {
    let text = std::fs::read(DEBIAN_CONF).ok()?;
    let env = Environment::from_process();
    let original = match config::load(DEBIAN_CONF.as_bytes(), text, &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "{DEBIAN_CONF} does not load; skipping its expanded form:\n{}",
                config::diag::render_all(&e.diagnostics, &e.sources, false)
            );
            return None;
        }
    };
    let expanded = inline_sources(&original.sources, FileId(0));
    // Inlining must not change the meaning: same `-p` output.
    let again = config::load(b"debian-expanded.conf", expanded.clone(), &env)
        .expect("the expanded Debian configuration loads");
    assert!(
        print::print(&again) == print::print(&original),
        "inlining the includes of {DEBIAN_CONF} changed its -p output"
    );
    Some(expanded)
}

/// The text of source `id` with every include statement in it replaced by
/// the (recursively inlined) sources that statement read.
fn inline_sources(sources: &SourceMap, id: FileId) -> Vec<u8> {
    let text = &sources.get(id).text;
    // Sources read from `id`, in load order; a glob include reads several
    // files from one statement, so consecutive children may share a span.
    let children: Vec<(Span, FileId)> = (0..sources.len() as u32)
        .map(FileId)
        .filter_map(|f| {
            let from = sources.get(f).included_from?;
            (from.file == id).then_some((from, f))
        })
        .collect();
    let mut out = Vec::with_capacity(text.len());
    let mut pos = 0usize;
    let mut i = 0;
    while i < children.len() {
        let span = children[i].0;
        out.extend_from_slice(&text[pos..span.start as usize]);
        out.push(b'\n');
        while i < children.len() && children[i].0 == span {
            let inner = inline_sources(sources, children[i].1);
            out.extend_from_slice(&inner);
            if !inner.ends_with(b"\n") {
                out.push(b'\n');
            }
            i += 1;
        }
        pos = span.end as usize;
    }
    out.extend_from_slice(&text[pos..]);
    out
}

// ---------------------------------------------------------------------------
// The generated configuration
// ---------------------------------------------------------------------------

/// SplitMix64: a fixed-seed generator, so every run produces the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const SITE_WORDS: &[&str] = &[
    "shop", "blog", "app", "docs", "status", "media", "cdn", "wiki", "git", "chat", "forum", "id",
    "pay", "mail", "news", "learn", "maps", "shop-eu", "portal", "crm",
];
const DOMAINS: &[&str] = &["example.com", "example.org", "example.net", "corp.example"];
const LANGS: &[&str] = &["en", "de", "fr", "es", "it", "nl", "pt", "ja"];

/// Real-world extensions and types that open `mimetype.assign`.
const MIME_BASE: &[(&str, &str)] = &[
    (".html", "text/html"),
    (".htm", "text/html"),
    (".css", "text/css"),
    (".js", "text/javascript"),
    (".mjs", "text/javascript"),
    (".json", "application/json"),
    (".xml", "application/xml"),
    (".txt", "text/plain"),
    (".csv", "text/csv"),
    (".md", "text/markdown"),
    (".png", "image/png"),
    (".jpg", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".gif", "image/gif"),
    (".svg", "image/svg+xml"),
    (".webp", "image/webp"),
    (".avif", "image/avif"),
    (".ico", "image/vnd.microsoft.icon"),
    (".bmp", "image/bmp"),
    (".tif", "image/tiff"),
    (".tiff", "image/tiff"),
    (".woff", "font/woff"),
    (".woff2", "font/woff2"),
    (".ttf", "font/ttf"),
    (".otf", "font/otf"),
    (".eot", "application/vnd.ms-fontobject"),
    (".mp3", "audio/mpeg"),
    (".ogg", "audio/ogg"),
    (".oga", "audio/ogg"),
    (".wav", "audio/wav"),
    (".flac", "audio/flac"),
    (".m4a", "audio/mp4"),
    (".mp4", "video/mp4"),
    (".m4v", "video/mp4"),
    (".webm", "video/webm"),
    (".ogv", "video/ogg"),
    (".mov", "video/quicktime"),
    (".avi", "video/x-msvideo"),
    (".mkv", "video/x-matroska"),
    (".pdf", "application/pdf"),
    (".zip", "application/zip"),
    (".gz", "application/gzip"),
    (".tgz", "application/gzip"),
    (".bz2", "application/x-bzip2"),
    (".xz", "application/x-xz"),
    (".zst", "application/zstd"),
    (".tar", "application/x-tar"),
    (".7z", "application/x-7z-compressed"),
    (".rar", "application/vnd.rar"),
    (".doc", "application/msword"),
    (
        ".docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (".xls", "application/vnd.ms-excel"),
    (
        ".xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (".ppt", "application/vnd.ms-powerpoint"),
    (".odt", "application/vnd.oasis.opendocument.text"),
    (".ods", "application/vnd.oasis.opendocument.spreadsheet"),
    (".epub", "application/epub+zip"),
    (".rtf", "application/rtf"),
    (".sh", "application/x-sh"),
    (".jar", "application/java-archive"),
    (".deb", "application/vnd.debian.binary-package"),
    (".rpm", "application/x-rpm"),
    (".iso", "application/x-iso9660-image"),
    (".ics", "text/calendar"),
    (".vcf", "text/vcard"),
    (".yaml", "application/yaml"),
    (".toml", "application/toml"),
    (".map", "application/json"),
    (".webmanifest", "application/manifest+json"),
    (".rss", "application/rss+xml"),
    (".atom", "application/atom+xml"),
];
const MIME_SYLLABLES: &[&str] = &[
    "ab", "ex", "ko", "ly", "mi", "nu", "or", "pa", "qu", "ri", "st", "ta", "ub", "ve", "wo", "zy",
];
const MIME_FAMILIES: &[&str] = &["application", "text", "image", "audio", "video", "model"];
const MIME_VENDORS: &[&str] = &["acme", "contoso", "initech", "globex", "umbrella", "hooli"];

/// A ~20,000-line configuration shaped like the front end of a hosting
/// platform. Deterministic: a pure function of the constants above.
pub fn generate_big_config() -> String {
    let mut rng = Rng(0x5eed_1ab5_c0de_2024);
    let mut out = String::with_capacity(1 << 20);
    header(&mut out);
    mimetypes(&mut out, &mut rng);
    sockets(&mut out, &mut rng);
    let mut site = 0usize;
    let mut lines = out.matches('\n').count();
    while lines < BIG_TARGET_LINES - 30 {
        let before = out.len();
        let kind = rng.below(100);
        match kind {
            0..=34 => app_vhost(&mut out, &mut rng, site),
            35..=54 => regex_vhost(&mut out, &mut rng, site),
            55..=69 => static_vhost(&mut out, &mut rng, site),
            70..=84 => redirect_chain(&mut out, &mut rng, site),
            _ => api_vhost(&mut out, &mut rng, site),
        }
        out.push('\n');
        lines += out[before..].matches('\n').count();
        site += 1;
    }
    footer(&mut out);
    out
}

fn header(out: &mut String) {
    out.push_str(
        r#"# Front end of a hosting platform: one lighttpd in front of many tenants.
#
# Generated by benches/config_load.rs (generate_big_config); do not edit.
# Regenerate with: cargo bench --bench config_load -- --emit DIR

## Paths shared by every virtual host.
var.basedir     = "/srv/www"
var.logdir      = "/var/log/lighttpd"
var.statedir    = "/var/lib/lighttpd"
var.common      = var.basedir + "/common"
var.backend_net = "10.20."
var.php_port    = 9000
var.php_port   := 9001   # moved when the pool was split

server.modules = (
    "mod_access",
    "mod_alias",
    "mod_rewrite",
    "mod_redirect",
    "mod_setenv",
    "mod_proxy",
    "mod_wstunnel",
)

server.document-root    = var.basedir + "/default/htdocs"
server.port             = 8080
server.tag              = "frontend"
server.errorlog         = var.logdir + "/error.log"
server.pid-file         = "/run/lighttpd.pid"
server.upload-dirs      = ( "/var/tmp" )
server.max-connections  = 4096
server.max-request-size = 65536
server.stream-request-body  = 2
server.stream-response-body = 2

server.feature-flags += ( "server.h2proto" => "enable" )
server.feature-flags += ( "server.h2c"     => "enable" )
server.feature-flags += ( "server.graceful-shutdown-timeout" => 5 )

server.http-parseopts = (
  "header-strict"            => "enable",
  "host-strict"              => "enable",
  "host-normalize"           => "enable",
  "url-normalize-unreserved" => "enable",
  "url-normalize-required"   => "enable",
  "url-ctrls-reject"         => "enable",
  "url-path-2f-decode"       => "enable",
  "url-path-dotseg-remove"   => "enable",
)

index-file.names               = ( "index.html", "index.htm" )
url.access-deny                = ( "~", ".inc", ".bak", ".swp" )
static-file.exclude-extensions = ( ".php", ".pl", ".fcgi", ".py" )

setenv.add-response-header = (
    "X-Content-Type-Options" => "nosniff",
    "Referrer-Policy"        => "strict-origin-when-cross-origin",
)

"#,
    );
}

fn mimetypes(out: &mut String, rng: &mut Rng) {
    out.push_str("## Content types (base list, then site-specific formats).\n");
    out.push_str("var.utf8 = \"; charset=utf-8\"\n");
    out.push_str("mimetype.assign = (\n");
    for (ext, ty) in MIME_BASE {
        if ty.starts_with("text/") {
            let _ = writeln!(
                out,
                "    {:<16} => \"{ty}\" + var.utf8,",
                format!("\"{ext}\"")
            );
        } else {
            let _ = writeln!(out, "    {:<16} => \"{ty}\",", format!("\"{ext}\""));
        }
    }
    let generated = 1_000 - MIME_BASE.len();
    for i in 0..generated {
        if i % 100 == 0 {
            let _ = writeln!(out, "    # formats {i}..{}", i + 99);
        }
        let ext = format!(
            ".{}{}{i}",
            rng.pick(MIME_SYLLABLES),
            rng.pick(MIME_SYLLABLES)
        );
        let family = rng.pick(MIME_FAMILIES);
        let vendor = rng.pick(MIME_VENDORS);
        let suffix = rng.pick(&["", "+json", "+xml", "+zip"]);
        let _ = writeln!(
            out,
            "    \"{ext}\" => \"{family}/vnd.{vendor}.{}{i}{suffix}\",",
            rng.pick(MIME_SYLLABLES)
        );
    }
    out.push_str(")\n");
    out.push_str(
        "mimetype.assign += (\n    \".wasm\" => \"application/wasm\",\n    \".jsonld\" => \"application/ld+json\",\n)\n",
    );
    out.push_str("mimetype.assign += ( \"\" => \"application/octet-stream\" )\n\n");
}

fn sockets(out: &mut String, rng: &mut Rng) {
    out.push_str("## Extra listeners.\n");
    let binds = [
        ":8081",
        "127.0.0.1:8082",
        "0.0.0.0:8083",
        "[::1]:8084",
        "[::]:8085",
        ":8086",
    ];
    for (n, bind) in binds.iter().enumerate() {
        let _ = writeln!(out, "$SERVER[\"socket\"] == \"{bind}\" {{");
        let _ = writeln!(
            out,
            "    server.document-root = var.basedir + \"/listener{n}/htdocs\""
        );
        match n % 3 {
            0 => {
                out.push_str("    url.access-deny = ( \"\" )\n");
                let _ = writeln!(
                    out,
                    "    $HTTP[\"remoteip\"] == \"10.{}.0.0/16\" {{\n        url.access-deny = ( \"~\" )\n    }}",
                    rng.below(250)
                );
            }
            1 => {
                let _ = writeln!(
                    out,
                    "    proxy.server = ( \"\" => ( ( \"host\" => \"127.0.0.1\", \"port\" => {} ) ) )",
                    9100 + n
                );
                out.push_str("    $HTTP[\"url\"] =^ \"/metrics\" {\n        setenv.add-request-header = ( \"X-Internal\" => \"1\" )\n    }\n");
            }
            _ => {
                let _ = writeln!(
                    out,
                    "    url.redirect = ( \"^/(.*)$\" => \"https://portal.example.com/$1\" )\n    url.redirect-code = 308"
                );
            }
        }
        out.push_str("}\n");
    }
    out.push('\n');
}

/// `"10.20.a.b"` style backend address and a port.
fn backend(rng: &mut Rng) -> (String, u64) {
    (
        format!("10.20.{}.{}", rng.below(256), 1 + rng.below(254)),
        rng.pick(&[8000, 8080, 8443, 3000, 5000, 9090]),
    )
}

fn backend_list(out: &mut String, rng: &mut Rng, indent: &str, n: u64) {
    for _ in 0..n {
        let (host, port) = backend(rng);
        let _ = writeln!(
            out,
            "{indent}( \"host\" => \"{host}\", \"port\" => {port} ),"
        );
    }
}

fn host_name(rng: &mut Rng, site: usize) -> (String, &'static str) {
    (format!("{}{site}", rng.pick(SITE_WORDS)), rng.pick(DOMAINS))
}

/// An application: static files, rewrites, and API / WebSocket / PHP
/// backends chosen by URL in an `else` chain.
fn app_vhost(out: &mut String, rng: &mut Rng, site: usize) {
    let (name, domain) = host_name(rng, site);
    let _ = writeln!(
        out,
        "# {name}.{domain}: application (API, WebSocket and PHP backends)"
    );
    let _ = writeln!(out, "$HTTP[\"host\"] == \"{name}.{domain}\" {{");
    let _ = writeln!(out, "    var.site      = \"{name}\"");
    out.push_str("    var.site_root = var.basedir + \"/\" + var.site\n");
    out.push_str("    server.document-root = var.site_root + \"/public\"\n");
    out.push_str("    server.errorfile-prefix = var.site_root + \"/errors/status-\"\n\n");
    out.push_str("    alias.url = (\n");
    out.push_str("        \"/static/\" => var.site_root + \"/static/\",\n");
    out.push_str("        \"/media/\"  => var.site_root + \"/media/\",\n");
    if rng.chance(50) {
        out.push_str(
            "        \"/downloads/\" => var.statedir + \"/downloads/\" + var.site + \"/\",\n",
        );
    }
    out.push_str("    )\n");
    out.push_str("    alias.url += ( \"/robots.txt\" => var.common + \"/robots.txt\" )\n\n");
    out.push_str("    url.rewrite-once = (\n");
    out.push_str("        \"^/(static|media)/.*\" => \"$0\",\n");
    let noun = rng.pick(&["product", "article", "item", "page", "post"]);
    let _ = writeln!(
        out,
        "        \"^/{noun}/([0-9]+)(?:-[a-z0-9-]+)?/?$\" => \"/index.php?{noun}=$1\","
    );
    out.push_str("        \"^/c/([a-z0-9-]+)/page/([0-9]+)$\" => \"/index.php?cat=$1&page=$2\",\n");
    out.push_str("        \"^/([^?]*)(?:\\?(.*))?$\" => \"/index.php?q=$1&$2\",\n");
    out.push_str("    )\n");
    out.push_str("    setenv.add-response-header = (\n");
    out.push_str("        \"X-Site\" => var.site,\n");
    out.push_str(
        "        \"Strict-Transport-Security\" => \"max-age=63072000; includeSubDomains\",\n",
    );
    out.push_str("    )\n\n");

    // The URL chain.
    out.push_str("    $HTTP[\"url\"] =^ \"/api/\" {\n");
    out.push_str("        proxy.server = ( \"\" => (\n");
    let n = 1 + rng.below(4);
    backend_list(out, rng, "            ", n);
    out.push_str("        ) )\n");
    let balance = rng.pick(&["round-robin", "least-connection", "hash"]);
    let _ = writeln!(out, "        proxy.balance = \"{balance}\"");
    out.push_str("        proxy.forwarded = ( \"for\" => 1, \"proto\" => 1, \"host\" => 1 )\n");
    out.push_str("        proxy.header = (\n");
    out.push_str(
        "            \"map-urlpath\" => ( \"/api/v1/\" => \"/v1/\", \"/api/\" => \"/\" ),\n",
    );
    out.push_str("            \"https-remap\" => \"enable\",\n");
    out.push_str("        )\n");
    out.push_str("        $HTTP[\"request-method\"] == \"OPTIONS\" {\n");
    out.push_str(
        "            setenv.add-response-header += ( \"Access-Control-Max-Age\" => \"600\" )\n",
    );
    out.push_str("        }\n");
    out.push_str("    }\n");
    out.push_str("    else $HTTP[\"url\"] =^ \"/ws/\" {\n");
    let (host, port) = backend(rng);
    let _ = writeln!(
        out,
        "        wstunnel.server = ( \"\" => ( ( \"host\" => \"{host}\", \"port\" => {port} ) ) )"
    );
    let frame = rng.pick(&["text", "binary"]);
    let _ = writeln!(out, "        wstunnel.frame-type = \"{frame}\"");
    let _ = writeln!(
        out,
        "        wstunnel.ping-interval = {}",
        rng.pick(&[15, 25, 30, 60])
    );
    let _ = writeln!(
        out,
        "        wstunnel.origins = ( \"https://{name}.{domain}\" )"
    );
    out.push_str("    }\n");
    out.push_str("    else $HTTP[\"url\"] =~ \"^/admin(?:/|$)\" {\n");
    let _ = writeln!(
        out,
        "        $HTTP[\"remoteip\"] != \"10.{}.0.0/16\" {{\n            url.access-deny = ( \"\" )\n        }}",
        rng.below(256)
    );
    out.push_str("    }\n");
    out.push_str("    else $HTTP[\"url\"] =$ \".php\" {\n");
    out.push_str(
        "        proxy.server = ( \".php\" => ( ( \"host\" => \"127.0.0.1\", \"port\" => var.php_port ) ) )\n",
    );
    out.push_str("    }\n");
    out.push_str("    else {\n");
    out.push_str("        # everything else is static; old links move\n");
    out.push_str("        url.redirect = ( \"^/old/(.*)$\" => \"/new/$1\" )\n");
    out.push_str("        url.redirect-code = 301\n");
    out.push_str("    }\n");
    out.push_str("}\n");
}

/// A host matched by regex with captures used in redirects, language
/// prefixes and cache headers by file type.
fn regex_vhost(out: &mut String, rng: &mut Rng, site: usize) {
    let word = rng.pick(SITE_WORDS);
    let d1 = rng.pick(DOMAINS);
    let d2 = rng.pick(DOMAINS);
    let tld = if d1 == d2 {
        regex_escape(d1)
    } else {
        format!("{}|{}", regex_escape(d1), regex_escape(d2))
    };
    let _ = writeln!(
        out,
        "# {word}{site}: every domain variant, with and without www"
    );
    let _ = writeln!(
        out,
        "$HTTP[\"host\"] =~ \"^(?:www\\.)?({word}{site})\\.({tld})$\" {{"
    );
    let _ = writeln!(
        out,
        "    server.document-root = var.basedir + \"/{word}{site}/htdocs\""
    );
    out.push_str("    url.redirect = ( \"^/legacy/(.*)$\" => \"https://%1.%2/$1\" )\n");
    let langs: Vec<&str> = (0..3 + rng.below(4)).map(|_| rng.pick(LANGS)).collect();
    let mut uniq: Vec<&str> = Vec::new();
    for l in langs {
        if !uniq.contains(&l) {
            uniq.push(l);
        }
    }
    let alt = uniq.join("|");
    let _ = writeln!(out, "    $HTTP[\"url\"] =~ \"^/({alt})/(.*)$\" {{");
    let _ = writeln!(
        out,
        "        url.rewrite-once = ( \"^/({alt})/(.*)$\" => \"/$2?lang=$1\" )"
    );
    out.push_str("        setenv.add-request-header = ( \"X-Lang\" => \"%1\" )\n");
    out.push_str("    }\n");
    out.push_str("    else $HTTP[\"url\"] =~ \"\\.(?:css|js|png|jpe?g|gif|svg|woff2?)$\" {\n");
    let age = rng.pick(&[3600, 86400, 604800, 31536000]);
    let _ = writeln!(
        out,
        "        setenv.set-response-header = ( \"Cache-Control\" => \"public, max-age={age}\" )"
    );
    out.push_str("    }\n");
    if rng.chance(50) {
        out.push_str("    else $HTTP[\"url\"] =^ \"/feed\" {\n");
        out.push_str("        url.rewrite-once = ( \"^/feed/?(.*)$\" => \"/feed.php?$1\" )\n");
        out.push_str("    }\n");
    }
    out.push_str("}\n");
    let _ = writeln!(
        out,
        "else $HTTP[\"host\"] =~ \"^{word}{site}-(staging|preview)\\.example\\.com$\" {{"
    );
    let _ = writeln!(
        out,
        "    server.document-root = var.basedir + \"/{word}{site}/%1\""
    );
    out.push_str("    $HTTP[\"remoteip\"] != \"192.168.0.0/16\" {\n");
    out.push_str("        url.access-deny = ( \"\" )\n");
    out.push_str("    }\n");
    out.push_str("}\n");
}

fn regex_escape(s: &str) -> String {
    s.replace('.', "\\.")
}

/// A static-content host: many aliases, deny lists, a bot rule.
fn static_vhost(out: &mut String, rng: &mut Rng, site: usize) {
    let (name, domain) = host_name(rng, site);
    let _ = writeln!(out, "# {name}.{domain}: static assets");
    let _ = writeln!(out, "$HTTP[\"host\"] == \"{name}.{domain}\" {{");
    let _ = writeln!(
        out,
        "    server.document-root = var.basedir + \"/{name}/assets\""
    );
    out.push_str("    alias.url = (\n");
    let n = 3 + rng.below(6);
    for k in 0..n {
        let dir = rng.pick(&["img", "css", "js", "fonts", "video", "dl", "docs"]);
        let _ = writeln!(
            out,
            "        \"/{dir}{k}/\" => var.basedir + \"/{name}/{dir}/v{k}/\","
        );
    }
    out.push_str("    )\n");
    out.push_str("    url.access-deny += ( \".map\", \".orig\" )\n");
    out.push_str("    $HTTP[\"useragent\"] =~ \"(?i)(bot|crawler|spider)\" {\n");
    out.push_str("        url.access-deny = ( \".mp4\", \".webm\" )\n");
    out.push_str("    }\n");
    out.push_str("    $HTTP[\"url\"] =$ \".gz\" {\n");
    out.push_str("        setenv.set-response-header = ( \"Content-Encoding\" => \"gzip\" )\n");
    out.push_str("    }\n");
    out.push_str("    else $HTTP[\"url\"] =$ \".br\" {\n");
    out.push_str("        setenv.set-response-header = ( \"Content-Encoding\" => \"br\" )\n");
    out.push_str("    }\n");
    out.push_str("}\n");
}

/// Retired names sent to their successors: `==`, `=$`, `=^` in one chain.
fn redirect_chain(out: &mut String, rng: &mut Rng, site: usize) {
    let target = format!("{}{site}", rng.pick(SITE_WORDS));
    let domain = rng.pick(DOMAINS);
    let _ = writeln!(out, "# retired names of {target}.{domain}");
    let _ = writeln!(out, "$HTTP[\"host\"] == \"old-{target}.{domain}\" {{");
    let _ = writeln!(
        out,
        "    url.redirect = ( \"^/(.*)$\" => \"https://{target}.{domain}/$1\" )"
    );
    out.push_str("}\n");
    let _ = writeln!(out, "else $HTTP[\"host\"] =$ \".legacy-{target}.net\" {{");
    let _ = writeln!(
        out,
        "    url.redirect = ( \"^/(.*)$\" => \"https://{target}.{domain}/legacy/$1\" )"
    );
    out.push_str("    url.redirect-code = 308\n");
    out.push_str("}\n");
    if rng.chance(60) {
        let _ = writeln!(out, "else $HTTP[\"host\"] =^ \"intranet-{target}.\" {{");
        let _ = writeln!(
            out,
            "    url.redirect = ( \"\" => \"https://{target}.{domain}/intranet\" )"
        );
        out.push_str("}\n");
    }
}

/// A versioned API: plain HTTP upgraded, several backend pools by path.
fn api_vhost(out: &mut String, rng: &mut Rng, site: usize) {
    let domain = rng.pick(DOMAINS);
    let name = format!("api{site}");
    let _ = writeln!(out, "# {name}.{domain}: public API");
    let _ = writeln!(out, "$HTTP[\"host\"] == \"{name}.{domain}\" {{");
    out.push_str("    $HTTP[\"scheme\"] == \"http\" {\n");
    let _ = writeln!(
        out,
        "        url.redirect = ( \"^/(.*)$\" => \"https://{name}.{domain}/$1\" )"
    );
    out.push_str("        url.redirect-code = 308\n");
    out.push_str("    }\n");
    out.push_str("    else {\n");
    out.push_str("        proxy.server = (\n");
    for prefix in ["/v1/", "/v2/", ""] {
        let _ = writeln!(out, "            \"{prefix}\" => (");
        let n = 1 + rng.below(3);
        backend_list(out, rng, "                ", n);
        out.push_str("            ),\n");
    }
    out.push_str("        )\n");
    out.push_str("        proxy.balance = \"hash\"\n");
    out.push_str("        proxy.replace-http-host = 1\n");
    out.push_str("        $HTTP[\"querystring\"] =~ \"(?:^|&)debug=1(?:&|$)\" {\n");
    out.push_str("            setenv.add-request-header = ( \"X-Debug\" => \"1\" )\n");
    out.push_str("        }\n");
    out.push_str("        $REQUEST_HEADER[\"X-Api-Version\"] == \"2\" {\n");
    out.push_str("            proxy.header = ( \"map-urlpath\" => ( \"/\" => \"/v2/\" ) )\n");
    out.push_str("        }\n");
    out.push_str("    }\n");
    out.push_str("}\n");
}

fn footer(out: &mut String) {
    out.push_str(
        r#"## Late additions.
server.modules += (
    "mod_indexfile",
    "mod_staticfile",
)
setenv.add-response-header += ( "X-Frontend" => "1" )
# end of generated configuration
"#,
    );
}
