//! The evaluated configuration: a tree of blocks, each an ordered map of
//! keys to values (lighttpd's `config_data` list and `srv->config_context`).
//!
//! Block 0 is the top level. Every condition or `else` branch is a block
//! whose number is its index; numbers follow the order in which headers
//! were completed in the source, and a condition that names an existing
//! block (same parent, same text ignoring ASCII case) re-opens it.

use bstr::BString;

use super::ast::CondOp;
use super::cond::Field;
use super::diag::Diagnostic;
use super::source::{SourceMap, Span};
use super::value::Array;

/// Index of a block in [`Config::blocks`]; also its `# block N` number.
pub type BlockId = usize;

/// What kind of block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// The top level (block 0).
    Top,
    /// `$FIELD[...] OP value { }`, standalone or as an else-if branch.
    Cond,
    /// A plain `else { }` branch.
    Else,
}

/// A condition, after evaluation and simplification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockCond {
    /// What is compared.
    pub field: Field,
    /// `HTTP`, `SERVER`, `REQUEST_HEADER` as written.
    pub name: BString,
    /// The field name as written (`url`, `user-agent`, a header name…).
    pub field_name: BString,
    /// The operator, after `=~` simplification.
    pub op: CondOp,
    /// The value, after `=~` simplification.
    pub value: BString,
    /// The operator as written (for a plain else: of the branch before).
    pub written_op: CondOp,
    /// The value as written.
    pub written_value: BString,
    /// Where the header was written.
    pub span: Span,
    /// Where the value was written.
    pub value_span: Span,
}

impl BlockCond {
    /// The regex whose groups `%0`–`%9` refer to in this block's settings
    /// (spec §9.9): the condition as written when it was `=~`, even if it
    /// was simplified to `==`, `=^` or `=$` for matching — lighttpd turns
    /// such a condition back into a regex when a module needs captures.
    /// `None` for other operators (then `%0` is the whole value and `%1`–`%9`
    /// are empty).
    pub fn capture_pattern(&self) -> Option<super::pattern::Pattern> {
        (self.written_op == CondOp::Match)
            .then(|| super::pattern::Pattern::new(&self.written_value).ok())
            .flatten()
    }

    /// `$NAME["field"] OP "value"`, the text `-p` prints and block identity
    /// uses (raw: quotes inside are not escaped).
    pub fn text(&self) -> BString {
        let mut t = BString::from(Vec::with_capacity(
            self.name.len() + self.field_name.len() + self.value.len() + 12,
        ));
        t.push(b'$');
        t.extend_from_slice(&self.name);
        t.extend_from_slice(b"[\"");
        t.extend_from_slice(&self.field_name);
        t.extend_from_slice(b"\"] ");
        t.extend_from_slice(self.op.as_str().as_bytes());
        t.extend_from_slice(b" \"");
        t.extend_from_slice(&self.value);
        t.push(b'"');
        t
    }
}

/// One block of the configuration.
#[derive(Debug, Clone)]
pub struct Block {
    /// Top, condition or plain else.
    pub kind: BlockKind,
    /// The enclosing block (`None` for the top level). For else branches,
    /// the parent of the chain.
    pub parent: Option<BlockId>,
    /// The condition (for a plain `else`: the negation of the branch before).
    pub cond: Option<BlockCond>,
    /// Internal name: `global`, then ` / <condition text>` per level.
    pub name: BString,
    /// The settings of this block, in lighttpd's order.
    pub entries: Array,
    /// Blocks created inside this one, in creation order (else branches too).
    pub children: Vec<BlockId>,
    /// The next branch of the else chain, if any.
    pub else_next: Option<BlockId>,
    /// The branch before this one, for else branches.
    pub else_prev: Option<BlockId>,
    /// True for else-if and plain else branches (printed through their
    /// chain, not as children).
    pub is_else_member: bool,
}

/// A configuration after parsing, evaluation and the post-parse checks.
#[derive(Debug)]
pub struct Config {
    /// Every source read.
    pub sources: SourceMap,
    /// All blocks; index 0 is the top level.
    pub blocks: Vec<Block>,
    /// Warnings met while loading.
    pub warnings: Vec<Diagnostic>,
}

impl Config {
    /// The top-level block.
    pub fn top(&self) -> &Block {
        &self.blocks[0]
    }
}
