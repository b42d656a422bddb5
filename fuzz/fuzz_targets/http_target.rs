//! Arbitrary request-targets and Host values through wick's normalisers
//! (`request::target`, `request::host`) under every combination of
//! `server.http-parseopts` lighttpd accepts:
//!
//! * the fast path for plain targets gives exactly what the full
//!   normaliser gives;
//! * the decoded path (what handlers and the document root see) starts
//!   with `/` and has no `.` or `..` segment, so it cannot climb out;
//! * a normalised Host is lower-case, has no NUL/CR/LF, and normalising
//!   it again changes nothing.
//!
//! Input: `[option bits (2 bytes), bytes...]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wick::request::host::normalize_host_with_port;
use wick::request::target::{ParseOpts, normalize, normalize_slow};

fn opts(bits: u16) -> ParseOpts {
    let b = |i: u32| bits >> i & 1 == 1;
    ParseOpts {
        header_strict: b(0),
        host_strict: b(1),
        host_normalize: b(2),
        url_normalize: b(3),
        url_normalize_unreserved: b(4),
        url_normalize_required: b(5),
        url_ctrls_reject: b(6),
        url_path_2f_decode: b(7),
        url_path_2f_reject: b(8),
        url_path_dotseg_remove: b(9),
        url_path_dotseg_reject: b(10),
        url_path_backslash_trans: b(11),
        url_query_20_plus: b(12),
        url_invalid_utf8_reject: b(13),
    }
}

fuzz_target!(|data: &[u8]| {
    let [lo, hi, ref raw @ ..] = *data else {
        return;
    };
    let bits = u16::from_le_bytes([lo, hi]);
    for o in [opts(bits), ParseOpts::default()] {
        if o.conflict().is_some() {
            continue;
        }
        // The target.
        let mut target = vec![b'/'];
        target.extend_from_slice(raw);
        for t in [raw, &target[..]] {
            let fast = normalize(t, &o);
            let slow = normalize_slow(t, &o);
            assert_eq!(fast, slow, "fast path differs for {:?}", String::from_utf8_lossy(t));
            if let Ok(t) = fast {
                let p = &t.path;
                assert!(p.starts_with(b"/"), "path {p:?} is not absolute");
                for seg in p.split(|&b| b == b'/') {
                    assert!(seg != b"." && seg != b"..", "dot segment left in {p:?}");
                }
            }
        }
        // The same bytes as a Host value.
        for port in [80, 443] {
            if let Ok(h) = normalize_host_with_port(raw, &o, port) {
                assert!(!h.iter().any(u8::is_ascii_uppercase), "upper case in {h:?}");
                assert!(!h.iter().any(|b| matches!(b, 0 | b'\r' | b'\n')), "NUL/CR/LF in {h:?}");
                let again = normalize_host_with_port(&h, &o, port);
                assert_eq!(again.as_ref(), Ok(&h), "normalising {h:?} again changes it");
            }
        }
    }
});
