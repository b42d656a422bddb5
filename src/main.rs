//! The `wick` binary: command line → configuration → action. The only
//! place that chooses exit statuses: 0 on success, 255 when the
//! configuration or command line is refused (as lighttpd).

use std::io::{IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use wick::cli::{Cli, Early};
use wick::config::{self, Config, Environment, SourceMap, diag};

/// lighttpd exits with -1 (255) whenever it refuses to start.
const REFUSED: u8 = 255;

fn main() -> ExitCode {
    // Read the socket-activation environment once, before anything else.
    let inherited = wick::server::listener::Inherited::from_env(
        std::env::var_os("LISTEN_PID").as_deref(),
        std::env::var_os("LISTEN_FDS").as_deref(),
    );
    // The handed-over sockets are ours, not our children's (bin-path
    // backends, include_shell): forget the variables, as sd_listen_fds does.
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: no other thread exists yet; nothing reads the
        // environment concurrently.
        unsafe { std::env::remove_var(name) };
    }
    let cli = match Cli::parse_from_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("wick: {}", e.to_string().trim_end());
            eprint!("{}", Cli::usage());
            return ExitCode::from(REFUSED);
        }
    };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let env = Environment::from_process();
    let mut loaded: Option<Config> = None;
    let mut configs = cli.config.iter();
    for action in cli.actions() {
        match action {
            Early::Config => {
                let Some(path) = configs.next() else { continue };
                if loaded.is_some() {
                    eprintln!(
                        "error: only one configuration file can be given with -f\n  = help: use include \"file\" inside the configuration to read more files"
                    );
                    return ExitCode::from(REFUSED);
                }
                match load(path.as_bytes(), &env, color) {
                    Some(c) => loaded = Some(c),
                    None => return ExitCode::from(REFUSED),
                }
            }
            Early::Idle => {
                let value = cli.idle.as_deref().unwrap_or_default();
                if value.parse::<u32>().is_err() {
                    eprintln!(
                        "error: invalid idle timeout value: {value}\n  = help: -i takes a number of seconds (0 or more)"
                    );
                    return ExitCode::from(REFUSED);
                }
            }
            Early::Version => {
                println!("{}", wick::VERSION_LINE);
                return ExitCode::SUCCESS;
            }
            Early::Features => {
                print!("{}", features());
                return ExitCode::SUCCESS;
            }
            Early::Help => {
                print!("{}", Cli::usage());
                return ExitCode::SUCCESS;
            }
        }
    }
    let Some(config) = loaded else {
        eprintln!(
            "error: no configuration given\n  = help: name one with -f FILE (or -f - for standard input)"
        );
        return ExitCode::from(REFUSED);
    };
    if cli.print {
        let mut out = std::io::stdout().lock();
        let text = config::print::print(&config);
        if out.write_all(&text).and_then(|()| out.flush()).is_err() {
            return ExitCode::from(REFUSED);
        }
        if cli.test == 1 {
            println!("Syntax OK");
        }
        // The process ends here: freeing the tree would only cost time.
        std::mem::forget(config);
        return ExitCode::SUCCESS;
    }
    match cli.test {
        0 => {}
        1 => {
            println!("Syntax OK");
            std::mem::forget(config);
            return ExitCode::SUCCESS;
        }
        _ => {
            let code = match wick::server::check(&config) {
                Ok(p) => {
                    report_diagnostics(&p.warnings, &config.sources, color);
                    std::mem::forget(p);
                    ExitCode::SUCCESS
                }
                Err(diags) => {
                    report_diagnostics(&diags, &config.sources, color);
                    ExitCode::from(REFUSED)
                }
            };
            std::mem::forget(config);
            return code;
        }
    }
    let config_path = cli
        .config
        .first()
        .map(|p| p.as_bytes().to_vec())
        .unwrap_or_default();
    let opts = wick::server::RunOptions {
        config_path,
        foreground: cli.foreground,
        idle_exit: cli
            .idle
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs),
        single: cli.single,
    };
    let prepared = match wick::server::prepare(&config) {
        Ok(p) => {
            report_diagnostics(&p.warnings, &config.sources, color);
            p
        }
        Err(diags) => {
            report_diagnostics(&diags, &config.sources, color);
            return ExitCode::from(REFUSED);
        }
    };
    match wick::server::run(opts, prepared, env, inherited) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(REFUSED)
        }
    }
}

/// Loads the configuration, printing its diagnostics; `None` when refused.
fn load(path: &[u8], env: &Environment, color: bool) -> Option<Config> {
    let text = match config::read_main(path) {
        Ok(t) => t,
        Err(d) => {
            report_diagnostics(&[d], &SourceMap::new(), color);
            return None;
        }
    };
    match config::load(path, text, env) {
        Ok(c) => {
            report_diagnostics(&c.warnings, &c.sources, color);
            Some(c)
        }
        Err(e) => {
            report_diagnostics(&e.diagnostics, &e.sources, color);
            None
        }
    }
}

fn report_diagnostics(diags: &[config::Diagnostic], sources: &SourceMap, color: bool) {
    if diags.is_empty() {
        return;
    }
    let text = diag::render_all(diags, sources, color);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

fn features() -> String {
    format!(
        "{}\n\nConfiguration language:\n\t+ lighttpd 1.4.69 (-p output byte for byte)\n\t+ if / elif / elsif / elseif / else if (lighttpd 1.4.74+)\n\t+ include globs with brace expansion (glob(3))\n\t+ include_shell\n\nRegular expressions:\n\t+ regex crate, with fancy-regex for look-around and back-references\n",
        wick::VERSION_LINE
    )
}

/// A faster allocator for the many small per-request allocations.
#[global_allocator]
static GLOBAL: wick::alloc::Mimalloc = wick::alloc::Mimalloc;
