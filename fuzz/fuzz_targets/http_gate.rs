//! Arbitrary bytes from a client through the request-head gate
//! (`server::gate`): it never panics or loops, and what it hands to hyper
//! does not depend on how the bytes arrived — in one piece, or cut at any
//! points, with the reader asking for small or large reads and the socket
//! not ready in between. And the first head it hands on (when it is not
//! a refusal) is one hyper's parser takes: every refusal is the gate's,
//! with lighttpd's status and page, never hyper's bare 400.
//!
//! Where the gate waits for the answer to a head that may switch
//! protocols (`Upgrade`, CONNECT), the server's answer is written through
//! it (whole, or a few bytes a write): a switch, a plain answer, or an
//! interim `100 Continue` before either; the output may not depend on
//! how the answer was written either. Nor may the targets the gate keeps
//! as they came for the access log (those it encoded for hyper).
//!
//! Input: `[max_head, cut seed, read size, flags, bytes...]`; flags: bit 0
//! the socket is unready every other poll, bits 1–3 the answer
//! ([`ANSWERS`]), bit 4 HTTP/2 off (`server.h2proto` disabled).
#![no_main]

use std::sync::Arc;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wick::server::gate::{Gate, RawTargets};

/// What the server answers a head the gate waits on (none: the gate
/// waits for good).
const ANSWERS: [&[u8]; 8] = [
    b"",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\n\r\n",
    b"HTTP/1.0 101 X\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
];

/// How many answers one input gets at most (one per head waited on).
const MAX_ANSWERS: usize = 16;

/// A client socket that delivers `data` in pieces ending at `cuts`, and
/// is not ready every other poll when `pending` is set; it takes at most
/// `per_write` bytes of a write.
struct Pieces<'a> {
    data: &'a [u8],
    cuts: Vec<usize>,
    pos: usize,
    pending: bool,
    ready: bool,
    /// Times it was not ready.
    pendings: usize,
    per_write: usize,
}

impl AsyncWrite for Pieces<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(data.len().min(self.per_write)))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Writes `answer` whole through the gate, as many writes as it takes.
fn answer(gate: &mut Gate<Pieces<'_>>, cx: &mut Context<'_>, mut answer: &[u8]) {
    while !answer.is_empty() {
        match Pin::new(&mut *gate).poll_write(cx, answer) {
            Poll::Ready(Ok(n)) if n > 0 => answer = &answer[n..],
            other => panic!("write through the gate: {other:?}"),
        }
    }
}

impl AsyncRead for Pieces<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pending && !self.ready {
            self.ready = true;
            self.pendings += 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        let pos = self.pos;
        let cut = self
            .cuts
            .iter()
            .copied()
            .find(|&c| c > pos)
            .unwrap_or(self.data.len());
        let end = cut.min(pos + buf.remaining()).min(self.data.len());
        buf.put_slice(&self.data[pos..end]);
        self.pos = end;
        Poll::Ready(Ok(()))
    }
}

/// Everything the gate hands out until EOF (or until it waits for good
/// after a refusal, or for an answer none comes to), read `read` bytes at
/// a time; `reply` is written each time it waits, [`MAX_ANSWERS`] times
/// at most.
fn drain(mut gate: Gate<Pieces<'_>>, read: usize, reply: &[u8]) -> Vec<u8> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    let mut buf = vec![0u8; read];
    let mut replies = 0;
    let len = gate.get_ref().data.len();
    // Every poll either moves input along or is one of the Pending ones
    // (or an answer's).
    let limit = 4 * (len + 16) * (1 + len / read.max(1)) + 2 * MAX_ANSWERS;
    for _ in 0..limit {
        let mut rb = ReadBuf::new(&mut buf);
        let before = gate.get_ref().pendings;
        match Pin::new(&mut gate).poll_read(&mut cx, &mut rb) {
            // Waiting without the socket being unready: the gate stopped
            // reading, as it does for good after a refusal, and until the
            // answer after a head that may switch protocols.
            Poll::Pending if gate.get_ref().pendings == before => {
                if reply.is_empty() || replies == MAX_ANSWERS {
                    return out;
                }
                replies += 1;
                answer(&mut gate, &mut cx, reply);
            }
            Poll::Pending => continue,
            Poll::Ready(Err(e)) => panic!("gate read error: {e}"),
            Poll::Ready(Ok(())) => {
                if rb.filled().is_empty() {
                    return out;
                }
                out.extend_from_slice(rb.filled());
            }
        }
    }
    panic!("the gate did not finish within {limit} polls");
}

/// Panics when the first head in `out`, complete and not the gate's
/// stand-in for a refusal or an HTTP/2 preface, is one hyper would refuse
/// (its parser is httparse; the method, target and header lines then go
/// through `http`'s types).
fn hyper_takes_first_head(out: &[u8]) {
    if out.starts_with(b"WICK-GATE-REFUSED ") || out.starts_with(b"PRI * HTTP/2.0") {
        return;
    }
    // A head cut off by EOF goes to hyper as it came: nothing was judged.
    let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
        return;
    };
    let out = &out[..end + 4];
    let mut headers = vec![httparse::EMPTY_HEADER; 1 << 14];
    let mut req = httparse::Request::new(&mut headers);
    let refused = |why: String| -> ! {
        panic!(
            "the gate passed a head hyper refuses ({why}):\n {:?}",
            String::from_utf8_lossy(out)
        )
    };
    match req.parse(out) {
        Ok(httparse::Status::Partial) => return,
        Ok(httparse::Status::Complete(_)) => {}
        Err(e) => refused(e.to_string()),
    }
    let method = req.method.unwrap_or_default();
    if let Err(e) = http::Method::from_bytes(method.as_bytes()) {
        refused(format!("method: {e}"));
    }
    if let Err(e) = http::Uri::try_from(req.path.unwrap_or_default()) {
        refused(format!("target: {e}"));
    }
    for h in req.headers.iter() {
        if let Err(e) = http::HeaderName::from_bytes(h.name.as_bytes()) {
            refused(format!("header name: {e}"));
        }
        if let Err(e) = http::HeaderValue::from_bytes(h.value) {
            refused(format!("header value: {e}"));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [max_head, seed, read, flags, ref input @ ..] = *data else {
        return;
    };
    let max_head = 256 * usize::from(max_head);
    let reply = ANSWERS[usize::from(flags >> 1 & 7)];
    let whole = Pieces {
        data: input,
        cuts: Vec::new(),
        pos: 0,
        pending: false,
        ready: false,
        pendings: 0,
        per_write: usize::MAX,
    };
    let kept_whole = Arc::new(RawTargets::default());
    let mut gate = Gate::new(whole, max_head);
    gate.keep_raw_targets(kept_whole.clone());
    let http2 = flags & 0x10 == 0;
    if !http2 {
        gate.without_http2();
    }
    let expected = drain(gate, 1 << 16, reply);
    hyper_takes_first_head(&expected);
    // Cut points from a small generator seeded by the input.
    let mut x = u32::from(seed) | 0x100;
    let mut cuts = Vec::new();
    let mut at = 0usize;
    while at < input.len() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        at += 1 + (x >> 16) as usize % 97;
        cuts.push(at);
    }
    let pieces = Pieces {
        data: input,
        cuts,
        pos: 0,
        pending: flags & 1 == 1,
        ready: false,
        pendings: 0,
        per_write: 1 + usize::from(seed % 13),
    };
    let read = 1 + usize::from(read) * 33;
    let kept_pieces = Arc::new(RawTargets::default());
    let mut gate = Gate::new(pieces, max_head);
    gate.keep_raw_targets(kept_pieces.clone());
    if !http2 {
        gate.without_http2();
    }
    let got = drain(gate, read, reply);
    assert!(
        got == expected,
        "output depends on how the input arrived:\n whole: {:?}\n split: {:?}",
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(&got)
    );
    // and so do the targets kept as they came (for the access log)
    for n in 1..=256 {
        assert_eq!(kept_whole.take(n), kept_pieces.take(n), "raw target {n}");
    }
});
