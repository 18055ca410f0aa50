//! Tests of the HTTP/1.1 response parser (`response.rs`).

use super::*;

fn feed_all(parser: &mut ResponseParser, parts: &[&[u8]]) -> Result<Progress, ParseError> {
    let mut last = Progress::NeedMore;
    for part in parts {
        last = parser.feed(part)?;
    }
    Ok(last)
}

fn complete(status: u16, keep_alive: bool) -> Progress {
    Progress::Complete(Response {
        status,
        keep_alive,
        degraded: false,
    })
}

#[test]
fn a_degraded_marker_is_read_whatever_its_case_and_only_when_true() {
    let degraded = |head: &str| {
        let mut p = ResponseParser::default();
        let text = format!("HTTP/1.1 200 OK\r\n{head}Content-Length: 0\r\n\r\n");
        match p.feed(text.as_bytes()).unwrap() {
            Progress::Complete(r) => r.degraded,
            Progress::NeedMore => panic!("incomplete"),
        }
    };
    assert!(degraded("X-Degraded: true\r\n"));
    assert!(degraded("x-degraded:TRUE \r\n"));
    assert!(!degraded("X-Degraded: false\r\n"));
    assert!(!degraded("X-Degraded-Not: true\r\n"));
    assert!(!degraded(""));
}

#[test]
fn content_length_in_one_read() {
    let mut p = ResponseParser::default();
    let r = p
        .feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    assert_eq!(r, complete(200, true));
}

#[test]
fn head_and_body_split_across_reads_at_every_byte() {
    let whole: &[u8] = b"HTTP/1.1 201 Created\r\ncontent-length: 3\r\nX: y\r\n\r\nabc";
    for split in 1..whole.len() {
        let mut p = ResponseParser::default();
        let r = feed_all(&mut p, &[&whole[..split], &whole[split..]]).unwrap();
        assert_eq!(r, complete(201, true), "split at {split}");
    }
}

#[test]
fn chunked_body_with_extension_and_trailer_split_everywhere() {
    let whole: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n";
    for split in 1..whole.len() {
        let mut p = ResponseParser::default();
        let r = feed_all(&mut p, &[&whole[..split], &whole[split..]]).unwrap();
        assert_eq!(r, complete(200, true), "split at {split}");
    }
}

#[test]
fn connection_close_and_http10_are_not_keep_alive() {
    let mut p = ResponseParser::default();
    let r = p
        .feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    assert_eq!(r, complete(200, false));
    p.reset(true);
    let r = p
        .feed(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    assert_eq!(r, complete(200, false));
    p.reset(true);
    let r = p
        .feed(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    assert_eq!(r, complete(200, true));
}

#[test]
fn body_until_close_completes_on_close_only() {
    let mut p = ResponseParser::default();
    assert_eq!(
        p.feed(b"HTTP/1.1 200 OK\r\n\r\npartial").unwrap(),
        Progress::NeedMore
    );
    assert_eq!(
        p.finish_on_close(),
        Some(Response {
            status: 200,
            keep_alive: false,
            degraded: false,
        })
    );
}

#[test]
fn truncated_length_body_is_not_complete_on_close() {
    let mut p = ResponseParser::default();
    assert_eq!(
        p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            .unwrap(),
        Progress::NeedMore
    );
    assert_eq!(p.finish_on_close(), None);
}

#[test]
fn no_body_for_head_204_304_and_interim_100_is_skipped() {
    let mut p = ResponseParser::default();
    p.reset(false);
    assert_eq!(
        p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
            .unwrap(),
        complete(200, true)
    );
    p.reset(true);
    assert_eq!(
        p.feed(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap(),
        complete(204, true)
    );
    p.reset(true);
    let r = p
        .feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        .unwrap();
    assert_eq!(r, complete(200, true));
}

#[test]
fn malformed_inputs_are_parse_errors() {
    let cases: [(&[u8], ParseError); 5] = [
        (
            b"garbage garbage\r\n\r\n",
            ParseError::Head("invalid HTTP version".into()),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            ParseError::ContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            ParseError::ContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab",
            ParseError::TrailingData,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            ParseError::Chunked,
        ),
    ];
    for (input, expected) in cases {
        let mut p = ResponseParser::default();
        let err = p.feed(input).unwrap_err();
        assert_eq!(
            std::mem::discriminant(&err),
            std::mem::discriminant(&expected),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn oversized_head_is_refused() {
    let mut p = ResponseParser::default();
    let mut err = None;
    let line =
        b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let _ = p.feed(b"HTTP/1.1 200 OK\r\n");
    for _ in 0..2000 {
        if let Err(e) = p.feed(line) {
            err = Some(e);
            break;
        }
    }
    assert!(
        matches!(
            err,
            Some(ParseError::HeadTooLarge) | Some(ParseError::Head(_))
        ),
        "{err:?}"
    );
}
