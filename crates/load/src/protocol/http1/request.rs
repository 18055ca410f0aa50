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

use super::response::{
    connection_keeps_alive, feed_chunked, last_coding_is_chunked, parse_content_length, ChunkState,
    ParseError, MAX_HEADERS, MAX_HEAD_BYTES,
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
        let mut used = 0;
        if self.state == State::Head {
            match self.parse_head(data)? {
                None => return Ok((None, data.len())),
                Some(n) => used = n,
            }
        }
        let rest = &data[used..];
        let (done, taken) = match self.state {
            State::Head => unreachable!("a parsed head moves to a body state"),
            State::Length(remaining) => {
                let take = remaining.min(rest.len() as u64);
                self.state = State::Length(remaining - take);
                (take == remaining, take as usize)
            }
            State::Chunked(chunk) => {
                let (chunk, taken, done) = feed_chunked(chunk, rest, &mut ())?;
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
    fn parse_head(&mut self, data: &[u8]) -> Result<Option<usize>, ParseError> {
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
        let mut keep_alive = parsed.version == Some(1);
        let mut content_length: Option<u64> = None;
        let mut chunked = None;
        for header in parsed.headers.iter() {
            if header.name.eq_ignore_ascii_case("content-length") {
                let value = parse_content_length(header.value)?;
                if content_length.is_some_and(|seen| seen != value) {
                    return Err(ParseError::ContentLength);
                }
                content_length = Some(value);
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = Some(last_coding_is_chunked(header.value)?);
            } else if header.name.eq_ignore_ascii_case("connection") {
                keep_alive = connection_keeps_alive(header.value, keep_alive);
            }
        }
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
}
