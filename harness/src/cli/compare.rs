//! `lanebench compare`: two results (files, folders, folders of rounds, or a named
//! baseline) -> the per-figure verdict table on stdout, optional markdown and JSON files,
//! and the exit code CI acts on (0 no regression, 1 regression or missing, 2 bad input).

use std::path::{Path, PathBuf};

use clap::Args;

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::atomic_file::write_atomic;
use crate::compare::{baseline, compare_to_reference, render, FailOn, Side, Thresholds};
use crate::targets::find_targets_dir;

/// Flags of `lanebench compare`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  lanebench compare results/old results/new\n  \
lanebench compare --baseline main results/new --threshold 3% --threshold p99=10%\n  \
lanebench compare base-rounds/ head-rounds/ --markdown comment.md --fail-on instructions,errors\n  \
lanebench compare results/old results/new --reference TARGET\n\n\
Each side is a results.json or cost.json, a folder holding them, or a folder of such folders (pooled).\n\
Exit status: 0 nothing that gates regressed, 1 a gating figure regressed, a target failed, or the candidate \
lacks a target, level, figure or count the baseline has (missing), 2 bad input."
)]
pub struct CompareArgs {
    /// BASELINE CANDIDATE, or only CANDIDATE with --baseline.
    #[arg(value_name = "RESULTS", num_args = 1..=2, required = true)]
    pub paths: Vec<PathBuf>,
    /// Use the named baseline saved by `lanebench run --save-baseline NAME`.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Folder of named baselines [default: results/baselines in the repository].
    #[arg(long, value_name = "DIR")]
    pub baselines_dir: Option<PathBuf>,
    /// Minimum relevant change: `5%` for every figure, `p99=10%` for one (repeatable).
    /// Figures: instructions (default 1%, not changed by a global value), qps, p50, p99, p999,
    /// errors (percentage points, default 1), cpu-per-request, memory, startup, cold-start; a
    /// service chain's downstream-p99, total-cpu-per-request and client-tax.
    #[arg(long, value_name = "[FIGURE=]PCT")]
    pub threshold: Vec<String>,
    /// Figures whose regression fails (exit 1): names, `all`, `deterministic` (instructions),
    /// `timed` (the rest), or `auto` [default: deterministic figures and errors when instructions
    /// were counted, else all]. Other figures are still judged and shown. Repeatable, comma-separated.
    #[arg(long, value_name = "FIGURES")]
    pub fail_on: Vec<String>,
    /// Judge qps, latencies, cpu-per-request, startup and cold start of every other target as
    /// ratios to NAME's same figure at the same level in the same run, so that a faster, slower or
    /// busier machine cancels out (a chain's downstream-p99 and total-cpu-per-request too); errors,
    /// memory, instruction counts (cost.json) and a chain's client-tax stay absolute,
    /// and NAME's own ratio figures are shown, not judged. NAME must finish on both sides. No
    /// default: a default would change every existing verdict.
    #[arg(long, value_name = "NAME")]
    pub reference: Option<String>,
    /// Also write the table as markdown (for a pull-request comment).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also write the comparison as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Runs `lanebench compare`.
pub fn run(args: CompareArgs) -> i32 {
    match compare_and_write(&args) {
        Ok(regressed) if regressed => EXIT_FAILED,
        Ok(_) => EXIT_OK,
        Err(message) => {
            eprintln!("lanebench compare: {message}");
            EXIT_USAGE
        }
    }
}

/// Returns whether anything regressed; errors are one-line bad-input messages.
fn compare_and_write(args: &CompareArgs) -> Result<bool, String> {
    let thresholds = Thresholds::parse(&args.threshold)?;
    let fail_on = FailOn::parse(&args.fail_on)?;
    let (baseline_path, candidate_path) = sides(args)?;
    let baseline = Side::load(&baseline_path).map_err(|e| e.to_string())?;
    let candidate = Side::load(&candidate_path).map_err(|e| e.to_string())?;
    let reference = args.reference.as_deref();
    let comparison = compare_to_reference(&baseline, &candidate, &thresholds, &fail_on, reference)
        .map_err(|e| e.to_string())?;
    print!("{}", render::table(&comparison));
    if let Some(path) = &args.markdown {
        write(path, "--markdown", render::markdown(&comparison).as_bytes())?;
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&comparison).map_err(|e| e.to_string())? + "\n";
        write(path, "--json", json.as_bytes())?;
    }
    let regressed = comparison.regressed();
    Ok(regressed)
}

fn sides(args: &CompareArgs) -> Result<(PathBuf, PathBuf), String> {
    match (&args.baseline, args.paths.as_slice()) {
        (None, [base, cand]) => Ok((base.clone(), cand.clone())),
        (None, [_]) => Err("give BASELINE and CANDIDATE, or --baseline NAME and CANDIDATE".into()),
        (Some(name), [cand]) => {
            let dir = match &args.baselines_dir {
                Some(dir) => dir.clone(),
                None => baseline::default_dir(&find_targets_dir(None).map_err(|e| e.to_string())?),
            };
            let found = baseline::find(&dir, name).map_err(|e| format!("--baseline: {e}"))?;
            Ok((found, cand.clone()))
        }
        (Some(_), _) => Err("--baseline NAME takes only the CANDIDATE results".into()),
        (None, _) => Err("give BASELINE and CANDIDATE".into()),
    }
}

fn write(path: &Path, flag: &str, contents: &[u8]) -> Result<(), String> {
    write_atomic(path, contents)
        .map_err(|e| format!("{flag} {}: cannot write: {e}", path.display()))
}
