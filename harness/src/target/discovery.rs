//! Finding the targets folder, listing its targets and checking their tools.
//!
//! The folder is found by walking up from the current directory, so the harness works
//! from anywhere inside the repository; a compile-time fallback covers running the
//! binary from elsewhere on the machine it was built on.

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
/// walking up from the current directory, else the repository's at build time.
pub fn find_targets_dir(explicit: Option<&Path>) -> Result<PathBuf, DiscoveryError> {
    if let Some(dir) = explicit {
        return if dir.is_dir() {
            Ok(dir.to_path_buf())
        } else {
            Err(DiscoveryError::NotADirectory(dir.to_path_buf()))
        };
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if let Some(found) = cwd
        .ancestors()
        .map(|ancestor| ancestor.join("targets"))
        .find(|candidate| looks_like_targets_dir(candidate))
    {
        return Ok(found);
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets");
    if built_in.is_dir() {
        return Ok(built_in);
    }
    Err(DiscoveryError::NotFound(cwd))
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
