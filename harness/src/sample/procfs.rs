//! Process-tree figures read from `/proc`: which processes belong to a target and
//! how much memory and CPU time they use together.
//!
//! One pass over `/proc` lists every process with its parent and process group; the
//! tree is then chosen from that list, so a sample costs one directory scan plus a
//! `stat` and `smaps_rollup` read per member. A process that exits between the scan
//! and the reads is skipped: it no longer uses memory, and a half-read figure would be
//! worse than none.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Memory and CPU time of a target's whole process tree at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeUsage {
    /// Number of live processes counted.
    pub processes: usize,
    /// Sum of resident set sizes, in bytes (shared pages count once per process).
    pub rss_bytes: u64,
    /// Sum of proportional set sizes, in bytes, when every counted process's
    /// `/proc/PID/smaps_rollup` could be read; `None` otherwise.
    pub pss_bytes: Option<u64>,
    /// Sum of user + system CPU time of the live processes (`utime + stime`).
    pub cpu: Duration,
    /// Sum of `cutime + cstime` of the live processes: CPU time of their children
    /// that have already exited and been reaped (a restarted worker, a build step).
    pub reaped_children_cpu: Duration,
}

/// The fields of `/proc/PID/stat` the tree walk needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub pid: u32,
    /// Exited but not yet reaped: holds no memory, still reports its CPU time.
    pub zombie: bool,
    pub ppid: u32,
    pub pgrp: u32,
    /// `utime + stime`, in clock ticks.
    pub ticks: u64,
    /// `cutime + cstime`, in clock ticks.
    pub child_ticks: u64,
    /// Resident set size, in pages.
    pub rss_pages: u64,
}

/// Pids of the target led by `leader`: every process in its process group (whose id
/// is the leader's pid), plus every descendant of those processes that moved to another
/// group or session. Zombies are left out. Sorted ascending; empty if none is alive.
pub fn tree_pids(leader: u32) -> Vec<u32> {
    select_tree(leader, &scan_processes())
        .into_iter()
        .filter(|stat| !stat.zombie)
        .map(|stat| stat.pid)
        .collect()
}

/// Memory and CPU time summed over the process tree of `leader` (see [`tree_pids`]).
/// Zombies add their CPU time (it is final) but neither memory nor a process count.
pub fn tree_usage(leader: u32) -> TreeUsage {
    let members = select_tree(leader, &scan_processes());
    let page_size = sysconf_or(libc::_SC_PAGESIZE, 4096);
    let ticks_per_second = sysconf_or(libc::_SC_CLK_TCK, 100);
    let mut usage = TreeUsage {
        pss_bytes: Some(0),
        ..TreeUsage::default()
    };
    let mut ticks = 0u64;
    let mut child_ticks = 0u64;
    for stat in &members {
        if stat.zombie {
            ticks += stat.ticks;
            child_ticks += stat.child_ticks;
            continue;
        }
        // smaps_rollup is read after stat; a process gone by then is left out entirely.
        let rollup = fs::read_to_string(format!("/proc/{}/smaps_rollup", stat.pid))
            .ok()
            .and_then(|text| parse_smaps_rollup(&text));
        match rollup {
            Some(rollup) => {
                usage.rss_bytes += rollup.rss_bytes;
                usage.pss_bytes = usage.pss_bytes.map(|sum| sum + rollup.pss_bytes);
            }
            None if process_alive(stat.pid) => {
                usage.rss_bytes += stat.rss_pages * page_size;
                usage.pss_bytes = None;
            }
            None => continue,
        }
        usage.processes += 1;
        ticks += stat.ticks;
        child_ticks += stat.child_ticks;
    }
    if usage.processes == 0 {
        usage.pss_bytes = None;
    }
    usage.cpu = ticks_to_duration(ticks, ticks_per_second);
    usage.reaped_children_cpu = ticks_to_duration(child_ticks, ticks_per_second);
    usage
}

/// Chooses the tree of `leader` from a full process list (pure, for testing).
pub(crate) fn select_tree(leader: u32, all: &[ProcStat]) -> Vec<ProcStat> {
    let mut children: HashMap<u32, Vec<usize>> = HashMap::new();
    for (index, stat) in all.iter().enumerate() {
        children.entry(stat.ppid).or_default().push(index);
    }
    let mut chosen = BTreeSet::new();
    let mut pending: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, stat)| stat.pgrp == leader || stat.pid == leader)
        .map(|(index, _)| index)
        .collect();
    while let Some(index) = pending.pop() {
        if chosen.insert(index) {
            if let Some(kids) = children.get(&all[index].pid) {
                pending.extend(kids.iter().copied());
            }
        }
    }
    let mut tree: Vec<ProcStat> = chosen.into_iter().map(|index| all[index]).collect();
    tree.sort_by_key(|stat| stat.pid);
    tree
}

/// Every process currently listed in `/proc` (threads are not listed there).
fn scan_processes() -> Vec<ProcStat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(&text)
        })
        .collect()
}

/// Parses one `/proc/PID/stat` line. The command name may contain spaces and
/// parentheses, so fields are counted from the last `)`.
pub(crate) fn parse_stat(line: &str) -> Option<ProcStat> {
    let (head, tail) = line.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    // tail starts at field 3 (state); field N is at index N - 3.
    let fields: Vec<&str> = tail.split_whitespace().collect();
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    let state = fields.first()?;
    Some(ProcStat {
        pid,
        zombie: matches!(*state, "Z" | "X"),
        ppid: u32::try_from(field(4)?).ok()?,
        pgrp: u32::try_from(field(5)?).ok()?,
        ticks: field(14)? + field(15)?,
        child_ticks: field(16)? + field(17)?,
        rss_pages: field(24)?,
    })
}

/// Rss and Pss of one process, in bytes, from `/proc/PID/smaps_rollup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rollup {
    pub rss_bytes: u64,
    pub pss_bytes: u64,
}

/// Parses the `Rss:` and `Pss:` lines (in kB) of `smaps_rollup`; `None` if either is
/// missing (an empty file is what a process that just exited leaves behind).
pub(crate) fn parse_smaps_rollup(text: &str) -> Option<Rollup> {
    let kilobytes = |key: &str| -> Option<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix(key))?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse::<u64>()
            .ok()
    };
    Some(Rollup {
        rss_bytes: kilobytes("Rss:")? * 1024,
        pss_bytes: kilobytes("Pss:")? * 1024,
    })
}

/// Whether `pid` is a live (not zombie) process.
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The entries of `parent` named `<prefix><pid>-...` whose pid is no longer alive: what a
/// harness killed outright (SIGKILL, so no clean-up code ran) left behind. Entries of
/// live harnesses, and names that do not follow the pattern, are never returned.
pub fn orphaned_entries(parent: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            name.to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|owner| !process_alive(owner))
        })
        .map(|entry| entry.path())
        .collect()
}

fn ticks_to_duration(ticks: u64, ticks_per_second: u64) -> Duration {
    let ticks_per_second = ticks_per_second.max(1);
    let whole = ticks / ticks_per_second;
    let rest = ticks % ticks_per_second;
    Duration::from_secs(whole) + Duration::from_nanos(rest * 1_000_000_000 / ticks_per_second)
}

fn sysconf_or(name: libc::c_int, fallback: u64) -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value)
        .ok()
        .filter(|&v| v > 0)
        .unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: u32, ppid: u32, pgrp: u32) -> ProcStat {
        ProcStat {
            pid,
            zombie: false,
            ppid,
            pgrp,
            ticks: 0,
            child_ticks: 0,
            rss_pages: 0,
        }
    }

    #[test]
    fn parses_stat_with_awkward_command_name() {
        let line = "4242 (my (odd) name) S 4200 4242 31268 0 -1 4194304 100 0 0 0 \
                    7 3 2 1 20 0 1 0 172011 3133440 412 18446744073709551615 0";
        let parsed = parse_stat(line).expect("parses");
        assert_eq!(parsed.pid, 4242);
        assert_eq!(parsed.ppid, 4200);
        assert_eq!(parsed.pgrp, 4242);
        assert_eq!(parsed.ticks, 10);
        assert_eq!(parsed.child_ticks, 3);
        assert_eq!(parsed.rss_pages, 412);
        assert!(!parsed.zombie);
        let zombie = line.replace(") S 4200", ") Z 4200");
        assert!(parse_stat(&zombie).expect("parses").zombie);
        assert_eq!(parse_stat("4242 (truncated) S 1"), None);
    }

    #[test]
    fn parses_smaps_rollup_in_bytes() {
        let text = "564a15ca7000-7ffe1bf6e000 ---p 00000000 00:00 0    [rollup]\n\
                    Rss:                1760 kB\nPss:                 271 kB\n\
                    Pss_Dirty:           116 kB\n";
        let rollup = parse_smaps_rollup(text).expect("parses");
        assert_eq!(rollup.rss_bytes, 1760 * 1024);
        assert_eq!(rollup.pss_bytes, 271 * 1024);
        assert_eq!(parse_smaps_rollup(""), None);
    }

    #[test]
    fn tree_is_group_plus_descendants_that_left_it() {
        let all = [
            stat(1, 0, 1),
            stat(100, 1, 100), // leader
            stat(101, 100, 100),
            stat(102, 101, 102), // left the group (setsid), still a descendant
            stat(103, 102, 103), // its child, also counted
            stat(104, 1, 100),   // reparented to init but still in the group
            stat(200, 1, 200),   // unrelated
            stat(201, 200, 200),
        ];
        let pids: Vec<u32> = select_tree(100, &all).iter().map(|s| s.pid).collect();
        assert_eq!(pids, vec![100, 101, 102, 103, 104]);
        assert!(select_tree(300, &all).is_empty());
    }

    #[test]
    fn converts_ticks_exactly() {
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
        assert_eq!(ticks_to_duration(1, 3), Duration::from_nanos(333_333_333));
    }

    #[test]
    fn parses_the_real_stat_file_of_this_process() {
        let own = std::process::id();
        let text = fs::read_to_string(format!("/proc/{own}/stat")).expect("own stat");
        let parsed = parse_stat(&text).expect("own stat parses");
        assert_eq!(parsed.pid, own);
        assert!(parsed.rss_pages > 0);
    }
}
