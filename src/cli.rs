//! Command line: lighttpd's flags with lighttpd's meanings (spec §15;
//! lighttpd: `server_main_setup` in `server.c`).
//!
//! lighttpd handles its options in order with getopt: `-f` reads and checks
//! the configuration where it stands, and `-v`/`-V`/`-h` print and exit
//! where they stand. [`Cli::actions`] replays that order.

use std::ffi::OsString;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

/// wick: a lighttpd-compatible reverse proxy and WebSocket tunnel.
#[derive(Debug, Parser)]
#[command(
    name = "wick",
    disable_version_flag = true,
    disable_help_flag = true,
    override_usage = "wick [-f FILE] [-m DIR] [-i SECS] [-1] [-p] [-t|-tt] [-D] [-v] [-V] [-h]"
)]
pub struct Cli {
    /// Configuration file (`-` reads it from standard input).
    #[arg(short = 'f', value_name = "FILE", action = ArgAction::Append, allow_hyphen_values = true)]
    pub config: Vec<OsString>,

    /// Module directory (accepted for compatibility; wick has no loadable modules).
    #[arg(short = 'm', value_name = "DIR")]
    pub module_dir: Option<OsString>,

    /// Exit gracefully after SECS seconds without activity.
    #[arg(short = 'i', value_name = "SECS")]
    pub idle: Option<String>,

    /// Serve a single connection on standard input, then exit.
    #[arg(short = '1')]
    pub single: bool,

    /// Print the parsed configuration in lighttpd's internal form, and exit.
    #[arg(short = 'p')]
    pub print: bool,

    /// Test the configuration syntax, then exit (`-tt`: also load and check modules).
    #[arg(short = 't', action = ArgAction::Count)]
    pub test: u8,

    /// Stay in the foreground.
    #[arg(short = 'D')]
    pub foreground: bool,

    /// Show the version.
    #[arg(short = 'v')]
    pub version: bool,

    /// Show the version and compile-time features.
    #[arg(short = 'V')]
    pub features: bool,

    /// Show this help.
    #[arg(short = 'h')]
    pub help: bool,

    #[arg(skip)]
    order: Vec<(usize, Early)>,
}

/// Options that act where they stand on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Early {
    /// `-f`: read and check the configuration.
    Config,
    /// `-i`: validate the idle timeout.
    Idle,
    /// `-v`
    Version,
    /// `-V`
    Features,
    /// `-h`
    Help,
}

/// Why the command line was refused.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// clap refused the arguments (unknown option, missing value…).
    #[error("{0}")]
    Parse(#[from] clap::Error),
}

impl Cli {
    /// Parses arguments; `Err` for an unknown option or a missing value.
    pub fn parse_from_args<I, T>(args: I) -> Result<Cli, CliError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let mut order = Vec::new();
        for (id, early) in [
            ("config", Early::Config),
            ("idle", Early::Idle),
            ("version", Early::Version),
            ("features", Early::Features),
            ("help", Early::Help),
        ] {
            if matches.value_source(id) != Some(clap::parser::ValueSource::CommandLine) {
                continue;
            }
            if let Some(indices) = matches.indices_of(id) {
                for i in indices {
                    order.push((i, early));
                }
            }
        }
        order.sort_by_key(|(i, _)| *i);
        cli.order = order;
        Ok(cli)
    }

    /// The order-sensitive options, in command-line order.
    pub fn actions(&self) -> impl Iterator<Item = Early> + '_ {
        self.order.iter().map(|(_, e)| *e)
    }

    /// lighttpd's usage text (our words), printed by `-h`.
    pub fn usage() -> String {
        let mut s = String::new();
        s.push_str(crate::VERSION_LINE);
        s.push('\n');
        s.push_str(
            "usage:\n \
             -f <name>  configuration file (- reads standard input)\n \
             -m <name>  module directory (accepted, unused: modules are built in)\n \
             -i <secs>  exit gracefully after <secs> without activity\n \
             -1         serve one connection on standard input, then exit\n \
             -p         print the parsed configuration as lighttpd does, and exit\n \
             -t         check the configuration syntax, then exit\n \
             -tt        check the syntax and the modules' settings, then exit\n \
             -D         stay in the foreground (default: run as a daemon)\n \
             -v         show the version\n \
             -V         show the version and build features\n \
             -h         show this help\n",
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-tt` counts twice; options keep their command-line order.
    #[test]
    fn parses_lighttpd_flags_in_order() {
        let cli = Cli::parse_from_args(["wick", "-v", "-tt", "-f", "x.conf", "-D"]).unwrap();
        assert_eq!(cli.test, 2);
        assert!(cli.foreground);
        assert_eq!(cli.config, vec![OsString::from("x.conf")]);
        assert_eq!(
            cli.actions().collect::<Vec<_>>(),
            [Early::Version, Early::Config]
        );
    }

    /// `-f -` names standard input; `-pf x` bundles as getopt does.
    #[test]
    fn accepts_stdin_and_bundled_flags() {
        let cli = Cli::parse_from_args(["wick", "-p", "-f", "-"]).unwrap();
        assert_eq!(cli.config, vec![OsString::from("-")]);
        let cli = Cli::parse_from_args(["wick", "-ptf", "a.conf"]).unwrap();
        assert!(cli.print);
        assert_eq!(cli.test, 1);
        assert_eq!(cli.config, vec![OsString::from("a.conf")]);
    }

    /// Unknown options are refused.
    #[test]
    fn unknown_option_is_an_error() {
        assert!(Cli::parse_from_args(["wick", "-x"]).is_err());
    }
}
