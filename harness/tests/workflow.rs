//! `.github/workflows/bench.yml` parses as YAML and has the job the docs describe: on pull
//! requests, base against head on one runner with scripts/ci-compare.sh, valgrind for
//! the instruction counts, cargo and build caches, the markdown as the job summary and
//! the script's exit status as the job's.

use std::path::Path;

use serde_yaml::Value;

fn workflow() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/bench.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn steps(workflow: &Value) -> &Vec<Value> {
    workflow["jobs"]["compare"]["steps"]
        .as_sequence()
        .expect("jobs.compare.steps")
}

/// The step using `action` (e.g. `actions/cache`), by prefix before the `@`.
fn uses<'a>(steps: &'a [Value], action: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.split('@').next() == Some(action))
        })
        .unwrap_or_else(|| panic!("no step uses {action}"))
}

fn run_text(step: &Value) -> &str {
    step["run"].as_str().unwrap_or_default()
}

#[test]
fn bench_workflow_compares_base_and_head_of_a_pull_request() {
    let w = workflow();
    assert!(
        w["on"]["pull_request"].is_mapping(),
        "runs on pull requests: {:?}",
        w["on"]
    );
    assert_eq!(w["permissions"]["contents"], "read");
    let job = &w["jobs"]["compare"];
    assert!(job["runs-on"].is_string());
    let steps = steps(&w);
    let checkout = uses(steps, "actions/checkout");
    assert_eq!(
        checkout["with"]["fetch-depth"], 0,
        "both revisions must be fetched"
    );
    uses(steps, "dtolnay/rust-toolchain");
    let cache = uses(steps, "actions/cache");
    let paths = cache["with"]["path"].as_str().unwrap();
    assert!(paths.contains("~/.cargo/registry"), "{paths}");
    let target_cache = job["env"]["TARGET_CACHE"].as_str().unwrap();
    let cache_folder = target_cache.rsplit('/').next().unwrap();
    assert!(
        paths.lines().any(|l| l.trim() == cache_folder),
        "the build folders ({target_cache}) are cached: {paths}"
    );
    assert!(
        steps
            .iter()
            .any(|s| run_text(s).contains("apt-get install") && run_text(s).contains("valgrind")),
        "valgrind is installed for the instruction counts"
    );
    let compare = steps
        .iter()
        .find(|s| run_text(s).contains("scripts/ci-compare.sh"))
        .expect("a step runs scripts/ci-compare.sh");
    let script = run_text(compare);
    assert!(
        script.contains("github.event.pull_request.base.sha")
            && script.contains("github.event.pull_request.head.sha"),
        "{script}"
    );
    assert!(
        script.contains("compare.md") && script.contains("$GITHUB_STEP_SUMMARY"),
        "{script}"
    );
    assert!(
        script.trim_end().ends_with("exit \"$status\""),
        "the job's status is the script's: {script}"
    );
    assert!(
        compare["continue-on-error"].is_null(),
        "a regression must fail the job"
    );
    let upload = uses(steps, "actions/upload-artifact");
    assert_eq!(upload["if"], "always()");
    for key in ["TARGET", "ROUNDS", "QUICK", "OUT"] {
        assert!(job["env"][key].is_string(), "env {key}");
    }
    let script_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/ci-compare.sh");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(script_path).unwrap().permissions().mode();
    assert!(mode & 0o111 != 0, "scripts/ci-compare.sh is executable");
}
