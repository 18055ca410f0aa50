//! `lanebench verify` and `lanebench targets` as a user runs them: exit codes, output
//! lines and the JSON file.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{ContractServer, Flaw};

fn lanebench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .args(args)
        .output()
        .expect("run lanebench")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// Writes a fake target under `<root>/targets/`, mirroring the repository layout so
/// build logs land in `<root>/target/` inside the temporary folder.
fn write_target(root: &Path, name: &str, requires: &str, run: &str) {
    let dir = root.join("targets").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = format!(
        "name = {name:?}\nframework = \"Fake {name}\"\nlanguage = \"sh\"\nversion = \"9.9\"\n\
         requires = {requires}\nbuild = \"true\"\nrun = {run:?}\nhealth = \"/health\"\n\
         ready_timeout = \"5s\"\n"
    );
    std::fs::write(dir.join("target.toml"), manifest).unwrap();
}

#[test]
fn url_mode_passes_a_correct_server() {
    let server = ContractServer::start(Flaw::None);
    let url = format!("http://{}", server.addr());
    let json = tempfile::NamedTempFile::new().unwrap();
    let out = lanebench(&[
        "verify",
        "--url",
        &url,
        "--json",
        json.path().to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("PASS  health.shape"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    assert_eq!(written["results"][0]["passed"], true);
    assert!(
        written["results"][0]["report"]["rules"]
            .as_array()
            .unwrap()
            .len()
            > 20
    );
}

#[test]
fn url_mode_exits_1_and_prints_the_failed_rule() {
    let server = ContractServer::start(Flaw::NoOrderCap);
    let out = lanebench(&["verify", "--url", &format!("http://{}/", server.addr())]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("FAIL  orders.cap_16")),
        "{stdout}"
    );
}

#[test]
fn non_loopback_url_is_refused_with_exit_2() {
    let out = lanebench(&["verify", "--url", "http://192.0.2.1:8080"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("loopback"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unknown_target_lists_the_known_ones() {
    let root = tempfile::tempdir().unwrap();
    write_target(root.path(), "alpha", "[]", "exit 0");
    write_target(root.path(), "beta", "[]", "exit 0");
    let dir = root.path().join("targets");
    let dir = dir.to_str().unwrap();
    let out = lanebench(&["verify", "--targets-dir", dir, "--target", "gamma"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("known targets: alpha, beta"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_manifest_is_exit_2_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    write_target(root.path(), "alpha", "[]", "exit 0");
    let path = root.path().join("targets/alpha/target.toml");
    let mut manifest = std::fs::read_to_string(&path).unwrap();
    manifest.push_str("ready = true\n");
    std::fs::write(&path, manifest).unwrap();
    let dir = root.path().join("targets");
    let out = lanebench(&["targets", "--targets-dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:10:", path.display())),
        "{stderr}"
    );
}

#[test]
fn target_that_dies_at_start_is_exit_1_with_its_stderr() {
    let root = tempfile::tempdir().unwrap();
    write_target(
        root.path(),
        "crashy",
        "[]",
        "echo 'panic: no config' >&2; exit 4",
    );
    let dir = root.path().join("targets");
    let dir = dir.to_str().unwrap();
    let out = lanebench(&["verify", "--targets-dir", dir, "--target", "crashy"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("exit code 4") && stderr.contains("panic: no config"),
        "{stderr}"
    );
    assert!(root
        .path()
        .join("target/lanebench-logs/crashy-build.log")
        .is_file());
}

#[test]
fn all_skips_targets_with_missing_tools() {
    let root = tempfile::tempdir().unwrap();
    write_target(
        root.path(),
        "absent",
        "[\"lanebench-no-such-tool\"]",
        "exit 0",
    );
    let dir = root.path().join("targets");
    let dir = dir.to_str().unwrap();
    let out = lanebench(&["verify", "--targets-dir", dir, "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("absent: skipped: lanebench-no-such-tool not found"));
    // Asked for by name, a target that cannot be checked is a failure.
    let out = lanebench(&["verify", "--targets-dir", dir, "--target", "absent"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn targets_lists_tools_and_json() {
    let root = tempfile::tempdir().unwrap();
    write_target(
        root.path(),
        "absent",
        "[\"lanebench-no-such-tool\"]",
        "exit 0",
    );
    write_target(root.path(), "here", "[\"sh\"]", "exit 0");
    let dir = root.path().join("targets");
    let dir = dir.to_str().unwrap();
    let out = lanebench(&["targets", "--targets-dir", dir]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{stdout}");
    assert!(
        lines[1].starts_with("absent") && lines[1].ends_with("missing: lanebench-no-such-tool")
    );
    assert!(
        lines[2].starts_with("here") && lines[2].contains("9.9") && lines[2].ends_with("present")
    );
    let out = lanebench(&["targets", "--targets-dir", dir, "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["missing_tool"], "lanebench-no-such-tool");
    assert_eq!(rows[1]["tools_present"], true);
    assert_eq!(rows[1]["protocols"], serde_json::json!(["h1"]));
    assert_eq!(rows[1]["unsupported"]["h2"], "not declared in target.toml");
    assert!(lines[2].contains("h1 (+3 undeclared)"), "{stdout}");
}

#[test]
fn each_protocol_is_started_with_its_environment_or_reported_unsupported() {
    let root = tempfile::tempdir().unwrap();
    let run = "echo \"PROTOCOL=$PROTOCOL TLS_CERT=${TLS_CERT:-none}\" >&2; exit 3";
    write_target(root.path(), "proto", "[\"sh\"]", run);
    let manifest = root.path().join("targets/proto/target.toml");
    let mut toml = std::fs::read_to_string(&manifest).unwrap();
    toml.push_str("protocols = [\"h1\", \"h1-tls\"]\n[unsupported]\nh2c = \"no h2c here\"\n");
    std::fs::write(&manifest, toml).unwrap();
    let dir = root.path().join("targets");
    let dir = dir.to_str().unwrap();
    let args = ["verify", "--targets-dir", dir, "--target", "proto"];
    let out = lanebench(&[&args[..], &["--protocol", "all"]].concat());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("PROTOCOL=h1 TLS_CERT=none"), "{stderr}");
    let tls = stderr
        .lines()
        .find(|l| l.starts_with("PROTOCOL=h1-tls TLS_CERT=/"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(tls.ends_with("/tls-cert.pem"), "{tls}");
    assert!(
        stderr.contains("proto h2c: unsupported: no h2c here"),
        "{stderr}"
    );
    assert!(stderr.contains("proto h2: unsupported: not declared in target.toml"));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("proto h2c: unsupported: no h2c here"),
        "{stdout}"
    );
    // The certificate's folder goes with the invocation.
    let logs = root.path().join("target/lanebench-logs");
    let left: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("lanebench-tls-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Not served: reported, and not a failure.
    let out = lanebench(&[&args[..], &["--protocol", "h2"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn url_mode_refuses_tls_protocols_and_chain_refuses_all_but_h1() {
    let out = lanebench(&["verify", "--url", "http://127.0.0.1:9", "--protocol", "h2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--protocol h2: with --url only h1 or h2c"));
    let out = lanebench(&["verify", "--all", "--chain", "--protocol", "h2c"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--chain: checks h1 only"));
    let out = lanebench(&["verify", "--all", "--protocol", "h3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown protocol 'h3'"));
}
