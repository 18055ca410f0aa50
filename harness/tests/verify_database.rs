//! The database-mode rules against an in-process server with a fake database: a
//! correct server passes them, and each way of getting database mode wrong fails
//! exactly the rules that judge it.

mod support;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lanebench::verify::{verify_server_with, OrderDatabase, VerifyOptions, VerifyReport};
use support::{ContractServer, Flaw};

const DATABASE_RULES: [&str; 5] = [
    "db.consistent_across_connections",
    "db.cap_16_across_connections",
    "db.rollback_leaves_nothing",
    "db.orders_survive",
    "db.unavailable_503",
];

fn options() -> VerifyOptions {
    VerifyOptions {
        request_timeout: Duration::from_secs(2),
        database_mode: true,
        ..VerifyOptions::default()
    }
}

fn verify(flaw: Flaw) -> VerifyReport {
    let (server, database) = ContractServer::start_database_mode(flaw);
    verify_server_with(
        server.addr(),
        &options(),
        Some(&database as &dyn OrderDatabase),
    )
}

fn failed(report: &VerifyReport) -> Vec<&str> {
    let mut failed: Vec<&str> = report.failures().map(|r| r.rule.as_str()).collect();
    failed.sort_unstable();
    failed
}

fn observed<'a>(report: &'a VerifyReport, rule: &str) -> &'a str {
    &report
        .rule(rule)
        .unwrap_or_else(|| panic!("{rule} did not run"))
        .observed
}

#[test]
fn a_correct_database_mode_server_passes_every_rule() {
    let report = verify(Flaw::None);
    assert!(report.all_passed(), "{:#?}", report.rules);
    for rule in DATABASE_RULES {
        assert!(report.rule(rule).is_some(), "{rule} did not run");
    }
    assert!(observed(&report, "db.rollback_leaves_nothing")
        .contains("database holds only the earlier order"));
    assert!(observed(&report, "db.orders_survive").contains("stored in the database"));
    assert!(observed(&report, "db.unavailable_503").contains("POST /api/orders 503"));
}

#[test]
fn per_worker_stores_fail_the_cross_connection_rules() {
    let report = verify(Flaw::SplitWorkers);
    assert_eq!(
        failed(&report),
        [
            "db.cap_16_across_connections",
            "db.consistent_across_connections",
            "db.orders_survive"
        ],
        "{:#?}",
        report.rules
    );
    // Two stores interleave ids and each lists only its own half.
    let text = observed(&report, "db.consistent_across_connections");
    assert!(
        text.contains("not increasing") || text.contains("missing"),
        "{text}"
    );
    let text = observed(&report, "db.orders_survive");
    assert!(text.contains("another connection lists"), "{text}");
}

#[test]
fn a_half_written_order_fails_the_rollback_rule() {
    let report = verify(Flaw::HalfWrittenOrder);
    assert_eq!(
        failed(&report),
        ["db.rollback_leaves_nothing"],
        "{:#?}",
        report.rules
    );
    let text = observed(&report, "db.rollback_leaves_nothing");
    assert!(text.contains("changed the user's list"), "{text}");
}

#[test]
fn a_product_id_beyond_bigint_must_be_refused() {
    let report = verify(Flaw::AcceptsHugeProductId);
    assert_eq!(
        failed(&report),
        ["db.rollback_leaves_nothing"],
        "{:#?}",
        report.rules
    );
    let text = observed(&report, "db.rollback_leaves_nothing");
    assert!(
        text.contains("9223372036854775808") && text.contains("expected 400"),
        "{text}"
    );
}

#[test]
fn a_server_that_hangs_without_its_database_fails_within_the_timeout() {
    let started = Instant::now();
    let report = verify(Flaw::HangsWithoutDatabase);
    assert_eq!(
        failed(&report),
        ["db.unavailable_503"],
        "{:#?}",
        report.rules
    );
    let text = observed(&report, "db.unavailable_503");
    assert!(
        text.contains("with the database gone") && text.contains("request failed"),
        "{text}"
    );
    // One timed-out request ends the rule: the check does not wait for every request.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn rows_left_behind_are_found_in_the_database_even_when_the_list_hides_them() {
    // A server that lists correctly but wrote a stray order: only the database shows it.
    struct Extra(support::FakeDatabase);
    impl OrderDatabase for Extra {
        fn stored_orders(
            &self,
            user_id: u64,
        ) -> Result<Vec<lanebench::store::StoredOrder>, String> {
            let mut stored = self.0.stored_orders(user_id)?;
            stored.push(lanebench::store::StoredOrder {
                id: u64::MAX,
                items: 1,
            });
            Ok(stored)
        }
        fn take_away(&self) -> Result<(), String> {
            self.0.take_away()
        }
    }
    let (server, database) = ContractServer::start_database_mode(Flaw::None);
    let report = verify_server_with(server.addr(), &options(), Some(&Extra(database)));
    assert_eq!(
        failed(&report),
        ["db.orders_survive", "db.rollback_leaves_nothing"],
        "{:#?}",
        report.rules
    );
    assert!(observed(&report, "db.rollback_leaves_nothing").contains("database rows for user"));
}

#[test]
fn without_a_database_only_the_http_side_runs_and_memory_mode_has_no_database_rules() {
    let (server, _database) = ContractServer::start_database_mode(Flaw::None);
    let report = verify_server_with(server.addr(), &options(), None);
    assert!(report.all_passed(), "{:#?}", report.rules);
    assert!(report.rule("db.consistent_across_connections").is_some());
    assert!(report.rule("db.unavailable_503").is_none());

    let memory = ContractServer::start(Flaw::None);
    let memory_options = VerifyOptions {
        database_mode: false,
        ..options()
    };
    let report = verify_server_with(memory.addr(), &memory_options, None);
    assert!(report.all_passed(), "{:#?}", report.rules);
    assert!(report.rules.iter().all(|r| !r.rule.starts_with("db.")));
}

#[test]
fn a_set_stop_flag_ends_the_check_at_once() {
    let (server, database) = ContractServer::start_database_mode(Flaw::None);
    let stopped = VerifyOptions {
        stop: Some(Arc::new(AtomicBool::new(true))),
        ..options()
    };
    let report = verify_server_with(
        server.addr(),
        &stopped,
        Some(&database as &dyn OrderDatabase),
    );
    for rule in [
        "health.shape",
        "orders.create",
        "db.consistent_across_connections",
        "db.unavailable_503",
    ] {
        let outcome = report.rule(rule).unwrap();
        assert!(
            !outcome.passed && outcome.observed.contains("interrupted"),
            "{outcome:?}"
        );
    }
}
