use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Wake, Waker};

use http_body::Body as _;
use http_body_util::BodyExt;
use tempfile::TempDir;

use super::*;

/// Deterministic, non-repeating-looking bytes, so a misplaced range shows.
fn data(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn cfg(dirs: &[&Path], mem_limit: usize, file_size: u64) -> SpoolConfig {
    SpoolConfig::new(
        dirs.iter().map(|d| d.to_path_buf()).collect(),
        mem_limit,
        file_size,
    )
}

fn tmp() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Open descriptors of this process on unlinked files in `dir`.
fn deleted_fds(dir: &Path) -> usize {
    let dir = dir.canonicalize().expect("canonical dir");
    let prefix = format!("{}/", dir.display());
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .filter(|t| t.starts_with(&prefix) && t.ends_with(" (deleted)"))
        .count()
}

/// Entries with a name in `dir`.
fn linked_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).expect("read dir").count()
}

async fn collect(body: impl http_body::Body<Data = Bytes, Error = io::Error>) -> Vec<u8> {
    body.collect()
        .await
        .expect("body reads")
        .to_bytes()
        .to_vec()
}

async fn spool_of(c: &SpoolConfig, bytes: &[u8], chunk: usize) -> Spool {
    let mut s = Spool::new(c);
    for piece in bytes.chunks(chunk) {
        s.push(Bytes::copy_from_slice(piece)).await.expect("push");
    }
    s
}

#[tokio::test]
async fn small_body_stays_in_memory() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 64 * 1024, 1024 * 1024);
    let body = data(60_000, 1);
    let s = spool_of(&c, &body, 7_000).await;
    assert!(s.in_memory());
    assert_eq!(s.temp_files(), 0);
    assert_eq!(s.len(), body.len() as u64);
    assert_eq!(linked_files(dir.path()), 0);
    assert_eq!(deleted_fds(dir.path()), 0);
    let b = s.into_bytes().expect("in memory");
    assert_eq!(&b[..], &body[..]);
}

/// The hot path: one chunk in, the same buffer out, no copy.
#[tokio::test]
async fn single_chunk_into_bytes_is_free() {
    let c = cfg(&[Path::new("/nonexistent-wick-dir")], 64 * 1024, 0);
    let chunk = Bytes::from(data(10_000, 2));
    let ptr = chunk.as_ptr();
    let mut s = Spool::new(&c);
    s.push(chunk).await.expect("push");
    let b = s.into_bytes().expect("in memory");
    assert_eq!(b.as_ptr(), ptr);
    assert_eq!(b.len(), 10_000);
}

#[tokio::test]
async fn empty_spool() {
    let c = cfg(&[Path::new("/nonexistent-wick-dir")], 64 * 1024, 0);
    let mut s = Spool::new(&c);
    s.push(Bytes::new()).await.expect("push");
    assert!(s.is_empty());
    let f = s.freeze();
    assert!(f.is_empty());
    let r = f.reader(0, 10);
    assert!(r.is_end_stream());
    assert_eq!(r.size_hint().exact(), Some(0));
    assert!(collect(r).await.is_empty());
}

/// A body of 1-byte chunks must not cost one entry (or one file write) per
/// byte.
#[tokio::test]
async fn tiny_chunks_are_coalesced() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 64 * 1024, 1024 * 1024);
    let body = data(20_000, 3);
    let s = spool_of(&c, &body, 1).await;
    assert!(s.in_memory());
    assert!(s.q.parts.len() <= 1 + body.len() / (TAIL_CAP / 2), "{s:?}");
    assert_eq!(&s.into_bytes().expect("in memory")[..], &body[..]);

    // Past the memory limit, tiny chunks reach the file in batches.
    let c = cfg(&[dir.path()], 1_000, 1024 * 1024);
    let s = spool_of(&c, &body, 1).await;
    assert_eq!(s.temp_files(), 1);
    let f = s.freeze();
    assert_eq!(collect(f.reader(0, u64::MAX)).await, body);
}

#[tokio::test]
async fn large_body_spills_into_several_files() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 2_000, 3_000);
    let body = data(21_000, 4);
    let s = spool_of(&c, &body, 1_000).await;
    assert!(!s.in_memory());
    // 2 000 bytes in memory, 19 000 in files of 3 000.
    assert_eq!(s.temp_files(), 7);
    assert_eq!(deleted_fds(dir.path()), 7);
    assert_eq!(linked_files(dir.path()), 0);
    let s = s.into_bytes().expect_err("spilled");
    let f = s.freeze();
    assert!(!f.in_memory());
    assert_eq!(f.len(), 21_000);
    assert_eq!(collect(f.reader(0, f.len())).await, body);
    drop(f);
    assert_eq!(deleted_fds(dir.path()), 0);
}

/// A 12,000-byte body spooled in 900-byte chunks with a 2,000-byte memory
/// limit and 3,000-byte files — memory: 0..900, 900..1800; files:
/// 1800..4800, 4800..7800, 7800..10800, 10800..11700; the last 300 bytes
/// (a small chunk) in memory again — with its temp dir, its bytes, and
/// the ends and both sides of every boundary between its parts.
async fn across_boundaries(seed: u32) -> (TempDir, Vec<u8>, Arc<Frozen>, Vec<u64>) {
    let dir = tmp();
    let c = cfg(&[dir.path()], 2_000, 3_000);
    let body = data(12_000, seed);
    let f = spool_of(&c, &body, 900).await.freeze();
    let mut points = vec![0u64, 12_000];
    for b in [900u64, 1_800, 4_800, 7_800, 10_800, 11_700] {
        points.extend([b - 1, b, b + 1]);
    }
    (dir, body, f, points)
}

/// Ranges starting and ending on every side of memory chunk, memory/file
/// and file/file boundaries.
#[tokio::test]
async fn ranges_across_boundaries_read_exactly() {
    let (_dir, body, f, points) = across_boundaries(5).await;
    for &a in &points {
        for &z in &points {
            if a > z {
                continue;
            }
            let r = f.reader(a, z);
            assert_eq!(r.size_hint().exact(), Some(z - a));
            let got = collect(r).await;
            assert_eq!(got, &body[a as usize..z as usize], "range {a}..{z}");
        }
    }
    // Clamped to the length.
    assert_eq!(collect(f.reader(11_000, 99_999)).await, &body[11_000..]);
    assert!(collect(f.reader(50_000, 60_000)).await.is_empty());
}

/// The pieces of a range (for sendfile) hold exactly its bytes: memory
/// slices and temp-file ranges, across every kind of boundary.
#[tokio::test]
async fn pieces_of_ranges_hold_exactly_their_bytes() {
    use crate::server::sendfile::Piece;
    use std::os::unix::fs::FileExt;
    let (_dir, body, f, points) = across_boundaries(6).await;
    let bytes_of = |pieces: Vec<Piece>| {
        let mut out = Vec::new();
        for p in pieces {
            match p {
                Piece::Bytes(b) => out.extend_from_slice(&b),
                Piece::File { file, offset, len } => {
                    assert!(len > 0, "no empty file pieces");
                    let mut buf = vec![0; len as usize];
                    file.read_exact_at(&mut buf, offset).expect("read");
                    out.extend_from_slice(&buf);
                }
            }
        }
        out
    };
    for &a in &points {
        for &z in &points {
            if a <= z {
                let got = bytes_of(f.pieces(a, z));
                assert_eq!(got, &body[a as usize..z as usize], "range {a}..{z}");
            }
        }
    }
    let whole = f.pieces(0, 12_000);
    assert!(whole.iter().any(|p| matches!(p, Piece::File { .. })));
    assert!(whole.iter().any(|p| matches!(p, Piece::Bytes(_))));
    assert_eq!(bytes_of(f.pieces(11_000, 99_999)), &body[11_000..]);
    assert!(f.pieces(50_000, 60_000).is_empty());
}

/// File bytes come in reads of at most READ_CHUNK; memory chunks as slices.
#[tokio::test]
async fn file_reads_are_bounded() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 1_000, 0);
    let body = data(300_000, 6);
    let f = spool_of(&c, &body, 100_000).await.freeze();
    assert_eq!(f.parts.len(), 1);
    let mut r = f.reader(5, 299_999);
    let mut got = Vec::new();
    while let Some(frame) = r.frame().await {
        let d = frame.expect("frame").into_data().expect("data");
        assert!(d.len() <= READ_CHUNK);
        got.extend_from_slice(&d);
        assert_eq!(r.size_hint().exact(), Some(299_999 - 5 - got.len() as u64));
    }
    assert_eq!(got, &body[5..299_999]);
}

#[tokio::test]
async fn frozen_reads_twice_and_concurrently() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 1_500, 2_000);
    let body = data(9_000, 7);
    let f = spool_of(&c, &body, 700).await.freeze();
    assert_eq!(collect(f.reader(0, u64::MAX)).await, body);
    assert_eq!(collect(f.reader(0, u64::MAX)).await, body);
    let (a, b) = tokio::join!(
        collect(f.reader(0, u64::MAX)),
        collect(f.reader(1_000, 8_000))
    );
    assert_eq!(a, body);
    assert_eq!(b, &body[1_000..8_000]);
}

#[tokio::test]
async fn unusable_first_dir_falls_back_to_next() {
    let good = tmp();
    let missing = good.path().join("missing");
    let c = cfg(&[&missing, good.path()], 100, 1_000);
    let body = data(5_000, 8);
    let s = spool_of(&c, &body, 600).await;
    assert_eq!(s.temp_files(), 5);
    assert_eq!(deleted_fds(good.path()), 5);
    assert_eq!(collect(s.freeze().reader(0, u64::MAX)).await, body);
}

#[tokio::test]
async fn all_dirs_unusable_is_an_error() {
    let root = tmp();
    let a = root.path().join("a");
    let b = root.path().join("b");
    let c = cfg(&[&a, &b], 100, 1_000);
    let mut s = Spool::new(&c);
    s.push(Bytes::from(data(80, 9)))
        .await
        .expect("fits in memory");
    let e = s
        .push(Bytes::from(data(600, 9)))
        .await
        .expect_err("no dir takes a file");
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert!(e.to_string().contains("/b"), "{e}");
    // The spool is incomplete from now on.
    assert!(s.push(Bytes::from_static(b"x")).await.is_err());

    let none = SpoolConfig::new(Vec::new(), 0, 0);
    let mut s = Spool::new(&none);
    assert!(s.push(Bytes::from_static(b"x")).await.is_err());
}

// ---------------------------------------------------------------- pipe

struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll(r: &mut PipeReader, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
    Pin::new(r)
        .poll_frame(cx)
        .map(|f| f.map(|f| f.map(|f| f.into_data().unwrap_or_default())))
}

#[tokio::test]
async fn pipe_reader_waits_for_data_and_is_woken() {
    let c = cfg(&[Path::new("/nonexistent-wick-dir")], 64 * 1024, 0);
    let (mut w, mut r) = pipe(&c);
    let count = Arc::new(CountWaker(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(poll(&mut r, &mut cx).is_pending());
    assert!(!r.is_end_stream());
    w.push(Bytes::from_static(b"hello")).await.expect("push");
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    match poll(&mut r, &mut cx) {
        Poll::Ready(Some(Ok(b))) => assert_eq!(&b[..], b"hello"),
        other => panic!("expected data, got {other:?}"),
    }
    assert!(poll(&mut r, &mut cx).is_pending());
    w.finish();
    assert_eq!(count.0.load(Ordering::SeqCst), 2);
    assert!(r.is_end_stream());
    assert!(matches!(poll(&mut r, &mut cx), Poll::Ready(None)));
}

/// A reader that keeps up gets the writer's buffers themselves, whatever
/// their size, and no file is touched.
#[tokio::test]
async fn pipe_in_step_passes_chunks_through() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 1_000, 0);
    let (mut w, mut r) = pipe(&c);
    for n in [10usize, 5_000, 1] {
        let chunk = Bytes::from(data(n, n as u32));
        let ptr = chunk.as_ptr();
        w.push(chunk).await.expect("push");
        let got = r.frame().await.expect("frame").expect("data");
        assert_eq!(got.into_data().expect("data").as_ptr(), ptr);
    }
    assert_eq!(w.temp_files(), 0);
    w.finish();
    assert!(r.frame().await.is_none());
}

#[tokio::test]
async fn pipe_writer_runs_ahead_with_bounded_memory() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 1_000, 4_000);
    let (mut w, r) = pipe(&c);
    let body = data(100_000, 10);
    for (i, piece) in body.chunks(600).enumerate() {
        w.push(Bytes::copy_from_slice(piece)).await.expect("push");
        assert!(
            w.mem_in_use() <= 1_000,
            "after chunk {i}: {}",
            w.mem_in_use()
        );
    }
    // 600 bytes in memory, the rest on disk.
    assert_eq!(w.temp_files(), 25);
    // Small chunks are batched, and still bounded.
    for piece in data(30_000, 11).chunks(7) {
        w.push(Bytes::copy_from_slice(piece)).await.expect("push");
        assert!(w.mem_in_use() <= 2_000, "{}", w.mem_in_use());
    }
    w.finish();
    let mut want = body;
    want.extend(data(30_000, 11));
    assert_eq!(collect(r).await, want);
    assert_eq!(deleted_fds(dir.path()), 0);
    assert_eq!(linked_files(dir.path()), 0);
}

#[tokio::test]
async fn pipe_releases_files_once_read() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 500, 2_000);
    let (mut w, mut r) = pipe(&c);
    let body = data(20_400, 12);
    for piece in body.chunks(1_000) {
        w.push(Bytes::copy_from_slice(piece)).await.expect("push");
    }
    // 1 000 bytes in memory (one chunk into empty memory), 19 400 in 10 files.
    assert_eq!(w.temp_files(), 10);
    assert_eq!(deleted_fds(dir.path()), 10);
    w.finish();
    let mut got = Vec::new();
    while let Some(frame) = r.frame().await {
        got.extend_from_slice(&frame.expect("frame").into_data().expect("data"));
        let unread_files = (20_400 - got.len()).div_ceil(2_000);
        let open = deleted_fds(dir.path());
        assert!(
            open <= unread_files,
            "read {}: {open} files open, {unread_files} hold unread bytes",
            got.len()
        );
    }
    assert_eq!(got, body);
    assert_eq!(deleted_fds(dir.path()), 0);
}

/// New bytes go to memory again once the reader made room, after the
/// ones on disk.
#[tokio::test]
async fn pipe_keeps_order_across_memory_and_files() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 1_000, 1_500);
    let (mut w, mut r) = pipe(&c);
    let body = data(50_000, 13);
    let mut got = Vec::new();
    for (i, piece) in body.chunks(700).enumerate() {
        w.push(Bytes::copy_from_slice(piece)).await.expect("push");
        if i % 3 == 0 {
            let f = r.frame().await.expect("frame").expect("data");
            got.extend_from_slice(&f.into_data().expect("data"));
        }
    }
    w.finish();
    got.extend(collect(r).await);
    assert_eq!(got, body);
}

/// A pipe's reader sending files hands memory chunks on as they are and
/// each temp-file part as a stand-in queued for sendfile, in order: the
/// frames and the queued parts together are the body.
#[tokio::test]
async fn pipe_reader_sending_files_queues_its_file_parts() {
    use crate::server::sendfile::{FileSends, stand_in_at};
    use std::os::unix::fs::FileExt;
    let dir = tmp();
    let c = cfg(&[dir.path()], 1_000, 1_500);
    let (mut w, r) = pipe(&c);
    let sends = Arc::new(FileSends::default());
    let mut r = r.sending_files(Some(sends.clone()));
    let body = data(20_000, 14);
    for piece in body.chunks(700) {
        w.push(Bytes::copy_from_slice(piece)).await.expect("push");
    }
    w.finish();
    let mut frames = Vec::new();
    while let Some(f) = r.frame().await {
        frames.push(f.expect("frame").into_data().expect("data"));
    }
    let mut parts = sends.take_parts().into_iter();
    let mut got = Vec::new();
    let mut stand_ins = 0;
    for f in frames {
        if stand_in_at(&f).is_none() {
            got.extend_from_slice(&f);
            continue;
        }
        stand_ins += 1;
        let (file, offset, len) = parts.next().expect("a queued part per stand-in");
        assert_eq!(len, f.len());
        let mut buf = vec![0; len];
        file.read_exact_at(&mut buf, offset).expect("read");
        got.extend_from_slice(&buf);
    }
    assert!(stand_ins > 0, "file parts came as stand-ins");
    assert!(parts.next().is_none());
    assert_eq!(got, body);
}

#[tokio::test]
async fn pipe_writer_dropped_without_finish_is_an_error() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 100, 1_000);
    let (mut w, mut r) = pipe(&c);
    let body = data(3_000, 14);
    for piece in body.chunks(600) {
        w.push(Bytes::copy_from_slice(piece)).await.expect("push");
    }
    drop(w);
    let mut got = Vec::new();
    let err = loop {
        match r.frame().await.expect("no clean end") {
            Ok(f) => got.extend_from_slice(&f.into_data().expect("data")),
            Err(e) => break e,
        }
    };
    assert_eq!(got, body);
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert!(r.frame().await.is_none());
}

#[tokio::test]
async fn pipe_fail_reaches_the_reader_after_the_data() {
    let c = cfg(&[Path::new("/nonexistent-wick-dir")], 1_000, 0);
    let (mut w, mut r) = pipe(&c);
    w.push(Bytes::from_static(b"abc")).await.expect("push");
    w.fail(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "backend reset",
    ));
    let f = r.frame().await.expect("frame").expect("data");
    assert_eq!(&f.into_data().expect("data")[..], b"abc");
    let e = r.frame().await.expect("frame").expect_err("error");
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn pipe_spill_failure_reaches_the_reader() {
    let root = tmp();
    let c = cfg(&[&root.path().join("missing")], 100, 1_000);
    let (mut w, mut r) = pipe(&c);
    w.push(Bytes::from(data(80, 15))).await.expect("memory");
    assert!(w.push(Bytes::from(data(600, 15))).await.is_err());
    assert!(w.push(Bytes::from_static(b"x")).await.is_err());
    w.finish();
    assert_eq!(
        r.frame()
            .await
            .expect("frame")
            .expect("data")
            .into_data()
            .ok(),
        Some(Bytes::from(data(80, 15)))
    );
    assert_eq!(
        r.frame().await.expect("frame").expect_err("error").kind(),
        io::ErrorKind::NotFound
    );
}

#[tokio::test]
async fn pipe_reader_gone_stops_the_writer() {
    let dir = tmp();
    let c = cfg(&[dir.path()], 100, 1_000);
    let (mut w, r) = pipe(&c);
    for piece in data(3_000, 16).chunks(600) {
        w.push(Bytes::copy_from_slice(piece)).await.expect("push");
    }
    drop(r);
    let e = w
        .push(Bytes::from_static(b"x"))
        .await
        .expect_err("no reader");
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    drop(w);
    assert_eq!(deleted_fds(dir.path()), 0);
}

#[tokio::test]
async fn sized_pipe_hints_and_checks_its_length() {
    let c = cfg(&[Path::new("/nonexistent-wick-dir")], 1_000, 0);
    let (mut w, mut r) = pipe_sized(&c, 5);
    assert_eq!(r.size_hint().exact(), Some(5));
    w.push(Bytes::from_static(b"abc")).await.expect("push");
    r.frame().await.expect("frame").expect("data");
    assert_eq!(r.size_hint().exact(), Some(2));
    w.push(Bytes::from_static(b"de")).await.expect("push");
    r.frame().await.expect("frame").expect("data");
    // Complete by length, before finish.
    assert!(r.is_end_stream());
    assert!(r.frame().await.is_none());
    assert!(w.push(Bytes::from_static(b"f")).await.is_err());

    let (mut w, mut r) = pipe_sized(&c, 5);
    w.push(Bytes::from_static(b"abc")).await.expect("push");
    w.finish();
    r.frame().await.expect("frame").expect("data");
    let e = r.frame().await.expect("frame").expect_err("short");
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn default_config_is_lighttpds() {
    let c = SpoolConfig::from_env_default();
    assert_eq!(c.mem_limit, 64 * 1024);
    assert_eq!(c.file_size, 1024 * 1024);
    assert_eq!(c.dirs.len(), 1);
    let want = std::env::var_os("TMPDIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/var/tmp"), PathBuf::from);
    assert_eq!(c.dirs[0], want);
}

/// hyper needs bodies it can move between tasks.
#[test]
fn bodies_are_send_sync_unpin() {
    fn check<T: Send + Sync + Unpin + 'static>() {}
    check::<Spool>();
    check::<Arc<Frozen>>();
    check::<SpoolBody>();
    check::<PipeWriter>();
    check::<PipeReader>();
}
