//! A resilience run in the report, on a hand-made run (`tests/fixtures/resilience/`):
//! the "Resilience" section's table and verdicts, one timeline chart per fault kind,
//! a self-contained page, and a report without a resilience run writing the same charts
//! as before.

use std::path::{Path, PathBuf};

use lanebench::results::metrics::Metric;
use lanebench::results::resilience::EpisodeFigures;
use lanebench::results::RunResults;

mod report_support;
use report_support::{png_size, stdout_of, table_rows, tips, CHARTS};

fn resilience_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resilience/results.json")
}

/// The fixture's folder after `lanebench report`, rendered once per test binary.
fn rendered() -> &'static PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-resilience-fixture");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(resilience_file(), dir.join("results.json")).unwrap();
        stdout_of(&["report", dir.to_str().unwrap()]);
        dir
    })
}

fn markdown() -> String {
    std::fs::read_to_string(rendered().join("report.md")).unwrap()
}

/// The chart files a rendered folder holds, sorted.
fn chart_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn expected_files(stems: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = stems
        .iter()
        .flat_map(|s| [format!("{s}.png"), format!("{s}.svg")])
        .collect();
    names.sort();
    names
}

#[test]
fn the_fixtures_figures_are_what_its_seconds_make() {
    let results = RunResults::load(&resilience_file()).unwrap();
    for t in &results.targets {
        for e in &t.resilience.as_ref().unwrap().episodes {
            let made = EpisodeFigures::of(
                &e.seconds,
                (e.fault_on_s, e.fault_off_s),
                &e.health,
                &e.status_codes,
                e.crashed.is_some(),
            );
            let (made, stored) = (json(&made), json(&e.figures));
            assert!(
                close(&made, &stored),
                "{} {} {:?}: made {made} stored {stored}",
                t.name,
                e.label,
                e.breaker
            );
        }
    }
}

fn json(figures: &EpisodeFigures) -> serde_json::Value {
    serde_json::to_value(figures).unwrap()
}

/// Equal but for the last bits of a float, which reading JSON may round differently.
fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(1.0)
        }
        _ => a == b,
    }
}

#[test]
fn the_report_has_the_resilience_section_and_table() {
    let md = markdown();
    assert!(md.contains("\n## Resilience\n"), "{md}");
    assert!(md.contains("at the episode's rate (100 req/s)"), "{md}");
    // Markdown escapes the underscores.
    assert!(md.contains(
        "breaker on: each target's default (BREAKER\\_FAILURES=5); breaker off: BREAKER\\_FAILURES=0"
    ));
    assert!(md.contains("docs/metrics.md, \"Resilience\""));
    let rows = table_rows(
        &md,
        "| Framework | Fault | Breaker | goodput before req/s |",
    );
    assert_eq!(rows.len(), 6, "two targets, three episodes each: {rows:?}");
    let find = |framework: &str, fault: &str, breaker: &str| {
        rows.iter()
            .find(|r| r[0] == framework && r[1] == fault && r[2] == breaker)
            .unwrap_or_else(|| panic!("{framework} {fault} {breaker}: {rows:?}"))
            .clone()
    };
    let print = |key: &str, v: f64| Metric::find(key).unwrap().print(v);
    let actix = find("actix-web", "blackhole", "on");
    assert_eq!(&actix[3..9], ["100", "0", "93", "76.7", "23.3", "1000"]);
    assert_eq!(actix[9], print("time_to_open", 2.0));
    assert_eq!(actix[10], "0.24 (1.00)");
    assert_eq!((actix[11].as_str(), actix[12].as_str()), ("1.10", "1.30"));
    assert_eq!(actix[13], print("time_to_recover", 2.0));
    assert_eq!(actix[14], "20.0 → 24.5 MiB");
    assert_eq!(actix[15], "8 → 8");
    assert_eq!(&actix[16..], ["0", "no", "yes"]);
    assert_eq!(find("actix-web", "error 500", "on")[13], "3.0");
    // Without a breaker the calls never drop: the table says so rather than a time.
    assert_eq!(find("actix-web", "blackhole", "off")[9], "never");
    let gin = find("Gin", "blackhole", "on");
    assert_eq!((gin[9].as_str(), gin[15].as_str()), ("never", "8 → 100"));
    assert_eq!(gin[18], "no", "/health p99 3.2x its value before");
    let error = find("Gin", "error 500", "on");
    assert_eq!(error[13], "not within 9.0 s");
    assert_eq!(error[16], "3", "the 500s are not the contract's 503");
}

#[test]
fn the_report_gives_a_verdict_per_framework() {
    let md = markdown();
    assert!(md.contains("Verdicts, from each framework's episodes with the breaker on:"));
    assert!(md.contains(
        "- actix-web: isolated; stopped calling a dead order service in 2.0 s; recovered in 3.0 s; what the breaker bought in blackhole: worst p99 during the fault 1000 ms with it against 1000 ms without, worst time to recover 2.0 s against 4.0 s; with nothing failing, the breaker cost +2.0 µs/req of user-service CPU (on minus off).\n"
    ), "{md}");
    assert!(md.contains(
        "- Gin: not isolated: in blackhole /health p99 rose from 1.10 to 3.50 ms (3.18x); stopped calling a dead order service: never (in blackhole); did not recover within 9.0 s after error 500; "
    ), "{md}");
    assert!(md.contains("the breaker cost -3.0 µs/req"), "{md}");
}

#[test]
fn each_fault_kind_has_its_timeline_chart() {
    let md = markdown();
    for (stem, title) in [
        ("fault-blackhole", "Resilience: blackhole"),
        ("fault-error", "Resilience: error 500"),
    ] {
        assert!(
            md.contains(&format!("![{title}](charts/{stem}.svg)")),
            "{md}"
        );
        let png = std::fs::read(rendered().join(format!("charts/{stem}.png"))).unwrap();
        assert_eq!(png_size(&png), (1200, 700));
    }
    // A resilience run alone: its ladder charts would be empty, so only the fault charts.
    let stems = ["fault-blackhole", "fault-error"];
    assert_eq!(chart_files(rendered()), expected_files(&stems));
    assert!(md.contains("A resilience run: each target was measured through episodes"));
    assert!(!md.contains("## Comparison"), "{md}");
    let svg = std::fs::read_to_string(rendered().join("charts/fault-blackhole.svg")).unwrap();
    let gin = tips(&svg, "gin");
    assert!(
        gin.contains(&"Gin: 0 full answers in second 5".to_string()),
        "{gin:?}"
    );
    assert!(gin.contains(&"Gin: 80 degraded answers in second 7".to_string()));
    assert!(gin.contains(&"Gin: 50 full answers in second 11".to_string()));
    assert!(svg.contains("Resilience: blackhole"));
    // Only the breaker-on episode is drawn: 20 seconds in each of three panels.
    let points = gin.iter().filter(|t| t.contains(" in second ")).count();
    assert_eq!(points, 60, "{gin:?}");
}

#[test]
fn the_page_is_self_contained_with_every_chart_inline() {
    let html = std::fs::read_to_string(rendered().join("report.html")).unwrap();
    assert!(html.contains("<h2>Resilience</h2>"));
    assert_eq!(html.matches("<svg").count(), 2, "one chart per fault kind");
    assert!(html.contains("id=\"chart-fault-error\""));
    // Episodes but no QPS: the targets still get their filter boxes.
    for name in ["actix-web", "gin"] {
        assert!(html.contains(&format!("class=\"fw-toggle\" value=\"{name}\"")));
    }
    for forbidden in ["http://", "https://", "src=", "<link", "@import"] {
        assert!(!html.contains(forbidden), "HTML contains {forbidden:?}");
    }
}

#[test]
fn a_report_without_resilience_writes_the_charts_it_always_did() {
    let (dir, _) = report_support::rendered();
    assert_eq!(chart_files(dir), expected_files(&CHARTS));
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(!md.contains("## Resilience"));
    assert!(!md.contains("charts/fault-"));
}

#[test]
fn out_of_range_episode_values_still_render() {
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(resilience_file()).unwrap()).unwrap();
    let episode = &mut value["targets"][0]["resilience"]["episodes"][0];
    episode["fault_on_s"] = 1e308.into();
    episode["fault_off_s"] = (-1e308).into();
    episode["seconds"][3]["t"] = u64::MAX.into();
    episode["seconds"][4]["full"] = u64::MAX.into();
    episode["label"] = "| *not* <b>markup</b>".into();
    value["targets"][1]["status"] = "failed".into();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("results.json"), value.to_string()).unwrap();
    stdout_of(&["report", dir.path().to_str().unwrap()]);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("\\| \\*not\\* &lt;b&gt;markup&lt;/b&gt;"),
        "{md}"
    );
    // A target that failed after its episodes still shows them.
    assert!(md.contains("| Gin | error 500 | on |"), "{md}");
}

#[test]
fn a_second_fault_of_one_kind_is_named_under_the_chart_of_the_first() {
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(resilience_file()).unwrap()).unwrap();
    value["targets"][1]["resilience"]["episodes"][1]["label"] = "error 503 x50%".into();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.json");
    std::fs::write(&file, value.to_string()).unwrap();
    let md = stdout_of(&["report", file.to_str().unwrap(), "--format", "md"]);
    assert_eq!(md.matches("](charts/fault-error.svg)").count(), 1, "{md}");
    assert!(md.contains("![Resilience: error 500](charts/fault-error.svg)"));
    assert!(md.contains(
        "The run also had error 503 x50% of this kind: only error 500 is drawn; the resilience table has them all."
    ), "{md}");
}
