//! One client connection relayed over its own upstream connection.
//!
//! Two threads per connection, one per direction, each a plain blocking loop: the
//! request side reads whole requests from the client and writes each one upstream; the
//! answer side reads responses from upstream and writes their bytes to the client as
//! they arrive. Both watch their socket all the time, so an idle close by either peer is
//! mirrored at once (a pooled client must see its idle connection die exactly when the
//! order service drops it, not on its next request).
//!
//! Whichever side ends first decides what happens to the other and how unanswered
//! requests are counted ([`Link::end`]): a close becomes a close, a reset becomes a
//! reset, garbage becomes a close. The answer side counts every request left unanswered
//! once the request side has stopped, so nothing is counted twice or lost.
//!
//! Faults (`super::fault`) act on the request side, where each whole request is
//! forwarded, delayed, answered by the proxy or swallowed, and on the answer side for
//! `Reset`, whose answers are held whole and cut. With no fault in effect a request
//! costs one relaxed atomic load more than a plain relay, and a response one atomic
//! increment (what lets an injected answer wait for the answers due before it).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::fault::{self, Action, ConnFaults, BLACKHOLE_TICK};
use super::listener::Closable;
use super::shared::Shared;
use super::stats::{ConnectFailure, Injected, Recorder, Route, Unanswered};
use crate::load::protocol::http1::{RequestParser, ResponseParser, MAX_HEAD_BYTES};
use crate::load::protocol::Progress;

/// Body bytes relayed in one message in either direction: a message (head and body)
/// longer than this plus the parser's head cap closes the connection.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
const MAX_MESSAGE_BYTES: usize = MAX_HEAD_BYTES + MAX_BODY_BYTES;
/// How long an upstream connect may take before the client's connection is reset. On
/// loopback a connect only waits when the listener's backlog is full.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_BUFFER: usize = 16 * 1024;
/// Stack of each relay thread: two small loops whose buffers live on the heap.
pub(super) const THREAD_STACK: usize = 128 * 1024;

/// Which peer ended the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Upstream,
    /// The proxy itself, for an injected fault: both peers are ended.
    Proxy,
}

/// How a peer ended the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Closed,
    Reset,
    Malformed,
}

/// A request sent upstream and not answered yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// When the read that completed the request returned.
    read_at: Instant,
    /// False for HEAD, whose response has no body whatever its head says.
    body_expected: bool,
    /// A `Reset` fault cuts its answer.
    cut: bool,
}

/// Both sockets of one relayed connection and who ended it first.
struct Link {
    client: TcpStream,
    upstream: TcpStream,
    ended: Mutex<Option<(Side, How)>>,
    /// Responses relayed whole so far: an injected answer waits for the ones before it.
    answered: AtomicU64,
}

impl Closable for Link {
    fn close_by_proxy(&self) {
        self.end(Side::Proxy, How::Closed);
    }
}

impl Link {
    fn has_ended(&self) -> bool {
        self.ended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Ends the link because `side` ended `how`, unless it has ended already; mirrors
    /// the end onto the other peer and wakes both directions. Returns the first end.
    fn end(&self, side: Side, how: How) -> (Side, How) {
        let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(first) = *ended {
            return first;
        }
        *ended = Some((side, how));
        // The proxy's own end treats the client as an upstream end would: a reset for
        // the client, a close upstream.
        let (this, other) = match side {
            Side::Client => (&self.client, &self.upstream),
            Side::Upstream | Side::Proxy => (&self.upstream, &self.client),
        };
        if how == How::Reset {
            // No FIN: the reader is woken by the read shutdown, and the last close of
            // the socket (when both threads are done) sends the reset.
            crate::socket::reset_on_close(other);
            let _ = other.shutdown(Shutdown::Read);
        } else {
            let _ = other.shutdown(Shutdown::Both);
        }
        let _ = this.shutdown(Shutdown::Both);
        (side, how)
    }
}

/// Relays `client` to a new connection to `upstream` until either ends. Returns when
/// both directions have stopped and the sockets are closed.
pub(super) fn relay(client: TcpStream, upstream: SocketAddr, shared: &Arc<Shared>) {
    let recorder = &shared.recorder;
    let upstream = match TcpStream::connect_timeout(&upstream, CONNECT_TIMEOUT) {
        Ok(stream) => stream,
        Err(e) => {
            recorder.connect_failed(match e.kind() {
                std::io::ErrorKind::TimedOut => ConnectFailure::Timeout,
                _ => ConnectFailure::Refused,
            });
            crate::socket::reset_on_close(&client);
            drop(client);
            shared.gate.gave_up();
            recorder.connection_closed();
            return;
        }
    };
    // Each write is a whole request or what one read brought; delaying it for more
    // would only add latency.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let link = Arc::new(Link {
        client,
        upstream,
        ended: Mutex::new(None),
        answered: AtomicU64::new(0),
    });
    let closable: Weak<dyn Closable> = Arc::downgrade(&link) as Weak<Link>;
    match shared.gate.register(closable) {
        Some(id) => {
            relay_linked(&link, shared);
            shared.gate.deregister(id);
        }
        None => {
            // Accepted just before a `Refuse` stopped the listener.
            recorder.injected(Injected::RefuseClosed, 1);
            link.end(Side::Proxy, How::Closed);
        }
    }
    drop(link);
    recorder.connection_closed();
}

/// Runs both directions of a registered link until both have stopped.
fn relay_linked(link: &Arc<Link>, shared: &Arc<Shared>) {
    let (sender, receiver) = std::sync::mpsc::channel();
    let answers = {
        let (link, shared) = (Arc::clone(link), Arc::clone(shared));
        std::thread::Builder::new()
            .name("proxy-answers".to_string())
            .stack_size(THREAD_STACK)
            .spawn(move || relay_answers(&link, &receiver, &shared.recorder))
    };
    let Ok(answers) = answers else {
        link.end(Side::Client, How::Reset);
        return;
    };
    relay_requests(link, sender, shared);
    let _ = answers.join();
}

/// Client to upstream: whole requests, in order, until the client or the link ends.
fn relay_requests(link: &Link, pending: Sender<Pending>, shared: &Shared) {
    let mut parser = RequestParser::default();
    let mut message = Vec::new();
    let mut conn = ConnFaults::default();
    let mut buf = vec![0u8; READ_BUFFER];
    let (side, how) = loop {
        let n = match (&link.client).read(&mut buf) {
            Ok(0) => break (Side::Client, How::Closed),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // Only a connection that swallowed requests reads with a timeout: its tick.
            Err(e) if conn.is_swallowing() && is_timeout(&e) => {
                if shared.faults.blackhole_expired(&conn, Instant::now()) {
                    break (Side::Proxy, How::Closed);
                }
                continue;
            }
            Err(_) => break (Side::Client, How::Reset),
        };
        let read_at = Instant::now();
        let mut requests = Requests {
            parser: &mut parser,
            message: &mut message,
            pending: &pending,
            shared,
            conn: &mut conn,
        };
        if let Err(end) = requests.forward(&buf[..n], read_at, link) {
            break end;
        }
    };
    if (side, how) == (Side::Client, How::Malformed) {
        shared.recorder.client_malformed();
    }
    link.end(side, how);
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The request side's state between reads.
struct Requests<'a> {
    parser: &'a mut RequestParser,
    /// The request being read: at most one message is ever held.
    message: &'a mut Vec<u8>,
    pending: &'a Sender<Pending>,
    shared: &'a Shared,
    conn: &'a mut ConnFaults,
}

impl Requests<'_> {
    /// Sends on every request that `bytes` complete (or does what the fault in effect
    /// says with it); why the link must end, if it must.
    fn forward(&mut self, bytes: &[u8], read_at: Instant, link: &Link) -> Result<(), (Side, How)> {
        let malformed = (Side::Client, How::Malformed);
        let mut rest = bytes;
        while !rest.is_empty() {
            let (end, used) = self.parser.advance(rest).map_err(|_| malformed)?;
            self.message.extend_from_slice(&rest[..used]);
            rest = &rest[used..];
            if self.message.len() > MAX_MESSAGE_BYTES {
                return Err(malformed);
            }
            let Some(end) = end else {
                continue;
            };
            let faults = &self.shared.faults;
            let action = if faults.is_off() && !self.conn.is_swallowing() {
                Action::Forward
            } else {
                faults.decide(self.conn, read_at)
            };
            match action {
                Action::Forward => self.send(read_at, false, link)?,
                Action::Cut => self.send(read_at, true, link)?,
                Action::DelayUntil(deadline) => {
                    self.shared.recorder.injected(Injected::Delayed, 1);
                    if !fault::wait_until(deadline, || link.has_ended()) {
                        self.shared.recorder.received();
                        return Err((Side::Upstream, How::Closed));
                    }
                    self.send(read_at, false, link)?;
                }
                Action::Error(status) => self.answer_error(status, end.keep_alive, link)?,
                Action::Swallow => {
                    self.shared.recorder.injected(Injected::Blackholed, 1);
                    // From now on the request side wakes now and then to see whether
                    // the time has come to close the connection.
                    let _ = link.client.set_read_timeout(Some(BLACKHOLE_TICK));
                }
            }
            self.message.clear();
            self.parser.reset();
        }
        Ok(())
    }

    /// Sends the request held in `message` upstream.
    fn send(&mut self, read_at: Instant, cut: bool, link: &Link) -> Result<(), (Side, How)> {
        let body_expected = self.parser.method() != "HEAD";
        // Queued before the write, so the answer side always knows what a response
        // answers by the time its first byte can arrive.
        let queued = self.pending.send(Pending {
            read_at,
            body_expected,
            cut,
        });
        if queued.is_err() {
            self.shared.recorder.received();
            return Err((Side::Upstream, How::Closed));
        }
        self.conn.forwarded += 1;
        let route = Route::of(self.parser.method(), self.parser.target());
        self.shared.recorder.forwarded(route);
        if (&link.upstream).write_all(self.message).is_err() {
            return Err((Side::Upstream, How::Reset));
        }
        Ok(())
    }

    /// Answers the request held with the proxy's own error, once every request forwarded
    /// before it has its answer.
    fn answer_error(
        &mut self,
        status: u16,
        keep_alive: bool,
        link: &Link,
    ) -> Result<(), (Side, How)> {
        self.shared.recorder.injected(Injected::Errored, 1);
        if !fault::wait_for_turn(&link.answered, self.conn.forwarded, || link.has_ended()) {
            return Err((Side::Upstream, How::Closed));
        }
        let head = self.parser.method() == "HEAD";
        fault::write_error(&link.client, status, head, keep_alive)
            .map_err(|_| (Side::Client, How::Reset))?;
        if !keep_alive {
            return Err((Side::Proxy, How::Closed));
        }
        Ok(())
    }
}

/// Upstream to client: response bytes as they arrive, each complete response timed and
/// counted; then every request left unanswered, counted by who ended the link.
fn relay_answers(link: &Link, pending: &Receiver<Pending>, recorder: &Recorder) {
    let mut answer = Answer {
        parser: ResponseParser::default(),
        current: None,
        size: 0,
        held: Vec::new(),
    };
    let mut buf = vec![0u8; READ_BUFFER];
    let (side, how) = loop {
        let n = match (&link.upstream).read(&mut buf) {
            Ok(0) => {
                // After the client's end this is the proxy's own shutdown, which
                // completes nothing.
                if link.has_ended() {
                    break (Side::Upstream, How::Closed);
                }
                break answer.closed(Instant::now(), link, recorder);
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break (Side::Upstream, How::Reset),
        };
        let read_at = Instant::now();
        if let Err(end) = answer.relay(&buf[..n], read_at, link, pending, recorder) {
            break end;
        }
    };
    let first = link.end(side, how);
    let why = match first {
        (Side::Client, _) => Unanswered::Abandoned,
        (Side::Proxy, How::Reset) => Unanswered::Cut,
        (Side::Proxy, _) => Unanswered::Dropped,
        (Side::Upstream, How::Malformed) => Unanswered::Malformed,
        (Side::Upstream, _) => Unanswered::Closed,
    };
    recorder.unanswered(why, u64::from(answer.current.is_some()));
    // Blocks until the request side has stopped (it drops its sender), which the end
    // of the link guarantees; what it queued was sent upstream and never answered.
    let queued = pending.iter().count() as u64;
    let why = match why {
        Unanswered::Malformed => Unanswered::Closed,
        other => other,
    };
    recorder.unanswered(why, queued);
}

/// The response being relayed.
struct Answer {
    parser: ResponseParser,
    current: Option<Pending>,
    size: usize,
    /// The answer of a request a `Reset` cuts, held until it is whole.
    held: Vec<u8>,
}

impl Answer {
    /// Relays the response bytes in `bytes`; why the link must end, if it must.
    fn relay(
        &mut self,
        bytes: &[u8],
        read_at: Instant,
        link: &Link,
        pending: &Receiver<Pending>,
        recorder: &Recorder,
    ) -> Result<(), (Side, How)> {
        let malformed = (Side::Upstream, How::Malformed);
        let mut rest = bytes;
        while !rest.is_empty() {
            let request = match self.current {
                Some(request) => request,
                None => {
                    // Bytes before any request was sent are not an answer to anything.
                    let request = pending.try_recv().map_err(|_| malformed)?;
                    self.parser.reset(request.body_expected);
                    self.size = 0;
                    self.current = Some(request);
                    request
                }
            };
            let (progress, used) = self.parser.advance(rest, &mut ()).map_err(|_| malformed)?;
            self.size += used;
            if self.size > MAX_MESSAGE_BYTES {
                return Err(malformed);
            }
            if request.cut {
                self.held.extend_from_slice(&rest[..used]);
            } else if (&link.client).write_all(&rest[..used]).is_err() {
                return Err((Side::Client, How::Reset));
            }
            rest = &rest[used..];
            if let Progress::Complete(response) = progress {
                if request.cut {
                    return Err(self.cut(link, recorder));
                }
                recorder.relayed(response.status, read_at - request.read_at);
                link.answered.fetch_add(1, Ordering::Release);
                self.current = None;
            }
        }
        Ok(())
    }

    /// The upstream closed: a body delimited by the close is complete now. Returns how
    /// the link ends.
    fn closed(&mut self, at: Instant, link: &Link, recorder: &Recorder) -> (Side, How) {
        if let Some(request) = self.current {
            if let Some(response) = self.parser.finish_on_close() {
                if request.cut {
                    return self.cut(link, recorder);
                }
                recorder.relayed(response.status, at - request.read_at);
                self.current = None;
            }
        }
        (Side::Upstream, How::Closed)
    }

    /// Writes part of the held answer; the link then ends with a reset of the client.
    fn cut(&mut self, link: &Link, recorder: &Recorder) -> (Side, How) {
        let part = fault::cut_length(self.held.len());
        // The reset follows whether or not the part got through.
        let _ = (&link.client).write_all(&self.held[..part]);
        self.held.clear();
        self.current = None;
        recorder.injected(Injected::Reset, 1);
        (Side::Proxy, How::Reset)
    }
}
