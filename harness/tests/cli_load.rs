//! `lanebench load` as a user runs it: exit codes, one-line errors, and the JSON keys the
//! documentation promises.

use std::process::{Command, Stdio};

mod fixture_server;
use fixture_server::Fixture;

fn lanebench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lanebench"))
}

#[test]
fn json_output_has_the_documented_keys() {
    let fixture = Fixture::start("ok");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let status = lanebench()
        .args(["load", "-c", "4", "-d", "1s", "--json"])
        .arg(&out)
        .arg(fixture.url())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    for key in [
        "requests",
        "duration_s",
        "rps",
        "latency_ms",
        "errors",
        "timeline",
        "generator",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
        assert!(json["latency_ms"][key].is_number(), "latency_ms.{key}");
    }
    for key in [
        "connect",
        "timeout",
        "read",
        "write",
        "parse",
        "status_4xx",
        "status_5xx",
    ] {
        assert_eq!(json["errors"][key], 0, "errors.{key}");
    }
    for key in ["t", "requests", "errors", "p99_ms"] {
        assert!(json["timeline"][0].get(key).is_some(), "timeline[0].{key}");
    }
    assert!(json["generator"]["threads"].as_u64().unwrap() >= 1);
    assert!(json["generator"]["cpu_s"].as_f64().unwrap() > 0.0);
    assert!(json["requests"].as_u64().unwrap() > 0);
    assert!(
        json["latency_uncorrected_ms"].is_null(),
        "closed loop has no uncorrected figures"
    );
}

#[test]
fn json_to_stdout_keeps_stdout_machine_readable() {
    let fixture = Fixture::start("ok");
    let output = lanebench()
        .args([
            "load",
            "-c",
            "2",
            "-n",
            "20",
            "--rate",
            "200",
            "--json",
            "-",
            &fixture.url(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["requests"], 20);
    assert!(json["latency_uncorrected_ms"]["p99"].is_number());
    assert!(String::from_utf8_lossy(&output.stderr).contains("Requests"));
}

#[test]
fn error_rate_above_the_limit_exits_1() {
    let fixture = Fixture::start("status:500");
    let output = lanebench()
        .args(["load", "-c", "2", "-n", "50", &fixture.url()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--max-error-rate"));
    let output = lanebench()
        .args([
            "load",
            "-c",
            "2",
            "-n",
            "50",
            "--max-error-rate",
            "100%",
            &fixture.url(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_problem() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["load", "http://127.0.0.1:1/", "--body-file", "/nonexistent"],
            "--body-file",
        ),
        (&["load", "ftp://127.0.0.1/"], "ftp://127.0.0.1/"),
        (&["load", "http://192.0.2.7/"], "loopback"),
        (&["load", "-d", "soon", "http://127.0.0.1:1/"], "--duration"),
    ];
    for (args, needle) in cases {
        let output = lanebench().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.lines().next().unwrap_or("").contains(needle),
            "{args:?}: {stderr}"
        );
    }
}
