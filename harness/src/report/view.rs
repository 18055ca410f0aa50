//! What a report shows, derived once from a [`RunResults`]: the measured targets ranked
//! by QPS, the reference target for ratios, each target's headline level, the flags
//! (generator-bound levels, high variation) and the number formats every output uses.

use crate::load::protocol::ProtocolName;
use crate::results::caveat::describe_all;
pub use crate::results::metrics::{duration_ms, grouped, latency_ms};
use crate::results::{LevelResult, RunResults, TargetResult, TargetStatus};
use crate::stats::Spread;

/// Coefficient of variation above which a repeated figure is flagged as unstable.
pub const HIGH_VARIATION_CV: f64 = 0.10;

/// A results file prepared for rendering.
#[derive(Debug, Clone)]
pub struct ReportView<'a> {
    pub results: &'a RunResults,
    /// Targets with status ok and a QPS figure, highest QPS first (ties by name); in a
    /// run of several protocols, grouped by protocol first, since only entries of one
    /// protocol compare.
    pub ranked: Vec<&'a TargetResult>,
    /// The target every ratio is relative to (`--reference`).
    pub reference: String,
    /// Its HTTP/1.1 result, when it was measured: the published claims were measured
    /// on HTTP/1.1, so they are checked against that entry only.
    pub baseline: Option<&'a TargetResult>,
}

impl<'a> ReportView<'a> {
    /// Ranks the measured targets and finds the reference among them.
    pub fn new(results: &'a RunResults, reference: &str) -> ReportView<'a> {
        let mut ranked: Vec<&TargetResult> = results
            .targets
            .iter()
            .filter(|t| t.status == TargetStatus::Ok && t.throughput().is_some())
            .collect();
        ranked.sort_by(|a, b| {
            // Within a protocol, targets whose headline is not a plain figure go after
            // the others.
            (a.protocol.cmp(&b.protocol))
                .then_with(|| a.qps_caveat.is_some().cmp(&b.qps_caveat.is_some()))
                .then_with(|| {
                    b.throughput()
                        .unwrap_or(0.0)
                        .total_cmp(&a.throughput().unwrap_or(0.0))
                })
                .then_with(|| a.name.cmp(&b.name))
        });
        let baseline = ranked
            .iter()
            .copied()
            .find(|t| t.name == reference && plain_http1(t));
        ReportView {
            results,
            ranked,
            reference: reference.to_string(),
            baseline,
        }
    }

    /// Targets that were skipped or failed, in run order.
    pub fn not_measured(&self) -> impl Iterator<Item = &'a TargetResult> {
        self.results
            .targets
            .iter()
            .filter(|t| t.status != TargetStatus::Ok)
    }

    /// A measured target by name, on HTTP/1.1 over TCP (what the published claims were
    /// measured on).
    pub fn measured(&self, name: &str) -> Option<&'a TargetResult> {
        self.ranked
            .iter()
            .copied()
            .find(|t| t.name == name && plain_http1(t))
    }

    /// `target`'s QPS divided by the reference's on the same protocol, when both were
    /// measured and both headlines are plain figures (no `qps_caveat`).
    pub fn ratio(&self, target: &TargetResult) -> Option<f64> {
        let base = self
            .ranked
            .iter()
            .find(|t| t.name == self.reference && t.protocol == target.protocol)?;
        target.ratio_to(base)
    }

    /// The run measured targets on named protocols (a scenario with `protocol`), so
    /// entries carry their protocol in every label.
    pub fn by_protocol(&self) -> bool {
        self.results.targets.iter().any(|t| t.protocol.is_some())
    }

    /// Generator-bound levels, as "target at N connections" lines.
    pub fn generator_bound(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.ranked {
            for level in t.levels.iter().filter(|l| l.generator_bound) {
                out.push(format!(
                    "{} at {} connections: {} req/s with the generator {:.0}% busy and the server {:.0}% busy; the figure understates the server",
                    t.label(),
                    level.connections,
                    grouped(level.throughput().median),
                    level.generator_cpu_utilisation * 100.0,
                    level.server_cpu_utilisation * 100.0
                ));
            }
        }
        out
    }

    /// Levels with caveats (contention on a side's CPUs, or a closed-loop level that
    /// saturated neither side), as "target at N connections: what" lines.
    pub fn caveats(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.ranked {
            for level in t.levels.iter().filter(|l| !l.caveats.is_empty()) {
                let what = describe_all(&level.caveats);
                let retried = match level.retried {
                    0 => String::new(),
                    1 => " (measured again once)".to_string(),
                    n => format!(" (measured again {n} times)"),
                };
                out.push(format!(
                    "{} at {} connections: {} req/s; {what}{retried}",
                    t.label(),
                    level.connections,
                    grouped(level.throughput().median),
                ));
            }
        }
        out
    }

    /// Repeated figures whose coefficient of variation exceeds [`HIGH_VARIATION_CV`].
    pub fn high_variation(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.ranked {
            let mut check = |what: String, spread: Option<&Spread>| {
                if let Some(cv) = spread.and_then(|s| s.cv) {
                    if cv > HIGH_VARIATION_CV {
                        out.push(format!("{}: {what} varies by cv {cv:.3}", t.label()));
                    }
                }
            };
            check("startup time".to_string(), t.startup_ms.as_ref());
            check("cold start".to_string(), t.cold_start_ms.as_ref());
            for level in &t.levels {
                let at = level.connections;
                check(format!("QPS at {at} connections"), Some(level.throughput()));
                check(
                    format!("p99 latency at {at} connections"),
                    Some(&level.p99_ms),
                );
            }
        }
        out
    }
}

/// An entry measured on plain HTTP/1.1: every entry of a run without protocols, the
/// `h1` one of a run with them.
pub fn plain_http1(target: &TargetResult) -> bool {
    matches!(target.protocol, None | Some(ProtocolName::H1))
}

/// `text` with the entry's protocol after it ("Gin (h2c)"); unchanged without one.
pub fn with_protocol(text: &str, target: &TargetResult) -> String {
    match target.protocol {
        Some(p) => format!("{text} ({p})"),
        None => text.to_string(),
    }
}

/// The level the headline QPS comes from (the best median), or the busiest level.
pub fn headline_level(target: &TargetResult) -> Option<&LevelResult> {
    target
        .qps_connections
        .and_then(|c| target.levels.iter().find(|l| l.connections == c))
        .or_else(|| {
            target
                .levels
                .iter()
                .max_by(|a, b| a.throughput().median.total_cmp(&b.throughput().median))
        })
}

/// A spread of durations as "median (min-max)" or just the median for one value.
pub fn duration_spread(spread: &Spread) -> String {
    if spread.n > 1 {
        format!(
            "{} ({}-{})",
            duration_ms(spread.median),
            duration_ms(spread.min),
            duration_ms(spread.max)
        )
    } else {
        duration_ms(spread.median)
    }
}

/// A multi-line reason (such as "exited ...; last stderr lines:" plus the lines) as one
/// line, cut at 300 characters.
pub fn one_line(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match joined.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &joined[..cut]),
        None => joined,
    }
}

/// "-" for a missing figure.
pub fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_string())
}

/// The framework, with the target name when it differs ("node:http (node-http)").
pub fn display_name(target: &TargetResult) -> String {
    if target.framework.eq_ignore_ascii_case(&target.name) {
        target.framework.clone()
    } else {
        format!("{} ({})", target.framework, target.name)
    }
}

/// The protocols of the run, in the order tables show them.
pub fn protocols(view: &ReportView) -> Vec<ProtocolName> {
    let mut out: Vec<ProtocolName> = view
        .results
        .targets
        .iter()
        .filter_map(|t| t.protocol)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every framework's entries, one list per framework in run order, each list in
/// protocol order.
pub fn by_framework<'a>(view: &ReportView<'a>) -> Vec<Vec<&'a TargetResult>> {
    let mut out: Vec<Vec<&TargetResult>> = Vec::new();
    for target in view.results.targets.iter().filter(|t| t.protocol.is_some()) {
        match out.iter_mut().find(|group| group[0].name == target.name) {
            Some(group) => group.push(target),
            None => out.push(vec![target]),
        }
    }
    for group in &mut out {
        group.sort_by_key(|t| t.protocol);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(grouped(48123.4), "48,123");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(1_000_000.0), "1,000,000");
        assert_eq!(duration_ms(850.0), "850 ms");
        assert_eq!(duration_ms(1250.0), "1.25 s");
        assert_eq!(duration_ms(3.21), "3.2 ms");
    }
}
