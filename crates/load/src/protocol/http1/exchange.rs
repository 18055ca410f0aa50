//! One request and its response on a blocking socket, read with the generator's own
//! response parser: for the few requests the harness sends outside a load (readiness
//! probes, cold-start requests, counts, the checks of `verify`), so that every response
//! the harness reads is delimited by the same code. The stream is any blocking one (a
//! TCP socket, or TLS over it).

use std::io::{Read, Write};

use thiserror::Error;

use super::{Message, MessageReader, ParseError, ResponseParser};
use crate::protocol::transport::read_some;
use crate::protocol::{Progress, Response};

/// Why an exchange got no complete response.
#[derive(Debug, Error)]
pub enum ExchangeError {
    #[error("write: {0}")]
    Write(std::io::Error),
    /// Includes the socket's read timeout (`WouldBlock` / `TimedOut`).
    #[error("read: {0}")]
    Read(std::io::Error),
    #[error("the server closed the connection mid-response")]
    Closed,
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// Nothing was pipelined, so bytes beyond the response mean its framing (usually
    /// `Content-Length`) is wrong.
    #[error("{bytes} unexpected byte(s) after the {status} response body (wrong Content-Length?)")]
    Surplus { status: u16, bytes: usize },
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
}

impl ExchangeError {
    /// The socket's read timeout expired before the response was complete.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ExchangeError::Read(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
    }
}

/// A reusable parser and read buffer for blocking exchanges.
#[derive(Debug)]
pub struct Exchanger {
    parser: ResponseParser,
    buf: Vec<u8>,
}

impl Default for Exchanger {
    fn default() -> Exchanger {
        Exchanger {
            parser: ResponseParser::default(),
            buf: vec![0; 16 * 1024],
        }
    }
}

impl Exchanger {
    /// Writes `request` and reads its response (`body_expected`: false for HEAD).
    /// Timeouts are the stream's own (`set_read_timeout`).
    pub fn exchange<S: Read + Write>(
        &mut self,
        stream: &mut S,
        request: &[u8],
        body_expected: bool,
    ) -> Result<Response, ExchangeError> {
        send(stream, request)?;
        self.parser.reset(body_expected);
        loop {
            let n = read_some(stream, &mut self.buf).map_err(ExchangeError::Read)?;
            if n == 0 {
                return self.parser.finish_on_close().ok_or(ExchangeError::Closed);
            }
            if let Progress::Complete(response) = self.parser.feed(&self.buf[..n])? {
                return Ok(response);
            }
        }
    }
}

impl Exchanger {
    /// Writes `request` and reads its whole response ([`Message`]), keeping at most
    /// `limit` body bytes. Bytes after the response are refused ([`ExchangeError::Surplus`]).
    pub fn exchange_message<S: Read + Write>(
        &mut self,
        stream: &mut S,
        request: &[u8],
        body_expected: bool,
        limit: usize,
    ) -> Result<Message, ExchangeError> {
        send(stream, request)?;
        self.parser.reset(body_expected);
        let mut reader = MessageReader::new(limit);
        let response = loop {
            let n = read_some(stream, &mut self.buf).map_err(ExchangeError::Read)?;
            if n == 0 {
                break self.parser.finish_on_close().ok_or(ExchangeError::Closed)?;
            }
            let (progress, used) = self.parser.advance(&self.buf[..n], &mut reader)?;
            if reader.overflowed() {
                return Err(ExchangeError::TooLarge(limit));
            }
            if let Progress::Complete(response) = progress {
                if used < n {
                    let (status, bytes) = (response.status, n - used);
                    return Err(ExchangeError::Surplus { status, bytes });
                }
                break response;
            }
        };
        Ok(reader.finish(response.keep_alive))
    }
}

/// Writes `request` whole; the flush matters for a stream that buffers (TLS).
fn send<S: Write>(stream: &mut S, request: &[u8]) -> Result<(), ExchangeError> {
    stream.write_all(request).map_err(ExchangeError::Write)?;
    stream.flush().map_err(ExchangeError::Write)
}

impl Exchanger {
    /// Reads the answers to `count` requests already written on `stream` (pipelined),
    /// in order, each one a whole [`Message`] (at most `limit` body bytes; every
    /// request expects a body). Bytes of one answer that arrive with the one before it
    /// are kept for it. Returns the answers read; `Err` comes with those read before
    /// the failure, so a caller can say which answer went missing.
    pub fn read_pipelined<S: Read>(
        &mut self,
        stream: &mut S,
        count: usize,
        limit: usize,
    ) -> Result<Vec<Message>, (Vec<Message>, ExchangeError)> {
        let mut messages = Vec::with_capacity(count);
        let mut pending: Vec<u8> = Vec::new();
        while messages.len() < count {
            self.parser.reset(true);
            let mut reader = MessageReader::new(limit);
            let next = self.read_one(stream, &mut pending, &mut reader, limit);
            match next {
                Ok(response) => messages.push(reader.finish(response.keep_alive)),
                Err(error) => return Err((messages, error)),
            }
        }
        Ok(messages)
    }

    /// One answer of a pipelined sequence: from `pending` first, then from the
    /// stream; leaves in `pending` the bytes that belong to the next answers.
    fn read_one<S: Read>(
        &mut self,
        stream: &mut S,
        pending: &mut Vec<u8>,
        reader: &mut MessageReader,
        limit: usize,
    ) -> Result<Response, ExchangeError> {
        loop {
            if !pending.is_empty() {
                let (progress, used) = self.parser.advance(pending, reader)?;
                pending.drain(..used);
                if reader.overflowed() {
                    return Err(ExchangeError::TooLarge(limit));
                }
                if let Progress::Complete(response) = progress {
                    return Ok(response);
                }
            }
            let n = read_some(stream, &mut self.buf).map_err(ExchangeError::Read)?;
            if n == 0 {
                return self.parser.finish_on_close().ok_or(ExchangeError::Closed);
            }
            pending.extend_from_slice(&self.buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// A one-connection server answering each request with its answer's pieces, written
    /// 20 ms apart so that a response arrives split across reads.
    fn serve(
        answers: Vec<Vec<&'static [u8]>>,
    ) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 256];
            for pieces in answers {
                let _ = s.read(&mut req).unwrap();
                for (i, piece) in pieces.iter().enumerate() {
                    if i > 0 {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    s.write_all(piece).unwrap();
                }
            }
        });
        (addr, server)
    }

    #[test]
    fn reads_a_response_split_across_writes_and_reports_a_close() {
        let (addr, server) = serve(vec![
            vec![b"HTTP/1.1 200 OK\r\nContent-Len", b"gth: 2\r\n\r\nok"],
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"],
        ]);
        let mut stream = TcpStream::connect(addr).unwrap();
        let mut x = Exchanger::default();
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let r = x.exchange(&mut stream, get, true).unwrap();
        assert_eq!((r.status, r.keep_alive), (200, true));
        assert!(matches!(
            x.exchange(&mut stream, get, true),
            Err(ExchangeError::Closed)
        ));
        server.join().unwrap();
    }

    #[test]
    fn a_whole_message_is_read_and_bytes_after_it_are_refused() {
        let (addr, server) = serve(vec![
            vec![b"HTTP/1.1 200 OK\r\nX: 1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"],
            vec![b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nnot found"],
        ]);
        let mut stream = TcpStream::connect(addr).unwrap();
        let mut x = Exchanger::default();
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let m = x.exchange_message(&mut stream, get, true, 1024).unwrap();
        assert_eq!((m.status, m.body.as_slice()), (200, &b"ok"[..]));
        assert_eq!(m.headers[0], ("X".to_string(), "1".to_string()));
        let err = x
            .exchange_message(&mut stream, get, true, 1024)
            .unwrap_err();
        assert!(
            matches!(
                err,
                ExchangeError::Surplus {
                    status: 404,
                    bytes: 7
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "7 unexpected byte(s) after the 404 response body (wrong Content-Length?)"
        );
        server.join().unwrap();
    }

    #[test]
    fn pipelined_answers_are_read_in_order_across_reads() {
        let (addr, server) = serve(vec![vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Len",
            b"gth: 1\r\n\r\nbHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nc\r\n0\r\n\r\n",
        ]]);
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"GET /a HTTP/1.1\r\n\r\n").unwrap();
        let mut x = Exchanger::default();
        let answers = x.read_pipelined(&mut stream, 3, 1024).unwrap();
        let seen: Vec<(u16, &[u8])> = answers.iter().map(|m| (m.status, &m.body[..])).collect();
        assert_eq!(seen, [(200, &b"a"[..]), (404, b"b"), (200, b"c")]);
        server.join().unwrap();
    }

    #[test]
    fn a_pipelined_answer_that_never_comes_is_a_close_after_the_others() {
        let (addr, server) = serve(vec![vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"]]);
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"GET /a HTTP/1.1\r\n\r\n").unwrap();
        let (read, error) = Exchanger::default()
            .read_pipelined(&mut stream, 2, 1024)
            .unwrap_err();
        assert_eq!(read.len(), 1);
        assert!(matches!(error, ExchangeError::Closed), "{error}");
        server.join().unwrap();
    }
}
