//! TLS (lighttpd's `ssl.*` with rustls): the certificate chosen per SNI
//! name, ALPN, `$HTTP["scheme"]`, client certificates, protocol versions,
//! and certificates re-read on SIGUSR1. Certificates are made in the test
//! (rcgen); the client is rustls.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject};
use support::Wick;
use tokio_rustls::rustls;

/// A CA and what it signed.
struct Pki {
    ca_pem: String,
    ca_params: CertificateParams,
    ca_key: KeyPair,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("self-signed");
        Pki {
            ca_pem: cert.pem(),
            ca_params: params,
            ca_key: key,
        }
    }

    /// A certificate for `names` (first one as CN): (cert PEM, key PEM).
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0]);
        let key = KeyPair::generate().expect("key");
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

/// A rustls client trusting `ca_pem`, offering `alpn`, with an optional
/// client certificate and protocol versions.
fn client(
    ca_pem: &str,
    alpn: &[&[u8]],
    cert: Option<(&str, &str)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.expect("ca")).expect("add ca");
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("versions")
    .with_root_certificates(roots);
    let mut cfg = match cert {
        Some((c, k)) => b
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(c.as_bytes())
                    .map(|c| c.expect("cert"))
                    .collect(),
                PrivateKeyDer::from_pem_slice(k.as_bytes()).expect("key"),
            )
            .expect("client auth"),
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// A server certificate verifier that takes any certificate for any name
/// (the handshake signature is still checked) and records the leaf it was
/// shown.
#[derive(Debug)]
struct AnyCert {
    provider: Arc<rustls::crypto::CryptoProvider>,
    leaf: Mutex<Option<Vec<u8>>>,
}

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.leaf.lock().expect("leaf") = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client that accepts any server certificate, and the verifier
/// that records the leaf it saw.
fn any_cert_client() -> (Arc<rustls::ClientConfig>, Arc<AnyCert>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyCert {
        provider: provider.clone(),
        leaf: Mutex::new(None),
    });
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(ALL)
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    (Arc::new(cfg), verifier)
}

/// What one TLS exchange showed: the server certificate's DER, the ALPN
/// protocol, the TLS version, the kind of handshake, and the HTTP answer
/// (or the error).
struct Seen {
    cert: Vec<u8>,
    alpn: Option<Vec<u8>>,
    version: Option<rustls::ProtocolVersion>,
    kind: Option<rustls::HandshakeKind>,
    answer: Result<String, String>,
}

fn exchange(port: u16, sni: &str, cfg: Arc<rustls::ClientConfig>, path: &str) -> Seen {
    let name = ServerName::try_from(sni.to_string()).expect("name");
    let mut conn = rustls::ClientConnection::new(cfg, name).expect("client");
    let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let req = format!("GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let result = tls
        .write_all(req.as_bytes())
        .and_then(|_| tls.read_to_end(&mut answer));
    let answer = match result {
        Ok(_) => Ok(String::from_utf8_lossy(&answer).into_owned()),
        Err(e) if !answer.is_empty() => Err(format!("{e} after {answer:?}")),
        Err(e) => Err(e.to_string()),
    };
    Seen {
        cert: conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .unwrap_or_default(),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        version: conn.protocol_version(),
        kind: conn.handshake_kind(),
        answer,
    }
}

fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("pem")
        .to_vec()
}

const ALL: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// One CA, a default certificate and two named ones on a TLS socket;
/// `extra` goes into the TLS socket's block.
fn start_vhosts(extra: &str) -> (Wick, Pki, [String; 3]) {
    let pki = Pki::new("wick test CA");
    let (w, certs) = start_with(&pki, "", extra, None);
    (w, pki, certs)
}

/// [`start_vhosts`] with certificates from `pki`, `global` added to the
/// global settings, and `stek` written to `{dir}/stek`.
fn start_with(pki: &Pki, global: &str, extra: &str, stek: Option<&[u8]>) -> (Wick, [String; 3]) {
    let stek = stek.map(<[u8]>::to_vec);
    let (d_cert, d_key) = pki.leaf(&["default.example"]);
    let (a_cert, a_key) = pki.leaf(&["a.example"]);
    let (b_cert, b_key) = pki.leaf(&["b.example", "www.b.example"]);
    let conf = format!(
        "server.document-root = \"{{root}}\"\n\
         server.bind = \"127.0.0.1\"\n\
         server.port = {{port1}}\n\
         server.modules = ( \"mod_openssl\", \"mod_setenv\" )\n\
         {global}\n\
         $SERVER[\"socket\"] == \"127.0.0.1:{{port2}}\" {{\n\
             ssl.engine = \"enable\"\n\
             ssl.pemfile = \"{{dir}}/default.pem\"\n\
             $HTTP[\"host\"] == \"a.example\" {{ ssl.pemfile = \"{{dir}}/a.crt\" ssl.privkey = \"{{dir}}/a.key\" }}\n\
             $HTTP[\"host\"] =~ \"(^|\\.)b\\.example$\" {{ ssl.pemfile = \"{{dir}}/b.pem\" }}\n\
             {extra}\n\
         }}\n\
         $HTTP[\"scheme\"] == \"https\" {{ setenv.add-response-header = ( \"X-Scheme\" => \"https\" ) }}\n"
    );
    let files = [
        ("default.pem", format!("{d_cert}{d_key}")),
        ("a.crt", a_cert.clone()),
        ("a.key", a_key),
        ("b.pem", format!("{b_cert}{b_key}")),
        ("ca.pem", pki.ca_pem.clone()),
    ];
    let w = Wick::start_sockets(&conf, &["-D"], 2, move |dir| {
        for (name, text) in &files {
            write(dir, name, text);
        }
        if let Some(k) = &stek {
            std::fs::write(dir.join("stek"), k).expect("stek");
        }
        std::fs::write(dir.join("htdocs/index.html"), "hello\n").expect("index");
    });
    (w, [d_cert, a_cert, b_cert])
}

/// SNI picks the certificate as lighttpd's `$HTTP["host"]` blocks say;
/// other names get the socket's own; ALPN offers h2; the scheme is https.
#[test]
fn sni_alpn_and_scheme() {
    let (w, pki, [d, a, b]) = start_vhosts("");
    let port = w.ports[1];
    let h2 = client(&pki.ca_pem, &[b"h2", b"http/1.1"], None, ALL);
    let h1 = client(&pki.ca_pem, &[b"http/1.1"], None, ALL);

    let s = exchange(port, "a.example", h1.clone(), "/index.html");
    assert_eq!(s.cert, der_of(&a), "{}", w.stderr());
    let answer = s.answer.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("x-scheme: https"),
        "{answer}"
    );
    assert!(answer.ends_with("hello\n"), "{answer}");
    assert_eq!(s.alpn.as_deref(), Some(&b"http/1.1"[..]));

    assert_eq!(
        exchange(port, "www.b.example", h1.clone(), "/").cert,
        der_of(&b)
    );
    assert_eq!(
        exchange(port, "b.example", h1.clone(), "/").cert,
        der_of(&b)
    );
    // the socket's own certificate for its own name
    let other = exchange(port, "default.example", h1.clone(), "/");
    assert_eq!(other.cert, der_of(&d));
    // a name no block matches gets the socket's certificate too (which
    // fails a checking client's name check, as with lighttpd); this client
    // takes any certificate and records the one it was shown
    let (any, seen) = any_cert_client();
    let unknown = exchange(port, "unknown.example", any, "/index.html");
    let leaf = seen.leaf.lock().expect("leaf").clone();
    assert_eq!(leaf, Some(der_of(&d)), "{}", w.stderr());
    assert_eq!(unknown.cert, der_of(&d));
    let answer = unknown.answer.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let s = exchange(port, "a.example", h2, "/");
    assert_eq!(s.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(s.version, Some(rustls::ProtocolVersion::TLSv1_3));

    // ALPN goes by the client's order (as lighttpd): a client preferring
    // http/1.1 over h2 gets http/1.1, though the server lists h2 first
    let h1_first = client(&pki.ca_pem, &[b"http/1.1", b"h2"], None, ALL);
    let s = exchange(port, "a.example", h1_first, "/index.html");
    assert_eq!(s.alpn.as_deref(), Some(&b"http/1.1"[..]));
    let answer = s.answer.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // the plain socket is still plain
    let plain = w.get("/index.html");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("x-scheme"), None);
}

/// `ssl.openssl.ssl-conf-cmd` MinProtocol / MaxProtocol map to rustls'
/// versions.
#[test]
fn protocol_versions() {
    let (w, pki, _) = start_vhosts("ssl.openssl.ssl-conf-cmd = ( \"MinProtocol\" => \"TLSv1.3\" )");
    let tls12 = client(&pki.ca_pem, &[], None, &[&rustls::version::TLS12]);
    let s = exchange(w.ports[1], "a.example", tls12, "/");
    assert!(s.answer.is_err(), "a TLS 1.2 client got in");
    // refused for its version (the server's protocol_version alert), not
    // for anything else
    let err = s.answer.unwrap_err();
    assert!(err.contains("fatal alert: ProtocolVersion"), "{err}");
    // while a TLS 1.3 client gets in
    let tls13 = client(&pki.ca_pem, &[], None, &[&rustls::version::TLS13]);
    let s = exchange(w.ports[1], "a.example", tls13, "/index.html");
    assert_eq!(s.version, Some(rustls::ProtocolVersion::TLSv1_3));
    let answer = s.answer.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(w);
    let (w, pki, _) = start_vhosts("ssl.openssl.ssl-conf-cmd = ( \"MaxProtocol\" => \"TLSv1.2\" )");
    let s = exchange(
        w.ports[1],
        "a.example",
        client(&pki.ca_pem, &[], None, ALL),
        "/index.html",
    );
    assert_eq!(s.version, Some(rustls::ProtocolVersion::TLSv1_2));
    assert!(s.answer.expect("answer").starts_with("HTTP/1.1 200"));
}

/// `ssl.verifyclient.*`: enforced, a client without a certificate (or
/// with one from another CA) does not get in; not enforced, every client
/// gets in, and the access log shows what its certificate was worth
/// (`SSL_CLIENT_VERIFY`, the CN, and the user `ssl.verifyclient.username`
/// names).
#[test]
fn client_certificates() {
    let (w, pki, _) = start_vhosts(
        "ssl.ca-file = \"{dir}/ca.pem\"\n\
         ssl.verifyclient.activate = \"enable\"\n\
         ssl.verifyclient.enforce = \"enable\"",
    );
    let port = w.ports[1];
    let (cc, ck) = pki.leaf(&["client.example"]);
    let stranger = Pki::new("other CA");
    let (sc, sk) = stranger.leaf(&["client.example"]);
    let ok = exchange(
        port,
        "a.example",
        client(&pki.ca_pem, &[], Some((&cc, &ck)), ALL),
        "/index.html",
    );
    assert!(ok.answer.expect("answer").starts_with("HTTP/1.1 200"));
    let none = exchange(port, "a.example", client(&pki.ca_pem, &[], None, ALL), "/");
    assert!(none.answer.is_err(), "no client certificate got in");
    let bad = exchange(
        port,
        "a.example",
        client(&pki.ca_pem, &[], Some((&sc, &sk)), ALL),
        "/",
    );
    assert!(bad.answer.is_err(), "a foreign client certificate got in");
    drop(w);

    let (w, _) = start_with(
        &pki,
        "server.modules += ( \"mod_accesslog\" )\n\
         accesslog.filename = \"{dir}/access.log\"\n\
         accesslog.format = \"%q|%u|%{SSL_CLIENT_VERIFY}e|%{SSL_CLIENT_S_DN_CN}e\"",
        "ssl.ca-file = \"{dir}/ca.pem\"\n\
         ssl.verifyclient.activate = \"enable\"\n\
         ssl.verifyclient.enforce = \"disable\"\n\
         ssl.verifyclient.username = \"SSL_CLIENT_S_DN_CN\"",
        None,
    );
    let none = exchange(
        w.ports[1],
        "a.example",
        client(&pki.ca_pem, &[], None, ALL),
        "/index.html?none",
    );
    assert!(none.answer.expect("answer").starts_with("HTTP/1.1 200"));
    for (query, cert) in [
        ("trusted", (cc.as_str(), ck.as_str())),
        ("foreign", (sc.as_str(), sk.as_str())),
    ] {
        let s = exchange(
            w.ports[1],
            "a.example",
            client(&pki.ca_pem, &[], Some(cert), ALL),
            &format!("/index.html?{query}"),
        );
        let answer = s.answer.expect("answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{query}: {answer}");
    }
    // one line per request, "query|user|SSL_CLIENT_VERIFY|CN"
    let log = w.dir.path().join("access.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= 3 {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "access log: {text:?}\n{}",
            w.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let line = |query: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{query}|")))
            .unwrap_or_else(|| panic!("no {query} line in {lines:?}"))
            .clone()
    };
    assert_eq!(line("none"), "none|-|NONE|-");
    assert_eq!(
        line("trusted"),
        "trusted|client.example|SUCCESS|client.example"
    );
    let foreign = line("foreign");
    assert!(foreign.starts_with("foreign|-|FAILED:"), "{foreign}");
    assert!(foreign.ends_with("|-"), "{foreign}");
}

/// SIGUSR1 re-reads the certificates: new connections get the new one.
#[test]
fn certificates_reread_on_sigusr1() {
    let (w, pki, [_, a, _]) = start_vhosts("");
    let port = w.ports[1];
    let h1 = client(&pki.ca_pem, &[], None, ALL);
    assert_eq!(
        exchange(port, "a.example", h1.clone(), "/").cert,
        der_of(&a)
    );
    let (a2, a2_key) = pki.leaf(&["a.example"]);
    let dir = w.root().parent().expect("dir").to_path_buf();
    write(&dir, "a.crt", &a2);
    write(&dir, "a.key", &a2_key);
    w.signal(libc::SIGUSR1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = exchange(port, "a.example", h1.clone(), "/");
        if s.cert == der_of(&a2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still the old certificate: {}",
            w.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ssl.stek-file`: two servers reading the same key file resume each
/// other's TLS 1.3 sessions (a ticket from one is taken by the other);
/// without it, a new server makes a full handshake.
#[test]
fn session_tickets_from_a_stek_file_survive_a_restart() {
    // lighttpd's format: version 0, active since 0, expires in 2038
    let mut stek: Vec<u8> = Vec::new();
    for v in [0i32, 0, i32::MAX] {
        stek.extend_from_slice(&v.to_ne_bytes());
    }
    stek.extend((0..80u8).map(|i| i.wrapping_mul(13) ^ 0x5a));
    let pki = Pki::new("wick test CA");
    let after_restart = |extra: &str, key: Option<&[u8]>| {
        let cfg = client(&pki.ca_pem, &[], None, &[&rustls::version::TLS13]);
        let (w1, _) = start_with(&pki, "", extra, key);
        let first = exchange_kind(w1.ports[1], "a.example", cfg.clone());
        assert_eq!(first, Some(rustls::HandshakeKind::Full));
        drop(w1);
        let (w2, _) = start_with(&pki, "", extra, key);
        exchange_kind(w2.ports[1], "a.example", cfg)
    };
    assert_eq!(
        after_restart("ssl.stek-file = \"{dir}/stek\"", Some(&stek)),
        Some(rustls::HandshakeKind::Resumed)
    );
    assert_eq!(after_restart("", None), Some(rustls::HandshakeKind::Full));
}

/// One exchange; the kind of handshake it made.
fn exchange_kind(
    port: u16,
    sni: &str,
    cfg: Arc<rustls::ClientConfig>,
) -> Option<rustls::HandshakeKind> {
    let s = exchange(port, sni, cfg, "/index.html");
    let answer = s.answer.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    s.kind
}

/// A file past the in-memory cache's size over TLS: the bytes of the file
/// (the plain-socket path sends files with sendfile; TLS must encrypt the
/// file's own bytes), and the same file on the plain socket alongside.
#[test]
fn large_file_over_tls() {
    let (w, pki, _) = start_vhosts("");
    let content: String = (0..400_000).map(|i| format!("{i:07}\n")).collect();
    std::fs::write(w.root().join("large.txt"), &content).expect("write");
    let h1 = client(&pki.ca_pem, &[b"http/1.1"], None, ALL);
    let s = exchange(w.ports[1], "a.example", h1, "/large.txt");
    let answer = s.answer.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{}", &answer[..100]);
    assert!(
        answer.ends_with(&content),
        "the file's bytes ({} bytes answered)",
        answer.len()
    );
    let plain = w.get("/large.txt");
    assert!(plain.body == content.as_bytes());
}
