//! A PostgreSQL server the harness runs itself: a fresh cluster (`initdb`) in a folder
//! of its own, the postmaster as a direct child on a free loopback port, and a stop
//! that leaves neither a process nor a file behind.
//!
//! Why `postgres` is started directly rather than through `pg_ctl start`: `pg_ctl`
//! daemonizes the server, so it would no longer be our child. As a child it is the
//! leader of its own process group, it gets the parent-death signal (so a SIGKILLed
//! harness takes it down), its pid is known at once for sampling, its log is captured
//! from stderr, and its exit is seen by `wait` the moment it happens.
//!
//! When the harness runs as root the server and `initdb` switch to the `postgres`
//! system user in the child before `exec` (PostgreSQL refuses to run as root). That is
//! done in our own `pre_exec` hook instead of going through `runuser` or `su`, which
//! would put another process between the harness and the postmaster.
//!
//! Stopping: SIGINT (fast shutdown: roll back open transactions, checkpoint, exit),
//! then SIGQUIT (immediate shutdown) if it is not done in time, then SIGKILL of its
//! process group and of every process of its tree. PostgreSQL's backends each call
//! `setsid`, so they are found through the process tree (`sample::tree_pids`) and,
//! where the machine allows one, the server's own cgroup, which is also what makes its
//! CPU and memory measurable exactly like a target's.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::binaries::PgBinaries;
use super::instance::Instance;
use super::settings::{Durability, PgSettings, SUPERUSER};
use super::spawn::{initdb, Launch};
use super::tool::RunAs;
use super::url::DatabaseUrl;
use super::StoreError;
use crate::load::cpus::CpuList;
use crate::sample::procfs::process_alive;
use crate::sample::{tree_pids, tree_usage, TargetCgroup, TreeUsage};
use crate::targets::output_tail::OutputTail;
use crate::targets::process::signal_group;
use crate::targets::{describe_status, ensure_port_free, free_loopback_port, PortError};

/// How long a fast shutdown may take before an immediate one is asked for.
const FAST_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long an immediate shutdown may take before everything is killed.
const IMMEDIATE_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long the postmaster's former children get to exit after it is gone.
const CHILDREN_GRACE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(10);
/// Fresh ports tried when the chosen one is taken between the check and the bind.
const PORT_ATTEMPTS: usize = 3;

/// How a server ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// It had exited before it was asked to stop (crashed or killed from outside).
    AlreadyExited,
    /// A fast shutdown (SIGINT) finished in time.
    Fast,
    /// An immediate shutdown (SIGQUIT) was needed.
    Immediate,
    /// Nothing else worked: SIGKILL.
    Killed,
}

/// A running PostgreSQL server owned by the harness.
#[derive(Debug)]
pub struct PgServer {
    binaries: PgBinaries,
    /// The folder holding `data/` and the Unix socket; removed when the server stops.
    instance_dir: PathBuf,
    port: u16,
    durability: Durability,
    cpus: Option<CpuList>,
    child: Child,
    log: OutputTail,
    exit_status: Option<ExitStatus>,
    stopped: bool,
    /// Set once started: from then on `stop` removes the folder (before, the setup
    /// guard does, and a retry on another port still needs the cluster).
    owns_dir: bool,
    cgroup: Option<TargetCgroup>,
    initdb_time: Duration,
    start_time: Duration,
}

impl PgServer {
    /// Makes a fresh cluster and starts it; `stop` (if set) interrupts at any point.
    /// On any failure nothing is left running and the folder is removed.
    pub fn start(settings: &PgSettings, stop: Option<&AtomicBool>) -> Result<PgServer, StoreError> {
        let binaries = PgBinaries::find(&settings.search)?;
        let run_as = RunAs::for_server()?;
        if let Some(port) = settings.port {
            ensure_port_free(port)?;
        }
        let instance = Instance::create(&settings.parent_dir, run_as)?;
        let initdb_started = Instant::now();
        initdb(&binaries, &instance.dir, run_as, stop)?;
        let initdb_time = initdb_started.elapsed();
        let cgroup = if settings.cgroup {
            TargetCgroup::create("postgres").ok()
        } else {
            None
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = match settings.port {
                Some(port) => port,
                None => free_loopback_port()?,
            };
            let launch = Launch {
                binaries: &binaries,
                instance_dir: &instance.dir,
                port,
                settings,
                run_as,
                cgroup: cgroup.as_ref(),
            };
            let started = Instant::now();
            let (child, log) = launch.spawn()?;
            let mut server = PgServer {
                binaries: binaries.clone(),
                instance_dir: instance.dir.clone(),
                port,
                durability: settings.durability,
                cpus: settings.cpus.clone(),
                child,
                log,
                exit_status: None,
                stopped: false,
                owns_dir: false,
                cgroup: None,
                initdb_time,
                start_time: Duration::ZERO,
            };
            match server.wait_ready(settings.start_timeout, stop) {
                Ok(()) => {
                    server.start_time = started.elapsed();
                    server.cgroup = cgroup;
                    server.owns_dir = true;
                    instance.keep();
                    return Ok(server);
                }
                Err(StoreError::Port(PortError::InUse { .. }))
                    if settings.port.is_none() && attempt < PORT_ATTEMPTS =>
                {
                    // Someone took the port between our check and the bind: try another.
                    server.stop_quietly();
                }
                Err(error) => {
                    server.stop_quietly();
                    return Err(error);
                }
            }
        }
    }

    /// The postmaster's pid: the leader of the server's process group and the root of
    /// its process tree (every backend is its child), for sampling like a target.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` as the superuser.
    pub fn url(&self, name: &str) -> DatabaseUrl {
        DatabaseUrl::local(SUPERUSER, self.port, name)
    }

    /// The folder holding the cluster (`data/`) and the Unix socket.
    pub fn instance_dir(&self) -> &Path {
        &self.instance_dir
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.instance_dir.join("data")
    }

    /// The programs used.
    pub fn binaries(&self) -> &PgBinaries {
        &self.binaries
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// The CPUs the server is pinned to, if any.
    pub fn cpus(&self) -> Option<&CpuList> {
        self.cpus.as_ref()
    }

    /// The server's cgroup, when it has one: exact CPU time and peak memory.
    pub fn cgroup(&self) -> Option<&TargetCgroup> {
        self.cgroup.as_ref()
    }

    /// Memory and CPU time of the whole server (postmaster and every backend) now.
    pub fn usage(&self) -> TreeUsage {
        tree_usage(self.pid())
    }

    /// Time `initdb` took, and time from spawn to accepting connections.
    pub fn timings(&self) -> (Duration, Duration) {
        (self.initdb_time, self.start_time)
    }

    /// The server's last log lines, oldest first.
    pub fn log_tail(&self) -> Vec<String> {
        self.log.lines()
    }

    /// `Ok` while the server runs; [`StoreError::Died`] once it has exited.
    pub fn check_running(&mut self) -> Result<(), StoreError> {
        match self.try_exit_status() {
            None => Ok(()),
            Some(status) => Err(StoreError::Died {
                status: describe_status(status),
                log_tail: self.log_tail(),
            }),
        }
    }

    /// Stops the server (fast, then immediate, then SIGKILL), makes sure none of its
    /// processes is left, and removes its folder. Calling it again does nothing.
    pub fn stop(&mut self) -> StopKind {
        if self.stopped {
            return StopKind::AlreadyExited;
        }
        // Backends leave the postmaster's group (setsid): note them while they are
        // still its children, so they can be found after it is gone.
        let tree = tree_pids(self.pid());
        let kind = self.shut_down();
        finish_children(&tree);
        // The cgroup's own sweep kills anything still in it, then removes it.
        self.cgroup = None;
        self.stopped = true;
        if self.owns_dir {
            let _ = fs::remove_dir_all(&self.instance_dir);
        }
        kind
    }

    fn stop_quietly(&mut self) {
        let _ = self.stop();
    }

    fn shut_down(&mut self) -> StopKind {
        if self.try_exit_status().is_some() {
            // Reaped already: its group id may belong to someone else by now, and it had
            // no other members (every child of a postmaster calls setsid).
            return StopKind::AlreadyExited;
        }
        self.signal(libc::SIGINT);
        if self.wait_exit(FAST_SHUTDOWN_GRACE) {
            return StopKind::Fast;
        }
        self.signal(libc::SIGQUIT);
        if self.wait_exit(IMMEDIATE_SHUTDOWN_GRACE) {
            return StopKind::Immediate;
        }
        signal_group(self.pid(), libc::SIGKILL);
        for pid in tree_pids(self.pid()) {
            kill_pid(pid, libc::SIGKILL);
        }
        self.exit_status = self.child.wait().ok();
        StopKind::Killed
    }

    fn signal(&self, signal: libc::c_int) {
        kill_pid(self.pid(), signal);
    }

    fn wait_exit(&mut self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        loop {
            if self.try_exit_status().is_some() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(POLL);
        }
    }

    fn try_exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit_status.is_none() {
            self.exit_status = self.child.try_wait().ok().flatten();
        }
        self.exit_status
    }

    /// Waits until the postmaster reports `ready` in `postmaster.pid` (what `pg_ctl -w`
    /// waits for), failing early if it exits.
    fn wait_ready(
        &mut self,
        timeout: Duration,
        stop: Option<&AtomicBool>,
    ) -> Result<(), StoreError> {
        let deadline = Instant::now() + timeout;
        let pid_file = self.data_dir().join("postmaster.pid");
        loop {
            if let Some(status) = self.try_exit_status() {
                self.log.wait_closed(Duration::from_millis(500));
                let log_tail = self.log_tail();
                if log_tail
                    .iter()
                    .any(|line| line.contains("Address already in use"))
                {
                    return Err(StoreError::Port(PortError::InUse { port: self.port }));
                }
                return Err(StoreError::StartFailed {
                    reason: format!("postgres exited ({})", describe_status(status)),
                    log_tail,
                });
            }
            if pid_file_ready(&pid_file, self.pid()) {
                return Ok(());
            }
            if stop.is_some_and(|flag| flag.load(Ordering::SeqCst)) {
                return Err(StoreError::Interrupted);
            }
            if Instant::now() >= deadline {
                return Err(StoreError::StartFailed {
                    reason: format!(
                        "not accepting connections within {}",
                        humantime::format_duration(timeout)
                    ),
                    log_tail: self.log_tail(),
                });
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop_quietly();
    }
}

/// Whether `postmaster.pid` names `pid` and says `ready` (its eighth line).
fn pid_file_ready(path: &Path, pid: u32) -> bool {
    let Ok(text) = fs::read_to_string(path) else {
        return false;
    };
    let lines: Vec<&str> = text.lines().collect();
    lines.first().and_then(|l| l.trim().parse::<u32>().ok()) == Some(pid)
        && lines.get(7).is_some_and(|status| status.trim() == "ready")
}

/// Waits for the processes of a stopped server's tree to exit (a backend notices
/// the postmaster's death at once and exits), then kills any that did not.
fn finish_children(tree: &[u32]) {
    let deadline = Instant::now() + CHILDREN_GRACE;
    let alive = || {
        tree.iter()
            .copied()
            .filter(|&pid| process_alive(pid))
            .collect::<Vec<_>>()
    };
    loop {
        let left = alive();
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            for pid in left {
                kill_pid(pid, libc::SIGKILL);
            }
            return;
        }
        std::thread::sleep(POLL);
    }
}

fn kill_pid(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill only sends a signal, to a process of the server we started.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_file_is_ready_only_for_our_pid_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("postmaster.pid");
        assert!(!pid_file_ready(&path, 42), "no file yet");
        let write = |pid: &str, status: &str| {
            let text =
                format!("{pid}\n/data\n1700000000\n5432\n/tmp\n127.0.0.1\n  1 2\n{status}\n");
            fs::write(&path, text).unwrap();
        };
        write("42", "starting");
        assert!(!pid_file_ready(&path, 42));
        write("42", "ready   ");
        assert!(pid_file_ready(&path, 42));
        assert!(!pid_file_ready(&path, 43), "another server's file");
    }
}
