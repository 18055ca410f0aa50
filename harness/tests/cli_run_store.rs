//! `lanebench run --store postgres` against the machine's real PostgreSQL: the database
//! is started, measured beside each target (its CPU per level, its memory), recorded in
//! the results and stopped with nothing left; killed in the middle of a run, it fails
//! the target promptly with the reason, and still nothing is left.
//!
//! The targets are `lanebench-fixture` servers: they ignore `STORE`, so the database
//! idles, which is enough to judge the harness's side. Real targets in database mode
//! are run by `scripts/test.sh` (`verify --all --store postgres`).

mod pg_support;
mod workspace;

use std::process::Stdio;
use std::time::{Duration, Instant};

use pg_support::{pg_processes_below, wait_until};
use workspace::Workspace;

const TINY_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY);\n";

fn workspace(targets: &[&str]) -> Workspace {
    let ws = Workspace::open();
    std::fs::write(ws.path().join("targets/schema.sql"), TINY_SCHEMA).unwrap();
    for name in targets {
        ws.add_fixture(name, "--mode ok", "");
    }
    ws
}

fn scenario(ws: &Workspace, duration: &str) -> std::path::PathBuf {
    ws.scenario(
        &format!("duration = \"{duration}\"\nconnections = [2]\ntimeout = \"2s\""),
        "/health",
    )
}

#[test]
fn the_database_is_measured_recorded_and_stopped() {
    let ws = workspace(&["only"]);
    let output = ws
        .lanebench("run", &scenario(&ws, "1s"))
        .args([
            "--store",
            "postgres",
            "--server-cpus",
            "0",
            "--generator-cpus",
            "0",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let results = ws.results().unwrap();
    let store = &results["store"];
    assert_eq!(store["server"], "harness", "{store}");
    assert_eq!(store["durability"], "durable");
    assert!(store["version"].as_str().unwrap().contains("PostgreSQL"));
    let target = &results["targets"][0];
    assert_eq!(target["status"], "ok", "{target}");
    let database = &target["components"][0];
    assert_eq!(database["name"], "postgres", "{target}");
    assert_eq!(database["role"], "database");
    // The harness's own server is pinned: its CPU share is read.
    assert!(
        !database["cpus"].as_array().unwrap().is_empty(),
        "{database}"
    );
    let memory = &database["memory_mb"];
    assert!(memory["peak"].as_f64().unwrap() > 1.0, "{memory}");
    let level = &target["levels"][0];
    assert_eq!(level["components"][0]["name"], "postgres", "{level}");
    assert!(
        level["components"][0]["cpu_utilisation"].is_number(),
        "{level}"
    );
    let repeat = &level["repeats"][0];
    assert_eq!(repeat["components"][0]["name"], "postgres", "{repeat}");
    assert!(repeat["components"][0]["cpu_s"].is_number(), "{repeat}");
    assert!(
        pg_processes_below(ws.path()).is_empty(),
        "PostgreSQL left running"
    );
    assert!(ws.live_servers().is_empty());
}

#[test]
fn a_database_killed_mid_run_fails_the_target_without_a_hang_or_an_orphan() {
    let ws = workspace(&["first", "second"]);
    let started = Instant::now();
    let mut child = ws
        .lanebench("run", &scenario(&ws, "20s"))
        .args([
            "--store",
            "postgres",
            "--server-cpus",
            "0",
            "--generator-cpus",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Once the first target is under load, kill the postmaster.
    let under_load = wait_until(Duration::from_secs(60), || {
        !ws.live_servers().is_empty() && !pg_processes_below(ws.path()).is_empty()
    });
    assert!(under_load, "the run never got going");
    std::thread::sleep(Duration::from_secs(3));
    let postmaster = *pg_processes_below(ws.path()).iter().min().unwrap();
    unsafe { libc::kill(postmaster as i32, libc::SIGKILL) };
    let killed = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        killed.elapsed() < Duration::from_secs(15),
        "the run took {:?} after the kill",
        killed.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(90));
    assert_eq!(status.code(), Some(1), "a failed target fails the run");
    let results = ws.results().unwrap();
    let first = &results["targets"][0];
    assert_eq!(first["status"], "failed", "{first}");
    let reason = first["reason"].as_str().unwrap();
    assert!(
        reason.contains("database") && reason.contains("died"),
        "{reason}"
    );
    // The second target cannot be given a database either, and says so.
    assert_eq!(results["targets"][1]["status"], "failed");
    assert!(
        pg_processes_below(ws.path()).is_empty(),
        "PostgreSQL orphans"
    );
    assert!(ws.live_servers().is_empty(), "servers left");
}
