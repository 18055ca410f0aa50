//! Where an HTTP/1.1 request ends, for the one server the harness runs itself: the
//! proxy between two services, which relays each request whole and must know its end,
//! its method and its target without judging anything else.
//!
//! The head is read with `httparse` as responses are, and the body is delimited by the
//! response parser's own rules (`Content-Length`, and the same chunked state machine),
//! so requests and responses are framed by one piece of code. A request that declares
//! both `Transfer-Encoding` and `Content-Length` is refused rather than guessed at: a
//! relay that framed it differently from the server behind it would let one request
//! smuggle another.
//!
//! The harness's other small servers (the fake order service of `verify --chain`, the
//! test fixture's user service) also need a request's header fields and its decoded
//! body: they read whole requests with [`RequestReader`], which passes an
//! [`Observer`] to the same parser.

use std::io::Read;

use super::response::{
    feed_chunked, head_fields, ChunkState, Observer, ParseError, MAX_HEADERS, MAX_HEAD_BYTES,
};

/// What a complete request declared, besides its method and target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestEnd {
    /// Whether the client lets the connection be reused after the answer.
    pub keep_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Length(u64),
    Chunked(ChunkState),
}

/// Parser for one request at a time; `reset` after each complete one.
#[derive(Debug)]
pub struct RequestParser {
    state: State,
    head: Vec<u8>,
    method: String,
    target: String,
    keep_alive: bool,
}

impl Default for RequestParser {
    fn default() -> RequestParser {
        RequestParser {
            state: State::Head,
            head: Vec::new(),
            method: String::new(),
            target: String::new(),
            keep_alive: true,
        }
    }
}

impl RequestParser {
    /// Prepares for the next request on the connection.
    pub fn reset(&mut self) {
        self.state = State::Head;
        self.head.clear();
    }

    /// True when no byte of the current request has arrived yet.
    pub fn is_fresh(&self) -> bool {
        self.state == State::Head && self.head.is_empty()
    }

    /// The method of the request whose head was read (`GET`).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target of the request whose head was read (`/path?query`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Feeds the next bytes received. Returns the request's end once it is complete, and
    /// how many bytes of `data` belong to it (the rest starts the next request).
    pub fn advance(&mut self, data: &[u8]) -> Result<(Option<RequestEnd>, usize), ParseError> {
        self.advance_with(data, &mut ())
    }

    /// [`RequestParser::advance`], showing `observer` each header field and the body's
    /// bytes (chunked bodies decoded); its `status` and `framing` are not called.
    pub fn advance_with<O: Observer>(
        &mut self,
        data: &[u8],
        observer: &mut O,
    ) -> Result<(Option<RequestEnd>, usize), ParseError> {
        let mut used = 0;
        if self.state == State::Head {
            match self.parse_head(data, observer)? {
                None => return Ok((None, data.len())),
                Some(n) => used = n,
            }
        }
        let rest = &data[used..];
        let (done, taken) = match self.state {
            State::Head => unreachable!("a parsed head moves to a body state"),
            State::Length(remaining) => {
                let take = remaining.min(rest.len() as u64);
                observer.body(&rest[..take as usize]);
                self.state = State::Length(remaining - take);
                (take == remaining, take as usize)
            }
            State::Chunked(chunk) => {
                let (chunk, taken, done) = feed_chunked(chunk, rest, observer)?;
                self.state = State::Chunked(chunk);
                (done, taken)
            }
        };
        let end = done.then_some(RequestEnd {
            keep_alive: self.keep_alive,
        });
        Ok((end, used + taken))
    }

    /// Reads the head from `data` (plus any earlier partial head); the bytes of `data`
    /// it took, or `None` when it is not complete yet.
    fn parse_head<O: Observer>(
        &mut self,
        data: &[u8],
        observer: &mut O,
    ) -> Result<Option<usize>, ParseError> {
        let carried = self.head.len();
        if carried > 0 {
            self.head.extend_from_slice(data);
        }
        let bytes = if carried > 0 { &self.head[..] } else { data };
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        let head_len = match parsed.parse(bytes) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if carried == 0 {
                    self.head.extend_from_slice(data);
                }
                if self.head.len() > MAX_HEAD_BYTES {
                    return Err(ParseError::HeadTooLarge);
                }
                return Ok(None);
            }
            Err(e) => return Err(ParseError::Head(e.to_string())),
        };
        let fields = head_fields(parsed.headers, parsed.version == Some(1), observer)?;
        let (keep_alive, content_length, chunked) =
            (fields.keep_alive, fields.content_length, fields.chunked);
        self.state = match (chunked, content_length) {
            (Some(_), Some(_)) => return Err(ParseError::ContentLength),
            // A request body must be delimited; one that would run until the close cannot
            // be answered (RFC 9112 6.3), so only chunked is accepted as the last coding.
            (Some(false), None) => return Err(ParseError::TransferEncoding),
            (Some(true), None) => State::Chunked(ChunkState::Size {
                value: 0,
                digits: 0,
            }),
            (None, length) => State::Length(length.unwrap_or(0)),
        };
        self.method.clear();
        self.method.push_str(parsed.method.unwrap_or(""));
        self.target.clear();
        self.target.push_str(parsed.path.unwrap_or(""));
        self.keep_alive = keep_alive;
        self.head.clear();
        Ok(Some(head_len - carried))
    }
}

/// One whole request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMessage {
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// Header fields in order, names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body, chunked bodies decoded.
    pub body: Vec<u8>,
    /// Whether the client lets the connection be reused after the answer.
    pub keep_alive: bool,
}

impl RequestMessage {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Why no whole request could be read.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("read: {0}")]
    Read(std::io::Error),
    #[error("the client closed the connection mid-request")]
    Closed,
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
}

/// Collects the header fields and body of the request being parsed.
struct Collected {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    limit: usize,
    overflow: bool,
}

impl Observer for Collected {
    fn header(&mut self, name: &str, value: &[u8]) {
        let value = String::from_utf8_lossy(value).trim().to_string();
        self.headers.push((name.to_string(), value));
    }

    fn body(&mut self, bytes: &[u8]) {
        if self.body.len() + bytes.len() > self.limit {
            self.overflow = true;
        } else {
            self.body.extend_from_slice(bytes);
        }
    }
}

/// Reads whole requests one after another from one blocking connection, keeping the
/// bytes of a pipelined next request for the next call.
#[derive(Debug, Default)]
pub struct RequestReader {
    parser: RequestParser,
    pending: Vec<u8>,
}

impl RequestReader {
    /// The next request, or `None` when the client closed the connection between
    /// requests. Bodies over `limit` bytes are refused.
    pub fn read<R: Read>(
        &mut self,
        stream: &mut R,
        limit: usize,
    ) -> Result<Option<RequestMessage>, RequestError> {
        let mut collected = Collected {
            headers: Vec::new(),
            body: Vec::new(),
            limit,
            overflow: false,
        };
        let mut buf = [0u8; 8192];
        loop {
            if !self.pending.is_empty() {
                let (end, used) = self.parser.advance_with(&self.pending, &mut collected)?;
                self.pending.drain(..used);
                if collected.overflow {
                    return Err(RequestError::TooLarge(limit));
                }
                if let Some(end) = end {
                    let message = RequestMessage {
                        method: self.parser.method().to_string(),
                        target: self.parser.target().to_string(),
                        headers: collected.headers,
                        body: collected.body,
                        keep_alive: end.keep_alive,
                    };
                    self.parser.reset();
                    return Ok(Some(message));
                }
            }
            let n = match stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(RequestError::Read(e)),
            };
            if n == 0 {
                return match self.parser.is_fresh() {
                    true => Ok(None),
                    false => Err(RequestError::Closed),
                };
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete request as read: method, target, keep-alive, its bytes.
    type Read = (String, String, bool, Vec<u8>);

    /// Feeds `parts` in turn; each complete request, or the parser's refusal.
    fn requests(parts: &[&[u8]]) -> Result<Vec<Read>, ParseError> {
        let mut parser = RequestParser::default();
        let mut out = Vec::new();
        let mut current = Vec::new();
        for part in parts {
            let mut rest = *part;
            while !rest.is_empty() {
                let (end, used) = parser.advance(rest)?;
                current.extend_from_slice(&rest[..used]);
                rest = &rest[used..];
                if let Some(end) = end {
                    let (m, t) = (parser.method().to_string(), parser.target().to_string());
                    out.push((m, t, end.keep_alive, std::mem::take(&mut current)));
                    parser.reset();
                }
            }
        }
        Ok(out)
    }

    #[test]
    fn pipelined_requests_are_cut_at_their_ends_however_split() {
        let whole: &[u8] = b"GET /api/users/7/orders HTTP/1.1\r\nHost: x\r\n\r\nPOST /api/orders?a=1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: v\r\n\r\n";
        for split in 0..whole.len() {
            let got = requests(&[&whole[..split], &whole[split..]]).unwrap();
            let summary: Vec<_> = got
                .iter()
                .map(|(m, t, k, _)| (m.as_str(), t.as_str(), *k))
                .collect();
            assert_eq!(
                summary,
                [
                    ("GET", "/api/users/7/orders", true),
                    ("POST", "/api/orders?a=1", true),
                    ("PUT", "/c", false)
                ],
                "split at {split}"
            );
            let bytes: Vec<u8> = got.iter().flat_map(|r| r.3.clone()).collect();
            assert_eq!(bytes, whole, "every byte belongs to one request");
        }
    }

    #[test]
    fn http10_closes_unless_asked_to_keep_alive() {
        let got =
            requests(&[b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"]);
        let alive: Vec<bool> = got.unwrap().iter().map(|r| r.2).collect();
        assert_eq!(alive, [false, true]);
    }

    #[test]
    fn ambiguous_or_malformed_requests_are_refused() {
        let refused = |raw: &[u8]| requests(&[raw]).unwrap_err();
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ParseError::ContentLength
        );
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
            ParseError::ContentLength
        );
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            ParseError::TransferEncoding
        );
        assert!(matches!(
            refused(b"NOT HTTP AT ALL\r\n\r\n"),
            ParseError::Head(_)
        ));
        assert_eq!(
            refused(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            ParseError::Chunked
        );
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD_BYTES));
        let mut parser = RequestParser::default();
        let mut result = Ok((None, 0));
        for piece in big.as_bytes().chunks(1000) {
            result = parser.advance(piece);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(ParseError::HeadTooLarge));
    }

    #[test]
    fn an_incomplete_request_is_not_complete() {
        let mut parser = RequestParser::default();
        assert!(parser.is_fresh());
        let (end, used) = parser
            .advance(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
            .unwrap();
        assert_eq!((end, parser.is_fresh()), (None, false));
        assert_eq!(used, 42);
        assert_eq!(
            parser.advance(b"defghij").unwrap().0,
            Some(RequestEnd { keep_alive: true })
        );
    }

    /// A connection delivering `parts`, one read each, then its end.
    struct Parts<'a>(std::slice::Iter<'a, &'a [u8]>);

    impl std::io::Read for Parts<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some(part) = self.0.next() else {
                return Ok(0);
            };
            buf[..part.len()].copy_from_slice(part);
            Ok(part.len())
        }
    }

    #[test]
    fn whole_requests_are_read_with_their_fields_and_decoded_bodies_however_split() {
        let whole: &[u8] = b"POST /api/orders HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}\
GET /a HTTP/1.1\r\nConnection: close\r\n\r\n\
POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        for split in 1..whole.len() {
            let parts = [&whole[..split], &whole[split..]];
            let mut stream = Parts(parts.iter());
            let mut reader = RequestReader::default();
            let mut got = Vec::new();
            while let Some(request) = reader.read(&mut stream, 1024).unwrap() {
                got.push(request);
            }
            assert_eq!(got.len(), 3, "split at {split}");
            assert_eq!(got[0].header("content-type"), Some("application/json"));
            assert_eq!(
                (got[0].body.as_slice(), got[0].keep_alive),
                (&b"{}"[..], true)
            );
            assert_eq!((got[1].target.as_str(), got[1].keep_alive), ("/a", false));
            assert_eq!(got[2].body, b"abc", "split at {split}");
        }
    }

    #[test]
    fn a_close_mid_request_is_an_error_and_between_requests_the_end() {
        let mut cut: &[u8] = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab";
        let mut reader = RequestReader::default();
        assert!(matches!(
            reader.read(&mut cut, 1024),
            Err(RequestError::Closed)
        ));
        let mut empty: &[u8] = b"";
        assert!(matches!(
            RequestReader::default().read(&mut empty, 1024),
            Ok(None)
        ));
    }
}
