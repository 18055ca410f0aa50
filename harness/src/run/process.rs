//! How a run places the processes of the system under test: the service pinned to the
//! server CPUs and told how many it has, builds on every CPU of the run, build logs in
//! the run's folder, the run's certificate at hand for a TLS protocol. Launching and stopping are the lifecycle's (`crate::system`).

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
    processes.tls = settings.tls.clone();
    processes.protocol = settings.protocol;
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

#[cfg(test)]
mod tests {
    use crate::run::throwaway_certificate;

    #[test]
    fn the_runs_certificate_lives_in_its_folder_and_goes_with_it() {
        let out = tempfile::tempdir().unwrap();
        let out_dir = out.path().join("results/run-1");
        let (folder, cert) = throwaway_certificate(&out_dir).unwrap();
        assert!(folder.path().starts_with(&out_dir));
        assert!(cert.cert_path().is_file() && cert.key_path().is_file());
        let env = cert.env();
        assert_eq!(env[0].1, cert.cert_path().to_string_lossy());
        drop(folder);
        assert!(!cert.key_path().exists());
        assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0);
    }
}
