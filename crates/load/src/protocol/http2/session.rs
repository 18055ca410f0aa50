//! One HTTP/2 connection's state on the client: the frames read so far, the open
//! streams by id, the server's settings and whether it is going away.

use super::frame::{self, Head};
use super::{HEADER_TABLE_SIZE, WINDOW};
use crate::outcome::ErrorKind;
use crate::protocol::{Event, Response};

/// Stream ids are 31 bits; a link whose ids run out retires and reconnects.
const LAST_ID: u32 = (1 << 31) - 1;

/// A stream waiting for its answer.
#[derive(Debug, Clone, Copy)]
struct Stream {
    id: u32,
    lane: usize,
    /// 0 until the final (non-1xx) header block came.
    status: u16,
    degraded: bool,
    /// Bytes received on the stream since its window was last topped up.
    used: u32,
}

/// See the module docs.
pub struct Http2Session {
    /// The start of a frame that has not fully arrived.
    pending: Vec<u8>,
    /// Open streams, at `(id / 2) & mask`.
    slots: Vec<Option<Stream>>,
    next_id: u32,
    active: usize,
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS (unlimited until it says).
    peer_max: u32,
    settings_seen: bool,
    goaway: bool,
    /// A header block continued in CONTINUATION frames: its stream (0: none), bytes and
    /// whether the HEADERS frame ended the stream.
    block_stream: u32,
    block: Vec<u8>,
    block_ends_stream: bool,
    hpack: super::hpack::Decoder,
    /// Bytes received on the connection since its window was last topped up.
    used: u32,
}

impl Default for Http2Session {
    fn default() -> Http2Session {
        Http2Session {
            pending: Vec::new(),
            slots: Vec::new(),
            next_id: 1,
            active: 0,
            peer_max: u32::MAX,
            settings_seen: false,
            goaway: false,
            block_stream: 0,
            block: Vec::new(),
            block_ends_stream: false,
            hpack: super::hpack::Decoder::new(HEADER_TABLE_SIZE as usize),
            used: 0,
        }
    }
}

impl Http2Session {
    /// A new socket: everything starts over, and the preface, the client's settings and
    /// the connection window's opening go out first.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        let slots = std::mem::take(&mut self.slots);
        *self = Http2Session::default();
        self.slots = slots;
        self.slots.iter_mut().for_each(|s| *s = None);
        out.extend_from_slice(frame::PREFACE);
        frame::write_settings(
            out,
            &[
                (frame::SETTINGS_ENABLE_PUSH, 0),
                (frame::SETTINGS_INITIAL_WINDOW_SIZE, WINDOW),
                (frame::SETTINGS_HEADER_TABLE_SIZE, HEADER_TABLE_SIZE),
            ],
        );
        frame::write_window_update(out, 0, WINDOW - 65_535);
    }

    pub fn ready(&self) -> bool {
        self.settings_seen
    }

    fn ids_left(&self) -> bool {
        u64::from(self.next_id) + 2 * self.slots.len() as u64 + 2 < u64::from(LAST_ID)
    }

    #[inline]
    pub fn can_open(&self) -> bool {
        self.settings_seen
            && !self.goaway
            && (self.active as u64) < u64::from(self.peer_max)
            && self.ids_left()
    }

    pub fn retiring(&self) -> bool {
        self.goaway || !self.ids_left()
    }

    #[inline]
    fn slot(&self, id: u32) -> usize {
        (id as usize >> 1) & (self.slots.len() - 1)
    }

    /// Makes room so that a free slot is always near: twice the open streams, at least.
    fn grow(&mut self) {
        if self.slots.len() >= 16 && self.active * 2 < self.slots.len() {
            return;
        }
        let size = (self.active * 4).max(16).next_power_of_two();
        let old = std::mem::replace(&mut self.slots, vec![None; size]);
        for stream in old.into_iter().flatten() {
            let at = self.slot(stream.id);
            self.slots[at] = Some(stream);
        }
    }

    /// Opens a stream for `lane` carrying `block` and `body`.
    pub fn send(&mut self, lane: usize, block: &[u8], body: &[u8], out: &mut Vec<u8>) {
        self.grow();
        let mut id = self.next_id;
        while self.slots[self.slot(id)].is_some() {
            id += 2;
        }
        self.next_id = id + 2;
        let at = self.slot(id);
        self.slots[at] = Some(Stream {
            id,
            lane,
            status: 0,
            degraded: false,
            used: 0,
        });
        self.active += 1;
        let flags = frame::END_HEADERS
            | if body.is_empty() {
                frame::END_STREAM
            } else {
                0
            };
        frame::write_head(out, block.len(), frame::HEADERS, flags, id);
        out.extend_from_slice(block);
        let mut chunks = body.chunks(frame::MAX_FRAME_SIZE).peekable();
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let flags = if last { frame::END_STREAM } else { 0 };
            frame::write_head(out, chunk.len(), frame::DATA, flags, id);
            out.extend_from_slice(chunk);
        }
    }

    fn find(&self, id: u32) -> Option<usize> {
        if self.slots.is_empty() || id == 0 {
            return None;
        }
        let at = self.slot(id);
        self.slots[at].filter(|s| s.id == id).map(|_| at)
    }

    fn remove(&mut self, at: usize) -> Option<Stream> {
        let stream = self.slots[at].take();
        if stream.is_some() {
            self.active -= 1;
        }
        stream
    }

    /// Lane `lane` gave up: its stream is reset and forgotten.
    pub fn cancel(&mut self, lane: usize, out: &mut Vec<u8>) {
        let found = self
            .slots
            .iter()
            .position(|s| s.is_some_and(|s| s.lane == lane));
        if let Some(stream) = found.and_then(|at| self.remove(at)) {
            frame::write_rst_stream(out, stream.id, frame::CANCEL);
        }
    }

    /// Every open stream fails with `kind`.
    pub fn fail_all(&mut self, kind: ErrorKind, events: &mut Vec<Event>) {
        for at in 0..self.slots.len() {
            if let Some(stream) = self.remove(at) {
                events.push(Event::Failed {
                    lane: stream.lane,
                    kind,
                });
            }
        }
    }

    /// Bytes arrived: whole frames are handled, a partial one kept for later.
    pub fn received(
        &mut self,
        data: &[u8],
        out: &mut Vec<u8>,
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorKind> {
        if self.pending.is_empty() {
            let used = self.frames(data, out, events)?;
            self.pending.extend_from_slice(&data[used..]);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(data);
            let used = self.frames(&buf, out, events);
            buf.drain(..*used.as_ref().unwrap_or(&0));
            self.pending = buf;
            used?;
        }
        if self.used >= WINDOW / 2 {
            frame::write_window_update(out, 0, self.used);
            self.used = 0;
        }
        Ok(())
    }

    /// Handles the whole frames at the start of `buf`; returns the bytes they took.
    fn frames(
        &mut self,
        buf: &[u8],
        out: &mut Vec<u8>,
        events: &mut Vec<Event>,
    ) -> Result<usize, ErrorKind> {
        let mut at = 0;
        while let Some(head) = Head::parse(&buf[at..]) {
            if head.length > frame::MAX_FRAME_SIZE {
                return Err(ErrorKind::Parse);
            }
            let Some(payload) = buf.get(at + 9..at + 9 + head.length) else {
                break;
            };
            self.frame(head, payload, out, events)?;
            at += 9 + head.length;
        }
        Ok(at)
    }

    fn frame(
        &mut self,
        head: Head,
        payload: &[u8],
        out: &mut Vec<u8>,
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorKind> {
        if self.block_stream != 0
            && (head.kind != frame::CONTINUATION || head.stream != self.block_stream)
        {
            return Err(ErrorKind::Parse);
        }
        match head.kind {
            frame::DATA => self.data(head, payload, out, events),
            frame::HEADERS => {
                let (start, end) = frame::unpadded(&head, payload).ok_or(ErrorKind::Parse)?;
                let ends_stream = head.flags & frame::END_STREAM != 0;
                if head.stream == 0 {
                    return Err(ErrorKind::Parse);
                }
                if head.flags & frame::END_HEADERS != 0 {
                    return self.header_block(
                        head.stream,
                        &payload[start..end],
                        ends_stream,
                        events,
                    );
                }
                self.block.clear();
                self.block.extend_from_slice(&payload[start..end]);
                self.block_stream = head.stream;
                self.block_ends_stream = ends_stream;
                Ok(())
            }
            frame::CONTINUATION => {
                if self.block_stream == 0 {
                    return Err(ErrorKind::Parse);
                }
                self.block.extend_from_slice(payload);
                if head.flags & frame::END_HEADERS != 0 {
                    let block = std::mem::take(&mut self.block);
                    let result =
                        self.header_block(head.stream, &block, self.block_ends_stream, events);
                    self.block = block;
                    self.block_stream = 0;
                    return result;
                }
                Ok(())
            }
            frame::RST_STREAM => {
                if head.stream == 0 || payload.len() != 4 {
                    return Err(ErrorKind::Parse);
                }
                if let Some(stream) = self.find(head.stream).and_then(|at| self.remove(at)) {
                    events.push(Event::Failed {
                        lane: stream.lane,
                        kind: ErrorKind::StreamReset,
                    });
                }
                Ok(())
            }
            frame::SETTINGS => self.settings(head, payload, out),
            frame::PING => {
                if payload.len() != 8 {
                    return Err(ErrorKind::Parse);
                }
                if head.flags & frame::ACK == 0 {
                    frame::write_head(out, 8, frame::PING, frame::ACK, 0);
                    out.extend_from_slice(payload);
                }
                Ok(())
            }
            frame::GOAWAY => {
                let last = payload.get(..4).ok_or(ErrorKind::Parse)?;
                let last = u32::from_be_bytes([last[0], last[1], last[2], last[3]]) & LAST_ID;
                self.goaway = true;
                for at in 0..self.slots.len() {
                    if self.slots[at].is_some_and(|s| s.id > last) {
                        let stream = self.remove(at).expect("checked above");
                        events.push(Event::Failed {
                            lane: stream.lane,
                            kind: ErrorKind::GoAway,
                        });
                    }
                }
                Ok(())
            }
            // Push was turned off in the client's settings.
            frame::PUSH_PROMISE => Err(ErrorKind::Parse),
            // WINDOW_UPDATE (request bodies fit the initial window), PRIORITY, and frame
            // types this client does not know, which it must ignore.
            _ => Ok(()),
        }
    }

    fn data(
        &mut self,
        head: Head,
        payload: &[u8],
        out: &mut Vec<u8>,
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorKind> {
        if head.stream == 0 {
            return Err(ErrorKind::Parse);
        }
        frame::unpadded(&head, payload).ok_or(ErrorKind::Parse)?;
        let length = payload.len() as u32;
        self.used = self.used.saturating_add(length);
        let Some(at) = self.find(head.stream) else {
            return Ok(()); // a stream the client reset: its data only counts for the window
        };
        if head.flags & frame::END_STREAM != 0 {
            if self.slots[at].is_some_and(|s| s.status == 0) {
                // An answer ended before its final header block: no status to judge.
                return Err(ErrorKind::Parse);
            }
            self.complete(at, events);
            return Ok(());
        }
        let stream = self.slots[at].as_mut().expect("found");
        stream.used = stream.used.saturating_add(length);
        if stream.used >= WINDOW / 2 {
            frame::write_window_update(out, stream.id, stream.used);
            stream.used = 0;
        }
        Ok(())
    }

    fn complete(&mut self, at: usize, events: &mut Vec<Event>) {
        if let Some(stream) = self.remove(at) {
            events.push(Event::Answered {
                lane: stream.lane,
                response: Response {
                    status: stream.status,
                    keep_alive: true,
                    degraded: stream.degraded,
                },
            });
        }
    }

    /// A whole header block: decoded always (the HPACK table must stay in step, even for
    /// a stream the client reset), then applied to its stream.
    fn header_block(
        &mut self,
        id: u32,
        block: &[u8],
        ends_stream: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorKind> {
        let mut status = 0u16;
        let mut degraded = false;
        self.hpack
            .decode(block, |name, value| {
                if name == b":status" {
                    status = std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                } else if name.eq_ignore_ascii_case(b"x-degraded") {
                    degraded = value.eq_ignore_ascii_case(b"true");
                }
            })
            .map_err(|_| ErrorKind::Parse)?;
        let Some(at) = self.find(id) else {
            return Ok(());
        };
        let stream = self.slots[at].as_mut().expect("found");
        if stream.status == 0 {
            if !(100..=999).contains(&status) {
                return Err(ErrorKind::Parse);
            }
            if status < 200 {
                // Informational: the final answer follows, unless the stream ended
                // here, which would leave the request waiting for its timeout.
                return if ends_stream {
                    Err(ErrorKind::Parse)
                } else {
                    Ok(())
                };
            }
            stream.status = status;
        }
        stream.degraded |= degraded;
        if ends_stream {
            self.complete(at, events);
        }
        Ok(())
    }

    fn settings(&mut self, head: Head, payload: &[u8], out: &mut Vec<u8>) -> Result<(), ErrorKind> {
        if head.stream != 0 || (head.flags & frame::ACK == 0 && !payload.len().is_multiple_of(6)) {
            return Err(ErrorKind::Parse);
        }
        if head.flags & frame::ACK != 0 {
            return Ok(());
        }
        for entry in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            if id == frame::SETTINGS_MAX_CONCURRENT_STREAMS {
                self.peer_max = value;
            }
        }
        frame::write_head(out, 0, frame::SETTINGS, frame::ACK, 0);
        self.settings_seen = true;
        Ok(())
    }
}
