//! Routing: conditions decided per request, else chains, patches in block order.

use http::HeaderMap;

use super::*;
use crate::config::load;

fn table(text: &str) -> RoutingTable {
    let env = crate::config::Environment::sandboxed();
    let c = load(b"t.conf", text.as_bytes().to_vec(), &env).expect("config loads");
    RoutingTable::compile(&c).expect("compiles")
}

struct Req {
    url: &'static str,
    host: &'static str,
    remote: &'static str,
    headers: HeaderMap,
}

fn req(url: &'static str, host: &'static str) -> Req {
    Req {
        url,
        host,
        remote: "127.0.0.1",
        headers: HeaderMap::new(),
    }
}

fn route<'t>(t: &'t RoutingTable, r: &Req) -> Route<'t> {
    let client = Client::Ip(r.remote.parse().expect("ip"));
    let text = client.text();
    let socket = SocketId {
        token: ":8080".into(),
        port: 8080,
        ip: Some("0.0.0.0".parse().expect("ip")),
    };
    let input = CondInput {
        url: r.url.as_bytes(),
        host: r.host.as_bytes(),
        query: b"",
        method: b"GET",
        scheme: b"http",
        headers: &r.headers,
        remote: &client,
        remote_text: &text,
        socket: &socket,
    };
    let conn = t.connection(&input);
    t.route(&conn, &input)
}

fn docroot(r: &Route) -> String {
    String::from_utf8_lossy(r.settings.document_root.as_deref().unwrap_or(b"")).into_owned()
}

/// An else chain takes the first branch that holds, and only that one.
#[test]
fn else_chain_takes_first_match_only() {
    let t = table(
        "server.document-root = \"/top\"\n\
         $HTTP[\"host\"] == \"a.example\" { server.document-root = \"/a\" }\n\
         else $HTTP[\"host\"] =~ \"example\" { server.document-root = \"/re\" }\n\
         else { server.document-root = \"/else\" }\n",
    );
    assert_eq!(docroot(&route(&t, &req("/", "a.example"))), "/a");
    assert_eq!(docroot(&route(&t, &req("/", "a.example:8080"))), "/a");
    assert_eq!(docroot(&route(&t, &req("/", "b.example"))), "/re");
    assert_eq!(docroot(&route(&t, &req("/", "other.org"))), "/else");
}

/// Nested blocks need their parent; later blocks override earlier ones.
#[test]
fn nesting_and_order() {
    let t = table(
        "server.document-root = \"/top\"\n\
         $HTTP[\"url\"] =^ \"/app/\" { server.document-root = \"/app\"\n\
           $HTTP[\"host\"] == \"x\" { server.document-root = \"/app-x\" } }\n\
         $HTTP[\"url\"] =$ \".png\" { server.document-root = \"/png\" }\n",
    );
    assert_eq!(docroot(&route(&t, &req("/app/a", "x"))), "/app-x");
    assert_eq!(docroot(&route(&t, &req("/app/a", "y"))), "/app");
    assert_eq!(docroot(&route(&t, &req("/app/a.png", "x"))), "/png");
    assert_eq!(docroot(&route(&t, &req("/b", "x"))), "/top");
}

/// remoteip networks, regexes and negations.
#[test]
fn remoteip_and_negation() {
    let t = table(
        "$HTTP[\"remoteip\"] != \"10.0.0.0/8\" { server.document-root = \"/outside\" }\n\
         $HTTP[\"url\"] !~ \"^/api\" { server.tag = \"not-api\" }\n",
    );
    let mut r = req("/api/x", "h");
    assert_eq!(docroot(&route(&t, &r)), "/outside");
    assert_eq!(
        &*route(&t, &r).settings.server_tag,
        super::settings::DEFAULT_SERVER_TAG.as_bytes()
    );
    r.remote = "10.1.1.1";
    r.url = "/x";
    let out = route(&t, &r);
    assert_eq!(docroot(&out), "");
    assert_eq!(&*out.settings.server_tag, b"not-api");
}

/// Request headers are read case-insensitively; absent ones are empty.
#[test]
fn request_headers() {
    let t = table(
        "$REQUEST_HEADER[\"X-Mode\"] == \"a\" { server.tag = \"a\" }\n\
         $HTTP[\"useragent\"] == \"\" { server.document-root = \"/no-ua\" }\n",
    );
    let mut r = req("/", "h");
    r.headers.insert("x-mode", "a".parse().expect("value"));
    let out = route(&t, &r);
    assert_eq!(&*out.settings.server_tag, b"a");
    assert_eq!(docroot(&out), "/no-ua");
}

/// `$SERVER["socket"]` matches the listener by text or by address.
#[test]
fn server_socket() {
    let t = table(
        "$SERVER[\"socket\"] == \":8080\" { server.tag = \"8080\" }\n\
         $SERVER[\"socket\"] == \":9090\" { server.tag = \"9090\" }\n",
    );
    assert_eq!(&*route(&t, &req("/", "h")).settings.server_tag, b"8080");
}

/// A rewrite or redirect regex written in many blocks (and as a
/// condition) is compiled once for the whole table.
#[test]
fn repeated_patterns_are_shared() {
    let t = table(
        r#"server.modules = ("mod_rewrite", "mod_redirect")
$HTTP["host"] == "a" { url.rewrite-once = ( "^/(.*)$" => "/a/$1" ) }
$HTTP["host"] == "b" { url.rewrite-once = ( "^/(.*)$" => "/b/$1" ) }
$HTTP["host"] == "c" { url.redirect = ( "^/(.*)$" => "http://c/$1" ) }
$HTTP["url"] =~ "^/(.*)$" { }
"#,
    );
    let mut seen = Vec::new();
    for b in &t.blocks {
        for set in &b.patch {
            let list = match set {
                settings::Set::Rewrite(
                    crate::modules::rewrite::RewriteSet::Rules(l, _)
                    | crate::modules::rewrite::RewriteSet::IfNotFile(l, _),
                ) => &l.list,
                settings::Set::Redirect(crate::modules::redirect::RedirectSet::Rules(l)) => l,
                _ => continue,
            };
            seen.extend(list.rules.iter().map(|r| r.pattern.clone()));
        }
        if let Some(cond::Matcher::Regex(p)) = b.cond.as_ref().map(|c| &c.matcher) {
            seen.push(p.clone());
        }
    }
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|p| std::sync::Arc::ptr_eq(p, &seen[0])));
}

/// `dir-listing.exclude` regexes go through the same cache as conditions
/// and rewrite rules.
#[test]
fn dir_listing_excludes_share_compiled_patterns() {
    let t = table(
        r#"server.modules = ("mod_dirlisting")
$HTTP["host"] == "a" { dir-listing.exclude = ( "^\.", "~$" ) }
$HTTP["host"] == "b" { dir-listing.exclude = ( "~$" ) }
$HTTP["url"] =~ "^\." { }
"#,
    );
    let mut seen = Vec::new();
    for b in &t.blocks {
        for set in &b.patch {
            if let settings::Set::DirListing(crate::modules::dirlisting::DirSet::Exclude(list)) =
                set
            {
                seen.extend(list.iter().cloned());
            }
        }
        if let Some(cond::Matcher::Regex(p)) = b.cond.as_ref().map(|c| &c.matcher) {
            seen.push(p.clone());
        }
    }
    assert_eq!(seen.len(), 4);
    // "^\." twice (a block's list and a condition), "~$" twice
    assert!(std::sync::Arc::ptr_eq(&seen[0], &seen[3]));
    assert!(std::sync::Arc::ptr_eq(&seen[1], &seen[2]));
    assert!(!std::sync::Arc::ptr_eq(&seen[0], &seen[1]));
}
