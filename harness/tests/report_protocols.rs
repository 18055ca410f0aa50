//! The report of a run whose scenario names protocols: every entry is labelled with its
//! protocol, ratios compare entries of one protocol, and a "By protocol" block (Markdown
//! and HTML) gives each framework's QPS, CPU per success and ratio to its own h1, with
//! the reason for a protocol it does not serve. A run without protocols has no such
//! block (its report is otherwise unchanged: the other report tests pin that).

use std::path::Path;

use lanebench::load::protocol::ProtocolName;
use lanebench::results::{RunResults, TargetResult, TargetStatus};

mod report_support;
use report_support::*;

const UNSUPPORTED: &str = "h2c unsupported: this framework speaks HTTP/1.1 only";

/// `target` as the run records it on protocol `p`, its headline scaled by `factor`.
fn on(target: &TargetResult, p: ProtocolName, factor: f64) -> TargetResult {
    let mut entry = target.clone();
    entry.protocol = Some(p);
    entry.qps = target.qps.map(|q| q * factor);
    entry
}

/// The fixture's gin and hyperlane on h1, h1-tls and h2c: gin's h1-tls headline is not a
/// plain figure, and hyperlane does not serve h2c.
fn protocol_run() -> (tempfile::TempDir, RunResults) {
    let mut results = fixture();
    let pick = |name: &str| {
        let found = results.targets.iter().find(|t| t.name == name);
        found.cloned().unwrap()
    };
    let (gin, hyperlane) = (pick("gin"), pick("hyperlane"));
    assert!(gin.qps_caveat.is_none() && hyperlane.qps_caveat.is_none());
    let mut gin_tls = on(&gin, ProtocolName::H1Tls, 0.8);
    gin_tls.qps_caveat = Some("1 of 1 levels noisy (server CPU 40% foreign)".into());
    let mut hyperlane_h2c = on(&hyperlane, ProtocolName::H2c, 1.0);
    hyperlane_h2c.status = TargetStatus::Skipped;
    hyperlane_h2c.reason = Some(UNSUPPORTED.into());
    hyperlane_h2c.qps = None;
    hyperlane_h2c.levels.clear();
    results.targets = vec![
        on(&gin, ProtocolName::H1, 1.0),
        gin_tls,
        on(&gin, ProtocolName::H2c, 0.5),
        on(&hyperlane, ProtocolName::H1, 1.0),
        on(&hyperlane, ProtocolName::H1Tls, 0.9),
        hyperlane_h2c,
    ];
    let dir = tempfile::tempdir().unwrap();
    results.write(dir.path()).unwrap();
    (dir, results)
}

fn report(dir: &Path, format: &str) -> String {
    stdout_of(&["report", dir.to_str().unwrap(), "--format", format])
}

fn by_protocol_rows(md: &str) -> Vec<Vec<String>> {
    table_rows(
        md,
        "| Framework | QPS | min-max | CPU µs/success | vs h1 | Note |",
    )
}

#[test]
fn protocol_run_has_a_by_protocol_block_with_labels_ratios_and_reasons() {
    let (dir, results) = protocol_run();
    let md = report(dir.path(), "md");
    assert!(md.contains("\n## By protocol\n"), "{md}");
    let rows = by_protocol_rows(&md);
    let labels: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let gin = &results.targets[0].framework;
    let hyperlane = &results.targets[3].framework;
    assert_eq!(
        labels,
        [
            format!("{gin} (h1)"),
            format!("{gin} (h1-tls)"),
            format!("{gin} (h2c)"),
            format!("{hyperlane} (h1)"),
            format!("{hyperlane} (h1-tls)"),
            format!("{hyperlane} (h2c)"),
        ]
    );
    let gin_qps = results.targets[0].qps.unwrap();
    // Ratios to the same framework's h1; one that involves a figure that is not a
    // result is in parentheses, as that figure is.
    assert_eq!(rows[0][4], "1.00x");
    assert_eq!(rows[1][1], format!("({})", grouped(gin_qps * 0.8)));
    assert_eq!(rows[1][4], "(0.80x)");
    assert!(rows[1][5].starts_with("not a result: 1 of 1 levels noisy"));
    assert_eq!(rows[2][4], "0.50x");
    assert_eq!(rows[4][4], "0.90x");
    // CPU per success is the throughput table's figure of the same level.
    assert!(rows[0][3].parse::<f64>().is_ok(), "{:?}", rows[0]);
    let skipped = &rows[5];
    assert_eq!(skipped[1], "-");
    assert_eq!(
        skipped[5],
        "unsupported: this framework speaks HTTP/1.1 only"
    );
    assert!(md.contains("![Throughput by protocol](charts/protocols.svg)"));

    let html = report(dir.path(), "html");
    assert!(html.contains("<h2>By protocol</h2>"));
    assert!(html.contains(&format!("<tr data-fw=\"gin\"><td>{gin} (h2c)</td>")));
    assert!(html.contains("<td>unsupported: this framework speaks HTTP/1.1 only</td>"));
    assert!(html.contains("<td class=\"num\" data-sort=\"0.5\">0.50x</td>"));
    assert!(html.contains("id=\"chart-protocols\""));
    // One filter box per framework, however many protocols it ran on.
    assert_eq!(html.matches("class=\"fw-toggle\" value=\"gin\"").count(), 1);
}

#[test]
fn protocol_run_compares_within_a_protocol_only() {
    let (dir, results) = protocol_run();
    let md = report(dir.path(), "md");
    let rows = table_rows(
        &md,
        "| Framework | QPS | Memory | Startup Time | Cold Start | vs hyperlane |",
    );
    let ratio = |label: &str| {
        let row = rows.iter().find(|r| r[0].ends_with(label));
        row.unwrap_or_else(|| panic!("no {label}: {rows:?}"))[5].clone()
    };
    let (gin, hyperlane) = (
        results.targets[0].qps.unwrap(),
        results.targets[3].qps.unwrap(),
    );
    let gin_h1 = rows
        .iter()
        .find(|r| r[0].contains("Gin") && r[0].ends_with("(h1)"));
    assert_eq!(gin_h1.unwrap()[5], format!("{:.2}x", gin / hyperlane));
    // gin's h2c has no hyperlane h2c to compare with: no ratio at all.
    assert_eq!(ratio("(h2c)"), "-");
    // Entries are grouped by protocol: every h1 row before every h1-tls row.
    let order: Vec<&str> = rows
        .iter()
        .map(|r| r[0].rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(order, ["(h1)", "(h1)", "(h1-tls)", "(h1-tls)", "(h2c)"]);
    // Skipped entries are listed with their protocol and reason.
    let hyperlane_name = &results.targets[3].framework;
    assert!(md.contains(&format!(
        "- {hyperlane_name} (h2c): skipped: {UNSUPPORTED}\n"
    )));
    // The published claims were measured on HTTP/1.1: they are held against h1 entries.
    let claims = table_rows(
        &md,
        "| Framework | Figure | Published | Measured | Verdict | Why |",
    );
    let gin_claim = claims.iter().find(|r| r[0] == "Gin (Go)" && r[1] == "QPS");
    assert!(
        gin_claim.unwrap()[3].ends_with(&format!("({:.2}x hyperlane)", gin / hyperlane)),
        "{gin_claim:?}"
    );
}

#[test]
fn run_without_protocols_has_no_by_protocol_block() {
    let md = markdown();
    assert!(!md.contains("By protocol"));
    assert!(!rendered().0.join("charts/protocols.svg").exists());
}

/// The report's thousands grouping.
fn grouped(value: f64) -> String {
    lanebench::report::view::grouped(value)
}
