//! The lifecycle against a fake supervisor: each step fails in turn, and the stop flag
//! is set before each step, and whatever was started is stopped and whatever was
//! created is dropped, through the fake's own record of both.

use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::AtomicBool;

use super::*;

/// A database the fake "created".
#[derive(Debug, PartialEq)]
struct FakeDatabase(String);

impl DatabaseHandle for FakeDatabase {
    fn name(&self) -> &str {
        &self.0
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![("DATABASE_URL".to_string(), format!("fake://{}", self.0))]
    }
}

/// Records every step, keeps what is running, and fails the step it is told to.
#[derive(Default)]
struct Fake {
    with_database: bool,
    fail: Option<Step>,
    events: Vec<String>,
    processes: Vec<u32>,
    databases: Vec<String>,
    next_pid: u32,
}

impl Fake {
    fn failing(step: Option<Step>) -> Fake {
        Fake {
            with_database: true,
            fail: step,
            next_pid: 100,
            ..Fake::default()
        }
    }

    fn outcome(&mut self, step: Step, event: String) -> Result<(), BoxError> {
        self.events.push(event);
        if self.fail == Some(step) {
            return Err(format!("{step:?} failed").into());
        }
        Ok(())
    }

    /// Nothing started is still running, nothing created is left.
    fn is_clean(&self) -> bool {
        self.processes.is_empty() && self.databases.is_empty()
    }
}

impl Supervisor for Fake {
    type Process = u32;
    type Database = FakeDatabase;

    fn build(&mut self, target: &Target) -> Result<Duration, BoxError> {
        self.outcome(Step::Build, format!("build {}", target.name()))?;
        Ok(Duration::from_millis(5))
    }

    fn has_database(&self) -> bool {
        self.with_database
    }

    fn create_database(&mut self, target: &Target) -> Result<FakeDatabase, BoxError> {
        self.outcome(Step::Database, format!("create {}", target.name()))?;
        self.databases.push(target.name().to_string());
        Ok(FakeDatabase(target.name().to_string()))
    }

    fn free_port(&mut self) -> Result<u16, BoxError> {
        Ok(8080)
    }

    fn launch(&mut self, target: &Target, launch: &Launch) -> Result<u32, BoxError> {
        let env: Vec<&str> = launch.env.iter().map(|(k, _)| k.as_str()).collect();
        let event = format!("launch {} on {} with {env:?}", target.name(), launch.port);
        self.outcome(Step::Launch, event)?;
        self.next_pid += 1;
        self.processes.push(self.next_pid);
        Ok(self.next_pid)
    }

    fn wait_ready(&mut self, _: &Target, process: &mut u32) -> Result<Duration, BoxError> {
        self.outcome(Step::Ready, format!("ready {process}"))?;
        Ok(Duration::from_millis(7))
    }

    fn stderr_tail(&self, process: &mut u32) -> Vec<String> {
        vec![format!("last words of {process}")]
    }

    fn stop(&mut self, process: &mut u32) -> Result<StopOutcome, BoxError> {
        // Like the real stop, the process is gone even when stopping reports an error.
        self.processes.retain(|p| p != process);
        self.outcome(Step::Stop, format!("stop {process}"))?;
        Ok(StopOutcome {
            status: std::process::ExitStatus::from_raw(0),
            killed: false,
        })
    }

    fn drop_database(&mut self, database: FakeDatabase) -> Result<(), BoxError> {
        self.databases.retain(|d| *d != database.0);
        self.outcome(Step::Release, format!("drop {}", database.0))
    }
}

fn target() -> Target {
    let manifest = toml::from_str(
        "name = \"t\"\nframework = \"T\"\nlanguage = \"Rust\"\nversion = \"1\"\nbuild = \"true\"\nrun = \"true\"\nhealth = \"/health\"\n",
    )
    .unwrap();
    Target {
        manifest,
        dir: std::path::PathBuf::from("."),
    }
}

/// The whole lifecycle with the fake; the use step fails when the fake is told to.
fn once(fake: &mut Fake, stop: &AtomicBool) -> Result<Ran<u32>, LifecycleError> {
    let fail_use = fake.fail == Some(Step::Use);
    run_once(fake, &mut Silent, &target(), Some(stop), |fake, pid, _| {
        fake.events.push(format!("use {pid}"));
        if fail_use {
            return Err("the check failed".into());
        }
        Ok(*pid)
    })
}

#[test]
fn a_whole_lifecycle_starts_and_stops_in_order() {
    let mut fake = Fake::failing(None);
    let ran = once(&mut fake, &AtomicBool::new(false)).unwrap();
    assert_eq!(ran.used, 101);
    assert_eq!(ran.ready, Duration::from_millis(7));
    assert!(!ran.stopped.killed);
    assert_eq!(
        fake.events,
        [
            "build t",
            "create t",
            "launch t on 8080 with [\"DATABASE_URL\"]",
            "ready 101",
            "use 101",
            "stop 101",
            "drop t",
        ]
    );
    assert!(fake.is_clean());
}

#[test]
fn every_failing_step_ends_the_lifecycle_with_nothing_left_running() {
    let steps = [
        Step::Build,
        Step::Database,
        Step::Launch,
        Step::Ready,
        Step::Use,
        Step::Stop,
        Step::Release,
    ];
    for step in steps {
        let mut fake = Fake::failing(Some(step));
        let error = once(&mut fake, &AtomicBool::new(false)).unwrap_err();
        assert_eq!(error.step(), step, "{:?}", fake.events);
        assert!(!error.to_string().is_empty());
        assert!(fake.is_clean(), "{step:?} left {:?}", fake.events);
        // No step after the failed one ran, except stopping and dropping.
        let last = fake
            .events
            .iter()
            .rposition(|e| !e.starts_with("stop") && !e.starts_with("drop"));
        let failed_event = &fake.events[last.unwrap()];
        let prefix = match step {
            Step::Build => "build",
            Step::Database => "create",
            Step::Launch => "launch",
            Step::Ready => "ready",
            Step::Use => "use",
            Step::Stop | Step::Release => "use",
        };
        assert!(
            failed_event.starts_with(prefix),
            "{step:?}: {:?}",
            fake.events
        );
        // The service's last words come with the failures it was running for.
        let running = matches!(step, Step::Ready | Step::Use);
        assert_eq!(!error.stderr_tail().is_empty(), running, "{step:?}");
    }
}

#[test]
fn the_step_error_prints_as_the_step_reported_it() {
    let mut fake = Fake::failing(Some(Step::Ready));
    let error = once(&mut fake, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(error.to_string(), "Ready failed");
    assert_eq!(error.stderr_tail(), ["last words of 101"]);
    assert!(matches!(error, LifecycleError::Failed { .. }));
}

#[test]
fn a_set_stop_flag_ends_before_the_next_step_with_nothing_left_running() {
    // The flag raised while building (the fake's build sets it): the database is never
    // created, the service never launched.
    struct StopWhileBuilding<'a>(Fake, &'a AtomicBool);
    impl Supervisor for StopWhileBuilding<'_> {
        type Process = u32;
        type Database = FakeDatabase;
        fn build(&mut self, target: &Target) -> Result<Duration, BoxError> {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
            self.0.build(target)
        }
        fn has_database(&self) -> bool {
            self.0.has_database()
        }
        fn create_database(&mut self, t: &Target) -> Result<FakeDatabase, BoxError> {
            self.0.create_database(t)
        }
        fn free_port(&mut self) -> Result<u16, BoxError> {
            self.0.free_port()
        }
        fn launch(&mut self, t: &Target, l: &Launch) -> Result<u32, BoxError> {
            self.0.launch(t, l)
        }
        fn wait_ready(&mut self, t: &Target, p: &mut u32) -> Result<Duration, BoxError> {
            self.0.wait_ready(t, p)
        }
        fn stderr_tail(&self, p: &mut u32) -> Vec<String> {
            self.0.stderr_tail(p)
        }
        fn stop(&mut self, p: &mut u32) -> Result<StopOutcome, BoxError> {
            self.0.stop(p)
        }
        fn drop_database(&mut self, d: FakeDatabase) -> Result<(), BoxError> {
            self.0.drop_database(d)
        }
    }
    for with_database in [true, false] {
        let stop = AtomicBool::new(false);
        let mut fake = StopWhileBuilding(
            Fake {
                with_database,
                ..Fake::failing(None)
            },
            &stop,
        );
        let error = run_once(&mut fake, &mut Silent, &target(), Some(&stop), |_, _, _| {
            Ok(())
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "interrupted");
        let expected = if with_database {
            Step::Database
        } else {
            Step::Launch
        };
        assert_eq!(error.step(), expected);
        assert_eq!(fake.0.events, ["build t"]);
        assert!(fake.0.is_clean());
    }
}

#[test]
fn a_stop_flag_set_during_use_still_stops_the_service_and_drops_its_database() {
    let stop = AtomicBool::new(false);
    let mut fake = Fake::failing(None);
    let result = run_once(&mut fake, &mut Silent, &target(), Some(&stop), |_, _, _| {
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        Err::<(), BoxError>("interrupted".into())
    });
    assert_eq!(result.unwrap_err().step(), Step::Use);
    assert!(fake.is_clean(), "{:?}", fake.events);
}

#[test]
fn the_observer_hears_every_step_in_order() {
    #[derive(Default)]
    struct Heard(Vec<String>);
    impl LifecycleObserver for Heard {
        fn step(&mut self, _: &Target, step: Step) {
            self.0.push(format!("{step:?}"));
        }
        fn built(&mut self, _: &Target, _: Duration) {
            self.0.push("built".into());
        }
        fn database_ready(&mut self, _: &Target, name: &str, _: Duration) {
            self.0.push(format!("database {name}"));
        }
        fn ready(&mut self, _: &Target, port: u16, took: Duration) {
            self.0
                .push(format!("ready on {port} in {} ms", took.as_millis()));
        }
    }
    let mut heard = Heard::default();
    let mut fake = Fake::failing(None);
    run_once(&mut fake, &mut heard, &target(), None, |_, _, _| Ok(())).unwrap();
    assert_eq!(
        heard.0,
        [
            "Build",
            "built",
            "Database",
            "database t",
            "Launch",
            "Ready",
            "ready on 8080 in 7 ms",
            "Use",
            "Stop",
            "Release",
        ]
    );
}
