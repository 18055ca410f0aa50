//! `lanebench verify`: check a target (built and started here) or a running server
//! against the endpoint contract, and print one line per rule.
//!
//! With `--store postgres` one PostgreSQL serves every target: each gets a database of
//! its own (a copy of targets/schema.sql), is started with `STORE=postgres` and
//! `DATABASE_URL`, is checked with the database rules as well, and its database is
//! dropped. SIGINT and SIGTERM stop the current target and the server, remove the
//! server's folder and exit 130.
//!
//! With `--chain` each target is checked as a user service instead (`verify_chain`).
//!
//! `--protocol` picks what the target is started on and the rules speak (h1 unless
//! said); a protocol its manifest does not serve is reported `unsupported` with the
//! manifest's reason (or as not declared) and does not fail the check. A TLS protocol
//! gets a throwaway certificate made once for the whole invocation.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use super::store::{describe as describe_store, StoreArgs, TargetDatabase};
use crate::load::protocol::ProtocolName;
use crate::load::request::Endpoint;
use crate::store::{PgStore, StoreError, StoreSource};
use crate::system::{run_once, LifecycleError, Processes, Step};
use crate::targets::manifest::Support;
use crate::targets::{describe_status, DiscoveryError, ReadyError, Target};
use crate::verify::{verify_server_with, RuleOutcome, VerifyOptions, VerifyReport};

use super::verify_context::{build_log_path, workspace_target_dir, Context, Progress, STOP_GRACE};
pub use super::verify_protocol::ProtocolChoice;
use super::verify_protocol::{check_protocol_use, label, report_title, throwaway_certificate};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// WORKERS in database mode unless `--workers` says otherwise: enough processes for a
/// multi-process target to split its requests, whatever this machine has.
const DATABASE_MODE_WORKERS: usize = 2;
/// Exit code after SIGINT or SIGTERM.
const EXIT_INTERRUPTED: i32 = 130;

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
    /// WORKERS given to started targets (default: the CPUs available; 2 with --store postgres).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
    /// Check the service-to-service rules instead (CONTRACT.md, "Service-to-service mode"): the target as a user service, end to end against its order service, against a fake order service that fails on demand (circuit breaker off: BREAKER_FAILURES=0), its circuit breaker (one process, BREAKER_FAILURES=3, BREAKER_OPEN_MS=1000, then BREAKER_FAILURES=0), and with bad settings. Only with --target or --all (not --url): lanebench starts every service itself.
    #[arg(long)]
    pub chain: bool,
    /// With --chain: the order service the user service calls end to end [default: the target itself].
    #[arg(long, value_name = "NAME", requires = "chain")]
    pub orders_target: Option<String>,
    /// The protocol to start the target on and check (CONTRACT.md, "Protocols"): h1, h1-tls, h2c or h2, or `all` for each of them in turn. A protocol the manifest does not serve is reported unsupported with its reason, not checked. With --url: h1 or h2c only (TLS needs the certificate lanebench gives the targets it starts); with --chain: h1 only.
    #[arg(long, value_name = "P", default_value = "h1", value_parser = super::verify_protocol::parse)]
    pub protocol: ProtocolChoice,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What was checked, after validation.
enum Subject {
    Url(SocketAddr),
    Targets {
        targets: Vec<Target>,
        /// The database server to start or reach (database mode with targets).
        store: Option<Box<StoreSource>>,
        /// `targets/schema.sql` of the targets folder.
        schema: PathBuf,
        /// With `--chain --orders-target`: the order service of every chain.
        orders: Option<Box<Target>>,
    },
}

/// The result for one target (or URL) on one protocol in the JSON output.
#[derive(Debug, Serialize)]
struct SubjectResult {
    target: Option<String>,
    protocol: ProtocolName,
    /// `checked`, `skipped`, `error`, `unsupported` (the manifest says why) or
    /// `undeclared` (the manifest does not mention the protocol).
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
    let stop = Arc::new(AtomicBool::new(false));
    super::stop_on_signals(&stop, false);
    let mut options = VerifyOptions {
        database_mode: args.store.is_postgres(),
        stop: Some(Arc::clone(&stop)),
        ..VerifyOptions::default()
    };
    let (results, store_record) = match subject {
        Subject::Url(addr) => {
            if let ProtocolChoice::One(protocol) = args.protocol {
                options.protocol = protocol;
            }
            let report = verify_server_with(addr, &options, None);
            print_report(&report_title(None, &report), &report);
            (vec![checked(None, report)], None)
        }
        Subject::Targets {
            targets,
            store,
            schema,
            orders,
        } => {
            let default_workers = if args.store.is_postgres() {
                DATABASE_MODE_WORKERS
            } else {
                available_cpus()
            };
            // Made once for every target checked; removed with the folder at the end.
            let certificate = match throwaway_certificate(args.protocol, &targets) {
                Ok(certificate) => certificate,
                Err(message) => {
                    eprintln!("error: {message}");
                    return EXIT_FAILED;
                }
            };
            options.tls = certificate.as_ref().map(|(_, cert)| cert.clone());
            let mut context = Context {
                workers: args.workers.map_or(default_workers, usize::from),
                options,
                store: None,
                stop: Arc::clone(&stop),
                chain: args.chain,
                protocols: args.protocol.protocols(),
            };
            if let Some(source) =
                store.filter(|_| targets.iter().any(|t| t.missing_tool().is_none()))
            {
                match start_store(*source, &schema, &stop) {
                    Ok(started) => context.store = Some(started),
                    Err(StoreError::Interrupted) => return EXIT_INTERRUPTED,
                    Err(error) => {
                        eprintln!("error: --store postgres: {error}");
                        return EXIT_USAGE;
                    }
                }
            }
            let results = verify_targets(&targets, orders.as_deref(), &mut context);
            let record = context.store.as_ref().map(PgStore::record);
            close_store(context.store.take());
            if stop.load(Ordering::SeqCst) {
                eprintln!("lanebench verify: interrupted; every process stopped");
                return EXIT_INTERRUPTED;
            }
            (results, record)
        }
    };
    if let Some(path) = &args.json {
        if let Err(err) = write_json(path, &results, store_record.as_ref()) {
            eprintln!("error: --json {}: {err}", path.display());
            return EXIT_FAILED;
        }
    }
    // With --all a target without its tools is expected; asked for by name, it is a
    // failure. A protocol the target does not serve is reported, not failed.
    let all_passed = results.iter().all(|r| {
        r.passed
            || (args.all && r.status == "skipped")
            || matches!(r.status, "unsupported" | "undeclared")
    });
    if all_passed {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Turns raw arguments into a subject, or a one-line usage error.
fn validate(args: &VerifyArgs) -> Result<Subject, String> {
    if let Some(path) = &args.json {
        crate::output_path::check_output_file(path).map_err(|e| format!("--json {e}"))?;
    }
    check_protocol_use(args.protocol, args.url.is_some(), args.chain)?;
    if let Some(url) = &args.url {
        if args.chain {
            return Err("--chain: needs --target or --all, not --url (lanebench starts the user service, its order service and a fake order service itself)".to_string());
        }
        if args.store.database_url.is_some() {
            return Err(
                "--database-url: only for targets started here, not with --url".to_string(),
            );
        }
        return parse_loopback_url(url).map(Subject::Url);
    }
    let targets = super::targets::load_targets(args.targets_dir.as_deref())
        .map_err(|err: DiscoveryError| err.to_string())?;
    let targets_dir = targets
        .first()
        .and_then(|target| target.dir.parent())
        .map_or_else(|| PathBuf::from("targets"), Path::to_path_buf);
    let store = args
        .store
        .source(&workspace_target_dir(&targets_dir), None)?;
    let schema = targets_dir.join("schema.sql");
    if store.is_some() && !schema.is_file() {
        return Err(format!(
            "--store postgres: {} is missing (it creates and seeds every target's database)",
            schema.display()
        ));
    }
    let orders = match &args.orders_target {
        Some(name) => Some(Box::new(find_target(&targets, name, "--orders-target")?)),
        None => None,
    };
    let chosen = if args.all {
        targets
    } else {
        let name = args.target.as_deref().unwrap_or_default();
        vec![find_target(&targets, name, "--target")?]
    };
    Ok(Subject::Targets {
        targets: chosen,
        store: store.map(Box::new),
        schema,
        orders,
    })
}

fn find_target(targets: &[Target], name: &str, flag: &str) -> Result<Target, String> {
    match targets.iter().find(|target| target.name() == name) {
        Some(target) => Ok(target.clone()),
        None => {
            let known: Vec<&str> = targets.iter().map(Target::name).collect();
            Err(format!(
                "{flag} {name:?}: unknown target; known targets: {}",
                known.join(", ")
            ))
        }
    }
}

/// Accepts `http://HOST[:PORT][/]` where HOST is a loopback address or `localhost`.
fn parse_loopback_url(url: &str) -> Result<SocketAddr, String> {
    let endpoint = Endpoint::parse(url, false).map_err(|e| format!("--url {e}"))?;
    if endpoint.tls {
        return Err(format!(
            "--url {url:?}: https:// is checked only on a target the harness starts (it hands the target its certificate): use --target NAME --protocol h1-tls or h2"
        ));
    }
    if endpoint.path != "/" {
        return Err(format!(
            "--url {url:?}: give the server's base URL without a path"
        ));
    }
    Ok(endpoint.addr)
}

fn start_store(
    source: StoreSource,
    schema: &Path,
    stop: &Arc<AtomicBool>,
) -> Result<PgStore, StoreError> {
    eprintln!("postgres: starting");
    let store = PgStore::start(source, schema, Some(Arc::clone(stop)))?;
    eprintln!("postgres: {}", describe_store(&store.record(), &store));
    Ok(store)
}

fn close_store(store: Option<PgStore>) {
    if let Some(store) = store {
        if let Err(error) = store.close() {
            eprintln!("postgres: warning: cleaning up: {error}");
        }
    }
}

fn verify_targets(
    targets: &[Target],
    orders: Option<&Target>,
    context: &mut Context,
) -> Vec<SubjectResult> {
    let mut results = Vec::new();
    for target in targets {
        for protocol in context.protocols.clone() {
            if context.stop.load(Ordering::SeqCst) {
                break;
            }
            context.options.protocol = protocol;
            let result = match target.manifest.protocol_support(protocol) {
                Support::Served => verify_target(target, orders, context),
                other => not_served(target, protocol, other),
            };
            results.push(result);
        }
    }
    if results.len() > 1 {
        print_summary(&results);
    }
    results
}

/// A protocol the manifest does not serve: reported with its reason, never checked.
fn not_served(target: &Target, protocol: ProtocolName, support: Support) -> SubjectResult {
    let reason = support.reason().unwrap_or_default().to_string();
    eprintln!("{} {protocol}: unsupported: {reason}", target.name());
    SubjectResult {
        target: Some(target.name().to_string()),
        protocol,
        status: match support {
            Support::Undeclared => "undeclared",
            _ => "unsupported",
        },
        passed: false,
        reason: Some(reason),
        report: None,
    }
}

/// Builds, starts, checks and stops one target on `context.options.protocol` (with
/// `--chain`: its chain, the order service `orders` or the target itself).
fn verify_target(target: &Target, orders: Option<&Target>, context: &mut Context) -> SubjectResult {
    let name = target.name().to_string();
    let protocol = context.options.protocol;
    let labelled = label(&name, protocol);
    let orders = orders.filter(|_| context.chain);
    let missing = target
        .missing_tool()
        .or_else(|| orders.and_then(Target::missing_tool));
    if let Some(tool) = missing {
        eprintln!("{labelled}: skipped: {tool} not found");
        return SubjectResult {
            target: Some(name),
            protocol,
            status: "skipped",
            passed: false,
            reason: Some(format!("{tool} not found")),
            report: None,
        };
    }
    let outcome = match context.chain {
        true => super::verify_chain::check_chain(target, orders.unwrap_or(target), context)
            .inspect(|report| {
                let orders = orders.unwrap_or(target).name();
                print_report(&format!("{name} chain (order service {orders})"), report);
            }),
        false => start_and_check(target, context),
    };
    // A database that died under the check explains every failed rule at once.
    let died = context
        .store
        .as_mut()
        .and_then(|store| store.check_running().err());
    match (outcome, died) {
        (Ok(report), None) => checked(Some(name), report),
        (Ok(report), Some(died)) => {
            eprintln!("{labelled}: FAILED: {died}");
            SubjectResult {
                target: Some(name),
                protocol,
                status: "error",
                passed: false,
                reason: Some(died.to_string()),
                report: Some(report),
            }
        }
        (Err(err), _) => {
            eprintln!("{labelled}: FAILED: {err:#}");
            SubjectResult {
                target: Some(name),
                protocol,
                status: "error",
                passed: false,
                reason: Some(format!("{err:#}")),
                report: None,
            }
        }
    }
}

fn start_and_check(target: &Target, context: &mut Context) -> anyhow::Result<VerifyReport> {
    let name = target.name();
    let log_path = build_log_path(target);
    let logs = log_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut processes = Processes::new(logs, context.workers, STOP_GRACE);
    processes.interrupt = Some(&context.stop);
    processes.store = context.store.as_mut();
    processes.protocol = context.options.protocol;
    processes.tls = context.options.tls.clone();
    let mut progress = Progress::new(log_path, context.workers);
    let options = &context.options;
    let ran = run_once(
        &mut processes,
        &mut progress,
        target,
        Some(&context.stop),
        |processes, process, database| {
            let probe = processes
                .store()
                .zip(database.cloned())
                .map(|(store, url)| TargetDatabase { store, url });
            let probe_ref = probe
                .as_ref()
                .map(|p| p as &dyn crate::verify::OrderDatabase);
            Ok(verify_server_with(process.addr(), options, probe_ref))
        },
    );
    let ran = match ran {
        Ok(ran) => ran,
        Err(error) if error.step() == Step::Ready && !interrupted(&error) => {
            return Err(database_explains(context, error.into()))
        }
        Err(error) => return Err(error.into()),
    };
    let (mut report, stopped) = (ran.used, ran.stopped);
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
    print_report(&report_title(Some(name), &report), &report);
    Ok(report)
}

/// The readiness wait ended on the stop flag (not the target's failure).
fn interrupted(error: &LifecycleError) -> bool {
    error
        .cause()
        .and_then(|cause| cause.downcast_ref::<ReadyError>())
        .is_some_and(|e| matches!(e, ReadyError::Interrupted { .. }))
}

/// A target that could not start while the database is dead failed because of it.
fn database_explains(context: &mut Context, error: anyhow::Error) -> anyhow::Error {
    match context.store.as_mut().map(PgStore::check_running) {
        Some(Err(died)) => anyhow::anyhow!("{died} (the target then failed: {error})"),
        _ => error,
    }
}

fn checked(target: Option<String>, report: VerifyReport) -> SubjectResult {
    SubjectResult {
        protocol: report.protocol,
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
        let name = label(result.target.as_deref().unwrap_or("?"), result.protocol);
        let line = match (&result.report, &result.reason) {
            (_, Some(reason)) if result.status == "skipped" => format!("skipped: {reason}"),
            (_, Some(reason)) if matches!(result.status, "unsupported" | "undeclared") => {
                format!("unsupported: {reason}")
            }
            (_, Some(reason)) => format!("FAILED: {reason}"),
            (Some(report), None) => {
                let passed = report.rules.iter().filter(|r| r.passed).count();
                let verdict = if result.passed { "PASS" } else { "FAIL" };
                format!("{verdict} ({passed}/{} rules)", report.rules.len())
            }
            (None, None) => "FAILED: unknown".to_string(),
        };
        println!("{name}: {}", line.lines().next().unwrap_or_default());
    }
}

fn write_json(
    path: &Path,
    results: &[SubjectResult],
    store: Option<&crate::store::StoreRecord>,
) -> anyhow::Result<()> {
    let text =
        serde_json::to_string_pretty(&serde_json::json!({ "results": results, "store": store }))?;
    crate::atomic_file::write_atomic(path, (text + "\n").as_bytes())?;
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
