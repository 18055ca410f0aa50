//! `lanebench export`: a results file in a dashboard format (Bencher Metric Format,
//! github-action-benchmark arrays, CSV) on stdout or into a file.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{EXIT_OK, EXIT_USAGE};
use crate::atomic_file::write_atomic;
use crate::export::{export, Format};
use crate::run::results::RunResults;

/// Flags of `lanebench export`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  lanebench export results/latest --format bmf --out bmf.json\n  \
lanebench export results/latest/results.json --format github-action-benchmark > bigger.json\n  \
lanebench export results/latest --format github-action-benchmark-smaller > smaller.json"
)]
pub struct ExportArgs {
    /// A results.json or a results folder.
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
    let results = match RunResults::load(&args.results) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lanebench export: {e}");
            return EXIT_USAGE;
        }
    };
    let bytes = match export(&results, args.format) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("lanebench export: {}: {e}", args.results.display());
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
