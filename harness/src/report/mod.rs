//! Reports from a results folder: report.md, report.html, charts (SVG and PNG), and the
//! same content on stdout for scripting. Rendering only reads results.json; it never
//! measures, so any old results folder can be re-rendered.
//!
//! Each output [`Format`] has its own module implementing [`Renderer`]; the Markdown and
//! HTML ones draw the same [`document::Block`]s from one [`view::ReportView`].

pub mod capacity;
pub mod capacity_claims;
pub mod chain;
pub mod charts;
pub mod claims;
pub mod colours;
pub mod comparable;
mod database;
pub mod document;
pub mod figures;
mod html;
mod markdown;
mod passthrough;
pub mod protocols;
pub mod resilience;
pub mod table;
pub mod verdicts;
pub mod view;

use std::path::{Path, PathBuf};

use crate::atomic_file::write_atomic;
use crate::results::{ResultsError, RunResults};
use charts::{ChartError, ChartSize, Frame, Palette, Style};
use claims::{ClaimsError, PublishedClaims};
use verdicts::FigureCheck;
use view::ReportView;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error("--reference {name}: no target of that name in the results (targets: {known})")]
    UnknownReference { name: String, known: String },
    #[error("cannot format the summary CSV: {0}")]
    Csv(std::io::Error),
    #[error("{path}: cannot write: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// A report format on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Csv,
    Json,
    Html,
}

impl Format {
    /// The file this format is written to inside a results folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Markdown => "report.md",
            Format::Csv => "summary.csv",
            Format::Json => "results.json",
            Format::Html => "report.html",
        }
    }

    fn renderer(self) -> &'static dyn Renderer {
        match self {
            Format::Markdown => &markdown::Markdown,
            Format::Csv => &passthrough::SummaryCsv,
            Format::Json => &passthrough::ResultsJson,
            Format::Html => &html::Html,
        }
    }
}

/// What a format's renderer draws from.
pub struct RenderInput<'a> {
    pub results: &'a RunResults,
    pub view: ReportView<'a>,
    pub claims: &'a PublishedClaims,
    /// Each target's colour.
    pub colours: &'a Palette,
    /// The claims checked against this run.
    pub checks: Vec<FigureCheck>,
    /// results.json exactly as stored.
    pub raw_json: &'a [u8],
    pub chart_size: ChartSize,
}

impl RenderInput<'_> {
    /// What the charts are drawn from.
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            view: &self.view,
            claims: self.claims,
            checks: &self.checks,
            colours: self.colours,
            style: Style::new(self.chart_size),
            marks: Default::default(),
        }
    }
}

/// One output format; each lives in its own module.
pub trait Renderer {
    /// The whole output as bytes.
    fn render(&self, input: &RenderInput) -> Result<Vec<u8>, ReportError>;
}

/// A loaded results folder with the published claims it is checked against.
pub struct Report {
    results: RunResults,
    /// The results.json exactly as read, for `--format json`.
    raw_json: Vec<u8>,
    claims: PublishedClaims,
    colours: Palette,
    chart_size: ChartSize,
    /// The target ratios are relative to; the published comparison's when none is chosen.
    reference: Option<String>,
}

impl Report {
    /// Loads `<dir>/results.json` (or a results.json path) and the claims.
    pub fn load(path: &Path, claims: PublishedClaims) -> Result<Report, ReportError> {
        let results = RunResults::load(path)?;
        let file = results_file(path);
        let raw_json =
            crate::load::bounds::read_capped(&file, crate::load::bounds::MAX_INPUT_BYTES).map_err(
                |source| ResultsError::Read {
                    path: file.display().to_string(),
                    source,
                },
            )?;
        Ok(Report {
            colours: colours::recorded(&results),
            results,
            raw_json,
            claims,
            chart_size: ChartSize::default(),
            reference: None,
        })
    }

    /// Makes every ratio and the charts relative to target `name` (`--reference`); it
    /// must be a target of the results (measured or not: an unmeasured one shows no
    /// ratios, as the published reference does when it was not measured).
    pub fn with_reference(mut self, name: &str) -> Result<Report, ReportError> {
        let targets = &self.results.targets;
        if !targets.iter().any(|t| t.name == name) {
            let known: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            return Err(ReportError::UnknownReference {
                name: name.to_string(),
                known: known.join(", "),
            });
        }
        self.reference = Some(name.to_string());
        Ok(self)
    }

    /// Takes the colour of each target results.json has none for (results written
    /// before colours were recorded, targets only the claims name) from its manifest in
    /// the repository's `targets/` folder, found from `start` as the claims file is.
    pub fn with_repository_colours(mut self, start: &Path) -> Report {
        self.colours = colours::from_repository(self.colours, start);
        self
    }

    /// The target ratios are relative to.
    pub fn reference(&self) -> &str {
        self.reference.as_deref().unwrap_or(&self.claims.reference)
    }

    /// Draws the charts at `size` instead of 1200x700.
    pub fn with_chart_size(mut self, size: ChartSize) -> Report {
        self.chart_size = size;
        self
    }

    /// The results being reported.
    pub fn results(&self) -> &RunResults {
        &self.results
    }

    /// One format as bytes.
    pub fn render(&self, format: Format) -> Result<Vec<u8>, ReportError> {
        format.renderer().render(&self.input())
    }

    fn input(&self) -> RenderInput<'_> {
        let view = ReportView::new(&self.results, self.reference());
        RenderInput {
            results: &self.results,
            checks: verdicts::check(&self.claims, &view),
            view,
            claims: &self.claims,
            colours: &self.colours,
            raw_json: &self.raw_json,
            chart_size: self.chart_size,
        }
    }

    /// Writes report.md, report.html and charts/ into `dir`; returns the written paths.
    pub fn write_all(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let mut written = Vec::new();
        for format in [Format::Markdown, Format::Html] {
            let path = dir.join(format.file_name());
            write_atomic(&path, &self.render(format)?).map_err(|source| ReportError::Write {
                path: path.display().to_string(),
                source,
            })?;
            written.push(path);
        }
        written.extend(charts::write_all(&self.input().frame(), dir)?);
        Ok(written)
    }
}

/// The results.json a path names: the file itself, or the one inside a folder.
pub fn results_file(path: &Path) -> PathBuf {
    crate::json_file::resolve(path, &crate::results::RESULTS_FILE)
}

/// The claims to check against: `targets/published-claims.toml` found from `start`, or
/// the copy built into the binary.
pub fn default_claims(start: &Path) -> Result<PublishedClaims, ClaimsError> {
    match PublishedClaims::find_from(start) {
        Some(path) => PublishedClaims::load(&path),
        None => Ok(PublishedClaims::embedded()),
    }
}

/// Writes every report file for a results folder, with ratios relative to `reference`
/// (the published comparison's when `None`); used at the end of `lanebench run`.
pub fn write_for_folder(dir: &Path, reference: Option<&str>) -> Result<Vec<PathBuf>, ReportError> {
    let start = std::env::current_dir().unwrap_or_else(|_| dir.to_path_buf());
    let claims = default_claims(&start)?;
    let mut report = Report::load(dir, claims)?.with_repository_colours(&start);
    if let Some(name) = reference {
        report = report.with_reference(name)?;
    }
    report.write_all(dir)
}
