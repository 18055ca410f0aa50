//! How the harness starts PostgreSQL's programs: `initdb` for a fresh cluster, and the
//! postmaster as a direct child (pinned, in its cgroup, as the `postgres` user when the
//! harness is root, with its log captured); `server` supervises what this starts.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::binaries::PgBinaries;
use super::settings::{PgSettings, SUPERUSER};
use super::tool::{run_tool, RunAs, ToolFailure};
use super::StoreError;
use crate::sample::TargetCgroup;
use crate::targets::describe_status;
use crate::targets::output_tail::OutputTail;
use crate::targets::process::{die_with_parent, pin_to_cpus};
use std::os::unix::process::CommandExt;

/// Bound on `initdb`.
const INITDB_TIMEOUT: Duration = Duration::from_secs(120);
/// A Unix socket path must fit `sun_path` (108 bytes) with `/.s.PGSQL.65535` and a NUL.
const MAX_SOCKET_DIR_BYTES: usize = 108 - 16 - 1;

/// What starting one postmaster needs.
pub(super) struct Launch<'a> {
    pub binaries: &'a PgBinaries,
    pub instance_dir: &'a Path,
    pub port: u16,
    pub settings: &'a PgSettings,
    pub run_as: Option<RunAs>,
    pub cgroup: Option<&'a TargetCgroup>,
}

impl Launch<'_> {
    pub fn spawn(&self) -> Result<(Child, OutputTail), StoreError> {
        let mut command = Command::new(&self.binaries.postgres);
        command
            .arg("-D")
            .arg(self.instance_dir.join("data"))
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("port={}", self.port))
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                socket_dir(self.instance_dir)
            ));
        for (name, value) in self.settings.durability.server_options() {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        command
            .current_dir(self.instance_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // Hook order matters: the cgroup is joined as root, then the user is switched,
        // then the parent-death signal is set (a user switch clears it).
        if let Some(cgroup) = self.cgroup {
            cgroup.enter_on_spawn(&mut command);
        }
        if let Some(cpus) = &self.settings.cpus {
            cpus.check_allowed()
                .map_err(|error| StoreError::StartFailed {
                    reason: error.to_string(),
                    log_tail: Vec::new(),
                })?;
            pin_to_cpus(&mut command, cpus);
        }
        if let Some(user) = self.run_as {
            user.apply(&mut command);
        }
        die_with_parent(&mut command);
        let mut child = command.spawn().map_err(|error| StoreError::StartFailed {
            reason: format!("cannot run {}: {error}", self.binaries.postgres.display()),
            log_tail: Vec::new(),
        })?;
        // The server logs to stderr; stdout stays silent but is drained all the same.
        let log = child
            .stderr
            .take()
            .map(|stream| OutputTail::capture(stream, "postgres-log"))
            .unwrap_or_default();
        let _ = child
            .stdout
            .take()
            .map(|stream| OutputTail::capture(stream, "postgres-stdout"));
        Ok((child, log))
    }
}

/// The Unix socket goes in the server's own folder when the path fits a socket
/// address; otherwise the server listens on TCP only (which is all the harness uses).
fn socket_dir(instance_dir: &Path) -> String {
    let dir = instance_dir.display().to_string();
    if dir.len() <= MAX_SOCKET_DIR_BYTES && !dir.contains([',', '\'', ' ']) {
        dir
    } else {
        String::new()
    }
}

/// Runs `initdb` for `<instance>/data`: the `postgres` superuser, trust authentication
/// (only loopback TCP is open, and the socket folder is private), UTF-8, C locale so
/// every machine sorts alike. `--no-sync` skips flushing the new cluster, which only
/// matters for a crash before its first checkpoint: the cluster is thrown away after
/// the run either way, and no server setting changes.
pub(super) fn initdb(
    binaries: &PgBinaries,
    instance_dir: &Path,
    run_as: Option<RunAs>,
    stop: Option<&AtomicBool>,
) -> Result<(), StoreError> {
    let data = instance_dir.join("data");
    let mut command = Command::new(&binaries.initdb);
    command
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .current_dir(instance_dir)
        .env("LC_ALL", "C");
    if let Some(user) = run_as {
        user.apply(&mut command);
    }
    let failed = |status: String, tail: Vec<String>| StoreError::InitdbFailed {
        dir: data.clone(),
        status,
        tail,
    };
    match run_tool(command, INITDB_TIMEOUT, stop) {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(failed(describe_status(output.status), output.tail(3))),
        Err(ToolFailure::Interrupted) => Err(StoreError::Interrupted),
        Err(ToolFailure::TimedOut(limit)) => Err(failed(
            format!("still running after {}", humantime::format_duration(limit)),
            Vec::new(),
        )),
        Err(ToolFailure::Spawn(error)) => Err(failed(
            format!("cannot run {}: {error}", binaries.initdb.display()),
            Vec::new(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_folder_gets_no_unix_socket() {
        assert_eq!(socket_dir(Path::new("/work/target/x")), "/work/target/x");
        let long = format!("/{}", "d".repeat(120));
        assert_eq!(socket_dir(Path::new(&long)), "");
    }
}
