//! Line charts: latency by percentile on a log percentile axis, throughput over time, and
//! throughput across the concurrency ladder.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::KeyedAxis;
use super::bars::{headroom, legend};
use super::{font, target_colour, Drawn};
use crate::report::view::{grouped, headline_level, ReportView};

/// One framework's line: (target name for the colour, legend label, points).
type Curve<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

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

/// One line per framework: latency (ms, log) against percentile (log of 1/(1-p)).
pub fn latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    view: &ReportView,
    title: &str,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let curves: Vec<Curve> = view
        .ranked
        .iter()
        .filter_map(|t| {
            let load = &headline_level(t)?.repeats.first()?.load;
            let points = load
                .latency_distribution
                .iter()
                .filter(|q| q.percentile < 100.0 && q.ms > 0.0)
                .map(|q| (percentile_x(q.percentile), q.ms))
                .collect();
            Some((t.name.as_str(), t.framework.as_str(), points))
        })
        .collect();
    let all = curves.iter().flat_map(|(_, _, p)| p.iter());
    let x_max = all.clone().map(|p| p.0).fold(percentile_x(99.9), f64::max);
    let y_min = all
        .clone()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .min(1.0)
        * 0.8;
    let y_max = all.map(|p| p.1).fold(1.0, f64::max) * 1.5;
    let keys: Vec<f64> = PERCENTILE_TICKS
        .iter()
        .map(|p| percentile_x(*p))
        .filter(|x| *x <= x_max + 1e-9)
        .collect();
    let mut chart = ChartBuilder::on(root)
        .caption(title, font(28))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(KeyedAxis::new(0.0..x_max, keys), (y_min..y_max).log_scale())?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|y| format!("{y}"))
        .x_desc("Percentile (log scale of 1/(1-p))")
        .y_desc("Latency (ms, log scale)")
        .label_style(font(16))
        .axis_desc_style(font(18))
        .draw()?;
    draw_curves(&mut chart, curves, 0)?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// Requests per second, second by second, from the headline level's first repeat.
pub fn timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    view: &ReportView,
    title: &str,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let lines: Vec<Curve> = view
        .ranked
        .iter()
        .filter_map(|t| {
            let load = &headline_level(t)?.repeats.first()?.load;
            // The last point may cover only part of a second; it would show a false drop.
            let points = load
                .timeline
                .iter()
                .filter(|p| (p.t + 1) as f64 <= load.duration_s + 0.05)
                .map(|p| (p.t as f64, p.requests as f64))
                .collect();
            Some((t.name.as_str(), t.framework.as_str(), points))
        })
        .collect();
    let all = lines.iter().flat_map(|(_, _, p)| p.iter());
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let y_max = all.map(|p| p.1).fold(1.0, f64::max) * headroom(lines.len());
    let mut chart = ChartBuilder::on(root)
        .caption(title, font(28))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(100)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .y_label_formatter(&|y| grouped(*y))
        .x_desc("Seconds since measurement started (s)")
        .y_desc("Requests per second")
        .label_style(font(16))
        .axis_desc_style(font(18))
        .draw()?;
    draw_curves(&mut chart, lines, 4)?;
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Median requests per second at each ladder level (connections, log scale).
pub fn ladder<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    view: &ReportView,
    title: &str,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let mut levels: Vec<f64> = view
        .ranked
        .iter()
        .flat_map(|t| t.levels.iter().map(|l| l.connections as f64))
        .collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let low = levels.first().copied().unwrap_or(1.0).max(1.0) / 1.5;
    let high = levels.last().copied().unwrap_or(1.0).max(1.0) * 1.5;
    let y_max = view
        .ranked
        .iter()
        .flat_map(|t| t.levels.iter().map(|l| l.success_rps.median))
        .fold(1.0, f64::max)
        * headroom(view.ranked.len());
    let mut chart = ChartBuilder::on(root)
        .caption(title, font(28))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(100)
        .build_cartesian_2d((low..high).log_scale().with_key_points(levels), 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| grouped(*y))
        .x_desc("Concurrent connections (log scale)")
        .y_desc("Requests per second (median over repeats)")
        .label_style(font(16))
        .axis_desc_style(font(18))
        .draw()?;
    for t in &view.ranked {
        let colour = target_colour(&t.name);
        let points: Vec<(f64, f64)> = t
            .levels
            .iter()
            .map(|l| (l.connections as f64, l.success_rps.median))
            .collect();
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(3)).point_size(5))?
            .label(t.framework.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// One line per framework in its colour, with a legend entry; `point_size` 0 draws no markers.
fn draw_curves<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    curves: Vec<Curve<'_>>,
    point_size: u32,
) -> Drawn
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (name, framework, points) in curves {
        let colour = target_colour(name);
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(3)).point_size(point_size))?
            .label(framework)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
            });
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
