//! The published comparison held against a run: QPS as ratios to the published reference
//! (the claims file's, whatever `--reference` the report shows), memory and
//! startup as ranges, each with a plain verdict: held / did not hold where the run is
//! comparable (`comparable`), otherwise "not comparable" and why, or "not measured".
//!
//! Published cold start is never judged: in every published row it is at or below the
//! startup time (in one row 5-10 s against 30-60 s), so it cannot be spawn-to-first-
//! response, which is what our cold start measures, and the source does not say what
//! it is. The row shows our cold start, first request and time to steady state beside
//! it, and the notes say so.

use super::claims::{Claim, ClaimRange, PublishedClaims};
use super::comparable::{clearly_faster, level_at, level_gaps, run_gaps, MIN_REPEATS};
use super::table::Table;
use super::view::{duration_ms, grouped, one_line, plain_http1, ReportView};
use crate::results::{TargetResult, TargetStatus};

/// The outcome of checking one published figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Held,
    DidNotHold,
    /// Measured, but not the way the figure was published.
    NotComparable,
    NotMeasured,
}

impl Verdict {
    /// The words the report prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::DidNotHold => "did not hold",
            Verdict::NotComparable => "not comparable",
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

type Outcome = (String, Verdict, String);

/// Checks every claim against the run.
pub fn check(claims: &PublishedClaims, view: &ReportView) -> Vec<FigureCheck> {
    let base_qps = claims.reference_qps();
    let reference = &claims.reference;
    let mut out = Vec::new();
    for claim in &claims.claims {
        let measured = view.measured(&claim.target);
        let row = |figure, published: String, (measured, verdict, detail): Outcome| FigureCheck {
            framework: claim.framework.clone(),
            figure,
            published,
            measured,
            verdict,
            detail,
        };
        let published_ratio = claim.qps / base_qps;
        let published = format!(
            "{} ({published_ratio:.2}x {reference})",
            short_thousands(claim.qps)
        );
        out.push(row(
            "QPS",
            published,
            check_qps(claims, claim, published_ratio, view),
        ));
        // A target that failed its load levels (errors) still had its launches timed and
        // its memory sampled: those claims are judged on what was measured.
        let measured = measured.or_else(|| failed_but_launched(view, &claim.target));
        let memory = measured
            .map(|t| check_memory(claims, &claim.memory, t, view))
            .unwrap_or_else(|| not_measured(view, &claim.target));
        out.push(row("Memory", claim.memory.text.clone(), memory));
        let startup = measured
            .map(|t| check_startup(&claim.startup, t))
            .unwrap_or_else(|| not_measured(view, &claim.target));
        out.push(row("Startup Time", claim.startup.text.clone(), startup));
        let cold = measured
            .map(cold_start_outcome)
            .unwrap_or_else(|| not_measured(view, &claim.target));
        out.push(row("Cold Start", claim.cold_start.text.clone(), cold));
    }
    out
}

/// A failed target whose launches were timed (it failed under load, not at build or
/// start), on HTTP/1.1 as the claims were measured.
fn failed_but_launched<'a>(view: &ReportView<'a>, name: &str) -> Option<&'a TargetResult> {
    view.results.targets.iter().find(|t| {
        t.name == name
            && plain_http1(t)
            && t.status == TargetStatus::Failed
            && t.startup_ms.is_some()
    })
}

/// "not comparable: a; b" — every reason the run cannot hold the claim.
fn not_comparable(measured: String, gaps: &[String]) -> Outcome {
    let detail = format!("not comparable: {}", gaps.join("; "));
    (measured, Verdict::NotComparable, detail)
}

fn check_qps(
    claims: &PublishedClaims,
    claim: &Claim,
    published_ratio: f64,
    view: &ReportView,
) -> Outcome {
    let Some(target) = view.measured(&claim.target) else {
        return not_measured(view, &claim.target);
    };
    let reference = &claims.reference;
    let Some(base) = view.measured(reference) else {
        let measured = format!("{} req/s", grouped(target.throughput().unwrap_or(0.0)));
        let detail = format!("{reference} was not measured, so there is no ratio");
        return (measured, Verdict::NotMeasured, detail);
    };
    let setup = claims.connections;
    let headline = match target.ratio_to(base) {
        Some(ratio) => format!(
            "{} ({ratio:.2}x {reference})",
            grouped(target.throughput().unwrap_or(0.0))
        ),
        None => format!("{} req/s", grouped(target.throughput().unwrap_or(0.0))),
    };
    if claim.target == *reference {
        return baseline_outcome(claims, view, headline);
    }
    let mut gaps = run_gaps(view.results);
    gaps.extend(level_gaps(target, setup));
    gaps.extend(level_gaps(base, setup));
    let (Some(level), Some(base_level)) = (level_at(target, setup), level_at(base, setup)) else {
        return not_comparable(headline, &gaps);
    };
    if !gaps.is_empty() {
        return not_comparable(headline, &gaps);
    }
    let Some(ratio) = level.ratio_to(base_level) else {
        let gap = format!("{reference} served nothing at {setup} connections");
        return not_comparable(headline, &[gap]);
    };
    let measured = format!(
        "{} ({ratio:.2}x {reference})",
        grouped(level.throughput().median)
    );
    let tolerance = claims.qps_ratio_tolerance;
    let off = ratio / published_ratio - 1.0;
    if off.abs() <= tolerance {
        let detail = format!("within {:.0}% of the published ratio", tolerance * 100.0);
        return (measured, Verdict::Held, detail);
    }
    let detail = format!(
        "measured ratio is {:.0}% {} the published one: {} {reference} than claimed",
        off.abs() * 100.0,
        if off > 0.0 { "above" } else { "below" },
        if off > 0.0 {
            "closer to"
        } else {
            "further behind"
        }
    );
    (measured, Verdict::DidNotHold, detail)
}

/// The reference's own ratio is 1 by definition; what its row claims is that it is the
/// fastest of the published frameworks. An ordering holds only beyond the spread of the
/// repeats.
fn baseline_outcome(claims: &PublishedClaims, view: &ReportView, measured: String) -> Outcome {
    let setup = claims.connections;
    let Some(base) = view.measured(&claims.reference) else {
        return not_measured(view, &claims.reference);
    };
    let mut gaps = run_gaps(view.results);
    gaps.extend(level_gaps(base, setup));
    let others: Vec<&TargetResult> = claims
        .claims
        .iter()
        .filter(|c| c.target != claims.reference)
        .filter_map(|c| view.measured(&c.target))
        .collect();
    if others.is_empty() {
        let detail = "no other published framework was measured to rank against".to_string();
        return (measured, Verdict::NotMeasured, detail);
    }
    for other in &others {
        gaps.extend(level_gaps(other, setup));
    }
    let Some(base_level) = level_at(base, setup).filter(|_| gaps.is_empty()) else {
        return not_comparable(measured, &gaps);
    };
    let mut unclear = Vec::new();
    for other in &others {
        let Some(level) = level_at(other, setup) else {
            continue;
        };
        match clearly_faster(base_level, level) {
            Some(true) => {}
            Some(false) => {
                let detail = format!("{} was faster in every repeat", other.name);
                return (measured, Verdict::DidNotHold, detail);
            }
            None => unclear.push(other.name.clone()),
        }
    }
    if !unclear.is_empty() {
        let gap = format!(
            "the difference to {} is within the spread of the repeats",
            unclear.join(", ")
        );
        return not_comparable(measured, &[gap]);
    }
    let detail = "faster than every published framework measured, in every repeat".to_string();
    (measured, Verdict::Held, detail)
}

fn check_memory(
    claims: &PublishedClaims,
    range: &ClaimRange,
    target: &TargetResult,
    view: &ReportView,
) -> Outcome {
    let Some(memory) = target.memory_mb.as_ref() else {
        return not_measured(view, &target.name);
    };
    let measured = format!(
        "{:.1}-{:.1} MiB (idle-peak, {})",
        memory.idle, memory.peak, memory.metric
    );
    let mut gaps = run_gaps(view.results);
    if level_at(target, claims.connections).is_none() {
        gaps.push(format!("no load at {} connections", claims.connections));
    }
    if !gaps.is_empty() {
        return not_comparable(measured, &gaps);
    }
    let claimed = format!("{:.1}-{:.1} MiB", range.low, range.high);
    if memory.peak < range.low {
        let detail = format!("below the claimed range ({claimed}): uses less than claimed");
        (measured, Verdict::DidNotHold, detail)
    } else if memory.idle > range.high {
        let detail = format!("above the claimed range ({claimed}): uses more than claimed");
        (measured, Verdict::DidNotHold, detail)
    } else {
        let detail = format!("overlaps the claimed range ({claimed})");
        (measured, Verdict::Held, detail)
    }
}

fn check_startup(range: &ClaimRange, target: &TargetResult) -> Outcome {
    let Some(startup) = target.startup_ms else {
        return (
            "-".into(),
            Verdict::NotMeasured,
            "no launch was timed".into(),
        );
    };
    let measured = match startup.stdev {
        Some(sd) => format!(
            "{} ± {} (median {}, {} launches)",
            duration_ms(startup.mean),
            duration_ms(sd),
            duration_ms(startup.median),
            startup.n
        ),
        None => format!("{} (1 launch)", duration_ms(startup.median)),
    };
    if startup.n < MIN_REPEATS {
        let gap = format!("{} launch(es) (at least {MIN_REPEATS} needed)", startup.n);
        return not_comparable(measured, &[gap]);
    }
    let ms = startup.median;
    if ms < range.low {
        (measured, Verdict::DidNotHold, "faster than claimed".into())
    } else if ms > range.high {
        (measured, Verdict::DidNotHold, "slower than claimed".into())
    } else {
        (
            measured,
            Verdict::Held,
            "within the claimed range (median)".into(),
        )
    }
}

/// Published cold start is not judged (see the module docs); ours is shown beside it.
fn cold_start_outcome(target: &TargetResult) -> Outcome {
    let mut parts = Vec::new();
    if let Some(cold) = target.cold_start_ms {
        parts.push(format!("cold start {}", duration_ms(cold.median)));
    }
    if let Some(first) = target.first_request_ms {
        parts.push(format!("first request {}", duration_ms(first.median)));
    }
    if let Some(steady) = target.time_to_steady_ms {
        parts.push(format!("time to steady {}", duration_ms(steady)));
    }
    let measured = if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(", ")
    };
    let gap = "the published cold start is below its own startup time, so it is not spawn-to-first-response; the source does not say what it is".to_string();
    not_comparable(measured, &[gap])
}

/// Says why a target has no figure: skipped or failed (with the reason), or not in the run.
fn not_measured(view: &ReportView, target: &str) -> Outcome {
    let found = (view.results.targets.iter()).find(|t| t.name == target && plain_http1(t));
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

/// Notes under the table: the source, the rules, and closer matches that were measured.
pub fn notes(claims: &PublishedClaims, view: &ReportView) -> Vec<String> {
    let mut out = vec![format!(
        "Source of the published figures: {}.",
        claims.source
    )];
    out.push(format!(
        "A claim is judged only when the run matches the published setup: one GET route, a level at {} connections that was server-bound and steady, with errors below 0.1% and at least {MIN_REPEATS} repeats; otherwise it is \"not comparable\", with the reasons. QPS then holds when the measured ratio to {reference} at that level is within {:.0}% of the published ratio; {reference}'s \"fastest\" holds only when it served more than each other framework in every repeat. Memory holds when the measured idle-peak range overlaps the published range (MB converted to MiB); startup when the median over at least {MIN_REPEATS} launches lies in the published range.",
        claims.connections,
        claims.qps_ratio_tolerance * 100.0,
        reference = claims.reference,
    ));
    out.push(format!("Cold start is not judged: every published cold start is at or below the same row's startup time{}, so the source did not measure spawn to first response, which is what lanebench's cold start is. The row shows lanebench's cold start, first request and time to steady state (spawn to ready plus the load until throughput stayed within 10% of its steady value; for a JIT runtime, the real cost of a fresh process) for the reader to weigh.", slowest_start(claims)));
    let base_qps = claims.reference_qps();
    let base = view.measured(&claims.reference);
    for claim in &claims.claims {
        if let Some(note) = &claim.note {
            out.push(format!("{}: {note}.", claim.framework));
        }
        let Some(closer) = &claim.closer_match else {
            continue;
        };
        let ratio = |t: &TargetResult| t.ratio_to(base?);
        match view.measured(closer).and_then(|t| Some((t, ratio(t)?))) {
            Some((t, ratio)) => out.push(format!(
                "{}: the closer match {closer} measured {} req/s ({ratio:.2}x {}) against the published {:.2}x.",
                claim.framework,
                grouped(t.throughput().unwrap_or(0.0)),
                claims.reference,
                claim.qps / base_qps
            )),
            None => out.push(format!(
                "{}: the closer match {closer} was not measured in this run.",
                claim.framework
            )),
        }
    }
    out
}

/// " (Framework: cold start against startup)" for the claim with the longest published
/// startup whose cold start is shorter: the plainest case of the two being different
/// things. Empty when no claim is such a case.
fn slowest_start(claims: &PublishedClaims) -> String {
    let spaced = |text: &str| match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) if !text[..at].ends_with(' ') => format!("{} {}", &text[..at], &text[at..]),
        _ => text.to_string(),
    };
    claims
        .claims
        .iter()
        .filter(|c| c.cold_start.high <= c.startup.low)
        .max_by(|a, b| a.startup.high.total_cmp(&b.startup.high))
        .map(|c| {
            let (cold, startup) = (spaced(&c.cold_start.text), spaced(&c.startup.text));
            format!(" ({}: {cold} against {startup})", c.framework)
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "verdicts_tests.rs"]
mod tests;
