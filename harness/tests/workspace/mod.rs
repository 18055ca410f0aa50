//! A temporary targets folder for run and fault tests: targets that run `lanebench-fixture`
//! through a uniquely named link (so leftover processes can be found by path), scenario
//! files, `lanebench` commands aimed at it, and process-liveness checks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A temporary targets folder whose servers run through a uniquely named link to
/// `lanebench-fixture`, so any process a test leaves behind can be found by its path.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace::with_dir(tempfile::tempdir().unwrap())
    }

    /// A workspace below the build's target directory that every user may enter, for
    /// tests that run PostgreSQL (as the `postgres` user when the tests run as root).
    pub fn open() -> Workspace {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("ws-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Workspace::with_dir(dir)
    }

    fn with_dir(dir: tempfile::TempDir) -> Workspace {
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_lanebench-fixture"),
            dir.path().join("fixture-server"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("targets")).unwrap();
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn fixture(&self) -> String {
        self.path().join("fixture-server").display().to_string()
    }

    /// Adds a target whose run command is `run`, with `extra` manifest lines.
    pub fn add_target(&self, name: &str, run: &str, extra: &str) {
        let folder = self.path().join("targets").join(name);
        std::fs::create_dir(&folder).unwrap();
        let manifest = format!(
            "name = \"{name}\"\nframework = \"Fixture\"\nlanguage = \"Rust\"\nversion = \"1.0\"\n\
             build = \"true\"\nrun = {run:?}\nhealth = \"/health\"\n{extra}"
        );
        std::fs::write(folder.join("target.toml"), manifest).unwrap();
    }

    /// Adds a target serving `lanebench-fixture <args>`.
    pub fn add_fixture(&self, name: &str, args: &str, extra: &str) {
        self.add_target(name, &format!("exec {} {args}", self.fixture()), extra);
    }

    pub fn scenario(&self, top: &str, path: &str) -> PathBuf {
        let file = self.path().join("scenario.toml");
        let text = format!(
            "name = \"faults\"\nwarmup = \"0s\"\nsteady_state = false\nrepeats = 1\nstartup_samples = 1\n{top}\n\n\
             [[request]]\nname = \"probe\"\npath = \"{path}\"\nexpect_status = 200\n"
        );
        std::fs::write(&file, text).unwrap();
        file
    }

    /// Writes a scenario file with exactly `text`.
    pub fn write_scenario(&self, text: &str) -> PathBuf {
        let file = self.path().join("scenario.toml");
        std::fs::write(&file, text).unwrap();
        file
    }

    pub fn lanebench(&self, subcommand: &str, scenario: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lanebench"));
        command
            .arg(subcommand)
            .arg("--scenario")
            .arg(scenario)
            .arg("--targets-dir")
            .arg(self.path().join("targets"))
            .arg("--out")
            .arg(self.results_dir());
        command
    }

    pub fn results_dir(&self) -> PathBuf {
        self.path().join("results")
    }

    pub fn results(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.results_dir().join("results.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn finished_targets(&self) -> usize {
        self.results()
            .and_then(|v| v["targets"].as_array().map(Vec::len))
            .unwrap_or(0)
    }

    /// Pids of processes started from this workspace's fixture link.
    pub fn live_servers(&self) -> Vec<u32> {
        let marker = self.fixture();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&marker) && !is_zombie(pid) {
                pids.push(pid);
            }
        }
        pids
    }

    pub fn wait_no_servers(&self, within: Duration) -> Vec<u32> {
        let deadline = Instant::now() + within;
        loop {
            let live = self.live_servers();
            if live.is_empty() || Instant::now() >= deadline {
                return live;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        for pid in self.live_servers() {
            // SAFETY: kill only sends a signal to a process this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

pub fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

pub fn pid_gone(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    !alive || is_zombie(pid as u32)
}

pub fn wait_gone(pid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if pid_gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
