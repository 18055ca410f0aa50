//! How a run places the processes of the system under test: the service pinned to the
//! server CPUs and told how many it has, builds on every CPU of the run, build logs in
//! the run's folder. Launching and stopping are the lifecycle's (`crate::system`).

use std::time::Duration;

use super::failure::Failure;
use super::RunSettings;
use crate::system::{LifecycleError, Processes, Step};

/// Grace between SIGTERM and SIGKILL when stopping a target.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The supervisor of a run's processes, without the database component.
pub fn run_processes<'a>(settings: &RunSettings) -> Processes<'a> {
    let logs = settings.out_dir.join("logs");
    let mut processes = Processes::new(logs, settings.server_cpus.len(), STOP_GRACE);
    processes.cpus = Some(settings.server_cpus.clone());
    processes.build_cpus = Some(settings.server_cpus.union(&settings.generator_cpus));
    processes
}

impl From<LifecycleError> for Failure {
    /// The step's own message (a database step's prefixed, as the run reports it), with
    /// the service's last stderr lines when it was running.
    fn from(error: LifecycleError) -> Failure {
        let reason = match error.step() {
            Step::Database | Step::Release => format!("database: {error}"),
            _ => error.to_string(),
        };
        Failure {
            reason,
            stderr_tail: error.stderr_tail().to_vec(),
        }
    }
}
