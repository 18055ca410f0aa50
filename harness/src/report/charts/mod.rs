//! The report's charts, drawn with plotters into SVG (text) and PNG (embedded font, so
//! no system fonts are needed) at 1200x700, one consistent colour per target.
//!
//! Each [`ChartKind`] draws onto any plotters backend; this module owns the backends,
//! the font registration and the files.

mod axis;
mod bars;
mod lines;
mod palette;

use std::path::{Path, PathBuf};
use std::sync::Once;

use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::view::ReportView;
use crate::atomic_file::write_atomic;

pub use palette::target_colour;

/// Chart size in pixels.
pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 700;

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

/// The charts a report holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Qps,
    Latency,
    Memory,
    Startup,
    Timeline,
    Ladder,
}

impl ChartKind {
    /// Every chart, in report order.
    pub const ALL: [ChartKind; 6] = [
        ChartKind::Qps,
        ChartKind::Latency,
        ChartKind::Memory,
        ChartKind::Startup,
        ChartKind::Timeline,
        ChartKind::Ladder,
    ];

    /// File name without extension inside `charts/`.
    pub fn file_stem(self) -> &'static str {
        match self {
            ChartKind::Qps => "qps",
            ChartKind::Latency => "latency",
            ChartKind::Memory => "memory",
            ChartKind::Startup => "startup",
            ChartKind::Timeline => "timeline",
            ChartKind::Ladder => "ladder",
        }
    }

    /// The chart's title.
    pub fn title(self) -> &'static str {
        match self {
            ChartKind::Qps => "Throughput by framework",
            ChartKind::Latency => "Latency by percentile at the headline level",
            ChartKind::Memory => "Memory: idle, steady and peak",
            ChartKind::Startup => "Startup and cold start (median, min-max whiskers)",
            ChartKind::Timeline => "Throughput over time at the headline level",
            ChartKind::Ladder => "Throughput across the concurrency ladder",
        }
    }

    fn draw<DB: DrawingBackend>(self, root: &DrawingArea<DB, Shift>, view: &ReportView) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        if view.ranked.is_empty() {
            return no_data(root, self.title());
        }
        match self {
            ChartKind::Qps => bars::qps(root, view, self.title()),
            ChartKind::Memory => bars::memory(root, view, self.title()),
            ChartKind::Startup => bars::startup(root, view, self.title()),
            ChartKind::Latency => lines::latency(root, view, self.title()),
            ChartKind::Timeline => lines::timeline(root, view, self.title()),
            ChartKind::Ladder => lines::ladder(root, view, self.title()),
        }
    }

    /// The chart as SVG text.
    pub fn svg(self, view: &ReportView) -> Result<String, ChartError> {
        register_font();
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root, view).map_err(|e| self.failed(e))?;
            root.present().map_err(|e| self.failed(e.into()))?;
        }
        Ok(text)
    }

    /// The chart as PNG bytes.
    pub fn png(self, view: &ReportView) -> Result<Vec<u8>, ChartError> {
        register_font();
        let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root, view).map_err(|e| self.failed(e))?;
            root.present().map_err(|e| self.failed(e.into()))?;
        }
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&pixels, WIDTH, HEIGHT, image::ColorType::Rgb8)
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
pub fn write_all(view: &ReportView, dir: &Path) -> Result<Vec<PathBuf>, ChartError> {
    let charts = dir.join("charts");
    let mut written = Vec::new();
    for kind in ChartKind::ALL {
        let svg = kind.svg(view)?;
        let png = kind.png(view)?;
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

/// Text style at a size, in the embedded family.
fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

fn no_data<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str) -> Drawn
where
    DB::ErrorType: 'static,
{
    let root = root.margin(12, 0, 0, 0).titled(title, font(28))?;
    root.draw_text(
        "No target was measured in this run.",
        &font(22),
        (WIDTH as i32 / 2 - 200, HEIGHT as i32 / 2 - 40),
    )?;
    Ok(())
}
