//! The pipelined-order rule against small servers that answer in order, out of order,
//! drop an answer, or close early; plain and over TLS.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;

use super::*;
use crate::load::protocol::ProtocolName;
use crate::targets::TlsCert;

/// How the test server misbehaves.
#[derive(Clone, Copy)]
enum Mode {
    InOrder,
    /// Answers 3 and 4 trade places.
    Swapped,
    /// Answer 9 is left out; the others follow, then the connection closes.
    DropsOne,
    /// Answer 4 says `Connection: close` and the server closes after it.
    ClosesEarly,
}

/// The contract's answer to `GET path` (users and 404s only).
fn answer(path: &str, close: bool) -> Vec<u8> {
    let user = path
        .strip_prefix("/api/users/")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| (1..=1_000_000).contains(id));
    let (status, body) = match user {
        Some(id) => (
            "200 OK",
            format!(r#"{{"id":{id},"name":"User {id}","email":"user{id}@example.com"}}"#),
        ),
        None => ("404 Not Found", r#"{"error":"not found"}"#.to_string()),
    };
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{connection}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads until `count` request heads have arrived; their paths.
fn read_paths(stream: &mut impl Read, count: usize) -> Vec<String> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let heads = |bytes: &[u8]| bytes.windows(4).filter(|w| w == b"\r\n\r\n").count();
    while heads(&received) < count {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the client closed before sending every request");
        received.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(received)
        .unwrap()
        .split("\r\n\r\n")
        .filter_map(|head| head.split(' ').nth(1).map(str::to_string))
        .collect()
}

/// Writes every answer in one buffer, as a server that batches its writes does.
fn respond(stream: &mut impl Write, paths: &[String], mode: Mode) {
    let mut order: Vec<usize> = (0..paths.len()).collect();
    match mode {
        Mode::InOrder => {}
        Mode::Swapped => order.swap(2, 3),
        Mode::DropsOne => {
            order.remove(8);
        }
        Mode::ClosesEarly => order.truncate(4),
    }
    let last = order.len() - 1;
    let bytes: Vec<u8> = order
        .iter()
        .enumerate()
        .flat_map(|(i, &p)| answer(&paths[p], matches!(mode, Mode::ClosesEarly) && i == last))
        .collect();
    stream.write_all(&bytes).unwrap();
    stream.flush().unwrap();
}

fn serve(mode: Mode, tls: Option<TlsCert>) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        match tls {
            None => {
                let mut tcp = tcp;
                let paths = read_paths(&mut tcp, PIPELINE_DEPTH);
                respond(&mut tcp, &paths, mode);
            }
            Some(cert) => {
                let mut tls = rustls::StreamOwned::new(server_connection(&cert), tcp);
                let paths = read_paths(&mut tls, PIPELINE_DEPTH);
                respond(&mut tls, &paths, mode);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
    });
    (addr, server)
}

fn server_connection(cert: &TlsCert) -> rustls::ServerConnection {
    let key = PrivateKeyDer::from_pem_file(cert.key_path()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.certificate().clone()], key)
        .unwrap();
    rustls::ServerConnection::new(Arc::new(config)).unwrap()
}

fn run(mode: Mode) -> (Result<String, String>, usize) {
    let (addr, server) = serve(mode, None);
    let connector = Connector::h1(addr, Duration::from_secs(5));
    let (verdict, answered) = pipelined(&connector);
    server.join().unwrap();
    (verdict, answered.len())
}

#[test]
fn answers_in_order_pass() {
    let (verdict, answered) = run(Mode::InOrder);
    assert_eq!(
        verdict.unwrap(),
        "16 requests in one write, 16 answers in order on one connection"
    );
    assert_eq!(answered, PIPELINE_DEPTH);
}

#[test]
fn answers_out_of_order_fail_naming_the_request_answered() {
    let message = run(Mode::Swapped).0.unwrap_err();
    assert_eq!(
        message,
        "answer 3 is the answer to request 4 (GET /api/users/28), not to request 3 \
         (GET /api/users/21): out of order"
    );
}

#[test]
fn a_dropped_answer_fails() {
    let message = run(Mode::DropsOne).0.unwrap_err();
    assert!(
        message.starts_with("answer 9 is the answer to request 10"),
        "{message}"
    );
}

#[test]
fn a_server_that_closes_early_fails_saying_how_many_were_answered() {
    let message = run(Mode::ClosesEarly).0.unwrap_err();
    assert_eq!(
        message,
        "answer 4 (GET /api/users/28) closes the connection with 12 pipelined request(s) unanswered"
    );
}

#[test]
fn a_missing_last_answer_is_named() {
    let expected = sequence();
    let failure = Some(ExchangeError::Closed);
    let message = judge(&expected, &[], failure).unwrap_err();
    assert_eq!(
        message,
        "0 of 16 pipelined requests answered, then the server closed the connection: \
         answer 1 (GET /api/users/7) is missing"
    );
}

#[test]
fn pipelining_over_tls_is_read_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cert = TlsCert::create(dir.path()).unwrap();
    let (addr, server) = serve(Mode::InOrder, Some(cert.clone()));
    let timeout = Duration::from_secs(5);
    let connector = Connector::new(ProtocolName::H1Tls, addr, Some(&cert), timeout).unwrap();
    let (verdict, answered) = pipelined(&connector);
    server.join().unwrap();
    assert!(verdict.is_ok(), "{verdict:?}");
    assert_eq!(answered[15].request, "GET /api/users/98 (pipelined)");
}
