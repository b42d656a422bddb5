//! A stat cache for static files, in the manner of lighttpd's "simple"
//! `server.stat-cache-engine` (lighttpd: `stat_cache.c`): a file's
//! metadata is trusted for one second before it is looked up again, and
//! the contents of small files are kept while their metadata is unchanged.
//!
//! Serving a cached small file costs no file system call at all; lighttpd
//! caches the stat and the open descriptor and still reads each time. Like
//! lighttpd's, the cache may answer with a file's state of up to one second
//! ago; unlike lighttpd's, length and contents always belong together.
//! `server.stat-cache-engine = "disable"` turns it off.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::server::clock;
use bytes::Bytes;
use http::HeaderValue;

/// How long a looked-up file's metadata is trusted (read on the server's
/// coarse clock, as lighttpd reads its once-a-second clock).
const TTL_MS: u64 = 1000;
/// Files up to this size have their contents kept.
pub const SMALL_FILE: u64 = 64 * 1024;
/// Entries before the cache is emptied and starts over.
const MAX_ENTRIES: usize = 8192;
/// Bytes of kept contents, at most.
const MAX_CONTENT_BYTES: usize = 64 << 20;

/// What the cache knows of one path.
#[derive(Debug)]
pub struct Entry {
    /// The file's metadata (following symlinks).
    pub meta: Metadata,
    /// When the metadata was looked up ([`clock::now_ms`]).
    checked_ms: u64,
    last_modified: OnceLock<Option<HeaderValue>>,
    /// The ETag with the default `etag.use-*` settings.
    pub default_etag: OnceLock<Option<HeaderValue>>,
    /// The `Content-Type` the first MIME table asked gave this path.
    pub mime: OnceLock<CachedMime>,
    /// The headers of a plain `200` for this path, for the first MIME
    /// table and `Server` header that asked (see [`FileHeaders`]).
    pub headers: OnceLock<FileHeaders>,
    content: OnceLock<Bytes>,
}

/// The headers every plain `200` for one file carries, built once and
/// cloned per request (cloning the map costs a third of inserting its
/// lines one by one): `Content-Type` by MIME table `table`, the default
/// `ETag`, `Last-Modified`, `Accept-Ranges` and `Server` (`server`, when
/// there is one), in the order the response writes them.
#[derive(Debug, Clone)]
pub struct FileHeaders {
    pub table: u64,
    pub server: Option<HeaderValue>,
    pub map: http::HeaderMap,
}

/// What a MIME table (`MimeTable::id`) says about a file: its
/// `Content-Type` (`None` when the type is no valid header value) and
/// whether the table knows the type.
#[derive(Debug, Clone)]
pub struct CachedMime {
    pub table: u64,
    pub content_type: Option<HeaderValue>,
    pub known: bool,
}

impl Entry {
    fn new(meta: Metadata) -> Self {
        Entry {
            meta,
            checked_ms: clock::now_ms(),
            last_modified: OnceLock::new(),
            default_etag: OnceLock::new(),
            mime: OnceLock::new(),
            headers: OnceLock::new(),
            content: OnceLock::new(),
        }
    }

    fn same_file(&self, other: &Metadata) -> bool {
        self.meta.ino() == other.ino()
            && self.meta.dev() == other.dev()
            && self.meta.size() == other.size()
            && self.meta.mtime() == other.mtime()
            && self.meta.mtime_nsec() == other.mtime_nsec()
            && self.meta.mode() == other.mode()
    }

    /// `Last-Modified` for this file, formatted once.
    pub fn last_modified(&self) -> Option<&HeaderValue> {
        self.last_modified
            .get_or_init(|| {
                HeaderValue::from_str(&super::http_date::format(self.meta.mtime())).ok()
            })
            .as_ref()
    }
}

/// Path → entry. Keys are paths of files that exist (a failed lookup is
/// not kept), so foldhash's seeded hash is enough; SipHash cost ~5 % of a
/// small static request.
type FileMap = HashMap<Box<[u8]>, Arc<Entry>, foldhash::fast::RandomState>;

/// The cache.
#[derive(Debug)]
pub struct FileCache {
    enabled: bool,
    map: Mutex<FileMap>,
    content_bytes: AtomicUsize,
    /// Directory listings kept for `dir-listing.cache`.
    pub listings: super::dirlisting::ListingCache,
}

impl FileCache {
    /// A cache; `enabled` false looks every file up each time.
    pub fn new(enabled: bool) -> Self {
        FileCache {
            enabled,
            map: Mutex::new(FileMap::default()),
            content_bytes: AtomicUsize::new(0),
            listings: super::dirlisting::ListingCache::new(),
        }
    }

    /// The metadata of `path` (following symlinks).
    pub fn stat(&self, path: &[u8]) -> io::Result<Arc<Entry>> {
        let p = os_path(path);
        if !self.enabled {
            return Ok(Arc::new(Entry::new(std::fs::metadata(p)?)));
        }
        let now = clock::now_ms();
        if let Some(e) = self.lock().get(path) {
            if now.saturating_sub(e.checked_ms) < TTL_MS {
                return Ok(e.clone());
            }
        }
        let meta = std::fs::metadata(p)?;
        let mut map = self.lock();
        let entry = match map.get(path) {
            // Unchanged: keep the contents, trust it for another second.
            Some(old) if old.same_file(&meta) => Arc::new(Entry {
                meta,
                checked_ms: now,
                last_modified: old.last_modified.clone(),
                default_etag: old.default_etag.clone(),
                mime: old.mime.clone(),
                headers: old.headers.clone(),
                content: old.content.clone(),
            }),
            _ => Arc::new(Entry::new(meta)),
        };
        if map.len() >= MAX_ENTRIES {
            map.clear();
            self.content_bytes.store(0, Ordering::Relaxed);
        }
        map.insert(Box::from(path), entry.clone());
        Ok(entry)
    }

    /// Whether entries are kept (`server.stat-cache-engine` not `disable`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The whole contents of a small file, read once per cached entry.
    pub fn content(&self, entry: &Entry, path: &Path) -> io::Result<Bytes> {
        if let Some(b) = entry.content.get() {
            return Ok(b.clone());
        }
        let mut f = std::fs::File::open(path)?;
        let mut buf = Vec::with_capacity(entry.meta.size() as usize);
        f.read_to_end(&mut buf)?;
        let b = Bytes::from(buf);
        if b.len() as u64 != entry.meta.size() {
            // Changed while we looked: serve nothing stale.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file changed while read",
            ));
        }
        if self.enabled
            && self.content_bytes.load(Ordering::Relaxed) + b.len() <= MAX_CONTENT_BYTES
            && entry.content.set(b.clone()).is_ok()
        {
            self.content_bytes.fetch_add(b.len(), Ordering::Relaxed);
        }
        Ok(b)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FileMap> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn os_path(b: &[u8]) -> &Path {
    Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A cache and a file `f` holding "one" in a fresh directory.
    fn one_file() -> (tempfile::TempDir, std::path::PathBuf, FileCache) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f");
        std::fs::write(&p, "one").expect("write");
        (dir, p, FileCache::new(true))
    }

    /// A change of contents is seen once the second has passed, never as a
    /// length/contents mismatch.
    #[test]
    fn entries_revalidate() {
        let (_dir, p, cache) = one_file();
        let key = p.to_str().expect("utf-8").as_bytes();
        let e = cache.stat(key).expect("stat");
        assert_eq!(cache.content(&e, &p).expect("read"), "one");
        // Same entry within the second: contents kept even if the file changes.
        std::fs::write(&p, "two!").expect("write");
        let e2 = cache.stat(key).expect("stat");
        assert!(Arc::ptr_eq(&e, &e2));
        assert_eq!(cache.content(&e2, &p).expect("cached"), "one");
        // A disabled cache always looks.
        let off = FileCache::new(false);
        let e3 = off.stat(key).expect("stat");
        assert_eq!(off.content(&e3, &p).expect("read"), "two!");
    }

    /// An entry is trusted for about a second on the coarse clock, then
    /// looked up again (and a change is seen).
    #[test]
    fn entries_expire_after_a_second() {
        let (_dir, p, cache) = one_file();
        let key = p.to_str().expect("utf-8").as_bytes();
        let start = std::time::Instant::now();
        let e = cache.stat(key).expect("stat");
        std::fs::write(&p, "two!").expect("write");
        let deadline = start + Duration::from_secs(5);
        let fresh = loop {
            let now = cache.stat(key).expect("stat");
            if !Arc::ptr_eq(&e, &now) {
                break now;
            }
            assert!(std::time::Instant::now() < deadline, "entry never expired");
            std::thread::sleep(Duration::from_millis(20));
        };
        let kept = start.elapsed();
        assert!(kept >= Duration::from_millis(900), "expired after {kept:?}");
        assert_eq!(fresh.meta.size(), 4);
        assert_eq!(cache.content(&fresh, &p).expect("read"), "two!");
    }
}
