//! A cgroup per target, so the kernel itself accounts the target's memory and CPU.
//!
//! The cgroup is created as a child of the harness's own cgroup (never above it, so
//! whatever limits the harness runs under still apply to the targets). cgroup v2 is
//! preferred when its memory controller can be used; otherwise the v1 `memory` and
//! `cpuacct` hierarchies are used (two directories, one per hierarchy). When neither
//! works, [`TargetCgroup::create`] says why and the caller falls back to `/proc`
//! sampling.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long `Drop` keeps retrying `rmdir` while killed processes finish exiting.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);
const REMOVE_RETRY_INTERVAL: Duration = Duration::from_millis(10);

/// Distinguishes cgroups created by one harness process for the same name.
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// Why a target cgroup could not be created or used.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Neither cgroup v2 nor v1 can give this target its own cgroup.
    #[error("no per-target cgroup: {0}")]
    Unavailable(String),
    /// The name would not make a safe directory name.
    #[error("cgroup name {0:?} is invalid: use 1-64 letters, digits, '-', '_' or '.'")]
    InvalidName(String),
    /// A cgroup file or directory operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The kernel lacks a feature (for example resetting `memory.peak`).
    #[error("{0}")]
    Unsupported(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V2,
    V1,
}

/// A cgroup holding one target's processes; removed (after killing what is left in
/// it) when dropped.
#[derive(Debug)]
pub struct TargetCgroup {
    version: Version,
    /// v2: the one directory; v1: the memory directory, then the cpuacct directory.
    dirs: Vec<PathBuf>,
    procs_files: Vec<PathBuf>,
    /// v2 `memory.peak`, kept open because a reset only applies to the descriptor
    /// it was written through (Linux 6.12+).
    peak_file: Option<Mutex<File>>,
}

impl TargetCgroup {
    /// Creates `lanebench-<pid>-<seq>-<name>` under the harness's own cgroup, trying
    /// cgroup v2 (enabling the memory controller for children if needed), then v1.
    pub fn create(name: &str) -> Result<TargetCgroup, CgroupError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(CgroupError::InvalidName(name.to_string()));
        }
        let dir_name = format!(
            "lanebench-{}-{}-{name}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let hierarchies = Hierarchies::of_this_process();
        let v2_reason = match create_v2(&hierarchies, &dir_name) {
            Ok(cgroup) => return Ok(cgroup),
            Err(reason) => reason,
        };
        let v1_reason = match create_v1(&hierarchies, &dir_name) {
            Ok(cgroup) => return Ok(cgroup),
            Err(reason) => reason,
        };
        Err(CgroupError::Unavailable(format!(
            "cgroup v2: {v2_reason}; cgroup v1: {v1_reason}"
        )))
    }

    /// `"cgroup-v2"` or `"cgroup-v1"`.
    pub fn kind(&self) -> &'static str {
        match self.version {
            Version::V2 => "cgroup-v2",
            Version::V1 => "cgroup-v1",
        }
    }

    /// The `cgroup.procs` files a process must be written to in order to join (one
    /// for v2; memory and cpuacct for v1).
    pub fn procs_files(&self) -> &[PathBuf] {
        &self.procs_files
    }

    /// Moves process `pid` (all its threads) into the cgroup. Memory it already uses
    /// stays charged where it was; prefer [`TargetCgroup::enter_on_spawn`].
    pub fn add_pid(&self, pid: u32) -> Result<(), CgroupError> {
        for path in &self.procs_files {
            fs::write(path, pid.to_string()).map_err(|source| CgroupError::Io {
                action: "add a process to",
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Makes the child spawned by `command` join the cgroup between `fork` and `exec`,
    /// so everything the target allocates or spawns is accounted from its first
    /// instruction. Spawning fails if joining fails.
    pub fn enter_on_spawn(&self, command: &mut Command) {
        let paths: Vec<CString> = self
            .procs_files
            .iter()
            .filter_map(|path| CString::new(path.as_os_str().as_bytes()).ok())
            .collect();
        // SAFETY: the hook only calls open, write and close (async-signal-safe) on
        // strings built before fork; "0" means the writing process itself.
        unsafe {
            command.pre_exec(move || {
                for path in &paths {
                    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                    let error = io::Error::last_os_error();
                    libc::close(fd);
                    if written != 1 {
                        return Err(error);
                    }
                }
                Ok(())
            });
        }
    }

    /// Highest memory use since creation or the last [`TargetCgroup::reset_peak`]
    /// (v2 `memory.peak`, absent before Linux 5.19; v1 `memory.max_usage_in_bytes`).
    pub fn memory_peak_bytes(&self) -> Option<u64> {
        match self.version {
            Version::V2 => {
                let mut file = self.peak_file.as_ref()?.lock().ok()?;
                let mut text = String::new();
                file.seek(SeekFrom::Start(0)).ok()?;
                file.read_to_string(&mut text).ok()?;
                text.trim().parse().ok()
            }
            Version::V1 => read_number(&self.dirs[0].join("memory.max_usage_in_bytes")),
        }
    }

    /// Current memory use (v2 `memory.current`; v1 `memory.usage_in_bytes`).
    pub fn memory_current_bytes(&self) -> Option<u64> {
        let file = match self.version {
            Version::V2 => "memory.current",
            Version::V1 => "memory.usage_in_bytes",
        };
        read_number(&self.dirs[0].join(file))
    }

    /// CPU time used by every process that ever ran in the cgroup (v2 `cpu.stat`
    /// `usage_usec`; v1 `cpuacct.usage`).
    pub fn cpu_usage(&self) -> Option<Duration> {
        match self.version {
            Version::V2 => {
                let text = fs::read_to_string(self.dirs[0].join("cpu.stat")).ok()?;
                parse_usage_usec(&text).map(Duration::from_micros)
            }
            Version::V1 => {
                read_number(&self.dirs[1].join("cpuacct.usage")).map(Duration::from_nanos)
            }
        }
    }

    /// Restarts peak tracking from the current use, so a phase's peak excludes
    /// startup. v2 needs Linux 6.12+; v1 always supports it.
    pub fn reset_peak(&self) -> Result<(), CgroupError> {
        match self.version {
            Version::V2 => {
                let unsupported = || {
                    CgroupError::Unsupported(format!(
                        "this kernel cannot reset {} (needs Linux 6.12+)",
                        self.dirs[0].join("memory.peak").display()
                    ))
                };
                let lock = self.peak_file.as_ref().ok_or_else(unsupported)?;
                let mut file = lock.lock().map_err(|_| unsupported())?;
                file.write_all(b"reset\n").map_err(|_| unsupported())
            }
            Version::V1 => {
                let path = self.dirs[0].join("memory.max_usage_in_bytes");
                fs::write(&path, "0").map_err(|source| CgroupError::Io {
                    action: "reset",
                    path,
                    source,
                })
            }
        }
    }

    /// Pids currently in the cgroup (from the first `cgroup.procs` file).
    pub fn pids(&self) -> Vec<u32> {
        fs::read_to_string(&self.procs_files[0])
            .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Kills every process in the cgroup (v2 `cgroup.kill` where present).
    fn kill_all(&self) {
        if self.version == Version::V2 && fs::write(self.dirs[0].join("cgroup.kill"), "1").is_ok() {
            return;
        }
        for dir in &self.dirs {
            let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) else {
                continue;
            };
            for pid in text
                .lines()
                .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
            {
                // SAFETY: kill only sends a signal, to a process that is in our cgroup.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

impl Drop for TargetCgroup {
    fn drop(&mut self) {
        self.peak_file = None;
        let deadline = Instant::now() + REMOVE_TIMEOUT;
        let mut remaining: Vec<PathBuf> = self.dirs.clone();
        // rmdir fails with EBUSY until the killed processes have exited.
        while !remaining.is_empty() {
            self.kill_all();
            remaining.retain(|dir| fs::remove_dir(dir).is_err() && dir.exists());
            if remaining.is_empty() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(REMOVE_RETRY_INTERVAL);
        }
    }
}

/// Where this process sits in the mounted cgroup hierarchies.
struct Hierarchies {
    mounts: Vec<CgroupMount>,
    /// `(controllers, path)` from `/proc/self/cgroup`; v2 has empty controllers.
    memberships: Vec<(String, String)>,
}

impl Hierarchies {
    fn of_this_process() -> Hierarchies {
        Hierarchies {
            mounts: parse_mountinfo(
                &fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
            ),
            memberships: parse_proc_cgroup(
                &fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
            ),
        }
    }

    /// This process's cgroup directory in the v2 hierarchy.
    fn v2_dir(&self) -> Result<PathBuf, String> {
        let mount = self
            .mounts
            .iter()
            .find(|m| m.fstype == "cgroup2")
            .ok_or("no cgroup2 file system is mounted")?;
        let (_, path) = self
            .memberships
            .iter()
            .find(|(controllers, _)| controllers.is_empty())
            .ok_or("/proc/self/cgroup has no v2 entry")?;
        mount.dir_for(path).ok_or_else(|| {
            format!(
                "our cgroup {path} is outside the mount at {}",
                mount.point.display()
            )
        })
    }

    /// This process's cgroup directory in the v1 hierarchy holding `controller`.
    fn v1_dir(&self, controller: &str) -> Result<PathBuf, String> {
        let has = |list: &str| list.split(',').any(|c| c == controller);
        let mount = self
            .mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.super_options.iter().any(|o| o == controller))
            .ok_or_else(|| {
                format!("no v1 hierarchy with the {controller} controller is mounted")
            })?;
        let (_, path) = self
            .memberships
            .iter()
            .find(|(controllers, _)| has(controllers))
            .ok_or_else(|| format!("/proc/self/cgroup has no {controller} entry"))?;
        mount
            .dir_for(path)
            .ok_or_else(|| format!("our {controller} cgroup {path} is outside its mount"))
    }
}

fn create_v2(hierarchies: &Hierarchies, dir_name: &str) -> Result<TargetCgroup, String> {
    let parent = hierarchies.v2_dir()?;
    let available = fs::read_to_string(parent.join("cgroup.controllers")).map_err(|e| {
        format!(
            "cannot read {}: {e}",
            parent.join("cgroup.controllers").display()
        )
    })?;
    if !available.split_whitespace().any(|c| c == "memory") {
        return Err(format!(
            "the memory controller is not available in {} (cgroup.controllers: {:?})",
            parent.display(),
            available.trim()
        ));
    }
    let subtree = parent.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&subtree).unwrap_or_default();
    if !enabled.split_whitespace().any(|c| c == "memory") {
        fs::write(&subtree, "+memory").map_err(|e| {
            format!(
                "cannot enable memory in {}: {e} (a non-root cgroup that holds processes, \
                 like the harness's own, cannot delegate controllers to children)",
                subtree.display()
            )
        })?;
    }
    remove_stale_cgroups(&parent);
    let dir = parent.join(dir_name);
    fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if !dir.join("memory.current").exists() {
        let _ = fs::remove_dir(&dir);
        return Err(format!("{} has no memory.current", dir.display()));
    }
    let peak = dir.join("memory.peak");
    // Older kernels refuse writes to memory.peak; read-only still gives the peak.
    let peak_file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&peak)
        .or_else(|_| File::open(&peak))
        .ok()
        .map(Mutex::new);
    Ok(TargetCgroup {
        version: Version::V2,
        procs_files: vec![dir.join("cgroup.procs")],
        dirs: vec![dir],
        peak_file,
    })
}

fn create_v1(hierarchies: &Hierarchies, dir_name: &str) -> Result<TargetCgroup, String> {
    let memory_parent = hierarchies.v1_dir("memory")?;
    let cpuacct_parent = hierarchies.v1_dir("cpuacct")?;
    remove_stale_cgroups(&memory_parent);
    remove_stale_cgroups(&cpuacct_parent);
    let memory = memory_parent.join(dir_name);
    let cpuacct = cpuacct_parent.join(dir_name);
    fs::create_dir(&memory).map_err(|e| format!("cannot create {}: {e}", memory.display()))?;
    // cpu and cpuacct may share a hierarchy with memory only in odd setups; one
    // directory then serves both.
    if cpuacct != memory {
        if let Err(e) = fs::create_dir(&cpuacct) {
            let _ = fs::remove_dir(&memory);
            return Err(format!("cannot create {}: {e}", cpuacct.display()));
        }
    }
    let mut dirs = vec![memory, cpuacct];
    dirs.dedup();
    let procs_files = dirs.iter().map(|d| d.join("cgroup.procs")).collect();
    if dirs.len() == 1 {
        dirs.push(dirs[0].clone());
    }
    Ok(TargetCgroup {
        version: Version::V1,
        dirs,
        procs_files,
        peak_file: None,
    })
}

/// Removes the empty cgroups a harness killed outright (so `Drop` never ran) left in
/// `parent`: those named `lanebench-<pid>-...` whose pid is gone. rmdir refuses any
/// that still hold processes, so nothing alive is touched.
fn remove_stale_cgroups(parent: &Path) {
    for dir in super::procfs::orphaned_entries(parent, "lanebench-") {
        let _ = fs::remove_dir(dir);
    }
}

/// One cgroup file system mount from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    /// The cgroup path that appears at the mount point (not `/` inside some containers).
    root: String,
    point: PathBuf,
    fstype: String,
    super_options: Vec<String>,
}

impl CgroupMount {
    /// The directory of cgroup `path` under this mount, if the mount shows it.
    fn dir_for(&self, path: &str) -> Option<PathBuf> {
        let relative = if self.root == "/" {
            path
        } else {
            let rest = path.strip_prefix(self.root.as_str())?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            rest
        };
        Some(self.point.join(relative.trim_start_matches('/')))
    }
}

/// The cgroup and cgroup2 mounts listed in a `mountinfo` text.
fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let before: Vec<&str> = before.split_whitespace().collect();
            let mut after = after.split_whitespace();
            let fstype = after.next()?;
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            let _source = after.next()?;
            let super_options = after
                .next()
                .unwrap_or("")
                .split(',')
                .map(String::from)
                .collect();
            Some(CgroupMount {
                root: before.get(3)?.to_string(),
                point: PathBuf::from(before.get(4)?.replace("\\040", " ")),
                fstype: fstype.to_string(),
                super_options,
            })
        })
        .collect()
}

/// `(controllers, path)` pairs of `/proc/self/cgroup`. A named v1 hierarchy such as
/// `name=systemd` keeps its name as the controller list.
fn parse_proc_cgroup(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

/// `usage_usec` from a v2 `cpu.stat`.
fn parse_usage_usec(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("usage_usec "))?
        .trim()
        .parse()
        .ok()
}

fn read_number(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
4:memory:/jobs/abc
2:cpuacct:/
0::/
";

    #[test]
    fn finds_own_directories_in_a_hybrid_layout() {
        let hierarchies = Hierarchies {
            mounts: parse_mountinfo(HYBRID_MOUNTINFO),
            memberships: parse_proc_cgroup(HYBRID_CGROUP),
        };
        assert_eq!(hierarchies.mounts.len(), 4);
        assert_eq!(
            hierarchies.v1_dir("memory").unwrap(),
            PathBuf::from("/sys/fs/cgroup/memory/jobs/abc")
        );
        assert_eq!(
            hierarchies.v1_dir("cpuacct").unwrap(),
            PathBuf::from("/sys/fs/cgroup/cpuacct/")
        );
        assert_eq!(
            hierarchies.v2_dir().unwrap(),
            PathBuf::from("/sys/fs/cgroup/unified/")
        );
        assert!(hierarchies.v1_dir("pids").unwrap_err().contains("pids"));
    }

    #[test]
    fn maps_paths_under_a_container_mount_root() {
        let mounts = parse_mountinfo(
            "50 40 0:40 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        let mount = &mounts[0];
        assert_eq!(mount.root, "/kubepods/pod1");
        assert_eq!(
            mount.dir_for("/kubepods/pod1/app"),
            Some(PathBuf::from("/sys/fs/cgroup/app"))
        );
        assert_eq!(mount.dir_for("/kubepods/pod10"), None);
        assert_eq!(mount.dir_for("/elsewhere"), None);
    }

    #[test]
    fn parses_cpu_stat_usage() {
        let text = "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n";
        assert_eq!(parse_usage_usec(text), Some(1_234_567));
        assert_eq!(parse_usage_usec("user_usec 5\n"), None);
    }

    #[test]
    fn rejects_names_that_are_not_plain_directory_names() {
        for bad in ["", "../escape", "a/b", "with space", &"x".repeat(65)] {
            let error = TargetCgroup::create(bad).unwrap_err();
            assert!(
                matches!(error, CgroupError::InvalidName(_)),
                "{bad:?}: {error}"
            );
        }
    }
}
