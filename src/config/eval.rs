//! Executes syntax trees into the block tree: assignments with `=`, `:=`,
//! `+=`, variable and `env.*` references, `include` / `include_shell`,
//! condition blocks and else chains, `global { }` (lighttpd: the actions of
//! `configparser.y` and `configfile.c`).
//!
//! Execution is one pass in source order, as in lighttpd: a reference sees
//! the value at that moment, and an `include` is read and executed where it
//! stands, its statements landing in the current block.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use bstr::{BString, ByteSlice};

use super::ast::*;
use super::cond::{self, Field, RemoteAddrError};
use super::diag::Diagnostic;
use super::include;
use super::parser;
use super::source::{FileId, SourceKind, SourceMap, Span};
use super::tree::{Block, BlockCond, BlockId, BlockKind};
use super::value::{self, Array, Entry, MergeError, Value, show};

/// How deep includes may nest before we call it a loop (lighttpd 1.4.69
/// recursed until it crashed).
const MAX_INCLUDE_DEPTH: usize = 64;

/// Inputs of an evaluation that come from outside the configuration.
#[derive(Debug, Clone)]
pub struct Environment {
    /// Value of `var.CWD` (omitted when unknown).
    pub cwd: Option<Vec<u8>>,
    /// Value of `var.PID`.
    pub pid: i32,
    /// Looks up `env.*` variables.
    pub vars: HashMap<OsString, OsString>,
    /// When false, `include` and `include_shell` are refused (fuzzing and
    /// tests that must not touch files or run commands).
    pub allow_includes: bool,
}

impl Environment {
    /// The environment of this process.
    pub fn from_process() -> Self {
        Environment {
            cwd: std::env::current_dir()
                .ok()
                .map(|p| p.into_os_string().into_vec()),
            pid: std::process::id() as i32,
            vars: std::env::vars_os().collect(),
            allow_includes: true,
        }
    }

    /// A fixed environment with no variables and includes disabled.
    pub fn sandboxed() -> Self {
        Environment {
            cwd: Some(b"/".to_vec()),
            pid: 1,
            vars: HashMap::new(),
            allow_includes: false,
        }
    }

    fn var(&self, name: &[u8]) -> Option<&OsString> {
        self.vars.get(OsStr::from_bytes(name))
    }
}

/// Result of evaluation: the sources read, the blocks, the warnings.
pub type Evaluated = (SourceMap, Vec<Block>, Vec<Diagnostic>);

/// Loads and evaluates the main configuration text.
pub fn evaluate(
    main_name: &[u8],
    text: Vec<u8>,
    env: &Environment,
) -> Result<Evaluated, (SourceMap, Diagnostic)> {
    let mut ev = Evaluator {
        sources: SourceMap::new(),
        blocks: Vec::new(),
        by_name: HashMap::new(),
        current: 0,
        in_global: false,
        basedir: include::basedir_of(main_name),
        include_stack: Vec::new(),
        warnings: Vec::new(),
        env,
    };
    ev.blocks.push(Block {
        kind: BlockKind::Top,
        parent: None,
        cond: None,
        name: BString::from("global"),
        entries: Array::new(),
        children: Vec::new(),
        else_next: None,
        else_prev: None,
        is_else_member: false,
    });
    if let Some(cwd) = &env.cwd {
        ev.blocks[0]
            .entries
            .push(entry("var.CWD", Value::Str(BString::from(cwd.clone()))));
    }
    ev.blocks[0]
        .entries
        .push(entry("var.PID", Value::Int(env.pid)));
    let id = ev.sources.add(
        String::from_utf8_lossy(main_name).into_owned(),
        SourceKind::Main,
        text,
        None,
    );
    match ev.run_source(id) {
        Ok(()) => Ok((ev.sources, ev.blocks, ev.warnings)),
        Err(d) => Err((ev.sources, d)),
    }
}

fn entry(key: &str, value: Value) -> Entry {
    Entry {
        key: Some(BString::from(key)),
        value,
        span: Span::default(),
        key_span: Span::default(),
    }
}

/// Adds the implicit `var.` prefix to a key without a dot.
pub fn normalize_key(key: &[u8]) -> BString {
    if key.contains(&b'.') {
        BString::from(key)
    } else {
        let mut k = BString::from("var.");
        k.extend_from_slice(key);
        k
    }
}

struct Evaluator<'e> {
    sources: SourceMap,
    blocks: Vec<Block>,
    /// Lowercased block name → block, for re-opening.
    by_name: HashMap<Box<[u8]>, BlockId>,
    current: BlockId,
    in_global: bool,
    basedir: Vec<u8>,
    /// Canonical paths of the files being included, outermost first.
    include_stack: Vec<PathBuf>,
    warnings: Vec<Diagnostic>,
    env: &'e Environment,
}

type EvalResult<T> = Result<T, Diagnostic>;

impl Evaluator<'_> {
    /// Parses a source and executes it in the current block.
    fn run_source(&mut self, id: FileId) -> EvalResult<()> {
        let text = self.sources.get(id).text.clone();
        let (file, warnings) = parser::parse(&text, id)?;
        self.warnings.extend(warnings);
        self.statements(&file.statements)
    }

    fn statements(&mut self, statements: &[Statement]) -> EvalResult<()> {
        for s in statements {
            match s {
                Statement::Assign(a) => self.assign(a)?,
                Statement::Include(i) => self.include(i)?,
                Statement::Global(g) => self.global(g)?,
                Statement::Chain(c) => self.chain(c)?,
            }
        }
        Ok(())
    }

    /// `block <n> <name>`, as lighttpd names a block in messages.
    fn block_label(&self, id: BlockId) -> String {
        format!("{id} {}", show(&self.blocks[id].name))
    }

    fn assign(&mut self, a: &Assignment) -> EvalResult<()> {
        let key = normalize_key(&a.key.node);
        if key.starts_with(b"env.") {
            let (verb, ours) = match a.op.node {
                AssignOp::Append => ("Appending", "cannot append to an environment variable"),
                _ => ("Setting", "cannot assign to an environment variable"),
            };
            return Err(Diagnostic::error(ours)
                .at(a.key.span)
                .label("`env.*` keys are read-only")
                .help("env.NAME reads the environment; store derived values in var.NAME")
                .lighttpd(format!(
                    "{verb} env variable is not supported in conditional {}: {key}",
                    self.block_label(self.current)
                )));
        }
        let value = self.expr(&a.value)?;
        let new = Entry {
            key: Some(key.clone()),
            value,
            span: a.value.span,
            key_span: a.key.span,
        };
        let cur = self.current;
        let existing = self.blocks[cur].entries.position(&key);
        match (a.op.node, existing) {
            (AssignOp::Set, Some(at)) => {
                let first = self.blocks[cur].entries.entries()[at].key_span;
                let mut d = Diagnostic::error(format!("`{key}` is already set in this block"))
                    .at(a.key.span)
                    .label("assigned again here")
                    .help("use `:=` to replace the value, or `+=` to add to it")
                    .lighttpd(format!(
                        "Duplicate config variable in conditional {}: {key}",
                        self.block_label(cur)
                    ));
                if first != Span::default() {
                    d = d.note(format!("first set at {}", self.sources.location(first)));
                } else {
                    d = d.note(format!("`{key}` is predefined by the server"));
                }
                Err(d)
            }
            (AssignOp::Set | AssignOp::Force, None) => {
                self.blocks[cur].entries.push(new);
                Ok(())
            }
            (AssignOp::Force, Some(at)) => {
                self.blocks[cur].entries.replace(at, new);
                Ok(())
            }
            (AssignOp::Append, Some(at)) => {
                let old = self.blocks[cur].entries.swap_remove(at);
                let merged = self.merge(old.value, new.value, a)?;
                self.blocks[cur].entries.push(Entry {
                    value: merged,
                    ..new
                });
                Ok(())
            }
            (AssignOp::Append, None) => {
                let inherited = self.visible(&key).map(|e| e.value.clone());
                let merged = match inherited {
                    Some(v) => self.merge(v, new.value, a)?,
                    None => new.value,
                };
                self.blocks[cur].entries.push(Entry {
                    value: merged,
                    ..new
                });
                Ok(())
            }
        }
    }

    /// `old += new` for the assignment `a`.
    fn merge(&self, old: Value, new: Value, a: &Assignment) -> EvalResult<Value> {
        value::add(old, new).map_err(|e| self.merge_error(e, a.value.span, Some(&a.key.node)))
    }

    fn merge_error(&self, e: MergeError, at: Span, key: Option<&BString>) -> Diagnostic {
        match e {
            MergeError::TypeMismatch { left, right } => {
                let what = match key {
                    Some(k) => {
                        format!("cannot add {right} to the {left} in `{}`", normalize_key(k))
                    }
                    None => format!("cannot add {right} to {left}"),
                };
                Diagnostic::error(what)
                    .at(at)
                    .label(format!("this is {} {right}", article(right)))
                    .help(match (left, right) {
                        ("array", _) => "add a list: `+= ( \"value\" )`",
                        (_, "array") => "a list can only be added to a list",
                        _ => "check the types of both sides",
                    })
                    .lighttpd("data type mismatch, cannot merge")
            }
            MergeError::DuplicateKey { key, span } => Diagnostic::error(format!(
                "array key `{key}` is already present with another value"
            ))
            .at(if span == Span::default() { at } else { span })
            .label("conflicting entry")
            .help("each key may appear once; remove one of the two entries or make them equal")
            .lighttpd(format!("Duplicate array-key '{key}'")),
        }
    }

    /// The entry visible from the current block: the current block, then
    /// its parents (lexical nesting only).
    fn visible(&self, key: &[u8]) -> Option<&Entry> {
        let mut b = Some(self.current);
        while let Some(id) = b {
            if let Some(e) = self.blocks[id].entries.get(key) {
                return Some(e);
            }
            b = self.blocks[id].parent;
        }
        None
    }

    /// Evaluates `operand { "+" operand }` left to right.
    fn expr(&mut self, e: &Expr) -> EvalResult<Value> {
        let mut acc: Option<Value> = None;
        for op in &e.operands {
            let v = self.operand(op)?;
            acc = Some(match acc {
                None => v,
                Some(left) => {
                    value::add(left, v).map_err(|err| self.merge_error(err, op.span(), None))?
                }
            });
        }
        acc.ok_or_else(|| Diagnostic::error("empty expression").at(e.span))
    }

    fn operand(&mut self, op: &Operand) -> EvalResult<Value> {
        match op {
            Operand::Str(s) => Ok(Value::Str(s.node.clone())),
            Operand::Int(i) => Ok(Value::Int(i.node)),
            Operand::Var(k) => self.lookup(k),
            Operand::List(l) => self.list(l).map(Value::Array),
        }
    }

    fn lookup(&self, k: &Spanned<BString>) -> EvalResult<Value> {
        if let Some(name) = k.node.strip_prefix(b"env.") {
            return match self.env.var(name) {
                Some(v) => Ok(Value::Str(BString::from(v.as_bytes()))),
                None => Err(Diagnostic::error(format!(
                    "environment variable `{}` is not set",
                    name.as_bstr()
                ))
                .at(k.span)
                .label("read here")
                .help("set it in the environment that starts the server, or use a var.* default")
                .lighttpd(format!("Undefined env variable: {}", name.as_bstr()))),
            };
        }
        let key = normalize_key(&k.node);
        if let Some(e) = self.visible(&key) {
            return Ok(e.value.clone());
        }
        let mut d = Diagnostic::error(format!("undefined variable `{key}`"))
            .at(k.span)
            .label("not defined before this point")
            .lighttpd(format!("Undefined config variable: {key}"));
        let bare = &k.node;
        if matches!(
            bare.to_ascii_lowercase().as_slice(),
            b"enable" | b"disable" | b"enabled" | b"disabled" | b"true" | b"false"
        ) {
            d = d.help(format!("booleans are strings: write \"{bare}\""));
        } else if bare.first() == Some(&b'-') && bare[1..].iter().all(u8::is_ascii_digit) {
            d = d.help("numbers cannot be negative; `-1` reads as a variable name");
        } else {
            d = d.help("variables must be assigned before they are used, in this block or an enclosing one");
        }
        Err(d)
    }

    fn list(&mut self, l: &List) -> EvalResult<Array> {
        let mut a = Array::new();
        for el in &l.elements {
            let value = self.expr(&el.value)?;
            let (key, key_span) = match &el.key {
                None => (None, el.span),
                Some(k) => {
                    let kv = self.expr(k)?;
                    let key = match kv {
                        Value::Str(s) => s,
                        Value::Int(i) => BString::from(i.to_string()),
                        Value::Array(_) => {
                            return Err(Diagnostic::error(
                                "array key must be a string or a number",
                            )
                            .at(k.span)
                            .label("this is a list")
                            .lighttpd("operand must be string"));
                        }
                    };
                    if let Some(first) = a.get(&key) {
                        let first_span = first.key_span;
                        return Err(Diagnostic::error(format!(
                            "duplicate key `{key}` in the same list"
                        ))
                        .at(k.span)
                        .label("second entry with this key")
                        .note(format!(
                            "first entry at {} (keys compare ignoring ASCII case)",
                            self.sources.location(first_span)
                        ))
                        .help("remove one of the entries")
                        .lighttpd(format!(
                            "Error: duplicate array-key: {key}. Please get rid of the duplicate entry."
                        )));
                    }
                    (Some(key), k.span)
                }
            };
            a.push(Entry {
                key,
                value,
                span: el.span,
                key_span,
            });
        }
        Ok(a)
    }

    fn global(&mut self, g: &GlobalBlock) -> EvalResult<()> {
        if self.in_global {
            return Err(global_conditional(g.keyword));
        }
        let saved = self.current;
        self.current = 0;
        self.in_global = true;
        let r = self.statements(&g.body);
        self.in_global = false;
        self.current = saved;
        r
    }

    fn chain(&mut self, c: &Chain) -> EvalResult<()> {
        if self.in_global {
            return Err(global_conditional(c.head.cond.span));
        }
        let parent = self.current;
        let head = self.open_cond(parent, &c.head.cond, None)?;
        self.body(head, &c.head.body)?;
        let mut prev = head;
        for branch in &c.branches {
            let id = match &branch.kind {
                ElseKind::If(cb) => {
                    let id = self.open_cond(parent, &cb.cond, Some((prev, branch.keyword)))?;
                    self.body(id, &cb.body)?;
                    id
                }
                ElseKind::Plain { body, .. } => {
                    let id = self.open_else(parent, prev, branch.keyword)?;
                    self.body(id, body)?;
                    id
                }
            };
            prev = id;
        }
        Ok(())
    }

    fn body(&mut self, id: BlockId, statements: &[Statement]) -> EvalResult<()> {
        let saved = self.current;
        self.current = id;
        let r = self.statements(statements);
        self.current = saved;
        r
    }

    /// Evaluates a condition header and returns its block, creating it or
    /// re-opening the block of the same name. `else_of` is the previous
    /// branch and the `else` keyword for else-if branches.
    fn open_cond(
        &mut self,
        parent: BlockId,
        c: &Condition,
        else_of: Option<(BlockId, Span)>,
    ) -> EvalResult<BlockId> {
        let mut field_name = BString::from(Vec::new());
        for part in &c.field {
            field_name.extend_from_slice(&part.node);
        }
        let value = self.expr(&c.value)?;
        let written_value = match value {
            Value::Str(s) => s,
            other => {
                return Err(Diagnostic::error(format!(
                    "condition value must be a string, not {} {}",
                    article(other.type_name()),
                    other.type_name()
                ))
                .at(c.value.span)
                .label("not a string")
                .help(match other {
                    Value::Int(n) => format!("quote it: \"{n}\""),
                    _ => "compare against a string".to_string(),
                })
                .lighttpd("rvalue must be string"));
            }
        };
        let name = c.name.node.clone();
        let written_text = {
            let mut t = BString::from(format!("${}[\"", name));
            t.extend_from_slice(&field_name);
            t.extend_from_slice(b"\"] ");
            t.extend_from_slice(c.op.node.as_str().as_bytes());
            t.extend_from_slice(b" \"");
            t.extend_from_slice(&written_value);
            t.push(b'"');
            t
        };
        let Some(field) = Field::lookup(&name, &field_name) else {
            return Err(unknown_field(c, &name, &field_name, &written_text));
        };
        let (op, value) = match (c.op.node, &field) {
            (CondOp::Match, f) if *f != Field::ServerSocket => cond::simplify_regex(&written_value)
                .unwrap_or((CondOp::Match, written_value.clone())),
            (op, _) => (op, written_value.clone()),
        };
        let bc = BlockCond {
            field,
            name,
            field_name,
            op,
            value,
            written_op: c.op.node,
            written_value,
            span: c.span,
            value_span: c.value.span,
        };
        check_cond_value(&bc, c)?;
        self.open_block(parent, BlockKind::Cond, bc, else_of)
    }

    /// A plain `else`: named after the negation of the previous branch.
    fn open_else(&mut self, parent: BlockId, prev: BlockId, keyword: Span) -> EvalResult<BlockId> {
        let Some(prev_cond) = self.blocks[prev].cond.clone() else {
            return Err(
                Diagnostic::error("`else` without a condition block before it").at(keyword),
            );
        };
        let bc = BlockCond {
            op: prev_cond.op.negate(),
            span: keyword,
            ..prev_cond
        };
        self.open_block(parent, BlockKind::Else, bc, Some((prev, keyword)))
    }

    fn open_block(
        &mut self,
        parent: BlockId,
        kind: BlockKind,
        bc: BlockCond,
        else_of: Option<(BlockId, Span)>,
    ) -> EvalResult<BlockId> {
        let mut name = self.blocks[parent].name.clone();
        name.extend_from_slice(b" / ");
        name.extend_from_slice(&bc.text());
        let folded: Box<[u8]> = name.to_ascii_lowercase().into_boxed_slice();
        if let Some(&existing) = self.by_name.get(&folded) {
            if let Some((_, keyword)) = else_of {
                let first = self.blocks[existing].cond.as_ref().map(|c| c.span);
                let mut d = Diagnostic::error("unreachable else branch")
                    .at(if kind == BlockKind::Else { keyword } else { bc.span })
                    .label(match kind {
                        BlockKind::Else => "this else stands for a condition used before",
                        _ => "this condition already has a block in this scope",
                    })
                    .help("a chain only reaches a branch whose condition has not been handled before; \
                           merge the blocks or change the condition")
                    .lighttpd("unreachable else condition");
                if let Some(first) = first {
                    d = d.note(format!(
                        "`{}` is first used at {}",
                        show(&bc.text()),
                        self.sources.location(first)
                    ));
                }
                return Err(d);
            }
            if self.blocks[existing].is_else_member {
                self.warnings.push(
                    Diagnostic::warning("this condition re-opens a branch of an else chain")
                        .at(bc.span)
                        .label("same text as an earlier else branch")
                        .help(
                            "its settings apply only when the chain reaches that branch; \
                               write the settings inside the chain to make that explicit",
                        ),
                );
            }
            return Ok(existing);
        }
        let id = self.blocks.len();
        self.blocks.push(Block {
            kind,
            parent: Some(parent),
            cond: Some(bc),
            name,
            entries: Array::new(),
            children: Vec::new(),
            else_next: None,
            else_prev: None,
            is_else_member: else_of.is_some(),
        });
        self.blocks[parent].children.push(id);
        self.by_name.insert(folded, id);
        if let Some((prev, _)) = else_of {
            // lighttpd re-links a chain head that gets a second else chain.
            self.blocks[prev].else_next = Some(id);
            self.blocks[id].else_prev = Some(prev);
        }
        Ok(id)
    }

    fn include(&mut self, inc: &Include) -> EvalResult<()> {
        let arg = match self.expr(&inc.expr)? {
            Value::Str(s) => s,
            Value::Int(i) => BString::from(i.to_string()),
            Value::Array(_) => {
                return Err(
                    Diagnostic::error("include argument must be a string, not a list")
                        .at(inc.expr.span)
                        .lighttpd("operand must be string"),
                );
            }
        };
        let span = inc.keyword.to(inc.expr.span);
        if !self.env.allow_includes {
            return Err(Diagnostic::error("includes are disabled here").at(span));
        }
        if self.include_stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(Diagnostic::error("includes nest too deeply")
                .at(span)
                .label(format!("more than {MAX_INCLUDE_DEPTH} levels"))
                .help("an included file or command probably includes itself"));
        }
        match inc.kind {
            IncludeKind::File => self.include_files(&arg, span),
            IncludeKind::Shell => self.include_shell(&arg, span),
        }
    }

    fn include_files(&mut self, arg: &[u8], span: Span) -> EvalResult<()> {
        let path = include::resolve(&self.basedir, arg);
        let matches = include::glob(&path).map_err(|e| {
            Diagnostic::error(format!("cannot expand include path `{}`", path.as_bstr()))
                .at(span)
                .label(e.to_string())
        })?;
        if matches.is_empty() {
            if include::has_glob_chars(&path) {
                return Ok(());
            }
            let mut d = Diagnostic::error(format!("include file not found: {}", path.as_bstr()))
                .at(span)
                .label("no such file");
            if path != arg {
                d = d.note(format!(
                    "relative include paths are resolved from the main file's directory `{}`",
                    self.basedir.as_bstr()
                ));
            }
            return Err(
                d.help("fix the path, or use a glob (e.g. conf.d/*.conf) if the file is optional")
            );
        }
        for m in matches {
            let p = Path::new(OsStr::from_bytes(&m));
            let canonical = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            if self.include_stack.contains(&canonical) {
                return Err(Diagnostic::error(format!(
                    "include cycle: {} includes itself",
                    m.as_bstr()
                ))
                .at(span)
                .help("remove the include that leads back to this file"));
            }
            let text = include::read_file(p).map_err(|e| {
                Diagnostic::error(format!("cannot read {}: {}", m.as_bstr(), io_reason(&e)))
                    .at(span)
                    .lighttpd(format!(
                        "opening configfile {} failed: {}",
                        m.as_bstr(),
                        io_reason(&e)
                    ))
            })?;
            let id = self.sources.add(
                String::from_utf8_lossy(&m).into_owned(),
                SourceKind::Include,
                text,
                Some(span),
            );
            self.include_stack.push(canonical);
            let r = self.run_source(id);
            self.include_stack.pop();
            r?;
        }
        Ok(())
    }

    fn include_shell(&mut self, command: &[u8], span: Span) -> EvalResult<()> {
        let shell = include::shell(
            self.env
                .vars
                .get(OsStr::new("SHELL"))
                .map(|s| s.as_os_str()),
        );
        let out = include::run_shell(shell, command, &self.basedir).map_err(|e| {
            let mut d = Diagnostic::error(format!("include_shell command failed: {e}"))
                .at(span)
                .label(format!("`{}`", command.as_bstr()));
            if let include::ShellError::Status(st) = &e {
                let code = st
                    .code()
                    .map_or_else(|| "killed by a signal".to_string(), |c| c.to_string());
                d = d.lighttpd(format!(
                    "command \"{}\" exited non-zero: {code}",
                    command.as_bstr()
                ));
            }
            if !self.basedir.is_empty() {
                d = d.note(format!("it runs in `{}`", self.basedir.as_bstr()));
            }
            d
        })?;
        let id = self.sources.add(
            String::from_utf8_lossy(command).into_owned(),
            SourceKind::Shell,
            out,
            Some(span),
        );
        // Bound recursion through commands that print include_shell lines.
        self.include_stack
            .push(PathBuf::from(format!("<shell {}>", id.0)));
        let r = self.run_source(id);
        self.include_stack.pop();
        r
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        // strerror text, as lighttpd prints it.
        Some(code) => {
            let s = std::io::Error::from_raw_os_error(code).to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
        None => e.to_string(),
    }
}

fn article(type_name: &str) -> &'static str {
    if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn global_conditional(at: Span) -> Diagnostic {
    Diagnostic::error("conditions are not allowed inside `global { }`")
        .at(at)
        .help(
            "move the condition out of the global block; `global { }` may only set top-level keys",
        )
        .lighttpd("Cannot use conditionals inside a global { ... } block")
}

fn unknown_field(c: &Condition, name: &[u8], field: &[u8], text: &[u8]) -> Diagnostic {
    let written = format!("${}[\"{}\"]", name.as_bstr(), field.as_bstr());
    let mut d = Diagnostic::error(format!("unknown condition field `{written}`"))
        .at(Span {
            start: c.span.start,
            end: c.field_span.end.saturating_add(1),
            ..c.span
        })
        .lighttpd(format!("error comp_key {}", text.as_bstr()));
    let suggestion = match (name, field) {
        (b"HTTP", b"method") => Some("$HTTP[\"request-method\"]".to_string()),
        (b"PHYSICAL", _) => None,
        _ => crate::config::suggest::closest(&written, cond::FIELD_SPELLINGS.iter().copied())
            .map(str::to_string),
    };
    if let Some(s) = suggestion {
        d = d.help(format!("did you mean `{s}`?"));
    }
    if name != b"HTTP" && name != b"SERVER" && name != b"REQUEST_HEADER" {
        d = d.note("conditions use $HTTP[…], $REQUEST_HEADER[…] or $SERVER[\"socket\"]");
    } else if name == b"HTTP" {
        d = d.note("any request header can be tested with $REQUEST_HEADER[\"Name\"]");
    }
    d
}

/// The value checks of spec §9.5.
fn check_cond_value(bc: &BlockCond, c: &Condition) -> EvalResult<()> {
    let plain_op = matches!(
        bc.op,
        CondOp::Eq | CondOp::Ne | CondOp::Prefix | CondOp::Suffix
    );
    let lighttpd = || format!("invalid IP addr: {}", bc.value.as_bstr());
    match bc.field {
        Field::Host if plain_op && !cond::valid_host_port(&bc.value) => Err(Diagnostic::error(
            format!("invalid host in condition: `{}`", bc.value.as_bstr()),
        )
        .at(c.value.span)
        .label("expected host or host:port (port 1-65535), IPv6 in brackets")
        .help(simplified_help(bc))
        .lighttpd(lighttpd())),
        Field::RemoteIp if plain_op => {
            match cond::parse_remote_addr(&bc.value) {
                Ok(_) => Ok(()),
                Err(e) => {
                    let (msg, lt) = match e {
                        RemoteAddrError::InvalidV4 => {
                            ("invalid IPv4 address in condition", Some(lighttpd()))
                        }
                        RemoteAddrError::InvalidV6 => ("invalid IPv6 address in condition", None),
                        RemoteAddrError::InvalidPrefix => {
                            ("invalid network prefix length in condition", None)
                        }
                    };
                    let mut d = Diagnostic::error(format!("{msg}: `{}`", bc.value.as_bstr()))
                        .at(c.value.span)
                        .label("expected an address, address/bits, or a socket path")
                        .help(simplified_help(bc));
                    match lt {
                        Some(l) => d = d.lighttpd(l),
                        None => d = d.note(
                            "lighttpd 1.4.69 accepts this value without a word, but the condition \
                             never matches as intended; wick refuses it",
                        ),
                    }
                    Err(d)
                }
            }
        }
        Field::ServerSocket
            if !cond::socket_skips_host_check(&bc.value) && !cond::valid_host_port(&bc.value) =>
        {
            Err(Diagnostic::error(format!(
                "invalid socket address in condition: `{}`",
                bc.value.as_bstr()
            ))
            .at(c.value.span)
            .label("expected host:port, :port, [IPv6]:port or a socket path")
            .help(if bc.op == CondOp::Match || bc.op == CondOp::NoMatch {
                "lighttpd checks $SERVER[\"socket\"] values as addresses even for =~; \
                 list the sockets with == instead"
                    .to_string()
            } else {
                "ports are 1-65535".to_string()
            })
            .lighttpd(lighttpd()))
        }
        _ => Ok(()),
    }
}

fn simplified_help(bc: &BlockCond) -> String {
    if bc.written_op == CondOp::Match && bc.op != CondOp::Match {
        format!(
            "`=~ \"{}\"` is a plain anchored pattern, so it is read as `{} \"{}\"` and checked as an address",
            bc.written_value.as_bstr(),
            bc.op.as_str(),
            bc.value.as_bstr()
        )
    } else {
        match bc.field {
            Field::Host => {
                "a port must be a number from 1 to 65535; leave it out to match any port"
                    .to_string()
            }
            _ => "write a dotted-quad IPv4 address, an IPv6 address, either with /bits, or a \
                  socket path"
                .to_string(),
        }
    }
}
