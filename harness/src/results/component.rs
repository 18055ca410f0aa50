//! The records of the components beside the service (the database in database mode; a
//! downstream service or a proxy later), in one shape whatever their kind: the target
//! lists each with its role, CPUs and memory, every repeat its CPU time and every
//! level its share of its CPUs, keyed by the component's name. A new component is new
//! entries in these lists, not new fields.

use serde::{Deserialize, Serialize};

use super::MemoryFigures;

/// What a component is for in the system under test. Only the service and the
/// database are started today; a downstream service and a proxy are roles so that a
/// service chain or a fault proxy is a new component, not a new special case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The service the load is sent to and whose figures are the headline.
    Service,
    /// A service the service under test calls.
    Downstream,
    /// A database the services keep their data in.
    Database,
    /// A proxy between two components (e.g. to inject faults).
    Proxy,
}

impl Role {
    /// The word reports use for the role ("database CPU 12% foreign").
    pub fn label(self) -> &'static str {
        match self {
            Role::Service => "service",
            Role::Downstream => "downstream",
            Role::Database => "database",
            Role::Proxy => "proxy",
        }
    }

    /// The role a report word names (`label`'s inverse).
    pub fn from_label(word: &str) -> Option<Role> {
        [Role::Service, Role::Downstream, Role::Database, Role::Proxy]
            .into_iter()
            .find(|role| role.label() == word)
    }
}

/// One component beside the service, over a target's sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentFigures {
    /// Its name, the key of its entries in levels and repeats ("postgres").
    pub name: String,
    pub role: Role,
    /// The CPUs lanebench pinned it to; empty when it did not (a server it only
    /// reaches), and then it has no CPU share.
    #[serde(default)]
    pub cpus: Vec<usize>,
    /// Its whole process tree's memory, taken like the target's; absent when it is
    /// not a process of ours.
    #[serde(default)]
    pub memory_mb: Option<MemoryFigures>,
}

/// A component's CPU time over one measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentCpuTime {
    /// The component's name (`ComponentFigures::name`).
    pub name: String,
    /// Its process tree's CPU time (its cgroup's where it has one) over the window (s).
    pub cpu_s: f64,
}

/// A component's share of its CPUs at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentUtilisation {
    /// The component's name (`ComponentFigures::name`).
    pub name: String,
    /// CPU time / (duration x its CPUs), median over the level's repeats.
    pub cpu_utilisation: f64,
}

impl super::TargetResult {
    /// Its components with `role`, in order.
    pub fn components_with(&self, role: Role) -> impl Iterator<Item = &ComponentFigures> {
        self.components.iter().filter(move |c| c.role == role)
    }
}

impl super::LevelResult {
    /// The share of its CPUs the component called `name` used at this level, when it
    /// was read.
    pub fn component_utilisation(&self, name: &str) -> Option<f64> {
        self.components
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.cpu_utilisation)
    }
}
