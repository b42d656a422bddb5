//! The byte paths of a tunnel that bypass copies in the protocol layer.
//!
//! * [`ClientIo`] reads the client in large gulps while it sends a lot
//!   and holds no buffer while it is quiet. tungstenite reads at most its
//!   `read_buffer_size` per call, a buffer it allocates for the life of
//!   the tunnel, so it is kept small (idle tunnels stay small); without
//!   this, a 16 KiB message would cost eight `recv` calls. It also
//!   notes when the client last sent any bytes, for
//!   `server.max-read-idle`: a frame that arrives slowly, or a message in
//!   many fragments, is progress before the protocol layer has a message.
//! * [`write_frame`] sends one frame from the backend as a header and the
//!   payload in one vectored write, straight from the backend read
//!   buffer; tungstenite would first copy the payload into its own
//!   output buffer. (The client connection joins a frame of at most
//!   4 KiB into one `send` below this; a larger one goes out as it is.)

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode;

use crate::server::clock;

/// What one read takes from a client that is sending a lot.
const BULK_READ: usize = 64 << 10;

/// The client connection of a tunnel, with an adaptive read buffer.
///
/// Reads go straight into the caller's buffer until one fills it: the
/// client is sending more than the caller takes at a time, so the next
/// reads take up to [`BULK_READ`] into a buffer of our own and hand it
/// out from there. The buffer is released as soon as the socket has
/// nothing more to read, and a short bulk read switches back to direct
/// reads.
#[derive(Debug)]
pub struct ClientIo<S> {
    io: S,
    buf: BytesMut,
    bulk: bool,
    /// When the socket last gave bytes ([`clock::now_ms`]).
    last_read: u64,
}

impl<S> ClientIo<S> {
    pub fn new(io: S) -> Self {
        ClientIo {
            io,
            buf: BytesMut::new(),
            bulk: false,
            last_read: clock::now_ms(),
        }
    }

    /// When the client last sent bytes (or the tunnel began), on the
    /// coarse clock: any bytes, whether or not they completed a frame
    /// (lighttpd times `server.max-read-idle` by bytes received).
    pub fn last_read(&self) -> u64 {
        self.last_read
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ClientIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.buf.is_empty() && this.bulk {
            this.buf.reserve(BULK_READ);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.buf) {
                Poll::Pending => {
                    // Quiet for now: hold no memory while waiting.
                    this.buf = BytesMut::new();
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => {
                    this.buf = BytesMut::new();
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(n)) => {
                    if n < out.remaining() {
                        this.bulk = false;
                    }
                    if n == 0 {
                        this.buf = BytesMut::new();
                        return Poll::Ready(Ok(()));
                    }
                    // (one relaxed load per socket read, no clock call)
                    this.last_read = clock::now_ms();
                }
            }
        }
        if !this.buf.is_empty() {
            crate::server::gate::hand_out(&mut this.buf, out);
            if this.buf.is_empty() && !this.bulk {
                // Back to direct reads: the buffer goes too.
                this.buf = BytesMut::new();
            }
            return Poll::Ready(Ok(()));
        }
        let before = out.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, out))?;
        if out.filled().len() > before {
            this.last_read = clock::now_ms();
            if out.remaining() == 0 {
                this.bulk = true;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ClientIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Payloads up to this size go out in one buffer with their frame's head
/// when the writer cannot take both at once.
const JOIN_BELOW: usize = 64 << 10;

/// Writes one final, unmasked frame (a server's) of `opcode` carrying
/// `payload`: the header and the payload in vectored writes, not copied
/// here (see the module's notes), unless the writer cannot take them so. A
/// write that makes no progress for `stall` fails with `TimedOut`.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    io: &mut W,
    opcode: OpCode,
    payload: &[u8],
    stall: Duration,
) -> io::Result<()> {
    let header = FrameHeader {
        opcode,
        ..FrameHeader::default()
    };
    let mut head = [0u8; 14];
    let mut rest = &mut head[..];
    header
        .format(payload.len() as u64, &mut rest)
        .map_err(io::Error::other)?;
    let head_len = 14 - rest.len();
    if !io.is_write_vectored() && payload.len() <= JOIN_BELOW {
        // A writer that takes one buffer at a time (a WebSocket over
        // HTTP/2, where each write is a DATA frame): one write, one frame.
        let mut frame = Vec::with_capacity(head_len + payload.len());
        frame.extend_from_slice(&head[..head_len]);
        frame.extend_from_slice(payload);
        return write_all(io, &frame, stall).await;
    }
    let (mut h, mut p) = (&head[..head_len], payload);
    while !h.is_empty() || !p.is_empty() {
        let bufs = [IoSlice::new(h), IoSlice::new(p)];
        let n = progress(stall, io.write_vectored(&bufs)).await?;
        let from_head = n.min(h.len());
        h = &h[from_head..];
        p = &p[n - from_head..];
    }
    Ok(())
}

/// Writes all of `data`; a write that makes no progress for `stall`
/// fails with `TimedOut`.
pub async fn write_all<W: AsyncWrite + Unpin>(
    io: &mut W,
    mut data: &[u8],
    stall: Duration,
) -> io::Result<()> {
    while !data.is_empty() {
        let n = progress(stall, io.write(data)).await?;
        data = &data[n..];
    }
    Ok(())
}

/// One write call that must make progress within `stall`: the bytes it
/// took, `TimedOut` when it waited that long, `WriteZero` when it took
/// none.
async fn progress(
    stall: Duration,
    write: impl std::future::Future<Output = io::Result<usize>>,
) -> io::Result<usize> {
    match crate::server::timers::timeout_unless_ready(stall, write).await {
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
        Ok(Ok(0)) => Err(io::ErrorKind::WriteZero.into()),
        Ok(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::protocol::frame::coding::Data;

    /// A reader that hands out at most `chunk` bytes per call and counts
    /// the calls.
    struct Chunked {
        data: Cursor<Vec<u8>>,
        calls: usize,
    }

    impl AsyncRead for Chunked {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.calls += 1;
            let pos = self.data.position() as usize;
            let rest = &self.data.get_ref()[pos..];
            let n = rest.len().min(out.remaining());
            out.put_slice(&rest[..n]);
            self.data.set_position((pos + n) as u64);
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn small_reads_go_straight_through_and_large_ones_are_gathered() {
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut io = ClientIo::new(Chunked {
            data: Cursor::new(data.clone()),
            calls: 0,
        });
        let mut got = Vec::new();
        let mut small = [0u8; 2048];
        loop {
            let n = io.read(&mut small).await.expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, data);
        // 1 direct read, then 64 KiB gulps (2 of them) and the EOF read;
        // 2 KiB at a time would take 49 reads.
        assert!(io.io.calls <= 5, "{} reads from the socket", io.io.calls);
        assert!(io.buf.is_empty() && io.buf.capacity() == 0);
    }

    #[tokio::test]
    async fn a_reader_that_never_fills_the_buffer_never_goes_bulk() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        let mut io = ClientIo::new(b);
        let mut small = [0u8; 2048];
        for _ in 0..3 {
            a.write_all(&[7u8; 100]).await.expect("write");
            assert_eq!(io.read(&mut small).await.expect("read"), 100);
            assert!(!io.bulk && io.buf.capacity() == 0);
        }
    }

    #[tokio::test]
    async fn a_quiet_client_releases_the_buffer() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        let mut io = ClientIo::new(b);
        a.write_all(&[1u8; 10_000]).await.expect("write");
        let mut small = [0u8; 2048];
        let mut total = 0;
        while total < 10_000 {
            total += io.read(&mut small).await.expect("read");
        }
        assert!(io.bulk);
        // nothing more to read: the pending read drops the buffer
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(20), io.read(&mut small)).await;
        assert!(pending.is_err());
        assert_eq!(io.buf.capacity(), 0);
        a.write_all(b"next").await.expect("write");
        assert_eq!(io.read(&mut small).await.expect("read"), 4);
        assert_eq!(&small[..4], b"next");
    }

    #[tokio::test]
    async fn a_trickle_after_a_burst_holds_no_buffer() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        let mut io = ClientIo::new(b);
        let mut small = [0u8; 2048];
        a.write_all(&[1u8; 2048]).await.expect("write");
        assert_eq!(io.read(&mut small).await.expect("read"), 2048);
        assert!(io.bulk);
        // then one byte at a time: back to direct reads, buffer released
        for _ in 0..3 {
            a.write_all(b"x").await.expect("write");
            assert_eq!(io.read(&mut small).await.expect("read"), 1);
            assert!(!io.bulk);
            assert_eq!(io.buf.capacity(), 0);
        }
    }

    /// Every read that brings bytes moves the idle stamp, a part of a
    /// frame as much as a whole message (`server.max-read-idle`).
    #[tokio::test]
    async fn any_bytes_move_the_last_read_stamp() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        let mut io = ClientIo::new(b);
        let mut small = [0u8; 2048];
        let mut stamp = io.last_read();
        // direct reads (one byte at a time), then bulk reads (a burst
        // that fills the caller's buffer)
        for chunk in [&[1u8][..], &[2u8; 10_000][..], &[3u8][..]] {
            // (the coarse clock moves every 20 ms)
            tokio::time::sleep(std::time::Duration::from_millis(60)).await;
            let waited =
                tokio::time::timeout(std::time::Duration::from_millis(20), io.read(&mut small))
                    .await;
            assert!(waited.is_err(), "nothing to read yet");
            assert_eq!(io.last_read(), stamp, "no bytes, no new stamp");
            a.write_all(chunk).await.expect("write");
            let mut got = 0;
            while got < chunk.len() {
                got += io.read(&mut small).await.expect("read");
            }
            assert!(io.last_read() > stamp, "bytes move the stamp");
            stamp = io.last_read();
        }
    }

    /// A writer that records each write it takes; vectored or not.
    struct Writes {
        vectored: bool,
        writes: Vec<Vec<u8>>,
    }

    impl AsyncWrite for Writes {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes.push(data.to_vec());
            Poll::Ready(Ok(data.len()))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            if !self.vectored {
                // (tokio's default: the first buffer that is not empty)
                let first = bufs
                    .iter()
                    .find(|b| !b.is_empty())
                    .map_or(&[][..], |b| &b[..]);
                return self.poll_write(cx, first);
            }
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            let n = all.len();
            self.writes.push(all);
            Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            self.vectored
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A frame goes out in one write either way: the head and payload as
    /// one vectored write, or (a writer that takes one buffer at a time,
    /// an HTTP/2 stream where each write is a DATA frame) joined.
    #[tokio::test]
    async fn a_frame_is_one_write() {
        for vectored in [true, false] {
            let mut w = Writes {
                vectored,
                writes: Vec::new(),
            };
            let binary = OpCode::Data(Data::Binary);
            write_frame(&mut w, binary, b"hello", Duration::from_secs(1))
                .await
                .expect("write");
            assert_eq!(
                w.writes,
                [b"\x82\x05hello".to_vec()],
                "vectored: {vectored}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_without_progress_times_out() {
        // a pipe nobody reads: the header fits, the payload stalls
        let (mut a, _b) = tokio::io::duplex(16);
        let err = write_frame(
            &mut a,
            OpCode::Data(Data::Binary),
            &[0u8; 1000],
            std::time::Duration::from_secs(3),
        )
        .await
        .expect_err("stalled");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn frames_are_tungstenite_frames_whatever_the_write_sizes() {
        for len in [0usize, 1, 125, 126, 65_535, 65_536, 200_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            // a small pipe forces partial writes, in the header too
            let (mut a, mut b) = tokio::io::duplex(7);
            let p = payload.clone();
            let writer = tokio::spawn(async move {
                write_frame(
                    &mut a,
                    OpCode::Data(Data::Binary),
                    &p,
                    std::time::Duration::from_secs(10),
                )
                .await
                .expect("write");
            });
            let mut wire = Vec::new();
            b.read_to_end(&mut wire).await.expect("read");
            writer.await.expect("join");
            let mut cur = Cursor::new(&wire[..]);
            let (header, n) = FrameHeader::parse(&mut cur)
                .expect("parse")
                .expect("whole header");
            assert_eq!(n, len as u64);
            assert!(header.is_final && header.mask.is_none());
            assert_eq!(header.opcode, OpCode::Data(Data::Binary));
            assert_eq!(&wire[cur.position() as usize..], &payload[..], "len {len}");
        }
    }
}
