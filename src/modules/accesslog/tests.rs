//! Expected lines are the ones lighttpd 1.4.69 wrote for the same requests
//! (captured with `lighttpd -D` on 127.0.0.1; the records below restate
//! what those requests were).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bstr::BString;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

fn at(secs: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, nanos)
}

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_bytes(value).expect("value"),
        );
    }
    map
}

/// A GET of /index.html on 127.0.0.1:48855 from port 60382.
fn record<'a>(req: &'a HeaderMap, resp: &'a HeaderMap) -> Record<'a> {
    Record {
        remote_addr: "127.0.0.1",
        remote_port: 60382,
        local_addr: "127.0.0.1",
        local_port: Some(48855),
        remote_user: None,
        start: at(1_795_277_711, 444_069_294),
        end: at(1_795_277_711, 444_161_175),
        method: b"GET",
        target: b"/index.html?x=1",
        protocol: b"HTTP/1.1",
        uri_path: b"/index.html",
        query: b"x=1",
        status: 200,
        bytes_in: 76,
        bytes_out: 168,
        body_out: 6,
        request_headers: req,
        response_headers: resp,
        host: b"foo.example",
        server_name: b"",
        physical_path: Some(b"/tmp/al/al_x266c7e/htdocs/index.html"),
        env: &[],
        keepalive_count: 0,
        conn_status: ConnStatus::KeepAlive,
    }
}

fn render(format: &str, rec: &Record<'_>) -> String {
    render_bytes(format.as_bytes(), rec, Escaping::Default)
}

fn render_bytes(format: &[u8], rec: &Record<'_>, esc: Escaping) -> String {
    let f = Format::parse(format).unwrap_or_else(|e| panic!("{format:?}: {e}"));
    let mut out = Vec::new();
    f.render_escaped(rec, esc, &mut out);
    assert_eq!(out.pop(), Some(b'\n'));
    String::from_utf8(out).expect("utf-8")
}

const ALL: &str = "%%|%a|%A|%b|%B|%C|%{c1}C|%D|%{X}e|%f|%h|%H|%I|%k|%l|%m|%n|%{x}n|%O|%p|\
%{local}p|%{remote}p|%{canonical}p|%P|%q|%s|%>s|%<s|%T|%u|%U|%v|%V|%X|%{x}%|%{mport}a|%{peer}a|\
%{x}a|%{x}h|%{x}A";

/// Every specifier, first request of a keep-alive connection.
#[test]
fn every_specifier_keep_alive() {
    let req = headers(&[("host", b"foo.example"), ("cookie", b"c1=v1; c2=v2")]);
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    rec.end = rec.start + Duration::from_nanos(96_500);
    assert_eq!(
        render(ALL, &rec),
        "%|127.0.0.1|127.0.0.1|6|6||v1|97|-|/tmp/al/al_x266c7e/htdocs/index.html|127.0.0.1|\
HTTP/1.1|76|0|-|GET|-|-|168|48855|48855|60382|48855||x=1|200|200|200|0|-|/index.html|\
foo.example|foo.example|+||127.0.0.1|127.0.0.1|127.0.0.1|127.0.0.1|127.0.0.1"
    );
}

/// Second request on the connection, `Connection: close`, no cookie.
#[test]
fn every_specifier_second_request_closing() {
    let req = headers(&[("host", b"foo"), ("connection", b"close")]);
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    rec.end = rec.start + Duration::from_nanos(36_200);
    rec.target = b"/big.txt";
    rec.uri_path = b"/big.txt";
    rec.query = b"";
    rec.physical_path = Some(b"/tmp/al/al_x266c7e/htdocs/big.txt");
    (rec.bytes_in, rec.bytes_out, rec.body_out) = (55, 1184, 1000);
    rec.host = b"foo";
    rec.keepalive_count = 1;
    rec.conn_status = ConnStatus::Close;
    assert_eq!(
        render(ALL, &rec),
        "%|127.0.0.1|127.0.0.1|1000|1000|||37|-|/tmp/al/al_x266c7e/htdocs/big.txt|127.0.0.1|\
HTTP/1.1|55|1|-|GET|-|-|1184|48855|48855|60382|48855|||200|200|200|0|-|/big.txt|foo|foo|-||\
127.0.0.1|127.0.0.1|127.0.0.1|127.0.0.1|127.0.0.1"
    );
}

/// A static 404 over HTTP/1.0 without Host: `%f`, `%V`, `%v` print `-`.
#[test]
fn not_found_without_host() {
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    rec.end = rec.start + Duration::from_nanos(202_001);
    (rec.target, rec.uri_path, rec.query) = (b"/nope", b"/nope", b"");
    rec.protocol = b"HTTP/1.0";
    rec.status = 404;
    (rec.bytes_in, rec.bytes_out, rec.body_out) = (22, 494, 341);
    rec.host = b"";
    rec.physical_path = None;
    rec.conn_status = ConnStatus::Close;
    assert_eq!(
        render(ALL, &rec),
        "%|127.0.0.1|127.0.0.1|341|341|||203|-|-|127.0.0.1|HTTP/1.0|22|0|-|GET|-|-|494|48855|\
48855|60382|48855|||404|404|404|0|-|/nope|-|-|-||127.0.0.1|127.0.0.1|127.0.0.1|127.0.0.1|127.0.0.1"
    );
}

/// lighttpd's default format.
#[test]
fn default_format() {
    let req = headers(&[
        ("host", b"foo"),
        ("referer", b"http://r/"),
        ("user-agent", b"curl"),
    ]);
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    rec.protocol = b"HTTP/1.0";
    rec.host = b"foo";
    rec.end = at(1_795_277_663, 0);
    let mut out = Vec::new();
    Format::default().render(&rec, &mut out);
    let line = String::from_utf8(out).expect("utf-8");
    let (head, tail) = line.split_once('[').expect("time");
    let (_, tail) = tail.split_once(']').expect("time");
    assert_eq!(head, "127.0.0.1 foo - ");
    assert_eq!(
        tail,
        " \"GET /index.html?x=1 HTTP/1.0\" 200 6 \"http://r/\" \"curl\"\n"
    );
    assert_eq!(
        Format::default(),
        Format::parse(DEFAULT_FORMAT.as_bytes()).expect("parse")
    );
    if local_offset_is_zero() {
        assert!(line.contains("[21/Nov/2026:16:14:23 +0000]"), "{line}");
    }
}

fn local_offset_is_zero() -> bool {
    let t: libc::time_t = 1_795_277_663;
    // SAFETY: localtime_r fills the zeroed struct we own.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        !libc::localtime_r(&t, &mut tm).is_null() && tm.tm_gmtoff == 0
    }
}

/// The time fields; sub-second units are rounded up, fractions zero-padded.
#[test]
fn time_fields() {
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let rec = record(&req, &resp);
    assert_eq!(
        render(
            "%{nsec}t|%{usec}t|%{msec}t|%{nsec_frac}t|%{usec_frac}t|%{msec_frac}t|%{begin:nsec}t|\
%{begin:usec}t|%{begin:msec}t|%{begin:usec_frac}t|%{begin:msec_frac}t",
            &rec
        ),
        "1795277711444161175|1795277711444162|1795277711445|444161175|444162|445|\
1795277711444069294|1795277711444070|1795277711445|444070|445"
    );
    let mut rec = rec;
    rec.end = at(1_795_277_872, 89_583_080);
    assert_eq!(
        render(
            "%{msec}t|%{usec}t|%{nsec}t|%{msec_frac}t|%{usec_frac}t|%{nsec_frac}t",
            &rec
        ),
        "1795277872090|1795277872089584|1795277872089583080|090|089584|089583080"
    );
    rec.start = at(1_795_277_704, 698_000_000);
    rec.end = at(1_795_277_705, 22_748_152);
    assert_eq!(
        render("%{begin:sec}t|%{end:nsec}t", &rec),
        "1795277704|1795277705022748152"
    );
    assert_eq!(
        render("%{end:sec}t|%{begin:nsec}t", &rec),
        "1795277705|1795277704698000000"
    );
    // strftime's %s does not depend on the time zone.
    assert_eq!(render("%{%s}t", &rec), "1795277705");
    assert_eq!(render("%{begin:%s}t", &rec), "1795277704");
}

/// `%T`, `%{unit}T`, `%D`: seconds truncated, smaller units rounded up.
#[test]
fn durations() {
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    rec.end = rec.start + Duration::from_nanos(484_434);
    assert_eq!(
        render(
            "%T|%{s}T|%{sec}T|%{ms}T|%{msec}T|%{us}T|%{usec}T|%{ns}T|%{nsec}T|%D|%{sec}D|%{x}D",
            &rec
        ),
        "0|0|0|1|1|485|485|484434|484434|485|485|485"
    );
    rec.end = rec.start + Duration::from_nanos(1_606_674_500);
    assert_eq!(render("%T|%{ms}T|%D", &rec), "1|1607|1606675");
    // A clock that went backwards is a zero duration, not a panic.
    rec.end = rec.start - Duration::from_secs(1);
    assert_eq!(render("%T|%D", &rec), "0|0");
}

/// Specifiers with a key that means nothing for them, and `<`/`>`.
#[test]
fn ignored_keys_and_modifiers() {
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    (rec.target, rec.uri_path, rec.query) = (b"/big.txt?a", b"/big.txt", b"a");
    rec.protocol = b"HTTP/1.0";
    (rec.bytes_in, rec.bytes_out, rec.body_out) = (27, 1162, 1000);
    rec.host = b"";
    rec.physical_path = Some(b"/tmp/al/al41yjvo1v/htdocs/big.txt");
    rec.conn_status = ConnStatus::Close;
    assert_eq!(
        render(
            "%>b|%<b|%{x}b|%{x}s|%<h|%>U|%{foo}O|%{x}I|%{x}k|%{x}X|%{x}l|%{x}u|%{x}m|%{x}H|\
%{x}r|%{x}q|%{x}U|%{x}f|%{x}v|%{x}V|%{x}n|100%%",
            &rec
        ),
        "1000|1000|1000|200|127.0.0.1|/big.txt|1162|27|0|-||-|GET|HTTP/1.0|GET /big.txt?a HTTP/1.0|\
a|/big.txt|/tmp/al/al41yjvo1v/htdocs/big.txt|-|-|-|100%"
    );
}

/// A request refused before its line was parsed (`GET\r\n\r\n` → 400).
#[test]
fn unparsed_request_line() {
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    (rec.method, rec.target, rec.protocol) = (b"", b"", b"");
    (rec.uri_path, rec.query, rec.host) = (b"", b"", b"");
    rec.status = 400;
    assert_eq!(render("%>s|%r|%U|%q|%m|%H|%V", &rec), "400|  |||||-");
    rec.protocol = b"HTTP/1.0";
    rec.status = 501;
    assert_eq!(
        render("%>s|%r|%U|%q|%m|%H|%V", &rec),
        "501|  HTTP/1.0||||HTTP/1.0|-"
    );
}

/// Nothing was written before the client left: `%b` and `%O` print `-`;
/// a HEAD response (head only) prints `%b` as 0.
#[test]
fn byte_counts() {
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    (rec.target, rec.protocol) = (b"/late", b"HTTP/1.0");
    (rec.bytes_in, rec.bytes_out, rec.body_out) = (22, 0, 0);
    rec.conn_status = ConnStatus::Aborted;
    assert_eq!(
        render("%>s|%b|%O|%I|%X|%r", &rec),
        "200|-|-|22|X|GET /late HTTP/1.0"
    );
    (rec.bytes_in, rec.bytes_out, rec.body_out) = (0, 159, 0);
    rec.conn_status = ConnStatus::Close;
    assert_eq!(render("%b|%B|%O|%I|%X", &rec), "0|0|159|-|-");
}

/// Request and response headers: repeated, empty, absent, escaped.
#[test]
fn headers_repeated_empty_escaped() {
    let req = headers(&[
        ("x-req", b"r1"),
        ("x-req", b"r2"),
        ("x-req", b""),
        ("x-req", b"r4"),
        ("x-e", b""),
        ("cookie", b"a=1"),
        ("cookie", b"b=2"),
    ]);
    let resp = headers(&[
        ("set-cookie", b"a=1"),
        ("set-cookie", b"b=2"),
        ("x-q", b"say \"hi\" \\ \xc3\xa9"),
        ("x-empty", b""),
        ("content-length", b"13"),
    ]);
    let rec = record(&req, &resp);
    assert_eq!(
        render(
            "%{X-REQ}i|%{x-req}i|%{X-E}i|%{Cookie}i|%{X-None}i|%{Set-Cookie}o|%{X-Q}o|%{X-Empty}o|\
%{X-None}o|%{Content-Length}o|%{%}i|%{a b}o",
            &rec
        ),
        "r1, r2, r4|r1, r2, r4|-|a=1; b=2|-|a=1\\r\\nSet-Cookie: b=2|say \\\"hi\\\" \\\\ \\xC3\\xA9|-|\
-|13|-|-"
    );
}

/// `%{Host}i` is the normalised authority, as lighttpd rewrites the header.
#[test]
fn host_header_is_normalised() {
    let req = headers(&[("host", b"Foo.Example:80")]);
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    assert_eq!(
        render("%v|%V|%{Host}i", &rec),
        "foo.example|foo.example|foo.example"
    );
    rec.server_name = b"Srv.Name";
    assert_eq!(
        render("%v|%V|%{Host}i", &rec),
        "Srv.Name|foo.example|foo.example"
    );
    // Refused before the Host was checked: the header as received.
    let req = headers(&[("host", b"a_b")]);
    let mut rec = record(&req, &resp);
    rec.host = b"";
    assert_eq!(render("%v|%V|%{Host}i", &rec), "-|-|a_b");
}

/// `%{name}C` against lighttpd's results for the same Cookie headers.
#[test]
fn cookies() {
    let cases: &[(&[u8], &str, &str)] = &[
        (b"a=x y; b=2", "x y", ""),
        (b"a= x", " x", ""),
        (b";a=1", "1", ""),
        (b"a=1;a=2", "1", ""),
        (b"a=1,b=2", "1,b=2", ""),
        (b"b=1,a=2", "", "1,a=2"),
        (b"c=1;\ta=2", "2", ""),
        (b"a=\"v;w\"", "\\\"v", ""),
        (b"a=1;b", "1", ""),
        (b"ba=1; a=7", "7", ""),
        (b"a==1", "=1", ""),
        (b"a", "", ""),
        (b"a=;b=1", "", "1"),
        (b"A=1", "", ""),
        (b"a =1", "", ""),
        (b"x=1 a=2", "", ""),
        (b"x=a=3", "", ""),
        (b"x=1;;a=4", "4", ""),
        (b"a=x ;b=1", "x", "1"),
        (b"a=x  y  ;b", "x  y", ""),
        (b"a=\xc3\xa9\"\\", "\\xC3\\xA9\\\"\\\\", ""),
        (b"a=x y;b=1", "x y", ""),
        (b"a=1; x y; b=2", "1", ""),
        (b"a=1 ; b=2", "1", "2"),
        (b"q b=1; b=2", "", ""),
        (b"a=1 b=2", "1 b=2", ""),
        (b"xb=1; b=2", "", "2"),
        (b"a=1;\t b=2", "1", "2"),
    ];
    let resp = HeaderMap::new();
    for (cookie, a, b) in cases {
        let req = headers(&[("cookie", cookie)]);
        let rec = record(&req, &resp);
        assert_eq!(
            render("%{a}C|%{b}C|%C", &rec),
            format!("{a}|{b}|"),
            "{:?}",
            BString::from(*cookie)
        );
    }
    let req = headers(&[("cookie", b"x=1"), ("cookie", b"a=9")]);
    assert_eq!(render("%{a}C", &record(&req, &resp)), "9");
}

/// The default escaping of every byte lighttpd escapes, from request lines.
#[test]
fn default_escaping() {
    let expect: &[(u8, &str)] = &[
        (0x00, "\\x00"),
        (0x01, "\\x01"),
        (0x07, "\\a"),
        (0x08, "\\b"),
        (0x09, "\\t"),
        (0x0a, "\\n"),
        (0x0b, "\\v"),
        (0x0c, "\\f"),
        (0x0d, "\\r"),
        (0x0e, "\\x0E"),
        (0x1b, "\\x1B"),
        (0x1f, "\\x1F"),
        (b'"', "\\\""),
        (b'\\', "\\\\"),
        (0x7f, "\\x7F"),
        (0x80, "\\x80"),
        (0xff, "\\xFF"),
        (b'~', "~"),
        (b' ', " "),
    ];
    for &(byte, escaped) in expect {
        let mut out = Vec::new();
        escape_into(&mut out, &[b'a', byte, b'b'], Escaping::Default);
        assert_eq!(out, format!("a{escaped}b").as_bytes(), "byte {byte:#x}");
    }
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    rec.target = b"/a\"b\\c\xc3\xa9";
    rec.protocol = b"HTTP/1.0";
    assert_eq!(render("%r", &rec), "GET /a\\\"b\\\\c\\xC3\\xA9 HTTP/1.0");
    rec.physical_path = Some(b"/h/a\"\xc3\xa9\\.txt");
    assert_eq!(render("%f", &rec), "/h/a\\\"\\xC3\\xA9\\\\.txt");
}

/// `accesslog.escaping = "json"`.
#[test]
fn json_escaping() {
    let expect: &[(u8, &[u8])] = &[
        (0x00, b"\\u0000"),
        (0x01, b"\\u0001"),
        (0x07, b"\\a"),
        (0x08, b"\\b"),
        (0x09, b"\\t"),
        (0x0b, b"\\v"),
        (0x0c, b"\\f"),
        (0x0d, b"\\r"),
        (0x0e, b"\\u000E"),
        (0x1b, b"\\u001B"),
        (0x1f, b"\\u001F"),
        (0x7f, b"\x7f"),
        (0x80, b"\x80"),
        (0xff, b"\xff"),
    ];
    for &(byte, escaped) in expect {
        let mut out = Vec::new();
        escape_into(&mut out, &[b'a', byte, b'b'], Escaping::Json);
        assert_eq!(out, [b"a", escaped, b"b"].concat(), "byte {byte:#x}");
    }
    let req = headers(&[("user-agent", b"\"\\\t\xc3\xa9")]);
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    rec.target = b"/a\"b\\c\xc3\xa9";
    rec.protocol = b"HTTP/1.0";
    assert_eq!(
        render_bytes(b"%r|%{User-Agent}i", &rec, Escaping::Json),
        "GET /a\\\"b\\\\c\u{e9} HTTP/1.0|\\\"\\\\\\t\u{e9}"
    );
    assert_eq!(Escaping::from_config(b"json"), Escaping::Json);
    assert_eq!(Escaping::from_config(b"JSON"), Escaping::Default);
}

/// `%e`: setenv values (a CGI request in lighttpd), `-` when unset or empty.
#[test]
fn env_values() {
    let env = [
        (BString::from("A"), BString::from(b"x\"y\\\\z".as_slice())),
        (BString::from("B"), BString::from("")),
    ];
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    rec.env = &env;
    assert_eq!(
        render("%e|%{A}e|%{B}e|%{C}e|%{a}e", &rec),
        "-|x\\\"y\\\\\\\\z|-|-|-"
    );
}

/// IPv6 and unix-socket listeners.
#[test]
fn addresses_and_ports() {
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    (rec.remote_addr, rec.remote_port) = ("::1", 35886);
    (rec.local_addr, rec.local_port) = ("[::1]", Some(46027));
    rec.host = b"[::1]:46027";
    assert_eq!(
        render("%h|%a|%A|%p|%{remote}p|%V|%v", &rec),
        "::1|::1|[::1]|46027|35886|[::1]:46027|[::1]:46027"
    );
    (rec.remote_addr, rec.remote_port) = ("/tmp/al/u.sock", 0);
    (rec.local_addr, rec.local_port) = ("/tmp/al/u.sock", None);
    rec.host = b"x";
    assert_eq!(
        render("%h|%a|%A|%p|%{remote}p|%V|%v", &rec),
        "/tmp/al/u.sock|/tmp/al/u.sock|/tmp/al/u.sock||0|x|x"
    );
}

/// Backslash sequences in the format are resolved before parsing.
#[test]
fn format_backslash_sequences() {
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let rec = record(&req, &resp);
    assert_eq!(
        render(r#"A"B\\C\tD\nE\rF\qG\x41H\\\\I\0J\aK%%L"#, &rec),
        "A\"B\\C\tD\nE\rFqGx41H\\\\I0J\u{7}K%L"
    );
    assert_eq!(render(r"%\s|\%s|x\", &rec), "200|200|x\\");
}

/// Formats lighttpd accepts.
#[test]
fn accepted_formats() {
    for f in [
        "%%",
        "%>b",
        "%<s",
        "%{x}%",
        "%{%}i",
        "%{x}a",
        "%{sec}D",
        "%P",
        "%{x}P",
        "%{local}p",
        "%{remote}p",
        "%{canonical}p",
        "%{s}T",
        "%{nsec}T",
        "%{begin:%Y}t",
        "%{end:msec}t",
        "%{sec}t %{msec}t",
        "%{msec}t %{end:msec}t %t %{nsec}t %{usec}t",
        "%t %{msec_frac}t",
        "%{begin:sec}t %{nsec_frac}t %{usec_frac}t %{msec}t",
        "%{x%Hy}t",
        "%{a\\}b}i",
        "just text",
    ] {
        assert!(Format::parse(f.as_bytes()).is_ok(), "{f}");
    }
}

/// Formats lighttpd refuses at startup, with the error wick gives.
#[test]
fn refused_formats() {
    use FormatError as E;
    let cases: &[(&str, E)] = &[
        ("", E::Empty),
        ("%", E::TrailingPercent),
        ("abc%", E::TrailingPercent),
        ("%{", E::BadKey("%{".into())),
        ("x %{ab y", E::BadKey("%{ab y".into())),
        ("%{}i", E::BadKey("%{}".into())),
        ("%L", E::UnknownSpecifier("%L".into())),
        ("x %z y", E::UnknownSpecifier("%z".into())),
        ("%>", E::UnknownSpecifier("%>".into())),
        ("%>x", E::UnknownSpecifier("%>x".into())),
        ("%>>s", E::UnknownSpecifier("%>>".into())),
        ("%>{x}i", E::UnknownSpecifier("%>{".into())),
        ("%{x}", E::UnknownSpecifier("%{x}".into())),
        ("%{x}>s", E::UnknownSpecifier("%{x}>".into())),
        ("%{a}{b}i", E::UnknownSpecifier("%{a}{".into())),
        ("%5s", E::UnknownSpecifier("%5".into())),
        ("%i", E::MissingHeaderName("%i".into())),
        ("%o", E::MissingHeaderName("%o".into())),
        ("x %{foo}t y", E::TimeFormat("%{foo}t".into())),
        ("%{begin:}t", E::TimeFormat("%{begin:}t".into())),
        ("%{begin}t", E::TimeFormat("%{begin}t".into())),
        ("%{SEC}t", E::TimeFormat("%{SEC}t".into())),
        ("%{ms}t", E::TimeFormat("%{ms}t".into())),
        ("%{x}T", E::DurationUnit("%{x}T".into())),
        ("%{S}T", E::DurationUnit("%{S}T".into())),
        ("%{begin:sec}T", E::DurationUnit("%{begin:sec}T".into())),
        ("%{x}p", E::PortKind("%{x}p".into())),
        ("%{LOCAL}p", E::PortKind("%{LOCAL}p".into())),
        (
            "%t %t",
            E::TimeTwice {
                first: "%t".into(),
                second: "%t".into(),
            },
        ),
        (
            "%{%Y}t %{sec}t",
            E::TimeTwice {
                first: "%{%Y}t".into(),
                second: "%{sec}t".into(),
            },
        ),
        (
            "%{sec}t %{end:sec}t",
            E::TimeTwice {
                first: "%{sec}t".into(),
                second: "%{end:sec}t".into(),
            },
        ),
        (
            "%{begin:%Y}t %{end:%Y}t",
            E::TimeTwice {
                first: "%{begin:%Y}t".into(),
                second: "%{end:%Y}t".into(),
            },
        ),
    ];
    for (format, error) in cases {
        assert_eq!(
            Format::parse(format.as_bytes()).as_ref(),
            Err(error),
            "{format}"
        );
    }
    let e = Format::parse(b"x %L y").expect_err("refused");
    assert!(e.to_string().contains("`%L`"), "{e}");
}

/// `%t` in other time zones: run this test binary again with TZ set (the
/// environment cannot be changed in-process), comparing with lighttpd's
/// lines under the same TZ.
#[test]
fn time_zones() {
    for tz in ["America/New_York", "Asia/Kolkata", "UTC", "XYZ+3"] {
        if !std::path::Path::new("/usr/share/zoneinfo/Asia/Kolkata").exists() && tz.contains('/') {
            continue;
        }
        let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "modules::accesslog::tests::tz_child",
                "--exact",
                "--nocapture",
            ])
            .env("TZ", tz)
            .env("WICK_ACCESSLOG_TZ_CHILD", tz)
            .output()
            .expect("run the child test");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "TZ={tz}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // the child really ran (a renamed test would match nothing and pass)
        assert!(
            stdout.contains("test result: ok. 1 passed"),
            "TZ={tz}: the child test did not run: {stdout}"
        );
    }
}

/// The child of [`time_zones`]; passes trivially when run directly.
#[test]
fn tz_child() {
    let Ok(tz) = std::env::var("WICK_ACCESSLOG_TZ_CHILD") else {
        return;
    };
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    let cases: &[(&str, u64, &str, &str)] = &[
        (
            "America/New_York",
            1_795_277_703,
            "%{%Y-%m-%d %H:%M:%S %z %Z}t",
            "2026-11-21 11:15:03 -0500 EST",
        ),
        (
            "America/New_York",
            1_795_277_704,
            "%t",
            "[21/Nov/2026:11:15:04 -0500]",
        ),
        (
            "America/New_York",
            1_795_277_706,
            "%{%a %b %e %j %p %c}t",
            "Sat Nov 21 325 AM Sat Nov 21 11:15:06 2026",
        ),
        ("America/New_York", 1_795_277_706, "%{x%Hy}t", "x11y"),
        (
            "Asia/Kolkata",
            1_795_277_706,
            "%t",
            "[21/Nov/2026:21:45:06 +0530]",
        ),
        ("UTC", 1_795_277_707, "%t", "[21/Nov/2026:16:15:07 +0000]"),
        ("XYZ+3", 1_795_277_708, "%t", "[21/Nov/2026:13:15:08 -0300]"),
    ];
    for (zone, secs, format, expected) in cases {
        if *zone == tz {
            rec.end = at(*secs, 742_444_338);
            assert_eq!(render(format, &rec), *expected, "TZ={tz}");
            // Second render from the per-second cache.
            assert_eq!(render(format, &rec), *expected, "TZ={tz}");
        }
    }
}

/// The strftime cache is per second: a new second gives a new text.
#[test]
fn strftime_cache_follows_the_second() {
    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    let f = Format::parse(b"%{%s}t").expect("parse");
    let mut out = Vec::new();
    for secs in [1_795_277_705, 1_795_277_705, 1_795_277_706, 1_795_277_705] {
        rec.end = at(secs, 5);
        out.clear();
        f.render(&rec, &mut out);
        assert_eq!(out, format!("{secs}\n").as_bytes());
    }
}

// ---- settings and sinks ----

fn read_until(path: &std::path::Path, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(want) || Instant::now() > deadline {
            return text;
        }
        std::thread::yield_now();
    }
}

/// Blocks merge key by key; the same file in two blocks is one sink;
/// `""` turns the file off; syslog wins over a file.
#[test]
fn compile_and_merge_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("b.log");
    let name = path.to_str().expect("utf-8").as_bytes().to_vec();
    let mut registry = SinkRegistry::new();
    let global = compile(
        &BlockKeys {
            format: Some(b"%s %U"),
            ..BlockKeys::default()
        },
        &mut registry,
    )
    .expect("global");
    let b = compile(
        &BlockKeys {
            filename: Some(&name),
            ..BlockKeys::default()
        },
        &mut registry,
    )
    .expect("b");
    let c = compile(
        &BlockKeys {
            filename: Some(&name),
            format: Some(b"C %U"),
            ..BlockKeys::default()
        },
        &mut registry,
    )
    .expect("c");
    let off = compile(
        &BlockKeys {
            filename: Some(b""),
            ..BlockKeys::default()
        },
        &mut registry,
    )
    .expect("off");
    assert_eq!(registry.sinks().count(), 1);
    let sinks = (b.file.clone().flatten(), c.file.clone().flatten());
    assert!(sinks.0.is_some() && sinks.0 == sinks.1, "one shared sink");

    let req = HeaderMap::new();
    let resp = HeaderMap::new();
    let mut rec = record(&req, &resp);
    rec.status = 404;
    for (blocks, path_) in [
        (vec![&global], "/a"),
        (vec![&global, &b], "/b"),
        (vec![&global, &c], "/c"),
        (vec![&global, &b, &off], "/n"),
    ] {
        let mut log = AccessLog::default();
        for block in blocks {
            log.apply(block);
        }
        rec.uri_path = path_.as_bytes();
        assert_eq!(log.is_enabled(), path_ == "/b" || path_ == "/c", "{path_}");
        log.log(&rec);
    }
    let text = read_until(&path, "C /c");
    assert_eq!(text, "404 /b\nC /c\n");

    // A block that enables syslog does not open its file.
    let sys = compile(
        &BlockKeys {
            filename: Some(b"/nonexistent/dir/x.log"),
            use_syslog: Some(true),
            syslog_level: Some(3),
            ..BlockKeys::default()
        },
        &mut registry,
    )
    .expect("syslog block");
    let mut log = AccessLog::default();
    log.apply(&b);
    log.apply(&sys);
    assert_eq!(log.sink().map(Sink::target), Some(&Target::Syslog));
    assert_eq!(log.syslog_level, 3);
    registry.close();
}

/// A file that cannot be opened refuses the configuration.
#[test]
fn unopenable_file() {
    let mut registry = SinkRegistry::new();
    let e = compile(
        &BlockKeys {
            filename: Some(b"/nonexistent/dir/x.log"),
            ..BlockKeys::default()
        },
        &mut registry,
    )
    .expect_err("refused");
    assert!(
        e.to_string()
            .starts_with("opening log '/nonexistent/dir/x.log' failed: "),
        "{e}"
    );
    let e = compile(
        &BlockKeys {
            format: Some(b"%{foo}t"),
            ..BlockKeys::default()
        },
        &mut registry,
    )
    .expect_err("refused");
    assert!(e.to_string().contains("%{foo}t"), "{e}");
}

/// Lines reach the file promptly; reopen follows a rename (logrotate);
/// a failed reopen keeps the old file; close flushes.
#[test]
fn file_sink_write_reopen_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("access.log");
    let sink = Sink::open(&Target::File(path.clone())).expect("open");
    sink.write(0, b"one\n");
    assert_eq!(read_until(&path, "one\n"), "one\n");
    std::fs::rename(&path, dir.path().join("access.log.1")).expect("rotate");
    sink.reopen().expect("reopen");
    sink.write(0, b"two\n");
    assert_eq!(read_until(&path, "two\n"), "two\n");

    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let inner = sub.join("x.log");
    let sink2 = Sink::open(&Target::File(inner.clone())).expect("open");
    std::fs::rename(&sub, dir.path().join("sub.old")).expect("move dir");
    let e = sink2.reopen().expect_err("no directory");
    assert!(e.to_string().starts_with("error cycling log "), "{e}");
    sink2.write(0, b"kept\n");
    sink2.close();
    let old = std::fs::read_to_string(dir.path().join("sub.old/x.log")).expect("read");
    assert_eq!(old, "kept\n");

    for i in 0..1000 {
        sink.write(0, format!("line {i}\n").as_bytes());
    }
    sink.close();
    sink.write(0, b"after close\n");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.ends_with("line 999\n"), "{text}");
    assert_eq!(text.lines().count(), 1001);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        // 0644 less the umask.
        assert_eq!(mode & !0o644, 0, "{mode:o}");
    }
}

/// `|command`: lines go to the command's standard input; close gives it
/// EOF and waits for it.
#[test]
fn pipe_sink() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("piped");
    let command = format!("cat > '{}'", out.display());
    let target = Target::from_filename(format!("|{command}").as_bytes()).expect("target");
    assert_eq!(target, Target::Pipe(command.as_str().into()));
    let sink = Sink::open(&target).expect("spawn");
    sink.write(0, b"through the pipe\n");
    assert_eq!(read_until(&out, "pipe\n"), "through the pipe\n");
    sink.write(0, b"last\n");
    sink.close();
    // cat has exited: the file is complete.
    assert_eq!(
        std::fs::read_to_string(&out).expect("read"),
        "through the pipe\nlast\n"
    );
    // A command that exits early: later lines are dropped, nothing hangs.
    let sink = Sink::open(&Target::Pipe("exit 0".into())).expect("spawn");
    for _ in 0..100 {
        sink.write(0, &[b'x'; 1024]);
    }
    assert!(sink.flush(Duration::from_secs(5)));
    sink.close();
}
