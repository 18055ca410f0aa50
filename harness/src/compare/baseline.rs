//! Named baselines: results folders kept under `results/baselines/NAME/` by
//! `lanebench run --save-baseline NAME` and read by `lanebench compare --baseline NAME`.
//! A baseline is replaced as a whole: the copy is made beside it, then renamed into place.

use std::path::{Path, PathBuf};

/// Why a baseline cannot be saved or found.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("baseline name {0:?}: use letters, digits, '.', '_' and '-' (not starting with '.')")]
    BadName(String),
    #[error("baseline {name:?}: not found in {}", dir.display())]
    NotFound { name: String, dir: PathBuf },
    #[error("baseline {name:?}: cannot save to {}: {source}", dir.display())]
    Save {
        name: String,
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Checks that `name` is usable as one folder name.
pub fn check_name(name: &str) -> Result<(), BaselineError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(BaselineError::BadName(name.to_string()))
    }
}

/// `results/baselines` inside the repository holding `targets_dir`.
pub fn default_dir(targets_dir: &Path) -> PathBuf {
    targets_dir
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("results")
        .join("baselines")
}

/// The folder of baseline `name`, which must exist.
pub fn find(baselines_dir: &Path, name: &str) -> Result<PathBuf, BaselineError> {
    check_name(name)?;
    let dir = baselines_dir.join(name);
    if dir.join("results.json").is_file() {
        Ok(dir)
    } else {
        Err(BaselineError::NotFound {
            name: name.to_string(),
            dir: baselines_dir.to_path_buf(),
        })
    }
}

/// Copies the results folder `from` to `baselines_dir/name`, replacing an existing
/// baseline of that name. Readers see the old or the new folder, never a partial copy.
pub fn save(from: &Path, baselines_dir: &Path, name: &str) -> Result<PathBuf, BaselineError> {
    check_name(name)?;
    let fail = |source| BaselineError::Save {
        name: name.to_string(),
        dir: baselines_dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(baselines_dir).map_err(fail)?;
    // Fresh folders under unpredictable names: a folder or link planted at a name
    // derived from the pid would receive the copy or be swapped in as the baseline.
    let fresh = |kind: &str| {
        tempfile::Builder::new()
            .prefix(&format!(".{name}.{kind}-"))
            .tempdir_in(baselines_dir)
    };
    let staging = fresh("new").map_err(fail)?;
    let dest = baselines_dir.join(name);
    let result = (|| {
        copy_tree(from, staging.path())?;
        let retired = fresh("old")?;
        // A folder cannot be renamed over a non-empty one: move the old one aside (onto
        // the empty `retired`) first; dropping `retired` removes it.
        if dest.exists() {
            std::fs::rename(&dest, retired.path())?;
        }
        if let Err(e) = std::fs::rename(staging.path(), &dest) {
            if !dest.exists() {
                let _ = std::fs::rename(retired.path(), &dest);
                let _ = retired.keep();
            }
            return Err(e);
        }
        Ok(())
    })();
    result.map_err(fail)?;
    // Renamed away: nothing is left to remove at its old name.
    let _ = staging.keep();
    Ok(dest)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_safe_folder_names() {
        assert!(check_name("main-2024.1_a").is_ok());
        for bad in ["", ".hidden", "a/b", "..", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    /// Issue 20 (the same class as the atomic write's temp file): the staging folder
    /// was `.NAME.new-<pid>`, created with `create_dir_all`, so a link planted there
    /// received the copy.
    #[test]
    fn a_link_planted_at_the_old_staging_name_receives_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("results.json"), "one").unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let baselines = dir.path().join("baselines");
        std::fs::create_dir_all(&baselines).unwrap();
        let planted = baselines.join(format!(".main.new-{}", std::process::id()));
        std::os::unix::fs::symlink(&elsewhere, &planted).unwrap();
        let dest = save(&run, &baselines, "main").unwrap();
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        assert_eq!(
            std::fs::read_to_string(dest.join("results.json")).unwrap(),
            "one"
        );
        assert!(dest.symlink_metadata().unwrap().is_dir());
    }

    #[test]
    fn save_replaces_an_existing_baseline_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir_all(run.join("sub")).unwrap();
        std::fs::write(run.join("results.json"), "one").unwrap();
        std::fs::write(run.join("sub/x"), "x").unwrap();
        let baselines = dir.path().join("baselines");
        save(&run, &baselines, "main").unwrap();
        std::fs::write(run.join("results.json"), "two").unwrap();
        std::fs::remove_dir_all(run.join("sub")).unwrap();
        let dest = save(&run, &baselines, "main").unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("results.json")).unwrap(),
            "two"
        );
        assert!(!dest.join("sub").exists());
        let names: Vec<_> = std::fs::read_dir(&baselines)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("main")]);
        assert_eq!(find(&baselines, "main").unwrap(), dest);
        assert!(find(&baselines, "other").is_err());
    }
}
