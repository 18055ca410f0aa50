//! Running a target's build command and keeping its output.
//!
//! Output goes to a log file rather than the terminal so a failed build can be
//! summarised by its last lines while the full log stays available.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::discovery::Target;

/// How many trailing log lines a build failure carries.
pub const BUILD_TAIL_LINES: usize = 20;

/// A build that finished successfully.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// Wall-clock duration of the build command.
    pub elapsed: Duration,
    /// Where the build's stdout and stderr were written.
    pub log_path: PathBuf,
}

/// Why a build did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The log file could not be created.
    #[error("{}: cannot create build log: {source}", path.display())]
    Log {
        /// The log file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// `sh` could not be started.
    #[error("target {target}: cannot start build command: {source}")]
    Spawn {
        /// Target name.
        target: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The build command exited unsuccessfully.
    #[error("target {target}: build failed ({status}); full log: {}\n{}", log_path.display(), tail.join("\n"))]
    Failed {
        /// Target name.
        target: String,
        /// Exit status as text.
        status: String,
        /// Where the full output is.
        log_path: PathBuf,
        /// Last lines of the output.
        tail: Vec<String>,
    },
}

/// Runs `sh -c <build>` in the target's folder, writing all output to `log_path`.
///
/// `CARGO_TARGET_DIR` is removed from the environment so Rust targets build into the
/// workspace's default target directory, where their `run` command expects them.
pub fn build_target(target: &Target, log_path: &Path) -> Result<BuildOutcome, BuildError> {
    let log_error = |source| BuildError::Log {
        path: log_path.to_path_buf(),
        source,
    };
    if let Some(parent) = log_path.parent() {
        std::fs::create_dir_all(parent).map_err(log_error)?;
    }
    let stdout = File::create(log_path).map_err(log_error)?;
    let stderr = stdout.try_clone().map_err(log_error)?;
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(&target.manifest.build)
        .current_dir(&target.dir)
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .map_err(|source| BuildError::Spawn {
            target: target.name().to_string(),
            source,
        })?;
    if status.success() {
        return Ok(BuildOutcome {
            elapsed: started.elapsed(),
            log_path: log_path.to_path_buf(),
        });
    }
    Err(BuildError::Failed {
        target: target.name().to_string(),
        status: super::process::describe_status(status),
        log_path: log_path.to_path_buf(),
        tail: last_lines(log_path, BUILD_TAIL_LINES),
    })
}

/// The last `count` lines of a text file (lossy UTF-8; empty if unreadable).
fn last_lines(path: &Path, count: usize) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(count);
    lines[start..].iter().map(|line| line.to_string()).collect()
}
