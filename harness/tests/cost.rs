//! `lanebench cost` end to end on `lanebench-fixture` servers under valgrind: two counts
//! of one build agree with each other, a build doing more work per request is flagged by
//! `compare`, a target that cannot be counted says why instead of reporting 0, a count
//! that gets wrong answers fails, and no server outlives its count.
//!
//! Needs valgrind (`.ci/run` installs it).

mod workspace;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use workspace::Workspace;

const SCENARIO: &str = r#"
name = "cost-fixture"
duration = "1s"
warmup = "0s"
repeats = 1
connections = [1]
startup_samples = 1

[[request]]
name = "health"
path = "/health"
expect_status = 200

[[request]]
name = "item"
weight = 3
path = "/api/items/{rand:1..1000}"
expect_status = 200

[[request]]
name = "create"
method = "POST"
path = "/api/items"
headers = { "Content-Type" = "application/json" }
body = '{"n":{rand:1..100},"s":{seq}}'
expect_status = 200
"#;

fn require_valgrind() {
    let found = Command::new("valgrind").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "valgrind is not installed; .ci/run installs it (apt-get install valgrind)"
    );
}

/// A workspace whose target `fixture` serves `lanebench-fixture --mode ok ARGS` through
/// `$LANEBENCH_WRAP`, plus `extra` targets as (name, run command, manifest lines).
fn workspace(args: &str, extra: &[(&str, &str, &str)]) -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    let run = format!("exec $LANEBENCH_WRAP {} --mode ok {args}", ws.fixture());
    ws.add_target("fixture", &run, "");
    for (name, run, lines) in extra {
        ws.add_target(name, &run.replace("FIXTURE", &ws.fixture()), lines);
    }
    let scenario = ws.write_scenario(SCENARIO);
    (ws, scenario)
}

/// Runs `lanebench cost` into `out`; returns the exit code, stdout and cost.json.
fn count(ws: &Workspace, scenario: &Path, out: &Path) -> (i32, String, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(["cost", "--requests", "300", "--warmup", "30", "--scenario"])
        .arg(scenario)
        .arg("--targets-dir")
        .arg(ws.path().join("targets"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let text = std::fs::read_to_string(out.join("cost.json"))
        .unwrap_or_else(|e| panic!("no cost.json ({e}): {stdout}{stderr}"));
    let code = output.status.code().unwrap();
    (code, stdout + &stderr, serde_json::from_str(&text).unwrap())
}

fn target<'a>(cost: &'a Value, name: &str) -> &'a Value {
    cost["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing: {cost:#}"))
}

/// (request name, instructions per request) of a counted target, the mix last.
fn figures(target: &Value) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = target["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["instructions_per_request"].as_f64().unwrap(),
            )
        })
        .collect();
    out.push((
        "mix".into(),
        target["instructions_per_request"].as_f64().unwrap(),
    ));
    out
}

fn compare(base: &Path, cand: &Path, dir: &Path) -> (i32, String, Value, String) {
    let (json, md) = (dir.join("compare.json"), dir.join("compare.md"));
    let output = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .arg("compare")
        .args([base, cand])
        .arg("--json")
        .arg(&json)
        .arg("--markdown")
        .arg(&md)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let report = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    let markdown = std::fs::read_to_string(&md).unwrap_or_default();
    (output.status.code().unwrap(), stdout, report, markdown)
}

#[test]
fn two_counts_of_one_fixture_build_agree_within_half_a_percent() {
    require_valgrind();
    let (ws, scenario) = workspace("", &[]);
    let (first_dir, second_dir) = (ws.path().join("rounds/a"), ws.path().join("rounds/b"));
    let (code, out, first) = count(&ws, &scenario, &first_dir);
    assert_eq!(code, 0, "{out}");
    let (code, out, second) = count(&ws, &scenario, &second_dir);
    assert_eq!(code, 0, "{out}");
    assert!(first["valgrind_version"]
        .as_str()
        .unwrap()
        .starts_with("valgrind-"));
    let (a, b) = (target(&first, "fixture"), target(&second, "fixture"));
    assert_eq!(a["status"], "ok", "{first:#}");
    assert_eq!(a["connections"], 1, "one kept-alive connection: {first:#}");
    assert!(a["requests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["requests"] == 300));
    let (fa, fb) = (figures(a), figures(b));
    assert_eq!(fa.len(), 4);
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(
            *x > 1000.0,
            "{name}: {x} instructions per request is not a server's work"
        );
        let apart = (x - y).abs() / x.min(*y);
        assert!(
            apart < 0.005,
            "{name}: {x} and {y} differ by {:.3}%",
            apart * 100.0
        );
    }
    let idle = a["idle"]["share_of_batch"].as_f64().unwrap();
    assert!(idle < 0.01, "idle interval costs {idle} of a batch");
    // The two counts compare as unchanged, with nothing gating but the counts.
    let (code, stdout, report, _) = compare(&first_dir, &second_dir, ws.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("No regression."), "{stdout}");
    assert_eq!(report["rows"].as_array().unwrap().len(), 4, "{report:#}");
    assert!(ws.wait_no_servers(Duration::from_secs(5)).is_empty());
}

#[test]
fn a_build_doing_more_work_per_request_is_flagged_by_compare() {
    require_valgrind();
    let (base_ws, scenario) = workspace("", &[]);
    let (cand_ws, _) = workspace("--work 1", &[]);
    let (base, cand) = (base_ws.path().join("base"), base_ws.path().join("cand"));
    assert_eq!(count(&base_ws, &scenario, &base.join("r1")).0, 0);
    assert_eq!(count(&cand_ws, &scenario, &cand.join("r1")).0, 0);
    let (code, stdout, report, markdown) = compare(&base, &cand, base_ws.path());
    assert_eq!(code, 1, "{stdout}");
    let rows = report["rows"].as_array().unwrap();
    let item = rows
        .iter()
        .find(|r| r["figure"] == "instructions" && r["request"] == "item")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(item["verdict"], "regressed", "{item:#}");
    assert_eq!(item["gates"], true);
    assert_eq!(item["unit"], "instr/req");
    assert!((item["threshold"].as_f64().unwrap() - 0.01).abs() < 1e-12);
    let change = item["change"].as_f64().unwrap();
    assert!(change > 0.01 && change < 1.0, "{change}");
    assert!(report["fail_on"]
        .as_array()
        .unwrap()
        .contains(&"instructions".into()));
    assert!(
        markdown.contains("#### Instructions per request (deterministic"),
        "{markdown}"
    );
    assert!(
        // Brackets are escaped like every text in the Markdown.
        markdown.contains("| fixture \\[item\\] | instructions (instr/req) |"),
        "{markdown}"
    );
    assert!(markdown.contains("**regressed**"), "{markdown}");
    // Judged only on timed figures, the same pair passes: --fail-on picks what gates.
    let output = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .arg("compare")
        .args([&base, &cand])
        .args(["--fail-on", "timed"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("Flagged but not failing the job"), "{text}");
}

#[test]
fn a_target_that_cannot_be_counted_says_why_instead_of_reporting_zero() {
    require_valgrind();
    let (ws, scenario) = workspace(
        "",
        &[
            (
                "jit",
                "exec $LANEBENCH_WRAP FIXTURE --mode ok",
                "[cost]\nunsupported = \"the JIT tiers up by wall-clock time\"\n",
            ),
            ("nowrap", "exec FIXTURE --mode ok", ""),
        ],
    );
    let out = ws.path().join("rounds/a");
    let (code, stdout, cost) = count(&ws, &scenario, &out);
    assert_eq!(code, 0, "{stdout}");
    let jit = target(&cost, "jit");
    assert_eq!(jit["status"], "unsupported");
    assert_eq!(jit["reason"], "the JIT tiers up by wall-clock time");
    assert!(jit["instructions_per_request"].is_null() && jit["requests"] == Value::Array(vec![]));
    assert!(
        stdout.contains("jit            unsupported: the JIT tiers up"),
        "{stdout}"
    );
    let nowrap = target(&cost, "nowrap");
    assert_eq!(nowrap["status"], "unsupported");
    assert!(
        nowrap["reason"]
            .as_str()
            .unwrap()
            .contains("$LANEBENCH_WRAP"),
        "{nowrap:#}"
    );
    // compare names them in its notes; only the counted target has rows.
    let (code, stdout, report, markdown) = compare(&out, &out, ws.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["target"] == "fixture"));
    assert!(
        markdown.contains(
            "jit: instructions not compared, unsupported in the baseline: the JIT tiers up by wall-clock time"
        ),
        "{markdown}"
    );
}

#[test]
fn a_server_crashing_during_a_count_fails_it_and_the_comparison() {
    require_valgrind();
    let (good_ws, scenario) = workspace("", &[]);
    // Crashes after the warm-up (3 x 30 requests), in the middle of the counted batches.
    let (bad_ws, _) = workspace("--exit-after 150", &[]);
    let (base, cand) = (good_ws.path().join("base"), good_ws.path().join("cand"));
    assert_eq!(count(&good_ws, &scenario, &base).0, 0);
    let (code, stdout, cost) = count(&bad_ws, &scenario, &cand);
    assert_eq!(code, 1, "{stdout}");
    let fixture = target(&cost, "fixture");
    assert_eq!(fixture["status"], "failed");
    let reason = fixture["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("GET /") || reason.starts_with("POST /"),
        "{reason}"
    );
    let tail = fixture["stderr_tail"].as_array().unwrap();
    assert!(
        tail.iter()
            .any(|l| l.as_str().unwrap().contains("exiting after 150 requests")),
        "{fixture:#}"
    );
    assert!(
        bad_ws.wait_no_servers(Duration::from_secs(5)).is_empty(),
        "a server outlived its count"
    );
    let (code, stdout, _, _) = compare(&base, &cand, good_ws.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("fixture (instruction count) (failed)"),
        "{stdout}"
    );
}

#[test]
fn without_valgrind_cost_exits_2_with_one_line_before_starting_anything() {
    let (ws, scenario) = workspace("", &[]);
    let bin = ws.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(["cost", "--scenario"])
        .arg(&scenario)
        .arg("--targets-dir")
        .arg(ws.path().join("targets"))
        .arg("--out")
        .arg(ws.path().join("out"))
        .env("PATH", &bin)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("valgrind not found on PATH"), "{stderr}");
    assert!(!ws.path().join("out").exists());
}

#[test]
fn sigint_during_a_count_stops_the_server_and_exits_130() {
    require_valgrind();
    let (ws, scenario) = workspace("", &[]);
    let out = ws.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args([
            "cost",
            "--requests",
            "1000000",
            "--warmup",
            "0",
            "--scenario",
        ])
        .arg(&scenario)
        .arg("--targets-dir")
        .arg(ws.path().join("targets"))
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the server runs under valgrind, then give it a moment to be counting.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while ws.live_servers().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!ws.live_servers().is_empty(), "the server never started");
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: kill only sends SIGINT to the lanebench process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        ws.wait_no_servers(Duration::from_secs(5)).is_empty(),
        "server left running"
    );
    let cost: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("cost.json")).unwrap()).unwrap();
    assert_eq!(cost["interrupted"], true);
    assert_eq!(
        cost["targets"],
        Value::Array(vec![]),
        "a cut-short count is not a result"
    );
}

#[test]
fn run_with_cost_keeps_the_counts_in_its_results_and_compare_reads_them() {
    require_valgrind();
    let (ws, _) = workspace("", &[]);
    // A short timed run (fixed warm-up) so the test is mostly the count.
    let scenario = ws.write_scenario(&SCENARIO.replace(
        "startup_samples = 1",
        "startup_samples = 1\nsteady_state = false",
    ));
    let output = ws
        .lanebench("run", &scenario)
        .args(["--cost", "--cost-requests", "300", "--cost-warmup", "30"])
        .args(["--server-cpus", "0", "--generator-cpus", "0"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("instructions per request (mix; 300 counted requests of each"),
        "{stdout}"
    );
    let results = ws.results().expect("results.json");
    assert!(results["cost"]["valgrind_version"]
        .as_str()
        .unwrap()
        .starts_with("valgrind-"));
    let fixture = target(&results, "fixture");
    assert_eq!(fixture["status"], "ok", "the timed run stands: {results:#}");
    let cost = &fixture["cost"];
    assert_eq!(cost["status"], "ok", "{results:#}");
    let figures = figures(cost);
    assert_eq!(figures.len(), 4, "three requests and the mix: {cost:#}");
    assert!(figures.iter().all(|(_, x)| *x > 1000.0), "{figures:?}");
    // compare takes the counts from results.json as it does from a cost.json.
    let (code, stdout, report, markdown) = compare(&ws.results_dir(), &ws.results_dir(), ws.path());
    assert_eq!(code, 0, "{stdout}");
    let counted = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["figure"] == "instructions")
        .count();
    assert_eq!(counted, 4, "{report:#}");
    assert!(markdown.contains("instructions"), "{markdown}");
    assert!(ws.wait_no_servers(Duration::from_secs(5)).is_empty());
}
