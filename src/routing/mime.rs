//! `mimetype.assign`: file name → `Content-Type` (lighttpd:
//! `stat_cache_mimetype_by_ext`).
//!
//! Matching is by suffix, ignoring ASCII case. With fewer than 16 entries
//! the list is searched top down and the first suffix that matches wins;
//! with 16 or more, the longest matching suffix wins: the whole base name,
//! then from each `.` left to right, then the last extension without its
//! dot, then the `""` entry (measured against lighttpd 1.4.69). A file no entry matches is
//! `application/octet-stream` and gets no ETag or Last-Modified (lighttpd
//! disables caching for types it does not know); so is a file whose entry
//! has an empty type (the search stops at that entry).
//!
//! When a configuration never sets `mimetype.assign`, wick uses a built-in
//! table of common web types, as lighttpd 1.4.71 and later do (1.4.69 sends
//! everything as `application/octet-stream`); see KNOWN-DIFFERENCES.md.

use std::collections::HashMap;

use bstr::{BString, ByteSlice};
use http::HeaderValue;

use crate::config::value::Value;

/// A compiled `mimetype.assign`.
#[derive(Debug, Clone)]
pub struct MimeTable {
    /// Tells tables apart (clones share it: they give the same answers),
    /// for caches of what a table said about a file.
    id: u64,
    /// Entries in written order: (suffix, type).
    entries: Vec<(BString, BString)>,
    /// Each entry's type as a header value, made once (`None`: not a
    /// valid header value, and the file goes without `Content-Type`).
    values: Vec<Option<HeaderValue>>,
    /// Lowercased suffix → index, for tables of 16 entries or more.
    index: Option<Index>,
}

/// The index of a long table: lowercased suffix → entry, and which suffix
/// lengths occur, so that a candidate of another length is not looked up.
#[derive(Debug, Clone)]
struct Index {
    map: HashMap<Box<[u8]>, usize, foldhash::fast::RandomState>,
    /// Bit `n` set: some suffix is `n` bytes long (bit 63: 63 or more).
    lengths: u64,
}

impl Index {
    /// The entry whose suffix is `s` in any case.
    fn get(&self, s: &[u8]) -> Option<usize> {
        if self.lengths & (1 << s.len().min(63)) == 0 {
            return None;
        }
        // lowercased on the stack: suffixes are short
        let mut buf = [0u8; 64];
        let i = match buf.get_mut(..s.len()) {
            Some(b) => {
                b.copy_from_slice(s);
                b.make_ascii_lowercase();
                self.map.get(&*b)
            }
            None => self.map.get(s.to_ascii_lowercase().as_slice()),
        };
        i.copied()
    }
}

/// What [`MimeTable::lookup`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MimeMatch<'a> {
    /// The `Content-Type`.
    pub content_type: &'a [u8],
    /// The same as a header value (`None` when it is not a valid one).
    pub value: Option<&'a HeaderValue>,
    /// False when no entry matched (then no ETag / Last-Modified is sent).
    pub known: bool,
}

/// The type of files no entry matches.
pub const OCTET_STREAM: &[u8] = b"application/octet-stream";
static OCTET_STREAM_VALUE: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// Common media types for the web: wick's table when `mimetype.assign` is
/// not set. Text types carry `charset=utf-8`.
const BUILTIN: &[(&str, &str)] = &[
    (".html", "text/html"),
    (".htm", "text/html"),
    (".xhtml", "application/xhtml+xml"),
    (".css", "text/css;charset=utf-8"),
    (".js", "text/javascript;charset=utf-8"),
    (".mjs", "text/javascript;charset=utf-8"),
    (".json", "application/json"),
    (".map", "application/json"),
    (".webmanifest", "application/manifest+json"),
    (".xml", "text/xml;charset=utf-8"),
    (".txt", "text/plain;charset=utf-8"),
    (".text", "text/plain;charset=utf-8"),
    (".log", "text/plain;charset=utf-8"),
    (".conf", "text/plain;charset=utf-8"),
    (".md", "text/markdown;charset=utf-8"),
    (".csv", "text/csv;charset=utf-8"),
    (".ics", "text/calendar"),
    (".vtt", "text/vtt"),
    (".rss", "application/rss+xml"),
    (".atom", "application/atom+xml"),
    (".svg", "image/svg+xml"),
    (".svgz", "image/svg+xml"),
    (".png", "image/png"),
    (".apng", "image/apng"),
    (".gif", "image/gif"),
    (".jpg", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".webp", "image/webp"),
    (".avif", "image/avif"),
    (".bmp", "image/bmp"),
    (".ico", "image/vnd.microsoft.icon"),
    (".tif", "image/tiff"),
    (".tiff", "image/tiff"),
    (".woff", "font/woff"),
    (".woff2", "font/woff2"),
    (".ttf", "font/ttf"),
    (".otf", "font/otf"),
    (".eot", "application/vnd.ms-fontobject"),
    (".wasm", "application/wasm"),
    (".pdf", "application/pdf"),
    (".zip", "application/zip"),
    (".tar.gz", "application/x-gtar-compressed"),
    (".tgz", "application/x-gtar-compressed"),
    (".gz", "application/gzip"),
    (".bz2", "application/x-bzip2"),
    (".xz", "application/x-xz"),
    (".zst", "application/zstd"),
    (".tar", "application/x-tar"),
    (".7z", "application/x-7z-compressed"),
    (".mp3", "audio/mpeg"),
    (".ogg", "audio/ogg"),
    (".oga", "audio/ogg"),
    (".opus", "audio/ogg"),
    (".wav", "audio/wav"),
    (".flac", "audio/flac"),
    (".weba", "audio/webm"),
    (".aac", "audio/aac"),
    (".mp4", "video/mp4"),
    (".m4v", "video/mp4"),
    (".webm", "video/webm"),
    (".ogv", "video/ogg"),
    (".mpeg", "video/mpeg"),
    (".mov", "video/quicktime"),
    (".avi", "video/x-msvideo"),
    (".m3u8", "application/vnd.apple.mpegurl"),
    (".ts", "video/mp2t"),
    (".epub", "application/epub+zip"),
    (".jar", "application/java-archive"),
    (".sh", "text/x-sh;charset=utf-8"),
    (".py", "text/x-python;charset=utf-8"),
    (".c", "text/x-csrc;charset=utf-8"),
    (".h", "text/x-chdr;charset=utf-8"),
    (".diff", "text/x-diff;charset=utf-8"),
    (".patch", "text/x-diff;charset=utf-8"),
    ("README", "text/plain;charset=utf-8"),
    ("", "application/octet-stream"),
];

/// Why a `mimetype.assign` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    /// Not a `key => "type"` list (the core checks this at load; kept for
    /// values that reach us otherwise).
    #[error("expected a list of \"suffix\" => \"type\" entries")]
    NotAList,
}

impl MimeTable {
    /// The built-in table.
    pub fn builtin() -> Self {
        Self::new(
            BUILTIN
                .iter()
                .map(|(k, v)| (BString::from(*k), BString::from(*v)))
                .collect(),
        )
    }

    /// A table from (suffix, type) pairs in order.
    pub fn new(entries: Vec<(BString, BString)>) -> Self {
        let index = (entries.len() >= 16).then(|| {
            let mut map = HashMap::with_capacity_and_hasher(entries.len(), Default::default());
            let mut lengths = 0u64;
            for (i, (k, _)) in entries.iter().enumerate() {
                map.entry(k.to_ascii_lowercase().into_boxed_slice())
                    .or_insert(i);
                lengths |= 1 << k.len().min(63);
            }
            Index { map, lengths }
        });
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let values = entries
            .iter()
            .map(|(_, t)| HeaderValue::from_bytes(t).ok())
            .collect();
        MimeTable {
            id,
            entries,
            values,
            index,
        }
    }

    /// This table's identity: equal only for the same table or its clones.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// A table from a `mimetype.assign` value.
    pub fn from_value(v: &Value) -> Result<Self, MimeError> {
        let Value::Array(a) = v else {
            return Err(MimeError::NotAList);
        };
        let mut entries = Vec::with_capacity(a.len());
        for e in a.entries() {
            match (&e.key, &e.value) {
                (Some(k), Value::Str(t)) => entries.push((k.clone(), t.clone())),
                _ => return Err(MimeError::NotAList),
            }
        }
        Ok(Self::new(entries))
    }

    /// The type of the file at `path`.
    pub fn lookup<'a>(&'a self, path: &[u8]) -> MimeMatch<'a> {
        let found = match &self.index {
            None => self.entries.iter().position(|(k, _)| {
                path.len() >= k.len() && path[path.len() - k.len()..].eq_ignore_ascii_case(k)
            }),
            Some(index) => {
                let base = match path.rfind_byte(b'/') {
                    Some(i) => &path[i + 1..],
                    None => path,
                };
                let get = |s: &[u8]| index.get(s);
                get(base)
                    .or_else(|| {
                        base.iter()
                            .enumerate()
                            .filter(|(_, b)| **b == b'.')
                            .find_map(|(i, _)| get(&base[i..]))
                    })
                    .or_else(|| base.rfind_byte(b'.').and_then(|i| get(&base[i + 1..])))
                    .or_else(|| get(b""))
            }
        };
        match found {
            // An empty type: sent as no type at all (octet-stream, no
            // ETag or Last-Modified); the search still ends here, and a
            // directory listing shows the empty type (lighttpd 1.4.69).
            Some(i) if self.entries[i].1.is_empty() => MimeMatch {
                content_type: b"",
                value: Some(&OCTET_STREAM_VALUE),
                known: false,
            },
            Some(i) => MimeMatch {
                content_type: &self.entries[i].1,
                value: self.values[i].as_ref(),
                known: true,
            },
            None => MimeMatch {
                content_type: OCTET_STREAM,
                value: Some(&OCTET_STREAM_VALUE),
                known: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, &str)]) -> MimeTable {
        MimeTable::new(
            pairs
                .iter()
                .map(|(k, v)| (BString::from(*k), BString::from(*v)))
                .collect(),
        )
    }

    /// A type comes with its header value, made when the table is; one
    /// that is no valid header value comes without; no match is
    /// application/octet-stream.
    #[test]
    fn types_come_as_header_values() {
        let t = table(&[(".txt", "text/plain; charset=utf-8"), (".bad", "a\x01b")]);
        let m = t.lookup(b"/a.txt");
        assert_eq!(m.value.map(HeaderValue::as_bytes), Some(m.content_type));
        assert_eq!(m.content_type, b"text/plain; charset=utf-8");
        let m = t.lookup(b"/a.bad");
        assert!(m.known && m.value.is_none());
        let m = t.lookup(b"/a.none");
        assert!(!m.known);
        assert_eq!(m.value.map(HeaderValue::as_bytes), Some(OCTET_STREAM));
    }

    /// An entry with an empty type ends the search as if nothing matched:
    /// a file is sent as application/octet-stream without validators, a
    /// listing shows the empty type (lighttpd 1.4.69).
    #[test]
    fn empty_type_is_no_type() {
        let extra: Vec<(String, String)> = (0..20)
            .map(|i| (format!(".e{i}"), format!("x/e{i}")))
            .collect();
        for n in [0, 20] {
            let mut pairs = vec![(".htm", ""), (".txt", "text/plain"), ("", "text/x-default")];
            pairs.extend(extra[..n].iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let t = table(&pairs);
            let m = t.lookup(b"/d/a.htm");
            assert!(!m.known, "{n} more entries");
            assert_eq!(m.value.map(HeaderValue::as_bytes), Some(OCTET_STREAM));
            assert_eq!(m.content_type, b"");
            assert_eq!(t.lookup(b"/d/c.x").content_type, b"text/x-default");
        }
        let t = table(&[(".txt", "text/plain"), ("", "")]);
        assert!(!t.lookup(b"/a.htm").known);
        assert!(t.lookup(b"/a.txt").known);
    }

    /// Fewer than 16 entries: first match in written order, any case (lighttpd 1.4.69).
    #[test]
    fn short_table_first_match_wins() {
        let t = table(&[
            (".gz", "a/gz"),
            (".tar.gz", "a/tgz"),
            ("", "a/default"),
            (".html", "t/html"),
        ]);
        assert_eq!(t.lookup(b"/x.tar.gz").content_type, b"a/gz");
        assert_eq!(t.lookup(b"/dir/index.html").content_type, b"a/default");
        assert_eq!(t.lookup(b"/UP.GZ").content_type, b"a/gz");
        let t = table(&[(".txt", "t/plain")]);
        let m = t.lookup(b"/noext");
        assert_eq!((m.content_type, m.known), (OCTET_STREAM, false));
    }

    /// 16 entries or more: longest suffix from the base name (lighttpd 1.4.69).
    #[test]
    fn long_table_longest_suffix_wins() {
        let mut pairs = vec![
            (".gz", "a/gz"),
            (".tar.gz", "a/tgz"),
            ("README", "t/readme"),
            (".c", "t/c"),
            (".b.c", "t/bc"),
            (".txt", "t/plain"),
        ];
        let extra: Vec<(String, String)> = (0..20)
            .map(|i| (format!(".e{i}"), format!("x/e{i}")))
            .collect();
        pairs.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let t = table(&pairs);
        assert_eq!(t.lookup(b"/x.tar.gz").content_type, b"a/tgz");
        assert_eq!(t.lookup(b"/y.gz").content_type, b"a/gz");
        assert_eq!(t.lookup(b"/d/README").content_type, b"t/readme");
        assert_eq!(t.lookup(b"/z.TXT").content_type, b"t/plain");
        assert_eq!(t.lookup(b"/w.a.b.c").content_type, b"t/bc");
        assert!(!t.lookup(b"/noext").known);
        // `/x.README`: `.README` is not a key, `README` is.
        assert_eq!(t.lookup(b"/x.README").content_type, b"t/readme");
        assert!(!t.lookup(b"/notREADME").known);
        // Exactly 16 entries already use the longest suffix.
        let sixteen: Vec<(String, String)> = (0..14)
            .map(|i| (format!(".f{i}"), format!("x/f{i}")))
            .collect();
        let mut pairs16 = vec![(".gz", "a/gz"), (".tar.gz", "a/tgz")];
        pairs16.extend(sixteen.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(table(&pairs16).lookup(b"/c.tar.gz").content_type, b"a/tgz");
        // Suffixes of 63 bytes and more (one length class, looked up off
        // the stack past 64), in any case.
        let long63 = format!(".{}", "L".repeat(62));
        let long70 = format!(".{}", "M".repeat(69));
        let mut long = pairs.clone();
        long.push((long63.as_str(), "x/l63"));
        long.push((long70.as_str(), "x/l70"));
        let t = table(&long);
        let path = |suffix: &str| format!("/d/f{}", suffix.to_ascii_lowercase());
        assert_eq!(t.lookup(path(&long63).as_bytes()).content_type, b"x/l63");
        assert_eq!(t.lookup(path(&long70).as_bytes()).content_type, b"x/l70");
        assert!(
            !t.lookup(path(&format!(".{}", "M".repeat(68))).as_bytes())
                .known
        );
    }

    /// The built-in table knows what a noVNC page needs.
    #[test]
    fn builtin_table_covers_web_types() {
        let t = MimeTable::builtin();
        assert_eq!(t.lookup(b"/vnc.html").content_type, b"text/html");
        assert_eq!(
            t.lookup(b"/app/ui.js").content_type,
            b"text/javascript;charset=utf-8"
        );
        assert_eq!(
            t.lookup(b"/app/styles/base.css").content_type,
            b"text/css;charset=utf-8"
        );
        assert_eq!(
            t.lookup(b"/app/images/icons/novnc.svg").content_type,
            b"image/svg+xml"
        );
        assert_eq!(
            t.lookup(b"/x.tar.gz").content_type,
            b"application/x-gtar-compressed"
        );
        assert!(t.lookup(b"/blob").known);
    }
}
