//! Scratch copies of reference files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Copies the tree `src` into `dst` (created if needed). Symbolic links are
/// followed. Errors name the path that failed.
pub fn copy_dir(src: &Path, dst: &Path) -> io::Result<()> {
    fs::create_dir_all(dst).map_err(|e| with_path(e, "create", dst))?;
    let entries = fs::read_dir(src).map_err(|e| with_path(e, "read directory", src))?;
    for entry in entries {
        let entry = entry.map_err(|e| with_path(e, "read directory", src))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        if from.is_dir() {
            copy_dir(&from, &to)?;
        } else {
            fs::copy(&from, &to).map_err(|e| with_path(e, "copy", &from))?;
        }
    }
    Ok(())
}

/// Every file under `dir` (recursively) whose name ends with one of
/// `suffixes`, sorted by path.
pub fn files_with_suffix(dir: &Path, suffixes: &[&str]) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    collect(dir, suffixes, &mut found)?;
    found.sort();
    Ok(found)
}

fn collect(dir: &Path, suffixes: &[&str], found: &mut Vec<PathBuf>) -> io::Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| with_path(e, "read directory", dir))?;
    for entry in entries {
        let path = entry
            .map_err(|e| with_path(e, "read directory", dir))?
            .path();
        if path.is_dir() {
            collect(&path, suffixes, found)?;
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| suffixes.iter().any(|s| n.ends_with(s)))
        {
            found.push(path);
        }
    }
    Ok(())
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_a_tree_and_lists_by_suffix() {
        let scratch = tempfile::tempdir().expect("create a temp dir");
        let (src, dst) = (scratch.path().join("src"), scratch.path().join("dst"));
        fs::create_dir_all(src.join("sub")).expect("create scratch dir");
        fs::write(src.join("a.conf"), "a = 1\n").expect("write scratch file");
        fs::write(src.join("sub/b.template"), "b = 2\n").expect("write scratch file");
        fs::write(src.join("sub/c.txt"), "").expect("write scratch file");

        copy_dir(&src, &dst).expect("copy the tree");
        let files = files_with_suffix(&dst, &[".conf", ".template"]).expect("list the copy");
        assert_eq!(files, vec![dst.join("a.conf"), dst.join("sub/b.template")]);
        assert_eq!(
            fs::read_to_string(dst.join("a.conf")).expect("copied file"),
            "a = 1\n"
        );
    }
}
