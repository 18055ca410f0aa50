//! What a resilience episode watches beside its load, each on a thread of its own (on
//! the generator's CPUs, like the rest of the harness):
//!
//! - a **sampler**, every [`SAMPLE_EVERY`]: the calls that reached the proxy so far (its
//!   cumulative count) and the user service's open connections to it, and the user
//!   service's resident memory;
//! - a **`/health` probe** at a low fixed rate on one keep-alive connection of its own,
//!   each probe timed from the moment it was due (so a probe held up behind a slow one
//!   is charged for the wait, as the load's open loop is), a probe without a 200 within
//!   [`HEALTH_TIMEOUT`] counted as failed and its connection replaced.
//!
//! Both record wall-clock milliseconds, which the episode aligns with the load's
//! timeline afterwards.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::load::exchange::Exchanger;
use crate::load::protocol::http1::encode_request;
use crate::sample::procfs::tree_usage;

/// How often the sampler reads.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// A `/health` probe without its answer by then has failed.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads the proxy's cumulative calls received and its open client connections.
pub type CountsReader = Box<dyn Fn() -> Option<(u64, u64)> + Send>;

/// One sampler reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub unix_ms: f64,
    /// Calls received by the proxy so far, and connections open to it.
    pub calls: Option<(u64, u64)>,
    pub rss_bytes: Option<u64>,
    /// The user service's CPU time so far (its live process tree).
    pub cpu_s: Option<f64>,
}

/// One `/health` probe: when it was due, and its latency from then (none: failed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    pub due_unix_ms: f64,
    pub latency_ms: Option<f64>,
}

/// The watchers of one episode, running until [`Watch::stop`].
pub struct Watch {
    stop: Arc<AtomicBool>,
    sampler: JoinHandle<Vec<Reading>>,
    health: JoinHandle<Vec<Probe>>,
}

/// Wall-clock milliseconds since the epoch.
pub fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

impl Watch {
    /// Starts sampling `user_pid` and the proxy (through `counts`), and probing
    /// `health` (a path) on `addr` `rate` times a second.
    pub fn start(
        user_pid: u32,
        counts: Option<CountsReader>,
        (addr, health, rate): (SocketAddr, String, f64),
    ) -> std::io::Result<Watch> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (first, taken) = std::sync::mpsc::channel();
        let sampler = std::thread::Builder::new()
            .name("episode-sampler".to_string())
            .spawn(move || sample(user_pid, counts, &flag, first))?;
        // The load starts after the first reading, so that its first second has one at
        // its start edge.
        let _ = taken.recv_timeout(Duration::from_secs(5));
        let flag = Arc::clone(&stop);
        let health = std::thread::Builder::new()
            .name("episode-health".to_string())
            .spawn(move || probe_health(addr, &health, rate, &flag))?;
        Ok(Watch {
            stop,
            sampler,
            health,
        })
    }

    /// Stops both and returns what they recorded.
    pub fn stop(self) -> (Vec<Reading>, Vec<Probe>) {
        self.stop.store(true, Ordering::SeqCst);
        let readings = self.sampler.join().unwrap_or_default();
        let probes = self.health.join().unwrap_or_default();
        (readings, probes)
    }
}

fn sample(
    pid: u32,
    counts: Option<CountsReader>,
    stop: &AtomicBool,
    first: std::sync::mpsc::Sender<()>,
) -> Vec<Reading> {
    let mut readings = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        // Between the two reads, each of which may take a few milliseconds.
        let calls = counts.as_ref().and_then(|read| read());
        let at = unix_ms();
        let usage = tree_usage(pid);
        readings.push(Reading {
            unix_ms: at,
            calls,
            rss_bytes: (usage.processes > 0).then_some(usage.rss_bytes),
            cpu_s: (usage.processes > 0).then_some(usage.cpu.as_secs_f64()),
        });
        let _ = first.send(());
        next += SAMPLE_EVERY;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    readings
}

fn probe_health(addr: SocketAddr, path: &str, rate: f64, stop: &AtomicBool) -> Vec<Probe> {
    let request = encode_request("GET", path, &addr.to_string(), &[] as &[(&str, &str)], None);
    let spacing = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    let started_ms = unix_ms();
    let mut connection: Option<TcpStream> = None;
    let mut exchanger = Exchanger::default();
    let mut probes = Vec::new();
    let mut due = started;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let answered = one_probe(&mut connection, &mut exchanger, addr, &request);
        let latency = due.elapsed();
        let latency_ms =
            (answered && latency <= HEALTH_TIMEOUT).then_some(latency.as_secs_f64() * 1e3);
        probes.push(Probe {
            due_unix_ms: started_ms + (due - started).as_secs_f64() * 1e3,
            latency_ms,
        });
        due += spacing;
    }
    probes
}

/// One probe on the kept connection (made first if there is none): whether it got a
/// 200. A failed probe's connection is dropped.
fn one_probe(
    connection: &mut Option<TcpStream>,
    exchanger: &mut Exchanger,
    addr: SocketAddr,
    request: &[u8],
) -> bool {
    if connection.is_none() {
        *connection = TcpStream::connect_timeout(&addr, HEALTH_TIMEOUT)
            .ok()
            .inspect(|s| {
                let _ = s.set_read_timeout(Some(HEALTH_TIMEOUT));
                let _ = s.set_write_timeout(Some(HEALTH_TIMEOUT));
                let _ = s.set_nodelay(true);
            });
    }
    let Some(stream) = connection.as_mut() else {
        return false;
    };
    let ok = matches!(
        exchanger.exchange_message(stream, request, true, 64 * 1024),
        Ok(message) if message.status == 200
    );
    if !ok {
        *connection = None;
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn probes_and_samples_are_recorded_until_stopped() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    }
                });
            }
        });
        let counts: CountsReader = Box::new(|| Some((7, 2)));
        let watch = Watch::start(
            std::process::id(),
            Some(counts),
            (addr, "/health".into(), 50.0),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let (readings, probes) = watch.stop();
        assert!(!readings.is_empty());
        assert!(readings
            .iter()
            .all(|r| r.calls == Some((7, 2)) && r.rss_bytes.unwrap() > 0));
        assert!(probes.len() >= 2, "{probes:?}");
        assert!(probes.iter().all(|p| p.latency_ms.is_some()), "{probes:?}");
    }

    #[test]
    fn a_probe_to_nothing_fails() {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let watch = Watch::start(std::process::id(), None, (addr, "/health".into(), 20.0)).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let (readings, probes) = watch.stop();
        assert!(readings.iter().all(|r| r.calls.is_none()));
        assert!(!probes.is_empty() && probes.iter().all(|p| p.latency_ms.is_none()));
    }
}
