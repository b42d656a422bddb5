//! The routing table: the evaluated configuration compiled once into typed
//! conditions and per-block setting patches, and its evaluation per request
//! (lighttpd: `config_cond_cache`, `config_check_cond`, `config_patch_config`).
//!
//! ```text
//! Config (blocks of values) ──compile──► RoutingTable ──route(request)──► Route
//!                                         blocks[i]: cond + patch           settings + matched blocks
//! ```
//!
//! Per request every block is decided in block order (parents and earlier
//! else branches have smaller numbers than the blocks that depend on them):
//! a block holds when its parent holds, the previous branch of its else
//! chain (if any) does not, and its own condition matches (a plain `else`
//! has none). The settings are the top level's with the patches of every
//! holding block applied in order. Conditions on the socket, the client
//! address and the scheme are decided once per connection.

pub mod cond;
pub mod mime;
pub mod settings;
pub mod support;

use crate::config::pattern::Patterns;
use crate::config::tree::BlockKind;
use crate::config::{Config, Diagnostic};
use crate::modules::proxy::config::GwContext;

pub use cond::{Client, CompiledCond, CondInput, SocketId};
pub use settings::Settings;

/// One compiled block.
#[derive(Debug, Clone)]
pub struct RouteBlock {
    /// Enclosing block.
    pub parent: Option<usize>,
    /// The previous branch of its else chain.
    pub else_prev: Option<usize>,
    /// Its condition (`None` for the top level and plain `else`).
    pub cond: Option<CompiledCond>,
    /// Changes to the settings when the block holds.
    pub patch: settings::Patch,
    /// Condition text, for debug logs.
    pub text: String,
}

/// The compiled configuration.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    /// Blocks by number; 0 is the top level.
    pub blocks: Vec<RouteBlock>,
    /// The top-level settings (block 0's patch applied to the defaults).
    pub base: Settings,
}

/// Per-connection decisions of the conditions that only depend on the
/// connection.
#[derive(Debug, Clone, Default)]
pub struct ConnConds {
    decided: Vec<Option<bool>>,
}

/// A set of block numbers, inline for the usual configurations.
#[derive(Debug, Clone)]
pub enum BlockSet {
    /// Up to 128 blocks.
    Small(u128),
    /// More.
    Large(Vec<bool>),
}

impl BlockSet {
    fn new(n: usize) -> Self {
        if n <= 128 {
            BlockSet::Small(0)
        } else {
            BlockSet::Large(vec![false; n])
        }
    }

    /// True if block `i` is in the set.
    pub fn contains(&self, i: usize) -> bool {
        match self {
            BlockSet::Small(bits) => i < 128 && bits & (1 << i) != 0,
            BlockSet::Large(v) => v.get(i).copied().unwrap_or(false),
        }
    }

    fn insert(&mut self, i: usize) {
        match self {
            BlockSet::Small(bits) => *bits |= 1 << i,
            BlockSet::Large(v) => v[i] = true,
        }
    }
}

/// What routing decided for one request.
#[derive(Debug, Clone)]
pub struct Route<'t> {
    /// The effective settings (the table's when no block changes them).
    pub settings: Effective<'t>,
    /// Which blocks hold, by number.
    pub holds: BlockSet,
}

/// A request's effective settings: the table's, or a patched copy of
/// them. The copy is boxed, so that a route (which every request's future
/// holds) stays two words long instead of a whole `Settings`, which the
/// future moved at each step (callgrind: ~100 instructions a request).
#[derive(Debug, Clone)]
pub struct Effective<'t> {
    table: &'t Settings,
    patched: Option<Box<Settings>>,
}

impl Effective<'_> {
    /// The settings to change, copied from the table's the first time.
    pub fn to_mut(&mut self) -> &mut Settings {
        let table = self.table;
        self.patched.get_or_insert_with(|| Box::new(table.clone()))
    }
}

impl std::ops::Deref for Effective<'_> {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        self.patched.as_deref().unwrap_or(self.table)
    }
}

impl RoutingTable {
    /// The shortest idle limit (`server.max-read-idle`, `-write-idle`,
    /// `-keep-alive-idle`) any block sets, 0 left out: how often an idle
    /// connection has to look at the limits its latest request set.
    pub fn shortest_idle(&self) -> Option<u32> {
        use settings::{Number, Set};
        self.blocks
            .iter()
            .flat_map(|b| b.patch.iter())
            .filter_map(|s| match s {
                Set::Number(Number::KeepAliveIdle | Number::ReadIdle | Number::WriteIdle, v) => {
                    Some(*v)
                }
                _ => None,
            })
            .filter(|v| *v > 0)
            .min()
    }

    /// Compiles a loaded configuration without gateway modules, with every
    /// other module loaded (tests).
    pub fn compile(config: &Config) -> Result<RoutingTable, Vec<Diagnostic>> {
        Self::compile_with(config, &settings::Loaded::all(), None)
    }

    /// Compiles a loaded configuration: the directives of the `loaded`
    /// modules; `gw` compiles the gateway directives (`proxy.*`) of loaded
    /// modules into hosts of its registry.
    pub fn compile_with(
        config: &Config,
        loaded: &settings::Loaded,
        gw: Option<&mut GwContext<'_>>,
    ) -> Result<RoutingTable, Vec<Diagnostic>> {
        Self::compile_full(config, loaded, None, gw)
    }

    /// [`RoutingTable::compile_with`], also opening the access logs of
    /// mod_accesslog (when loaded) through `sinks` (without: formats are
    /// only checked, as `-tt` does).
    pub fn compile_full(
        config: &Config,
        loaded: &settings::Loaded,
        mut sinks: Option<&mut crate::modules::accesslog::SinkRegistry>,
        mut gw: Option<&mut GwContext<'_>>,
    ) -> Result<RoutingTable, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let mut blocks = Vec::with_capacity(config.blocks.len());
        let mut patterns = Patterns::new();
        for (number, b) in config.blocks.iter().enumerate() {
            let cond = match (&b.kind, &b.cond) {
                (BlockKind::Cond, Some(c)) => match CompiledCond::compile(c, &mut patterns) {
                    Ok(cc) => Some(cc),
                    Err(e) => {
                        errors.push(
                            Diagnostic::error(format!("cannot compile condition: {e}")).at(c.span),
                        );
                        None
                    }
                },
                _ => None,
            };
            let mut patch = Vec::new();
            for e in b.entries.entries() {
                let Some(key) = &e.key else { continue };
                match settings::compile_entry(
                    key,
                    e,
                    number,
                    loaded,
                    &mut patterns,
                    gw.as_deref_mut(),
                ) {
                    Ok(Some(set)) => patch.push(set),
                    Ok(None) => {}
                    Err(d) => errors.extend(d),
                }
            }
            if loaded.accesslog {
                match settings::compile_accesslog(&b.entries, sinks.as_deref_mut()) {
                    Ok(Some(set)) => patch.push(set),
                    Ok(None) => {}
                    Err(d) => errors.extend(d),
                }
            }
            blocks.push(RouteBlock {
                parent: b.parent,
                else_prev: b.else_prev,
                cond,
                patch: settings::finish_patch(patch),
                text: match (&b.kind, &b.cond) {
                    (BlockKind::Top, _) => "global".into(),
                    (BlockKind::Else, _) => "else".into(),
                    (_, Some(c)) => c.text().to_string(),
                    _ => String::new(),
                },
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut base = Settings::default();
        for set in &blocks[0].patch {
            base.apply(set);
        }
        Ok(RoutingTable { blocks, base })
    }

    /// Decides the per-connection conditions for a new connection.
    pub fn connection(&self, input: &CondInput<'_>) -> ConnConds {
        ConnConds {
            decided: self
                .blocks
                .iter()
                .map(|b| {
                    b.cond
                        .as_ref()
                        .filter(|c| c.is_per_connection())
                        .map(|c| c.matches(input))
                })
                .collect(),
        }
    }

    /// Routes one request: which blocks hold, and the effective settings.
    pub fn route<'t>(&'t self, conn: &ConnConds, input: &CondInput<'_>) -> Route<'t> {
        let n = self.blocks.len();
        let mut holds = BlockSet::new(n);
        // Whether the else chain reaches a block: all earlier branches failed.
        let mut reached = BlockSet::new(n);
        holds.insert(0);
        reached.insert(0);
        let mut settings = Effective {
            table: &self.base,
            patched: None,
        };
        for (i, b) in self.blocks.iter().enumerate().skip(1) {
            let reaches = match b.else_prev {
                Some(p) => reached.contains(p) && !holds.contains(p),
                None => b.parent.is_none_or(|p| holds.contains(p)),
            };
            if !reaches {
                continue;
            }
            reached.insert(i);
            let own = match &b.cond {
                None => true,
                Some(c) => match conn.decided.get(i).copied().flatten() {
                    Some(d) => d,
                    None => c.matches(input),
                },
            };
            if own {
                holds.insert(i);
                if !b.patch.is_empty() {
                    let s = settings.to_mut();
                    for set in &b.patch {
                        s.apply(set);
                    }
                }
            }
        }
        Route { settings, holds }
    }
}

#[cfg(test)]
mod tests;
