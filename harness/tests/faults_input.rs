//! Bad input and resource limits: scenario, manifest and results files that are broken
//! are refused with exit 2, one line naming the file (and line), and nothing written; a
//! connection count above the open-file limit is refused with the number needed, or the
//! soft limit is raised when the hard one allows. docs/reliability.md lists the rest.

use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

mod fixture_server;
mod workspace;
use fixture_server::Fixture;
use workspace::Workspace;

fn one_line_naming(output: &Output, needle: &str) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    stderr
}

#[test]
fn bad_scenarios_are_refused_with_file_and_line_and_nothing_written() {
    let ws = Workspace::new();
    ws.add_fixture("good", "--mode ok", "");
    let base = "name = \"bad\"\nduration = \"1s\"\nconnections = [1]\n\n[[request]]\nname = \"h\"\npath = \"/\"\n";
    let cases = [
        ("syntax error", base.replace("\"1s\"", "\"1s"), 2),
        (
            "unknown key",
            base.replace("[[request]]", "colour = \"red\"\n[[request]]"),
            5,
        ),
        ("bad duration", base.replace("\"1s\"", "\"soon\""), 2),
        ("bad rate", base.replace("[1]", "[1]\nrate = -5"), 4),
        ("zero weight", format!("{base}weight = 0\n"), 8),
        (
            "bad template",
            base.replace("\"/\"", "\"/u/{rand:9..1}\""),
            7,
        ),
    ];
    for (what, text, line) in cases {
        let path = ws.path().join("bad.toml");
        std::fs::write(&path, &text).unwrap();
        let output = ws.lanebench("run", &path).output().unwrap();
        let stderr = one_line_naming(&output, &format!("bad.toml:{line}"));
        assert!(
            !ws.results_dir().exists(),
            "{what}: results written: {stderr}"
        );
    }
}

#[test]
fn manifest_missing_a_field_is_refused_by_run_and_targets() {
    let ws = Workspace::new();
    ws.add_fixture("good", "--mode ok", "");
    let folder = ws.path().join("targets/broken");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("target.toml"),
        "name = \"broken\"\nframework = \"X\"\n",
    )
    .unwrap();
    let scenario = ws.scenario("duration = \"1s\"\nconnections = [1]", "/health");
    let output = ws.lanebench("run", &scenario).output().unwrap();
    one_line_naming(&output, "broken/target.toml");
    assert!(
        !ws.results_dir().exists(),
        "nothing is written for bad input"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .arg("targets")
        .arg("--targets-dir")
        .arg(ws.path().join("targets"))
        .output()
        .unwrap();
    one_line_naming(&output, "broken/target.toml");
    assert!(ws.live_servers().is_empty());
}

#[test]
fn malformed_results_json_is_refused_by_report_and_compare_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("run");
    std::fs::create_dir(&folder).unwrap();
    let results = folder.join("results.json");
    std::fs::write(&results, "{\n  \"schema_version\": 1,\n  \"targets\": [\n").unwrap();
    let lanebench = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_lanebench"))
            .args(args)
            .output()
            .unwrap()
    };
    let output = lanebench(&["report".as_ref(), folder.as_os_str()]);
    let stderr = one_line_naming(&output, "results.json");
    assert!(stderr.contains("line 4"), "{stderr}");
    let output = lanebench(&["compare".as_ref(), results.as_os_str(), results.as_os_str()]);
    let stderr = one_line_naming(&output, "results.json");
    assert!(stderr.contains("line 4"), "{stderr}");
    let written: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(written, ["results.json"], "nothing else is written");
}

/// `lanebench load -c <connections>` on `url` with the open-file limit set to soft/hard.
fn load_with_fd_limit(url: &str, connections: u32, soft: u64, hard: u64) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lanebench"));
    command.args([
        "load",
        "-q",
        "-d",
        "1s",
        "-c",
        &connections.to_string(),
        url,
    ]);
    // SAFETY: setrlimit is async-signal-safe and only affects the child being started.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().unwrap()
}

#[test]
fn connections_above_the_hard_fd_limit_are_refused_with_the_number_needed() {
    let fixture = Fixture::start("ok");
    let output = load_with_fd_limit(&fixture.url(), 5000, 256, 256);
    let stderr = one_line_naming(&output, "--connections 5000");
    assert!(
        stderr.contains("5064 file descriptors are needed"),
        "{stderr}"
    );
    assert!(stderr.contains("hard limit is 256"), "{stderr}");
}

#[test]
fn a_soft_fd_limit_below_the_need_is_raised() {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: current is a valid out-pointer for getrlimit.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut current) },
        0
    );
    // Never above the current hard limit: raising it needs privileges a CI runner may lack.
    let hard = current.rlim_max.min(4096);
    if hard < 700 {
        eprintln!("skipped: the hard open-file limit ({hard}) is below what 600 connections need");
        return;
    }
    let fixture = Fixture::start("ok");
    let output = load_with_fd_limit(&fixture.url(), 600, 256, hard);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn bad_load_flags_are_refused_with_one_line_naming_the_flag() {
    let load = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lanebench"))
            .arg("load")
            .args(args)
            .arg("http://127.0.0.1:9/")
            .output()
            .unwrap()
    };
    for (args, needle) in [
        (&["--start-at", "yesterday"][..], "--start-at"),
        (&["--start-at", "1000"][..], "in the past"),
        (&["--max-send-lag", "0ms"][..], "--max-send-lag"),
    ] {
        let output = load(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        // clap's own error names the flag on its first line; the rest is a usage hint.
        assert!(stderr.lines().next().unwrap().contains(needle), "{stderr}");
    }
}
