//! The socket under a protocol: how a connection is opened and when it is ready to carry
//! requests. Plain TCP is `mio`'s stream; TLS (`super::tls`) wraps it and is ready only
//! once its handshake is done.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

/// A non-blocking socket the generator's event loop polls.
pub trait Transport: Read + Write + mio::event::Source + Send + Sized + 'static {
    /// What every connection of a run shares (the TLS client configuration).
    type Config: Clone + Send + 'static;

    /// Starts a non-blocking connect to `addr`.
    fn connect(addr: SocketAddr, config: &Self::Config) -> io::Result<Self>;

    /// Whether the TCP connect has completed (`Ok(false)`: not yet); an error fails it.
    fn connected(&mut self) -> io::Result<bool>;

    /// Drives the transport's own set-up after the connect (the TLS handshake):
    /// `Ok(true)` once requests may flow. Plain TCP has none.
    fn handshake(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    /// Whether the transport has set-up (a TLS handshake worth timing).
    fn has_handshake() -> bool {
        false
    }

    /// Whether a read shorter than the buffer means the socket is drained (so the
    /// edge-triggered loop may stop reading). Not so under TLS, which decrypts one
    /// record at a time.
    fn short_read_drains() -> bool {
        true
    }

    /// The application protocol the handshake agreed on (ALPN), if any.
    fn alpn(&self) -> Option<&[u8]> {
        None
    }
}

/// Plain TCP.
pub type PlainTcp = TcpStream;

impl Transport for TcpStream {
    type Config = ();

    fn connect(addr: SocketAddr, _config: &()) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(addr)?;
        // Requests are small and latency is measured: never wait to coalesce them.
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    fn connected(&mut self) -> io::Result<bool> {
        if let Some(e) = self.take_error()? {
            return Err(e);
        }
        match self.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Writes as much of `data` as the socket takes now; `Ok(n)` with `n < len` means it
/// would block.
pub fn write_some<W: Write>(w: &mut W, data: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < data.len() {
        match w.write(&data[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// Reads into `buf`, retrying on interruption.
pub fn read_some<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}
