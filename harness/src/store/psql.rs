//! Talking to a server through `psql`: one-off queries and applying SQL files.
//!
//! The harness has no PostgreSQL driver of its own; `psql` comes with every server
//! installation, applies `targets/schema.sql` exactly as a user would (`psql -f`), and
//! keeps the harness free of a second protocol implementation. Every call is bounded in
//! time and stoppable, and the connect timeout keeps an unreachable server from hanging.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::tool::{run_tool, ToolFailure};
use super::url::DatabaseUrl;
use super::StoreError;

/// Seconds `psql` waits for a connection before giving up.
const CONNECT_TIMEOUT_S: u32 = 5;
/// Bound on one query (administration statements, settings, row checks).
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on applying a file: seeding a million users takes seconds, not minutes.
const FILE_TIMEOUT: Duration = Duration::from_secs(600);

/// A `psql` program.
#[derive(Debug, Clone)]
pub struct Psql {
    program: PathBuf,
}

impl Psql {
    pub fn new(program: PathBuf) -> Psql {
        Psql { program }
    }

    /// Runs `sql` in database `url` and returns the rows, one line each, fields
    /// separated by a tab, without headers.
    pub fn query(
        &self,
        url: &DatabaseUrl,
        sql: &str,
        stop: Option<&AtomicBool>,
    ) -> Result<String, StoreError> {
        let mut command = self.command(url);
        command.args(["-A", "-t", "-F", "\t", "-c", sql]);
        self.run(command, &first_words(sql), QUERY_TIMEOUT, stop)
    }

    /// Applies the SQL file `path` to database `url`, stopping at the first error.
    pub fn apply_file(
        &self,
        url: &DatabaseUrl,
        path: &Path,
        stop: Option<&AtomicBool>,
    ) -> Result<(), StoreError> {
        let mut command = self.command(url);
        command.arg("-f").arg(path);
        let what = format!("-f {}", path.display());
        self.run(command, &what, FILE_TIMEOUT, stop).map(|_| ())
    }

    /// The command for `url`: the connection in the arguments without the password,
    /// which goes in `PGPASSWORD` (argument lists are readable by every user in `/proc`;
    /// a process's environment only by its owner).
    fn command(&self, url: &DatabaseUrl) -> Command {
        let mut command = Command::new(&self.program);
        // -X: no ~/.psqlrc, whose settings would change what the output looks like.
        command
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(url.without_password())
            .env("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_S.to_string())
            .env("PGAPPNAME", "lanebench")
            .env("PGCLIENTENCODING", "UTF8");
        if let Some(password) = url.password() {
            command.env("PGPASSWORD", OsStr::from_bytes(password));
        }
        command
    }

    fn run(
        &self,
        command: Command,
        what: &str,
        timeout: Duration,
        stop: Option<&AtomicBool>,
    ) -> Result<String, StoreError> {
        let failed = |message: String| StoreError::Psql {
            what: what.to_string(),
            message,
        };
        let output = run_tool(command, timeout, stop).map_err(|failure| match failure {
            ToolFailure::Interrupted => StoreError::Interrupted,
            ToolFailure::TimedOut(limit) => failed(format!(
                "no answer within {}",
                humantime::format_duration(limit)
            )),
            ToolFailure::Spawn(error) => {
                failed(format!("cannot run {}: {error}", self.program.display()))
            }
        })?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        let message = output
            .stderr
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .take(3)
            .collect::<Vec<_>>()
            .join(" | ");
        Err(failed(if message.is_empty() {
            crate::targets::describe_status(output.status)
        } else {
            message
        }))
    }
}

/// The start of a statement, to name it in errors without the whole text.
fn first_words(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().take(4).collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 20: psql got the whole URL, password included, in its argv.
    #[test]
    fn the_password_goes_to_the_environment_never_to_the_arguments() {
        let url =
            DatabaseUrl::parse("postgres://bench:pa/ss@w0rd@127.0.0.1:6543/shop", false).unwrap();
        let command = Psql::new(PathBuf::from("psql")).command(&url);
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.iter()
                .all(|a| !a.contains("pa/ss") && !a.contains("w0rd")),
            "{args:?}"
        );
        assert!(
            args.contains(&"postgres://bench@127.0.0.1:6543/shop".to_string()),
            "{args:?}"
        );
        let password = command
            .get_envs()
            .find(|(name, _)| *name == "PGPASSWORD")
            .and_then(|(_, value)| value);
        assert_eq!(password, Some(OsStr::new("pa/ss@w0rd")));

        let without = DatabaseUrl::parse("postgres://bench@127.0.0.1/shop", false).unwrap();
        let command = Psql::new(PathBuf::from("psql")).command(&without);
        assert!(command.get_envs().all(|(name, _)| name != "PGPASSWORD"));
    }
}
