//! A capacity run's records (scenarios with `[capacity]`, `TargetResult.capacity`): the
//! highest open-loop rate at which a target meets a latency objective, found by a ramp
//! and a bisection of probes (`run::capacity`), once per repeat, and the latency of each
//! target at equal load. The figures are computed here, once, from the probes; the
//! metric table (`capacity_metrics`), the report and compare read them from here.
//!
//! A target's capacity is the highest rate a probe showed meeting the objective: a
//! demonstrated rate, never an interpolation. The probe above it that missed bounds it
//! (the bracket). A search that could not decide (every probe above some rate was
//! generator-limited or noisy, or the ramp reached its highest rate still meeting the
//! objective) gives a lower bound, marked as one; a target that missed at the lowest
//! rate gives "below the lowest probe", not a number.

use serde::{Deserialize, Serialize};

use crate::load::result::LatencySummary;
use crate::stats::Spread;

/// The latency percentile an objective bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Percentile {
    P50,
    P90,
    P99,
    P999,
}

impl Percentile {
    /// The percentile's value in a latency summary (ms).
    pub fn of(self, latency: &LatencySummary) -> f64 {
        match self {
            Percentile::P50 => latency.p50,
            Percentile::P90 => latency.p90,
            Percentile::P99 => latency.p99,
            Percentile::P999 => latency.p999,
        }
    }

    /// As scenarios and reports write it: `p99`, `p99.9`.
    pub fn label(self) -> &'static str {
        match self {
            Percentile::P50 => "p50",
            Percentile::P90 => "p90",
            Percentile::P99 => "p99",
            Percentile::P999 => "p99.9",
        }
    }

    /// The share of requests at or below it (0.99 for p99).
    pub fn quantile(self) -> f64 {
        match self {
            Percentile::P50 => 0.5,
            Percentile::P90 => 0.9,
            Percentile::P99 => 0.99,
            Percentile::P999 => 0.999,
        }
    }

    /// Reads `p50`, `p90`, `p99`, `p99.9` (or `p999`).
    pub fn parse(text: &str) -> Option<Percentile> {
        match text.trim().to_ascii_lowercase().as_str() {
            "p50" => Some(Percentile::P50),
            "p90" => Some(Percentile::P90),
            "p99" => Some(Percentile::P99),
            "p99.9" | "p999" => Some(Percentile::P999),
            _ => None,
        }
    }
}

/// What a rate must meet: a latency percentile at or below a bound, and an error rate
/// at or below a share. Latency is the corrected one (from each request's intended send
/// time), with the censored tail: requests a saturated server never answered count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    pub percentile: Percentile,
    pub bound_ms: f64,
    /// Errors over requests.
    pub max_error_rate: f64,
}

impl Objective {
    /// `p99 <= 10 ms, errors <= 0.1%`.
    pub fn describe(&self) -> String {
        format!(
            "{} <= {} ms, errors <= {}%",
            self.percentile.label(),
            trim_number(self.bound_ms),
            trim_number(self.max_error_rate * 100.0)
        )
    }

    /// `None` when a probe with this latency and error rate meets the objective; what it
    /// missed otherwise.
    pub fn missed(&self, latency: &LatencySummary, error_rate: f64) -> Option<String> {
        let value = self.percentile.of(latency);
        let label = self.percentile.label();
        if error_rate > self.max_error_rate {
            let (got, bound) = (error_rate * 100.0, self.max_error_rate * 100.0);
            return Some(format!("errors {got:.3}% > {}%", trim_number(bound)));
        }
        (value > self.bound_ms)
            .then(|| format!("{label} {value:.2} ms > {} ms", trim_number(self.bound_ms)))
    }
}

/// A number without a trailing `.0`.
fn trim_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Where a probe sits in the search, or what it was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeStage {
    /// Rising by the ramp's factor from the lowest rate until a probe misses.
    Ramp,
    /// Halving the bracket between the highest rate that met and the lowest that missed.
    Bisect,
    /// A fraction of the target's own capacity (latency at equal work).
    OwnFraction,
    /// A fraction of the slowest target's capacity, the same rate for every target.
    EqualLoad,
}

/// What a probe showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeVerdict {
    /// The rate met the objective.
    Meets,
    /// It missed (latency or errors).
    Misses,
    /// The probe did not measure the server: the generator could not offer the rate, the
    /// CPUs were noisy, or the server was not steady. Never used by the search.
    Unusable,
}

/// One measured probe: a steady open-loop load at one rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Offered requests per second.
    pub rate_rps: f64,
    pub stage: ProbeStage,
    pub verdict: ProbeVerdict,
    /// What it missed, or why it was unusable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Measured seconds.
    pub duration_s: f64,
    pub requests: u64,
    pub success_rps: f64,
    pub error_rate: f64,
    /// Corrected latency (from each request's intended send time).
    pub latency_ms: LatencySummary,
    /// Of the server's CPUs, over the measured window.
    pub server_cpu_utilisation: f64,
    pub generator_cpu_utilisation: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_success: Option<f64>,
    /// The schedule's send lag p99 (ms): how late the generator sent, which the
    /// latency above includes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lag_p99_ms: Option<f64>,
    /// The attempt kept (from 1); earlier attempts were unusable and measured again.
    pub attempt: usize,
    /// Why each earlier attempt was set aside.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_aside: Vec<String>,
}

/// How one search ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SearchVerdict {
    /// The capacity lies in `capacity_rps` (met) .. `missed_rps` (missed), a bracket
    /// narrower than the scenario's precision.
    Found { capacity_rps: f64, missed_rps: f64 },
    /// At least `capacity_rps`: the search could not go higher, for `why` (generator-
    /// limited or noisy probes above it, or the ramp's highest rate met the objective).
    AtLeast { capacity_rps: f64, why: String },
    /// The lowest probe already missed: the capacity is below it.
    BelowLowest { lowest_rps: f64 },
    /// No probe was usable at the lowest rate.
    Undecided { why: String },
}

impl SearchVerdict {
    /// The capacity this search demonstrated, exact or a lower bound.
    pub fn capacity_rps(&self) -> Option<f64> {
        match self {
            SearchVerdict::Found { capacity_rps, .. }
            | SearchVerdict::AtLeast { capacity_rps, .. } => Some(*capacity_rps),
            _ => None,
        }
    }
}

/// One search (one repeat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacitySearch {
    /// From 1.
    pub repeat: usize,
    pub verdict: SearchVerdict,
    /// In the order measured.
    pub probes: Vec<Probe>,
}

impl CapacitySearch {
    /// The probe that met the objective at the capacity found.
    pub fn at_capacity(&self) -> Option<&Probe> {
        let rate = self.verdict.capacity_rps()?;
        self.probes
            .iter()
            .find(|p| p.verdict == ProbeVerdict::Meets && p.rate_rps == rate)
    }
}

/// The latency of a target driven at a set rate (a fraction of a capacity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadAt {
    /// Of the capacity named by `of`.
    pub fraction: f64,
    /// Whose capacity: the target's own, or the slowest target's (by name).
    pub of: String,
    pub probe: Probe,
}

/// How a target's capacity is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CapacityBound {
    /// Every search found a bracket narrower than the precision.
    Exact,
    /// Some search gave only a lower bound: the capacity is at least the figure.
    AtLeast,
    /// Every search missed at its lowest probe.
    BelowLowest { lowest_rps: f64 },
    /// No search decided.
    Undecided,
}

/// A target's capacity run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityTarget {
    pub objective: Objective,
    /// The server's CPUs (per-CPU capacity divides by these).
    pub server_cpus: usize,
    pub searches: Vec<CapacitySearch>,
    /// Driven at a fraction of its own capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_load: Option<LoadAt>,
    /// Driven at a fraction of the slowest target's capacity (every target at one rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equal_load: Option<LoadAt>,
}

impl CapacityTarget {
    /// The capacities the searches demonstrated (exact or lower bounds), in repeat order.
    pub fn capacities(&self) -> Vec<f64> {
        self.searches
            .iter()
            .filter_map(|s| s.verdict.capacity_rps())
            .collect()
    }

    /// Requests per second over the searches that gave a number. Its median is the
    /// median search's capacity (the lower middle one of an even count), so that it is a
    /// rate a probe showed meeting the objective, never an average of two.
    pub fn capacity(&self) -> Option<Spread> {
        let mut spread = Spread::of(&self.capacities())?;
        spread.median = self.median_capacity()?;
        Some(spread)
    }

    /// Requests per second per server CPU: [`CapacityTarget::capacity`] divided by them.
    pub fn capacity_per_cpu(&self) -> Option<Spread> {
        let cpus = self.server_cpus.max(1) as f64;
        let spread = self.capacity()?;
        Some(Spread {
            median: spread.median / cpus,
            min: spread.min / cpus,
            max: spread.max / cpus,
            mean: spread.mean / cpus,
            stdev: spread.stdev.map(|s| s / cpus),
            ..spread
        })
    }

    /// How the capacity is known. A search that decided nothing (its lowest probe
    /// unusable) gives no number and does not make the others' a lower bound.
    pub fn bound(&self) -> CapacityBound {
        let verdicts = || self.searches.iter().map(|s| &s.verdict);
        if self.searches.is_empty() || self.capacities().is_empty() {
            let lowest = verdicts().find_map(|v| match v {
                SearchVerdict::BelowLowest { lowest_rps } => Some(*lowest_rps),
                _ => None,
            });
            return match lowest {
                Some(lowest_rps) => CapacityBound::BelowLowest { lowest_rps },
                None => CapacityBound::Undecided,
            };
        }
        if verdicts().any(|v| matches!(v, SearchVerdict::AtLeast { .. })) {
            CapacityBound::AtLeast
        } else {
            CapacityBound::Exact
        }
    }

    /// The search whose capacity is the median (the lower middle one of an even count).
    pub fn median_search(&self) -> Option<&CapacitySearch> {
        let mut found: Vec<&CapacitySearch> = self
            .searches
            .iter()
            .filter(|s| s.verdict.capacity_rps().is_some())
            .collect();
        found.sort_by(|a, b| {
            let rate = |s: &CapacitySearch| s.verdict.capacity_rps().unwrap_or(0.0);
            rate(a).total_cmp(&rate(b))
        });
        found.get(found.len().saturating_sub(1) / 2).copied()
    }

    /// The probe at the capacity of the median search: the latency at capacity.
    pub fn at_capacity(&self) -> Option<&Probe> {
        self.median_search()?.at_capacity()
    }

    /// The objective's percentile at capacity (ms), over the searches.
    pub fn latency_at_capacity(&self) -> Option<Spread> {
        let values: Vec<f64> = self
            .searches
            .iter()
            .filter_map(CapacitySearch::at_capacity)
            .map(|p| self.objective.percentile.of(&p.latency_ms))
            .collect();
        Spread::of(&values)
    }

    /// Every usable probe of every search, as (rate, objective percentile ms), by rate:
    /// the curve of latency against offered rate.
    pub fn curve(&self) -> Vec<(f64, f64)> {
        let mut points: Vec<(f64, f64)> = self
            .searches
            .iter()
            .flat_map(|s| &s.probes)
            .filter(|p| p.verdict != ProbeVerdict::Unusable)
            .map(|p| (p.rate_rps, self.objective.percentile.of(&p.latency_ms)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points
    }

    /// The median search's capacity, when any search gave one: the figure, and the rate
    /// the later loads take a fraction of.
    pub fn median_capacity(&self) -> Option<f64> {
        self.median_search()?.verdict.capacity_rps()
    }

    /// The capacity as tables print it: `12,000`, `>= 4,000` for a lower bound,
    /// `below 500` (the lowest probe), or `undecided`.
    pub fn mark(&self) -> String {
        use super::print::grouped;
        match (self.bound(), self.median_capacity()) {
            (CapacityBound::Exact, Some(m)) => grouped(m),
            (CapacityBound::AtLeast, Some(m)) => format!(">= {}", grouped(m)),
            (CapacityBound::BelowLowest { lowest_rps }, _) => {
                format!("below {}", grouped(lowest_rps))
            }
            _ => "undecided".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(rate: f64, verdict: ProbeVerdict, p99: f64) -> Probe {
        Probe {
            rate_rps: rate,
            stage: ProbeStage::Ramp,
            verdict,
            why: None,
            duration_s: 2.0,
            requests: (rate * 2.0) as u64,
            success_rps: rate,
            error_rate: 0.0,
            latency_ms: LatencySummary {
                p99,
                ..LatencySummary::default()
            },
            server_cpu_utilisation: 0.5,
            generator_cpu_utilisation: 0.2,
            server_cpu_us_per_success: None,
            send_lag_p99_ms: None,
            attempt: 1,
            set_aside: Vec::new(),
        }
    }

    fn target(verdicts: Vec<SearchVerdict>) -> CapacityTarget {
        CapacityTarget {
            objective: Objective {
                percentile: Percentile::P99,
                bound_ms: 10.0,
                max_error_rate: 0.001,
            },
            server_cpus: 2,
            searches: verdicts
                .into_iter()
                .enumerate()
                .map(|(i, verdict)| CapacitySearch {
                    repeat: i + 1,
                    probes: verdict
                        .capacity_rps()
                        .map(|r| vec![probe(r, ProbeVerdict::Meets, 1.0 + i as f64)])
                        .unwrap_or_default(),
                    verdict,
                })
                .collect(),
            own_load: None,
            equal_load: None,
        }
    }

    #[test]
    fn the_capacity_is_the_median_search_and_per_cpu_divides_by_the_server_cpus() {
        let found = |c: f64| SearchVerdict::Found {
            capacity_rps: c,
            missed_rps: c * 1.05,
        };
        let t = target(vec![found(1000.0), found(1200.0), found(1100.0)]);
        assert_eq!(t.capacity().unwrap().median, 1100.0);
        assert_eq!(t.capacity_per_cpu().unwrap().median, 550.0);
        assert_eq!(t.bound(), CapacityBound::Exact);
        // The median search is the third (1100), whose probe's p99 is 3 ms.
        assert_eq!(t.at_capacity().unwrap().latency_ms.p99, 3.0);
        assert_eq!(t.latency_at_capacity().unwrap().median, 2.0);
    }

    #[test]
    fn a_lower_bound_is_marked_and_below_the_lowest_is_no_number() {
        let at_least = SearchVerdict::AtLeast {
            capacity_rps: 5000.0,
            why: "generator-limited above".into(),
        };
        let found = SearchVerdict::Found {
            capacity_rps: 4000.0,
            missed_rps: 4100.0,
        };
        assert_eq!(
            target(vec![found.clone(), at_least]).bound(),
            CapacityBound::AtLeast
        );
        // Regression: one undecided search (its lowest probe noisy) made the two found
        // beside it a lower bound.
        let undecided = SearchVerdict::Undecided {
            why: "noisy: server CPU 8% stolen".into(),
        };
        let t = target(vec![undecided, found.clone(), found]);
        assert_eq!(t.bound(), CapacityBound::Exact);
        assert_eq!(t.capacity_per_cpu().unwrap().median, 2000.0);
        let below = SearchVerdict::BelowLowest { lowest_rps: 100.0 };
        let t = target(vec![below.clone(), below]);
        assert_eq!(t.capacity(), None);
        assert_eq!(t.bound(), CapacityBound::BelowLowest { lowest_rps: 100.0 });
    }

    #[test]
    fn the_objective_names_what_a_probe_missed() {
        let objective = Objective {
            percentile: Percentile::P99,
            bound_ms: 10.0,
            max_error_rate: 0.001,
        };
        assert_eq!(objective.describe(), "p99 <= 10 ms, errors <= 0.1%");
        let fast = LatencySummary {
            p99: 4.0,
            ..LatencySummary::default()
        };
        let slow = LatencySummary {
            p99: 12.5,
            ..LatencySummary::default()
        };
        assert_eq!(objective.missed(&fast, 0.0), None);
        assert_eq!(
            objective.missed(&slow, 0.0).unwrap(),
            "p99 12.50 ms > 10 ms"
        );
        assert_eq!(
            objective.missed(&fast, 0.01).unwrap(),
            "errors 1.000% > 0.1%"
        );
    }
}
