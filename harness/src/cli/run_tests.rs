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
