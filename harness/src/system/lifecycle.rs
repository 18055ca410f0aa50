//! The one lifecycle of a system under test: build, database, launch, ready, use,
//! stop, drop. Every failure and the stop flag end it the same way: whatever process
//! was launched is stopped, and (in [`run_once`]) whatever database was created is
//! dropped, before the error is returned.
//!
//! The steps are behind the [`Supervisor`] trait so that the orchestration is tested
//! with a fake that records what it started and stopped, without real processes.
//! `run` splits the lifecycle ([`prepare`] once, [`launch_and_use`] for every launch,
//! [`release`] at the end); `verify` and `cost` take it whole ([`run_once`]).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::targets::{StopOutcome, Target};

/// The error of a supervisor's step, kept whole so that its message and its chain of
/// causes print as they did before the lifecycle wrapped it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A step of the lifecycle, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Build,
    Database,
    Launch,
    Ready,
    Use,
    Stop,
    Release,
}

/// Why the lifecycle ended early.
#[derive(Debug)]
pub enum LifecycleError {
    /// `step` failed; `stderr_tail` holds the service's last stderr lines when it was
    /// running (readiness, use).
    Failed {
        step: Step,
        source: BoxError,
        stderr_tail: Vec<String>,
    },
    /// The stop flag was set before `step`.
    Interrupted { step: Step },
}

impl LifecycleError {
    /// The step that failed or was not reached.
    pub fn step(&self) -> Step {
        match self {
            LifecycleError::Failed { step, .. } | LifecycleError::Interrupted { step } => *step,
        }
    }

    /// The service's last stderr lines, when it was running.
    pub fn stderr_tail(&self) -> &[String] {
        match self {
            LifecycleError::Failed { stderr_tail, .. } => stderr_tail,
            LifecycleError::Interrupted { .. } => &[],
        }
    }

    /// The step's own error, to look into (e.g. a readiness that was interrupted).
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            LifecycleError::Failed { source, .. } => Some(source.as_ref()),
            LifecycleError::Interrupted { .. } => None,
        }
    }

    fn failed(step: Step, source: BoxError) -> LifecycleError {
        LifecycleError::Failed {
            step,
            source,
            stderr_tail: Vec::new(),
        }
    }
}

// Transparent: the step's message, and its causes after it, exactly as the step
// reported them (callers print with `{:#}` and add their own prefixes).
impl fmt::Display for LifecycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LifecycleError::Failed { source, .. } => fmt::Display::fmt(source, f),
            LifecycleError::Interrupted { .. } => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for LifecycleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LifecycleError::Failed { source, .. } => source.source(),
            LifecycleError::Interrupted { .. } => None,
        }
    }
}

/// A database a supervisor created for one target.
pub trait DatabaseHandle {
    /// The database's name, for progress lines.
    fn name(&self) -> &str;
    /// What the target's processes are told to reach it.
    fn env(&self) -> Vec<(String, String)>;
}

/// Starts and stops the components of a system under test. The real one
/// ([`super::Processes`]) runs builds and processes; tests use a fake.
pub trait Supervisor {
    /// A launched service process.
    type Process;
    /// A target's own database.
    type Database: DatabaseHandle;

    /// Builds the target; returns how long the build took.
    fn build(&mut self, target: &Target) -> Result<Duration, BoxError>;
    /// Whether this system has a database component (database mode).
    fn has_database(&self) -> bool;
    /// Creates the target's database (only called when [`Supervisor::has_database`]).
    fn create_database(&mut self, target: &Target) -> Result<Self::Database, BoxError>;
    /// A free loopback port to launch the service on.
    fn free_port(&mut self) -> Result<u16, BoxError>;
    /// Launches the service on `launch.port` with `launch.env` added.
    fn launch(&mut self, target: &Target, launch: &Launch) -> Result<Self::Process, BoxError>;
    /// Waits until the process answers its health check; returns spawn-to-ready.
    fn wait_ready(
        &mut self,
        target: &Target,
        process: &mut Self::Process,
    ) -> Result<Duration, BoxError>;
    /// The process's last stderr lines (asked after it was stopped: all of them).
    fn stderr_tail(&self, process: &mut Self::Process) -> Vec<String>;
    /// Stops the process (and its whole tree).
    fn stop(&mut self, process: &mut Self::Process) -> Result<StopOutcome, BoxError>;
    /// Drops the target's database.
    fn drop_database(&mut self, database: Self::Database) -> Result<(), BoxError>;
}

/// Progress of the lifecycle. Every method does nothing unless overridden.
pub trait LifecycleObserver {
    /// `step` of `target` begins.
    fn step(&mut self, _target: &Target, _step: Step) {}
    /// The target was built in `took`.
    fn built(&mut self, _target: &Target, _took: Duration) {}
    /// The target's database `name` was ready in `took`.
    fn database_ready(&mut self, _target: &Target, _name: &str, _took: Duration) {}
    /// The service answered on `port`, `took` after its spawn.
    fn ready(&mut self, _target: &Target, _port: u16, _took: Duration) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl LifecycleObserver for Silent {}

/// A target built and given its database: ready to be launched any number of times.
#[derive(Debug)]
pub struct Prepared<D> {
    /// How long the build took.
    pub build: Duration,
    /// The target's own database, in database mode.
    pub database: Option<D>,
    /// What every launch of the target is given (the database's address).
    pub env: Vec<(String, String)>,
}

/// Where and how one process is launched.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    pub port: u16,
    pub env: &'a [(String, String)],
}

/// What one launch gave: the use step's value, spawn-to-ready, and how it stopped.
#[derive(Debug)]
pub struct Ran<T> {
    pub used: T,
    pub ready: Duration,
    pub stopped: StopOutcome,
}

fn check(stop: Option<&AtomicBool>, step: Step) -> Result<(), LifecycleError> {
    match stop {
        Some(flag) if flag.load(Ordering::SeqCst) => Err(LifecycleError::Interrupted { step }),
        _ => Ok(()),
    }
}

/// Builds the target and creates its database. A failed database step leaves nothing
/// behind (the database was not created).
pub fn prepare<S: Supervisor>(
    supervisor: &mut S,
    observer: &mut dyn LifecycleObserver,
    target: &Target,
    stop: Option<&AtomicBool>,
) -> Result<Prepared<S::Database>, LifecycleError> {
    observer.step(target, Step::Build);
    let build = supervisor
        .build(target)
        .map_err(|e| LifecycleError::failed(Step::Build, e))?;
    observer.built(target, build);
    let mut prepared = Prepared {
        build,
        database: None,
        env: Vec::new(),
    };
    if supervisor.has_database() {
        check(stop, Step::Database)?;
        observer.step(target, Step::Database);
        let started = Instant::now();
        let database = supervisor
            .create_database(target)
            .map_err(|e| LifecycleError::failed(Step::Database, e))?;
        observer.database_ready(target, database.name(), started.elapsed());
        prepared.env = database.env();
        prepared.database = Some(database);
    }
    Ok(prepared)
}

/// Drops what [`prepare`] created.
pub fn release<S: Supervisor>(
    supervisor: &mut S,
    prepared: Prepared<S::Database>,
) -> Result<(), LifecycleError> {
    match prepared.database {
        Some(database) => supervisor
            .drop_database(database)
            .map_err(|e| LifecycleError::failed(Step::Release, e)),
        None => Ok(()),
    }
}

/// Launches the service, waits until it is ready, hands it to `use_` (with the
/// supervisor, which holds the other components), and stops it, whatever happened.
/// A failed stop after a failed use is not reported: the use's failure is the cause.
pub fn launch_and_use<S, T>(
    supervisor: &mut S,
    observer: &mut dyn LifecycleObserver,
    target: &Target,
    launch: &Launch,
    stop: Option<&AtomicBool>,
    use_: impl FnOnce(&mut S, &mut S::Process, Duration) -> Result<T, BoxError>,
) -> Result<Ran<T>, LifecycleError>
where
    S: Supervisor,
{
    check(stop, Step::Launch)?;
    observer.step(target, Step::Launch);
    let mut process = supervisor
        .launch(target, launch)
        .map_err(|e| LifecycleError::failed(Step::Launch, e))?;
    observer.step(target, Step::Ready);
    let ended = |supervisor: &mut S, mut process: S::Process, step, source| {
        // Stopped first, so its last words (why it died) have all been read.
        let _ = supervisor.stop(&mut process);
        let stderr_tail = supervisor.stderr_tail(&mut process);
        LifecycleError::Failed {
            step,
            source,
            stderr_tail,
        }
    };
    let ready = match supervisor.wait_ready(target, &mut process) {
        Ok(ready) => ready,
        Err(e) => return Err(ended(supervisor, process, Step::Ready, e)),
    };
    observer.ready(target, launch.port, ready);
    observer.step(target, Step::Use);
    let used = match use_(supervisor, &mut process, ready) {
        Ok(used) => used,
        Err(e) => return Err(ended(supervisor, process, Step::Use, e)),
    };
    observer.step(target, Step::Stop);
    let stopped = supervisor
        .stop(&mut process)
        .map_err(|e| LifecycleError::failed(Step::Stop, e))?;
    Ok(Ran {
        used,
        ready,
        stopped,
    })
}

/// The whole lifecycle once: [`prepare`], [`launch_and_use`] on a free port (chosen
/// after the build, so nothing takes it meanwhile), [`release`]. `use_` is also given
/// the target's database. The database is dropped on failure too.
pub fn run_once<S, T>(
    supervisor: &mut S,
    observer: &mut dyn LifecycleObserver,
    target: &Target,
    stop: Option<&AtomicBool>,
    use_: impl FnOnce(&mut S, &mut S::Process, Option<&S::Database>) -> Result<T, BoxError>,
) -> Result<Ran<T>, LifecycleError>
where
    S: Supervisor,
{
    let prepared = prepare(supervisor, observer, target, stop)?;
    let ran = match supervisor.free_port() {
        Ok(port) => {
            let launch = Launch {
                port,
                env: &prepared.env,
            };
            let database = prepared.database.as_ref();
            launch_and_use(supervisor, observer, target, &launch, stop, |s, p, _| {
                use_(s, p, database)
            })
        }
        Err(e) => Err(LifecycleError::failed(Step::Launch, e)),
    };
    match ran {
        Ok(ran) => {
            observer.step(target, Step::Release);
            release(supervisor, prepared)?;
            Ok(ran)
        }
        Err(error) => {
            let _ = release(supervisor, prepared);
            Err(error)
        }
    }
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
