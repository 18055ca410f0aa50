//! A second service of the system, measured beside the service under test: the order
//! service of a service chain (role downstream). It is launched and stopped by the
//! lifecycle like any target; this component only knows where its process tree is, so
//! that `run` reads its CPU time and memory and notices its death the same way as for
//! every other component.

use std::time::Duration;

use super::{Component, Role};
use crate::load::cpus::CpuList;
use crate::sample::procfs::{process_alive, tree_usage};
use crate::sample::TargetCgroup;

/// A running service process (tree) beside the service under test.
pub struct ServiceComponent {
    name: String,
    role: Role,
    pid: u32,
    cpus: Option<CpuList>,
}

impl ServiceComponent {
    /// The process tree led by `pid`, pinned to `cpus`.
    pub fn new(name: String, role: Role, pid: u32, cpus: Option<CpuList>) -> ServiceComponent {
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
        Some(self.pid)
    }

    fn cpus(&self) -> Option<&CpuList> {
        self.cpus.as_ref()
    }

    fn cgroup(&self) -> Option<&TargetCgroup> {
        None
    }

    fn cpu_time(&self) -> Option<Duration> {
        Some(tree_usage(self.pid).cpu)
    }

    fn check_running(&mut self) -> Result<(), String> {
        if process_alive(self.pid) {
            Ok(())
        } else {
            Err(format!(
                "{} (pid {}) is no longer running",
                self.name, self.pid
            ))
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
