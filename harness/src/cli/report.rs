//! `lanebench report`: render report.md, report.html and charts from a results folder,
//! or print one format to stdout.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{EXIT_OK, EXIT_USAGE};
use crate::report::charts::ChartSize;
use crate::report::claims::PublishedClaims;
use crate::report::{default_claims, Format, Report, ReportError};

/// Flags of `lanebench report`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  lanebench report results/default-20260101-120000\n  \
lanebench report results/run1 --format md > table.md\n  lanebench report results/run1 --format csv\n  \
lanebench report results/run1 --chart-size 1920x1080\n  lanebench report results/run1 --reference axum"
)]
pub struct ReportArgs {
    /// Results folder (holding results.json) or a results.json file.
    #[arg(value_name = "RESULTS_DIR")]
    pub results: PathBuf,
    /// Print this format to stdout instead of writing the report files.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Published claims to check against [default: targets/published-claims.toml found from the current directory, else the built-in copy].
    #[arg(long, value_name = "FILE")]
    pub claims: Option<PathBuf>,
    /// Pixel size of every chart (PNG, SVG and the charts in report.html), e.g. 1920x1080 for slides; each side 300-4000.
    #[arg(long, value_name = "WxH", default_value = "1200x700")]
    pub chart_size: ChartSize,
    /// Target the ratios ("vs" column) and the charts are relative to; one of the results'
    /// targets [default: the published comparison's reference, from the claims file].
    #[arg(long, value_name = "NAME")]
    pub reference: Option<String>,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Md,
    Csv,
    Json,
    Html,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Md => Format::Markdown,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Html => Format::Html,
        }
    }
}

/// Runs `lanebench report`.
pub fn run(args: ReportArgs) -> i32 {
    match report(&args) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("lanebench report: {e}");
            EXIT_USAGE
        }
    }
}

fn report(args: &ReportArgs) -> Result<(), ReportError> {
    let start = std::env::current_dir().unwrap_or_default();
    let claims = match &args.claims {
        Some(path) => PublishedClaims::load(path)?,
        None => default_claims(&start)?,
    };
    let mut report = Report::load(&args.results, claims)?
        .with_repository_colours(&start)
        .with_chart_size(args.chart_size);
    if let Some(name) = &args.reference {
        report = report.with_reference(name)?;
    }
    match args.format {
        Some(format) => {
            let bytes = report.render(format.into())?;
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = std::io::stdout().lock().write_all(&bytes);
        }
        None => {
            let dir = if args.results.is_dir() {
                args.results.clone()
            } else {
                args.results
                    .parent()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("."))
            };
            let mut stdout = std::io::stdout().lock();
            for path in report.write_all(&dir)? {
                // The files are written; a closed pipe only loses the listing.
                let _ = writeln!(stdout, "{}", path.display());
            }
        }
    }
    Ok(())
}
