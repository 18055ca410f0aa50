//! A scenario's `[capacity]` section (issue 25): instead of a ladder, each target's
//! capacity under a latency objective is searched for, an open-loop rate at a time
//! (`run::capacity`), then every target is driven at equal load. The section states the
//! objective (`objective = "p99 <= 10ms"`, `max_error_rate`) and how the search goes:
//! where the ramp starts and stops (`lowest`, `highest`), how fast it rises (`factor`),
//! when the bisection stops (`precision`), how long each probe is (the scenario's
//! `duration`, longer when the rate is too low for `min_requests`), and the fractions of
//! capacity the latency at equal load is taken at.

use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

use super::problem::{duration as parse_duration, line_of, Problem};
use crate::results::capacity::{Objective, Percentile};

/// Error rate an objective allows unless the section says otherwise.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.001;
/// The ramp's first rate (requests per second).
pub const DEFAULT_LOWEST: f64 = 1000.0;
/// The ramp's last rate.
pub const DEFAULT_HIGHEST: f64 = 2_000_000.0;
/// Each ramp probe offers this many times the rate of the one before.
pub const DEFAULT_FACTOR: f64 = 2.0;
/// The bisection stops once the bracket is narrower than this share of its low end.
pub const DEFAULT_PRECISION: f64 = 0.05;
/// Each probe's own warm-up at its rate, before its measured window.
pub const DEFAULT_PROBE_WARMUP: Duration = Duration::from_secs(1);
/// Requests beyond the objective's percentile a probe must hold at least: a p99 of a
/// probe with 2,000 requests rests on its 20 slowest.
pub const TAIL_REQUESTS: f64 = 20.0;
/// Fraction of its own capacity each target is also driven at (as the-benchmarker does).
pub const DEFAULT_OWN_FRACTION: f64 = 0.5;
/// Fraction of the slowest target's capacity every target is driven at.
pub const DEFAULT_EQUAL_FRACTION: f64 = 0.8;

/// The validated section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacitySpec {
    /// As written (`p99 <= 10ms`).
    #[serde(rename = "objective")]
    pub objective_text: String,
    #[serde(skip)]
    pub objective: Objective,
    pub max_error_rate: f64,
    pub lowest: f64,
    pub highest: f64,
    pub factor: f64,
    pub precision: f64,
    #[serde(serialize_with = "humantime_str")]
    pub probe_warmup: Duration,
    /// The fewest measured requests a probe may have; longer probes at low rates.
    pub min_requests: u64,
    pub own_fraction: f64,
    pub equal_fraction: f64,
    /// Published-vs-measured ratios use capacity instead of peak QPS (labelled so).
    pub claims: bool,
}

fn humantime_str<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

impl CapacitySpec {
    /// A probe at `rate`'s measured length: at least `duration`, and long enough for
    /// `min_requests`.
    pub fn probe_length(&self, rate: f64, duration: Duration) -> Duration {
        let needed = Duration::from_secs_f64(self.min_requests as f64 / rate.max(1e-3));
        duration.max(needed.min(Duration::from_secs(3600)))
    }
}

/// `[capacity]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCapacity {
    objective: Spanned<String>,
    max_error_rate: Option<Spanned<String>>,
    lowest: Option<Spanned<f64>>,
    highest: Option<Spanned<f64>>,
    factor: Option<Spanned<f64>>,
    precision: Option<Spanned<String>>,
    probe_warmup: Option<Spanned<String>>,
    min_requests: Option<Spanned<i64>>,
    own_fraction: Option<Spanned<f64>>,
    equal_fraction: Option<Spanned<f64>>,
    claims: Option<bool>,
}

/// Validates the section.
pub(super) fn validate(raw: RawCapacity, text: &str) -> Result<CapacitySpec, Problem> {
    let at = |span: std::ops::Range<usize>, message: String| Problem {
        line: Some(line_of(text, span.start)),
        message: format!("[capacity] {message}"),
    };
    let (percentile, bound) = objective(raw.objective.get_ref())
        .map_err(|m| at(raw.objective.span(), format!("objective: {m}")))?;
    let share = |value: &Option<Spanned<String>>, key: &str, default: f64, max: f64| {
        let Some(value) = value else {
            return Ok(default);
        };
        let raw = value.get_ref().trim();
        raw.strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .map(|p| p / 100.0)
            .filter(|p| (0.0..=max).contains(p))
            .ok_or_else(|| {
                let message = format!(
                    "{key} `{raw}` is not a percentage from 0% to {}% like \"1%\"",
                    max * 100.0
                );
                at(value.span(), message)
            })
    };
    let max_error_rate = share(
        &raw.max_error_rate,
        "max_error_rate",
        DEFAULT_MAX_ERROR_RATE,
        1.0,
    )?;
    let precision = share(&raw.precision, "precision", DEFAULT_PRECISION, 0.5)?;
    if precision < 0.001 {
        let span = raw.precision.as_ref().map_or(0..0, |p| p.span());
        return Err(at(span, "precision must be at least 0.1%".to_string()));
    }
    let rate = |value: &Option<Spanned<f64>>, key: &str, default: f64| match value {
        None => Ok(default),
        Some(v) => crate::load::bounds::check_rate(*v.get_ref())
            .map_err(|e| at(v.span(), format!("{key}: {e}"))),
    };
    let lowest = rate(&raw.lowest, "lowest", DEFAULT_LOWEST)?;
    let highest = rate(&raw.highest, "highest", DEFAULT_HIGHEST.max(lowest))?;
    if highest < lowest {
        let span = raw.highest.as_ref().map_or(0..0, |h| h.span());
        let message = format!("highest ({highest}) is below lowest ({lowest})");
        return Err(at(span, message));
    }
    let fraction =
        |value: &Option<Spanned<f64>>, key: &str, default: f64, range: (f64, f64)| match value {
            None => Ok(default),
            Some(v) if v.get_ref().is_finite() && (range.0..=range.1).contains(v.get_ref()) => {
                Ok(*v.get_ref())
            }
            Some(v) => Err(at(
                v.span(),
                format!(
                    "{key} {} must be from {} to {}",
                    v.get_ref(),
                    range.0,
                    range.1
                ),
            )),
        };
    let factor = fraction(&raw.factor, "factor", DEFAULT_FACTOR, (1.1, 10.0))?;
    let own_fraction = fraction(
        &raw.own_fraction,
        "own_fraction",
        DEFAULT_OWN_FRACTION,
        (0.01, 1.0),
    )?;
    let equal_fraction = fraction(
        &raw.equal_fraction,
        "equal_fraction",
        DEFAULT_EQUAL_FRACTION,
        (0.01, 1.0),
    )?;
    let probe_warmup = match &raw.probe_warmup {
        None => DEFAULT_PROBE_WARMUP,
        Some(w) => parse_duration(w, "probe_warmup", text).map_err(|p| Problem {
            message: format!("[capacity] {}", p.message),
            ..p
        })?,
    };
    let tail = (TAIL_REQUESTS / (1.0 - percentile.quantile())).round() as u64;
    let min_requests = match &raw.min_requests {
        None => tail,
        Some(v) => u64::try_from(*v.get_ref())
            .ok()
            .filter(|n| (1..=1_000_000_000).contains(n))
            .ok_or_else(|| {
                let message = format!("min_requests {} must be from 1 to 1000000000", v.get_ref());
                at(v.span(), message)
            })?,
    };
    Ok(CapacitySpec {
        objective_text: raw.objective.get_ref().trim().to_string(),
        objective: Objective {
            percentile,
            bound_ms: bound.as_secs_f64() * 1e3,
            max_error_rate,
        },
        max_error_rate,
        lowest,
        highest,
        factor,
        precision,
        probe_warmup,
        min_requests,
        own_fraction,
        equal_fraction,
        claims: raw.claims.unwrap_or(false),
    })
}

/// Reads `p99 <= 10ms`: a percentile, `<=` (or `<`), a duration.
fn objective(text: &str) -> Result<(Percentile, Duration), String> {
    let usage = "expected a percentile and a bound like \"p99 <= 10ms\"";
    let (left, right) = text
        .split_once("<=")
        .or_else(|| text.split_once('<'))
        .ok_or_else(|| format!("`{text}`: {usage}"))?;
    let percentile = Percentile::parse(left).ok_or_else(|| {
        format!(
            "`{}` is not a percentile: use p50, p90, p99 or p99.9",
            left.trim()
        )
    })?;
    let bound = humantime::parse_duration(right.trim())
        .map_err(|e| format!("`{}` is not a duration like \"10ms\": {e}", right.trim()))?;
    if bound.is_zero() || bound > Duration::from_secs(3600) {
        return Err(format!(
            "the bound `{}` must be above 0 and at most 1h",
            right.trim()
        ));
    }
    Ok((percentile, bound))
}

/// What a capacity scenario must not have: it chooses its own rates, on one
/// concurrency, for a service without a chain.
pub(super) fn needs(
    rate: Option<f64>,
    connections: &[usize],
    chained: bool,
    interleave: bool,
) -> Result<(), String> {
    if interleave {
        return Err("interleave: a [capacity] scenario runs a target's searches on one process, then every target at equal load; remove `interleave`".to_string());
    }
    if rate.is_some() {
        return Err("rate: a [capacity] scenario chooses its own rates; remove `rate`".to_string());
    }
    if connections.len() != 1 {
        return Err(format!(
            "connections: a [capacity] scenario needs exactly one entry (the connections every probe uses), found {}",
            connections.len()
        ));
    }
    if chained {
        return Err("[capacity] cannot be combined with [chain] or [[fault]]".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    const HEAD: &str = "name = \"c\"\nduration = \"2s\"\nconnections = [32]\n[[request]]\nname = \"h\"\npath = \"/health\"\n";

    fn parse(section: &str) -> Result<Scenario, String> {
        Scenario::parse(&format!("{HEAD}[capacity]\n{section}"), "c.toml")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_the_objective() {
        let spec = parse("objective = \"p99 <= 10ms\"\n")
            .unwrap()
            .capacity
            .unwrap();
        assert_eq!(spec.objective.bound_ms, 10.0);
        assert_eq!(spec.objective.max_error_rate, 0.001);
        assert_eq!(spec.min_requests, 2000);
        assert_eq!(spec.factor, 2.0);
        let p999 = parse("objective = \"p99.9 < 250ms\"\nmax_error_rate = \"1%\"\n")
            .unwrap()
            .capacity
            .unwrap();
        assert_eq!(p999.objective.bound_ms, 250.0);
        assert_eq!(p999.min_requests, 20_000);
        assert_eq!(p999.objective.max_error_rate, 0.01);
    }

    #[test]
    fn a_probe_is_long_enough_for_its_tail() {
        let spec = parse("objective = \"p99 <= 10ms\"\n")
            .unwrap()
            .capacity
            .unwrap();
        let two = std::time::Duration::from_secs(2);
        assert_eq!(spec.probe_length(100_000.0, two), two);
        assert_eq!(
            spec.probe_length(500.0, two),
            std::time::Duration::from_secs(4)
        );
    }

    #[test]
    fn bad_sections_name_the_line_and_the_key() {
        let e = parse("objective = \"p98 <= 10ms\"\n").unwrap_err();
        assert!(
            e.contains("c.toml:8: [capacity] objective: `p98` is not a percentile"),
            "{e}"
        );
        let e = parse("objective = \"p99 10ms\"\n").unwrap_err();
        assert!(e.contains("expected a percentile and a bound"), "{e}");
        let e = parse("objective = \"p99 <= 10ms\"\nlowest = 5000\nhighest = 100\n").unwrap_err();
        assert!(
            e.contains("c.toml:10: [capacity] highest (100) is below lowest (5000)"),
            "{e}"
        );
        let e = parse("objective = \"p99 <= 10ms\"\nprecision = \"60%\"\n").unwrap_err();
        assert!(e.contains("precision `60%`"), "{e}");
        let e = parse("objective = \"p99 <= 10ms\"\nspeed = 1\n").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn a_capacity_scenario_chooses_its_own_rates_on_one_concurrency() {
        let text = format!("{HEAD}[capacity]\nobjective = \"p99 <= 10ms\"\n")
            .replace("connections = [32]", "connections = [32]\nrate = 100");
        let e = Scenario::parse(&text, "c.toml").unwrap_err().to_string();
        assert!(e.contains("chooses its own rates"), "{e}");
        let text =
            format!("{HEAD}[capacity]\nobjective = \"p99 <= 10ms\"\n").replace("[32]", "[32, 64]");
        let e = Scenario::parse(&text, "c.toml").unwrap_err().to_string();
        assert!(e.contains("exactly one entry"), "{e}");
        let text = format!("interleave = true\n{HEAD}[capacity]\nobjective = \"p99 <= 10ms\"\n");
        let e = Scenario::parse(&text, "c.toml").unwrap_err().to_string();
        assert!(e.contains("interleave: a [capacity] scenario"), "{e}");
    }
}
