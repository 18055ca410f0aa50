//! The service-to-service rules (CONTRACT.md, "Service-to-service mode"), in two
//! parts that the CLI runs on separately started processes:
//!
//! - end to end ([`verify_chain_end_to_end`]): a user service calling a real order
//!   service, checked for what flows through it (and, in database mode, where the
//!   orders are stored);
//! - faults ([`verify_chain_faults`]): a user service calling the harness's
//!   [`FakeOrders`], which fails on demand, so that the fallbacks, their deadline, the
//!   number of downstream calls and the recovery can be provoked and judged;
//! - the circuit breaker ([`verify_breaker`], [`verify_breaker_off`]): a user service
//!   calling a [`FakeOrders`], started with a short breaker, then with none.
//!
//! The rules that need a process of their own (a user service started with a bad
//! environment) are judged by [`env_rule`] from what the launch gave.

use std::net::SocketAddr;
use std::time::Duration;

use super::fake_orders::FakeOrders;
use super::{RuleOutcome, Session, VerifyOptions, VerifyReport};

pub use super::chain_judge::{
    fallback_bound, ChainDatabases, FAULT_DOWNSTREAM_TIMEOUT_MS, RECOVERY_WITHIN,
    SCHEDULING_ALLOWANCE,
};
pub use super::rules_breaker::{
    fail_fast_bound, BREAKER_DOWNSTREAM_TIMEOUT_MS, CHECKED_FAILURES, CHECKED_OPEN_MS,
};

/// The environments a user service must refuse (exit code 2, one line on stderr), with
/// the rule each one is judged by. `{orders}` stands for a valid ORDERS_URL.
pub const BAD_ENVIRONMENTS: [(&str, &str, &str); 8] = [
    ("chain.env_other_scheme", "ORDERS_URL", "ftp://127.0.0.1:1"),
    ("chain.env_no_port", "ORDERS_URL", "http://127.0.0.1"),
    ("chain.env_path", "ORDERS_URL", "http://127.0.0.1:1/x"),
    ("chain.env_timeout_zero", "DOWNSTREAM_TIMEOUT_MS", "0"),
    ("chain.env_connections_abc", "DOWNSTREAM_CONNECTIONS", "abc"),
    ("breaker.env_failures_negative", "BREAKER_FAILURES", "-1"),
    ("breaker.env_failures_abc", "BREAKER_FAILURES", "abc"),
    ("breaker.env_open_zero", "BREAKER_OPEN_MS", "0"),
];

/// Checks what flows through the user service at `user` calling the order service at
/// `orders` (a target started without `ORDERS_URL`, also checked for having no summary).
pub fn verify_chain_end_to_end(
    user: SocketAddr,
    orders: SocketAddr,
    options: &VerifyOptions,
    databases: Option<&ChainDatabases>,
) -> VerifyReport {
    let mut session = Session::new(user, options);
    super::rules_chain_e2e::check(&mut session, orders, databases);
    VerifyReport {
        base_url: format!("http://{user}"),
        protocol: crate::load::protocol::ProtocolName::H1,
        rules: session.outcomes,
    }
}

/// Checks the user service at `user`, started with `ORDERS_URL` at `fake` and
/// `DOWNSTREAM_TIMEOUT_MS` = [`FAULT_DOWNSTREAM_TIMEOUT_MS`], against every failure of
/// the order service. `still_running` says whether the user service is still alive
/// (`Err` with how it ended otherwise).
pub fn verify_chain_faults(
    user: SocketAddr,
    fake: &mut FakeOrders,
    options: &VerifyOptions,
    still_running: &mut dyn FnMut() -> Result<(), String>,
) -> VerifyReport {
    let mut session = Session::new(user, options);
    super::rules_chain_faults::check(&mut session, fake);
    let never_500 = never_500(&session, still_running());
    session.record_result("chain.never_500", never_500);
    VerifyReport {
        base_url: format!("http://{user}"),
        protocol: crate::load::protocol::ProtocolName::H1,
        rules: session.outcomes,
    }
}

/// Checks the circuit breaker of the user service at `user`, started as one process
/// with `ORDERS_URL` at `fake`, `BREAKER_FAILURES` = [`CHECKED_FAILURES`],
/// `BREAKER_OPEN_MS` = [`CHECKED_OPEN_MS`] and `DOWNSTREAM_TIMEOUT_MS` =
/// [`BREAKER_DOWNSTREAM_TIMEOUT_MS`].
pub fn verify_breaker(
    user: SocketAddr,
    fake: &mut FakeOrders,
    options: &VerifyOptions,
) -> VerifyReport {
    let mut session = Session::new(user, options);
    super::rules_breaker::check(&mut session, fake);
    VerifyReport {
        base_url: format!("http://{user}"),
        protocol: crate::load::protocol::ProtocolName::H1,
        rules: session.outcomes,
    }
}

/// Checks the user service at `user`, started like [`verify_breaker`]'s but with
/// `BREAKER_FAILURES=0`, calls the order service every time.
pub fn verify_breaker_off(
    user: SocketAddr,
    fake: &mut FakeOrders,
    options: &VerifyOptions,
) -> VerifyReport {
    let mut session = Session::new(user, options);
    super::rules_breaker::check_off(&mut session, fake);
    VerifyReport {
        base_url: format!("http://{user}"),
        protocol: crate::load::protocol::ProtocolName::H1,
        rules: session.outcomes,
    }
}

/// The outcome of a bad-environment rule from how the launch ended: `exited` is the
/// exit status and stderr when the process exited before it was ready, `None` when it
/// started serving.
pub fn env_rule(
    rule: &str,
    variable: &str,
    value: &str,
    exited: Option<(&str, &[String])>,
    took: Duration,
) -> RuleOutcome {
    let setting = format!("{variable}={value}");
    let (passed, observed) = match exited {
        None => (
            false,
            format!("{setting}: started and answered its health check"),
        ),
        Some((status, stderr)) => {
            let lines: Vec<&String> = stderr.iter().filter(|l| !l.trim().is_empty()).collect();
            let ms = took.as_millis();
            let said = lines
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(" | ");
            match (status == "exit code 2", lines.len()) {
                (true, 1) => (
                    true,
                    format!("{setting}: exit code 2 after {ms} ms: {said}"),
                ),
                (true, n) => (
                    false,
                    format!("{setting}: exit code 2, but {n} lines on stderr, not one: {said}"),
                ),
                (false, _) => (
                    false,
                    format!("{setting}: {status}, not exit code 2: {said}"),
                ),
            }
        }
    };
    RuleOutcome {
        rule: rule.to_string(),
        passed,
        observed,
    }
}

fn never_500(session: &Session, alive: Result<(), String>) -> Result<String, String> {
    let errors: Vec<&str> = session
        .exchanges
        .iter()
        .filter(|e| e.response.status == 500)
        .map(|e| e.request.as_str())
        .collect();
    if let Some(first) = errors.first() {
        return Err(format!(
            "{} answers were 500, first to {first}",
            errors.len()
        ));
    }
    alive.map_err(|how| format!("the user service died: {how}"))?;
    Ok(format!(
        "no 500 in {} answers; still running",
        session.exchanges.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_env_rule_wants_exit_2_and_one_line() {
        let line = vec!["error: ORDERS_URL has no port".to_string()];
        let ok = env_rule(
            "r",
            "ORDERS_URL",
            "x",
            Some(("exit code 2", &line)),
            Duration::ZERO,
        );
        assert!(ok.passed, "{}", ok.observed);
        let two = vec!["a".to_string(), "b".to_string()];
        assert!(!env_rule("r", "V", "x", Some(("exit code 2", &two)), Duration::ZERO).passed);
        assert!(!env_rule("r", "V", "x", Some(("exit code 1", &line)), Duration::ZERO).passed);
        assert!(!env_rule("r", "V", "x", None, Duration::ZERO).passed);
    }
}
