//! A running target process: launch in its own process group, readiness, stop.
//!
//! The whole group is signalled, not just the child, because `sh -c`, cluster masters
//! and worker pools spawn children of their own; `Drop` kills the group as a last resort
//! so a panic in the harness never leaves a server listening.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::connect::{Connector, ConnectorError};
use super::discovery::Target;
use super::manifest::WRAP_VARIABLE;
use super::output_tail::OutputTail;
use super::port::{ensure_port_free, PortError};
use super::ready::{Probe, ReadinessProbe};
use super::tls_cert::TlsCert;
use crate::load::cpus::{CpuList, CpuListError};
use crate::load::protocol::ProtocolName;
use crate::sample::TargetCgroup;

/// Interval between checks for exit while stopping.
const STOP_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How long to wait for a dead process's last output to be read. Only waited for once
/// the process has exited, when its pipes normally close at once; generous because the
/// reader thread may not be scheduled for a while on a busy machine (500 ms once lost a
/// last stderr line under heavy disk and CPU load).
const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// Connect, read and write timeout of [`TargetProcess::connector`] until a caller
/// picks its own.
const PROTOCOL_TIMEOUT: Duration = Duration::from_secs(5);

/// How to launch a target.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// Port the server must listen on (given as `PORT`).
    pub port: u16,
    /// Number of CPUs the server is given (given as `WORKERS`).
    pub workers: usize,
    /// CPUs the process group is pinned to, if any.
    pub cpus: Option<CpuList>,
    /// More environment variables (database mode: `STORE`, `DATABASE_URL`).
    pub env: Vec<(String, String)>,
    /// The protocol the server is to serve (given as `PROTOCOL`, `h1` included).
    pub protocol: ProtocolName,
    /// The run's certificate, given as `TLS_CERT` and `TLS_KEY` with a TLS protocol
    /// (required then) and trusted by the readiness probe.
    pub tls: Option<TlsCert>,
}

/// Why a target could not be launched.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The port is busy or none could be chosen.
    #[error("target {target}: {source}")]
    Port {
        /// Target name.
        target: String,
        /// The port problem.
        source: PortError,
    },
    /// The CPU list names CPUs this process may not use.
    #[error("target {target}: {source}")]
    Cpus {
        /// Target name.
        target: String,
        /// The CPU list problem.
        source: CpuListError,
    },
    /// A TLS protocol without the run's certificate, or a certificate the probe's
    /// TLS client refuses.
    #[error("target {target}: {source}")]
    Protocol {
        /// Target name.
        target: String,
        /// The problem.
        source: ConnectorError,
    },
    /// `sh` could not be started (or CPU pinning failed in the child).
    #[error("target {target}: cannot start `{run}`: {source}")]
    Spawn {
        /// Target name.
        target: String,
        /// The run command.
        run: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

/// Why a target did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum ReadyError {
    /// The process exited before answering its health check.
    #[error("target {target} exited before becoming ready ({status}); last stderr lines:\n{}", stderr_tail.join("\n"))]
    Exited {
        /// Target name.
        target: String,
        /// Exit status as text.
        status: String,
        /// Last lines of its stderr.
        stderr_tail: Vec<String>,
    },
    /// The probe could not be prepared (its HTTP/2 runtime).
    #[error("target {target}: cannot prepare the readiness probe: {source}")]
    Probe {
        /// Target name.
        target: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The stop flag was set while waiting.
    #[error("target {target}: interrupted while waiting for readiness")]
    Interrupted {
        /// Target name.
        target: String,
    },
    /// The health check did not return 200 in time.
    #[error("target {target} did not answer GET {health} with 200 within {}; last stderr lines:\n{}", humantime::format_duration(*timeout), stderr_tail.join("\n"))]
    Timeout {
        /// Target name.
        target: String,
        /// The health path.
        health: String,
        /// The readiness timeout.
        timeout: Duration,
        /// Last lines of its stderr.
        stderr_tail: Vec<String>,
    },
}

/// How a stopped target ended.
#[derive(Debug, Clone)]
pub struct StopOutcome {
    /// Exit status of the group leader.
    pub status: ExitStatus,
    /// Whether SIGKILL was needed because SIGTERM was not obeyed within the grace period.
    pub killed: bool,
}

/// A launched target process (the leader of its own process group).
#[derive(Debug)]
pub struct TargetProcess {
    name: String,
    port: u16,
    /// How to reach the server on the protocol it was started with.
    connector: Connector,
    child: Child,
    spawned_at: Instant,
    stdout: OutputTail,
    stderr: OutputTail,
    exit_status: Option<ExitStatus>,
    /// Set once `stop` has reaped the leader and swept the group, so `Drop` does not
    /// signal a process group id the kernel may since have handed to someone else.
    group_stopped: bool,
}

impl TargetProcess {
    /// Starts `sh -c <run>` in the target's folder in a new process group, with `PORT`
    /// and `WORKERS` set and, if asked, CPU affinity applied before `exec`.
    pub fn launch(target: &Target, options: &LaunchOptions) -> Result<TargetProcess, LaunchError> {
        TargetProcess::launch_in(target, options, None)
    }

    /// Like [`TargetProcess::launch`], with the process (and so all it spawns) placed in
    /// `cgroup` from its first instruction, so the kernel accounts its memory and CPU.
    pub fn launch_in(
        target: &Target,
        options: &LaunchOptions,
        cgroup: Option<&TargetCgroup>,
    ) -> Result<TargetProcess, LaunchError> {
        ensure_port_free(options.port).map_err(|source| LaunchError::Port {
            target: target.name().to_string(),
            source,
        })?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
        let connector = Connector::new(
            options.protocol,
            addr,
            options.tls.as_ref(),
            PROTOCOL_TIMEOUT,
        )
        .map_err(|source| LaunchError::Protocol {
            target: target.name().to_string(),
            source,
        })?;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&target.manifest.run)
            .current_dir(&target.dir)
            .env("PORT", options.port.to_string())
            .env("WORKERS", options.workers.to_string())
            // Inherited from the caller's shell it would silently wrap every server; only
            // `options.env` may set it (the instruction count does).
            .env_remove(WRAP_VARIABLE)
            .envs(options.env.iter().map(|(name, value)| (name, value)))
            .envs(protocol_env(options))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        die_with_parent(&mut command);
        if let Some(cgroup) = cgroup {
            cgroup.enter_on_spawn(&mut command);
        }
        if let Some(cpus) = &options.cpus {
            cpus.check_allowed().map_err(|source| LaunchError::Cpus {
                target: target.name().to_string(),
                source,
            })?;
            pin_to_cpus(&mut command, cpus);
        }
        let spawn_error = |source| LaunchError::Spawn {
            target: target.name().to_string(),
            run: target.manifest.run.clone(),
            source,
        };
        let spawned_at = Instant::now();
        let mut child = command.spawn().map_err(spawn_error)?;
        let name = target.name().to_string();
        let stdout = child
            .stdout
            .take()
            .map(|out| OutputTail::capture(out, &format!("{name}-stdout")))
            .unwrap_or_default();
        let stderr = child
            .stderr
            .take()
            .map(|err| OutputTail::capture(err, &format!("{name}-stderr")))
            .unwrap_or_default();
        Ok(TargetProcess {
            name,
            port: options.port,
            connector,
            child,
            spawned_at,
            stdout,
            stderr,
            exit_status: None,
            group_stopped: false,
        })
    }

    /// Process id of the group leader (also the process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port the target was told to listen on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The loopback address the target serves on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The protocol the target was started with.
    pub fn protocol(&self) -> ProtocolName {
        self.connector.protocol()
    }

    /// Connections to the target on its protocol (trusting the run's certificate),
    /// with `timeout` on connects, reads and writes.
    pub fn connector(&self, timeout: Duration) -> Connector {
        self.connector.with_timeout(timeout)
    }

    /// The instant just before the process was spawned.
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// The last lines the target wrote to stderr, oldest first.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr.lines()
    }

    /// The last stderr lines of a process that has exited, once its output has been
    /// read to the end (bounded wait): its last words, e.g. why it exited.
    pub fn last_stderr_lines(&mut self) -> Vec<String> {
        if self.try_exit_status().is_some() {
            self.stderr.wait_closed(OUTPUT_DRAIN_TIMEOUT);
        }
        self.stderr_tail()
    }

    /// The last lines the target wrote to stdout, oldest first.
    pub fn stdout_tail(&self) -> Vec<String> {
        self.stdout.lines()
    }

    /// Polls `GET <path>` (normally the manifest's `health`) until it answers 200 and
    /// returns the time since spawn. Fails early if the process exits, or after
    /// `timeout` counted from the spawn.
    pub fn wait_ready(&mut self, path: &str, timeout: Duration) -> Result<Duration, ReadyError> {
        self.wait_ready_or_stop(path, timeout, None)
    }

    /// Like [`TargetProcess::wait_ready`], also ending with [`ReadyError::Interrupted`]
    /// as soon as `stop` is set.
    pub fn wait_ready_or_stop(
        &mut self,
        path: &str,
        timeout: Duration,
        stop: Option<&AtomicBool>,
    ) -> Result<Duration, ReadyError> {
        let mut probe =
            ReadinessProbe::on(&self.connector, path).map_err(|source| ReadyError::Probe {
                target: self.name.clone(),
                source,
            })?;
        self.wait_ready_with(&mut probe, path, timeout, stop)
    }

    /// [`TargetProcess::wait_ready_or_stop`] with a probe prepared before the spawn
    /// (startup timing: nothing is set up between the spawn and the first attempt).
    pub fn wait_ready_with(
        &mut self,
        probe: &mut ReadinessProbe,
        path: &str,
        timeout: Duration,
        stop: Option<&AtomicBool>,
    ) -> Result<Duration, ReadyError> {
        let deadline = self.spawned_at + timeout;
        loop {
            if let Some(status) = self.try_exit_status() {
                self.stderr.wait_closed(OUTPUT_DRAIN_TIMEOUT);
                return Err(ReadyError::Exited {
                    target: self.name.clone(),
                    status: describe_status(status),
                    stderr_tail: self.stderr_tail(),
                });
            }
            let outcome = probe.probe();
            if outcome == Probe::Ready {
                return Ok(self.spawned_at.elapsed());
            }
            if stop.is_some_and(|flag| flag.load(Ordering::SeqCst)) {
                return Err(ReadyError::Interrupted {
                    target: self.name.clone(),
                });
            }
            if Instant::now() >= deadline {
                return Err(ReadyError::Timeout {
                    target: self.name.clone(),
                    health: path.to_string(),
                    timeout,
                    stderr_tail: self.stderr_tail(),
                });
            }
            std::thread::sleep(ReadinessProbe::pause_after(outcome));
        }
    }

    /// The leader's exit status if it has exited (reaping it), without blocking.
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit_status.is_none() {
            self.exit_status = self.child.try_wait().ok().flatten();
        }
        self.exit_status
    }

    /// Sends SIGTERM to the whole group, waits up to `grace` for the leader to exit,
    /// then SIGKILLs the group; always reaps the leader and kills stragglers.
    pub fn stop(&mut self, grace: Duration) -> std::io::Result<StopOutcome> {
        let outcome = self.terminate_group(grace)?;
        self.group_stopped = true;
        Ok(outcome)
    }

    fn terminate_group(&mut self, grace: Duration) -> std::io::Result<StopOutcome> {
        if let Some(status) = self.try_exit_status() {
            self.kill_group(libc::SIGKILL);
            return Ok(StopOutcome {
                status,
                killed: false,
            });
        }
        self.kill_group(libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.try_exit_status() {
                // Children that ignored SIGTERM must not outlive their leader.
                self.kill_group(libc::SIGKILL);
                return Ok(StopOutcome {
                    status,
                    killed: false,
                });
            }
            std::thread::sleep(STOP_POLL_INTERVAL);
        }
        self.kill_group(libc::SIGKILL);
        let status = self.child.wait()?;
        self.exit_status = Some(status);
        Ok(StopOutcome {
            status,
            killed: true,
        })
    }

    fn kill_group(&self, signal: libc::c_int) {
        signal_group(self.child.id(), signal);
    }
}

/// `PROTOCOL` always (an explicit `h1` too), and the certificate's files for TLS.
fn protocol_env(options: &LaunchOptions) -> Vec<(String, String)> {
    let mut env = vec![("PROTOCOL".to_string(), options.protocol.to_string())];
    if let (true, Some(tls)) = (options.protocol.tls(), &options.tls) {
        env.extend(tls.env());
    }
    env
}

/// Sends `signal` to process group `pgid`: a child the harness spawned with
/// `process_group(0)`, whose pid is its group id. A group that is gone is ignored.
pub(crate) fn signal_group(pgid: u32, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    // SAFETY: killpg only sends a signal; callers pass the pid of a child they made a
    // group leader at spawn and have not reaped yet, and ESRCH is harmless.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

impl Drop for TargetProcess {
    fn drop(&mut self) {
        if self.group_stopped {
            return;
        }
        self.kill_group(libc::SIGKILL);
        if self.exit_status.is_none() {
            let _ = self.child.wait();
        }
    }
}

/// Applies the CPU affinity in the child between `fork` and `exec`, so the server and
/// everything it spawns inherit it from the first instruction.
pub(crate) fn pin_to_cpus(command: &mut Command, cpus: &CpuList) {
    // SAFETY: cpu_set_t is plain data; zeroed is its empty value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus.cpus() {
        // SAFETY: CpuList only holds indices below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: the closure only calls sched_setaffinity, which is async-signal-safe, on
    // a set built before fork.
    unsafe {
        command.pre_exec(move || {
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Human-readable exit status: `exit code 3` or `killed by signal 9 (SIGKILL)`.
pub fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    match status.signal() {
        Some(signal) => format!("killed by signal {signal}{}", signal_name(signal)),
        None => "unknown exit status".to_string(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGTERM => " (SIGTERM)",
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGINT => " (SIGINT)",
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGBUS => " (SIGBUS)",
        _ => "",
    }
}

/// Asks the kernel to SIGKILL the child if the harness dies without stopping it (killed
/// with SIGKILL, or crashed), so a server is never left listening behind a dead run.
///
/// The kernel clears this setting when the child's credentials change, so a child that
/// switches user must register this hook after its own (hooks run in order).
pub(crate) fn die_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches only the calling (child) process.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
