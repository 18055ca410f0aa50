//! The pipelined-order rule (CONTRACT.md, "Protocols"): on HTTP/1.1, plain or over TLS,
//! requests written before the first answer are all answered, in the order sent, on
//! the same connection. Sixteen requests (the depth of the usual pipelined benchmarks)
//! go out in one write: users with different ids and two paths that are 404s, so an
//! answer out of place shows by its status or its id. The answers are read by the
//! engine's own parser, one after the other as they are delimited.

use std::io::Write;

use super::http_client::{encode_request, Response};
use super::{describe, Exchange, Session};
use crate::load::exchange::{ExchangeError, Exchanger};
use crate::targets::Connector;

/// Requests written at once.
pub const PIPELINE_DEPTH: usize = 16;
/// Largest answer body kept.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One request of the sequence and what must answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    path: String,
    /// `Some(id)`: 200 with that user; `None`: 404.
    user: Option<i64>,
}

impl Expected {
    fn request(&self) -> String {
        format!("GET {}", self.path)
    }

    fn matches(&self, response: &Response) -> bool {
        match self.user {
            Some(id) => response.status == 200 && answered_id(response) == Some(id),
            None => response.status == 404,
        }
    }
}

fn answered_id(response: &Response) -> Option<i64> {
    response.json().ok()?.get("id")?.as_i64()
}

/// The sixteen requests: users 1, 2, 3, ... with 404s in places 6 and 12.
fn sequence() -> Vec<Expected> {
    let mut ids = 1..;
    (0..PIPELINE_DEPTH)
        .map(|index| match index {
            5 => Expected {
                path: "/api/users/0".to_string(),
                user: None,
            },
            11 => Expected {
                path: "/no/such/path".to_string(),
                user: None,
            },
            _ => {
                let id = ids.next().unwrap_or(1) * 7;
                Expected {
                    path: format!("/api/users/{id}"),
                    user: Some(id),
                }
            }
        })
        .collect()
}

/// Records `connection.pipelined_order` (HTTP/1.1 protocols only), and the answers
/// for the header rules.
pub(super) fn check_pipelined_order(session: &mut Session) {
    if session.connector.protocol().http2() {
        return;
    }
    if session.interrupted() {
        return session.record("connection.pipelined_order", false, "interrupted");
    }
    let (verdict, answered) = pipelined(&session.connector);
    session.exchanges.extend(answered);
    session.record_result("connection.pipelined_order", verdict);
}

/// Writes the sequence on one new connection and judges the answers: the verdict,
/// and every answer read with its request.
fn pipelined(connector: &Connector) -> (Result<String, String>, Vec<Exchange>) {
    let expected = sequence();
    let addr = connector.addr();
    let mut stream = match connector.connect_h1() {
        Ok(stream) => stream,
        Err(err) => return (Err(format!("connect: {err}")), Vec::new()),
    };
    let bytes: Vec<u8> = expected
        .iter()
        .flat_map(|e| encode_request("GET", &e.path, &addr, None))
        .collect();
    if let Err(err) = stream.write_all(&bytes).and_then(|()| stream.flush()) {
        return (
            Err(format!("writing {PIPELINE_DEPTH} requests: {err}")),
            Vec::new(),
        );
    }
    let (messages, failure) =
        match Exchanger::default().read_pipelined(&mut stream, PIPELINE_DEPTH, MAX_BODY_BYTES) {
            Ok(messages) => (messages, None),
            Err((messages, error)) => (messages, Some(error)),
        };
    let answered: Vec<Exchange> = expected
        .iter()
        .zip(messages)
        .map(|(e, message)| Exchange {
            request: format!("{} (pipelined)", e.request()),
            response: Response::from(message),
        })
        .collect();
    let verdict = judge(&expected, &answered, failure);
    (verdict, answered)
}

/// Every answer in its place, and all of them there.
fn judge(
    expected: &[Expected],
    answered: &[Exchange],
    failure: Option<ExchangeError>,
) -> Result<String, String> {
    for (index, (want, got)) in expected.iter().zip(answered).enumerate() {
        let response = &got.response;
        if !want.matches(response) {
            return Err(out_of_place(expected, index, response));
        }
        if !response.keeps_connection() && index + 1 < expected.len() {
            let left = expected.len() - index - 1;
            return Err(format!(
                "answer {} ({}) closes the connection with {left} pipelined request(s) unanswered",
                index + 1,
                want.request()
            ));
        }
    }
    if let Some(error) = failure {
        let missing = &expected[answered.len()];
        let why = match error {
            ExchangeError::Closed => "the server closed the connection".to_string(),
            e if e.is_timeout() => "nothing more came before the timeout".to_string(),
            e => e.to_string(),
        };
        return Err(format!(
            "{} of {PIPELINE_DEPTH} pipelined requests answered, then {why}: answer {} ({}) is missing",
            answered.len(),
            answered.len() + 1,
            missing.request()
        ));
    }
    Ok(format!(
        "{PIPELINE_DEPTH} requests in one write, {PIPELINE_DEPTH} answers in order on one connection"
    ))
}

/// Why answer `index` is not the one expected there, naming the request it answers
/// when it belongs to another one.
fn out_of_place(expected: &[Expected], index: usize, response: &Response) -> String {
    let want = &expected[index];
    let owner = expected
        .iter()
        .position(|e| e.user.is_some() && e.matches(response));
    match owner {
        Some(other) => format!(
            "answer {} is the answer to request {} ({}), not to request {} ({}): out of order",
            index + 1,
            other + 1,
            expected[other].request(),
            index + 1,
            want.request()
        ),
        None => format!(
            "answer {} (to {}) is {}",
            index + 1,
            want.request(),
            describe(response)
        ),
    }
}

#[cfg(test)]
#[path = "rules_pipeline_tests.rs"]
mod tests;
