//! Loopback ports for target processes: picking a free one and refusing a busy one.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// A port that cannot be used for a target.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Something already listens on the port, so a launched target would not own it.
    #[error("port {port} on 127.0.0.1 is already in use; stop whatever listens there or pick another port")]
    InUse {
        /// The busy port.
        port: u16,
    },
    /// The operating system gave no ephemeral port.
    #[error("cannot pick a free loopback port: {0}")]
    NoFreePort(std::io::Error),
}

/// Asks the OS for a currently free port on 127.0.0.1.
///
/// The port is released before returning, so another process could take it; callers
/// should still call [`ensure_port_free`] right before launching.
pub fn free_loopback_port() -> Result<u16, PortError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(PortError::NoFreePort)?;
    let port = listener.local_addr().map_err(PortError::NoFreePort)?.port();
    Ok(port)
}

/// Fails with [`PortError::InUse`] if `port` cannot be bound on 127.0.0.1.
pub fn ensure_port_free(port: u16) -> Result<(), PortError> {
    match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))) {
        Ok(_) => Ok(()),
        Err(_) => Err(PortError::InUse { port }),
    }
}
