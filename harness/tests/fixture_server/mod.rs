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
