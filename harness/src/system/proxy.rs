//! The proxy between two services as a component of the system under test: the
//! `lanebench proxy` process, started in its own process group (pinned and in a cgroup
//! when asked, like a target), measured and watched like every component, and stopped on
//! every path: by `stop`, and by `Drop` as the last resort.
//!
//! A run reads the proxy's figures per measured window: `stats(true)` when the window
//! opens (its result dropped: it only starts a new window) and `stats(true)` again when
//! it closes, which returns exactly the window's figures.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{Component, Role};
use crate::load::cpus::CpuList;
use crate::load::result::LatencySummary;
use crate::proxy::{fetch_stats, ProxyError, ProxyStats};
use crate::results::chain::HopRecord;
use crate::sample::{tree_usage, TargetCgroup};
use crate::targets::output_tail::OutputTail;
use crate::targets::process::{describe_status, die_with_parent, pin_to_cpus, signal_group};

/// How long the proxy gets to say where it listens.
pub const PROXY_READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the proxy gets to exit after SIGTERM before it is killed.
pub const PROXY_STOP_GRACE: Duration = Duration::from_secs(2);
const STOP_POLL: Duration = Duration::from_millis(10);

/// How to start a proxy.
#[derive(Debug)]
pub struct ProxyOptions {
    /// The `lanebench` binary to run as `<binary> proxy` (the CLI passes its own path).
    pub binary: PathBuf,
    /// The order service the proxy relays to (loopback).
    pub upstream: SocketAddr,
    /// CPUs the proxy is pinned to, if any.
    pub cpus: Option<CpuList>,
    /// A cgroup the proxy is placed in from its first instruction, for exact CPU time.
    pub cgroup: Option<TargetCgroup>,
}

impl ProxyOptions {
    /// A proxy of `binary` to `upstream`, unpinned, outside any cgroup.
    pub fn new(binary: impl Into<PathBuf>, upstream: SocketAddr) -> ProxyOptions {
        ProxyOptions {
            binary: binary.into(),
            upstream,
            cpus: None,
            cgroup: None,
        }
    }
}

/// A running `lanebench proxy` process.
#[derive(Debug)]
pub struct ProxyProcess {
    child: Child,
    addr: SocketAddr,
    control_addr: SocketAddr,
    cpus: Option<CpuList>,
    cgroup: Option<TargetCgroup>,
    stderr: OutputTail,
    exit_status: Option<ExitStatus>,
    /// Set once the group has been swept, so `Drop` never signals a process group id
    /// that the kernel may since have handed to someone else.
    group_stopped: bool,
}

impl ProxyProcess {
    /// Starts `<binary> proxy` to `upstream`, pinned to `cpus` if given, and waits (up
    /// to [`PROXY_READY_TIMEOUT`]) until it listens.
    pub fn start(
        binary: &Path,
        upstream: SocketAddr,
        cpus: Option<CpuList>,
    ) -> Result<ProxyProcess, ProxyError> {
        let mut options = ProxyOptions::new(binary, upstream);
        options.cpus = cpus;
        ProxyProcess::start_with(options)
    }

    /// [`ProxyProcess::start`] with every option (a cgroup too).
    pub fn start_with(options: ProxyOptions) -> Result<ProxyProcess, ProxyError> {
        let program = options.binary.display().to_string();
        let spawn_error = |source| ProxyError::Spawn {
            program: program.clone(),
            source,
        };
        let mut command = Command::new(&options.binary);
        command
            .arg("proxy")
            .arg("--upstream")
            .arg(options.upstream.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        die_with_parent(&mut command);
        if let Some(cgroup) = &options.cgroup {
            cgroup.enter_on_spawn(&mut command);
        }
        if let Some(cpus) = &options.cpus {
            cpus.check_allowed()
                .map_err(|e| spawn_error(std::io::Error::other(e.to_string())))?;
            pin_to_cpus(&mut command, cpus);
        }
        let mut child = command.spawn().map_err(spawn_error)?;
        let stdout = child.stdout.take();
        let stderr = child
            .stderr
            .take()
            .map(|err| OutputTail::capture(err, "proxy-stderr"))
            .unwrap_or_default();
        let mut process = ProxyProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            control_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            cpus: options.cpus,
            cgroup: options.cgroup,
            stderr,
            exit_status: None,
            group_stopped: false,
        };
        // On failure `process` is dropped here, which kills what was started.
        let (addr, control_addr) = process.wait_listening(stdout)?;
        process.addr = addr;
        process.control_addr = control_addr;
        Ok(process)
    }

    /// Reads the `listening on A control C` line, with a timeout.
    fn wait_listening(
        &mut self,
        stdout: Option<std::process::ChildStdout>,
    ) -> Result<(SocketAddr, SocketAddr), ProxyError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        if let Some(stdout) = stdout {
            // Not joined: it ends when the proxy's stdout closes, whoever holds it.
            let _ = std::thread::Builder::new()
                .name("proxy-stdout".to_string())
                .spawn(move || {
                    let mut line = String::new();
                    let _ = BufReader::new(stdout).read_line(&mut line);
                    let _ = sender.send(line);
                });
        }
        let line = receiver.recv_timeout(PROXY_READY_TIMEOUT);
        let not_ready = |why: String, process: &mut ProxyProcess| {
            if process.try_exit_status().is_some() {
                process.stderr.wait_closed(Duration::from_secs(1));
            }
            ProxyError::NotReady {
                why,
                stderr: process.stderr.lines().join(" | "),
            }
        };
        match line {
            Ok(line) => parse_listening(&line).ok_or_else(|| {
                not_ready(self.exit_or(format!("it printed `{}`", line.trim())), self)
            }),
            Err(_) => Err(not_ready(
                self.exit_or(format!(
                    "no `listening on` line within {}",
                    humantime::format_duration(PROXY_READY_TIMEOUT)
                )),
                self,
            )),
        }
    }

    /// How the process ended, if it has, else `otherwise`.
    fn exit_or(&mut self, otherwise: String) -> String {
        match self.try_exit_status() {
            Some(status) => format!("it exited ({})", describe_status(status)),
            None => otherwise,
        }
    }

    /// Where clients (the user service) connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the proxy serves its figures.
    pub fn control_addr(&self) -> SocketAddr {
        self.control_addr
    }

    /// The proxy's figures; with `reset`, it starts a new window in the same step.
    pub fn stats(&self, reset: bool) -> Result<ProxyStats, ProxyError> {
        fetch_stats(self.control_addr, reset)
    }

    /// The proxy's last stderr lines.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr.lines()
    }

    /// The leader's exit status if it has exited (reaping it), without blocking.
    fn try_exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit_status.is_none() {
            self.exit_status = self.child.try_wait().ok().flatten();
        }
        self.exit_status
    }

    /// Stops the proxy: SIGTERM to its group, SIGKILL after [`PROXY_STOP_GRACE`]. Its
    /// exit status, when it could be reaped.
    pub fn stop(mut self) -> Option<ExitStatus> {
        self.terminate().ok()
    }

    /// What [`ProxyProcess::stop`] and `Drop` do; stopping a stopped proxy returns the
    /// same status again.
    fn terminate(&mut self) -> std::io::Result<ExitStatus> {
        if self.group_stopped {
            if let Some(status) = self.exit_status {
                return Ok(status);
            }
        }
        if self.try_exit_status().is_none() {
            signal_group(self.child.id(), libc::SIGTERM);
            let deadline = Instant::now() + PROXY_STOP_GRACE;
            while self.try_exit_status().is_none() && Instant::now() < deadline {
                std::thread::sleep(STOP_POLL);
            }
        }
        // Anything of the group still there (a leader that ignored SIGTERM) goes now.
        signal_group(self.child.id(), libc::SIGKILL);
        let status = match self.exit_status {
            Some(status) => status,
            None => self.child.wait()?,
        };
        self.exit_status = Some(status);
        self.group_stopped = true;
        Ok(status)
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if !self.group_stopped {
            let _ = self.terminate();
        }
    }
}

impl Component for ProxyProcess {
    fn name(&self) -> &str {
        "proxy"
    }

    fn role(&self) -> Role {
        Role::Proxy
    }

    fn pid(&self) -> Option<u32> {
        Some(self.child.id())
    }

    fn cpus(&self) -> Option<&CpuList> {
        self.cpus.as_ref()
    }

    fn cgroup(&self) -> Option<&TargetCgroup> {
        self.cgroup.as_ref()
    }

    fn cpu_time(&self) -> Option<Duration> {
        let from_cgroup = self.cgroup.as_ref().and_then(TargetCgroup::cpu_usage);
        Some(from_cgroup.unwrap_or_else(|| tree_usage(self.child.id()).cpu))
    }

    fn check_running(&mut self) -> Result<(), String> {
        match self.try_exit_status() {
            None => Ok(()),
            Some(status) => Err(format!("the proxy exited ({})", describe_status(status))),
        }
    }

    fn window_opened(&mut self) {
        // Only the reset matters: what came before the window is not the window's.
        let _ = self.stats(true);
    }

    fn window_closed(&mut self) -> Option<HopRecord> {
        let stats = self.stats(true).ok()?;
        let latency = stats.latency().ok()?;
        let failed = stats.upstream_failures;
        Some(HopRecord {
            component: self.name().to_string(),
            requests: stats.requests_forwarded,
            responses: stats.responses_relayed,
            failures: failed.refused + failed.connect_timeout + failed.closed + failed.malformed,
            abandoned: stats.client_abandoned,
            latency_ms: LatencySummary::from_histogram(&latency),
            latency_hdr: Some(stats.latency_hdr),
            window_s: stats.window_seconds,
        })
    }
}

/// The two addresses of `listening on 127.0.0.1:P control 127.0.0.1:C`.
fn parse_listening(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let rest = line.trim().strip_prefix("listening on ")?;
    let (addr, control) = rest.split_once(" control ")?;
    Some((addr.parse().ok()?, control.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_both_addresses() {
        let (a, c) =
            parse_listening("listening on 127.0.0.1:4000 control 127.0.0.1:4001\n").unwrap();
        assert_eq!((a.port(), c.port()), (4000, 4001));
        assert_eq!(parse_listening("listening on 127.0.0.1:4000"), None);
        assert_eq!(parse_listening("error: nope"), None);
    }
}
