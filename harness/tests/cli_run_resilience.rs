//! `lanebench run` on a resilience scenario (`[[fault]]`), with the fixture's user
//! service (its own order service too, with a circuit breaker): each fault is one episode
//! recorded second by second, the breaker's effect shows against a user service without
//! one, the `down` fault stops the order service and starts it again, and a run stopped
//! in the middle of a fault leaves nothing running and keeps what it finished. Every
//! process carries the test's mark (see `support::marked`).

mod support;

use support::marked::{fixture_user_service, output_text, results, run_command};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const MARK: &str = "LANEBENCH_RUN_RESILIENCE_TEST";

/// A targets folder with the fixture's user service as each of `names`, and a
/// resilience scenario with `faults` (TOML `[[fault]]` tables).
fn setup(root: &Path, names: &[&str], resilience: &str, faults: &str) -> PathBuf {
    for name in names {
        fixture_user_service(root, name, &format!("Fixture {name}"), MARK);
    }
    let scenario = root.join("resilience.toml");
    let text = format!(
        r#"name = "resilience-test"
duration = "1s"
warmup = "1s"
steady_state = false
startup_samples = 1
rate = 100
connections = [16]
timeout = "3s"

[chain]

[resilience]
{resilience}

{faults}

[[request]]
name = "summary"
weight = 4
path = "/api/users/{{rand:1..50}}/summary"
expect_status = 200

[[request]]
name = "order-post"
weight = 1
method = "POST"
path = "/api/users/{{rand:1..50}}/orders"
headers = {{ "Content-Type" = "application/json" }}
body = '{{"items":[{{"product_id":1,"quantity":2,"price":9.99}}]}}'
expect_status = 201
"#
    );
    std::fs::write(&scenario, text).unwrap();
    scenario
}

fn lanebench(root: &Path, scenario: &Path) -> Command {
    run_command(root, scenario, MARK)
}

fn marked(root: &Path) -> Vec<(u32, String, String)> {
    support::marked::marked(&format!("{MARK}={}", root.display()))
}

fn episode<'a>(target: &'a Value, label: &str, breaker: &str) -> &'a Value {
    target["resilience"]["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["label"] == label && e["breaker"] == breaker)
        .unwrap_or_else(|| panic!("no {label} episode with the breaker {breaker}: {target}"))
}

fn figure(episode: &Value, key: &str) -> f64 {
    episode["figures"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing: {}", episode["figures"]))
}

#[test]
fn each_fault_is_an_episode_and_the_breaker_shows_against_none() {
    let root = tempfile::tempdir().unwrap();
    let fault = |kind: &str| {
        format!("[[fault]]\nkind = \"{kind}\"\nstart = \"2s\"\nduration = \"3s\"\nafter = \"3s\"\n")
    };
    let faults = format!("{}{}", fault("error"), fault("down"));
    let resilience = "breaker_off = true\nbreaker_failures = 3\nbreaker_open_ms = 400";
    let scenario = setup(root.path(), &["fx"], resilience, &faults);
    let output = lanebench(root.path(), &scenario).output().unwrap();
    let results = results(root.path());
    let target = &results["targets"][0];
    assert_ne!(target["status"], "failed", "{}", output_text(&output));
    let episodes = target["resilience"]["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 4, "two faults, breaker on and off");

    let on = episode(target, "error 500", "on");
    assert_eq!(on["breaker_failures"], 3);
    assert_eq!(on["seconds"].as_array().unwrap().len(), 8);
    let (on_at, off_at) = (
        on["fault_on_s"].as_f64().unwrap(),
        on["fault_off_s"].as_f64().unwrap(),
    );
    assert!((off_at - on_at - 3.0).abs() < 0.5, "{on_at}..{off_at}");
    assert!(figure(on, "goodput_before") > 0.0);
    assert!(
        figure(on, "degraded_per_s_during") > 0.0,
        "summaries fell back"
    );
    // The open breaker keeps the calls at its probes: far fewer than before the fault.
    let open_in = figure(on, "time_to_open_s");
    assert!(open_in <= 3.0, "{open_in}");
    let before = figure(on, "calls_per_request_before");
    assert!(
        figure(on, "calls_per_request_during") < before / 2.0,
        "{}",
        on["figures"]
    );
    assert!(figure(on, "time_to_recover_s") <= 3.0);
    assert!(on["health"]["during"]["probes"].as_u64().unwrap() > 0);
    assert_eq!(on["figures"]["crashed"], false);

    // Without a breaker every request that calls the order service keeps calling it.
    let off = episode(target, "error 500", "off");
    assert_eq!(off["breaker_failures"], 0);
    assert!(
        off["figures"]["time_to_open_s"].is_null(),
        "{}",
        off["figures"]
    );
    assert!(
        figure(off, "calls_per_request_during") > before / 2.0,
        "{}",
        off["figures"]
    );

    // The order service was stopped and came back: summaries fell back, then recovered.
    let down = episode(target, "down", "on");
    assert!(
        figure(down, "degraded_per_s_during") > 0.0,
        "{}",
        down["figures"]
    );
    assert!(figure(down, "goodput_after") > 0.0, "{}", down["figures"]);
    assert!(
        down["figures"]["time_to_recover_s"].as_f64().is_some(),
        "{}",
        down["figures"]
    );
    assert!(marked(root.path()).is_empty(), "left running");
}

#[test]
fn a_run_stopped_in_a_fault_leaves_nothing_running_and_keeps_what_it_finished() {
    let root = tempfile::tempdir().unwrap();
    let faults = "[[fault]]\nkind = \"down\"\nstart = \"2s\"\nduration = \"6s\"\nafter = \"2s\"\n";
    let scenario = setup(root.path(), &["fa", "fb"], "health_rate = 10", faults);
    let mut child = lanebench(root.path(), &scenario)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first target finished; the second's order service was stopped by its fault.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut second_up: Option<Instant> = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "the second target's fault never came"
        );
        let first_done = std::fs::read_to_string(root.path().join("out/results.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|v| v["targets"].as_array().is_some_and(|a| a.len() == 1));
        if first_done && second_up.is_none() && !marked(root.path()).is_empty() {
            second_up = Some(Instant::now());
        }
        // Idle memory, the warm-up and the fault's start have passed well within this.
        if second_up.is_some_and(|at| at.elapsed() >= Duration::from_secs(6)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on the lanebench this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let left = marked(root.path());
    assert!(left.is_empty(), "left running: {left:?}");
    let results = results(root.path());
    assert_eq!(results["interrupted"], true);
    let targets = results["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "only the finished target is kept");
    let episodes = targets[0]["resilience"]["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 1);
    assert_eq!(episodes[0]["label"], "down");
}
