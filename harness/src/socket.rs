//! The one socket option the harness's own small servers need beyond std: closing a
//! connection with a TCP reset instead of a FIN, which the proxy uses to mirror an
//! order service's reset, and the verify fake and the fixture use to inject one. One
//! home, because it is an unsafe call.

use std::net::TcpStream;
use std::os::fd::AsRawFd;

/// Makes the last close of `stream` send a reset instead of a FIN (SO_LINGER on with a
/// zero timeout). Best effort: a socket that refuses the option closes normally.
pub fn reset_on_close(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `linger` (a plain struct of the size given) during the
    // call only, on a descriptor `stream` owns.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::addr_of!(linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn the_peer_sees_a_reset_not_an_end_of_stream() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        super::reset_on_close(&server);
        drop(server);
        let mut buf = [0u8; 8];
        let err = client.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    }
}
