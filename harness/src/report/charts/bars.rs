//! Bar charts: QPS by framework, memory idle/steady/peak as grouped bars, and startup /
//! cold start as median bars with min-max whiskers.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::KeyedAxis;
use super::{font, target_colour, Drawn, WIDTH};
use crate::report::view::{grouped, ReportView};
use crate::run::results::TargetResult;
use crate::stats::Spread;

/// Picks one repeated figure (startup or cold start) of a target.
type Figure = fn(&TargetResult) -> Option<Spread>;

/// An x axis with one slot per framework at 0, 1, 2, ...
fn slots(n: usize) -> KeyedAxis {
    let keys: Vec<f64> = (0..n).map(|i| i as f64).collect();
    KeyedAxis::new(-0.6..(n as f64 - 0.4), keys)
}

fn slot_label(view: &ReportView, x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 0.01 || i < 0.0 {
        return String::new();
    }
    view.ranked
        .get(i as usize)
        .map(|t| t.framework.clone())
        .unwrap_or_default()
}

/// Throughput per framework, labelled with its value.
pub fn qps<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    view: &ReportView,
    title: &str,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let top =
        view.ranked.iter().filter_map(|t| t.qps).fold(1.0, f64::max) * headroom(view.ranked.len());
    let mut chart = ChartBuilder::on(root)
        .caption(title, font(28))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(100)
        .build_cartesian_2d(slots(view.ranked.len()), 0.0..top)?;
    let label = |x: &f64| slot_label(view, *x);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&label)
        .y_label_formatter(&|y| grouped(*y))
        .x_desc("Framework")
        .y_desc("Requests per second (best median over the ladder)")
        .label_style(font(16))
        .axis_desc_style(font(18))
        .draw()?;
    for (i, t) in view.ranked.iter().enumerate() {
        let colour = target_colour(&t.name);
        let value = t.qps.unwrap_or(0.0);
        let x = i as f64;
        chart
            .draw_series([Rectangle::new(
                [(x - 0.35, 0.0), (x + 0.35, value)],
                colour.filled(),
            )])?
            .label(t.framework.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        chart.draw_series([Text::new(
            grouped(value),
            (x - 0.2, value + top * 0.04),
            font(16),
        )])?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Idle, steady and peak memory per framework; shades of the framework's colour.
pub fn memory<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    view: &ReportView,
    title: &str,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let top = view
        .ranked
        .iter()
        .filter_map(|t| t.memory_mb.as_ref().map(|m| m.peak))
        .fold(1.0, f64::max)
        * headroom(3);
    let mut chart = ChartBuilder::on(root)
        .caption(title, font(28))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(100)
        .build_cartesian_2d(slots(view.ranked.len()), 0.0..top)?;
    let label = |x: &f64| slot_label(view, *x);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&label)
        .x_desc("Framework (bars: idle, steady, peak)")
        .y_desc("Memory of the process tree (MiB)")
        .label_style(font(16))
        .axis_desc_style(font(18))
        .draw()?;
    let shades = [("idle", 0.35), ("steady", 0.65), ("peak", 1.0)];
    for (i, t) in view.ranked.iter().enumerate() {
        let Some(m) = &t.memory_mb else { continue };
        let colour = target_colour(&t.name);
        for (k, (value, (_, shade))) in [m.idle, m.steady, m.peak].iter().zip(shades).enumerate() {
            let left = i as f64 - 0.39 + k as f64 * 0.26;
            chart.draw_series([Rectangle::new(
                [(left, 0.0), (left + 0.24, *value)],
                colour.mix(shade).filled(),
            )])?;
            chart.draw_series([Rectangle::new(
                [(left, 0.0), (left + 0.24, *value)],
                colour.stroke_width(1),
            )])?;
        }
    }
    for (name, shade) in shades {
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label(name)
            .legend(move |(x, y)| {
                Rectangle::new(
                    [(x, y - 6), (x + 14, y + 6)],
                    BLACK.mix(shade * 0.7).filled(),
                )
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Startup (left) and cold start (right): median bars with min-max whiskers.
pub fn startup<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    view: &ReportView,
    title: &str,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let root = root.margin(12, 0, 0, 0).titled(title, font(28))?;
    // Two stacked panels leave room for every framework's x label; one shared legend on
    // the right instead of a box over each panel's bars.
    let (plots, key) = root.split_horizontally(WIDTH as i32 - 220);
    side_legend(&key, view)?;
    let halves = plots.split_evenly((2, 1));
    let panels: [(&str, Figure); 2] = [
        ("Startup: spawn to first healthy response (ms)", |t| {
            t.startup_ms
        }),
        ("Cold start: spawn to every request correct (ms)", |t| {
            t.cold_start_ms
        }),
    ];
    for (area, (label, figure)) in halves.iter().zip(panels) {
        whisker_panel(area, view, label, figure)?;
    }
    Ok(())
}

fn whisker_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    view: &ReportView,
    y_desc: &str,
    figure: Figure,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let top = view
        .ranked
        .iter()
        .filter_map(|t| figure(t).map(|s| s.max))
        .fold(1.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(80)
        .build_cartesian_2d(slots(view.ranked.len()), 0.0..top)?;
    let label = |x: &f64| slot_label(view, *x);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&label)
        .y_desc(y_desc)
        .label_style(font(14))
        .axis_desc_style(font(16))
        .draw()?;
    for (i, t) in view.ranked.iter().enumerate() {
        let Some(s) = figure(t) else { continue };
        let colour = target_colour(&t.name);
        let x = i as f64;
        chart.draw_series([Rectangle::new(
            [(x - 0.3, 0.0), (x + 0.3, s.median)],
            colour.filled(),
        )])?;
        let whisker = BLACK.stroke_width(2);
        chart.draw_series([
            PathElement::new(vec![(x, s.min), (x, s.max)], whisker),
            PathElement::new(vec![(x - 0.1, s.min), (x + 0.1, s.min)], whisker),
            PathElement::new(vec![(x - 0.1, s.max), (x + 0.1, s.max)], whisker),
        ])?;
    }
    Ok(())
}

/// A legend drawn in its own area: one colour swatch and framework name per line.
fn side_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, view: &ReportView) -> Drawn
where
    DB::ErrorType: 'static,
{
    for (i, t) in view.ranked.iter().enumerate() {
        let y = 60 + 26 * i as i32;
        let colour = target_colour(&t.name);
        area.draw(&Rectangle::new([(10, y), (26, y + 16)], colour.filled()))?;
        area.draw(&Text::new(t.framework.clone(), (34, y), font(16)))?;
    }
    Ok(())
}

/// How far above the highest value the y axis reaches, so the legend box in the top
/// corner (one line per entry) does not cover the bars.
pub(super) fn headroom(legend_entries: usize) -> f64 {
    1.12 + 0.05 * legend_entries as f64
}

/// The legend box at `position`, in the chart font.
pub(super) fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(font(16))
        .draw()?;
    Ok(())
}
