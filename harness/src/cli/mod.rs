//! Command-line layer: raw arguments (clap) -> validated settings -> library calls.
//!
//! This is the only module that prints or chooses exit codes. Exit codes are shared by
//! every subcommand: 0 success, 1 finished but judged a failure (error rate, failed
//! check, regression), 2 bad usage or input.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::{Parser, Subcommand};

pub mod compare;
pub mod cost;
pub mod export;
pub mod load;
mod load_args;
mod load_protocol;
mod load_summary;
mod load_workers;
pub mod merge;
pub mod proxy;
pub mod report;
pub mod run;
mod run_capacity;
pub mod store;
pub mod targets;
pub mod verify;
mod verify_chain;
mod verify_context;
mod verify_protocol;

/// Exit code: the command finished and everything passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: the command finished but its verdict is a failure.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad usage or bad input (a flag, a URL, a file).
pub const EXIT_USAGE: i32 = 2;

/// lanebench: load generator and web-framework benchmark harness.
#[derive(Debug, Parser)]
#[command(name = "lanebench", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; each lives in its own file below `cli/`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare two runs (or a named baseline and a run): per-figure verdicts, exit 1 on a regression.
    Compare(compare::CompareArgs),
    /// Count instructions per request of targets under valgrind's callgrind (deterministic cost).
    Cost(cost::CostArgs),
    /// Write a results file as Bencher Metric Format, github-action-benchmark JSON or CSV.
    Export(export::ExportArgs),
    /// Drive HTTP/1.1 load at a URL and measure throughput, latency and errors.
    Load(Box<load::LoadArgs>),
    /// Merge the JSON results of the workers of a split run (load --segment I/N) exactly.
    Merge(merge::MergeArgs),
    /// Relay a user service's calls to its order service, timing and counting them (what `run` puts between services).
    Proxy(proxy::ProxyArgs),
    /// Render report.md, report.html and charts from a results folder, or one format to stdout.
    Report(report::ReportArgs),
    /// Build, launch and measure every target on a scenario; write results.json and summary.csv.
    Run(run::RunArgs),
    /// List the targets with framework, language, version and tool availability.
    Targets(targets::TargetsArgs),
    /// Check a target or a running server against the endpoint contract.
    Verify(verify::VerifyArgs),
}

/// Parses the process arguments, runs the command and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match cli.command {
        Command::Compare(args) => compare::run(args),
        Command::Cost(args) => cost::run(args),
        Command::Export(args) => export::run(args),
        Command::Load(args) => load::run(*args),
        Command::Merge(args) => merge::run(args),
        Command::Proxy(args) => proxy::run(args),
        Command::Report(args) => report::run(args),
        Command::Run(args) => run::run(args),
        Command::Targets(args) => targets::run(args),
        Command::Verify(args) => verify::run(args),
    }
}

/// Prints help and version as clap does; a usage error as one line (clap's message and
/// tip, without the usage block), exit 2.
fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    eprintln!("{}", one_line(&e.render().to_string()));
    EXIT_USAGE
}

/// clap's multi-line error text as one line: blank lines, the usage block and the
/// pointer to --help dropped, the rest joined.
fn one_line(rendered: &str) -> String {
    let mut out = String::new();
    for line in rendered.lines().map(str::trim) {
        if line.starts_with("Usage:") {
            break;
        }
        if line.is_empty() || line.starts_with("For more information") {
            continue;
        }
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out
}

/// Sets `stop` on SIGINT or SIGTERM so the current work can wind down and keep what it
/// measured. With `second_exits`, a second signal ends the process at once — only for
/// commands that have no child processes to stop first.
pub fn stop_on_signals(stop: &Arc<AtomicBool>, second_exits: bool) {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if second_exits {
            let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(stop));
        }
        let _ = signal_hook::flag::register(signal, Arc::clone(stop));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_are_one_line_with_the_flag() {
        let e = Cli::try_parse_from(["lanebench", "load", "--rate", "1e-300", "http://x/"])
            .unwrap_err();
        let line = one_line(&e.render().to_string());
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("error: invalid value '1e-300' for '--rate"),
            "{line}"
        );
        let e = Cli::try_parse_from(["lanebench", "load"]).unwrap_err();
        let line = one_line(&e.render().to_string());
        assert!(line.contains("not provided: <URL>"), "{line}");
    }
}
