//! `lanebench report`'s charts on the fixed results.json (`tests/fixtures/report/`): the
//! marks show the tables' figures, curves come from the median repeat, the claims chart's
//! verdicts, chart sizes, and the warm-up chart's curves and where each warm-up ended.

use lanebench::report::view::grouped;

mod report_support;
use report_support::*;

#[test]
fn chart_marks_show_the_tables_figures() {
    let results = fixture();
    let md = markdown();
    let target = |name: &str| results.targets.iter().find(|t| t.name == name).unwrap();
    // QPS bars: the comparison table's figure, with min-max over the headline repeats.
    let gin = target("gin");
    let level = gin
        .levels
        .iter()
        .find(|l| Some(l.connections) == gin.qps_connections)
        .unwrap();
    let qps = tips(&chart("qps"), "gin");
    assert_eq!(qps.len(), 1, "{qps:?}");
    let shown = format!("{} req/s", grouped(gin.qps.unwrap()));
    assert!(md.contains(&format!("| {} |", grouped(gin.qps.unwrap()))));
    assert_eq!(
        qps[0],
        format!(
            "Gin: {shown}, min {} req/s, max {} req/s",
            grouped(level.success_rps.min),
            grouped(level.success_rps.max)
        )
    );
    // Startup spans 6 ms to 154 ms (over 20x): a log axis, said on the axis.
    let startup = chart("startup");
    assert!(startup.contains("Time from spawn, log scale"), "{startup}");
    let hyperlane = target("hyperlane");
    let startup_tips = tips(&startup, "hyperlane");
    let median = hyperlane.startup_ms.unwrap().median;
    assert!(
        startup_tips[0].starts_with(&format!("hyperlane: {:.1} ms (startup", median)),
        "{startup_tips:?}"
    );
    // Latency dots are the latency table's medians.
    let latency = tips(&chart("latency"), "gin");
    let p99 = format!(
        "Gin: p99 {} ms, min",
        lanebench::report::view::latency_ms(level.p99_ms.median)
    );
    assert!(
        latency.iter().any(|t| t.starts_with(&p99)),
        "{p99} not in {latency:?}"
    );
    // Every bar carries a value label in its unit.
    for name in ["qps", "cost", "memory", "startup"] {
        let svg = chart(name);
        let unit = match name {
            "qps" => "req/s",
            "cost" => "µs",
            "memory" => "MiB",
            _ => "ms",
        };
        let labels = svg.matches(&format!(" {unit}</text>")).count();
        let bars = if name == "qps" || name == "cost" {
            3
        } else {
            6
        };
        assert!(labels >= bars, "{name}: {labels} labels for {bars} bars");
    }
}

#[test]
fn curves_come_from_the_median_repeat() {
    let results = fixture();
    let node = results
        .targets
        .iter()
        .find(|t| t.name == "node-http")
        .unwrap();
    let level = node
        .levels
        .iter()
        .find(|l| Some(l.connections) == node.qps_connections)
        .unwrap();
    let mut repeats: Vec<_> = level.repeats.iter().collect();
    repeats.sort_by(|a, b| a.load.success_rps.total_cmp(&b.load.success_rps));
    let median = repeats[(repeats.len() - 1) / 2];
    let first = &level.repeats[0];
    let second = |load: &lanebench::load::result::LoadResult| {
        format!(
            "node:http: {} req/s in second 0",
            grouped(load.timeline[0].successes as f64)
        )
    };
    let timeline = tips(&chart("timeline"), "node-http");
    assert!(timeline.contains(&second(&median.load)), "{timeline:?}");
    if first.load.timeline[0].successes != median.load.timeline[0].successes {
        assert!(
            !timeline.contains(&second(&first.load)),
            "drew the first repeat"
        );
    }
}

#[test]
fn claims_chart_puts_the_verdict_under_each_pair() {
    let claims = chart("claims");
    let gin = tips(&claims, "gin");
    assert!(
        gin.iter().any(|t| t == "Gin (Go): 0.75x (published)"),
        "{gin:?}"
    );
    assert!(
        gin.iter()
            .any(|t| t.starts_with("Gin (Go): 0.70x (measured)")),
        "{gin:?}"
    );
    // The fixture's mixed scenario cannot hold a published wrk figure: the verdict says so,
    // once, with its reasons in the tooltip.
    assert!(
        gin.iter()
            .any(|t| t.starts_with("Gin (Go): not comparable: default scenario mixes 4 requests")),
        "{gin:?}"
    );
    assert!(claims.contains(">not comparable: default scenario mixes"));
    assert!(!claims.contains("not comparable: not comparable"));
    assert!(claims.contains("not measured: express was not part of this run"));
}

#[test]
fn chart_size_sets_every_chart_and_bad_sizes_exit_2() {
    let dir = results_dir();
    let path = dir.path().to_str().unwrap();
    stdout_of(&["report", path, "--chart-size", "600x350"]);
    for chart in CHARTS {
        let png = std::fs::read(dir.path().join(format!("charts/{chart}.png"))).unwrap();
        assert_eq!(png_size(&png), (600, 350), "{chart}");
        let svg = std::fs::read_to_string(dir.path().join(format!("charts/{chart}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg width=\"600\" height=\"350\""),
            "{chart}"
        );
    }
    for bad in ["600", "600x0", "axb", "9000x700"] {
        let out = lanebench(&["report", path, "--chart-size", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines().next().unwrap().contains("--chart-size"),
            "{err}"
        );
    }
}

/// The `<figure>` of chart `id` in a report's HTML.
fn html_chart<'a>(html: &'a str, id: &str) -> &'a str {
    let start = &html[html.find(&format!("id=\"chart-{id}\"")).unwrap()..];
    &start[..start.find("</figure>").unwrap()]
}

#[test]
fn warmup_chart_draws_the_runs_curve_from_spawn_and_cost_the_runs_median() {
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_file()).unwrap()).unwrap();
    let gin = value["targets"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["name"] == "gin")
        .unwrap();
    gin["warmup_curve"] = serde_json::json!({
        "ready_ms": 40.0, "load_started_ms": 2500.0,
        "per_second": [1200.0, 9800.0, 21000.0], "connections": 16
    });
    let headline = gin["levels"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|l| l["connections"] == 64)
        .unwrap();
    headline["server_cpu_us_per_success"] = serde_json::json!(123.4);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("results.json"), value.to_string()).unwrap();
    let path = dir.path().to_str().unwrap();
    let html = stdout_of(&["report", path, "--format", "html"]);
    let warmup = html_chart(&html, "warmup");
    assert!(
        warmup.contains("Seconds since the process was spawned"),
        "{warmup}"
    );
    let seconds = tips(warmup, "gin");
    // The first second of load began 2.5 s after spawn.
    assert!(
        seconds.iter().any(|t| t == "Gin: 1,200 req/s in second 2"),
        "{seconds:?}"
    );
    assert!(
        seconds.iter().any(|t| t == "Gin: 21,000 req/s in second 4"),
        "{seconds:?}"
    );
    let cost = tips(html_chart(&html, "cost"), "gin");
    assert!(cost[0].starts_with("Gin: 123 µs, min"), "{cost:?}");
    let md = stdout_of(&["report", path, "--format", "md"]);
    let levels = table_rows(&md, "| Framework | Connections | QPS (median) |");
    let row = levels
        .iter()
        .find(|r| r[0] == "Gin" && r[1] == "64")
        .unwrap();
    assert_eq!(row[7], "123.4", "{row:?}");
}

#[test]
fn warmup_chart_marks_where_each_warmup_ended_and_how() {
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_file()).unwrap()).unwrap();
    let targets = value["targets"].as_array_mut().unwrap();
    let curve = |steady: serde_json::Value| {
        serde_json::json!({
            "ready_ms": 40.0, "load_started_ms": 2500.0,
            "per_second": [1200.0, 9800.0, 21000.0, 21500.0], "connections": 16,
            "warmup_s": 3.0, "steady": steady
        })
    };
    for t in targets.iter_mut() {
        match t["name"].as_str().unwrap() {
            "gin" => t["warmup_curve"] = curve(serde_json::json!(true)),
            "hyperlane" => t["warmup_curve"] = curve(serde_json::json!(false)),
            _ => {}
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("results.json"), value.to_string()).unwrap();
    let path = dir.path().to_str().unwrap();
    let html = stdout_of(&["report", path, "--format", "html"]);
    let warmup = html_chart(&html, "warmup");
    assert!(
        tips(warmup, "gin")
            .iter()
            .any(|t| t == "Gin: warm-up ended steady after 3 s of load; measured from here"),
        "{warmup}"
    );
    let hyperlane = tips(warmup, "hyperlane");
    assert!(
        hyperlane.iter().any(|t| t
            == "hyperlane: warm-up ended not steady (cap) after 3 s of load; measured from here"),
        "{hyperlane:?}"
    );
    assert!(warmup.contains(">not steady (cap)<"), "the label is drawn");
    // A curve written before the end was kept has no marker.
    let plain = std::fs::read_to_string(fixture_file()).unwrap();
    std::fs::write(dir.path().join("results.json"), plain).unwrap();
    let html = stdout_of(&["report", path, "--format", "html"]);
    assert!(
        !html.contains("s of load; measured from here"),
        "no marker without warmup_s"
    );
}
