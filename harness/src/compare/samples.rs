//! One side of a comparison: the runs it is made of (a results.json or cost.json, a
//! results folder, or a folder of such folders such as `scripts/ci-compare.sh` rounds)
//! and the samples of each figure, pooled over those runs. The instruction counts of a
//! `run --cost` are taken from its results.json like those of a cost.json.

use std::path::{Path, PathBuf};

use crate::results::cost::{CostRun, COST_FILE};
use crate::results::cost::{CostStatus, TargetCost};
use crate::results::scenario::RequestRecord;
use crate::results::{LevelResult, RunResults, TargetResult, TargetStatus};

use super::figure::Figure;
use super::CompareError;

/// The runs of one side, with the path they came from for messages.
#[derive(Debug, Clone)]
pub struct Side {
    /// What the user named (file or folder), for messages and outputs.
    pub label: String,
    /// Timed runs (results.json).
    pub runs: Vec<RunResults>,
    /// Instruction counts (cost.json of `lanebench cost`, or a `run --cost`).
    pub costs: Vec<CostRun>,
}

/// The name the scenario request mix figure is compared under.
pub const MIX: &str = "mix";

impl Side {
    /// Loads a results.json or cost.json, a folder holding either or both, or a folder
    /// whose subfolders do (all of them become this side's runs, in name order).
    pub fn load(path: &Path) -> Result<Side, CompareError> {
        let label = path.display().to_string();
        let mut side = Side {
            label: label.clone(),
            runs: Vec::new(),
            costs: Vec::new(),
        };
        if path.is_file() {
            if path.file_name().is_some_and(|n| n == COST_FILE) {
                side.costs.push(load_cost(path)?);
            } else {
                side.add_run(load_run(path)?);
            }
            return Ok(side);
        }
        let holds =
            |dir: &Path| dir.join("results.json").is_file() || dir.join(COST_FILE).is_file();
        let folders: Vec<PathBuf> = if holds(path) {
            vec![path.to_path_buf()]
        } else {
            let mut folders: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| CompareError::Input(format!("{label}: cannot read: {e}")))?
                .flatten()
                .map(|entry| entry.path())
                .filter(|p| holds(p))
                .collect();
            folders.sort();
            folders
        };
        if folders.is_empty() {
            return Err(CompareError::Input(format!(
                "{label}: no results.json or {COST_FILE} in this folder or its subfolders"
            )));
        }
        for folder in &folders {
            if folder.join("results.json").is_file() {
                side.add_run(load_run(folder)?);
            }
            if folder.join(COST_FILE).is_file() {
                side.costs.push(load_cost(folder)?);
            }
        }
        Ok(side)
    }

    /// A timed run, and its instruction counts when it was a `run --cost`.
    fn add_run(&mut self, run: RunResults) {
        self.costs.extend(run.counts());
        self.runs.push(run);
    }

    /// Names of the targets that finished (status ok) in any run, in first-seen order.
    pub fn target_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for t in self.runs.iter().flat_map(|r| &r.targets) {
            if t.status == TargetStatus::Ok && !names.contains(&t.name) {
                names.push(t.name.clone());
            }
        }
        names
    }

    /// True when a target of this side (timed or counted, whatever its status) is named
    /// on `other` too.
    pub fn shares_a_target_with(&self, other: &Side) -> bool {
        fn names(side: &Side) -> std::collections::HashSet<&str> {
            let timed = side.runs.iter().flat_map(|r| &r.targets).map(|t| &t.name);
            let counted = side.costs.iter().flat_map(|c| &c.targets).map(|t| &t.name);
            timed.chain(counted).map(String::as_str).collect()
        }
        !names(self).is_disjoint(&names(other))
    }

    /// True when target `name` failed in a run and finished in none.
    pub fn failed(&self, name: &str) -> bool {
        let mut all = self
            .runs
            .iter()
            .flat_map(|r| &r.targets)
            .filter(|t| t.name == name);
        let any_failed = all.clone().any(|t| t.status == TargetStatus::Failed);
        any_failed && !all.any(|t| t.status == TargetStatus::Ok)
    }

    fn targets<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a TargetResult> + 'a {
        self.runs
            .iter()
            .flat_map(|r| &r.targets)
            .filter(move |t| t.name == name && t.status == TargetStatus::Ok)
    }

    /// The caveats of target `name` at `key` in any run (noise on a side's CPUs, or a
    /// closed-loop level that saturated neither side), in one phrase; `None` when every
    /// run measured that level cleanly.
    pub fn level_caveats(&self, name: &str, key: &LevelKey) -> Option<String> {
        self.targets(name)
            .flat_map(|t| &t.levels)
            .find(|l| LevelKey::of(l) == *key && !l.caveats.is_empty())
            .map(|l| crate::results::caveat::describe_all(&l.caveats))
    }

    /// The levels of target `name`, keyed and in first-seen order.
    pub fn level_keys(&self, name: &str) -> Vec<LevelKey> {
        let mut keys: Vec<LevelKey> = Vec::new();
        for level in self.targets(name).flat_map(|t| &t.levels) {
            let key = LevelKey::of(level);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    /// Samples of a per-level figure: one value per measured repeat, over every run.
    pub fn level_samples(&self, name: &str, key: &LevelKey, figure: Figure) -> Samples {
        let metric = figure.metric();
        let values = self
            .targets(name)
            .flat_map(|t| {
                t.levels
                    .iter()
                    .filter(|l| LevelKey::of(l) == *key)
                    .flat_map(move |l| metric.repeat_values(t, l))
            })
            .collect();
        Samples {
            values,
            range: None,
        }
    }

    /// Samples of a target-wide figure: one value per run (the run's median for startup
    /// and cold start, its peak for memory). With a single run, the run's own min/max
    /// over its launches is kept as `range`.
    pub fn target_samples(&self, name: &str, figure: Figure) -> Samples {
        let metric = figure.metric();
        let spreads: Vec<_> = self
            .targets(name)
            .filter_map(|t| metric.of_target(t))
            .collect();
        let range = match spreads.as_slice() {
            [only] if only.n >= 2 => Some(Range {
                min: only.min,
                max: only.max,
                n: only.n,
            }),
            _ => None,
        };
        Samples {
            values: spreads.iter().map(|s| s.median).collect(),
            range,
        }
    }

    /// Names of the targets in any cost run (counted or not), in first-seen order.
    pub fn cost_target_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for t in self.costs.iter().flat_map(|c| &c.targets) {
            if !names.contains(&t.name) {
                names.push(t.name.clone());
            }
        }
        names
    }

    /// The counts of target `name`, in run order (every status).
    pub fn costs_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a TargetCost> + 'a {
        self.costs
            .iter()
            .flat_map(|c| &c.targets)
            .filter(move |t| t.name == name)
    }

    /// The scenario request names counted for target `name`, then [`MIX`].
    pub fn cost_request_names(&self, name: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for r in self.costs_of(name).flat_map(|t| &t.requests) {
            if !names.contains(&r.name) {
                names.push(r.name.clone());
            }
        }
        if !names.is_empty() {
            names.push(MIX.to_string());
        }
        names
    }

    /// Instructions per request of scenario request `request` (or [`MIX`]) of target
    /// `name`: one value per successful count.
    pub fn cost_samples(&self, name: &str, request: &str) -> Samples {
        let values = self
            .costs_of(name)
            .filter(|t| t.status == CostStatus::Ok)
            .filter_map(|t| {
                if request == MIX {
                    return t.instructions_per_request;
                }
                t.requests
                    .iter()
                    .find(|r| r.name == request)
                    .map(|r| r.instructions_per_request)
            })
            .collect();
        Samples {
            values,
            range: None,
        }
    }

    /// The valgrind versions the counts were made with, distinct, in first-seen order.
    pub fn valgrind_versions(&self) -> Vec<String> {
        let mut versions: Vec<String> = Vec::new();
        for c in &self.costs {
            if !versions.contains(&c.counting.valgrind_version) {
                versions.push(c.counting.valgrind_version.clone());
            }
        }
        versions
    }

    /// The scenario's request mix (the same for every run, or the first difference).
    pub fn request_mix(&self) -> Result<Option<&[RequestRecord]>, CompareError> {
        let mixes: Vec<Option<&[RequestRecord]>> = self
            .runs
            .iter()
            .map(|r| &r.scenario)
            .chain(self.costs.iter().map(|c| &c.scenario))
            .map(|scenario| scenario.requests.as_deref())
            .collect();
        if mixes.windows(2).any(|w| w[0] != w[1]) {
            return Err(CompareError::Input(format!(
                "{}: its runs used different request mixes",
                self.label
            )));
        }
        Ok(mixes.first().copied().flatten())
    }

    /// The scenario name of the first run, for messages.
    pub fn scenario_name(&self) -> String {
        self.runs
            .first()
            .map(|r| &r.scenario)
            .or(self.costs.first().map(|c| &c.scenario))
            .map_or("unnamed", |scenario| scenario.name())
            .to_string()
    }
}

fn load_run(path: &Path) -> Result<RunResults, CompareError> {
    RunResults::load(path).map_err(|e| CompareError::Input(e.to_string()))
}

fn load_cost(path: &Path) -> Result<CostRun, CompareError> {
    CostRun::load(path).map_err(|e| CompareError::Input(e.to_string()))
}

/// A load level is matched by its connections and open-loop rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelKey {
    pub connections: usize,
    pub rate: Option<f64>,
}

impl LevelKey {
    pub(super) fn of(level: &LevelResult) -> LevelKey {
        LevelKey {
            connections: level.connections,
            rate: level.rate,
        }
    }

    /// `64c`, or `64c@1000rps` for an open-loop level.
    pub fn label(&self) -> String {
        crate::results::metrics::level_label(self.connections, self.rate)
    }
}

/// The min/max of a single run's repeated launches, when only its summary is recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

/// The values of one figure on one side.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    pub values: Vec<f64>,
    pub range: Option<Range>,
}

impl Samples {
    /// The same values with `range` set to their own min and max (none when empty).
    pub fn extremes(&self) -> Samples {
        let range = (!self.values.is_empty()).then(|| Range {
            min: self.values.iter().copied().fold(f64::INFINITY, f64::min),
            max: self
                .values
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max),
            n: self.values.len(),
        });
        Samples {
            values: self.values.clone(),
            range,
        }
    }
}
