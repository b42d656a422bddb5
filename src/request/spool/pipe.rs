//! Mode 1: a pipe whose writer never waits for its reader (see the parent
//! module doc for where the bytes go).
//!
//! | writer does | reader then gets |
//! |---|---|
//! | `push` | the bytes, in order (memory chunks as pushed, file bytes in reads of at most 64 KiB) |
//! | `finish` | the end (an error for a sized pipe that is short) |
//! | `fail(e)` or a failed `push` | `e` after the bytes pushed before |
//! | dropped without `finish` | `UnexpectedEof` after the bytes pushed before |
//!
//! A dropped reader releases the buffered bytes and their files at once;
//! the writer's next `push` fails with `BrokenPipe`.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::task::JoinHandle;

use super::{Part, Queue, READ_CHUNK, Spiller, SpoolConfig, broken, poll_read, read_file};
use crate::server::sendfile::{FileSends, STANDIN_LEN};

// A temp-file part the reader takes is never longer than one stand-in.
const _: () = assert!(READ_CHUNK <= STANDIN_LEN);

/// How a pipe's writer ended.
enum End {
    Open,
    Finished,
    /// `fail`, or a failed write; the error is handed out once.
    Failed(Option<io::Error>),
    /// Dropped without `finish`.
    Dropped,
}

struct PipeState {
    q: Queue,
    end: End,
    reader_gone: bool,
    waker: Option<Waker>,
}

type Shared = Arc<Mutex<PipeState>>;

fn lock(s: &Shared) -> MutexGuard<'_, PipeState> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A pipe whose writer never waits for its reader (mode 1): what the reader
/// has not taken yet is kept in memory up to `mem_limit`, then in temp
/// files.
#[doc(alias = "chunkqueue")]
pub fn pipe(cfg: &SpoolConfig) -> (PipeWriter, PipeReader) {
    pipe_inner(cfg, None)
}

/// A [`pipe`] for a body of exactly `len` bytes: the reader's size hint is
/// exact, it ends as soon as `len` bytes were read, and a writer finishing
/// short or pushing more gets / causes an error.
pub fn pipe_sized(cfg: &SpoolConfig, len: u64) -> (PipeWriter, PipeReader) {
    pipe_inner(cfg, Some(len))
}

fn pipe_inner(cfg: &SpoolConfig, len: Option<u64>) -> (PipeWriter, PipeReader) {
    let shared = Arc::new(Mutex::new(PipeState {
        q: Queue::default(),
        end: End::Open,
        reader_gone: false,
        waker: None,
    }));
    let w = PipeWriter {
        shared: shared.clone(),
        spill: Spiller::new(cfg),
        limit: cfg.mem_limit,
        cap: cfg.tail_cap(),
        len,
        pushed: 0,
        closed: false,
    };
    let r = PipeReader {
        shared,
        reading: None,
        remaining: len,
        done: false,
        sends: None,
    };
    (w, r)
}

/// The writing end of a [`pipe`].
pub struct PipeWriter {
    shared: Shared,
    spill: Spiller,
    limit: usize,
    cap: usize,
    /// The announced length.
    len: Option<u64>,
    pushed: u64,
    /// `finish` or `fail` was called.
    closed: bool,
}

impl PipeWriter {
    /// Appends `data` without waiting for the reader (only for a temp file
    /// write when memory is full). Fails with `BrokenPipe` once the reader
    /// is gone (the bytes are dropped), and after an earlier failure.
    pub async fn push(&mut self, data: Bytes) -> io::Result<()> {
        if self.spill.broken {
            return Err(broken());
        }
        if data.is_empty() {
            return Ok(());
        }
        let n = data.len() as u64;
        if self.len.is_some_and(|len| self.pushed + n > len) {
            let e = io::Error::new(io::ErrorKind::InvalidData, "body longer than announced");
            self.fail_shared(io::Error::new(e.kind(), e.to_string()));
            self.spill.broken = true;
            return Err(e);
        }
        let (w, waker) = {
            let mut st = lock(&self.shared);
            if st.reader_gone {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "reader gone"));
            }
            let w = st.q.admit(data, self.limit, true, self.cap);
            (w, st.waker.take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        self.pushed += n;
        let Some(w) = w else {
            return Ok(());
        };
        let parts = match self.spill.write(w).await {
            Ok(p) => p,
            Err(e) => {
                self.fail_shared(io::Error::new(e.kind(), e.to_string()));
                return Err(e);
            }
        };
        let waker = {
            let mut st = lock(&self.shared);
            if !st.reader_gone {
                for p in parts {
                    st.q.push_file(p);
                }
            }
            st.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Temp files created so far.
    pub fn temp_files(&self) -> u32 {
        self.spill.created
    }

    /// Ends the body: the reader gets the end after the last byte (an
    /// error instead when bytes are missing).
    pub fn finish(mut self) {
        let end = if self.spill.broken {
            End::Failed(Some(broken()))
        } else if self.len.is_some_and(|len| self.pushed != len) {
            End::Failed(Some(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "body shorter than announced",
            )))
        } else {
            End::Finished
        };
        self.close(end);
    }

    /// Ends the body with an error, which the reader gets after the bytes
    /// pushed so far.
    pub fn fail(mut self, e: io::Error) {
        self.close(End::Failed(Some(e)));
    }

    fn fail_shared(&mut self, e: io::Error) {
        self.close(End::Failed(Some(e)));
    }

    fn close(&mut self, end: End) {
        if self.closed {
            return;
        }
        self.closed = true;
        let waker = {
            let mut st = lock(&self.shared);
            st.end = end;
            st.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Bytes held in memory and not read yet.
    #[cfg(test)]
    pub(super) fn mem_in_use(&self) -> usize {
        let st = lock(&self.shared);
        st.q.mem + st.q.tail.len()
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        self.close(End::Dropped);
    }
}

impl fmt::Debug for PipeWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeWriter")
            .field("pushed", &self.pushed)
            .field("len", &self.len)
            .field("temp_files", &self.spill.created)
            .finish()
    }
}

/// The reading end of a [`pipe`]: the bytes in order, then the end, or an
/// error when the writer failed or was dropped without
/// [`finish`](PipeWriter::finish).
pub struct PipeReader {
    shared: Shared,
    reading: Option<JoinHandle<io::Result<Bytes>>>,
    /// Bytes still to come, for a sized pipe.
    remaining: Option<u64>,
    done: bool,
    /// Where temp-file parts go as stand-ins for `sendfile(2)`, when the
    /// body goes straight to a client connection that sends files.
    sends: Option<Arc<FileSends>>,
}

impl PipeReader {
    /// Hands temp-file parts on as stand-ins queued with `sends` (see
    /// [`crate::server::sendfile`]) instead of reading them. Only for a
    /// body hyper writes to a connection that sends files: anything else
    /// would see the stand-ins' bytes.
    pub fn sending_files(mut self, sends: Option<Arc<FileSends>>) -> Self {
        self.sends = sends;
        self
    }

    fn data(&mut self, b: Bytes) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(r) = &mut self.remaining {
            *r = r.saturating_sub(b.len() as u64);
        }
        Poll::Ready(Some(Ok(Frame::data(b))))
    }
}

impl http_body::Body for PipeReader {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some(h) = &mut this.reading {
                let r = std::task::ready!(poll_read(h, cx));
                this.reading = None;
                return match r {
                    Ok(b) => this.data(b),
                    Err(e) => {
                        this.done = true;
                        Poll::Ready(Some(Err(e)))
                    }
                };
            }
            if this.done || this.remaining == Some(0) {
                return Poll::Ready(None);
            }
            let mut st = lock(&this.shared);
            match st.q.pop_front(READ_CHUNK) {
                Some(Part::Mem(b)) => {
                    drop(st);
                    return this.data(b);
                }
                Some(Part::File(f)) => {
                    drop(st);
                    // (a part is at most READ_CHUNK long: one stand-in)
                    if let Some(sends) = &this.sends {
                        return this.data(sends.stand_in(&f.file, f.off, f.len));
                    }
                    this.reading = Some(read_file(f));
                }
                None => {
                    let res = match &mut st.end {
                        End::Open => {
                            if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                                st.waker = Some(cx.waker().clone());
                            }
                            return Poll::Pending;
                        }
                        End::Finished => None,
                        End::Failed(e) => Some(Err(e.take().unwrap_or_else(broken))),
                        End::Dropped => Some(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "body writer stopped before the end",
                        ))),
                    };
                    this.done = true;
                    return Poll::Ready(res);
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.done || self.remaining == Some(0) {
            return true;
        }
        let st = lock(&self.shared);
        self.reading.is_none() && st.q.is_empty() && matches!(st.end, End::Finished)
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        let mut st = lock(&self.shared);
        st.reader_gone = true;
        st.q.clear();
    }
}

impl fmt::Debug for PipeReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeReader")
            .field("remaining", &self.remaining)
            .field("done", &self.done)
            .finish()
    }
}
