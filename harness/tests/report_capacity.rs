//! A capacity run in the report, on a run made here from the report fixture's targets:
//! the "Capacity" section's table (an exact capacity with its spread, a lower bound, a
//! target below the lowest probe, a failed one), the latency at its own and at equal
//! load, the chart with the objective and one line per framework, in Markdown and HTML,
//! and none of the ladder's empty blocks.

use std::path::Path;

use lanebench::load::result::LatencySummary;
use lanebench::results::capacity::{
    CapacitySearch, CapacityTarget, LoadAt, Objective, Percentile, Probe, ProbeStage, ProbeVerdict,
    SearchVerdict,
};
use lanebench::results::{RunResults, TargetStatus};

mod report_support;
use report_support::{fixture, stdout_of, table_rows, tips};

fn probe(rate: f64, verdict: ProbeVerdict, p99: f64) -> Probe {
    Probe {
        rate_rps: rate,
        stage: ProbeStage::Ramp,
        verdict,
        why: (verdict == ProbeVerdict::Unusable).then(|| "noisy: server CPU 30% foreign".into()),
        duration_s: 2.0,
        requests: (rate * 2.0) as u64,
        success_rps: rate,
        error_rate: 0.0,
        latency_ms: LatencySummary {
            p99,
            ..LatencySummary::default()
        },
        server_cpu_utilisation: 0.5,
        generator_cpu_utilisation: 0.2,
        server_cpu_us_per_success: None,
        send_lag_p99_ms: None,
        attempt: 1,
        set_aside: Vec::new(),
    }
}

/// A search that met at `met` (p99 `p99` there) and missed just above it, or stopped at
/// `met` for want of usable probes above.
fn search(repeat: usize, met: f64, p99: f64, exact: bool) -> CapacitySearch {
    let above = met * 1.05;
    let (verdict, last) = if exact {
        let verdict = SearchVerdict::Found {
            capacity_rps: met,
            missed_rps: above,
        };
        (verdict, probe(above, ProbeVerdict::Misses, 25.0))
    } else {
        let why = format!("the probe at {above} req/s could not be used");
        let verdict = SearchVerdict::AtLeast {
            capacity_rps: met,
            why,
        };
        (verdict, probe(above, ProbeVerdict::Unusable, 3.0))
    };
    CapacitySearch {
        repeat,
        verdict,
        probes: vec![
            probe(met / 2.0, ProbeVerdict::Meets, 0.4),
            probe(met, ProbeVerdict::Meets, p99),
            last,
        ],
    }
}

fn load(fraction: f64, of: &str, rate: f64, p99: f64) -> Option<LoadAt> {
    let mut probe = probe(rate, ProbeVerdict::Meets, p99);
    probe.stage = ProbeStage::EqualLoad;
    Some(LoadAt {
        fraction,
        of: of.to_string(),
        probe,
    })
}

fn capacity(searches: Vec<CapacitySearch>) -> CapacityTarget {
    CapacityTarget {
        objective: Objective {
            percentile: Percentile::P99,
            bound_ms: 10.0,
            max_error_rate: 0.001,
        },
        server_cpus: 2,
        searches,
        own_load: None,
        equal_load: None,
    }
}

/// hyperlane found exactly three times (10,000, 11,000, 12,000), gin a lower bound once,
/// node-http below its lowest probe, broken failed; `claims` as the scenario says.
fn capacity_run(claims: bool) -> (tempfile::TempDir, RunResults) {
    let mut results = fixture();
    results.scenario.rest.insert(
        "capacity".into(),
        serde_json::json!({"objective": "p99 <= 10ms", "claims": claims}),
    );
    for t in &mut results.targets {
        t.levels.clear();
        t.qps = None;
        t.qps_connections = None;
        t.qps_caveat = None;
        t.capacity = match t.name.as_str() {
            "hyperlane" => {
                let mut c = capacity(vec![
                    search(1, 10_000.0, 6.0, true),
                    search(2, 12_000.0, 8.0, true),
                    search(3, 11_000.0, 7.0, true),
                ]);
                c.own_load = load(0.5, "own", 5_500.0, 0.8);
                c.equal_load = load(0.8, "gin", 3_200.0, 0.6);
                Some(c)
            }
            "gin" => {
                let mut c = capacity(vec![search(1, 4_000.0, 9.0, false)]);
                c.equal_load = load(0.8, "gin", 3_200.0, 1.5);
                Some(c)
            }
            "node-http" => {
                let below = SearchVerdict::BelowLowest { lowest_rps: 500.0 };
                Some(capacity(vec![CapacitySearch {
                    repeat: 1,
                    verdict: below,
                    probes: vec![probe(500.0, ProbeVerdict::Misses, 40.0)],
                }]))
            }
            _ => None,
        };
    }
    assert!(results
        .targets
        .iter()
        .any(|t| t.name == "broken" && t.status == TargetStatus::Failed));
    let dir = tempfile::tempdir().unwrap();
    results.write(dir.path()).unwrap();
    (dir, results)
}

fn render(dir: &Path) {
    stdout_of(&["report", dir.to_str().unwrap()]);
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

fn row<'a>(rows: &'a [Vec<String>], name: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[0].contains(name))
        .unwrap_or_else(|| panic!("{name}: {rows:?}"))
}

#[test]
fn a_capacity_run_has_the_capacity_block_and_its_chart_only() {
    let (dir, _) = capacity_run(false);
    render(dir.path());
    let md = read(dir.path(), "report.md");
    assert!(md.contains("\n## Capacity\n"), "{md}");
    assert!(md.contains("p99 &lt;= 10 ms, errors &lt;= 0.1%"), "{md}");
    let rows = table_rows(&md, "| Framework | capacity req/s | per server CPU |");
    assert_eq!(rows.len(), 3, "{rows:?}");
    let hyperlane = row(&rows, "hyperlane");
    assert_eq!(hyperlane[1], "11,000 (10,000-12,000)");
    assert_eq!(hyperlane[2], "5,500 (5,000-6,000)");
    assert_eq!(hyperlane[3], "7.00 (6.00-8.00)");
    assert_eq!(hyperlane[4], "met 11,000 / missed 11,550");
    assert_eq!(hyperlane[5], "3");
    assert_eq!(hyperlane[7], "0.800 at 50% of its own (5,500 req/s)");
    assert_eq!(hyperlane[8], "0.600 at 80% of gin's capacity, 3,200 req/s");
    let gin = row(&rows, "Gin");
    assert_eq!(gin[1], "&gt;= 4,000");
    assert_eq!(gin[6], "1", "the unusable probe above: {gin:?}");
    assert!(md.contains("gin, search 1: at least 4,000 req/s: the probe at 4200"));
    let node = row(&rows, "node");
    assert_eq!(node[1], "below 500 (the lowest probe)");
    assert_eq!(node[2], "-");
    assert!(md.contains("broken: failed, no capacity:"), "{md}");
    // The ladder's blocks would be empty in a capacity run.
    for heading in ["## Comparison", "## Published vs measured", "## Throughput"] {
        assert!(!md.contains(heading), "{heading} in {md}");
    }
    assert!(md.contains("A capacity run:"));
    assert!(md.contains("](charts/capacity.svg)"));
    let mut charts: Vec<String> = std::fs::read_dir(dir.path().join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    charts.sort();
    assert_eq!(charts, ["capacity.png", "capacity.svg"]);
}

#[test]
fn the_chart_draws_the_objective_and_one_line_per_framework_with_its_capacity() {
    let (dir, _) = capacity_run(false);
    render(dir.path());
    let svg = read(dir.path(), "charts/capacity.svg");
    assert!(
        svg.contains("objective: p99 &lt;= 10 ms"),
        "no objective line"
    );
    for name in ["hyperlane", "gin", "node-http"] {
        let tips = tips(&svg, name);
        assert!(
            tips.iter().any(|t| t.contains("req/s offered")),
            "{name}: {tips:?}"
        );
    }
    let hyperlane = tips(&svg, "hyperlane");
    assert!(
        hyperlane
            .iter()
            .any(|t| t.contains("capacity 11,000 req/s (median over 3 searches)")),
        "{hyperlane:?}"
    );
    assert!(tips(&svg, "gin")
        .iter()
        .any(|t| t.contains("capacity at least 4,000 req/s")));
    // Below the lowest probe: a line, but no capacity to mark.
    assert!(!tips(&svg, "node-http")
        .iter()
        .any(|t| t.contains("capacity")));
    // The unusable probe above gin's capacity is not drawn.
    assert!(!tips(&svg, "gin").iter().any(|t| t.contains("4,200 req/s")));
    let html = read(dir.path(), "report.html");
    assert!(html.contains("Capacity</h2>"));
    assert!(html.contains("below 500 (the lowest probe)"));
    assert!(html.contains("&gt;= 4,000"));
    assert!(
        html.contains("objective: p99 &lt;= 10 ms"),
        "the chart inline"
    );
}

#[test]
fn published_claims_use_capacity_only_when_the_scenario_asks() {
    let (dir, _) = capacity_run(false);
    let md = stdout_of(&["report", dir.path().to_str().unwrap(), "--format", "md"]);
    assert!(md.contains("nor published claims"), "{md}");
    assert!(!md.contains("Published vs measured"), "{md}");

    let (dir, mut results) = capacity_run(true);
    let gin = results
        .targets
        .iter_mut()
        .find(|t| t.name == "gin")
        .unwrap();
    gin.capacity.as_mut().unwrap().searches = vec![search(1, 8_000.0, 9.0, true)];
    // The published figures are of one GET route: only such a run is judged.
    let requests = results.scenario.requests.as_mut().unwrap();
    requests.truncate(1);
    assert_eq!(requests[0].method(), "GET");
    results.write(dir.path()).unwrap();
    let md = stdout_of(&["report", dir.path().to_str().unwrap(), "--format", "md"]);
    assert!(
        md.contains("## Published vs measured: capacity at p99 &lt;= 10 ms\n"),
        "{md}"
    );
    let rows = table_rows(
        &md,
        "| Framework | Published QPS | Measured capacity at p99 &lt;= 10 ms req/s |",
    );
    let find = |framework: &str| row(&rows, framework).to_vec();
    let gin = find("Gin");
    assert_eq!(gin[2], "8,000 (0.73x hyperlane)", "{gin:?}");
    assert_eq!(gin[3], "held", "{gin:?}");
    assert_eq!(find("hyperlane")[3], "held");
    let node = find("Express");
    assert_eq!(node[3], "not measured", "{node:?}");
    assert!(md.contains("not its peak QPS"), "{md}");
    assert!(!md.contains("## Comparison"));
}
