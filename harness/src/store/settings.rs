//! What a PostgreSQL server of the harness is started with: its settings, the
//! durability of its commits, and the superuser `initdb` creates.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::binaries::SearchPath;
use crate::load::cpus::CpuList;

/// The superuser `initdb` creates; targets connect as this user.
pub const SUPERUSER: &str = "postgres";

/// Whether commits wait for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// PostgreSQL's defaults: every commit is flushed to disk before it is answered.
    Durable,
    /// `fsync=off, synchronous_commit=off, full_page_writes=off`: a crash can lose or
    /// corrupt data. Faster on slow disks; it must be marked wherever results are shown.
    Relaxed,
}

impl Durability {
    /// The server options this durability adds to the defaults.
    pub fn server_options(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Durability::Durable => &[],
            Durability::Relaxed => &[
                ("fsync", "off"),
                ("synchronous_commit", "off"),
                ("full_page_writes", "off"),
            ],
        }
    }
}

/// How to run a server.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// The folder the server's own folder is made in (the run's folder or `target/`).
    /// Every user must be able to enter it when the server runs as `postgres`.
    pub parent_dir: PathBuf,
    pub durability: Durability,
    /// CPUs the server and all its processes are pinned to.
    pub cpus: Option<CpuList>,
    /// A fixed port; `None` picks a free one.
    pub port: Option<u16>,
    /// Where the PostgreSQL programs are looked for.
    pub search: SearchPath,
    /// How long the server may take to accept connections.
    pub start_timeout: Duration,
    /// Give the server a cgroup of its own where the machine allows it.
    pub cgroup: bool,
}

impl PgSettings {
    /// Durable defaults, a free port, no pinning, binaries from the system.
    pub fn new(parent_dir: &Path) -> PgSettings {
        PgSettings {
            parent_dir: parent_dir.to_path_buf(),
            durability: Durability::Durable,
            cpus: None,
            port: None,
            search: SearchPath::system(None),
            start_timeout: Duration::from_secs(60),
            cgroup: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_durability_turns_off_exactly_the_three_settings() {
        assert!(Durability::Durable.server_options().is_empty());
        let names: Vec<&str> = Durability::Relaxed
            .server_options()
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(names, ["fsync", "synchronous_commit", "full_page_writes"]);
    }
}
