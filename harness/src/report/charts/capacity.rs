//! A capacity run's chart: the objective's percentile against offered rate, one line per
//! framework through every usable probe of its searches, the objective drawn across and
//! each framework's capacity marked. Both axes are logarithmic: the ramp doubles the
//! rate, and latency spans a fraction of a millisecond below capacity to seconds above.

use plotters::coord::combinators::LogCoord;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::MAX_AXIS_VALUE;
use super::lines::{all_values, draw_curves, framework_key, Curve, Tips};
use super::{Drawn, Frame};
use crate::report::capacity::{objective, with_capacity};
use crate::report::view::{grouped, latency_ms, with_protocol, ReportView};
use crate::results::capacity::{CapacityBound, CapacityTarget, Percentile};
use crate::results::TargetResult;

/// The percentile the run's objective bounds (p99 when no target recorded one).
fn percentile(view: &ReportView) -> Percentile {
    with_capacity(view)
        .first()
        .map_or(Percentile::P99, |(_, c)| c.objective.percentile)
}

pub fn title(view: &ReportView) -> String {
    format!(
        "Capacity: {} latency against offered rate",
        percentile(view).label()
    )
}

pub fn caption(view: &ReportView) -> String {
    let p = percentile(view).label();
    let objective = objective(view).unwrap_or_else(|| "not recorded".to_string());
    format!(
        "One line per framework through every usable probe of every search, by offered rate (x, log scale), at the {p} of its corrected latency (y, log scale); unusable probes are not drawn, and searches that probed nearby rates make the line zigzag. The dashed grey line is the objective ({objective}). A dashed line in the framework's colour marks its capacity, the median over its searches, labelled as the capacity table prints it (\">=\" for a lower bound); a framework that missed at its lowest probe has no mark. Point at a point for its exact values."
    )
}

/// A framework's capacity mark: where, and how its label and tooltip read.
struct Mark<'a> {
    target: &'a str,
    rate: f64,
    label: String,
    tip: String,
}

fn mark<'a>(t: &'a TargetResult, c: &CapacityTarget) -> Option<Mark<'a>> {
    let rate = c.median_capacity()?;
    let p = c.objective.percentile;
    let at = c
        .latency_at_capacity()
        .map(|l| format!(", {} at capacity {} ms", p.label(), latency_ms(l.median)))
        .unwrap_or_default();
    let bound = if c.bound() == CapacityBound::AtLeast {
        "at least "
    } else {
        ""
    };
    Some(Mark {
        target: &t.name,
        rate,
        label: c.mark(),
        tip: format!(
            "{}: capacity {bound}{} req/s (median over {} searches){at}",
            with_protocol(&t.framework, t),
            grouped(rate),
            c.searches.len()
        ),
    })
}

pub fn chart<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
where
    DB::ErrorType: 'static,
{
    let targets = with_capacity(frame.view);
    // A log axis: a zero rate or latency cannot be placed on it.
    let curves: Vec<Curve> = targets
        .iter()
        .map(|(t, c)| Curve {
            target: &t.name,
            label: with_protocol(&t.framework, t),
            segments: vec![c
                .curve()
                .into_iter()
                .filter(|(x, y)| *x > 0.0 && *y > 0.0)
                .collect()],
            whiskers: Vec::new(),
        })
        .filter(|c| !c.segments[0].is_empty())
        .collect();
    let marks: Vec<Mark> = targets.iter().filter_map(|(t, c)| mark(t, c)).collect();
    let bound = targets.first().map(|(_, c)| c.objective.bound_ms);
    if curves.is_empty() {
        return super::centred_note(root, frame, "No usable probe was measured in this run.");
    }
    let values = all_values(&curves);
    let rates = values
        .iter()
        .map(|p| p.0)
        .chain(marks.iter().map(|m| m.rate));
    let (x_low, x_high) = rates.fold((f64::MAX, 0.0_f64), |(lo, hi), x| {
        (lo.min(x), hi.max(x.min(MAX_AXIS_VALUE)))
    });
    let latencies = values.iter().map(|p| p.1).chain(bound);
    let (y_low, y_high) = latencies.fold((f64::MAX, 0.0_f64), |(lo, hi), y| {
        (lo.min(y), hi.max(y.min(MAX_AXIS_VALUE)))
    });
    let x = (x_low / 1.3, x_high * 1.3);
    let y = (y_low / 1.5, y_high * 2.0);
    let s = &frame.style;
    let area = framework_key(root, frame, &curves)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(s.px(16))
        .x_label_area_size(s.px(64))
        .y_label_area_size(s.px(90))
        .build_cartesian_2d((x.0..x.1).log_scale(), (y.0..y.1).log_scale())?;
    let p = percentile(frame.view).label();
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&rate_label)
        .y_label_formatter(&latency_label)
        .x_desc("Offered rate (requests per second, log scale)")
        .y_desc(format!("{p} latency (ms, log scale)"))
        .label_style(s.font(20))
        .axis_desc_style(s.font(18))
        .draw()?;
    if let Some(bound) = bound {
        draw_objective(&mut chart, frame, (x.0, x.1), bound, p)?;
    }
    let value = |v: f64| format!("{} ms", latency_ms(v));
    let point = |label: &str, (x, y): (f64, f64)| {
        format!(
            "{label}: {p} {} ms at {} req/s offered",
            latency_ms(y),
            grouped(x)
        )
    };
    let tips = Tips {
        point: &point,
        value: &value,
    };
    draw_curves(&mut chart, frame, &curves, tips)?;
    draw_marks(&mut chart, frame, &marks, y)
}

/// The log-log plot every mark of the chart is drawn on.
type LogLog<'a, DB> = ChartContext<'a, DB, Cartesian2d<LogCoord<f64>, LogCoord<f64>>>;

/// The objective as a dashed grey line across the plot, labelled at its left end.
fn draw_objective<'a, DB>(
    chart: &mut LogLog<'a, DB>,
    frame: &Frame,
    x: (f64, f64),
    bound: f64,
    p: &str,
) -> Drawn
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
{
    let s = &frame.style;
    let grey = RGBColor(110, 110, 110);
    let line = [(x.0, bound), (x.1, bound)];
    chart.draw_series(DashedLineSeries::new(
        line,
        s.px(10).max(2),
        s.px(6).max(2),
        grey.stroke_width(s.px(2).max(1)),
    ))?;
    let text = format!("objective: {p} <= {bound} ms");
    let style = s
        .font(16)
        .color(&grey)
        .pos(Pos::new(HPos::Left, VPos::Bottom));
    chart.draw_series([EmptyElement::at((x.0, bound))
        + Text::new(text, (s.px(6) as i32, -(s.px(4) as i32)), style)])?;
    Ok(())
}

/// Each framework's capacity as a dashed line in its colour over the whole y range
/// `y`, labelled at the top.
fn draw_marks<'a, DB>(
    chart: &mut LogLog<'a, DB>,
    frame: &Frame,
    marks: &[Mark],
    y: (f64, f64),
) -> Drawn
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
{
    let s = &frame.style;
    for (i, m) in marks.iter().enumerate() {
        let colour = frame.colours.colour(m.target);
        let _mark = frame.marks.begin(m.target, m.tip.clone());
        chart.draw_series(DashedLineSeries::new(
            [(m.rate, y.0), (m.rate, y.1)],
            s.px(8).max(2),
            s.px(6).max(2),
            colour.stroke_width(s.px(2).max(1)),
        ))?;
        // Labels of capacities close together would overlap: step each one down, on
        // the log axis's own scale.
        let step = (y.1 / y.0).powf(0.05 + 0.06 * i as f64);
        let label = Text::new(
            m.label.clone(),
            (s.px(4) as i32, 0),
            s.font(16).color(&colour),
        );
        chart.draw_series([EmptyElement::at((m.rate, y.1 / step)) + label])?;
    }
    Ok(())
}

/// Only the ticks at 1, 2 and 5 of each power of ten are labelled: a log axis over a
/// decade has nine, and their labels would run into each other.
fn rate_label(v: &f64) -> String {
    let lead = *v / 10f64.powf(v.log10().floor());
    if [1.0, 2.0, 5.0].iter().any(|d| (lead - d).abs() < 1e-6) {
        grouped(*v)
    } else {
        String::new()
    }
}

/// A latency tick as a plain number (0.5, 10, 1000): the unit is in the axis title.
fn latency_label(v: &f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
