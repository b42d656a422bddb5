//! lighttpd's modules as wick implements them (lighttpd: `mod_*.c`).
//!
//! | module | file |
//! |---|---|
//! | mod_staticfile, mod_indexfile | `staticfile.rs` |
//! | stat cache (server.stat-cache-engine) | `filecache.rs` |
//! | mod_proxy | `proxy/` |
//! | mod_dirlisting | `dirlisting.rs` |

pub mod dirlisting;
pub mod filecache;
pub mod proxy;
pub mod staticfile;
pub mod wstunnel;
