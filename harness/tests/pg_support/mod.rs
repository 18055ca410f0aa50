//! Helpers for tests that run a real PostgreSQL: folders the `postgres` user can
//! enter, fake PostgreSQL programs for fault tests, and finding a server's processes.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A temporary folder below the build's target directory that every user may enter
/// (PostgreSQL runs as `postgres` when the tests run as root; a default temporary
/// folder is private to its creator).
pub fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pg-test-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A folder holding shell scripts named `initdb` and `postgres` with these bodies.
pub fn fake_bin_dir(parent: &Path, initdb: &str, postgres: &str) -> PathBuf {
    let bin = parent.join("fake-pg-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, body) in [("initdb", initdb), ("postgres", postgres)] {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// Live processes working in `data_dir`: a postmaster and every backend and
/// background process it started `chdir` there, whatever their session or parent.
pub fn pg_processes_in(data_dir: &Path) -> Vec<u32> {
    let Ok(target) =
        std::fs::canonicalize(data_dir).or_else(|_| Ok::<_, ()>(data_dir.to_path_buf()))
    else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        let cwd = PathBuf::from(cwd.to_string_lossy().trim_end_matches(" (deleted)"));
        if cwd == target && !is_zombie(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Live processes working in any `data` folder below `parent`.
pub fn pg_processes_below(parent: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(parent) && !is_zombie(pid) {
            pids.push(pid);
        }
    }
    pids
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

/// Polls `condition` every 20 ms until it holds or `within` has passed.
pub fn wait_until(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The repository's `targets/schema.sql`.
pub fn repo_schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets/schema.sql")
}
