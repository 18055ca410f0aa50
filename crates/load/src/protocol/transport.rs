//! The socket under a protocol: how a connection is opened, and when it is ready to carry
//! requests. Plain TCP is `mio`'s stream; a TLS transport would wrap it and be ready only
//! once its handshake is done.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

/// A non-blocking socket the generator's event loop polls.
pub trait Transport: Read + Write + mio::event::Source + Send + Sized {
    /// Starts a non-blocking connect to `addr`.
    fn connect(addr: SocketAddr) -> io::Result<Self>;

    /// Whether the connect has completed (`Ok(false)`: not yet); an error fails it.
    fn connected(&self) -> io::Result<bool>;
}

impl Transport for TcpStream {
    fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(addr)?;
        // Requests are small and latency is measured: never wait to coalesce them.
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    fn connected(&self) -> io::Result<bool> {
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
