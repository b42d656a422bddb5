//! `-p`: prints the evaluated configuration byte for byte as lighttpd 1.4.69
//! does (spec §12; lighttpd: `config_print` in `configfile.c`,
//! `array_print` / `data_*_print` in `array.c` and `data_*.c`).

use super::tree::{BlockId, BlockKind, Config};
use super::value::{Array, Value};

/// The `-p` output of a configuration.
pub fn print(config: &Config) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    block(config, 0, 0, &mut out);
    out.push(b'\n');
    out
}

fn indent(out: &mut Vec<u8>, depth: usize) {
    out.resize(out.len() + 4 * depth, b' ');
}

fn block(config: &Config, id: BlockId, depth: usize, out: &mut Vec<u8>) {
    let b = &config.blocks[id];
    match b.kind {
        BlockKind::Top => out.extend_from_slice(b"config {\n"),
        BlockKind::Cond | BlockKind::Else => {
            if b.kind == BlockKind::Cond {
                if let Some(c) = &b.cond {
                    out.extend_from_slice(&c.text());
                    out.push(b' ');
                }
            }
            out.extend_from_slice(b"{\n");
            indent(out, depth + 1);
            out.extend_from_slice(format!("# block {id}\n").as_bytes());
        }
    }
    let width = b
        .entries
        .entries()
        .iter()
        .map(|e| e.key.as_ref().map_or(0, |k| k.len()))
        .max()
        .unwrap_or(0);
    for e in b.entries.entries() {
        let key = e.key.as_deref().map(|k| &k[..]).unwrap_or_default();
        indent(out, depth + 1);
        out.extend_from_slice(key);
        out.resize(out.len() + (width - key.len()), b' ');
        out.extend_from_slice(b" = ");
        value(&e.value, depth + 1, out);
        out.push(b'\n');
    }
    out.push(b'\n');
    for &child in &b.children {
        if config.blocks[child].is_else_member {
            continue;
        }
        out.push(b'\n');
        indent(out, depth + 1);
        block(config, child, depth + 1, out);
        out.push(b'\n');
    }
    indent(out, depth);
    out.push(b'}');
    if b.kind != BlockKind::Top {
        out.extend_from_slice(b" # end of ");
        match (&b.kind, &b.cond) {
            (BlockKind::Cond, Some(c)) => out.extend_from_slice(&c.text()),
            _ => out.extend_from_slice(b"else"),
        }
    }
    if let Some(next) = b.else_next {
        out.push(b'\n');
        indent(out, depth);
        out.extend_from_slice(b"else ");
        block(config, next, depth, out);
    }
}

/// Prints a value at nesting `depth` (spec §12.3).
pub fn value(v: &Value, depth: usize, out: &mut Vec<u8>) {
    match v {
        Value::Str(s) => string(s, out),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Array(a) => array(a, depth, out),
    }
}

/// A string literal: `"` + the bytes with each `"` escaped + `"`.
pub fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        if b == b'"' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn array(a: &Array, depth: usize, out: &mut Vec<u8>) {
    let entries = a.entries();
    let one_line = entries.len() <= 5
        && entries.first().is_none_or(|e| e.key.is_none())
        && entries.iter().all(|e| !matches!(e.value, Value::Array(_)));
    if one_line {
        // Keys of later entries are not printed in this form (as lighttpd).
        out.push(b'(');
        for (i, e) in entries.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            value(&e.value, depth, out);
        }
        out.push(b')');
        return;
    }
    let width = entries
        .iter()
        .map(|e| e.key.as_ref().map_or(0, |k| k.len()))
        .max()
        .unwrap_or(0);
    out.extend_from_slice(b"(\n");
    for e in entries {
        indent(out, depth + 1);
        if let Some(k) = &e.key {
            out.push(b'"');
            out.extend_from_slice(k);
            out.push(b'"');
            out.resize(out.len() + (width - k.len()), b' ');
            out.extend_from_slice(b" => ");
        }
        value(&e.value, depth + 1, out);
        out.extend_from_slice(b",\n");
    }
    indent(out, depth);
    out.push(b')');
}
