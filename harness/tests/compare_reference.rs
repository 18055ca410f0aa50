//! `lanebench compare --reference NAME` end to end, on the report fixture's run (three
//! finished targets) reshaped into runs of three repeats: a whole machine that got
//! slower cancels out, one target that got slower does not, and a reference that did
//! not finish is bad input.

use std::path::{Path, PathBuf};

use lanebench::results::{RunResults, TargetStatus};

mod compare_support;
use compare_support::{compare, faster, reshape};

/// The reference of these tests; any finished target would do.
const REFERENCE: &str = "gin";

/// The fixture with three repeats per level, within ±1 % of each other, and startup and
/// cold start over three launches within ±5 %; every repeat and launch of a target in
/// `slower` takes `factor` times as long (throughput divided, times multiplied).
fn run(slower: &[&str], factor: f64) -> RunResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/results.json");
    let mut results = RunResults::load(&path).unwrap();
    for target in &mut results.targets {
        let factor = if slower.contains(&target.name.as_str()) {
            factor
        } else {
            1.0
        };
        let launches = [&mut target.startup_ms, &mut target.cold_start_ms];
        for spread in launches.into_iter().flatten() {
            let median = spread.median * factor;
            (spread.median, spread.mean) = (median, median);
            (spread.min, spread.max, spread.n) = (median * 0.95, median * 1.05, 3);
        }
    }
    let slowdown = |name: &str| {
        if slower.contains(&name) {
            factor
        } else {
            1.0
        }
    };
    reshape(&mut results, &[1.0, 0.99, 1.01], |name, noise, load| {
        faster(load, noise / slowdown(name))
    });
    results
}

fn save(dir: &Path, name: &str, results: &RunResults) -> PathBuf {
    let path = dir.join(name);
    results.write(&path).unwrap();
    path
}

/// The table row of `name` (`target/level` or `target`) and `figure`.
fn row<'a>(stdout: &'a str, name: &str, figure: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| {
            let mut cells = l.split_whitespace();
            cells.next() == Some(name) && cells.next() == Some(figure)
        })
        .unwrap_or_else(|| panic!("no row {name} {figure} in:\n{stdout}"))
}

#[test]
fn a_slower_machine_regresses_alone_but_cancels_against_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let base = save(dir.path(), "base", &run(&[], 1.0));
    let everyone = ["hyperlane", "gin", "node-http"];
    let cand = save(dir.path(), "cand", &run(&everyone, 1.2));

    let (code, stdout, stderr) = compare(&base, &cand, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(row(&stdout, "hyperlane/16c", "qps").ends_with("REGRESSED"));
    assert!(row(&stdout, "node-http", "startup").ends_with("REGRESSED"));
    assert!(!stdout.contains("reference"), "{stdout}");

    let json = dir.path().join("out.json");
    let markdown = dir.path().join("out.md");
    let args = [
        "--reference",
        REFERENCE,
        "--json",
        json.to_str().unwrap(),
        "--markdown",
        markdown.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = compare(&base, &cand, &args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("\nreference: gin ("), "{stdout}");
    assert!(stdout.trim_end().ends_with("No regression."), "{stdout}");
    for name in ["hyperlane/16c", "node-http/64c"] {
        for figure in ["qps", "p99"] {
            let line = row(&stdout, name, figure);
            assert!(line.contains(&format!("{figure} (x gin)")), "{line}");
            assert!(line.ends_with("unchanged"), "{line}");
        }
    }
    // A single run's launches: their min and max are divided by the same denominator.
    let startup = row(&stdout, "node-http", "startup");
    assert!(
        startup.contains("(x gin)") && startup.contains("range"),
        "{startup}"
    );
    assert!(startup.ends_with("unchanged"), "{startup}");
    // The reference's own figures are shown as they were measured, not judged.
    let own = row(&stdout, "gin/16c", "qps");
    assert!(
        own.contains("qps (req/s)") && own.ends_with("reference"),
        "{own}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(json["reference"], "gin");
    let hyperlane_qps = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == "hyperlane" && r["level"] == "16c" && r["figure"] == "qps")
        .unwrap();
    assert_eq!(hyperlane_qps["unit"], "x gin");
    let ratio = hyperlane_qps["candidate"].as_f64().unwrap();
    assert!(ratio > 0.0 && (ratio - hyperlane_qps["baseline"].as_f64().unwrap()).abs() < 1e-9);
    let markdown = std::fs::read_to_string(&markdown).unwrap();
    assert!(markdown.contains("reference: gin"), "{markdown}");
}

#[test]
fn without_reference_the_json_has_no_reference_field() {
    let dir = tempfile::tempdir().unwrap();
    let base = save(dir.path(), "base", &run(&[], 1.0));
    let json = dir.path().join("out.json");
    let (code, stdout, stderr) = compare(&base, &base, &["--json", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(json.get("reference").is_none(), "{json}");
}

#[test]
fn one_slower_target_regresses_against_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let base = save(dir.path(), "base", &run(&[], 1.0));
    let cand = save(dir.path(), "cand", &run(&["node-http"], 1.2));
    let (code, stdout, stderr) = compare(&base, &cand, &["--reference", REFERENCE]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let slower = row(&stdout, "node-http/16c", "qps");
    assert!(
        slower.contains("(x gin)") && slower.ends_with("REGRESSED"),
        "{slower}"
    );
    assert!(row(&stdout, "hyperlane/16c", "qps").ends_with("unchanged"));
    let summary = stdout.lines().last().unwrap();
    assert!(summary.contains("node-http/16c qps"), "{summary}");
    assert!(!summary.contains("hyperlane"), "{summary}");
}

#[test]
fn each_round_is_divided_by_its_own_reference() {
    // Two candidate rounds, one on a machine 20 % slower for everyone: per-run ratios
    // stay put, where one pooled denominator would split the rounds apart.
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    std::fs::create_dir(&base).unwrap();
    save(&base, "round-1", &run(&[], 1.0));
    save(&base, "round-2", &run(&[], 1.0));
    let cand = dir.path().join("cand");
    std::fs::create_dir(&cand).unwrap();
    save(&cand, "round-1", &run(&[], 1.0));
    save(
        &cand,
        "round-2",
        &run(&["hyperlane", "gin", "node-http"], 1.2),
    );
    let json = dir.path().join("out.json");
    let args = ["--reference", REFERENCE, "--json", json.to_str().unwrap()];
    let (code, stdout, stderr) = compare(&base, &cand, &args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let ratios: Vec<&serde_json::Value> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["unit"] == "x gin" && r["figure"] == "qps")
        .collect();
    assert_eq!(ratios.len(), 4, "hyperlane and node-http at 16c and 64c");
    for row in ratios {
        assert!(row["candidate_cv"].as_f64().unwrap() < 0.02, "{row}");
        assert_eq!(row["verdict"], "unchanged", "{row}");
    }
}

#[test]
fn a_reference_level_missing_in_the_candidate_makes_its_ratios_missing() {
    let dir = tempfile::tempdir().unwrap();
    let base = save(dir.path(), "base", &run(&[], 1.0));
    let mut candidate = run(&[], 1.0);
    let gin = candidate
        .targets
        .iter_mut()
        .find(|t| t.name == "gin")
        .unwrap();
    gin.levels.retain(|l| l.connections != 64);
    let cand = save(dir.path(), "cand", &candidate);
    let (code, stdout, stderr) = compare(&base, &cand, &["--reference", REFERENCE]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("missing: hyperlane/64c qps (in the baseline, not in the candidate)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("note: hyperlane/64c: no ratios to gin, which did not measure this level in the candidate"),
        "{stdout}"
    );
    // What stays absolute is still judged at that level.
    assert!(row(&stdout, "hyperlane/64c", "errors").ends_with("unchanged"));
}

#[test]
fn a_reference_that_did_not_finish_on_both_sides_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let base = save(dir.path(), "base", &run(&[], 1.0));
    for (reference, problem) in [
        (
            "nginx",
            "--reference nginx: is not a target that finished in the baseline",
        ),
        ("broken", "--reference broken: failed in the baseline"),
        (
            "kestrel",
            "--reference kestrel: is not a target that finished in the baseline",
        ),
    ] {
        let (code, stdout, stderr) = compare(&base, &base, &["--reference", reference]);
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(problem), "{stderr}");
    }
    let mut candidate = run(&[], 1.0);
    let gin = candidate
        .targets
        .iter_mut()
        .find(|t| t.name == "gin")
        .unwrap();
    gin.status = TargetStatus::Failed;
    let cand = save(dir.path(), "cand", &candidate);
    let (code, _, stderr) = compare(&base, &cand, &["--reference", REFERENCE]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--reference gin: failed in the candidate"),
        "{stderr}"
    );
}
