//! Bar charts, all drawn by one horizontal-bar function: a row per framework (in the
//! tables' order), one bar per series in shades of the framework's colour, min-max
//! whiskers where repeats or launches exist, a value label on every bar, and a log axis
//! when the values span more than 20x. QPS, published vs measured, cost per request,
//! memory, and startup / cold start.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{KeyedAxis, Unit, ValueAxis};
use super::key::{key_strip, shade_entry};
use super::{Drawn, Frame};
use crate::report::figures::{claim_ratios, cost_per_success, qps_spread};
use crate::report::view::with_protocol;
use crate::results::{TargetResult, TargetStatus};
use crate::stats::Spread;

/// One bar: the value drawn and, when it was repeated, its min-max.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bar {
    pub(super) value: f64,
    pub(super) range: Option<(f64, f64)>,
}

impl Bar {
    /// The median of a spread, with min-max when there was more than one value.
    pub(super) fn of(spread: Spread) -> Bar {
        Bar {
            value: spread.median,
            range: (spread.n > 1).then_some((spread.min, spread.max)),
        }
    }

    pub(super) fn plain(value: f64) -> Bar {
        Bar { value, range: None }
    }
}

/// One framework's row.
pub(super) struct Row<'a> {
    pub(super) target: &'a str,
    pub(super) label: String,
    /// One per series; `None` draws nothing (not measured).
    pub(super) bars: Vec<Option<Bar>>,
    /// A line under the bars (the claims chart's verdict).
    pub(super) note: Option<String>,
}

/// What a horizontal bar chart shows; its rows come separately.
pub(super) struct BarChart<'a> {
    /// Series names and their shade of the framework colour (1.0 = full colour).
    pub(super) series: &'a [(&'a str, f64)],
    pub(super) unit: Unit,
    /// What the value axis measures.
    pub(super) axis: &'a str,
}

/// One row per measured framework, in the tables' order, with the bars `pick` gives it.
fn framework_rows<'a>(
    frame: &Frame<'a>,
    pick: impl Fn(&TargetResult) -> Vec<Option<Bar>>,
) -> Vec<Row<'a>> {
    let ranked: &[&'a TargetResult] = &frame.view.ranked;
    ranked
        .iter()
        .map(|t| Row {
            target: &t.name,
            label: with_protocol(&t.framework, t),
            bars: pick(t),
            note: None,
        })
        .collect()
}

/// Throughput per framework: the comparison table's QPS.
pub fn qps<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let chart = BarChart {
        series: &[("QPS", 1.0)],
        unit: Unit::Rps,
        axis: "Successful responses per second (best median over the ladder)",
    };
    let mut rows = framework_rows(frame, |t| vec![qps_spread(t).map(Bar::of)]);
    // A figure no level measured cleanly is drawn, but says so where it is shown.
    for (row, target) in rows.iter_mut().zip(&frame.view.ranked) {
        row.note = target
            .qps_caveat
            .as_ref()
            .map(|why| format!("not a result: {why}"));
    }
    horizontal_bars(root, frame, &chart, &rows)
}

/// Published and measured QPS ratios to the report's reference, with the verdict under
/// each pair.
pub fn claims<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let rows: Vec<Row> = claim_ratios(frame.claims, frame.checks, frame.view)
        .into_iter()
        .map(|c| {
            // A "not comparable" reason already starts with the verdict's words.
            let note = if c.detail.starts_with(&c.verdict) {
                c.detail.clone()
            } else {
                format!("{}: {}", c.verdict, c.detail)
            };
            Row {
                target: c.target,
                label: c.framework.to_string(),
                bars: vec![c.published.map(Bar::plain), c.measured.map(Bar::plain)],
                note: Some(note),
            }
        })
        .collect();
    let axis = format!("QPS divided by {}'s QPS", frame.view.reference);
    let chart = BarChart {
        series: &[("published", 0.35), ("measured", 1.0)],
        unit: Unit::Ratio,
        axis: &axis,
    };
    horizontal_bars(root, frame, &chart, &rows)
}

/// Server CPU microseconds per successful response at the headline level.
pub fn cost<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let chart = BarChart {
        series: &[("server CPU per success", 1.0)],
        unit: Unit::Us,
        axis: "Server CPU time per successful response (µs)",
    };
    let rows = framework_rows(frame, |t| vec![cost_per_success(t).map(Bar::of)]);
    horizontal_bars(root, frame, &chart, &rows)
}

/// Idle and peak memory of the process tree.
pub fn memory<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let chart = BarChart {
        series: &[("idle", 0.4), ("peak", 1.0)],
        unit: Unit::Mib,
        axis: "Memory of the process tree (MiB)",
    };
    let rows = framework_rows(frame, |t| match &t.memory_mb {
        Some(m) => vec![Some(Bar::plain(m.idle)), Some(Bar::plain(m.peak))],
        None => vec![None, None],
    });
    horizontal_bars(root, frame, &chart, &rows)
}

/// Startup and cold start: medians over fresh launches with min-max whiskers.
pub fn startup<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let chart = BarChart {
        series: &[
            ("startup: spawn to first healthy response", 1.0),
            ("cold start: spawn to every request correct", 0.4),
        ],
        unit: Unit::Ms,
        axis: "Time from spawn",
    };
    let rows = framework_rows(frame, |t| {
        vec![t.startup_ms.map(Bar::of), t.cold_start_ms.map(Bar::of)]
    });
    horizontal_bars(root, frame, &chart, &rows)
}

/// Each framework's QPS on each protocol of the run, a shade per protocol.
pub fn protocols<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let all = crate::report::view::protocols(frame.view);
    let series: Vec<(&str, f64)> = (all.iter().enumerate())
        .map(|(i, p)| (p.as_str(), 1.0 - 0.7 * i as f64 / all.len().max(2) as f64))
        .collect();
    let chart = BarChart {
        series: &series,
        unit: Unit::Rps,
        axis: "Successful responses per second (best median over the ladder)",
    };
    let rows: Vec<Row> = crate::report::view::by_framework(frame.view)
        .into_iter()
        .map(|group| {
            let entry = |p| group.iter().find(|t| t.protocol == Some(p));
            let bars = (all.iter())
                .map(|p| entry(*p).and_then(|t| qps_spread(t)).map(Bar::of))
                .collect();
            Row {
                target: &group[0].name,
                label: group[0].framework.clone(),
                bars,
                note: protocols_note(&group),
            }
        })
        .collect();
    horizontal_bars(root, frame, &chart, &rows)
}

/// Under a framework's bars: which figures are not results and which protocols it does
/// not serve or failed on.
fn protocols_note(group: &[&TargetResult]) -> Option<String> {
    let names = |pick: &dyn Fn(&TargetResult) -> bool| {
        let picked: Vec<String> = (group.iter())
            .filter(|t| pick(t))
            .filter_map(|t| t.protocol.map(|p| p.to_string()))
            .collect();
        picked.join(", ")
    };
    let mut parts = Vec::new();
    let flagged = names(&|t| t.status == TargetStatus::Ok && t.qps_caveat.is_some());
    let unsupported = |t: &TargetResult| {
        let reason = t.reason.as_deref().unwrap_or("");
        t.status == TargetStatus::Skipped && reason.contains("unsupported")
    };
    let skipped = names(&|t| t.status == TargetStatus::Skipped && !unsupported(t));
    let failed = names(&|t| t.status == TargetStatus::Failed);
    for (list, what) in [
        (flagged, "not a result"),
        (names(&unsupported), "unsupported"),
        (skipped, "skipped"),
        (failed, "failed"),
    ] {
        if !list.is_empty() {
            parts.push(format!("{list}: {what}"));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Draws a [`BarChart`]: rows top to bottom, the series key above the plot.
pub(super) fn horizontal_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    chart: &BarChart,
    rows: &[Row],
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let s = &frame.style;
    let key: Vec<_> = chart
        .series
        .iter()
        .filter(|_| chart.series.len() > 1)
        .map(|(name, shade)| shade_entry(name, *shade))
        .collect();
    let area = key_strip(root, frame, &key)?;
    let ends: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.bars.iter().flatten())
        .flat_map(|b| [Some(b.value), b.range.map(|r| r.0), b.range.map(|r| r.1)])
        .flatten()
        .collect();
    let axis = ValueAxis::fit(&ends, chart.unit, 0.2);
    let label_font = s.font(20);
    let mut label_width = 0;
    for row in rows {
        label_width = label_width.max(area.estimate_text_size(&row.label, &label_font)?.0);
    }
    let n = rows.len();
    let slots = KeyedAxis::new(-0.5..(n as f64 - 0.5), (0..n).map(|i| i as f64).collect());
    let mut plot = ChartBuilder::on(&area)
        .margin(s.px(16))
        .x_label_area_size(s.px(64))
        .y_label_area_size(label_width + s.px(16))
        .build_cartesian_2d(axis.clone(), slots)?;
    let row_label = |y: &f64| {
        let i = n as f64 - 1.0 - y.round();
        rows.get(i as usize)
            .map(|r| r.label.clone())
            .unwrap_or_default()
    };
    plot.configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| axis.unit.tick(*v))
        .y_label_formatter(&row_label)
        .x_desc(axis.describe(chart.axis))
        .label_style(label_font.clone())
        .axis_desc_style(s.font(18))
        .draw()?;
    for (i, row) in rows.iter().enumerate() {
        draw_row(
            &mut plot,
            frame,
            chart,
            row,
            ((n - 1 - i) as f64, axis.base()),
        )?;
    }
    Ok(())
}

type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<ValueAxis, KeyedAxis>>;

/// One framework's bars, whiskers, value labels and note, centred on `y`, bars starting
/// at `base` (zero, or the bottom of a log axis).
fn draw_row<'a, DB: DrawingBackend + 'a>(
    plot: &mut Plot<'a, DB>,
    frame: &Frame,
    chart: &BarChart,
    row: &Row,
    (y, base): (f64, f64),
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let s = &frame.style;
    let colour = frame.colours.colour(row.target);
    // Bars fill the row's upper part when a note goes under them.
    let (top, bottom) = if row.note.is_some() {
        (y + 0.42, y - 0.12)
    } else {
        (y + 0.4, y - 0.4)
    };
    let height = (top - bottom) / chart.series.len() as f64;
    let value_font = s.font(18).pos(Pos::new(HPos::Left, VPos::Center));
    for (j, (bar, (series, shade))) in row.bars.iter().zip(chart.series).enumerate() {
        let Some(bar) = bar else { continue };
        let (hi, lo) = (top - j as f64 * height, top - (j as f64 + 0.86) * height);
        let mid = (hi + lo) / 2.0;
        let mut tip = format!("{}: {}", row.label, chart.unit.value(bar.value));
        if chart.series.len() > 1 {
            tip = format!("{} ({series})", tip);
        }
        if let Some((min, max)) = bar.range {
            let (min, max) = (chart.unit.value(min), chart.unit.value(max));
            tip.push_str(&format!(", min {min}, max {max}"));
        }
        let _mark = frame.marks.begin(row.target, tip);
        plot.draw_series([Rectangle::new(
            [(base, lo), (bar.value.max(base), hi)],
            colour.mix(*shade).filled(),
        )])?;
        let mut end = bar.value;
        if let Some((min, max)) = bar.range {
            let cap = (hi - lo) * 0.3;
            let whisker = BLACK.stroke_width(s.px(2).max(1));
            plot.draw_series([
                PathElement::new(vec![(min.max(base), mid), (max, mid)], whisker),
                PathElement::new(
                    vec![(min.max(base), mid - cap), (min.max(base), mid + cap)],
                    whisker,
                ),
                PathElement::new(vec![(max, mid - cap), (max, mid + cap)], whisker),
            ])?;
            end = end.max(max);
        }
        plot.draw_series([EmptyElement::at((end.max(base), mid))
            + Text::new(
                chart.unit.value(bar.value),
                (s.px(6) as i32, 0),
                value_font.clone(),
            )])?;
    }
    if let Some(note) = &row.note {
        // The tooltip has the whole reason; the chart line is cut to fit the plot.
        let _mark = frame
            .marks
            .begin(row.target, format!("{}: {note}", row.label));
        let mut line = note.clone();
        if line.chars().count() > 110 {
            line = line.chars().take(107).collect::<String>() + "...";
        }
        let font = s.font(17).pos(Pos::new(HPos::Left, VPos::Center));
        plot.draw_series([
            EmptyElement::at((base, y - 0.3)) + Text::new(line, (s.px(4) as i32, 0), font)
        ])?;
    }
    Ok(())
}
