//! `lanebench run` on a chain scenario, with the fixture's user service (which is its own
//! order service too): the hop is measured through the proxy, and when the order service,
//! the proxy or the user service is killed during the load the run fails that target with
//! a clear reason and leaves nothing running. Every process of a test carries a mark in
//! its environment (set on lanebench, which the proxy inherits, and in the target's run
//! command), so that the test can find them, kill one, and see that none is left.

mod support;

use support::marked::{fixture_user_service, output_text, results, run_command};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const MARK: &str = "LANEBENCH_RUN_CHAIN_TEST";

/// A targets folder with the fixture's user service as target `fx`, and a chain scenario
/// of `seconds` per level.
fn setup(root: &Path, seconds: u32) -> PathBuf {
    fixture_user_service(root, "fx", "Fixture", MARK);
    let scenario = root.join("chain.toml");
    let text = format!(
        r#"name = "chain-test"
duration = "{seconds}s"
steady_state = false
startup_samples = 1
connections = [2]
timeout = "3s"

[chain]
baseline = "/api/users/{{rand:1..1000}}"

[[request]]
name = "summary"
weight = 3
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

[[request]]
name = "health"
weight = 1
path = "/health"
expect_status = 200
"#
    );
    std::fs::write(&scenario, text).unwrap();
    scenario
}

fn lanebench(root: &Path, scenario: &Path, extra: &[&str]) -> Command {
    let mut command = run_command(root, scenario, MARK);
    command.args(extra);
    command
}

/// Marked processes: pid, command line and environment.
fn marked(root: &Path) -> Vec<(u32, String, String)> {
    support::marked::marked(&format!("{MARK}={}", root.display()))
}

#[test]
fn a_chain_run_measures_the_hop_and_leaves_nothing_running() {
    let root = tempfile::tempdir().unwrap();
    let scenario = setup(root.path(), 2);
    let child = lanebench(root.path(), &scenario, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The mark reaches every process of the chain (or the check below proves nothing).
    let seen = seen_while_running(root.path());
    let output = child.wait_with_output().unwrap();
    assert!(
        seen.iter().any(|(c, e)| Victim::OrderService.is(c, e)),
        "{seen:?}"
    );
    assert!(seen.iter().any(|(c, e)| Victim::Proxy.is(c, e)), "{seen:?}");
    assert!(
        seen.iter().any(|(c, e)| Victim::UserService.is(c, e)),
        "{seen:?}"
    );
    let results = results(root.path());
    let target = &results["targets"][0];
    assert_ne!(target["status"], "failed", "{}", output_text(&output));
    assert_eq!(target["chain"]["order_service"], "fx");
    assert_eq!(target["chain"]["via_proxy"], true);
    let roles: Vec<(&str, &str)> = target["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("orders:fx", "downstream"), ("proxy", "proxy")]);
    let level = &target["levels"][0];
    let repeat = &level["repeats"][0];
    assert_eq!(
        repeat["load"]["errors"].get("degraded"),
        None,
        "no fallbacks"
    );
    // Every summary and order post called the order service once, through the proxy.
    let hop = &repeat["hop"];
    let forwarded = hop["requests"].as_u64().unwrap();
    assert!(forwarded > 0, "{hop}");
    assert_eq!(hop["failures"], 0);
    let chain = &level["chain"];
    let expected = chain["expected_per_request"].as_f64().unwrap();
    assert!((expected - 0.8).abs() < 1e-9);
    let per_request = chain["downstream_per_request"].as_f64().unwrap();
    assert!((per_request - expected).abs() < 0.15, "{chain}");
    assert!(chain["downstream_p99_ms"].as_f64().unwrap() > 0.0);
    assert!(
        chain["order_cpu_us_per_success"].as_f64().is_some(),
        "{chain}"
    );
    assert!(level["baseline"]["load"]["successes"].as_u64().unwrap() > 0);
    assert!(chain["client_tax_us"].as_f64().is_some(), "{chain}");
    assert!(marked(root.path()).is_empty(), "left running");
}

/// Every marked process seen until the measured user service has run a moment.
fn seen_while_running(root: &Path) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: Vec<(String, String)> = Vec::new();
    while Instant::now() < deadline {
        for (_, cmdline, environ) in marked(root) {
            if !seen.iter().any(|(c, e)| *c == cmdline && *e == environ) {
                seen.push((cmdline, environ));
            }
        }
        let users = seen
            .iter()
            .filter(|(c, e)| Victim::UserService.is(c, e))
            .count();
        if users >= 1 && seen.iter().any(|(c, e)| Victim::Proxy.is(c, e)) {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    seen
}

#[test]
fn with_two_server_cpus_each_service_gets_one_of_its_own() {
    if lanebench::load::cpus::CpuList::allowed().len() < 2 {
        eprintln!("skipped: needs 2 CPUs");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let scenario = setup(root.path(), 1);
    let args = ["--server-cpus", "0-1", "--generator-cpus", "1"];
    let output = lanebench(root.path(), &scenario, &args).output().unwrap();
    let results = results(root.path());
    let target = &results["targets"][0];
    assert_ne!(target["status"], "failed", "{}", output_text(&output));
    let cpus = |name: &str| {
        let component = target["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"));
        component["cpus"].clone()
    };
    // The user service has the first half (CPU 0), the order service the second.
    assert_eq!(cpus("orders:fx"), serde_json::json!([1]));
    assert_eq!(cpus("proxy"), serde_json::json!([1]));
    assert!(marked(root.path()).is_empty(), "left running");
}

/// Which process of the chain a test kills.
#[derive(Debug, Clone, Copy)]
enum Victim {
    OrderService,
    Proxy,
    UserService,
}

impl Victim {
    fn is(self, cmdline: &str, environ: &str) -> bool {
        let fixture = cmdline.contains("lanebench-fixture");
        let user = environ.contains("ORDERS_URL=");
        match self {
            Victim::OrderService => fixture && !user,
            Victim::UserService => fixture && user,
            Victim::Proxy => cmdline.contains(" proxy ") && cmdline.contains("--upstream"),
        }
    }
}

/// Kills `victim` once a user service has been running for two seconds: the measured
/// one (a startup launch lives a few milliseconds), which after a second of idle memory
/// is under load.
fn kill_during_load(root: &Path, victim: Victim) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut first_seen: Vec<(u32, Instant)> = Vec::new();
    while Instant::now() < deadline {
        let running = marked(root);
        for (pid, cmdline, environ) in &running {
            if Victim::UserService.is(cmdline, environ) && !first_seen.iter().any(|(p, _)| p == pid)
            {
                first_seen.push((*pid, Instant::now()));
            }
        }
        let measured = first_seen.iter().any(|(pid, at)| {
            at.elapsed() >= Duration::from_secs(2) && running.iter().any(|(p, ..)| p == pid)
        });
        if measured {
            let target = running
                .iter()
                .filter(|(_, cmdline, environ)| victim.is(cmdline, environ))
                .map(|(pid, ..)| *pid)
                .max()
                .expect("the victim is running");
            // SAFETY: kill(2) on a pid of this test's own marked processes.
            unsafe { libc::kill(target as i32, libc::SIGKILL) };
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the measured user service never started");
}

fn killed(victim: Victim, reason_has: &str) {
    let root = tempfile::tempdir().unwrap();
    let scenario = setup(root.path(), 8);
    let child = lanebench(root.path(), &scenario, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    kill_during_load(root.path(), victim);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let results = results(root.path());
    let target = &results["targets"][0];
    assert_eq!(target["status"], "failed");
    let reason = target["reason"].as_str().unwrap();
    assert!(reason.contains(reason_has), "{victim:?}: {reason}");
    // lanebench itself has exited; nothing it started may remain.
    let left = marked(root.path());
    assert!(left.is_empty(), "{victim:?}: left running: {left:?}");
}

#[test]
fn a_killed_order_service_fails_the_target_and_nothing_is_left() {
    killed(Victim::OrderService, "orders:fx");
}

#[test]
fn a_killed_proxy_fails_the_target_and_nothing_is_left() {
    killed(Victim::Proxy, "proxy");
}

#[test]
fn a_killed_user_service_fails_the_target_and_nothing_is_left() {
    killed(Victim::UserService, "exited during load");
}

#[test]
fn direct_needs_a_chain_scenario_and_an_unknown_order_service_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let scenario = setup(root.path(), 1);
    let plain = root.path().join("plain.toml");
    std::fs::write(
        &plain,
        "name = \"p\"\nduration = \"1s\"\nconnections = [1]\n[[request]]\nname = \"h\"\npath = \"/health\"\n",
    )
    .unwrap();
    let out = lanebench(root.path(), &plain, &["--direct"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(output_text(&out).contains("--direct: the scenario has no [chain] section"));
    let text_of = std::fs::read_to_string(&scenario).unwrap();
    let unknown = root.path().join("unknown.toml");
    std::fs::write(
        &unknown,
        text_of.replace("[chain]\n", "[chain]\norder_service = \"nope\"\n"),
    )
    .unwrap();
    let out = lanebench(root.path(), &unknown, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        output_text(&out).contains("[chain] order_service `nope` is not a target (fx)"),
        "{}",
        output_text(&out)
    );
}
