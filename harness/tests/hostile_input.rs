//! Hostile input (issue 20): the exact inputs of the sweep that reached a panic, an abort,
//! a hang or an unbounded allocation, one test per class. Each now ends in exit 2 with
//! one line naming the flag or file, or in correct output; the huge-rate run ends within
//! a few seconds of SIGINT. docs/reliability.md lists them.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod fixture_server;
mod hostile;
mod workspace;
use fixture_server::Fixture;
use hostile::{histogram_field, refused};
use workspace::Workspace;

fn lanebench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn overflowing_durations_and_rates_on_the_command_line_are_refused() {
    let url = "http://127.0.0.1:9/";
    let max = "18446744073709551615s";
    for (args, needles) in [
        (vec!["-d", max], vec!["--duration", "365 days"]),
        (
            vec!["--timeout", max, "-d", "1s"],
            vec!["--timeout", "365 days"],
        ),
        (
            vec!["--warmup", max, "-d", "1s"],
            vec!["--warmup", "365 days"],
        ),
        (
            vec!["--rate", "1e-300", "-d", "1s"],
            vec!["--rate", "1e-300", "0.001..=10000000"],
        ),
        (
            vec!["--rate", "1e12", "-d", "1s"],
            vec!["--rate", "1e12", "0.001..=10000000"],
        ),
        (vec!["--rate", "inf"], vec!["--rate", "finite"]),
        (vec!["--rate", "nan"], vec!["--rate", "finite"]),
        (vec!["--rate", "0"], vec!["--rate", "above zero"]),
        (vec!["--rate=-5"], vec!["--rate", "above zero"]),
        (
            vec!["--start-at", "18446744073709551615"],
            vec!["--start-at", "365 days ahead"],
        ),
    ] {
        let mut all = vec!["load"];
        all.extend(&args);
        all.push(url);
        refused(&lanebench(&all), &needles);
    }
}

#[test]
fn the_largest_request_budget_is_split_without_overflow() {
    let server = Fixture::start("ok");
    let url = server.url();
    for extra in [&[][..], &["--segment", "1/2"][..]] {
        let mut args = vec![
            "load",
            "-q",
            "-c",
            "2",
            "-d",
            "1s",
            "-n",
            "18446744073709551615",
        ];
        args.extend(extra);
        args.push(&url);
        let output = lanebench(&args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{extra:?}: {output:?}");
        assert!(stdout.contains("Requests"), "{stdout}");
    }
}

#[test]
fn overflowing_scenario_durations_and_rates_are_refused_with_file_and_line() {
    let ws = Workspace::new();
    ws.add_fixture("good", "--mode ok", "");
    for (top, line, needle) in [
        (
            "duration = \"18446744073709551615s\"\nconnections = [1]",
            6,
            "365 days",
        ),
        (
            "duration = \"1s\"\nconnections = [1]\nrate = 1e-300",
            8,
            "0.001..=10000000",
        ),
        (
            "duration = \"1s\"\ntimeout = \"9999999999s\"\nconnections = [1]",
            7,
            "365 days",
        ),
    ] {
        let scenario = ws.scenario(top, "/health");
        let output = ws.lanebench("run", &scenario).output().unwrap();
        refused(&output, &[&format!("scenario.toml:{line}"), needle]);
        assert!(
            !ws.results_dir().exists(),
            "nothing is written for bad input"
        );
    }
}

/// A worker part as `load --segment 0/2 --json` writes it.
fn worker_part(dir: &Path, server: &Fixture) -> serde_json::Value {
    let path = dir.join("part.json");
    let output = lanebench(&[
        "load",
        "-q",
        "-c",
        "2",
        "-d",
        "1s",
        "--segment",
        "0/1",
        "--json",
        path.to_str().unwrap(),
        &server.url(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A change made to a worker part's JSON.
type Edit = Box<dyn Fn(&mut serde_json::Value)>;

#[test]
fn hostile_worker_parts_are_refused_by_merge_naming_the_file() {
    let server = Fixture::start("ok");
    let dir = tempfile::tempdir().unwrap();
    let part = worker_part(dir.path(), &server);
    // A decoder that believed this header would allocate 2^64 ns of 5-digit buckets.
    let wide = {
        let mut plain = 0x1c84_9313u32.to_be_bytes().to_vec();
        plain.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
        plain.extend_from_slice(&1u64.to_be_bytes());
        plain.extend_from_slice(&u64::MAX.to_be_bytes());
        plain.extend_from_slice(&1f64.to_be_bytes());
        histogram_field(&plain)
    };
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "segment index past its count",
            Box::new(|v| v["segment"] = serde_json::json!({"index": 5, "count": 2})),
            "segment 5/2",
        ),
        (
            "a timeline second of 1e15",
            Box::new(|v| v["timeline"][0]["t"] = 1_000_000_000_000_000u64.into()),
            "timeline point 0",
        ),
        (
            "a duration of 1e308",
            Box::new(|v| v["duration_s"] = 1e308.into()),
            "duration_s",
        ),
        (
            "a segment count of 2^64 - 1",
            Box::new(|v| v["segment"]["count"] = u64::MAX.into()),
            "segment 1/18446744073709551615 of this run is missing",
        ),
        (
            "a histogram claiming 2^64 ns at 5 digits",
            Box::new(move |v| v["latency_hdr"] = wide.clone().into()),
            "not a lanebench latency histogram",
        ),
    ];
    for (what, edit, needle) in cases {
        let mut value = part.clone();
        edit(&mut value);
        let path = dir.path().join("hostile.json");
        std::fs::write(&path, value.to_string()).unwrap();
        let out = dir.path().join("merged.json");
        let output = lanebench(&[
            "merge",
            path.to_str().unwrap(),
            "--json",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(output.status.code(), Some(2), "{what}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert!(stderr.contains("hostile.json"), "{what}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{what}: expected `{needle}` in {stderr}"
        );
        assert!(!out.exists(), "{what}: nothing is written");
    }
}

/// Runs `command` to its end, or kills it after `limit` and fails.
fn finish_within(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    Output {
        status,
        stdout: Vec::new(),
        stderr,
    }
}

#[test]
fn a_results_figure_of_1e308_is_reported_with_bounded_charts() {
    let dir = tempfile::tempdir().unwrap();
    let mut results: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/report/results.json")).unwrap();
    let target = &mut results["targets"][0];
    target["qps"] = 1e308.into();
    for level in target["levels"].as_array_mut().unwrap() {
        level["rps"]["median"] = 1e308.into();
        level["rps"]["max"] = 1e308.into();
        level["p99_ms"]["median"] = 1e308.into();
        // The latency chart's log axis took its top from these (and never ended).
        for repeat in level["repeats"].as_array_mut().unwrap() {
            let points = repeat["load"]["latency_distribution"]
                .as_array_mut()
                .unwrap();
            if let Some(last) = points.iter_mut().rev().nth(1) {
                last["ms"] = 1e308.into();
            }
        }
    }
    std::fs::write(dir.path().join("results.json"), results.to_string()).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_lanebench"));
    command.arg("report").arg(dir.path());
    // Generous for a busy machine: it hung (and allocated 2 GB/s) before.
    let output = finish_within(command, Duration::from_secs(120));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let svg = std::fs::read_to_string(dir.path().join("charts/qps.svg")).unwrap();
    assert!(
        svg.len() < 1_000_000,
        "a bounded chart, {} bytes",
        svg.len()
    );
}

#[test]
fn files_read_are_capped_before_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.json");
    // Sparse: 65 MiB claimed, nothing written.
    std::fs::File::create(&results)
        .unwrap()
        .set_len(65 * 1024 * 1024)
        .unwrap();
    let output = lanebench(&["report", results.to_str().unwrap()]);
    refused(&output, &["results.json", "larger than the 64 MiB"]);
    let part = dir.path().join("part.json");
    std::fs::rename(&results, &part).unwrap();
    let out = dir.path().join("merged.json");
    let output = lanebench(&[
        "merge",
        part.to_str().unwrap(),
        "--json",
        out.to_str().unwrap(),
    ]);
    refused(&output, &["part.json", "larger than the 64 MiB"]);
    // A file with no end was read until memory ran out.
    let output = lanebench(&[
        "load",
        "--body-file",
        "/dev/zero",
        "-n",
        "1",
        "http://127.0.0.1:9/",
    ]);
    refused(
        &output,
        &["--body-file /dev/zero", "larger than the 64 MiB"],
    );
}

#[test]
fn a_toml_error_in_a_claims_file_is_one_line_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("results.json"),
        include_str!("fixtures/report/results.json"),
    )
    .unwrap();
    let claims = dir.path().join("claims.toml");
    std::fs::write(&claims, "source = \"x\nclaim = []\n").unwrap();
    let output = lanebench(&[
        "report",
        "--claims",
        claims.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    refused(&output, &["claims.toml", "line 1, column 12"]);
}

#[test]
fn the_highest_rate_ends_within_seconds_of_sigint() {
    let server = Fixture::start("ok");
    let child = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(["load", "-q", "--rate", "10000000", "-d", "60s", "-c", "2"])
        .arg(server.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it run into the schedule it cannot follow.
    std::thread::sleep(Duration::from_millis(1500));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let interrupted = Instant::now();
    let output = wait_output(child, Duration::from_secs(10));
    assert!(
        interrupted.elapsed() < Duration::from_secs(10),
        "ended {:?} after SIGINT",
        interrupted.elapsed()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // What it measured is still reported, with the slots it could not send.
    assert!(stdout.contains("never sent"), "{stdout}");
}

/// Waits for `child` at most `limit` (killing it then), and collects its output.
fn wait_output(mut child: std::process::Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
    }
    child.wait_with_output().unwrap()
}
