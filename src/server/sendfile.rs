//! Zero-copy file bodies: on a plain (not TLS) HTTP/1.x connection, the
//! bytes of a static file, or of the temp files a backend response spilled
//! into (buffered, or streamed faster than the client takes it), go from the page cache to the socket with `sendfile(2)` and
//! never pass through wick's memory (lighttpd does the same with its
//! `sendfile` network backend).
//!
//! hyper writes a body from the `Bytes` chunks the body yields and knows
//! nothing of files. So a [`FileBody`] yields *stand-ins*: slices of
//! `STANDIN`, a static region that is never read, and for each one it
//! queues the part of the file it stands for with the connection's
//! [`FileSends`]. The connection's I/O layer (`Tracked` in
//! [`super::conn`]) knows a stand-in by its address and sends that part of
//! the file instead of the slice.
//!
//! This holds because hyper's HTTP/1 writer, with its vectored write
//! strategy (which such connections ask for), queues body chunks as they
//! are and writes them in order; it only moves past what a write reports
//! as written. So a stand-in reaches the I/O layer whole or as the rest of
//! itself after a partial write, always in the order the parts were
//! queued. The I/O layer checks both: a stand-in that is not the rest of
//! the next queued part fails the connection instead of sending other
//! bytes. Stand-ins are only made for HTTP/1.x requests on connections
//! whose socket can send files ([`SendFile`]); HTTP/2 and TLS, which copy
//! and transform a body, read the file instead.
//!
//! Toward backends no stand-ins are needed: mod_proxy writes a buffered
//! request body itself and sends its temp-file parts with
//! [`poll_send_file`] on the backend socket.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncWrite, Interest};

/// The largest stand-in: a file part of up to this many bytes is one body
/// chunk (the kernel sends as much of it per call as the socket takes).
pub const STANDIN_LEN: usize = 1 << 20;

/// The region stand-ins are slices of. Nothing reads it (it stays in
/// untouched zero pages): only its addresses mean something.
static STANDIN: [u8; STANDIN_LEN] = [0; STANDIN_LEN];

/// Where `buf` starts in the stand-in region, when it is a (non-empty) stand-in.
pub fn stand_in_at(buf: &[u8]) -> Option<usize> {
    let at = (buf.as_ptr() as usize).wrapping_sub(STANDIN.as_ptr() as usize);
    (!buf.is_empty() && at < STANDIN_LEN && buf.len() <= STANDIN_LEN - at).then_some(at)
}

/// A socket that can send a file's bytes itself.
pub trait SendFile: AsyncWrite + Unpin {
    /// Whether [`SendFile::poll_send_file`] works on this stream.
    fn sends_files(&self) -> bool {
        false
    }

    /// Sends up to `len` bytes of `file` from `offset`; the count sent.
    fn poll_send_file(
        &mut self,
        _cx: &mut Context<'_>,
        _file: &File,
        _offset: u64,
        _len: usize,
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::from(io::ErrorKind::Unsupported)))
    }

    /// Writes `buf`, which more bytes follow at once (a response head
    /// before its file): TCP holds a short last segment for them.
    fn poll_write_more(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(self).poll_write(cx, buf)
    }
}

/// `sendfile(2)` of `len` bytes of `file` from `offset` to socket `out`.
fn sendfile(out: RawFd, file: &File, offset: u64, len: usize) -> io::Result<usize> {
    let mut off = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    // SAFETY: both descriptors are open for the duration of the call (the
    // socket is borrowed by the caller, the file by `file`), and `off` is
    // a local the call may update.
    let n = unsafe { libc::sendfile(out, file.as_raw_fd(), &mut off, len) };
    match usize::try_from(n) {
        // the file ends before the part does: it shrank after its size
        // was taken; the response cannot be completed
        Ok(0) if len > 0 => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file ended early (truncated while being sent)",
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(io::Error::last_os_error()),
    }
}

/// `send(2)` with `MSG_MORE` on socket `out`.
fn send_more(out: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes and the socket is open
    // for the duration of the call.
    let n = unsafe {
        libc::send(
            out,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_MORE | libc::MSG_NOSIGNAL,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// The tokio sockets that send files themselves: TCP and unix streams.
pub trait Socket: AsRawFd {
    /// Whether `MSG_MORE` holds a short segment back (TCP).
    const HOLDS_MORE: bool;

    /// Waits until the socket may take bytes.
    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Runs `op`, a write of ours on the socket, clearing the socket's
    /// readiness when it would block (as tokio's own writes do).
    fn try_write_op(&self, op: impl FnOnce() -> io::Result<usize>) -> io::Result<usize>;
}

impl Socket for tokio::net::TcpStream {
    const HOLDS_MORE: bool = true;

    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_ready(cx)
    }

    fn try_write_op(&self, op: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, op)
    }
}

impl Socket for tokio::net::UnixStream {
    const HOLDS_MORE: bool = false;

    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_ready(cx)
    }

    fn try_write_op(&self, op: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, op)
    }
}

/// Runs `op` on socket `s` once it is writable; waits again when the
/// socket was full after all.
fn when_writable<S: Socket>(
    s: &S,
    cx: &mut Context<'_>,
    op: impl Fn(RawFd) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(s.poll_writable(cx))?;
        let fd = s.as_raw_fd();
        match s.try_write_op(|| op(fd)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return Poll::Ready(r),
        }
    }
}

/// Sends up to `len` bytes of `file` from `offset` on socket `s`.
pub fn poll_send_file<S: Socket>(
    s: &S,
    cx: &mut Context<'_>,
    file: &File,
    offset: u64,
    len: usize,
) -> Poll<io::Result<usize>> {
    when_writable(s, cx, |fd| sendfile(fd, file, offset, len))
}

impl<S: Socket + AsyncWrite + Unpin> SendFile for S {
    fn sends_files(&self) -> bool {
        true
    }

    fn poll_send_file(
        &mut self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        poll_send_file(self, cx, file, offset, len)
    }

    fn poll_write_more(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if S::HOLDS_MORE {
            when_writable(self, cx, |fd| send_more(fd, buf))
        } else {
            Pin::new(self).poll_write(cx, buf)
        }
    }
}

/// TLS encrypts what it sends: it takes the file's bytes from memory.
impl<IO: tokio::io::AsyncRead + AsyncWrite + Unpin> SendFile
    for tokio_rustls::server::TlsStream<IO>
{
}

/// A part of a file queued for sending in place of a stand-in.
#[derive(Debug)]
struct Part {
    file: Arc<File>,
    offset: u64,
    len: usize,
    /// Bytes of it already sent.
    sent: usize,
}

/// The file parts a connection still has to send, in body order.
#[derive(Debug, Default)]
pub struct FileSends {
    parts: Mutex<VecDeque<Part>>,
}

impl FileSends {
    /// Queues the first `len` bytes of `file` from `offset`, or the first
    /// [`STANDIN_LEN`] when `len` is more; the stand-in the body yields for
    /// them (its length says how many it stands for).
    pub(crate) fn stand_in(&self, file: &Arc<File>, offset: u64, len: u64) -> Bytes {
        let len = usize::try_from(len).map_or(STANDIN_LEN, |n| n.min(STANDIN_LEN));
        self.lock().push_back(Part {
            file: file.clone(),
            offset,
            len,
            sent: 0,
        });
        Bytes::from_static(&STANDIN[..len])
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Part>> {
        self.parts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends, in place of stand-in `buf`, the file bytes it stands for.
    pub fn poll_send<S: SendFile>(
        &self,
        io: &mut S,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut parts = self.lock();
        let Some(part) = parts.front_mut() else {
            return Poll::Ready(Err(mismatch()));
        };
        // the rest of the next part, from where it stopped, or nothing
        if stand_in_at(buf) != Some(part.sent) || buf.len() != part.len - part.sent {
            return Poll::Ready(Err(mismatch()));
        }
        let n =
            ready!(io.poll_send_file(cx, &part.file, part.offset + part.sent as u64, buf.len()))?;
        part.sent += n;
        if part.sent == part.len {
            parts.pop_front();
        }
        Poll::Ready(Ok(n))
    }

    /// Parts queued and not sent yet.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.lock().len()
    }

    /// Takes the queued parts: (file, offset, length) of each, in order.
    #[cfg(test)]
    pub fn take_parts(&self) -> Vec<(Arc<File>, u64, usize)> {
        self.lock()
            .drain(..)
            .map(|p| (p.file, p.offset, p.len))
            .collect()
    }
}

fn mismatch() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "a file body's part came out of order: connection dropped",
    )
}

/// A piece of a file body.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Bytes of their own (a multipart header, a line end, a buffered
    /// body's part in memory).
    Bytes(Bytes),
    /// `len` bytes of `file` from `offset`.
    File {
        /// The file (a static file, or a temp file of a buffered body).
        file: Arc<File>,
        /// Where the bytes start.
        offset: u64,
        /// How many.
        len: u64,
    },
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::File { len, .. } => *len,
        }
    }
}

/// A response body of bytes and file parts, the file parts sent with
/// `sendfile(2)` through stand-ins.
#[derive(Debug)]
pub struct FileBody {
    sends: Arc<FileSends>,
    pieces: VecDeque<Piece>,
    remaining: u64,
}

impl FileBody {
    /// The body of `ranges` (inclusive) of `file`; with `multipart`, each
    /// range comes after its header, with a line end after it, and the
    /// trailer last.
    pub fn new(
        file: File,
        sends: Arc<FileSends>,
        ranges: &[(u64, u64)],
        multipart: Option<(Vec<Bytes>, Bytes)>,
    ) -> Self {
        let file = Arc::new(file);
        let mut pieces = Vec::new();
        for (i, &(a, b)) in ranges.iter().enumerate() {
            if let Some(h) = multipart.as_ref().and_then(|(parts, _)| parts.get(i)) {
                pieces.push(Piece::Bytes(h.clone()));
            }
            pieces.push(Piece::File {
                file: file.clone(),
                offset: a,
                len: b - a + 1,
            });
            if multipart.is_some() {
                pieces.push(Piece::Bytes(Bytes::from_static(b"\r\n")));
            }
        }
        if let Some((_, trailer)) = multipart {
            pieces.push(Piece::Bytes(trailer));
        }
        FileBody::of(sends, pieces)
    }

    /// The body of `pieces`, in order.
    pub fn of(sends: Arc<FileSends>, pieces: impl IntoIterator<Item = Piece>) -> Self {
        let pieces: VecDeque<Piece> = pieces.into_iter().filter(|p| p.len() > 0).collect();
        let remaining = pieces.iter().map(Piece::len).sum();
        FileBody {
            sends,
            pieces,
            remaining,
        }
    }
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let chunk = match this.pieces.pop_front() {
            None => return Poll::Ready(None),
            Some(Piece::Bytes(b)) => b,
            Some(Piece::File { file, offset, len }) => {
                let chunk = this.sends.stand_in(&file, offset, len);
                let n = chunk.len() as u64;
                if len > n {
                    this.pieces.push_front(Piece::File {
                        file,
                        offset: offset + n,
                        len: len - n,
                    });
                }
                chunk
            }
        };
        this.remaining -= chunk.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use std::io::Write;

    #[test]
    fn stand_ins_are_known_by_address() {
        assert_eq!(stand_in_at(&STANDIN[..10]), Some(0));
        assert_eq!(stand_in_at(&STANDIN[5..10]), Some(5));
        assert_eq!(stand_in_at(&STANDIN[..]), Some(0));
        assert_eq!(
            stand_in_at(&STANDIN[STANDIN_LEN - 1..]),
            Some(STANDIN_LEN - 1)
        );
        assert_eq!(stand_in_at(&STANDIN[3..3]), None, "empty");
        let other = vec![0u8; 16];
        assert_eq!(stand_in_at(&other), None);
        assert_eq!(stand_in_at(b"abc"), None);
    }

    fn file_of(content: &[u8]) -> File {
        let mut f = tempfile::tempfile().expect("temp file");
        f.write_all(content).expect("write");
        f
    }

    fn frames(body: &mut FileBody) -> Vec<Bytes> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut out = Vec::new();
        while let Poll::Ready(Some(f)) = Pin::new(&mut *body).poll_frame(&mut cx) {
            out.push(f.expect("frame").into_data().expect("data"));
        }
        out
    }

    /// A body yields its multipart pieces as they are and a stand-in per
    /// file part (at most STANDIN_LEN long), queued in the same order.
    #[test]
    fn a_body_yields_stand_ins_queued_in_order() {
        let sends = Arc::new(FileSends::default());
        let big = STANDIN_LEN as u64 + 10;
        let mut body = FileBody::new(
            file_of(b"0123456789"),
            sends.clone(),
            &[(2, 4), (0, big - 1)],
            Some((
                vec![Bytes::from_static(b"H1"), Bytes::from_static(b"H2")],
                Bytes::from_static(b"T"),
            )),
        );
        assert_eq!(body.size_hint().exact(), Some(2 + 3 + 2 + 2 + big + 2 + 1));
        let got = frames(&mut body);
        let lens: Vec<_> = got.iter().map(|b| (stand_in_at(b), b.len())).collect();
        assert_eq!(
            lens,
            [
                (None, 2),
                (Some(0), 3),
                (None, 2),
                (None, 2),
                (Some(0), STANDIN_LEN),
                (Some(0), 10),
                (None, 2),
                (None, 1)
            ]
        );
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        let queued: Vec<_> = sends.lock().iter().map(|p| (p.offset, p.len)).collect();
        assert_eq!(queued, [(2, 3), (0, STANDIN_LEN), (STANDIN_LEN as u64, 10)]);
    }
}
