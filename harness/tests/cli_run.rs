//! `lanebench run` end to end on targets made of `lanebench-fixture` processes: results
//! files with every field measured, skipped and failed targets with their reasons, and a
//! SIGINT that leaves no process behind and a valid results.json.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod workspace;
use workspace::Workspace;

/// A fixture target; `requires` is the inside of the manifest's `requires` list.
fn add_target(ws: &Workspace, name: &str, args: &str, requires: &str) {
    let extra = format!("requires = [{requires}]\nruntime_version = \"echo fixture 1.0\"\nready_timeout = \"10s\"\n");
    ws.add_fixture(name, args, &extra);
}

/// A scenario of GET /health on 2 connections with two fresh launches; the warm-up
/// waits for steady throughput for 1-3 s.
fn scenario(ws: &Workspace, duration: &str, repeats: u32) -> PathBuf {
    ws.write_scenario(&format!(
        "name = \"fixture\"\nduration = \"{duration}\"\nwarmup = \"1s\"\nwarmup_max = \"3s\"\nrepeats = {repeats}\nconnections = [2]\n\
         startup_samples = 2\ntimeout = \"2s\"\n\n[[request]]\nname = \"health\"\npath = \"/health\"\nexpect_status = 200\n"
    ))
}

#[test]
fn run_measures_every_field_and_reports_skipped_and_failed_targets() {
    let ws = Workspace::new();
    add_target(&ws, "good", "--mode ok", "");
    add_target(&ws, "crashy", "--mode ok --exit-after 200", "");
    add_target(&ws, "absent", "--mode ok", "\"no-such-tool-lanebench\"");
    let scenario = scenario(&ws, "1s", 2);
    let output = ws
        .lanebench("run", &scenario)
        .args(["--server-cpus", "0", "--generator-cpus", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "a target failed: {stderr}");
    assert!(stderr.contains("failed: crashy"), "{stderr}");
    let results = ws.results().unwrap();
    assert_eq!(results["schema_version"], 3);
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
    assert!(level["steady"].is_boolean(), "{level}");
    let warmup = level["warmup_s"]["median"].as_f64().unwrap();
    assert!(
        (1.0..=3.5).contains(&warmup),
        "warm-up between the minimum and the cap: {warmup}"
    );
    assert_eq!(
        level["repeats"][1]["warmup_s"], 0.0,
        "the second repeat follows the first"
    );
    assert!(level["usable"].as_bool().unwrap());
    assert!(level["server_cpu_us_per_success"].as_f64().unwrap() > 0.0);
    assert_eq!(good["startup_launches_ms"].as_array().unwrap().len(), 2);
    assert!(good["startup_ms"]["mean"].as_f64().unwrap() > 0.0);
    let curve = &good["warmup_curve"];
    assert!(
        curve["per_second"].as_array().unwrap().len() >= 2,
        "{curve}"
    );
    assert!(curve["load_started_ms"].as_f64() > curve["ready_ms"].as_f64());
    // The warm-up's end is kept with the curve, as it ended: steady there, or the cap.
    let warmup_end = curve["warmup_s"].as_f64().unwrap();
    assert!((1.0..=3.0).contains(&warmup_end), "{curve}");
    assert_eq!(curve["steady"], level["repeats"][0]["steady"], "{curve}");
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
    add_target(&ws, "first", "--mode ok", "");
    add_target(&ws, "second", "--mode ok", "");
    let scenario = scenario(&ws, "4s", 1);
    let mut child = ws
        .lanebench("run", &scenario)
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
    let results = ws.results().unwrap();
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
    // The run's throwaway certificate (and its key) went with the run.
    for run in std::fs::read_dir(ws.path().join("results"))
        .unwrap()
        .flatten()
    {
        let Ok(entries) = std::fs::read_dir(run.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with("lanebench-tls-"), "left: {name}");
        }
    }
}

#[test]
fn bad_scenario_exits_2_naming_the_file() {
    let ws = Workspace::new();
    add_target(&ws, "good", "--mode ok", "");
    let path = ws.path().join("bad.toml");
    std::fs::write(&path, "name = \"bad\"\nduration = \"soon\"\nconnections = [1]\n[[request]]\nname = \"h\"\npath = \"/\"\n").unwrap();
    let output = ws.lanebench("run", &path).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:2"), "{stderr}");
    assert!(
        !ws.path().join("results").exists(),
        "nothing is written for bad input"
    );
}
