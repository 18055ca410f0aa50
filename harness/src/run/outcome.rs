//! What one session measured, as plain records: the repeats of each level, the memory
//! samples, the warm-up curve and the failure that ended it. `session` fills them;
//! `summary` and `memory` turn them into results, without depending on how they were
//! measured.

use std::time::Duration;

use super::failure::Failure;
use crate::results::{RepeatResult, WarmupCurve};
use crate::sample::sampler::Sample;
use crate::system::Role;

/// The repeats one session measured at one level.
#[derive(Debug, Clone)]
pub struct LevelRun {
    pub connections: usize,
    pub rate: Option<f64>,
    pub repeats: Vec<RepeatResult>,
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

/// The memory samples of one component beside the service.
#[derive(Debug, Clone)]
pub struct ComponentMemory {
    pub name: String,
    pub role: Role,
    pub record: MemoryRecord,
}

/// Everything one session measured, and why it stopped early if it did.
#[derive(Debug, Clone, Default)]
pub struct SessionOutcome {
    pub levels: Vec<LevelRun>,
    pub memory: Option<MemoryRecord>,
    /// The memory of each component beside the service over the session.
    pub components: Vec<ComponentMemory>,
    /// The process's first load, second by second.
    pub curve: Option<WarmupCurve>,
    pub failure: Option<Failure>,
}

impl SessionOutcome {
    /// The memory of the session's component with `role`, if it had one.
    pub fn component_memory(&self, role: Role) -> Option<&MemoryRecord> {
        self.components
            .iter()
            .find(|c| c.role == role)
            .map(|c| &c.record)
    }
}
