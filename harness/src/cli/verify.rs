//! `lanebench verify`: check a target (built and started here) or a running server
//! against the endpoint contract, and print one line per rule.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::load::request::Endpoint;
use crate::target::{
    build_target, describe_status, free_loopback_port, DiscoveryError, LaunchOptions, Target,
    TargetProcess,
};
use crate::verify::{verify_server, RuleOutcome, VerifyOptions, VerifyReport};

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// How long a target gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Arguments of `lanebench verify`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["target", "url", "all"])))]
pub struct VerifyArgs {
    /// Build, start and check this target (a folder name under targets/).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Check an already running server, e.g. http://127.0.0.1:8080 (loopback only).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Check every target whose required tools are installed.
    #[arg(long)]
    pub all: bool,
    /// Folder holding `<name>/target.toml` (default: found by walking up from the
    /// current directory).
    #[arg(long, value_name = "DIR")]
    pub targets_dir: Option<PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// WORKERS given to started targets (default: the CPUs available).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
}

/// What was checked, after validation.
enum Subject {
    Url(SocketAddr),
    Targets(Vec<Target>),
}

/// The result for one target (or URL) in the JSON output.
#[derive(Debug, Serialize)]
struct SubjectResult {
    target: Option<String>,
    /// `checked`, `skipped` or `error`.
    status: &'static str,
    passed: bool,
    reason: Option<String>,
    report: Option<VerifyReport>,
}

/// Runs `lanebench verify` and returns the exit code.
pub fn run(args: VerifyArgs) -> i32 {
    let subject = match validate(&args) {
        Ok(subject) => subject,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    let results = match subject {
        Subject::Url(addr) => {
            let report = verify_server(addr, &VerifyOptions::default());
            print_report(&report.base_url, &report);
            vec![checked(None, report)]
        }
        Subject::Targets(targets) => {
            let workers = args.workers.map_or_else(available_cpus, usize::from);
            let results: Vec<SubjectResult> = targets
                .iter()
                .map(|target| verify_target(target, workers))
                .collect();
            if results.len() > 1 {
                print_summary(&results);
            }
            results
        }
    };
    if let Some(path) = &args.json {
        if let Err(err) = write_json(path, &results) {
            eprintln!("error: --json {}: {err}", path.display());
            return EXIT_FAILED;
        }
    }
    // With --all a target without its tools is expected; asked for by name, it is a failure.
    let all_passed = results
        .iter()
        .all(|r| r.passed || (args.all && r.status == "skipped"));
    if all_passed {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Turns raw arguments into a subject, or a one-line usage error.
fn validate(args: &VerifyArgs) -> Result<Subject, String> {
    if let Some(url) = &args.url {
        return parse_loopback_url(url).map(Subject::Url);
    }
    let targets = super::targets::load_targets(args.targets_dir.as_deref())
        .map_err(|err: DiscoveryError| err.to_string())?;
    if args.all {
        return Ok(Subject::Targets(targets));
    }
    let name = args.target.as_deref().unwrap_or_default();
    match targets.iter().find(|target| target.name() == name) {
        Some(target) => Ok(Subject::Targets(vec![target.clone()])),
        None => {
            let known: Vec<&str> = targets.iter().map(Target::name).collect();
            Err(format!(
                "--target {name:?}: unknown target; known targets: {}",
                known.join(", ")
            ))
        }
    }
}

/// Accepts `http://HOST[:PORT][/]` where HOST is a loopback address or `localhost`.
fn parse_loopback_url(url: &str) -> Result<SocketAddr, String> {
    let endpoint = Endpoint::parse(url, false).map_err(|e| format!("--url {e}"))?;
    if endpoint.path != "/" {
        return Err(format!(
            "--url {url:?}: give the server's base URL without a path"
        ));
    }
    Ok(endpoint.addr)
}

/// Builds, starts, checks and stops one target.
fn verify_target(target: &Target, workers: usize) -> SubjectResult {
    let name = target.name().to_string();
    if let Some(tool) = target.missing_tool() {
        eprintln!("{name}: skipped: {tool} not found");
        return SubjectResult {
            target: Some(name),
            status: "skipped",
            passed: false,
            reason: Some(format!("{tool} not found")),
            report: None,
        };
    }
    match start_and_check(target, workers) {
        Ok(report) => checked(Some(name), report),
        Err(err) => {
            eprintln!("{name}: FAILED: {err:#}");
            SubjectResult {
                target: Some(name),
                status: "error",
                passed: false,
                reason: Some(format!("{err:#}")),
                report: None,
            }
        }
    }
}

fn start_and_check(target: &Target, workers: usize) -> anyhow::Result<VerifyReport> {
    let name = target.name();
    let log_path = build_log_path(target);
    eprintln!("{name}: building (log: {})", log_path.display());
    let built = build_target(target, &log_path)?;
    eprintln!("{name}: built in {:.1} s", built.elapsed.as_secs_f64());
    let port = free_loopback_port()?;
    let options = LaunchOptions {
        port,
        workers,
        cpus: None,
    };
    let mut process = TargetProcess::launch(target, &options)?;
    let ready_in = process.wait_ready(&target.manifest.health, target.manifest.ready_timeout)?;
    eprintln!(
        "{name}: ready in {} ms on port {port}",
        ready_in.as_millis()
    );
    let mut report = verify_server(process.addr(), &VerifyOptions::default());
    let stopped = process.stop(STOP_GRACE)?;
    report.rules.push(RuleOutcome {
        rule: "process.exits_on_sigterm".to_string(),
        passed: !stopped.killed,
        observed: if stopped.killed {
            format!(
                "still running {} s after SIGTERM; killed",
                STOP_GRACE.as_secs()
            )
        } else {
            describe_status(stopped.status)
        },
    });
    print_report(&format!("{name} ({})", report.base_url), &report);
    Ok(report)
}

/// Build logs live next to the workspace's build outputs, out of version control.
fn build_log_path(target: &Target) -> PathBuf {
    let workspace = target
        .dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    workspace
        .join("target")
        .join("lanebench-logs")
        .join(format!("{}-build.log", target.name()))
}

fn checked(target: Option<String>, report: VerifyReport) -> SubjectResult {
    SubjectResult {
        target,
        status: "checked",
        passed: report.all_passed(),
        reason: None,
        report: Some(report),
    }
}

fn print_report(title: &str, report: &VerifyReport) {
    println!("== {title}");
    let width = report.rules.iter().map(|r| r.rule.len()).max().unwrap_or(0);
    for rule in &report.rules {
        let verdict = if rule.passed { "PASS" } else { "FAIL" };
        println!("{verdict}  {:<width$}  {}", rule.rule, rule.observed);
    }
    let passed = report.rules.iter().filter(|r| r.passed).count();
    println!("{passed}/{} rules passed", report.rules.len());
}

fn print_summary(results: &[SubjectResult]) {
    println!("== summary");
    for result in results {
        let name = result.target.as_deref().unwrap_or("?");
        let line = match (&result.report, &result.reason) {
            (Some(report), _) => {
                let passed = report.rules.iter().filter(|r| r.passed).count();
                let verdict = if result.passed { "PASS" } else { "FAIL" };
                format!("{verdict} ({passed}/{} rules)", report.rules.len())
            }
            (None, Some(reason)) if result.status == "skipped" => format!("skipped: {reason}"),
            (None, reason) => format!("FAILED: {}", reason.as_deref().unwrap_or("unknown")),
        };
        println!("{name}: {}", line.lines().next().unwrap_or_default());
    }
}

fn write_json(path: &Path, results: &[SubjectResult]) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(&serde_json::json!({ "results": results }))?;
    std::fs::write(path, text + "\n")?;
    Ok(())
}

fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::parse_loopback_url;

    #[test]
    fn accepts_loopback_urls() {
        assert_eq!(
            parse_loopback_url("http://127.0.0.1:8080").unwrap().port(),
            8080
        );
        assert_eq!(parse_loopback_url("http://localhost:9/").unwrap().port(), 9);
        assert!(parse_loopback_url("http://[::1]:8080")
            .unwrap()
            .ip()
            .is_loopback());
    }

    #[test]
    fn refuses_other_hosts_and_shapes() {
        for bad in [
            "http://10.0.0.1:80",
            "http://example.com:80",
            "https://127.0.0.1:443",
            "127.0.0.1:80",
            "http://127.0.0.1:80/health",
            "http://127.0.0.1:notaport",
        ] {
            assert!(parse_loopback_url(bad).is_err(), "{bad} should be refused");
        }
    }
}
