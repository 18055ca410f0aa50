//! `--reference NAME`: the comparison table's "vs" column, its footnote and the claims
//! chart follow the chosen target, the verdicts stay with the published reference, a
//! name that is not among the results is a one-line usage error, and results of earlier
//! layouts (schema 1 and 2) render with a chosen reference.

use std::path::Path;

use lanebench::results::RunResults;

mod report_support;
use report_support::*;

/// A results folder holding the fixture with target `gin` renamed `axum`: a reference
/// the published comparison has no figure for.
fn with_axum() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture_file()).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    for target in value["targets"].as_array_mut().unwrap() {
        if target["name"] == "gin" {
            target["name"] = "axum".into();
        }
    }
    let json = serde_json::to_string_pretty(&value).unwrap();
    std::fs::write(dir.path().join("results.json"), json).unwrap();
    dir
}

fn report_md(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["report", dir.to_str().unwrap(), "--format", "md"];
    args.extend(extra);
    stdout_of(&args)
}

fn ratio_column(md: &str, reference: &str) -> Vec<(String, String)> {
    let header =
        format!("| Framework | QPS | Memory | Startup Time | Cold Start | vs {reference} |");
    table_rows(md, &header)
        .into_iter()
        .map(|row| (row[0].clone(), row[5].clone()))
        .collect()
}

fn claims_chart(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["report", dir.to_str().unwrap()];
    args.extend(extra);
    stdout_of(&args);
    std::fs::read_to_string(dir.join("charts/claims.svg")).unwrap()
}

#[test]
fn reference_axum_changes_the_ratios_and_the_charts() {
    let dir = with_axum();
    let results = RunResults::load(dir.path()).unwrap();
    let (hyperlane, axum) = (qps_of(&results, "hyperlane"), qps_of(&results, "axum"));

    let default = report_md(dir.path(), &[]);
    let ratios = ratio_column(&default, "hyperlane");
    assert_eq!(ratios[0], ("hyperlane".to_string(), "1.00x".to_string()));
    assert!(default.contains("vs hyperlane: the framework's QPS divided by hyperlane's QPS"));

    let chosen = report_md(dir.path(), &["--reference", "axum"]);
    let ratios = ratio_column(&chosen, "axum");
    assert_eq!(
        ratios[0].1,
        format!("{:.2}x", hyperlane / axum),
        "{ratios:?}"
    );
    let axum_row = ratios
        .iter()
        .find(|(name, _)| name.contains("axum"))
        .unwrap();
    assert_eq!(axum_row.1, "1.00x");
    assert!(chosen.contains("vs axum: the framework's QPS divided by axum's QPS"));
    assert!(chosen.contains("Published vs measured: QPS relative to axum"));
    // The verdicts judge the published claims, which are ratios to hyperlane.
    let verdicts = |md: &str| {
        md[md.find("## Published vs measured").unwrap()..][..md
            [md.find("## Published vs measured").unwrap()..]
            .find("![")
            .unwrap()]
            .to_string()
    };
    assert_eq!(verdicts(&default), verdicts(&chosen));

    let default_chart = claims_chart(dir.path(), &[]);
    let axum_chart = claims_chart(dir.path(), &["--reference", "axum"]);
    assert!(default_chart.contains("QPS relative to hyperlane"));
    assert!(axum_chart.contains("QPS relative to axum"));
    assert!(axum_chart.contains("divided by axum"));
    assert_ne!(default_chart, axum_chart);
}

#[test]
fn a_reference_that_is_no_target_of_the_results_is_a_usage_error() {
    let file = fixture_file();
    let out = lanebench(&["report", file.to_str().unwrap(), "--reference", "axum"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--reference axum") && err.contains("hyperlane, gin"),
        "{err}"
    );
}

#[test]
fn older_results_render_with_a_chosen_reference() {
    // The fixture is schema 1; written back by this version it is the current schema.
    let dir = tempfile::tempdir().unwrap();
    let schema_1 = fixture_file();
    let upgraded = fixture();
    assert!(upgraded.schema_version >= 2);
    upgraded.write(dir.path()).unwrap();
    for path in [schema_1.as_path(), dir.path()] {
        let md = report_md(path, &["--reference", "gin"]);
        let ratios = ratio_column(&md, "gin");
        let gin = ratios
            .iter()
            .find(|(name, _)| name.starts_with("Gin"))
            .unwrap();
        assert_eq!(gin.1, "1.00x", "{}", path.display());
    }
}
