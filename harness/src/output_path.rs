//! Checking where results will go before any work starts: a load or a run that cannot
//! save what it measured should fail in its first second, not after ten minutes, and the
//! message names the path.
//!
//! A folder that does not exist yet is fine when the nearest folder above it that does
//! exist can be written in (the writer creates the rest). Writability is proved by
//! creating and removing a temporary file there, which also covers read-only mounts and
//! root, for whom permission bits say nothing.

use std::path::{Path, PathBuf};

/// A path results cannot be written to.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct OutputPathError {
    /// The path as given.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// Checks that a file can be written (atomically: a temporary file beside it, then a
/// rename) at `path`.
pub fn check_output_file(path: &Path) -> Result<(), OutputPathError> {
    let fail = |problem: String| OutputPathError {
        path: path.to_path_buf(),
        problem,
    };
    let text = path.as_os_str().as_encoded_bytes();
    if text.is_empty() {
        return Err(fail("the path is empty".into()));
    }
    if path.is_dir() || text.ends_with(b"/") {
        return Err(fail("is a directory; give a file name".into()));
    }
    if let Ok(meta) = std::fs::metadata(path) {
        // A rename over a device or a FIFO would replace it, not write into it.
        if !meta.is_file() {
            return Err(fail("exists and is not a regular file".into()));
        }
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    check_writable_folder(parent).map_err(fail)
}

/// Checks that `path` is, or can be created as, a folder that files can be written in.
pub fn check_output_dir(path: &Path) -> Result<(), OutputPathError> {
    let fail = |problem: String| OutputPathError {
        path: path.to_path_buf(),
        problem,
    };
    if path.as_os_str().is_empty() {
        return Err(fail("the path is empty".into()));
    }
    if path.exists() && !path.is_dir() {
        return Err(fail("exists and is not a directory".into()));
    }
    check_writable_folder(path).map_err(fail)
}

/// `dir` or, when it does not exist, its nearest existing ancestor must be a folder in
/// which a file can be created.
fn check_writable_folder(dir: &Path) -> Result<(), String> {
    let existing = dir
        .ancestors()
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.symlink_metadata().is_ok())
        .unwrap_or(Path::new("."));
    if !existing.is_dir() {
        return Err(format!("{} is not a directory", existing.display()));
    }
    tempfile::Builder::new()
        .prefix(".lanebench-write-check-")
        .tempfile_in(existing)
        .map(drop)
        .map_err(|e| format!("cannot write in {}: {e}", existing.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_directories_and_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("afile");
        std::fs::write(&file, "x").unwrap();
        assert!(check_output_file(&dir.path().join("new/deeper/out.json")).is_ok());
        assert!(
            check_output_file(&file).is_ok(),
            "an existing file is replaced"
        );
        let err = check_output_file(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with(&dir.path().display().to_string()), "{err}");
        assert!(err.contains("is a directory"), "{err}");
        let err = check_output_file(&file.join("out.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("afile is not a directory"), "{err}");
        assert!(check_output_file(Path::new("/dev/null")).is_err());

        assert!(check_output_dir(&dir.path().join("new/run")).is_ok());
        assert!(check_output_dir(dir.path()).is_ok());
        let err = check_output_dir(&file).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{}: exists and is not a directory", file.display())
        );
        // The check leaves nothing behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
