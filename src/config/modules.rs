//! `-tt`: the module list lighttpd would load, and the settings no loaded
//! module reads (spec §11.3–§11.4; lighttpd: `config_plugins_load_auto`,
//! `config_check_unknown_keys`-style pass in `configfile.c`, `plugin.c`).
//!
//! The derived list follows lighttpd's implicit loading
//! (`server.compat-module-load`, on by default): duplicates dropped,
//! `mod_indexfile` / `mod_dirlisting` added or removed by whether a block
//! enables them, `mod_staticfile` always present, a TLS module for `ssl.*`
//! keys, `mod_auth` / `mod_vhostdb` before their backends, `mod_compress`
//! folded into `mod_deflate`.

use bstr::ByteSlice;

use super::check::TLS_MODULES;
use super::diag::Diagnostic;
use super::keys;
use super::modules_table::{CORE_KEYS, MODULES, ModuleDef};
use super::suggest;
use super::tree::Config;
use super::value::{Value, show};

/// What `-tt` found.
#[derive(Debug, Default)]
pub struct ModuleReport {
    /// The modules lighttpd would load, in order.
    pub modules: Vec<String>,
    /// Errors (unknown modules, missing document root) and warnings
    /// (unknown keys).
    pub diagnostics: Vec<Diagnostic>,
}

/// The module named `name`, if lighttpd 1.4.69 has one.
pub fn module(name: &str) -> Option<&'static ModuleDef> {
    MODULES.iter().find(|m| m.name == name)
}

/// True if any block has an entry for one of `keys` whose value `enabled`.
fn any_block(config: &Config, keys: &[&str], enabled: impl Fn(&Value) -> bool) -> bool {
    config.blocks.iter().any(|b| {
        keys.iter().any(|k| {
            b.entries
                .get(k.as_bytes())
                .is_some_and(|e| enabled(&e.value))
        })
    })
}

fn non_empty_list(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty())
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Int(i) => *i != 0,
        Value::Str(s) => keys::parse_bool(s) == Some(true),
        Value::Array(_) => false,
    }
}

/// Runs the `-tt` checks on a loaded configuration.
pub fn check_modules(config: &Config) -> ModuleReport {
    let mut report = ModuleReport::default();
    let top = config.top();
    let listed: Vec<(String, super::source::Span)> = match top.entries.get(b"server.modules") {
        Some(e) => match &e.value {
            Value::Array(a) => a
                .entries()
                .iter()
                .filter_map(|m| m.value.as_str().map(|s| (show(s), m.span)))
                .collect(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    let mut modules: Vec<String> = Vec::new();
    for (name, _) in &listed {
        if !modules.contains(name) {
            modules.push(name.clone());
        }
    }
    let compat = top
        .entries
        .get(b"server.compat-module-load")
        .is_none_or(|e| truthy(&e.value));
    if compat {
        derive_implicit(config, &mut modules, &mut report.diagnostics);
    }
    if let Some(pos) = modules.iter().position(|m| m == "mod_compress") {
        let uses_compress = config.blocks.iter().any(|b| {
            b.entries
                .entries()
                .iter()
                .any(|e| e.key.as_ref().is_some_and(|k| k.starts_with(b"compress.")))
        });
        modules.remove(pos);
        if uses_compress && !modules.iter().any(|m| m == "mod_deflate") {
            modules.insert(pos, "mod_deflate".to_string());
        }
        report.diagnostics.push(
            Diagnostic::warning("mod_compress is deprecated and replaced by mod_deflate")
                .help("list \"mod_deflate\" in server.modules and use deflate.* settings")
                .lighttpd("Warning: \"mod_compress\" is DEPRECATED and has been replaced with \"mod_deflate\""),
        );
    }
    for name in &modules {
        if module(name).is_none() {
            let span = listed.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
            let mut d = Diagnostic::error(format!("unknown module `{name}`"))
                .at_opt(span)
                .label("no such lighttpd module")
                .lighttpd(format!("dlopen() failed for: /usr/lib/lighttpd/{name}.so"));
            if let Some(s) = suggest::closest(name, MODULES.iter().map(|m| m.name)) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            report.diagnostics.push(d);
        }
    }
    let docroot_set = top
        .entries
        .get(b"server.document-root")
        .is_some_and(|e| e.value.as_str().is_some_and(|s| !s.is_empty()));
    if !docroot_set {
        report.diagnostics.push(
            Diagnostic::error("server.document-root is not set")
                .help("set server.document-root at the top level (it is where static files are served from)")
                .lighttpd("server.document-root is not set"),
        );
    }
    unknown_keys(config, &modules, &mut report.diagnostics);
    report.modules = modules;
    report
}

/// lighttpd's implicit module loading (`server.compat-module-load`).
fn derive_implicit(config: &Config, modules: &mut Vec<String>, diags: &mut Vec<Diagnostic>) {
    let has = |m: &Vec<String>, n: &str| m.iter().any(|x| x == n);
    let index = any_block(
        config,
        &["index-file.names", "server.indexfiles"],
        non_empty_list,
    );
    modules.retain(|m| m != "mod_indexfile" || index);
    if index && !has(modules, "mod_indexfile") {
        modules.insert(0, "mod_indexfile".into());
    }
    let dirlisting = any_block(
        config,
        &["dir-listing.activate", "server.dir-listing"],
        truthy,
    );
    modules.retain(|m| m != "mod_dirlisting" || dirlisting);
    if dirlisting && !has(modules, "mod_dirlisting") {
        modules.push("mod_dirlisting".into());
    }
    if !has(modules, "mod_staticfile") {
        modules.push("mod_staticfile".into());
    }
    let ssl = config.blocks.iter().any(|b| {
        b.entries
            .entries()
            .iter()
            .any(|e| e.key.as_ref().is_some_and(|k| k.starts_with(b"ssl.")))
    });
    if ssl && !TLS_MODULES.iter().any(|t| has(modules, t)) {
        modules.push("mod_openssl".into());
    }
    for block in &config.blocks {
        if let Some(Value::Str(backend)) = block.entries.get(b"auth.backend").map(|e| &e.value) {
            let needed = match backend.as_slice() {
                b"htpasswd" | b"htdigest" | b"plain" => Some("mod_authn_file"),
                b"ldap" => Some("mod_authn_ldap"),
                _ => None,
            };
            if let Some(n) = needed {
                if !has(modules, n) {
                    modules.push(n.into());
                    diags.push(
                        Diagnostic::warning(format!(
                            "auth.backend \"{}\" needs {n}",
                            backend.as_bstr()
                        ))
                        .help(format!("add \"{n}\" to server.modules"))
                        .lighttpd(format!(
                            "Warning: please add \"{n}\" to server.modules list in lighttpd.conf."
                        )),
                    );
                }
            }
        }
    }
    if modules.iter().any(|m| m.starts_with("mod_authn_")) && !has(modules, "mod_auth") {
        modules.insert(0, "mod_auth".into());
    }
    if modules.iter().any(|m| m.starts_with("mod_vhostdb_")) && !has(modules, "mod_vhostdb") {
        modules.insert(0, "mod_vhostdb".into());
    }
}

/// Warns about every key neither the core nor a loaded module reads.
fn unknown_keys(config: &Config, modules: &[String], diags: &mut Vec<Diagnostic>) {
    let loaded: Vec<&ModuleDef> = modules.iter().filter_map(|m| module(m)).collect();
    let known = |key: &[u8]| {
        CORE_KEYS
            .iter()
            .any(|k| k.as_bytes().eq_ignore_ascii_case(key))
            || loaded.iter().any(|m| {
                m.keys
                    .iter()
                    .any(|k| k.as_bytes().eq_ignore_ascii_case(key))
            })
    };
    for block in &config.blocks {
        for e in block.entries.entries() {
            let Some(key) = e.key.as_ref() else { continue };
            if key.starts_with(b"var.")
                || (key.starts_with(b"dir-listing.") && key.as_slice() != b"dir-listing.activate")
                || known(key)
            {
                continue;
            }
            let name = show(key);
            let mut d = Diagnostic::warning(format!("unknown config key `{name}` (ignored)"))
                .at(e.key_span)
                .lighttpd(format!("WARNING: unknown config-key: {name} (ignored)"));
            let owner = MODULES.iter().find(|m| {
                m.keys
                    .iter()
                    .any(|k| k.as_bytes().eq_ignore_ascii_case(key))
            });
            if let Some(m) = owner {
                d = d.help(format!(
                    "it belongs to {}, which is not in server.modules",
                    m.name
                ));
            } else {
                let all = CORE_KEYS
                    .iter()
                    .copied()
                    .chain(loaded.iter().flat_map(|m| m.keys.iter().copied()));
                if let Some(s) = suggest::closest(&name, all) {
                    d = d.help(format!("did you mean `{s}`?"));
                } else if let Some(s) =
                    suggest::closest(&name, MODULES.iter().flat_map(|m| m.keys.iter().copied()))
                {
                    d = d.help(format!(
                        "did you mean `{s}` (from a module not in server.modules)?"
                    ));
                }
            }
            diags.push(d);
        }
    }
}
