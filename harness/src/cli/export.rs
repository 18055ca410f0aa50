//! `lanebench export`: a results file in a dashboard format (Bencher Metric Format,
//! github-action-benchmark arrays, CSV) on stdout or into a file.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{EXIT_OK, EXIT_USAGE};
use crate::atomic_file::write_atomic;
use crate::export::{export, export_cost, Format};
use crate::results::cost::{CostRun, COST_FILE};
use crate::results::RunResults;

/// Flags of `lanebench export`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  lanebench export results/latest --format bmf --out bmf.json\n  \
lanebench export results/latest/results.json --format github-action-benchmark > bigger.json\n  \
lanebench export results/latest --format github-action-benchmark-smaller > smaller.json\n  \
lanebench export results/cost-main/cost.json --format bmf"
)]
pub struct ExportArgs {
    /// A results.json, a cost.json (instruction counts), or a folder holding one.
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `lanebench export`.
pub fn run(args: ExportArgs) -> i32 {
    let bytes = match render(&args) {
        Ok(bytes) => bytes,
        Err(message) => {
            eprintln!("lanebench export: {message}");
            return EXIT_USAGE;
        }
    };
    let written = match &args.out {
        Some(path) => write_atomic(path, &bytes)
            .map_err(|e| format!("--out {}: cannot write: {e}", path.display())),
        None => std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| format!("stdout: {e}")),
    };
    match written {
        Ok(()) => EXIT_OK,
        Err(message) => {
            eprintln!("lanebench export: {message}");
            EXIT_USAGE
        }
    }
}

/// Reads the results or cost file and renders it; errors are one line naming the file.
fn render(args: &ExportArgs) -> Result<Vec<u8>, String> {
    let path = &args.results;
    let is_cost = path.file_name().is_some_and(|n| n == COST_FILE)
        || (path.is_dir() && path.join(COST_FILE).is_file() && !path.join("results.json").exists());
    let shown = path.display();
    if is_cost {
        let cost = CostRun::load(path).map_err(|e| e.to_string())?;
        return export_cost(&cost, args.format).map_err(|e| format!("{shown}: {e}"));
    }
    let results = RunResults::load(path).map_err(|e| e.to_string())?;
    export(&results, args.format).map_err(|e| format!("{shown}: {e}"))
}
