//! TEMPORARY stand-in until the proxy component lands (merge replaces it).
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::{Component, Role};
use crate::load::cpus::CpuList;
use crate::sample::TargetCgroup;

pub struct ProxyProcess {
    addr: SocketAddr,
}

impl ProxyProcess {
    pub fn start(
        _bin: &Path,
        upstream: SocketAddr,
        _cpus: Option<CpuList>,
    ) -> Result<ProxyProcess, String> {
        Ok(ProxyProcess { addr: upstream })
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn stop(self) {}
}

impl Component for ProxyProcess {
    fn name(&self) -> &str {
        "proxy"
    }
    fn role(&self) -> Role {
        Role::Proxy
    }
    fn pid(&self) -> Option<u32> {
        None
    }
    fn cpus(&self) -> Option<&CpuList> {
        None
    }
    fn cgroup(&self) -> Option<&TargetCgroup> {
        None
    }
    fn cpu_time(&self) -> Option<Duration> {
        None
    }
    fn check_running(&mut self) -> Result<(), String> {
        Ok(())
    }
}
