//! `lanebench run` end to end on targets made of `lanebench-fixture` processes: results
//! files with every field measured, skipped and failed targets with their reasons, and a
//! SIGINT that leaves no process behind and a valid results.json.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A temporary targets folder, scenario and results folder.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        // A link with a unique path, so this test's server processes can be found by name.
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

    fn add_target(&self, name: &str, args: &str, requires: &str) {
        let folder = self.path().join("targets").join(name);
        std::fs::create_dir(&folder).unwrap();
        let manifest = format!(
            "name = \"{name}\"\nframework = \"Fixture\"\nlanguage = \"Rust\"\nversion = \"1.0\"\nrequires = [{requires}]\n\
             build = \"true\"\nrun = \"exec {} {args}\"\nhealth = \"/health\"\nruntime_version = \"echo fixture 1.0\"\n\
             ready_timeout = \"10s\"\n",
            self.path().join("fixture-server").display()
        );
        std::fs::write(folder.join("target.toml"), manifest).unwrap();
    }

    fn scenario(&self, duration: &str, repeats: u32) -> PathBuf {
        let path = self.path().join("scenario.toml");
        let text = format!(
            "name = \"fixture\"\nduration = \"{duration}\"\nwarmup = \"0s\"\nrepeats = {repeats}\nconnections = [2]\n\
             startup_samples = 2\ntimeout = \"2s\"\n\n[[request]]\nname = \"health\"\npath = \"/health\"\nexpect_status = 200\n"
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn run(&self, scenario: &Path, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lanebench"));
        command
            .arg("run")
            .arg("--scenario")
            .arg(scenario)
            .arg("--targets-dir")
            .arg(self.path().join("targets"))
            .arg("--out")
            .arg(self.path().join("results"))
            .args(extra);
        command
    }

    fn results(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path().join("results/results.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Pids of processes started from this workspace's fixture link.
    fn live_servers(&self) -> Vec<u32> {
        let marker = self.path().join("fixture-server").display().to_string();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&marker) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        for pid in self.live_servers() {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

#[test]
fn run_measures_every_field_and_reports_skipped_and_failed_targets() {
    let ws = Workspace::new();
    ws.add_target("good", "--mode ok", "");
    ws.add_target("crashy", "--mode ok --exit-after 200", "");
    ws.add_target("absent", "--mode ok", "\"no-such-tool-lanebench\"");
    let scenario = ws.scenario("1s", 2);
    let output = ws
        .run(&scenario, &["--server-cpus", "0", "--generator-cpus", "0"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = ws.results();
    assert_eq!(results["schema_version"], 1);
    assert!(results["finished_at"].is_string());
    assert_eq!(results["interrupted"], false);
    assert_eq!(results["environment"]["cpus_shared"], true);
    let targets = results["targets"].as_array().unwrap();
    let by_name = |name: &str| targets.iter().find(|t| t["name"] == name).unwrap().clone();

    let good = by_name("good");
    assert_eq!(good["status"], "ok", "{good}");
    assert!(good["qps"].as_f64().unwrap() > 0.0);
    assert_eq!(good["runtime_version"], "fixture 1.0");
    for figure in ["startup_ms", "cold_start_ms", "first_request_ms"] {
        assert_eq!(good[figure]["n"], 2, "{figure}: two fresh launches");
        assert!(good[figure]["median"].as_f64().unwrap() > 0.0, "{figure}");
        assert!(good[figure]["min"].as_f64().unwrap() <= good[figure]["max"].as_f64().unwrap());
    }
    assert!(good["cold_start_ms"]["median"].as_f64() >= good["startup_ms"]["min"].as_f64());
    for figure in ["idle", "steady", "peak"] {
        assert!(
            good["memory_mb"][figure].as_f64().unwrap() > 0.0,
            "memory {figure}"
        );
    }
    let level = &good["levels"][0];
    assert_eq!(level["connections"], 2);
    assert_eq!(level["repeats"].as_array().unwrap().len(), 2);
    assert_eq!(level["rps"]["n"], 2);
    assert!(
        level["rps"]["cv"].is_number(),
        "two repeats give a coefficient of variation"
    );
    assert_eq!(level["saturation"], "shared");
    assert!(level["repeats"][0]["load"]["requests"].as_u64().unwrap() > 0);

    let crashy = by_name("crashy");
    assert_eq!(crashy["status"], "failed");
    assert!(
        crashy["reason"]
            .as_str()
            .unwrap()
            .contains("exited during load"),
        "{crashy}"
    );
    assert!(
        crashy["stderr_tail"]
            .to_string()
            .contains("exiting after 200 requests"),
        "{crashy}"
    );

    let absent = by_name("absent");
    assert_eq!(absent["status"], "skipped");
    assert_eq!(absent["reason"], "no-such-tool-lanebench not found");

    let csv = std::fs::read_to_string(ws.path().join("results/summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3, "{csv}");
    assert!(
        ws.live_servers().is_empty(),
        "servers left running: {:?}",
        ws.live_servers()
    );
}

#[test]
fn sigint_stops_every_child_and_leaves_valid_results() {
    let ws = Workspace::new();
    ws.add_target("first", "--mode ok", "");
    ws.add_target("second", "--mode ok", "");
    let scenario = ws.scenario("4s", 1);
    let mut child = ws
        .run(&scenario, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first target is written and the second is under load.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the first target never finished");
        let done = std::fs::read_to_string(ws.path().join("results/results.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v["targets"].as_array().is_some_and(|a| a.len() == 1));
        if done && !ws.live_servers().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the run took {:?} to stop",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    assert!(
        ws.live_servers().is_empty(),
        "servers left running: {:?}",
        ws.live_servers()
    );
    let results = ws.results();
    assert_eq!(results["interrupted"], true);
    let targets = results["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "only the finished target is kept");
    assert_eq!(targets[0]["name"], "first");
    assert_eq!(targets[0]["status"], "ok");
    let leftovers: Vec<_> = std::fs::read_dir(ws.path().join("results"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn bad_scenario_exits_2_naming_the_file() {
    let ws = Workspace::new();
    ws.add_target("good", "--mode ok", "");
    let path = ws.path().join("bad.toml");
    std::fs::write(&path, "name = \"bad\"\nduration = \"soon\"\nconnections = [1]\n[[request]]\nname = \"h\"\npath = \"/\"\n").unwrap();
    let output = ws.run(&path, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:2"), "{stderr}");
    assert!(
        !ws.path().join("results").exists(),
        "nothing is written for bad input"
    );
}
