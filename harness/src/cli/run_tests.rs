use super::*;
use crate::load::protocol::ProtocolName;

/// The report tests' fixture: a quick run of hyperlane, gin and node-http plus a
/// skipped and a failed target.
fn fixture() -> RunResults {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/report/results.json"
    );
    RunResults::load(std::path::Path::new(path)).unwrap()
}

#[test]
fn closing_table_of_a_protocol_run_labels_rows_with_the_protocol() {
    let mut results = fixture();
    let mut gin = results
        .targets
        .iter()
        .find(|t| t.name == "gin")
        .unwrap()
        .clone();
    gin.protocol = Some(ProtocolName::H1Tls);
    gin.qps_caveat = Some("1 of 1 levels noisy".into());
    gin.levels[0].caveats = vec![crate::results::caveat::Caveat::Unsteady {
        warmup_s: 15.0,
        climbing: false,
    }];
    results.targets = vec![gin];
    let table = render_table(&results);
    let row = table
        .lines()
        .find(|l| l.starts_with("gin (h1-tls)"))
        .unwrap();
    assert!(row.contains("flagged"), "{table}");
    assert!(table.contains("\nflagged gin (h1-tls): "), "{table}");
}

#[test]
fn closing_table_without_protocols_is_unchanged() {
    let table = render_table(&fixture());
    let header = table.lines().nth(1).unwrap();
    assert_eq!(
        header,
        "target           status          qps  startup ms     cold ms   memory MiB"
    );
    assert!(table.lines().any(|l| l.starts_with("gin            ")));
}

#[test]
fn closing_table_of_a_capacity_run_shows_the_capacity_with_its_marks() {
    use crate::results::capacity::{
        CapacitySearch, CapacityTarget, Objective, Percentile, SearchVerdict,
    };
    let mut results = fixture();
    let capacity = |verdict: SearchVerdict| CapacityTarget {
        objective: Objective {
            percentile: Percentile::P99,
            bound_ms: 10.0,
            max_error_rate: 0.001,
        },
        server_cpus: 1,
        searches: vec![CapacitySearch {
            repeat: 1,
            verdict,
            probes: Vec::new(),
        }],
        own_load: None,
        equal_load: None,
    };
    for t in &mut results.targets {
        t.qps = None;
        t.capacity = match t.name.as_str() {
            "hyperlane" => Some(capacity(SearchVerdict::Found {
                capacity_rps: 12_000.0,
                missed_rps: 12_500.0,
            })),
            "gin" => Some(capacity(SearchVerdict::AtLeast {
                capacity_rps: 4_000.0,
                why: "generator-limited above".into(),
            })),
            "node-http" => Some(capacity(SearchVerdict::BelowLowest { lowest_rps: 500.0 })),
            _ => None,
        };
    }
    let table = render_table(&results);
    let header = table.lines().find(|l| l.starts_with("target")).unwrap();
    assert!(
        header.contains("capacity") && !header.contains("qps"),
        "{table}"
    );
    let row = |name: &str| {
        let found = table.lines().find(|l| l.starts_with(name));
        found
            .unwrap_or_else(|| panic!("{name}: {table}"))
            .to_string()
    };
    assert!(row("hyperlane").contains(" 12,000 "), "{table}");
    assert!(row("gin").contains(" >= 4,000 "), "{table}");
    assert!(row("node-http").contains(" below 500 "), "{table}");
}
