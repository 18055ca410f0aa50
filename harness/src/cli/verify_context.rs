//! What every target check of `lanebench verify` shares, plain and chain alike: the
//! context (workers, options, the database, the stop flag), the progress lines the
//! lifecycle's steps print, and where build logs go.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::store::PgStore;
use crate::system::{LifecycleObserver, Step};
use crate::targets::Target;
use crate::verify::VerifyOptions;

/// How long a target gets to exit after SIGTERM before it is killed.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(5);

/// What every target check shares.
pub(super) struct Context {
    pub(super) workers: usize,
    pub(super) options: VerifyOptions,
    pub(super) store: Option<PgStore>,
    pub(super) stop: Arc<AtomicBool>,
    /// `--chain`: check targets as user services.
    pub(super) chain: bool,
    /// `--protocol`: each target is checked on these in turn (those it serves).
    pub(super) protocols: Vec<crate::load::protocol::ProtocolName>,
}

/// Prints the lifecycle's steps as verify always has.
pub(super) struct Progress {
    log_path: PathBuf,
    workers: usize,
    /// What the process is in a chain, printed after its name.
    pub(super) role: Option<&'static str>,
}

impl Progress {
    pub(super) fn new(log_path: PathBuf, workers: usize) -> Progress {
        Progress {
            log_path,
            workers,
            role: None,
        }
    }
}

impl LifecycleObserver for Progress {
    fn step(&mut self, target: &Target, step: Step) {
        if step == Step::Build {
            let log = self.log_path.display();
            eprintln!("{}: building (log: {log})", target.name());
        }
    }

    fn built(&mut self, target: &Target, took: Duration) {
        eprintln!("{}: built in {:.1} s", target.name(), took.as_secs_f64());
    }

    fn database_ready(&mut self, target: &Target, database: &str, took: Duration) {
        let seconds = took.as_secs_f64();
        eprintln!(
            "{}: database {database} ready in {seconds:.1} s",
            target.name()
        );
    }

    fn ready(&mut self, target: &Target, port: u16, took: Duration) {
        let role = self.role.map(|r| format!(" ({r})")).unwrap_or_default();
        eprintln!(
            "{}{role}: ready in {} ms on port {port} (WORKERS={})",
            target.name(),
            took.as_millis(),
            self.workers
        );
    }
}

/// The workspace's `target/` folder (next to the targets folder): build logs and the
/// database server's folder live there, out of version control.
pub(super) fn workspace_target_dir(targets_dir: &Path) -> PathBuf {
    targets_dir
        .parent()
        .unwrap_or(Path::new("."))
        .join("target")
}

/// Build logs live next to the workspace's build outputs, out of version control.
pub(super) fn build_log_path(target: &Target) -> PathBuf {
    let targets_dir = target.dir.parent().unwrap_or(Path::new("."));
    workspace_target_dir(targets_dir)
        .join("lanebench-logs")
        .join(format!("{}-build.log", target.name()))
}
