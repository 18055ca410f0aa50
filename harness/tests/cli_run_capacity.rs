//! `lanebench run` on a capacity scenario (`[capacity]`), against fixture servers whose
//! capacity is known by construction: `--service-us N` serves one request at a time,
//! each holding one lock for N µs of wall time. The test measures the fixture's own peak
//! (a closed loop that keeps it busy) and checks that the capacity found under the
//! objective lies in a bracket derived from it, never from a fixed speed; a server that
//! cannot meet the objective at the lowest probe gets "below the lowest probe", not a
//! number; every target with a capacity is then driven at equal load.

mod fixture_server;
mod support;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use fixture_server::{get_load, Fixture};
use lanebench::load::LoadRun;
use support::marked::{output_text, results};

const MARK: &str = "LANEBENCH_RUN_CAPACITY_TEST";
/// The known fixture's service time: at most 2,500 requests per second.
const SERVICE_US: &str = "400";

/// `root/targets/NAME/target.toml`: the fixture with `args`, carrying the test's mark.
fn fixture_target(root: &Path, name: &str, args: &str) {
    let dir = root.join("targets").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let run = format!(
        "{MARK}={} exec {} {args}",
        root.display(),
        env!("CARGO_BIN_EXE_lanebench-fixture")
    );
    let manifest = format!(
        "name = \"{name}\"\nframework = \"Fixture {name}\"\nlanguage = \"rust\"\nversion = \"1\"\n\
         build = \"true\"\nrun = {run:?}\nhealth = \"/health\"\nready_timeout = \"20s\"\n"
    );
    std::fs::write(dir.join("target.toml"), manifest).unwrap();
}

/// The fixture's peak: requests per second a closed loop of 8 connections gets from it
/// (the best of three 2 s loads), on the CPUs `run` gives each side.
fn measured_peak() -> f64 {
    let fixture = Fixture::start_with("ok", &["--service-us", SERVICE_US]);
    let (server, generator) = lanebench::load::cpus::CpuList::allowed().split_halves();
    pin(fixture.pid(), server.cpus());
    let mut best: f64 = 0.0;
    for _ in 0..3 {
        let settings = lanebench::load::LoadSettings {
            connections: 8,
            threads: 1,
            duration: Some(Duration::from_secs(2)),
            warmup: Duration::from_millis(500),
            cpus: Some(generator.clone()),
            ..get_load(fixture.addr, "/health")
        };
        let run = LoadRun::start(settings, Arc::new(AtomicBool::new(false))).unwrap();
        best = best.max(run.wait().unwrap().success_rps);
    }
    best
}

/// Pins process `pid` (its main thread, whose later threads inherit it) to `cpus`.
fn pin(pid: u32, cpus: &[usize]) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set, filled and passed by reference.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(pid as i32, std::mem::size_of_val(&set), &set);
    }
}

#[test]
fn a_known_capacity_is_found_and_a_hopeless_server_is_below_the_lowest_probe() {
    let peak = measured_peak();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fixture_target(root, "known", &format!("--service-us {SERVICE_US}"));
    // 20 ms per request: never 200 per second, let alone with p99 <= 50 ms.
    fixture_target(root, "hopeless", "--service-us 20000");
    let scenario = root.join("capacity.toml");
    std::fs::write(
        &scenario,
        "name = \"capacity-test\"\nduration = \"1s\"\nwarmup = \"1s\"\nsteady_state = false\n\
         repeats = 1\nconnections = [16]\nstartup_samples = 1\ntimeout = \"3s\"\n\n\
         [capacity]\nobjective = \"p99 <= 50ms\"\nlowest = 200\nmin_requests = 500\n\
         precision = \"4%\"\nprobe_warmup = \"500ms\"\n\n\
         [[request]]\nname = \"health\"\npath = \"/health\"\nexpect_status = 200\n",
    )
    .unwrap();
    // Unusable probes are measured again (up to 3 times), as a run does by default: a
    // passing burst of other work must not end the search.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .arg("run")
        .arg("--scenario")
        .arg(&scenario)
        .arg("--targets-dir")
        .arg(root.join("targets"))
        .arg("--out")
        .arg(root.join("out"))
        .args(["--retry-noisy", "3"])
        .env(MARK, root)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    let results = results(root);
    let target = |name: &str| {
        results["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {results:#}"))
            .clone()
    };

    let known = target("known");
    let search = &known["capacity"]["searches"][0];
    assert_eq!(search["verdict"]["kind"], "found", "{search:#}");
    let capacity = search["verdict"]["capacity_rps"].as_f64().unwrap();
    // It cannot carry more than its peak, and with p99 <= 50 ms (over 100 service times)
    // it carries nearly all of it: arrivals are evenly spaced, so queues form only near
    // full use.
    assert!(
        capacity >= 0.7 * peak && capacity <= 1.05 * peak,
        "capacity {capacity} against a measured peak of {peak}: {search:#}"
    );
    // The bracket is the scenario's precision, and every probe the search used was usable.
    let missed = search["verdict"]["missed_rps"].as_f64().unwrap();
    assert!(missed > capacity && missed - capacity <= 0.04 * capacity);
    let probes = search["probes"].as_array().unwrap();
    let at = probes
        .iter()
        .find(|p| p["rate_rps"].as_f64() == Some(capacity))
        .unwrap();
    assert_eq!(at["verdict"], "meets");
    assert!(at["latency_ms"]["p99"].as_f64().unwrap() <= 50.0);
    assert!(at["requests"].as_u64().unwrap() >= 500, "{at:#}");
    let own = &known["capacity"]["own_load"];
    assert_eq!(own["fraction"], 0.5);
    assert!((own["probe"]["rate_rps"].as_f64().unwrap() - capacity * 0.5).abs() < 1e-6);

    let hopeless = target("hopeless");
    let verdict = &hopeless["capacity"]["searches"][0]["verdict"];
    assert_eq!(verdict["kind"], "below-lowest", "{verdict:#}");
    assert_eq!(verdict["lowest_rps"], 200.0);
    assert!(verdict.get("capacity_rps").is_none());
    assert_eq!(
        hopeless["capacity"]["searches"][0]["probes"][0]["verdict"],
        "misses"
    );

    // Equal load: 80% of the slowest capacity measured (the known fixture's: the
    // hopeless one has none), for every target that has a capacity.
    let equal = &known["capacity"]["equal_load"];
    assert_eq!(equal["of"], "known");
    let rate = equal["probe"]["rate_rps"].as_f64().unwrap();
    assert!((rate - 0.8 * capacity).abs() < 1e-6, "{equal:#}");
    assert!(hopeless["capacity"].get("equal_load").is_none());
    // Nothing of the run is left behind.
    let entry = format!("{MARK}={}", root.display());
    assert!(support::marked::marked(&entry).is_empty());
}
