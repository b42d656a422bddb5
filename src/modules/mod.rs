//! lighttpd's modules as wick implements them (lighttpd: `mod_*.c`).
//!
//! | module | file |
//! |---|---|
//! | mod_staticfile, mod_indexfile | `staticfile.rs` |

pub mod staticfile;
