//! "By protocol": in a run whose scenario names protocols, each framework's entries side
//! by side (throughput and server CPU per successful response on every protocol, and
//! each protocol's throughput against the same framework's on plain HTTP/1.1), with the
//! reason for each protocol a framework does not serve. Runs without protocols have no
//! such section.

use crate::load::protocol::ProtocolName;
use crate::results::derived::ratio;
use crate::results::metrics::Metric;
use crate::results::{TargetResult, TargetStatus};

use super::figures::{cost_per_success, qps_spread};
use super::table::Table;
use super::view::{
    by_framework, display_name, grouped, one_line, with_protocol, ReportView, HIGH_VARIATION_CV,
};

/// The section's words and table.
pub struct ProtocolSection {
    pub intro: String,
    pub table: Table,
}

/// The section, for a run with protocols only.
pub fn section(view: &ReportView) -> Option<ProtocolSection> {
    if !view.by_protocol() {
        return None;
    }
    let cpu = Metric::find("cpu_per_success").expect("the metric table has CPU per success");
    let cpu_heading = cpu.labels.report.unwrap_or(cpu.key);
    let mut table = Table::new(
        &["Framework", "QPS", "min-max", cpu_heading, "vs h1", "Note"],
        &[false, true, true, true, true, false],
    );
    for group in by_framework(view) {
        let h1 = group.iter().find(|t| t.protocol == Some(ProtocolName::H1));
        for target in &group {
            table.push_for(&target.name, row(target, h1.copied(), cpu));
        }
    }
    Some(ProtocolSection {
        intro: INTRO.to_string(),
        table,
    })
}

const INTRO: &str = "Each framework on every protocol of the scenario, each on a process started for that protocol. QPS as in the comparison, with min-max over the headline level's repeats ((!) when their cv is above the high-variation bar); server CPU per successful response at that level; vs h1: the QPS divided by the same framework's QPS on plain HTTP/1.1 (h1) in this run. Figures in parentheses are not results (no level measured the server cleanly; the note says why), and neither is a ratio that involves one. A protocol the framework does not serve says why.";

/// One entry's row: its figures when measured, else why not.
fn row(target: &TargetResult, h1: Option<&TargetResult>, cpu: &Metric) -> Vec<String> {
    let label = with_protocol(&display_name(target), target);
    let dash = || "-".to_string();
    if target.status != TargetStatus::Ok || target.throughput().is_none() {
        return vec![label, dash(), dash(), dash(), dash(), not_measured(target)];
    }
    // A figure of a level that did not measure the server cleanly is shown, marked.
    let flagged = target.qps_caveat.is_some();
    let mark = |text: String| if flagged { format!("({text})") } else { text };
    let qps = mark(grouped(target.throughput().unwrap_or(0.0)));
    let spread = qps_spread(target).map_or_else(dash, |s| {
        let varied = s.cv.is_some_and(|cv| cv > HIGH_VARIATION_CV);
        let flag = if varied { " (!)" } else { "" };
        format!("{}-{}{flag}", grouped(s.min), grouped(s.max))
    });
    let cost = cost_per_success(target).map_or_else(dash, |s| mark(cpu.print(s.median)));
    let vs_h1 = h1
        .filter(|base| base.status == TargetStatus::Ok)
        .and_then(|base| {
            let value = ratio(target.throughput()?, base.throughput()?)?;
            let text = format!("{value:.2}x");
            let either = flagged || base.qps_caveat.is_some();
            Some(if either { format!("({text})") } else { text })
        })
        .unwrap_or_else(dash);
    let note = target
        .qps_caveat
        .as_deref()
        .map_or_else(String::new, |why| {
            format!("not a result: {}", one_line(why))
        });
    vec![label, qps, spread, cost, vs_h1, note]
}

/// Why an entry has no figures: "unsupported: ..." for a protocol the framework does
/// not serve (the run's reason names the protocol, which the row already does).
fn not_measured(target: &TargetResult) -> String {
    let reason = one_line(target.reason.as_deref().unwrap_or("no reason recorded"));
    let prefix = target.protocol.map(|p| format!("{p} ")).unwrap_or_default();
    let reason = reason.strip_prefix(&prefix).unwrap_or(&reason).to_string();
    match target.status {
        TargetStatus::Skipped if reason.starts_with("unsupported") => reason,
        TargetStatus::Skipped => format!("skipped: {reason}"),
        TargetStatus::Failed => format!("failed: {reason}"),
        TargetStatus::Ok => "no QPS figure".to_string(),
    }
}
