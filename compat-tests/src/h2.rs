//! An HTTP/2 client (prior knowledge, cleartext) for the extended CONNECT
//! of RFC 8441, WebSocket over HTTP/2: what the server's SETTINGS say, the
//! answer to one CONNECT with a `:protocol`, and the stream's bytes both
//! ways afterwards. Built on the `h2` crate, driven by a small tokio
//! runtime per exchange, so that the harness's callers stay blocking.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, timeout};

/// How long the server's SETTINGS may take to arrive.
const SETTINGS_WAIT: Duration = Duration::from_secs(5);

/// One exchange on a stream.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send these bytes as DATA.
    Send(Vec<u8>),
    /// Read DATA until this many bytes arrived in total since the last
    /// read step (or the stream ends, or `limit` passes).
    Read(usize, Duration),
    /// End our side of the stream (END_STREAM).
    Finish,
    /// Read until the server ends the stream (or `limit` passes).
    End(Duration),
    /// Nothing for this long (the connection and the stream stay open).
    Pause(Duration),
}

/// What a step read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    /// DATA bytes (all that arrived for the step).
    Data(Vec<u8>),
    /// DATA bytes, then the end of the server's side.
    DataThenEnd(Vec<u8>),
    /// The stream was reset, or the connection failed.
    Reset(String),
}

/// What the client observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The server's SETTINGS allow the extended CONNECT.
    pub connect_protocol: bool,
    /// The response status.
    pub status: u16,
    /// The response headers, names lower-case, in order, `date` and
    /// `server` left out.
    pub headers: Vec<(String, String)>,
    /// What each read step got.
    pub reads: Vec<Got>,
}

/// `CONNECT` with `:protocol` `protocol` to `path` on `127.0.0.1:port`
/// (`:authority` `localhost`), with `headers`, then `steps` on the stream.
pub fn extended_connect(
    port: u16,
    path: &str,
    protocol: &str,
    headers: &[(&str, &str)],
    steps: &[Step],
) -> Result<Observed, String> {
    let mut req = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://localhost{path}"))
        .version(http::Version::HTTP_2);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let mut req = req.body(()).map_err(|e| format!("request: {e}"))?;
    req.extensions_mut()
        .insert(h2::ext::Protocol::from(protocol));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(exchange(port, req, steps))
}

/// Connects, sends `req` and goes through `steps`.
async fn exchange(port: u16, req: http::Request<()>, steps: &[Step]) -> Result<Observed, String> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (client, conn) = h2::client::handshake(tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = stream(client, req, steps).await;
    driver.abort();
    result
}

async fn stream(
    client: h2::client::SendRequest<Bytes>,
    req: http::Request<()>,
    steps: &[Step],
) -> Result<Observed, String> {
    let mut client = timeout(SETTINGS_WAIT, client.ready())
        .await
        .map_err(|_| "not ready".to_string())?
        .map_err(|e| format!("ready: {e}"))?;
    // The SETTINGS frame comes with the server's preface; the flag is
    // known once it was read (the connection task reads it).
    let deadline = Instant::now() + SETTINGS_WAIT;
    while !client.is_extended_connect_protocol_enabled() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let connect_protocol = client.is_extended_connect_protocol_enabled();
    let (response, mut send) = client
        .send_request(req, false)
        .map_err(|e| format!("send: {e}"))?;
    let response = timeout(SETTINGS_WAIT, response)
        .await
        .map_err(|_| "no response".to_string())?
        .map_err(|e| format!("response: {e}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(n, _)| *n != http::header::DATE && *n != http::header::SERVER)
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = response.into_body();
    let mut reads = Vec::new();
    for step in steps {
        match step {
            Step::Send(b) => {
                send.reserve_capacity(b.len());
                send.send_data(Bytes::copy_from_slice(b), false)
                    .map_err(|e| format!("send data: {e}"))?;
            }
            Step::Finish => {
                send.send_data(Bytes::new(), true)
                    .map_err(|e| format!("end stream: {e}"))?;
            }
            Step::Pause(d) => tokio::time::sleep(*d).await,
            Step::Read(n, limit) => reads.push(read(&mut body, Some(*n), *limit).await),
            Step::End(limit) => reads.push(read(&mut body, None, *limit).await),
        }
    }
    Ok(Observed {
        connect_protocol,
        status,
        headers,
        reads,
    })
}

/// DATA until `want` bytes (None: the end of the stream) or `limit`.
async fn read(body: &mut h2::RecvStream, want: Option<usize>, limit: Duration) -> Got {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    loop {
        if want.is_some_and(|n| got.len() >= n) {
            return Got::Data(got);
        }
        match tokio::time::timeout_at(deadline, body.data()).await {
            Err(_) => return Got::Data(got),
            Ok(None) => return Got::DataThenEnd(got),
            Ok(Some(Err(e))) => return Got::Reset(e.to_string()),
            Ok(Some(Ok(d))) => {
                let _ = body.flow_control().release_capacity(d.len());
                got.extend_from_slice(&d);
            }
        }
    }
}
