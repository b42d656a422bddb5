//! wick: a lighttpd-compatible, config-driven reverse proxy and WebSocket
//! tunnel.
//!
//! wick reads lighttpd 1.4 configuration files unchanged. The pipeline:
//!
//! ```text
//! cli ──► config::load ──► Config (blocks of settings) ──► -p / -t / -tt
//! ```
//!
//! | concern | where |
//! |---|---|
//! | command line (lighttpd flags) | `cli.rs` |
//! | configuration language | `config/` (see its module doc) |

pub mod cli;
pub mod config;

/// The version line printed by `-v`.
pub const VERSION_LINE: &str = concat!(
    "wick/",
    env!("CARGO_PKG_VERSION"),
    " - a lighttpd-compatible reverse proxy and WebSocket tunnel"
);
pub mod routing;
pub mod server;
