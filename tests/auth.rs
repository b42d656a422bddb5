//! mod_auth with mod_authn_file: HTTP Basic authentication against the
//! three user files, where wick answers on its own terms; what lighttpd
//! does is compared request by request in compat-tests/tests/auth.rs.

mod support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use support::Wick;

const BASE: &str =
    "server.document-root = \"{root}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n";

/// The users of the htpasswd file, each with a hash of another kind, and
/// their passwords.
const USERS: &[(&str, &str, &str)] = &[
    ("apr", "$apr1$RandSalt$PgCXHRrkpSt4cbyC2C6bm/", "password"),
    ("sha", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret"),
    (
        "six",
        "$6$saltsalt$zbZZJw9dQLM1VBGMVuVv9FJXSOj8vv2sUrfb5i2UT83KdLYKDL2JppxS/Lr9/dw0L/dPlaAz.1fRwkuw.w9IS/",
        "sixpw",
    ),
    (
        "bc",
        "$2b$04$zqkZmXXFUkFEJ4GIYiAx3.cFifEo3CjHd90FdLDIOGGAWdhV.e6BO",
        "bcpw",
    ),
    (
        "yes",
        "$y$j9T$abcdefghijklmnop$5ToL4.hW4ay4sMpcEpwVWy1V3UhPVAxwElVWSJAfKS9",
        "yespw",
    ),
];

fn start(conf: &str) -> Wick {
    Wick::start_with(&format!("{BASE}{conf}"), &["-D"], |dir| {
        let root = dir.join("htdocs");
        std::fs::create_dir_all(root.join("private/deeper")).expect("mkdir");
        std::fs::write(root.join("private/s.txt"), "secret\n").expect("write");
        std::fs::write(root.join("private/deeper/d.txt"), "deeper\n").expect("write");
        std::fs::write(root.join("open.txt"), "open\n").expect("write");
        let htpasswd: String = USERS.iter().map(|(u, h, _)| format!("{u}:{h}\n")).collect();
        std::fs::write(dir.join("htpasswd"), format!("# users\n{htpasswd}")).expect("write");
        std::fs::write(dir.join("plain"), "al:alpw\r\nbo:bo:pw\n").expect("write");
        // md5("dig:Zone:digpw")
        std::fs::write(
            dir.join("htdigest"),
            "dig:Other:00000000000000000000000000000000\ndig:Zone:908eb084e025dd19f74a8db9e2a007e1\n",
        )
        .expect("write");
    })
}

fn basic(user: &str, pass: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {b}")
}

const CHALLENGE: &str = "Basic realm=\"Zone\", charset=\"UTF-8\"";

/// Every kind of htpasswd hash lets its user in; a wrong password is
/// answered with 401 after a delay, missing credentials at once; the user
/// is in the access log.
#[test]
fn htpasswd_hashes_and_answers() {
    let w = start(
        "server.modules = ( \"mod_auth\", \"mod_authn_file\", \"mod_accesslog\" )\n\
         accesslog.filename = \"{dir}/access.log\"\n\
         auth.backend = \"htpasswd\"\n\
         auth.backend.htpasswd.userfile = \"{dir}/htpasswd\"\n\
         auth.require = ( \"/private\" => ( \"method\" => \"basic\", \"realm\" => \"Zone\", \"require\" => \"valid-user\" ) )\n",
    );
    let open = w.get("/open.txt");
    assert_eq!(open.status, 200);
    let none = w.get("/private/s.txt");
    assert_eq!(none.status, 401, "{}", w.stderr());
    assert_eq!(none.header("www-authenticate"), Some(CHALLENGE));
    for (user, _, pass) in USERS {
        let r = w.request(
            "GET",
            "/private/s.txt",
            &[("Authorization", &basic(user, pass))],
        );
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"secret\n"[..]),
            "{user}"
        );
        let r = w.request(
            "GET",
            "/private/s.txt",
            &[("Authorization", &basic(user, &format!("{pass}x")))],
        );
        assert_eq!(r.status, 401, "{user} with a wrong password");
    }
    let t = Instant::now();
    let r = w.request(
        "GET",
        "/private/s.txt",
        &[("Authorization", &basic("nobody", "x"))],
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some(CHALLENGE));
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "wrong credentials wait"
    );
    // other schemes ask again; credentials that cannot be read are a 400
    let r = w.request("GET", "/private/s.txt", &[("Authorization", "Bearer abc")]);
    assert_eq!(r.status, 401);
    let r = w.request("GET", "/private/s.txt", &[("Authorization", "Basic !!!")]);
    assert_eq!((r.status, r.header("www-authenticate")), (400, None));
    let nocolon = base64::engine::general_purpose::STANDARD.encode("apr");
    let r = w.request(
        "GET",
        "/private/s.txt",
        &[("Authorization", &format!("Basic {nocolon}"))],
    );
    assert_eq!(r.status, 400);
    // scheme in any case, padding optional
    let b = basic("apr", "password").replace("Basic", "bASIC");
    let r = w.request(
        "GET",
        "/private/s.txt",
        &[("Authorization", b.trim_end_matches('='))],
    );
    assert_eq!(r.status, 200);
    let log = std::fs::read_to_string(w.root().join("../access.log")).unwrap_or_default();
    assert!(log.contains(" apr ["), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains(" - [") && l.contains(" 401 ")),
        "{log}"
    );
}

/// `user=` alternatives (a group never matches), the first listed prefix,
/// the plain and htdigest files, and a missing user file (401).
#[test]
fn require_users_prefixes_and_other_files() {
    let w = start(
        "server.modules = ( \"mod_auth\" )\n\
         auth.backend = \"plain\"\n\
         auth.backend.plain.userfile = \"{dir}/plain\"\n\
         auth.require = ( \"/private\" => ( \"method\" => \"basic\", \"realm\" => \"Zone\", \"require\" => \"group=staff|user=bo|user=zed|\" ),\n\
                          \"/private/deeper\" => ( \"method\" => \"basic\", \"realm\" => \"Zone\", \"require\" => \"valid-user\" ) )\n\
         $HTTP[\"url\"] =~ \"^/private/deeper/\" {\n\
           auth.backend = \"htdigest\"\n\
           auth.backend.htdigest.userfile = \"{dir}/htdigest\"\n\
         }\n\
         $HTTP[\"host\"] == \"gone.example\" { auth.backend.plain.userfile = \"{dir}/missing\" }\n",
    );
    let get = |path: &str, user: &str, pass: &str| {
        w.request("GET", path, &[("Authorization", &basic(user, pass))])
            .status
    };
    // al is in the file but not in require; bo's password has a colon
    assert_eq!(get("/private/s.txt", "al", "alpw"), 401);
    assert_eq!(get("/private/s.txt", "bo", "bo:pw"), 200, "{}", w.stderr());
    // the first listed prefix decides (not the longest), so only bo
    // gets into /private/deeper; it is checked against htdigest there
    assert_eq!(get("/private/deeper/d.txt", "dig", "digpw"), 401);
    assert_eq!(get("/private/deeper/d.txt", "bo", "bo:pw"), 401);
    let gone = w.raw(&format!(
        "GET /private/s.txt HTTP/1.1\r\nHost: gone.example\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        basic("bo", "bo:pw")
    ));
    // a user file that cannot be read lets nobody in
    assert!(
        gone.starts_with(b"HTTP/1.1 401 "),
        "{}",
        String::from_utf8_lossy(&gone)
    );
}

/// htdigest lines count for their realm only; Basic credentials are
/// checked against the MD5 of user:realm:password.
#[test]
fn htdigest_realm() {
    let w = start(
        "server.modules = ( \"mod_auth\" )\n\
         auth.backend = \"htdigest\"\n\
         auth.backend.htdigest.userfile = \"{dir}/htdigest\"\n\
         auth.require = ( \"/private\" => ( \"method\" => \"basic\", \"realm\" => \"Zone\", \"require\" => \"valid-user\" ),\n\
                          \"\" => ( \"method\" => \"basic\", \"realm\" => \"Other\", \"require\" => \"valid-user\" ) )\n",
    );
    let r = w.request(
        "GET",
        "/private/s.txt",
        &[("Authorization", &basic("dig", "digpw"))],
    );
    assert_eq!(r.status, 200, "{}", w.stderr());
    let r = w.request(
        "GET",
        "/open.txt",
        &[("Authorization", &basic("dig", "digpw"))],
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"Other\", charset=\"UTF-8\"")
    );
}

/// A path under auth.require with no auth.backend is a 500 for everyone;
/// `auth.delay-invalid-creds` off answers wrong credentials at once.
#[test]
fn no_backend_and_no_delay() {
    let w = start(
        "server.modules = ( \"mod_auth\" )\n\
         server.feature-flags = ( \"auth.delay-invalid-creds\" => \"disable\" )\n\
         auth.backend.plain.userfile = \"{dir}/plain\"\n\
         auth.require = ( \"/private\" => ( \"method\" => \"basic\", \"realm\" => \"Zone\", \"require\" => \"valid-user\" ) )\n\
         $HTTP[\"url\"] =~ \"^/private/deeper\" { auth.backend = \"plain\" }\n",
    );
    assert_eq!(w.get("/private/s.txt").status, 500, "{}", w.stderr());
    let r = w.request(
        "GET",
        "/private/s.txt",
        &[("Authorization", &basic("al", "alpw"))],
    );
    assert_eq!(r.status, 500);
    let ok = w.request(
        "GET",
        "/private/deeper/d.txt",
        &[("Authorization", &basic("al", "alpw"))],
    );
    assert_eq!(ok.status, 200);
    let t = Instant::now();
    let r = w.request(
        "GET",
        "/private/deeper/d.txt",
        &[("Authorization", &basic("al", "no"))],
    );
    assert_eq!(r.status, 401);
    assert!(t.elapsed() < Duration::from_millis(900), "no delay");
}

/// Where mod_auth sits in server.modules decides whether mod_redirect
/// answers first.
#[test]
fn module_order_with_redirect() {
    let conf = |modules: &str| {
        format!(
            "server.modules = ( {modules} )\n\
             auth.backend = \"plain\"\n\
             auth.backend.plain.userfile = \"{{dir}}/plain\"\n\
             url.redirect = ( \"^/private/go$\" => \"/open.txt\" )\n\
             auth.require = ( \"/private\" => ( \"method\" => \"basic\", \"realm\" => \"Zone\", \"require\" => \"valid-user\" ) )\n"
        )
    };
    let w = start(&conf("\"mod_auth\", \"mod_redirect\""));
    assert_eq!(w.get("/private/go").status, 401);
    drop(w);
    let w = start(&conf("\"mod_redirect\", \"mod_auth\""));
    assert_eq!(w.get("/private/go").status, 301);
}

/// What wick does not implement of mod_auth is refused at start, named.
#[test]
fn unimplemented_parts_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (conf, says) in [
        (
            "auth.require = ( \"/\" => ( \"method\" => \"digest\", \"realm\" => \"r\", \"require\" => \"valid-user\" ) )",
            "method \"digest\" is not implemented",
        ),
        (
            "auth.require = ( \"/\" => ( \"method\" => \"basic\", \"realm\" => \"r\", \"require\" => \"valid-user|user=a\" ) )",
            "cannot read require",
        ),
        (
            "auth.require = ( \"/\" => ( \"method\" => \"basic\", \"require\" => \"valid-user\" ) )",
            "\"realm\" is missing",
        ),
        ("auth.backend = \"ldap\"", "mod_authn_ldap is not supported"),
        (
            "auth.backend = \"pam\"",
            "auth.backend \"pam\" is not supported",
        ),
    ] {
        let path = dir.path().join("a.conf");
        std::fs::write(
            &path,
            format!("server.document-root = \"/tmp\"\nserver.modules = ( \"mod_auth\" )\n{conf}\n"),
        )
        .expect("write");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wick"))
            .args(["-tt", "-f"])
            .arg(&path)
            .output()
            .expect("run wick");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{conf}: {err}");
        assert!(err.contains(says), "{conf}: {err}");
    }
}

/// A 401 keeps its status and challenge with `server.error-handler`'s
/// page, unless that page is under a rule itself (then the standard page).
#[test]
fn error_handler_page() {
    let conf = |handler: &str| {
        format!(
            "server.modules = ( \"mod_auth\" )\n\
             server.error-handler = \"{handler}\"\n\
             auth.backend = \"plain\"\n\
             auth.backend.plain.userfile = \"{{dir}}/plain\"\n\
             auth.require = ( \"/private\" => ( \"method\" => \"basic\", \"realm\" => \"Zone\", \"require\" => \"valid-user\" ) )\n"
        )
    };
    let w = start(&conf("/open.txt"));
    let r = w.get("/private/s.txt");
    assert_eq!((r.status, r.body.as_slice()), (401, &b"open\n"[..]));
    assert_eq!(r.header("www-authenticate"), Some(CHALLENGE));
    drop(w);
    let w = start(&conf("/private/s.txt"));
    let r = w.get("/private/s.txt");
    assert_eq!(r.status, 401);
    assert!(String::from_utf8_lossy(&r.body).contains("<h1>401 Unauthorized</h1>"));
}
