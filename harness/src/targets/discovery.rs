//! Finding the targets folder, listing its targets and checking their tools.
//!
//! The folder is found by walking up from the current directory, so the harness works
//! from anywhere inside the repository; a compile-time fallback covers running the
//! binary from elsewhere on the machine it was built on. The walk stops at the
//! repository root: a manifest's commands are run, so a `targets/` folder above the
//! repository (someone else's, in a shared or home folder) must never be picked up.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::manifest::{Manifest, ManifestError};

/// File name of a target's manifest inside its folder.
pub const MANIFEST_FILE: &str = "target.toml";

/// A target: its manifest plus the folder it lives in.
#[derive(Debug, Clone)]
pub struct Target {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The target's folder (cwd for its build and run commands).
    pub dir: PathBuf,
}

impl Target {
    /// The target's unique name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The first tool in `requires` that is not on PATH, if any.
    pub fn missing_tool(&self) -> Option<&str> {
        first_missing_tool(&self.manifest.requires)
    }
}

/// Problems locating or reading the targets folder.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// An explicitly given targets folder does not exist.
    #[error("--targets-dir {}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// No targets folder was found by walking up or at the build-time location.
    #[error("no targets folder found above {} (looked for targets/ with CONTRACT.md or */target.toml); pass --targets-dir", .0.display())]
    NotFound(PathBuf),
    /// The folder could not be listed.
    #[error("{}: cannot list: {source}", path.display())]
    List {
        /// The folder.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Two folders declare the same name or a name differs from its folder.
    #[error("{}: `name` is {name:?} but the folder is {folder:?}; they must match", path.display())]
    NameMismatch {
        /// The manifest file.
        path: PathBuf,
        /// The declared name.
        name: String,
        /// The folder name.
        folder: String,
    },
}

/// Returns the targets folder: `explicit` if given, else the first `targets/` found
/// walking up from the current directory to the repository root, else the
/// repository's at build time.
pub fn find_targets_dir(explicit: Option<&Path>) -> Result<PathBuf, DiscoveryError> {
    if let Some(dir) = explicit {
        return if dir.is_dir() {
            Ok(dir.to_path_buf())
        } else {
            Err(DiscoveryError::NotADirectory(dir.to_path_buf()))
        };
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if let Some(found) = find_targets_upward(&cwd) {
        return Ok(found);
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets");
    if built_in.is_dir() {
        return Ok(built_in);
    }
    Err(DiscoveryError::NotFound(cwd))
}

/// The first `targets/` folder in `start` or a parent of it, up to the repository root.
pub fn find_targets_upward(start: &Path) -> Option<PathBuf> {
    repository_ancestors(start)
        .into_iter()
        .map(|ancestor| ancestor.join("targets"))
        .find(|candidate| looks_like_targets_dir(candidate))
}

/// `start` and its parents up to the repository root: the first folder holding `.git`
/// (a folder, or a file in a worktree) or a Cargo workspace manifest. Outside any
/// repository: `start` alone.
pub fn repository_ancestors(start: &Path) -> Vec<PathBuf> {
    let mut walked = Vec::new();
    for dir in start.ancestors() {
        walked.push(dir.to_path_buf());
        if is_repository_root(dir) {
            return walked;
        }
    }
    vec![start.to_path_buf()]
}

/// Manifests larger than this are not a workspace's (and are not read whole).
const WORKSPACE_MANIFEST_MAX: u64 = 1 << 20;

fn is_repository_root(dir: &Path) -> bool {
    if dir.join(".git").symlink_metadata().is_ok() {
        return true;
    }
    let manifest = dir.join("Cargo.toml");
    manifest
        .metadata()
        .is_ok_and(|m| m.is_file() && m.len() <= WORKSPACE_MANIFEST_MAX)
        && std::fs::read_to_string(&manifest)
            .is_ok_and(|text| text.lines().any(|line| line.trim() == "[workspace]"))
}

/// A folder is a targets folder if it has the contract or at least one manifest.
fn looks_like_targets_dir(dir: &Path) -> bool {
    if !dir.is_dir() {
        return false;
    }
    if dir.join("CONTRACT.md").is_file() {
        return true;
    }
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.path().join(MANIFEST_FILE).is_file())
    })
}

/// Loads every `<dir>/*/target.toml`, sorted by name. Folders without a manifest are
/// ignored; an invalid manifest is an error.
pub fn list_targets(dir: &Path) -> Result<Vec<Target>, DiscoveryError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DiscoveryError::List {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut targets = Vec::new();
    for entry in entries.flatten() {
        let folder = entry.path();
        let manifest_path = folder.join(MANIFEST_FILE);
        if !manifest_path.is_file() {
            continue;
        }
        let manifest = Manifest::load(&manifest_path)?;
        let folder_name = folder
            .file_name()
            .and_then(OsStr::to_str)
            .unwrap_or_default();
        if manifest.name != folder_name {
            return Err(DiscoveryError::NameMismatch {
                path: manifest_path,
                name: manifest.name,
                folder: folder_name.to_string(),
            });
        }
        targets.push(Target {
            manifest,
            dir: folder,
        });
    }
    targets.sort_by(|a, b| a.manifest.name.cmp(&b.manifest.name));
    Ok(targets)
}

/// The first tool of `tools` that cannot be found as an executable on PATH.
pub fn first_missing_tool(tools: &[String]) -> Option<&str> {
    tools
        .iter()
        .find(|tool| !tool_on_path(tool))
        .map(String::as_str)
}

/// Whether `tool` resolves to an executable file (directly if it contains a slash).
pub fn tool_on_path(tool: &str) -> bool {
    if tool.contains('/') {
        return is_executable(Path::new(tool));
    }
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(tool)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 20: from a folder inside a repository, the walk went on past the
    /// repository root and took a `targets/` folder found above it.
    #[test]
    fn the_walk_stops_at_the_repository_root() {
        let root = tempfile::tempdir().unwrap();
        let planted = root.path().join("targets/evil");
        std::fs::create_dir_all(&planted).unwrap();
        std::fs::write(root.path().join("targets/CONTRACT.md"), "").unwrap();
        std::fs::write(planted.join(MANIFEST_FILE), "name = \"evil\"\n").unwrap();
        let repo = root.path().join("repo");
        let inside = repo.join("sub/deeper");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        assert_eq!(find_targets_upward(&inside), None);
        assert_eq!(repository_ancestors(&inside).last(), Some(&repo));

        // A worktree's `.git` is a file; a workspace manifest marks the root as well.
        std::fs::remove_dir(repo.join(".git")).unwrap();
        std::fs::write(repo.join(".git"), "gitdir: elsewhere\n").unwrap();
        assert_eq!(find_targets_upward(&inside), None);
        std::fs::remove_file(repo.join(".git")).unwrap();
        std::fs::write(repo.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        assert_eq!(find_targets_upward(&inside), None);

        // The repository's own targets/ is still found from below.
        std::fs::create_dir_all(repo.join("targets")).unwrap();
        std::fs::write(repo.join("targets/CONTRACT.md"), "").unwrap();
        assert_eq!(find_targets_upward(&inside), Some(repo.join("targets")));
    }

    #[test]
    fn outside_any_repository_only_the_start_folder_is_looked_at() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("targets")).unwrap();
        std::fs::write(root.path().join("targets/CONTRACT.md"), "").unwrap();
        let below = root.path().join("a/b");
        std::fs::create_dir_all(&below).unwrap();
        // Unless the temp folder itself sits in a repository, nothing above `below`
        // is a root, so nothing above it is searched.
        if repository_ancestors(&below) == vec![below.clone()] {
            assert_eq!(find_targets_upward(&below), None);
        }
        assert_eq!(
            find_targets_upward(root.path()),
            Some(root.path().join("targets"))
        );
    }
}
