//! The report's "Resilience" section, for runs with `[[fault]]` (figures in
//! `TargetResult.resilience`, defined in docs/metrics.md, "Resilience"): a row per
//! framework, fault and breaker setting with the episode's figures, and one verdict per
//! framework from its breaker-on episodes. Values that have a metric-table row are
//! printed as the table prints them, so the report, export and compare agree.
//!
//! A resilience run measures episodes instead of a ladder, so its targets have no QPS
//! and are not among the view's ranked targets: this section finds them itself, failed
//! ones included, since a crash mid-fault is exactly what it must show.

use super::table::Table;
use super::view::{grouped, latency_ms, one_line, ReportView};
use crate::results::metrics::Metric;
use crate::results::resilience::{BreakerSetting, Episode};
use crate::results::resilience_metrics::{time_to_open, time_to_recover};
use crate::results::{TargetResult, TargetStatus};

/// The section's text: an introduction, the table and the verdicts.
pub struct Section {
    pub intro: String,
    pub table: Table,
    pub verdicts: Vec<String>,
}

/// The targets with at least one episode, in run order (skipped ones have none).
pub fn with_episodes<'a>(view: &ReportView<'a>) -> Vec<&'a TargetResult> {
    view.results
        .targets
        .iter()
        .filter(|t| t.status != TargetStatus::Skipped && !episodes(t).is_empty())
        .collect()
}

/// A report of a resilience run alone: targets with episodes and none measured on a
/// ladder. Its ladder sections and charts would be empty, so they are left out.
pub fn resilience_only(view: &ReportView) -> bool {
    view.ranked.is_empty() && !with_episodes(view).is_empty()
}

fn episodes(t: &TargetResult) -> &[Episode] {
    t.resilience.as_ref().map_or(&[], |r| r.episodes.as_slice())
}

fn breaker_on(t: &TargetResult) -> impl Iterator<Item = &Episode> {
    episodes(t)
        .iter()
        .filter(|e| e.breaker == BreakerSetting::On)
}

/// The fault kinds with a breaker-on episode, in the order first run, each with the
/// first label seen for it and any other labels of that kind (not charted).
pub fn fault_labels(view: &ReportView) -> Vec<(String, String, Vec<String>)> {
    let mut kinds: Vec<(String, String, Vec<String>)> = Vec::new();
    for e in with_episodes(view).into_iter().flat_map(breaker_on) {
        match kinds.iter_mut().find(|(kind, _, _)| *kind == e.fault) {
            None => kinds.push((e.fault.clone(), e.label.clone(), Vec::new())),
            Some((_, first, others)) => {
                if *first != e.label && !others.contains(&e.label) {
                    others.push(e.label.clone());
                }
            }
        }
    }
    kinds
}

/// The section; `None` when no target recorded an episode.
pub fn section(view: &ReportView) -> Option<Section> {
    let targets = with_episodes(view);
    if targets.is_empty() {
        return None;
    }
    let mut table = Table::new(&HEADINGS, &NUMERIC);
    for t in &targets {
        for e in episodes(t) {
            table.push_for(&t.name, row(t, e));
        }
    }
    Some(Section {
        intro: intro(&targets),
        table,
        verdicts: targets.iter().map(|t| verdict(t)).collect(),
    })
}

fn intro(targets: &[&TargetResult]) -> String {
    let all: Vec<&Episode> = targets.iter().flat_map(|t| episodes(t)).collect();
    let mut rates: Vec<String> = Vec::new();
    for rate in all.iter().map(|e| grouped(e.rate)) {
        if !rates.contains(&rate) {
            rates.push(rate);
        }
    }
    let mut settings: Vec<String> = Vec::new();
    for e in &all {
        let text = match (e.breaker, e.breaker_failures) {
            (BreakerSetting::Off, _) => "breaker off: BREAKER_FAILURES=0".to_string(),
            (BreakerSetting::On, Some(n)) => format!("breaker on: BREAKER_FAILURES={n}"),
            (BreakerSetting::On, None) => {
                "breaker on: each target's default (BREAKER_FAILURES=5)".to_string()
            }
        };
        if !settings.contains(&text) {
            settings.push(text);
        }
    }
    format!(
        "Each row is one episode: a steady open-loop load at the episode's rate ({} req/s) on a user service calling its order service through the harness's proxy, with normal service from the load's start, the fault switched on for its duration (injected by the proxy, or for down the order service's process stopped and started again), then normal service again until the end. Before, during and after are the whole seconds wholly on each side of the switches. Breaker settings used: {}. A refuse fault's calls are refused before the proxy sees them: its time to open and calls per request say nothing. Every figure is defined in docs/metrics.md, \"Resilience\".",
        rates.join(", "),
        settings.join("; ")
    )
}

const HEADINGS: [&str; 19] = [
    "Framework",
    "Fault",
    "Breaker",
    "goodput before req/s",
    "goodput during req/s",
    "goodput after req/s",
    "degraded/s during",
    "failed/s during",
    "p99 during ms",
    "time to open s",
    "calls/request during (before)",
    "/health p99 before ms",
    "/health p99 during ms",
    "time to recover s",
    "peak memory before → during",
    "peak connections before → during",
    "other 5xx",
    "crashed",
    "isolated",
];

const NUMERIC: [bool; 19] = [
    false, false, false, true, true, true, true, true, true, true, true, true, true, true, true,
    true, true, false, false,
];

fn row(t: &TargetResult, e: &Episode) -> Vec<String> {
    let f = &e.figures;
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let per_request = |v: Option<f64>| dash(v.map(|v| format!("{v:.2}")));
    vec![
        t.framework.clone(),
        e.label.clone(),
        on_off(e.breaker).to_string(),
        grouped(f.goodput_before),
        grouped(f.goodput_during),
        grouped(f.goodput_after),
        format!("{:.1}", f.degraded_per_s_during),
        format!("{:.1}", f.failed_per_s_during),
        latency_ms(f.p99_during_ms),
        open_text(e),
        format!(
            "{} ({})",
            per_request(f.calls_per_request_during),
            per_request(f.calls_per_request_before)
        ),
        dash(f.health_p99_before_ms.map(latency_ms)),
        dash(f.health_p99_during_ms.map(latency_ms)),
        recover_text(e),
        before_during(
            f.rss_peak_before_mib.map(|m| format!("{m:.1}")),
            f.rss_peak_during_mib.map(|m| format!("{m:.1}")),
            " MiB",
        ),
        before_during(
            f.connections_peak_before.map(|c| c.to_string()),
            f.connections_peak_during.map(|c| c.to_string()),
            "",
        ),
        f.other_5xx.to_string(),
        match &e.crashed {
            Some(why) => format!("yes: {}", one_line(why)),
            None if f.crashed => "yes".to_string(),
            None => "no".to_string(),
        },
        if f.isolated { "yes" } else { "no" }.to_string(),
    ]
}

fn on_off(breaker: BreakerSetting) -> &'static str {
    match breaker {
        BreakerSetting::On => "on",
        BreakerSetting::Off => "off",
    }
}

fn before_during(before: Option<String>, during: Option<String>, unit: &str) -> String {
    if before.is_none() && during.is_none() {
        return "-".to_string();
    }
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    format!("{} → {}{unit}", dash(before), dash(during))
}

/// `value` as the metric table's row `key` prints it.
fn print(key: &str, value: f64) -> String {
    Metric::find(key)
        .expect("the resilience section names rows of the metric table")
        .print(value)
}

/// Time to open: "-" when the fault failed no call (nothing to open for), "never" when
/// the breaker did not open within it.
fn open_text(e: &Episode) -> String {
    match (time_to_open(e), e.figures.time_to_open_s) {
        (None, _) => "-".to_string(),
        (Some(_), None) => "never".to_string(),
        (Some(_), Some(s)) => print("time_to_open", s),
    }
}

/// Seconds of the episode after the fault: the longest a recovery could have been seen,
/// and what the metric table counts for one that was not.
fn seconds_after(e: &Episode) -> f64 {
    time_to_recover(e).unwrap_or(0.0)
}

fn recover_text(e: &Episode) -> String {
    match e.figures.time_to_recover_s {
        Some(s) => print("time_to_recover", s),
        None => format!(
            "not within {} s",
            print("time_to_recover", seconds_after(e))
        ),
    }
}

/// One sentence on a framework from its breaker-on episodes.
fn verdict(t: &TargetResult) -> String {
    let on: Vec<&Episode> = breaker_on(t).collect();
    if on.is_empty() {
        return format!(
            "{}: no episode with the breaker on, so no verdict.",
            t.framework
        );
    }
    let mut clauses = vec![isolation(&on)];
    clauses.extend(stopped_calling(&on));
    clauses.push(recovery(&on));
    clauses.extend(what_the_breaker_bought(t, &on));
    if let Some(cost) = Metric::find("breaker_cost").and_then(|m| m.of_target(t)) {
        let value = print("breaker_cost", cost.median);
        let sign = if cost.median > 0.0 { "+" } else { "" };
        clauses.push(format!(
            "with nothing failing, the breaker cost {sign}{value} µs/req of user-service CPU (on minus off)"
        ));
    }
    format!("{}: {}.", t.framework, clauses.join("; "))
}

/// "isolated", or which faults broke isolation and how.
fn isolation(on: &[&Episode]) -> String {
    let broken: Vec<String> = on
        .iter()
        .filter(|e| !e.figures.isolated)
        .map(|e| {
            let f = &e.figures;
            if f.crashed || e.crashed.is_some() {
                return format!("{} crashed it", e.label);
            }
            match (f.health_p99_before_ms, f.health_p99_during_ms) {
                (Some(before), Some(during)) if before > 0.0 => format!(
                    "in {} /health p99 rose from {} to {} ms ({}x)",
                    e.label,
                    latency_ms(before),
                    latency_ms(during),
                    print("health_p99_ratio", during / before)
                ),
                _ => format!("in {} /health p99 was not measured on both sides", e.label),
            }
        })
        .collect();
    if broken.is_empty() {
        "isolated".to_string()
    } else {
        format!("not isolated: {}", broken.join(", "))
    }
}

/// Faults that leave the order service unable to answer, whose time to open means
/// something: not a delay (answered late), nor a refusal (its calls never reach the
/// proxy, so they read as a breaker that opened at once).
fn is_dead(e: &Episode) -> bool {
    e.fault != "delay" && e.fault != "refuse"
}

/// The worst time to open over the faults that left the order service dead and failed
/// calls; none when there were no such faults.
fn stopped_calling(on: &[&Episode]) -> Option<String> {
    let dead: Vec<&&Episode> = on
        .iter()
        .filter(|e| is_dead(e) && time_to_open(e).is_some())
        .collect();
    if dead.is_empty() {
        return None;
    }
    if let Some(e) = dead.iter().find(|e| e.figures.time_to_open_s.is_none()) {
        return Some(format!(
            "stopped calling a dead order service: never (in {})",
            e.label
        ));
    }
    let worst = dead
        .iter()
        .filter_map(|e| e.figures.time_to_open_s)
        .fold(0.0, f64::max);
    Some(format!(
        "stopped calling a dead order service in {} s",
        print("time_to_open", worst)
    ))
}

fn recovery(on: &[&Episode]) -> String {
    if let Some(e) = on.iter().find(|e| e.figures.time_to_recover_s.is_none()) {
        return format!(
            "did not recover within {} s after {}",
            print("time_to_recover", seconds_after(e)),
            e.label
        );
    }
    let worst = on
        .iter()
        .filter_map(|e| e.figures.time_to_recover_s)
        .fold(0.0, f64::max);
    format!("recovered in {} s", print("time_to_recover", worst))
}

/// With `breaker_off` episodes: the worst p99 during a fault and the worst time to
/// recover, without the breaker against with it, over the faults run both ways.
fn what_the_breaker_bought(t: &TargetResult, on: &[&Episode]) -> Option<String> {
    let (with, without): (Vec<&Episode>, Vec<&Episode>) = episodes(t)
        .iter()
        .filter(|e| e.breaker == BreakerSetting::Off)
        .filter_map(|off| Some((*on.iter().find(|e| e.label == off.label)?, off)))
        .unzip();
    if with.is_empty() {
        return None;
    }
    let p99 = |side: &[&Episode]| {
        let worst = side
            .iter()
            .map(|e| e.figures.p99_during_ms)
            .fold(0.0, f64::max);
        latency_ms(worst)
    };
    let labels: Vec<&str> = with.iter().map(|e| e.label.as_str()).collect();
    Some(format!(
        "what the breaker bought in {}: worst p99 during the fault {} ms with it against {} ms without, worst time to recover {} against {}",
        labels.join(", "),
        p99(&with),
        p99(&without),
        worst_recovery(&with),
        worst_recovery(&without),
    ))
}

/// The longest time to recover of `side`, or "not within N s" for one that never did.
fn worst_recovery(side: &[&Episode]) -> String {
    if let Some(e) = side.iter().find(|e| e.figures.time_to_recover_s.is_none()) {
        return format!(
            "not within {} s",
            print("time_to_recover", seconds_after(e))
        );
    }
    let worst = side
        .iter()
        .filter_map(|e| e.figures.time_to_recover_s)
        .fold(0.0, f64::max);
    format!("{} s", print("time_to_recover", worst))
}
