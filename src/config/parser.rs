//! Grammar-level parsers: one function per production of
//! `grammar/lighttpd.ebnf`, building the syntax tree of [`super::ast`].
//!
//! lighttpd 1.4.69's Lemon grammar (`configparser.y`) silently discards any
//! token it cannot use (spec §4). We accept the layouts real configurations
//! rely on — a line break after `=`, `:=`, `+=`, `+`, `else`, inside a
//! condition header and before a block's `{` — and refuse everything else
//! with a located error. `grammar/NOTES.md` lists each difference.

use bstr::{BString, ByteSlice};

use super::ast::*;
use super::diag::Diagnostic;
use super::lexer::*;
use super::source::{FileId, Span};

/// Note for inputs lighttpd 1.4.69 accepts by dropping tokens.
const SILENT: &str = "lighttpd 1.4.69 silently drops what it cannot use here; wick refuses it \
                      (see DIFFERENCES in wick.conf(5))";

/// Parses one source into its syntax tree, plus the warnings met on the way.
pub fn parse(text: &[u8], file: FileId) -> Result<(File, Vec<Diagnostic>), Diagnostic> {
    let state = ParseState {
        file,
        warnings: Default::default(),
    };
    let input = Input::new_extra(text, &state);
    let result = statements(input, None);
    let warnings = state.warnings.take();
    match result {
        Ok((_, statements)) => Ok((File { statements }, warnings)),
        Err(nom::Err::Failure(e) | nom::Err::Error(e)) => Err(e.into_diagnostic(file)),
        Err(nom::Err::Incomplete(_)) => Err(Diagnostic::error("unexpected end of input")),
    }
}

/// `{ separator | statement }`, up to the end of the input or, inside a
/// block, up to (not including) its `}`.
///
/// Statements need no separator (`a = 1 b = 2` is two statements, as in
/// lighttpd); line ends, comments and — with a warning — stray commas
/// between statements are skipped.
///
/// Production: `statements` (grammar/lighttpd.ebnf).
fn statements(mut i: Input<'_>, open: Option<Span>) -> PResult<'_, Vec<Statement>> {
    let mut out = Vec::new();
    let mut after_value = false;
    loop {
        let (j, newline) = statement_separators(i);
        i = j;
        match peek(&i) {
            None => {
                return match open {
                    None => Ok((i, out)),
                    Some(open) => SyntaxError::new(
                        open.start as usize,
                        open.end as usize,
                        "block is never closed",
                    )
                    .label("this `{` has no matching `}`")
                    .help(
                        "add the missing `}`; every block must be closed in the file that opens it",
                    )
                    .lighttpd("parser failed somehow near here: (EOL)")
                    .fail(),
                };
            }
            Some(b'}') if open.is_some() => return Ok((i, out)),
            Some(b'}') => {
                let at = pos(&i);
                return SyntaxError::new(at, at + 1, "unexpected `}`")
                    .label("no block is open here")
                    .help("remove it, or check the `{` of the block it was meant to close")
                    .note(SILENT)
                    .fail();
            }
            Some(b'"' | b'(' | b'0'..=b'9') if after_value && !newline => {
                let at = pos(&i);
                return SyntaxError::new(at, at + 1, "unexpected value after a complete statement")
                    .label("this starts a second value")
                    .help("join values with `+`; inside ( ) separate list items with `,`")
                    .note("lighttpd 1.4.69 silently drops the second value; lighttpd 1.4.74 refuses it too")
                    .fail();
            }
            Some(_) => {
                let (j, statement) = statement(i)?;
                after_value = matches!(statement, Statement::Assign(_) | Statement::Include(_));
                out.push(statement);
                i = j;
            }
        }
    }
}

/// Skips blanks, comments, line ends and stray commas between statements
/// (lighttpd's tokenizer drops a `,` outside parentheses; we warn).
///
/// Production: `statement-separators` (grammar/lighttpd.ebnf).
fn statement_separators(mut i: Input<'_>) -> (Input<'_>, bool) {
    let mut newline = false;
    loop {
        let (j, nl) = multiline_ws(i);
        newline |= nl;
        i = j;
        if peek(&i) == Some(b',') {
            let at = pos(&i);
            warn(
                &i,
                Diagnostic::warning("stray `,` outside a list (ignored)")
                    .at(span(&i, at, at + 1))
                    .help("remove it: commas only separate the items of a ( ) list"),
            );
            i = skip(i, 1);
        } else {
            return (i, newline);
        }
    }
}

/// `statement = assignment | chain | global-block | include | include_shell`.
///
/// Production: `statement` (grammar/lighttpd.ebnf).
fn statement(i: Input<'_>) -> PResult<'_, Statement> {
    match peek(&i) {
        Some(b'$') => chain(i),
        Some(b) if is_key_byte(b) && !b.is_ascii_digit() => {
            let (rest, w) = word(i)?;
            match w.node {
                b"include" => include(rest, IncludeKind::File, w.span),
                b"include_shell" => include(rest, IncludeKind::Shell, w.span),
                b"global" => global_block(rest, w.span),
                b"else" => else_without_block(w.span),
                b"elif" | b"elsif" | b"elseif" if followed_by_condition(rest) => {
                    else_without_block(w.span)
                }
                b"if" if followed_by_condition(rest) => {
                    let (rest, ()) = cond_ws(rest)?;
                    chain(rest)
                }
                _ => assignment(rest, w.node, w.span),
            }
        }
        Some(b'0'..=b'9') => {
            let at = pos(&i);
            let n = i
                .fragment()
                .iter()
                .position(|b| !is_key_byte(*b))
                .unwrap_or(i.fragment().len());
            SyntaxError::new(at, at + n, "a statement cannot start with a number")
                .label("keys start with a letter, `.`, `_` or `-`")
                .note(SILENT)
                .fail()
        }
        Some(b'"') => {
            let at = pos(&i);
            SyntaxError::new(at, at + 1, "expected a statement, found a string")
                .label("a value without a key")
                .help("a statement is `key = value`, a condition block, `include` or `global { }`")
                .fail()
        }
        Some(b'+') => {
            let at = pos(&i);
            SyntaxError::new(at, at + 1, "`+` at the start of a statement")
                .label("this does not continue the previous line")
                .help("to continue an expression on the next line, end the previous line with `+`")
                .note(SILENT)
                .fail()
        }
        _ => unexpected(&i, "a statement").fail(),
    }
}

fn else_without_block<T>(keyword: Span) -> Result<T, nom::Err<SyntaxError>> {
    SyntaxError::new(
        keyword.start as usize,
        keyword.end as usize,
        "`else` without a condition block before it",
    )
    .label("nothing to continue")
    .help("`else` must follow the `}` of a condition block, in the same file")
    .note(SILENT)
    .fail()
}

/// True when, after blanks and line ends, a `$` follows.
fn followed_by_condition(i: Input<'_>) -> bool {
    let (j, _) = multiline_ws(i);
    peek(&j) == Some(b'$')
}

/// `assignment = KEY ( "=" | ":=" | "+=" ) expression`.
///
/// Production: `assignment` (grammar/lighttpd.ebnf).
fn assignment<'a>(i: Input<'a>, key: &[u8], key_span: Span) -> PResult<'a, Statement> {
    let i = blanks(i);
    let at = pos(&i);
    let (op, len) = match (peek(&i), peek2(&i)) {
        (Some(b'='), Some(b'=')) => {
            return SyntaxError::new(at, at + 2, "`==` in an assignment")
                .label("`==` compares, in conditions")
                .help("assign with `=`")
                .fail();
        }
        (Some(b'='), Some(b'>')) => {
            return SyntaxError::new(at, at + 2, "`=>` outside a list")
                .help("`key => value` pairs belong inside ( )")
                .fail();
        }
        (Some(b'='), _) => (AssignOp::Set, 1),
        (Some(b':'), Some(b'=')) => (AssignOp::Force, 2),
        (Some(b'+'), Some(b'=')) => (AssignOp::Append, 2),
        _ => {
            let mut e = unexpected(&i, "`=`, `:=` or `+=`")
                .label(format!("after the key `{}`", key.as_bstr()))
                .note("lighttpd 1.4.69 silently drops what it cannot use here; lighttpd 1.4.77 refuses it too");
            if matches!(peek(&i), Some(b'\n' | b'\r')) {
                e = e.help("the operator must be on the same line as the key");
            }
            return e.fail();
        }
    };
    let op = Spanned {
        node: op,
        span: span(&i, at, at + len),
    };
    let (i, _) = multiline_ws(skip(i, len));
    let (i, value) = expression(i, Context::Statement)?;
    Ok((
        i,
        Statement::Assign(Assignment {
            key: Spanned {
                node: BString::from(key),
                span: key_span,
            },
            op,
            value,
        }),
    ))
}

/// `include = "include" expression`, `include_shell = "include_shell" expression`.
///
/// Production: `include` (grammar/lighttpd.ebnf).
fn include(i: Input<'_>, kind: IncludeKind, keyword: Span) -> PResult<'_, Statement> {
    let i = blanks(i);
    if matches!(peek(&i), None | Some(b'\n' | b'\r' | b'#')) {
        let what = match kind {
            IncludeKind::File => "a file name after `include`",
            IncludeKind::Shell => "a command after `include_shell`",
        };
        return unexpected(&i, what)
            .help("the argument must be on the same line, e.g. include \"conf.d/*.conf\"")
            .fail();
    }
    let (i, expr) = expression(i, Context::Statement)?;
    Ok((
        i,
        Statement::Include(Include {
            kind,
            keyword,
            expr,
        }),
    ))
}

/// `global-block = "global" "{" { statement } "}"`.
///
/// Production: `global-block` (grammar/lighttpd.ebnf).
fn global_block(i: Input<'_>, keyword: Span) -> PResult<'_, Statement> {
    let (i, _) = multiline_ws(i);
    if peek(&i) != Some(b'{') {
        return unexpected(&i, "`{` after `global`")
            .help("`global` is a keyword: `global { … }` runs its statements at the top level")
            .fail();
    }
    let (i, (body, _open)) = braced_body(i)?;
    Ok((i, Statement::Global(GlobalBlock { keyword, body })))
}

/// `"{" { statement } "}"`; the input starts at `{`.
///
/// Production: `braced-body` (grammar/lighttpd.ebnf).
fn braced_body(i: Input<'_>) -> PResult<'_, (Vec<Statement>, Span)> {
    let at = pos(&i);
    let open = span(&i, at, at + 1);
    let (i, body) = statements(skip(i, 1), Some(open))?;
    // `statements` stops only at EOF (an error inside a block) or at `}`.
    Ok((skip(i, 1), (body, open)))
}

/// `chain = cond-block { [ EOL ] else-branch }`.
///
/// Production: `chain` (grammar/lighttpd.ebnf).
fn chain(i: Input<'_>) -> PResult<'_, Statement> {
    let (mut i, head) = cond_block(i)?;
    let mut branches: Vec<ElseBranch> = Vec::new();
    while let Some((j, keyword, spelled_if)) = else_keyword(i)? {
        if let Some(ElseBranch {
            kind: ElseKind::Plain { .. },
            ..
        }) = branches.last()
        {
            return SyntaxError::new(
                keyword.start as usize,
                keyword.end as usize,
                "unreachable branch after a plain `else`",
            )
            .label("a plain `else { }` already catches everything")
            .help("remove this branch or move it before the plain `else`")
            .lighttpd("unreachable condition following else catch-all")
            .fail();
        }
        let (j, _) = multiline_ws(j);
        let j = match word_at(&j) {
            Some(b"if") if followed_by_condition(skip(j, 2)) => multiline_ws(skip(j, 2)).0,
            _ => j,
        };
        match peek(&j) {
            Some(b'$') => {
                let (j, block) = cond_block(j)?;
                branches.push(ElseBranch {
                    keyword,
                    kind: ElseKind::If(block),
                });
                i = j;
            }
            Some(b'{') if !spelled_if => {
                let (j, (body, open)) = braced_body(j)?;
                branches.push(ElseBranch {
                    keyword,
                    kind: ElseKind::Plain { body, open },
                });
                i = j;
            }
            _ => {
                return unexpected(&j, "a condition or `{` after `else`")
                    .help("write `else { … }` or `else $HTTP[\"host\"] == \"…\" { … }`")
                    .fail();
            }
        }
    }
    Ok((i, Statement::Chain(Chain { head, branches })))
}

/// The word at the input, if one starts there (without the end-of-input check).
fn word_at<'a>(i: &Input<'a>) -> Option<&'a [u8]> {
    let frag: &'a [u8] = i.fragment();
    let n = frag
        .iter()
        .position(|b| !is_key_byte(*b))
        .unwrap_or(frag.len());
    (n > 0).then(|| &frag[..n])
}

/// After a block's `}`: an `else` keyword, possibly after line ends and
/// comments. Returns the input after the keyword, its span, and whether it
/// was one of the else-if spellings (`elif`, `elsif`, `elseif`) of lighttpd
/// 1.4.74+, which must be followed by a condition.
///
/// Production: `else-keyword` (grammar/lighttpd.ebnf).
fn else_keyword(i: Input<'_>) -> Result<Option<(Input<'_>, Span, bool)>, nom::Err<SyntaxError>> {
    let (j, _) = multiline_ws(i);
    let Some(w) = word_at(&j) else {
        return Ok(None);
    };
    let at = pos(&j);
    let rest = skip(j, w.len());
    let spelled_if = match w {
        b"else" => false,
        b"elif" | b"elsif" | b"elseif" if followed_by_condition(rest) => true,
        _ => return Ok(None),
    };
    if rest.fragment().is_empty() {
        // `else` as the very last bytes: let the statement parser report it.
        return Ok(None);
    }
    Ok(Some((rest, span(&j, at, at + w.len()), spelled_if)))
}

/// `cond-block = condition "{" { statement } "}"`.
///
/// Production: `cond-block` (grammar/lighttpd.ebnf).
fn cond_block(i: Input<'_>) -> PResult<'_, CondBlock> {
    let (i, cond) = condition(i)?;
    let (i, ()) = cond_ws(i)?;
    if peek(&i) != Some(b'{') {
        let mut e = unexpected(&i, "`{` after the condition");
        if peek(&i) == Some(b'+') {
            e = e.help("a condition value is one expression; check the `+`");
        }
        return e.fail();
    }
    let (i, (body, open)) = braced_body(i)?;
    Ok((i, CondBlock { cond, body, open }))
}

/// `condition = "$" NAME "[" field "]" cond-op expression`.
///
/// Production: `condition` (grammar/lighttpd.ebnf).
fn condition(i: Input<'_>) -> PResult<'_, Condition> {
    let start = pos(&i);
    let (i, ()) = cond_ws(skip(i, 1))?;
    let (i, name) = name(i)?;
    let (i, ()) = cond_ws(i)?;
    if peek(&i) != Some(b'[') {
        return unexpected(&i, &format!("`[` after `${}`", name.node))
            .help("conditions look like $HTTP[\"host\"] == \"example.org\"")
            .lighttpd("invalid character in condition")
            .fail();
    }
    let (i, ()) = cond_ws(skip(i, 1))?;
    let field_start = pos(&i);
    let (i, field) = cond_field(i)?;
    let field_end = field.last().map_or(field_start, |s| s.span.end as usize);
    let (i, ()) = cond_ws(i)?;
    if peek(&i) != Some(b']') {
        return unexpected(&i, "`]` after the field name")
            .lighttpd("invalid character in condition")
            .fail();
    }
    let (i, ()) = cond_ws(skip(i, 1))?;
    let (i, op) = cond_op(i)?;
    let (i, _) = multiline_ws(i);
    let (i, value) = expression(i, Context::CondValue)?;
    let end = value.span.end as usize;
    Ok((
        i,
        Condition {
            name,
            field,
            field_span: span(&i, field_start, field_end),
            op,
            value,
            span: span(&i, start, end),
        },
    ))
}

/// `field = STRING { "+" STRING }` (in a condition header only strings can
/// appear: letters would be a NAME, digits are refused).
///
/// Production: `cond-field` (grammar/lighttpd.ebnf).
fn cond_field(i: Input<'_>) -> PResult<'_, Vec<Spanned<BString>>> {
    let mut parts = Vec::new();
    let mut i = i;
    loop {
        if peek(&i) != Some(b'"') {
            return unexpected(&i, "the field name as a string")
                .help("write the field in double quotes: $HTTP[\"host\"], $REQUEST_HEADER[\"X-Name\"]")
                .lighttpd("invalid character in condition")
                .fail();
        }
        let (j, s) = string(i)?;
        parts.push(s);
        let (k, ()) = cond_ws(j)?;
        if peek(&k) == Some(b'+') {
            let (k, ()) = cond_ws(skip(k, 1))?;
            i = k;
        } else {
            return Ok((j, parts));
        }
    }
}

/// `cond-op = "==" | "!=" | "=~" | "!~" | "=^" | "=$"`.
///
/// Production: `cond-op` (grammar/lighttpd.ebnf).
fn cond_op(i: Input<'_>) -> PResult<'_, Spanned<CondOp>> {
    let at = pos(&i);
    let op = match (peek(&i), peek2(&i)) {
        (Some(b'='), Some(b'=')) => CondOp::Eq,
        (Some(b'='), Some(b'~')) => CondOp::Match,
        (Some(b'='), Some(b'^')) => CondOp::Prefix,
        (Some(b'='), Some(b'$')) => CondOp::Suffix,
        (Some(b'!'), Some(b'=')) => CondOp::Ne,
        (Some(b'!'), Some(b'~')) => CondOp::NoMatch,
        (Some(b'='), _) => {
            return SyntaxError::new(at, at + 1, "`=` is not a condition operator")
                .label("did you mean `==`?")
                .help("condition operators are ==, !=, =~, !~, =^ and =$")
                .lighttpd("only == =~ =^ =$ are allowed in the condition")
                .fail();
        }
        (Some(b'!'), _) => {
            return SyntaxError::new(at, at + 1, "`!` must be followed by `=` or `~`")
                .help("condition operators are ==, !=, =~, !~, =^ and =$")
                .lighttpd("only !~ and != are allowed in the condition")
                .fail();
        }
        _ => {
            return unexpected(&i, "a condition operator")
                .help("condition operators are ==, !=, =~, !~, =^ and =$")
                .lighttpd("invalid character in condition")
                .fail();
        }
    };
    Ok((
        skip(i, 2),
        Spanned {
            node: op,
            span: span(&i, at, at + 2),
        },
    ))
}

/// Where an expression stands, which decides whether a line end may come
/// before a `+`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// Right side of an assignment or include: a line end ends it.
    Statement,
    /// Inside `( )`: line ends are blanks.
    Nested,
    /// A condition value: it runs to the `{`.
    CondValue,
}

/// `expression = operand { "+" operand }`.
///
/// Production: `expression / expression-multiline` (grammar/lighttpd.ebnf).
fn expression(i: Input<'_>, ctx: Context) -> PResult<'_, Expr> {
    let start = pos(&i);
    let (mut i, first) = operand(i, ctx)?;
    let mut operands = vec![first];
    loop {
        let j = match ctx {
            Context::Statement => blanks(i),
            Context::Nested | Context::CondValue => multiline_ws(i).0,
        };
        if peek(&j) == Some(b'+') && peek2(&j) != Some(b'=') {
            let (j, _) = multiline_ws(skip(j, 1));
            let (j, next) = operand(j, ctx)?;
            operands.push(next);
            i = j;
        } else {
            break;
        }
    }
    let end = operands.last().map_or(start, |o| o.span().end as usize);
    Ok((
        i,
        Expr {
            operands,
            span: span(&i, start, end),
        },
    ))
}

/// `operand = KEY | STRING | INTEGER | list`.
///
/// Production: `operand` (grammar/lighttpd.ebnf).
fn operand(i: Input<'_>, ctx: Context) -> PResult<'_, Operand> {
    match peek(&i) {
        Some(b'"') => {
            let (i, s) = string(i)?;
            Ok((i, Operand::Str(s)))
        }
        Some(b'0'..=b'9') => {
            let (i, n) = integer(i)?;
            Ok((i, Operand::Int(n)))
        }
        Some(b'(') => {
            let (i, l) = list(i)?;
            Ok((i, Operand::List(l)))
        }
        Some(b) if is_key_byte(b) => {
            let (rest, w) = word(i)?;
            if matches!(w.node, b"include" | b"include_shell" | b"global" | b"else") {
                return SyntaxError::new(
                    w.span.start as usize,
                    w.span.end as usize,
                    format!("keyword `{}` used as a value", w.node.as_bstr()),
                )
                .help("keywords cannot name variables; use a string or another variable")
                .fail();
            }
            Ok((
                rest,
                Operand::Var(Spanned {
                    node: BString::from(w.node),
                    span: w.span,
                }),
            ))
        }
        _ => {
            let what = match ctx {
                Context::Nested => "a value in the list",
                _ => "a value (string, number, variable or list)",
            };
            let mut e = unexpected(&i, what);
            if peek(&i).is_none()
                || ctx == Context::Statement && matches!(peek(&i), Some(b'\n' | b'\r'))
            {
                e = e.lighttpd("parser failed somehow near here: (EOL)");
            }
            e.fail()
        }
    }
}

/// `list = "(" [ element { "," [ element ] } ] ")"`.
///
/// Production: `list` (grammar/lighttpd.ebnf).
fn list(i: Input<'_>) -> PResult<'_, List> {
    let start = pos(&i);
    let (mut i, _) = multiline_ws(skip(i, 1));
    let mut elements = Vec::new();
    if peek(&i) == Some(b',') {
        let at = pos(&i);
        return SyntaxError::new(at, at + 1, "a list cannot start with `,`")
            .help("remove the leading comma")
            .note(SILENT)
            .fail();
    }
    loop {
        match peek(&i) {
            Some(b')') => {
                let end = pos(&i) + 1;
                return Ok((
                    skip(i, 1),
                    List {
                        elements,
                        span: span(&i, start, end),
                    },
                ));
            }
            None => {
                return SyntaxError::new(start, start + 1, "list is never closed")
                    .label("this `(` has no matching `)`")
                    .lighttpd("parser failed somehow near here: (EOL)")
                    .fail();
            }
            _ => {}
        }
        let (j, element) = element(i)?;
        elements.push(element);
        let (j, _) = multiline_ws(j);
        match peek(&j) {
            Some(b',') => {
                let (mut k, _) = multiline_ws(skip(j, 1));
                // Doubled commas are allowed (`("x",, "y")`), as in lighttpd.
                while peek(&k) == Some(b',') {
                    k = multiline_ws(skip(k, 1)).0;
                }
                i = k;
            }
            Some(b')') => i = j,
            Some(b'=') => {
                let at = pos(&j);
                return SyntaxError::new(at, at + 1, "`=` inside a list")
                    .label("expected `=>`")
                    .help("inside ( ) key and value are joined with `=>`")
                    .lighttpd("use => for assignments in arrays")
                    .fail();
            }
            None => {
                return SyntaxError::new(start, start + 1, "list is never closed")
                    .label("this `(` has no matching `)`")
                    .lighttpd("parser failed somehow near here: (EOL)")
                    .fail();
            }
            _ => {
                return unexpected(&j, "`,` or `)` after a list item")
                    .help("separate list items with `,`")
                    .fail();
            }
        }
    }
}

/// `element = expression [ "=>" expression ]`.
///
/// Production: `element` (grammar/lighttpd.ebnf).
fn element(i: Input<'_>) -> PResult<'_, Element> {
    let start = pos(&i);
    let (i, first) = expression(i, Context::Nested)?;
    let (j, _) = multiline_ws(i);
    match (peek(&j), peek2(&j)) {
        (Some(b'='), Some(b'>')) => {
            let (j, _) = multiline_ws(skip(j, 2));
            let (j, value) = expression(j, Context::Nested)?;
            let end = value.span.end as usize;
            Ok((
                j,
                Element {
                    key: Some(first),
                    value,
                    span: span(&j, start, end),
                },
            ))
        }
        (Some(b'='), _) => {
            let at = pos(&j);
            SyntaxError::new(at, at + 1, "`=` inside a list")
                .label("expected `=>`")
                .help("inside ( ) key and value are joined with `=>`")
                .lighttpd("use => for assignments in arrays")
                .fail()
        }
        _ => {
            let end = first.span.end as usize;
            Ok((
                i,
                Element {
                    key: None,
                    value: first,
                    span: span(&j, start, end),
                },
            ))
        }
    }
}

#[cfg(test)]
mod tests;
