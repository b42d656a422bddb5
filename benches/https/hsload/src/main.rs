//! hsload -- TLS handshake load generator for benches/https/run.sh.
//!
//! Every connection is a new TCP connection with a full TLS handshake: a
//! fresh `ClientConnection` from a config with resumption disabled (no
//! session IDs, no tickets, no 0-RTT), so the server signs every handshake.
//! C blocking threads each loop: connect, handshake (and, with --path, one
//! `GET PATH` with `Connection: close`, read to EOF), close.  The server
//! certificate's chain and name are not checked (like wrk and `openssl
//! s_time`), but the handshake signature is verified, as a real client does.
//!
//!   hsload --addr 127.0.0.1:19181 [-c 16] [-d 10] [-w 2] [--path /100b.bin]
//!          [--sni localhost] [--tls13|--tls12]
//!
//! Prints a human summary on stderr and one JSON line on stdout with
//! t_start/t_end (the measured window, epoch seconds: procmon.py reads them),
//! handshakes, rate, errors, latency percentiles and the negotiated
//! protocol / cipher suite / key exchange group / server signature scheme.
//!
//! Reads and writes time out after 5 s (an error, counted), so a stalled
//! server cannot hang a thread past the end of the run.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long one read or write on a connection may wait.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Takes any certificate chain and name; checks the handshake signature
/// and records the first signature scheme the server used.
#[derive(Debug)]
struct NoChain(Arc<CryptoProvider>, OnceLock<SignatureScheme>);

impl ServerCertVerifier for NoChain {
    fn verify_server_cert(
        &self,
        _ee: &CertificateDer<'_>,
        _im: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let _ = self.1.set(d.scheme);
        verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let _ = self.1.set(d.scheme);
        verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

struct Args {
    addr: SocketAddr,
    conns: usize,
    duration: f64,
    warmup: f64,
    path: Option<String>,
    sni: String,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

fn usage() -> ! {
    eprintln!("usage: hsload --addr HOST:PORT [-c CONNS] [-d SECS] [-w WARMUP] [--path /P] [--sni NAME] [--tls13|--tls12]");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:443".parse().unwrap(),
        conns: 16,
        duration: 10.0,
        warmup: 0.0,
        path: None,
        sni: "localhost".into(),
        versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let mut it = std::env::args().skip(1);
    let mut have_addr = false;
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--addr" => {
                a.addr = v().parse().unwrap_or_else(|_| usage());
                have_addr = true;
            }
            "-c" | "--conns" => a.conns = v().parse().unwrap_or_else(|_| usage()),
            "-d" | "--duration" => a.duration = v().parse().unwrap_or_else(|_| usage()),
            "-w" | "--warmup" => a.warmup = v().parse().unwrap_or_else(|_| usage()),
            "--path" => a.path = Some(v()),
            "--sni" => a.sni = v(),
            "--tls13" => a.versions = vec![&rustls::version::TLS13],
            "--tls12" => a.versions = vec![&rustls::version::TLS12],
            "--json" => {} // always on (accepted for symmetry with wsload)
            _ => usage(),
        }
    }
    if !have_addr || a.conns == 0 {
        usage()
    }
    a
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// one connection: connect, full handshake, optional request; Ok(true) if
/// the response (when asked for) was a 200
fn one(
    cfg: &Arc<ClientConfig>,
    name: &ServerName<'static>,
    addr: SocketAddr,
    path: Option<&str>,
    info: &Mutex<Option<String>>,
) -> std::io::Result<bool> {
    let mut sock = TcpStream::connect(addr)?;
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(IO_TIMEOUT))?;
    sock.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut conn = ClientConnection::new(cfg.clone(), name.clone())
        .map_err(std::io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    while conn.wants_write() {
        conn.write_tls(&mut sock)?;
    }
    {
        let mut g = info.lock().unwrap();
        if g.is_none() {
            let v = conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
            let s = conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default();
            let k = conn
                .negotiated_key_exchange_group()
                .map(|k| format!("{:?}", k.name()))
                .unwrap_or_default();
            *g = Some(format!(
                "\"protocol\":\"{v}\",\"suite\":\"{s}\",\"kx\":\"{k}\""
            ));
        }
    }
    let mut ok = true;
    if let Some(p) = path {
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        write!(tls, "GET {p} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        tls.flush()?;
        let mut buf = Vec::with_capacity(1024);
        match tls.read_to_end(&mut buf) {
            Ok(_) => {}
            // servers that close without close_notify
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(e) => return Err(e),
        }
        ok = buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200");
    }
    Ok(ok)
}

fn main() {
    let a = parse_args();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(NoChain(provider.clone(), OnceLock::new()));
    let mut cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&a.versions)
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    cfg.resumption = rustls::client::Resumption::disabled();
    cfg.enable_early_data = false;
    let cfg = Arc::new(cfg);
    let name: ServerName<'static> = ServerName::try_from(a.sni.clone()).expect("--sni");

    let wall0 = SystemTime::now();
    let t0 = Instant::now();
    let warm = Duration::from_secs_f64(a.warmup);
    let end = warm + Duration::from_secs_f64(a.duration);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let info = Arc::new(Mutex::new(None::<String>));
    let first_err = Arc::new(Mutex::new(None::<String>));
    let mut handles = Vec::new();
    for _ in 0..a.conns {
        let (cfg, name, stop, count, errors, bad, info, first_err) = (
            cfg.clone(),
            name.clone(),
            stop.clone(),
            count.clone(),
            errors.clone(),
            bad.clone(),
            info.clone(),
            first_err.clone(),
        );
        let path = a.path.clone();
        let addr = a.addr;
        handles.push(std::thread::spawn(move || {
            let mut lat = Vec::with_capacity(1 << 16);
            while !stop.load(Ordering::Relaxed) {
                let s = Instant::now();
                let r = one(&cfg, &name, addr, path.as_deref(), &info);
                let e = Instant::now();
                // count only connections that finished inside the window
                let inside = e.duration_since(t0) >= warm && e.duration_since(t0) < end;
                match r {
                    Ok(ok) => {
                        if inside {
                            count.fetch_add(1, Ordering::Relaxed);
                            lat.push(e.duration_since(s).as_secs_f64());
                            if !ok {
                                bad.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Err(err) => {
                        if inside {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        first_err.lock().unwrap().get_or_insert_with(|| err.to_string());
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            lat
        }));
    }
    let t_start = epoch(wall0) + a.warmup;
    std::thread::sleep(end);
    stop.store(true, Ordering::Relaxed);
    let t_end = epoch(wall0) + a.warmup + a.duration;
    let mut lat: Vec<f64> = Vec::new();
    for h in handles {
        lat.extend(h.join().unwrap());
    }
    lat.sort_by(|x, y| x.partial_cmp(y).unwrap());
    let pct = |q: f64| -> f64 {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() - 1) as f64 * q).round() as usize] * 1000.0
        }
    };
    let n = count.load(Ordering::Relaxed);
    let errs = errors.load(Ordering::Relaxed);
    let rate = n as f64 / a.duration;
    let info = info.lock().unwrap().clone().unwrap_or_else(|| "\"protocol\":\"\"".into());
    let fe = first_err.lock().unwrap().clone().unwrap_or_default().replace('"', "'");
    let sig = verifier.1.get().map(|s| format!("{s:?}")).unwrap_or_default();
    eprintln!(
        "{n} handshakes in {:.1}s: {rate:.1}/s, {errs} errors, p50 {:.2} ms p99 {:.2} ms{}",
        a.duration,
        pct(0.5),
        pct(0.99),
        if fe.is_empty() { String::new() } else { format!(" (first error: {fe})") }
    );
    println!(
        "{{\"handshakes\":{n},\"rate\":{rate:.2},\"errors\":{errs},\"bad_status\":{},\"conns\":{},\"t_start\":{t_start:.3},\"t_end\":{t_end:.3},\"lat_p50_ms\":{:.3},\"lat_p99_ms\":{:.3},{info},\"sig\":\"{sig}\",\"first_error\":\"{fe}\"}}",
        bad.load(Ordering::Relaxed),
        a.conns,
        pct(0.5),
        pct(0.99)
    );
    if n == 0 {
        std::process::exit(1);
    }
}
