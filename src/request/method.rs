//! Request methods lighttpd knows (lighttpd: `http_methods` and
//! `http_method_key_get` in `http_kv.c`).
//!
//! lighttpd 1.4.69 answers 501 Not Implemented to any other method, with a
//! case-sensitive comparison (`get` is unknown). `PRI` is in lighttpd's
//! table only to recognise the HTTP/2 preface; in an HTTP/1.x request line
//! it is answered 501 too, so it is not "known" here.
//!
//! What happens to a known method is up to the handler. Measured against
//! 1.4.69 serving `/f.txt` from `server.document-root` with no modules:
//!
//! | request | status |
//! |---|---|
//! | `GET`, `HEAD`, `QUERY` `/f.txt` | 200 |
//! | `POST /f.txt` with `Content-Length: 3` (or 0) | 200, the file |
//! | `POST /f.txt` without a length | 411 |
//! | `OPTIONS /f.txt` | 200, `Allow: OPTIONS, GET, HEAD, POST`, `Content-Length: 0` |
//! | `OPTIONS` of a directory without index file, an excluded extension, path info under `disable-pathinfo` | 200, the same |
//! | `OPTIONS /nope` | 404 |
//! | `OPTIONS *` | 200, `Allow: OPTIONS, GET, HEAD, POST`, also with mod_proxy |
//! | `GET *`, `HEAD *`, `POST *`, `OPTIONS *x`, `OPTIONS **` | 400 |
//! | `PUT`, `DELETE`, `TRACE`, `PROPFIND`… `/f.txt` | 501 |
//! | `DELETE /nope` | 404 |
//! | `CONNECT /f.txt` | 405 |
//! | `CONNECT h:80` | 400 |
//! | `FOO`, `get`, `Get`, `PURGE`, `M-SEARCH`, `PRI /f.txt` | 501 |
//!
//! Through mod_proxy (or mod_magnet) every known method except `CONNECT`
//! reaches the handler and is forwarded as is; unknown ones never do.

/// The methods lighttpd 1.4.69 accepts, in its table's order.
pub const KNOWN: &[&str] = &[
    "GET",
    "HEAD",
    "QUERY",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "ACL",
    "BASELINE-CONTROL",
    "BIND",
    "CHECKIN",
    "CHECKOUT",
    "COPY",
    "LABEL",
    "LINK",
    "LOCK",
    "MERGE",
    "MKACTIVITY",
    "MKCALENDAR",
    "MKCOL",
    "MKREDIRECTREF",
    "MKWORKSPACE",
    "MOVE",
    "ORDERPATCH",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "REBIND",
    "REPORT",
    "SEARCH",
    "UNBIND",
    "UNCHECKOUT",
    "UNLINK",
    "UNLOCK",
    "UPDATE",
    "UPDATEREDIRECTREF",
    "VERSION-CONTROL",
];

/// Whether lighttpd 1.4.69 accepts `method` (exact, case-sensitive match);
/// for any other method it answers 501.
#[doc(alias = "http_method_key_get")]
pub fn is_known(method: &[u8]) -> bool {
    KNOWN.iter().any(|m| m.as_bytes() == method)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every method of the table is accepted (each measured: forwarded by
    /// mod_proxy, answered by mod_magnet).
    #[test]
    fn table_methods_are_known() {
        for m in KNOWN {
            assert!(is_known(m.as_bytes()), "{m}");
        }
        assert!(is_known(b"PROPFIND"));
        assert!(is_known(b"QUERY"));
    }

    /// Measured 501: other spellings and methods outside the table.
    #[test]
    fn others_are_unknown() {
        for m in [
            "get",
            "Get",
            "head",
            "post",
            "propfind",
            "FOO",
            "PURGE",
            "M-SEARCH",
            "NOTIFY",
            "SUBSCRIBE",
            "UNSUBSCRIBE",
            "POLL",
            "BPROPFIND",
            "X-MS-ENUMATTS",
            "MSEARCH",
            "GETS",
            "GE",
            "G",
            "HEAD1",
            "PRI",
            "",
        ] {
            assert!(!is_known(m.as_bytes()), "{m}");
        }
        assert!(!is_known(b"GET\0"));
        assert!(!is_known(b"GET "));
    }
}
