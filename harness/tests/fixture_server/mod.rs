//! A `lanebench-fixture` server process for tests, on an ephemeral loopback port, killed
//! (after a SIGCONT, in case a test paused it) when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A running fixture server.
pub struct Fixture {
    child: Child,
    pub addr: SocketAddr,
}

impl Fixture {
    /// Starts the fixture in `mode` (see the binary's docs) and waits until it listens.
    #[allow(dead_code)]
    pub fn start(mode: &str) -> Fixture {
        Fixture::start_with(mode, &[])
    }

    /// [`Fixture::start`] with extra arguments (e.g. `--delay-ms 300`).
    #[allow(dead_code)]
    pub fn start_with(mode: &str, extra: &[&str]) -> Fixture {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lanebench-fixture"))
            .args(["--port", "0", "--mode", mode])
            .args(extra)
            .env_remove("PORT")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .parse()
            .unwrap();
        Fixture { child, addr }
    }

    /// `http://ADDR/health`.
    #[allow(dead_code)]
    pub fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    /// The server's process id.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the server process.
    #[allow(dead_code)]
    pub fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGCONT) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A closed-loop GET of `path` at `addr`: one connection and thread for a second, a 5 s
/// request timeout, no warm-up; tests change what they need with `..get_load(..)`.
#[allow(dead_code)]
pub fn get_load(addr: SocketAddr, path: &str) -> lanebench::load::LoadSettings {
    use lanebench::load::outcome::ExpectedStatus;
    use lanebench::load::request::{Endpoint, PreparedRequest, RequestPlan};
    use std::time::Duration;
    let url = format!("http://{addr}{path}");
    let endpoint = Endpoint::parse(&url, false).unwrap();
    let request = PreparedRequest::build(
        "GET",
        &endpoint,
        &endpoint.path,
        &[],
        b"",
        ExpectedStatus::SuccessOrRedirect,
    )
    .unwrap();
    lanebench::load::LoadSettings {
        url,
        addr,
        plan: RequestPlan::single(request),
        connections: 1,
        threads: 1,
        duration: Some(Duration::from_secs(1)),
        requests: None,
        warmup: Duration::ZERO,
        rate: None,
        timeout: Duration::from_secs(5),
        max_send_lag: lanebench::load::DEFAULT_MAX_SEND_LAG,
        wait_in_flight: false,
        cpus: None,
    }
}
