//! `lanebench verify --store postgres` as a user runs it, against the machine's real
//! PostgreSQL: every fault is one line and exit 2, an interrupt or a killed harness
//! leaves no PostgreSQL process and no data folder, a database killed mid-check fails
//! the targets promptly, and an external server keeps none of our databases.
//!
//! The targets are `lanebench-fixture` servers (memory-mode only, so their database
//! rules fail: that is not what these tests judge). Real targets in database mode are
//! checked by `scripts/test.sh` (`verify --all --store postgres`).

mod pg_support;
mod workspace;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use lanebench::store::{PgServer, PgSettings};
use pg_support::{fake_bin_dir, open_dir, pg_processes_below, wait_until};
use workspace::Workspace;

/// A schema small enough to apply in a blink (the real one seeds a million users).
const TINY_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL);
CREATE TABLE IF NOT EXISTS order_items (order_id bigint NOT NULL, position int NOT NULL);
";

fn workspace(targets: &[(&str, &str)]) -> Workspace {
    let ws = Workspace::open();
    std::fs::write(ws.path().join("targets/schema.sql"), TINY_SCHEMA).unwrap();
    for (name, args) in targets {
        ws.add_fixture(name, args, "ready_timeout = \"30s\"\n");
    }
    ws
}

fn verify(ws: &Workspace, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lanebench"));
    command
        .arg("verify")
        .arg("--targets-dir")
        .arg(ws.path().join("targets"))
        .args(args);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Server folders (`lanebench-pg-*`) left in the workspace's `target/`.
fn folders_left(ws: &Workspace) -> Vec<String> {
    std::fs::read_dir(ws.path().join("target"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("lanebench-pg-"))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_nothing_left(ws: &Workspace) {
    assert!(
        wait_until(Duration::from_secs(10), || pg_processes_below(ws.path())
            .is_empty()),
        "PostgreSQL processes left: {:?}",
        pg_processes_below(ws.path())
    );
    assert_eq!(
        folders_left(ws),
        Vec::<String>::new(),
        "server folders left"
    );
    assert!(
        ws.live_servers().is_empty(),
        "target servers left: {:?}",
        ws.live_servers()
    );
}

/// Spawns `command` with stderr lines sent to the returned channel.
fn spawn_watched(mut command: Command) -> (Child, Receiver<String>) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (child, received)
}

/// Waits for a stderr line containing `marker`; returns it.
fn wait_for_line(lines: &Receiver<String>, marker: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(marker) {
                    return line;
                }
            }
            Err(_) => panic!(
                "no line with {marker:?}; stderr so far:\n{}",
                seen.join("\n")
            ),
        }
    }
}

/// The postmaster pid from the `postgres: ... (pid N, ...)` line.
fn postmaster_pid(line: &str) -> i32 {
    let rest = line.split("(pid ").nth(1).expect("pid in the line");
    rest.split(',').next().unwrap().trim().parse().unwrap()
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

#[test]
fn sigint_mid_verify_stops_the_target_and_postgres_and_removes_the_folder() {
    // The target never becomes ready, so the interrupt lands while verify waits on it.
    let ws = workspace(&[("waits", "--mode not-ready")]);
    let (mut child, lines) = spawn_watched(verify(&ws, &["--store", "postgres", "--all"]));
    let mut seen = Vec::new();
    let started = wait_for_line(&lines, "postgres: PostgreSQL", &mut seen);
    wait_for_line(&lines, "waits: database", &mut seen);
    assert!(
        !pg_processes_below(ws.path()).is_empty(),
        "the server runs: {started}"
    );
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status =
        wait_exit(&mut child, Duration::from_secs(30)).expect("verify did not stop within 30 s");
    assert_eq!(status.code(), Some(130), "stderr:\n{}", seen.join("\n"));
    assert_nothing_left(&ws);
}

#[test]
fn a_sigkilled_verify_takes_postgres_down_and_the_next_start_sweeps_its_folder() {
    let ws = workspace(&[("waits", "--mode not-ready")]);
    let (mut child, lines) = spawn_watched(verify(&ws, &["--store", "postgres", "--all"]));
    let mut seen = Vec::new();
    wait_for_line(&lines, "waits: database", &mut seen);
    child.kill().unwrap();
    child.wait().unwrap();
    // The postmaster dies with its parent; its backends notice and exit.
    assert!(
        wait_until(Duration::from_secs(10), || pg_processes_below(ws.path())
            .is_empty()),
        "PostgreSQL outlived a SIGKILLed harness: {:?}",
        pg_processes_below(ws.path())
    );
    assert_eq!(folders_left(&ws).len(), 1, "nothing could run to remove it");
    // The next start removes the folder of the dead harness.
    let manifest = ws.path().join("targets/waits/target.toml");
    let quick = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("--mode not-ready", "--mode ok");
    std::fs::write(&manifest, quick).unwrap();
    let output = verify(&ws, &["--store", "postgres", "--all"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_nothing_left(&ws);
}

#[test]
fn a_database_killed_mid_verify_fails_the_targets_promptly_and_leaves_nothing() {
    let ws = workspace(&[("first", "--mode ok"), ("second", "--mode ok")]);
    let json = ws.path().join("verify.json");
    let (mut child, lines) = spawn_watched(verify(
        &ws,
        &[
            "--store",
            "postgres",
            "--all",
            "--json",
            json.to_str().unwrap(),
        ],
    ));
    let mut seen = Vec::new();
    let started = wait_for_line(&lines, "postgres: PostgreSQL", &mut seen);
    wait_for_line(&lines, "first: ready in", &mut seen);
    unsafe { libc::kill(postmaster_pid(&started), libc::SIGKILL) };
    let begun = Instant::now();
    let status = wait_exit(&mut child, Duration::from_secs(120))
        .expect("verify hung after the database died");
    while let Ok(line) = lines.try_recv() {
        seen.push(line);
    }
    assert_eq!(status.code(), Some(1), "stderr:\n{}", seen.join("\n"));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let second = &written["results"][1];
    assert_eq!(second["target"], "second");
    assert_eq!(second["status"], "error");
    let reason = second["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("PostgreSQL died (killed by signal 9 (SIGKILL))"),
        "{reason}"
    );
    assert!(!reason.contains('\n'), "{reason}");
    assert!(
        seen.iter()
            .any(|l| l.starts_with("second: FAILED: PostgreSQL died")),
        "{}",
        seen.join("\n")
    );
    eprintln!("verify ended {:?} after the kill", begun.elapsed());
    assert_nothing_left(&ws);
}

fn assert_usage_error(output: &Output, needle: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(errors[0].contains(needle), "{needle:?} not in {stderr}");
}

#[test]
fn start_up_faults_are_one_line_and_exit_2_and_leave_nothing() {
    let ws = workspace(&[("ok", "--mode ok")]);
    let empty = ws.path().join("no-postgres");
    std::fs::create_dir(&empty).unwrap();
    let missing = verify(
        &ws,
        &[
            "--store",
            "postgres",
            "--all",
            "--pg-bin",
            empty.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_usage_error(&missing, "no initdb and postgres in");
    assert_usage_error(&missing, "apt-get install postgresql");

    let bin = fake_bin_dir(
        ws.path(),
        "echo 'initdb: error: cannot be run as root' >&2; exit 1",
        "exit 0",
    );
    let initdb = verify(
        &ws,
        &[
            "--store",
            "postgres",
            "--all",
            "--pg-bin",
            bin.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_usage_error(&initdb, "initdb failed (exit code 1)");
    assert_usage_error(&initdb, "cannot be run as root");

    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let taken = verify(&ws, &["--store", "postgres", "--all", "--db-port", &port])
        .output()
        .unwrap();
    assert_usage_error(
        &taken,
        &format!("port {port} on 127.0.0.1 is already in use"),
    );
    assert_nothing_left(&ws);
}

#[test]
fn bad_database_flags_are_refused_before_anything_starts() {
    let ws = workspace(&[("ok", "--mode ok")]);
    let cases: [(&[&str], &str); 5] = [
        (
            &["--database-url", "postgres://u@127.0.0.1/x"],
            "--database-url: needs --store postgres",
        ),
        (
            &[
                "--store",
                "postgres",
                "--database-url",
                "mysql://u@127.0.0.1/x",
            ],
            "--database-url: database URL mysql://u@127.0.0.1/x: expected postgres://",
        ),
        (
            &[
                "--store",
                "postgres",
                "--database-url",
                "postgres://u:hunter2@db.example.com/x",
            ],
            "database host `db.example.com` is not loopback",
        ),
        (
            &[
                "--store",
                "postgres",
                "--database-url",
                "postgres://u@127.0.0.1/x",
                "--db-port",
                "5",
            ],
            "--db-port: only for the PostgreSQL lanebench starts",
        ),
        (
            &["--store", "postgres", "--allow-remote"],
            "--allow-remote: only for --database-url",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["--all"];
        all.extend_from_slice(args);
        let output = verify(&ws, &all).output().unwrap();
        assert_usage_error(&output, needle);
        assert!(
            !text(&output.stderr).contains("hunter2"),
            "the password is never printed"
        );
    }
    assert!(
        !ws.path().join("target").exists(),
        "nothing was started or written"
    );
}

#[test]
fn an_unreachable_external_server_is_one_line_and_exit_2() {
    let ws = workspace(&[("ok", "--mode ok")]);
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let started = Instant::now();
    let output = verify(
        &ws,
        &["--store", "postgres", "--all", "--database-url", &url],
    )
    .output()
    .unwrap();
    assert_usage_error(&output, "psql SELECT name, current_setting(name), source:");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn an_external_server_is_used_and_keeps_none_of_our_databases() {
    let parent = open_dir();
    let mut server = PgServer::start(&PgSettings::new(parent.path()), None).unwrap();
    let ws = workspace(&[("ok", "--mode ok")]);
    let json = ws.path().join("verify.json");
    let url = server.url("postgres").secret_string();
    let output = verify(
        &ws,
        &[
            "--store",
            "postgres",
            "--all",
            "--database-url",
            &url,
            "--json",
            json.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    let stdout = text(&output.stdout);
    // The fixture keeps orders in memory: the database rules catch it.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("FAIL  db.orders_survive"), "{stdout}");
    assert!(
        stdout.contains("PASS  process.exits_on_sigterm"),
        "{stdout}"
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(written["store"]["server"], "external");
    assert_eq!(written["store"]["durability"], "durable");
    let psql = lanebench::store::psql::Psql::new(server.binaries().psql.clone());
    let left = psql
        .query(
            &server.url("postgres"),
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'lanebench\\_%'",
            None,
        )
        .unwrap();
    assert_eq!(left.trim(), "0", "our databases are dropped");
    server.check_running().unwrap();
    assert_eq!(
        folders_left(&ws),
        Vec::<String>::new(),
        "no server of our own was started"
    );
}
