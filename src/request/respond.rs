//! Responses wick makes itself: the standard error page, and the headers
//! every response gets (lighttpd: `http_response_body_clear`,
//! `http_response_send_file` for error files, `http_response_write_header`).

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, SERVER};
use http::{Response, StatusCode};

use super::body::Body;
use crate::routing::Settings;

/// `CODE TEXT`, as the error page and lighttpd's logs write a status.
pub fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Unknown")
    )
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
}
