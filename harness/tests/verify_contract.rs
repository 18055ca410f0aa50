//! The contract verifier against an in-process server: a correct server passes every
//! rule, and each deliberate flaw fails exactly the rules that judge it.

mod support;

use std::time::Duration;

use lanebench::verify::{verify_server, VerifyOptions, VerifyReport};
use support::{ContractServer, Flaw};

fn verify(flaw: Flaw) -> VerifyReport {
    let server = ContractServer::start(flaw);
    let options = VerifyOptions {
        request_timeout: Duration::from_secs(3),
        ..VerifyOptions::default()
    };
    verify_server(server.addr(), &options)
}

/// Asserts the failed rules are exactly `expected`, with every other rule passing.
fn assert_fails_exactly(report: &VerifyReport, expected: &[&str]) {
    let mut failed: Vec<&str> = report.failures().map(|r| r.rule.as_str()).collect();
    failed.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(failed, expected, "unexpected verdicts: {:#?}", report.rules);
}

#[test]
fn correct_server_passes_every_rule() {
    let report = verify(Flaw::None);
    assert_fails_exactly(&report, &[]);
    assert!(report.all_passed());
    // Every rule of the contract ran, not just a lucky subset.
    for rule in [
        "health.shape",
        "health.timestamp_now",
        "users.valid_1",
        "users.valid_1000000",
        "users.out_of_range_0",
        "users.out_of_range_1000001",
        "users.non_integer_abc",
        "orders.create",
        "orders.ids_increasing",
        "orders.bad.malformed_json",
        "orders.bad.missing_field",
        "orders.bad.wrong_type",
        "orders.bad.empty_items",
        "orders.bad.quantity_zero",
        "orders.newest_first",
        "orders.cap_16",
        "routing.unknown_path_404",
        "routing.wrong_method_delete_health",
        "routing.wrong_method_get_orders",
        "headers.content_type_json",
        "headers.length_or_chunked",
        "headers.content_length_exact",
        "headers.date_present",
        "headers.date_changes",
        "connection.keep_alive_100",
        "connection.pipelined_order",
        "responses.no_5xx",
    ] {
        assert!(report.rule(rule).is_some(), "rule {rule} did not run");
    }
}

#[test]
fn wrong_content_type_fails_content_type_rule() {
    let report = verify(Flaw::WrongContentType);
    assert_fails_exactly(&report, &["headers.content_type_json"]);
    let observed = &report.rule("headers.content_type_json").unwrap().observed;
    assert!(observed.contains("text/plain"), "{observed}");
}

#[test]
fn duplicate_content_type_fails_content_type_rule() {
    let report = verify(Flaw::DuplicateContentType);
    assert_fails_exactly(&report, &["headers.content_type_json"]);
}

#[test]
fn missing_date_fails_date_rules() {
    let report = verify(Flaw::MissingDate);
    assert_fails_exactly(&report, &["headers.date_present", "headers.date_changes"]);
}

#[test]
fn server_error_on_bad_json_fails_bad_order_and_5xx_rules() {
    let report = verify(Flaw::ServerErrorOnBadJson);
    assert_fails_exactly(&report, &["orders.bad.malformed_json", "responses.no_5xx"]);
    assert!(report
        .rule("orders.bad.malformed_json")
        .unwrap()
        .observed
        .contains("500"));
}

#[test]
fn missing_order_cap_fails_cap_rule() {
    let report = verify(Flaw::NoOrderCap);
    assert_fails_exactly(&report, &["orders.cap_16"]);
    assert!(report
        .rule("orders.cap_16")
        .unwrap()
        .observed
        .contains("got 20"));
}

#[test]
fn wrong_content_length_fails_length_rule() {
    let report = verify(Flaw::ContentLengthInChars);
    // Only the 404 body is non-ASCII, so only the exchanges reading it see the lie
    // (the pipelined answers too: the one after the 404 starts in the wrong place).
    assert_fails_exactly(
        &report,
        &[
            "headers.content_length_exact",
            "routing.unknown_path_404",
            "connection.pipelined_order",
        ],
    );
    let observed = &report
        .rule("headers.content_length_exact")
        .unwrap()
        .observed;
    assert!(observed.contains("/no/such/path"), "{observed}");
}

#[test]
fn unreachable_server_fails_without_hanging() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let report = verify_server(addr, &VerifyOptions::default());
    assert!(!report.all_passed());
    assert!(report.rule("health.shape").is_some_and(|r| !r.passed));
}
