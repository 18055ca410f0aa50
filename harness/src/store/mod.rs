//! The database of database mode (`STORE=postgres`): a PostgreSQL server the harness
//! runs itself from the machine's own binaries, or an external one given by URL, with
//! one database per target made from `targets/schema.sql`.
//!
//! - [`PgServer`] runs a fresh cluster on a free loopback port as a child process
//!   (as the `postgres` user when the harness is root) and stops it without leaving a
//!   process or a file behind; its pid and cgroup make it measurable like a target.
//! - [`PgStore`] is what `verify` and `run` use: it owns the server (or points at an
//!   external one), applies the schema once to a template database, gives each target
//!   a copy of it, drops what it made, and records the server's settings.
//! - Everything talks to the server through `psql` (see [`psql`]); the harness has no
//!   PostgreSQL driver of its own.
//!
//! Nothing here prints; errors are [`StoreError`], one line each.

pub mod binaries;
mod databases;
mod instance;
pub mod psql;
pub mod server;
mod settings;
mod spawn;
pub mod tool;
pub mod url;

use std::path::PathBuf;

pub use binaries::{PgBinaries, SearchPath};
pub use databases::{PgStore, StoreRecord, StoreSource, StoredOrder};
pub use server::{PgServer, StopKind};
pub use settings::{Durability, PgSettings};
pub use url::DatabaseUrl;

use crate::targets::PortError;

/// Why the database could not be provided or used. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A PostgreSQL program is not installed where it was looked for.
    #[error("PostgreSQL not found: no {missing} in {searched}; install the Debian package `postgresql` (apt-get install postgresql)")]
    BinariesMissing {
        /// Which programs are missing.
        missing: &'static str,
        /// Where they were looked for.
        searched: String,
    },
    /// Running as root, but there is no `postgres` user to run the server as.
    #[error("running as root, but there is no `postgres` system user to run PostgreSQL as (PostgreSQL refuses root); install the Debian package `postgresql`, which creates it")]
    NoServerUser,
    /// The server's user cannot reach the folder its data would live in.
    #[error("the postgres user cannot enter {}: PostgreSQL's data folder must be below folders every user may enter (chmod o+x)", dir.display())]
    DataDirUnreachable {
        /// The first folder that is closed to it.
        dir: PathBuf,
    },
    /// `initdb` failed.
    #[error("initdb failed ({status}) for {}: {}", dir.display(), one_line(tail))]
    InitdbFailed {
        /// The data directory it was making.
        dir: PathBuf,
        /// Exit status or what went wrong.
        status: String,
        /// Its last output lines.
        tail: Vec<String>,
    },
    /// The server did not come up.
    #[error("PostgreSQL did not start: {reason}; last log lines: {}", one_line(&log_tail[log_tail.len().saturating_sub(3)..]))]
    StartFailed {
        /// What happened.
        reason: String,
        /// The server's last log lines.
        log_tail: Vec<String>,
    },
    /// The port is taken.
    #[error("PostgreSQL: {0}")]
    Port(#[from] PortError),
    /// The server exited while in use.
    #[error("PostgreSQL died ({status}); last log lines: {}", one_line(&log_tail[log_tail.len().saturating_sub(3)..]))]
    Died {
        /// Its exit status.
        status: String,
        /// Its last log lines.
        log_tail: Vec<String>,
    },
    /// A database URL that cannot be used.
    #[error("database URL {url}: {problem}")]
    BadUrl {
        /// The URL, password hidden.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A database URL pointing away from this machine.
    #[error("database host `{host}` is not loopback; use 127.0.0.1, ::1 or localhost (or pass --allow-remote)")]
    RemoteRefused {
        /// The host as given.
        host: String,
    },
    /// The schema file cannot be used.
    #[error("{}: {problem}", path.display())]
    Schema {
        /// The schema file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A `psql` call failed (connection refused, SQL error, timeout).
    #[error("psql {what}: {message}")]
    Psql {
        /// What was being run.
        what: String,
        /// psql's own first error lines, joined.
        message: String,
    },
    /// A file operation on the server's folder failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The stop flag was set (SIGINT or SIGTERM).
    #[error("interrupted")]
    Interrupted,
}

/// The environment of a target in database mode (CONTRACT.md): `STORE=postgres` and
/// `DATABASE_URL` (with its password, if any), for `LaunchOptions::env`.
pub fn target_env(url: &DatabaseUrl) -> Vec<(String, String)> {
    vec![
        ("STORE".to_string(), "postgres".to_string()),
        ("DATABASE_URL".to_string(), url.secret_string()),
    ]
}

/// Joins log lines into one line for a message.
fn one_line(lines: &[String]) -> String {
    if lines.is_empty() {
        "(none)".to_string()
    } else {
        lines.join(" | ")
    }
}
