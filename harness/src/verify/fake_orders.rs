//! A fake order service for the chain rules: a user service is pointed at it, and it
//! fails on demand (wrong status, bad bodies, a close, a reset, a stall, a stop), so
//! that every fallback of the contract can be provoked and timed. It counts the calls
//! it receives per route, and the connections, so that "exactly one call" and "no
//! call" can be checked.
//!
//! Thread per connection, HTTP/1.1 keep-alive, requests read by the load engine's
//! request reader (`RequestReader`). Its order lists are written with odd whitespace and a price written
//! `9.990`: a user service that re-encodes never reproduces those bytes, one that passes
//! the body through does.

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use crate::load::protocol::http1::{RequestMessage as Request, RequestReader};

/// Largest request body read.
const MAX_BODY: usize = 1024 * 1024;
/// How often the acceptor and stalled answers look at the stop flag.
const POLL: Duration = Duration::from_millis(5);
/// `created_at` of the fake's stored orders: fixed, so a listing is the same every time.
const CREATED_AT: i64 = 1_796_012_361_860;

/// How the fake answers the order routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeMode {
    /// Valid answers (200 order list, 201 created order).
    Ok,
    /// 500 with a JSON error.
    Status500,
    /// The right status with a body that is not JSON.
    Garbage,
    /// The right status with JSON of the wrong shape.
    WrongShape,
    /// Reads the request and closes the connection without answering.
    Close,
    /// Reads the request and aborts the connection with a TCP reset.
    Reset,
    /// Reads the request and never answers (until the fake stops).
    Stall,
}

impl FakeMode {
    /// The name used in rule names and observations.
    pub fn name(self) -> &'static str {
        match self {
            FakeMode::Ok => "ok",
            FakeMode::Status500 => "status_500",
            FakeMode::Garbage => "garbage",
            FakeMode::WrongShape => "wrong_shape",
            FakeMode::Close => "close",
            FakeMode::Reset => "reset",
            FakeMode::Stall => "stall",
        }
    }
}

/// Calls received since the start (or the last [`FakeOrders::counts`] baseline).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `GET /api/users/{id}/orders`.
    pub gets: u64,
    /// `POST /api/orders`.
    pub posts: u64,
    /// Requests on any other route.
    pub other: u64,
    /// TCP connections accepted.
    pub connections: u64,
}

impl Counts {
    /// The calls made between `earlier` and `self`.
    pub fn since(self, earlier: Counts) -> Counts {
        Counts {
            gets: self.gets - earlier.gets,
            posts: self.posts - earlier.posts,
            other: self.other - earlier.other,
            connections: self.connections - earlier.connections,
        }
    }

    /// Downstream calls of any kind.
    pub fn calls(self) -> u64 {
        self.gets + self.posts + self.other
    }
}

/// The last `POST /api/orders` the fake received.
#[derive(Debug, Clone)]
pub struct ReceivedPost {
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
struct Shared {
    mode: Mutex<FakeMode>,
    counts: Mutex<Counts>,
    last_post: Mutex<Option<ReceivedPost>>,
    next_id: AtomicU64,
}

/// A handle on every open connection, to shut them all on a stop. A connection's
/// handle is removed before it closes: a socket closes (or resets) only with its last
/// descriptor.
type Connections = Arc<Mutex<HashMap<u64, TcpStream>>>;

/// One life of the listener: stopping it ends its acceptor and its connections.
#[derive(Debug)]
struct Life {
    stop: Arc<AtomicBool>,
    connections: Connections,
    acceptor: JoinHandle<()>,
}

/// The fake order service, listening on a loopback port until stopped or dropped.
#[derive(Debug)]
pub struct FakeOrders {
    addr: SocketAddr,
    shared: Arc<Shared>,
    life: Option<Life>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeOrders {
    /// Starts the fake on a free loopback port.
    pub fn start() -> std::io::Result<FakeOrders> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let shared = Arc::new(Shared {
            mode: Mutex::new(FakeMode::Ok),
            counts: Mutex::new(Counts::default()),
            last_post: Mutex::new(None),
            next_id: AtomicU64::new(1),
        });
        let addr = listener.local_addr()?;
        let life = Some(listen(listener, &shared)?);
        Ok(FakeOrders { addr, shared, life })
    }

    /// Where the fake listens (also while stopped: where it will listen again).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes how the order routes are answered from the next request on.
    pub fn set_mode(&self, mode: FakeMode) {
        *lock(&self.shared.mode) = mode;
    }

    /// The calls received so far.
    pub fn counts(&self) -> Counts {
        *lock(&self.shared.counts)
    }

    /// The last order post received.
    pub fn last_post(&self) -> Option<ReceivedPost> {
        lock(&self.shared.last_post).clone()
    }

    /// Closes the listener and every connection: connecting is then refused.
    pub fn stop(&mut self) {
        if let Some(life) = self.life.take() {
            life.stop.store(true, Ordering::SeqCst);
            let _ = life.acceptor.join();
            for connection in lock(&life.connections).values() {
                let _ = connection.shutdown(Shutdown::Both);
            }
        }
    }

    /// Listens again on the same port after [`FakeOrders::stop`].
    pub fn start_again(&mut self) -> std::io::Result<()> {
        if self.life.is_none() {
            let listener = TcpListener::bind(self.addr)?;
            self.life = Some(listen(listener, &self.shared)?);
        }
        Ok(())
    }
}

impl Drop for FakeOrders {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts accepting on `listener`; the acceptor polls so that a stop closes it.
fn listen(listener: TcpListener, shared: &Arc<Shared>) -> std::io::Result<Life> {
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let connections = Connections::default();
    let acceptor = {
        let (stop, connections, shared) = (stop.clone(), connections.clone(), shared.clone());
        std::thread::Builder::new()
            .name("fake-orders".into())
            .spawn(move || accept(&listener, &stop, &connections, &shared))?
    };
    Ok(Life {
        stop,
        connections,
        acceptor,
    })
}

fn accept(
    listener: &TcpListener,
    stop: &Arc<AtomicBool>,
    connections: &Connections,
    shared: &Arc<Shared>,
) {
    let mut next = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(POLL);
                continue;
            }
            Err(_) => continue,
        };
        let Ok(kept) = stream.try_clone() else {
            continue;
        };
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        let _ = stream.set_nodelay(true);
        next += 1;
        let id = next;
        lock(connections).insert(id, kept);
        lock(&shared.counts).connections += 1;
        let (stop, shared, connections) = (stop.clone(), shared.clone(), connections.clone());
        let _ = std::thread::Builder::new()
            .name("fake-orders-conn".into())
            .spawn(move || {
                let reset_it = serve(&stream, &stop, &shared);
                lock(&connections).remove(&id);
                if reset_it {
                    crate::socket::reset_on_close(&stream);
                }
            });
    }
}

/// Serves one connection until it ends; true when it must end with a reset.
fn serve(stream: &TcpStream, stop: &AtomicBool, shared: &Shared) -> bool {
    let mut reader = RequestReader::default();
    let mut stream = stream;
    while let Ok(Some(request)) = reader.read(&mut stream, MAX_BODY) {
        let route = route(&request);
        count(shared, route, &request);
        let mode = match route {
            Route::Other => FakeMode::Ok,
            _ => *lock(&shared.mode),
        };
        let answer = match mode {
            FakeMode::Close => return false,
            FakeMode::Reset => return true,
            FakeMode::Stall => {
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(POLL);
                }
                return false;
            }
            _ => answer(route, mode, &request, shared),
        };
        if stream.write_all(&answer).is_err() || !request.keep_alive {
            return false;
        }
    }
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `GET /api/users/{id}/orders` with an integer id.
    List(u64),
    /// `POST /api/orders`.
    Create,
    Other,
}

fn route(request: &Request) -> Route {
    let path = request.target.split('?').next().unwrap_or_default();
    let list = path
        .strip_prefix("/api/users/")
        .and_then(|rest| rest.strip_suffix("/orders"))
        .and_then(|id| id.parse().ok());
    match (request.method.as_str(), list) {
        ("GET", Some(id)) => Route::List(id),
        ("POST", _) if path == "/api/orders" => Route::Create,
        _ => Route::Other,
    }
}

fn count(shared: &Shared, route: Route, request: &Request) {
    let mut counts = lock(&shared.counts);
    match route {
        Route::List(_) => counts.gets += 1,
        Route::Create => {
            counts.posts += 1;
            *lock(&shared.last_post) = Some(ReceivedPost {
                content_type: request.header("content-type").map(str::to_string),
                body: request.body.clone(),
            });
        }
        Route::Other => counts.other += 1,
    }
}

/// The bytes of the answer to an order route in `mode` (not a close, reset or stall).
fn answer(route: Route, mode: FakeMode, request: &Request, shared: &Shared) -> Vec<u8> {
    let ok_status = if route == Route::Create { 201 } else { 200 };
    let (status, body) = match (mode, route) {
        (FakeMode::Status500, _) => (500, r#"{"error":"the fake failed as asked"}"#.to_string()),
        (FakeMode::Garbage, _) => (ok_status, "<html>not json".to_string()),
        (FakeMode::WrongShape, _) => (ok_status, r#"{"orders": 1}"#.to_string()),
        (_, Route::List(user_id)) => (200, raw_orders(user_id)),
        (_, Route::Create) => match created(&request.body, shared) {
            Some(order) => (201, order),
            None => (400, r#"{"error":"not an order"}"#.to_string()),
        },
        (_, Route::Other) => (404, r#"{"error":"not found"}"#.to_string()),
    };
    format!(
        "HTTP/1.1 {status} Fake\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The order list the fake answers for `user_id`, as sent: valid JSON in an odd layout.
pub fn raw_orders(user_id: u64) -> String {
    let first = 900 + user_id % 7;
    format!(
        "[\n  {{ \"id\" :  {first} ,\n    \"user_id\" : {user_id},\n    \"items\" : [ {{ \"product_id\" : 7 , \"quantity\" : 2 , \"price\" : 9.990 }} ] ,\n    \"total\" : 19.98 , \"status\" : \"created\" ,\n    \"created_at\" : {CREATED_AT} }} ,\n  {{ \"id\" :  17 ,\n    \"user_id\" : {user_id},\n    \"items\" : [ {{ \"product_id\" : 1 , \"quantity\" : 1 , \"price\" : 0.5 }} ,\n               {{ \"product_id\" : 2 , \"quantity\" : 3 , \"price\" : 1.25 }} ] ,\n    \"total\" : 4.25 , \"status\" : \"created\" ,\n    \"created_at\" : {} }}\n]\n",
        CREATED_AT - 1000
    )
}

/// A created order for the posted `body`, in the same odd layout; `None` when the body
/// is not `{"user_id":..,"items":[..]}`.
fn created(body: &[u8], shared: &Shared) -> Option<String> {
    let sent: Value = serde_json::from_slice(body).ok()?;
    let items = sent.get("items")?.as_array()?;
    let total: f64 = items
        .iter()
        .map(|item| {
            let price = item.get("price").and_then(Value::as_f64).unwrap_or(0.0);
            let quantity = item.get("quantity").and_then(Value::as_f64).unwrap_or(0.0);
            price * quantity
        })
        .sum();
    let order = json!({
        "id": shared.next_id.fetch_add(1, Ordering::SeqCst),
        "user_id": sent.get("user_id")?,
        "items": items,
        "total": total,
        "status": "created",
        "created_at": crate::verify::now_epoch_ms(),
    });
    let pretty = serde_json::to_string_pretty(&order).ok()?;
    Some(pretty.replace("\": ", "\" :  ") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::http_client::HttpClient;

    #[test]
    fn answers_counts_fails_on_demand_and_comes_back_on_the_same_port() {
        let mut fake = FakeOrders::start().unwrap();
        let mut client = HttpClient::new(fake.addr(), Duration::from_secs(2));
        let list = client.get("/api/users/42/orders").unwrap();
        assert_eq!(list.status, 200);
        assert_eq!(String::from_utf8_lossy(&list.body), raw_orders(42));
        let parsed: Value = serde_json::from_slice(&list.body).unwrap();
        assert_eq!(parsed[0]["items"][0]["price"], json!(9.99));
        let post = client
            .post_json(
                "/api/orders",
                br#"{"user_id":5,"items":[{"product_id":1,"quantity":2,"price":1.5}]}"#,
            )
            .unwrap();
        assert_eq!(post.status, 201);
        assert_eq!(post.json().unwrap()["total"], json!(3.0));
        fake.set_mode(FakeMode::Status500);
        assert_eq!(client.get("/api/users/1/orders").unwrap().status, 500);
        let counts = fake.counts();
        assert_eq!((counts.gets, counts.posts, counts.connections), (2, 1, 1));
        fake.stop();
        assert!(TcpStream::connect(fake.addr()).is_err());
        fake.start_again().unwrap();
        fake.set_mode(FakeMode::Ok);
        let mut fresh = HttpClient::new(fake.addr(), Duration::from_secs(2));
        assert_eq!(fresh.get("/api/users/1/orders").unwrap().status, 200);
    }
}
