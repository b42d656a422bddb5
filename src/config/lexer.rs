//! Token-level parsers: blanks, comments, line ends, strings, integers, keys.
//!
//! lighttpd tokenises in `configfile.c` (`config_tokenizer`) and the grammar
//! in `configparser.y` pulls tokens one at a time. We parse the bytes
//! directly with nom: each function here recognises one terminal of
//! `grammar/lighttpd.ebnf` at the current position. Input is bytes, not
//! `str`: lighttpd passes any byte ≥ 0x80 through inside strings and comments.

use bstr::{BString, ByteSlice};
use nom::{IResult, Input as _};
use nom_locate::LocatedSpan;

use super::ast::Spanned;
use super::diag::Diagnostic;
use super::source::{FileId, Span};

/// Per-parse state shared by all parser functions through the input.
#[derive(Debug)]
pub struct ParseState {
    /// The source being parsed.
    pub file: FileId,
    /// Warnings found while parsing (errors end the parse instead).
    pub warnings: std::cell::RefCell<Vec<Diagnostic>>,
}

/// The parser input: bytes with their offset in the source.
pub type Input<'a> = LocatedSpan<&'a [u8], &'a ParseState>;

/// Result of a parser function.
pub type PResult<'a, T> = IResult<Input<'a>, T, SyntaxError>;

/// A syntax error: what was expected where (the diagnostic is boxed, so
/// parser results stay small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// First byte of the culprit.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
    /// What is wrong, without its place.
    pub diag: Diagnostic,
}

impl SyntaxError {
    /// An error covering `start..end`.
    pub fn new(start: usize, end: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            start,
            end,
            diag: Diagnostic::error(message),
        }
    }

    /// Sets the caret label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.diag = self.diag.label(label);
        self
    }

    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.diag = self.diag.help(help);
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: &'static str) -> Self {
        self.diag = self.diag.note(note);
        self
    }

    /// Records lighttpd's wording.
    pub fn lighttpd(mut self, text: &'static str) -> Self {
        self.diag = self.diag.lighttpd(text);
        self
    }

    /// A committed failure (no backtracking past it).
    pub fn fail<T>(self) -> Result<T, nom::Err<SyntaxError>> {
        Err(nom::Err::Failure(self))
    }

    /// The diagnostic for this error in `file`.
    pub fn into_diagnostic(self, file: FileId) -> Diagnostic {
        self.diag.at(Span::new(file, self.start, self.end))
    }
}

impl<'a> nom::error::ParseError<Input<'a>> for SyntaxError {
    fn from_error_kind(input: Input<'a>, _kind: nom::error::ErrorKind) -> Self {
        let at = input.location_offset();
        SyntaxError::new(at, at + 1, format!("unexpected {}", describe(&input)))
    }

    fn append(_input: Input<'a>, _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// Byte offset of the input in its source.
pub fn pos(i: &Input<'_>) -> usize {
    i.location_offset()
}

/// The next byte, if any.
pub fn peek(i: &Input<'_>) -> Option<u8> {
    i.fragment().first().copied()
}

/// The byte after the next one, if any.
pub fn peek2(i: &Input<'_>) -> Option<u8> {
    i.fragment().get(1).copied()
}

/// The input after `n` bytes.
pub fn skip(i: Input<'_>, n: usize) -> Input<'_> {
    i.take_from(n.min(i.fragment().len()))
}

/// A span in the current file.
pub fn span(i: &Input<'_>, start: usize, end: usize) -> Span {
    Span::new(i.extra.file, start, end)
}

/// Records a warning.
pub fn warn(i: &Input<'_>, d: Diagnostic) {
    i.extra.warnings.borrow_mut().push(d);
}

/// True for the bytes of a KEY: `[A-Za-z0-9._-]`.
pub fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// True for the bytes of a condition NAME: `[A-Za-z_]`.
pub fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// True if the input starts with U+00A0 NO-BREAK SPACE.
fn at_nbsp(i: &Input<'_>) -> bool {
    i.fragment().starts_with(b"\xC2\xA0")
}

/// Human description of what is at the input, for "found …" messages.
pub fn describe(i: &Input<'_>) -> String {
    let rest: &[u8] = i.fragment();
    match rest.first() {
        None => "end of file".into(),
        Some(b'\n' | b'\r') => "end of line".into(),
        Some(0) => "NUL byte".into(),
        Some(b'"') => "string".into(),
        Some(b) if b.is_ascii_digit() => "number".into(),
        Some(b) if is_key_byte(*b) => {
            let word: Vec<u8> = rest
                .iter()
                .copied()
                .take_while(|&c| is_key_byte(c))
                .collect();
            format!("`{}`", word.as_bstr())
        }
        Some(b) if b.is_ascii_graphic() || *b == b' ' => format!("`{}`", *b as char),
        Some(b) if b.is_ascii() => format!("control character 0x{b:02X}"),
        Some(_) => match rest.chars().next() {
            Some('\u{FFFD}') | None => format!("byte 0x{:02X}", rest[0]),
            Some(c) => format!("non-ASCII character `{c}`"),
        },
    }
}

/// Length in bytes of the character at the start of `rest` (at least 1).
pub fn char_len(rest: &[u8]) -> usize {
    match rest.first() {
        None => 0,
        Some(b) if b.is_ascii() => 1,
        Some(_) => {
            let (c, n) = bstr::decode_utf8(rest);
            if c.is_some() { n } else { 1 }
        }
    }
}

/// `blank = " " | TAB | NBSP` (NBSP only outside condition headers).
///
/// Production: `blank` (grammar/lighttpd.ebnf).
pub fn blanks(mut i: Input<'_>) -> Input<'_> {
    loop {
        match peek(&i) {
            Some(b' ' | b'\t') => i = skip(i, 1),
            _ if at_nbsp(&i) => i = skip(i, 2),
            _ => return i,
        }
    }
}

/// `comment = "#" { any byte but CR and LF }`.
///
/// Production: `comment` (grammar/lighttpd.ebnf).
pub fn comment(i: Input<'_>) -> Input<'_> {
    if peek(&i) != Some(b'#') {
        return i;
    }
    let n = i
        .fragment()
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(i.fragment().len());
    skip(i, n)
}

/// Skips blanks, comments and line ends: the whitespace inside `( )`, inside a
/// condition header and after an operator. Returns whether a line end was
/// crossed.
///
/// Production: `multiline-ws` (grammar/lighttpd.ebnf).
pub fn multiline_ws(mut i: Input<'_>) -> (Input<'_>, bool) {
    let mut newline = false;
    loop {
        i = comment(blanks(i));
        match peek(&i) {
            Some(b'\n' | b'\r') => {
                newline = true;
                i = skip(i, 1);
            }
            _ => return (i, newline),
        }
    }
}

/// Like [`multiline_ws`] for a condition header, where lighttpd refuses NBSP
/// (`invalid character in condition`).
///
/// Production: `cond-ws` (grammar/lighttpd.ebnf).
pub fn cond_ws(i: Input<'_>) -> PResult<'_, ()> {
    let mut i = i;
    loop {
        match peek(&i) {
            Some(b' ' | b'\t' | b'\n' | b'\r') => i = skip(i, 1),
            Some(b'#') => i = comment(i),
            _ if at_nbsp(&i) => {
                let at = pos(&i);
                return SyntaxError::new(at, at + 2, "no-break space inside a condition")
                    .label("U+00A0")
                    .help("replace it with an ordinary space")
                    .lighttpd("invalid character in condition")
                    .fail();
            }
            _ => return Ok((i, ())),
        }
    }
}

/// `STRING = '"' { byte | '\"' } '"'`: only `\"` is an escape (it stands for
/// `"`); every other backslash is kept.
///
/// Production: `STRING` (grammar/lighttpd.ebnf).
pub fn string(i: Input<'_>) -> PResult<'_, Spanned<BString>> {
    let start = pos(&i);
    let bytes = i.fragment();
    debug_assert_eq!(bytes.first(), Some(&b'"'));
    let mut value = Vec::new();
    let mut k = 1;
    while k < bytes.len() {
        match bytes[k] {
            b'\\' if bytes.get(k + 1) == Some(&b'"') => {
                value.push(b'"');
                k += 2;
            }
            b'"' => {
                let rest = skip(i, k + 1);
                let node = BString::from(value);
                return Ok((
                    rest,
                    Spanned {
                        node,
                        span: span(&i, start, start + k + 1),
                    },
                ));
            }
            0 => {
                return SyntaxError::new(start + k, start + k + 1, "NUL byte inside a string")
                    .label("NUL")
                    .help("remove the NUL byte; configuration files are text")
                    .lighttpd("missing closing quote")
                    .fail();
            }
            b => {
                value.push(b);
                k += 1;
            }
        }
    }
    let mut e = SyntaxError::new(start, start + 1, "missing closing quote")
        .label("this string is never closed");
    if value.ends_with(b"\\") || value.contains(&b'"') {
        e = e.help(
            "a backslash before `\"` makes it part of the string, so a string cannot end \
             with a backslash",
        );
    } else {
        e = e.help("add the closing `\"`");
    }
    e.fail()
}

/// `INTEGER = digit { digit }`, converted as lighttpd does: C `strtol` (so
/// more than 2^63-1 is an error), then stored in a 32-bit `int` (wrapping).
///
/// Production: `INTEGER` (grammar/lighttpd.ebnf).
pub fn integer(i: Input<'_>) -> PResult<'_, Spanned<i32>> {
    let start = pos(&i);
    let n = i
        .fragment()
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(i.fragment().len());
    let digits = &i.fragment()[..n];
    if let Some(&next) = i.fragment().get(n).filter(|b| is_key_byte(**b)) {
        let word_len = i.fragment()[n..]
            .iter()
            .position(|b| !is_key_byte(*b))
            .unwrap_or(i.fragment().len() - n);
        let _ = next;
        return SyntaxError::new(start, start + n + word_len, "invalid number")
            .label("a number is digits only, and a key cannot start with a digit")
            .help("write the value as a string if it is not a number")
            .fail();
    }
    let mut value: i64 = 0;
    for &d in digits {
        value = match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
        {
            Some(v) => v,
            None => {
                return SyntaxError::new(start, start + n, "number too large")
                    .label("larger than 9223372036854775807")
                    .help("lighttpd stores numbers as 32-bit integers; use a smaller value")
                    .lighttpd("error parsing number")
                    .fail();
            }
        };
    }
    Ok((
        skip(i, n),
        Spanned {
            // lighttpd stores the `long` in an `int`: two's-complement truncation.
            node: value as i32,
            span: span(&i, start, start + n),
        },
    ))
}

/// `KEY = ( letter | "." | "_" | "-" ) { letter | digit | "." | "_" | "-" }`.
///
/// lighttpd's tokenizer refuses a key that ends exactly at the end of the
/// input (it needs one more byte to see the key is over), so a file whose
/// last bytes are `x = name` fails; so does ours, with a clearer message.
///
/// Production: `KEY` (grammar/lighttpd.ebnf).
pub fn word(i: Input<'_>) -> PResult<'_, Spanned<&[u8]>> {
    let start = pos(&i);
    let n = i
        .fragment()
        .iter()
        .position(|b| !is_key_byte(*b))
        .unwrap_or(i.fragment().len());
    debug_assert!(n > 0);
    let text = &i.fragment()[..n];
    if n == i.fragment().len() {
        return SyntaxError::new(start, start + n, "file ends right after a bare word")
            .label("no newline after this")
            .help("end the file with a newline (lighttpd refuses a bare word at the very end)")
            .lighttpd("invalid character in variable name")
            .fail();
    }
    Ok((
        skip(i, n),
        Spanned {
            node: text,
            span: span(&i, start, start + n),
        },
    ))
}

/// `NAME = ( letter | "_" ) { letter | "_" }`, in a condition header.
///
/// Production: `NAME` (grammar/lighttpd.ebnf).
pub fn name(i: Input<'_>) -> PResult<'_, Spanned<BString>> {
    let start = pos(&i);
    let n = i
        .fragment()
        .iter()
        .position(|b| !is_name_byte(*b))
        .unwrap_or(i.fragment().len());
    if n == 0 {
        return SyntaxError::new(
            start,
            start + char_len(i.fragment()),
            "expected a condition name",
        )
        .label(format!("found {}", describe(&i)))
        .help("conditions look like $HTTP[\"host\"] == \"example.org\"")
        .lighttpd("invalid character in condition")
        .fail();
    }
    if n == i.fragment().len() {
        return SyntaxError::new(start, start + n, "file ends inside a condition")
            .lighttpd("invalid character in condition")
            .fail();
    }
    Ok((
        skip(i, n),
        Spanned {
            node: BString::from(&i.fragment()[..n]),
            span: span(&i, start, start + n),
        },
    ))
}

/// An error for an unexpected character where `what` was expected, with help
/// for the usual mistakes.
pub fn unexpected(i: &Input<'_>, what: &str) -> SyntaxError {
    let at = pos(i);
    let rest = i.fragment();
    let len = char_len(rest);
    let found = describe(i);
    let mut e = SyntaxError::new(at, at + len, format!("expected {what}, found {found}"));
    match rest.first() {
        Some(b';') => {
            e = e
                .label("`;` is not part of the language")
                .help("statements need no terminator: remove the `;`")
                .lighttpd("invalid character in variable name");
        }
        Some(b'\'') => {
            e = e
                .label("single quotes do not delimit strings")
                .help("use double quotes: \"…\"")
                .lighttpd("invalid character in variable name");
        }
        Some(0) => {
            e = e
                .help("remove the NUL byte; configuration files are text")
                .lighttpd("stray NUL");
        }
        Some(b) if !b.is_ascii() => {
            e = e
                .help("outside strings and comments only ASCII is allowed")
                .lighttpd("invalid character in variable name");
        }
        Some(b'!') => {
            e = e.lighttpd("unexpected exclamation-marks: !");
        }
        Some(b':') if peek2(i) != Some(b'=') => {
            e = e.lighttpd("unexpected character ':'");
        }
        Some(b')') => {
            e = e
                .label("no list is open here")
                .help("remove it, or check the `(` of the list it was meant to close")
                .lighttpd("close-parens seen open-parens");
        }
        Some(
            b'@' | b'%' | b'*' | b'/' | b'\\' | b'<' | b'>' | b'&' | b'?' | b'|' | b'~' | b'^'
            | b'`',
        ) => {
            e = e.lighttpd("invalid character in variable name");
        }
        None => {
            e = e.lighttpd("parser failed somehow near here: (EOL)");
        }
        _ => {}
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_input<T>(text: &[u8], f: impl FnOnce(Input<'_>) -> T) -> T {
        let state = ParseState {
            file: FileId(0),
            warnings: Default::default(),
        };
        f(LocatedSpan::new_extra(text, &state))
    }

    fn parse_string(text: &[u8]) -> Result<BString, SyntaxError> {
        with_input(text, |i| match string(i) {
            Ok((_, s)) => Ok(s.node),
            Err(nom::Err::Failure(e) | nom::Err::Error(e)) => Err(e),
            Err(nom::Err::Incomplete(_)) => unreachable!(),
        })
    }

    /// Only `\"` is an escape; `\n`, `\t`, `\\` stay as written.
    #[test]
    fn string_keeps_every_backslash_but_the_quote_escape() {
        assert_eq!(parse_string(br#""say \"hi\"" "#).unwrap(), r#"say "hi""#);
        assert_eq!(parse_string(br#""a\nb\\c" "#).unwrap(), r"a\nb\\c");
        assert_eq!(parse_string(br#""x\\"y" "#).unwrap(), r#"x\"y"#);
    }

    /// `"C:\temp\"` never ends: the last backslash escapes the quote.
    #[test]
    fn string_cannot_end_with_backslash() {
        let e = parse_string(b"\"C:\\temp\\\"\nnext = 1\n").unwrap_err();
        assert_eq!(e.diag.message, "missing closing quote");
        assert_eq!((e.start, e.end), (0, 1));
    }

    /// A NUL inside a string is refused (lighttpd: missing closing quote).
    #[test]
    fn string_with_nul_is_an_error() {
        let e = parse_string(b"\"a\0b\"").unwrap_err();
        assert_eq!(e.start, 2);
    }

    fn parse_int(text: &[u8]) -> Result<i32, SyntaxError> {
        with_input(text, |i| match integer(i) {
            Ok((_, n)) => Ok(n.node),
            Err(nom::Err::Failure(e) | nom::Err::Error(e)) => Err(e),
            Err(nom::Err::Incomplete(_)) => unreachable!(),
        })
    }

    /// Integers wrap at 32 bits after a 64-bit strtol, as in lighttpd.
    #[test]
    fn integers_wrap_like_lighttpd() {
        assert_eq!(parse_int(b"007 ").unwrap(), 7);
        assert_eq!(parse_int(b"2147483648 ").unwrap(), -2147483648);
        assert_eq!(parse_int(b"4294967297 ").unwrap(), 1);
        assert_eq!(parse_int(b"9223372036854775807 ").unwrap(), -1);
        assert!(parse_int(b"9223372036854775808 ").is_err());
        assert!(parse_int(b"99999999999999999999 ").is_err());
    }

    /// `9x` is not a number followed by a key (lighttpd 1.4.69 silently drops the 9).
    #[test]
    fn number_glued_to_letters_is_an_error() {
        assert_eq!(
            parse_int(b"9x = 1\n").unwrap_err().diag.message,
            "invalid number"
        );
    }

    /// A bare word at the very end of the input is refused, as lighttpd does.
    #[test]
    fn word_at_end_of_input_is_an_error() {
        let r = with_input(b"name", |i| word(i).is_err());
        assert!(r);
        let r = with_input(b"name\n", |i| word(i).map(|(_, w)| w.node.to_vec()).ok());
        assert_eq!(r.as_deref(), Some(&b"name"[..]));
    }
}
