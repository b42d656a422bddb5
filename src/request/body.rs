//! Response bodies: nothing, one buffer, a backend's body read as the
//! client takes it, or a stream of chunks produced by another task (large
//! files), with back-pressure through a bounded channel.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

/// A response body.
#[derive(Debug)]
pub enum Body {
    /// No body.
    Empty,
    /// One buffer (taken on the first poll).
    Full(Option<Bytes>),
    /// A buffered body read back from memory and temp files.
    Spooled(crate::request::spool::SpoolBody),
    /// A body a producer task fills without waiting for the client.
    Pipe(crate::request::spool::PipeReader),
    /// Several bodies one after another (multipart ranges), with the total.
    Chain(std::collections::VecDeque<Body>, u64),
    /// A backend's response body, read as the client takes it.
    Upstream(Box<crate::modules::proxy::response::UpstreamBody>),
    /// File ranges sent with `sendfile(2)` (plain HTTP/1.x connections).
    File(Box<crate::server::sendfile::FileBody>),
    /// Chunks from a producer task, with the total length when known.
    Stream {
        /// The producer's channel.
        rx: mpsc::Receiver<io::Result<Bytes>>,
        /// Bytes still to come, when known.
        remaining: Option<u64>,
    },
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Body::Empty
    }

    /// A body of one buffer.
    pub fn full(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        if b.is_empty() {
            Body::Empty
        } else {
            Body::Full(Some(b))
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Spooled(b) => Pin::new(b).poll_frame(cx),
            Body::Pipe(b) => Pin::new(b).poll_frame(cx),
            Body::File(b) => Pin::new(&mut **b).poll_frame(cx),
            Body::Chain(parts, left) => loop {
                let Some(first) = parts.front_mut() else {
                    return Poll::Ready(None);
                };
                match Pin::new(first).poll_frame(cx) {
                    Poll::Ready(None) => {
                        parts.pop_front();
                    }
                    Poll::Ready(Some(Ok(f))) => {
                        if let Some(d) = f.data_ref() {
                            *left = left.saturating_sub(d.len() as u64);
                        }
                        return Poll::Ready(Some(Ok(f)));
                    }
                    other => return other,
                }
            },
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Upstream(u) => u.poll_chunk(cx).map(|o| o.map(|r| r.map(Frame::data))),
            Body::Stream { rx, remaining } => match rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(b))) => {
                    if let Some(r) = remaining {
                        *r = r.saturating_sub(b.len() as u64);
                    }
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => match remaining {
                    // The producer stopped early: fail the body so the
                    // connection is not reused with a short response.
                    Some(r) if *r > 0 => Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "body ended early",
                    )))),
                    _ => Poll::Ready(None),
                },
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(b) => b.is_none(),
            Body::Upstream(u) => u.is_done(),
            Body::Spooled(b) => b.is_end_stream(),
            Body::Pipe(b) => b.is_end_stream(),
            Body::File(b) => b.is_end_stream(),
            Body::Chain(parts, _) => parts.is_empty(),
            Body::Stream { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Spooled(b) => b.size_hint(),
            Body::Pipe(b) => b.size_hint(),
            Body::File(b) => b.size_hint(),
            Body::Chain(_, left) => SizeHint::with_exact(*left),
            Body::Upstream(u) => match u.remaining() {
                Some(n) => SizeHint::with_exact(n),
                None => SizeHint::default(),
            },
            Body::Stream {
                remaining: Some(r), ..
            } => SizeHint::with_exact(*r),
            Body::Stream { .. } => SizeHint::default(),
        }
    }
}

/// A response body as hyper gets it: a body error is handed out one poll
/// late, because hyper drops the connection — and what it has not written
/// yet — as soon as it sees the error; the extra poll lets it flush the
/// bytes that came before (a backend that dies mid-body must not cost the
/// client the part already received).
#[derive(Debug)]
pub struct Outgoing {
    body: Body,
    late: Option<io::Error>,
    /// The access-log line written when the body ends or is dropped.
    log: Option<super::logging::Pending>,
    sent: u64,
    complete: bool,
    /// Marks its request in flight on the connection until the body is
    /// done (sent, or dropped).
    in_flight: Option<crate::server::conn::InFlight>,
}

impl Outgoing {
    /// Wraps a response body.
    pub fn new(body: Body) -> Self {
        Outgoing {
            body,
            late: None,
            log: None,
            sent: 0,
            complete: false,
            in_flight: None,
        }
    }

    /// Keeps `guard` (its request in flight) until the body is done.
    pub(crate) fn hold(&mut self, guard: crate::server::conn::InFlight) {
        self.in_flight = Some(guard);
    }

    /// Wraps a response's body, taking the access-log line the request
    /// left in its extensions.
    pub fn from_response(r: http::Response<Body>) -> http::Response<Outgoing> {
        let (mut parts, body) = r.into_parts();
        let log = parts.extensions.remove::<super::logging::Pending>();
        let mut out = Outgoing::new(body);
        out.log = log;
        http::Response::from_parts(parts, out)
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        if let Some(line) = self.log.take() {
            line.write(
                self.sent,
                self.complete || http_body::Body::is_end_stream(&self.body),
            );
        }
    }
}

impl http_body::Body for Outgoing {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if let Some(e) = this.late.take() {
            return Poll::Ready(Some(Err(e)));
        }
        match std::task::ready!(Pin::new(&mut this.body).poll_frame(cx)) {
            Some(Err(e)) => {
                this.late = Some(e);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Ok(frame)) => {
                if this.log.is_some() {
                    if let Some(d) = frame.data_ref() {
                        this.sent += d.len() as u64;
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            None => {
                this.complete = true;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.late.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
