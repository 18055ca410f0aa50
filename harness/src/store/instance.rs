//! The folder a harness-run server lives in: `lanebench-pg-<pid>-<n>/` holding `data/`
//! and the Unix socket, private to the server's user, removed unless kept; the check
//! that the server's user can reach it; and the sweep of folders whose harness was
//! SIGKILLed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::tool::RunAs;
use super::StoreError;
use crate::sample::procfs::{orphaned_entries, process_alive};

/// Prefix of the folders the harness makes for its servers (`lanebench-pg-<pid>-<n>`).
pub(super) const INSTANCE_PREFIX: &str = "lanebench-pg-";

/// Distinguishes servers started by one harness process.
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// The server's folder while it is being set up: removed on drop unless kept.
pub(super) struct Instance {
    pub(super) dir: PathBuf,
    keep: bool,
}

impl Instance {
    /// Makes `<parent>/lanebench-pg-<pid>-<n>`, private to the server's user.
    pub(super) fn create(parent: &Path, run_as: Option<RunAs>) -> Result<Instance, StoreError> {
        let io = |what: &str, path: &Path| {
            let what = format!("{what} {}", path.display());
            move |source| StoreError::Io { what, source }
        };
        fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
        let parent = fs::canonicalize(parent).map_err(io("cannot resolve", parent))?;
        if let Some(user) = run_as {
            check_traversable(&parent, user)?;
        }
        remove_stale_instances(&parent);
        let name = format!(
            "{INSTANCE_PREFIX}{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let dir = parent.join(name);
        fs::create_dir(&dir).map_err(io("cannot create", &dir))?;
        let instance = Instance { dir, keep: false };
        fs::set_permissions(&instance.dir, fs::Permissions::from_mode(0o700))
            .map_err(io("cannot restrict", &instance.dir))?;
        if let Some(user) = run_as {
            std::os::unix::fs::chown(&instance.dir, Some(user.uid), Some(user.gid))
                .map_err(io("cannot hand to the postgres user", &instance.dir))?;
        }
        Ok(instance)
    }

    pub(super) fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Fails unless `user` may enter every folder from `/` down to `dir` (the server
/// runs as that user and must reach its data directory).
fn check_traversable(dir: &Path, user: RunAs) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    for folder in dir.ancestors() {
        let Ok(meta) = fs::metadata(folder) else {
            continue;
        };
        let mode = meta.mode();
        let allowed = if meta.uid() == user.uid {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !allowed {
            return Err(StoreError::DataDirUnreachable {
                dir: folder.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Removes the folders of servers whose harness was killed outright (SIGKILL: no code
/// ran): `lanebench-pg-<pid>-<n>` whose pid is gone and whose postmaster is gone too.
fn remove_stale_instances(parent: &Path) {
    for dir in orphaned_entries(parent, INSTANCE_PREFIX) {
        let postmaster = fs::read_to_string(dir.join("data/postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok());
        if postmaster.is_some_and(process_alive) {
            continue;
        }
        let _ = fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_closed_to_the_server_user_is_named() {
        let outer = tempfile::tempdir().unwrap();
        let closed = outer.path().join("closed");
        let inner = closed.join("inner");
        fs::create_dir_all(&inner).unwrap();
        fs::set_permissions(outer.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&closed, fs::Permissions::from_mode(0o700)).unwrap();
        // A user that owns none of these folders (nobody).
        let stranger = RunAs {
            uid: 65534,
            gid: 65534,
        };
        let error = check_traversable(&inner, stranger).unwrap_err();
        assert!(
            matches!(&error, StoreError::DataDirUnreachable { dir } if *dir == closed),
            "{error}"
        );
        assert!(error.to_string().contains("chmod o+x"), "{error}");
        // Entering needs only the execute bit (the temporary folder's own parents, like
        // /tmp, are open to everyone).
        fs::set_permissions(&closed, fs::Permissions::from_mode(0o711)).unwrap();
        check_traversable(&inner, stranger).unwrap();
    }

    #[test]
    fn stale_folders_of_dead_harnesses_are_removed_and_live_ones_kept() {
        let parent = tempfile::tempdir().unwrap();
        // Pid 2^22 + 1 is above the kernel's pid limit, so no process has it.
        let dead = parent.path().join(format!("{INSTANCE_PREFIX}4194305-0"));
        let ours = parent
            .path()
            .join(format!("{INSTANCE_PREFIX}{}-99", std::process::id()));
        let other = parent.path().join("unrelated-4194305");
        for dir in [&dead, &ours, &other] {
            fs::create_dir_all(dir.join("data")).unwrap();
        }
        remove_stale_instances(parent.path());
        assert!(!dead.exists());
        assert!(ours.exists() && other.exists());
    }
}
