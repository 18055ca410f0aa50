//! What one session measured, as plain records: the repeats of each level, the memory
//! samples, the warm-up curve and the failure that ended it. `session` fills them;
//! `summary` and `memory` turn them into results, without depending on how they were
//! measured.

use std::time::Duration;

use super::failure::Failure;
use crate::results::Role;
use crate::results::{RepeatResult, WarmupCurve};
use crate::sample::sampler::Sample;

/// The repeats one session measured at one level.
#[derive(Debug, Clone)]
pub struct LevelRun {
    pub connections: usize,
    pub rate: Option<f64>,
    pub repeats: Vec<RepeatResult>,
    /// A service chain's client-tax baseline at this level (the plain request).
    pub baseline: Option<RepeatResult>,
}

/// The memory samples of one session.
#[derive(Debug, Clone, Default)]
pub struct MemoryRecord {
    pub idle: Vec<Sample>,
    pub samples: Vec<Sample>,
    /// Measured windows (from the sampler's start), whose samples are the steady figure.
    pub windows: Vec<(Duration, Duration)>,
    /// The cgroup's exact peak (MiB) and its kind, when the session had one.
    pub cgroup: Option<(String, Option<f64>)>,
    pub interval: Duration,
}

/// One component beside the service over a session: what it is, where it ran, and
/// its memory samples.
#[derive(Debug, Clone)]
pub struct ComponentRecord {
    pub name: String,
    pub role: Role,
    /// The CPUs it was pinned to (empty: not pinned by lanebench).
    pub cpus: Vec<usize>,
    /// Its memory samples, when it is a process of ours.
    pub record: Option<MemoryRecord>,
}

/// Everything one session measured, and why it stopped early if it did.
#[derive(Debug, Clone, Default)]
pub struct SessionOutcome {
    pub levels: Vec<LevelRun>,
    pub memory: Option<MemoryRecord>,
    /// Each component beside the service over the session.
    pub components: Vec<ComponentRecord>,
    /// The process's first load, second by second.
    pub curve: Option<WarmupCurve>,
    /// A resilience session's episodes, one per fault.
    pub episodes: Vec<crate::results::resilience::Episode>,
    /// A capacity session's searches and loads at a set rate.
    pub capacity: Option<CapacitySession>,
    pub failure: Option<Failure>,
}

/// What a capacity session measured (`run::capacity`).
#[derive(Debug, Clone, Default)]
pub struct CapacitySession {
    pub searches: Vec<crate::results::capacity::CapacitySearch>,
    /// The load at a fraction of the target's own capacity.
    pub own_load: Option<crate::results::capacity::LoadAt>,
    /// The load at a fraction of the slowest target's capacity.
    pub equal_load: Option<crate::results::capacity::Probe>,
}
