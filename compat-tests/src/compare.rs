//! Normalising `-p` output and explaining differences.

use crate::run::Output;

/// Context lines shown around a difference.
const CONTEXT: usize = 3;
/// Lines shown per side of a difference before it is cut.
const MAX_HUNK_LINES: usize = 40;

/// Removes the lines starting with `    var.CWD` and `    var.PID` (they hold
/// the working directory and process id), exactly like the corpus'
/// `grep -v -e '^    var\.CWD' -e '^    var\.PID'`.
pub fn strip_cwd_pid(output: &[u8]) -> Vec<u8> {
    output
        .split_inclusive(|&b| b == b'\n')
        .filter(|line| !line.starts_with(b"    var.CWD") && !line.starts_with(b"    var.PID"))
        .flatten()
        .copied()
        .collect()
}

/// Checks a wick `-p` run against an accepted lighttpd `-p` run: wick must
/// exit 0 and print the same bytes once the `var.CWD`/`var.PID` lines are
/// removed. The error explains the first difference.
pub fn compare_print(lighttpd: &Output, wick: &Output) -> Result<(), String> {
    debug_assert!(
        lighttpd.success(),
        "compare_print needs an accepted oracle run"
    );
    if !wick.success() {
        let mut msg = format!(
            "lighttpd accepts this config but wick does not ({}):\n{}",
            wick.status_text(),
            wick.report()
        );
        if let Some(reason) = first_message(&wick.stderr) {
            msg.push_str(&format!("\n  wick's first message: {reason}"));
        }
        return Err(msg);
    }
    same_stdout(
        "lighttpd -p (minus var.CWD/var.PID)",
        &strip_cwd_pid(&lighttpd.stdout),
        "wick -p (minus var.CWD/var.PID)",
        &strip_cwd_pid(&wick.stdout),
    )
    .map_err(|diff| {
        format!(
            "-p output differs\n  lighttpd: {}\n  wick:     {}\n{diff}",
            lighttpd.command, wick.command
        )
    })
}

/// `Ok` when `old` and `new` are byte-identical, else a [`text_diff`].
pub fn same_stdout(old_label: &str, old: &[u8], new_label: &str, new: &[u8]) -> Result<(), String> {
    if old == new {
        Ok(())
    } else {
        Err(text_diff(old_label, old, new_label, new))
    }
}

/// The first message of a lighttpd-style error log, without the
/// `YYYY-MM-DD HH:MM:SS: (file.c.123) ` prefix, for summaries.
pub fn first_message(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(strip_log_prefix(line).to_string())
}

fn strip_log_prefix(line: &str) -> &str {
    // "2026-11-21 10:20:36: (configfile.c.2259) include file not found: …"
    let bytes = line.as_bytes();
    let timestamp = bytes.len() > 21
        && bytes[..19].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        })
        && &bytes[19..21] == b": ";
    let rest = if timestamp { &line[21..] } else { line };
    match rest.strip_prefix('(').and_then(|r| r.split_once(") ")) {
        Some((origin, msg)) if !origin.contains(' ') => msg,
        _ => rest,
    }
}

/// A single-hunk unified-style diff: the common leading and trailing lines
/// are trimmed, the rest is shown with a few lines of context. Several
/// separate differences therefore appear as one hunk (cut after
/// [`MAX_HUNK_LINES`] lines per side). Control characters are escaped and
/// a missing final newline is marked, so invisible differences show.
pub fn text_diff(old_label: &str, old: &[u8], new_label: &str, new: &[u8]) -> String {
    if old == new {
        return "(no difference)".to_string();
    }
    let a: Vec<&[u8]> = old.split_inclusive(|&b| b == b'\n').collect();
    let b: Vec<&[u8]> = new.split_inclusive(|&b| b == b'\n').collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a_mid, b_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let start = prefix.saturating_sub(CONTEXT);
    let after = &a[a.len() - suffix..];
    let after = &after[..after.len().min(CONTEXT)];

    let mut out = format!("--- {old_label} ({} lines)\n", a.len());
    out.push_str(&format!("+++ {new_label} ({} lines)\n", b.len()));
    out.push_str(&format!(
        "@@ -{},{} +{},{} @@ first difference at line {}\n",
        start + 1,
        prefix - start + a_mid.len() + after.len(),
        start + 1,
        prefix - start + b_mid.len() + after.len(),
        prefix + 1
    ));
    for line in &a[start..prefix] {
        push_line(&mut out, ' ', line);
    }
    push_side(&mut out, '-', a_mid);
    push_side(&mut out, '+', b_mid);
    for line in after {
        push_line(&mut out, ' ', line);
    }
    if !a_mid.is_empty() && a_mid.len() == b_mid.len() {
        let trimmed = |l: &&[u8]| l.trim_ascii_end().to_vec();
        if a_mid.iter().map(trimmed).eq(b_mid.iter().map(trimmed)) {
            out.push_str("(the lines differ only in trailing whitespace / line ends)\n");
        }
    }
    out
}

fn push_side(out: &mut String, mark: char, lines: &[&[u8]]) {
    for line in lines.iter().take(MAX_HUNK_LINES) {
        push_line(out, mark, line);
    }
    if lines.len() > MAX_HUNK_LINES {
        out.push_str(&format!(
            "{mark}… {} more lines\n",
            lines.len() - MAX_HUNK_LINES
        ));
    }
}

fn push_line(out: &mut String, mark: char, line: &[u8]) {
    let (body, newline) = match line.strip_suffix(b"\n") {
        Some(body) => (body, true),
        None => (line, false),
    };
    out.push(mark);
    for c in String::from_utf8_lossy(body).chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    if !newline {
        out.push_str("\\ No newline at end of file\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_cwd_and_pid_lines() {
        let out = b"config {\n    var.CWD  = \"/x\"\n    var.PID  = 7\n    var.CWDX = 1\n  var.PID = 2\n}\n";
        assert_eq!(
            strip_cwd_pid(out),
            b"config {\n  var.PID = 2\n}\n".to_vec(),
            "indented exactly four spaces, any suffix"
        );
    }

    /// A last line without newline is kept as is.
    #[test]
    fn strip_keeps_unterminated_last_line() {
        assert_eq!(strip_cwd_pid(b"a\n    var.PID = 1\nb"), b"a\nb".to_vec());
        assert_eq!(strip_cwd_pid(b""), Vec::<u8>::new());
    }

    #[test]
    fn diff_shows_first_difference_with_context() {
        let old = b"1\n2\n3\n4\n5\n6\n7\n8\n";
        let new = b"1\n2\n3\n4\nfive\n6\n7\n8\n";
        let d = text_diff("old", old, "new", new);
        assert!(
            d.contains("@@ -2,7 +2,7 @@ first difference at line 5"),
            "{d}"
        );
        assert!(d.contains(" 4\n-5\n+five\n 6\n 7\n 8\n"), "{d}");
        assert!(!d.contains(" 1\n"), "{d}");
    }

    #[test]
    fn diff_handles_insertions_and_missing_newline() {
        let d = text_diff("old", b"a\nb\n", "new", b"a\nx\nb");
        assert!(
            d.contains(" a\n-b\n+x\n+b\n\\ No newline at end of file"),
            "{d}"
        );
    }

    #[test]
    fn diff_makes_whitespace_visible() {
        let d = text_diff("old", b"a = 1\n", "new", b"a = 1\r\n");
        assert!(d.contains("+a = 1\\r\n"), "{d}");
        assert!(d.contains("differ only in trailing whitespace"), "{d}");
    }

    #[test]
    fn diff_cuts_long_hunks() {
        let old: String = (0..100).map(|i| format!("{i}\n")).collect();
        let d = text_diff("old", old.as_bytes(), "new", b"");
        assert!(d.contains("-… 60 more lines"), "{d}");
    }

    #[test]
    fn first_message_strips_lighttpd_prefix() {
        let err = b"2026-11-21 10:20:36: (configfile.c.2259) include file not found: /x\n\
                    2026-11-21 10:20:36: (configfile.c.2164) source: a line: 1\n";
        assert_eq!(
            first_message(err).as_deref(),
            Some("include file not found: /x")
        );
        assert_eq!(
            first_message(b"\nUndefined config variable: var.x\nsource: ...").as_deref(),
            Some("Undefined config variable: var.x")
        );
        assert_eq!(first_message(b""), None);
    }
}
