//! A service chain's figures in every output, on a hand-made chain run
//! (`tests/fixtures/chain/`): the report's chain section and its three charts, the
//! metric table's chain rows printed alike by the report, export and compare, a worse
//! client tax judged a regression, and a comparison without a chain naming none of the
//! chain's figures.

use std::path::{Path, PathBuf};

use lanebench::compare::{compare, FailOn, Figure, Side, Thresholds, Verdict};
use lanebench::results::metrics::{Metric, CHAIN_METRICS};
use lanebench::results::RunResults;
use serde_json::Value;

mod report_support;
use report_support::{png_size, stdout_of, table_rows, tips};

fn chain_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chain/results.json")
}

fn chain_fixture() -> RunResults {
    RunResults::load(&chain_file()).unwrap()
}

/// The fixture's folder after `lanebench report`, rendered once per test binary.
fn rendered() -> &'static PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-chain-fixture");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(chain_file(), dir.join("results.json")).unwrap();
        stdout_of(&["report", dir.to_str().unwrap()]);
        dir
    })
}

const CHAIN_CHARTS: [&str; 3] = ["chain-latency", "chain-cpu", "client-tax"];

#[test]
fn the_report_has_the_chain_section_table_and_charts() {
    let md = std::fs::read_to_string(rendered().join("report.md")).unwrap();
    assert!(md.contains("\n## Service chain\n"), "{md}");
    assert!(md.contains(
        "- actix-web (actix-web): orders served by actix-web, the same framework, through the harness's proxy"
    ));
    assert!(md.contains(
        "- FastAPI (fastapi): orders served by actix-web, a fixed order service, connected directly"
    ));
    let rows = table_rows(
        &md,
        "| Framework | Connections | QPS | p99 ms | downstream p50 ms |",
    );
    assert_eq!(rows.len(), 6, "three targets, two levels each");
    let results = chain_fixture();
    let gin = results.targets.iter().find(|t| t.name == "gin").unwrap();
    let level = gin.levels.iter().find(|l| l.connections == 64).unwrap();
    let chain = level.chain.as_ref().unwrap();
    let row = rows
        .iter()
        .find(|r| r[0] == "Gin" && r[1] == "64")
        .expect("gin at 64 connections");
    let print = |key: &str, value: f64| Metric::find(key).unwrap().print(value);
    assert_eq!(
        row[5],
        print("downstream_p99", chain.downstream_p99_ms.unwrap())
    );
    assert_eq!(
        row[6],
        print(
            "downstream_per_request",
            chain.downstream_per_request.unwrap()
        )
    );
    assert_eq!(row[7], "0.800");
    assert_eq!(
        row[8],
        print("cpu_per_success", chain.user_cpu_us_per_success.unwrap())
    );
    assert_eq!(
        row[9],
        print(
            "order_cpu_per_success",
            chain.order_cpu_us_per_success.unwrap()
        )
    );
    assert_eq!(
        row[10],
        print(
            "total_cpu_per_success",
            chain.total_cpu_us_per_success.unwrap()
        )
    );
    assert_eq!(row[12], print("client_tax", chain.client_tax_us.unwrap()));
    assert_eq!(
        row[13],
        format!("{:.1}", chain.baseline_cpu_us_per_success.unwrap())
    );
    assert_eq!(
        (row[15].as_str(), row[16].as_str()),
        ("24.1 MiB", "4.7 MiB")
    );
    // The directly connected target has no downstream figures, and says so with dashes.
    let fastapi = rows.iter().find(|r| r[0] == "FastAPI").unwrap();
    assert_eq!(
        (&fastapi[4], &fastapi[5], &fastapi[11]),
        (&"-".into(), &"-".into(), &"-".into())
    );
    for name in CHAIN_CHARTS {
        assert!(md.contains(&format!("](charts/{name}.svg)")), "{name}");
        let png = std::fs::read(rendered().join(format!("charts/{name}.png"))).unwrap();
        assert_eq!(png_size(&png), (1200, 700));
    }
}

#[test]
fn the_chain_charts_draw_the_tables_values() {
    let svg = |name: &str| {
        std::fs::read_to_string(rendered().join(format!("charts/{name}.svg"))).unwrap()
    };
    // actix-web's headline level is 64 connections: client tax 8.29 µs there.
    let tax = tips(&svg("client-tax"), "actix-web");
    assert_eq!(tax.len(), 1, "{tax:?}");
    assert!(tax[0].starts_with("actix-web: 8.29 µs, min "), "{tax:?}");
    let latency = tips(&svg("chain-latency"), "gin");
    assert!(
        latency.iter().any(|t| t.contains("(downstream p99)")),
        "{latency:?}"
    );
    let direct = tips(&svg("chain-latency"), "fastapi");
    assert!(
        direct.iter().any(|t| t.contains("connected directly")),
        "{direct:?}"
    );
    let cpu = tips(&svg("chain-cpu"), "fastapi");
    assert_eq!(cpu.len(), 2, "user and order service, no proxy: {cpu:?}");
    let html = std::fs::read_to_string(rendered().join("report.html")).unwrap();
    assert!(html.contains("<h2>Service chain</h2>"));
    assert_eq!(
        html.matches("<svg").count(),
        12,
        "nine charts and the chain's three"
    );
}

/// Fields of a level's `chain` that are not rows of the metric table, and why.
const NOT_ROWS: [(&str, &str); 4] = [
    (
        "user_cpu_us_per_success",
        "the level's server_cpu_us_per_success (cpu_per_success)",
    ),
    ("expected_per_request", "the mix's weights, not measured"),
    (
        "baseline_cpu_us_per_success",
        "the client tax's baseline, printed beside it",
    ),
    (
        "baseline_success_rps",
        "the client tax's baseline load, printed beside it",
    ),
];

#[test]
fn every_chain_figure_has_one_row_and_export_and_compare_print_it() {
    let value: Value =
        serde_json::from_str(&std::fs::read_to_string(chain_file()).unwrap()).unwrap();
    let chain = &value["targets"][0]["levels"][0]["chain"];
    for field in chain.as_object().unwrap().keys() {
        let rows = CHAIN_METRICS
            .iter()
            .filter(|m| m.field == format!("chain.{field}"))
            .count();
        let skipped = NOT_ROWS.iter().any(|(f, _)| f == field);
        assert_eq!(rows, usize::from(!skipped), "{field}");
    }
    let results = chain_fixture();
    let measures = lanebench::export::measures(&results);
    for metric in CHAIN_METRICS {
        let name = metric.labels.export.unwrap();
        let found: Vec<_> = measures.iter().filter(|m| m.name == name).collect();
        // Directly connected, fastapi has no downstream and no proxy figures.
        let per_level = if metric.key.starts_with("downstream") || metric.key.starts_with("proxy") {
            4
        } else {
            6
        };
        assert_eq!(found.len(), per_level, "{name}");
        for m in found {
            let (target, level) = m.benchmark.split_once('/').unwrap();
            let t = results.targets.iter().find(|t| t.name == target).unwrap();
            let l = t
                .levels
                .iter()
                .find(|l| format!("{}c", l.connections) == level)
                .unwrap();
            assert_eq!(
                m.value,
                metric.of_level(l).unwrap().median,
                "{name} {}",
                m.benchmark
            );
        }
    }
    let side = Side::load(&chain_file()).unwrap();
    let same = compare(&side, &side, &Thresholds::default(), &FailOn::Auto).unwrap();
    for figure in [
        Figure::DownstreamP99,
        Figure::TotalCpuPerRequest,
        Figure::ClientTax,
    ] {
        let rows: Vec<_> = same.rows.iter().filter(|r| r.figure == figure).collect();
        assert!(!rows.is_empty(), "{figure:?}");
        for row in rows {
            let t = results
                .targets
                .iter()
                .find(|t| t.name == row.target)
                .unwrap();
            let level = row.level.as_deref().unwrap();
            let l = t
                .levels
                .iter()
                .find(|l| format!("{}c", l.connections) == level)
                .unwrap();
            let want = figure.metric().of_level(l).unwrap().median;
            assert!(
                (row.baseline - want).abs() < 1e-9,
                "{figure:?} {}: {} vs {want}",
                row.target,
                row.baseline
            );
            assert_eq!(row.verdict, Verdict::Unchanged);
        }
        assert!(same.fail_on.contains(&figure));
    }
}

/// The fixture with a third repeat per level (CPU 1% above the second's), since the
/// rank test needs three values a side, and the baseline load's CPU per success `factor`
/// times what it was: the chain's own figures unchanged, so only the client tax moves.
/// The stored medians that depend on them are made again as the run makes them.
fn with_baseline_cpu(factor: f64) -> RunResults {
    let mut results = chain_fixture();
    for level in results.targets.iter_mut().flat_map(|t| &mut t.levels) {
        let mut third = level.repeats[1].clone();
        third.server_cpu_s *= 1.01;
        for component in &mut third.components {
            component.cpu_s *= 1.01;
        }
        level.repeats.push(third);
        let baseline = level.baseline.as_mut().unwrap();
        baseline.server_cpu_s *= factor;
        let b = baseline.cpu_us_per_success();
        let users: Vec<f64> = level
            .repeats
            .iter()
            .filter_map(|r| r.cpu_us_per_success())
            .collect();
        let user = lanebench::stats::median(&users);
        level.server_cpu_us_per_success = user;
        let chain = level.chain.as_mut().unwrap();
        chain.user_cpu_us_per_success = user;
        chain.baseline_cpu_us_per_success = b;
        chain.client_tax_us = Some(user.unwrap() - b.unwrap());
    }
    results
}

#[test]
fn a_worse_client_tax_is_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let (base, cand) = (dir.path().join("base"), dir.path().join("cand"));
    with_baseline_cpu(1.0).write(&base).unwrap();
    // A cheaper plain request with the same chain: each request's client costs more.
    with_baseline_cpu(0.7).write(&cand).unwrap();
    let (base, cand) = (Side::load(&base).unwrap(), Side::load(&cand).unwrap());
    let c = compare(&base, &cand, &Thresholds::default(), &FailOn::Auto).unwrap();
    let taxes: Vec<_> = c
        .rows
        .iter()
        .filter(|r| r.figure == Figure::ClientTax)
        .collect();
    assert_eq!(taxes.len(), 6);
    for row in taxes {
        assert_eq!(row.verdict, Verdict::Regressed, "{row:?}");
        assert!(row.gates);
    }
    assert!(c.regressed());
    let others = c.rows.iter().filter(|r| r.figure != Figure::ClientTax);
    assert!(others.into_iter().all(|r| r.verdict != Verdict::Regressed));
    let text = lanebench::compare::render::table(&c);
    assert!(text.contains("client-tax (µs/req)"), "{text}");
}

#[test]
fn a_comparison_without_a_chain_names_none_of_its_figures() {
    let side = Side::load(&report_support::fixture_file()).unwrap();
    let c = compare(&side, &side, &Thresholds::default(), &FailOn::Auto).unwrap();
    assert!(c.rows.iter().all(|r| !r.figure.only_when_present()));
    assert!(c.fail_on.iter().all(|f| !f.only_when_present()), "{:?}", c.fail_on);
    let measures = lanebench::export::measures(&report_support::fixture());
    let chain_names: Vec<_> = CHAIN_METRICS
        .iter()
        .filter_map(|m| m.labels.export)
        .collect();
    assert!(measures.iter().all(|m| !chain_names.contains(&m.name)));
}
