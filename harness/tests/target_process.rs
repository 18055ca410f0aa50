//! Process supervision with fake targets in temporary folders: group stop, early exit,
//! readiness timeout and success, CPU pinning, busy ports and failing builds.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use lanebench::targets::{
    build_target, free_loopback_port, BuildError, LaunchError, LaunchOptions, Manifest,
    ReadinessProbe, ReadyError, Target, TargetProcess,
};

/// A fake target in `dir` with the given run and build commands.
fn fake_target(dir: &Path, run: &str, build: &str) -> Target {
    let text = format!(
        "name = \"fake\"\nframework = \"Fake\"\nlanguage = \"sh\"\nversion = \"0\"\n\
         build = {build:?}\nrun = {run:?}\nhealth = \"/health\"\n"
    );
    Target {
        manifest: Manifest::parse(&text, &dir.join("target.toml")).unwrap(),
        dir: dir.to_path_buf(),
    }
}

fn launch(target: &Target) -> TargetProcess {
    let options = LaunchOptions {
        port: free_loopback_port().unwrap(),
        workers: 1,
        cpus: None,
        env: Vec::new(),
        protocol: lanebench::load::protocol::ProtocolName::H1,
        tls: None,
    };
    TargetProcess::launch(target, &options).unwrap()
}

/// Whether `pid` is gone (a zombie awaiting reaping by init counts as gone).
fn pid_gone(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    });
    !alive || zombie
}

fn wait_gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if pid_gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn read_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn stop_terminates_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(
        dir.path(),
        "sleep 1000 & echo $! > bg.pid; exec sleep 1000",
        "true",
    );
    let mut process = launch(&target);
    let leader = process.pid() as i32;
    let background = read_pid(&dir.path().join("bg.pid"));
    assert!(!pid_gone(leader) && !pid_gone(background));
    let outcome = process.stop(Duration::from_secs(5)).unwrap();
    assert!(!outcome.killed, "sleep obeys SIGTERM");
    assert!(wait_gone(leader), "leader {leader} still running");
    assert!(
        wait_gone(background),
        "group member {background} still running"
    );
}

#[test]
fn stop_kills_a_group_that_ignores_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(
        dir.path(),
        "trap '' TERM; echo $$ > sh.pid; sleep 1000; sleep 1000",
        "true",
    );
    let mut process = launch(&target);
    let leader = read_pid(&dir.path().join("sh.pid"));
    let started = Instant::now();
    let outcome = process.stop(Duration::from_millis(300)).unwrap();
    assert!(outcome.killed);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(wait_gone(leader));
}

#[test]
fn drop_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(dir.path(), "exec sleep 1000", "true");
    let process = launch(&target);
    let pid = process.pid() as i32;
    drop(process);
    assert!(wait_gone(pid));
}

#[test]
fn early_exit_reports_status_and_stderr_tail() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(
        dir.path(),
        "echo starting; echo 'fatal: cannot bind' >&2; exit 3",
        "true",
    );
    let mut process = launch(&target);
    let err = process
        .wait_ready("/health", Duration::from_secs(10))
        .unwrap_err();
    match &err {
        ReadyError::Exited {
            status,
            stderr_tail,
            ..
        } => {
            assert_eq!(status, "exit code 3");
            assert_eq!(stderr_tail, &["fatal: cannot bind".to_string()]);
        }
        other => panic!("expected an early exit, got {other}"),
    }
    assert_eq!(process.stdout_tail(), ["starting"]);
}

/// Startups (ms) of five launches of a fixture that listens `listen_after_ms` after it
/// starts, each detected by a probe prepared before the spawn.
fn fixture_startups(listen_after_ms: u64) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let fixture = env!("CARGO_BIN_EXE_lanebench-fixture");
    let run = format!("exec {fixture} --listen-after-ms {listen_after_ms}");
    let target = fake_target(dir.path(), &run, "true");
    let mut startups: Vec<f64> = (0..5)
        .map(|_| {
            let port = free_loopback_port().unwrap();
            let mut probe = ReadinessProbe::new(([127, 0, 0, 1], port).into(), "/health");
            let options = LaunchOptions {
                port,
                workers: 1,
                cpus: None,
                env: Vec::new(),
                protocol: lanebench::load::protocol::ProtocolName::H1,
                tls: None,
            };
            let mut process = TargetProcess::launch(&target, &options).unwrap();
            let ready = process
                .wait_ready_with(&mut probe, "/health", Duration::from_secs(10), None)
                .unwrap();
            process.stop(Duration::from_secs(2)).unwrap();
            ready.as_secs_f64() * 1e3
        })
        .collect();
    startups.sort_by(f64::total_cmp);
    startups
}

#[test]
fn startup_is_measured_to_the_millisecond() {
    // A server that listens exactly 100 ms after it starts must be seen 100 ms later
    // than one that listens at once, within 2 ms: the old 5 ms poll was up to 5 ms
    // late, a third of a Rust server's startup. Judged against the fixture's own delay
    // and this machine's own cost of starting a process, not against its speed.
    let at_once = fixture_startups(0);
    let delayed = fixture_startups(100);
    let exec = at_once[2];
    assert!(
        delayed[0] >= 100.0,
        "ready before the server listened: {delayed:?}"
    );
    assert!(
        delayed[2] <= 100.0 + exec + 2.0,
        "startup {delayed:?} ms for a 100 ms fixture that starts in {at_once:?} ms"
    );
}

#[test]
fn never_ready_times_out_and_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(dir.path(), "echo waiting >&2; exec sleep 1000", "true");
    let mut process = launch(&target);
    let pid = process.pid() as i32;
    let err = process
        .wait_ready("/health", Duration::from_millis(400))
        .unwrap_err();
    assert!(matches!(err, ReadyError::Timeout { .. }), "{err}");
    assert!(process.spawned_at().elapsed() >= Duration::from_millis(400));
    assert!(err.to_string().contains("waiting"), "{err}");
    drop(process);
    assert!(wait_gone(pid));
}

#[test]
fn ready_when_health_answers_200() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(dir.path(), "exec sleep 1000", "true");
    let mut process = launch(&target);
    // The fake target cannot serve HTTP, so a test server takes its port a little later;
    // readiness must wait for it and time from the spawn.
    let delay = Duration::from_millis(200);
    std::thread::sleep(delay);
    let server = support::ContractServer::start_on(process.port(), support::Flaw::None);
    let ready_in = process
        .wait_ready("/health", Duration::from_secs(5))
        .unwrap();
    assert!(ready_in >= delay, "{ready_in:?}");
    assert!(ready_in < Duration::from_secs(5));
    process.stop(Duration::from_secs(5)).unwrap();
    drop(server);
}

#[test]
fn cpu_list_is_applied_before_exec() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(dir.path(), "exec sleep 1000", "true");
    let options = LaunchOptions {
        port: free_loopback_port().unwrap(),
        workers: 1,
        cpus: Some("0".parse().unwrap()),
        env: Vec::new(),
        protocol: lanebench::load::protocol::ProtocolName::H1,
        tls: None,
    };
    let mut process = TargetProcess::launch(&target, &options).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", process.pid())).unwrap();
    let allowed = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap();
    assert_eq!(allowed.split_whitespace().nth(1), Some("0"));
    process.stop(Duration::from_secs(5)).unwrap();
}

#[test]
fn launch_refuses_a_busy_port() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(dir.path(), "exec sleep 1000", "true");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let options = LaunchOptions {
        port: listener.local_addr().unwrap().port(),
        workers: 1,
        cpus: None,
        env: Vec::new(),
        protocol: lanebench::load::protocol::ProtocolName::H1,
        tls: None,
    };
    let err = TargetProcess::launch(&target, &options).unwrap_err();
    assert!(matches!(err, LaunchError::Port { .. }), "{err}");
    assert!(err.to_string().contains("already in use"), "{err}");
}

#[test]
fn environment_carries_port_and_workers() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(
        dir.path(),
        "echo \"$PORT $WORKERS\" > env.txt; exec sleep 1000",
        "true",
    );
    let options = LaunchOptions {
        port: free_loopback_port().unwrap(),
        workers: 3,
        cpus: None,
        env: Vec::new(),
        protocol: lanebench::load::protocol::ProtocolName::H1,
        tls: None,
    };
    let mut process = TargetProcess::launch(&target, &options).unwrap();
    let expected = format!("{} 3", options.port);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen = String::new();
    while Instant::now() < deadline && seen.trim() != expected {
        seen = std::fs::read_to_string(dir.path().join("env.txt")).unwrap_or_default();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(seen.trim(), expected);
    process.stop(Duration::from_secs(5)).unwrap();
}

#[test]
fn failed_build_returns_the_log_tail() {
    let dir = tempfile::tempdir().unwrap();
    let build = "for i in $(seq 1 30); do echo line$i; done; echo 'error: oops' >&2; exit 7";
    let target = fake_target(dir.path(), "true", build);
    let log = dir.path().join("logs/build.log");
    let err = build_target(&target, &log).unwrap_err();
    match &err {
        BuildError::Failed { status, tail, .. } => {
            assert_eq!(status, "exit code 7");
            assert_eq!(tail.len(), 20);
            assert_eq!(tail.last().map(String::as_str), Some("error: oops"));
            assert_eq!(tail.first().map(String::as_str), Some("line12"));
        }
        other => panic!("expected a failed build, got {other}"),
    }
    assert!(std::fs::read_to_string(&log).unwrap().contains("line1\n"));
}

#[test]
fn successful_build_runs_in_the_target_folder() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(dir.path(), "true", "touch built.marker");
    let outcome = build_target(&target, &dir.path().join("build.log")).unwrap();
    assert!(dir.path().join("built.marker").is_file());
    assert_eq!(outcome.log_path, dir.path().join("build.log"));
}

#[test]
fn launch_refuses_cpus_outside_the_allowed_set() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(dir.path(), "exec sleep 1000", "true");
    let options = LaunchOptions {
        port: free_loopback_port().unwrap(),
        workers: 1,
        cpus: Some("1000".parse().unwrap()),
        env: Vec::new(),
        protocol: lanebench::load::protocol::ProtocolName::H1,
        tls: None,
    };
    let err = TargetProcess::launch(&target, &options).unwrap_err();
    assert!(matches!(err, LaunchError::Cpus { .. }), "{err}");
}
