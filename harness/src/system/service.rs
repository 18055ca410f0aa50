//! A second service of the system, measured beside the service under test: the order
//! service of a service chain (role downstream). It is launched and stopped by the
//! lifecycle like any target; this component only knows where its process tree is, so
//! that `run` reads its CPU time and memory and notices its death the same way as for
//! every other component.
//!
//! A resilience run may stop the order service on purpose and start it again (the
//! `down` fault): the component then follows the process through a shared [`ServicePid`],
//! and while it is deliberately down it is neither a death nor measured.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{Component, Role};
use crate::load::cpus::CpuList;
use crate::sample::procfs::{process_alive, tree_usage};
use crate::sample::TargetCgroup;

/// The pid of a service that may be restarted: 0 while it is down on purpose.
#[derive(Debug, Clone, Default)]
pub struct ServicePid(Arc<AtomicU32>);

impl ServicePid {
    pub fn new(pid: u32) -> ServicePid {
        ServicePid(Arc::new(AtomicU32::new(pid)))
    }

    /// The current process, or `None` while it is down on purpose.
    pub fn get(&self) -> Option<u32> {
        Some(self.0.load(Ordering::SeqCst)).filter(|&p| p != 0)
    }

    /// Follows a restart (`Some(new pid)`) or marks it down on purpose (`None`).
    pub fn set(&self, pid: Option<u32>) {
        self.0.store(pid.unwrap_or(0), Ordering::SeqCst);
    }
}

/// A running service process (tree) beside the service under test.
pub struct ServiceComponent {
    name: String,
    role: Role,
    pid: ServicePid,
    cpus: Option<CpuList>,
}

impl ServiceComponent {
    /// The process tree led by `pid`, pinned to `cpus`.
    pub fn new(name: String, role: Role, pid: u32, cpus: Option<CpuList>) -> ServiceComponent {
        ServiceComponent::following(name, role, ServicePid::new(pid), cpus)
    }

    /// Like [`ServiceComponent::new`], following a service that may be restarted.
    pub fn following(
        name: String,
        role: Role,
        pid: ServicePid,
        cpus: Option<CpuList>,
    ) -> ServiceComponent {
        ServiceComponent {
            name,
            role,
            pid,
            cpus,
        }
    }
}

impl Component for ServiceComponent {
    fn name(&self) -> &str {
        &self.name
    }

    fn role(&self) -> Role {
        self.role
    }

    fn pid(&self) -> Option<u32> {
        self.pid.get()
    }

    fn cpus(&self) -> Option<&CpuList> {
        self.cpus.as_ref()
    }

    fn cgroup(&self) -> Option<&TargetCgroup> {
        None
    }

    fn cpu_time(&self) -> Option<Duration> {
        // Across a restart the time of the process before it is gone: no window spans one.
        self.pid.get().map(|pid| tree_usage(pid).cpu)
    }

    fn check_running(&mut self) -> Result<(), String> {
        match self.pid.get() {
            Some(pid) if !process_alive(pid) => {
                Err(format!("{} (pid {pid}) is no longer running", self.name))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_is_alive_and_a_reaped_one_is_not() {
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid));
    }

    #[test]
    fn an_exited_unreaped_child_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Exited but not waited for: a zombie.
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while process_alive(pid) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!process_alive(pid));
        child.wait().unwrap();
    }
}
