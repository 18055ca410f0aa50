//! Validation rules of the scenario format: each bad input is rejected with the file,
//! the line and the problem.

use super::*;

const PATH: &str = "scenarios/bad.toml";

/// A valid scenario; tests replace or append lines to break one rule at a time.
const VALID: &str = r#"name = "mini"
duration = "10s"
connections = [16, 64]

[[request]]
name = "health"
path = "/health"

[[request]]
name = "orders"
weight = 2
method = "POST"
path = "/api/orders"
body = '{"user_id":{rand:1..9}}'
headers = { "Content-Type" = "application/json" }
expect_status = 201
"#;

/// The error message for `text`, which must be invalid.
fn error(text: &str) -> String {
    match Scenario::parse(text, PATH) {
        Ok(s) => panic!("expected an error, parsed {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn replace(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from}");
    VALID.replacen(from, to, 1)
}

#[test]
fn valid_scenario_gets_defaults() {
    let s = Scenario::parse(VALID, PATH).unwrap();
    assert_eq!(s.name, "mini");
    assert_eq!(s.description, None);
    assert_eq!(s.duration, Duration::from_secs(10));
    assert_eq!(s.warmup, Duration::ZERO);
    assert_eq!(s.repeats, 1);
    assert_eq!(s.connections, vec![16, 64]);
    assert_eq!(s.rate, None);
    assert_eq!(s.startup_samples, 10);
    assert_eq!(s.timeout, Duration::from_secs(5));
    assert_eq!(s.quick_scale, 0.1);
    assert!(s.steady_state);
    assert_eq!(s.warmup_max, Duration::from_secs(60));
    assert_eq!(s.max_error_rate, 0.01);
    assert!(!s.interleave);
    let health = &s.requests[0];
    assert_eq!(
        (health.name.as_str(), health.weight, health.method.as_str()),
        ("health", 1, "GET")
    );
    assert_eq!(health.path.literal(), Some("/health"));
    assert_eq!(health.path_text, "/health");
    assert_eq!((health.body.as_ref(), health.expect_status), (None, None));
    let orders = &s.requests[1];
    assert_eq!(orders.weight, 2);
    assert_eq!(orders.method, "POST");
    assert_eq!(
        orders.body_text.as_deref(),
        Some(r#"{"user_id":{rand:1..9}}"#)
    );
    assert!(!orders.body.as_ref().unwrap().is_static());
    assert_eq!(
        orders.headers,
        vec![("Content-Type".to_string(), "application/json".to_string())]
    );
    assert_eq!(orders.expect_status, Some(201));
}

#[test]
fn serializes_durations_and_templates_as_text() {
    let s = Scenario::parse(VALID, PATH).unwrap();
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["duration"], "10s");
    assert_eq!(json["warmup"], "0s");
    assert_eq!(json["timeout"], "5s");
    assert_eq!(json["requests"][1]["body"], r#"{"user_id":{rand:1..9}}"#);
    assert_eq!(json["requests"][1]["path"], "/api/orders");
    assert_eq!(
        json["requests"][1]["headers"]["Content-Type"],
        "application/json"
    );
    assert!(json["requests"][1].get("path_text").is_none());
}

#[test]
fn unknown_top_level_key() {
    let text = replace(
        "connections = [16, 64]",
        "connections = [16, 64]\nthreads = 4",
    );
    let message = error(&text);
    assert!(message.starts_with("scenarios/bad.toml:4: "), "{message}");
    assert!(message.contains("unknown field `threads`"), "{message}");
}

#[test]
fn unknown_request_key() {
    let text = replace("weight = 2", "weight = 2\nretries = 3");
    let message = error(&text);
    assert!(message.starts_with("scenarios/bad.toml:12: "), "{message}");
    assert!(message.contains("unknown field `retries`"), "{message}");
}

#[test]
fn bad_duration() {
    let message = error(&replace(
        r#"duration = "10s""#,
        r#"duration = "10 parsecs""#,
    ));
    assert!(
        message.starts_with("scenarios/bad.toml:2: duration `10 parsecs`"),
        "{message}"
    );
    let message = error(&replace(r#"duration = "10s""#, r#"duration = "0s""#));
    assert_eq!(message, "scenarios/bad.toml:2: duration must be > 0");
    let message = error(&replace(
        "connections = [16, 64]",
        "connections = [16, 64]\nwarmup = \"soon\"",
    ));
    assert!(
        message.starts_with("scenarios/bad.toml:4: warmup `soon`"),
        "{message}"
    );
    let message = error(&replace(
        "connections = [16, 64]",
        "connections = [16, 64]\ntimeout = 5",
    ));
    assert!(
        message.starts_with("scenarios/bad.toml:4: timeout: invalid type"),
        "{message}"
    );
    assert!(message.contains("expected a string"), "{message}");
    let message = error(&replace("\"application/json\" }", "5 }"));
    assert!(
        message.starts_with("scenarios/bad.toml:15: \"Content-Type\": invalid type"),
        "{message}"
    );
}

#[test]
fn weight_zero() {
    assert_eq!(
        error(&replace("weight = 2", "weight = 0")),
        r#"scenarios/bad.toml:11: request "orders": weight must be >= 1"#
    );
}

#[test]
fn template_error_in_path_and_body() {
    let message = error(&replace("path = \"/health\"", "path = \"/u/{rand:5..1}\""));
    assert_eq!(
        message,
        "scenarios/bad.toml:7: request \"health\": path: `{rand:5..1}`: low bound 5 is above high bound 1"
    );
    let message = error(&replace("{rand:1..9}", "{rand:x..9}"));
    assert!(
        message.starts_with("scenarios/bad.toml:14: request \"orders\": body: `{rand:x..9}`"),
        "{message}"
    );
}

#[test]
fn duplicate_request_name() {
    assert_eq!(
        error(&replace("name = \"orders\"", "name = \"health\"")),
        "scenarios/bad.toml:10: request \"health\": duplicate name (first used on line 6)"
    );
}

#[test]
fn rate_with_several_connections() {
    let text = replace(
        "connections = [16, 64]",
        "connections = [16, 64]\nrate = 5000",
    );
    assert_eq!(
        error(&text),
        "scenarios/bad.toml:4: rate (open loop) needs exactly one `connections` entry, found 2"
    );
    let one = replace("connections = [16, 64]", "connections = [16]\nrate = 5000");
    assert_eq!(Scenario::parse(&one, PATH).unwrap().rate, Some(5000.0));
}

#[test]
fn empty_or_zero_connections() {
    assert_eq!(
        error(&replace("connections = [16, 64]", "connections = []")),
        "scenarios/bad.toml:3: connections must not be empty"
    );
    assert_eq!(
        error(&replace(
            "connections = [16, 64]",
            "connections = [16,\n 0]"
        )),
        "scenarios/bad.toml:4: connections: each entry must be 1..=1000000, got 0"
    );
}

#[test]
fn missing_path() {
    assert_eq!(
        error(&replace("path = \"/health\"\n", "")),
        "scenarios/bad.toml:6: request \"health\": `path` is required"
    );
}

#[test]
fn path_must_start_with_slash() {
    assert_eq!(
        error(&replace("path = \"/health\"", "path = \"health\"")),
        "scenarios/bad.toml:7: request \"health\": path `health` must start with '/'"
    );
    let message = error(&replace("path = \"/health\"", "path = \"/a b\""));
    assert_eq!(
        message,
        "scenarios/bad.toml:7: request \"health\": path `/a b` contains a space; write a space as %20"
    );
}

#[test]
fn missing_top_level_keys_and_requests() {
    assert_eq!(
        error(&replace("duration = \"10s\"\n", "")),
        "scenarios/bad.toml: missing field `duration`"
    );
    let no_requests = &VALID[..VALID.find("[[request]]").unwrap()];
    assert_eq!(
        error(no_requests),
        "scenarios/bad.toml: no [[request]] table; at least one request is required"
    );
    assert_eq!(
        error(&replace("name = \"health\"\n", "")),
        "scenarios/bad.toml:5: request #1: `name` is required and must not be empty"
    );
}

#[test]
fn other_value_checks() {
    let cases = [
        (
            "name = \"mini\"",
            "name = \"Mini\"",
            "1: name `Mini` must match [a-z0-9-]+",
        ),
        (
            "weight = 2",
            "weight = -1",
            "11: request \"orders\": weight must be >= 1",
        ),
        (
            "method = \"POST\"",
            "method = \"PO ST\"",
            "12: request \"orders\": method `PO ST`",
        ),
        (
            "expect_status = 201",
            "expect_status = 99",
            "16: request \"orders\": expect_status",
        ),
        (
            "\"Content-Type\" = \"application/json\"",
            "\"Content-Length\" = \"4\"",
            "15: request \"orders\": header `Content-Length`",
        ),
        (
            "\"Content-Type\" = \"application/json\"",
            "\"connection\" = \"close\"",
            "15: request \"orders\": header `connection` is set by the generator",
        ),
        (
            "\"Content-Type\" = \"application/json\"",
            "\"X-A\" = \"1\\r\\nX-Injected: yes\"",
            "15: request \"orders\": header `X-A`: the value contains a CR",
        ),
        (
            "connections = [16, 64]",
            "connections = [16, 64]\nrepeats = 0",
            "4: repeats must be >= 1, got 0",
        ),
        (
            "connections = [16, 64]",
            "connections = [16, 64]\nstartup_samples = 0",
            "4: startup_samples must be >= 1, got 0",
        ),
        (
            "connections = [16, 64]",
            "connections = [16, 64]\nquick_scale = 0",
            "4: quick_scale must be > 0 and <= 1",
        ),
    ];
    for (from, to, expected) in cases {
        let message = error(&replace(from, to));
        assert!(
            message.starts_with(&format!("{PATH}:{expected}")),
            "{to}: {message}"
        );
    }
}

#[test]
fn toml_syntax_error_has_a_line() {
    let message = error(&replace("weight = 2", "weight = = 2"));
    assert!(message.starts_with("scenarios/bad.toml:11: "), "{message}");
}

#[test]
fn quick_scales_durations_with_a_floor() {
    let text = replace(
        "connections = [16, 64]",
        "connections = [16, 64]\nwarmup = \"2s\"\nrepeats = 3\nstartup_samples = 5\nquick_scale = 0.05",
    );
    let full = Scenario::parse(&text, PATH).unwrap();
    let quick = full.quick();
    // 10s * 0.05 = 500ms, raised to the 1s floor; warmup has no floor.
    assert_eq!(quick.duration, Duration::from_secs(1));
    assert_eq!(quick.warmup, Duration::from_millis(100));
    assert_eq!((quick.repeats, quick.startup_samples), (1, 3));
    assert_eq!(
        quick.warmup_max,
        Duration::from_secs(15),
        "detection stays, capped"
    );
    assert!(quick.steady_state);
    assert_eq!(quick.requests, full.requests);
    assert_eq!(quick.connections, full.connections);
}

#[test]
fn steady_state_keys_are_validated() {
    let with = |extra: &str| {
        replace(
            "connections = [16, 64]",
            &format!("connections = [16, 64]\n{extra}"),
        )
    };
    let s = Scenario::parse(
        &with("steady_state = false\nwarmup_max = \"20s\"\nmax_error_rate = \"0.1%\"\ninterleave = true"),
        PATH,
    )
    .unwrap();
    assert!(!s.steady_state && s.interleave);
    assert_eq!(s.warmup_max, Duration::from_secs(20));
    assert!((s.max_error_rate - 0.001).abs() < 1e-12);
    let err = Scenario::parse(&with("max_error_rate = \"lots\""), PATH)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("max_error_rate `lots` is not a percentage"),
        "{err}"
    );
    let err = Scenario::parse(&with("warmup = \"30s\"\nwarmup_max = \"10s\""), PATH)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("warmup_max (10s) is shorter than warmup (30s)"),
        "{err}"
    );
}

#[test]
fn load_names_a_missing_file() {
    let message = Scenario::load("scenarios/does-not-exist.toml")
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("scenarios/does-not-exist.toml: cannot read"),
        "{message}"
    );
}

#[test]
fn protocols_are_one_name_or_a_list_with_a_depth_each() {
    use crate::load::protocol::ProtocolName;
    let plain = Scenario::parse(VALID, PATH).unwrap();
    assert_eq!(plain.protocols, [ProtocolName::H1]);
    assert_eq!((plain.pipeline, plain.streams), (1, 1));
    let one = replace(
        "duration = \"10s\"",
        "duration = \"10s\"\nprotocol = \"h2\"\nstreams = 8",
    );
    let one = Scenario::parse(&one, PATH).unwrap();
    assert_eq!(
        (one.protocols.as_slice(), one.streams),
        (&[ProtocolName::H2][..], 8)
    );
    let list = replace(
        "duration = \"10s\"",
        "duration = \"10s\"\nprotocol = [\"h1\", \"h1-tls\", \"h2c\", \"h2\"]\npipeline = 16",
    );
    let list = Scenario::parse(&list, PATH).unwrap();
    assert_eq!(list.protocols, ProtocolName::ALL);
    assert_eq!(list.pipeline, 16);
}

#[test]
fn bad_protocols_name_the_key_and_line() {
    let e = error(&replace(
        "duration = \"10s\"",
        "duration = \"10s\"\nprotocol = \"h3\"",
    ));
    assert_eq!(
        e,
        "scenarios/bad.toml:3: protocol: unknown protocol 'h3' (expected h1, h1-tls, h2c or h2)"
    );
    let e = error(&replace(
        "duration = \"10s\"",
        "duration = \"10s\"\nprotocol = [\"h2\", \"h2\"]",
    ));
    assert!(e.ends_with("protocol: h2 is listed twice"), "{e}");
    let e = error(&replace(
        "duration = \"10s\"",
        "duration = \"10s\"\nprotocol = []",
    ));
    assert!(
        e.ends_with("protocol must name at least one protocol"),
        "{e}"
    );
    let e = error(&replace(
        "duration = \"10s\"",
        "duration = \"10s\"\npipeline = 0",
    ));
    assert_eq!(e, "scenarios/bad.toml:3: pipeline must be 1..=1024, got 0");
    let e = error(&replace(
        "duration = \"10s\"",
        "duration = \"10s\"\nstreams = 5000",
    ));
    assert_eq!(
        e,
        "scenarios/bad.toml:3: streams must be 1..=1024, got 5000"
    );
    let chain = replace(
        "duration = \"10s\"",
        "duration = \"10s\"\nprotocol = \"h2c\"",
    ) + "\n[chain]\n";
    assert!(error(&chain).contains("a [chain] scenario runs on h1 only"));
}
