//! Noise on the server's CPUs: time the hypervisor took away (steal) and time other
//! processes used, read from `/proc/stat` at the start and end of a measured window.
//!
//! Why: on a shared or virtual machine the CPU itself can be taken away from a server
//! that is 99% busy, and its throughput swings without anything in the server changing.
//! Such a level's figures are not comparable, and nothing in the server's own CPU
//! accounting shows it. Method: `/proc/stat` keeps per-CPU tick counters
//! (`cpuN user nice system idle iowait irq softirq steal ...`). Over the window, on the
//! server's CPUs: **steal** = Δsteal / Δ(all ticks); **foreign** = (Δbusy − the server's
//! own CPU time) / Δ(all ticks), where busy is user + nice + system + irq + softirq
//! (guest time is already inside user). The harness pins its own threads to the
//! generator's CPUs, so foreign time is other processes. Ticks are 10 ms, so over a
//! 10 s window the shares are good to about 0.1%.
//!
//! Except that the ticks are samples: the kernel charges each tick to whatever the CPU was
//! doing when it came. A server woken by an evenly spaced open-loop schedule can run in
//! step with the tick, and on a virtual machine the busy ticks then read several times
//! the server's real time (seen here: 20% busy ticks on a CPU whose every task ran 5% of
//! the time, a phantom 15% of "foreign" CPU that set aside probes on a quiet machine).
//! Where the kernel keeps exact per-CPU task time (cgroup v1's root
//! `cpuacct.usage_percpu`, nanoseconds from the scheduler's clock), **foreign** is taken
//! from it instead: (Δ task time on the CPUs − the server's own) / (window × CPUs).
//! Interrupt time is outside task time there, so a server's own network interrupts do
//! not count as foreign. Steal stays from the ticks (the scheduler's clock does not see
//! it).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A level is noisy above these shares of its CPUs' time.
pub const MAX_STEAL: f64 = 0.02;
pub const MAX_FOREIGN: f64 = 0.05;

/// One CPU's counters, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    pub busy: u64,
    pub steal: u64,
    pub total: u64,
}

/// Every CPU's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuStat {
    pub per_cpu: BTreeMap<usize, CpuTicks>,
    /// Exact task time per CPU (ns), where the kernel keeps it, and when it was read.
    pub task_time: Option<TaskTime>,
}

/// Exact per-CPU task time at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTime {
    pub per_cpu_ns: Vec<u64>,
    pub at: Instant,
}

/// cgroup v1's root accounting: every task's time on each CPU, in ns.
const TASK_TIME: &str = "/sys/fs/cgroup/cpuacct/cpuacct.usage_percpu";

impl TaskTime {
    /// Parses `cpuacct.usage_percpu` text: one count per CPU, in CPU order.
    pub fn parse(text: &str, at: Instant) -> Option<TaskTime> {
        let per_cpu_ns = text
            .split_whitespace()
            .map(|v| v.parse().ok())
            .collect::<Option<Vec<u64>>>()?;
        (!per_cpu_ns.is_empty()).then_some(TaskTime { per_cpu_ns, at })
    }

    /// This machine's, when it keeps it.
    fn now() -> Option<TaskTime> {
        let text = std::fs::read_to_string(TASK_TIME).ok()?;
        TaskTime::parse(&text, Instant::now())
    }
}

/// Steal and foreign CPU over a window, as shares of the CPUs' time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    pub steal: f64,
    pub foreign: f64,
}

impl Noise {
    /// Steal above [`MAX_STEAL`] or foreign CPU above [`MAX_FOREIGN`].
    pub fn is_noisy(&self) -> bool {
        self.steal > MAX_STEAL || self.foreign > MAX_FOREIGN
    }
}

impl CpuStat {
    /// Parses the per-CPU lines of `/proc/stat` text (the aggregate `cpu` line and
    /// everything else are ignored).
    pub fn parse(text: &str) -> CpuStat {
        let mut per_cpu = BTreeMap::new();
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let Some(index) = fields
                .next()
                .and_then(|name| name.strip_prefix("cpu"))
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            let v: Vec<u64> = fields.map(|f| f.parse().unwrap_or(0)).collect();
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            // user nice system idle iowait irq softirq steal (guest is inside user).
            let busy = at(0) + at(1) + at(2) + at(5) + at(6);
            let total = busy + at(3) + at(4) + at(7);
            per_cpu.insert(
                index,
                CpuTicks {
                    busy,
                    steal: at(7),
                    total,
                },
            );
        }
        CpuStat {
            per_cpu,
            task_time: None,
        }
    }

    /// Reads `/proc/stat` (or a stand-in for tests).
    pub fn read(path: &Path) -> std::io::Result<CpuStat> {
        Ok(CpuStat::parse(&std::fs::read_to_string(path)?))
    }

    /// This machine's counters now, with its exact task time where it keeps it; empty
    /// when `/proc/stat` is unreadable.
    pub fn now() -> CpuStat {
        let mut stat = CpuStat::read(Path::new("/proc/stat")).unwrap_or_default();
        stat.task_time = TaskTime::now();
        stat
    }
}

/// The noise on `cpus` between two readings, given the server's own CPU time over the
/// same window. `None` when the readings do not cover those CPUs.
pub fn noise_between(
    before: &CpuStat,
    after: &CpuStat,
    cpus: &[usize],
    own: Duration,
) -> Option<Noise> {
    let (mut busy, mut steal, mut total) = (0u64, 0u64, 0u64);
    for cpu in cpus {
        let (a, b) = (before.per_cpu.get(cpu)?, after.per_cpu.get(cpu)?);
        busy += b.busy.saturating_sub(a.busy);
        steal += b.steal.saturating_sub(a.steal);
        total += b.total.saturating_sub(a.total);
    }
    if total == 0 {
        return None;
    }
    let own_ticks = own.as_secs_f64() * clock_ticks_per_second();
    let foreign = match exact_foreign(before, after, cpus, own) {
        Some(foreign) => foreign,
        None => (busy as f64 - own_ticks) / total as f64,
    };
    Some(Noise {
        steal: steal as f64 / total as f64,
        foreign: foreign.max(0.0),
    })
}

/// Foreign CPU from exact task time, when both readings have it for `cpus`.
fn exact_foreign(before: &CpuStat, after: &CpuStat, cpus: &[usize], own: Duration) -> Option<f64> {
    let (a, b) = (before.task_time.as_ref()?, after.task_time.as_ref()?);
    let window = b.at.checked_duration_since(a.at)?.as_secs_f64() * 1e9 * cpus.len() as f64;
    let mut used = 0u64;
    for &cpu in cpus {
        used += b
            .per_cpu_ns
            .get(cpu)?
            .saturating_sub(*a.per_cpu_ns.get(cpu)?);
    }
    (window > 0.0).then(|| (used as f64 - own.as_nanos() as f64) / window)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf takes an integer name and returns a value or -1.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "cpu  500 0 300 9000 10 0 5 20 0 0
cpu0 200 0 100 4000 5 0 2 10 0 0
cpu1 300 0 200 5000 5 0 3 10 0 0
intr 12345
";
    // Over the window cpu0 ran 950 busy ticks of 1000 with 30 stolen; cpu1 was idle.
    const AFTER: &str = "cpu  1500 0 500 10000 10 0 5 50 0 0
cpu0 1050 0 200 4020 5 0 2 40 0 0
cpu1 300 0 200 6000 5 0 3 10 0 0
";

    #[test]
    fn steal_and_foreign_from_a_fake_proc_stat() {
        let (a, b) = (CpuStat::parse(BEFORE), CpuStat::parse(AFTER));
        assert_eq!(a.per_cpu.len(), 2);
        let ticks = clock_ticks_per_second();
        // The server itself used 900 of cpu0's 950 busy ticks.
        let own = Duration::from_secs_f64(900.0 / ticks);
        let n = noise_between(&a, &b, &[0], own).unwrap();
        assert!((n.steal - 30.0 / 1000.0).abs() < 1e-9, "{n:?}");
        assert!((n.foreign - 50.0 / 1000.0).abs() < 1e-6, "{n:?}");
        assert!(n.is_noisy(), "3% steal is above 2%");
        let quiet = noise_between(&a, &b, &[1], Duration::ZERO).unwrap();
        assert_eq!(quiet, Noise::default());
        assert!(!quiet.is_noisy());
        assert_eq!(noise_between(&a, &b, &[7], Duration::ZERO), None);
    }

    #[test]
    fn exact_task_time_decides_foreign_where_the_kernel_keeps_it() {
        let (mut a, mut b) = (CpuStat::parse(BEFORE), CpuStat::parse(AFTER));
        let start = Instant::now();
        // Over one second cpu0's tasks ran 300 ms, the server 250 ms of it: 5% foreign,
        // whatever the ticks say (they say 950 busy ticks of 1000).
        a.task_time = TaskTime::parse("1000000000 7", start);
        b.task_time = TaskTime::parse("1300000000 7", start + Duration::from_secs(1));
        let n = noise_between(&a, &b, &[0], Duration::from_millis(250)).unwrap();
        assert!((n.foreign - 0.05).abs() < 1e-9, "{n:?}");
        assert!(
            (n.steal - 30.0 / 1000.0).abs() < 1e-9,
            "steal stays from the ticks"
        );
        // One reading without it: the ticks decide, as before.
        a.task_time = None;
        let ticks = clock_ticks_per_second();
        let own = Duration::from_secs_f64(900.0 / ticks);
        let n = noise_between(&a, &b, &[0], own).unwrap();
        assert!((n.foreign - 50.0 / 1000.0).abs() < 1e-6, "{n:?}");
        assert_eq!(TaskTime::parse("12 x", start), None);
        assert_eq!(TaskTime::parse("", start), None);
    }

    #[test]
    fn foreign_time_is_never_negative() {
        let (a, b) = (CpuStat::parse(BEFORE), CpuStat::parse(AFTER));
        let n = noise_between(&a, &b, &[0], Duration::from_secs(3600)).unwrap();
        assert_eq!(n.foreign, 0.0);
    }
}
