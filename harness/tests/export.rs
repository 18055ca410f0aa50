//! `lanebench export` end to end: the Bencher and github-action-benchmark shapes of the
//! stored quick run (`tests/fixtures/compare/`), reshaped into stable repeats.

use std::path::Path;

mod compare_support;
use compare_support::{lanebench, stable, Dirs};

fn export(results: &Path, format: &str) -> serde_json::Value {
    let out = lanebench(&[
        "export".as_ref(),
        results.as_ref(),
        "--format".as_ref(),
        format.as_ref(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn bmf_export_has_the_bencher_shape() {
    let d = Dirs::new();
    let results = d.save("run", &stable());
    let bmf = export(&results, "bmf");
    let benchmarks = bmf.as_object().unwrap();
    for name in [
        "hyperlane/16c",
        "hyperlane/64c",
        "axum/16c",
        "axum/64c",
        "hyperlane",
        "axum",
    ] {
        assert!(benchmarks.contains_key(name), "{name} missing: {bmf:#}");
    }
    for (name, measures) in benchmarks {
        let measures = measures.as_object().unwrap();
        assert!(!measures.is_empty(), "{name}");
        for (measure, metric) in measures {
            let value = metric["value"]
                .as_f64()
                .unwrap_or_else(|| panic!("{name} {measure}"));
            let keys: Vec<&String> = metric.as_object().unwrap().keys().collect();
            assert!(keys
                .iter()
                .all(|k| ["value", "lower_value", "upper_value"].contains(&k.as_str())));
            if let (Some(low), Some(high)) = (
                metric["lower_value"].as_f64(),
                metric["upper_value"].as_f64(),
            ) {
                assert!(low <= value && value <= high, "{name} {measure}: {metric}");
            }
        }
    }
    let throughput = &bmf["axum/64c"]["throughput"];
    let rps = stable()
        .targets
        .iter()
        .find(|t| t.name == "axum")
        .unwrap()
        .levels[1]
        .success_rps;
    assert_eq!(throughput["value"].as_f64(), Some(rps.median));
    assert_eq!(throughput["lower_value"].as_f64(), Some(rps.min));
    assert_eq!(throughput["upper_value"].as_f64(), Some(rps.max));
    let level = &stable().targets[1].levels[1];
    let repeat = &level.repeats[0];
    let cpu = bmf["axum/64c"]["cpu-per-request"]["value"]
        .as_f64()
        .unwrap();
    let expected = repeat.server_cpu_s * 1e6 / repeat.load.successes as f64;
    assert!((cpu - expected).abs() < 1e-9, "{cpu} vs {expected}");
}

#[test]
fn github_action_benchmark_exports_split_by_direction() {
    let d = Dirs::new();
    let results = d.save("run", &stable());
    let bigger = export(&results, "github-action-benchmark");
    let smaller = export(&results, "github-action-benchmark-smaller");
    for (list, bigger_is_better) in [(&bigger, true), (&smaller, false)] {
        let entries = list.as_array().unwrap();
        assert!(!entries.is_empty());
        for e in entries {
            let name = e["name"].as_str().unwrap();
            assert!(!e["unit"].as_str().unwrap().is_empty(), "{e}");
            assert!(e["value"].is_number(), "{e}");
            assert_eq!(name.ends_with("throughput"), bigger_is_better, "{e}");
        }
    }
    assert_eq!(bigger.as_array().unwrap().len(), 4);
    assert!(smaller
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "axum/64c latency-p99"));
    let csv = lanebench(&[
        "export".as_ref(),
        results.as_ref(),
        "--format".as_ref(),
        "csv".as_ref(),
    ]);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.starts_with("target,framework,"), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");
}
