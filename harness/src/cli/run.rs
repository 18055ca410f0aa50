//! `lanebench run`: flags -> validated [`RunSettings`] -> the run, with a live progress
//! display on stderr, and a short summary of the results at the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use super::load_summary::grouped;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::compare::baseline;
use crate::cost::callgrind::valgrind_version;
use crate::cost::{CostSettings, DEFAULT_REQUESTS, DEFAULT_WARMUP};
use crate::load::cpus::CpuList;
use crate::load::LiveStatus;
use crate::results::cost::{CostStatus, Counting};
use crate::results::{RunResults, TargetResult, TargetStatus};
use crate::run::noise::target_caveats;
use crate::run::{new_run_id, run_all, throwaway_certificate, RunCost, RunObserver, RunSettings};
use crate::scenario::Scenario;
use crate::targets::Target;

/// Flags of `lanebench run`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  lanebench run\n  lanebench run --quick --targets hyperlane,axum\n  \
lanebench run --scenario scenarios/reproduce.toml --out results/repro"
)]
pub struct RunArgs {
    /// Scenario file [default: the embedded scenarios/default.toml].
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Comma-separated target names [default: every target; those whose tools are missing are reported as skipped].
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub targets: Vec<String>,
    /// Results folder [default: results/<run-id> in the repository].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Scale durations down (the scenario's quick_scale) with one startup sample and one repeat.
    #[arg(long)]
    pub quick: bool,
    /// Override the scenario's repeats per level.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeats: Option<u32>,
    /// Run the repeats as rounds over the targets (A B C, A B C, ...), each on a fresh
    /// process, so slow drift of the machine hits every target alike.
    #[arg(long)]
    pub interleave: bool,
    /// Fresh launches timed per target for startup and cold start [default: the
    /// scenario's startup_samples, 10 unless it says otherwise; 3 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub startup_samples: Option<u32>,
    /// CPUs for the servers [default: the first half of the available cores, SMT
    /// siblings kept together].
    #[arg(long, value_name = "LIST")]
    pub server_cpus: Option<CpuList>,
    /// CPUs for the load generator and the harness's own threads [default: the second half].
    #[arg(long, value_name = "LIST")]
    pub generator_cpus: Option<CpuList>,
    /// Folder holding `<name>/target.toml` [default: found by walking up from the current directory].
    #[arg(long, value_name = "DIR")]
    pub targets_dir: Option<PathBuf>,
    /// After the run, keep a copy of the results folder as results/baselines/NAME (replacing one of that name).
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Also count each measured target's instructions per request under valgrind's
    /// callgrind after its timed measurement, as `lanebench cost` does (adds about 20 s
    /// per Rust target, minutes for slower runtimes; memory mode only).
    #[arg(long)]
    pub cost: bool,
    /// Counted requests of each scenario request with --cost.
    #[arg(long, value_name = "N", requires = "cost", default_value_t = DEFAULT_REQUESTS, value_parser = clap::value_parser!(u64).range(1..))]
    pub cost_requests: u64,
    /// Uncounted warm-up requests of each scenario request with --cost.
    #[arg(long, value_name = "N", requires = "cost", default_value_t = DEFAULT_WARMUP)]
    pub cost_warmup: u64,
    /// Measure an attempt (a repeat, or a capacity probe) again, after a pause, while it
    /// has caveats (noise on any side's CPUs, a closed-loop level that saturated neither
    /// side, an unusable probe); at most N more attempts each.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retry_noisy: u32,
    /// Exit 1 when any measured level still has caveats after its retries (for CI).
    #[arg(long)]
    pub strict: bool,
    /// Target the report's ratios and charts are relative to; it must be one of the run's
    /// targets [default: the published comparison's reference, from targets/published-claims.toml].
    #[arg(long, value_name = "NAME")]
    pub reference: Option<String>,
    /// With a chain scenario (`[chain]`): connect the user service straight to its order
    /// service, without the harness's proxy between them (no per-hop figures).
    #[arg(long)]
    pub direct: bool,
    #[command(flatten)]
    pub store: super::store::StoreArgs,
}

/// Runs `lanebench run`.
pub fn run(args: RunArgs) -> i32 {
    if let Some(Err(e)) = args.save_baseline.as_deref().map(baseline::check_name) {
        eprintln!("lanebench run: --save-baseline: {e}");
        return EXIT_USAGE;
    }
    let mut settings = match settings_from(&args) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("lanebench run: {message}");
            return EXIT_USAGE;
        }
    };
    if let Some(name) = &args.reference {
        if !settings.targets.iter().any(|t| t.manifest.name == *name) {
            let names: Vec<&str> = settings
                .targets
                .iter()
                .map(|t| t.manifest.name.as_str())
                .collect();
            eprintln!(
                "lanebench run: --reference {name}: not one of this run's targets ({})",
                names.join(", ")
            );
            return EXIT_USAGE;
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    super::stop_on_signals(&stop, false);
    eprintln!(
        "lanebench run: scenario {} over {} targets; servers on CPUs {}, generator on CPUs {}; results in {}",
        settings.scenario.name,
        settings.targets.len(),
        settings.server_cpus,
        settings.generator_cpus,
        settings.out_dir.display()
    );
    // Made once per run that needs one; its folder (and so the key) goes when the run
    // ends.
    let needs_tls = settings.scenario.protocols.iter().any(|p| p.tls());
    let _tls_folder = match needs_tls.then(|| throwaway_certificate(&settings.out_dir)) {
        None => None,
        Some(Ok((folder, cert))) => {
            settings.tls = Some(cert);
            Some(folder)
        }
        Some(Err(e)) => {
            eprintln!("lanebench run: {e}");
            return EXIT_FAILED;
        }
    };
    let mut progress = Progress::new(std::io::stderr().is_terminal());
    let results = match run_all(&settings, &mut progress, &stop) {
        Ok(r) => r,
        Err(e) => {
            progress.clear();
            eprintln!("lanebench run: {e:#}");
            return EXIT_FAILED;
        }
    };
    progress.clear();
    print!("{}", render_table(&results));
    println!(
        "results: {}",
        settings.out_dir.join("results.json").display()
    );
    if results.interrupted {
        // Whoever pressed Ctrl-C wants out now; drawing charts can wait for `lanebench report`.
        eprintln!(
            "lanebench run: interrupted; results hold the {} finished targets (render them with `lanebench report {}`)",
            results.targets.len(),
            settings.out_dir.display()
        );
        return 130;
    }
    // The measurements are already saved; a report that cannot be drawn must not fail the run.
    match crate::report::write_for_folder(&settings.out_dir, args.reference.as_deref()) {
        Ok(_) => println!("report: {}", settings.out_dir.join("report.md").display()),
        Err(e) => eprintln!("lanebench run: warning: report not written: {e}"),
    }
    if let Some(name) = &args.save_baseline {
        let baselines = settings.repo_dir.join("results").join("baselines");
        match baseline::save(&settings.out_dir, &baselines, name) {
            Ok(dir) => println!("baseline {name}: {}", dir.display()),
            Err(e) => {
                eprintln!("lanebench run: --save-baseline: {e}");
                return EXIT_FAILED;
            }
        }
    }
    match exit_code(&results) {
        EXIT_OK if args.strict => strict_exit_code(&results),
        code => code,
    }
}

/// `--strict`: 1 when a measured target kept a level with caveats after its retries.
fn strict_exit_code(results: &RunResults) -> i32 {
    let flagged: Vec<String> = results
        .targets
        .iter()
        .filter_map(|t| Some(format!("{} ({})", t.label(), target_caveats(t)?)))
        .collect();
    if flagged.is_empty() {
        return EXIT_OK;
    }
    eprintln!(
        "lanebench run: --strict: levels with caveats remain: {}",
        flagged.join("; ")
    );
    EXIT_FAILED
}

/// 0 when every target was measured or skipped for a missing toolchain; 1 when any
/// target failed (it could not be built, started or measured, or had no level within
/// the scenario's max_error_rate), or, with --cost, its instruction count failed.
fn exit_code(results: &RunResults) -> i32 {
    let failed: Vec<String> = results
        .targets
        .iter()
        .filter_map(|t| {
            let count_failed = t
                .cost
                .as_ref()
                .is_some_and(|c| c.status == CostStatus::Failed);
            if t.status == TargetStatus::Failed {
                Some(t.label())
            } else {
                count_failed.then(|| format!("{} (instruction count)", t.label()))
            }
        })
        .collect();
    if failed.is_empty() {
        return EXIT_OK;
    }
    eprintln!("lanebench run: failed: {}", failed.join(", "));
    EXIT_FAILED
}

/// Validates the flags; errors name the flag or file.
pub fn settings_from(args: &RunArgs) -> Result<RunSettings, String> {
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::load(path).map_err(|e| e.to_string())?,
        None => Scenario::default_embedded(),
    };
    if args.quick {
        scenario = scenario.quick();
    }
    if let Some(repeats) = args.repeats {
        scenario.repeats = repeats;
    }
    if let Some(samples) = args.startup_samples {
        scenario.startup_samples = samples;
    }
    if args.interleave {
        scenario.interleave = true;
    }
    let all =
        super::targets::load_targets(args.targets_dir.as_deref()).map_err(|e| e.to_string())?;
    let chain = chain_settings(args, &scenario, &all)?;
    let targets = super::targets::select(all, &args.targets)?;
    let allowed = CpuList::allowed();
    let (default_server, default_generator) =
        allowed.split_by_topology(Path::new("/sys/devices/system/cpu"));
    let mut server_cpus = args.server_cpus.clone().unwrap_or(default_server);
    let generator_cpus = args.generator_cpus.clone().unwrap_or(default_generator);
    for (flag, list) in [
        ("--server-cpus", &server_cpus),
        ("--generator-cpus", &generator_cpus),
    ] {
        if list.is_empty() {
            return Err(format!("{flag}: the CPU list is empty"));
        }
        list.check_allowed().map_err(|e| format!("{flag} {e}"))?;
    }
    let repo_dir = targets
        .first()
        .and_then(|t| t.dir.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let run_id = new_run_id(&scenario.name);
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| repo_dir.join("results").join(&run_id));
    crate::output_path::check_output_dir(&out_dir).map_err(|e| match &args.out {
        Some(_) => format!("--out {e}"),
        None => e.to_string(),
    })?;
    let store = database_settings(args, &allowed, &mut server_cpus, &generator_cpus, &targets)?;
    let cost = cost_settings(args, &scenario, store.is_some())?;
    if cost.is_some() && chain.is_some() {
        return Err("--cost: not with a chain scenario ([chain]): count the services one by one with `lanebench cost`".to_string());
    }
    Ok(RunSettings {
        store,
        cost,
        scenario,
        targets,
        out_dir,
        run_id,
        server_cpus,
        generator_cpus,
        repo_dir,
        chain,
        retry_noisy: args.retry_noisy,
        tls: None,
        protocol: crate::load::protocol::ProtocolName::H1,
    })
}

/// A chain scenario's set-up: its fixed order service (which must be a target here) and
/// whether the proxy sits between the services.
fn chain_settings(
    args: &RunArgs,
    scenario: &Scenario,
    all: &[Target],
) -> Result<Option<crate::run::chain::RunChain>, String> {
    let Some(spec) = &scenario.chain else {
        if args.direct {
            return Err("--direct: the scenario has no [chain] section".to_string());
        }
        return Ok(None);
    };
    let fixed_order =
        match &spec.order_service {
            None => None,
            Some(name) => Some(all.iter().find(|t| t.name() == name).cloned().ok_or_else(
                || {
                    let names: Vec<&str> = all.iter().map(|t| t.name()).collect();
                    format!(
                        "[chain] order_service `{name}` is not a target ({})",
                        names.join(", ")
                    )
                },
            )?),
        };
    let proxy_bin = std::env::current_exe()
        .map_err(|e| format!("cannot find the lanebench binary to run the proxy: {e}"))?;
    Ok(Some(crate::run::chain::RunChain {
        fixed_order,
        proxy: spec.proxy && !args.direct,
        proxy_bin,
    }))
}

/// Database mode: where the database runs (never on the generator's CPUs; on 4+ CPUs
/// the server's half is split between the service and its database, see
/// `cpus::database_placement`) and which schema it gets.
fn database_settings(
    args: &RunArgs,
    allowed: &CpuList,
    server_cpus: &mut CpuList,
    generator_cpus: &CpuList,
    targets: &[Target],
) -> Result<Option<crate::run::RunStore>, String> {
    if !args.store.is_postgres() {
        return args.store.source(Path::new("."), None).map(|_| None);
    }
    let targets_dir = targets
        .first()
        .and_then(|target| target.dir.parent())
        .map_or_else(|| PathBuf::from("targets"), Path::to_path_buf);
    let placement = crate::load::cpus::database_placement(allowed, server_cpus, generator_cpus);
    if args.server_cpus.is_none() && args.store.db_cpus.is_none() {
        *server_cpus = placement.server.clone();
    }
    let data_parent = super::verify_context::workspace_target_dir(&targets_dir);
    let Some(source) = args.store.source(&data_parent, Some(placement.database))? else {
        return Ok(None);
    };
    let schema = targets_dir.join("schema.sql");
    if !schema.is_file() {
        return Err(format!(
            "--store postgres: {} is missing (it creates and seeds every target's database)",
            schema.display()
        ));
    }
    Ok(Some(crate::run::RunStore { source, schema }))
}

/// `--cost`: the counts' settings (the run's scenario, one worker), after checking that
/// valgrind is there, so a missing one is a one-line error before anything starts.
fn cost_settings(
    args: &RunArgs,
    scenario: &Scenario,
    database: bool,
) -> Result<Option<RunCost>, String> {
    if !args.cost {
        return Ok(None);
    }
    if database {
        return Err(
            "--cost: instructions are counted in memory mode only; leave out --store postgres"
                .to_string(),
        );
    }
    let valgrind = valgrind_version().map_err(|e| format!("--cost: {e}"))?;
    let settings = CostSettings {
        scenario: scenario.clone(),
        requests: args.cost_requests,
        warmup: args.cost_warmup,
        workers: 1,
        scratch_dir: std::env::temp_dir(),
    };
    let counting = Counting::new(&settings, valgrind);
    Ok(Some(RunCost { settings, counting }))
}

/// The stderr progress display: one rewritten line on a terminal, one line per phase otherwise.
struct Progress {
    terminal: bool,
    position: String,
    started: Instant,
    last_warming: Option<u64>,
}

impl Progress {
    fn new(terminal: bool) -> Progress {
        Progress {
            terminal,
            position: String::new(),
            started: Instant::now(),
            last_warming: None,
        }
    }

    fn clear(&mut self) {
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
    }

    fn line(&mut self, text: &str) {
        let elapsed = self.started.elapsed().as_secs();
        let text = format!(
            "[{:02}:{:02}] {} {text}",
            elapsed / 60,
            elapsed % 60,
            self.position
        );
        if self.terminal {
            eprint!("\r\x1b[2K{text}");
        } else {
            eprintln!("{text}");
        }
    }
}

impl RunObserver for Progress {
    fn target_started(&mut self, index: usize, total: usize, name: &str) {
        self.position = format!("[{}/{}] {name}", index + 1, total);
    }

    fn phase(&mut self, _name: &str, phase: &str) {
        self.line(phase);
    }

    fn live(&mut self, _name: &str, phase: &str, status: &LiveStatus) {
        if !self.terminal {
            return;
        }
        if status.warming_up {
            return self.line(&format!("{phase}  warming up"));
        }
        let secs = status.measured.as_secs_f64().max(1e-3);
        self.line(&format!(
            "{phase}  {:.1}s  {} req/s  {} errors",
            secs,
            grouped((status.totals.requests as f64 / secs) as u64),
            grouped(status.totals.errors)
        ));
    }

    fn warming(&mut self, _name: &str, phase: &str, note: &str) {
        // On a terminal the line is rewritten; in a log, a line every ten seconds says
        // why a level is still warming without flooding it.
        let seconds = self.started.elapsed().as_secs();
        if self.terminal || (seconds.is_multiple_of(10) && self.last_warming != Some(seconds)) {
            self.last_warming = Some(seconds);
            self.line(&format!("{phase}  {note}"));
        }
    }

    fn retrying(&mut self, _name: &str, phase: &str, how: &str, why: &str) {
        // Always a line of its own, in a log too: a retried attempt is a finding.
        self.clear();
        eprintln!("{} {phase}: measuring again {how}: {why}", self.position);
    }

    fn probed(&mut self, _name: &str, phase: &str, outcome: &str) {
        // A line of its own, in a log too: the search's steps are its record.
        self.clear();
        eprintln!("{} {phase}: {outcome}", self.position);
    }

    fn target_finished(&mut self, result: &TargetResult) {
        self.clear();
        let status = match result.status {
            TargetStatus::Ok if result.capacity.is_some() => super::run_capacity::status(result),
            TargetStatus::Ok if result.qps.is_none() && result.resilience.is_some() => {
                let episodes = result.resilience.as_ref().map_or(0, |r| r.episodes.len());
                format!("ok, {episodes} resilience episodes")
            }
            TargetStatus::Ok => {
                let qps = grouped(result.qps.unwrap_or(0.0) as u64);
                match target_caveats(result) {
                    None => format!("ok, {qps} req/s"),
                    Some(caveats) => format!("ok, but {caveats}; {qps} req/s"),
                }
            }
            TargetStatus::Skipped => format!("skipped: {}", result.reason.as_deref().unwrap_or("")),
            TargetStatus::Failed => format!(
                "FAILED: {}",
                result
                    .reason
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
        };
        eprintln!("{} {status}", self.position);
    }
}

/// The closing table: one line per target.
fn render_table(results: &RunResults) -> String {
    // A label with its protocol ("express (h1-tls)") may not fit the usual width.
    let width = (results.targets.iter())
        .map(|t| t.label().chars().count())
        .fold(14, usize::max);
    // A capacity run has no ladder, so no qps: its column shows the capacity instead.
    let capacity_run = super::run_capacity::is_capacity_run(results);
    let rate = if capacity_run { "capacity" } else { "qps" };
    let mut out = format!(
        "\n{:<width$} {:>8} {:>12} {:>11} {:>11} {:>12}\n",
        "target", "status", rate, "startup ms", "cold ms", "memory MiB"
    );
    for t in &results.targets {
        let status = match t.status {
            TargetStatus::Ok if target_caveats(t).is_some() => "flagged",
            TargetStatus::Ok => "ok",
            TargetStatus::Skipped => "skipped",
            TargetStatus::Failed => "failed",
        };
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
        out.push_str(&format!(
            "{:<width$} {:>8} {:>12} {:>11} {:>11} {:>12}\n",
            t.label(),
            status,
            match (t.qps, &t.qps_caveat) {
                _ if capacity_run => super::run_capacity::cell(t),
                (Some(q), None) => grouped(q as u64),
                // No level measured the server cleanly: not a plain figure.
                (Some(q), Some(_)) => format!("({})", grouped(q as u64)),
                (None, _) => "-".to_string(),
            },
            f(t.startup_ms.map(|s| s.median)),
            f(t.cold_start_ms.map(|s| s.median)),
            t.memory_mb
                .as_ref()
                .map_or("-".to_string(), |m| format!("{:.1}/{:.1}", m.idle, m.peak)),
        ));
    }
    if results
        .targets
        .iter()
        .any(|t| t.status == TargetStatus::Failed)
    {
        out.push_str("failed targets: see `reason` and `stderr_tail` in results.json\n");
    }
    for t in &results.targets {
        if let Some(caveats) = target_caveats(t) {
            let headline = if t.qps_caveat.is_some() {
                " (qps in parentheses: no level measured the server cleanly)"
            } else {
                ""
            };
            out.push_str(&format!("flagged {}: {caveats}{headline}\n", t.label()));
        }
    }
    if let Some(counting) = &results.cost {
        out.push_str(&format!(
            "\ninstructions per request (mix; {} counted requests of each, {}):\n",
            counting.requests, counting.valgrind_version
        ));
        for (name, cost) in results
            .targets
            .iter()
            .filter_map(|t| t.cost.as_ref().map(|c| (&t.name, c)))
        {
            out.push_str(&format!("{name:<14} {}\n", super::cost::status_line(cost)));
        }
    }
    out
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
