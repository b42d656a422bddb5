//! Debian's stock `/etc/lighttpd/lighttpd.conf` (with its `include_shell`
//! of `use-ipv6.pl` and `create-mime.conf.pl` and the `conf-enabled/` glob):
//! wick must read it exactly like lighttpd. Both run from `/etc/lighttpd`
//! with the same minimal environment ([`base_env`]).

use std::path::{Path, PathBuf};

use compat_tests::{
    Cmd, base_env, compare_print, lighttpd_or_skip, run_oracle, same_stdout, skip, wick_bin,
};

const STOCK_CONF: &str = "/etc/lighttpd/lighttpd.conf";

/// The oracle and a program-less command template, or `None` after a loud
/// skip (a failure under `WICK_REQUIRE_LIGHTTPD=1`).
fn setup(test: &str, args: &[&str]) -> Option<(PathBuf, Cmd)> {
    let lighttpd = lighttpd_or_skip(test)?;
    let conf = Path::new(STOCK_CONF);
    if !conf.is_file() {
        skip(
            test,
            &format!("{STOCK_CONF} is missing (Debian's lighttpd package installs it)"),
        );
        return None;
    }
    let dir = conf.parent().expect("an absolute file path has a parent");
    let cmd = Cmd::new("(set per run)")
        .args(args.iter().copied())
        .arg("-f")
        .arg(conf)
        .cwd(dir)
        .env_clear()
        .envs(base_env());
    Some((lighttpd, cmd))
}

#[test]
fn debian_stock_print_matches_lighttpd() {
    let Some((lighttpd, cmd)) = setup("debian_stock_print_matches_lighttpd", &["-p"]) else {
        return;
    };
    let oracle = run_oracle(&cmd.with_program(&lighttpd)).expect("lighttpd runs");
    assert!(
        oracle.success(),
        "lighttpd rejects the stock config, nothing to compare against:\n{}",
        oracle.report()
    );
    let wick = cmd.with_program(wick_bin()).run().expect("wick runs");
    if let Err(why) = compare_print(&oracle, &wick) {
        panic!("{STOCK_CONF}: {why}");
    }
}

/// `-t` prints `Syntax OK` on stdout and exits 0 for both.
#[test]
fn debian_stock_syntax_check_matches_lighttpd() {
    let Some((lighttpd, cmd)) = setup("debian_stock_syntax_check_matches_lighttpd", &["-t"]) else {
        return;
    };
    let oracle = run_oracle(&cmd.with_program(&lighttpd)).expect("lighttpd runs");
    assert!(
        oracle.success() && oracle.stdout == b"Syntax OK\n",
        "lighttpd -t did not print `Syntax OK` and exit 0:\n{}\n  stdout: {:?}",
        oracle.report(),
        oracle.stdout_text()
    );
    let wick = cmd.with_program(wick_bin()).run().expect("wick runs");
    assert!(
        wick.success(),
        "wick -t did not exit 0 ({}) on the stock config, lighttpd -t does:\n{}",
        wick.status_text(),
        wick.report()
    );
    if let Err(diff) = same_stdout("lighttpd -t", &oracle.stdout, "wick -t", &wick.stdout) {
        panic!("-t stdout differs ({}):\n{diff}", wick.command);
    }
}
