//! Finding the machine's PostgreSQL programs.
//!
//! `initdb` and `postgres` must come from one installation (initdb starts that
//! `postgres` to build the cluster), so they are looked up as a pair: the first
//! directory on `PATH` holding both (symlinks resolved, so `/usr/local/bin/initdb ->
//! /usr/lib/postgresql/15/bin/initdb` counts as that installation), then the highest
//! version under `/usr/lib/postgresql/*/bin`, where Debian installs them off `PATH`.
//! `psql` is taken from the same directory when it is there, otherwise from `PATH`
//! (Debian's `/usr/bin/psql` wrapper). An explicit directory overrides the search.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::StoreError;

/// Where Debian and Ubuntu install each PostgreSQL major version.
pub const VERSIONED_ROOT: &str = "/usr/lib/postgresql";

/// The programs the harness runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    /// `initdb`, `postgres` (and usually `psql`) live here.
    pub dir: PathBuf,
    pub initdb: PathBuf,
    pub postgres: PathBuf,
    pub psql: PathBuf,
}

/// Where to look.
#[derive(Debug, Clone)]
pub struct SearchPath {
    /// An explicit directory (`--pg-bin`): only it is searched.
    pub only: Option<PathBuf>,
    /// The `PATH` value to search.
    pub path: Option<OsString>,
    /// The folder holding one `<major>/bin` per installed version.
    pub versioned_root: PathBuf,
}

impl SearchPath {
    /// The process's `PATH`, then [`VERSIONED_ROOT`]; or only `dir` when given.
    pub fn system(dir: Option<&Path>) -> SearchPath {
        SearchPath {
            only: dir.map(Path::to_path_buf),
            path: std::env::var_os("PATH"),
            versioned_root: PathBuf::from(VERSIONED_ROOT),
        }
    }

    /// The candidate directories for the server programs, in order.
    fn server_dirs(&self) -> Vec<PathBuf> {
        if let Some(dir) = &self.only {
            return vec![dir.clone()];
        }
        let mut dirs: Vec<PathBuf> = self
            .path
            .as_ref()
            .map(|path| std::env::split_paths(path).collect())
            .unwrap_or_default();
        dirs.extend(versioned_dirs(&self.versioned_root));
        dirs
    }

    fn describe(&self) -> String {
        match &self.only {
            Some(dir) => dir.display().to_string(),
            None => format!("PATH or {}/*/bin", self.versioned_root.display()),
        }
    }
}

impl PgBinaries {
    /// Finds `initdb` and `postgres` (one installation) and `psql`.
    pub fn find(search: &SearchPath) -> Result<PgBinaries, StoreError> {
        let dir = search
            .server_dirs()
            .into_iter()
            .find_map(|dir| {
                let initdb = executable(&dir.join("initdb"))?;
                let postgres = executable(&dir.join("postgres"))?;
                // The real installation directory, not a folder of symlinks into it.
                let home = real_dir(&initdb)?;
                (real_dir(&postgres).as_ref() == Some(&home)).then_some(home)
            })
            .ok_or_else(|| StoreError::BinariesMissing {
                missing: "initdb and postgres",
                searched: search.describe(),
            })?;
        let psql = PgBinaries::find_psql_in(&dir, search)?;
        Ok(PgBinaries {
            initdb: dir.join("initdb"),
            postgres: dir.join("postgres"),
            psql,
            dir,
        })
    }

    /// Finds `psql` alone (enough for an external server).
    pub fn find_psql(search: &SearchPath) -> Result<PathBuf, StoreError> {
        search
            .server_dirs()
            .iter()
            .find_map(|dir| executable(&dir.join("psql")))
            .ok_or_else(|| StoreError::BinariesMissing {
                missing: "psql",
                searched: search.describe(),
            })
    }

    /// `psql` from the server's installation, else from the system search (a client
    /// program: Debian puts its wrapper on `PATH` even when the servers are not).
    fn find_psql_in(dir: &Path, search: &SearchPath) -> Result<PathBuf, StoreError> {
        match executable(&dir.join("psql")) {
            Some(psql) => Ok(psql),
            None => PgBinaries::find_psql(&SearchPath {
                only: None,
                ..search.clone()
            }),
        }
    }
}

/// `<root>/<major>/bin` for each installed major version, highest first.
fn versioned_dirs(root: &Path) -> Vec<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((major, entry.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|version| std::cmp::Reverse(version.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// `path` if it is (or links to) an executable regular file. The path is returned as
/// given: Debian's `psql` is a link to a wrapper that picks what to run by its name.
fn executable(path: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then(|| path.to_path_buf())
}

/// The directory the real file behind `path` lives in (symlinks resolved).
fn real_dir(path: &Path) -> Option<PathBuf> {
    Some(std::fs::canonicalize(path).ok()?.parent()?.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn fake_program(dir: &Path, name: &str) {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn search(root: &Path, path: &[&Path], only: Option<&Path>) -> SearchPath {
        SearchPath {
            only: only.map(Path::to_path_buf),
            path: Some(std::env::join_paths(path).unwrap()),
            versioned_root: root.join("lib"),
        }
    }

    #[test]
    fn prefers_path_then_the_highest_installed_version() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        for version in ["9", "13", "15"] {
            let bin = root.join("lib").join(version).join("bin");
            fake_program(&bin, "initdb");
            fake_program(&bin, "postgres");
        }
        fake_program(&root.join("lib/15/bin"), "psql");
        fake_program(&root.join("usr-bin"), "psql");
        let found = PgBinaries::find(&search(root, &[&root.join("usr-bin")], None)).unwrap();
        assert!(found.dir.ends_with("lib/15/bin"), "{found:?}");
        assert!(
            found.psql.starts_with(&found.dir),
            "psql from the same installation"
        );

        // A PATH directory holding both programs comes first.
        let on_path = root.join("opt-pg/bin");
        fake_program(&on_path, "initdb");
        fake_program(&on_path, "postgres");
        let found =
            PgBinaries::find(&search(root, &[&on_path, &root.join("usr-bin")], None)).unwrap();
        assert!(found.dir.ends_with("opt-pg/bin"), "{found:?}");
        assert!(
            found.psql.ends_with("usr-bin/psql"),
            "psql falls back to PATH: {found:?}"
        );
    }

    #[test]
    fn a_symlink_on_path_counts_as_its_installation() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let real = root.join("lib/15/bin");
        for name in ["initdb", "postgres", "psql"] {
            fake_program(&real, name);
        }
        let links = root.join("local-bin");
        std::fs::create_dir_all(&links).unwrap();
        for name in ["initdb", "postgres"] {
            std::os::unix::fs::symlink(real.join(name), links.join(name)).unwrap();
        }
        let found = PgBinaries::find(&search(root, &[&links], None)).unwrap();
        assert_eq!(found.dir, std::fs::canonicalize(&real).unwrap());
    }

    #[test]
    fn missing_programs_name_what_and_where_and_the_package() {
        let root = tempfile::tempdir().unwrap();
        let empty = root.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let error = PgBinaries::find(&search(root.path(), &[&empty], None)).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("initdb") && text.contains("postgresql"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        let only = PgBinaries::find(&search(root.path(), &[], Some(&empty))).unwrap_err();
        assert!(
            only.to_string().contains(&empty.display().to_string()),
            "{only}"
        );
        let psql = PgBinaries::find_psql(&search(root.path(), &[&empty], None)).unwrap_err();
        assert!(psql.to_string().contains("psql"), "{psql}");
    }
}
