//! Memory and CPU figures of a running target: sampling its process tree through
//! `/proc`, or reading the kernel's own accounting from a per-target cgroup.
//!
//! Method, and why:
//! - **The whole tree counts.** A target is whatever its `run` command starts: a JVM,
//!   a node cluster master and its workers, a uvicorn supervisor and its workers, the
//!   `sh` that launched them. Each target runs in its own process group, so the tree is
//!   every process in that group plus any descendant that left it (by `setsid`), found
//!   in one scan of `/proc`.
//! - **PSS next to RSS.** Forked workers share their parent's pages copy-on-write, and
//!   RSS counts a shared page once in every process that maps it, so summing RSS
//!   over-counts multi-process servers. PSS (`/proc/PID/smaps_rollup`) divides each
//!   shared page among the processes sharing it, so the sum is the tree's real
//!   footprint. RSS is kept because every platform has it and single-process servers
//!   read the same either way.
//! - **CPU time** is `utime + stime` from `/proc/PID/stat` over the same processes,
//!   converted from clock ticks; a phase's CPU time is the difference between its
//!   last and first sample.
//! - **Sampling** runs in a background thread every 100-250 ms. The idle figure is the
//!   median of a short burst after startup, the steady figure the median during the
//!   measured load, the peak the largest sample. Samples can miss a short spike.
//! - **Cgroups are exact.** When the harness can give a target its own cgroup, the
//!   kernel charges every page and every CPU nanosecond of every process in it, even
//!   ones that live between two samples, and tracks the true peak. Those figures
//!   (including page cache and kernel memory the target causes) are read beside the
//!   sampled ones where available, and results name the method that produced them.
//!
//! How samples become idle/steady/peak figures is the run's business (`run::memory`).

pub mod cgroup;
pub mod cpustat;
pub mod procfs;
pub mod sampler;

pub use cgroup::{CgroupError, TargetCgroup};
pub use procfs::{tree_pids, tree_usage, TreeUsage};
pub use sampler::{MemorySampler, Sample};
