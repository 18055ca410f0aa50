//! Property tests for the parsers that read untrusted bytes: the generator's HTTP response
//! parser (valid responses parse the same, and decode to the same message, however they
//! are split across reads; arbitrary bytes never panic), request templates (never panic; `{rand:LO..HI}` stays in bounds)
//! and scenario files (arbitrary or mutated TOML never panics; errors name the file).
//! Case counts are kept modest so the suite stays fast; failures proptest minimizes are
//! kept in `proptest-regressions/` and replayed first.

use lanebench::load::protocol::http1::{Message, MessageReader, ResponseParser};
use lanebench::load::protocol::{Progress, Response};
use lanebench::load::template::Template;
use lanebench::scenario::Scenario;
use lanebench::targets::Manifest;
use proptest::prelude::*;

/// The default scenario, as the seed for mutations.
const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/default.toml");

/// A complete manifest, as the seed for mutations.
const MANIFEST: &str = "name = \"fixture\"\nframework = \"Fixture\"\nlanguage = \"Rust\"\n\
version = \"1.0\"\nrequires = [\"cargo\"]\nbuild = \"true\"\nrun = \"exec server\"\n\
health = \"/health\"\nready_timeout = \"5s\"\n";

/// Small edits that tend to break TOML or a field's value.
const INSERTS: &[&str] = &[
    "",
    "\"",
    "=",
    "[",
    "]",
    "{",
    "}",
    "\n",
    "0",
    "-1",
    "1e400",
    "\"1s\"",
    "[[request]]\n",
    "{rand:",
    "{rand:5..1}",
    "weight = 0\n",
    "rate = 10\n",
    "x = 1\n",
    "\u{e9}",
];

/// `text` with bytes `at..at + cut` replaced by `insert` (positions wrap to fit).
fn mutate(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let bytes = text.as_bytes();
    let start = at % (bytes.len() + 1);
    let end = (start + cut).min(bytes.len());
    let mut mutated = bytes[..start].to_vec();
    mutated.extend_from_slice(insert.as_bytes());
    mutated.extend_from_slice(&bytes[end..]);
    String::from_utf8_lossy(&mutated).into_owned()
}

/// How a generated response frames its body.
#[derive(Debug, Clone)]
enum Framing {
    Length,
    /// Chunk sizes (non-zero) and whether a trailer header follows the last chunk.
    Chunked(Vec<usize>, bool),
    UntilClose,
}

/// A valid response: its bytes and what the parser must report for it.
#[derive(Debug, Clone)]
struct ValidResponse {
    bytes: Vec<u8>,
    expected: Response,
    until_close: bool,
    /// The body bytes sent, before any chunking.
    body: Vec<u8>,
}

fn build_response(
    status: u16,
    extra_headers: Vec<(String, String)>,
    body: Vec<u8>,
    framing: Framing,
) -> ValidResponse {
    let mut head = format!("HTTP/1.1 {status} Whatever\r\n");
    for (name, value) in &extra_headers {
        head.push_str(&format!("X-{name}: {value}\r\n"));
    }
    let mut bytes = Vec::new();
    let until_close = matches!(framing, Framing::UntilClose);
    let mut sent = body.len();
    match framing {
        Framing::Length => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            bytes.extend_from_slice(head.as_bytes());
            bytes.extend_from_slice(&body);
        }
        Framing::Chunked(sizes, trailer) => {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            bytes.extend_from_slice(head.as_bytes());
            let mut rest = &body[..];
            for size in sizes {
                let take = size.min(rest.len());
                if take == 0 {
                    break;
                }
                bytes.extend_from_slice(format!("{take:x}\r\n").as_bytes());
                bytes.extend_from_slice(&rest[..take]);
                bytes.extend_from_slice(b"\r\n");
                rest = &rest[take..];
            }
            // Chunk sizes that add up to less than the body send only its start.
            sent -= rest.len();
            bytes.extend_from_slice(b"0\r\n");
            if trailer {
                bytes.extend_from_slice(b"X-Trailer: done\r\n");
            }
            bytes.extend_from_slice(b"\r\n");
        }
        Framing::UntilClose => {
            head.push_str("Connection: close\r\n\r\n");
            bytes.extend_from_slice(head.as_bytes());
            bytes.extend_from_slice(&body);
        }
    }
    ValidResponse {
        body: body[..sent].to_vec(),
        bytes,
        expected: Response {
            status,
            keep_alive: !until_close,
            degraded: false,
        },
        until_close,
    }
}

fn header_token() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(b"abcxyzABC0129-".to_vec()), 1..12)
        .prop_map(|bytes| String::from_utf8(bytes).unwrap())
}

fn valid_response() -> impl Strategy<Value = ValidResponse> {
    let status = proptest::sample::select(vec![200u16, 201, 302, 400, 404, 418, 500, 503]);
    let headers = proptest::collection::vec((header_token(), header_token()), 0..6);
    let body = proptest::collection::vec(any::<u8>(), 0..300);
    let framing = prop_oneof![
        Just(Framing::Length),
        (proptest::collection::vec(1usize..64, 1..8), any::<bool>())
            .prop_map(|(sizes, trailer)| Framing::Chunked(sizes, trailer)),
        Just(Framing::UntilClose),
    ];
    (status, headers, body, framing).prop_map(|(s, h, b, f)| build_response(s, h, b, f))
}

/// Feeds `bytes` in pieces cut at `cuts`; returns what the parser reported at the end
/// (completing a read-until-close body when the input runs out).
fn parse_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<Option<Response>, String> {
    let mut parser = ResponseParser::default();
    parser.reset(true);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points.dedup();
    for (index, window) in points.windows(2).enumerate() {
        let last = index == points.len() - 2;
        match parser.feed(&bytes[window[0]..window[1]]) {
            Ok(Progress::Complete(response)) if last => return Ok(Some(response)),
            Ok(Progress::Complete(_)) => return Err(format!("complete early at {}", window[1])),
            Ok(Progress::NeedMore) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(parser.finish_on_close())
}

/// Reads `bytes` cut at `cuts` as a whole message (what `verify` sees).
fn message_in_pieces(bytes: &[u8], cuts: &[usize]) -> Option<Message> {
    let mut parser = ResponseParser::default();
    parser.reset(true);
    let mut reader = MessageReader::new(1 << 20);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.extend([0, bytes.len()]);
    points.sort_unstable();
    points.dedup();
    for window in points.windows(2) {
        let piece = &bytes[window[0]..window[1]];
        if let (Progress::Complete(r), _) = parser.advance(piece, &mut reader).ok()? {
            return Some(reader.finish(r.keep_alive));
        }
    }
    let response = parser.finish_on_close()?;
    Some(reader.finish(response.keep_alive))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_split_of_a_valid_response_decodes_the_same_message(
        response in valid_response(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let message = message_in_pieces(&response.bytes, &cuts).expect("a valid response");
        prop_assert_eq!(message.status, response.expected.status);
        prop_assert_eq!(message.keep_alive, response.expected.keep_alive);
        prop_assert_eq!(&message.body, &response.body);
        prop_assert_eq!(Some(message), message_in_pieces(&response.bytes, &[]));
    }

    #[test]
    fn any_split_of_a_valid_response_parses_the_same(
        response in valid_response(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = parse_in_pieces(&response.bytes, &[]);
        let split = parse_in_pieces(&response.bytes, &cuts);
        prop_assert_eq!(&whole, &Ok(Some(response.expected)));
        prop_assert_eq!(split, whole);
        if !response.until_close {
            // One byte at a time is the most extreme split.
            let every: Vec<usize> = (0..response.bytes.len()).collect();
            prop_assert_eq!(parse_in_pieces(&response.bytes, &every), Ok(Some(response.expected)));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_response_parser(
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..8),
        prefix_valid_head in any::<bool>(),
    ) {
        let mut parser = ResponseParser::default();
        parser.reset(true);
        if prefix_valid_head {
            // Start inside a plausible head so the body states are exercised too.
            let _ = parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        }
        for piece in &pieces {
            match parser.feed(piece) {
                Ok(Progress::NeedMore) => {}
                Ok(Progress::Complete(_)) | Err(_) => parser.reset(true),
            }
        }
        let _ = parser.finish_on_close();
    }

    #[test]
    fn templates_never_panic_on_any_text(text in any::<String>(), seed in any::<u64>(), seq in any::<u64>()) {
        if let Ok(template) = Template::parse(&text) {
            let mut random = seed;
            let mut out = Vec::new();
            template.render(&mut random, seq, &mut out);
            if template.is_static() {
                prop_assert_eq!(out, text.as_bytes());
            }
        }
    }

    #[test]
    fn rand_placeholders_render_within_their_bounds(
        low in any::<u64>(),
        width in prop_oneof![0u64..10, any::<u64>()],
        seed in any::<u64>(),
        prefix in proptest::collection::vec(proptest::sample::select(b"abz/".to_vec()), 0..8)
            .prop_map(|b| String::from_utf8(b).unwrap()),
    ) {
        let high = low.saturating_add(width);
        let template = Template::parse(&format!("{prefix}{{rand:{low}..{high}}}!")).unwrap();
        let mut random = seed;
        for _ in 0..16 {
            let mut out = Vec::new();
            template.render(&mut random, 0, &mut out);
            let text = String::from_utf8(out).unwrap();
            let number = text.strip_prefix(prefix.as_str()).and_then(|t| t.strip_suffix('!'));
            let value: u64 = number.and_then(|n| n.parse().ok()).unwrap();
            prop_assert!((low..=high).contains(&value), "{} not in {}..={}", value, low, high);
        }
    }

    #[test]
    fn scenario_parser_never_panics_and_names_the_file(text in any::<String>()) {
        if let Err(e) = Scenario::parse(&text, "fuzz/arbitrary.toml") {
            prop_assert!(e.to_string().starts_with("fuzz/arbitrary.toml"), "{}", e);
        }
    }

    #[test]
    fn mutated_scenarios_never_panic_and_errors_name_the_file(
        at in any::<usize>(),
        cut in 0usize..40,
        insert in proptest::sample::select(INSERTS),
    ) {
        let text = mutate(DEFAULT_SCENARIO, at, cut, insert);
        if let Err(e) = Scenario::parse(&text, "fuzz/mutated.toml") {
            let message = e.to_string();
            prop_assert!(message.starts_with("fuzz/mutated.toml"), "{}", message);
            prop_assert_eq!(message.lines().count(), 1, "{}", message);
        }
    }

    #[test]
    fn mutated_manifests_never_panic_and_errors_are_one_line_naming_the_file(
        at in any::<usize>(),
        cut in 0usize..20,
        insert in proptest::sample::select(INSERTS),
    ) {
        let text = mutate(MANIFEST, at, cut, insert);
        let path = std::path::Path::new("fuzz/fixture/target.toml");
        if let Err(e) = Manifest::parse(&text, path) {
            let message = e.to_string();
            prop_assert!(message.contains("fuzz/fixture/target.toml"), "{}", message);
            prop_assert_eq!(message.lines().count(), 1, "{}", message);
        }
    }
}
