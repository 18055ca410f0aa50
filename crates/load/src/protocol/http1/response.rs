//! The one HTTP/1.1 response parser: the generator's hot path, the blocking exchanges of
//! readiness, cold start and cost, and `verify` all read responses with it.
//!
//! The generator only needs to know where a response ends, its status and whether the
//! connection stays open; it never keeps the body. So the parser reads the head with
//! `httparse` (copying only when a head is split across reads) and then merely counts
//! body bytes down, for `Content-Length`, chunked, or read-until-close bodies. It
//! allocates nothing per response once its head buffer has grown to the largest head seen.
//! A caller that wants the head's fields or the body's bytes (`verify`) passes an
//! [`Observer`]; the generator passes `()`, whose empty methods compile away.

use thiserror::Error;

use crate::protocol::{Progress, Response};

/// Largest response head accepted; a bigger one is a parse error rather than unbounded memory.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers inspected per response; more is a parse error.
pub(super) const MAX_HEADERS: usize = 64;

/// Why the bytes received are not a valid response.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("malformed status line or headers: {0}")]
    Head(String),
    #[error("response head larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("invalid or conflicting Content-Length")]
    ContentLength,
    #[error("unsupported Transfer-Encoding")]
    TransferEncoding,
    #[error("malformed chunked body")]
    Chunked,
    #[error("bytes received after the response ended")]
    TrailingData,
}

/// How a response's body is delimited, as its head declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` (also a response that has no body and says nothing: a 204,
    /// a 304, an answer to HEAD).
    ContentLength,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body runs until the server closes the connection.
    UntilClose,
}

/// What a caller sees of a response besides its end. Every method has an empty default.
pub trait Observer {
    /// A head was parsed: its status (an interim 1xx head is followed by the real one).
    fn status(&mut self, _status: u16) {}
    /// One header field of the head just announced, in the order received.
    fn header(&mut self, _name: &str, _value: &[u8]) {}
    /// How the body of the head just announced is delimited.
    fn framing(&mut self, _framing: Framing) {}
    /// The next bytes of the body (chunked bodies decoded).
    fn body(&mut self, _bytes: &[u8]) {}
}

/// The generator's observer: sees nothing.
impl Observer for () {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Length(u64),
    Chunked(ChunkState),
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChunkState {
    Size { value: u64, digits: u8 },
    Extension { value: u64 },
    SizeLf { value: u64 },
    Data(u64),
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    FinalLf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body(Body),
}

/// Parser for one response at a time; `reset` before each request.
#[derive(Debug)]
pub struct ResponseParser {
    state: State,
    head: Vec<u8>,
    response: Response,
    body_expected: bool,
}

impl Default for ResponseParser {
    fn default() -> Self {
        ResponseParser {
            state: State::Head,
            head: Vec::new(),
            response: Response {
                status: 0,
                keep_alive: false,
                degraded: false,
            },
            body_expected: true,
        }
    }
}

impl ResponseParser {
    /// Prepares for the response to a new request. `body_expected` is false for HEAD.
    pub fn reset(&mut self, body_expected: bool) {
        self.state = State::Head;
        self.head.clear();
        self.body_expected = body_expected;
    }

    /// True when no byte of the current response has arrived yet.
    pub fn is_fresh(&self) -> bool {
        self.state == State::Head && self.head.is_empty()
    }

    /// Feeds the next bytes received. After `Complete`, call `reset` before feeding more;
    /// bytes beyond the end of the response are an error (nothing was pipelined).
    #[inline]
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ParseError> {
        match self.advance(data, &mut ())? {
            (Progress::Complete(_), used) if used < data.len() => Err(ParseError::TrailingData),
            (progress, _) => Ok(progress),
        }
    }

    /// Feeds the next bytes received, telling `observer` what they hold. Returns the
    /// progress and how many bytes of `data` belong to this response (fewer than all
    /// only once it is complete).
    pub fn advance<O: Observer>(
        &mut self,
        data: &[u8],
        observer: &mut O,
    ) -> Result<(Progress, usize), ParseError> {
        let mut rest = data;
        loop {
            match self.state {
                State::Head => match self.parse_head(rest, observer)? {
                    None => return Ok((Progress::NeedMore, data.len())),
                    Some(used) => rest = &rest[used..],
                },
                State::Body(body) => {
                    let (progress, used) = self.feed_body(body, rest, observer)?;
                    return Ok((progress, data.len() - rest.len() + used));
                }
            }
        }
    }

    /// The server closed the connection: completes a read-until-close body, otherwise
    /// the response was cut short (`None`).
    pub fn finish_on_close(&mut self) -> Option<Response> {
        match self.state {
            State::Body(Body::UntilClose) => Some(self.response),
            _ => None,
        }
    }

    /// Parses the head from `data` (plus any earlier partial head). Returns the number of
    /// bytes of `data` it consumed, or `None` when the head is not complete yet.
    fn parse_head<O: Observer>(
        &mut self,
        data: &[u8],
        observer: &mut O,
    ) -> Result<Option<usize>, ParseError> {
        let carried = self.head.len();
        let parsed = if carried == 0 {
            parse_head_bytes(data, self.body_expected, observer)?
        } else {
            self.head.extend_from_slice(data);
            parse_head_bytes(&self.head, self.body_expected, observer)?
        };
        let Some((head_len, head)) = parsed else {
            if carried == 0 {
                self.head.extend_from_slice(data);
            }
            if self.head.len() > MAX_HEAD_BYTES {
                return Err(ParseError::HeadTooLarge);
            }
            return Ok(None);
        };
        self.head.clear();
        self.response = head.response;
        // 1xx interim responses (other than a protocol switch) are followed by the real one.
        if (100..200).contains(&head.response.status) && head.response.status != 101 {
            self.state = State::Head;
        } else {
            self.state = State::Body(head.body);
        }
        Ok(Some(head_len - carried))
    }

    /// Advances the body over `data`; returns the progress and the bytes it took.
    fn feed_body<O: Observer>(
        &mut self,
        body: Body,
        data: &[u8],
        observer: &mut O,
    ) -> Result<(Progress, usize), ParseError> {
        match body {
            Body::UntilClose => {
                observer.body(data);
                Ok((Progress::NeedMore, data.len()))
            }
            Body::Length(remaining) => {
                let take = remaining.min(data.len() as u64);
                observer.body(&data[..take as usize]);
                self.state = State::Body(Body::Length(remaining - take));
                if take == remaining {
                    Ok((Progress::Complete(self.response), take as usize))
                } else {
                    Ok((Progress::NeedMore, take as usize))
                }
            }
            Body::Chunked(chunk) => {
                let (chunk, used, done) = feed_chunked(chunk, data, observer)?;
                self.state = State::Body(Body::Chunked(chunk));
                match done {
                    true => Ok((Progress::Complete(self.response), used)),
                    false => Ok((Progress::NeedMore, used)),
                }
            }
        }
    }
}

struct Head {
    response: Response,
    body: Body,
}

/// Reads the head at the start of `bytes` for `observer` (the fields of an interim 1xx
/// head included); returns its length, or `None` when it is not complete.
/// The header a service sets on a degraded fallback answer (targets/CONTRACT.md,
/// "Service-to-service mode"); with the value `true` the answer is not a success.
pub const DEGRADED_HEADER: &str = "x-degraded";

pub fn parse_head<O: Observer>(
    bytes: &[u8],
    body_expected: bool,
    observer: &mut O,
) -> Result<Option<usize>, ParseError> {
    Ok(parse_head_bytes(bytes, body_expected, observer)?.map(|(len, _)| len))
}

/// Parses a complete head, or returns `None` when more bytes are needed.
fn parse_head_bytes<O: Observer>(
    bytes: &[u8],
    body_expected: bool,
    observer: &mut O,
) -> Result<Option<(usize, Head)>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_len = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ParseError::Head(e.to_string())),
    };
    let status = parsed.code.unwrap_or(0);
    observer.status(status);
    let fields = head_fields(parsed.headers, parsed.version == Some(1), observer)?;
    let HeadFields {
        content_length,
        degraded,
        ..
    } = fields;
    let mut keep_alive = fields.keep_alive;
    let chunked = fields.chunked == Some(true);
    let no_body = !body_expected || status == 204 || status == 304 || (100..200).contains(&status);
    observer.framing(match (chunked, content_length) {
        (true, _) => Framing::Chunked,
        (false, Some(_)) => Framing::ContentLength,
        (false, None) if no_body => Framing::ContentLength,
        (false, None) => Framing::UntilClose,
    });
    let body = if no_body {
        Body::Length(0)
    } else if chunked {
        Body::Chunked(ChunkState::Size {
            value: 0,
            digits: 0,
        })
    } else if let Some(length) = content_length {
        Body::Length(length)
    } else {
        keep_alive = false;
        Body::UntilClose
    };
    let response = Response {
        status,
        keep_alive,
        degraded,
    };
    Ok(Some((head_len, Head { response, body })))
}

/// What the headers of a head (a response's or a request's) say about its framing and
/// connection, every header shown to `observer` on the way: one reading of them for both.
pub(super) struct HeadFields {
    /// The one `Content-Length` (several that disagree are an error).
    pub content_length: Option<u64>,
    /// `Transfer-Encoding` was present, and whether its last coding is chunked.
    pub chunked: Option<bool>,
    /// HTTP/1.1 and no `Connection: close` (or HTTP/1.0 with `keep-alive`).
    pub keep_alive: bool,
    /// `X-Degraded: true` ([`DEGRADED_HEADER`]).
    pub degraded: bool,
}

pub(super) fn head_fields<O: Observer>(
    headers: &[httparse::Header<'_>],
    http11: bool,
    observer: &mut O,
) -> Result<HeadFields, ParseError> {
    let mut fields = HeadFields {
        content_length: None,
        chunked: None,
        keep_alive: http11,
        degraded: false,
    };
    for header in headers {
        observer.header(header.name, header.value);
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = parse_content_length(header.value)?;
            if fields.content_length.is_some_and(|seen| seen != value) {
                return Err(ParseError::ContentLength);
            }
            fields.content_length = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            fields.chunked = Some(last_coding_is_chunked(header.value)?);
        } else if header.name.eq_ignore_ascii_case("connection") {
            fields.keep_alive = connection_keeps_alive(header.value, fields.keep_alive);
        } else if header.name.eq_ignore_ascii_case(DEGRADED_HEADER) {
            fields.degraded = header.value.trim_ascii().eq_ignore_ascii_case(b"true");
        }
    }
    Ok(fields)
}

pub(super) fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    let text = std::str::from_utf8(value)
        .map_err(|_| ParseError::ContentLength)?
        .trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::ContentLength);
    }
    text.parse().map_err(|_| ParseError::ContentLength)
}

pub(super) fn last_coding_is_chunked(value: &[u8]) -> Result<bool, ParseError> {
    let text = std::str::from_utf8(value).map_err(|_| ParseError::TransferEncoding)?;
    let last = text.rsplit(',').next().unwrap_or("").trim();
    if last.eq_ignore_ascii_case("chunked") {
        Ok(true)
    } else if last.eq_ignore_ascii_case("identity") {
        Ok(false)
    } else {
        Err(ParseError::TransferEncoding)
    }
}

pub(super) fn connection_keeps_alive(value: &[u8], default: bool) -> bool {
    let mut keep = default;
    for token in value.split(|&b| b == b',') {
        let token = token.trim_ascii();
        if token.eq_ignore_ascii_case(b"close") {
            return false;
        }
        if token.eq_ignore_ascii_case(b"keep-alive") {
            keep = true;
        }
    }
    keep
}

/// Advances the chunked-body state machine over `data`. Returns the new state, the bytes
/// consumed and whether the body (including trailers) ended.
pub(super) fn feed_chunked<O: Observer>(
    mut state: ChunkState,
    data: &[u8],
    observer: &mut O,
) -> Result<(ChunkState, usize, bool), ParseError> {
    let mut i = 0;
    while i < data.len() {
        if let ChunkState::Data(remaining) = state {
            let take = remaining.min((data.len() - i) as u64);
            observer.body(&data[i..i + take as usize]);
            i += take as usize;
            state = if take == remaining {
                ChunkState::DataCr
            } else {
                ChunkState::Data(remaining - take)
            };
            continue;
        }
        let byte = data[i];
        i += 1;
        state = match state {
            ChunkState::Size { value, digits } => match (byte as char).to_digit(16) {
                Some(d) if digits < 16 => ChunkState::Size {
                    value: value * 16 + d as u64,
                    digits: digits + 1,
                },
                Some(_) => return Err(ParseError::Chunked),
                None if digits == 0 => return Err(ParseError::Chunked),
                None => match byte {
                    b';' | b' ' | b'\t' => ChunkState::Extension { value },
                    b'\r' => ChunkState::SizeLf { value },
                    b'\n' => after_size_line(value),
                    _ => return Err(ParseError::Chunked),
                },
            },
            ChunkState::Extension { value } => match byte {
                b'\r' => ChunkState::SizeLf { value },
                b'\n' => after_size_line(value),
                _ => ChunkState::Extension { value },
            },
            ChunkState::SizeLf { value } if byte == b'\n' => after_size_line(value),
            ChunkState::DataCr if byte == b'\r' => ChunkState::DataLf,
            ChunkState::DataCr | ChunkState::DataLf if byte == b'\n' => ChunkState::Size {
                value: 0,
                digits: 0,
            },
            ChunkState::TrailerStart => match byte {
                b'\r' => ChunkState::FinalLf,
                b'\n' => return Ok((state, i, true)),
                _ => ChunkState::TrailerLine,
            },
            ChunkState::TrailerLine if byte == b'\n' => ChunkState::TrailerStart,
            ChunkState::TrailerLine => ChunkState::TrailerLine,
            ChunkState::FinalLf if byte == b'\n' => return Ok((state, i, true)),
            _ => return Err(ParseError::Chunked),
        };
    }
    Ok((state, i, false))
}

fn after_size_line(value: u64) -> ChunkState {
    if value == 0 {
        ChunkState::TrailerStart
    } else {
        ChunkState::Data(value)
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
