//! Response bodies: nothing, one buffer, or a stream of chunks produced by
//! another task (large files), with back-pressure through a bounded channel.

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
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
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
            Body::Stream { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream {
                remaining: Some(r), ..
            } => SizeHint::with_exact(*r),
            Body::Stream { .. } => SizeHint::default(),
        }
    }
}
