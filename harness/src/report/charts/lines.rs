//! Line charts: latency by percentile on a log percentile axis, throughput over time,
//! throughput across the concurrency ladder, and the warm-up curve. One function draws
//! every framework's curve, with a hoverable point per value.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::{KeyedAxis, Unit, ValueAxis, MAX_AXIS_VALUE};
use super::key::{key_strip, KeyEntry};
use super::{Drawn, Frame};
use crate::report::figures::{median_repeat, warmup_curve, whole_seconds, WarmupEnd, WarmupSource};
use crate::report::view::{headline_level, latency_ms, with_protocol};
use crate::results::TargetResult;
use crate::stats::Spread;

/// One framework's line: target (colour, filter key), label, and its points as one or
/// more segments (a gap between segments is drawn as a gap).
pub(super) struct Curve<'a> {
    pub(super) target: &'a str,
    /// The framework, with its protocol in a run of several.
    pub(super) label: String,
    pub(super) segments: Vec<Vec<(f64, f64)>>,
    /// Min-max whiskers at some points: (x, spread).
    pub(super) whiskers: Vec<(f64, Spread)>,
}

/// One curve per measured framework that `pick` gives points (segments, whiskers) for.
fn framework_curves<'a>(
    frame: &Frame<'a>,
    pick: impl Fn(&'a TargetResult) -> Option<(Vec<Vec<(f64, f64)>>, Vec<(f64, Spread)>)>,
) -> Vec<Curve<'a>> {
    let ranked: &[&'a TargetResult] = &frame.view.ranked;
    ranked
        .iter()
        .filter_map(|t| {
            let (segments, whiskers) = pick(t)?;
            Some(Curve {
                target: &t.name,
                label: with_protocol(&t.framework, t),
                segments,
                whiskers,
            })
        })
        .collect()
}

/// Percentiles marked on the latency chart's x axis.
const PERCENTILE_TICKS: [f64; 5] = [50.0, 90.0, 99.0, 99.9, 99.99];

/// x position of a percentile: log10(1 / (1 - p)), so each "nine" takes equal width.
fn percentile_x(percentile: f64) -> f64 {
    (1.0 / (1.0 - percentile / 100.0)).log10()
}

fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let text = format!("{p:.2}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// Latency (ms, log) against percentile (log of 1/(1-p)): the median repeat's
/// distribution, and the table's percentiles as dots with min-max whiskers.
pub fn latency<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let curves = framework_curves(frame, |t| {
        let level = headline_level(t)?;
        let load = &median_repeat(level)?.load;
        let points = load
            .latency_distribution
            .iter()
            .filter(|q| q.percentile < 100.0 && q.ms > 0.0)
            .map(|q| (percentile_x(q.percentile), q.ms))
            .collect();
        let marked = [
            (50.0, level.p50_ms),
            (90.0, level.p90_ms),
            (99.0, level.p99_ms),
            (99.9, level.p999_ms),
        ];
        let whiskers = marked.map(|(p, spread)| (percentile_x(p), spread)).to_vec();
        Some((vec![points], whiskers))
    });
    // A log axis: a zero latency (an empty repeat) cannot be placed on it.
    let values: Vec<(f64, f64)> = all_values(&curves)
        .into_iter()
        .filter(|p| p.1 > 0.0)
        .collect();
    let x_max = values
        .iter()
        .map(|p| p.0)
        .fold(percentile_x(99.9), f64::max);
    // Finite whatever the file held (a latency of 1e308 ms would make the top infinite).
    let y_min = values.iter().map(|p| p.1).fold(1.0, f64::min) * 0.8;
    let y_max = values
        .iter()
        .map(|p| p.1.min(MAX_AXIS_VALUE))
        .fold(1.0, f64::max)
        * 1.5;
    let keys: Vec<f64> = PERCENTILE_TICKS
        .iter()
        .map(|p| percentile_x(*p))
        .filter(|x| *x <= x_max + 1e-9)
        .collect();
    let s = &frame.style;
    let area = framework_key(root, frame, &curves)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(s.px(16))
        .x_label_area_size(s.px(64))
        .y_label_area_size(s.px(90))
        .build_cartesian_2d(KeyedAxis::new(0.0..x_max, keys), (y_min..y_max).log_scale())?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|y| format!("{y}"))
        .x_desc("Percentile (log scale of 1/(1-p))")
        .y_desc("Latency (ms, log scale)")
        .label_style(s.font(20))
        .axis_desc_style(s.font(18))
        .draw()?;
    let value = |y: f64| format!("{} ms", latency_ms(y));
    let point = |label: &str, (x, y): (f64, f64)| {
        let p = percentile_label(x);
        format!("{label}: p{} {}", p.trim_end_matches('%'), value(y))
    };
    let tips = Tips {
        point: &point,
        value: &value,
    };
    draw_curves(&mut chart, frame, &curves, tips)
}

/// Successful responses per second, second by second, in the headline level's median repeat.
pub fn timeline<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let curves = framework_curves(frame, |t| {
        let load = &median_repeat(headline_level(t)?)?.load;
        Some((vec![whole_seconds(load, 0.0)], Vec::new()))
    });
    per_second(
        root,
        frame,
        &curves,
        &[],
        "Seconds since the measured window began (s)",
    )
}

/// Successful responses per second from the first measured second of each framework's process.
pub fn warmup<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    // One clock per chart: when any framework has its curve from spawn, only those are
    // drawn; the stand-in's ladder clock would not line up with them.
    let from_spawn = frame.view.ranked.iter().any(|t| t.warmup_curve.is_some());
    let pick = |t: &TargetResult| {
        warmup_curve(t).filter(|c| (c.source == WarmupSource::FromSpawn) == from_spawn)
    };
    let first = frame.view.ranked.iter().find_map(|t| pick(t));
    let curves = framework_curves(frame, |t| Some((pick(t)?.segments, Vec::new())));
    let ends: Vec<Marker> = frame
        .view
        .ranked
        .iter()
        .filter_map(|t| {
            let end = pick(t)?.end?;
            Some(Marker {
                target: &t.name,
                label: with_protocol(&t.framework, t),
                end,
            })
        })
        .collect();
    let x_desc = match first {
        Some(c) if c.source == WarmupSource::FromSpawn => format!(
            "Seconds since the process was spawned, under load at {} connections",
            c.connections
        ),
        Some(c) => format!(
            "Seconds since the ladder began, at its first level ({} connections)",
            c.connections
        ),
        None => "Seconds since the first load began".to_string(),
    };
    per_second(root, frame, &curves, &ends, &x_desc)
}

/// Where a framework's warm-up ended on the warm-up chart.
struct Marker<'a> {
    target: &'a str,
    label: String,
    end: WarmupEnd,
}

/// A responses-per-second-over-time chart of `curves`, with `markers` as dashed
/// vertical lines.
fn per_second<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    curves: &[Curve],
    markers: &[Marker],
    x_desc: &str,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let values = all_values(curves);
    let x_max = values
        .iter()
        .map(|p| p.0 + 1.0)
        .chain(markers.iter().map(|m| m.end.at + 1.0))
        .fold(1.0, f64::max);
    let ys: Vec<f64> = values.iter().map(|p| p.1).collect();
    let y = ValueAxis::fit(&ys, Unit::Rps, 0.05);
    let s = &frame.style;
    let area = framework_key(root, frame, curves)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(s.px(16))
        .x_label_area_size(s.px(64))
        .y_label_area_size(s.px(100))
        .build_cartesian_2d(0.0..x_max, y.clone())?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&whole_seconds_label)
        .y_label_formatter(&|v| y.unit.tick(*v))
        .x_desc(x_desc)
        .y_desc(y.describe("Successful responses per second"))
        .label_style(s.font(20))
        .axis_desc_style(s.font(18))
        .draw()?;
    let value = |y: f64| Unit::Rps.value(y);
    let point = |label: &str, (x, y): (f64, f64)| format!("{label}: {} in second {x:.0}", value(y));
    let tips = Tips {
        point: &point,
        value: &value,
    };
    draw_curves(&mut chart, frame, curves, tips)?;
    draw_markers(&mut chart, frame, markers)
}

/// Each marker as a dashed vertical line in its framework's colour over the whole
/// y range, labelled at the top, with the warm-up's length and end in its tooltip.
fn draw_markers<'a, DB>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, ValueAxis>,
    >,
    frame: &Frame,
    markers: &[Marker],
) -> Drawn
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
{
    let s = &frame.style;
    let y = chart.y_range();
    for (i, marker) in markers.iter().enumerate() {
        let colour = frame.colours.colour(marker.target);
        let end = marker.end;
        let text = format!(
            "{}: warm-up ended {} after {:.0} s of load; measured from here",
            marker.label,
            end.describe(),
            end.seconds
        );
        let _mark = frame.marks.begin(marker.target, text);
        let line = [(end.at, y.start), (end.at, y.end)];
        chart.draw_series(DashedLineSeries::new(
            line,
            s.px(8).max(2),
            s.px(6).max(2),
            colour.stroke_width(s.px(2).max(1)),
        ))?;
        // Labels of markers at the same second would overlap: step each one down.
        let label_y = y.end - (y.end - y.start) * (0.04 + 0.06 * i as f64);
        let label = Text::new(
            end.describe().to_string(),
            (s.px(4) as i32, 0),
            s.font(16).color(&colour),
        );
        chart.draw_series([EmptyElement::at((end.at, label_y)) + label])?;
    }
    Ok(())
}

/// Median successful responses per second at each ladder level (connections, log scale) with
/// min-max whiskers over repeats.
pub fn ladder<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let curves = framework_curves(frame, |t| {
        let points = t
            .levels
            .iter()
            .map(|l| (l.connections as f64, l.throughput().median));
        let repeated = t.levels.iter().filter(|l| l.throughput().n > 1);
        let whiskers = repeated
            .map(|l| (l.connections as f64, *l.throughput()))
            .collect();
        Some((vec![points.collect()], whiskers))
    });
    let mut levels: Vec<f64> = all_values(&curves).iter().map(|p| p.0).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let low = levels.first().copied().unwrap_or(1.0).max(1.0) / 1.5;
    let high = levels.last().copied().unwrap_or(1.0).max(1.0) * 1.5;
    let ys: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.whiskers.iter().flat_map(|(_, s)| [s.min, s.max]))
        .chain(all_values(&curves).iter().map(|p| p.1))
        .collect();
    let y = ValueAxis::fit(&ys, Unit::Rps, 0.05);
    let s = &frame.style;
    let area = framework_key(root, frame, &curves)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(s.px(16))
        .x_label_area_size(s.px(64))
        .y_label_area_size(s.px(100))
        .build_cartesian_2d((low..high).log_scale().with_key_points(levels), y.clone())?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|v| y.unit.tick(*v))
        .x_desc("Concurrent connections (log scale)")
        .y_desc(y.describe("Successful responses per second (median over repeats)"))
        .label_style(s.font(20))
        .axis_desc_style(s.font(18))
        .draw()?;
    let value = |y: f64| Unit::Rps.value(y);
    let point = |label: &str, (x, y): (f64, f64)| {
        format!("{label} at {x:.0} connections: {} (median)", value(y))
    };
    let tips = Tips {
        point: &point,
        value: &value,
    };
    draw_curves(&mut chart, frame, &curves, tips)
}

/// Whole seconds only: a tick at 2.5 s says nothing a per-second curve can show.
pub(super) fn whole_seconds_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

pub(super) fn all_values(curves: &[Curve]) -> Vec<(f64, f64)> {
    curves
        .iter()
        .flat_map(|c| c.segments.iter().flatten().copied())
        .chain(curves.iter().flat_map(|c| {
            c.whiskers
                .iter()
                .flat_map(|(x, s)| [(*x, s.min), (*x, s.max)])
        }))
        .collect()
}

/// The key of a line chart: one entry per framework with a curve.
pub(super) fn framework_key<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    curves: &[Curve],
) -> Result<DrawingArea<DB, Shift>, super::DrawFailure>
where
    DB::ErrorType: 'static,
{
    let entries: Vec<KeyEntry> = curves
        .iter()
        .map(|c| KeyEntry::framework(frame, c.target, &c.label))
        .collect();
    key_strip(root, frame, &entries)
}

/// How a chart's points read in tooltips: a whole point, and a y value alone.
pub(super) struct Tips<'t> {
    pub(super) point: &'t dyn Fn(&str, (f64, f64)) -> String,
    pub(super) value: &'t dyn Fn(f64) -> String,
}

/// Every framework's curve in its colour: the line, a hoverable dot per point (its
/// exact value in the tooltip), and min-max whiskers where there are repeats.
pub(super) fn draw_curves<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    frame: &Frame,
    curves: &[Curve],
    tips: Tips,
) -> Drawn
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let s = &frame.style;
    let line = s.px(3).max(1);
    let dot = s.px(4).max(2);
    for curve in curves {
        let colour = frame.colours.colour(curve.target);
        {
            let _mark = frame.marks.begin(curve.target, curve.label.to_string());
            for segment in &curve.segments {
                chart.draw_series(LineSeries::new(segment.clone(), colour.stroke_width(line)))?;
            }
        }
        for &(x, y) in curve.segments.iter().flatten() {
            let _mark = frame
                .marks
                .begin(curve.target, (tips.point)(&curve.label, (x, y)));
            chart.draw_series([Circle::new((x, y), dot, colour.filled())])?;
        }
        for (x, spread) in &curve.whiskers {
            let text = format!(
                "{}, min {}, max {}",
                (tips.point)(&curve.label, (*x, spread.median)),
                (tips.value)(spread.min),
                (tips.value)(spread.max)
            );
            let _mark = frame.marks.begin(curve.target, text);
            let bar = colour.stroke_width(s.px(2).max(1));
            chart.draw_series([PathElement::new(
                vec![(*x, spread.min), (*x, spread.max)],
                bar,
            )])?;
            chart.draw_series([Circle::new(
                (*x, spread.median),
                dot + 2,
                colour.stroke_width(2),
            )])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_ticks() {
        assert!((percentile_x(90.0) - 1.0).abs() < 1e-9);
        assert!((percentile_x(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(percentile_label(percentile_x(50.0)), "50%");
        assert_eq!(percentile_label(percentile_x(99.9)), "99.9%");
        assert_eq!(percentile_label(percentile_x(99.99)), "99.99%");
    }
}
