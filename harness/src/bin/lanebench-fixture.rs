//! `lanebench-fixture`: a deliberately simple HTTP/1.1 server that misbehaves on request.
//!
//! The tests (and anyone checking the harness by hand) need real server *processes* to
//! pause with SIGSTOP, crash mid-load, stall, or answer garbage. Thread per connection and
//! blocking I/O keep it obviously correct; it is not meant to be fast.
//!
//! Usage: `lanebench-fixture [--port P] [--mode MODE] [--exit-after N] [--delay-ms MS]
//! [--work N] [--service-us N] [--listen-after-ms MS]` (`--listen-after-ms`: bind only that long after
//! starting, a server with a known startup time; `--work N`: N rounds of real computation
//! per request, a hash over the path, so a build doing measurably more work per request
//! can be told apart by instruction counts; `--service-us N`: every request holds one
//! lock shared by all connections while it spins for N µs of wall time, so requests are
//! served one at a time and the server's capacity is known by construction, about
//! 1,000,000 / N requests per second, whatever the machine's speed)
//! (PORT from the environment when --port is absent; 0 picks a free port). It prints
//! `listening on 127.0.0.1:PORT` once ready. Modes: `ok` (200 JSON), `status:CODE`,
//! `garbage`, `close` (closes without answering), `stall` (never answers), `truncate`
//! (promises 100 bytes, sends 10, closes), `chunked` (200 with a chunked body),
//! `not-ready` (503 on /health, 200 elsewhere), `stall-api` (200 on /health, never
//! answers elsewhere), `bad-length` (a Content-Length that is not a number), `reset`
//! (aborts the connection with a TCP reset instead of answering) and `stall-every:N`
//! (200 JSON, but every N-th request overall is never answered) and `fail-every:N` (200
//! JSON on /health; elsewhere every N-th request overall gets a 503).
//!
//! `--mode user-service` is another server altogether: a minimal user service of the
//! service-to-service contract (`fixture/user_service.rs`), reading `ORDERS_URL`,
//! `DOWNSTREAM_TIMEOUT_MS`, `DOWNSTREAM_CONNECTIONS`, `BREAKER_FAILURES` and
//! `BREAKER_OPEN_MS`; `--chain-bug raw|retry-post|no-timeout|no-recover|no-pool` or
//! `--breaker-bug late|no-half-open|probe-all` makes it misbehave in exactly that one way.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[path = "fixture/breaker.rs"]
mod breaker;
#[path = "fixture/downstream.rs"]
mod downstream;
#[path = "fixture/user_service.rs"]
mod user_service;

#[derive(Debug, Clone)]
struct Options {
    port: u16,
    mode: String,
    exit_after: Option<u64>,
    delay: Duration,
    work: u64,
    /// Wall time each request holds the one service lock.
    service: Duration,
    listen_after: Duration,
    chain_bug: Option<downstream::Bug>,
    breaker_bug: Option<breaker::BreakerBug>,
}

fn main() {
    let started = std::time::Instant::now();
    let options = match parse_options(std::env::args().skip(1).collect()) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("lanebench-fixture: {message}");
            std::process::exit(2);
        }
    };
    if options.mode == "user-service" {
        user_service::run(options.port, options.chain_bug, options.breaker_bug);
    }
    std::thread::sleep(options.listen_after.saturating_sub(started.elapsed()));
    let listener = match TcpListener::bind(("127.0.0.1", options.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "lanebench-fixture: cannot listen on 127.0.0.1:{}: {e}",
                options.port
            );
            std::process::exit(1);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    println!("listening on 127.0.0.1:{port}");
    let _ = std::io::stdout().flush();
    let served = Arc::new(AtomicU64::new(0));
    for stream in listener.incoming().flatten() {
        let (options, served) = (options.clone(), Arc::clone(&served));
        std::thread::spawn(move || serve(stream, &options, &served));
    }
}

fn parse_options(args: Vec<String>) -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        mode: "ok".into(),
        exit_after: None,
        delay: Duration::ZERO,
        work: 0,
        service: Duration::ZERO,
        listen_after: Duration::ZERO,
        chain_bug: None,
        breaker_bug: None,
    };
    let env_port = std::env::var("PORT").ok();
    if let Some(p) = env_port {
        options.port = p
            .parse()
            .map_err(|_| format!("PORT `{p}` is not a port number"))?;
    }
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                options.port = value()?
                    .parse()
                    .map_err(|_| "--port: not a port number".to_string())?
            }
            "--mode" => options.mode = value()?,
            "--exit-after" => {
                options.exit_after = Some(
                    value()?
                        .parse()
                        .map_err(|_| "--exit-after: not a number".to_string())?,
                )
            }
            "--delay-ms" => {
                options.delay = Duration::from_millis(
                    value()?
                        .parse()
                        .map_err(|_| "--delay-ms: not a number".to_string())?,
                )
            }
            "--work" => {
                options.work = value()?
                    .parse()
                    .map_err(|_| "--work: not a number".to_string())?
            }
            "--service-us" => {
                options.service = Duration::from_micros(
                    value()?
                        .parse()
                        .map_err(|_| "--service-us: not a number".to_string())?,
                );
            }
            "--listen-after-ms" => {
                options.listen_after = Duration::from_millis(
                    value()?
                        .parse()
                        .map_err(|_| "--listen-after-ms: not a number".to_string())?,
                )
            }
            "--chain-bug" => options.chain_bug = Some(downstream::Bug::parse(&value()?)?),
            "--breaker-bug" => options.breaker_bug = Some(breaker::BreakerBug::parse(&value()?)?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

/// Reads one request head and body; returns the path, or None when the client closed.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(path)
}

fn serve(stream: TcpStream, options: &Options, served: &AtomicU64) {
    let _ = stream.set_nodelay(true);
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    while let Some(path) = read_request(&mut reader) {
        let count = served.fetch_add(1, Ordering::SeqCst) + 1;
        if options.exit_after.is_some_and(|n| count > n) {
            eprintln!(
                "lanebench-fixture: exiting after {} requests as asked",
                count - 1
            );
            std::process::exit(3);
        }
        if !options.delay.is_zero() {
            std::thread::sleep(options.delay);
        }
        if options.work > 0 {
            std::hint::black_box(busy_work(&path, options.work));
        }
        if !options.service.is_zero() {
            serve_one_at_a_time(options.service);
        }
        if stalls(&options.mode, count) {
            std::thread::sleep(Duration::from_secs(3600));
            return;
        }
        let mode = match options.mode.strip_prefix("fail-every:") {
            Some(n)
                if path != "/health"
                    && n.parse::<u64>()
                        .is_ok_and(|n| n > 0 && count.is_multiple_of(n)) =>
            {
                "status:503"
            }
            Some(_) => "ok",
            None => options.mode.as_str(),
        };
        if !respond(&mut writer, mode, &path) {
            return;
        }
    }
}

/// `rounds` rounds of FNV-1a over `path`: work whose instruction count grows with
/// `rounds` and that the optimiser cannot drop (the caller black-boxes the result).
fn busy_work(path: &str, rounds: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for round in 0..rounds {
        for byte in path.bytes().chain(round.to_le_bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// Holds the one service lock for `length` of wall time, spinning: requests are served
/// one at a time, each taking `length`, so the server carries at most one per `length`.
/// Spinning on the clock (not sleeping) keeps the length exact at this scale.
fn serve_one_at_a_time(length: Duration) {
    static SERVICE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = SERVICE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let started = std::time::Instant::now();
    while started.elapsed() < length {
        std::hint::spin_loop();
    }
}

/// `stall-every:N`: the N-th, 2N-th, ... request of the server's life is never answered.
fn stalls(mode: &str, count: u64) -> bool {
    mode.strip_prefix("stall-every:")
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n > 0 && count.is_multiple_of(n))
}

/// Writes the response for `mode`; false when the connection must end.
fn respond(writer: &mut TcpStream, mode: &str, path: &str) -> bool {
    let json = |status: u16, reason: &str, body: &str| {
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let reply = match mode {
        "ok" => json(200, "OK", r#"{"status":"healthy"}"#),
        m if m.starts_with("stall-every:") => json(200, "OK", r#"{"status":"healthy"}"#),
        "not-ready" if path == "/health" => {
            json(503, "Service Unavailable", r#"{"status":"starting"}"#)
        }
        "not-ready" => json(200, "OK", r#"{"status":"healthy"}"#),
        "garbage" => "THIS IS NOT HTTP\r\n\r\n".to_string(),
        "close" => return false,
        "reset" => {
            lanebench::socket::reset_on_close(writer);
            return false;
        }
        "stall-api" if path == "/health" => json(200, "OK", r#"{"status":"healthy"}"#),
        "stall-api" => {
            std::thread::sleep(Duration::from_secs(3600));
            return false;
        }
        "bad-length" => "HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n{}".to_string(),
        "stall" => {
            std::thread::sleep(Duration::from_secs(3600));
            return false;
        }
        "truncate" => {
            let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
            return false;
        }
        "chunked" => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            .to_string(),
        other => match other
            .strip_prefix("status:")
            .and_then(|c| c.parse::<u16>().ok())
        {
            Some(code) => json(code, "Fixture", r#"{"error":"fixture"}"#),
            None => json(500, "Unknown Fixture Mode", r#"{"error":"unknown mode"}"#),
        },
    };
    writer.write_all(reply.as_bytes()).is_ok()
}
