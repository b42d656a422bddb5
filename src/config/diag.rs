//! Configuration diagnostics and their rendering.
//!
//! A [`Diagnostic`] is an error (the configuration is refused, exit status
//! 255 as lighttpd) or a warning (lighttpd logs it and carries on; so do
//! we). Rendered, it reads:
//!
//! ```text
//! error: expected `=>` after array key
//!   --> conf.d/proxy.conf:8:10
//!    |
//!  8 |   "/api" = ( "host" => "127.0.0.1" )
//!    |          ^ found `=`
//!    = help: inside ( ) key and value are joined with `=>`
//!    = note: lighttpd 1.4.69: use => for assignments in arrays
//!    = note: conf.d/proxy.conf is included from lighttpd.conf:41:1
//! ```
//!
//! The `lighttpd 1.4.69:` note carries lighttpd's own wording of the same
//! problem where it differs from ours, so that people migrating can match the
//! two (and the compat corpus can check we refuse for the same reason).

use std::fmt::Write as _;

use bstr::ByteSlice;

use super::source::{SourceKind, SourceMap, Span};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The configuration is refused.
    Error,
    /// Logged; loading continues.
    Warning,
}

/// One problem found in a configuration (boxed: results that carry one
/// stay small on the success path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic(Box<DiagnosticData>);

/// The parts of a [`Diagnostic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosticData {
    /// Error or warning.
    pub severity: Severity,
    /// Short lowercase phrase saying what is wrong.
    pub message: String,
    /// Where, if the problem has a place in a source.
    pub span: Option<Span>,
    /// Text printed after the caret.
    pub label: Option<String>,
    /// What to change.
    pub help: Vec<String>,
    /// Context.
    pub notes: Vec<String>,
    /// lighttpd 1.4.69's wording of the same problem, when it differs.
    pub lighttpd: Option<String>,
}

impl std::ops::Deref for Diagnostic {
    type Target = DiagnosticData;
    fn deref(&self) -> &DiagnosticData {
        &self.0
    }
}

impl Diagnostic {
    /// A new error with a message.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic(Box::new(DiagnosticData {
            severity: Severity::Error,
            message: message.into(),
            span: None,
            label: None,
            help: Vec::new(),
            notes: Vec::new(),
            lighttpd: None,
        }))
    }

    /// A new warning with a message.
    pub fn warning(message: impl Into<String>) -> Self {
        let mut d = Diagnostic::error(message);
        d.0.severity = Severity::Warning;
        d
    }

    /// Sets the place.
    pub fn at(mut self, span: Span) -> Self {
        self.0.span = Some(span);
        self
    }

    /// Sets the place when there is one.
    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        self.0.span = span;
        self
    }

    /// Sets the caret label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.0.label = Some(label.into());
        self
    }

    /// Adds a `help:` line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.0.help.push(help.into());
        self
    }

    /// Adds a `note:` line.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.0.notes.push(note.into());
        self
    }

    /// Records lighttpd's wording.
    pub fn lighttpd(mut self, text: impl Into<String>) -> Self {
        self.0.lighttpd = Some(text.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic as text (ANSI colours when `color`).
    pub fn render(&self, sources: &SourceMap, color: bool) -> String {
        let paint = |code: &str, text: &str| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_string()
            }
        };
        let (word, code) = match self.severity {
            Severity::Error => ("error", "1;31"),
            Severity::Warning => ("warning", "1;33"),
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}{}",
            paint(code, word),
            paint("1", &format!(": {}", self.message))
        );
        let mut gutter = 2;
        if let Some(span) = self.span.filter(|s| (s.file.0 as usize) < sources.len()) {
            let file = sources.get(span.file);
            let (line, _) = file.line_col(span.start);
            let number = line.to_string();
            gutter = number.len() + 1;
            let pad = " ".repeat(gutter);
            let _ = writeln!(
                out,
                "{}{} {}",
                " ".repeat(gutter - 1),
                paint("1;34", "-->"),
                sources.location(span)
            );
            let _ = writeln!(out, "{pad}{}", paint("1;34", "|"));
            let (line_start, line_end) = file.line_range(line - 1);
            let text = &file.text[line_start..line_end];
            let from = (span.start as usize).clamp(line_start, line_end);
            let to = (span.end as usize).clamp(from, line_end);
            let _ = writeln!(
                out,
                "{}{}{}",
                paint("1;34", &format!("{number:>w$} ", w = gutter - 1)),
                paint("1;34", "| "),
                expand_tabs(&text.to_str_lossy())
            );
            let caret_start = display_width(&file.text[line_start..from]);
            let width = display_width(&file.text[from..to]).max(1);
            let mut caret_line = format!("{}{}", " ".repeat(caret_start), "^".repeat(width));
            if let Some(label) = &self.label {
                caret_line.push(' ');
                caret_line.push_str(label);
            }
            let _ = writeln!(
                out,
                "{pad}{}{}",
                paint("1;34", "| "),
                paint(code, &caret_line)
            );
        }
        let pad = " ".repeat(gutter);
        for help in &self.help {
            let _ = writeln!(out, "{pad}{} help: {help}", paint("1;34", "="));
        }
        for note in &self.notes {
            let _ = writeln!(out, "{pad}{} note: {note}", paint("1;34", "="));
        }
        if let Some(text) = &self.lighttpd {
            let _ = writeln!(
                out,
                "{pad}{} note: lighttpd 1.4.69: {text}",
                paint("1;34", "=")
            );
        }
        if let Some(span) = self.span.filter(|s| (s.file.0 as usize) < sources.len()) {
            let mut current = span.file;
            let mut depth = 0;
            while let Some(from) = sources.get(current).included_from {
                let file = sources.get(current);
                let what = match file.kind {
                    SourceKind::Shell => format!("the output of `{}`", file.name),
                    _ => file.name.clone(),
                };
                let verb = match file.kind {
                    SourceKind::Shell => "is read by include_shell at",
                    _ => "is included from",
                };
                let _ = writeln!(
                    out,
                    "{pad}{} note: {what} {verb} {}",
                    paint("1;34", "="),
                    sources.location(from)
                );
                current = from.file;
                depth += 1;
                if depth > 64 {
                    break;
                }
            }
        }
        out
    }
}

fn expand_tabs(s: &str) -> String {
    s.replace('\t', "    ")
}

fn display_width(bytes: &[u8]) -> usize {
    bytes
        .chars()
        .map(|c| match c {
            '\t' => 4,
            '\r' | '\n' => 0,
            _ => 1,
        })
        .sum()
}

/// Renders every diagnostic, in order, separated by blank lines.
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.render(sources, color));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::{FileId, SourceKind};

    fn map_with(text: &str) -> (SourceMap, FileId) {
        let mut m = SourceMap::new();
        let id = m.add("x.conf", SourceKind::Main, text.as_bytes(), None);
        (m, id)
    }

    /// The header carries path:line:col and the caret sits under the culprit.
    #[test]
    fn renders_location_line_and_caret() {
        let (m, id) = map_with("a = 1\nserver.port = 80;\n");
        let d = Diagnostic::error("unexpected character `;`")
            .at(Span::new(id, 22, 23))
            .label("here")
            .help("remove it");
        let text = d.render(&m, false);
        assert_eq!(
            text,
            "error: unexpected character `;`\n --> x.conf:2:17\n  |\n2 | server.port = 80;\n  |                 ^ here\n  = help: remove it\n"
        );
    }

    /// A tab before the culprit is expanded the same way in line and caret.
    #[test]
    fn caret_accounts_for_tabs() {
        let (m, id) = map_with("\tx = ;\n");
        let d = Diagnostic::error("e").at(Span::new(id, 5, 6));
        let text = d.render(&m, false);
        assert!(text.contains("1 |     x = ;\n  |         ^\n"), "{text}");
    }

    /// An include chain is listed innermost first.
    #[test]
    fn include_chain_is_noted() {
        let mut m = SourceMap::new();
        let main = m.add(
            "main.conf",
            SourceKind::Main,
            &b"include \"a.conf\"\n"[..],
            None,
        );
        let inc = m.add(
            "a.conf",
            SourceKind::Include,
            &b"x = ;\n"[..],
            Some(Span::new(main, 0, 16)),
        );
        let text = Diagnostic::error("e")
            .at(Span::new(inc, 4, 5))
            .render(&m, false);
        assert!(
            text.contains("= note: a.conf is included from main.conf:1:1"),
            "{text}"
        );
    }
}
