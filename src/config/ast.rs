//! The spanned syntax tree of one configuration source, without meaning.
//!
//! The parser builds it from one file (or one `include_shell` output); the
//! evaluator walks it. Names follow the productions of
//! `grammar/lighttpd.ebnf`.

use bstr::BString;

use super::source::Span;

/// `file = { statement }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Statements in source order.
    pub statements: Vec<Statement>,
}

/// A value with its place in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub node: T,
    /// Where it was written.
    pub span: Span,
}

/// `statement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// `KEY ( "=" | ":=" | "+=" ) expression`.
    Assign(Assignment),
    /// `"include" expression` or `"include_shell" expression`.
    Include(Include),
    /// `"global" "{" { statement } "}"`.
    Global(GlobalBlock),
    /// `chain`: a condition block and its `else` branches.
    Chain(Chain),
}

/// `assignment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The key as written (without the implicit `var.` prefix).
    pub key: Spanned<BString>,
    /// The operator.
    pub op: Spanned<AssignOp>,
    /// The right-hand side.
    pub value: Expr,
}

/// The three assignment operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`: define; a second `=` in the same block is an error.
    Set,
    /// `:=`: define or replace in place.
    Force,
    /// `+=`: merge into the visible value.
    Append,
}

/// `include` and `include_shell`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// Which of the two.
    pub kind: IncludeKind,
    /// The keyword.
    pub keyword: Span,
    /// The path or command.
    pub expr: Expr,
}

/// What an include statement reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeKind {
    /// Files matching a path or glob.
    File,
    /// The output of a shell command.
    Shell,
}

/// `global-block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalBlock {
    /// The `global` keyword.
    pub keyword: Span,
    /// The statements between the braces.
    pub body: Vec<Statement>,
}

/// `chain = cond-block { [ EOL ] else-branch }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The first condition block.
    pub head: CondBlock,
    /// The `else` branches, in order.
    pub branches: Vec<ElseBranch>,
}

/// `cond-block = condition "{" { statement } "}"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondBlock {
    /// The condition header.
    pub cond: Condition,
    /// The statements between the braces.
    pub body: Vec<Statement>,
    /// The opening brace.
    pub open: Span,
}

/// One `else` branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElseBranch {
    /// The `else` keyword (or its 1.4.74 spellings).
    pub keyword: Span,
    /// `else <condition> { }` or `else { }`.
    pub kind: ElseKind,
}

/// The two kinds of `else` branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElseKind {
    /// `else $FIELD[...] OP value { }`.
    If(CondBlock),
    /// `else { }`.
    Plain {
        /// The statements between the braces.
        body: Vec<Statement>,
        /// The opening brace.
        open: Span,
    },
}

/// `condition = "$" NAME "[" field "]" cond-op expression`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `HTTP`, `SERVER`, `REQUEST_HEADER` … (without the `$`).
    pub name: Spanned<BString>,
    /// The strings between `[` and `]` (joined with `+`).
    pub field: Vec<Spanned<BString>>,
    /// The span of everything between `[` and `]`.
    pub field_span: Span,
    /// The operator.
    pub op: Spanned<CondOp>,
    /// The value after the operator.
    pub value: Expr,
    /// From `$` to the end of the value.
    pub span: Span,
}

/// `cond-op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CondOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Match,
    /// `!~`
    NoMatch,
    /// `=^`
    Prefix,
    /// `=$`
    Suffix,
    /// `!^`: only as the negation of `=^` for a plain `else` (never written).
    NotPrefix,
    /// `!$`: only as the negation of `=$` for a plain `else` (never written).
    NotSuffix,
}

impl CondOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CondOp::Eq => "==",
            CondOp::Ne => "!=",
            CondOp::Match => "=~",
            CondOp::NoMatch => "!~",
            CondOp::Prefix => "=^",
            CondOp::Suffix => "=$",
            CondOp::NotPrefix => "!^",
            CondOp::NotSuffix => "!$",
        }
    }

    /// The operator a plain `else` branch stands for (lighttpd names the
    /// branch after the negation of the one before it).
    pub fn negate(self) -> CondOp {
        match self {
            CondOp::Eq => CondOp::Ne,
            CondOp::Ne => CondOp::Eq,
            CondOp::Match => CondOp::NoMatch,
            CondOp::NoMatch => CondOp::Match,
            CondOp::Prefix => CondOp::NotPrefix,
            CondOp::NotPrefix => CondOp::Prefix,
            CondOp::Suffix => CondOp::NotSuffix,
            CondOp::NotSuffix => CondOp::Suffix,
        }
    }
}

/// `expression = operand { "+" operand }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// At least one operand.
    pub operands: Vec<Operand>,
    /// The whole expression.
    pub span: Span,
}

/// `operand`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A variable reference: a KEY in value position.
    Var(Spanned<BString>),
    /// A string literal, escapes already removed.
    Str(Spanned<BString>),
    /// An integer literal, already converted (32-bit wrap as lighttpd).
    Int(Spanned<i32>),
    /// `( … )`.
    List(List),
}

impl Operand {
    /// Where the operand was written.
    pub fn span(&self) -> Span {
        match self {
            Operand::Var(s) | Operand::Str(s) => s.span,
            Operand::Int(i) => i.span,
            Operand::List(l) => l.span,
        }
    }
}

/// `list = "(" [ elements ] ")"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// The elements in order.
    pub elements: Vec<Element>,
    /// From `(` to `)`.
    pub span: Span,
}

/// `element = expression [ "=>" expression ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The key, for `key => value` elements.
    pub key: Option<Expr>,
    /// The value.
    pub value: Expr,
    /// The whole element.
    pub span: Span,
}
