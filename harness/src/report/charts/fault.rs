//! A resilience run's timeline per fault kind: full, degraded and failed answers per
//! second as three stacked panels on one x axis (seconds of the episode's load), one
//! line per framework from its breaker-on episode, the fault window shaded in each.
//! One chart per kind keeps the file names static; a run with two faults of one kind
//! (different labels) draws the first, and the caption says so.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::Unit;
use super::lines::{all_values, draw_curves, framework_key, whole_seconds_label, Curve, Tips};
use super::{Drawn, Frame};
use crate::report::resilience::{fault_labels, with_episodes};
use crate::report::view::ReportView;
use crate::results::resilience::{BreakerSetting, Episode, EpisodeSecond};
use crate::results::TargetResult;

/// The fault kinds a resilience run may have, one chart each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultChart {
    Blackhole,
    Error,
    Delay,
    Refuse,
    Reset,
    Down,
}

impl FaultChart {
    pub const ALL: [FaultChart; 6] = [
        FaultChart::Blackhole,
        FaultChart::Error,
        FaultChart::Delay,
        FaultChart::Refuse,
        FaultChart::Reset,
        FaultChart::Down,
    ];

    /// The kind as episodes record it (`Episode::fault`).
    pub fn name(self) -> &'static str {
        match self {
            FaultChart::Blackhole => "blackhole",
            FaultChart::Error => "error",
            FaultChart::Delay => "delay",
            FaultChart::Refuse => "refuse",
            FaultChart::Reset => "reset",
            FaultChart::Down => "down",
        }
    }

    pub fn file_stem(self) -> &'static str {
        match self {
            FaultChart::Blackhole => "fault-blackhole",
            FaultChart::Error => "fault-error",
            FaultChart::Delay => "fault-delay",
            FaultChart::Refuse => "fault-refuse",
            FaultChart::Reset => "fault-reset",
            FaultChart::Down => "fault-down",
        }
    }

    /// The charts of `view`: one per fault kind with a breaker-on episode, in the order
    /// the run first had them (a kind this build does not know is left out).
    pub fn shown(view: &ReportView) -> Vec<FaultChart> {
        fault_labels(view)
            .iter()
            .filter_map(|(kind, _, _)| FaultChart::ALL.into_iter().find(|c| c.name() == kind))
            .collect()
    }

    /// The label drawn, and the other labels of this kind that are not.
    fn labels(self, view: &ReportView) -> Option<(String, Vec<String>)> {
        fault_labels(view)
            .into_iter()
            .find(|(kind, _, _)| kind == self.name())
            .map(|(_, first, others)| (first, others))
    }

    pub fn title(self, view: &ReportView) -> String {
        let label = self.labels(view).map_or(self.name().to_string(), |l| l.0);
        format!("Resilience: {label}")
    }

    pub fn caption(self, view: &ReportView) -> String {
        let mut caption = "One line per framework, from its episode of this fault with the breaker on: top, full answers per second (the expected status, not degraded); middle, degraded fallbacks per second; bottom, every other failure per second (wrong status, a 503 included, timeouts, connection errors). Each point is one whole second of the episode's load, placed at the second's start. Shaded: the fault window, from the earliest switch-on to the latest switch-off over the frameworks drawn. Point at a point for its exact count.".to_string();
        if let Some((first, others)) = self.labels(view).filter(|l| !l.1.is_empty()) {
            caption.push_str(&format!(
                " The run also had {} of this kind: only {first} is drawn; the resilience table has them all.",
                others.join(", ")
            ));
        }
        caption
    }
}

/// Each framework's breaker-on episode of the drawn label.
fn drawn<'a>(view: &ReportView<'a>, label: &str) -> Vec<(&'a TargetResult, &'a Episode)> {
    with_episodes(view)
        .into_iter()
        .filter_map(|t| {
            let episodes = &t.resilience.as_ref()?.episodes;
            let e = episodes
                .iter()
                .find(|e| e.breaker == BreakerSetting::On && e.label == label)?;
            Some((t, e))
        })
        .collect()
}

/// The three panels: what each counts and how its tooltips name it.
const PANELS: [(&str, &str); 3] = [
    ("Full answers per second", "full"),
    ("Degraded answers per second", "degraded"),
    ("Failed answers per second", "failed"),
];

fn count(s: &EpisodeSecond, panel: usize) -> u64 {
    match panel {
        0 => s.full,
        1 => s.degraded,
        _ => s.failed,
    }
}

pub fn timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    chart: FaultChart,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let Some((label, _)) = chart.labels(frame.view) else {
        return Ok(());
    };
    let episodes = drawn(frame.view, &label);
    let curves = |panel: usize| -> Vec<Curve> {
        episodes
            .iter()
            .map(|(t, e)| Curve {
                target: &t.name,
                label: t.framework.clone(),
                segments: vec![e
                    .seconds
                    .iter()
                    .map(|s| (s.t as f64, count(s, panel) as f64))
                    .collect()],
                whiskers: Vec::new(),
            })
            .collect()
    };
    let window = episodes.iter().fold(None, |w: Option<(f64, f64)>, (_, e)| {
        Some(w.map_or((e.fault_on_s, e.fault_off_s), |(on, off)| {
            (on.min(e.fault_on_s), off.max(e.fault_off_s))
        }))
    });
    let x_max = episodes
        .iter()
        .flat_map(|(_, e)| e.seconds.iter().map(|s| s.t as f64 + 1.0))
        .chain(window.map(|w| w.1 + 1.0))
        .fold(1.0, f64::max);
    let area = framework_key(root, frame, &curves(0))?;
    for (i, area) in area.split_evenly((3, 1)).iter().enumerate() {
        let panel = Panel {
            what: PANELS[i],
            x_max,
            window,
            bottom: i == 2,
        };
        draw_panel(area, frame, &curves(i), &panel)?;
    }
    Ok(())
}

/// One panel of the chart.
struct Panel {
    what: (&'static str, &'static str),
    x_max: f64,
    window: Option<(f64, f64)>,
    /// Only the bottom panel names the shared x axis.
    bottom: bool,
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame,
    curves: &[Curve],
    panel: &Panel,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let s = &frame.style;
    // Linear from zero whatever the spread: the point of a panel is its drop to zero.
    let top = all_values(curves).iter().map(|p| p.1).fold(0.0, f64::max);
    let y_max = if top > 0.0 { top * 1.1 } else { 1.0 };
    let (name, noun) = panel.what;
    let mut chart = ChartBuilder::on(area)
        .margin(s.px(8))
        .caption(name, s.font(18))
        .x_label_area_size(s.px(if panel.bottom { 56 } else { 26 }))
        .y_label_area_size(s.px(90))
        .build_cartesian_2d(0.0..panel.x_max, 0.0..y_max)?;
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(TRANSPARENT)
        .x_label_formatter(&whole_seconds_label)
        .y_label_formatter(&|v| Unit::Rps.tick(*v))
        .y_desc("per second")
        .label_style(s.font(16))
        .axis_desc_style(s.font(16));
    if panel.bottom {
        mesh.x_desc("Seconds since the episode's load began (s)");
    }
    mesh.draw()?;
    // Kept inside the axes: a switch instant far off them would overflow the mapping.
    let inside = |v: f64| v.clamp(0.0, panel.x_max);
    if let Some((on, off)) = panel.window.map(|(on, off)| (inside(on), inside(off))) {
        if on < off {
            let shade = RGBColor(120, 120, 120).mix(0.18).filled();
            chart.draw_series([Rectangle::new([(on, 0.0), (off, y_max)], shade)])?;
        }
    }
    let value = |y: f64| format!("{y:.0}");
    let point = |label: &str, (x, y): (f64, f64)| {
        format!("{label}: {y:.0} {noun} answers in second {x:.0}")
    };
    let tips = Tips {
        point: &point,
        value: &value,
    };
    draw_curves(&mut chart, frame, curves, tips)
}
