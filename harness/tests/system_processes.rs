//! The lifecycle with the real supervisor (`system::Processes`) on `lanebench-fixture`
//! targets: a server is built, launched, used and stopped, and one that never becomes
//! ready or fails its use is stopped too: no process of it is left afterwards.

use std::time::Duration;

use lanebench::system::{
    run_once, BoxError, Launch, LifecycleError, Processes, Silent, Step, Supervisor,
};
use lanebench::targets::{list_targets, StopOutcome, Target, TargetProcess};

mod workspace;
use workspace::Workspace;

/// The real supervisor, remembering the pid of every process it launched.
struct Recording<'a> {
    real: Processes<'a>,
    pids: Vec<u32>,
}

impl Supervisor for Recording<'_> {
    type Process = TargetProcess;
    type Database = <Processes<'static> as Supervisor>::Database;

    fn build(&mut self, target: &Target) -> Result<Duration, BoxError> {
        self.real.build(target)
    }
    fn has_database(&self) -> bool {
        self.real.has_database()
    }
    fn create_database(&mut self, target: &Target) -> Result<Self::Database, BoxError> {
        self.real.create_database(target)
    }
    fn free_port(&mut self) -> Result<u16, BoxError> {
        self.real.free_port()
    }
    fn launch(&mut self, target: &Target, launch: &Launch) -> Result<TargetProcess, BoxError> {
        let process = self.real.launch(target, launch)?;
        self.pids.push(process.pid());
        Ok(process)
    }
    fn wait_ready(&mut self, t: &Target, p: &mut TargetProcess) -> Result<Duration, BoxError> {
        self.real.wait_ready(t, p)
    }
    fn stderr_tail(&self, process: &mut TargetProcess) -> Vec<String> {
        self.real.stderr_tail(process)
    }
    fn stop(&mut self, process: &mut TargetProcess) -> Result<StopOutcome, BoxError> {
        self.real.stop(process)
    }
    fn drop_database(&mut self, database: Self::Database) -> Result<(), BoxError> {
        self.real.drop_database(database)
    }
}

fn target(ws: &Workspace, name: &str) -> Target {
    let targets = list_targets(&ws.path().join("targets")).unwrap();
    targets.into_iter().find(|t| t.name() == name).unwrap()
}

/// Runs the whole lifecycle of `name`; `fail_use` makes the use step fail.
fn once(ws: &Workspace, name: &str, fail_use: bool) -> (Result<u16, LifecycleError>, Vec<u32>) {
    let target = target(ws, name);
    let real = Processes::new(ws.path().join("logs"), 1, Duration::from_secs(5));
    let mut recording = Recording {
        real,
        pids: Vec::new(),
    };
    let ran = run_once(
        &mut recording,
        &mut Silent,
        &target,
        None,
        |_, process, _| {
            // The server answers while in use.
            std::net::TcpStream::connect(process.addr())?;
            if fail_use {
                return Err("the check failed".into());
            }
            Ok(process.port())
        },
    );
    (ran.map(|r| r.used), recording.pids)
}

/// Every process launched is gone (the leader was reaped by the stop), and no process
/// started from the workspace's fixture is left.
fn nothing_left(ws: &Workspace, pids: &[u32]) -> bool {
    let leaders_gone = pids.iter().all(|pid| workspace::pid_gone(*pid as i32));
    leaders_gone && ws.wait_no_servers(Duration::from_secs(10)).is_empty()
}

#[test]
fn a_ready_server_is_used_then_stopped() {
    let ws = Workspace::new();
    ws.add_fixture("good", "--mode ok", "ready_timeout = \"10s\"\n");
    let (ran, pids) = once(&ws, "good", false);
    assert!(ran.unwrap() > 0);
    assert_eq!(pids.len(), 1);
    assert!(nothing_left(&ws, &pids), "the server is still running");
    assert!(ws.path().join("logs").join("good-build.log").exists());
}

#[test]
fn a_server_that_never_becomes_ready_is_stopped() {
    let ws = Workspace::new();
    // Listens only after a minute: far beyond its readiness timeout.
    let extra = "ready_timeout = \"1s\"\n";
    ws.add_fixture("slow", "--mode ok --listen-after-ms 60000", extra);
    let (ran, pids) = once(&ws, "slow", false);
    let error = ran.unwrap_err();
    assert_eq!(error.step(), Step::Ready, "{error}");
    assert_eq!(pids.len(), 1);
    assert!(
        nothing_left(&ws, &pids),
        "the server outlived its readiness"
    );
}

#[test]
fn a_failed_use_still_stops_the_server() {
    let ws = Workspace::new();
    ws.add_fixture("used", "--mode ok", "ready_timeout = \"10s\"\n");
    let (ran, pids) = once(&ws, "used", true);
    let error = ran.unwrap_err();
    assert_eq!(error.step(), Step::Use);
    assert_eq!(error.to_string(), "the check failed");
    assert_eq!(pids.len(), 1);
    assert!(nothing_left(&ws, &pids), "the server outlived a failed use");
}

#[test]
fn a_failed_build_launches_nothing() {
    let ws = Workspace::new();
    ws.add_target("broken", "true", "ready_timeout = \"1s\"\n");
    let manifest = ws.path().join("targets/broken/target.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("build = \"true\"", "build = \"exit 3\""),
    )
    .unwrap();
    let (ran, pids) = once(&ws, "broken", false);
    assert_eq!(ran.unwrap_err().step(), Step::Build);
    assert!(pids.is_empty());
}
