//! `lanebench compare` on resilience runs (`tests/fixtures/resilience/`): a slower
//! recovery fails `--fail-on time-to-recover` and is named, and a run without episodes
//! compares as it always did, naming none of the resilience figures.

use std::path::Path;

use lanebench::results::resilience::{BreakerSetting, EpisodeFigures};
use lanebench::results::RunResults;

mod compare_support;
use compare_support::{compare, rows, stable, Dirs};

const RESILIENCE_FIGURES: [&str; 3] = ["time-to-open", "time-to-recover", "health-p99-ratio"];

fn resilience_run() -> RunResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resilience/results.json");
    RunResults::load(&path).unwrap()
}

/// The run with actix-web's breaker-on episodes degraded for eight seconds after each
/// fault (recovered 8 s after it, against 2 and 3 s), figures made again from the seconds.
fn slower_recovery() -> RunResults {
    let mut results = resilience_run();
    let actix = results.targets.iter_mut().find(|t| t.name == "actix-web");
    let episodes = &mut actix.unwrap().resilience.as_mut().unwrap().episodes;
    for e in episodes
        .iter_mut()
        .filter(|e| e.breaker == BreakerSetting::On)
    {
        for s in e.seconds.iter_mut().filter(|s| s.t >= 11) {
            let (full, degraded) = if s.t < 19 { (90, 10) } else { (100, 0) };
            (s.full, s.degraded, s.failed) = (full, degraded, 0);
        }
        e.figures = EpisodeFigures::of(
            &e.seconds,
            (e.fault_on_s, e.fault_off_s),
            &e.health,
            &e.status_codes,
            e.crashed.is_some(),
        );
        assert_eq!(e.figures.time_to_recover_s, Some(8.0));
    }
    results
}

#[test]
fn a_slower_recovery_fails_the_gate_on_time_to_recover() {
    let d = Dirs::new();
    let base = d.save("base", &resilience_run());
    let cand = d.save("cand", &slower_recovery());
    let (code, stdout, stderr) = compare(&base, &cand, &["--fail-on", "time-to-recover"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let row = rows(&stdout, "actix-web", "time-to-recover");
    assert!(row.len() == 1 && row[0].ends_with("REGRESSED"), "{stdout}");
    let gin = rows(&stdout, "gin", "time-to-recover");
    assert!(gin.len() == 1 && gin[0].ends_with("unchanged"), "{stdout}");
    // The same runs without the gate on it: shown regressed, but the job passes.
    let (code, stdout, _) = compare(&base, &cand, &["--fail-on", "time-to-open"]);
    assert_eq!(code, 0, "{stdout}");
    let row = rows(&stdout, "actix-web", "time-to-recover");
    assert!(row[0].ends_with("regressed (not gating)"), "{stdout}");
}

#[test]
fn a_resilience_run_against_itself_names_its_figures_unchanged() {
    let d = Dirs::new();
    let run = d.save("run", &resilience_run());
    let (code, stdout, stderr) = compare(&run, &run, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for figure in RESILIENCE_FIGURES {
        for target in ["actix-web", "gin"] {
            let row = rows(&stdout, target, figure);
            assert!(
                row.len() == 1 && row[0].ends_with("unchanged"),
                "{target} {figure}: {stdout}"
            );
        }
    }
}

#[test]
fn a_run_without_resilience_names_none_of_its_figures() {
    let d = Dirs::new();
    let base = d.save("base", &stable());
    let cand = d.save("cand", &stable());
    let json = d.path("out.json");
    let (code, stdout, stderr) = compare(&base, &cand, &["--json", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // As compare.rs counts them: 2 targets x 2 levels x 6 figures + 2 x 3 target-wide.
    assert_eq!(report["rows"].as_array().unwrap().len(), 30, "{report:#}");
    for figure in RESILIENCE_FIGURES {
        assert!(!stdout.contains(figure), "{figure}: {stdout}");
        assert!(!report.to_string().contains(figure), "{figure}: {report:#}");
    }
}
