//! The client's HTTP/2 session fed what a server might send, whole or in pieces: it
//! never panics, reports only streams it opened (each once), and how the bytes are
//! split changes nothing.

use proptest::prelude::*;

use super::frame;
use super::Http2Session;
use crate::outcome::ErrorKind;
use crate::protocol::Event;

/// Lanes opened on a fresh session (stream ids 1, 3, 5, ...), after the server's
/// settings.
fn session(lanes: usize) -> Http2Session {
    let mut session = Http2Session::default();
    let mut out = Vec::new();
    session.start(&mut out);
    let mut settings = Vec::new();
    frame::write_settings(&mut settings, &[]);
    session
        .received(&settings, &mut out, &mut Vec::new())
        .unwrap();
    for lane in 0..lanes {
        session.send(lane, b"\x82", b"", &mut out);
    }
    session
}

/// Feeds `data` cut at `cuts`, as far as the first error; the events, what the client
/// wrote back and the error.
fn feed(lanes: usize, data: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>, Option<ErrorKind>) {
    let mut session = session(lanes);
    let (mut events, mut out) = (Vec::new(), Vec::new());
    let mut at = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    ends.sort_unstable();
    ends.push(data.len());
    for end in ends {
        if let Err(kind) = session.received(&data[at..end], &mut out, &mut events) {
            return (events, out, Some(kind));
        }
        at = end;
    }
    session.fail_all(ErrorKind::Read, &mut events);
    (events, out, None)
}

fn check(lanes: usize, data: &[u8], cuts: &[usize]) {
    let (events, out, error) = feed(lanes, data, cuts);
    let mut reported = vec![false; lanes];
    for event in &events {
        let (Event::Answered { lane, .. } | Event::Failed { lane, .. }) = *event;
        assert!(lane < lanes, "lane {lane} was never sent: {events:?}");
        assert!(!reported[lane], "lane {lane} reported twice: {events:?}");
        reported[lane] = true;
    }
    if error.is_none() {
        assert!(
            reported.iter().all(|&r| r),
            "a lane was forgotten: {events:?}"
        );
    }
    assert_eq!(
        (events, out, error),
        feed(lanes, data, &[]),
        "whole vs. split"
    );
}

fn encode(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::write_head(&mut out, payload.len(), kind, flags, stream);
    out.extend_from_slice(payload);
    out
}

/// A frame as a server sends it, on a stream the client opened (ids 1 to 11).
fn sound_frame() -> impl Strategy<Value = Vec<u8>> {
    let stream = (0u32..6).prop_map(|i| 2 * i + 1);
    let ends = prop_oneof![Just(frame::END_STREAM), Just(0)];
    // :status 200; :status 204 and a literal x-degraded: true; :status 100
    let block = prop_oneof![
        Just(b"\x88".to_vec()),
        Just(b"\x89\x40\x0ax-degraded\x04true".to_vec()),
        Just(b"\x08\x03100".to_vec()),
    ];
    prop_oneof![
        (stream.clone(), ends.clone(), block).prop_map(|(id, end, block)| encode(
            frame::HEADERS,
            frame::END_HEADERS | end,
            id,
            &block
        )),
        (
            stream.clone(),
            ends,
            proptest::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(|(id, end, body)| encode(frame::DATA, end, id, &body)),
        (stream.clone(), any::<u32>()).prop_map(|(id, code)| encode(
            frame::RST_STREAM,
            0,
            id,
            &code.to_be_bytes()
        )),
        stream.prop_map(|last| encode(frame::GOAWAY, 0, 0, &[last.to_be_bytes(), [0; 4]].concat())),
        any::<[u8; 8]>().prop_map(|data| encode(frame::PING, 0, 0, &data)),
        Just(encode(frame::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 2])),
    ]
}

/// Any frame header over a short payload.
fn any_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..12,
        any::<u8>(),
        0u32..14,
        proptest::collection::vec(any::<u8>(), 0..24),
    )
        .prop_map(|(kind, flags, stream, payload)| encode(kind, flags, stream, &payload))
}

/// Mostly what a server sends, now and then anything.
fn frame_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![12 => sound_frame(), 1 => any_frame()]
}

/// Lane 0's stream (id 1) fed `frames`.
fn answer(frames: &[Vec<u8>]) -> (Vec<Event>, Option<ErrorKind>) {
    let (events, _, error) = feed(1, &frames.concat(), &[]);
    (events, error)
}

#[test]
fn an_answer_without_its_final_header_block_is_a_parse_error() {
    let data = encode(frame::DATA, frame::END_STREAM, 1, b"ok");
    assert_eq!(
        answer(std::slice::from_ref(&data)).1,
        Some(ErrorKind::Parse)
    );
    let informational = encode(frame::HEADERS, frame::END_HEADERS, 1, b"\x08\x03100");
    assert_eq!(
        answer(&[informational.clone(), data]).1,
        Some(ErrorKind::Parse)
    );
    let ended = encode(
        frame::HEADERS,
        frame::END_HEADERS | frame::END_STREAM,
        1,
        b"\x08\x03100",
    );
    assert_eq!(answer(&[ended]).1, Some(ErrorKind::Parse));
    // The final header block after an informational one is the answer.
    let ok = encode(
        frame::HEADERS,
        frame::END_HEADERS | frame::END_STREAM,
        1,
        b"\x88",
    );
    let (events, error) = answer(&[informational, ok]);
    assert_eq!(error, None);
    assert!(
        matches!(events[0], Event::Answered { lane: 0, response } if response.status == 200),
        "{events:?}"
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        lanes in 0usize..6,
        data in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        check(lanes, &data, &cuts);
    }

    #[test]
    fn arbitrary_frames_never_panic(
        lanes in 0usize..6,
        frames in proptest::collection::vec(frame_bytes(), 0..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        check(lanes, &frames.concat(), &cuts);
    }
}
