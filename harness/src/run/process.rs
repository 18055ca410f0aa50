//! Starting and stopping a target's processes for a run: pinned to the server CPUs,
//! told how many CPUs it has, optionally inside its own cgroup.

use std::time::Duration;

use super::failure::Failure;
use super::RunSettings;
use crate::sample::TargetCgroup;
use crate::targets::{LaunchOptions, Target, TargetProcess};

/// Grace between SIGTERM and SIGKILL when stopping a target.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Launches `target` on `port` as the run places servers, with `env` added (database
/// mode: `STORE` and `DATABASE_URL`).
pub fn launch_target(
    target: &Target,
    settings: &RunSettings,
    port: u16,
    cgroup: Option<&TargetCgroup>,
    env: &[(String, String)],
) -> Result<TargetProcess, Failure> {
    let options = LaunchOptions {
        port,
        workers: settings.server_cpus.len(),
        cpus: Some(settings.server_cpus.clone()),
        env: env.to_vec(),
    };
    TargetProcess::launch_in(target, &options, cgroup).map_err(|e| Failure::new(e.to_string()))
}

/// Stops the process group (SIGTERM, then SIGKILL after the grace).
pub fn stop_process(process: &mut TargetProcess) {
    let _ = process.stop(STOP_GRACE);
}
