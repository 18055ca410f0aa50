//! TLS through whole runs and through the preflight connection: HTTP/1.1 (plain and
//! pipelined) over a rustls server, each way of trusting its certificate, each TLS
//! version, handshakes as part of the load, and the set-up failures named for what
//! they are (a certificate from another CA, a server that does not agree on ALPN).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::h1::{answer, Requests};
use common::{run, serve, settings, tls, tls_client};
use lanebench_load::protocol::{preflight, ProtocolName, TlsTrust, TlsVersions};
use rustls::ProtocolVersion;

/// An HTTP/1.1 server over TLS with `alpn`, answering every request 200 in order; it
/// records the TLS version of each connection.
fn h1_tls_server(alpn: &[&[u8]]) -> (SocketAddr, Arc<Mutex<Vec<ProtocolVersion>>>) {
    let versions = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&versions);
    let addr = serve(Some(tls::server(alpn, tls::BOTH)), move |conn| {
        let mut requests = Requests::default();
        let mut recorded = false;
        while let Some(batch) = requests.next_batch(conn) {
            if !recorded {
                seen.lock().unwrap().extend(conn.tls_version());
                recorded = true;
            }
            let out: Vec<u8> = batch.iter().flat_map(|_| answer(200)).collect();
            if conn.write_all(&out).and_then(|()| conn.flush()).is_err() {
                return;
            }
        }
    });
    (addr, versions)
}

#[test]
fn https_with_a_ca_file_plain_and_pipelined() {
    let (addr, _) = h1_tls_server(&[b"http/1.1"]);
    let ca = tls::ca_file(tls::cert());
    for depth in [1, 4] {
        let trust = TlsTrust::CaFile(ca.path().to_path_buf());
        let client = tls_client(false, depth, trust, TlsVersions::Both);
        preflight(addr, &client, Duration::from_secs(5)).unwrap();
        let result = run(settings(addr, true, 60), client);
        assert_eq!(result.successes, 60, "depth {depth}: {:?}", result.errors);
        assert_eq!(result.errors.total(), 0);
        let facts = result.protocol.expect("protocol facts");
        assert_eq!(facts.name, ProtocolName::H1Tls);
        assert_eq!(facts.pipeline, Some(depth));
        assert_eq!(facts.tls.expect("tls facts").verify, "ca_file");
        // Its handshake came before the window opened: the histogram is there, empty.
        assert!(result.tls_handshake_hdr.is_some());
    }
}

#[test]
fn insecure_with_each_tls_version() {
    for (versions, want) in [
        (TlsVersions::Only12, ProtocolVersion::TLSv1_2),
        (TlsVersions::Only13, ProtocolVersion::TLSv1_3),
    ] {
        // A server without ALPN: an HTTP/1.1 client takes it as HTTP/1.1.
        let (addr, seen) = h1_tls_server(&[]);
        let client = tls_client(false, 1, TlsTrust::Insecure, versions);
        preflight(addr, &client, Duration::from_secs(5)).unwrap();
        let result = run(settings(addr, true, 20), client);
        assert_eq!(result.successes, 20, "{versions:?}: {:?}", result.errors);
        let seen = seen.lock().unwrap();
        assert!(!seen.is_empty());
        assert!(seen.iter().all(|&v| v == want), "{versions:?}: {seen:?}");
        let facts = result
            .protocol
            .expect("protocol facts")
            .tls
            .expect("tls facts");
        assert_eq!(facts.verify, "insecure");
    }
}

#[test]
fn reconnecting_every_n_requests_makes_handshakes_part_of_the_load() {
    let (addr, seen) = h1_tls_server(&[b"http/1.1"]);
    let mut client = tls_client(false, 1, TlsTrust::Insecure, TlsVersions::Both);
    client.reconnect_every = Some(5);
    let result = run(settings(addr, true, 40), client);
    assert_eq!(result.successes, 40, "{:?}", result.errors);
    assert_eq!(result.errors.total(), 0);
    // The first handshake may fall before the measured window opens.
    let handshakes = result.tls_handshake_ms.expect("handshakes recorded").count;
    assert!((7..=9).contains(&handshakes), "{handshakes} handshakes");
    assert!(result.reconnects >= 7, "{} reconnects", result.reconnects);
    assert!(seen.lock().unwrap().len() >= 8);
    assert_eq!(result.protocol.expect("facts").reconnect_every, Some(5));
}

#[test]
fn a_certificate_from_another_ca_is_named_by_the_preflight() {
    let (addr, _) = h1_tls_server(&[b"http/1.1"]);
    let ca = tls::ca_file(&tls::stranger());
    let trust = TlsTrust::CaFile(ca.path().to_path_buf());
    let client = tls_client(false, 1, trust, TlsVersions::Both);
    let message = preflight(addr, &client, Duration::from_secs(5))
        .unwrap_err()
        .to_string();
    assert!(message.contains("certificate"), "{message}");
}

#[test]
fn an_http1_only_server_is_named_by_the_preflight_of_an_h2_client() {
    // One server refuses h2 outright, the other offers no ALPN at all.
    for alpn in [&[b"http/1.1".as_slice()][..], &[]] {
        let (addr, _) = h1_tls_server(alpn);
        let client = tls_client(true, 1, TlsTrust::Insecure, TlsVersions::Both);
        let message = preflight(addr, &client, Duration::from_secs(5))
            .unwrap_err()
            .to_string();
        assert!(message.contains("ALPN"), "{alpn:?}: {message}");
    }
}
