//! The search for a target's capacity under a latency objective: a ramp, then a
//! bisection, over probes measured by a [`Prober`] (a steady open-loop load at one rate,
//! `prober.rs`; a scripted one in the tests).
//!
//! - **Ramp.** From `lowest`, each probe offers `factor` times the rate of the one
//!   before, until a probe misses the objective (or `highest` is reached). A miss at
//!   `lowest` ends the search: the capacity is below the lowest probe.
//! - **Bisection.** Between the highest rate that met (`low`) and the lowest that missed
//!   (`high`), the midpoint is probed and replaces one end, until `high - low` is at most
//!   `precision` of `low`. The capacity is `low`: a rate a probe showed meeting the
//!   objective, never an interpolation.
//! - **Unusable probes.** A probe that did not measure the server (generator-limited,
//!   noisy CPUs, a server not steady) is measured again, up to `retries` times, after the
//!   prober's remedy (a pause, more warm-up). One still unusable is kept in the record,
//!   marked, and never used: its rate becomes a ceiling the bisection stays below, and a
//!   search that cannot narrow its bracket under that ceiling ends with a lower bound.

use crate::results::capacity::{
    CapacitySearch, Objective, Probe, ProbeStage, ProbeVerdict, SearchVerdict,
};

use super::super::failure::Failure;

/// The most probes one search may take, whatever the bracket (a safety net: the ramp
/// from 1 to 10M requests per second by 1.1 and a bisection to 0.1% stay below it).
pub const MAX_PROBES: usize = 250;

/// Why a probe did not measure the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Unusable {
    /// The generator could not offer the rate (late sends, its CPU full, or requests
    /// left unsent while the server was not busy: too few connections for the rate).
    Generator(String),
    /// Other work on the server's or the generator's CPUs.
    Noisy(String),
    /// The server was still warming up.
    Unsteady(String),
}

impl Unusable {
    pub fn describe(&self) -> String {
        match self {
            Unusable::Generator(why) => format!("generator-limited: {why}"),
            Unusable::Noisy(why) => format!("noisy: {why}"),
            Unusable::Unsteady(why) => format!("not steady: {why}"),
        }
    }
}

/// One probe as measured, before the search judges it: its record (verdict unset), and
/// why it cannot be used, if it cannot.
#[derive(Debug, Clone)]
pub struct Reading {
    pub probe: Probe,
    pub unusable: Option<Unusable>,
}

/// Measures probes.
pub trait Prober {
    /// A steady open-loop load at `rate` requests per second, measured.
    fn measure(&mut self, rate: f64, stage: ProbeStage, attempt: usize)
        -> Result<Reading, Failure>;
    /// Before a probe that was unusable for `why` is measured again: a pause for noise,
    /// more warm-up for a server not steady.
    fn before_retry(&mut self, why: &Unusable) -> Result<(), Failure>;
    /// A probe was judged (for progress).
    fn report(&mut self, _probe: &Probe) {}
}

/// How one search goes (from the scenario's `[capacity]`).
#[derive(Debug, Clone, Copy)]
pub struct SearchPlan {
    pub objective: Objective,
    pub lowest: f64,
    pub highest: f64,
    pub factor: f64,
    pub precision: f64,
    /// Measurements again of an unusable probe.
    pub retries: u32,
}

/// A probe measured and judged: met, missed, or unusable (after its retries). Also what a
/// load at a set rate outside the search is (a fraction of a capacity).
pub fn judged(
    prober: &mut dyn Prober,
    plan: &SearchPlan,
    rate: f64,
    stage: ProbeStage,
) -> Result<Probe, Failure> {
    let mut set_aside = Vec::new();
    let mut attempt = 1;
    loop {
        let Reading {
            mut probe,
            unusable,
        } = prober.measure(rate, stage, attempt)?;
        probe.attempt = attempt;
        match unusable {
            None => {
                probe.set_aside = set_aside;
                let missed = plan.objective.missed(&probe.latency_ms, probe.error_rate);
                probe.verdict = match missed {
                    None => ProbeVerdict::Meets,
                    Some(_) => ProbeVerdict::Misses,
                };
                probe.why = missed;
                prober.report(&probe);
                return Ok(probe);
            }
            Some(why) if attempt > plan.retries as usize => {
                probe.set_aside = set_aside;
                probe.verdict = ProbeVerdict::Unusable;
                probe.why = Some(why.describe());
                prober.report(&probe);
                return Ok(probe);
            }
            Some(why) => {
                set_aside.push(format!("attempt {attempt}: {}", why.describe()));
                prober.before_retry(&why)?;
                attempt += 1;
            }
        }
    }
}

/// The state of the bracket.
#[derive(Debug, Default)]
struct Bracket {
    /// The highest rate that met.
    low: Option<f64>,
    /// The lowest rate that missed.
    high: Option<f64>,
    /// The lowest rate whose probe was unusable.
    ceiling: Option<f64>,
}

impl Bracket {
    fn take(&mut self, probe: &Probe) {
        let rate = probe.rate_rps;
        let lowest = |v: Option<f64>| Some(v.map_or(rate, |v: f64| v.min(rate)));
        match probe.verdict {
            ProbeVerdict::Meets => self.low = Some(self.low.map_or(rate, |v| v.max(rate))),
            ProbeVerdict::Misses => self.high = lowest(self.high),
            ProbeVerdict::Unusable => self.ceiling = lowest(self.ceiling),
        }
    }

    /// The rate the bisection must stay below: the lower of the miss and the ceiling.
    fn upper(&self) -> Option<f64> {
        match (self.high, self.ceiling) {
            (Some(h), Some(c)) => Some(h.min(c)),
            (h, c) => h.or(c),
        }
    }
}

/// Runs one search.
pub fn search(
    prober: &mut dyn Prober,
    plan: &SearchPlan,
    repeat: usize,
) -> Result<CapacitySearch, Failure> {
    let mut probes: Vec<Probe> = Vec::new();
    let mut bracket = Bracket::default();
    // The ramp.
    let mut rate = plan.lowest;
    loop {
        let probe = judged(prober, plan, rate, ProbeStage::Ramp)?;
        bracket.take(&probe);
        let met = probe.verdict == ProbeVerdict::Meets;
        probes.push(probe);
        if !met || rate >= plan.highest || probes.len() >= MAX_PROBES {
            break;
        }
        rate = (rate * plan.factor).min(plan.highest);
    }
    // The bisection.
    while let (Some(low), Some(upper)) = (bracket.low, bracket.upper()) {
        if upper - low <= plan.precision * low || probes.len() >= MAX_PROBES {
            break;
        }
        let probe = judged(prober, plan, (low + upper) / 2.0, ProbeStage::Bisect)?;
        bracket.take(&probe);
        probes.push(probe);
    }
    Ok(CapacitySearch {
        repeat,
        verdict: verdict(&bracket, plan, &probes),
        probes,
    })
}

/// How a search ended, from its bracket.
fn verdict(bracket: &Bracket, plan: &SearchPlan, probes: &[Probe]) -> SearchVerdict {
    let Some(low) = bracket.low else {
        return match bracket.high {
            Some(_)
                if probes
                    .first()
                    .is_some_and(|p| p.verdict == ProbeVerdict::Misses) =>
            {
                SearchVerdict::BelowLowest {
                    lowest_rps: plan.lowest,
                }
            }
            _ => SearchVerdict::Undecided {
                why: probes
                    .first()
                    .and_then(|p| p.why.clone())
                    .unwrap_or_else(|| "no probe".to_string()),
            },
        };
    };
    match (bracket.high, bracket.ceiling) {
        (Some(high), _) if high - low <= plan.precision * low => SearchVerdict::Found {
            capacity_rps: low,
            missed_rps: high,
        },
        (_, Some(ceiling)) => SearchVerdict::AtLeast {
            capacity_rps: low,
            why: format!(
                "the probe at {} req/s could not be used ({})",
                crate::results::print::grouped(ceiling),
                probes
                    .iter()
                    .find(|p| p.rate_rps == ceiling && p.verdict == ProbeVerdict::Unusable)
                    .and_then(|p| p.why.clone())
                    .unwrap_or_default()
            ),
        },
        (None, None) => SearchVerdict::AtLeast {
            capacity_rps: low,
            why: format!(
                "the highest probe ({} req/s) met the objective",
                crate::results::print::grouped(low)
            ),
        },
        (Some(_), None) => SearchVerdict::AtLeast {
            capacity_rps: low,
            why: format!("the search stopped after {MAX_PROBES} probes"),
        },
    }
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
