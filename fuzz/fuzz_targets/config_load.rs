//! Arbitrary bytes as a configuration file: loading, printing (`-p`), the
//! `-tt` module checks and compiling the routing table (every condition and
//! module setting, each regex through the shared pattern cache) never
//! panic, every span stays inside its source, and every diagnostic renders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wick::config::{self, Environment, modules, print};
use wick::routing::RoutingTable;
use wick::routing::settings::Loaded;
use wick_fuzz::{check_config, check_diagnostic};

fuzz_target!(|data: &[u8]| {
    // Sandboxed: include and include_shell are refused, env.* is empty.
    let env = Environment::sandboxed();
    match config::load(b"fuzz.conf", data.to_vec(), &env) {
        Ok(cfg) => {
            check_config(&cfg);
            for d in &cfg.warnings {
                assert!(
                    !d.is_error(),
                    "an error among the warnings: {:?}",
                    d.message
                );
                check_diagnostic(&cfg.sources, d);
            }
            let _ = print::print(&cfg);
            let report = modules::check_modules(&cfg);
            for d in &report.diagnostics {
                check_diagnostic(&cfg.sources, d);
            }
            // Gateway modules (proxy.*, wstunnel.*) are left out: their hosts
            // would be resolved through the system resolver.
            let loaded = Loaded::from_modules(&report.modules);
            if let Err(diags) = RoutingTable::compile_with(&cfg, &loaded, None) {
                assert!(!diags.is_empty(), "refused without a diagnostic");
                for d in &diags {
                    check_diagnostic(&cfg.sources, d);
                }
            }
        }
        Err(e) => {
            assert!(
                e.diagnostics.iter().any(|d| d.is_error()),
                "refused without an error"
            );
            for d in &e.diagnostics {
                check_diagnostic(&e.sources, d);
            }
            let _ = config::diag::render_all(&e.diagnostics, &e.sources, false);
        }
    }
});
