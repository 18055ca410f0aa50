//! The verdict gate: a run shaped like the published one is judged, and each condition
//! on its own turns a judged claim into "not comparable".

use super::*;
use crate::results::{LevelResult, RunResults, Saturation};
use crate::stats::Spread;

fn fixture() -> RunResults {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/results.json");
    RunResults::load(&path).unwrap()
}

/// A server-bound, steady level at `connections` with three repeats around `qps`.
fn level(connections: usize, qps: f64) -> LevelResult {
    LevelResult::sample(connections, qps)
}

/// The fixture reshaped into the published setup: one GET route, hyperlane 324K and
/// gin 242K at 360 connections (gin's published ratio exactly).
fn comparable() -> RunResults {
    let mut r = fixture();
    r.scenario.requests = serde_json::from_value(serde_json::json!(
        [{"name": "health", "method": "GET", "path": "/health"}]
    ))
    .unwrap();
    r.targets
        .retain(|t| t.name == "hyperlane" || t.name == "gin");
    for t in &mut r.targets {
        let qps = if t.name == "hyperlane" {
            324_000.0
        } else {
            242_000.0
        };
        t.levels = vec![level(360, qps)];
        t.qps = Some(qps);
        t.qps_connections = Some(360);
    }
    r
}

fn gin_qps(results: &RunResults) -> FigureCheck {
    let view = ReportView::new(results, &PublishedClaims::embedded().reference);
    check(&PublishedClaims::embedded(), &view)
        .into_iter()
        .find(|c| c.framework.starts_with("Gin") && c.figure == "QPS")
        .unwrap()
}

fn gin_level(results: &mut RunResults) -> &mut LevelResult {
    let gin = results
        .targets
        .iter_mut()
        .find(|t| t.name == "gin")
        .unwrap();
    &mut gin.levels[0]
}

#[test]
fn a_run_in_the_published_setup_is_judged() {
    let c = gin_qps(&comparable());
    assert_eq!(c.verdict, Verdict::Held, "{c:?}");
    assert!(c.measured.contains("0.75x"), "{c:?}");
}

#[test]
fn each_condition_alone_makes_the_claim_not_comparable() {
    type Edit = fn(&mut RunResults);
    let cases: [(&str, Edit); 7] = [
        ("mixes 2 requests", |r| {
            let extra =
                serde_json::json!({"name": "user", "method": "GET", "path": "/api/users/1"});
            let extra = serde_json::from_value(extra).unwrap();
            r.scenario.requests.get_or_insert_default().push(extra);
        }),
        ("requests were pipelined 16 deep", |r| {
            r.scenario.rest.insert("pipeline".into(), 16.into());
        }),
        ("no closed-loop level at 360", |r| {
            gin_level(r).connections = 64
        }),
        ("not server-bound (generator)", |r| {
            gin_level(r).saturation = Saturation::Generator
        }),
        ("never reached steady", |r| {
            gin_level(r).steady = Some(false)
        }),
        ("0.50% errors", |r| {
            gin_level(r).error_rate = Spread::of(&[0.005]).unwrap()
        }),
        ("1 repeat", |r| {
            gin_level(r).success_rps = Spread::of(&[242_000.0]).unwrap()
        }),
    ];
    for (why, edit) in cases {
        let mut results = comparable();
        edit(&mut results);
        let c = gin_qps(&results);
        assert_eq!(c.verdict, Verdict::NotComparable, "{why}: {c:?}");
        assert!(c.detail.contains(why), "{why}: {}", c.detail);
    }
}

#[test]
fn fastest_needs_a_difference_beyond_the_spread_of_the_repeats() {
    let hyperlane_row = |results: &RunResults| {
        let view = ReportView::new(results, &PublishedClaims::embedded().reference);
        check(&PublishedClaims::embedded(), &view)
            .into_iter()
            .find(|c| c.framework == "hyperlane" && c.figure == "QPS")
            .unwrap()
    };
    assert_eq!(hyperlane_row(&comparable()).verdict, Verdict::Held);
    // Gin 1% behind: the repeats (±1%) overlap, so no ordering can be claimed.
    let mut close = comparable();
    *gin_level(&mut close) = level(360, 324_000.0 * 0.99);
    let row = hyperlane_row(&close);
    assert_eq!(row.verdict, Verdict::NotComparable, "{row:?}");
    assert!(row.detail.contains("within the spread"), "{row:?}");
    let mut faster = comparable();
    *gin_level(&mut faster) = level(360, 400_000.0);
    assert_eq!(hyperlane_row(&faster).verdict, Verdict::DidNotHold);
}

#[test]
fn the_fixtures_quick_mixed_run_judges_no_qps_claim_and_no_cold_start() {
    let results = fixture();
    let view = ReportView::new(&results, &PublishedClaims::embedded().reference);
    for c in check(&PublishedClaims::embedded(), &view) {
        if c.figure == "QPS" || c.figure == "Cold Start" {
            assert!(
                matches!(c.verdict, Verdict::NotComparable | Verdict::NotMeasured),
                "{c:?}"
            );
        }
    }
}

#[test]
fn a_protocol_run_is_judged_on_its_h1_entries_only() {
    use crate::load::protocol::ProtocolName;
    let mut results = comparable();
    let mut others = Vec::new();
    for t in &mut results.targets {
        t.protocol = Some(ProtocolName::H1);
        // On h2c gin is twice as fast as hyperlane: no claim may see that.
        let mut h2c = t.clone();
        h2c.protocol = Some(ProtocolName::H2c);
        let qps = if t.name == "gin" {
            500_000.0
        } else {
            250_000.0
        };
        h2c.levels = vec![level(360, qps)];
        h2c.qps = Some(qps);
        others.push(h2c);
    }
    // Entries of other protocols come first in run order.
    others.append(&mut results.targets);
    results.targets = others;
    let c = gin_qps(&results);
    assert_eq!(c.verdict, Verdict::Held, "{c:?}");
    assert!(c.measured.contains("0.75x"), "{c:?}");
}
