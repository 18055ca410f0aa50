//! A service chain's charts, drawn by the bar charts' one function with a row per
//! framework that ran as a chain, at its headline level: end-to-end p99 beside the
//! downstream p99, CPU per end-to-end success split by service, and the client tax.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::Unit;
use super::bars::{horizontal_bars, Bar, BarChart, Row};
use super::{Drawn, Frame};
use crate::report::chain::{at_headline, chained};
use crate::results::TargetResult;

/// One row per framework that ran as a chain, with the bars `pick` gives it.
fn chain_rows<'a>(
    frame: &Frame<'a>,
    pick: impl Fn(&TargetResult) -> Vec<Option<Bar>>,
) -> Vec<Row<'a>> {
    chained(frame.view)
        .into_iter()
        .map(|t| Row {
            target: &t.name,
            label: t.framework.clone(),
            bars: pick(t),
            note: None,
        })
        .collect()
}

fn bar(target: &TargetResult, key: &str) -> Option<Bar> {
    at_headline(target, key).map(Bar::of)
}

/// End-to-end p99 against the downstream p99 (what the hop adds to the tail).
pub fn latency<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let chart = BarChart {
        series: &[("end-to-end p99", 1.0), ("downstream p99", 0.45)],
        unit: Unit::Ms,
        axis: "p99 latency at the headline level",
    };
    let mut rows = chain_rows(frame, |t| vec![bar(t, "p99"), bar(t, "downstream_p99")]);
    for (row, target) in rows.iter_mut().zip(chained(frame.view)) {
        if target.chain.as_ref().is_some_and(|c| !c.via_proxy) {
            row.note = Some("connected directly: no downstream latency recorded".to_string());
        }
    }
    horizontal_bars(root, frame, &chart, &rows)
}

/// CPU per end-to-end success of each service, and the proxy's apart.
pub fn cpu<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let chart = BarChart {
        series: &[
            ("user service", 1.0),
            ("order service", 0.55),
            ("proxy (not in the total)", 0.2),
        ],
        unit: Unit::Us,
        axis: "CPU time per end-to-end success (µs)",
    };
    let rows = chain_rows(frame, |t| {
        vec![
            bar(t, "cpu_per_success"),
            bar(t, "order_cpu_per_success"),
            bar(t, "proxy_cpu_per_success"),
        ]
    });
    horizontal_bars(root, frame, &chart, &rows)
}

/// The client tax per framework; a negative one is said under its row, since bars
/// start at zero.
pub fn tax<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let chart = BarChart {
        series: &[("client tax", 1.0)],
        unit: Unit::Us,
        axis: "User service CPU per success in the chain minus serving the baseline alone (µs)",
    };
    let mut rows = chain_rows(frame, |t| vec![bar(t, "client_tax")]);
    for row in &mut rows {
        if row.bars[0].is_some_and(|b| b.value < 0.0) {
            row.note = Some(
                "negative: less CPU per success in the chain than serving the baseline alone"
                    .to_string(),
            );
        }
    }
    horizontal_bars(root, frame, &chart, &rows)
}
