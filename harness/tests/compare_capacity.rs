//! `lanebench compare` on capacity runs (`tests/fixtures/capacity/`): a capacity that fell
//! fails `--fail-on capacity` and is named, a run against itself is unchanged, and the
//! capacity figures are read through the metric table like every other figure.

use std::path::Path;

use lanebench::results::capacity::SearchVerdict;
use lanebench::results::RunResults;

mod compare_support;
use compare_support::{compare, rows, Dirs};

/// The fixture run, with `fix`'s searches agreeing closely (its first search was cut
/// short by noise in the recorded run, which leaves a spread no change could leave).
fn capacity_run() -> RunResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/capacity/results.json");
    let mut results = RunResults::load(&path).unwrap();
    let fix = results
        .targets
        .iter_mut()
        .find(|t| t.name == "fix")
        .unwrap();
    for (search, capacity_rps) in fix
        .capacity
        .as_mut()
        .unwrap()
        .searches
        .iter_mut()
        .zip([4500.0, 4625.0])
    {
        search.verdict = SearchVerdict::Found {
            capacity_rps,
            missed_rps: capacity_rps * 1.03,
        };
    }
    results
}

/// The run with every search of target `fix` finding 30% less.
fn lower_capacity() -> RunResults {
    let mut results = capacity_run();
    let fix = results
        .targets
        .iter_mut()
        .find(|t| t.name == "fix")
        .unwrap();
    for search in &mut fix.capacity.as_mut().unwrap().searches {
        search.verdict = match search.verdict.clone() {
            SearchVerdict::Found {
                capacity_rps,
                missed_rps,
            } => SearchVerdict::Found {
                capacity_rps: capacity_rps * 0.7,
                missed_rps: missed_rps * 0.7,
            },
            SearchVerdict::AtLeast { capacity_rps, why } => SearchVerdict::AtLeast {
                capacity_rps: capacity_rps * 0.7,
                why,
            },
            other => other,
        };
    }
    results
}

#[test]
fn a_lower_capacity_fails_the_gate_on_capacity() {
    let d = Dirs::new();
    let base = d.save("base", &capacity_run());
    let cand = d.save("cand", &lower_capacity());
    let (code, stdout, stderr) = compare(&base, &cand, &["--fail-on", "capacity"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let row = rows(&stdout, "fix", "capacity");
    assert!(row.len() == 1 && row[0].ends_with("REGRESSED"), "{stdout}");
    // Gated on another figure, the fall is shown but the job passes.
    let (code, stdout, _) = compare(&base, &cand, &["--fail-on", "errors"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(rows(&stdout, "fix", "capacity")[0].ends_with("regressed (not gating)"));
}

#[test]
fn a_capacity_run_against_itself_is_unchanged() {
    let d = Dirs::new();
    let run = d.save("run", &capacity_run());
    let (code, stdout, stderr) = compare(&run, &run, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for figure in ["capacity", "equal-load-latency"] {
        let row = rows(&stdout, "fix", figure);
        assert!(
            row.len() == 1 && row[0].ends_with("unchanged"),
            "{figure}: {stdout}"
        );
    }
}
