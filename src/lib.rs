//! wick: a lighttpd-compatible, config-driven reverse proxy and WebSocket
//! tunnel.
//!
//! wick reads lighttpd 1.4 configuration files unchanged. The pipeline:
//!
//! ```text
//! cli ──► config::load ──► Config ──► -p / -t
//!                               └──► server::prepare ──► RoutingTable + listeners ──► -tt / serve
//!   accept ─► server::conn (hyper h1/h2) ─► request::handle ─► routing ─► modules::staticfile
//! ```
//!
//! | concern | where |
//! |---|---|
//! | command line (lighttpd flags) | `cli.rs` |
//! | configuration language | `config/` (see its module doc) |
//! | conditions and per-request settings | `routing/` |
//! | listeners, connections, signals, daemon | `server/` |
//! | request checks, error pages, bodies | `request/` |
//! | lighttpd modules | `modules/` |
//! | the allocator (mimalloc) | `alloc.rs` |

pub mod alloc;
pub mod backend;
pub mod cli;
pub mod config;

/// The version line printed by `-v`.
pub const VERSION_LINE: &str = concat!(
    "wick/",
    env!("CARGO_PKG_VERSION"),
    " - a lighttpd-compatible reverse proxy and WebSocket tunnel"
);
pub mod modules;
pub mod request;
pub mod routing;
pub mod server;
