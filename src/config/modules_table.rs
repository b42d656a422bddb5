//! Static table of the configuration keys that lighttpd 1.4.69 (the Debian 1.4.69-1 build)
//! recognises, per module, plus the keys the core recognises on its own.
//!
//! "Recognised" has one precise meaning here: the key, when present in a configuration whose module
//! list contains the module, does *not* lead to `WARNING: unknown config-key: <key> (ignored)`
//! under `lighttpd -tt`. The data is meant for reproducing that warning pass (spec:
//! config-language.md section 11.4) and for deciding which `server.modules` entries are real
//! modules.
//!
//! How the table was obtained (all against the real binary, not from documentation):
//!
//! * Candidate names: every dotted token in `strings` of `/usr/sbin/lighttpd` and of each
//!   `/usr/lib/lighttpd/*.so` from the `lighttpd`, `lighttpd-mod-*` and `lighttpd-modules-*`
//!   packages, every tail of those strings that still looks like a key (to catch names the linker
//!   merged into a longer string), every key assigned in the upstream sample configs and in the
//!   spec, and a hand list of historical/removed keys -- about 2,500 names in total.
//! * Built-in vs loadable: a module is `Builtin` when it loads with an empty module directory
//!   (`lighttpd -tt -m <empty dir>`); all others are `.so` files, attributed to the Debian package
//!   that ships them (`dpkg -L`).
//! * Oracle runs: for the core and for each module `M`, a configuration with
//!   `server.compat-module-load = "disable"` (so nothing is loaded implicitly) and `server.modules
//!   = ( [dependency,] M )` was given all candidates at once, with a value guessed from the name;
//!   any run that failed was bisected, and single keys were retried with a list of alternative
//!   values until the run got past module initialisation (every key finally did). A key belongs to
//!   `M` when it draws no warning with `M` loaded but does with only the core (or only the
//!   dependency, `mod_auth` / `mod_vhostdb`) loaded.
//! * Cross-checks: every module key was re-run alone (with and without its module), and a wrongly
//!   typed value for it was confirmed to be rejected with an error naming the key when the module
//!   is loaded; all modules loaded together recognise exactly the union of the per-module sets; and
//!   the result does not change when the keys sit in `$HTTP["host"]`, `$SERVER["socket"]` or `else`
//!   blocks, or (non-`server.*` keys) in `global { }` (only extra scope warnings appear, noted
//!   below).
//!
//! Things the table does not express (see the comments next to the data):
//!
//! * Exemptions: keys starting with `var.` and keys starting with `dir-listing.` other than
//!   `dir-listing.activate` never draw the warning, whether or not any module is loaded. Both
//!   prefix tests are case-sensitive (`Var.x`, `DIR-LISTING.x` do warn). A key without any dot is
//!   stored as `var.<key>` by the parser and is therefore exempt as well. `env.*` cannot be
//!   assigned at all.
//! * Key lookups are ASCII-case-insensitive: `SERVER.PORT` is `server.port`, `Proxy.Server` is
//!   recognised by mod_proxy. Compare keys against this table case-insensitively.
//! * Compat module loading (on by default, `server.compat-module-load`) changes the effective
//!   module list and thus which keys warn: `mod_staticfile` is always appended; `mod_indexfile` and
//!   `mod_dirlisting` are added *or removed* depending on whether some block enables them; any key
//!   with the case-sensitive prefix `ssl.` in any block appends `mod_openssl` (with a "please add
//!   \"mod_openssl\"" warning) unless a TLS module is listed; `auth.backend` values pull in
//!   `mod_authn_*`; `mod_authn_*` / `mod_vhostdb_*` pull in `mod_auth` / `mod_vhostdb`.
//! * No key in 1.4.69 is marked deprecated in a module's key table (`ERROR: found deprecated key`
//!   never appeared); deprecations show up as other, non-fatal messages listed per module below.

/// Where a module comes from in lighttpd 1.4.69's Debian build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleOrigin {
    /// Compiled into `/usr/sbin/lighttpd`; loads without any `.so`.
    Builtin,
    /// Shipped as `/usr/lib/lighttpd/<name>.so` by the named Debian binary package.
    DebianPackage(&'static str),
    /// Part of upstream 1.4.69 but not packaged by Debian. No entry uses this variant: according to
    /// upstream's NEWS (shipped by Debian as changelog.gz) every module 1.4.69 still has is built
    /// and packaged by Debian; the ones removed in 1.4.64/1.4.68 are listed above `MODULES`.
    UpstreamOnly,
}

/// One lighttpd module and the config keys it recognises.
#[derive(Debug)]
pub struct ModuleDef {
    /// Name as written in `server.modules`, e.g. `"mod_proxy"`.
    pub name: &'static str,
    /// Built-in or the Debian package that ships the `.so`.
    pub origin: ModuleOrigin,
    /// The keys this module recognises, sorted; keys the core recognises are never repeated here.
    pub keys: &'static [&'static str],
}

/// Keys the core recognises whatever modules are loaded.
//
// Notes on this list:
// * server.document-root, server.modules and server.compat-module-load are included although they
//   were not part of the bisection runs (every test configuration set them, without warnings).
// * server.errorlog-placeholder-moved-to-config-insert and
//   server.breakagelog-placeholder-moved-to-config-insert are internal placeholder entries of the
//   core's key table; the oracle does recognise them (no warning), so they are listed.
// * ssl.engine is the only ssl.* key the core recognises. Every other ssl.* key (and
//   debug.log-ssl-noise) needs a TLS module; with compat loading disabled and no TLS module they
//   warn as unknown, with compat loading enabled mod_openssl gets loaded for them.
// * server.dir-listing and server.indexfiles are NOT core keys: they are aliases owned by
//   mod_dirlisting and mod_indexfile.
// * Server-scope keys (debug.log-request-header-on-error, mimetype.xattr-name, server.bind,
//   server.chroot, server.chunkqueue-chunk-sz, server.compat-module-load, server.core-files,
//   server.errorlog-use-syslog, server.event-handler, server.feature-flags, server.groupname,
//   server.http-parseopt-header-strict, server.http-parseopt-host-normalize,
//   server.http-parseopt-host-strict, server.http-parseopts, server.max-connections,
//   server.max-fds, server.max-request-field-size, server.max-worker, server.modules,
//   server.network-backend, server.pid-file, server.port, server.reject-expect-100-with-417,
//   server.stat-cache-engine, server.syslog-facility, server.systemd-socket-activation,
//   server.upload-dirs, server.upload-temp-file-size, server.username, and the two placeholders)
//   are still recognised inside conditions but then print "DEPRECATED: do not set server options in
//   conditionals, variable: <key>".
// * Socket-scope keys (server.bsd-accept-filter, server.defer-accept, server.listen-backlog,
//   server.set-v6only, server.socket-perms, server.use-ipv6, server.v4mapped, ssl.engine) print
//   "WARNING: <key> must be in global scope or $SERVER["socket"] with '==', or else is ignored"
//   inside any other condition; they are read when the listening sockets are configured, which -tt
//   does (without binding).
// * Present in the binary's strings but NOT config keys (they warn as unknown; most look like
//   server.feature-flags entry names): server.h2proto, server.h2c, server.absolute-dir-redirect,
//   server.clock-jump-restart, server.graceful-restart-bg, server.graceful-shutdown-timeout,
//   server.errorlog-high-precision, server.metrics-high-precision, server.h1-discard-backend-1xx,
//   server.h2-discard-backend-1xx, server.pcre_jit, auth.delay-invalid-creds.
// * Old keys that are plain unknown keys in 1.4.69: server.use-keep-alive, server.virtual-root,
//   server.virtual-default-host, server.virtual-docroot, server.userid, server.groupid,
//   server.use-noatime, server.max-stat-threads, server.max-write-threads,
//   server.force-lower-case-files, debug.dump-unknown-headers, debug.log-condition-cache-handling.
pub static CORE_KEYS: &[&str] = &[
    "connection.kbytes-per-second",
    "debug.log-condition-handling",
    "debug.log-file-not-found",
    "debug.log-request-handling",
    "debug.log-request-header",
    "debug.log-request-header-on-error",
    "debug.log-response-header",
    "debug.log-state-handling",
    "debug.log-timeouts",
    "etag.use-inode",
    "etag.use-mtime",
    "etag.use-size",
    "mimetype.assign",
    "mimetype.use-xattr",
    "mimetype.xattr-name",
    "server.bind",
    "server.breakagelog",
    "server.breakagelog-placeholder-moved-to-config-insert",
    "server.bsd-accept-filter",
    "server.chroot",
    "server.chunkqueue-chunk-sz",
    "server.compat-module-load",
    "server.core-files",
    "server.defer-accept",
    "server.document-root",
    "server.error-handler",
    "server.error-handler-404",
    "server.error-intercept",
    "server.errorfile-prefix",
    "server.errorlog",
    "server.errorlog-placeholder-moved-to-config-insert",
    "server.errorlog-use-syslog",
    "server.event-handler",
    "server.feature-flags",
    "server.follow-symlink",
    "server.force-lowercase-filenames",
    "server.groupname",
    "server.http-parseopt-header-strict",
    "server.http-parseopt-host-normalize",
    "server.http-parseopt-host-strict",
    "server.http-parseopts",
    "server.kbytes-per-second",
    "server.listen-backlog",
    "server.max-connections",
    "server.max-fds",
    "server.max-keep-alive-idle",
    "server.max-keep-alive-requests",
    "server.max-read-idle",
    "server.max-request-field-size",
    "server.max-request-size",
    "server.max-worker",
    "server.max-write-idle",
    "server.modules",
    "server.name",
    "server.network-backend",
    "server.pid-file",
    "server.port",
    "server.protocol-http11",
    "server.range-requests",
    "server.reject-expect-100-with-417",
    "server.set-v6only",
    "server.socket-perms",
    "server.stat-cache-engine",
    "server.stream-request-body",
    "server.stream-response-body",
    "server.syslog-facility",
    "server.systemd-socket-activation",
    "server.tag",
    "server.upload-dirs",
    "server.upload-temp-file-size",
    "server.use-ipv6",
    "server.username",
    "server.v4mapped",
    "ssl.engine",
];

/// Every module, sorted by name.
//
// Not in this table:
// * "mod_compress" is accepted in server.modules but is not a module: it always prints `Warning:
//   "mod_compress" is DEPRECATED and has been replaced with "mod_deflate". ...` and is then dropped
//   if mod_deflate is already listed or no compress.* key appears in any block, and replaced by
//   mod_deflate otherwise (deflate.* keys alone do not trigger the replacement).
// * Modules removed upstream before 1.4.69 are unknown names (`dlopen() failed ... cannot open
//   shared object file`, then `loading plugins finally failed`): mod_evasive, mod_secdownload,
//   mod_uploadprogress, mod_usertrack (removed in 1.4.68); mod_cml, mod_flv_streaming, mod_geoip,
//   mod_trigger_b4_dl, mod_authn_mysql, mod_mysql_vhost (removed in 1.4.64). Their keys
//   (secdownload.*, usertrack.*, evasive.*, upload-progress.*, cml.*, flv-streaming.*, geoip.*,
//   trigger-before-download.*, auth.backend.mysql.*, mysql-vhost.*) are unknown to every module.
// * Development modules mod_echo and mod_skeleton are not built.
pub static MODULES: &[ModuleDef] = &[
    ModuleDef {
        name: "mod_access",
        origin: ModuleOrigin::Builtin,
        keys: &["url.access-allow", "url.access-deny"],
    },
    ModuleDef {
        name: "mod_accesslog",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "accesslog.escaping",
            "accesslog.filename",
            "accesslog.format",
            "accesslog.syslog-level",
            "accesslog.use-syslog",
        ],
    },
    // An invalid <prefix>.balance value is reported with the literal placeholder name
    // "xxxxx.balance has to be one of: least-connection, round-robin, hash, sticky, but not: <v>".
    // Host options inside <prefix>.server spelled with '_' print "incorrect directive contains
    // underscore ('_') instead of dash ('-'): <opt>" (not a top-level key matter).
    ModuleDef {
        name: "mod_ajp13",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "ajp13.balance",
            "ajp13.debug",
            "ajp13.map-extensions",
            "ajp13.server",
        ],
    },
    ModuleDef {
        name: "mod_alias",
        origin: ModuleOrigin::Builtin,
        keys: &["alias.url"],
    },
    // auth.delay-invalid-creds is in the core binary's strings but is not a config key (unknown
    // with or without mod_auth; probably a server.feature-flags name). auth.debug no longer exists.
    // With compat loading on, auth.backend = "htpasswd"/"htdigest"/"plain"/"ldap" auto-adds the
    // matching mod_authn_* with a "Warning: please add \"mod_authn_...\"" message.
    ModuleDef {
        name: "mod_auth",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "auth.backend",
            "auth.cache",
            "auth.extern-authn",
            "auth.require",
        ],
    },
    // All mod_authn_* modules need mod_auth loaded first (otherwise dlopen fails with an undefined
    // symbol); with compat loading on, mod_auth is prepended automatically. auth.backend values
    // other than htpasswd/htdigest/plain/ldap never auto-load their backend: without it loaded,
    // mod_auth fails with "auth.backend not supported: <name>".
    ModuleDef {
        name: "mod_authn_dbi",
        origin: ModuleOrigin::DebianPackage("lighttpd-modules-dbi"),
        keys: &["auth.backend.dbi"],
    },
    ModuleDef {
        name: "mod_authn_file",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "auth.backend.htdigest.userfile",
            "auth.backend.htpasswd.userfile",
            "auth.backend.plain.groupfile",
            "auth.backend.plain.userfile",
        ],
    },
    ModuleDef {
        name: "mod_authn_gssapi",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-authn-gssapi"),
        keys: &[
            "auth.backend.gssapi.keytab",
            "auth.backend.gssapi.principal",
            "auth.backend.gssapi.store-creds",
        ],
    },
    ModuleDef {
        name: "mod_authn_ldap",
        origin: ModuleOrigin::DebianPackage("lighttpd-modules-ldap"),
        keys: &[
            "auth.backend.ldap.allow-empty-pw",
            "auth.backend.ldap.base-dn",
            "auth.backend.ldap.bind-dn",
            "auth.backend.ldap.bind-pw",
            "auth.backend.ldap.ca-file",
            "auth.backend.ldap.filter",
            "auth.backend.ldap.groupmember",
            "auth.backend.ldap.hostname",
            "auth.backend.ldap.starttls",
            "auth.backend.ldap.timeout",
        ],
    },
    ModuleDef {
        name: "mod_authn_pam",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-authn-pam"),
        keys: &["auth.backend.pam.opts"],
    },
    ModuleDef {
        name: "mod_authn_sasl",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-authn-sasl"),
        keys: &["auth.backend.sasl.opts"],
    },
    // cgi.tempfile-accum is in the module's strings but is NOT a config key (unknown even with
    // mod_cgi loaded; probably a server.feature-flags name).
    ModuleDef {
        name: "mod_cgi",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "cgi.assign",
            "cgi.execute-x-only",
            "cgi.limits",
            "cgi.local-redir",
            "cgi.upgrade",
            "cgi.x-sendfile",
            "cgi.x-sendfile-docroot",
        ],
    },
    // The five compress.* keys are the old mod_compress names; they are recognised but each prints
    // "DEPRECATED: compress.<x> replaced with deflate.<y>" (filetype->mimetypes,
    // max-filesize->max-compress-size, the others keep their suffix). gzip.level, gzip.memLevel,
    // gzip.strategy, gzip.windowBits are keys *inside* deflate.params, not config keys.
    ModuleDef {
        name: "mod_deflate",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-deflate"),
        keys: &[
            "compress.allowed-encodings",
            "compress.cache-dir",
            "compress.filetype",
            "compress.max-filesize",
            "compress.max-loadavg",
            "deflate.allowed-encodings",
            "deflate.cache-dir",
            "deflate.compression-level",
            "deflate.max-compress-size",
            "deflate.max-loadavg",
            "deflate.mimetypes",
            "deflate.min-compress-size",
            "deflate.output-buffer-size",
            "deflate.params",
            "deflate.work-block-size",
        ],
    },
    // dir-listing.* keys other than dir-listing.activate are exempt from the unknown-key warning
    // whether or not this module is loaded (even nonsense like dir-listing.foo), so their ownership
    // was established differently: with mod_dirlisting loaded a wrongly typed value is rejected
    // with an error naming the key. server.dir-listing is an alias of dir-listing.activate. With
    // compat loading on (default), mod_dirlisting is dropped from the module list -- even when
    // listed -- unless some block sets dir-listing.activate/server.dir-listing to an enabling value
    // ("enable", "true", "1", 1); dir-listing.activate = "disable" alone therefore warns.
    ModuleDef {
        name: "mod_dirlisting",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "dir-listing.activate",
            "dir-listing.auto-layout",
            "dir-listing.cache",
            "dir-listing.encode-header",
            "dir-listing.encode-readme",
            "dir-listing.encoding",
            "dir-listing.exclude",
            "dir-listing.external-css",
            "dir-listing.external-js",
            "dir-listing.hide-dotfiles",
            "dir-listing.hide-header-file",
            "dir-listing.hide-readme-file",
            "dir-listing.set-footer",
            "dir-listing.show-header",
            "dir-listing.show-readme",
            "server.dir-listing",
        ],
    },
    ModuleDef {
        name: "mod_evhost",
        origin: ModuleOrigin::Builtin,
        keys: &["evhost.path-pattern"],
    },
    ModuleDef {
        name: "mod_expire",
        origin: ModuleOrigin::Builtin,
        keys: &["expire.mimetypes", "expire.url"],
    },
    ModuleDef {
        name: "mod_extforward",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "extforward.forwarder",
            "extforward.hap-PROXY",
            "extforward.hap-PROXY-ssl-client-verify",
            "extforward.headers",
            "extforward.params",
        ],
    },
    // See the gateway note above mod_ajp13.
    ModuleDef {
        name: "mod_fastcgi",
        origin: ModuleOrigin::Builtin,
        keys: &[
            "fastcgi.balance",
            "fastcgi.debug",
            "fastcgi.map-extensions",
            "fastcgi.server",
        ],
    },
    // ssl.engine is not listed here: the core recognises it (see CORE_KEYS). ssl.cipher-list is
    // recognised but prints "ssl.cipher-list is deprecated.  Please prefer lighttpd secure TLS
    // defaults, or use ssl.openssl.ssl-conf-cmd "CipherString" ...". ssl.cipher-list and
    // ssl.openssl.ssl-conf-cmd outside global scope / $SERVER["socket"] print "WARNING: <key> must
    // be in global scope or $SERVER["socket"] with '==', or else is ignored"; ssl.stek-file in any
    // condition prints "DEPRECATED: do not set server options in conditionals". Removed in 1.4.68
    // and now plain unknown keys: ssl.honor-cipher-order, ssl.dh-file, ssl.ec-curve, ssl.use-sslv2,
    // ssl.use-sslv3, ssl.use-compression, ssl.empty-fragments. ssl.session-cache is in the
    // binaries' strings but is an unknown key for every TLS module.
    ModuleDef {
        name: "mod_gnutls",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-gnutls"),
        keys: &[
            "debug.log-ssl-noise",
            "ssl.acme-tls-1",
            "ssl.ca-crl-file",
            "ssl.ca-dn-file",
            "ssl.ca-file",
            "ssl.cipher-list",
            "ssl.disable-client-renegotiation",
            "ssl.openssl.ssl-conf-cmd",
            "ssl.pemfile",
            "ssl.privkey",
            "ssl.read-ahead",
            "ssl.stapling-file",
            "ssl.stek-file",
            "ssl.verifyclient.activate",
            "ssl.verifyclient.ca-crl-file",
            "ssl.verifyclient.ca-dn-file",
            "ssl.verifyclient.ca-file",
            "ssl.verifyclient.depth",
            "ssl.verifyclient.enforce",
            "ssl.verifyclient.exportcert",
            "ssl.verifyclient.username",
        ],
    },
    // server.indexfiles is an alias of index-file.names. With compat loading on (default),
    // mod_indexfile is dropped -- even when listed -- unless some block sets one of the two to a
    // non-empty list; so index-file.names = () alone warns as unknown.
    ModuleDef {
        name: "mod_indexfile",
        origin: ModuleOrigin::Builtin,
        keys: &["index-file.names", "server.indexfiles"],
    },
    // magnet.attract-response-to (used by newer upstream docs) is unknown to 1.4.69.
    ModuleDef {
        name: "mod_magnet",
        origin: ModuleOrigin::DebianPackage("lighttpd-modules-lua"),
        keys: &[
            "magnet.attract-physical-path-to",
            "magnet.attract-raw-url-to",
            "magnet.attract-response-start-to",
        ],
    },
    ModuleDef {
        name: "mod_maxminddb",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-maxminddb"),
        keys: &["maxminddb.activate", "maxminddb.db", "maxminddb.env"],
    },
    // mod_mbedtls does NOT recognise ssl.stapling-file (the other four TLS modules do). See the TLS
    // note above mod_gnutls.
    ModuleDef {
        name: "mod_mbedtls",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-mbedtls"),
        keys: &[
            "debug.log-ssl-noise",
            "ssl.acme-tls-1",
            "ssl.ca-crl-file",
            "ssl.ca-dn-file",
            "ssl.ca-file",
            "ssl.cipher-list",
            "ssl.disable-client-renegotiation",
            "ssl.openssl.ssl-conf-cmd",
            "ssl.pemfile",
            "ssl.privkey",
            "ssl.read-ahead",
            "ssl.stek-file",
            "ssl.verifyclient.activate",
            "ssl.verifyclient.ca-crl-file",
            "ssl.verifyclient.ca-dn-file",
            "ssl.verifyclient.ca-file",
            "ssl.verifyclient.depth",
            "ssl.verifyclient.enforce",
            "ssl.verifyclient.exportcert",
            "ssl.verifyclient.username",
        ],
    },
    // mod_nss accepts ssl.stek-file but prints "NSS: ssl.stek-file is not supported in mod_nss;
    // ignoring." See the TLS note above mod_gnutls.
    ModuleDef {
        name: "mod_nss",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-nss"),
        keys: &[
            "debug.log-ssl-noise",
            "ssl.acme-tls-1",
            "ssl.ca-crl-file",
            "ssl.ca-dn-file",
            "ssl.ca-file",
            "ssl.cipher-list",
            "ssl.disable-client-renegotiation",
            "ssl.openssl.ssl-conf-cmd",
            "ssl.pemfile",
            "ssl.privkey",
            "ssl.read-ahead",
            "ssl.stapling-file",
            "ssl.stek-file",
            "ssl.verifyclient.activate",
            "ssl.verifyclient.ca-crl-file",
            "ssl.verifyclient.ca-dn-file",
            "ssl.verifyclient.ca-file",
            "ssl.verifyclient.depth",
            "ssl.verifyclient.enforce",
            "ssl.verifyclient.exportcert",
            "ssl.verifyclient.username",
        ],
    },
    // See the TLS note above mod_gnutls.
    ModuleDef {
        name: "mod_openssl",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-openssl"),
        keys: &[
            "debug.log-ssl-noise",
            "ssl.acme-tls-1",
            "ssl.ca-crl-file",
            "ssl.ca-dn-file",
            "ssl.ca-file",
            "ssl.cipher-list",
            "ssl.disable-client-renegotiation",
            "ssl.openssl.ssl-conf-cmd",
            "ssl.pemfile",
            "ssl.privkey",
            "ssl.read-ahead",
            "ssl.stapling-file",
            "ssl.stek-file",
            "ssl.verifyclient.activate",
            "ssl.verifyclient.ca-crl-file",
            "ssl.verifyclient.ca-dn-file",
            "ssl.verifyclient.ca-file",
            "ssl.verifyclient.depth",
            "ssl.verifyclient.enforce",
            "ssl.verifyclient.exportcert",
            "ssl.verifyclient.username",
        ],
    },
    // proxy.force-http10 is in the module's strings but is NOT a config key (the behaviour is set
    // via proxy.header = ( "force-http10" => ... )). See the gateway note above mod_ajp13.
    ModuleDef {
        name: "mod_proxy",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "proxy.balance",
            "proxy.debug",
            "proxy.forwarded",
            "proxy.header",
            "proxy.map-extensions",
            "proxy.replace-http-host",
            "proxy.server",
        ],
    },
    ModuleDef {
        name: "mod_redirect",
        origin: ModuleOrigin::Builtin,
        keys: &["url.redirect", "url.redirect-code"],
    },
    ModuleDef {
        name: "mod_rewrite",
        origin: ModuleOrigin::Builtin,
        keys: &[
            "url.rewrite",
            "url.rewrite-final",
            "url.rewrite-if-not-file",
            "url.rewrite-once",
            "url.rewrite-repeat",
            "url.rewrite-repeat-if-not-file",
        ],
    },
    // rrdtool.binary in any condition prints "DEPRECATED: do not set server options in
    // conditionals".
    ModuleDef {
        name: "mod_rrdtool",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &["rrdtool.binary", "rrdtool.db-name"],
    },
    // See the gateway note above mod_ajp13.
    ModuleDef {
        name: "mod_scgi",
        origin: ModuleOrigin::Builtin,
        keys: &[
            "scgi.balance",
            "scgi.debug",
            "scgi.map-extensions",
            "scgi.protocol",
            "scgi.server",
        ],
    },
    ModuleDef {
        name: "mod_setenv",
        origin: ModuleOrigin::Builtin,
        keys: &[
            "setenv.add-environment",
            "setenv.add-request-header",
            "setenv.add-response-header",
            "setenv.set-environment",
            "setenv.set-request-header",
            "setenv.set-response-header",
        ],
    },
    ModuleDef {
        name: "mod_simple_vhost",
        origin: ModuleOrigin::Builtin,
        keys: &[
            "simple-vhost.debug",
            "simple-vhost.default-host",
            "simple-vhost.document-root",
            "simple-vhost.server-root",
        ],
    },
    // See the gateway note above mod_ajp13.
    ModuleDef {
        name: "mod_sockproxy",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &["sockproxy.balance", "sockproxy.debug", "sockproxy.server"],
    },
    ModuleDef {
        name: "mod_ssi",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "ssi.conditional-requests",
            "ssi.content-type",
            "ssi.exec",
            "ssi.extension",
            "ssi.recursion-max",
        ],
    },
    ModuleDef {
        name: "mod_staticfile",
        origin: ModuleOrigin::Builtin,
        keys: &[
            "static-file.disable-pathinfo",
            "static-file.etags",
            "static-file.exclude-extensions",
        ],
    },
    ModuleDef {
        name: "mod_status",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "status.config-url",
            "status.enable-sort",
            "status.statistics-url",
            "status.status-url",
        ],
    },
    ModuleDef {
        name: "mod_userdir",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "userdir.active",
            "userdir.basepath",
            "userdir.exclude-user",
            "userdir.include-user",
            "userdir.letterhomes",
            "userdir.path",
        ],
    },
    ModuleDef {
        name: "mod_vhostdb",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &["vhostdb.backend", "vhostdb.cache"],
    },
    // All mod_vhostdb_* backends need mod_vhostdb loaded first (dlopen fails otherwise); with
    // compat loading on, mod_vhostdb is prepended automatically.
    ModuleDef {
        name: "mod_vhostdb_dbi",
        origin: ModuleOrigin::DebianPackage("lighttpd-modules-dbi"),
        keys: &["vhostdb.dbi"],
    },
    ModuleDef {
        name: "mod_vhostdb_ldap",
        origin: ModuleOrigin::DebianPackage("lighttpd-modules-ldap"),
        keys: &["vhostdb.ldap"],
    },
    ModuleDef {
        name: "mod_vhostdb_mysql",
        origin: ModuleOrigin::DebianPackage("lighttpd-modules-mysql"),
        keys: &["vhostdb.mysql"],
    },
    ModuleDef {
        name: "mod_vhostdb_pgsql",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-vhostdb-pgsql"),
        keys: &["vhostdb.pgsql"],
    },
    // Debian builds mod_webdav with libxml2 + sqlite; webdav.sqlite-db-name/webdav.opts were
    // verified only in that build (a MOD_WEBDAV_BUILD_MINIMAL build was not available to test).
    ModuleDef {
        name: "mod_webdav",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-webdav"),
        keys: &[
            "webdav.activate",
            "webdav.is-readonly",
            "webdav.log-xml",
            "webdav.opts",
            "webdav.sqlite-db-name",
        ],
    },
    // See the TLS note above mod_gnutls.
    ModuleDef {
        name: "mod_wolfssl",
        origin: ModuleOrigin::DebianPackage("lighttpd-mod-wolfssl"),
        keys: &[
            "debug.log-ssl-noise",
            "ssl.acme-tls-1",
            "ssl.ca-crl-file",
            "ssl.ca-dn-file",
            "ssl.ca-file",
            "ssl.cipher-list",
            "ssl.disable-client-renegotiation",
            "ssl.openssl.ssl-conf-cmd",
            "ssl.pemfile",
            "ssl.privkey",
            "ssl.read-ahead",
            "ssl.stapling-file",
            "ssl.stek-file",
            "ssl.verifyclient.activate",
            "ssl.verifyclient.ca-crl-file",
            "ssl.verifyclient.ca-dn-file",
            "ssl.verifyclient.ca-file",
            "ssl.verifyclient.depth",
            "ssl.verifyclient.enforce",
            "ssl.verifyclient.exportcert",
            "ssl.verifyclient.username",
        ],
    },
    // See the gateway note above mod_ajp13.
    ModuleDef {
        name: "mod_wstunnel",
        origin: ModuleOrigin::DebianPackage("lighttpd"),
        keys: &[
            "wstunnel.balance",
            "wstunnel.debug",
            "wstunnel.frame-type",
            "wstunnel.map-extensions",
            "wstunnel.origins",
            "wstunnel.ping-interval",
            "wstunnel.server",
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_unique(keys: &[&str]) -> bool {
        keys.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn lists_are_sorted_and_unique() {
        assert!(sorted_unique(CORE_KEYS));
        assert!(MODULES.windows(2).all(|w| w[0].name < w[1].name));
        for m in MODULES {
            assert!(sorted_unique(m.keys), "{}", m.name);
            assert!(!m.keys.is_empty(), "{}", m.name);
        }
    }

    #[test]
    fn no_module_key_is_a_core_key() {
        for m in MODULES {
            for k in m.keys {
                assert!(!CORE_KEYS.contains(k), "{} {}", m.name, k);
            }
        }
    }

    #[test]
    fn counts() {
        assert_eq!(MODULES.len(), 45);
        assert_eq!(CORE_KEYS.len(), 74);
        let builtin = MODULES
            .iter()
            .filter(|m| m.origin == ModuleOrigin::Builtin)
            .count();
        assert_eq!(builtin, 12);
    }
}
