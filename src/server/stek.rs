//! `ssl.stek-file`: TLS session tickets encrypted with a key from a file,
//! so that servers (or restarts) reading the same file resume each
//! other's sessions (lighttpd: `mod_openssl.c`, session ticket encryption
//! keys).
//!
//! The file is lighttpd's: a 4-byte format version (0), 4-byte activation
//! and expiration times (seconds since the epoch, native byte order), a
//! 16-byte key name, 32 bytes lighttpd uses for an HMAC, and a 32-byte AES
//! key — 92 bytes. A ticket is the key name, a random 12-byte nonce and the
//! session state sealed with AES-256-GCM under the AES key (the name is
//! authenticated too). The file is read with the configuration (at start
//! and on SIGUSR1); a key that is not yet active or has expired is not
//! used, and tickets sealed with a key that is gone are refused (the
//! client makes a full handshake).

use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use tokio_rustls::rustls;

/// The size of a lighttpd STEK file.
const STEK_LEN: usize = 92;
/// The version, activation and expiration fields before the key.
const HEADER_LEN: usize = 12;
const NAME_LEN: usize = 16;

/// Session tickets sealed with the key of a STEK file.
pub struct StekTicketer {
    name: [u8; NAME_LEN],
    key: LessSafeKey,
    rng: SystemRandom,
    lifetime: u32,
}

impl std::fmt::Debug for StekTicketer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StekTicketer").finish_non_exhaustive()
    }
}

impl StekTicketer {
    /// The ticketer of a STEK file's contents, at time `now` (seconds
    /// since the epoch).
    pub fn from_bytes(bytes: &[u8], now: i64) -> Result<StekTicketer, String> {
        if bytes.len() != STEK_LEN {
            return Err(format!(
                "a session ticket key file holds {STEK_LEN} bytes, this one {}",
                bytes.len()
            ));
        }
        let field = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&bytes[i * 4..i * 4 + 4]);
            i64::from(i32::from_ne_bytes(b))
        };
        let (version, active, expires) = (field(0), field(1), field(2));
        if version != 0 {
            return Err(format!("unknown format version {version} (0 expected)"));
        }
        if now < active {
            return Err(format!("the key is active from {active} on, not yet"));
        }
        if now >= expires {
            return Err(format!("the key expired at {expires}"));
        }
        let key = &bytes[HEADER_LEN..];
        let mut name = [0u8; NAME_LEN];
        name.copy_from_slice(&key[..NAME_LEN]);
        let aes = &key[NAME_LEN + 32..];
        let key = UnboundKey::new(&AES_256_GCM, aes).map_err(|_| "unusable AES key".to_string())?;
        Ok(StekTicketer {
            name,
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
            lifetime: u32::try_from((expires - now).clamp(1, 86_400)).unwrap_or(86_400),
        })
    }

    /// The ticketer of a STEK file.
    pub fn from_file(path: &Path) -> Result<StekTicketer, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Self::from_bytes(&bytes, now).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl rustls::server::ProducesTickets for StekTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.lifetime
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&self.name),
                &mut sealed,
            )
            .ok()?;
        let mut out = Vec::with_capacity(NAME_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(&self.name);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let name = cipher.get(..NAME_LEN)?;
        if name != self.name {
            return None;
        }
        let nonce = cipher.get(NAME_LEN..NAME_LEN + NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = cipher.get(NAME_LEN + NONCE_LEN..)?.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(&self.name), &mut sealed)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::server::ProducesTickets;

    /// A key file active from 100 to 1000.
    fn key(seed: u8) -> Vec<u8> {
        let mut k = Vec::new();
        for v in [0i32, 100, 1000] {
            k.extend_from_slice(&v.to_ne_bytes());
        }
        k.extend((0..80u8).map(|i| i.wrapping_mul(7) ^ seed));
        k
    }

    #[test]
    fn tickets_open_with_the_same_file_only() {
        let a = StekTicketer::from_bytes(&key(1), 500).expect("key");
        let a2 = StekTicketer::from_bytes(&key(1), 500).expect("key");
        let b = StekTicketer::from_bytes(&key(2), 500).expect("key");
        let t = a.encrypt(b"session state").expect("sealed");
        assert_eq!(a2.decrypt(&t).as_deref(), Some(&b"session state"[..]));
        assert_eq!(b.decrypt(&t), None);
        let mut bent = t.clone();
        let last = bent.len() - 1;
        bent[last] ^= 1;
        assert_eq!(a.decrypt(&bent), None);
        assert_eq!(a.decrypt(&t[..10]), None);
        assert_eq!(a.lifetime(), 500);
        // a ticket outlives neither the key nor a day
        let mut long = key(1);
        long[8..12].copy_from_slice(&i32::MAX.to_ne_bytes());
        let l = StekTicketer::from_bytes(&long, 500).expect("key");
        assert_eq!(l.lifetime(), 86_400);
    }

    #[test]
    fn file_format_and_validity() {
        assert!(StekTicketer::from_bytes(&key(1)[..91], 500).is_err());
        assert!(
            StekTicketer::from_bytes(&key(1)[12..], 500).is_err(),
            "80 bytes"
        );
        assert!(
            StekTicketer::from_bytes(&key(1), 99).is_err(),
            "not yet active"
        );
        assert!(StekTicketer::from_bytes(&key(1), 1000).is_err(), "expired");
        let mut v1 = key(1);
        v1[..4].copy_from_slice(&1i32.to_ne_bytes());
        assert!(StekTicketer::from_bytes(&v1, 500).is_err(), "version 1");
    }
}
