//! HTTP/1.1 on the server's side: pipelined request heads split apart, and answers.

use super::{timed_out, Conn};

/// The request heads read so far on one connection.
#[derive(Default)]
pub struct Requests {
    buf: Vec<u8>,
}

impl Requests {
    /// The paths of the whole requests buffered now (GETs: a head and no body).
    pub fn take(&mut self) -> Vec<String> {
        let mut paths = Vec::new();
        while let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
            let path = head.split(' ').nth(1).unwrap_or("").to_string();
            paths.push(path);
            self.buf.drain(..end + 4);
        }
        paths
    }

    /// Reads once. False at the end of the stream (or on an error other than a timeout).
    pub fn read(&mut self, conn: &mut dyn Conn) -> bool {
        self.read_some(conn).is_some()
    }

    /// Reads once: `Some(true)` when bytes came, `Some(false)` when the read timed out,
    /// `None` once the client is gone.
    fn read_some(&mut self, conn: &mut dyn Conn) -> Option<bool> {
        let mut chunk = [0u8; 16 * 1024];
        match conn.read(&mut chunk) {
            Ok(0) => None,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Some(true)
            }
            Err(e) => timed_out(&e).then_some(false),
        }
    }

    /// Reads until `n` requests are buffered, or fewer once reads time out (the
    /// connection's `set_timeout`) with at least one; returns them.
    pub fn up_to(&mut self, conn: &mut dyn Conn, n: usize) -> Option<Vec<String>> {
        let mut paths = Vec::new();
        loop {
            paths.extend(self.take());
            if paths.len() >= n {
                return Some(paths);
            }
            if !self.read_some(conn)? && !paths.is_empty() {
                return Some(paths);
            }
        }
    }

    /// The next requests: what is buffered, or else what one more read brings. `None`
    /// once the client is gone.
    pub fn next_batch(&mut self, conn: &mut dyn Conn) -> Option<Vec<String>> {
        loop {
            let paths = self.take();
            if !paths.is_empty() {
                return Some(paths);
            }
            if !self.read(conn) {
                return None;
            }
        }
    }

    /// Reads until at least `n` requests are buffered (or the client is gone), and
    /// returns all of them.
    pub fn at_least(&mut self, conn: &mut dyn Conn, n: usize) -> Option<Vec<String>> {
        let mut paths = Vec::new();
        while paths.len() < n {
            paths.extend(self.take());
            if paths.len() < n && !self.read(conn) {
                return None;
            }
        }
        Some(paths)
    }
}

/// A complete answer with `status` and a two-byte body.
pub fn answer(status: u16) -> Vec<u8> {
    format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok").into_bytes()
}

/// Reads until the client closes, answering nothing.
pub fn drain(conn: &mut dyn Conn, requests: &mut Requests) {
    while requests.read(conn) {
        requests.take();
    }
}

/// Answers every request 200, in order, as they come.
pub fn answer_all(conn: &mut dyn Conn) {
    let mut requests = Requests::default();
    while let Some(batch) = requests.next_batch(conn) {
        let out: Vec<u8> = batch.iter().flat_map(|_| answer(200)).collect();
        if conn.write_all(&out).and_then(|()| conn.flush()).is_err() {
            return;
        }
    }
}
