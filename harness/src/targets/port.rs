//! Loopback ports for target processes: picking a free one and refusing a busy one.
//!
//! Ports are picked **below the kernel's ephemeral range**. A port handed out by
//! `bind(0)` lies inside that range, where every outgoing connection (the generator's,
//! a readiness probe's, a user service's client) also takes its local port; between the
//! pick and the target's own bind, such a connection could take it, and the launch
//! would fail as "in use". Below the range only an explicit bind can take a port.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

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

/// The lowest port picked: above the registered services most machines run.
const LOWEST: u16 = 20_000;
/// The range used when the kernel's ephemeral range cannot be read, or leaves no room
/// below it (Linux's default starts at 32768).
const DEFAULT_EPHEMERAL_START: u16 = 32_768;

/// Where the next pick starts; shared by the whole process, so two picks in a row never
/// offer the same port even when the first has not been bound yet.
static CURSOR: AtomicU32 = AtomicU32::new(u32::MAX);

/// A currently free port on 127.0.0.1, below the ephemeral range when there is room.
///
/// The port is released before returning, so another process could take it; callers
/// should still call [`ensure_port_free`] right before launching.
pub fn free_loopback_port() -> Result<u16, PortError> {
    let start = ephemeral_start();
    if start <= LOWEST + 1000 {
        return kernel_pick();
    }
    let span = u32::from(start - LOWEST);
    for _ in 0..span.min(4096) {
        let offset = next_offset(span);
        let port = LOWEST + offset as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    kernel_pick()
}

/// The next offset in `0..span`, starting at a per-process point so that concurrent
/// harnesses (test binaries, parallel CI jobs) start far apart.
fn next_offset(span: u32) -> u32 {
    let seed = std::process::id().wrapping_mul(2_654_435_761) % span;
    let _ = CURSOR.compare_exchange(u32::MAX, seed, Ordering::Relaxed, Ordering::Relaxed);
    CURSOR.fetch_add(1, Ordering::Relaxed) % span
}

/// The first port of the kernel's ephemeral range.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_START)
}

/// The kernel's own pick, for a machine whose ephemeral range leaves no room below it.
fn kernel_pick() -> Result<u16, PortError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a port picked by `bind(0)` was taken by a readiness probe's outgoing
    /// connection before the target bound it, and a CI run failed with "in use".
    #[test]
    fn picks_lie_below_the_ephemeral_range_and_do_not_repeat() {
        let start = ephemeral_start();
        let picks: Vec<u16> = (0..50).map(|_| free_loopback_port().unwrap()).collect();
        if start > LOWEST + 1000 {
            assert!(
                picks.iter().all(|&p| (LOWEST..start).contains(&p)),
                "{picks:?}"
            );
        }
        let mut unique = picks.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), picks.len(), "{picks:?}");
    }
}
