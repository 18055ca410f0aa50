//! Faults and bad input against real processes and sockets: targets that never get ready,
//! exit at startup, crash mid-load or stall; servers that answer garbage or reset under
//! an open-loop schedule; busy ports; SIGTERM, a panicking harness and a SIGKILLed one;
//! bad scenario, manifest and results files; the open-file limit. docs/reliability.md
//! maps each fault to the test proving it (here or in the other suites).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lanebench::load::outcome::ExpectedStatus;
use lanebench::load::request::{Endpoint, PreparedRequest, RequestPlan};
use lanebench::load::{LoadRun, LoadSettings};
use lanebench::target::{LaunchError, LaunchOptions, Manifest, Target, TargetProcess};

mod fixture_server;
use fixture_server::Fixture;

/// A temporary targets folder whose servers run through a uniquely named link to
/// `lanebench-fixture`, so any process a test leaves behind can be found by its path.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_lanebench-fixture"),
            dir.path().join("fixture-server"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("targets")).unwrap();
        Workspace { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn fixture(&self) -> String {
        self.path().join("fixture-server").display().to_string()
    }

    /// Adds a target whose run command is `run`, with `extra` manifest lines.
    fn add_target(&self, name: &str, run: &str, extra: &str) {
        let folder = self.path().join("targets").join(name);
        std::fs::create_dir(&folder).unwrap();
        let manifest = format!(
            "name = \"{name}\"\nframework = \"Fixture\"\nlanguage = \"Rust\"\nversion = \"1.0\"\n\
             build = \"true\"\nrun = {run:?}\nhealth = \"/health\"\n{extra}"
        );
        std::fs::write(folder.join("target.toml"), manifest).unwrap();
    }

    /// Adds a target serving `lanebench-fixture <args>`.
    fn add_fixture(&self, name: &str, args: &str, extra: &str) {
        self.add_target(name, &format!("exec {} {args}", self.fixture()), extra);
    }

    fn scenario(&self, top: &str, path: &str) -> PathBuf {
        let file = self.path().join("scenario.toml");
        let text = format!(
            "name = \"faults\"\nwarmup = \"0s\"\nrepeats = 1\nstartup_samples = 1\n{top}\n\n\
             [[request]]\nname = \"probe\"\npath = \"{path}\"\nexpect_status = 200\n"
        );
        std::fs::write(&file, text).unwrap();
        file
    }

    fn lanebench(&self, subcommand: &str, scenario: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lanebench"));
        command
            .arg(subcommand)
            .arg("--scenario")
            .arg(scenario)
            .arg("--targets-dir")
            .arg(self.path().join("targets"))
            .arg("--out")
            .arg(self.results_dir());
        command
    }

    fn results_dir(&self) -> PathBuf {
        self.path().join("results")
    }

    fn results(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.results_dir().join("results.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn finished_targets(&self) -> usize {
        self.results()
            .and_then(|v| v["targets"].as_array().map(Vec::len))
            .unwrap_or(0)
    }

    /// Pids of processes started from this workspace's fixture link.
    fn live_servers(&self) -> Vec<u32> {
        let marker = self.fixture();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&marker) && !is_zombie(pid) {
                pids.push(pid);
            }
        }
        pids
    }

    fn wait_no_servers(&self, within: Duration) -> Vec<u32> {
        let deadline = Instant::now() + within;
        loop {
            let live = self.live_servers();
            if live.is_empty() || Instant::now() >= deadline {
                return live;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        for pid in self.live_servers() {
            // SAFETY: kill only sends a signal to a process this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

fn pid_gone(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    !alive || is_zombie(pid as u32)
}

fn wait_gone(pid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if pid_gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

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
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (marks, code) = watch_run(&ws, child, started);
    assert_eq!(code, Some(0), "failed targets do not fail the run");
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
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (marks, code) = watch_run(&ws, child, started);
    assert_eq!(code, Some(0));
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
    let url = format!("http://{addr}/health");
    let endpoint = Endpoint::parse(&url, false).unwrap();
    let request = PreparedRequest::build(
        "GET",
        &endpoint,
        &endpoint.path,
        &[],
        b"",
        ExpectedStatus::SuccessOrRedirect,
    )
    .unwrap();
    LoadSettings {
        url,
        addr,
        plan: RequestPlan::single(request),
        connections: 2,
        threads: 1,
        duration: Some(Duration::from_secs(1)),
        requests: None,
        warmup: Duration::ZERO,
        rate: Some(rate),
        timeout: Duration::from_secs(2),
        cpus: None,
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
            port: lanebench::target::free_loopback_port().unwrap(),
            workers: 1,
            cpus: None,
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
}

fn one_line_naming(output: &Output, needle: &str) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    stderr
}

#[test]
fn bad_scenarios_are_refused_with_file_and_line_and_nothing_written() {
    let ws = Workspace::new();
    ws.add_fixture("good", "--mode ok", "");
    let base = "name = \"bad\"\nduration = \"1s\"\nconnections = [1]\n\n[[request]]\nname = \"h\"\npath = \"/\"\n";
    let cases = [
        ("syntax error", base.replace("\"1s\"", "\"1s"), 2),
        (
            "unknown key",
            base.replace("[[request]]", "colour = \"red\"\n[[request]]"),
            5,
        ),
        ("bad duration", base.replace("\"1s\"", "\"soon\""), 2),
        ("bad rate", base.replace("[1]", "[1]\nrate = -5"), 4),
        ("zero weight", format!("{base}weight = 0\n"), 8),
        (
            "bad template",
            base.replace("\"/\"", "\"/u/{rand:9..1}\""),
            7,
        ),
    ];
    for (what, text, line) in cases {
        let path = ws.path().join("bad.toml");
        std::fs::write(&path, &text).unwrap();
        let output = ws.lanebench("run", &path).output().unwrap();
        let stderr = one_line_naming(&output, &format!("bad.toml:{line}"));
        assert!(
            !ws.results_dir().exists(),
            "{what}: results written: {stderr}"
        );
    }
}

#[test]
fn manifest_missing_a_field_is_refused_by_run_and_targets() {
    let ws = Workspace::new();
    ws.add_fixture("good", "--mode ok", "");
    let folder = ws.path().join("targets/broken");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("target.toml"),
        "name = \"broken\"\nframework = \"X\"\n",
    )
    .unwrap();
    let scenario = ws.scenario("duration = \"1s\"\nconnections = [1]", "/health");
    let output = ws.lanebench("run", &scenario).output().unwrap();
    one_line_naming(&output, "broken/target.toml");
    assert!(
        !ws.results_dir().exists(),
        "nothing is written for bad input"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .arg("targets")
        .arg("--targets-dir")
        .arg(ws.path().join("targets"))
        .output()
        .unwrap();
    one_line_naming(&output, "broken/target.toml");
    assert!(ws.live_servers().is_empty());
}

#[test]
fn malformed_results_json_is_refused_by_report_and_compare_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("run");
    std::fs::create_dir(&folder).unwrap();
    let results = folder.join("results.json");
    std::fs::write(&results, "{\n  \"schema_version\": 1,\n  \"targets\": [\n").unwrap();
    let lanebench = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_lanebench"))
            .args(args)
            .output()
            .unwrap()
    };
    let output = lanebench(&["report".as_ref(), folder.as_os_str()]);
    let stderr = one_line_naming(&output, "results.json");
    assert!(stderr.contains("line 4"), "{stderr}");
    let output = lanebench(&["compare".as_ref(), results.as_os_str(), results.as_os_str()]);
    let stderr = one_line_naming(&output, "results.json");
    assert!(stderr.contains("line 4"), "{stderr}");
    let written: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(written, ["results.json"], "nothing else is written");
}

/// `lanebench load -c <connections>` on `url` with the open-file limit set to soft/hard.
fn load_with_fd_limit(url: &str, connections: u32, soft: u64, hard: u64) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lanebench"));
    command.args([
        "load",
        "-q",
        "-d",
        "1s",
        "-c",
        &connections.to_string(),
        url,
    ]);
    // SAFETY: setrlimit is async-signal-safe and only affects the child being started.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().unwrap()
}

#[test]
fn connections_above_the_hard_fd_limit_are_refused_with_the_number_needed() {
    let fixture = Fixture::start("ok");
    let output = load_with_fd_limit(&fixture.url(), 5000, 256, 256);
    let stderr = one_line_naming(&output, "--connections 5000");
    assert!(
        stderr.contains("5064 file descriptors are needed"),
        "{stderr}"
    );
    assert!(stderr.contains("hard limit is 256"), "{stderr}");
}

#[test]
fn a_soft_fd_limit_below_the_need_is_raised() {
    let fixture = Fixture::start("ok");
    let output = load_with_fd_limit(&fixture.url(), 600, 256, 4096);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
