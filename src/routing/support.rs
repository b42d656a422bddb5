//! What wick implements of lighttpd: which modules and directives it
//! serves with, which it ignores because ignoring them is harmless (with a
//! warning), and which make it refuse to start, naming them.
//!
//! The rule: a directive is never dropped silently, and a directive that
//! restricts access or changes what is served is never dropped at all — a
//! configuration that needs one wick does not have is refused.

use crate::config::value::show;
use crate::config::{Config, Diagnostic};

/// How wick handles a module or directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Implemented with lighttpd's meaning.
    Implemented,
    /// Accepted and ignored: leaving it out changes no response's access
    /// or content. The text says what is lost.
    Ignored(&'static str),
    /// Not implemented: the configuration is refused.
    Refused(&'static str),
}

/// How wick handles a module of `server.modules` (after lighttpd's implicit
/// loading).
pub fn module_support(name: &str) -> Support {
    match name {
        "mod_indexfile" | "mod_staticfile" | "mod_proxy" | "mod_wstunnel" | "mod_access"
        | "mod_alias" | "mod_redirect" | "mod_rewrite" | "mod_setenv" | "mod_extforward"
        | "mod_dirlisting" | "mod_accesslog" | "mod_auth" | "mod_authn_file" => {
            Support::Implemented
        }
        // TLS: any of lighttpd's TLS modules is served with rustls
        n if crate::config::check::TLS_MODULES.contains(&n) => Support::Implemented,
        "mod_deflate" | "mod_compress" => Support::Ignored("responses are sent uncompressed"),
        "mod_expire" => Support::Ignored("no Expires / Cache-Control headers are added"),
        "mod_status" => Support::Ignored("the status pages are not served (404)"),
        _ => Support::Refused("this module is not implemented by wick yet"),
    }
}

/// How wick handles a core directive or a key of an implemented module.
/// Keys of modules that are not loaded are handled by the unknown-key
/// warning, as in lighttpd.
pub fn key_support(key: &str) -> Support {
    match key {
        // per-request settings
        "server.document-root"
        | "server.follow-symlink"
        | "server.force-lowercase-filenames"
        | "server.range-requests"
        | "server.max-keep-alive-requests"
        | "server.max-keep-alive-idle"
        | "server.max-read-idle"
        | "server.max-write-idle"
        | "server.max-request-size"
        | "server.tag"
        | "server.errorfile-prefix"
        | "server.error-handler"
        | "server.error-handler-404"
        | "server.error-intercept"
        | "server.protocol-http11"
        | "server.stream-request-body"
        | "server.stream-response-body"
        | "server.name"
        | "etag.use-inode"
        | "etag.use-mtime"
        | "etag.use-size"
        | "mimetype.assign"
        | "debug.log-request-handling"
        | "debug.log-file-not-found"
        | "debug.log-condition-handling"
        | "index-file.names"
        | "server.indexfiles"
        | "static-file.exclude-extensions"
        | "static-file.etags"
        | "static-file.disable-pathinfo" => Support::Implemented,
        // server-wide settings
        "server.bind"
        | "server.port"
        | "server.modules"
        | "server.compat-module-load"
        | "server.use-ipv6"
        | "server.set-v6only"
        | "server.v4mapped"
        | "server.listen-backlog"
        | "server.max-connections"
        | "server.max-fds"
        | "server.pid-file"
        | "server.errorlog"
        | "server.errorlog-use-syslog"
        | "server.syslog-facility"
        | "server.username"
        | "server.groupname"
        | "server.http-parseopts"
        | "server.http-parseopt-header-strict"
        | "server.http-parseopt-host-strict"
        | "server.http-parseopt-host-normalize"
        | "server.feature-flags"
        | "server.systemd-socket-activation"
        | "server.max-request-field-size"
        | "server.upload-dirs"
        | "server.upload-temp-file-size"
        | "server.socket-perms"
        | "server.network-backend" => Support::Implemented,
        // tuning knobs of lighttpd's own machinery
        "server.event-handler"
        | "server.stat-cache-engine"
        | "server.max-worker"
        | "server.core-files"
        | "server.chunkqueue-chunk-sz"
        | "server.bsd-accept-filter"
        | "server.defer-accept"
        | "server.errorlog-placeholder-moved-to-config-insert"
        | "server.breakagelog-placeholder-moved-to-config-insert" => {
            Support::Ignored("wick's own I/O and threading replace this lighttpd tuning knob")
        }
        "server.breakagelog" => {
            Support::Ignored("wick runs no CGI programs whose stderr it would log")
        }
        "server.kbytes-per-second" | "connection.kbytes-per-second" => {
            Support::Ignored("bandwidth is not throttled")
        }
        "mimetype.use-xattr" | "mimetype.xattr-name" => {
            Support::Ignored("types come from mimetype.assign only, not from extended attributes")
        }
        "server.reject-expect-100-with-417" => {
            Support::Ignored("Expect: 100-continue is answered as HTTP/1.1 specifies")
        }
        "debug.log-state-handling"
        | "debug.log-timeouts"
        | "debug.log-request-header"
        | "debug.log-response-header"
        | "debug.log-request-header-on-error" => Support::Ignored("this debug log is not written"),
        "server.chroot" => Support::Refused(
            "chroot is not implemented; run wick in a container or a chroot of your own",
        ),
        "ssl.cipher-list" => Support::Ignored(
            "rustls offers its own fixed list of secure cipher suites (lighttpd 1.4.69 also deprecates this key)",
        ),
        "ssl.stapling-file" => Support::Ignored("no OCSP response is stapled"),
        "ssl.ca-dn-file" | "ssl.verifyclient.ca-dn-file" => {
            Support::Ignored("the CA names offered to clients are those of ssl.ca-file")
        }
        "ssl.read-ahead" | "ssl.disable-client-renegotiation" | "debug.log-ssl-noise" => {
            Support::Ignored("rustls needs no such setting (it never renegotiates)")
        }
        "ssl.ca-crl-file" | "ssl.verifyclient.ca-crl-file" => Support::Refused(
            "certificate revocation lists are not implemented; without them revoked client certificates would be accepted",
        ),
        "auth.backend.plain.groupfile" => Support::Ignored(
            "group= never matches with the file backends (as in lighttpd, which does not read this file either)",
        ),
        "ssl.acme-tls-1" => Support::Refused("ACME tls-alpn-01 challenges are not implemented"),
        _ => Support::Implemented,
    }
}

/// Checks a configuration against what wick implements. `modules` is the
/// module list lighttpd would load (`config::modules::check_modules`).
pub fn check_support(config: &Config, modules: &[String]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let listed = config
        .top()
        .entries
        .get(b"server.modules")
        .and_then(|e| e.value.as_array().cloned());
    let module_span = |name: &str| {
        listed.as_ref().and_then(|a| {
            a.entries()
                .iter()
                .find(|m| m.value.as_str().is_some_and(|s| s == name.as_bytes()))
                .map(|m| m.span)
        })
    };
    for m in modules {
        if crate::config::modules::module(m).is_none() {
            continue; // already reported as an unknown module
        }
        match module_support(m) {
            Support::Implemented => {}
            Support::Ignored(what) => out.push(
                Diagnostic::warning(format!("{m} is not implemented and is ignored"))
                    .at_opt(module_span(m))
                    .label(what)
                    .help(format!(
                        "remove {m} from server.modules to silence this warning"
                    )),
            ),
            Support::Refused(why) => {
                let mut d = Diagnostic::error(format!("{m} is not supported"))
                    .at_opt(module_span(m))
                    .label(why)
                    .help(format!(
                        "wick refuses to start rather than serve without {m}; remove it (and its settings) \
                         if the configuration does not need it"
                    ));
                if module_span(m).is_none() {
                    d = d.note(format!(
                        "{m} is loaded implicitly, as lighttpd does, because of settings that use it"
                    ));
                }
                out.push(d);
            }
        }
    }
    for block in &config.blocks {
        for e in block.entries.entries() {
            let Some(key) = e.key.as_ref() else { continue };
            let name = show(key).to_ascii_lowercase();
            if name.starts_with("var.") {
                continue;
            }
            match key_support(&name) {
                Support::Implemented => {}
                Support::Ignored(what) => out.push(
                    Diagnostic::warning(format!("`{name}` is not implemented and is ignored"))
                        .at(e.key_span)
                        .label(what),
                ),
                Support::Refused(why) => {
                    out.push(
                        Diagnostic::error(format!("`{name}` is not supported"))
                            .at(e.key_span)
                            .label(why),
                    );
                }
            }
        }
    }
    // Ignored modules have settings of their own; one warning per module is enough.
    out.dedup_by(|a, b| a.message == b.message && a.span == b.span);
    out
}
