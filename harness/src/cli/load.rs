//! `lanebench load URL`: raw flags -> validated [`LoadSettings`] -> a run with a live
//! progress line -> the human summary and, on request, the JSON result.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub use super::load_args::{parse_duration, parse_start_at, LoadArgs};
use super::load_summary::render_summary;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::atomic_file::write_atomic;
use crate::load::cpus::CpuList;
use crate::load::outcome::ExpectedStatus;
use crate::load::protocol::ClientProtocol;
use crate::load::request::{parse_header, Endpoint, PreparedRequest, RequestError, RequestPlan};
use crate::load::result::LoadResult;
use crate::load::{LoadRun, LoadSettings, RunOptions};
use crate::output_path::{check_output_dir, check_output_file};

/// Runs `lanebench load`.
pub fn run(args: LoadArgs) -> i32 {
    let settings = match settings_from(&args) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("lanebench load: {message}");
            return EXIT_USAGE;
        }
    };
    let protocol = match protocol_from(&args) {
        Ok(protocol) => protocol,
        Err(message) => {
            eprintln!("lanebench load: {message}");
            return EXIT_USAGE;
        }
    };
    if let Err(e) = crate::limits::ensure_open_files(settings.connections as u64 + 64) {
        eprintln!(
            "lanebench load: --connections {}: {e}",
            settings.connections
        );
        return EXIT_USAGE;
    }
    let split = args
        .segment
        .map(|s| s.count)
        .or(args.workers.map(|n| n as usize));
    if let Some(count) = split.filter(|&n| n > settings.connections) {
        eprintln!(
            "lanebench load: --connections {} is fewer than the {count} segments of the run",
            settings.connections
        );
        return EXIT_USAGE;
    }
    if let Some(workers) = args.workers {
        return match super::load_workers::run(&args, workers as usize) {
            Ok(merged) => report(&args, &merged),
            Err(exit) => exit,
        };
    }
    if let Err(e) = crate::load::protocol::preflight(settings.addr, &protocol, settings.timeout) {
        eprintln!("lanebench load: {e}");
        return EXIT_FAILED;
    }
    let stop = Arc::new(AtomicBool::new(false));
    super::stop_on_signals(&stop, true);
    let options = RunOptions {
        segment: args.segment,
        hdr_log: args.hdr_log.clone(),
        start_at: args.start_at,
        protocol,
    };
    let result = match drive(
        settings,
        options,
        stop,
        !args.quiet && std::io::stderr().is_terminal(),
    ) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("lanebench load: {e}");
            return EXIT_FAILED;
        }
    };
    report(&args, &result)
}

/// Prints the summary, writes `--json` and judges the error rate.
pub fn report(args: &LoadArgs, result: &LoadResult) -> i32 {
    let summary = render_summary(result);
    if let Some(target) = &args.json {
        let json = serde_json::to_string_pretty(result).expect("results serialize") + "\n";
        if target == "-" {
            eprint!("{summary}");
            print!("{json}");
        } else {
            print!("{summary}");
            if let Err(e) = write_atomic(Path::new(target), json.as_bytes()) {
                eprintln!("lanebench load: --json {target}: {e}");
                return EXIT_FAILED;
            }
        }
    } else {
        print!("{summary}");
    }
    if result.error_rate > args.max_error_rate {
        eprintln!(
            "lanebench load: error rate {:.2}% is above --max-error-rate {:.2}%",
            result.error_rate * 100.0,
            args.max_error_rate * 100.0
        );
        return EXIT_FAILED;
    }
    EXIT_OK
}

/// Validates the flags into settings; the error names the flag and the problem.
pub fn settings_from(args: &LoadArgs) -> Result<LoadSettings, String> {
    let endpoint = Endpoint::parse(&args.url, args.allow_remote).map_err(|e| e.to_string())?;
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("-H {e}"))?;
    let body = match (&args.body, &args.body_file) {
        (Some(text), _) => text.clone().into_bytes(),
        (None, Some(path)) => {
            crate::load::bounds::read_capped(path, crate::load::bounds::MAX_INPUT_BYTES)
                .map_err(|e| format!("--body-file {}: cannot read: {e}", path.display()))?
        }
        (None, None) => Vec::new(),
    };
    let expect = args
        .expect_status
        .map_or(ExpectedStatus::SuccessOrRedirect, ExpectedStatus::Exactly);
    let method = args.method.to_ascii_uppercase();
    let request =
        PreparedRequest::build(&method, &endpoint, &endpoint.path, &headers, &body, expect)
            .map_err(|e| match e {
                RequestError::Method(_) => format!("--method {e}"),
                other => other.to_string(),
            })?;
    if let Some(cpus) = &args.cpus {
        cpus.check_allowed().map_err(|e| format!("--cpus {e}"))?;
    }
    let connections = args.connections as usize;
    let threads = match (args.threads, &args.cpus) {
        (Some(t), _) => t as usize,
        (None, Some(cpus)) => cpus.len(),
        (None, None) => CpuList::allowed().len(),
    };
    let duration = match (args.duration, args.requests) {
        (Some(d), _) if d.is_zero() => return Err("--duration must be longer than zero".into()),
        (Some(d), _) => Some(d),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    if args.timeout.is_zero() {
        return Err("--timeout must be longer than zero".into());
    }
    check_outputs(args)?;
    Ok(LoadSettings {
        url: args.url.clone(),
        addr: endpoint.addr,
        plan: RequestPlan::single(request),
        connections,
        threads: threads.min(connections),
        duration,
        requests: args.requests,
        warmup: args.warmup,
        rate: args.rate,
        timeout: args.timeout,
        max_send_lag: args.max_send_lag,
        wait_in_flight: args.wait_in_flight,
        cpus: args.cpus.clone(),
    })
}

/// The client's protocol: the URL's scheme and the protocol flags, checked together.
pub fn protocol_from(args: &LoadArgs) -> Result<ClientProtocol, String> {
    let endpoint = Endpoint::parse(&args.url, args.allow_remote).map_err(|e| e.to_string())?;
    let client = args.protocol.client(&endpoint)?;
    if let Some(tls) = &client.tls {
        // A CA file that cannot be read is the flag's problem, found before any connect.
        crate::load::protocol::tls::TlsConfig::new(tls, &[]).map_err(|e| e.to_string())?;
    }
    Ok(client)
}

/// Refuses output paths that cannot be written before the load runs, not after.
fn check_outputs(args: &LoadArgs) -> Result<(), String> {
    if let Some(json) = args.json.as_deref().filter(|&j| j != "-") {
        check_output_file(Path::new(json)).map_err(|e| format!("--json {e}"))?;
    }
    if let Some(path) = &args.hdr_log {
        check_output_file(path).map_err(|e| format!("--hdr-log {e}"))?;
    }
    if let Some(dir) = &args.worker_dir {
        check_output_dir(dir).map_err(|e| format!("--worker-dir {e}"))?;
    }
    Ok(())
}

fn drive(
    settings: LoadSettings,
    options: RunOptions,
    stop: Arc<AtomicBool>,
    progress: bool,
) -> std::io::Result<LoadResult> {
    let total = settings.duration;
    let run = LoadRun::start_with(settings, options, stop)?;
    while !run.is_finished() {
        std::thread::sleep(Duration::from_millis(if progress { 250 } else { 50 }));
        if progress {
            let status = run.live();
            let line = if status.waiting_for_start {
                "waiting for --start-at...".to_string()
            } else if status.warming_up {
                "warming up...".to_string()
            } else {
                let secs = status.measured.as_secs_f64().max(1e-3);
                let of = total.map_or(String::new(), |t| format!("/{:.0}s", t.as_secs_f64()));
                format!(
                    "{secs:.1}s{of}  {} requests  {:.0} req/s  {} errors",
                    status.totals.requests,
                    status.totals.requests as f64 / secs,
                    status.totals.errors
                )
            };
            eprint!("\r\x1b[2K{line}");
        }
    }
    if progress {
        eprint!("\r\x1b[2K");
    }
    run.wait()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::load_args::{parse_percent, parse_send_lag};
    use clap::Parser;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        load: LoadArgs,
    }

    fn settings(args: &[&str]) -> Result<LoadSettings, String> {
        let mut full = vec!["lanebench"];
        full.extend_from_slice(args);
        let parsed = Wrapper::try_parse_from(full).map_err(|e| e.to_string())?;
        settings_from(&parsed.load)
    }

    #[test]
    fn defaults_are_ten_seconds_closed_loop() {
        let s = settings(&["http://127.0.0.1:9/"]).unwrap();
        assert_eq!(s.duration, Some(Duration::from_secs(10)));
        assert_eq!(s.connections, 64);
        assert_eq!(s.rate, None);
        assert!(s.threads >= 1);
    }

    #[test]
    fn request_count_alone_has_no_duration() {
        let s = settings(&[
            "-n",
            "100",
            "-c",
            "2",
            "--threads",
            "8",
            "http://127.0.0.1:9/",
        ])
        .unwrap();
        assert_eq!(s.duration, None);
        assert_eq!(s.threads, 2, "never more threads than connections");
    }

    #[test]
    fn bad_inputs_name_the_flag() {
        let err =
            settings(&["--body-file", "/nonexistent/body", "http://127.0.0.1:9/"]).unwrap_err();
        assert!(err.starts_with("--body-file /nonexistent/body"), "{err}");
        assert!(settings(&["-H", "nocolon", "http://127.0.0.1:9/"])
            .unwrap_err()
            .starts_with("-H"));
        assert!(settings(&["-d", "ten", "http://127.0.0.1:9/"])
            .unwrap_err()
            .contains("--duration"));
        assert!(settings(&["--rate=-5", "http://127.0.0.1:9/"])
            .unwrap_err()
            .contains("--rate"));
        assert!(settings(&["-d", "0s", "http://127.0.0.1:9/"])
            .unwrap_err()
            .contains("--duration"));
        assert!(settings(&["notaurl"]).unwrap_err().contains("notaurl"));
    }

    #[test]
    fn start_at_takes_epoch_ms_or_rfc3339_and_refuses_the_past() {
        let soon = SystemTime::now() + Duration::from_secs(30);
        let ms = soon.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let parsed = parse_start_at(&ms.to_string()).unwrap();
        assert_eq!(parsed, UNIX_EPOCH + Duration::from_millis(ms));
        let rfc = humantime::format_rfc3339_millis(soon).to_string();
        let back = parse_start_at(&rfc).unwrap();
        assert!(back.duration_since(parsed).unwrap_or_default() < Duration::from_millis(1));
        assert!(parse_start_at("1000").unwrap_err().contains("in the past"));
        assert!(parse_start_at("2020-01-01T00:00:00Z")
            .unwrap_err()
            .contains("in the past"));
        assert!(parse_start_at("tomorrow").unwrap_err().contains("RFC 3339"));
        assert!(parse_start_at("99999999999999999999999").is_err());
        let err = settings(&["--start-at", "noon", "http://127.0.0.1:9/"]).unwrap_err();
        assert!(err.contains("--start-at"), "{err}");
    }

    #[test]
    fn max_send_lag_must_be_positive() {
        assert_eq!(parse_send_lag("250us"), Ok(Duration::from_micros(250)));
        assert!(parse_send_lag("0ms").is_err());
        let err = settings(&["--max-send-lag", "0s", "http://127.0.0.1:9/"]).unwrap_err();
        assert!(err.contains("--max-send-lag"), "{err}");
        let s = settings(&["http://127.0.0.1:9/"]).unwrap();
        assert_eq!(s.max_send_lag, Duration::from_millis(1));
    }

    #[test]
    fn percent_parsing() {
        assert_eq!(parse_percent("1%"), Ok(0.01));
        assert_eq!(parse_percent("0.5"), Ok(0.005));
        assert!(parse_percent("101%").is_err());
    }
}
