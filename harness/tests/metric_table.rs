//! The metric table (`results::metrics`) against a real results.json
//! (`tests/fixtures/report/`): every figure the file stores has exactly one row, and
//! compare, export, summary.csv and the report print the same value for each row they
//! show, each at its own precision.

use std::collections::BTreeSet;

use lanebench::compare::{compare, FailOn, Side, Thresholds};
use lanebench::results::metrics::{Metric, Source, METRICS};
use lanebench::results::{RunResults, TargetStatus};
use serde_json::Value;

mod report_support;
use report_support::*;

/// Fields of a level or target that are not figures, and why.
const NOT_FIGURES: [(&str, &str); 16] = [
    ("connections", "the level's setting"),
    ("rate", "the level's setting"),
    ("retried", "how often it was measured again"),
    ("warmup_s", "the warm-up used before measuring"),
    ("steal", "a noise condition, judged in caveats"),
    ("foreign_cpu", "a noise condition, judged in caveats"),
    (
        "database_cpu_utilisation",
        "database mode, moving to per-component figures",
    ),
    ("qps_connections", "the level the headline comes from"),
    ("sessions", "how many processes were measured"),
    ("startup_launches_ms", "the values summarized in startup_ms"),
    (
        "database_memory_mb",
        "database mode, moving to per-component figures",
    ),
    (
        "memory_mb.cgroup_peak",
        "the kernel's peak, kept for readers beside the sampled one",
    ),
    ("memory_mb.processes", "how memory was measured"),
    ("memory_mb.interval_ms", "how memory was measured"),
    (
        "memory_mb.rss",
        "the RSS beside the PSS figures, for other tools",
    ),
    ("warmup_curve", "a curve, drawn as a chart"),
];

/// Names of the numeric fields (numbers, spreads, memory figures) of a level or target;
/// with `nulls`, also the fields of figures not measured (stored as null).
fn numeric_fields(object: &Value, nulls: bool, out: &mut BTreeSet<String>) {
    for (key, value) in object.as_object().unwrap() {
        let figure =
            value.is_number() || value.get("median").is_some() || (nulls && value.is_null());
        if key == "memory_mb" && value.is_object() {
            for (sub, _) in value.as_object().unwrap() {
                if !matches!(sub.as_str(), "metric" | "method") {
                    out.insert(format!("memory_mb.{sub}"));
                }
            }
        } else if figure || key == "database_memory_mb" || key == "warmup_curve" {
            out.insert(key.clone());
        }
    }
}

#[test]
fn every_figure_in_results_json_has_exactly_one_row() {
    let value = serde_json::to_value(fixture()).unwrap();
    let (mut fields, mut stored) = (BTreeSet::new(), BTreeSet::new());
    for target in value["targets"].as_array().unwrap() {
        numeric_fields(target, false, &mut fields);
        numeric_fields(target, true, &mut stored);
        for level in target["levels"].as_array().unwrap() {
            numeric_fields(level, false, &mut fields);
            numeric_fields(level, true, &mut stored);
        }
    }
    let skipped: BTreeSet<&str> = NOT_FIGURES.iter().map(|(f, _)| *f).collect();
    let figures: Vec<&String> = fields
        .iter()
        .filter(|f| !skipped.contains(f.as_str()))
        .collect();
    assert!(figures.len() >= 15, "{figures:?}");
    for field in &figures {
        let rows: Vec<&str> = METRICS
            .iter()
            .filter(|m| m.field == field.as_str())
            .map(|m| m.key)
            .collect();
        assert_eq!(rows.len(), 1, "{field}: rows {rows:?}");
    }
    // And every stored row names a field the file has.
    for m in METRICS
        .iter()
        .filter(|m| !matches!(m.source, Source::Counted))
    {
        assert!(stored.contains(m.field), "{}: no field {}", m.key, m.field);
    }
}

/// The value an output should show for `metric` of `target` at `level` (`None`:
/// target-wide), in the unit the table gives (percentages times 100).
fn expected(
    metric: &Metric,
    results: &RunResults,
    target: &str,
    level: Option<usize>,
) -> Option<f64> {
    let t = results.targets.iter().find(|t| t.name == target)?;
    let spread = match level {
        Some(i) => metric.of_level(&t.levels[i])?,
        None => metric.of_target(t)?,
    };
    Some(spread.median * if metric.is_percent() { 100.0 } else { 1.0 })
}

fn close(a: f64, b: f64, precision: f64, what: &str) {
    assert!((a - b).abs() <= precision, "{what}: {a} against {b}");
}

/// (output, metric key) pairs an output was checked on.
type Checked = BTreeSet<(&'static str, &'static str)>;

fn measured(results: &RunResults) -> Vec<&lanebench::results::TargetResult> {
    results
        .targets
        .iter()
        .filter(|t| t.status == TargetStatus::Ok)
        .collect()
}

/// export: every measure is a row's value.
fn export_prints_the_rows_values(results: &RunResults, checked: &mut Checked) {
    let measured = measured(results);
    for m in lanebench::export::measures(results) {
        let metric = METRICS
            .iter()
            .find(|r| r.labels.export == Some(m.name))
            .unwrap();
        assert_eq!(m.unit, metric.unit);
        let (target, level) = match m.benchmark.split_once('/') {
            Some((t, l)) => {
                let t = measured.iter().find(|x| x.name == t).unwrap();
                let i = t
                    .levels
                    .iter()
                    .position(|x| format!("{}c", x.connections) == l);
                (t.name.as_str(), Some(i.unwrap()))
            }
            None => (m.benchmark.as_str(), None),
        };
        let want = expected(metric, results, target, level).unwrap();
        close(
            m.value,
            want,
            1e-9,
            &format!("export {} {}", m.benchmark, m.name),
        );
        checked.insert(("export", metric.key));
    }
}

/// summary.csv: every figure column holds the row's statistic to three decimals.
fn csv_prints_the_rows_values(results: &RunResults, checked: &mut Checked) {
    let csv = results.summary_csv().unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let header = reader.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    for metric in METRICS {
        for (column, stat) in metric.labels.csv {
            let at = header.iter().position(|h| h == *column).unwrap();
            for record in records.iter().filter(|r| &r[4] == "ok") {
                let t = results
                    .targets
                    .iter()
                    .find(|t| t.name == record[0])
                    .unwrap();
                let spread = match metric.source {
                    Source::Target(_) => metric.of_target(t),
                    _ => {
                        let c: usize = record[12].parse().unwrap();
                        metric.of_level(t.levels.iter().find(|l| l.connections == c).unwrap())
                    }
                };
                let want = spread.and_then(|s| stat.of(&s));
                let got: Option<f64> = record[at].parse().ok();
                match (got, want) {
                    (Some(got), Some(want)) => close(got, want, 0.0005 + 1e-9, column),
                    (got, want) => assert_eq!(got.is_some(), want.is_some(), "{column}"),
                }
            }
            checked.insert(("csv", metric.key));
        }
    }
}

/// compare: a results file against itself shows each figure's median on both sides.
fn compare_prints_the_rows_values(results: &RunResults, checked: &mut Checked) {
    let side = Side::load(&fixture_file()).unwrap();
    let comparison = compare(&side, &side, &Thresholds::default(), &FailOn::Auto).unwrap();
    for row in &comparison.rows {
        let metric = row.figure.metric();
        let level = row.level.as_ref().map(|l| {
            let t = results
                .targets
                .iter()
                .find(|t| t.name == row.target)
                .unwrap();
            t.levels
                .iter()
                .position(|x| format!("{}c", x.connections) == *l)
                .unwrap()
        });
        let want = expected(metric, results, &row.target, level).unwrap();
        let scale = if metric.is_percent() { 100.0 } else { 1.0 };
        close(
            row.baseline * scale,
            want,
            1e-9,
            &format!("compare {} {}", row.target, metric.key),
        );
        assert_eq!(row.unit, metric.unit);
        checked.insert(("compare", metric.key));
    }
}

/// The report's level tables print the row's value with the row's format.
fn report_prints_the_rows_values(results: &RunResults, checked: &mut Checked) {
    let measured = measured(results);
    let md = markdown();
    let throughput = table_rows(&md, "| Framework | Connections | QPS (median) |");
    let latency = table_rows(&md, "| Framework | Connections | p50 ms |");
    for t in &measured {
        for (i, level) in t.levels.iter().enumerate() {
            let row = throughput
                .iter()
                .find(|r| r[0] == t.framework && r[1] == level.connections.to_string())
                .unwrap();
            for (column, key) in [
                (2, "throughput"),
                (5, "error_rate"),
                (6, "server_cpu_utilisation"),
                (7, "cpu_per_success"),
                (8, "generator_cpu_utilisation"),
            ] {
                let metric = Metric::find(key).unwrap();
                let scale = if metric.is_percent() { 100.0 } else { 1.0 };
                let want = expected(metric, results, &t.name, Some(i)).unwrap() / scale;
                assert_eq!(row[column], metric.print(want), "{} {key}", t.name);
                checked.insert(("report", key));
            }
        }
        let headline = t
            .levels
            .iter()
            .position(|l| Some(l.connections) == t.qps_connections);
        let row = latency.iter().find(|r| r[0] == t.framework).unwrap();
        for (column, key) in [(2, "p50"), (3, "p90"), (4, "p99"), (5, "p999")] {
            let metric = Metric::find(key).unwrap();
            let want = expected(metric, results, &t.name, headline).unwrap();
            assert_eq!(row[column], metric.print(want), "{} {key}", t.name);
            checked.insert(("report", key));
        }
    }
}

#[test]
fn compare_export_csv_and_report_print_the_same_value() {
    let results = fixture();
    let mut checked = Checked::new();
    export_prints_the_rows_values(&results, &mut checked);
    csv_prints_the_rows_values(&results, &mut checked);
    compare_prints_the_rows_values(&results, &mut checked);
    report_prints_the_rows_values(&results, &mut checked);
    // Every output was checked on every row it labels (instructions aside: the fixture
    // was not counted).
    for metric in METRICS
        .iter()
        .filter(|m| !matches!(m.source, Source::Counted))
    {
        let labels = &metric.labels;
        for (output, shown) in [
            ("export", labels.export.is_some()),
            ("csv", !labels.csv.is_empty()),
            ("compare", labels.compare.is_some()),
        ] {
            assert_eq!(
                checked.contains(&(output, metric.key)),
                shown,
                "{output} {}",
                metric.key
            );
        }
    }
}
