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

#[cfg(test)]
mod tests {
    //! What verify's own parser did, now asked of the one parser: whole messages with
    //! their headers, decoded bodies and framing.

    use super::*;
    use crate::protocol::http1::{ResponseParser, MAX_HEAD_BYTES};
    use crate::protocol::{Progress, Response};

    /// Reads `parts` as one response; the message, or the parser's refusal.
    fn read(parts: &[&[u8]], body_expected: bool) -> Result<Option<Message>, ParseError> {
        let mut parser = ResponseParser::default();
        parser.reset(body_expected);
        let mut reader = MessageReader::new(1024);
        for part in parts {
            let (progress, used) = parser.advance(part, &mut reader)?;
            if let Progress::Complete(Response { keep_alive, .. }) = progress {
                assert_eq!(used, part.len(), "no surplus in these cases");
                return Ok(Some(reader.finish(keep_alive)));
            }
        }
        Ok(parser
            .finish_on_close()
            .map(|r| reader.finish(r.keep_alive)))
    }

    #[test]
    fn headers_are_kept_in_order_with_duplicates_and_trimmed_values() {
        let raw: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: a\r\ncontent-type:  b \r\nContent-Length: 2\r\n\r\nok";
        let m = read(&[raw], true).unwrap().unwrap();
        assert_eq!(m.status, 200);
        assert_eq!(
            m.headers[..2],
            [
                ("Content-Type".to_string(), "a".to_string()),
                ("content-type".to_string(), "b".to_string())
            ]
        );
        assert_eq!(
            (m.body.as_slice(), m.framing),
            (&b"ok"[..], Framing::ContentLength)
        );
        assert!(m.keep_alive);
    }

    #[test]
    fn a_chunked_body_with_extensions_and_trailers_is_decoded_however_split() {
        let whole: &[u8] = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n";
        for split in 1..whole.len() {
            let m = read(&[&whole[..split], &whole[split..]], true)
                .unwrap()
                .unwrap();
            assert_eq!(m.body, b"Wikipedia", "split at {split}");
            assert_eq!((m.status, m.framing), (201, Framing::Chunked));
        }
    }

    #[test]
    fn connection_close_and_a_body_until_close() {
        let m = read(
            &[b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"],
            true,
        )
        .unwrap()
        .unwrap();
        assert!(!m.keep_alive);
        let m = read(&[b"HTTP/1.1 200 OK\r\n\r\nto the ", b"end"], true)
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.body.as_slice(), m.framing),
            (&b"to the end"[..], Framing::UntilClose)
        );
        assert!(!m.keep_alive);
    }

    #[test]
    fn no_body_for_head_204_and_304_and_their_framing_is_not_until_close() {
        let head = read(&[b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"], false)
            .unwrap()
            .unwrap();
        assert_eq!((head.body.len(), head.framing), (0, Framing::ContentLength));
        for raw in [
            &b"HTTP/1.1 204 No Content\r\n\r\n"[..],
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
        ] {
            let m = read(&[raw], true).unwrap().unwrap();
            assert!(m.body.is_empty());
            assert_eq!(m.framing, Framing::ContentLength);
            assert!(m.keep_alive);
        }
    }

    #[test]
    fn an_interim_response_gives_way_to_the_real_one() {
        let m = read(
            &[b"HTTP/1.1 100 Continue\r\nX: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.status, 200);
        assert_eq!(m.headers, [("Content-Length".to_string(), "0".to_string())]);
    }

    #[test]
    fn truncated_and_oversized_heads_are_refused() {
        assert_eq!(read(&[b"HTTP/1.1 200 OK\r\nContent-Le"], true), Ok(None));
        let big = format!("HTTP/1.1 200 OK\r\nX: {}\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(read(&[big.as_bytes()], true), Err(ParseError::HeadTooLarge));
    }

    #[test]
    fn a_body_over_the_limit_is_flagged() {
        let mut parser = ResponseParser::default();
        let mut reader = MessageReader::new(3);
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let (progress, _) = parser.advance(raw, &mut reader).unwrap();
        assert!(matches!(progress, Progress::Complete(_)));
        assert!(reader.overflowed());
    }

    #[test]
    fn a_head_read_alone_declares_its_length_and_framing() {
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n\r\nbody";
        let head = read_head(raw).unwrap().unwrap();
        assert_eq!(head.len, raw.len() - 4);
        assert_eq!((head.status, head.content_length), (404, Some(12)));
        let chunked = read_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert_eq!(chunked.unwrap().framing, Framing::Chunked);
        assert_eq!(read_head(b"HTTP/1.1 200 OK\r\n"), Ok(None));
        assert_eq!(
            read_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
            Err(ParseError::ContentLength)
        );
    }
}
