//! The published comparison (`targets/published-claims.toml`) and the check of a run
//! against it: QPS as ratios to hyperlane, memory and times as ranges, and a plain
//! verdict per figure (held / did not hold / not measured).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::table::Table;
use super::view::{duration_ms, grouped, one_line, ReportView, BASELINE_TARGET};
use crate::run::results::{TargetResult, TargetStatus};

/// The claims file shipped with the repository, used when none is found on disk.
const EMBEDDED_CLAIMS: &str = include_str!("../../../targets/published-claims.toml");

/// Default relative tolerance when comparing a measured QPS ratio to the published one.
const DEFAULT_RATIO_TOLERANCE: f64 = 0.25;

/// Why a claims file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// The whole published comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedClaims {
    /// Where the figures come from and how they were measured.
    pub source: String,
    /// A measured QPS ratio "holds" when within this relative distance of the published one.
    pub qps_ratio_tolerance: f64,
    pub claims: Vec<Claim>,
}

/// One row of the published table.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub framework: String,
    pub target: String,
    pub closer_match: Option<String>,
    pub qps: f64,
    pub memory: ClaimRange,
    pub startup: ClaimRange,
    pub cold_start: ClaimRange,
    pub note: Option<String>,
}

/// A published range such as "10-20MB" or "< 1s", in the report's units (MiB or ms).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRange {
    /// As published.
    pub text: String,
    /// Lower bound; 0 for "< x".
    pub low: f64,
    pub high: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsFile {
    source: String,
    qps_ratio_tolerance: Option<f64>,
    claim: Vec<ClaimEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimEntry {
    framework: String,
    target: String,
    closer_match: Option<String>,
    qps: f64,
    memory: String,
    startup: String,
    cold_start: String,
    note: Option<String>,
}

impl PublishedClaims {
    /// Reads a claims file.
    pub fn load(path: &Path) -> Result<PublishedClaims, ClaimsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ClaimsError::Read {
            path: shown.clone(),
            source,
        })?;
        PublishedClaims::parse(&text).map_err(|message| ClaimsError::Invalid {
            path: shown,
            message,
        })
    }

    /// The copy of `targets/published-claims.toml` built into the binary.
    pub fn embedded() -> PublishedClaims {
        PublishedClaims::parse(EMBEDDED_CLAIMS).expect("the shipped claims file is valid")
    }

    /// `targets/published-claims.toml` found by walking up from `start`, if any.
    pub fn find_from(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .map(|dir| dir.join("targets").join("published-claims.toml"))
            .find(|p| p.is_file())
    }

    /// Parses the TOML text; the error says which claim and field are wrong.
    pub fn parse(text: &str) -> Result<PublishedClaims, String> {
        let file: ClaimsFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut claims = Vec::new();
        for entry in file.claim {
            let range = |field: &str, text: &str, kind: RangeKind| {
                parse_range(text, kind)
                    .map_err(|e| format!("claim {:?}: {field} {text:?}: {e}", entry.framework))
            };
            claims.push(Claim {
                memory: range("memory", &entry.memory, RangeKind::Memory)?,
                startup: range("startup", &entry.startup, RangeKind::Time)?,
                cold_start: range("cold_start", &entry.cold_start, RangeKind::Time)?,
                framework: entry.framework,
                target: entry.target,
                closer_match: entry.closer_match,
                qps: entry.qps,
                note: entry.note,
            });
        }
        if !claims.iter().any(|c| c.target == BASELINE_TARGET) {
            return Err(format!(
                "no claim for the baseline target {BASELINE_TARGET:?}"
            ));
        }
        Ok(PublishedClaims {
            source: file.source,
            qps_ratio_tolerance: file.qps_ratio_tolerance.unwrap_or(DEFAULT_RATIO_TOLERANCE),
            claims,
        })
    }

    /// A claim's published QPS divided by the baseline's published QPS.
    pub fn published_ratio(&self, claim: &Claim) -> f64 {
        let base = self
            .claims
            .iter()
            .find(|c| c.target == BASELINE_TARGET)
            .map_or(0.0, |c| c.qps);
        claim.qps / base
    }
}

#[derive(Clone, Copy)]
enum RangeKind {
    Memory,
    Time,
}

/// Parses "A-B<unit>" or "< B<unit>" into MiB (memory: MB) or ms (time: ms, s).
fn parse_range(text: &str, kind: RangeKind) -> Result<ClaimRange, String> {
    let trimmed = text.trim();
    let (upper_only, rest) = match trimmed.strip_prefix('<') {
        Some(rest) => (true, rest.trim()),
        None => (false, trimmed),
    };
    let split = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or("missing unit")?;
    let (numbers, unit) = rest.split_at(split);
    let scale = match (kind, unit.trim()) {
        (RangeKind::Memory, "MB") => 1e6 / 1_048_576.0,
        (RangeKind::Time, "ms") => 1.0,
        (RangeKind::Time, "s") => 1000.0,
        (_, other) => return Err(format!("unknown unit {other:?}")),
    };
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| format!("{:?} is not a number", s.trim()))
    };
    let (low, high) = if upper_only {
        (0.0, number(numbers)?)
    } else {
        let (a, b) = numbers.split_once('-').ok_or("expected A-B or < B")?;
        (number(a)?, number(b)?)
    };
    if low > high {
        return Err("the lower bound is above the upper bound".to_string());
    }
    Ok(ClaimRange {
        text: trimmed.to_string(),
        low: low * scale,
        high: high * scale,
    })
}

/// The outcome of checking one published figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Held,
    DidNotHold,
    NotMeasured,
}

impl Verdict {
    /// The words the report prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::DidNotHold => "did not hold",
            Verdict::NotMeasured => "not measured",
        }
    }
}

/// One published figure next to the measured one.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureCheck {
    pub framework: String,
    pub figure: &'static str,
    pub published: String,
    pub measured: String,
    pub verdict: Verdict,
    pub detail: String,
}

/// Checks every claim against the run.
pub fn check(claims: &PublishedClaims, view: &ReportView) -> Vec<FigureCheck> {
    let base_claim = claims
        .claims
        .iter()
        .find(|c| c.target == BASELINE_TARGET)
        .map_or(0.0, |c| c.qps);
    let mut out = Vec::new();
    for claim in &claims.claims {
        let measured = view.measured(&claim.target);
        let row = |figure, published: String, (measured, verdict, detail)| FigureCheck {
            framework: claim.framework.clone(),
            figure,
            published,
            measured,
            verdict,
            detail,
        };
        let published_ratio = claim.qps / base_claim;
        out.push(row(
            "QPS",
            format!(
                "{} ({published_ratio:.2}x hyperlane)",
                short_thousands(claim.qps)
            ),
            check_qps(claims, claim, published_ratio, view),
        ));
        out.push(row(
            "Memory",
            claim.memory.text.clone(),
            check_memory(&claim.memory, measured)
                .unwrap_or_else(|| not_measured(view, &claim.target)),
        ));
        let startup = measured.and_then(|t| t.startup_ms.map(|s| s.median));
        out.push(row(
            "Startup Time",
            claim.startup.text.clone(),
            check_time(&claim.startup, startup)
                .unwrap_or_else(|| not_measured(view, &claim.target)),
        ));
        let cold = measured.and_then(|t| t.cold_start_ms.map(|s| s.median));
        out.push(row(
            "Cold Start",
            claim.cold_start.text.clone(),
            check_time(&claim.cold_start, cold)
                .unwrap_or_else(|| not_measured(view, &claim.target)),
        ));
    }
    out
}

type Outcome = (String, Verdict, String);

fn check_qps(
    claims: &PublishedClaims,
    claim: &Claim,
    published_ratio: f64,
    view: &ReportView,
) -> Outcome {
    let Some(target) = view.measured(&claim.target) else {
        return not_measured(view, &claim.target);
    };
    let qps = target.qps.unwrap_or(0.0);
    let Some(ratio) = view.ratio(target) else {
        return (
            format!("{} req/s", grouped(qps)),
            Verdict::NotMeasured,
            "hyperlane was not measured, so there is no ratio".to_string(),
        );
    };
    let measured = format!("{} ({ratio:.2}x hyperlane)", grouped(qps));
    if claim.target == BASELINE_TARGET {
        return baseline_outcome(claims, view, measured);
    }
    let tolerance = claims.qps_ratio_tolerance;
    let off = ratio / published_ratio - 1.0;
    if off.abs() <= tolerance {
        let detail = format!("within {:.0}% of the published ratio", tolerance * 100.0);
        (measured, Verdict::Held, detail)
    } else {
        let direction = if off > 0.0 {
            "closer to"
        } else {
            "further behind"
        };
        let detail = format!(
            "measured ratio is {:.0}% {} the published one: {} hyperlane than claimed",
            off.abs() * 100.0,
            if off > 0.0 { "above" } else { "below" },
            direction
        );
        (measured, Verdict::DidNotHold, detail)
    }
}

/// hyperlane's own ratio is 1 by definition; what its row claims is that it is the fastest
/// of the published frameworks.
fn baseline_outcome(claims: &PublishedClaims, view: &ReportView, measured: String) -> Outcome {
    let base = view.baseline.and_then(|t| t.qps).unwrap_or(0.0);
    let others: Vec<&TargetResult> = claims
        .claims
        .iter()
        .filter(|c| c.target != BASELINE_TARGET)
        .filter_map(|c| view.measured(&c.target))
        .collect();
    if others.is_empty() {
        let detail = "no other published framework was measured to rank against".to_string();
        return (measured, Verdict::NotMeasured, detail);
    }
    match others.iter().find(|t| t.qps.unwrap_or(0.0) > base) {
        None => (
            measured,
            Verdict::Held,
            "fastest of the published frameworks measured".to_string(),
        ),
        Some(faster) => (
            measured,
            Verdict::DidNotHold,
            format!("{} was faster", faster.name),
        ),
    }
}

fn check_memory(range: &ClaimRange, target: Option<&TargetResult>) -> Option<Outcome> {
    let memory = target.and_then(|t| t.memory_mb.as_ref())?;
    let measured = format!(
        "{:.1}-{:.1} MiB (idle-peak, {})",
        memory.idle, memory.peak, memory.metric
    );
    let claimed = format!("{:.1}-{:.1} MiB", range.low, range.high);
    Some(if memory.peak < range.low {
        let detail = format!("below the claimed range ({claimed}): uses less than claimed");
        (measured, Verdict::DidNotHold, detail)
    } else if memory.idle > range.high {
        let detail = format!("above the claimed range ({claimed}): uses more than claimed");
        (measured, Verdict::DidNotHold, detail)
    } else {
        let detail = format!("overlaps the claimed range ({claimed})");
        (measured, Verdict::Held, detail)
    })
}

fn check_time(range: &ClaimRange, median_ms: Option<f64>) -> Option<Outcome> {
    let ms = median_ms?;
    let measured = format!("{} (median)", duration_ms(ms));
    Some(if ms < range.low {
        (measured, Verdict::DidNotHold, "faster than claimed".into())
    } else if ms > range.high {
        (measured, Verdict::DidNotHold, "slower than claimed".into())
    } else {
        (measured, Verdict::Held, "within the claimed range".into())
    })
}

/// Says why a target has no figure: skipped or failed (with the reason), or not in the run.
fn not_measured(view: &ReportView, target: &str) -> Outcome {
    let found = view.results.targets.iter().find(|t| t.name == target);
    let detail = match found {
        Some(t) if t.status == TargetStatus::Skipped => {
            format!("{target} was skipped: {}", reason(t.reason.as_deref()))
        }
        Some(t) if t.status == TargetStatus::Failed => {
            format!("{target} failed: {}", reason(t.reason.as_deref()))
        }
        Some(_) => format!("{target} has no such figure in this run"),
        None => format!("{target} was not part of this run"),
    };
    ("-".to_string(), Verdict::NotMeasured, detail)
}

fn reason(text: Option<&str>) -> String {
    one_line(text.unwrap_or("no reason recorded"))
}

/// 324000 -> "324K", as the published table writes it.
fn short_thousands(value: f64) -> String {
    if value >= 1000.0 {
        format!("{}K", grouped(value / 1000.0))
    } else {
        grouped(value)
    }
}

/// The "published vs measured" table.
pub fn table(checks: &[FigureCheck]) -> Table {
    let mut t = Table::new(
        &[
            "Framework",
            "Figure",
            "Published",
            "Measured",
            "Verdict",
            "Why",
        ],
        &[false; 6],
    );
    for c in checks {
        t.push(vec![
            c.framework.clone(),
            c.figure.to_string(),
            c.published.clone(),
            c.measured.clone(),
            c.verdict.as_str().to_string(),
            c.detail.clone(),
        ]);
    }
    t
}

/// Notes under the table: the source, and closer matches that were measured.
pub fn notes(claims: &PublishedClaims, view: &ReportView) -> Vec<String> {
    let mut out = vec![format!(
        "Source of the published figures: {}.",
        claims.source
    )];
    out.push(format!(
        "QPS holds when the measured ratio to hyperlane is within {:.0}% of the published ratio; memory holds when the measured idle-peak range overlaps the published range (MB converted to MiB); times hold when the median lies in the published range.",
        claims.qps_ratio_tolerance * 100.0
    ));
    for claim in &claims.claims {
        if let Some(note) = &claim.note {
            out.push(format!("{}: {note}.", claim.framework));
        }
        let Some(closer) = &claim.closer_match else {
            continue;
        };
        match view.measured(closer).and_then(|t| Some((t, view.ratio(t)?))) {
            Some((t, ratio)) => out.push(format!(
                "{}: the closer match {closer} measured {} req/s ({ratio:.2}x hyperlane) against the published {:.2}x.",
                claim.framework,
                grouped(t.qps.unwrap_or(0.0)),
                claims.published_ratio(claim)
            )),
            None => out.push(format!(
                "{}: the closer match {closer} was not measured in this run.",
                claim.framework
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_with_units() {
        let r = parse_range("< 1s", RangeKind::Time).unwrap();
        assert_eq!((r.low, r.high), (0.0, 1000.0));
        let r = parse_range("30-60s", RangeKind::Time).unwrap();
        assert_eq!((r.low, r.high), (30_000.0, 60_000.0));
        let r = parse_range("< 100ms", RangeKind::Time).unwrap();
        assert_eq!(r.high, 100.0);
        let r = parse_range("10-20MB", RangeKind::Memory).unwrap();
        assert!((r.high - 19.073).abs() < 0.01);
        assert!(parse_range("10-20GB", RangeKind::Memory).is_err());
        assert!(parse_range("20-10ms", RangeKind::Time).is_err());
        assert!(parse_range("fast", RangeKind::Time).is_err());
    }

    #[test]
    fn shipped_claims_have_the_five_published_rows() {
        let claims = PublishedClaims::embedded();
        let targets: Vec<&str> = claims.claims.iter().map(|c| c.target.as_str()).collect();
        assert_eq!(
            targets,
            ["hyperlane", "spring-boot", "express", "fastapi", "gin"]
        );
        assert_eq!(claims.claims[0].qps, 324_000.0);
    }
}
