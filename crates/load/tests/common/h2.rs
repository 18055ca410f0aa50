//! A raw HTTP/2 server written frame by frame, so that each test can make it misbehave
//! in one precise way (reset streams, go away, ping, write a byte at a time, send a
//! frame too large, stall), and so that it can report what it saw of the client.
//!
//! Answers exercise the client's HPACK dynamic table: the first answer on a connection
//! inserts `:status: 201` and `x-lane: bench` (literals with incremental indexing), every
//! later one refers to both by index. A client whose table is out of step reads another
//! status, or fails to decode.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{serve, timed_out, Conn};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
/// The payload of the server's PING.
pub const PING_PAYLOAD: &[u8; 8] = b"lanebnch";
/// How long the server waits for more streams before answering the ones it has.
const LINGER: Duration = Duration::from_millis(20);

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// SETTINGS_MAX_CONCURRENT_STREAMS announced (none: unlimited).
    pub max_streams: Option<u32>,
    /// Answer once this many streams are open (or no frame came for a moment).
    pub batch: usize,
    /// Reset every n-th stream (counted over the server's life) instead of answering.
    pub reset_every: Option<u64>,
    /// Answer this many streams per connection, then GOAWAY with the last one's id.
    pub goaway_after: Option<u64>,
    /// Send a PING right after the settings.
    pub ping: bool,
    /// Write everything one byte at a time.
    pub byte_writes: bool,
    /// Answer with a DATA frame of 16385 bytes.
    pub oversize: bool,
    /// Never answer.
    pub stall: bool,
}

/// What the server saw of its clients.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub connections: u64,
    /// The most streams open at once on one connection.
    pub max_open: usize,
    pub streams: u64,
    pub answered: u64,
    pub reset: u64,
    /// GOAWAY frames sent, and the streams above their last id that went unanswered.
    pub goaways: u64,
    pub refused: u64,
    /// A PING acknowledgement carried [`PING_PAYLOAD`].
    pub ping_acked: bool,
    /// Frames or a preface the server could not make sense of.
    pub garbage: u64,
}

/// Starts a server with `behaviour`, over TLS when `tls` is given.
pub fn serve_h2(
    behaviour: Behaviour,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = Arc::clone(&seen);
    let addr = serve(tls, move |conn| {
        Connection {
            conn,
            behaviour: &behaviour,
            seen: &shared,
            buf: Vec::new(),
            open: Vec::new(),
            answered: 0,
            goaway: false,
        }
        .run()
    });
    (addr, seen)
}

/// A frame's header and payload.
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

fn head(out: &mut Vec<u8>, length: usize, kind: u8, flags: u8, stream: u32) {
    out.extend_from_slice(&(length as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
}

struct Connection<'a> {
    conn: &'a mut dyn Conn,
    behaviour: &'a Behaviour,
    seen: &'a Mutex<Seen>,
    buf: Vec<u8>,
    /// Streams the client opened that are not answered yet, oldest first.
    open: Vec<u32>,
    answered: u64,
    goaway: bool,
}

impl Connection<'_> {
    fn run(mut self) {
        self.seen.lock().unwrap().connections += 1;
        let mut preface = [0u8; 24];
        if self.conn.read_exact(&mut preface).is_err() || preface != PREFACE {
            self.seen.lock().unwrap().garbage += 1;
            return;
        }
        let mut out = Vec::new();
        let settings: Vec<(u16, u32)> = self
            .behaviour
            .max_streams
            .map(|n| (0x3, n))
            .into_iter()
            .collect();
        head(&mut out, settings.len() * 6, SETTINGS, 0, 0);
        for (id, value) in settings {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&value.to_be_bytes());
        }
        if self.behaviour.ping {
            head(&mut out, 8, PING, 0, 0);
            out.extend_from_slice(PING_PAYLOAD);
        }
        if self.write(&out).is_err() {
            return;
        }
        self.conn.set_timeout(Some(LINGER));
        loop {
            match self.next_frame() {
                Ok(Some(frame)) => {
                    if self.handle(frame).is_err() {
                        return;
                    }
                    // Frames that came together are all seen before any answer, so a
                    // client opening more streams than allowed shows as several open.
                    let more = self.frame_buffered();
                    if !more
                        && self.open.len() >= self.behaviour.batch.max(1)
                        && self.answer().is_err()
                    {
                        return;
                    }
                }
                Ok(None) => {
                    if !self.open.is_empty() && self.answer().is_err() {
                        return;
                    }
                }
                Err(()) => return,
            }
        }
    }

    fn frame_buffered(&self) -> bool {
        self.buf.len() >= 9 && {
            let length = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
            self.buf.len() >= 9 + length
        }
    }

    /// The next whole frame; `None` when none came for a moment, `Err` once the client
    /// is gone.
    fn next_frame(&mut self) -> Result<Option<Frame>, ()> {
        loop {
            if self.buf.len() >= 9 {
                let length =
                    u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                if self.buf.len() >= 9 + length {
                    let stream =
                        u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]);
                    let frame = Frame {
                        kind: self.buf[3],
                        flags: self.buf[4],
                        stream: stream & 0x7fff_ffff,
                        payload: self.buf[9..9 + length].to_vec(),
                    };
                    self.buf.drain(..9 + length);
                    return Ok(Some(frame));
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.conn.read(&mut chunk) {
                Ok(0) => return Err(()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if timed_out(&e) => return Ok(None),
                Err(_) => return Err(()),
            }
        }
    }

    fn handle(&mut self, frame: Frame) -> std::io::Result<()> {
        match frame.kind {
            SETTINGS if frame.flags & ACK == 0 => {
                let mut out = Vec::new();
                head(&mut out, 0, SETTINGS, ACK, 0);
                return self.write(&out);
            }
            PING if frame.flags & ACK != 0 && frame.payload == PING_PAYLOAD => {
                self.seen.lock().unwrap().ping_acked = true;
            }
            HEADERS => {
                if frame.flags & END_HEADERS == 0 || frame.stream.is_multiple_of(2) {
                    self.seen.lock().unwrap().garbage += 1;
                }
                self.open.push(frame.stream);
                let mut seen = self.seen.lock().unwrap();
                seen.streams += 1;
                seen.max_open = seen.max_open.max(self.open.len());
            }
            RST_STREAM => self.open.retain(|&id| id != frame.stream),
            _ => {}
        }
        Ok(())
    }

    /// Answers (or resets, or refuses) every open stream.
    fn answer(&mut self) -> std::io::Result<()> {
        if self.behaviour.stall {
            return Ok(());
        }
        let mut out = Vec::new();
        for id in std::mem::take(&mut self.open) {
            let mut seen = self.seen.lock().unwrap();
            if self.goaway {
                seen.refused += 1;
                continue;
            }
            let nth = seen.answered + seen.reset + 1;
            if self
                .behaviour
                .reset_every
                .is_some_and(|n| nth.is_multiple_of(n))
            {
                seen.reset += 1;
                head(&mut out, 4, RST_STREAM, 0, id);
                out.extend_from_slice(&2u32.to_be_bytes()); // INTERNAL_ERROR
                continue;
            }
            seen.answered += 1;
            self.answer_stream(&mut out, id);
            if self.behaviour.goaway_after == Some(self.answered) {
                self.goaway = true;
                seen.goaways += 1;
                head(&mut out, 8, GOAWAY, 0, 0);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
            }
        }
        self.write(&out)
    }

    fn answer_stream(&mut self, out: &mut Vec<u8>, id: u32) {
        let block: &[u8] = if self.answered == 0 {
            b"\x48\x03201\x40\x06x-lane\x05bench"
        } else {
            b"\xbf\xbe"
        };
        self.answered += 1;
        head(out, block.len(), HEADERS, END_HEADERS, id);
        out.extend_from_slice(block);
        if self.behaviour.oversize {
            head(out, 16_385, DATA, END_STREAM, id);
            out.resize(out.len() + 16_385, b'x');
        } else {
            head(out, 2, DATA, END_STREAM, id);
            out.extend_from_slice(b"ok");
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.behaviour.byte_writes {
            for b in bytes {
                self.conn.write_all(std::slice::from_ref(b))?;
                self.conn.flush()?;
            }
            return Ok(());
        }
        self.conn.write_all(bytes)?;
        self.conn.flush()
    }
}
