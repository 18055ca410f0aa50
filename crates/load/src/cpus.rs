//! CPU placement and accounting for the processes and threads the harness runs: parsing
//! CPU lists ("0", "1,3", "0-3"), pinning with `sched_setaffinity`, and reading CPU time
//! consumed (so saturation can be judged from the generator's own usage).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

/// A CPU list that could not be parsed or names CPUs this process may not use.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("CPU list `{list}`: {problem}")]
pub struct CpuListError {
    pub list: String,
    pub problem: String,
}

/// An ordered, de-duplicated set of CPU indices, written like `taskset -c`: `0-3,6`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuList(Vec<usize>);

impl CpuList {
    /// The CPU indices, ascending.
    pub fn cpus(&self) -> &[usize] {
        &self.0
    }

    /// Number of CPUs in the list.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty list.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The CPUs this process may run on, as first read (before the harness pinned any
    /// of its own threads: `lanebench run` keeps its main thread off the server's CPUs,
    /// which must not shrink what it may hand out).
    pub fn allowed() -> CpuList {
        static ALLOWED: std::sync::OnceLock<CpuList> = std::sync::OnceLock::new();
        ALLOWED.get_or_init(CpuList::current_thread).clone()
    }

    /// The CPUs the calling thread may run on now.
    pub fn current_thread() -> CpuList {
        // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for pid 0 (this thread).
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let ok =
            unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) }
                == 0;
        let cpus: Vec<usize> = if ok {
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
                .collect()
        } else {
            (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
        };
        CpuList(cpus)
    }

    /// Checks every CPU in the list is one this process may use.
    pub fn check_allowed(&self) -> Result<(), CpuListError> {
        let allowed = CpuList::allowed();
        match self.0.iter().find(|c| !allowed.0.contains(c)) {
            None => Ok(()),
            Some(c) => Err(CpuListError {
                list: self.to_string(),
                problem: format!("CPU {c} is not available (allowed: {allowed})"),
            }),
        }
    }

    /// Splits the allowed CPUs into two halves (server first, generator second). With a
    /// single CPU both get it: they then share, which the results must say.
    pub fn split_halves(&self) -> (CpuList, CpuList) {
        if self.0.len() < 2 {
            return (self.clone(), self.clone());
        }
        let mid = self.0.len() / 2;
        (
            CpuList(self.0[..mid].to_vec()),
            CpuList(self.0[mid..].to_vec()),
        )
    }

    /// Splits these CPUs into two halves of whole cores (server first, generator second),
    /// so SMT siblings, which share a core's execution units, stay on one side: a
    /// generator on the sibling of a server CPU would take cycles from the server.
    /// Cores are read from `<sysfs>/cpuN/topology/thread_siblings_list`; where that is
    /// missing a CPU is its own core. With a single core the CPUs are split as they
    /// come (siblings then do share a core; with one CPU both sides share it).
    pub fn split_by_topology(&self, sysfs: &std::path::Path) -> (CpuList, CpuList) {
        let mut cores: Vec<Vec<usize>> = Vec::new();
        for &cpu in &self.0 {
            if cores.iter().any(|core| core.contains(&cpu)) {
                continue;
            }
            let siblings = std::fs::read_to_string(
                sysfs.join(format!("cpu{cpu}/topology/thread_siblings_list")),
            )
            .ok()
            .and_then(|text| text.trim().parse::<CpuList>().ok())
            .map(|list| list.0)
            .unwrap_or_default();
            let mut core: Vec<usize> = siblings
                .into_iter()
                .filter(|c| self.0.contains(c))
                .collect();
            if !core.contains(&cpu) {
                core.push(cpu);
            }
            core.sort_unstable();
            cores.push(core);
        }
        if cores.len() < 2 {
            return self.split_halves();
        }
        let mid = cores.len() / 2;
        let side = |cores: &[Vec<usize>]| {
            let mut cpus: Vec<usize> = cores.concat();
            cpus.sort_unstable();
            CpuList(cpus)
        };
        (side(&cores[..mid]), side(&cores[mid..]))
    }

    /// Runs `f` with the calling thread allowed on these CPUs, then restores the
    /// thread's previous set. Children spawned inside `f` inherit these CPUs (a build
    /// started by a thread pinned to the generator's half would otherwise get only
    /// that half).
    pub fn while_pinned<T>(&self, f: impl FnOnce() -> T) -> T {
        let previous = CpuList::current_thread();
        let pinned = self.pin_current_thread().is_ok();
        let out = f();
        if pinned {
            let _ = previous.pin_current_thread();
        }
        out
    }

    /// The CPUs of both lists.
    pub fn union(&self, other: &CpuList) -> CpuList {
        let mut cpus: Vec<usize> = self.0.iter().chain(&other.0).copied().collect();
        cpus.sort_unstable();
        cpus.dedup();
        CpuList(cpus)
    }

    /// Pins the calling thread (or, before exec, the process) to these CPUs.
    pub fn pin_current_thread(&self) -> std::io::Result<()> {
        // SAFETY: the set is initialised with CPU_ZERO/CPU_SET on indices < CPU_SETSIZE.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for &cpu in &self.0 {
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        let rc =
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// Where the database goes next to the server and the generator (`--db-cpus` unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabasePlacement {
    /// The server's CPUs, possibly narrowed to make room for the database.
    pub server: CpuList,
    /// The database's CPUs.
    pub database: CpuList,
    /// True when the database shares the server's CPUs.
    pub shared_with_server: bool,
}

/// The default placement of the database, never on the generator's CPUs (the
/// generator's share of the machine stays what it is in memory mode):
/// - allowed CPUs that neither the server nor the generator uses go to the database;
/// - otherwise, with 2 or more server CPUs (4+ CPUs split in halves), the database
///   takes the upper half of the server's CPUs: the system under test is the service
///   plus its database, and together they keep the half the service had alone;
/// - otherwise (2 CPUs or fewer) the database shares the server's CPUs.
pub fn database_placement(
    allowed: &CpuList,
    server: &CpuList,
    generator: &CpuList,
) -> DatabasePlacement {
    let free: Vec<usize> = allowed
        .0
        .iter()
        .copied()
        .filter(|cpu| !server.0.contains(cpu) && !generator.0.contains(cpu))
        .collect();
    if !free.is_empty() {
        return DatabasePlacement {
            server: server.clone(),
            database: CpuList(free),
            shared_with_server: false,
        };
    }
    if server.len() >= 2 {
        let mid = server.len() / 2;
        return DatabasePlacement {
            server: CpuList(server.0[..mid].to_vec()),
            database: CpuList(server.0[mid..].to_vec()),
            shared_with_server: false,
        };
    }
    DatabasePlacement {
        server: server.clone(),
        database: server.clone(),
        shared_with_server: true,
    }
}

impl FromStr for CpuList {
    type Err = CpuListError;

    fn from_str(list: &str) -> Result<CpuList, CpuListError> {
        let fail = |problem: String| CpuListError {
            list: list.to_string(),
            problem,
        };
        let mut cpus = Vec::new();
        for part in list.split(',').map(str::trim) {
            let parse = |s: &str| {
                s.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&c| c < libc::CPU_SETSIZE as usize)
                    .ok_or_else(|| fail(format!("`{s}` is not a CPU number")))
            };
            match part.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (parse(lo)?, parse(hi)?);
                    if lo > hi {
                        return Err(fail(format!("range `{part}` runs backwards")));
                    }
                    cpus.extend(lo..=hi);
                }
                None => cpus.push(parse(part)?),
            }
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(CpuList(cpus))
    }
}

impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        let mut first = true;
        while i < self.0.len() {
            let start = self.0[i];
            while i + 1 < self.0.len() && self.0[i + 1] == self.0[i] + 1 {
                i += 1;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if self.0[i] == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{}", self.0[i])?;
            }
            i += 1;
        }
        Ok(())
    }
}

impl serde::Serialize for CpuList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// CPU time (user + system) consumed so far by the calling thread.
pub fn thread_cpu_time() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time (user + system) consumed so far by this whole process.
pub fn process_cpu_time() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; the clock ids used are always supported on Linux.
    unsafe { libc::clock_gettime(id, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ranges() {
        let l: CpuList = "3,0-1, 1".parse().unwrap();
        assert_eq!(l.cpus(), &[0, 1, 3]);
        assert_eq!(l.to_string(), "0-1,3");
        assert_eq!("5".parse::<CpuList>().unwrap().to_string(), "5");
    }

    #[test]
    fn rejects_bad_lists() {
        for bad in ["", "a", "1-", "3-1", "0,,1", "99999"] {
            let err = bad.parse::<CpuList>().unwrap_err();
            assert_eq!(err.list, bad);
        }
    }

    #[test]
    fn halves_split_allowed_cpus() {
        let l: CpuList = "0-3".parse().unwrap();
        let (a, b) = l.split_halves();
        assert_eq!((a.to_string(), b.to_string()), ("0-1".into(), "2-3".into()));
        let one: CpuList = "0".parse().unwrap();
        assert_eq!(one.split_halves(), (one.clone(), one.clone()));
    }

    #[test]
    fn topology_split_keeps_smt_siblings_on_one_side() {
        // Four CPUs on two cores, siblings numbered apart (0+2, 1+3), as many x86
        // machines number them: a plain halving would put 0 and 1 (two cores) on the
        // server and their siblings 2 and 3 on the generator.
        let sysfs = tempfile::tempdir().unwrap();
        for (cpu, siblings) in [(0, "0,2"), (1, "1,3"), (2, "0,2"), (3, "1,3")] {
            let dir = sysfs.path().join(format!("cpu{cpu}/topology"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("thread_siblings_list"), format!("{siblings}\n")).unwrap();
        }
        let all: CpuList = "0-3".parse().unwrap();
        let (server, generator) = all.split_by_topology(sysfs.path());
        assert_eq!(
            (server.to_string(), generator.to_string()),
            ("0,2".into(), "1,3".into())
        );
        // No topology files: every CPU is its own core, so the split is by halves.
        let (a, b) = all.split_by_topology(&sysfs.path().join("missing"));
        assert_eq!((a.to_string(), b.to_string()), ("0-1".into(), "2-3".into()));
        // One core with two threads: nothing better than sharing it.
        let two: CpuList = "0,2".parse().unwrap();
        let (a, b) = two.split_by_topology(sysfs.path());
        assert_eq!((a.to_string(), b.to_string()), ("0".into(), "2".into()));
    }

    #[test]
    fn the_database_never_gets_the_generators_cpus() {
        let list = |text: &str| text.parse::<CpuList>().unwrap();
        // 2 CPUs: the database shares the server's CPU.
        let two = database_placement(&list("0-1"), &list("0"), &list("1"));
        assert_eq!(
            (two.server.clone(), two.database.clone()),
            (list("0"), list("0"))
        );
        assert!(two.shared_with_server);
        // 4 CPUs: the service's half is split between the service and its database.
        let four = database_placement(&list("0-3"), &list("0-1"), &list("2-3"));
        assert_eq!(
            (four.server.clone(), four.database.clone()),
            (list("0"), list("1"))
        );
        assert!(!four.shared_with_server);
        let eight = database_placement(&list("0-7"), &list("0-3"), &list("4-7"));
        assert_eq!(
            (eight.server.clone(), eight.database.clone()),
            (list("0-1"), list("2-3"))
        );
        // CPUs left out of both explicit lists go to the database.
        let spare = database_placement(&list("0-5"), &list("0-1"), &list("2-3"));
        assert_eq!(
            (spare.server.clone(), spare.database.clone()),
            (list("0-1"), list("4-5"))
        );
        // One CPU: everything shares it.
        let one = database_placement(&list("0"), &list("0"), &list("0"));
        assert_eq!(one.database, list("0"));
        for (placement, generator) in [(two, "1"), (four, "2-3"), (eight, "4-7"), (spare, "2-3")] {
            let generator = list(generator);
            assert!(
                placement
                    .database
                    .cpus()
                    .iter()
                    .all(|c| !generator.cpus().contains(c)),
                "{placement:?} overlaps the generator {generator}"
            );
        }
    }

    #[test]
    fn allowed_cpus_are_nonempty_and_pinnable() {
        let allowed = CpuList::allowed();
        assert!(!allowed.is_empty());
        allowed.check_allowed().unwrap();
        let unavailable = CpuList(vec![libc::CPU_SETSIZE as usize - 1]);
        assert!(unavailable.check_allowed().is_err());
        std::thread::spawn(move || allowed.pin_current_thread().unwrap())
            .join()
            .unwrap();
    }

    #[test]
    fn thread_cpu_time_advances_with_work() {
        let before = thread_cpu_time();
        let mut x = 0u64;
        while thread_cpu_time() - before < Duration::from_millis(5) {
            x = x.wrapping_add(1);
        }
        assert!(x > 0);
    }
}
