//! Running PostgreSQL's helper programs (`initdb`, `psql`) to completion, bounded in
//! time and stoppable, and switching a child to the `postgres` system user.
//!
//! Each helper runs in its own process group with the parent-death signal set, as
//! target processes do (`target::process`): `initdb` starts `postgres` children of its
//! own, and a timeout, a stop request or the harness dying must take all of them down.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::StoreError;
use crate::targets::process::{die_with_parent, signal_group};

/// How often a running helper is checked for exit, timeout and stop.
const POLL: Duration = Duration::from_millis(10);

/// The system user PostgreSQL runs as when the harness runs as root.
pub const POSTGRES_USER: &str = "postgres";

/// A user and group a child switches to before `exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// The `postgres` user when this process is root (PostgreSQL refuses to run as
    /// root), `None` otherwise: the server then runs as the current user.
    pub fn for_server() -> Result<Option<RunAs>, StoreError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        lookup_user(POSTGRES_USER)
            .map(Some)
            .ok_or(StoreError::NoServerUser)
    }

    /// Makes the child switch to this user and group between `fork` and `exec`.
    ///
    /// Done in our own hook rather than with `CommandExt::uid`, because the standard
    /// library switches user before running hooks, and joining a cgroup (a hook) needs
    /// root; callers register this after the cgroup and CPU hooks, and the
    /// parent-death hook after this one.
    pub fn apply(self, command: &mut Command) {
        let (uid, gid) = (self.uid, self.gid);
        // SAFETY: setgroups, setgid and setuid are async-signal-safe and use only
        // values copied before fork.
        unsafe {
            command.pre_exec(move || {
                let groups = [gid];
                if libc::setgroups(1, groups.as_ptr()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// The uid and primary gid of system user `name`, if it exists.
fn lookup_user(name: &str) -> Option<RunAs> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: passwd is plain data, filled by getpwnam_r into `buffer`, which outlives
    // every use of the pointers inside it.
    let mut passwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut passwd,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() {
        return None;
    }
    Some(RunAs {
        uid: passwd.pw_uid,
        gid: passwd.pw_gid,
    })
}

/// What a finished helper printed.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ToolOutput {
    /// The last `count` non-empty lines of stdout then stderr, for error messages.
    pub fn tail(&self, count: usize) -> Vec<String> {
        let lines: Vec<String> = self
            .stdout
            .lines()
            .chain(self.stderr.lines())
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(String::from)
            .collect();
        lines[lines.len().saturating_sub(count)..].to_vec()
    }
}

/// Why a helper did not finish.
#[derive(Debug)]
pub enum ToolFailure {
    /// It could not be started.
    Spawn(std::io::Error),
    /// It ran longer than allowed and was killed.
    TimedOut(Duration),
    /// The stop flag was set; it was killed.
    Interrupted,
}

/// Runs `command` to completion in its own process group, killing the group after
/// `timeout` or as soon as `stop` is set. Stdin is closed; stdout and stderr are kept.
pub fn run_tool(
    mut command: Command,
    timeout: Duration,
    stop: Option<&AtomicBool>,
) -> Result<ToolOutput, ToolFailure> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    die_with_parent(&mut command);
    let mut child = command.spawn().map_err(ToolFailure::Spawn)?;
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            // Helpers such as initdb leave nothing running on success; make sure.
            signal_group(child.id(), libc::SIGKILL);
            break status;
        }
        if stop.is_some_and(|flag| flag.load(Ordering::SeqCst)) {
            kill_and_reap(&mut child);
            return Err(ToolFailure::Interrupted);
        }
        if Instant::now() >= deadline {
            kill_and_reap(&mut child);
            return Err(ToolFailure::TimedOut(timeout));
        }
        std::thread::sleep(POLL);
    };
    Ok(ToolOutput {
        status,
        stdout: joined(stdout),
        stderr: joined(stderr),
    })
}

fn kill_and_reap(child: &mut Child) {
    signal_group(child.id(), libc::SIGKILL);
    let _ = child.wait();
}

/// Reads a pipe to its end on a thread. The group is killed before joining, so no
/// process is left holding the pipe open.
fn read_all<R: Read + Send + 'static>(pipe: Option<R>) -> Option<JoinHandle<String>> {
    let mut pipe = pipe?;
    std::thread::Builder::new()
        .name("pg-tool-output".to_string())
        .spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .ok()
}

fn joined(handle: Option<JoinHandle<String>>) -> String {
    handle
        .and_then(|handle| handle.join().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_status_are_kept() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; echo err >&2; exit 3"]);
        let output = run_tool(command, Duration::from_secs(30), None).unwrap();
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(output.tail(5), vec!["out".to_string(), "err".to_string()]);
    }

    #[test]
    fn a_timeout_kills_the_whole_group() {
        let marker = tempfile::NamedTempFile::new().unwrap();
        let mut command = Command::new("sh");
        // The background child would write the marker after 3 s if it survived.
        let script = format!(
            "(sleep 3; echo alive > {}) & sleep 30",
            marker.path().display()
        );
        command.args(["-c", &script]);
        let started = Instant::now();
        let failure = run_tool(command, Duration::from_millis(300), None).unwrap_err();
        assert!(matches!(failure, ToolFailure::TimedOut(_)), "{failure:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        std::thread::sleep(Duration::from_millis(3500));
        assert_eq!(std::fs::read_to_string(marker.path()).unwrap(), "");
    }

    #[test]
    fn a_set_stop_flag_ends_the_tool() {
        let stop = AtomicBool::new(true);
        let mut command = Command::new("sleep");
        command.arg("30");
        let failure = run_tool(command, Duration::from_secs(60), Some(&stop)).unwrap_err();
        assert!(matches!(failure, ToolFailure::Interrupted), "{failure:?}");
    }

    #[test]
    fn the_postgres_user_is_needed_only_as_root() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        match RunAs::for_server() {
            Ok(Some(user)) => assert!(root && user.uid != 0),
            Ok(None) => assert!(!root),
            Err(error) => assert!(root && error.to_string().contains("postgres")),
        }
    }
}
