//! Every text the configuration was read from, and positions inside it.
//!
//! A [`SourceMap`] owns the bytes of the main file, of each included file and
//! of each `include_shell` output, in load order. A [`Span`] is a byte range in
//! one of them; the map turns it into `path:line:col` (1-based, column counted
//! in characters) and remembers which `include` statement pulled each source
//! in, so a diagnostic can show the include chain (lighttpd: `configfile.c`,
//! `config_parse_file`, `config_parse_cmd`).

use std::fmt;
use std::sync::Arc;

use bstr::ByteSlice;

/// Index of a source in its [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range `start..end` in one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The source the range is in.
    pub file: FileId,
    /// First byte.
    pub start: u32,
    /// One past the last byte (equal to `start` for an empty span).
    pub end: u32,
}

impl Span {
    /// A span in `file` covering `start..end`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span {
            file,
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }

    /// The smallest span covering `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// Where a source came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// The file named by `-f` (or `-` for standard input).
    Main,
    /// A file read by `include`.
    Include,
    /// The standard output of an `include_shell` command.
    Shell,
}

/// One text the configuration was read from.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as opened, or the command text of an `include_shell`.
    pub name: String,
    /// How it was read.
    pub kind: SourceKind,
    /// The raw bytes.
    pub text: Arc<[u8]>,
    /// The `include` / `include_shell` statement that read it.
    pub included_from: Option<Span>,
    line_starts: Vec<u32>,
}

impl SourceFile {
    fn new(name: String, kind: SourceKind, text: Arc<[u8]>, included_from: Option<Span>) -> Self {
        let mut line_starts = vec![0u32];
        let bytes = &text[..];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    i += 2;
                    line_starts.push(i as u32);
                }
                b'\r' | b'\n' => {
                    i += 1;
                    line_starts.push(i as u32);
                }
                _ => i += 1,
            }
        }
        SourceFile {
            name,
            kind,
            text,
            included_from,
            line_starts,
        }
    }

    /// 0-based line index of a byte offset.
    fn line_index(&self, offset: u32) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// Byte range of line `index` (0-based), without its line end.
    pub fn line_range(&self, index: usize) -> (usize, usize) {
        let start = self.line_starts.get(index).copied().unwrap_or(0) as usize;
        let end = self
            .line_starts
            .get(index + 1)
            .map(|&e| e as usize)
            .unwrap_or(self.text.len())
            .min(self.text.len());
        let start = start.min(end);
        let line = &self.text[start..end];
        let len = line
            .strip_suffix(b"\r\n")
            .or_else(|| line.strip_suffix(b"\n"))
            .or_else(|| line.strip_suffix(b"\r"))
            .unwrap_or(line)
            .len();
        (start, start + len)
    }

    /// The bytes of line `index` (0-based), without its line end.
    pub fn line_text(&self, index: usize) -> &[u8] {
        let (start, end) = self.line_range(index);
        &self.text[start..end]
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = offset.min(self.text.len() as u32);
        let line = self.line_index(offset);
        let start = self.line_starts[line] as usize;
        let before = &self.text[start..offset as usize];
        (line + 1, before.chars().count() + 1)
    }
}

/// All sources of one configuration load.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        SourceMap::default()
    }

    /// Adds a source and returns its id.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        kind: SourceKind,
        text: impl Into<Arc<[u8]>>,
        included_from: Option<Span>,
    ) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile::new(
            name.into(),
            kind,
            text.into(),
            included_from,
        ));
        id
    }

    /// The source with this id.
    ///
    /// Ids are only handed out by [`SourceMap::add`], so a missing id is a bug.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// The bytes a span covers (empty if the span is out of range).
    pub fn slice(&self, span: Span) -> &[u8] {
        let text = &self.get(span.file).text;
        let end = (span.end as usize).min(text.len());
        let start = (span.start as usize).min(end);
        &text[start..end]
    }

    /// `name:line:col` of the start of a span.
    pub fn location(&self, span: Span) -> Location<'_> {
        let file = self.get(span.file);
        let (line, col) = file.line_col(span.start);
        Location {
            name: &file.name,
            line,
            col,
        }
    }

    /// Number of sources.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when nothing was read yet.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// A printable `path:line:col`.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    /// Source name.
    pub name: &'a str,
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub col: usize,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.name, self.line, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// lighttpd counts `\n`, `\r\n` and a lone `\r` as one line end each.
    #[test]
    fn line_col_counts_every_line_end_style() {
        let mut map = SourceMap::new();
        let id = map.add("t.conf", SourceKind::Main, &b"a\r\nb\rc\nd"[..], None);
        let f = map.get(id);
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(5), (3, 1));
        assert_eq!(f.line_col(7), (4, 1));
        assert_eq!(f.line_text(0), b"a");
        assert_eq!(f.line_text(3), b"d");
    }

    /// Columns are characters, not bytes, so carets line up under UTF-8 text.
    #[test]
    fn column_counts_characters() {
        let mut map = SourceMap::new();
        let id = map.add("t.conf", SourceKind::Main, "é = x".as_bytes(), None);
        assert_eq!(map.get(id).line_col(5), (1, 5));
    }
}
