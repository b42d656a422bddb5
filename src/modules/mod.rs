//! lighttpd's modules as wick implements them (lighttpd: `mod_*.c`).
//!
//! | module | file |
//! |---|---|
//! | mod_staticfile, mod_indexfile | `staticfile.rs` |
//! | stat cache (server.stat-cache-engine) | `filecache.rs` |
//! | HTTP dates (Last-Modified, If-Modified-Since) | `http_date.rs` |
//! | mod_proxy | `proxy/` |
//! | Range requests | `range.rs` |
//! | mod_wstunnel | `wstunnel/` |
//! | mod_access | `access.rs` |
//! | mod_accesslog | `accesslog/` |
//! | mod_alias | `alias.rs` |
//! | mod_dirlisting | `dirlisting.rs` |
//! | mod_redirect | `redirect.rs` |
//! | mod_rewrite | `rewrite.rs` |
//! | the rule lists and templates of mod_rewrite and mod_redirect | `subst.rs` |
//! | mod_setenv | `setenv.rs` |
//! | mod_extforward | `extforward.rs` |
//! | mod_auth, mod_authn_file | `auth/` |

pub mod access;
pub mod accesslog;
pub mod alias;
pub mod auth;
pub mod dirlisting;
pub mod extforward;
pub mod filecache;
pub mod http_date;
pub mod proxy;
pub mod range;
pub mod redirect;
pub mod rewrite;
pub mod setenv;
pub mod staticfile;
pub mod subst;
pub mod wstunnel;
