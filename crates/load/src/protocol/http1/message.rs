//! A whole HTTP/1.1 response for the callers that judge the protocol itself (`verify`):
//! its status, every header field as received (duplicates kept), the decoded body and
//! how it was delimited, all read by the one parser through an [`Observer`].

use super::response::{parse_content_length, parse_head, Framing, Observer, ParseError};

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub status: u16,
    /// Header fields in the order received, names as sent, values trimmed, duplicates kept.
    pub headers: Vec<(String, String)>,
    /// The body, chunked bodies decoded.
    pub body: Vec<u8>,
    pub framing: Framing,
    /// Whether the server lets the connection be reused.
    pub keep_alive: bool,
}

impl Message {
    fn empty() -> Message {
        Message {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
            framing: Framing::ContentLength,
            keep_alive: false,
        }
    }
}

/// Collects a [`Message`] while the parser reads it, keeping at most `limit` body bytes.
#[derive(Debug)]
pub struct MessageReader {
    message: Message,
    limit: usize,
    overflow: bool,
}

impl MessageReader {
    /// A reader that keeps bodies of up to `limit` bytes.
    pub fn new(limit: usize) -> MessageReader {
        MessageReader {
            message: Message::empty(),
            limit,
            overflow: false,
        }
    }

    /// The body went past the limit (what was kept is cut short).
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The message read, with the connection's fate from the parser.
    pub fn finish(self, keep_alive: bool) -> Message {
        Message {
            keep_alive,
            ..self.message
        }
    }
}

impl Observer for MessageReader {
    fn status(&mut self, status: u16) {
        // An interim 1xx head is replaced by the real one.
        self.message = Message {
            status,
            ..Message::empty()
        };
    }

    fn header(&mut self, name: &str, value: &[u8]) {
        let value = String::from_utf8_lossy(value).trim().to_string();
        self.message.headers.push((name.to_string(), value));
    }

    fn framing(&mut self, framing: Framing) {
        self.message.framing = framing;
    }

    fn body(&mut self, bytes: &[u8]) {
        if self.message.body.len() + bytes.len() > self.limit {
            self.overflow = true;
        } else {
            self.message.body.extend_from_slice(bytes);
        }
    }
}

/// What the head at the start of some bytes declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadSummary {
    /// Bytes of the head, the blank line included.
    pub len: usize,
    pub status: u16,
    pub framing: Framing,
    /// The `Content-Length` value, when the head has one.
    pub content_length: Option<u64>,
}

#[derive(Default)]
struct HeadFields {
    status: u16,
    framing: Option<Framing>,
    content_length: Option<u64>,
}

impl Observer for HeadFields {
    fn status(&mut self, status: u16) {
        *self = HeadFields {
            status,
            ..HeadFields::default()
        };
    }

    fn header(&mut self, name: &str, value: &[u8]) {
        if name.eq_ignore_ascii_case("content-length") {
            self.content_length = parse_content_length(value).ok();
        }
    }

    fn framing(&mut self, framing: Framing) {
        self.framing = Some(framing);
    }
}

/// Reads the response head at the start of `bytes` (a response to a request with a
/// body expected, so not HEAD); `None` when it is not complete.
pub fn read_head(bytes: &[u8]) -> Result<Option<HeadSummary>, ParseError> {
    let mut fields = HeadFields::default();
    let Some(len) = parse_head(bytes, true, &mut fields)? else {
        return Ok(None);
    };
    Ok(Some(HeadSummary {
        len,
        status: fields.status,
        framing: fields.framing.unwrap_or(Framing::UntilClose),
        content_length: fields.content_length,
    }))
}
