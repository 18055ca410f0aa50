//! The harness's own clients on every protocol against small in-test servers: HTTP/2
//! with prior knowledge (h2c) and by ALPN over TLS (h2), with the `h2` crate on the
//! server side; the refusals (a TLS server that does not choose h2); readiness probes
//! on h1-tls and h2c.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lanebench::load::protocol::ProtocolName;
use lanebench::targets::ready::Probe;
use lanebench::targets::{Connector, ReadinessProbe, TlsCert};
use lanebench::verify::http_client::HttpClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;

const TIMEOUT: Duration = Duration::from_secs(5);

/// A server config holding `cert`, offering `alpn`.
fn server_config(cert: &TlsCert, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let key = PrivateKeyDer::from_pem_file(cert.key_path()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.certificate().clone()], key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// Serves HTTP/2 on every connection: `GET /health` 200 JSON, an echo of a POST's
/// body, 404 elsewhere. Runs on its own thread until the test ends.
fn h2_server(tls: Option<Arc<rustls::ServerConfig>>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve_h2(tcp).await,
                        Some(config) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(config);
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve_h2(stream).await;
                            }
                        }
                    }
                });
            }
        });
    });
    addr
}

async fn serve_h2<T>(io: T)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Ok(mut connection) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        let (parts, mut body) = request.into_parts();
        let mut received = Vec::new();
        while let Some(Ok(chunk)) = body.data().await {
            let _ = body.flow_control().release_capacity(chunk.len());
            received.extend_from_slice(&chunk);
        }
        let (status, answer) = match (parts.method.as_str(), parts.uri.path()) {
            ("GET", "/health") => (200, br#"{"status":"healthy","timestamp":1}"#.to_vec()),
            ("POST", "/echo") => (201, received),
            _ => (404, br#"{"error":"not found"}"#.to_vec()),
        };
        let response = http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("content-length", answer.len())
            .body(())
            .unwrap();
        let mut send = respond.send_response(response, false).unwrap();
        let _ = send.send_data(Bytes::from(answer), true);
    }
}

#[test]
fn h2c_with_prior_knowledge_answers_on_one_connection() {
    let addr = h2_server(None);
    let connector = Connector::new(ProtocolName::H2c, addr, None, TIMEOUT).unwrap();
    let mut client = HttpClient::on(connector);
    for _ in 0..3 {
        let response = client.get("/health").unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        assert_eq!(
            response.headers[0].0, "content-type",
            "HTTP/2 names are lowercase"
        );
        assert_eq!(response.framing, None);
    }
    let echoed = client.post_json("/echo", br#"{"user_id":1}"#).unwrap();
    assert_eq!(
        (echoed.status, echoed.body.as_slice()),
        (201, &br#"{"user_id":1}"#[..])
    );
    assert_eq!(client.get("/nope").unwrap().status, 404);
    assert_eq!(client.connections_opened(), 1);
}

#[test]
fn h2_over_tls_is_chosen_by_alpn_and_trusts_the_run_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = TlsCert::create(dir.path()).unwrap();
    let addr = h2_server(Some(server_config(&cert, &[b"h2", b"http/1.1"])));
    let connector = Connector::new(ProtocolName::H2, addr, Some(&cert), TIMEOUT).unwrap();
    let response = HttpClient::on(connector).get("/health").unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.json().unwrap()["status"], "healthy");
}

#[test]
fn a_tls_server_that_does_not_choose_h2_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let cert = TlsCert::create(dir.path()).unwrap();
    for (alpn, chosen) in [
        (
            &[b"http/1.1".as_slice()][..],
            "ALPN: the server refused h2 (alert no_application_protocol)",
        ),
        (&[][..], "ALPN: the server chose no protocol instead of h2"),
    ] {
        let addr = h2_server(Some(server_config(&cert, alpn)));
        let connector = Connector::new(ProtocolName::H2, addr, Some(&cert), TIMEOUT).unwrap();
        let error = connector.connect_h2().unwrap_err();
        assert_eq!(error.to_string(), chosen);
    }
}

#[test]
fn a_tls_protocol_without_the_certificate_is_refused() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let error = Connector::new(ProtocolName::H1Tls, addr, None, TIMEOUT).unwrap_err();
    assert_eq!(error.to_string(), "h1-tls needs the run's TLS certificate");
}

#[test]
fn readiness_probes_speak_the_protocol() {
    let addr = h2_server(None);
    let connector = Connector::new(ProtocolName::H2c, addr, None, TIMEOUT).unwrap();
    let mut probe = ReadinessProbe::on(&connector, "/health").unwrap();
    assert_eq!(probe.probe(), Probe::Ready);
    let mut missing = ReadinessProbe::on(&connector, "/missing").unwrap();
    assert_eq!(missing.probe(), Probe::NotReady);
    // An HTTP/1.1 probe gets no 200 from an HTTP/2-only server.
    assert_eq!(
        ReadinessProbe::new(addr, "/health").probe(),
        Probe::NotReady
    );

    let dir = tempfile::tempdir().unwrap();
    let cert = TlsCert::create(dir.path()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = listener.local_addr().unwrap();
    drop(listener);
    let connector = Connector::new(ProtocolName::H1Tls, free, Some(&cert), TIMEOUT).unwrap();
    let mut probe = ReadinessProbe::on(&connector, "/health").unwrap();
    assert_eq!(probe.probe(), Probe::Refused);
}
