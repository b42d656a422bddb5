//! The configuration-language conformance corpus (`shared/compat/config`),
//! run through the corpus' own `check.sh` against `wick -p -f`.
//!
//! `WICK_CONFIG_CASE_DIR` points `check.sh` at another case directory (same
//! layout); `CHECK_TIMEOUT` (seconds per case, default here 5) is passed on.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use compat_tests::{Cmd, Output, announce, lighttpd_or_skip, shared_dir, wick_bin};

/// Number of cases in the public corpus when this test was written; fewer
/// means the wrong directory (or a damaged checkout).
const PUBLIC_CASES: usize = 77;
/// Lines of the `VERBOSE=1` re-run kept in a failure message.
const MAX_VERBOSE_LINES: usize = 400;
/// More timed-out cases than this and the `VERBOSE=1` re-run is skipped.
const MAX_HUNG_FOR_RERUN: usize = 3;

struct Corpus {
    script: PathBuf,
    dir: PathBuf,
    cases: usize,
}

fn corpus() -> Corpus {
    let config = shared_dir().join("compat").join("config");
    let script = config.join("check.sh");
    assert!(
        script.is_file(),
        "corpus script missing: {}",
        script.display()
    );
    let (dir, public) = match env::var("WICK_CONFIG_CASE_DIR") {
        Ok(dir) if !dir.is_empty() => (PathBuf::from(dir), false),
        _ => (config, true),
    };
    let cases = count_cases(&dir);
    if public {
        assert!(
            cases >= PUBLIC_CASES,
            "{} holds {cases} cases, expected at least {PUBLIC_CASES}",
            dir.display()
        );
    } else {
        assert!(cases > 0, "no NNN-*.conf cases in {}", dir.display());
    }
    Corpus { script, dir, cases }
}

/// Top-level `[0-9][0-9][0-9]-*.conf` files, as `check.sh` selects them.
fn count_cases(dir: &Path) -> usize {
    let entries = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list case directory {}: {e}", dir.display()));
    entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let b = name.as_bytes();
            let is_case = b.len() >= 9
                && b[..3].iter().all(u8::is_ascii_digit)
                && b[3] == b'-'
                && name.ends_with(".conf");
            is_case.then_some(())
        })
        .count()
}

fn per_case_timeout() -> u64 {
    env::var("CHECK_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&s: &u64| s > 0)
        .unwrap_or(5)
}

fn run_check(corpus: &Corpus, program: &Path, strict: bool, verbose: bool) -> Output {
    let program = program.to_str().expect("binary path is valid UTF-8");
    assert!(
        !program.contains(char::is_whitespace),
        "check.sh splits its command on blanks; binary path has one: {program:?}"
    );
    let per_case = per_case_timeout();
    let overall = Duration::from_secs((corpus.cases as u64 + 1) * (per_case + 1) + 60);
    Cmd::new("bash")
        .arg(&corpus.script)
        .arg(format!("{program} -p -f"))
        .arg(&corpus.dir)
        .env("CHECK_STRICT", if strict { "1" } else { "0" })
        .env("VERBOSE", if verbose { "1" } else { "0" })
        .env("CHECK_TIMEOUT", per_case.to_string())
        .timeout(overall)
        .run()
        .unwrap_or_else(|e| panic!("cannot run the corpus checker: {e}"))
}

/// `(passed, failed)` from the final `N passed, M failed` line.
fn summary(out: &Output) -> Option<(usize, usize)> {
    let text = out.stdout_text();
    tally(text.lines().rev().find(|l| !l.trim().is_empty())?)
}

/// Parses `N passed, M failed`.
fn tally(line: &str) -> Option<(usize, usize)> {
    let (passed, failed) = line.trim().split_once(", ")?;
    let passed = passed.strip_suffix(" passed")?.parse().ok()?;
    let failed = failed.strip_suffix(" failed")?.parse().ok()?;
    Some((passed, failed))
}

fn fail_lines(out: &Output) -> Vec<String> {
    out.stdout_text()
        .lines()
        .filter(|l| l.starts_with("FAIL "))
        .map(str::to_string)
        .collect()
}

fn passed_all(corpus: &Corpus, out: &Output) -> bool {
    out.success() && summary(out) == Some((corpus.cases, 0))
}

/// Runs the corpus with `program`; on failure re-runs with `VERBOSE=1` and
/// panics with both outputs.
fn check(label: &str, program: &Path, strict: bool) {
    let corpus = corpus();
    let out = run_check(&corpus, program, strict, false);
    if passed_all(&corpus, &out) {
        announce(&format!(
            "config corpus ({label}): {} passed, 0 failed",
            corpus.cases
        ));
        return;
    }
    panic!("{}", failure_report(label, &corpus, program, strict, &out));
}

fn failure_report(
    label: &str,
    corpus: &Corpus,
    program: &Path,
    strict: bool,
    out: &Output,
) -> String {
    let fails = fail_lines(out);
    // check.sh reports a case killed by `timeout` as exit status 124; when
    // many cases hang, a second run would only hang again.
    let hung = fails
        .iter()
        .filter(|l| l.contains("exit status 124"))
        .count();
    let verbose_text = if hung > MAX_HUNG_FOR_RERUN {
        format!(
            "(skipped: {hung} cases timed out after {}s)",
            per_case_timeout()
        )
    } else {
        run_check(corpus, program, strict, true)
            .stdout_text()
            .into_owned()
    };
    // PASS lines and the final tally add nothing here
    let verbose_lines: Vec<&str> = verbose_text
        .lines()
        .filter(|l| !l.starts_with("PASS ") && tally(l).is_none())
        .collect();
    let shown = verbose_lines.len().min(MAX_VERBOSE_LINES);
    let last = out
        .stdout_text()
        .lines()
        .last()
        .unwrap_or("(no output)")
        .to_string();
    let mut msg = format!(
        "config corpus ({label}) failed: want `{} passed, 0 failed`, got `{last}` ({})\n\
         command: {}\n\
         {} failing case(s); VERBOSE=1 re-run (diff against the .expected file, \
         or stderr for cases lighttpd rejects):\n{}",
        corpus.cases,
        out.status_text(),
        out.command,
        fails.len(),
        verbose_lines[..shown].join("\n"),
    );
    if verbose_lines.len() > shown {
        msg.push_str(&format!(
            "\n… {} more lines; all failing cases:\n  {}",
            verbose_lines.len() - shown,
            fails.join("\n  ")
        ));
    }
    if !out.stderr.is_empty() {
        msg.push_str(&format!("\nchecker stderr:\n{}", out.stderr_head(20)));
    }
    msg
}

#[test]
fn config_corpus_passes() {
    check("wick", &wick_bin(), false);
}

/// `CHECK_STRICT=1`: rejected cases must also exit 255 and print lighttpd's
/// key phrase on stderr (wick reproduces those phrases on purpose).
#[test]
fn config_corpus_passes_strict() {
    check("wick, CHECK_STRICT=1", &wick_bin(), true);
}

/// The oracle files still describe the installed lighttpd. A run that
/// fails only through lighttpd dying from a signal (its rare `-p` heap
/// overflow, spec §12.4; check.sh reports exit status 128+N) is repeated
/// once.
#[test]
fn config_corpus_oracle_self_test() {
    let Some(lighttpd) = lighttpd_or_skip("config_corpus_oracle_self_test") else {
        return;
    };
    let corpus = corpus();
    let first = run_check(&corpus, &lighttpd, true, false);
    if passed_all(&corpus, &first) {
        announce(&format!(
            "config corpus (lighttpd self-test, strict): {} passed, 0 failed",
            corpus.cases
        ));
        return;
    }
    let crash_only = fail_lines(&first).iter().all(|l| {
        l.split("exit status ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|code| code.parse::<u32>().ok())
            .is_some_and(|code| code > 128)
    });
    if crash_only {
        let again = run_check(&corpus, &lighttpd, true, false);
        if passed_all(&corpus, &again) {
            announce(&format!(
                "config corpus (lighttpd self-test): passed on the second run; first run: {}",
                fail_lines(&first).join("; ")
            ));
            return;
        }
    }
    panic!(
        "{}",
        failure_report(
            "lighttpd self-test, strict",
            &corpus,
            &lighttpd,
            true,
            &first
        )
    );
}
