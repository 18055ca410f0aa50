//! Judgement from untrusted input (issue 20): `lanebench compare` takes no threshold from
//! the candidate and reads nothing the candidate leaves out as "no regression"; report.md
//! and compare's Markdown escape every name that came from a file. Each test uses the
//! exact input of the defect it guards against.

use std::path::{Path, PathBuf};
use std::process::Command;

use lanebench::results::cost::{CostRun, Counting, COST_SCHEMA_VERSION};
use lanebench::results::cost::{CostStatus, RequestCost, TargetCost};
use lanebench::results::RunResults;

const SCRIPT: &str = "<script>alert(1)</script>";
const SCRIPT_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

fn compare_fixture() -> RunResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compare/quick-run.json");
    RunResults::load(&path).unwrap()
}

fn report_fixture() -> RunResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/results.json");
    RunResults::load(&path).unwrap()
}

/// Exit code, stdout and stderr of `lanebench ARGS`.
fn lanebench(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn compare(base: &Path, cand: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["compare", base.to_str().unwrap(), cand.to_str().unwrap()];
    args.extend(extra);
    lanebench(&args)
}

fn save(dir: &Path, name: &str, results: &RunResults) -> PathBuf {
    let path = dir.join(name);
    results.write(&path).unwrap();
    path
}

/// The cost.json of one count of axum over the fixture's scenario: request `i` costs
/// `(20,000 + 1,000 i) * factor` instructions, with `threshold` as its manifest's.
fn cost_file(dir: &Path, name: &str, factor: f64, threshold: Option<f64>) -> PathBuf {
    let scenario = compare_fixture().scenario;
    let requests: Vec<RequestCost> = scenario
        .requests()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let per = (20_000 + 1000 * i) as f64 * factor;
            RequestCost {
                name: r.name.clone().unwrap(),
                label: r.name.clone().unwrap(),
                weight: r.weight.unwrap(),
                requests: 1000,
                instructions: (per * 1000.0) as u64,
                instructions_per_request: per,
                seconds: 1.0,
            }
        })
        .collect();
    let axum = TargetCost {
        name: "axum".into(),
        framework: "axum".into(),
        language: "Rust".into(),
        version: "1".into(),
        status: CostStatus::Ok,
        reason: None,
        instructions_per_request: lanebench::cost::weighted_mean(&requests),
        requests,
        idle: None,
        workers: 1,
        connections: 1,
        valgrind_options: Vec::new(),
        env: Default::default(),
        threshold,
        seconds: 10.0,
        stderr_tail: Vec::new(),
    };
    let run = CostRun {
        schema_version: COST_SCHEMA_VERSION,
        run_id: name.into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: None,
        interrupted: false,
        scenario,
        lanebench_version: "0.1.0".into(),
        counting: Counting {
            valgrind_version: "valgrind-3.19.0".into(),
            requests: 1000,
            warmup: 200,
            seed: 1,
        },
        targets: vec![axum],
    };
    let folder = dir.join(name);
    run.write(&folder).unwrap();
    folder.join("cost.json")
}

/// The `instructions` rows of a `--json` output: (threshold, verdict) of each.
fn instruction_rows(json: &Path) -> Vec<(f64, String)> {
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["figure"] == "instructions")
        .map(|r| {
            (
                r["threshold"].as_f64().unwrap(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A candidate with +100 % instructions that declares `threshold: 5.0` ("judged at 500%")
/// passed. Now it regresses, judged at the default, the command line's or the baseline's
/// threshold; the candidate's is named as ignored.
#[test]
fn a_candidate_threshold_never_judges_the_candidate() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let json_flag = ["--json", json.to_str().unwrap()];
    let cand = cost_file(dir.path(), "cand", 2.0, Some(5.0));
    for (baseline_threshold, extra, judged_at) in [
        (None, None, 0.01),
        (None, Some("instructions=3%"), 0.03),
        (Some(0.05), None, 0.05),
    ] {
        let base = cost_file(dir.path(), "base", 1.0, baseline_threshold);
        let mut flags = json_flag.to_vec();
        if let Some(threshold) = extra {
            flags.extend(["--threshold", threshold]);
        }
        let (code, stdout, stderr) = compare(&base, &cand, &flags);
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(
            !stdout.contains("judged at 500") && stdout.contains("+100.00%"),
            "{stdout}"
        );
        assert!(
            stdout.contains("the candidate's [cost] threshold (500.0%) was ignored"),
            "{stdout}"
        );
        let rows = instruction_rows(&json);
        assert_eq!(rows.len(), 5, "four requests and the mix: {rows:?}");
        for (threshold, verdict) in rows {
            assert!((threshold - judged_at).abs() < 1e-12, "{threshold}");
            assert_eq!(verdict, "regressed");
        }
    }
}

/// A candidate whose targets measured no level at all was "No regression", exit 0.
#[test]
fn a_candidate_without_levels_is_missing_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let base = save(dir.path(), "base", &compare_fixture());
    let mut empty = compare_fixture();
    for target in &mut empty.targets {
        target.levels.clear();
    }
    let cand = save(dir.path(), "cand", &empty);
    let (json, md) = (dir.path().join("out.json"), dir.path().join("out.md"));
    let (code, stdout, stderr) = compare(
        &base,
        &cand,
        &[
            "--json",
            json.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(!stdout.contains("No regression"), "{stdout}");
    for level in ["hyperlane/16c", "hyperlane/64c", "axum/16c", "axum/64c"] {
        let line = format!("missing: {level} (in the baseline, not in the candidate)");
        assert!(stdout.contains(&line), "{line}: {stdout}");
    }
    assert!(
        stdout.contains("4 missing in the candidate (measured in the baseline)"),
        "{stdout}"
    );
    let comparison: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let missing = comparison["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 4, "{comparison:#}");
    assert!(missing
        .iter()
        .all(|m| m["level"].is_string() && m["figure"].is_null()));
    let comment = std::fs::read_to_string(&md).unwrap();
    assert!(comment.contains(":x:"), "{comment}");
    assert!(
        comment.contains(
            "#### Missing in the candidate (measured in the baseline)\n\n- hyperlane/16c\n"
        ),
        "{comment}"
    );
}

/// A count the baseline has and the candidate lacks (the target absent from the
/// candidate's cost.json) is missing too, not a note.
#[test]
fn a_count_absent_from_the_candidate_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let base = cost_file(dir.path(), "base", 1.0, None);
    let cand = cost_file(dir.path(), "cand", 1.0, None);
    let mut run = CostRun::load(&cand).unwrap();
    run.targets[0].name = "hyperlane".into();
    run.write(cand.parent().unwrap()).unwrap();
    // axum is only in the baseline; hyperlane only in the candidate: nothing shared.
    let (code, _, stderr) = compare(&base, &cand, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nothing to compare"), "{stderr}");
    // With the timed results of both targets beside the counts, axum's count is missing.
    let timed = compare_fixture();
    timed.write(base.parent().unwrap()).unwrap();
    timed.write(cand.parent().unwrap()).unwrap();
    let (code, stdout, stderr) = compare(base.parent().unwrap(), cand.parent().unwrap(), &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("missing: axum instructions"), "{stdout}");
}

/// A results.json whose frameworks are named `<script>alert(1)</script>` and `a|b`, and
/// whose failed target's reason is a heading and a list.
fn hostile_report_dir() -> tempfile::TempDir {
    let mut results = report_fixture();
    for target in &mut results.targets {
        match target.name.as_str() {
            "gin" => target.framework = SCRIPT.into(),
            "kestrel" => target.framework = "a|b".into(),
            "broken" => {
                target.reason = Some("# owned\n- [click](https://evil.example)".into());
                target.stderr_tail = vec!["`rm -rf` | done".into()];
            }
            _ => {}
        }
    }
    let dir = tempfile::tempdir().unwrap();
    results.write(dir.path()).unwrap();
    dir
}

/// report.md printed names verbatim: `<script>` became HTML, `|` an extra column.
#[test]
fn report_markdown_escapes_names_from_the_results() {
    let dir = hostile_report_dir();
    let (code, _, stderr) = lanebench(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(!md.contains(SCRIPT) && md.contains(SCRIPT_ESCAPED), "{md}");
    assert!(!md.contains("a|b") && md.contains("a\\|b"), "{md}");
    // Every table row keeps its column count.
    for table in md.split("\n\n").filter(|b| b.starts_with("| ")) {
        let cells = |line: &str| line.replace("\\|", "").matches('|').count();
        let header = cells(table.lines().next().unwrap());
        assert!(
            table.lines().all(|l| cells(l) == header),
            "a row breaks its table: {table}"
        );
    }
    assert!(
        !md.contains("\n# owned") && !md.contains("[click]("),
        "{md}"
    );
    assert!(md.contains("\\[click\\](https://evil.example)"), "{md}");
    assert!(md.contains("\\`rm -rf\\` \\| done"), "{md}");
    // Our own link is kept.
    assert!(
        md.contains("Definitions in full: [docs/metrics.md](../../docs/metrics.md)."),
        "{md}"
    );
}

/// compare's Markdown printed target names verbatim.
#[test]
fn compare_markdown_escapes_names_from_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut hostile = compare_fixture();
    for target in &mut hostile.targets {
        target.name = match target.name.as_str() {
            "axum" => SCRIPT.into(),
            _ => "a|b".into(),
        };
    }
    let base = save(dir.path(), "base", &hostile);
    let mut slower = hostile.clone();
    for level in slower.targets.iter_mut().flat_map(|t| &mut t.levels) {
        for repeat in &mut level.repeats {
            repeat.load.success_rps *= 0.5;
        }
    }
    let cand = save(dir.path(), "cand", &slower);
    let md = dir.path().join("comment.md");
    let (code, stdout, stderr) = compare(&base, &cand, &["--markdown", md.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let comment = std::fs::read_to_string(&md).unwrap();
    assert!(
        !comment.contains(SCRIPT) && comment.contains(SCRIPT_ESCAPED),
        "{comment}"
    );
    assert!(
        !comment.contains("a|b") && comment.contains("a\\|b/64c"),
        "{comment}"
    );
    for row in comment.lines().filter(|l| l.starts_with("| ")) {
        assert_eq!(
            row.replace("\\|", "").matches('|').count(),
            10,
            "nine cells: {row}"
        );
    }
    // The headline names the regressed rows, escaped too.
    assert!(
        comment.contains(&format!("{SCRIPT_ESCAPED}/64c qps")),
        "{comment}"
    );
}

/// The exports put names only through their serializers: a name made of JSON and CSV
/// syntax comes back whole, as one key, one field.
#[test]
fn exports_carry_hostile_names_through_their_serializers() {
    let name = "x\",\"y\":{\"value\":1},\"z\nw,\"v\"";
    let dir = tempfile::tempdir().unwrap();
    let mut hostile = compare_fixture();
    hostile.targets[0].name = name.into();
    hostile.targets[0].framework = name.into();
    let path = save(dir.path(), "hostile", &hostile);
    let path = path.to_str().unwrap();
    let export = |format: &str| {
        let (code, stdout, stderr) = lanebench(&["export", path, "--format", format]);
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    let bmf: serde_json::Value = serde_json::from_str(&export("bmf")).unwrap();
    let level = format!("{name}/16c");
    assert!(
        bmf[level.as_str()]["throughput"]["value"].is_number(),
        "{bmf:#}"
    );
    let bigger: serde_json::Value =
        serde_json::from_str(&export("github-action-benchmark")).unwrap();
    assert!(
        bigger
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"].as_str().unwrap().starts_with(&level)),
        "{bigger:#}"
    );
    let csv = export("csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let names: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    assert!(names.iter().filter(|n| *n == name).count() == 2, "{csv}");
}
