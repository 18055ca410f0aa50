//! One side of a comparison: the runs it is made of (a results.json, a results folder, or
//! a folder of results folders such as `scripts/ci-compare.sh` rounds) and the samples
//! of each figure, pooled over those runs.

use std::path::{Path, PathBuf};

use crate::run::results::{LevelResult, RunResults, TargetResult, TargetStatus};

use super::figure::Figure;
use super::CompareError;

/// The runs of one side, with the path they came from for messages.
#[derive(Debug, Clone)]
pub struct Side {
    /// What the user named (file or folder), for messages and outputs.
    pub label: String,
    pub runs: Vec<RunResults>,
}

impl Side {
    /// Loads a results.json, a results folder, or a folder whose subfolders are results
    /// folders (all of them become this side's runs, in name order).
    pub fn load(path: &Path) -> Result<Side, CompareError> {
        let label = path.display().to_string();
        if path.is_dir() && !path.join("results.json").exists() {
            let mut folders: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| CompareError::Input(format!("{label}: cannot read: {e}")))?
                .flatten()
                .map(|entry| entry.path())
                .filter(|p| p.join("results.json").is_file())
                .collect();
            folders.sort();
            if folders.is_empty() {
                return Err(CompareError::Input(format!(
                    "{label}: no results.json in this folder or its subfolders"
                )));
            }
            let runs = folders
                .iter()
                .map(|f| RunResults::load(f))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CompareError::Input(e.to_string()))?;
            return Ok(Side { label, runs });
        }
        let run = RunResults::load(path).map_err(|e| CompareError::Input(e.to_string()))?;
        Ok(Side {
            label,
            runs: vec![run],
        })
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
        let values = self
            .targets(name)
            .flat_map(|t| &t.levels)
            .filter(|l| LevelKey::of(l) == *key)
            .flat_map(|l| &l.repeats)
            .filter_map(|r| {
                let load = &r.load;
                Some(match figure {
                    Figure::Qps => load.success_rps,
                    Figure::P50 => load.latency_ms.p50,
                    Figure::P99 => load.latency_ms.p99,
                    Figure::P999 => load.latency_ms.p999,
                    Figure::Errors => load.error_rate,
                    _ => return None,
                })
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
        let spreads: Vec<_> = self
            .targets(name)
            .filter_map(|t| match figure {
                Figure::Startup => t.startup_ms,
                Figure::ColdStart => t.cold_start_ms,
                _ => None,
            })
            .collect();
        if figure == Figure::Memory {
            return Samples {
                values: self
                    .targets(name)
                    .filter_map(|t| t.memory_mb.as_ref().map(|m| m.peak))
                    .collect(),
                range: None,
            };
        }
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

    /// The scenario's request mix (the same for every run, or the first difference).
    pub fn request_mix(&self) -> Result<Option<&serde_json::Value>, CompareError> {
        let mixes: Vec<Option<&serde_json::Value>> = self
            .runs
            .iter()
            .map(|r| r.scenario.get("requests"))
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
            .and_then(|r| r.scenario.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or("?")
            .to_string()
    }
}

/// A load level is matched by its connections and open-loop rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelKey {
    pub connections: usize,
    pub rate: Option<f64>,
}

impl LevelKey {
    fn of(level: &LevelResult) -> LevelKey {
        LevelKey {
            connections: level.connections,
            rate: level.rate,
        }
    }

    /// `64c`, or `64c@1000rps` for an open-loop level.
    pub fn label(&self) -> String {
        match self.rate {
            Some(rate) => format!("{}c@{rate}rps", self.connections),
            None => format!("{}c", self.connections),
        }
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
