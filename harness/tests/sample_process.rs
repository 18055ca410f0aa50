//! Sampling real process trees through `/proc`, and per-target cgroups on this machine.

use std::io::{BufRead, BufReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lanebench::sample::{tree_pids, tree_usage, MemorySampler, TargetCgroup};

const MIB: u64 = 1024 * 1024;

/// A shell command run in its own process group; the whole tree (including
/// descendants that left the group) is killed when the guard drops.
struct TreeGuard {
    child: Child,
}

impl TreeGuard {
    fn spawn(script: &str) -> TreeGuard {
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        TreeGuard { child }
    }

    /// Waits for the tree to print `line` on its stdout.
    fn wait_for_line(&mut self, expected: &str) {
        let stdout = self.child.stdout.as_mut().expect("stdout is piped");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while line.trim() != expected {
            line.clear();
            let read = reader.read_line(&mut line).expect("read stdout");
            assert!(read > 0, "stdout closed before {expected:?}");
        }
    }

    fn leader(&self) -> u32 {
        self.child.id()
    }

    fn kill(&mut self) {
        for pid in tree_pids(self.leader()) {
            // SAFETY: only sends a signal to a process of the tree this test started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        // SAFETY: the leader's pid is its process group id.
        unsafe { libc::killpg(self.leader() as libc::pid_t, libc::SIGKILL) };
        let _ = self.child.wait();
        // Orphans are reaped by init shortly after; wait so no test leaves them behind.
        let deadline = Instant::now() + Duration::from_secs(2);
        while !tree_pids(self.leader()).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for TreeGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `condition` every 20 ms for up to 15 s.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A 64 MiB allocation that is really written (so resident), then a long sleep.
const ALLOCATE_64_MIB: &str =
    "python3 -c \"x = b'x' * (64 << 20); import time; print('ready', flush=True); time.sleep(30)\"";

#[test]
fn tree_usage_counts_every_process_and_its_memory() {
    let script = format!("{ALLOCATE_64_MIB} & python3 -c 'import time; time.sleep(30)' & wait");
    let mut tree = TreeGuard::spawn(&script);
    let leader = tree.leader();
    tree.wait_for_line("ready");
    wait_until("3 processes", || tree_usage(leader).processes == 3);
    let pids = tree_pids(leader);
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert!(pids.contains(&leader));

    let usage = tree_usage(leader);
    assert_eq!(usage.processes, 3);
    assert!(usage.rss_bytes >= 64 * MIB, "{usage:?}");
    let pss = usage.pss_bytes.expect("this kernel has smaps_rollup");
    assert!(pss <= usage.rss_bytes, "{usage:?}");
    // The 64 MiB are private to one process, so PSS must hold them too.
    assert!(pss >= 64 * MIB, "{usage:?}");
}

#[test]
fn tree_includes_descendants_that_left_the_group() {
    // In a non-interactive shell a background job is not a group leader, so setsid
    // runs in that same process and moves it into a new session and group.
    let tree = TreeGuard::spawn("setsid sleep 30 & wait");
    let leader = tree.leader();
    // The child starts in the group and leaves it once setsid runs; from then on only
    // the parent link ties it to the target.
    wait_until("a tree member outside the group", || {
        tree_pids(leader)
            .iter()
            .any(|&pid| pid != leader && process_group(pid).is_some_and(|pgrp| pgrp != leader))
    });
    assert_eq!(tree_pids(leader).len(), 2);
}

/// The process group of `pid`, if it is alive.
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

#[test]
fn cpu_time_grows_for_a_busy_child() {
    let tree = TreeGuard::spawn("while :; do :; done & wait");
    let leader = tree.leader();
    wait_until("the busy child", || tree_pids(leader).len() == 2);
    let before = tree_usage(leader).cpu;
    std::thread::sleep(Duration::from_millis(600));
    let after = tree_usage(leader).cpu;
    // Two CPUs shared with other work: demand a fraction of one CPU, not all of it.
    assert!(
        after >= before + Duration::from_millis(100),
        "cpu before {before:?}, after {after:?}"
    );
}

#[test]
fn vanished_tree_reads_as_empty() {
    let mut tree = TreeGuard::spawn("exec sleep 30");
    let leader = tree.leader();
    assert_eq!(tree_usage(leader).processes, 1);
    tree.kill();
    let usage = tree_usage(leader);
    assert_eq!(usage.processes, 0);
    assert_eq!(usage.rss_bytes, 0);
    assert!(tree_pids(leader).is_empty());
}

#[test]
fn sampler_keeps_its_interval_and_survives_the_tree_dying() {
    let mut tree = TreeGuard::spawn("sleep 30 & sleep 30 & wait");
    let leader = tree.leader();
    wait_until("3 processes", || tree_pids(leader).len() == 3);
    let interval = Duration::from_millis(100);
    let sampler = MemorySampler::start(leader, interval);
    std::thread::sleep(Duration::from_millis(1050));
    let live = sampler.snapshot();
    assert!(
        (6..=13).contains(&live.len()),
        "{} samples in 1.05 s",
        live.len()
    );
    let mut gaps: Vec<f64> = live
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_secs_f64())
        .collect();
    gaps.sort_by(f64::total_cmp);
    let median_gap = gaps[gaps.len() / 2];
    assert!(
        (0.08..=0.2).contains(&median_gap),
        "median gap {median_gap} s"
    );
    assert!(
        live.iter().all(|s| s.processes == 3 && s.rss_bytes > 0),
        "{live:?}"
    );
    // The first sample is taken at once, not after a first interval (the margin is
    // for a loaded machine).
    assert!(live[0].at < interval, "first sample at {:?}", live[0].at);

    tree.kill();
    std::thread::sleep(Duration::from_millis(350));
    let all = sampler.stop();
    assert!(all.len() >= live.len());
    assert_eq!(&all[..live.len()], &live[..]);
    assert!(
        all.iter().all(|s| s.processes > 0),
        "a dead tree was recorded"
    );
}

/// Creates a cgroup, or checks that the refusal explains itself for both versions.
fn create_or_explain(name: &str) -> Option<TargetCgroup> {
    match TargetCgroup::create(name) {
        Ok(cgroup) => Some(cgroup),
        Err(error) => {
            let message = error.to_string();
            eprintln!("no cgroup on this machine: {message}");
            assert!(
                message.contains("cgroup v2: ") && message.contains("cgroup v1: "),
                "the error must say why each version failed: {message}"
            );
            None
        }
    }
}

#[test]
fn target_cgroup_accounts_what_its_process_allocates() {
    let Some(cgroup) = create_or_explain("sample-test") else {
        return;
    };
    eprintln!("using {} at {:?}", cgroup.kind(), cgroup.procs_files());
    assert!(matches!(cgroup.kind(), "cgroup-v2" | "cgroup-v1"));
    let dirs: Vec<_> = cgroup
        .procs_files()
        .iter()
        .map(|f| f.parent().unwrap().to_path_buf())
        .collect();
    assert!(dirs.iter().all(|d| d.is_dir()));
    let empty = cgroup
        .memory_current_bytes()
        .expect("memory use of the empty cgroup");
    assert!(
        empty < 16 * MIB,
        "an empty cgroup already uses {empty} bytes"
    );

    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(ALLOCATE_64_MIB)
        .stdout(Stdio::piped())
        .process_group(0);
    cgroup.enter_on_spawn(&mut command);
    let mut tree = TreeGuard {
        child: command.spawn().expect("spawn into the cgroup"),
    };
    let mut line = String::new();
    let stdout = tree.child.stdout.take().unwrap();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read ready");
    assert_eq!(line.trim(), "ready");

    let members = cgroup.pids();
    assert!(members.contains(&tree.leader()), "{members:?}");
    let current = cgroup.memory_current_bytes().expect("memory.current");
    let peak = cgroup.memory_peak_bytes().expect("memory peak");
    assert!(current >= 64 * MIB, "current {current}");
    assert!(peak >= current, "peak {peak} < current {current}");
    let cpu = cgroup.cpu_usage().expect("cpu usage");
    assert!(cpu > Duration::ZERO);

    match cgroup.reset_peak() {
        Ok(()) => {
            let reset = cgroup.memory_peak_bytes().expect("peak after reset");
            assert!(
                reset >= 64 * MIB,
                "reset peak {reset} below what is still allocated"
            );
        }
        Err(error) => assert!(cgroup.kind() == "cgroup-v2", "v1 always resets: {error}"),
    }

    // Dropping the cgroup kills what is left in it and removes its directories.
    drop(cgroup);
    let status = tree.child.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    for dir in &dirs {
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
}

#[test]
fn target_cgroup_adopts_a_running_process() {
    let Some(cgroup) = create_or_explain("adopt-test") else {
        return;
    };
    let tree = TreeGuard::spawn("exec sleep 30");
    cgroup.add_pid(tree.leader()).expect("add pid");
    for file in cgroup.procs_files() {
        let listed = std::fs::read_to_string(file).expect("read procs");
        assert!(
            listed.lines().any(|l| l == tree.leader().to_string()),
            "{}: {listed}",
            file.display()
        );
    }
    assert!(
        cgroup.add_pid(u32::MAX - 1).is_err(),
        "a non-existent pid must be refused"
    );
}

#[test]
fn target_cgroup_removes_cgroups_left_by_a_killed_harness() {
    let Some(first) = create_or_explain("stale-probe") else {
        return;
    };
    let parents: Vec<_> = first
        .procs_files()
        .iter()
        .map(|f| f.parent().unwrap().parent().unwrap().to_path_buf())
        .collect();
    drop(first);
    // A pid that has certainly exited: a child we already reaped.
    let mut gone = Command::new("true").spawn().expect("spawn true");
    gone.wait().expect("wait true");
    let stale: Vec<_> = parents
        .iter()
        .map(|p| p.join(format!("lanebench-{}-0-stale", gone.id())))
        .collect();
    for dir in &stale {
        std::fs::create_dir(dir).expect("create a stale cgroup");
    }
    let _second = TargetCgroup::create("stale-check").expect("create again");
    for dir in &stale {
        let left = dir.exists();
        let _ = std::fs::remove_dir(dir);
        assert!(!left, "{} was not removed", dir.display());
    }
}
