//! HTTP/2 through whole runs against a raw in-test server (h2c, and h2 over TLS with
//! ALPN): concurrent streams, the server's stream limit, the dynamic HPACK table, and
//! each error class the server can cause (RST_STREAM, GOAWAY, a frame too large).

mod common;

use common::h2::{serve_h2, Behaviour, Seen};
use common::{client, run, settings, tls, tls_client};
use lanebench_load::protocol::{ProtocolName, TlsTrust, TlsVersions};
use lanebench_load::result::LoadResult;

/// A run of `requests` on one connection with `streams` streams against `behaviour`.
fn h2c(behaviour: Behaviour, streams: usize, requests: u64) -> (LoadResult, Seen) {
    let (addr, seen) = serve_h2(behaviour, None);
    let result = run(settings(addr, false, requests), client(true, streams));
    let seen = seen.lock().unwrap().clone();
    (result, seen)
}

#[test]
fn streams_are_concurrent_and_answers_read_the_dynamic_table() {
    let behaviour = Behaviour {
        batch: 4,
        ..Behaviour::default()
    };
    let (result, seen) = h2c(behaviour, 4, 60);
    assert_eq!(result.successes, 60, "{:?}", result.errors);
    assert_eq!(result.errors.total(), 0);
    // Only the dynamic table's second entry says 201.
    assert_eq!(result.status_codes.get("201"), Some(&60));
    assert!(
        seen.max_open > 1,
        "the server never saw two streams open: {seen:?}"
    );
    assert!(seen.max_open <= 4, "{seen:?}");
    assert_eq!(seen.garbage, 0);
    assert_eq!(result.reconnects, 0);
    let facts = result.protocol.expect("protocol facts");
    assert_eq!(facts.name, ProtocolName::H2c);
    assert_eq!(facts.streams, Some(4));
    assert!(facts.http2.is_some());
}

#[test]
fn the_servers_stream_limit_holds_the_clients_streams() {
    let behaviour = Behaviour {
        max_streams: Some(1),
        batch: 1,
        ..Behaviour::default()
    };
    let (result, seen) = h2c(behaviour, 4, 30);
    assert_eq!(result.successes, 30, "{:?}", result.errors);
    assert_eq!(result.errors.total(), 0);
    assert_eq!(seen.max_open, 1, "{seen:?}");
}

#[test]
fn reset_streams_are_counted_as_stream_reset() {
    let behaviour = Behaviour {
        batch: 2,
        reset_every: Some(3),
        ..Behaviour::default()
    };
    let (result, seen) = h2c(behaviour, 2, 30);
    assert_eq!(seen.reset, 10, "{seen:?}");
    assert_eq!(result.errors.stream_reset, 10, "{:?}", result.errors);
    assert_eq!(result.errors.total(), 10);
    assert_eq!(result.successes, 20);
    assert_eq!(
        result.reconnects, 0,
        "a reset stream is not the connection's end"
    );
}

#[test]
fn streams_above_goaways_last_id_are_counted_and_the_link_reconnects() {
    let behaviour = Behaviour {
        batch: 4,
        goaway_after: Some(2),
        ..Behaviour::default()
    };
    let (result, seen) = h2c(behaviour, 4, 40);
    assert!(seen.goaways >= 2, "{seen:?}");
    assert!(result.errors.goaway > 0, "{:?}", result.errors);
    assert_eq!(
        result.errors.total(),
        result.errors.goaway,
        "{:?}",
        result.errors
    );
    assert_eq!(result.successes, seen.answered);
    assert_eq!(result.successes + result.errors.goaway, 40);
    assert!(result.reconnects > 0);
    assert_eq!(result.censored.total(), 0);
}

#[test]
fn the_servers_ping_is_acknowledged_with_its_payload() {
    let behaviour = Behaviour {
        ping: true,
        ..Behaviour::default()
    };
    let (result, seen) = h2c(behaviour, 1, 5);
    assert_eq!(result.successes, 5);
    assert!(seen.ping_acked, "{seen:?}");
}

#[test]
fn answers_written_a_byte_at_a_time_still_parse() {
    let behaviour = Behaviour {
        batch: 2,
        byte_writes: true,
        ..Behaviour::default()
    };
    let (result, _) = h2c(behaviour, 2, 12);
    assert_eq!(result.successes, 12, "{:?}", result.errors);
    assert_eq!(result.errors.total(), 0);
}

#[test]
fn a_frame_larger_than_the_clients_maximum_is_a_parse_error() {
    let behaviour = Behaviour {
        oversize: true,
        ..Behaviour::default()
    };
    let (result, _) = h2c(behaviour, 1, 4);
    assert_eq!(result.successes, 0);
    assert_eq!(result.errors.parse, 4, "{:?}", result.errors);
    assert_eq!(result.errors.total(), 4);
}

#[test]
fn h2_over_tls_by_alpn() {
    let behaviour = Behaviour {
        batch: 4,
        ..Behaviour::default()
    };
    let config = tls::server(&[b"h2"], tls::BOTH);
    let (addr, seen) = serve_h2(behaviour, Some(config));
    let ca = tls::ca_file(tls::cert());
    let trust = TlsTrust::CaFile(ca.path().to_path_buf());
    let result = run(
        settings(addr, true, 40),
        tls_client(true, 4, trust, TlsVersions::Both),
    );
    assert_eq!(result.successes, 40, "{:?}", result.errors);
    assert_eq!(result.status_codes.get("201"), Some(&40));
    assert!(seen.lock().unwrap().max_open > 1);
    let facts = result.protocol.expect("protocol facts");
    assert_eq!(facts.name, ProtocolName::H2);
    assert_eq!(facts.tls.expect("tls facts").verify, "ca_file");
}
