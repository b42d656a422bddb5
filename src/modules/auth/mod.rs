//! mod_auth with mod_authn_file (lighttpd: `mod_auth.c`,
//! `mod_authn_file.c`): HTTP Basic authentication of the paths that
//! `auth.require` names, against a `plain`, `htpasswd` or `htdigest` user
//! file.
//!
//! - `auth.require` maps URL-path prefixes to a rule: `method` (`basic`,
//!   `extern`), `realm`, `require` (`valid-user`, or `user=NAME`
//!   alternatives joined by `|`). The first listed prefix of the decoded
//!   path decides.
//!   `group=` and `host=` tokens never match (as in lighttpd); `method`
//!   `extern` takes the user of a TLS client certificate.
//! - A request without usable credentials gets 401 with
//!   `WWW-Authenticate: Basic realm="…", charset="UTF-8"`; credentials that
//!   cannot be decoded (bad base64, no `:`) get 400. Wrong credentials are
//!   answered after a delay of one second (as lighttpd's
//!   `auth.delay-invalid-creds`), which slows password guessing, and the
//!   connection closes.
//! - The user files are read on every check, so that edits take effect
//!   at once; `auth.cache` remembers each user's password that passed for
//!   its `max-age`.
//! - Digest authentication and the other backends are refused at start.

pub mod passwd;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bstr::{BString, ByteSlice};

use crate::config::Diagnostic;
use crate::config::value::{Entry, Value};

/// How long wrong credentials wait for their 401.
pub const WRONG_DELAY: Duration = Duration::from_secs(1);

/// A user file backend (`auth.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `plain`: `user:password` lines.
    Plain,
    /// `htpasswd`: `user:hash` lines.
    Htpasswd,
    /// `htdigest`: `user:realm:md5hex` lines.
    Htdigest,
}

/// Who a rule lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// `valid-user`
    AnyUser,
    /// `user=a|user=b` (`group=` and `host=` tokens never match with the
    /// file backends, as in lighttpd, and leave only the users)
    Users(Vec<BString>),
}

/// `method` of an `auth.require` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `basic`
    Basic,
    /// `extern`: the user another module found (a TLS client certificate)
    Extern,
}

/// One entry of `auth.require`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The URL-path prefix.
    pub prefix: BString,
    /// `realm`.
    pub realm: BString,
    /// `method`.
    pub method: Method,
    /// The strongest of `algorithm` (MD5 by default): the hash of an
    /// htdigest line that Basic credentials are compared with.
    pub algorithm: passwd::DigestAlg,
    /// `require`.
    pub allowed: Allowed,
    /// The `WWW-Authenticate` value of a 401.
    pub challenge: http::HeaderValue,
}

/// When a password passed, and its SHA-256.
type Remembered = (Instant, [u8; 32]);

/// `auth.cache`: the password that passed, per user (as a SHA-256),
/// remembered for `max-age` seconds; while it is, that password is the
/// one checked and the user file is not read (lighttpd's meaning).
#[derive(Debug)]
pub struct Cache {
    max_age: Duration,
    entries: Mutex<HashMap<Vec<u8>, Remembered>>,
}

impl Rule {
    /// True when `require` lets `user` in.
    pub fn allows(&self, user: &[u8]) -> bool {
        match &self.allowed {
            Allowed::AnyUser => true,
            Allowed::Users(users) => users.iter().any(|u| u == user),
        }
    }
}

impl Cache {
    fn key(backend: Backend, file: &[u8], realm: &[u8], user: &[u8]) -> Vec<u8> {
        let mut k = vec![backend as u8];
        for part in [file, realm, user] {
            k.extend_from_slice(&(part.len() as u64).to_le_bytes());
            k.extend_from_slice(part);
        }
        k
    }

    fn sum(pass: &[u8]) -> [u8; 32] {
        let d = ring::digest::digest(&ring::digest::SHA256, pass);
        let mut out = [0; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    /// `Some(matches)` while the user's password is remembered.
    fn check(&self, key: &[u8], pass: &[u8]) -> Option<bool> {
        let mut m = self.entries.lock().ok()?;
        match m.get(key) {
            Some((t, sum)) if t.elapsed() < self.max_age => {
                Some(passwd::same(sum, &Self::sum(pass)))
            }
            Some(_) => {
                m.remove(key);
                None
            }
            None => None,
        }
    }

    fn keep(&self, key: Vec<u8>, pass: &[u8]) {
        if let Ok(mut m) = self.entries.lock() {
            let max_age = self.max_age;
            if m.len() >= 4096 {
                m.retain(|_, (t, _)| t.elapsed() < max_age);
            }
            if m.len() < 4096 {
                m.insert(key, (Instant::now(), Self::sum(pass)));
            }
        }
    }
}

/// The `auth.*` settings in effect for a request.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// `auth.backend`.
    pub backend: Option<Backend>,
    /// `auth.backend.plain.userfile`.
    pub plain_userfile: Option<Arc<[u8]>>,
    /// `auth.backend.htpasswd.userfile`.
    pub htpasswd_userfile: Option<Arc<[u8]>>,
    /// `auth.backend.htdigest.userfile`.
    pub htdigest_userfile: Option<Arc<[u8]>>,
    /// `auth.require`.
    pub require: Option<Arc<[Rule]>>,
    /// `auth.cache`.
    pub cache: Option<Arc<Cache>>,
    /// `auth.extern-authn`.
    pub extern_authn: bool,
    /// `server.feature-flags` `auth.delay-invalid-creds` (default on).
    pub no_delay: bool,
}

/// One change of a block to [`AuthSettings`].
#[derive(Debug, Clone)]
pub enum AuthSet {
    /// `auth.backend`
    Backend(Backend),
    /// `auth.backend.plain.userfile`
    PlainFile(Arc<[u8]>),
    /// `auth.backend.htpasswd.userfile`
    HtpasswdFile(Arc<[u8]>),
    /// `auth.backend.htdigest.userfile`
    HtdigestFile(Arc<[u8]>),
    /// `auth.require`
    Require(Arc<[Rule]>),
    /// `auth.cache`
    Cache(Option<Arc<Cache>>),
    /// `auth.extern-authn`
    ExternAuthn(bool),
    /// `server.feature-flags` `auth.delay-invalid-creds`
    Delay(bool),
}

impl AuthSettings {
    /// Applies one change.
    pub fn apply(&mut self, set: &AuthSet) {
        match set {
            AuthSet::Backend(b) => self.backend = Some(*b),
            AuthSet::PlainFile(f) => self.plain_userfile = Some(f.clone()),
            AuthSet::HtpasswdFile(f) => self.htpasswd_userfile = Some(f.clone()),
            AuthSet::HtdigestFile(f) => self.htdigest_userfile = Some(f.clone()),
            AuthSet::Require(r) => self.require = Some(r.clone()),
            AuthSet::Cache(c) => self.cache.clone_from(c),
            AuthSet::ExternAuthn(on) => self.extern_authn = *on,
            AuthSet::Delay(on) => self.no_delay = !*on,
        }
    }

    /// The rule for a decoded path: the first listed prefix that matches.
    pub fn rule_for(&self, path: &[u8], ignore_case: bool) -> Option<&Rule> {
        self.require.as_deref()?.iter().find(|r| {
            let p = r.prefix.as_slice();
            path.len() >= p.len()
                && if ignore_case {
                    path[..p.len()].eq_ignore_ascii_case(p)
                } else {
                    path.starts_with(p)
                }
        })
    }

    fn userfile(&self, b: Backend) -> Option<Arc<[u8]>> {
        match b {
            Backend::Plain => self.plain_userfile.clone(),
            Backend::Htpasswd => self.htpasswd_userfile.clone(),
            Backend::Htdigest => self.htdigest_userfile.clone(),
        }
    }
}

fn string_of<'a>(key: &str, entry: &'a Entry) -> Result<&'a BString, Vec<Diagnostic>> {
    entry
        .value
        .as_str()
        .ok_or_else(|| vec![Diagnostic::error(format!("{key} must be a string")).at(entry.span)])
}

/// Compiles one `auth.*` key (`lc`, lowercase) of a block.
pub fn compile(lc: &[u8], entry: &Entry) -> Result<Option<AuthSet>, Vec<Diagnostic>> {
    let key = String::from_utf8_lossy(lc).into_owned();
    let file = |e: &Entry| -> Result<Arc<[u8]>, Vec<Diagnostic>> {
        Ok(Arc::from(string_of(&key, e)?.as_slice()))
    };
    Ok(Some(match lc {
        b"auth.backend" => {
            let v = string_of(&key, entry)?;
            AuthSet::Backend(match v.as_slice() {
                b"plain" => Backend::Plain,
                b"htpasswd" => Backend::Htpasswd,
                b"htdigest" => Backend::Htdigest,
                other => {
                    return Err(vec![
                        Diagnostic::error(format!(
                            "auth.backend \"{}\" is not supported by wick (plain, htpasswd, htdigest are)",
                            other.as_bstr()
                        ))
                        .at(entry.span),
                    ]);
                }
            })
        }
        b"auth.backend.plain.userfile" => AuthSet::PlainFile(file(entry)?),
        b"auth.backend.htpasswd.userfile" => AuthSet::HtpasswdFile(file(entry)?),
        b"auth.backend.htdigest.userfile" => AuthSet::HtdigestFile(file(entry)?),
        b"auth.require" => AuthSet::Require(compile_require(entry)?),
        b"auth.cache" => AuthSet::Cache(compile_cache(entry)?),
        b"auth.extern-authn" => match crate::modules::proxy::config::flag(&entry.value) {
            Some(on) => AuthSet::ExternAuthn(on),
            None => {
                return Err(vec![
                    Diagnostic::error("auth.extern-authn must be \"enable\" or \"disable\"")
                        .at(entry.span),
                ]);
            }
        },
        _ => return Ok(None),
    }))
}

fn compile_cache(entry: &Entry) -> Result<Option<Arc<Cache>>, Vec<Diagnostic>> {
    let bad = || {
        vec![
            Diagnostic::error(
                "auth.cache must be a list like auth.cache = ( \"max-age\" => \"600\" )",
            )
            .at(entry.span),
        ]
    };
    let Value::Array(a) = &entry.value else {
        return Err(bad());
    };
    let mut max_age = 600u64;
    for e in a.entries() {
        match (e.key.as_ref().map(|k| k.as_slice()), &e.value) {
            (Some(b"max-age"), Value::Str(s)) => {
                max_age = s
                    .to_str()
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(bad)?;
            }
            (Some(b"max-age"), Value::Int(i)) => {
                max_age = u64::try_from(*i).map_err(|_| bad())?;
            }
            _ => return Err(bad()),
        }
    }
    Ok(Some(Arc::new(Cache {
        max_age: Duration::from_secs(max_age),
        entries: Mutex::new(HashMap::new()),
    })))
}

fn compile_require(entry: &Entry) -> Result<Arc<[Rule]>, Vec<Diagnostic>> {
    let err = |msg: String, at: &Entry| vec![Diagnostic::error(msg).at(at.span)];
    let Value::Array(a) = &entry.value else {
        return Err(err(
            "auth.require must be a list like auth.require = ( \"/path\" => ( \"method\" => \"basic\", \"realm\" => \"…\", \"require\" => \"valid-user\" ) )".into(),
            entry,
        ));
    };
    let mut rules = Vec::new();
    for e in a.entries() {
        let (Some(prefix), Value::Array(opts)) = (&e.key, &e.value) else {
            return Err(err(
                "each auth.require entry must be \"/path\" => ( \"method\" => …, \"realm\" => …, \"require\" => … )".into(),
                e,
            ));
        };
        let (mut method, mut realm, mut require, mut algorithm) = (None, None, None, None);
        for o in opts.entries() {
            let (Some(k), Some(v)) = (&o.key, o.value.as_str()) else {
                return Err(err(
                    format!(
                        "auth.require \"{}\": its options must be \"key\" => \"string\"",
                        prefix.as_bstr()
                    ),
                    o,
                ));
            };
            match k.as_slice() {
                b"method" => method = Some(v.clone()),
                b"realm" => realm = Some(v.clone()),
                b"require" => require = Some(v.clone()),
                b"algorithm" => algorithm = Some(v.clone()),
                b"nonce_secret" | b"nonce-secret" | b"userhash" => {
                    // Digest options: meaningful only with Digest, refused below
                }
                other => {
                    return Err(err(
                        format!(
                            "auth.require \"{}\": unknown option \"{}\" (method, realm, require)",
                            prefix.as_bstr(),
                            other.as_bstr()
                        ),
                        o,
                    ));
                }
            }
        }
        let missing = |what: &str| {
            err(
                format!(
                    "auth.require \"{}\": \"{what}\" is missing",
                    prefix.as_bstr()
                ),
                e,
            )
        };
        let method = match method.as_deref().map(|m| m.as_bytes()) {
            None | Some(b"") => return Err(missing("method")),
            Some(b"basic") => Method::Basic,
            Some(b"extern") => Method::Extern,
            Some(b"digest") => {
                return Err(err(
                    format!(
                        "auth.require \"{}\": method \"digest\" is not implemented by wick yet (basic and extern are)",
                        prefix.as_bstr()
                    ),
                    e,
                ));
            }
            Some(other) => {
                return Err(err(
                    format!(
                        "auth.require \"{}\": method must be basic, digest or extern, not \"{}\"",
                        prefix.as_bstr(),
                        other.as_bstr()
                    ),
                    e,
                ));
            }
        };
        let realm = realm.ok_or_else(|| missing("realm"))?;
        let algorithm = match algorithm {
            None => passwd::DigestAlg::Md5,
            Some(a) => strongest(&a).ok_or_else(|| {
                err(
                    format!(
                        "auth.require \"{}\": algorithm must be MD5, SHA-256 or SHA-512-256 (with -sess, joined by |), not \"{}\"",
                        prefix.as_bstr(),
                        a.as_bstr()
                    ),
                    e,
                )
            })?,
        };
        let require = require
            .filter(|r| !r.is_empty())
            .ok_or_else(|| missing("require"))?;
        let allowed = parse_require(&require).map_err(|near| {
            err(
                format!(
                    "auth.require \"{}\": cannot read require \"{}\" near \"{}\" (valid-user, or user=NAME, group=NAME, host=NAME joined by |)",
                    prefix.as_bstr(),
                    require.as_bstr(),
                    near.as_bstr()
                ),
                e,
            )
        })?;
        let mut c = b"Basic realm=\"".to_vec();
        c.extend_from_slice(&realm);
        c.extend_from_slice(b"\", charset=\"UTF-8\"");
        let challenge = http::HeaderValue::from_bytes(&c).map_err(|_| {
            err(
                format!(
                    "auth.require \"{}\": the realm cannot be sent in a header",
                    prefix.as_bstr()
                ),
                e,
            )
        })?;
        rules.push(Rule {
            prefix: prefix.clone(),
            realm,
            method,
            algorithm,
            allowed,
            challenge,
        });
    }
    Ok(rules.into())
}

/// The strongest algorithm of an `algorithm` list (`MD5|SHA-256`, in any
/// case, `-sess` variants too; empty is MD5); `None` for another name.
fn strongest(list: &[u8]) -> Option<passwd::DigestAlg> {
    use passwd::DigestAlg::*;
    let mut best = None;
    for name in list.split_str("|") {
        let name = name.to_ascii_lowercase();
        let name = name.strip_suffix(b"-sess").unwrap_or(&name);
        let alg = match name {
            b"" | b"md5" => Md5,
            b"sha-256" => Sha256,
            b"sha-512-256" => Sha512_256,
            _ => return None,
        };
        best = best.max(Some(alg));
    }
    best
}

/// Reads `require`: `valid-user` alone, or `user=`, `group=`, `host=`
/// tokens joined by `|` (one trailing `|` allowed). Groups and hosts never
/// match with the file backends (lighttpd: the same; it warns of `host=`
/// at start), so only the users are kept. `Err`: the text from the bad
/// token on.
fn parse_require(require: &[u8]) -> Result<Allowed, BString> {
    if require == b"valid-user" {
        return Ok(Allowed::AnyUser);
    }
    let mut users = Vec::new();
    let mut at = 0;
    let tokens: Vec<&[u8]> = require.split_str("|").collect();
    for (i, token) in tokens.iter().enumerate() {
        let near = || BString::from(&require[at..]);
        if token.is_empty() {
            if i + 1 == tokens.len() && i > 0 {
                break;
            }
            return Err(near());
        }
        let Some(eq) = token.iter().position(|&b| b == b'=') else {
            return Err(near());
        };
        let value = &token[eq + 1..];
        if value.is_empty() {
            return Err(near());
        }
        match &token[..eq] {
            b"user" => users.push(BString::from(value)),
            b"group" => {}
            b"host" => tracing::warn!(
                "auth.require: host={} is never matched (as in lighttpd, which does not implement it)",
                value.as_bstr()
            ),
            _ => return Err(near()),
        }
        at += token.len() + 1;
    }
    Ok(Allowed::Users(users))
}

/// What a check of a request's credentials decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let in, as this user.
    User(BString),
    /// 401 with the rule's challenge.
    Unauthorized,
    /// 401 after the delay of wrong credentials.
    Wrong,
    /// 400: credentials that cannot be read.
    BadRequest,
    /// 500: no `auth.backend` is set.
    ServerError,
    /// 401 without a challenge: `method` extern without a user.
    Refused,
}

/// Decodes a Basic `Authorization` value's credentials: `None` when it is
/// another scheme or too long (401), `Some(Err)` when they cannot be read
/// (400). As lighttpd reads them: the scheme in any case after which
/// spaces are skipped, spaces and tabs inside the token skipped, the
/// token ending at the first byte outside the standard base-64 alphabet,
/// padding optional; the user is what comes before the first `:`.
fn basic_credentials(value: &[u8]) -> Option<Result<(BString, BString), ()>> {
    let sp = value.iter().position(|&b| b == b' ')?;
    if !value[..sp].eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let rest = &value[sp + 1..];
    if rest.len() >= MAX_BASIC_TOKEN {
        return None;
    }
    // (spaces and tabs inside the token are skipped)
    let token = rest.iter().copied().filter(|&b| b != b' ' && b != b'\t');
    if rest.iter().all(|&b| b == b' ') {
        return None;
    }
    let decoded = match passwd::lenient_base64(token) {
        Ok(d) if !d.is_empty() => d,
        _ => return Some(Err(())),
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return Some(Err(()));
    };
    Some(Ok((
        BString::from(&decoded[..colon]),
        BString::from(&decoded[colon + 1..]),
    )))
}

/// Basic credentials this long (after `Basic `) are not read (401).
const MAX_BASIC_TOKEN: usize = 1364;

/// Checks a request against `rule`: the user another module set
/// (`extern_user`, a TLS client certificate's `ssl.verifyclient.username`)
/// for `method` extern and with `auth.extern-authn`, else the
/// `Authorization` header, against the user file (read on a blocking
/// thread).
pub async fn check(
    settings: &AuthSettings,
    rule: &Rule,
    authorization: Option<&[u8]>,
    extern_user: Option<&[u8]>,
) -> Verdict {
    if rule.method == Method::Extern || settings.extern_authn {
        if let Some(user) = extern_user {
            return if rule.allows(user) {
                Verdict::User(BString::from(user))
            } else {
                Verdict::Refused
            };
        }
        if rule.method == Method::Extern {
            return Verdict::Refused;
        }
    }
    let Some(backend) = settings.backend else {
        return Verdict::ServerError;
    };
    let Some(value) = authorization else {
        return Verdict::Unauthorized;
    };
    let (user, pass) = match basic_credentials(value) {
        None => return Verdict::Unauthorized,
        Some(Err(())) => return Verdict::BadRequest,
        Some(Ok(c)) => c,
    };
    // the password ends at a NUL, as in lighttpd
    let pass = match pass.iter().position(|&b| b == 0) {
        Some(i) => BString::from(&pass[..i]),
        None => pass,
    };
    if !rule.allows(&user) || user.contains(&0) {
        return Verdict::Wrong;
    }
    let Some(file) = settings.userfile(backend) else {
        return Verdict::Wrong;
    };
    let key = settings
        .cache
        .as_ref()
        .map(|_| Cache::key(backend, &file, &rule.realm, &user));
    if let (Some(c), Some(k)) = (&settings.cache, &key) {
        match c.check(k, &pass) {
            Some(true) => return Verdict::User(user),
            Some(false) => return Verdict::Wrong,
            None => {}
        }
    }
    let realm = rule.realm.clone();
    let checked = {
        let user = user.clone();
        let file = file.clone();
        let pass = pass.clone();
        let alg = rule.algorithm;
        tokio::task::spawn_blocking(move || verify(backend, alg, &file, &realm, &user, &pass)).await
    };
    match checked {
        Ok(Ok(true)) => {
            if let (Some(c), Some(k)) = (&settings.cache, key) {
                c.keep(k, &pass);
            }
            Verdict::User(user)
        }
        Ok(Ok(false)) => {
            tracing::error!(
                "password doesn't match for user {}",
                String::from_utf8_lossy(&user)
            );
            Verdict::Wrong
        }
        Ok(Err(e)) => {
            tracing::error!(
                "reading the user file {} failed: {e}",
                String::from_utf8_lossy(&file)
            );
            Verdict::Wrong
        }
        Err(_) => Verdict::ServerError,
    }
}

/// Looks `user` up in the user file and checks `pass`.
fn verify(
    backend: Backend,
    alg: passwd::DigestAlg,
    file: &[u8],
    realm: &[u8],
    user: &[u8],
    pass: &[u8],
) -> std::io::Result<bool> {
    use std::os::unix::ffi::OsStrExt as _;
    let text = std::fs::read(std::ffi::OsStr::from_bytes(file))?;
    Ok(
        match find_secret(backend, &text, user, realm, alg.hex_len()) {
            None => false,
            Some(secret) => match backend {
                Backend::Plain => passwd::same(secret, pass),
                Backend::Htpasswd => passwd::htpasswd_matches(secret, pass),
                Backend::Htdigest => {
                    let ha1 = alg.hex(&[user, realm, pass]);
                    passwd::same(ha1.as_bytes(), &secret.to_ascii_lowercase())
                }
            },
        },
    )
}

/// The secret of `user` in a user file: the password (plain), the hash
/// (htpasswd) or the MD5 hex (htdigest, on the line of `realm`). Lines
/// that start with `#` and lines without `:` are skipped; the first line
/// of the user counts (for htdigest: of the realm, with an HA1 of
/// `hex_len` characters).
fn find_secret<'a>(
    backend: Backend,
    text: &'a [u8],
    user: &[u8],
    realm: &[u8],
    hex_len: usize,
) -> Option<&'a [u8]> {
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"#") {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if &line[..colon] != user {
            continue;
        }
        let rest = &line[colon + 1..];
        if backend == Backend::Htdigest {
            let Some(c2) = rest.iter().position(|&b| b == b':') else {
                continue;
            };
            if &rest[..c2] != realm {
                continue;
            }
            // HA1, then perhaps `:userhash`; a line for another
            // algorithm (another length) is skipped
            let ha1 = rest[c2 + 1..]
                .split(|&b| b == b':')
                .next()
                .unwrap_or_default();
            if ha1.len() != hex_len {
                continue;
            }
            return Some(ha1);
        }
        return Some(rest);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn basic_header_forms() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let ok = |v: &str| match basic_credentials(v.as_bytes()) {
            Some(Ok((u, p))) => Some((u.to_string(), p.to_string())),
            _ => None,
        };
        let v = format!("Basic {}", b64("al:pw:x"));
        assert_eq!(ok(&v), Some(("al".into(), "pw:x".into())));
        assert!(ok(&format!("basic  {} ", b64("a:b"))).is_some());
        assert!(ok(&format!("BASIC {}", b64("a:b").trim_end_matches('='))).is_some());
        assert_eq!(basic_credentials(b"Bearer x"), None);
        assert_eq!(basic_credentials(b"Basic"), None);
        assert_eq!(basic_credentials(b"Basic "), None);
        assert_eq!(basic_credentials(b"Basic !!!"), Some(Err(())));
        let v = format!("Basic {}", b64("nocolon"));
        assert_eq!(basic_credentials(v.as_bytes()), Some(Err(())));
        // spaces inside are skipped; the token ends at the first byte
        // outside the alphabet; a dangling last character is an error
        let good = b64("apr:pw");
        let spaced = format!("Basic {} {}", &good[..4], &good[4..]);
        assert!(ok(&spaced).is_some());
        assert!(ok(&format!("Basic {good},junk")).is_some());
        assert!(ok(&format!("Basic {good}-_x")).is_some());
        let dangling = format!("Basic {}x", b64("apr:pw"));
        assert_eq!(basic_credentials(dangling.as_bytes()), Some(Err(())));
        let long = format!("Basic {}", "A".repeat(MAX_BASIC_TOKEN));
        assert_eq!(basic_credentials(long.as_bytes()), None);
    }

    #[test]
    fn require_forms() {
        assert_eq!(parse_require(b"valid-user"), Ok(Allowed::AnyUser));
        assert_eq!(
            parse_require(b"user=a|group=g|host=h|user=b c|"),
            Ok(Allowed::Users(vec!["a".into(), "b c".into()]))
        );
        assert_eq!(parse_require(b"user=a||user=b"), Err("|user=b".into()));
        assert_eq!(parse_require(b"|user=a"), Err("|user=a".into()));
        assert_eq!(
            parse_require(b"valid-user|user=a"),
            Err("valid-user|user=a".into())
        );
        assert_eq!(parse_require(b"user="), Err("user=".into()));
        assert_eq!(parse_require(b"USER=a"), Err("USER=a".into()));
    }

    #[test]
    fn user_files() {
        let f = b"# c\nal:one\r\nal:two\nbo:x:y\nbo:x:yy:hash\nnocolon\n";
        let find = |b, user: &[u8], realm: &[u8], n| find_secret(b, f, user, realm, n);
        assert_eq!(find(Backend::Plain, b"al", b"", 0), Some(&b"one"[..]));
        assert_eq!(find(Backend::Plain, b"bo", b"", 0), Some(&b"x:y"[..]));
        assert_eq!(find(Backend::Plain, b"# c", b"", 0), None);
        assert_eq!(find(Backend::Htdigest, b"bo", b"x", 1), Some(&b"y"[..]));
        assert_eq!(find(Backend::Htdigest, b"bo", b"x", 2), Some(&b"yy"[..]));
        assert_eq!(find(Backend::Htdigest, b"bo", b"z", 1), None);
        assert_eq!(strongest(b"MD5|sha-256"), Some(passwd::DigestAlg::Sha256));
        assert_eq!(
            strongest(b"SHA-512-256|SHA-256-sess"),
            Some(passwd::DigestAlg::Sha512_256)
        );
        assert_eq!(strongest(b""), Some(passwd::DigestAlg::Md5));
        assert_eq!(strongest(b"SHA-1"), None);
    }

    #[test]
    fn first_listed_prefix() {
        let rule = |p: &str| Rule {
            prefix: p.into(),
            realm: "r".into(),
            method: Method::Basic,
            algorithm: passwd::DigestAlg::Md5,
            allowed: Allowed::AnyUser,
            challenge: http::HeaderValue::from_static("Basic realm=\"r\""),
        };
        let s = AuthSettings {
            require: Some(vec![rule("/a"), rule("/a/b")].into()),
            ..Default::default()
        };
        assert_eq!(
            s.rule_for(b"/a/b/c", false).map(|r| r.prefix.as_slice()),
            Some(&b"/a"[..])
        );
        assert!(s.rule_for(b"/A/b", false).is_none());
        assert!(s.rule_for(b"/A/b", true).is_some());
        assert!(s.rule_for(b"/b", false).is_none());
    }
}
