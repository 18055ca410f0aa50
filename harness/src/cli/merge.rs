//! `lanebench merge WORKER_JSON... --json OUT`: the results of the workers of a split
//! run (`load --segment I/N`, on one machine or many) merged into one result of the same
//! schema as a single `load` run. What is refused and why: see `load::merge`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::load_summary::render_summary;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::atomic_file::write_atomic;
use crate::load::merge::{merge_workers, read_worker};

/// Flags of `lanebench merge`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  lanebench merge results/worker-*.json --json merged.json\n\n\
Inputs must be all N segments of one run. Each worker's --hdr-log file is looked up at its \
recorded path, then next to its JSON; without them the timeline's p99 is the max of the \
workers' p99s (marked timeline_p99_exact: false)."
)]
pub struct MergeArgs {
    /// The workers' `load --segment I/N --json` files.
    #[arg(required = true, value_name = "WORKER_JSON")]
    pub inputs: Vec<PathBuf>,
    /// Write the merged result to FILE (`-` for stdout; the summary then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: String,
}

/// Runs `lanebench merge`.
pub fn run(args: MergeArgs) -> i32 {
    let mut workers = Vec::with_capacity(args.inputs.len());
    for path in &args.inputs {
        match read_worker(path) {
            Ok(worker) => workers.push(worker),
            Err(e) => {
                eprintln!("lanebench merge: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let merged = match merge_workers(&workers) {
        Ok(merged) => merged,
        Err(e) => {
            eprintln!("lanebench merge: {e}");
            return EXIT_USAGE;
        }
    };
    for warning in &merged.warnings {
        eprintln!("lanebench merge: warning: {warning}");
    }
    let summary = render_summary(&merged.result);
    let json = serde_json::to_string_pretty(&merged.result).expect("results serialize") + "\n";
    if args.json == "-" {
        eprint!("{summary}");
        print!("{json}");
        return EXIT_OK;
    }
    print!("{summary}");
    if let Err(e) = write_atomic(Path::new(&args.json), json.as_bytes()) {
        eprintln!("lanebench merge: --json {}: {e}", args.json);
        return EXIT_FAILED;
    }
    EXIT_OK
}
