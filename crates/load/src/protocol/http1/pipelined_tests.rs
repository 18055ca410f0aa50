//! The pipelined HTTP/1.1 session ([`Http1`] as a [`Protocol`]) fed what a server might
//! send, whole or in pieces: it never panics, answers only lanes that were sent, in the
//! order they were sent, each once, and how the bytes are split changes nothing.

use proptest::prelude::*;

use super::Http1;
use crate::outcome::{ErrorKind, ExpectedStatus};
use crate::protocol::{Event, Protocol};
use crate::request::{Endpoint, PreparedRequest};

fn request(method: &str) -> PreparedRequest {
    let endpoint = Endpoint::parse("http://127.0.0.1:1/", false).unwrap();
    PreparedRequest::build(
        method,
        &endpoint,
        "/",
        &[],
        b"",
        ExpectedStatus::SuccessOrRedirect,
    )
    .unwrap()
}

/// Sends lanes `0..heads.len()` (a HEAD where `heads` says so), then feeds `data` cut
/// at `cuts` as far as the first error, then the server closes. The events and the
/// error.
fn feed(heads: &[bool], data: &[u8], cuts: &[usize]) -> (Vec<Event>, Option<ErrorKind>) {
    let protocol = Http1;
    let mut session = protocol.session();
    let mut out = Vec::new();
    protocol.opened(&mut session, &mut out);
    let (get, head) = (request("GET"), request("HEAD"));
    for (lane, &is_head) in heads.iter().enumerate() {
        let r = if is_head { &head } else { &get };
        protocol.send(&mut session, lane, 0, r, &r.bytes, &mut out);
    }
    let mut events = Vec::new();
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    ends.sort_unstable();
    ends.push(data.len());
    let mut at = 0;
    for end in ends {
        if let Err(kind) = protocol.received(&mut session, &data[at..end], &mut out, &mut events) {
            return (events, Some(kind));
        }
        at = end;
    }
    protocol.closed(&mut session, &mut events);
    (events, None)
}

fn check(heads: &[bool], data: &[u8], cuts: &[usize]) {
    let (events, error) = feed(heads, data, cuts);
    let mut next = 0;
    for event in &events {
        let (Event::Answered { lane, .. } | Event::Failed { lane, .. }) = *event;
        assert_eq!(lane, next, "answers out of the order sent: {events:?}");
        next += 1;
    }
    assert!(next <= heads.len(), "a lane never sent: {events:?}");
    if error.is_none() {
        assert_eq!(next, heads.len(), "a lane was forgotten: {events:?}");
    }
    assert_eq!((events, error), feed(heads, data, &[]), "whole vs. split");
}

/// Answers a server might send, and pieces of them.
fn answer() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()),
        Just(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()),
        Just(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
        Just(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end".to_vec()),
        Just(b"HTTP/1.1 503 X\r\nX-Degraded: true\r\nContent-Length: 1\r\n\r\nx".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..16),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        heads in proptest::collection::vec(any::<bool>(), 0..6),
        data in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        check(&heads, &data, &cuts);
    }

    #[test]
    fn arbitrary_answers_never_panic(
        heads in proptest::collection::vec(any::<bool>(), 0..6),
        answers in proptest::collection::vec(answer(), 0..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        check(&heads, &answers.concat(), &cuts);
    }
}
