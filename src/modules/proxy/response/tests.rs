use super::*;

fn p(text: &[u8], head_request: bool) -> Result<Option<Head>, HeadError> {
    let mut b = BytesMut::from(text);
    parse(&mut b, head_request, None)
}

fn head(text: &str) -> Head {
    let mut b = BytesMut::from(format!("{text}BODY").as_bytes());
    match parse(&mut b, false, None) {
        Ok(Some(h)) => {
            assert_eq!(&b[..], b"BODY", "the head is taken out of the buffer");
            h
        }
        other => panic!("{text:?}: {other:?}"),
    }
}

fn names(h: &Head) -> Vec<String> {
    h.headers
        .iter()
        .map(|(k, v)| format!("{}: {}", k, v.to_str().unwrap_or("?")))
        .collect()
}

#[test]
fn status_lines() {
    assert_eq!(head("HTTP/1.1 200 X\r\n\r\n").status, StatusCode::OK);
    assert_eq!(head("HTTP/1.0 999\r\n\r\n").status.as_u16(), 999);
    for bad in [
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "garbage\r\n\r\n",
        "HTTP/2 200\r\n\r\n",
    ] {
        assert_eq!(
            p(bad.as_bytes(), false).err(),
            Some(HeadError::Invalid),
            "{bad:?}"
        );
    }
    assert!(matches!(p(b"HTTP/1.1 200 OK\r\nA: b\r\n", false), Ok(None)));
    let huge = format!("HTTP/1.1 200 OK\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
    assert_eq!(p(huge.as_bytes(), false).err(), Some(HeadError::TooLarge));
}

/// Hop-by-hop and internal headers go; others stay in order (proxy.md §6.2).
#[test]
fn header_filtering() {
    let h = head(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\n\
         Upgrade: h2c\r\nStatus: 299\r\nServer: be\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\
         X-Sendfile: /etc/passwd\r\nX-LIGHTTPD-KBytes-per-second: 5\r\nHTTP2-Settings: x\r\n\
         X-Bad : dropped\r\nContent-Type: application/javascript;charset=utf-8\r\nContent-Length: 3\r\n\r\n",
    );
    assert_eq!(
        names(&h),
        [
            "keep-alive: timeout=5",
            "proxy-connection: x",
            "upgrade: h2c",
            "status: 299",
            "server: be",
            "set-cookie: a=1",
            "set-cookie: b=2",
            "content-type: text/javascript;charset=utf-8",
            "content-length: 3",
        ]
    );
    assert_eq!(h.x_sendfile.as_deref(), Some(&b"/etc/passwd"[..]));
    assert_eq!(h.framing, Framing::Length(3));
    assert!(!h.reusable, "Connection: close");
    // headers without a value are left out, as lighttpd leaves them out
    // (and X-LIGHTTPD-send-file is not taken, only dropped)
    let h = head(
        "HTTP/1.1 200 OK\r\nX-Empty:\r\nServer: \r\nX-Blank:   \r\nContent-Type:\r\n\
         Location: \r\nSet-Cookie:\r\nX-Sendfile:\r\nX-LIGHTTPD-send-file: /etc/passwd\r\n\
         X-Kept: k\r\nContent-Length: 2\r\n\r\n",
    );
    assert_eq!(names(&h), ["x-kept: k", "content-length: 2"]);
    assert_eq!(h.x_sendfile, None);
}

/// Framing: chunked wins over Content-Length; conflicting or invalid
/// lengths are refused; no body for HEAD, 204, 304.
#[test]
fn framing() {
    let h = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(h.framing, Framing::Chunked);
    assert!(!h.headers.contains_key(CONTENT_LENGTH));
    assert!(h.reusable);
    assert_eq!(head("HTTP/1.1 200 OK\r\n\r\n").framing, Framing::Close);
    assert!(!head("HTTP/1.1 200 OK\r\n\r\n").reusable);
    assert_eq!(
        head("HTTP/1.1 204 No Content\r\n\r\n").framing,
        Framing::None
    );
    assert!(!head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").reusable);
    assert!(
        head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n").reusable
    );
    let same = head("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(same.headers.get_all(CONTENT_LENGTH).iter().count(), 1);
    for bad in [
        "Content-Length: 2\r\nContent-Length: 3",
        "Content-Length: -1",
        "Content-Length: 1x",
    ] {
        let t = format!("HTTP/1.1 200 OK\r\n{bad}\r\n\r\n");
        assert_eq!(
            p(t.as_bytes(), false).err(),
            Some(HeadError::BadLength),
            "{bad}"
        );
    }
    match p(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true) {
        Ok(Some(h)) => assert_eq!(h.framing, Framing::None),
        other => panic!("{other:?}"),
    }
}

fn decode_all(input: &[u8]) -> io::Result<(Vec<u8>, Vec<u8>, usize)> {
    let mut state = Chunk::Size;
    let mut buf = BytesMut::from(input);
    let mut trailers = Vec::new();
    let mut out = Vec::new();
    loop {
        match decode_chunk(&mut state, &mut buf, &mut trailers)? {
            Step::Data(d) => out.extend_from_slice(&d),
            Step::Done => return Ok((out, trailers, buf.len())),
            Step::More => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "more")),
        }
    }
}

#[test]
fn chunked_decoding() {
    let (body, trailers, rest) =
        decode_all(b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\nNEXT")
            .expect("decodes");
    assert_eq!(body, b"helloabc");
    assert_eq!(trailers, b"X-Trailer: t\r\n");
    assert_eq!(rest, 4, "bytes after the body stay in the buffer");
    assert!(decode_all(b"zz\r\n").is_err());
    assert!(decode_all(b"2\r\nabX\r\n").is_err());
    assert!(decode_all(b"fffffffffffffffff\r\n").is_err());
    assert_eq!(
        decode_all(b"5\r\nhel").err().map(|e| e.kind()),
        Some(io::ErrorKind::UnexpectedEof)
    );
}

/// A size or trailer line longer than the limit is refused whether it
/// arrived whole or in part, and the longest allowed one is taken.
#[test]
fn long_chunk_lines() {
    let long = format!("0\r\nX: {}\r\n\r\n", "t".repeat(MAX_LINE));
    assert!(decode_all(long.as_bytes()).is_err(), "whole");
    let mut d = Dechunker::default();
    let mut buf = BytesMut::from(&long.as_bytes()[..MAX_LINE]);
    assert_eq!(d.step(&mut buf).expect("so far"), Step::More);
    buf.extend_from_slice(&long.as_bytes()[MAX_LINE..]);
    assert!(d.step(&mut buf).is_err(), "in two parts");
    let fits = format!("0\r\nX: {}\r\n\r\n", "t".repeat(MAX_LINE - 3));
    let (_, trailers, _) = decode_all(fits.as_bytes()).expect("longest line");
    assert_eq!(trailers.len(), MAX_LINE + 2);
}

/// Header values are taken as httparse checked them, unchecked again: the
/// bytes HeaderValue allows (HTAB, SP to `~`, obs-text) come through as
/// they are, and a head with any other control byte in a value is refused.
#[test]
fn header_value_bytes() {
    let mut b =
        BytesMut::from(&b"HTTP/1.1 200 OK\r\nX-A: a\tb \x80\xff~\r\nContent-Length: 0\r\n\r\n"[..]);
    let h = match parse(&mut b, false, None) {
        Ok(Some(h)) => h,
        other => panic!("{other:?}"),
    };
    assert_eq!(h.headers["x-a"].as_bytes(), b"a\tb \x80\xff~");
    for bad in [0u8, 0x01, 0x0b, 0x1f, 0x7f] {
        let text = [
            &b"HTTP/1.1 200 OK\r\nX-A: a"[..],
            &[bad],
            &b"b\r\nContent-Length: 0\r\n\r\n"[..],
        ]
        .concat();
        assert_eq!(p(&text, false).err(), Some(HeadError::Invalid), "{bad:#x}");
    }
}

/// A name [`hdr::usual`] recognises has the role the comparisons give any
/// spelling of it.
#[test]
fn usual_names_keep_their_roles() {
    for raw in hdr::USUAL_NAMES {
        for spelling in [raw.to_string(), raw.to_ascii_lowercase()] {
            let u = hdr::usual(spelling.as_bytes());
            assert!(u.is_some(), "{spelling}");
            let hn = HeaderName::from_bytes(spelling.as_bytes()).expect("name");
            assert_eq!(u.map(Usual::name), Some(hn.clone()), "{spelling}");
            assert_eq!(role(&hn, u), role(&hn, None), "{spelling}");
        }
        assert_eq!(hdr::usual(raw.to_ascii_uppercase().as_bytes()), None);
    }
    let roles = |n: &str| role(&HeaderName::from_bytes(n.as_bytes()).expect("name"), None);
    assert_eq!(roles("X-Sendfile"), Role::SendFile);
    // (lighttpd 1.4.69 takes it from FastCGI backends only: dropped here)
    assert_eq!(roles("X-LIGHTTPD-send-file"), Role::Dropped);
    assert_eq!(roles("X-LIGHTTPD-other"), Role::Dropped);
    assert_eq!(roles("HTTP2-Settings"), Role::Dropped);
    assert_eq!(roles("Content-Location"), Role::Location);
    assert_eq!(roles("Upgrade"), Role::Upgrade);
    assert_eq!(roles("X-Other"), Role::Plain);
}

/// The same head in usual and unusual spellings: the same headers, length,
/// framing and connection fate.
#[test]
fn spelling_of_names_changes_nothing() {
    let text = "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\n\
                Content-Length: 4\r\nConnection: close\r\nETag: \"x\"\r\nX-LIGHTTPD-foo: 1\r\n\r\n";
    let odd = text
        .replace("Content-Type", "CONTENT-type")
        .replace("Content-Length", "content-LENGTH")
        .replace("Connection", "CONNECTION")
        .replace("ETag", "Etag");
    let (a, b) = (head(text), head(&odd));
    assert_eq!(names(&a), names(&b));
    assert_eq!(a.headers, b.headers);
    assert_eq!(a.framing, b.framing);
    assert_eq!((a.reusable, a.encoded), (b.reusable, b.encoded));
    assert_eq!(a.headers["content-type"], "text/javascript");
    assert!(!a.reusable);
}
