//! The endpoint-contract checker: runs every rule of `targets/CONTRACT.md` against a
//! server on a loopback address and returns a plain report.
//!
//! Rules talk to the server through [`http_client`], record every exchange so the
//! protocol rules (one JSON Content-Type, framing, Date) can judge all responses seen,
//! and never print: presenting the report is the CLI's job.
//!
//! Every rule speaks the protocol the server was started with ([`VerifyOptions`]'s
//! `protocol`, through the same [`HttpClient`]); on HTTP/1.1 (`h1`, `h1-tls`) the
//! pipelined-order rule runs as well (`rules_pipeline`).
//!
//! In database mode (`STORE=postgres`) the database rules run as well
//! (`rules_database`); given an [`OrderDatabase`], they also read the target's
//! database to see what was really written.
//!
//! The service-to-service rules (`chain`) judge a user service, end to end against a
//! real order service and against the harness's [`fake_orders::FakeOrders`], its
//! circuit breaker included (`rules_breaker`).

pub mod chain;
mod chain_judge;
pub mod fake_orders;
pub mod http_client;
mod rules_breaker;
mod rules_chain_e2e;
mod rules_chain_faults;
mod rules_database;
mod rules_endpoints;
mod rules_orders;
mod rules_pipeline;
mod rules_protocol;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::load::protocol::ProtocolName;
use crate::store::StoredOrder;
use crate::targets::{Connector, TlsCert};
use http_client::{HttpClient, Response};

/// Settings for one verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Bound on connecting and on each read or write.
    pub request_timeout: Duration,
    /// How far a server timestamp may be from the harness clock.
    pub clock_tolerance: Duration,
    /// The server runs in database mode: also check the database rules.
    pub database_mode: bool,
    /// Once set (SIGINT, SIGTERM), every further request fails at once as interrupted.
    pub stop: Option<Arc<AtomicBool>>,
    /// The protocol every rule speaks (the one the server was started with).
    pub protocol: ProtocolName,
    /// The certificate the server was given, trusted for `h1-tls` and `h2`.
    pub tls: Option<TlsCert>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            request_timeout: Duration::from_secs(5),
            clock_tolerance: Duration::from_secs(5),
            database_mode: false,
            stop: None,
            protocol: ProtocolName::H1,
            tls: None,
        }
    }
}

/// The database a target in database mode keeps its orders in, as the rules see it.
pub trait OrderDatabase {
    /// The orders of `user_id` stored in the database, by id, with their item counts.
    fn stored_orders(&self, user_id: u64) -> Result<Vec<StoredOrder>, String>;
    /// Takes the database away from the target (dropped, its connections ended), for
    /// the last rule: requests that need it must then get a 503 rather than hang.
    fn take_away(&self) -> Result<(), String>;
}

/// The verdict of one rule.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RuleOutcome {
    /// Stable rule name, e.g. `users.out_of_range_0`.
    pub rule: String,
    /// Whether the server satisfied the rule.
    pub passed: bool,
    /// What was observed (status, body excerpt, header values).
    pub observed: String,
}

/// All rule outcomes for one server, in the order they ran.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The server checked, as `http://127.0.0.1:PORT` (`https://` over TLS).
    pub base_url: String,
    /// The protocol the rules spoke.
    pub protocol: ProtocolName,
    /// One outcome per rule.
    pub rules: Vec<RuleOutcome>,
}

impl VerifyReport {
    /// True when every rule passed.
    pub fn all_passed(&self) -> bool {
        self.rules.iter().all(|rule| rule.passed)
    }

    /// The outcomes that failed.
    pub fn failures(&self) -> impl Iterator<Item = &RuleOutcome> {
        self.rules.iter().filter(|rule| !rule.passed)
    }

    /// The outcome of rule `name`, if it ran.
    pub fn rule(&self, name: &str) -> Option<&RuleOutcome> {
        self.rules.iter().find(|rule| rule.rule == name)
    }
}

/// Checks every contract rule against the server at `addr` (and the database rules
/// that need only HTTP when `options.database_mode` is set).
pub fn verify_server(addr: SocketAddr, options: &VerifyOptions) -> VerifyReport {
    verify_server_with(addr, options, None)
}

/// Like [`verify_server`]; in database mode, `database` (the target's own database)
/// adds the checks of what was stored and, last, of a database that went away.
pub fn verify_server_with(
    addr: SocketAddr,
    options: &VerifyOptions,
    database: Option<&dyn OrderDatabase>,
) -> VerifyReport {
    let base_url = format!("{}://{addr}", options.protocol.scheme());
    let connector = Connector::new(
        options.protocol,
        addr,
        options.tls.as_ref(),
        options.request_timeout,
    );
    let connector = match connector {
        Ok(connector) => connector,
        Err(error) => {
            let rule = RuleOutcome {
                rule: "protocol.client".to_string(),
                passed: false,
                observed: error.to_string(),
            };
            return VerifyReport {
                base_url,
                protocol: options.protocol,
                rules: vec![rule],
            };
        }
    };
    let mut session = Session::on(connector, options);
    rules_endpoints::check_health(&mut session);
    rules_endpoints::check_users(&mut session);
    rules_orders::check_orders(&mut session);
    if options.database_mode {
        rules_database::check_database(&mut session, database);
    }
    rules_endpoints::check_routing(&mut session);
    rules_protocol::check_date_changes(&mut session);
    rules_protocol::check_keep_alive(&mut session);
    rules_protocol::check_content_length_exact(&mut session);
    rules_pipeline::check_pipelined_order(&mut session);
    rules_protocol::check_recorded_headers(&mut session);
    if let (true, Some(database)) = (options.database_mode, database) {
        rules_database::check_database_gone(&mut session, database);
    }
    VerifyReport {
        base_url,
        protocol: options.protocol,
        rules: session.outcomes,
    }
}

/// One request and what came back, kept for the protocol rules.
struct Exchange {
    request: String,
    response: Response,
}

/// State shared by the rules of one verification.
struct Session {
    addr: SocketAddr,
    /// Connections on the protocol checked.
    connector: Connector,
    options: VerifyOptions,
    client: HttpClient,
    exchanges: Vec<Exchange>,
    outcomes: Vec<RuleOutcome>,
}

impl Session {
    /// A session on plain HTTP/1.1 (the service-to-service rules).
    fn new(addr: SocketAddr, options: &VerifyOptions) -> Session {
        Session::on(Connector::h1(addr, options.request_timeout), options)
    }

    fn on(connector: Connector, options: &VerifyOptions) -> Session {
        Session {
            addr: connector.addr(),
            connector: connector.clone(),
            options: options.clone(),
            client: HttpClient::on(connector),
            exchanges: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    /// Sends a request on the shared keep-alive connection and records the exchange.
    fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<Response, String> {
        self.send_on(None, method, path, body)
    }

    /// Sends a request on a new connection of its own (closed after it), so requests
    /// of a multi-process server spread over its processes; records the exchange.
    fn send_fresh(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Response, String> {
        let mut client = HttpClient::on(self.connector.clone());
        self.send_on(Some(&mut client), method, path, body)
    }

    fn send_on(
        &mut self,
        client: Option<&mut HttpClient>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Response, String> {
        let request = format!("{method} {path}");
        if self.interrupted() {
            return Err(format!("{request}: interrupted"));
        }
        let client = client.unwrap_or(&mut self.client);
        let response = client
            .request(method, path, body.map(str::as_bytes))
            .map_err(|err| format!("{request}: request failed: {err}"))?;
        self.exchanges.push(Exchange {
            request,
            response: response.clone(),
        });
        Ok(response)
    }

    fn interrupted(&self) -> bool {
        self.options
            .stop
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::SeqCst))
    }

    fn record(&mut self, rule: &str, passed: bool, observed: impl Into<String>) {
        self.outcomes.push(RuleOutcome {
            rule: rule.to_string(),
            passed,
            observed: observed.into(),
        });
    }

    /// Records a rule from a check that yields the observation or the failure reason.
    fn record_result(&mut self, rule: &str, result: Result<String, String>) {
        match result {
            Ok(observed) => self.record(rule, true, observed),
            Err(observed) => self.record(rule, false, observed),
        }
    }

    /// Whether an epoch-milliseconds value is within the clock tolerance of now.
    fn near_now(&self, epoch_ms: i64) -> bool {
        let tolerance = i64::try_from(self.options.clock_tolerance.as_millis()).unwrap_or(i64::MAX);
        (epoch_ms - now_epoch_ms()).abs() <= tolerance
    }
}

/// The harness clock in Unix epoch milliseconds.
fn now_epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `200 {"a":1}`: a status and body excerpt for observations.
fn describe(response: &Response) -> String {
    format!("{} {}", response.status, response.body_excerpt())
}

/// Checks a response is `expected_status` with a JSON object body holding a string
/// `error` field.
fn expect_json_error(response: &Response, expected_status: u16) -> Result<String, String> {
    let observed = describe(response);
    if response.status != expected_status {
        return Err(format!("expected {expected_status}, got {observed}"));
    }
    match response.json() {
        Ok(body) if body.get("error").is_some_and(|e| e.is_string()) => Ok(observed),
        Ok(_) => Err(format!("body is not {{\"error\":\"...\"}}: {observed}")),
        Err(err) => Err(format!("body is not JSON ({err}): {observed}")),
    }
}
