//! The lighttpd 1.4 configuration language (lighttpd: `configfile.c`,
//! `configparser.y`, `configfile-glue.c`, `array.c`).
//!
//! ```text
//!  bytes ──lexer/parser──► ast::File ──eval──► tree::Config ──check──► -p / -t
//!  (source.rs)  (nom)                 include,      blocks        core types,
//!                                     include_shell,              rewrites,
//!                                     var/env, += …               regexes
//!                                                      └──modules──► -tt
//! ```
//!
//! | concern | file |
//! |---|---|
//! | file ids, spans, include chain | `source.rs` |
//! | diagnostics and their rendering | `diag.rs` |
//! | terminals (strings, integers, keys) | `lexer.rs` |
//! | one function per grammar production | `parser.rs` |
//! | syntax tree | `ast.rs` |
//! | values, arrays, `+` and merges | `value.rs` |
//! | statements → blocks | `eval.rs` |
//! | include paths, glob, include_shell | `include.rs` |
//! | condition fields, `=~` simplification, address checks | `cond.rs` |
//! | condition regexes | `pattern.rs` |
//! | core directive types | `keys.rs` |
//! | post-parse checks and rewrites | `check.rs` |
//! | `-p` printer | `print.rs` |
//! | module list, unknown keys (`-tt`) | `modules.rs`, `modules_table.rs` |

pub mod ast;
pub mod check;
pub mod cond;
pub mod diag;
pub mod eval;
pub mod include;
pub mod keys;
pub mod lexer;
pub mod modules;
pub mod modules_table;
pub mod parser;
pub mod pattern;
pub mod print;
pub mod source;
pub mod suggest;
pub mod tree;
pub mod unparse;
pub mod value;

use std::io::Read;
use std::path::Path;

pub use diag::{Diagnostic, Severity};
pub use eval::Environment;
pub use source::SourceMap;
pub use tree::Config;

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("configuration refused ({} error(s))", .diagnostics.iter().filter(|d| d.is_error()).count())]
pub struct ConfigError {
    /// The sources read before the failure (for rendering).
    pub sources: SourceMap,
    /// Every diagnostic: the errors, and the warnings met before them.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads the main configuration: a path, or `-` for standard input.
pub fn read_main(path: &[u8]) -> Result<Vec<u8>, Diagnostic> {
    use std::os::unix::ffi::OsStrExt;
    if path == b"-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .take(include::MAX_FILE_SIZE + 1)
            .read_to_end(&mut buf)
            .map_err(|e| {
                Diagnostic::error(format!(
                    "cannot read the configuration from standard input: {e}"
                ))
            })?;
        if buf.len() as u64 > include::MAX_FILE_SIZE {
            return Err(Diagnostic::error(
                "the configuration on standard input is larger than 32 MiB",
            ));
        }
        return Ok(buf);
    }
    let p = Path::new(std::ffi::OsStr::from_bytes(path));
    include::read_file(p).map_err(|e| {
        let reason = e.to_string();
        let reason = reason
            .split(" (os error")
            .next()
            .unwrap_or(&reason)
            .to_string();
        Diagnostic::error(format!(
            "cannot read the configuration file {}: {reason}",
            p.display()
        ))
        .lighttpd(format!(
            "opening configfile {} failed: {reason}",
            p.display()
        ))
    })
}

/// Parses, evaluates and checks a configuration: everything `-p` and `-t`
/// need (spec §1).
pub fn load(main_name: &[u8], text: Vec<u8>, env: &Environment) -> Result<Config, ConfigError> {
    let (sources, mut blocks, mut warnings) = match eval::evaluate(main_name, text, env) {
        Ok(v) => v,
        Err((sources, d)) => {
            return Err(ConfigError {
                sources,
                diagnostics: vec![d],
            });
        }
    };
    let (errors, check_warnings) = check::check(&mut blocks);
    warnings.extend(check_warnings);
    if !errors.is_empty() {
        warnings.extend(errors);
        return Err(ConfigError {
            sources,
            diagnostics: warnings,
        });
    }
    Ok(Config {
        sources,
        blocks,
        warnings,
    })
}

#[cfg(test)]
mod tests;
