//! `PROTOCOL=h1-tls` and `h2`: the same router behind rustls.
//!
//! `axum::serve` takes plain streams only, so this is axum's low-level TLS pattern: accept the
//! TCP connection, finish the TLS handshake in the connection's own task (a slow client never
//! holds up the accept loop), then hand the stream to hyper-util's connection builder with the
//! router as the service. The builder serves HTTP/2 when ALPN chose `h2` and HTTP/1.1 otherwise,
//! with hyper's default settings, as `axum::serve` does on plain TCP.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use target_store::tls::ALPN_H2;

use crate::DRAIN;

/// Pause after a failed accept (no file descriptors left, for one), so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Serves `app` over TLS on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: tokio_rustls::rustls::ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        tokio::spawn(serve_connection(
            stream,
            acceptor.clone(),
            app.clone(),
            graceful.watcher(),
        ));
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

async fn serve_connection(stream: TcpStream, acceptor: TlsAcceptor, app: Router, watcher: Watcher) {
    // Same socket option on every target and protocol, so small responses are not delayed.
    let _ = stream.set_nodelay(true);
    let Ok(stream) = acceptor.accept(stream).await else {
        return;
    };
    let builder = builder_for(&stream);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    // Errors are a client that went away or spoke no HTTP: nothing to answer.
    let _ = watcher.watch(connection.into_owned()).await;
}

/// The protocol ALPN chose, without peeking at the first bytes; a client that negotiated no
/// ALPN is told apart by its preface, as on plain TCP.
fn builder_for(stream: &TlsStream<TcpStream>) -> Builder<TokioExecutor> {
    let builder = Builder::new(TokioExecutor::new());
    match stream.get_ref().1.alpn_protocol() {
        Some(ALPN_H2) => builder.http2_only(),
        Some(_) => builder.http1_only(),
        None => builder,
    }
}
