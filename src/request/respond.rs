//! Responses wick makes itself: the standard error page, and the headers
//! every response gets (lighttpd: `http_response_body_clear`,
//! `http_response_send_file` for error files, `http_response_write_header`).

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, SERVER};
use http::{Response, StatusCode};

use super::body::Body;
use crate::routing::Settings;

/// Where lighttpd's reason phrase differs from the `http` crate's: other
/// words (203, 207, 306) or none at all (418, 425).
fn lighttpd_words(status: StatusCode) -> Option<&'static str> {
    match status.as_u16() {
        203 => Some("Non-Authoritative Information"),
        207 => Some("Multi-status"),
        306 => Some("(Unused)"),
        418 | 425 => Some(""),
        _ => None,
    }
}

/// lighttpd's reason phrase for `status`, for status lines and error
/// pages alike; none for a code the `http` crate does not know either (a
/// backend's 299 or 599).
pub fn reason(status: StatusCode) -> &'static str {
    lighttpd_words(status)
        .or_else(|| status.canonical_reason())
        .unwrap_or("")
}

/// `CODE TEXT`, as the error page writes a status (`418 ` for a code
/// lighttpd does not name).
pub fn status_line(status: StatusCode) -> String {
    format!("{} {}", status.as_u16(), reason(status))
}

/// The reason phrase a status line needs where hyper would write another
/// one (hyper writes the `http` crate's, or `<none>`).
pub fn own_reason(status: StatusCode) -> Option<&'static [u8]> {
    lighttpd_words(status)
        .or_else(|| status.canonical_reason().is_none().then_some(""))
        .map(str::as_bytes)
}

/// The standard error page: the XHTML document lighttpd sends when it makes
/// a 4xx/5xx response itself and no error file or handler applies.
pub fn error_page(status: StatusCode) -> Bytes {
    let s = status_line(status);
    Bytes::from(format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
         <!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \
         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
         <html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
         <head>\n  <title>{s}</title>\n </head>\n <body>\n  <h1>{s}</h1>\n </body>\n</html>\n"
    ))
}

/// An error response with the standard page (headers only for HEAD).
pub fn error_response(status: StatusCode, head_only: bool) -> Response<Body> {
    let page = error_page(status);
    let len = page.len();
    let mut r = Response::new(if head_only {
        Body::empty()
    } else {
        Body::full(page)
    });
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// Adds the `Server` header from `server.tag` (none when it is empty).
pub fn add_server_header(r: &mut Response<Body>, settings: &Settings) {
    let Some(v) = &settings.server_header else {
        return;
    };
    // (a static file's cached headers have it already)
    if !super::hdr::contains(r.headers(), &SERVER) {
        r.headers_mut().insert(SERVER, v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page is 315 bytes plus twice `CODE TEXT`, as observed with lighttpd.
    #[test]
    fn error_page_length_matches_lighttpd() {
        for (code, len) in [
            (404, 341),
            (400, 345),
            (502, 345),
            (504, 353),
            (413, 357),
            (503, 361),
            (500, 365),
            (416, 365),
        ] {
            let status = StatusCode::from_u16(code).expect("status");
            assert_eq!(error_page(status).len(), len, "{code}");
        }
        let page = error_page(StatusCode::NOT_FOUND);
        assert!(
            page.starts_with(b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html")
        );
        assert!(page.ends_with(b" <body>\n  <h1>404 Not Found</h1>\n </body>\n</html>\n"));
    }

    /// Every 4xx and 5xx code gets lighttpd's title: its reason where
    /// lighttpd names the code, nothing after the number otherwise.
    #[test]
    fn error_page_titles_match_lighttpd() {
        // (lighttpd 1.4.69's page titles for a backend's 400..=599 under
        // server.error-intercept: these codes are named, the others not)
        let named = [
            (400, "Bad Request"),
            (401, "Unauthorized"),
            (402, "Payment Required"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (406, "Not Acceptable"),
            (407, "Proxy Authentication Required"),
            (408, "Request Timeout"),
            (409, "Conflict"),
            (410, "Gone"),
            (411, "Length Required"),
            (412, "Precondition Failed"),
            (413, "Payload Too Large"),
            (414, "URI Too Long"),
            (415, "Unsupported Media Type"),
            (416, "Range Not Satisfiable"),
            (417, "Expectation Failed"),
            (421, "Misdirected Request"),
            (422, "Unprocessable Entity"),
            (423, "Locked"),
            (424, "Failed Dependency"),
            (426, "Upgrade Required"),
            (428, "Precondition Required"),
            (429, "Too Many Requests"),
            (431, "Request Header Fields Too Large"),
            (451, "Unavailable For Legal Reasons"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (502, "Bad Gateway"),
            (503, "Service Unavailable"),
            (504, "Gateway Timeout"),
            (505, "HTTP Version Not Supported"),
            (506, "Variant Also Negotiates"),
            (507, "Insufficient Storage"),
            (508, "Loop Detected"),
            (510, "Not Extended"),
            (511, "Network Authentication Required"),
        ];
        for code in 400..=599u16 {
            let status = StatusCode::from_u16(code).expect("status");
            let reason = named
                .iter()
                .find(|(c, _)| *c == code)
                .map_or("", |(_, r)| r);
            assert_eq!(status_line(status), format!("{code} {reason}"));
        }
        // (the page of an unnamed code is 315 bytes and twice "599 ")
        let status = StatusCode::from_u16(599).expect("status");
        assert_eq!(error_page(status).len(), 323);
    }

    /// Status lines: lighttpd's phrase where the `http` crate's differs
    /// (as observed for every code 200..=599), none for unknown codes.
    #[test]
    fn own_reasons_where_lighttpd_differs() {
        let cases: [(u16, Option<&[u8]>); 9] = [
            (203, Some(b"Non-Authoritative Information")),
            (207, Some(b"Multi-status")),
            (306, Some(b"(Unused)")),
            (418, Some(b"")),
            (425, Some(b"")),
            (299, Some(b"")),
            (600, Some(b"")),
            (200, None),
            (404, None),
        ];
        for (code, reason) in cases {
            let status = StatusCode::from_u16(code).expect("status");
            assert_eq!(own_reason(status), reason, "{code}");
        }
    }
}
