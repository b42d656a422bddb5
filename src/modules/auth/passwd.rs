//! Password checks of the user files (mod_authn_file): the hash of an
//! htpasswd line, and the hex digests of htdigest lines and of HTTP
//! Digest authentication.
//!
//! An htpasswd hash is one of Apache's: `$apr1$` (Apache's variant of the
//! MD5 crypt, `htpasswd -m`, its default), `{SHA}` (base64 of SHA-1,
//! `htpasswd -s`), or anything the system's crypt(3) understands (`$2y$`
//! bcrypt, `$1$`, `$5$`, `$6$`, `$y$` yescrypt, two-character-salt DES),
//! which is what lighttpd asks too.

use std::ffi::{CString, c_char, c_void};

use base64::Engine as _;
use md5::Digest as _;
use subtle::ConstantTimeEq as _;

/// True when `password` matches the htpasswd `hash`.
pub fn htpasswd_matches(hash: &[u8], password: &[u8]) -> bool {
    if let Some(rest) = hash.strip_prefix(b"$apr1$") {
        let salt = rest.split(|&b| b == b'$').next().unwrap_or_default();
        let made = apr1(password, salt);
        return made.as_bytes().ct_eq(hash).into();
    }
    if let Some(b64) = hash.strip_prefix(b"{SHA}") {
        // (what follows the base-64 text is not read, as in lighttpd)
        let Ok(stored) = lenient_base64(b64.iter().copied()) else {
            return false;
        };
        let sum = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password);
        return stored.as_slice().ct_eq(sum.as_ref()).into();
    }
    match crypt(password, hash) {
        // crypt(3) answers a failure with a string that starts with '*'
        // (never a hash), or nothing
        Some(made) if !made.starts_with(b"*") => made.ct_eq(hash).into(),
        _ => false,
    }
}

/// The system's crypt(3) of `password` with the setting (and salt) of
/// `hash`: the hash to compare with, or `None` when crypt refuses.
fn crypt(password: &[u8], hash: &[u8]) -> Option<Vec<u8>> {
    #[link(name = "crypt")]
    unsafe extern "C" {
        fn crypt_r(phrase: *const c_char, setting: *const c_char, data: *mut c_void)
        -> *mut c_char;
    }
    let phrase = CString::new(password).ok()?;
    let setting = CString::new(hash).ok()?;
    // struct crypt_data: 32 KiB in libxcrypt, 128.2 KiB in glibc's old
    // libcrypt; the larger size serves both. It must start zeroed.
    let mut data = vec![0u64; 131_232usize.div_ceil(8)];
    // SAFETY: both strings are NUL-terminated and live across the call;
    // `data` is a zeroed buffer at least as large as struct crypt_data
    // and suitably aligned; the result points into `data` (or is null).
    let out = unsafe { crypt_r(phrase.as_ptr(), setting.as_ptr(), data.as_mut_ptr().cast()) };
    if out.is_null() {
        return None;
    }
    // SAFETY: a non-null result is a NUL-terminated string inside `data`,
    // which is still alive here.
    let made = unsafe { std::ffi::CStr::from_ptr(out) };
    Some(made.to_bytes().to_vec())
}

/// Decodes base-64 as lighttpd reads it (Basic credentials, `{SHA}`
/// hashes): the standard alphabet, padding optional, the text ending at
/// the first byte outside the alphabet (`=` included).
pub fn lenient_base64(text: impl Iterator<Item = u8>) -> Result<Vec<u8>, base64::DecodeError> {
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let token: Vec<u8> = text
        .take_while(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        .collect();
    LENIENT.decode(token)
}

/// The characters of crypt's base-64.
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Apache's `$apr1$` hash of `password` with `salt` (at most 8 bytes are
/// used): the MD5 crypt of FreeBSD with Apache's magic string.
pub fn apr1(password: &[u8], salt: &[u8]) -> String {
    const MAGIC: &[u8] = b"$apr1$";
    let salt = &salt[..salt.len().min(8)];
    let mut alt = md5::Md5::new();
    alt.update(password);
    alt.update(salt);
    alt.update(password);
    let alt = alt.finalize();
    let mut ctx = md5::Md5::new();
    ctx.update(password);
    ctx.update(MAGIC);
    ctx.update(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        bits >>= 1;
    }
    let mut sum: [u8; 16] = ctx.finalize().into();
    for i in 0..1000 {
        let mut c = md5::Md5::new();
        if i & 1 == 1 {
            c.update(password);
        } else {
            c.update(sum);
        }
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(password);
        }
        if i & 1 == 1 {
            c.update(sum);
        } else {
            c.update(password);
        }
        sum = c.finalize().into();
    }
    let mut out = String::with_capacity(MAGIC.len() + salt.len() + 23);
    out.push_str("$apr1$");
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    let mut put = |v: u32, n: usize| {
        let mut v = v;
        for _ in 0..n {
            out.push(char::from(ITOA64[(v & 0x3f) as usize]));
            v >>= 6;
        }
    };
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        put(
            (u32::from(sum[a]) << 16) | (u32::from(sum[b]) << 8) | u32::from(sum[c]),
            4,
        );
    }
    put(u32::from(sum[11]), 2);
    out
}

/// A digest algorithm of HTTP Digest authentication (RFC 7616), weakest
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DigestAlg {
    /// MD5
    Md5,
    /// SHA-256
    Sha256,
    /// SHA-512-256
    Sha512_256,
}

impl DigestAlg {
    /// The lowercase hex digest of the parts joined by `:`.
    pub fn hex(self, parts: &[&[u8]]) -> String {
        let mut joined = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                joined.push(b':');
            }
            joined.extend_from_slice(p);
        }
        match self {
            DigestAlg::Md5 => hex(&md5::Md5::digest(&joined)),
            DigestAlg::Sha256 => hex(ring::digest::digest(&ring::digest::SHA256, &joined).as_ref()),
            DigestAlg::Sha512_256 => {
                hex(ring::digest::digest(&ring::digest::SHA512_256, &joined).as_ref())
            }
        }
    }

    /// The length of the hex digest.
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlg::Md5 => 32,
            DigestAlg::Sha256 | DigestAlg::Sha512_256 => 64,
        }
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(D[usize::from(b >> 4)]));
        s.push(char::from(D[usize::from(b & 15)]));
    }
    s
}

/// Compares two byte strings in time that does not depend on where they
/// differ (their lengths may show).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apr1_as_apache_makes_it() {
        // `openssl passwd -apr1 -salt RandSalt password` and htpasswd -m
        assert_eq!(
            apr1(b"password", b"RandSalt"),
            "$apr1$RandSalt$PgCXHRrkpSt4cbyC2C6bm/"
        );
        assert!(htpasswd_matches(
            b"$apr1$RandSalt$PgCXHRrkpSt4cbyC2C6bm/",
            b"password"
        ));
        assert!(!htpasswd_matches(
            b"$apr1$RandSalt$PgCXHRrkpSt4cbyC2C6bm/",
            b"passwore"
        ));
    }

    #[test]
    fn sha_and_crypt() {
        // htpasswd -s: base64 of SHA-1("secret")
        assert!(htpasswd_matches(
            b"{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
            b"secret"
        ));
        assert!(!htpasswd_matches(
            b"{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
            b"Secret"
        ));
        // openssl passwd -6 -salt abcdefgh secret
        let six = b"$6$abcdefgh$yVfUwsw5T.JApa8POvClA1pQ5peiq97DeYTKyGJmTG3DUyJy5R7w6vY3sUjhSn3Y7hQW1OZ0dUZ9nZ3Ip2FEi.";
        let made = crypt(b"secret", six).unwrap_or_default();
        assert!(made.starts_with(b"$6$abcdefgh$"), "{made:?}");
        assert!(htpasswd_matches(&made, b"secret"));
        assert!(!htpasswd_matches(&made, b"secreT"));
        // a NUL cannot reach crypt; garbage never matches
        assert!(!htpasswd_matches(&made, b"sec\0ret"));
        assert!(!htpasswd_matches(b"", b""));
        assert!(!htpasswd_matches(b"*", b""));
    }

    #[test]
    fn digest_hex() {
        // RFC 7616 §3.9.1: HA1 of Mufasa:http-auth@example.org:Circle of Life
        assert_eq!(
            DigestAlg::Md5.hex(&[b"Mufasa", b"http-auth@example.org", b"Circle of Life"]),
            "3d78807defe7de2157e2b0b6573a855f"
        );
        assert_eq!(DigestAlg::Sha256.hex(&[b""]).len(), 64);
    }
}
