//! A busy loop pinned beside the generator: `lanebench run` must notice the contention
//! on the generator's CPU, measure the level again, keep every attempt with why, name
//! the contention in its end-of-run line and its report, and fail the run under
//! `--strict`. Asserts the flags, never a speed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lanebench::load::cpus::CpuList;

mod workspace;
use workspace::Workspace;

/// Spins on `cpu` until dropped.
struct Hog {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hog {
    fn on(cpu: usize) -> Hog {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            cpu.to_string()
                .parse::<CpuList>()
                .expect("a CPU list")
                .pin_current_thread()
                .expect("pin the hog");
            let mut x = 0u64;
            while !flag.load(Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        });
        Hog {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_busy_generator_cpu_is_flagged_retried_and_named() {
    let allowed = CpuList::allowed();
    if allowed.len() < 2 {
        eprintln!("skipped: needs two CPUs to pin the server and the generator apart");
        return;
    }
    let (server, generator) = (allowed.cpus()[0], allowed.cpus()[1]);
    let ws = Workspace::new();
    ws.add_fixture("busy", "--mode ok", "ready_timeout = \"30s\"\n");
    let scenario = ws.write_scenario(
        "name = \"busy\"\nduration = \"1s\"\nwarmup = \"1s\"\nwarmup_max = \"2s\"\nrepeats = 1\n\
         connections = [2]\nstartup_samples = 1\ntimeout = \"2s\"\n\n[[request]]\nname = \"health\"\n\
         path = \"/health\"\nexpect_status = 200\n",
    );
    let hog = Hog::on(generator);
    let output = ws
        .lanebench("run", &scenario)
        .args(["--server-cpus", &server.to_string()])
        .args(["--generator-cpus", &generator.to_string()])
        .args(["--retry-noisy", "1", "--strict"])
        .output()
        .unwrap();
    drop(hog);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "--strict fails: {stderr}");
    let finished = stderr
        .lines()
        .find(|l| l.contains("[1/1] busy ok"))
        .unwrap_or_default();
    // Other processes may load the server's CPU too; the generator's must be named.
    assert!(
        finished.contains("ok, but 1 of 1 levels noisy (") && finished.contains("generator CPU"),
        "the end-of-run line names the contention: {stderr}"
    );
    assert!(
        stderr.contains("--strict: levels with caveats remain: busy"),
        "{stderr}"
    );

    let results = ws.results().unwrap();
    let target = &results["targets"][0];
    assert_eq!(target["status"], "ok", "{target}");
    let level = &target["levels"][0];
    assert_eq!(level["noisy"], true, "{level}");
    assert_eq!(level["retried"], 1, "{level}");
    let generator_noise = level["noise_by_side"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["side"] == "generator")
        .expect("the generator's CPUs were read")
        .clone();
    assert!(
        generator_noise["foreign"].as_f64().unwrap() > 0.05,
        "{generator_noise}"
    );
    let generator_caveat = |caveats: &serde_json::Value| {
        caveats
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "noisy" && c["side"] == "generator")
    };
    assert!(generator_caveat(&level["caveats"]), "{level}");
    // Every attempt is kept, with why it was measured again.
    let repeat = &level["repeats"][0];
    assert_eq!(repeat["attempt"], 2, "{repeat}");
    let first = &repeat["set_aside"][0];
    assert_eq!(first["attempt"], 1, "{repeat}");
    assert!(generator_caveat(&first["caveats"]), "{first}");
    // No clean level: the headline is marked, with why.
    let why = target["qps_caveat"].as_str().expect("qps_caveat");
    assert!(why.contains("generator CPU"), "{why}");

    let report = std::fs::read_to_string(ws.results_dir().join("report.md")).unwrap();
    assert!(
        report.contains("not a result: 1 of 1 levels noisy ("),
        "{report}"
    );
    assert!(report.contains("generator CPU"), "{report}");
    assert!(
        report.contains("busy at 2 connections") && report.contains("(measured again once)"),
        "{report}"
    );
    assert!(ws.live_servers().is_empty(), "servers left running");
}

/// A candidate measured on busy CPUs is shown but not judged: its halved throughput is
/// not a regression, and the reason is given.
#[test]
fn compare_does_not_judge_a_level_that_did_not_measure_the_server() {
    use lanebench::results::caveat::{Caveat, Side as CpuSide, SideNoise};
    use lanebench::results::RunResults;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compare/quick-run.json");
    let base = RunResults::load(&fixture).unwrap();
    let mut cand = base.clone();
    let axum = cand.targets.iter_mut().find(|t| t.name == "axum").unwrap();
    let level = &mut axum.levels[0];
    let key = format!("axum/{}c", level.connections);
    for repeat in &mut level.repeats {
        repeat.load.success_rps /= 2.0;
    }
    level.caveats = vec![Caveat::Noisy(SideNoise {
        side: CpuSide::Generator,
        steal: 0.0,
        foreign: 0.61,
    })];
    let dir = tempfile::tempdir().unwrap();
    base.write(&dir.path().join("base")).unwrap();
    cand.write(&dir.path().join("cand")).unwrap();
    let json = dir.path().join("out.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .arg("compare")
        .arg(dir.path().join("base"))
        .arg(dir.path().join("cand"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let note = format!(
        "{key}: not judged, the level did not cleanly measure the server (candidate: generator CPU 61% foreign)"
    );
    assert!(stdout.contains(&note), "{stdout}");
    let comparison: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let row = comparison["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == "axum" && r["figure"] == "qps" && r["level"].is_string())
        .unwrap()
        .clone();
    assert_eq!(row["verdict"], "not-comparable", "{row}");
}
