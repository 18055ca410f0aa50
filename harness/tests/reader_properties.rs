//! Property tests for the readers of files lanebench did not necessarily write itself:
//! results.json (and the Markdown report made from it), cost.json, the worker parts
//! `merge` reads, the HDR histogram fields and interval logs, and the duration and rate
//! parsers. Each returns a value or a typed error on random and mutated input: never a
//! panic, never an allocation sized by a number the input merely claims.
//!
//! Mutations replace a number with a hostile one (huge, negative, tiny, fractional where
//! a count is expected) or splice bytes. Case counts are small so the file runs in
//! seconds; `parser_properties.rs` covers the scenario, manifest, response and template
//! parsers.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use lanebench::load::bounds::{parse_duration, parse_rate, MAX_DURATION, MAX_RATE, MIN_RATE};
use lanebench::load::hdr_log::{decode_histogram, encode_histogram, read_log, HdrLogWriter};
use lanebench::load::histogram::new_histogram;
use lanebench::load::merge::{merge_workers, read_worker};
use lanebench::load::recorder::Recorder;
use lanebench::load::result::{LoadResult, RunFacts, TimelinePoint};
use lanebench::load::segment::Segment;
use lanebench::report::claims::PublishedClaims;
use lanebench::report::{Format, Report};
use lanebench::results::cost::CostRun;
use lanebench::results::RunResults;
use proptest::prelude::*;

mod hostile;
use hostile::histogram_field;

/// A real results.json (the report tests' fixture) as the seed for mutations.
const RESULTS: &str = include_str!("fixtures/report/results.json");

/// Numbers no run writes, each one a class the hostile-input sweep found.
const HOSTILE_NUMBERS: &[&str] = &[
    "1e308",
    "-1e308",
    "1e-300",
    "-1",
    "0",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "1000000000000000",
    "4294967296",
    "0.5",
    "null",
    "\"x\"",
    "[]",
];

/// `n` cases, or `PROPTEST_CASES` when set (for a longer search by hand).
fn cases(n: u32) -> ProptestConfig {
    let env = std::env::var("PROPTEST_CASES").ok();
    ProptestConfig {
        cases: env.and_then(|v| v.parse().ok()).unwrap_or(n),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `text` with its `which`-th number (wrapping) replaced by `with`.
fn replace_number(text: &str, which: usize, with: &str) -> String {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // A number starts after ':', '[', ',' or whitespace in JSON; close enough here.
        let starts = (bytes[i].is_ascii_digit() || bytes[i] == b'-')
            && i > 0
            && matches!(bytes[i - 1], b':' | b' ' | b'[' | b',' | b'\n');
        if starts {
            let start = i;
            i += 1;
            while i < bytes.len()
                && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'-' | b'+')
            {
                i += 1;
            }
            spans.push(start..i);
        } else {
            i += 1;
        }
    }
    if spans.is_empty() {
        return text.to_string();
    }
    let span = spans[which % spans.len()].clone();
    format!("{}{}{}", &text[..span.start], with, &text[span.end..])
}

/// `text` with bytes `at..at + cut` replaced by `insert` (positions wrap to fit).
fn splice(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let bytes = text.as_bytes();
    let start = at % (bytes.len() + 1);
    let end = (start + cut).min(bytes.len());
    let mut out = bytes[..start].to_vec();
    out.extend_from_slice(insert.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    String::from_utf8_lossy(&out).into_owned()
}

/// One worker's part of a split run, as `load --segment 0/1 --json` writes it.
fn worker_part() -> String {
    let mut recorder = Recorder::new(false, None);
    for us in [90u64, 120, 150, 4000] {
        let d = Duration::from_micros(us);
        recorder.record_response(200, true, d, d, Duration::from_millis(300));
    }
    let facts = RunFacts {
        url: "http://127.0.0.1:9/".into(),
        connections: 2,
        threads: 1,
        rate: None,
        warmup: Duration::ZERO,
        measured: Duration::from_secs(2),
        generator_cpu: Duration::from_millis(100),
        cpus: None,
        schedule: None,
        max_send_lag: Duration::from_millis(1),
        reconnects: 0,
        segment: Some(Segment { index: 0, count: 1 }),
        measure_start_unix_ms: 1_700_000_000_000,
        start_at_unix_ms: None,
        hdr_log: None,
        protocol: lanebench::load::protocol::ClientProtocol::default().facts(None),
    };
    let timeline = (0..2)
        .map(|t| TimelinePoint {
            t,
            requests: 2,
            successes: 2,
            errors: 0,
            degraded: 0,
            p99_ms: 4.0,
        })
        .collect();
    serde_json::to_string_pretty(&LoadResult::build(facts, &recorder, timeline)).unwrap()
}

/// A cost.json with one counted target and one unsupported.
const COST: &str = r#"{
  "schema_version": 1, "run_id": "cost", "started_at": "2026-01-01T00:00:00Z",
  "finished_at": null, "interrupted": false, "scenario": {"name": "default"},
  "lanebench_version": "0.1.0", "valgrind_version": "valgrind-3.19.0",
  "requests": 1000, "warmup": 200, "seed": 1,
  "targets": [
    {"name": "axum", "framework": "axum", "language": "Rust", "version": "1", "status": "ok",
     "reason": null, "requests": [{"name": "user", "label": "user", "weight": 1,
     "requests": 1000, "instructions": 20000000, "instructions_per_request": 20000.0,
     "seconds": 1.0}], "instructions_per_request": 20000.0, "idle": null, "workers": 1,
     "connections": 1, "valgrind_options": [], "env": {}, "threshold": null,
     "seconds": 10.0, "stderr_tail": []},
    {"name": "hyperlane", "framework": "hyperlane", "language": "Rust", "version": "1",
     "status": "unsupported", "reason": "a reason", "requests": [],
     "instructions_per_request": null, "idle": null, "workers": 1, "connections": 1,
     "valgrind_options": [], "env": {}, "seconds": 1.0, "stderr_tail": []}
  ]
}"#;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_seeds_are_read() {
    let dir = tempfile::tempdir().unwrap();
    RunResults::load(&write(dir.path(), "results.json", RESULTS)).unwrap();
    CostRun::load(&write(dir.path(), "cost.json", COST)).unwrap();
    let part = read_worker(&write(dir.path(), "part.json", &worker_part())).unwrap();
    merge_workers(&[part]).unwrap();
}

proptest! {
    #![proptest_config(cases(48))]

    /// A results.json with one number made hostile is read or refused naming the file;
    /// what is read renders as Markdown without a panic.
    #[test]
    fn mutated_results_are_read_or_refused(which in 0usize..4000, n in 0usize..HOSTILE_NUMBERS.len()) {
        let dir = tempfile::tempdir().unwrap();
        let text = replace_number(RESULTS, which, HOSTILE_NUMBERS[n]);
        let path = write(dir.path(), "results.json", &text);
        match Report::load(&path, PublishedClaims::embedded()) {
            Ok(report) => {
                report.render(Format::Markdown).ok();
            }
            Err(e) => prop_assert!(e.to_string().contains("results.json"), "{}", e),
        }
    }

    /// Spliced bytes in a results.json: read or refused, never a panic.
    #[test]
    fn spliced_results_are_read_or_refused(at in 0usize..70_000, cut in 0usize..8, insert in "[0-9e.:,\\[\\]{}\"-]{0,4}") {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "results.json", &splice(RESULTS, at, cut, &insert));
        if let Err(e) = RunResults::load(&path) {
            prop_assert_eq!(e.to_string().lines().count(), 1);
        }
    }

    /// A cost.json with a hostile number or spliced bytes is read or refused naming the file.
    #[test]
    fn mutated_cost_files_are_read_or_refused(which in 0usize..64, n in 0usize..HOSTILE_NUMBERS.len(), at in 0usize..2000, cut in 0usize..4, insert in "[0-9e.:,\"-]{0,3}") {
        let dir = tempfile::tempdir().unwrap();
        for text in [replace_number(COST, which, HOSTILE_NUMBERS[n]), splice(COST, at, cut, &insert)] {
            let path = write(dir.path(), "cost.json", &text);
            if let Err(e) = CostRun::load(&path) {
                prop_assert!(e.to_string().contains("cost.json"), "{}", e);
            }
        }
    }

    /// A worker part with a hostile number (a segment index past its count, a timeline
    /// second of 1e15, a duration of 1e308...) is read and merged, or refused naming the
    /// file; no allocation follows a claimed size.
    #[test]
    fn mutated_worker_parts_are_merged_or_refused(which in 0usize..400, n in 0usize..HOSTILE_NUMBERS.len()) {
        let dir = tempfile::tempdir().unwrap();
        let text = replace_number(&worker_part(), which, HOSTILE_NUMBERS[n]);
        let path = write(dir.path(), "part.json", &text);
        let outcome = read_worker(&path).and_then(|part| merge_workers(&[part]));
        if let Err(e) = outcome {
            prop_assert!(e.to_string().starts_with(path.to_str().unwrap()), "{}", e);
        }
    }

    /// Arbitrary text and mutated encodings never panic the histogram decoder, and a
    /// decoded histogram keeps the project's bounds.
    #[test]
    fn histogram_fields_decode_or_are_refused(text in ".{0,64}", at in 0usize..400, byte in any::<u8>()) {
        let _ = decode_histogram(&text);
        let mut h = new_histogram();
        h.record_n(1234, 5).unwrap();
        h.record(987_654_321).unwrap();
        let engine = base64::engine::general_purpose::STANDARD;
        let mut bytes = engine.decode(encode_histogram(&h)).unwrap();
        let i = at % bytes.len();
        bytes[i] = byte;
        if let Ok(back) = decode_histogram(&engine.encode(&bytes)) {
            prop_assert_eq!(back.high(), h.high());
        }
    }

    /// A plain V2 header claiming any bounds and payload size, deflated as lanebench
    /// writes it, is decoded or refused without allocating what it claims.
    #[test]
    fn histogram_headers_claiming_anything_are_refused(payload in any::<u32>(), digits in any::<u32>(), low in any::<u64>(), high in any::<u64>(), body in proptest::collection::vec(any::<u8>(), 0..32)) {
        let mut plain = Vec::new();
        plain.extend_from_slice(&0x1c84_9313u32.to_be_bytes());
        plain.extend_from_slice(&payload.to_be_bytes());
        plain.extend_from_slice(&0u32.to_be_bytes());
        plain.extend_from_slice(&digits.to_be_bytes());
        plain.extend_from_slice(&low.to_be_bytes());
        plain.extend_from_slice(&high.to_be_bytes());
        plain.extend_from_slice(&1f64.to_be_bytes());
        plain.extend_from_slice(&body);
        let _ = decode_histogram(&histogram_field(&plain));
    }

    /// Interval logs with spliced text are read or refused naming the file, and their
    /// histograms decode or are refused.
    #[test]
    fn mutated_interval_logs_are_read_or_refused(at in 0usize..600, cut in 0usize..6, insert in "[0-9.,e#\\[\\]: -]{0,6}") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.hlog");
        let start = std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let mut writer = HdrLogWriter::create(&path, start).unwrap();
        let mut h = new_histogram();
        h.record(2_000).unwrap();
        writer.write_second(0, &h).unwrap();
        writer.write_second(1, &h).unwrap();
        drop(writer);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, splice(&text, at, cut, &insert)).unwrap();
        match read_log(&path) {
            Ok(intervals) => {
                for interval in intervals {
                    let _ = interval.histogram();
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("w.hlog"), "{}", e),
        }
    }

    /// Durations parse within 365 days or are refused; rates within their bounds.
    #[test]
    fn durations_and_rates_parse_in_bounds_or_are_refused(text in "[0-9]{0,24}(\\.[0-9]{0,3})?(e-?[0-9]{1,3})? ?(ns|us|ms|s|m|h|d|days|y|years|inf|nan)?") {
        if let Ok(d) = parse_duration(&text) {
            prop_assert!(d <= MAX_DURATION);
        }
        if let Ok(rate) = parse_rate(&text) {
            prop_assert!(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&rate));
        }
    }

    /// Any text at all: a value or a typed error.
    #[test]
    fn any_text_is_a_duration_a_rate_or_an_error(text in ".{0,32}") {
        let _ = parse_duration(&text);
        let _ = parse_rate(&text);
    }
}
