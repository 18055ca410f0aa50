//! `lanebench compare` end to end, on a real quick run's results.json (trimmed, in
//! `tests/fixtures/compare/`) that each test reshapes: repeats with known noise, a
//! slower candidate, a wrong schema version. (Exports: `tests/export.rs`.)

use std::path::PathBuf;
use std::process::Command;

use lanebench::results::RunResults;

mod compare_support;
use compare_support::{compare, faster, fixture, lanebench, reshape, rows, stable, Dirs};

#[test]
fn identical_results_are_unchanged() {
    let d = Dirs::new();
    let base = d.save("base", &stable());
    let cand = d.save("cand", &stable());
    let json = d.path("out.json");
    let (code, stdout, stderr) = compare(&base, &cand, &["--json", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("No regression."), "{stdout}");
    assert!(
        !stdout.contains("REGRESSED") && !stdout.contains("improved"),
        "{stdout}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    // 2 targets x 2 levels x 6 figures + 2 targets x 3 target-wide figures.
    assert_eq!(rows.len(), 30, "{report:#}");
    // Server CPU time per successful response is a (noisy) figure of every level.
    let cpu: Vec<_> = rows
        .iter()
        .filter(|r| r["figure"] == "cpu-per-request")
        .collect();
    assert_eq!(cpu.len(), 4, "{report:#}");
    assert!(cpu.iter().all(|r| r["unit"] == "µs/req"
        && r["baseline"].as_f64().unwrap() > 0.0
        && r["baseline_cv"].is_number()));
    assert!(rows.iter().all(|r| r["verdict"] == "unchanged"));
    assert!(rows
        .iter()
        .filter(|r| r["figure"] == "qps")
        .all(|r| r["method"] == "bootstrap"));
}

#[test]
fn twenty_percent_lower_qps_is_flagged_and_named() {
    let d = Dirs::new();
    let base = d.save("base", &stable());
    let mut slower = fixture();
    reshape(&mut slower, &[1.0, 0.99, 1.01], |name, f, load| {
        load.success_rps *= f * if name == "hyperlane" { 0.8 } else { 1.0 };
    });
    let cand = d.save("cand", &slower);
    let md = d.path("comment.md");
    let (code, stdout, stderr) = compare(&base, &cand, &["--markdown", md.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    for level in ["hyperlane/16c", "hyperlane/64c"] {
        let row = rows(&stdout, level, "qps");
        assert!(row.len() == 1 && row[0].ends_with("REGRESSED"), "{stdout}");
        assert!(row[0].contains("-20.0%"), "{row:?}");
    }
    assert!(
        rows(&stdout, "axum/16c", "qps")[0].ends_with("unchanged"),
        "{stdout}"
    );
    let comment = std::fs::read_to_string(&md).unwrap();
    assert!(
        comment.contains("| hyperlane/64c | qps (req/s) |"),
        "{comment}"
    );
    assert!(comment.contains("**regressed**"), "{comment}");
}

#[test]
fn thirty_percent_higher_p99_is_flagged_unless_the_threshold_allows_it() {
    let d = Dirs::new();
    let base = d.save("base", &stable());
    let mut slower = fixture();
    reshape(&mut slower, &[1.0, 0.99, 1.01], |_, f, load| {
        faster(load, f);
        load.latency_ms.p99 *= 1.3;
    });
    let cand = d.save("cand", &slower);
    let (code, stdout, _) = compare(&base, &cand, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        rows(&stdout, "axum/64c", "p99")[0].ends_with("REGRESSED"),
        "{stdout}"
    );
    assert!(
        rows(&stdout, "axum/64c", "qps")[0].ends_with("unchanged"),
        "{stdout}"
    );
    let (code, stdout, _) = compare(&base, &cand, &["--threshold", "p99=40%"]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn noisy_repeats_whose_spreads_overlap_are_not_flagged() {
    let d = Dirs::new();
    let mut noisy_base = fixture();
    reshape(&mut noisy_base, &[1.0, 0.8, 1.2], |_, f, load| {
        faster(load, f)
    });
    let mut noisy_cand = fixture();
    reshape(&mut noisy_cand, &[0.85, 0.7, 1.1], |_, f, load| {
        faster(load, f)
    });
    let base = d.save("base", &noisy_base);
    let cand = d.save("cand", &noisy_cand);
    let json = d.path("out.json");
    let (code, stdout, _) = compare(&base, &cand, &["--json", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let qps: Vec<_> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["figure"] == "qps")
        .collect();
    assert_eq!(qps.len(), 4);
    for row in qps {
        // The medians differ by 15 %, beyond the threshold; the repeats do not support it.
        assert!(row["change"].as_f64().unwrap() < -0.14, "{row}");
        assert_eq!(row["verdict"], "unchanged", "{row}");
    }
}

#[test]
fn one_run_per_side_falls_back_to_the_threshold_and_says_so() {
    let d = Dirs::new();
    let base = d.save("base", &fixture());
    let mut slower = fixture();
    reshape(&mut slower, &[0.8], |_, f, load| load.success_rps *= f);
    let cand = d.save("cand", &slower);
    let (code, stdout, _) = compare(&base, &cand, &[]);
    assert_eq!(code, 1, "{stdout}");
    let row = rows(&stdout, "hyperlane/16c", "qps");
    assert!(
        row[0].contains("threshold only") && row[0].ends_with("REGRESSED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("no statistics, the threshold alone decided"),
        "{stdout}"
    );
}

#[test]
fn rounds_folders_are_pooled_into_repeats() {
    let d = Dirs::new();
    for (i, f) in [1.0, 0.99, 1.01].iter().enumerate() {
        let mut base = fixture();
        reshape(&mut base, &[*f], |_, f, load| faster(load, f));
        d.save(&format!("base/round-{i}"), &base);
        let mut cand = fixture();
        reshape(&mut cand, &[*f * 0.8], |_, f, load| faster(load, f));
        d.save(&format!("cand/round-{i}"), &cand);
    }
    let (code, stdout, _) = compare(&d.path("base"), &d.path("cand"), &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("(3 runs)"), "{stdout}");
    let row = rows(&stdout, "axum/64c", "qps");
    assert!(
        row[0].contains("bootstrap 3v3") && row[0].ends_with("REGRESSED"),
        "{stdout}"
    );
}

#[test]
fn wrong_schema_version_is_refused_with_exit_2() {
    let d = Dirs::new();
    let base = d.save("base", &fixture());
    let mut value: serde_json::Value = serde_json::to_value(fixture()).unwrap();
    value["schema_version"] = 99.into();
    let wrong = d.path("wrong.json");
    std::fs::write(&wrong, serde_json::to_vec(&value).unwrap()).unwrap();
    let (code, stdout, stderr) = compare(&base, &wrong, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(wrong.to_str().unwrap()) && stderr.contains("schema_version 99"),
        "{stderr}"
    );
    let out = lanebench(&[
        "export".as_ref(),
        wrong.as_ref(),
        "--format".as_ref(),
        "bmf".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unreadable_mismatched_or_disjoint_inputs_are_refused_with_exit_2() {
    let d = Dirs::new();
    let base = d.save("base", &fixture());
    let (code, _, stderr) = compare(&base, &d.path("missing.json"), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.json: cannot read"), "{stderr}");

    let mut renamed = fixture();
    renamed
        .targets
        .iter_mut()
        .for_each(|t| t.name.push_str("-other"));
    let other = d.save("other", &renamed);
    let (code, _, stderr) = compare(&base, &other, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nothing to compare"), "{stderr}");

    let mut mix = fixture();
    mix.scenario.requests.as_mut().unwrap()[0].weight = Some(7);
    let mix = d.save("mix", &mix);
    let (code, _, stderr) = compare(&base, &mix, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("different request mixes"), "{stderr}");

    let (code, _, stderr) = compare(&base, &base, &["--threshold", "p98=3%"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--threshold p98=3%"), "{stderr}");
}

#[test]
fn named_baseline_is_found_in_the_baselines_folder() {
    let d = Dirs::new();
    d.save("baselines/main", &stable());
    let cand = d.save("cand", &stable());
    let dir = d.path("baselines");
    let run = |name: &str| {
        let args: Vec<&std::ffi::OsStr> = vec![
            "compare".as_ref(),
            "--baseline".as_ref(),
            name.as_ref(),
            "--baselines-dir".as_ref(),
            dir.as_ref(),
            cand.as_ref(),
        ];
        lanebench(&args)
    };
    let ok = run("main");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let missing = run("release-1");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("baseline \"release-1\": not found"));
}

/// Pids of processes whose command line mentions `marker` (this test's fixture link).
fn processes_mentioning(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<i32>().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline)
                .contains(marker)
                .then_some(pid)
        })
        .collect()
}

#[test]
fn run_saves_a_named_baseline_that_compare_uses() {
    let d = Dirs::new();
    let link = d.path("fixture-server");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lanebench-fixture"), &link).unwrap();
    std::fs::create_dir_all(d.path("targets/good")).unwrap();
    std::fs::write(
        d.path("targets/good/target.toml"),
        format!(
            "name = \"good\"\nframework = \"Fixture\"\nlanguage = \"Rust\"\nversion = \"1.0\"\nrequires = []\n\
             build = \"true\"\nrun = \"exec {} --mode ok\"\nhealth = \"/health\"\nready_timeout = \"10s\"\n",
            link.display()
        ),
    )
    .unwrap();
    std::fs::write(
        d.path("scenario.toml"),
        "name = \"fixture\"\nduration = \"1s\"\nwarmup = \"0s\"\nsteady_state = false\nrepeats = 2\nconnections = [2]\n\
         startup_samples = 2\ntimeout = \"2s\"\n\n[[request]]\nname = \"health\"\npath = \"/health\"\n",
    )
    .unwrap();
    let run = |save: &str| {
        Command::new(env!("CARGO_BIN_EXE_lanebench"))
            .args([
                "run",
                "--server-cpus",
                "0",
                "--generator-cpus",
                "0",
                "--save-baseline",
                save,
            ])
            .arg("--scenario")
            .arg(d.path("scenario.toml"))
            .arg("--targets-dir")
            .arg(d.path("targets"))
            .arg("--out")
            .arg(d.path("results/latest"))
            .output()
            .unwrap()
    };
    let refused = run("../escape");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--save-baseline"));

    let saved = run("main");
    let leftovers = processes_mentioning(&link.display().to_string());
    for pid in &leftovers {
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    assert!(leftovers.is_empty(), "servers left running: {leftovers:?}");
    assert_eq!(
        saved.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    let baseline = d.path("results/baselines/main");
    assert_eq!(
        std::fs::read(baseline.join("results.json")).unwrap(),
        std::fs::read(d.path("results/latest/results.json")).unwrap()
    );
    let out = lanebench(&[
        "compare".as_ref(),
        "--baseline".as_ref(),
        "main".as_ref(),
        "--baselines-dir".as_ref(),
        d.path("results/baselines").as_ref(),
        d.path("results/latest").as_ref(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        rows(&stdout, "good/2c", "qps")[0].contains("bootstrap 2v2"),
        "{stdout}"
    );
}

#[test]
fn a_target_that_fails_in_the_candidate_is_a_regression() {
    let d = Dirs::new();
    let base = d.save("base", &fixture());
    let mut broken = fixture();
    let hyperlane = broken
        .targets
        .iter_mut()
        .find(|t| t.name == "hyperlane")
        .unwrap();
    hyperlane.status = lanebench::results::TargetStatus::Failed;
    hyperlane.reason = Some("exited with status 101 before ready".into());
    hyperlane.levels.clear();
    let cand = d.save("cand", &broken);
    let (code, stdout, _) = compare(&base, &cand, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("hyperlane (failed)"), "{stdout}");
    assert!(
        rows(&stdout, "axum/64c", "qps")[0].ends_with("unchanged"),
        "{stdout}"
    );
}

/// A cost.json for the fixture's scenario: axum counted (per request `base` instructions,
/// `user` scaled by `user_factor`), hyperlane unsupported.
fn cost_run(results: &RunResults, user_factor: f64) -> lanebench::results::cost::CostRun {
    use lanebench::results::cost::{CostStatus, RequestCost, TargetCost};
    let requests: Vec<RequestCost> = results
        .scenario
        .requests()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let name = r.name.clone().unwrap();
            let per = (20_000 + 1000 * i) as f64 * if name == "user" { user_factor } else { 1.0 };
            RequestCost {
                label: name.clone(),
                name,
                weight: r.weight.unwrap_or(1),
                requests: 1000,
                instructions: (per * 1000.0) as u64,
                instructions_per_request: per,
                seconds: 1.0,
            }
        })
        .collect();
    let target = |name: &str, status, reason: Option<&str>| TargetCost {
        name: name.into(),
        framework: name.into(),
        language: "Rust".into(),
        version: "1".into(),
        status,
        reason: reason.map(String::from),
        instructions_per_request: (status == CostStatus::Ok)
            .then(|| lanebench::cost::weighted_mean(&requests).unwrap()),
        requests: if status == CostStatus::Ok {
            requests.clone()
        } else {
            Vec::new()
        },
        idle: None,
        workers: 1,
        connections: 1,
        valgrind_options: Vec::new(),
        env: Default::default(),
        threshold: None,
        seconds: 10.0,
        stderr_tail: Vec::new(),
    };
    lanebench::results::cost::CostRun {
        schema_version: lanebench::results::cost::COST_SCHEMA_VERSION,
        run_id: "cost".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: None,
        interrupted: false,
        scenario: results.scenario.clone(),
        lanebench_version: "0.1.0".into(),
        counting: lanebench::results::cost::Counting {
            valgrind_version: "valgrind-3.19.0".into(),
            requests: 1000,
            warmup: 200,
            seed: 1,
        },
        targets: vec![
            target("axum", CostStatus::Ok, None),
            target("hyperlane", CostStatus::Unsupported, Some("a reason")),
        ],
    }
}

/// `dir/name/round-01` (results.json) and `dir/name/cost-0N` (cost.json, one per factor).
fn rounds_with_counts(d: &Dirs, name: &str, timed: &RunResults, user_factors: &[f64]) -> PathBuf {
    let side = d.path(name);
    timed.write(&side.join("round-01")).unwrap();
    for (i, &f) in user_factors.iter().enumerate() {
        cost_run(timed, f)
            .write(&side.join(format!("cost-{:02}", i + 1)))
            .unwrap();
    }
    side
}

#[test]
fn counts_lead_and_gate_while_a_timed_regression_only_shows() {
    let d = Dirs::new();
    let mut slower = fixture();
    reshape(&mut slower, &[1.0, 0.99, 1.01], |name, f, load| {
        load.success_rps *= f * if name == "axum" { 0.8 } else { 1.0 };
    });
    let base = rounds_with_counts(&d, "base", &stable(), &[1.0, 1.0002]);
    let timed_only = rounds_with_counts(&d, "timed", &slower, &[1.0001, 0.9999]);
    let md = d.path("comment.md");
    let (code, stdout, _) = compare(&base, &timed_only, &["--markdown", md.to_str().unwrap()]);
    assert_eq!(
        code, 0,
        "qps is not gating once instructions are counted: {stdout}"
    );
    assert!(
        rows(&stdout, "axum/64c", "qps")[0].ends_with("regressed (not gating)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Flagged but not failing the job"),
        "{stdout}"
    );
    let comment = std::fs::read_to_string(&md).unwrap();
    let counts_at = comment.find("#### Instructions per request").unwrap();
    let timed_at = comment.find("#### Timed figures").unwrap();
    assert!(counts_at < timed_at, "{comment}");
    assert!(comment.contains("the noisiest was"), "{comment}");
    assert!(
        comment.contains(
            "hyperlane: instructions not compared, unsupported in the baseline: a reason"
        ),
        "{comment}"
    );
    // --fail-on all restores the old rule; a 3 % larger count fails by default.
    let (code, _, _) = compare(&base, &timed_only, &["--fail-on", "all"]);
    assert_eq!(code, 1);
    let heavier = rounds_with_counts(&d, "heavier", &stable(), &[1.03, 1.0301]);
    let json = d.path("out.json");
    let (code, stdout, _) = compare(&base, &heavier, &["--json", json.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    // The table's name cell is `axum [user]`.
    let user_row = rows(&stdout, "axum", "[user]");
    assert!(
        user_row.len() == 1 && user_row[0].ends_with("REGRESSED"),
        "{stdout}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let user = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["figure"] == "instructions" && r["request"] == "user")
        .unwrap();
    assert_eq!(
        (user["verdict"].as_str(), user["method"].as_str()),
        (Some("regressed"), Some("range"))
    );
    assert!(user["baseline_cv"].as_f64().unwrap() < 0.001);
    let export = lanebench(&[
        "export".as_ref(),
        base.join("cost-01/cost.json").as_os_str(),
        "--format".as_ref(),
        "bmf".as_ref(),
    ]);
    assert!(export.status.success());
    let bmf: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    assert!(
        bmf["axum/user"]["instructions"]["value"].as_f64().unwrap() > 20_000.0,
        "{bmf:#}"
    );
    assert!(bmf["axum/mix"]["instructions"]["value"].is_number());
    assert!(
        bmf.get("hyperlane/mix").is_none(),
        "no figure for a target not counted"
    );
}
