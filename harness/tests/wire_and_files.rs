//! Hostile input from issue 20: bytes on the wire the user did not mean to send (CR/LF in
//! a header or the URL, a framing header of the user's, a raw space in the path) and
//! output paths that cannot be written. Each is refused with exit 2 and one line before
//! anything is sent or measured; a listener proves that not even a connection was made.

use std::net::TcpListener;
use std::process::{Command, Output};

mod hostile;
mod workspace;
use hostile::refused;
use workspace::Workspace;

/// A loopback listener nothing should connect to, and its URL prefix.
fn silent_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

fn assert_never_connected(listener: &TcpListener) {
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("something connected: {other:?}"),
    }
}

fn load(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .arg("load")
        .args(["-q", "-c", "1", "-d", "1s"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn crlf_in_a_header_or_the_url_is_refused_before_anything_is_sent() {
    let (listener, base) = silent_listener();
    let url = format!("{base}/");
    let output = load(&["-H", "X-A: 1\r\nX-Injected: yes", &url]);
    refused(&output, &["-H", "X-A", "CR"]);
    let output = load(&["-H", "X-A: 1\nX-Injected: yes", &url]);
    refused(&output, &["-H", "X-A", "LF"]);
    let injected = format!("{base}/x\r\nX-Evil: 1");
    let stderr = refused(&load(&[&injected]), &["URL", "contains a CR"]);
    assert!(stderr.contains("\\r\\nX-Evil"), "shown escaped: {stderr}");
    assert_never_connected(&listener);
}

#[test]
fn framing_headers_from_the_command_line_are_refused() {
    let (listener, base) = silent_listener();
    let url = format!("{base}/");
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let output = load(&[
        "-m",
        "POST",
        "-H",
        "Content-Length: 0",
        "--body",
        smuggled,
        &url,
    ]);
    refused(&output, &["-H", "Content-Length", "set by the generator"]);
    for header in [
        "host: elsewhere",
        "Transfer-Encoding: chunked",
        "CONNECTION: close",
    ] {
        let name = header.split(':').next().unwrap();
        refused(&load(&["-H", header, &url]), &["-H", name]);
    }
    assert_never_connected(&listener);
}

/// The choice made for a raw space in the path: refused, with the encoding to use
/// (a scenario file's path gets the same message).
#[test]
fn a_space_in_the_path_is_refused_with_the_encoding_to_use() {
    let (listener, base) = silent_listener();
    let url = format!("{base}/a b");
    refused(&load(&[&url]), &["contains a space", "%20"]);
    assert_never_connected(&listener);
}

#[test]
fn json_that_cannot_be_written_fails_before_any_load() {
    let (listener, base) = silent_listener();
    let url = format!("{base}/");
    let dir = tempfile::tempdir().unwrap();
    let shown = dir.path().display().to_string();
    let output = load(&["--json", &shown, &url]);
    refused(&output, &["--json", &shown, "is a directory"]);
    // /proc takes no new file, whoever runs the test (root included).
    let output = load(&["--json", "/proc/lanebench.json", &url]);
    refused(
        &output,
        &["--json /proc/lanebench.json", "cannot write in /proc"],
    );
    assert_never_connected(&listener);
}

#[test]
fn run_out_pointing_at_a_file_names_the_path_before_anything_starts() {
    let ws = Workspace::new();
    ws.add_fixture("good", "--mode ok", "");
    let scenario = ws.scenario("duration = \"1s\"\nconnections = [1]", "/health");
    let file = ws.path().join("afile");
    std::fs::write(&file, "kept").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lanebench"))
        .arg("run")
        .arg("--scenario")
        .arg(&scenario)
        .arg("--targets-dir")
        .arg(ws.path().join("targets"))
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    let shown = file.display().to_string();
    refused(&output, &["--out", &shown, "not a directory"]);
    assert_eq!(std::fs::read(&file).unwrap(), b"kept");
    assert!(ws.live_servers().is_empty());
}
