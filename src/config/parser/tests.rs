//! Parser tests, grouped by production. Inputs that lighttpd 1.4.69
//! silently mangles (spec §4) must fail here with a located error.

use super::*;
use crate::config::source::FileId;

fn ok(text: &str) -> File {
    match parse(text.as_bytes(), FileId(0)) {
        Ok((f, _)) => f,
        Err(d) => panic!("{text:?} should parse, got: {}", d.message),
    }
}

fn warnings(text: &str) -> Vec<Diagnostic> {
    parse(text.as_bytes(), FileId(0)).expect("parses").1
}

/// The error for `text`, and the text its span covers.
fn err(text: &str) -> (String, String) {
    match parse(text.as_bytes(), FileId(0)) {
        Ok(_) => panic!("{text:?} should be refused"),
        Err(d) => {
            let span = d.span.expect("syntax errors have a place");
            let culprit = text
                .as_bytes()
                .get(span.start as usize..span.end as usize)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            (d.message.clone(), culprit)
        }
    }
}

fn assigns(f: &File) -> Vec<String> {
    f.statements
        .iter()
        .filter_map(|s| match s {
            Statement::Assign(a) => Some(a.key.node.to_string()),
            _ => None,
        })
        .collect()
}

// ---- statements -------------------------------------------------------

/// `a = 1 b = 2` is two statements: there is no separator (corpus 070).
#[test]
fn statements_need_no_separator() {
    assert_eq!(assigns(&ok("a = 1 b = 2\n")), ["a", "b"]);
    assert_eq!(assigns(&ok("e = ( \"x\" ) f = \"y\"\n")), ["e", "f"]);
}

/// A `,` between statements is dropped with a warning, as lighttpd's tokenizer drops it.
#[test]
fn stray_comma_between_statements_warns() {
    let w = warnings("x = 1, y = 2\n");
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("stray `,`"));
}

/// Empty input and comment-only input are valid.
#[test]
fn empty_and_comment_only_files() {
    assert!(ok("").statements.is_empty());
    assert!(ok("# only a comment").statements.is_empty());
    assert!(ok("\r\n\r\n  \t\n").statements.is_empty());
}

/// 1.4.69 silently keeps only `"a"` of `x = "a" "b"` (1.4.74 refuses it).
#[test]
fn two_values_in_a_row_are_refused() {
    assert_eq!(
        err("x = \"a\" \"b\"\n"),
        (
            "unexpected value after a complete statement".into(),
            "\"".into()
        )
    );
    assert_eq!(err("x = 1 2\n").1, "2");
}

/// 1.4.69 drops a leading `9` and assigns `var.x`.
#[test]
fn statement_starting_with_a_number_is_refused() {
    assert_eq!(err("9x = 1\n").1, "9x");
}

/// 1.4.69 ignores a `}` with no open block.
#[test]
fn stray_closing_brace_is_refused() {
    assert_eq!(err("x = 1\n}\n"), ("unexpected `}`".into(), "}".into()));
}

/// 1.4.69 keeps `x = "a"` and drops `+ "b"` when the `+` starts the next line.
#[test]
fn plus_at_start_of_line_is_refused() {
    assert_eq!(err("x = \"a\"\n  + \"b\"\n").1, "+");
}

/// `; ' @` and non-ASCII outside strings are lexer errors in lighttpd too.
#[test]
fn invalid_characters_are_refused_at_their_position() {
    assert_eq!(err("server.port = 80;\n").1, ";");
    assert_eq!(err("x = 'a'\n").1, "'");
    assert_eq!(err("é = 1\n").1, "é");
    assert_eq!(err("x = 1 \0 y = 2\n").1, "\0");
}

// ---- assignment -------------------------------------------------------

/// A line break after `=`, `:=`, `+=` is accepted (corpus 071).
#[test]
fn value_may_start_on_the_next_line() {
    for op in ["=", ":=", "+="] {
        let f = ok(&format!("x {op}\n  # comment\n\n  1\n"));
        assert_eq!(assigns(&f), ["x"]);
    }
}

/// The operator itself must be on the key's line (1.4.69 drops the line end silently).
#[test]
fn operator_on_next_line_is_refused() {
    let (msg, culprit) = err("x\n= 1\n");
    assert!(msg.starts_with("expected `=`, `:=` or `+=`"), "{msg}");
    assert_eq!(culprit, "\n");
}

/// `==` and `=>` are not assignment operators.
#[test]
fn wrong_assignment_operators() {
    assert_eq!(err("x == 1\n").0, "`==` in an assignment");
    assert_eq!(err("x => 1\n").0, "`=>` outside a list");
    assert!(err("x : 1\n").0.starts_with("expected"));
}

/// Each operator is recorded.
#[test]
fn assignment_operators() {
    let f = ok("a = 1\nb := 2\nc += 3\n");
    let ops: Vec<AssignOp> = f
        .statements
        .iter()
        .map(|s| match s {
            Statement::Assign(a) => a.op.node,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(ops, [AssignOp::Set, AssignOp::Force, AssignOp::Append]);
}

// ---- expression / operand --------------------------------------------

fn value_of(text: &str) -> Expr {
    match ok(text).statements.into_iter().next() {
        Some(Statement::Assign(a)) => a.value,
        other => panic!("not an assignment: {other:?}"),
    }
}

/// `+` chains operands; a line break after `+` is accepted.
#[test]
fn plus_chains_and_may_break_after() {
    assert_eq!(value_of("x = a + \"b\" + 1\n").operands.len(), 3);
    assert_eq!(value_of("x = \"a\" +\n  \"b\"\n").operands.len(), 2);
}

/// Keywords cannot be values; `if` can (it is a keyword only before a condition).
#[test]
fn keywords_are_not_values() {
    assert_eq!(err("x = include\n").0, "keyword `include` used as a value");
    assert!(matches!(value_of("x = if\n").operands[0], Operand::Var(_)));
}

/// A missing value is an error at the line end.
#[test]
fn missing_value() {
    assert!(err("x =\n").0.starts_with("expected a value"));
    assert!(err("x = \"a\" +\n").0.starts_with("expected a value"));
}

// ---- list / element ---------------------------------------------------

/// Trailing and doubled commas are allowed, as in lighttpd.
#[test]
fn list_commas() {
    let list = |t: &str| match &value_of(t).operands[0] {
        Operand::List(l) => l.elements.len(),
        _ => panic!(),
    };
    assert_eq!(list("x = ()\n"), 0);
    assert_eq!(list("x = ( \"x\", \"y\", )\n"), 2);
    assert_eq!(list("x = ( \"x\",, \"y\" )\n"), 2);
    assert_eq!(list("x = (\n  \"a\" # c\n  ,\n  \"b\"\n)\n"), 2);
}

/// 1.4.69 accepts `(,1)` and `(1 2)` by dropping tokens; we do not.
#[test]
fn malformed_lists_are_refused() {
    assert_eq!(err("x = (, 1)\n").0, "a list cannot start with `,`");
    assert!(err("x = (1 2)\n").0.starts_with("expected `,` or `)`"));
    assert_eq!(err("x = ( \"a\" = \"b\" )\n").0, "`=` inside a list");
    assert_eq!(err("x = ( 1, 2\n").0, "list is never closed");
    assert!(err("x = ( => \"a\")\n").0.starts_with("expected a value"));
}

/// `key => value` elements, keys being any expression.
#[test]
fn keyed_elements() {
    let Operand::List(l) = &value_of("x = ( \"a\" + b => ( 1 ), 2 => \"v\" )\n").operands[0] else {
        panic!()
    };
    assert_eq!(l.elements.len(), 2);
    assert_eq!(
        l.elements[0].key.as_ref().map(|k| k.operands.len()),
        Some(2)
    );
}

// ---- condition / chain ------------------------------------------------

fn chain_of(text: &str) -> Chain {
    match ok(text).statements.into_iter().next() {
        Some(Statement::Chain(c)) => c,
        other => panic!("not a chain: {other:?}"),
    }
}

/// Blanks anywhere in a header, or none at all (corpus 052).
#[test]
fn condition_header_spacing() {
    let c = chain_of("$ HTTP [ \"url\" ] =^ \"/x\" { }\n");
    assert_eq!(c.head.cond.name.node, "HTTP");
    assert_eq!(c.head.cond.op.node, CondOp::Prefix);
    let c = chain_of("$HTTP[\"url\"]=^\"/x\"{}\n");
    assert_eq!(c.head.cond.field[0].node, "url");
}

/// Line breaks inside the header and before `{` (Allman style, corpus 071).
#[test]
fn condition_header_may_span_lines() {
    let c = chain_of("$HTTP[\"host\"]\n==\n\"a\" +\n\".b\"\n{\n x = 1\n}\n");
    assert_eq!(c.head.cond.value.operands.len(), 2);
    assert_eq!(c.head.body.len(), 1);
}

/// Every operator, and the two refusals lighttpd also makes.
#[test]
fn condition_operators() {
    for (op, want) in [
        ("==", CondOp::Eq),
        ("!=", CondOp::Ne),
        ("=~", CondOp::Match),
        ("!~", CondOp::NoMatch),
        ("=^", CondOp::Prefix),
        ("=$", CondOp::Suffix),
    ] {
        assert_eq!(
            chain_of(&format!("$HTTP[\"url\"] {op} \"/\" {{}}\n"))
                .head
                .cond
                .op
                .node,
            want
        );
    }
    assert_eq!(err("$HTTP[\"url\"] = \"/x\" {}\n").1, "=");
    assert_eq!(err("$HTTP[\"url\"] !! \"/x\" {}\n").1, "!");
    assert!(
        err("$HTTP[\"url\"] <> \"/x\" {}\n")
            .0
            .starts_with("expected a condition operator")
    );
}

/// The field is strings joined by `+`; a bare word or number is refused.
#[test]
fn condition_field() {
    assert_eq!(
        chain_of("$HTTP[\"ho\" + \"st\"] == \"a\" {}\n")
            .head
            .cond
            .field
            .len(),
        2
    );
    assert!(
        err("$HTTP[host] == \"a\" {}\n")
            .0
            .starts_with("expected the field name")
    );
    assert!(
        err("$HTTP[1] == \"a\" {}\n")
            .0
            .starts_with("expected the field name")
    );
}

/// NBSP is a blank, except inside a condition header (lighttpd refuses it there).
#[test]
fn nbsp_is_blank_outside_conditions_only() {
    assert_eq!(assigns(&ok("x\u{a0}=\u{a0}1\n")), ["x"]);
    assert_eq!(
        err("$HTTP[\"url\"]\u{a0}== \"/\" {}\n").0,
        "no-break space inside a condition"
    );
}

/// `else` on the same line, on the next line, after comments (corpus 051).
#[test]
fn else_layouts() {
    assert_eq!(
        chain_of("$HTTP[\"host\"] == \"a\" { } else { }\n")
            .branches
            .len(),
        1
    );
    let c = chain_of("$HTTP[\"host\"] == \"a\" {\n}\n\n# c\n\nelse\n{\n}\n");
    assert!(matches!(c.branches[0].kind, ElseKind::Plain { .. }));
    let c = chain_of("$HTTP[\"host\"] == \"a\" {} else $HTTP[\"host\"] == \"b\" {} else {}\n");
    assert_eq!(c.branches.len(), 2);
}

/// A `}` followed by more text on its line ends the chain (corpus 070).
#[test]
fn text_after_closing_brace_is_a_new_statement() {
    let f = ok("$HTTP[\"host\"] == \"x\" { c = 3 } d = 4\n");
    assert_eq!(f.statements.len(), 2);
}

/// lighttpd 1.4.74+ keywords: `if`, `elif`, `elsif`, `elseif`, `else if`.
#[test]
fn lighttpd_1_4_74_keywords() {
    let c = chain_of(
        "if $HTTP[\"host\"] == \"a\" { }\nelif $HTTP[\"host\"] == \"b\" { }\nelsif $HTTP[\"host\"] == \"c\" { }\n\
         elseif $HTTP[\"host\"] == \"d\" { }\nelse if $HTTP[\"host\"] == \"e\" { }\nelse { }\n",
    );
    assert_eq!(c.branches.len(), 5);
    assert!(matches!(c.branches[4].kind, ElseKind::Plain { .. }));
    assert!(
        c.branches[..4]
            .iter()
            .all(|b| matches!(b.kind, ElseKind::If(_)))
    );
}

/// Those words stay keys where they are not before a condition (as in 1.4.69).
#[test]
fn keyword_lookalikes_stay_keys() {
    assert_eq!(
        assigns(&ok("if = 1\nelif = 2\nelseif = 3\n")),
        ["if", "elif", "elseif"]
    );
}

/// `elif` needs a condition; a plain `else` cannot be followed by another branch.
#[test]
fn else_misuse() {
    assert!(
        err("$HTTP[\"host\"] == \"a\" { } elif { }\n")
            .0
            .starts_with("expected `=`")
    );
    assert_eq!(
        err("$HTTP[\"host\"] == \"a\" { } else { } else { }\n").0,
        "unreachable branch after a plain `else`"
    );
    assert_eq!(
        err("else { x = 1 }\n").0,
        "`else` without a condition block before it"
    );
    assert_eq!(
        err("x = 1\nelse if $HTTP[\"host\"] == \"b\" {}\n").1,
        "else"
    );
}

/// An unclosed block is reported at its `{`.
#[test]
fn unclosed_block_points_at_open_brace() {
    assert_eq!(
        err("$HTTP[\"host\"] == \"a\" {\n  x = 1\n"),
        ("block is never closed".into(), "{".into())
    );
    assert_eq!(err("global {\n").1, "{");
}

// ---- include / global -------------------------------------------------

/// include takes an expression on the same line.
#[test]
fn include_statements() {
    let f = ok("include \"a.conf\"\ninclude_shell \"echo\" + \" x\"\n");
    assert!(matches!(&f.statements[0], Statement::Include(i) if i.kind == IncludeKind::File));
    assert!(matches!(&f.statements[1], Statement::Include(i) if i.kind == IncludeKind::Shell));
    assert!(
        err("include\n\"a.conf\"\n")
            .0
            .starts_with("expected a file name")
    );
    assert!(err("include_shell\n").0.starts_with("expected a command"));
}

/// `global { }`, with the brace on the next line too; `global = 1` is refused.
#[test]
fn global_blocks() {
    assert!(matches!(
        ok("global {\n x = 1\n}\n").statements[0],
        Statement::Global(_)
    ));
    assert!(matches!(
        ok("global\n{\n}\n").statements[0],
        Statement::Global(_)
    ));
    assert!(
        err("global = 1\n")
            .0
            .starts_with("expected `{` after `global`")
    );
}

/// A bare word at the very end of the input is refused (corpus 075).
#[test]
fn bare_word_at_end_of_input() {
    assert_eq!(err("x = y").0, "file ends right after a bare word");
    assert_eq!(assigns(&ok("x = \"y\"")), ["x"]);
    assert_eq!(assigns(&ok("x = 5")), ["x"]);
}

/// Errors at the end of the input carry an empty span at the end, never one
/// past it (found by fuzzing: `$H[`).
#[test]
fn end_of_input_errors_stay_in_bounds() {
    for text in [
        "$H[",
        "$HTTP[\"x\"",
        "x =",
        "x = (",
        "$HTTP[\"url\"] == \"/\"",
        "$",
    ] {
        let d = match parse(text.as_bytes(), FileId(0)) {
            Ok(_) => panic!("{text:?} should be refused"),
            Err(d) => d,
        };
        let span = d.span.expect("located");
        assert!(
            span.start <= span.end && span.end as usize <= text.len(),
            "{text:?}: {span:?}"
        );
    }
}
