//! What the proxy counts and times, and the snapshot it serves: one window of counts
//! and one latency histogram behind one lock, so that "read and reset" is a single step
//! and no request falls between two windows.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::fault::Fault;
use crate::load::hdr_log::{decode_histogram, encode_histogram, HdrError};
use crate::load::histogram::{new_histogram, MAX_LATENCY_NS};

/// One window of the proxy's figures, as `GET /stats` serves them and
/// [`super::fetch_stats`] reads them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyStats {
    /// Length of the window these figures cover: since the proxy started or since the
    /// last read with reset.
    pub window_seconds: f64,
    /// Client connections accepted (each gets its own upstream connection).
    pub connections_accepted: u64,
    /// Requests read whole from a client and sent on upstream.
    pub requests_forwarded: u64,
    /// Responses read whole from upstream and relayed to their client; each one's
    /// downstream latency is in `latency_hdr`.
    pub responses_relayed: u64,
    /// Forwarded requests by route.
    pub routes: RouteCounts,
    /// Relayed responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Upstream connections not made, and forwarded requests the upstream never answered
    /// completely.
    pub upstream_failures: UpstreamFailures,
    /// Forwarded requests whose client closed or reset its connection before the answer
    /// was complete (a client's own timeout, usually).
    pub client_abandoned: u64,
    /// Client connections closed because what they sent was not an HTTP/1.1 request the
    /// proxy relays (malformed, ambiguous framing, over the size cap).
    pub client_malformed: u64,
    /// What the injected faults did in this window (absent from figures written before
    /// the proxy injected faults: all zero then).
    #[serde(default)]
    pub injected: InjectedCounts,
    /// Downstream latency of every relayed response, in ns: base64 of the HDR
    /// histogram's V2+deflate serialization, with the load engine's bounds and precision,
    /// so that it merges exactly with the end-to-end histograms.
    pub latency_hdr: String,
}

impl ProxyStats {
    /// The downstream latency histogram (ns).
    pub fn latency(&self) -> Result<Histogram<u64>, HdrError> {
        decode_histogram(&self.latency_hdr)
    }

    /// Forwarded requests that got no complete answer and whose client was still
    /// waiting: the failures the proxy saw.
    pub fn unanswered(&self) -> u64 {
        let f = &self.upstream_failures;
        f.closed + f.malformed
    }
}

/// What injected faults did, in requests unless said otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectedCounts {
    /// Requests held back by a `Delay` before they were forwarded.
    pub delayed: u64,
    /// Requests answered by the proxy with the `Error` fault's status, never forwarded.
    pub errored: u64,
    /// Requests swallowed: never forwarded, never answered.
    pub blackholed: u64,
    /// Forwarded requests whose answer the proxy cut short and then reset the client's
    /// connection (with any request queued behind them on that connection).
    pub reset: u64,
    /// Client connections (not requests) the proxy closed because a `Refuse` began.
    pub refuse_closed: u64,
}

/// The proxy's counts since it started, never reset and cheap to read (no histogram):
/// what `GET /counts` serves, polled several times a second for per-second series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyCounts {
    /// Requests read whole from a client: forwarded, or answered or swallowed by a
    /// fault. The calls the user service made to its order service.
    pub received: u64,
    /// Requests sent on upstream.
    pub forwarded: u64,
    /// Responses read whole from upstream and relayed whole.
    pub relayed: u64,
    /// Client connections accepted.
    pub accepted: u64,
    /// Client connections open now.
    pub open_connections: u64,
    /// Client connections reset because the upstream could not be reached (refused or
    /// not made in time): each one a call the user service tried whose request was
    /// never read, so not in `received` (the `down` fault's calls).
    #[serde(default)]
    pub connect_failures: u64,
    pub injected: InjectedCounts,
    /// The fault in effect now.
    pub fault: Fault,
}

/// What an injected fault did, for [`Recorder::injected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injected {
    Delayed,
    Errored,
    Blackholed,
    Reset,
    RefuseClosed,
}

impl InjectedCounts {
    fn add(&mut self, other: &InjectedCounts) {
        self.delayed += other.delayed;
        self.errored += other.errored;
        self.blackholed += other.blackholed;
        self.reset += other.reset;
        self.refuse_closed += other.refuse_closed;
    }
}

/// Forwarded requests by route: the two calls of the service-to-service contract, and
/// everything else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteCounts {
    /// `GET /api/users/{id}/orders` (any query string).
    pub user_orders: u64,
    /// `POST /api/orders` (any query string).
    pub create_order: u64,
    /// Any other method or path.
    pub other: u64,
}

/// Upstream failures by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamFailures {
    /// Upstream connections that failed at once (refused, unreachable); the client's
    /// connection was then reset.
    pub refused: u64,
    /// Upstream connections not made within the proxy's connect timeout; the client's
    /// connection was then reset.
    pub connect_timeout: u64,
    /// Forwarded requests whose upstream connection closed or was reset before their
    /// response was complete.
    pub closed: u64,
    /// Forwarded requests answered with bytes that are not a valid response (or that
    /// came with nothing asked, or over the size cap); the connection was then closed.
    pub malformed: u64,
}

/// Which route a request is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    UserOrders,
    CreateOrder,
    Other,
}

impl Route {
    /// The route of a request line's method and target.
    pub fn of(method: &str, target: &str) -> Route {
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        match method {
            "GET" if is_user_orders(path) => Route::UserOrders,
            "POST" if path == "/api/orders" => Route::CreateOrder,
            _ => Route::Other,
        }
    }
}

/// `/api/users/{id}/orders` with one non-empty segment as the id (what the id is, is
/// the order service's business; a doubled slash is not this route).
fn is_user_orders(path: &str) -> bool {
    path.strip_prefix("/api/users/")
        .and_then(|rest| rest.strip_suffix("/orders"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// Why an upstream connection was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectFailure {
    Refused,
    Timeout,
}

/// Why a forwarded request got no complete answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unanswered {
    /// The client went away first.
    Abandoned,
    /// The upstream closed or reset the connection.
    Closed,
    /// The upstream answered with something that is not a response.
    Malformed,
    /// A `Reset` fault cut the connection.
    Cut,
    /// The proxy closed the connection for a fault (a `Refuse`, a blackhole's end):
    /// counted nowhere but as forwarded and not relayed.
    Dropped,
}

#[derive(Debug, Clone)]
struct Window {
    started: Instant,
    counts: Counts,
    statuses: BTreeMap<u16, u64>,
    latency: Histogram<u64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    accepted: u64,
    received: u64,
    forwarded: u64,
    relayed: u64,
    routes: RouteCounts,
    failures: UpstreamFailures,
    abandoned: u64,
    client_malformed: u64,
    injected: InjectedCounts,
}

impl Counts {
    /// Adds the figures `GET /counts` keeps across windows.
    fn add_totals(&mut self, other: &Counts) {
        self.accepted += other.accepted;
        self.received += other.received;
        self.forwarded += other.forwarded;
        self.relayed += other.relayed;
        self.failures.refused += other.failures.refused;
        self.failures.connect_timeout += other.failures.connect_timeout;
        self.injected.add(&other.injected);
    }
}

impl Window {
    fn new() -> Window {
        Window {
            started: Instant::now(),
            counts: Counts::default(),
            statuses: BTreeMap::new(),
            latency: new_histogram(),
        }
    }
}

/// Everything behind the recorder's one lock.
#[derive(Debug)]
struct Figures {
    window: Window,
    /// The counts of the windows before this one, for the totals.
    earlier: Counts,
    open_connections: u64,
}

/// The proxy's figures, shared by every connection's threads.
#[derive(Debug)]
pub(crate) struct Recorder {
    figures: Mutex<Figures>,
}

impl Recorder {
    pub(crate) fn new() -> Recorder {
        Recorder {
            figures: Mutex::new(Figures {
                window: Window::new(),
                earlier: Counts::default(),
                open_connections: 0,
            }),
        }
    }

    fn with_all<T>(&self, f: impl FnOnce(&mut Figures) -> T) -> T {
        // A panic while counting cannot leave a count half-written that matters more
        // than losing every later one.
        let mut figures = self.figures.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut figures)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Window) -> T) -> T {
        self.with_all(|all| f(&mut all.window))
    }

    pub(crate) fn accepted(&self) {
        self.with_all(|all| {
            all.window.counts.accepted += 1;
            all.open_connections += 1;
        });
    }

    /// A client connection counted by [`Recorder::accepted`] is closed.
    pub(crate) fn connection_closed(&self) {
        self.with_all(|all| all.open_connections = all.open_connections.saturating_sub(1));
    }

    /// A request read whole that was neither forwarded nor answered, because its
    /// connection ended before it could be (during a delay, say).
    pub(crate) fn received(&self) {
        self.with(|w| w.counts.received += 1);
    }

    /// `requests` more that `what` happened to; errored and swallowed requests are
    /// received requests that are never forwarded, so they count as received here.
    pub(crate) fn injected(&self, what: Injected, requests: u64) {
        self.with(|w| {
            let injected = &mut w.counts.injected;
            match what {
                Injected::Delayed => injected.delayed += requests,
                Injected::Errored => injected.errored += requests,
                Injected::Blackholed => injected.blackholed += requests,
                Injected::Reset => injected.reset += requests,
                Injected::RefuseClosed => injected.refuse_closed += requests,
            }
            if matches!(what, Injected::Errored | Injected::Blackholed) {
                w.counts.received += requests;
            }
        });
    }

    /// The totals since the proxy started, with the fault in effect.
    pub(crate) fn counts(&self, fault: Fault) -> ProxyCounts {
        // One lock for the earlier windows and this one, so a reset cannot fall between.
        let (c, open) = self.with_all(|all| {
            let mut totals = all.earlier;
            totals.add_totals(&all.window.counts);
            (totals, all.open_connections)
        });
        ProxyCounts {
            received: c.received,
            forwarded: c.forwarded,
            relayed: c.relayed,
            accepted: c.accepted,
            open_connections: open,
            connect_failures: c.failures.refused + c.failures.connect_timeout,
            injected: c.injected,
            fault,
        }
    }

    pub(crate) fn connect_failed(&self, why: ConnectFailure) {
        self.with(|w| match why {
            ConnectFailure::Refused => w.counts.failures.refused += 1,
            ConnectFailure::Timeout => w.counts.failures.connect_timeout += 1,
        });
    }

    /// A request read whole and forwarded (so also received).
    pub(crate) fn forwarded(&self, route: Route) {
        self.with(|w| {
            w.counts.received += 1;
            w.counts.forwarded += 1;
            let routes = &mut w.counts.routes;
            match route {
                Route::UserOrders => routes.user_orders += 1,
                Route::CreateOrder => routes.create_order += 1,
                Route::Other => routes.other += 1,
            }
        });
    }

    pub(crate) fn relayed(&self, status: u16, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(MAX_LATENCY_NS);
        self.with(|w| {
            w.counts.relayed += 1;
            *w.statuses.entry(status).or_default() += 1;
            w.latency.saturating_record(ns.clamp(1, MAX_LATENCY_NS));
        });
    }

    pub(crate) fn unanswered(&self, why: Unanswered, requests: u64) {
        if requests == 0 {
            return;
        }
        self.with(|w| match why {
            Unanswered::Abandoned => w.counts.abandoned += requests,
            Unanswered::Closed => w.counts.failures.closed += requests,
            Unanswered::Malformed => w.counts.failures.malformed += requests,
            Unanswered::Cut => w.counts.injected.reset += requests,
            Unanswered::Dropped => {}
        });
    }

    pub(crate) fn client_malformed(&self) {
        self.with(|w| w.counts.client_malformed += 1);
    }

    /// The figures so far; with `reset`, a new window starts at the same instant.
    pub(crate) fn snapshot(&self, reset: bool) -> ProxyStats {
        let (window, ended) = if reset {
            // The new histogram is allocated outside the lock, which is only held for
            // the swap.
            let mut fresh = Window::new();
            self.with_all(|all| {
                fresh.started = Instant::now();
                let ended = fresh.started;
                all.earlier.add_totals(&all.window.counts);
                (std::mem::replace(&mut all.window, fresh), ended)
            })
        } else {
            self.with(|w| (w.clone(), Instant::now()))
        };
        let c = window.counts;
        ProxyStats {
            window_seconds: ended.duration_since(window.started).as_secs_f64(),
            connections_accepted: c.accepted,
            requests_forwarded: c.forwarded,
            responses_relayed: c.relayed,
            routes: c.routes,
            statuses: window.statuses,
            upstream_failures: c.failures,
            client_abandoned: c.abandoned,
            client_malformed: c.client_malformed,
            injected: c.injected,
            latency_hdr: encode_histogram(&window.latency),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_the_two_contract_calls_and_the_rest() {
        let cases = [
            ("GET", "/api/users/42/orders", Route::UserOrders),
            ("GET", "/api/users/42/orders?x=1", Route::UserOrders),
            ("GET", "/api/users/abc/orders", Route::UserOrders),
            ("POST", "/api/orders", Route::CreateOrder),
            ("POST", "/api/orders?x=1", Route::CreateOrder),
            ("GET", "/api/orders", Route::Other),
            ("POST", "/api/users/42/orders", Route::Other),
            ("GET", "/api/users//orders", Route::Other),
            ("GET", "/api/users/1/2/orders", Route::Other),
            ("GET", "//api/users/1/orders", Route::Other),
            ("GET", "/api/users/1/orders/", Route::Other),
            ("HEAD", "/api/users/1/orders", Route::Other),
        ];
        for (method, target, route) in cases {
            assert_eq!(Route::of(method, target), route, "{method} {target}");
        }
    }

    #[test]
    fn a_snapshot_with_reset_starts_an_empty_window() {
        let r = Recorder::new();
        r.accepted();
        r.forwarded(Route::UserOrders);
        r.forwarded(Route::CreateOrder);
        r.relayed(200, Duration::from_millis(3));
        r.relayed(201, Duration::ZERO);
        r.unanswered(Unanswered::Closed, 2);
        r.connect_failed(ConnectFailure::Refused);
        let first = r.snapshot(false);
        assert_eq!(first.statuses, BTreeMap::from([(200, 1), (201, 1)]));
        assert_eq!(first.upstream_failures.closed, 2);
        assert_eq!(first.unanswered(), 2);
        let read = r.snapshot(true);
        assert_eq!(
            (read.requests_forwarded, read.responses_relayed),
            (2, 2),
            "a read with reset returns the window it ends"
        );
        let latency = read.latency().unwrap();
        assert_eq!(latency.len(), 2);
        assert!(latency.min() >= 1, "a zero latency is recorded as 1 ns");
        assert!(latency.max() >= 2_990_000);
        let after = r.snapshot(false);
        assert_eq!(after.requests_forwarded + after.connections_accepted, 0);
        assert_eq!(after.upstream_failures, UpstreamFailures::default());
        assert_eq!(after.latency().unwrap().len(), 0);
    }

    #[test]
    fn the_totals_run_across_windows_and_count_every_request_received() {
        let r = Recorder::new();
        r.accepted();
        r.forwarded(Route::UserOrders);
        r.relayed(200, Duration::from_millis(1));
        r.injected(Injected::Errored, 2);
        r.injected(Injected::Delayed, 1);
        let window = r.snapshot(true);
        assert_eq!(window.injected.errored, 2);
        r.accepted();
        r.injected(Injected::Blackholed, 1);
        r.injected(Injected::RefuseClosed, 1);
        r.connection_closed();
        r.received();
        let counts = r.counts(Fault::Blackhole);
        assert_eq!(
            (
                counts.received,
                counts.forwarded,
                counts.relayed,
                counts.accepted
            ),
            (5, 1, 1, 2)
        );
        assert_eq!(counts.open_connections, 1);
        let injected = counts.injected;
        assert_eq!(
            (
                injected.errored,
                injected.delayed,
                injected.blackholed,
                injected.refuse_closed
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(counts.fault, Fault::Blackhole);
        assert_eq!(
            r.snapshot(false).injected.errored,
            0,
            "the window was reset"
        );
    }

    #[test]
    fn stats_written_before_faults_still_read() {
        let r = Recorder::new();
        let mut json = serde_json::to_value(r.snapshot(false)).unwrap();
        json.as_object_mut().unwrap().remove("injected");
        let stats: ProxyStats = serde_json::from_value(json).unwrap();
        assert_eq!(stats.injected, InjectedCounts::default());
    }

    #[test]
    fn the_snapshot_round_trips_through_json() {
        let r = Recorder::new();
        r.relayed(404, Duration::from_micros(250));
        let stats = r.snapshot(false);
        let text = serde_json::to_string(&stats).unwrap();
        assert!(text.contains(r#""statuses":{"404":1}"#), "{text}");
        let back: ProxyStats = serde_json::from_str(&text).unwrap();
        assert_eq!(back, stats);
    }
}
