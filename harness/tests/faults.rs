//! Faults against real processes and sockets: targets that never get ready, exit at
//! startup, crash mid-load or stall; servers that answer garbage, bad lengths or resets
//! under an open-loop schedule; busy ports; SIGTERM, a panicking harness and a SIGKILLed
//! one. Bad input files and fd limits are in faults_input.rs; docs/reliability.md maps
//! each fault to the test proving it.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lanebench::load::{LoadRun, LoadSettings};
use lanebench::sample::TargetCgroup;
use lanebench::targets::{LaunchError, LaunchOptions, Manifest, Target, TargetProcess};

mod fixture_server;
mod workspace;
use fixture_server::Fixture;
use workspace::{pid_gone, wait_gone, Workspace};

/// Runs `child` to completion, noting when results.json first listed 1, 2, ... targets.
/// Returns those instants (relative to `started`) and the exit code.
fn watch_run(ws: &Workspace, mut child: Child, started: Instant) -> (Vec<Duration>, Option<i32>) {
    let mut marks = Vec::new();
    let deadline = started + Duration::from_secs(120);
    loop {
        let finished = ws.finished_targets();
        while marks.len() < finished {
            marks.push(started.elapsed());
        }
        if let Some(status) = child.try_wait().unwrap() {
            while marks.len() < ws.finished_targets() {
                marks.push(started.elapsed());
            }
            return (marks, status.code());
        }
        assert!(Instant::now() < deadline, "the run did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn target<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {results}"))
}

#[test]
fn a_target_whose_every_level_errors_fails_and_the_run_exits_1() {
    // One request in ten answered 503: 10% errors, above the default max_error_rate of
    // 1%, so no level may be the headline; a target that errs on 0.5% stays ok.
    let ws = Workspace::new();
    ws.add_fixture("a-errs", "--mode fail-every:10", "");
    ws.add_fixture("b-mostly-fine", "--mode fail-every:200", "");
    let scenario = ws.scenario("duration = \"1s\"\nconnections = [2]", "/api/users/1");
    let child = ws
        .lanebench("run", &scenario)
        // Faults, not noise, are under test here: no attempt is measured again.
        .args(["--retry-noisy", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (_, code) = watch_run(&ws, child, Instant::now());
    assert_eq!(code, Some(1));
    let results = ws.results().unwrap();
    let errs = target(&results, "a-errs");
    assert_eq!(errs["status"], "failed", "{errs}");
    assert!(
        errs["reason"].as_str().unwrap().contains("no usable level"),
        "{errs}"
    );
    assert_eq!(errs["levels"][0]["usable"], false);
    assert!(
        errs["qps"].is_null(),
        "an erring level is never the headline"
    );
    let fine = target(&results, "b-mostly-fine");
    assert_eq!(fine["status"], "ok", "{fine}");
    assert!(fine["qps"].as_f64().unwrap() > 0.0);
}

#[test]
fn startup_faults_fail_their_target_on_time_and_the_run_goes_on() {
    let ws = Workspace::new();
    ws.add_target(
        "a-exits",
        "echo 'fatal: config missing' >&2; exit 3",
        "ready_timeout = \"10s\"\n",
    );
    let stuck = format!(
        "echo 'waiting for a database' >&2; exec {} --mode not-ready",
        ws.fixture()
    );
    ws.add_target("b-stuck", &stuck, "ready_timeout = \"1s\"\n");
    ws.add_fixture("c-stalls", "--mode stall-api", "");
    ws.add_fixture("d-good", "--mode ok", "");
    let scenario = ws.scenario(
        "duration = \"1s\"\nconnections = [2]\ntimeout = \"1s\"",
        "/api/users/1",
    );
    let started = Instant::now();
    let child = ws
        .lanebench("run", &scenario)
        // Faults, not noise, are under test here: no attempt is measured again.
        .args(["--retry-noisy", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (marks, code) = watch_run(&ws, child, started);
    assert_eq!(
        code,
        Some(1),
        "failed targets make the run exit 1, after the others ran"
    );
    let results = ws.results().unwrap();
    assert_eq!(marks.len(), 4, "{results}");
    let took = |i: usize| marks[i] - if i == 0 { Duration::ZERO } else { marks[i - 1] };

    let exits = target(&results, "a-exits");
    assert_eq!(exits["status"], "failed");
    let reason = exits["reason"].as_str().unwrap();
    assert!(
        reason.contains("exited before becoming ready (exit code 3)"),
        "{reason}"
    );
    assert!(
        exits.to_string().contains("fatal: config missing"),
        "{exits}"
    );
    assert!(
        took(0) < Duration::from_secs(3),
        "exit noticed after {:?}",
        took(0)
    );

    let stuck = target(&results, "b-stuck");
    assert_eq!(stuck["status"], "failed");
    let reason = stuck["reason"].as_str().unwrap();
    assert!(reason.contains("with 200 within 1s"), "{reason}");
    assert_eq!(
        stuck["stderr_tail"],
        serde_json::json!(["waiting for a database"])
    );
    assert!(
        took(1) >= Duration::from_millis(950) && took(1) < Duration::from_secs(3),
        "readiness timeout of 1s took {:?}",
        took(1)
    );

    // A server that accepts but never answers is caught by the cold-start request, after
    // the scenario's timeout, before any load is driven at it.
    let stalls = target(&results, "c-stalls");
    assert_eq!(stalls["status"], "failed");
    let reason = stalls["reason"].as_str().unwrap();
    assert!(
        reason.contains("no response to GET /api/users/1 within 1s"),
        "{reason}"
    );
    assert!(
        took(2) >= Duration::from_millis(950) && took(2) < Duration::from_secs(3),
        "a 1s timeout took {:?}",
        took(2)
    );

    let good = target(&results, "d-good");
    assert_eq!(good["status"], "ok", "{good}");
    assert!(good["qps"].as_f64().unwrap() > 0.0);
    let live = ws.wait_no_servers(Duration::from_secs(1));
    assert!(live.is_empty(), "servers left running: {live:?}");
}

#[test]
fn crash_mid_load_stops_the_load_within_a_second_and_spares_the_others() {
    let ws = Workspace::new();
    // At 200 requests/s the crash comes about 1s into a load planned for 6s.
    ws.add_fixture("a-crashy", "--mode ok --exit-after 200", "");
    ws.add_fixture("b-good", "--mode ok", "");
    let scenario = ws.scenario(
        "duration = \"6s\"\nconnections = [2]\nrate = 200\ntimeout = \"2s\"",
        "/health",
    );
    let started = Instant::now();
    let child = ws
        .lanebench("run", &scenario)
        // Faults, not noise, are under test here: no attempt is measured again.
        .args(["--retry-noisy", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (marks, code) = watch_run(&ws, child, started);
    assert_eq!(code, Some(1), "a failed target fails the run");
    let results = ws.results().unwrap();
    let crashy = target(&results, "a-crashy");
    assert_eq!(crashy["status"], "failed");
    let reason = crashy["reason"].as_str().unwrap();
    assert_eq!(reason, "exited during load (exit code 3)");
    assert!(crashy["stderr_tail"]
        .to_string()
        .contains("exiting after 200 requests"));
    // Launch, ~1s of idle-memory samples, ~1s of load to the crash; the planned 6s
    // would put it past 7s.
    assert!(
        marks[0] < Duration::from_millis(3_500),
        "the crashed target took {:?}: the load was not stopped at the crash",
        marks[0]
    );

    let good = target(&results, "b-good");
    assert_eq!(good["status"], "ok", "{good}");
    let load = &good["levels"][0]["repeats"][0]["load"];
    // The rate is checked loosely: the other tests of this suite share the two CPUs.
    assert!(load["error_rate"].as_f64().unwrap() < 0.01, "{load}");
    let rps = load["rps"].as_f64().unwrap();
    assert!(rps > 150.0 && rps < 210.0, "open-loop rate kept: {rps}");
    assert!((load["duration_s"].as_f64().unwrap() - 6.0).abs() < 0.2);
    assert!(ws.wait_no_servers(Duration::from_secs(1)).is_empty());
}

fn load_settings(addr: std::net::SocketAddr, rate: f64) -> LoadSettings {
    LoadSettings {
        connections: 2,
        rate: Some(rate),
        timeout: Duration::from_secs(2),
        ..fixture_server::get_load(addr, "/health")
    }
}

#[test]
fn broken_responses_under_open_loop_are_counted_and_the_rate_is_kept() {
    for (mode, class) in [
        ("garbage", "parse"),
        ("bad-length", "parse"),
        ("reset", "read"),
    ] {
        let fixture = Fixture::start(mode);
        let result = LoadRun::start(
            load_settings(fixture.addr, 300.0),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap()
        .wait()
        .unwrap();
        let schedule = result.schedule.expect("open loop has a schedule");
        assert!(
            schedule.planned >= 280 && schedule.sent as f64 >= 0.97 * schedule.planned as f64,
            "{mode}: planned sends still go out: {schedule:?}"
        );
        let errors = &result.errors;
        let counted = if class == "parse" {
            errors.parse
        } else {
            errors.read
        };
        assert_eq!(result.requests, 0, "{mode}: nothing is a valid response");
        assert_eq!(
            errors.total(),
            counted,
            "{mode}: only {class} errors, got {errors:?}"
        );
        assert!(
            counted as f64 >= 0.95 * schedule.sent as f64,
            "{mode}: every send is an error: {errors:?} of {schedule:?}"
        );
        assert!(
            result.reconnects as f64 >= 0.9 * counted as f64,
            "{mode}: reconnects"
        );
    }
}

fn fake_target(dir: &Path, run: &str) -> Target {
    let text = format!(
        "name = \"fake\"\nframework = \"Fake\"\nlanguage = \"sh\"\nversion = \"0\"\n\
         build = \"true\"\nrun = {run:?}\nhealth = \"/health\"\n"
    );
    Target {
        manifest: Manifest::parse(&text, &dir.join("target.toml")).unwrap(),
        dir: dir.to_path_buf(),
    }
}

#[test]
fn busy_port_is_refused_by_number_before_anything_is_launched() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(dir.path(), "touch launched; exec sleep 1000");
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let options = LaunchOptions {
        port,
        workers: 1,
        cpus: None,
        env: Vec::new(),
        protocol: lanebench::load::protocol::ProtocolName::H1,
        tls: None,
    };
    let err = TargetProcess::launch(&target, &options).unwrap_err();
    assert!(matches!(err, LaunchError::Port { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !dir.path().join("launched").exists(),
        "the run command was started"
    );
}

#[test]
fn a_panic_in_the_harness_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let target = fake_target(
        dir.path(),
        "sleep 1000 & echo $! > bg.pid; echo $$ > sh.pid; wait",
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let panicking = std::thread::spawn(move || {
        let options = LaunchOptions {
            port: lanebench::targets::free_loopback_port().unwrap(),
            workers: 1,
            cpus: None,
            env: Vec::new(),
            protocol: lanebench::load::protocol::ProtocolName::H1,
            tls: None,
        };
        let process = TargetProcess::launch(&target, &options).unwrap();
        tx.send(process.pid()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        panic!("harness bug while a target runs");
    });
    let leader = rx.recv().unwrap() as i32;
    assert!(panicking.join().is_err(), "the thread panicked");
    let background: i32 = std::fs::read_to_string(dir.path().join("bg.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_gone(leader, Duration::from_secs(3)),
        "leader {leader} survived"
    );
    assert!(
        wait_gone(background, Duration::from_secs(3)),
        "group member {background} survived"
    );
}

/// Starts `lanebench run` on one fixture target with a long load.
fn start_long_run(ws: &Workspace) -> Child {
    ws.add_fixture("only", "--mode ok", "");
    let scenario = ws.scenario(
        "duration = \"30s\"\nconnections = [2]\ntimeout = \"2s\"",
        "/health",
    );
    ws.lanebench("run", &scenario)
        .args(["--retry-noisy", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the measured server (one pid alive for over 2.5 s, longer than any
/// startup launch) is being driven; returns its pid, or None after a minute.
fn measured_server(ws: &Workspace) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: Option<(u32, Instant)> = None;
    while Instant::now() < deadline {
        match (seen, ws.live_servers().first()) {
            (Some((pid, since)), Some(&now)) if pid == now => {
                if since.elapsed() > Duration::from_millis(2_500) {
                    return Some(pid);
                }
            }
            (_, Some(&now)) => seen = Some((now, Instant::now())),
            (_, None) => seen = None,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Starts a long run and returns it with its measured server's pid.
fn run_under_load(ws: &Workspace) -> (Child, u32) {
    let mut child = start_long_run(ws);
    match measured_server(ws) {
        Some(pid) => (child, pid),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no server came up under load");
        }
    }
}

#[test]
fn sigterm_stops_every_child_and_leaves_valid_results() {
    let ws = Workspace::new();
    let (mut child, server) = run_under_load(&ws);
    // SAFETY: kill only sends a signal to the run this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let started = Instant::now();
    let status = child.wait().unwrap();
    eprintln!("stopped after {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        status.code(),
        Some(130),
        "SIGTERM is an interruption like SIGINT"
    );
    assert!(pid_gone(server as i32));
    assert!(
        ws.live_servers().is_empty(),
        "left: {:?}",
        ws.live_servers()
    );
    let results = ws.results().expect("results.json is valid JSON");
    assert_eq!(results["interrupted"], true);
    assert_eq!(
        results["targets"],
        serde_json::json!([]),
        "the cut-short target is not kept"
    );
}

#[test]
fn sigkill_of_the_run_takes_its_server_down_too() {
    let ws = Workspace::new();
    let (mut child, server) = run_under_load(&ws);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        wait_gone(server as i32, Duration::from_secs(2)),
        "server {server} outlived the killed harness"
    );
    assert!(ws.wait_no_servers(Duration::from_secs(2)).is_empty());
    // The killed run could not remove its target's cgroup; the next one sweeps it.
    let prefix = format!("lanebench-{}-", child.id());
    let _next_run = TargetCgroup::create("sweep");
    let left = cgroups_named(&prefix);
    assert!(left.is_empty(), "cgroups of the killed run left: {left:?}");
}

/// Cgroup folders (v2 or any v1 hierarchy) whose name starts with `prefix`.
fn cgroups_named(prefix: &str) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    // The harness creates its cgroups at most two levels down (hierarchy, then its own).
    for _ in 0..3 {
        let mut next = Vec::new();
        for dir in dirs {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if !path.is_dir() {
                    continue;
                }
                if entry.file_name().to_string_lossy().starts_with(prefix) {
                    found.push(path);
                } else {
                    next.push(path);
                }
            }
        }
        dirs = next;
    }
    found
}
