//! Figures derived from the stored records, each computed here and nowhere else: server
//! CPU per successful response, a target's ratio to the reference, and the one accessor
//! for throughput (stored as `qps` per target, `success_rps` per level and repeat, and
//! exported as `throughput`: the field names stay, the code asks for `throughput()`).

use crate::results::{LevelResult, RepeatResult, TargetResult};
use crate::stats::Spread;

/// Server CPU microseconds per successful response; `None` without successes (a window
/// that served nothing has no cost per response).
pub fn cpu_us_per_success(server_cpu_s: f64, successes: u64) -> Option<f64> {
    (successes > 0).then(|| server_cpu_s * 1e6 / successes as f64)
}

/// `value / reference`; `None` when the reference is not positive.
pub fn ratio(value: f64, reference: f64) -> Option<f64> {
    (reference > 0.0).then(|| value / reference)
}

impl RepeatResult {
    /// Successful responses per second in this repeat.
    pub fn throughput(&self) -> f64 {
        self.load.success_rps
    }

    /// Server CPU microseconds per successful response in this repeat.
    pub fn cpu_us_per_success(&self) -> Option<f64> {
        cpu_us_per_success(self.server_cpu_s, self.load.successes)
    }
}

impl LevelResult {
    /// Successful responses per second over the level's repeats.
    pub fn throughput(&self) -> &Spread {
        &self.success_rps
    }

    /// This level's median throughput divided by `reference`'s.
    pub fn ratio_to(&self, reference: &LevelResult) -> Option<f64> {
        ratio(self.throughput().median, reference.throughput().median)
    }

    /// Server CPU per successful response over the repeats: min-max of the repeats, and
    /// as median the run's own summary (`server_cpu_us_per_success`) when it recorded one.
    pub fn cpu_per_success(&self) -> Option<Spread> {
        let values: Vec<f64> = self
            .repeats
            .iter()
            .filter_map(RepeatResult::cpu_us_per_success)
            .collect();
        let mut spread = Spread::of(&values)?;
        spread.median = self.server_cpu_us_per_success.unwrap_or(spread.median);
        Some(spread)
    }
}

impl TargetResult {
    /// The headline throughput (successful responses per second of the best clean level).
    pub fn throughput(&self) -> Option<f64> {
        self.qps
    }

    /// This target's headline throughput divided by `reference`'s, when both headlines
    /// are plain figures (no `qps_caveat`).
    pub fn ratio_to(&self, reference: &TargetResult) -> Option<f64> {
        if self.qps_caveat.is_some() || reference.qps_caveat.is_some() {
            return None;
        }
        ratio(self.throughput()?, reference.throughput()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_per_success_needs_successes() {
        assert_eq!(cpu_us_per_success(0.5, 0), None);
        assert_eq!(cpu_us_per_success(0.5, 1000), Some(500.0));
        assert_eq!(ratio(2.0, 0.0), None);
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
    }
}
