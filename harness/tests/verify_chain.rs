//! `lanebench verify --chain` on real processes: the fixture's user service passes
//! every chain rule, and each bug it can be given fails the rules named for it. Every
//! process started carries a mark in its environment, so that the tests can see that
//! none is left running.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod pg_support;

/// Every chain rule of the memory mode.
const RULES: [&str; 50] = [
    "chain.e2e.fresh_summary_empty",
    "chain.e2e.order_created",
    "chain.e2e.summary_matches_order_service",
    "chain.plain_summary_404",
    "chain.health_local",
    "chain.summary_ok",
    "chain.pooled_keep_alive",
    "chain.summary_non_integer_400",
    "chain.summary_unknown_0_404",
    "chain.summary_unknown_1000001_404",
    "chain.order_non_integer_400",
    "chain.order_unknown_user_bad_items_404",
    "chain.order_empty_items_400",
    "chain.order_bad_quantity_400",
    "chain.wrong_method_405",
    "chain.order_created",
    "chain.reencoded",
    "chain.fallback.status_500",
    "chain.post_unavailable.status_500",
    "chain.fallback.garbage",
    "chain.post_unavailable.garbage",
    "chain.fallback.wrong_shape",
    "chain.post_unavailable.wrong_shape",
    "chain.fallback.stall",
    "chain.post_unavailable.stall",
    "chain.fallback.close",
    "chain.post_unavailable.close",
    "chain.fallback.reset",
    "chain.post_unavailable.reset",
    "chain.fallback.refused",
    "chain.post_unavailable.refused",
    "chain.recovers_after_restart",
    "chain.one_get_per_summary",
    "chain.one_post_per_order",
    "chain.never_500",
    "chain.env_other_scheme",
    "chain.env_no_port",
    "chain.env_path",
    "chain.env_timeout_zero",
    "chain.env_connections_abc",
    "breaker.consecutive_only",
    "breaker.opens_after_n",
    "breaker.posts_count",
    "breaker.fails_fast",
    "breaker.probe_success_closes",
    "breaker.half_open_one_probe",
    "breaker.off_with_zero",
    "breaker.env_failures_negative",
    "breaker.env_failures_abc",
    "breaker.env_open_zero",
];

/// Writes a target running the fixture's user service (with `bug`, `--chain-bug B` or
/// `--breaker-bug B`, if any) under `<root>/targets/<name>`, its processes marked with
/// `root`.
fn write_fixture(root: &Path, name: &str, bug: Option<&str>) {
    let dir = root.join("targets").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let bug = bug.map(|b| format!(" {b}")).unwrap_or_default();
    let run = format!(
        "LANEBENCH_CHAIN_TEST={} exec {} --mode user-service{bug}",
        root.display(),
        env!("CARGO_BIN_EXE_lanebench-fixture")
    );
    let manifest = format!(
        "name = {name:?}\nframework = \"Fixture\"\nlanguage = \"rust\"\nversion = \"1\"\n\
         build = \"true\"\nrun = {run:?}\nhealth = \"/health\"\nready_timeout = \"20s\"\n"
    );
    std::fs::write(dir.join("target.toml"), manifest).unwrap();
}

/// Runs `lanebench verify --chain` with `args` on the targets under `root`.
fn verify_chain(root: &Path, args: &[&str]) -> (Output, Option<Value>) {
    let json = root.join("verify.json");
    let targets = root.join("targets");
    let out = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(["verify", "--chain", "--targets-dir"])
        .arg(&targets)
        .arg("--json")
        .arg(&json)
        .args(args)
        .output()
        .expect("run lanebench");
    let written = std::fs::read(&json)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    assert_eq!(marked_processes(root), 0, "processes left running");
    (out, written)
}

/// Processes whose environment carries the mark of `root`.
fn marked_processes(root: &Path) -> usize {
    let mark = format!("LANEBENCH_CHAIN_TEST={}", root.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|entry| {
            std::fs::read(entry.path().join("environ"))
                .is_ok_and(|environ| environ.split(|&b| b == 0).any(|var| var == mark.as_bytes()))
        })
        .count()
}

/// The rules of the first result, and the names of those that failed.
fn rules(written: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let rules = written["results"][0]["report"]["rules"]
        .as_array()
        .expect("a report with rules");
    let names = |failed_only: bool| {
        rules
            .iter()
            .filter(|rule| !failed_only || rule["passed"] == false)
            .map(|rule| rule["rule"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>()
    };
    (names(false), names(true))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[test]
fn a_correct_user_service_passes_every_chain_rule_with_another_order_service() {
    let root = tempfile::tempdir().unwrap();
    write_fixture(root.path(), "users", None);
    write_fixture(root.path(), "orders", None);
    let (out, written) = verify_chain(
        root.path(),
        &["--target", "users", "--orders-target", "orders"],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("orders (order service): ready"), "{stderr}");
    assert!(
        stdout.contains("== users chain (order service orders)"),
        "{stdout}"
    );
    let (all, failed) = rules(&written.expect("the JSON file"));
    assert!(failed.is_empty(), "{failed:?}\n{stdout}");
    let expected: BTreeSet<String> = RULES.iter().map(|r| r.to_string()).collect();
    assert_eq!(all, expected, "{stdout}");
}

/// Checks the fixture with `bug` (its flag and value) fails exactly the rules `expected`.
fn fails_exactly(bug: &str, expected: &[&str]) {
    let root = tempfile::tempdir().unwrap();
    write_fixture(root.path(), "buggy", Some(bug));
    let (out, written) = verify_chain(root.path(), &["--target", "buggy"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let (_, failed) = rules(&written.expect("the JSON file"));
    let expected: BTreeSet<String> = expected.iter().map(|r| r.to_string()).collect();
    assert_eq!(failed, expected, "{stdout}");
    for rule in &expected {
        assert!(stdout.contains(&format!("FAIL  {rule} ")), "{stdout}");
    }
}

#[test]
fn passing_the_order_services_bytes_through_fails_reencoded() {
    fails_exactly("--chain-bug raw", &["chain.reencoded"]);
}

#[test]
fn retrying_a_failed_post_fails_one_post_per_order() {
    fails_exactly("--chain-bug retry-post", &["chain.one_post_per_order"]);
}

#[test]
fn no_downstream_timeout_fails_the_stall_rules() {
    fails_exactly(
        "--chain-bug no-timeout",
        &[
            "chain.fallback.stall",
            "chain.post_unavailable.stall",
            // A probe that never times out never fails, so the breaker never reopens.
            "breaker.half_open_one_probe",
        ],
    );
}

#[test]
fn a_connection_per_call_fails_pooled_keep_alive() {
    fails_exactly("--chain-bug no-pool", &["chain.pooled_keep_alive"]);
}

#[test]
fn keeping_dead_connections_fails_the_recovery() {
    fails_exactly("--chain-bug no-recover", &["chain.recovers_after_restart"]);
}

#[test]
fn a_breaker_that_opens_late_fails_the_counting_rules() {
    // Failed order posts count too: three failures with two posts in them open it.
    fails_exactly(
        "--breaker-bug late",
        &["breaker.opens_after_n", "breaker.posts_count"],
    );
}

#[test]
fn a_breaker_that_never_half_opens_fails_the_probe_rules() {
    // posts_count as well: it needs a closed breaker after opens_after_n opened it.
    fails_exactly(
        "--breaker-bug no-half-open",
        &[
            "breaker.posts_count",
            "breaker.probe_success_closes",
            "breaker.half_open_one_probe",
        ],
    );
}

#[test]
fn a_breaker_that_lets_every_call_through_half_open_fails_one_probe() {
    fails_exactly("--breaker-bug probe-all", &["breaker.half_open_one_probe"]);
}

#[test]
fn chain_needs_targets_started_here() {
    let out = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(["verify", "--chain", "--url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--chain: needs --target or --all"),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(["verify", "--target", "x", "--orders-target", "y"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--chain"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn in_database_mode_each_service_has_its_own_database_and_nothing_is_left() {
    // Open to the `postgres` user, which runs the server when the tests run as root.
    let root = pg_support::open_dir();
    write_fixture(root.path(), "memory-only", None);
    std::fs::write(
        root.path().join("targets/schema.sql"),
        "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL);\n\
         CREATE TABLE IF NOT EXISTS order_items (order_id bigint NOT NULL, position int NOT NULL);\n",
    )
    .unwrap();
    let (out, written) = verify_chain(
        root.path(),
        &["--target", "memory-only", "--store", "postgres"],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let databases: Vec<&str> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("memory-only: database "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert_eq!(databases.len(), 2, "{stderr}");
    assert!(
        databases[1] == format!("{}_users", databases[0]),
        "{databases:?}"
    );
    // The fixture keeps its orders in memory: the rule that reads both databases sees it.
    let (_, failed) = rules(&written.expect("the JSON file"));
    let expected: BTreeSet<String> =
        ["chain.db.orders_in_order_service_database".to_string()].into();
    assert_eq!(failed, expected, "{stdout}");
    assert!(
        pg_support::wait_until(std::time::Duration::from_secs(10), || {
            pg_support::pg_processes_below(root.path()).is_empty()
        }),
        "PostgreSQL left running"
    );
    let folders = std::fs::read_dir(root.path().join("target")).unwrap();
    let left: Vec<String> = folders
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("lanebench-pg-"))
        .collect();
    assert!(left.is_empty(), "server folders left: {left:?}");
}
