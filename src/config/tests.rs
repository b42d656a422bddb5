//! End-to-end tests of `load` + `print` that need no lighttpd: evaluation
//! semantics beyond the public corpus, include handling, and the places
//! where wick deliberately refuses what lighttpd 1.4.69 lets through.

use std::collections::HashMap;
use std::ffi::OsString;

use super::*;

fn env_with(vars: &[(&str, &str)]) -> Environment {
    Environment {
        cwd: Some(b"/cwd".to_vec()),
        pid: 42,
        vars: vars
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect::<HashMap<_, _>>(),
        allow_includes: true,
    }
}

fn load_str(text: &str) -> Result<Config, ConfigError> {
    load(b"test.conf", text.as_bytes().to_vec(), &env_with(&[]))
}

/// `-p` output without the var.CWD / var.PID lines.
fn printed(text: &str) -> String {
    let c = load_str(text).unwrap_or_else(|e| panic!("{text:?}: {}", e.diagnostics[0].message));
    let out = String::from_utf8(print::print(&c)).expect("utf-8");
    out.lines()
        .filter(|l| !l.starts_with("    var.CWD") && !l.starts_with("    var.PID"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn refused(text: &str) -> Diagnostic {
    match load_str(text) {
        Ok(_) => panic!("{text:?} should be refused"),
        Err(e) => e
            .diagnostics
            .into_iter()
            .find(|d| d.is_error())
            .expect("an error"),
    }
}

/// var.CWD and var.PID are real entries and take part in `+=` reordering.
#[test]
fn predefined_variables() {
    let c = load_str("x = var.PID + 1\ny = var.CWD + \"/a\"\n").unwrap();
    let top = c.top();
    assert_eq!(
        top.entries.get(b"var.x").unwrap().value,
        value::Value::Int(43)
    );
    assert_eq!(
        top.entries.get(b"var.y").unwrap().value,
        value::Value::Str("/cwd/a".into())
    );
    // `var.PID += 1` moves the last entry into PID's slot (spec §6).
    let out = printed("a = 1\nvar.PID += 1\n");
    assert!(out.starts_with("config {\n    var.a   = 1\n"), "{out}");
}

/// The stored spelling is the one of the statement that last inserted it.
#[test]
fn key_spelling_follows_last_insert() {
    assert!(printed("X = 1\nx += 1\n").contains("var.x   = 2"));
    assert!(printed("X = 1\nx := 5\n").contains("var.x   = 5"));
}

/// `+=` in a block starts from the value visible in the enclosing blocks,
/// not from an else-chain predecessor or a sibling.
#[test]
fn append_sees_lexical_parents_only() {
    let out = printed(
        "l = (\"top\")\n$HTTP[\"host\"] == \"a\" { l += (\"a\") }\nelse { l += (\"b\") }\n",
    );
    assert!(out.contains("var.l = (\"top\", \"a\")"), "{out}");
    assert!(out.contains("var.l = (\"top\", \"b\")"), "{out}");
}

/// Inside `global { }` only top-level values are visible.
#[test]
fn global_block_sees_top_level_only() {
    let d = refused("$HTTP[\"host\"] == \"a\" { inner = 1\n global { x = inner } }\n");
    assert_eq!(d.message, "undefined variable `var.inner`");
}

/// Conditions are refused inside `global { }`, also through nesting.
#[test]
fn no_conditions_in_global() {
    let d = refused("global { $HTTP[\"host\"] == \"a\" { } }\n");
    assert!(
        d.lighttpd
            .as_deref()
            .unwrap()
            .contains("Cannot use conditionals")
    );
    let d = refused("global { global { x = 1 } }\n");
    assert!(d.message.contains("global"));
}

/// env.* reads the environment as strings; assigning to it is refused.
#[test]
fn env_variables() {
    let c = load(
        b"t.conf",
        b"server.port = env.PORT\n".to_vec(),
        &env_with(&[("PORT", "8080")]),
    )
    .unwrap();
    assert_eq!(
        c.top().entries.get(b"server.port").unwrap().value,
        value::Value::Str("8080".into())
    );
    assert_eq!(
        refused("x = env.NOPE\n").message,
        "environment variable `NOPE` is not set"
    );
    assert!(
        refused("env.X = 1\n")
            .lighttpd
            .as_deref()
            .unwrap()
            .starts_with("Setting env variable")
    );
    assert!(
        refused("env.X += 1\n")
            .lighttpd
            .as_deref()
            .unwrap()
            .starts_with("Appending env variable")
    );
    // `ENV.x` is an ordinary key (the prefix test is case-sensitive).
    assert!(printed("ENV.x = 1\n").contains("    ENV.x   = 1\n"));
}

/// Plain `else` blocks are named after the negated previous branch, so a
/// later standalone `!=` block re-opens them (spec §9.7) — with a warning.
#[test]
fn standalone_negation_reopens_else_branch() {
    let c = load_str(
        "$HTTP[\"host\"] == \"a\" { x = 1 } else { y = 2 }\n$HTTP[\"host\"] != \"a\" { z = 3 }\n",
    )
    .unwrap();
    assert_eq!(c.blocks.len(), 3);
    assert_eq!(c.blocks[2].entries.len(), 2);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.message.contains("re-opens a branch"))
    );
}

/// An else branch naming a block that already exists is unreachable.
#[test]
fn unreachable_else() {
    let d = refused("$HTTP[\"host\"] != \"a\" { }\n$HTTP[\"host\"] == \"a\" { } else { }\n");
    assert_eq!(d.lighttpd.as_deref(), Some("unreachable else condition"));
}

/// Re-opening a chain head and giving it a second else chain re-links it:
/// the first else-if member is no longer printed (as lighttpd -p).
#[test]
fn second_else_chain_relinks_head() {
    let out = printed(
        "$HTTP[\"host\"] == \"a\" { } else $HTTP[\"host\"] == \"b\" { x = 1 }\n\
         $HTTP[\"host\"] == \"a\" { } else $HTTP[\"host\"] == \"c\" { y = 1 }\n",
    );
    assert!(!out.contains("\"b\""), "{out}");
    assert!(out.contains("else $HTTP[\"host\"] == \"c\""), "{out}");
}

/// Condition values must be strings; fields must exist.
#[test]
fn condition_value_and_field_checks() {
    assert_eq!(
        refused("$SERVER[\"socket\"] == 443 { }\n")
            .lighttpd
            .as_deref(),
        Some("rvalue must be string")
    );
    let d = refused("$HTTP[\"method\"] == \"GET\" { }\n");
    assert_eq!(d.help, ["did you mean `$HTTP[\"request-method\"]`?"]);
    let d = refused("$HTTP[\"hots\"] == \"a\" { }\n");
    assert_eq!(d.help, ["did you mean `$HTTP[\"host\"]`?"]);
}

/// lighttpd 1.4.69 accepts bad CIDR lengths and bad IPv6 in remoteip
/// conditions and then never matches; wick refuses them.
#[test]
fn broken_remoteip_conditions_are_refused() {
    for v in ["10.0.0.0/33", "10.0.0.0/abc", "zz::zz", "::1/200"] {
        let d = refused(&format!("$HTTP[\"remoteip\"] == \"{v}\" {{ }}\n"));
        assert!(d.message.contains("in condition"), "{v}: {}", d.message);
    }
    assert!(load_str("$HTTP[\"remoteip\"] =~ \"^10\\\\.\" { }\n").is_ok());
}

/// `=~ "^10"` on remoteip is simplified to a prefix match and then checked
/// as an address, as lighttpd does; the help says why.
#[test]
fn simplified_remoteip_regex_explains_itself() {
    let d = refused("$HTTP[\"remoteip\"] =~ \"^10\" { }\n");
    assert!(d.help[0].contains("read as `=^ \"10\"`"), "{:?}", d.help);
}

/// Regexes are compiled at load; PCRE features beyond `regex` still load.
#[test]
fn condition_regexes() {
    assert!(load_str("$HTTP[\"url\"] =~ \"^/(?!admin)\" { }\n").is_ok());
    assert!(
        refused("$HTTP[\"url\"] =~ \"^/(a\" { }\n")
            .message
            .starts_with("cannot compile regex")
    );
}

/// Includes: relative to the main file's directory, globs, cycles refused.
#[test]
fn includes() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::create_dir(p("conf.d")).unwrap();
    std::fs::write(p("conf.d/b.conf"), "b = 2\n").unwrap();
    std::fs::write(p("conf.d/a.conf"), "a = 1\n").unwrap();
    std::fs::write(
        p("main.conf"),
        "include \"conf.d/*.conf\"\ninclude \"none/*.conf\"\n",
    )
    .unwrap();
    let main = p("main.conf");
    let main_b = main.to_str().unwrap().as_bytes();
    let c = load(main_b, std::fs::read(&main).unwrap(), &env_with(&[])).unwrap();
    let keys: Vec<String> = c
        .top()
        .entries
        .entries()
        .iter()
        .map(|e| e.key.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["var.CWD", "var.PID", "var.a", "var.b"]);

    std::fs::write(p("loop.conf"), "include \"loop.conf\"\n").unwrap();
    let lp = p("loop.conf");
    let e = load(
        lp.to_str().unwrap().as_bytes(),
        std::fs::read(&lp).unwrap(),
        &env_with(&[]),
    )
    .unwrap_err();
    assert!(
        e.diagnostics[0].message.starts_with("include cycle"),
        "{}",
        e.diagnostics[0].message
    );

    let e = load_str("include \"/nonexistent/wick/x.conf\"\n").unwrap_err();
    assert_eq!(
        e.diagnostics[0].message,
        "include file not found: /nonexistent/wick/x.conf"
    );
}

/// include_shell output is parsed; errors inside it name the command.
#[test]
fn include_shell_output() {
    let c = load_str("include_shell \"printf 'x = 1\\n'\"\n").unwrap();
    assert!(c.top().entries.get(b"var.x").is_some());
    let e = load_str("include_shell \"echo 'x = ;'\"\n").unwrap_err();
    let rendered = e.diagnostics[0].render(&e.sources, false);
    assert!(rendered.contains("--> echo 'x = ;':1:5"), "{rendered}");
    assert!(
        rendered.contains("is read by include_shell at test.conf:1:1"),
        "{rendered}"
    );
    let e = load_str("include_shell \"exit 3\"\n").unwrap_err();
    assert_eq!(
        e.diagnostics[0].lighttpd.as_deref(),
        Some("command \"exit 3\" exited non-zero: 3")
    );
}

/// A sandboxed environment refuses includes (used by the fuzzer).
#[test]
fn sandbox_refuses_includes() {
    let e = load(
        b"f.conf",
        b"include_shell \"true\"\n".to_vec(),
        &Environment::sandboxed(),
    )
    .unwrap_err();
    assert_eq!(e.diagnostics[0].message, "includes are disabled here");
}

/// Core directive types are checked in every block; server-scope ones warn
/// in conditions; value checks run at the top level only.
#[test]
fn core_directive_checks() {
    assert!(
        refused("$HTTP[\"host\"] == \"a\" { server.document-root = 5 }\n")
            .message
            .contains("expects a string")
    );
    let c = load_str("$HTTP[\"host\"] == \"a\" { server.port = 81 }\n").unwrap();
    assert!(
        c.warnings
            .iter()
            .any(|w| w.message.contains("in a condition is ignored"))
    );
    assert!(load_str("$HTTP[\"host\"] == \"a\" { server.stat-cache-engine = \"foo\" }\n").is_ok());
    assert!(
        refused("server.stat-cache-engine = \"foo\"\n")
            .message
            .contains("stat-cache-engine")
    );
    let d = refused("server.http-parseopts = (\"url-normalise\" => \"enable\")\n");
    assert_eq!(d.help, ["did you mean `url-normalize`?"]);
    assert!(
        refused("server.range-requests = \"on\"\n")
            .message
            .contains("\"enable\" or \"disable\"")
    );
    assert!(load_str("Server.Port = \"080\"\n").is_ok());
    assert!(
        refused("Server.Port = \"0x50\"\n")
            .message
            .contains("server.port")
    );
}

/// Errors keep the warnings met before them.
#[test]
fn errors_come_with_earlier_warnings() {
    let e = load_str("x = 1,\n$HTTP[\"host\"] == \"a\" { server.port = 1 }\nserver.tag = 5\n")
        .unwrap_err();
    assert!(e.diagnostics.iter().any(|d| !d.is_error()));
    assert!(e.diagnostics.iter().any(|d| d.is_error()));
}

/// `%1`, `$1`, `%%` are literal text for the parser (modules give them
/// meaning, spec §9.9); a simplified `=~` keeps its regex for captures.
#[test]
fn captures_are_not_interpolated_and_keep_their_regex() {
    let c =
        load_str("$HTTP[\"url\"] =~ \"^/x\" { url.redirect = ( \"^/(.*)\" => \"/y/$1?%0%%\" ) }\n")
            .unwrap();
    let out = String::from_utf8(print::print(&c)).unwrap();
    assert!(out.contains("\"^/(.*)\" => \"/y/$1?%0%%\""), "{out}");
    let cond = c.blocks[1].cond.as_ref().unwrap();
    assert_eq!(cond.op, ast::CondOp::Prefix);
    let p = cond.capture_pattern().expect("written as a regex");
    assert!(p.is_match(b"/x/abc"));
    assert!(!p.is_match(b"/y"));
}
