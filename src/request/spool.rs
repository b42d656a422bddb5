//! Bounded-memory byte buffers for request and response bodies: memory up
//! to a limit, then temporary files in `server.upload-dirs` (lighttpd:
//! `chunk.c`, the chunkqueue with its tempfiles).
//!
//! Two shapes, one per `server.stream-{request,response}-body` mode that
//! needs a buffer (mode 2 copies directly with back-pressure):
//!
//! | mode | type | writer | reader |
//! |---|---|---|---|
//! | 0: buffer all | [`Spool`] → [`Frozen`] | `push` until done, then `freeze` (or `into_bytes`) | any number of [`SpoolBody`] readers, each over a byte range |
//! | 1: stream | [`pipe`] → [`PipeWriter`] / [`PipeReader`] | `push` never waits for the reader; `finish` / `fail` | bytes in order; consumed temp files are dropped |
//!
//! Where the bytes go:
//!
//! | data | where | cost |
//! |---|---|---|
//! | fits in `mem_limit` (64 KiB) | the pushed `Bytes`, kept as they are | no copy; `into_bytes` of a single chunk is free |
//! | chunks < 512 bytes after the first | coalesced into one buffer of at most min(`mem_limit`, 8 KiB) | a small copy, so a body of 1-byte chunks costs neither 64 Ki entries nor 64 Ki file writes |
//! | beyond `mem_limit` | temp files of at most `file_size` (1 MiB) each, then the next | one `spawn_blocking` per push (or per coalesced 8 KiB) |
//!
//! A [`Spool`] keeps its first `mem_limit` bytes in memory; from the first
//! spill on everything goes to files, written sequentially. A pipe puts a
//! chunk in memory whenever the unread memory stays within `mem_limit`
//! (or holds nothing: a reader that keeps up never causes file I/O, whatever
//! the chunk size), so memory is bounded by `mem_limit` + the coalescing
//! buffer + one chunk, and disk use by the unread bytes + one file.
//!
//! wick's choices, where lighttpd differs:
//! * temp files are created **already unlinked** (`tempfile::tempfile_in`,
//!   `O_TMPFILE` on Linux), so a crash or kill never leaves
//!   `lighttpd-upload-XXXXXX` files behind; they vanish with their last
//!   descriptor. They still count against the file system of their dir.
//! * when creating a file in one upload dir fails, the next is tried (as
//!   lighttpd's `chunkqueue_get_append_newtempfile`), wrapping around; when
//!   all fail, `push` returns the last error naming its dir. The caller
//!   turns write errors into 500 (request) or a truncated response.
//! * file I/O runs on tokio's blocking pool with positional reads and writes
//!   (`pread`/`pwrite` on a shared descriptor), so worker runtimes keep
//!   serving the network; reads are at most 64 KiB each. A buffered
//!   response going out on a connection that sends files skips the reads:
//!   [`Frozen::pieces`] hands its temp-file ranges to `sendfile(2)`, and
//!   a pipe's reader ([`PipeReader::sending_files`]) its temp-file parts.
//!
//! A failed or cancelled `push` leaves the buffer incomplete: later pushes
//! fail too, a pipe's reader sees an error instead of the end, and a
//! [`Spool`] must not be frozen and sent on.
//!
//! Mode 1 lives in `spool/pipe.rs`; this file has the shared queue, the
//! temp-file writer and mode 0.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use tokio::task::JoinHandle;

mod pipe;
#[cfg(test)]
mod tests;

pub use pipe::{PipeReader, PipeWriter, pipe, pipe_sized};

/// Bytes lighttpd keeps in memory before it spills to temp files.
pub const DEFAULT_MEM_LIMIT: usize = 64 * 1024;
/// `server.upload-temp-file-size` default: 1 MiB.
pub const DEFAULT_FILE_SIZE: u64 = 1024 * 1024;
/// Largest read from a temp file per frame.
pub const READ_CHUNK: usize = 64 * 1024;
/// Chunks shorter than this are coalesced (after the first one).
const SMALL: usize = 512;
/// Largest coalescing buffer.
const TAIL_CAP: usize = 8 * 1024;

/// Where and how much to buffer (`server.upload-dirs`,
/// `server.upload-temp-file-size`).
#[derive(Clone, Debug)]
pub struct SpoolConfig {
    /// Directories for temp files, tried in order.
    pub dirs: Arc<[PathBuf]>,
    /// Bytes kept in memory before spilling to files.
    pub mem_limit: usize,
    /// Largest temp file; 0 means the default (1 MiB).
    pub file_size: u64,
}

impl SpoolConfig {
    /// lighttpd's defaults: `$TMPDIR` (else `/var/tmp`), 64 KiB in memory,
    /// 1 MiB files. Reads the environment: call it before the runtimes start.
    pub fn from_env_default() -> SpoolConfig {
        let dir = std::env::var_os("TMPDIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from("/var/tmp"), PathBuf::from);
        SpoolConfig::new(vec![dir], DEFAULT_MEM_LIMIT, DEFAULT_FILE_SIZE)
    }

    /// A configuration from its parts.
    pub fn new(dirs: Vec<PathBuf>, mem_limit: usize, file_size: u64) -> SpoolConfig {
        SpoolConfig {
            dirs: dirs.into(),
            mem_limit,
            file_size,
        }
    }

    fn file_size(&self) -> u64 {
        if self.file_size == 0 {
            DEFAULT_FILE_SIZE
        } else {
            self.file_size
        }
    }

    fn tail_cap(&self) -> usize {
        self.mem_limit.min(TAIL_CAP)
    }
}

/// A run of buffered bytes.
#[derive(Clone)]
enum Part {
    Mem(Bytes),
    File(FilePart),
}

/// Bytes `[off, off + len)` of an unlinked temp file.
#[derive(Clone)]
struct FilePart {
    file: Arc<File>,
    off: u64,
    len: u64,
}

impl Part {
    fn len(&self) -> u64 {
        match self {
            Part::Mem(b) => b.len() as u64,
            Part::File(f) => f.len,
        }
    }
}

/// Bytes on their way to a temp file, in order: the flushed coalescing
/// buffer, then the pushed chunk.
struct ToFile {
    first: Option<Bytes>,
    data: Bytes,
}

/// Buffered bytes in order: `parts`, then `tail` (the coalescing buffer).
#[derive(Default)]
struct Queue {
    parts: VecDeque<Part>,
    /// Bytes in `Part::Mem` parts.
    mem: usize,
    tail: BytesMut,
    /// Bytes ever admitted.
    total: u64,
}

impl Queue {
    /// Takes `data` into memory, or says what must go to a file first.
    /// `limit` bounds `mem`; `lenient` also admits one chunk of any size
    /// into an empty memory; `cap` bounds the coalescing buffer.
    fn admit(&mut self, data: Bytes, limit: usize, lenient: bool, cap: usize) -> Option<ToFile> {
        self.total += data.len() as u64;
        let coalesce = data.len() < SMALL
            && data.len() <= cap
            && !(self.parts.is_empty() && self.tail.is_empty());
        if coalesce && self.tail.len() + data.len() <= cap {
            self.append_tail(&data, cap);
            return None;
        }
        let fits = |mem: usize, n: usize| mem + n <= limit || (lenient && mem == 0);
        if !self.tail.is_empty() {
            let t = self.tail.split().freeze();
            if fits(self.mem, t.len()) {
                self.push_mem(t);
            } else {
                // The file write must carry `data` too: nothing may be
                // readable after bytes still on their way to a file.
                return Some(ToFile {
                    first: Some(t),
                    data,
                });
            }
        }
        if coalesce {
            self.append_tail(&data, cap);
            None
        } else if fits(self.mem, data.len()) {
            self.push_mem(data);
            None
        } else {
            Some(ToFile { first: None, data })
        }
    }

    fn append_tail(&mut self, data: &[u8], cap: usize) {
        if self.tail.capacity() - self.tail.len() < data.len() {
            self.tail.reserve(cap.max(data.len()));
        }
        self.tail.extend_from_slice(data);
    }

    fn push_mem(&mut self, b: Bytes) {
        self.mem += b.len();
        self.parts.push_back(Part::Mem(b));
    }

    /// Appends a written file range, merging it with the previous one when
    /// it continues it.
    fn push_file(&mut self, p: FilePart) {
        if let Some(Part::File(last)) = self.parts.back_mut() {
            if Arc::ptr_eq(&last.file, &p.file) && last.off + last.len == p.off {
                last.len += p.len;
                return;
            }
        }
        self.parts.push_back(Part::File(p));
    }

    /// Takes the next bytes to read: a memory chunk, or a file range of at
    /// most `max` bytes.
    fn pop_front(&mut self, max: usize) -> Option<Part> {
        match self.parts.front_mut() {
            Some(Part::File(f)) if f.len > max as u64 => {
                let p = FilePart {
                    file: f.file.clone(),
                    off: f.off,
                    len: max as u64,
                };
                f.off += max as u64;
                f.len -= max as u64;
                Some(Part::File(p))
            }
            Some(_) => {
                let p = self.parts.pop_front();
                if let Some(Part::Mem(b)) = &p {
                    self.mem -= b.len();
                }
                p
            }
            None if !self.tail.is_empty() => Some(Part::Mem(self.tail.split().freeze())),
            None => None,
        }
    }

    fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.tail.is_empty()
    }

    fn has_files(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::File(_)))
    }

    fn clear(&mut self) {
        self.parts.clear();
        self.tail.clear();
        self.mem = 0;
    }
}

/// The file being written and where, owned by the writer side.
struct Seg {
    file: Arc<File>,
    written: u64,
}

/// Writes to temp files; owned by the writer side, moved to the blocking
/// pool for each write.
struct Spiller {
    dirs: Arc<[PathBuf]>,
    file_size: u64,
    cur: Option<Seg>,
    /// The upload dir to try first.
    next_dir: usize,
    /// Temp files created.
    created: u32,
    /// A write failed or was cancelled: the buffer lacks bytes.
    broken: bool,
}

impl Spiller {
    fn new(cfg: &SpoolConfig) -> Spiller {
        Spiller {
            dirs: cfg.dirs.clone(),
            file_size: cfg.file_size(),
            cur: None,
            next_dir: 0,
            created: 0,
            broken: false,
        }
    }

    /// Writes `w` at the end of the temp files, returning the ranges written.
    async fn write(&mut self, w: ToFile) -> io::Result<Vec<FilePart>> {
        if self.broken {
            return Err(broken());
        }
        // Stays set if this future is dropped before the write is done.
        self.broken = true;
        let mut job = SpillJob {
            dirs: self.dirs.clone(),
            file_size: self.file_size,
            cur: self.cur.take(),
            next_dir: self.next_dir,
            created: 0,
        };
        let (job, res) = tokio::task::spawn_blocking(move || {
            let res = job.run(w);
            (job, res)
        })
        .await
        .map_err(io::Error::other)?;
        self.cur = job.cur;
        self.next_dir = job.next_dir;
        self.created += job.created;
        let parts = res?;
        self.broken = false;
        Ok(parts)
    }
}

/// One write on the blocking pool.
struct SpillJob {
    dirs: Arc<[PathBuf]>,
    file_size: u64,
    cur: Option<Seg>,
    next_dir: usize,
    created: u32,
}

impl SpillJob {
    fn run(&mut self, w: ToFile) -> io::Result<Vec<FilePart>> {
        let mut out: Vec<FilePart> = Vec::with_capacity(2);
        for mut buf in w.first.into_iter().chain(std::iter::once(w.data)) {
            while !buf.is_empty() {
                let mut seg = match self.cur.take() {
                    Some(s) if s.written < self.file_size => s,
                    _ => Seg {
                        file: self.create()?,
                        written: 0,
                    },
                };
                let room = self.file_size - seg.written;
                let n = room.min(buf.len() as u64) as usize;
                let piece = buf.split_to(n);
                seg.file.write_all_at(&piece, seg.written)?;
                match out.last_mut() {
                    Some(l) if Arc::ptr_eq(&l.file, &seg.file) => l.len += n as u64,
                    _ => out.push(FilePart {
                        file: seg.file.clone(),
                        off: seg.written,
                        len: n as u64,
                    }),
                }
                seg.written += n as u64;
                // A full file is let go at once, so it closes as soon as
                // its bytes are read.
                if seg.written < self.file_size {
                    self.cur = Some(seg);
                }
            }
        }
        Ok(out)
    }

    /// An unlinked temp file in the first upload dir that takes one.
    fn create(&mut self) -> io::Result<Arc<File>> {
        let n = self.dirs.len();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no server.upload-dirs");
        for i in 0..n {
            let idx = (self.next_dir + i) % n;
            let Some(dir) = self.dirs.get(idx) else {
                break;
            };
            match tempfile::tempfile_in(dir) {
                Ok(f) => {
                    self.next_dir = idx;
                    self.created += 1;
                    return Ok(Arc::new(f));
                }
                Err(e) => {
                    last = io::Error::new(
                        e.kind(),
                        format!("creating a temp file in {}: {e}", dir.display()),
                    );
                }
            }
        }
        Err(last)
    }
}

fn broken() -> io::Error {
    io::Error::other("an earlier temp file write failed")
}

/// Reads `p` on the blocking pool.
fn read_file(p: FilePart) -> JoinHandle<io::Result<Bytes>> {
    tokio::task::spawn_blocking(move || {
        let mut buf = BytesMut::zeroed(p.len as usize);
        p.file.read_exact_at(&mut buf, p.off)?;
        Ok(buf.freeze())
    })
}

/// Polls a file read; the handle is finished once this is ready.
fn poll_read(
    h: &mut JoinHandle<io::Result<Bytes>>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Bytes>> {
    Pin::new(h)
        .poll(cx)
        .map(|r| r.map_err(io::Error::other).and_then(|r| r))
}

// ---------------------------------------------------------------- mode 0

/// A whole body being buffered (mode 0): push every chunk, then
/// [`freeze`](Spool::freeze) it to read it back, or take it as one buffer
/// with [`into_bytes`](Spool::into_bytes) when it stayed in memory.
#[doc(alias = "chunkqueue")]
pub struct Spool {
    q: Queue,
    spill: Spiller,
    /// 0 after the first spill: later bytes follow on disk.
    limit: usize,
    cap: usize,
}

impl Spool {
    /// An empty spool; allocates nothing until data comes.
    pub fn new(cfg: &SpoolConfig) -> Spool {
        Spool {
            q: Queue::default(),
            spill: Spiller::new(cfg),
            limit: cfg.mem_limit,
            cap: cfg.tail_cap(),
        }
    }

    /// Appends `data`, writing to a temp file once the memory limit is
    /// reached.
    pub async fn push(&mut self, data: Bytes) -> io::Result<()> {
        if self.spill.broken {
            return Err(broken());
        }
        if data.is_empty() {
            return Ok(());
        }
        if let Some(w) = self.q.admit(data, self.limit, false, self.cap) {
            self.limit = 0;
            for p in self.spill.write(w).await? {
                self.q.push_file(p);
            }
        }
        Ok(())
    }

    /// Bytes pushed.
    pub fn len(&self) -> u64 {
        self.q.total
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.q.total == 0
    }

    /// Whether no temp file was needed.
    pub fn in_memory(&self) -> bool {
        self.spill.created == 0
    }

    /// Temp files created.
    pub fn temp_files(&self) -> u32 {
        self.spill.created
    }

    /// The body as one buffer when it is all in memory (free for a single
    /// chunk, one copy otherwise); the spool back when it is not.
    #[allow(
        clippy::result_large_err,
        reason = "the spool is handed back to be frozen; a move, not a copy of its bytes"
    )]
    pub fn into_bytes(mut self) -> Result<Bytes, Spool> {
        if self.q.has_files() {
            return Err(self);
        }
        if self.q.parts.is_empty() {
            return Ok(self.q.tail.freeze());
        }
        if self.q.parts.len() == 1 && self.q.tail.is_empty() {
            if let Some(Part::Mem(b)) = self.q.parts.pop_front() {
                return Ok(b);
            }
        }
        let mut out = BytesMut::with_capacity(self.q.total as usize);
        for p in &self.q.parts {
            if let Part::Mem(b) = p {
                out.extend_from_slice(b);
            }
        }
        out.extend_from_slice(&self.q.tail);
        Ok(out.freeze())
    }

    /// The body, immutable and shareable, to read any number of times.
    pub fn freeze(mut self) -> Arc<Frozen> {
        if !self.q.tail.is_empty() {
            let t = self.q.tail.split().freeze();
            self.q.parts.push_back(Part::Mem(t));
        }
        let mut starts = Vec::with_capacity(self.q.parts.len());
        let mut at = 0;
        for p in &self.q.parts {
            starts.push(at);
            at += p.len();
        }
        Arc::new(Frozen {
            parts: Vec::from(self.q.parts),
            starts,
            len: at,
            files: self.spill.created,
        })
    }
}

impl fmt::Debug for Spool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spool")
            .field("len", &self.q.total)
            .field("mem", &(self.q.mem + self.q.tail.len()))
            .field("temp_files", &self.spill.created)
            .finish()
    }
}

/// A complete buffered body: memory chunks and temp file ranges.
pub struct Frozen {
    parts: Vec<Part>,
    /// Offset of each part.
    starts: Vec<u64>,
    len: u64,
    files: u32,
}

impl Frozen {
    /// Bytes in the body.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the body is all in memory.
    pub fn in_memory(&self) -> bool {
        self.files == 0
    }

    /// A body reading bytes `[start, end)` (clamped to the length): memory
    /// chunks as slices (no copy), file bytes in reads of at most
    /// [`READ_CHUNK`], the next read started while the previous chunk is
    /// sent.
    pub fn reader(self: &Arc<Self>, start: u64, end: u64) -> SpoolBody {
        let end = end.min(self.len);
        let start = start.min(end);
        SpoolBody {
            src: self.clone(),
            pos: start,
            end,
            idx: self
                .starts
                .partition_point(|&s| s <= start)
                .saturating_sub(1),
            reading: None,
        }
    }

    /// The bytes `[start, end)` (clamped to the length) as memory chunks
    /// (no copy) and temp-file ranges, for a body whose file parts go out
    /// with `sendfile(2)`.
    pub fn pieces(&self, start: u64, end: u64) -> Vec<crate::server::sendfile::Piece> {
        use crate::server::sendfile::Piece;
        let end = end.min(self.len);
        let mut pos = start.min(end);
        let mut idx = self.starts.partition_point(|&s| s <= pos).saturating_sub(1);
        let mut out = Vec::new();
        while pos < end {
            let Some((part, at)) = self.locate(&mut idx, pos) else {
                break;
            };
            let within = pos - at;
            let take = (part.len() - within).min(end - pos);
            out.push(match part {
                Part::Mem(b) => Piece::Bytes(b.slice(within as usize..(within + take) as usize)),
                Part::File(f) => Piece::File {
                    file: f.file.clone(),
                    offset: f.off + within,
                    len: take,
                },
            });
            pos += take;
        }
        out
    }

    /// The part holding byte `pos`, from `idx` on, and its offset.
    fn locate(&self, idx: &mut usize, pos: u64) -> Option<(&Part, u64)> {
        loop {
            let p = self.parts.get(*idx)?;
            let s = *self.starts.get(*idx)?;
            if pos < s + p.len() {
                return Some((p, s));
            }
            *idx += 1;
        }
    }
}

impl fmt::Debug for Frozen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frozen")
            .field("len", &self.len)
            .field("parts", &self.parts.len())
            .field("temp_files", &self.files)
            .finish()
    }
}

/// A byte range of a [`Frozen`] body, as an [`http_body::Body`] with an
/// exact size hint.
pub struct SpoolBody {
    src: Arc<Frozen>,
    pos: u64,
    end: u64,
    /// Part holding `pos` (or before it).
    idx: usize,
    /// The read of the bytes at `pos`, when they are in a file.
    reading: Option<JoinHandle<io::Result<Bytes>>>,
}

impl SpoolBody {
    /// Starts reading the bytes at `pos` if they are in a file.
    fn prefetch(&mut self) {
        if self.reading.is_some() || self.pos >= self.end {
            return;
        }
        if let Some((Part::File(f), s)) = self.src.locate(&mut self.idx, self.pos) {
            let within = self.pos - s;
            let n = (f.len - within)
                .min(self.end - self.pos)
                .min(READ_CHUNK as u64);
            self.reading = Some(read_file(FilePart {
                file: f.file.clone(),
                off: f.off + within,
                len: n,
            }));
        }
    }
}

impl http_body::Body for SpoolBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.pos >= this.end {
            return Poll::Ready(None);
        }
        this.prefetch();
        let data = if let Some(h) = &mut this.reading {
            let r = std::task::ready!(poll_read(h, cx));
            this.reading = None;
            match r {
                Ok(b) => b,
                Err(e) => {
                    this.pos = this.end;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        } else {
            match this.src.locate(&mut this.idx, this.pos) {
                Some((Part::Mem(b), s)) => {
                    let a = (this.pos - s) as usize;
                    let z = (this.end - s).min(b.len() as u64) as usize;
                    b.slice(a..z)
                }
                _ => {
                    this.pos = this.end;
                    return Poll::Ready(Some(Err(io::Error::other("spool range out of bounds"))));
                }
            }
        };
        this.pos += data.len() as u64;
        this.prefetch();
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.end
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.end - self.pos)
    }
}

impl fmt::Debug for SpoolBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpoolBody")
            .field("pos", &self.pos)
            .field("end", &self.end)
            .finish()
    }
}
