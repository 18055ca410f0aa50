//! One blocking connection before a run, so that a server that cannot speak what the
//! client asked for (a certificate the client refuses, no `h2` by ALPN, no HTTP/2 at
//! all) is one clear error instead of a run of connect errors.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use thiserror::Error;

use super::http2::frame;
use super::settings::ClientProtocol;
use super::tls::TlsConfig;

/// Why the server cannot be driven with the client's protocol.
#[derive(Debug, Error)]
pub enum PreflightError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS handshake with {addr} failed: {source}")]
    Handshake {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "{addr} did not choose {wanted} by ALPN (it chose {chosen}); does it serve {protocol}?"
    )]
    Alpn {
        addr: SocketAddr,
        wanted: &'static str,
        chosen: String,
        protocol: &'static str,
    },
    #[error("{addr} did not answer the HTTP/2 connection preface with its SETTINGS ({problem}); does it serve {protocol}?")]
    NotHttp2 {
        addr: SocketAddr,
        problem: String,
        protocol: &'static str,
    },
    #[error("{0}")]
    Settings(#[from] super::SettingsError),
}

/// Connects once to `addr` as `client` would, and checks the server's side of the
/// set-up: the TLS handshake and ALPN, and for HTTP/2 the server's first frame.
pub fn preflight(
    addr: SocketAddr,
    client: &ClientProtocol,
    timeout: Duration,
) -> Result<(), PreflightError> {
    let protocol = client.name().as_str();
    let mut tcp = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|source| PreflightError::Connect { addr, source })?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let Some(tls) = &client.tls else {
        return check_http2(&mut tcp, addr, client, protocol);
    };
    let alpn: &[u8] = if client.http2 { b"h2" } else { b"http/1.1" };
    let config = TlsConfig::new(tls, &[alpn])?;
    let session = config
        .session()
        .map_err(|source| PreflightError::Handshake { addr, source })?;
    let wanted = if client.http2 { "h2" } else { "http/1.1" };
    let alpn_error = |chosen: String| PreflightError::Alpn {
        addr,
        wanted,
        chosen,
        protocol,
    };
    let mut stream = rustls::StreamOwned::new(session, tcp);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|source| {
                if refused_alpn(&source) {
                    alpn_error("none: it ended the handshake with no_application_protocol".into())
                } else {
                    PreflightError::Handshake { addr, source }
                }
            })?;
    }
    let chosen = stream.conn.alpn_protocol().map(<[u8]>::to_vec);
    let fits = match &chosen {
        Some(p) => p == alpn,
        None => !client.http2,
    };
    if !fits {
        return Err(alpn_error(chosen.map_or("none".to_string(), |p| {
            String::from_utf8_lossy(&p).into_owned()
        })));
    }
    check_http2(&mut stream, addr, client, protocol)
}

/// The server ended the handshake because it serves none of the protocols offered by
/// ALPN (a server of HTTP/1.1 only, asked for h2).
fn refused_alpn(e: &std::io::Error) -> bool {
    matches!(
        e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::AlertReceived(
            rustls::AlertDescription::NoApplicationProtocol
        ))
    )
}

/// HTTP/2: the preface and empty settings out, the server's SETTINGS frame back.
fn check_http2<S: Read + Write>(
    stream: &mut S,
    addr: SocketAddr,
    client: &ClientProtocol,
    protocol: &'static str,
) -> Result<(), PreflightError> {
    if !client.http2 {
        return Ok(());
    }
    let fail = |problem: String| PreflightError::NotHttp2 {
        addr,
        problem,
        protocol,
    };
    let mut out = frame::PREFACE.to_vec();
    frame::write_settings(&mut out, &[]);
    stream
        .write_all(&out)
        .and_then(|()| stream.flush())
        .map_err(|e| fail(format!("writing: {e}")))?;
    let mut head = [0u8; 9];
    stream
        .read_exact(&mut head)
        .map_err(|e| fail(format!("reading: {e}")))?;
    match frame::Head::parse(&head) {
        Some(h) if h.kind == frame::SETTINGS && h.stream == 0 => Ok(()),
        _ => Err(fail(format!(
            "it sent {:?}",
            String::from_utf8_lossy(&head)
                .chars()
                .take(9)
                .collect::<String>()
        ))),
    }
}
