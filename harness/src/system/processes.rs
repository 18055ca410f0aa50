//! The real [`Supervisor`]: builds with the target's build command, launches its run
//! command as a process group (pinned, in a cgroup, under a wrapper as asked), waits
//! for its health check, and gives it its own database in the PostgreSQL component.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::lifecycle::{BoxError, DatabaseHandle, Launch, Supervisor};
use crate::load::cpus::CpuList;
use crate::load::protocol::ProtocolName;
use crate::sample::TargetCgroup;
use crate::store::{target_env, DatabaseUrl, PgStore};
use crate::targets::{
    build_target, free_loopback_port, Connector, LaunchOptions, ReadinessProbe, StopOutcome,
    Target, TargetProcess, TlsCert,
};

impl DatabaseHandle for DatabaseUrl {
    fn name(&self) -> &str {
        self.database()
    }

    fn env(&self) -> Vec<(String, String)> {
        target_env(self)
    }
}

/// How the processes of one use of the lifecycle are built, placed and stopped.
pub struct Processes<'a> {
    /// Build logs go to `<build_logs>/<target>-build.log`.
    pub build_logs: PathBuf,
    /// CPUs a build may use (the measurement's own pinning is not for builds).
    pub build_cpus: Option<CpuList>,
    /// `WORKERS` given to the service.
    pub workers: usize,
    /// CPUs the service is pinned to, if any.
    pub cpus: Option<CpuList>,
    /// The service's own cgroup, where the machine gives one.
    pub cgroup: Option<&'a TargetCgroup>,
    /// Environment every launch gets before the database's (e.g. the cost wrapper).
    pub env: Vec<(String, String)>,
    /// The manifest's `ready_timeout` is multiplied by this (a slow wrapper).
    pub ready_slowdown: u32,
    /// SIGTERM to SIGKILL.
    pub stop_grace: Duration,
    /// Readiness ends early when this is set.
    pub interrupt: Option<&'a AtomicBool>,
    /// Database mode: the PostgreSQL component every target gets a database in.
    pub store: Option<&'a mut PgStore>,
    /// Added to the name of the databases created while set, so that the two services
    /// of a chain made of one target each get their own ("database per service").
    pub database_suffix: Option<&'static str>,
    /// The protocol every launch serves (`PROTOCOL`); `h1` unless set.
    pub protocol: ProtocolName,
    /// The run's certificate: required for a TLS protocol, handed to the service
    /// (`TLS_CERT`, `TLS_KEY`) and trusted by the readiness probe.
    pub tls: Option<TlsCert>,
    /// The probe made before the spawn, so nothing is set up between the spawn and
    /// the first attempt (startup timing).
    probe: Option<ReadinessProbe>,
}

impl<'a> Processes<'a> {
    /// Processes given `workers`, unpinned, with the default waits; the fields say what
    /// else can be set.
    pub fn new(build_logs: PathBuf, workers: usize, stop_grace: Duration) -> Processes<'a> {
        Processes {
            build_logs,
            build_cpus: None,
            workers,
            cpus: None,
            cgroup: None,
            env: Vec::new(),
            ready_slowdown: 1,
            stop_grace,
            interrupt: None,
            store: None,
            database_suffix: None,
            protocol: ProtocolName::H1,
            tls: None,
            probe: None,
        }
    }

    /// The database component, when there is one.
    pub fn store(&self) -> Option<&PgStore> {
        self.store.as_deref()
    }

    /// The database component, to watch or sample.
    pub fn store_mut(&mut self) -> Option<&mut PgStore> {
        self.store.as_deref_mut()
    }
}

impl Supervisor for Processes<'_> {
    type Process = TargetProcess;
    type Database = DatabaseUrl;

    fn build(&mut self, target: &Target) -> Result<Duration, BoxError> {
        let log = self.build_logs.join(format!("{}-build.log", target.name()));
        let built = match &self.build_cpus {
            Some(cpus) => cpus.while_pinned(|| build_target(target, &log)),
            None => build_target(target, &log),
        };
        Ok(built?.elapsed)
    }

    fn has_database(&self) -> bool {
        self.store.is_some()
    }

    fn create_database(&mut self, target: &Target) -> Result<DatabaseUrl, BoxError> {
        let store = self.store.as_deref_mut().ok_or("no database component")?;
        // A dead server explains itself better than the failed CREATE DATABASE would.
        store.check_running()?;
        let name = match self.database_suffix {
            Some(suffix) => format!("{}_{suffix}", target.name()),
            None => target.name().to_string(),
        };
        Ok(store.create_database(&name)?)
    }

    fn free_port(&mut self) -> Result<u16, BoxError> {
        Ok(free_loopback_port()?)
    }

    fn launch(&mut self, target: &Target, launch: &Launch) -> Result<TargetProcess, BoxError> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], launch.port));
        let health = &target.manifest.health;
        self.probe = Some(match self.protocol {
            ProtocolName::H1 => ReadinessProbe::new(addr, health),
            protocol => {
                // The probe puts its own timeout on the connector.
                let connector =
                    Connector::new(protocol, addr, self.tls.as_ref(), Duration::from_secs(1))
                        .map_err(|e| format!("target {}: {e}", target.name()))?;
                ReadinessProbe::on(&connector, health)?
            }
        });
        let mut env = self.env.clone();
        env.extend(launch.env.iter().cloned());
        let options = LaunchOptions {
            port: launch.port,
            workers: self.workers,
            cpus: self.cpus.clone(),
            env,
            protocol: self.protocol,
            tls: self.tls.clone(),
        };
        Ok(TargetProcess::launch_in(target, &options, self.cgroup)?)
    }

    fn wait_ready(
        &mut self,
        target: &Target,
        process: &mut TargetProcess,
    ) -> Result<Duration, BoxError> {
        let health = &target.manifest.health;
        let mut probe = match self.probe.take() {
            Some(probe) => probe,
            // The probe puts its own timeout on the connector.
            None => ReadinessProbe::on(&process.connector(Duration::from_secs(1)), health)?,
        };
        let timeout = target.manifest.ready_timeout * self.ready_slowdown;
        Ok(process.wait_ready_with(&mut probe, health, timeout, self.interrupt)?)
    }

    fn stderr_tail(&self, process: &mut TargetProcess) -> Vec<String> {
        process.last_stderr_lines()
    }

    fn stop(&mut self, process: &mut TargetProcess) -> Result<StopOutcome, BoxError> {
        Ok(process.stop(self.stop_grace)?)
    }

    fn drop_database(&mut self, database: DatabaseUrl) -> Result<(), BoxError> {
        match self.store.as_deref() {
            Some(store) => Ok(store.drop_database(&database)?),
            None => Ok(()),
        }
    }
}
