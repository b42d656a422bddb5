//! Loading is deterministic: the same bytes loaded twice give byte-identical
//! `-p` output, the same `-tt` module list, and the same diagnostics (message
//! and place), whether the load succeeds or fails.
//!
//! This catches output that depends on hash-map iteration order (every std
//! `HashMap` gets fresh random keys) or on other hidden state.
//!
//! Why not "print, re-parse, print again"? The `-p` output is lighttpd's
//! dump format, not a configuration: it is wrapped in `config { }`, repeats
//! the pre-seeded `var.CWD` / `var.PID`, prints strings without escaping
//! embedded quotes and integers that wrapped to negative values (which the
//! lexer reads back as variable names). Even with the wrapper and the two
//! variables stripped, 45 of the 46 loadable files of the compat corpus
//! round-trip, the 46th (`009-integers`) by design does not, so the property
//! does not hold for arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wick::config::{self, Diagnostic, Environment, modules, print};

/// A diagnostic's message and place (file, start, end).
type Placed = (String, Option<(u32, u32, u32)>);

/// What one load produced, in comparable form.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Loaded {
        printed: Vec<u8>,
        modules: Vec<String>,
        diagnostics: Vec<Placed>,
    },
    Refused {
        diagnostics: Vec<Placed>,
    },
}

fn key(d: &Diagnostic) -> Placed {
    (
        d.message.clone(),
        d.span.map(|s| (s.file.0, s.start, s.end)),
    )
}

fn run(data: &[u8], env: &Environment) -> Outcome {
    match config::load(b"fuzz.conf", data.to_vec(), env) {
        Ok(cfg) => {
            let report = modules::check_modules(&cfg);
            Outcome::Loaded {
                printed: print::print(&cfg),
                modules: report.modules,
                diagnostics: cfg
                    .warnings
                    .iter()
                    .chain(&report.diagnostics)
                    .map(key)
                    .collect(),
            }
        }
        Err(e) => Outcome::Refused {
            diagnostics: e.diagnostics.iter().map(key).collect(),
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let env = Environment::sandboxed();
    let first = run(data, &env);
    let second = run(data, &env);
    assert_eq!(first, second, "two loads of the same input differ");
});
