//! Prints a syntax tree back as configuration text, in one canonical
//! layout. Used for the round-trip property `unparse(parse(unparse(parse(x))))
//! == unparse(parse(x))` in tests and fuzzing: it shows the parser reads
//! every construct it can print, the same way each time.

use super::ast::*;
use super::print::string;

/// The canonical source text of a file.
pub fn unparse(file: &File) -> Vec<u8> {
    let mut out = Vec::new();
    statements(&file.statements, 0, &mut out);
    out
}

fn indent(out: &mut Vec<u8>, depth: usize) {
    out.resize(out.len() + 2 * depth, b' ');
}

fn statements(list: &[Statement], depth: usize, out: &mut Vec<u8>) {
    for s in list {
        indent(out, depth);
        match s {
            Statement::Assign(a) => {
                out.extend_from_slice(&a.key.node);
                out.extend_from_slice(match a.op.node {
                    AssignOp::Set => b" = ",
                    AssignOp::Force => b" := ",
                    AssignOp::Append => b" += ",
                });
                expr(&a.value, out);
            }
            Statement::Include(i) => {
                out.extend_from_slice(match i.kind {
                    IncludeKind::File => b"include ",
                    IncludeKind::Shell => b"include_shell ",
                });
                expr(&i.expr, out);
            }
            Statement::Global(g) => {
                out.extend_from_slice(b"global ");
                body(&g.body, depth, out);
            }
            Statement::Chain(c) => {
                cond_block(&c.head, depth, out);
                for b in &c.branches {
                    out.extend_from_slice(b" else ");
                    match &b.kind {
                        ElseKind::If(cb) => cond_block(cb, depth, out),
                        ElseKind::Plain { body: stmts, .. } => body(stmts, depth, out),
                    }
                }
            }
        }
        out.push(b'\n');
    }
}

fn body(list: &[Statement], depth: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\n");
    statements(list, depth + 1, out);
    indent(out, depth);
    out.push(b'}');
}

fn cond_block(cb: &CondBlock, depth: usize, out: &mut Vec<u8>) {
    let c = &cb.cond;
    out.push(b'$');
    out.extend_from_slice(&c.name.node);
    out.push(b'[');
    for (i, part) in c.field.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b" + ");
        }
        string(&part.node, out);
    }
    out.extend_from_slice(b"] ");
    out.extend_from_slice(c.op.node.as_str().as_bytes());
    out.push(b' ');
    expr(&c.value, out);
    out.push(b' ');
    body(&cb.body, depth, out);
}

fn expr(e: &Expr, out: &mut Vec<u8>) {
    for (i, op) in e.operands.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b" + ");
        }
        match op {
            Operand::Var(k) => out.extend_from_slice(&k.node),
            Operand::Str(s) => string(&s.node, out),
            // A wrapped negative value is written as its unsigned 32-bit
            // twin, which wraps back to the same value.
            Operand::Int(n) => out.extend_from_slice((n.node as u32).to_string().as_bytes()),
            Operand::List(l) => {
                out.push(b'(');
                for (k, el) in l.elements.iter().enumerate() {
                    if k > 0 {
                        out.extend_from_slice(b", ");
                    }
                    if let Some(key) = &el.key {
                        expr(key, out);
                        out.extend_from_slice(b" => ");
                    }
                    expr(&el.value, out);
                }
                out.push(b')');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parser::parse;
    use crate::config::source::FileId;

    fn canonical(text: &[u8]) -> Vec<u8> {
        let (f, _) = parse(text, FileId(0)).expect("parses");
        unparse(&f)
    }

    /// Printing is a fixed point after one round, for every construct.
    #[test]
    fn round_trip_is_stable() {
        let text = br#"a = 1 b := "x\"y" + a
c += ( "k" => ( 1, 2 ), "l", 4294967297, 2147483648 )
include "x" + "/*.conf"
include_shell "echo"
global { g = 1 }
if $HTTP["ho" + "st"] == "a" + b {
  $HTTP["url"] =~ "^/x" { y = 1 }
} elif $HTTP["host"] != "c" { z = 2 } else { w = () }
"#;
        let once = canonical(text);
        assert_eq!(canonical(&once), once, "{}", String::from_utf8_lossy(&once));
    }

    /// Corpus files in grammar/corpus/ok round-trip; those in err/ are refused.
    #[test]
    fn grammar_corpus() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/corpus");
        let mut seen = 0;
        for (dir, must_parse) in [("ok", true), ("err", false)] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                panic!("grammar/corpus/{dir} is missing")
            };
            for e in entries.flatten() {
                let text = std::fs::read(e.path()).expect("read corpus file");
                let parsed = parse(&text, FileId(0));
                assert_eq!(parsed.is_ok(), must_parse, "{}", e.path().display());
                if let Ok((f, _)) = parsed {
                    let once = unparse(&f);
                    assert_eq!(canonical(&once), once, "{}", e.path().display());
                }
                seen += 1;
            }
        }
        assert!(seen >= 10, "only {seen} corpus files");
    }
}
