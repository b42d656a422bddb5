//! The upstream lighttpd configuration files
//! (`shared/compat/corpus/lighttpd-upstream`, see its README) as a parse
//! corpus: wherever lighttpd accepts a file, `wick -p` must print the same
//! bytes (minus `var.CWD`/`var.PID`); wherever lighttpd rejects it, wick
//! must reject it too (non-zero exit, no crash).
//!
//! Three passes:
//! * every file as-is, run from its own directory;
//! * `doc/config` assembled: a scratch copy with `/etc/lighttpd` pointing at
//!   the copy and user/group `www-data`, then the annotated config alone,
//!   the copy's `lighttpd.conf`, and the annotated config plus each
//!   `conf.d`/`vhosts.d` fragment;
//! * `tests/*.conf` with the test-suite environment (`SRCDIR`, `PERL`,
//!   `EPHEMERAL_PORT`, …) in a scratch `SRCDIR`.
//!
//! `tests/condition.conf` uses the 1.4.74+ `if`/`elif`/`elsif`/`elseif`/
//! `else if` keywords that 1.4.69 misparses and wick accepts on purpose
//! (spec §9.7): wick must accept it, and its output is compared with
//! lighttpd's output for the same file spelled with 1.4.69 keywords.
//!
//! A summary line per file is written to stderr (not captured).

use std::fs;
use std::path::{Path, PathBuf};

use compat_tests::{
    Cmd, Output, announce, base_env, compare_print, copy_dir, files_with_suffix, first_message,
    lighttpd_or_skip, run_oracle, shared_dir, strip_cwd_pid, wick_bin,
};
use tempfile::TempDir;

/// The file using the 1.4.74+ condition keywords.
const MODERN_KEYWORDS_FILE: &str = "condition.conf";

fn corpus_root() -> PathBuf {
    let root = shared_dir()
        .join("compat")
        .join("corpus")
        .join("lighttpd-upstream");
    assert!(root.is_dir(), "upstream corpus missing: {}", root.display());
    root
}

/// `-p -f <file name>` from the file's directory, in the minimal fixed
/// environment plus `extra_env`.
fn print_cmd(file: &Path, extra_env: &[(String, String)]) -> Cmd {
    let dir = file.parent().expect("corpus files live in a directory");
    let name = file.file_name().expect("corpus files have a name");
    Cmd::new("(set per run)")
        .args(["-p", "-f"])
        .arg(name)
        .cwd(dir)
        .env_clear()
        .envs(base_env())
        .envs(extra_env.iter().cloned())
}

fn scratch_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("wick-upstream-")
        .tempdir()
        .expect("create a scratch directory in the system temp dir")
}

fn rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------
// Comparing one file and keeping the per-file summary

#[derive(Default)]
struct Tally {
    compared: usize,
    both_reject: usize,
    skipped: usize,
    failed: usize,
}

struct Comparison {
    title: String,
    lighttpd: PathBuf,
    wick: PathBuf,
    lines: Vec<String>,
    failures: Vec<String>,
    tally: Tally,
}

impl Comparison {
    fn new(title: &str, lighttpd: PathBuf) -> Self {
        Comparison {
            title: title.to_string(),
            lighttpd,
            wick: wick_bin(),
            lines: Vec::new(),
            failures: Vec::new(),
            tally: Tally::default(),
        }
    }

    fn line(&mut self, verdict: &str, name: &str, detail: &str) {
        self.lines.push(format!("  {verdict:<12} {name}: {detail}"));
    }

    fn fail(&mut self, name: &str, short: &str, details: String) {
        self.tally.failed += 1;
        self.line("FAILED", name, short);
        self.failures.push(format!("=== {name}: {details}"));
    }

    fn skip(&mut self, name: &str, reason: &str) {
        self.tally.skipped += 1;
        self.line("skipped", name, reason);
    }

    /// Runs the oracle; `None` (after recording a skip) when it timed out or
    /// kept crashing, since then there is nothing to compare against.
    fn oracle(&mut self, name: &str, cmd: &Cmd) -> Option<Output> {
        let out = run_oracle(&cmd.with_program(&self.lighttpd)).expect("lighttpd can be started");
        if out.timed_out || out.signal().is_some() {
            let reason = format!(
                "lighttpd {} (no verdict to compare against)",
                out.status_text()
            );
            self.skip(name, &reason);
            return None;
        }
        Some(out)
    }

    fn wick(&self, cmd: &Cmd) -> Output {
        cmd.with_program(&self.wick)
            .run()
            .expect("wick can be started")
    }

    /// The general rule: same `-p` output where lighttpd accepts, a
    /// rejection where it rejects.
    fn check(&mut self, name: &str, cmd: &Cmd) {
        let Some(oracle) = self.oracle(name, cmd) else {
            return;
        };
        let wick = self.wick(cmd);
        if oracle.success() {
            self.expect_same(name, &oracle, &wick, "");
        } else {
            self.expect_rejection(name, &oracle, &wick);
        }
    }

    /// For a file in the 1.4.74+ dialect: wick must accept `cmd`; its output
    /// must equal lighttpd's for `translated` (the same file with 1.4.69
    /// keywords) — or for `cmd` itself if this lighttpd accepts it.
    fn check_modern(&mut self, name: &str, cmd: &Cmd, translated: &Cmd) {
        let Some(original) = self.oracle(name, cmd) else {
            return;
        };
        let (oracle, note) = if original.success() {
            (
                original,
                " (this lighttpd accepts the 1.4.74+ keywords itself)".to_string(),
            )
        } else {
            let Some(oracle) = self.oracle(name, translated) else {
                return;
            };
            if !oracle.success() {
                let details = format!(
                    "lighttpd rejects the 1.4.69 spelling of the file, the harness's \
                     keyword translation is wrong:\n{}",
                    oracle.report()
                );
                self.fail(name, "keyword translation rejected by lighttpd", details);
                return;
            }
            let why = first_message(&original.stderr).unwrap_or_default();
            (
                oracle,
                format!(
                    " (1.4.74+ keywords: compared with lighttpd on the 1.4.69 spelling; \
                     lighttpd rejects the original: {why})"
                ),
            )
        };
        let wick = self.wick(cmd);
        if !wick.success() {
            let details = format!(
                "wick must accept the 1.4.74+ condition keywords (if, elif, elsif, elseif, \
                 else if; spec §9.7) but {}:\n{}",
                wick.status_text(),
                wick.report()
            );
            let short = format!(
                "1.4.74+ keywords: wick must accept, got {}",
                wick.status_text()
            );
            self.fail(name, &short, details);
            return;
        }
        self.expect_same(name, &oracle, &wick, &note);
    }

    fn expect_same(&mut self, name: &str, oracle: &Output, wick: &Output, note: &str) {
        match compare_print(oracle, wick) {
            Ok(()) => {
                self.tally.compared += 1;
                let lines = strip_cwd_pid(&oracle.stdout)
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                self.line("compared", name, &format!("identical, {lines} lines{note}"));
            }
            Err(why) => {
                let short = if wick.success() {
                    "-p output differs".to_string()
                } else {
                    format!("lighttpd accepts, wick {}", wick.status_text())
                };
                self.fail(name, &short, why);
            }
        }
    }

    fn expect_rejection(&mut self, name: &str, oracle: &Output, wick: &Output) {
        let lighttpd_says = first_message(&oracle.stderr).unwrap_or_else(|| "(no message)".into());
        if wick.is_rejection() {
            self.tally.both_reject += 1;
            let wording = if wick.stderr_text().contains(&lighttpd_says) {
                "same key phrase".to_string()
            } else {
                format!(
                    "wick says: {}",
                    first_message(&wick.stderr).unwrap_or_else(|| "(nothing)".into())
                )
            };
            let code = match (oracle.code(), wick.code()) {
                (Some(a), Some(b)) if a != b => format!(", exit {b} vs lighttpd's {a}"),
                _ => String::new(),
            };
            self.line(
                "both reject",
                name,
                &format!("lighttpd: {lighttpd_says} | {wording}{code}"),
            );
        } else {
            let details = format!(
                "lighttpd rejects this config ({}: {lighttpd_says}) but wick {}\n{}\n  wick stdout (first lines):\n{}",
                oracle.status_text(),
                if wick.success() {
                    "accepts it".to_string()
                } else {
                    format!("did not reject it cleanly ({})", wick.status_text())
                },
                wick.report(),
                head(&wick.stdout_text(), 10)
            );
            let short = format!(
                "lighttpd rejects ({lighttpd_says}), wick {}",
                wick.status_text()
            );
            self.fail(name, &short, details);
        }
    }

    /// Announces the summary; panics with every failure's details.
    fn finish(self) {
        let t = &self.tally;
        let total = format!(
            "{} compared, {} rejected by both, {} skipped, {} failed",
            t.compared, t.both_reject, t.skipped, t.failed
        );
        announce(&format!(
            "\n{} (wick: {}, lighttpd: {})\n{}\n  => {total}\n",
            self.title,
            self.wick.display(),
            self.lighttpd.display(),
            self.lines.join("\n")
        ));
        if !self.failures.is_empty() {
            panic!(
                "{}: {total}\n{}\n\n{}",
                self.title,
                self.lines.join("\n"),
                self.failures.join("\n\n")
            );
        }
    }
}

fn head(text: &str, n: usize) -> String {
    let mut lines: Vec<String> = text.lines().take(n).map(|l| format!("    {l}")).collect();
    if lines.is_empty() {
        lines.push("    (empty)".into());
    }
    lines.join("\n")
}

// ---------------------------------------------------------------------------
// Pass 1: every file as-is

#[test]
fn upstream_files_as_is() {
    let Some(lighttpd) = lighttpd_or_skip("upstream_files_as_is") else {
        return;
    };
    let root = corpus_root();
    let files = files_with_suffix(&root, &[".conf", ".template"]).expect("list the corpus");
    let templates = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "template"))
        .count();
    assert_eq!(
        templates,
        2,
        "expected mod.template and vhosts.template in {}",
        root.display()
    );
    assert!(
        files.len() > 20,
        "only {} files under {}",
        files.len(),
        root.display()
    );

    let mut cmp = Comparison::new(
        &format!("upstream corpus, each file as-is ({})", root.display()),
        lighttpd,
    );
    for file in &files {
        // As-is, condition.conf fails on the undefined env.SRCDIR before any
        // 1.4.74+ keyword matters, so the general rule applies here; the
        // keywords are checked in `upstream_test_suite_assembled`.
        cmp.check(&rel(file, &root), &print_cmd(file, &[]));
    }
    cmp.finish();
}

// ---------------------------------------------------------------------------
// Pass 2: doc/config assembled around lighttpd.annotated.conf

/// Replaces every `/etc/lighttpd` in the copy's config files by the copy's
/// own path, and the `lighttpd` account by `www-data`. Returns how many
/// files mention `/etc/lighttpd` (so upstream changes are noticed).
fn retarget_doc_config(conf_dir: &Path) -> usize {
    let conf_dir_str = conf_dir.to_str().expect("temp path is valid UTF-8");
    assert!(
        !conf_dir_str.contains(['"', '\\']),
        "scratch path unusable in a config string: {conf_dir_str}"
    );
    let mut rewritten = 0;
    for file in files_with_suffix(conf_dir, &[".conf", ".template"]).expect("list the copy") {
        let text =
            fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        if text.contains("/etc/lighttpd") {
            rewritten += 1;
            fs::write(&file, text.replace("/etc/lighttpd", conf_dir_str))
                .unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        }
    }

    let annotated = conf_dir.join("lighttpd.annotated.conf");
    let text = fs::read_to_string(&annotated)
        .unwrap_or_else(|e| panic!("read {}: {e}", annotated.display()));
    let mut accounts = 0;
    let text: String = text
        .split_inclusive('\n')
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            if key == "server.username" || key == "server.groupname" {
                accounts += 1;
                format!("{key} = \"www-data\"\n")
            } else {
                line.to_string()
            }
        })
        .collect();
    assert_eq!(
        accounts,
        2,
        "expected one active server.username and one server.groupname in {}",
        annotated.display()
    );
    fs::write(&annotated, text).unwrap_or_else(|e| panic!("write {}: {e}", annotated.display()));
    rewritten
}

#[test]
fn upstream_annotated_config_assembled() {
    let Some(lighttpd) = lighttpd_or_skip("upstream_annotated_config_assembled") else {
        return;
    };
    let root = corpus_root();
    let scratch = scratch_dir();
    let conf_dir = scratch.path().join("config");
    copy_dir(&root.join("doc").join("config"), &conf_dir).expect("copy doc/config");
    let rewritten = retarget_doc_config(&conf_dir);
    assert!(
        rewritten >= 2,
        "expected lighttpd.conf and lighttpd.annotated.conf to mention /etc/lighttpd"
    );

    let mut cmp = Comparison::new(
        &format!(
            "upstream doc/config assembled (copy in {})",
            conf_dir.display()
        ),
        lighttpd,
    );
    let annotated = conf_dir.join("lighttpd.annotated.conf");
    cmp.check("lighttpd.annotated.conf", &print_cmd(&annotated, &[]));
    // The copy's lighttpd.conf includes the copy's annotated config by glob
    // and an empty conf-enabled/*.conf glob.
    cmp.check(
        "lighttpd.conf",
        &print_cmd(&conf_dir.join("lighttpd.conf"), &[]),
    );

    // Each fragment on top of the annotated config (the way the annotated
    // config's own comments suggest enabling them). Fragments it already
    // includes fail with `Duplicate config variable`, for both.
    let mut fragments =
        files_with_suffix(&conf_dir.join("conf.d"), &[".conf", ".template"]).expect("list conf.d");
    fragments.extend(
        files_with_suffix(&conf_dir.join("vhosts.d"), &[".conf", ".template"])
            .expect("list vhosts.d"),
    );
    assert!(
        !fragments.is_empty(),
        "no fragments in {}",
        conf_dir.display()
    );
    for fragment in &fragments {
        let fragment_rel = rel(fragment, &conf_dir);
        let stem = fragment_rel.replace(['/', '.'], "_");
        let wrapper = conf_dir.join(format!("with_{stem}.conf"));
        fs::write(
            &wrapper,
            format!("include \"lighttpd.annotated.conf\"\ninclude \"{fragment_rel}\"\n"),
        )
        .unwrap_or_else(|e| panic!("write {}: {e}", wrapper.display()));
        cmp.check(
            &format!("lighttpd.annotated.conf + {fragment_rel}"),
            &print_cmd(&wrapper, &[]),
        );
    }
    cmp.finish();
}

// ---------------------------------------------------------------------------
// Pass 3: tests/*.conf in the upstream test-suite environment

/// `condition.conf` spelled for 1.4.69: a leading `if` before `$` is
/// dropped, `elif`/`elsif`/`elseif`/`else if` become `else` (what 1.4.74+
/// means by them, spec §9.7). Returns the text and the number of keywords
/// replaced.
fn to_1469_keywords(text: &str) -> (String, usize) {
    let mut replaced = 0;
    let out = text
        .split_inclusive('\n')
        .map(|line| {
            let body = line.trim_start();
            let indent = &line[..line.len() - body.len()];
            for (keyword, replacement) in [
                ("if ", ""),
                ("elif ", "else "),
                ("elsif ", "else "),
                ("elseif ", "else "),
                ("else if ", "else "),
            ] {
                let Some(rest) = body.strip_prefix(keyword) else {
                    continue;
                };
                if rest.trim_start().starts_with('$') {
                    replaced += 1;
                    return format!("{indent}{replacement}{}", rest.trim_start());
                }
            }
            line.to_string()
        })
        .collect();
    (out, replaced)
}

#[test]
fn upstream_test_suite_assembled() {
    let Some(lighttpd) = lighttpd_or_skip("upstream_test_suite_assembled") else {
        return;
    };
    let root = corpus_root();
    let scratch = scratch_dir();
    let srcdir = scratch.path().to_path_buf();
    let srcdir_str = srcdir
        .to_str()
        .expect("temp path is valid UTF-8")
        .to_string();
    copy_dir(&root.join("tests"), &srcdir).expect("copy tests/");
    for dir in [
        "tmp/lighttpd/servers/www.example.org/pages",
        "tmp/lighttpd/servers/123.example.org/pages",
        "tmp/lighttpd/logs",
        "tmp/lighttpd/cache/compress",
    ] {
        fs::create_dir_all(srcdir.join(dir))
            .unwrap_or_else(|e| panic!("create {}/{dir}: {e}", srcdir.display()));
    }
    let env: Vec<(String, String)> = [
        ("SRCDIR", srcdir_str.as_str()),
        ("PERL", "/usr/bin/perl"),
        ("EPHEMERAL_PORT", "10000"),
        // used by var-include-sub.conf (upstream's tests set it too)
        ("env_test", "good_env"),
        // condition.conf includes this from its last else-if branch, which
        // defines what var-include-sub.conf needs
        ("condition_include_file", "var-include-sub.conf"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();

    // 1.4.69 spelling of condition.conf, beside it (same directory, same
    // relative include).
    let modern = srcdir.join(MODERN_KEYWORDS_FILE);
    let text =
        fs::read_to_string(&modern).unwrap_or_else(|e| panic!("read {}: {e}", modern.display()));
    let (old_style, replaced) = to_1469_keywords(&text);
    assert!(
        replaced >= 5,
        "expected if/elif/elsif/elseif/else if in {}, replaced {replaced}",
        modern.display()
    );
    let translated = srcdir.join("condition.1469-keywords.conf-translated");
    fs::write(&translated, old_style)
        .unwrap_or_else(|e| panic!("write {}: {e}", translated.display()));

    // var-include-sub.conf included the way condition.conf includes it, but
    // without the new keywords.
    let wrapper = srcdir.join("var-include-wrapper.conf-generated");
    fs::write(
        &wrapper,
        "$HTTP[\"host\"] == \"wrapper.example.org\" {\n\
         \tserver.name = \"wrapper.example.org\"\n\
         \tvar.myvar = \"good\"\n\
         \tvar.one = 1\n\
         \tinclude \"var-include-sub.conf\"\n\
         }\n",
    )
    .unwrap_or_else(|e| panic!("write {}: {e}", wrapper.display()));

    let mut cmp = Comparison::new(
        &format!("upstream tests/*.conf with the test-suite environment (SRCDIR={srcdir_str})"),
        lighttpd,
    );
    let files = files_with_suffix(&srcdir, &[".conf"]).expect("list the copy of tests/");
    assert!(
        files.len() >= 6,
        "expected the tests/*.conf files in {}",
        srcdir.display()
    );
    for file in &files {
        let name = format!("tests/{}", rel(file, &srcdir));
        let cmd = print_cmd(file, &env);
        if file.file_name().is_some_and(|n| n == MODERN_KEYWORDS_FILE) {
            cmp.check_modern(&name, &cmd, &print_cmd(&translated, &env));
        } else {
            cmp.check(&name, &cmd);
        }
    }
    cmp.check(
        "var-include-sub.conf included from a block (generated wrapper)",
        &print_cmd(&wrapper, &env),
    );
    cmp.finish();
}

#[test]
fn keyword_translation_keeps_layout() {
    let (out, n) = to_1469_keywords(
        "if $HTTP[\"host\"] == \"a\" {\n}\nelif $X {\n}\n  else if  $Y {\n}\nelse {\n}\nifx = 1\n",
    );
    assert_eq!(n, 3);
    assert_eq!(
        out,
        "$HTTP[\"host\"] == \"a\" {\n}\nelse $X {\n}\n  else $Y {\n}\nelse {\n}\nifx = 1\n"
    );
}
