//! The report's charts, drawn with plotters into SVG (text, with tagged marks for
//! report.html) and PNG (embedded font, so no system fonts are needed), 1200x700 unless
//! `--chart-size` says otherwise, one consistent colour per target.
//!
//! Each [`ChartKind`] draws onto any plotters backend from a [`Frame`]; this module owns
//! the backends, the size and font scaling, and the files.

mod axis;
mod bars;
mod capacity;
mod chain;
mod fault;
mod key;
mod lines;
mod palette;
pub mod svg;

use std::path::{Path, PathBuf};
use std::sync::Once;

use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::claims::PublishedClaims;
use super::verdicts::FigureCheck;
use super::view::ReportView;
use crate::atomic_file::write_atomic;

pub use fault::FaultChart;
pub use palette::Palette;
use svg::{Marks, TaggedSvg};

/// The font every chart uses; DejaVu Sans, licence in `harness/assets/`.
const FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
/// The family name charts ask plotters for.
const FAMILY: &str = "sans-serif";

/// Why a chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("drawing the {chart} chart: {message}")]
    Draw {
        chart: &'static str,
        message: String,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// A drawing failure inside a chart function, before it knows which chart it is.
#[derive(Debug)]
pub struct DrawFailure(String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for DrawFailure {
    fn from(e: DrawingAreaErrorKind<E>) -> DrawFailure {
        DrawFailure(e.to_string())
    }
}

type Drawn = Result<(), DrawFailure>;

/// Pixel size of every chart (`--chart-size WxH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartSize {
    pub width: u32,
    pub height: u32,
}

impl Default for ChartSize {
    fn default() -> ChartSize {
        ChartSize {
            width: 1200,
            height: 700,
        }
    }
}

impl std::str::FromStr for ChartSize {
    type Err = String;

    /// "1600x900"; each side between 400 and 4000 pixels.
    fn from_str(text: &str) -> Result<ChartSize, String> {
        let (w, h) = text
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("{text:?} is not WIDTHxHEIGHT, such as 1200x700"))?;
        let side = |s: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|v| (300..=4000).contains(v))
                .ok_or_else(|| {
                    format!("{text:?}: each side must be a whole number of pixels from 300 to 4000")
                })
        };
        Ok(ChartSize {
            width: side(w)?,
            height: side(h)?,
        })
    }
}

/// Sizes that follow the chart size: fonts and margins scale with it, but never below
/// 70% so a half-size chart stays readable.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub size: ChartSize,
    scale: f64,
}

impl Style {
    pub fn new(size: ChartSize) -> Style {
        let fit = (size.width as f64 / 1200.0).min(size.height as f64 / 700.0);
        Style {
            size,
            scale: fit.clamp(0.7, 3.0),
        }
    }

    /// A length designed for 1200x700, at this size.
    pub fn px(&self, base: u32) -> u32 {
        (base as f64 * self.scale).round() as u32
    }

    /// Text style at a size designed for 1200x700, in the embedded family.
    pub fn font(&self, base: u32) -> TextStyle<'static> {
        (FAMILY, self.px(base)).into_font().into()
    }

    /// The chart title.
    fn title(&self) -> TextStyle<'static> {
        self.font(30)
    }
}

/// Everything a chart is drawn from.
pub struct Frame<'a> {
    pub view: &'a ReportView<'a>,
    pub claims: &'a PublishedClaims,
    /// The claims check's output, whose QPS verdicts the claims chart prints.
    pub checks: &'a [FigureCheck],
    /// Each target's colour.
    pub colours: &'a Palette,
    pub style: Style,
    /// The mark being drawn, for report.html's filter and tooltips.
    pub marks: Marks,
}

/// The charts a report holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Qps,
    Claims,
    Latency,
    Ladder,
    Timeline,
    Warmup,
    Cost,
    Memory,
    Startup,
    /// A run with protocols: each framework's QPS on each protocol.
    Protocols,
    /// A service chain's: end-to-end p99 against downstream p99.
    ChainLatency,
    /// A service chain's: CPU per end-to-end success split by service.
    ChainCpu,
    /// A service chain's: the client tax per framework.
    ClientTax,
    /// A capacity run's: the objective's percentile against offered rate.
    Capacity,
    /// A resilience run's: one fault kind's timeline of full, degraded and failed answers.
    Fault(FaultChart),
}

impl ChartKind {
    /// Every chart of every report, in report order.
    pub const ALL: [ChartKind; 9] = [
        ChartKind::Qps,
        ChartKind::Claims,
        ChartKind::Latency,
        ChartKind::Ladder,
        ChartKind::Timeline,
        ChartKind::Warmup,
        ChartKind::Cost,
        ChartKind::Memory,
        ChartKind::Startup,
    ];

    /// The charts of a service chain, after [`ChartKind::ALL`] in report order.
    pub const CHAIN: [ChartKind; 3] = [
        ChartKind::ChainLatency,
        ChartKind::ChainCpu,
        ChartKind::ClientTax,
    ];

    /// The charts of a capacity run, after the chain's in report order.
    pub const CAPACITY: [ChartKind; 1] = [ChartKind::Capacity];

    /// The charts a report of `view` holds: the protocols' only in a run with protocols,
    /// the chain's only when a target ran as one,
    /// a fault's only when a target has an episode of it, so that any other report
    /// writes the same files as before they existed.
    pub fn shown(view: &ReportView) -> Vec<ChartKind> {
        if crate::report::resilience::resilience_only(view) {
            return ChartKind::faults(view);
        }
        if crate::report::capacity::capacity_only(view) {
            return ChartKind::CAPACITY.to_vec();
        }
        let mut kinds = ChartKind::ALL.to_vec();
        if view.by_protocol() {
            kinds.push(ChartKind::Protocols);
        }
        if view.ranked.iter().any(|t| t.chain.is_some()) {
            kinds.extend(ChartKind::CHAIN);
        }
        if crate::report::capacity::capacity_run(view) {
            kinds.extend(ChartKind::CAPACITY);
        }
        kinds.extend(ChartKind::faults(view));
        kinds
    }

    /// A resilience run's fault charts, in the order the run first had each kind.
    pub fn faults(view: &ReportView) -> Vec<ChartKind> {
        FaultChart::shown(view)
            .into_iter()
            .map(ChartKind::Fault)
            .collect()
    }

    /// The chart's title in a report of `view`: a fault chart names its fault's label.
    pub fn title_in(self, view: &ReportView) -> String {
        match self {
            ChartKind::Fault(fault) => fault.title(view),
            ChartKind::Capacity => capacity::title(view),
            _ => self.title(&view.reference),
        }
    }

    /// The chart's caption in a report of `view` (see [`ChartKind::caption`]).
    pub fn caption_in(self, view: &ReportView, published: &str) -> String {
        match self {
            ChartKind::Fault(fault) => fault.caption(view),
            ChartKind::Capacity => capacity::caption(view),
            _ => self.caption(&view.reference, published),
        }
    }

    /// File name without extension inside `charts/`.
    pub fn file_stem(self) -> &'static str {
        match self {
            ChartKind::Qps => "qps",
            ChartKind::Claims => "claims",
            ChartKind::Latency => "latency",
            ChartKind::Ladder => "ladder",
            ChartKind::Timeline => "timeline",
            ChartKind::Warmup => "warmup",
            ChartKind::Cost => "cost",
            ChartKind::Memory => "memory",
            ChartKind::Startup => "startup",
            ChartKind::Protocols => "protocols",
            ChartKind::ChainLatency => "chain-latency",
            ChartKind::ChainCpu => "chain-cpu",
            ChartKind::ClientTax => "client-tax",
            ChartKind::Capacity => "capacity",
            ChartKind::Fault(fault) => fault.file_stem(),
        }
    }

    /// The chart's title; the claims chart names the `reference` its ratios are to.
    pub fn title(self, reference: &str) -> String {
        let title = match self {
            ChartKind::Qps => "Throughput by framework",
            ChartKind::Claims => {
                return format!("Published vs measured: QPS relative to {reference}")
            }
            ChartKind::Latency => "Latency by percentile at the headline level",
            ChartKind::Ladder => "Throughput across the concurrency ladder",
            ChartKind::Timeline => "Throughput over time at the headline level",
            ChartKind::Warmup => "Warm-up: throughput from the first second of load",
            ChartKind::Cost => "Cost: server CPU per successful response",
            ChartKind::Memory => "Memory: idle and peak",
            ChartKind::Startup => "Startup and cold start",
            ChartKind::Protocols => "Throughput by protocol",
            ChartKind::ChainLatency => "Service chain: end-to-end p99 and downstream p99",
            ChartKind::ChainCpu => "Service chain: CPU per request by service",
            ChartKind::ClientTax => "Service chain: the client tax",
            ChartKind::Capacity => "Capacity: latency against offered rate",
            ChartKind::Fault(fault) => return format!("Resilience: {}", fault.name()),
        };
        title.to_string()
    }

    /// What the marks show, printed under the chart in the reports. The claims chart's
    /// ratios are to the report's `reference`; the claims are ratios to `published`.
    /// A fault chart's caption depends on the run: see [`ChartKind::caption_in`].
    pub fn caption(self, reference: &str, published: &str) -> String {
        let caption = match self {
            ChartKind::Capacity => "One line per framework: the objective's percentile at each usable probe's offered rate, the objective drawn, each framework's capacity marked.",
            ChartKind::Fault(_) => "One line per framework: full, degraded and failed answers per second, the fault window shaded.",
            ChartKind::Qps => "Bars: the headline QPS of the comparison table (median over repeats of the best level); whiskers: min-max over those repeats.",
            ChartKind::Claims if reference == published => return format!("Light bars: the published QPS divided by {published}'s published QPS; solid bars: the same ratio measured in this run (at the published load's connections when the run has that level, else the headline QPS). Under each pair, the verdict of the published-vs-measured table."),
            ChartKind::Claims => return format!("Light bars: the published QPS divided by {published}'s published QPS, times {published}'s QPS divided by {reference}'s measured in this run (none when either was not measured); solid bars: the framework's QPS divided by {reference}'s measured in this run (both at the published load's connections when the run has that level, else the headline QPS). Each pair differs as the verdict's ratios to {published} do; under each pair, the verdict of the published-vs-measured table."),
            ChartKind::Latency => "Lines: the latency distribution of the median repeat (by QPS) at each framework's headline level. Dots: p50, p90, p99 and p99.9 as the latency table prints them (medians over repeats); whiskers: min-max over repeats.",
            ChartKind::Ladder => "Points: median QPS over repeats at each level, as the throughput table prints them; whiskers: min-max over repeats.",
            ChartKind::Timeline => "Successful responses per second, second by second, in the median repeat (by QPS) of the headline level.",
            ChartKind::Warmup => "Successful responses per second in the first load of a fresh process (its warm-up, then the first level's first repeat), placed at seconds since spawn; load starts after ready and the idle-memory pause. A dashed line in the framework's colour marks where its warm-up ended and measurement began: \"steady\" where the steady-state rule was met, \"not steady (cap)\" where warmup_max cut it off first. Results written before the run kept this curve show the first ladder level's measured windows instead, on the ladder's clock, without the marker.",
            ChartKind::Cost => "Bars: server CPU time (user + system, whole process tree) per successful response at the headline level, median over repeats, as the throughput table prints it; whiskers: min-max over repeats. Lower is cheaper.",
            ChartKind::Memory => "Bars: idle (after startup, before load) and peak memory of the process tree, as the comparison table prints them.",
            ChartKind::Startup => "Bars: median over fresh launches, as the comparison table prints them; whiskers: min-max over those launches.",
            ChartKind::Protocols => "Bars: each framework's QPS on each protocol, as the by-protocol table prints it, one shade per protocol; whiskers: min-max over the headline level's repeats. Under a framework, the figures that are not results and the protocols it does not serve.",
            ChartKind::ChainLatency => "Bars at each chain framework's headline level, as the service chain table prints them: the p99 latency the load generator saw end to end, and the p99 of the downstream calls as the proxy between the services timed them (none when the services were connected directly); whiskers: min-max over repeats.",
            ChartKind::ChainCpu => "Bars at each chain framework's headline level, as the service chain table prints them: CPU time (user + system) per end-to-end success of the user service and of the order service (their sum is the table's total), and of the harness's proxy, which is not in the total; whiskers on the user service's: min-max over repeats.",
            ChartKind::ClientTax => "Bars at each chain framework's headline level, as the service chain table prints it: the user service's CPU µs per success in the chain minus its CPU µs per success serving the baseline request alone on the same process at the same concurrency; whiskers: min-max over repeats. Lower is cheaper; a negative tax is written under its row.",
        };
        caption.to_string()
    }

    fn draw<DB: DrawingBackend>(self, root: &DrawingArea<DB, Shift>, frame: &Frame) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let root = root
            .margin(frame.style.px(10), 0, 0, 0)
            .titled(&self.title_in(frame.view), frame.style.title())?;
        // A resilience run has episodes, not a ranked QPS: its charts stand on their own.
        if let ChartKind::Fault(fault) = self {
            return fault::timeline(&root, frame, fault);
        }
        if self == ChartKind::Capacity {
            return capacity::chart(&root, frame);
        }
        if frame.view.ranked.is_empty() && self != ChartKind::Claims {
            return centred_note(&root, frame, "No target was measured in this run.");
        }
        match self {
            ChartKind::Qps => bars::qps(&root, frame),
            ChartKind::Claims => bars::claims(&root, frame),
            ChartKind::Cost => bars::cost(&root, frame),
            ChartKind::Memory => bars::memory(&root, frame),
            ChartKind::Startup => bars::startup(&root, frame),
            ChartKind::Protocols => bars::protocols(&root, frame),
            ChartKind::Latency => lines::latency(&root, frame),
            ChartKind::Ladder => lines::ladder(&root, frame),
            ChartKind::Timeline => lines::timeline(&root, frame),
            ChartKind::Warmup => lines::warmup(&root, frame),
            ChartKind::ChainLatency => chain::latency(&root, frame),
            ChartKind::ChainCpu => chain::cpu(&root, frame),
            ChartKind::ClientTax => chain::tax(&root, frame),
            ChartKind::Capacity => capacity::chart(&root, frame),
            ChartKind::Fault(fault) => fault::timeline(&root, frame, fault),
        }
    }

    /// The chart as SVG text, each mark tagged with its target and exact value.
    pub fn svg(self, frame: &Frame) -> Result<String, ChartError> {
        register_font();
        let size = frame.style.size;
        let mut text = String::new();
        {
            let backend = TaggedSvg::new(&mut text, (size.width, size.height), frame.marks.clone());
            let root = backend.into_drawing_area();
            self.draw(&root, frame).map_err(|e| self.failed(e))?;
            root.present().map_err(|e| self.failed(e.into()))?;
        }
        Ok(text)
    }

    /// The chart as PNG bytes.
    pub fn png(self, frame: &Frame) -> Result<Vec<u8>, ChartError> {
        register_font();
        let ChartSize { width, height } = frame.style.size;
        let mut pixels = vec![0u8; (width * height * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
            self.draw(&root, frame).map_err(|e| self.failed(e))?;
            root.present().map_err(|e| self.failed(e.into()))?;
        }
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&pixels, width, height, image::ColorType::Rgb8)
            .map_err(|e| self.failed(DrawFailure(e.to_string())))?;
        Ok(png)
    }

    fn failed(self, e: DrawFailure) -> ChartError {
        ChartError::Draw {
            chart: self.file_stem(),
            message: e.0,
        }
    }
}

/// Writes every chart as `charts/<name>.svg` and `.png` under `dir`; returns the paths.
pub fn write_all(frame: &Frame, dir: &Path) -> Result<Vec<PathBuf>, ChartError> {
    let charts = dir.join("charts");
    let mut written = Vec::new();
    for kind in ChartKind::shown(frame.view) {
        let svg = kind.svg(frame)?;
        let png = kind.png(frame)?;
        for (ext, bytes) in [("svg", svg.as_bytes()), ("png", png.as_slice())] {
            let path = charts.join(format!("{}.{ext}", kind.file_stem()));
            write_atomic(&path, bytes).map_err(|source| ChartError::Write {
                path: path.display().to_string(),
                source,
            })?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Makes the embedded font the one plotters uses for every style of the family.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is compiled in and known to parse; a failure would show as missing text.
            let _ = plotters::style::register_font(FAMILY, style, FONT);
        }
    });
}

/// A chart with nothing to draw says so in its middle.
fn centred_note<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    text: &str,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let (w, h) = root.dim_in_pixel();
    let style = frame
        .style
        .font(22)
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw_text(text, &style, (w as i32 / 2, h as i32 / 2))?;
    Ok(())
}
