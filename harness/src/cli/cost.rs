//! `lanebench cost`: flags -> [`CostSettings`] -> one count per target under callgrind,
//! a table on stdout and `cost.json` in the output folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::load_summary::grouped;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::cost::callgrind::valgrind_version;
use crate::cost::{count_target, unsupported, CostSettings, DEFAULT_REQUESTS, DEFAULT_WARMUP};
use crate::output_path::check_output_dir;
use crate::results::cost::{
    CostRun, CostStatus, Counting, TargetCost, COST_FILE, COST_SCHEMA_VERSION,
};
use crate::run::{new_run_id, now_rfc3339};
use crate::scenario::Scenario;
use crate::system::{prepare, LifecycleObserver, Processes, Step};
use crate::targets::Target;

/// Flags of `lanebench cost`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  lanebench cost --targets axum\n  \
lanebench cost --targets axum,gin --requests 2000 --out results/cost-main\n\n\
Each scenario request is counted separately: its instructions per request, plus the mix's weighted mean.\n\
Exit status: 0 every target counted or reported unsupported/skipped, 1 a count failed, 2 bad input.")]
pub struct CostArgs {
    /// Comma-separated target names [default: every target].
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub targets: Vec<String>,
    /// Scenario whose requests are counted [default: the embedded scenarios/default.toml].
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Counted requests of each scenario request.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_REQUESTS, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: u64,
    /// Uncounted warm-up requests of each scenario request.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_WARMUP)]
    pub warmup: u64,
    /// WORKERS given to the counted server.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: u16,
    /// Results folder for cost.json [default: results/cost-<run-id> in the repository].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Do not run the targets' build commands (they are already built).
    #[arg(long)]
    pub no_build: bool,
    /// Folder holding `<name>/target.toml` [default: found by walking up from the current directory].
    #[arg(long, value_name = "DIR")]
    pub targets_dir: Option<PathBuf>,
}

/// Runs `lanebench cost`.
pub fn run(args: CostArgs) -> i32 {
    let (settings, targets, out_dir) = match settings_from(&args) {
        Ok(parts) => parts,
        Err(message) => {
            eprintln!("lanebench cost: {message}");
            return EXIT_USAGE;
        }
    };
    let valgrind = match valgrind_version() {
        Ok(version) => version,
        Err(e) => {
            eprintln!("lanebench cost: {e}");
            return EXIT_USAGE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    super::stop_on_signals(&stop, false);
    let mut record = CostRun {
        schema_version: COST_SCHEMA_VERSION,
        run_id: new_run_id(&settings.scenario.name),
        started_at: now_rfc3339(),
        finished_at: None,
        interrupted: false,
        scenario: crate::results::scenario::ScenarioRecord::of(&settings.scenario)
            .unwrap_or_default(),
        lanebench_version: env!("CARGO_PKG_VERSION").to_string(),
        counting: Counting::new(&settings, valgrind),
        targets: Vec::new(),
    };
    eprintln!(
        "lanebench cost: {} request(s) of each of {} scenario requests per target, under {}; results in {}",
        settings.requests,
        settings.scenario.requests.len(),
        record.counting.valgrind_version,
        out_dir.display()
    );
    for target in &targets {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let result = build_and_count(target, &settings, &out_dir, !args.no_build, &stop);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        eprintln!("{}: {}", result.name, status_line(&result));
        record.targets.push(result);
        if let Err(e) = record.write(&out_dir) {
            eprintln!("lanebench cost: {}: cannot write: {e}", out_dir.display());
            return EXIT_FAILED;
        }
    }
    finish(record, &out_dir, &stop)
}

fn finish(mut record: CostRun, out_dir: &Path, stop: &AtomicBool) -> i32 {
    record.interrupted = stop.load(Ordering::SeqCst);
    if !record.interrupted {
        record.finished_at = Some(now_rfc3339());
    }
    if let Err(e) = record.write(out_dir) {
        eprintln!("lanebench cost: {}: cannot write: {e}", out_dir.display());
        return EXIT_FAILED;
    }
    print!("{}", render_table(&record));
    println!("cost: {}", out_dir.join(COST_FILE).display());
    if record.interrupted {
        return 130;
    }
    if record
        .targets
        .iter()
        .any(|t| t.status == CostStatus::Failed)
    {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// Validates the flags; errors name the flag or file.
fn settings_from(args: &CostArgs) -> Result<(CostSettings, Vec<Target>, PathBuf), String> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path).map_err(|e| e.to_string())?,
        None => Scenario::default_embedded(),
    };
    let all =
        super::targets::load_targets(args.targets_dir.as_deref()).map_err(|e| e.to_string())?;
    let targets = super::targets::select(all, &args.targets)?;
    let repo_dir = targets
        .first()
        .and_then(|t| t.dir.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let out_dir = args.out.clone().unwrap_or_else(|| {
        repo_dir
            .join("results")
            .join(format!("cost-{}", new_run_id(&scenario.name)))
    });
    check_output_dir(&out_dir).map_err(|e| match &args.out {
        Some(_) => format!("--out {e}"),
        None => e.to_string(),
    })?;
    let settings = CostSettings {
        scenario,
        requests: args.requests,
        warmup: args.warmup,
        workers: usize::from(args.workers),
        scratch_dir: std::env::temp_dir(),
    };
    Ok((settings, targets, out_dir))
}

/// Builds (unless told not to or the target cannot be counted anyway), then counts.
fn build_and_count(
    target: &Target,
    settings: &CostSettings,
    out_dir: &Path,
    build: bool,
    stop: &AtomicBool,
) -> TargetCost {
    if build && unsupported(target).is_none() {
        // Only the build step: the count launches the target itself, under callgrind.
        // Nothing is launched here, so the stop grace never applies.
        let mut processes = Processes::new(out_dir.join("logs"), 1, Duration::ZERO);
        if let Err(e) = prepare(&mut processes, &mut Building, target, None) {
            return TargetCost::bare(target, CostStatus::Failed, Some(e.to_string()));
        }
    }
    eprintln!("{}: counting under callgrind", target.name());
    count_target(target, settings, stop)
}

/// Says when a target's build begins.
struct Building;

impl LifecycleObserver for Building {
    fn step(&mut self, target: &Target, step: Step) {
        if step == Step::Build {
            eprintln!("{}: building", target.name());
        }
    }
}

pub(super) fn status_line(t: &TargetCost) -> String {
    let reason = t.reason.as_deref().unwrap_or("");
    match t.status {
        CostStatus::Ok => format!(
            "{} instructions per request (mix), {:.0} s",
            t.instructions_per_request
                .map_or("-".to_string(), |v| grouped(v.round() as u64)),
            t.seconds
        ),
        CostStatus::Unsupported => format!("unsupported: {reason}"),
        CostStatus::Skipped => format!("skipped: {reason}"),
        CostStatus::Failed => format!("FAILED: {}", reason.lines().next().unwrap_or("")),
    }
}

/// One line per target and scenario request.
fn render_table(record: &CostRun) -> String {
    let mut out = format!(
        "\n{:<14} {:<14} {:>16} {:>9}\n",
        "target", "request", "instr/request", "requests"
    );
    for t in &record.targets {
        if t.status != CostStatus::Ok {
            out.push_str(&format!("{:<14} {}\n", t.name, status_line(t)));
            continue;
        }
        for r in &t.requests {
            out.push_str(&format!(
                "{:<14} {:<14} {:>16} {:>9}\n",
                t.name,
                r.name,
                grouped(r.instructions_per_request.round() as u64),
                r.requests
            ));
        }
        if let Some(mix) = t.instructions_per_request {
            out.push_str(&format!(
                "{:<14} {:<14} {:>16}\n",
                t.name,
                "(mix)",
                grouped(mix.round() as u64)
            ));
        }
        if let Some(idle) = &t.idle {
            out.push_str(&format!(
                "{:<14} idle {:.1} s: {} instructions, at most {:.4}% of a batch\n",
                t.name,
                idle.seconds,
                grouped(idle.instructions),
                idle.share_of_batch * 100.0
            ));
        }
    }
    out
}
