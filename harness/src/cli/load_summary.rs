//! The human-readable summary of a load result, laid out like the tools users already
//! read (wrk, oha): throughput, latency percentiles, errors by class, statuses, and the
//! generator's own CPU use.

use std::fmt::Write;

use crate::load::result::{LatencySummary, LoadMode, LoadResult, ScheduleSummary};

/// Renders the summary printed after `lanebench load`.
pub fn render_summary(r: &LoadResult) -> String {
    let mut out = String::new();
    let mode = match r.mode {
        LoadMode::Closed => "closed loop".to_string(),
        LoadMode::Open => format!(
            "open loop at {} req/s",
            grouped(r.rate.unwrap_or(0.0) as u64)
        ),
    };
    let _ = writeln!(
        out,
        "{} {}, {} connections, {} threads",
        r.url, mode, r.connections, r.generator.threads
    );
    protocol_lines(&mut out, r);
    let _ = writeln!(
        out,
        "  Requests    {} in {:.2}s, {} req/s; {} req/s with the expected status",
        grouped(r.requests),
        r.duration_s,
        grouped(r.rps.round() as u64),
        grouped(r.success_rps.round() as u64)
    );
    let _ = writeln!(
        out,
        "  Transfer    {:.2} MiB/s ({:.1} MiB read)",
        r.transfer_mb_s,
        r.bytes_read as f64 / 1_048_576.0
    );
    latency_line(&mut out, "Latency", &r.latency_ms);
    if let Some(uncorrected) = &r.latency_uncorrected_ms {
        latency_line(&mut out, "Service", uncorrected);
        let _ = writeln!(out, "              (Latency is from each request's intended send time; Service from its actual send.)");
    }
    tail_lines(&mut out, r);
    if let Some(s) = &r.schedule {
        schedule_lines(&mut out, s);
    }
    error_lines(&mut out, r);
    generator_line(&mut out, r);
    out
}

/// What the client spoke, when it was not plain HTTP/1.1, and its TLS handshakes.
fn protocol_lines(out: &mut String, r: &LoadResult) {
    let Some(p) = &r.protocol else {
        return;
    };
    let mut parts = vec![p.name.to_string()];
    if let Some(n) = p.pipeline.filter(|&n| n > 1) {
        parts.push(format!("{n} pipelined per connection"));
    }
    if let Some(n) = p.streams {
        parts.push(format!("{n} streams per connection"));
    }
    if let Some(tls) = &p.tls {
        parts.push(format!(
            "TLS {} ({})",
            tls.versions,
            tls.verify.replace('_', " ")
        ));
    }
    if let Some(n) = p.reconnect_every {
        parts.push(format!("reconnecting every {n} requests"));
    }
    if parts.len() > 1 || p.name.as_str() != "h1" {
        let _ = writeln!(out, "  Protocol    {}", parts.join(", "));
    }
    if let Some(h) = &r.tls_handshake_ms {
        let _ = writeln!(
            out,
            "  Handshakes  {} TLS: p50 {}  p99 {}  max {} (ms)",
            grouped(h.count),
            ms(h.p50),
            ms(h.p99),
            ms(h.max)
        );
    }
}

/// Requests whose latency is a lower bound, and answers after the deadline.
fn tail_lines(out: &mut String, r: &LoadResult) {
    if r.censored.total() > 0 {
        let c = &r.censored;
        let _ = writeln!(
            out,
            "  Censored    {} timed out, {} in flight at the end, {} never sent: in the latency at the time they waited (lower bounds)",
            grouped(c.timeout),
            grouped(c.in_flight_at_end),
            grouped(c.unsent)
        );
    }
    if r.drained > 0 {
        let _ = writeln!(
            out,
            "  Drained     {} answers after the deadline: in the latency, not in the request count",
            grouped(r.drained)
        );
    }
}

/// The open-loop schedule: what was sent when, and whether the generator kept up.
fn schedule_lines(out: &mut String, s: &ScheduleSummary) {
    let _ = writeln!(
        out,
        "  Schedule    {} planned, {} sent, {} unsent, {} queued behind a busy connection",
        grouped(s.planned),
        grouped(s.sent),
        grouped(s.unsent),
        grouped(s.queued)
    );
    let _ = writeln!(
        out,
        "  Send lag    p50 {}  p90 {}  p99 {}  max {} (ms); {} above {} ms",
        ms(s.lag_ms.p50),
        ms(s.lag_ms.p90),
        ms(s.lag_ms.p99),
        ms(s.lag_ms.max),
        grouped(s.late),
        ms(s.max_send_lag_ms)
    );
    if s.generator_limited {
        let _ = writeln!(
            out,
            "  GENERATOR-LIMITED: {} (the latency describes a lighter load than asked for)",
            s.limited_by.join("; ")
        );
    }
}

/// Errors by class, and the status codes seen.
fn error_lines(out: &mut String, r: &LoadResult) {
    let e = &r.errors;
    if r.error_total == 0 {
        let _ = writeln!(out, "  Errors      none");
    } else {
        let classes = [
            ("connect", e.connect),
            ("timeout", e.timeout),
            ("read", e.read),
            ("write", e.write),
            ("parse", e.parse),
            ("status 4xx", e.status_4xx),
            ("status 5xx", e.status_5xx),
            ("status other", e.status_other),
            ("degraded", e.degraded),
            ("stream reset", e.stream_reset),
            ("goaway", e.goaway),
        ];
        let listed: Vec<String> = classes
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{name} {}", grouped(*n)))
            .collect();
        let _ = writeln!(
            out,
            "  Errors      {} ({:.2}%): {}",
            grouped(r.error_total),
            r.error_rate * 100.0,
            listed.join(", ")
        );
    }
    let statuses: Vec<String> = r
        .status_codes
        .iter()
        .map(|(code, n)| format!("{code}: {}", grouped(*n)))
        .collect();
    if !statuses.is_empty() {
        let _ = writeln!(out, "  Statuses    {}", statuses.join(", "));
    }
}

fn generator_line(out: &mut String, r: &LoadResult) {
    let _ = writeln!(
        out,
        "  Generator   {:.2} CPU-s ({:.0}% of {} threads){}{}",
        r.generator.cpu_s,
        r.generator.utilisation * 100.0,
        r.generator.threads,
        r.generator
            .cpus
            .as_ref()
            .map_or(String::new(), |c| format!(", pinned to CPUs {c:?}")),
        if r.reconnects > 0 {
            format!(", {} reconnects", grouped(r.reconnects))
        } else {
            String::new()
        }
    );
}

fn latency_line(out: &mut String, label: &str, l: &LatencySummary) {
    let _ = writeln!(
        out,
        "  {label:<10}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {} (ms)",
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p999),
        ms(l.max),
        ms(l.mean)
    );
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// Formats an integer with thousands separators: 1234567 -> 1,234,567.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
    }
}
