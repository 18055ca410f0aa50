//! The flags of `lanebench load` and their parsers, shared by the single run (`load`)
//! and the split run over worker processes (`load_workers`).

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;

use crate::load::cpus::CpuList;
use crate::load::segment::Segment;

/// Flags of `lanebench load`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  lanebench load -c 64 -d 10s http://127.0.0.1:8080/health\n  \
lanebench load --rate 20000 -c 64 -d 30s --json out.json http://127.0.0.1:8080/\n  \
lanebench load -m POST -H 'Content-Type: application/json' --body '{\"a\":1}' -n 1000 http://[::1]:8080/api\n  \
lanebench load --http2 --streams 16 -c 8 --cacert cert.pem https://localhost:8443/health\n  \
lanebench load --pipeline 16 -c 64 http://127.0.0.1:8080/health"
)]
pub struct LoadArgs {
    /// Target URL (http:// or https://; loopback unless --allow-remote).
    pub url: String,
    /// Concurrent keep-alive connections.
    #[arg(short, long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Measured duration, e.g. 10s, 1m, 500ms [default: 10s, or unlimited with -n].
    #[arg(short, long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many measured requests.
    #[arg(short = 'n', long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Traffic sent first and not counted.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Open loop: requests per second over all connections, on a fixed schedule.
    /// Latency is then measured from each request's intended send time.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Generator threads [default: the number of CPUs it may use].
    #[arg(short, long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Pin generator threads to these CPUs, e.g. 1 or 2-3 (thread i -> i-th CPU).
    #[arg(long, value_parser = parse_cpus)]
    pub cpus: Option<CpuList>,
    /// HTTP method.
    #[arg(short, long, default_value = "GET")]
    pub method: String,
    /// Extra request header `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the request body from this file.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// Give up on a response after this long (counted as a timeout error; it enters the
    /// latency histograms at the time it waited).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Open loop: the run is generator-limited when the send lag's p99 is above this
    /// (the lag is how late a send left after it could have).
    #[arg(long, default_value = "1ms", value_parser = parse_send_lag)]
    pub max_send_lag: Duration,
    /// After the deadline, wait up to --timeout for the answers still out, instead of
    /// entering them in the histograms at the time they had waited.
    #[arg(long)]
    pub wait_in_flight: bool,
    /// Start at this time (epoch milliseconds, or RFC 3339 such as
    /// 2026-12-01T20:00:00Z), so that the workers of a split run measure the same window.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<SystemTime>,
    /// Status that counts as success [default: any 2xx or 3xx].
    #[arg(long, value_parser = clap::value_parser!(u16).range(100..600))]
    pub expect_status: Option<u16>,
    /// Exit 1 when errors exceed this share of requests, e.g. 1% or 0.5%.
    #[arg(long, default_value = "1%", value_parser = parse_percent)]
    pub max_error_rate: f64,
    /// Write the result as JSON to FILE (`-` for stdout; the summary then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Drive only share I (0-based) of N of this run: its connections, open-loop schedule
    /// slots and -n requests; -c, -n and --rate stay the whole run's figures. Merge the
    /// N workers' --json files with `lanebench merge`.
    #[arg(long, value_name = "I/N", conflicts_with = "workers", value_parser = parse_segment)]
    pub segment: Option<Segment>,
    /// Write each measured second's latency histogram to FILE as an HdrHistogram
    /// interval log (absolute epoch timestamps).
    #[arg(long, value_name = "FILE", conflicts_with = "workers")]
    pub hdr_log: Option<PathBuf>,
    /// Split the run over N worker processes on this machine (worker i pinned to the
    /// i-th CPU of --cpus) and merge their results.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,
    /// With --workers: keep each worker's JSON result and interval log in DIR.
    #[arg(long, value_name = "DIR", requires = "workers")]
    pub worker_dir: Option<PathBuf>,
    /// Allow a non-loopback target address.
    #[arg(long)]
    pub allow_remote: bool,
    /// No live progress line.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub protocol: super::load_protocol::ProtocolArgs,
}

/// Parses durations such as `10s`, `1m30s`, `250ms` (at most 365 days).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::load::bounds::parse_duration(text).map_err(|e| e.to_string())
}

pub(super) fn parse_rate(text: &str) -> Result<f64, String> {
    crate::load::bounds::parse_rate(text).map_err(|e| e.to_string())
}

pub(super) fn parse_send_lag(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err("must be longer than zero (e.g. 1ms, 200us)".into()),
        d => Ok(d),
    }
}

/// How far in the past a `--start-at` may be: a worker started a moment late still
/// joins; one started long after the others would measure another window.
const START_AT_PAST_LIMIT: Duration = Duration::from_secs(1);

/// Parses `--start-at`: epoch milliseconds or an RFC 3339 time, not more than a
/// second in the past.
pub fn parse_start_at(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    let at = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: u64 = text
            .parse()
            .map_err(|_| format!("'{text}' is too large for epoch milliseconds"))?;
        UNIX_EPOCH
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| format!("'{text}' is too large for epoch milliseconds"))?
    } else {
        humantime::parse_rfc3339_weak(text).map_err(|e| {
            format!("'{text}': {e} (expected epoch milliseconds or RFC 3339, e.g. 2026-12-01T20:00:00Z)")
        })?
    };
    // Far-future times would only wait (and overflow the engine's clock arithmetic).
    if let Ok(ahead) = at.duration_since(SystemTime::now()) {
        if ahead > crate::load::bounds::MAX_DURATION {
            return Err(format!("'{text}' is more than 365 days ahead"));
        }
    }
    if let Ok(late) = SystemTime::now().duration_since(at) {
        if late > START_AT_PAST_LIMIT {
            return Err(format!(
                "'{text}' is {:.1} s in the past",
                late.as_secs_f64()
            ));
        }
    }
    Ok(at)
}

pub(super) fn parse_segment(text: &str) -> Result<Segment, String> {
    text.parse::<Segment>().map_err(|e| e.to_string())
}

pub(super) fn parse_cpus(text: &str) -> Result<CpuList, String> {
    text.parse::<CpuList>().map_err(|e| e.problem)
}

/// Parses `1%`, `0.5%` or a bare percentage `1` into a fraction.
pub(super) fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%');
    match number.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err("expected a percentage from 0% to 100%".into()),
    }
}
